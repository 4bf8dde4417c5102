/*
 * postgresql.c — the PostgreSQL source plugin: entry point, connection,
 * describe, and the helpers the read and restore halves share (error
 * mapping, catalogue look-ups).
 *
 * See README.md in this folder for the options and the decisions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/plugin.h"
#include "postgresql.h"

/*
 * libpq messages span several lines ("…failed: FATAL:  password
 * authentication failed…\n\tIs the server running…"): keep the first
 * non-empty line, drop the severity prefixes and trailing blanks or period.
 */
const char *postgresql_first_line(const char *msg, char *buf, size_t size)
{
	static const char *const prefixes[] = {"FATAL:  ", "ERROR:  ", "PANIC:  ", NULL};
	const char *p = msg ? msg : "";
	size_t n, o = 0;

	if (size == 0)
		return "";
	while (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t')
		p++;
	n = strcspn(p, "\r\n");
	while (n > 0 && o + 1 < size) {
		int skipped = 0;
		for (int i = 0; prefixes[i] != NULL; i++) {
			size_t l = strlen(prefixes[i]);
			if (n >= l && strncmp(p, prefixes[i], l) == 0) {
				p += l;
				n -= l;
				skipped = 1;
				break;
			}
		}
		if (skipped)
			continue;
		buf[o++] = *p++;
		n--;
	}
	while (o > 0 && (buf[o - 1] == ' ' || buf[o - 1] == '\t' || buf[o - 1] == '.'))
		o--;
	buf[o] = '\0';
	if (o == 0)
		snprintf(buf, size, "unknown error");
	return buf;
}

/*
 * A failed statement: the connection's state picks the code (a lost
 * connection is CONNECT, serialisation failures and deadlocks TRANSIENT),
 * the server's primary message the text.
 */
int postgresql_result_error(struct pg_inst *pg, const PGresult *res, const char *what,
			    const char *name)
{
	char line[512];
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	int status = CAIRN_E_BACKEND;

	if (pg->tx != CP_TX_NONE)
		pg->tx_failed = 1;
	if (primary != NULL)
		postgresql_first_line(primary, line, sizeof line);
	else
		postgresql_first_line(PQerrorMessage(pg->conn), line, sizeof line);
	if (PQstatus(pg->conn) == CONNECTION_BAD)
		status = CAIRN_E_CONNECT;
	else if (state != NULL && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))
		status = CAIRN_E_TRANSIENT;
	else if (state != NULL && (strcmp(state, "42501") == 0))
		status = CAIRN_E_PERMISSION;
	if (name != NULL)
		return cp_fail(pg->host, status, "%s '%s': %s", what, name, line);
	return cp_fail(pg->host, status, "%s: %s", what, line);
}

int postgresql_exec_ok(struct pg_inst *pg, const char *sql, const char *what)
{
	PGresult *res = PQexec(pg->conn, sql);
	int rc = CAIRN_OK;

	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = postgresql_result_error(pg, res, what, NULL);
	PQclear(res);
	return rc;
}

/*
 * A cursor's COPY holds the connection until it is read to the end or
 * closed: any other statement meanwhile is refused here, with the reason,
 * rather than by libpq ("another command is already in progress").
 */
int postgresql_conn_idle(struct pg_inst *pg)
{
	if (pg->copy == NULL)
		return CAIRN_OK;
	return cp_fail(pg->host, CAIRN_E_INVALID,
		       "a cursor of table '%s' is still reading: read it to the end or close it "
		       "first", pg->copy_table ? pg->copy_table : "?");
}

/*
 * JIT off for the transaction (PostgreSQL 11 and later have it): a COPY
 * of a whole table, and each batch's upsert, cost more than jit_above_cost
 * in the planner's eyes, and compiling their expressions took longer than
 * running them (measured: LLVM's passes were most of a restore into a
 * full target).
 */
int postgresql_jit_off(struct pg_inst *pg, const char *what)
{
	if (PQserverVersion(pg->conn) < 110000)
		return CAIRN_OK;
	return postgresql_exec_ok(pg, "SET LOCAL jit = off", what);
}

