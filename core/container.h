/*
 * container.h — the inner archive: a pax tar stream compressed with zstd,
 * written with libarchive into an envelope (envelope.h) and read back from
 * one. Entries are whole, bounded files (manifest, record chunks, summary):
 * each is at most CORE_ENTRY_MAX bytes, so memory stays bounded whatever the
 * size of the backup.
 */
#ifndef CORE_CONTAINER_H
#define CORE_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

#define CORE_ENTRY_MAX (64u * 1024 * 1024)

struct core_archive_writer;
struct core_archive_reader;

/*
 * The zstd level when none is configured. Measured on the bench data set
 * (bench/RESULTS.md, "Compression level"): level 1 compresses twice as fast
 * as zstd's default 3 and, on Kestra's repetitive JSON, no larger; the
 * backup is bound by the source, so a slower level only costs time.
 */
#define CORE_ZSTD_LEVEL_DEFAULT 1
#define CORE_ZSTD_LEVEL_MAX 19

/*
 * Start a tar+zstd stream whose bytes go to core_env_write(env), compressed
 * at `level` (1…CORE_ZSTD_LEVEL_MAX; 0 means CORE_ZSTD_LEVEL_DEFAULT).
 * Readers need no level: every level reads the same way.
 */
int core_archive_writer_new(struct core_env_writer *env, int level,
			    struct core_archive_writer **out);
/* Add one regular file entry. */
int core_archive_put(struct core_archive_writer *w, const char *name, const void *data, size_t len);
/* End the tar stream and the compressor, then core_env_finish(env). */
int core_archive_writer_finish(struct core_archive_writer *w);
void core_archive_writer_free(struct core_archive_writer *w);
/* Compressed bytes handed to the envelope so far. */
uint64_t core_archive_bytes_out(const struct core_archive_writer *w);

/* Read a tar+zstd stream from core_env_read(env). */
int core_archive_reader_new(struct core_env_reader *env, struct core_archive_reader **out);
/*
 * Next entry: 1 with *name, *data and *len set (valid until the next call),
 * 0 at the end — returned only once the envelope has verified its final
 * message and that nothing follows it — or <0 (CAIRN_E_CORRUPT …).
 * Only regular files of at most CORE_ENTRY_MAX bytes are accepted.
 */
int core_archive_next(struct core_archive_reader *r, const char **name, const void **data,
		      size_t *len);
void core_archive_reader_free(struct core_archive_reader *r);

#endif /* CORE_CONTAINER_H */
