/*
 * plugin_loader.h — finding, checking and loading plugins. The only code in
 * the core that looks inside a plugin's info and vtable structs.
 *
 * Search order (first plugin of a given name wins; later ones are listed as
 * shadowed): every --plugin-dir, then CAIRN_PLUGIN_PATH (':'-separated),
 * then the configuration's plugins.dir, then the install directory
 * (${libdir}/cairn/plugins). Only files named cairn-*.so are considered.
 *
 * Discovery runs no plugin code in this process (docs/abi.md §5): the scan
 * lists the files and reads each one's plugin note (plugin_note.h); a
 * command loads only the plugin that serves its scheme; a file without a
 * note, and every file `plugins list` / `check` shows, is probed in a child
 * process (plugin_probe.h).
 */
#ifndef CORE_PLUGIN_LOADER_H
#define CORE_PLUGIN_LOADER_H

#include <stddef.h>

#include "cairn/plugin.h"
#include "cairn/source.h"
#include "cairn/storage.h"

/* What is said about a plugin: by its note, or by its info through a probe. */
struct core_plugin_meta {
	char *name;
	char *version;          /* NULL from a note */
	char *description;      /* NULL from a note, or when the plugin has none */
	unsigned kind;          /* enum cairn_plugin_kind */
	unsigned abi_major, abi_minor;
	char **schemes;         /* NULL-terminated, at least one */
};

struct core_plugin {
	char *path;
	void *dl;                              /* loaded in this process; NULL otherwise */
	const struct cairn_plugin_info *info;  /* set once loaded and checked */
	char *refusal;                         /* why it was refused, or NULL */
	int shadowed;                          /* a same-named plugin came first */
	int crashed;                           /* probe crashed, hung or exited; 2: and said so */
	int has_note;                          /* `note` was read from the file */
	struct core_plugin_meta note;
	int known;                             /* `meta` came from a probe (or the load) */
	struct core_plugin_meta meta;
};

struct core_plugins {
	struct core_plugin *v;
	size_t n;
};

/*
 * Load one file into this process and check it. Returns CAIRN_OK with
 * out->info set, or CAIRN_E_PLUGIN with out->refusal set ("<path>: <reason>"
 * is the one-line message); the file is dlclose()d when refused. Never
 * crashes on a bad file that is a valid shared object whose entry point
 * returns garbage *pointers* — but a plugin's own code runs in our process:
 * only call this for a file chosen for a command, or inside a probe child.
 */
int core_plugin_load(const char *path, struct core_plugin *out);

/*
 * List the cairn-*.so files of each directory in order and read their
 * notes. Runs no plugin code; a malformed note refuses the file (refusal
 * set), a missing one leaves has_note 0.
 */
int core_plugins_scan(struct core_plugins *ps, const char *const *dirs, size_t n_dirs);

/* Add one file as the scan would (for `plugins check FILE.so`). */
int core_plugins_add(struct core_plugins *ps, const char *path);

/*
 * Probe every file not yet probed or refused, in child processes (in
 * parallel, each with CORE_PROBE_TIMEOUT_S), and mark shadowed plugins.
 * Fills meta/known or refusal; loads nothing here. For `plugins list`.
 */
void core_plugins_probe_all(struct core_plugins *ps);

/*
 * The plugin of `kind` serving `scheme`, loaded and checked, not shadowed:
 * the first such in search order. Files without a note are probed first;
 * only the chosen file (and, to settle shadowing, a same-named earlier one)
 * is ever run, and only the chosen one in this process. A candidate whose
 * info contradicts its note is refused. NULL when none: refusals met on the
 * way are kept in ps for the message.
 */
const struct core_plugin *core_plugins_find(struct core_plugins *ps, unsigned kind,
					    const char *scheme);
void core_plugins_free(struct core_plugins *ps);

/* Set p->refusal (printf-style; replaces an earlier one). */
void core_plugin_set_refusal(struct core_plugin *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void core_plugin_meta_free(struct core_plugin_meta *m);
/* Does `m` list `scheme` for a plugin of `kind`? */
int core_plugin_serves(const struct core_plugin_meta *m, unsigned kind, const char *scheme);
/* The name a file goes by for shadowing: its loaded info's, its probe's, its note's; or NULL. */
const char *core_plugin_name(const struct core_plugin *p);

static inline const struct cairn_source_vtable *core_source_vt(const struct core_plugin *p)
{
	return (const struct cairn_source_vtable *)p->info->vtable;
}
static inline const struct cairn_storage_vtable *core_storage_vt(const struct core_plugin *p)
{
	return (const struct cairn_storage_vtable *)p->info->vtable;
}

#endif /* CORE_PLUGIN_LOADER_H */
