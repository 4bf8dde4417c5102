/* test_codec.c — unit tests for core/codec.c (JSON <-> msgpack). */
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cairn/status.h"
#include "codec.h"
#include "error.h"

/* ---- helpers --------------------------------------------------------- */

/* JSON -> msgpack into sb (cleared first); returns the codec status. */
static int to_mp(const char *json, size_t len, msgpack_sbuffer *sb)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	core_error_clear();
	return core_json_to_msgpack(json, len, &pk);
}

/* Unpack sb (must hold exactly one value) and convert it back to JSON. */
static int from_mp(const msgpack_sbuffer *sb, struct core_buf *out)
{
	msgpack_unpacked u;
	size_t off = 0;

	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, sb->data, sb->size, &off), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, sb->size);
	core_error_clear();
	int rc = core_msgpack_to_json(&u.data, out);
	msgpack_unpacked_destroy(&u);
	return rc;
}

/* Round trip json and check the output equals `want`. */
static void check_rt_len(const char *json, size_t len, const char *want, size_t want_len)
{
	msgpack_sbuffer sb;
	struct core_buf out = CORE_BUF_INIT;

	msgpack_sbuffer_init(&sb);
	int rc = to_mp(json, len, &sb);
	if (rc != CAIRN_OK)
		fail_msg("json_to_msgpack(%.*s): %s", (int)len, json, core_error_message());
	rc = from_mp(&sb, &out);
	if (rc != CAIRN_OK)
		fail_msg("msgpack_to_json(%.*s): %s", (int)len, json, core_error_message());
	if (out.len != want_len || memcmp(out.data, want, want_len) != 0)
		fail_msg("round trip of '%.*s' gave '%s', want '%.*s'", (int)len, json, out.data,
			 (int)want_len, want);
	core_buf_free(&out);
	msgpack_sbuffer_destroy(&sb);
}

static void check_rt(const char *json, const char *want)
{
	check_rt_len(json, strlen(json), want, strlen(want));
}

/* Convert json and unpack the first value into *u (caller destroys u). */
static void unpack_json(const char *json, size_t len, msgpack_unpacked *u, msgpack_sbuffer *sb)
{
	size_t off = 0;

	if (to_mp(json, len, sb) != CAIRN_OK)
		fail_msg("json_to_msgpack(%s): %s", json, core_error_message());
	msgpack_unpacked_init(u);
	assert_int_equal(msgpack_unpack_next(u, sb->data, sb->size, &off), MSGPACK_UNPACK_SUCCESS);
}

/* ---- round trips ----------------------------------------------------- */

