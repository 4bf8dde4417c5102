/*
 * mysql_restore.c — the restore half: one read-committed transaction in
 * which every record's outcome (NEW / CHANGED / UNCHANGED, which the vtable
 * must report) comes from a locking look-up, and only NEW and CHANGED
 * records are written, by INSERT … ON DUPLICATE KEY UPDATE.
 *
 * restore_write (ABI 1.0) does it per record with two prepared statements:
 *
 *   SELECT <every real column equal> FROM t WHERE `key` = ? FOR UPDATE
 *   INSERT INTO t (…) VALUES (…) ON DUPLICATE KEY UPDATE c = VALUES(c), …
 *
 * restore_write_batch (ABI 1.1) does the same for up to 200 records in two
 * statements: a UNION ALL of those SELECTs (one row per existing record,
 * tagged with its position) and one multi-row INSERT … ON DUPLICATE KEY
 * UPDATE of the records that need it.
 *
 * No row: NEW; 1: UNCHANGED; 0: CHANGED. FOR UPDATE locks the row, or the
 * gap where it would go, until the end of the transaction so that the
 * outcome stays true. "Equal" means the same JSON value (JSON_NORMALIZE on
 * MariaDB 10.7+, the JSON type's own comparison on MySQL), the same bytes for
 * text, the same instant for timestamps (at the column's precision) and the
 * same number for integers. A dry run does the same work and rolls back, so
 * its outcomes are exact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql.h"

static void stmt_free(struct my_stmt *s)
{
	if (s == NULL)
		return;
	if (s->select != NULL)
		mysql_stmt_close(s->select);
	if (s->upsert != NULL)
		mysql_stmt_close(s->upsert);
	cp_names_free(s->rec_names, s->n);
	free(s->col);
	free(s->sel_bind);
	free(s->ups_bind);
	free(s->lens);
	free(s->tsbuf);
	free(s->sel_body);
	free(s->ins_head);
	free(s->ins_row);
	free(s->ins_tail);
	free(s);
}

/* Forgets the tables and statements of the last restore. */
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
static void compare_expr(struct my_inst *my, struct cp_buf *b, const struct my_col *col)
{
	char num[64];

	switch (col->ctype) {
	case CAIRN_COL_JSON:
		if (!my->mariadb) {
			/* MySQL's JSON type compares values (key order, number forms). */
			cp_buf_add(b, col->qname);
			cp_buf_add(b, " <=> CAST(? AS JSON)");
		} else if (my->server_version >= 100700) {
			cp_buf_add(b, "CAST(JSON_NORMALIZE(");
			cp_buf_add(b, col->qname);
			cp_buf_add(b, ") AS BINARY) <=> CAST(JSON_NORMALIZE(?) AS BINARY)");
		} else {
			/* Before 10.7 there is no JSON_NORMALIZE: spacing only, not key order. */
			cp_buf_add(b, "CAST(JSON_COMPACT(");
			cp_buf_add(b, col->qname);
			cp_buf_add(b, ") AS BINARY) <=> CAST(JSON_COMPACT(?) AS BINARY)");
		}
		break;
	case CAIRN_COL_TIMESTAMP:
		/* Compared at the column's precision: what storing the value would keep. */
		cp_buf_add(b, col->qname);
		snprintf(num, sizeof num, " <=> CAST(? AS DATETIME(%d))",
			 col->precision >= 0 && col->precision <= 6 ? col->precision : 6);
		cp_buf_add(b, num);
		break;
	case CAIRN_COL_INT:
		cp_buf_add(b, col->qname);
		cp_buf_add(b, " <=> CAST(? AS DECIMAL(65,0))");
		break;
	default:
		if (is_string_type(col->data_type)) {
			/* Bytes, not the collation: case and trailing spaces are changes. */
			cp_buf_add(b, "CAST(");
			cp_buf_add(b, col->qname);
			cp_buf_add(b, " AS BINARY) <=> CAST(? AS BINARY)");
		} else {
			cp_buf_add(b, col->qname);
			cp_buf_add(b, " <=> ?");
		}
		break;
	}
}

static int prepare(struct my_inst *my, struct my_table *t, MYSQL_STMT **out,
		   const struct cp_buf *sql)
{
	MYSQL_STMT *st = mysql_stmt_init(my->conn);

	if (st == NULL)
		return cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
	if (mysql_stmt_prepare(st, sql->p, (unsigned long)sql->len) != 0) {
		int rc = mysql_plugin_stmt_error(my, st, "unable to prepare a statement for table",
						 t->name);
		mysql_stmt_close(st);
		return rc;
	}
	*out = st;
	return CAIRN_OK;
}

