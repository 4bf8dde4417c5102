/*
 * backup.c — `cairn backups create FULL|TENANT`.
 *
 * One pass, streaming: source cursor → record msgpack → bounded chunk →
 * tar entry → envelope → storage writer. The calling thread reads and packs;
 * from the tar entry on, a second thread compresses, encrypts and stores
 * (pipe.h), so that both cores work. Memory is bounded by the chunk being
 * filled and the CORE_PIPE_SLOTS queued ones (CHUNK_RECORDS records or
 * CHUNK_BYTES bytes each, whichever comes first) plus the fixed buffers of
 * the archive and envelope layers. The storage object appears only when
 * writer_commit succeeds; any failure aborts it.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <jansson.h>

#include "container.h"
#include "buf.h"
#include "commands.h"
#include "error.h"
#include "files_backup.h"
#include "plugin_host.h"
#include "log.h"
#include "pipe.h"
#include "record.h"
#include "scope.h"
#include "source.h"
#include "storage.h"

#define CHUNK_RECORDS 1000
#define CHUNK_BYTES (4u * 1024 * 1024)

struct sink_ctx {
	struct core_storage *st;
	void *writer;
	struct core_run *run;
	uint64_t bytes;
};

static int storage_sink(void *ud, const void *buf, size_t len)
{
	struct sink_ctx *s = ud;
	int rc = core_storage_write(s->st, s->writer, buf, len);
	s->bytes += len;
	core_host()->progress(core_host(), s->bytes, 0);
	return rc;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start the writer of <series>/backup-YYYYMMDDHHMMSS[-N].cairn on the first free name. */
static int begin_writer(struct core_storage *st, const char *series, time_t t, char *out,
			size_t cap, void **writer)
{
	char stamp[32], base[400];
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
	snprintf(base, sizeof(base), "%s/backup-%s", series, stamp);
	return core_storage_writer_begin_free(st, base, 0, out, cap, writer);
}

static int flush_chunk(struct core_pipe *pipe, const char *kind, unsigned *seq,
		       struct core_buf *chunk)
{
	if (chunk->len == 0)
		return CAIRN_OK;
	if (*seq >= 999999) /* names have six digits (docs/format.md) */
		return core_error_set(CAIRN_E_INVALID, "kind %s has more than 999999 chunks", kind);
	char name[128];
	snprintf(name, sizeof(name), "records/%s/%06u.msgpack", kind, ++*seq);
	int rc = core_pipe_put(pipe, name, chunk);
	core_buf_reset(chunk);
	return rc;
}

/* Read one kind through its cursor into chunks. */
static int backup_kind(struct core_run *run, struct core_source *src,
		       const struct cairn_kind_desc *kd, const struct cairn_scope *scope,
		       struct core_pipe *pipe, uint64_t *count)
{
	*count = 0;
	int exists = core_source_kind_exists(src, kd);
	if (exists < 0)
		return exists;
	if (exists == 0)
		return CAIRN_OK; /* a table this schema version lacks counts 0 */
	void *cur = NULL;
	/* the time window applies to the kinds that have a time (execution data) */
	struct cairn_scope sc = *scope;
	sc.since = run->since[0] && kd->time_column ? run->since : NULL;
	core_debug("%s: reading table/index '%s'%s%s%s", kd->kind, kd->table,
		   sc.since ? " since " : "", sc.since ? sc.since : "", sc.since ? " UTC" : "");
	int rc = core_source_cursor_open(src, kd, &sc, &cur);
	if (rc)
		return rc;
	struct core_buf chunk = CORE_BUF_INIT;
	msgpack_packer pk;
	core_packer_init(&pk, &chunk);
	unsigned seq = 0, in_chunk = 0;
	const struct cairn_record *rec;
	for (;;) {
		if (core_cancelled()) {
			rc = core_fail(run, CORE_EXIT_CANCELLED,
				       core_error_set(CAIRN_E_CANCELLED, "cancelled by signal"));
			break;
		}
		int n = core_source_cursor_next(src, cur, &rec);
		if (n < 0) {
			rc = n;
			break;
		}
		if (n == 0)
			break;
		rc = core_record_pack(&pk, rec);
		if (!rc && run->orphans) /* the rows the orphan check compares with the files */
			rc = core_fail(run, CORE_EXIT_FAILURE, core_orphans_note_record(run->orphans, kd->kind, rec));
		if (rc) {
			core_error_prefix("%s", kd->kind);
			core_fail(run, rc == CAIRN_E_PLUGIN ? CORE_EXIT_PLUGIN : CORE_EXIT_SOURCE, rc);
			break;
		}
		(*count)++;
		if (++in_chunk >= CHUNK_RECORDS || chunk.len >= CHUNK_BYTES) {
			rc = core_fail(run, CORE_EXIT_STORAGE, flush_chunk(pipe, kd->kind, &seq, &chunk));
			in_chunk = 0;
			if (rc)
				break;
		}
	}
	if (!rc)
		rc = core_fail(run, CORE_EXIT_STORAGE, flush_chunk(pipe, kd->kind, &seq, &chunk));
	if (!rc)
		core_debug("%s: %llu records in %u chunks", kd->kind, (unsigned long long)*count, seq);
	core_source_cursor_close(src, cur);
	core_buf_free(&chunk);
	return rc;
}

