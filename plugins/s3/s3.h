/*
 * s3.h — internals of the s3 / minio storage plugins (one codebase, two
 * loadable plugins; see README.md). Never installed.
 *
 * Layers, each in its own file, each using only the ones listed before it:
 *   s3_sign.c   what libcurl's SigV4 signer (CURLOPT_AWS_SIGV4) lacks: the
 *               encoded path and the sorted, encoded query it signs as sent,
 *               the payload's SHA-256. Depends on libsodium only
 *   s3_xml.c    S3's XML answers, read with expat
 *   s3_http.c   one request over libcurl (signed by it), with retries and errors
 *   s3_lock.c   Object Lock: the bucket's configuration, retention of a new
 *               object, what a refused removal means
 *   s3_write.c  writers: one PUT, or a multipart upload
 *   s3_read.c   readers (ranged GETs), list, stat, remove
 *   s3.c        entry point, open/close, options, credentials
 */
#ifndef CAIRN_S3_H
#define CAIRN_S3_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cairn/host.h"
#include "cairn/status.h"
#include "cairn/storage.h"
#include "plugin_buf.h"

/* ---- growable strings ----------------------------------------------------- */

/*
 * Strings are the plugins' one growable buffer (plugins/common/plugin_buf.h);
 * these say CAIRN_E_NOMEM once an append has failed, which is what the
 * request builders check.
 */
static inline int s3_str_add(struct cp_buf *s, const char *data, size_t len)
{
	cp_buf_addn(s, data, len);
	return s->oom ? CAIRN_E_NOMEM : CAIRN_OK;
}
static inline int s3_str_adds(struct cp_buf *s, const char *z)
{
	return s3_str_add(s, z, strlen(z));
}
#define s3_str_addf(s, ...) (cp_buf_addf((s), __VA_ARGS__) ? CAIRN_E_NOMEM : CAIRN_OK)
static inline void s3_str_free(struct cp_buf *s)
{
	cp_buf_free(s);
}

/* ---- what SigV4 needs besides libcurl (s3_sign.c) ----------------------- */

/* name/value pair: query parameter or header. Query pairs are *decoded*. */
struct s3_pair {
	const char *name;
	const char *value;
};

#define S3_SHA256_HEX 65
#define S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/*
 * libcurl 7.88 signs the path and the query exactly as they stand in the
 * URL, so the URL must already be in canonical form: the path encoded once
 * (s3_uri_encode with keep_slash), the query encoded and sorted
 * (s3_canonical_query). The payload hash goes into x-amz-content-sha256,
 * which curl then signs as the request's payload hash.
 */
/* AWS URI encoding: A-Za-z0-9-._~ kept, the rest %XX; '/' kept if keep_slash. */
int s3_uri_encode(struct cp_buf *out, const char *s, size_t len, int keep_slash);
/* the canonical (and sent) query string: encoded, sorted by name then value */
int s3_canonical_query(struct cp_buf *out, const struct s3_pair *q, size_t n);
/* lowercase hex SHA-256 of data[0..len) */
void s3_sha256_hex(const void *data, size_t len, char out[S3_SHA256_HEX]);

/* ---- XML (s3_xml.c) ------------------------------------------------------ */

/*
 * Both calls parse the whole document [xml, end) with expat. A document
 * that is malformed or truncated, has a DOCTYPE, nests deeper than 64 or
 * holds a captured text over 64 KiB is refused. Texts are decoded
 * (entities, character references, CDATA) and are the element's own
 * character data, children's text excluded, untrimmed.
 */
/* the text of the first element named tag (any depth, malloc'd; "" if empty), or NULL when
 * absent, refused or out of memory */
char *s3_xml_get(const char *xml, const char *end, const char *tag);

/* values[i]: text of the record's child named fields[i], NULL when it has none; borrowed for
 * the call. A non-zero return stops the parse and is returned by s3_xml_each. */
typedef int (*s3_xml_record_cb)(void *ud, const char *const *values);
/*
 * s3_xml_each — cb for every element named record (not nested in another),
 * in document order, while parsing: when the document turns out malformed
 * later, the records before were already handed out. CAIRN_OK, cb's
 * status, CAIRN_E_NOMEM, or CAIRN_E_IO when refused; nothing is reported.
 */
