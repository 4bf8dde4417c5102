/*
 * engine.c — plumbing shared by the commands: URIs, plugin handles, keys,
 * and opening a backup for reading.
 */
#define _POSIX_C_SOURCE 200809L
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container.h"
#include "error.h"
#include "host.h"
#include "log.h"
#include "record.h"

/* The lowest status code this core knows (cairn/status.h). */
#define CORE_E_LOWEST_KNOWN CAIRN_E_PERMISSION

int core_fail(struct core_run *run, enum core_exit cls, int rc)
{
	if (rc > 0 || rc < CORE_E_LOWEST_KNOWN) {
		/* a code from a newer ABI, or garbage: the plugin broke its contract */
		core_error_prefix("plugin returned unknown status %d", rc);
		rc = CAIRN_E_PLUGIN;
		cls = CORE_EXIT_PLUGIN;
	}
	if (rc && run->exit_class == CORE_EXIT_OK)
		run->exit_class = rc == CAIRN_E_CANCELLED ? CORE_EXIT_CANCELLED : cls;
	return rc;
}

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

static const struct core_plugin *find_plugin(struct core_run *run, unsigned kind, const char *uri)
{
	char scheme[32];
	if (core_fail(run, CORE_EXIT_USAGE, core_uri_scheme(uri, scheme, sizeof(scheme))))
		return NULL;
	/* loads the one plugin chosen, and no other plugin's code runs here */
	const struct core_plugin *p = core_plugins_find(&run->plugins, kind, scheme);
	if (!p) {
		/* say why: a refused plugin for this scheme is the usual cause — one
		 * whose note claimed it, else one whose file name mentions it */
		const char *why = NULL;
		for (int pass = 0; pass < 2 && !why; pass++)
			for (size_t i = 0; i < run->plugins.n && !why; i++) {
				const struct core_plugin *q = &run->plugins.v[i];
				if (q->refusal && (pass ? strstr(q->path, scheme) != NULL
							: q->has_note &&
								  core_plugin_serves(&q->note, kind, scheme)))
					why = q->refusal;
			}
		core_error_set(CAIRN_E_NOT_FOUND, "no %s plugin for '%s://'%s%s%s",
			       kind == CAIRN_PLUGIN_KIND_SOURCE ? "source" : "storage", scheme,
			       why ? " (a candidate was refused: " : "; see 'cairn plugins list'",
			       why ? why : "", why ? ")" : "");
		core_fail(run, CORE_EXIT_PLUGIN, CAIRN_E_NOT_FOUND);
	}
	return p;
}

int core_storage_open(struct core_run *run, const char *location, struct core_storage *st)
{
	memset(st, 0, sizeof(*st));
	st->plugin = find_plugin(run, CAIRN_PLUGIN_KIND_STORAGE, location);
	if (!st->plugin)
		return core_error_status();
	st->vt = core_storage_vt(st->plugin);
	core_error_clear();
	int rc = st->vt->open(core_host(), location, run->storage_opts, run->n_storage_opts, &st->inst);
	if (rc) {
		if (!*core_error_message())
			core_error_set(rc, "unable to open storage '%s'", location);
		st->inst = NULL;
		return core_fail(run, CORE_EXIT_STORAGE, rc);
	}
	return CAIRN_OK;
}

void core_storage_close(struct core_storage *st)
{
	if (st->inst)
		st->vt->close(st->inst);
	st->inst = NULL;
}

int core_source_open(struct core_run *run, const char *uri, struct core_source *src)
{
	memset(src, 0, sizeof(*src));
	if (!uri)
		return core_fail(run, CORE_EXIT_USAGE,
				 core_error_set(CAIRN_E_INVALID,
						"no metadata source: give --source URI, set [source] uri in the "
						"configuration, or CAIRN_SOURCE"));
	src->plugin = find_plugin(run, CAIRN_PLUGIN_KIND_SOURCE, uri);
	if (!src->plugin)
		return core_error_status();
	src->vt = core_source_vt(src->plugin);
	core_error_clear();
	int rc = src->vt->open(core_host(), uri, run->source_opts, run->n_source_opts, &src->inst);
	if (rc) {
		if (!*core_error_message())
			core_error_set(rc, "unable to open source '%s'", uri);
		src->inst = NULL;
		return core_fail(run, CORE_EXIT_SOURCE, rc);
	}
	return CAIRN_OK;
}

void core_source_close(struct core_source *src)
{
	if (src->inst)
		src->vt->close(src->inst);
	src->inst = NULL;
}

static int no_null_scope(struct core_run *run, const struct core_source *src, const char *what)
{
	const struct cairn_plugin_info *info = src->plugin->info;
	return core_fail(run, CORE_EXIT_PLUGIN,
			 core_error_set(CAIRN_E_UNSUPPORTED,
					"the %s plugin (built for ABI %u.%u) cannot %s only the records "
					"without a tenant: that needs ABI 1.2",
					info->name, info->abi_major, info->abi_minor, what));
}

