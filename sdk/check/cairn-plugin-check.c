/*
 * cairn-plugin-check — conformance kit for Cairn plugins.
 *
 *     cairn-plugin-check storage PLUGIN.so LOCATION_URI
 *
 * Loads PLUGIN.so the way the core does (the same entry checks, with a
 * minimal host of its own) and runs the standard storage suite against
 * LOCATION_URI, printing TAP-style lines ("ok N - name" / "not ok N - name:
 * reason") and a final "N passed, M failed". Exit status: 0 when every test
 * passed, 1 when one failed, 2 on a usage error.
 *
 * Why it is written the way it is:
 *  - It is installed with the SDK for third parties, so it depends on libc,
 *    libdl and the SDK headers only, never on the core library.
 *  - Everything happens under a random prefix below the location, so that
 *    concurrent runs against one location do not collide, and the suite
 *    removes what it wrote (empty directories are the plugin's business).
 *  - Every call into the plugin goes through chk(), which also verifies that
 *    a failing call reported its detail through host->set_error with the
 *    status it returned; the last test collects those violations.
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cairn/host.h"
#include "cairn/plugin.h"
#include "cairn/status.h"
#include "cairn/storage.h"

/* Sizes of the ABI 1.0 structs: everything up to their last 1.0 member. */
#define INFO_SIZE_1_0 (offsetof(struct cairn_plugin_info, vtable) + sizeof(const void *))
#define STORAGE_VT_SIZE_1_0                                                    \
	(offsetof(struct cairn_storage_vtable, remove) +                       \
	 sizeof(((struct cairn_storage_vtable *)0)->remove))

#define BIG_SIZE (20u * 1024 * 1024 + 7) /* ~20 MiB, deliberately odd */

struct ck {
	const struct cairn_storage_vtable *vt;
	void *inst;
	const char *uri;
	char prefix[64]; /* "cairn-check-<hex>/" */
	int n, passed, failed;
	char why[512];
	/* the last set_error of the current call */
	int err_set, err_status;
	char err_msg[512];
	/* failing calls that did not report through set_error */
	int silent;
	char silent_first[256];
};

static struct ck ck;

/* ---- the minimal host ---------------------------------------------------- */

static void host_log(const struct cairn_host *h, enum cairn_log_level level,
		     const char *plugin, const char *fmt, ...) CAIRN_PRINTF(4, 5);
static int host_set_error(const struct cairn_host *h, int status, const char *fmt, ...)
	CAIRN_PRINTF(3, 4);

static void host_log(const struct cairn_host *h, enum cairn_log_level level,
		     const char *plugin, const char *fmt, ...)
{
	(void)h;
	if (level > CAIRN_LOG_WARN && !getenv("CAIRN_CHECK_VERBOSE"))
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* "# " keeps log lines out of the TAP stream's way */
	fprintf(stderr, "# log %d [%s] %s\n", (int)level, plugin ? plugin : "?", line);
}

static int host_set_error(const struct cairn_host *h, int status, const char *fmt, ...)
{
	struct ck *c = h->core;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err_msg, sizeof(c->err_msg), fmt, ap);
	va_end(ap);
	c->err_set = c->err_msg[0] != '\0';
	c->err_status = status;
	return status;
}

static const char *host_config_get(const struct cairn_host *h, const char *section,
				   const char *key)
{
	(void)h, (void)section, (void)key;
	return NULL;
}

static void *host_alloc(const struct cairn_host *h, size_t size)
{
	(void)h;
	return malloc(size ? size : 1);
}

static void host_free(const struct cairn_host *h, void *p)
{
	(void)h;
	free(p);
}

static int host_cancelled(const struct cairn_host *h)
{
	(void)h;
	return 0;
}

static void host_progress(const struct cairn_host *h, uint64_t done, uint64_t total)
{
	(void)h, (void)done, (void)total;
}

static void host_redact(const struct cairn_host *h, const char *secret)
{
	(void)h, (void)secret;
}

static const struct cairn_host host = {
	.struct_size = sizeof(struct cairn_host),
	.abi_major = CAIRN_ABI_MAJOR,
	.abi_minor = CAIRN_ABI_MINOR,
	.core = &ck,
	.log = host_log,
	.set_error = host_set_error,
	.config_get = host_config_get,
	.alloc = host_alloc,
	.free = host_free,
	.cancelled = host_cancelled,
	.progress = host_progress,
	.redact = host_redact,
};

/* ---- reporting ----------------------------------------------------------- */

static void report(const char *name, int ok)
{
	ck.n++;
	if (ok) {
		ck.passed++;
		printf("ok %d - %s\n", ck.n, name);
	} else {
		ck.failed++;
		printf("not ok %d - %s: %s\n", ck.n, name, ck.why);
	}
	fflush(stdout);
	ck.why[0] = '\0';
}

