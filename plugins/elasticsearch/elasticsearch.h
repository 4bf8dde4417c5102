/*
 * elasticsearch.h — internal declarations of the Elasticsearch source
 * plugin. Never installed; shared by elasticsearch.c, elasticsearch_read.c
 * and elasticsearch_restore.c only.
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

/* An index the restore has checked (and created when it was missing). */
struct es_index {
	char *name;
	struct es_index *next;
};

struct es_inst {
	const struct cairn_host *host;
	CURL *curl;
	struct curl_slist *headers; /* content type, ApiKey authorization */
	char *base;                 /* "http://host:9200", no trailing slash */
	char *prefix;               /* index prefix, "kestra_" */
	long page_size;             /* hits per search page */
	long bulk_bytes;            /* a _bulk request is sent once its body reaches this */
	char *backend;              /* "elasticsearch 8.17.0" */
	char *pit_id;               /* the snapshot's point in time, or NULL */
	char **pit_indices;         /* the indices the PIT covers (NULL-terminated) */
	int tx;                     /* enum cp_tx */
	int dry_run;
	struct es_index *ensured;   /* restore: indices known to exist */
	struct cp_buf resp;         /* the body of the last answer */
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
 * Reports a non-2xx answer: "<what>: HTTP <status>: <type>: <reason>" with
 * CAIRN_E_AUTH (401/403), CAIRN_E_TRANSIENT (429/503), CAIRN_E_NOT_FOUND
 * (404) or CAIRN_E_BACKEND.
 */
int es_plugin_http_error(struct es_inst *es, const char *what);
/* Appends s as a JSON string literal (quotes included). */
void es_plugin_json_str(struct cp_buf *b, const char *s, size_t n);
/* Appends "<prefix><kind index>" after checking it is a valid index name. */
int es_plugin_index_name(struct es_inst *es, const struct cairn_kind_desc *kind,
			 struct cp_buf *b);
/* 1 if the index exists, 0 if not, <0 on error (reported). */
int es_plugin_index_exists(struct es_inst *es, const char *index);
/* Appends the query that selects the scope's records. */
void es_plugin_scope_query(struct cp_buf *b, const struct cp_scope *s);
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
 * The JSON object doc[0..n) has a top-level member `name`: 1 with the raw
 * span of its value, 0 if not, -1 when doc is not one well-formed object.
 */
int es_plugin_object_member(const char *doc, size_t n, const char *name, const char **val,
			    size_t *val_len);

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

#endif /* CAIRN_PLUGIN_ELASTICSEARCH_H */
