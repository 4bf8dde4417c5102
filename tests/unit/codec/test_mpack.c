/* test_mpack.c — unit tests for core/mpack.c (the bounded msgpack reader). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "cairn/status.h"
#include "codec.h"
#include "error.h"
#include "mpack.h"
#include "record.h"
#include "retenant.h"

/* ---- helpers --------------------------------------------------------- */

/* Decode a copy of data[0..len) that is exactly len bytes long, so ASan
 * reports any read past the end. The copy is freed on return, so *out's
 * str/bin/ext pointers must not be followed. */
static int decode_exact(const char *data, size_t len, size_t *off, msgpack_zone *zone,
			msgpack_object *out, unsigned depth)
{
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	if (len)
		memcpy(copy, data, len);
	core_error_clear();
	int rc = core_mpack_next(copy, len, off, zone, out, depth);
	free(copy);
	return rc;
}

/* Bytes handed out by a zone whose first chunk has not overflowed. */
static size_t zone_used(const msgpack_zone *zone)
{
	return zone->chunk_size - zone->chunk_list.free;
}

/* The packed value must decode, with core_mpack_next and with msgpack-c,
 * to equal objects of the expected type, using all of sb. */
static void check_same(const msgpack_sbuffer *sb, msgpack_object_type type)
{
	msgpack_zone *zone = msgpack_zone_new(8192);
	msgpack_object obj;
	msgpack_unpacked u;
	size_t off = 0, uoff = 0;

	assert_non_null(zone);
	core_error_clear();
	int rc = core_mpack_next(sb->data, sb->size, &off, zone, &obj, 8);
	if (rc != CAIRN_OK)
		fail_msg("core_mpack_next: %s", core_error_message());
	assert_int_equal(off, sb->size);
	assert_int_equal(obj.type, type);
	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, sb->data, sb->size, &uoff), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(uoff, sb->size);
	assert_int_equal(u.data.type, type);
	assert_true(msgpack_object_equal(obj, u.data));
	msgpack_unpacked_destroy(&u);
	msgpack_zone_free(zone);
}

static void reset(msgpack_sbuffer *sb, msgpack_packer *pk)
{
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
}

/* Decode sb into obj (zone owned by the caller), expecting success. */
static void decode_ok(const msgpack_sbuffer *sb, msgpack_zone *zone, msgpack_object *obj)
{
	size_t off = 0;
	core_error_clear();
	if (core_mpack_next(sb->data, sb->size, &off, zone, obj, 8) != CAIRN_OK)
		fail_msg("core_mpack_next: %s", core_error_message());
	assert_int_equal(off, sb->size);
}

/* ---- every type -------------------------------------------------------- */

