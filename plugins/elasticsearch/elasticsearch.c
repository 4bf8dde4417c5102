/*
 * elasticsearch.c — the Elasticsearch source plugin: entry point, options,
 * the HTTP layer (one libcurl easy handle, kept alive between requests),
 * describe, and the helpers the read and restore halves share.
 */
#define _POSIX_C_SOURCE 200809L
#include "elasticsearch.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cairn/plugin.h"
#include "plugin_uri.h"

static const char *const es_known_opts[] = {
	"index_prefix", "user", "password", "api_key", "ca_file", "tls_verify",
	"page_size", "bulk_bytes", "timeout", NULL};

static int es_known_opt(const char *k)
{
	for (size_t i = 0; es_known_opts[i] != NULL; i++)
		if (strcmp(es_known_opts[i], k) == 0)
			return 1;
	return 0;
}

static size_t es_write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct es_inst *es = ud;
	size_t n = size * nmemb;
	if (n > ES_MAX_ANSWER - es->resp.len) {
		es->resp_too_big = 1;
		return 0; /* curl stops the transfer: CURLE_WRITE_ERROR */
	}
	cp_buf_addn(&es->resp, data, n);
	return es->resp.oom ? 0 : n;
}

struct curl_slist *es_plugin_headers(struct es_inst *es, const char *ctype)
{
	/* the per-request content type goes first: it is the only one sent */
	struct cp_buf line = {0};
	struct curl_slist *h;
	cp_buf_addf(&line, "Content-Type: %s", ctype);
	h = line.oom ? NULL : curl_slist_append(NULL, line.p);
	cp_buf_free(&line);
	for (struct curl_slist *s = es->headers; h != NULL && s != NULL; s = s->next)
		if (curl_slist_append(h, s->data) == NULL) {
			curl_slist_free_all(h);
			h = NULL;
		}
	return h;
}

int es_plugin_curl_error(struct es_inst *es, CURLcode cc, int too_big, const char *method,
			 const char *path)
{
	int st;
	if (too_big)
		return cp_fail(es->host, CAIRN_E_BACKEND,
			       "%s %s%s: the answer is larger than %lu MiB (refused)", method, es->base,
			       path, ES_MAX_ANSWER >> 20);
	/* as in the SQL plugins, a failed TLS handshake is a failure to connect */
	st = (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
	      cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_PEER_FAILED_VERIFICATION ||
	      cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_SSL_CACERT_BADFILE)
		     ? CAIRN_E_CONNECT
	     : cc == CURLE_OUT_OF_MEMORY ? CAIRN_E_NOMEM
					 : CAIRN_E_IO;
	return cp_fail(es->host, st, "%s %s%s: %s", method, es->base, path, curl_easy_strerror(cc));
}

