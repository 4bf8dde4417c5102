/*
 * test_sigv4 — the s3 plugin's requests are signed by libcurl
 * (CURLOPT_AWS_SIGV4); what is ours is the URL curl signs as it stands (the
 * path encoded once, the query encoded and sorted: plugins/s3/s3_sign.c),
 * the payload hash in x-amz-content-sha256, and the request setup of
 * plugins/s3/s3_http.c. So the published vectors are checked against what
 * actually goes on the wire: each request is sent to a loopback socket and
 * the Authorization header curl wrote is compared with the vector's.
 *
 *  - The AWS SigV4 test suite (aws-sig-v4-test-suite: credentials
 *    AKIDEXAMPLE, service "service", region us-east-1, date
 *    20150830T123600Z), sent with libcurl directly, with our path and query
 *    encoding: curl 7.88 honours a given X-Amz-Date, which fixes the date.
 *  - The S3 documentation's GET Object example, sent through the plugin's
 *    own s3_call_prepare (virtual-hosted style, Range, x-amz-content-sha256).
 *  - An upload that asks for Content-MD5 (Object Lock needs it): the header
 *    carries the body's MD5 in base64 and is signed.
 *
 * Left out on purpose: the normalising vectors (get-slash*, get-relative*):
 * S3 does not normalise object keys and neither do we; and the suite's
 * get-header-key-duplicate, which libcurl 7.88 does not sign as published:
 * it lists a repeated header once per line instead of folding the values
 * into one. The plugin never sends a header name twice.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <sodium.h>

#include "s3.h"

#define SUITE_DATE "20150830T123600Z"
#define EMPTY S3_EMPTY_SHA256
#define CRED "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "

struct vector {
	const char *name;
	const char *method;
	const char *path;
	struct s3_pair query[4];
	size_t n_query;
	struct s3_pair headers[6];
	size_t n_headers;
	const char *body;
	const char *authz;
};

#define HOST {"Host", "example.amazonaws.com"}
#define DATE {"X-Amz-Date", SUITE_DATE}

static const struct vector vectors[] = {
	{
		.name = "get-vanilla", .method = "GET", .path = "/",
		.headers = {HOST, DATE}, .n_headers = 2,
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	},
	{
		/* the suite's get-vanilla-query has no query at all */
		.name = "get-vanilla-query", .method = "GET", .path = "/",
		.headers = {HOST, DATE}, .n_headers = 2,
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	},
	{
		.name = "get-vanilla-query-order-key-case", .method = "GET", .path = "/",
		.query = {{"Param2", "value2"}, {"Param1", "value1"}}, .n_query = 2,
		.headers = {HOST, DATE}, .n_headers = 2,
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
	},
	{
		.name = "get-vanilla-query-order-key", .method = "GET", .path = "/",
		.query = {{"Param1", "value2"}, {"Param1", "Value1"}}, .n_query = 2,
		.headers = {HOST, DATE}, .n_headers = 2,
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
	},
	{
		.name = "get-vanilla-query-order-value", .method = "GET", .path = "/",
		.query = {{"Param1", "value2"}, {"Param1", "value1"}}, .n_query = 2,
		.headers = {HOST, DATE}, .n_headers = 2,
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
	},
	{
		.name = "get-vanilla-empty-query-key", .method = "GET", .path = "/",
		.query = {{"Param1", "value1"}}, .n_query = 1,
		.headers = {HOST, DATE}, .n_headers = 2,
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
	},
	{
		.name = "get-vanilla-query-unreserved", .method = "GET", .path = "/",
		.query = {{"-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
			   "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}},
		.n_query = 1,
		.headers = {HOST, DATE}, .n_headers = 2,
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
	},
	{
		.name = "get-vanilla-utf8-query", .method = "GET", .path = "/",
		.query = {{"\xe1\x88\xb4", "bar"}}, .n_query = 1,
		.headers = {HOST, DATE}, .n_headers = 2,
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
	},
	{
		.name = "get-unreserved", .method = "GET",
		.path = "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
		.headers = {HOST, DATE}, .n_headers = 2,
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
	},
	{
		.name = "get-utf8", .method = "GET", .path = "/\xe1\x88\xb4",
		.headers = {HOST, DATE}, .n_headers = 2,
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
	},
	{
		.name = "get-space", .method = "GET", .path = "/example space/",
		.headers = {HOST, DATE}, .n_headers = 2,
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
	},
	{
		.name = "get-header-value-trim", .method = "GET", .path = "/",
		.headers = {HOST, {"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}, DATE},
		.n_headers = 4,
		.authz = CRED "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
			"Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
	},
	{
		.name = "post-vanilla", .method = "POST", .path = "/",
		.headers = {HOST, DATE}, .n_headers = 2,
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
	},
	{
		.name = "post-x-www-form-urlencoded", .method = "POST", .path = "/",
		.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, HOST, DATE},
		.n_headers = 3, .body = "Param1=value1",
		.authz = CRED "SignedHeaders=content-type;host;x-amz-date, "
			"Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
	},
	{
		.name = "post-x-www-form-urlencoded-parameters", .method = "POST", .path = "/",
		.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"}, HOST,
			    DATE},
		.n_headers = 3, .body = "Param1=value1",
		.authz = CRED "SignedHeaders=content-type;host;x-amz-date, "
			"Signature=1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
	},
	{
		.name = "post-sts-header-before", .method = "POST", .path = "/",
		.headers = {HOST, DATE,
			    {"X-Amz-Security-Token",
			     "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAe"
			     "MicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8p"
			     "hUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKw"
			     "T38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJa"
			     "bIQwj2ICCR/oLxBA=="}},
		.n_headers = 3,
		.authz = CRED "SignedHeaders=host;x-amz-date;x-amz-security-token, "
			"Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
	},
};

/* ---- a loopback socket that takes requests and never answers ------------ */

static int listen_fd = -1;
static int listen_port;

static int setup(void **state)
{
	(void)state;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(listen_fd, 16) != 0 || getsockname(listen_fd, (struct sockaddr *)&a, &alen) != 0)
		return -1;
	fcntl(listen_fd, F_SETFL, O_NONBLOCK);
	listen_port = ntohs(a.sin_port);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	close(listen_fd);
	return 0;
}

