/*
 * retenant.h — the --to-tenant step of the restore pipe: a decoded record
 * of tenant `from` becomes one of tenant `to`. Exactly these change: the
 * record's tenant; a key starting with "<from>_" (and the `key` column with
 * it); a text `tenant_id` column equal to `from`; the top-level "tenantId"
 * of every JSON column when it equals `from`. Records of other tenants
 * pass unchanged. The scope checks (record.h) have run before, on the
 * record as the archive holds it.
 */
#ifndef CORE_RETENANT_H
#define CORE_RETENANT_H

#include <msgpack.h>

#include "buf.h"
#include "cairn/source.h"
#include "record.h"

struct core_retenant {
	const char *from, *to;
	struct core_buf key;
	struct core_buf text[CORE_MAX_COLUMNS];
	struct core_buf packed;
	msgpack_zone *zone;
	struct cairn_column cols[CORE_MAX_COLUMNS];
	struct cairn_record rec;
};

void core_retenant_init(struct core_retenant *rt, const char *from, const char *to);
/* *out is `in` itself, or the rewritten record (valid until the next call). */
int core_retenant_apply(struct core_retenant *rt, const struct cairn_record *in,
			const struct cairn_record **out);
void core_retenant_free(struct core_retenant *rt);

#endif /* CORE_RETENANT_H */
