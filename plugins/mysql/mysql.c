/*
 * mysql.c — the MySQL/MariaDB source plugin: entry point, connection,
 * describe, and the helpers the read and restore halves share (error
 * mapping, catalogue look-ups).
 *
 * Internal names start with mysql_plugin_ because mysql_ belongs to the
 * connector. See README.md in this folder for the options and the decisions.
 */
#define _POSIX_C_SOURCE 200809L /* strtok_r, strcasecmp */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mariadb/errmsg.h>
#include <mariadb/mysqld_error.h>

#include "cairn/plugin.h"
#include "mysql.h"
#include "plugin_uri.h"

/* The server's message, first line, without a trailing period. */
static const char *one_line(const char *msg, char *buf, size_t size)
{
	size_t n;

	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	n = strcspn(msg, "\r\n");
	if (n >= size)
		n = size - 1;
	memcpy(buf, msg, n);
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '.'))
		n--;
	buf[n] = '\0';
	return buf;
}

/*
 * Error numbers → status: a lost or refused connection is CONNECT, refused
 * credentials AUTH, an unknown database NOT_FOUND, deadlocks and lock
 * timeouts TRANSIENT, missing privileges PERMISSION; the rest is the
 * backend refusing a statement (too long, invalid JSON, constraint …).
 */
static int status_of(unsigned err)
{
	switch (err) {
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_UNKNOWN_HOST:
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_SSL_CONNECTION_ERROR:
	case CR_IPSOCK_ERROR:
	case CR_SERVER_HANDSHAKE_ERR:
	case ER_CON_COUNT_ERROR:
	case ER_SERVER_SHUTDOWN:
		return CAIRN_E_CONNECT;
	case ER_ACCESS_DENIED_ERROR:
	case ER_DBACCESS_DENIED_ERROR:
	case ER_NOT_SUPPORTED_AUTH_MODE:
	case CR_AUTH_PLUGIN_CANNOT_LOAD:
	case 1698: /* ER_ACCESS_DENIED_NO_PASSWORD_ERROR */
	case 1820: /* ER_MUST_CHANGE_PASSWORD */
	case 1862: /* ER_MUST_CHANGE_PASSWORD_LOGIN */
		return CAIRN_E_AUTH;
	case ER_BAD_DB_ERROR:
		return CAIRN_E_NOT_FOUND;
	case ER_LOCK_DEADLOCK:
	case ER_LOCK_WAIT_TIMEOUT:
		return CAIRN_E_TRANSIENT;
	case ER_TABLEACCESS_DENIED_ERROR:
	case ER_COLUMNACCESS_DENIED_ERROR:
	case ER_SPECIFIC_ACCESS_DENIED_ERROR:
		return CAIRN_E_PERMISSION;
	case CR_OUT_OF_MEMORY:
		return CAIRN_E_NOMEM;
	default:
		return CAIRN_E_BACKEND;
	}
}

int mysql_plugin_error(struct my_inst *my, unsigned err, const char *msg, const char *what,
		       const char *name)
{
	char line[512];
	int status = status_of(err);

	if (my->tx != CP_TX_NONE)
		my->tx_failed = 1;
	one_line(msg, line, sizeof line);
	if (name != NULL)
		return cp_fail(my->host, status, "%s '%s': %s", what, name, line);
	return cp_fail(my->host, status, "%s: %s", what, line);
}

int mysql_plugin_conn_error(struct my_inst *my, const char *what, const char *name)
{
	return mysql_plugin_error(my, mysql_errno(my->conn), mysql_error(my->conn), what, name);
}

int mysql_plugin_stmt_error(struct my_inst *my, MYSQL_STMT *st, const char *what,
			    const char *name)
{
	return mysql_plugin_error(my, mysql_stmt_errno(st), mysql_stmt_error(st), what, name);
}

/* Runs a statement that returns no rows (a stray result is read and dropped). */
int mysql_plugin_exec(struct my_inst *my, const char *sql, const char *what)
{
	MYSQL_RES *res;

	if (my->busy)
		return cp_fail(my->host, CAIRN_E_INVALID,
			       "%s: a cursor is still open on the connection", what);
	if (mysql_real_query(my->conn, sql, (unsigned long)strlen(sql)) != 0)
		return mysql_plugin_conn_error(my, what, NULL);
	res = mysql_store_result(my->conn);
	if (res != NULL)
		mysql_free_result(res);
	else if (mysql_field_count(my->conn) != 0)
		return mysql_plugin_conn_error(my, what, NULL);
	return CAIRN_OK;
}

