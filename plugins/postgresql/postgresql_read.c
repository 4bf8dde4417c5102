/*
 * postgresql_read.c — the backup half: one repeatable-read, read-only
 * transaction, and a server-side cursor per kind so that memory is bounded
 * by one batch of rows whatever the table's size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgresql.h"

struct pg_cursor {
	struct pg_inst *pg;
	char name[32];
	struct pg_table *table;
	struct cp_rowmap map;     /* real columns, in table order, then the tenant */
	struct cp_buf *bytes;     /* decode buffer per BYTES column */
	PGresult *batch;
	int row, nrows;
	int last_batch;           /* the server has nothing after this batch */
	long fetch;               /* rows the next FETCH asks for (adapts to row size) */
	int open;                 /* the server-side cursor is declared */
	unsigned tx_gen;          /* the snapshot it was declared in */
};

int postgresql_snapshot_begin(void *inst)
{
	struct pg_inst *pg = inst;
	int rc;

	if (pg == NULL)
		return CAIRN_E_INVALID;
	rc = cp_tx_expect(pg->host, pg->tx, CP_TX_NONE);
	if (rc != CAIRN_OK)
		return rc;
	rc = postgresql_exec_ok(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
				"unable to start the snapshot");
	if (rc != CAIRN_OK)
		return rc;
	pg->tx = CP_TX_SNAPSHOT;
	pg->tx_failed = 0;
	pg->tx_gen++;
	/*
	 * A role's statement or idle timeout must not kill a long backup: the
	 * core may spend a while uploading between two fetches.
	 */
	rc = postgresql_exec_ok(pg,
				"SET LOCAL statement_timeout = 0; "
				"SET LOCAL idle_in_transaction_session_timeout = 0",
				"unable to start the snapshot");
	/* describe() checked already, but a caller need not call it first. */
	if (rc == CAIRN_OK)
		rc = postgresql_kestra_check(pg, NULL);
	if (rc != CAIRN_OK) {
		PGresult *res = PQexec(pg->conn, "ROLLBACK");
		PQclear(res);
		pg->tx = CP_TX_NONE;
	}
	return rc;
}

int postgresql_snapshot_end(void *inst)
{
	struct pg_inst *pg = inst;
	int rc;

	if (pg == NULL)
		return CAIRN_E_INVALID;
	rc = cp_tx_expect(pg->host, pg->tx, CP_TX_SNAPSHOT);
	if (rc != CAIRN_OK)
		return rc;
	/* Read only: committing or rolling back is the same, but COMMIT reports a failed one. */
	rc = postgresql_exec_ok(pg, pg->tx_failed ? "ROLLBACK" : "COMMIT",
				"unable to end the snapshot");
	pg->tx = CP_TX_NONE;
	pg->tx_failed = 0;
	return rc;
}

