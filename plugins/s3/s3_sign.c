/*
 * s3_sign.c — what SigV4 needs besides libcurl, which signs every request
 * (CURLOPT_AWS_SIGV4, see s3_http.c); and the small string builder.
 *
 * Why it is written the way it is:
 *  - Debian's libcurl 7.88 puts the path and the query into the canonical
 *    request exactly as they stand in the URL: it neither encodes nor sorts
 *    them. So the URL is built here in canonical form, the path encoded once
 *    segment by segment with '/' kept (S3 does not double-encode and does
 *    not normalise "." or "//": object keys may contain them), the query
 *    encoded and sorted, "uploads=" rather than a bare "uploads"; RGW
 *    answers SignatureDoesNotMatch to anything else.
 *  - curl 7.88 adds no x-amz-content-sha256, which S3 requires, but signs
 *    the value of one we send as the payload hash: s3_sha256_hex gives it,
 *    with libsodium (already a dependency of the core).
 *  - This file depends on libc and libsodium only, so that the unit test can
 *    compile it alone.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "s3.h"

/* ---- encoding ------------------------------------------------------------ */

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int s3_uri_encode(struct cp_buf *out, const char *s, size_t len, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	if (cp_buf_reserve(out, len * 3))
		return CAIRN_E_NOMEM;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			out->p[out->len++] = (char)c;
		} else {
			out->p[out->len++] = '%';
			out->p[out->len++] = hex[c >> 4];
			out->p[out->len++] = hex[c & 15];
		}
	}
	out->p[out->len] = '\0';
	return CAIRN_OK;
}

struct enc_pair {
	char *name, *value;
	size_t order;
};

static int enc_pair_cmp(const void *a, const void *b)
{
	const struct enc_pair *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return strcmp(x->value, y->value);
}

static char *encode_dup(const char *s, int keep_slash)
{
	struct cp_buf t = {0};
	if (s3_uri_encode(&t, s ? s : "", s ? strlen(s) : 0, keep_slash)) {
		s3_str_free(&t);
		return NULL;
	}
	if (!t.p)
		return strdup("");
	return t.p;
}

int s3_canonical_query(struct cp_buf *out, const struct s3_pair *q, size_t n)
{
	if (n == 0)
		return s3_str_add(out, "", 0);
	struct enc_pair *v = calloc(n, sizeof(*v));
	if (!v)
		return CAIRN_E_NOMEM;
	int rc = CAIRN_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		v[i].name = encode_dup(q[i].name, 0);
		v[i].value = encode_dup(q[i].value, 0);
		v[i].order = i;
		if (!v[i].name || !v[i].value)
			rc = CAIRN_E_NOMEM;
	}
	if (!rc) {
		qsort(v, n, sizeof(*v), enc_pair_cmp);
		for (size_t i = 0; i < n; i++)
			s3_str_addf(out, "%s%s=%s", i ? "&" : "", v[i].name, v[i].value);
		if (out->oom)
			rc = CAIRN_E_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
	return rc;
}

/* ---- payload hash -------------------------------------------------------- */

void s3_sha256_hex(const void *data, size_t len, char out[S3_SHA256_HEX])
{
	unsigned char d[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(d, data, len);
	sodium_bin2hex(out, S3_SHA256_HEX, d, sizeof(d));
}
