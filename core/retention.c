/*
 * retention.c — `cairn backups delete URI` and `cairn backups prune`.
 *
 * Only objects whose names are Cairn backup names (backups/full/backup-
 * YYYYMMDDHHMMSS[-N].cairn, backups/tenant/<tenant>/backup-…) and that start
 * with the archive magic are ever removed. Backups form one series per
 * directory (full, and each tenant); prune keeps, in each series, the newest
 * backup always, the newest --keep-last N, and every backup younger than
 * --keep-within; the rest goes.
 *
 * On immutable storage (S3 Object Lock) a backup under retention cannot be
 * removed: the plugin answers CAIRN_E_LOCKED. delete then fails (exit 6)
 * saying until when; prune keeps it with a note and goes on, so one locked
 * backup does not stop the tidying of the others, and counts it. A dry run
 * asks stat, so that it does not promise to delete what the storage keeps.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* timegm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "commands.h"
#include "storage.h"
#include "uri.h"
#include "error.h"
#include "log.h"

static const unsigned char magic[8] = {0x43, 0x41, 0x49, 0x52, 0x4E, 0x00, 0x0D, 0x0A};

/* "…/backup-20240917163312[-N].cairn" → its UTC time, or -1 if not a backup name. */
static long long backup_time(const char *name)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if (strncmp(base, "backup-", 7) != 0)
		return -1;
	const char *d = base + 7;
	for (int i = 0; i < 14; i++)
		if (d[i] < '0' || d[i] > '9')
			return -1;
	const char *rest = d + 14;
	if (*rest == '-') {
		rest++;
		if (*rest < '0' || *rest > '9')
			return -1;
		while (*rest >= '0' && *rest <= '9')
			rest++;
	}
	if (strcmp(rest, ".cairn") != 0)
		return -1;
	struct tm tm = {0};
	char buf[8];
	memcpy(buf, d, 4); buf[4] = 0; tm.tm_year = atoi(buf) - 1900;
	memcpy(buf, d + 4, 2); buf[2] = 0; tm.tm_mon = atoi(buf) - 1;
	memcpy(buf, d + 6, 2); tm.tm_mday = atoi(buf);
	memcpy(buf, d + 8, 2); tm.tm_hour = atoi(buf);
	memcpy(buf, d + 10, 2); tm.tm_min = atoi(buf);
	memcpy(buf, d + 12, 2); tm.tm_sec = atoi(buf);
	return (long long)timegm(&tm);
}

/* The series of a backup name: its directory, if it is one Cairn writes. */
static int series_of(const char *name, char *out, size_t cap)
{
	const char *slash = strrchr(name, '/');
	if (!slash || backup_time(name) < 0)
		return -1;
	size_t n = (size_t)(slash - name);
	if (n >= cap)
		return -1;
	memcpy(out, name, n);
	out[n] = '\0';
	if (strcmp(out, "backups/full") == 0)
		return 0;
	if (strncmp(out, "backups/tenant/", 15) == 0 && out[15] && !strchr(out + 15, '/'))
		return 0;
	return -1;
}

/* Is the object a Cairn archive? Reads its first 8 bytes. */
static int has_magic(struct core_storage *st, const char *name)
{
	unsigned char head[8];
	return core_storage_head(st, name, head, sizeof(head)) == sizeof(head) &&
	       memcmp(head, magic, sizeof(magic)) == 0;
}

