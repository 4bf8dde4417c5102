/* test_envelope.c — round trips, wrong keys, every kind of damage, both versions, rekey. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "buf.h"
#include "cairn/status.h"
#include "envelope.h"
#include "error.h"
#include "keys.h"

/* ---- in-memory sink and source ---- */

struct mem_src {
	const unsigned char *data;
	size_t len, pos;
	size_t chunk; /* largest piece handed out per call (exercises short reads) */
	int eof_calls;
};

static int buf_sink(void *ud, const void *p, size_t n)
{
	return core_buf_append(ud, p, n);
}

static int failing_sink(void *ud, const void *p, size_t n)
{
	(void)p;
	(void)n;
	int *calls = ud;
	if ((*calls)++ >= 1)
		return CAIRN_E_NO_SPACE;
	return 0;
}

static int mem_source(void *ud, void *buf, size_t cap, size_t *got)
{
	struct mem_src *s = ud;
	size_t n = s->len - s->pos;
	if (n > cap)
		n = cap;
	if (s->chunk && n > s->chunk)
		n = s->chunk;
	memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	*got = n;
	if (n == 0)
		s->eof_calls++;
	return 0;
}

static int failing_source(void *ud, void *buf, size_t cap, size_t *got)
{
	(void)ud;
	(void)buf;
	(void)cap;
	*got = 0;
	return CAIRN_E_CONNECT;
}

/* ---- fixtures ---- */

static unsigned char instance_key[32];
static unsigned char other_instance_key[24];
static struct core_identity ident, other_ident;
static unsigned char recipient[1][32];

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(instance_key, sizeof(instance_key));
	randombytes_buf(other_instance_key, sizeof(other_instance_key));
	crypto_box_keypair(ident.pk, ident.sk);
	crypto_box_keypair(other_ident.pk, other_ident.sk);
	memcpy(recipient[0], ident.pk, 32);
	return 0;
}

/* Write `len` bytes of `data` in pieces of `piece` bytes (0 = one call). */
static int seal(const struct core_keyring *kr, const void *data, size_t len, size_t piece,
		struct core_buf *out)
{
	struct core_env_writer *w = NULL;
	int rc = core_env_writer_new(kr, buf_sink, out, &w);
	if (rc)
		return rc;
	const unsigned char *p = data;
	while (rc == 0 && len > 0) {
		size_t n = piece && piece < len ? piece : len;
		rc = core_env_write(w, p, n);
		p += n;
		len -= n;
	}
	if (rc == 0)
		rc = core_env_finish(w);
	core_env_writer_free(w);
	return rc;
}

/* Write a whole archive of envelope `version` in one piece. */
static int seal_version(unsigned version, const struct core_keyring *kr, const void *data,
			size_t len, struct core_buf *out)
{
	struct core_env_writer *w = NULL;
	int rc = core_env_writer_new_version(version, kr, buf_sink, out, &w);
	if (rc == 0 && len)
		rc = core_env_write(w, data, len);
	if (rc == 0)
		rc = core_env_finish(w);
	core_env_writer_free(w);
	return rc;
}

/* Read an archive back completely; `chunk` limits the source's pieces. */
static int unseal(const struct core_keyring *kr, const void *arc, size_t arc_len, size_t chunk,
		  struct core_buf *out, struct core_env_info *info)
{
	struct mem_src src = {arc, arc_len, 0, chunk, 0};
	struct core_env_reader *r = NULL;
	core_error_clear();
	int rc = core_env_reader_new(kr, mem_source, &src, &r);
	if (rc) {
		assert_null(r);
		assert_int_equal(core_error_status(), rc);
		assert_true(core_error_message()[0] != '\0');
		return rc;
	}
	if (info)
		core_env_reader_info(r, info);
	unsigned char buf[7777];
	size_t got = 0, cap = 1;
	for (;;) {
		rc = core_env_read(r, buf, cap, &got);
		if (rc || got == 0)
			break;
		if (out)
			core_buf_append(out, buf, got);
		cap = cap * 3 % sizeof(buf) + 1; /* vary the caller's buffer size */
	}
	if (rc == 0) {
		assert_int_equal(src.pos, arc_len);
		/* A finished reader stays finished. */
		assert_int_equal(core_env_read(r, buf, sizeof(buf), &got), 0);
		assert_int_equal(got, 0);
	} else {
		assert_int_equal(core_error_status(), rc);
		assert_true(core_error_message()[0] != '\0');
		/* A failed reader stays failed. */
		assert_int_equal(core_env_read(r, buf, sizeof(buf), &got), rc);
	}
	core_env_reader_free(r);
	return rc;
}

static void round_trip(const struct core_keyring *wkr, const struct core_keyring *rkr,
		       size_t len, size_t piece, int want_opened_by)
{
	unsigned char *data = malloc(len ? len : 1);
	assert_non_null(data);
	randombytes_buf(data, len);
	struct core_buf arc = CORE_BUF_INIT, back = CORE_BUF_INIT;
	assert_int_equal(seal(wkr, data, len, piece, &arc), 0);
	struct core_env_info info;
	assert_int_equal(unseal(rkr, arc.data, arc.len, 0, &back, &info), 0);
	assert_int_equal(back.len, len);
	if (len)
		assert_memory_equal(back.data, data, len);
	assert_int_equal(info.opened_by, want_opened_by);
	assert_int_equal(info.encrypted, !wkr->no_encryption);
	core_buf_free(&arc);
	core_buf_free(&back);
	free(data);
}

static const struct core_keyring kr_instance = {.instance_key = instance_key,
						.instance_key_len = sizeof(instance_key)};
static const struct core_keyring kr_plain = {.no_encryption = 1};
static const struct core_keyring kr_empty = {0};

/* ---- round trips ---- */

static void test_instance_round_trip(void **state)
{
	(void)state;
	round_trip(&kr_instance, &kr_instance, 1000, 0, CORE_ENV_SLOT_INSTANCE);
}

static void test_recipient_round_trip(void **state)
{
	(void)state;
	struct core_keyring w = {.recipients = (const unsigned char (*)[32])recipient,
				 .n_recipients = 1};
	struct core_identity ids[2] = {other_ident, ident};
	struct core_keyring r = {.identities = ids, .n_identities = 2};
	round_trip(&w, &r, 5000, 333, CORE_ENV_SLOT_RECIPIENT);
}

static void test_plain_round_trip(void **state)
{
	(void)state;
	round_trip(&kr_plain, &kr_empty, 70000, 4097, CORE_ENV_SLOT_PLAIN);
	/* Keys given to the reader don't matter for a plain archive. */
	round_trip(&kr_plain, &kr_instance, 10, 0, CORE_ENV_SLOT_PLAIN);
}

static void test_sizes(void **state)
{
	(void)state;
	const size_t sizes[] = {0, 1, 65535, 65536, 65537, 131072, 1048576 + 12345};
	const size_t pieces[] = {0, 1, 7, 4093, 65536, 65537, 100003};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t piece = pieces[i % (sizeof(pieces) / sizeof(pieces[0]))];
		if (sizes[i] > 200000 && piece == 1)
			piece = 9973;
		round_trip(&kr_instance, &kr_instance, sizes[i], piece, CORE_ENV_SLOT_INSTANCE);
	}
}

