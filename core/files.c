/*
 * files.c — see files.h. The reader's half treats every file entry as
 * hostile: a path is checked before anything is handed on, parts must come
 * in order and add up to the head's size, and the content must hash to the
 * head's hash before a hook may publish it.
 */
#define _POSIX_C_SOURCE 200809L
#include "files.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "cairn/status.h"
#include "codec.h"
#include "config.h"
#include "error.h"
#include "log.h"
#include "mpack.h"
#include "record.h"
#include "run.h"

const char *const core_fkind_names[CORE_FK_N] = {"EXECUTION_FILE", "KV_STORE", "NAMESPACE_FILE"};

int core_fkind_index(const char *name)
{
	for (int i = 0; i < CORE_FK_N; i++)
		if (strcmp(core_fkind_names[i], name) == 0)
			return i;
	return -1;
}

static int seg_is(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(s, word, len) == 0;
}

int core_file_classify(const char *name)
{
	size_t total = 1, i = 0;
	for (const char *c = name; *c; c++)
		total += *c == '/';
	for (const char *s = name;; i++) {
		const char *end = strchr(s, '/');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		if (seg_is(s, len, "_kv") && i >= 1 && i + 2 == total)
			return CORE_FK_KV;
		if (seg_is(s, len, "_files") && i >= 1 && i + 1 < total)
			return CORE_FK_NAMESPACE;
		if (seg_is(s, len, "executions") && i >= 2 && i + 2 < total)
			return CORE_FK_EXECUTION;
		if (!end)
			return -1;
		s = end + 1;
	}
}

const char *core_file_path_refusal(const char *p, size_t len)
{
	if (len == 0)
		return "it is empty";
	if (len > CORE_FILE_PATH_MAX)
		return "it is longer than 1024 bytes";
	if (!core_text_valid(p, len))
		return "it is not UTF-8 text or holds a NUL byte";
	if (p[0] == '/')
		return "it is absolute";
	size_t seg = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || p[i] == '/') {
			const char *s = p + i - seg;
			if (seg == 0)
				return "it has an empty segment";
			if ((seg == 1 && s[0] == '.') || (seg == 2 && s[0] == '.' && s[1] == '.'))
				return "it has a '.' or '..' segment";
			if (seg > CORE_FILE_SEGMENT_MAX)
				return "a segment is longer than 255 bytes";
			seg = 0;
			continue;
		}
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f)
			return "it holds a control character";
		if (c == '\\')
			return "it holds a backslash";
		seg++;
	}
	return NULL;
}

void core_file_entry_name(char *out, size_t cap, const char *kind, unsigned num, unsigned part)
{
	if (part)
		snprintf(out, cap, "files/%s/%08u/%06u.part", kind, num, part);
	else
		snprintf(out, cap, "files/%s/%08u/head.msgpack", kind, num);
}

