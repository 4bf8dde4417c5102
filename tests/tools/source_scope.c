/*
 * source_scope.c — drives a source plugin's ABI 1.2 scope members against a
 * real server, for tests/integration/{pg,my}_source_scope.sh:
 *
 *     cairn-source-scope PLUGIN.so URI
 *
 * The script prepares URI's database first: Kestra's schema with flows m1,
 * m2 of tenant main, o1 of tenant other, n1, n2 without a tenant, and a
 * table cairn_scope_plain (key, v; no tenant_id, no JSON value) with p1,
 * p2. Checks, printed TAP-style ("ok N - …" / "not ok N - …: why"):
 * cursor_open_scoped ANY / ONE / NONE select exactly their records,
 * malformed scopes are refused, a table without a tenant expression refuses
 * ONE and NONE, list_tenants gives {main, other, NULL}, the ABI 1.0
 * wrappers still work, and restore_delete_scoped NONE, committed, removes
 * n1 and n2 only. Exit 0 when every check passed, 1 otherwise, 2 on usage.
 *
 * It loads the plugin with the core's own loader and hands it the core's
 * host (linked from cairncore, as tests/abi does), so that the checks run
 * what `cairn` runs, and reads plugin errors back with core_error_message.
 */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/plugin.h"
#include "cairn/source.h"
#include "cairn/status.h"
#include "error.h"
#include "plugin_host.h"
#include "plugin_loader.h"

static const struct cairn_source_vtable *vt;
static void *inst;
static int n_checks, n_failed;

static const struct cairn_kind_desc flows = {
	.struct_size = sizeof flows, .kind = "FLOW", .table = "flows", .index = "flows",
	.scope = CAIRN_SCOPE_TENANT};
static const struct cairn_kind_desc plain = {
	.struct_size = sizeof plain, .kind = "PLAIN", .table = "cairn_scope_plain",
	.index = "cairn_scope_plain", .scope = CAIRN_SCOPE_TENANT};

static void check(int ok, const char *name, const char *why)
{
	n_checks++;
	if (ok) {
		printf("ok %d - %s\n", n_checks, name);
	} else {
		n_failed++;
		printf("not ok %d - %s: %s\n", n_checks, name, why);
	}
	core_error_clear();
}

static struct cairn_scope scope_of(uint32_t filter, const char *tenant)
{
	struct cairn_scope s = {.struct_size = sizeof s, .filter = filter, .tenant = tenant};
	return s;
}