static size_t count_messages(const unsigned char *arc, size_t len)
{
	size_t pos = 16 + (arc[12] | arc[13] << 8 | (size_t)arc[14] << 16 | (size_t)arc[15] << 24);
	size_t n = 0;
	while (pos + 4 <= len) {
		size_t clen = arc[pos] | arc[pos + 1] << 8 | (size_t)arc[pos + 2] << 16 |
			      (size_t)arc[pos + 3] << 24;
		pos += 4 + clen;
		n++;
	}
	assert_int_equal(pos, len);
	return n;
}

static void test_message_framing(void **state)
{
	(void)state;
	static unsigned char data[65537];
	struct core_buf arc = CORE_BUF_INIT;
	assert_int_equal(seal(&kr_instance, data, 0, 0, &arc), 0);
	assert_int_equal(count_messages((unsigned char *)arc.data, arc.len), 1);
	core_buf_reset(&arc);
	assert_int_equal(seal(&kr_instance, data, 65536, 1000, &arc), 0);
	assert_int_equal(count_messages((unsigned char *)arc.data, arc.len), 1);
	core_buf_reset(&arc);
	assert_int_equal(seal(&kr_instance, data, 65537, 0, &arc), 0);
	assert_int_equal(count_messages((unsigned char *)arc.data, arc.len), 2);
	/* Fixed header bytes as documented. */
	const unsigned char magic[8] = {0x43, 0x41, 0x49, 0x52, 0x4E, 0x00, 0x0D, 0x0A};
	assert_memory_equal(arc.data, magic, 8);
	assert_int_equal(arc.data[8], CORE_ENV_VERSION);
	assert_int_equal(arc.data[9], 0);
	assert_int_equal(arc.data[10], 1);
	assert_int_equal(arc.data[11], 0);
	assert_int_equal((unsigned char)arc.data[16], 1);                       /* one slot */
	assert_int_equal((unsigned char)arc.data[17], CORE_ENV_SLOT_INSTANCE);
	assert_int_equal((unsigned char)arc.data[18], 80);
	core_buf_free(&arc);
}

static void test_instance_plus_recipient(void **state)
{
	(void)state;
	struct core_keyring w = {.instance_key = instance_key,
				 .instance_key_len = sizeof(instance_key),
				 .recipients = (const unsigned char (*)[32])recipient,
				 .n_recipients = 1};
	struct core_keyring by_id = {.identities = &ident, .n_identities = 1};
	round_trip(&w, &kr_instance, 3000, 0, CORE_ENV_SLOT_INSTANCE);
	round_trip(&w, &by_id, 3000, 0, CORE_ENV_SLOT_RECIPIENT);

	struct core_buf arc = CORE_BUF_INIT;
	assert_int_equal(seal(&w, "x", 1, 0, &arc), 0);
	struct core_env_info info;
	assert_int_equal(unseal(&kr_instance, arc.data, arc.len, 0, NULL, &info), 0);
	assert_int_equal(info.slot_types_mask,
			 1u << CORE_ENV_SLOT_INSTANCE | 1u << CORE_ENV_SLOT_RECIPIENT);

	struct core_keyring neither = {.instance_key = other_instance_key,
				       .instance_key_len = sizeof(other_instance_key),
				       .identities = &other_ident,
				       .n_identities = 1};
	assert_int_equal(unseal(&neither, arc.data, arc.len, 0, NULL, NULL), CAIRN_E_AUTH);
	const char *m = core_error_message();
	assert_non_null(strstr(m, "no key opens this backup"));
	assert_non_null(strstr(m, "it has slots: instance key"));
	assert_non_null(strstr(m, "recipient"));
	assert_non_null(strstr(m, "tried: instance key"));
	assert_non_null(strstr(m, "identity"));
	assert_int_equal(unseal(&kr_empty, arc.data, arc.len, 0, NULL, NULL), CAIRN_E_AUTH);
	assert_non_null(strstr(core_error_message(), "tried: no key"));
	assert_int_equal(unseal(NULL, arc.data, arc.len, 0, NULL, NULL), CAIRN_E_AUTH);
	core_buf_free(&arc);
}

static void test_wrong_instance_key(void **state)
{
	(void)state;
	struct core_buf arc = CORE_BUF_INIT;
	assert_int_equal(seal(&kr_instance, "secret", 6, 0, &arc), 0);
	struct core_keyring wrong = {.instance_key = other_instance_key,
				     .instance_key_len = sizeof(other_instance_key)};
	assert_int_equal(unseal(&wrong, arc.data, arc.len, 0, NULL, NULL), CAIRN_E_AUTH);
	/* A key differing in one bit is just as wrong. */
	unsigned char near[32];
	memcpy(near, instance_key, 32);
	near[31] ^= 1;
	struct core_keyring nearly = {.instance_key = near, .instance_key_len = 32};
	assert_int_equal(unseal(&nearly, arc.data, arc.len, 0, NULL, NULL), CAIRN_E_AUTH);
	/* A truncated prefix of the right key is a different key. */
	struct core_keyring shorter = {.instance_key = instance_key, .instance_key_len = 16};
	assert_int_equal(unseal(&shorter, arc.data, arc.len, 0, NULL, NULL), CAIRN_E_AUTH);
	core_buf_free(&arc);
}

static void test_passphrase(void **state)
{
	(void)state;
	struct core_keyring w = {.passphrase = "correct horse battery staple",
				 .recipients = (const unsigned char (*)[32])recipient,
				 .n_recipients = 1};
	struct core_buf arc = CORE_BUF_INIT, back = CORE_BUF_INIT;
	assert_int_equal(seal(&w, "hello passphrase", 16, 0, &arc), 0);
	struct core_keyring good = {.passphrase = "correct horse battery staple"};
	struct core_env_info info;
	assert_int_equal(unseal(&good, arc.data, arc.len, 0, &back, &info), 0);
	assert_int_equal(back.len, 16);
	assert_memory_equal(back.data, "hello passphrase", 16);
	assert_int_equal(info.opened_by, CORE_ENV_SLOT_PASSPHRASE);
	struct core_keyring bad = {.passphrase = "correct horse battery stapler"};
	assert_int_equal(unseal(&bad, arc.data, arc.len, 0, NULL, NULL), CAIRN_E_AUTH);
	assert_non_null(strstr(core_error_message(), "tried: passphrase"));
	/* The recipient opens it without running Argon2 at all. */
	struct core_keyring by_id = {.identities = &ident, .n_identities = 1, .passphrase = "nope"};
	assert_int_equal(unseal(&by_id, arc.data, arc.len, 0, NULL, &info), 0);
	assert_int_equal(info.opened_by, CORE_ENV_SLOT_RECIPIENT);

	/* Hostile Argon2 parameters are refused before any work is done. */
	size_t slot = 16 + 1 + 3; /* passphrase slot body (first slot) */
	assert_int_equal((unsigned char)arc.data[16 + 1], CORE_ENV_SLOT_PASSPHRASE);
	struct core_buf evil = CORE_BUF_INIT;
	core_buf_append(&evil, arc.data, arc.len);
	evil.data[slot + 8 + 5] = 0x10; /* memlimit 2^44 */
	assert_int_equal(unseal(&good, evil.data, evil.len, 0, NULL, NULL), CAIRN_E_CORRUPT);
	memcpy(evil.data, arc.data, arc.len);
	evil.data[slot + 3] = 0x01; /* opslimit 2^24 + 2 */
	assert_int_equal(unseal(&good, evil.data, evil.len, 0, NULL, NULL), CAIRN_E_CORRUPT);
	/* A few flips inside the slot (each costs one Argon2id run): never opens. */
	const size_t where[] = {slot, slot + 16, slot + 32, slot + 56, slot + 103};
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		memcpy(evil.data, arc.data, arc.len);
		evil.data[where[i]] ^= 0x01;
		int rc = unseal(&good, evil.data, evil.len, 0, NULL, NULL);
		if (rc != CAIRN_E_CORRUPT && rc != CAIRN_E_AUTH)
			fail_msg("flipping passphrase slot byte %zu gave %d", where[i] - slot, rc);
	}
	core_buf_free(&evil);
	core_buf_free(&arc);
	core_buf_free(&back);
}

