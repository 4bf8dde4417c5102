/*
 * elasticsearch_restore.c — restore through _bulk (index actions with _id),
 * delete-by-query for --replace, a refresh at commit (and, when flows were
 * written, the rebuild of the flows index: elasticsearch_flows.c).
 *
 * Elasticsearch has no transactions: what a _bulk request wrote stays
 * written whatever follows, and restore_rollback can only say so. The
 * README lists what this means for a restore that fails half way.
 */
#define _POSIX_C_SOURCE 200809L
#include "elasticsearch.h"

#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include <jansson.h>

#define ES_BULK_TRIES 6

/*
 * The mapping of an index the restore creates: Kestra's indices use
 * dynamic: false, and the plugin itself needs tenantId as a keyword (tenant
 * scopes are term queries on it). The flows rebuild sorts on namespace and
 * id, so those are keywords as well, and the two FLOW indices map revision
 * as Kestra's integer.
 */
#define ES_MAPPING_HEAD                                                                    \
	"{\"mappings\":{\"dynamic\":false,\"properties\":{"                                      \
	"\"tenantId\":{\"type\":\"keyword\"},"                                                 \
	"\"namespace\":{\"type\":\"keyword\"},"                                                \
	"\"id\":{\"type\":\"keyword\"},"                                                       \
	"\"deleted\":{\"type\":\"boolean\"}"

void es_plugin_restore_reset(struct es_inst *es)
{
	es_plugin_names_free(&es->ensured);
	es_plugin_names_free(&es->flow_tenants);
	free(es->flows_latest);
	es->flows_latest = NULL;
	es->flow_no_tenant = 0;
	es->dry_run = 0;
	if (es->tx == CP_TX_RESTORE)
		es->tx = CP_TX_NONE;
}

int es_plugin_restore_begin(void *inst, const struct cairn_restore_opts *opts)
{
	struct es_inst *es = inst;
	int rc;
	if (es == NULL)
		return CAIRN_E_INVALID;
	if ((rc = cp_tx_expect(es->host, es->tx, CP_TX_NONE)) != CAIRN_OK)
		return rc;
	cp_restore_opts_read(opts, &es->dry_run, NULL, NULL);
	es->tx = CP_TX_RESTORE;
	return CAIRN_OK;
}

const char *es_plugin_kind_time_field(const struct cairn_kind_desc *kind)
{
	size_t end = offsetof(struct cairn_kind_desc, time_field) + sizeof(kind->time_field);
	return kind->struct_size >= end ? kind->time_field : NULL;
}

/*
 * The mapping of a new index: the fixed keywords, plus, for a kind with a
 * time window, its date field (a dotted path becomes nested properties:
 * "state.startDate" → state: {properties: {startDate: date}}), without which
 * a range query on it would match nothing under dynamic: false.
 */
static int es_index_body(struct cp_buf *b, int flow, const char *time_field)
{
	cp_buf_add(b, ES_MAPPING_HEAD);
	if (flow)
		cp_buf_add(b, ",\"revision\":{\"type\":\"integer\"}");
	if (time_field != NULL && *time_field) {
		size_t depth = 0;
		const char *p = time_field;
		for (;;) {
			const char *dot = strchr(p, '.');
			size_t n = dot ? (size_t)(dot - p) : strlen(p);
			if (n == 0)
				return -1;
			if (depth == 0) /* after the fixed members; nested ones start an object */
				cp_buf_add(b, ",");
			es_plugin_json_str(b, p, n);
			if (!dot) {
				cp_buf_add(b, ":{\"type\":\"date\"}");
				break;
			}
			cp_buf_add(b, ":{\"properties\":{");
			depth++;
			p = dot + 1;
		}
		while (depth--)
			cp_buf_add(b, "}}");
	}
	cp_buf_add(b, "}}}");
	return b->oom ? -1 : 0;
}