char *postgresql_quote_ident(struct pg_inst *pg, const char *ident)
{
	char *q = PQescapeIdentifier(pg->conn, ident, strlen(ident));
	char *d;

	if (q == NULL)
		return NULL;
	d = cp_strdup(q);
	PQfreemem(q);
	return d;
}

/*
 * ONE's comparison: the tenant goes as parameter $1, never into the text,
 * so the statement needs no quoting of it.
 */
void postgresql_tenant_eq(void *pg, struct cp_buf *b, const char *expr, const char *tenant)
{
	(void)pg;
	(void)tenant;
	cp_buf_add(b, "(");
	cp_buf_add(b, expr);
	cp_buf_add(b, ") = $1");
}

void postgresql_table_free(struct pg_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n_cols; i++) {
		free(t->cols[i].name);
		free(t->cols[i].type);
		free(t->cols[i].typname);
	}
	free(t->cols);
	postgresql_stmt_free(t->stmt);
	free(t->name);
	free(t->qname);
	free(t->tenant_expr);
	free(t);
}

static uint32_t column_type_of(const char *typname)
{
	static const struct {
		const char *name;
		uint32_t type;
	} map[] = {
		{"jsonb", CAIRN_COL_JSON},       {"json", CAIRN_COL_JSON},
		{"text", CAIRN_COL_TEXT},        {"varchar", CAIRN_COL_TEXT},
		{"bpchar", CAIRN_COL_TEXT},      {"name", CAIRN_COL_TEXT},
		{"int2", CAIRN_COL_INT},         {"int4", CAIRN_COL_INT},
		{"int8", CAIRN_COL_INT},         {"bool", CAIRN_COL_BOOL},
		{"timestamptz", CAIRN_COL_TIMESTAMP}, {"timestamp", CAIRN_COL_TIMESTAMP},
		{"bytea", CAIRN_COL_BYTES},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(typname, map[i].name) == 0)
			return map[i].type;
	return CAIRN_COL_TEXT; /* any other type travels as its text form */
}

/*
 * Loads a table's columns from pg_catalog (attgenerated = '' is what
 * information_schema reports as is_generated = 'NEVER'; the catalogue also
 * gives a castable type name). Domains are followed to their base type for
 * the transport type. A missing table yields exists = 0, not an error.
 */
int postgresql_table_load(struct pg_inst *pg, const char *table, struct pg_table **out)
{
	static const char sql[] =
		"SELECT a.attname, pg_catalog.format_type(a.atttypid, NULL), "
		"       COALESCE(bt.typname, t.typname), a.attgenerated <> '' "
		"FROM pg_catalog.pg_attribute a "
		"JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
		"LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype "
		"WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
		"  AND a.attnum > 0 AND NOT a.attisdropped "
		"ORDER BY a.attnum";
	const char *params[2] = {pg->schema, table};
	struct pg_table *t;
	PGresult *res;
	int rc = CAIRN_OK, n, has_tenant = 0, value_json = 0;

	*out = NULL;
	t = calloc(1, sizeof *t);
	if (t == NULL)
		return cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	t->name = cp_strdup(table);
	{
		char *qt = postgresql_quote_ident(pg, table);
		size_t l = qt ? strlen(pg->qschema) + strlen(qt) + 2 : 0;
		t->qname = qt ? malloc(l) : NULL;
		if (t->qname != NULL)
			snprintf(t->qname, l, "%s.%s", pg->qschema, qt);
		free(qt);
	}
	if (t->name == NULL || t->qname == NULL) {
		postgresql_table_free(t);
		return cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	}
	res = PQexecParams(pg->conn, sql, 2, NULL, params, NULL, NULL, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = postgresql_result_error(pg, res, "unable to read the columns of table", table);
		goto out;
	}
	n = PQntuples(res);
	t->exists = n > 0;
	t->cols = calloc(n > 0 ? (size_t)n : 1, sizeof *t->cols);
	if (t->cols == NULL) {
		rc = cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		struct pg_col *c = &t->cols[i];
		c->name = cp_strdup(PQgetvalue(res, i, 0));
		c->type = cp_strdup(PQgetvalue(res, i, 1));
		c->typname = cp_strdup(PQgetvalue(res, i, 2));
		t->n_cols++;
		if (c->name == NULL || c->type == NULL || c->typname == NULL) {
			rc = cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
			goto out;
		}
		c->generated = strcmp(PQgetvalue(res, i, 3), "t") == 0;
		c->ctype = column_type_of(c->typname);
		if (strcmp(c->name, "key") == 0 && !c->generated)
			t->has_key = 1;
		if (strcmp(c->name, "tenant_id") == 0)
			has_tenant = 1;
		if (strcmp(c->name, "value") == 0 && c->ctype == CAIRN_COL_JSON)
			value_json = 1;
	}
	/* The tenant: the tenant_id column when there is one, else the JSON's tenantId. */
	if (has_tenant || value_json) {
		t->tenant_expr = cp_strdup(has_tenant ? "\"tenant_id\""
						      : "(\"value\" ->> 'tenantId')");
		if (t->tenant_expr == NULL)
			rc = cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	}
out:
	PQclear(res);
	if (rc != CAIRN_OK) {
		postgresql_table_free(t);
		return rc;
	}
	*out = t;
	return CAIRN_OK;
}