static void test_roundtrip_identity(void **state)
{
	(void)state;
	static const char *const docs[] = {
		"null", "true", "false", "0", "-1", "42", "[]", "{}", "\"\"", "[[]]", "[{}]",
		"[1,2,3]", "{\"b\":1,\"a\":[true,false,null]}", "{\"a\":1,\"a\":2,\"a\":{}}",
		"1e-400", "1e400", "-1e400", "123456789012345678901234567890",
		"18446744073709551615", "18446744073709551616", "-9223372036854775808",
		"-9223372036854775809", "9223372036854775807", "9223372036854775808",
		"100000000000000000000", "1.10", "-0", "-0.0", "0.0", "1.0", "0.1", "1E5", "1e5",
		"1e+05", "1e+20", "1e-07", "-1.5e-7", "1.5", "-1.5", "3.141592653589793",
		"2.2250738585072014e-308", "4.9406564584124654e-324", "1.7976931348623157e+308",
		"0.30000000000000004", "1E-0", "0e0", "-0e-0", "12345678901234567890.5e-10",
		"\"\\u0000\"", "\"a\\u0000b\"", "\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\"",
		"\"/\"", "\"\x7f\"", "\"\xc3\xa9\"", "\"\xe2\x82\xac\"", "\"\xf0\x9f\x98\x80\"",
		"\"\xf4\x8f\xbf\xbf\"", "{\"\":\"\",\"\xc3\xa9\":[\"\\n\"]}",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		check_rt(docs[i], docs[i]);
}

static void test_whitespace_to_compact(void **state)
{
	(void)state;
	check_rt(" \t\r\n{ \"a\" : [ 1 , 2.5 , { } , [ ] ] ,\n\t\"b\" :\"x y\" } \n",
		 "{\"a\":[1,2.5,{},[]],\"b\":\"x y\"}");
	check_rt("  -0  ", "-0");
	check_rt("\"\\/\\u0041\\u00E9\"", "\"/A\xc3\xa9\"");
	check_rt("\"\\u001F\\u007f\"", "\"\\u001f\x7f\"");
}

/* ---- msgpack types chosen for numbers and strings --------------------- */

static void expect_type(const char *json, msgpack_object_type type)
{
	msgpack_sbuffer sb;
	msgpack_unpacked u;

	msgpack_sbuffer_init(&sb);
	unpack_json(json, strlen(json), &u, &sb);
	if (u.data.type != type)
		fail_msg("'%s' became msgpack type %d, want %d", json, (int)u.data.type, (int)type);
	if (type == MSGPACK_OBJECT_EXT) {
		assert_int_equal(u.data.via.ext.type, CORE_JSON_EXT_NUMBER);
		assert_int_equal(u.data.via.ext.size, strlen(json));
		assert_memory_equal(u.data.via.ext.ptr, json, strlen(json));
	}
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
}

static void test_number_types(void **state)
{
	(void)state;
	expect_type("0", MSGPACK_OBJECT_POSITIVE_INTEGER);
	expect_type("5", MSGPACK_OBJECT_POSITIVE_INTEGER);
	expect_type("-5", MSGPACK_OBJECT_NEGATIVE_INTEGER);
	expect_type("18446744073709551615", MSGPACK_OBJECT_POSITIVE_INTEGER);
	expect_type("9223372036854775808", MSGPACK_OBJECT_POSITIVE_INTEGER);
	expect_type("-9223372036854775808", MSGPACK_OBJECT_NEGATIVE_INTEGER);
	expect_type("1.5", MSGPACK_OBJECT_FLOAT64);
	expect_type("0.1", MSGPACK_OBJECT_FLOAT64);
	expect_type("-0", MSGPACK_OBJECT_FLOAT64);
	expect_type("1e+20", MSGPACK_OBJECT_FLOAT64);
	expect_type("1.10", MSGPACK_OBJECT_EXT);
	expect_type("1E5", MSGPACK_OBJECT_EXT);
	expect_type("1e400", MSGPACK_OBJECT_EXT);
	expect_type("1e-400", MSGPACK_OBJECT_EXT);
	expect_type("-1.5e-7", MSGPACK_OBJECT_EXT);
	expect_type("-0.0", MSGPACK_OBJECT_EXT);
	expect_type("18446744073709551616", MSGPACK_OBJECT_EXT);
	expect_type("-9223372036854775809", MSGPACK_OBJECT_EXT);
	expect_type("100000000000000000000", MSGPACK_OBJECT_EXT);
	expect_type("123456789012345678901234567890", MSGPACK_OBJECT_EXT);

	/* Values, not just types. */
	msgpack_sbuffer sb;
	msgpack_unpacked u;
	msgpack_sbuffer_init(&sb);
	const char *arr = "[-0,1.5,18446744073709551615,-9223372036854775808]";
	unpack_json(arr, strlen(arr), &u, &sb);
	assert_int_equal(u.data.type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(u.data.via.array.size, 4);
	const msgpack_object *a = u.data.via.array.ptr;
	assert_true(a[0].via.f64 == 0.0 && signbit(a[0].via.f64));
	assert_true(a[1].via.f64 == 1.5);
	assert_true(a[2].via.u64 == UINT64_MAX);
	assert_true(a[3].via.i64 == INT64_MIN);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
}

static void expect_str(const char *json, const char *bytes, size_t n, const char *back)
{
	msgpack_sbuffer sb;
	msgpack_unpacked u;

	msgpack_sbuffer_init(&sb);
	unpack_json(json, strlen(json), &u, &sb);
	assert_int_equal(u.data.type, MSGPACK_OBJECT_STR);
	assert_int_equal(u.data.via.str.size, n);
	assert_memory_equal(u.data.via.str.ptr, bytes, n);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
	check_rt(json, back);
}

static void test_strings(void **state)
{
	(void)state;
	expect_str("\"\\u00e9\"", "\xc3\xa9", 2, "\"\xc3\xa9\"");
	expect_str("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");
	expect_str("\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");
	expect_str("\"a\\u0000b\"", "a\0b", 3, "\"a\\u0000b\"");
	expect_str("\"\\u20ac\"", "\xe2\x82\xac", 3, "\"\xe2\x82\xac\"");
	expect_str("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8,
		   "\"\\\"\\\\/\\b\\f\\n\\r\\t\"");
	expect_str("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\"");
}

/* ---- invalid input ---------------------------------------------------- */

struct bad {
	const char *json;
	size_t len; /* 0: strlen */
	const char *msg;
};

/*
 * The string scanner reads 8 bytes at a time: put each kind of special byte
 * at every offset from 0 to 24 of a string, so that it falls at each place
 * of a word and after whole words, and check the verdict and the position.
 */
static void test_string_scan(void **state)
{
	(void)state;
	static const struct {
		const char *x;      /* inserted after k plain bytes */
		const char *back;   /* its JSON output, or NULL: refused with `msg` */
		const char *msg;
	} cases[] = {
		{"\n", NULL, "control character in string"},
		{"\x1f", NULL, "control character in string"},
		{"\x80", NULL, "invalid UTF-8"},
		{"\xc3", NULL, "invalid UTF-8"},
		{"\\x", NULL, "invalid escape"},
		{"\x7f", "\x7f", NULL},
		{"\xc3\xa9", "\xc3\xa9", NULL},
		{"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", NULL},
		{"\\n", "\\n", NULL},
		{"\\u0041", "A", NULL},
		{"\\\"", "\\\"", NULL},
		{"~ ", "~ ", NULL},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		for (size_t k = 0; k <= 24; k++) {
			char in[64], want[64], msg[96];
			char pad[32];
			memset(pad, 'a', k);
			pad[k] = '\0';
			snprintf(in, sizeof(in), "\"%s%sbcdefghij\"", pad, cases[c].x);
			if (cases[c].back) {
				snprintf(want, sizeof(want), "\"%s%sbcdefghij\"", pad, cases[c].back);
				check_rt(in, want);
				continue;
			}
			msgpack_sbuffer sb;
			msgpack_sbuffer_init(&sb);
			assert_int_equal(to_mp(in, strlen(in), &sb), CAIRN_E_INVALID);
			snprintf(msg, sizeof(msg), "invalid JSON at byte %zu: %s", k + 1, cases[c].msg);
			assert_string_equal(core_error_message(), msg);
			msgpack_sbuffer_destroy(&sb);
		}
}

static void test_invalid(void **state)
{
	(void)state;
	static const struct bad cases[] = {
		{"", 0, "invalid JSON at byte 0: unexpected end of input"},
		{"   ", 0, "invalid JSON at byte 3: unexpected end of input"},
		{"1 2", 0, "invalid JSON at byte 2: unexpected data after the value"},
		{"{} x", 0, "invalid JSON at byte 3: unexpected data after the value"},
		{"truex", 0, "invalid JSON at byte 4: unexpected data after the value"},
		{"01", 0, "invalid JSON at byte 1: leading zero in number"},
		{"-01", 0, "invalid JSON at byte 2: leading zero in number"},
		{"1.", 0, "invalid JSON at byte 2: expected digit after '.'"},
		{"1.e5", 0, "invalid JSON at byte 2: expected digit after '.'"},
		{".5", 0, "invalid JSON at byte 0: expected value"},
		{"+1", 0, "invalid JSON at byte 0: expected value"},
		{"-", 0, "invalid JSON at byte 1: expected digit"},
		{"-a", 0, "invalid JSON at byte 1: expected digit"},
		{"1e", 0, "invalid JSON at byte 2: expected digit in exponent"},
		{"1e+", 0, "invalid JSON at byte 3: expected digit in exponent"},
		{"NaN", 0, "invalid JSON at byte 0: expected value"},
		{"Infinity", 0, "invalid JSON at byte 0: expected value"},
		{"-Infinity", 0, "invalid JSON at byte 1: expected digit"},
		{"tru", 0, "invalid JSON at byte 0: expected value"},
		{"nul", 0, "invalid JSON at byte 0: expected value"},
		{"[", 0, "invalid JSON at byte 1: unexpected end of input"},
		{"[1", 0, "invalid JSON at byte 2: unexpected end of input"},
		{"[1,]", 0, "invalid JSON at byte 3: expected value"},
		{"[1 2]", 0, "invalid JSON at byte 3: expected ',' or ']'"},
		{"{\"a\":1]", 0, "invalid JSON at byte 6: expected ',' or '}'"},
		{"{\"a\" 1}", 0, "invalid JSON at byte 5: expected ':'"},
		{"{\"a\"", 0, "invalid JSON at byte 4: unexpected end of input"},
		{"{\"a\":1,}", 0, "invalid JSON at byte 7: expected string key"},
		{"{1:2}", 0, "invalid JSON at byte 1: expected string key"},
		{"\"abc", 0, "invalid JSON at byte 4: unterminated string"},
		{"\"abc\\", 0, "invalid JSON at byte 5: unterminated string"},
		{"\"a\nb\"", 0, "invalid JSON at byte 2: control character in string"},
		{"\"a\tb\"", 0, "invalid JSON at byte 2: control character in string"},
		{"\"\\x\"", 0, "invalid JSON at byte 1: invalid escape"},
		{"\"\\u12G4\"", 0, "invalid JSON at byte 1: invalid \\u escape"},
		{"\"\\u12\"", 0, "invalid JSON at byte 1: invalid \\u escape"},
		{"\"\\ud83d\"", 0, "invalid JSON at byte 1: unpaired surrogate"},
		{"\"\\ude00\"", 0, "invalid JSON at byte 1: unpaired surrogate"},
		{"\"x\\ud83dx\"", 0, "invalid JSON at byte 2: unpaired surrogate"},
		{"\"\\ud83d\\u0041\"", 0, "invalid JSON at byte 1: unpaired surrogate"},
		{"\"\\ud83d\\ud83d\"", 0, "invalid JSON at byte 1: unpaired surrogate"},
		{"\"\xc0\xaf\"", 0, "invalid JSON at byte 1: invalid UTF-8"},       /* overlong */
		{"\"\xe0\x80\xaf\"", 0, "invalid JSON at byte 1: invalid UTF-8"},   /* overlong */
		{"\"\xed\xa0\x80\"", 0, "invalid JSON at byte 1: invalid UTF-8"},   /* surrogate */
		{"\"\xf4\x90\x80\x80\"", 0, "invalid JSON at byte 1: invalid UTF-8"}, /* > 10FFFF */
		{"\"\xf5\x80\x80\x80\"", 0, "invalid JSON at byte 1: invalid UTF-8"},
		{"\"\x80\"", 0, "invalid JSON at byte 1: invalid UTF-8"},
		{"\"\xe2\x82\"", 0, "invalid JSON at byte 1: invalid UTF-8"},        /* truncated */
		{"\"\xff\"", 0, "invalid JSON at byte 1: invalid UTF-8"},
		{"\"a\0b\"", 5, "invalid JSON at byte 2: control character in string"},
		{"1\0", 2, "invalid JSON at byte 1: unexpected data after the value"},
		{"\xef\xbb\xbf{}", 0, "invalid JSON at byte 0: expected value"},   /* BOM */
	};
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->json);
		int rc = to_mp(c->json, len, &sb);
		if (rc != CAIRN_E_INVALID)
			fail_msg("case %zu ('%s'): status %d, want CAIRN_E_INVALID", i, c->json, rc);
		if (strcmp(core_error_message(), c->msg) != 0)
			fail_msg("case %zu ('%s'): message '%s', want '%s'", i, c->json,
				 core_error_message(), c->msg);
		/* Validation happens before packing: nothing was written. */
		assert_int_equal(sb.size, 0);
	}
	/* NULL text with length 0 is just empty input. */
	assert_int_equal(to_mp(NULL, 0, &sb), CAIRN_E_INVALID);
	msgpack_sbuffer_destroy(&sb);
}

/* ---- depth ------------------------------------------------------------ */

static char *nested(size_t depth, const char *open, const char *inner, const char *close)
{
	size_t lo = strlen(open), li = strlen(inner), lc = strlen(close);
	char *s = malloc(depth * (lo + lc) + li + 1);
	char *p = s;

	assert_non_null(s);
	for (size_t i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, inner, li);
	p += li;
	for (size_t i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

static void test_depth_json(void **state)
{
	(void)state;
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);

	char *ok = nested(512, "[", "1", "]");
	assert_int_equal(to_mp(ok, strlen(ok), &sb), CAIRN_OK);
	/* 512 fixarray(1) headers, then the 1. */
	assert_int_equal(sb.size, 513);
	assert_int_equal((unsigned char)sb.data[0], 0x91);
	assert_int_equal((unsigned char)sb.data[511], 0x91);
	assert_int_equal((unsigned char)sb.data[512], 0x01);
	free(ok);

	/* 511 wrappers around {}: the innermost object is level 512. */
	ok = nested(511, "{\"k\":", "{}", "}");
	assert_int_equal(to_mp(ok, strlen(ok), &sb), CAIRN_OK);
	free(ok);

	char *bad = nested(513, "[", "", "]");
	assert_int_equal(to_mp(bad, strlen(bad), &sb), CAIRN_E_INVALID);
	assert_string_equal(core_error_message(), "JSON nested deeper than 512 levels");
	assert_int_equal(sb.size, 0);
	free(bad);

	bad = nested(100000, "[", "", "]");
	assert_int_equal(to_mp(bad, strlen(bad), &sb), CAIRN_E_INVALID);
	assert_string_equal(core_error_message(), "JSON nested deeper than 512 levels");
	free(bad);

	bad = nested(100000, "{\"a\":", "1", "}");
	assert_int_equal(to_mp(bad, strlen(bad), &sb), CAIRN_E_INVALID);
	assert_string_equal(core_error_message(), "JSON nested deeper than 512 levels");
	free(bad);

	/* Unbalanced: 100000 opens, no closes. */
	bad = nested(100000, "[", "", "");
	assert_int_equal(to_mp(bad, strlen(bad), &sb), CAIRN_E_INVALID);
	free(bad);

	msgpack_sbuffer_destroy(&sb);
}

/* A chain of `depth` one-element arrays around nil, built by hand because
 * msgpack-c's unpacker stops at 32 levels. */
static int chain_to_json(size_t depth, struct core_buf *out)
{
	msgpack_object *o = calloc(depth + 1, sizeof(*o));

	assert_non_null(o);
	for (size_t i = 0; i < depth; i++) {
		o[i].type = MSGPACK_OBJECT_ARRAY;
		o[i].via.array.size = 1;
		o[i].via.array.ptr = &o[i + 1];
	}
	o[depth].type = MSGPACK_OBJECT_NIL;
	core_error_clear();
	int rc = core_msgpack_to_json(&o[0], out);
	free(o);
	return rc;
}

static void test_depth_msgpack(void **state)
{
	(void)state;
	struct core_buf out = CORE_BUF_INIT;

	assert_int_equal(chain_to_json(512, &out), CAIRN_OK);
	char *want = nested(512, "[", "null", "]");
	assert_string_equal(out.data, want);
	free(want);

	core_buf_reset(&out);
	core_buf_append_str(&out, "keep");
	assert_int_equal(chain_to_json(513, &out), CAIRN_E_CORRUPT);
	assert_string_equal(core_error_message(),
			    "msgpack value has no JSON form: nested deeper than 512 levels");
	assert_string_equal(out.data, "keep"); /* restored on failure */

	assert_int_equal(chain_to_json(100000, &out), CAIRN_E_CORRUPT);
	core_buf_free(&out);
}

/* ---- msgpack that JSON never produces ----------------------------------- */

typedef void (*pack_fn)(msgpack_packer *pk);

static void pk_int_key(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	msgpack_pack_int(pk, 1);
	msgpack_pack_nil(pk);
}

static void pk_bad_utf8(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_str_with_body(pk, "ok\xc0\xaf", 4);
}

static void pk_bad_utf8_key(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	msgpack_pack_str_with_body(pk, "\xed\xa0\x80", 3);
	msgpack_pack_nil(pk);
}

static void pk_truncated_utf8(msgpack_packer *pk)
{
	msgpack_pack_str_with_body(pk, "\xe2\x82", 2);
}

static void pk_bin(msgpack_packer *pk)
{
	msgpack_pack_bin_with_body(pk, "abc", 3);
}

static void pk_ext2(msgpack_packer *pk)
{
	msgpack_pack_ext_with_body(pk, "1", 1, 2);
}

static void pk_ext_word(msgpack_packer *pk)
{
	msgpack_pack_ext_with_body(pk, "abc", 3, CORE_JSON_EXT_NUMBER);
}

static void pk_ext_leading_zero(msgpack_packer *pk)
{
	msgpack_pack_ext_with_body(pk, "01", 2, CORE_JSON_EXT_NUMBER);
}

static void pk_ext_trailing(msgpack_packer *pk)
{
	msgpack_pack_ext_with_body(pk, "1 ", 2, CORE_JSON_EXT_NUMBER);
}

static void pk_ext_empty(msgpack_packer *pk)
{
	msgpack_pack_ext(pk, 0, CORE_JSON_EXT_NUMBER);
}

static void pk_float32(msgpack_packer *pk)
{
	msgpack_pack_float(pk, 1.5f);
}

static void pk_nan(msgpack_packer *pk)
{
	msgpack_pack_double(pk, NAN);
}

static void pk_inf(msgpack_packer *pk)
{
	msgpack_pack_double(pk, -INFINITY);
}

static void test_msgpack_rejects(void **state)
{
	(void)state;
	static const struct {
		pack_fn fn;
		const char *msg;
	} cases[] = {
		{pk_int_key, "map key is not a string"},
		{pk_bad_utf8, "invalid UTF-8 in string"},
		{pk_bad_utf8_key, "invalid UTF-8 in string"},
		{pk_truncated_utf8, "invalid UTF-8 in string"},
		{pk_bin, "bin is never produced from JSON"},
		{pk_ext2, "unknown ext type 2"},
		{pk_ext_word, "number text is not a JSON number"},
		{pk_ext_leading_zero, "number text is not a JSON number"},
		{pk_ext_trailing, "number text is not a JSON number"},
		{pk_ext_empty, "number text is not a JSON number"},
		{pk_float32, "float32 is never produced from JSON"},
		{pk_nan, "float is not finite"},
		{pk_inf, "float is not finite"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msgpack_sbuffer sb;
		msgpack_packer pk;
		struct core_buf out = CORE_BUF_INIT;
		char want[128];

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		cases[i].fn(&pk);
		core_buf_append_str(&out, "prefix");
		assert_int_equal(from_mp(&sb, &out), CAIRN_E_CORRUPT);
		snprintf(want, sizeof(want), "msgpack value has no JSON form: %s", cases[i].msg);
		if (strcmp(core_error_message(), want) != 0)
			fail_msg("case %zu: '%s', want '%s'", i, core_error_message(), want);
		assert_string_equal(out.data, "prefix");
		core_buf_free(&out);
		msgpack_sbuffer_destroy(&sb);
	}
}

static void test_msgpack_accepts(void **state)
{
	(void)state;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct core_buf out = CORE_BUF_INIT;

	/* A float64 the parser would have made an int still prints validly,
	 * and an int in a signed encoding prints as its value. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_double(&pk, 5.0);
	msgpack_pack_double(&pk, 1e300);
	msgpack_pack_int64(&pk, 7);
	msgpack_pack_ext_with_body(&pk, "-0.00", 5, CORE_JSON_EXT_NUMBER);
	msgpack_pack_str_with_body(&pk, "", 0);
	assert_int_equal(from_mp(&sb, &out), CAIRN_OK);
	assert_string_equal(out.data, "[5,1e+300,7,-0.00,\"\"]");
	core_buf_free(&out);
	msgpack_sbuffer_destroy(&sb);
}

/* ---- locale independence -------------------------------------------- */

static void test_locale(void **state)
{
	(void)state;
	static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8",
					    "fr_FR.utf8", "ru_RU.UTF-8"};
	const char *set = NULL;

	for (size_t i = 0; !set && i < sizeof(names) / sizeof(names[0]); i++)
		set = setlocale(LC_NUMERIC, names[i]);
	if (!set) {
		print_message("[  SKIP    ] no comma-decimal locale installed\n");
		skip();
	}
	check_rt("[1.5,0.1,-0,1.10]", "[1.5,0.1,-0,1.10]");
	expect_type("1.5", MSGPACK_OBJECT_FLOAT64);
	setlocale(LC_NUMERIC, "C");
}

/* ---- property test: random compact documents ---------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static void gen_digits(struct core_buf *b, unsigned n, int allow_leading_zero)
{
	for (unsigned i = 0; i < n; i++)
		core_buf_append_char(b, (char)('0' + (i || allow_leading_zero ? rnd(10) : 1 + rnd(9))));
}

static void gen_number(struct core_buf *b)
{
	switch (rnd(4)) {
	case 0: { /* a double in its shortest form: float64 path */
		union {
			uint64_t u;
			double d;
		} v;
		v.u = ((uint64_t)rnd(UINT32_MAX) << 32) | rnd(UINT32_MAX);
		if (!isfinite(v.d))
			v.d = 0.25;
		for (int p = 1; p <= 17; p++) {
			char t[32];
			snprintf(t, sizeof(t), "%.*g", p, v.d);
			if (strtod(t, NULL) == v.d) {
				core_buf_append_str(b, t);
				return;
			}
		}
		return;
	}
	case 1: /* an integer, sometimes around the int64/uint64 edges */
		if (rnd(2))
			core_buf_append_char(b, '-');
		if (rnd(4) == 0)
			core_buf_append_char(b, '0');
		else
			gen_digits(b, 1 + rnd(22), 0);
		return;
	default: /* anything the grammar allows */
		if (rnd(2))
			core_buf_append_char(b, '-');
		if (rnd(3) == 0)
			core_buf_append_char(b, '0');
		else
			gen_digits(b, 1 + rnd(25), 0);
		if (rnd(2)) {
			core_buf_append_char(b, '.');
			gen_digits(b, 1 + rnd(20), 1);
		}
		if (rnd(2)) {
			core_buf_append_char(b, rnd(2) ? 'e' : 'E');
			unsigned s = rnd(3);
			if (s)
				core_buf_append_char(b, s == 1 ? '+' : '-');
			gen_digits(b, 1 + rnd(4), 1);
		}
	}
}