/* `ident` with backticks doubled. */
void mysql_plugin_quote_ident(struct cp_buf *b, const char *ident)
{
	const char *p = ident, *q;

	cp_buf_add(b, "`");
	while ((q = strchr(p, '`')) != NULL) {
		cp_buf_addn(b, p, (size_t)(q - p) + 1);
		cp_buf_add(b, "`");
		p = q + 1;
	}
	cp_buf_add(b, p);
	cp_buf_add(b, "`");
}

/* 'literal', escaped for the connection's character set and sql_mode. */
void mysql_plugin_quote_string(struct my_inst *my, struct cp_buf *b, const char *s, size_t n)
{
	unsigned long l;

	if (n > (SIZE_MAX - 3) / 2 || cp_buf_reserve(b, 2 * n + 3) != 0) {
		b->oom = 1;
		return;
	}
	b->p[b->len++] = '\'';
	l = mysql_real_escape_string(my->conn, b->p + b->len, s, (unsigned long)n);
	b->len += l;
	b->p[b->len++] = '\'';
	b->p[b->len] = '\0';
}

void mysql_plugin_table_free(struct my_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n_cols; i++) {
		free(t->cols[i].name);
		free(t->cols[i].qname);
		free(t->cols[i].data_type);
	}
	free(t->cols);
	free(t->name);
	free(t->qname);
	free(t->tenant_expr);
	/* t->stmt belongs to the restore half, which frees it first. */
	free(t);
}

static uint32_t column_type_of(const char *data_type)
{
	static const struct {
		const char *name;
		uint32_t type;
	} map[] = {
		{"json", CAIRN_COL_JSON},
		{"char", CAIRN_COL_TEXT},       {"varchar", CAIRN_COL_TEXT},
		{"tinytext", CAIRN_COL_TEXT},   {"text", CAIRN_COL_TEXT},
		{"mediumtext", CAIRN_COL_TEXT}, {"longtext", CAIRN_COL_TEXT},
		{"tinyint", CAIRN_COL_INT},     {"smallint", CAIRN_COL_INT},
		{"mediumint", CAIRN_COL_INT},   {"int", CAIRN_COL_INT},
		{"bigint", CAIRN_COL_INT},
		{"datetime", CAIRN_COL_TIMESTAMP}, {"timestamp", CAIRN_COL_TIMESTAMP},
		{"binary", CAIRN_COL_BYTES},    {"varbinary", CAIRN_COL_BYTES},
		{"tinyblob", CAIRN_COL_BYTES},  {"blob", CAIRN_COL_BYTES},
		{"mediumblob", CAIRN_COL_BYTES}, {"longblob", CAIRN_COL_BYTES},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(data_type, map[i].name) == 0)
			return map[i].type;
	return CAIRN_COL_TEXT; /* decimal, enum, set, date, time … travel as their text */
}

/*
 * A generated column says so in EXTRA: "STORED GENERATED" / "VIRTUAL
 * GENERATED" (MariaDB also "PERSISTENT GENERATED"). MySQL 8 writes
 * "DEFAULT_GENERATED" for a real column with an expression default such as
 * DEFAULT CURRENT_TIMESTAMP: that one is not generated.
 */
static int extra_generated(const char *extra)
{
	return extra != NULL &&
	       (strstr(extra, "STORED GENERATED") != NULL ||
		strstr(extra, "VIRTUAL GENERATED") != NULL ||
		strstr(extra, "PERSISTENT GENERATED") != NULL);
}

/*
 * MariaDB's JSON is an alias: LONGTEXT with CHECK (json_valid(`col`)). The
 * table's check constraints are read once (a correlated look-up per column
 * costs the server a scan of every table's constraints each time) and the
 * columns they name become JSON.
 */
