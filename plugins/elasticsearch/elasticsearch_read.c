/*
 * elasticsearch_read.c — backup: one point in time (PIT) over every index of
 * the prefix, cursors paging through it with search_after on _shard_doc.
 *
 * Why a scanner of our own rather than jansson for the search answers: a
 * record's value must be the exact JSON text Elasticsearch holds, and
 * jansson re-serialises numbers (1.10 becomes 1.1, integers beyond 64 bits
 * are clamped). The scanner below only walks the answer: it checks the
 * JSON structure, finds the spans of _id, _source and sort in each hit and
 * hands out _source as the bytes between its braces, never re-encoded.
 * Nesting is bounded (ES_MAX_DEPTH) so a hostile answer cannot exhaust the
 * stack. One page is buffered (at most page_size hits, default 1000), so
 * memory is bounded by the page, not by the index.
 */
#define _POSIX_C_SOURCE 200809L
#include "elasticsearch.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define ES_MAX_DEPTH 512
#define ES_KEEP_ALIVE "1m"
#define ES_SEARCH_TRIES 6

/* ---- the scanner ---- */

struct es_scan {
	const char *p, *end;
};

static void es_ws(struct es_scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int es_hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int h = cp_hexval((unsigned char)p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + (unsigned)h;
	}
	*out = v;
	return 0;
}

/* At '"': moves past the closing quote. With out, appends the decoded UTF-8. */
static int es_string(struct es_scan *s, struct cp_buf *out)
{
	if (s->p >= s->end || *s->p != '"')
		return -1;
	s->p++;
	while (s->p < s->end) {
		unsigned char c = (unsigned char)*s->p;
		if (c == '"') {
			s->p++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			const char *run = s->p;
			while (s->p < s->end && *s->p != '"' && *s->p != '\\' &&
			       (unsigned char)*s->p >= 0x20)
				s->p++;
			if (out)
				cp_buf_addn(out, run, (size_t)(s->p - run));
			continue;
		}
		if (s->end - s->p < 2)
			return -1;
		char e = s->p[1];
		const char *simple = strchr("\"\\/bfnrt", e);
		if (e != '\0' && simple != NULL) {
			static const char map[] = "\"\\/\b\f\n\r\t";
			if (out)
				cp_buf_addn(out, &map[simple - "\"\\/bfnrt"], 1);
			s->p += 2;
			continue;
		}
		if (e != 'u' || s->end - s->p < 6)
			return -1;
		unsigned cp, lo;
		if (es_hex4(s->p + 2, &cp) != 0)
			return -1;
		s->p += 6;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
			    es_hex4(s->p + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
				return -1;
			s->p += 6;
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
			return -1;
		}
		if (out) {
			char u[4];
			size_t n;
			if (cp < 0x80) {
				u[0] = (char)cp;
				n = 1;
			} else if (cp < 0x800) {
				u[0] = (char)(0xC0 | (cp >> 6));
				u[1] = (char)(0x80 | (cp & 0x3F));
				n = 2;
			} else if (cp < 0x10000) {
				u[0] = (char)(0xE0 | (cp >> 12));
				u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
				u[2] = (char)(0x80 | (cp & 0x3F));
				n = 3;
			} else {
				u[0] = (char)(0xF0 | (cp >> 18));
				u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
				u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
				u[3] = (char)(0x80 | (cp & 0x3F));
				n = 4;
			}
			cp_buf_addn(out, u, n);
		}
	}
	return -1;
}

/* At a member name: reads it and the ':' after it; the raw name span is set. */
static int es_name_colon(struct es_scan *s, const char **name, size_t *len)
{
	const char *st = s->p;
	if (es_string(s, NULL) != 0)
		return -1;
	*name = st + 1;
	*len = (size_t)(s->p - st) - 2;
	es_ws(s);
	if (s->p >= s->end || *s->p != ':')
		return -1;
	s->p++;
	return 0;
}

static int es_skip(struct es_scan *s, int depth);

