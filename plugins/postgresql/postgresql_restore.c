/*
 * postgresql_restore.c — the restore half: one read-committed transaction,
 * and per batch of records one COPY and one set-based upsert.
 *
 * Why set-based: the time of a restore was the server's, and most of it
 * was spent once per *statement* — executor start-up re-reading and
 * planning the generated columns' expressions (Kestra's full-text columns
 * call SQL functions), the SQL function's own set-up — so one upsert per
 * record paid it per record (bench/RESULTS.md, "Where the time goes"). Now
 * a batch is COPYed (binary) into a temporary staging table and one
 *
 *   WITH cairn_w AS (
 *     INSERT INTO t AS cairn_t (cols) SELECT … FROM stage s
 *     WHERE (SELECT ROW(cairn_o.…) IS NOT DISTINCT FROM ROW(s.…)
 *            FROM t cairn_o WHERE cairn_o.key = s.key) IS NOT TRUE
 *     ON CONFLICT (key) DO UPDATE SET … WHERE ROW(cairn_t.…) IS DISTINCT FROM ROW(EXCLUDED.…)
 *     RETURNING cairn_t.key, (cairn_t.xmax = 0))
 *   SELECT s.ord, inserted FROM cairn_w JOIN stage s ON s.key = cairn_w.key
 *
 * writes it: a returned row with true is NEW, with false CHANGED, a record
 * not returned UNCHANGED — the outcomes of the per-record upsert this
 * replaces. The WHERE keeps the records already stored as they are
 * from reaching the INSERT at all: PostgreSQL computes a row's generated
 * columns before it finds the conflict, so without it an unchanged row
 * paid the full-text expressions anyway. JSONB compares as JSONB, json and
 * xml (no equality operator) as text.
 *
 * A table that is empty when the restore first writes to it, with no user
 * trigger, rule or row security (which COPY would bypass or refuse), and
 * whose columns all go in binary as they are, takes its records by COPY
 * straight into the table: all NEW. If such a COPY meets a key already
 * there (a key twice in the archive, or another session writing), its
 * batch is undone to its savepoint and upserted as above, and the table is
 * upserted from then on: the outcomes stay exact.
 *
 * Errors name the record. A COPY's error context gives the row's line; a
 * failed upsert is rolled back to the savepoint taken just before it, and
 * the batch is upserted again one record at a time until the failing one
 * shows. That savepoint per batch is a subtransaction: past 64 in one
 * transaction PostgreSQL's subtransaction cache overflows, which costs
 * other sessions' snapshots some extra look-ups until the restore commits
 * (README.md). A dry run does all of this and rolls back, so its outcomes
 * are exact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgresql.h"
#include "plugin_buf.h"

/* How a parameter's value travels in binary COPY. */
enum pg_enc {
	PG_ENC_RAW = 0,   /* the bytes as they are: text types, json, bytea from BYTES */
	PG_ENC_JSONB = 1, /* jsonb's binary form: version byte 1, then the text */
	PG_ENC_CAST = 2   /* staged as text and cast in the upsert (int, timestamptz, …) */
};

#define PG_SAVEPOINT "cairn_batch"

/* Bytes of COPY data handed to libpq at a time: libpq's buffer stays this small. */
#define PG_COPY_CHUNK (64u * 1024)

/* Most bytes of record values in one COPY (the core's batches are smaller today). */
#define PG_RUN_BYTES (8u * 1024 * 1024)

/* Slots of the duplicate-key table: twice CAIRN_RESTORE_BATCH_MAX, a power of two. */
#define PG_DUP_SLOTS 2048u

static void sb_quoted(struct cp_buf *b, struct pg_inst *pg, const char *ident)
{
	char *q = postgresql_quote_ident(pg, ident);

	if (q == NULL) {
		b->oom = 1;
		return;
	}
	cp_buf_add(b, q);
	free(q);
}

void postgresql_stmt_free(struct pg_stmt *s)
{
	while (s != NULL) {
		struct pg_stmt *next = s->next;
		cp_names_free(s->rec_names, s->n);
		free(s->col);
		free(s->enc);
		free(s->copy_stage);
		free(s->copy_direct);
		free(s->create_stage);
		free(s->insert_sql);
		free(s);
		s = next;
	}
}

/*
 * Forgets the tables and statements of the last restore. Prepared
 * statements outlive transactions, so they are deallocated once the
 * transaction is over and the connection is usable; the staging tables
 * went with the transaction (ON COMMIT DROP).
 */
void postgresql_restore_reset(struct pg_inst *pg)
{
	struct pg_table *t = pg->tables, *next;

	for (; t != NULL; t = next) {
		next = t->next;
		for (struct pg_stmt *s = t->stmt; s != NULL; s = s->next) {
			if (!s->prepared || pg->conn == NULL || pg->tx != CP_TX_NONE ||
			    PQstatus(pg->conn) != CONNECTION_OK)
				continue;
			char sql[64];
			snprintf(sql, sizeof sql, "DEALLOCATE %s", s->name);
			PQclear(PQexec(pg->conn, sql));
		}
		postgresql_table_free(t);
	}
	pg->tables = NULL;
	pg->sp_open = 0;
}

static int table_get(struct pg_inst *pg, const struct cairn_kind_desc *kind,
		     struct pg_table **out)
{
	struct pg_table *t;
	int rc;

