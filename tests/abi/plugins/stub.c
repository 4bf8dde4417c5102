/* stub.c — see stub.h. Parameters are unused on purpose. */
#include "stub.h"

int stub_storage_open(const struct cairn_host *host, const char *uri,
		      const struct cairn_option *opts, size_t n_opts, void **inst)
{
	(void)host, (void)uri, (void)opts, (void)n_opts;
	*inst = NULL;
	return CAIRN_OK;
}

void stub_close(void *inst) { (void)inst; }

int stub_writer_begin(void *inst, const char *name, void **writer)
{
	(void)inst, (void)name, (void)writer;
	return CAIRN_E_UNSUPPORTED;
}

int stub_writer_write(void *writer, const void *buf, size_t len)
{
	(void)writer, (void)buf, (void)len;
	return CAIRN_E_UNSUPPORTED;
}

int stub_writer_commit(void *writer)
{
	(void)writer;
	return CAIRN_E_UNSUPPORTED;
}

void stub_writer_abort(void *writer) { (void)writer; }

int stub_reader_open(void *inst, const char *name, void **reader)
{
	(void)inst, (void)name, (void)reader;
	return CAIRN_E_NOT_FOUND;
}

int stub_reader_read(void *reader, void *buf, size_t cap, size_t *got)
{
	(void)reader, (void)buf, (void)cap;
	*got = 0;
	return CAIRN_OK;
}

void stub_reader_close(void *reader) { (void)reader; }

int stub_list(void *inst, const char *prefix, cairn_list_cb cb, void *ud)
{
	(void)inst, (void)prefix, (void)cb, (void)ud;
	return CAIRN_OK;
}

int stub_stat(void *inst, const char *name, struct cairn_object_info *out)
{
	(void)inst, (void)name, (void)out;
	return CAIRN_E_NOT_FOUND;
}

int stub_remove(void *inst, const char *name)
{
	(void)inst, (void)name;
	return CAIRN_E_NOT_FOUND;
}

int stub_source_open(const struct cairn_host *host, const char *uri,
		     const struct cairn_option *opts, size_t n_opts, void **inst)
{
	return stub_storage_open(host, uri, opts, n_opts, inst);
}

int stub_describe(void *inst, struct cairn_source_desc *out)
{
	(void)inst, (void)out;
	return CAIRN_E_UNSUPPORTED;
}

int stub_inst(void *inst)
{
	(void)inst;
	return CAIRN_OK;
}

int stub_kind_exists(void *inst, const struct cairn_kind_desc *kind)
{
	(void)inst, (void)kind;
	return 0;
}

int stub_cursor_open(void *inst, const struct cairn_kind_desc *kind, const char *tenant,
		     void **cursor)
{
	(void)inst, (void)kind, (void)tenant, (void)cursor;
	return CAIRN_E_UNSUPPORTED;
}

int stub_cursor_next(void *cursor, const struct cairn_record **rec)
{
	(void)cursor, (void)rec;
	return 0;
}

void stub_cursor_close(void *cursor) { (void)cursor; }

int stub_restore_begin(void *inst, const struct cairn_restore_opts *opts)
{
	(void)inst, (void)opts;
	return CAIRN_E_UNSUPPORTED;
}

int stub_restore_delete_scope(void *inst, const struct cairn_kind_desc *kind, const char *tenant)
{
	(void)inst, (void)kind, (void)tenant;
	return CAIRN_E_UNSUPPORTED;
}

int stub_restore_write(void *inst, const struct cairn_kind_desc *kind,
		       const struct cairn_record *rec, int *outcome)
{
	(void)inst, (void)kind, (void)rec, (void)outcome;
	return CAIRN_E_UNSUPPORTED;
}

/* Signatures of members appended after 1.0, spelt in 1.0 types: stub.c is
 * also built against the frozen headers. */
int stub_housekeep(void *inst, const char *prefix)
{
	(void)inst, (void)prefix;
	return CAIRN_OK;
}

int stub_restore_write_batch(void *inst, const struct cairn_kind_desc *kind,
			     const struct cairn_record *const *recs, size_t n, int *outcomes)
{
	(void)inst, (void)kind, (void)recs, (void)n, (void)outcomes;
	return CAIRN_E_UNSUPPORTED;
}

const struct cairn_storage_vtable stub_storage_vtable = {
	.struct_size = sizeof(struct cairn_storage_vtable),
	STUB_STORAGE_METHODS,
};

const char *const stub_schemes[] = {"abibad", NULL};
