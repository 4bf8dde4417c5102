/*
 * test_format.c — the whole archive format, in memory: envelope + tar/zstd
 * container + msgpack manifest, record chunks and summary, written with the
 * writer APIs and read back with the reader APIs a restore uses.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "buf.h"
#include "cairn/status.h"
#include "container.h"
#include "envelope.h"
#include "error.h"
#include "record.h"
#include "retenant.h"

struct mem {
	struct core_buf b;
	size_t pos;
};

static int mem_sink(void *ud, const void *buf, size_t len)
{
	return core_buf_append(&((struct mem *)ud)->b, buf, len);
}

static int mem_source(void *ud, void *buf, size_t cap, size_t *got)
{
	struct mem *m = ud;
	size_t n = m->b.len - m->pos < cap ? m->b.len - m->pos : cap;
	memcpy(buf, m->b.data + m->pos, n);
	m->pos += n;
	*got = n;
	return CAIRN_OK;
}

static unsigned char key[32];

static struct cairn_column cols_flow[] = {
	{"key", CAIRN_COL_TEXT, "acme_company.team_hello_3", 25},
	{"value", CAIRN_COL_JSON,
	 "{\"id\":\"hello\",\"namespace\":\"company.team\",\"revision\":3,\"tenantId\":\"acme\","
	 "\"n\":[1.10,-0,1e400,18446744073709551615,0.5],\"s\":\"\u00e9\U0001F600 a\\u0000b\"}",
	 0},
	{"source_code", CAIRN_COL_TEXT, "id: hello\nnamespace: company.team\n", 34},
	{"revision", CAIRN_COL_INT, "-42", 3},
	{"disabled", CAIRN_COL_BOOL, "false", 5},
	{"updated", CAIRN_COL_TIMESTAMP, "2024-09-17T16:33:12.700099+00:00", 32},
	{"blob", CAIRN_COL_BYTES, "a\0b", 3},
	{"nothing", CAIRN_COL_NULL, NULL, 0},
};

/* Write manifest, `chunks` chunks of `per` records each, summary. */
static void write_archive(struct mem *out, int chunks, int per, const struct core_keyring *kr)
{
	struct core_env_writer *ew;
	struct core_archive_writer *aw;
	assert_int_equal(core_env_writer_new(kr, mem_sink, out, &ew), CAIRN_OK);
	assert_int_equal(core_archive_writer_new(ew, 0, &aw), CAIRN_OK);
	char *kinds[] = {"FLOW", "TRIGGER"};
	struct core_manifest m = {.format = CORE_FORMAT_VERSION, .tool_version = "test", .type = "TENANT",
				  .tenant = "acme", .created_at = "2024-09-17T16:33:12.700099909Z",
				  .source_plugin = "postgresql", .source_backend = "postgresql 15",
				  .schema_version = "1.57", .kinds = kinds, .n_kinds = 2};
	struct core_buf b = CORE_BUF_INIT;
	core_manifest_pack(&m, &b);
	assert_int_equal(core_archive_put(aw, "manifest.msgpack", b.data, b.len), CAIRN_OK);
	cols_flow[1].len = strlen(cols_flow[1].data);
	for (int c = 0; c < chunks; c++) {
		core_buf_reset(&b);
		msgpack_packer pk;
		core_packer_init(&pk, &b);
		for (int i = 0; i < per; i++) {
			struct cairn_record rec = {.struct_size = sizeof(rec), .key = "acme_company.team_hello_3",
						   .tenant = "acme", .n_columns = 8, .columns = cols_flow};
			assert_int_equal(core_record_pack(&pk, &rec), CAIRN_OK);
		}
		char name[64];
		snprintf(name, sizeof(name), "records/FLOW/%06d.msgpack", c + 1);
		assert_int_equal(core_archive_put(aw, name, b.data, b.len), CAIRN_OK);
	}
	uint64_t counts[2] = {(uint64_t)chunks * (uint64_t)per, 0};
	core_buf_reset(&b);
	core_summary_pack(kinds, counts, 2, &b);
	assert_int_equal(core_archive_put(aw, "summary.msgpack", b.data, b.len), CAIRN_OK);
	assert_int_equal(core_archive_writer_finish(aw), CAIRN_OK);
	core_archive_writer_free(aw);
	core_env_writer_free(ew);
	core_buf_free(&b);
}

