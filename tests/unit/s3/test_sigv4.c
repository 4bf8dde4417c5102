/*
 * test_sigv4 — the SigV4 signer of the s3 plugin (plugins/s3/s3_sign.c)
 * against the published AWS SigV4 test suite (aws-sig-v4-test-suite:
 * credentials AKIDEXAMPLE, service "service", region us-east-1, date
 * 20150830T123600Z) and the S3 documentation's GET Object example. Each case
 * asserts the canonical request, the string to sign and the Authorization
 * header separately, so that a failure names the stage that is wrong.
 *
 * Vectors whose expected canonical request relies on path normalisation
 * (get-slash*, get-relative*) are left out on purpose: S3 does not normalise
 * object keys and neither does the signer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "s3.h"

#define SUITE_DATE "20150830T123600Z"
#define EMPTY S3_EMPTY_SHA256
#define STS_HEAD "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
#define CRED "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "

static const struct s3_sign_ctx suite_ctx = {
	.access_key = "AKIDEXAMPLE",
	.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	.region = "us-east-1",
	.service = "service",
	.amz_date = SUITE_DATE,
};

struct vector {
	const char *name;
	const char *method;
	const char *path;
	struct s3_pair query[4];
	size_t n_query;
	struct s3_pair headers[6];
	size_t n_headers;
	const char *body;
	const char *creq;
	const char *sts;
	const char *authz;
};

#define HOST {"Host", "example.amazonaws.com"}
#define DATE {"X-Amz-Date", SUITE_DATE}

static const struct vector vectors[] = {
	{
		.name = "get-vanilla", .method = "GET", .path = "/",
		.headers = {HOST, DATE}, .n_headers = 2,
		.creq = "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
			"host;x-amz-date\n" EMPTY,
		.sts = STS_HEAD "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	},
	{
		/* the suite's get-vanilla-query has no query at all */
		.name = "get-vanilla-query", .method = "GET", .path = "/",
		.headers = {HOST, DATE}, .n_headers = 2,
		.creq = "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
			"host;x-amz-date\n" EMPTY,
		.sts = STS_HEAD "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	},
	{
		.name = "get-vanilla-query-order-key-case", .method = "GET", .path = "/",
		.query = {{"Param2", "value2"}, {"Param1", "value1"}}, .n_query = 2,
		.headers = {HOST, DATE}, .n_headers = 2,
		.creq = "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
			"x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY,
		.sts = STS_HEAD "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
	},
	{
		.name = "get-vanilla-query-order-key", .method = "GET", .path = "/",
		.query = {{"Param1", "value2"}, {"Param1", "Value1"}}, .n_query = 2,
		.headers = {HOST, DATE}, .n_headers = 2,
		.creq = "GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\n"
			"x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY,
		.sts = STS_HEAD "704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89",
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
	},
	{
		.name = "get-vanilla-query-order-value", .method = "GET", .path = "/",
		.query = {{"Param1", "value2"}, {"Param1", "value1"}}, .n_query = 2,
		.headers = {HOST, DATE}, .n_headers = 2,
		.creq = "GET\n/\nParam1=value1&Param1=value2\nhost:example.amazonaws.com\n"
			"x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY,
		.sts = STS_HEAD "c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606",
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
	},
	{
		.name = "get-vanilla-empty-query-key", .method = "GET", .path = "/",
		.query = {{"Param1", "value1"}}, .n_query = 1,
		.headers = {HOST, DATE}, .n_headers = 2,
		.creq = "GET\n/\nParam1=value1\nhost:example.amazonaws.com\n"
			"x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY,
		.sts = STS_HEAD "1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c517ab",
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
	},
	{
		.name = "get-vanilla-query-unreserved", .method = "GET", .path = "/",
		.query = {{"-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
			   "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}},
		.n_query = 1,
		.headers = {HOST, DATE}, .n_headers = 2,
		.creq = "GET\n/\n-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
			"-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n"
			"host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY,
		.sts = STS_HEAD "c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177",
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
	},
	{
		.name = "get-vanilla-utf8-query", .method = "GET", .path = "/",
		.query = {{"\xe1\x88\xb4", "bar"}}, .n_query = 1,
		.headers = {HOST, DATE}, .n_headers = 2,
		.creq = "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\n"
			"x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY,
		.sts = STS_HEAD "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
	},
	{
		.name = "get-unreserved", .method = "GET",
		.path = "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
		.headers = {HOST, DATE}, .n_headers = 2,
		.creq = "GET\n/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\n"
			"host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY,
		.sts = STS_HEAD "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9",
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
	},
	{
		.name = "get-utf8", .method = "GET", .path = "/\xe1\x88\xb4",
		.headers = {HOST, DATE}, .n_headers = 2,
		.creq = "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
			"host;x-amz-date\n" EMPTY,
		.sts = STS_HEAD "2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102",
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
	},
	{
		.name = "get-space", .method = "GET", .path = "/example space/",
		.headers = {HOST, DATE}, .n_headers = 2,
		.creq = "GET\n/example%20space/\n\nhost:example.amazonaws.com\n"
			"x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY,
		.sts = STS_HEAD "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86",
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
	},
	{
		.name = "get-header-value-trim", .method = "GET", .path = "/",
		.headers = {HOST, {"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}, DATE},
		.n_headers = 4,
		.creq = "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
			"x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n" EMPTY,
		.sts = STS_HEAD "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
		.authz = CRED "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
			"Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
	},
	{
		.name = "get-header-key-duplicate", .method = "GET", .path = "/",
		.headers = {HOST, {"My-Header1", "value2"}, {"My-Header1", "value2"},
			    {"My-Header1", "value1"}, DATE},
		.n_headers = 5,
		.creq = "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
			"x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n" EMPTY,
		.sts = STS_HEAD "dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c",
		.authz = CRED "SignedHeaders=host;my-header1;x-amz-date, "
			"Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
	},
	{
		.name = "post-vanilla", .method = "POST", .path = "/",
		.headers = {HOST, DATE}, .n_headers = 2,
		.creq = "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
			"host;x-amz-date\n" EMPTY,
		.sts = STS_HEAD "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
		.authz = CRED "SignedHeaders=host;x-amz-date, "
			"Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
	},
	{
		.name = "post-x-www-form-urlencoded", .method = "POST", .path = "/",
		.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, HOST, DATE},
		.n_headers = 3, .body = "Param1=value1",
		.creq = "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n"
			"host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
			"content-type;host;x-amz-date\n"
			"9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
		.sts = STS_HEAD "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
		.authz = CRED "SignedHeaders=content-type;host;x-amz-date, "
			"Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
	},
	{
		.name = "post-x-www-form-urlencoded-parameters", .method = "POST", .path = "/",
		.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"}, HOST,
			    DATE},
		.n_headers = 3, .body = "Param1=value1",
		.creq = "POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf8\n"
			"host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
			"content-type;host;x-amz-date\n"
			"9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
		.sts = STS_HEAD "2e1cf7ed91881a30569e46552437e4156c823447bf1781b921b5d486c568dd1c",
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
		.creq = "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
			"x-amz-security-token:AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j"
			"4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGd"
			"eehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQ"
			"cHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9"
			"KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==\n\nhost;x-amz-date;x-amz-security-token\n" EMPTY,
		.sts = STS_HEAD "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6",
		.authz = CRED "SignedHeaders=host;x-amz-date;x-amz-security-token, "
			"Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
	},
};

static void check(const struct s3_sign_ctx *ctx, const struct s3_sign_req *req, const char *name,
		  const char *creq, const char *sts, const char *authz)
{
	struct s3_str out = {0}, c = {0}, s = {0};
	int rc = s3_authorization(ctx, req, &out, &c, &s);
	assert_int_equal(rc, 0);
	if (strcmp(c.p, creq) != 0)
		fail_msg("%s: canonical request\n--- got ---\n%s\n--- want ---\n%s", name, c.p, creq);
	if (strcmp(s.p, sts) != 0)
		fail_msg("%s: string to sign\n--- got ---\n%s\n--- want ---\n%s", name, s.p, sts);
	if (strcmp(out.p, authz) != 0)
		fail_msg("%s: authorization\n--- got ---\n%s\n--- want ---\n%s", name, out.p, authz);
	/* the separate stages agree with the all-in-one call */
	char *sh = NULL;
	struct s3_str c2 = {0}, s2 = {0};
	assert_int_equal(s3_canonical_request(req, &c2, &sh), 0);
	assert_string_equal(c2.p, creq);
	assert_int_equal(s3_string_to_sign(ctx, c2.p, &s2), 0);
	assert_string_equal(s2.p, sts);
	char sig[S3_SHA256_HEX];
	s3_signature(ctx, s2.p, sig);
	assert_non_null(strstr(authz, sig));
	free(sh);
	s3_str_free(&c2);
	s3_str_free(&s2);
	s3_str_free(&out);
	s3_str_free(&c);
	s3_str_free(&s);
}

static void test_suite_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		char hash[S3_SHA256_HEX];
		s3_sha256_hex(v->body ? v->body : "", v->body ? strlen(v->body) : 0, hash);
		struct s3_sign_req req = {
			.method = v->method,
			.path = v->path,
			.query = v->query,
			.n_query = v->n_query,
			.headers = v->headers,
			.n_headers = v->n_headers,
			.payload_hash = hash,
		};
		check(&suite_ctx, &req, v->name, v->creq, v->sts, v->authz);
	}
}