/* FAIL(fmt, …): record why the current test failed and jump to its cleanup. */
#define FAIL(...)                                                              \
	do {                                                                   \
		snprintf(ck.why, sizeof(ck.why), __VA_ARGS__);                 \
		goto out;                                                      \
	} while (0)

static void err_reset(void)
{
	ck.err_set = 0;
	ck.err_status = 0;
	ck.err_msg[0] = '\0';
}

/* Check the error reporting of a call that returned rc. */
static int chk(const char *call, const char *name, int rc)
{
	if (rc >= 0)
		return rc;
	const char *problem = NULL;
	if (!ck.err_set)
		problem = "without host->set_error";
	else if (ck.err_status != rc)
		problem = "but set_error got another status";
	if (problem) {
		if (ck.silent++ == 0)
			snprintf(ck.silent_first, sizeof(ck.silent_first),
				 "%s('%s') returned %d %s", call, name, rc, problem);
	}
	return rc;
}

#define CALL(what, name, expr) (err_reset(), chk((what), (name), (expr)))

static const char *status_name(int rc)
{
	switch (rc) {
	case CAIRN_OK: return "CAIRN_OK";
	case CAIRN_E_NOT_FOUND: return "CAIRN_E_NOT_FOUND";
	case CAIRN_E_EXISTS: return "CAIRN_E_EXISTS";
	case CAIRN_E_INVALID: return "CAIRN_E_INVALID";
	case CAIRN_E_IO: return "CAIRN_E_IO";
	case CAIRN_E_PERMISSION: return "CAIRN_E_PERMISSION";
	case CAIRN_E_NOMEM: return "CAIRN_E_NOMEM";
	case CAIRN_E_NO_SPACE: return "CAIRN_E_NO_SPACE";
	case CAIRN_E_UNSUPPORTED: return "CAIRN_E_UNSUPPORTED";
	case CAIRN_E_LOCKED: return "CAIRN_E_LOCKED";
	default: return "another status";
	}
}

/* "<status> (<message>)" for failure reasons */
static const char *rcdesc(int rc)
{
	static char buf[700];
	snprintf(buf, sizeof(buf), "%d %s%s%s%s", rc, status_name(rc),
		 ck.err_set ? " '" : "", ck.err_set ? ck.err_msg : "", ck.err_set ? "'" : "");
	return buf;
}

/* ---- helpers around the vtable ------------------------------------------- */

/* full object name: the run's prefix + rel */
static const char *nm(char *buf, size_t cap, const char *rel)
{
	snprintf(buf, cap, "%s%s", ck.prefix, rel);
	return buf;
}

/* Write `len` bytes in chunks of the sizes in `chunks` (cycled); commit. */
static int put(const char *name, const unsigned char *data, size_t len,
	       const size_t *chunks, size_t n_chunks)
{
	void *w = NULL;
	int rc = CALL("writer_begin", name, ck.vt->writer_begin(ck.inst, name, &w));
	if (rc)
		return rc;
	size_t off = 0, i = 0;
	while (off < len) {
		size_t c = n_chunks ? chunks[i++ % n_chunks] : len;
		if (c > len - off)
			c = len - off;
		rc = CALL("writer_write", name, ck.vt->writer_write(w, data + off, c));
		if (rc) {
			ck.vt->writer_abort(w);
			return rc;
		}
		off += c;
	}
	return CALL("writer_commit", name, ck.vt->writer_commit(w));
}

static int put_str(const char *name, const char *s)
{
	return put(name, (const unsigned char *)s, strlen(s), NULL, 0);
}

/* Read the whole object with buffers of `cap` bytes; never more than limit+1. */
static int get(const char *name, size_t cap, unsigned char **data, size_t *len, size_t limit)
{
	void *r = NULL;
	*data = NULL;
	*len = 0;
	int rc = CALL("reader_open", name, ck.vt->reader_open(ck.inst, name, &r));
	if (rc)
		return rc;
	unsigned char *out = malloc(limit + 1 + cap);
	unsigned char *buf = malloc(cap);
	if (!out || !buf) {
		free(out);
		free(buf);
		ck.vt->reader_close(r);
		return CAIRN_E_NOMEM;
	}
	size_t n = 0;
	for (;;) {
		size_t got = (size_t)-1;
		rc = CALL("reader_read", name, ck.vt->reader_read(r, buf, cap, &got));
		if (rc)
			break;
		if (got > cap) {
			rc = CAIRN_E_PLUGIN;
			snprintf(ck.err_msg, sizeof(ck.err_msg), "reader_read returned %zu > cap %zu",
				 got, cap);
			ck.err_set = 1;
			break;
		}
		if (got == 0)
			break;
		memcpy(out + n, buf, got);
		n += got;
		if (n > limit)
			break; /* more than expected: the caller sees the size mismatch */
	}
	ck.vt->reader_close(r);
	free(buf);
	if (rc) {
		free(out);
		return rc;
	}
	*data = out;
	*len = n;
	return CAIRN_OK;
}