	rc = cp_kind_table(pg->host, kind);
	if (rc != CAIRN_OK)
		return rc;
	for (t = pg->tables; t != NULL; t = t->next)
		if (strcmp(t->name, kind->table) == 0)
			break;
	if (t == NULL) {
		rc = postgresql_table_load(pg, kind->table, &t);
		if (rc != CAIRN_OK)
			return rc;
		t->direct = -1;
		t->next = pg->tables;
		pg->tables = t;
	}
	if (!t->exists)
		return cp_fail(pg->host, CAIRN_E_SCHEMA, "table '%s' does not exist in schema '%s'",
			       kind->table, pg->schema);
	*out = t;
	return CAIRN_OK;
}

int postgresql_restore_begin(void *inst, const struct cairn_restore_opts *opts)
{
	struct pg_inst *pg = inst;
	int has_flyway, rc;
	PGresult *res;

	if (pg == NULL || opts == NULL)
		return CAIRN_E_INVALID;
	rc = cp_tx_expect(pg->host, pg->tx, CP_TX_NONE);
	if (rc != CAIRN_OK)
		return rc;
	postgresql_restore_reset(pg);
	/* The core compares the backup's schema version with describe()'s. */
	cp_restore_opts_read(opts, &pg->dry_run, NULL, NULL);

	rc = postgresql_kestra_check(pg, &has_flyway);
	if (rc != CAIRN_OK)
		return rc;
	/* Writing needs Kestra's migrations to have run, not just a flows table. */
	if (!has_flyway)
		return cp_fail(pg->host, CAIRN_E_SCHEMA,
			       "target database '%s' has no Kestra schema (no "
			       "flyway_schema_history table in schema '%s')",
			       PQdb(pg->conn), pg->schema);

	rc = postgresql_exec_ok(pg, "BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE",
				"unable to start the restore transaction");
	if (rc != CAIRN_OK)
		return rc;
	pg->tx = CP_TX_RESTORE;
	pg->tx_failed = 0;
	pg->tx_gen++;
	rc = postgresql_exec_ok(pg,
				"SET LOCAL statement_timeout = 0; "
				"SET LOCAL idle_in_transaction_session_timeout = 0",
				"unable to start the restore transaction");
	if (rc == CAIRN_OK)
		rc = postgresql_jit_off(pg, "unable to start the restore transaction");
	if (rc != CAIRN_OK)
		goto fail;
	/*
	 * Kestra's BEFORE UPDATE trigger on dashboards stamps `updated` with
	 * now(), which would replace the value being restored. A superuser can
	 * switch user triggers off for this transaction; others keep them.
	 */
	res = PQexec(pg->conn, "SELECT current_setting('is_superuser') = 'on'");
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = postgresql_result_error(pg, res, "unable to check privileges", NULL);
		PQclear(res);
		goto fail;
	}
	if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		PQclear(res);
		rc = postgresql_exec_ok(pg, "SET LOCAL session_replication_role = replica",
					"unable to disable triggers");
		if (rc != CAIRN_OK)
			goto fail;
	} else {
		PQclear(res);
		CAIRN_LOG_DEBUG(pg->host, PG_NAME,
				"not a superuser: table triggers stay enabled during the restore");
	}
	return CAIRN_OK;
fail:
	res = PQexec(pg->conn, "ROLLBACK");
	PQclear(res);
	pg->tx = CP_TX_NONE;
	return rc;
}

/*
 * restore_delete_scoped (ABI 1.2); restore_delete_scope is a thin wrapper,
 * so this is the one delete implementation. NONE deletes `(<tenant>) IS
 * NULL` only. On a table without a tenant expression ONE and NONE are both
 * refused (CAIRN_E_SCHEMA): NONE meaning "the whole table" would be the
 * unscoped --replace delete it exists to prevent (README.md).
 */
int postgresql_restore_delete_scoped(void *inst, const struct cairn_kind_desc *kind,
				     const struct cairn_scope *in)
{
	struct pg_inst *pg = inst;
	struct cp_scope scope;
	struct cp_buf sql = {0};
	struct pg_table *t;
	const char *params[1];
	char what[300];
	PGresult *res;
	int rc;

	if (pg == NULL || kind == NULL)
		return CAIRN_E_INVALID;
	rc = cp_scope_read(pg->host, in, &scope);
	if (rc == CAIRN_OK)
		rc = cp_tx_expect(pg->host, pg->tx, CP_TX_RESTORE);
	if (rc != CAIRN_OK)
		return rc;
	rc = table_get(pg, kind, &t);
	if (rc != CAIRN_OK)
		return rc;
	rc = cp_scope_table_check(pg->host, t->name, t->tenant_expr != NULL, &scope,
				  "its records cannot be selected");
	if (rc != CAIRN_OK)
		return rc;
	cp_scope_delete_sql(&sql, t->qname, &scope, t->tenant_expr, postgresql_tenant_eq, pg);
	if (sql.oom) {
		cp_buf_free(&sql);
		return cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	}
	params[0] = scope.tenant;
	res = PQexecParams(pg->conn, sql.p, scope.tenant ? 1 : 0, NULL,
			   scope.tenant ? params : NULL, NULL, NULL, 0);
	cp_buf_free(&sql);
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = postgresql_result_error(pg, res, "unable to delete from table", t->name);
	} else {
		cp_scope_describe(&scope, what, sizeof what);
		CAIRN_LOG_DEBUG(pg->host, PG_NAME, "deleted %s row(s) from '%s'%s",
				PQcmdTuples(res), t->name, what);
		rc = CAIRN_OK;
	}
	PQclear(res);
	return rc;
}

