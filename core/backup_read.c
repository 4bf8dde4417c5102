/* backup_read.c — see backup_read.h. */
#define _POSIX_C_SOURCE 200809L
#include "backup_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container.h"
#include "envelope.h"
#include "error.h"
#include "plugin_host.h"
#include "run.h"
#include "uri.h"

static void watch_files(struct core_opened *o);

static int storage_source(void *ud, void *buf, size_t cap, size_t *got)
{
	struct core_opened *o = ud;
	return core_storage_read(&o->st, o->reader, buf, cap, got);
}

/* Opening: a bad key or header is the key's class, damage the archive's. */
int core_backup_open_fail(struct core_run *run, int rc)
{
	switch (rc) {
	case CAIRN_E_AUTH:
	case CAIRN_E_INVALID:
		return core_fail(run, CORE_EXIT_KEY, rc);
	case CAIRN_E_CORRUPT:
	case CAIRN_E_UNSUPPORTED:
		return core_fail(run, CORE_EXIT_CORRUPT, rc);
	case CAIRN_E_NOMEM:
		return core_fail(run, CORE_EXIT_FAILURE, rc);
	default:
		return core_fail(run, CORE_EXIT_STORAGE, rc);
	}
}

/* Reading on: past the header, a bad message is damage, not a key. */
static int read_fail(struct core_run *run, int rc)
{
	if (rc == CAIRN_E_NOMEM)
		return core_fail(run, CORE_EXIT_FAILURE, rc);
	if (rc == CAIRN_E_CORRUPT || rc == CAIRN_E_UNSUPPORTED)
		return core_fail(run, CORE_EXIT_CORRUPT, rc);
	return core_fail(run, CORE_EXIT_STORAGE, rc);
}

/* "archive is corrupted: <what>" naming an entry (or nothing). */
static int corrupt(struct core_opened *o, const char *what, const char *entry)
{
	return core_fail(o->run, CORE_EXIT_CORRUPT,
			 core_error_set(CAIRN_E_CORRUPT, "archive is corrupted: %s%s%s%s", what,
					entry ? " '" : "", entry ? entry : "", entry ? "'" : ""));
}

int core_backup_open(struct core_run *run, const char *uri, struct core_opened *o)
{
	struct core_keyring kr;
	core_run_keyring(run, &kr);
	return core_backup_open_with(run, uri, &kr, o);
}

int core_backup_open_with(struct core_run *run, const char *uri, const struct core_keyring *kr,
			  struct core_opened *o)
{
	memset(o, 0, sizeof(*o));
	o->run = run;
	char *location = NULL, *name = NULL;
	int rc = core_uri_split(run, uri, &location, &name);
	if (rc)
		return rc;
	rc = core_storage_open(run, location, &o->st);
	if (!rc)
		rc = core_storage_reader_open(&o->st, name, &o->reader);
	if (rc)
		goto out;
	rc = core_env_reader_new(kr, storage_source, o, &o->env);
	if (rc) {
		o->env = NULL;
		core_backup_open_fail(run, rc);
		goto out;
	}
	struct core_env_info ei;
	core_env_reader_info(o->env, &ei);
	if ((!ei.encrypted || ei.opened_by == CORE_ENV_SLOT_PLAIN) && !run->allow_unencrypted &&
	    (run->instance_key_len || run->passphrase || run->n_identities)) {
		rc = core_fail(run, CORE_EXIT_KEY,
			       core_error_set(CAIRN_E_AUTH,
					      "'%s' is not encrypted, but keys are configured: anyone who can "
					      "write to the storage could have planted it; give "
					      "--allow-unencrypted to read it anyway", name));
		goto out;
	}
	rc = core_archive_reader_new(o->env, &o->ar);
	if (rc) {
		o->ar = NULL;
		core_backup_open_fail(run, rc);
		goto out;
	}
	const char *ename;
	const void *data;
	size_t len;
	rc = core_archive_next(o->ar, &ename, &data, &len);
	if (rc == 0 || (rc == 1 && strcmp(ename, "manifest.msgpack") != 0)) {
		rc = core_error_set(CAIRN_E_CORRUPT, "archive is corrupted: it does not start with a manifest");
	} else if (rc == 1) {
		o->manifest = calloc(1, sizeof(*o->manifest));
		rc = o->manifest ? core_manifest_unpack(data, len, o->manifest) : CAIRN_E_NOMEM;
		if (rc) {
			free(o->manifest);
			o->manifest = NULL;
		}
	}
	if (!rc) {
		o->counts = calloc(o->manifest->n_kinds + 1, sizeof(*o->counts));
		o->expected = calloc(o->manifest->n_kinds + 1, sizeof(*o->expected));
		o->files_expected = calloc(o->manifest->n_files + 1, sizeof(*o->files_expected));
		o->bytes_expected = calloc(o->manifest->n_files + 1, sizeof(*o->bytes_expected));
		if (!o->counts || !o->expected || !o->files_expected || !o->bytes_expected)
			rc = CAIRN_E_NOMEM;
	}
	if (!rc)
		watch_files(o);
	if (rc)
		core_backup_open_fail(run, rc);
out:
	free(location);
	free(name);
	return rc;
}

