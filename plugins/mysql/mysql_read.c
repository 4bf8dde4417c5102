/*
 * mysql_read.c — the backup half: one consistent-snapshot, read-only
 * transaction, and one streaming result per kind (mysql_use_result): rows
 * come off the socket one at a time, so memory does not grow with the
 * table. While a result streams, the connection can run nothing else; the
 * core opens one cursor at a time, and every other call refuses politely
 * (my->busy) instead of desynchronising the protocol.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql.h"

/* Rows between two looks at host->cancelled(). */
#define MY_CANCEL_EVERY 256

struct my_cursor {
	struct my_inst *my;
	struct my_table *table;
	struct cp_rowmap map;     /* real columns, in table order, then the tenant */
	char (*ts)[48];           /* per column: the ISO 8601 form of a timestamp */
	struct cp_buf key;        /* NUL-terminated copies, reused row to row */
	struct cp_buf tenant;
	MYSQL_RES *res;           /* the streaming result, NULL once drained */
	unsigned long rows;
};

int mysql_plugin_snapshot_begin(void *inst)
{
	struct my_inst *my = inst;
	int rc;

	if (my == NULL)
		return CAIRN_E_INVALID;
	rc = cp_tx_expect(my->host, my->tx, CP_TX_NONE);
	if (rc != CAIRN_OK)
		return rc;
	/*
	 * REPEATABLE READ is what makes WITH CONSISTENT SNAPSHOT mean one read
	 * view for every table (InnoDB); set explicitly in case the server or
	 * the account defaults to another level.
	 */
	rc = mysql_plugin_exec(my, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
			       "unable to start the snapshot");
	if (rc != CAIRN_OK)
		return rc;
	rc = mysql_plugin_exec(my, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
			       "unable to start the snapshot");
	if (rc != CAIRN_OK)
		return rc;
	my->tx = CP_TX_SNAPSHOT;
	my->tx_failed = 0;
	/* describe() checked already, but a caller need not call it first. */
	rc = mysql_plugin_kestra_check(my, NULL);
	if (rc != CAIRN_OK) {
		mysql_real_query(my->conn, "ROLLBACK", 8);
		my->tx = CP_TX_NONE;
	}
	return rc;
}

int mysql_plugin_snapshot_end(void *inst)
{
	struct my_inst *my = inst;
	int rc;

	if (my == NULL)
		return CAIRN_E_INVALID;
	rc = cp_tx_expect(my->host, my->tx, CP_TX_SNAPSHOT);
	if (rc != CAIRN_OK)
		return rc;
	if (my->busy)
		return cp_fail(my->host, CAIRN_E_INVALID,
			       "snapshot_end called while a cursor is open");
	rc = mysql_plugin_exec(my, my->tx_failed ? "ROLLBACK" : "COMMIT",
			       "unable to end the snapshot");
	my->tx = CP_TX_NONE;
	my->tx_failed = 0;
	return rc;
}

int mysql_plugin_kind_exists(void *inst, const struct cairn_kind_desc *kind)
{
	struct my_inst *my = inst;

	if (my == NULL || kind == NULL)
		return CAIRN_E_INVALID;
	if (kind->table == NULL || *kind->table == '\0')
		return 0;
	return mysql_plugin_table_exists(my, kind->table);
}

static void cursor_free(struct my_cursor *c)
{
	if (c == NULL)
		return;
	if (c->res != NULL) {
		/* Reads what is left of the result: the connection is usable again after. */
		mysql_free_result(c->res);
		c->res = NULL;
	}
	if (c->my != NULL && c->my->busy)
		c->my->busy = 0;
	free(c->ts);
	cp_buf_free(&c->key);
	cp_buf_free(&c->tenant);
	cp_rowmap_free(&c->map);
	mysql_plugin_table_free(c->table);
	free(c);
}

/* ONE's comparison: bytes, not the column's case-insensitive collation. */
void mysql_plugin_tenant_eq(void *my, struct cp_buf *b, const char *expr, const char *tenant)
{
	cp_buf_add(b, "CAST((");
	cp_buf_add(b, expr);
	cp_buf_add(b, ") AS BINARY) = CAST(");
	mysql_plugin_quote_string(my, b, tenant, strlen(tenant));
	cp_buf_add(b, " AS BINARY)");
}

/*
 * cursor_open_scoped (ABI 1.2); cursor_open is a thin wrapper, so this is
 * the one cursor implementation. NONE reads `(<tenant>) IS NULL`. On a
 * table without a tenant expression ONE and NONE are both refused
 * (CAIRN_E_SCHEMA): its records do have a NULL tenant, but NONE scopes a
 * null-tenant TENANT backup, and the whole table is not that (README.md).
 */