int postgresql_restore_delete_scope(void *inst, const struct cairn_kind_desc *kind,
				    const char *tenant)
{
	struct cairn_scope s = cp_scope_of_tenant(tenant);

	return postgresql_restore_delete_scoped(inst, kind, &s);
}

static int find_col(const struct pg_table *t, const char *name, size_t *idx)
{
	for (size_t i = 0; i < t->n_cols; i++)
		if (strcmp(t->cols[i].name, name) == 0) {
			*idx = i;
			return 1;
		}
	return 0;
}

/* cp_record_columns_check's view of a table. */
static int col_state(const void *table, const char *name)
{
	const struct pg_table *t = table;
	size_t idx;

	if (!find_col(t, name, &idx))
		return CP_COL_MISSING;
	return t->cols[idx].generated ? CP_COL_GENERATED : CP_COL_REAL;
}

/* Parameter i's value in rec: the synthetic key first when the record has no "key" column. */
static const struct cairn_column *param_col(const struct pg_stmt *s, const struct cairn_record *rec,
					    size_t i, struct cairn_column *key)
{
	if (s->synthetic_key && i == 0) {
		key->name = "key";
		key->type = CAIRN_COL_TEXT;
		key->data = rec->key;
		key->len = strlen(rec->key);
		return key;
	}
	return &rec->columns[i - (s->synthetic_key ? 1 : 0)];
}

/*
 * The types whose binary input is their text (or raw bytes for bytea), so
 * that a value goes into COPY as it is; jsonb adds a version byte.
 */
static int enc_of(const struct pg_col *col, uint32_t value_type)
{
	static const char *const raw[] = {"text", "varchar", "bpchar", "name", "json", NULL};

	if (strcmp(col->typname, "jsonb") == 0)
		return PG_ENC_JSONB;
	/* a bytea's text form ("\x0a…") needs bytea's text input: only BYTES go raw */
	if (strcmp(col->typname, "bytea") == 0)
		return value_type == CAIRN_COL_BYTES ? PG_ENC_RAW : PG_ENC_CAST;
	for (int i = 0; raw[i] != NULL; i++)
		if (strcmp(col->typname, raw[i]) == 0)
			return PG_ENC_RAW;
	return PG_ENC_CAST;
}

/*
 * Does statement s fit this record? The same column names, and a bytea
 * column fed the same way (raw from BYTES, cast from text); a NULL fits
 * either.
 */
static int stmt_fits(const struct pg_stmt *s, const struct pg_table *t,
		     const struct cairn_record *rec)
{
	struct cairn_column key;

	if (!cp_names_match(s->rec_names, s->n, s->synthetic_key, rec))
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct cairn_column *c = param_col(s, rec, i, &key);
		if (c->type != CAIRN_COL_NULL && strcmp(t->cols[s->col[i]].typname, "bytea") == 0 &&
		    enc_of(&t->cols[s->col[i]], c->type) != s->enc[i])
			return 0;
	}
	return 1;
}

/* Staging column i as the upsert reads it: s.c<i>, cast when it was staged as text. */
static void stage_expr(struct cp_buf *b, const struct pg_stmt *s, const struct pg_table *t,
		       size_t i)
{
	cp_buf_addf(b, "s.c%zu", i);
	if (s->enc[i] == PG_ENC_CAST) {
		cp_buf_add(b, "::");
		cp_buf_add(b, t->cols[s->col[i]].type);
	}
}

/* An expression as compared for change; json and xml have no equality operator. */
static void compare_open(struct cp_buf *b, const struct pg_col *col)
{
	if (strcmp(col->typname, "json") == 0 || strcmp(col->typname, "xml") == 0)
		cp_buf_add(b, "(");
}

static void compare_close(struct cp_buf *b, const struct pg_col *col)
{
	if (strcmp(col->typname, "json") == 0 || strcmp(col->typname, "xml") == 0)
		cp_buf_add(b, ")::text");
}

/* ROW(<prefix><col>, …) over the non-key parameters; prefix NULL: the staged values. */
static void row_of(struct cp_buf *b, struct pg_inst *pg, const struct pg_stmt *s,
		   const struct pg_table *t, size_t key_idx, const char *prefix)
{
	cp_buf_add(b, "ROW(");
	for (size_t i = 0, k = 0; i < s->n; i++) {
		const struct pg_col *col = &t->cols[s->col[i]];
		if (s->col[i] == key_idx)
			continue;
		cp_buf_add(b, k++ ? ", " : "");
		compare_open(b, col);
		if (prefix != NULL) {
			cp_buf_add(b, prefix);
			sb_quoted(b, pg, col->name);
		} else {
			stage_expr(b, s, t, i);
		}
		compare_close(b, col);
	}
	cp_buf_add(b, ")");
}

