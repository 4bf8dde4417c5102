/*
 * cairn/source.h — the vtable of a metadata source plugin (PostgreSQL,
 * MySQL, Elasticsearch …).
 *
 * A source reads the orchestrator's metadata as records, one kind at a time,
 * inside one consistent snapshot, and writes records back on restore.
 *
 * Calling sequence on backup:
 *   open → describe → snapshot_begin → for each kind: kind_exists,
 *   cursor_open, cursor_next… , cursor_close → snapshot_end → close
 * On restore:
 *   open → describe → restore_begin → [restore_delete_scope per kind if
 *   --replace] → restore_write… → restore_commit (or restore_rollback) → close
 *
 * Threading: one instance is used by one thread at a time.
 * Ownership: input pointers are borrowed for the duration of the call.
 * Pointers a method returns (records, descriptions) are owned by the plugin
 * and stay valid until the next call on the same cursor/instance, unless
 * stated otherwise.
 */
#ifndef CAIRN_SOURCE_H
#define CAIRN_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/host.h"
#include "cairn/plugin.h"

/*
 * Column value types. Values always travel as bytes with a length; the type
 * says how to read them. Numbers are stable: never renumbered.
 */
enum cairn_column_type {
	CAIRN_COL_NULL = 0,      /* SQL NULL: data is NULL, len 0 */
	CAIRN_COL_TEXT = 1,      /* UTF-8 text (YAML source code, ids) */
	CAIRN_COL_JSON = 2,      /* one JSON document as UTF-8 text */
	CAIRN_COL_INT = 3,       /* decimal integer text, optional leading '-' */
	CAIRN_COL_BOOL = 4,      /* "true" or "false" */
	CAIRN_COL_TIMESTAMP = 5, /* ISO 8601 with offset: 2024-09-17T16:33:12.700099+00:00 */
	CAIRN_COL_BYTES = 6      /* raw bytes */
};

/* One column of a record. Strings are NOT NUL-terminated: use len. */
struct cairn_column {
	const char *name; /* NUL-terminated column name ("value", "source_code") */
	uint32_t type;    /* enum cairn_column_type */
	const char *data; /* NULL only for CAIRN_COL_NULL */
	size_t len;
};

/*
 * A record: one row or document of one kind. `columns` holds every real
 * (non-generated) column, including the key column, in the backend's
 * column order. Generated columns are never included: the database
 * recomputes them. n_columns is at most CAIRN_RECORD_MAX_COLUMNS.
 */
struct cairn_record {
	uint32_t struct_size;   /* sizeof(struct cairn_record) of the producer */
	const char *key;        /* primary key value, NUL-terminated UTF-8 */
	const char *tenant;     /* tenant id, or NULL for instance-level records */
	size_t n_columns;
	const struct cairn_column *columns;
};

/*
 * CAIRN_RECORD_MAX_COLUMNS — most columns one record may have, in both
 * directions. On backup the core refuses a record from cursor_next with
 * more (CAIRN_E_INVALID naming the record; the backup fails), and a backup
 * file never holds one; on restore the core never passes one to
 * restore_write or restore_write_batch, so a plugin may size per-record
 * arrays by it and refuse more. It stays 64 for ABI major 1: raising it
 * would hand older plugins records they were promised not to get.
 */
#define CAIRN_RECORD_MAX_COLUMNS 64

/*
 * Feature bits of struct cairn_source_vtable.features.
 *
 * CAIRN_SOURCE_F_NO_TRANSACTIONS (since 1.2) — what restore_write wrote
 * stays written whatever follows (Elasticsearch): restore_rollback cannot
 * undo it. A core that knows the bit reads and checks the whole archive
 * before the first write, and on a failure half way reports what was
 * written. An older core ignores the bit.
 */
#define CAIRN_SOURCE_F_NO_TRANSACTIONS (UINT64_C(1) << 0)

/* Scope of a kind: per tenant, or instance-wide (users, tenants, settings). */
enum cairn_kind_scope {
	CAIRN_SCOPE_TENANT = 1,
	CAIRN_SCOPE_INSTANCE = 2
};

/*
 * A kind as the core's catalogue describes it. The catalogue is data
 * (configurable) so that table and index names follow schema versions.
 */
struct cairn_kind_desc {
	uint32_t struct_size;
	const char *kind;     /* "FLOW", "TRIGGER" … (upper case) */
	const char *table;    /* JDBC table name ("flows") */
	const char *index;    /* Elasticsearch index suffix ("flows") */
	uint32_t scope;       /* enum cairn_kind_scope */
	/*
	 * since 1.3 (present when struct_size reaches them): the kind's time,
	 * which cairn_scope.since compares with — the JDBC column ("start_date",
	 * a TIMESTAMP/DATETIME in UTC) and the Elasticsearch field, a dotted path
	 * into the document ("state.startDate", ISO 8601). NULL for kinds
	 * without a time window (all metadata kinds).
	 */
	const char *time_column;
	const char *time_field;
};

