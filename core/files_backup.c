/*
 * files_backup.c — see files_backup.h.
 *
 * A file goes into the archive as a head (path, size, BLAKE2b-256 of the
 * content, its sidecar) followed by its parts, so that a restore knows
 * before the first byte where a file goes and whether the target already
 * holds the same one (files_restore.c). The head therefore needs the hash
 * before the parts are written: a file that fits one part is read once into
 * that part's buffer; a larger one is read twice, once to hash it and once
 * to copy it, and a file that changed between the two reads fails the
 * backup (the parts already queued cannot be taken back, and a backup whose
 * file does not match its own head would not restore).
 */
#define _POSIX_C_SOURCE 200809L
#include "files_backup.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "error.h"
#include "log.h"
#include "pipe.h"
#include "plugin_host.h"
#include "run.h"
#include "source.h"

/* ---------------------------------------------------------------- the plan */

static int wanted(const struct core_run *run, int f)
{
	if (run->resources)
		return run->resources[run->kinds.n + (size_t)f] == 1 ||
		       (f == CORE_FK_EXECUTION && run->include_data);
	return f != CORE_FK_EXECUTION || run->include_data;
}

static int covers(char *const *kinds, size_t n, const char *kind)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kinds[i], kind) == 0)
			return 1;
	return 0;
}

int core_files_plan_make(struct core_run *run, char *const *kinds, size_t n_kinds,
			 struct core_files_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->run = run;
	int named = -1;
	for (int f = 0; f < CORE_FK_N; f++)
		if (run->resources && run->resources[run->kinds.n + (size_t)f] == 1 && named < 0)
			named = f;
	if (!run->internal_storage_uri) {
		if (named >= 0)
			return core_fail(run, CORE_EXIT_USAGE,
					 core_error_set(CAIRN_E_INVALID,
							"--resources %s: files are read from Kestra's internal storage; "
							"give --internal-storage URI (or CAIRN_INTERNAL_STORAGE, "
							"[internal-storage] uri)", core_fkind_names[named]));
		if (covers(kinds, n_kinds, "KV") || covers(kinds, n_kinds, "NAMESPACE_FILE"))
			core_info("No internal storage given (--internal-storage): the files of KV values "
				  "and namespace files are not backed up, only their rows");
		return CAIRN_OK;
	}
	for (int f = 0; f < CORE_FK_N; f++)
		if (wanted(run, f)) {
			p->fk[p->n] = f;
			p->kinds[p->n++] = (char *)core_fkind_names[f];
		}
	if (p->n == 0)
		return CAIRN_OK;
	int rc = core_storage_open_with(run, run->internal_storage_uri, run->internal_opts,
					run->n_internal_opts, &p->st);
	if (rc)
		return rc;
	int kv_files = 0, ns_files = 0;
	for (size_t i = 0; i < p->n; i++) {
		kv_files |= p->fk[i] == CORE_FK_KV;
		ns_files |= p->fk[i] == CORE_FK_NAMESPACE;
	}
	p->orphans = core_orphans_new(covers(kinds, n_kinds, "KV"), kv_files,
				      covers(kinds, n_kinds, "NAMESPACE_FILE"), ns_files);
	run->orphans = p->orphans;
	return CAIRN_OK;
}

void core_files_plan_free(struct core_files_plan *p)
{
	core_storage_close(&p->st);
	if (p->run && p->run->orphans == p->orphans)
		p->run->orphans = NULL;
	core_orphans_free(p->orphans);
	p->orphans = NULL;
}

/* ---------------------------------------------------------------- the listing */

struct object {
	char *name;
	uint64_t size;
	int fk;
};

struct listing {
	struct object *v;
	size_t n, cap;
	size_t skip;                 /* prefix length: names relative to the tenant's directory */
	char **tenants;              /* --null-tenant: first segments that are tenants' directories */
	size_t n_tenants;
	int failed;
};

static int first_segment_is_tenant(const struct listing *l, const char *name)
{
	const char *slash = strchr(name, '/');
	size_t n = slash ? (size_t)(slash - name) : strlen(name);
	for (size_t i = 0; i < l->n_tenants; i++)
		if (strlen(l->tenants[i]) == n && memcmp(l->tenants[i], name, n) == 0)
			return 1;
	return 0;
}

static int list_one(void *ud, const struct core_object *obj)
{
	struct listing *l = ud;
	if (l->n_tenants && first_segment_is_tenant(l, obj->name))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct object *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			goto nomem;
		l->v = v;
		l->cap = cap;
	}
	char *name = strdup(obj->name);
	if (!name)
		goto nomem;
	l->v[l->n++] = (struct object){.name = name, .size = obj->size, .fk = core_file_classify(name)};
	return 0;
