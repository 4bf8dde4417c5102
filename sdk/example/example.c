/*
 * example.c — a complete, minimal Cairn storage plugin. Copy it and start
 * from here.
 *
 * Scheme: example:///absolute/directory
 *
 * Every object is one file directly inside that directory. Object names may
 * contain '/', so they are flattened: '/' is stored as "%2F", '%' as "%25"
 * and a leading '.' as "%2E" ("backups/full.cairn" becomes the file
 * "backups%2Ffull.cairn"). That keeps the plugin short — no sub-directories
 * to create, walk or clean up — at the price of NAME_MAX (255 bytes) for an
 * encoded name.
 *
 * The storage contract (cairn/storage.h) and how this file meets it:
 *  - Nothing half-written is ever visible under an object's name: a writer
 *    fills a temporary file whose name starts with '.', which no encoded
 *    name does, so list() and stat() never see it.
 *  - writer_commit publishes with link(), which fails with EEXIST rather
 *    than replacing an existing object (rename() would replace it). The
 *    file and the directory are fsync()ed so the object survives a crash.
 *  - Every failure is reported through host->set_error with the status that
 *    is returned, and the plugin never writes to stdout or stderr.
 *
 * Check it with the conformance kit installed with the SDK:
 *     cairn-plugin-check storage ./cairn-storage-example.so example:///tmp/ex
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cairn/plugin.h>
#include <cairn/storage.h>

/* Instance state: what open() returns and close() frees. */
struct ex {
	const struct cairn_host *host; /* valid until the last close() */
	char *dir;                     /* the location's directory */
};

struct ex_writer {
	struct ex *ex;
	int fd;
	char *tmp;   /* temporary file, removed on commit and abort */
	char *final; /* the object's file */
};

struct ex_reader {
	struct ex *ex;
	int fd;
};

/* Map errno to a Cairn status and record the detail; returns the status. */
static int ex_fail(struct ex *ex, int err, const char *what, const char *path)
{
	int st;
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		st = CAIRN_E_NOT_FOUND;
		break;
	case EEXIST:
		st = CAIRN_E_EXISTS;
		break;
	case ENOSPC:
		st = CAIRN_E_NO_SPACE;
		break;
	case EACCES:
	case EPERM:
		st = CAIRN_E_PERMISSION;
		break;
	default:
		st = CAIRN_E_IO;
	}
	return ex->host->set_error(ex->host, st, "unable to %s '%s': %s", what, path,
				   strerror(err));
}

static int ex_nomem(struct ex *ex)
{
	return ex->host->set_error(ex->host, CAIRN_E_NOMEM, "out of memory");
}

/* The path of the file holding object `name` (malloc'ed), or NULL. */
static char *ex_path(struct ex *ex, const char *name)
{
	size_t n = strlen(ex->dir) + 1 + 3 * strlen(name) + 1;
	char *p = malloc(n), *o;
	if (!p)
		return NULL;
	o = p + sprintf(p, "%s/", ex->dir);
	for (const char *s = name; *s; s++) {
		if (*s == '/' || *s == '%' || (*s == '.' && s == name))
			o += sprintf(o, "%%%02X", (unsigned char)*s);
		else
			*o++ = *s;
	}
	*o = '\0';
	return p;
}

/* The object name of file `file` (malloc'ed; NULL if not one of ours). */
static char *ex_name(const char *file)
{
	char *n = malloc(strlen(file) + 1), *o = n;
	if (!n)
		return NULL;
	for (const char *s = file; *s; s++) {
		unsigned v;
		if (*s == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2]) &&
		    sscanf(s + 1, "%2X", &v) == 1) {
			*o++ = (char)v;
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return n;
}