int es_plugin_request(struct es_inst *es, const char *method, const char *path,
		      const char *body, size_t body_len, const char *ctype)
{
	struct cp_buf url = {0};
	struct curl_slist *h = NULL, *hdrs = es->headers;
	CURLcode cc;
	int rc = CAIRN_OK;

	cp_buf_reset(&es->resp);
	es->resp_too_big = 0;
	es->status = 0;
	cp_buf_add(&url, es->base);
	cp_buf_add(&url, path);
	if (ctype != NULL && (h = es_plugin_headers(es, ctype)) == NULL)
		url.oom = 1;
	if (url.oom) {
		cp_buf_free(&url);
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	}
	if (h != NULL)
		hdrs = h;
	curl_easy_setopt(es->curl, CURLOPT_URL, url.p);
	curl_easy_setopt(es->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(es->curl, CURLOPT_WRITEDATA, es);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(es->curl, CURLOPT_NOBODY, 1L);
		curl_easy_setopt(es->curl, CURLOPT_CUSTOMREQUEST, NULL);
	} else {
		curl_easy_setopt(es->curl, CURLOPT_NOBODY, 0L);
		curl_easy_setopt(es->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(es->curl, CURLOPT_CUSTOMREQUEST,
				 strcmp(method, "GET") == 0 ? NULL : method);
	}
	/* a POST without a body still sends Content-Length: 0, as proxies want */
	if (body == NULL && strcmp(method, "POST") == 0)
		body = "";
	if (body != NULL) {
		curl_easy_setopt(es->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(es->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	cc = curl_easy_perform(es->curl);
	if (body != NULL)
		curl_easy_setopt(es->curl, CURLOPT_POSTFIELDS, NULL);
	/* the per-request list is freed below: the handle must not keep it */
	curl_easy_setopt(es->curl, CURLOPT_HTTPHEADER, es->headers);
	if (cc != CURLE_OK)
		rc = es->resp.oom ? cp_fail(es->host, CAIRN_E_NOMEM, "out of memory")
				  : es_plugin_curl_error(es, cc, es->resp_too_big, method, path);
	else
		curl_easy_getinfo(es->curl, CURLINFO_RESPONSE_CODE, &es->status);
	curl_slist_free_all(h);
	cp_buf_free(&url);
	return rc;
}

int es_plugin_http_error_of(struct es_inst *es, long status, const char *body, size_t len,
			    const char *what)
{
	int st = status == 401 || status == 403 ? CAIRN_E_AUTH
		 : status == 429 || status == 503 ? CAIRN_E_TRANSIENT
		 : status == 404		   ? CAIRN_E_NOT_FOUND
						   : CAIRN_E_BACKEND;
	const char *type = NULL, *reason = NULL;
	json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *e = j ? json_object_get(j, "error") : NULL;
	int rc;

	if (json_is_object(e)) {
		json_t *rc0 = json_object_get(e, "root_cause");
		json_t *first = json_is_array(rc0) ? json_array_get(rc0, 0) : NULL;
		json_t *src = json_is_object(first) ? first : e;
		type = json_string_value(json_object_get(src, "type"));
		reason = json_string_value(json_object_get(src, "reason"));
	} else if (json_is_string(e)) {
		reason = json_string_value(e);
	}
	rc = cp_fail(es->host, st, "%s: HTTP %ld%s%s%s%s", what, status, type ? ": " : "",
		     type ? type : "", reason ? ": " : "", reason ? reason : "");
	json_decref(j);
	return rc;
}

int es_plugin_http_error(struct es_inst *es, const char *what)
{
	return es_plugin_http_error_of(es, es->status, es->resp.p, es->resp.len, what);
}

void es_plugin_json_str(struct cp_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0; /* start of the bytes that go out as they are */
	cp_buf_add(b, "\"");
	/* a restore sends every document through here: runs, not bytes (bench/RESULTS.md) */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c != '"' && c != '\\' && c >= 0x20)
			continue;
		cp_buf_addn(b, s + run, i - run);
		run = i + 1;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			cp_buf_addn(b, e, 2);
		} else {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			cp_buf_addn(b, e, 6);
		}
	}
	cp_buf_addn(b, s + run, n - run);
	cp_buf_add(b, "\"");
}

/*
 * Elasticsearch index names are lower case and may not hold \ / * ? " < > |
 * space , # or start with - _ +; anything else would also need escaping in
 * the URL paths built from it, so it is refused here once.
 */
static int es_index_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       c == '.';
}

int es_plugin_index_name(struct es_inst *es, const struct cairn_kind_desc *kind,
			 struct cp_buf *b)
{
	const char *ix = NULL;
	if (kind == NULL)
		return cp_fail(es->host, CAIRN_E_INVALID, "no kind given");
	if (kind->struct_size >= offsetof(struct cairn_kind_desc, index) + sizeof(kind->index))
		ix = kind->index;
	if (ix == NULL || *ix == '\0')
		ix = kind->table;
	if (ix == NULL || *ix == '\0')
		return cp_fail(es->host, CAIRN_E_INVALID, "kind '%s' has no index",
			       kind->kind ? kind->kind : "?");
	for (const char *p = ix; *p; p++)
		if (!es_index_char_ok((unsigned char)*p))
			return cp_fail(es->host, CAIRN_E_INVALID,
				       "kind '%s': '%s' is not a valid index name", kind->kind, ix);
	cp_buf_reset(b);
	cp_buf_add(b, es->prefix);
	cp_buf_add(b, ix);
	return b->oom ? cp_fail(es->host, CAIRN_E_NOMEM, "out of memory") : CAIRN_OK;
}

int es_plugin_is_flow(const struct cairn_kind_desc *kind)
{
	return kind != NULL && kind->kind != NULL && strcmp(kind->kind, "FLOW") == 0;
}

int es_plugin_kind_index(struct es_inst *es, const struct cairn_kind_desc *kind, int revisions,
			 struct cp_buf *b)
{
	int rc = es_plugin_index_name(es, kind, b);
	if (rc == CAIRN_OK && revisions && es_plugin_is_flow(kind)) {
		cp_buf_add(b, "_revisions");
		if (b->oom)
			rc = cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	}
	return rc;
}