static int mark_json_columns(struct my_inst *my, struct my_table *t)
{
	struct cp_buf sql = {0};
	MYSQL_RES *res;
	MYSQL_ROW row;

	cp_buf_add(&sql, "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
			 "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = ");
	mysql_plugin_quote_string(my, &sql, t->name, strlen(t->name));
	if (sql.oom) {
		cp_buf_free(&sql);
		return cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
	}
	if (mysql_real_query(my->conn, sql.p, (unsigned long)sql.len) != 0 ||
	    (res = mysql_store_result(my->conn)) == NULL) {
		cp_buf_free(&sql);
		return mysql_plugin_conn_error(my, "unable to read the constraints of table",
					       t->name);
	}
	cp_buf_free(&sql);
	while ((row = mysql_fetch_row(res)) != NULL) {
		const char *cl = row[0];
		if (cl == NULL || strncmp(cl, "json_valid(", 11) != 0)
			continue;
		for (size_t i = 0; i < t->n_cols; i++) {
			/* "json_valid(`value`)": the quoted name, then ")" and nothing else. */
			size_t l = strlen(t->cols[i].qname);
			if (strcmp(t->cols[i].data_type, "longtext") == 0 &&
			    strncmp(cl + 11, t->cols[i].qname, l) == 0 && strcmp(cl + 11 + l, ")") == 0)
				t->cols[i].ctype = CAIRN_COL_JSON;
		}
	}
	mysql_free_result(res);
	return CAIRN_OK;
}

/*
 * Loads a table's columns from information_schema, in table order. A
 * missing table yields exists = 0, not an error. Uses a buffered result:
 * never call it while a cursor streams.
 */
int mysql_plugin_table_load(struct my_inst *my, const char *table, struct my_table **out)
{
	struct cp_buf sql = {0};
	struct my_table *t;
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	int rc = CAIRN_OK, has_tenant = 0, value_json = 0, maybe_json = 0;
	my_ulonglong n;

	*out = NULL;
	if (my->busy)
		return cp_fail(my->host, CAIRN_E_INVALID,
			       "unable to read the columns of table '%s': a cursor is "
			       "still open on the connection", table);
	t = calloc(1, sizeof *t);
	if (t == NULL)
		return cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
	t->name = cp_strdup(table);
	{
		struct cp_buf q = {0};
		mysql_plugin_quote_ident(&q, table);
		t->qname = q.oom ? NULL : q.p;
		if (q.oom)
			cp_buf_free(&q);
	}
	if (t->name == NULL || t->qname == NULL) {
		mysql_plugin_table_free(t);
		return cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
	}
	cp_buf_add(&sql, "SELECT c.COLUMN_NAME, LOWER(c.DATA_TYPE), c.EXTRA, "
			 "COALESCE(c.DATETIME_PRECISION, 0) "
			 "FROM information_schema.COLUMNS c "
			 "WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = ");
	mysql_plugin_quote_string(my, &sql, table, strlen(table));
	cp_buf_add(&sql, " ORDER BY c.ORDINAL_POSITION");
	if (sql.oom) {
		rc = cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
		goto out;
	}
	if (mysql_real_query(my->conn, sql.p, (unsigned long)sql.len) != 0 ||
	    (res = mysql_store_result(my->conn)) == NULL) {
		rc = mysql_plugin_conn_error(my, "unable to read the columns of table", table);
		goto out;
	}
	n = mysql_num_rows(res);
	t->exists = n > 0;
	t->cols = calloc(n > 0 ? (size_t)n : 1, sizeof *t->cols);
	if (t->cols == NULL) {
		rc = cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
		goto out;
	}
	while ((row = mysql_fetch_row(res)) != NULL) {
		struct my_col *c = &t->cols[t->n_cols];
		struct cp_buf q = {0};
		if (row[0] == NULL || row[1] == NULL)
			continue;
		c->name = cp_strdup(row[0]);
		c->data_type = cp_strdup(row[1]);
		mysql_plugin_quote_ident(&q, row[0]);
		c->qname = q.oom ? NULL : q.p;
		t->n_cols++;
		if (c->name == NULL || c->data_type == NULL || c->qname == NULL) {
			cp_buf_free(&q);
			rc = cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
			goto out;
		}
		c->generated = extra_generated(row[2]);
		c->precision = row[3] ? atoi(row[3]) : 0;
		c->ctype = column_type_of(c->data_type);
		if (my->mariadb && strcmp(c->data_type, "longtext") == 0)
			maybe_json = 1;
		if (strcmp(c->name, "key") == 0 && !c->generated)
			t->has_key = 1;
		if (strcmp(c->name, "tenant_id") == 0)
			has_tenant = 1;
	}
	if (maybe_json) {
		mysql_free_result(res);
		res = NULL;
		rc = mark_json_columns(my, t);
		if (rc != CAIRN_OK)
			goto out;
	}
	for (size_t i = 0; i < t->n_cols; i++)
		if (strcmp(t->cols[i].name, "value") == 0 && t->cols[i].ctype == CAIRN_COL_JSON)
			value_json = 1;
	if (has_tenant || value_json) {
		t->tenant_expr = cp_strdup(
			has_tenant ? "`tenant_id`"
			 : "JSON_UNQUOTE(JSON_EXTRACT(`value`, '$.tenantId'))");
		if (t->tenant_expr == NULL)
			rc = cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
	}
out:
	if (res != NULL)
		mysql_free_result(res);
	cp_buf_free(&sql);
	if (rc != CAIRN_OK) {
		mysql_plugin_table_free(t);
		return rc;
	}
	*out = t;
	return CAIRN_OK;
}

