/*
 * mysql_restore.c — the restore half: one read-committed transaction in
 * which every record's outcome (NEW / CHANGED / UNCHANGED, which the vtable
 * must report) is exact, and only NEW and CHANGED records are written.
 *
 * Records arrive in chunks (restore_write_batch, ABI 1.1; restore_write is a
 * chunk of one) of up to MY_CHUNK_MAX records sharing a column list, sized
 * by bytes under the server's max_allowed_packet. Each chunk costs one or a
 * few set-based statements, prepared once per table, column list and number
 * of rows and kept for the next chunk of the same size.
 *
 * Why this shape (measured, bench/RESULTS.md "MariaDB restore: where the
 * time goes"): the old per-chunk UNION of point look-ups cost as much as the
 * inserts themselves into an *empty* table (41 800 sub-SELECTs parsed and
 * optimised per 20 000 flows, not one row found) and sent every value twice;
 * into a full table JSON_NORMALIZE of both sides was a third of the server's
 * time although the texts were byte-identical. COMMIT (InnoDB filling the
 * FULLTEXT indexes) and the rows themselves are the same for any client.
 *
 * 1. Optimistic insert. Every table starts with a plain multi-row
 *    INSERT … VALUES (…), (…) — no look-up, no ON DUPLICATE KEY UPDATE. If
 *    it succeeds no key existed: every record is NEW, exactly, and each
 *    value crossed the wire once (an empty target, or one holding other
 *    keys, is the common case of a restore). If a key exists the statement
 *    fails with ER_DUP_ENTRY, InnoDB undoes that statement alone (not the
 *    transaction), and the table switches to look-ups for the rest of the
 *    restore: at most one wasted chunk per table, and into a target that
 *    already holds the same rows the first row fails at once. This does
 *    the job of an "is the table empty?" test without trusting one: a row
 *    committed by someone else after such a test would be overwritten.
 *    LOAD DATA LOCAL INFILE was measured no faster here (the row and index
 *    work dominates, not the parsing) and turns strict-mode errors into
 *    warnings, so a too-long source_code would be truncated: not used.
 *    InnoDB's bulk insert into an empty table (unique_checks = 0) was 2–3x
 *    slower with Kestra's FULLTEXT indexes: not used either.
 *
 * 2. Look-up, one statement per chunk:
 *
 *      SELECT d.p, (<col1 equal>) AND …, t.`key`
 *      FROM (SELECT 0 AS p, ? AS c0, ? AS c1 … UNION ALL SELECT 1, ?, ? …) AS d
 *      STRAIGHT_JOIN t AS t ON t.`key` = d.cK FOR UPDATE
 *
 *    The chunk's values form a derived table that drives primary-key
 *    look-ups (STRAIGHT_JOIN: never a scan of the target probing the
 *    chunk). One row per existing record: none means NEW, 1 UNCHANGED, 0
 *    CHANGED. A staging table was measured a little cheaper only when it
 *    is not InnoDB (an InnoDB TEMPORARY table was 8x slower), and a
 *    non-transactional Aria table inside the transaction goes to a MIXED
 *    or STATEMENT binary log outside it, values and all; not worth it.
 *    FOR UPDATE locks the rows found until the end of the transaction, so
 *    CHANGED and UNCHANGED stay true. Under READ COMMITTED it locks no gap,
 *    so NEW is not taken on trust: the NEW records go in with a plain
 *    INSERT, whose success proves them new, and the CHANGED ones with
 *    INSERT … ON DUPLICATE KEY UPDATE. A duplicate key there (a writer
 *    inserted the key meanwhile, or two keys of the chunk are one under the
 *    collation) sends the chunk through record by record, which is exact.
 *
 * "Equal" means the same JSON value (JSON_NORMALIZE on MariaDB 10.7+, the
 * JSON type's own comparison on MySQL), the same bytes for text, the same
 * instant for timestamps (at the column's precision) and the same number
 * for integers; the bytes of a JSON value are compared first, which is
 * enough when they are equal (a restore of MariaDB's own backup) and spares
 * the normalisation. A dry run does the same work and rolls back, so its
 * outcomes are exact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mariadb/mysqld_error.h>

#include "mysql.h"

/* Records per statement, and their bytes: see restore_begin for the server's limit. */
#define MY_CHUNK_MAX 200
#define MY_CHUNK_BYTES (4u << 20)
/* Placeholders of one prepared statement: the protocol counts them in 16 bits. */
#define MY_PARAMS_MAX 65535u

static void prep_close(struct my_prep *pp)
{
	if (pp->st != NULL)
		mysql_stmt_close(pp->st);
	pp->st = NULL;
	pp->k = 0;
}

static void stmt_free(struct my_stmt *s)
{
	if (s == NULL)
		return;
	prep_close(&s->look);
	prep_close(&s->ins);
	prep_close(&s->ups);
	cp_names_free(s->rec_names, s->n);
	free(s->col);
	free(s->look_head);
	free(s->look_row);
	free(s->look_tail);
	free(s->ins_head);
	free(s->ins_row);
	free(s->ups_tail);
	free(s);
}

