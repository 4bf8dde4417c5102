/*
 * plugin_util.h — small helpers shared by the in-tree plugins: string
 * copies, hexadecimal digits, error reporting through the host,
 * option look-up, the struct_size-guarded reading of the ABI's option and
 * description structs, and transaction bookkeeping. Internal: never
 * installed; linked statically with hidden visibility, so a plugin still
 * exports only its entry point.
 *
 * Every function that reports an error does it through host->set_error and
 * returns the status, so that a plugin can write `return cp_fail(...)`.
 */
#ifndef CAIRN_PLUGIN_COMMON_PLUGIN_UTIL_H
#define CAIRN_PLUGIN_COMMON_PLUGIN_UTIL_H

#include <stddef.h>

#include "cairn/host.h"
#include "cairn/source.h"
#include "cairn/status.h"

/* The transaction a source instance has open on its connection. */
enum cp_tx {
	CP_TX_NONE = 0,
	CP_TX_SNAPSHOT = 1, /* consistent read-only backup transaction */
	CP_TX_RESTORE = 2   /* read-write restore transaction */
};

/* A heap copy of s (free() it), or NULL when s is NULL or memory is short. */
char *cp_strdup(const char *s);

/* A heap copy of s[0..n) plus a NUL (free() it), or NULL when memory is short. */
char *cp_strdup_n(const char *s, size_t n);

/*
 * Formats the message (at most 1023 bytes are kept) and passes it to
 * host->set_error through "%s": set_error has no va_list variant. Returns
 * `status`.
 */
int cp_fail(const struct cairn_host *host, int status, const char *fmt, ...) CAIRN_PRINTF(3, 4);

/* Non-zero once the user asked to stop (0 when the host has no cancelled()). */
int cp_cancelled(const struct cairn_host *host);

/* CAIRN_E_CANCELLED with the detail "cancelled" once cancelled, else CAIRN_OK. */
int cp_check_cancelled(const struct cairn_host *host);

/* Registers a secret with the host, if it is non-empty and the host can redact. */
void cp_redact(const struct cairn_host *host, const char *secret);

/*
 * A whole decimal number in [min, max], no leading blanks, nothing after:
 * 0 and *out set, or -1.
 */
int cp_parse_long(const char *s, long min, long max, long *out);

/* The value of a hexadecimal digit, or -1. */
int cp_hexval(int ch);

/*
 * Decodes the 2 * n hexadecimal digits at hex (either case) into out[0..n):
 * 0, or -1 at the first character that is not a digit (out is then partly
 * written).
 */
int cp_hex_decode(const char *hex, size_t n, unsigned char *out);

/* The value of option `key` (the first match wins: command line first), or NULL. */
const char *cp_opt_get(const struct cairn_option *opts, size_t n, const char *key);

/*
 * The value of `key` from the options, else from the configuration section
 * `section` (when the host has config_get), else NULL. Borrowed: valid for
 * as long as the options and the host's configuration are.
 */
const char *cp_option(const struct cairn_option *opts, size_t n, const struct cairn_host *host,
		      const char *section, const char *key);

/*
 * Reads what the caller's struct cairn_restore_opts has room for (its
 * struct_size): members it lacks read as 0 / NULL. Any out pointer may be
 * NULL.
 */
void cp_restore_opts_read(const struct cairn_restore_opts *opts, int *dry_run, int *replace,
			  const char **source_version);

/* Writes backend and schema_version into *out as far as its struct_size allows. */
void cp_source_desc_set(struct cairn_source_desc *out, const char *backend,
			const char *schema_version);

/*
 * Checks that the instance is in transaction state `want` (enum cp_tx):
 * CAIRN_OK, or CAIRN_E_INVALID with "a transaction is already open" (want
 * NONE), "no snapshot is open" (SNAPSHOT) or "no restore is in progress"
 * (RESTORE).
 */
int cp_tx_expect(const struct cairn_host *host, int tx, int want);

/*
 * Ends the plugin's transaction on the server: commit (1) or roll back (0).
 * Returns CAIRN_OK or a status already reported through set_error.
 */
typedef int (*cp_tx_end_fn)(void *inst, int commit);

/*
 * restore_commit's bookkeeping, once the caller has checked that a restore
 * is in progress (cp_tx_expect): rolls back a dry run or a transaction in which a statement failed (the
 * latter is then an error: nothing was written), commits otherwise. *tx and
 * *tx_failed are reset whatever happens.
 */
int cp_restore_commit(const struct cairn_host *host, int *tx, int *tx_failed, int dry_run,
		      cp_tx_end_fn end, void *inst);

/*
 * restore_rollback's bookkeeping: rolls back an open restore transaction
 * (*tx is NONE before `end` runs, so a failing ROLLBACK does not mark the
 * transaction failed); nothing to do otherwise.
 */
int cp_restore_rollback(int *tx, int *tx_failed, cp_tx_end_fn end, void *inst);

/* What a plugin's catalogue says of the place that should hold Kestra's tables. */
struct cp_kestra_probe {
	int schema_exists; /* the schema exists (always 1 where the database is the schema) */
	int has_flows;     /* a table or view named flows */
	int has_flyway;    /* a flyway_schema_history table */
};

/*
 * Refuses what is not a Kestra database, before anything is read or
 * written: CAIRN_E_SCHEMA "database '<database>' has no schema '<schema>'"
 * when the schema is missing, "database '…' schema '…' has no Kestra tables
 * (no flows, no flyway_schema_history): not a Kestra database" when it has
 * neither table; CAIRN_OK otherwise (a Kestra schema without rows is fine).
 * schema is NULL where the database is the schema (MySQL): the message
 * then names the database only.
 */
int cp_kestra_check(const struct cairn_host *host, const char *database, const char *schema,
		    const struct cp_kestra_probe *p);

#endif /* CAIRN_PLUGIN_COMMON_PLUGIN_UTIL_H */