static int on_debug(CURL *c, curl_infotype type, char *data, size_t n, void *ud)
{
	(void)c;
	if (type == CURLINFO_HEADER_OUT)
		s3_str_add(ud, data, n);
	return 0;
}

/* the value of header `name` in a request head (malloc'd), or NULL */
static char *header_value(const char *head, const char *name)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\r\n%s: ", name);
	const char *h = head ? strstr(head, pat) : NULL;
	if (!h)
		return NULL;
	h += strlen(pat);
	return strndup(h, strcspn(h, "\r\n"));
}

/*
 * Send the request prepared on c until its head is out, then drop it; the
 * head curl wrote (malloc'd), or NULL.
 */
static char *sent_head(CURL *c)
{
	struct cp_buf head = {0};
	curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug);
	curl_easy_setopt(c, CURLOPT_DEBUGDATA, &head);
	CURLM *m = curl_multi_init();
	assert_non_null(m);
	assert_int_equal(curl_multi_add_handle(m, c), CURLM_OK);
	int running = 1;
	for (int i = 0; i < 500 && running && !(head.p && strstr(head.p, "\r\n\r\n")); i++) {
		curl_multi_perform(m, &running);
		curl_multi_poll(m, NULL, 0, 10, NULL);
	}
	curl_multi_remove_handle(m, c);
	curl_multi_cleanup(m);
	int fd;
	while ((fd = accept(listen_fd, NULL, NULL)) >= 0)
		close(fd);
	return head.p;
}

/* the Authorization header curl wrote for the request prepared on c (malloc'd), or NULL */
static char *sent_authorization(CURL *c)
{
	char *head = sent_head(c);
	char *authz = header_value(head, "Authorization");
	free(head);
	return authz;
}

