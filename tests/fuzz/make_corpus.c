/*
 * make_corpus.c — writes seed corpora for the fuzz targets, built with the
 * real writer APIs so the seeds are exactly what cairn writes.
 *
 *   make_corpus DIR   creates DIR/archive (whole backups: PLAIN slot and
 *                     instance slot for the fuzzers' key, 32 x 0x42, in
 *                     envelope versions 2 and 1, one with a recipient slot
 *                     besides),
 *                     DIR/inner (the plaintext tar+zstd streams of those
 *                     backups, for fuzz_inner) and DIR/codec (JSON and
 *                     msgpack values, for fuzz_codec).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>
#include <sodium.h>

#include "buf.h"
#include "cairn/status.h"
#include "codec.h"
#include "container.h"
#include "envelope.h"
#include "error.h"
#include "record.h"

static const char *outdir;

static void die(const char *what, int rc)
{
	fprintf(stderr, "make_corpus: %s failed (%d): %s\n", what, rc, core_error_message());
	exit(1);
}

static void mkdir_p(const char *path)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
}

static void write_file(const char *sub, const char *name, const void *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, sub, name);
	FILE *f = fopen(path, "wb");
	if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static int sink(void *ud, const void *buf, size_t len)
{
	return core_buf_append(ud, buf, len);
}

struct mem_src {
	const struct core_buf *b;
	size_t off;
};

static int source(void *ud, void *buf, size_t cap, size_t *got)
{
	struct mem_src *s = ud;
	size_t n = s->b->len - s->off;
	if (n > cap)
		n = cap;
	memcpy(buf, s->b->data + s->off, n);
	s->off += n;
	*got = n;
	return 0;
}

/* Entries of the backup being made, kept for the uncompressed tar seed. */
static struct {
	char name[64];
	struct core_buf data;
} entries[8];
static size_t n_entries;

static void put(struct core_archive_writer *aw, const char *name, const struct core_buf *b)
{
	int rc = core_archive_put(aw, name, b->data, b->len);
	if (rc)
		die(name, rc);
	snprintf(entries[n_entries].name, sizeof(entries[n_entries].name), "%s", name);
	entries[n_entries].data = (struct core_buf)CORE_BUF_INIT;
	if (core_buf_append(&entries[n_entries].data, b->data, b->len))
		die("core_buf_append", CAIRN_E_NOMEM);
	n_entries++;
}

/*
 * The same entries as an uncompressed pax tar (the reader accepts tar with
 * or without zstd): mutations of it reach the tar and msgpack parsers far
 * more often than mutations of a zstd frame do.
 */
static void write_plain_tar(const char *name)
{
	struct archive *a = archive_write_new();
	size_t used = 0;
	static char buf[1 << 20];
	if (!a || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_open_memory(a, buf, sizeof(buf), &used) != ARCHIVE_OK)
		die("archive_write_open_memory", CAIRN_E_IO);
	for (size_t i = 0; i < n_entries; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, entries[i].name);
		archive_entry_set_size(e, (la_int64_t)entries[i].data.len);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0600);
		archive_entry_set_mtime(e, 1726590792, 0);
		if (archive_write_header(a, e) != ARCHIVE_OK ||
		    archive_write_data(a, entries[i].data.data, entries[i].data.len) !=
			    (la_ssize_t)entries[i].data.len)
			die("tar entry", CAIRN_E_IO);
		archive_entry_free(e);
		core_buf_free(&entries[i].data);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		die("archive_write_close", CAIRN_E_IO);
	archive_write_free(a);
	n_entries = 0;
	write_file("inner", name, buf, used);
}

