/*
 * storage.h — the core's one door to storage plugins. Every call into a
 * storage plugin goes through here: this module alone reads the vtable,
 * tests CAIRN_VT_HAS, checks what the plugin hands back (struct_size of
 * object infos), maps a failure to exit class 6 (CORE_EXIT_STORAGE; 7 for a
 * broken plugin) and keeps the plugin's error detail as the message.
 *
 * Answers that are not failures are returned without recording an exit
 * class: CAIRN_E_NOT_FOUND from stat, CAIRN_E_EXISTS from writer_begin,
 * CAIRN_E_LOCKED from remove (prune skips such a backup; delete fails).
 */
#ifndef CORE_STORAGE_H
#define CORE_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/storage.h"

struct core_run;
struct core_plugin;

struct core_storage {
	struct core_run *run;
	const struct core_plugin *plugin;
	const struct cairn_storage_vtable *vt;
	void *inst;
};

/* What stat and list report of an object (name valid for the callback / until the next call). */
struct core_object {
	const char *name;
	uint64_t size;
	int64_t mtime;
	int64_t locked_until;  /* stat only: retention (cairn/storage.h), 0 when none or unknown */
	const char *lock_mode; /* its mode, NULL when none or unknown */
};

/* The loader's check of a storage vtable; as core_source_vt_refusal (source.h). */
const char *core_storage_vt_refusal(const struct cairn_storage_vtable *vt, char *why, size_t cap,
				    unsigned *needs, const char **newest);

/* Open the plugin serving `location`'s scheme on that location, with the -O options. */
int core_storage_open(struct core_run *run, const char *location, struct core_storage *st);
/* The same with other options: a second storage (Kestra's internal storage) has its own. */
int core_storage_open_with(struct core_run *run, const char *location, const struct cairn_option *opts,
			   size_t n_opts, struct core_storage *st);
void core_storage_close(struct core_storage *st);

int core_storage_writer_begin(struct core_storage *st, const char *name, void **writer);
/*
 * Start a writer on the first free name among "<base>-N.cairn" for N =
 * first, first + 1, … (N = 0 stands for "<base>.cairn"), written to out.
 * stat skips names plainly taken; writer_begin has the last word, because a
 * run in parallel may take a name between the two: a storage that claims
 * names answers CAIRN_E_EXISTS, and the next N is tried. After 1000 names,
 * CAIRN_E_EXISTS as a failure (exit class 6).
 */
int core_storage_writer_begin_free(struct core_storage *st, const char *base, int first, char *out,
				   size_t cap, void **writer);
int core_storage_write(struct core_storage *st, void *writer, const void *buf, size_t len);
/* Commit and abort free the writer whatever happens. */
int core_storage_commit(struct core_storage *st, void *writer);
void core_storage_abort(struct core_storage *st, void *writer);

int core_storage_reader_open(struct core_storage *st, const char *name, void **reader);
/* reader_open where an absent object is an answer: CAIRN_E_NOT_FOUND is not recorded. */
int core_storage_reader_open_maybe(struct core_storage *st, const char *name, void **reader);
int core_storage_read(struct core_storage *st, void *reader, void *buf, size_t cap, size_t *got);
void core_storage_reader_close(struct core_storage *st, void *reader);

/* cb returns 0 to go on; non-zero stops the list and is returned (not recorded as a failure). */
typedef int (*core_object_cb)(void *ud, const struct core_object *obj);
int core_storage_list(struct core_storage *st, const char *prefix, core_object_cb cb, void *ud);
int core_storage_stat(struct core_storage *st, const char *name, struct core_object *out);
int core_storage_remove(struct core_storage *st, const char *name);
/*
 * An object's retention (stat) in words: "locked until 2026-12-03T18:52:36Z,
 * GOVERNANCE", "locked by a legal hold, no end date", "retention ended …";
 * "" when the storage reported none. Returns 1 while it holds at `now`.
 */
int core_object_lock_text(const struct core_object *obj, long long now, char *out, size_t cap);
/*
 * The first cap bytes of an object into buf: how many were read (fewer at
 * its end); 0 when it cannot be read. A probe, never a failure of the run.
 */
size_t core_storage_head(struct core_storage *st, const char *name, void *buf, size_t cap);
/* Remove what killed writers left under prefix; CAIRN_OK for a plugin without housekeep (ABI < 1.2). */
int core_storage_housekeep(struct core_storage *st, const char *prefix);

#endif /* CORE_STORAGE_H */