int es_plugin_ensure_index(struct es_inst *es, const char *index, int flow,
			   const char *time_field)
{
	struct cp_buf path = {0}, body = {0};
	int r;

	if (es_plugin_name_has(es->ensured, index))
		return CAIRN_OK;
	r = es_plugin_index_exists(es, index);
	if (r < 0)
		return r;
	if (r == 0 && !es->dry_run) {
		cp_buf_addf(&path, "/%s", index);
		if (path.oom || es_index_body(&body, flow, time_field) < 0) {
			cp_buf_free(&path);
			cp_buf_free(&body);
			return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
		}
		r = es_plugin_request(es, "PUT", path.p, body.p, body.len, "application/json");
		cp_buf_free(&path);
		cp_buf_free(&body);
		if (r != CAIRN_OK)
			return r;
		if (es->status != 200)
			return es_plugin_http_error(es, index);
		CAIRN_LOG_INFO(es->host, ES_NAME, "created index '%s'", index);
	}
	if (es_plugin_name_add(&es->ensured, index) < 0)
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	return CAIRN_OK;
}

/* --replace: deletes the scope's documents from one index (a missing one has none). */
static int es_delete_scope_in(struct es_inst *es, const char *index, const struct cp_scope *sc)
{
	struct cp_buf path = {0}, body = {0};
	int rc;

	cp_buf_addf(&path, "/%s/_delete_by_query?refresh=true&conflicts=proceed", index);
	cp_buf_add(&body, "{\"query\":");
	es_plugin_scope_query(&body, sc);
	cp_buf_add(&body, "}");
	if (path.oom || body.oom)
		rc = cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	else
		rc = es_plugin_request(es, "POST", path.p, body.p, body.len, "application/json");
	if (rc == CAIRN_OK && es->status != 200 && es->status != 404)
		rc = es_plugin_http_error(es, index);
	cp_buf_free(&path);
	cp_buf_free(&body);
	return rc;
}

int es_plugin_restore_delete_scoped(void *inst, const struct cairn_kind_desc *kind,
				    const struct cairn_scope *scope)
{
	struct es_inst *es = inst;
	struct cp_buf ix = {0}, rev = {0};
	struct cp_scope sc;
	int rc;

	if (es == NULL)
		return CAIRN_E_INVALID;
	if ((rc = cp_tx_expect(es->host, es->tx, CP_TX_RESTORE)) != CAIRN_OK ||
	    (rc = cp_scope_read(es->host, scope, &sc)) != CAIRN_OK)
		return rc;
	if ((rc = es_plugin_index_name(es, kind, &ix)) == CAIRN_OK &&
	    (rc = es_plugin_kind_index(es, kind, 1, &rev)) == CAIRN_OK && !es->dry_run) {
		/* a flow leaves both of its indices */
		rc = es_delete_scope_in(es, ix.p, &sc);
		if (rc == CAIRN_OK && strcmp(rev.p, ix.p) != 0)
			rc = es_delete_scope_in(es, rev.p, &sc);
	}
	cp_buf_free(&ix);
	cp_buf_free(&rev);
	return rc;
}

int es_plugin_restore_delete_scope(void *inst, const struct cairn_kind_desc *kind,
				   const char *tenant)
{
	struct cairn_scope s = cp_scope_of_tenant(tenant);
	return es_plugin_restore_delete_scoped(inst, kind, &s);
}

/*
 * What one record becomes: its value document, plus the record's other
 * columns (bit i of `extra`: column i) added as members.
 */
struct es_doc {
	const struct cairn_record *rec;
	const char *json; /* the record's value column */
	size_t len;
	uint64_t extra;
	size_t extra_len; /* bytes the extra columns hold */
	const char *lm;   /* FLOW: the labelsMap to add, or NULL */
	size_t lm_len;
	char *lm_owned;   /* lm when it was built (free() it) */
};

