/*
 * s3_http.c — one S3 request over libcurl, signed by it, retried when a retry can
 * help, and S3's answers turned into Cairn statuses and one-line messages.
 *
 * Why it is written the way it is:
 *  - One easy handle per instance, reset (not recreated) between requests,
 *    so that the connection is kept alive across parts and ranged reads.
 *  - Bodies always come from memory (a part buffer, a small object, an XML
 *    document), so a retry simply sends them again.
 *  - Retries: connection errors, 5xx, 429 and SlowDown; 4 tries with
 *    exponential backoff from 200 ms plus up to 100% jitter, so that
 *    parallel clients do not retry in lockstep. Anything else is final.
 *  - libcurl signs (CURLOPT_AWS_SIGV4): it adds X-Amz-Date and Host, and
 *    signs them with every header we hand it. Debian's 7.88 needs three
 *    things from us: the URL in canonical form (s3_sign.c), the payload hash
 *    as x-amz-content-sha256 (S3 requires the header, curl adds none but
 *    signs the hash it holds), and the session token as a plain header.
 *    Its own later headers (Accept, Content-Length, Expect) are not signed,
 *    which SigV4 allows.
 *  - No "Expect:" to switch 100-continue off: curl 7.88 would sign that
 *    empty header although it is never sent, and the server would refuse
 *    the signature. A request with a body thus waits for "100 Continue" (one
 *    round trip, or curl's 1 s timeout with a server that sends none), which
 *    also spares sending a part the server has already refused.
 *  - Secrets never reach a log line: curl's Authorization header is never
 *    logged and the secret key is registered with host->redact at open.
 *  - Content-MD5 (libcrypto's MD5; libsodium has none) goes on every upload
 *    that asks for it: S3 refuses an object with Object Lock retention, or
 *    any upload into a bucket with a default retention, without it (AWS
 *    accepts no x-amz-content-sha256 in its place), and the server checks
 *    the body against it (RGW answers BadDigest).
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* timegm */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "s3.h"

_Static_assert(sizeof(((struct s3_call *)0)->errbuf) >= CURL_ERROR_SIZE, "curl error buffer");

int s3_http_global_init(void)
{
	static int done;
	if (done)
		return CAIRN_OK;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || sodium_init() < 0)
		return CAIRN_E_GENERIC;
	done = 1;
	return CAIRN_OK;
}

char *s3_key(const struct s3 *s3, const char *name)
{
	size_t a = strlen(s3->prefix), b = strlen(name);
	char *k = malloc(a + b + 1);
	if (!k)
		return NULL;
	memcpy(k, s3->prefix, a);
	memcpy(k + a, name, b + 1);
	return k;
}

int64_t s3_parse_time(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			 &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
	struct s3_call *x = ud;
	size_t left = x->rq->body_len - x->sent, want = size * n;
	if (want > left)
		want = left;
	if (want)
		memcpy(buf, (const char *)x->rq->body + x->sent, want);
	x->sent += want;
	return want;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
	struct s3_call *x = ud;
	struct s3_request *rq = x->rq;
	size_t len = size * n;
	struct cp_buf *dst = &rq->response;
	size_t cap = x->cap;
	if (rq->sink) {
		/* the body of a successful (ranged) GET goes to the caller's sink */
		long st = 0;
		curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &st);
		if (st == 200 || st == 206) {
			dst = rq->sink;
			cap = rq->sink_cap;
		}
	}
	if (dst->len + len > cap) {
		x->overflow = 1;
		return 0;
	}
	if (s3_str_add(dst, data, len))
		return 0;
	return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
	struct s3_call *x = ud;
	size_t len = size * n;
	char line[512];
	size_t l = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
	memcpy(line, data, l);
	line[l] = '\0';
	while (l > 0 && (line[l - 1] == '\r' || line[l - 1] == '\n'))
		line[--l] = '\0';
	char *colon = strchr(line, ':');
	if (!colon)
		return len;
	*colon = '\0';
	char *v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	struct s3_request *rq = x->rq;
	if (strcasecmp(line, "content-length") == 0)
		rq->content_length = strtoll(v, NULL, 10);
	else if (strcasecmp(line, "etag") == 0)
		snprintf(rq->etag, sizeof(rq->etag), "%s", v);
	else if (strcasecmp(line, "x-amz-version-id") == 0)
		snprintf(rq->version_id, sizeof(rq->version_id), "%s", v);
	else if (strcasecmp(line, "x-amz-object-lock-mode") == 0)
		snprintf(rq->lock_mode, sizeof(rq->lock_mode), "%s", v);
	else if (strcasecmp(line, "x-amz-object-lock-retain-until-date") == 0)
		rq->lock_until = s3_parse_time(v);
	else if (strcasecmp(line, "x-amz-object-lock-legal-hold") == 0)
		rq->legal_hold = strcasecmp(v, "ON") == 0;
	else if (strcasecmp(line, "x-amz-delete-marker") == 0)
		rq->delete_marker = strcasecmp(v, "true") == 0;
	else if (strcasecmp(line, "last-modified") == 0) {
		time_t t = curl_getdate(v, NULL);
		x->rq->mtime = t == (time_t)-1 ? -1 : (int64_t)t;
	}
	return len;
}