/*
 * One look at the catalogue for the schema, flows and flyway_schema_history,
 * then cp_kestra_check's verdict: a non-Kestra database is refused here,
 * before anything is read or written. *has_flyway (may be NULL) says whether
 * a schema version can be read.
 */
int postgresql_kestra_check(struct pg_inst *pg, int *has_flyway)
{
	static const char sql[] =
		"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1), "
		"  EXISTS (SELECT 1 FROM pg_catalog.pg_class c "
		"          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"          WHERE n.nspname = $1 AND c.relname = 'flows' "
		"            AND c.relkind IN ('r', 'p', 'v', 'm', 'f')), "
		"  EXISTS (SELECT 1 FROM pg_catalog.pg_class c "
		"          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"          WHERE n.nspname = $1 AND c.relname = 'flyway_schema_history' "
		"            AND c.relkind IN ('r', 'p', 'v'))";
	const char *params[1] = {pg->schema};
	struct cp_kestra_probe p;
	PGresult *res;
	int rc;

	if (has_flyway != NULL)
		*has_flyway = 0;
	res = PQexecParams(pg->conn, sql, 1, NULL, params, NULL, NULL, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		rc = postgresql_result_error(pg, res, "unable to read the catalogue", NULL);
		PQclear(res);
		return rc;
	}
	p.schema_exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	p.has_flows = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	p.has_flyway = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	PQclear(res);
	rc = cp_kestra_check(pg->host, PQdb(pg->conn), pg->schema, &p);
	if (rc == CAIRN_OK && has_flyway != NULL)
		*has_flyway = p.has_flyway;
	return rc;
}

/*
 * The version of the last successful versioned migration, or NULL; only
 * called once postgresql_kestra_check found flyway_schema_history.
 */
int postgresql_schema_version(struct pg_inst *pg, char **out)
{
	char sql[512];
	PGresult *res;
	int rc = CAIRN_OK;

	*out = NULL;
	snprintf(sql, sizeof sql,
		 "SELECT version FROM %s.flyway_schema_history "
		 "WHERE success AND version IS NOT NULL "
		 "ORDER BY installed_rank DESC LIMIT 1",
		 pg->qschema);
	res = PQexec(pg->conn, sql);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = postgresql_result_error(pg, res, "unable to read",
					     "flyway_schema_history");
	} else if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		*out = cp_strdup(PQgetvalue(res, 0, 0));
		if (*out == NULL)
			rc = cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	}
	PQclear(res);
	return rc;
}

/* ------------------------------------------------------------------ open */

static int contains(const char *hay, const char *needle)
{
	return hay != NULL && strstr(hay, needle) != NULL;
}

/*
 * libpq gives no SQLSTATE for a failed connection, so the class comes from
 * the message: credentials refused → AUTH, unknown database → NOT_FOUND,
 * anything else (refused, timeout, unknown host) → CONNECT.
 */
