/*
 * s3_lock.c — S3 Object Lock: immutable backups (object_lock_days,
 * object_lock_mode), and what a refused removal means.
 *
 * Why it is written the way it is:
 *  - Cairn writes each object once and never rewrites it, so every backup can
 *    carry its own retention from the moment it appears: the PUT (or the
 *    CreateMultipartUpload) sends x-amz-object-lock-mode and -retain-until-date.
 *    Whoever holds the storage credentials then cannot delete it before that
 *    date (COMPLIANCE: nobody can; GOVERNANCE: only with the
 *    s3:BypassGovernanceRetention permission and its header, which Cairn never
 *    sends).
 *  - The bucket is asked once, before the first byte is written: a bucket
 *    without Object Lock refuses those headers (InvalidRequest), and finding
 *    out only after the whole backup was read and uploaded wastes the run.
 *    The backup fails instead of going up without its lock: an operator who
 *    asked for immutable backups must not get deletable ones silently.
 *  - After publishing, the HEAD must show the retention asked for. RGW 16
 *    ignores the headers of a CreateMultipartUpload (seen here: the completed
 *    object has no retention) although it honours them on a PUT; a
 *    PutObjectRetention on the new version then sets it. When even that does
 *    not hold, the new version is removed again (it is not locked, so it can
 *    be) and the backup fails: nothing deletable is left under a backup name.
 *  - A removal refused with 403 is Object Lock's doing when the HEAD showed
 *    a retention still running or a legal hold, or the answer says so
 *    (AWS: AccessDenied "Access Denied because object protected by object
 *    lock"; RGW: "forbidden by object lock"; some servers: ObjectLocked). The
 *    core then gets CAIRN_E_LOCKED with until when; any other 403 stays a
 *    permission problem.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* timegm */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "s3.h"

int s3_lock_check_bucket(struct s3 *s3)
{
	if (s3->lock_checked)
		return CAIRN_OK;
	struct s3_pair q[] = {{"object-lock", ""}};
	struct s3_request rq = {.method = "GET", .query = q, .n_query = 1};
	int rc = s3_request_run(s3, &rq);
	if (rc)
		return rc;
	const char *p = rq.response.p, *end = p ? p + rq.response.len : NULL;
	char *enabled = p && rq.status == 200 ? s3_xml_get(p, end, "ObjectLockEnabled") : NULL;
	char *code = p && rq.status != 200 ? s3_xml_get(p, end, "Code") : NULL;
	if (enabled && strcmp(enabled, "Enabled") == 0) {
		s3->lock_checked = 1;
		S3_LOG_DEBUG(s3, "bucket '%s' has Object Lock enabled", s3->bucket);
	} else if (rq.status == 200 || (code && strcmp(code, "ObjectLockConfigurationNotFoundError") == 0)) {
		rc = s3->host->set_error(s3->host, CAIRN_E_UNSUPPORTED,
					 "bucket '%s' does not have Object Lock enabled, so backups "
					 "cannot be locked there (object_lock_days): use a bucket created "
					 "with Object Lock (aws s3api create-bucket "
					 "--object-lock-enabled-for-bucket …); nothing was written",
					 s3->bucket);
	} else {
		rc = s3_request_fail(s3, &rq, "read the Object Lock configuration of bucket",
				     s3->bucket);
	}
	free(enabled);
	free(code);
	s3_request_free(&rq);
	return rc;
}

