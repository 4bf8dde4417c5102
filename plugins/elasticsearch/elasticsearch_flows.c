/*
 * elasticsearch_flows.c — Kestra keeps each flow twice in Elasticsearch:
 * every revision in <prefix>flows_revisions, the latest in <prefix>flows.
 * A backup reads the revisions (the JDBC flows table holds every revision
 * too); a restore writes the revisions and then derives the flows index
 * from them, here.
 *
 * Why at commit, and from what the revisions index holds rather than from
 * the records restored: the latest revision of a flow is the highest one
 * present in the target, which may be one the target already had (a
 * backup older than the target, or one holding part of the revisions).
 * That is also what the JDBC backends answer: the current flow is the
 * highest revision in the table. So for each tenant flows were written
 * for, the revisions index is walked through a point in time of its own,
 * sorted on namespace, id, then _shard_doc: the revisions of one flow come
 * one after the other, and only the best seen so far is kept. Memory: one
 * hit, one best document and one _bulk batch, whatever the number of
 * flows. A tenant's flows are rewritten whole, the ones this restore did
 * not touch included: they come out as they were.
 */
#define _POSIX_C_SOURCE 200809L
#include "elasticsearch.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define ES_FLOW_SORT "[{\"namespace\":\"asc\"},{\"id\":\"asc\"},{\"_shard_doc\":\"asc\"}]"
#define ES_FLOWS_BATCH 500

static const struct cairn_kind_desc es_flow_kind = {
	.struct_size = sizeof(struct cairn_kind_desc),
	.kind = "FLOW",
	.table = "flows",
	.index = "flows",
};

/* The flows documents waiting for their _bulk request. */
struct es_flow_batch {
	size_t n, bytes;
	char *mem[ES_FLOWS_BATCH]; /* the _id, a NUL, the document: one allocation each */
	struct cairn_column cols[ES_FLOWS_BATCH];
	struct cairn_record recs[ES_FLOWS_BATCH];
	const struct cairn_record *ptrs[ES_FLOWS_BATCH];
	int outcomes[ES_FLOWS_BATCH];
};

/* The flow whose revisions are being read, and the best of them so far. */
struct es_flow_best {
	struct cp_buf ns, id, tenant, doc;
	int have, has_tenant;
	long long revision;
};

/* Documents without a string namespace and id: they have no place in the flows index. */
struct es_flow_skipped {
	size_t n;
	struct cp_buf first;
};

static void es_batch_clear(struct es_flow_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->mem[i]);
	b->n = b->bytes = 0;
}

static int es_batch_send(struct es_inst *es, struct es_flow_batch *b)
{
	int rc = CAIRN_OK;
	if (b->n > 0)
		rc = es_plugin_write_records(es, &es_flow_kind, es->flows_latest, b->ptrs, b->n,
					     b->outcomes);
	es_batch_clear(b);
	return rc;
}

/* Queues the best revision under the flow's _id: "<tenant>_<namespace>_<id>". */
static int es_batch_add(struct es_inst *es, struct es_flow_batch *b, const struct es_flow_best *f)
{
	struct cp_buf key = {0};
	size_t i = b->n;
	char *m;

	if (f->has_tenant)
		cp_buf_addf(&key, "%s_", f->tenant.p ? f->tenant.p : "");
	cp_buf_addf(&key, "%s_%s", f->ns.p, f->id.p);
	m = key.oom ? NULL : malloc(key.len + 1 + f->doc.len + 1);
	if (m == NULL) {
		cp_buf_free(&key);
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	}
	memcpy(m, key.p, key.len + 1);
	memcpy(m + key.len + 1, f->doc.p, f->doc.len + 1);
	b->mem[i] = m;
	b->cols[i] = (struct cairn_column){
		.name = "value", .type = CAIRN_COL_JSON, .data = m + key.len + 1, .len = f->doc.len};
	b->recs[i] = (struct cairn_record){
		.struct_size = sizeof b->recs[i], .key = m, .n_columns = 1, .columns = &b->cols[i]};
	b->ptrs[i] = &b->recs[i];
	b->n++;
	b->bytes += key.len + f->doc.len;
	cp_buf_free(&key);
	if (b->n == ES_FLOWS_BATCH || b->bytes >= (size_t)es->bulk_bytes)
		return es_batch_send(es, b);
	return CAIRN_OK;
}

