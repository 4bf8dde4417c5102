/* files_restore.c — see files_restore.h. */
#define _POSIX_C_SOURCE 200809L
#include "files_restore.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "error.h"
#include "log.h"
#include "record.h"
#include "run.h"

static const char *shown(const char *s, char *buf, size_t cap)
{
	return core_name_shown(s, strlen(s), buf, cap);
}

static void note_written(struct core_files_restore *fr, const char *name)
{
	if (fr->written < CORE_FILES_WRITTEN_SHOWN)
		fr->shown[fr->written] = strdup(name);
	fr->written++;
}

/*
 * Does the target hold exactly `size` bytes hashing to `hash` under name?
 * 1 yes, 0 no (absent or different), <0 failure.
 */
static int same_content(struct core_files_restore *fr, const char *name, uint64_t size,
			const unsigned char hash[32], int *exists)
{
	struct core_object info;
	*exists = 0;
	int rc = core_storage_stat(&fr->st, name, &info);
	if (rc == CAIRN_E_NOT_FOUND)
		return 0;
	if (rc)
		return rc;
	*exists = 1;
	if (info.size != size)
		return 0;
	void *r;
	if ((rc = core_storage_reader_open(&fr->st, name, &r)))
		return rc;
	crypto_generichash_state hs;
	crypto_generichash_init(&hs, NULL, 0, 32);
	uint64_t total = 0;
	if (core_buf_reserve(&fr->tmp, 64 * 1024)) {
		core_storage_reader_close(&fr->st, r);
		return core_fail(fr->run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
	}
	for (;;) {
		size_t got;
		if ((rc = core_storage_read(&fr->st, r, fr->tmp.data, 64 * 1024, &got)) || got == 0)
			break;
		crypto_generichash_update(&hs, (const unsigned char *)fr->tmp.data, got);
		total += got;
	}
	core_storage_reader_close(&fr->st, r);
	if (rc)
		return rc;
	unsigned char h[32];
	crypto_generichash_final(&hs, h, sizeof(h));
	return total == size && sodium_memcmp(h, hash, sizeof(h)) == 0;
}

/* Does the target's <name>.metadata hold exactly the backup's sidecar? */
static int same_sidecar(struct core_files_restore *fr, const char *side, const void *want, size_t len,
			int *exists)
{
	void *r;
	*exists = 0;
	int rc = core_storage_reader_open_maybe(&fr->st, side, &r);
	if (rc == CAIRN_E_NOT_FOUND)
		return 0;
	if (rc)
		return rc;
	*exists = 1;
	core_buf_reset(&fr->tmp);
	if (core_buf_reserve(&fr->tmp, CORE_SIDECAR_MAX + 1)) {
		core_storage_reader_close(&fr->st, r);
		return core_fail(fr->run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
	}
	for (;;) {
		size_t got;
		rc = core_storage_read(&fr->st, r, fr->tmp.data + fr->tmp.len, CORE_SIDECAR_MAX + 1 - fr->tmp.len,
				       &got);
		if (rc || got == 0)
			break;
		fr->tmp.len += got;
		if (fr->tmp.len > CORE_SIDECAR_MAX)
			break;
	}
	core_storage_reader_close(&fr->st, r);
	if (rc)
		return rc;
	return fr->tmp.len == len && (len == 0 || memcmp(fr->tmp.data, want, len) == 0);
}

/* Write a small object whole: the sidecar. */
static int write_whole(struct core_files_restore *fr, const char *name, const void *data, size_t len,
		       int exists)
{
	void *w;
	int rc = exists ? core_storage_remove(&fr->st, name) : CAIRN_OK;
	if (!rc)
		rc = core_storage_writer_begin(&fr->st, name, &w);
	if (rc == CAIRN_E_EXISTS) /* appeared since: the storage door did not record it */
		rc = core_fail(fr->run, CORE_EXIT_STORAGE, rc);
	if (rc)
		return rc;
	rc = len ? core_storage_write(&fr->st, w, data, len) : CAIRN_OK;
	if (rc) {
		core_storage_abort(&fr->st, w);
		return rc;
	}
	rc = core_storage_commit(&fr->st, w);
	if (!rc)
		note_written(fr, name);
	return rc;
}

static int on_begin(void *ud, int fk, const struct core_file_head *h)
{
	struct core_files_restore *fr = ud;
	fr->fk = fk;
	fr->write_content = fr->write_sidecar = 0;
	fr->outcome = 0;
	if (!fr->chosen[fk])
		return CAIRN_OK;
	fr->n[fk][0]++;
	if (!fr->st.inst) {
		fr->not_restored++;
		return CAIRN_OK;
	}
	const char *tenant = fr->to_tenant ? fr->to_tenant : h->tenant;
	if (core_file_storage_name(tenant, h->path, &fr->name))
		return core_fail(fr->run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
	int exists, side_exists = 0;
	int same = same_content(fr, fr->name.data, h->size, h->hash, &exists);
	if (same < 0)
		return same;
	int same_side = 1;
	core_buf_reset(&fr->sidecar);
	if (h->has_sidecar) {
		struct core_buf side = CORE_BUF_INIT;
		if (core_buf_append(&side, fr->name.data, fr->name.len) || core_buf_append_str(&side, ".metadata")) {
			core_buf_free(&side);
			return core_fail(fr->run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
		}
		same_side = same_sidecar(fr, side.data, h->sidecar, h->sidecar_len, &side_exists);
		core_buf_free(&side);
		if (same_side < 0)
			return same_side;
		if (core_buf_append(&fr->sidecar, h->sidecar, h->sidecar_len))
			return core_fail(fr->run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
	}
	fr->outcome = !exists ? CAIRN_WRITE_NEW : same && same_side ? CAIRN_WRITE_UNCHANGED : CAIRN_WRITE_CHANGED;
	if (fr->dry_run || fr->outcome == CAIRN_WRITE_UNCHANGED)
		return CAIRN_OK;
	fr->write_content = !same;
	fr->write_sidecar = h->has_sidecar && !same_side ? 1 + side_exists : 0;
	if (!fr->write_content)
		return CAIRN_OK;
	int rc = exists ? core_storage_remove(&fr->st, fr->name.data) : CAIRN_OK;
	if (!rc)
		rc = core_storage_writer_begin(&fr->st, fr->name.data, &fr->writer);
	if (rc == CAIRN_E_EXISTS)
		rc = core_fail(fr->run, CORE_EXIT_STORAGE, rc);
	return rc;
}

static int on_data(void *ud, const void *buf, size_t len)
{
	struct core_files_restore *fr = ud;
	return fr->writer ? core_storage_write(&fr->st, fr->writer, buf, len) : CAIRN_OK;
}

static int on_end(void *ud)
{
	struct core_files_restore *fr = ud;
	int rc = CAIRN_OK;
	if (fr->writer) {
		rc = core_storage_commit(&fr->st, fr->writer);
		fr->writer = NULL; /* commit frees it whatever happens */
		if (!rc)
			note_written(fr, fr->name.data);
	}
	if (!rc && fr->write_sidecar) {
		size_t base = fr->name.len;
		if (core_buf_append_str(&fr->name, ".metadata"))
			return core_fail(fr->run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
		rc = write_whole(fr, fr->name.data, fr->sidecar.data, fr->sidecar.len, fr->write_sidecar == 2);
		fr->name.len = base;
		fr->name.data[base] = '\0';
	}
	if (!rc && fr->outcome)
		fr->n[fr->fk][fr->outcome]++;
	return rc;
}

int core_files_restore_begin(struct core_run *run, const struct core_manifest *m, int dry_run,
			     const char *to_tenant, struct core_files_restore *fr)
{
	memset(fr, 0, sizeof(*fr));
	fr->run = run;
	fr->dry_run = dry_run;
	fr->to_tenant = to_tenant;
	fr->ev = (struct core_file_events){.begin = on_begin, .data = on_data, .end = on_end, .ud = fr};
	int any = 0;
	for (size_t i = 0; i < m->n_files; i++)
		fr->in_backup[core_fkind_index(m->files[i])] = 1;
	for (int f = 0; f < CORE_FK_N; f++) {
		int named = run->resources && run->resources[run->kinds.n + (size_t)f] == 1;
		if (named && !fr->in_backup[f])
			return core_fail(run, CORE_EXIT_USAGE,
					 core_error_set(CAIRN_E_INVALID, "--resources: this backup holds no %s files%s",
							core_fkind_names[f],
							m->n_files ? "" : " (it was made without --internal-storage)"));
		fr->chosen[f] = fr->in_backup[f] && (!run->resources || named);
		any |= fr->chosen[f];
	}
	if (!any || !run->internal_storage_uri)
		return CAIRN_OK;
	return core_storage_open_with(run, run->internal_storage_uri, run->internal_opts,
				      run->n_internal_opts, &fr->st);
}

int core_files_restore_writes(const struct core_files_restore *fr)
{
	return fr->st.inst && !fr->dry_run;
}

void core_files_restore_report(struct core_files_restore *fr, json_t *o)
{
	char line[1024];
	size_t used = 0;
	int any = 0;
	used += (size_t)snprintf(line, sizeof(line), "[");
	for (int f = 0; f < CORE_FK_N && used < sizeof(line); f++)
		if (fr->chosen[f])
			used += (size_t)snprintf(line + used, sizeof(line) - used,
						 "%s%s: %" PRIu64 " new, %" PRIu64 " changed, %" PRIu64 " unchanged",
						 any++ ? ", " : "", core_fkind_names[f], fr->n[f][CAIRN_WRITE_NEW],
						 fr->n[f][CAIRN_WRITE_CHANGED], fr->n[f][CAIRN_WRITE_UNCHANGED]);
	if (used < sizeof(line))
		snprintf(line + used, sizeof(line) - used, "]");
	if (any && fr->st.inst)
		core_info("%s: %s", fr->dry_run ? "Files that would change" : "Files restored", line);
	if (fr->not_restored)
		core_warn("%" PRIu64 " file%s of the backup %s not restored: no internal storage given "
			  "(--internal-storage URI, CAIRN_INTERNAL_STORAGE or [internal-storage] uri)",
			  fr->not_restored, fr->not_restored == 1 ? "" : "s",
			  fr->not_restored == 1 ? "was" : "were");
	if (!o || !any)
		return;
	json_t *files = json_object();
	for (int f = 0; f < CORE_FK_N; f++)
		if (fr->chosen[f])
			json_object_set_new(files, core_fkind_names[f],
					    json_pack("{s:I, s:I, s:I, s:I}", "files", (json_int_t)fr->n[f][0],
						      "new", (json_int_t)fr->n[f][CAIRN_WRITE_NEW], "changed",
						      (json_int_t)fr->n[f][CAIRN_WRITE_CHANGED], "unchanged",
						      (json_int_t)fr->n[f][CAIRN_WRITE_UNCHANGED]));
	json_object_set_new(o, "files", files);
	json_object_set_new(o, "files_not_restored", json_integer((json_int_t)fr->not_restored));
}

void core_files_restore_failed(const struct core_files_restore *fr)
{
	if (!fr->written)
		return;
	char list[2400], nm[200];
	size_t used = 0;
	list[0] = '\0';
	for (uint64_t i = 0; i < fr->written && i < CORE_FILES_WRITTEN_SHOWN && used < sizeof(list); i++)
		if (fr->shown[i])
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s'%s'", i ? ", " : "",
						 shown(fr->shown[i], nm, sizeof(nm)));
	core_warn("%" PRIu64 " file%s of the internal storage %s written before the failure and stay%s: %s%s",
		  fr->written, fr->written == 1 ? "" : "s", fr->written == 1 ? "was" : "were",
		  fr->written == 1 ? "s" : "", list, fr->written > CORE_FILES_WRITTEN_SHOWN ? ", …" : "");
}

void core_files_restore_end(struct core_files_restore *fr)
{
	core_storage_abort(&fr->st, fr->writer);
	fr->writer = NULL;
	core_storage_close(&fr->st);
	core_buf_free(&fr->name);
	core_buf_free(&fr->sidecar);
	core_buf_free(&fr->tmp);
	for (size_t i = 0; i < CORE_FILES_WRITTEN_SHOWN; i++)
		free(fr->shown[i]);
	memset(fr->shown, 0, sizeof(fr->shown));
}
