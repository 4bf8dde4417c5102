/*
 * keys.h — the keys a user hands to cairn: the instance's base64 secret key
 * and X25519 recipient/identity key files. See docs/format.md ("Key files").
 *
 * Every function records a one-line message naming the file or the problem
 * with core_error_set() and returns the same CAIRN_E_* status; 0 on success.
 * Outputs are written only on success. Callers that keep secret outputs
 * (instance key bytes, identity secret keys) should hold them in
 * sodium_malloc'd memory and wipe them when done; these functions wipe every
 * temporary copy they make. Not thread-safe (the error slot is global).
 */
#ifndef CORE_KEYS_H
#define CORE_KEYS_H

#include <stddef.h>

/* An X25519 key pair read from an identity file; opens RECIPIENT slots. */
struct core_identity {
	unsigned char pk[32]; /* public key: crypto_scalarmult_base(sk) */
	unsigned char sk[32]; /* secret key */
};

/* Shortest and longest instance key, in decoded bytes (BLAKE2b's key range). */
#define CORE_KEY_INSTANCE_MIN 16
#define CORE_KEY_INSTANCE_MAX 64

/*
 * Decode a Kestra-style secret key (`kestra.encryption.secret-key`): base64,
 * standard alphabet, '=' padding optional, surrounding whitespace ignored.
 * It must decode to 16, 24, 32 or 64 bytes. `out` receives the bytes (`cap`
 * must be at least CORE_KEY_INSTANCE_MAX to accept every valid key) and
 * `*len` their count.
 * Errors: CAIRN_E_INVALID "encryption key is not valid base64" or
 * "encryption key must be base64 of 16, 24, 32 or 64 bytes (got N bytes)".
 */
int core_key_decode_instance(const char *b64, unsigned char *out, size_t cap, size_t *len);

/*
 * Generate a fresh X25519 key pair and write two files:
 *   <path>.pub  "cairn-recipient-1 <base64 pk>\n"                 mode 0644
 *   <path>.key  "cairn-identity-1 <base64 pk> <base64 sk>\n"      mode 0600
 * (base64 standard alphabet with padding). Both are created with O_EXCL:
 * if either exists nothing is written or overwritten and the result is
 * CAIRN_E_EXISTS. On any failure no half-written file is left behind.
 */
int core_key_generate(const char *path);

/*
 * Read the public key from a recipient file (<name>.pub). An identity file
 * is accepted too (its public key is used, after checking it matches the
 * secret key). Errors: CAIRN_E_NOT_FOUND / CAIRN_E_PERMISSION / CAIRN_E_IO
 * when the file can't be read, CAIRN_E_INVALID when it is not a key file.
 */
int core_key_load_recipient(const char *path, unsigned char pk[32]);

/*
 * Read an identity file (<name>.key) into *id. The public key in the file
 * must equal crypto_scalarmult_base(sk), else CAIRN_E_INVALID (the file is
 * damaged or hand-edited). File permissions are not checked.
 */
int core_key_load_identity(const char *path, struct core_identity *id);

#endif /* CORE_KEYS_H */