static int classify_connect_error(const char *msg)
{
	if (contains(msg, "password authentication failed") ||
	    contains(msg, "no password supplied") || contains(msg, "authentication failed") ||
	    contains(msg, "SCRAM authentication") || contains(msg, "no pg_hba.conf entry") ||
	    (contains(msg, "role \"") && contains(msg, "does not exist")) ||
	    contains(msg, "permission denied for database"))
		return CAIRN_E_AUTH;
	if (contains(msg, "database \"") && contains(msg, "does not exist"))
		return CAIRN_E_NOT_FOUND;
	/* Connection options libpq only checks when connecting ("invalid sslmode value"). */
	if (strncmp(msg, "invalid ", 8) == 0)
		return CAIRN_E_INVALID;
	return CAIRN_E_CONNECT;
}

static int uri_scheme_ok(const char *uri)
{
	return strncmp(uri, "postgresql://", 13) == 0 || strncmp(uri, "postgres://", 11) == 0;
}

static void inst_free(struct pg_inst *pg)
{
	if (pg == NULL)
		return;
	postgresql_restore_reset(pg);
	if (pg->conn != NULL)
		PQfinish(pg->conn);
	free(pg->schema);
	free(pg->qschema);
	free(pg->backend);
	free(pg->schema_version);
	cp_buf_free(&pg->scratch);
	free(pg->dup);
	free(pg);
}

static int session_setup(struct pg_inst *pg)
{
	PGresult *res;
	int rc;

	if (PQsetClientEncoding(pg->conn, "UTF8") != 0)
		return cp_fail(pg->host, CAIRN_E_BACKEND, "unable to set client_encoding to UTF8");
	rc = postgresql_exec_ok(pg,
				"SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; "
				"SET extra_float_digits = 3; SET bytea_output = 'hex'; "
				"SET IntervalStyle = 'iso_8601'",
				"unable to set up the session");
	if (rc != CAIRN_OK)
		return rc;
	if (pg->schema == NULL) {
		res = PQexec(pg->conn, "SELECT current_schema()");
		if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
			rc = postgresql_result_error(pg, res, "unable to read the current schema", NULL);
			PQclear(res);
			return rc;
		}
		if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
			PQclear(res);
			return cp_fail(pg->host, CAIRN_E_SCHEMA,
				       "no current schema: no schema of the search_path "
				       "exists; set the option 'schema'");
		}
		pg->schema = cp_strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (pg->schema == NULL)
			return cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	}
	pg->qschema = postgresql_quote_ident(pg, pg->schema);
	if (pg->qschema == NULL)
		return cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
	return CAIRN_OK;
}

