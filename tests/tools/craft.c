/*
 * craft.c — rewrites a backup into a deliberately malformed one, for the
 * bad-input tests. It re-packs the entries of an archive (opened with
 * CAIRN_ENCRYPTION_KEY, or unencrypted) into a new unencrypted archive,
 * applying one change:
 *   craft IN OUT add NAME          add an empty entry NAME after the manifest
 *   craft IN OUT rename OLD NEW    rename entry OLD
 *   craft IN OUT format N          set the manifest's format version to N
 *   craft IN OUT drop NAME         leave entry NAME out
 * Byte-level damage (flips, truncation, magic, length fields) is done by the
 * shell tests themselves; this tool makes damage that passes authentication.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "buf.h"
#include "cairn/status.h"
#include "container.h"
#include "envelope.h"
#include "error.h"
#include "keys.h"
#include "record.h"

static int file_sink(void *ud, const void *buf, size_t len)
{
	return fwrite(buf, 1, len, ud) == len ? 0 : CAIRN_E_IO;
}

static int file_source(void *ud, void *buf, size_t cap, size_t *got)
{
	*got = fread(buf, 1, cap, ud);
	return ferror((FILE *)ud) ? CAIRN_E_IO : 0;
}

static int die(const char *what)
{
	fprintf(stderr, "craft: %s: %s\n", what, core_error_message());
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: craft IN OUT add|rename|format|drop ARG [ARG]\n");
		return 2;
	}
	const char *op = argv[3];
	FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
	if (!in || !out)
		return die("open");
	unsigned char key[64];
	size_t key_len = 0;
	const char *b64 = getenv("CAIRN_ENCRYPTION_KEY");
	if (b64 && core_key_decode_instance(b64, key, sizeof(key), &key_len))
		return die("key");
	struct core_keyring rk = {.instance_key = key_len ? key : NULL, .instance_key_len = key_len};
	struct core_keyring wk = {.no_encryption = 1};
	struct core_env_reader *er;
	struct core_archive_reader *ar;
	struct core_env_writer *ew;
	struct core_archive_writer *aw;
	if (core_env_reader_new(&rk, file_source, in, &er) || core_archive_reader_new(er, &ar))
		return die("read");
	if (core_env_writer_new(&wk, file_sink, out, &ew) || core_archive_writer_new(ew, &aw))
		return die("write");
	const char *name;
	const void *data;
	size_t len;
	int n;
	while ((n = core_archive_next(ar, &name, &data, &len)) == 1) {
		if (strcmp(op, "drop") == 0 && strcmp(name, argv[4]) == 0)
			continue;
		if (strcmp(op, "rename") == 0 && argc > 5 && strcmp(name, argv[4]) == 0)
			name = argv[5];
		if (strcmp(op, "format") == 0 && strcmp(name, "manifest.msgpack") == 0) {
			struct core_manifest m;
			/* a newer format must still be written: patch the decoded copy */
			if (core_manifest_unpack(data, len, &m))
				return die("manifest");
			m.format = atoi(argv[4]);
			struct core_buf b = CORE_BUF_INIT;
			core_manifest_pack(&m, &b);
			if (core_archive_put(aw, name, b.data, b.len))
				return die("put");
			core_buf_free(&b);
			core_manifest_free(&m);
			continue;
		}
		if (core_archive_put(aw, name, data, len))
			return die("put");
		if (strcmp(op, "add") == 0 && strcmp(name, "manifest.msgpack") == 0 &&
		    core_archive_put(aw, argv[4], "", 0))
			return die("put");
	}
	if (n < 0)
		return die("read");
	if (core_archive_writer_finish(aw))
		return die("finish");
	core_archive_writer_free(aw);
	core_env_writer_free(ew);
	core_archive_reader_free(ar);
	core_env_reader_free(er);
	fclose(in);
	return fclose(out) ? 1 : 0;
}