int core_source_cursor_open(struct core_run *run, struct core_source *src,
			    const struct cairn_kind_desc *kd, const struct cairn_scope *scope,
			    void **cursor)
{
	if (CAIRN_VT_HAS(src->vt, cursor_open_scoped))
		return core_fail(run, CORE_EXIT_SOURCE,
				 src->vt->cursor_open_scoped(src->inst, kd, scope, cursor));
	if (scope->filter == CAIRN_TENANT_NONE)
		return no_null_scope(run, src, "read");
	return core_fail(run, CORE_EXIT_SOURCE,
			 src->vt->cursor_open(src->inst, kd, scope->tenant, cursor));
}

int core_source_delete_scope(struct core_run *run, struct core_source *src,
			     const struct cairn_kind_desc *kd, const struct cairn_scope *scope)
{
	if (CAIRN_VT_HAS(src->vt, restore_delete_scoped))
		return core_fail(run, CORE_EXIT_SOURCE,
				 src->vt->restore_delete_scoped(src->inst, kd, scope));
	if (scope->filter == CAIRN_TENANT_NONE)
		return no_null_scope(run, src, "delete");
	return core_fail(run, CORE_EXIT_SOURCE,
			 src->vt->restore_delete_scope(src->inst, kd, scope->tenant));
}

void core_run_keyring(const struct core_run *run, struct core_keyring *kr)
{
	memset(kr, 0, sizeof(*kr));
	kr->instance_key = run->instance_key_len ? run->instance_key : NULL;
	kr->instance_key_len = run->instance_key_len;
	kr->passphrase = run->passphrase;
	kr->recipients = (const unsigned char(*)[32])run->recipients;
	kr->n_recipients = run->n_recipients;
	kr->identities = run->identities;
	kr->n_identities = run->n_identities;
	kr->no_encryption = run->no_encryption;
}

struct read_ctx {
	struct core_opened *o;
};

static int storage_source(void *ud, void *buf, size_t cap, size_t *got)
{
	struct core_opened *o = ud;
	return o->st.vt->reader_read(o->reader, buf, cap, got);
}

static int classify_read_error(struct core_run *run, int rc)
{
	switch (rc) {
	case CAIRN_E_AUTH:
	case CAIRN_E_INVALID:
		return core_fail(run, CORE_EXIT_KEY, rc);
	case CAIRN_E_CORRUPT:
	case CAIRN_E_UNSUPPORTED:
		return core_fail(run, CORE_EXIT_CORRUPT, rc);
	case CAIRN_E_NOMEM:
		return core_fail(run, CORE_EXIT_FAILURE, rc);
	default:
		return core_fail(run, CORE_EXIT_STORAGE, rc);
	}
}

int core_backup_open(struct core_run *run, const char *uri, struct core_opened *o)
{
	memset(o, 0, sizeof(*o));
	char *location = NULL, *name = NULL;
	int rc = core_uri_split(run, uri, &location, &name);
	if (rc)
		return rc;
	rc = core_storage_open(run, location, &o->st);
	if (rc)
		goto out;
	rc = o->st.vt->reader_open(o->st.inst, name, &o->reader);
	if (rc) {
		o->reader = NULL;
		core_fail(run, CORE_EXIT_STORAGE, rc);
		goto out;
	}
	struct core_keyring kr;
	core_run_keyring(run, &kr);
	rc = core_env_reader_new(&kr, storage_source, o, &o->env);
	if (rc) {
		o->env = NULL;
		classify_read_error(run, rc);
		goto out;
	}
	struct core_env_info ei;
	core_env_reader_info(o->env, &ei);
	if ((!ei.encrypted || ei.opened_by == CORE_ENV_SLOT_PLAIN) && !run->allow_unencrypted &&
	    (run->instance_key_len || run->passphrase || run->n_identities)) {
		rc = core_fail(run, CORE_EXIT_KEY,
			       core_error_set(CAIRN_E_AUTH,
					      "'%s' is not encrypted, but keys are configured: anyone who can "
					      "write to the storage could have planted it; give "
					      "--allow-unencrypted to read it anyway", name));
		goto out;
	}
	rc = core_archive_reader_new(o->env, &o->ar);
	if (rc) {
		o->ar = NULL;
		classify_read_error(run, rc);
		goto out;
	}
	const char *ename;
	const void *data;
	size_t len;
	rc = core_archive_next(o->ar, &ename, &data, &len);
	if (rc == 0 || (rc == 1 && strcmp(ename, "manifest.msgpack") != 0)) {
		rc = core_error_set(CAIRN_E_CORRUPT, "archive is corrupted: it does not start with a manifest");
	} else if (rc == 1) {
		o->manifest = calloc(1, sizeof(*o->manifest));
		rc = o->manifest ? core_manifest_unpack(data, len, o->manifest) : CAIRN_E_NOMEM;
		if (rc) {
			free(o->manifest);
			o->manifest = NULL;
		}
	}
	if (rc)
		classify_read_error(run, rc);
out:
	free(location);
	free(name);
	return rc;
}

void core_backup_close(struct core_opened *o)
{
	if (o->manifest) {
		core_manifest_free(o->manifest);
		free(o->manifest);
	}
	core_archive_reader_free(o->ar);
	core_env_reader_free(o->env);
	if (o->reader)
		o->st.vt->reader_close(o->reader);
	core_storage_close(&o->st);
	memset(o, 0, sizeof(*o));
}

