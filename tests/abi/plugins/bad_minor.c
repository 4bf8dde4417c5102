/* Refused: needs a newer minor ABI than this core has. */
#include "stub.h"

static const struct cairn_plugin_info info = {
	.struct_size = sizeof(info), .abi_major = CAIRN_ABI_MAJOR, .abi_minor = CAIRN_ABI_MINOR + 1,
	.name = "minor", .version = "0", .kind = CAIRN_PLUGIN_KIND_STORAGE,
	.schemes = stub_schemes, .vtable = &stub_storage_vtable,
};

CAIRN_EXPORT const struct cairn_plugin_info *cairn_plugin_entry_v1(const struct cairn_host *host);
CAIRN_EXPORT const struct cairn_plugin_info *cairn_plugin_entry_v1(const struct cairn_host *host)
{
	(void)host;
	return &info;
}
