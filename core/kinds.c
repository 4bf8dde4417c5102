/* kinds.c — see kinds.h. Defaults follow KESTRA.md; Enterprise names are assumed. */
#define _POSIX_C_SOURCE 200809L
#include "kinds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/status.h"
#include "config.h"
#include "error.h"
#include "files.h"

/*
 * Every resource Kestra's backup documentation names (docs/operations.md,
 * §3), open-source tables from KESTRA.md, Enterprise tables assumed as
 * plural snake_case. `data` kinds are execution data: only --include-data
 * backs them up.
 */
static const struct {
	const char *kind, *table;
	uint32_t scope;
	int data;
	const char *time_column, *time_field; /* what --since compares (data kinds) */
} defaults[] = {
	{"APP", "apps", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"AUDIT_LOG", "audit_logs", CAIRN_SCOPE_TENANT, 1, "date", "date"},
	{"BANNER", "banners", CAIRN_SCOPE_INSTANCE, 0, NULL, NULL},
	{"BINDING", "bindings", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"BLUEPRINT", "blueprints", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"CREDENTIAL", "credentials", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"DASHBOARD", "dashboards", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"EXECUTION", "executions", CAIRN_SCOPE_TENANT, 1, "start_date", "state.startDate"},
	{"FLOW", "flows", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"GROUP", "groups", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"INVITATION", "invitations", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"KILL_SWITCH", "kill_switches", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"KV", "kv_metadata", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"LOG", "logs", CAIRN_SCOPE_TENANT, 1, "timestamp", "timestamp"},
	{"METRIC", "metrics", CAIRN_SCOPE_TENANT, 1, "timestamp", "timestamp"},
	{"NAMESPACE", "namespaces", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"NAMESPACE_FILE", "namespace_file_metadata", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"ROLE", "roles", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"SECRET", "secrets", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"SECURITY_INTEGRATION", "security_integrations", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"SETTING", "settings", CAIRN_SCOPE_INSTANCE, 0, NULL, NULL},
	{"TEMPLATE", "templates", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"TENANT", "tenants", CAIRN_SCOPE_INSTANCE, 0, NULL, NULL},
	{"TENANT_ACCESS", "tenant_access", CAIRN_SCOPE_INSTANCE, 0, NULL, NULL},
	{"TEST_RUN", "test_runs", CAIRN_SCOPE_TENANT, 1, "start_date", "startDate"},
	{"TEST_SUITE", "test_suites", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"TRIGGER", "triggers", CAIRN_SCOPE_TENANT, 0, NULL, NULL},
	{"USER", "users", CAIRN_SCOPE_INSTANCE, 0, NULL, NULL},
	{"WORKER_GROUP", "worker_groups", CAIRN_SCOPE_INSTANCE, 0, NULL, NULL},
};

int core_kind_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_'))
			return 0;
	return 1;
}

int core_kinds_index(const struct core_kinds *k, const char *kind)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->v[i].kind, kind) == 0)
			return (int)i;
	return -1;
}

const struct cairn_kind_desc *core_kinds_find(const struct core_kinds *k, const char *kind)
{
	int i = core_kinds_index(k, kind);
	return i < 0 ? NULL : &k->v[i];
}