int s3_xml_each(const char *xml, const char *end, const char *record, const char *const *fields,
		size_t n_fields, s3_xml_record_cb cb, void *ud);
/* append s with &, < and > escaped, for text content of a request body */
int s3_xml_escape(struct cp_buf *out, const char *s);

/* ---- the instance (s3.c) ------------------------------------------------- */

struct s3 {
	const struct cairn_host *host;
	const char *plugin;  /* "s3" or "minio": log name and config section */
	char *endpoint;      /* "https://host[:port]", no trailing '/' (bucket. prepended if virtual) */
	char *authority;     /* its host[:port]; curl sends (and signs) Host: from the URL */
	int path_style;
	char *bucket;
	char *prefix;        /* "" or "dir/sub/" (decoded) */
	char *region;
	char *access_key, *secret_key, *session_token;
	int tls_verify;
	char *ca_file, *ca_path;
	char *storage_class, *sse, *sse_kms_key_id;
	size_t part_size;
	int parallel;        /* parts in flight at once (curl multi) */
	void *resolve;       /* struct curl_slist * for CURLOPT_RESOLVE, or NULL */
	int max_tries;
	unsigned retry_base_ms;
	void *curl;          /* CURL *, reused across requests (keep-alive) */
	struct cairn_object_info stat_info; /* stat()'s answer */
	char *stat_name;
	char stat_lock_mode[16];
	int lock_days;       /* object_lock_days: retention of every new object, 0 for none */
	const char *lock_mode; /* "GOVERNANCE" or "COMPLIANCE" (static) */
	int lock_checked;    /* the bucket's Object Lock configuration was found enabled */
};

/* ---- HTTP (s3_http.c) ---------------------------------------------------- */

struct s3_request {
	const char *method;
	const char *key;      /* full object key (prefix included), NULL for the bucket */
	const struct s3_pair *query;
	size_t n_query;
	const struct s3_pair *headers; /* extra headers, all signed (by curl) */
	size_t n_headers;
	const void *body;     /* request body, or NULL */
	size_t body_len;
	int unsigned_payload; /* send UNSIGNED-PAYLOAD instead of the body's SHA-256 */
	int content_md5;      /* also send Content-MD5 of the body (Object Lock needs it) */
	size_t max_response;  /* cap of the kept response body (0: 1 MiB) */
	/*
	 * sink: when set, the body of a 200/206 answer is appended there (up to
	 * sink_cap bytes in all), not to response, and kept across attempts: the
	 * bytes of a body cut short are not lost (reader resume).
	 */
	struct cp_buf *sink;
	size_t sink_cap;

	/* out */
	long status;
	struct cp_buf response;
	int64_t content_length; /* -1 when unknown */
	int64_t mtime;          /* Last-Modified, -1 when unknown */
	char etag[128];
	char version_id[128];   /* x-amz-version-id, "" when none */
	char lock_mode[16];     /* x-amz-object-lock-mode, "" when none */
	int64_t lock_until;     /* x-amz-object-lock-retain-until-date, 0 when none */
	int legal_hold;         /* x-amz-object-lock-legal-hold: ON */
	int delete_marker;      /* x-amz-delete-marker: true */
};

/* s3_http_init/cleanup — libcurl's global state, once per process. */
int s3_http_global_init(void);

/*
 * s3_request_run — send, signed by curl; retried on connection errors, 5xx, 429 and
 * SlowDown. Returns CAIRN_OK for any HTTP answer (check rq->status), or a
 * CAIRN_E_* status (already reported with set_error) when no answer came.
 */
int s3_request_run(struct s3 *s3, struct s3_request *rq);

/*
 * One transfer on a given easy handle, for callers that drive handles
 * themselves (curl multi, resumed reads). The call must stay at its address
 * until s3_call_finish.
 */
struct s3_call {
	void *c; /* CURL * */
	struct s3_request *rq;
	void *list; /* struct curl_slist * of the headers */
	size_t sent, cap;
	int overflow;
	char errbuf[256]; /* CURL_ERROR_SIZE */
};
/* set every option of the easy handle curl for rq, signing included; CAIRN_E_NOMEM (not
 * reported) */