/* What describe() reports. Strings owned by the plugin, valid until close. */
struct cairn_source_desc {
	uint32_t struct_size;   /* set by the core before the call */
	const char *backend;    /* "postgresql 15.4", "mariadb 10.11.6" */
	const char *schema_version; /* Flyway version ("1.27"), or NULL if unknown */
};

/* Outcome of writing one record on restore. */
enum cairn_write_outcome {
	CAIRN_WRITE_NEW = 1,       /* no record with this key existed */
	CAIRN_WRITE_CHANGED = 2,   /* existed with different columns */
	CAIRN_WRITE_UNCHANGED = 3  /* existed with exactly these columns */
};

/*
 * Which records of a kind a cursor or a --replace delete covers (since
 * 1.2). Before 1.2 a NULL tenant meant "every record", so the records that
 * have no tenant (open-source Kestra before 0.23 wrote tenant_id NULL)
 * could not be selected alone; CAIRN_TENANT_NONE selects exactly those.
 */
enum cairn_tenant_filter {
	CAIRN_TENANT_ANY = 0,  /* every record, whatever its tenant (FULL) */
	CAIRN_TENANT_ONE = 1,  /* records of `tenant` only */
	CAIRN_TENANT_NONE = 2  /* records without a tenant only: tenant_id IS NULL */
};

struct cairn_scope {
	uint32_t struct_size;  /* sizeof(struct cairn_scope) of the caller */
	uint32_t filter;       /* enum cairn_tenant_filter */
	const char *tenant;    /* CAIRN_TENANT_ONE: the tenant; otherwise NULL */
	/*
	 * since 1.3: NULL, or a UTC instant "YYYY-MM-DD HH:MM:SS" (exactly these
	 * 19 characters): only the records whose kind's time (time_column /
	 * time_field) is at or after it; records with no time are left out. The
	 * core gives it only for a kind with a time column, and only to a plugin
	 * declaring ABI 1.3 or later (an older one would ignore it and read
	 * everything). Cursors only: restore_delete_scoped never gets one.
	 */
	const char *since;
};

/*
 * list_tenants callback: called once per distinct tenant; tenant is NULL
 * for records without one. Return 0 to go on, non-zero to stop (list_tenants
 * then returns that value).
 */
typedef int (*cairn_tenant_cb)(void *ud, const char *tenant);

/* Options of one restore. */
struct cairn_restore_opts {
	uint32_t struct_size;
	int dry_run;       /* compute outcomes, then write nothing */
	int replace;       /* delete_scope is called for each restored kind */
	const char *source_schema_version; /* from the manifest, may be NULL */
};

struct cairn_source_vtable {
	uint32_t struct_size; /* sizeof(struct cairn_source_vtable) as compiled */
	uint64_t features;    /* CAIRN_SOURCE_F_* (none before 1.2) */

	/* ---- required (ABI 1.0) ---- */

	/*
	 * open — connect to the source named by `uri` (one of the plugin's
	 * schemes). Credentials come from options, the environment or the
	 * configuration — never required in the URI. On success stores the
	 * instance in *inst and returns CAIRN_OK. On failure *inst is
	 * untouched and nothing needs closing. Unreachable server:
	 * CAIRN_E_CONNECT; refused credentials: CAIRN_E_AUTH.
	 */
	int (*open)(const struct cairn_host *host, const char *uri,
		    const struct cairn_option *opts, size_t n_opts, void **inst);

	/* close — release everything; rolls back an open transaction. */
	void (*close)(void *inst);

	/* describe — backend and schema version; see struct cairn_source_desc. */
	int (*describe)(void *inst, struct cairn_source_desc *out);

	/*
	 * snapshot_begin / snapshot_end — every cursor opened in between reads
	 * the same consistent point in time (a repeatable-read read-only
	 * transaction, a consistent snapshot, a point-in-time id).
	 */
	int (*snapshot_begin)(void *inst);
	int (*snapshot_end)(void *inst);

	/* kind_exists — 1 if the kind's table/index exists, 0 if not, <0 error. */
	int (*kind_exists)(void *inst, const struct cairn_kind_desc *kind);

	/*
	 * cursor_open — start reading `kind`. `tenant` NULL means every
	 * record; otherwise only records of that tenant.
	 */
	int (*cursor_open)(void *inst, const struct cairn_kind_desc *kind,
			   const char *tenant, void **cursor);
	/*
	 * cursor_next — 1 and *rec set when a record was read; 0 at the end;
	 * <0 on error. *rec stays valid until the next call on this cursor.
	 * Memory must not grow with the number of records read.
	 */
	int (*cursor_next)(void *cursor, const struct cairn_record **rec);
	void (*cursor_close)(void *cursor);

