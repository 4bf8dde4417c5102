/*
 * postgresql_restore.c — the restore half: one read-committed transaction,
 * one prepared upsert per table, outcomes from the upsert itself.
 *
 * The upsert only updates a row whose real columns differ (JSONB compared
 * as JSONB, so formatting is not a change) and returns (xmax = 0): a row
 * with true was inserted, a row with false was updated, no row means the
 * stored row was already equal. A dry run does the same work and rolls
 * back, so its outcomes are exact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgresql.h"
#include "plugin_buf.h"

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

static void stmt_free(struct pg_stmt *s)
{
	if (s == NULL)
		return;
	cp_names_free(s->rec_names, s->n);
	free(s->col);
	free(s);
}

/*
 * Forgets the tables and statements of the last restore. Prepared
 * statements outlive transactions, so they are deallocated once the
 * transaction is over and the connection is usable.
 */
void postgresql_restore_reset(struct pg_inst *pg)
{
	struct pg_table *t = pg->tables, *next;

	for (; t != NULL; t = next) {
		next = t->next;
		if (t->stmt != NULL && pg->conn != NULL && pg->tx == CP_TX_NONE &&
		    PQstatus(pg->conn) == CONNECTION_OK) {
			char sql[64];
			PGresult *res;
			snprintf(sql, sizeof sql, "DEALLOCATE %s", t->stmt->name);
			res = PQexec(pg->conn, sql);
			PQclear(res);
		}
		postgresql_table_free(t);
	}
	pg->tables = NULL;
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

/* Does the prepared statement fit this record's column list? */
static int stmt_matches(const struct pg_stmt *s, const struct cairn_record *rec)
{
	return cp_names_match(s->rec_names, s->n, s->synthetic_key, rec);
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

/* Compares a column in the DO UPDATE's WHERE; json and xml have no equality operator. */
static void compare_expr(struct cp_buf *b, struct pg_inst *pg, const char *prefix,
			 const struct pg_col *col)
{
	cp_buf_add(b, prefix);
	sb_quoted(b, pg, col->name);
	if (strcmp(col->typname, "json") == 0 || strcmp(col->typname, "xml") == 0)
		cp_buf_add(b, "::text");
}

static int stmt_build(struct pg_inst *pg, struct pg_table *t, const struct cairn_record *rec)
{
	struct pg_stmt *s;
	struct cp_buf sql = {0};
	size_t key_idx = 0, n_set = 0;
	int have_key_col, rc;
	char num[24];
	PGresult *res;

	rc = cp_record_columns_check(pg->host, rec, t->name, col_state, t, &have_key_col);
	if (rc != CAIRN_OK)
		return rc;
	find_col(t, "key", &key_idx);

	s = calloc(1, sizeof *s);
	if (s == NULL)
		return cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	s->synthetic_key = !have_key_col;
	s->rec_names = cp_names_new(rec, s->synthetic_key, &s->n);
	s->col = s->rec_names ? calloc(s->n, sizeof *s->col) : NULL;
	if (s->col == NULL) {
		stmt_free(s);
		return cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < s->n; i++)
		find_col(t, s->rec_names[i], &s->col[i]);
	snprintf(s->name, sizeof s->name, "cairn_upsert_%u", ++pg->seq);

	cp_buf_add(&sql, "INSERT INTO ");
	cp_buf_add(&sql, t->qname);
	cp_buf_add(&sql, " AS cairn_t (");
	for (size_t i = 0; i < s->n; i++) {
		if (i > 0)
			cp_buf_add(&sql, ", ");
		sb_quoted(&sql, pg, t->cols[s->col[i]].name);
	}
	cp_buf_add(&sql, ") VALUES (");
	for (size_t i = 0; i < s->n; i++) {
		snprintf(num, sizeof num, "%s$%zu::", i > 0 ? ", " : "", i + 1);
		cp_buf_add(&sql, num);
		cp_buf_add(&sql, t->cols[s->col[i]].type);
	}
	cp_buf_add(&sql, ") ON CONFLICT (");
	sb_quoted(&sql, pg, t->cols[key_idx].name);
	cp_buf_add(&sql, ") DO ");
	for (size_t i = 0; i < s->n; i++) {
		if (s->col[i] == key_idx)
			continue;
		cp_buf_add(&sql, n_set++ == 0 ? "UPDATE SET " : ", ");
		sb_quoted(&sql, pg, t->cols[s->col[i]].name);
		cp_buf_add(&sql, " = EXCLUDED.");
		sb_quoted(&sql, pg, t->cols[s->col[i]].name);
	}
	if (n_set == 0) {
		cp_buf_add(&sql, "NOTHING");
	} else {
		cp_buf_add(&sql, " WHERE ROW(");
		for (size_t i = 0, k = 0; i < s->n; i++) {
			if (s->col[i] == key_idx)
				continue;
			compare_expr(&sql, pg, k++ ? ", cairn_t." : "cairn_t.", &t->cols[s->col[i]]);
		}
		cp_buf_add(&sql, ") IS DISTINCT FROM ROW(");
		for (size_t i = 0, k = 0; i < s->n; i++) {
			if (s->col[i] == key_idx)
				continue;
			compare_expr(&sql, pg, k++ ? ", EXCLUDED." : "EXCLUDED.", &t->cols[s->col[i]]);
		}
		cp_buf_add(&sql, ")");
	}
	cp_buf_add(&sql, " RETURNING (cairn_t.xmax = 0)");
	if (sql.oom) {
		cp_buf_free(&sql);
		stmt_free(s);
		return cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	}
	res = PQprepare(pg->conn, s->name, sql.p, (int)s->n, NULL);
	cp_buf_free(&sql);
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = postgresql_result_error(pg, res, "unable to prepare the upsert into table",
					     t->name);
		PQclear(res);
		stmt_free(s);
		return rc;
	}
	PQclear(res);
	if (t->stmt != NULL) {
		/* A new column list: the old statement goes (DEALLOCATE is allowed in a transaction). */
		char dsql[64];
		snprintf(dsql, sizeof dsql, "DEALLOCATE %s", t->stmt->name);
		res = PQexec(pg->conn, dsql);
		PQclear(res);
		stmt_free(t->stmt);
	}
	t->stmt = s;
	return CAIRN_OK;
}

static int params_reserve(struct pg_inst *pg, size_t n, size_t bytes)
{
	if (n > pg->pcap) {
		const char **v = realloc(pg->pvals, n * sizeof *v);
		int *l, *f;
		if (v == NULL)
			return -1;
		pg->pvals = v;
		l = realloc(pg->plens, n * sizeof *l);
		if (l == NULL)
			return -1;
		pg->plens = l;
		f = realloc(pg->pfmts, n * sizeof *f);
		if (f == NULL)
			return -1;
		pg->pfmts = f;
		pg->pcap = n;
	}
	cp_buf_reset(&pg->scratch);
	return cp_buf_reserve(&pg->scratch, bytes);
}

/* libpq takes text parameters NUL-terminated and lengths as int. */
static int record_valid(struct pg_inst *pg, const struct cairn_record *rec)
{
	return cp_record_valid(pg->host, rec, 0x7fffffff, CP_RECORD_NO_NUL);
}

/* Fill pg->pvals/plens/pfmts for one record with statement s. */
static int params_fill(struct pg_inst *pg, const struct pg_stmt *s, const struct cairn_record *rec)
{
	size_t bytes = 0, off = 0;
	for (size_t i = 0; i < rec->n_columns; i++)
		if (rec->columns[i].type != CAIRN_COL_NULL && rec->columns[i].type != CAIRN_COL_BYTES)
			bytes += rec->columns[i].len + 1;
	if (params_reserve(pg, s->n, bytes ? bytes : 1) != 0)
		return cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	for (size_t i = 0; i < s->n; i++) {
		const struct cairn_column *c;
		pg->pfmts[i] = 0;
		pg->plens[i] = 0;
		if (s->synthetic_key && i == 0) {
			pg->pvals[i] = rec->key;
			continue;
		}
		c = &rec->columns[i - (s->synthetic_key ? 1 : 0)];
		if (c->type == CAIRN_COL_NULL) {
			pg->pvals[i] = NULL;
		} else if (c->type == CAIRN_COL_BYTES) {
			pg->pvals[i] = c->len ? c->data : "";
			pg->plens[i] = (int)c->len;
			pg->pfmts[i] = 1;
		} else {
			/* libpq wants text parameters NUL-terminated; records carry lengths. */
			if (c->len > 0)
				memcpy(pg->scratch.p + off, c->data, c->len);
			pg->scratch.p[off + c->len] = '\0';
			pg->pvals[i] = pg->scratch.p + off;
			off += c->len + 1;
		}
	}
	return CAIRN_OK;
}

/* The upsert's RETURNING row tells the outcome (see stmt_build). */
static int outcome_of(const PGresult *res)
{
	if (PQntuples(res) == 0)
		return CAIRN_WRITE_UNCHANGED;
	return strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? CAIRN_WRITE_NEW : CAIRN_WRITE_CHANGED;
}

/*
 * Records per pipeline sync. Results are not read until the sync, so the
 * server's answers must fit in the socket buffers meanwhile: a few hundred
 * one-row results do, comfortably.
 */
#define PG_PIPELINE_DEPTH 256

/* One pipeline of n records, all matching statement s. */
static int pipeline_run(struct pg_inst *pg, struct pg_table *t, const struct cairn_record *const *recs,
			size_t n, int *outcomes)
{
	const struct pg_stmt *s = t->stmt;
	int rc = CAIRN_OK;
	size_t sent = 0;
	if (PQenterPipelineMode(pg->conn) != 1)
		return cp_fail(pg->host, CAIRN_E_BACKEND, "unable to enter pipeline mode: %s",
			       PQerrorMessage(pg->conn));
	for (; sent < n && rc == CAIRN_OK; sent++) {
		rc = params_fill(pg, s, recs[sent]);
		if (rc == CAIRN_OK &&
		    PQsendQueryPrepared(pg->conn, s->name, (int)s->n, pg->pvals, pg->plens, pg->pfmts, 0) != 1)
			rc = postgresql_result_error(pg, NULL, "unable to send a record", NULL);
	}
	int synced = PQpipelineSync(pg->conn) == 1;
	if (!synced && rc == CAIRN_OK)
		rc = postgresql_result_error(pg, NULL, "unable to send a record", NULL);
	/*
	 * Read every result up to the sync, even after a failure, to leave
	 * pipeline mode. Each query's results end with one NULL; more NULLs in
	 * a row than queries means the sync will never come.
	 */
	size_t i = 0, nulls = 0;
	while (synced) {
		PGresult *res = PQgetResult(pg->conn);
		if (res == NULL) {
			if (PQstatus(pg->conn) != CONNECTION_OK || ++nulls > sent + 1) {
				if (rc == CAIRN_OK)
					rc = postgresql_result_error(pg, NULL, "connection lost during restore", NULL);
				break;
			}
			continue;
		}
		nulls = 0;
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			break;
		}
		if (st == PGRES_TUPLES_OK && i < sent) {
			outcomes[i] = outcome_of(res);
		} else if (st != PGRES_PIPELINE_ABORTED && rc == CAIRN_OK) {
			char what[900];
			snprintf(what, sizeof what, "unable to write record '%.700s' into table '%s'",
				 i < sent ? recs[i]->key : "?", t->name);
			rc = postgresql_result_error(pg, res, what, NULL);
		}
		i++;
		PQclear(res);
	}
	if (PQexitPipelineMode(pg->conn) != 1 && rc == CAIRN_OK)
		rc = cp_fail(pg->host, CAIRN_E_BACKEND, "unable to leave pipeline mode: %s",
			     PQerrorMessage(pg->conn));
	if (rc != CAIRN_OK)
		pg->tx_failed = 1;
	return rc;
}