/* At '{' or '[': moves past the matching close. */
static int es_skip_container(struct es_scan *s, int depth)
{
	char close = *s->p == '{' ? '}' : ']';
	int obj = close == '}';
	if (depth > ES_MAX_DEPTH)
		return -1;
	s->p++;
	es_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return 0;
	}
	for (;;) {
		const char *name;
		size_t len;
		es_ws(s);
		if (obj && es_name_colon(s, &name, &len) != 0)
			return -1;
		if (es_skip(s, depth + 1) != 0)
			return -1;
		es_ws(s);
		if (s->p >= s->end)
			return -1;
		if (*s->p == close) {
			s->p++;
			return 0;
		}
		if (*s->p != ',')
			return -1;
		s->p++;
	}
}

/* Skips one JSON value (leading blanks included). */
static int es_skip(struct es_scan *s, int depth)
{
	es_ws(s);
	if (s->p >= s->end)
		return -1;
	switch (*s->p) {
	case '{':
	case '[':
		return es_skip_container(s, depth);
	case '"':
		return es_string(s, NULL);
	case 't':
		if (s->end - s->p >= 4 && memcmp(s->p, "true", 4) == 0)
			return s->p += 4, 0;
		return -1;
	case 'f':
		if (s->end - s->p >= 5 && memcmp(s->p, "false", 5) == 0)
			return s->p += 5, 0;
		return -1;
	case 'n':
		if (s->end - s->p >= 4 && memcmp(s->p, "null", 4) == 0)
			return s->p += 4, 0;
		return -1;
	default: {
		const char *st = s->p;
		if (s->p < s->end && *s->p == '-')
			s->p++;
		while (s->p < s->end && ((*s->p >= '0' && *s->p <= '9') || *s->p == '.' ||
					 *s->p == 'e' || *s->p == 'E' || *s->p == '+' ||
					 *s->p == '-'))
			s->p++;
		return s->p > st && (s->p[-1] >= '0' && s->p[-1] <= '9') ? 0 : -1;
	}
	}
}

/*
 * Reads the next member name of an object (after '{' or ','): 1 with the
 * raw name span set, 0 at the closing brace, -1 on malformed input. Names
 * the plugin looks for never need escapes, so the raw span is compared.
 */
static int es_member(struct es_scan *s, int *first, const char **name, size_t *len)
{
	es_ws(s);
	if (s->p >= s->end)
		return -1;
	if (*s->p == '}') {
		s->p++;
		return 0;
	}
	if (!*first) {
		if (*s->p != ',')
			return -1;
		s->p++;
		es_ws(s);
	}
	*first = 0;
	if (es_name_colon(s, name, len) != 0)
		return -1;
	es_ws(s);
	return 1;
}

static int es_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && memcmp(name, want, len) == 0;
}

static int es_open_obj(struct es_scan *s)
{
	es_ws(s);
	if (s->p >= s->end || *s->p != '{')
		return -1;
	s->p++;
	return 0;
}

/* ---- snapshot ---- */

