/* config.c — see config.h. A flat list: configurations hold a few dozen keys. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cairn/status.h"
#include "error.h"
#include "log.h"

struct entry {
	char *section, *key, *value;
};

static struct entry *entries;
static size_t n_entries;

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int core_config_set(const char *section, const char *key, const char *value)
{
	for (size_t i = 0; i < n_entries; i++) {
		if (strcmp(entries[i].section, section) == 0 && strcmp(entries[i].key, key) == 0) {
			char *v = strdup(value);
			if (!v)
				return CAIRN_E_NOMEM;
			free(entries[i].value);
			entries[i].value = v;
			return CAIRN_OK;
		}
	}
	struct entry *e = realloc(entries, (n_entries + 1) * sizeof(*e));
	if (!e)
		return CAIRN_E_NOMEM;
	entries = e;
	e = &entries[n_entries];
	e->section = strdup(section);
	e->key = strdup(key);
	e->value = strdup(value);
	if (!e->section || !e->key || !e->value) {
		free(e->section);
		free(e->key);
		free(e->value);
		return CAIRN_E_NOMEM;
	}
	n_entries++;
	return CAIRN_OK;
}

const char *core_config_get(const char *section, const char *key)
{
	for (size_t i = 0; i < n_entries; i++)
		if (strcmp(entries[i].section, section) == 0 && strcmp(entries[i].key, key) == 0)
			return entries[i].value;
	return NULL;
}

static int is_secret_key(const char *section, const char *key)
{
	return (strcmp(section, "encryption") == 0 && strcmp(key, "secret-key") == 0) ||
	       strstr(key, "password") != NULL || strstr(key, "secret") != NULL;
}

int core_config_load(const char *path, int must_exist)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		if (!must_exist && errno == ENOENT)
			return CAIRN_OK;
		return core_error_set(CAIRN_E_INVALID, "unable to read configuration '%s': %s", path,
				      strerror(errno));
	}
	struct stat st;
	int loose = fstat(fileno(f), &st) == 0 && (st.st_mode & 077);
	char line[4096], section[128] = "";
	int lineno = 0, rc = CAIRN_OK, warned = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end || end[1] != '\0' || end - s - 1 >= (long)sizeof(section)) {
				rc = core_error_set(CAIRN_E_INVALID, "%s:%d: malformed section header",
						    path, lineno);
				break;
			}
			*end = '\0';
			snprintf(section, sizeof(section), "%s", trim(s + 1));
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq || !*section) {
			rc = core_error_set(CAIRN_E_INVALID, "%s:%d: expected 'key = value' inside a [section]",
					    path, lineno);
			break;
		}
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		if (is_secret_key(section, key)) {
			core_log_redact_add(value);
			if (loose && !warned++)
				core_warn("configuration '%s' holds secrets but is readable by other users; "
					  "chmod 600 it", path);
		}
		if ((rc = core_config_set(section, key, value)) != CAIRN_OK)
			break;
	}
	fclose(f);
	return rc;
}

int core_config_each(const char *section, int (*cb)(void *ud, const char *key, const char *value),
		     void *ud)
{
	for (size_t i = 0; i < n_entries; i++) {
		if (strcmp(entries[i].section, section) != 0)
			continue;
		int rc = cb(ud, entries[i].key, entries[i].value);
		if (rc)
			return rc;
	}
	return CAIRN_OK;
}

void core_config_free(void)
{
	for (size_t i = 0; i < n_entries; i++) {
		free(entries[i].section);
		free(entries[i].key);
		free(entries[i].value);
	}
	free(entries);
	entries = NULL;
	n_entries = 0;
}