int postgresql_restore_write_batch(void *inst, const struct cairn_kind_desc *kind,
				   const struct cairn_record *const *recs, size_t n, int *outcomes)
{
	struct pg_inst *pg = inst;
	struct pg_table *t;
	int rc;

	if (pg == NULL || kind == NULL || recs == NULL || outcomes == NULL)
		return CAIRN_E_INVALID;
	rc = cp_tx_expect(pg->host, pg->tx, CP_TX_RESTORE);
	if (rc != CAIRN_OK)
		return rc;
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
		/* the statement is prepared (synchronously) before the pipeline starts */
		if (t->stmt == NULL || !stmt_matches(t->stmt, recs[i])) {
			rc = stmt_build(pg, t, recs[i]);
			if (rc != CAIRN_OK)
				return rc;
		}
		/* the run of records that share this column list, up to one pipeline */
		size_t j = i + 1;
		while (j < n && j - i < PG_PIPELINE_DEPTH && stmt_matches(t->stmt, recs[j])) {
			rc = record_valid(pg, recs[j]);
			if (rc != CAIRN_OK)
				return rc;
			j++;
		}
		rc = pipeline_run(pg, t, recs + i, j - i, outcomes + i);
		if (rc != CAIRN_OK)
			return rc;
		i = j;
	}
	return CAIRN_OK;
}

