/*
 * test_loader.c — the plugin loader against broken plugins (one per
 * refusal), good ones, and a plugin built against the frozen ABI 1.0
 * headers (tests/abi/sdk-1.0). Paths come from CMake (CMakeLists.txt).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "plugin_host.h"
#include "plugin_loader.h"
#include "plugin_note.h"

static int stub_housekeep_for_test(void *inst, const char *prefix)
{
	(void)inst, (void)prefix;
	return 0;
}

static int stub_batch_for_test(void *inst, const struct cairn_kind_desc *kind,
			       const struct cairn_record *const *recs, size_t n, int *outcomes)
{
	(void)inst, (void)kind, (void)recs, (void)n, (void)outcomes;
	return 0;
}

static int stub_delete_scoped_for_test(void *inst, const struct cairn_kind_desc *kind,
				       const struct cairn_scope *scope)
{
	(void)inst, (void)kind, (void)scope;
	return 0;
}

struct bad_case {
	const char *file;    /* in ABI_BAD_DIR */
	const char *reason;  /* must appear in the refusal */
	const char *reason2; /* and this too, when set */
};

static const struct bad_case bad_cases[] = {
	{"cairn-storage-noentry.so", "no cairn_plugin_entry_v1 symbol", "not a Cairn plugin"},
	{"cairn-storage-entryv2.so", "built for plugin ABI 2;", "this cairn supports ABI 1"},
	{"cairn-storage-major.so", "built for plugin ABI 2.0", "this cairn supports ABI 1"},
	{"cairn-storage-minor.so", "needs plugin ABI 1.5, newer than this cairn's 1.4",
	 "upgrade cairn"},
	{"cairn-storage-underdeclared.so", "declares plugin ABI 1.0 but sets 'housekeep' (since 1.2)",
	 "declare .abi_minor = 2 in CAIRN_PLUGIN_DEFINE"},
	{"cairn-source-undersrc.so", "declares plugin ABI 1.1 but sets 'list_tenants' (since 1.2)",
	 ".abi_minor = 2"},
	{"cairn-storage-infosmall.so", "plugin info struct too small", "(8 bytes"},
	{"cairn-storage-vtsmall.so", "storage vtable too small", NULL},
	{"cairn-storage-nolist.so", "missing required method 'list'", NULL},
	{"cairn-source-nocursor.so", "missing required method 'cursor_next'", NULL},
	{"cairn-storage-kind.so", "unknown plugin kind 99", NULL},
	{"cairn-storage-noname.so", "missing required member 'name'", NULL},
	{"cairn-storage-noschemes.so", "missing required member 'schemes'", NULL},
	{"cairn-storage-emptyschemes.so", "missing required member 'schemes'", NULL},
	{"cairn-storage-nullentry.so", "entry point returned no plugin info", NULL},
	{"cairn-storage-garbage.so", "dlopen failed", NULL},
	{"cairn-storage-unresolved.so", "dlopen failed", "cairn_abi_test_no_such_function"},
};
#define N_BAD (sizeof(bad_cases) / sizeof(bad_cases[0]))

static void test_bad_plugin(void **state)
{
	const struct bad_case *c = *state;
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", ABI_BAD_DIR, c->file);

	core_error_clear();
	struct core_plugin p;
	assert_int_equal(core_plugin_load(path, &p), CAIRN_E_PLUGIN);
	assert_null(p.info);
	assert_null(p.dl);
	assert_non_null(p.refusal);
	if (!strstr(p.refusal, c->reason) || (c->reason2 && !strstr(p.refusal, c->reason2)))
		fail_msg("%s: refusal '%s' lacks '%s'%s%s", c->file, p.refusal, c->reason,
			 c->reason2 ? " / " : "", c->reason2 ? c->reason2 : "");
	assert_null(strchr(p.refusal, '\n'));

	/* the error slot: one line naming the file and carrying the reason */
	const char *msg = core_error_message();
	assert_int_equal(core_error_status(), CAIRN_E_PLUGIN);
	assert_null(strchr(msg, '\n'));
	char want[1200];
	snprintf(want, sizeof(want), "plugin '%s' refused: ", path);
	assert_true(strncmp(msg, want, strlen(want)) == 0);
	assert_non_null(strstr(msg, c->reason));

	free(p.path);
	free(p.refusal);
	core_error_clear();
}

static void load_ok(const char *path, struct core_plugin *p)
{
	core_error_clear();
	int rc = core_plugin_load(path, p);
	if (rc != CAIRN_OK)
		fail_msg("'%s' refused: %s", path, p->refusal ? p->refusal : "?");
	assert_non_null(p->info);
	assert_non_null(p->dl);
	assert_null(p->refusal);
	assert_int_equal(p->shadowed, 0);
	assert_string_equal(core_error_message(), "");
}

