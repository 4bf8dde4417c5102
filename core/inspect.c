/*
 * inspect.c — `cairn backups list | info URI | verify URI`: commands that
 * read backups and never write anywhere.
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
#include "files.h"
#include "log.h"
#include "record.h"
#include "scope.h"
#include "storage.h"
#include "uri.h"

struct entry {
	char *uri;           /* redacted: a storage URI may carry a password */
	uint64_t size;
	long long mtime;
};

struct listing {
	struct entry *v;
	size_t n, cap;
	const char *base;
	int is_default, failed;
};

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int list_cb(void *ud, const struct core_object *obj)
{
	struct listing *l = ud;
	if (!ends_with(obj->name, ".cairn"))
		return 0; /* not a backup: never listed, never touched */
	char uri[2048], shown[2100];
	if (l->is_default)
		snprintf(uri, sizeof(uri), "cairn:///%s", obj->name);
	else
		snprintf(uri, sizeof(uri), "%s/%s", l->base, obj->name);
	core_log_redact(uri, shown, sizeof(shown));
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct entry *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return l->failed = CAIRN_E_NOMEM;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n].uri = strdup(shown)))
		return l->failed = CAIRN_E_NOMEM;
	l->v[l->n].size = obj->size;
	l->v[l->n++].mtime = (long long)obj->mtime;
	return 0;
}

/* Newest first; the URI (which holds the backup's own timestamp) breaks ties, so the order is stable. */
static int newest_first(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	if (a->mtime != b->mtime)
		return a->mtime < b->mtime ? 1 : -1;
	return -strcmp(a->uri, b->uri);
}

/* 1536 → "1.5 KiB": binary units, one decimal, like ls -h. */
static void human_size(uint64_t n, char *out, size_t cap)
{
	static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 5)
		v /= 1024, u++;
	if (u == 0)
		snprintf(out, cap, "%llu B", (unsigned long long)n);
	else
		snprintf(out, cap, "%.1f %s", v, unit[u]);
}

int core_cmd_list(struct core_run *run, const char *prefix)
{
	struct core_storage st;
	int rc = core_storage_open(run, run->storage_uri, &st);
	if (rc)
		return (int)run->exit_class;
	struct listing l = {.base = run->storage_uri, .is_default = run->storage_is_default};
	rc = core_storage_list(&st, prefix ? prefix : "backups/", list_cb, &l);
	core_storage_close(&st);
	if (!rc && l.failed)
		rc = core_fail(run, CORE_EXIT_FAILURE, l.failed);
	if (!rc) {
		json_t *arr = run->json ? json_array() : NULL;
		if (l.n)
			qsort(l.v, l.n, sizeof(*l.v), newest_first);
		if (!run->json && l.n)
			printf("%-20s  %10s  %s\n", "MODIFIED (UTC)", "SIZE", "URI");
		for (size_t i = 0; i < l.n; i++) {
			char when[32], size[32];
			time_t t = (time_t)l.v[i].mtime;
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			if (arr) {
				json_array_append_new(arr, json_pack("{s:s, s:I, s:s}", "uri", l.v[i].uri, "size",
								     (json_int_t)l.v[i].size, "modified", when));
			} else {
				human_size(l.v[i].size, size, sizeof(size));
				printf("%-20s  %10s  %s\n", when, size, l.v[i].uri);
			}
		}
		if (arr) {
			json_dumpf(arr, stdout, JSON_COMPACT);
			fputc('\n', stdout);
			json_decref(arr);
		} else if (l.n == 0) {
			core_info("no backups under %s", run->storage_uri);
		}
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].uri);
	free(l.v);
	return rc ? (int)run->exit_class : CORE_EXIT_OK;
}

static const char *slot_names(unsigned mask, char *out, size_t cap)
{
	static const char *names[] = {"none (--no-encryption)", "instance key", "passphrase", "recipient"};
	size_t used = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < 4; i++)
		if (mask & (1u << i))
			used += (size_t)snprintf(out + used, cap > used ? cap - used : 0, "%s%s",
						 used ? ", " : "", names[i]);
	return out;
}