static void test_scalars(void **state)
{
	(void)state;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_zone *zone = msgpack_zone_new(8192);
	msgpack_object o;
	msgpack_sbuffer_init(&sb);

	reset(&sb, &pk);
	msgpack_pack_nil(&pk);
	check_same(&sb, MSGPACK_OBJECT_NIL);

	reset(&sb, &pk);
	msgpack_pack_true(&pk);
	check_same(&sb, MSGPACK_OBJECT_BOOLEAN);
	decode_ok(&sb, zone, &o);
	assert_true(o.via.boolean);
	reset(&sb, &pk);
	msgpack_pack_false(&pk);
	check_same(&sb, MSGPACK_OBJECT_BOOLEAN);
	decode_ok(&sb, zone, &o);
	assert_false(o.via.boolean);

	/* unsigned: fixint, uint8..64 */
	static const uint64_t uv[] = {0, 127, 128, 255, 256, 65535, 65536, 4294967295u,
				      4294967296u, UINT64_MAX};
	for (size_t i = 0; i < sizeof(uv) / sizeof(uv[0]); i++) {
		reset(&sb, &pk);
		msgpack_pack_uint64(&pk, uv[i]);
		check_same(&sb, MSGPACK_OBJECT_POSITIVE_INTEGER);
		decode_ok(&sb, zone, &o);
		assert_true(o.via.u64 == uv[i]);
	}
	/* negative: fixint, int8..64 */
	static const int64_t iv[] = {-1, -32, -33, -128, -129, -32768, -32769, INT32_MIN,
				     (int64_t)INT32_MIN - 1, INT64_MIN};
	for (size_t i = 0; i < sizeof(iv) / sizeof(iv[0]); i++) {
		reset(&sb, &pk);
		msgpack_pack_int64(&pk, iv[i]);
		check_same(&sb, MSGPACK_OBJECT_NEGATIVE_INTEGER);
		decode_ok(&sb, zone, &o);
		assert_true(o.via.i64 == iv[i]);
	}
	/* fixed-width encodings, signed ones holding non-negative values too */
	reset(&sb, &pk);
	msgpack_pack_fix_int8(&pk, 5);
	assert_int_equal((unsigned char)sb.data[0], 0xd0);
	check_same(&sb, MSGPACK_OBJECT_POSITIVE_INTEGER);
	decode_ok(&sb, zone, &o);
	assert_int_equal(o.via.u64, 5);
	reset(&sb, &pk);
	msgpack_pack_fix_int16(&pk, -300);
	check_same(&sb, MSGPACK_OBJECT_NEGATIVE_INTEGER);
	reset(&sb, &pk);
	msgpack_pack_fix_int32(&pk, 70000);
	check_same(&sb, MSGPACK_OBJECT_POSITIVE_INTEGER);
	reset(&sb, &pk);
	msgpack_pack_fix_int64(&pk, INT64_MAX);
	check_same(&sb, MSGPACK_OBJECT_POSITIVE_INTEGER);
	decode_ok(&sb, zone, &o);
	assert_true(o.via.u64 == (uint64_t)INT64_MAX);
	reset(&sb, &pk);
	msgpack_pack_fix_int64(&pk, -1);
	check_same(&sb, MSGPACK_OBJECT_NEGATIVE_INTEGER);
	decode_ok(&sb, zone, &o);
	assert_true(o.via.i64 == -1);
	reset(&sb, &pk);
	msgpack_pack_fix_uint8(&pk, 1);
	check_same(&sb, MSGPACK_OBJECT_POSITIVE_INTEGER);
	reset(&sb, &pk);
	msgpack_pack_fix_uint16(&pk, 2);
	check_same(&sb, MSGPACK_OBJECT_POSITIVE_INTEGER);
	reset(&sb, &pk);
	msgpack_pack_fix_uint32(&pk, 3);
	check_same(&sb, MSGPACK_OBJECT_POSITIVE_INTEGER);
	reset(&sb, &pk);
	msgpack_pack_fix_uint64(&pk, 4);
	check_same(&sb, MSGPACK_OBJECT_POSITIVE_INTEGER);
	decode_ok(&sb, zone, &o);
	assert_int_equal(o.via.u64, 4);

	reset(&sb, &pk);
	msgpack_pack_float(&pk, 1.5f);
	check_same(&sb, MSGPACK_OBJECT_FLOAT32);
	decode_ok(&sb, zone, &o);
	assert_true(o.via.f64 == 1.5);
	reset(&sb, &pk);
	msgpack_pack_double(&pk, -0.1);
	check_same(&sb, MSGPACK_OBJECT_FLOAT64);
	decode_ok(&sb, zone, &o);
	assert_true(o.via.f64 == -0.1);

	msgpack_sbuffer_destroy(&sb);
	msgpack_zone_free(zone);
}

static void test_str_bin_ext(void **state)
{
	(void)state;
	static const size_t sizes[] = {0, 1, 2, 4, 8, 16, 31, 32, 255, 256, 65535, 65536, 70000};
	char *payload = malloc(70000);
	assert_non_null(payload);
	for (size_t i = 0; i < 70000; i++)
		payload[i] = (char)('a' + i % 26);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_zone *zone = msgpack_zone_new(8192);
	msgpack_object o;
	msgpack_sbuffer_init(&sb);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		reset(&sb, &pk);
		msgpack_pack_str(&pk, n);
		msgpack_pack_str_body(&pk, payload, n);
		check_same(&sb, MSGPACK_OBJECT_STR);
		decode_ok(&sb, zone, &o);
		assert_int_equal(o.via.str.size, n);
		/* zero-copy: the payload points into the input */
		assert_ptr_equal(o.via.str.ptr, sb.data + sb.size - n);

		reset(&sb, &pk);
		msgpack_pack_bin(&pk, n);
		msgpack_pack_bin_body(&pk, payload, n);
		check_same(&sb, MSGPACK_OBJECT_BIN);
		decode_ok(&sb, zone, &o);
		assert_int_equal(o.via.bin.size, n);
		if (n)
			assert_memory_equal(o.via.bin.ptr, payload, n);

		reset(&sb, &pk);
		msgpack_pack_ext(&pk, n, (int8_t)(i % 2 ? -7 : 42));
		msgpack_pack_ext_body(&pk, payload, n);
		check_same(&sb, MSGPACK_OBJECT_EXT);
		decode_ok(&sb, zone, &o);
		assert_int_equal(o.via.ext.type, i % 2 ? -7 : 42);
		assert_int_equal(o.via.ext.size, n);
		assert_ptr_equal(o.via.ext.ptr, sb.data + sb.size - n);
	}
	msgpack_sbuffer_destroy(&sb);
	msgpack_zone_free(zone);
	free(payload);
}