int es_plugin_snapshot_begin(void *inst)
{
	struct es_inst *es = inst;
	struct cp_buf path = {0}, list = {0};
	json_t *j = NULL;
	size_t n;
	int rc;

	if (es == NULL)
		return CAIRN_E_INVALID;
	if ((rc = cp_tx_expect(es->host, es->tx, CP_TX_NONE)) != CAIRN_OK)
		return rc;
	cp_buf_addf(&path, "/_cat/indices/%s*?format=json&h=index", es->prefix);
	if (path.oom)
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	rc = es_plugin_request(es, "GET", path.p, NULL, 0, NULL);
	if (rc == CAIRN_OK && es->status != 200)
		rc = es_plugin_http_error(es, "listing the indices");
	if (rc != CAIRN_OK)
		goto out;
	j = json_loadb(es->resp.p ? es->resp.p : "", es->resp.len, 0, NULL);
	if (!json_is_array(j)) {
		rc = cp_fail(es->host, CAIRN_E_CORRUPT, "_cat/indices: not a JSON array");
		goto out;
	}
	n = json_array_size(j);
	es->pit_indices = calloc(n + 1, sizeof *es->pit_indices);
	if (es->pit_indices == NULL) {
		rc = cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *ix = json_string_value(json_object_get(json_array_get(j, i), "index"));
		if (ix == NULL) {
			rc = cp_fail(es->host, CAIRN_E_CORRUPT, "_cat/indices: entry without index");
			goto out;
		}
		if ((es->pit_indices[i] = cp_strdup(ix)) == NULL) {
			rc = cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
			goto out;
		}
		cp_buf_add(&list, i ? "," : "");
		cp_buf_add(&list, ix);
	}
	if (n > 0) {
		json_t *pit;
		cp_buf_reset(&path);
		cp_buf_addf(&path, "/%s/_pit?keep_alive=%s", list.p ? list.p : "", ES_KEEP_ALIVE);
		if (path.oom || list.oom) {
			rc = cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
			goto out;
		}
		rc = es_plugin_request(es, "POST", path.p, NULL, 0, NULL);
		if (rc == CAIRN_OK && es->status != 200)
			rc = es_plugin_http_error(es, "opening a point in time");
		if (rc != CAIRN_OK)
			goto out;
		pit = json_loadb(es->resp.p ? es->resp.p : "", es->resp.len, 0, NULL);
		es->pit_id = cp_strdup(json_string_value(json_object_get(pit, "id")));
		json_decref(pit);
		if (es->pit_id == NULL) {
			rc = cp_fail(es->host, CAIRN_E_CORRUPT, "opening a point in time: no id");
			goto out;
		}
		CAIRN_LOG_DEBUG(es->host, ES_NAME, "point in time opened over %zu indices", n);
	}
	es->tx = CP_TX_SNAPSHOT;
out:
	if (rc != CAIRN_OK)
		es_plugin_pit_close(es);
	json_decref(j);
	cp_buf_free(&path);
	cp_buf_free(&list);
	return rc;
}

int es_plugin_snapshot_end(void *inst)
{
	struct es_inst *es = inst;
	if (es == NULL)
		return CAIRN_E_INVALID;
	es_plugin_pit_close(es);
	es->tx = CP_TX_NONE;
	return CAIRN_OK;
}

int es_plugin_kind_exists(void *inst, const struct cairn_kind_desc *kind)
{
	struct es_inst *es = inst;
	struct cp_buf ix = {0};
	int rc;

	if (es == NULL)
		return CAIRN_E_INVALID;
	if ((rc = es_plugin_index_name(es, kind, &ix)) != CAIRN_OK) {
		cp_buf_free(&ix);
		return rc;
	}
	if (es->tx == CP_TX_SNAPSHOT) {
		/* inside the snapshot: what the PIT covers, not what exists now */
		rc = 0;
		for (size_t i = 0; es->pit_indices && es->pit_indices[i]; i++)
			if (strcmp(es->pit_indices[i], ix.p) == 0)
				rc = 1;
	} else if (es->tx == CP_TX_RESTORE) {
		/* a restore creates a missing index (with the README's mapping) on first write */
		rc = 1;
	} else {
		rc = es_plugin_index_exists(es, ix.p);
	}
	cp_buf_free(&ix);
	return rc;
}

/* ---- cursors ---- */

struct es_cursor {
	struct es_inst *es;
	char *index;
	struct cp_buf query;  /* the scope's query, JSON */
	struct cp_buf after;  /* the last hit's sort values, as the answer wrote them */
	struct cp_buf page;   /* the current page's answer */
	struct es_scan scan;  /* inside the page's hits array */
	int in_page;          /* scan points into a hits array */
	int first;            /* no hit read yet in this page */
	long page_hits;
	int done;
	struct cp_buf key, tenant;
	struct cp_buf value, yaml; /* _source without sourceCode, and the sourceCode */
	struct cairn_column cols[3];
	struct cairn_record rec;
};

static int es_corrupt(struct es_cursor *c, const char *what)
{
	return cp_fail(c->es->host, CAIRN_E_CORRUPT, "index '%s': malformed search answer (%s)",
		       c->index, what);
}

/* Checks _shards.failed: a page with failed shards misses documents. */
static int es_shards_ok(struct es_scan *s)
{
	const char *name;
	size_t len;
	int first = 1, r;
	if (es_open_obj(s) != 0)
		return -1;
	while ((r = es_member(s, &first, &name, &len)) == 1) {
		if (es_is(name, len, "failed")) {
			if (s->p >= s->end || *s->p != '0')
				return -2;
		}
		if (es_skip(s, 1) != 0)
			return -1;
	}
	return r;
}