static int by_text(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "APP, AUDIT_LOG, …": the catalogue and the file-only kinds, sorted. */
static void valid_names(const struct core_kinds *k, char *out, size_t cap)
{
	const char **v = malloc((k->n + CORE_FK_N) * sizeof(*v));
	size_t n = 0, used = 0;
	out[0] = '\0';
	if (!v)
		return;
	for (size_t j = 0; j < k->n; j++)
		v[n++] = k->v[j].kind;
	for (int f = 0; f < CORE_FK_N; f++)
		if (core_kinds_index(k, core_fkind_names[f]) < 0)
			v[n++] = core_fkind_names[f];
	qsort(v, n, sizeof(*v), by_text);
	for (size_t j = 0; j < n && used < cap; j++)
		used += (size_t)snprintf(out + used, cap - used, "%s%s", j ? ", " : "", v[j]);
	free(v);
}

/* Mark `name` in sel: a catalogue kind, a file kind, or both; -1 if neither. */
static int select_name(const struct core_kinds *k, const char *name, unsigned char *sel)
{
	int i = core_kinds_index(k, name), f = core_fkind_index(name);
	if (i < 0 && f < 0)
		return -1;
	if (i >= 0)
		sel[i] = 1;
	if (f >= 0)
		sel[k->n + (size_t)f] = 1;
	int kv = core_kinds_index(k, "KV");
	if (f == CORE_FK_KV && kv >= 0 && !sel[kv])
		sel[kv] = 2; /* the values without their rows are no KV entries */
	return 0;
}

int core_kinds_select(const struct core_kinds *k, const char *list, unsigned char *sel)
{
	memset(sel, 0, k->n + CORE_FK_N);
	size_t picked = 0;
	for (const char *s = list; *s;) {
		const char *end = strchr(s, ',');
		size_t n = end ? (size_t)(end - s) : strlen(s);
		while (n && (*s == ' ' || *s == '\t'))
			s++, n--;
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		char name[80];
		int i = -1;
		if (n && n < sizeof(name)) {
			for (size_t j = 0; j < n; j++)
				name[j] = (char)(s[j] >= 'a' && s[j] <= 'z' ? s[j] - 'a' + 'A' : s[j]);
			name[n] = '\0';
			i = select_name(k, name, sel);
		}
		if (i < 0) {
			char valid[2048];
			valid_names(k, valid, sizeof(valid));
			return core_error_set(CAIRN_E_INVALID, "unknown resource '%.*s'; valid: %s",
					      (int)(n < 64 ? n : 64), s, valid);
		}
		picked++;
		if (!end)
			break;
		s = end + 1;
	}
	if (!picked)
		return core_error_set(CAIRN_E_INVALID, "--resources needs at least one kind");
	return CAIRN_OK;
}

static int add(struct core_kinds *k, const char *kind, const char *table, uint32_t scope,
	       int data)
{
	unsigned char *dv = realloc(k->data, k->n + 1);
	if (!dv)
		return CAIRN_E_NOMEM;
	k->data = dv;
	k->data[k->n] = (unsigned char)data;
	struct cairn_kind_desc *v = realloc(k->v, (k->n + 1) * sizeof(*v));
	if (!v)
		return CAIRN_E_NOMEM;
	k->v = v;
	struct cairn_kind_desc *d = &k->v[k->n];
	d->struct_size = sizeof(*d);
	d->kind = strdup(kind);
	d->table = strdup(table);
	d->index = strdup(table);
	d->scope = scope;
	d->time_column = NULL;
	d->time_field = NULL;
	if (!d->kind || !d->table || !d->index) {
		free((char *)d->kind);
		free((char *)d->table);
		free((char *)d->index);
		return CAIRN_E_NOMEM;
	}
	k->n++;
	return CAIRN_OK;
}

static int set_str(const char **slot, const char *value)
{
	char *v = strdup(value);
	if (!v)
		return CAIRN_E_NOMEM;
	free((char *)*slot);
	*slot = v;
	return CAIRN_OK;
}

static int override(void *ud, const char *key, const char *value)
{
	struct core_kinds *k = ud;
	char name[80];
	const char *dot = strchr(key, '.');
	size_t len = dot ? (size_t)(dot - key) : strlen(key);
	if (len >= sizeof(name))
		return core_error_set(CAIRN_E_INVALID, "configuration [kinds]: kind name too long: '%s'", key);
	memcpy(name, key, len);
	name[len] = '\0';
	if (!core_kind_name_valid(name))
		return core_error_set(CAIRN_E_INVALID,
				      "configuration [kinds]: '%s' is not a kind name (A-Z, 0-9, _)", name);
	int i = core_kinds_index(k, name);
	if (i < 0 && core_fkind_index(name) >= 0)
		return core_error_set(CAIRN_E_INVALID,
				      "configuration [kinds]: %s is internal-storage content, not a table", name);
	if (i < 0) {
		char lower[80];
		for (size_t j = 0; j <= len; j++)
			lower[j] = (char)(name[j] >= 'A' && name[j] <= 'Z' ? name[j] - 'A' + 'a' : name[j]);
		int rc = add(k, name, dot ? lower : value, CAIRN_SCOPE_TENANT, 0);
		if (rc || !dot)
			return rc;
		i = (int)k->n - 1;
	}
	struct cairn_kind_desc *d = &k->v[i];
	if (!dot) {
		int rc = set_str(&d->table, value);
		return rc ? rc : set_str(&d->index, value);
	}
	if (strcmp(dot, ".table") == 0)
		return set_str(&d->table, value);
	if (strcmp(dot, ".index") == 0)
		return set_str(&d->index, value);
	if (strcmp(dot, ".scope") == 0) {
		if (strcmp(value, "tenant") == 0)
			d->scope = CAIRN_SCOPE_TENANT;
		else if (strcmp(value, "instance") == 0)
			d->scope = CAIRN_SCOPE_INSTANCE;
		else
			return core_error_set(CAIRN_E_INVALID,
					      "configuration [kinds] %s: scope must be tenant or instance", key);
		return CAIRN_OK;
	}
	if (strcmp(dot, ".time_column") == 0)
		return set_str(&d->time_column, value);
	if (strcmp(dot, ".time_field") == 0)
		return set_str(&d->time_field, value);
	if (strcmp(dot, ".data") == 0) {
		if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0) {
			k->data[i] = value[0] == 't';
			return CAIRN_OK;
		}
		return core_error_set(CAIRN_E_INVALID,
				      "configuration [kinds] %s: data must be true or false", key);
	}
	return core_error_set(CAIRN_E_INVALID, "configuration [kinds]: unknown key '%s'", key);
}

/* Sorted by name; an insertion sort keeps the two arrays in step (n ≤ a few dozen). */
static void sort_kinds(struct core_kinds *k)
{
	for (size_t i = 1; i < k->n; i++)
		for (size_t j = i; j > 0 && strcmp(k->v[j - 1].kind, k->v[j].kind) > 0; j--) {
			struct cairn_kind_desc t = k->v[j];
			k->v[j] = k->v[j - 1];
			k->v[j - 1] = t;
			unsigned char d = k->data[j];
			k->data[j] = k->data[j - 1];
			k->data[j - 1] = d;
		}
}

int core_kinds_load(struct core_kinds *k)
{
	k->v = NULL;
	k->data = NULL;
	k->n = 0;
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		int rc = add(k, defaults[i].kind, defaults[i].table, defaults[i].scope,
			     defaults[i].data);
		if (!rc && defaults[i].time_column)
			rc = set_str(&k->v[k->n - 1].time_column, defaults[i].time_column);
		if (!rc && defaults[i].time_field)
			rc = set_str(&k->v[k->n - 1].time_field, defaults[i].time_field);
		if (rc)
			return rc;
	}
	int rc = core_config_each("kinds", override, k);
	if (rc)
		return rc;
	sort_kinds(k);
	return CAIRN_OK;
}

void core_kinds_free(struct core_kinds *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free((char *)k->v[i].kind);
		free((char *)k->v[i].table);
		free((char *)k->v[i].index);
		free((char *)k->v[i].time_column);
		free((char *)k->v[i].time_field);
	}
	free(k->v);
	free(k->data);
	k->v = NULL;
	k->data = NULL;
	k->n = 0;
}
