/*
 * craft.c — rewrites a backup into a deliberately malformed or hostile one,
 * for the bad-input tests. It re-packs the entries of an archive (opened
 * with CAIRN_ENCRYPTION_KEY, or unencrypted) into a new archive, applying
 * one change:
 *   craft IN OUT add NAME          add an empty entry NAME after the manifest
 *   craft IN OUT rename OLD NEW    rename entry OLD
 *   craft IN OUT format N          set the manifest's format version to N
 *   craft IN OUT drop NAME         leave entry NAME out
 *   craft IN OUT manifest F V      set manifest field F (type, tenant) to V;
 *                                  V "-" is nil
 *   craft IN OUT addrec KIND JSON  append one record of KIND (added to the
 *                                  manifest's kinds when absent) and count it
 *                                  in the summary, so the archive stays
 *                                  consistent and only its content is hostile
 *   craft IN OUT envelope N        write envelope version N (1: as cairn wrote
 *                                  backups before format 2), entries unchanged
 * JSON is {"key": K, "tenant": T|null, "columns": [[NAME, TYPE, VALUE]…]}
 * with TYPE the cairn_column_type number; VALUE is any JSON for a JSON
 * column, null for NULL, else a string or {"hex": "…"} for raw bytes
 * (invalid UTF-8, NUL).
 *
 * The output is encrypted with CAIRN_ENCRYPTION_KEY when it is set (an
 * *authentic* archive: what an attacker holding the key, or Cairn itself,
 * could write), unencrypted otherwise or with CRAFT_PLAIN=1. Byte-level
 * damage (flips, truncation, magic, length fields) is done by the shell
 * tests themselves; this tool makes damage that passes authentication.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
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

_Noreturn static void die(const char *what)
{
	fprintf(stderr, "craft: %s: %s\n", what, core_error_message());
	exit(1);
}

static char *dup_or_nil(const char *v)
{
	return strcmp(v, "-") == 0 ? NULL : strdup(v);
}

/* The bytes of a column VALUE: a string, or {"hex": "…"}; *out is malloc'd. */
static void value_bytes(json_t *v, char **out, size_t *len)
{
	if (json_is_string(v)) {
		*len = json_string_length(v);
		*out = malloc(*len + 1);
		memcpy(*out, json_string_value(v), *len + 1);
		return;
	}
	const char *hex = json_string_value(json_object_get(v, "hex"));
	if (!hex) {
		fprintf(stderr, "craft: a column value must be a string or {\"hex\": …}\n");
		exit(2);
	}
	*len = strlen(hex) / 2;
	*out = malloc(*len + 1);
	for (size_t i = 0; i < *len; i++) {
		unsigned b;
		sscanf(hex + 2 * i, "%2x", &b);
		(*out)[i] = (char)b;
	}
	(*out)[*len] = '\0';
}

/* One record from its JSON description, packed as a chunk of one. */
static void pack_record(const char *text, struct core_buf *chunk)
{
	json_error_t err;
	json_t *j = json_loads(text, 0, &err);
	json_t *cols = j ? json_object_get(j, "columns") : NULL;
	if (!j || !json_is_string(json_object_get(j, "key")) || !json_is_array(cols)) {
		fprintf(stderr, "craft: bad record JSON: %s\n", j ? "needs key and columns" : err.text);
		exit(2);
	}
	size_t n = json_array_size(cols);
	struct cairn_column *c = calloc(n + 1, sizeof(*c));
	char **owned = calloc(n + 1, sizeof(*owned));
	for (size_t i = 0; i < n; i++) {
		json_t *col = json_array_get(cols, i);
		c[i].name = json_string_value(json_array_get(col, 0));
		c[i].type = (uint32_t)json_integer_value(json_array_get(col, 1));
		json_t *v = json_array_get(col, 2);
		if (!c[i].name) {
			fprintf(stderr, "craft: column %zu has no name\n", i);
			exit(2);
		}
		if (c[i].type == CAIRN_COL_NULL)
			continue;
		if (c[i].type == CAIRN_COL_JSON) {
			owned[i] = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
			c[i].len = strlen(owned[i]);
		} else {
			value_bytes(v, &owned[i], &c[i].len);
		}
		c[i].data = owned[i];
	}
	json_t *tenant = json_object_get(j, "tenant");
	struct cairn_record rec = {
		.struct_size = sizeof(rec),
		.key = json_string_value(json_object_get(j, "key")),
		.tenant = json_is_string(tenant) ? json_string_value(tenant) : NULL,
		.n_columns = n,
		.columns = c,
	};
	msgpack_packer pk;
	core_packer_init(&pk, chunk);
	if (core_record_pack(&pk, &rec))
		die("pack record");
	for (size_t i = 0; i < n; i++)
		free(owned[i]);
	free(owned);
	free(c);
	json_decref(j);
}