static void test_all_slot_kinds(void **state)
{
	(void)state;
	unsigned char rec[3][32];
	struct core_identity ids[3];
	for (int i = 0; i < 3; i++) {
		crypto_box_keypair(ids[i].pk, ids[i].sk);
		memcpy(rec[i], ids[i].pk, 32);
	}
	struct core_keyring w = {.instance_key = instance_key,
				 .instance_key_len = sizeof(instance_key),
				 .passphrase = "pw",
				 .recipients = (const unsigned char (*)[32])rec,
				 .n_recipients = 3};
	for (int i = 0; i < 3; i++) {
		struct core_keyring r = {.identities = &ids[i], .n_identities = 1};
		round_trip(&w, &r, 100, 0, CORE_ENV_SLOT_RECIPIENT);
	}
	round_trip(&w, &kr_instance, 100, 0, CORE_ENV_SLOT_INSTANCE);
}

/* ---- writer argument checks ---- */

static void test_writer_rejects(void **state)
{
	(void)state;
	struct core_buf arc = CORE_BUF_INIT;
	struct core_env_writer *w = (void *)1;
	assert_int_equal(core_env_writer_new(&kr_empty, buf_sink, &arc, &w), CAIRN_E_INVALID);
	assert_null(w);
	assert_string_equal(core_error_message(), "no key to encrypt with");
	struct core_keyring shortkey = {.instance_key = instance_key, .instance_key_len = 8};
	assert_int_equal(core_env_writer_new(&shortkey, buf_sink, &arc, &w), CAIRN_E_INVALID);
	struct core_keyring empty_pw = {.passphrase = ""};
	assert_int_equal(core_env_writer_new(&empty_pw, buf_sink, &arc, &w), CAIRN_E_INVALID);
	static unsigned char many[33][32];
	for (int i = 0; i < 33; i++)
		crypto_box_keypair(many[i], (unsigned char[32]){0});
	struct core_keyring too_many = {.recipients = (const unsigned char (*)[32])many,
					.n_recipients = 33};
	assert_int_equal(core_env_writer_new(&too_many, buf_sink, &arc, &w), CAIRN_E_INVALID);
	too_many.n_recipients = 32;
	assert_int_equal(core_env_writer_new(&too_many, buf_sink, &arc, &w), 0);
	core_env_writer_free(w);
	assert_true(arc.len > 0); /* the header went out */
	static const unsigned char zero[1][32];
	struct core_keyring badpk = {.recipients = zero, .n_recipients = 1};
	assert_int_equal(core_env_writer_new(&badpk, buf_sink, &arc, &w), CAIRN_E_INVALID);
	assert_null(w);

	/* Misuse after finish. */
	core_buf_reset(&arc);
	assert_int_equal(core_env_writer_new(&kr_instance, buf_sink, &arc, &w), 0);
	assert_int_equal(core_env_finish(w), 0);
	assert_int_equal(core_env_write(w, "x", 1), CAIRN_E_INVALID);
	assert_int_equal(core_env_finish(w), CAIRN_E_INVALID);
	core_env_writer_free(w);
	core_env_writer_free(NULL);
	core_env_reader_free(NULL);
	core_buf_free(&arc);
}

static void test_callback_failures(void **state)
{
	(void)state;
	/* Sink fails on its second call (the first message): status propagates. */
	int calls = 0;
	struct core_env_writer *w = NULL;
	assert_int_equal(core_env_writer_new(&kr_instance, failing_sink, &calls, &w), 0);
	static unsigned char data[70000];
	assert_int_equal(core_env_write(w, data, sizeof(data)), CAIRN_E_NO_SPACE);
	assert_int_equal(core_env_write(w, data, 1), CAIRN_E_NO_SPACE);
	assert_int_equal(core_env_finish(w), CAIRN_E_NO_SPACE);
	core_env_writer_free(w);
	/* Sink fails on the header. */
	calls = 1;
	assert_int_equal(core_env_writer_new(&kr_instance, failing_sink, &calls, &w),
			 CAIRN_E_NO_SPACE);
	assert_null(w);

	struct core_env_reader *r = NULL;
	assert_int_equal(core_env_reader_new(&kr_instance, failing_source, NULL, &r),
			 CAIRN_E_CONNECT);
	assert_null(r);
}

/* ---- damage ---- */

static void small_archive(struct core_buf *arc)
{
	struct core_keyring w = {.instance_key = instance_key,
				 .instance_key_len = sizeof(instance_key),
				 .recipients = (const unsigned char (*)[32])recipient,
				 .n_recipients = 1};
	assert_int_equal(seal(&w, "a small but precious payload", 28, 0, arc), 0);
}

static const struct core_keyring kr_both = {.instance_key = instance_key,
					    .instance_key_len = sizeof(instance_key),
					    .identities = &ident,
					    .n_identities = 1};

/*
 * Flip every byte of the archive, three ways: the reader must refuse, except
 * for a byte in [ok_from, ok_to), which may leave it readable (version 2
 * binds neither the body nor a slot to the other slots: a damaged slot the
 * reader does not use goes unnoticed) — and then it must read the same
 * plaintext.
 */
static void flip_all(const struct core_buf *arc, const struct core_keyring *kr, size_t ok_from,
		     size_t ok_to)
{
	unsigned char *copy = malloc(arc->len);
	assert_non_null(copy);
	struct core_buf want = CORE_BUF_INIT, got = CORE_BUF_INIT;
	assert_int_equal(unseal(kr, arc->data, arc->len, 0, &want, NULL), 0);
	const unsigned char masks[] = {0x01, 0x80, 0xff};
	for (size_t i = 0; i < arc->len; i++) {
		for (size_t m = 0; m < sizeof(masks); m++) {
			memcpy(copy, arc->data, arc->len);
			copy[i] ^= masks[m];
			core_buf_reset(&got);
			int rc = unseal(kr, copy, arc->len, 0, &got, NULL);
			if (rc == 0 && i >= ok_from && i < ok_to) {
				assert_int_equal(got.len, want.len);
				assert_memory_equal(got.data, want.data, want.len);
				continue;
			}
			if (rc != CAIRN_E_CORRUPT && rc != CAIRN_E_AUTH && rc != CAIRN_E_UNSUPPORTED)
				fail_msg("flipping byte %zu with 0x%02x gave %d", i, masks[m], rc);
		}
	}
	core_buf_free(&want);
	core_buf_free(&got);
	free(copy);
}

/* small_archive's layout: its instance slot, then its recipient slot (type byte to end of body). */
#define SMALL_INSTANCE_SLOT 17, 17 + 3 + 80
#define SMALL_RECIPIENT_SLOT 17 + 3 + 80, 17 + 3 + 80 + 3 + 88
#define SMALL_BOTH_SLOTS 17, 17 + 3 + 80 + 3 + 88

