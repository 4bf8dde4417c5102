/* source.c — see source.h. */
#define _POSIX_C_SOURCE 200809L
#include "source.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "plugin_host.h"
#include "run.h"

#define END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

static int fail(struct core_source *src, int rc)
{
	return core_fail(src->run, CORE_EXIT_SOURCE, rc);
}

static int broken(struct core_source *src, const char *what)
{
	return core_fail(src->run, CORE_EXIT_PLUGIN,
			 core_error_set(CAIRN_E_PLUGIN, "the %s plugin %s", core_source_name(src), what));
}

/* The first required member that is NULL or outside struct_size. */
#define REQ(m) if (!CAIRN_VT_HAS(vt, m)) return #m
static const char *missing_member(const struct cairn_source_vtable *vt)
{
	REQ(open); REQ(close); REQ(describe); REQ(snapshot_begin); REQ(snapshot_end);
	REQ(kind_exists); REQ(cursor_open); REQ(cursor_next); REQ(cursor_close);
	REQ(restore_begin); REQ(restore_delete_scope); REQ(restore_write);
	REQ(restore_commit); REQ(restore_rollback);
	return NULL;
}
#undef REQ

const char *core_source_vt_refusal(const struct cairn_source_vtable *vt, char *why, size_t cap,
				   unsigned *needs, const char **newest)
{
	/* ABI 1.0's size is the least; CAIRN_VT_HAS reads within struct_size */
	if (core_vt_refusal("source", vt->struct_size, END_OF(struct cairn_source_vtable, restore_rollback),
			    missing_member(vt), why, cap))
		return why;
	*needs = cairn_source_vt_minor(vt, newest);
	return NULL;
}

int core_source_open(struct core_run *run, const char *uri, struct core_source *src)
{
	memset(src, 0, sizeof(*src));
	src->run = run;
	if (!uri)
		return core_fail(run, CORE_EXIT_USAGE,
				 core_error_set(CAIRN_E_INVALID,
						"no metadata source: give --source URI, set [source] uri in the "
						"configuration, or CAIRN_SOURCE"));
	src->plugin = core_run_plugin(run, CAIRN_PLUGIN_KIND_SOURCE, uri);
	if (!src->plugin)
		return core_error_status();
	src->vt = core_source_vt(src->plugin);
	core_error_clear();
	int rc = src->vt->open(core_host(), uri, run->source_opts, run->n_source_opts, &src->inst);
	if (rc) {
		if (!*core_error_message())
			core_error_set(rc, "unable to open source '%s'", uri);
		src->inst = NULL;
		return fail(src, rc);
	}
	return CAIRN_OK;
}

void core_source_close(struct core_source *src)
{
	if (src->inst)
		src->vt->close(src->inst);
	src->inst = NULL;
}

const char *core_source_name(const struct core_source *src)
{
	return src->plugin && src->plugin->info ? src->plugin->info->name : "source";
}

int core_source_describe(struct core_source *src, struct cairn_source_desc *out)
{
	memset(out, 0, sizeof(*out));
	out->struct_size = sizeof(*out);
	return fail(src, src->vt->describe(src->inst, out));
}

int core_source_snapshot_begin(struct core_source *src)
{
	return fail(src, src->vt->snapshot_begin(src->inst));
}

int core_source_snapshot_end(struct core_source *src)
{
	return fail(src, src->vt->snapshot_end(src->inst));
}

int core_source_kind_exists(struct core_source *src, const struct cairn_kind_desc *kd)
{
	int r = src->vt->kind_exists(src->inst, kd);
	if (r > 1)
		return broken(src, "answered kind_exists with neither 0 nor 1");
	return r < 0 ? fail(src, r) : r;
}

static int no_null_scope(struct core_source *src, const char *what)
{
	const struct cairn_plugin_info *info = src->plugin->info;
	return core_fail(src->run, CORE_EXIT_PLUGIN,
			 core_error_set(CAIRN_E_UNSUPPORTED,
					"the %s plugin (declaring ABI %u.%u) cannot %s only the records "
					"without a tenant: that needs ABI 1.2",
					info->name, info->abi_major, info->abi_minor, what));
}

