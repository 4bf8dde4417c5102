/*
 * kinds.h — the catalogue of metadata kinds: name → table/index and scope.
 *
 * The catalogue is data, not code: the built-in defaults (KESTRA.md) can be
 * corrected per kind in the configuration file, so that a schema change or
 * an Enterprise table name does not need a new release:
 *   [kinds]
 *   FLOW = flows
 *   FLOW.index = flows
 *   FLOW.scope = tenant
 *   MY_KIND = my_table
 * KIND = table sets the JDBC table (and the Elasticsearch index suffix);
 * KIND.index sets the index suffix alone; KIND.scope is tenant or instance.
 * A kind the defaults do not know is added (its table defaults to its name
 * in lower case). Values are literal: no comments after them.
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
