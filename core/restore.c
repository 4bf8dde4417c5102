/*
 * restore.c — `cairn backups restore URI`.
 *
 * Single pass, all-or-nothing: records are written inside the source's one
 * restore transaction as they are decoded, and the transaction is committed
 * only after the archive has been read to its authenticated end and the
 * summary's counts match what was read. Any failure before that — wrong key,
 * corruption, truncation, a record the target rejects — rolls back, so the
 * target is left exactly as it was.
 *
 * Files (format 2) cannot be rolled back: when a restore writes them to the
 * internal storage, the whole backup is read and checked first (as for a
 * target without transactions), then read again to write — the records
 * into the transaction, then each file (files_restore.h), then the commit,
 * so that no committed row ever points at a file that was not written.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "container.h"
#include "backup_read.h"
#include "commands.h"
#include "error.h"
#include "files_restore.h"
#include "plugin_host.h"
#include "log.h"
#include "record.h"
#include "retenant.h"
#include "scope.h"
#include "source.h"

/* Why the records of a manifest kind are not written (restore's `skipped`). */
enum { SKIP_NONE, SKIP_NO_TABLE, SKIP_NOT_CHOSEN };

struct outcome {
	uint64_t n[4]; /* indexed by enum cairn_write_outcome; [0] = records read */
	uint64_t skipped; /* records of a kind the target has no table for */
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The write end of the restore pipe. With a batching plugin (ABI 1.1)
 * records are deep-copied into a batch, since the decoder moves on; batches
 * are cut by count and by size, so memory stays bounded whatever the records.
 */
#define BATCH_BYTES (8u * 1024 * 1024)

struct writer {
	struct core_source *src;
	const struct cairn_kind_desc **kds; /* per manifest kind */
	struct outcome *out;
	uint64_t total;
	size_t max;                         /* records per write call */
	struct cairn_record *batch[CAIRN_RESTORE_BATCH_MAX];
	int outcomes[CAIRN_RESTORE_BATCH_MAX];
	size_t n_batch, batch_bytes, batch_kind;
	size_t last_kind, n_kinds;          /* for the progress line */
};

static void batch_clear(struct writer *w)
{
	for (size_t i = 0; i < w->n_batch; i++)
		free(w->batch[i]);
	w->n_batch = 0;
	w->batch_bytes = 0;
}

static int batch_flush(struct writer *w)
{
	if (w->n_batch == 0)
		return CAIRN_OK;
	size_t ki = w->batch_kind;
	core_debug("%s: writing a batch of %zu records (%zu bytes of columns)", w->kds[ki]->kind,
		   w->n_batch, w->batch_bytes);
	int rc = core_source_write(w->src, w->kds[ki], (const struct cairn_record *const *)w->batch,
				   w->n_batch, w->outcomes);
	for (size_t i = 0; !rc && i < w->n_batch; i++)
		w->out[ki].n[w->outcomes[i]]++;
	if (!rc) {
		w->total += w->n_batch;
		core_host()->progress(core_host(), w->total, 0);
	}
	batch_clear(w);
	return rc;
}

static int write_record(struct writer *w, size_t ki, const struct cairn_record *rec)
{
	if (w->last_kind != ki) /* a new kind: say so on the progress line */
		core_progress_item("%s, kind %zu of %zu, records written", w->kds[ki]->kind, ki + 1,
				   w->n_kinds);
	w->last_kind = ki;
	if (w->max == 1) {
		int outcome = 0;
		int rc = core_source_write(w->src, w->kds[ki], &rec, 1, &outcome);
		if (!rc) {
			w->out[ki].n[outcome]++;
			core_host()->progress(core_host(), ++w->total, 0);
		}
		return rc;
	}
	if (w->n_batch && (w->batch_kind != ki || w->n_batch == w->max || w->batch_bytes >= BATCH_BYTES)) {
		int rc = batch_flush(w);
		if (rc)
			return rc;
	}
	struct cairn_record *copy = core_record_dup(rec);
	if (!copy)
		return core_fail(w->src->run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
	for (size_t i = 0; i < rec->n_columns; i++)
		w->batch_bytes += rec->columns[i].len;
	w->batch_kind = ki;
	w->batch[w->n_batch++] = copy;
	return CAIRN_OK;
}

/*
 * The pipe: decode and check (core_backup_next) → --to-tenant (retenant.h)
 * → skip the kinds the target lacks → write. Returns when the archive has
 * been read to its verified end, or on the first failure.
 */
static int restore_records(struct core_opened *o, struct writer *w, const char *skipped,
			   const char *to_tenant)
{
	struct core_retenant rt;
	core_retenant_init(&rt, o->manifest->tenant, to_tenant);
	const struct cairn_record *rec;
	size_t ki;
	int r;
	while ((r = core_backup_next(o, &ki, &rec)) == 1) {
		if (skipped[ki] == SKIP_NOT_CHOSEN)
			continue; /* decoded and checked all the same: the archive is verified whole */
		if (skipped[ki]) {
			w->out[ki].skipped++;
			continue;
		}
		if (to_tenant && (r = core_fail(o->run, CORE_EXIT_FAILURE, core_retenant_apply(&rt, rec, &rec))))
			break;
		if ((r = write_record(w, ki, rec)))
			break;
	}
	if (r == 0)
		r = batch_flush(w); /* the tail: the archive is already verified */
	batch_clear(w);
	core_retenant_free(&rt);
	return r;
}

/*
 * A backup from another schema version still restores (columns are matched
 * by name, docs/compatibility.md), but the operator should know. Advisory
 * only: when the target cannot say (describe fails, or gives no version),
 * there is nothing to compare and restore_begin does the real checks.
 */
static void warn_schema_version(struct core_source *src, const char *backup_version)
{
	struct cairn_source_desc desc;

	if (!backup_version)
		return;
	enum core_exit keep = src->run->exit_class; /* advisory: not a failure of the run */
	if (core_source_describe(src, &desc) != CAIRN_OK) {
		src->run->exit_class = keep;
		core_debug("the target does not describe itself (%s): schema versions not compared",
			   core_error_message());
		core_error_clear();
		return;
	}
	if (desc.schema_version && strcmp(backup_version, desc.schema_version) != 0)
		core_warn("the backup was taken from schema version %s, the target has %s: "
			  "restoring anyway, columns are matched by name",
			  backup_version, desc.schema_version);
}

/*
 * A target whose writes cannot be rolled back (CAIRN_SOURCE_F_NO_TRANSACTIONS)
 * gets nothing until the whole archive has been read to its authenticated
 * end and every record passed its checks; then the backup is opened again
 * for the writing pass, which runs the same checks. The second opening must
 * be the same backup (its manifest down to the nanosecond of its creation).
 */
static int same_manifest(const struct core_manifest *a, const struct core_manifest *b)
{
#define SAME(f) ((!a->f && !b->f) || (a->f && b->f && strcmp(a->f, b->f) == 0))
	if (!SAME(type) || !SAME(tenant) || !SAME(created_at) || !SAME(tool_version) ||
	    a->n_kinds != b->n_kinds || a->n_files != b->n_files)
		return 0;
#undef SAME
	for (size_t i = 0; i < a->n_kinds; i++)
		if (strcmp(a->kinds[i], b->kinds[i]) != 0)
			return 0;
	for (size_t i = 0; i < a->n_files; i++)
		if (strcmp(a->files[i], b->files[i]) != 0)
			return 0;
	return 1;
}

static int verify_first(struct core_run *run, const char *uri, struct core_opened *o, const char *why)
{
	const struct cairn_record *rec;
	size_t ki;
	int rc;
	core_info("%s: reading the whole backup before the first write", why);
	while ((rc = core_backup_next(o, &ki, &rec)) == 1)
		;
	if (rc)
		return rc;
	struct core_manifest *first = o->manifest;
	o->manifest = NULL; /* kept for the comparison; freed below */
	core_backup_close(o);
	rc = core_backup_open(run, uri, o);
	if (!rc && !same_manifest(first, o->manifest))
		rc = core_fail(run, CORE_EXIT_CORRUPT,
			       core_error_set(CAIRN_E_CORRUPT,
					      "'%s' changed between the check and the restore: nothing written", uri));
	core_manifest_free(first);
	free(first);
	return rc;
}

/*
 * --resources on restore: the named kinds must be in the backup (a kind it
 * does not hold is a usage error naming those it does); the others are
 * read and checked like the rest of the archive, but neither deleted by
 * --replace nor written.
 */
static int choose_kinds(struct core_run *run, const struct core_manifest *m, char *skipped)
{
	if (!run->resources)
		return CAIRN_OK;
	for (size_t i = 0; i < run->kinds.n; i++) {
		if (run->resources[i] != 1)
			continue; /* 2: implied by a file kind (KV by KV_STORE), restored where the backup has it */
		size_t j = 0;
		while (j < m->n_kinds && strcmp(m->kinds[j], run->kinds.v[i].kind) != 0)
			j++;
		if (j == m->n_kinds) {
			char held[4096];
			size_t used = 0;
			held[0] = '\0';
			for (size_t h = 0; h < m->n_kinds && used < sizeof(held); h++)
				used += (size_t)snprintf(held + used, sizeof(held) - used, "%s%s", h ? ", " : "",
							 m->kinds[h]);
			return core_fail(run, CORE_EXIT_USAGE,
					 core_error_set(CAIRN_E_INVALID, "--resources: this backup holds no %s; it holds %s",
							run->kinds.v[i].kind, held[0] ? held : "no kind at all"));
		}
	}
	for (size_t j = 0; j < m->n_kinds; j++)
		if (!run->resources[core_kinds_index(&run->kinds, m->kinds[j])])
			skipped[j] = SKIP_NOT_CHOSEN;
	return CAIRN_OK;
}

int core_cmd_restore(struct core_run *run, const char *uri, int dry_run, int replace,
		     const char *to_tenant)
{
	long long t0 = now_ms();
	struct core_opened o;
	struct core_source src = {0};
	struct outcome *out = NULL;
	const struct cairn_kind_desc **kds = NULL;
	char *skipped = NULL; /* per manifest kind: the target lacks its table */
	int in_tx = 0;
	struct core_files_restore files = {0};
	struct core_orphans *orphans = NULL;

	core_info("Restoring %s", uri);
	int rc = core_backup_open(run, uri, &o);
	if (rc)
		goto done;
	struct core_manifest *m = o.manifest;
	core_info("Restoring %s backup from Cairn version %s created at %s", m->type,
		  m->tool_version ? m->tool_version : "unknown", m->created_at ? m->created_at : "unknown");
	if (to_tenant && m->tenant)
		core_info("Restoring the records of tenant %s into tenant %s (--to-tenant)", m->tenant,
			  to_tenant);
	/* what the archive claims to hold is checked before the target is touched */
	rc = core_manifest_check(run, m);
	if (rc)
		goto done;
	struct cairn_scope scope;
	core_manifest_scope(m, &scope);
	if (to_tenant && strcmp(m->type, "TENANT") != 0) {
		rc = core_fail(run, CORE_EXIT_USAGE,
			       core_error_set(CAIRN_E_INVALID, "--to-tenant needs a TENANT backup; this is a %s backup",
					      m->type));
		goto done;
	}
	if (to_tenant && scope.filter == CAIRN_TENANT_NONE) {
		rc = core_fail(run, CORE_EXIT_USAGE,
			       core_error_set(CAIRN_E_INVALID,
					      "--to-tenant cannot move records without a tenant (a backup of "
					      "open-source Kestra before 0.23) into a tenant"));
		goto done;
	}
	if (to_tenant)
		scope.tenant = to_tenant;
	out = calloc(m->n_kinds + 1, sizeof(*out));
	if (!out) {
		rc = core_fail(run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
		goto done;
	}
	kds = calloc(m->n_kinds + 1, sizeof(*kds));
	if (!kds) {
		rc = core_fail(run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
		goto done;
	}
	for (size_t i = 0; i < m->n_kinds; i++)
		kds[i] = core_kinds_find(&run->kinds, m->kinds[i]); /* known: core_manifest_check */
	skipped = calloc(m->n_kinds + 1, sizeof(*skipped));
	if (!skipped) {
		rc = core_fail(run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
		goto done;
	}
	rc = choose_kinds(run, m, skipped); /* before the target is touched */
	if (!rc)
		rc = core_files_restore_begin(run, m, dry_run, to_tenant, &files);
	if (rc)
		goto done;

	rc = core_source_open(run, run->source_uri, &src);
	if (rc)
		goto done;
	if (!core_source_transactional(&src) || core_files_restore_writes(&files)) {
		rc = verify_first(run, uri, &o, !core_source_transactional(&src)
						? "The target cannot roll back"
						: "Files cannot be rolled back");
		if (rc)
			goto done;
		/* the manifest read first is freed: the scope's tenant pointed into it */
		m = o.manifest;
		core_manifest_scope(m, &scope);
		if (to_tenant)
			scope.tenant = to_tenant;
	}
	/* the orphan check of the archive alone, and the files to the internal storage */
	orphans = core_orphans_for(m);
	core_backup_watch(&o, &files.ev, orphans);
	warn_schema_version(&src, m->schema_version);
	struct cairn_restore_opts ro = {
		.struct_size = sizeof(ro),
		.dry_run = dry_run,
		.replace = replace,
		.source_schema_version = m->schema_version,
	};
	rc = core_source_restore_begin(&src, &ro);
	if (rc)
		goto done;
	in_tx = 1;

	/*
	 * A kind whose table the target does not have (an older or newer
	 * schema, an edition without it) is skipped with a warning rather than
	 * failing the whole restore (docs/compatibility.md).
	 */
	for (size_t i = 0; i < m->n_kinds && !rc; i++) {
		if (skipped[i] == SKIP_NOT_CHOSEN)
			continue;
		int exists = core_source_kind_exists(&src, kds[i]);
		if (exists < 0) {
			rc = exists;
		} else if (exists == 0) {
			skipped[i] = SKIP_NO_TABLE;
			/* a warning only for records really skipped (at the end): most of the
			 * Enterprise kinds have no table and no record on most instances */
			core_debug("%s: the target has no table '%s'; its records are skipped",
				   kds[i]->kind, kds[i]->table);
		} else if (replace) {
			/* clear every kind the backup covers, in scope, before writing any */
			core_debug("%s: --replace clears table/index '%s' in scope", kds[i]->kind, kds[i]->table);
			rc = core_source_delete_scope(&src, kds[i], &scope);
		}
	}
	if (rc)
		goto done;

	core_progress_step("restoring");
	struct writer *w = calloc(1, sizeof(*w));
	if (!w) {
		rc = core_fail(run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
		goto done;
	}
	*w = (struct writer){.src = &src, .kds = kds, .out = out, .max = core_source_batch_max(&src),
			     .n_kinds = m->n_kinds, .last_kind = (size_t)-1};
	rc = restore_records(&o, w, skipped, to_tenant);
	free(w);
	if (rc)
		goto done;
	for (size_t i = 0; i < m->n_kinds; i++)
		out[i].n[0] = o.counts[i];
	/* everything authenticated and counted: now, and only now, commit */
	rc = core_source_commit(&src);
	in_tx = 0;
	if (rc)
		goto done;
	core_progress_done();

	char line[8192];
	/* the restore's own lines name the kinds restored: all, or those of --resources */
	uint64_t *restored = calloc(m->n_kinds + 1, sizeof(*restored));
	char **chosen = calloc(m->n_kinds + 1, sizeof(*chosen));
	if (!restored || !chosen) {
		free(restored);
		free(chosen);
		rc = core_fail(run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
		goto done;
	}
	size_t n_chosen = 0;
	for (size_t i = 0; i < m->n_kinds; i++)
		if (skipped[i] != SKIP_NOT_CHOSEN) {
			chosen[n_chosen] = m->kinds[i];
			restored[n_chosen++] = out[i].n[0] - out[i].skipped;
		}
	core_format_summary(m->kinds, o.counts, m->n_kinds, line, sizeof(line));
	core_info("Backup summary: %s", line);
	if (m->n_files) {
		core_files_format(m->files, m->n_files, o.fin.files, o.fin.bytes, line, sizeof(line));
		core_info("Backup files: %s", line);
	}
	core_format_summary(chosen, restored, n_chosen, line, sizeof(line));
	core_info("%s: %s", dry_run ? "Restore summary (dry run, nothing written)" : "Restore summary", line);
	/*
	 * With some thirty kinds most are empty: the line names the kinds that
	 * had records, and counts the others, so that it stays readable (the
	 * summary lines above, and --output json, have every kind).
	 */
	size_t used = 0, empty = 0, shown_n = 0;
	used += (size_t)snprintf(line, sizeof(line), "[");
	for (size_t i = 0; i < m->n_kinds && used < sizeof(line); i++) {
		if (skipped[i] == SKIP_NOT_CHOSEN)
			continue;
		uint64_t n = out[i].n[CAIRN_WRITE_NEW] + out[i].n[CAIRN_WRITE_CHANGED] +
			     out[i].n[CAIRN_WRITE_UNCHANGED];
		if (n == 0) {
			empty++;
			continue;
		}
		used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s: %llu new, %llu changed, %llu unchanged",
					 shown_n++ ? ", " : "", m->kinds[i], (unsigned long long)out[i].n[CAIRN_WRITE_NEW],
					 (unsigned long long)out[i].n[CAIRN_WRITE_CHANGED],
					 (unsigned long long)out[i].n[CAIRN_WRITE_UNCHANGED]);
	}
	if (used < sizeof(line))
		snprintf(line + used, sizeof(line) - used, "]");
	char tail[64] = "";
	if (empty)
		snprintf(tail, sizeof(tail), " (and %zu kind%s without records)", empty, empty == 1 ? "" : "s");
	if (strlen(line) + strlen(tail) < sizeof(line))
		strcat(line, tail);
	core_info("%s: %s", dry_run ? "Would change" : "Changes", line);
	json_t *extra = run->json ? json_object() : NULL;
	core_files_restore_report(&files, extra);
	json_t *orphan_json = core_orphans_report(orphans, run->json);
	if (orphan_json)
		json_object_set_new(extra, "orphans", orphan_json);
	for (size_t i = 0; i < m->n_kinds; i++)
		if (out[i].skipped)
			core_warn("%s: %llu records skipped: the target has no table '%s'", m->kinds[i],
				  (unsigned long long)out[i].skipped, kds[i]->table);
	core_info("Restore done in %lld ms", now_ms() - t0);
	char shown[2048];
	core_log_redact(uri, shown, sizeof(shown));
	if (run->json) {
		json_t *kinds = json_object();
		for (size_t i = 0; i < m->n_kinds; i++)
			if (skipped[i] != SKIP_NOT_CHOSEN)
				json_object_set_new(kinds, m->kinds[i],
					    json_pack("{s:I, s:I, s:I, s:I, s:I}", "records", (json_int_t)out[i].n[0],
						      "skipped", (json_int_t)out[i].skipped,
						      "new", (json_int_t)out[i].n[CAIRN_WRITE_NEW], "changed",
						      (json_int_t)out[i].n[CAIRN_WRITE_CHANGED], "unchanged",
						      (json_int_t)out[i].n[CAIRN_WRITE_UNCHANGED]));
		json_t *j = json_pack("{s:s, s:s, s:s?, s:b, s:o}", "uri", shown, "type", m->type,
				      "tenant", to_tenant ? to_tenant : m->tenant, "dry_run", dry_run,
				      "kinds", kinds);
		json_object_update(j, extra);
		json_dumpf(j, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	} else if (dry_run) {
		printf("Dry run, nothing restored from URI: %s\n", shown);
	} else {
		printf("Backup restored from URI: %s\n", shown);
	}
	fflush(stdout);
	json_decref(extra);
	free(restored);
	free(chosen);
done:
	core_progress_done();
	if (in_tx && !core_source_transactional(&src) && !dry_run && out) {
		char wline[8192];
		uint64_t *written = calloc(o.manifest->n_kinds + 1, sizeof(*written));
		if (written) {
			for (size_t i = 0; i < o.manifest->n_kinds; i++)
				written[i] = out[i].n[CAIRN_WRITE_NEW] + out[i].n[CAIRN_WRITE_CHANGED] +
					     out[i].n[CAIRN_WRITE_UNCHANGED];
			core_format_summary(o.manifest->kinds, written, o.manifest->n_kinds, wline, sizeof(wline));
			core_warn("the target cannot roll back: these records were written before the "
				  "failure and stay written (plus any of the batch that failed): %s", wline);
			free(written);
		}
	}
	if (rc)
		core_files_restore_failed(&files);
	if (in_tx)
		core_source_rollback(&src);
	core_source_close(&src);
	core_files_restore_end(&files);
	core_orphans_free(orphans);
	core_backup_close(&o);
	free(out);
	free(kds);
	free(skipped);
	if (rc && run->exit_class == CORE_EXIT_OK)
		run->exit_class = CORE_EXIT_FAILURE;
	return rc ? (int)run->exit_class : CORE_EXIT_OK;
}
