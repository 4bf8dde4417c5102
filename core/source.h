/*
 * source.h — the core's one door to source plugins. Every call into a
 * source plugin goes through here: this module alone reads the vtable,
 * tests CAIRN_VT_HAS, checks what the plugin hands back (records' struct
 * size and key, write outcomes), maps a failure to exit class 5
 * (CORE_EXIT_SOURCE; 7 for a broken or too old plugin) and keeps the
 * plugin's error detail as the message.
 */
#ifndef CORE_SOURCE_H
#define CORE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/source.h"

struct core_run;
struct core_plugin;

struct core_source {
	struct core_run *run;
	const struct core_plugin *plugin;
	const struct cairn_source_vtable *vt;
	void *inst;
};

/*
 * The loader's check of a source vtable, before any call through it: NULL
 * when usable, else the refusal reason written to why. Sets *needs and
 * *newest to the newest minor the vtable sets and that member's name.
 */
const char *core_source_vt_refusal(const struct cairn_source_vtable *vt, char *why, size_t cap,
				   unsigned *needs, const char **newest);

/* Open the plugin serving uri's scheme (exit 2 when no source is configured). */
int core_source_open(struct core_run *run, const char *uri, struct core_source *src);
void core_source_close(struct core_source *src);
/* The plugin's name, for messages. */
const char *core_source_name(const struct core_source *src);

int core_source_describe(struct core_source *src, struct cairn_source_desc *out);
int core_source_snapshot_begin(struct core_source *src);
int core_source_snapshot_end(struct core_source *src);
/* 1 exists, 0 not, <0 failure. */
int core_source_kind_exists(struct core_source *src, const struct cairn_kind_desc *kd);

/*
 * A cursor over a kind's records in `scope`. A plugin older than ABI 1.2
 * cannot be told "only the records without a tenant" (its NULL tenant means
 * every record): such a scope is refused with it (exit 7), never widened.
 */
int core_source_cursor_open(struct core_source *src, const struct cairn_kind_desc *kd,
			    const struct cairn_scope *scope, void **cursor);
/* 1 and *rec set, 0 at the end, <0 failure; a malformed record is the plugin's failure. */
int core_source_cursor_next(struct core_source *src, void *cursor, const struct cairn_record **rec);
void core_source_cursor_close(struct core_source *src, void *cursor);
/* 1 when list_tenants is there. */
int core_source_can_list_tenants(const struct core_source *src);
int core_source_list_tenants(struct core_source *src, const struct cairn_kind_desc *kd,
			     cairn_tenant_cb cb, void *ud);

/* 0 when the plugin says its writes cannot be rolled back (CAIRN_SOURCE_F_NO_TRANSACTIONS). */
int core_source_transactional(const struct core_source *src);
int core_source_restore_begin(struct core_source *src, const struct cairn_restore_opts *opts);
/* --replace: the kind's records in scope; NONE needs ABI 1.2 as for cursors. */
int core_source_delete_scope(struct core_source *src, const struct cairn_kind_desc *kd,
			     const struct cairn_scope *scope);
/* Records one write call may take: CAIRN_RESTORE_BATCH_MAX with restore_write_batch, else 1. */
size_t core_source_batch_max(const struct core_source *src);
/* Upsert n (<= batch_max) records of one kind; outcomes[i] is checked to be a write outcome. */
int core_source_write(struct core_source *src, const struct cairn_kind_desc *kd,
		      const struct cairn_record *const *recs, size_t n, int *outcomes);
int core_source_commit(struct core_source *src);
void core_source_rollback(struct core_source *src);

#endif /* CORE_SOURCE_H */