void mysql_plugin_restore_reset(struct my_inst *my)
{
	struct my_table *t = my->tables, *next;

	for (; t != NULL; t = next) {
		next = t->next;
		stmt_free(t->stmt);
		t->stmt = NULL;
		mysql_plugin_table_free(t);
	}
	my->tables = NULL;
}

static int table_get(struct my_inst *my, const struct cairn_kind_desc *kind,
		     struct my_table **out)
{
	struct my_table *t;
	int rc;

	rc = cp_kind_table(my->host, kind);
	if (rc != CAIRN_OK)
		return rc;
	for (t = my->tables; t != NULL; t = t->next)
		if (strcmp(t->name, kind->table) == 0)
			break;
	if (t == NULL) {
		rc = mysql_plugin_table_load(my, kind->table, &t);
		if (rc != CAIRN_OK)
			return rc;
		t->next = my->tables;
		my->tables = t;
	}
	if (!t->exists)
		return cp_fail(my->host, CAIRN_E_SCHEMA,
			       "table '%s' does not exist in database '%s'", kind->table,
			       my->database);
	*out = t;
	return CAIRN_OK;
}

/*
 * A chunk's statement travels in one packet, which the server refuses
 * beyond max_allowed_packet (16 MiB by default on MariaDB, 64 MiB on
 * MySQL 8, sometimes lowered): chunks stay at MY_CHUNK_BYTES or under the
 * limit less a margin for the protocol's per-value overhead.
 */
static int chunk_limit(struct my_inst *my)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	unsigned long long v = 0;

	if (mysql_real_query(my->conn, "SELECT @@max_allowed_packet", 27) != 0 ||
	    (res = mysql_store_result(my->conn)) == NULL)
		return mysql_plugin_conn_error(my, "unable to read max_allowed_packet", NULL);
	row = mysql_fetch_row(res);
	if (row != NULL && row[0] != NULL)
		v = strtoull(row[0], NULL, 10);
	mysql_free_result(res);
	my->chunk_bytes = MY_CHUNK_BYTES;
	if (v > 0 && v - v / 8 < my->chunk_bytes)
		my->chunk_bytes = (size_t)(v - v / 8);
	return CAIRN_OK;
}

int mysql_plugin_restore_begin(void *inst, const struct cairn_restore_opts *opts)
{
	struct my_inst *my = inst;
	int has_flyway, rc;

	if (my == NULL || opts == NULL)
		return CAIRN_E_INVALID;
	rc = cp_tx_expect(my->host, my->tx, CP_TX_NONE);
	if (rc != CAIRN_OK)
		return rc;
	mysql_plugin_restore_reset(my);
	/* The core compares the backup's schema version with describe()'s. */
	cp_restore_opts_read(opts, &my->dry_run, NULL, NULL);

	rc = mysql_plugin_kestra_check(my, &has_flyway);
	if (rc != CAIRN_OK)
		return rc;
	/* Writing needs Kestra's migrations to have run, not just a flows table. */
	if (!has_flyway)
		return cp_fail(my->host, CAIRN_E_SCHEMA,
			       "target database '%s' has no Kestra schema (no "
			       "flyway_schema_history table)", my->database);

	rc = chunk_limit(my);
	if (rc == CAIRN_OK)
		rc = mysql_plugin_exec(my, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
				       "unable to start the restore transaction");
	if (rc == CAIRN_OK)
		rc = mysql_plugin_exec(my, "START TRANSACTION READ WRITE",
				       "unable to start the restore transaction");
	if (rc != CAIRN_OK)
		return rc;
	my->tx = CP_TX_RESTORE;
	my->tx_failed = 0;
	return CAIRN_OK;
}

/*
 * restore_delete_scoped (ABI 1.2); restore_delete_scope is a thin wrapper,
 * so this is the one delete implementation. NONE deletes `(<tenant>) IS
 * NULL` only. On a table without a tenant expression ONE and NONE are both
 * refused (CAIRN_E_SCHEMA): NONE meaning "the whole table" would be the
 * unscoped --replace delete it exists to prevent (README.md).
 */
int mysql_plugin_restore_delete_scoped(void *inst, const struct cairn_kind_desc *kind,
				       const struct cairn_scope *in)
{
	struct my_inst *my = inst;
	struct cp_scope scope;
	struct cp_buf sql = {0};
	struct my_table *t;
	char what[300];
	int rc;

	if (my == NULL || kind == NULL)
		return CAIRN_E_INVALID;
	rc = cp_scope_read(my->host, in, &scope);
	if (rc == CAIRN_OK)
		rc = cp_tx_expect(my->host, my->tx, CP_TX_RESTORE);
	if (rc != CAIRN_OK)
		return rc;
	rc = table_get(my, kind, &t);
	if (rc != CAIRN_OK)
		return rc;
	rc = cp_scope_table_check(my->host, t->name, t->tenant_expr != NULL, &scope,
				  "its records cannot be selected");
	if (rc != CAIRN_OK)
		return rc;
	cp_scope_delete_sql(&sql, t->qname, &scope, t->tenant_expr, mysql_plugin_tenant_eq, my);
	if (sql.oom) {
		cp_buf_free(&sql);
		return cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
	}
	if (mysql_real_query(my->conn, sql.p, (unsigned long)sql.len) != 0) {
		cp_buf_free(&sql);
		return mysql_plugin_conn_error(my, "unable to delete from table", t->name);
	}
	cp_buf_free(&sql);
	cp_scope_describe(&scope, what, sizeof what);
	CAIRN_LOG_DEBUG(my->host, MY_NAME, "deleted %llu row(s) from '%s'%s",
			(unsigned long long)mysql_affected_rows(my->conn), t->name, what);
	return CAIRN_OK;
}