/* The file reader follows the manifest: its file kinds, and a TENANT backup's tenant. */
static void watch_files(struct core_opened *o)
{
	const struct core_manifest *m = o->manifest;
	core_file_in_init(&o->fin);
	o->fin.kinds = m->files;
	o->fin.n_kinds = m->n_files;
	for (size_t i = 0; i < m->n_files; i++)
		o->fin.fk[i] = core_fkind_index(m->files[i]); /* known: core_manifest_unpack */
	if (strcmp(m->type, "TENANT") == 0) {
		o->fin.scoped = 1;
		o->fin.scope_tenant = m->tenant;
	}
}

void core_backup_watch(struct core_opened *o, const struct core_file_events *ev,
		       struct core_orphans *orphans)
{
	o->fin.ev = ev;
	o->fin.orphans = orphans;
}

/* The end: a summary was read and every count matches it. */
static int check_end(struct core_opened *o)
{
	const struct core_manifest *m = o->manifest;
	if (!o->seen_summary)
		return corrupt(o, "no summary", NULL);
	for (size_t i = 0; i < m->n_files; i++)
		if (o->fin.files[i] != o->files_expected[i] || o->fin.bytes[i] != o->bytes_expected[i])
			return core_fail(o->run, CORE_EXIT_CORRUPT,
					 core_error_set(CAIRN_E_CORRUPT,
							"archive is corrupted: summary says %llu %s files of %llu "
							"bytes, %llu of %llu bytes read",
							(unsigned long long)o->files_expected[i], m->files[i],
							(unsigned long long)o->bytes_expected[i],
							(unsigned long long)o->fin.files[i],
							(unsigned long long)o->fin.bytes[i]));
	for (size_t i = 0; i < m->n_kinds; i++)
		if (o->counts[i] != o->expected[i])
			return core_fail(o->run, CORE_EXIT_CORRUPT,
					 core_error_set(CAIRN_E_CORRUPT,
							"archive is corrupted: summary says %llu %s records, %llu read",
							(unsigned long long)o->expected[i], m->kinds[i],
							(unsigned long long)o->counts[i]));
	o->done = 1;
	return 0;
}

