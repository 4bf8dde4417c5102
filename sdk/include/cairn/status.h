/*
 * cairn/status.h — status codes shared by the core and every plugin.
 *
 * Every fallible call across the plugin boundary returns an `int` status:
 * CAIRN_OK (0) on success, or one of the negative CAIRN_E_* codes below.
 *
 * Contract:
 *  - Codes are never renumbered and never reused. A retired code is renamed
 *    CAIRN_E_OBSOLETE_<n> and keeps its number.
 *  - New codes may be added in any minor ABI version. A core that receives a
 *    negative code it does not know treats it as CAIRN_E_PLUGIN.
 *  - A plugin reports the human-readable detail of a failure through
 *    host->set_error() (see host.h) and returns the same code.
 *  - Positive values are never errors; some calls document a positive
 *    "more data" result (cursor_next returns 1 for "a record was produced").
 */
#ifndef CAIRN_STATUS_H
#define CAIRN_STATUS_H

enum cairn_status_code {
	CAIRN_OK = 0,
	CAIRN_E_GENERIC = -1,     /* failure with no better code */
	CAIRN_E_NOMEM = -2,       /* allocation failed */
	CAIRN_E_INVALID = -3,     /* bad argument, URI or option value */
	CAIRN_E_UNSUPPORTED = -4, /* operation or option not supported */
	CAIRN_E_NOT_FOUND = -5,   /* object, table, bucket … does not exist */
	CAIRN_E_EXISTS = -6,      /* object already exists (no overwrite) */
	CAIRN_E_IO = -7,          /* local or remote I/O failure */
	CAIRN_E_NO_SPACE = -8,    /* disk or quota full */
	CAIRN_E_AUTH = -9,        /* credentials refused by a server */
	CAIRN_E_CONNECT = -10,    /* server unreachable */
	CAIRN_E_TRANSIENT = -11,  /* temporary failure: a retry may succeed */
	CAIRN_E_SCHEMA = -12,     /* target schema missing or incompatible */
	CAIRN_E_CANCELLED = -13,  /* host->cancelled() said stop */
	CAIRN_E_BACKEND = -14,    /* the backend refused a statement or document */
	CAIRN_E_CORRUPT = -15,    /* data read back is malformed */
	CAIRN_E_PLUGIN = -16,     /* core only: plugin broke its contract */
	CAIRN_E_PERMISSION = -17, /* local permission denied */
	/*
	 * since 1.4: the object is under retention or a legal hold (WORM
	 * storage, e.g. S3 Object Lock) and cannot be removed yet; the detail
	 * says until when. Return it only to a host whose abi_minor is 4 or
	 * more (an older core would count it a broken contract): to an older
	 * host, what the server said (CAIRN_E_AUTH for a refusal).
	 */
	CAIRN_E_LOCKED = -18
};

#define CAIRN_STATUS_IS_ERROR(s) ((s) < 0)

#endif /* CAIRN_STATUS_H */