/* A column's member name: snake_case to camelCase (source_code → sourceCode). */
static void es_member_name(struct cp_buf *b, const char *col)
{
	int up = 0;
	cp_buf_reset(b);
	for (const char *p = col; *p; p++) {
		if (*p == '_' && p != col) {
			up = 1;
			continue;
		}
		char c = up && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
		cp_buf_addn(b, &c, 1);
		up = 0;
	}
}

/*
 * The record's "value" column is the document. JDBC backends keep some
 * facts in columns of their own where Elasticsearch keeps them in the
 * document: a flow's YAML is the source_code column there and the
 * sourceCode member here. So each other real column becomes the member of
 * its camelCase name, unless the document already has that member (then
 * the document wins: it is what Kestra itself wrote). BYTES columns have no
 * JSON form and are refused rather than dropped.
 */
static int es_record_doc(struct es_inst *es, const struct cairn_kind_desc *kind,
			 const struct cairn_record *rec, struct es_doc *d, struct cp_buf *name)
{
	const char *v;
	size_t vlen;

	memset(d, 0, sizeof *d);
	d->rec = rec;
	if (rec == NULL || rec->struct_size < sizeof(struct cairn_record) || rec->key == NULL ||
	    *rec->key == '\0' || (rec->n_columns > 0 && rec->columns == NULL) ||
	    rec->n_columns > CAIRN_RECORD_MAX_COLUMNS)
		return cp_fail(es->host, CAIRN_E_INVALID, "%s: malformed record", kind->kind);
	if (strlen(rec->key) > 512)
		return cp_fail(es->host, CAIRN_E_INVALID,
			       "%s '%s': the key is longer than Elasticsearch's 512-byte _id limit",
			       kind->kind, rec->key);
	for (size_t i = 0; i < rec->n_columns; i++) {
		const struct cairn_column *c = &rec->columns[i];
		if (c->name == NULL || (c->data == NULL && c->type != CAIRN_COL_NULL))
			return cp_fail(es->host, CAIRN_E_INVALID, "%s '%s': malformed column",
				       kind->kind, rec->key);
		if (strcmp(c->name, "value") == 0 && c->type == CAIRN_COL_JSON && c->len > 0) {
			d->json = c->data;
			d->len = c->len;
		}
	}
	if (d->json == NULL)
		return cp_fail(es->host, CAIRN_E_SCHEMA,
			       "%s '%s': the record has no JSON 'value' document", kind->kind,
			       rec->key);
	if (es_plugin_object_member(d->json, d->len, "", &v, &vlen) < 0)
		return cp_fail(es->host, CAIRN_E_INVALID,
			       "%s '%s': the value is not one JSON object", kind->kind, rec->key);
	for (size_t i = 0; i < rec->n_columns; i++) {
		const struct cairn_column *c = &rec->columns[i];
		if (strcmp(c->name, "key") == 0 || c->data == d->json)
			continue;
		if (c->type == CAIRN_COL_BYTES || c->type > CAIRN_COL_BYTES)
			return cp_fail(es->host, CAIRN_E_SCHEMA,
				       "%s '%s': column '%s' holds bytes, which have no place in "
				       "an Elasticsearch document",
				       kind->kind, rec->key, c->name);
		es_member_name(name, c->name);
		if (name->oom)
			return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
		if (name->p != NULL && es_plugin_object_member(d->json, d->len, name->p, &v, &vlen) == 1)
			continue;
		d->extra |= (uint64_t)1 << i;
		d->extra_len += c->len + strlen(c->name) + 4;
	}
	if (es_plugin_is_flow(kind)) {
		/* the rebuild selects a tenant's flows with a term query on tenantId */
		if (es_plugin_object_member(d->json, d->len, "tenantId", &v, &vlen) == 1 &&
		    *v != '"' && *v != 'n')
			return cp_fail(es->host, CAIRN_E_SCHEMA,
				       "%s '%s': tenantId is neither a string nor null", kind->kind,
				       rec->key);
		if (es_plugin_object_member(d->json, d->len, "labelsMap", &v, &vlen) == 0) {
			int rc = es_plugin_labels_map(es->host, d->json, d->len, &d->lm, &d->lm_len,
						      &d->lm_owned);
			if (rc != CAIRN_OK)
				return rc;
			d->extra_len += d->lm_len + 14;
		}
	}
	return CAIRN_OK;
}

