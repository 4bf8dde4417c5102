/*
 * check.c — `cairn backups check`: one command for cron, systemd timers and
 * monitoring (Nagios-style exit codes, a Prometheus textfile).
 *
 * It answers one question per series — "is there a recent backup I could
 * restore?" — from the storage listing alone, and with --verify-latest by
 * reading the newest backup to its authenticated end, as a restore would.
 * The time of a backup is the one in its name (backup-YYYYMMDDHHMMSS…,
 * written by the clock of the machine that made it, UTC), not the storage's
 * mtime, which a copy or a sync between buckets would change.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "backup_read.h"
#include "commands.h"
#include "error.h"
#include "log.h"
#include "record.h"
#include "scope.h"

struct newest {
	const char *series;      /* "backups/full/" */
	char name[1024];
	uint64_t size;
	long long when;          /* seconds since the epoch, UTC; -1: none found */
};

/* n decimal digits at s as a number (the caller checked they are digits). */
static int num(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* Seconds since the epoch of "YYYYMMDDHHMMSS" at s (UTC), or -1. */
static long long stamp_time(const char *s)
{
	for (int i = 0; i < 14; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	int y = num(s, 4), m = num(s + 4, 2), d = num(s + 6, 2);
	if (m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	/* days from the civil date, as POSIX has no timegm: shift the year to start in March */
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
	long long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	long long days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
	return days * 86400 + num(s + 8, 2) * 3600 + num(s + 10, 2) * 60 + num(s + 12, 2);
}

static int newest_cb(void *ud, const struct core_object *obj)
{
	struct newest *n = ud;
	size_t plen = strlen(n->series), len = strlen(obj->name);
	const char *base = obj->name + plen;
	/* only this series' own backups: backups/full/backup-20261202101500[-N].cairn */
	if (len <= plen || strncmp(obj->name, n->series, plen) != 0 || strchr(base, '/') ||
	    strncmp(base, "backup-", 7) != 0 || len < 6 || strcmp(obj->name + len - 6, ".cairn") != 0)
		return 0;
	long long t = stamp_time(base + 7);
	if (t < 0)
		return 0;
	/* newest by time, then by name (the -N of two backups of the same second) */
	if (t > n->when || (t == n->when && strcmp(obj->name, n->name) > 0)) {
		n->when = t;
		n->size = obj->size;
		snprintf(n->name, sizeof(n->name), "%s", obj->name);
	}
	return 0;
}

static void prom_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

/*
 * The textfile collector reads whatever is in the directory at any moment:
 * write a temporary file beside the target and rename it over, so that it
 * never sees half a file.
 */
static int write_prometheus(const char *path, const char *series, const struct newest *n,
			    int ok, long long now, const struct core_manifest *m, const uint64_t *counts)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return core_error_set(CAIRN_E_IO, "cannot write '%s': %s", tmp, strerror(errno));
	fprintf(f, "# HELP cairn_backup_check_ok 1 if the newest backup of the series passed the check.\n"
		   "# TYPE cairn_backup_check_ok gauge\n");
	fputs("cairn_backup_check_ok{series=\"", f);
	prom_escape(f, series);
	fprintf(f, "\"} %d\n", ok);
	fprintf(f, "# HELP cairn_backup_check_timestamp_seconds When this check ran.\n"
		   "# TYPE cairn_backup_check_timestamp_seconds gauge\n");
	fputs("cairn_backup_check_timestamp_seconds{series=\"", f);
	prom_escape(f, series);
	fprintf(f, "\"} %lld\n", now);
	if (n->when >= 0) {
		fprintf(f, "# HELP cairn_backup_last_success_timestamp_seconds Creation time of the newest complete backup.\n"
			   "# TYPE cairn_backup_last_success_timestamp_seconds gauge\n");
		fputs("cairn_backup_last_success_timestamp_seconds{series=\"", f);
		prom_escape(f, series);
		fprintf(f, "\"} %lld\n", n->when);
		fprintf(f, "# HELP cairn_backup_last_size_bytes Size of the newest complete backup.\n"
			   "# TYPE cairn_backup_last_size_bytes gauge\n");
		fputs("cairn_backup_last_size_bytes{series=\"", f);
		prom_escape(f, series);
		fprintf(f, "\"} %llu\n", (unsigned long long)n->size);
	}
	if (m && counts) {
		fprintf(f, "# HELP cairn_backup_last_records Records per kind in the newest backup (verified).\n"
			   "# TYPE cairn_backup_last_records gauge\n");
		for (size_t i = 0; i < m->n_kinds; i++) {
			fputs("cairn_backup_last_records{series=\"", f);
			prom_escape(f, series);
			fprintf(f, "\",kind=\"%s\"} %llu\n", m->kinds[i], (unsigned long long)counts[i]);
		}
	}
	int bad = ferror(f);
	if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return core_error_set(CAIRN_E_IO, "cannot write '%s': %s", path, strerror(e));
	}
	return CAIRN_OK;
}

int core_cmd_check(struct core_run *run, const char *tenant, long long max_age, int verify,
		   const char *prometheus)
{
	char series[160], label[140];
	if (tenant)
		snprintf(label, sizeof(label), "tenant/%s", tenant);
	else
		snprintf(label, sizeof(label), "full");
	snprintf(series, sizeof(series), "backups/%s/", label);
	struct newest n = {.series = series, .when = -1};
	struct core_storage st;
	long long now = (long long)time(NULL);
	int rc = core_storage_open(run, run->storage_uri, &st);
	if (!rc) {
		rc = core_storage_list(&st, series, newest_cb, &n);
		core_storage_close(&st);
	}
	if (rc)
		return (int)run->exit_class;

	char uri[2048] = "", shown[2100] = "", why[512] = "";
	int ok = 1;
	enum core_exit code = CORE_EXIT_OK;
	struct core_opened o = {0};
	int opened = 0;
	if (n.when < 0) {
		ok = 0;
		code = CORE_EXIT_STALE;
		snprintf(why, sizeof(why), "no backup in the series %s", label);
	} else {
		if (run->storage_is_default)
			snprintf(uri, sizeof(uri), "cairn:///%s", n.name);
		else
			snprintf(uri, sizeof(uri), "%s%s%s", run->storage_uri,
				 run->storage_uri[strlen(run->storage_uri) - 1] == '/' ? "" : "/", n.name);
		core_log_redact(uri, shown, sizeof(shown));
		if (now - n.when > max_age) {
			ok = 0;
			code = CORE_EXIT_STALE;
			snprintf(why, sizeof(why), "the newest backup of %s is %lld h %02lld min old, over the %lld h %02lld min allowed: %s",
				 label, (now - n.when) / 3600, (now - n.when) % 3600 / 60, max_age / 3600,
				 max_age % 3600 / 60, shown);
		}
	}
	if (ok && verify) {
		/* what a restore would read, all of it: keys, integrity, every record's checks */
		rc = core_backup_open(run, uri, &o);
		opened = 1;
		if (!rc)
			rc = core_manifest_check(run, o.manifest);
		const struct cairn_record *rec;
		size_t ki;
		if (!rc) {
			int r;
			while ((r = core_backup_next(&o, &ki, &rec)) == 1)
				;
			rc = r;
		}
		if (rc) {
			ok = 0;
			code = run->exit_class != CORE_EXIT_OK ? run->exit_class : CORE_EXIT_FAILURE;
			snprintf(why, sizeof(why), "the newest backup of %s does not verify: %s", label,
				 core_error_message());
		}
	}
	if (prometheus) {
		int prc = write_prometheus(prometheus, label, &n, ok, now,
					   opened && ok ? o.manifest : NULL, opened && ok ? o.counts : NULL);
		if (prc && ok) {
			ok = 0; /* the monitoring would not learn of the backup: not OK */
			code = CORE_EXIT_FAILURE;
			snprintf(why, sizeof(why), "%s", core_error_message());
		}
	}
	if (!ok) {
		/* one line on stderr (and the error document with --output json), from main */
		if (code == CORE_EXIT_STALE || !*core_error_message())
			core_error_set(CAIRN_E_NOT_FOUND, "%s", why);
		else
			core_error_set(core_error_status(), "%s", why);
	} else if (run->json) {
		json_t *j = json_pack("{s:s, s:b, s:s, s:I, s:I, s:b}", "series", label, "ok", 1,
				      "latest", shown, "age_seconds", (json_int_t)(now - n.when),
				      "max_age_seconds", (json_int_t)max_age, "verified", verify);
		if (opened) {
			json_t *k = json_object();
			for (size_t i = 0; i < o.manifest->n_kinds; i++)
				json_object_set_new(k, o.manifest->kinds[i], json_integer((json_int_t)o.counts[i]));
			json_object_set_new(j, "records", k);
		}
		json_dumpf(j, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	} else {
		printf("OK: the newest backup of %s is %lld h %02lld min old%s: %s\n", label,
		       (now - n.when) / 3600, (now - n.when) % 3600 / 60, verify ? " and verifies" : "",
		       shown);
	}
	if (opened)
		core_backup_close(&o);
	fflush(stdout);
	return (int)code;
}