int es_plugin_name_has(const struct es_name *list, const char *name)
{
	for (; list != NULL; list = list->next)
		if (strcmp(list->name, name) == 0)
			return 1;
	return 0;
}

int es_plugin_name_add(struct es_name **list, const char *name)
{
	size_t n = strlen(name) + 1;
	struct es_name *e;
	if (es_plugin_name_has(*list, name))
		return 0;
	if ((e = malloc(sizeof *e + n)) == NULL)
		return CAIRN_E_NOMEM;
	memcpy(e->name, name, n);
	e->next = *list;
	*list = e;
	return 1;
}

void es_plugin_names_free(struct es_name **list)
{
	while (*list != NULL) {
		struct es_name *n = (*list)->next;
		free(*list);
		*list = n;
	}
}

int es_plugin_index_exists(struct es_inst *es, const char *index)
{
	struct cp_buf path = {0};
	int rc;
	cp_buf_addf(&path, "/%s", index);
	if (path.oom)
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	rc = es_plugin_request(es, "HEAD", path.p, NULL, 0, NULL);
	cp_buf_free(&path);
	if (rc != CAIRN_OK)
		return rc;
	if (es->status == 200)
		return 1;
	if (es->status == 404)
		return 0;
	return es_plugin_http_error(es, index);
}

/* The tenant part of a scope's query. */
static void es_tenant_query(struct cp_buf *b, const struct cp_scope *s)
{
	if (s->filter == CAIRN_TENANT_ONE) {
		cp_buf_add(b, "{\"term\":{\"tenantId\":");
		es_plugin_json_str(b, s->tenant, strlen(s->tenant));
		cp_buf_add(b, "}}");
	} else if (s->filter == CAIRN_TENANT_NONE) {
		cp_buf_add(b, "{\"bool\":{\"must_not\":{\"exists\":{\"field\":\"tenantId\"}}}}");
	} else {
		cp_buf_add(b, "{\"match_all\":{}}");
	}
}

void es_plugin_scope_query(struct cp_buf *b, const struct cp_scope *s)
{
	if (s->since == NULL) {
		es_tenant_query(b, s);
		return;
	}
	/*
	 * ABI 1.3's window: a range on the kind's date field ("state.startDate"),
	 * both in filter context (no scoring). "YYYY-MM-DD HH:MM:SS" becomes the
	 * ISO 8601 instant Kestra writes; a document without the field does not
	 * match, as the ABI says. No field known: nothing, rather than everything.
	 */
	cp_buf_add(b, "{\"bool\":{\"filter\":[");
	es_tenant_query(b, s);
	if (s->time_col == NULL) {
		cp_buf_add(b, ",{\"match_none\":{}}]}}");
		return;
	}
	cp_buf_add(b, ",{\"range\":{");
	es_plugin_json_str(b, s->time_col, strlen(s->time_col));
	cp_buf_addf(b, ":{\"gte\":\"%.10sT%.8sZ\"}}}]}}", s->since, s->since + 11);
}

void es_plugin_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int es_plugin_pit_open(struct es_inst *es, const char *indices)
{
	struct cp_buf path = {0};
	json_t *pit;
	int rc;

	cp_buf_addf(&path, "/%s/_pit?keep_alive=%s", indices, ES_KEEP_ALIVE);
	if (path.oom)
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	rc = es_plugin_request(es, "POST", path.p, NULL, 0, NULL);
	cp_buf_free(&path);
	if (rc == CAIRN_OK && es->status != 200)
		rc = es_plugin_http_error(es, "opening a point in time");
	if (rc != CAIRN_OK)
		return rc;
	pit = json_loadb(es->resp.p ? es->resp.p : "", es->resp.len, 0, NULL);
	free(es->pit_id);
	es->pit_id = cp_strdup(json_string_value(json_object_get(pit, "id")));
	json_decref(pit);
	if (es->pit_id == NULL)
		return cp_fail(es->host, CAIRN_E_CORRUPT, "opening a point in time: no id");
	return CAIRN_OK;
}