static int es_fetch_page(struct es_cursor *c)
{
	struct es_inst *es = c->es;
	struct cp_buf body = {0};
	struct es_scan s;
	const char *name;
	size_t len;
	int first = 1, r, rc, found = 0;

	cp_buf_addf(&body, "{\"size\":%ld,\"track_total_hits\":false,\"pit\":{\"id\":",
		    es->page_size);
	es_plugin_json_str(&body, es->pit_id, strlen(es->pit_id));
	cp_buf_add(&body, ",\"keep_alive\":\"" ES_KEEP_ALIVE "\"},\"sort\":[{\"_shard_doc\":"
			  "\"asc\"}],\"query\":{\"bool\":{\"filter\":[{\"term\":{\"_index\":");
	es_plugin_json_str(&body, c->index, strlen(c->index));
	cp_buf_add(&body, "}},");
	cp_buf_addn(&body, c->query.p, c->query.len);
	cp_buf_add(&body, "]}}");
	if (c->after.len > 0) {
		cp_buf_add(&body, ",\"search_after\":");
		cp_buf_addn(&body, c->after.p, c->after.len);
	}
	cp_buf_add(&body, "}");
	if (body.oom) {
		cp_buf_free(&body);
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	}
	/*
	 * A busy cluster answers 429 (es_rejected_execution_exception) or 503:
	 * the same page is asked again after a pause, as the restore does with
	 * bulk items; the PIT keeps the answer the same.
	 */
	for (int attempt = 0;; attempt++) {
		rc = es_plugin_request(es, "POST", "/_search", body.p, body.len, "application/json");
		if (rc != CAIRN_OK || (es->status != 429 && es->status != 503) ||
		    attempt + 1 >= ES_SEARCH_TRIES)
			break;
		CAIRN_LOG_DEBUG(es->host, ES_NAME, "index '%s': search refused (HTTP %ld); retrying",
				c->index, es->status);
		es_plugin_sleep_ms(100L << attempt);
	}
	cp_buf_free(&body);
	if (rc == CAIRN_OK && es->status != 200)
		rc = es_plugin_http_error(es, c->index);
	if (rc != CAIRN_OK)
		return rc;
	/* the cursor keeps the page: es->resp serves the next request */
	cp_buf_free(&c->page);
	c->page = es->resp;
	memset(&es->resp, 0, sizeof es->resp);

	s.p = c->page.p ? c->page.p : "";
	s.end = s.p + c->page.len;
	if (es_open_obj(&s) != 0)
		return es_corrupt(c, "not an object");
	while ((r = es_member(&s, &first, &name, &len)) == 1) {
		if (es_is(name, len, "pit_id")) {
			/* Elasticsearch may hand out a new id for the same PIT: use the latest */
			struct cp_buf id = {0};
			if (es_string(&s, &id) != 0 || id.oom || id.p == NULL) {
				cp_buf_free(&id);
				return es_corrupt(c, "pit_id");
			}
			free(es->pit_id);
			es->pit_id = id.p;
		} else if (es_is(name, len, "_shards")) {
			int ok = es_shards_ok(&s);
			if (ok == -2)
				return cp_fail(es->host, CAIRN_E_BACKEND,
					       "index '%s': shards failed during the search: the "
					       "page would miss documents",
					       c->index);
			if (ok != 0)
				return es_corrupt(c, "_shards");
		} else if (es_is(name, len, "hits")) {
			int f2 = 1, r2;
			const char *n2;
			size_t l2;
			if (es_open_obj(&s) != 0)
				return es_corrupt(c, "hits");
			while ((r2 = es_member(&s, &f2, &n2, &l2)) == 1) {
				if (es_is(n2, l2, "hits") && !found) {
					if (s.p >= s.end || *s.p != '[')
						return es_corrupt(c, "hits.hits");
					/* hits are read one by one by cursor_next from here */
					c->scan.p = s.p + 1;
					c->scan.end = s.end;
					found = 1;
				}
				if (es_skip(&s, 2) != 0)
					return es_corrupt(c, "hits");
			}
			if (r2 != 0)
				return es_corrupt(c, "hits");
		} else if (es_skip(&s, 1) != 0) {
			return es_corrupt(c, "member");
		}
	}
	if (r != 0 || !found)
		return es_corrupt(c, found ? "structure" : "no hits.hits");
	c->in_page = 1;
	c->first = 1;
	c->page_hits = 0;
	return CAIRN_OK;
}