/* 1 if a base table or view `table` exists in the database, 0 if not, <0 on error. */
int mysql_plugin_table_exists(struct my_inst *my, const char *table)
{
	struct cp_buf sql = {0};
	MYSQL_RES *res;
	int rc;

	if (my->busy)
		return cp_fail(my->host, CAIRN_E_INVALID,
			       "unable to look up table '%s': a cursor is still open "
			       "on the connection", table);
	cp_buf_add(&sql, "SELECT 1 FROM information_schema.TABLES "
			 "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ");
	mysql_plugin_quote_string(my, &sql, table, strlen(table));
	if (sql.oom) {
		cp_buf_free(&sql);
		return cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
	}
	if (mysql_real_query(my->conn, sql.p, (unsigned long)sql.len) != 0 ||
	    (res = mysql_store_result(my->conn)) == NULL) {
		cp_buf_free(&sql);
		return mysql_plugin_conn_error(my, "unable to look up table", table);
	}
	cp_buf_free(&sql);
	rc = mysql_num_rows(res) > 0 ? 1 : 0;
	mysql_free_result(res);
	return rc;
}

/*
 * One look at information_schema for flows and flyway_schema_history, then
 * cp_kestra_check's verdict: a non-Kestra database is refused here, before
 * anything is read or written. *has_flyway (may be NULL) says whether a
 * schema version can be read.
 */
int mysql_plugin_kestra_check(struct my_inst *my, int *has_flyway)
{
	static const char sql[] =
		"SELECT COALESCE(SUM(TABLE_NAME = 'flows'), 0), "
		"       COALESCE(SUM(TABLE_NAME = 'flyway_schema_history'), 0) "
		"FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
		"  AND TABLE_NAME IN ('flows', 'flyway_schema_history')";
	struct cp_kestra_probe p = {.schema_exists = 1};
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc;

	if (has_flyway != NULL)
		*has_flyway = 0;
	if (my->busy)
		return cp_fail(my->host, CAIRN_E_INVALID,
			       "unable to read the catalogue: a cursor is still open on the connection");
	if (mysql_real_query(my->conn, sql, (unsigned long)strlen(sql)) != 0 ||
	    (res = mysql_store_result(my->conn)) == NULL)
		return mysql_plugin_conn_error(my, "unable to read the catalogue", NULL);
	row = mysql_fetch_row(res);
	p.has_flows = row != NULL && row[0] != NULL && strcmp(row[0], "0") != 0;
	p.has_flyway = row != NULL && row[1] != NULL && strcmp(row[1], "0") != 0;
	mysql_free_result(res);
	rc = cp_kestra_check(my->host, my->database, NULL, &p);
	if (rc == CAIRN_OK && has_flyway != NULL)
		*has_flyway = p.has_flyway;
	return rc;
}

/*
 * The version of the last successful versioned migration, or NULL; only
 * called once mysql_plugin_kestra_check found flyway_schema_history.
 */
int mysql_plugin_schema_version(struct my_inst *my, char **out)
{
	static const char sql[] =
		"SELECT version FROM flyway_schema_history "
		"WHERE success AND version IS NOT NULL "
		"ORDER BY installed_rank DESC LIMIT 1";
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc = CAIRN_OK;

	*out = NULL;
	if (mysql_real_query(my->conn, sql, (unsigned long)strlen(sql)) != 0 ||
	    (res = mysql_store_result(my->conn)) == NULL)
		return mysql_plugin_conn_error(my, "unable to read", "flyway_schema_history");
	row = mysql_fetch_row(res);
	if (row != NULL && row[0] != NULL) {
		*out = cp_strdup(row[0]);
		if (*out == NULL)
			rc = cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
	}
	mysql_free_result(res);
	return rc;
}