int mysql_plugin_cursor_open_scoped(void *inst, const struct cairn_kind_desc *kind,
				    const struct cairn_scope *in, void **cursor)
{
	struct my_inst *my = inst;
	struct cp_scope scope;
	struct my_cursor *c = NULL;
	struct cp_buf sql = {0};
	int rc = CAIRN_OK;
	size_t n = 0;

	if (my == NULL || kind == NULL || cursor == NULL)
		return CAIRN_E_INVALID;
	rc = cp_scope_read(my->host, in, &scope);
	if (rc == CAIRN_OK)
		rc = cp_kind_table(my->host, kind);
	if (rc != CAIRN_OK)
		return rc;
	if (my->tx != CP_TX_SNAPSHOT)
		return cp_fail(my->host, CAIRN_E_INVALID, "cursor_open called outside a snapshot");
	if (my->busy)
		return cp_fail(my->host, CAIRN_E_INVALID,
			       "unable to read table '%s': another cursor is still open "
			       "(one at a time per connection)", kind->table);
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
	c->my = my;
	rc = mysql_plugin_table_load(my, kind->table, &c->table);
	if (rc != CAIRN_OK)
		goto fail;
	rc = cp_cursor_table_check(my->host, kind->table, c->table->exists, c->table->has_key,
				   c->table->tenant_expr != NULL, &scope, "database", my->database);
	if (rc != CAIRN_OK)
		goto fail;
	for (size_t i = 0; i < c->table->n_cols; i++)
		n += !c->table->cols[i].generated;
	rc = cp_rowmap_init(my->host, &c->map, n);
	if (rc != CAIRN_OK)
		goto fail;
	c->ts = calloc(n ? n : 1, sizeof *c->ts);
	if (c->ts == NULL) {
		rc = cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
		goto fail;
	}

	cp_buf_add(&sql, "SELECT ");
	for (size_t i = 0; i < c->table->n_cols; i++) {
		const struct my_col *col = &c->table->cols[i];
		if (col->generated)
			continue;
		if (c->map.used > 0)
			cp_buf_add(&sql, ", ");
		cp_buf_add(&sql, col->qname);
		cp_rowmap_add(&c->map, i, col->name);
	}
	cp_buf_add(&sql, c->map.used > 0 ? ", " : "");
	cp_buf_add(&sql, c->table->tenant_expr != NULL ? c->table->tenant_expr : "NULL");
	cp_buf_add(&sql, " FROM ");
	cp_buf_add(&sql, c->table->qname);
	if (scope.since != NULL) {
		/* ABI 1.3's window: the kind's time column, which must be this table's */
		const char *tc = cp_kind_time_column(kind);
		size_t i = 0;
		while (tc && i < c->table->n_cols && strcmp(c->table->cols[i].name, tc) != 0)
			i++;
		if (tc == NULL || i == c->table->n_cols) {
			rc = cp_fail(my->host, CAIRN_E_SCHEMA, "table '%s' has no time column '%s' for --since",
				     kind->table, tc ? tc : "(none)");
			goto fail;
		}
		scope.time_col = c->table->cols[i].qname;
	}
	cp_scope_where(&sql, &scope, c->table->tenant_expr, mysql_plugin_tenant_eq, my);
	cp_buf_add(&sql, " ORDER BY `key`");
	if (sql.oom) {
		rc = cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
		goto fail;
	}
	CAIRN_LOG_DEBUG(my->host, MY_NAME, "%s: %s", kind->kind, sql.p);
	if (mysql_real_query(my->conn, sql.p, (unsigned long)sql.len) != 0) {
		rc = mysql_plugin_conn_error(my, "unable to read table", kind->table);
		goto fail;
	}
	c->res = mysql_use_result(my->conn);
	if (c->res == NULL) {
		rc = mysql_plugin_conn_error(my, "unable to read table", kind->table);
		goto fail;
	}
	my->busy = 1;
	if (mysql_num_fields(c->res) != c->map.n + 1) {
		rc = cp_fail(my->host, CAIRN_E_BACKEND, "unexpected result shape from table '%s'",
			     kind->table);
		goto fail;
	}
	cp_buf_free(&sql);
	*cursor = c;
	return CAIRN_OK;
fail:
	cp_buf_free(&sql);
	cursor_free(c);
	return rc;
}

int mysql_plugin_cursor_open(void *inst, const struct cairn_kind_desc *kind,
			     const char *tenant, void **cursor)
{
	struct cairn_scope s = cp_scope_of_tenant(tenant);

	return mysql_plugin_cursor_open_scoped(inst, kind, &s, cursor);
}

/*
 * The tenants the cursor would report (a table without a tenant expression
 * has the one tenant NULL when it has rows). DISTINCT over the bytes: the
 * column's case-insensitive collation would fold 'Main' into 'main', which
 * the byte-exact filter keeps apart. Buffered (mysql_store_result): the
 * callback may be slow without holding a streaming result open.
 */