static int es_member_find(const char *doc, size_t n, const char *want, const char **beg,
			  const char **val, size_t *val_len);

int es_plugin_object_member(const char *doc, size_t n, const char *want, const char **val,
			    size_t *val_len)
{
	const char *beg;
	return es_member_find(doc, n, want, &beg, val, val_len);
}

/* es_plugin_object_member, also giving where the member's name begins. */
static int es_member_find(const char *doc, size_t n, const char *want, const char **beg,
			  const char **val, size_t *val_len)
{
	struct es_scan s = {doc, doc + n};
	const char *name;
	size_t len;
	int first = 1, r, found = 0;
	if (es_open_obj(&s) != 0)
		return -1;
	while ((r = es_member(&s, &first, &name, &len)) == 1) {
		const char *st = s.p;
		if (es_skip(&s, 1) != 0)
			return -1;
		if (!found && es_is(name, len, want)) {
			found = 1;
			*beg = name - 1;
			*val = st;
			*val_len = (size_t)(s.p - st);
		}
	}
	es_ws(&s);
	return r != 0 || s.p != s.end ? -1 : found;
}

/*
 * Kestra's Elasticsearch documents keep a flow's YAML in the sourceCode
 * member where the JDBC backends keep it in a source_code column, next to
 * a value without it. So a string sourceCode is cut out of the value
 * (bytes, with one of its commas: the rest of the text stays exactly as
 * Elasticsearch holds it) and becomes the source_code column; restore puts
 * it back as the last member. *cut is 0 when there is none.
 */
static int es_source_code_cut(struct es_cursor *c, const char *src, size_t n, int *cut)
{
	const char *beg, *v, *from, *to;
	size_t vlen;
	int r = es_member_find(src, n, "sourceCode", &beg, &v, &vlen);
	*cut = 0;
	if (r <= 0 || *v != '"')
		return r < 0 ? -1 : 0;
	struct es_scan s = {v, v + vlen};
	cp_buf_reset(&c->yaml);
	if (es_string(&s, &c->yaml) != 0)
		return -1;
	from = beg;
	to = v + vlen;
	const char *p = beg;
	while (p > src && strchr(" \t\r\n", p[-1]) != NULL)
		p--;
	if (p > src && p[-1] == ',') {
		from = p - 1; /* not the first member: its comma goes before it */
	} else {
		const char *q = to;
		while (q < src + n && strchr(" \t\r\n", *q) != NULL)
			q++;
		if (q < src + n && *q == ',')
			to = q + 1; /* the first of several: the comma after it goes */
	}
	cp_buf_reset(&c->value);
	cp_buf_addn(&c->value, src, (size_t)(from - src));
	cp_buf_addn(&c->value, to, (size_t)(src + n - to));
	*cut = 1;
	return 0;
}

/* The top-level "tenantId" string of a _source object, if any. */
static int es_source_tenant(struct es_cursor *c, const char *src, size_t n, int *has)
{
	const char *v = NULL;
	size_t vlen = 0;
	int r = es_plugin_object_member(src, n, "tenantId", &v, &vlen);
	*has = 0;
	cp_buf_reset(&c->tenant);
	if (r < 0)
		return -1;
	if (r == 1 && *v == '"') {
		struct es_scan s = {v, v + vlen};
		if (es_string(&s, &c->tenant) != 0)
			return -1;
		*has = 1;
	}
	return 0;
}