static void test_flip_every_byte(void **state)
{
	(void)state;
	struct core_buf arc = CORE_BUF_INIT;
	small_archive(&arc);
	assert_int_equal(unseal(&kr_both, arc.data, arc.len, 0, NULL, NULL), 0);
	/* With both keys either slot may be damaged; with the instance key, the recipient's. */
	flip_all(&arc, &kr_both, SMALL_BOTH_SLOTS);
	flip_all(&arc, &kr_instance, SMALL_RECIPIENT_SLOT);
	core_buf_reset(&arc);
	assert_int_equal(seal(&kr_plain, "plain but checked", 17, 0, &arc), 0);
	flip_all(&arc, &kr_empty, 0, 0);
	core_buf_free(&arc);
}

/* Version 1 binds the body to every header byte: no flip anywhere goes unnoticed. */
static void test_flip_every_byte_v1(void **state)
{
	(void)state;
	struct core_buf arc = CORE_BUF_INIT;
	struct core_keyring w = {.instance_key = instance_key,
				 .instance_key_len = sizeof(instance_key),
				 .recipients = (const unsigned char (*)[32])recipient,
				 .n_recipients = 1};
	assert_int_equal(seal_version(1, &w, "a small but precious payload", 28, &arc), 0);
	flip_all(&arc, &kr_both, 0, 0);
	flip_all(&arc, &kr_instance, 0, 0);
	core_buf_reset(&arc);
	assert_int_equal(seal_version(1, &kr_plain, "plain but checked", 17, &arc), 0);
	flip_all(&arc, &kr_empty, 0, 0);
	core_buf_free(&arc);
}

static void test_flip_in_body_messages(void **state)
{
	(void)state;
	/* Three messages; a flip in the 2nd or 3rd names that message. */
	size_t len = 2 * 65536 + 100;
	unsigned char *data = calloc(1, len);
	struct core_buf arc = CORE_BUF_INIT;
	assert_int_equal(seal(&kr_instance, data, len, 0, &arc), 0);
	size_t hdr = 16 + 1 + 3 + 80 + 24;
	size_t second = hdr + 4 + 65536 + 17;
	arc.data[second + 4 + 100] ^= 0x20;
	assert_int_equal(unseal(&kr_instance, arc.data, arc.len, 0, NULL, NULL), CAIRN_E_CORRUPT);
	assert_string_equal(core_error_message(),
			    "archive is corrupted (authentication failed at message 2)");
	arc.data[second + 4 + 100] ^= 0x20;
	arc.data[arc.len - 1] ^= 0x20;
	assert_int_equal(unseal(&kr_instance, arc.data, arc.len, 0, NULL, NULL), CAIRN_E_CORRUPT);
	assert_string_equal(core_error_message(),
			    "archive is corrupted (authentication failed at message 3)");
	core_buf_free(&arc);
	free(data);
}

static void test_truncate_everywhere(void **state)
{
	(void)state;
	struct core_buf arc = CORE_BUF_INIT;
	small_archive(&arc);
	for (size_t n = 0; n < arc.len; n++) {
		int rc = unseal(&kr_both, arc.data, n, 0, NULL, NULL);
		if (rc != CAIRN_E_CORRUPT)
			fail_msg("truncating to %zu bytes gave %d", n, rc);
		if (n >= 16)
			assert_string_equal(core_error_message(), "archive is truncated");
	}
	/* Drop a whole trailing message: a two-message archive cut after the first. */
	core_buf_reset(&arc);
	static unsigned char data[65537];
	assert_int_equal(seal(&kr_instance, data, sizeof(data), 0, &arc), 0);
	size_t first_end = 16 + 1 + 3 + 80 + 24 + 4 + 65536 + 17;
	assert_int_equal(unseal(&kr_instance, arc.data, first_end, 0, NULL, NULL), CAIRN_E_CORRUPT);
	assert_string_equal(core_error_message(), "archive is truncated");
	/* And read in tiny pieces, the same verdicts. */
	assert_int_equal(unseal(&kr_instance, arc.data, arc.len - 1, 3, NULL, NULL),
			 CAIRN_E_CORRUPT);
	assert_int_equal(unseal(&kr_instance, arc.data, arc.len, 3, NULL, NULL), 0);
	core_buf_free(&arc);
}

static void test_header_checks(void **state)
{
	(void)state;
	struct core_buf arc = CORE_BUF_INIT, bad = CORE_BUF_INIT;
	small_archive(&arc);
	core_buf_append(&bad, arc.data, arc.len);

	bad.data[0] = 'X';
	assert_int_equal(unseal(&kr_both, bad.data, bad.len, 0, NULL, NULL), CAIRN_E_CORRUPT);
	assert_string_equal(core_error_message(), "not a cairn backup (bad magic)");
	assert_int_equal(unseal(&kr_both, "CAIRN", 5, 0, NULL, NULL), CAIRN_E_CORRUPT);
	assert_int_equal(unseal(&kr_both, "", 0, 0, NULL, NULL), CAIRN_E_CORRUPT);
	assert_string_equal(core_error_message(), "archive is empty");

	memcpy(bad.data, arc.data, arc.len);
	bad.data[8] = 3;
	assert_int_equal(unseal(&kr_both, bad.data, bad.len, 0, NULL, NULL), CAIRN_E_UNSUPPORTED);
	assert_non_null(strstr(core_error_message(), "version 3 is not supported"));
	bad.data[8] = 0;
	assert_int_equal(unseal(&kr_both, bad.data, bad.len, 0, NULL, NULL), CAIRN_E_UNSUPPORTED);
	/* Version 2 read by version 1's rules: the first message does not authenticate. */
	bad.data[8] = 1;
	assert_int_equal(unseal(&kr_both, bad.data, bad.len, 0, NULL, NULL), CAIRN_E_CORRUPT);

	memcpy(bad.data, arc.data, arc.len);
	bad.data[10] |= 0x02;
	assert_int_equal(unseal(&kr_both, bad.data, bad.len, 0, NULL, NULL), CAIRN_E_UNSUPPORTED);

	/* Header length over 64 KiB. */
	memcpy(bad.data, arc.data, arc.len);
	bad.data[12] = 0x01;
	bad.data[13] = 0x00;
	bad.data[14] = 0x01;
	bad.data[15] = 0x00;
	assert_int_equal(unseal(&kr_both, bad.data, bad.len, 0, NULL, NULL), CAIRN_E_CORRUPT);
	assert_non_null(strstr(core_error_message(), "malformed header"));
	bad.data[12] = 0xff;
	bad.data[13] = 0xff;
	bad.data[14] = 0xff;
	bad.data[15] = 0xff;
	assert_int_equal(unseal(&kr_both, bad.data, bad.len, 0, NULL, NULL), CAIRN_E_CORRUPT);

	/* Encrypted flag cleared on an encrypted archive. */
	memcpy(bad.data, arc.data, arc.len);
	bad.data[10] = 0;
	assert_int_equal(unseal(&kr_both, bad.data, bad.len, 0, NULL, NULL), CAIRN_E_CORRUPT);

	core_buf_free(&bad);
	core_buf_free(&arc);
}