static int retryable_curl(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return 1;
	default:
		return 0;
	}
}

static int retryable_answer(const struct s3_request *rq)
{
	if (rq->status >= 500 || rq->status == 429)
		return 1;
	if (!rq->response.p)
		return 0;
	char *code = s3_xml_get(rq->response.p, rq->response.p + rq->response.len, "Code");
	int slow = code && strcmp(code, "SlowDown") == 0;
	free(code);
	return slow;
}

int s3_retryable(int cc, const struct s3_request *rq)
{
	return cc != CURLE_OK ? retryable_curl((CURLcode)cc) : retryable_answer(rq);
}

void s3_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

uint64_t s3_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

unsigned s3_backoff_ms(const struct s3 *s3, int attempt)
{
	unsigned delay = s3->retry_base_ms;
	for (int i = 1; i < attempt && delay < 60000; i++)
		delay *= 2;
	/* exponential, plus up to 100% jitter so that clients do not retry in lockstep */
	return delay + (unsigned)randombytes_uniform(delay + 1);
}

int s3_transport_fail(struct s3 *s3, int cc, const char *errbuf)
{
	CURLcode c = (CURLcode)cc;
	const char *why = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(c);
	int st = c == CURLE_COULDNT_CONNECT || c == CURLE_COULDNT_RESOLVE_HOST ||
				 c == CURLE_OPERATION_TIMEDOUT || c == CURLE_SSL_CONNECT_ERROR ||
				 c == CURLE_PEER_FAILED_VERIFICATION
			 ? CAIRN_E_CONNECT
			 : CAIRN_E_IO;
	return s3->host->set_error(s3->host, st, "unable to reach '%s': %s", s3->endpoint, why);
}

void s3_log_retry(struct s3 *s3, const struct s3_request *rq, int cc, const char *errbuf,
		  unsigned wait, int next_try)
{
	if (cc != CURLE_OK)
		S3_LOG_WARN(s3, "%s %s: %s; retrying in %u ms (try %d of %d)", rq->method,
			    rq->key ? rq->key : s3->bucket,
			    errbuf && errbuf[0] ? errbuf : curl_easy_strerror((CURLcode)cc), wait,
			    next_try, s3->max_tries);
	else
		S3_LOG_WARN(s3, "%s %s: HTTP %ld; retrying in %u ms (try %d of %d)", rq->method,
			    rq->key ? rq->key : s3->bucket, rq->status, wait, next_try,
			    s3->max_tries);
}

/* the decoded request path: "/bucket/key" (path style) or "/key" */
static int build_path(struct s3 *s3, const char *key, struct cp_buf *path)
{
	if (s3->path_style) {
		s3_str_addf(path, "/%s", s3->bucket);
		if (key)
			s3_str_addf(path, "/%s", key);
	} else {
		s3_str_addf(path, "/%s", key ? key : "");
	}
	return path->oom ? CAIRN_E_NOMEM : CAIRN_OK;
}

