/*
 * files.h — Kestra's internal-storage files in a backup (docs/full-backup.md):
 * KV values, namespace files and execution files, read from and written to
 * the instance's internal storage through a storage plugin opened on its own
 * URI (--internal-storage), and carried in the archive as file entries
 * (docs/format.md, "Files", inner format 2).
 *
 * Names. A storage name is relative to the internal storage's root, as
 * Kestra's local storage lays it out: a kestra:///x/y URI of tenant T is
 * "T/x/y", and "x/y" for the records without a tenant (open-source Kestra
 * before 0.23). A namespace is a path with '.' → '/': company.team →
 * company/team. So, below the tenant:
 *   <ns>/_kv/<name>.ion[.v<N>]           KV value (version N > 1 adds .vN)
 *   <ns>/_files/<path>[.v<N>]            namespace file
 *   <ns>/<flow>/executions/<id>/…        execution file
 *   <file>.metadata                      sidecar of <file>, carried with it
 *
 * This module is the model both ends share: the file kinds, how a name is
 * classified, which archive paths are acceptable, the file entries' names
 * and head, the reader's checks of file entries, and the orphan check
 * (metadata rows without their file, files without their row).
 * files_backup.c reads the internal storage into a backup; files_restore.c
 * writes a backup's files back.
 */
#ifndef CORE_FILES_H
#define CORE_FILES_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "buf.h"
#include "cairn/source.h"

struct core_run;
struct json_t;

/* File kinds, in catalogue (alphabetical) order: the manifest lists them so. */
enum core_fkind {
	CORE_FK_EXECUTION = 0, /* EXECUTION_FILE: execution data, only with --include-data */
	CORE_FK_KV = 1,        /* KV_STORE: KV values; selects the KV rows too */
	CORE_FK_NAMESPACE = 2, /* NAMESPACE_FILE: shares its name with the metadata kind */
	CORE_FK_N = 3
};

extern const char *const core_fkind_names[CORE_FK_N];

/* Index of a file kind's name, or -1. */
int core_fkind_index(const char *name);

/*
 * The file kind a storage name (relative to the internal storage root)
 * belongs to, or -1 for anything else (the state store, caches, Kestra's
 * own backups …), which a backup leaves alone. The first segment that
 * decides wins, scanning from the left: "_kv" as the next-to-last segment
 * (at least one segment before it), "_files" with at least one segment
 * before and after it, "executions" with at least two segments before and
 * two after it.
 */
int core_file_classify(const char *name);

/* Largest file path in an archive, and largest sidecar carried in a head. */
#define CORE_FILE_PATH_MAX 1024
#define CORE_FILE_SEGMENT_MAX 255
#define CORE_SIDECAR_MAX (1u << 20)
/* Content goes into parts of at most this many bytes (the reader takes any size up to CORE_ENTRY_MAX). */
#define CORE_FILE_PART (4u * 1024 * 1024)
/* Files per kind and parts per file: the digits of their entry names. */
#define CORE_FILE_NUM_MAX 99999999u
#define CORE_FILE_PARTS_MAX 999999u

/*
 * Why `p` (len bytes) may not be a file path in an archive, or NULL when it
 * may: empty, longer than CORE_FILE_PATH_MAX, not UTF-8, a control byte
 * (NUL included), a backslash, a leading '/', an empty, "." or ".."
 * segment, a segment over CORE_FILE_SEGMENT_MAX bytes.
 */
const char *core_file_path_refusal(const char *p, size_t len);

/*
 * Entry names: files/<KIND>/NNNNNNNN/head.msgpack, then
 * files/<KIND>/NNNNNNNN/PPPPPP.part for P = 1, 2, …; NNNNNNNN counts the
 * kind's files from 1. Parse: 0 with *num set and *part 0 for a head,
 * P for a part; -1 for any other name.
 */
void core_file_entry_name(char *out, size_t cap, const char *kind, unsigned num, unsigned part);
int core_file_entry_parse(const char *name, char *kind, size_t cap, unsigned *num, unsigned *part);

/*
 * The head of one file: which file, and what its parts must add up to.
 * tenant NULL: path is relative to the storage root (FULL backups, and
 * TENANT backups of the records without a tenant); else to tenant's
 * directory. The hash is BLAKE2b-256 of the content (the parts, sidecar
 * not included).
 */
struct core_file_head {
	const char *tenant;
	const char *path;
	uint64_t size;
	unsigned char hash[32];
	int has_sidecar;
	const void *sidecar;   /* the <file>.metadata bytes when has_sidecar */
	size_t sidecar_len;
};

int core_file_head_pack(const struct core_file_head *h, struct core_buf *out);

/*
 * The storage name of a file in a tenant: "tenant/path", or path for NULL.
 * CAIRN_E_NOMEM or CAIRN_OK.
 */