/* seconds since the epoch → "YYYY-MM-DDTHH:MM:SSZ", the form S3 takes and gives */
static void iso_time(int64_t when, char out[32])
{
	time_t t = (time_t)when;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void s3_lock_until(const struct s3 *s3, char out[32])
{
	iso_time((int64_t)time(NULL) + (int64_t)s3->lock_days * 86400, out);
}

static int holds(const struct s3 *s3, const struct s3_head_info *h, int64_t want)
{
	return strcasecmp(h->lock_mode, s3->lock_mode) == 0 && h->lock_until >= want;
}

/* PutObjectRetention on one version (Content-MD5 is required for it) */
static int put_retention(struct s3 *s3, const char *key, const char *version, const char *until)
{
	struct cp_buf body = {0};
	s3_str_addf(&body, "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		    "<Mode>%s</Mode><RetainUntilDate>%s</RetainUntilDate></Retention>",
		    s3->lock_mode, until);
	if (body.oom) {
		s3_str_free(&body);
		return s3->host->set_error(s3->host, CAIRN_E_NOMEM, "out of memory");
	}
	struct s3_pair q[] = {{"retention", ""}, {"versionId", version}};
	struct s3_pair h[] = {{"Content-Type", "application/xml"}};
	struct s3_request rq = {.method = "PUT", .key = key, .query = q, .n_query = version[0] ? 2 : 1,
				.headers = h, .n_headers = 1, .body = body.p, .body_len = body.len,
				.content_md5 = 1};
	int rc = s3_request_run(s3, &rq);
	if (!rc && rq.status / 100 != 2)
		rc = s3_request_fail(s3, &rq, "set the retention of", key);
	s3_request_free(&rq);
	s3_str_free(&body);
	return rc;
}

int s3_lock_confirm(struct s3 *s3, const char *name, const char *until)
{
	const struct cairn_host *host = s3->host;
	int64_t want = s3_parse_time(until);
	struct s3_head_info h;
	int rc = s3_head_info(s3, name, 0, &h);
	if (rc)
		return rc;
	if (holds(s3, &h, want))
		return CAIRN_OK;
	char *key = s3_key(s3, name);
	if (!key)
		return host->set_error(host, CAIRN_E_NOMEM, "out of memory");
	S3_LOG_DEBUG(s3, "'%s': the server kept %s of the retention sent with it; setting it with "
		     "PutObjectRetention", key, h.lock_mode[0] ? "another" : "nothing");
	rc = put_retention(s3, key, h.version_id, until);
	struct s3_head_info again;
	if (!rc && !(rc = s3_head_info(s3, name, 0, &again)) && !holds(s3, &again, want))
		rc = host->set_error(host, CAIRN_E_UNSUPPORTED,
				     "'%s' does not keep the retention asked for (%s until %s): the "
				     "server does not apply Object Lock to it",
				     key, s3->lock_mode, until);
	if (rc) {
		/* not locked, so it can go: a backup is never left deletable */
		struct s3_pair q[] = {{"versionId", h.version_id}};
		struct s3_request del = {.method = "DELETE", .key = key, .query = q,
					 .n_query = h.version_id[0] ? 1 : 0};
		int drc = s3_request_run(s3, &del);
		if (drc || del.status / 100 != 2)
			rc = host->set_error(host, CAIRN_E_UNSUPPORTED,
					     "'%s' was published without the retention asked for, and "
					     "could not be removed again (HTTP %ld): delete it yourself",
					     key, del.status);
		else
			S3_LOG_WARN(s3, "'%s' removed again: it was published without its retention",
				    key);
		s3_request_free(&del);
	}
	free(key);
	return rc;
}

/* does the text say "object lock" (any case)? */
static int mentions_lock(const char *s)
{
	static const char word[] = "object lock";
	for (; s && *s; s++) {
		size_t i = 0;
		while (word[i] && tolower((unsigned char)s[i]) == word[i])
			i++;
		if (!word[i])
			return 1;
	}
	return 0;
}

/* GET ?retention / ?legal-hold of one version, for a HEAD that did not show them */
static void ask_retention(struct s3 *s3, const char *key, const char *version,
			  struct s3_head_info *h)
{
	static const char *const sub[] = {"retention", "legal-hold"};
	for (int i = 0; i < 2; i++) {
		struct s3_pair q[] = {{sub[i], ""}, {"versionId", version}};
		struct s3_request rq = {.method = "GET", .key = key, .query = q,
					.n_query = version[0] ? 2 : 1};
		if (s3_request_run(s3, &rq) == CAIRN_OK && rq.status == 200 && rq.response.p) {
			const char *p = rq.response.p, *end = p + rq.response.len;
			char *a = s3_xml_get(p, end, i ? "Status" : "Mode");
			char *b = i ? NULL : s3_xml_get(p, end, "RetainUntilDate");
			if (i)
				h->legal_hold = a && strcasecmp(a, "ON") == 0;
			else if (a && b) {
				snprintf(h->lock_mode, sizeof(h->lock_mode), "%s", a);
				h->lock_until = s3_parse_time(b);
			}
			free(a);
			free(b);
		}
		s3_request_free(&rq);
	}
}

int s3_lock_refused(struct s3 *s3, const struct s3_request *rq, const struct s3_head_info *h,
		    const char *key)
{
	const struct cairn_host *host = s3->host;
	const char *p = rq->response.p, *end = p ? p + rq->response.len : NULL;
	char *code = p ? s3_xml_get(p, end, "Code") : NULL;
	char *msg = p ? s3_xml_get(p, end, "Message") : NULL;
	int64_t now = (int64_t)time(NULL);
	int by_lock = h->legal_hold || h->lock_until > now ||
		      (code && strcmp(code, "ObjectLocked") == 0) || mentions_lock(msg);
	free(code);
	free(msg);
	if (!by_lock)
		return CAIRN_OK;
	struct s3_head_info known = *h;
	if (!known.legal_hold && known.lock_until <= now)
		ask_retention(s3, key, h->version_id, &known);
	/* an older core knows no CAIRN_E_LOCKED: to it, this is the refusal it is */
	int st = host->abi_minor >= 4 ? CAIRN_E_LOCKED : CAIRN_E_AUTH;
	if (known.legal_hold)
		return host->set_error(host, st,
				       "unable to remove '%s': an Object Lock legal hold keeps it (no "
				       "end date)",
				       key);
	if (known.lock_until > 0) {
		char when[32];
		iso_time(known.lock_until, when);
		return host->set_error(host, st, "unable to remove '%s': locked until %s (Object Lock, "
				       "%s mode)", key, when,
				       known.lock_mode[0] ? known.lock_mode : "unknown");
	}
	return host->set_error(host, st, "unable to remove '%s': Object Lock keeps it (HTTP %ld)", key,
			       rq->status);
}
