/*
 * run.h — one command's run: what its steps share (plugins found, the
 * catalogue, keys, locations), the exit classes, and how a step records
 * the class of its failure.
 */
#ifndef CORE_RUN_H
#define CORE_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "keys.h"
#include "kinds.h"
#include "plugin_loader.h"

/* Exit codes: stable, documented in --help, README and cairn(1). */
enum core_exit {
	CORE_EXIT_OK = 0,
	CORE_EXIT_FAILURE = 1,   /* anything not below (out of memory, bug) */
	CORE_EXIT_USAGE = 2,     /* bad command line, URI or configuration */
	CORE_EXIT_KEY = 3,       /* no key, malformed key, no key opens the backup, downgrade */
	CORE_EXIT_CORRUPT = 4,   /* archive corrupted, truncated, unsupported, or hostile content */
	CORE_EXIT_SOURCE = 5,    /* metadata source: unreachable, refused, schema mismatch */
	CORE_EXIT_STORAGE = 6,   /* storage: unreachable, not found, full, permission */
	CORE_EXIT_PLUGIN = 7,    /* no plugin for a scheme, or the plugin was refused */
	CORE_EXIT_STALE = 8,     /* backups check: no backup in the series, or the newest is too old */
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
	int compression_level;        /* [backup] compression-level; 0: the default */
	unsigned char *resources;     /* --resources: per catalogue kind, 1 if named; NULL: none given */
	int include_data;             /* --include-data: execution data kinds too */
	char since[20];               /* --since as "YYYY-MM-DD HH:MM:SS" UTC; "": none */
	int allow_empty;              /* create a TENANT backup of a tenant with no record */
	int json;                     /* --output json */
	enum core_exit exit_class;    /* set by the step that failed */
	/* Kestra's internal storage (files.h): create reads files from it, restore writes them */
	const char *internal_storage_uri; /* --internal-storage, CAIRN_INTERNAL_STORAGE, [internal-storage] uri */
	struct cairn_option *internal_opts; /* --internal-storage-option, then [internal-storage] keys */
	size_t n_internal_opts;
	struct core_orphans *orphans; /* create: KV and namespace-file rows noted for the orphan check */
};

/*
 * Record the exit class of a failure (the first one wins) and pass rc
 * through; CAIRN_OK passes untouched. A status no ABI defines is the
 * plugin's breach of contract: CAIRN_E_PLUGIN, exit 7.
 */
int core_fail(struct core_run *run, enum core_exit cls, int rc);

/* Keyring for writing (create) or reading (restore, verify, info). */
void core_run_keyring(const struct core_run *run, struct core_keyring *kr);

/*
 * The plugin of `kind` serving uri's scheme, loaded (only it: no other
 * plugin's code runs, plugin_loader.h); NULL with the error and exit class
 * set (7, or 2 for a URI without a scheme).
 */
const struct core_plugin *core_run_plugin(struct core_run *run, unsigned kind, const char *uri);

/*
 * The refusal of a plugin vtable of `kind` ("source", "storage") that is
 * smaller than ABI 1.0's (size < min) or lacks a required method (missing
 * non-NULL), written to why; NULL when neither. For the doors' checks.
 */
const char *core_vt_refusal(const char *kind, uint32_t size, size_t min, const char *missing,
			    char *why, size_t cap);

#endif /* CORE_RUN_H */