/* S3 documentation, "Example: GET Object" (single chunk, header-based auth). */
static void test_s3_get_object_example(void **state)
{
	(void)state;
	static const struct s3_sign_ctx ctx = {
		.access_key = "AKIAIOSFODNN7EXAMPLE",
		.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		.region = "us-east-1",
		.service = "s3",
		.amz_date = "20130524T000000Z",
	};
	static const struct s3_pair headers[] = {
		{"Host", "examplebucket.s3.amazonaws.com"},
		{"Range", "bytes=0-9"},
		{"x-amz-content-sha256", EMPTY},
		{"x-amz-date", "20130524T000000Z"},
	};
	struct s3_sign_req req = {
		.method = "GET", .path = "/test.txt", .headers = headers, .n_headers = 4,
		.payload_hash = EMPTY,
	};
	check(&ctx, &req, "s3-get-object",
	      "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
	      "x-amz-content-sha256:" EMPTY "\nx-amz-date:20130524T000000Z\n\n"
	      "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY,
	      "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
	      "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
	      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
	      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
	      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

/* S3 keys: one encoding pass, '/' kept in paths, '+' and spaces escaped. */
static void test_uri_encoding(void **state)
{
	(void)state;
	struct s3_str s = {0};
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
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suite_vectors),
		cmocka_unit_test(test_s3_get_object_example),
		cmocka_unit_test(test_uri_encoding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