/* The distinct tenants list_tenants reports; a handful is enough to say. */
#define TENANTS_SHOWN 20

struct tenant_list {
	char names[TENANTS_SHOWN][101];
	size_t n;
	int no_tenant, more;
};

static int add_tenant(void *ud, const char *tenant)
{
	struct tenant_list *l = ud;
	if (!tenant) {
		l->no_tenant = 1;
		return 0;
	}
	if (!core_tenant_valid(tenant))
		return 0; /* a value no command line could name: not worth listing */
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->names[i], tenant) == 0)
			return 0;
	if (l->n == TENANTS_SHOWN) {
		l->more = 1;
		return 0;
	}
	snprintf(l->names[l->n++], sizeof(l->names[0]), "%s", tenant);
	return 0;
}

static int by_text(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void format_tenants(struct tenant_list *l, char *out, size_t cap)
{
	size_t used = 0;
	qsort(l->names, l->n, sizeof(l->names[0]), by_text); /* stable for scripts and eyes */
	out[0] = '\0';
	for (size_t i = 0; i < l->n && used < cap; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? ", " : "", l->names[i]);
	if (l->no_tenant && used < cap)
		used += (size_t)snprintf(out + used, cap - used, "%s(records without a tenant: --null-tenant)",
					 used ? ", " : "");
	if (l->more && used < cap)
		snprintf(out + used, cap - used, ", …");
}

/*
 * A TENANT backup that found no record at all most likely names a tenant
 * that does not exist (a typo, or "main" on open-source Kestra before 0.23):
 * say which tenants do, inside the same snapshot.
 */
static int refuse_empty_tenant(struct core_run *run, struct core_source *src, char **kinds,
			       size_t n_kinds, const struct cairn_scope *scope)
{
	struct tenant_list l = {.n = 0};
	int can_list = core_source_can_list_tenants(src);
	for (size_t i = 0; i < n_kinds && can_list; i++) {
		const struct cairn_kind_desc *kd = core_kinds_find(&run->kinds, kinds[i]);
		int rc = core_source_kind_exists(src, kd);
		if (rc == 1)
			rc = core_source_list_tenants(src, kd, add_tenant, &l);
		if (rc < 0)
			return rc;
	}
	char who[160], names[2600];
	core_scope_name(scope, who, sizeof(who));
	format_tenants(&l, names, sizeof(names));
	return core_fail(run, CORE_EXIT_SOURCE,
			 core_error_set(CAIRN_E_NOT_FOUND,
					"%s has no record in any kind; %s%s; give --allow-empty to back it up anyway",
					who, !can_list ? "this source plugin cannot list the tenants that exist"
					: names[0] ? "tenants with records: " : "the source holds no records at all",
					names));
}

/*
 * The kinds a backup covers: every kind for FULL, the tenant-scoped ones for
 * TENANT; execution data only with --include-data. --resources names the
 * kinds exactly (plus every execution-data kind with --include-data); a
 * named instance-level kind in a TENANT backup is a usage error, not a
 * silent omission.
 */
static int covered_kinds(struct core_run *run, int full, char **kinds, size_t *n)
{
	const struct core_kinds *k = &run->kinds;
	*n = 0;
	for (size_t i = 0; i < k->n; i++) {
		int fits = full || k->v[i].scope == CAIRN_SCOPE_TENANT;
		int data = k->data[i];
		int wanted = run->resources ? run->resources[i] || (run->include_data && data)
					    : !data || run->include_data;
		if (run->resources && run->resources[i] && !fits)
			return core_fail(run, CORE_EXIT_USAGE,
					 core_error_set(CAIRN_E_INVALID,
							"%s is instance-level: a TENANT backup cannot hold it",
							k->v[i].kind));
		if (fits && wanted)
			kinds[(*n)++] = (char *)k->v[i].kind;
	}
	return CAIRN_OK;
}

/* --since limits the kinds that have a time; without any such kind it would do nothing. */
static int check_since(struct core_run *run, char **kinds, size_t n)
{
	if (!run->since[0])
		return CAIRN_OK;
	for (size_t i = 0; i < n; i++)
		if (core_kinds_find(&run->kinds, kinds[i])->time_column)
			return CAIRN_OK;
	return core_fail(run, CORE_EXIT_USAGE,
			 core_error_set(CAIRN_E_INVALID, "--since limits execution data, and this backup "
							 "covers none: add --include-data"));
}

static void iso_now(char *out, size_t cap)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char base[32];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, cap, "%s.%09ldZ", base, ts.tv_nsec);
}