int core_file_storage_name(const char *tenant, const char *path, struct core_buf *out);

/*
 * Reading file entries (backup_read.c hands every files/ entry here).
 * Hooks, when set, receive each file as it is read: begin after its head
 * passed every check, data per part, end once its size and hash are
 * verified — so a restore commits a file only in `end`. A hook's failure
 * (exit class set) stops the read and is returned.
 */
struct core_file_events {
	int (*begin)(void *ud, int fk, const struct core_file_head *h);
	int (*data)(void *ud, const void *buf, size_t len);
	int (*end)(void *ud);
	void *ud;
};

struct core_orphans;

struct core_file_in {
	/* set up by the reader from the manifest */
	char **kinds;           /* manifest `files`, in order */
	int fk[CORE_FK_N];      /* enum core_fkind of kinds[i] */
	size_t n_kinds;
	int scoped;             /* TENANT backup: every file of scope_tenant */
	const char *scope_tenant;
	const struct core_file_events *ev;
	struct core_orphans *orphans;
	/* counted, for the summary */
	uint64_t files[CORE_FK_N], bytes[CORE_FK_N];
	/* the iteration */
	size_t ki;              /* kind of the current or last file */
	unsigned num, part;     /* its number, and the last part read */
	int open;               /* a head was read and its parts are not all in */
	uint64_t size, got;
	unsigned char hash[32];
	crypto_generichash_state hs;
	struct core_buf tenant, path, sidecar, prev;
};

void core_file_in_init(struct core_file_in *in);
/*
 * One entry: 1 when `name` is a file entry and passed its checks, 0 when
 * it is no file entry at all (the caller judges it), <0 (CAIRN_E_CORRUPT
 * with the message, or a hook's failure) otherwise.
 */
int core_file_in_entry(struct core_file_in *in, const char *name, const void *data, size_t len);
/* At the summary: CAIRN_E_CORRUPT when a file's parts are not all in. */
int core_file_in_finish(struct core_file_in *in);
void core_file_in_free(struct core_file_in *in);

/*
 * The orphan check. Rows are noted from the records of KV and
 * NAMESPACE_FILE (their JSON value names the file: namespace, name or path,
 * version; rows marked deleted and namespace-file directories expect no
 * file), files from the storage names of KV_STORE and NAMESPACE_FILE
 * files. A side is compared only when both its kinds are covered. Memory:
 * one name per row and per file of those two kinds.
 */
struct core_orphans;

struct core_orphans *core_orphans_new(int kv_rows, int kv_files, int ns_rows, int ns_files);
/* The check a backup's manifest allows: the kinds it covers, from the archive alone. */
struct core_manifest;
struct core_orphans *core_orphans_for(const struct core_manifest *m);
void core_orphans_free(struct core_orphans *o);
/* A record of `kind` (others are ignored). CAIRN_E_NOMEM or CAIRN_OK. */
int core_orphans_note_record(struct core_orphans *o, const char *kind, const struct cairn_record *rec);
/* A file by its storage name and kind (CORE_FK_*; EXECUTION files are ignored). */
int core_orphans_note_file(struct core_orphans *o, int fk, const char *name);
/*
 * Compare, warn (up to a handful of lines per side, then a count) and, for
 * --output json, return an object {"rows_without_file": [...],
 * "files_without_row": [...], "rows_without_file_count": n, …} (lists cut at
 * 1000), or NULL. Never a failure: an instance with orphans needs its backup
 * most. NULL o (nothing to check) reports nothing.
 */
struct json_t *core_orphans_report(struct core_orphans *o, int json);

/*
 * Where the internal storage is: `uri` (--internal-storage), else
 * CAIRN_INTERNAL_STORAGE, else [internal-storage] uri; its options: `opts`
 * (--internal-storage-option), then every other key of [internal-storage]
 * not given there. Sets run->internal_storage_uri (NULL: none) and
 * run->internal_opts (freed by core_files_unconfigure). CAIRN_E_NOMEM or
 * CAIRN_OK.
 */
int core_files_configure(struct core_run *run, const char *uri, const struct cairn_option *opts,
			 size_t n_opts);
void core_files_unconfigure(struct core_run *run);

/*
 * What an operator may see of a file name from an archive or a storage:
 * len bytes of s, control bytes as '?', cut to cap with "...".
 */
const char *core_name_shown(const char *s, size_t len, char *buf, size_t cap);

/* "[KV_STORE: 3 files, 120 bytes, …]" for kinds[i] / files / bytes, cut to cap. */
void core_files_format(char *const *kinds, size_t n, const uint64_t *files, const uint64_t *bytes,
		       char *out, size_t cap);

#endif /* CORE_FILES_H */
