/*
 * container.c — see container.h. libarchive does the tar and zstd work; this
 * file only bridges its callbacks to the envelope and enforces the limits
 * the reader must hold against a hostile archive.
 */
#define _POSIX_C_SOURCE 200809L
#include "container.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <archive.h>
#include <archive_entry.h>

#include "buf.h"
#include "cairn/status.h"
#include "error.h"

struct core_archive_writer {
	struct core_env_writer *env;
	struct archive *a;
	int failed;      /* status of the first failing envelope write */
	uint64_t out;
};

struct core_archive_reader {
	struct core_env_reader *env;
	struct archive *a;
	int failed;      /* status of the first failing envelope read */
	int done;
	char *inbuf;
	struct core_buf name;
	struct core_buf data;
};

enum { IN_BUF = 64 * 1024 };

static la_ssize_t w_write(struct archive *a, void *ud, const void *buf, size_t len)
{
	(void)a;
	struct core_archive_writer *w = ud;
	int rc = core_env_write(w->env, buf, len);
	if (rc) {
		w->failed = rc;
		return -1;
	}
	w->out += len;
	return (la_ssize_t)len;
}

static int writer_fail(struct core_archive_writer *w, const char *what)
{
	if (w->failed)
		return w->failed; /* the envelope/storage error is already recorded */
	return core_error_set(CAIRN_E_IO, "archive %s failed: %s", what, archive_error_string(w->a));
}

int core_archive_writer_new(struct core_env_writer *env, int level,
			    struct core_archive_writer **out)
{
	char lv[16];
	if (level < 0 || level > CORE_ZSTD_LEVEL_MAX)
		return core_error_set(CAIRN_E_INVALID, "compression level %d is not 1…%d", level,
				      CORE_ZSTD_LEVEL_MAX);
	snprintf(lv, sizeof(lv), "%d", level ? level : CORE_ZSTD_LEVEL_DEFAULT);
	struct core_archive_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return CAIRN_E_NOMEM;
	w->env = env;
	w->a = archive_write_new();
	if (!w->a) {
		free(w);
		return CAIRN_E_NOMEM;
	}
	if (archive_write_add_filter_zstd(w->a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(w->a, "zstd", "compression-level", lv) != ARCHIVE_OK ||
	    archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w->a, 0) != ARCHIVE_OK ||
	    archive_write_open(w->a, w, NULL, w_write, NULL) != ARCHIVE_OK) {
		int rc = writer_fail(w, "setup");
		core_archive_writer_free(w);
		return rc;
	}
	*out = w;
	return CAIRN_OK;
}

int core_archive_put(struct core_archive_writer *w, const char *name, const void *data, size_t len)
{
	if (len > CORE_ENTRY_MAX)
		return core_error_set(CAIRN_E_INVALID, "entry '%s' is %zu bytes, over the %u-byte limit",
				      name, len, CORE_ENTRY_MAX);
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return CAIRN_E_NOMEM;
	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_mtime(e, time(NULL), 0);
	int rc = CAIRN_OK;
	if (archive_write_header(w->a, e) != ARCHIVE_OK)
		rc = writer_fail(w, "header");
	else if (len && archive_write_data(w->a, data, len) != (la_ssize_t)len)
		rc = writer_fail(w, "write");
	archive_entry_free(e);
	return rc;
}

int core_archive_writer_finish(struct core_archive_writer *w)
{
	if (archive_write_close(w->a) != ARCHIVE_OK)
		return writer_fail(w, "close");
	return core_env_finish(w->env);
}

uint64_t core_archive_bytes_out(const struct core_archive_writer *w) { return w->out; }

void core_archive_writer_free(struct core_archive_writer *w)
{
	if (!w)
		return;
	archive_write_free(w->a);
	free(w);
}