/* Read `name` back with buffer size `cap` and compare with data/len. */
static int verify(const char *name, const unsigned char *data, size_t len, size_t cap)
{
	unsigned char *got;
	size_t n;
	int rc = get(name, cap, &got, &n, len);
	if (rc) {
		snprintf(ck.why, sizeof(ck.why), "read '%s' (buffer %zu): %s", name, cap, rcdesc(rc));
		return -1;
	}
	int ok = n == len && memcmp(got, data, len) == 0;
	if (!ok) {
		size_t i = 0;
		while (i < n && i < len && got[i] == data[i])
			i++;
		snprintf(ck.why, sizeof(ck.why),
			 "read '%s' (buffer %zu): %zu bytes, expected %zu, first difference at %zu",
			 name, cap, n, len, i);
	}
	free(got);
	return ok ? 0 : -1;
}

/* stat `name` and expect `size` */
static int stat_size(const char *name, uint64_t size)
{
	struct cairn_object_info oi = {.struct_size = sizeof(oi)};
	int rc = CALL("stat", name, ck.vt->stat(ck.inst, name, &oi));
	if (rc) {
		snprintf(ck.why, sizeof(ck.why), "stat '%s': %s", name, rcdesc(rc));
		return -1;
	}
	if (oi.size != size) {
		snprintf(ck.why, sizeof(ck.why), "stat '%s': size %llu, expected %llu", name,
			 (unsigned long long)oi.size, (unsigned long long)size);
		return -1;
	}
	if (oi.name && strcmp(oi.name, name) != 0) {
		snprintf(ck.why, sizeof(ck.why), "stat '%s': name '%s'", name, oi.name);
		return -1;
	}
	return 0;
}

/* expect stat and reader_open of `name` to say CAIRN_E_NOT_FOUND */
static int absent(const char *name)
{
	struct cairn_object_info oi = {.struct_size = sizeof(oi)};
	int rc = CALL("stat", name, ck.vt->stat(ck.inst, name, &oi));
	if (rc != CAIRN_E_NOT_FOUND) {
		snprintf(ck.why, sizeof(ck.why), "stat '%s': %s, expected CAIRN_E_NOT_FOUND", name,
			 rcdesc(rc));
		return -1;
	}
	void *r = NULL;
	rc = CALL("reader_open", name, ck.vt->reader_open(ck.inst, name, &r));
	if (rc == CAIRN_OK)
		ck.vt->reader_close(r);
	if (rc != CAIRN_E_NOT_FOUND) {
		snprintf(ck.why, sizeof(ck.why), "reader_open '%s': %s, expected CAIRN_E_NOT_FOUND",
			 name, rcdesc(rc));
		return -1;
	}
	return 0;
}

/* a list result: names (owned), sizes */
struct names {
	char **v;
	uint64_t *size;
	size_t n, cap;
	int bad_name; /* a NULL name or a bad struct_size came through */
};

static int collect(void *ud, const struct cairn_object_info *oi)
{
	struct names *l = ud;
	if (!oi || oi->struct_size < offsetof(struct cairn_object_info, mtime) + sizeof(int64_t) ||
	    !oi->name) {
		l->bad_name = 1;
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return CAIRN_E_NOMEM;
		l->v = v;
		uint64_t *s = realloc(l->size, cap * sizeof(*s));
		if (!s)
			return CAIRN_E_NOMEM;
		l->size = s;
		l->cap = cap;
	}
	char *copy = strdup(oi->name);
	if (!copy)
		return CAIRN_E_NOMEM;
	l->v[l->n] = copy;
	l->size[l->n] = oi->size;
	l->n++;
	return 0;
}

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->size);
	memset(l, 0, sizeof(*l));
}

static int list(const char *prefix, struct names *l)
{
	memset(l, 0, sizeof(*l));
	int rc = CALL("list", prefix, ck.vt->list(ck.inst, prefix, collect, l));
	if (rc)
		snprintf(ck.why, sizeof(ck.why), "list '%s': %s", prefix, rcdesc(rc));
	else if (l->bad_name)
		snprintf(ck.why, sizeof(ck.why),
			 "list '%s': callback got a NULL name or a too small struct_size", prefix);
	return rc || l->bad_name ? -1 : 0;
}