/* ------------------------------------------------------------------ open */

/*
 * mysql://[user[:password]@]host[:port][/database][?k=v&…] (also
 * mariadb://), IPv6 hosts in brackets. Escapes are decoded strictly: a
 * stray '%' or an escaped NUL is refused rather than sent to the server.
 * *database points into u->path (NULL when the URI names none). Returns 0,
 * or -1 with *why set.
 */
static int uri_parse(const char *uri, struct cp_uri *u, const char **database, const char **why)
{
	memset(u, 0, sizeof *u);
	*database = NULL;
	if (strncmp(uri, "mysql://", 8) != 0 && strncmp(uri, "mariadb://", 10) != 0) {
		*why = "expected mysql://[user@]host[:port]/database";
		return -1;
	}
	if (cp_uri_parse(uri, CP_URI_STRICT, u, why) != 0)
		return -1;
	if (u->path[0] == '/' && u->path[1] != '\0') {
		*database = u->path + 1;
		if (strchr(*database, '/') != NULL) {
			*why = "the path must be one database name";
			cp_uri_free(u);
			*database = NULL;
			return -1;
		}
	}
	return 0;
}

/* Known options; query-string parameters of the URI use the same names. */
static const char *const known_opts[] = {
	"password", "connect_timeout", "option_file", "option_group", "socket",
	"ssl_mode", "ssl_ca", "ssl_capath", "ssl_cert", "ssl_key", "ssl_cipher", NULL};

static int known_opt(const char *k)
{
	for (int i = 0; known_opts[i] != NULL; i++)
		if (strcmp(k, known_opts[i]) == 0)
			return 1;
	return 0;
}

/* Options after the query string's parameters: value of `key`, options first. */
struct my_params {
	const struct cairn_option *opts;
	size_t n_opts;
	struct cairn_option q[16];
	size_t n_q;
};

static const char *param(const struct my_params *p, const char *key)
{
	const char *v = cp_opt_get(p->opts, p->n_opts, key);

	return v != NULL ? v : cp_opt_get(p->q, p->n_q, key);
}

/* Splits the query string (modified in place) into q[]. */
static int query_split(const struct cairn_host *host, char *query, struct my_params *p)
{
	char *save = NULL;

	if (query == NULL)
		return CAIRN_OK;
	for (char *kv = strtok_r(query, "&", &save); kv != NULL; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		int bad = 0;
		char *dv;
		if (eq == NULL)
			return host->set_error(host, CAIRN_E_INVALID,
					       "URI parameter '%s' has no value", kv);
		*eq = '\0';
		if (!known_opt(kv) || strcmp(kv, "password") == 0)
			return host->set_error(host, CAIRN_E_INVALID,
					       "unknown URI parameter '%s' (known: connect_timeout, "
					       "option_file, option_group, socket, ssl_mode, ssl_ca, "
					       "ssl_capath, ssl_cert, ssl_key, ssl_cipher)", kv);
		if (p->n_q == sizeof p->q / sizeof p->q[0])
			return host->set_error(host, CAIRN_E_INVALID, "too many URI parameters");
		/* Decoded in place: a decoded string is never longer. */
		dv = cp_pct_decode(eq + 1, strlen(eq + 1), CP_URI_STRICT, &bad);
		if (dv == NULL)
			return host->set_error(host, bad ? CAIRN_E_INVALID : CAIRN_E_NOMEM,
					       bad ? "invalid percent-escape in URI parameter '%s'"
						   : "out of memory (%s)", kv);
		memcpy(eq + 1, dv, strlen(dv) + 1);
		free(dv);
		p->q[p->n_q].key = kv;
		p->q[p->n_q].value = eq + 1;
		p->n_q++;
	}
	return CAIRN_OK;
}

static void inst_free(struct my_inst *my)
{
	if (my == NULL)
		return;
	mysql_plugin_restore_reset(my);
	if (my->conn != NULL)
		mysql_close(my->conn);
	free(my->database);
	free(my->backend);
	free(my->schema_version);
	free(my);
}

