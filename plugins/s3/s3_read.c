/*
 * s3_read.c — readers, list, stat and remove.
 *
 * Why it is written the way it is:
 *  - A reader is a HEAD (size, ETag, and CAIRN_E_NOT_FOUND up front) followed
 *    by ranged GETs of one chunk each, served from one bounded buffer. That
 *    needs no thread and no curl_easy_pause.
 *  - Resume: the body of a GET goes straight into the chunk buffer (the
 *    request's sink), so when the connection breaks mid-body the bytes
 *    already received stay, and the next try asks only for the rest
 *    (Range: bytes=N-end) with the same backoff as any retry; a try that
 *    brought bytes does not count against max_tries. Every GET carries
 *    If-Match with the HEAD's ETag: a replaced object answers 412 and the
 *    read fails, never stitching two versions together.
 *  - A chunk that comes back shorter than asked (object replaced while we
 *    read it) is an error, never silently a shorter object.
 *  - list is ListObjectsV2 with continuation tokens; keys are returned
 *    relative to the location, and "directory" placeholders (keys ending in
 *    '/') are skipped, as the fs plugin skips directories.
 *  - remove HEADs first: S3 answers 204 to a DELETE of a missing key, but
 *    the contract wants CAIRN_E_NOT_FOUND. On a versioned bucket (every
 *    bucket with Object Lock is one) a DELETE without versionId removes
 *    nothing: it only hides the object behind a delete marker, and it
 *    "succeeds" even for a locked object. So remove deletes the version the
 *    HEAD named, for good, and a refusal is then a real one: Object Lock
 *    keeping it (CAIRN_E_LOCKED, with until when) or a permission.
 *  - list shows current versions only (ListObjectsV2): what a delete marker
 *    hides, and older versions, are not backups Cairn lists or prunes.
 *  - stat reports the retention the HEAD shows (x-amz-object-lock-*), so
 *    that `backups info` and prune can say until when a backup is locked.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3.h"

#define S3_READ_CHUNK (8u * 1024 * 1024)

struct s3_reader {
	struct s3 *s3;
	char *name;
	char *key;
	uint64_t size;   /* from the HEAD */
	uint64_t offset; /* next byte to fetch */
	char etag[128];  /* from the HEAD; "" if the server sent none */
	struct cp_buf chunk; /* the current chunk */
	size_t pos;      /* bytes of the chunk already handed out */
};

int s3_reader_open(void *inst, const char *name, void **reader)
{
	struct s3 *s3 = inst;
	struct s3_head_info h;
	int rc = s3_head_info(s3, name, 0, &h);
	if (rc)
		return rc;
	struct s3_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return s3->host->set_error(s3->host, CAIRN_E_NOMEM, "out of memory");
	memcpy(r->etag, h.etag, sizeof(r->etag));
	r->s3 = s3;
	r->size = h.size;
	r->name = strdup(name);
	r->key = s3_key(s3, name);
	if (!r->name || !r->key) {
		s3_reader_close(r);
		return s3->host->set_error(s3->host, CAIRN_E_NOMEM, "out of memory");
	}
	*reader = r;
	return CAIRN_OK;
}

