/*
 * test_files.c — internal-storage files in the archive (files.h): how names
 * are classified, which paths an archive may carry, the file entries'
 * names, the reader's checks of heads and parts (order, sizes, hash, tenant,
 * kind), the manifest's and summary's files (format 2), and the orphan
 * check.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "buf.h"
#include "cairn/status.h"
#include "error.h"
#include "files.h"
#include "record.h"

static void classify(void **state)
{
	(void)state;
	assert_int_equal(core_file_classify("main/company/team/_kv/api_token.ion"), CORE_FK_KV);
	assert_int_equal(core_file_classify("company/team/_kv/api_token.ion.v2"), CORE_FK_KV);
	assert_int_equal(core_file_classify("main/company/_files/scripts/etl.py"), CORE_FK_NAMESPACE);
	assert_int_equal(core_file_classify("main/company/_files/_kv/x"), CORE_FK_NAMESPACE); /* first wins */
	assert_int_equal(core_file_classify("main/company/team/hello/executions/6Xb3/tasks/t/out.csv"),
			 CORE_FK_EXECUTION);
	assert_int_equal(core_file_classify("company/hello/executions/6Xb3/in.csv"), CORE_FK_EXECUTION);
	/* not enough around the marker, or another thing altogether */
	assert_int_equal(core_file_classify("_kv/x.ion"), -1);
	assert_int_equal(core_file_classify("ns/_kv/sub/x.ion"), -1);
	assert_int_equal(core_file_classify("ns/_files"), -1);
	assert_int_equal(core_file_classify("ns/executions/x/y"), -1);
	assert_int_equal(core_file_classify("ns/flow/executions/only"), -1);
	assert_int_equal(core_file_classify("main/company/team/hello/states/x"), -1);
	assert_int_equal(core_file_classify("backups/full/backup-20240917163312.kestra"), -1);
}

