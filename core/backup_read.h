/*
 * backup_read.h — reading a backup: storage reader → envelope → inner
 * archive, the manifest first, then its records one by one, each decoded
 * and checked (record.h) as it comes. The commands that read (restore,
 * verify, info) drive the loop themselves:
 *
 *     core_backup_open(run, uri, &o);
 *     while ((r = core_backup_next(&o, &ki, &rec)) == 1)
 *             … rec is of kind o.manifest->kinds[ki] …
 *     r == 0: the archive was read to its authenticated end and every
 *             count matches the summary (o.counts); r < 0: failure, exit
 *             class set.
 *
 * File entries (format 2) are read and checked inside core_backup_next as
 * they come, between records and the summary; a command that wants them
 * sets hooks with core_backup_watch (files.h) before the loop.
 */
#ifndef CORE_BACKUP_READ_H
#define CORE_BACKUP_READ_H

#include <stddef.h>
#include <stdint.h>

#include "files.h"
#include "record.h"
#include "storage.h"

struct core_run;
struct core_keyring;
struct core_archive_reader;
struct core_env_reader;

struct core_opened {
	struct core_run *run;
	struct core_storage st;
	void *reader;
	struct core_env_reader *env;
	struct core_archive_reader *ar;
	struct core_manifest *manifest;
	uint64_t *counts;        /* records read per manifest kind */
	/* the iteration */
	uint64_t *expected;      /* per kind, from the summary */
	struct core_chunk_iter it;
	int in_chunk, seen_summary, done;
	size_t ki;
	/* files (format 2): per manifest file kind, from the summary; the reader's state */
	uint64_t *files_expected, *bytes_expected;
	struct core_file_in fin;
};

/*
 * Open a backup and read its manifest. Where any key is configured
 * (instance key, passphrase, identity), an unencrypted backup is refused
 * (exit 3) unless run->allow_unencrypted: whoever can write to the storage
 * could otherwise plant one.
 */
int core_backup_open(struct core_run *run, const char *uri, struct core_opened *o);
/* The same with the keys of *kr (borrowed for the call) instead of the run's. */
int core_backup_open_with(struct core_run *run, const char *uri, const struct core_keyring *kr,
			  struct core_opened *o);
/*
 * The exit class of a failure to open an envelope (core_env_reader_new):
 * a key that opens nothing or is malformed 3, damage or an unsupported
 * version 4, memory 1, anything else the storage's 6. Passes rc through.
 */
int core_backup_open_fail(struct core_run *run, int rc);
/* The next record: 1, 0 at the verified end, <0 on failure (see above). */
int core_backup_next(struct core_opened *o, size_t *kind_index, const struct cairn_record **rec);
void core_backup_close(struct core_opened *o);
/*
 * Hooks for the files as they are read (NULL: checked only), and an orphan
 * check fed with the KV / namespace-file records and files read (NULL:
 * none). Call after core_backup_open, before the first core_backup_next.
 */
void core_backup_watch(struct core_opened *o, const struct core_file_events *ev,
		       struct core_orphans *orphans);

/* "records/FLOW/000001.msgpack" → "FLOW" (0), or -1 for any other name. */
int core_chunk_name_kind(const char *name, char *kind, size_t cap);

#endif /* CORE_BACKUP_READ_H */
