/* Refused: built for a future ABI 2, so it exports only cairn_plugin_entry_v2. */
#include "stub.h"

static const struct cairn_plugin_info info = {
	.struct_size = sizeof(info), .abi_major = 2, .abi_minor = 0,
	.name = "entryv2", .version = "0", .kind = CAIRN_PLUGIN_KIND_STORAGE,
	.schemes = stub_schemes, .vtable = &stub_storage_vtable,
};

CAIRN_EXPORT const struct cairn_plugin_info *cairn_plugin_entry_v2(const struct cairn_host *host);
CAIRN_EXPORT const struct cairn_plugin_info *cairn_plugin_entry_v2(const struct cairn_host *host)
{
	(void)host;
	return &info;
}