static long find(const struct names *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], name) == 0)
			return (long)i;
	return -1;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * list(prefix) must give exactly the names in `want` (full names, NULL
 * terminated, any order, each once).
 */
static int list_exactly(const char *prefix, const char *const *want)
{
	struct names l;
	if (list(prefix, &l))
		return -1;
	int rc = 0;
	size_t n_want = 0;
	for (; want[n_want]; n_want++) {
		if (find(&l, want[n_want]) < 0) {
			snprintf(ck.why, sizeof(ck.why), "list '%s' misses '%s'", prefix, want[n_want]);
			rc = -1;
			goto out;
		}
	}
	for (size_t i = 0; i < l.n; i++) {
		size_t j = 0;
		while (want[j] && strcmp(want[j], l.v[i]) != 0)
			j++;
		if (!want[j]) {
			snprintf(ck.why, sizeof(ck.why), "list '%s' gave unexpected '%s'", prefix, l.v[i]);
			rc = -1;
			goto out;
		}
	}
	if (l.n != n_want) {
		snprintf(ck.why, sizeof(ck.why), "list '%s' gave %zu names, expected %zu (duplicates)",
			 prefix, l.n, n_want);
		rc = -1;
	}
out:
	names_free(&l);
	return rc;
}

static int not_listed(const char *name)
{
	/* list by the name itself and by everything in the run */
	const char *prefixes[2] = {name, ck.prefix};
	for (int i = 0; i < 2; i++) {
		struct names l;
		if (list(prefixes[i], &l))
			return -1;
		long at = find(&l, name);
		names_free(&l);
		if (at >= 0) {
			snprintf(ck.why, sizeof(ck.why), "'%s' listed (prefix '%s')", name, prefixes[i]);
			return -1;
		}
	}
	return 0;
}

/* ---- loading ------------------------------------------------------------- */

/* The core's entry checks (docs/abi.md §3), storage kind only. */
static int load(const char *path, const char *uri)
{
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		const char *e = dlerror();
		snprintf(ck.why, sizeof(ck.why), "dlopen failed: %s", e ? e : "unknown error");
		return -1;
	}
	cairn_plugin_entry_fn entry;
	*(void **)&entry = dlsym(dl, CAIRN_PLUGIN_ENTRY_NAME);
	if (!entry) {
		for (int major = 2; major <= 9; major++) {
			char sym[64];
			snprintf(sym, sizeof(sym), "cairn_plugin_entry_v%d", major);
			if (dlsym(dl, sym))
				FAIL("built for plugin ABI %d; this kit supports ABI %d", major,
				     CAIRN_ABI_MAJOR);
		}
		FAIL("no %s symbol: not a Cairn plugin", CAIRN_PLUGIN_ENTRY_NAME);
	}
	const struct cairn_plugin_info *info = entry(&host);
	if (!info)
		FAIL("entry point returned no plugin info");
	if (info->struct_size < INFO_SIZE_1_0)
		FAIL("plugin info struct too small (%u bytes, ABI 1.0 needs %zu)",
		     (unsigned)info->struct_size, INFO_SIZE_1_0);
	if (info->abi_major != CAIRN_ABI_MAJOR)
		FAIL("built for plugin ABI %u.%u; this kit supports ABI %d", info->abi_major,
		     info->abi_minor, CAIRN_ABI_MAJOR);
	if (info->abi_minor > CAIRN_ABI_MINOR)
		FAIL("needs plugin ABI %u.%u, newer than this kit's %d.%d", info->abi_major,
		     info->abi_minor, CAIRN_ABI_MAJOR, CAIRN_ABI_MINOR);
	if (!info->name || !info->name[0])
		FAIL("missing required member 'name'");
	if (!info->version)
		FAIL("missing required member 'version'");
	if (!info->schemes || !info->schemes[0])
		FAIL("missing required member 'schemes' (at least one URI scheme)");
	if (!info->vtable)
		FAIL("missing required member 'vtable'");
	if (info->kind != CAIRN_PLUGIN_KIND_STORAGE)
		FAIL("not a storage plugin (kind %u)", (unsigned)info->kind);
	const struct cairn_storage_vtable *vt = info->vtable;
	if (vt->struct_size < STORAGE_VT_SIZE_1_0)
		FAIL("storage vtable too small (%u bytes, ABI 1.0 needs %zu)",
		     (unsigned)vt->struct_size, STORAGE_VT_SIZE_1_0);