/* Appends one column as a JSON value of its type. */
static void es_column_json(struct cp_buf *b, const struct cairn_column *c)
{
	switch (c->type) {
	case CAIRN_COL_NULL:
		cp_buf_add(b, "null");
		break;
	case CAIRN_COL_JSON:
	case CAIRN_COL_INT:
	case CAIRN_COL_BOOL:
		cp_buf_addn(b, c->data, c->len);
		break;
	default: /* TEXT, TIMESTAMP */
		es_plugin_json_str(b, c->data, c->len);
		break;
	}
}

/* Roughly what the document adds to a _bulk body (escapes aside). */
static size_t es_doc_bytes(const struct es_doc *d)
{
	return d->len + d->extra_len;
}


/*
 * Appends one index action and its document. NDJSON needs each on one line:
 * a raw line break in valid JSON can only be blank space between tokens (in
 * a string it must be escaped), so turning it into a space keeps the
 * document's meaning and every value's text. Extra columns become the last
 * members.
 */
static void es_bulk_add(struct cp_buf *b, const char *index, const struct es_doc *d,
			struct cp_buf *name)
{
	size_t len = d->len;
	const struct cairn_record *rec = d->rec;
	cp_buf_add(b, "{\"index\":{\"_index\":");
	es_plugin_json_str(b, index, strlen(index));
	cp_buf_add(b, ",\"_id\":");
	es_plugin_json_str(b, rec->key, strlen(rec->key));
	cp_buf_add(b, "}}\n");
	size_t start = b->len;
	int more = d->extra != 0 || d->lm != NULL;
	if (more) {
		/* es_record_doc checked one object: its last '}' closes it */
		while (len > 0 && d->json[len - 1] != '}')
			len--;
		len--;
	}
	cp_buf_addn(b, d->json, len);
	if (more) {
		size_t k = len;
		int empty;
		while (k > 0 && strchr(" \t\r\n", d->json[k - 1]) != NULL)
			k--;
		empty = k > 0 && d->json[k - 1] == '{';
		for (size_t i = 0; i < rec->n_columns; i++) {
			if (!(d->extra & ((uint64_t)1 << i)))
				continue;
			es_member_name(name, rec->columns[i].name);
			cp_buf_add(b, empty ? "" : ",");
			es_plugin_json_str(b, name->p ? name->p : "", name->len);
			cp_buf_add(b, ":");
			es_column_json(b, &rec->columns[i]);
			empty = 0;
		}
		if (d->lm != NULL) {
			cp_buf_add(b, empty ? "\"labelsMap\":" : ",\"labelsMap\":");
			cp_buf_addn(b, d->lm, d->lm_len);
		}
		cp_buf_add(b, "}");
		if (name->oom)
			b->oom = 1;
	}
	if (!b->oom)
		for (size_t i = start; i < b->len; i++)
			if (b->p[i] == '\n' || b->p[i] == '\r')
				b->p[i] = ' ';
	cp_buf_add(b, "\n");
}

/*
 * Sends the records whose pending[] flag is set; clears the flag of each
 * one written, sets its outcome, and leaves it set for items rejected with
 * 429 (retried by the caller). Any other item error fails the call naming
 * the kind and key.
 */
