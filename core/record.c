/*
 * record.c — see record.h. Decoding treats every byte as hostile: each
 * msgpack object's type is checked before use, and sizes are bounded by the
 * chunk (itself bounded by CORE_ENTRY_MAX).
 */
#define _POSIX_C_SOURCE 200809L
#include "record.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/status.h"
#include "codec.h"
#include "error.h"
#include "files.h"
#include "mpack.h"

static int buf_write(void *data, const char *buf, size_t len)
{
	return core_buf_append(data, buf, len) == CAIRN_OK ? 0 : -1;
}

void core_packer_init(msgpack_packer *pk, struct core_buf *out)
{
	msgpack_packer_init(pk, out, buf_write);
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	if (!s) {
		msgpack_pack_nil(pk);
		return;
	}
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void pack_kv(msgpack_packer *pk, const char *k, const char *v)
{
	pack_str(pk, k);
	pack_str(pk, v);
}

int core_manifest_pack(const struct core_manifest *m, struct core_buf *out)
{
	msgpack_packer pk;
	core_packer_init(&pk, out);
	/* "since" and "files" only when there are: older readers ignore unknown keys */
	msgpack_pack_map(&pk, 10 + (m->since ? 1 : 0) + (m->n_files ? 1 : 0));
	pack_str(&pk, "format");
	msgpack_pack_int(&pk, m->format);
	pack_kv(&pk, "tool", "cairn");
	pack_kv(&pk, "tool_version", m->tool_version);
	pack_kv(&pk, "type", m->type);
	pack_kv(&pk, "tenant", m->tenant);
	pack_kv(&pk, "created_at", m->created_at);
	pack_kv(&pk, "source_plugin", m->source_plugin);
	pack_kv(&pk, "source_backend", m->source_backend);
	pack_kv(&pk, "schema_version", m->schema_version);
	pack_str(&pk, "kinds");
	msgpack_pack_array(&pk, m->n_kinds);
	for (size_t i = 0; i < m->n_kinds; i++)
		pack_str(&pk, m->kinds[i]);
	if (m->since)
		pack_kv(&pk, "since", m->since);
	if (m->n_files) {
		pack_str(&pk, "files");
		msgpack_pack_array(&pk, m->n_files);
		for (size_t i = 0; i < m->n_files; i++)
			pack_str(&pk, m->files[i]);
	}
	return CAIRN_OK;
}

static int obj_is_str(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       memcmp(o->via.str.ptr, s, n) == 0;
}

/* Copy a str (or nil → NULL) object; CAIRN_E_CORRUPT for other types or NULs,
 * or when *out is already set (a repeated manifest key). */
static int dup_str(const msgpack_object *o, char **out, int nil_ok)
{
	if (*out)
		return CAIRN_E_CORRUPT;
	if (o->type == MSGPACK_OBJECT_NIL && nil_ok) {
		*out = NULL;
		return CAIRN_OK;
	}
	if (o->type != MSGPACK_OBJECT_STR || memchr(o->via.str.ptr, 0, o->via.str.size))
		return CAIRN_E_CORRUPT;
	char *s = malloc(o->via.str.size + 1);
	if (!s)
		return CAIRN_E_NOMEM;
	memcpy(s, o->via.str.ptr, o->via.str.size);
	s[o->via.str.size] = '\0';
	*out = s;
	return CAIRN_OK;
}

/* Manifest and summary are maps of scalars, lists and maps: a few levels, with
 * room for what later format minors may add under keys we ignore. */
#define META_MAX_DEPTH 8

/* Decode data[0..len) as exactly one msgpack object into *root, allocated
 * from a new *zone that the caller frees; on failure there is no zone. */
static int unpack_one(const void *data, size_t len, msgpack_zone **zone, msgpack_object *root,
		      const char *what)
{
	size_t off = 0;
	*zone = msgpack_zone_new(8192);
	if (!*zone)
		return core_error_set(CAIRN_E_NOMEM, "out of memory reading the %s", what);
	int rc = core_mpack_next(data, len, &off, *zone, root, META_MAX_DEPTH);
	if (!rc && off != len)
		rc = core_error_set(CAIRN_E_CORRUPT, "archive is corrupted: malformed %s", what);
	else if (rc == CAIRN_E_CORRUPT)
		core_error_set(rc, "archive is corrupted: malformed %s", what);
	if (rc) {
		msgpack_zone_free(*zone);
		*zone = NULL;
	}
	return rc;
}

/* The file kinds: known names, each once, in core_fkind order. */
static int unpack_files(const msgpack_object *v, struct core_manifest *m)
{
	if (v->type != MSGPACK_OBJECT_ARRAY || m->files || v->via.array.size > CORE_FK_N)
		return CAIRN_E_CORRUPT;
	m->files = calloc(v->via.array.size + 1, sizeof(char *));
	if (!m->files)
		return CAIRN_E_NOMEM;
	int last = -1;
	for (uint32_t j = 0; j < v->via.array.size; j++) {
		int rc = dup_str(&v->via.array.ptr[j], &m->files[j], 0);
		if (rc)
			return rc;
		m->n_files++;
		int fk = core_fkind_index(m->files[j]);
		if (fk <= last)
			return CAIRN_E_CORRUPT;
		last = fk;
	}
	return CAIRN_OK;
}

int core_manifest_unpack(const void *data, size_t len, struct core_manifest *m)
{
	memset(m, 0, sizeof(*m));
	msgpack_zone *zone;
	msgpack_object obj;
	int rc = unpack_one(data, len, &zone, &obj, "manifest");
	if (rc)
		return rc;
	const msgpack_object *root = &obj;
	if (root->type != MSGPACK_OBJECT_MAP) {
		rc = CAIRN_E_CORRUPT;
		goto out;
	}
	for (uint32_t i = 0; i < root->via.map.size && !rc; i++) {
		const msgpack_object *k = &root->via.map.ptr[i].key, *v = &root->via.map.ptr[i].val;
		if (obj_is_str(k, "format")) {
			if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > 1000)
				rc = CAIRN_E_CORRUPT;
			else
				m->format = (int)v->via.u64;
		} else if (obj_is_str(k, "tool_version")) {
			rc = dup_str(v, &m->tool_version, 1);
		} else if (obj_is_str(k, "type")) {
			rc = dup_str(v, &m->type, 0);
		} else if (obj_is_str(k, "tenant")) {
			rc = dup_str(v, &m->tenant, 1);
		} else if (obj_is_str(k, "created_at")) {
			rc = dup_str(v, &m->created_at, 1);
		} else if (obj_is_str(k, "source_plugin")) {
			rc = dup_str(v, &m->source_plugin, 1);
		} else if (obj_is_str(k, "source_backend")) {
			rc = dup_str(v, &m->source_backend, 1);
		} else if (obj_is_str(k, "schema_version")) {
			rc = dup_str(v, &m->schema_version, 1);
		} else if (obj_is_str(k, "since")) {
			rc = dup_str(v, &m->since, 1);
		} else if (obj_is_str(k, "kinds")) {
			if (v->type != MSGPACK_OBJECT_ARRAY || m->kinds || v->via.array.size > 4096) {
				rc = CAIRN_E_CORRUPT;
				break;
			}
			m->kinds = calloc(v->via.array.size + 1, sizeof(char *));
			if (!m->kinds) {
				rc = CAIRN_E_NOMEM;
				break;
			}
			for (uint32_t j = 0; j < v->via.array.size && !rc; j++) {
				rc = dup_str(&v->via.array.ptr[j], &m->kinds[j], 0);
				if (!rc)
					m->n_kinds++;
			}
		} else if (obj_is_str(k, "files")) {
			rc = unpack_files(v, m);
		}
		/* unknown keys are ignored: later format minors may add some */
	}
	if (!rc && m->format > CORE_FORMAT_VERSION) {
		rc = core_error_set(CAIRN_E_UNSUPPORTED,
				    "backup uses inner format %d; this cairn reads up to %d: upgrade cairn",
				    m->format, CORE_FORMAT_VERSION);
		goto out;
	}
	if (!rc && m->files && m->format < CORE_FORMAT_FILES)
		rc = CAIRN_E_CORRUPT; /* file entries came with format 2 */
	if (!rc && (m->format < 1 || !m->type || !m->kinds ||
		    (strcmp(m->type, "FULL") != 0 && strcmp(m->type, "TENANT") != 0)))
		rc = CAIRN_E_CORRUPT;
out:
	msgpack_zone_free(zone);
	if (rc == CAIRN_E_CORRUPT)
		core_error_set(rc, "archive is corrupted: malformed manifest");
	if (rc)
		core_manifest_free(m);
	return rc;
}