int core_cmd_delete(struct core_run *run, const char *uri)
{
	char *location = NULL, *name = NULL;
	struct core_storage st = {0};
	int rc = core_uri_split(run, uri, &location, &name);
	if (rc)
		goto out;
	rc = core_storage_open(run, location, &st);
	if (rc)
		goto out;
	struct core_object info;
	rc = core_storage_stat(&st, name, &info);
	if (rc == CAIRN_E_NOT_FOUND) /* here an answer is a failure: nothing to delete */
		rc = core_fail(run, CORE_EXIT_STORAGE, rc);
	if (rc)
		goto out;
	if (!has_magic(&st, name)) {
		rc = core_fail(run, CORE_EXIT_USAGE,
			       core_error_set(CAIRN_E_INVALID, "'%s' is not a Cairn backup; not deleted", uri));
		goto out;
	}
	rc = core_storage_remove(&st, name);
	if (rc == CAIRN_E_LOCKED) /* the plugin's detail says until when */
		rc = core_fail(run, CORE_EXIT_STORAGE, rc);
	if (rc)
		goto out;
	if (run->json) {
		json_t *j = json_pack("{s:[s]}", "deleted", uri);
		json_dumpf(j, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	} else
		printf("Backup deleted: %s\n", uri);
out:
	core_storage_close(&st);
	free(location);
	free(name);
	if (rc && run->exit_class == CORE_EXIT_OK)
		run->exit_class = CORE_EXIT_FAILURE;
	return rc ? (int)run->exit_class : CORE_EXIT_OK;
}

struct item {
	char *name;
	char series[256];
	long long when;
	long seq;       /* N of backup-T-N.cairn (a later backup of the same second); 0 without */
	uint64_t size;
};

struct items {
	struct item *v;
	size_t n;
};

static int collect(void *ud, const struct core_object *obj)
{
	struct items *it = ud;
	char series[256];
	if (series_of(obj->name, series, sizeof(series)) != 0)
		return 0; /* not a Cairn backup name: never touched */
	struct item *v = realloc(it->v, (it->n + 1) * sizeof(*v));
	if (!v)
		return CAIRN_E_NOMEM;
	it->v = v;
	v = &it->v[it->n];
	v->name = strdup(obj->name);
	if (!v->name)
		return CAIRN_E_NOMEM;
	memcpy(v->series, series, sizeof(series));
	v->when = backup_time(obj->name);
	const char *dash = strrchr(obj->name, '-');
	v->seq = dash && dash > strrchr(obj->name, '/') + 7 ? strtol(dash + 1, NULL, 10) : 0;
	v->size = obj->size;
	it->n++;
	return 0;
}

/* Series ascending, then newest first; within one second, backup-T-2 is newer than backup-T-1 and backup-T. */
static int by_series_newest(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->series, y->series);
	if (c)
		return c;
	if (x->when != y->when)
		return x->when > y->when ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq > y->seq ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* "locked until …, MODE" for a backup whose stat reports retention still holding at `now` */
static int lock_note(struct core_storage *st, const char *name, long long now, char *out,
		     size_t cap)
{
	struct core_object info;
	out[0] = '\0';
	if (core_storage_stat(st, name, &info) != CAIRN_OK) {
		core_error_clear();
		return 0;
	}
	return core_object_lock_text(&info, now, out, cap);
}

/* "7d", "12h", "30m", "2w", "90s" → seconds; -1 if malformed. */
long long core_parse_duration(const char *s)
{
	char *end;
	long long n = strtoll(s, &end, 10);
	if (end == s || n < 0 || end[0] == '\0' || end[1] != '\0')
		return -1;
	switch (*end) {
	case 's': return n;
	case 'm': return n * 60;
	case 'h': return n * 3600;
	case 'd': return n * 86400;
	case 'w': return n * 7 * 86400;
	default: return -1;
	}
}

int core_cmd_prune(struct core_run *run, long keep_last, long long keep_within, int dry_run)
{
	struct core_storage st = {0};
	struct items it = {0};
	json_t *gone = json_array(), *kept = json_array(), *locked = json_array();
	int rc = core_storage_open(run, run->storage_uri, &st);
	if (rc)
		goto out;
	/* prune tidies every series, so what killed backups left goes too */
	if (!dry_run)
		rc = core_storage_housekeep(&st, "backups/");
	if (rc)
		goto out;
	rc = core_storage_list(&st, "backups/", collect, &it);
	if (rc == CAIRN_E_NOMEM)
		rc = core_fail(run, CORE_EXIT_FAILURE, rc);
	if (rc)
		goto out;
	qsort(it.v, it.n, sizeof(*it.v), by_series_newest);
	long long now = (long long)time(NULL);
	size_t rank = 0, n_gone = 0, n_locked = 0;
	for (size_t i = 0; i < it.n && !rc; i++) {
		struct item *x = &it.v[i];
		rank = (i > 0 && strcmp(it.v[i - 1].series, x->series) == 0) ? rank + 1 : 0;
		int keep = rank == 0 /* the newest backup of a series always stays */
			   || (keep_last > 0 && rank < (size_t)keep_last) ||
			   (keep_within >= 0 && now - x->when <= keep_within);
		char uri[2048];
		if (run->storage_is_default)
			snprintf(uri, sizeof(uri), "cairn:///%s", x->name);
		else
			snprintf(uri, sizeof(uri), "%s/%s", run->storage_uri, x->name);
		if (keep) {
			json_array_append_new(kept, json_string(uri));
			continue;
		}
		if (!has_magic(&st, x->name)) {
			core_warn("%s does not look like a Cairn backup; left alone", uri);
			continue;
		}
		char why[160];
		int held = 0;
		if (dry_run) {
			held = lock_note(&st, x->name, now, why, sizeof(why));
		} else if ((rc = core_storage_remove(&st, x->name)) == CAIRN_E_LOCKED) {
			/* the storage refused: say until when if stat tells, else its reason */
			char detail[sizeof(why)];
			snprintf(detail, sizeof(detail), "%s", core_error_message());
			core_error_clear();
			rc = CAIRN_OK;
			held = 1;
			if (!lock_note(&st, x->name, now, why, sizeof(why)))
				snprintf(why, sizeof(why), "%s", detail);
		}
		if (rc)
			break;
		if (held) {
			n_locked++;
			json_array_append_new(kept, json_string(uri));
			json_array_append_new(locked, json_pack("{s:s, s:s}", "uri", uri, "why", why));
			if (!run->json)
				printf("%s %s (%s)\n", dry_run ? "Would keep:" : "Kept:", uri, why);
			continue;
		}
		n_gone++;
		json_array_append_new(gone, json_string(uri));
		if (!run->json)
			printf("%s %s\n", dry_run ? "Would delete:" : "Deleted:", uri);
	}
	if (!rc) {
		char held[64] = "";
		if (n_locked)
			snprintf(held, sizeof(held), " (%zu of them locked by the storage)", n_locked);
		core_info("Prune %s %zu of %zu backups, kept %zu%s", dry_run ? "would delete" : "deleted",
			  n_gone, it.n, it.n - n_gone, held);
		if (run->json) {
			json_t *j = json_pack("{s:b, s:O, s:O, s:O}", "dry_run", dry_run, "deleted", gone,
					      "kept", kept, "locked", locked);
			json_dumpf(j, stdout, JSON_COMPACT);
			fputc('\n', stdout);
			json_decref(j);
		}
	}
out:
	json_decref(gone);
	json_decref(kept);
	json_decref(locked);
	for (size_t i = 0; i < it.n; i++)
		free(it.v[i].name);
	free(it.v);
	core_storage_close(&st);
	if (rc && run->exit_class == CORE_EXIT_OK)
		run->exit_class = CORE_EXIT_FAILURE;
	return rc ? (int)run->exit_class : CORE_EXIT_OK;
}
