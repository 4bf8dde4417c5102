/*
 * Refused once loaded: the info declares ABI 1.2 (it sets housekeep) but
 * the note, written without the fourth argument, says 1.0.
 */
#include "stub.h"

static const char *const noteabi_schemes[] = {"noteabi", NULL};

static const struct cairn_storage_vtable noteabi_vtable = {
	.struct_size = sizeof(struct cairn_storage_vtable),
	STUB_STORAGE_METHODS,
	.housekeep = stub_housekeep,
};

CAIRN_PLUGIN_DEFINE(.name = "noteabi", .version = "0", .kind = CAIRN_PLUGIN_KIND_STORAGE,
		    .schemes = noteabi_schemes, .vtable = &noteabi_vtable, .abi_minor = 2)
CAIRN_PLUGIN_NOTE(storage, "noteabi", "noteabi")