/*
 * The session every statement relies on: utf8mb4 text, UTC timestamps,
 * strict mode so that a value too long for its column is an error rather
 * than a silent truncation, and long network timeouts so that a backup
 * paused by the core (uploading a chunk) is not cut off by the server.
 */
static int session_setup(struct my_inst *my)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	const char *info;
	int rc;

	if (mysql_set_character_set(my->conn, "utf8mb4") != 0)
		return mysql_plugin_conn_error(my, "unable to set the character set to utf8mb4",
					       NULL);
	rc = mysql_plugin_exec(my,
			       "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,"
			       "NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', "
			       "time_zone = '+00:00', net_write_timeout = 3600, "
			       "net_read_timeout = 3600, wait_timeout = 28800, "
			       "group_concat_max_len = 1048576",
			       "unable to set up the session");
	if (rc != CAIRN_OK)
		return rc;
	info = mysql_get_server_info(my->conn);
	my->server_version = mysql_get_server_version(my->conn);
	my->mariadb = info != NULL && strstr(info, "MariaDB") != NULL;
	if (mysql_real_query(my->conn, "SELECT DATABASE()", 17) != 0 ||
	    (res = mysql_store_result(my->conn)) == NULL)
		return mysql_plugin_conn_error(my, "unable to read the current database", NULL);
	row = mysql_fetch_row(res);
	if (row == NULL || row[0] == NULL) {
		mysql_free_result(res);
		return cp_fail(my->host, CAIRN_E_INVALID,
			       "no database selected: name it in the URI "
			       "(mysql://user@host:3306/kestra)");
	}
	my->database = cp_strdup(row[0]);
	mysql_free_result(res);
	if (my->database == NULL)
		return cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
	return CAIRN_OK;
}

static int set_opt(struct my_inst *my, enum mysql_option o, const void *v, const char *name)
{
	if (mysql_optionsv(my->conn, o, v) != 0)
		return cp_fail(my->host, CAIRN_E_INVALID, "option '%s' was refused", name);
	return CAIRN_OK;
}

static int tls_setup(struct my_inst *my, const struct my_params *p)
{
	static const struct {
		const char *name;
		enum mysql_option opt;
	} files[] = {
		{"ssl_ca", MYSQL_OPT_SSL_CA},     {"ssl_capath", MYSQL_OPT_SSL_CAPATH},
		{"ssl_cert", MYSQL_OPT_SSL_CERT}, {"ssl_key", MYSQL_OPT_SSL_KEY},
		{"ssl_cipher", MYSQL_OPT_SSL_CIPHER},
	};
	const char *mode = param(p, "ssl_mode");
	my_bool yes = 1;
	int rc, any = 0;

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		const char *v = param(p, files[i].name);
		if (v == NULL)
			continue;
		rc = set_opt(my, files[i].opt, v, files[i].name);
		if (rc != CAIRN_OK)
			return rc;
		any = 1;
	}
	if (mode == NULL)
		return CAIRN_OK;
	if (strcasecmp(mode, "disabled") == 0) {
		if (any)
			return cp_fail(my->host, CAIRN_E_INVALID,
				       "ssl_mode=DISABLED contradicts the ssl_* files given");
		return CAIRN_OK;
	}
	if (strcasecmp(mode, "preferred") == 0)
		return CAIRN_OK;
	if (strcasecmp(mode, "required") == 0)
		return set_opt(my, MYSQL_OPT_SSL_ENFORCE, &yes, "ssl_mode");
	if (strcasecmp(mode, "verify_ca") == 0 || strcasecmp(mode, "verify_identity") == 0) {
		rc = set_opt(my, MYSQL_OPT_SSL_ENFORCE, &yes, "ssl_mode");
		if (rc == CAIRN_OK)
			rc = set_opt(my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes, "ssl_mode");
		return rc;
	}
	return cp_fail(my->host, CAIRN_E_INVALID,
		       "option 'ssl_mode' must be DISABLED, PREFERRED, REQUIRED, "
		       "VERIFY_CA or VERIFY_IDENTITY, not '%s'", mode);
}