static void test_oversize_and_trailing(void **state)
{
	(void)state;
	struct core_buf arc = CORE_BUF_INIT, bad = CORE_BUF_INIT;
	small_archive(&arc);
	size_t msg = 16 + 1 + 3 + 80 + 3 + 88 + 24;
	assert_int_equal((unsigned char)arc.data[msg], 28 + 17);

	core_buf_append(&bad, arc.data, arc.len);
	bad.data[msg] = 0x12; /* 65536 + 17 + 1 = 0x00010012 */
	bad.data[msg + 2] = 0x01;
	assert_int_equal(unseal(&kr_both, bad.data, bad.len, 0, NULL, NULL), CAIRN_E_CORRUPT);
	assert_non_null(strstr(core_error_message(), "oversize message"));
	bad.data[msg + 3] = 0x7f;
	assert_int_equal(unseal(&kr_both, bad.data, bad.len, 0, NULL, NULL), CAIRN_E_CORRUPT);
	assert_non_null(strstr(core_error_message(), "oversize message"));

	core_buf_reset(&bad);
	core_buf_append(&bad, arc.data, arc.len);
	core_buf_append(&bad, "", 1);
	assert_int_equal(unseal(&kr_both, bad.data, bad.len, 0, NULL, NULL), CAIRN_E_CORRUPT);
	assert_string_equal(core_error_message(), "trailing data after end of archive");
	/* A second archive appended is trailing data too. */
	core_buf_reset(&bad);
	core_buf_append(&bad, arc.data, arc.len);
	core_buf_append(&bad, arc.data, arc.len);
	assert_int_equal(unseal(&kr_both, bad.data, bad.len, 0, NULL, NULL), CAIRN_E_CORRUPT);
	assert_string_equal(core_error_message(), "trailing data after end of archive");
	core_buf_free(&bad);
	core_buf_free(&arc);
}

/* Build a header by hand: fixed part, slot bytes, stream header. */
static void hand_header(struct core_buf *b, uint16_t flags, const unsigned char *slots,
			size_t slots_len, unsigned nslots)
{
	size_t h = 1 + slots_len + 24;
	unsigned char fixed[16] = {0x43, 0x41, 0x49, 0x52, 0x4E, 0x00, 0x0D, 0x0A, 1, 0,
				   (unsigned char)flags, (unsigned char)(flags >> 8),
				   (unsigned char)h, (unsigned char)(h >> 8), 0, 0};
	core_buf_reset(b);
	core_buf_append(b, fixed, 16);
	core_buf_append_char(b, (char)nslots);
	core_buf_append(b, slots, slots_len);
	unsigned char ss[24] = {0};
	core_buf_append(b, ss, 24);
}

static void test_slot_structure(void **state)
{
	(void)state;
	struct core_buf b = CORE_BUF_INIT;
	/* Only an unknown slot type: unsupported, not auth. */
	unsigned char unknown[3 + 5] = {9, 5, 0, 1, 2, 3, 4, 5};
	hand_header(&b, 1, unknown, sizeof(unknown), 1);
	assert_int_equal(unseal(&kr_both, b.data, b.len, 0, NULL, NULL), CAIRN_E_UNSUPPORTED);
	/* Zero slots. */
	hand_header(&b, 1, NULL, 0, 0);
	assert_int_equal(unseal(&kr_both, b.data, b.len, 0, NULL, NULL), CAIRN_E_CORRUPT);
	/* Known type with the wrong body length. */
	unsigned char shortslot[3 + 5] = {CORE_ENV_SLOT_INSTANCE, 5, 0};
	hand_header(&b, 1, shortslot, sizeof(shortslot), 1);
	assert_int_equal(unseal(&kr_both, b.data, b.len, 0, NULL, NULL), CAIRN_E_CORRUPT);
	/* Slot length running past the header. */
	unsigned char past[3 + 5] = {9, 200, 0};
	hand_header(&b, 1, past, sizeof(past), 1);
	assert_int_equal(unseal(&kr_both, b.data, b.len, 0, NULL, NULL), CAIRN_E_CORRUPT);
	/* A plain slot inside an encrypted archive. */
	unsigned char plain[3 + 32] = {CORE_ENV_SLOT_PLAIN, 32, 0};
	hand_header(&b, 1, plain, sizeof(plain), 1);
	assert_int_equal(unseal(&kr_both, b.data, b.len, 0, NULL, NULL), CAIRN_E_CORRUPT);

	core_buf_free(&b);
}

/*
 * Build a version 1 archive from docs/format.md alone (not through the
 * writer): an unknown slot type that must be skipped, an instance slot, and
 * two messages. The reader must open it — this pins the documented byte
 * format of the backups cairn wrote before version 2.
 */
