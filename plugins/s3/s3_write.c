/*
 * s3_write.c — writers: objects smaller than part_size go up in one PUT at
 * commit; larger ones as a multipart upload, `parallel` parts in flight at
 * once (curl multi).
 *
 * Why it is written the way it is:
 *  - The safety contract (nothing visible before commit) is S3's own: a PUT
 *    or a CompleteMultipartUpload publishes the whole object atomically, and
 *    the parts of an unfinished upload are never listed. Abort (and every
 *    failure) sends AbortMultipartUpload so no parts are left to pay for.
 *  - Never replace: a HEAD before the first part and again before publishing
 *    fails with CAIRN_E_EXISTS. That leaves a race between the HEAD and the
 *    publish (two writers of the same name in the same instant); to close it
 *    where the server can, the PUT and the Complete also carry
 *    `If-None-Match: *` (AWS since 2024: 412 if the key exists). Servers that
 *    ignore the header (older RGW, MinIO) keep only the HEAD check. Cairn's
 *    backup names carry a timestamp and are picked after a stat, so two
 *    writers racing for one name is already unlikely.
 *  - Parallel parts: each of the `parallel` slots owns an easy handle and a
 *    part buffer; a filled buffer is swapped with a free slot's, so memory is
 *    at most parallel + 1 buffers of part_size. Every part is retried on its
 *    own (connection errors, 5xx, 429, SlowDown) with exponential backoff and
 *    jitter, without blocking the others: a slot waiting for its retry just
 *    sits out until its time comes. ETags are kept by part number, as parts
 *    finish in any order. The first part that fails for good fails the
 *    writer: the other transfers are cancelled and the upload is aborted.
 *  - Bounded memory: parallel + 1 buffers of at most part_size. Parts are numbered
 *    1…10000; part_size doubles after every 1000 parts, so the limit is
 *    never reached (8 MiB parts: the first 1000 carry 8 GB, the next 16 GB…).
 *  - Each part carries its real SHA-256 (x-amz-content-sha256), so the
 *    server checks the bytes it stores against the bytes we sent; and its
 *    Content-MD5, which S3 requires of every upload into a bucket with
 *    Object Lock (AWS: "Content-MD5 OR x-amz-checksum- HTTP header is
 *    required for Put Part requests with Object Lock parameters"), a default
 *    retention included, even when Cairn asks for no lock itself.
 *  - object_lock_days: the bucket's Object Lock is checked at the first
 *    writer_begin (before anything is read or sent), the retention goes on
 *    the PUT or the CreateMultipartUpload, and it is confirmed after
 *    publishing (s3_lock.c): a commit succeeds only with the lock in place.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "s3.h"

#define S3_MAX_PARTS 10000

enum slot_state { SLOT_FREE, SLOT_RUNNING, SLOT_WAITING };

struct slot {
	enum slot_state state;
	CURL *c;
	char *buf;
	size_t len, cap;
	unsigned part;          /* 1-based part number */
	char num[16];
	struct s3_pair q[2];
	struct s3_request rq;
	struct s3_call call;
	int attempt;
	uint64_t retry_at;      /* SLOT_WAITING: when to send again (s3_now_ms) */
};

struct s3_writer {
	struct s3 *s3;
	char *name;
	char *key;
	char until[32];         /* the retain-until date sent, "" without Object Lock */
	char *buf;              /* the part being filled */
	size_t len, cap, part_size;
	char *upload_id;
	unsigned parts;         /* parts handed to a slot so far */
	char **etags;           /* by part number - 1 */
	CURLM *multi;
	struct slot *slots;
	int n_slots;
	int failed;
};

/* headers for a new object: storage class, server-side encryption, retention */
#define S3_OBJECT_HEADERS 6
static size_t object_headers(struct s3_writer *w, struct s3_pair *h, int if_none_match)
{
	struct s3 *s3 = w->s3;
	size_t n = 0;
	if (s3->lock_days) {
		s3_lock_until(s3, w->until);
		h[n++] = (struct s3_pair){"x-amz-object-lock-mode", s3->lock_mode};
		h[n++] = (struct s3_pair){"x-amz-object-lock-retain-until-date", w->until};
	}
	if (s3->storage_class)
		h[n++] = (struct s3_pair){"x-amz-storage-class", s3->storage_class};
	if (s3->sse)
		h[n++] = (struct s3_pair){"x-amz-server-side-encryption", s3->sse};
	if (s3->sse_kms_key_id)
		h[n++] = (struct s3_pair){"x-amz-server-side-encryption-aws-kms-key-id",
					  s3->sse_kms_key_id};
	if (if_none_match)
		h[n++] = (struct s3_pair){"If-None-Match", "*"};
	return n;
}

