/* Refused: the storage vtable's struct_size stops before its required methods. */
#include "stub.h"

/* Every method is set, but struct_size says only the header is there. */
static const struct cairn_storage_vtable vt = {
	.struct_size = offsetof(struct cairn_storage_vtable, open),
	STUB_STORAGE_METHODS,
};
static const struct cairn_plugin_info info = {
	.struct_size = sizeof(info), .abi_major = CAIRN_ABI_MAJOR, .abi_minor = CAIRN_ABI_MINOR,
	.name = "vtsmall", .version = "0", .kind = CAIRN_PLUGIN_KIND_STORAGE,
	.schemes = stub_schemes, .vtable = &vt,
};

CAIRN_EXPORT const struct cairn_plugin_info *cairn_plugin_entry_v1(const struct cairn_host *host);
CAIRN_EXPORT const struct cairn_plugin_info *cairn_plugin_entry_v1(const struct cairn_host *host)
{
	(void)host;
	return &info;
}
