/* test_envelope.c — round trips, wrong keys, and every kind of damage. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
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
	assert_int_equal(arc.data[8], 1);
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

static void flip_all(const struct core_buf *arc, const struct core_keyring *kr)
{
	unsigned char *copy = malloc(arc->len);
	assert_non_null(copy);
	const unsigned char masks[] = {0x01, 0x80, 0xff};
	for (size_t i = 0; i < arc->len; i++) {
		for (size_t m = 0; m < sizeof(masks); m++) {
			memcpy(copy, arc->data, arc->len);
			copy[i] ^= masks[m];
			int rc = unseal(kr, copy, arc->len, 0, NULL, NULL);
			if (rc != CAIRN_E_CORRUPT && rc != CAIRN_E_AUTH && rc != CAIRN_E_UNSUPPORTED)
				fail_msg("flipping byte %zu with 0x%02x gave %d", i, masks[m], rc);
		}
	}
	free(copy);
}

static void test_flip_every_byte(void **state)
{
	(void)state;
	struct core_buf arc = CORE_BUF_INIT;
	small_archive(&arc);
	assert_int_equal(unseal(&kr_both, arc.data, arc.len, 0, NULL, NULL), 0);
	flip_all(&arc, &kr_both);
	flip_all(&arc, &kr_instance);
	core_buf_reset(&arc);
	assert_int_equal(seal(&kr_plain, "plain but checked", 17, 0, &arc), 0);
	flip_all(&arc, &kr_empty);
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
	bad.data[8] = 2;
	assert_int_equal(unseal(&kr_both, bad.data, bad.len, 0, NULL, NULL), CAIRN_E_UNSUPPORTED);
	assert_non_null(strstr(core_error_message(), "version 2 is not supported"));

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
 * Build an archive from docs/format.md alone (not through the writer): an
 * unknown slot type that must be skipped, an instance slot, and two messages.
 * The reader must open it — this pins the documented byte format.
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
		cmocka_unit_test(test_flip_in_body_messages),
		cmocka_unit_test(test_truncate_everywhere),
		cmocka_unit_test(test_header_checks),
		cmocka_unit_test(test_oversize_and_trailing),
		cmocka_unit_test(test_slot_structure),
		cmocka_unit_test(test_hand_built_archive),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