void core_manifest_free(struct core_manifest *m)
{
	free(m->tool_version);
	free(m->type);
	free(m->tenant);
	free(m->created_at);
	free(m->source_plugin);
	free(m->source_backend);
	free(m->schema_version);
	free(m->since);
	for (size_t i = 0; i < m->n_kinds; i++)
		free(m->kinds[i]);
	free(m->kinds);
	for (size_t i = 0; i < m->n_files; i++)
		free(m->files[i]);
	free(m->files);
	memset(m, 0, sizeof(*m));
}

int core_summary_pack(char *const *kinds, const uint64_t *counts, size_t n, struct core_buf *out)
{
	return core_summary_pack_files(kinds, counts, n, NULL, NULL, NULL, 0, out);
}

int core_summary_pack_files(char *const *kinds, const uint64_t *counts, size_t n,
			    char *const *fkinds, const uint64_t *files, const uint64_t *bytes, size_t nf,
			    struct core_buf *out)
{
	msgpack_packer pk;
	core_packer_init(&pk, out);
	msgpack_pack_map(&pk, nf ? 2 : 1);
	pack_str(&pk, "records");
	msgpack_pack_map(&pk, n);
	for (size_t i = 0; i < n; i++) {
		pack_str(&pk, kinds[i]);
		msgpack_pack_uint64(&pk, counts[i]);
	}
	if (nf) {
		pack_str(&pk, "files");
		msgpack_pack_map(&pk, nf);
		for (size_t i = 0; i < nf; i++) {
			pack_str(&pk, fkinds[i]);
			msgpack_pack_map(&pk, 2);
			pack_str(&pk, "files");
			msgpack_pack_uint64(&pk, files[i]);
			pack_str(&pk, "bytes");
			msgpack_pack_uint64(&pk, bytes[i]);
		}
	}
	return CAIRN_OK;
}

