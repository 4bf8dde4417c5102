/*
 * scope.h — what a backup may hold, checked before a single record is
 * written: the same checks for restore and verify, so that an archive that
 * verifies never fails a restore for a reason of its content.
 *
 * A TENANT backup holds tenant-scoped kinds of one tenant only (or of no
 * tenant: open-source Kestra before 0.23). Its records are checked one by
 * one as they are decoded (record.h, core_chunk_iter.scoped); its manifest
 * here.
 */
#ifndef CORE_SCOPE_H
#define CORE_SCOPE_H

#include <time.h>

#include "cairn/source.h"

struct core_run;
struct core_manifest;

/* Tenant ids Cairn accepts: 1..100 of [A-Za-z0-9_-]. */
int core_tenant_valid(const char *t);

/*
 * Refuse (CAIRN_E_CORRUPT, exit class 4) a manifest that names a kind twice,
 * a kind the catalogue does not know, an instance-level kind in a TENANT
 * backup, a malformed tenant id, or a tenant in a FULL backup.
 */
int core_manifest_check(struct core_run *run, const struct core_manifest *m);

/* The scope a backup covers: ANY for FULL; ONE or NONE for TENANT. */
void core_manifest_scope(const struct core_manifest *m, struct cairn_scope *out);

/*
 * --since: a UTC date "YYYY-MM-DD", date and time "YYYY-MM-DDTHH:MM:SS"
 * (with 'T' or a blank, optionally ending in 'Z'), or a duration back from
 * `now` ("7d", "12h", "30m", "90s", "2w"). Writes the instant as the ABI's
 * "YYYY-MM-DD HH:MM:SS" (cairn_scope.since) into out; 0, or -1 when s is
 * none of these or names no real date.
 */
int core_since_parse(const char *s, time_t now, char out[20]);

/* "tenant 'main'" or "no tenant", for messages. */
const char *core_scope_name(const struct cairn_scope *s, char *buf, size_t cap);

#endif /* CORE_SCOPE_H */
