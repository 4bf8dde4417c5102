/*
 * plugin_record.h — checks and column bookkeeping that the in-tree SQL
 * source plugins (postgresql, mysql) apply in the same way to the kinds,
 * tables and records the core hands them. Internal: never installed.
 *
 * The plugins keep their own table and statement structs (their catalogue
 * and SQL differ); these helpers take the few facts they need as arguments.
 * Errors are reported through host->set_error and returned.
 */
#ifndef CAIRN_PLUGIN_COMMON_PLUGIN_RECORD_H
#define CAIRN_PLUGIN_COMMON_PLUGIN_RECORD_H

#include <stddef.h>

#include "cairn/host.h"
#include "cairn/source.h"
#include "plugin_scope.h"

/* Most columns a record may have: the limit the SDK documents for every record. */
#define CP_RECORD_MAX_COLUMNS CAIRN_RECORD_MAX_COLUMNS

/* cp_record_valid flag: text columns must not contain a NUL byte. */
#define CP_RECORD_NO_NUL 1u

/*
 * Checks what the core's record says before anything is sent: struct size,
 * key, column array, names, types, data, lengths up to max_len bytes and,
 * with CP_RECORD_NO_NUL, no NUL byte in a non-BYTES column. CAIRN_OK or
 * CAIRN_E_INVALID.
 */
int cp_record_valid(const struct cairn_host *host, const struct cairn_record *rec,
		    size_t max_len, unsigned flags);

/* CAIRN_E_INVALID "kind '…' has no table" when the kind names no table, else CAIRN_OK. */
int cp_kind_table(const struct cairn_host *host, const struct cairn_kind_desc *kind);

/*
 * CAIRN_E_NOT_FOUND "table '…' does not exist in <where> '<where_name>'"
 * when !exists, else CAIRN_OK.
 */
int cp_table_found(const struct cairn_host *host, const char *table, int exists,
		   const char *where, const char *where_name);

/*
 * The checks before a table is read by a cursor: it exists (cp_table_found),
 * it has a real "key" column, and, unless the scope is ANY, it has a tenant
 * expression (cp_scope_table_check).
 */
int cp_cursor_table_check(const struct cairn_host *host, const char *table, int exists,
			  int has_key, int has_tenant_expr, const struct cp_scope *scope,
			  const char *where, const char *where_name);

/* CAIRN_E_SCHEMA "table '…' has no column 'key'" when !has_key, else CAIRN_OK. */
int cp_table_key_check(const struct cairn_host *host, const char *table, int has_key);

/*
 * What the plugin's table says of a column: CP_COL_MISSING, CP_COL_REAL or
 * CP_COL_GENERATED (computed by the server, never written).
 */
enum cp_col_state { CP_COL_MISSING = 0, CP_COL_REAL = 1, CP_COL_GENERATED = 2 };
typedef int (*cp_col_lookup_fn)(const void *table, const char *name);

/*
 * Before a statement is built for a record's column list: every column is a
 * real column of `table` (CAIRN_E_SCHEMA) and none appears twice
 * (CAIRN_E_INVALID). *have_key is set to 1 when the record has a "key"
 * column, else to 0 (the statement then binds rec->key as a synthetic one).
 */
int cp_record_columns_check(const struct cairn_host *host, const struct cairn_record *rec,
			    const char *table_name, cp_col_lookup_fn lookup,
			    const void *table, int *have_key);

/*
 * The column names a statement is built for, in parameter order: "key"
 * first when synthetic_key, then the record's. Returns a heap array of
 * *n heap strings (cp_names_free), or NULL when memory is short.
 */
char **cp_names_new(const struct cairn_record *rec, int synthetic_key, size_t *n);
void cp_names_free(char **names, size_t n);

/* Does a statement built for names[0..n) (see cp_names_new) fit this record? */
int cp_names_match(char *const *names, size_t n, int synthetic_key,
		   const struct cairn_record *rec);

/*
 * A cursor's record: the table's real (non-generated) columns, in table
 * order, as result fields 0..n-1 (a plugin may select more fields after
 * them, such as the tenant). rec points at cols; the names are borrowed
 * from the plugin's table, the data from the current row.
 */
struct cp_rowmap {
	size_t n;                  /* record columns */
	size_t used;               /* fields added so far */
	size_t *colidx;            /* table column index per field */
	size_t key_field;          /* the field holding "key" (the first one) */
	int have_key;
	struct cairn_column *cols;
	struct cairn_record rec;
};

/* Room for n fields, rec set up; CAIRN_E_NOMEM (reported) when memory is short. */
int cp_rowmap_init(const struct cairn_host *host, struct cp_rowmap *m, size_t n);
/* The next field is table column `idx`, named `name`; at most n fields are added. */
void cp_rowmap_add(struct cp_rowmap *m, size_t idx, const char *name);
void cp_rowmap_free(struct cp_rowmap *m);

#endif /* CAIRN_PLUGIN_COMMON_PLUGIN_RECORD_H */