static int postgresql_open(const struct cairn_host *host, const char *uri,
		   const struct cairn_option *opts, size_t n_opts, void **inst)
{
	const char *keys[8], *vals[8];
	PQconninfoOption *parsed = NULL;
	char *perr = NULL;
	const char *password = NULL, *timeout = NULL, *opt;
	int uri_has_password = 0, uri_has_timeout = 0, k = 0, rc;
	struct pg_inst *pg;
	long v;

	if (host == NULL || inst == NULL || !CAIRN_HOST_HAS(host, set_error) ||
	    !CAIRN_HOST_HAS(host, log))
		return CAIRN_E_INVALID;
	if (uri == NULL || !uri_scheme_ok(uri))
		return host->set_error(host, CAIRN_E_INVALID,
				       "not a PostgreSQL URI: expected postgresql://[user@]host[:port]/database");
	if (n_opts > 0 && opts == NULL)
		return host->set_error(host, CAIRN_E_INVALID, "options missing");

	pg = calloc(1, sizeof *pg);
	if (pg == NULL)
		return host->set_error(host, CAIRN_E_NOMEM, "out of memory");
	pg->host = host;

	for (size_t i = 0; i < n_opts; i++) {
		static const char *const known[] = {"password", "schema", "connect_timeout",
						    "fetch_size", NULL};
		int ok = 0;
		if (opts[i].key == NULL || opts[i].value == NULL) {
			rc = host->set_error(host, CAIRN_E_INVALID, "option without key or value");
			goto fail;
		}
		for (int j = 0; known[j] != NULL; j++)
			ok |= strcmp(opts[i].key, known[j]) == 0;
		if (strcmp(opts[i].key, "password") == 0)
			cp_redact(host, opts[i].value);
		if (!ok) {
			rc = host->set_error(host, CAIRN_E_INVALID,
					     "unknown option '%s' (known: password, schema, "
					     "connect_timeout, fetch_size)", opts[i].key);
			goto fail;
		}
	}

	parsed = PQconninfoParse(uri, &perr);
	if (parsed == NULL) {
		char line[512];
		rc = host->set_error(host, perr ? CAIRN_E_INVALID : CAIRN_E_NOMEM,
				     "invalid PostgreSQL URI: %s",
				     postgresql_first_line(perr ? perr : "out of memory", line,
							   sizeof line));
		PQfreemem(perr);
		goto fail;
	}
	for (PQconninfoOption *o = parsed; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "password") == 0) {
			uri_has_password = 1;
			cp_redact(host, o->val);
		} else if (strcmp(o->keyword, "connect_timeout") == 0) {
			uri_has_timeout = 1;
		}
	}
	PQconninfoFree(parsed);
	cp_redact(host, getenv("PGPASSWORD"));

	/* Password: option, then the URI, then PGPASSWORD, then the configuration, then .pgpass. */
	password = cp_opt_get(opts, n_opts, "password");
	if (password == NULL && !uri_has_password && getenv("PGPASSWORD") == NULL &&
	    CAIRN_HOST_HAS(host, config_get)) {
		password = host->config_get(host, PG_NAME, "password");
		cp_redact(host, password);
	}

	opt = cp_option(opts, n_opts, host, PG_NAME, "schema");
	if (opt != NULL) {
		if (*opt == '\0') {
			rc = host->set_error(host, CAIRN_E_INVALID, "option 'schema' is empty");
			goto fail;
		}
		pg->schema = cp_strdup(opt);
		if (pg->schema == NULL) {
			rc = host->set_error(host, CAIRN_E_NOMEM, "out of memory");
			goto fail;
		}
	}

	timeout = cp_opt_get(opts, n_opts, "connect_timeout");
	if (timeout != NULL && cp_parse_long(timeout, 0, 3600, &v) != 0) {
		rc = host->set_error(host, CAIRN_E_INVALID,
				     "option 'connect_timeout' must be 0…3600 seconds, not '%s'",
				     timeout);
		goto fail;
	}
	if (timeout == NULL && !uri_has_timeout)
		timeout = "10";
	/*
	 * fetch_size sized the FETCHes of the cursors that backups used before
	 * COPY: still checked, so that a configuration setting it keeps
	 * working and a typo is still caught, but it has no effect any more.
	 */
	opt = cp_opt_get(opts, n_opts, "fetch_size");
	if (opt != NULL && cp_parse_long(opt, 1, 1000000, &v) != 0) {
		rc = host->set_error(host, CAIRN_E_INVALID,
				     "option 'fetch_size' must be 1…1000000, not '%s'", opt);
		goto fail;
	}

	/* Later keywords override what the URI (expanded from dbname) says. */
	keys[k] = "dbname", vals[k++] = uri;
	keys[k] = "fallback_application_name", vals[k++] = "cairn";
	keys[k] = "client_encoding", vals[k++] = "UTF8";
	if (timeout != NULL)
		keys[k] = "connect_timeout", vals[k++] = timeout;
	if (password != NULL)
		keys[k] = "password", vals[k++] = password;
	keys[k] = NULL, vals[k] = NULL;

	pg->conn = PQconnectdbParams(keys, vals, 1);
	if (pg->conn == NULL) {
		rc = host->set_error(host, CAIRN_E_NOMEM, "out of memory");
		goto fail;
	}
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		char line[512];
		const char *msg = PQerrorMessage(pg->conn);
		rc = host->set_error(host, classify_connect_error(msg),
				     "unable to connect to PostgreSQL: %s",
				     postgresql_first_line(msg, line, sizeof line));
		goto fail;
	}
	/* A password libpq took from .pgpass or the environment is a secret too. */
	cp_redact(host, PQpass(pg->conn));
	rc = session_setup(pg);
	if (rc != CAIRN_OK)
		goto fail;
	*inst = pg;
	return CAIRN_OK;