/* The upsert from the staging table; `single` adds "AND s.o = $1" for the one-record retry. */
static char *upsert_sql(struct pg_inst *pg, const struct pg_stmt *s, const struct pg_table *t,
			int single)
{
	struct cp_buf b = {0};
	size_t key_idx = 0, key_param = 0, n_set = 0;

	find_col(t, "key", &key_idx);
	for (size_t i = 0; i < s->n; i++)
		if (s->col[i] == key_idx)
			key_param = i;
	n_set = s->n - 1;

	cp_buf_add(&b, "WITH cairn_w AS (INSERT INTO ");
	cp_buf_add(&b, t->qname);
	cp_buf_add(&b, " AS cairn_t (");
	for (size_t i = 0; i < s->n; i++) {
		cp_buf_add(&b, i ? ", " : "");
		sb_quoted(&b, pg, t->cols[s->col[i]].name);
	}
	cp_buf_add(&b, ") SELECT ");
	for (size_t i = 0; i < s->n; i++) {
		cp_buf_add(&b, i ? ", " : "");
		stage_expr(&b, s, t, i);
	}
	cp_buf_add(&b, " FROM ");
	cp_buf_add(&b, s->stage);
	/*
	 * A scalar subquery, not NOT EXISTS: the planner turns NOT EXISTS into
	 * an anti-join and, knowing nothing of the staging table, may hash the
	 * whole target for every batch; a correlated subquery is always one
	 * index look-up per staged row.
	 */
	cp_buf_add(&b, " s WHERE (SELECT ");
	if (n_set > 0) {
		row_of(&b, pg, s, t, key_idx, "cairn_o.");
		cp_buf_add(&b, " IS NOT DISTINCT FROM ");
		row_of(&b, pg, s, t, key_idx, NULL);
	} else {
		cp_buf_add(&b, "true");
	}
	cp_buf_add(&b, " FROM ");
	cp_buf_add(&b, t->qname);
	cp_buf_add(&b, " cairn_o WHERE cairn_o.");
	sb_quoted(&b, pg, t->cols[key_idx].name);
	cp_buf_add(&b, " = ");
	stage_expr(&b, s, t, key_param);
	cp_buf_add(&b, ") IS NOT TRUE");
	if (single)
		cp_buf_add(&b, " AND s.o = $1");
	cp_buf_add(&b, " ON CONFLICT (");
	sb_quoted(&b, pg, t->cols[key_idx].name);
	cp_buf_add(&b, ") DO ");
	if (n_set == 0) {
		cp_buf_add(&b, "NOTHING");
	} else {
		cp_buf_add(&b, "UPDATE SET ");
		for (size_t i = 0, k = 0; i < s->n; i++) {
			if (s->col[i] == key_idx)
				continue;
			cp_buf_add(&b, k++ ? ", " : "");
			sb_quoted(&b, pg, t->cols[s->col[i]].name);
			cp_buf_add(&b, " = EXCLUDED.");
			sb_quoted(&b, pg, t->cols[s->col[i]].name);
		}
		cp_buf_add(&b, " WHERE ");
		row_of(&b, pg, s, t, key_idx, "cairn_t.");
		cp_buf_add(&b, " IS DISTINCT FROM ");
		row_of(&b, pg, s, t, key_idx, "EXCLUDED.");
	}
	cp_buf_add(&b, " RETURNING cairn_t.");
	sb_quoted(&b, pg, t->cols[key_idx].name);
	cp_buf_add(&b, " AS cairn_k, (cairn_t.xmax = 0) AS cairn_new) SELECT s.o, cairn_w.cairn_new "
		       "FROM cairn_w JOIN ");
	cp_buf_add(&b, s->stage);
	cp_buf_add(&b, " s ON ");
	stage_expr(&b, s, t, key_param);
	cp_buf_add(&b, " = cairn_w.cairn_k");
	if (b.oom) {
		cp_buf_free(&b);
		return NULL;
	}
	return b.p;
}

/* The staging table, the two COPY statements and the upsert's text for statement s. */
static int stmt_sql(struct pg_inst *pg, struct pg_stmt *s, const struct pg_table *t)
{
	struct cp_buf create = {0}, stage = {0}, direct = {0};

	cp_buf_addf(&create, "CREATE TEMP TABLE %s (o int4", s->stage);
	cp_buf_addf(&stage, "COPY %s (o", s->stage);
	cp_buf_addf(&direct, "COPY %s (", t->qname);
	for (size_t i = 0; i < s->n; i++) {
		const struct pg_col *col = &t->cols[s->col[i]];
		cp_buf_addf(&create, ", c%zu %s", i, s->enc[i] == PG_ENC_CAST ? "text" : col->type);
		cp_buf_addf(&stage, ", c%zu", i);
		cp_buf_add(&direct, i ? ", " : "");
		sb_quoted(&direct, pg, col->name);
	}
	/*
	 * Staged values are read once, by the upsert: toasting them compressed
	 * (pglz, a third of the server's time in a restore into a full target)
	 * would be work thrown away. EXTERNAL stores them uncompressed, and a
	 * row stays in its page up to the largest target PostgreSQL allows.
	 */
	cp_buf_add(&create, ") WITH (toast_tuple_target = 8160) ON COMMIT DROP");
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(t->cols[s->col[i]].typname, "name") != 0 || s->enc[i] == PG_ENC_CAST)
			cp_buf_addf(&create, "; ALTER TABLE %s ALTER c%zu SET STORAGE EXTERNAL",
				    s->stage, i);
	cp_buf_add(&stage, ") FROM STDIN (FORMAT binary)");
	cp_buf_add(&direct, ") FROM STDIN (FORMAT binary)");
	s->create_stage = create.oom ? NULL : create.p;
	s->copy_stage = stage.oom ? NULL : stage.p;
	s->copy_direct = direct.oom ? NULL : direct.p;
	if (create.oom)
		cp_buf_free(&create);
	if (stage.oom)
		cp_buf_free(&stage);
	if (direct.oom)
		cp_buf_free(&direct);
	s->insert_sql = upsert_sql(pg, s, t, 0);
	if (s->create_stage == NULL || s->copy_stage == NULL || s->copy_direct == NULL ||
	    s->insert_sql == NULL)
		return cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	return CAIRN_OK;
}