int mysql_plugin_restore_delete_scope(void *inst, const struct cairn_kind_desc *kind,
				      const char *tenant)
{
	struct cairn_scope s = cp_scope_of_tenant(tenant);

	return mysql_plugin_restore_delete_scoped(inst, kind, &s);
}

static int find_col(const struct my_table *t, const char *name, size_t *idx)
{
	for (size_t i = 0; i < t->n_cols; i++)
		if (strcmp(t->cols[i].name, name) == 0) {
			*idx = i;
			return 1;
		}
	return 0;
}

/* Does the statement fit this record's column list? */
static int stmt_matches(const struct my_stmt *s, const struct cairn_record *rec)
{
	return cp_names_match(s->rec_names, s->n, s->synthetic_key, rec);
}

/* cp_record_columns_check's view of a table. */
static int col_state(const void *table, const char *name)
{
	const struct my_table *t = table;
	size_t idx;

	if (!find_col(t, name, &idx))
		return CP_COL_MISSING;
	return t->cols[idx].generated ? CP_COL_GENERATED : CP_COL_REAL;
}

static int is_string_type(const char *dt)
{
	static const char *const types[] = {"char", "varchar", "tinytext", "text",
					    "mediumtext", "longtext", NULL};
	for (int i = 0; types[i] != NULL; i++)
		if (strcmp(dt, types[i]) == 0)
			return 1;
	return 0;
}

/* "stored column equals parameter", NULL-safe (<=>), by the column's kind. */

/*
 * "stored column equals the chunk's value", NULL-safe (<=>), by the
 * column's kind: `lhs` is the target's column (t.`c`), `rhs` the derived
 * table's (d.cN).
 */
static void compare_expr(struct my_inst *my, struct cp_buf *b, const struct my_col *col,
			 const char *lhs, const char *rhs)
{
	switch (col->ctype) {
	case CAIRN_COL_JSON:
		if (!my->mariadb) {
			/* MySQL's JSON type compares values (key order, number forms). */
			cp_buf_addf(b, "%s <=> CAST(%s AS JSON)", lhs, rhs);
		} else {
			/*
			 * The same bytes are the same value; only when they differ
			 * is the normalisation worth its cost (OR stops at the first
			 * true). Before 10.7 there is no JSON_NORMALIZE: spacing only.
			 */
			const char *fn = my->server_version >= 100700 ? "JSON_NORMALIZE" : "JSON_COMPACT";
			cp_buf_addf(b, "CAST(%s AS BINARY) <=> CAST(%s AS BINARY) OR "
				    "CAST(%s(%s) AS BINARY) <=> CAST(%s(%s) AS BINARY)",
				    lhs, rhs, fn, lhs, fn, rhs);
		}
		break;
	case CAIRN_COL_TIMESTAMP:
		/* Compared at the column's precision: what storing the value would keep. */
		cp_buf_addf(b, "%s <=> CAST(%s AS DATETIME(%d))", lhs, rhs,
			    col->precision >= 0 && col->precision <= 6 ? col->precision : 6);
		break;
	case CAIRN_COL_INT:
		cp_buf_addf(b, "%s <=> CAST(%s AS DECIMAL(65,0))", lhs, rhs);
		break;
	default:
		if (is_string_type(col->data_type))
			/* Bytes, not the collation: case and trailing spaces are changes. */
			cp_buf_addf(b, "CAST(%s AS BINARY) <=> CAST(%s AS BINARY)", lhs, rhs);
		else
			cp_buf_addf(b, "%s <=> %s", lhs, rhs);
		break;
	}
}

/*
 * The statement fragments of a table and column list; the k-row
 * statements are built from them when a chunk of k rows first needs one.
 */