void core_format_summary(char *const *kinds, const uint64_t *counts, size_t n, char *out, size_t cap)
{
	size_t used = 0;
	used += (size_t)snprintf(out, cap, "[");
	for (size_t i = 0; i < n && used < cap; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s%s: %llu", i ? ", " : "", kinds[i],
					 (unsigned long long)counts[i]);
	if (used < cap)
		snprintf(out + used, cap - used, "]");
}

int core_chunk_name_kind(const char *name, char *kind, size_t cap)
{
	if (strncmp(name, "records/", 8) != 0)
		return -1;
	const char *k = name + 8, *slash = strchr(k, '/');
	if (!slash || (size_t)(slash - k) >= cap)
		return -1;
	memcpy(kind, k, (size_t)(slash - k));
	kind[slash - k] = '\0';
	const char *file = slash + 1;
	if (strlen(file) != 14 || strcmp(file + 6, ".msgpack") != 0)
		return -1;
	for (int i = 0; i < 6; i++)
		if (file[i] < '0' || file[i] > '9')
			return -1;
	return core_kind_name_valid(kind) ? 0 : -1;
}

static int read_fail(struct core_run *run, int rc)
{
	if (rc == CAIRN_E_NOMEM)
		return core_fail(run, CORE_EXIT_FAILURE, rc);
	if (rc == CAIRN_E_CORRUPT || rc == CAIRN_E_UNSUPPORTED)
		return core_fail(run, CORE_EXIT_CORRUPT, rc);
	return core_fail(run, CORE_EXIT_STORAGE, rc);
}

int core_backup_read_records(struct core_run *run, struct core_opened *o, const char *to_tenant,
			     core_record_cb cb, void *ud, uint64_t *counts)
{
	const struct core_manifest *m = o->manifest;
	uint64_t *expected = calloc(m->n_kinds + 1, sizeof(*expected));
	if (!expected)
		return core_fail(run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
	for (size_t i = 0; i < m->n_kinds; i++)
		counts[i] = 0;
	int rc = CAIRN_OK, seen_summary = 0;
	for (;;) {
		const char *name;
		const void *data;
		size_t len;
		int n = core_archive_next(o->ar, &name, &data, &len);
		if (n < 0) {
			rc = read_fail(run, n);
			break;
		}
		if (n == 0)
			break;
		if (seen_summary) {
			rc = core_fail(run, CORE_EXIT_CORRUPT,
				       core_error_set(CAIRN_E_CORRUPT, "archive is corrupted: entry '%s' after the summary", name));
			break;
		}
		if (strcmp(name, "summary.msgpack") == 0) {
			rc = core_fail(run, CORE_EXIT_CORRUPT,
				       core_summary_unpack(data, len, m->kinds, m->n_kinds, expected));
			if (rc)
				break;
			seen_summary = 1;
			continue;
		}
		char kind[80];
		size_t ki = m->n_kinds;
		if (core_chunk_name_kind(name, kind, sizeof(kind)) == 0)
			for (size_t i = 0; i < m->n_kinds; i++)
				if (strcmp(m->kinds[i], kind) == 0)
					ki = i;
		if (ki == m->n_kinds) {
			rc = core_fail(run, CORE_EXIT_CORRUPT,
				       core_error_set(CAIRN_E_CORRUPT, "archive is corrupted: unexpected entry '%s'", name));
			break;
		}
		struct core_chunk_iter it;
		core_chunk_iter_init(&it, data, len);
		it.kind = m->kinds[ki];
		if (strcmp(m->type, "TENANT") == 0) {
			it.scoped = 1;
			it.scope_tenant = m->tenant;
		}
		if (to_tenant && m->tenant) {
			it.from_tenant = m->tenant;
			it.to_tenant = to_tenant;
		}
		const struct cairn_record *rec;
		int r;
		while ((r = core_chunk_next(&it, &rec)) == 1) {
			if (core_cancelled()) {
				r = core_fail(run, CORE_EXIT_CANCELLED,
					      core_error_set(CAIRN_E_CANCELLED, "cancelled by signal"));
				break;
			}
			counts[ki]++;
			if (cb && (r = cb(ud, ki, rec)) != CAIRN_OK)
				break;
		}
		core_chunk_iter_free(&it);
		if (r < 0) {
			rc = read_fail(run, r);
			break;
		}
	}
	if (!rc && !seen_summary)
		rc = core_fail(run, CORE_EXIT_CORRUPT, core_error_set(CAIRN_E_CORRUPT, "archive is corrupted: no summary"));
	for (size_t i = 0; !rc && i < m->n_kinds; i++)
		if (counts[i] != expected[i])
			rc = core_fail(run, CORE_EXIT_CORRUPT,
				       core_error_set(CAIRN_E_CORRUPT,
						      "archive is corrupted: summary says %llu %s records, %llu read",
						      (unsigned long long)expected[i], m->kinds[i],
						      (unsigned long long)counts[i]));
	free(expected);
	return rc;
}
