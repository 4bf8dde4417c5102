/*
 * files_backup.h — the files of a backup: which file kinds `backups create`
 * covers, reading them from Kestra's internal storage into the archive, and
 * what the create command reports of them (files.h has the model).
 *
 * Timeline: the plan is made with the record kinds, before anything is read;
 * the files are read after every record, still inside the source's
 * snapshot, so that a row of the snapshot finds the file Kestra wrote before
 * it (Kestra writes a KV value's row, then its file; a file newer than the
 * snapshot is reported as an orphan, never lost).
 */
#ifndef CORE_FILES_BACKUP_H
#define CORE_FILES_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "files.h"
#include "storage.h"

struct core_run;
struct core_source;
struct core_pipe;
struct json_t;

struct core_files_plan {
	struct core_run *run;
	struct core_storage st;       /* the internal storage (st.inst NULL: none) */
	char *kinds[CORE_FK_N];       /* covered file kinds, in core_fkind order: the manifest's `files` */
	int fk[CORE_FK_N];
	size_t n;
	uint64_t files[CORE_FK_N], bytes[CORE_FK_N];
	struct core_orphans *orphans; /* NULL when no pair of rows and files is covered */
	uint64_t other;               /* objects of no covered kind, left alone */
};

/*
 * Which file kinds a backup covers, given the record kinds it covers: none
 * without an internal storage (naming one in --resources is then a usage
 * error, exit 2); else KV_STORE and NAMESPACE_FILE, and EXECUTION_FILE with
 * --include-data, or exactly what --resources names (plus EXECUTION_FILE
 * with --include-data). Opens the internal storage and sets run->orphans.
 */
int core_files_plan_make(struct core_run *run, char *const *kinds, size_t n_kinds,
			 struct core_files_plan *p);
/*
 * Read the covered files of `scope` into the archive through the pipe, in
 * kind order, each kind's files sorted by name. src answers which tenants
 * exist, for a backup of the files without a tenant (their root holds the
 * tenants' directories too). Memory: the listing (one name per object),
 * one part and the pipe's slots; never a whole file.
 */
int core_files_backup(struct core_files_plan *p, struct core_source *src, char *const *kinds,
		      size_t n_kinds, const struct cairn_scope *scope, struct core_pipe *pipe);
/* The "Files summary" line and the orphan check; with json, their objects into o. */
void core_files_plan_report(struct core_files_plan *p, struct json_t *o);
void core_files_plan_free(struct core_files_plan *p);

#endif /* CORE_FILES_BACKUP_H */