static int stmt_build(struct my_inst *my, struct my_table *t, const struct cairn_record *rec)
{
	struct my_stmt *s;
	struct cp_buf look = {0}, row = {0}, tail = {0}, head = {0}, ins = {0}, ups = {0};
	size_t n_cmp = 0, n_set = 0;
	int have_key_col, rc;

	rc = cp_record_columns_check(my->host, rec, t->name, col_state, t, &have_key_col);
	if (rc != CAIRN_OK)
		return rc;

	s = calloc(1, sizeof *s);
	if (s == NULL)
		return cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
	s->synthetic_key = !have_key_col;
	s->rec_names = cp_names_new(rec, s->synthetic_key, &s->n);
	if (s->rec_names != NULL)
		s->col = calloc(s->n, sizeof *s->col);
	if (s->col == NULL || s->rec_names == NULL) {
		stmt_free(s);
		return cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < s->n; i++) {
		find_col(t, s->rec_names[i], &s->col[i]);
		if (strcmp(s->rec_names[i], "key") == 0)
			s->key_pos = i;
	}

	/* look-up: "SELECT d.p, <all equal>, t.`key` FROM (SELECT 0 AS p, ? AS c0 …" */
	cp_buf_add(&look, "SELECT d.p, ");
	for (size_t i = 0; i < s->n; i++) {
		const struct my_col *c = &t->cols[s->col[i]];
		struct cp_buf lhs = {0};
		char rhs[32];
		if (i == s->key_pos)
			continue;
		if (n_cmp++ > 0)
			cp_buf_add(&look, " AND ");
		cp_buf_addf(&lhs, "t.%s", c->qname);
		snprintf(rhs, sizeof rhs, "d.c%zu", i);
		cp_buf_add(&look, "(");
		compare_expr(my, &look, c, lhs.oom ? "" : lhs.p, rhs);
		cp_buf_add(&look, ")");
		look.oom |= lhs.oom;
		cp_buf_free(&lhs);
	}
	if (n_cmp == 0)
		cp_buf_add(&look, "1");
	cp_buf_addf(&look, ", t.%s FROM (SELECT 0 AS p", t->cols[s->col[s->key_pos]].qname);
	for (size_t i = 0; i < s->n; i++) {
		cp_buf_addf(&look, ", ? AS c%zu", i);
		cp_buf_add(&row, ", ?");
	}
	cp_buf_add(&tail, ") AS d STRAIGHT_JOIN ");
	cp_buf_add(&tail, t->qname);
	cp_buf_addf(&tail, " AS t ON t.%s = d.c%zu FOR UPDATE", t->cols[s->col[s->key_pos]].qname,
		    s->key_pos);

	/* inserts: "INSERT INTO t (…) VALUES " + "(?, …)" × k [+ " ON DUPLICATE KEY UPDATE …"] */
	cp_buf_add(&head, "INSERT INTO ");
	cp_buf_add(&head, t->qname);
	cp_buf_add(&head, " (");
	for (size_t i = 0; i < s->n; i++) {
		if (i > 0)
			cp_buf_add(&head, ", ");
		cp_buf_add(&head, t->cols[s->col[i]].qname);
	}
	cp_buf_add(&head, ") VALUES ");
	cp_buf_add(&ins, "(");
	for (size_t i = 0; i < s->n; i++)
		cp_buf_add(&ins, i > 0 ? ", ?" : "?");
	cp_buf_add(&ins, ")");
	cp_buf_add(&ups, " ON DUPLICATE KEY UPDATE ");
	for (size_t i = 0; i < s->n; i++) {
		const char *q = t->cols[s->col[i]].qname;
		if (i == s->key_pos)
			continue;
		if (n_set++ > 0)
			cp_buf_add(&ups, ", ");
		cp_buf_addf(&ups, "%s = VALUES(%s)", q, q);
	}
	if (n_set == 0) {
		/* Only a key: an existing row is left as it is. */
		const char *q = t->cols[s->col[s->key_pos]].qname;
		cp_buf_addf(&ups, "%s = %s", q, q);
	}
	if (look.oom || row.oom || tail.oom || head.oom || ins.oom || ups.oom) {
		rc = cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
		cp_buf_free(&look);
		cp_buf_free(&row);
		cp_buf_free(&tail);
		cp_buf_free(&head);
		cp_buf_free(&ins);
		cp_buf_free(&ups);
		stmt_free(s);
		return rc;
	}
	s->look_head = look.p;
	s->look_row = row.p;
	s->look_tail = tail.p;
	s->ins_head = head.p;
	s->ins_row = ins.p;
	s->ups_tail = ups.p;
	stmt_free(t->stmt);
	t->stmt = s;
	return CAIRN_OK;
}

/* Bound lengths are unsigned long, 32 bits on some targets: no column may exceed that. */
static int record_valid(struct my_inst *my, const struct cairn_record *rec)
{
	return cp_record_valid(my->host, rec, 0xffffffffUL, 0);
}

/* ------------------------------------------------------------ timestamps */