/* the URL in the canonical form curl signs it in: path encoded once, query sorted */
static int build_url(struct s3 *s3, const struct s3_request *rq, struct cp_buf *url)
{
	struct cp_buf path = {0}, query = {0};
	int rc = build_path(s3, rq->key, &path);
	if (!rc) {
		s3_str_adds(url, s3->endpoint);
		s3_uri_encode(url, path.p, path.len, 1);
		if (rq->n_query) {
			s3_canonical_query(&query, rq->query, rq->n_query);
			s3_str_add(url, "?", 1);
			s3_str_adds(url, query.p ? query.p : "");
		}
		if (url->oom || query.oom)
			rc = CAIRN_E_NOMEM;
	}
	s3_str_free(&path);
	s3_str_free(&query);
	return rc;
}

static int add_header(struct curl_slist **list, struct cp_buf *line, const char *name,
		      const char *value)
{
	line->len = 0;
	s3_str_addf(line, "%s: %s", name, value);
	struct curl_slist *nl = line->oom ? NULL : curl_slist_append(*list, line->p);
	if (!nl)
		return CAIRN_E_NOMEM;
	*list = nl;
	return CAIRN_OK;
}

int s3_call_prepare(struct s3 *s3, void *curl, struct s3_request *rq, struct s3_call *call)
{
	CURL *c = curl;
	struct cp_buf url = {0}, line = {0}, sigv4 = {0};
	struct curl_slist *list = NULL;

	memset(call, 0, sizeof(*call));
	char payload[S3_SHA256_HEX];
	if (rq->unsigned_payload)
		snprintf(payload, sizeof(payload), "%s", "UNSIGNED-PAYLOAD");
	else
		s3_sha256_hex(rq->body ? rq->body : "", rq->body ? rq->body_len : 0, payload);

	int rc = build_url(s3, rq, &url);
	if (!rc)
		rc = add_header(&list, &line, "x-amz-content-sha256", payload);
	if (!rc && rq->content_md5) {
		unsigned char md5[16];
		char b64[32];
		unsigned int md5_len = 0;
		if (!EVP_Digest(rq->body ? rq->body : "", rq->body ? rq->body_len : 0, md5, &md5_len,
				EVP_md5(), NULL) ||
		    md5_len != sizeof(md5))
			rc = CAIRN_E_NOMEM; /* libcrypto fails only for want of memory here */
		else
			rc = add_header(&list, &line, "Content-MD5",
					sodium_bin2base64(b64, sizeof(b64), md5, sizeof(md5),
							  sodium_base64_VARIANT_ORIGINAL));
	}
	if (!rc && s3->session_token)
		rc = add_header(&list, &line, "x-amz-security-token", s3->session_token);
	for (size_t i = 0; i < rq->n_headers && !rc; i++)
		rc = add_header(&list, &line, rq->headers[i].name, rq->headers[i].value);
	if (!rc && s3_str_addf(&sigv4, "aws:amz:%s:s3", s3->region))
		rc = CAIRN_E_NOMEM;
	if (rc)
		goto out;

	call->c = c;
	call->rq = rq;
	call->cap = rq->max_response ? rq->max_response : (1u << 20);
	call->list = list;
	list = NULL;
	s3_str_free(&rq->response);
	rq->status = 0;
	rq->content_length = -1;
	rq->mtime = -1;
	rq->etag[0] = '\0';
	rq->version_id[0] = '\0';
	rq->lock_mode[0] = '\0';
	rq->lock_until = 0;
	rq->legal_hold = 0;
	rq->delete_marker = 0;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url.p);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, call->list);
	/* a retry is signed again: curl dates every signature itself */
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4.p);
	curl_easy_setopt(c, CURLOPT_USERNAME, s3->access_key);
	curl_easy_setopt(c, CURLOPT_PASSWORD, s3->secret_key);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, call->errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 120L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, s3->tls_verify ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, s3->tls_verify ? 2L : 0L);
	if (s3->resolve)
		curl_easy_setopt(c, CURLOPT_RESOLVE, (struct curl_slist *)s3->resolve);
	if (s3->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, s3->ca_file);
	if (s3->ca_path)
		curl_easy_setopt(c, CURLOPT_CAPATH, s3->ca_path);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, call);
	if (strcmp(rq->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(rq->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (rq->body || strcmp(rq->method, "PUT") == 0 || strcmp(rq->method, "POST") == 0) {
		/* an upload, not POSTFIELDS: those would add an unsigned form Content-Type */
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, call);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	S3_LOG_DEBUG(s3, "%s %s", rq->method, url.p);
out:
	curl_slist_free_all(list);
	s3_str_free(&url);
	s3_str_free(&line);
	s3_str_free(&sigv4);
	return rc;
}

void s3_call_finish(struct s3_call *call, int cc)
{
	if (!call->c)
		return;
	if (cc == CURLE_OK)
		curl_easy_getinfo(call->c, CURLINFO_RESPONSE_CODE, &call->rq->status);
	else if (cc == CURLE_WRITE_ERROR && call->overflow)
		snprintf(call->errbuf, sizeof(call->errbuf), "answer larger than %zu bytes", call->cap);
	/* the handle must not keep pointers to the call */
	curl_easy_setopt(call->c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(call->c, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(call->list);
	call->list = NULL;
	call->c = NULL;
}

int s3_request_once(struct s3 *s3, struct s3_request *rq, int *cc, char *errbuf)
{
	struct s3_call *call = malloc(sizeof(*call));
	if (!call)
		return CAIRN_E_NOMEM;
	int rc = s3_call_prepare(s3, s3->curl, rq, call);
	if (!rc) {
		*cc = curl_easy_perform(s3->curl);
		s3_call_finish(call, *cc);
		memcpy(errbuf, call->errbuf, sizeof(call->errbuf));
	}
	free(call);
	return rc;
}

int s3_request_run(struct s3 *s3, struct s3_request *rq)
{
	const struct cairn_host *host = s3->host;
	char errbuf[CURL_ERROR_SIZE];
	for (int attempt = 1;; attempt++) {
		if (host->cancelled(host))
			return host->set_error(host, CAIRN_E_CANCELLED, "cancelled");
		int cc = CURLE_OK;
		errbuf[0] = '\0';
		int rc = s3_request_once(s3, rq, &cc, errbuf);
		if (rc)
			return host->set_error(host, rc, "out of memory");
		if (!s3_retryable(cc, rq) || attempt >= s3->max_tries) {
			if (cc == CURLE_OK)
				return CAIRN_OK;
			return s3_transport_fail(s3, cc, errbuf);
		}
		unsigned wait = s3_backoff_ms(s3, attempt);
		s3_log_retry(s3, rq, cc, errbuf, wait, attempt + 1);
		s3_sleep_ms(wait);
	}
}

void s3_request_free(struct s3_request *rq)
{
	s3_str_free(&rq->response);
}

int s3_request_fail(struct s3 *s3, const struct s3_request *rq, const char *what, const char *name)
{
	const struct cairn_host *host = s3->host;
	const char *x = rq->response.p, *end = x ? x + rq->response.len : NULL;
	char *code = x ? s3_xml_get(x, end, "Code") : NULL;
	char *msg = x ? s3_xml_get(x, end, "Message") : NULL;
	const char *c = code ? code : "";
	char detail[600];
	if (code && msg && *msg)
		snprintf(detail, sizeof(detail), "%s: %s (HTTP %ld)", code, msg, rq->status);
	else if (code)
		snprintf(detail, sizeof(detail), "%s (HTTP %ld)", code, rq->status);
	else
		snprintf(detail, sizeof(detail), "HTTP %ld", rq->status);
	/* one line, whatever the server put into its message */
	for (char *p = detail; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	int rc;
	if (strcmp(c, "NoSuchBucket") == 0) {
		rc = host->set_error(host, CAIRN_E_NOT_FOUND, "bucket '%s' does not exist at '%s'",
				     s3->bucket, s3->endpoint);
	} else if (rq->status == 403 && strcmp(c, "AccessDenied") != 0 && strcmp(c, "") != 0) {
		rc = host->set_error(host, CAIRN_E_AUTH,
				     "authentication refused by '%s' (%s): check access_key_id and "
				     "secret_access_key",
				     s3->endpoint, detail);
	} else if (rq->status == 403) {
		rc = host->set_error(host, CAIRN_E_AUTH,
				     "unable to %s '%s': access (authentication or permission) "
				     "refused by '%s' (%s): check the credentials and the bucket's "
				     "permissions",
				     what, name, s3->endpoint, detail);
	} else if (rq->status == 404) {
		rc = host->set_error(host, CAIRN_E_NOT_FOUND, "unable to %s '%s': it does not exist (%s)",
				     what, name, detail);
	} else if (rq->status == 412 || strcmp(c, "PreconditionFailed") == 0) {
		rc = host->set_error(host, CAIRN_E_EXISTS, "'%s' already exists; not replaced", name);
	} else if (rq->status == 507 || strcmp(c, "QuotaExceeded") == 0 ||
		   strcmp(c, "EntityTooLarge") == 0) {
		rc = host->set_error(host, CAIRN_E_NO_SPACE, "unable to %s '%s': %s", what, name,
				     detail);
	} else if (rq->status >= 500 || rq->status == 429 || strcmp(c, "SlowDown") == 0) {
		rc = host->set_error(host, CAIRN_E_TRANSIENT,
				     "unable to %s '%s': %s, still failing after %d tries", what, name,
				     detail, s3->max_tries);
	} else {
		rc = host->set_error(host, CAIRN_E_IO, "unable to %s '%s': %s", what, name, detail);
	}
	free(code);
	free(msg);
	return rc;
}

int s3_head(struct s3 *s3, const char *name, uint64_t *size, int64_t *mtime, int quiet_404)
{
	struct s3_head_info h;
	int rc = s3_head_info(s3, name, quiet_404, &h);
	if (!rc && size)
		*size = h.size;
	if (!rc && mtime)
		*mtime = h.mtime;
	return rc;
}

int s3_head_info(struct s3 *s3, const char *name, int quiet_404, struct s3_head_info *out)
{
	memset(out, 0, sizeof(*out));
	char *key = s3_key(s3, name);
	if (!key)
		return s3->host->set_error(s3->host, CAIRN_E_NOMEM, "out of memory");
	struct s3_request rq = {.method = "HEAD", .key = key};
	int rc = s3_request_run(s3, &rq);
	if (!rc && rq.status >= 200 && rq.status < 300) {
		out->size = rq.content_length > 0 ? (uint64_t)rq.content_length : 0;
		out->mtime = rq.mtime > 0 ? rq.mtime : 0;
		memcpy(out->etag, rq.etag, sizeof(out->etag));
		memcpy(out->version_id, rq.version_id, sizeof(out->version_id));
		memcpy(out->lock_mode, rq.lock_mode, sizeof(out->lock_mode));
		out->lock_until = rq.lock_until;
		out->legal_hold = rq.legal_hold;
	} else if (!rc && rq.status == 404) {
		/* a HEAD answer has no body: ask whether the bucket itself exists */
		struct s3_request b = {.method = "HEAD"};
		if (!quiet_404 && s3_request_run(s3, &b) == CAIRN_OK && b.status == 404)
			rc = s3->host->set_error(s3->host, CAIRN_E_NOT_FOUND,
						 "bucket '%s' does not exist at '%s'", s3->bucket,
						 s3->endpoint);
		else
			rc = s3->host->set_error(s3->host, CAIRN_E_NOT_FOUND, "'%s' does not exist",
						 name);
		s3_request_free(&b);
	} else if (!rc && rq.status == 403) {
		/* HEAD answers carry no <Error>: a one-byte GET says why (bad signature?) */
		struct s3_pair h[] = {{"Range", "bytes=0-0"}};
		struct s3_request g = {.method = "GET", .key = key, .headers = h, .n_headers = 1};
		if (s3_request_run(s3, &g) == CAIRN_OK && g.status == 403)
			rc = s3_request_fail(s3, &g, "stat", name);
		else
			rc = s3_request_fail(s3, &rq, "stat", name);
		s3_request_free(&g);
	} else if (!rc) {
		rc = s3_request_fail(s3, &rq, "stat", name);
	}
	s3_request_free(&rq);
	free(key);
	return rc;
}