static int ex_open(const struct cairn_host *host, const char *uri,
		   const struct cairn_option *opts, size_t n_opts, void **inst)
{
	/* Refuse unknown options rather than silently ignore a typo. */
	if (n_opts > 0)
		return host->set_error(host, CAIRN_E_INVALID,
				       "the example storage has no option '%s'", opts[0].key);
	if (strncmp(uri, "example://", 10) != 0 || uri[10] != '/')
		return host->set_error(host, CAIRN_E_INVALID,
				       "'%s' is not an example:// URI with an absolute path", uri);
	struct ex *ex = calloc(1, sizeof(*ex));
	if (!ex || !(ex->dir = strdup(uri + 10))) {
		free(ex);
		return host->set_error(host, CAIRN_E_NOMEM, "out of memory");
	}
	size_t n = strlen(ex->dir);
	while (n > 1 && ex->dir[n - 1] == '/')
		ex->dir[--n] = '\0';
	ex->host = host;
	*inst = ex;
	return CAIRN_OK;
}

static void ex_close(void *inst)
{
	struct ex *ex = inst;
	if (ex)
		free(ex->dir);
	free(ex);
}

/* The location need not exist before the first write: create it (mkdir -p). */
static int ex_mkdir(struct ex *ex)
{
	int rc = CAIRN_OK;
	char *d = strdup(ex->dir);
	if (!d)
		return ex_nomem(ex);
	for (char *s = d + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(d, 0700) != 0 && errno != EEXIST) {
			rc = ex_fail(ex, errno, "create directory", d);
			break;
		}
		if (!c)
			break;
		*s = c;
	}
	free(d);
	return rc;
}

static int ex_sync_dir(struct ex *ex)
{
	int fd = open(ex->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		int rc = ex_fail(ex, errno, "sync directory", ex->dir);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	close(fd);
	return CAIRN_OK;
}

static void ex_writer_free(struct ex_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->tmp);
	free(w->final);
	free(w);
}

static int ex_writer_begin(void *inst, const char *name, void **writer)
{
	struct ex *ex = inst;
	int rc = ex_mkdir(ex);
	if (rc)
		return rc;
	struct ex_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return ex_nomem(ex);
	w->ex = ex;
	w->fd = -1;
	w->final = ex_path(ex, name);
	w->tmp = malloc(strlen(ex->dir) + sizeof("/.tmp-XXXXXX"));
	if (!w->final || !w->tmp) {
		ex_writer_free(w);
		return ex_nomem(ex);
	}
	sprintf(w->tmp, "%s/.tmp-XXXXXX", ex->dir);
	w->fd = mkstemp(w->tmp); /* mode 0600: backups hold secrets */
	if (w->fd < 0) {
		rc = ex_fail(ex, errno, "create", w->tmp);
		ex_writer_free(w);
		return rc;
	}
	*writer = w;
	return CAIRN_OK;
}

static int ex_writer_write(void *writer, const void *buf, size_t len)
{
	struct ex_writer *w = writer;
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ex_fail(w->ex, errno, "write", w->tmp);
		p += n;
		len -= (size_t)n;
	}
	return CAIRN_OK;
}

static void ex_writer_abort(void *writer)
{
	struct ex_writer *w = writer;
	if (!w)
		return;
	unlink(w->tmp);
	ex_writer_free(w);
}

/* Publish atomically, never replacing; frees the writer whatever happens. */
static int ex_writer_commit(void *writer)
{
	struct ex_writer *w = writer;
	struct ex *ex = w->ex;
	int rc = CAIRN_OK;
	if (fsync(w->fd) != 0)
		rc = ex_fail(ex, errno, "sync", w->tmp);
	else if (link(w->tmp, w->final) != 0)
		rc = ex_fail(ex, errno, "publish", w->final);
	else
		rc = ex_sync_dir(ex);
	unlink(w->tmp);
	ex_writer_free(w);
	return rc;
}

static int ex_reader_open(void *inst, const char *name, void **reader)
{
	struct ex *ex = inst;
	char *path = ex_path(ex, name);
	struct ex_reader *r = calloc(1, sizeof(*r));
	if (!path || !r) {
		free(path);
		free(r);
		return ex_nomem(ex);
	}
	r->ex = ex;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		int rc = ex_fail(ex, errno, "open", path);
		free(path);
		free(r);
		return rc;
	}
	free(path);
	*reader = r;
	return CAIRN_OK;
}

