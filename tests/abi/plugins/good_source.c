/* A minimal valid source plugin built with the current SDK headers. */
#include "stub.h"

static const char *const goodsrc_schemes[] = {"abisrc", "abisource", NULL};

static const struct cairn_source_vtable goodsrc_vtable = {
	.struct_size = sizeof(struct cairn_source_vtable),
	STUB_SOURCE_METHODS,
};

CAIRN_PLUGIN_DEFINE(.name = "abisrc", .version = "1.0.0",
		    .kind = CAIRN_PLUGIN_KIND_SOURCE, .schemes = goodsrc_schemes,
		    .vtable = &goodsrc_vtable)