static void test_hand_built_archive(void **state)
{
	(void)state;
	unsigned char data_key[32], kek[32], id[32];
	crypto_secretstream_xchacha20poly1305_keygen(data_key);
	size_t h = 1 + (3 + 4) + (3 + 80) + 24;
	unsigned char hdr[16 + 1 + 7 + 83 + 24];
	assert_int_equal(sizeof(hdr), 16 + h);
	memcpy(hdr, "CAIRN\0\r\n", 8);
	hdr[8] = 1, hdr[9] = 0, hdr[10] = 1, hdr[11] = 0;
	hdr[12] = (unsigned char)h, hdr[13] = 0, hdr[14] = 0, hdr[15] = 0;
	unsigned char *p = hdr + 16;
	*p++ = 2;                                       /* slot count */
	*p++ = 200, *p++ = 4, *p++ = 0;                 /* unknown type, 4-byte body */
	memset(p, 0xaa, 4), p += 4;
	*p++ = 1, *p++ = 80, *p++ = 0;                  /* instance slot */
	crypto_generichash(id, 32, (const unsigned char *)"cairn key id", 12, instance_key, 32);
	memcpy(p, id, 8), p += 8;
	randombytes_buf(p, 24);
	crypto_generichash(kek, 32, (const unsigned char *)"cairn instance slot v1", 22,
			   instance_key, 32);
	crypto_aead_xchacha20poly1305_ietf_encrypt(p + 24, NULL, data_key, 32, hdr, 16, NULL, p,
						   kek);
	p += 24 + 48;
	crypto_secretstream_xchacha20poly1305_state st;
	crypto_secretstream_xchacha20poly1305_init_push(&st, p, data_key);
	p += 24;
	assert_ptr_equal(p, hdr + sizeof(hdr));
	unsigned char hash[32];
	crypto_generichash(hash, 32, hdr, sizeof(hdr), NULL, 0);

	struct core_buf arc = CORE_BUF_INIT, back = CORE_BUF_INIT;
	core_buf_append(&arc, hdr, sizeof(hdr));
	unsigned char ct[64];
	unsigned long long clen;
	crypto_secretstream_xchacha20poly1305_push(&st, ct, &clen, (const unsigned char *)"hello ",
						   6, hash, 32,
						   crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
	unsigned char len4[4] = {(unsigned char)clen, 0, 0, 0};
	core_buf_append(&arc, len4, 4);
	core_buf_append(&arc, ct, (size_t)clen);
	crypto_secretstream_xchacha20poly1305_push(&st, ct, &clen, (const unsigned char *)"world",
						   5, NULL, 0,
						   crypto_secretstream_xchacha20poly1305_TAG_FINAL);
	len4[0] = (unsigned char)clen;
	core_buf_append(&arc, len4, 4);
	core_buf_append(&arc, ct, (size_t)clen);

	struct core_env_info info;
	assert_int_equal(unseal(&kr_instance, arc.data, arc.len, 0, &back, &info), 0);
	assert_int_equal(back.len, 11);
	assert_memory_equal(back.data, "hello world", 11);
	assert_int_equal(info.slot_types_mask, 1u << CORE_ENV_SLOT_INSTANCE);
	assert_int_equal(info.opened_by, CORE_ENV_SLOT_INSTANCE);
	/* Without a key, the message lists the unknown slot too. */
	assert_int_equal(unseal(&kr_empty, arc.data, arc.len, 0, NULL, NULL), CAIRN_E_AUTH);
	assert_non_null(strstr(core_error_message(), "unknown type 200, instance key"));
	/* Dropping the FINAL message is truncation. */
	assert_int_equal(unseal(&kr_instance, arc.data, arc.len - 4 - (size_t)clen, 0, NULL, NULL),
			 CAIRN_E_CORRUPT);
	assert_string_equal(core_error_message(), "archive is truncated");
	core_buf_free(&arc);
	core_buf_free(&back);
}

/* A keyring for writing one slot of each kind: instance key, passphrase, `recipient`. */
static struct core_keyring all_keys(const char *passphrase)
{
	struct core_keyring kr = {.instance_key = instance_key,
				  .instance_key_len = sizeof(instance_key),
				  .passphrase = passphrase,
				  .recipients = (const unsigned char (*)[32])recipient,
				  .n_recipients = 1};
	return kr;
}

/* ---- version 1, still read ---- */

static void test_v1_round_trip(void **state)
{
	(void)state;
	struct core_keyring w = all_keys("v1 passphrase");
	static unsigned char data[70000];
	randombytes_buf(data, sizeof(data));
	struct core_buf arc = CORE_BUF_INIT, back = CORE_BUF_INIT;
	assert_int_equal(seal_version(1, &w, data, sizeof(data), &arc), 0);
	assert_int_equal(arc.data[8], 1);
	struct core_keyring by_pw = {.passphrase = "v1 passphrase"};
	struct core_keyring by_id = {.identities = &ident, .n_identities = 1};
	const struct core_keyring *readers[] = {&kr_instance, &by_pw, &by_id};
	const int opened[] = {CORE_ENV_SLOT_INSTANCE, CORE_ENV_SLOT_PASSPHRASE,
			      CORE_ENV_SLOT_RECIPIENT};
	for (int i = 0; i < 3; i++) {
		struct core_env_info info;
		core_buf_reset(&back);
		assert_int_equal(unseal(readers[i], arc.data, arc.len, 0, &back, &info), 0);
		assert_int_equal(info.version, 1);
		assert_int_equal(info.opened_by, opened[i]);
		assert_int_equal(back.len, sizeof(data));
		assert_memory_equal(back.data, data, sizeof(data));
	}
	struct core_env_writer *wr = (void *)1;
	assert_int_equal(core_env_writer_new_version(3, &w, buf_sink, &arc, &wr), CAIRN_E_INVALID);
	assert_null(wr);
	assert_int_equal(core_env_writer_new_version(0, &w, buf_sink, &arc, &wr), CAIRN_E_INVALID);
	core_buf_free(&arc);
	core_buf_free(&back);
}

/*
 * A version 2 archive from docs/format.md alone: two instance-key slots (the
 * second one is ours), each AEAD with the 12 bytes magic ‖ version ‖ flags
 * as additional data, and the first message bound to
 * BLAKE2b-256("cairn body v2" ‖ magic ‖ version ‖ flags ‖ stream header).
 * Dropping the first slot (H changes) leaves it readable.
 */
static void test_hand_built_v2(void **state)
{
	(void)state;
	unsigned char data_key[32], kek[32], id[32];
	crypto_secretstream_xchacha20poly1305_keygen(data_key);
	size_t h = 1 + 2 * (3 + 80) + 24;
	unsigned char hdr[16 + 1 + 2 * 83 + 24];
	memcpy(hdr, "CAIRN\0\r\n", 8);
	hdr[8] = 2, hdr[9] = 0, hdr[10] = 1, hdr[11] = 0;
	hdr[12] = (unsigned char)h, hdr[13] = 0, hdr[14] = 0, hdr[15] = 0;
	unsigned char *p = hdr + 16;
	*p++ = 2;
	const unsigned char *keys[2] = {(const unsigned char *)other_instance_key, instance_key};
	const size_t lens[2] = {sizeof(other_instance_key), sizeof(instance_key)};
	for (int k = 0; k < 2; k++) {
		*p++ = 1, *p++ = 80, *p++ = 0;
		crypto_generichash(id, 32, (const unsigned char *)"cairn key id", 12, keys[k], lens[k]);
		memcpy(p, id, 8), p += 8;
		randombytes_buf(p, 24);
		crypto_generichash(kek, 32, (const unsigned char *)"cairn instance slot v1", 22,
				   keys[k], lens[k]);
		crypto_aead_xchacha20poly1305_ietf_encrypt(p + 24, NULL, data_key, 32, hdr, 12,
							   NULL, p, kek);
		p += 24 + 48;
	}
	crypto_secretstream_xchacha20poly1305_state st;
	crypto_secretstream_xchacha20poly1305_init_push(&st, p, data_key);
	unsigned char bound[13 + 12 + 24], hash[32];
	memcpy(bound, "cairn body v2", 13);
	memcpy(bound + 13, hdr, 12);
	memcpy(bound + 25, p, 24);
	crypto_generichash(hash, 32, bound, sizeof(bound), NULL, 0);
	p += 24;
	assert_ptr_equal(p, hdr + sizeof(hdr));

	struct core_buf arc = CORE_BUF_INIT, back = CORE_BUF_INIT, cut = CORE_BUF_INIT;
	core_buf_append(&arc, hdr, sizeof(hdr));
	unsigned char ct[64];
	unsigned long long clen;
	crypto_secretstream_xchacha20poly1305_push(&st, ct, &clen, (const unsigned char *)"v2", 2,
						   hash, 32,
						   crypto_secretstream_xchacha20poly1305_TAG_FINAL);
	unsigned char len4[4] = {(unsigned char)clen, 0, 0, 0};
	core_buf_append(&arc, len4, 4);
	core_buf_append(&arc, ct, (size_t)clen);
	struct core_env_info info;
	assert_int_equal(unseal(&kr_instance, arc.data, arc.len, 0, &back, &info), 0);
	assert_int_equal(back.len, 2);
	assert_memory_equal(back.data, "v2", 2);
	assert_int_equal(info.version, 2);
	assert_int_equal(info.n_slots, 2);
	assert_int_equal(info.opened_slot, 1);

	/* The first slot cut out by hand: H and the slot count change, nothing else. */
	size_t h2 = h - 83;
	unsigned char fixed[16];
	memcpy(fixed, hdr, 16);
	fixed[12] = (unsigned char)h2;
	core_buf_append(&cut, fixed, 16);
	core_buf_append_char(&cut, 1);
	core_buf_append(&cut, arc.data + 17 + 83, arc.len - 17 - 83);
	core_buf_reset(&back);
	assert_int_equal(unseal(&kr_instance, cut.data, cut.len, 0, &back, &info), 0);
	assert_memory_equal(back.data, "v2", 2);
	assert_int_equal(info.opened_slot, 0);
	core_buf_free(&arc);
	core_buf_free(&back);
	core_buf_free(&cut);
}

/* ---- rekey ---- */

/*
 * Open `arc` with *open, rekey it (keep/add) into *out, and copy the rest of
 * the source unchanged after the new header, as cairn backups rekey does.
 * *body_at receives where the body starts in `arc`, *new_hdr in *out.
 */
static int rekey(const struct core_buf *arc, const struct core_keyring *open,
		 const unsigned char *keep, const struct core_keyring *add, struct core_buf *out,
		 size_t *body_at, size_t *new_hdr)
{
	struct mem_src src = {(const unsigned char *)arc->data, arc->len, 0, 0, 0};
	struct core_env_reader *r = NULL;
	core_buf_reset(out);
	int rc = core_env_reader_new(open, mem_source, &src, &r);
	if (rc == 0)
		rc = core_env_rekey(r, keep, add, buf_sink, out);
	if (rc == 0) {
		*body_at = src.pos;
		*new_hdr = out->len;
		core_buf_append(out, arc->data + src.pos, arc->len - src.pos);
	}
	core_env_reader_free(r);
	return rc;
}

static void slot_labels(const struct core_buf *arc, const struct core_keyring *kr, char *out,
			size_t cap)
{
	struct mem_src src = {(const unsigned char *)arc->data, arc->len, 0, 0, 0};
	struct core_env_reader *r = NULL;
	assert_int_equal(core_env_reader_new(kr, mem_source, &src, &r), 0);
	struct core_env_info info;
	core_env_reader_info(r, &info);
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < info.n_slots; i++) {
		struct core_env_slot_desc d;
		char label[64];
		core_env_reader_slot(r, i, &d);
		core_env_slot_label(&d, label, sizeof(label));
		used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? ", " : "", label);
	}
	core_env_reader_free(r);
}