static la_ssize_t r_read(struct archive *a, void *ud, const void **buf)
{
	(void)a;
	struct core_archive_reader *r = ud;
	size_t got = 0;
	int rc = core_env_read(r->env, r->inbuf, IN_BUF, &got);
	if (rc) {
		r->failed = rc;
		return -1;
	}
	*buf = r->inbuf;
	return (la_ssize_t)got;
}

static int reader_fail(struct core_archive_reader *r)
{
	if (r->failed)
		return r->failed;
	return core_error_set(CAIRN_E_CORRUPT, "archive is corrupted: %s",
			      archive_error_string(r->a) ? archive_error_string(r->a) : "bad tar stream");
}

int core_archive_reader_new(struct core_env_reader *env, struct core_archive_reader **out)
{
	struct core_archive_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return CAIRN_E_NOMEM;
	r->env = env;
	r->inbuf = malloc(IN_BUF);
	r->a = archive_read_new();
	if (!r->inbuf || !r->a) {
		core_archive_reader_free(r);
		return CAIRN_E_NOMEM;
	}
	/* only what our writer produces: tar, zstd-compressed or not */
	archive_read_support_filter_zstd(r->a);
	archive_read_support_format_tar(r->a);
	if (archive_read_open(r->a, r, NULL, r_read, NULL) != ARCHIVE_OK) {
		int rc = reader_fail(r);
		core_archive_reader_free(r);
		return rc;
	}
	*out = r;
	return CAIRN_OK;
}

/*
 * After the tar end marker the envelope must still be read to its end, so
 * that its final-message and no-trailing-data checks run. What libarchive
 * left unread there (the rest of the zstd frame, block padding) is
 * authenticated like the rest and is discarded.
 */
static int drain(struct core_archive_reader *r)
{
	size_t got;
	do {
		int rc = core_env_read(r->env, r->inbuf, IN_BUF, &got);
		if (rc)
			return rc;
	} while (got > 0);
	return CAIRN_OK;
}

int core_archive_next(struct core_archive_reader *r, const char **name, const void **data,
		      size_t *len)
{
	if (r->done)
		return 0;
	struct archive_entry *e;
	int ar = archive_read_next_header(r->a, &e);
	if (ar == ARCHIVE_EOF) {
		int rc = drain(r);
		if (rc)
			return rc;
		r->done = 1;
		return 0;
	}
	if (ar != ARCHIVE_OK)
		return reader_fail(r);
	const char *path = archive_entry_pathname(e);
	if (!path)
		return core_error_set(CAIRN_E_CORRUPT, "archive is corrupted: entry without a name");
	if (archive_entry_filetype(e) != AE_IFREG)
		return core_error_set(CAIRN_E_CORRUPT, "archive is corrupted: entry '%s' is not a regular file", path);
	if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0 ||
	    archive_entry_size(e) > (la_int64_t)CORE_ENTRY_MAX)
		return core_error_set(CAIRN_E_CORRUPT, "archive is corrupted: entry '%s' has an oversize length", path);
	size_t size = (size_t)archive_entry_size(e);
	core_buf_reset(&r->name);
	core_buf_reset(&r->data);
	if (core_buf_append_str(&r->name, path) || core_buf_reserve(&r->data, size))
		return CAIRN_E_NOMEM;
	size_t have = 0;
	while (have < size) {
		la_ssize_t n = archive_read_data(r->a, r->data.data + have, size - have);
		if (n < 0)
			return reader_fail(r);
		if (n == 0)
			return core_error_set(CAIRN_E_CORRUPT, "archive is truncated inside entry '%s'", path);
		have += (size_t)n;
	}
	r->data.len = size;
	r->data.data[size] = '\0';
	*name = r->name.data;
	*data = r->data.data;
	*len = size;
	return 1;
}

void core_archive_reader_free(struct core_archive_reader *r)
{
	if (!r)
		return;
	if (r->a)
		archive_read_free(r->a);
	free(r->inbuf);
	core_buf_free(&r->name);
	core_buf_free(&r->data);
	free(r);
}