static void test_containers(void **state)
{
	(void)state;
	static const uint32_t sizes[] = {0, 1, 15, 16, 65535, 65536, 70000};
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_zone *zone = msgpack_zone_new(8192);
	msgpack_object o;
	msgpack_sbuffer_init(&sb);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint32_t n = sizes[i];
		reset(&sb, &pk);
		msgpack_pack_array(&pk, n);
		for (uint32_t j = 0; j < n; j++)
			msgpack_pack_uint32(&pk, j);
		check_same(&sb, MSGPACK_OBJECT_ARRAY);
		msgpack_zone_clear(zone);
		decode_ok(&sb, zone, &o);
		assert_int_equal(o.via.array.size, n);
		if (n == 0)
			assert_null(o.via.array.ptr);
		for (uint32_t j = 0; j < n; j++)
			assert_true(o.via.array.ptr[j].via.u64 == j);

		reset(&sb, &pk);
		msgpack_pack_map(&pk, n);
		for (uint32_t j = 0; j < n; j++) {
			msgpack_pack_uint32(&pk, j);
			msgpack_pack_int32(&pk, -(int32_t)j - 1);
		}
		check_same(&sb, MSGPACK_OBJECT_MAP);
		msgpack_zone_clear(zone);
		decode_ok(&sb, zone, &o);
		assert_int_equal(o.via.map.size, n);
		if (n == 0)
			assert_null(o.via.map.ptr);
		for (uint32_t j = 0; j < n; j++) {
			assert_true(o.via.map.ptr[j].key.via.u64 == j);
			assert_true(o.via.map.ptr[j].val.via.i64 == -(int64_t)j - 1);
		}
	}

	/* a mixed tree, compared as a whole */
	reset(&sb, &pk);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str_with_body(&pk, "a", 1);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_nil(&pk);
	msgpack_pack_map(&pk, 0);
	msgpack_pack_array(&pk, 0);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_bin_with_body(&pk, "k", 1);
	msgpack_pack_ext_with_body(&pk, "xyz", 3, 1);
	msgpack_pack_str_with_body(&pk, "b", 1);
	msgpack_pack_double(&pk, 2.25);
	msgpack_pack_int8(&pk, -5);
	msgpack_pack_float(&pk, 3.0f);
	check_same(&sb, MSGPACK_OBJECT_MAP);

	msgpack_sbuffer_destroy(&sb);
	msgpack_zone_free(zone);
}

/* ---- depth -------------------------------------------------------------- */

/* `levels` nested JSON arrays around "x". */
static char *deep_json(int levels, size_t *len)
{
	char *s = malloc((size_t)levels * 2 + 4);
	assert_non_null(s);
	size_t n = 0;
	for (int i = 0; i < levels; i++)
		s[n++] = '[';
	memcpy(s + n, "\"x\"", 3);
	n += 3;
	for (int i = 0; i < levels; i++)
		s[n++] = ']';
	s[n] = '\0';
	*len = n;
	return s;
}

/* JSON 512 deep inside `wrap` one-element arrays (a record is 4 levels). */
static void pack_wrapped(msgpack_sbuffer *sb, const char *json, size_t len, int wrap)
{
	msgpack_packer pk;
	reset(sb, &pk);
	for (int i = 0; i < wrap; i++)
		msgpack_pack_array(&pk, 1);
	core_error_clear();
	if (core_json_to_msgpack(json, len, &pk) != CAIRN_OK)
		fail_msg("core_json_to_msgpack: %s", core_error_message());
}

