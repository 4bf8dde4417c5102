/*
 * plugin_loader.c — see plugin_loader.h.
 *
 * Every check reads only bytes the plugin declared it has (struct_size)
 * before trusting a member, so a plugin built against older or newer
 * headers is refused with a reason instead of being misread.
 *
 * Which files run at all is decided before any of them does: from their
 * notes where they have one, from probes in child processes where not
 * (docs/abi.md §5). Only the file a command chooses is dlopen()ed here.
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
#include "source.h"
#include "storage.h"
#include "plugin_host.h"
#include "log.h"
#include "plugin_note.h"
#include "plugin_probe.h"
#include "record.h"

/* The SDK promises plugins this limit (cairn/source.h); the record codec keeps it. */
_Static_assert(CORE_MAX_COLUMNS == CAIRN_RECORD_MAX_COLUMNS,
	       "the record codec's column limit is the one cairn/source.h documents");

/* Sizes of the ABI 1.0 structs: the smallest a plugin may declare. */
#define END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
#define INFO_SIZE_1_0 END_OF(struct cairn_plugin_info, vtable)

static void vset_refusal(struct core_plugin *p, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void vset_refusal(struct core_plugin *p, const char *fmt, va_list ap)
{
	char reason[512];
	vsnprintf(reason, sizeof(reason), fmt, ap);
	free(p->refusal);
	p->refusal = strdup(reason); /* NULL on no memory: still neither known nor usable */
}

void core_plugin_set_refusal(struct core_plugin *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset_refusal(p, fmt, ap);
	va_end(ap);
}

/* A failed check of a loaded file: unload it and fill the error slot too. */
static int refuse(struct core_plugin *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int refuse(struct core_plugin *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset_refusal(out, fmt, ap);
	va_end(ap);
	out->info = NULL;
	if (out->dl) {
		dlclose(out->dl);
		out->dl = NULL;
	}
	return core_error_set(CAIRN_E_PLUGIN, "plugin '%s' refused: %s", out->path,
			      out->refusal ? out->refusal : "out of memory");
}


/*
 * dlopen and check out->path; keeps what the scan learnt about the file.
 * `note` is the file's note when it has one, else NULL.
 */
static int load_into(struct core_plugin *out, const struct core_plugin_meta *note)
{
	const char *path = out->path;
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
	/* abi_minor is what the plugin needs, not what its headers had (cairn/plugin.h) */
	if (info->abi_minor > CAIRN_ABI_MINOR)
		return refuse(out, "needs plugin ABI %u.%u, newer than this cairn's %d.%d; "
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
	const char *newest = NULL;
	unsigned needs = 0;
	char why[160];
	/* each door knows its vtable's contract (source.h, storage.h) */
	if (info->kind == CAIRN_PLUGIN_KIND_SOURCE) {
		if (core_source_vt_refusal(info->vtable, why, sizeof(why), &needs, &newest))
			return refuse(out, "%s", why);
	} else if (info->kind == CAIRN_PLUGIN_KIND_STORAGE) {
		if (core_storage_vt_refusal(info->vtable, why, sizeof(why), &needs, &newest))
			return refuse(out, "%s", why);
	} else {
		return refuse(out, "unknown plugin kind %u", info->kind);
	}
	/*
	 * Under-declared: an older core would load this plugin and never call
	 * the member it sets. Refusing it here, in the newest core its author
	 * tests with, is what makes the declared minor trustworthy for the
	 * cores that cannot check it.
	 */
	if (needs > info->abi_minor)
		return refuse(out, "declares plugin ABI %u.%u but sets '%s' (since %d.%u); declare "
				   ".abi_minor = %u in CAIRN_PLUGIN_DEFINE and CAIRN_PLUGIN_NOTE",
			      info->abi_major, info->abi_minor, newest, CAIRN_ABI_MAJOR, needs, needs);
	/* a note without abi= (abi_major 0) makes no claim to check */
	if (note && note->abi_major &&
	    (note->abi_major != info->abi_major || note->abi_minor != info->abi_minor))
		return refuse(out, "its plugin note does not match its info: note says ABI %u.%u, "
				   "info %u.%u",
			      note->abi_major, note->abi_minor, info->abi_major, info->abi_minor);
	out->info = info;
	return CAIRN_OK;
}

int core_plugin_load(const char *path, struct core_plugin *out)
{
	memset(out, 0, sizeof(*out));
	out->path = strdup(path);
	if (!out->path)
		return CAIRN_E_NOMEM;
	/*
	 * The note too, so that a file loaded on its own (a probe child, `plugins
	 * check`) meets the same note-versus-info ABI check as one a command
	 * chose. A malformed note is the scan's refusal to give, not this one's.
	 */
	struct core_plugin_meta note;
	char why[256];
	int has_note = core_plugin_note_read(out->path, &note, why, sizeof(why)) > 0;
	int rc = load_into(out, has_note ? &note : NULL);
	if (has_note)
		core_plugin_meta_free(&note);
	return rc;
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

/* A file of the list, its note read; no code of it runs. Takes `path`. */
static int add_file(struct core_plugins *ps, char *path)
{
	struct core_plugin *v = path ? realloc(ps->v, (ps->n + 1) * sizeof(*v)) : NULL;
	if (!v) {
		free(path);
		return CAIRN_E_NOMEM;
	}
	ps->v = v;
	struct core_plugin *p = &ps->v[ps->n++];
	memset(p, 0, sizeof(*p));
	p->path = path;
	char why[256];
	int r = core_plugin_note_read(p->path, &p->note, why, sizeof(why));
	if (r > 0) {
		p->has_note = 1;
	} else if (r < 0) {
		size_t cap = strlen(why) + 32;
		if ((p->refusal = malloc(cap)) != NULL)
			snprintf(p->refusal, cap, "malformed plugin note: %s", why);
	}
	return CAIRN_OK;
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
	for (size_t i = 0; i < n && rc == CAIRN_OK; i++) {
		size_t len = strlen(dir) + strlen(names[i]) + 2;
		char *path = malloc(len);
		if (path)
			snprintf(path, len, "%s/%s", dir, names[i]);
		rc = add_file(ps, path);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
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

int core_plugins_add(struct core_plugins *ps, const char *path)
{
	/* a bare file name means the one here, not one on the library path */
	if (strchr(path, '/'))
		return add_file(ps, strdup(path));
	size_t len = strlen(path) + 3;
	char *rel = malloc(len);
	if (rel)
		snprintf(rel, len, "./%s", path);
	return add_file(ps, rel);
}

const char *core_plugin_name(const struct core_plugin *p)
{
	return p->info ? p->info->name : p->known ? p->meta.name : p->has_note ? p->note.name : NULL;
}

int core_plugin_serves(const struct core_plugin_meta *m, unsigned kind, const char *scheme)
{
	if (m->kind != kind || !m->schemes)
		return 0;
	for (char **s = m->schemes; *s; s++)
		if (strcmp(*s, scheme) == 0)
			return 1;
	return 0;
}

/* Probe the files in ps matching `want` that are neither known nor refused. */
static void probe_where(struct core_plugins *ps, int (*want)(const struct core_plugin *))
{
	struct core_plugin **v = malloc((ps->n ? ps->n : 1) * sizeof(*v));
	size_t n = 0;
	if (!v)
		return;
	for (size_t i = 0; i < ps->n; i++)
		if (!ps->v[i].known && !ps->v[i].refusal && !ps->v[i].info && want(&ps->v[i]))
			v[n++] = &ps->v[i];
	core_plugin_probe(v, n);
	free(v);
}

static int any_file(const struct core_plugin *p) { (void)p; return 1; }
static int without_note(const struct core_plugin *p) { return !p->has_note; }

void core_plugins_probe_all(struct core_plugins *ps)
{
	probe_where(ps, any_file);
	/* now every file has run (here or in a probe) or is refused */
	for (size_t i = 0; i < ps->n; i++) {
		const char *name = ps->v[i].refusal ? NULL : core_plugin_name(&ps->v[i]);
		for (size_t j = 0; name && j < i && !ps->v[i].shadowed; j++) {
			const char *earlier = ps->v[j].refusal ? NULL : core_plugin_name(&ps->v[j]);
			ps->v[i].shadowed = earlier && strcmp(earlier, name) == 0;
		}
	}
}

/*
 * Shadowing asks whether a same-named file earlier in the search order is a
 * plugin that loads (a refused file shadows nothing, as before notes
 * existed). An earlier file known only by its note has never run: settle it
 * in a probe rather than by trusting the note or loading it here.
 */
static int shadowed_by_earlier(struct core_plugins *ps, size_t i)
{
	const char *name = core_plugin_name(&ps->v[i]);
	for (size_t j = 0; name && j < i; j++) {
		struct core_plugin *q = &ps->v[j];
		const char *qname = core_plugin_name(q);
		if (q->refusal || !qname || strcmp(qname, name) != 0)
			continue;
		if (!q->known && !q->info) {
			core_plugin_probe(&q, 1);
			if (q->refusal || !q->known || strcmp(q->meta.name, name) != 0)
				continue;
		}
		return 1;
	}
	return 0;
}

/* Load the chosen file here, and hold its info to what chose it. */
static int load_chosen(struct core_plugin *p, unsigned kind, const char *scheme)
{
	if (load_into(p, p->has_note ? &p->note : NULL) != CAIRN_OK)
		return CAIRN_E_PLUGIN;
	const struct cairn_plugin_info *info = p->info;
	char why[256];
	if (p->has_note && core_plugin_note_mismatch(&p->note, info->name, info->kind,
						     info->schemes, why, sizeof(why)))
		return refuse(p, "its plugin note does not match its info: %s", why);
	struct core_plugin_meta now = {.name = (char *)info->name, .kind = info->kind,
				       .schemes = (char **)info->schemes};
	if (!core_plugin_serves(&now, kind, scheme) ||
	    (p->known && strcmp(p->meta.name, info->name) != 0))
		return refuse(p, "its info differs from what it told the probe");
	return CAIRN_OK;
}

const struct core_plugin *core_plugins_find(struct core_plugins *ps, unsigned kind,
					    const char *scheme)
{
	probe_where(ps, without_note); /* in parallel: a hanging one costs the timeout once */
	for (size_t i = 0; i < ps->n; i++)
		if (ps->v[i].crashed == 1 && !ps->v[i].has_note) { /* once; it explains a slow command */
			core_warn("plugin '%s' skipped: %s; it has no plugin note, so every command "
				  "probes it (see 'cairn plugins check')",
				  ps->v[i].path, ps->v[i].refusal ? ps->v[i].refusal : "probe failed");
			ps->v[i].crashed = 2;
		}
	const struct core_plugin *found = NULL;
	for (size_t i = 0; i < ps->n && !found; i++) {
		struct core_plugin *p = &ps->v[i];
		if (p->refusal || p->shadowed || !(p->known || p->has_note || p->info))
			continue;
		if (!core_plugin_serves(p->known ? &p->meta : &p->note, kind, scheme))
			continue;
		if (shadowed_by_earlier(ps, i)) {
			p->shadowed = 1;
			continue;
		}
		if (p->info || load_chosen(p, kind, scheme) == CAIRN_OK)
			found = p;
	}
	core_error_clear(); /* refusals on the way are kept in ps for the message */
	return found;
}

void core_plugins_free(struct core_plugins *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		/* plugins are not dlclose()d: a library they pull in (libpq,
		 * OpenSSL) may have registered exit handlers that live in it */
		free(ps->v[i].path);
		free(ps->v[i].refusal);
		core_plugin_meta_free(&ps->v[i].note);
		core_plugin_meta_free(&ps->v[i].meta);
	}
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}