/* A statement for rec's column list (checked against the table), added to the table's list. */
static int stmt_build(struct pg_inst *pg, struct pg_table *t, const struct cairn_record *rec,
		      struct pg_stmt **out)
{
	struct pg_stmt *s;
	struct cairn_column key;
	int have_key_col, rc;

	rc = cp_record_columns_check(pg->host, rec, t->name, col_state, t, &have_key_col);
	if (rc != CAIRN_OK)
		return rc;
	s = calloc(1, sizeof *s);
	if (s == NULL)
		return cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	s->synthetic_key = !have_key_col;
	s->rec_names = cp_names_new(rec, s->synthetic_key, &s->n);
	s->col = s->rec_names ? calloc(s->n, sizeof *s->col) : NULL;
	s->enc = s->col ? calloc(s->n, sizeof *s->enc) : NULL;
	if (s->enc == NULL) {
		postgresql_stmt_free(s);
		return cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	}
	s->direct_ok = 1;
	for (size_t i = 0; i < s->n; i++) {
		find_col(t, s->rec_names[i], &s->col[i]);
		s->enc[i] = (unsigned char)enc_of(&t->cols[s->col[i]], param_col(s, rec, i, &key)->type);
		s->direct_ok &= s->enc[i] != PG_ENC_CAST;
	}
	++pg->seq;
	snprintf(s->name, sizeof s->name, "cairn_upsert_%u", pg->seq);
	snprintf(s->stage, sizeof s->stage, "pg_temp.cairn_stage_%u", pg->seq);
	rc = stmt_sql(pg, s, t);
	if (rc != CAIRN_OK) {
		postgresql_stmt_free(s);
		return rc;
	}
	s->next = t->stmt;
	t->stmt = s;
	*out = s;
	return CAIRN_OK;
}

/* libpq takes lengths as int, and binary COPY as 32-bit: room for jsonb's version byte. */
static int record_valid(struct pg_inst *pg, const struct cairn_record *rec)
{
	return cp_record_valid(pg->host, rec, 0x7ffffffe, CP_RECORD_NO_NUL);
}

/* ---- binary COPY FROM STDIN ------------------------------------------- */

static int copy_flush(struct pg_inst *pg)
{
	int ok = pg->scratch.len == 0 ||
		 PQputCopyData(pg->conn, pg->scratch.p, (int)pg->scratch.len) == 1;

	cp_buf_reset(&pg->scratch);
	return ok ? 0 : -1;
}

/* Appends bytes to the COPY stream: small ones gathered, large ones sent from where they are. */
static int copy_put(struct pg_inst *pg, const char *p, size_t len)
{
	if (len >= PG_COPY_CHUNK / 4) {
		if (copy_flush(pg) != 0)
			return -1;
		for (size_t off = 0; off < len; off += PG_COPY_CHUNK) {
			size_t n = len - off < PG_COPY_CHUNK ? len - off : PG_COPY_CHUNK;
			if (PQputCopyData(pg->conn, p + off, (int)n) != 1)
				return -1;
		}
		return 0;
	}
	cp_buf_addn(&pg->scratch, p, len);
	if (pg->scratch.oom)
		return -1;
	return pg->scratch.len >= PG_COPY_CHUNK ? copy_flush(pg) : 0;
}

