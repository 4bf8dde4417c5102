/*
 * abi10_core.c — a minimal plugin loader that knows only ABI 1.0: it is
 * built against the frozen headers in sdk-1.0/ (nothing of the current SDK
 * or core) and applies the checks a 1.0 core applies, in that core's order
 * and words. It answers the question the current core cannot: does a
 * plugin built against today's headers still load into a cairn that is
 * older than them?
 *
 *   abi10_core accept FILE.so | refuse FILE.so FRAGMENT  [ … ]
 *
 * Each "accept" file must pass every check and, when it is a storage
 * plugin, answer open/list/close through the 1.0 table layout; each
 * "refuse" file must be refused with FRAGMENT in the reason. Output is one
 * "ok"/"not ok" line per case; the exit status is the number of failures.
 *
 * Its host repeats the core's trivial services (malloc, free, stderr) on
 * purpose: the core's and the kit's are compiled against today's headers,
 * and this file must compile against the frozen ones alone.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/plugin.h"
#include "cairn/source.h"
#include "cairn/storage.h"

#if CAIRN_ABI_MAJOR != 1 || CAIRN_ABI_MINOR != 0
#error "abi10_core must be built against the frozen ABI 1.0 headers (tests/abi/sdk-1.0)"
#endif

static void h_log(const struct cairn_host *h, enum cairn_log_level level, const char *plugin,
		  const char *fmt, ...) CAIRN_PRINTF(4, 5);
static int h_set_error(const struct cairn_host *h, int status, const char *fmt, ...)
	CAIRN_PRINTF(3, 4);

static void h_log(const struct cairn_host *h, enum cairn_log_level level, const char *plugin,
		  const char *fmt, ...)
{
	(void)h, (void)level;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "# %s: ", plugin ? plugin : "?");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int h_set_error(const struct cairn_host *h, int status, const char *fmt, ...)
{
	(void)h;
	va_list ap;
	va_start(ap, fmt);
	fputs("# error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return status;
}

static const char *h_config_get(const struct cairn_host *h, const char *section, const char *key)
{
	(void)h, (void)section, (void)key;
	return NULL;
}

static void *h_alloc(const struct cairn_host *h, size_t size)
{
	(void)h;
	return malloc(size);
}

static void h_free(const struct cairn_host *h, void *p)
{
	(void)h;
	free(p);
}

static int h_cancelled(const struct cairn_host *h)
{
	(void)h;
	return 0;
}

static void h_progress(const struct cairn_host *h, uint64_t done, uint64_t total)
{
	(void)h, (void)done, (void)total;
}

static void h_redact(const struct cairn_host *h, const char *secret)
{
	(void)h, (void)secret;
}

/* The host exactly as a 1.0 core builds it: its struct_size is the 1.0 one. */
static const struct cairn_host host = {
	.struct_size = sizeof(struct cairn_host),
	.abi_major = CAIRN_ABI_MAJOR,
	.abi_minor = CAIRN_ABI_MINOR,
	.log = h_log,
	.set_error = h_set_error,
	.config_get = h_config_get,
	.alloc = h_alloc,
	.free = h_free,
	.cancelled = h_cancelled,
	.progress = h_progress,
	.redact = h_redact,
};

#define END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

static char reason[512];

static int refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int refuse(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return -1;
}

static int count_object(void *ud, const struct cairn_object_info *o)
{
	(void)o;
	++*(int *)ud;
	return 0;
}