static void test_good_storage(void **state)
{
	(void)state;
	struct core_plugin p;
	load_ok(ABI_GOOD_STORAGE, &p);
	assert_string_equal(p.info->name, "abigood");
	assert_int_equal(p.info->kind, CAIRN_PLUGIN_KIND_STORAGE);
	assert_int_equal(p.info->abi_major, CAIRN_ABI_MAJOR);
	/* built with today's headers, sets only 1.0 members: needs 1.0 */
	assert_int_equal(p.info->abi_minor, 0);
	assert_int_equal(core_storage_vt(&p)->struct_size, sizeof(struct cairn_storage_vtable));
	free(p.path);
}

/* A plugin that needs the core's own minor loads, with what it declared. */
static void test_needs_current_minor(void **state)
{
	(void)state;
	struct core_plugin p;
	load_ok(ABI_NEEDS12, &p);
	assert_int_equal(p.info->abi_minor, 2);
	assert_true(CAIRN_VT_HAS(core_storage_vt(&p), housekeep));
	free(p.path);
}

/* The note's abi= must be the info's: loaded directly, probed, or chosen. */
static void test_note_abi_mismatch(void **state)
{
	(void)state;
	struct core_plugin p;
	core_error_clear();
	assert_int_equal(core_plugin_load(ABI_NOTEABI, &p), CAIRN_E_PLUGIN);
	assert_non_null(p.refusal);
	assert_non_null(strstr(p.refusal, "its plugin note does not match its info: "
					  "note says ABI 1.0, info 1.2"));
	free(p.path);
	free(p.refusal);
	core_error_clear();

	struct core_plugins ps = {0};
	const char *dirs[] = {ABI_MINOR_DIR};
	assert_int_equal(core_plugins_scan(&ps, dirs, 1), CAIRN_OK);
	const struct core_plugin *found = core_plugins_find(&ps, CAIRN_PLUGIN_KIND_STORAGE, "noteabi");
	assert_null(found);
	found = core_plugins_find(&ps, CAIRN_PLUGIN_KIND_STORAGE, "needs12");
	assert_non_null(found);
	assert_int_equal(found->info->abi_minor, 2);
	int refused = 0;
	for (size_t i = 0; i < ps.n; i++)
		if (strstr(ps.v[i].path, "noteabi"))
			refused = ps.v[i].refusal && strstr(ps.v[i].refusal, "note says ABI 1.0, info 1.2");
	assert_true(refused);
	core_plugins_free(&ps);

	/* probed in a child: the same refusal */
	assert_int_equal(core_plugins_scan(&ps, dirs, 1), CAIRN_OK);
	core_plugins_probe_all(&ps);
	refused = 0;
	for (size_t i = 0; i < ps.n; i++) {
		if (strstr(ps.v[i].path, "noteabi"))
			refused = ps.v[i].refusal && strstr(ps.v[i].refusal, "note says ABI 1.0, info 1.2");
		else
			assert_true(ps.v[i].known && ps.v[i].meta.abi_minor == 2);
	}
	assert_true(refused);
	core_plugins_free(&ps);
}

/*
 * The minor a vtable needs counts only members inside its struct_size: a
 * table that ends where 1.0's did needs 1.0 whatever lies beyond it.
 */
static void test_vt_minor(void **state)
{
	(void)state;
	const char *m = "unset";
	struct cairn_storage_vtable st = {.struct_size = sizeof(st)};
	assert_int_equal(cairn_storage_vt_minor(&st, &m), 0);
	assert_null(m);
	st.housekeep = stub_housekeep_for_test;
	assert_int_equal(cairn_storage_vt_minor(&st, &m), 2);
	assert_string_equal(m, "housekeep");
	st.struct_size = (uint32_t)offsetof(struct cairn_storage_vtable, housekeep);
	assert_int_equal(cairn_storage_vt_minor(&st, NULL), 0);

	struct cairn_source_vtable so = {.struct_size = sizeof(so)};
	assert_int_equal(cairn_source_vt_minor(&so, &m), 0);
	so.restore_write_batch = stub_batch_for_test;
	assert_int_equal(cairn_source_vt_minor(&so, &m), 1);
	assert_string_equal(m, "restore_write_batch");
	so.restore_delete_scoped = stub_delete_scoped_for_test;
	assert_int_equal(cairn_source_vt_minor(&so, &m), 2);
	assert_string_equal(m, "restore_delete_scoped");
	so.struct_size = (uint32_t)offsetof(struct cairn_source_vtable, cursor_open_scoped);
	assert_int_equal(cairn_source_vt_minor(&so, &m), 1);
}