static void pack_record(msgpack_packer *pk, const char *key, const char *tenant, const char *json,
			const char *text)
{
	struct cairn_column cols[4] = {
		{"id", CAIRN_COL_TEXT, key, strlen(key)},
		{"value", CAIRN_COL_JSON, json, strlen(json)},
		{"source_code", text ? CAIRN_COL_TEXT : CAIRN_COL_NULL, text, text ? strlen(text) : 0},
		{"deleted", CAIRN_COL_BOOL, "false", 5},
	};
	struct cairn_record rec = {sizeof(rec), key, tenant, 4, cols};
	int rc = core_record_pack(pk, &rec);
	if (rc)
		die("core_record_pack", rc);
}

/*
 * One backup: manifest, two record chunks with JSON values, summary. The
 * envelope goes to *env_out, the inner tar+zstd stream to *inner_out.
 */
static void make_backup(unsigned version, const struct core_keyring *kr, const char *tenant,
			struct core_buf *env_out, struct core_buf *inner_out)
{
	struct core_env_writer *ew;
	int rc = core_env_writer_new_version(version, kr, sink, env_out, &ew);
	if (rc)
		die("core_env_writer_new", rc);
	struct core_archive_writer *aw;
	rc = core_archive_writer_new(ew, 0, &aw);
	if (rc)
		die("core_archive_writer_new", rc);

	char *kinds[] = {"FLOWS", "SETTINGS"};
	struct core_manifest m = {
		.format = CORE_FORMAT_VERSION,
		.tool_version = "0.1.0",
		.type = tenant ? "TENANT" : "FULL",
		.tenant = (char *)tenant,
		.created_at = "2024-09-17T16:33:12.700099123Z",
		.source_plugin = "postgresql",
		.source_backend = "postgresql 15.4",
		.schema_version = "1.0.3",
		.kinds = kinds,
		.n_kinds = 2,
	};
	struct core_buf b = CORE_BUF_INIT;
	if ((rc = core_manifest_pack(&m, &b)))
		die("core_manifest_pack", rc);
	put(aw, "manifest.msgpack", &b);

	msgpack_packer pk;
	core_buf_reset(&b);
	core_packer_init(&pk, &b);
	pack_record(&pk, "main_hello", tenant ? tenant : "main",
		    "{\"id\":\"hello\",\"namespace\":\"company.team\",\"revision\":3,"
		    "\"tasks\":[{\"id\":\"t1\",\"type\":\"io.kestra.Log\",\"message\":\"hi \\\"you\\\"\\n\"}],"
		    "\"ratio\":1.10,\"big\":100000000000000000000,\"neg\":-0,\"f\":1.5e-7,"
		    "\"deleted\":false,\"labels\":null,\"u\":\"\\u0000\\u001f\xc3\xa9\xf0\x9f\x98\x80\"}",
		    "id: hello\nnamespace: company.team\n");
	pack_record(&pk, "main_empty", tenant ? tenant : "main", "[]", NULL);
	put(aw, "records/FLOWS/000001.msgpack", &b);

	core_buf_reset(&b);
	core_packer_init(&pk, &b);
	pack_record(&pk, "instance", NULL, "{\"a\":[1,-2,3.25,true,{\"b\":{}}],\"a\":\"dup\"}", NULL);
	put(aw, "records/SETTINGS/000002.msgpack", &b);

	core_buf_reset(&b);
	uint64_t counts[2] = {2, 1};
	if ((rc = core_summary_pack(kinds, counts, 2, &b)))
		die("core_summary_pack", rc);
	put(aw, "summary.msgpack", &b);
	core_buf_free(&b);

	if ((rc = core_archive_writer_finish(aw)))
		die("core_archive_writer_finish", rc);
	core_archive_writer_free(aw);
	core_env_writer_free(ew);

	/* read the envelope back to get the inner stream */
	struct core_keyring rk = *kr;
	rk.no_encryption = 0;
	struct mem_src src = {env_out, 0};
	struct core_env_reader *er;
	if ((rc = core_env_reader_new(&rk, source, &src, &er)))
		die("core_env_reader_new", rc);
	char buf[65536];
	size_t got;
	do {
		if ((rc = core_env_read(er, buf, sizeof(buf), &got)))
			die("core_env_read", rc);
		if (core_buf_append(inner_out, buf, got))
			die("core_buf_append", CAIRN_E_NOMEM);
	} while (got);
	core_env_reader_free(er);
}