static int copy_put32(struct pg_inst *pg, uint32_t v)
{
	char b[4] = {(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};

	return copy_put(pg, b, 4);
}

static int copy_put16(struct pg_inst *pg, uint16_t v)
{
	char b[2] = {(char)(v >> 8), (char)v};

	return copy_put(pg, b, 2);
}

/* One record as a binary COPY tuple: [the ordinal,] then each parameter. */
static int copy_tuple(struct pg_inst *pg, const struct pg_stmt *s, const struct cairn_record *rec,
		      int with_ord, uint32_t ord)
{
	struct cairn_column key;
	int rc = copy_put16(pg, (uint16_t)(s->n + (with_ord ? 1 : 0)));

	if (rc == 0 && with_ord)
		rc = copy_put32(pg, 4);
	if (rc == 0 && with_ord)
		rc = copy_put32(pg, ord);
	for (size_t i = 0; i < s->n && rc == 0; i++) {
		const struct cairn_column *c = param_col(s, rec, i, &key);
		if (c->type == CAIRN_COL_NULL) {
			rc = copy_put32(pg, 0xffffffffu);
			continue;
		}
		int jsonb = s->enc[i] == PG_ENC_JSONB;
		rc = copy_put32(pg, (uint32_t)c->len + (jsonb ? 1 : 0));
		if (rc == 0 && jsonb)
			rc = copy_put(pg, "\1", 1);
		if (rc == 0 && c->len > 0)
			rc = copy_put(pg, c->data, c->len);
	}
	return rc;
}

/*
 * The record a COPY error is about: its context reads "COPY <table>, line
 * N[, column …]" with N counted from 1 per tuple. -1 when it does not say.
 */
static long copy_error_line(const PGresult *res)
{
	const char *ctx = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
	const char *p = ctx ? strstr(ctx, "COPY ") : NULL;
	char *end;
	long n;

	p = p ? strstr(p, ", line ") : NULL;
	if (p == NULL)
		return -1;
	n = strtol(p + 7, &end, 10);
	return end != p + 7 && n > 0 ? n - 1 : -1;
}

/* A failed write: the record's key when known, else the run's first and last keys. */
static int write_error(struct pg_inst *pg, const PGresult *res, const struct pg_table *t,
		       const struct cairn_record *const *recs, size_t n, long which)
{
	char what[1600];

	if (which >= 0 && (size_t)which < n)
		snprintf(what, sizeof what, "unable to write record '%.700s' into table '%s'",
			 recs[which]->key, t->name);
	else if (n == 1)
		snprintf(what, sizeof what, "unable to write record '%.700s' into table '%s'",
			 recs[0]->key, t->name);
	else
		snprintf(what, sizeof what,
			 "unable to write one of the %zu records '%.600s' … '%.600s' into table '%s'",
			 n, recs[0]->key, recs[n - 1]->key, t->name);
	return postgresql_result_error(pg, res, what, NULL);
}

/*
 * COPYs the run with statement `sql` (one of s's). Returns the COPY's
 * result (COMMAND_OK or the server's error) for the caller to judge, or
 * NULL when the connection failed (reported).
 */
static PGresult *copy_run(struct pg_inst *pg, const char *sql, const struct pg_stmt *s,
			  const struct pg_table *t, const struct cairn_record *const *recs,
			  size_t n, int with_ord)
{
	static const char header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0";
	PGresult *res = PQexec(pg->conn, sql), *last = NULL;
	int rc = 0;

	if (res == NULL || PQresultStatus(res) != PGRES_COPY_IN)
		return res;
	PQclear(res);
	cp_buf_reset(&pg->scratch);
	rc = copy_put(pg, header, sizeof header);
	for (size_t k = 0; k < n && rc == 0; k++)
		rc = copy_tuple(pg, s, recs[k], with_ord, (uint32_t)k);
	if (rc == 0)
		rc = copy_put16(pg, 0xffffu);
	if (rc == 0)
		rc = copy_flush(pg);
	cp_buf_reset(&pg->scratch);
	if (PQputCopyEnd(pg->conn, rc == 0 ? NULL : "cairn could not send the records") != 1) {
		write_error(pg, NULL, t, recs, n, -1);
		return NULL;
	}
	while ((res = PQgetResult(pg->conn)) != NULL) {
		if (last == NULL || PQresultStatus(last) == PGRES_COMMAND_OK) {
			PQclear(last);
			last = res;
		} else {
			PQclear(res);
		}
		if (PQstatus(pg->conn) == CONNECTION_BAD)
			break;
	}
	if (last == NULL)
		write_error(pg, NULL, t, recs, n, -1);
	return last;
}

/* "RELEASE SAVEPOINT …; " when the last batch's savepoint is still open, then sql. */
static int exec_after_release(struct pg_inst *pg, const char *sql, const struct pg_table *t)
{
	struct cp_buf b = {0};
	int rc;

	if (pg->sp_open)
		cp_buf_add(&b, "RELEASE SAVEPOINT " PG_SAVEPOINT "; ");
	cp_buf_add(&b, sql);
	if (b.oom) {
		cp_buf_free(&b);
		return cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	}
	pg->sp_open = 0;
	PGresult *res = PQexec(pg->conn, b.p);
	cp_buf_free(&b);
	rc = CAIRN_OK;
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = postgresql_result_error(pg, res, "unable to write into table", t->name);
	PQclear(res);
	return rc;
}

/*
 * May this table take COPY straight in? Empty now, a plain or partitioned
 * table, no row security (COPY refuses it), no enabled user trigger (a
 * BEFORE INSERT trigger could skip a row COPY would call NEW) and no
 * INSERT rule (COPY ignores rules).
 */
static int table_direct(struct pg_inst *pg, struct pg_table *t)
{
	struct cp_buf sql = {0};
	const char *params[2] = {pg->schema, t->name};
	PGresult *res;
	int rc = CAIRN_OK;

	cp_buf_add(&sql, "SELECT NOT EXISTS (SELECT 1 FROM ");
	cp_buf_add(&sql, t->qname);
	cp_buf_add(&sql, ") AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity "
			 "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid "
			 "  AND NOT g.tgisinternal AND g.tgenabled <> 'D') "
			 "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid "
			 "  AND r.ev_type = '3') "
			 "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
			 "WHERE n.nspname = $1 AND c.relname = $2");
	if (sql.oom)
		return cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	res = PQexecParams(pg->conn, sql.p, 2, NULL, params, NULL, NULL, 0);
	cp_buf_free(&sql);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		rc = postgresql_result_error(pg, res, "unable to look into table", t->name);
	else
		t->direct = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return rc;
}

/* A unique violation of a direct COPY: undo the batch, let the upsert take it. */
#define PG_RETRY_UPSERT 1

static int run_direct(struct pg_inst *pg, struct pg_table *t, const struct pg_stmt *s,
		      const struct cairn_record *const *recs, size_t n, int *outcomes)
{
	int rc = exec_after_release(pg, "SAVEPOINT " PG_SAVEPOINT, t);
	PGresult *res;

	if (rc != CAIRN_OK)
		return rc;
	pg->sp_open = 1;
	res = copy_run(pg, s->copy_direct, s, t, recs, n, 0);
	if (res == NULL)
		return CAIRN_E_CONNECT;
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		for (size_t k = 0; k < n; k++)
			outcomes[k] = CAIRN_WRITE_NEW;
		return CAIRN_OK;
	}
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state != NULL && strcmp(state, "23505") == 0 && PQstatus(pg->conn) == CONNECTION_OK) {
		PQclear(res);
		rc = postgresql_exec_ok(pg, "ROLLBACK TO SAVEPOINT " PG_SAVEPOINT "; "
					    "RELEASE SAVEPOINT " PG_SAVEPOINT,
					"unable to roll back a batch of table");
		if (rc != CAIRN_OK)
			return rc;
		pg->sp_open = 0;
		pg->tx_failed = 0;
		CAIRN_LOG_DEBUG(pg->host, PG_NAME,
				"table '%s' already holds a key of this batch: upserting from now on",
				t->name);
		return PG_RETRY_UPSERT;
	}
	rc = write_error(pg, res, t, recs, n, copy_error_line(res));
	PQclear(res);
	return rc;
}