static int es_bulk_send(struct es_inst *es, const struct cairn_kind_desc *kind,
			const char *index, const struct cairn_record *const *recs,
			const struct es_doc *docs, size_t n, char *pending,
			int *outcomes, size_t *retry)
{
	struct cp_buf body = {0}, name = {0};
	size_t *map = calloc(n, sizeof *map), m = 0;
	json_t *j = NULL, *items;
	int rc;

	*retry = 0;
	if (map == NULL)
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (pending[i]) {
			es_bulk_add(&body, index, &docs[i], &name);
			map[m++] = i;
		}
	if (body.oom) {
		rc = cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
		goto out;
	}
	rc = es_plugin_request(es, "POST", "/_bulk", body.p, body.len, "application/x-ndjson");
	if (rc != CAIRN_OK)
		goto out;
	if (es->status == 429) {
		*retry = m; /* the whole request was refused: every item is still pending */
		goto out;
	}
	if (es->status != 200) {
		rc = es_plugin_http_error(es, "_bulk");
		goto out;
	}
	j = json_loadb(es->resp.p ? es->resp.p : "", es->resp.len, 0, NULL);
	items = json_object_get(j, "items");
	if (!json_is_array(items) || json_array_size(items) != m) {
		rc = cp_fail(es->host, CAIRN_E_CORRUPT, "_bulk: answer does not list %zu items", m);
		goto out;
	}
	for (size_t k = 0; k < m; k++) {
		json_t *it = json_object_get(json_array_get(items, k), "index");
		long st = (long)json_integer_value(json_object_get(it, "status"));
		const char *res = json_string_value(json_object_get(it, "result"));
		size_t i = map[k];
		if (st == 200 || st == 201) {
			pending[i] = 0;
			outcomes[i] = res != NULL && strcmp(res, "created") == 0 ? CAIRN_WRITE_NEW
										: CAIRN_WRITE_CHANGED;
			continue;
		}
		json_t *e = json_object_get(it, "error");
		const char *type = json_string_value(json_object_get(e, "type"));
		const char *reason = json_string_value(json_object_get(e, "reason"));
		if (st == 429 || (type && strcmp(type, "es_rejected_execution_exception") == 0)) {
			(*retry)++;
			continue;
		}
		rc = cp_fail(es->host, CAIRN_E_BACKEND,
			     "%s '%s': index '%s' refused the document: HTTP %ld: %s: %s", kind->kind,
			     recs[i]->key, index, st, type ? type : "?", reason ? reason : "?");
		goto out;
	}
out:
	json_decref(j);
	cp_buf_free(&body);
	cp_buf_free(&name);
	free(map);
	return rc;
}

/*
 * Dry run: which keys exist decides NEW or CHANGED, read with an ids query
 * (nothing is written).
 */
static int es_dry_outcomes(struct es_inst *es, const char *index,
			   const struct cairn_record *const *recs, size_t n, int *outcomes)
{
	struct cp_buf body = {0}, path = {0};
	json_t *j = NULL, *hits;
	int rc;

	for (size_t i = 0; i < n; i++)
		outcomes[i] = CAIRN_WRITE_NEW;
	if (es_plugin_index_exists(es, index) != 1)
		return CAIRN_OK;
	cp_buf_addf(&path, "/%s/_search", index);
	cp_buf_addf(&body, "{\"size\":%zu,\"_source\":false,\"query\":{\"ids\":{\"values\":[", n);
	for (size_t i = 0; i < n; i++) {
		cp_buf_add(&body, i ? "," : "");
		es_plugin_json_str(&body, recs[i]->key, strlen(recs[i]->key));
	}
	cp_buf_add(&body, "]}}}");
	if (body.oom || path.oom) {
		rc = cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
		goto out;
	}
	rc = es_plugin_request(es, "POST", path.p, body.p, body.len, "application/json");
	if (rc == CAIRN_OK && es->status != 200)
		rc = es_plugin_http_error(es, index);
	if (rc != CAIRN_OK)
		goto out;
	j = json_loadb(es->resp.p ? es->resp.p : "", es->resp.len, 0, NULL);
	hits = json_object_get(json_object_get(j, "hits"), "hits");
	for (size_t k = 0; k < json_array_size(hits); k++) {
		const char *id = json_string_value(json_object_get(json_array_get(hits, k), "_id"));
		for (size_t i = 0; id != NULL && i < n; i++)
			if (strcmp(recs[i]->key, id) == 0)
				outcomes[i] = CAIRN_WRITE_CHANGED;
	}
out:
	json_decref(j);
	cp_buf_free(&body);
	cp_buf_free(&path);
	return rc;
}