/* The manifest, patched for `manifest` and `addrec`. */
static void patch_manifest(struct core_archive_writer *aw, const char *name, const void *data,
			   size_t len, char **argv, struct core_manifest *m)
{
	const char *op = argv[3];
	if (core_manifest_unpack(data, len, m))
		die("manifest");
	if (strcmp(op, "format") == 0) {
		m->format = atoi(argv[4]); /* a newer format must still be written */
	} else if (strcmp(op, "manifest") == 0) {
		char **slot = strcmp(argv[4], "type") == 0 ? &m->type
			      : strcmp(argv[4], "tenant") == 0 ? &m->tenant : NULL;
		if (!slot) {
			fprintf(stderr, "craft: manifest field must be type or tenant\n");
			exit(2);
		}
		free(*slot);
		*slot = dup_or_nil(argv[5]);
	} else if (strcmp(op, "addrec") == 0) {
		size_t i = 0;
		while (i < m->n_kinds && strcmp(m->kinds[i], argv[4]) != 0)
			i++;
		if (i == m->n_kinds) {
			m->kinds = realloc(m->kinds, (m->n_kinds + 2) * sizeof(*m->kinds));
			m->kinds[m->n_kinds++] = strdup(argv[4]);
			m->kinds[m->n_kinds] = NULL;
		}
	}
	struct core_buf b = CORE_BUF_INIT;
	core_manifest_pack(m, &b);
	if (core_archive_put(aw, name, b.data, b.len))
		die("put");
	core_buf_free(&b);
}

/* addrec: the summary counts one more record of the kind. */
static void patch_summary(struct core_archive_writer *aw, const char *name, const void *data,
			  size_t len, const struct core_manifest *m, const char *kind)
{
	uint64_t *counts = calloc(m->n_kinds + 1, sizeof(*counts));
	if (core_summary_unpack(data, len, m->kinds, m->n_kinds, counts))
		die("summary");
	for (size_t i = 0; i < m->n_kinds; i++)
		if (strcmp(m->kinds[i], kind) == 0)
			counts[i]++;
	struct core_buf b = CORE_BUF_INIT;
	core_summary_pack(m->kinds, counts, m->n_kinds, &b);
	if (core_archive_put(aw, name, b.data, b.len))
		die("put");
	core_buf_free(&b);
	free(counts);
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: craft IN OUT add|rename|format|drop|manifest|addrec|envelope ARG [ARG]\n");
		return 2;
	}
	const char *op = argv[3];
	int two_args = strcmp(op, "rename") == 0 || strcmp(op, "manifest") == 0 ||
		       strcmp(op, "addrec") == 0;
	if (two_args && argc < 6) {
		fprintf(stderr, "craft: %s needs two arguments\n", op);
		return 2;
	}
	FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
	if (!in || !out)
		die("open");
	unsigned char key[64];
	size_t key_len = 0;
	const char *b64 = getenv("CAIRN_ENCRYPTION_KEY");
	if (b64 && *b64 && core_key_decode_instance(b64, key, sizeof(key), &key_len))
		die("key");
	int plain = !key_len || (getenv("CRAFT_PLAIN") && strcmp(getenv("CRAFT_PLAIN"), "1") == 0);
	struct core_keyring rk = {.instance_key = key_len ? key : NULL, .instance_key_len = key_len};
	struct core_keyring wk = {.no_encryption = plain,
				  .instance_key = plain ? NULL : key,
				  .instance_key_len = plain ? 0 : key_len};
	struct core_env_reader *er;
	struct core_archive_reader *ar;
	struct core_env_writer *ew;
	struct core_archive_writer *aw;
	if (core_env_reader_new(&rk, file_source, in, &er) || core_archive_reader_new(er, &ar))
		die("read");
	unsigned version = strcmp(op, "envelope") == 0 ? (unsigned)atoi(argv[4]) : CORE_ENV_VERSION;
	if (core_env_writer_new_version(version, &wk, file_sink, out, &ew) ||
	    core_archive_writer_new(ew, 0, &aw))
		die("write");
	struct core_manifest m = {0};
	const char *name;
	const void *data;
	size_t len;
	int n;
	while ((n = core_archive_next(ar, &name, &data, &len)) == 1) {
		if (strcmp(op, "drop") == 0 && strcmp(name, argv[4]) == 0)
			continue;
		if (strcmp(op, "rename") == 0 && strcmp(name, argv[4]) == 0)
			name = argv[5];
		if (strcmp(name, "manifest.msgpack") == 0) {
			patch_manifest(aw, name, data, len, argv, &m);
			if (strcmp(op, "add") == 0 && core_archive_put(aw, argv[4], "", 0))
				die("put");
			continue;
		}
		if (strcmp(op, "addrec") == 0 && strcmp(name, "summary.msgpack") == 0) {
			struct core_buf chunk = CORE_BUF_INIT;
			char cname[128];
			pack_record(argv[5], &chunk);
			snprintf(cname, sizeof(cname), "records/%s/900000.msgpack", argv[4]);
			if (core_archive_put(aw, cname, chunk.data, chunk.len))
				die("put");
			core_buf_free(&chunk);
			patch_summary(aw, name, data, len, &m, argv[4]);
			continue;
		}
		if (core_archive_put(aw, name, data, len))
			die("put");
	}
	if (n < 0)
		die("read");
	if (core_archive_writer_finish(aw))
		die("finish");
	core_manifest_free(&m);
	core_archive_writer_free(aw);
	core_env_writer_free(ew);
	core_archive_reader_free(ar);
	core_env_reader_free(er);
	fclose(in);
	return fclose(out) ? 1 : 0;
}