/*
 * The upsert failed: find the record. Back to the savepoint (the staged
 * rows are older, so they stay), then the same upsert one record at a
 * time; the first that fails is reported. If none fails alone, the batch's
 * error is reported with its first and last keys.
 */
static int attribute_failure(struct pg_inst *pg, struct pg_table *t, const struct pg_stmt *s,
			     const struct cairn_record *const *recs, size_t n, PGresult *failed)
{
	const char *state = failed ? PQresultErrorField(failed, PG_DIAG_SQLSTATE) : NULL;
	char *single = NULL;
	PGresult *res;
	int rc;

	/* a lost connection or a transient failure is about the batch, not one record */
	if (PQstatus(pg->conn) == CONNECTION_OK && n > 1 &&
	    !(state != NULL && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))) {
		res = PQexec(pg->conn, "ROLLBACK TO SAVEPOINT " PG_SAVEPOINT);
		if (res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK)
			single = upsert_sql(pg, s, t, 1);
		PQclear(res);
	}
	for (size_t k = 0; single != NULL && k < n; k++) {
		char ord[24];
		const char *params[1] = {ord};
		snprintf(ord, sizeof ord, "%zu", k);
		res = PQexecParams(pg->conn, single, 1, NULL, params, NULL, NULL, 0);
		if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
			rc = write_error(pg, res, t, recs, n, (long)k);
			PQclear(res);
			free(single);
			return rc;
		}
		PQclear(res);
	}
	free(single);
	rc = write_error(pg, failed, t, recs, n, n == 1 ? 0 : -1);
	pg->tx_failed = 1;
	return rc;
}

static int run_upsert(struct pg_inst *pg, struct pg_table *t, struct pg_stmt *s,
		      const struct cairn_record *const *recs, size_t n, int *outcomes)
{
	char sql[96];
	PGresult *res;
	int rc;

	/* The staging table lives until the transaction ends; emptied in place for each batch. */
	if (!s->staged) {
		rc = exec_after_release(pg, s->create_stage, t);
		if (rc != CAIRN_OK)
			return rc;
		s->staged = 1;
		res = PQprepare(pg->conn, s->name, s->insert_sql, 0, NULL);
		if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
			rc = postgresql_result_error(pg, res, "unable to prepare the upsert into table",
						     t->name);
			PQclear(res);
			return rc;
		}
		PQclear(res);
		s->prepared = 1;
	} else {
		snprintf(sql, sizeof sql, "TRUNCATE %s", s->stage);
		rc = exec_after_release(pg, sql, t);
		if (rc != CAIRN_OK)
			return rc;
	}
	res = copy_run(pg, s->copy_stage, s, t, recs, n, 1);
	if (res == NULL)
		return CAIRN_E_CONNECT;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = write_error(pg, res, t, recs, n, copy_error_line(res));
		PQclear(res);
		return rc;
	}
	PQclear(res);
	rc = postgresql_exec_ok(pg, "SAVEPOINT " PG_SAVEPOINT, "unable to write into table");
	if (rc != CAIRN_OK)
		return rc;
	pg->sp_open = 1;
	res = PQexecPrepared(pg->conn, s->name, 0, NULL, NULL, NULL, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = attribute_failure(pg, t, s, recs, n, res);
		PQclear(res);
		return rc;
	}
	for (size_t k = 0; k < n; k++)
		outcomes[k] = 0;
	for (int r = 0; r < PQntuples(res); r++) {
		char *end;
		long k = strtol(PQgetvalue(res, r, 0), &end, 10);
		if (*end != '\0' || k < 0 || (size_t)k >= n || outcomes[k] != 0) {
			PQclear(res);
			pg->tx_failed = 1;
			return cp_fail(pg->host, CAIRN_E_BACKEND,
				       "unexpected result of the upsert into table '%s'", t->name);
		}
		outcomes[k] = strcmp(PQgetvalue(res, r, 1), "t") == 0 ? CAIRN_WRITE_NEW
									: CAIRN_WRITE_CHANGED;
	}
	PQclear(res);
	for (size_t k = 0; k < n; k++)
		if (outcomes[k] == 0)
			outcomes[k] = CAIRN_WRITE_UNCHANGED;
	return CAIRN_OK;
}

static int run_write(struct pg_inst *pg, struct pg_table *t, struct pg_stmt *s,
		     const struct cairn_record *const *recs, size_t n, int *outcomes)
{
	int rc;

	if (t->direct < 0) {
		rc = table_direct(pg, t);
		if (rc != CAIRN_OK)
			return rc;
	}
	if (t->direct == 1 && s->direct_ok) {
		rc = run_direct(pg, t, s, recs, n, outcomes);
		if (rc != PG_RETRY_UPSERT)
			return rc;
		t->direct = 0;
	}
	return run_upsert(pg, t, s, recs, n, outcomes);
}