static void test_depth(void **state)
{
	(void)state;
	size_t len;
	char *json = deep_json(CORE_JSON_MAX_DEPTH, &len);
	msgpack_sbuffer sb;
	msgpack_zone *zone = msgpack_zone_new(8192);
	msgpack_object o;
	size_t off;
	msgpack_sbuffer_init(&sb);

	pack_wrapped(&sb, json, len, 4);
	/* the str points into the input: decode from an exact-size copy kept alive */
	char *exact = malloc(sb.size);
	assert_non_null(exact);
	memcpy(exact, sb.data, sb.size);
	off = 0;
	core_error_clear();
	assert_int_equal(core_mpack_next(exact, sb.size, &off, zone, &o, CORE_JSON_MAX_DEPTH + 4),
			 CAIRN_OK);
	assert_int_equal(off, sb.size);
	msgpack_object *v = &o;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(v->type, MSGPACK_OBJECT_ARRAY);
		assert_int_equal(v->via.array.size, 1);
		v = &v->via.array.ptr[0];
	}
	struct core_buf out = CORE_BUF_INIT;
	assert_int_equal(core_msgpack_to_json(v, &out), CAIRN_OK);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.data, json, len);
	core_buf_free(&out);
	free(exact);

	/* one level short of what it needs */
	msgpack_zone_clear(zone);
	off = 0;
	assert_int_equal(decode_exact(sb.data, sb.size, &off, zone, &o, CORE_JSON_MAX_DEPTH + 3),
			 CAIRN_E_CORRUPT);
	assert_int_equal(off, 0);
	assert_string_equal(core_error_message(),
			    "archive is corrupted: msgpack nested deeper than 515 levels");

	/* 517 levels against a limit of 516 */
	pack_wrapped(&sb, json, len, 5);
	msgpack_zone_clear(zone);
	off = 0;
	assert_int_equal(decode_exact(sb.data, sb.size, &off, zone, &o, CORE_JSON_MAX_DEPTH + 4),
			 CAIRN_E_CORRUPT);
	assert_string_equal(core_error_message(),
			    "archive is corrupted: msgpack nested deeper than 516 levels");

	/* depth 0: scalars only; `[]` and `{}` are one level */
	off = 0;
	assert_int_equal(decode_exact("\x05", 1, &off, zone, &o, 0), CAIRN_OK);
	off = 0;
	assert_int_equal(decode_exact("\x90", 1, &off, zone, &o, 0), CAIRN_E_CORRUPT);
	off = 0;
	assert_int_equal(decode_exact("\x80", 1, &off, zone, &o, 0), CAIRN_E_CORRUPT);
	off = 0;
	assert_int_equal(decode_exact("\x90", 1, &off, zone, &o, 1), CAIRN_OK);
	/* a map's key is a level down too */
	off = 0;
	assert_int_equal(decode_exact("\x81\x90\x01", 3, &off, zone, &o, 1), CAIRN_E_CORRUPT);
	off = 0;
	assert_int_equal(decode_exact("\x81\x90\x01", 3, &off, zone, &o, 2), CAIRN_OK);

	msgpack_sbuffer_destroy(&sb);
	msgpack_zone_free(zone);
	free(json);
}

/* ---- hostile input ------------------------------------------------------ */

