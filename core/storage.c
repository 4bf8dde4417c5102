/* storage.c — see storage.h. */
#define _POSIX_C_SOURCE 200809L
#include "storage.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "log.h"
#include "plugin_host.h"
#include "run.h"

#define END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

static int fail(struct core_storage *st, int rc)
{
	return core_fail(st->run, CORE_EXIT_STORAGE, rc);
}

/* An object info the plugin filled: it must be as large as 1.0's and named. */
static int object_valid(struct core_storage *st, const struct cairn_object_info *info)
{
	if (info->struct_size < END_OF(struct cairn_object_info, mtime) || !info->name)
		return core_fail(st->run, CORE_EXIT_PLUGIN,
				 core_error_set(CAIRN_E_PLUGIN,
						"the %s plugin returned a malformed object description",
						st->plugin->info->name));
	return CAIRN_OK;
}

/* The first required member that is NULL or outside struct_size. */
#define REQ(m) if (!CAIRN_VT_HAS(vt, m)) return #m
static const char *missing_member(const struct cairn_storage_vtable *vt)
{
	REQ(open); REQ(close); REQ(writer_begin); REQ(writer_write); REQ(writer_commit);
	REQ(writer_abort); REQ(reader_open); REQ(reader_read); REQ(reader_close);
	REQ(list); REQ(stat); REQ(remove);
	return NULL;
}
#undef REQ

const char *core_storage_vt_refusal(const struct cairn_storage_vtable *vt, char *why, size_t cap,
				    unsigned *needs, const char **newest)
{
	/* ABI 1.0's size is the least; CAIRN_VT_HAS reads within struct_size */
	if (core_vt_refusal("storage", vt->struct_size, END_OF(struct cairn_storage_vtable, remove),
			    missing_member(vt), why, cap))
		return why;
	*needs = cairn_storage_vt_minor(vt, newest);
	return NULL;
}

int core_storage_open(struct core_run *run, const char *location, struct core_storage *st)
{
	return core_storage_open_with(run, location, run->storage_opts, run->n_storage_opts, st);
}

int core_storage_open_with(struct core_run *run, const char *location, const struct cairn_option *opts,
			   size_t n_opts, struct core_storage *st)
{
	memset(st, 0, sizeof(*st));
	st->run = run;
	st->plugin = core_run_plugin(run, CAIRN_PLUGIN_KIND_STORAGE, location);
	if (!st->plugin)
		return core_error_status();
	st->vt = core_storage_vt(st->plugin);
	core_error_clear();
	int rc = st->vt->open(core_host(), location, opts, n_opts, &st->inst);
	if (rc) {
		if (!*core_error_message())
			core_error_set(rc, "unable to open storage '%s'", location);
		st->inst = NULL;
		return fail(st, rc);
	}
	return CAIRN_OK;
}

void core_storage_close(struct core_storage *st)
{
	if (st->inst)
		st->vt->close(st->inst);
	st->inst = NULL;
}

int core_storage_writer_begin(struct core_storage *st, const char *name, void **writer)
{
	*writer = NULL;
	int rc = st->vt->writer_begin(st->inst, name, writer);
	if (rc)
		*writer = NULL;
	return rc == CAIRN_E_EXISTS ? rc : fail(st, rc);
}

int core_storage_writer_begin_free(struct core_storage *st, const char *base, int first, char *out,
				   size_t cap, void **writer)
{
	*writer = NULL;
	for (int n = first; n < first + 1000; n++) {
		char suffix[16] = "";
		if (n)
			snprintf(suffix, sizeof(suffix), "-%d", n);
		snprintf(out, cap, "%s%s.cairn", base, suffix);
		struct core_object info;
		int rc = core_storage_stat(st, out, &info);
		if (rc == CAIRN_OK)
			continue;
		if (rc == CAIRN_E_NOT_FOUND)
			rc = core_storage_writer_begin(st, out, writer);
		if (rc == CAIRN_OK)
			return CAIRN_OK;
		if (rc != CAIRN_E_EXISTS)
			return rc;
		core_error_clear();
	}
	const char *name = strrchr(base, '/');
	return fail(st, core_error_set(CAIRN_E_EXISTS, "too many backups named %s",
				       name ? name + 1 : base));
}

int core_storage_write(struct core_storage *st, void *writer, const void *buf, size_t len)
{
	return fail(st, st->vt->writer_write(writer, buf, len));
}

int core_storage_commit(struct core_storage *st, void *writer)
{
	return fail(st, st->vt->writer_commit(writer));
}

void core_storage_abort(struct core_storage *st, void *writer)
{
	if (writer)
		st->vt->writer_abort(writer);
}

