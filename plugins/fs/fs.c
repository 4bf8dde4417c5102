/*
 * fs.c — local filesystem storage (file:// locations).
 *
 * Why it is written the way it is (plugins/fs/README.md has the whole story):
 *  - A backup must never be visible half-written, and must never replace
 *    another backup. Writers fill a hidden temporary file in the target
 *    directory (same filesystem, so publishing is a link, not a copy), fsync
 *    it, then link() it to the final name — link fails with EEXIST instead of
 *    replacing, unlike rename() — and fsync the directory so the new entry
 *    survives a crash.
 *  - The temporary's name is derived from the final name and created with
 *    O_EXCL, so two writers of one name cannot both start: the second gets
 *    CAIRN_E_EXISTS from writer_begin and the core moves on to the next name.
 *  - A writer holds flock(LOCK_EX) on its temporary until the temporary's
 *    name is gone. An unlocked temporary therefore belongs to a writer that
 *    died, and housekeep may remove it.
 *  - Nothing below the location is reached through a symbolic link: every
 *    directory is opened with O_NOFOLLOW from the one above, and the writer
 *    keeps the directory's descriptor, so what list() walks is exactly where
 *    writers write. A link is refused with one error by every call.
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
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "cairn/plugin.h"
#include "cairn/storage.h"
#include "plugin_uri.h"

#define FS_NAME "fs"

struct fs {
	const struct cairn_host *host;
	char *root; /* absolute directory path, no trailing '/' (except "/") */
};