int s3_writer_begin(void *inst, const char *name, void **writer)
{
	struct s3 *s3 = inst;
	int rc = s3->lock_days ? s3_lock_check_bucket(s3) : CAIRN_OK;
	if (rc)
		return rc;
	struct s3_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return s3->host->set_error(s3->host, CAIRN_E_NOMEM, "out of memory");
	w->s3 = s3;
	w->part_size = s3->part_size;
	w->name = strdup(name);
	w->key = s3_key(s3, name);
	if (!w->name || !w->key) {
		free(w->name);
		free(w->key);
		free(w);
		return s3->host->set_error(s3->host, CAIRN_E_NOMEM, "out of memory");
	}
	*writer = w;
	return CAIRN_OK;
}

/* CAIRN_E_EXISTS if the object is there, CAIRN_OK if not, or the failure */
static int must_not_exist(struct s3_writer *w)
{
	int rc = s3_head(w->s3, w->name, NULL, NULL, 1);
	if (rc == CAIRN_OK)
		return w->s3->host->set_error(w->s3->host, CAIRN_E_EXISTS,
					      "'%s' already exists; not replaced", w->key);
	return rc == CAIRN_E_NOT_FOUND ? CAIRN_OK : rc;
}

static int create_upload(struct s3_writer *w)
{
	struct s3 *s3 = w->s3;
	int rc = must_not_exist(w);
	if (rc)
		return rc;
	w->multi = curl_multi_init();
	w->n_slots = s3->parallel > 0 ? s3->parallel : 1;
	w->slots = calloc((size_t)w->n_slots, sizeof(*w->slots));
	w->etags = calloc(S3_MAX_PARTS, sizeof(*w->etags));
	if (!w->multi || !w->slots || !w->etags)
		return s3->host->set_error(s3->host, CAIRN_E_NOMEM, "out of memory");
	for (int i = 0; i < w->n_slots; i++)
		if (!(w->slots[i].c = curl_easy_init()))
			return s3->host->set_error(s3->host, CAIRN_E_GENERIC,
						   "unable to create a libcurl handle");
	curl_multi_setopt(w->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)w->n_slots);
	struct s3_pair q[] = {{"uploads", ""}};
	struct s3_pair h[S3_OBJECT_HEADERS];
	struct s3_request rq = {.method = "POST", .key = w->key, .query = q, .n_query = 1,
				.headers = h, .n_headers = object_headers(w, h, 0),
				.body = "", .body_len = 0};
	rc = s3_request_run(s3, &rq);
	if (!rc && rq.status != 200)
		rc = s3_request_fail(s3, &rq, "start the upload of", w->key);
	if (!rc) {
		w->upload_id = rq.response.p ? s3_xml_get(rq.response.p, rq.response.p + rq.response.len,
							  "UploadId")
					     : NULL;
		if (!w->upload_id || !*w->upload_id)
			rc = s3->host->set_error(s3->host, CAIRN_E_IO,
						 "unable to start the upload of '%s': no UploadId in "
						 "the answer of '%s'",
						 w->key, s3->endpoint);
	}
	s3_request_free(&rq);
	if (!rc)
		S3_LOG_DEBUG(s3, "'%s': multipart upload started, up to %d parts in flight", w->key,
			     w->n_slots);
	return rc;
}

/* (re)send the part of slot sl */
static int slot_send(struct s3_writer *w, struct slot *sl)
{
	struct s3 *s3 = w->s3;
	snprintf(sl->num, sizeof(sl->num), "%u", sl->part);
	sl->q[0] = (struct s3_pair){"partNumber", sl->num};
	sl->q[1] = (struct s3_pair){"uploadId", w->upload_id};
	s3_request_free(&sl->rq);
	sl->rq = (struct s3_request){.method = "PUT", .key = w->key, .query = sl->q, .n_query = 2,
				     .body = sl->buf ? sl->buf : "", .body_len = sl->len,
				     .content_md5 = 1};
	if (s3_call_prepare(s3, sl->c, &sl->rq, &sl->call))
		return s3->host->set_error(s3->host, CAIRN_E_NOMEM, "out of memory");
	sl->attempt++;
	if (curl_multi_add_handle(w->multi, sl->c) != CURLM_OK) {
		s3_call_finish(&sl->call, CURLE_FAILED_INIT);
		return s3->host->set_error(s3->host, CAIRN_E_GENERIC,
					   "unable to start a transfer (libcurl multi)");
	}
	sl->state = SLOT_RUNNING;
	return CAIRN_OK;
}