/* Move to the next record chunk: 1, 0 at the end of the archive, <0. */
static int next_chunk(struct core_opened *o)
{
	const struct core_manifest *m = o->manifest;
	for (;;) {
		const char *name;
		const void *data;
		size_t len;
		int n = core_archive_next(o->ar, &name, &data, &len);
		if (n < 0)
			return read_fail(o->run, n);
		if (n == 0)
			return 0;
		if (o->seen_summary)
			return corrupt(o, "entry after the summary", name);
		if (strcmp(name, "summary.msgpack") == 0) {
			int rc = core_summary_unpack(data, len, m->kinds, m->n_kinds, o->expected);
			if (!rc)
				rc = core_summary_unpack_files(data, len, m->files, m->n_files,
							       o->files_expected, o->bytes_expected);
			if (!rc)
				rc = core_file_in_finish(&o->fin);
			if (rc)
				return core_fail(o->run, CORE_EXIT_CORRUPT, rc);
			o->seen_summary = 1;
			continue;
		}
		int f = core_file_in_entry(&o->fin, name, data, len);
		if (f < 0)
			return o->run->exit_class ? f : read_fail(o->run, f); /* a hook's failure has its class */
		if (f == 1)
			continue;
		if (o->fin.num) /* files come after every record */
			return corrupt(o, "records after the files:", name);
		char kind[80];
		size_t ki = m->n_kinds;
		if (core_chunk_name_kind(name, kind, sizeof(kind)) == 0)
			for (size_t i = 0; i < m->n_kinds; i++)
				if (strcmp(m->kinds[i], kind) == 0)
					ki = i;
		if (ki == m->n_kinds)
			return corrupt(o, "unexpected entry", name);
		core_chunk_iter_init(&o->it, data, len);
		o->it.kind = m->kinds[ki];
		if (strcmp(m->type, "TENANT") == 0) {
			o->it.scoped = 1;
			o->it.scope_tenant = m->tenant;
		}
		o->in_chunk = 1;
		o->ki = ki;
		return 1;
	}
}

int core_backup_next(struct core_opened *o, size_t *kind_index, const struct cairn_record **rec)
{
	if (o->done)
		return 0;
	for (;;) {
		if (!o->in_chunk) {
			int n = next_chunk(o);
			if (n <= 0)
				return n < 0 ? n : check_end(o);
		}
		if (core_cancelled())
			return core_fail(o->run, CORE_EXIT_CANCELLED,
					 core_error_set(CAIRN_E_CANCELLED, "cancelled by signal"));
		int r = core_chunk_next(&o->it, rec);
		if (r == 1) {
			o->counts[o->ki]++;
			*kind_index = o->ki;
			if (o->fin.orphans &&
			    (r = core_orphans_note_record(o->fin.orphans, o->manifest->kinds[o->ki], *rec)))
				return core_fail(o->run, CORE_EXIT_FAILURE, r);
			return 1;
		}
		core_chunk_iter_free(&o->it);
		o->in_chunk = 0;
		if (r < 0)
			return read_fail(o->run, r);
	}
}

void core_backup_close(struct core_opened *o)
{
	if (o->in_chunk)
		core_chunk_iter_free(&o->it);
	if (o->manifest) {
		core_manifest_free(o->manifest);
		free(o->manifest);
	}
	free(o->counts);
	free(o->expected);
	free(o->files_expected);
	free(o->bytes_expected);
	core_file_in_free(&o->fin);
	core_archive_reader_free(o->ar);
	core_env_reader_free(o->env);
	if (o->st.inst)
		core_storage_reader_close(&o->st, o->reader);
	core_storage_close(&o->st);
	memset(o, 0, sizeof(*o));
}

int core_chunk_name_kind(const char *name, char *kind, size_t cap)
{
	if (strncmp(name, "records/", 8) != 0)
		return -1;
	const char *k = name + 8, *slash = strchr(k, '/');
	if (!slash || (size_t)(slash - k) >= cap)
		return -1;
	memcpy(kind, k, (size_t)(slash - k));
	kind[slash - k] = '\0';
	const char *file = slash + 1;
	if (strlen(file) != 14 || strcmp(file + 6, ".msgpack") != 0)
		return -1;
	for (int i = 0; i < 6; i++)
		if (file[i] < '0' || file[i] > '9')
			return -1;
	return core_kind_name_valid(kind) ? 0 : -1;
}
