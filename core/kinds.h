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
 *   MY_KIND.data = true
 * KIND = table sets the JDBC table (and the Elasticsearch index suffix);
 * KIND.index sets the index suffix alone; KIND.scope is tenant or instance;
 * KIND.data true marks execution data, backed up only with --include-data;
 * KIND.time_column / KIND.time_field name the column and document field
 * --since compares (defaults for the execution-data kinds only).
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
	unsigned char *data;  /* per kind: 1 for execution data (EXECUTION, LOG …) */
	size_t n;
};

/* Built-in defaults, then the configuration's [kinds] overrides. */
int core_kinds_load(struct core_kinds *k);
const struct cairn_kind_desc *core_kinds_find(const struct core_kinds *k, const char *kind);
/* Index of `kind` in k->v, or -1. */
int core_kinds_index(const struct core_kinds *k, const char *kind);
/*
 * --resources: mark in sel[0..k->n) each kind the comma-separated `list`
 * names (case does not matter, blanks around names are ignored), and in
 * sel[k->n + f] each internal-storage file kind f (files.h): KV_STORE
 * (the KV values, and the KV rows: sel of KV is 2, "implied", unless KV is
 * named too), NAMESPACE_FILE (its rows and its files), EXECUTION_FILE. sel
 * has k->n + CORE_FK_N entries. A name neither the catalogue nor the file
 * kinds know is CAIRN_E_INVALID, and the message lists the valid ones; so
 * is an empty list.
 */
int core_kinds_select(const struct core_kinds *k, const char *list, unsigned char *sel);
/* Kind names are upper-case letters, digits and '_', 1..64 chars. */
int core_kind_name_valid(const char *name);
void core_kinds_free(struct core_kinds *k);

#endif /* CORE_KINDS_H */