/* A top-level string member, decoded: 1, or 0 when there is none or it is no string. */
static int es_flow_string(const char *doc, size_t n, const char *name, struct cp_buf *out)
{
	const char *v;
	size_t vlen;
	cp_buf_reset(out);
	if (es_plugin_object_member(doc, n, name, &v, &vlen) != 1 || *v != '"' ||
	    es_plugin_string_value(v, vlen, out) != 0)
		return 0;
	cp_buf_add(out, "");
	return 1;
}

/* The document's integer revision, or LLONG_MIN when it has none (it then loses to any). */
static long long es_flow_revision(const char *doc, size_t n)
{
	const char *v;
	size_t vlen, i;
	char num[32];
	long long r;

	if (es_plugin_object_member(doc, n, "revision", &v, &vlen) != 1 || vlen == 0 ||
	    vlen >= sizeof num)
		return LLONG_MIN;
	for (i = *v == '-' ? 1 : 0; i < vlen; i++)
		if (v[i] < '0' || v[i] > '9')
			return LLONG_MIN;
	memcpy(num, v, vlen);
	num[vlen] = '\0';
	errno = 0;
	r = strtoll(num, NULL, 10);
	return errno != 0 ? LLONG_MIN : r;
}

static void es_swap(struct cp_buf *a, struct cp_buf *b)
{
	struct cp_buf t = *a;
	*a = *b;
	*b = t;
}

/* One tenant's flows (tenant NULL: the flows without one). */
static int es_rebuild_tenant(struct es_inst *es, const char *rev, const char *tenant,
			     struct es_flow_batch *b, struct es_flow_best *best,
			     struct es_flow_skipped *sk)
{
	struct cp_scope sc = {tenant ? CAIRN_TENANT_ONE : CAIRN_TENANT_NONE, tenant, NULL, NULL};
	struct cp_buf query = {0}, ns = {0}, id = {0};
	const struct cairn_record *rec;
	void *cur = NULL;
	int rc;

	es_plugin_scope_query(&query, &sc);
	if (query.oom)
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	if ((rc = es_plugin_pit_open(es, rev)) != CAIRN_OK ||
	    (rc = es_plugin_search_open(es, rev, ES_FLOW_SORT, query.p, &cur)) != CAIRN_OK)
		goto out;
	best->have = 0;
	while ((rc = es_plugin_cursor_next(cur, &rec)) == 1) {
		const char *doc = rec->columns[1].data;
		size_t n = rec->columns[1].len;
		long long r;
		int same;

		if (!es_flow_string(doc, n, "namespace", &ns) || !es_flow_string(doc, n, "id", &id)) {
			if (sk->n++ == 0)
				cp_buf_add(&sk->first, rec->key);
			continue;
		}
		if (ns.oom || id.oom)
			break;
		if (es_plugin_cursor_sort_null(cur, 2)) {
			/* unsorted, a flow's revisions could be apart: its latest not found */
			rc = cp_fail(es->host, CAIRN_E_SCHEMA,
				     "index '%s': document '%s' has no indexed namespace or id to "
				     "sort on (both must be mapped as keyword): '%s' cannot be "
				     "rebuilt",
				     rev, rec->key, es->flows_latest);
			break;
		}
		r = es_flow_revision(doc, n);
		same = best->have && strcmp(ns.p, best->ns.p) == 0 && strcmp(id.p, best->id.p) == 0;
		if (same && r <= best->revision)
			continue;
		if (!same && best->have && (rc = es_batch_add(es, b, best)) != CAIRN_OK)
			break;
		es_swap(&best->ns, &ns);
		es_swap(&best->id, &id);
		cp_buf_reset(&best->doc);
		cp_buf_addn(&best->doc, doc, n);
		cp_buf_reset(&best->tenant);
		best->has_tenant = rec->tenant != NULL;
		cp_buf_add(&best->tenant, rec->tenant ? rec->tenant : "");
		best->revision = r;
		best->have = 1;
		if (best->doc.oom || best->tenant.oom)
			break;
	}
	if (rc == 1 || ns.oom || id.oom || best->doc.oom || best->tenant.oom || sk->first.oom)
		rc = cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	if (rc == CAIRN_OK && best->have)
		rc = es_batch_add(es, b, best);
out:
	es_plugin_cursor_close(cur);
	es_plugin_pit_close(es);
	cp_buf_free(&query);
	cp_buf_free(&ns);
	cp_buf_free(&id);
	return rc;
}

