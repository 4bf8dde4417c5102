/*
 * plugin_scope.h — which records of a kind a cursor, a --replace delete or a
 * tenant listing covers (struct cairn_scope, ABI 1.2), shared by the in-tree
 * SQL source plugins (postgresql, mysql). Internal: never installed.
 *
 * A plugin reads the caller's scope once (cp_scope_read; the ABI 1.0 entry
 * points make one with cp_scope_of_tenant), checks it against the
 * table (cp_scope_table_check) and builds its statement with
 * cp_scope_where / cp_scope_delete_sql: the only place where a scope
 * becomes SQL. The plugin supplies the comparison of its tenant expression
 * with one tenant, which differs by backend (a parameter on PostgreSQL, a
 * byte-exact literal on MySQL).
 */
#ifndef CAIRN_PLUGIN_COMMON_PLUGIN_SCOPE_H
#define CAIRN_PLUGIN_COMMON_PLUGIN_SCOPE_H

#include <stddef.h>

#include "cairn/host.h"
#include "cairn/source.h"
#include "plugin_buf.h"

/* A scope as the plugin uses it, read from whatever the caller passed. */
struct cp_scope {
	int filter;         /* enum cairn_tenant_filter */
	const char *tenant; /* CAIRN_TENANT_ONE: the tenant (borrowed); otherwise NULL */
	/*
	 * ABI 1.3's time window: "YYYY-MM-DD HH:MM:SS" (UTC, checked by
	 * cp_scope_read), or NULL. A cursor with a window must also set
	 * time_col, the kind's time column as the backend quotes it, before
	 * cp_scope_where: the window then becomes "<time_col> >= '<since>'".
	 */
	const char *since;
	const char *time_col;
};

/*
 * ABI 1.0's tenant argument as a 1.2 scope: NULL is every record (ANY),
 * anything else ONE. The 1.0 entry points pass it to their 1.2 twin.
 */
struct cairn_scope cp_scope_of_tenant(const char *tenant);

/*
 * Reads the caller's struct cairn_scope as far as its struct_size reaches
 * into *out. CAIRN_E_INVALID (reported) when scope is NULL or too small to
 * hold `filter`, when ONE comes without a tenant (or without room for one)
 * and when ANY or NONE comes with one; CAIRN_E_UNSUPPORTED for a filter
 * this plugin does not know (a newer core's). A `since` that is not exactly
 * "YYYY-MM-DD HH:MM:SS" is CAIRN_E_INVALID. out->time_col is NULL.
 */
int cp_scope_read(const struct cairn_host *host, const struct cairn_scope *scope,
		  struct cp_scope *out);

/*
 * ONE and NONE need the table's tenant expression: CAIRN_E_SCHEMA "table
 * '…' has neither a tenant_id column nor a JSON value: <what> by tenant"
 * when it has none, else CAIRN_OK. NONE is refused like ONE rather than
 * widened to the whole table (see the plugins' README.md).
 */
int cp_scope_table_check(const struct cairn_host *host, const char *table, int has_tenant_expr,
			 const struct cp_scope *s, const char *what);

/* Appends `expr` compared with one tenant (no leading blank), the plugin's way. */
typedef void (*cp_tenant_eq_fn)(void *ud, struct cp_buf *b, const char *expr,
				const char *tenant);

/*
 * Appends the scope's WHERE clause: nothing for ANY, " WHERE (<expr>) IS
 * NULL" for NONE, " WHERE " and eq's comparison for ONE; then, when the scope
 * has a time window, "<time_col> >= '<since>'" joined with AND (records
 * whose time is NULL are left out, as ABI 1.3 says). A window without a
 * time_col selects nothing rather than everything. expr is the table's
 * tenant expression (checked with cp_scope_table_check first).
 */
void cp_scope_where(struct cp_buf *b, const struct cp_scope *s, const char *expr,
		    cp_tenant_eq_fn eq, void *ud);

/* "DELETE FROM <qtable>" and the scope's WHERE clause (never a time window). */
void cp_scope_delete_sql(struct cp_buf *b, const char *qtable, const struct cp_scope *s,
			 const char *expr, cp_tenant_eq_fn eq, void *ud);

/* The kind's time column (ABI 1.3), or NULL when the core's struct is older or has none. */
const char *cp_kind_time_column(const struct cairn_kind_desc *kind);

/* For log lines: " of tenant <t>", " without tenant", or "" (ANY). */
void cp_scope_describe(const struct cp_scope *s, char *buf, size_t size);

#endif /* CAIRN_PLUGIN_COMMON_PLUGIN_SCOPE_H */
