/*
 * elasticsearch_read.c — backup: one point in time (PIT) over every index of
 * the prefix, cursors paging through it with search_after on _shard_doc,
 * each page scanned while it arrives.
 *
 * Why a scanner of our own rather than jansson for the search answers: a
 * record's value must be the exact JSON text Elasticsearch holds, and
 * jansson re-serialises numbers (1.10 becomes 1.1, integers beyond 64 bits
 * are clamped). The scanner below only walks the answer: it checks the
 * JSON structure, finds the spans of _id, _source and sort in each hit and
 * hands out _source as the bytes between its braces, never re-encoded.
 * Nesting is bounded (ES_MAX_DEPTH) so a hostile answer cannot exhaust the
 * stack.
 *
 * Why pages are streamed, and how. A page holds up to page_size hits
 * (10,000 documents of any size): holding it whole would make the memory
 * a backup needs grow with the page and the documents. So the answer is
 * scanned as it arrives, one "unit" at a time: a member of the answer's
 * outer objects, or one hit. A unit is scanned only once it is complete
 * in the buffer; when the scanner runs off the end (es_scan.eod) the
 * cursor asks for more bytes and scans the unit again from its start,
 * asking each time for at least as many bytes again as the unit holds, so
 * a big hit is rescanned a logarithmic number of times, not once per
 * network chunk. Consumed bytes are dropped before more are asked for:
 * the buffer holds the current unit plus what curl delivers in one write
 * (16 KiB, or what one compressed block decodes to). A unit larger than
 * ES_MAX_ANSWER is refused, so a hostile server cannot make us allocate
 * without limit.
 *
 * Pull, not push: the write callback could scan and queue complete hits
 * itself, but nothing would bound the queue (curl delivers as fast as the
 * network does; cursor_next hands out one record per call). Instead the
 * callback pauses the transfer (CURL_WRITEFUNC_PAUSE) once the buffer holds
 * what the scanner asked for, which leaves the server's bytes to TCP's flow
 * control until the core wants the next record. libcurl's multi interface
 * is what lets cursor_next return in the middle of a transfer and resume
 * it later; the cursor has an easy handle of its own (a copy of the
 * instance's, with its TLS and authentication settings) so that the
 * instance's handle stays free for other requests: the flows rebuild sends
 * _bulk requests while its cursor is in the middle of a page.
 *
 * A paused transfer is not a slow server: curl's whole-transfer timeout
 * would count the time the core spends on the records, so the cursor's
 * handle has none, and the plugin counts only the time it waits for bytes.
 */
#define _POSIX_C_SOURCE 200809L
#include "elasticsearch.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#define ES_MAX_DEPTH 512
#define ES_SEARCH_TRIES 6
#define ES_STEP (64UL * 1024)          /* the least a cursor asks for at a time */
#define ES_MAX_ERROR_BODY (1UL << 20)  /* of an error answer, kept for its message */
#define ES_SORT_SHARD_DOC "[{\"_shard_doc\":\"asc\"}]"

/* ---- the scanner ---- */

struct es_scan {
	const char *p, *end;
	int eod; /* a check failed because the text ended: more text may complete it */
};

static int es_eod(struct es_scan *s)
{
	s->eod = 1;
	return -1;
}

static int es_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void es_ws(struct es_scan *s)
{
	while (s->p < s->end && es_blank(*s->p))
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

static void es_utf8(struct cp_buf *out, unsigned cp)
{
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

/* At '"': moves past the closing quote. With out, appends the decoded UTF-8. */
static int es_string(struct es_scan *s, struct cp_buf *out)
{
	if (s->p >= s->end)
		return es_eod(s);
	if (*s->p != '"')
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
			return es_eod(s);
		char e = s->p[1];
		const char *simple = strchr("\"\\/bfnrt", e);
		if (e != '\0' && simple != NULL) {
			static const char map[] = "\"\\/\b\f\n\r\t";
			if (out)
				cp_buf_addn(out, &map[simple - "\"\\/bfnrt"], 1);
			s->p += 2;
			continue;
		}
		if (e != 'u')
			return -1;
		if (s->end - s->p < 6)
			return es_eod(s);
		unsigned cp, lo;
		if (es_hex4(s->p + 2, &cp) != 0)
			return -1;
		s->p += 6;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			if (s->end - s->p < 6)
				return es_eod(s);
			if (s->p[0] != '\\' || s->p[1] != 'u' || es_hex4(s->p + 2, &lo) != 0 ||
			    lo < 0xDC00 || lo > 0xDFFF)
				return -1;
			s->p += 6;
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
			return -1;
		}
		if (out)
			es_utf8(out, cp);
	}
	return es_eod(s);
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
	if (s->p >= s->end)
		return es_eod(s);
	if (*s->p != ':')
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
			return es_eod(s);
		if (*s->p == close) {
			s->p++;
			return 0;
		}
		if (*s->p != ',')
			return -1;
		s->p++;
	}
}