static long long days_from_civil(long long y, int m, int d)
{
	long long era, doe;
	int yoe, doy;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (int)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = (long long)yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(long long z, long long *y, int *m, int *d)
{
	long long era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * ISO 8601 with an offset ("2024-09-17T16:33:12.700099+02:00", "…Z") →
 * "2024-09-17 14:33:12.700099" in UTC, the session's time zone: MariaDB
 * accepts neither the 'T' form with an offset nor a zone. A value without an
 * offset is taken as UTC. Returns the length, or 0 when `s` is not of that
 * form (it is then passed as it is, for the server to judge).
 */
static size_t mysql_timestamp(const char *s, size_t n, char *out, size_t size)
{
	int Y, M, D, h, mi, sec, off = 0, frac = 0, fd = 0;
	size_t p = 19;
	long long days, secs, y;

	if (n < 19 || n > 64 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ' &&
	    s[10] != 't') || s[13] != ':' || s[16] != ':')
		return 0;
	if (digits(s, 4, &Y) || digits(s + 5, 2, &M) || digits(s + 8, 2, &D) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
		return 0;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 60)
		return 0;
	if (p < n && s[p] == '.') {
		p++;
		while (p < n && s[p] >= '0' && s[p] <= '9') {
			if (fd < 6) {
				frac = frac * 10 + (s[p] - '0');
				fd++;
			}
			p++;
		}
		if (fd == 0)
			return 0;
		for (; fd < 6; fd++)
			frac *= 10;
	}
	if (p < n && (s[p] == 'Z' || s[p] == 'z')) {
		p++;
	} else if (p < n && (s[p] == '+' || s[p] == '-')) {
		int sign = s[p] == '-' ? -1 : 1, oh, om = 0;
		p++;
		if (p + 2 > n || digits(s + p, 2, &oh))
			return 0;
		p += 2;
		if (p < n && s[p] == ':')
			p++;
		if (p + 2 <= n && digits(s + p, 2, &om) == 0)
			p += 2;
		if (oh > 23 || om > 59)
			return 0;
		off = sign * (oh * 3600 + om * 60);
	}
	if (p != n)
		return 0;
	days = days_from_civil(Y, M, D);
	secs = days * 86400 + h * 3600 + mi * 60 + sec - off;
	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	secs -= days * 86400;
	civil_from_days(days, &y, &M, &D);
	if (y < 0 || y > 9999)
		return 0;
	return (size_t)snprintf(out, size, "%04lld-%02d-%02d %02d:%02d:%02d.%06d", y, M, D,
				(int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60), frac);
}

/* ------------------------------------------------------------------ write */

/*
 * Binds record column i (in the statement's column order, the key perhaps
 * synthetic) as a parameter; *len and ts (40 bytes) are its storage.
 */
static void bind_value(MYSQL_BIND *b, const struct my_stmt *s, size_t i,
		       const struct cairn_record *rec, const struct my_table *t, unsigned long *len,
		       char *ts)
{
	const struct cairn_column *c;
	const struct my_col *mc = &t->cols[s->col[i]];

	memset(b, 0, sizeof *b);
	if (s->synthetic_key && i == 0) {
		*len = (unsigned long)strlen(rec->key);
		b->buffer_type = MYSQL_TYPE_STRING;
		b->buffer = (void *)rec->key;
		b->buffer_length = *len;
		b->length = len;
		return;
	}
	c = &rec->columns[i - (s->synthetic_key ? 1 : 0)];
	if (c->type == CAIRN_COL_NULL) {
		b->buffer_type = MYSQL_TYPE_NULL;
		return;
	}
	b->buffer_type = c->type == CAIRN_COL_BYTES ? MYSQL_TYPE_BLOB : MYSQL_TYPE_STRING;
	b->buffer = (void *)(c->len ? c->data : "");
	*len = (unsigned long)c->len;
	if (mc->ctype == CAIRN_COL_TIMESTAMP) {
		/* Only into a datetime/timestamp column: a text column keeps the text. */
		size_t l = mysql_timestamp(c->data, c->len, ts, 40);
		if (l > 0) {
			b->buffer = ts;
			*len = (unsigned long)l;
		}
	} else if (c->type == CAIRN_COL_BOOL && mc->ctype == CAIRN_COL_INT) {
		/* A PostgreSQL boolean restored into a MySQL BOOL (TINYINT(1)) column. */
		if (c->len == 4 && memcmp(c->data, "true", 4) == 0)
			b->buffer = (void *)"1", *len = 1;
		else if (c->len == 5 && memcmp(c->data, "false", 5) == 0)
			b->buffer = (void *)"0", *len = 1;
	}
	b->buffer_length = *len;
	b->length = len;
}

/* Checks a record and finds (or prepares) its table's statements. */
static int write_prepare(struct my_inst *my, const struct cairn_kind_desc *kind,
			 const struct cairn_record *rec, struct my_table **tp)
{
	struct my_table *t;
	int rc;

	rc = record_valid(my, rec);
	if (rc == CAIRN_OK)
		rc = table_get(my, kind, &t);
	if (rc == CAIRN_OK)
		rc = cp_table_key_check(my->host, t->name, t->has_key);
	if (rc != CAIRN_OK)
		return rc;
	if (t->stmt == NULL || !stmt_matches(t->stmt, rec)) {
		rc = stmt_build(my, t, rec);
		if (rc != CAIRN_OK)
			return rc;
	}
	*tp = t;
	return CAIRN_OK;
}

/* The values of a chunk, bound once for all of its statements. */
struct my_vals {
	size_t k, n;
	MYSQL_BIND *b;        /* k × n, record by record, in the statement's column order */
	unsigned long *len;   /* their lengths */
	char (*ts)[40];       /* their converted timestamps */
	MYSQL_BIND *params;   /* k × n: the rows one statement takes */
};

static void vals_free(struct my_vals *v)
{
	free(v->b);
	free(v->len);
	free(v->ts);
	free(v->params);
}

static int vals_bind(struct my_inst *my, const struct my_table *t,
		     const struct cairn_record *const *recs, size_t k, struct my_vals *v)
{
	size_t n = t->stmt->n;

	v->k = k;
	v->n = n;
	v->b = calloc(k * n, sizeof *v->b);
	v->len = calloc(k * n, sizeof *v->len);
	v->ts = calloc(k * n, sizeof *v->ts);
	v->params = calloc(k * n, sizeof *v->params);
	if (v->b == NULL || v->len == NULL || v->ts == NULL || v->params == NULL)
		return cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
	for (size_t r = 0; r < k; r++)
		for (size_t i = 0; i < n; i++)
			bind_value(&v->b[r * n + i], t->stmt, i, recs[r], t, &v->len[r * n + i],
				   v->ts[r * n + i]);
	return CAIRN_OK;
}

enum my_sql { MY_SQL_LOOK, MY_SQL_INS, MY_SQL_UPS };

/* The k-row statement of a kind: the one kept from the last chunk of k rows, or a new one. */
static int prep_get(struct my_inst *my, struct my_table *t, enum my_sql kind, size_t k,
		    MYSQL_STMT **out)
{
	struct my_stmt *s = t->stmt;
	struct my_prep *pp = kind == MY_SQL_LOOK ? &s->look : kind == MY_SQL_INS ? &s->ins : &s->ups;
	struct cp_buf sql = {0};
	MYSQL_STMT *st = NULL;

	if (pp->st != NULL && pp->k == k) {
		*out = pp->st;
		return CAIRN_OK;
	}
	prep_close(pp);
	if (kind == MY_SQL_LOOK) {
		cp_buf_add(&sql, s->look_head);
		for (size_t r = 1; r < k; r++) {
			cp_buf_addf(&sql, " UNION ALL SELECT %zu", r);
			cp_buf_add(&sql, s->look_row);
		}
		cp_buf_add(&sql, s->look_tail);
	} else {
		cp_buf_add(&sql, s->ins_head);
		for (size_t r = 0; r < k; r++) {
			if (r > 0)
				cp_buf_add(&sql, ", ");
			cp_buf_add(&sql, s->ins_row);
		}
		if (kind == MY_SQL_UPS)
			cp_buf_add(&sql, s->ups_tail);
	}
	if (sql.oom) {
		cp_buf_free(&sql);
		return cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
	}
	st = mysql_stmt_init(my->conn);
	if (st == NULL) {
		cp_buf_free(&sql);
		return cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
	}
	if (mysql_stmt_prepare(st, sql.p, (unsigned long)sql.len) != 0) {
		int rc = mysql_plugin_stmt_error(my, st, "unable to prepare a statement for table",
						 t->name);
		mysql_stmt_close(st);
		cp_buf_free(&sql);
		return rc;
	}
	cp_buf_free(&sql);
	pp->st = st;
	pp->k = k;
	*out = st;
	return CAIRN_OK;
}

static int is_dup(unsigned err)
{
	return err == ER_DUP_ENTRY || err == ER_DUP_ENTRY_WITH_KEY_NAME;
}

/*
 * Runs the m-row INSERT (or upsert) on rows[0..m) of the chunk, all of it
 * when rows is NULL. With dup not NULL a duplicate key sets *dup and is not
 * an error: InnoDB has undone the statement, and the caller knows why.
 */
static int exec_rows(struct my_inst *my, struct my_table *t, enum my_sql kind,
		     struct my_vals *v, const size_t *rows, size_t m, const char *what, int *dup)
{
	MYSQL_STMT *st = NULL;
	size_t p = 0;
	int rc;

	rc = prep_get(my, t, kind, m, &st);
	if (rc != CAIRN_OK)
		return rc;
	for (size_t j = 0; j < m; j++)
		for (size_t i = 0; i < v->n; i++)
			v->params[p++] = v->b[(rows != NULL ? rows[j] : j) * v->n + i];
	if (mysql_stmt_bind_param(st, v->params) == 0 && mysql_stmt_execute(st) == 0)
		return CAIRN_OK;
	if (dup != NULL && is_dup(mysql_stmt_errno(st))) {
		*dup = 1;
		return CAIRN_OK;
	}
	return mysql_plugin_stmt_error(my, st, what, t->name);
}

/* Bytes of a stored key kept to tell found rows apart (a longer one: its prefix and length). */
#define MY_KEY_CMP 1024

/*
 * outcomes[0..k) from one look-up of the chunk. *collide is set when two
 * records found the same row: keys that differ as bytes but are one under
 * the primary key's collation ('a' / 'A'), whose outcomes depend on the
 * order of the writes.
 */
static int lookup(struct my_inst *my, struct my_table *t, struct my_vals *v, int *outcomes,
		  const char *what, int *collide)
{
	MYSQL_STMT *st = NULL;
	MYSQL_BIND res[3];
	long long pos = 0, equal = 0;
	my_bool null_pos = 0, null_eq = 0, null_key = 0;
	char key[MY_KEY_CMP];
	unsigned long key_len = 0;
	struct cp_buf seen = {0}; /* the keys found so far: length, then up to MY_KEY_CMP bytes */
	int rc, f;

	*collide = 0;
	for (size_t r = 0; r < v->k; r++)
		outcomes[r] = CAIRN_WRITE_NEW;
	rc = prep_get(my, t, MY_SQL_LOOK, v->k, &st);
	if (rc != CAIRN_OK)
		return rc;
	memcpy(v->params, v->b, v->k * v->n * sizeof *v->b);
	memset(res, 0, sizeof res);
	res[0].buffer_type = MYSQL_TYPE_LONGLONG;
	res[0].buffer = &pos;
	res[0].is_null = &null_pos;
	res[1].buffer_type = MYSQL_TYPE_LONGLONG;
	res[1].buffer = &equal;
	res[1].is_null = &null_eq;
	res[2].buffer_type = MYSQL_TYPE_STRING;
	res[2].buffer = key;
	res[2].buffer_length = sizeof key;
	res[2].length = &key_len;
	res[2].is_null = &null_key;
	if (mysql_stmt_bind_param(st, v->params) != 0 || mysql_stmt_execute(st) != 0 ||
	    mysql_stmt_bind_result(st, res) != 0 || mysql_stmt_store_result(st) != 0) {
		rc = mysql_plugin_stmt_error(my, st, what, t->name);
		mysql_stmt_free_result(st);
		return rc;
	}
	while ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED) {
		size_t kl = key_len < sizeof key ? key_len : sizeof key;
		if (null_pos || pos < 0 || (size_t)pos >= v->k) {
			rc = cp_fail(my->host, CAIRN_E_BACKEND, "%s '%s': unexpected row", what, t->name);
			break;
		}
		outcomes[pos] = !null_eq && equal == 1 ? CAIRN_WRITE_UNCHANGED : CAIRN_WRITE_CHANGED;
		for (size_t at = 0; at < seen.len && !*collide;) {
			unsigned long l;
			memcpy(&l, seen.p + at, sizeof l);
			at += sizeof l;
			*collide = l == key_len && memcmp(seen.p + at, key, kl) == 0;
			at += l < sizeof key ? l : sizeof key;
		}
		cp_buf_addn(&seen, (const char *)&key_len, sizeof key_len);
		cp_buf_addn(&seen, key, kl);
	}
	if (rc == CAIRN_OK && f == 1)
		rc = mysql_plugin_stmt_error(my, st, what, t->name);
	if (rc == CAIRN_OK && seen.oom)
		rc = cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
	mysql_stmt_free_result(st);
	cp_buf_free(&seen);
	return rc;
}