int es_plugin_flows_rebuild(struct es_inst *es)
{
	struct es_flow_batch *b = calloc(1, sizeof *b);
	struct es_flow_best best = {0};
	struct es_flow_skipped sk = {0};
	struct cp_buf rev = {0};
	int rc;

	cp_buf_addf(&rev, "%s_revisions", es->flows_latest);
	if (b == NULL || rev.oom) {
		rc = cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = es_plugin_ensure_index(es, es->flows_latest, 1, NULL)) != CAIRN_OK)
		goto out;
	if (es->flow_no_tenant)
		rc = es_rebuild_tenant(es, rev.p, NULL, b, &best, &sk);
	for (struct es_name *t = es->flow_tenants; t != NULL && rc == CAIRN_OK; t = t->next)
		rc = es_rebuild_tenant(es, rev.p, t->name, b, &best, &sk);
	if (rc == CAIRN_OK)
		rc = es_batch_send(es, b);
	if (rc == CAIRN_OK)
		rc = es_plugin_refresh(es, es->flows_latest);
	if (rc == CAIRN_OK && sk.n > 0)
		CAIRN_LOG_WARN(es->host, ES_NAME,
			       "%zu documents of '%s' have no string namespace and id (the first: "
			       "'%s'): they are not flows, '%s' leaves them out",
			       sk.n, rev.p, sk.first.p ? sk.first.p : "", es->flows_latest);
out:
	if (rc != CAIRN_OK && rev.p != NULL)
		CAIRN_LOG_WARN(es->host, ES_NAME,
			       "the flow revisions are written to '%s', but '%s' was not rebuilt "
			       "from them: it may lack the latest revisions (a restore that "
			       "succeeds rebuilds it)",
			       rev.p, es->flows_latest);
	if (b != NULL)
		es_batch_clear(b);
	free(b);
	cp_buf_free(&best.ns);
	cp_buf_free(&best.id);
	cp_buf_free(&best.tenant);
	cp_buf_free(&best.doc);
	cp_buf_free(&sk.first);
	cp_buf_free(&rev);
	return rc;
}

/*
 * Our reading of Kestra's labelsMap (the Elasticsearch documents carry it
 * next to labels, for queries on label values): labels as a list of
 * {"key": K, "value": V} gives {K: V, …} (a later K wins); labels already
 * an object is its own map; anything else (no labels, another shape) gives
 * none.
 */
int es_plugin_labels_map(const struct cairn_host *host, const char *doc, size_t n,
			 const char **map, size_t *map_len, char **owned)
{
	const char *v;
	size_t vlen, i;
	json_t *labels, *obj, *el;
	int ok = 1;

	*map = NULL;
	*map_len = 0;
	*owned = NULL;
	if (es_plugin_object_member(doc, n, "labels", &v, &vlen) != 1)
		return CAIRN_OK;
	if (*v == '{') {
		*map = v;
		*map_len = vlen;
		return CAIRN_OK;
	}
	if (*v != '[')
		return CAIRN_OK;
	/* a text the scanner accepted: jansson refuses it only short of memory or for a \u0000 */
	if ((labels = json_loadb(v, vlen, 0, NULL)) == NULL)
		return CAIRN_OK;
	if ((obj = json_object()) == NULL) {
		json_decref(labels);
		return cp_fail(host, CAIRN_E_NOMEM, "out of memory");
	}
	json_array_foreach(labels, i, el) {
		json_t *k = json_object_get(el, "key"), *val = json_object_get(el, "value");
		if (!json_is_string(k) || val == NULL) {
			ok = 0;
			break;
		}
		if (json_object_set(obj, json_string_value(k), val) != 0) {
			json_decref(obj);
			json_decref(labels);
			return cp_fail(host, CAIRN_E_NOMEM, "out of memory");
		}
	}
	if (ok && (*owned = json_dumps(obj, JSON_COMPACT)) == NULL)
		ok = -1;
	json_decref(obj);
	json_decref(labels);
	if (ok < 0)
		return cp_fail(host, CAIRN_E_NOMEM, "out of memory");
	if (*owned != NULL) {
		*map = *owned;
		*map_len = strlen(*owned);
	}
	return CAIRN_OK;
}