/* At a literal's first letter: moves past it. */
static int es_literal(struct es_scan *s, const char *word)
{
	size_t n = strlen(word), have = (size_t)(s->end - s->p);
	if (have < n)
		return memcmp(s->p, word, have) == 0 ? es_eod(s) : -1;
	if (memcmp(s->p, word, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

/* Skips one JSON value (leading blanks included). */
static int es_skip(struct es_scan *s, int depth)
{
	es_ws(s);
	if (s->p >= s->end)
		return es_eod(s);
	switch (*s->p) {
	case '{':
	case '[':
		return es_skip_container(s, depth);
	case '"':
		return es_string(s, NULL);
	case 't':
		return es_literal(s, "true");
	case 'f':
		return es_literal(s, "false");
	case 'n':
		return es_literal(s, "null");
	default: {
		const char *st = s->p;
		if (*s->p == '-')
			s->p++;
		while (s->p < s->end && ((*s->p >= '0' && *s->p <= '9') || *s->p == '.' ||
					 *s->p == 'e' || *s->p == 'E' || *s->p == '+' ||
					 *s->p == '-'))
			s->p++;
		if (s->p >= s->end)
			return es_eod(s); /* more digits may follow */
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
		return es_eod(s);
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
	if (es_name_colon(s, name, len) != 0)
		return -1;
	*first = 0;
	es_ws(s);
	return 1;
}

static int es_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && memcmp(name, want, len) == 0;
}

/* At a value: moves past its first character when that is `open`. */
static int es_enter(struct es_scan *s, char open)
{
	if (s->p >= s->end)
		return es_eod(s);
	if (*s->p != open)
		return -1;
	s->p++;
	return 0;
}

static int es_open_obj(struct es_scan *s)
{
	es_ws(s);
	return es_enter(s, '{');
}

int es_plugin_string_value(const char *raw, size_t n, struct cp_buf *out)
{
	struct es_scan s = {raw, raw + n, 0};
	return es_string(&s, out) == 0 && s.p == s.end ? 0 : -1;
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
	if (list.oom) {
		rc = cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
		goto out;
	}
	if (n > 0) {
		if ((rc = es_plugin_pit_open(es, list.p)) != CAIRN_OK)
			goto out;
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

/* The snapshot's PIT covers the index (it existed when the snapshot began). */
static int es_in_pit(const struct es_inst *es, const char *index)
{
	for (size_t i = 0; es->pit_indices && es->pit_indices[i]; i++)
		if (strcmp(es->pit_indices[i], index) == 0)
			return 1;
	return 0;
}

int es_plugin_kind_exists(void *inst, const struct cairn_kind_desc *kind)
{
	struct es_inst *es = inst;
	struct cp_buf ix = {0}, rev = {0};
	int rc;

	if (es == NULL)
		return CAIRN_E_INVALID;
	if ((rc = es_plugin_index_name(es, kind, &ix)) != CAIRN_OK ||
	    (rc = es_plugin_kind_index(es, kind, 1, &rev)) != CAIRN_OK)
		goto out;
	if (es->tx == CP_TX_SNAPSHOT) {
		/* inside the snapshot: what the PIT covers, not what exists now */
		rc = es_in_pit(es, ix.p) || es_in_pit(es, rev.p);
	} else if (es->tx == CP_TX_RESTORE) {
		/* a restore creates a missing index (with the README's mapping) on first write */
		rc = 1;
	} else {
		rc = es_plugin_index_exists(es, rev.p);
		if (rc == 0 && es_plugin_is_flow(kind))
			rc = es_plugin_index_exists(es, ix.p);
	}
out:
	cp_buf_free(&ix);
	cp_buf_free(&rev);
	return rc;
}

/* ---- the streamed answer of one search ---- */

struct es_stream {
	struct es_inst *es;
	CURL *easy;
	CURLM *multi;
	struct curl_slist *hdrs;
	struct cp_buf req;  /* the request body: curl reads it during the transfer */
	struct cp_buf buf;  /* the answer, from the first byte not dropped yet */
	size_t pos;         /* where the scanner is in buf */
	size_t want;        /* the write callback takes data while buf.len < want */
	long status;
	int added;          /* easy is in multi: a transfer is on */
	int paused, done;
	CURLcode result;
};

static size_t es_stream_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct es_stream *st = ud;
	size_t n = size * nmemb;
	if (st->status == 0)
		curl_easy_getinfo(st->easy, CURLINFO_RESPONSE_CODE, &st->status);
	if (st->status != 200) {
		/* an error answer is read to its end; its start is kept for the message */
		if (st->buf.len < ES_MAX_ERROR_BODY)
			cp_buf_addn(&st->buf, data,
				    n < ES_MAX_ERROR_BODY - st->buf.len ? n
									: ES_MAX_ERROR_BODY - st->buf.len);
		return st->buf.oom ? 0 : n;
	}
	if (st->buf.len >= st->want) {
		st->paused = 1; /* curl keeps this data and hands it over again on unpause */
		return CURL_WRITEFUNC_PAUSE;
	}
	cp_buf_addn(&st->buf, data, n);
	return st->buf.oom ? 0 : n;
}

static int es_stream_init(struct es_stream *st, struct es_inst *es)
{
	st->es = es;
	st->easy = curl_easy_duphandle(es->curl);
	st->multi = curl_multi_init();
	st->hdrs = es_plugin_headers(es, "application/json");
	if (st->easy == NULL || st->multi == NULL || st->hdrs == NULL)
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	curl_easy_setopt(st->easy, CURLOPT_WRITEFUNCTION, es_stream_write);
	curl_easy_setopt(st->easy, CURLOPT_WRITEDATA, st);
	curl_easy_setopt(st->easy, CURLOPT_TIMEOUT, 0L);
	curl_easy_setopt(st->easy, CURLOPT_HTTPHEADER, st->hdrs);
	curl_easy_setopt(st->easy, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(st->easy, CURLOPT_CUSTOMREQUEST, NULL);
	return CAIRN_OK;
}

static void es_stream_stop(struct es_stream *st)
{
	if (st->added) /* an unfinished transfer is abandoned (its connection closed) */
		curl_multi_remove_handle(st->multi, st->easy);
	st->added = 0;
}

static void es_stream_free(struct es_stream *st)
{
	es_stream_stop(st);
	if (st->multi != NULL)
		curl_multi_cleanup(st->multi);
	if (st->easy != NULL)
		curl_easy_cleanup(st->easy);
	curl_slist_free_all(st->hdrs);
	cp_buf_free(&st->req);
	cp_buf_free(&st->buf);
}

/* POSTs st->req to path; the answer is then read with es_stream_fill. */
static int es_stream_start(struct es_stream *st, const char *path)
{
	struct cp_buf url = {0};
	cp_buf_addf(&url, "%s%s", st->es->base, path);
	if (url.oom || st->req.oom) {
		cp_buf_free(&url);
		return cp_fail(st->es->host, CAIRN_E_NOMEM, "out of memory");
	}
	curl_easy_setopt(st->easy, CURLOPT_URL, url.p);
	cp_buf_free(&url);
	curl_easy_setopt(st->easy, CURLOPT_POSTFIELDS, st->req.p);
	curl_easy_setopt(st->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st->req.len);
	cp_buf_reset(&st->buf);
	st->pos = 0;
	st->status = 0;
	st->paused = st->done = 0;
	st->result = CURLE_OK;
	st->want = ES_STEP;
	if (curl_multi_add_handle(st->multi, st->easy) != CURLM_OK)
		return cp_fail(st->es->host, CAIRN_E_IO, "POST %s%s: unable to start the request",
			       st->es->base, path);
	st->added = 1;
	return CAIRN_OK;
}

static double es_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Lets the answer grow until buf holds `want` bytes, or it ends. */
static int es_stream_fill(struct es_stream *st, size_t want)
{
	struct es_inst *es = st->es;
	double since = es_now();
	size_t had = st->buf.len;

	st->want = want;
	if (st->paused && !st->done) {
		st->paused = 0;
		/* what curl held back is handed over first, possibly before this returns */
		curl_easy_pause(st->easy, CURLPAUSE_CONT);
	}
	while (st->added && !st->done && !st->paused && st->buf.len < st->want && !st->buf.oom) {
		CURLMsg *m;
		int running, left;
		if (curl_multi_perform(st->multi, &running) != CURLM_OK)
			return cp_fail(es->host, CAIRN_E_IO, "POST %s/_search: the transfer failed",
				       es->base);
		while ((m = curl_multi_info_read(st->multi, &left)) != NULL)
			if (m->msg == CURLMSG_DONE && m->easy_handle == st->easy) {
				st->done = 1;
				st->result = m->data.result;
			}
		if (st->done || st->paused || st->buf.len >= st->want)
			break;
		if (st->buf.len != had) {
			had = st->buf.len;
			since = es_now();
		} else if (es_now() - since > (double)es->timeout) {
			return cp_fail(es->host, CAIRN_E_IO,
				       "POST %s/_search: the server sent nothing for %ld s", es->base,
				       es->timeout);
		}
		if (curl_multi_poll(st->multi, NULL, 0, 1000, NULL) != CURLM_OK)
			return cp_fail(es->host, CAIRN_E_IO, "POST %s/_search: the transfer failed",
				       es->base);
	}
	if (st->buf.oom)
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	if (st->done && st->added) {
		es_stream_stop(st);
		if (st->status == 0)
			curl_easy_getinfo(st->easy, CURLINFO_RESPONSE_CODE, &st->status);
		if (st->result != CURLE_OK)
			return es_plugin_curl_error(es, st->result, 0, "POST", "/_search");
	}
	return CAIRN_OK;
}

/* Drops what the scanner is past; gives back the room a big hit needed once it is passed. */
static void es_stream_compact(struct es_stream *st)
{
	size_t left = st->buf.len - st->pos;
	if (st->pos == 0)
		return;
	if (st->buf.cap > 8 * ES_STEP && left < st->buf.cap / 8) {
		struct cp_buf nb = {0};
		cp_buf_reserve(&nb, left + ES_STEP);
		cp_buf_addn(&nb, st->buf.p + st->pos, left);
		if (!nb.oom) {
			cp_buf_free(&st->buf);
			st->buf = nb;
			st->pos = 0;
			return;
		}
		cp_buf_free(&nb);
	}
	memmove(st->buf.p, st->buf.p + st->pos, left);
	st->buf.len = left;
	st->buf.p[left] = '\0';
	st->pos = 0;
}

/* ---- cursors ---- */

enum es_page_state {
	ES_PG_NONE,  /* no page asked for yet, or the last one was read to its end */
	ES_PG_START, /* before the answer's '{' */
	ES_PG_TOP,   /* in the answer's object */
	ES_PG_HITS,  /* in its "hits" object */
	ES_PG_ARRAY, /* in "hits"."hits" */
	ES_PG_TAIL   /* after the answer's '}' */
};

/* One hit's members, as spans of the answer. */
struct es_hit {
	const char *id, *src, *sort;
	size_t id_len, src_len, sort_len;
};

struct es_cursor {
	struct es_inst *es;
	char *index;
	char *sort;           /* the sort array, JSON */
	int raw;              /* records hold _source as it is (es_plugin_search_open) */
	int flow;             /* FLOW: labelsMap is derived from labels, not backed up */
	struct cp_buf query;  /* the scope's query, JSON */
	struct cp_buf after;  /* the last hit's sort values, as the answer wrote them */
	struct es_stream st;
	enum es_page_state state;
	int first_top, first_hits, first_hit; /* nothing read yet at that level */
	int found;            /* this page's hits.hits was seen */
	long page_hits;
	int done;
	struct cp_buf key, tenant, pit;
	struct cp_buf trimmed, value, yaml; /* _source without labelsMap, without sourceCode; the sourceCode */
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
			if (s->p >= s->end)
				return es_eod(s);
			if (*s->p != '0')
				return -2;
		}
		if (es_skip(s, 1) != 0)
			return -1;
	}
	return r;
}

/* Asks for the next page; its answer is then read by es_page_next. */
static int es_fetch_page(struct es_cursor *c)
{
	struct es_inst *es = c->es;
	struct es_stream *st = &c->st;
	struct cp_buf *body = &st->req;
	int rc;

	cp_buf_reset(body);
	cp_buf_addf(body, "{\"size\":%ld,\"track_total_hits\":false,\"pit\":{\"id\":",
		    es->page_size);
	es_plugin_json_str(body, es->pit_id, strlen(es->pit_id));
	cp_buf_add(body, ",\"keep_alive\":\"" ES_KEEP_ALIVE "\"},\"sort\":");
	cp_buf_add(body, c->sort);
	cp_buf_add(body, ",\"query\":{\"bool\":{\"filter\":[{\"term\":{\"_index\":");
	es_plugin_json_str(body, c->index, strlen(c->index));
	cp_buf_add(body, "}},");
	cp_buf_addn(body, c->query.p, c->query.len);
	cp_buf_add(body, "]}}");
	if (c->after.len > 0) {
		cp_buf_add(body, ",\"search_after\":");
		cp_buf_addn(body, c->after.p, c->after.len);
	}
	cp_buf_add(body, "}");
	/*
	 * A busy cluster answers 429 (es_rejected_execution_exception) or 503:
	 * the same page is asked again after a pause, as the restore does with
	 * bulk items; the PIT keeps the answer the same.
	 */
	for (int attempt = 0;; attempt++) {
		if ((rc = es_stream_start(st, "/_search")) != CAIRN_OK ||
		    (rc = es_stream_fill(st, 1)) != CAIRN_OK)
			return rc;
		if (st->status == 200)
			break;
		if ((rc = es_stream_fill(st, (size_t)-1)) != CAIRN_OK)
			return rc;
		if ((st->status != 429 && st->status != 503) || attempt + 1 >= ES_SEARCH_TRIES)
			return es_plugin_http_error_of(es, st->status, st->buf.p, st->buf.len,
						       c->index);
		CAIRN_LOG_DEBUG(es->host, ES_NAME, "index '%s': search refused (HTTP %ld); retrying",
				c->index, st->status);
		es_plugin_sleep_ms(100L << attempt);
	}
	c->state = ES_PG_START;
	c->found = 0;
	c->page_hits = 0;
	return CAIRN_OK;
}

/* The scanner ran out of text in the middle of a unit: asks for more of the answer. */
static int es_more(struct es_cursor *c)
{
	struct es_stream *st = &c->st;
	size_t unit = st->buf.len - st->pos, want;
	if (st->done)
		return es_corrupt(c, "it ends in the middle");
	if (unit >= ES_MAX_ANSWER)
		return cp_fail(c->es->host, CAIRN_E_BACKEND,
			       "index '%s': a search hit, or another part of the answer, is larger "
			       "than %lu MiB (refused)",
			       c->index, ES_MAX_ANSWER >> 20);
	es_stream_compact(st);
	want = unit + (unit > ES_STEP ? unit : ES_STEP);
	if (want > ES_MAX_ANSWER + ES_STEP)
		want = ES_MAX_ANSWER + ES_STEP;
	return es_stream_fill(st, want);
}

/* At a hit's '{': the spans of its _id, _source and sort. */
static int es_hit_scan(struct es_scan *s, struct es_hit *h)
{
	const char *name;
	size_t len;
	int first = 1, r;
	memset(h, 0, sizeof *h);
	if (es_open_obj(s) != 0)
		return -1;
	while ((r = es_member(s, &first, &name, &len)) == 1) {
		const char *st = s->p;
		if (es_skip(s, 3) != 0)
			return -1;
		if (es_is(name, len, "_id")) {
			h->id = st;
			h->id_len = (size_t)(s->p - st);
		} else if (es_is(name, len, "_source")) {
			h->src = st;
			h->src_len = (size_t)(s->p - st);
		} else if (es_is(name, len, "sort")) {
			h->sort = st;
			h->sort_len = (size_t)(s->p - st);
		}
	}
	return r;
}

/*
 * At the answer's pit_id: Elasticsearch may hand out a new id for the same
 * PIT, and the next page must use the latest. 0, -1 as the scanner, or a
 * status below -1 (reported).
 */
static int es_take_pit_id(struct es_cursor *c, struct es_scan *s)
{
	struct es_inst *es = c->es;
	int r;
	cp_buf_reset(&c->pit);
	if ((r = es_string(s, &c->pit)) != 0)
		return r;
	if (c->pit.oom)
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	if (c->pit.p == NULL)
		return es_corrupt(c, "pit_id");
	free(es->pit_id);
	es->pit_id = c->pit.p;
	memset(&c->pit, 0, sizeof c->pit);
	return 0;
}

/*
 * Reads the page's answer up to its next hit: 1 with *h set (spans valid
 * until the next call), 0 at the end of the answer, <0 on error.
 */
static int es_page_next(struct es_cursor *c, struct es_hit *h)
{
	struct es_inst *es = c->es;
	int rc;

	for (;;) {
		struct es_stream *st = &c->st;
		struct es_scan s = {st->buf.p ? st->buf.p + st->pos : "", NULL, 0};
		const char *name, *what = "structure";
		size_t len;
		int r = -1, first;

		s.end = s.p + (st->buf.len - st->pos);
		switch (c->state) {
		case ES_PG_START:
			what = "not an object";
			if ((r = es_open_obj(&s)) == 0) {
				c->state = ES_PG_TOP;
				c->first_top = 1;
			}
			break;
		case ES_PG_TOP:
		case ES_PG_HITS: {
			/* the answer's object and its "hits" object: each leads to one "hits" */
			int top = c->state == ES_PG_TOP;
			int *level_first = top ? &c->first_top : &c->first_hits;
			first = *level_first;
			what = top ? "member" : "hits";
			if ((r = es_member(&s, &first, &name, &len)) == 0) {
				c->state = top ? ES_PG_TAIL : ES_PG_TOP;
				break;
			}
			if (r < 0)
				break;
			if (es_is(name, len, "hits") && !c->found) {
				what = top ? "hits" : "hits.hits";
				if ((r = es_enter(&s, top ? '{' : '[')) == 0) {
					c->state = top ? ES_PG_HITS : ES_PG_ARRAY;
					*(top ? &c->first_hits : &c->first_hit) = 1;
					c->found = !top;
				}
			} else if (top && es_is(name, len, "pit_id")) {
				what = "pit_id";
				if ((r = es_take_pit_id(c, &s)) < -1)
					return r;
			} else if (top && es_is(name, len, "_shards")) {
				what = "_shards";
				if ((r = es_shards_ok(&s)) == -2)
					return cp_fail(es->host, CAIRN_E_BACKEND,
						       "index '%s': shards failed during the search: the "
						       "page would miss documents",
						       c->index);
			} else {
				r = es_skip(&s, 2);
			}
			if (r == 0)
				*level_first = first;
			break;
		}
		case ES_PG_ARRAY:
			what = "hits array";
			es_ws(&s);
			if (s.p >= s.end) {
				r = es_eod(&s);
			} else if (*s.p == ']') {
				s.p++;
				r = 0;
				c->state = ES_PG_HITS;
			} else if (c->first_hit || *s.p == ',') {
				s.p += c->first_hit ? 0 : 1;
				what = "hit";
				if ((r = es_hit_scan(&s, h)) == 0) {
					c->first_hit = 0;
					st->pos = (size_t)(s.p - st->buf.p);
					return 1;
				}
			}
			break;
		case ES_PG_TAIL:
			what = "data after the answer";
			es_ws(&s);
			if (s.p < s.end)
				break;
			if (!st->done) {
				r = es_eod(&s);
				break;
			}
			if (!c->found)
				return es_corrupt(c, "no hits.hits");
			c->state = ES_PG_NONE;
			return 0;
		case ES_PG_NONE:
			return es_corrupt(c, "no page");
		}
		if (r == 0) {
			st->pos = (size_t)(s.p - st->buf.p);
			continue;
		}
		if (!s.eod)
			return es_corrupt(c, what);
		if ((rc = es_more(c)) != CAIRN_OK)
			return rc;
	}
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
	struct es_scan s = {doc, doc + n, 0};
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
 * Cuts the top-level member `name` out of the object doc[0..n) into out:
 * its bytes and one of its commas go, the rest of the text stays exactly
 * as Elasticsearch holds it. With str, only a string member is cut, and
 * its decoded text is put in str. 1 when cut, 0 when there is none, -1 on
 * malformed text.
 */
static int es_cut(const char *doc, size_t n, const char *name, struct cp_buf *str,
		  struct cp_buf *out)
{
	const char *beg, *v, *from, *to, *p;
	size_t vlen;
	int r = es_member_find(doc, n, name, &beg, &v, &vlen);
	if (r <= 0)
		return r;
	if (str != NULL) {
		if (*v != '"')
			return 0;
		cp_buf_reset(str);
		if (es_plugin_string_value(v, vlen, str) != 0)
			return -1;
	}
	from = beg;
	to = v + vlen;
	for (p = beg; p > doc && es_blank(p[-1]); p--)
		;
	if (p > doc && p[-1] == ',') {
		from = p - 1; /* not the first member: its comma goes before it */
	} else {
		const char *q = to;
		while (q < doc + n && es_blank(*q))
			q++;
		if (q < doc + n && *q == ',')
			to = q + 1; /* the first of several: the comma after it goes */
	}
	cp_buf_reset(out);
	cp_buf_addn(out, doc, (size_t)(from - doc));
	cp_buf_addn(out, to, (size_t)(doc + n - to));
	return 1;
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
		if (es_plugin_string_value(v, vlen, &c->tenant) != 0)
			return -1;
		*has = 1;
	}
	return 0;
}

/* A cursor over `index` (taken), sorted by `sort`, with `query` (JSON, copied). */
static int es_cursor_make(struct es_inst *es, char *index, const char *sort, const char *query,
			  size_t query_len, struct es_cursor **out)
{
	struct es_cursor *c = calloc(1, sizeof *c);
	int rc;
	if (c == NULL) {
		free(index);
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	}
	c->es = es;
	c->index = index;
	c->sort = cp_strdup(sort);
	cp_buf_addn(&c->query, query, query_len);
	if ((rc = es_stream_init(&c->st, es)) == CAIRN_OK && (c->sort == NULL || c->query.oom))
		rc = cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	if (rc != CAIRN_OK) {
		es_plugin_cursor_close(c);
		return rc;
	}
	c->cols[0] = (struct cairn_column){.name = "key", .type = CAIRN_COL_TEXT};
	c->cols[1] = (struct cairn_column){.name = "value", .type = CAIRN_COL_JSON};
	c->cols[2] = (struct cairn_column){.name = "source_code", .type = CAIRN_COL_TEXT};
	c->rec.struct_size = sizeof c->rec;
	c->rec.n_columns = 2;
	c->rec.columns = c->cols;
	*out = c;
	return CAIRN_OK;
}

/*
 * FLOW is read from its revisions index (every revision, as the JDBC flows
 * table holds them); only a layout without one (older, or damaged) falls
 * back to the latest revisions.
 */
static int es_read_index(struct es_inst *es, const struct cairn_kind_desc *kind,
			 struct cp_buf *ix)
{
	struct cp_buf latest = {0};
	int rc = es_plugin_kind_index(es, kind, 1, ix);
	if (rc != CAIRN_OK || !es_plugin_is_flow(kind) || es_in_pit(es, ix->p))
		return rc;
	if ((rc = es_plugin_index_name(es, kind, &latest)) == CAIRN_OK && es_in_pit(es, latest.p)) {
		CAIRN_LOG_WARN(es->host, ES_NAME,
			       "no index '%s': %s is read from '%s', which holds the latest "
			       "revisions only",
			       ix->p, kind->kind, latest.p);
		cp_buf_reset(ix);
		cp_buf_add(ix, latest.p);
		if (ix->oom)
			rc = cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	}
	cp_buf_free(&latest);
	return rc;
}

static int es_cursor_new(struct es_inst *es, const struct cairn_kind_desc *kind,
			 const struct cp_scope *sc, void **cursor)
{
	struct es_cursor *c;
	struct cp_buf ix = {0}, q = {0};
	int rc;

	if ((rc = cp_tx_expect(es->host, es->tx, CP_TX_SNAPSHOT)) != CAIRN_OK)
		return rc;
	if ((rc = es_read_index(es, kind, &ix)) != CAIRN_OK) {
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
	es_plugin_scope_query(&q, sc);
	rc = q.oom ? cp_fail(es->host, CAIRN_E_NOMEM, "out of memory")
		   : es_cursor_make(es, ix.p, ES_SORT_SHARD_DOC, q.p, q.len, &c);
	if (q.oom)
		cp_buf_free(&ix);
	cp_buf_free(&q);
	if (rc != CAIRN_OK)
		return rc;
	c->flow = es_plugin_is_flow(kind);
	*cursor = c;
	return CAIRN_OK;
}

int es_plugin_search_open(struct es_inst *es, const char *index, const char *sort,
			  const char *query, void **cursor)
{
	struct es_cursor *c;
	char *ix = cp_strdup(index);
	int rc;
	if (ix == NULL)
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	if ((rc = es_cursor_make(es, ix, sort, query, strlen(query), &c)) != CAIRN_OK)
		return rc;
	c->raw = 1;
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
	sc.time_col = es_plugin_kind_time_field(kind);
	return es_cursor_new(es, kind, &sc, cursor);
}

int es_plugin_cursor_open(void *inst, const struct cairn_kind_desc *kind, const char *tenant,
			  void **cursor)
{
	struct cairn_scope s = cp_scope_of_tenant(tenant);
	return es_plugin_cursor_open_scoped(inst, kind, &s, cursor);
}

/*
 * A record's value: _source, less what is not the JDBC value. A string
 * sourceCode (a flow's YAML, which the JDBC backends keep in a source_code
 * column) becomes the source_code column; a flow's labelsMap, which Kestra
 * derives from its labels, is dropped (the restore derives it again).
 */
static int es_record_value(struct es_cursor *c, const char *src, size_t n)
{
	const char *doc = src;
	size_t len = n;
	int r;

	c->cols[1].data = src;
	c->cols[1].len = n;
	c->rec.n_columns = 2;
	if (c->raw)
		return CAIRN_OK;
	if (c->flow && (r = es_cut(doc, len, "labelsMap", NULL, &c->trimmed)) != 0) {
		if (r < 0)
			return es_corrupt(c, "_source");
		doc = c->trimmed.p;
		len = c->trimmed.len;
	}
	if ((r = es_cut(doc, len, "sourceCode", &c->yaml, &c->value)) < 0)
		return es_corrupt(c, "_source");
	if (r == 1) {
		doc = c->value.p;
		len = c->value.len;
		c->cols[2].data = c->yaml.p ? c->yaml.p : "";
		c->cols[2].len = c->yaml.len;
		c->rec.n_columns = 3;
	}
	if (c->trimmed.oom || c->value.oom || c->yaml.oom)
		return cp_fail(c->es->host, CAIRN_E_NOMEM, "out of memory");
	c->cols[1].data = doc;
	c->cols[1].len = len;
	return CAIRN_OK;
}

int es_plugin_cursor_next(void *cursor, const struct cairn_record **rec)
{
	struct es_cursor *c = cursor;
	struct es_hit h;
	int r, rc, has_tenant;

	if (c == NULL || rec == NULL)
		return CAIRN_E_INVALID;
	for (;;) {
		if (c->done)
			return 0;
		if ((rc = cp_check_cancelled(c->es->host)) != CAIRN_OK)
			return rc;
		if (c->state == ES_PG_NONE && (rc = es_fetch_page(c)) != CAIRN_OK)
			return rc;
		if ((r = es_page_next(c, &h)) < 0)
			return r;
		if (r == 1)
			break;
		/* a short page is the last one; a full one may have a successor */
		if (c->page_hits < c->es->page_size)
			c->done = 1;
	}
	c->page_hits++;
	cp_buf_reset(&c->key);
	if (h.id == NULL || es_plugin_string_value(h.id, h.id_len, &c->key) != 0)
		return es_corrupt(c, h.id == NULL ? "hit without _id" : "_id");
	cp_buf_add(&c->key, "");
	if (h.sort == NULL)
		return es_corrupt(c, "hit without sort values");
	/* copied as written: search_after wants the values exactly */
	cp_buf_reset(&c->after);
	cp_buf_addn(&c->after, h.sort, h.sort_len);
	if (c->key.oom || c->after.oom)
		return cp_fail(c->es->host, CAIRN_E_NOMEM, "out of memory");
	if (c->key.len == 0)
		return es_corrupt(c, "hit without _id");
	if (h.src == NULL)
		return cp_fail(c->es->host, CAIRN_E_SCHEMA,
			       "index '%s': document '%s' has no _source (is _source disabled in "
			       "the mapping?)",
			       c->index, c->key.p);
	if (*h.src != '{' || es_source_tenant(c, h.src, h.src_len, &has_tenant) != 0)
		return es_corrupt(c, "_source");
	if (c->tenant.oom)
		return cp_fail(c->es->host, CAIRN_E_NOMEM, "out of memory");
	if ((rc = es_record_value(c, h.src, h.src_len)) != CAIRN_OK)
		return rc;
	c->cols[0].data = c->key.p;
	c->cols[0].len = c->key.len;
	c->rec.key = c->key.p;
	c->rec.tenant = has_tenant ? (c->tenant.p ? c->tenant.p : "") : NULL;
	*rec = &c->rec;
	return 1;
}

int es_plugin_cursor_sort_null(void *cursor, size_t n)
{
	struct es_cursor *c = cursor;
	struct es_scan s = {c->after.p ? c->after.p : "", NULL, 0};
	s.end = s.p + c->after.len;
	es_ws(&s);
	if (s.p >= s.end || *s.p++ != '[')
		return 1;
	for (size_t i = 0; i < n; i++) {
		es_ws(&s);
		if (i > 0 && (s.p >= s.end || *s.p++ != ','))
			return 1;
		es_ws(&s);
		if (s.p < s.end && *s.p == 'n')
			return 1; /* null: no indexed value */
		if (es_skip(&s, 1) != 0)
			return 1;
	}
	return 0;
}

void es_plugin_cursor_close(void *cursor)
{
	struct es_cursor *c = cursor;
	if (c == NULL)
		return;
	es_stream_free(&c->st);
	free(c->index);
	free(c->sort);
	cp_buf_free(&c->query);
	cp_buf_free(&c->after);
	cp_buf_free(&c->key);
	cp_buf_free(&c->tenant);
	cp_buf_free(&c->pit);
	cp_buf_free(&c->trimmed);
	cp_buf_free(&c->value);
	cp_buf_free(&c->yaml);
	free(c);
}

/*
 * Walks the kind's documents through the snapshot's PIT, as a cursor does,
 * and reports each tenant once. Only the core's "no such tenant" error asks
 * for it, so a full walk (memory: one hit plus the distinct tenants) beats
 * an aggregation, which would need a mapping the index may not have.
 */
int es_plugin_list_tenants(void *inst, const struct cairn_kind_desc *kind, cairn_tenant_cb cb,
			   void *ud)
{
	struct es_inst *es = inst;
	struct cairn_scope any = cp_scope_of_tenant(NULL);
	const struct cairn_record *rec;
	struct es_name *seen = NULL;
	void *cur = NULL;
	int rc, none_seen = 0;

	if (es == NULL || cb == NULL)
		return CAIRN_E_INVALID;
	if ((rc = es_plugin_cursor_open_scoped(es, kind, &any, &cur)) != CAIRN_OK)
		return rc;
	while ((rc = es_plugin_cursor_next(cur, &rec)) == 1) {
		int added;
		if (rec->tenant == NULL) {
			if (!none_seen && (rc = cb(ud, NULL)) != 0)
				break;
			none_seen = 1;
			continue;
		}
		if ((added = es_plugin_name_add(&seen, rec->tenant)) < 0) {
			rc = cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
			break;
		}
		if (added && (rc = cb(ud, rec->tenant)) != 0)
			break;
	}
	es_plugin_cursor_close(cur);
	es_plugin_names_free(&seen);
	return rc;
}