/* rows[0..m) := the positions whose outcome is `which`; returns m. */
static size_t pick(const int *outcomes, size_t k, int which, size_t *rows)
{
	size_t m = 0;

	for (size_t r = 0; r < k; r++)
		if (outcomes[r] == which)
			rows[m++] = r;
	return m;
}

/* How often one record is looked up again when its key appears between look-up and insert. */
#define MY_RETRIES 3

/*
 * k ≥ 1 records sharing t's statements, by the rules at the top of the
 * file. A chunk that cannot be decided as a whole (a duplicate key after
 * the look-up, two keys that the collation calls one) goes again record by
 * record, which is exact; so does a failed chunk, so that the error names
 * its record (the restore fails either way). `tries` counts the look-ups
 * of a single record.
 */
static int write_rows(struct my_inst *my, struct my_table *t,
		      const struct cairn_record *const *recs, size_t k, int *outcomes, int tries)
{
	struct my_vals v = {0};
	size_t *rows = NULL, m;
	char what[900];
	int rc, dup = 0, collide = 0;

	if (k == 1)
		snprintf(what, sizeof what, "unable to write record '%.700s' into table", recs[0]->key);
	else
		snprintf(what, sizeof what, "unable to write records '%.300s' … '%.300s' into table",
			 recs[0]->key, recs[k - 1]->key);
	rc = vals_bind(my, t, recs, k, &v);
	if (rc != CAIRN_OK)
		goto out;
	if (!t->lookup) {
		rc = exec_rows(my, t, MY_SQL_INS, &v, NULL, k, what, &dup);
		if (rc != CAIRN_OK)
			goto failed;
		if (!dup) {
			for (size_t r = 0; r < k; r++)
				outcomes[r] = CAIRN_WRITE_NEW;
			goto out;
		}
		t->lookup = 1;
		dup = 0;
	}
	rc = lookup(my, t, &v, outcomes, what, &collide);
	if (rc != CAIRN_OK)
		goto out;
	if (collide)
		goto each;
	rows = malloc(k * sizeof *rows);
	if (rows == NULL) {
		rc = cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
		goto out;
	}
	/* NEW first: a duplicate key then means nothing of the chunk is written yet. */
	m = pick(outcomes, k, CAIRN_WRITE_NEW, rows);
	if (m > 0) {
		rc = exec_rows(my, t, MY_SQL_INS, &v, rows, m, what, &dup);
		if (rc != CAIRN_OK)
			goto failed;
		if (dup)
			goto each;
	}
	m = pick(outcomes, k, CAIRN_WRITE_CHANGED, rows);
	if (m > 0) {
		rc = exec_rows(my, t, MY_SQL_UPS, &v, rows, m, what, NULL);
		if (rc != CAIRN_OK)
			goto failed;
	}
	goto out;

each:
	if (k == 1) {
		if (tries + 1 < MY_RETRIES) {
			rc = write_rows(my, t, recs, 1, outcomes, tries + 1);
		} else {
			rc = cp_fail(my->host, CAIRN_E_TRANSIENT,
				     "%s '%s': a duplicate key each time the record was looked up "
				     "and not found (written meanwhile by another transaction, or "
				     "a unique index other than the primary key)", what, t->name);
			my->tx_failed = 1;
		}
		goto out;
	}
	for (size_t r = 0; r < k && rc == CAIRN_OK; r++)
		rc = write_rows(my, t, recs + r, 1, outcomes + r, 0);
	goto out;

failed:
	/* Reported and the transaction marked failed; find and name the record. */
	for (size_t r = 0; k > 1 && r < k; r++) {
		int o, again = write_rows(my, t, recs + r, 1, &o, 0);
		if (again != CAIRN_OK) {
			rc = again;
			break;
		}
	}
out:
	free(rows);
	vals_free(&v);
	return rc;
}