#define REQUIRE(m)                                                             \
	if (!CAIRN_VT_HAS(vt, m))                                              \
	FAIL("missing required method '" #m "'")
	REQUIRE(open);
	REQUIRE(close);
	REQUIRE(writer_begin);
	REQUIRE(writer_write);
	REQUIRE(writer_commit);
	REQUIRE(writer_abort);
	REQUIRE(reader_open);
	REQUIRE(reader_read);
	REQUIRE(reader_close);
	REQUIRE(list);
	REQUIRE(stat);
	REQUIRE(remove);
#undef REQUIRE
	/* what the core refuses, so that an author sees it before any user does */
	const char *newest = NULL;
	unsigned needs = cairn_storage_vt_minor(vt, &newest);
	if (needs > info->abi_minor)
		FAIL("declares plugin ABI %u.%u but sets '%s' (since %d.%u); declare "
		     ".abi_minor = %u in CAIRN_PLUGIN_DEFINE and CAIRN_PLUGIN_NOTE",
		     info->abi_major, info->abi_minor, newest, CAIRN_ABI_MAJOR, needs, needs);
	/* the core picks a plugin by the location's scheme */
	const char *colon = strstr(uri, "://");
	size_t slen = colon ? (size_t)(colon - uri) : 0;
	int served = 0;
	for (const char *const *s = info->schemes; *s && !served; s++)
		served = slen && strlen(*s) == slen && strncmp(*s, uri, slen) == 0;
	if (!served)
		FAIL("'%s' has no scheme this plugin serves (first: '%s')", uri, info->schemes[0]);
	fprintf(stderr, "# %s: %s %s, ABI %u.%u\n", path, info->name, info->version,
		info->abi_major, info->abi_minor);
	ck.vt = vt;
	/* stays loaded until exit, as in the core */
	return 0;
out:
	dlclose(dl);
	return -1;
}

/* ---- the tests ----------------------------------------------------------- */

static int t_open_close(void)
{
	void *inst = NULL;
	int rc = CALL("open", ck.uri, ck.vt->open(&host, ck.uri, NULL, 0, &inst));
	if (rc)
		FAIL("open '%s': %s", ck.uri, rcdesc(rc));
	ck.vt->close(inst);
	/* and again: the instance the other tests use */
	rc = CALL("open", ck.uri, ck.vt->open(&host, ck.uri, NULL, 0, &ck.inst));
	if (rc)
		FAIL("second open '%s': %s", ck.uri, rcdesc(rc));
	return 1;
out:
	return 0;
}

static int t_small(void)
{
	char name[256];
	const char *s = "hello, cairn: a small object\n";
	size_t len = strlen(s);
	int rc = put_str(nm(name, sizeof(name), "rw/small"), s);
	if (rc)
		FAIL("write '%s': %s", name, rcdesc(rc));
	if (stat_size(name, len))
		goto out;
	if (verify(name, (const unsigned char *)s, len, 1) ||
	    verify(name, (const unsigned char *)s, len, 7) ||
	    verify(name, (const unsigned char *)s, len, 1 << 20))
		goto out;
	return 1;
out:
	return 0;
}

static int t_empty(void)
{
	char name[256];
	int rc = put(nm(name, sizeof(name), "rw/empty"), (const unsigned char *)"", 0, NULL, 0);
	if (rc)
		FAIL("write '%s': %s", name, rcdesc(rc));
	if (stat_size(name, 0) || verify(name, (const unsigned char *)"", 0, 16))
		goto out;
	return 1;
out:
	return 0;
}

static int t_large(void)
{
	char name[256];
	int ok = 0;
	unsigned char *data = malloc(BIG_SIZE);
	if (!data)
		FAIL("out of memory");
	uint64_t x = 0x9e3779b97f4a7c15u; /* xorshift: incompressible, reproducible */
	for (size_t i = 0; i < BIG_SIZE; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		data[i] = (unsigned char)(x >> 24);
	}
	static const size_t chunks[] = {1, 4093, 65537, 3, 1000003, 511, 262147};
	int rc = put(nm(name, sizeof(name), "rw/large"), data, BIG_SIZE, chunks,
		     sizeof(chunks) / sizeof(chunks[0]));
	if (rc)
		FAIL("write '%s': %s", name, rcdesc(rc));
	if (stat_size(name, BIG_SIZE) || verify(name, data, BIG_SIZE, 4099) ||
	    verify(name, data, BIG_SIZE, 4u << 20))
		goto out;
	ok = 1;
out:
	free(data);
	return ok;
}

