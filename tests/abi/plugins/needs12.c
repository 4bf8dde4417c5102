/*
 * A valid storage plugin that needs ABI 1.2: it sets housekeep and says so
 * in its info and its note. The current core loads it; a 1.0 core
 * (abi10_core.c) must refuse it as needing a newer minor.
 */
#include "stub.h"

static const char *const needs12_schemes[] = {"needs12", NULL};

static const struct cairn_storage_vtable needs12_vtable = {
	.struct_size = sizeof(struct cairn_storage_vtable),
	STUB_STORAGE_METHODS,
	.housekeep = stub_housekeep,
};

CAIRN_PLUGIN_DEFINE(.name = "needs12", .version = "1.2.0", .kind = CAIRN_PLUGIN_KIND_STORAGE,
		    .schemes = needs12_schemes, .vtable = &needs12_vtable, .abi_minor = 2)
CAIRN_PLUGIN_NOTE(storage, "needs12", "needs12", 2)