int core_cmd_create(struct core_run *run, const char *type, const char *tenant)
{
	long long t0 = now_ms();
	int full = strcmp(type, "FULL") == 0;
	struct core_source src = {0};
	struct core_storage st = {0};
	struct sink_ctx sink = {.st = &st, .run = run};
	struct core_env_writer *env = NULL;
	struct core_archive_writer *aw = NULL;
	struct core_pipe *pipe = NULL;
	struct core_buf buf = CORE_BUF_INIT;
	char name[512] = "";
	char **kinds = NULL;
	uint64_t *counts = NULL;
	size_t n_kinds = 0;
	int snapshot = 0;
	struct core_files_plan files = {0}; /* Kestra's internal storage: files_backup.h */
	json_t *extra = NULL;

	int rc = core_source_open(run, run->source_uri, &src);
	if (rc)
		goto out;
	struct cairn_source_desc desc;
	rc = core_source_describe(&src, &desc);
	if (rc)
		goto out;
	rc = core_storage_open(run, run->storage_uri, &st);
	if (rc)
		goto out;

	kinds = calloc(run->kinds.n + 1, sizeof(*kinds));
	counts = calloc(run->kinds.n + 1, sizeof(*counts));
	if (!kinds || !counts) {
		rc = core_fail(run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
		goto out;
	}
	rc = covered_kinds(run, full, kinds, &n_kinds);
	if (!rc)
		rc = core_files_plan_make(run, kinds, n_kinds, &files);
	if (rc)
		goto out;

	rc = check_since(run, kinds, n_kinds);
	if (rc)
		goto out;
	struct cairn_scope scope = {.struct_size = sizeof(scope), .tenant = full ? NULL : tenant};
	scope.filter = full ? CAIRN_TENANT_ANY : tenant ? CAIRN_TENANT_ONE : CAIRN_TENANT_NONE;
	char series[320];
	if (full)
		snprintf(series, sizeof(series), "backups/full");
	else /* "~" is no tenant id's character: the null tenant's series cannot clash */
		snprintf(series, sizeof(series), "backups/tenant/%s", tenant ? tenant : "~null");
	/* what killed backups of this series left goes before another one starts */
	char prefix[sizeof(series) + 1];
	snprintf(prefix, sizeof(prefix), "%s/", series);
	rc = core_storage_housekeep(&st, prefix);
	if (rc)
		goto out;
	rc = begin_writer(&st, series, time(NULL), name, sizeof(name), &sink.writer);
	if (rc)
		goto out;
	struct core_keyring kr;
	core_run_keyring(run, &kr);
	rc = core_env_writer_new(&kr, storage_sink, &sink, &env);
	if (rc) {
		env = NULL;
		core_fail(run, rc == CAIRN_E_INVALID ? CORE_EXIT_KEY : CORE_EXIT_STORAGE, rc);
		goto out;
	}
	rc = core_fail(run, CORE_EXIT_STORAGE, core_archive_writer_new(env, run->compression_level, &aw));
	if (rc)
		goto out;

	char created[64];
	iso_now(created, sizeof(created));
	struct core_manifest m = {
		.format = files.n ? CORE_FORMAT_FILES : CORE_FORMAT_RECORDS,
		.tool_version = CAIRN_VERSION,
		.type = (char *)type,
		.tenant = full ? NULL : (char *)tenant,
		.created_at = created,
		.source_plugin = (char *)src.plugin->info->name,
		.source_backend = (char *)desc.backend,
		.schema_version = (char *)desc.schema_version,
		.kinds = kinds,
		.n_kinds = n_kinds,
		.since = run->since[0] ? run->since : NULL,
		.files = files.kinds,
		.n_files = files.n,
	};
	core_manifest_pack(&m, &buf);
	rc = core_fail(run, CORE_EXIT_STORAGE, core_archive_put(aw, "manifest.msgpack", buf.data, buf.len));
	if (rc)
		goto out;

	rc = core_source_snapshot_begin(&src);
	if (rc)
		goto out;
	snapshot = 1;
	core_progress_step("writing backup");
	rc = core_fail(run, CORE_EXIT_FAILURE, core_pipe_start(aw, &pipe));
	if (rc)
		goto out;
	uint64_t total = 0;
	for (size_t i = 0; i < n_kinds && !rc; i++) {
		core_progress_item("%s, kind %zu of %zu, bytes stored", kinds[i], i + 1, n_kinds);
		rc = backup_kind(run, &src, core_kinds_find(&run->kinds, kinds[i]), &scope, pipe, &counts[i]);
		total += counts[i];
	}
	if (!rc) /* after every record, inside the snapshot: files_backup.h */
		rc = core_files_backup(&files, &src, kinds, n_kinds, &scope, pipe);
	/* the archive is this thread's again once every chunk is written */
	if (!rc)
		rc = core_fail(run, CORE_EXIT_STORAGE, core_pipe_finish(pipe));
	if (!rc && !full && total == 0 && !run->allow_empty)
		rc = refuse_empty_tenant(run, &src, kinds, n_kinds, &scope);
	if (rc)
		goto out;
	rc = core_source_snapshot_end(&src);
	snapshot = 0;
	if (rc)
		goto out;

	core_buf_reset(&buf);
	core_summary_pack_files(kinds, counts, n_kinds, files.kinds, files.files, files.bytes, files.n, &buf);
	rc = core_fail(run, CORE_EXIT_STORAGE, core_archive_put(aw, "summary.msgpack", buf.data, buf.len));
	if (!rc)
		rc = core_fail(run, CORE_EXIT_STORAGE, core_archive_writer_finish(aw));
	if (rc)
		goto out;
	rc = core_storage_commit(&st, sink.writer);
	sink.writer = NULL; /* commit frees the writer whatever happens */
	if (rc)
		goto out;
	core_progress_done();

	/* the summary lists the kinds the backup covers, zeros included */
	char line[8192];
	core_format_summary(kinds, counts, n_kinds, line, sizeof(line));
	long long elapsed = now_ms() - t0;
	core_info("Backup summary: %s", line);
	extra = run->json ? json_object() : NULL;
	core_files_plan_report(&files, extra);
	core_info("Backup %s created in %lld ms", full ? "instance" : "tenant", elapsed);

	char uri[1024];
	if (run->storage_is_default)
		snprintf(uri, sizeof(uri), "cairn:///%s", name);
	else
		snprintf(uri, sizeof(uri), "%s%s%s", run->storage_uri,
			 run->storage_uri[strlen(run->storage_uri) - 1] == '/' ? "" : "/", name);
	char shown[1200];
	core_log_redact(uri, shown, sizeof(shown)); /* a storage URI may carry a password */
	if (run->json) {
		json_t *summary = json_object();
		for (size_t i = 0; i < n_kinds; i++)
			json_object_set_new(summary, kinds[i], json_integer((json_int_t)counts[i]));
		json_t *o = json_pack("{s:s, s:s, s:s?, s:o, s:I, s:I}", "uri", shown, "type", type,
				      "tenant", full ? NULL : tenant, "summary", summary,
				      "elapsed_ms", (json_int_t)elapsed, "bytes", (json_int_t)sink.bytes);
		json_object_update(o, extra);
		json_dumpf(o, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(o);
	} else {
		printf("Backup created: %s\n", shown);
	}
	fflush(stdout);
out:
	core_pipe_free(pipe); /* first: it may still be using aw */
	core_progress_done();
	if (snapshot)
		core_source_snapshot_end(&src);
	core_archive_writer_free(aw);
	core_env_writer_free(env);
	core_storage_abort(&st, sink.writer);
	core_storage_close(&st);
	core_source_close(&src);
	core_files_plan_free(&files);
	json_decref(extra);
	core_buf_free(&buf);
	free(kinds);
	free(counts);
	if (rc && run->exit_class == CORE_EXIT_OK)
		run->exit_class = CORE_EXIT_FAILURE;
	return rc ? (int)run->exit_class : CORE_EXIT_OK;
}
