/* kinds.c — see kinds.h. Defaults follow KESTRA.md; Enterprise names are assumed. */
#define _POSIX_C_SOURCE 200809L
#include "kinds.h"

#include <stdlib.h>
#include <string.h>

#include "cairn/status.h"
#include "config.h"
#include "error.h"

static const struct {
	const char *kind, *table;
	uint32_t scope;
} defaults[] = {
	{"BINDING", "bindings", CAIRN_SCOPE_TENANT},
	{"BLUEPRINT", "blueprints", CAIRN_SCOPE_TENANT},
	{"DASHBOARD", "dashboards", CAIRN_SCOPE_TENANT},
	{"FLOW", "flows", CAIRN_SCOPE_TENANT},
	{"GROUP", "groups", CAIRN_SCOPE_TENANT},
	{"KV", "kv_metadata", CAIRN_SCOPE_TENANT},
	{"NAMESPACE", "namespaces", CAIRN_SCOPE_TENANT},
	{"NAMESPACE_FILE", "namespace_file_metadata", CAIRN_SCOPE_TENANT},
	{"ROLE", "roles", CAIRN_SCOPE_TENANT},
	{"SECRET", "secrets", CAIRN_SCOPE_TENANT},
	{"SECURITY_INTEGRATION", "security_integrations", CAIRN_SCOPE_TENANT},
	{"SETTING", "settings", CAIRN_SCOPE_INSTANCE},
	{"TEMPLATE", "templates", CAIRN_SCOPE_TENANT},
	{"TENANT", "tenants", CAIRN_SCOPE_INSTANCE},
	{"TENANT_ACCESS", "tenant_access", CAIRN_SCOPE_INSTANCE},
	{"TRIGGER", "triggers", CAIRN_SCOPE_TENANT},
	{"USER", "users", CAIRN_SCOPE_INSTANCE},
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

static int add(struct core_kinds *k, const char *kind, const char *table, uint32_t scope)
{
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
	if (i < 0) {
		char lower[80];
		for (size_t j = 0; j <= len; j++)
			lower[j] = (char)(name[j] >= 'A' && name[j] <= 'Z' ? name[j] - 'A' + 'a' : name[j]);
		int rc = add(k, name, dot ? lower : value, CAIRN_SCOPE_TENANT);
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
	return core_error_set(CAIRN_E_INVALID, "configuration [kinds]: unknown key '%s'", key);
}

static int by_kind(const void *a, const void *b)
{
	return strcmp(((const struct cairn_kind_desc *)a)->kind,
		      ((const struct cairn_kind_desc *)b)->kind);
}

int core_kinds_load(struct core_kinds *k)
{
	k->v = NULL;
	k->n = 0;
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		int rc = add(k, defaults[i].kind, defaults[i].table, defaults[i].scope);
		if (rc)
			return rc;
	}
	int rc = core_config_each("kinds", override, k);
	if (rc)
		return rc;
	qsort(k->v, k->n, sizeof(*k->v), by_kind);
	return CAIRN_OK;
}

void core_kinds_free(struct core_kinds *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free((char *)k->v[i].kind);
		free((char *)k->v[i].table);
		free((char *)k->v[i].index);
	}
	free(k->v);
	k->v = NULL;
	k->n = 0;
}
