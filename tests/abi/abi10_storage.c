/*
 * abi10_storage.c — a storage plugin built against the frozen ABI 1.0
 * headers in tests/abi/sdk-1.0 and nothing else (no Cairn::sdk). The
 * current core must load it and call it correctly: see test_loader.c.
 *
 * It is written the way a plugin author of the 1.0 era would: the
 * CAIRN_PLUGIN_DEFINE boilerplate, every required method, one object that
 * list and stat report, so the test sees whether the core still reads the
 * 1.0 vtable layout at the right offsets.
 */
#include <string.h>

#include "cairn/plugin.h"
#include "cairn/storage.h"

#if CAIRN_ABI_MAJOR != 1 || CAIRN_ABI_MINOR != 0
#error "abi10_storage.c must be built against tests/abi/sdk-1.0 only"
#endif

#define ABI10_OBJECT "abi10/object"
#define ABI10_SIZE 1010

struct abi10 {
	const struct cairn_host *host;
};

static int abi10_open(const struct cairn_host *host, const char *uri,
		      const struct cairn_option *opts, size_t n_opts, void **inst)
{
	(void)opts, (void)n_opts;
	if (strncmp(uri, "abi10://", 8) != 0)
		return host->set_error(host, CAIRN_E_INVALID, "not an abi10 uri '%s'", uri);
	struct abi10 *a = host->alloc(host, sizeof(*a));
	if (!a)
		return CAIRN_E_NOMEM;
	a->host = host;
	*inst = a;
	return CAIRN_OK;
}

static void abi10_close(void *inst)
{
	struct abi10 *a = inst;
	if (a)
		a->host->free(a->host, a);
}

static int abi10_writer_begin(void *inst, const char *name, void **writer)
{
	struct abi10 *a = inst;
	(void)writer;
	return a->host->set_error(a->host, CAIRN_E_UNSUPPORTED, "read-only: '%s'", name);
}

static int abi10_writer_write(void *writer, const void *buf, size_t len)
{
	(void)writer, (void)buf, (void)len;
	return CAIRN_E_UNSUPPORTED;
}

static int abi10_writer_commit(void *writer)
{
	(void)writer;
	return CAIRN_E_UNSUPPORTED;
}

static void abi10_writer_abort(void *writer) { (void)writer; }

static int abi10_reader_open(void *inst, const char *name, void **reader)
{
	(void)inst, (void)name, (void)reader;
	return CAIRN_E_NOT_FOUND;
}

static int abi10_reader_read(void *reader, void *buf, size_t cap, size_t *got)
{
	(void)reader, (void)buf, (void)cap;
	*got = 0;
	return CAIRN_OK;
}

static void abi10_reader_close(void *reader) { (void)reader; }

static void abi10_fill(struct cairn_object_info *o)
{
	o->struct_size = sizeof(*o);
	o->name = ABI10_OBJECT;
	o->size = ABI10_SIZE;
	o->mtime = 0;
}

static int abi10_list(void *inst, const char *prefix, cairn_list_cb cb, void *ud)
{
	(void)inst;
	struct cairn_object_info o;
	abi10_fill(&o);
	if (strncmp(o.name, prefix, strlen(prefix)) != 0)
		return CAIRN_OK;
	return cb(ud, &o);
}

static int abi10_stat(void *inst, const char *name, struct cairn_object_info *out)
{
	(void)inst;
	if (strcmp(name, ABI10_OBJECT) != 0)
		return CAIRN_E_NOT_FOUND;
	abi10_fill(out);
	return CAIRN_OK;
}

static int abi10_remove(void *inst, const char *name)
{
	(void)inst, (void)name;
	return CAIRN_E_UNSUPPORTED;
}

static const char *const abi10_schemes[] = {"abi10", NULL};

static const struct cairn_storage_vtable abi10_vtable = {
	.struct_size = sizeof(struct cairn_storage_vtable),
	.open = abi10_open,
	.close = abi10_close,
	.writer_begin = abi10_writer_begin,
	.writer_write = abi10_writer_write,
	.writer_commit = abi10_writer_commit,
	.writer_abort = abi10_writer_abort,
	.reader_open = abi10_reader_open,
	.reader_read = abi10_reader_read,
	.reader_close = abi10_reader_close,
	.list = abi10_list,
	.stat = abi10_stat,
	.remove = abi10_remove,
};

CAIRN_PLUGIN_DEFINE(.name = "abi10", .version = "1.0.0",
		    .description = "plugin built against the frozen ABI 1.0 headers",
		    .kind = CAIRN_PLUGIN_KIND_STORAGE, .schemes = abi10_schemes,
		    .vtable = &abi10_vtable)