/* FNV-1a: the duplicate-key table's hash. */
static size_t key_hash(const char *k)
{
	uint64_t h = 1469598103934665603u;

	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211u;
	return (size_t)h;
}

/*
 * Adds recs[i]'s key to the run's set (recs[0..i) were added before);
 * 1 when it is already there, so that the run must end before it: one
 * upsert cannot touch a row twice, and the record's outcome depends on the
 * one before it.
 */
static int key_seen(struct pg_inst *pg, const struct cairn_record *const *recs, size_t i)
{
	size_t h = key_hash(recs[i]->key) & (PG_DUP_SLOTS - 1);

	for (; pg->dup[h] != 0; h = (h + 1) & (PG_DUP_SLOTS - 1))
		if (strcmp(recs[pg->dup[h] - 1]->key, recs[i]->key) == 0)
			return 1;
	pg->dup[h] = (unsigned)i + 1;
	return 0;
}

static size_t rec_bytes(const struct cairn_record *rec)
{
	size_t b = 0;

	for (size_t i = 0; i < rec->n_columns; i++)
		b += rec->columns[i].len;
	return b;
}

int postgresql_restore_write_batch(void *inst, const struct cairn_kind_desc *kind,
				   const struct cairn_record *const *recs, size_t n, int *outcomes)
{
	struct pg_inst *pg = inst;
	struct pg_table *t;
	struct pg_stmt *s;
	int rc;

	if (pg == NULL || kind == NULL || recs == NULL || outcomes == NULL)
		return CAIRN_E_INVALID;
	rc = cp_tx_expect(pg->host, pg->tx, CP_TX_RESTORE);
	if (rc != CAIRN_OK)
		return rc;
	if (pg->dup == NULL) {
		pg->dup = calloc(PG_DUP_SLOTS, sizeof *pg->dup);
		if (pg->dup == NULL)
			return cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	}
	size_t i = 0;
	while (i < n) {
		rc = cp_check_cancelled(pg->host);
		if (rc == CAIRN_OK)
			rc = record_valid(pg, recs[i]);
		if (rc == CAIRN_OK)
			rc = table_get(pg, kind, &t);
		if (rc == CAIRN_OK)
			rc = cp_table_key_check(pg->host, t->name, t->has_key);
		if (rc != CAIRN_OK)
			return rc;
		for (s = t->stmt; s != NULL && !stmt_fits(s, t, recs[i]); s = s->next)
			;
		if (s == NULL) {
			rc = stmt_build(pg, t, recs[i], &s);
			if (rc != CAIRN_OK)
				return rc;
		}
		/*
		 * The run: records that fit this statement, with distinct keys, up
		 * to PG_DUP_SLOTS / 2 of them and PG_RUN_BYTES of values.
		 */
		memset(pg->dup, 0, PG_DUP_SLOTS * sizeof *pg->dup);
		key_seen(pg, recs + i, 0);
		size_t j = i + 1, bytes = rec_bytes(recs[i]);
		while (j < n && j - i < PG_DUP_SLOTS / 2 && bytes < PG_RUN_BYTES &&
		       stmt_fits(s, t, recs[j])) {
			rc = record_valid(pg, recs[j]);
			if (rc != CAIRN_OK)
				return rc;
			if (key_seen(pg, recs + i, j - i))
				break;
			bytes += rec_bytes(recs[j]);
			j++;
		}
		rc = run_write(pg, t, s, recs + i, j - i, outcomes + i);
		if (rc != CAIRN_OK) {
			pg->tx_failed = 1;
			return rc;
		}
		i = j;
	}
	return CAIRN_OK;
}

int postgresql_restore_write(void *inst, const struct cairn_kind_desc *kind,
			     const struct cairn_record *rec, int *outcome)
{
	if (rec == NULL)
		return CAIRN_E_INVALID;
	return postgresql_restore_write_batch(inst, kind, &rec, 1, outcome);
}

/* cp_tx_end_fn: ends the restore transaction on the server. */
static int tx_end(void *inst, int commit)
{
	struct pg_inst *pg = inst;
	PGresult *res = PQexec(pg->conn, commit ? "COMMIT" : "ROLLBACK");
	int rc = CAIRN_OK;

	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = postgresql_result_error(pg, res, commit ? "unable to commit the restore"
							     : "unable to roll back the restore",
					     NULL);
	else if (commit && strcmp(PQcmdStatus(res), "COMMIT") != 0)
		/* COMMIT of an aborted transaction "succeeds" as ROLLBACK. */
		rc = cp_fail(pg->host, CAIRN_E_BACKEND,
			     "the restore transaction was rolled back by the server");
	PQclear(res);
	return rc;
}

int postgresql_restore_commit(void *inst)
{
	struct pg_inst *pg = inst;
	int rc;

	if (pg == NULL)
		return CAIRN_E_INVALID;
	rc = cp_tx_expect(pg->host, pg->tx, CP_TX_RESTORE);
	if (rc != CAIRN_OK)
		return rc;
	rc = cp_restore_commit(pg->host, &pg->tx, &pg->tx_failed, pg->dry_run, tx_end, pg);
	postgresql_restore_reset(pg);
	return rc;
}

int postgresql_restore_rollback(void *inst)
{
	struct pg_inst *pg = inst;
	int rc;

	if (pg == NULL)
		return CAIRN_E_INVALID;
	rc = cp_restore_rollback(&pg->tx, &pg->tx_failed, tx_end, pg);
	postgresql_restore_reset(pg);
	return rc;
}