static int fetch(struct s3_reader *r)
{
	struct s3 *s3 = r->s3;
	const struct cairn_host *host = s3->host;
	uint64_t want = r->size - r->offset;
	if (want > S3_READ_CHUNK)
		want = S3_READ_CHUNK;
	r->chunk.len = 0; /* the allocation is kept from chunk to chunk */
	r->pos = 0;
	char errbuf[256];
	int rc = CAIRN_OK;
	for (int attempt = 1;; attempt++) {
		if (host->cancelled(host))
			return host->set_error(host, CAIRN_E_CANCELLED, "cancelled");
		uint64_t from = r->offset + r->chunk.len;
		char range[64];
		snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)from,
			 (unsigned long long)(r->offset + want - 1));
		struct s3_pair h[] = {{"Range", range}, {"If-Match", r->etag}};
		struct s3_request rq = {.method = "GET", .key = r->key, .headers = h,
					.n_headers = r->etag[0] ? 2 : 1, .sink = &r->chunk,
					.sink_cap = (size_t)want};
		size_t before = r->chunk.len;
		int cc = 0;
		errbuf[0] = '\0';
		if (s3_request_once(s3, &rq, &cc, errbuf)) {
			s3_request_free(&rq);
			return host->set_error(host, CAIRN_E_NOMEM, "out of memory");
		}
		if (r->chunk.oom) {
			s3_request_free(&rq);
			return host->set_error(host, CAIRN_E_NOMEM, "out of memory");
		}
		int whole = rq.status == 200 && from == 0 && want == r->size;
		if (cc == 0 && (rq.status == 206 || whole)) {
			if (r->chunk.len != want)
				rc = host->set_error(host, CAIRN_E_IO,
						     "unable to read '%s': %zu bytes at offset %llu "
						     "instead of %llu (was it replaced while being read?)",
						     r->key, r->chunk.len, (unsigned long long)r->offset,
						     (unsigned long long)want);
			s3_request_free(&rq);
			break;
		}
		if (cc == 0 && rq.status == 412) {
			rc = host->set_error(host, CAIRN_E_IO,
					     "unable to read '%s': it was replaced while being read "
					     "(ETag %s no longer matches)",
					     r->key, r->etag);
			s3_request_free(&rq);
			break;
		}
		size_t gained = r->chunk.len - before;
		if (gained > 0)
			attempt = 1; /* progress: a resumed read starts its tries afresh */
		if (!s3_retryable(cc, &rq) || attempt >= s3->max_tries) {
			if (cc != 0)
				rc = s3_transport_fail(s3, cc, errbuf);
			else
				rc = s3_request_fail(s3, &rq, "read", r->key);
			s3_request_free(&rq);
			break;
		}
		unsigned wait = s3_backoff_ms(s3, attempt);
		if (gained > 0)
			S3_LOG_WARN(s3, "GET %s: cut after %zu bytes (%s); resuming at byte %llu in %u ms",
				    r->key, gained, errbuf[0] ? errbuf : "connection error",
				    (unsigned long long)(r->offset + r->chunk.len), wait);
		else
			s3_log_retry(s3, &rq, cc, errbuf, wait, attempt + 1);
		s3_request_free(&rq);
		s3_sleep_ms(wait);
	}
	if (rc) {
		r->chunk.len = 0;
		return rc;
	}
	r->offset += want;
	return CAIRN_OK;
}

int s3_reader_read(void *reader, void *buf, size_t cap, size_t *got)
{
	struct s3_reader *r = reader;
	*got = 0;
	if (r->pos >= r->chunk.len) {
		if (r->offset >= r->size || cap == 0)
			return CAIRN_OK;
		int rc = fetch(r);
		if (rc)
			return rc;
	}
	size_t n = r->chunk.len - r->pos;
	if (n > cap)
		n = cap;
	memcpy(buf, r->chunk.p + r->pos, n);
	r->pos += n;
	*got = n;
	return CAIRN_OK;
}

void s3_reader_close(void *reader)
{
	struct s3_reader *r = reader;
	if (!r)
		return;
	s3_str_free(&r->chunk);
	free(r->name);
	free(r->key);
	free(r);
}
struct list_page {
	const struct s3 *s3;
	size_t plen; /* the location's prefix, stripped from every key */
	cairn_list_cb cb;
	void *ud;
	int cb_rc; /* the callback's own non-zero status, handed back as it is */
};

/* one <Contents> of a page: values are Key, Size, LastModified */
static int list_entry(void *ud, const char *const *values)
{
	struct list_page *pg = ud;
	const char *key = values[0];
	if (!key || strlen(key) <= pg->plen || strncmp(key, pg->s3->prefix, pg->plen) != 0 ||
	    key[strlen(key) - 1] == '/')
		return CAIRN_OK;
	struct cairn_object_info info = {
		.struct_size = sizeof(info),
		.name = key + pg->plen,
		.size = values[1] ? strtoull(values[1], NULL, 10) : 0,
		.mtime = s3_parse_time(values[2]),
	};
	pg->cb_rc = pg->cb(pg->ud, &info);
	return pg->cb_rc;
}