/* Read back; returns the number of records; checks every column. */
static uint64_t read_archive(struct mem *in, const struct core_keyring *kr, const char *to_tenant)
{
	struct core_env_reader *er;
	struct core_archive_reader *ar;
	in->pos = 0;
	assert_int_equal(core_env_reader_new(kr, mem_source, in, &er), CAIRN_OK);
	assert_int_equal(core_archive_reader_new(er, &ar), CAIRN_OK);
	const char *name;
	const void *data;
	size_t len;
	assert_int_equal(core_archive_next(ar, &name, &data, &len), 1);
	assert_string_equal(name, "manifest.msgpack");
	struct core_manifest m;
	assert_int_equal(core_manifest_unpack(data, len, &m), CAIRN_OK);
	assert_string_equal(m.type, "TENANT");
	assert_string_equal(m.tenant, "acme");
	assert_string_equal(m.schema_version, "1.57");
	assert_int_equal(m.n_kinds, 2);
	assert_string_equal(m.kinds[1], "TRIGGER");
	uint64_t n = 0;
	int r;
	while ((r = core_archive_next(ar, &name, &data, &len)) == 1) {
		if (strcmp(name, "summary.msgpack") == 0) {
			uint64_t counts[2];
			assert_int_equal(core_summary_unpack(data, len, m.kinds, 2, counts), CAIRN_OK);
			assert_int_equal(counts[0], n);
			assert_int_equal(counts[1], 0);
			continue;
		}
		struct core_chunk_iter it;
		struct core_retenant rt;
		core_chunk_iter_init(&it, data, len);
		it.scoped = 1; /* as restore and verify read a TENANT backup */
		it.scope_tenant = "acme";
		core_retenant_init(&rt, "acme", to_tenant);
		const struct cairn_record *rec;
		while ((r = core_chunk_next(&it, &rec)) == 1) {
			if (to_tenant)
				assert_int_equal(core_retenant_apply(&rt, rec, &rec), CAIRN_OK);
			n++;
			assert_int_equal(rec->n_columns, 8);
			const char *t = to_tenant ? to_tenant : "acme";
			assert_string_equal(rec->tenant, t);
			char want_key[64];
			snprintf(want_key, sizeof(want_key), "%s_company.team_hello_3", t);
			assert_string_equal(rec->key, want_key);
			assert_memory_equal(rec->columns[0].data, want_key, strlen(want_key));
			for (size_t i = 1; i < 8; i++) {
				assert_string_equal(rec->columns[i].name, cols_flow[i].name);
				assert_int_equal(rec->columns[i].type, cols_flow[i].type);
				if (i == 1 && to_tenant)
					continue;
				assert_int_equal(rec->columns[i].len, cols_flow[i].len);
				if (cols_flow[i].len)
					assert_memory_equal(rec->columns[i].data, cols_flow[i].data, cols_flow[i].len);
			}
			if (to_tenant)
				assert_non_null(strstr(rec->columns[1].data, "\"tenantId\":\"gamma\""));
		}
		assert_int_equal(r, 0);
		core_chunk_iter_free(&it);
		core_retenant_free(&rt);
	}
	assert_int_equal(r, 0);
	core_manifest_free(&m);
	core_archive_reader_free(ar);
	core_env_reader_free(er);
	return n;
}