static int ex_reader_read(void *reader, void *buf, size_t cap, size_t *got)
{
	struct ex_reader *r = reader;
	ssize_t n;
	do
		n = read(r->fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return ex_fail(r->ex, errno, "read", r->ex->dir);
	*got = (size_t)n;
	return CAIRN_OK;
}

static void ex_reader_close(void *reader)
{
	struct ex_reader *r = reader;
	if (!r)
		return;
	close(r->fd);
	free(r);
}

static int ex_list(void *inst, const char *prefix, cairn_list_cb cb, void *ud)
{
	struct ex *ex = inst;
	DIR *d = opendir(ex->dir);
	if (!d) /* nothing written yet: an empty listing, not an error */
		return errno == ENOENT ? CAIRN_OK : ex_fail(ex, errno, "list", ex->dir);
	int rc = CAIRN_OK;
	struct dirent *e;
	while (rc == CAIRN_OK && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.') /* ".", "..", writers' temporary files */
			continue;
		char *name = ex_name(e->d_name);
		char *path = ex_path(ex, name ? name : "");
		struct stat st;
		if (!name || !path)
			rc = ex_nomem(ex);
		else if (strncmp(name, prefix, strlen(prefix)) == 0 &&
			 stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			struct cairn_object_info oi = {
				.struct_size = sizeof(oi),
				.name = name,
				.size = (uint64_t)st.st_size,
				.mtime = (int64_t)st.st_mtime,
			};
			rc = cb(ud, &oi);
		}
		free(name);
		free(path);
	}
	closedir(d);
	return rc;
}

static int ex_stat(void *inst, const char *name, struct cairn_object_info *out)
{
	struct ex *ex = inst;
	char *path = ex_path(ex, name);
	if (!path)
		return ex_nomem(ex);
	struct stat st;
	int rc = stat(path, &st) == 0 ? CAIRN_OK : ex_fail(ex, errno, "stat", path);
	free(path);
	if (rc)
		return rc;
	out->name = name; /* the caller's string: valid as long as it needs it */
	out->size = (uint64_t)st.st_size;
	out->mtime = (int64_t)st.st_mtime;
	return CAIRN_OK;
}

static int ex_remove(void *inst, const char *name)
{
	struct ex *ex = inst;
	char *path = ex_path(ex, name);
	if (!path)
		return ex_nomem(ex);
	int rc = unlink(path) == 0 ? ex_sync_dir(ex) : ex_fail(ex, errno, "remove", path);
	free(path);
	return rc;
}

/* The vtable: const static data, read by the core in place. */
static const struct cairn_storage_vtable ex_vtable = {
	.struct_size = sizeof(struct cairn_storage_vtable),
	.features = 0, /* no CAIRN_STORAGE_F_* capabilities */
	.open = ex_open,
	.close = ex_close,
	.writer_begin = ex_writer_begin,
	.writer_write = ex_writer_write,
	.writer_commit = ex_writer_commit,
	.writer_abort = ex_writer_abort,
	.reader_open = ex_reader_open,
	.reader_read = ex_reader_read,
	.reader_close = ex_reader_close,
	.list = ex_list,
	.stat = ex_stat,
	.remove = ex_remove,
};

static const char *const ex_schemes[] = {"example", NULL};

/*
 * The one exported symbol, cairn_plugin_entry_v1. No .abi_minor: this
 * plugin sets only ABI 1.0 members, so it needs 1.0 and loads into every
 * 1.x cairn. Set one appended later (housekeep is "since 1.2") and declare
 * it: .abi_minor = 2 here and a fourth argument 2 to CAIRN_PLUGIN_NOTE, or
 * cairn refuses the plugin and says so.
 */
CAIRN_PLUGIN_DEFINE(.name = "example", .version = "0.1.0",
		    .description = "example storage: one file per object in a directory",
		    .kind = CAIRN_PLUGIN_KIND_STORAGE, .schemes = ex_schemes,
		    .vtable = &ex_vtable)
/*
 * The same name, kind and schemes again as plain bytes in the file (an ELF
 * note), so that cairn finds this plugin for example:// without running
 * it, and runs no code of it for any other scheme. Keep the two in step:
 * cairn refuses a plugin whose note and info disagree.
 */
CAIRN_PLUGIN_NOTE(storage, "example", "example")