/* a slot's transfer ended with cc: keep its ETag, schedule a retry, or fail */
static int slot_done(struct s3_writer *w, struct slot *sl, CURLcode cc)
{
	struct s3 *s3 = w->s3;
	curl_multi_remove_handle(w->multi, sl->c);
	s3_call_finish(&sl->call, cc);
	sl->state = SLOT_FREE;
	struct s3_request *rq = &sl->rq;
	if (s3_retryable(cc, rq) && sl->attempt < s3->max_tries) {
		unsigned wait = s3_backoff_ms(s3, sl->attempt);
		s3_log_retry(s3, rq, cc, sl->call.errbuf, wait, sl->attempt + 1);
		sl->state = SLOT_WAITING;
		sl->retry_at = s3_now_ms() + wait;
		return CAIRN_OK;
	}
	int rc;
	if (cc != CURLE_OK)
		rc = s3_transport_fail(s3, cc, sl->call.errbuf);
	else if (rq->status != 200)
		rc = s3_request_fail(s3, rq, "upload a part of", w->key);
	else if (!rq->etag[0])
		rc = s3->host->set_error(s3->host, CAIRN_E_IO,
					 "unable to upload part %u of '%s': no ETag in the answer",
					 sl->part, w->key);
	else {
		/* the header's ETag, verbatim: it is escaped when it goes into XML */
		char *etag = strdup(rq->etag);
		if (!etag)
			return s3->host->set_error(s3->host, CAIRN_E_NOMEM, "out of memory");
		w->etags[sl->part - 1] = etag;
		rc = CAIRN_OK;
	}
	s3_request_free(rq);
	sl->len = 0;
	return rc;
}

/* cancel every transfer in flight (failure or abort) */
static void cancel_all(struct s3_writer *w)
{
	for (int i = 0; w->slots && i < w->n_slots; i++) {
		struct slot *sl = &w->slots[i];
		if (sl->state == SLOT_RUNNING) {
			curl_multi_remove_handle(w->multi, sl->c);
			s3_call_finish(&sl->call, CURLE_ABORTED_BY_CALLBACK);
		}
		s3_request_free(&sl->rq);
		sl->state = SLOT_FREE;
	}
}

/*
 * Drive the transfers until a slot is free (want_free) or until none is
 * running or waiting. The first final failure is returned (reported).
 */
static int pump(struct s3_writer *w, int want_free)
{
	struct s3 *s3 = w->s3;
	const struct cairn_host *host = s3->host;
	for (;;) {
		if (host->cancelled(host))
			return host->set_error(host, CAIRN_E_CANCELLED, "cancelled");
		int running;
		if (curl_multi_perform(w->multi, &running) != CURLM_OK)
			return host->set_error(host, CAIRN_E_GENERIC, "libcurl multi failed");
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(w->multi, &left))) {
			if (m->msg != CURLMSG_DONE)
				continue;
			CURL *e = m->easy_handle;
			CURLcode cc = m->data.result;
			for (int i = 0; i < w->n_slots; i++) {
				if (w->slots[i].c == e && w->slots[i].state == SLOT_RUNNING) {
					int rc = slot_done(w, &w->slots[i], cc);
					if (rc)
						return rc;
					break;
				}
			}
		}
		uint64_t now = s3_now_ms();
		long timeout = 1000;
		int busy = 0, free_slot = 0;
		for (int i = 0; i < w->n_slots; i++) {
			struct slot *sl = &w->slots[i];
			if (sl->state == SLOT_WAITING && sl->retry_at <= now) {
				int rc = slot_send(w, sl);
				if (rc)
					return rc;
			}
			if (sl->state == SLOT_WAITING && (long)(sl->retry_at - now) < timeout)
				timeout = (long)(sl->retry_at - now);
			if (sl->state == SLOT_FREE)
				free_slot = 1;
			else
				busy = 1;
		}
		if ((want_free && free_slot) || !busy)
			return CAIRN_OK;
		if (curl_multi_poll(w->multi, NULL, 0, (int)(timeout > 0 ? timeout : 1), NULL) !=
		    CURLM_OK)
			return host->set_error(host, CAIRN_E_GENERIC, "libcurl multi failed");
	}
}