int postgresql_restore_write(void *inst, const struct cairn_kind_desc *kind,
			     const struct cairn_record *rec, int *outcome)
{
	struct pg_inst *pg = inst;
	struct pg_table *t;
	struct pg_stmt *s;
	PGresult *res;
	int rc;

	if (pg == NULL || kind == NULL || rec == NULL || outcome == NULL)
		return CAIRN_E_INVALID;
	rc = cp_tx_expect(pg->host, pg->tx, CP_TX_RESTORE);
	if (rc == CAIRN_OK)
		rc = cp_check_cancelled(pg->host);
	if (rc == CAIRN_OK)
		rc = record_valid(pg, rec);
	if (rc == CAIRN_OK)
		rc = table_get(pg, kind, &t);
	if (rc == CAIRN_OK)
		rc = cp_table_key_check(pg->host, t->name, t->has_key);
	if (rc != CAIRN_OK)
		return rc;
	if (t->stmt == NULL || !stmt_matches(t->stmt, rec)) {
		rc = stmt_build(pg, t, rec);
		if (rc != CAIRN_OK)
			return rc;
	}
	s = t->stmt;
	rc = params_fill(pg, s, rec);
	if (rc != CAIRN_OK)
		return rc;
	res = PQexecPrepared(pg->conn, s->name, (int)s->n, pg->pvals, pg->plens, pg->pfmts, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		char what[900];
		snprintf(what, sizeof what, "unable to write record '%.700s' into table '%s'",
			 rec->key, t->name);
		rc = postgresql_result_error(pg, res, what, NULL);
		PQclear(res);
		return rc;
	}
	*outcome = outcome_of(res);
	PQclear(res);
	return CAIRN_OK;
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