static void paths(void **state)
{
	(void)state;
	static const char *good[] = {"a", "company/team/_kv/x.ion", "ns/_files/readme façade.md",
				     "ns/_files/.gitignore", "a/..b/c.", "a b/c+d%20"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_null(core_file_path_refusal(good[i], strlen(good[i])));
	static const char *bad[] = {"", "/etc/passwd", "a/../b", "../a", "a/..", "./a", "a//b", "a/",
				    "a\\b", "a\x01" "b", "a\x7f", "a\xc3(", "a\xed\xa0\x80"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_non_null(core_file_path_refusal(bad[i], strlen(bad[i])));
	assert_non_null(core_file_path_refusal("a\0b", 3));
	char longer[CORE_FILE_PATH_MAX + 2];
	memset(longer, 'a', sizeof(longer));
	for (size_t i = 100; i < sizeof(longer); i += 100)
		longer[i] = '/';
	assert_null(core_file_path_refusal(longer, CORE_FILE_PATH_MAX));
	assert_non_null(core_file_path_refusal(longer, CORE_FILE_PATH_MAX + 1));
	char seg[300];
	memset(seg, 'b', sizeof(seg));
	assert_null(core_file_path_refusal(seg, CORE_FILE_SEGMENT_MAX));
	assert_non_null(core_file_path_refusal(seg, CORE_FILE_SEGMENT_MAX + 1));
}

static void entry_names(void **state)
{
	(void)state;
	char name[128], kind[80];
	unsigned num, part;
	core_file_entry_name(name, sizeof(name), "KV_STORE", 12, 0);
	assert_string_equal(name, "files/KV_STORE/00000012/head.msgpack");
	assert_int_equal(core_file_entry_parse(name, kind, sizeof(kind), &num, &part), 0);
	assert_string_equal(kind, "KV_STORE");
	assert_int_equal(num, 12);
	assert_int_equal(part, 0);
	core_file_entry_name(name, sizeof(name), "NAMESPACE_FILE", 3, 7);
	assert_string_equal(name, "files/NAMESPACE_FILE/00000003/000007.part");
	assert_int_equal(core_file_entry_parse(name, kind, sizeof(kind), &num, &part), 0);
	assert_int_equal(part, 7);
	static const char *bad[] = {"files/KV_STORE/00000000/head.msgpack", "files/KV_STORE/0000001/head.msgpack",
				    "files/KV_STORE/00000001/000000.part", "files/KV_STORE/00000001/1.part",
				    "files/KV_STORE/00000001/../../x", "files/KV_STORE/00000001/head",
				    "files/00000001/head.msgpack", "records/KV/000001.msgpack"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(core_file_entry_parse(bad[i], kind, sizeof(kind), &num, &part), -1);
}

/* ---- the reader */

struct seen {
	int begins, ends;
	size_t bytes;
	char path[256];
};

static int ev_begin(void *ud, int fk, const struct core_file_head *h)
{
	struct seen *s = ud;
	(void)fk;
	s->begins++;
	snprintf(s->path, sizeof(s->path), "%s", h->path);
	return CAIRN_OK;
}

static int ev_data(void *ud, const void *buf, size_t len)
{
	(void)buf;
	((struct seen *)ud)->bytes += len;
	return CAIRN_OK;
}

static int ev_end(void *ud)
{
	((struct seen *)ud)->ends++;
	return CAIRN_OK;
}

static char *kv_kinds[] = {"KV_STORE", "NAMESPACE_FILE"};

static void reader_init(struct core_file_in *in, const struct core_file_events *ev, const char *tenant,
			int scoped)
{
	core_file_in_init(in);
	in->kinds = kv_kinds;
	in->n_kinds = 2;
	in->fk[0] = CORE_FK_KV;
	in->fk[1] = CORE_FK_NAMESPACE;
	in->scoped = scoped;
	in->scope_tenant = tenant;
	in->ev = ev;
}

static void head(struct core_buf *b, const char *tenant, const char *path, const char *content,
		 size_t size)
{
	struct core_file_head h = {.tenant = tenant, .path = path, .size = size};
	crypto_generichash(h.hash, sizeof(h.hash), (const unsigned char *)content, strlen(content), NULL, 0);
	core_buf_reset(b);
	assert_int_equal(core_file_head_pack(&h, b), CAIRN_OK);
}

static int entry(struct core_file_in *in, const char *kind, unsigned num, unsigned part, const void *data,
		 size_t len)
{
	char name[128];
	core_file_entry_name(name, sizeof(name), kind, num, part);
	return core_file_in_entry(in, name, data, len);
}

static void reader_good(void **state)
{
	(void)state;
	struct seen s = {0};
	struct core_file_events ev = {ev_begin, ev_data, ev_end, &s};
	struct core_file_in in;
	struct core_buf b = CORE_BUF_INIT;
	reader_init(&in, &ev, "main", 1);
	head(&b, "main", "company/team/_kv/a.ion", "hello world", 11);
	assert_int_equal(entry(&in, "KV_STORE", 1, 0, b.data, b.len), 1);
	assert_int_equal(entry(&in, "KV_STORE", 1, 1, "hello ", 6), 1);
	assert_int_equal(s.ends, 0); /* not before the whole content is in */
	assert_int_equal(entry(&in, "KV_STORE", 1, 2, "world", 5), 1);
	assert_int_equal(s.ends, 1);
	head(&b, "main", "company/team/_kv/b.ion", "", 0); /* empty: no part */
	assert_int_equal(entry(&in, "KV_STORE", 2, 0, b.data, b.len), 1);
	assert_int_equal(s.ends, 2);
	head(&b, "main", "company/team/_files/x", "x", 1); /* the next kind starts at 1 */
	assert_int_equal(entry(&in, "NAMESPACE_FILE", 1, 0, b.data, b.len), 1);
	assert_int_equal(entry(&in, "NAMESPACE_FILE", 1, 1, "x", 1), 1);
	assert_int_equal(core_file_in_finish(&in), CAIRN_OK);
	assert_int_equal(in.files[0], 2);
	assert_int_equal(in.bytes[0], 11);
	assert_int_equal(in.files[1], 1);
	assert_int_equal(s.begins, 3);
	assert_int_equal(s.bytes, 12);
	assert_int_equal(core_file_in_entry(&in, "records/FLOW/000001.msgpack", "", 0), 0);
	core_file_in_free(&in);
	core_buf_free(&b);
}

/* One refusal: the entry after a good head (or the head itself) fails with a message fragment. */
static void expect_refused(struct core_file_in *in, int rc, const char *fragment)
{
	assert_int_equal(rc, CAIRN_E_CORRUPT);
	if (!strstr(core_error_message(), fragment))
		fail_msg("'%s' lacks '%s'", core_error_message(), fragment);
	core_file_in_free(in);
}

static void reader_hostile(void **state)
{
	(void)state;
	struct seen s = {0};
	struct core_file_events ev = {ev_begin, ev_data, ev_end, &s};
	struct core_file_in in;
	struct core_buf b = CORE_BUF_INIT;

	/* a hash that does not match: the end hook never runs */
	reader_init(&in, &ev, "main", 1);
	head(&b, "main", "ns/_kv/a.ion", "hello", 5);
	assert_int_equal(entry(&in, "KV_STORE", 1, 0, b.data, b.len), 1);
	expect_refused(&in, entry(&in, "KV_STORE", 1, 1, "jello", 5), "does not match its hash");
	assert_int_equal(s.ends, 0);

	/* parts out of order, too long, missing */
	reader_init(&in, &ev, "main", 1);
	head(&b, "main", "ns/_kv/a.ion", "hello", 5);
	assert_int_equal(entry(&in, "KV_STORE", 1, 0, b.data, b.len), 1);
	expect_refused(&in, entry(&in, "KV_STORE", 1, 2, "hello", 5), "part out of order");
	reader_init(&in, &ev, "main", 1);
	assert_int_equal(entry(&in, "KV_STORE", 1, 0, b.data, b.len), 1);
	expect_refused(&in, entry(&in, "KV_STORE", 1, 1, "hello!", 6), "part of the wrong size");
	reader_init(&in, &ev, "main", 1);
	assert_int_equal(entry(&in, "KV_STORE", 1, 0, b.data, b.len), 1);
	assert_int_equal(entry(&in, "KV_STORE", 1, 1, "hel", 3), 1);
	expect_refused(&in, core_file_in_finish(&in), "ends after 3 of its 5 bytes");
	reader_init(&in, &ev, "main", 1);
	assert_int_equal(entry(&in, "KV_STORE", 1, 0, b.data, b.len), 1);
	head(&b, "main", "ns/_kv/b.ion", "x", 1);
	expect_refused(&in, entry(&in, "KV_STORE", 2, 0, b.data, b.len), "file ends early");
	/* a part without a head, files out of order, an unknown kind */
	reader_init(&in, &ev, "main", 1);
	expect_refused(&in, entry(&in, "KV_STORE", 1, 1, "x", 1), "part out of order");
	reader_init(&in, &ev, "main", 1);
	head(&b, "main", "ns/_kv/a.ion", "", 0);
	expect_refused(&in, entry(&in, "KV_STORE", 2, 0, b.data, b.len), "file out of order");
	reader_init(&in, &ev, "main", 1);
	expect_refused(&in, entry(&in, "EXECUTION_FILE", 1, 0, b.data, b.len), "unexpected entry");
	reader_init(&in, &ev, "main", 1);
	expect_refused(&in, core_file_in_entry(&in, "files/KV_STORE/x", "", 0), "unexpected entry");
	/* the same path twice, and paths going backwards */
	reader_init(&in, &ev, "main", 1);
	assert_int_equal(entry(&in, "KV_STORE", 1, 0, b.data, b.len), 1);
	expect_refused(&in, entry(&in, "KV_STORE", 2, 0, b.data, b.len), "not after the previous file");

	/* hostile paths and tenants */
	static const struct {
		const char *tenant, *path, *fragment;
		int scoped;
		const char *scope;
	} bad[] = {
		{"main", "../acme/ns/_kv/a.ion", "'.' or '..' segment", 1, "main"},
		{"main", "/etc/ns/_kv/a.ion", "it is absolute", 1, "main"},
		{"main", "ns\\..\\x/_kv/a.ion", "backslash", 1, "main"},
		{"main", "ns/_kv/a\x01.ion", "control character", 1, "main"},
		{"acme", "ns/_kv/a.ion", "belongs to tenant 'acme', not to this backup's tenant 'main'", 1, "main"},
		{NULL, "ns/_kv/a.ion", "belongs to no tenant", 1, "main"},
		{"main", "ns/_kv/a.ion", "a FULL backup names no tenant", 0, NULL},
		{"main", "ns/_kv/a.ion", "files without a tenant", 1, NULL},
		{"main", "ns/flow/states/x", "is no KV_STORE path", 1, "main"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s.begins = 0;
		reader_init(&in, &ev, bad[i].scope, bad[i].scoped);
		head(&b, bad[i].tenant, bad[i].path, "", 0);
		expect_refused(&in, entry(&in, "KV_STORE", 1, 0, b.data, b.len), bad[i].fragment);
		assert_int_equal(s.begins, 0); /* nothing handed on */
	}
	/* an over-long path, and a NUL inside one */
	char longer[CORE_FILE_PATH_MAX + 20];
	memset(longer, 'a', sizeof(longer));
	memcpy(longer + sizeof(longer) - 13, "/_kv/a.ion", 11);
	reader_init(&in, &ev, "main", 1);
	head(&b, "main", longer, "", 0);
	expect_refused(&in, entry(&in, "KV_STORE", 1, 0, b.data, b.len), "longer than 1024 bytes");
	reader_init(&in, &ev, "main", 1);
	head(&b, "main", "ns/_kv/a.ionXbad", "", 0);
	char *x = memchr(b.data, 'X', b.len);
	*x = '\0';
	expect_refused(&in, entry(&in, "KV_STORE", 1, 0, b.data, b.len), "holds a NUL byte");
	/* not a head at all */
	reader_init(&in, &ev, "main", 1);
	expect_refused(&in, entry(&in, "KV_STORE", 1, 0, "\x80", 1), "malformed head");
	core_buf_free(&b);
}

static void manifest_files(void **state)
{
	(void)state;
	char *kinds[] = {"FLOW", "KV"};
	char *files[] = {"KV_STORE", "NAMESPACE_FILE"};
	struct core_manifest m = {.format = CORE_FORMAT_FILES, .type = "FULL", .kinds = kinds, .n_kinds = 2,
				  .files = files, .n_files = 2};
	struct core_buf b = CORE_BUF_INIT;
	core_manifest_pack(&m, &b);
	struct core_manifest r;
	assert_int_equal(core_manifest_unpack(b.data, b.len, &r), CAIRN_OK);
	assert_int_equal(r.format, 2);
	assert_int_equal(r.n_files, 2);
	assert_string_equal(r.files[1], "NAMESPACE_FILE");
	core_manifest_free(&r);
	/* files need format 2; a kind twice, out of order or unknown is corrupt */
	m.format = CORE_FORMAT_RECORDS;
	core_buf_reset(&b);
	core_manifest_pack(&m, &b);
	assert_int_equal(core_manifest_unpack(b.data, b.len, &r), CAIRN_E_CORRUPT);
	m.format = CORE_FORMAT_FILES;
	char *wrong[][2] = {{"NAMESPACE_FILE", "KV_STORE"}, {"KV_STORE", "KV_STORE"}, {"KV_STORE", "KV"}};
	for (size_t i = 0; i < 3; i++) {
		m.files = wrong[i];
		core_buf_reset(&b);
		core_manifest_pack(&m, &b);
		assert_int_equal(core_manifest_unpack(b.data, b.len, &r), CAIRN_E_CORRUPT);
	}
	/* the summary's files */
	uint64_t counts[] = {4, 3}, nfiles[] = {2, 1}, bytes[] = {10, 0}, rf[2], rb[2];
	core_buf_reset(&b);
	core_summary_pack_files(kinds, counts, 2, files, nfiles, bytes, 2, &b);
	uint64_t rc[2];
	assert_int_equal(core_summary_unpack(b.data, b.len, kinds, 2, rc), CAIRN_OK);
	assert_int_equal(rc[0], 4);
	assert_int_equal(core_summary_unpack_files(b.data, b.len, files, 2, rf, rb), CAIRN_OK);
	assert_int_equal(rf[0], 2);
	assert_int_equal(rb[0], 10);
	assert_int_equal(rf[1], 1);
	/* a format-1 summary lacks them: corrupt when the manifest has files */
	core_buf_reset(&b);
	core_summary_pack(kinds, counts, 2, &b);
	assert_int_equal(core_summary_unpack_files(b.data, b.len, files, 2, rf, rb), CAIRN_E_CORRUPT);
	assert_int_equal(core_summary_unpack_files(b.data, b.len, files, 1, rf, rb), CAIRN_E_CORRUPT);
	assert_int_equal(core_summary_unpack_files(b.data, b.len, files, 0, rf, rb), CAIRN_OK);
	core_buf_free(&b);
}

static struct cairn_record *row(const char *key, const char *tenant, const char *value)
{
	static struct cairn_column col;
	static struct cairn_record rec;
	col = (struct cairn_column){.name = "value", .type = CAIRN_COL_JSON, .data = value, .len = strlen(value)};
	rec = (struct cairn_record){.struct_size = sizeof(rec), .key = key, .tenant = tenant, .n_columns = 1,
				    .columns = &col};
	return &rec;
}

static void orphans(void **state)
{
	(void)state;
	assert_null(core_orphans_new(1, 0, 0, 1)); /* no pair whole: nothing to compare */
	struct core_orphans *o = core_orphans_new(1, 1, 1, 1);
	assert_non_null(o);
	assert_int_equal(core_orphans_note_record(o, "KV", row("main_ns.a_k_1", "main",
		"{\"namespace\":\"ns.a\",\"name\":\"k\",\"version\":1}")), CAIRN_OK);
	assert_int_equal(core_orphans_note_record(o, "KV", row("main_ns.a_k_2", "main",
		"{\"namespace\":\"ns.a\",\"name\":\"k\",\"version\":2}")), CAIRN_OK);
	assert_int_equal(core_orphans_note_record(o, "KV", row("ns.a_gone_1", NULL,
		"{\"namespace\":\"ns.a\",\"name\":\"gone\",\"version\":1}")), CAIRN_OK);
	assert_int_equal(core_orphans_note_record(o, "KV", row("main_ns.a_del_1", "main",
		"{\"namespace\":\"ns.a\",\"name\":\"del\",\"deleted\":true}")), CAIRN_OK);
	assert_int_equal(core_orphans_note_record(o, "NAMESPACE_FILE", row("main_ns_/d/_1", "main",
		"{\"namespace\":\"ns\",\"path\":\"/d/\",\"version\":1}")), CAIRN_OK);
	assert_int_equal(core_orphans_note_record(o, "NAMESPACE_FILE", row("main_ns_/d/f_3", "main",
		"{\"namespace\":\"ns\",\"path\":\"/d/f\",\"version\":3}")), CAIRN_OK);
	assert_int_equal(core_orphans_note_record(o, "FLOW", row("x", "main", "{}")), CAIRN_OK);
	assert_int_equal(core_orphans_note_file(o, CORE_FK_KV, "main/ns/a/_kv/k.ion"), CAIRN_OK);
	assert_int_equal(core_orphans_note_file(o, CORE_FK_KV, "main/ns/a/_kv/k.ion.v2"), CAIRN_OK);
	assert_int_equal(core_orphans_note_file(o, CORE_FK_KV, "main/ns/a/_kv/stray.ion"), CAIRN_OK);
	assert_int_equal(core_orphans_note_file(o, CORE_FK_NAMESPACE, "main/ns/_files/d/f.v3"), CAIRN_OK);
	assert_int_equal(core_orphans_note_file(o, CORE_FK_EXECUTION, "main/ns/f/executions/e/x"), CAIRN_OK);
	json_t *j = core_orphans_report(o, 1);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "kv_rows_without_file_count")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j,
		"kv_rows_without_file"), 0), "file")), "ns/a/_kv/gone.ion");
	assert_int_equal(json_integer_value(json_object_get(j, "kv_files_without_row_count")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "kv_files_without_row"), 0)),
			    "main/ns/a/_kv/stray.ion");
	assert_int_equal(json_integer_value(json_object_get(j, "namespace_rows_without_file_count")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "namespace_files_without_row_count")), 0);
	json_decref(j);
	core_orphans_free(o);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(classify),
		cmocka_unit_test(paths),
		cmocka_unit_test(entry_names),
		cmocka_unit_test(reader_good),
		cmocka_unit_test(reader_hostile),
		cmocka_unit_test(manifest_files),
		cmocka_unit_test(orphans),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
