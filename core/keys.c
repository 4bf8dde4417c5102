/* keys.c — see keys.h. */
#define _POSIX_C_SOURCE 200809L
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cairn/status.h"
#include "error.h"

#define RECIPIENT_TAG "cairn-recipient-1"
#define IDENTITY_TAG "cairn-identity-1"
#define KEYFILE_MAX 4096

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/*
 * Decode standard base64 whose '=' padding may be present or not. libsodium
 * wants to be told which; stripping the padding ourselves and decoding with
 * the no-padding variant accepts both, and we still insist that padding, when
 * present, completes a 4-character group. Returns 0, or -1 if not base64.
 */
static int b64_decode(const char *s, size_t n, unsigned char *out, size_t cap, size_t *len)
{
	size_t pad = 0;
	while (n > 0 && s[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (pad && (n + pad) % 4 != 0)
		return -1;
	if (n % 4 == 1)
		return -1;
	size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	if (need > cap)
		return -1;
	const char *end = NULL;
	if (sodium_base642bin(out, cap, s, n, NULL, len, &end,
			      sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
	    end != s + n)
		return -1;
	return 0;
}

/* Decoded size of n base64 characters (padding stripped), as a hint. */
static size_t b64_size(const char *s, size_t n)
{
	while (n > 0 && s[n - 1] == '=')
		n--;
	return n / 4 * 3 + (n % 4 > 1 ? n % 4 - 1 : 0);
}

int core_key_decode_instance(const char *b64, unsigned char *out, size_t cap, size_t *len)
{
	if (!b64)
		return core_error_set(CAIRN_E_INVALID, "encryption key is missing");
	const char *s = b64;
	size_t n = strlen(s);
	while (n > 0 && is_space(*s)) {
		s++;
		n--;
	}
	while (n > 0 && is_space(s[n - 1]))
		n--;

	size_t size = b64_size(s, n);
	if (size != 16 && size != 24 && size != 32 && size != 64) {
		/* Report "not base64" before a size complaint when both apply. */
		for (size_t i = 0; i < n; i++) {
			char c = s[i];
			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			      (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '='))
				return core_error_set(CAIRN_E_INVALID,
						      "encryption key is not valid base64");
		}
		return core_error_set(CAIRN_E_INVALID,
				      "encryption key must be base64 of 16, 24, 32 or 64 bytes "
				      "(got %zu bytes)", size);
	}

	unsigned char tmp[CORE_KEY_INSTANCE_MAX];
	size_t got = 0;
	int rc = CAIRN_OK;
	if (b64_decode(s, n, tmp, sizeof(tmp), &got) != 0)
		rc = core_error_set(CAIRN_E_INVALID, "encryption key is not valid base64");
	else if (got > cap)
		rc = core_error_set(CAIRN_E_INVALID, "encryption key buffer too small");
	else {
		memcpy(out, tmp, got);
		*len = got;
	}
	sodium_memzero(tmp, sizeof(tmp));
	return rc;
}

static int errno_status(int e)
{
	switch (e) {
	case ENOENT:
		return CAIRN_E_NOT_FOUND;
	case EACCES:
	case EPERM:
		return CAIRN_E_PERMISSION;
	case EEXIST:
		return CAIRN_E_EXISTS;
	case ENOSPC:
	case EDQUOT:
		return CAIRN_E_NO_SPACE;
	default:
		return CAIRN_E_IO;
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Create `path` exclusively with `mode` and write `text`; removes it on failure. */
static int create_file(const char *path, mode_t mode, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		int e = errno;
		if (e == EEXIST)
			return core_error_set(CAIRN_E_EXISTS,
					      "'%s' already exists; refusing to overwrite it", path);
		return core_error_set(errno_status(e), "unable to create '%s': %s", path,
				      strerror(e));
	}
	/* The umask can only clear bits, but be explicit for the secret file. */
	if ((mode & 077) == 0 && fchmod(fd, mode) != 0)
		goto fail;
	if (write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	return CAIRN_OK;
fail:;
	int e = errno;
	if (fd >= 0)
		close(fd);
	unlink(path);
	return core_error_set(errno_status(e), "unable to write '%s': %s", path, strerror(e));
}

int core_key_generate(const char *path)
{
	if (sodium_init() < 0)
		return core_error_set(CAIRN_E_GENERIC, "unable to initialise libsodium");
	size_t plen = strlen(path);
	char pubpath[4096], keypath[4096];
	if (plen + 5 > sizeof(pubpath))
		return core_error_set(CAIRN_E_INVALID, "key path '%s' is too long", path);
	memcpy(pubpath, path, plen);
	memcpy(pubpath + plen, ".pub", 5);
	memcpy(keypath, path, plen);
	memcpy(keypath + plen, ".key", 5);

	struct core_identity id;
	char pk64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	char sk64[sizeof(pk64)];
	char text[256];
	crypto_box_keypair(id.pk, id.sk);
	sodium_bin2base64(pk64, sizeof(pk64), id.pk, sizeof(id.pk), sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(sk64, sizeof(sk64), id.sk, sizeof(id.sk), sodium_base64_VARIANT_ORIGINAL);

	/* The secret half first: if it can't be made, no orphan .pub appears. */
	snprintf(text, sizeof(text), IDENTITY_TAG " %s %s\n", pk64, sk64);
	int rc = create_file(keypath, 0600, text);
	if (rc == CAIRN_OK) {
		snprintf(text, sizeof(text), RECIPIENT_TAG " %s\n", pk64);
		rc = create_file(pubpath, 0644, text);
		if (rc != CAIRN_OK)
			unlink(keypath);
	}
	sodium_memzero(&id, sizeof(id));
	sodium_memzero(sk64, sizeof(sk64));
	sodium_memzero(text, sizeof(text));
	return rc;
}

/*
 * Read a small key file into buf (NUL-terminated) and split it into at most
 * three whitespace-separated tokens. Returns the number of tokens in *ntok.
 */
static int read_key_file(const char *path, char *buf, size_t cap, char **tok, size_t *ntok)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return core_error_set(errno_status(e), "unable to open key file '%s': %s", path,
				      strerror(e));
	}
	size_t used = 0;
	for (;;) {
		ssize_t r = read(fd, buf + used, cap - 1 - used);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			return core_error_set(errno_status(e), "unable to read key file '%s': %s",
					      path, strerror(e));
		}
		if (r == 0)
			break;
		used += (size_t)r;
		if (used == cap - 1) {
			close(fd);
			return core_error_set(CAIRN_E_INVALID,
					      "'%s' is not a cairn key file (too large)", path);
		}
	}
	close(fd);
	buf[used] = '\0';

	*ntok = 0;
	char *p = buf;
	for (;;) {
		while (*p && is_space(*p))
			p++;
		if (!*p)
			break;
		if (*ntok == 3)
			return core_error_set(CAIRN_E_INVALID,
					      "'%s' is not a cairn key file (unexpected extra text)",
					      path);
		tok[(*ntok)++] = p;
		while (*p && !is_space(*p))
			p++;
		if (*p)
			*p++ = '\0';
	}
	return CAIRN_OK;
}

static int decode_key32(const char *s, unsigned char out[32])
{
	unsigned char tmp[32];
	size_t got = 0;
	int ok = b64_decode(s, strlen(s), tmp, sizeof(tmp), &got) == 0 && got == 32;
	if (ok)
		memcpy(out, tmp, 32);
	sodium_memzero(tmp, sizeof(tmp));
	return ok ? 0 : -1;
}

/* Parse an identity file's tokens into *id, checking pk against sk. */
static int parse_identity(const char *path, char **tok, size_t ntok, struct core_identity *id)
{
	if (ntok != 3 || strcmp(tok[0], IDENTITY_TAG) != 0)
		return core_error_set(CAIRN_E_INVALID,
				      "'%s' is not a cairn identity file (expected '" IDENTITY_TAG
				      " <public key> <secret key>')", path);
	struct core_identity tmp;
	unsigned char derived[32];
	int rc = CAIRN_OK;
	if (decode_key32(tok[1], tmp.pk) != 0 || decode_key32(tok[2], tmp.sk) != 0)
		rc = core_error_set(CAIRN_E_INVALID,
				    "'%s' holds a key that is not base64 of 32 bytes", path);
	else if (crypto_scalarmult_base(derived, tmp.sk) != 0 ||
		 sodium_memcmp(derived, tmp.pk, 32) != 0)
		rc = core_error_set(CAIRN_E_INVALID,
				    "'%s' is damaged: its public key does not match its secret key",
				    path);
	else
		memcpy(id, &tmp, sizeof(tmp));
	sodium_memzero(&tmp, sizeof(tmp));
	sodium_memzero(derived, sizeof(derived));
	return rc;
}

int core_key_load_identity(const char *path, struct core_identity *id)
{
	if (sodium_init() < 0)
		return core_error_set(CAIRN_E_GENERIC, "unable to initialise libsodium");
	char buf[KEYFILE_MAX];
	char *tok[3];
	size_t ntok = 0;
	int rc = read_key_file(path, buf, sizeof(buf), tok, &ntok);
	if (rc == CAIRN_OK)
		rc = parse_identity(path, tok, ntok, id);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

int core_key_load_recipient(const char *path, unsigned char pk[32])
{
	if (sodium_init() < 0)
		return core_error_set(CAIRN_E_GENERIC, "unable to initialise libsodium");
	char buf[KEYFILE_MAX];
	char *tok[3];
	size_t ntok = 0;
	int rc = read_key_file(path, buf, sizeof(buf), tok, &ntok);
	if (rc == CAIRN_OK) {
		if (ntok >= 1 && strcmp(tok[0], IDENTITY_TAG) == 0) {
			struct core_identity id;
			rc = parse_identity(path, tok, ntok, &id);
			if (rc == CAIRN_OK)
				memcpy(pk, id.pk, 32);
			sodium_memzero(&id, sizeof(id));
		} else if (ntok != 2 || strcmp(tok[0], RECIPIENT_TAG) != 0) {
			rc = core_error_set(CAIRN_E_INVALID,
					    "'%s' is not a cairn recipient file (expected '"
					    RECIPIENT_TAG " <public key>')", path);
		} else if (decode_key32(tok[1], pk) != 0) {
			rc = core_error_set(CAIRN_E_INVALID,
					    "'%s' holds a key that is not base64 of 32 bytes", path);
		}
	}
	sodium_memzero(buf, sizeof(buf));
	return rc;
}