int postgresql_kind_exists(void *inst, const struct cairn_kind_desc *kind)
{
	static const char sql[] =
		"SELECT 1 FROM pg_catalog.pg_class c "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"WHERE n.nspname = $1 AND c.relname = $2 "
		"  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')";
	struct pg_inst *pg = inst;
	const char *params[2];
	PGresult *res;
	int rc;

	if (pg == NULL || kind == NULL)
		return CAIRN_E_INVALID;
	if (kind->table == NULL || *kind->table == '\0')
		return 0;
	params[0] = pg->schema;
	params[1] = kind->table;
	res = PQexecParams(pg->conn, sql, 2, NULL, params, NULL, NULL, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = postgresql_result_error(pg, res, "unable to look up table", kind->table);
	else
		rc = PQntuples(res) > 0 ? 1 : 0;
	PQclear(res);
	return rc;
}

static void cursor_free(struct pg_cursor *c)
{
	if (c == NULL)
		return;
	PQclear(c->batch);
	if (c->bytes != NULL)
		for (size_t i = 0; i < c->map.n; i++)
			cp_buf_free(&c->bytes[i]);
	free(c->bytes);
	cp_rowmap_free(&c->map);
	postgresql_table_free(c->table);
	free(c);
}

/* The SELECT expression that gives column `col` in its transport form. */
static void select_expr(struct cp_buf *b, const struct pg_col *col, const char *qcol)
{
	switch (col->ctype) {
	case CAIRN_COL_TIMESTAMP:
		/* to_json gives ISO 8601 with 'T' and, for timestamptz, the offset. */
		cp_buf_add(b, "to_json(");
		cp_buf_add(b, qcol);
		if (strcmp(col->typname, "timestamp") == 0)
			cp_buf_add(b, " AT TIME ZONE 'UTC'");
		cp_buf_add(b, ") #>> '{}'");
		break;
	case CAIRN_COL_BYTES:
		cp_buf_add(b, qcol); /* text form, bytea_output = hex: decoded in cursor_next */
		break;
	default:
		cp_buf_add(b, qcol);
		cp_buf_add(b, "::text");
		break;
	}
}

/* The record's tenant as text, or NULL::text for a table without a tenant expression. */
static void tenant_select(struct cp_buf *b, const struct pg_table *t)
{
	if (t->tenant_expr != NULL) {
		cp_buf_add(b, "(");
		cp_buf_add(b, t->tenant_expr);
		cp_buf_add(b, ")::text");
	} else {
		cp_buf_add(b, "NULL::text");
	}
}

/*
 * cursor_open_scoped (ABI 1.2); cursor_open is a thin wrapper, so this is
 * the one cursor implementation. NONE reads `(<tenant>) IS NULL`. On a
 * table without a tenant expression ONE and NONE are both refused
 * (CAIRN_E_SCHEMA): its records do have a NULL tenant, but NONE scopes a
 * null-tenant TENANT backup, and the whole table is not that (README.md).
 */
int postgresql_cursor_open_scoped(void *inst, const struct cairn_kind_desc *kind,
				  const struct cairn_scope *in, void **cursor)
{
	struct pg_inst *pg = inst;
	struct cp_scope scope;
	struct pg_cursor *c = NULL;
	struct cp_buf sql = {0};
	const char *params[1];
	PGresult *res = NULL;
	int rc = CAIRN_OK;
	size_t n = 0;

	if (pg == NULL || kind == NULL || cursor == NULL)
		return CAIRN_E_INVALID;
	rc = cp_scope_read(pg->host, in, &scope);
	if (rc == CAIRN_OK)
		rc = cp_kind_table(pg->host, kind);
	if (rc != CAIRN_OK)
		return rc;
	if (pg->tx != CP_TX_SNAPSHOT)
		return cp_fail(pg->host, CAIRN_E_INVALID,
			       "cursor_open called outside a snapshot");
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	c->pg = pg;
	rc = postgresql_table_load(pg, kind->table, &c->table);
	if (rc != CAIRN_OK)
		goto fail;
	rc = cp_cursor_table_check(pg->host, kind->table, c->table->exists, c->table->has_key,
				   c->table->tenant_expr != NULL, &scope, "schema", pg->schema);
	if (rc != CAIRN_OK)
		goto fail;
	for (size_t i = 0; i < c->table->n_cols; i++)
		n += !c->table->cols[i].generated;
	rc = cp_rowmap_init(pg->host, &c->map, n);
	if (rc != CAIRN_OK)
		goto fail;
	c->bytes = calloc(n ? n : 1, sizeof *c->bytes);
	if (c->bytes == NULL) {
		rc = cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
		goto fail;
	}

	snprintf(c->name, sizeof c->name, "cairn_cur_%u", ++pg->seq);
	cp_buf_add(&sql, "DECLARE ");
	cp_buf_add(&sql, c->name);
	cp_buf_add(&sql, " NO SCROLL CURSOR FOR SELECT ");
	for (size_t i = 0; i < c->table->n_cols; i++) {
		const struct pg_col *col = &c->table->cols[i];
		char *q;
		if (col->generated)
			continue;
		q = postgresql_quote_ident(pg, col->name);
		if (q == NULL) {
			sql.oom = 1;
			break;
		}
		if (c->map.used > 0)
			cp_buf_add(&sql, ", ");
		select_expr(&sql, col, q);
		free(q);
		cp_rowmap_add(&c->map, i, col->name);
	}
	cp_buf_add(&sql, c->map.used > 0 ? ", " : "");
	tenant_select(&sql, c->table);
	cp_buf_add(&sql, " FROM ");
	cp_buf_add(&sql, c->table->qname);
	cp_scope_where(&sql, &scope, c->table->tenant_expr, postgresql_tenant_eq, pg);
	cp_buf_add(&sql, " ORDER BY \"key\"");
	if (sql.oom) {
		rc = cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
		goto fail;
	}
	params[0] = scope.tenant;
	res = PQexecParams(pg->conn, sql.p, scope.tenant ? 1 : 0, NULL,
			   scope.tenant ? params : NULL, NULL, NULL, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = postgresql_result_error(pg, res, "unable to read table", kind->table);
		goto fail;
	}
	c->open = 1;
	c->tx_gen = pg->tx_gen;
	PQclear(res);
	cp_buf_free(&sql);
	*cursor = c;
	return CAIRN_OK;
fail:
	PQclear(res);
	cp_buf_free(&sql);
	cursor_free(c);
	return rc;
}

int postgresql_cursor_open(void *inst, const struct cairn_kind_desc *kind,
			   const char *tenant, void **cursor)
{
	struct cairn_scope s = cp_scope_of_tenant(tenant);

	return postgresql_cursor_open_scoped(inst, kind, &s, cursor);
}

/*
 * The tenants the cursor would report: the same tenant_select, so that a
 * table without a tenant expression has the one tenant NULL (when it has
 * rows). Runs in the snapshot when one is open, else on its own.
 */
int postgresql_list_tenants(void *inst, const struct cairn_kind_desc *kind, cairn_tenant_cb cb,
			    void *ud)
{
	struct pg_inst *pg = inst;
	struct pg_table *t = NULL;
	struct cp_buf sql = {0};
	PGresult *res = NULL;
	int rc;

	if (pg == NULL || kind == NULL || cb == NULL)
		return CAIRN_E_INVALID;
	rc = cp_kind_table(pg->host, kind);
	if (rc != CAIRN_OK)
		return rc;
	rc = postgresql_table_load(pg, kind->table, &t);
	if (rc != CAIRN_OK)
		return rc;
	rc = cp_table_found(pg->host, kind->table, t->exists, "schema", pg->schema);
	if (rc != CAIRN_OK)
		goto out;
	cp_buf_add(&sql, "SELECT DISTINCT ");
	tenant_select(&sql, t);
	cp_buf_add(&sql, " FROM ");
	cp_buf_add(&sql, t->qname);
	if (sql.oom) {
		rc = cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
		goto out;
	}
	res = PQexec(pg->conn, sql.p);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = postgresql_result_error(pg, res, "unable to list the tenants of table",
					     kind->table);
		goto out;
	}
	for (int i = 0; i < PQntuples(res) && rc == CAIRN_OK; i++)
		rc = cb(ud, PQgetisnull(res, i, 0) ? NULL : PQgetvalue(res, i, 0));
out:
	PQclear(res);
	cp_buf_free(&sql);
	postgresql_table_free(t);
	return rc;
}

