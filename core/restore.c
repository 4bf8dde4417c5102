/*
 * restore.c — `cairn backups restore URI`.
 *
 * Single pass, all-or-nothing: records are written inside the source's one
 * restore transaction as they are decoded, and the transaction is committed
 * only after the archive has been read to its authenticated end and the
 * summary's counts match what was read. Any failure before that — wrong key,
 * corruption, truncation, a record the target rejects — rolls back, so the
 * target is left exactly as it was.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "container.h"
#include "engine.h"
#include "error.h"
#include "host.h"
#include "log.h"
#include "record.h"
#include "scope.h"

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

struct writer_ctx {
	struct core_run *run;
	struct core_source *src;
	const struct cairn_kind_desc **kds; /* per manifest kind */
	const char *skipped;                /* per manifest kind */
	struct outcome *out;
	uint64_t total;
	/* ABI 1.1 batches: deep copies, since the chunk iterator moves on */
	struct cairn_record *batch[CAIRN_RESTORE_BATCH_MAX];
	int outcomes[CAIRN_RESTORE_BATCH_MAX];
	size_t n_batch, batch_bytes, batch_kind;
};

/* Batches are also cut by size, so memory stays bounded whatever the records. */
#define BATCH_BYTES (8u * 1024 * 1024)

static int count_outcome(struct writer_ctx *w, size_t ki, int outcome)
{
	if (outcome < CAIRN_WRITE_NEW || outcome > CAIRN_WRITE_UNCHANGED)
		return core_fail(w->run, CORE_EXIT_PLUGIN,
				 core_error_set(CAIRN_E_PLUGIN, "plugin returned outcome %d", outcome));
	w->out[ki].n[outcome]++;
	core_host()->progress(core_host(), ++w->total, 0);
	return CAIRN_OK;
}

static void batch_clear(struct writer_ctx *w)
{
	for (size_t i = 0; i < w->n_batch; i++)
		free(w->batch[i]);
	w->n_batch = 0;
	w->batch_bytes = 0;
}

static int batch_flush(struct writer_ctx *w)
{
	if (w->n_batch == 0)
		return CAIRN_OK;
	size_t ki = w->batch_kind;
	int rc = w->src->vt->restore_write_batch(w->src->inst, w->kds[ki],
						 (const struct cairn_record *const *)w->batch,
						 w->n_batch, w->outcomes);
	if (rc == CAIRN_OK)
		for (size_t i = 0; i < w->n_batch && rc == CAIRN_OK; i++)
			rc = count_outcome(w, ki, w->outcomes[i]);
	else
		core_fail(w->run, CORE_EXIT_SOURCE, rc);
	batch_clear(w);
	return rc;
}