static void write_codec_seeds(void)
{
	static const char *const json[] = {
		"{\"id\":\"hello\",\"tasks\":[{\"id\":\"t1\",\"n\":1}],\"ok\":true,\"x\":null}",
		"[1,-1,0,-0,1.5,1.10,1e400,1E5,-1.5e-7,18446744073709551615,-9223372036854775808]",
		"\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0000 \\u00e9 \\ud83d\\ude00\"",
		" { \"a\" : [ ] , \"a\" : { } } ",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
		"100000000000000000000",
		"0.1",
	};
	char name[32];
	for (size_t i = 0; i < sizeof(json) / sizeof(json[0]); i++) {
		snprintf(name, sizeof(name), "json%02zu", i);
		write_file("codec", name, json[i], strlen(json[i]));
		/* and the msgpack the codec makes of it */
		struct core_buf b = CORE_BUF_INIT;
		msgpack_packer pk;
		core_packer_init(&pk, &b);
		if (core_json_to_msgpack(json[i], strlen(json[i]), &pk) == CAIRN_OK) {
			snprintf(name, sizeof(name), "msgpack%02zu", i);
			write_file("codec", name, b.data, b.len);
		}
		core_buf_free(&b);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_corpus DIR\n");
		return 2;
	}
	outdir = argv[1];
	char path[4096];
	mkdir_p(outdir);
	static const char *const subs[] = {"archive", "inner", "codec"};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", outdir, subs[i]);
		mkdir_p(path);
	}

	if (sodium_init() < 0)
		die("sodium_init", CAIRN_E_GENERIC);
	unsigned char key[32];
	memset(key, 0x42, sizeof(key));
	/* a recipient nobody opens: the fuzzers' key opens the instance slot after it */
	unsigned char recipient[1][32], unused_sk[32];
	crypto_box_keypair(recipient[0], unused_sk);
	struct {
		const char *name;
		int plain;
		const char *tenant;
		unsigned version;
		int with_recipient;
	} seeds[] = {
		{"plain_full", 1, NULL, CORE_ENV_VERSION, 0},
		{"plain_tenant", 1, "acme", CORE_ENV_VERSION, 0},
		{"instance_full", 0, NULL, CORE_ENV_VERSION, 0},
		{"instance_tenant", 0, "acme", CORE_ENV_VERSION, 0},
		{"instance_recipient_full", 0, NULL, CORE_ENV_VERSION, 1},
		{"plain_full_v1", 1, NULL, 1, 0},
		{"instance_tenant_v1", 0, "acme", 1, 1},
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		struct core_keyring kr;
		memset(&kr, 0, sizeof(kr));
		if (seeds[i].plain) {
			kr.no_encryption = 1;
		} else {
			kr.instance_key = key;
			kr.instance_key_len = sizeof(key);
		}
		if (seeds[i].with_recipient) {
			kr.recipients = (const unsigned char(*)[32])recipient;
			kr.n_recipients = 1;
		}
		struct core_buf env = CORE_BUF_INIT, inner = CORE_BUF_INIT;
		make_backup(seeds[i].version, &kr, seeds[i].tenant, &env, &inner);
		write_file("archive", seeds[i].name, env.data, env.len);
		if (seeds[i].plain && seeds[i].version == CORE_ENV_VERSION) {
			/* the inner streams of the other seeds are alike */
			char tar[64];
			write_file("inner", seeds[i].name, inner.data, inner.len);
			snprintf(tar, sizeof(tar), "%s.tar", seeds[i].name);
			write_plain_tar(tar);
		}
		for (size_t j = 0; j < n_entries; j++)
			core_buf_free(&entries[j].data);
		n_entries = 0;
		core_buf_free(&env);
		core_buf_free(&inner);
	}
	write_codec_seeds();
	return 0;
}