static void hex_id(const unsigned char id[8], char out[17])
{
	sodium_bin2hex(out, 17, id, 8);
}

static void test_slot_labels(void **state)
{
	(void)state;
	struct core_buf arc = CORE_BUF_INIT;
	struct core_keyring w = all_keys("pw");
	assert_int_equal(seal(&w, "x", 1, 0, &arc), 0);
	unsigned char iid[8], rid[8];
	char ih[17], rh[17], want[200], got[200];
	core_env_instance_key_id(instance_key, sizeof(instance_key), iid);
	core_env_public_key_id(ident.pk, rid);
	hex_id(iid, ih);
	hex_id(rid, rh);
	snprintf(want, sizeof(want), "instance key %s, passphrase, recipient %s", ih, rh);
	slot_labels(&arc, &kr_instance, got, sizeof(got));
	assert_string_equal(got, want);
	/* The auth error names slots the same way. */
	assert_int_equal(unseal(&kr_empty, arc.data, arc.len, 0, NULL, NULL), CAIRN_E_AUTH);
	assert_non_null(strstr(core_error_message(), want));
	struct core_env_slot_desc unknown = {.type = 9};
	core_env_slot_label(&unknown, got, sizeof(got));
	assert_string_equal(got, "unknown type 9");
	core_buf_free(&arc);
}

static void assert_same_body(const struct core_buf *a, size_t a_at, const struct core_buf *b,
			     size_t b_at)
{
	assert_int_equal(a->len - a_at, b->len - b_at);
	assert_memory_equal(a->data + a_at, b->data + b_at, a->len - a_at);
}

static void test_rekey_add_recipient(void **state)
{
	(void)state;
	static unsigned char data[150000];
	randombytes_buf(data, sizeof(data));
	struct core_buf arc = CORE_BUF_INIT, out = CORE_BUF_INIT, back = CORE_BUF_INIT;
	assert_int_equal(seal(&kr_instance, data, sizeof(data), 0, &arc), 0);
	const unsigned char keep[1] = {1};
	struct core_keyring add = {.recipients = (const unsigned char (*)[32])recipient,
				   .n_recipients = 1};
	size_t body_at = 0, new_hdr = 0;
	assert_int_equal(rekey(&arc, &kr_instance, keep, &add, &out, &body_at, &new_hdr), 0);
	assert_int_equal(new_hdr, body_at + 3 + 88);
	assert_same_body(&arc, body_at, &out, new_hdr);
	/* The kept slot is byte for byte the old one; only H and the count changed. */
	assert_memory_equal(out.data, arc.data, 12);
	assert_int_equal((unsigned char)out.data[16], 2);
	assert_memory_equal(out.data + 17, arc.data + 17, 83);
	struct core_keyring by_id = {.identities = &ident, .n_identities = 1};
	struct core_env_info info;
	assert_int_equal(unseal(&by_id, out.data, out.len, 0, &back, &info), 0);
	assert_int_equal(info.opened_by, CORE_ENV_SLOT_RECIPIENT);
	assert_int_equal(back.len, sizeof(data));
	assert_memory_equal(back.data, data, sizeof(data));
	core_buf_reset(&back);
	assert_int_equal(unseal(&kr_instance, out.data, out.len, 0, &back, &info), 0);
	assert_int_equal(info.opened_by, CORE_ENV_SLOT_INSTANCE);
	assert_memory_equal(back.data, data, sizeof(data));
	core_buf_free(&arc);
	core_buf_free(&out);
	core_buf_free(&back);
}

static void test_rekey_remove(void **state)
{
	(void)state;
	struct core_keyring w = all_keys("kept");
	struct core_buf arc = CORE_BUF_INIT, out = CORE_BUF_INIT, back = CORE_BUF_INIT;
	assert_int_equal(seal(&w, "rotate me", 9, 0, &arc), 0);
	struct core_keyring by_id = {.identities = &ident, .n_identities = 1};
	struct core_keyring by_pw = {.passphrase = "kept"};
	size_t body_at = 0, new_hdr = 0;

	/* Drop the instance slot, opening with the identity: the instance key is out. */
	const unsigned char drop_first[3] = {0, 1, 1};
	assert_int_equal(rekey(&arc, &by_id, drop_first, &kr_empty, &out, &body_at, &new_hdr), 0);
	assert_same_body(&arc, body_at, &out, new_hdr);
	assert_int_equal(unseal(&kr_instance, out.data, out.len, 0, NULL, NULL), CAIRN_E_AUTH);
	assert_int_equal(unseal(&by_id, out.data, out.len, 0, &back, NULL), 0);
	assert_memory_equal(back.data, "rotate me", 9);
	/* The passphrase slot, an AEAD bound to the fixed bytes, still opens after H changed. */
	core_buf_reset(&back);
	assert_int_equal(unseal(&by_pw, out.data, out.len, 0, &back, NULL), 0);
	assert_memory_equal(back.data, "rotate me", 9);

	/* Drop the recipient, opening with the instance key: instance and passphrase stay. */
	const unsigned char drop_last[3] = {1, 1, 0};
	assert_int_equal(rekey(&arc, &kr_instance, drop_last, &kr_empty, &out, &body_at, &new_hdr),
			 0);
	assert_same_body(&arc, body_at, &out, new_hdr);
	assert_int_equal(unseal(&by_id, out.data, out.len, 0, NULL, NULL), CAIRN_E_AUTH);
	assert_int_equal(unseal(&kr_instance, out.data, out.len, 0, NULL, NULL), 0);

	/* Replace the passphrase: the old one is out, the new one in. */
	const unsigned char drop_pw[3] = {1, 0, 1};
	struct core_keyring new_pw = {.passphrase = "fresh"};
	assert_int_equal(rekey(&arc, &kr_instance, drop_pw, &new_pw, &out, &body_at, &new_hdr), 0);
	assert_same_body(&arc, body_at, &out, new_hdr);
	assert_int_equal(unseal(&by_pw, out.data, out.len, 0, NULL, NULL), CAIRN_E_AUTH);
	struct core_env_info info;
	assert_int_equal(unseal(&new_pw, out.data, out.len, 0, NULL, &info), 0);
	assert_int_equal(info.opened_by, CORE_ENV_SLOT_PASSPHRASE);
	assert_int_equal(info.opened_slot, 2); /* appended after the kept ones */

	/* Rekeying a rekeyed archive works the same. */
	struct core_buf again = CORE_BUF_INIT;
	const unsigned char keep2[3] = {0, 1, 1};
	size_t at2 = 0, hdr2 = 0;
	assert_int_equal(rekey(&out, &new_pw, keep2, &kr_instance, &again, &at2, &hdr2), 0);
	assert_same_body(&arc, body_at, &again, hdr2);
	assert_int_equal(unseal(&kr_instance, again.data, again.len, 0, NULL, &info), 0);
	assert_int_equal(info.opened_slot, 2);
	core_buf_free(&again);
	core_buf_free(&arc);
	core_buf_free(&out);
	core_buf_free(&back);
}

