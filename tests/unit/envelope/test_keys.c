/* test_keys.c — instance key decoding and recipient/identity key files. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "cairn/status.h"
#include "error.h"
#include "keys.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/cairn-test-keys-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void check_decode(size_t nbytes, int variant, const char *pre, const char *post)
{
	unsigned char raw[64], out[CORE_KEY_INSTANCE_MAX];
	char b64[128], text[160];
	randombytes_buf(raw, nbytes);
	sodium_bin2base64(b64, sizeof(b64), raw, nbytes, variant);
	snprintf(text, sizeof(text), "%s%s%s", pre, b64, post);
	size_t len = 0;
	assert_int_equal(core_key_decode_instance(text, out, sizeof(out), &len), 0);
	assert_int_equal(len, nbytes);
	assert_memory_equal(out, raw, nbytes);
}

static void test_decode_valid(void **state)
{
	(void)state;
	const size_t sizes[] = {16, 24, 32, 64};
	for (size_t i = 0; i < 4; i++) {
		check_decode(sizes[i], sodium_base64_VARIANT_ORIGINAL, "", "");
		check_decode(sizes[i], sodium_base64_VARIANT_ORIGINAL_NO_PADDING, "", "");
		check_decode(sizes[i], sodium_base64_VARIANT_ORIGINAL, "  \t", "\n");
		check_decode(sizes[i], sodium_base64_VARIANT_ORIGINAL_NO_PADDING, "\n", " \r\n");
	}
	/* A known vector: 16 bytes 00..0f. */
	unsigned char out[64];
	size_t len = 0;
	assert_int_equal(core_key_decode_instance("AAECAwQFBgcICQoLDA0ODw==", out, sizeof(out), &len),
			 0);
	assert_int_equal(len, 16);
	for (int i = 0; i < 16; i++)
		assert_int_equal(out[i], i);
}

static void test_decode_invalid(void **state)
{
	(void)state;
	unsigned char out[64];
	size_t len = 99;
	const char *not_b64[] = {
		"AAECAwQFBgcICQoLDA0ODw!=",     /* bad character */
		"AAECAwQFBgcI CQoLDA0ODw==",    /* inner space */
		"AAECAwQFBgcICQoLDA0ODx==",     /* non-zero padding bits */
		"AAECAwQFBgcICQoLDA0ODw=",      /* incomplete padding */
		"AAECAwQFBgcICQoLDA0O_w==",     /* url-safe alphabet */
		"AAECAwQFBgcICQoLDA0ODw===",    /* too much padding */
	};
	for (size_t i = 0; i < sizeof(not_b64) / sizeof(not_b64[0]); i++) {
		assert_int_equal(core_key_decode_instance(not_b64[i], out, sizeof(out), &len),
				 CAIRN_E_INVALID);
		assert_string_equal(core_error_message(), "encryption key is not valid base64");
	}
	assert_int_equal(len, 99);

	/* Valid base64, wrong size. */
	assert_int_equal(core_key_decode_instance("AAECAwQFBgcICQoLDA0O", out, sizeof(out), &len),
			 CAIRN_E_INVALID);
	assert_string_equal(core_error_message(),
			    "encryption key must be base64 of 16, 24, 32 or 64 bytes (got 15 bytes)");
	assert_int_equal(core_key_decode_instance("", out, sizeof(out), &len), CAIRN_E_INVALID);
	assert_non_null(strstr(core_error_message(), "(got 0 bytes)"));
	assert_int_equal(core_key_decode_instance("   ", out, sizeof(out), &len), CAIRN_E_INVALID);
	char big[200];
	unsigned char raw[100] = {0};
	sodium_bin2base64(big, sizeof(big), raw, 48, sodium_base64_VARIANT_ORIGINAL);
	assert_int_equal(core_key_decode_instance(big, out, sizeof(out), &len), CAIRN_E_INVALID);
	assert_non_null(strstr(core_error_message(), "(got 48 bytes)"));
	sodium_bin2base64(big, sizeof(big), raw, 100, sodium_base64_VARIANT_ORIGINAL);
	assert_int_equal(core_key_decode_instance(big, out, sizeof(out), &len), CAIRN_E_INVALID);
	assert_non_null(strstr(core_error_message(), "(got 100 bytes)"));
	/* Output buffer too small for a valid key. */
	assert_int_equal(core_key_decode_instance("AAECAwQFBgcICQoLDA0ODw==", out, 8, &len),
			 CAIRN_E_INVALID);
	assert_int_equal(core_key_decode_instance(NULL, out, sizeof(out), &len), CAIRN_E_INVALID);
}

