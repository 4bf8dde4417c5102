/*
 * postgresql.h — internal declarations of the PostgreSQL source plugin.
 * Never installed; shared by postgresql.c, postgresql_read.c and
 * postgresql_restore.c only.
 */
#ifndef CAIRN_PLUGIN_POSTGRESQL_H
#define CAIRN_PLUGIN_POSTGRESQL_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "cairn/host.h"
#include "cairn/source.h"
#include "cairn/status.h"
#include "plugin_record.h"
#include "plugin_scope.h"
#include "plugin_util.h"
#include "plugin_buf.h"

#define PG_NAME "postgresql"

struct pg_cursor;

/* One column of a table, as the catalogue describes it. */
struct pg_col {
	char *name;       /* column name, unquoted */
	char *type;       /* format_type(atttypid, NULL): castable type name */
	char *typname;    /* pg_type.typname of the base type ("jsonb", "int4") */
	uint32_t ctype;   /* enum cairn_column_type it travels as */
	int generated;    /* 1 for GENERATED ALWAYS AS (…) STORED (never written) */
};

/*
 * How one column list of one table is written (postgresql_restore.c): its
 * staging table, the COPY statements and the prepared upsert.
 */
struct pg_stmt {
	char name[32];       /* prepared upsert from the staging table */
	char stage[48];      /* staging table, pg_temp.cairn_stage_N */
	size_t n;            /* number of parameters (columns written) */
	size_t *col;         /* index into table->cols, per parameter */
	char **rec_names;    /* record column names in parameter order (key may be synthetic) */
	int synthetic_key;   /* 1 when the record had no "key" column: param 0 is rec->key */
	unsigned char *enc;  /* per parameter: how its value goes into binary COPY */
	int direct_ok;       /* every parameter can be COPYed into the table itself */
	int staged;          /* the staging table exists in this transaction */
	int prepared;        /* the upsert is prepared on the connection */
	char *create_stage;  /* CREATE TEMP TABLE … ON COMMIT DROP */
	char *copy_stage;    /* COPY <stage> (…) FROM STDIN (FORMAT binary) */
	char *copy_direct;   /* COPY <table> (…) FROM STDIN (FORMAT binary) */
	char *insert_sql;    /* the upsert's text */
	struct pg_stmt *next;
};

/* A table as seen in the target schema, cached during one restore. */
struct pg_table {
	char *name;
	char *qname;         /* "schema"."table", quoted */
	struct pg_col *cols;
	size_t n_cols;
	int exists;
	int has_key;         /* a real column named "key" */
	char *tenant_expr;   /* SQL yielding the tenant id, or NULL when the table has none */
	int direct;          /* restore: -1 not looked at yet, 1 COPY straight in, 0 upsert */
	struct pg_stmt *stmt; /* restore: one per column list seen */
	struct pg_table *next;
};

struct pg_inst {
	const struct cairn_host *host;
	PGconn *conn;
	char *schema;          /* schema holding Kestra's tables (unquoted) */
	char *qschema;         /* quoted schema */
	char *backend;         /* "postgresql 15.4" */
	char *schema_version;  /* from flyway_schema_history, or NULL */
	int tx;                /* enum cp_tx */
	int tx_failed;         /* a statement failed inside the transaction */
	unsigned tx_gen;       /* counts transactions: a cursor belongs to one */
	int dry_run;
	unsigned seq;          /* names of statements and staging tables */
	struct pg_cursor *copy; /* the cursor whose COPY holds the connection, or NULL */
	const char *copy_table; /* its table's name (owned by the cursor) */
	struct pg_table *tables; /* restore cache */
	struct cp_buf scratch;   /* restore: COPY data gathered before it goes to libpq */
	unsigned *dup;           /* restore: the run's keys (index + 1), PG_DUP_SLOTS slots */
	int sp_open;             /* restore: the last batch's savepoint is not released yet */
};

/* postgresql.c */
int postgresql_result_error(struct pg_inst *pg, const PGresult *res, const char *what,
			    const char *name);
const char *postgresql_first_line(const char *msg, char *buf, size_t size);
int postgresql_exec_ok(struct pg_inst *pg, const char *sql, const char *what);
int postgresql_conn_idle(struct pg_inst *pg);
int postgresql_jit_off(struct pg_inst *pg, const char *what);
char *postgresql_quote_ident(struct pg_inst *pg, const char *ident);
int postgresql_table_load(struct pg_inst *pg, const char *table, struct pg_table **out);
void postgresql_table_free(struct pg_table *t);
int postgresql_kestra_check(struct pg_inst *pg, int *has_flyway);
int postgresql_schema_version(struct pg_inst *pg, char **out);
void postgresql_tenant_eq(void *pg, struct cp_buf *b, const char *expr, const char *tenant);

/* postgresql_read.c */
int postgresql_snapshot_begin(void *inst);
int postgresql_snapshot_end(void *inst);
int postgresql_kind_exists(void *inst, const struct cairn_kind_desc *kind);
int postgresql_cursor_open(void *inst, const struct cairn_kind_desc *kind,
			   const char *tenant, void **cursor);
int postgresql_cursor_open_scoped(void *inst, const struct cairn_kind_desc *kind,
				  const struct cairn_scope *scope, void **cursor);
int postgresql_list_tenants(void *inst, const struct cairn_kind_desc *kind, cairn_tenant_cb cb,
			    void *ud);
int postgresql_cursor_next(void *cursor, const struct cairn_record **rec);
void postgresql_cursor_close(void *cursor);

/* postgresql_restore.c */
int postgresql_restore_begin(void *inst, const struct cairn_restore_opts *opts);
int postgresql_restore_delete_scope(void *inst, const struct cairn_kind_desc *kind,
				    const char *tenant);
int postgresql_restore_delete_scoped(void *inst, const struct cairn_kind_desc *kind,
				     const struct cairn_scope *scope);
int postgresql_restore_write_batch(void *inst, const struct cairn_kind_desc *kind,
				   const struct cairn_record *const *recs, size_t n, int *outcomes);
int postgresql_restore_write(void *inst, const struct cairn_kind_desc *kind,
			     const struct cairn_record *rec, int *outcome);
int postgresql_restore_commit(void *inst);
int postgresql_restore_rollback(void *inst);
void postgresql_restore_reset(struct pg_inst *pg);
void postgresql_stmt_free(struct pg_stmt *s);

#endif /* CAIRN_PLUGIN_POSTGRESQL_H */
