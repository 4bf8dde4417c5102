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
 *   craft IN OUT addfile KIND FJSON  append one internal-storage file of file
 *                                  kind KIND (KV_STORE …) just before the
 *                                  summary, as the next file of its kind;
 *                                  the manifest's files (format 2) and the
 *                                  summary's counts follow it
 *   craft IN OUT envelope N        write envelope version N (1: as cairn wrote
 *                                  backups before format 2), entries unchanged
 * JSON is {"key": K, "tenant": T|null, "columns": [[NAME, TYPE, VALUE]…]}
 * with TYPE the cairn_column_type number; VALUE is any JSON for a JSON
 * column, null for NULL, else a string or {"hex": "…"} for raw bytes
 * (invalid UTF-8, NUL).
 * FJSON is {"tenant": T|null (default: the manifest's), "path": P (a string or
 * {"hex": …}), "content": C, "parts": [sizes…] (default: one part),
 * "order": [part numbers…] (default 1, 2, …), "size": N (the head's size,
 * default C's length), "bad_hash": true, "num": N (the file's number)}.
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
#include "files.h"
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

static void add_file_kind(struct core_manifest *m, const char *kind);
static int file_kind_added; /* addfile: the input's manifest did not list the kind */

/* The manifest, patched for `manifest`, `addrec` and `addfile`. */
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
	} else if (strcmp(op, "addfile") == 0) {
		add_file_kind(m, argv[4]);
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

/* FJSON's numbers, or a default. */
static uint64_t num_or(json_t *j, const char *key, uint64_t dflt)
{
	json_t *v = json_object_get(j, key);
	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : dflt;
}

/* addfile: the head and parts of one file, numbered `num` in its kind. */
static void put_file(struct core_archive_writer *aw, const char *kind, const char *text,
		     const struct core_manifest *m, unsigned num, uint64_t *size_out)
{
	json_error_t err;
	json_t *j = json_loads(text, 0, &err);
	if (!j || !json_object_get(j, "path") || !json_is_string(json_object_get(j, "content"))) {
		fprintf(stderr, "craft: bad file JSON: %s\n", j ? "needs path and content" : err.text);
		exit(2);
	}
	char *path;
	size_t plen;
	value_bytes(json_object_get(j, "path"), &path, &plen);
	const char *content = json_string_value(json_object_get(j, "content"));
	size_t clen = json_string_length(json_object_get(j, "content"));
	json_t *t = json_object_get(j, "tenant");
	struct core_file_head h = {
		.tenant = json_is_string(t) ? json_string_value(t) : t ? NULL : m->tenant,
		.path = path,
		.size = num_or(j, "size", clen),
	};
	crypto_generichash(h.hash, sizeof(h.hash), (const unsigned char *)content, clen, NULL, 0);
	if (json_is_true(json_object_get(j, "bad_hash")))
		h.hash[0] ^= 1;
	struct core_buf b = CORE_BUF_INIT;
	char name[160];
	if (core_file_head_pack(&h, &b))
		die("pack head");
	num = (unsigned)num_or(j, "num", num);
	core_file_entry_name(name, sizeof(name), kind, num, 0);
	if (core_archive_put(aw, name, b.data, b.len))
		die("put");
	/* the parts: their sizes, then the order they are written in */
	size_t sizes[64], offs[64], n = 0, off = 0;
	json_t *parts = json_object_get(j, "parts");
	if (json_is_array(parts)) {
		for (size_t i = 0; i < json_array_size(parts) && n < 64; i++) {
			sizes[n] = (size_t)json_integer_value(json_array_get(parts, i));
			offs[n++] = off;
			off += sizes[n - 1];
		}
	} else if (clen) {
		sizes[0] = clen;
		offs[0] = 0;
		n = 1;
	}
	json_t *order = json_object_get(j, "order");
	size_t n_out = json_is_array(order) ? json_array_size(order) : n;
	for (size_t i = 0; i < n_out; i++) {
		size_t p = json_is_array(order) ? (size_t)json_integer_value(json_array_get(order, i)) : i + 1;
		if (p < 1 || p > n || offs[p - 1] + sizes[p - 1] > clen) {
			fprintf(stderr, "craft: part %zu is not within the content\n", p);
			exit(2);
		}
		core_file_entry_name(name, sizeof(name), kind, num, (unsigned)p);
		if (core_archive_put(aw, name, content + offs[p - 1], sizes[p - 1]))
			die("put");
	}
	*size_out = h.size;
	core_buf_free(&b);
	free(path);
	json_decref(j);
}

/* addfile: the manifest lists the file kind (format 2). */
static void add_file_kind(struct core_manifest *m, const char *kind)
{
	if (core_fkind_index(kind) < 0) {
		fprintf(stderr, "craft: '%s' is no file kind\n", kind);
		exit(2);
	}
	m->format = m->format < CORE_FORMAT_FILES ? CORE_FORMAT_FILES : m->format;
	for (size_t i = 0; i < m->n_files; i++)
		if (strcmp(m->files[i], kind) == 0)
			return;
	m->files = realloc(m->files, (m->n_files + 2) * sizeof(*m->files));
	size_t at = m->n_files;
	while (at > 0 && core_fkind_index(m->files[at - 1]) > core_fkind_index(kind)) {
		m->files[at] = m->files[at - 1];
		at--;
	}
	m->files[at] = strdup(kind);
	m->files[++m->n_files] = NULL;
	file_kind_added = 1;
}

/* addfile: the file goes in as the next of its kind; the summary counts it. */
static void add_file(struct core_archive_writer *aw, const char *name, const void *data, size_t len,
		     const struct core_manifest *m, const char *kind, const char *text)
{
	uint64_t *counts = calloc(m->n_kinds + 1, sizeof(*counts));
	uint64_t *files = calloc(m->n_files + 1, sizeof(*files)), *bytes = calloc(m->n_files + 1, sizeof(*bytes));
	if (core_summary_unpack(data, len, m->kinds, m->n_kinds, counts))
		die("summary");
	/* a summary written before the kind was added has no entry for it yet */
	char **had = calloc(m->n_files + 1, sizeof(*had));
	size_t n_had = 0, at = 0;
	for (size_t i = 0; i < m->n_files; i++)
		if (strcmp(m->files[i], kind) != 0)
			had[n_had++] = m->files[i];
	uint64_t *hf = calloc(n_had + 1, sizeof(*hf)), *hb = calloc(n_had + 1, sizeof(*hb));
	int fresh = file_kind_added;
	if (core_summary_unpack_files(data, len, fresh ? had : m->files, fresh ? n_had : m->n_files,
				      fresh ? hf : files, fresh ? hb : bytes))
		core_error_clear(); /* format 1: no files yet */
	for (size_t i = 0; fresh && i < m->n_files; i++)
		if (strcmp(m->files[i], kind) != 0) {
			files[i] = hf[at];
			bytes[i] = hb[at++];
		}
	for (size_t i = 0; i < m->n_files; i++)
		if (strcmp(m->files[i], kind) == 0) {
			uint64_t size;
			put_file(aw, kind, text, m, (unsigned)files[i] + 1, &size);
			files[i]++;
			bytes[i] += size;
		}
	struct core_buf b = CORE_BUF_INIT;
	core_summary_pack_files(m->kinds, counts, m->n_kinds, m->files, files, bytes, m->n_files, &b);
	if (core_archive_put(aw, name, b.data, b.len))
		die("put");
	core_buf_free(&b);
	free(counts);
	free(files);
	free(bytes);
	free(had);
	free(hf);
	free(hb);
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
		fprintf(stderr, "usage: craft IN OUT add|rename|format|drop|manifest|addrec|addfile|envelope ARG [ARG]\n");
		return 2;
	}
	const char *op = argv[3];
	int two_args = strcmp(op, "rename") == 0 || strcmp(op, "manifest") == 0 ||
		       strcmp(op, "addrec") == 0 || strcmp(op, "addfile") == 0;
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
		if (strcmp(op, "addfile") == 0 && strcmp(name, "summary.msgpack") == 0) {
			add_file(aw, name, data, len, &m, argv[4], argv[5]);
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