nomem:
	l->failed = CAIRN_E_NOMEM;
	return 1;
}

static int by_object_name(const void *a, const void *b)
{
	return strcmp(((const struct object *)a)->name, ((const struct object *)b)->name);
}

static const struct object *find(const struct listing *l, const char *name)
{
	struct object key = {.name = (char *)name};
	return l->n ? bsearch(&key, l->v, l->n, sizeof(*l->v), by_object_name) : NULL;
}

static void listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	for (size_t i = 0; i < l->n_tenants; i++)
		free(l->tenants[i]);
	free(l->tenants);
}

static int add_tenant(void *ud, const char *tenant)
{
	struct listing *l = ud;
	if (!tenant)
		return 0;
	for (size_t i = 0; i < l->n_tenants; i++)
		if (strcmp(l->tenants[i], tenant) == 0)
			return 0;
	char **v = realloc(l->tenants, (l->n_tenants + 1) * sizeof(*v));
	char *t = strdup(tenant);
	if (!v || !t) {
		free(t);
		if (v)
			l->tenants = v;
		l->failed = CAIRN_E_NOMEM;
		return 1;
	}
	l->tenants = v;
	l->tenants[l->n_tenants++] = t;
	return 0;
}

/*
 * Kestra's storage root holds both the files without a tenant (open-source
 * Kestra before 0.23) and one directory per tenant: a backup of the former
 * leaves out the directories of every tenant the source knows.
 */
static int known_tenants(struct core_files_plan *p, struct core_source *src, char *const *kinds,
			 size_t n_kinds, struct listing *l)
{
	if (!core_source_can_list_tenants(src)) {
		core_warn("the %s plugin cannot list tenants: every file of the internal storage is "
			  "taken as one without a tenant", core_source_name(src));
		return CAIRN_OK;
	}
	for (size_t i = 0; i < n_kinds; i++) {
		const struct cairn_kind_desc *kd = core_kinds_find(&p->run->kinds, kinds[i]);
		int rc = core_source_kind_exists(src, kd);
		if (rc == 1)
			rc = core_source_list_tenants(src, kd, add_tenant, l);
		if (l->failed)
			return core_fail(p->run, CORE_EXIT_FAILURE, l->failed);
		if (rc < 0)
			return rc;
	}
	return CAIRN_OK;
}

/* ---------------------------------------------------------------- copying */

static const char *shown(const char *s, char *buf, size_t cap)
{
	return core_name_shown(s, strlen(s), buf, cap);
}

struct copy {
	struct core_files_plan *p;
	struct core_pipe *pipe;
	struct core_buf part, rest, head, sidecar, sname;
	unsigned num; /* the kind's files so far */
};

static int cancelled(struct core_run *run)
{
	return core_fail(run, CORE_EXIT_CANCELLED, core_error_set(CAIRN_E_CANCELLED, "cancelled by signal"));
}