void es_plugin_pit_close(struct es_inst *es)
{
	struct cp_buf body = {0};
	if (es->pit_id == NULL)
		return;
	cp_buf_add(&body, "{\"id\":");
	es_plugin_json_str(&body, es->pit_id, strlen(es->pit_id));
	cp_buf_add(&body, "}");
	/* best effort: an unclosed PIT expires with its keep-alive anyway */
	if (body.oom ||
	    es_plugin_request(es, "DELETE", "/_pit", body.p, body.len, "application/json") !=
		    CAIRN_OK ||
	    es->status != 200)
		CAIRN_LOG_WARN(es->host, ES_NAME,
			       "could not close the point in time (it expires after its keep-alive)");
	cp_buf_free(&body);
	free(es->pit_id);
	es->pit_id = NULL;
	if (es->pit_indices != NULL) {
		for (size_t i = 0; es->pit_indices[i] != NULL; i++)
			free(es->pit_indices[i]);
		free(es->pit_indices);
		es->pit_indices = NULL;
	}
}

static void es_plugin_close(void *inst)
{
	struct es_inst *es = inst;
	if (es == NULL)
		return;
	es_plugin_pit_close(es);
	es_plugin_restore_reset(es);
	if (es->curl != NULL)
		curl_easy_cleanup(es->curl);
	curl_slist_free_all(es->headers);
	free(es->base);
	free(es->prefix);
	free(es->backend);
	cp_buf_free(&es->resp);
	free(es);
}

static int es_add_header(struct es_inst *es, const char *name, const char *value)
{
	struct cp_buf line = {0};
	struct curl_slist *n;
	cp_buf_addf(&line, "%s: %s", name, value);
	n = line.oom ? NULL : curl_slist_append(es->headers, line.p);
	if (line.p != NULL)
		memset(line.p, 0, line.len); /* it may hold a credential */
	cp_buf_free(&line);
	if (n == NULL)
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	es->headers = n;
	return CAIRN_OK;
}

static int es_long_opt(struct es_inst *es, const char *name, const char *v, long min, long max,
		       long *out)
{
	if (v == NULL)
		return CAIRN_OK;
	if (cp_parse_long(v, min, max, out) != 0)
		return cp_fail(es->host, CAIRN_E_INVALID, "option '%s' must be %ld…%ld, not '%s'",
			       name, min, max, v);
	return CAIRN_OK;
}

/* Option, then the configuration section, then the environment variable. */
static const char *es_setting(const struct cairn_option *opts, size_t n,
			      const struct cairn_host *host, const char *key, const char *env)
{
	const char *v = cp_option(opts, n, host, ES_NAME, key);
	if (v == NULL && env != NULL)
		v = getenv(env);
	return v;
}

