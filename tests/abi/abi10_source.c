/*
 * abi10_source.c — a source plugin built against the frozen ABI 1.0 headers
 * (tests/abi/sdk-1.0). Its vtable ends at restore_rollback: the core must
 * see that restore_write_batch (since 1.1) is absent — CAIRN_VT_HAS reads
 * struct_size, not the core's own sizeof — and fall back to restore_write.
 */
#include "plugins/stub.h"

#if CAIRN_ABI_MAJOR != 1 || CAIRN_ABI_MINOR != 0
#error "abi10_source.c must be built against tests/abi/sdk-1.0 only"
#endif

static const char *const abi10src_schemes[] = {"abi10src", NULL};

static const struct cairn_source_vtable abi10src_vtable = {
	.struct_size = sizeof(struct cairn_source_vtable),
	STUB_SOURCE_METHODS,
};

CAIRN_PLUGIN_DEFINE(.name = "abi10src", .version = "1.0.0",
		    .kind = CAIRN_PLUGIN_KIND_SOURCE, .schemes = abi10src_schemes,
		    .vtable = &abi10src_vtable)