fail:
	inst_free(pg);
	return rc;
}

static void postgresql_close(void *inst)
{
	struct pg_inst *pg = inst;

	if (pg == NULL)
		return;
	if (pg->tx != CP_TX_NONE && PQstatus(pg->conn) == CONNECTION_OK) {
		PGresult *res = PQexec(pg->conn, "ROLLBACK");
		PQclear(res);
		pg->tx = CP_TX_NONE;
	}
	inst_free(pg);
}

static int postgresql_describe(void *inst, struct cairn_source_desc *out)
{
	struct pg_inst *pg = inst;
	const char *ver;
	size_t n;
	int has_flyway, rc;
	char *sv;

	if (pg == NULL || out == NULL)
		return CAIRN_E_INVALID;
	rc = postgresql_conn_idle(pg);
	if (rc != CAIRN_OK)
		return rc;
	if (pg->backend == NULL) {
		/* "15.4 (Debian 15.4-1)" → "postgresql 15.4" */
		ver = PQparameterStatus(pg->conn, "server_version");
		if (ver == NULL)
			ver = "unknown";
		n = strcspn(ver, " ");
		pg->backend = malloc(n + sizeof PG_NAME + 1);
		if (pg->backend == NULL)
			return cp_fail(pg->host, CAIRN_E_NOMEM, "out of memory");
		snprintf(pg->backend, n + sizeof PG_NAME + 1, "%s %.*s", PG_NAME, (int)n, ver);
	}
	/* The backup's first call: a database that is not Kestra's stops here. */
	rc = postgresql_kestra_check(pg, &has_flyway);
	if (rc == CAIRN_OK && has_flyway)
		rc = postgresql_schema_version(pg, &sv);
	else
		sv = NULL;
	if (rc != CAIRN_OK)
		return rc;
	free(pg->schema_version);
	pg->schema_version = sv;
	cp_source_desc_set(out, pg->backend, pg->schema_version);
	return CAIRN_OK;
}

static const struct cairn_source_vtable postgresql_vtable = {
	.struct_size = sizeof(struct cairn_source_vtable),
	.features = 0,
	.open = postgresql_open,
	.close = postgresql_close,
	.describe = postgresql_describe,
	.snapshot_begin = postgresql_snapshot_begin,
	.snapshot_end = postgresql_snapshot_end,
	.kind_exists = postgresql_kind_exists,
	.cursor_open = postgresql_cursor_open,
	.cursor_next = postgresql_cursor_next,
	.cursor_close = postgresql_cursor_close,
	.restore_begin = postgresql_restore_begin,
	.restore_delete_scope = postgresql_restore_delete_scope,
	.restore_write = postgresql_restore_write,
	.restore_write_batch = postgresql_restore_write_batch,
	.cursor_open_scoped = postgresql_cursor_open_scoped,
	.restore_delete_scoped = postgresql_restore_delete_scoped,
	.list_tenants = postgresql_list_tenants,
	.restore_commit = postgresql_restore_commit,
	.restore_rollback = postgresql_restore_rollback,
};

static const char *const postgresql_schemes[] = {"postgresql", "postgres", NULL};

CAIRN_PLUGIN_DEFINE(.name = PG_NAME, .version = "0.1.0",
		    .description = "PostgreSQL source (Kestra JDBC schema, libpq)",
		    .kind = CAIRN_PLUGIN_KIND_SOURCE, .schemes = postgresql_schemes,
		    .vtable = &postgresql_vtable, .abi_minor = 3 /* scopes with a time window */)
CAIRN_PLUGIN_NOTE(source, PG_NAME, "postgresql postgres", 3)