/* The tenants of the flows just written: the ones the flows rebuild covers at commit. */
static int es_note_flow_tenants(struct es_inst *es, const struct cairn_kind_desc *kind,
				const struct es_doc *docs, size_t n)
{
	struct cp_buf ix = {0}, t = {0};
	int rc = CAIRN_OK;

	if (es->flows_latest == NULL) {
		if ((rc = es_plugin_index_name(es, kind, &ix)) != CAIRN_OK)
			return rc;
		es->flows_latest = ix.p;
	}
	for (size_t i = 0; i < n && rc == CAIRN_OK; i++) {
		const char *v;
		size_t vlen;
		if (es_plugin_object_member(docs[i].json, docs[i].len, "tenantId", &v, &vlen) != 1 ||
		    *v != '"') {
			es->flow_no_tenant = 1;
			continue;
		}
		cp_buf_reset(&t);
		if (es_plugin_string_value(v, vlen, &t) != 0)
			rc = cp_fail(es->host, CAIRN_E_INVALID, "%s '%s': malformed tenantId",
				     kind->kind, docs[i].rec->key);
		else if (t.oom || es_plugin_name_add(&es->flow_tenants, t.p ? t.p : "") < 0)
			rc = cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	}
	cp_buf_free(&t);
	return rc;
}

