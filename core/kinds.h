/*
 * kinds.h — the catalogue of metadata kinds: name → table/index and scope.
 *
 * The catalogue is data, not code: the built-in defaults (KESTRA.md) can be
 * corrected per kind in the configuration file, so that a schema change or
 * an Enterprise table name does not need a new release:
 *   [kinds]
 *   FLOW = flows             ; JDBC table (also the Elasticsearch index suffix)
 *   FLOW.index = flows       ; Elasticsearch index suffix, when it differs
 *   FLOW.scope = tenant      ; tenant | instance
 *   MY_KIND = my_table       ; a kind the defaults do not know
 * Kinds are kept sorted by name: summaries list them alphabetically.
 */
#ifndef CORE_KINDS_H
#define CORE_KINDS_H

#include <stddef.h>

#include "cairn/source.h"

struct core_kinds {
	struct cairn_kind_desc *v;
	size_t n;
};

/* Built-in defaults, then the configuration's [kinds] overrides. */
int core_kinds_load(struct core_kinds *k);
const struct cairn_kind_desc *core_kinds_find(const struct core_kinds *k, const char *kind);
/* Index of `kind` in k->v, or -1. */
int core_kinds_index(const struct core_kinds *k, const char *kind);
/* Kind names are upper-case letters, digits and '_', 1..64 chars. */
int core_kind_name_valid(const char *name);
void core_kinds_free(struct core_kinds *k);

#endif /* CORE_KINDS_H */