static void round_trip_instance_key(void **state)
{
	(void)state;
	struct core_keyring kr = {.instance_key = key, .instance_key_len = sizeof(key)};
	struct mem m = {CORE_BUF_INIT, 0};
	write_archive(&m, 3, 50, &kr);
	assert_int_equal(read_archive(&m, &kr, NULL), 150);
	core_buf_free(&m.b);
}

static void round_trip_plain(void **state)
{
	(void)state;
	struct core_keyring w = {.no_encryption = 1}, r = {0};
	struct mem m = {CORE_BUF_INIT, 0};
	write_archive(&m, 1, 1, &w);
	assert_int_equal(read_archive(&m, &r, NULL), 1);
	core_buf_free(&m.b);
}

static void round_trip_many_chunks_bounded(void **state)
{
	(void)state;
	/* 40 chunks × 1000 records: several MiB through 64 KiB messages */
	struct core_keyring kr = {.instance_key = key, .instance_key_len = sizeof(key)};
	struct mem m = {CORE_BUF_INIT, 0};
	write_archive(&m, 40, 1000, &kr);
	assert_int_equal(read_archive(&m, &kr, NULL), 40000);
	core_buf_free(&m.b);
}

static void to_tenant_rewrite(void **state)
{
	(void)state;
	struct core_keyring kr = {.instance_key = key, .instance_key_len = sizeof(key)};
	struct mem m = {CORE_BUF_INIT, 0};
	write_archive(&m, 1, 3, &kr);
	assert_int_equal(read_archive(&m, &kr, "gamma"), 3);
	core_buf_free(&m.b);
}

static void truncated_anywhere_is_corrupt(void **state)
{
	(void)state;
	struct core_keyring kr = {.no_encryption = 1}, r = {0};
	struct mem m = {CORE_BUF_INIT, 0};
	write_archive(&m, 2, 20, &kr);
	size_t full = m.b.len;
	for (size_t cut = 0; cut < full; cut += 1 + cut / 16) {
		struct mem t = {CORE_BUF_INIT, 0};
		core_buf_append(&t.b, m.b.data, cut);
		struct core_env_reader *er = NULL;
		struct core_archive_reader *ar = NULL;
		int rc = core_env_reader_new(&r, mem_source, &t, &er);
		if (rc == CAIRN_OK)
			rc = core_archive_reader_new(er, &ar);
		const char *name;
		const void *data;
		size_t len;
		while (rc == CAIRN_OK) {
			int n = core_archive_next(ar, &name, &data, &len);
			if (n == 0)
				fail_msg("truncation at %zu of %zu read as a complete archive", cut, full);
			if (n < 0)
				rc = n;
		}
		assert_int_equal(rc, CAIRN_E_CORRUPT);
		core_archive_reader_free(ar);
		core_env_reader_free(er);
		core_buf_free(&t.b);
	}
	core_buf_free(&m.b);
}

static void bad_manifests(void **state)
{
	(void)state;
	struct core_manifest m;
	assert_int_equal(core_manifest_unpack("\x90", 1, &m), CAIRN_E_CORRUPT);      /* [] */
	assert_int_equal(core_manifest_unpack("\x80", 1, &m), CAIRN_E_CORRUPT);      /* {} */
	/* this reader knows formats 1 and 2 (files): 3 is newer */
	assert_int_equal(core_manifest_unpack("\x81\xa6" "format\x03", 9, &m), CAIRN_E_UNSUPPORTED);
	assert_int_equal(core_manifest_unpack("\x81\xa6" "format\x02", 9, &m), CAIRN_E_CORRUPT);
	assert_int_equal(core_manifest_unpack("\xc1", 1, &m), CAIRN_E_CORRUPT);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(key, sizeof(key));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip_instance_key),
		cmocka_unit_test(round_trip_plain),
		cmocka_unit_test(round_trip_many_chunks_bounded),
		cmocka_unit_test(to_tenant_rewrite),
		cmocka_unit_test(truncated_anywhere_is_corrupt),
		cmocka_unit_test(bad_manifests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