int s3_call_prepare(struct s3 *s3, void *curl, struct s3_request *rq, struct s3_call *call);
/* after the transfer ended with CURLcode cc: status, error text, headers freed */
void s3_call_finish(struct s3_call *call, int cc);
/* one attempt on the instance's handle: *cc gets the CURLcode; errbuf ≥ 256 bytes */
int s3_request_once(struct s3 *s3, struct s3_request *rq, int *cc, char *errbuf);
/* is this outcome (CURLcode, answer) worth another try? */
int s3_retryable(int cc, const struct s3_request *rq);
/* the wait before try attempt+1: retry_base_ms × 2^(attempt-1) plus up to 100% jitter */
unsigned s3_backoff_ms(const struct s3 *s3, int attempt);
void s3_log_retry(struct s3 *s3, const struct s3_request *rq, int cc, const char *errbuf,
		  unsigned wait, int next_try);
/* report a failed transfer (no answer): CAIRN_E_CONNECT or CAIRN_E_IO */
int s3_transport_fail(struct s3 *s3, int cc, const char *errbuf);
void s3_sleep_ms(unsigned ms);
uint64_t s3_now_ms(void);
void s3_request_free(struct s3_request *rq);
/*
 * s3_request_fail — turn a non-2xx answer into a status and one-line
 * message ("what '%s'" names the object), parsing S3's <Error> body.
 */
int s3_request_fail(struct s3 *s3, const struct s3_request *rq, const char *what, const char *name);
/* key of `name` below the location's prefix (malloc'd) */
char *s3_key(const struct s3 *s3, const char *name);
/* "2024-09-17T16:33:12[.000…]Z" → seconds since the epoch (UTC); 0 when malformed */
int64_t s3_parse_time(const char *s);

/* what a HEAD of an object says */
struct s3_head_info {
	uint64_t size;
	int64_t mtime;
	char etag[128];
	char version_id[128]; /* "" on an unversioned bucket */
	char lock_mode[16];   /* Object Lock retention: "" when none (or not shown to us) */
	int64_t lock_until;
	int legal_hold;
};
/* HEAD of a key: CAIRN_OK with *out, CAIRN_E_NOT_FOUND (reported), or another error */
int s3_head_info(struct s3 *s3, const char *name, int quiet_404, struct s3_head_info *out);
/* the same, size and mtime only (either may be NULL) */
int s3_head(struct s3 *s3, const char *name, uint64_t *size, int64_t *mtime, int quiet_404);

/* ---- Object Lock (s3_lock.c) --------------------------------------------- */

/* once per instance, before the first object is written: is Object Lock enabled on the bucket? */
int s3_lock_check_bucket(struct s3 *s3);
/* the retain-until date of an object written now: now + lock_days, "YYYY-MM-DDTHH:MM:SSZ" */
void s3_lock_until(const struct s3 *s3, char out[32]);
/*
 * after publishing `name` with retention `until`: make sure it holds (some
 * servers drop the retention sent with a multipart upload: set it again with
 * PutObjectRetention). When it cannot be made to hold, the object is removed
 * again and the failure reported: a backup is never left deletable.
 */
int s3_lock_confirm(struct s3 *s3, const char *name, const char *until);
/*
 * a DELETE of `key` (HEAD `h`) was refused with answer `rq`: CAIRN_E_LOCKED
 * (reported: until when) when Object Lock keeps it, else 0 (not a lock).
 */
int s3_lock_refused(struct s3 *s3, const struct s3_request *rq, const struct s3_head_info *h,
		    const char *key);

/* ---- vtable parts (s3_write.c, s3_read.c) -------------------------------- */

int s3_writer_begin(void *inst, const char *name, void **writer);
int s3_writer_write(void *writer, const void *buf, size_t len);
int s3_writer_commit(void *writer);
void s3_writer_abort(void *writer);
int s3_reader_open(void *inst, const char *name, void **reader);
int s3_reader_read(void *reader, void *buf, size_t cap, size_t *got);
void s3_reader_close(void *reader);
int s3_list(void *inst, const char *prefix, cairn_list_cb cb, void *ud);
int s3_stat(void *inst, const char *name, struct cairn_object_info *out);
int s3_remove(void *inst, const char *name);

#define S3_LOG_WARN(s3, ...) CAIRN_LOG_WARN((s3)->host, (s3)->plugin, __VA_ARGS__)
#define S3_LOG_DEBUG(s3, ...) CAIRN_LOG_DEBUG((s3)->host, (s3)->plugin, __VA_ARGS__)

#endif /* CAIRN_S3_H */