/*
 * The in-tree plugins declare what they set, in info and note alike. 1.3
 * added struct members (time windows), not vtable members: a source that
 * reads them declares 1.3 over a vtable of 1.2, so the vtable only bounds
 * the declaration from below; the table says exactly.
 */
static void test_real_plugins_declare_what_they_set(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		unsigned minor;
	} want[] = {{"fs", 2}, {"postgresql", 3}, {"mysql", 3}, {"s3", 0}, {"minio", 0}};
	char list[] = ABI_REAL_PLUGINS;
	int n = 0;
	for (char *path = strtok(list, ":"); path; path = strtok(NULL, ":")) {
		struct core_plugin p;
		load_ok(path, &p);
		const char *newest = NULL;
		unsigned needs = p.info->kind == CAIRN_PLUGIN_KIND_SOURCE
					 ? cairn_source_vt_minor(core_source_vt(&p), &newest)
					 : cairn_storage_vt_minor(core_storage_vt(&p), &newest);
		if (needs > p.info->abi_minor)
			fail_msg("%s declares 1.%u but needs 1.%u", path, p.info->abi_minor, needs);
		int listed = 0;
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			if (strcmp(want[i].name, p.info->name) == 0) {
				assert_int_equal(p.info->abi_minor, want[i].minor);
				listed = 1;
			}
		assert_true(listed);
		struct core_plugin_meta note;
		char why[256];
		assert_int_equal(core_plugin_note_read(path, &note, why, sizeof(why)), 1);
		assert_int_equal(note.abi_major, p.info->abi_major);
		assert_int_equal(note.abi_minor, p.info->abi_minor);
		core_plugin_meta_free(&note);
		free(p.path);
		n++;
	}
	print_message("%d in-tree plugins checked\n", n);
}

static void test_good_source(void **state)
{
	(void)state;
	struct core_plugin p;
	load_ok(ABI_GOOD_SOURCE, &p);
	assert_string_equal(p.info->name, "abisrc");
	assert_int_equal(p.info->kind, CAIRN_PLUGIN_KIND_SOURCE);
	assert_string_equal(p.info->schemes[1], "abisource");
	free(p.path);
}

struct seen {
	int n;
	char name[64];
	uint64_t size;
};

static int count_object(void *ud, const struct cairn_object_info *o)
{
	struct seen *s = ud;
	s->n++;
	snprintf(s->name, sizeof(s->name), "%s", o->name);
	s->size = o->size;
	return 0;
}

/* ABI 1.1 appended restore_write_batch: a 1.0 source must not appear to have it. */
static void test_abi10_source_lacks_1_1_member(void **state)
{
	(void)state;
	struct core_plugin p;
	load_ok(ABI10_SOURCE, &p);
	assert_int_equal(p.info->abi_minor, 0);
	const struct cairn_source_vtable *vt = core_source_vt(&p);
	assert_true(vt->struct_size < sizeof(struct cairn_source_vtable));
	assert_true(CAIRN_VT_HAS(vt, restore_write) && CAIRN_VT_HAS(vt, restore_rollback));
	assert_false(CAIRN_VT_HAS(vt, restore_write_batch));
	free(p.path);
	free(p.refusal);
}

/* DESIGN.md §8: a plugin built against the 1.0 headers loads and works. */
static void test_abi10_plugin(void **state)
{
	(void)state;
	struct core_plugin p;
	load_ok(ABI10_STORAGE, &p);
	assert_string_equal(p.info->name, "abi10");
	assert_string_equal(p.info->version, "1.0.0");
	assert_int_equal(p.info->abi_major, 1);
	assert_int_equal(p.info->abi_minor, 0);
	assert_int_equal(p.info->kind, CAIRN_PLUGIN_KIND_STORAGE);

	/* call through the 1.0 table the way the core does */
	const struct cairn_storage_vtable *vt = core_storage_vt(&p);
	assert_true(CAIRN_VT_HAS(vt, open) && CAIRN_VT_HAS(vt, list) && CAIRN_VT_HAS(vt, remove));
	void *inst = NULL;
	assert_int_equal(vt->open(core_host(), "abi10://here", NULL, 0, &inst), CAIRN_OK);
	assert_non_null(inst);
	struct seen s = {0};
	assert_int_equal(vt->list(inst, "", count_object, &s), CAIRN_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.name, "abi10/object");
	assert_int_equal(s.size, 1010);
	struct cairn_object_info o = {.struct_size = sizeof(o)};
	assert_int_equal(vt->stat(inst, "abi10/object", &o), CAIRN_OK);
	assert_int_equal(o.size, 1010);
	assert_int_equal(vt->stat(inst, "nope", &o), CAIRN_E_NOT_FOUND);
	void *w = NULL;
	assert_int_equal(vt->writer_begin(inst, "x", &w), CAIRN_E_UNSUPPORTED);
	assert_non_null(strstr(core_error_message(), "read-only: 'x'"));
	vt->close(inst);
	core_error_clear();
	free(p.path);
}