static int by_word(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts the blank-separated words of s in place (at most 64 of them). */
static void sort_words(char *s, size_t cap)
{
	char *words[64], copy[512];
	size_t n = 0, len = 0;

	snprintf(copy, sizeof copy, "%s", s);
	for (char *w = strtok(copy, " "); w != NULL && n < 64; w = strtok(NULL, " "))
		words[n++] = w;
	qsort(words, n, sizeof words[0], by_word);
	s[0] = '\0';
	for (size_t i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%s", i ? " " : "", words[i]);
}

/*
 * Reads every record of the scope as "key[@tenant] …" ('@' and the tenant
 * only for records that have one) into out, sorted by key: a cursor
 * promises no order (the PostgreSQL plugin streams a table in its physical
 * order). The status of the first failing call otherwise.
 */
static int read_scope(const struct cairn_kind_desc *kind, const struct cairn_scope *s,
		      const char *tenant_1_0, int use_1_0, char *out, size_t cap)
{
	const struct cairn_record *rec;
	void *cur = NULL;
	size_t len = 0;
	int rc;

	out[0] = '\0';
	rc = use_1_0 ? vt->cursor_open(inst, kind, tenant_1_0, &cur)
		     : vt->cursor_open_scoped(inst, kind, s, &cur);
	if (rc != CAIRN_OK)
		return rc;
	while ((rc = vt->cursor_next(cur, &rec)) == 1) {
		int n = snprintf(out + len, cap - len, "%s%s%s%s", len ? " " : "", rec->key,
				 rec->tenant ? "@" : "", rec->tenant ? rec->tenant : "");
		if (n < 0 || (size_t)n >= cap - len)
			break;
		len += (size_t)n;
	}
	vt->cursor_close(cur);
	sort_words(out, cap);
	return rc < 0 ? rc : CAIRN_OK;
}

static void expect_records(const char *name, const struct cairn_kind_desc *kind,
			   struct cairn_scope s, const char *want)
{
	char got[512], why[1024];
	int rc = read_scope(kind, &s, NULL, 0, got, sizeof got);

	if (rc != CAIRN_OK)
		snprintf(why, sizeof why, "status %d: %s", rc, core_error_message());
	else
		snprintf(why, sizeof why, "got '%s', want '%s'", got, want);
	check(rc == CAIRN_OK && strcmp(got, want) == 0, name, why);
}

static void expect_1_0(const char *name, const char *tenant, const char *want)
{
	char got[512], why[1024];
	int rc = read_scope(&flows, NULL, tenant, 1, got, sizeof got);

	snprintf(why, sizeof why, "status %d (%s), got '%s', want '%s'", rc, core_error_message(),
		 got, want);
	check(rc == CAIRN_OK && strcmp(got, want) == 0, name, why);
}

static void expect_cursor_refused(const char *name, const struct cairn_kind_desc *kind,
				  struct cairn_scope s, int want)
{
	void *cur = NULL;
	char why[1024];
	int rc = vt->cursor_open_scoped(inst, kind, &s, &cur);

	if (rc == CAIRN_OK)
		vt->cursor_close(cur);
	snprintf(why, sizeof why, "status %d (want %d): %s", rc, want, core_error_message());
	check(rc == want && *core_error_message() != '\0', name, why);
}

/* list_tenants' answers, sorted, NULL written as "(null)". */
struct tenants {
	char buf[512];
	size_t len;
	int calls, stop_at;
};

static int on_tenant(void *ud, const char *tenant)
{
	struct tenants *t = ud;
	int n = snprintf(t->buf + t->len, sizeof t->buf - t->len, "%s\n",
			 tenant ? tenant : "(null)");

	if (n > 0 && (size_t)n < sizeof t->buf - t->len)
		t->len += (size_t)n;
	return ++t->calls == t->stop_at ? 42 : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void expect_tenants(const char *name, const struct cairn_kind_desc *kind,
			   const char *want)
{
	struct tenants t = {.stop_at = -1};
	char *v[32], got[512] = "", why[1024];
	size_t n = 0;
	int rc = vt->list_tenants(inst, kind, on_tenant, &t);

	for (char *save = NULL, *p = strtok_r(t.buf, "\n", &save); p != NULL && n < 32;
	     p = strtok_r(NULL, "\n", &save))
		v[n++] = p;
	qsort(v, n, sizeof v[0], cmp_str);
	for (size_t i = 0; i < n; i++) {
		strncat(got, i ? " " : "", sizeof got - strlen(got) - 1);
		strncat(got, v[i], sizeof got - strlen(got) - 1);
	}
	snprintf(why, sizeof why, "status %d (%s), got '%s', want '%s'", rc, core_error_message(),
		 got, want);
	check(rc == CAIRN_OK && strcmp(got, want) == 0, name, why);
}

static void scope_checks(void)
{
	struct cairn_scope s;
	struct tenants t = {.stop_at = 1};
	char why[1024];
	int rc;

	expect_records("ANY sees every record", &flows, scope_of(CAIRN_TENANT_ANY, NULL),
		       "m1@main m2@main n1 n2 o1@other");
	expect_records("ONE main sees main's only", &flows, scope_of(CAIRN_TENANT_ONE, "main"),
		       "m1@main m2@main");
	expect_records("ONE other sees other's only", &flows, scope_of(CAIRN_TENANT_ONE, "other"),
		       "o1@other");
	expect_records("ONE compares bytes (MAIN is not main)", &flows,
		       scope_of(CAIRN_TENANT_ONE, "MAIN"), "");
	expect_records("NONE sees the records without a tenant only", &flows,
		       scope_of(CAIRN_TENANT_NONE, NULL), "n1 n2");

	/* A caller compiled before `tenant` existed: NONE needs no tenant, ONE does. */
	s = scope_of(CAIRN_TENANT_NONE, "ignored");
	s.struct_size = offsetof(struct cairn_scope, tenant);
	expect_records("a scope without room for tenant: NONE works", &flows, s, "n1 n2");
	s.filter = CAIRN_TENANT_ONE;
	expect_cursor_refused("a scope without room for tenant: ONE refused", &flows, s,
			      CAIRN_E_INVALID);
	s.struct_size = 2;
	expect_cursor_refused("a scope too small for filter refused", &flows, s, CAIRN_E_INVALID);
	expect_cursor_refused("ANY naming a tenant refused", &flows,
			      scope_of(CAIRN_TENANT_ANY, "main"), CAIRN_E_INVALID);
	expect_cursor_refused("NONE naming a tenant refused", &flows,
			      scope_of(CAIRN_TENANT_NONE, "main"), CAIRN_E_INVALID);
	expect_cursor_refused("ONE without a tenant refused", &flows,
			      scope_of(CAIRN_TENANT_ONE, NULL), CAIRN_E_INVALID);
	expect_cursor_refused("an unknown filter is unsupported", &flows, scope_of(7, NULL),
			      CAIRN_E_UNSUPPORTED);

	expect_records("no tenant expression: ANY sees every record", &plain,
		       scope_of(CAIRN_TENANT_ANY, NULL), "p1 p2");
	expect_cursor_refused("no tenant expression: NONE refused, not widened", &plain,
			      scope_of(CAIRN_TENANT_NONE, NULL), CAIRN_E_SCHEMA);
	expect_cursor_refused("no tenant expression: ONE refused", &plain,
			      scope_of(CAIRN_TENANT_ONE, "main"), CAIRN_E_SCHEMA);

	expect_tenants("list_tenants gives main, other and NULL", &flows, "(null) main other");
	expect_tenants("list_tenants of a table without tenant expression: NULL", &plain,
		       "(null)");
	rc = vt->list_tenants(inst, &flows, on_tenant, &t);
	snprintf(why, sizeof why, "status %d after %d call(s)", rc, t.calls);
	check(rc == 42 && t.calls == 1, "list_tenants stops with the callback's value", why);

	expect_1_0("cursor_open (1.0) NULL is every record", NULL, "m1@main m2@main n1 n2 o1@other");
	expect_1_0("cursor_open (1.0) main", "main", "m1@main m2@main");
}

static void delete_checks(void)
{
	struct cairn_restore_opts ro = {.struct_size = sizeof ro, .replace = 1};
	struct cairn_scope s = scope_of(CAIRN_TENANT_NONE, NULL);
	char why[1024];
	int rc;

	rc = vt->restore_begin(inst, &ro);
	snprintf(why, sizeof why, "status %d: %s", rc, core_error_message());
	check(rc == CAIRN_OK, "restore_begin", why);
	if (rc != CAIRN_OK)
		return;
	rc = vt->restore_delete_scoped(inst, &plain, &s);
	snprintf(why, sizeof why, "status %d: %s", rc, core_error_message());
	check(rc == CAIRN_E_SCHEMA, "delete NONE on a table without tenant expression refused",
	      why);
	rc = vt->restore_delete_scoped(inst, &flows, &s);
	snprintf(why, sizeof why, "status %d: %s", rc, core_error_message());
	check(rc == CAIRN_OK, "restore_delete_scoped NONE", why);
	rc = vt->restore_commit(inst);
	snprintf(why, sizeof why, "status %d: %s", rc, core_error_message());
	check(rc == CAIRN_OK, "restore_commit", why);

	rc = vt->snapshot_begin(inst);
	snprintf(why, sizeof why, "status %d: %s", rc, core_error_message());
	check(rc == CAIRN_OK, "snapshot_begin after the delete", why);
	if (rc != CAIRN_OK)
		return;
	expect_records("the delete removed the records without a tenant only", &flows,
		       scope_of(CAIRN_TENANT_ANY, NULL), "m1@main m2@main o1@other");
	expect_records("the table without tenant expression is untouched", &plain,
		       scope_of(CAIRN_TENANT_ANY, NULL), "p1 p2");
	vt->snapshot_end(inst);
}

int main(int argc, char **argv)
{
	struct core_plugin p;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: cairn-source-scope PLUGIN.so URI\n");
		return 2;
	}
	if (core_plugin_load(argv[1], &p) != CAIRN_OK) {
		printf("not ok 1 - load %s: %s\n", argv[1], p.refusal ? p.refusal : "?");
		free(p.refusal);
		free(p.path);
		return 1;
	}
	vt = core_source_vt(&p);
	check(p.info->kind == CAIRN_PLUGIN_KIND_SOURCE && CAIRN_VT_HAS(vt, cursor_open_scoped) &&
		      CAIRN_VT_HAS(vt, restore_delete_scoped) && CAIRN_VT_HAS(vt, list_tenants),
	      "a source plugin with the ABI 1.2 scope members",
	      "not a source, or cursor_open_scoped, restore_delete_scoped or list_tenants missing");
	rc = n_failed ? CAIRN_E_UNSUPPORTED : vt->open(core_host(), argv[2], NULL, 0, &inst);
	if (rc == CAIRN_OK) {
		rc = vt->snapshot_begin(inst);
		check(rc == CAIRN_OK, "snapshot_begin", core_error_message());
	} else if (!n_failed) {
		check(0, "open", core_error_message());
	}
	if (rc == CAIRN_OK) {
		scope_checks();
		rc = vt->snapshot_end(inst);
		check(rc == CAIRN_OK, "snapshot_end", core_error_message());
		delete_checks();
	}
	if (inst != NULL)
		vt->close(inst);
	free(p.path);
	free(p.refusal);
	printf("%d passed, %d failed\n", n_checks - n_failed, n_failed);
	return n_failed ? 1 : 0;
}
