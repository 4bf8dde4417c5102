/*
 * retenant.c — see retenant.h. JSON values arrive as text; the top-level
 * "tenantId" is rewritten on their msgpack form and turned back into text
 * by the same lossless codec that decoded them, so every other byte of the
 * document stays as the archive holds it.
 */
#define _POSIX_C_SOURCE 200809L
#include "retenant.h"

#include <string.h>

#include "cairn/status.h"
#include "codec.h"
#include "mpack.h"

static int buf_write(void *data, const char *buf, size_t len)
{
	return core_buf_append(data, buf, len) == CAIRN_OK ? 0 : -1;
}

void core_retenant_init(struct core_retenant *rt, const char *from, const char *to)
{
	memset(rt, 0, sizeof(*rt));
	rt->from = from;
	rt->to = to;
}

void core_retenant_free(struct core_retenant *rt)
{
	core_buf_free(&rt->key);
	core_buf_free(&rt->packed);
	for (int i = 0; i < CORE_MAX_COLUMNS; i++)
		core_buf_free(&rt->text[i]);
	if (rt->zone)
		msgpack_zone_free(rt->zone);
	rt->zone = NULL;
}

static int is_str(const msgpack_object *o, const char *s, size_t n)
{
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n && memcmp(o->via.str.ptr, s, n) == 0;
}

/* The JSON text of c with its top-level "tenantId" `from` set to `to`, in *t. */
static int rewrite_json(struct core_retenant *rt, const struct cairn_column *c, struct core_buf *t)
{
	msgpack_packer pk;
	core_buf_reset(&rt->packed);
	msgpack_packer_init(&pk, &rt->packed, buf_write);
	int rc = core_json_to_msgpack(c->data, c->len, &pk);
	if (rc)
		return rc;
	if (rt->zone)
		msgpack_zone_clear(rt->zone);
	else if (!(rt->zone = msgpack_zone_new(8192)))
		return CAIRN_E_NOMEM;
	msgpack_object o;
	size_t off = 0;
	rc = core_mpack_next(rt->packed.data, rt->packed.len, &off, rt->zone, &o, CORE_JSON_MAX_DEPTH + 1);
	if (rc)
		return rc;
	size_t fl = strlen(rt->from);
	if (o.type == MSGPACK_OBJECT_MAP)
		for (uint32_t i = 0; i < o.via.map.size; i++) {
			msgpack_object_kv *kv = &o.via.map.ptr[i];
			if (is_str(&kv->key, "tenantId", 8) && is_str(&kv->val, rt->from, fl)) {
				kv->val.via.str.ptr = rt->to;
				kv->val.via.str.size = (uint32_t)strlen(rt->to);
			}
		}
	core_buf_reset(t);
	return core_msgpack_to_json(&o, t);
}

int core_retenant_apply(struct core_retenant *rt, const struct cairn_record *in,
			const struct cairn_record **out)
{
	*out = in;
	if (!in->tenant || strcmp(in->tenant, rt->from) != 0)
		return CAIRN_OK;
	if (in->n_columns > CORE_MAX_COLUMNS)
		return CAIRN_E_INVALID;
	size_t fl = strlen(rt->from), kl = strlen(in->key);
	core_buf_reset(&rt->key);
	int rc;
	if (kl > fl && memcmp(in->key, rt->from, fl) == 0 && in->key[fl] == '_')
		rc = core_buf_append_str(&rt->key, rt->to) || core_buf_append_str(&rt->key, in->key + fl)
			     ? CAIRN_E_NOMEM : CAIRN_OK;
	else
		rc = core_buf_append_str(&rt->key, in->key);
	if (rc)
		return rc;
	for (size_t i = 0; i < in->n_columns; i++) {
		const struct cairn_column *c = &in->columns[i];
		struct core_buf *t = &rt->text[i];
		rt->cols[i] = *c;
		if (c->type == CAIRN_COL_JSON) {
			if ((rc = rewrite_json(rt, c, t)))
				return rc;
		} else if (c->type == CAIRN_COL_TEXT && strcmp(c->name, "key") == 0) {
			core_buf_reset(t);
			if (core_buf_append(t, rt->key.data, rt->key.len))
				return CAIRN_E_NOMEM;
		} else if (c->type == CAIRN_COL_TEXT && strcmp(c->name, "tenant_id") == 0 &&
			   c->len == fl && memcmp(c->data, rt->from, fl) == 0) {
			core_buf_reset(t);
			if (core_buf_append_str(t, rt->to))
				return CAIRN_E_NOMEM;
		} else {
			continue;
		}
		rt->cols[i].data = t->data;
		rt->cols[i].len = t->len;
	}
	rt->rec = *in;
	rt->rec.struct_size = sizeof(rt->rec);
	rt->rec.key = rt->key.data;
	rt->rec.tenant = rt->to;
	rt->rec.columns = rt->cols;
	*out = &rt->rec;
	return CAIRN_OK;
}