static void test_truncation(void **state)
{
	(void)state;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_zone *zone = msgpack_zone_new(8192);
	msgpack_object o;
	msgpack_sbuffer_init(&sb);

	reset(&sb, &pk);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_str_with_body(&pk, "key", 3);
	msgpack_pack_nil(&pk);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_map(&pk, 7);
	msgpack_pack_str_with_body(&pk, "u", 1);
	msgpack_pack_uint64(&pk, UINT64_MAX);
	msgpack_pack_str_with_body(&pk, "i", 1);
	msgpack_pack_int32(&pk, -70000);
	msgpack_pack_str_with_body(&pk, "f", 1);
	msgpack_pack_float(&pk, 0.5f);
	msgpack_pack_str_with_body(&pk, "d", 1);
	msgpack_pack_double(&pk, 0.25);
	msgpack_pack_str_with_body(&pk, "b", 1);
	msgpack_pack_bin_with_body(&pk, "\0\1\2", 3);
	msgpack_pack_str_with_body(&pk, "e", 1);
	msgpack_pack_ext_with_body(&pk, "12345", 5, 1);
	msgpack_pack_str_with_body(&pk, "fx", 2);
	msgpack_pack_ext_with_body(&pk, "1234", 4, -1);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_true(&pk);
	msgpack_pack_str(&pk, 40);
	msgpack_pack_str_body(&pk, "0123456789012345678901234567890123456789", 40);

	for (size_t cut = 0; cut < sb.size; cut++) {
		size_t off = 0;
		msgpack_zone_clear(zone);
		assert_int_equal(decode_exact(sb.data, cut, &off, zone, &o, 8), CAIRN_E_CORRUPT);
		assert_int_equal(off, 0);
		assert_non_null(strstr(core_error_message(), "archive is corrupted: truncated msgpack"));
	}
	size_t off = 0;
	assert_int_equal(decode_exact(sb.data, sb.size, &off, zone, &o, 8), CAIRN_OK);
	assert_int_equal(off, sb.size);
	/* *off at or past the end */
	off = sb.size;
	assert_int_equal(core_mpack_next(sb.data, sb.size, &off, zone, &o, 8), CAIRN_E_CORRUPT);
	off = sb.size + 1;
	assert_int_equal(core_mpack_next(sb.data, sb.size, &off, zone, &o, 8), CAIRN_E_CORRUPT);

	msgpack_sbuffer_destroy(&sb);
	msgpack_zone_free(zone);
}

static void test_hostile_headers(void **state)
{
	(void)state;
	static const struct {
		const char *bytes;
		size_t len;
	} cases[] = {
		{"\xdd\xff\xff\xff\xff\x00\x00\x00\x00\x00", 10},  /* array32 of 4 Gi */
		{"\xdf\xff\xff\xff\xff\x00\x00\x00\x00\x00", 10},  /* map32 of 4 Gi pairs */
		{"\xdb\xff\xff\xff\xff\x61\x62\x63", 8},           /* str32 of 4 GiB */
		{"\xc6\xff\xff\xff\xff\x61\x62\x63", 8},           /* bin32 of 4 GiB */
		{"\xc9\xff\xff\xff\xff\x01\x61\x62", 8},           /* ext32 of 4 GiB */
		{"\xdc\xff\xff\x00\x00", 5},                       /* array16, too short */
		{"\x93\xdc\x00\x02\x00\x00", 6},   /* child owes 2 bytes, siblings 2 more */
		{"\x82\x00\x00\x00", 4},           /* map needs 2 bytes a pair */
		{"\xd8\x01" "0123456789abcde", 17}, /* fixext16 one byte short */
	};
	msgpack_zone *zone = msgpack_zone_new(8192);
	msgpack_object o;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t off = 0;
		msgpack_zone_clear(zone);
		if (decode_exact(cases[i].bytes, cases[i].len, &off, zone, &o, 516) != CAIRN_E_CORRUPT)
			fail_msg("hostile case %zu was accepted", i);
		assert_int_equal(off, 0);
		/* the bound mpack.h promises: one object per input byte at most */
		assert_true(zone_used(zone) <= cases[i].len * sizeof(msgpack_object) + 16);
	}

	/*
	 * Stacked claims: each array16 header asks for as many elements as the
	 * bytes after it could hold on their own. Checked one by one, every level
	 * would pass and allocate ~N objects, N levels deep; with the bytes owed to
	 * open siblings counted, the second header is refused. A zone with one
	 * chunk big enough for the unbounded case measures what was taken.
	 */
	enum { N = 3000 };
	char *buf = malloc(N);
	assert_non_null(buf);
	for (size_t i = 0; i + 3 <= N; i += 3) {
		uint16_t n = (uint16_t)(N - i - 3);
		buf[i] = (char)0xdc;
		buf[i + 1] = (char)(n >> 8);
		buf[i + 2] = (char)n;
	}
	msgpack_zone *big = msgpack_zone_new(64u << 20);
	assert_non_null(big);
	size_t off = 0;
	assert_int_equal(decode_exact(buf, N, &off, big, &o, 2000), CAIRN_E_CORRUPT);
	assert_true(zone_used(big) <= N * sizeof(msgpack_object) + 64);
	msgpack_zone_free(big);
	free(buf);

	/* 0xc1, alone and inside a container */
	off = 0;
	assert_int_equal(decode_exact("\xc1", 1, &off, zone, &o, 8), CAIRN_E_CORRUPT);
	assert_string_equal(core_error_message(),
			    "archive is corrupted: invalid msgpack byte 0xc1 at byte 0");
	off = 0;
	assert_int_equal(decode_exact("\x92\x01\xc1", 3, &off, zone, &o, 8), CAIRN_E_CORRUPT);
	assert_string_equal(core_error_message(),
			    "archive is corrupted: invalid msgpack byte 0xc1 at byte 2");
	assert_int_equal(off, 0);

	msgpack_zone_free(zone);
}