/* Fill b (emptied first) with up to `want` bytes of the reader; *eof when it ended before. */
static int fill(struct core_storage *st, void *r, struct core_buf *b, size_t want, int *eof)
{
	core_buf_reset(b);
	if (core_buf_reserve(b, want))
		return core_fail(st->run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
	*eof = 0;
	while (b->len < want) {
		size_t got;
		int rc = core_storage_read(st, r, b->data + b->len, want - b->len, &got);
		if (rc)
			return rc;
		if (got == 0) {
			*eof = 1;
			break;
		}
		b->len += got;
	}
	b->data[b->len] = '\0';
	return CAIRN_OK;
}

static int put(struct copy *c, const char *name, struct core_buf *b)
{
	return core_fail(c->p->run, CORE_EXIT_STORAGE, core_pipe_put(c->pipe, name, b));
}

/*
 * The first read: the object's size and hash, its first part kept in
 * c->part. *whole when that part is all of it.
 */
static int first_read(struct copy *c, const char *name, struct core_file_head *h, int *whole)
{
	struct core_storage *st = &c->p->st;
	void *r = NULL;
	int eof = 0, rc = core_storage_reader_open_maybe(st, name, &r);
	if (rc)
		return rc;
	crypto_generichash_state hs;
	crypto_generichash_init(&hs, NULL, 0, sizeof(h->hash));
	rc = fill(st, r, &c->part, CORE_FILE_PART, &eof);
	if (!rc)
		crypto_generichash_update(&hs, (const unsigned char *)c->part.data, c->part.len);
	h->size = c->part.len;
	while (!rc && !eof) {
		if (core_cancelled())
			rc = cancelled(st->run);
		else if (!(rc = fill(st, r, &c->rest, 64 * 1024, &eof))) {
			crypto_generichash_update(&hs, (const unsigned char *)c->rest.data, c->rest.len);
			h->size += c->rest.len;
		}
	}
	core_storage_reader_close(st, r);
	crypto_generichash_final(&hs, h->hash, sizeof(h->hash));
	*whole = h->size == c->part.len;
	return rc;
}

/* Head, then the parts: from c->part when the file fits it, else from a second read. */
static int copy_object(struct copy *c, size_t i, const struct object *obj, const char *tenant,
		       const char *path, const struct object *side)
{
	struct core_files_plan *p = c->p;
	struct core_storage *st = &p->st;
	const char *kind = p->kinds[i];
	char entry[160], nm[300];
	void *r = NULL;
	int eof = 0, whole = 0;
	struct core_file_head h = {.tenant = tenant, .path = path};
	int rc = first_read(c, obj->name, &h, &whole);
	if (rc == CAIRN_E_NOT_FOUND) {
		core_warn("file '%s' disappeared during the backup: not backed up", shown(obj->name, nm, sizeof(nm)));
		return CAIRN_OK;
	}
	if (rc)
		return rc;
	core_buf_reset(&c->sidecar);
	if (side) {
		void *sr;
		int seof;
		rc = core_storage_reader_open_maybe(st, side->name, &sr);
		if (rc == CAIRN_OK) {
			rc = fill(st, sr, &c->sidecar, CORE_SIDECAR_MAX + 1, &seof);
			core_storage_reader_close(st, sr);
			h.has_sidecar = !rc && c->sidecar.len <= CORE_SIDECAR_MAX;
			if (!rc && !h.has_sidecar)
				core_warn("'%s' grew over 1 MiB during the backup: not backed up",
					  shown(side->name, nm, sizeof(nm)));
		} else if (rc == CAIRN_E_NOT_FOUND) {
			rc = CAIRN_OK; /* gone since the listing: the file goes without it */
		}
		if (rc)
			return rc;
		h.sidecar = c->sidecar.data;
		h.sidecar_len = c->sidecar.len;
	}
	if (++c->num > CORE_FILE_NUM_MAX)
		return core_fail(p->run, CORE_EXIT_FAILURE,
				 core_error_set(CAIRN_E_INVALID, "more than %u %s files", CORE_FILE_NUM_MAX, kind));
	core_buf_reset(&c->head);
	if (core_file_head_pack(&h, &c->head))
		return core_fail(p->run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
	core_file_entry_name(entry, sizeof(entry), kind, c->num, 0);
	if ((rc = put(c, entry, &c->head)))
		return rc;
	if (whole) {
		if (h.size) {
			core_file_entry_name(entry, sizeof(entry), kind, c->num, 1);
			rc = put(c, entry, &c->part);
		}
	} else {
		/* the second read: the same bytes as the first, or the backup fails */
		uint64_t got = 0;
		unsigned char again[32];
		crypto_generichash_state hs;
		crypto_generichash_init(&hs, NULL, 0, sizeof(again));
		rc = core_storage_reader_open(st, obj->name, &r);
		for (unsigned part = 1; !rc && got < h.size; part++) {
			size_t want = h.size - got < CORE_FILE_PART ? (size_t)(h.size - got) : CORE_FILE_PART;
			if (core_cancelled())
				rc = cancelled(p->run);
			else if (part > CORE_FILE_PARTS_MAX)
				rc = core_fail(p->run, CORE_EXIT_FAILURE,
					       core_error_set(CAIRN_E_INVALID, "file '%s' has more than %u parts",
							      shown(obj->name, nm, sizeof(nm)), CORE_FILE_PARTS_MAX));
			else if (!(rc = fill(st, r, &c->part, want, &eof)) && c->part.len == want) {
				crypto_generichash_update(&hs, (const unsigned char *)c->part.data, want);
				got += want;
				core_file_entry_name(entry, sizeof(entry), kind, c->num, part);
				rc = put(c, entry, &c->part);
			} else if (!rc) {
				break; /* shorter than it was: caught below */
			}
		}
		if (!rc) {
			char one;
			size_t extra = 0;
			rc = core_storage_read(st, r, &one, 1, &extra);
			crypto_generichash_final(&hs, again, sizeof(again));
			if (!rc && (got != h.size || extra || sodium_memcmp(again, h.hash, sizeof(again)) != 0))
				rc = core_fail(p->run, CORE_EXIT_STORAGE,
					       core_error_set(CAIRN_E_IO,
							      "file '%s' changed while it was backed up; "
							      "run the backup again", shown(obj->name, nm, sizeof(nm))));
		}
		core_storage_reader_close(st, r);
	}
	if (!rc) {
		p->files[i]++;
		p->bytes[i] += h.size;
		if (p->orphans)
			rc = core_fail(p->run, CORE_EXIT_FAILURE,
				       core_orphans_note_file(p->orphans, p->fk[i], obj->name));
	}
	return rc;
}

/* A listed <file>.metadata that goes with its file: not an object of its own. */
static const struct object *sidecar_of(const struct listing *l, const char *name, struct core_buf *b)
{
	core_buf_reset(b);
	if (core_buf_append_str(b, name) || core_buf_append_str(b, ".metadata"))
		return NULL;
	const struct object *s = find(l, b->data);
	return s && s->size <= CORE_SIDECAR_MAX ? s : NULL;
}

static int is_attached_sidecar(const struct listing *l, const struct object *obj)
{
	size_t n = strlen(obj->name);
	if (n <= 9 || strcmp(obj->name + n - 9, ".metadata") != 0 || obj->size > CORE_SIDECAR_MAX)
		return 0;
	char *base = strndup(obj->name, n - 9);
	int attached = base && find(l, base) != NULL;
	free(base);
	return attached;
}

int core_files_backup(struct core_files_plan *p, struct core_source *src, char *const *kinds,
		      size_t n_kinds, const struct cairn_scope *scope, struct core_pipe *pipe)
{
	if (p->n == 0)
		return CAIRN_OK;
	struct core_run *run = p->run;
	struct listing l = {0};
	struct copy c = {.p = p, .pipe = pipe};
	char prefix[128] = "", nm[300];
	int rc = CAIRN_OK;
	if (scope->filter == CAIRN_TENANT_ONE)
		snprintf(prefix, sizeof(prefix), "%s/", scope->tenant);
	else if (scope->filter == CAIRN_TENANT_NONE)
		rc = known_tenants(p, src, kinds, n_kinds, &l);
	l.skip = strlen(prefix);
	core_progress_step("backing up files");
	if (!rc)
		rc = core_storage_list(&p->st, prefix, list_one, &l);
	if (l.failed)
		rc = core_fail(run, CORE_EXIT_FAILURE, l.failed);
	if (rc)
		goto out;
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), by_object_name);
	const char *tenant = scope->filter == CAIRN_TENANT_ONE ? scope->tenant : NULL;
	for (size_t i = 0; i < p->n && !rc; i++) {
		c.num = 0;
		for (size_t j = 0; j < l.n && !rc; j++) {
			const struct object *obj = &l.v[j];
			if (obj->fk != p->fk[i] || is_attached_sidecar(&l, obj))
				continue;
			const char *path = obj->name + l.skip;
			const char *why = core_file_path_refusal(path, strlen(path));
			if (why) {
				core_warn("file '%s' is not backed up: its name cannot be restored (%s)",
					  shown(obj->name, nm, sizeof(nm)), why);
				continue;
			}
			if (core_cancelled())
				rc = cancelled(run);
			else
				rc = copy_object(&c, i, obj, tenant, path, sidecar_of(&l, obj->name, &c.sname));
			core_host()->progress(core_host(), j + 1, l.n);
		}
	}
	for (size_t j = 0; j < l.n; j++) {
		int covered = 0;
		for (size_t i = 0; i < p->n; i++)
			covered |= l.v[j].fk == p->fk[i];
		if (!covered && !is_attached_sidecar(&l, &l.v[j]))
			p->other++;
	}
out:
	core_progress_done();
	listing_free(&l);
	core_buf_free(&c.part);
	core_buf_free(&c.rest);
	core_buf_free(&c.head);
	core_buf_free(&c.sidecar);
	core_buf_free(&c.sname);
	return rc;
}

void core_files_plan_report(struct core_files_plan *p, json_t *o)
{
	if (p->n == 0)
		return;
	char line[1024];
	core_files_format(p->kinds, p->n, p->files, p->bytes, line, sizeof(line));
	core_info("Files summary: %s", line);
	if (p->other)
		core_info("%" PRIu64 " other objects of the internal storage (state store, caches, files of "
			  "kinds not covered …) are not in this backup", p->other);
	json_t *orphans = core_orphans_report(p->orphans, o != NULL);
	if (!o) {
		json_decref(orphans);
		return;
	}
	json_t *files = json_object();
	for (size_t i = 0; i < p->n; i++)
		json_object_set_new(files, p->kinds[i], json_pack("{s:I, s:I}", "files", (json_int_t)p->files[i],
								  "bytes", (json_int_t)p->bytes[i]));
	json_object_set_new(o, "files", files);
	if (orphans)
		json_object_set_new(o, "orphans", orphans);
}
