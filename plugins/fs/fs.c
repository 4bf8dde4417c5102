/*
 * fs.c — local filesystem storage (file:// locations).
 *
 * Why it is written the way it is:
 *  - A backup must never be visible half-written, and must never replace
 *    another backup. Writers fill a hidden temporary file in the target
 *    directory (same filesystem, so publishing is a link, not a copy), fsync
 *    it, then link() it to the final name — link fails with EEXIST instead of
 *    replacing, unlike rename() — and fsync the directory so the new entry
 *    survives a crash.
 *  - Files are created 0600 and directories 0700: backups hold secrets.
 *  - Temporary files start with '.', so list() never reports them.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "cairn/plugin.h"
#include "cairn/storage.h"

#define FS_NAME "fs"

struct fs {
	const struct cairn_host *host;
	char *root; /* absolute directory path, no trailing '/' (except "/") */
};

struct fs_writer {
	struct fs *fs;
	int fd;
	char *tmp;   /* temporary file path */
	char *final; /* final path */
};

struct fs_reader {
	struct fs *fs;
	int fd;
};

static int fs_errno_status(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		return CAIRN_E_NOT_FOUND;
	case EEXIST:
		return CAIRN_E_EXISTS;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return CAIRN_E_NO_SPACE;
	case EACCES:
	case EPERM:
	case EROFS:
		return CAIRN_E_PERMISSION;
	case ENOMEM:
		return CAIRN_E_NOMEM;
	default:
		return CAIRN_E_IO;
	}
}

static int fs_fail(struct fs *fs, int err, const char *what, const char *path)
{
	return fs->host->set_error(fs->host, fs_errno_status(err), "unable to %s '%s': %s",
				   what, path, strerror(err));
}

static char *fs_join(const char *root, const char *name)
{
	size_t a = strlen(root), b = strlen(name);
	char *p = malloc(a + b + 2);
	if (!p)
		return NULL;
	memcpy(p, root, a);
	size_t n = a;
	if (n == 0 || p[n - 1] != '/')
		p[n++] = '/';
	memcpy(p + n, name, b + 1);
	return p;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int fs_open(const struct cairn_host *host, const char *uri,
		   const struct cairn_option *opts, size_t n_opts, void **inst)
{
	/* the fs plugin has no options: say so rather than ignore a typo */
	if (n_opts > 0)
		return host->set_error(host, CAIRN_E_INVALID, "the fs storage has no option '%s'",
				       opts[0].key);
	const char *p = NULL;
	if (strncmp(uri, "file://", 7) == 0)
		p = uri + 7;
	if (p && strncmp(p, "localhost/", 10) == 0)
		p += 9;
	if (!p || p[0] != '/')
		return host->set_error(host, CAIRN_E_INVALID,
				       "'%s' is not a file:// URI with an absolute path", uri);
	struct fs *fs = calloc(1, sizeof(*fs));
	char *root = malloc(strlen(p) + 1);
	if (!fs || !root) {
		free(fs);
		free(root);
		return CAIRN_E_NOMEM;
	}
	/* percent-decoding: file URIs escape spaces and non-ASCII bytes */
	size_t n = 0;
	for (size_t i = 0; p[i]; i++) {
		if (p[i] == '%' && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
			root[n++] = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
			i += 2;
		} else {
			root[n++] = p[i];
		}
	}
	while (n > 1 && root[n - 1] == '/')
		n--;
	root[n] = '\0';
	fs->host = host;
	fs->root = root;
	*inst = fs;
	return CAIRN_OK;
}

static void fs_close(void *inst)
{
	struct fs *fs = inst;
	if (!fs)
		return;
	free(fs->root);
	free(fs);
}

/* mkdir -p for the directories leading to `path` (not the last component). */
static int fs_mkparents(struct fs *fs, const char *path)
{
	char *tmp = strdup(path);
	if (!tmp)
		return CAIRN_E_NOMEM;
	int rc = CAIRN_OK;
	for (char *s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
			rc = fs_fail(fs, errno, "create directory", tmp);
			break;
		}
		*s = '/';
	}
	free(tmp);
	return rc;
}