int mysql_plugin_list_tenants(void *inst, const struct cairn_kind_desc *kind,
			      cairn_tenant_cb cb, void *ud)
{
	struct my_inst *my = inst;
	struct my_table *t = NULL;
	struct cp_buf sql = {0};
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	int rc;

	if (my == NULL || kind == NULL || cb == NULL)
		return CAIRN_E_INVALID;
	rc = cp_kind_table(my->host, kind);
	if (rc != CAIRN_OK)
		return rc;
	rc = mysql_plugin_table_load(my, kind->table, &t);
	if (rc != CAIRN_OK)
		return rc;
	rc = cp_table_found(my->host, kind->table, t->exists, "database", my->database);
	if (rc != CAIRN_OK)
		goto out;
	cp_buf_add(&sql, "SELECT DISTINCT ");
	if (t->tenant_expr != NULL) {
		cp_buf_add(&sql, "CAST((");
		cp_buf_add(&sql, t->tenant_expr);
		cp_buf_add(&sql, ") AS BINARY)");
	} else {
		cp_buf_add(&sql, "NULL");
	}
	cp_buf_add(&sql, " FROM ");
	cp_buf_add(&sql, t->qname);
	if (sql.oom) {
		rc = cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
		goto out;
	}
	if (mysql_real_query(my->conn, sql.p, (unsigned long)sql.len) != 0 ||
	    (res = mysql_store_result(my->conn)) == NULL) {
		rc = mysql_plugin_conn_error(my, "unable to list the tenants of table", kind->table);
		goto out;
	}
	while (rc == CAIRN_OK && (row = mysql_fetch_row(res)) != NULL)
		rc = cb(ud, row[0]);
out:
	if (res != NULL)
		mysql_free_result(res);
	cp_buf_free(&sql);
	mysql_plugin_table_free(t);
	return rc;
}

/*
 * "2025-03-04 10:11:12.345600" (the session's time zone is UTC) →
 * "2025-03-04T10:11:12.3456+00:00": the form PostgreSQL's to_json gives,
 * so that backups of both read alike. Fraction zeros are trimmed.
 */
static size_t iso_timestamp(const char *s, size_t len, char *out, size_t size)
{
	size_t n = len < size - 8 ? len : size - 8;
	char *dot;

	memcpy(out, s, n);
	out[n] = '\0';
	if (n > 10 && out[10] == ' ')
		out[10] = 'T';
	else if (n <= 10)
		return n; /* a date without time: left as it is */
	dot = strchr(out, '.');
	if (dot != NULL) {
		while (n > 0 && out[n - 1] == '0')
			n--;
		if (&out[n - 1] == dot)
			n--;
	}
	memcpy(out + n, "+00:00", 7);
	return n + 6;
}

static int copy_str(struct my_cursor *c, struct cp_buf *buf, const char *s, unsigned long len)
{
	cp_buf_reset(buf);
	cp_buf_addn(buf, s, len);
	return buf->oom ? cp_fail(c->my->host, CAIRN_E_NOMEM, "out of memory") : CAIRN_OK;
}

int mysql_plugin_cursor_next(void *cursor, const struct cairn_record **rec)
{
	struct my_cursor *c = cursor;
	struct my_inst *my;
	MYSQL_ROW row;
	unsigned long *lens;
	size_t key_field;
	int rc;

	if (c == NULL || rec == NULL)
		return CAIRN_E_INVALID;
	my = c->my;
	if (c->res == NULL)
		return 0;
	if (++c->rows % MY_CANCEL_EVERY == 0 && cp_check_cancelled(my->host) != CAIRN_OK)
		return CAIRN_E_CANCELLED;
	row = mysql_fetch_row(c->res);
	if (row == NULL) {
		unsigned err = mysql_errno(my->conn);
		/* Read the error before freeing: mysql_free_result may reset it. */
		if (err != 0) {
			rc = mysql_plugin_conn_error(my, "unable to read table", c->table->name);
			mysql_free_result(c->res);
			c->res = NULL;
			my->busy = 0;
			return rc;
		}
		mysql_free_result(c->res);
		c->res = NULL;
		my->busy = 0;
		return 0;
	}
	lens = mysql_fetch_lengths(c->res);
	if (lens == NULL)
		return cp_fail(my->host, CAIRN_E_BACKEND, "no row lengths from table '%s'",
			       c->table->name);
	for (size_t i = 0; i < c->map.n; i++) {
		struct cairn_column *col = &c->map.cols[i];
		const struct my_col *mc = &c->table->cols[c->map.colidx[i]];
		if (row[i] == NULL) {
			col->type = CAIRN_COL_NULL;
			col->data = NULL;
			col->len = 0;
			continue;
		}
		col->type = mc->ctype;
		if (mc->ctype == CAIRN_COL_TIMESTAMP) {
			col->len = iso_timestamp(row[i], lens[i], c->ts[i], sizeof c->ts[i]);
			col->data = c->ts[i];
			continue;
		}
		col->data = row[i];
		col->len = lens[i];
	}
	key_field = c->map.key_field;
	rc = copy_str(c, &c->key, row[key_field] ? row[key_field] : "",
		      row[key_field] ? lens[key_field] : 0);
	if (rc != CAIRN_OK)
		return rc;
	c->map.rec.key = c->key.p;
	c->map.rec.tenant = NULL;
	if (row[c->map.n] != NULL) {
		rc = copy_str(c, &c->tenant, row[c->map.n], lens[c->map.n]);
		if (rc != CAIRN_OK)
			return rc;
		c->map.rec.tenant = c->tenant.p;
	}
	*rec = &c->map.rec;
	return 1;
}

void mysql_plugin_cursor_close(void *cursor)
{
	cursor_free(cursor);
}
