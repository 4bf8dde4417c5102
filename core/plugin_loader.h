/*
 * plugin_loader.h — finding, checking and loading plugins. The only code in
 * the core that looks inside a plugin's info and vtable structs.
 *
 * Search order (first plugin of a given name wins; later ones are listed as
 * shadowed): every --plugin-dir, then CAIRN_PLUGIN_PATH (':'-separated),
 * then the configuration's plugins.dir, then the install directory
 * (${libdir}/cairn/plugins). Only files named cairn-*.so are considered.
 */
#ifndef CORE_PLUGIN_LOADER_H
#define CORE_PLUGIN_LOADER_H

#include <stddef.h>

#include "cairn/plugin.h"
#include "cairn/source.h"
#include "cairn/storage.h"

struct core_plugin {
	char *path;
	void *dl;                              /* NULL once refused */
	const struct cairn_plugin_info *info;  /* NULL when refused */
	char *refusal;                         /* why it was refused, or NULL */
	int shadowed;                          /* a same-named plugin came first */
};

struct core_plugins {
	struct core_plugin *v;
	size_t n;
};

/*
 * Load one file and check it. Returns CAIRN_OK with out->info set, or
 * CAIRN_E_PLUGIN with out->refusal set ("<path>: <reason>" is the one-line
 * message); the file is dlclose()d when refused. Never crashes on a bad
 * file that is a valid shared object whose entry point returns garbage
 * *pointers* — but a plugin's own code runs in our process: the checks
 * protect against mismatched builds, not malice.
 */
int core_plugin_load(const char *path, struct core_plugin *out);

/* Scan directories in order; refusals are kept in the list, not fatal. */
int core_plugins_scan(struct core_plugins *ps, const char *const *dirs, size_t n_dirs);

/* The loaded (not refused, not shadowed) plugin of `kind` serving `scheme`. */
const struct core_plugin *core_plugins_find(const struct core_plugins *ps, unsigned kind,
					    const char *scheme);
void core_plugins_free(struct core_plugins *ps);

static inline const struct cairn_source_vtable *core_source_vt(const struct core_plugin *p)
{
	return (const struct cairn_source_vtable *)p->info->vtable;
}
static inline const struct cairn_storage_vtable *core_storage_vt(const struct core_plugin *p)
{
	return (const struct cairn_storage_vtable *)p->info->vtable;
}

#endif /* CORE_PLUGIN_LOADER_H */