static void test_generate_and_load(void **state)
{
	(void)state;
	char base[300], pub[310], key[310];
	path_in(base, sizeof(base), "recovery");
	snprintf(pub, sizeof(pub), "%s.pub", base);
	snprintf(key, sizeof(key), "%s.key", base);
	assert_int_equal(core_key_generate(base), 0);

	struct stat st;
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(pub, &st), 0);
	mode_t mask = umask(0);
	umask(mask);
	assert_int_equal(st.st_mode & 0777, 0644 & ~mask);

	unsigned char pk[32], pk2[32];
	struct core_identity id;
	assert_int_equal(core_key_load_recipient(pub, pk), 0);
	assert_int_equal(core_key_load_identity(key, &id), 0);
	assert_memory_equal(pk, id.pk, 32);
	unsigned char derived[32];
	assert_int_equal(crypto_scalarmult_base(derived, id.sk), 0);
	assert_memory_equal(derived, pk, 32);
	/* An identity file doubles as a recipient file. */
	assert_int_equal(core_key_load_recipient(key, pk2), 0);
	assert_memory_equal(pk2, pk, 32);
	/* A recipient file is no identity. */
	assert_int_equal(core_key_load_identity(pub, &id), CAIRN_E_INVALID);
	assert_non_null(strstr(core_error_message(), pub));

	/* The files look as documented. */
	FILE *f = fopen(pub, "r");
	char line[256];
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_int_equal(strncmp(line, "cairn-recipient-1 ", 18), 0);
	assert_int_equal(strlen(line), 18 + 44 + 1);
	assert_int_equal(line[strlen(line) - 1], '\n');

	/* Sealed to the pub, opened by the key. */
	unsigned char msg[4] = "ping", c[4 + crypto_box_SEALBYTES], m[4];
	assert_int_equal(crypto_box_seal(c, msg, 4, pk), 0);
	assert_int_equal(crypto_box_seal_open(m, c, sizeof(c), id.pk, id.sk), 0);
	assert_memory_equal(m, msg, 4);
}

static void test_generate_refuses_overwrite(void **state)
{
	(void)state;
	char base[300], pub[310], key[310];
	path_in(base, sizeof(base), "twice");
	snprintf(pub, sizeof(pub), "%s.pub", base);
	snprintf(key, sizeof(key), "%s.key", base);
	assert_int_equal(core_key_generate(base), 0);
	struct core_identity before, after;
	assert_int_equal(core_key_load_identity(key, &before), 0);
	assert_int_equal(core_key_generate(base), CAIRN_E_EXISTS);
	assert_non_null(strstr(core_error_message(), key));
	assert_int_equal(core_key_load_identity(key, &after), 0);
	assert_memory_equal(&before, &after, sizeof(before));

	/* Only the .pub exists: still refused, and no .key is left behind. */
	path_in(base, sizeof(base), "halfway");
	snprintf(pub, sizeof(pub), "%s.pub", base);
	snprintf(key, sizeof(key), "%s.key", base);
	write_text(pub, "precious\n");
	assert_int_equal(core_key_generate(base), CAIRN_E_EXISTS);
	assert_int_equal(access(key, F_OK), -1);
	FILE *f = fopen(pub, "r");
	char line[64];
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_string_equal(line, "precious\n");

	/* Directory missing: a clean error naming the file. */
	assert_int_equal(core_key_generate("/nonexistent-dir-for-cairn/x"), CAIRN_E_NOT_FOUND);
	assert_non_null(strstr(core_error_message(), "/nonexistent-dir-for-cairn/x.key"));
}

