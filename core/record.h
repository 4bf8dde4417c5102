/*
 * record.h — what goes inside the inner archive, as msgpack (docs/format.md
 * "Inner archive"):
 *   manifest.msgpack          first entry: what this backup is
 *   records/<KIND>/NNNNNN.msgpack   bounded chunks of records of one kind
 *   files/<KIND>/…            internal-storage files (format 2, files.h)
 *   summary.msgpack           last entry: counts per kind
 * A record is the array [key, tenant|nil, [[column, type, value] …]];
 * JSON column values are native msgpack (codec.h), other values are str,
 * int, bool or bin by the column type (cairn/source.h).
 */
#ifndef CORE_RECORD_H
#define CORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "buf.h"
#include "cairn/source.h"

/* The newest inner format this cairn reads; a backup is written as 1 unless it covers files. */
#define CORE_FORMAT_VERSION 2
#define CORE_FORMAT_RECORDS 1 /* manifest, records, summary */
#define CORE_FORMAT_FILES 2   /* format 1 plus file entries (manifest `files`) */
#define CORE_MAX_COLUMNS 64

struct core_manifest {
	int format;
	char *tool_version;
	char *type;            /* "FULL" or "TENANT" */
	char *tenant;          /* TENANT backups; NULL for FULL */
	char *created_at;      /* ISO 8601 UTC with nanoseconds */
	char *source_plugin;   /* "postgresql" */
	char *source_backend;  /* "postgresql 15.4" */
	char *schema_version;  /* Flyway version, or NULL */
	char **kinds;          /* kinds this backup covers, sorted; empty ones included */
	char *since;           /* --since "YYYY-MM-DD HH:MM:SS" (UTC) of the execution data, or NULL */
	size_t n_kinds;
	char **files;          /* file kinds covered (format 2), in core_fkind order; empty ones included */
	size_t n_files;
};

int core_manifest_pack(const struct core_manifest *m, struct core_buf *out);
/* CAIRN_E_CORRUPT when malformed, CAIRN_E_UNSUPPORTED for a newer format. */
int core_manifest_unpack(const void *data, size_t len, struct core_manifest *m);
void core_manifest_free(struct core_manifest *m);

/* Counts per kind, parallel to a kinds list. */
int core_summary_pack(char *const *kinds, const uint64_t *counts, size_t n, struct core_buf *out);
/* Fills counts[i] for kinds[i]; a kind in the summary but not in kinds is corrupt. */
int core_summary_unpack(const void *data, size_t len, char *const *kinds, size_t n,
			uint64_t *counts);
/*
 * The same with the files (format 2): files[i] files of bytes[i] content
 * bytes for fkinds[i]; nf 0 writes what core_summary_pack writes.
 */
int core_summary_pack_files(char *const *kinds, const uint64_t *counts, size_t n,
			    char *const *fkinds, const uint64_t *files, const uint64_t *bytes, size_t nf,
			    struct core_buf *out);
/* The "files" map: required when nf > 0; a kind not in fkinds is corrupt. */
int core_summary_unpack_files(const void *data, size_t len, char *const *fkinds, size_t nf,
			      uint64_t *files, uint64_t *bytes);

/* msgpack_packer that appends to a core_buf. */
void core_packer_init(msgpack_packer *pk, struct core_buf *out);

/* Append one record to a chunk (JSON columns go through the codec). */
int core_record_pack(msgpack_packer *pk, const struct cairn_record *rec);

/*
 * Decoding a chunk: records come out one by one as struct cairn_record,
 * with JSON values turned back to text. Everything a decoded record points
 * to is owned by the iterator and valid until the next call.
 */
struct core_chunk_iter {
	const char *data;
	size_t len, off;
	msgpack_zone *zone;    /* the current record's objects; NULL until the first */
	struct core_buf key, tenant;
	struct core_buf text[CORE_MAX_COLUMNS];
	struct core_buf names[CORE_MAX_COLUMNS];
	struct cairn_column cols[CORE_MAX_COLUMNS];
	struct cairn_record rec;
	/*
	 * TENANT backups: every record must belong to scope_tenant (NULL: to no
	 * tenant) by its record tenant, its tenant_id column and the tenantId
	 * of its JSON columns (--to-tenant rewrites later: retenant.h). `kind` names the
	 * records in messages.
	 */
	int scoped;
	const char *scope_tenant;
	const char *kind;
};

/*
 * A deep copy of a record in one allocation (free() it): what a restore
 * batch keeps while the iterator moves on.
 */
struct cairn_record *core_record_dup(const struct cairn_record *rec);

void core_chunk_iter_init(struct core_chunk_iter *it, const void *data, size_t len);
/*
 * 1 and *rec set; 0 at the end of the chunk; CAIRN_E_CORRUPT on malformed
 * data and on content no restore may write: a key, tenant or text column
 * that is not UTF-8 or holds a NUL, a `key` column that differs from the
 * record's key, a record outside the iterator's tenant scope.
 */
int core_chunk_next(struct core_chunk_iter *it, const struct cairn_record **rec);
void core_chunk_iter_free(struct core_chunk_iter *it);

#endif /* CORE_RECORD_H */
