/*
 * elasticsearch.h — internal declarations of the Elasticsearch source
 * plugin. Never installed; shared by elasticsearch.c, elasticsearch_read.c,
 * elasticsearch_restore.c and elasticsearch_flows.c only.
 */
#ifndef CAIRN_PLUGIN_ELASTICSEARCH_H
#define CAIRN_PLUGIN_ELASTICSEARCH_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "cairn/host.h"
#include "cairn/source.h"
#include "cairn/status.h"
#include "plugin_buf.h"
#include "plugin_scope.h"
#include "plugin_util.h"

#define ES_NAME "elasticsearch"

/*
 * The most bytes one answer may make the plugin hold: a control answer
 * (PIT, bulk items, errors) whole, or one hit of a search page (pages are
 * streamed, elasticsearch_read.c). A hostile or broken server gets an error,
 * not unbounded memory.
 */
#define ES_MAX_ANSWER (64UL * 1024 * 1024)
#define ES_KEEP_ALIVE "1m"

/* A list of names: indices the restore has checked, tenants it wrote flows of. */
struct es_name {
	struct es_name *next;
	char name[];
};

struct es_inst {
	const struct cairn_host *host;
	CURL *curl;
	struct curl_slist *headers; /* content type, ApiKey authorization */
	char *base;                 /* "http://host:9200", no trailing slash */
	char *prefix;               /* index prefix, "kestra_" */
	long page_size;             /* hits per search page */
	long bulk_bytes;            /* a _bulk request is sent once its body reaches this */
	long timeout;               /* seconds a request may wait for the server */
	char *backend;              /* "elasticsearch 8.17.0" */
	char *pit_id;               /* the snapshot's point in time, or NULL */
	char **pit_indices;         /* the indices the PIT covers (NULL-terminated) */
	int tx;                     /* enum cp_tx */
	int dry_run;
	struct es_name *ensured;    /* restore: indices known to exist */
	/* restore: the flows index to rebuild at commit (elasticsearch_flows.c) */
	char *flows_latest;         /* "<prefix>flows", set by the first FLOW write */
	struct es_name *flow_tenants; /* the tenants FLOW records were written for */
	int flow_no_tenant;         /* … and whether some had no tenant */
	struct cp_buf resp;         /* the body of the last answer */
	int resp_too_big;           /* it passed ES_MAX_ANSWER and was cut off */
	long status;                /* its HTTP status */
};

/* elasticsearch.c */
/*
 * One request: method, path (with query), optional body. The answer is in
 * es->resp / es->status. Returns CAIRN_OK once an HTTP answer came (any
 * status), CAIRN_E_CONNECT / CAIRN_E_IO (reported) when none did.
 */
int es_plugin_request(struct es_inst *es, const char *method, const char *path,
		      const char *body, size_t body_len, const char *ctype);
/*
 * The headers of a request with a body of type ctype: the content type,
 * then the instance's own (es->headers). NULL when memory is short.
 */
struct curl_slist *es_plugin_headers(struct es_inst *es, const char *ctype);
/* Reports a transfer that got no complete answer (curl's code cc), as es_plugin_request does. */
int es_plugin_curl_error(struct es_inst *es, CURLcode cc, int too_big, const char *method,
			 const char *path);
/*
 * Reports a non-2xx answer: "<what>: HTTP <status>: <type>: <reason>" with
 * CAIRN_E_AUTH (401/403), CAIRN_E_TRANSIENT (429/503), CAIRN_E_NOT_FOUND
 * (404) or CAIRN_E_BACKEND. es_plugin_http_error reads es->resp.
 */
int es_plugin_http_error(struct es_inst *es, const char *what);
int es_plugin_http_error_of(struct es_inst *es, long status, const char *body, size_t len,
			    const char *what);
/* Appends s as a JSON string literal (quotes included). */
void es_plugin_json_str(struct cp_buf *b, const char *s, size_t n);
/* Appends "<prefix><kind index>" after checking it is a valid index name. */
int es_plugin_index_name(struct es_inst *es, const struct cairn_kind_desc *kind,
			 struct cp_buf *b);
/*
 * FLOW is the one kind kept in two indices: every revision in
 * "<prefix><index>_revisions", the latest in "<prefix><index>" (README).
 */
int es_plugin_is_flow(const struct cairn_kind_desc *kind);
/* es_plugin_index_name, plus "_revisions" for FLOW when `revisions` is set. */
int es_plugin_kind_index(struct es_inst *es, const struct cairn_kind_desc *kind, int revisions,
			 struct cp_buf *b);