static int stmt_build(struct my_inst *my, struct my_table *t, const struct cairn_record *rec)
{
	struct my_stmt *s;
	struct cp_buf body = {0}, head = {0}, row = {0}, tail = {0};
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
	if (s->rec_names != NULL) {
		s->col = calloc(s->n, sizeof *s->col);
		s->sel_bind = calloc(s->n, sizeof *s->sel_bind);
		s->ups_bind = calloc(s->n, sizeof *s->ups_bind);
		s->lens = calloc(s->n, sizeof *s->lens);
		s->tsbuf = calloc(s->n, sizeof *s->tsbuf);
	}
	if (s->col == NULL || s->rec_names == NULL || s->sel_bind == NULL ||
	    s->ups_bind == NULL || s->lens == NULL || s->tsbuf == NULL) {
		stmt_free(s);
		return cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < s->n; i++) {
		find_col(t, s->rec_names[i], &s->col[i]);
		if (strcmp(s->rec_names[i], "key") == 0)
			s->key_pos = i;
	}

	/* "<all equal> FROM t WHERE `key` = ? FOR UPDATE" */
	for (size_t i = 0; i < s->n; i++) {
		if (i == s->key_pos)
			continue;
		if (n_cmp++ > 0)
			cp_buf_add(&body, " AND ");
		cp_buf_add(&body, "(");
		compare_expr(my, &body, &t->cols[s->col[i]]);
		cp_buf_add(&body, ")");
	}
	if (n_cmp == 0)
		cp_buf_add(&body, "1");
	cp_buf_add(&body, " FROM ");
	cp_buf_add(&body, t->qname);
	cp_buf_add(&body, " WHERE ");
	cp_buf_add(&body, t->cols[s->col[s->key_pos]].qname);
	cp_buf_add(&body, " = ? FOR UPDATE");

	cp_buf_add(&head, "INSERT INTO ");
	cp_buf_add(&head, t->qname);
	cp_buf_add(&head, " (");
	for (size_t i = 0; i < s->n; i++) {
		if (i > 0)
			cp_buf_add(&head, ", ");
		cp_buf_add(&head, t->cols[s->col[i]].qname);
	}
	cp_buf_add(&head, ") VALUES ");
	cp_buf_add(&row, "(");
	for (size_t i = 0; i < s->n; i++)
		cp_buf_add(&row, i > 0 ? ", ?" : "?");
	cp_buf_add(&row, ")");
	cp_buf_add(&tail, " ON DUPLICATE KEY UPDATE ");
	for (size_t i = 0; i < s->n; i++) {
		const char *q = t->cols[s->col[i]].qname;
		if (i == s->key_pos)
			continue;
		if (n_set++ > 0)
			cp_buf_add(&tail, ", ");
		cp_buf_add(&tail, q);
		cp_buf_add(&tail, " = VALUES(");
		cp_buf_add(&tail, q);
		cp_buf_add(&tail, ")");
	}
	if (n_set == 0) {
		/* Only a key: an existing row is left as it is. */
		const char *q = t->cols[s->col[s->key_pos]].qname;
		cp_buf_add(&tail, q);
		cp_buf_add(&tail, " = ");
		cp_buf_add(&tail, q);
	}
	if (body.oom || head.oom || row.oom || tail.oom) {
		rc = cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
		goto fail;
	}
	/* The fragments move into the statement; write_one prepares from them when needed. */
	s->sel_body = body.p;
	s->ins_head = head.p;
	s->ins_row = row.p;
	s->ins_tail = tail.p;
	stmt_free(t->stmt);
	t->stmt = s;
	return CAIRN_OK;
fail:
	cp_buf_free(&body);
	cp_buf_free(&head);
	cp_buf_free(&row);
	cp_buf_free(&tail);
	stmt_free(s);
	return rc;
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

/* One record through the prepared single-record statements. */
static int write_one(struct my_inst *my, struct my_table *t, const struct cairn_record *rec,
		     int *outcome)
{
	struct my_stmt *s = t->stmt;
	MYSQL_BIND res;
	long long equal = 0;
	my_bool is_null = 0;
	char what[900];
	int rc = CAIRN_OK, fetched;

	snprintf(what, sizeof what, "unable to write record '%.700s' into table", rec->key);
	if (s->select == NULL || s->upsert == NULL) {
		struct cp_buf sel = {0}, ups = {0};
		if (s->select != NULL) {
			mysql_stmt_close(s->select);
			s->select = NULL;
		}
		cp_buf_add(&sel, "SELECT ");
		cp_buf_add(&sel, s->sel_body);
		cp_buf_add(&ups, s->ins_head);
		cp_buf_add(&ups, s->ins_row);
		cp_buf_add(&ups, s->ins_tail);
		if (sel.oom || ups.oom)
			rc = cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
		else
			rc = prepare(my, t, &s->select, &sel);
		if (rc == CAIRN_OK)
			rc = prepare(my, t, &s->upsert, &ups);
		cp_buf_free(&sel);
		cp_buf_free(&ups);
		if (rc != CAIRN_OK)
			return rc;
	}
	/* The SELECT takes the non-key values in order, then the key. */
	for (size_t i = 0, k = 0; i < s->n; i++) {
		MYSQL_BIND *b = i == s->key_pos ? &s->sel_bind[s->n - 1] : &s->sel_bind[k++];
		bind_value(b, s, i, rec, t, &s->lens[i], s->tsbuf[i]);
		s->ups_bind[i] = *b;
	}
	if (mysql_stmt_bind_param(s->select, s->sel_bind) != 0 ||
	    mysql_stmt_execute(s->select) != 0)
		return mysql_plugin_stmt_error(my, s->select, what, t->name);
	memset(&res, 0, sizeof res);
	res.buffer_type = MYSQL_TYPE_LONGLONG;
	res.buffer = &equal;
	res.is_null = &is_null;
	if (mysql_stmt_bind_result(s->select, &res) != 0 || mysql_stmt_store_result(s->select) != 0) {
		rc = mysql_plugin_stmt_error(my, s->select, what, t->name);
		mysql_stmt_free_result(s->select);
		return rc;
	}
	fetched = mysql_stmt_fetch(s->select);
	mysql_stmt_free_result(s->select);
	if (fetched == 1)
		return mysql_plugin_stmt_error(my, s->select, what, t->name);
	if (fetched == MYSQL_NO_DATA)
		*outcome = CAIRN_WRITE_NEW;
	else if (!is_null && equal == 1)
		*outcome = CAIRN_WRITE_UNCHANGED;
	else
		*outcome = CAIRN_WRITE_CHANGED;
	if (*outcome == CAIRN_WRITE_UNCHANGED)
		return CAIRN_OK;
	if (mysql_stmt_bind_param(s->upsert, s->ups_bind) != 0 ||
	    mysql_stmt_execute(s->upsert) != 0)
		return mysql_plugin_stmt_error(my, s->upsert, what, t->name);
	return CAIRN_OK;
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
	return write_one(my, t, rec, outcome);
}

/* ------------------------------------------------------------------ batches */

static size_t rec_bytes(const struct cairn_record *r)
{
	size_t b = strlen(r->key);

	for (size_t i = 0; i < r->n_columns; i++)
		b += r->columns[i].len;
	return b;
}

/*
 * k records sharing one column list, in two statements:
 *
 *   (SELECT 0, <all equal> FROM t WHERE `key` = ? FOR UPDATE) UNION ALL
 *   (SELECT 1, …) …                          → one row per existing record
 *   INSERT INTO t (…) VALUES (…), (…) … ON DUPLICATE KEY UPDATE …
 *                                            → the NEW and CHANGED ones
 *
 * Both are prepared for the chunk (one round trip each) and closed after.
 * When the INSERT fails, its records go again one by one through the
 * single-record upsert so that the error names the record (InnoDB has
 * rolled back only the failed statement); the restore fails either way.
 */
static int write_chunk(struct my_inst *my, struct my_table *t,
		       const struct cairn_record *const *recs, size_t k, int *outcomes)
{
	struct my_stmt *s = t->stmt;
	size_t n = s->n, m = 0, p;
	struct cp_buf sql = {0};
	MYSQL_BIND *vals = calloc(k * n, sizeof *vals), *params = calloc(k * n, sizeof *params);
	unsigned long *lens = calloc(k * n, sizeof *lens);
	char (*ts)[40] = calloc(k * n, sizeof *ts);
	MYSQL_STMT *st = NULL;
	MYSQL_BIND res[2];
	long long idx = 0, equal = 0;
	my_bool null_idx = 0, null_eq = 0;
	char num[32], what[900];
	int rc = CAIRN_OK, f;

	snprintf(what, sizeof what, "unable to write records '%.300s' … '%.300s' into table",
		 recs[0]->key, recs[k - 1]->key);
	if (vals == NULL || params == NULL || lens == NULL || ts == NULL) {
		rc = cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t r = 0; r < k; r++) {
		outcomes[r] = CAIRN_WRITE_NEW;
		for (size_t i = 0; i < n; i++)
			bind_value(&vals[r * n + i], s, i, recs[r], t, &lens[r * n + i],
				   ts[r * n + i]);
	}

	/* outcomes */
	p = 0;
	for (size_t r = 0; r < k; r++) {
		snprintf(num, sizeof num, "%s(SELECT %zu, ", r ? " UNION ALL " : "", r);
		cp_buf_add(&sql, num);
		cp_buf_add(&sql, s->sel_body);
		cp_buf_add(&sql, ")");
		for (size_t i = 0; i < n; i++)
			if (i != s->key_pos)
				params[p++] = vals[r * n + i];
		params[p++] = vals[r * n + s->key_pos];
	}
	if (sql.oom) {
		rc = cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
		goto out;
	}
	rc = prepare(my, t, &st, &sql);
	if (rc != CAIRN_OK)
		goto out;
	memset(res, 0, sizeof res);
	res[0].buffer_type = MYSQL_TYPE_LONGLONG;
	res[0].buffer = &idx;
	res[0].is_null = &null_idx;
	res[1].buffer_type = MYSQL_TYPE_LONGLONG;
	res[1].buffer = &equal;
	res[1].is_null = &null_eq;
	if (mysql_stmt_bind_param(st, params) != 0 || mysql_stmt_execute(st) != 0 ||
	    mysql_stmt_bind_result(st, res) != 0 || mysql_stmt_store_result(st) != 0) {
		rc = mysql_plugin_stmt_error(my, st, what, t->name);
		goto out;
	}
	while ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED) {
		if (null_idx || idx < 0 || (size_t)idx >= k) {
			rc = cp_fail(my->host, CAIRN_E_BACKEND, "%s '%s': unexpected row",
				     what, t->name);
			goto out;
		}
		outcomes[idx] = !null_eq && equal == 1 ? CAIRN_WRITE_UNCHANGED : CAIRN_WRITE_CHANGED;
	}
	if (f == 1) {
		rc = mysql_plugin_stmt_error(my, st, what, t->name);
		goto out;
	}
	mysql_stmt_free_result(st);
	mysql_stmt_close(st);
	st = NULL;

	/* the NEW and CHANGED ones */
	cp_buf_free(&sql);
	cp_buf_add(&sql, s->ins_head);
	p = 0;
	for (size_t r = 0; r < k; r++) {
		if (outcomes[r] == CAIRN_WRITE_UNCHANGED)
			continue;
		if (m++ > 0)
			cp_buf_add(&sql, ", ");
		cp_buf_add(&sql, s->ins_row);
		for (size_t i = 0; i < n; i++)
			params[p++] = vals[r * n + i];
	}
	cp_buf_add(&sql, s->ins_tail);
	if (m == 0)
		goto out;
	if (sql.oom) {
		rc = cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
		goto out;
	}
	rc = prepare(my, t, &st, &sql);
	if (rc != CAIRN_OK)
		goto out;
	if (mysql_stmt_bind_param(st, params) != 0 || mysql_stmt_execute(st) != 0) {
		int status = mysql_plugin_stmt_error(my, st, what, t->name);
		/* Find and name the record: each on its own, in order. */
		for (size_t r = 0; r < k; r++) {
			int o;
			if (outcomes[r] == CAIRN_WRITE_UNCHANGED)
				continue;
			rc = write_one(my, t, recs[r], &o);
			if (rc != CAIRN_OK)
				goto out;
		}
		rc = status;
		my->tx_failed = 1;
	}
out:
	if (st != NULL)
		mysql_stmt_close(st);
	cp_buf_free(&sql);
	free(vals);
	free(params);
	free(lens);
	free(ts);
	return rc;
}

