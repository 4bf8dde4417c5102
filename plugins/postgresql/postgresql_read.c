/*
 * postgresql_read.c — the backup half: one repeatable-read, read-only
 * transaction, and one `COPY (SELECT …) TO STDOUT` per kind.
 *
 * Why COPY rather than a server-side cursor and FETCH (the first design):
 * every FETCH was a round trip, so the server and the client never worked
 * at the same time, and the server materialised the cursor's rows
 * (tuplestore, spilling to temp files) on top of the ORDER BY the query
 * asked for (bench/RESULTS.md, "Where the time goes"). COPY streams: the
 * server produces rows into the socket while the core encodes, compresses
 * and encrypts the previous ones, and memory is one row, whatever the
 * table's or the rows' size. The archive does not need the records in any
 * order (docs/format.md), so there is no ORDER BY: a sequential scan.
 *
 * Why the binary format: every column is selected as text (or as bytea),
 * and in binary COPY a text value is its bytes and a bytea value its raw
 * bytes, each behind a length. The record's columns then point straight
 * into the row libpq hands over: no unescaping of the text format's
 * backslashes (JSON and YAML are full of them) and no hex decoding of
 * bytea. Measured on 20 000 flows (`\copy (SELECT key::text, value::text,
 * source_code::text, tenant_id::text FROM flows) TO '/dev/null'`, eight
 * runs each, the backend's CPU time): text 0.75–0.98 s, binary 0.57–0.81 s,
 * before counting the client's unescaping, which binary does not need.
 *
 * The one allocation per record is libpq's: PQgetCopyData returns each
 * row in a fresh buffer, freed at the next cursor_next. Nothing else is
 * allocated per record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgresql.h"

/* COPY's binary signature, flags and header-extension length open the stream. */
static const char copy_signature[11] = "PGCOPY\n\377\r\n";