static int digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int core_file_entry_parse(const char *name, char *kind, size_t cap, unsigned *num, unsigned *part)
{
	if (strncmp(name, "files/", 6) != 0)
		return -1;
	const char *k = name + 6, *slash = strchr(k, '/');
	if (!slash || (size_t)(slash - k) >= cap)
		return -1;
	memcpy(kind, k, (size_t)(slash - k));
	kind[slash - k] = '\0';
	const char *n = slash + 1;
	if (strlen(n) < 10 || n[8] != '/' || digits(n, 8, num) || *num == 0)
		return -1;
	const char *rest = n + 9;
	if (strcmp(rest, "head.msgpack") == 0) {
		*part = 0;
		return 0;
	}
	if (strlen(rest) != 11 || strcmp(rest + 6, ".part") != 0 || digits(rest, 6, part) || *part == 0)
		return -1;
	return 0;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

int core_file_head_pack(const struct core_file_head *h, struct core_buf *out)
{
	msgpack_packer pk;
	core_packer_init(&pk, out);
	msgpack_pack_map(&pk, 5);
	pack_str(&pk, "tenant");
	if (h->tenant)
		pack_str(&pk, h->tenant);
	else
		msgpack_pack_nil(&pk);
	pack_str(&pk, "path");
	pack_str(&pk, h->path);
	pack_str(&pk, "size");
	msgpack_pack_uint64(&pk, h->size);
	pack_str(&pk, "blake2b");
	msgpack_pack_bin(&pk, sizeof(h->hash));
	msgpack_pack_bin_body(&pk, h->hash, sizeof(h->hash));
	pack_str(&pk, "sidecar");
	if (h->has_sidecar) {
		msgpack_pack_bin(&pk, h->sidecar_len);
		msgpack_pack_bin_body(&pk, h->sidecar, h->sidecar_len);
	} else {
		msgpack_pack_nil(&pk);
	}
	return out->data ? CAIRN_OK : CAIRN_E_NOMEM;
}

int core_file_storage_name(const char *tenant, const char *path, struct core_buf *out)
{
	core_buf_reset(out);
	if (tenant && (core_buf_append_str(out, tenant) || core_buf_append_char(out, '/')))
		return CAIRN_E_NOMEM;
	return core_buf_append_str(out, path);
}

/* ---------------------------------------------------------------- reading */

const char *core_name_shown(const char *s, size_t len, char *buf, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 4 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (n < len && n + 4 <= cap)
		buf[n++] = '.', buf[n++] = '.', buf[n++] = '.';
	buf[n] = '\0';
	return buf;
}

static int refuse(const struct core_file_in *in, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int refuse(const struct core_file_in *in, const char *fmt, ...)
{
	char what[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return core_error_set(CAIRN_E_CORRUPT, "archive refused: %s file %u: %s",
			      in->kinds[in->ki], in->num, what);
}

static int corrupt(const char *what, const char *entry)
{
	char buf[200];
	return core_error_set(CAIRN_E_CORRUPT, "archive is corrupted: %s '%s'", what,
			      core_name_shown(entry, strlen(entry), buf, sizeof(buf)));
}

void core_file_in_init(struct core_file_in *in)
{
	memset(in, 0, sizeof(*in));
}

void core_file_in_free(struct core_file_in *in)
{
	core_buf_free(&in->tenant);
	core_buf_free(&in->path);
	core_buf_free(&in->sidecar);
	core_buf_free(&in->prev);
}

static int set_bytes(struct core_buf *b, const msgpack_object *o, msgpack_object_type type)
{
	core_buf_reset(b);
	if (o->type != type)
		return CAIRN_E_CORRUPT;
	const char *p = type == MSGPACK_OBJECT_STR ? o->via.str.ptr : o->via.bin.ptr;
	uint32_t n = type == MSGPACK_OBJECT_STR ? o->via.str.size : o->via.bin.size;
	return core_buf_reserve(b, n) ? CAIRN_E_NOMEM : core_buf_append(b, p, n);
}

/* The head's fields into in->tenant/path/sidecar, size and hash; 1 for has tenant. */
static int unpack_head(struct core_file_in *in, const void *data, size_t len, int *has_tenant,
		       int *has_sidecar)
{
	msgpack_zone *zone = msgpack_zone_new(2048);
	if (!zone)
		return CAIRN_E_NOMEM;
	msgpack_object root;
	size_t off = 0;
	int rc = core_mpack_next(data, len, &off, zone, &root, 4);
	if (rc == CAIRN_E_NOMEM)
		goto out;
	rc = CAIRN_E_CORRUPT;
	if (off != len || root.type != MSGPACK_OBJECT_MAP)
		goto out;
	unsigned seen = 0;
	*has_tenant = *has_sidecar = 0;
	for (uint32_t i = 0; i < root.via.map.size; i++) {
		const msgpack_object *k = &root.via.map.ptr[i].key, *v = &root.via.map.ptr[i].val;
		static const char *const keys[] = {"tenant", "path", "size", "blake2b", "sidecar"};
		unsigned which = 5;
		for (unsigned j = 0; j < 5 && k->type == MSGPACK_OBJECT_STR; j++)
			if (k->via.str.size == strlen(keys[j]) && memcmp(k->via.str.ptr, keys[j], k->via.str.size) == 0)
				which = j;
		if (which == 5)
			continue; /* later minors may add keys */
		if (seen & (1u << which))
			goto out;
		seen |= 1u << which;
		int r = CAIRN_OK;
		switch (which) {
		case 0:
			if (v->type != MSGPACK_OBJECT_NIL) {
				r = set_bytes(&in->tenant, v, MSGPACK_OBJECT_STR);
				*has_tenant = 1;
			}
			break;
		case 1:
			r = set_bytes(&in->path, v, MSGPACK_OBJECT_STR);
			break;
		case 2:
			if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
				goto out;
			in->size = v->via.u64;
			break;
		case 3:
			if (v->type != MSGPACK_OBJECT_BIN || v->via.bin.size != sizeof(in->hash))
				goto out;
			memcpy(in->hash, v->via.bin.ptr, sizeof(in->hash));
			break;
		case 4:
			if (v->type != MSGPACK_OBJECT_NIL) {
				if (v->type == MSGPACK_OBJECT_BIN && v->via.bin.size > CORE_SIDECAR_MAX)
					goto out;
				r = set_bytes(&in->sidecar, v, MSGPACK_OBJECT_BIN);
				*has_sidecar = 1;
			}
			break;
		}
		if (r) {
			rc = r;
			goto out;
		}
	}
	rc = (seen & 0xf) == 0xf ? CAIRN_OK : CAIRN_E_CORRUPT; /* tenant, path, size, hash */
out:
	msgpack_zone_free(zone);
	if (rc == CAIRN_E_CORRUPT)
		core_error_set(rc, "archive is corrupted: malformed head of %s file %u", in->kinds[in->ki],
			       in->num);
	return rc;
}

static int tenant_mismatch(const struct core_file_in *in, int has_tenant)
{
	if (!in->scoped)
		return has_tenant; /* FULL: paths are relative to the root */
	if (!in->scope_tenant)
		return has_tenant;
	return !has_tenant || strcmp(in->tenant.data, in->scope_tenant) != 0;
}

static int read_head(struct core_file_in *in, size_t ki, unsigned num, const void *data, size_t len)
{
	char a[200], b[120];
	in->ki = ki;
	in->num = num;
	int has_tenant, has_sidecar;
	int rc = unpack_head(in, data, len, &has_tenant, &has_sidecar);
	if (rc)
		return rc;
	const char *why = core_file_path_refusal(in->path.data, in->path.len);
	if (why)
		return refuse(in, "its path '%s' is refused: %s", core_name_shown(in->path.data, in->path.len, a, sizeof(a)),
			      why);
	if (has_tenant && (in->tenant.len == 0 || memchr(in->tenant.data, 0, in->tenant.len) ||
			   !core_text_valid(in->tenant.data, in->tenant.len)))
		return refuse(in, "its tenant is malformed");
	if (tenant_mismatch(in, has_tenant))
		return refuse(in, "it belongs to %s%s%s, not to this backup's %s%s%s",
			      has_tenant ? "tenant '" : "no tenant",
			      has_tenant ? core_name_shown(in->tenant.data, in->tenant.len, a, sizeof(a)) : "",
			      has_tenant ? "'" : "", !in->scoped ? "storage root (a FULL backup names no tenant)"
			      : in->scope_tenant ? "tenant '" : "files without a tenant",
			      in->scoped && in->scope_tenant
				      ? core_name_shown(in->scope_tenant, strlen(in->scope_tenant), b, sizeof(b)) : "",
			      in->scoped && in->scope_tenant ? "'" : "");
	/* the kind must be what the storage name says it is: a KV_STORE entry writes only KV values */
	struct core_buf full = CORE_BUF_INIT;
	if (core_file_storage_name(has_tenant ? in->tenant.data : NULL, in->path.data, &full)) {
		core_buf_free(&full);
		return CAIRN_E_NOMEM;
	}
	int fk = core_file_classify(full.data);
	if (fk != in->fk[ki]) {
		rc = refuse(in, "its path '%s' is no %s path", core_name_shown(in->path.data, in->path.len, a, sizeof(a)),
			    core_fkind_names[in->fk[ki]]);
		core_buf_free(&full);
		return rc;
	}
	/* strictly increasing paths within a kind: no file twice */
	if (num > 1 && strcmp(in->prev.data, full.data) >= 0) {
		rc = refuse(in, "its path '%s' is not after the previous file's",
			    core_name_shown(in->path.data, in->path.len, a, sizeof(a)));
		core_buf_free(&full);
		return rc;
	}
	core_buf_reset(&in->prev);
	rc = core_buf_append(&in->prev, full.data, full.len);
	if (!rc && in->orphans)
		rc = core_orphans_note_file(in->orphans, in->fk[ki], full.data);
	core_buf_free(&full);
	if (rc)
		return rc;
	crypto_generichash_init(&in->hs, NULL, 0, sizeof(in->hash));
	in->got = 0;
	in->part = 0;
	in->open = 1;
	if (in->ev && in->ev->begin) {
		struct core_file_head h = {
			.tenant = has_tenant ? in->tenant.data : NULL,
			.path = in->path.data,
			.size = in->size,
			.has_sidecar = has_sidecar,
			.sidecar = in->sidecar.data,
			.sidecar_len = in->sidecar.len,
		};
		memcpy(h.hash, in->hash, sizeof(h.hash));
		rc = in->ev->begin(in->ev->ud, in->fk[ki], &h);
		if (rc)
			return rc;
	}
	return in->size == 0 ? CAIRN_OK : 1; /* 1: parts follow */
}

/* The content is all in: check it against the head, then let the hook publish. */
static int close_file(struct core_file_in *in)
{
	unsigned char h[32];
	crypto_generichash_final(&in->hs, h, sizeof(h));
	in->open = 0;
	if (sodium_memcmp(h, in->hash, sizeof(h)) != 0)
		return core_error_set(CAIRN_E_CORRUPT,
				      "archive is corrupted: %s file %u does not match its hash",
				      in->kinds[in->ki], in->num);
	in->files[in->ki]++;
	in->bytes[in->ki] += in->size;
	if (in->ev && in->ev->end)
		return in->ev->end(in->ev->ud);
	return CAIRN_OK;
}

int core_file_in_entry(struct core_file_in *in, const char *name, const void *data, size_t len)
{
	char kind[80];
	unsigned num, part;
	if (core_file_entry_parse(name, kind, sizeof(kind), &num, &part) != 0)
		return strncmp(name, "files/", 6) == 0 ? corrupt("unexpected entry", name) : 0;
	size_t ki = 0;
	while (ki < in->n_kinds && strcmp(in->kinds[ki], kind) != 0)
		ki++;
	if (ki == in->n_kinds)
		return corrupt("unexpected entry", name);
	if (part == 0) {
		/* a head: the previous file is complete; kinds in manifest order, numbers from 1 */
		if (in->open)
			return corrupt("file ends early: a head comes before all of the parts of the file before it:", name);
		int next = in->num == 0 ? num == 1 && (ki >= in->ki)
					: (ki == in->ki && num == in->num + 1) || (ki > in->ki && num == 1);
		if (!next)
			return corrupt("file out of order", name);
		int rc = read_head(in, ki, num, data, len);
		if (rc == 0) /* an empty file: no part follows */
			rc = close_file(in);
		return rc < 0 ? rc : 1;
	}
	if (!in->open || ki != in->ki || num != in->num || part != in->part + 1)
		return corrupt("part out of order", name);
	if (len == 0 || len > in->size - in->got)
		return corrupt("part of the wrong size", name);
	in->part = part;
	in->got += len;
	crypto_generichash_update(&in->hs, data, len);
	if (in->ev && in->ev->data) {
		int rc = in->ev->data(in->ev->ud, data, len);
		if (rc)
			return rc;
	}
	if (in->got == in->size) {
		int rc = close_file(in);
		if (rc)
			return rc;
	}
	return 1;
}

int core_file_in_finish(struct core_file_in *in)
{
	if (in->open)
		return core_error_set(CAIRN_E_CORRUPT,
				      "archive is corrupted: %s file %u ends after %" PRIu64 " of its %" PRIu64
				      " bytes", in->kinds[in->ki], in->num, in->got, in->size);
	return CAIRN_OK;
}

/* ---------------------------------------------------------------- orphans */

struct names {
	char **v;
	size_t n, cap;
};

/* pairs: 0 KV, 1 namespace files */
struct core_orphans {
	int checked[2];
	struct names rows[2];  /* "storage name\0row key" */
	struct names files[2]; /* storage names */
};

struct core_orphans *core_orphans_new(int kv_rows, int kv_files, int ns_rows, int ns_files)
{
	if (!(kv_rows && kv_files) && !(ns_rows && ns_files))
		return NULL;
	struct core_orphans *o = calloc(1, sizeof(*o));
	if (o) {
		o->checked[0] = kv_rows && kv_files;
		o->checked[1] = ns_rows && ns_files;
	}
	return o;
}

struct core_orphans *core_orphans_for(const struct core_manifest *m)
{
	int has[4] = {0};
	for (size_t i = 0; i < m->n_kinds; i++) {
		has[0] |= strcmp(m->kinds[i], "KV") == 0;
		has[2] |= strcmp(m->kinds[i], "NAMESPACE_FILE") == 0;
	}
	for (size_t i = 0; i < m->n_files; i++) {
		has[1] |= strcmp(m->files[i], "KV_STORE") == 0;
		has[3] |= strcmp(m->files[i], "NAMESPACE_FILE") == 0;
	}
	return core_orphans_new(has[0], has[1], has[2], has[3]);
}

static void names_free(struct names *n)
{
	for (size_t i = 0; i < n->n; i++)
		free(n->v[i]);
	free(n->v);
	memset(n, 0, sizeof(*n));
}

void core_orphans_free(struct core_orphans *o)
{
	if (!o)
		return;
	for (int i = 0; i < 2; i++) {
		names_free(&o->rows[i]);
		names_free(&o->files[i]);
	}
	free(o);
}

static int names_add(struct names *n, const char *a, const char *b)
{
	if (n->n == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 64;
		char **v = realloc(n->v, cap * sizeof(*v));
		if (!v)
			return CAIRN_E_NOMEM;
		n->v = v;
		n->cap = cap;
	}
	size_t la = strlen(a), lb = b ? strlen(b) : 0;
	char *s = malloc(la + lb + 2);
	if (!s)
		return CAIRN_E_NOMEM;
	memcpy(s, a, la + 1);
	if (b)
		memcpy(s + la + 1, b, lb + 1);
	else
		s[la + 1] = '\0';
	n->v[n->n++] = s;
	return CAIRN_OK;
}

int core_orphans_note_file(struct core_orphans *o, int fk, const char *name)
{
	int pair = fk == CORE_FK_KV ? 0 : fk == CORE_FK_NAMESPACE ? 1 : -1;
	if (!o || pair < 0 || !o->checked[pair])
		return CAIRN_OK;
	return names_add(&o->files[pair], name, NULL);
}

/* company.team → company/team */
static int add_namespace(struct core_buf *b, const char *ns)
{
	for (const char *c = ns; *c; c++)
		if (core_buf_append_char(b, *c == '.' ? '/' : *c))
			return CAIRN_E_NOMEM;
	return CAIRN_OK;
}

/*
 * The storage name a KV or namespace-file row names, into b; 0 when the row
 * expects no file (deleted, a directory, a value without the fields).
 */
static int expected_name(int pair, const char *tenant, json_t *v, struct core_buf *b)
{
	const char *ns = json_string_value(json_object_get(v, "namespace"));
	const char *leaf = json_string_value(json_object_get(v, pair ? "path" : "name"));
	json_t *ver = json_object_get(v, "version");
	json_int_t version = json_is_integer(ver) ? json_integer_value(ver) : 1;
	if (!ns || !*ns || !leaf || json_is_true(json_object_get(v, "deleted")))
		return 0;
	if (pair) {
		while (*leaf == '/')
			leaf++;
		if (!*leaf || leaf[strlen(leaf) - 1] == '/')
			return 0; /* a directory has no object */
	}
	core_buf_reset(b);
	if ((tenant && (core_buf_append_str(b, tenant) || core_buf_append_char(b, '/'))) ||
	    add_namespace(b, ns) || core_buf_append_str(b, pair ? "/_files/" : "/_kv/") ||
	    core_buf_append_str(b, leaf) || (!pair && core_buf_append_str(b, ".ion")) ||
	    (version > 1 && core_buf_printf(b, ".v%lld", (long long)version)))
		return CAIRN_E_NOMEM;
	return 1;
}

int core_orphans_note_record(struct core_orphans *o, const char *kind, const struct cairn_record *rec)
{
	int pair = strcmp(kind, "KV") == 0 ? 0 : strcmp(kind, "NAMESPACE_FILE") == 0 ? 1 : -1;
	if (!o || pair < 0 || !o->checked[pair])
		return CAIRN_OK;
	const struct cairn_column *value = NULL;
	for (size_t i = 0; i < rec->n_columns; i++)
		if (strcmp(rec->columns[i].name, "value") == 0 && rec->columns[i].type == CAIRN_COL_JSON)
			value = &rec->columns[i];
	if (!value)
		return CAIRN_OK;
	json_t *v = json_loadb(value->data, value->len, JSON_ALLOW_NUL, NULL);
	if (!v)
		return CAIRN_OK; /* the archive's codec checked it; a value jansson rejects names no file */
	struct core_buf b = CORE_BUF_INIT;
	int rc = expected_name(pair, rec->tenant, v, &b);
	if (rc == 1)
		rc = names_add(&o->rows[pair], b.data, rec->key);
	core_buf_free(&b);
	json_decref(v);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

#define ORPHAN_LINES 10
#define ORPHAN_JSON_MAX 1000

json_t *core_orphans_report(struct core_orphans *o, int json)
{
	static const char *const what[2] = {"KV", "namespace-file"};
	static const char *const keys[2][2] = {{"kv_rows_without_file", "kv_files_without_row"},
					       {"namespace_rows_without_file", "namespace_files_without_row"}};
	if (!o)
		return NULL;
	json_t *j = json ? json_object() : NULL;
	for (int p = 0; p < 2; p++) {
		if (!o->checked[p])
			continue;
		struct names *r = &o->rows[p], *f = &o->files[p];
		if (r->n) /* qsort's pointer must not be NULL, even for 0 elements */
			qsort(r->v, r->n, sizeof(*r->v), by_name);
		if (f->n)
			qsort(f->v, f->n, sizeof(*f->v), by_name);
		json_t *jr = j ? json_array() : NULL, *jf = j ? json_array() : NULL;
		size_t a = 0, b = 0, nr = 0, nf = 0;
		char n1[400], n2[200];
		while (a < r->n || b < f->n) {
			int cmp = a == r->n ? 1 : b == f->n ? -1 : strcmp(r->v[a], f->v[b]);
			if (cmp < 0) {
				const char *key = r->v[a] + strlen(r->v[a]) + 1;
				if (nr++ < ORPHAN_LINES)
					core_warn("orphan: %s row '%s' has no file '%s'", what[p],
						  core_name_shown(key, strlen(key), n2, sizeof(n2)),
						  core_name_shown(r->v[a], strlen(r->v[a]), n1, sizeof(n1)));
				if (jr && json_array_size(jr) < ORPHAN_JSON_MAX)
					json_array_append_new(jr, json_pack("{s:s, s:s}", "key", key, "file", r->v[a]));
				a++;
			} else if (cmp > 0) {
				if (nf++ < ORPHAN_LINES)
					core_warn("orphan: file '%s' has no %s row",
						  core_name_shown(f->v[b], strlen(f->v[b]), n1, sizeof(n1)), what[p]);
				if (jf && json_array_size(jf) < ORPHAN_JSON_MAX)
					json_array_append_new(jf, json_string(f->v[b]));
				b++;
			} else {
				const char *matched = f->v[b];
				while (a < r->n && strcmp(r->v[a], matched) == 0)
					a++;
				while (b < f->n && strcmp(f->v[b], matched) == 0)
					b++;
			}
		}
		if (nr > ORPHAN_LINES)
			core_warn("orphan: … and %zu more %s rows without their file", nr - ORPHAN_LINES, what[p]);
		if (nf > ORPHAN_LINES)
			core_warn("orphan: … and %zu more files without their %s row", nf - ORPHAN_LINES, what[p]);
		if (nr || nf)
			core_warn("orphans: %zu %s row%s without a file, %zu file%s without a %s row", nr, what[p],
				  nr == 1 ? "" : "s", nf, nf == 1 ? "" : "s", what[p]);
		else
			core_info("Orphan check: every %s row has its file, and every file its row (%zu)", what[p],
				  r->n);
		if (j) {
			char count[64];
			json_object_set_new(j, keys[p][0], jr);
			json_object_set_new(j, keys[p][1], jf);
			snprintf(count, sizeof(count), "%s_count", keys[p][0]);
			json_object_set_new(j, count, json_integer((json_int_t)nr));
			snprintf(count, sizeof(count), "%s_count", keys[p][1]);
			json_object_set_new(j, count, json_integer((json_int_t)nf));
		}
	}
	return j;
}

void core_files_format(char *const *kinds, size_t n, const uint64_t *files, const uint64_t *bytes,
		       char *out, size_t cap)
{
	size_t used = (size_t)snprintf(out, cap, "[");
	for (size_t i = 0; i < n && used < cap; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s%s: %" PRIu64 " file%s, %" PRIu64 " bytes",
					 i ? ", " : "", kinds[i], files[i], files[i] == 1 ? "" : "s", bytes[i]);
	if (used < cap)
		snprintf(out + used, cap - used, "]");
}

/* ---------------------------------------------------------------- configuration */

struct conf_opts {
	struct cairn_option *v;
	size_t n;
	size_t given; /* the first `given` came from the command line */
	int failed;
};

static int conf_opt(void *ud, const char *key, const char *value)
{
	struct conf_opts *c = ud;
	if (strcmp(key, "uri") == 0)
		return 0;
	for (size_t i = 0; i < c->given; i++)
		if (strcmp(c->v[i].key, key) == 0)
			return 0; /* the command line wins */
	struct cairn_option *v = realloc(c->v, (c->n + 1) * sizeof(*v));
	if (!v) {
		c->failed = 1;
		return 1;
	}
	c->v = v;
	c->v[c->n++] = (struct cairn_option){.key = key, .value = value};
	if (strstr(key, "password") || strstr(key, "secret"))
		core_log_redact_add(value);
	return 0;
}

int core_files_configure(struct core_run *run, const char *uri, const struct cairn_option *opts,
			 size_t n_opts)
{
	const char *env = getenv("CAIRN_INTERNAL_STORAGE");
	run->internal_storage_uri = uri ? uri : env && *env ? env : core_config_get("internal-storage", "uri");
	struct conf_opts c = {.v = calloc(n_opts + 1, sizeof(*c.v)), .n = n_opts, .given = n_opts};
	if (!c.v)
		return CAIRN_E_NOMEM;
	if (n_opts)
		memcpy(c.v, opts, n_opts * sizeof(*opts));
	core_config_each("internal-storage", conf_opt, &c);
	run->internal_opts = c.v;
	run->n_internal_opts = c.n;
	if (run->internal_storage_uri)
		core_log_redact_uri(run->internal_storage_uri);
	return c.failed ? CAIRN_E_NOMEM : CAIRN_OK;
}

void core_files_unconfigure(struct core_run *run)
{
	free(run->internal_opts);
	run->internal_opts = NULL;
	run->n_internal_opts = 0;
}
