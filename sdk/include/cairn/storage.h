/*
 * cairn/storage.h — the vtable of a storage plugin (local files, S3 …).
 *
 * A storage instance is opened on a *location* URI (a directory, a
 * bucket/prefix); objects are then named relative to it with '/'-separated
 * names ("backups/full/backup-20240917163312.cairn"). Names never start with
 * '/', never contain "." or ".." segments or empty segments; the core checks
 * this before calling.
 *
 * Safety contract: an object written through writer_begin … writer_commit
 * becomes visible under its name only when writer_commit returns CAIRN_OK,
 * complete and durable. Before that, nothing — not even a partial object —
 * is visible under the name, and writer_abort (or a crash) leaves no
 * object behind. writer_commit never replaces an existing object: it fails
 * with CAIRN_E_EXISTS instead. writer_begin may already fail with
 * CAIRN_E_EXISTS when the name is taken or another writer is writing it
 * (the fs plugin does): the core then tries the next free name, so
 * concurrent backups in the same second get distinct names.
 *
 * Threading: one instance is used by one thread at a time.
 * Ownership: inputs are borrowed for the call. Strings in a
 * cairn_object_info passed to a list callback are valid during the callback.
 */
#ifndef CAIRN_STORAGE_H
#define CAIRN_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/host.h"
#include "cairn/plugin.h"

/*
 * Feature bits of struct cairn_storage_vtable.features. A capability is
 * used only when its bit is set *and* the method it needs passes
 * CAIRN_VT_HAS; bits are never renumbered or given another meaning.
 *
 * CAIRN_STORAGE_F_RANGE_READ — reserved. ABI 1.0 set bit 0 aside for
 * reading an object from an offset, but no method for it was ever added
 * (reader_open reads from the start only) and no core reads the bit.
 * Leave it clear; it gets a meaning only together with a ranged-read
 * member appended in some later minor, documented there.
 */
#define CAIRN_STORAGE_F_RANGE_READ (UINT64_C(1) << 0)

struct cairn_object_info {
	uint32_t struct_size;
	const char *name;  /* relative to the instance's location */
	uint64_t size;     /* bytes */
	int64_t mtime;     /* seconds since the epoch (UTC) */
	/*
	 * since 1.4, optional: the object's retention as the storage reports
	 * it (stat; a list may leave them out). The caller sets struct_size and
	 * zeroes the struct; a plugin writes these members only when
	 * struct_size covers them, and leaves 0 / NULL when the object has no
	 * retention or the storage does not say. locked_until: removal is
	 * refused before this instant (seconds since the epoch, UTC);
	 * INT64_MAX for a hold without an end (a legal hold). lock_mode: the
	 * storage's word for it ("GOVERNANCE", "COMPLIANCE", "legal hold"),
	 * owned by the plugin, valid as name is.
	 */
	int64_t locked_until;
	const char *lock_mode;
};

/*
 * list callback: return 0 to go on, non-zero to stop listing (that value
 * is then returned by list()).
 */
typedef int (*cairn_list_cb)(void *ud, const struct cairn_object_info *obj);

struct cairn_storage_vtable {
	uint32_t struct_size; /* sizeof(struct cairn_storage_vtable) as compiled */
	uint64_t features;    /* CAIRN_STORAGE_F_* */

	/* ---- required (ABI 1.0) ---- */

	/*
	 * open — open the location `uri` (one of the plugin's schemes). The
	 * location need not exist yet: writers create what they need.
	 */
	int (*open)(const struct cairn_host *host, const char *uri,
		    const struct cairn_option *opts, size_t n_opts, void **inst);
	void (*close)(void *inst);

	/* writer_begin — start writing object `name`; see the safety contract. */
	int (*writer_begin)(void *inst, const char *name, void **writer);
	/* writer_write — append len bytes. Full disk: CAIRN_E_NO_SPACE. */
	int (*writer_write)(void *writer, const void *buf, size_t len);
	/* writer_commit — publish atomically; frees the writer whatever happens. */
	int (*writer_commit)(void *writer);
	/* writer_abort — discard everything written; frees the writer. */
	void (*writer_abort)(void *writer);

	/* reader_open — open object `name`; CAIRN_E_NOT_FOUND if absent. */
	int (*reader_open)(void *inst, const char *name, void **reader);
	/*
	 * reader_read — read up to cap bytes into buf; *got = 0 only at the end
	 * of the object.
	 */
	int (*reader_read)(void *reader, void *buf, size_t cap, size_t *got);
	void (*reader_close)(void *reader);

	/*
	 * list — call cb for every object whose name starts with `prefix`
	 * ("" for all), in any order, recursing into sub-directories. Objects
	 * being written (not yet committed) are never listed.
	 */
	int (*list)(void *inst, const char *prefix, cairn_list_cb cb, void *ud);
	/* stat — fill *out (name points into the plugin, valid until next call). */
	int (*stat)(void *inst, const char *name, struct cairn_object_info *out);
	/*
	 * remove — delete object `name`; CAIRN_E_NOT_FOUND if absent;
	 * CAIRN_E_LOCKED (since 1.4) when retention or a legal hold keeps it,
	 * with a detail that says until when. On a versioned store it removes
	 * the data, not only the name (S3: the version, not a delete marker).
	 */
	int (*remove)(void *inst, const char *name);

	/* ---- optional: append below with "since 1.N" ---- */

	/*
	 * housekeep (since 1.2) — remove what killed writers left under
	 * `prefix` (temporary files, incomplete uploads), and nothing else:
	 * never a committed object, never the files of a writer that is still
	 * running (another process's backup in progress). Called by the core
	 * before a backup and by prune. Best effort: a leftover it cannot
	 * remove is logged, not an error. Returns CAIRN_OK or an error for a
	 * location that cannot be read at all.
	 */
	int (*housekeep)(void *inst, const char *prefix);
};

/*
 * CAIRN_STORAGE_VT_SINCE(X) — X(member, minor) once for every member of
 * struct cairn_storage_vtable appended after ABI 1.0 (see
 * CAIRN_SOURCE_VT_SINCE in source.h). Append with each new member.
 */
#define CAIRN_STORAGE_VT_SINCE(X) X(housekeep, 2)

/*
 * cairn_storage_vt_minor — the minor ABI a storage vtable needs, as
 * cairn_source_vt_minor does for sources: the value to declare as
 * .abi_minor.
 */
static inline unsigned cairn_storage_vt_minor(const struct cairn_storage_vtable *vt,
					      const char **member)
{
	CAIRN_VT_MINOR_BODY_(CAIRN_STORAGE_VT_SINCE)
}

#endif /* CAIRN_STORAGE_H */