int mysql_plugin_restore_write(void *inst, const struct cairn_kind_desc *kind,
			       const struct cairn_record *rec, int *outcome)
{
	struct my_inst *my = inst;
	struct my_table *t;
	int rc;

	if (my == NULL || kind == NULL || rec == NULL || outcome == NULL)
		return CAIRN_E_INVALID;
	rc = cp_tx_expect(my->host, my->tx, CP_TX_RESTORE);
	if (rc == CAIRN_OK)
		rc = cp_check_cancelled(my->host);
	if (rc == CAIRN_OK)
		rc = write_prepare(my, kind, rec, &t);
	if (rc != CAIRN_OK)
		return rc;
	return write_rows(my, t, &rec, 1, outcome, 0);
}

/* ------------------------------------------------------------------ batches */

/* What a record adds to a statement's packet: its bytes and a few per value. */
static size_t rec_bytes(const struct cairn_record *r)
{
	size_t b = strlen(r->key) + 16;

	for (size_t i = 0; i < r->n_columns; i++)
		b += r->columns[i].len + 16;
	return b;
}

int mysql_plugin_restore_write_batch(void *inst, const struct cairn_kind_desc *kind,
				     const struct cairn_record *const *recs, size_t n,
				     int *outcomes)
{
	struct my_inst *my = inst;
	struct my_table *t;
	size_t i = 0;
	int rc;

	if (my == NULL || kind == NULL || (n > 0 && (recs == NULL || outcomes == NULL)))
		return CAIRN_E_INVALID;
	rc = cp_tx_expect(my->host, my->tx, CP_TX_RESTORE);
	if (rc != CAIRN_OK)
		return rc;
	while (i < n) {
		size_t j, bytes, max;
		rc = cp_check_cancelled(my->host);
		if (rc != CAIRN_OK)
			return rc;
		if (recs[i] == NULL)
			return CAIRN_E_INVALID;
		rc = write_prepare(my, kind, recs[i], &t);
		if (rc != CAIRN_OK)
			return rc;
		max = MY_PARAMS_MAX / t->stmt->n;
		if (max > MY_CHUNK_MAX)
			max = MY_CHUNK_MAX;
		/*
		 * The run of records with this column list, within the limits, and
		 * without a key seen earlier in the run: the outcome of a repeated
		 * key depends on the first write, so it starts the next chunk.
		 */
		bytes = rec_bytes(recs[i]);
		for (j = i + 1; j < n && j - i < max; j++) {
			int dup = 0;
			if (recs[j] == NULL)
				return CAIRN_E_INVALID;
			rc = record_valid(my, recs[j]);
			if (rc != CAIRN_OK)
				return rc;
			if (!stmt_matches(t->stmt, recs[j]) || bytes + rec_bytes(recs[j]) > my->chunk_bytes)
				break;
			for (size_t q = i; q < j && !dup; q++)
				dup = strcmp(recs[q]->key, recs[j]->key) == 0;
			if (dup)
				break;
			bytes += rec_bytes(recs[j]);
		}
		rc = write_rows(my, t, recs + i, j - i, outcomes + i, 0);
		if (rc != CAIRN_OK)
			return rc;
		i = j;
	}
	return CAIRN_OK;
}

/* cp_tx_end_fn: ends the restore transaction on the server. */
static int tx_end(void *inst, int commit)
{
	struct my_inst *my = inst;

	return commit ? mysql_plugin_exec(my, "COMMIT", "unable to commit the restore")
		      : mysql_plugin_exec(my, "ROLLBACK", "unable to roll back the restore");
}

int mysql_plugin_restore_commit(void *inst)
{
	struct my_inst *my = inst;
	int rc;

	if (my == NULL)
		return CAIRN_E_INVALID;
	rc = cp_tx_expect(my->host, my->tx, CP_TX_RESTORE);
	if (rc != CAIRN_OK)
		return rc;
	rc = cp_restore_commit(my->host, &my->tx, &my->tx_failed, my->dry_run, tx_end, my);
	mysql_plugin_restore_reset(my);
	return rc;
}

int mysql_plugin_restore_rollback(void *inst)
{
	struct my_inst *my = inst;
	int rc;

	if (my == NULL)
		return CAIRN_E_INVALID;
	rc = cp_restore_rollback(&my->tx, &my->tx_failed, tx_end, my);
	mysql_plugin_restore_reset(my);
	return rc;
}
