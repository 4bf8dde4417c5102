/*
 * stub.h — methods that do nothing, shared by the ABI test plugins. Each
 * test plugin is one small file that gets exactly one thing wrong; the
 * stubs let it fill every other slot. Hidden: only the entry point of a
 * plugin is exported.
 */
#ifndef ABI_TEST_STUB_H
#define ABI_TEST_STUB_H

#include "cairn/plugin.h"
#include "cairn/source.h"
#include "cairn/storage.h"

int stub_storage_open(const struct cairn_host *host, const char *uri,
		      const struct cairn_option *opts, size_t n_opts, void **inst);
void stub_close(void *inst);
int stub_writer_begin(void *inst, const char *name, void **writer);
int stub_writer_write(void *writer, const void *buf, size_t len);
int stub_writer_commit(void *writer);
void stub_writer_abort(void *writer);
int stub_reader_open(void *inst, const char *name, void **reader);
int stub_reader_read(void *reader, void *buf, size_t cap, size_t *got);
void stub_reader_close(void *reader);
int stub_list(void *inst, const char *prefix, cairn_list_cb cb, void *ud);
int stub_stat(void *inst, const char *name, struct cairn_object_info *out);
int stub_remove(void *inst, const char *name);

int stub_source_open(const struct cairn_host *host, const char *uri,
		     const struct cairn_option *opts, size_t n_opts, void **inst);
int stub_describe(void *inst, struct cairn_source_desc *out);
int stub_inst(void *inst);
int stub_kind_exists(void *inst, const struct cairn_kind_desc *kind);
int stub_cursor_open(void *inst, const struct cairn_kind_desc *kind, const char *tenant,
		     void **cursor);
int stub_cursor_next(void *cursor, const struct cairn_record **rec);
void stub_cursor_close(void *cursor);
int stub_restore_begin(void *inst, const struct cairn_restore_opts *opts);
int stub_restore_delete_scope(void *inst, const struct cairn_kind_desc *kind, const char *tenant);
int stub_restore_write(void *inst, const struct cairn_kind_desc *kind,
		       const struct cairn_record *rec, int *outcome);
/* For the optional members appended later: housekeep (1.2), restore_write_batch (1.1). */
int stub_housekeep(void *inst, const char *prefix);
int stub_restore_write_batch(void *inst, const struct cairn_kind_desc *kind,
			     const struct cairn_record *const *recs, size_t n, int *outcomes);

/* Every required storage method except `list`, as designated initialisers. */
#define STUB_STORAGE_METHODS_BUT_LIST                                          \
	.open = stub_storage_open, .close = stub_close,                        \
	.writer_begin = stub_writer_begin, .writer_write = stub_writer_write,  \
	.writer_commit = stub_writer_commit, .writer_abort = stub_writer_abort, \
	.reader_open = stub_reader_open, .reader_read = stub_reader_read,      \
	.reader_close = stub_reader_close, .stat = stub_stat,                  \
	.remove = stub_remove

#define STUB_STORAGE_METHODS STUB_STORAGE_METHODS_BUT_LIST, .list = stub_list

/* Every required source method except `cursor_next`. */
#define STUB_SOURCE_METHODS_BUT_CURSOR_NEXT                                    \
	.open = stub_source_open, .close = stub_close,                         \
	.describe = stub_describe, .snapshot_begin = stub_inst,                \
	.snapshot_end = stub_inst, .kind_exists = stub_kind_exists,            \
	.cursor_open = stub_cursor_open, .cursor_close = stub_cursor_close,    \
	.restore_begin = stub_restore_begin,                                   \
	.restore_delete_scope = stub_restore_delete_scope,                     \
	.restore_write = stub_restore_write, .restore_commit = stub_inst,      \
	.restore_rollback = stub_inst

#define STUB_SOURCE_METHODS STUB_SOURCE_METHODS_BUT_CURSOR_NEXT, .cursor_next = stub_cursor_next

/* A complete, valid storage vtable (defined in stub.c). */
extern const struct cairn_storage_vtable stub_storage_vtable;
extern const char *const stub_schemes[];

#endif /* ABI_TEST_STUB_H */