/* A string in the codec's canonical escaping. */
static void gen_string(struct core_buf *b)
{
	unsigned n = rnd(8);

	core_buf_append_char(b, '"');
	for (unsigned i = 0; i < n; i++) {
		unsigned cp;
		switch (rnd(6)) {
		case 0: cp = rnd(0x20); break;
		case 1: cp = rnd(2) ? '"' : '\\'; break;
		case 2: cp = 0x80 + rnd(0x800 - 0x80); break;
		case 3: cp = 0x800 + rnd(0x10000 - 0x800); break;
		case 4: cp = 0x10000 + rnd(0x110000 - 0x10000); break;
		default: cp = 0x20 + rnd(0x60); break;
		}
		if (cp >= 0xD800 && cp <= 0xDFFF)
			cp = 0xE000;
		if (cp == '"' || cp == '\\') {
			core_buf_append_char(b, '\\');
			core_buf_append_char(b, (char)cp);
		} else if (cp < 0x20) {
			const char *s = NULL;
			switch (cp) {
			case '\b': s = "\\b"; break;
			case '\f': s = "\\f"; break;
			case '\n': s = "\\n"; break;
			case '\r': s = "\\r"; break;
			case '\t': s = "\\t"; break;
			}
			if (s)
				core_buf_append_str(b, s);
			else
				core_buf_printf(b, "\\u%04x", cp);
		} else if (cp < 0x80) {
			core_buf_append_char(b, (char)cp);
		} else if (cp < 0x800) {
			core_buf_append_char(b, (char)(0xC0 | (cp >> 6)));
			core_buf_append_char(b, (char)(0x80 | (cp & 0x3F)));
		} else if (cp < 0x10000) {
			core_buf_append_char(b, (char)(0xE0 | (cp >> 12)));
			core_buf_append_char(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
			core_buf_append_char(b, (char)(0x80 | (cp & 0x3F)));
		} else {
			core_buf_append_char(b, (char)(0xF0 | (cp >> 18)));
			core_buf_append_char(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
			core_buf_append_char(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
			core_buf_append_char(b, (char)(0x80 | (cp & 0x3F)));
		}
	}
	core_buf_append_char(b, '"');
}

static void gen_value(struct core_buf *b, unsigned depth)
{
	unsigned k = depth >= 6 ? rnd(5) : rnd(8);

	switch (k) {
	case 0: core_buf_append_str(b, rnd(3) == 0 ? "null" : rnd(2) ? "true" : "false"); return;
	case 1:
	case 2: gen_number(b); return;
	case 3:
	case 4: gen_string(b); return;
	case 5:
	case 6: {
		unsigned n = rnd(5);
		core_buf_append_char(b, '[');
		for (unsigned i = 0; i < n; i++) {
			if (i)
				core_buf_append_char(b, ',');
			gen_value(b, depth + 1);
		}
		core_buf_append_char(b, ']');
		return;
	}
	default: {
		unsigned n = rnd(5);
		core_buf_append_char(b, '{');
		for (unsigned i = 0; i < n; i++) {
			if (i)
				core_buf_append_char(b, ',');
			if (i && rnd(4) == 0)
				core_buf_append_str(b, "\"dup\""); /* duplicate keys */
			else
				gen_string(b);
			core_buf_append_char(b, ':');
			gen_value(b, depth + 1);
		}
		core_buf_append_char(b, '}');
	}
	}
}

static void test_property_roundtrip(void **state)
{
	(void)state;
	struct core_buf doc = CORE_BUF_INIT;

	for (int i = 0; i < 200; i++) {
		core_buf_reset(&doc);
		gen_value(&doc, 0);
		check_rt_len(doc.data, doc.len, doc.data, doc.len);
	}
	core_buf_free(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_identity),
		cmocka_unit_test(test_whitespace_to_compact),
		cmocka_unit_test(test_number_types),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_string_scan),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_depth_json),
		cmocka_unit_test(test_depth_msgpack),
		cmocka_unit_test(test_msgpack_rejects),
		cmocka_unit_test(test_msgpack_accepts),
		cmocka_unit_test(test_locale),
		cmocka_unit_test(test_property_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