static void test_back_to_back(void **state)
{
	(void)state;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_zone *zone = msgpack_zone_new(8192);
	msgpack_object o;
	size_t ends[6];
	msgpack_sbuffer_init(&sb);
	reset(&sb, &pk);

	msgpack_pack_uint8(&pk, 200);
	ends[0] = sb.size;
	msgpack_pack_str_with_body(&pk, "ab", 2);
	ends[1] = sb.size;
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int8(&pk, -3);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_nil(&pk);
	msgpack_pack_double(&pk, 1.0);
	ends[2] = sb.size;
	msgpack_pack_map(&pk, 0);
	ends[3] = sb.size;
	msgpack_pack_nil(&pk);
	ends[4] = sb.size;
	msgpack_pack_ext_with_body(&pk, "z", 1, 3);
	ends[5] = sb.size;

	static const msgpack_object_type types[] = {
		MSGPACK_OBJECT_POSITIVE_INTEGER, MSGPACK_OBJECT_STR, MSGPACK_OBJECT_ARRAY,
		MSGPACK_OBJECT_MAP, MSGPACK_OBJECT_NIL, MSGPACK_OBJECT_EXT};
	size_t off = 0;
	for (int i = 0; i < 6; i++) {
		core_error_clear();
		assert_int_equal(core_mpack_next(sb.data, sb.size, &off, zone, &o, 8), CAIRN_OK);
		assert_int_equal(off, ends[i]);
		assert_int_equal(o.type, types[i]);
	}
	assert_int_equal(o.via.ext.type, 3);
	assert_int_equal(core_mpack_next(sb.data, sb.size, &off, zone, &o, 8), CAIRN_E_CORRUPT);
	assert_int_equal(off, sb.size);

	msgpack_sbuffer_destroy(&sb);
	msgpack_zone_free(zone);
}

/* ---- through record.c ---------------------------------------------------- */

