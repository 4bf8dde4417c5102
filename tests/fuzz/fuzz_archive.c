/*
 * fuzz_archive.c — libFuzzer target: the input is a whole backup file, read
 * in memory through the path a restore uses (backup_read.c core_backup_open /
 * core_backup_next, then retenant.c): envelope -> tar+zstd -> manifest, record chunks
 * (JSON columns through the codec), summary.
 *
 * The keyring holds only a fixed instance key (32 bytes of 0x42), so both
 * PLAIN-slot archives and archives with an instance slot for that key open;
 * make_corpus writes seeds of both kinds.
 *
 * fuzz_inner.c includes this file with FUZZ_ARCHIVE_NO_MAIN defined to reuse
 * fuzz_read_backup().
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/status.h"
#include "container.h"
#include "backup_read.h"
#include "retenant.h"
#include "envelope.h"
#include "error.h"
#include "record.h"

#define FUZZ_INSTANCE_KEY_BYTE 0x42
#define FUZZ_INSTANCE_KEY_LEN 32

struct fuzz_src {
	const uint8_t *data;
	size_t len, off;
};

/* Hands out at most 4097 bytes per call so short reads are exercised. */
static int fuzz_source(void *ud, void *buf, size_t cap, size_t *got)
{
	struct fuzz_src *s = ud;
	size_t n = s->len - s->off;
	if (n > cap)
		n = cap;
	if (n > 4097)
		n = 4097;
	if (n)
		memcpy(buf, s->data + s->off, n);
	s->off += n;
	*got = n;
	return 0;
}

/* Touch every byte of a decoded record so ASan checks the lengths. */
static volatile unsigned fuzz_sink_byte;

static void fuzz_touch(const void *p, size_t len)
{
	const unsigned char *c = p;
	unsigned acc = 0;
	for (size_t i = 0; i < len; i++)
		acc += c[i];
	fuzz_sink_byte += acc;
}

static void fuzz_touch_record(const struct cairn_record *rec)
{
	if (rec->key)
		fuzz_touch(rec->key, strlen(rec->key));
	if (rec->tenant)
		fuzz_touch(rec->tenant, strlen(rec->tenant));
	for (size_t i = 0; i < rec->n_columns; i++) {
		const struct cairn_column *c = &rec->columns[i];
		if (c->name)
			fuzz_touch(c->name, strlen(c->name));
		if (c->data)
			fuzz_touch(c->data, c->len);
	}
}

/* Read a whole backup from data[0..size); returns 0 when it is valid. */
static int fuzz_read_backup(const uint8_t *data, size_t size)
{
	unsigned char key[FUZZ_INSTANCE_KEY_LEN];
	memset(key, FUZZ_INSTANCE_KEY_BYTE, sizeof(key));
	struct core_keyring kr;
	memset(&kr, 0, sizeof(kr));
	kr.instance_key = key;
	kr.instance_key_len = sizeof(key);

	struct fuzz_src src = {data, size, 0};
	struct core_env_reader *env = NULL;
	struct core_archive_reader *ar = NULL;
	struct core_manifest m;
	int have_manifest = 0;
	uint64_t *counts = NULL;
	core_error_clear();

	int rc = core_env_reader_new(&kr, fuzz_source, &src, &env);
	if (rc)
		goto out;
	struct core_env_info info;
	core_env_reader_info(env, &info);
	rc = core_archive_reader_new(env, &ar);
	if (rc)
		goto out;

	const char *name;
	const void *edata;
	size_t elen;
	int n = core_archive_next(ar, &name, &edata, &elen);
	if (n <= 0 || strcmp(name, "manifest.msgpack") != 0) {
		rc = n < 0 ? n : CAIRN_E_CORRUPT;
		goto out;
	}
	memset(&m, 0, sizeof(m));
	rc = core_manifest_unpack(edata, elen, &m);
	if (rc)
		goto out;
	have_manifest = 1;
	counts = calloc(m.n_kinds + 1, sizeof(*counts));
	if (!counts) {
		rc = CAIRN_E_NOMEM;
		goto out;
	}

	int seen_summary = 0;
	while ((n = core_archive_next(ar, &name, &edata, &elen)) == 1) {
		if (seen_summary) {
			rc = CAIRN_E_CORRUPT;
			goto out;
		}
		if (strcmp(name, "summary.msgpack") == 0) {
			rc = core_summary_unpack(edata, elen, m.kinds, m.n_kinds, counts);
			if (rc)
				goto out;
			seen_summary = 1;
			continue;
		}
		char kind[80];
		if (strncmp(name, "records/", 8) != 0) {
			rc = CAIRN_E_CORRUPT;
			goto out;
		}
		/* the restore refuses unknown names; the fuzzer decodes anyway */
		(void)core_chunk_name_kind(name, kind, sizeof(kind));
		struct core_chunk_iter it;
		core_chunk_iter_init(&it, edata, elen);
		it.kind = kind;
		if (strcmp(m.type, "TENANT") == 0) { /* the scope checks restore and verify run */
			it.scoped = 1;
			it.scope_tenant = m.tenant;
		}
		struct core_retenant rt; /* --to-tenant, the restore pipe's next step */
		core_retenant_init(&rt, m.tenant ? m.tenant : "", "fuzz-tenant");
		const struct cairn_record *rec;
		int r;
		while ((r = core_chunk_next(&it, &rec)) == 1) {
			fuzz_touch_record(rec);
			if (m.tenant && core_retenant_apply(&rt, rec, &rec) == CAIRN_OK)
				fuzz_touch_record(rec);
		}
		core_chunk_iter_free(&it);
		core_retenant_free(&rt);
		if (r < 0) {
			rc = r;
			goto out;
		}
	}
	rc = n < 0 ? n : (seen_summary ? 0 : CAIRN_E_CORRUPT);
out:
	free(counts);
	if (have_manifest)
		core_manifest_free(&m);
	core_archive_reader_free(ar);
	core_env_reader_free(env);
	return rc;
}

#ifndef FUZZ_ARCHIVE_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)fuzz_read_backup(data, size);
	return 0;
}
#endif