/* Records per statement pair, and their bytes (well under max_allowed_packet's 16 MiB default). */
#define MY_CHUNK_MAX 200
#define MY_CHUNK_BYTES (4u << 20)

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
		size_t j, bytes;
		rc = cp_check_cancelled(my->host);
		if (rc != CAIRN_OK)
			return rc;
		if (recs[i] == NULL)
			return CAIRN_E_INVALID;
		rc = write_prepare(my, kind, recs[i], &t);
		if (rc != CAIRN_OK)
			return rc;
		/*
		 * The run of records with this column list, within the limits, and
		 * without a key seen earlier in the run: the outcome of a repeated
		 * key depends on the first write, so it starts the next chunk.
		 */
		bytes = rec_bytes(recs[i]);
		for (j = i + 1; j < n && j - i < MY_CHUNK_MAX; j++) {
			int dup = 0;
			if (recs[j] == NULL)
				return CAIRN_E_INVALID;
			rc = record_valid(my, recs[j]);
			if (rc != CAIRN_OK)
				return rc;
			if (!stmt_matches(t->stmt, recs[j]) || bytes + rec_bytes(recs[j]) > MY_CHUNK_BYTES)
				break;
			for (size_t q = i; q < j && !dup; q++)
				dup = strcmp(recs[q]->key, recs[j]->key) == 0;
			if (dup)
				break;
			bytes += rec_bytes(recs[j]);
		}
		rc = j - i == 1 ? write_one(my, t, recs[i], &outcomes[i])
				: write_chunk(my, t, recs + i, j - i, outcomes + i);
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