static void test_record_roundtrip(void **state)
{
	(void)state;
	/* {"tenantId":"t1","a":[[…"x"…]]}: the object plus 499 arrays, 500 levels */
	struct core_buf json = CORE_BUF_INIT;
	assert_int_equal(core_buf_append_str(&json, "{\"tenantId\":\"t1\",\"a\":"), CAIRN_OK);
	size_t inner_len;
	char *inner = deep_json(499, &inner_len);
	assert_int_equal(core_buf_append(&json, inner, inner_len), CAIRN_OK);
	assert_int_equal(core_buf_append_char(&json, '}'), CAIRN_OK);
	free(inner);

	struct cairn_column cols[3] = {
		{"key", CAIRN_COL_TEXT, "t1_doc", 6},
		{"value", CAIRN_COL_JSON, json.data, json.len},
		{"n", CAIRN_COL_INT, "-42", 3},
	};
	struct cairn_record rec = {sizeof(rec), "t1_doc", "t1", 3, cols};
	struct cairn_column cols2[1] = {{"value", CAIRN_COL_JSON, "[1,{}]", 6}};
	struct cairn_record rec2 = {sizeof(rec2), "k2", NULL, 1, cols2};

	struct core_buf chunk = CORE_BUF_INIT;
	msgpack_packer pk;
	core_packer_init(&pk, &chunk);
	core_error_clear();
	if (core_record_pack(&pk, &rec) != CAIRN_OK || core_record_pack(&pk, &rec2) != CAIRN_OK)
		fail_msg("core_record_pack: %s", core_error_message());

	struct core_chunk_iter it;
	const struct cairn_record *got;
	core_chunk_iter_init(&it, chunk.data, chunk.len);
	int rc = core_chunk_next(&it, &got);
	if (rc != 1)
		fail_msg("core_chunk_next: %d %s", rc, core_error_message());
	assert_string_equal(got->key, "t1_doc");
	assert_string_equal(got->tenant, "t1");
	assert_int_equal(got->n_columns, 3);
	assert_int_equal(got->columns[1].type, CAIRN_COL_JSON);
	assert_int_equal(got->columns[1].len, json.len);
	assert_memory_equal(got->columns[1].data, json.data, json.len);
	assert_int_equal(got->columns[2].len, 3);
	assert_memory_equal(got->columns[2].data, "-42", 3);
	assert_int_equal(core_chunk_next(&it, &got), 1);
	assert_string_equal(got->key, "k2");
	assert_null(got->tenant);
	assert_string_equal(got->columns[0].data, "[1,{}]");
	assert_int_equal(core_chunk_next(&it, &got), 0);
	core_chunk_iter_free(&it);

	/* the same record through the --to-tenant step still decodes deep */
	struct core_retenant rt;
	const struct cairn_record *moved;
	core_retenant_init(&rt, "t1", "t2");
	core_chunk_iter_init(&it, chunk.data, chunk.len);
	assert_int_equal(core_chunk_next(&it, &got), 1);
	assert_int_equal(core_retenant_apply(&rt, got, &moved), CAIRN_OK);
	assert_string_equal(moved->key, "t2_doc");
	assert_string_equal(moved->tenant, "t2");
	assert_memory_equal(moved->columns[1].data, "{\"tenantId\":\"t2\",", 17);
	assert_int_equal(core_chunk_next(&it, &got), 1);
	assert_int_equal(core_retenant_apply(&rt, got, &moved), CAIRN_OK);
	assert_ptr_equal(moved, got); /* another tenant's record passes unchanged */
	core_chunk_iter_free(&it);
	core_retenant_free(&rt);

	/* a truncated chunk keeps the old message */
	core_chunk_iter_init(&it, chunk.data, chunk.len / 2);
	assert_int_equal(core_chunk_next(&it, &got), CAIRN_E_CORRUPT);
	assert_string_equal(core_error_message(), "archive is corrupted: malformed record");
	core_chunk_iter_free(&it);

	core_buf_free(&chunk);
	core_buf_free(&json);
}

static void test_manifest_summary(void **state)
{
	(void)state;
	char *kinds[] = {"a", "b"};
	struct core_manifest m = {.format = 1, .tool_version = "1.0", .type = "FULL",
				  .created_at = "2024-01-01T00:00:00.000000000Z", .kinds = kinds,
				  .n_kinds = 2};
	struct core_buf b = CORE_BUF_INIT;
	assert_int_equal(core_manifest_pack(&m, &b), CAIRN_OK);
	struct core_manifest got;
	assert_int_equal(core_manifest_unpack(b.data, b.len, &got), CAIRN_OK);
	assert_string_equal(got.type, "FULL");
	assert_int_equal(got.n_kinds, 2);
	assert_string_equal(got.kinds[1], "b");
	core_manifest_free(&got);
	core_error_clear();
	assert_int_equal(core_manifest_unpack(b.data, b.len - 1, &got), CAIRN_E_CORRUPT);
	assert_string_equal(core_error_message(), "archive is corrupted: malformed manifest");

	core_buf_reset(&b);
	uint64_t counts[2] = {7, 9}, back[2];
	assert_int_equal(core_summary_pack(kinds, counts, 2, &b), CAIRN_OK);
	assert_int_equal(core_summary_unpack(b.data, b.len, kinds, 2, back), CAIRN_OK);
	assert_int_equal(back[0], 7);
	assert_int_equal(back[1], 9);
	/* trailing bytes are refused */
	assert_int_equal(core_buf_append_char(&b, '\xc0'), CAIRN_OK);
	core_error_clear();
	assert_int_equal(core_summary_unpack(b.data, b.len, kinds, 2, back), CAIRN_E_CORRUPT);
	assert_string_equal(core_error_message(), "archive is corrupted: malformed summary");
	core_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_str_bin_ext),
		cmocka_unit_test(test_containers),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_hostile_headers),
		cmocka_unit_test(test_back_to_back),
		cmocka_unit_test(test_record_roundtrip),
		cmocka_unit_test(test_manifest_summary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
