/*
 * envelope.h — the archive's outer envelope: header, key slots and the
 * authenticated message stream around the inner (tar) archive. The byte
 * format is specified in docs/format.md, section "Envelope".
 *
 * Streaming: the writer pushes bytes out through a sink callback, the reader
 * pulls them in through a source callback. Neither ever holds more than one
 * message (64 KiB of plaintext plus its ciphertext) however large the
 * archive is. The data key, key-encryption keys and the stream state live in
 * sodium_malloc'd (locked, guarded) memory and are wiped by the _free calls.
 *
 * Errors: every int-returning call returns 0 or a negative CAIRN_E_* status
 * and, for failures detected here, records a one-line message with
 * core_error_set(). When a callback fails, its own status is returned
 * unchanged and no message is recorded (the callback should record one).
 * After any failure a writer or reader is dead: every further call returns
 * the same status; only _free is useful.
 *
 * Threading: an object may be used from one thread at a time. The error slot
 * is process-global (see error.h).
 */
#ifndef CORE_ENVELOPE_H
#define CORE_ENVELOPE_H

#include <stddef.h>

#include "keys.h"

/* Largest plaintext carried by one message of the body. */
#define CORE_ENV_MESSAGE_MAX 65536u

/*
 * The envelope version written (docs/format.md). The reader accepts 1 and 2:
 * 2 lets key slots change without touching the body (core_env_rekey); 1,
 * written before, binds the body to every header byte.
 */
#define CORE_ENV_VERSION 2

/* Length of the key id that instance and recipient slots carry. */
#define CORE_ENV_KEY_ID_LEN 8

/* core_env_info.opened_by when the keyring's data_key opened the archive. */
#define CORE_ENV_OPENED_BY_DATA_KEY (-1)

/* Key slot types (docs/format.md); also bit numbers of slot_types_mask. */
enum core_env_slot {
	CORE_ENV_SLOT_PLAIN = 0,      /* data key in clear (--no-encryption) */
	CORE_ENV_SLOT_INSTANCE = 1,   /* wrapped with the instance's secret key */
	CORE_ENV_SLOT_PASSPHRASE = 2, /* wrapped with an Argon2id passphrase key */
	CORE_ENV_SLOT_RECIPIENT = 3   /* sealed box to an X25519 public key */
};

/*
 * What the user supplied. Everything is borrowed: the pointers need only stay
 * valid during core_env_writer_new() / core_env_reader_new(); neither keeps
 * a reference (the data key is copied into locked memory).
 *
 * Writing: one slot is written for the instance key (if set), one for the
 * passphrase (if set) and one per recipient, at most 32 in all, in that
 * order. `identities` is ignored. With no_encryption set, exactly one PLAIN
 * slot is written and every key is ignored (the CLI rejects the mix).
 *
 * Reading: each supplied key is tried against the slots it can open
 * (`recipients` and `no_encryption` are ignored). An unencrypted archive opens
 * with any keyring, including an empty one. Cheap slots (instance,
 * recipient) are tried before passphrase slots (Argon2id is slow). With
 * `data_key` set no slot is tried: that key is the archive's data key (a
 * wrong one fails the first message as CAIRN_E_CORRUPT); rekey uses it to
 * check an archive it wrote when no key it was given has a slot left.
 *
 * core_env_rekey: the keys to add slots for (as for writing; `identities`,
 * `data_key` and `no_encryption` are ignored).
 */
struct core_keyring {
	const unsigned char *instance_key; /* decoded instance key, or NULL */
	size_t instance_key_len;           /* 16..64 bytes (core_key_decode_instance) */
	const char *passphrase;            /* NUL-terminated, non-empty, or NULL */
	const unsigned char (*recipients)[32]; /* X25519 public keys (writing) */
	size_t n_recipients;
	const struct core_identity *identities; /* key pairs (reading) */
	size_t n_identities;
	int no_encryption; /* writing: PLAIN slot only */
	const unsigned char *data_key; /* reading: 32 bytes, or NULL (see above) */
};

/*
 * Sink: consume exactly `len` bytes (len > 0) of archive; return 0, or a
 * CAIRN_E_* status (usually CAIRN_E_IO, after core_error_set) to abort.
 * Called from core_env_writer_new (the whole header, once), core_env_write
 * (one call per full message) and core_env_finish (the last message).
 */
typedef int (*core_sink_fn)(void *ud, const void *buf, size_t len);

/*
 * Source: store up to `cap` bytes (cap > 0) of archive into `buf` and set
 * *got to their count; *got = 0 means end of input. Short reads are fine;
 * the reader loops. Return 0, or a CAIRN_E_* status to abort. Called from
 * core_env_reader_new (header) and core_env_read (messages and the final
 * check for end of input); never after end of input was reported.
 */
typedef int (*core_source_fn)(void *ud, void *buf, size_t cap, size_t *got);

struct core_env_writer;
struct core_env_reader;

/*
 * Start an archive: make a random data key, wrap it into one slot per key in
 * *kr, and send the complete header through `sink`. On success *out owns the
 * writer (free with core_env_writer_free); on failure *out is NULL.
 * Errors: CAIRN_E_INVALID "no key to encrypt with" (no slot source),
 * "too many keys …", bad instance key length, empty passphrase, invalid
 * recipient key; CAIRN_E_NOMEM; the sink's status.
 */
int core_env_writer_new(const struct core_keyring *kr, core_sink_fn sink, void *ud,
			struct core_env_writer **out);

/*
 * As core_env_writer_new, writing envelope `version` (1 or 2; anything else
 * is CAIRN_E_INVALID). Cairn writes CORE_ENV_VERSION; version 1 is for the
 * tests and tools that keep the reader of older backups exercised
 * (tests/tools/craft.c, tests/fuzz/make_corpus.c).
 */
