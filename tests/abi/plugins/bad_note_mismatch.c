/* Refused once run: its note claims the scheme "notelie", its info serves "other". */
#include "stub.h"

static const char *const lie_schemes[] = {"other", NULL};

CAIRN_PLUGIN_DEFINE(.name = "notelie", .version = "0", .kind = CAIRN_PLUGIN_KIND_STORAGE,
		    .schemes = lie_schemes, .vtable = &stub_storage_vtable)
CAIRN_PLUGIN_NOTE(storage, "notelie", "notelie")