/* {"files": n, "bytes": b}, both required, other keys ignored. */
static int unpack_file_count(const msgpack_object *v, uint64_t *files, uint64_t *bytes)
{
	int seen = 0;
	if (v->type != MSGPACK_OBJECT_MAP)
		return CAIRN_E_CORRUPT;
	for (uint32_t i = 0; i < v->via.map.size; i++) {
		const msgpack_object *k = &v->via.map.ptr[i].key, *x = &v->via.map.ptr[i].val;
		int which = obj_is_str(k, "files") ? 1 : obj_is_str(k, "bytes") ? 2 : 0;
		if (!which)
			continue;
		if ((seen & which) || x->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return CAIRN_E_CORRUPT;
		seen |= which;
		*(which == 1 ? files : bytes) = x->via.u64;
	}
	return seen == 3 ? CAIRN_OK : CAIRN_E_CORRUPT;
}

int core_summary_unpack_files(const void *data, size_t len, char *const *fkinds, size_t nf,
			      uint64_t *files, uint64_t *bytes)
{
	for (size_t i = 0; i < nf; i++)
		files[i] = bytes[i] = 0;
	if (nf == 0)
		return CAIRN_OK;
	msgpack_zone *zone;
	msgpack_object obj;
	int rc = unpack_one(data, len, &zone, &obj, "summary");
	if (rc)
		return rc;
	rc = CAIRN_E_CORRUPT;
	for (uint32_t i = 0; obj.type == MSGPACK_OBJECT_MAP && i < obj.via.map.size; i++) {
		const msgpack_object *k = &obj.via.map.ptr[i].key, *v = &obj.via.map.ptr[i].val;
		if (!obj_is_str(k, "files") || v->type != MSGPACK_OBJECT_MAP || rc == CAIRN_OK)
			continue;
		rc = CAIRN_OK;
		uint64_t seen = 0;
		for (uint32_t j = 0; j < v->via.map.size && !rc; j++) {
			size_t x = 0;
			while (x < nf && !obj_is_str(&v->via.map.ptr[j].key, fkinds[x]))
				x++;
			if (x == nf || (seen & (UINT64_C(1) << x)))
				rc = CAIRN_E_CORRUPT;
			else
				rc = unpack_file_count(&v->via.map.ptr[j].val, &files[x], &bytes[x]);
			seen |= UINT64_C(1) << (x < 63 ? x : 63);
		}
	}
	msgpack_zone_free(zone);
	if (rc)
		return core_error_set(CAIRN_E_CORRUPT, "archive is corrupted: malformed summary (files)");
	return CAIRN_OK;
}

int core_summary_unpack(const void *data, size_t len, char *const *kinds, size_t n,
			uint64_t *counts)
{
	msgpack_zone *zone;
	msgpack_object obj;
	int rc = unpack_one(data, len, &zone, &obj, "summary");
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		counts[i] = 0;
	const msgpack_object *root = &obj;
	rc = CAIRN_E_CORRUPT;
	if (root->type == MSGPACK_OBJECT_MAP) {
		for (uint32_t i = 0; i < root->via.map.size; i++) {
			const msgpack_object *k = &root->via.map.ptr[i].key;
			const msgpack_object *v = &root->via.map.ptr[i].val;
			if (!obj_is_str(k, "records") || v->type != MSGPACK_OBJECT_MAP)
				continue;
			rc = CAIRN_OK;
			for (uint32_t j = 0; j < v->via.map.size && !rc; j++) {
				const msgpack_object *kk = &v->via.map.ptr[j].key;
				const msgpack_object *vv = &v->via.map.ptr[j].val;
				size_t x = 0;
				while (x < n && !obj_is_str(kk, kinds[x]))
					x++;
				if (x == n || vv->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
					rc = CAIRN_E_CORRUPT;
				else
					counts[x] = vv->via.u64;
			}
		}
	}
	msgpack_zone_free(zone);
	if (rc)
		return core_error_set(CAIRN_E_CORRUPT, "archive is corrupted: malformed summary");
	return CAIRN_OK;
}

static int bad_value(const struct cairn_record *rec, const struct cairn_column *c)
{
	return core_error_set(CAIRN_E_PLUGIN, "record '%s' column '%s': value does not match its type",
			      rec->key, c->name);
}

int core_record_pack(msgpack_packer *pk, const struct cairn_record *rec)
{
	if (rec->n_columns > CORE_MAX_COLUMNS)
		return core_error_set(CAIRN_E_INVALID, "record '%s' has %zu columns, over the limit of %d",
				      rec->key, rec->n_columns, CORE_MAX_COLUMNS);
	msgpack_pack_array(pk, 3);
	pack_str(pk, rec->key);
	pack_str(pk, rec->tenant);
	msgpack_pack_array(pk, rec->n_columns);
	for (size_t i = 0; i < rec->n_columns; i++) {
		const struct cairn_column *c = &rec->columns[i];
		msgpack_pack_array(pk, 3);
		pack_str(pk, c->name);
		msgpack_pack_uint32(pk, c->type);
		switch (c->type) {
		case CAIRN_COL_NULL:
			msgpack_pack_nil(pk);
			break;
		case CAIRN_COL_JSON: {
			int rc = core_json_to_msgpack(c->data, c->len, pk);
			if (rc) {
				core_error_prefix("record '%s' column '%s'", rec->key, c->name);
				return rc;
			}
			break;
		}
		case CAIRN_COL_INT: {
			char tmp[32], *end;
			if (c->len == 0 || c->len >= sizeof(tmp))
				return bad_value(rec, c);
			memcpy(tmp, c->data, c->len);
			tmp[c->len] = '\0';
			errno = 0;
			long long v = strtoll(tmp, &end, 10);
			if (*end || errno == ERANGE)
				return bad_value(rec, c);
			msgpack_pack_int64(pk, v);
			break;
		}
		case CAIRN_COL_BOOL:
			if (c->len == 4 && memcmp(c->data, "true", 4) == 0)
				msgpack_pack_true(pk);
			else if (c->len == 5 && memcmp(c->data, "false", 5) == 0)
				msgpack_pack_false(pk);
			else
				return bad_value(rec, c);
			break;
		case CAIRN_COL_BYTES:
			msgpack_pack_bin(pk, c->len);
			msgpack_pack_bin_body(pk, c->data, c->len);
			break;
		case CAIRN_COL_TEXT:
		case CAIRN_COL_TIMESTAMP:
			msgpack_pack_str(pk, c->len);
			msgpack_pack_str_body(pk, c->data, c->len);
			break;
		default:
			return core_error_set(CAIRN_E_PLUGIN, "record '%s' column '%s': unknown column type %u",
					      rec->key, c->name, c->type);
		}
	}
	return CAIRN_OK;
}

struct cairn_record *core_record_dup(const struct cairn_record *rec)
{
	size_t size = sizeof(struct cairn_record) + rec->n_columns * sizeof(struct cairn_column);
	size += strlen(rec->key) + 1 + (rec->tenant ? strlen(rec->tenant) + 1 : 0);
	for (size_t i = 0; i < rec->n_columns; i++)
		size += strlen(rec->columns[i].name) + 1 + rec->columns[i].len + 1;
	struct cairn_record *r = malloc(size);
	if (!r)
		return NULL;
	struct cairn_column *cols = (struct cairn_column *)(r + 1);
	char *p = (char *)(cols + rec->n_columns);
#define PUT(dst, src, n) do { memcpy(p, (src), (n)); p[n] = '\0'; (dst) = p; p += (n) + 1; } while (0)
	*r = *rec;
	r->struct_size = sizeof(*r);
	r->columns = cols;
	PUT(r->key, rec->key, strlen(rec->key));
	if (rec->tenant)
		PUT(r->tenant, rec->tenant, strlen(rec->tenant));
	for (size_t i = 0; i < rec->n_columns; i++) {
		cols[i] = rec->columns[i];
		PUT(cols[i].name, rec->columns[i].name, strlen(rec->columns[i].name));
		if (rec->columns[i].data)
			PUT(cols[i].data, rec->columns[i].data, rec->columns[i].len);
	}
#undef PUT
	return r;
}

void core_chunk_iter_init(struct core_chunk_iter *it, const void *data, size_t len)
{
	memset(it, 0, sizeof(*it));
	it->data = data;
	it->len = len;
}

void core_chunk_iter_free(struct core_chunk_iter *it)
{
	if (it->zone)
		msgpack_zone_free(it->zone);
	core_buf_free(&it->key);
	core_buf_free(&it->tenant);
	for (int i = 0; i < CORE_MAX_COLUMNS; i++) {
		core_buf_free(&it->text[i]);
		core_buf_free(&it->names[i]);
	}
}

static int set_text(struct core_buf *b, const msgpack_object *o)
{
	core_buf_reset(b);
	if (o->type != MSGPACK_OBJECT_STR)
		return CAIRN_E_CORRUPT;
	return core_buf_append(b, o->via.str.ptr, o->via.str.size);
}

static int corrupt_record(void)
{
	return core_error_set(CAIRN_E_CORRUPT, "archive is corrupted: malformed record");
}

/*
 * A record no restore may write, although the archive is authentic. Keys
 * come from the archive: control bytes are shown as '?' so that a hostile
 * key cannot drive the operator's terminal.
 */
static int refuse_record(const struct core_chunk_iter *it, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int refuse_record(const struct core_chunk_iter *it, const char *fmt, ...)
{
	char key[160], why[512];
	size_t n = 0;
	for (size_t i = 0; i < it->key.len && n + 4 < sizeof(key); i++) {
		unsigned char c = (unsigned char)it->key.data[i];
		key[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (n < it->key.len)
		key[n++] = '.', key[n++] = '.', key[n++] = '.';
	key[n] = '\0';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return core_error_set(CAIRN_E_CORRUPT, "archive refused: %s record '%s': %s",
			      it->kind ? it->kind : "a", key, why);
}

/* Does tenant t[0..tl) (t NULL: no tenant) lie outside the iterator's scope? */
static int out_of_scope(const struct core_chunk_iter *it, const char *t, size_t tl)
{
	if (!it->scope_tenant)
		return t != NULL;
	return !t || tl != strlen(it->scope_tenant) || memcmp(t, it->scope_tenant, tl) != 0;
}

static const char *scope_name(const struct core_chunk_iter *it)
{
	return it->scope_tenant ? it->scope_tenant : "(no tenant)";
}

/*
 * What decides the tenant of a written row, checked against the scope of a
 * TENANT backup: the record's tenant, a real tenant_id column, and the
 * top-level "tenantId" of every JSON column (Kestra generates tenant_id from
 * value->>'tenantId', so a "value" without it lands in no tenant). Every
 * occurrence is checked: a JSON object may repeat a key, and databases
 * differ in which one they keep.
 */
struct scope_seen {
	int tenant_column, value, value_tenant;
};

static int check_column_scope(const struct core_chunk_iter *it, const char *name, uint64_t type,
			      const msgpack_object *val, struct scope_seen *seen)
{
	if (strcmp(name, "tenant_id") == 0) {
		seen->tenant_column = 1;
		if (type == CAIRN_COL_NULL) {
			if (out_of_scope(it, NULL, 0))
				return refuse_record(it, "its tenant_id column is NULL, outside this "
						     "TENANT backup of '%s'", scope_name(it));
		} else if (type != CAIRN_COL_TEXT || val->type != MSGPACK_OBJECT_STR) {
			return refuse_record(it, "its tenant_id column is not text");
		} else if (out_of_scope(it, val->via.str.ptr, val->via.str.size)) {
			return refuse_record(it, "its tenant_id column names another tenant than "
					     "this TENANT backup's '%s'", scope_name(it));
		}
	}
	if (strcmp(name, "value") == 0) {
		seen->value = 1;
		if (type != CAIRN_COL_JSON && type != CAIRN_COL_NULL)
			return refuse_record(it, "its value column is not JSON");
	}
	if (type != CAIRN_COL_JSON || val->type != MSGPACK_OBJECT_MAP)
		return CAIRN_OK;
	for (uint32_t i = 0; i < val->via.map.size; i++) {
		const msgpack_object_kv *kv = &val->via.map.ptr[i];
		if (!obj_is_str(&kv->key, "tenantId"))
			continue;
		if (strcmp(name, "value") == 0)
			seen->value_tenant = 1;
		if (kv->val.type == MSGPACK_OBJECT_NIL) {
			if (out_of_scope(it, NULL, 0))
				return refuse_record(it, "its %s has a null tenantId, outside this TENANT "
						     "backup of '%s'", name, scope_name(it));
		} else if (kv->val.type != MSGPACK_OBJECT_STR) {
			return refuse_record(it, "its %s has a tenantId that is not a string", name);
		} else if (out_of_scope(it, kv->val.via.str.ptr, kv->val.via.str.size)) {
			return refuse_record(it, "its %s names another tenant than this TENANT "
					     "backup's '%s'", name, scope_name(it));
		}
	}
	return CAIRN_OK;
}

static int check_record_scope(const struct core_chunk_iter *it, const struct scope_seen *seen)
{
	if (seen->tenant_column)
		return CAIRN_OK;
	if (!seen->value)
		return refuse_record(it, "it has neither a tenant_id column nor a JSON value: its "
				     "tenant cannot be checked against this TENANT backup's");
	if (!seen->value_tenant && it->scope_tenant)
		return refuse_record(it, "its value has no tenantId: it would land in no tenant, "
				     "outside this TENANT backup of '%s'", it->scope_tenant);
	return CAIRN_OK;
}

int core_chunk_next(struct core_chunk_iter *it, const struct cairn_record **rec)
{
	if (it->off >= it->len)
		return 0;
	/* Only the previous record lives in the zone: dropping it keeps memory
	 * bounded by one record, not the chunk. */
	if (it->zone)
		msgpack_zone_clear(it->zone);
	else if (!(it->zone = msgpack_zone_new(8192)))
		return core_error_set(CAIRN_E_NOMEM, "out of memory reading a record chunk");
	/* Depth CORE_JSON_MAX_DEPTH + 4: a JSON value sits inside the record
	 * array, its columns array and its column array, so its outermost level
	 * is the 4th and the deepest document the codec writes (512 levels) ends
	 * at 515; the limit leaves one level to spare. */
	msgpack_object obj;
	int rc = core_mpack_next(it->data, it->len, &it->off, it->zone, &obj,
				 CORE_JSON_MAX_DEPTH + 4);
	if (rc == CAIRN_E_NOMEM)
		return rc;
	if (rc)
		return corrupt_record();
	msgpack_object *o = &obj;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3)
		return corrupt_record();
	msgpack_object *key = &o->via.array.ptr[0], *tenant = &o->via.array.ptr[1],
		       *cols = &o->via.array.ptr[2];
	if (set_text(&it->key, key) || memchr(it->key.data, 0, it->key.len) || it->key.len == 0)
		return corrupt_record();
	if (!core_text_valid(it->key.data, it->key.len))
		return refuse_record(it, "its key is not valid UTF-8");
	const char *tenant_s = NULL;
	if (tenant->type != MSGPACK_OBJECT_NIL) {
		if (set_text(&it->tenant, tenant) || memchr(it->tenant.data, 0, it->tenant.len))
			return corrupt_record();
		if (!core_text_valid(it->tenant.data, it->tenant.len))
			return refuse_record(it, "its tenant is not valid UTF-8");
		tenant_s = it->tenant.data;
	}
	if (it->scoped && out_of_scope(it, tenant_s, tenant_s ? it->tenant.len : 0))
		return refuse_record(it, "it belongs to %s%s%s, not to this TENANT backup's '%s'",
				     tenant_s ? "tenant '" : "no tenant", tenant_s ? tenant_s : "",
				     tenant_s ? "'" : "", scope_name(it));
	if (cols->type != MSGPACK_OBJECT_ARRAY || cols->via.array.size > CORE_MAX_COLUMNS)
		return corrupt_record();
	struct scope_seen seen = {0};
	/* the key column is checked against the key as read, before any rewrite */
	for (uint32_t i = 0; i < cols->via.array.size; i++) {
		msgpack_object *c = &cols->via.array.ptr[i];
		if (c->type != MSGPACK_OBJECT_ARRAY || c->via.array.size != 3 ||
		    !obj_is_str(&c->via.array.ptr[0], "key"))
			continue;
		msgpack_object *v = &c->via.array.ptr[2];
		if (v->type != MSGPACK_OBJECT_STR || v->via.str.size != it->key.len ||
		    memcmp(v->via.str.ptr, it->key.data, it->key.len) != 0)
			return refuse_record(it, "its key column differs from its key");
	}

	for (uint32_t i = 0; i < cols->via.array.size; i++) {
		msgpack_object *c = &cols->via.array.ptr[i];
		if (c->type != MSGPACK_OBJECT_ARRAY || c->via.array.size != 3)
			return corrupt_record();
		msgpack_object *name = &c->via.array.ptr[0], *type = &c->via.array.ptr[1],
			       *val = &c->via.array.ptr[2];
		if (set_text(&it->names[i], name) || it->names[i].len == 0 ||
		    memchr(it->names[i].data, 0, it->names[i].len) ||
		    type->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return corrupt_record();
		struct cairn_column *col = &it->cols[i];
		struct core_buf *t = &it->text[i];
		core_buf_reset(t);
		col->name = it->names[i].data;
		col->type = (uint32_t)type->via.u64;
		if (it->scoped && (rc = check_column_scope(it, col->name, type->via.u64, val, &seen)))
			return rc;
		rc = CAIRN_OK;
		switch (type->via.u64) {
		case CAIRN_COL_NULL:
			if (val->type != MSGPACK_OBJECT_NIL)
				return corrupt_record();
			col->data = NULL;
			col->len = 0;
			continue;
		case CAIRN_COL_JSON:
			rc = core_msgpack_to_json(val, t);
			if (rc)
				return rc;
			break;
		case CAIRN_COL_INT:
			if (val->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
				rc = core_buf_printf(t, "%" PRIu64, val->via.u64);
			else if (val->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
				rc = core_buf_printf(t, "%" PRId64, val->via.i64);
			else
				return corrupt_record();
			break;
		case CAIRN_COL_BOOL:
			if (val->type != MSGPACK_OBJECT_BOOLEAN)
				return corrupt_record();
			rc = core_buf_append_str(t, val->via.boolean ? "true" : "false");
			break;
		case CAIRN_COL_BYTES:
			if (val->type != MSGPACK_OBJECT_BIN)
				return corrupt_record();
			rc = core_buf_append(t, val->via.bin.ptr, val->via.bin.size);
			break;
		case CAIRN_COL_TEXT:
		case CAIRN_COL_TIMESTAMP:
			rc = set_text(t, val);
			if (rc)
				return corrupt_record();
			if (!core_text_valid(t->data, t->len))
				return refuse_record(it, "column '%s' is not valid UTF-8 text or holds "
						     "a NUL byte", col->name);
			break;
		default:
			return corrupt_record();
		}
		if (rc)
			return rc;
		if (!t->data && core_buf_reserve(t, 0))
			return CAIRN_E_NOMEM;
		col->data = t->data;
		col->len = t->len;
	}
	if (it->scoped && (rc = check_record_scope(it, &seen)))
		return rc;
	it->rec.struct_size = sizeof(it->rec);
	it->rec.key = it->key.data;
	it->rec.tenant = tenant_s;
	it->rec.n_columns = cols->via.array.size;
	it->rec.columns = it->cols;
	*rec = &it->rec;
	return 1;
}