static int t_invisible(void)
{
	char name[256];
	void *w = NULL;
	int ok = 0;
	nm(name, sizeof(name), "pending/obj");
	int rc = CALL("writer_begin", name, ck.vt->writer_begin(ck.inst, name, &w));
	if (rc)
		FAIL("writer_begin '%s': %s", name, rcdesc(rc));
	rc = CALL("writer_write", name, ck.vt->writer_write(w, "not yet", 7));
	if (rc)
		FAIL("writer_write '%s': %s", name, rcdesc(rc));
	if (absent(name) || not_listed(name))
		goto out;
	void *cw = w;
	w = NULL;
	rc = CALL("writer_commit", name, ck.vt->writer_commit(cw));
	if (rc)
		FAIL("writer_commit '%s': %s", name, rcdesc(rc));
	if (stat_size(name, 7))
		goto out;
	ok = 1;
out:
	if (w)
		ck.vt->writer_abort(w);
	return ok;
}

static int t_abort(void)
{
	char name[256], dir[256];
	void *w = NULL;
	nm(name, sizeof(name), "abort/obj");
	int rc = CALL("writer_begin", name, ck.vt->writer_begin(ck.inst, name, &w));
	if (rc)
		FAIL("writer_begin '%s': %s", name, rcdesc(rc));
	rc = CALL("writer_write", name, ck.vt->writer_write(w, "discard me", 10));
	ck.vt->writer_abort(w);
	if (rc)
		FAIL("writer_write '%s': %s", name, rcdesc(rc));
	static const char *const none[] = {NULL};
	if (absent(name) || not_listed(name) || list_exactly(nm(dir, sizeof(dir), "abort/"), none))
		goto out;
	return 1;
out:
	return 0;
}

static int t_no_replace(void)
{
	char name[256], name2[256];
	void *w1 = NULL, *w2 = NULL;
	int ok = 0;
	const char *orig = "the original";
	int rc = put_str(nm(name, sizeof(name), "noreplace/obj"), orig);
	if (rc)
		FAIL("write '%s': %s", name, rcdesc(rc));
	rc = put_str(name, "a second writer");
	if (rc != CAIRN_E_EXISTS)
		FAIL("second commit of '%s': %s, expected CAIRN_E_EXISTS", name, rcdesc(rc));
	if (verify(name, (const unsigned char *)orig, strlen(orig), 64))
		goto out;
	/*
	 * two writers racing for a new name: the first commit wins. Since ABI
	 * 1.2 the storage may refuse the second writer already at writer_begin
	 * (CAIRN_E_EXISTS); then an aborted first writer must free the name.
	 */
	nm(name2, sizeof(name2), "noreplace/race");
	rc = CALL("writer_begin", name2, ck.vt->writer_begin(ck.inst, name2, &w1));
	if (rc)
		FAIL("writer_begin '%s': %s", name2, rcdesc(rc));
	rc = CALL("writer_begin", name2, ck.vt->writer_begin(ck.inst, name2, &w2));
	if (rc == CAIRN_E_EXISTS) {
		w2 = NULL;
		ck.vt->writer_abort(w1);
		w1 = NULL;
		rc = CALL("writer_begin", name2, ck.vt->writer_begin(ck.inst, name2, &w1));
		if (rc)
			FAIL("writer_begin '%s' after the first writer aborted: %s", name2, rcdesc(rc));
	} else if (rc) {
		FAIL("second writer_begin '%s': %s", name2, rcdesc(rc));
	}
	if ((rc = CALL("writer_write", name2, ck.vt->writer_write(w1, "first", 5))) ||
	    (w2 && (rc = CALL("writer_write", name2, ck.vt->writer_write(w2, "second", 6)))))
		FAIL("writer_write '%s': %s", name2, rcdesc(rc));
	void *c = w1;
	w1 = NULL;
	rc = CALL("writer_commit", name2, ck.vt->writer_commit(c));
	if (rc)
		FAIL("first commit of '%s': %s", name2, rcdesc(rc));
	c = w2;
	w2 = NULL;
	rc = c ? CALL("writer_commit", name2, ck.vt->writer_commit(c))
	       : CALL("writer_begin", name2, ck.vt->writer_begin(ck.inst, name2, &w2));
	if (rc != CAIRN_E_EXISTS)
		FAIL("%s of '%s' after the first commit: %s, expected CAIRN_E_EXISTS",
		     c ? "racing commit" : "writer_begin", name2, rcdesc(rc));
	if (verify(name2, (const unsigned char *)"first", 5, 64))
		goto out;
	ok = 1;
out:
	if (w1)
		ck.vt->writer_abort(w1);
	if (w2)
		ck.vt->writer_abort(w2);
	return ok;
}

static int stop_cb(void *ud, const struct cairn_object_info *oi)
{
	(void)oi;
	++*(int *)ud;
	return 7;
}