	/*
	 * restore_begin — start one all-or-nothing restore (one transaction
	 * where the backend has them). Checks that the target's schema exists;
	 * CAIRN_E_SCHEMA with the reason if not.
	 */
	int (*restore_begin)(void *inst, const struct cairn_restore_opts *opts);
	/*
	 * restore_delete_scope — with --replace: delete the kind's records of
	 * `tenant` (NULL: all records of the kind) before its records are written.
	 */
	int (*restore_delete_scope)(void *inst, const struct cairn_kind_desc *kind,
				    const char *tenant);
	/*
	 * restore_write — upsert one record by key; sets *outcome. The first
	 * record of a kind checks that its table exists and has every column
	 * of the record as a real column (CAIRN_E_SCHEMA otherwise).
	 */
	int (*restore_write)(void *inst, const struct cairn_kind_desc *kind,
			     const struct cairn_record *rec, int *outcome);
	/* restore_commit — make everything visible (dry run: roll back instead). */
	int (*restore_commit)(void *inst);
	/* restore_rollback — undo everything since restore_begin. */
	int (*restore_rollback)(void *inst);

	/* ---- optional (append below, each marked "since 1.N") ---- */

	/*
	 * restore_write_batch (since 1.1) — upsert n records of one kind, in
	 * the given order, and set outcomes[i] for each (enum
	 * cairn_write_outcome). It has the meaning of n restore_write calls
	 * but lets the plugin send them in one round trip (pipelining,
	 * multi-row statements). When set, the core calls it instead of
	 * restore_write, with 1..CAIRN_RESTORE_BATCH_MAX records (n is never
	 * 0 and never above it; see below) that all belong to `kind`. On
	 * failure it returns <0 with the failing record's key in the message;
	 * outcomes are then undefined and the core rolls the whole restore
	 * back, so a plugin need not undo part of a batch. recs and the
	 * records they point to are borrowed for the call.
	 */
	int (*restore_write_batch)(void *inst, const struct cairn_kind_desc *kind,
				   const struct cairn_record *const *recs, size_t n,
				   int *outcomes);

	/*
	 * cursor_open_scoped (since 1.2) — cursor_open with an explicit scope.
	 * CAIRN_TENANT_NONE must select `tenant_id IS NULL` (never every
	 * record). When absent, the core uses cursor_open for ANY and ONE and
	 * refuses a null-tenant TENANT backup rather than widen it.
	 */
	int (*cursor_open_scoped)(void *inst, const struct cairn_kind_desc *kind,
				  const struct cairn_scope *scope, void **cursor);
	/*
	 * restore_delete_scoped (since 1.2) — restore_delete_scope with an
	 * explicit scope; CAIRN_TENANT_NONE deletes only the records without a
	 * tenant. When absent, the core refuses --replace of a null-tenant
	 * TENANT backup rather than run an unscoped delete.
	 */
	int (*restore_delete_scoped)(void *inst, const struct cairn_kind_desc *kind,
				     const struct cairn_scope *scope);
	/*
	 * list_tenants (since 1.2) — call cb once for each distinct tenant that
	 * has records of `kind`, in any order (NULL for records without one).
	 * Inside the snapshot when called between snapshot_begin and
	 * snapshot_end. Used to say which tenants exist when a TENANT backup
	 * finds no record of the one asked for.
	 */
	int (*list_tenants)(void *inst, const struct cairn_kind_desc *kind, cairn_tenant_cb cb,
			    void *ud);
};

/*
 * CAIRN_RESTORE_BATCH_MAX — a promise of the core to plugins, not a knob
 * of theirs: no core of ABI major 1 passes more than this many records to
 * one restore_write_batch call. It may pass fewer (a batch ends at a kind
 * boundary, at the end of the input, or wherever the core chooses), so a
 * plugin must not wait for full batches; it may size fixed arrays (outcome
 * buffers, statement parameters) by this number. The core's own batch size
 * is its business; it is never raised above this within major 1.
 */
#define CAIRN_RESTORE_BATCH_MAX 1000

/*
 * CAIRN_SOURCE_VT_SINCE(X) — X(member, minor) once for every member of
 * struct cairn_source_vtable appended after ABI 1.0, with the minor that
 * added it. When you append a member, add it here too: the core and
 * cairn-plugin-check use this list to tell whether a plugin's
 * info->abi_minor covers what its vtable sets.
 */
#define CAIRN_SOURCE_VT_SINCE(X)                                               \
	X(restore_write_batch, 1)                                              \
	X(cursor_open_scoped, 2)                                               \
	X(restore_delete_scoped, 2)                                            \
	X(list_tenants, 2)

/*
 * cairn_source_vt_minor — the minor ABI a source vtable needs: the largest
 * minor of the CAIRN_SOURCE_VT_SINCE members it sets (inside its
 * struct_size and non-NULL), 0 when it sets only 1.0 members. When member
 * is not NULL, *member is set to the name of the first member of that
 * minor, or NULL. This is the value to declare as .abi_minor.
 */
static inline unsigned cairn_source_vt_minor(const struct cairn_source_vtable *vt,
					     const char **member)
{
	CAIRN_VT_MINOR_BODY_(CAIRN_SOURCE_VT_SINCE)
}

#endif /* CAIRN_SOURCE_H */
