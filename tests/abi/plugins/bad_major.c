/* Refused: the entry symbol is v1 but the info says abi_major 2. */
#include "stub.h"

static const struct cairn_plugin_info info = {
	.struct_size = sizeof(info), .abi_major = 2, .abi_minor = 0,
	.name = "major", .version = "0", .kind = CAIRN_PLUGIN_KIND_STORAGE,
	.schemes = stub_schemes, .vtable = &stub_storage_vtable,
};

CAIRN_EXPORT const struct cairn_plugin_info *cairn_plugin_entry_v1(const struct cairn_host *host);
CAIRN_EXPORT const struct cairn_plugin_info *cairn_plugin_entry_v1(const struct cairn_host *host)
{
	(void)host;
	return &info;
}