static void test_rekey_refusals(void **state)
{
	(void)state;
	struct core_buf arc = CORE_BUF_INIT, out = CORE_BUF_INIT;
	size_t at = 0, hdr = 0;
	const unsigned char keep[2] = {1, 1}, none[2] = {0, 0};
	struct core_keyring add = {.recipients = (const unsigned char (*)[32])recipient,
				   .n_recipients = 1};

	assert_int_equal(seal_version(1, &kr_instance, "old", 3, &arc), 0);
	assert_int_equal(rekey(&arc, &kr_instance, keep, &add, &out, &at, &hdr),
			 CAIRN_E_UNSUPPORTED);
	assert_non_null(strstr(core_error_message(), "version 1"));
	assert_int_equal(out.len, 0);

	core_buf_reset(&arc);
	assert_int_equal(seal(&kr_plain, "open", 4, 0, &arc), 0);
	assert_int_equal(rekey(&arc, &kr_empty, keep, &add, &out, &at, &hdr), CAIRN_E_INVALID);
	assert_non_null(strstr(core_error_message(), "not encrypted"));

	core_buf_reset(&arc);
	small_archive(&arc);
	assert_int_equal(rekey(&arc, &kr_instance, none, &kr_empty, &out, &at, &hdr),
			 CAIRN_E_INVALID);
	assert_string_equal(core_error_message(), "no key slot would be left");
	static unsigned char many[31][32];
	for (int i = 0; i < 31; i++)
		crypto_box_keypair(many[i], (unsigned char[32]){0});
	struct core_keyring lots = {.recipients = (const unsigned char (*)[32])many,
				    .n_recipients = 31};
	assert_int_equal(rekey(&arc, &kr_instance, keep, &lots, &out, &at, &hdr), CAIRN_E_INVALID);
	assert_non_null(strstr(core_error_message(), "too many key slots"));
	lots.n_recipients = 30;
	assert_int_equal(rekey(&arc, &kr_instance, keep, &lots, &out, &at, &hdr), 0);
	static const unsigned char zero[1][32];
	struct core_keyring badpk = {.recipients = zero, .n_recipients = 1};
	assert_int_equal(rekey(&arc, &kr_instance, keep, &badpk, &out, &at, &hdr), CAIRN_E_INVALID);
	struct core_keyring empty_pw = {.passphrase = ""};
	assert_int_equal(rekey(&arc, &kr_instance, keep, &empty_pw, &out, &at, &hdr),
			 CAIRN_E_INVALID);

	/* Not after reading: the header must be followed by the body untouched. */
	struct mem_src src = {(const unsigned char *)arc.data, arc.len, 0, 0, 0};
	struct core_env_reader *r = NULL;
	assert_int_equal(core_env_reader_new(&kr_instance, mem_source, &src, &r), 0);
	unsigned char buf[8];
	size_t got = 0;
	assert_int_equal(core_env_read(r, buf, sizeof(buf), &got), 0);
	assert_int_equal(core_env_rekey(r, keep, &add, buf_sink, &out), CAIRN_E_INVALID);
	core_env_reader_free(r);
	/* The sink's failure comes back as it is. */
	int calls = 1;
	src.pos = 0;
	assert_int_equal(core_env_reader_new(&kr_instance, mem_source, &src, &r), 0);
	assert_int_equal(core_env_rekey(r, keep, &add, failing_sink, &calls), CAIRN_E_NO_SPACE);
	core_env_reader_free(r);
	core_buf_free(&arc);
	core_buf_free(&out);
}

/* What rekey uses to check an archive when no key it has keeps a slot. */
static void test_open_with_data_key(void **state)
{
	(void)state;
	struct core_buf arc = CORE_BUF_INIT, back = CORE_BUF_INIT;
	small_archive(&arc);
	struct mem_src src = {(const unsigned char *)arc.data, arc.len, 0, 0, 0};
	struct core_env_reader *r = NULL;
	assert_int_equal(core_env_reader_new(&kr_instance, mem_source, &src, &r), 0);
	unsigned char key[32];
	memcpy(key, core_env_reader_data_key(r), 32);
	core_env_reader_free(r);
	struct core_keyring by_key = {.data_key = key};
	struct core_env_info info;
	assert_int_equal(unseal(&by_key, arc.data, arc.len, 0, &back, &info), 0);
	assert_int_equal(info.opened_by, CORE_ENV_OPENED_BY_DATA_KEY);
	assert_int_equal(back.len, 28);
	key[0] ^= 1;
	assert_int_equal(unseal(&by_key, arc.data, arc.len, 0, NULL, NULL), CAIRN_E_CORRUPT);
	sodium_memzero(key, sizeof(key));
	core_buf_free(&arc);
	core_buf_free(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_instance_round_trip),
		cmocka_unit_test(test_recipient_round_trip),
		cmocka_unit_test(test_plain_round_trip),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_message_framing),
		cmocka_unit_test(test_instance_plus_recipient),
		cmocka_unit_test(test_wrong_instance_key),
		cmocka_unit_test(test_passphrase),
		cmocka_unit_test(test_all_slot_kinds),
		cmocka_unit_test(test_writer_rejects),
		cmocka_unit_test(test_callback_failures),
		cmocka_unit_test(test_flip_every_byte),
		cmocka_unit_test(test_flip_every_byte_v1),
		cmocka_unit_test(test_flip_in_body_messages),
		cmocka_unit_test(test_truncate_everywhere),
		cmocka_unit_test(test_header_checks),
		cmocka_unit_test(test_oversize_and_trailing),
		cmocka_unit_test(test_slot_structure),
		cmocka_unit_test(test_hand_built_archive),
		cmocka_unit_test(test_v1_round_trip),
		cmocka_unit_test(test_hand_built_v2),
		cmocka_unit_test(test_slot_labels),
		cmocka_unit_test(test_rekey_add_recipient),
		cmocka_unit_test(test_rekey_remove),
		cmocka_unit_test(test_rekey_refusals),
		cmocka_unit_test(test_open_with_data_key),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