struct pg_cursor {
	struct pg_inst *pg;
	struct pg_table *table;
	struct cp_rowmap map;     /* real columns, in table order, then the tenant */
	char *row;                /* the current row (libpq's buffer), or NULL */
	unsigned long rows;       /* rows read so far */
	int copying;              /* the COPY still holds the connection */
	int header_seen;          /* the stream's header has been read */
	int failed;               /* a read failed: closing must not drain */
	unsigned tx_gen;          /* the snapshot it was opened in */
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
	 * A role's statement or idle timeout must not kill a long backup: a COPY
	 * runs as long as its table takes, and the core may spend a while
	 * uploading between two tables.
	 */
	rc = postgresql_exec_ok(pg,
				"SET LOCAL statement_timeout = 0; "
				"SET LOCAL idle_in_transaction_session_timeout = 0",
				"unable to start the snapshot");
	if (rc == CAIRN_OK)
		rc = postgresql_jit_off(pg, "unable to start the snapshot");
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
	if (rc == CAIRN_OK)
		rc = postgresql_conn_idle(pg);
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
	rc = postgresql_conn_idle(pg);
	if (rc != CAIRN_OK)
		return rc;
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
	if (c->row != NULL)
		PQfreemem(c->row);
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
		cp_buf_add(b, qcol); /* binary COPY sends a bytea as its raw bytes */
		cp_buf_add(b, "::bytea");
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
 * ONE's comparison inside COPY, which takes no parameters: the tenant as a
 * literal quoted by libpq (PQescapeLiteral knows the connection's
 * standard_conforming_strings and encoding).
 */
static void tenant_eq_literal(void *ud, struct cp_buf *b, const char *expr, const char *tenant)
{
	struct pg_inst *pg = ud;
	char *lit = PQescapeLiteral(pg->conn, tenant, strlen(tenant));

	if (lit == NULL) {
		b->oom = 1;
		return;
	}
	cp_buf_add(b, "(");
	cp_buf_add(b, expr);
	cp_buf_add(b, ") = ");
	cp_buf_add(b, lit);
	PQfreemem(lit);
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
	rc = postgresql_conn_idle(pg);
	if (rc != CAIRN_OK)
		return rc;
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

	cp_buf_add(&sql, "COPY (SELECT ");
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
	char *qtime = NULL;
	if (scope.since != NULL) {
		/* ABI 1.3's window: the kind's time column, which must be this table's */
		const char *tc = cp_kind_time_column(kind);
		size_t i = 0;
		while (tc && i < c->table->n_cols && strcmp(c->table->cols[i].name, tc) != 0)
			i++;
		if (tc == NULL || i == c->table->n_cols) {
			rc = cp_fail(pg->host, CAIRN_E_SCHEMA, "table '%s' has no time column '%s' for --since",
				     kind->table, tc ? tc : "(none)");
			goto fail;
		}
		scope.time_col = qtime = postgresql_quote_ident(pg, tc);
		if (qtime == NULL)
			sql.oom = 1;
	}
	cp_scope_where(&sql, &scope, c->table->tenant_expr, tenant_eq_literal, pg);
	free(qtime);
	cp_buf_add(&sql, ") TO STDOUT (FORMAT binary)");
	if (sql.oom) {
		rc = cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
		goto fail;
	}
	CAIRN_LOG_DEBUG(pg->host, PG_NAME, "%s: %s", kind->kind, sql.p);
	res = PQexec(pg->conn, sql.p);
	if (res == NULL || PQresultStatus(res) != PGRES_COPY_OUT) {
		rc = postgresql_result_error(pg, res, "unable to read table", kind->table);
		goto fail;
	}
	c->copying = 1;
	c->tx_gen = pg->tx_gen;
	pg->copy = c;
	pg->copy_table = c->table->name;
	if ((size_t)PQnfields(res) != c->map.n + 1 || !PQbinaryTuples(res)) {
		c->failed = 1;
		rc = cp_fail(pg->host, CAIRN_E_BACKEND, "unexpected COPY result shape from table '%s'",
			     kind->table);
		PQclear(res);
		cp_buf_free(&sql);
		postgresql_cursor_close(c);
		return rc;
	}
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
	if (rc == CAIRN_OK)
		rc = postgresql_conn_idle(pg);
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

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * The COPY ended (or failed): collect the command's result and free the
 * connection. `report` 0 keeps the error already reported (an abandoned
 * COPY ends with the server's "canceling statement").
 */
static int copy_finish(struct pg_cursor *c, int report)
{
	struct pg_inst *pg = c->pg;
	PGresult *res;
	int rc = CAIRN_OK;

	while ((res = PQgetResult(pg->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == CAIRN_OK)
			rc = report ? postgresql_result_error(pg, res, "unable to read table",
							      c->table->name)
				    : CAIRN_E_BACKEND;
		PQclear(res);
		if (PQstatus(pg->conn) == CONNECTION_BAD)
			break;
	}
	c->copying = 0;
	if (pg->copy == c) {
		pg->copy = NULL;
		pg->copy_table = NULL;
	}
	return rc;
}

static int bad_row(struct pg_cursor *c, const char *why)
{
	c->failed = 1;
	return cp_fail(c->pg->host, CAIRN_E_BACKEND, "unexpected COPY data from table '%s': %s",
		       c->table->name, why);
}

/*
 * One CopyData message: the stream's header (first message only), then one
 * tuple (16-bit field count, then per field a 32-bit length, -1 for NULL,
 * and the bytes) or the trailer (count -1). Returns 1 for a tuple, 0 for
 * the trailer, <0 on error. The server sends one tuple per message, so
 * bytes left over are an error rather than the next row.
 */
static int parse_row(struct pg_cursor *c, unsigned char *p, size_t len)
{
	size_t off = 0, nf = c->map.n + 1;
	unsigned char *field[CAIRN_RECORD_MAX_COLUMNS + 1];
	size_t flen[CAIRN_RECORD_MAX_COLUMNS + 1];
	int null[CAIRN_RECORD_MAX_COLUMNS + 1];

	if (!c->header_seen) {
		if (len < 19 || memcmp(p, copy_signature, sizeof copy_signature) != 0)
			return bad_row(c, "no binary COPY header");
		if (be32(p + 11) & 0xffff0000u) /* the high half holds the critical flags (OIDs) */
			return bad_row(c, "unknown flags in the header");
		uint32_t ext = be32(p + 15);
		if (ext > len - 19)
			return bad_row(c, "truncated header extension");
		off = 19 + ext;
		c->header_seen = 1;
	}
	if (len - off < 2)
		return bad_row(c, "truncated row");
	int count = (int16_t)(p[off] << 8 | p[off + 1]);
	off += 2;
	if (count == -1)
		return off == len ? 0 : bad_row(c, "bytes after the trailer");
	if (count < 0 || (size_t)count != nf || nf > CAIRN_RECORD_MAX_COLUMNS + 1)
		return bad_row(c, "wrong number of fields");
	for (size_t i = 0; i < nf; i++) {
		if (len - off < 4)
			return bad_row(c, "truncated row");
		uint32_t l = be32(p + off);
		off += 4;
		null[i] = l == 0xffffffffu;
		if (null[i]) {
			field[i] = NULL;
			flen[i] = 0;
			continue;
		}
		if (l > len - off)
			return bad_row(c, "truncated field");
		field[i] = p + off;
		flen[i] = l;
		off += l;
	}
	if (off != len)
		return bad_row(c, "bytes after the row");

	for (size_t i = 0; i < c->map.n; i++) {
		struct cairn_column *col = &c->map.cols[i];
		if (null[i]) {
			col->type = CAIRN_COL_NULL;
			col->data = NULL;
			col->len = 0;
		} else {
			col->type = c->table->cols[c->map.colidx[i]].ctype;
			col->data = (const char *)field[i];
			col->len = flen[i];
		}
	}
	/*
	 * The key and the tenant must be NUL-terminated: the byte after each is
	 * the next field's length, already read, or for the last field the NUL
	 * libpq puts after every buffer it returns. Text values cannot hold a
	 * NUL byte, so nothing is cut short.
	 */
	size_t k = c->map.key_field, tf = c->map.n;
	if (null[k]) {
		c->map.rec.key = "";
	} else {
		field[k][flen[k]] = '\0';
		c->map.rec.key = (const char *)field[k];
	}
	if (null[tf]) {
		c->map.rec.tenant = NULL;
	} else {
		field[tf][flen[tf]] = '\0';
		c->map.rec.tenant = (const char *)field[tf];
	}
	return 1;
}

/* Rows between two looks at the host's cancellation flag. */
#define PG_CANCEL_EVERY 256

int postgresql_cursor_next(void *cursor, const struct cairn_record **rec)
{
	struct pg_cursor *c = cursor;
	struct pg_inst *pg;
	int rc;

	if (c == NULL || rec == NULL)
		return CAIRN_E_INVALID;
	pg = c->pg;
	if (c->row != NULL) {
		PQfreemem(c->row);
		c->row = NULL;
	}
	if (!c->copying)
		return 0;
	if (c->failed)
		return cp_fail(pg->host, CAIRN_E_INVALID, "cursor_next after a failed read of '%s'",
			       c->table->name);
	if (c->rows % PG_CANCEL_EVERY == 0 && cp_check_cancelled(pg->host) != CAIRN_OK) {
		c->failed = 1;
		return CAIRN_E_CANCELLED;
	}
	for (;;) {
		char *buf = NULL;
		int n = PQgetCopyData(pg->conn, &buf, 0);
		if (n == -1) { /* the COPY is over: its result says whether it succeeded */
			rc = copy_finish(c, 1);
			if (rc != CAIRN_OK)
				return rc;
			if (!c->header_seen)
				return bad_row(c, "the stream ended without a header");
			return 0;
		}
		if (n < 0) {
			c->failed = 1;
			return postgresql_result_error(pg, NULL, "unable to read table", c->table->name);
		}
		c->row = buf;
		rc = parse_row(c, (unsigned char *)buf, (size_t)n);
		if (rc < 0)
			return rc;
		if (rc == 0) { /* the trailer; the next call returns -1 */
			PQfreemem(c->row);
			c->row = NULL;
			continue;
		}
		c->rows++;
		*rec = &c->map.rec;
		return 1;
	}
}

/*
 * A COPY closed before its end still holds the connection. After a failure
 * or a cancellation the server is asked to stop (the snapshot is then
 * aborted: the backup fails anyway); otherwise the rest of the rows is read
 * and dropped, so that the snapshot stays usable for the next cursor, as
 * closing a server-side cursor did.
 */
static void copy_abandon(struct pg_cursor *c)
{
	struct pg_inst *pg = c->pg;
	char *buf;
	int n;

	if (c->row != NULL) {
		PQfreemem(c->row);
		c->row = NULL;
	}
	if (c->failed || pg->tx_failed || cp_cancelled(pg->host)) {
		PGcancel *cancel = PQgetCancel(pg->conn);
		char err[256];
		if (cancel != NULL) {
			(void)PQcancel(cancel, err, sizeof err);
			PQfreeCancel(cancel);
		}
		pg->tx_failed = 1;
	}
	while ((n = PQgetCopyData(pg->conn, &buf, 0)) > 0)
		PQfreemem(buf);
	if (copy_finish(c, 0) != CAIRN_OK)
		pg->tx_failed = 1;
}

void postgresql_cursor_close(void *cursor)
{
	struct pg_cursor *c = cursor;

	if (c == NULL)
		return;
	if (c->copying && c->pg->copy == c && c->tx_gen == c->pg->tx_gen &&
	    PQstatus(c->pg->conn) == CONNECTION_OK)
		copy_abandon(c);
	else if (c->pg->copy == c) {
		c->pg->copy = NULL;
		c->pg->copy_table = NULL;
	}
	cursor_free(c);
}