int core_cmd_info(struct core_run *run, const char *uri)
{
	struct core_opened o;
	int rc = core_backup_open(run, uri, &o);
	if (rc) {
		core_backup_close(&o);
		return (int)run->exit_class;
	}
	struct core_env_info ei;
	core_env_reader_info(o.env, &ei);
	const struct core_manifest *m = o.manifest;
	char slots[128], shown[2048], ids[32 * 66] = "", lock[160] = "";
	/* the object's retention, when the storage reports one (S3 Object Lock) */
	char *location = NULL, *name = NULL;
	struct core_object obj;
	if (core_uri_split(run, uri, &location, &name) == CAIRN_OK &&
	    core_storage_stat(&o.st, name, &obj) == CAIRN_OK)
		core_object_lock_text(&obj, (long long)time(NULL), lock, sizeof(lock));
	core_error_clear();
	free(location);
	free(name);
	core_log_redact(uri, shown, sizeof(shown));
	slot_names(ei.slot_types_mask, slots, sizeof(slots));
	/* each slot as rekey --remove-slot names it */
	json_t *slot_list = json_array();
	for (size_t i = 0, used = 0; i < ei.n_slots; i++) {
		struct core_env_slot_desc d;
		char label[64];
		core_env_reader_slot(o.env, i, &d);
		core_env_slot_label(&d, label, sizeof(label));
		json_array_append_new(slot_list, json_string(label));
		used += (size_t)snprintf(ids + used, sizeof(ids) - used, "%s%s", i ? ", " : "", label);
	}
	if (run->json) {
		json_t *kinds = json_array(), *files = json_array();
		for (size_t i = 0; i < m->n_kinds; i++)
			json_array_append_new(kinds, json_string(m->kinds[i]));
		for (size_t i = 0; i < m->n_files; i++)
			json_array_append_new(files, json_string(m->files[i]));
		json_t *j = json_pack("{s:s, s:i, s:i, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:b, s:s, s:O, s:o, s:s?}",
				      "uri", shown, "format", m->format, "envelope_version", (int)ei.version,
				      "type", m->type, "tenant", m->tenant,
				      "created_at", m->created_at, "tool_version", m->tool_version,
				      "source_backend", m->source_backend, "schema_version",
				      m->schema_version, "since", m->since, "encrypted", ei.encrypted, "key_slots", slots,
				      "slots", slot_list, "kinds", kinds, "retention", *lock ? lock : NULL);
		json_object_set_new(j, "files", files);
		json_dumpf(j, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	} else {
		printf("uri:            %s\n", shown);
		printf("type:           %s%s%s\n", m->type, m->tenant ? " tenant " : "", m->tenant ? m->tenant : "");
		printf("created at:     %s\n", m->created_at ? m->created_at : "unknown");
		printf("cairn version:  %s\n", m->tool_version ? m->tool_version : "unknown");
		printf("format:         %d (envelope version %u)\n", m->format, ei.version);
		printf("source:         %s (%s), schema version %s\n",
		       m->source_plugin ? m->source_plugin : "?", m->source_backend ? m->source_backend : "?",
		       m->schema_version ? m->schema_version : "unknown");
		if (m->since)
			printf("data since:     %s UTC (execution data from then on only)\n", m->since);
		printf("encrypted:      %s\n", ei.encrypted ? "yes" : "no (integrity check only)");
		printf("key slots:      %s\n", ei.encrypted ? ids : slots);
		if (*lock)
			printf("retention:      %s\n", lock);
		printf("kinds:          ");
		for (size_t i = 0; i < m->n_kinds; i++)
			printf("%s%s", i ? ", " : "", m->kinds[i]);
		printf("\n");
		printf("files:          ");
		for (size_t i = 0; i < m->n_files; i++)
			printf("%s%s", i ? ", " : "", m->files[i]);
		printf("%s\n", m->n_files ? "" : "none (made without --internal-storage)");
	}
	json_decref(slot_list);
	core_backup_close(&o);
	return CORE_EXIT_OK;
}

int core_cmd_verify(struct core_run *run, const char *uri)
{
	struct core_orphans *orphans = NULL;
	struct core_opened o;
	int rc = core_backup_open(run, uri, &o);
	if (rc)
		goto out;
	const struct core_manifest *m = o.manifest;
	/* every content check restore runs: an archive that verifies restores */
	rc = core_manifest_check(run, m);
	if (rc)
		goto out;
	/* decoding and checking every record (JSON included) and every file is the check:
	 * nothing is written; the orphan check needs the archive alone */
	orphans = core_orphans_for(m);
	core_backup_watch(&o, NULL, orphans);
	const struct cairn_record *rec;
	size_t ki;
	while ((rc = core_backup_next(&o, &ki, &rec)) == 1)
		;
	if (rc)
		goto out;
	char line[8192];
	core_format_summary(m->kinds, o.counts, m->n_kinds, line, sizeof(line));
	core_info("Backup summary: %s", line);
	if (m->n_files) {
		core_files_format(m->files, m->n_files, o.fin.files, o.fin.bytes, line, sizeof(line));
		core_info("Backup files: %s", line);
	}
	json_t *orphan_json = core_orphans_report(orphans, run->json);
	char shown[2048];
	core_log_redact(uri, shown, sizeof(shown));
	if (run->json) {
		json_t *j = json_pack("{s:s, s:b}", "uri", shown, "verified", 1);
		if (m->n_files) {
			json_t *files = json_object();
			for (size_t i = 0; i < m->n_files; i++)
				json_object_set_new(files, m->files[i],
						    json_pack("{s:I, s:I}", "files", (json_int_t)o.fin.files[i],
							      "bytes", (json_int_t)o.fin.bytes[i]));
			json_object_set_new(j, "files", files);
		}
		if (orphan_json)
			json_object_set_new(j, "orphans", orphan_json);
		json_dumpf(j, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	} else {
		json_decref(orphan_json);
		printf("Backup verified: %s\n", shown);
	}
out:
	core_backup_close(&o);
	core_orphans_free(orphans);
	if (rc && run->exit_class == CORE_EXIT_OK)
		run->exit_class = CORE_EXIT_FAILURE;
	return rc ? (int)run->exit_class : CORE_EXIT_OK;
}
