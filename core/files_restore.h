/*
 * files_restore.h — a backup's files written back to Kestra's internal
 * storage by `backups restore` (files.h has the model; docs/full-backup.md
 * the operator's view).
 *
 * Each file is compared with what the target holds under its name before a
 * byte is written: absent → new; same size and BLAKE2b-256 (and the same
 * sidecar, when the backup has one) → unchanged, nothing written; else
 * changed. A new or changed file is written through the storage writer and
 * published by its commit, only once the reader has checked its size and
 * hash (core_file_events.end), so no half-written or unverified file is ever
 * visible. A changed file is first removed, since storage plugins never
 * replace an object (cairn/storage.h): between the two, the name is absent
 * for a moment. --dry-run counts the same outcomes and writes nothing.
 * Files are never deleted from the target, --replace or not.
 */
#ifndef CORE_FILES_RESTORE_H
#define CORE_FILES_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "files.h"
#include "storage.h"

struct core_run;
struct core_manifest;
struct json_t;

#define CORE_FILES_WRITTEN_SHOWN 20

struct core_files_restore {
	struct core_run *run;
	struct core_storage st;            /* the target internal storage (st.inst NULL: none) */
	int dry_run;
	const char *to_tenant;
	unsigned char in_backup[CORE_FK_N]; /* the manifest covers the kind */
	unsigned char chosen[CORE_FK_N];    /* ... and --resources (or its absence) takes it */
	uint64_t n[CORE_FK_N][4];           /* [0] files read; then enum cairn_write_outcome */
	uint64_t not_restored;              /* chosen, but no internal storage to write to */
	struct core_file_events ev;
	/* the file being read */
	int fk, outcome, write_content, write_sidecar;
	void *writer;
	struct core_buf name, sidecar, tmp;
	/* what was written, for the warning after a failure */
	uint64_t written;
	char *shown[CORE_FILES_WRITTEN_SHOWN];
};

/*
 * Before the target is touched: which file kinds are restored (--resources
 * naming a file kind the backup does not cover is a usage error), and the
 * internal storage opened when one is given and a chosen kind is covered.
 */
int core_files_restore_begin(struct core_run *run, const struct core_manifest *m, int dry_run,
			     const char *to_tenant, struct core_files_restore *fr);
/* 1 when this restore writes files (so the backup is read whole before). */
int core_files_restore_writes(const struct core_files_restore *fr);
/* After the commit: the files' lines; with json, a "files" object into o. */
void core_files_restore_report(struct core_files_restore *fr, struct json_t *o);
/* After a failure: the files already written stay; say which. */
void core_files_restore_failed(const struct core_files_restore *fr);
void core_files_restore_end(struct core_files_restore *fr);

#endif /* CORE_FILES_RESTORE_H */