static int es_plugin_open(const struct cairn_host *host, const char *uri,
			  const struct cairn_option *opts, size_t n_opts, void **inst)
{
	struct cp_uri u;
	const char *why = NULL, *v, *user, *password, *api_key;
	struct es_inst *es;
	int tls, rc;
	long timeout = 30;
	struct cp_buf base = {0};

	if (host == NULL || inst == NULL || !CAIRN_HOST_HAS(host, set_error) ||
	    !CAIRN_HOST_HAS(host, log))
		return CAIRN_E_INVALID;
	if (n_opts > 0 && opts == NULL)
		return host->set_error(host, CAIRN_E_INVALID, "options missing");
	for (size_t i = 0; i < n_opts; i++) {
		if (opts[i].key == NULL || opts[i].value == NULL)
			return host->set_error(host, CAIRN_E_INVALID, "option without key or value");
		if (strcmp(opts[i].key, "password") == 0 || strcmp(opts[i].key, "api_key") == 0)
			cp_redact(host, opts[i].value);
		if (!es_known_opt(opts[i].key))
			return host->set_error(host, CAIRN_E_INVALID,
					       "unknown option '%s' (known: index_prefix, user, "
					       "password, api_key, ca_file, tls_verify, page_size, "
					       "bulk_bytes, timeout)",
					       opts[i].key);
	}
	if (uri == NULL || cp_uri_parse(uri, 0, &u, &why) != 0)
		return host->set_error(host, why && strcmp(why, "out of memory") == 0
						     ? CAIRN_E_NOMEM
						     : CAIRN_E_INVALID,
				       "invalid Elasticsearch URI: %s (expected "
				       "elasticsearch://host[:port] or elasticsearchs://host[:port])",
				       why ? why : "none given");
	cp_redact(host, u.password);
	if (strcmp(u.scheme, "elasticsearch") == 0) {
		tls = 0;
	} else if (strcmp(u.scheme, "elasticsearchs") == 0) {
		tls = 1;
	} else {
		cp_uri_free(&u);
		return host->set_error(host, CAIRN_E_INVALID, "not an Elasticsearch URI scheme");
	}
	if (*u.host == '\0' || (u.path[0] != '\0' && strcmp(u.path, "/") != 0) || u.query != NULL) {
		cp_uri_free(&u);
		return host->set_error(host, CAIRN_E_INVALID,
				       "invalid Elasticsearch URI: expected %s://host[:port], "
				       "nothing after the port (the index prefix is an option)",
				       tls ? "elasticsearchs" : "elasticsearch");
	}

	es = calloc(1, sizeof *es);
	if (es == NULL) {
		cp_uri_free(&u);
		return host->set_error(host, CAIRN_E_NOMEM, "out of memory");
	}
	es->host = host;
	es->page_size = 1000;
	es->bulk_bytes = 5L * 1024 * 1024;
	cp_buf_addf(&base, "%s://%s%s%s:%u", tls ? "https" : "http",
		    strchr(u.host, ':') ? "[" : "", u.host, strchr(u.host, ':') ? "]" : "",
		    u.port ? u.port : 9200);
	es->base = base.oom ? NULL : base.p;
	v = es_setting(opts, n_opts, host, "index_prefix", NULL);
	es->prefix = cp_strdup(v ? v : "kestra_");
	es->curl = curl_easy_init();
	if (es->base == NULL || es->prefix == NULL || es->curl == NULL) {
		rc = host->set_error(host, CAIRN_E_NOMEM, "out of memory");
		goto fail;
	}
	for (const char *p = es->prefix; *p; p++)
		if (!es_index_char_ok((unsigned char)*p)) {
			rc = host->set_error(host, CAIRN_E_INVALID,
					     "option 'index_prefix': '%s' is not a valid index "
					     "name prefix (lower case letters, digits, '_', '-', '.')",
					     es->prefix);
			goto fail;
		}
	if ((rc = es_long_opt(es, "page_size", es_setting(opts, n_opts, host, "page_size", NULL),
			      1, 10000, &es->page_size)) != CAIRN_OK ||
	    (rc = es_long_opt(es, "bulk_bytes", es_setting(opts, n_opts, host, "bulk_bytes", NULL),
			      1024, 100L * 1024 * 1024, &es->bulk_bytes)) != CAIRN_OK ||
	    (rc = es_long_opt(es, "timeout", es_setting(opts, n_opts, host, "timeout", NULL), 1,
			      3600, &timeout)) != CAIRN_OK)
		goto fail;

	curl_easy_setopt(es->curl, CURLOPT_WRITEFUNCTION, es_write_cb);
	curl_easy_setopt(es->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(es->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(es->curl, CURLOPT_TIMEOUT, timeout);
	es->timeout = timeout;
	curl_easy_setopt(es->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(es->curl, CURLOPT_ACCEPT_ENCODING, "");

	/* TLS: verification stays on unless the operator turns it off, loudly */
	v = es_setting(opts, n_opts, host, "tls_verify", NULL);
	if (v != NULL && strcmp(v, "false") == 0) {
		CAIRN_LOG_WARN(host, ES_NAME,
			       "tls_verify=false: the server's certificate is not checked");
		curl_easy_setopt(es->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(es->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (v != NULL && strcmp(v, "true") != 0) {
		rc = host->set_error(host, CAIRN_E_INVALID,
				     "option 'tls_verify' must be true or false, not '%s'", v);
		goto fail;
	}
	v = es_setting(opts, n_opts, host, "ca_file", NULL);
	if (v != NULL)
		curl_easy_setopt(es->curl, CURLOPT_CAINFO, v);

	/* Credentials: option, configuration, environment, then the URI's user info. */
	user = es_setting(opts, n_opts, host, "user", "ELASTICSEARCH_USERNAME");
	password = es_setting(opts, n_opts, host, "password", "ELASTICSEARCH_PASSWORD");
	api_key = es_setting(opts, n_opts, host, "api_key", "ELASTICSEARCH_API_KEY");
	if (user == NULL)
		user = u.user;
	if (password == NULL)
		password = u.password;
	cp_redact(host, password);
	cp_redact(host, api_key);
	if (api_key != NULL && *api_key != '\0') {
		struct cp_buf kv = {0};
		cp_buf_addf(&kv, "ApiKey %s", api_key);
		rc = kv.oom ? cp_fail(host, CAIRN_E_NOMEM, "out of memory")
			    : es_add_header(es, "Authorization", kv.p);
		if (kv.p != NULL)
			memset(kv.p, 0, kv.len);
		cp_buf_free(&kv);
		if (rc != CAIRN_OK)
			goto fail;
	} else if (user != NULL && *user != '\0') {
		curl_easy_setopt(es->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(es->curl, CURLOPT_USERNAME, user);
		curl_easy_setopt(es->curl, CURLOPT_PASSWORD, password ? password : "");
	}
	cp_uri_free(&u);
	if ((rc = es_add_header(es, "Accept", "application/json")) != CAIRN_OK)
		goto fail_nouri;

	/* connect now, as the SQL plugins do: a wrong port or password fails at open */
	rc = es_plugin_request(es, "GET", "/", NULL, 0, NULL);
	if (rc == CAIRN_OK && es->status != 200)
		rc = es_plugin_http_error(es, "GET /");
	if (rc == CAIRN_OK) {
		json_t *j = json_loadb(es->resp.p ? es->resp.p : "", es->resp.len, 0, NULL);
		const char *ver =
			json_string_value(json_object_get(json_object_get(j, "version"), "number"));
		struct cp_buf b = {0};
		cp_buf_addf(&b, "elasticsearch %s", ver ? ver : "(unknown version)");
		es->backend = b.oom ? NULL : b.p;
		json_decref(j);
		if (es->backend == NULL)
			rc = host->set_error(host, CAIRN_E_NOMEM, "out of memory");
	}
	if (rc != CAIRN_OK)
		goto fail_nouri;
	*inst = es;
	return CAIRN_OK;
fail:
	cp_uri_free(&u);
fail_nouri:
	if (es->base == NULL)
		cp_buf_free(&base);
	es_plugin_close(es);
	return rc;
}

static int es_plugin_describe(void *inst, struct cairn_source_desc *out)
{
	struct es_inst *es = inst;
	struct cp_buf ix = {0};
	int r;

	if (es == NULL || out == NULL)
		return CAIRN_E_INVALID;
	cp_buf_addf(&ix, "%sflows", es->prefix);
	if (ix.oom)
		return cp_fail(es->host, CAIRN_E_NOMEM, "out of memory");
	r = es_plugin_index_exists(es, ix.p);
	if (r == 0)
		r = cp_fail(es->host, CAIRN_E_SCHEMA,
			    "no index '%s': not a Kestra instance with index prefix '%s'", ix.p,
			    es->prefix);
	cp_buf_free(&ix);
	if (r < 0)
		return r;
	/* Kestra's Elasticsearch backend keeps no schema version the plugin could read */
	cp_source_desc_set(out, es->backend, NULL);
	return CAIRN_OK;
}

static const struct cairn_source_vtable es_plugin_vtable = {
	.struct_size = sizeof(struct cairn_source_vtable),
	.features = CAIRN_SOURCE_F_NO_TRANSACTIONS,
	.open = es_plugin_open,
	.close = es_plugin_close,
	.describe = es_plugin_describe,
	.snapshot_begin = es_plugin_snapshot_begin,
	.snapshot_end = es_plugin_snapshot_end,
	.kind_exists = es_plugin_kind_exists,
	.cursor_open = es_plugin_cursor_open,
	.cursor_next = es_plugin_cursor_next,
	.cursor_close = es_plugin_cursor_close,
	.restore_begin = es_plugin_restore_begin,
	.restore_delete_scope = es_plugin_restore_delete_scope,
	.restore_write = es_plugin_restore_write,
	.restore_commit = es_plugin_restore_commit,
	.restore_rollback = es_plugin_restore_rollback,
	.restore_write_batch = es_plugin_restore_write_batch,
	.cursor_open_scoped = es_plugin_cursor_open_scoped,
	.restore_delete_scoped = es_plugin_restore_delete_scoped,
	.list_tenants = es_plugin_list_tenants,
};

static const char *const es_plugin_schemes[] = {"elasticsearch", "elasticsearchs", NULL};

CAIRN_PLUGIN_DEFINE(.name = ES_NAME, .version = "0.1.0",
		    .description = "Elasticsearch source (Kestra metadata indices, REST API)",
		    .kind = CAIRN_PLUGIN_KIND_SOURCE, .schemes = es_plugin_schemes,
		    .vtable = &es_plugin_vtable, .abi_minor = 3 /* scopes with a time window */)
CAIRN_PLUGIN_NOTE(source, ES_NAME, "elasticsearch elasticsearchs", 3)