/* Adds name to the list unless it is there: 1 added, 0 present, CAIRN_E_NOMEM (not reported). */
int es_plugin_name_add(struct es_name **list, const char *name);
int es_plugin_name_has(const struct es_name *list, const char *name);
void es_plugin_names_free(struct es_name **list);
/* 1 if the index exists, 0 if not, <0 on error (reported). */
int es_plugin_index_exists(struct es_inst *es, const char *index);
/* Appends the query that selects the scope's records. */
void es_plugin_scope_query(struct cp_buf *b, const struct cp_scope *s);
/* Opens a point in time over `indices` (comma separated) into es->pit_id. */
int es_plugin_pit_open(struct es_inst *es, const char *indices);
void es_plugin_pit_close(struct es_inst *es);
/* Pauses between retries of a request the cluster refused as busy. */
void es_plugin_sleep_ms(long ms);

/* elasticsearch_read.c */
int es_plugin_snapshot_begin(void *inst);
int es_plugin_snapshot_end(void *inst);
int es_plugin_kind_exists(void *inst, const struct cairn_kind_desc *kind);
int es_plugin_cursor_open(void *inst, const struct cairn_kind_desc *kind, const char *tenant,
			  void **cursor);
int es_plugin_cursor_open_scoped(void *inst, const struct cairn_kind_desc *kind,
				 const struct cairn_scope *scope, void **cursor);
int es_plugin_cursor_next(void *cursor, const struct cairn_record **rec);
void es_plugin_cursor_close(void *cursor);
/* Inside the snapshot only (it reads through the PIT): CAIRN_E_INVALID outside. */
int es_plugin_list_tenants(void *inst, const struct cairn_kind_desc *kind, cairn_tenant_cb cb,
			   void *ud);

/*
 * A cursor of the plugin's own through the point in time es->pit_id, any
 * tenant: index, sort (a JSON array; _shard_doc last) and query (JSON) as
 * given. Its records are _id and the _source exactly as the search gave it
 * (no column cut out). es_plugin_cursor_next / _close serve it.
 */
int es_plugin_search_open(struct es_inst *es, const char *index, const char *sort,
			  const char *query, void **cursor);
/*
 * The sort values of the cursor's last record: 1 when one of the first n
 * is null (the document has no indexed value to sort on), 0 if not.
 */
int es_plugin_cursor_sort_null(void *cursor, size_t n);

/*
 * The JSON object doc[0..n) has a top-level member `name`: 1 with the raw
 * span of its value, 0 if not, -1 when doc is not one well-formed object.
 */
int es_plugin_object_member(const char *doc, size_t n, const char *name, const char **val,
			    size_t *val_len);
/* Appends the decoded text of the JSON string literal raw[0..n): 0, or -1 if it is not one. */
int es_plugin_string_value(const char *raw, size_t n, struct cp_buf *out);

/* elasticsearch_restore.c */
int es_plugin_restore_begin(void *inst, const struct cairn_restore_opts *opts);
int es_plugin_restore_delete_scope(void *inst, const struct cairn_kind_desc *kind,
				   const char *tenant);
int es_plugin_restore_delete_scoped(void *inst, const struct cairn_kind_desc *kind,
				    const struct cairn_scope *scope);
int es_plugin_restore_write(void *inst, const struct cairn_kind_desc *kind,
			    const struct cairn_record *rec, int *outcome);
int es_plugin_restore_write_batch(void *inst, const struct cairn_kind_desc *kind,
				  const struct cairn_record *const *recs, size_t n, int *outcomes);
int es_plugin_restore_commit(void *inst);
int es_plugin_restore_rollback(void *inst);
void es_plugin_restore_reset(struct es_inst *es);
/* POST /<indices>/_refresh (comma separated). */
int es_plugin_refresh(struct es_inst *es, const char *indices);
/* Creates the index when it is missing (not in a dry run), with the FLOW mapping when `flow`. */
int es_plugin_ensure_index(struct es_inst *es, const char *index, int flow,
			   const char *time_field);
/* The kind's date field for time windows (ABI 1.3), or NULL (older core, or none). */
const char *es_plugin_kind_time_field(const struct cairn_kind_desc *kind);
/*
 * Writes the records into `index` through _bulk: requests of at most
 * bulk_bytes, items refused as busy sent again, any other refusal reported
 * naming the kind and key. Outcomes as restore_write_batch gives them.
 */
int es_plugin_write_records(struct es_inst *es, const struct cairn_kind_desc *kind,
			    const char *index, const struct cairn_record *const *recs, size_t n,
			    int *outcomes);

/* elasticsearch_flows.c */
/*
 * Rebuilds es->flows_latest from its revisions index for every tenant in
 * es->flow_tenants (and no tenant when es->flow_no_tenant): each flow's
 * highest revision, under "<tenant>_<namespace>_<id>".
 */
int es_plugin_flows_rebuild(struct es_inst *es);
/*
 * labelsMap, the member Kestra derives from a flow's labels: *map set to
 * its JSON text (owned: free() it, or a span of doc when labels is already
 * an object, then *owned is NULL), or NULL when there is none to derive.
 */
int es_plugin_labels_map(const struct cairn_host *host, const char *doc, size_t n,
			 const char **map, size_t *map_len, char **owned);

#endif /* CAIRN_PLUGIN_ELASTICSEARCH_H */