/* hand the filled buffer to a free slot and start sending it */
static int upload_part(struct s3_writer *w)
{
	struct s3 *s3 = w->s3;
	int rc;
	if (!w->upload_id && (rc = create_upload(w)))
		return rc;
	if (w->parts >= S3_MAX_PARTS)
		return s3->host->set_error(s3->host, CAIRN_E_NO_SPACE,
					   "'%s' needs more than %d parts", w->key, S3_MAX_PARTS);
	if ((rc = pump(w, 1)))
		return rc;
	struct slot *sl = NULL;
	for (int i = 0; i < w->n_slots && !sl; i++)
		if (w->slots[i].state == SLOT_FREE)
			sl = &w->slots[i];
	/* swap buffers: the slot sends ours, we fill its old one */
	char *b = sl->buf;
	size_t cap = sl->cap;
	sl->buf = w->buf;
	sl->cap = w->cap;
	sl->len = w->len;
	w->buf = b;
	w->cap = cap;
	w->len = 0;
	sl->part = ++w->parts;
	sl->attempt = 0;
	if ((rc = slot_send(w, sl)))
		return rc;
	if (w->parts % 1000 == 0) {
		w->part_size *= 2;
		S3_LOG_DEBUG(s3, "'%s': %u parts, part size now %zu bytes", w->key, w->parts,
			     w->part_size);
	}
	/* let the new transfer start at once */
	int running;
	curl_multi_perform(w->multi, &running);
	return CAIRN_OK;
}

int s3_writer_write(void *writer, const void *buf, size_t len)
{
	struct s3_writer *w = writer;
	struct s3 *s3 = w->s3;
	if (w->failed)
		return s3->host->set_error(s3->host, CAIRN_E_IO,
					   "writing '%s' failed earlier; abort it", w->key);
	const char *p = buf;
	while (len > 0) {
		if (w->len == w->part_size) {
			int rc = upload_part(w);
			if (rc) {
				w->failed = 1;
				return rc;
			}
		}
		size_t take = w->part_size - w->len;
		if (take > len)
			take = len;
		if (w->len + take > w->cap) {
			/* grow geometrically, never past one part */
			size_t cap = w->cap ? w->cap : 64 * 1024;
			while (cap < w->len + take)
				cap *= 2;
			if (cap > w->part_size)
				cap = w->part_size;
			char *nb = realloc(w->buf, cap);
			if (!nb) {
				w->failed = 1;
				return s3->host->set_error(s3->host, CAIRN_E_NOMEM, "out of memory");
			}
			w->buf = nb;
			w->cap = cap;
		}
		memcpy(w->buf + w->len, p, take);
		w->len += take;
		p += take;
		len -= take;
	}
	if (w->multi) {
		/* keep the parts in flight moving between writes */
		int running;
		curl_multi_perform(w->multi, &running);
	}
	return CAIRN_OK;
}

static void abort_upload(struct s3_writer *w)
{
	cancel_all(w);
	if (!w->upload_id)
		return;
	struct s3_pair q[] = {{"uploadId", w->upload_id}};
	struct s3_request rq = {.method = "DELETE", .key = w->key, .query = q, .n_query = 1};
	if (s3_request_run(w->s3, &rq) != CAIRN_OK || rq.status / 100 != 2)
		S3_LOG_WARN(w->s3,
			    "unable to abort the upload of '%s' (HTTP %ld); its parts stay until a "
			    "lifecycle rule removes them",
			    w->key, rq.status);
	else
		S3_LOG_DEBUG(w->s3, "'%s': multipart upload aborted", w->key);
	s3_request_free(&rq);
	free(w->upload_id);
	w->upload_id = NULL;
}