int s3_list(void *inst, const char *prefix, cairn_list_cb cb, void *ud)
{
	static const char *const fields[] = {"Key", "Size", "LastModified"};
	struct s3 *s3 = inst;
	const struct cairn_host *host = s3->host;
	char *full = s3_key(s3, prefix ? prefix : "");
	if (!full)
		return host->set_error(host, CAIRN_E_NOMEM, "out of memory");
	struct list_page pg = {.s3 = s3, .plen = strlen(s3->prefix), .cb = cb, .ud = ud};
	char *token = NULL;
	int rc = CAIRN_OK;
	for (;;) {
		struct s3_pair q[3] = {{"list-type", "2"}, {"prefix", full}};
		size_t nq = 2;
		if (token)
			q[nq++] = (struct s3_pair){"continuation-token", token};
		struct s3_request rq = {.method = "GET", .query = q, .n_query = nq,
					.max_response = 16u << 20};
		rc = s3_request_run(s3, &rq);
		if (!rc && rq.status != 200)
			rc = s3_request_fail(s3, &rq, "list", *full ? full : s3->bucket);
		if (rc) {
			s3_request_free(&rq);
			break;
		}
		const char *p = rq.response.p, *end = p ? p + rq.response.len : NULL;
		rc = s3_xml_each(p, end, "Contents", fields, 3, list_entry, &pg);
		if (pg.cb_rc)
			rc = pg.cb_rc;
		else if (rc == CAIRN_E_NOMEM)
			rc = host->set_error(host, rc, "out of memory");
		else if (rc == CAIRN_E_IO)
			rc = host->set_error(host, rc,
					     "unable to list '%s': the answer of '%s' is not a valid "
					     "ListObjectsV2 document",
					     *full ? full : s3->bucket, s3->endpoint);
		char *trunc = rc ? NULL : s3_xml_get(p, end, "IsTruncated");
		free(token);
		token = NULL;
		if (trunc && strcmp(trunc, "true") == 0)
			token = s3_xml_get(p, end, "NextContinuationToken");
		free(trunc);
		s3_request_free(&rq);
		if (rc != CAIRN_OK || !token || !*token)
			break;
	}
	free(token);
	free(full);
	return rc;
}

int s3_stat(void *inst, const char *name, struct cairn_object_info *out)
{
	struct s3 *s3 = inst;
	struct s3_head_info h;
	int rc = s3_head_info(s3, name, 0, &h);
	if (rc)
		return rc;
	char *copy = strdup(name);
	if (!copy)
		return s3->host->set_error(s3->host, CAIRN_E_NOMEM, "out of memory");
	free(s3->stat_name);
	s3->stat_name = copy;
	out->name = s3->stat_name;
	out->size = h.size;
	out->mtime = h.mtime;
	/* the 1.4 members, when the caller's struct has them */
	if (out->struct_size >= offsetof(struct cairn_object_info, lock_mode) + sizeof(out->lock_mode)) {
		out->locked_until = 0;
		out->lock_mode = NULL;
		if (h.legal_hold) {
			out->locked_until = INT64_MAX;
			out->lock_mode = "legal hold";
		} else if (h.lock_until > 0) {
			snprintf(s3->stat_lock_mode, sizeof(s3->stat_lock_mode), "%s",
				 h.lock_mode[0] ? h.lock_mode : "retention");
			out->locked_until = h.lock_until;
			out->lock_mode = s3->stat_lock_mode;
		}
	}
	return CAIRN_OK;
}

int s3_remove(void *inst, const char *name)
{
	struct s3 *s3 = inst;
	struct s3_head_info h;
	int rc = s3_head_info(s3, name, 0, &h);
	if (rc)
		return rc;
	char *key = s3_key(s3, name);
	if (!key)
		return s3->host->set_error(s3->host, CAIRN_E_NOMEM, "out of memory");
	struct s3_pair q[] = {{"versionId", h.version_id}};
	struct s3_request rq = {.method = "DELETE", .key = key, .query = q,
				.n_query = h.version_id[0] ? 1 : 0};
	rc = s3_request_run(s3, &rq);
	if (!rc && rq.status / 100 != 2 && !(rq.status == 403 && (rc = s3_lock_refused(s3, &rq, &h, key))))
		rc = s3_request_fail(s3, &rq, "remove", key);
	if (!rc && !h.version_id[0] && rq.delete_marker)
		S3_LOG_WARN(s3,
			    "'%s' is versioned but its HEAD named no version: the DELETE only hid it "
			    "behind a delete marker, its data stays until a lifecycle rule removes it",
			    key);
	s3_request_free(&rq);
	free(key);
	return rc;
}