static int t_list_prefix(void)
{
	static const char *const rel[] = {"list/a/b/c", "list/a/b/d", "list/a/x", "list/ab",
					  "list/b"};
	enum { N = sizeof(rel) / sizeof(rel[0]) };
	char full[N][256], pend[256], p[256];
	void *w = NULL;
	int ok = 0;
	for (int i = 0; i < N; i++) {
		int rc = put_str(nm(full[i], sizeof(full[i]), rel[i]), rel[i]);
		if (rc)
			FAIL("write '%s': %s", full[i], rcdesc(rc));
	}
	/* an uncommitted object must not show up in any listing */
	nm(pend, sizeof(pend), "list/a/pending");
	int rc = CALL("writer_begin", pend, ck.vt->writer_begin(ck.inst, pend, &w));
	if (rc)
		FAIL("writer_begin '%s': %s", pend, rcdesc(rc));
	if ((rc = CALL("writer_write", pend, ck.vt->writer_write(w, "x", 1))))
		FAIL("writer_write '%s': %s", pend, rcdesc(rc));

	const char *all[] = {full[0], full[1], full[2], full[3], full[4], NULL};
	const char *in_a[] = {full[0], full[1], full[2], full[3], NULL};
	const char *in_a_dir[] = {full[0], full[1], full[2], NULL};
	const char *just_c[] = {full[0], NULL};
	const char *none[] = {NULL};
	if (list_exactly(nm(p, sizeof(p), "list/"), all) ||
	    list_exactly(nm(p, sizeof(p), "list"), all) ||
	    list_exactly(nm(p, sizeof(p), "list/a"), in_a) ||
	    list_exactly(nm(p, sizeof(p), "list/a/"), in_a_dir) ||
	    list_exactly(nm(p, sizeof(p), "list/a/b/c"), just_c) ||
	    list_exactly(nm(p, sizeof(p), "list/zzz"), none))
		goto out;

	/* "" lists everything at the location, with sizes */
	struct names l;
	if (list("", &l))
		goto out;
	for (int i = 0; i < N; i++) {
		long at = find(&l, full[i]);
		if (at < 0 || l.size[at] != strlen(rel[i])) {
			snprintf(ck.why, sizeof(ck.why), "list '' %s '%s'",
				 at < 0 ? "misses" : "gives a wrong size for", full[i]);
			names_free(&l);
			goto out;
		}
	}
	names_free(&l);

	/* a non-zero callback result stops the listing and is returned */
	int calls = 0;
	rc = ck.vt->list(ck.inst, nm(p, sizeof(p), "list/"), stop_cb, &calls);
	if (rc != 7 || calls != 1)
		FAIL("list with a callback returning 7: returned %d after %d calls, expected 7 "
		     "after 1", rc, calls);
	ok = 1;
out:
	if (w)
		ck.vt->writer_abort(w);
	return ok;
}

static int t_names(void)
{
	static const char *const rel[] = {
		"names/with space", "names/caf\xc3\xa9", "names/\xf0\x9f\x98\x80",
		"names/a+b", "names/d\xc3\xa9j\xc3\xa0 vu/\xf0\x9f\x98\x80 + more",
	};
	enum { N = sizeof(rel) / sizeof(rel[0]) };
	char full[N][256], p[256];
	const char *want[N + 1];
	for (int i = 0; i < N; i++) {
		nm(full[i], sizeof(full[i]), rel[i]);
		want[i] = full[i];
		int rc = put_str(full[i], rel[i]);
		if (rc)
			FAIL("write '%s': %s", full[i], rcdesc(rc));
		if (stat_size(full[i], strlen(rel[i])) ||
		    verify(full[i], (const unsigned char *)rel[i], strlen(rel[i]), 64))
			goto out;
	}
	want[N] = NULL;
	if (list_exactly(nm(p, sizeof(p), "names/"), want))
		goto out;
	return 1;
out:
	return 0;
}

static int t_remove(void)
{
	char name[256];
	int rc = put_str(nm(name, sizeof(name), "remove/obj"), "short-lived");
	if (rc)
		FAIL("write '%s': %s", name, rcdesc(rc));
	rc = CALL("remove", name, ck.vt->remove(ck.inst, name));
	if (rc)
		FAIL("remove '%s': %s", name, rcdesc(rc));
	if (absent(name) || not_listed(name))
		goto out;
	rc = CALL("remove", name, ck.vt->remove(ck.inst, name));
	if (rc != CAIRN_E_NOT_FOUND)
		FAIL("second remove '%s': %s, expected CAIRN_E_NOT_FOUND", name, rcdesc(rc));
	/* and the name is free again */
	rc = put_str(name, "reborn");
	if (rc)
		FAIL("write '%s' after remove: %s", name, rcdesc(rc));
	return 1;
out:
	return 0;
}

