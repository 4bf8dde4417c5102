/* config.c — see config.h. A flat list: configurations hold a few dozen keys. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ini.h>

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

/*
 * The file is parsed by inih, switched to this format's rules: no comment
 * after a value (values are literal), no continuation lines (an indented
 * line is a line like any other), no byte-order mark, lines of any length,
 * the first error ends the parse. These switches are global in Debian's
 * libinih (a plugin may set them too), so they are set before every parse.
 *
 * inih is laxer than the format in two places, and keeps only 49 bytes of
 * a section name: the reader below sees every line before inih does, and
 * refuses a header with text after its ']' or a name longer than 127 bytes,
 * and a "key: value" line (inih takes ':' for '='). It keeps the section
 * name itself, whole.
 */
enum { REFUSED_HEADER = 1, REFUSED_COLON = 2 };

struct conf_load {
	FILE *f;
	const char *path;
	int lineno;        /* lines begun so far */
	int at_line_start; /* the next chunk inih asks for begins a line */
	int refused;       /* the reader refused line `lineno`: REFUSED_* */
	int loose;         /* the file is readable by group or others */
	int warned;
	int rc;            /* a failure of the handler (memory) */
	char section[128];
};

static char *conf_read(char *str, int num, void *stream)
{
	struct conf_load *c = stream;
	if (c->refused || !fgets(str, num, c->f))
		return NULL;
	size_t len = strlen(str);
	int starts = c->at_line_start;
	c->at_line_start = len > 0 && str[len - 1] == '\n';
	if (!starts)
		return str; /* the rest of a line longer than inih's buffer */
	c->lineno++;
	const char *s = str;
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (*s == '[') {
		const char *end = memchr(s, ']', n);
		if (!end || end != s + n - 1 || end - s - 1 >= (long)sizeof(c->section)) {
			c->refused = REFUSED_HEADER;
			return NULL;
		}
		snprintf(c->section, sizeof(c->section), "%.*s", (int)(end - s - 1), s + 1);
		char *t = trim(c->section);
		memmove(c->section, t, strlen(t) + 1);
	} else if (*s != '#' && *s != ';' && s[strcspn(s, "=:")] == ':') {
		c->refused = REFUSED_COLON;
		return NULL;
	}
	return str;
}

static int conf_entry(void *ud, const char *section, const char *key, const char *value)
{
	struct conf_load *c = ud;
	(void)section; /* possibly cut short: c->section is the whole name */
	if (!*c->section)
		return 0;
	if (is_secret_key(c->section, key)) {
		core_log_redact_add(value);
		if (c->loose && !c->warned++)
			core_warn("configuration '%s' holds secrets but is readable by other users; "
				  "chmod 600 it", c->path);
	}
	c->rc = core_config_set(c->section, key, value);
	return c->rc == CAIRN_OK;
}

int core_config_load(const char *path, int must_exist)
{
	struct conf_load c = {.path = path, .at_line_start = 1};
	c.f = fopen(path, "r");
	if (!c.f) {
		if (!must_exist && errno == ENOENT)
			return CAIRN_OK;
		return core_error_set(CAIRN_E_INVALID, "unable to read configuration '%s': %s", path,
				      strerror(errno));
	}
	struct stat st;
	c.loose = fstat(fileno(c.f), &st) == 0 && (st.st_mode & 077);
	ini_allow_multiline = false;
	ini_allow_inline_comments = false;
	ini_allow_bom = false;
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_initial_alloc = 4096;
	ini_max_line = 1 << 20;
	ini_stop_on_first_error = true;
	int line = ini_parse_stream(conf_read, &c, conf_entry, &c);
	fclose(c.f);
	if (c.rc != CAIRN_OK)
		return c.rc;
	if (line == -2)
		return CAIRN_E_NOMEM;
	if (c.refused == REFUSED_HEADER)
		return core_error_set(CAIRN_E_INVALID, "%s:%d: malformed section header", path,
				      c.lineno);
	if (c.refused == REFUSED_COLON)
		line = c.lineno;
	if (line != 0)
		return core_error_set(CAIRN_E_INVALID,
				      "%s:%d: expected 'key = value' inside a [section]", path, line);
	return CAIRN_OK;
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