/* bytea's hex text form "\x0a1b…" into the column's reusable buffer. */
static int decode_bytea(struct pg_cursor *c, size_t i, const char *s, size_t len)
{
	struct cp_buf *out = &c->bytes[i];
	size_t n;

	if (len < 2 || s[0] != '\\' || s[1] != 'x' || (len - 2) % 2 != 0)
		return cp_fail(c->pg->host, CAIRN_E_CORRUPT,
			       "unexpected bytea text in table '%s' (bytea_output is not hex)",
			       c->table->name);
	n = (len - 2) / 2;
	cp_buf_reset(out);
	if (cp_buf_reserve(out, n) != 0)
		return cp_fail(c->pg->host, CAIRN_E_NOMEM, "out of memory");
	if (cp_hex_decode(s + 2, n, (unsigned char *)out->p) != 0)
		return cp_fail(c->pg->host, CAIRN_E_CORRUPT,
			       "invalid bytea text in table '%s'", c->table->name);
	out->len = n;
	c->map.cols[i].data = out->p;
	c->map.cols[i].len = n;
	return CAIRN_OK;
}

/*
 * Bytes one FETCH may bring back. fetch_size rows of a few KiB is fine, but
 * rows can be megabytes (a huge source_code): the row count of the next
 * FETCH is scaled so that memory stays near this bound whatever the rows.
 */
#define PG_FETCH_BYTES (8L * 1024 * 1024)

