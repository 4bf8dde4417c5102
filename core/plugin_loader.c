/*
 * plugin_loader.c — see plugin_loader.h.
 *
 * Every check reads only bytes the plugin declared it has (struct_size)
 * before trusting a member, so a plugin built against older or newer
 * headers is refused with a reason instead of being misread.
 */
#define _POSIX_C_SOURCE 200809L
#include "plugin_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "host.h"

/* Sizes of the ABI 1.0 structs: the smallest a plugin may declare. */
#define END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
#define INFO_SIZE_1_0 END_OF(struct cairn_plugin_info, vtable)
#define SOURCE_VT_SIZE_1_0 END_OF(struct cairn_source_vtable, restore_rollback)
#define STORAGE_VT_SIZE_1_0 END_OF(struct cairn_storage_vtable, remove)

static int refuse(struct core_plugin *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int refuse(struct core_plugin *out, const char *fmt, ...)
{
	char reason[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	free(out->refusal);
	out->refusal = strdup(reason);
	out->info = NULL;
	if (out->dl) {
		dlclose(out->dl);
		out->dl = NULL;
	}
	return core_error_set(CAIRN_E_PLUGIN, "plugin '%s' refused: %s", out->path, reason);
}

/* Name of the first required member that is NULL or outside struct_size. */
static const char *missing_source_member(const struct cairn_source_vtable *vt)
{
#define REQ(m) if (!CAIRN_VT_HAS(vt, m)) return #m
	REQ(open); REQ(close); REQ(describe); REQ(snapshot_begin); REQ(snapshot_end);
	REQ(kind_exists); REQ(cursor_open); REQ(cursor_next); REQ(cursor_close);
	REQ(restore_begin); REQ(restore_delete_scope); REQ(restore_write);
	REQ(restore_commit); REQ(restore_rollback);
	return NULL;
}

static const char *missing_storage_member(const struct cairn_storage_vtable *vt)
{
	REQ(open); REQ(close); REQ(writer_begin); REQ(writer_write); REQ(writer_commit);
	REQ(writer_abort); REQ(reader_open); REQ(reader_read); REQ(reader_close);
	REQ(list); REQ(stat); REQ(remove);
	return NULL;
#undef REQ
}

int core_plugin_load(const char *path, struct core_plugin *out)
{
	memset(out, 0, sizeof(*out));
	out->path = strdup(path);
	if (!out->path)
		return CAIRN_E_NOMEM;

	/* RTLD_LOCAL: two plugins' private symbols must never collide */
	out->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!out->dl) {
		const char *e = dlerror();
		return refuse(out, "dlopen failed: %s", e ? e : "unknown error");
	}
	cairn_plugin_entry_fn entry;
	*(void **)&entry = dlsym(out->dl, CAIRN_PLUGIN_ENTRY_NAME);
	if (!entry) {
		for (int major = 2; major <= 9; major++) {
			char sym[64];
			snprintf(sym, sizeof(sym), "cairn_plugin_entry_v%d", major);
			if (dlsym(out->dl, sym))
				return refuse(out, "built for plugin ABI %d; this cairn supports ABI %d",
					      major, CAIRN_ABI_MAJOR);
		}
		return refuse(out, "no %s symbol: not a Cairn plugin", CAIRN_PLUGIN_ENTRY_NAME);
	}
	const struct cairn_plugin_info *info = entry(core_host());
	if (!info)
		return refuse(out, "entry point returned no plugin info");
	if (info->struct_size < INFO_SIZE_1_0)
		return refuse(out, "plugin info struct too small (%u bytes, ABI 1.0 needs %zu)",
			      info->struct_size, INFO_SIZE_1_0);
	if (info->abi_major != CAIRN_ABI_MAJOR)
		return refuse(out, "built for plugin ABI %u.%u; this cairn supports ABI %d",
			      info->abi_major, info->abi_minor, CAIRN_ABI_MAJOR);
	if (info->abi_minor > CAIRN_ABI_MINOR)
		return refuse(out, "built for plugin ABI %u.%u, newer than this cairn's %d.%d; "
				   "upgrade cairn",
			      info->abi_major, info->abi_minor, CAIRN_ABI_MAJOR, CAIRN_ABI_MINOR);
	if (!info->name || !*info->name)
		return refuse(out, "missing required member 'name'");
	if (!info->version)
		return refuse(out, "missing required member 'version'");
	if (!info->schemes || !info->schemes[0])
		return refuse(out, "missing required member 'schemes' (at least one URI scheme)");
	if (!info->vtable)
		return refuse(out, "missing required member 'vtable'");
	const char *missing = NULL;
	if (info->kind == CAIRN_PLUGIN_KIND_SOURCE) {
		const struct cairn_source_vtable *vt = info->vtable;
		if (vt->struct_size < SOURCE_VT_SIZE_1_0)
			return refuse(out, "source vtable too small (%u bytes, ABI 1.0 needs %zu)",
				      vt->struct_size, SOURCE_VT_SIZE_1_0);
		missing = missing_source_member(vt);
	} else if (info->kind == CAIRN_PLUGIN_KIND_STORAGE) {
		const struct cairn_storage_vtable *vt = info->vtable;
		if (vt->struct_size < STORAGE_VT_SIZE_1_0)
			return refuse(out, "storage vtable too small (%u bytes, ABI 1.0 needs %zu)",
				      vt->struct_size, STORAGE_VT_SIZE_1_0);
		missing = missing_storage_member(vt);
	} else {
		return refuse(out, "unknown plugin kind %u", info->kind);
	}
	if (missing)
		return refuse(out, "missing required method '%s'", missing);
	out->info = info;
	return CAIRN_OK;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int scan_dir(struct core_plugins *ps, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return CAIRN_OK; /* a search directory that does not exist is not an error */
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "cairn-", 6) != 0 || !ends_with(e->d_name, ".so"))
			continue;
		char **nv = realloc(names, (n + 1) * sizeof(*nv));
		if (!nv)
			break;
		names = nv;
		if ((names[n] = strdup(e->d_name)) != NULL)
			n++;
	}
	closedir(d);
	if (n > 1) /* names is NULL when the directory has no plugin: qsort forbids that */
		qsort(names, n, sizeof(*names), by_name); /* deterministic order */
	int rc = CAIRN_OK;
	for (size_t i = 0; i < n; i++) {
		struct core_plugin *v = realloc(ps->v, (ps->n + 1) * sizeof(*v));
		if (!v) {
			rc = CAIRN_E_NOMEM;
			break;
		}
		ps->v = v;
		size_t len = strlen(dir) + strlen(names[i]) + 2;
		char *path = malloc(len);
		if (!path) {
			rc = CAIRN_E_NOMEM;
			break;
		}
		snprintf(path, len, "%s/%s", dir, names[i]);
		struct core_plugin *p = &ps->v[ps->n++];
		if (core_plugin_load(path, p) == CAIRN_OK) {
			for (size_t j = 0; j + 1 < ps->n; j++)
				if (ps->v[j].info && strcmp(ps->v[j].info->name, p->info->name) == 0)
					p->shadowed = 1;
		}
		free(path);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	core_error_clear(); /* refusals are reported by `plugins list`, not as errors */
	return rc;
}

int core_plugins_scan(struct core_plugins *ps, const char *const *dirs, size_t n_dirs)
{
	for (size_t i = 0; i < n_dirs; i++) {
		int rc = scan_dir(ps, dirs[i]);
		if (rc)
			return rc;
	}
	return CAIRN_OK;
}

const struct core_plugin *core_plugins_find(const struct core_plugins *ps, unsigned kind,
					    const char *scheme)
{
	for (size_t i = 0; i < ps->n; i++) {
		const struct core_plugin *p = &ps->v[i];
		if (!p->info || p->shadowed || p->info->kind != kind)
			continue;
		for (const char *const *s = p->info->schemes; *s; s++)
			if (strcmp(*s, scheme) == 0)
				return p;
	}
	return NULL;
}

void core_plugins_free(struct core_plugins *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		/* plugins are not dlclose()d: a library they pull in (libpq,
		 * OpenSSL) may have registered exit handlers that live in it */
		free(ps->v[i].path);
		free(ps->v[i].refusal);
	}
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}