static void test_suite_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		CURL *c = curl_easy_init();
		assert_non_null(c);
		struct cp_buf url = {0}, line = {0};
		char resolve[96];
		snprintf(resolve, sizeof(resolve), "example.amazonaws.com:%d:127.0.0.1", listen_port);
		struct curl_slist *res = curl_slist_append(NULL, resolve), *hl = NULL;
		s3_str_addf(&url, "http://example.amazonaws.com:%d", listen_port);
		assert_int_equal(s3_uri_encode(&url, v->path, strlen(v->path), 1), 0);
		if (v->n_query) {
			s3_str_add(&url, "?", 1);
			assert_int_equal(s3_canonical_query(&url, v->query, v->n_query), 0);
		}
		for (size_t h = 0; h < v->n_headers; h++) {
			line.len = 0;
			s3_str_addf(&line, "%s: %s", v->headers[h].name, v->headers[h].value);
			hl = curl_slist_append(hl, line.p);
		}
		curl_easy_setopt(c, CURLOPT_URL, url.p);
		curl_easy_setopt(c, CURLOPT_RESOLVE, res);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:service");
		curl_easy_setopt(c, CURLOPT_USERNAME, "AKIDEXAMPLE");
		curl_easy_setopt(c, CURLOPT_PASSWORD, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
		if (strcmp(v->method, "POST") == 0) {
			/* curl hashes a POSTFIELDS body itself: these vectors carry no
			 * x-amz-content-sha256 */
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, v->body ? v->body : "");
		}
		char *got = sent_authorization(c);
		if (!got || strcmp(got, v->authz) != 0)
			fail_msg("%s: authorization\n--- got ---\n%s\n--- want ---\n%s", v->name,
				 got ? got : "(none)", v->authz);
		free(got);
		curl_easy_cleanup(c);
		curl_slist_free_all(hl);
		curl_slist_free_all(res);
		s3_str_free(&url);
		s3_str_free(&line);
	}
}

/* ---- the plugin's own request: S3 documentation, "Example: GET Object" -- */

static void host_log(const struct cairn_host *host, enum cairn_log_level level,
		     const char *plugin, const char *fmt, ...)
{
	(void)host;
	(void)level;
	(void)plugin;
	(void)fmt;
}

