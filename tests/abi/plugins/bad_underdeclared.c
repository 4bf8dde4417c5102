/*
 * Refused: sets housekeep (since 1.2) but declares no .abi_minor, so it
 * claims to need 1.0 and a 1.0 or 1.1 core would load it without ever
 * calling housekeep. No note: the probe path must refuse it too.
 */
#include "stub.h"

static const struct cairn_storage_vtable under_vtable = {
	.struct_size = sizeof(struct cairn_storage_vtable),
	STUB_STORAGE_METHODS,
	.housekeep = stub_housekeep,
};

CAIRN_PLUGIN_DEFINE(.name = "under", .version = "0", .kind = CAIRN_PLUGIN_KIND_STORAGE,
		    .schemes = stub_schemes, .vtable = &under_vtable)