static int t_missing(void)
{
	char name[256];
	void *r = NULL;
	nm(name, sizeof(name), "missing/never-written");
	int rc = CALL("reader_open", name, ck.vt->reader_open(ck.inst, name, &r));
	if (rc == CAIRN_OK)
		ck.vt->reader_close(r);
	if (rc != CAIRN_E_NOT_FOUND)
		FAIL("reader_open '%s': %s, expected CAIRN_E_NOT_FOUND", name, rcdesc(rc));
	return absent(name) == 0;
out:
	return 0;
}

static int t_many(void)
{
	enum { N = 200 };
	char (*full)[64] = malloc(sizeof(*full) * N);
	const char **want = malloc(sizeof(*want) * (N + 1));
	char p[256];
	int ok = 0;
	if (!full || !want)
		FAIL("out of memory");
	for (int i = 0; i < N; i++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "many/obj-%03d", i);
		nm(full[i], sizeof(full[i]), rel);
		want[i] = full[i];
		int rc = put_str(full[i], rel);
		if (rc)
			FAIL("write '%s': %s", full[i], rcdesc(rc));
	}
	want[N] = NULL;
	if (list_exactly(nm(p, sizeof(p), "many/"), want))
		goto out;
	ok = 1;
out:
	free(full);
	free(want);
	return ok;
}

static int t_errors(void)
{
	if (ck.silent)
		FAIL("%d failing call(s) without a matching set_error; first: %s", ck.silent,
		     ck.silent_first);
	return 1;
out:
	return 0;
}

/* Remove everything under the run's prefix; then nothing may be listed. */
static int t_cleanup(void)
{
	struct names l;
	if (list(ck.prefix, &l))
		goto out;
	qsort(l.v, l.n, sizeof(*l.v), cmpstr);
	for (size_t i = 0; i < l.n; i++) {
		int rc = CALL("remove", l.v[i], ck.vt->remove(ck.inst, l.v[i]));
		if (rc) {
			snprintf(ck.why, sizeof(ck.why), "remove '%s': %s", l.v[i], rcdesc(rc));
			names_free(&l);
			goto out;
		}
	}
	names_free(&l);
	static const char *const none[] = {NULL};
	if (list_exactly(ck.prefix, none))
		goto out;
	return 1;
out:
	return 0;
}

static void make_prefix(void)
{
	uint64_t r = 0;
	int fd = open("/dev/urandom", O_RDONLY);
	if (fd < 0 || read(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		r = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid() << 32 ^ (uintptr_t)&r;
	if (fd >= 0)
		close(fd);
	snprintf(ck.prefix, sizeof(ck.prefix), "cairn-check-%016llx/", (unsigned long long)r);
}

static int usage(void)
{
	fprintf(stderr, "usage: cairn-plugin-check storage PLUGIN.so LOCATION_URI\n"
			"Runs the storage conformance suite against PLUGIN.so, writing "
			"under a random prefix\nbelow LOCATION_URI and removing what it "
			"wrote. Exit 0 when every test passed.\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc != 4 || strcmp(argv[1], "storage") != 0)
		return usage();
	ck.uri = argv[3];
	make_prefix();
	fprintf(stderr, "# location %s, prefix %s\n", ck.uri, ck.prefix);

	int loaded = load(argv[2], ck.uri) == 0;
	report("load: entry point and ABI checks", loaded);
	int opened = loaded && t_open_close();
	if (loaded)
		report("open/close", opened);
	if (opened) {
		static const struct {
			const char *name;
			int (*fn)(void);
		} tests[] = {
			{"write, commit, stat and read back: small object", t_small},
			{"write, commit, stat and read back: empty object", t_empty},
			{"write, commit, stat and read back: ~20 MiB in odd-sized writes", t_large},
			{"object invisible before commit (stat, reader_open, list)", t_invisible},
			{"abort leaves nothing behind", t_abort},
			{"commit never replaces (CAIRN_E_EXISTS, original intact)", t_no_replace},
			{"list: prefix filtering, nested names, committed objects only",
			 t_list_prefix},
			{"names with spaces, unicode and '+'", t_names},
			{"remove, then stat/remove say CAIRN_E_NOT_FOUND", t_remove},
			{"reader_open of a missing name: CAIRN_E_NOT_FOUND", t_missing},
			{"200 objects listed completely", t_many},
			{"cleanup: everything written is removed", t_cleanup},
			{"every failing call set an error through host->set_error", t_errors},
		};
		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
			report(tests[i].name, tests[i].fn());
		ck.vt->close(ck.inst);
	}
	printf("%d passed, %d failed\n", ck.passed, ck.failed);
	return ck.failed ? 1 : 0;
}