static void writer_free(struct s3_writer *w)
{
	cancel_all(w);
	for (int i = 0; w->slots && i < w->n_slots; i++) {
		if (w->slots[i].c)
			curl_easy_cleanup(w->slots[i].c);
		free(w->slots[i].buf);
	}
	if (w->multi)
		curl_multi_cleanup(w->multi);
	free(w->slots);
	if (w->etags)
		for (unsigned i = 0; i < w->parts && i < S3_MAX_PARTS; i++)
			free(w->etags[i]);
	free(w->etags);
	free(w->buf);
	free(w->name);
	free(w->key);
	free(w->upload_id);
	free(w);
}

void s3_writer_abort(void *writer)
{
	struct s3_writer *w = writer;
	if (!w)
		return;
	abort_upload(w);
	writer_free(w);
}

static int put_single(struct s3_writer *w)
{
	struct s3 *s3 = w->s3;
	int rc = must_not_exist(w);
	if (rc)
		return rc;
	struct s3_pair h[S3_OBJECT_HEADERS];
	struct s3_request rq = {.method = "PUT", .key = w->key, .headers = h,
				.n_headers = object_headers(w, h, 1),
				.body = w->buf ? w->buf : "", .body_len = w->len, .content_md5 = 1};
	rc = s3_request_run(s3, &rq);
	if (!rc && rq.status != 200)
		rc = s3_request_fail(s3, &rq, "write", w->key);
	s3_request_free(&rq);
	if (!rc && w->until[0])
		rc = s3_lock_confirm(s3, w->name, w->until);
	return rc;
}

static int complete_upload(struct s3_writer *w)
{
	struct s3 *s3 = w->s3;
	int rc = CAIRN_OK;
	if (w->len > 0 && (rc = upload_part(w)))
		return rc;
	/* every part sent and acknowledged */
	if ((rc = pump(w, 0)))
		return rc;
	if ((rc = must_not_exist(w)))
		return rc;
	struct cp_buf body = {0};
	s3_str_adds(&body, "<CompleteMultipartUpload>");
	for (unsigned i = 0; i < w->parts; i++) {
		if (!w->etags[i]) {
			s3_str_free(&body);
			return s3->host->set_error(s3->host, CAIRN_E_IO,
						   "unable to complete '%s': part %u has no ETag",
						   w->key, i + 1);
		}
		s3_str_addf(&body, "<Part><PartNumber>%u</PartNumber><ETag>", i + 1);
		s3_xml_escape(&body, w->etags[i]);
		s3_str_adds(&body, "</ETag></Part>");
	}
	s3_str_adds(&body, "</CompleteMultipartUpload>");
	if (body.oom) {
		s3_str_free(&body);
		return s3->host->set_error(s3->host, CAIRN_E_NOMEM, "out of memory");
	}
	struct s3_pair q[] = {{"uploadId", w->upload_id}};
	struct s3_pair h[] = {{"Content-Type", "application/xml"}, {"If-None-Match", "*"}};
	struct s3_request rq = {.method = "POST", .key = w->key, .query = q, .n_query = 1,
				.headers = h, .n_headers = 2, .body = body.p, .body_len = body.len};
	rc = s3_request_run(s3, &rq);
	/* a Complete can fail after a 200: the error is then in the body */
	char *error = !rc && rq.status == 200 && rq.response.p
			      ? s3_xml_get(rq.response.p, rq.response.p + rq.response.len, "Error")
			      : NULL;
	if (!rc && (rq.status != 200 || error)) {
		if (rq.status == 200)
			rq.status = 500;
		rc = s3_request_fail(s3, &rq, "complete the upload of", w->key);
	}
	free(error);
	s3_request_free(&rq);
	s3_str_free(&body);
	if (!rc) {
		S3_LOG_DEBUG(s3, "'%s': published, %u parts", w->key, w->parts);
		free(w->upload_id); /* published: nothing left to abort */
		w->upload_id = NULL;
		if (w->until[0])
			rc = s3_lock_confirm(s3, w->name, w->until);
	}
	return rc;
}

int s3_writer_commit(void *writer)
{
	struct s3_writer *w = writer;
	int rc;
	if (w->failed)
		rc = w->s3->host->set_error(w->s3->host, CAIRN_E_IO,
					    "writing '%s' failed earlier; nothing was published",
					    w->key);
	else if (!w->upload_id)
		rc = put_single(w);
	else
		rc = complete_upload(w);
	if (rc)
		abort_upload(w);
	writer_free(w);
	return rc;
}
