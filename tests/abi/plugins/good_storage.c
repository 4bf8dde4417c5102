/*
 * A minimal valid storage plugin built with the current SDK headers. Built
 * twice: into good/ and, with GOOD_VERSION="dup", into dup/, so that the
 * second copy of the name "abigood" is shadowed by the first. It carries a
 * plugin note; good_source.c deliberately does not (the probe path).
 */
#include "stub.h"

#ifndef GOOD_VERSION
#define GOOD_VERSION "1.0.0"
#endif

static const char *const good_schemes[] = {"abigood", NULL};

static const struct cairn_storage_vtable good_vtable = {
	.struct_size = sizeof(struct cairn_storage_vtable),
	STUB_STORAGE_METHODS,
};

CAIRN_PLUGIN_DEFINE(.name = "abigood", .version = GOOD_VERSION,
		    .description = "ABI test: minimal storage plugin",
		    .kind = CAIRN_PLUGIN_KIND_STORAGE, .schemes = good_schemes,
		    .vtable = &good_vtable)
CAIRN_PLUGIN_NOTE(storage, "abigood", "abigood")
