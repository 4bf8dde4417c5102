/* plugin_record.c — see plugin_record.h. */
#include <stdlib.h>
#include <string.h>

#include "plugin_record.h"
#include "plugin_util.h"

int cp_record_valid(const struct cairn_host *host, const struct cairn_record *rec,
		    size_t max_len, unsigned flags)
{
	if (rec->struct_size < offsetof(struct cairn_record, columns) + sizeof rec->columns)
		return cp_fail(host, CAIRN_E_INVALID, "record struct too small");
	if (rec->key == NULL)
		return cp_fail(host, CAIRN_E_INVALID, "record without key");
	if (rec->n_columns > 0 && rec->columns == NULL)
		return cp_fail(host, CAIRN_E_INVALID, "record '%s' without columns", rec->key);
	if (rec->n_columns > CP_RECORD_MAX_COLUMNS)
		return cp_fail(host, CAIRN_E_INVALID, "record '%s' has too many columns", rec->key);
	for (size_t i = 0; i < rec->n_columns; i++) {
		const struct cairn_column *c = &rec->columns[i];
		if (c->name == NULL || *c->name == '\0')
			return cp_fail(host, CAIRN_E_INVALID,
				       "record '%s' has a column without name", rec->key);
		if (c->type > CAIRN_COL_BYTES)
			return cp_fail(host, CAIRN_E_INVALID,
				       "column '%s' of record '%s' has unknown type %u", c->name,
				       rec->key, (unsigned)c->type);
		if (c->type != CAIRN_COL_NULL && c->data == NULL && c->len > 0)
			return cp_fail(host, CAIRN_E_INVALID,
				       "column '%s' of record '%s' has no data", c->name, rec->key);
		if (c->len > max_len)
			return cp_fail(host, CAIRN_E_INVALID,
				       "column '%s' of record '%s' is too large", c->name, rec->key);
		if ((flags & CP_RECORD_NO_NUL) && c->type != CAIRN_COL_NULL &&
		    c->type != CAIRN_COL_BYTES && c->len > 0 &&
		    memchr(c->data, '\0', c->len) != NULL)
			return cp_fail(host, CAIRN_E_INVALID,
				       "column '%s' of record '%s' contains a NUL byte", c->name,
				       rec->key);
	}
	return CAIRN_OK;
}

int cp_kind_table(const struct cairn_host *host, const struct cairn_kind_desc *kind)
{
	if (kind == NULL || kind->table == NULL || *kind->table == '\0')
		return cp_fail(host, CAIRN_E_INVALID, "kind '%s' has no table",
			       kind && kind->kind ? kind->kind : "?");
	return CAIRN_OK;
}

int cp_table_key_check(const struct cairn_host *host, const char *table, int has_key)
{
	if (!has_key)
		return cp_fail(host, CAIRN_E_SCHEMA, "table '%s' has no column 'key'", table);
	return CAIRN_OK;
}

int cp_table_found(const struct cairn_host *host, const char *table, int exists,
		   const char *where, const char *where_name)
{
	if (!exists)
		return cp_fail(host, CAIRN_E_NOT_FOUND, "table '%s' does not exist in %s '%s'",
			       table, where, where_name);
	return CAIRN_OK;
}

int cp_cursor_table_check(const struct cairn_host *host, const char *table, int exists,
			  int has_key, int has_tenant_expr, const struct cp_scope *scope,
			  const char *where, const char *where_name)
{
	int rc = cp_table_found(host, table, exists, where, where_name);

	if (rc == CAIRN_OK)
		rc = cp_table_key_check(host, table, has_key);
	if (rc == CAIRN_OK)
		rc = cp_scope_table_check(host, table, has_tenant_expr, scope,
					  "it cannot be filtered");
	return rc;
}

int cp_record_columns_check(const struct cairn_host *host, const struct cairn_record *rec,
			    const char *table_name, cp_col_lookup_fn lookup,
			    const void *table, int *have_key)
{
	*have_key = 0;
	for (size_t i = 0; i < rec->n_columns; i++) {
		const char *name = rec->columns[i].name;
		switch (lookup(table, name)) {
		case CP_COL_MISSING:
			return cp_fail(host, CAIRN_E_SCHEMA, "table '%s' has no column '%s'",
				       table_name, name);
		case CP_COL_GENERATED:
			return cp_fail(host, CAIRN_E_SCHEMA,
				       "column '%s' of table '%s' is generated: it cannot be restored",
				       name, table_name);
		default:
			break;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(rec->columns[j].name, name) == 0)
				return cp_fail(host, CAIRN_E_INVALID,
					       "record '%s' has column '%s' twice", rec->key, name);
		*have_key |= strcmp(name, "key") == 0;
	}
	return CAIRN_OK;
}

char **cp_names_new(const struct cairn_record *rec, int synthetic_key, size_t *n)
{
	size_t off = synthetic_key ? 1 : 0, count = rec->n_columns + off;
	char **names = calloc(count ? count : 1, sizeof *names);

	if (names == NULL)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		names[i] = cp_strdup(i < off ? "key" : rec->columns[i - off].name);
		if (names[i] == NULL) {
			cp_names_free(names, i);
			return NULL;
		}
	}
	*n = count;
	return names;
}

void cp_names_free(char **names, size_t n)
{
	if (names == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int cp_names_match(char *const *names, size_t n, int synthetic_key,
		   const struct cairn_record *rec)
{
	size_t off = synthetic_key ? 1 : 0;

	if (n != rec->n_columns + off)
		return 0;
	for (size_t i = 0; i < rec->n_columns; i++)
		if (strcmp(names[i + off], rec->columns[i].name) != 0)
			return 0;
	return 1;
}

int cp_rowmap_init(const struct cairn_host *host, struct cp_rowmap *m, size_t n)
{
	m->n = n;
	m->used = 0;
	m->key_field = 0;
	m->have_key = 0;
	m->colidx = calloc(n ? n : 1, sizeof *m->colidx);
	m->cols = calloc(n ? n : 1, sizeof *m->cols);
	if (m->colidx == NULL || m->cols == NULL)
		return cp_fail(host, CAIRN_E_NOMEM, "out of memory");
	m->rec.struct_size = sizeof m->rec;
	m->rec.n_columns = n;
	m->rec.columns = m->cols;
	return CAIRN_OK;
}

void cp_rowmap_add(struct cp_rowmap *m, size_t idx, const char *name)
{
	if (m->used >= m->n)
		return;
	if (!m->have_key && strcmp(name, "key") == 0) {
		m->key_field = m->used;
		m->have_key = 1;
	}
	m->colidx[m->used] = idx;
	m->cols[m->used].name = name;
	m->used++;
}

void cp_rowmap_free(struct cp_rowmap *m)
{
	free(m->colidx);
	free(m->cols);
	m->colidx = NULL;
	m->cols = NULL;
}