static void test_scan_bad_dir(void **state)
{
	(void)state;
	struct core_plugins ps = {0};
	const char *dirs[] = {ABI_BAD_DIR};
	assert_int_equal(core_plugins_scan(&ps, dirs, 1), CAIRN_OK);
	/* the scan runs nothing: these files have no note, so nothing is known yet */
	assert_int_equal(ps.n, N_BAD);
	for (size_t i = 0; i < ps.n; i++) {
		assert_false(ps.v[i].has_note || ps.v[i].known || ps.v[i].refusal || ps.v[i].dl);
	}
	/* probed in children: every cairn-*.so is kept with its refusal; README.txt is skipped */
	core_plugins_probe_all(&ps);
	for (size_t i = 0; i < ps.n; i++) {
		assert_null(ps.v[i].info);
		assert_null(ps.v[i].dl);
		assert_false(ps.v[i].known);
		assert_non_null(ps.v[i].refusal);
		assert_null(strstr(ps.v[i].path, "README"));
		int known = 0;
		for (size_t j = 0; j < N_BAD; j++)
			if (strstr(ps.v[i].path, bad_cases[j].file) &&
			    strstr(ps.v[i].refusal, bad_cases[j].reason))
				known = 1;
		if (!known)
			fail_msg("unexpected: %s: %s", ps.v[i].path, ps.v[i].refusal);
	}
	/* refusals are listed, not errors */
	assert_string_equal(core_error_message(), "");
	assert_int_equal(core_error_status(), 0);
	/* a refused plugin is never found, whatever it claimed to serve */
	assert_null(core_plugins_find(&ps, CAIRN_PLUGIN_KIND_STORAGE, "abibad"));
	assert_null(core_plugins_find(&ps, CAIRN_PLUGIN_KIND_SOURCE, "abibad"));
	core_plugins_free(&ps);
	assert_int_equal(ps.n, 0);
}

static void test_scan_order_and_shadowing(void **state)
{
	(void)state;
	struct core_plugins ps = {0};
	const char *dirs[] = {ABI_EMPTY_DIR, ABI_GOOD_DIR, "/nonexistent/cairn-abi-test",
			      ABI_BAD_DIR, ABI_DUP_DIR};
	assert_int_equal(core_plugins_scan(&ps, dirs, sizeof(dirs) / sizeof(dirs[0])), CAIRN_OK);
	assert_int_equal(ps.n, 4 + N_BAD + 1); /* good/ holds 4: abigood, abisrc, abi10, abi10src */
	core_plugins_probe_all(&ps);

	const struct core_plugin *good = NULL, *dup = NULL;
	for (size_t i = 0; i < ps.n; i++) {
		if (strcmp(ps.v[i].path, ABI_GOOD_STORAGE) == 0)
			good = &ps.v[i];
		if (strcmp(ps.v[i].path, ABI_DUP_STORAGE) == 0)
			dup = &ps.v[i];
	}
	assert_non_null(good);
	assert_non_null(dup);
	assert_true(good < dup); /* directory order is kept */
	assert_int_equal(good->shadowed, 0);
	assert_true(dup->known); /* loads fine, but a same-named one came first */
	assert_null(dup->info);  /* probed in a child, never loaded here */
	assert_string_equal(dup->meta.version, "dup");
	assert_int_equal(dup->shadowed, 1);
	assert_null(dup->refusal);

	const struct core_plugin *p = core_plugins_find(&ps, CAIRN_PLUGIN_KIND_STORAGE, "abigood");
	assert_ptr_equal(p, good);
	assert_string_equal(p->info->version, "1.0.0");
	p = core_plugins_find(&ps, CAIRN_PLUGIN_KIND_STORAGE, "abi10");
	assert_non_null(p);
	assert_string_equal(p->info->name, "abi10");
	p = core_plugins_find(&ps, CAIRN_PLUGIN_KIND_SOURCE, "abisource");
	assert_non_null(p);
	assert_string_equal(p->info->name, "abisrc");
	/* the kind must match too */
	assert_null(core_plugins_find(&ps, CAIRN_PLUGIN_KIND_STORAGE, "abisrc"));
	assert_null(core_plugins_find(&ps, CAIRN_PLUGIN_KIND_SOURCE, "abigood"));
	assert_null(core_plugins_find(&ps, CAIRN_PLUGIN_KIND_STORAGE, "abibad"));
	core_plugins_free(&ps);
}