static int write_record(void *ud, size_t ki, const struct cairn_record *rec)
{
	struct writer_ctx *w = ud;
	if (w->skipped[ki]) {
		w->out[ki].skipped++;
		return CAIRN_OK;
	}
	if (!CAIRN_VT_HAS(w->src->vt, restore_write_batch)) {
		int outcome = 0;
		int rc = w->src->vt->restore_write(w->src->inst, w->kds[ki], rec, &outcome);
		if (rc)
			return core_fail(w->run, CORE_EXIT_SOURCE, rc);
		return count_outcome(w, ki, outcome);
	}
	if (w->n_batch && (w->batch_kind != ki || w->n_batch == CAIRN_RESTORE_BATCH_MAX ||
			   w->batch_bytes >= BATCH_BYTES)) {
		int rc = batch_flush(w);
		if (rc)
			return rc;
	}
	struct cairn_record *copy = core_record_dup(rec);
	if (!copy)
		return core_fail(w->run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
	for (size_t i = 0; i < rec->n_columns; i++)
		w->batch_bytes += rec->columns[i].len;
	w->batch_kind = ki;
	w->batch[w->n_batch++] = copy;
	return CAIRN_OK;
}

/*
 * A backup from another schema version still restores (columns are matched
 * by name, docs/compatibility.md), but the operator should know. Advisory
 * only: when the target cannot say (describe fails, or gives no version),
 * there is nothing to compare and restore_begin does the real checks.
 */
static void warn_schema_version(struct core_source *src, const char *backup_version)
{
	struct cairn_source_desc desc = {.struct_size = sizeof(desc)};

	if (!backup_version)
		return;
	if (src->vt->describe(src->inst, &desc) != CAIRN_OK) {
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

int core_cmd_restore(struct core_run *run, const char *uri, int dry_run, int replace,
		     const char *to_tenant)
{
	long long t0 = now_ms();
	struct core_opened o;
	struct core_source src = {0};
	struct outcome *out = NULL;
	uint64_t *expected = NULL;
	const struct cairn_kind_desc **kds = NULL;
	char *skipped = NULL; /* per manifest kind: the target lacks its table */
	int in_tx = 0;

	core_info("Restoring %s", uri);
	int rc = core_backup_open(run, uri, &o);
	if (rc)
		goto done;
	struct core_manifest *m = o.manifest;
	core_info("Restoring %s backup from Cairn version %s created at %s", m->type,
		  m->tool_version ? m->tool_version : "unknown", m->created_at ? m->created_at : "unknown");
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
	expected = calloc(m->n_kinds + 1, sizeof(*expected));
	if (!out || !expected) {
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

	rc = core_source_open(run, run->source_uri, &src);
	if (rc)
		goto done;
	warn_schema_version(&src, m->schema_version);
	struct cairn_restore_opts ro = {
		.struct_size = sizeof(ro),
		.dry_run = dry_run,
		.replace = replace,
		.source_schema_version = m->schema_version,
	};
	rc = core_fail(run, CORE_EXIT_SOURCE, src.vt->restore_begin(src.inst, &ro));
	if (rc)
		goto done;
	in_tx = 1;

	/*
	 * A kind whose table the target does not have (an older or newer
	 * schema, an edition without it) is skipped with a warning rather than
	 * failing the whole restore (docs/compatibility.md).
	 */
	skipped = calloc(m->n_kinds + 1, sizeof(*skipped));
	if (!skipped) {
		rc = core_fail(run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
		goto done;
	}
	for (size_t i = 0; i < m->n_kinds && !rc; i++) {
		int exists = src.vt->kind_exists(src.inst, kds[i]);
		if (exists < 0) {
			rc = core_fail(run, CORE_EXIT_SOURCE, exists);
		} else if (exists == 0) {
			skipped[i] = 1;
			core_warn("%s: the target has no table '%s'; its records are skipped",
				  kds[i]->kind, kds[i]->table);
		} else if (replace) {
			/* clear every kind the backup covers, in scope, before writing any */
			rc = core_source_delete_scope(run, &src, kds[i], &scope);
		}
	}
	if (rc)
		goto done;

	core_progress_step("restoring: records");
	struct writer_ctx *w = calloc(1, sizeof(*w));
	if (!w) {
		rc = core_fail(run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
		goto done;
	}
	*w = (struct writer_ctx){.run = run, .src = &src, .kds = kds, .skipped = skipped, .out = out};
	rc = core_backup_read_records(run, &o, to_tenant, write_record, w, expected);
	if (!rc)
		rc = batch_flush(w); /* the tail: the archive is already verified */
	batch_clear(w);
	free(w);
	if (rc)
		goto done;
	for (size_t i = 0; i < m->n_kinds; i++)
		out[i].n[0] = expected[i];
	/* everything authenticated and counted: now, and only now, commit */
	rc = core_fail(run, CORE_EXIT_SOURCE, src.vt->restore_commit(src.inst));
	in_tx = 0;
	if (rc)
		goto done;
	core_progress_done();

	char line[8192];
	uint64_t *restored = calloc(m->n_kinds + 1, sizeof(*restored));
	if (!restored) {
		rc = core_fail(run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
		goto done;
	}
	for (size_t i = 0; i < m->n_kinds; i++)
		restored[i] = out[i].n[0] - out[i].skipped;
	core_format_summary(m->kinds, expected, m->n_kinds, line, sizeof(line));
	core_info("Backup summary: %s", line);
	core_format_summary(m->kinds, restored, m->n_kinds, line, sizeof(line));
	core_info("%s: %s", dry_run ? "Restore summary (dry run, nothing written)" : "Restore summary", line);
	size_t used = 0;
	used += (size_t)snprintf(line, sizeof(line), "[");
	for (size_t i = 0; i < m->n_kinds && used < sizeof(line); i++)
		used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s: %llu new, %llu changed, %llu unchanged",
					 i ? ", " : "", m->kinds[i], (unsigned long long)out[i].n[CAIRN_WRITE_NEW],
					 (unsigned long long)out[i].n[CAIRN_WRITE_CHANGED],
					 (unsigned long long)out[i].n[CAIRN_WRITE_UNCHANGED]);
	if (used < sizeof(line))
		snprintf(line + used, sizeof(line) - used, "]");
	core_info("%s: %s", dry_run ? "Would change" : "Changes", line);
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
			json_object_set_new(kinds, m->kinds[i],
					    json_pack("{s:I, s:I, s:I, s:I, s:I}", "records", (json_int_t)out[i].n[0],
						      "skipped", (json_int_t)out[i].skipped,
						      "new", (json_int_t)out[i].n[CAIRN_WRITE_NEW], "changed",
						      (json_int_t)out[i].n[CAIRN_WRITE_CHANGED], "unchanged",
						      (json_int_t)out[i].n[CAIRN_WRITE_UNCHANGED]));
		json_t *j = json_pack("{s:s, s:s, s:s?, s:b, s:o}", "uri", shown, "type", m->type,
				      "tenant", to_tenant ? to_tenant : m->tenant, "dry_run", dry_run,
				      "kinds", kinds);
		json_dumpf(j, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	} else if (dry_run) {
		printf("Dry run, nothing restored from URI: %s\n", shown);
	} else {
		printf("Backup restored from URI: %s\n", shown);
	}
	fflush(stdout);
	free(restored);
done:
	core_progress_done();
	if (in_tx)
		src.vt->restore_rollback(src.inst);
	core_source_close(&src);
	core_backup_close(&o);
	free(out);
	free(expected);
	free(kds);
	free(skipped);
	if (rc && run->exit_class == CORE_EXIT_OK)
		run->exit_class = CORE_EXIT_FAILURE;
	return rc ? (int)run->exit_class : CORE_EXIT_OK;
}