static int es_write(struct es_inst *es, const struct cairn_kind_desc *kind, const char *index,
		    const struct cairn_record *const *recs, size_t n, int *outcomes,
		    int note_flows)
{
	struct cp_buf name = {0};
	struct es_doc *docs = calloc(n, sizeof *docs);
	char *pending = calloc(n, 1);
	size_t retry = 0, from = 0;
	int rc = CAIRN_OK;

	if (docs == NULL || pending == NULL) {
		rc = cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if ((rc = es_record_doc(es, kind, recs[i], &docs[i], &name)) != CAIRN_OK)
			goto out;
	if ((rc = es_plugin_ensure_index(es, index, es_plugin_is_flow(kind),
					  es_plugin_kind_time_field(kind))) != CAIRN_OK)
		goto out;
	if (es->dry_run) {
		rc = es_dry_outcomes(es, index, recs, n, outcomes);
		goto out;
	}
	/* requests of at most bulk_bytes of documents each, in record order */
	while (from < n) {
		size_t to = from, bytes = 0;
		while (to < n && (to == from || bytes + es_doc_bytes(&docs[to]) <= (size_t)es->bulk_bytes))
			bytes += es_doc_bytes(&docs[to++]);
		for (size_t i = from; i < to; i++)
			pending[i] = 1;
		for (int attempt = 0;; attempt++) {
			rc = es_bulk_send(es, kind, index, recs + from, docs + from,
					  to - from, pending + from, outcomes + from, &retry);
			if (rc != CAIRN_OK || retry == 0)
				break;
			if (attempt + 1 >= ES_BULK_TRIES) {
				for (size_t i = from; i < to; i++)
					if (pending[i]) {
						rc = cp_fail(es->host, CAIRN_E_TRANSIENT,
							     "%s '%s': Elasticsearch kept rejecting "
							     "the write (429, "
							     "es_rejected_execution_exception) after "
							     "%d tries",
							     kind->kind, recs[i]->key, ES_BULK_TRIES);
						break;
					}
				break;
			}
			CAIRN_LOG_DEBUG(es->host, ES_NAME, "%zu bulk items rejected; retrying",
					retry);
			es_plugin_sleep_ms(100L << attempt);
		}
		if (rc != CAIRN_OK)
			goto out;
		from = to;
	}
	if (note_flows)
		rc = es_note_flow_tenants(es, kind, docs, n);
out:
	for (size_t i = 0; docs != NULL && i < n; i++)
		free(docs[i].lm_owned);
	cp_buf_free(&name);
	free(docs);
	free(pending);
	return rc;
}

int es_plugin_write_records(struct es_inst *es, const struct cairn_kind_desc *kind,
			    const char *index, const struct cairn_record *const *recs, size_t n,
			    int *outcomes)
{
	return es_write(es, kind, index, recs, n, outcomes, 0);
}

int es_plugin_restore_write_batch(void *inst, const struct cairn_kind_desc *kind,
				  const struct cairn_record *const *recs, size_t n, int *outcomes)
{
	struct es_inst *es = inst;
	struct cp_buf ix = {0};
	int rc;

	if (es == NULL || kind == NULL || recs == NULL || outcomes == NULL || n == 0 ||
	    n > CAIRN_RESTORE_BATCH_MAX)
		return CAIRN_E_INVALID;
	if ((rc = cp_tx_expect(es->host, es->tx, CP_TX_RESTORE)) != CAIRN_OK)
		return rc;
	/* a flow record is a revision: the flows index follows at commit */
	if ((rc = es_plugin_kind_index(es, kind, 1, &ix)) == CAIRN_OK)
		rc = es_write(es, kind, ix.p, recs, n, outcomes, es_plugin_is_flow(kind));
	cp_buf_free(&ix);
	return rc;
}

int es_plugin_restore_write(void *inst, const struct cairn_kind_desc *kind,
			    const struct cairn_record *rec, int *outcome)
{
	const struct cairn_record *one[1] = {rec};
	return es_plugin_restore_write_batch(inst, kind, one, 1, outcome);
}

int es_plugin_refresh(struct es_inst *es, const char *indices)
{
	struct cp_buf path = {0};
	int rc;
	cp_buf_addf(&path, "/%s/_refresh", indices);
	rc = path.oom ? cp_fail(es->host, CAIRN_E_NOMEM, "out of memory")
		      : es_plugin_request(es, "POST", path.p, NULL, 0, NULL);
	if (rc == CAIRN_OK && es->status != 200)
		rc = es_plugin_http_error(es, "refresh");
	cp_buf_free(&path);
	return rc;
}

int es_plugin_restore_commit(void *inst)
{
	struct es_inst *es = inst;
	struct cp_buf list = {0};
	int rc;
	if (es == NULL)
		return CAIRN_E_INVALID;
	if ((rc = cp_tx_expect(es->host, es->tx, CP_TX_RESTORE)) != CAIRN_OK)
		return rc;
	if (!es->dry_run && es->ensured != NULL) {
		/* make the restored documents visible to searches now, not at the next refresh */
		for (struct es_name *e = es->ensured; e != NULL; e = e->next)
			cp_buf_addf(&list, "%s%s", list.len ? "," : "", e->name);
		rc = list.oom ? cp_fail(es->host, CAIRN_E_NOMEM, "out of memory")
			      : es_plugin_refresh(es, list.p);
		cp_buf_free(&list);
	}
	/* the revisions are searchable now: the latest of each flow goes to the flows index */
	if (rc == CAIRN_OK && !es->dry_run && es->flows_latest != NULL)
		rc = es_plugin_flows_rebuild(es);
	es_plugin_restore_reset(es);
	return rc;
}

int es_plugin_restore_rollback(void *inst)
{
	struct es_inst *es = inst;
	if (es == NULL)
		return CAIRN_E_INVALID;
	if (es->tx == CP_TX_RESTORE && !es->dry_run && es->ensured != NULL)
		CAIRN_LOG_WARN(es->host, ES_NAME,
			       "Elasticsearch has no transactions: the documents written before "
			       "the failure stay in the target indices");
	es_plugin_restore_reset(es);
	return CAIRN_OK;
}
