/* Refused: the required storage method 'list' is NULL. */
#include "stub.h"

static const struct cairn_storage_vtable vt = {
	.struct_size = sizeof(vt),
	STUB_STORAGE_METHODS_BUT_LIST,
};
static const struct cairn_plugin_info info = {
	.struct_size = sizeof(info), .abi_major = CAIRN_ABI_MAJOR, .abi_minor = CAIRN_ABI_MINOR,
	.name = "nolist", .version = "0", .kind = CAIRN_PLUGIN_KIND_STORAGE,
	.schemes = stub_schemes, .vtable = &vt,
};

CAIRN_EXPORT const struct cairn_plugin_info *cairn_plugin_entry_v1(const struct cairn_host *host);
CAIRN_EXPORT const struct cairn_plugin_info *cairn_plugin_entry_v1(const struct cairn_host *host)
{
	(void)host;
	return &info;
}