static void test_identity_mismatch(void **state)
{
	(void)state;
	unsigned char pk1[32], sk1[32], pk2[32], sk2[32];
	crypto_box_keypair(pk1, sk1);
	crypto_box_keypair(pk2, sk2);
	char pk64[64], sk64[64], text[200], path[300];
	sodium_bin2base64(pk64, sizeof(pk64), pk2, 32, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(sk64, sizeof(sk64), sk1, 32, sodium_base64_VARIANT_ORIGINAL);
	snprintf(text, sizeof(text), "cairn-identity-1 %s %s\n", pk64, sk64);
	path_in(path, sizeof(path), "mismatch.key");
	write_text(path, text);
	struct core_identity id;
	memset(&id, 0x5a, sizeof(id));
	assert_int_equal(core_key_load_identity(path, &id), CAIRN_E_INVALID);
	assert_non_null(strstr(core_error_message(), "does not match"));
	assert_non_null(strstr(core_error_message(), path));
	assert_int_equal(id.pk[0], 0x5a); /* untouched on failure */
	unsigned char pk[32];
	assert_int_equal(core_key_load_recipient(path, pk), CAIRN_E_INVALID);

	/* The same pair, matching, without padding and with CRLF, loads. */
	sodium_bin2base64(pk64, sizeof(pk64), pk1, 32, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	sodium_bin2base64(sk64, sizeof(sk64), sk1, 32, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	snprintf(text, sizeof(text), "cairn-identity-1 %s %s\r\n", pk64, sk64);
	write_text(path, text);
	assert_int_equal(core_key_load_identity(path, &id), 0);
	assert_memory_equal(id.pk, pk1, 32);
	assert_memory_equal(id.sk, sk1, 32);
}

static void test_bad_files(void **state)
{
	(void)state;
	char path[300];
	unsigned char pk[32];
	struct core_identity id;
	path_in(path, sizeof(path), "missing.pub");
	assert_int_equal(core_key_load_recipient(path, pk), CAIRN_E_NOT_FOUND);
	assert_non_null(strstr(core_error_message(), path));
	assert_int_equal(core_key_load_identity(path, &id), CAIRN_E_NOT_FOUND);

	const char *bad[] = {
		"",
		"cairn-recipient-1\n",
		"cairn-recipient-2 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		"cairn-recipient-1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n", /* 31 bytes */
		"cairn-recipient-1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= extra\n",
		"cairn-recipient-1 not*base64\n",
	};
	path_in(path, sizeof(path), "bad.pub");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_text(path, bad[i]);
		assert_int_equal(core_key_load_recipient(path, pk), CAIRN_E_INVALID);
		assert_non_null(strstr(core_error_message(), path));
	}
	write_text(path, "cairn-recipient-1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
	assert_int_equal(core_key_load_recipient(path, pk), 0);

	/* Too large to be a key file. */
	char *huge = malloc(10000);
	memset(huge, 'A', 9999);
	huge[9999] = '\0';
	write_text(path, huge);
	free(huge);
	assert_int_equal(core_key_load_recipient(path, pk), CAIRN_E_INVALID);
	assert_non_null(strstr(core_error_message(), "too large"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_valid),
		cmocka_unit_test(test_decode_invalid),
		cmocka_unit_test(test_generate_and_load),
		cmocka_unit_test(test_generate_refuses_overwrite),
		cmocka_unit_test(test_identity_mismatch),
		cmocka_unit_test(test_bad_files),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
