/*
 * uri.h — the URIs a command is given: their scheme, and a backup URI cut
 * into a storage location and an object name.
 */
#ifndef CORE_URI_H
#define CORE_URI_H

#include <stddef.h>

struct core_run;

/* The scheme of a URI ("postgresql"), lower-cased into buf; CAIRN_E_INVALID if none. */
int core_uri_scheme(const char *uri, char *buf, size_t cap);

/*
 * Resolve a backup URI to a storage location and an object name:
 *   cairn:///backups/full/x.cairn     → the configured storage, "backups/full/x.cairn"
 *   <configured storage>/backups/…    → the same (so the plugin checks every directory)
 *   file:///srv/b/x.cairn             → location "file:///srv/b", name "x.cairn"
 * Names are relative, '/'-separated, without empty, "." or ".." segments
 * (exit 2 otherwise). The caller frees *location and *name.
 */
int core_uri_split(struct core_run *run, const char *uri, char **location, char **name);

#endif /* CORE_URI_H */