/* Scan two directories and look up a storage scheme, which must be found in `want`. */
static const struct core_plugin *scan_find(struct core_plugins *ps, const char *d1,
					   const char *d2, const char *scheme, const char *want)
{
	const char *dirs[] = {d1, d2};
	assert_int_equal(core_plugins_scan(ps, dirs, 2), CAIRN_OK);
	const struct core_plugin *p = core_plugins_find(ps, CAIRN_PLUGIN_KIND_STORAGE, scheme);
	assert_non_null(p);
	assert_string_equal(p->path, want);
	return p;
}

/* With dup/ first, the dup copy wins and good/'s is the shadowed one. */
static void test_first_directory_wins(void **state)
{
	(void)state;
	struct core_plugins ps = {0};
	scan_find(&ps, ABI_DUP_DIR, ABI_GOOD_DIR, "abigood", ABI_DUP_STORAGE);
	core_plugins_probe_all(&ps); /* find looks no further than its answer */
	for (size_t i = 0; i < ps.n; i++)
		if (strcmp(ps.v[i].path, ABI_GOOD_STORAGE) == 0)
			assert_int_equal(ps.v[i].shadowed, 1);
	core_plugins_free(&ps);
}

/* The crashing plugins come first and carry notes: a lookup never runs them. */
static void test_find_runs_no_noted_plugin(void **state)
{
	(void)state;
	struct core_plugins ps = {0};
	scan_find(&ps, ABI_CRASH_DIR, ABI_GOOD_DIR, "abigood", ABI_GOOD_STORAGE);
	size_t n_crash = 0;
	for (size_t i = 0; i < ps.n; i++) {
		const struct core_plugin *q = &ps.v[i];
		if (strncmp(q->path, ABI_CRASH_DIR "/", strlen(ABI_CRASH_DIR) + 1) != 0)
			continue;
		n_crash++;
		/* never loaded, never probed: only the malformed note is refused */
		assert_null(q->dl);
		assert_false(q->known);
		if (strstr(q->path, "notebroken"))
			assert_non_null(strstr(q->refusal, "malformed plugin note"));
		else
			assert_null(q->refusal);
	}
	assert_int_equal(n_crash, 7);
	/* the lying one is loaded only when its scheme is asked for, then refused */
	assert_null(core_plugins_find(&ps, CAIRN_PLUGIN_KIND_STORAGE, "notelie"));
	for (size_t i = 0; i < ps.n; i++)
		if (strstr(ps.v[i].path, "notelie"))
			assert_non_null(strstr(ps.v[i].refusal, "note does not match its info"));
	core_plugins_free(&ps);
}

static void test_missing_file(void **state)
{
	(void)state;
	struct core_plugin p;
	assert_int_equal(core_plugin_load(ABI_EMPTY_DIR "/cairn-storage-none.so", &p),
			 CAIRN_E_PLUGIN);
	assert_null(p.info);
	assert_non_null(strstr(p.refusal, "dlopen failed"));
	assert_non_null(strstr(core_error_message(), "cairn-storage-none.so"));
	free(p.path);
	free(p.refusal);
	core_error_clear();
}

int main(void)
{
	const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_good_storage),
		cmocka_unit_test(test_good_source),
		cmocka_unit_test(test_needs_current_minor),
		cmocka_unit_test(test_note_abi_mismatch),
		cmocka_unit_test(test_vt_minor),
		cmocka_unit_test(test_real_plugins_declare_what_they_set),
		cmocka_unit_test(test_abi10_plugin),
		cmocka_unit_test(test_abi10_source_lacks_1_1_member),
		cmocka_unit_test(test_scan_bad_dir),
		cmocka_unit_test(test_scan_order_and_shadowing),
		cmocka_unit_test(test_first_directory_wins),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_find_runs_no_noted_plugin),
	};
	struct CMUnitTest tests[N_BAD + sizeof(fixed) / sizeof(fixed[0])];
	size_t n = 0;
	for (size_t i = 0; i < N_BAD; i++)
		tests[n++] = (struct CMUnitTest){.name = bad_cases[i].file,
						 .test_func = test_bad_plugin,
						 .initial_state = (void *)&bad_cases[i]};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		tests[n++] = fixed[i];
	return _cmocka_run_group_tests("plugin_loader", tests, n, NULL, NULL);
}