static void fetch_adapt(struct pg_cursor *c)
{
	long bytes = 0;
	int rows = PQntuples(c->batch), cols = PQnfields(c->batch);
	for (int r = 0; r < rows; r++)
		for (int f = 0; f < cols; f++)
			bytes += PQgetlength(c->batch, r, f);
	if (bytes > PG_FETCH_BYTES) {
		long n = (long)((double)c->fetch * PG_FETCH_BYTES / (double)bytes);
		c->fetch = n > 0 ? n : 1;
	} else if (bytes < PG_FETCH_BYTES / 4 && c->fetch < c->pg->fetch_size) {
		c->fetch = c->fetch * 2 < c->pg->fetch_size ? c->fetch * 2 : c->pg->fetch_size;
	}
}

static int fetch_batch(struct pg_cursor *c)
{
	struct pg_inst *pg = c->pg;
	char sql[96];

	PQclear(c->batch);
	c->batch = NULL;
	c->row = c->nrows = 0;
	if (cp_check_cancelled(pg->host) != CAIRN_OK)
		return CAIRN_E_CANCELLED;
	if (c->fetch <= 0) /* start small; fetch_adapt doubles it while rows are small */
		c->fetch = pg->fetch_size < 8 ? pg->fetch_size : 8;
	long asked = c->fetch;
	snprintf(sql, sizeof sql, "FETCH %ld FROM %s", asked, c->name);
	c->batch = PQexec(pg->conn, sql);
	if (c->batch == NULL || PQresultStatus(c->batch) != PGRES_TUPLES_OK) {
		int rc = postgresql_result_error(pg, c->batch, "unable to read table", c->table->name);
		PQclear(c->batch);
		c->batch = NULL;
		return rc;
	}
	if ((size_t)PQnfields(c->batch) != c->map.n + 1) {
		PQclear(c->batch);
		c->batch = NULL;
		return cp_fail(pg->host, CAIRN_E_BACKEND, "unexpected result shape from table '%s'",
			       c->table->name);
	}
	c->nrows = PQntuples(c->batch);
	c->last_batch = c->nrows < asked;
	fetch_adapt(c);
	return CAIRN_OK;
}

int postgresql_cursor_next(void *cursor, const struct cairn_record **rec)
{
	struct pg_cursor *c = cursor;
	PGresult *b;
	int rc;

	if (c == NULL || rec == NULL)
		return CAIRN_E_INVALID;
	if (c->row >= c->nrows) {
		if (c->last_batch)
			return 0;
		rc = fetch_batch(c);
		if (rc != CAIRN_OK)
			return rc;
		if (c->nrows == 0) {
			c->last_batch = 1;
			return 0;
		}
	}
	b = c->batch;
	for (size_t i = 0; i < c->map.n; i++) {
		struct cairn_column *col = &c->map.cols[i];
		const struct pg_col *pc = &c->table->cols[c->map.colidx[i]];
		if (PQgetisnull(b, c->row, (int)i)) {
			col->type = CAIRN_COL_NULL;
			col->data = NULL;
			col->len = 0;
			continue;
		}
		col->type = pc->ctype;
		if (pc->ctype == CAIRN_COL_BYTES) {
			rc = decode_bytea(c, i, PQgetvalue(b, c->row, (int)i),
					  (size_t)PQgetlength(b, c->row, (int)i));
			if (rc != CAIRN_OK)
				return rc;
			continue;
		}
		col->data = PQgetvalue(b, c->row, (int)i);
		col->len = (size_t)PQgetlength(b, c->row, (int)i);
	}
	c->map.rec.key = PQgetisnull(b, c->row, (int)c->map.key_field)
				 ? ""
				 : PQgetvalue(b, c->row, (int)c->map.key_field);
	c->map.rec.tenant = PQgetisnull(b, c->row, (int)c->map.n)
				    ? NULL
				    : PQgetvalue(b, c->row, (int)c->map.n);
	c->row++;
	*rec = &c->map.rec;
	return 1;
}

void postgresql_cursor_close(void *cursor)
{
	struct pg_cursor *c = cursor;

	if (c == NULL)
		return;
	/* A failed transaction refuses CLOSE; ending the transaction drops the cursor anyway. */
	if (c->open && c->pg->tx == CP_TX_SNAPSHOT && c->tx_gen == c->pg->tx_gen &&
	    !c->pg->tx_failed &&
	    PQstatus(c->pg->conn) == CONNECTION_OK) {
		char sql[64];
		PGresult *res;
		snprintf(sql, sizeof sql, "CLOSE %s", c->name);
		res = PQexec(c->pg->conn, sql);
		if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
			c->pg->tx_failed = 1;
		PQclear(res);
	}
	cursor_free(c);
}