static int es_cursor_new(struct es_inst *es, const struct cairn_kind_desc *kind,
			 const struct cp_scope *sc, void **cursor)
{
	struct es_cursor *c;
	struct cp_buf ix = {0};
	int rc;

	if ((rc = cp_tx_expect(es->host, es->tx, CP_TX_SNAPSHOT)) != CAIRN_OK)
		return rc;
	if ((rc = es_plugin_index_name(es, kind, &ix)) != CAIRN_OK) {
		cp_buf_free(&ix);
		return rc;
	}
	if (es->pit_id == NULL) {
		rc = cp_fail(es->host, CAIRN_E_NOT_FOUND,
			     "index '%s' does not exist (no index of prefix '%s' did at the "
			     "snapshot)",
			     ix.p, es->prefix);
		cp_buf_free(&ix);
		return rc;
	}
	c = calloc(1, sizeof *c);
	if (c == NULL) {
		cp_buf_free(&ix);
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	}
	c->es = es;
	c->index = ix.p;
	es_plugin_scope_query(&c->query, sc);
	if (c->query.oom) {
		es_plugin_cursor_close(c);
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	}
	c->cols[0] = (struct cairn_column){.name = "key", .type = CAIRN_COL_TEXT};
	c->cols[1] = (struct cairn_column){.name = "value", .type = CAIRN_COL_JSON};
	c->cols[2] = (struct cairn_column){.name = "source_code", .type = CAIRN_COL_TEXT};
	c->rec.struct_size = sizeof c->rec;
	c->rec.n_columns = 2;
	c->rec.columns = c->cols;
	*cursor = c;
	return CAIRN_OK;
}

int es_plugin_cursor_open_scoped(void *inst, const struct cairn_kind_desc *kind,
				 const struct cairn_scope *scope, void **cursor)
{
	struct es_inst *es = inst;
	struct cp_scope sc;
	int rc;
	if (es == NULL || cursor == NULL)
		return CAIRN_E_INVALID;
	if ((rc = cp_scope_read(es->host, scope, &sc)) != CAIRN_OK)
		return rc;
	return es_cursor_new(es, kind, &sc, cursor);
}

int es_plugin_cursor_open(void *inst, const struct cairn_kind_desc *kind, const char *tenant,
			  void **cursor)
{
	struct cairn_scope s = cp_scope_of_tenant(tenant);
	return es_plugin_cursor_open_scoped(inst, kind, &s, cursor);
}

int es_plugin_cursor_next(void *cursor, const struct cairn_record **rec)
{
	struct es_cursor *c = cursor;
	const char *src = NULL, *name;
	size_t src_len = 0, len;
	int first = 1, r, have_id = 0, has_tenant, cut, rc;

	if (c == NULL || rec == NULL)
		return CAIRN_E_INVALID;
	for (;;) {
		if (c->done)
			return 0;
		if ((rc = cp_check_cancelled(c->es->host)) != CAIRN_OK)
			return rc;
		if (!c->in_page && (rc = es_fetch_page(c)) != CAIRN_OK)
			return rc;
		es_ws(&c->scan);
		if (c->scan.p < c->scan.end && *c->scan.p == ']') {
			/* a short page is the last one; a full one may have a successor */
			c->in_page = 0;
			if (c->page_hits < c->es->page_size)
				c->done = 1;
			continue;
		}
		if (!c->first) {
			if (c->scan.p >= c->scan.end || *c->scan.p != ',')
				return es_corrupt(c, "hits array");
			c->scan.p++;
		}
		c->first = 0;
		break;
	}
	if (es_open_obj(&c->scan) != 0)
		return es_corrupt(c, "hit");
	cp_buf_reset(&c->key);
	while ((r = es_member(&c->scan, &first, &name, &len)) == 1) {
		if (es_is(name, len, "_id")) {
			if (es_string(&c->scan, &c->key) != 0)
				return es_corrupt(c, "_id");
			cp_buf_add(&c->key, "");
			have_id = 1;
		} else if (es_is(name, len, "_source")) {
			src = c->scan.p;
			if (src >= c->scan.end || *src != '{' || es_skip(&c->scan, 3) != 0)
				return es_corrupt(c, "_source");
			src_len = (size_t)(c->scan.p - src);
		} else if (es_is(name, len, "sort")) {
			const char *st = c->scan.p;
			if (es_skip(&c->scan, 3) != 0)
				return es_corrupt(c, "sort");
			/* copied as written: search_after wants the values exactly */
			cp_buf_reset(&c->after);
			cp_buf_addn(&c->after, st, (size_t)(c->scan.p - st));
		} else if (es_skip(&c->scan, 3) != 0) {
			return es_corrupt(c, "hit member");
		}
	}
	if (r != 0)
		return es_corrupt(c, "hit");
	if (c->key.oom || c->after.oom)
		return cp_fail(c->es->host, CAIRN_E_NOMEM, "out of memory");
	if (!have_id || c->key.p == NULL || c->key.len == 0)
		return es_corrupt(c, "hit without _id");
	if (src == NULL)
		return cp_fail(c->es->host, CAIRN_E_SCHEMA,
			       "index '%s': document '%s' has no _source (is _source disabled in "
			       "the mapping?)",
			       c->index, c->key.p);
	if (c->after.len == 0)
		return es_corrupt(c, "hit without sort values");
	if (es_source_tenant(c, src, src_len, &has_tenant) != 0 || c->tenant.oom)
		return es_corrupt(c, "_source");
	if (es_source_code_cut(c, src, src_len, &cut) != 0)
		return es_corrupt(c, "_source");
	if (c->value.oom || c->yaml.oom)
		return cp_fail(c->es->host, CAIRN_E_NOMEM, "out of memory");
	c->page_hits++;
	c->cols[0].data = c->key.p;
	c->cols[0].len = c->key.len;
	c->cols[1].data = cut ? c->value.p : src;
	c->cols[1].len = cut ? c->value.len : src_len;
	c->cols[2].data = c->yaml.p ? c->yaml.p : "";
	c->cols[2].len = c->yaml.len;
	c->rec.n_columns = cut ? 3 : 2;
	c->rec.key = c->key.p;
	c->rec.tenant = has_tenant ? (c->tenant.p ? c->tenant.p : "") : NULL;
	*rec = &c->rec;
	return 1;
}