static int mysql_plugin_open(const struct cairn_host *host, const char *uri,
			     const struct cairn_option *opts, size_t n_opts, void **inst)
{
	struct cp_uri u;
	struct my_params p = {0};
	const char *why = NULL, *password = NULL, *opt, *socket_path, *database;
	struct my_inst *my;
	unsigned timeout = 10;
	long v;
	int rc;

	if (host == NULL || inst == NULL || !CAIRN_HOST_HAS(host, set_error) ||
	    !CAIRN_HOST_HAS(host, log))
		return CAIRN_E_INVALID;
	if (uri == NULL)
		return host->set_error(host, CAIRN_E_INVALID,
				       "not a MySQL URI: expected mysql://[user@]host[:port]/database");
	if (n_opts > 0 && opts == NULL)
		return host->set_error(host, CAIRN_E_INVALID, "options missing");
	for (size_t i = 0; i < n_opts; i++) {
		if (opts[i].key == NULL || opts[i].value == NULL)
			return host->set_error(host, CAIRN_E_INVALID, "option without key or value");
		if (strcmp(opts[i].key, "password") == 0)
			cp_redact(host, opts[i].value);
		if (!known_opt(opts[i].key))
			return host->set_error(host, CAIRN_E_INVALID,
					       "unknown option '%s' (known: password, "
					       "connect_timeout, option_file, option_group, socket, "
					       "ssl_mode, ssl_ca, ssl_capath, ssl_cert, ssl_key, "
					       "ssl_cipher)", opts[i].key);
	}
	if (uri_parse(uri, &u, &database, &why) != 0)
		return host->set_error(host, strcmp(why, "out of memory") == 0 ? CAIRN_E_NOMEM
									      : CAIRN_E_INVALID,
				       "invalid MySQL URI: %s", why);
	cp_redact(host, u.password);
	p.opts = opts;
	p.n_opts = n_opts;
	rc = query_split(host, u.query, &p);
	if (rc != CAIRN_OK) {
		cp_uri_free(&u);
		return rc;
	}

	my = calloc(1, sizeof *my);
	if (my == NULL) {
		cp_uri_free(&u);
		return host->set_error(host, CAIRN_E_NOMEM, "out of memory");
	}
	my->host = host;
	my->conn = mysql_init(NULL);
	if (my->conn == NULL) {
		rc = host->set_error(host, CAIRN_E_NOMEM, "out of memory");
		goto fail;
	}

	/* Password: option, URI, MYSQL_PWD, the configuration, then the option file. */
	password = cp_opt_get(opts, n_opts, "password");
	if (password == NULL)
		password = u.password;
	if (password == NULL)
		password = getenv("MYSQL_PWD");
	if (password == NULL && CAIRN_HOST_HAS(host, config_get))
		password = host->config_get(host, MY_NAME, "password");
	cp_redact(host, password);

	opt = param(&p, "connect_timeout");
	if (opt != NULL) {
		if (cp_parse_long(opt, 0, 3600, &v) != 0) {
			rc = host->set_error(host, CAIRN_E_INVALID,
					     "option 'connect_timeout' must be 0…3600 seconds, not '%s'",
					     opt);
			goto fail;
		}
		timeout = (unsigned)v;
	}
	if (timeout > 0 &&
	    (rc = set_opt(my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout, "connect_timeout")) != CAIRN_OK)
		goto fail;
	opt = param(&p, "option_file");
	if (opt == NULL && CAIRN_HOST_HAS(host, config_get))
		opt = host->config_get(host, MY_NAME, "option_file");
	if (opt != NULL) {
		const char *group = param(&p, "option_group");
		if ((rc = set_opt(my, MYSQL_READ_DEFAULT_FILE, opt, "option_file")) != CAIRN_OK ||
		    (rc = set_opt(my, MYSQL_READ_DEFAULT_GROUP, group ? group : "client",
				  "option_group")) != CAIRN_OK)
			goto fail;
	} else if (param(&p, "option_group") != NULL) {
		rc = host->set_error(host, CAIRN_E_INVALID,
				     "option 'option_group' needs 'option_file'");
		goto fail;
	}
	rc = tls_setup(my, &p);
	if (rc != CAIRN_OK)
		goto fail;
	{
		const char *prog = "cairn";
		mysql_optionsv(my->conn, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", prog);
	}
	socket_path = param(&p, "socket");

	if (mysql_real_connect(my->conn, u.host && *u.host ? u.host : NULL, u.user, password,
			       database, u.port, socket_path, CLIENT_FOUND_ROWS) == NULL) {
		char line[512];
		unsigned err = mysql_errno(my->conn);
		one_line(mysql_error(my->conn), line, sizeof line);
		/* Named by us: the server's own words depend on its lc_messages. */
		if (err == ER_BAD_DB_ERROR && database != NULL)
			rc = host->set_error(host, status_of(err),
					     "unable to connect to MySQL: database '%s' does not "
					     "exist (%s)", database, line);
		else
			rc = host->set_error(host, status_of(err), "unable to connect to MySQL: %s",
					     line);
		goto fail;
	}
	rc = session_setup(my);
	if (rc != CAIRN_OK)
		goto fail;
	cp_uri_free(&u);
	*inst = my;
	return CAIRN_OK;
fail:
	cp_uri_free(&u);
	inst_free(my);
	return rc;
}

static void mysql_plugin_close(void *inst)
{
	struct my_inst *my = inst;

	if (my == NULL)
		return;
	if (my->tx != CP_TX_NONE && !my->busy)
		mysql_real_query(my->conn, "ROLLBACK", 8);
	my->tx = CP_TX_NONE;
	inst_free(my);
}

static int mysql_plugin_describe(void *inst, struct cairn_source_desc *out)
{
	struct my_inst *my = inst;
	int has_flyway, rc;
	char *sv;

	if (my == NULL || out == NULL)
		return CAIRN_E_INVALID;
	if (my->backend == NULL) {
		/* "10.11.6-MariaDB-0+deb12u1" → "mariadb 10.11.6"; "8.0.36" → "mysql 8.0.36" */
		const char *ver = mysql_get_server_info(my->conn);
		size_t n;
		if (ver == NULL)
			ver = "unknown";
		/* MariaDB 10 behind old replication prefixes its version with "5.5.5-". */
		if (strncmp(ver, "5.5.5-", 6) == 0 && my->mariadb)
			ver += 6;
		n = strcspn(ver, "- ");
		my->backend = malloc(n + 16);
		if (my->backend == NULL)
			return cp_fail(my->host, CAIRN_E_NOMEM, "out of memory");
		snprintf(my->backend, n + 16, "%s %.*s", my->mariadb ? "mariadb" : "mysql", (int)n,
			 ver);
	}
	/* The backup's first call: a database that is not Kestra's stops here. */
	rc = mysql_plugin_kestra_check(my, &has_flyway);
	if (rc == CAIRN_OK && has_flyway)
		rc = mysql_plugin_schema_version(my, &sv);
	else
		sv = NULL;
	if (rc != CAIRN_OK)
		return rc;
	free(my->schema_version);
	my->schema_version = sv;
	cp_source_desc_set(out, my->backend, my->schema_version);
	return CAIRN_OK;
}

static const struct cairn_source_vtable mysql_plugin_vtable = {
	.struct_size = sizeof(struct cairn_source_vtable),
	.features = 0,
	.open = mysql_plugin_open,
	.close = mysql_plugin_close,
	.describe = mysql_plugin_describe,
	.snapshot_begin = mysql_plugin_snapshot_begin,
	.snapshot_end = mysql_plugin_snapshot_end,
	.kind_exists = mysql_plugin_kind_exists,
	.cursor_open = mysql_plugin_cursor_open,
	.cursor_next = mysql_plugin_cursor_next,
	.cursor_close = mysql_plugin_cursor_close,
	.restore_begin = mysql_plugin_restore_begin,
	.restore_delete_scope = mysql_plugin_restore_delete_scope,
	.restore_write = mysql_plugin_restore_write,
	.restore_commit = mysql_plugin_restore_commit,
	.restore_rollback = mysql_plugin_restore_rollback,
	.restore_write_batch = mysql_plugin_restore_write_batch,
	.cursor_open_scoped = mysql_plugin_cursor_open_scoped,
	.restore_delete_scoped = mysql_plugin_restore_delete_scoped,
	.list_tenants = mysql_plugin_list_tenants,
};

static const char *const mysql_plugin_schemes[] = {"mysql", "mariadb", NULL};

CAIRN_PLUGIN_DEFINE(.name = MY_NAME, .version = "0.1.0",
		    .description = "MySQL/MariaDB source (Kestra JDBC schema, MariaDB Connector/C)",
		    .kind = CAIRN_PLUGIN_KIND_SOURCE, .schemes = mysql_plugin_schemes,
		    .vtable = &mysql_plugin_vtable, .abi_minor = 3 /* scopes with a time window */)
CAIRN_PLUGIN_NOTE(source, MY_NAME, "mysql mariadb", 3)