static int fs_fsync_dir(struct fs *fs, const char *file)
{
	char *dir = strdup(file);
	if (!dir)
		return CAIRN_E_NOMEM;
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	int rc = CAIRN_OK;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		rc = fs_fail(fs, errno, "sync directory", dir);
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

static int fs_writer_begin(void *inst, const char *name, void **writer)
{
	struct fs *fs = inst;
	struct fs_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return CAIRN_E_NOMEM;
	w->fs = fs;
	w->fd = -1;
	w->final = fs_join(fs->root, name);
	if (!w->final)
		goto nomem;
	const char *base = strrchr(w->final, '/') + 1;
	size_t dirlen = (size_t)(base - w->final);
	size_t len = dirlen + 1 + strlen(base) + sizeof(".tmp-XXXXXX");
	w->tmp = malloc(len);
	if (!w->tmp)
		goto nomem;
	snprintf(w->tmp, len, "%.*s.%s.tmp-XXXXXX", (int)dirlen, w->final, base);
	int rc = fs_mkparents(fs, w->final);
	if (rc) {
		free(w->final);
		free(w->tmp);
		free(w);
		return rc;
	}
	/* mkstemp creates the file 0600 whatever the umask */
	w->fd = mkstemp(w->tmp);
	if (w->fd < 0) {
		rc = fs_fail(fs, errno, "create", w->tmp);
		free(w->final);
		free(w->tmp);
		free(w);
		return rc;
	}
	*writer = w;
	return CAIRN_OK;
nomem:
	free(w->final);
	free(w);
	return CAIRN_E_NOMEM;
}

static int fs_writer_write(void *writer, const void *buf, size_t len)
{
	struct fs_writer *w = writer;
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fs_fail(w->fs, errno, "write", w->tmp);
		}
		p += n;
		len -= (size_t)n;
	}
	return CAIRN_OK;
}

static void fs_writer_free(struct fs_writer *w)
{
	free(w->tmp);
	free(w->final);
	free(w);
}

static void fs_writer_abort(void *writer)
{
	struct fs_writer *w = writer;
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	unlink(w->tmp);
	fs_writer_free(w);
}

static int fs_writer_commit(void *writer)
{
	struct fs_writer *w = writer;
	struct fs *fs = w->fs;
	int rc = CAIRN_OK;
	if (fsync(w->fd) != 0)
		rc = fs_fail(fs, errno, "sync", w->tmp);
	if (close(w->fd) != 0 && !rc)
		rc = fs_fail(fs, errno, "close", w->tmp);
	w->fd = -1;
	if (!rc && link(w->tmp, w->final) != 0) {
		if (errno == EEXIST)
			rc = fs->host->set_error(fs->host, CAIRN_E_EXISTS,
						 "'%s' already exists; not replaced", w->final);
		else
			rc = fs_fail(fs, errno, "publish", w->final);
	}
	unlink(w->tmp);
	if (!rc)
		rc = fs_fsync_dir(fs, w->final);
	fs_writer_free(w);
	return rc;
}

static int fs_reader_open(void *inst, const char *name, void **reader)
{
	struct fs *fs = inst;
	char *path = fs_join(fs->root, name);
	if (!path)
		return CAIRN_E_NOMEM;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		fd = -1;
		errno = EISDIR;
	}
	if (fd < 0) {
		int rc = fs_fail(fs, errno, "open", path);
		free(path);
		return rc;
	}
	free(path);
	struct fs_reader *r = calloc(1, sizeof(*r));
	if (!r) {
		close(fd);
		return CAIRN_E_NOMEM;
	}
	r->fs = fs;
	r->fd = fd;
	*reader = r;
	return CAIRN_OK;
}

static int fs_reader_read(void *reader, void *buf, size_t cap, size_t *got)
{
	struct fs_reader *r = reader;
	for (;;) {
		ssize_t n = read(r->fd, buf, cap);
		if (n >= 0) {
			*got = (size_t)n;
			return CAIRN_OK;
		}
		if (errno != EINTR)
			return r->fs->host->set_error(r->fs->host, CAIRN_E_IO,
						      "unable to read: %s", strerror(errno));
	}
}

static void fs_reader_close(void *reader)
{
	struct fs_reader *r = reader;
	if (!r)
		return;
	close(r->fd);
	free(r);
}

