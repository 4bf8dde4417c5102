/* plugin_scope.c — see plugin_scope.h. */
#include <stdio.h>

#include "plugin_scope.h"
#include "plugin_util.h"

struct cairn_scope cp_scope_of_tenant(const char *tenant)
{
	struct cairn_scope s = {.struct_size = sizeof s,
				.filter = tenant != NULL ? CAIRN_TENANT_ONE : CAIRN_TENANT_ANY,
				.tenant = tenant};

	return s;
}

/* Does a struct of `size` bytes reach the end of member m of struct cairn_scope? */
#define SCOPE_HAS(size, m)                                                                     \
	((size_t)(size) >= offsetof(struct cairn_scope, m) + sizeof(((struct cairn_scope *)0)->m))

/*
 * The window goes into SQL text as a literal: only the exact shape ABI 1.3
 * allows (digits and the fixed separators) can get there.
 */
static int since_valid(const char *s)
{
	static const char shape[] = "dddd-dd-dd dd:dd:dd";
	size_t i;

	for (i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return 0;
	return s[i] == '\0';
}

int cp_scope_read(const struct cairn_host *host, const struct cairn_scope *scope,
		  struct cp_scope *out)
{
	const char *tenant;

	if (scope == NULL || !SCOPE_HAS(scope->struct_size, filter))
		return cp_fail(host, CAIRN_E_INVALID, "scope missing or struct too small");
	tenant = SCOPE_HAS(scope->struct_size, tenant) ? scope->tenant : NULL;
	switch (scope->filter) {
	case CAIRN_TENANT_ONE:
		if (tenant == NULL)
			return cp_fail(host, CAIRN_E_INVALID, "scope of one tenant without a tenant");
		break;
	case CAIRN_TENANT_ANY:
	case CAIRN_TENANT_NONE:
		/*
		 * A tenant here means the caller is confused about the scope; going
		 * on could turn a tenant's delete into a whole table's.
		 */
		if (tenant != NULL)
			return cp_fail(host, CAIRN_E_INVALID,
				       "scope %s with a tenant ('%s'): only a scope of one tenant "
				       "names one", scope->filter == CAIRN_TENANT_ANY ? "ANY" : "NONE",
				       tenant);
		break;
	default:
		return cp_fail(host, CAIRN_E_UNSUPPORTED, "unknown tenant filter %u",
			       (unsigned)scope->filter);
	}
	out->filter = (int)scope->filter;
	out->tenant = scope->filter == CAIRN_TENANT_ONE ? tenant : NULL;
	out->since = SCOPE_HAS(scope->struct_size, since) ? scope->since : NULL;
	out->time_col = NULL;
	if (out->since && !since_valid(out->since))
		return cp_fail(host, CAIRN_E_INVALID, "time window '%s' is not YYYY-MM-DD HH:MM:SS",
			       out->since);
	return CAIRN_OK;
}

int cp_scope_table_check(const struct cairn_host *host, const char *table, int has_tenant_expr,
			 const struct cp_scope *s, const char *what)
{
	if (s->filter != CAIRN_TENANT_ANY && !has_tenant_expr)
		return cp_fail(host, CAIRN_E_SCHEMA,
			       "table '%s' has neither a tenant_id column nor a JSON value: "
			       "%s by tenant", table, what);
	return CAIRN_OK;
}

void cp_scope_where(struct cp_buf *b, const struct cp_scope *s, const char *expr,
		    cp_tenant_eq_fn eq, void *ud)
{
	switch (s->filter) {
	case CAIRN_TENANT_ONE:
		cp_buf_add(b, " WHERE ");
		eq(ud, b, expr, s->tenant);
		break;
	case CAIRN_TENANT_NONE:
		cp_buf_add(b, " WHERE (");
		cp_buf_add(b, expr);
		cp_buf_add(b, ") IS NULL");
		break;
	default:
		break;
	}
	if (s->since == NULL)
		return;
	cp_buf_add(b, s->filter == CAIRN_TENANT_ANY ? " WHERE " : " AND ");
	if (s->time_col == NULL) {
		cp_buf_add(b, "1 = 0"); /* a plugin bug: read nothing rather than everything */
		return;
	}
	cp_buf_add(b, s->time_col);
	cp_buf_add(b, " >= '");
	cp_buf_add(b, s->since);
	cp_buf_add(b, "'");
}

void cp_scope_delete_sql(struct cp_buf *b, const char *qtable, const struct cp_scope *s,
			 const char *expr, cp_tenant_eq_fn eq, void *ud)
{
	struct cp_scope whole = *s;

	whole.since = NULL; /* --replace clears the kind in scope, whatever its time */
	cp_buf_add(b, "DELETE FROM ");
	cp_buf_add(b, qtable);
	cp_scope_where(b, &whole, expr, eq, ud);
}

void cp_scope_describe(const struct cp_scope *s, char *buf, size_t size)
{
	if (s->filter == CAIRN_TENANT_ONE)
		snprintf(buf, size, " of tenant %s", s->tenant);
	else if (s->filter == CAIRN_TENANT_NONE)
		snprintf(buf, size, " without tenant");
	else if (size > 0)
		buf[0] = '\0';
}

const char *cp_kind_time_column(const struct cairn_kind_desc *kind)
{
	size_t end = offsetof(struct cairn_kind_desc, time_column) + sizeof(kind->time_column);

	return kind->struct_size >= end ? kind->time_column : NULL;
}