int core_source_cursor_open(struct core_source *src, const struct cairn_kind_desc *kd,
			    const struct cairn_scope *scope, void **cursor)
{
	int rc;
	*cursor = NULL;
	const struct cairn_plugin_info *info = src->plugin->info;
	if (scope->since && info->abi_minor < 3) /* it would ignore the window and read everything */
		return core_fail(src->run, CORE_EXIT_PLUGIN,
				 core_error_set(CAIRN_E_UNSUPPORTED,
						"the %s plugin (declaring ABI %u.%u) cannot read %s since a date "
						"(--since): that needs ABI 1.3",
						info->name, info->abi_major, info->abi_minor, kd->kind));
	if (CAIRN_VT_HAS(src->vt, cursor_open_scoped))
		rc = src->vt->cursor_open_scoped(src->inst, kd, scope, cursor);
	else if (scope->filter == CAIRN_TENANT_NONE)
		return no_null_scope(src, "read");
	else
		rc = src->vt->cursor_open(src->inst, kd, scope->tenant, cursor);
	if (rc)
		*cursor = NULL;
	return fail(src, rc);
}

int core_source_cursor_next(struct core_source *src, void *cursor, const struct cairn_record **rec)
{
	*rec = NULL;
	int n = src->vt->cursor_next(cursor, rec);
	if (n < 0)
		return fail(src, n);
	if (n == 0)
		return 0;
	const struct cairn_record *r = *rec;
	if (n != 1 || !r || r->struct_size < END_OF(struct cairn_record, columns) || !r->key ||
	    (r->n_columns && !r->columns))
		return broken(src, "returned a malformed record");
	return 1;
}

void core_source_cursor_close(struct core_source *src, void *cursor)
{
	if (cursor)
		src->vt->cursor_close(cursor);
}

int core_source_can_list_tenants(const struct core_source *src)
{
	return CAIRN_VT_HAS(src->vt, list_tenants);
}

int core_source_list_tenants(struct core_source *src, const struct cairn_kind_desc *kd,
			     cairn_tenant_cb cb, void *ud)
{
	if (!core_source_can_list_tenants(src))
		return CAIRN_OK;
	int rc = src->vt->list_tenants(src->inst, kd, cb, ud);
	return rc > 0 ? rc : fail(src, rc);
}

int core_source_transactional(const struct core_source *src)
{
	return !(src->vt->features & CAIRN_SOURCE_F_NO_TRANSACTIONS);
}

int core_source_restore_begin(struct core_source *src, const struct cairn_restore_opts *opts)
{
	return fail(src, src->vt->restore_begin(src->inst, opts));
}

int core_source_delete_scope(struct core_source *src, const struct cairn_kind_desc *kd,
			     const struct cairn_scope *scope)
{
	if (CAIRN_VT_HAS(src->vt, restore_delete_scoped))
		return fail(src, src->vt->restore_delete_scoped(src->inst, kd, scope));
	if (scope->filter == CAIRN_TENANT_NONE)
		return no_null_scope(src, "delete");
	return fail(src, src->vt->restore_delete_scope(src->inst, kd, scope->tenant));
}

size_t core_source_batch_max(const struct core_source *src)
{
	return CAIRN_VT_HAS(src->vt, restore_write_batch) ? CAIRN_RESTORE_BATCH_MAX : 1;
}

int core_source_write(struct core_source *src, const struct cairn_kind_desc *kd,
		      const struct cairn_record *const *recs, size_t n, int *outcomes)
{
	int rc;
	if (CAIRN_VT_HAS(src->vt, restore_write_batch)) {
		rc = src->vt->restore_write_batch(src->inst, kd, recs, n, outcomes);
	} else {
		rc = CAIRN_OK;
		for (size_t i = 0; i < n && !rc; i++)
			rc = src->vt->restore_write(src->inst, kd, recs[i], &outcomes[i]);
	}
	if (rc)
		return fail(src, rc);
	for (size_t i = 0; i < n; i++)
		if (outcomes[i] < CAIRN_WRITE_NEW || outcomes[i] > CAIRN_WRITE_UNCHANGED)
			return core_fail(src->run, CORE_EXIT_PLUGIN,
					 core_error_set(CAIRN_E_PLUGIN, "the %s plugin returned outcome %d",
							core_source_name(src), outcomes[i]));
	return CAIRN_OK;
}

int core_source_commit(struct core_source *src)
{
	return fail(src, src->vt->restore_commit(src->inst));
}

void core_source_rollback(struct core_source *src)
{
	src->vt->restore_rollback(src->inst);
}