/* Recursive walk of root/<rel>; rel is "" or ends with '/'. */
static int fs_walk(struct fs *fs, const char *rel, const char *prefix, cairn_list_cb cb,
		   void *ud, int depth)
{
	if (depth > 64)
		return CAIRN_OK;
	char *dirpath = fs_join(fs->root, rel);
	if (!dirpath)
		return CAIRN_E_NOMEM;
	DIR *d = opendir(dirpath);
	if (!d) {
		int err = errno;
		free(dirpath);
		return err == ENOENT || err == ENOTDIR ? CAIRN_OK : fs_fail(fs, err, "list", rel);
	}
	int rc = CAIRN_OK;
	struct dirent *e;
	while (rc == CAIRN_OK && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue; /* ".", "..", and writers' temporary files */
		size_t len = strlen(rel) + strlen(e->d_name) + 2;
		char *name = malloc(len);
		if (!name) {
			rc = CAIRN_E_NOMEM;
			break;
		}
		snprintf(name, len, "%s%s", rel, e->d_name);
		char *path = fs_join(fs->root, name);
		struct stat st;
		if (path && lstat(path, &st) == 0) {
			size_t nl = strlen(name), pl = strlen(prefix);
			if (S_ISDIR(st.st_mode)) {
				/* descend only where names can still match the prefix */
				size_t m = nl < pl ? nl : pl;
				if (strncmp(name, prefix, m) == 0) {
					name[nl] = '/';
					name[nl + 1] = '\0';
					rc = fs_walk(fs, name, prefix, cb, ud, depth + 1);
				}
			} else if (S_ISREG(st.st_mode) && strncmp(name, prefix, pl) == 0) {
				struct cairn_object_info info = {
					.struct_size = sizeof(info),
					.name = name,
					.size = (uint64_t)st.st_size,
					.mtime = (int64_t)st.st_mtime,
				};
				rc = cb(ud, &info);
			}
		}
		free(path);
		free(name);
	}
	closedir(d);
	free(dirpath);
	return rc;
}

static int fs_list(void *inst, const char *prefix, cairn_list_cb cb, void *ud)
{
	return fs_walk(inst, "", prefix ? prefix : "", cb, ud, 0);
}

static int fs_stat(void *inst, const char *name, struct cairn_object_info *out)
{
	struct fs *fs = inst;
	char *path = fs_join(fs->root, name);
	if (!path)
		return CAIRN_E_NOMEM;
	struct stat st;
	int rc = CAIRN_OK;
	if (stat(path, &st) != 0)
		rc = fs_fail(fs, errno, "stat", path);
	else if (!S_ISREG(st.st_mode))
		rc = fs->host->set_error(fs->host, CAIRN_E_NOT_FOUND, "'%s' is not a file", path);
	free(path);
	if (rc)
		return rc;
	out->name = name;
	out->size = (uint64_t)st.st_size;
	out->mtime = (int64_t)st.st_mtime;
	return CAIRN_OK;
}

static int fs_remove(void *inst, const char *name)
{
	struct fs *fs = inst;
	char *path = fs_join(fs->root, name);
	if (!path)
		return CAIRN_E_NOMEM;
	int rc = CAIRN_OK;
	if (unlink(path) != 0)
		rc = fs_fail(fs, errno, "remove", path);
	else
		rc = fs_fsync_dir(fs, path);
	free(path);
	return rc;
}

static const struct cairn_storage_vtable fs_vtable = {
	.struct_size = sizeof(struct cairn_storage_vtable),
	.features = 0,
	.open = fs_open,
	.close = fs_close,
	.writer_begin = fs_writer_begin,
	.writer_write = fs_writer_write,
	.writer_commit = fs_writer_commit,
	.writer_abort = fs_writer_abort,
	.reader_open = fs_reader_open,
	.reader_read = fs_reader_read,
	.reader_close = fs_reader_close,
	.list = fs_list,
	.stat = fs_stat,
	.remove = fs_remove,
};

static const char *const fs_schemes[] = {"file", NULL};

CAIRN_PLUGIN_DEFINE(.name = FS_NAME, .version = "1.0.0",
		    .description = "local filesystem storage (atomic, 0600 files)",
		    .kind = CAIRN_PLUGIN_KIND_STORAGE, .schemes = fs_schemes,
		    .vtable = &fs_vtable)
CAIRN_PLUGIN_NOTE(storage, FS_NAME, "file")