int core_storage_reader_open(struct core_storage *st, const char *name, void **reader)
{
	*reader = NULL;
	int rc = st->vt->reader_open(st->inst, name, reader);
	if (rc)
		*reader = NULL;
	return fail(st, rc);
}

int core_storage_reader_open_maybe(struct core_storage *st, const char *name, void **reader)
{
	*reader = NULL;
	int rc = st->vt->reader_open(st->inst, name, reader);
	if (rc)
		*reader = NULL;
	if (rc == CAIRN_E_NOT_FOUND) {
		core_error_clear();
		return rc;
	}
	return fail(st, rc);
}

int core_storage_read(struct core_storage *st, void *reader, void *buf, size_t cap, size_t *got)
{
	*got = 0;
	int rc = st->vt->reader_read(reader, buf, cap, got);
	if (!rc && *got > cap)
		return core_fail(st->run, CORE_EXIT_PLUGIN,
				 core_error_set(CAIRN_E_PLUGIN, "the %s plugin read more than asked",
						st->plugin->info->name));
	return fail(st, rc);
}

void core_storage_reader_close(struct core_storage *st, void *reader)
{
	if (reader)
		st->vt->reader_close(reader);
}

struct list_ctx {
	struct core_storage *st;
	core_object_cb cb;
	void *ud;
	int bad, stopped;
};

static int list_each(void *ud, const struct cairn_object_info *info)
{
	struct list_ctx *l = ud;
	if (object_valid(l->st, info)) {
		l->bad = 1;
		return 1;
	}
	struct core_object obj = {.name = info->name, .size = info->size, .mtime = info->mtime};
	int r = l->cb(l->ud, &obj);
	if (r)
		l->stopped = r;
	return r;
}

int core_storage_list(struct core_storage *st, const char *prefix, core_object_cb cb, void *ud)
{
	struct list_ctx l = {.st = st, .cb = cb, .ud = ud};
	int rc = st->vt->list(st->inst, prefix, list_each, &l);
	if (l.bad)
		return CAIRN_E_PLUGIN;
	if (l.stopped && rc == l.stopped)
		return rc;
	return fail(st, rc);
}

int core_storage_stat(struct core_storage *st, const char *name, struct core_object *out)
{
	struct cairn_object_info info = {.struct_size = sizeof(info)};
	int rc = st->vt->stat(st->inst, name, &info);
	if (rc == CAIRN_E_NOT_FOUND)
		return rc;
	if (rc)
		return fail(st, rc);
	if ((rc = object_valid(st, &info)))
		return rc;
	*out = (struct core_object){.name = info.name, .size = info.size, .mtime = info.mtime};
	/* an older plugin leaves the 1.4 members as the core zeroed them */
	if (info.struct_size >= END_OF(struct cairn_object_info, lock_mode)) {
		out->locked_until = info.locked_until;
		out->lock_mode = info.lock_mode;
	}
	return CAIRN_OK;
}

int core_storage_remove(struct core_storage *st, const char *name)
{
	int rc = st->vt->remove(st->inst, name);
	return rc == CAIRN_E_LOCKED ? rc : fail(st, rc);
}

int core_object_lock_text(const struct core_object *obj, long long now, char *out, size_t cap)
{
	const char *mode = obj->lock_mode ? obj->lock_mode : "retention";
	out[0] = '\0';
	if (obj->locked_until <= 0)
		return 0;
	if (obj->locked_until == INT64_MAX) {
		snprintf(out, cap, "locked by a %s, no end date", mode);
		return 1;
	}
	char when[32];
	time_t t = (time_t)obj->locked_until;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	int held = obj->locked_until > now;
	snprintf(out, cap, "%s %s, %s", held ? "locked until" : "retention ended", when, mode);
	return held;
}

size_t core_storage_head(struct core_storage *st, const char *name, void *buf, size_t cap)
{
	void *r = NULL;
	size_t have = 0, got = 1;
	if (st->vt->reader_open(st->inst, name, &r) != CAIRN_OK) {
		core_error_clear();
		return 0;
	}
	while (have < cap && got > 0) {
		if (st->vt->reader_read(r, (char *)buf + have, cap - have, &got) != CAIRN_OK ||
		    got > cap - have) {
			core_error_clear();
			have = 0;
			break;
		}
		have += got;
	}
	st->vt->reader_close(r);
	return have;
}

int core_storage_housekeep(struct core_storage *st, const char *prefix)
{
	if (!CAIRN_VT_HAS(st->vt, housekeep))
		return CAIRN_OK;
	return fail(st, st->vt->housekeep(st->inst, prefix));
}