struct fs_writer {
	struct fs *fs;
	int dirfd;   /* the object's directory, opened without following links */
	int fd;      /* the temporary file, flock()ed exclusively */
	char *tmp;   /* temporary file name in dirfd */
	char *base;  /* final name in dirfd */
	char *final; /* full final path, for messages */
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

static int fs_open(const struct cairn_host *host, const char *uri,
		   const struct cairn_option *opts, size_t n_opts, void **inst)
{
	/* the fs plugin has no options: say so rather than ignore a typo */
	if (n_opts > 0)
		return host->set_error(host, CAIRN_E_INVALID, "the fs storage has no option '%s'",
				       opts[0].key);
	/*
	 * file://[localhost]/path, percent-escapes decoded (file URIs escape
	 * spaces and non-ASCII bytes); a '?' or a stray '%' is part of the name.
	 */
	struct cp_uri u;
	const char *why;
	if (cp_uri_parse(uri, CP_URI_NO_QUERY, &u, &why) != 0 && strcmp(why, "out of memory") == 0)
		return CAIRN_E_NOMEM;
	if (!u.scheme || strcmp(u.scheme, "file") != 0 ||
	    (*u.authority && strcmp(u.authority, "localhost") != 0) || u.path[0] != '/') {
		cp_uri_free(&u);
		return host->set_error(host, CAIRN_E_INVALID,
				       "'%s' is not a file:// URI with an absolute path", uri);
	}
	struct fs *fs = calloc(1, sizeof(*fs));
	if (!fs) {
		cp_uri_free(&u);
		return CAIRN_E_NOMEM;
	}
	char *root = u.path;
	u.path = NULL;
	cp_uri_free(&u);
	size_t n = strlen(root);
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

static int fs_flock(int fd, int op)
{
	int r;
	do
		r = flock(fd, op);
	while (r != 0 && errno == EINTR);
	return r;
}

/* `rel` is a name relative to the root; the message names the full path. */
static int fs_fail_rel(struct fs *fs, int err, const char *what, const char *rel)
{
	char *path = fs_join(fs->root, rel);
	if (!path)
		return CAIRN_E_NOMEM;
	int rc = fs_fail(fs, err, what, path);
	free(path);
	return rc;
}

static int fs_refuse_link(struct fs *fs, const char *rel)
{
	char *path = fs_join(fs->root, rel);
	if (!path)
		return CAIRN_E_NOMEM;
	int rc = fs->host->set_error(fs->host, CAIRN_E_UNSUPPORTED,
				     "'%s' is a symbolic link below the storage location '%s': the fs "
				     "storage does not follow it (make it a directory, or use its "
				     "target as the location)",
				     path, fs->root);
	free(path);
	return rc;
}

/* mkdir -p `path`, links followed: the location is the operator's to point anywhere. */
static int fs_mkdirs(struct fs *fs, const char *path)
{
	char *tmp = strdup(path);
	if (!tmp)
		return CAIRN_E_NOMEM;
	int rc = CAIRN_OK;
	for (char *s = tmp + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
			rc = fs_fail(fs, errno, "create directory", tmp);
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	free(tmp);
	return rc;
}

/*
 * Open the directory that holds object `name`, one component at a time from
 * the root, never through a link; with `create`, make what is missing. Errors
 * other than a link name the object: "unable to <what> '<path>'".
 */
static int fs_open_dir(struct fs *fs, const char *name, int create, const char *what, int *out)
{
	*out = -1;
	int rc = create ? fs_mkdirs(fs, fs->root) : CAIRN_OK;
	if (rc)
		return rc;
	int dfd = open(fs->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fs_fail_rel(fs, errno, what, name);
	const char *last = strrchr(name, '/');
	char *rel = strndup(name, last ? (size_t)(last - name) : 0);
	if (!rel) {
		close(dfd);
		return CAIRN_E_NOMEM;
	}
	for (char *c = rel, *next = NULL; *rel && c && !rc; c = next) {
		/* cut rel after this component, so that rel names the path so far */
		char *slash = strchr(c, '/');
		next = slash ? slash + 1 : NULL;
		if (slash)
			*slash = '\0';
		if (create && mkdirat(dfd, c, 0700) != 0 && errno != EEXIST) {
			rc = fs_fail_rel(fs, errno, "create directory", rel);
			break;
		}
		int sub = openat(dfd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			int err = errno;
			struct stat st;
			if (fstatat(dfd, c, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				rc = fs_refuse_link(fs, rel);
			else
				rc = fs_fail_rel(fs, err, what, name);
		}
		close(dfd);
		dfd = sub;
		if (slash)
			*slash = '/';
	}
	free(rel);
	if (rc) {
		if (dfd >= 0)
			close(dfd);
		return rc;
	}
	*out = dfd;
	return CAIRN_OK;
}

static int fs_not_file(struct fs *fs, const char *rel)
{
	char *path = fs_join(fs->root, rel);
	if (!path)
		return CAIRN_E_NOMEM;
	int rc = fs->host->set_error(fs->host, CAIRN_E_NOT_FOUND, "'%s' is not a file", path);
	free(path);
	return rc;
}

static const char *fs_base(const char *name)
{
	const char *slash = strrchr(name, '/');
	return slash ? slash + 1 : name;
}

static void fs_writer_free(struct fs_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->dirfd >= 0)
		close(w->dirfd);
	free(w->tmp);
	free(w->base);
	free(w->final);
	free(w);
}

/* Create and lock the writer's temporary; then make sure the name is still free. */
static int fs_writer_claim(struct fs_writer *w)
{
	struct fs *fs = w->fs;
	/*
	 * housekeep removes an unlocked temporary only while it holds the
	 * directory exclusively; holding it shared from O_EXCL to flock closes
	 * the moment in which our new temporary exists but is not locked yet.
	 * Where flock is unsupported housekeep cannot lock either and removes
	 * nothing, so going on without the lock is safe.
	 */
	int dir_locked = fs_flock(w->dirfd, LOCK_SH) == 0;
	w->fd = openat(w->dirfd, w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		       0600);
	int err = errno;
	int busy = w->fd >= 0 && fs_flock(w->fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	if (dir_locked)
		fs_flock(w->dirfd, LOCK_UN);
	if (w->fd < 0 && err == EEXIST)
		return fs->host->set_error(fs->host, CAIRN_E_EXISTS,
					   "'%s' is being written by another writer (or a dead one "
					   "left its temporary file)",
					   w->final);
	if (w->fd < 0)
		return fs_fail(fs, err, "create", w->final);
	int rc = CAIRN_OK;
	struct stat st;
	if (busy)
		rc = fs->host->set_error(fs->host, CAIRN_E_IO,
					 "unable to lock the temporary file of '%s'", w->final);
	else if (fstatat(w->dirfd, w->base, &st, AT_SYMLINK_NOFOLLOW) == 0)
		rc = fs->host->set_error(fs->host, CAIRN_E_EXISTS,
					 "'%s' already exists; not replaced", w->final);
	else if (errno != ENOENT || fchmod(w->fd, 0600) != 0)
		rc = fs_fail(fs, errno, "create", w->final); /* fchmod: exactly 0600, whatever the umask */
	if (rc)
		unlinkat(w->dirfd, w->tmp, 0);
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
	w->dirfd = -1;
	const char *base = fs_base(name);
	size_t len = strlen(base) + sizeof("..tmp");
	w->base = strdup(base);
	w->final = fs_join(fs->root, name);
	w->tmp = malloc(len);
	if (!w->base || !w->final || !w->tmp) {
		fs_writer_free(w);
		return CAIRN_E_NOMEM;
	}
	snprintf(w->tmp, len, ".%s.tmp", base);
	int rc = fs_open_dir(fs, name, 1, "create", &w->dirfd);
	if (!rc)
		rc = fs_writer_claim(w);
	if (rc) {
		fs_writer_free(w);
		return rc;
	}
	*writer = w;
	return CAIRN_OK;
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
			return fs_fail(w->fs, errno, "write", w->final);
		}
		p += n;
		len -= (size_t)n;
	}
	return CAIRN_OK;
}

static void fs_writer_abort(void *writer)
{
	struct fs_writer *w = writer;
	if (!w)
		return;
	unlinkat(w->dirfd, w->tmp, 0);
	fs_writer_free(w);
}

static int fs_writer_commit(void *writer)
{
	struct fs_writer *w = writer;
	struct fs *fs = w->fs;
	int rc = CAIRN_OK;
	if (fsync(w->fd) != 0)
		rc = fs_fail(fs, errno, "sync", w->final);
	if (!rc && linkat(w->dirfd, w->tmp, w->dirfd, w->base, 0) != 0) {
		if (errno == EEXIST)
			rc = fs->host->set_error(fs->host, CAIRN_E_EXISTS,
						 "'%s' already exists; not replaced", w->final);
		else
			rc = fs_fail(fs, errno, "publish", w->final);
	}
	/* still locked: the name goes before the lock does, so housekeep never sees it free */
	unlinkat(w->dirfd, w->tmp, 0);
	if (!rc && fsync(w->dirfd) != 0)
		rc = fs_fail(fs, errno, "sync the directory of", w->final);
	/*
	 * close() comes after the link, so an error it might report could not
	 * unpublish the object anyway; fsync above already made the data durable.
	 */
	fs_writer_free(w);
	return rc;
}

static int fs_reader_open(void *inst, const char *name, void **reader)
{
	struct fs *fs = inst;
	int dfd;
	int rc = fs_open_dir(fs, name, 0, "open", &dfd);
	if (rc)
		return rc;
	int fd = openat(dfd, fs_base(name), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int err = errno;
	close(dfd);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		fd = -1;
		err = EISDIR;
	}
	if (fd < 0)
		return err == ELOOP ? fs_refuse_link(fs, name) : fs_fail_rel(fs, err, "open", name);
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

/*
 * One walk serves list() and housekeep(), so that both see exactly the same
 * directories and refuse the same links.
 */
struct fs_walk {
	struct fs *fs;
	const char *prefix;
	size_t plen;
	int housekeep;    /* lock each directory; visit temporaries, not objects */
	cairn_list_cb cb; /* list only */
	void *ud;
};

/* Temporaries are ".<final name>.tmp" (fs_writer_begin). */
static int fs_is_temp(const char *entry)
{
	size_t n = strlen(entry);
	return n > 5 && entry[0] == '.' && entry[1] != '.' && strcmp(entry + n - 4, ".tmp") == 0;
}

/* Remove the temporary `entry` of dfd if no writer holds its lock. */
static void fs_reap(struct fs_walk *w, int dfd, const char *entry, const char *name,
		    const struct stat *seen)
{
	const struct cairn_host *host = w->fs->host;
	int fd = openat(dfd, entry, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat now;
	if (fs_flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			CAIRN_LOG_DEBUG(host, FS_NAME, "kept '%s': its writer is still running", name);
		else
			CAIRN_LOG_DEBUG(host, FS_NAME, "kept '%s': unable to lock it: %s", name,
					strerror(errno));
	} else if (fstat(fd, &now) == 0 && now.st_dev == seen->st_dev &&
		   now.st_ino == seen->st_ino) {
		/* the inode check: unlink only the file whose lock we hold */
		if (unlinkat(dfd, entry, 0) == 0)
			CAIRN_LOG_INFO(host, FS_NAME,
				       "removed '%s', left behind by a backup that did not finish", name);
		else
			CAIRN_LOG_WARN(host, FS_NAME, "unable to remove the leftover '%s': %s", name,
				       strerror(errno));
	}
	close(fd);
}

/* Could names below `name` (a directory or link of length nl) match the prefix? */
static int fs_walk_reaches(const struct fs_walk *w, const char *name, size_t nl)
{
	if (nl >= w->plen)
		return strncmp(name, w->prefix, w->plen) == 0;
	return strncmp(name, w->prefix, nl) == 0 && w->prefix[nl] == '/';
}

/* Walk directory dfd (taken: closed here), which is root/<rel>; rel is "" or ends with '/'. */
static int fs_walk_dir(struct fs_walk *w, int dfd, const char *rel, int depth)
{
	struct fs *fs = w->fs;
	/* without the lock a live writer's fresh temporary could look abandoned: reap nothing */
	int locked = w->housekeep && fs_flock(dfd, LOCK_EX) == 0;
	DIR *d = fdopendir(dfd);
	if (!d) {
		int err = errno;
		close(dfd);
		return fs_fail_rel(fs, err, "list", rel);
	}
	int rc = CAIRN_OK;
	struct dirent *e;
	while (rc == CAIRN_OK && (e = readdir(d)) != NULL) {
		const char *en = e->d_name;
		if (strcmp(en, ".") == 0 || strcmp(en, "..") == 0)
			continue;
		size_t nl = strlen(rel) + strlen(en);
		char *name = malloc(nl + 2);
		if (!name) {
			rc = CAIRN_E_NOMEM;
			break;
		}
		snprintf(name, nl + 2, "%s%s", rel, en);
		struct stat st;
		if (!fs_walk_reaches(w, name, nl) || fstatat(dfd, en, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			/* out of the prefix, or gone since readdir */
		} else if (en[0] == '.') {
			/* hidden: writers' temporaries, never objects */
			if (locked && S_ISREG(st.st_mode) && nl >= w->plen && fs_is_temp(en))
				fs_reap(w, dfd, en, name, &st);
		} else if (S_ISLNK(st.st_mode)) {
			rc = fs_refuse_link(fs, name);
		} else if (S_ISDIR(st.st_mode) && depth < 64) {
			int sub = openat(dfd, en, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				name[nl] = '/';
				name[nl + 1] = '\0';
				rc = fs_walk_dir(w, sub, name, depth + 1);
			} else if (errno == ELOOP) {
				rc = fs_refuse_link(fs, name); /* replaced by a link since fstatat */
			} else if (errno != ENOENT) {
				rc = fs_fail_rel(fs, errno, "list", name);
			}
		} else if (S_ISREG(st.st_mode) && !w->housekeep && nl >= w->plen) {
			struct cairn_object_info info = {
				.struct_size = sizeof(info),
				.name = name,
				.size = (uint64_t)st.st_size,
				.mtime = (int64_t)st.st_mtime,
			};
			rc = w->cb(w->ud, &info);
		}
		free(name);
	}
	closedir(d); /* releases the directory lock */
	return rc;
}

static int fs_walk(struct fs_walk *w)
{
	int dfd = open(w->fs->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT || errno == ENOTDIR ? CAIRN_OK
							   : fs_fail(w->fs, errno, "list", w->fs->root);
	return fs_walk_dir(w, dfd, "", 0);
}

static int fs_list(void *inst, const char *prefix, cairn_list_cb cb, void *ud)
{
	struct fs_walk w = {.fs = inst, .prefix = prefix ? prefix : "", .cb = cb, .ud = ud};
	w.plen = strlen(w.prefix);
	return fs_walk(&w);
}

static int fs_housekeep(void *inst, const char *prefix)
{
	struct fs_walk w = {.fs = inst, .prefix = prefix ? prefix : "", .housekeep = 1};
	w.plen = strlen(w.prefix);
	return fs_walk(&w);
}

static int fs_stat(void *inst, const char *name, struct cairn_object_info *out)
{
	struct fs *fs = inst;
	int dfd;
	int rc = fs_open_dir(fs, name, 0, "stat", &dfd);
	if (rc)
		return rc;
	struct stat st;
	if (fstatat(dfd, fs_base(name), &st, AT_SYMLINK_NOFOLLOW) != 0)
		rc = fs_fail_rel(fs, errno, "stat", name);
	else if (S_ISLNK(st.st_mode))
		rc = fs_refuse_link(fs, name);
	else if (!S_ISREG(st.st_mode))
		rc = fs_not_file(fs, name);
	close(dfd);
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
	int dfd;
	int rc = fs_open_dir(fs, name, 0, "remove", &dfd);
	if (rc)
		return rc;
	if (unlinkat(dfd, fs_base(name), 0) != 0)
		rc = fs_fail_rel(fs, errno, "remove", name);
	else if (fsync(dfd) != 0)
		rc = fs_fail_rel(fs, errno, "sync the directory of", name);
	close(dfd);
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
	.housekeep = fs_housekeep,
};

static const char *const fs_schemes[] = {"file", NULL};

CAIRN_PLUGIN_DEFINE(.name = FS_NAME, .version = "1.1.0",
		    .description = "local filesystem storage (atomic, 0600 files)",
		    .kind = CAIRN_PLUGIN_KIND_STORAGE, .schemes = fs_schemes,
		    .vtable = &fs_vtable, .abi_minor = 2 /* housekeep */)
CAIRN_PLUGIN_NOTE(storage, FS_NAME, "file", 2)
