/*
 * engine.h — what the commands share: the run context (plugins, catalogue,
 * keys, locations), storage/source handles over the plugin vtables, URI
 * resolution, and the exit-code classes.
 */
#ifndef CORE_ENGINE_H
#define CORE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "keys.h"
#include "kinds.h"
#include "plugin_loader.h"

struct core_archive_reader;
struct core_manifest;

/* Exit codes: stable, documented in --help, README and cairn(1). */
enum core_exit {
	CORE_EXIT_OK = 0,
	CORE_EXIT_FAILURE = 1,   /* anything not below (out of memory, bug) */
	CORE_EXIT_USAGE = 2,     /* bad command line, URI or configuration */
	CORE_EXIT_KEY = 3,       /* no key, malformed key, or no key opens the backup */
	CORE_EXIT_CORRUPT = 4,   /* archive corrupted, truncated or of an unsupported format */
	CORE_EXIT_SOURCE = 5,    /* metadata source: unreachable, refused, schema mismatch */
	CORE_EXIT_STORAGE = 6,   /* storage: unreachable, not found, full, permission */
	CORE_EXIT_PLUGIN = 7,    /* no plugin for a scheme, or the plugin was refused */
	CORE_EXIT_CANCELLED = 130
};

struct core_run {
	struct core_plugins plugins;
	struct core_kinds kinds;
	const char *source_uri;     /* --source, [source] uri, CAIRN_SOURCE */
	const char *storage_uri;    /* --storage, [storage] uri, CAIRN_STORAGE, default */
	int storage_is_default;     /* storage_uri is what cairn:/// resolves to */
	struct cairn_option *source_opts;
	size_t n_source_opts;
	struct cairn_option *storage_opts;
	size_t n_storage_opts;
	/* keys */
	unsigned char instance_key[64];
	size_t instance_key_len;      /* 0: no instance key configured */
	const char *passphrase;       /* --encryption-key / -file / CAIRN_BACKUP_PASSPHRASE */
	unsigned char (*recipients)[32];
	size_t n_recipients;
	struct core_identity *identities;
	size_t n_identities;
	int no_encryption;
	int allow_unencrypted;        /* read an unencrypted backup although keys are configured */
	int allow_empty;              /* create a TENANT backup of a tenant with no record */
	int json;                     /* --output json */
	enum core_exit exit_class;    /* set by the step that failed */
};

/* Record the exit class of a failure (first one wins) and pass rc through. */
int core_fail(struct core_run *run, enum core_exit cls, int rc);

struct core_storage {
	const struct core_plugin *plugin;
	const struct cairn_storage_vtable *vt;
	void *inst;
};

/*
 * Resolve a backup URI to a storage location and an object name:
 *   cairn:///backups/full/x.cairn → default storage, "backups/full/x.cairn"
 *   file:///srv/b/x.cairn         → location "file:///srv/b", name "x.cairn"
 * The caller frees *location and *name.
 */
int core_uri_split(struct core_run *run, const char *uri, char **location, char **name);
/* Open the storage plugin serving `location`'s scheme. */
int core_storage_open(struct core_run *run, const char *location, struct core_storage *st);
void core_storage_close(struct core_storage *st);

struct core_source {
	const struct core_plugin *plugin;
	const struct cairn_source_vtable *vt;
	void *inst;
};
int core_source_open(struct core_run *run, const char *uri, struct core_source *src);
void core_source_close(struct core_source *src);
/*
 * A cursor over, and the --replace delete of, a kind's records in `scope`,
 * with the exit class set on failure. A plugin older than ABI 1.2 cannot be
 * told "only the records without a tenant" (its NULL tenant means every
 * record): such a scope is refused with it (exit 7), never widened.
 */
int core_source_cursor_open(struct core_run *run, struct core_source *src,
			    const struct cairn_kind_desc *kd, const struct cairn_scope *scope,
			    void **cursor);
int core_source_delete_scope(struct core_run *run, struct core_source *src,
			     const struct cairn_kind_desc *kd, const struct cairn_scope *scope);

/* The scheme of a URI ("postgresql"), copied into buf; CAIRN_E_INVALID if none. */
int core_uri_scheme(const char *uri, char *buf, size_t cap);

/* Keyring for writing (create) or reading (restore, verify, info). */
void core_run_keyring(const struct core_run *run, struct core_keyring *kr);

/*
 * An opened backup: storage reader → envelope → inner archive, manifest read.
 * Where any key is configured (instance key, passphrase, identity), an
 * unencrypted backup is refused (exit 3) unless run->allow_unencrypted:
 * whoever can write to the storage could otherwise plant one.
 */
struct core_opened {
	struct core_storage st;
	void *reader;
	struct core_env_reader *env;
	struct core_archive_reader *ar;
	struct core_manifest *manifest;
};
int core_backup_open(struct core_run *run, const char *uri, struct core_opened *o);
void core_backup_close(struct core_opened *o);

/* "records/FLOW/000001.msgpack" → "FLOW" (0), or -1 for any other name. */
int core_chunk_name_kind(const char *name, char *kind, size_t cap);

/*
 * Read every remaining entry of an opened backup: decode each record and
 * pass it to cb (may be NULL) with the index of its kind in the manifest;
 * count records per kind into counts[n_kinds]. Returns CAIRN_OK only when
 * the archive was read to its authenticated end and the summary's counts
 * match. A non-zero cb return stops the read and is returned; cb sets the
 * exit class itself. With to_tenant, records of the backup's tenant are
 * rewritten (record.h).
 */
typedef int (*core_record_cb)(void *ud, size_t kind_index, const struct cairn_record *rec);
int core_backup_read_records(struct core_run *run, struct core_opened *o, const char *to_tenant,
			     core_record_cb cb, void *ud, uint64_t *counts);

/* Format "[BINDING: 3, FLOW: 13, …]" for kinds[i]/counts[i]. */
void core_format_summary(char *const *kinds, const uint64_t *counts, size_t n, char *out,
			 size_t cap);

/* Commands. Each returns an exit code. */
int core_cmd_create(struct core_run *run, const char *type, const char *tenant);
int core_cmd_restore(struct core_run *run, const char *uri, int dry_run, int replace,
		     const char *to_tenant);
int core_cmd_list(struct core_run *run, const char *prefix);
int core_cmd_info(struct core_run *run, const char *uri);
int core_cmd_verify(struct core_run *run, const char *uri);
int core_cmd_delete(struct core_run *run, const char *uri);
/* keep_last 0 / keep_within -1: rule not given. The newest backup of each series always stays. */
int core_cmd_prune(struct core_run *run, long keep_last, long long keep_within, int dry_run);
/* "7d", "12h", "30m", "2w", "90s" → seconds; -1 if malformed. */
long long core_parse_duration(const char *s);

#endif /* CORE_ENGINE_H */