static void test_s3_get_object_example(void **state)
{
	(void)state;
	static const struct cairn_host host = {.struct_size = sizeof(host), .log = host_log};
	struct s3 s3 = {
		.host = &host,
		.plugin = "s3",
		.endpoint = "http://examplebucket.s3.amazonaws.com",
		.authority = "examplebucket.s3.amazonaws.com",
		.bucket = "examplebucket",
		.prefix = "",
		.region = "us-east-1",
		.access_key = "AKIAIOSFODNN7EXAMPLE",
		.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		.tls_verify = 1,
	};
	/* the example's date; curl signs with it instead of the clock */
	static const struct s3_pair h[] = {{"Range", "bytes=0-9"}, {"X-Amz-Date", "20130524T000000Z"}};
	struct s3_request rq = {.method = "GET", .key = "test.txt", .headers = h, .n_headers = 2};
	struct s3_call call;
	CURL *c = curl_easy_init();
	assert_non_null(c);
	assert_int_equal(s3_call_prepare(&s3, c, &rq, &call), 0);
	char to[96];
	snprintf(to, sizeof(to), "examplebucket.s3.amazonaws.com:80:127.0.0.1:%d", listen_port);
	struct curl_slist *ct = curl_slist_append(NULL, to);
	curl_easy_setopt(c, CURLOPT_CONNECT_TO, ct);
	char *got = sent_authorization(c);
	s3_call_finish(&call, CURLE_ABORTED_BY_CALLBACK);
	assert_non_null(got);
	assert_string_equal(
		got, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
		     "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
		     "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	free(got);
	s3_request_free(&rq);
	curl_easy_cleanup(c);
	curl_slist_free_all(ct);
}

/* Content-MD5 on an upload that asks for it: base64 of the body's MD5, signed like any header */
static void test_content_md5(void **state)
{
	(void)state;
	static const struct cairn_host host = {.struct_size = sizeof(host), .log = host_log};
	char ep[64], auth[32];
	snprintf(auth, sizeof(auth), "127.0.0.1:%d", listen_port);
	snprintf(ep, sizeof(ep), "http://%s", auth);
	struct s3 s3 = {.host = &host, .plugin = "s3", .endpoint = ep, .authority = auth,
			.path_style = 1, .bucket = "b", .prefix = "", .region = "us-east-1",
			.access_key = "AKIAIOSFODNN7EXAMPLE",
			.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", .tls_verify = 1};
	/* RFC 1321's test suite: MD5("message digest") = f96b697d7cb7938d525a2f31aaf161d0 */
	static const char body[] = "message digest";
	struct s3_request rq = {.method = "PUT", .key = "k", .body = body, .body_len = strlen(body),
				.content_md5 = 1};
	struct s3_call call;
	CURL *c = curl_easy_init();
	assert_non_null(c);
	assert_int_equal(s3_call_prepare(&s3, c, &rq, &call), 0);
	char *head = sent_head(c);
	s3_call_finish(&call, CURLE_ABORTED_BY_CALLBACK);
	char *md5 = header_value(head, "Content-MD5"), *authz = header_value(head, "Authorization");
	assert_non_null(md5);
	assert_string_equal(md5, "+WtpfXy3k41SWi8xqvFh0A==");
	assert_non_null(authz);
	assert_non_null(strstr(authz, "SignedHeaders=content-md5;host;x-amz-content-sha256;x-amz-date,"));
	free(md5);
	free(authz);
	free(head);
	/* and none when not asked for */
	rq.content_md5 = 0;
	assert_int_equal(s3_call_prepare(&s3, c, &rq, &call), 0);
	head = sent_head(c);
	s3_call_finish(&call, CURLE_ABORTED_BY_CALLBACK);
	assert_null(header_value(head, "Content-MD5"));
	free(head);
	s3_request_free(&rq);
	curl_easy_cleanup(c);
}

/* S3 keys: one encoding pass, '/' kept in paths, '+' and spaces escaped. */
static void test_uri_encoding(void **state)
{
	(void)state;
	struct cp_buf s = {0};
	const char *key = "/bucket/names/d\xc3\xa9j\xc3\xa0 vu/a+b~c=d&e";
	assert_int_equal(s3_uri_encode(&s, key, strlen(key), 1), 0);
	assert_string_equal(s.p, "/bucket/names/d%C3%A9j%C3%A0%20vu/a%2Bb~c%3Dd%26e");
	s3_str_free(&s);
	assert_int_equal(s3_uri_encode(&s, "dir/x", 5, 0), 0);
	assert_string_equal(s.p, "dir%2Fx");
	s3_str_free(&s);
	/* an already-encoded key is encoded again, never decoded: S3 keys are literal */
	assert_int_equal(s3_uri_encode(&s, "a%20b", 5, 1), 0);
	assert_string_equal(s.p, "a%2520b");
	s3_str_free(&s);
	static const struct s3_pair q[] = {
		{"prefix", "backups/full/"}, {"list-type", "2"}, {"continuation-token", "a+b/c=="},
	};
	assert_int_equal(s3_canonical_query(&s, q, 3), 0);
	assert_string_equal(s.p, "continuation-token=a%2Bb%2Fc%3D%3D&list-type=2&prefix=backups%2Ffull%2F");
	s3_str_free(&s);
	static const struct s3_pair u[] = {{"uploads", ""}};
	assert_int_equal(s3_canonical_query(&s, u, 1), 0);
	assert_string_equal(s.p, "uploads=");
	s3_str_free(&s);
	char hash[S3_SHA256_HEX];
	s3_sha256_hex("", 0, hash);
	assert_string_equal(hash, EMPTY);
}

int main(void)
{
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suite_vectors),
		cmocka_unit_test(test_s3_get_object_example),
		cmocka_unit_test(test_content_md5),
		cmocka_unit_test(test_uri_encoding),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return rc;
}