int core_env_writer_new_version(unsigned version, const struct core_keyring *kr,
				core_sink_fn sink, void *ud, struct core_env_writer **out);

/*
 * Append `len` bytes of plaintext (borrowed for the call). Data is buffered;
 * each time 64 KiB are buffered and more arrive, one message goes to the
 * sink. Calling after finish gives CAIRN_E_INVALID.
 */
int core_env_write(struct core_env_writer *w, const void *buf, size_t len);

/*
 * End the archive: send the buffered plaintext (possibly none) as the
 * FINAL message. The archive is complete only once this returned 0.
 * Calling it twice gives CAIRN_E_INVALID.
 */
int core_env_finish(struct core_env_writer *w);

/* Wipe keys and buffers and free. NULL is fine. Does not call the sink. */
void core_env_writer_free(struct core_env_writer *w);

/*
 * Open an archive: read and check the header through `src`, then unwrap the
 * data key with the first slot that a key in *kr opens. Nothing of the body
 * is read yet. On success *out owns the reader; on failure *out is NULL.
 * Errors: CAIRN_E_CORRUPT (bad magic, malformed or truncated header, damaged
 * slot, hostile Argon2 parameters), CAIRN_E_UNSUPPORTED (format version or
 * flags unknown, or no slot type this version understands), CAIRN_E_AUTH
 * (no supplied key opens a slot: the message lists the slots and the keys
 * tried), CAIRN_E_INVALID (bad instance key length), CAIRN_E_NOMEM, or the
 * source's status.
 */
int core_env_reader_new(const struct core_keyring *kr, core_source_fn src, void *ud,
			struct core_env_reader **out);

/*
 * Read up to `cap` (> 0) bytes of verified plaintext into `buf`; *got receives the
 * count. *got = 0 (with status 0) is returned only after the FINAL message
 * authenticated and the source reported end of input right after it. A
 * short count is not end of data. Errors: CAIRN_E_CORRUPT "archive is
 * truncated", "trailing data after end of archive", "oversize message …",
 * "archive is corrupted (authentication failed at message N)" (N counts
 * from 1), or the source's status. Bytes already returned came from
 * authenticated messages, but the archive as a whole is only proven
 * complete by the final *got = 0.
 */
int core_env_read(struct core_env_reader *r, void *buf, size_t cap, size_t *got);

/* What the header said and which slot opened it. */
struct core_env_info {
	unsigned version;         /* envelope version: 1 or 2 */
	int encrypted;            /* header flag bit 0 */
	unsigned slot_types_mask; /* bit t set when a slot of type t (< 32) exists */
	size_t n_slots;           /* slots in the header, 1..32, unknown types included */
	int opened_by;            /* enum core_env_slot of the slot that opened it, or
				     CORE_ENV_OPENED_BY_DATA_KEY */
	size_t opened_slot;       /* its index (< n_slots); SIZE_MAX for the data key */
};

void core_env_reader_info(const struct core_env_reader *r, struct core_env_info *out);

/* One key slot as the header has it. */
struct core_env_slot_desc {
	int type;   /* enum core_env_slot, or a type this version does not know */
	int has_id; /* instance and recipient slots carry a key id */
	unsigned char id[CORE_ENV_KEY_ID_LEN];
};

/* Slot i (< n_slots of core_env_reader_info) of an open reader. */
void core_env_reader_slot(const struct core_env_reader *r, size_t i,
			  struct core_env_slot_desc *out);

/*
 * A slot as operators see it and name it (backups info, the CAIRN_E_AUTH
 * message, rekey --remove-slot): "instance key 3f2a9c01d4e5b6a7",
 * "recipient 81c0…" (the id in 16 lower-case hex digits), "passphrase",
 * "plain", "unknown type 9". 64 bytes always suffice.
 */
void core_env_slot_label(const struct core_env_slot_desc *s, char *out, size_t cap);

/* The key ids a slot of that key carries (docs/format.md), to match keys to slots. */
void core_env_instance_key_id(const unsigned char *key, size_t len,
			      unsigned char id[CORE_ENV_KEY_ID_LEN]);
void core_env_public_key_id(const unsigned char pk[32], unsigned char id[CORE_ENV_KEY_ID_LEN]);

/*
 * The data key of an open reader: 32 bytes in locked memory, borrowed until
 * core_env_reader_free. Only for a keyring's data_key (rekey's check).
 */
const unsigned char *core_env_reader_data_key(const struct core_env_reader *r);

/*
 * Send through `sink` the header of the same archive with other key slots:
 * r's slots whose keep[i] is non-zero (one flag per slot, n_slots of them),
 * unchanged and in their order, then the slots core_env_writer_new would
 * make for *add, wrapping r's data key. Version, flags and stream header are
 * r's, so this header followed by the bytes that follow r's header in its
 * source, unchanged, is a valid archive. r must not have been read from
 * (core_env_read) and is left as it was.
 * Errors: CAIRN_E_UNSUPPORTED (a version 1 archive: its body is bound to its
 * slots), CAIRN_E_INVALID (unencrypted archive, no slot left, more than 32,
 * an unusable key in *add, r already read), CAIRN_E_NOMEM, the sink's status.
 */
int core_env_rekey(struct core_env_reader *r, const unsigned char *keep,
		   const struct core_keyring *add, core_sink_fn sink, void *ud);

/* Wipe keys and buffers and free. NULL is fine. Does not call the source. */
void core_env_reader_free(struct core_env_reader *r);

#endif /* CORE_ENVELOPE_H */
