/* uri.c — see uri.h. */
#define _POSIX_C_SOURCE 200809L
#include "uri.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "run.h"

int core_uri_scheme(const char *uri, char *buf, size_t cap)
{
	const char *sep = strstr(uri, "://");
	size_t n = sep ? (size_t)(sep - uri) : 0;
	if (!sep || n == 0 || n >= cap)
		return core_error_set(CAIRN_E_INVALID, "'%s' is not a URI (expected scheme://…)", uri);
	for (size_t i = 0; i < n; i++) {
		char c = uri[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
			return core_error_set(CAIRN_E_INVALID, "'%s' is not a URI (bad scheme)", uri);
		buf[i] = c;
	}
	buf[n] = '\0';
	return CAIRN_OK;
}

/* Object names: relative, '/'-separated, no empty, "." or ".." segment. */
static int name_valid(const char *name)
{
	if (!*name || *name == '/')
		return 0;
	const char *seg = name;
	for (;;) {
		const char *end = strchr(seg, '/');
		size_t len = end ? (size_t)(end - seg) : strlen(seg);
		if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
		if (!end)
			return 1;
		seg = end + 1;
	}
}

/* The part of uri after the storage location's URI and a '/', or NULL. */
static const char *under_storage(const struct core_run *run, const char *uri)
{
	const char *base = run->storage_uri;
	if (!base)
		return NULL;
	size_t n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	const char *sep = strstr(base, "://");
	if (!sep || (size_t)(sep - base) + 3 >= n || strncmp(uri, base, n) != 0 || uri[n] != '/')
		return NULL; /* the root "file:///" keeps the plain split below */
	return uri + n + 1;
}

int core_uri_split(struct core_run *run, const char *uri, char **location, char **name)
{
	const char *rel;
	*location = *name = NULL;
	if (strncmp(uri, "cairn:///", 9) == 0) {
		rel = uri + 9;
		if (!name_valid(rel))
			return core_fail(run, CORE_EXIT_USAGE,
					 core_error_set(CAIRN_E_INVALID, "'%s' does not name a backup", uri));
		*location = strdup(run->storage_uri);
		*name = strdup(rel);
	} else if ((rel = under_storage(run, uri)) != NULL) {
		/* a URI cairn printed for the configured storage: its name is relative to
		 * that location, so the plugin sees (and checks) every directory of it */
		if (!name_valid(rel))
			return core_fail(run, CORE_EXIT_USAGE,
					 core_error_set(CAIRN_E_INVALID, "'%s' does not name a backup", uri));
		*location = strdup(run->storage_uri);
		*name = strdup(rel);
	} else {
		char scheme[32];
		int rc = core_uri_scheme(uri, scheme, sizeof(scheme));
		if (rc)
			return core_fail(run, CORE_EXIT_USAGE, rc);
		const char *slash = strrchr(uri, '/');
		const char *after = strstr(uri, "://") + 3;
		if (!slash || slash < after || !name_valid(slash + 1))
			return core_fail(run, CORE_EXIT_USAGE,
					 core_error_set(CAIRN_E_INVALID, "'%s' does not name a backup", uri));
		*location = strndup(uri, (size_t)(slash - uri));
		*name = strdup(slash + 1);
		/* "file:///x.cairn": the location is the root directory */
		if (*location && strcmp(*location + strlen(*location) - 2, ":/") == 0) {
			free(*location);
			*location = strndup(uri, (size_t)(slash - uri) + 1);
		}
	}
	if (!*location || !*name) {
		free(*location);
		free(*name);
		return core_fail(run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
	}
	return CAIRN_OK;
}