/* The 1.0 loader's checks; with every vtable read through the 1.0 layout. */
static int load(const char *path)
{
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		const char *e = dlerror();
		return refuse("dlopen failed: %s", e ? e : "unknown error");
	}
	cairn_plugin_entry_fn entry;
	*(void **)&entry = dlsym(dl, CAIRN_PLUGIN_ENTRY_NAME);
	if (!entry)
		return refuse("no %s symbol: not a Cairn plugin", CAIRN_PLUGIN_ENTRY_NAME);
	const struct cairn_plugin_info *info = entry(&host);
	if (!info)
		return refuse("entry point returned no plugin info");
	if (info->struct_size < sizeof(struct cairn_plugin_info))
		return refuse("plugin info struct too small (%u bytes)", info->struct_size);
	if (info->abi_major != CAIRN_ABI_MAJOR)
		return refuse("built for plugin ABI %u.%u; this cairn supports ABI %d",
			      info->abi_major, info->abi_minor, CAIRN_ABI_MAJOR);
	if (info->abi_minor > CAIRN_ABI_MINOR)
		return refuse("built for plugin ABI %u.%u, newer than this cairn's %d.%d; "
			      "upgrade cairn",
			      info->abi_major, info->abi_minor, CAIRN_ABI_MAJOR, CAIRN_ABI_MINOR);
	if (!info->name || !*info->name || !info->version || !info->schemes ||
	    !info->schemes[0] || !info->vtable)
		return refuse("missing required member");
	if (info->kind == CAIRN_PLUGIN_KIND_SOURCE) {
		const struct cairn_source_vtable *vt = info->vtable;
		if (vt->struct_size < sizeof(*vt))
			return refuse("source vtable too small (%u bytes)", vt->struct_size);
		if (!CAIRN_VT_HAS(vt, open) || !CAIRN_VT_HAS(vt, cursor_next) ||
		    !CAIRN_VT_HAS(vt, restore_rollback))
			return refuse("missing required method");
		return 0;
	}
	if (info->kind != CAIRN_PLUGIN_KIND_STORAGE)
		return refuse("unknown plugin kind %u", info->kind);
	const struct cairn_storage_vtable *vt = info->vtable;
	if (vt->struct_size < END_OF(struct cairn_storage_vtable, remove))
		return refuse("storage vtable too small (%u bytes)", vt->struct_size);
	if (!CAIRN_VT_HAS(vt, open) || !CAIRN_VT_HAS(vt, list) || !CAIRN_VT_HAS(vt, close) ||
	    !CAIRN_VT_HAS(vt, remove))
		return refuse("missing required method");
	/* the stubs and the frozen fixture open anything; real plugins are only checked */
	if (strcmp(info->schemes[0], "abigood") == 0 || strcmp(info->schemes[0], "abi10") == 0) {
		void *inst = NULL;
		char uri[64];
		snprintf(uri, sizeof(uri), "%s://here", info->schemes[0]);
		if (vt->open(&host, uri, NULL, 0, &inst) != CAIRN_OK)
			return refuse("open failed");
		int n = 0;
		int rc = vt->list(inst, "", count_object, &n);
		vt->close(inst);
		if (rc != CAIRN_OK)
			return refuse("list failed (%d)", rc);
	}
	return 0; /* stays loaded until exit, as in the core */
}

int main(int argc, char **argv)
{
	int failed = 0, n = 0;
	for (int i = 1; i < argc;) {
		int accept = strcmp(argv[i], "accept") == 0;
		if ((!accept && strcmp(argv[i], "refuse") != 0) || i + 1 + !accept >= argc) {
			fprintf(stderr, "usage: abi10_core accept FILE | refuse FILE FRAGMENT …\n");
			return 2;
		}
		const char *path = argv[i + 1], *want = accept ? NULL : argv[i + 2];
		i += accept ? 2 : 3;
		reason[0] = '\0';
		int rc = load(path);
		n++;
		if (accept && rc == 0)
			printf("ok %d - a 1.0 core accepts %s\n", n, path);
		else if (!accept && rc != 0 && strstr(reason, want))
			printf("ok %d - a 1.0 core refuses %s: %s\n", n, path, reason);
		else {
			printf("not ok %d - %s: %s\n", n, path,
			       rc == 0 ? "accepted" : reason);
			failed++;
		}
	}
	printf("%d passed, %d failed\n", n - failed, failed);
	return failed;
}