void es_plugin_cursor_close(void *cursor)
{
	struct es_cursor *c = cursor;
	if (c == NULL)
		return;
	free(c->index);
	cp_buf_free(&c->query);
	cp_buf_free(&c->after);
	cp_buf_free(&c->page);
	cp_buf_free(&c->key);
	cp_buf_free(&c->tenant);
	cp_buf_free(&c->value);
	cp_buf_free(&c->yaml);
	free(c);
}

/* A tenant list_tenants has reported already. */
struct es_seen {
	struct es_seen *next;
	char name[];
};

/*
 * Walks the kind's documents through the snapshot's PIT, as a cursor does,
 * and reports each tenant once. Only the core's "no such tenant" error asks
 * for it, so a full walk (memory: one page plus the distinct tenants) beats
 * an aggregation, which would need a mapping the index may not have.
 */
int es_plugin_list_tenants(void *inst, const struct cairn_kind_desc *kind, cairn_tenant_cb cb,
			   void *ud)
{
	struct es_inst *es = inst;
	struct cairn_scope any = cp_scope_of_tenant(NULL);
	const struct cairn_record *rec;
	struct es_seen *seen = NULL;
	void *cur = NULL;
	int rc, none_seen = 0;

	if (es == NULL || cb == NULL)
		return CAIRN_E_INVALID;
	if ((rc = es_plugin_cursor_open_scoped(es, kind, &any, &cur)) != CAIRN_OK)
		return rc;
	while ((rc = es_plugin_cursor_next(cur, &rec)) == 1) {
		struct es_seen *s;
		if (rec->tenant == NULL) {
			if (!none_seen && (rc = cb(ud, NULL)) != 0)
				break;
			none_seen = 1;
			continue;
		}
		for (s = seen; s != NULL && strcmp(s->name, rec->tenant) != 0; s = s->next)
			;
		if (s != NULL)
			continue;
		size_t n = strlen(rec->tenant) + 1;
		if ((s = malloc(sizeof *s + n)) == NULL) {
			rc = cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
			break;
		}
		memcpy(s->name, rec->tenant, n);
		s->next = seen;
		seen = s;
		if ((rc = cb(ud, rec->tenant)) != 0)
			break;
	}
	es_plugin_cursor_close(cur);
	while (seen != NULL) {
		struct es_seen *n = seen->next;
		free(seen);
		seen = n;
	}
	return rc;
}
