/*
 * mysql.h — internal declarations of the MySQL/MariaDB source plugin.
 * Never installed; shared by mysql.c, mysql_read.c and mysql_restore.c only.
 *
 * The file is named after the plugin, as in every plugin folder; the
 * connector's own header is included as <mysql.h> from /usr/include/mariadb,
 * so this one is always included with quotes as "mysql.h" only from this
 * folder and includes the connector's header by its full path.
 */
#ifndef CAIRN_PLUGIN_MYSQL_H
#define CAIRN_PLUGIN_MYSQL_H

#include <stddef.h>
#include <stdint.h>

#include <mariadb/mysql.h>

#include "cairn/host.h"
#include "cairn/source.h"
#include "cairn/status.h"
#include "plugin_record.h"
#include "plugin_scope.h"
#include "plugin_util.h"
#include "plugin_buf.h"

#define MY_NAME "mysql"

/* One column of a table, as information_schema describes it. */
struct my_col {
	char *name;       /* column name, unquoted */
	char *qname;      /* `name`, quoted */
	char *data_type;  /* information_schema DATA_TYPE, lower case ("longtext") */
	uint32_t ctype;   /* enum cairn_column_type it travels as */
	int generated;    /* STORED/VIRTUAL GENERATED: never written */
	int precision;    /* DATETIME_PRECISION of datetime/timestamp columns */
};

/* A prepared statement kept for the next chunk of the same number of rows. */
struct my_prep {
	MYSQL_STMT *st;
	size_t k;            /* rows it was prepared for */
};

/* The statements of one column list of one table (mysql_restore.c). */
struct my_stmt {
	size_t n;            /* record columns, key included (synthetic or not) */
	size_t *col;         /* index into table->cols, per record column */
	char **rec_names;    /* record column names in order (key may be synthetic) */
	int synthetic_key;   /* 1 when the record had no "key" column: column 0 is rec->key */
	size_t key_pos;      /* position of the key among the n columns */
	/* SQL fragments the k-row statements are built from */
	char *look_head;     /* "SELECT d.p, <all equal>, t.`key` FROM (SELECT 0 AS p, ? AS c0, …" */
	char *look_row;      /* ", ?, ?, …": the n placeholders of rows 1… */
	char *look_tail;     /* ") AS d STRAIGHT_JOIN `t` AS t ON t.`key` = d.cK FOR UPDATE" */
	char *ins_head;      /* "INSERT INTO t (…) VALUES " */
	char *ins_row;       /* "(?, ?, …)" */
	char *ups_tail;      /* " ON DUPLICATE KEY UPDATE …" */
	struct my_prep look, ins, ups;
};

/* A table as seen in the target schema, cached during one restore. */
struct my_table {
	char *name;
	char *qname;         /* `table`, quoted */
	struct my_col *cols;
	size_t n_cols;
	int exists;
	int has_key;         /* a real column named "key" */
	int lookup;          /* a write met an existing key: look each chunk up first */
	char *tenant_expr;   /* SQL yielding the tenant id, or NULL when the table has none */
	struct my_stmt *stmt;
	struct my_table *next;
};

struct my_inst {
	const struct cairn_host *host;
	MYSQL *conn;
	char *database;        /* the connection's database (DATABASE()) */
	char *backend;         /* "mariadb 10.11.6", "mysql 8.0.36" */
	char *schema_version;  /* from flyway_schema_history, or NULL */
	int mariadb;           /* the server is MariaDB (else MySQL) */
	unsigned long server_version; /* 100611 for 10.6.11 */
	int tx;                /* enum cp_tx */
	int tx_failed;         /* a statement failed inside the transaction */
	int dry_run;
	int busy;              /* a streaming result (cursor) is open on the connection */
	size_t chunk_bytes;    /* restore: most bytes of values per statement (max_allowed_packet) */
	struct my_table *tables; /* restore cache */
};

/* mysql.c */
int mysql_plugin_error(struct my_inst *my, unsigned err, const char *msg, const char *what,
		       const char *name);
int mysql_plugin_conn_error(struct my_inst *my, const char *what, const char *name);
int mysql_plugin_stmt_error(struct my_inst *my, MYSQL_STMT *st, const char *what,
			    const char *name);
int mysql_plugin_exec(struct my_inst *my, const char *sql, const char *what);
void mysql_plugin_quote_ident(struct cp_buf *b, const char *ident);
void mysql_plugin_quote_string(struct my_inst *my, struct cp_buf *b, const char *s, size_t n);
int mysql_plugin_table_load(struct my_inst *my, const char *table, struct my_table **out);
void mysql_plugin_table_free(struct my_table *t);
int mysql_plugin_kestra_check(struct my_inst *my, int *has_flyway);
int mysql_plugin_schema_version(struct my_inst *my, char **out);
int mysql_plugin_table_exists(struct my_inst *my, const char *table);

/* mysql_read.c */
void mysql_plugin_tenant_eq(void *my, struct cp_buf *b, const char *expr, const char *tenant);
int mysql_plugin_snapshot_begin(void *inst);
int mysql_plugin_snapshot_end(void *inst);
int mysql_plugin_kind_exists(void *inst, const struct cairn_kind_desc *kind);
int mysql_plugin_cursor_open(void *inst, const struct cairn_kind_desc *kind,
			     const char *tenant, void **cursor);
int mysql_plugin_cursor_open_scoped(void *inst, const struct cairn_kind_desc *kind,
				    const struct cairn_scope *scope, void **cursor);
int mysql_plugin_list_tenants(void *inst, const struct cairn_kind_desc *kind,
			      cairn_tenant_cb cb, void *ud);
int mysql_plugin_cursor_next(void *cursor, const struct cairn_record **rec);
void mysql_plugin_cursor_close(void *cursor);

/* mysql_restore.c */
int mysql_plugin_restore_begin(void *inst, const struct cairn_restore_opts *opts);
int mysql_plugin_restore_delete_scope(void *inst, const struct cairn_kind_desc *kind,
				      const char *tenant);
int mysql_plugin_restore_delete_scoped(void *inst, const struct cairn_kind_desc *kind,
				       const struct cairn_scope *scope);
int mysql_plugin_restore_write(void *inst, const struct cairn_kind_desc *kind,
			       const struct cairn_record *rec, int *outcome);
int mysql_plugin_restore_write_batch(void *inst, const struct cairn_kind_desc *kind,
				     const struct cairn_record *const *recs, size_t n,
				     int *outcomes);
int mysql_plugin_restore_commit(void *inst);
int mysql_plugin_restore_rollback(void *inst);
void mysql_plugin_restore_reset(struct my_inst *my);

#endif /* CAIRN_PLUGIN_MYSQL_H */
