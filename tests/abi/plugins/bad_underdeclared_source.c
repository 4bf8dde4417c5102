/*
 * Refused: declares 1.1 (enough for restore_write_batch) but also sets
 * list_tenants, which is since 1.2: the refusal must name the newest one.
 */
#include "stub.h"

static int undersrc_tenants(void *inst, const struct cairn_kind_desc *kind, cairn_tenant_cb cb,
			    void *ud)
{
	(void)inst, (void)kind, (void)cb, (void)ud;
	return CAIRN_OK;
}

static const char *const undersrc_schemes[] = {"undersrc", NULL};

static const struct cairn_source_vtable undersrc_vtable = {
	.struct_size = sizeof(struct cairn_source_vtable),
	STUB_SOURCE_METHODS,
	.restore_write_batch = stub_restore_write_batch,
	.list_tenants = undersrc_tenants,
};

CAIRN_PLUGIN_DEFINE(.name = "undersrc", .version = "0", .kind = CAIRN_PLUGIN_KIND_SOURCE,
		    .schemes = undersrc_schemes, .vtable = &undersrc_vtable, .abi_minor = 1)
