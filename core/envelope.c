/*
 * envelope.c — see envelope.h and docs/format.md ("Envelope").
 *
 * Why it is built this way:
 *  - Unencrypted backups use the same secretstream framing under a key
 *    published in the header, so truncation and corruption are caught by the
 *    same code path as for encrypted ones (it is a checksum, not a seal).
 *  - Version 2 binds the body to what describes it (magic, version, flags,
 *    stream header) but not to the slot list, and each slot to the same
 *    fixed bytes without H: slots can then be added or removed by whoever
 *    holds the data key (cairn backups rekey) without touching the body,
 *    and a kept slot still opens. Version 1 bound the body to a hash of the
 *    whole header and each slot to H; it is still read, never written by
 *    cairn (tests and tools write it to keep the reader of old backups
 *    exercised).
 *  - Instance and recipient slots carry a key id, so a wrong key is told
 *    apart (CAIRN_E_AUTH) from a damaged slot that matches (CAIRN_E_CORRUPT).
 */
#include "envelope.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "cairn/status.h"
#include "error.h"

#define MAGIC "CAIRN\0\r\n"
#define MAGIC_LEN 8
#define FORMAT_VERSION CORE_ENV_VERSION /* the newest this code reads and writes */
#define FLAG_ENCRYPTED 0x0001u
#define FIXED_LEN 16                /* magic, version, flags, H */
#define BOUND_LEN 12                /* magic, version, flags: bound to body and slots (v2) */
#define HEADER_BODY_MAX 65536u
#define SLOTS_MAX 32
#define KEY_LEN crypto_secretstream_xchacha20poly1305_KEYBYTES      /* 32 */
#define SS_HEADER_LEN crypto_secretstream_xchacha20poly1305_HEADERBYTES /* 24 */
#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES      /* 17 */
#define MSG_CT_MAX (CORE_ENV_MESSAGE_MAX + SS_ABYTES)
#define KEY_ID_LEN CORE_ENV_KEY_ID_LEN
#define AEAD_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES /* 24 */
#define WRAPPED_LEN (KEY_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES) /* 48 */
#define SEALED_LEN (KEY_LEN + crypto_box_SEALBYTES)               /* 80 */
#define SALT_LEN crypto_pwhash_SALTBYTES                          /* 16 */

#define PLAIN_BODY_LEN KEY_LEN
#define INSTANCE_BODY_LEN (KEY_ID_LEN + AEAD_NONCE_LEN + WRAPPED_LEN)
#define PASSPHRASE_BODY_LEN (8 + 8 + SALT_LEN + AEAD_NONCE_LEN + WRAPPED_LEN)
#define RECIPIENT_BODY_LEN (KEY_ID_LEN + SEALED_LEN)

/* A hostile header must not make us burn unbounded CPU or memory. */
#define PW_OPS_CEILING (16ull * crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE)
#if SIZE_MAX >= (4ull << 30)
#define PW_MEM_CEILING (4ull << 30)
#else
#define PW_MEM_CEILING ((unsigned long long)SIZE_MAX)
#endif

static const char key_id_context[] = "cairn key id";
static const char instance_context[] = "cairn instance slot v1";
static const char body_context[] = "cairn body v2";

/* Everything secret, in one sodium_malloc'd block (locked, wiped on free). */
struct secrets {
	unsigned char data_key[KEY_LEN];
	unsigned char kek[KEY_LEN];
	crypto_secretstream_xchacha20poly1305_state st;
};

struct core_env_writer {
	core_sink_fn sink;
	void *ud;
	struct secrets *sec;
	unsigned char hdr_hash[32]; /* the first message's additional data (body_ad) */
	int first;      /* next message is the first: bind hdr_hash */
	int finished;
	int status;     /* sticky failure */
	size_t pt_len;
	unsigned char *pt; /* CORE_ENV_MESSAGE_MAX plaintext */
	unsigned char *ct; /* u32 length + ciphertext of one message */
};

struct slot {
	int type;
	const unsigned char *body; /* inside core_env_reader.hdr */
	size_t len;
};

struct core_env_reader {
	core_source_fn src;
	void *ud;
	struct secrets *sec;
	unsigned char hdr_hash[32];
	unsigned char *hdr;   /* the whole header, kept for the slots and core_env_rekey */
	size_t hdr_len;
	struct slot slots[SLOTS_MAX];
	unsigned long msg_no; /* messages pulled so far */
	int done;             /* FINAL authenticated and end of input seen */
	int status;
	size_t pt_len, pt_pos;
	unsigned char *pt;
	unsigned char *ct;
	struct core_env_info info;
};

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int sodium_ready(void)
{
	if (sodium_init() < 0)
		return core_error_set(CAIRN_E_GENERIC, "unable to initialise libsodium");
	return CAIRN_OK;
}

void core_env_instance_key_id(const unsigned char *key, size_t len, unsigned char id[KEY_ID_LEN])
{
	unsigned char h[32];
	crypto_generichash(h, sizeof(h), (const unsigned char *)key_id_context,
			   sizeof(key_id_context) - 1, key, len);
	memcpy(id, h, KEY_ID_LEN);
}

void core_env_public_key_id(const unsigned char pk[32], unsigned char id[KEY_ID_LEN])
{
	unsigned char h[32];
	crypto_generichash(h, sizeof(h), pk, 32, NULL, 0);
	memcpy(id, h, KEY_ID_LEN);
}

static void instance_kek(const unsigned char *key, size_t len, unsigned char kek[KEY_LEN])
{
	crypto_generichash(kek, KEY_LEN, (const unsigned char *)instance_context,
			   sizeof(instance_context) - 1, key, len);
}

static int check_instance_key(const struct core_keyring *kr)
{
	if (kr->instance_key && (kr->instance_key_len < CORE_KEY_INSTANCE_MIN ||
				 kr->instance_key_len > CORE_KEY_INSTANCE_MAX))
		return core_error_set(CAIRN_E_INVALID,
				      "instance key must be 16 to 64 bytes (got %zu bytes)",
				      kr->instance_key_len);
	return CAIRN_OK;
}

static struct secrets *secrets_new(void)
{
	struct secrets *s = sodium_malloc(sizeof(*s));
	if (s)
		sodium_memzero(s, sizeof(*s));
	return s;
}

/* Additional data of every slot's AEAD: the fixed bytes of the header, H only in version 1. */
static size_t slot_ad_len(unsigned version)
{
	return version == 1 ? FIXED_LEN : BOUND_LEN;
}

/*
 * Additional data of the body's first message. Version 1: the hash of the
 * whole header. Version 2: what the body needs to stay bound to (its version,
 * flags and stream header), leaving out H and the slots so that these can
 * change.
 */
static void body_ad(unsigned version, const unsigned char *hdr, size_t hdr_len,
		    unsigned char out[32])
{
	if (version == 1) {
		crypto_generichash(out, 32, hdr, hdr_len, NULL, 0);
		return;
	}
	crypto_generichash_state h;
	crypto_generichash_init(&h, NULL, 0, 32);
	crypto_generichash_update(&h, (const unsigned char *)body_context, sizeof(body_context) - 1);
	crypto_generichash_update(&h, hdr, BOUND_LEN);
	crypto_generichash_update(&h, hdr + hdr_len - SS_HEADER_LEN, SS_HEADER_LEN);
	crypto_generichash_final(&h, out, 32);
}

/* ---- writer ---- */

/* Append one slot (type, u16 body length, body) at *p; advances *p. */
static unsigned char *slot_begin(unsigned char *p, int type, size_t body_len)
{
	p[0] = (unsigned char)type;
	put16(p + 1, (uint16_t)body_len);
	return p + 3;
}

/* The keys of *kr that make slots: their count and bytes (type and length included). */
static int count_slots(const struct core_keyring *kr, size_t *nslots, size_t *len)
{
	*nslots = 0;
	*len = 0;
	if (kr->passphrase && !kr->passphrase[0])
		return core_error_set(CAIRN_E_INVALID, "passphrase is empty");
	if (kr->instance_key) {
		++*nslots;
		*len += 3 + INSTANCE_BODY_LEN;
	}
	if (kr->passphrase) {
		++*nslots;
		*len += 3 + PASSPHRASE_BODY_LEN;
	}
	if (kr->n_recipients > SLOTS_MAX)
		return core_error_set(CAIRN_E_INVALID, "too many keys (at most %d)", SLOTS_MAX);
	*nslots += kr->n_recipients;
	*len += kr->n_recipients * (3 + RECIPIENT_BODY_LEN);
	return CAIRN_OK;
}

/*
 * Write the slots of *kr's keys (not PLAIN) at p, each wrapping
 * sec->data_key, with `ad` as the AEAD's additional data.
 */
static int write_slots(const struct core_keyring *kr, struct secrets *sec,
		       const unsigned char *ad, size_t ad_len, unsigned char *p)
{
	if (kr->instance_key) {
		p = slot_begin(p, CORE_ENV_SLOT_INSTANCE, INSTANCE_BODY_LEN);
		core_env_instance_key_id(kr->instance_key, kr->instance_key_len, p);
		randombytes_buf(p + KEY_ID_LEN, AEAD_NONCE_LEN);
		instance_kek(kr->instance_key, kr->instance_key_len, sec->kek);
		crypto_aead_xchacha20poly1305_ietf_encrypt(
			p + KEY_ID_LEN + AEAD_NONCE_LEN, NULL, sec->data_key, KEY_LEN, ad,
			ad_len, NULL, p + KEY_ID_LEN, sec->kek);
		p += INSTANCE_BODY_LEN;
	}
	if (kr->passphrase) {
		p = slot_begin(p, CORE_ENV_SLOT_PASSPHRASE, PASSPHRASE_BODY_LEN);
		uint64_t ops = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
		uint64_t mem = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
		put64(p, ops);
		put64(p + 8, mem);
		unsigned char *salt = p + 16, *nonce = salt + SALT_LEN;
		randombytes_buf(salt, SALT_LEN);
		randombytes_buf(nonce, AEAD_NONCE_LEN);
		if (crypto_pwhash(sec->kek, KEY_LEN, kr->passphrase, strlen(kr->passphrase), salt,
				  ops, (size_t)mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
			return core_error_set(CAIRN_E_NOMEM,
					      "unable to derive the passphrase key (out of memory)");
		crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + AEAD_NONCE_LEN, NULL,
							   sec->data_key, KEY_LEN, ad, ad_len,
							   NULL, nonce, sec->kek);
		p += PASSPHRASE_BODY_LEN;
	}
	for (size_t i = 0; i < kr->n_recipients; i++) {
		p = slot_begin(p, CORE_ENV_SLOT_RECIPIENT, RECIPIENT_BODY_LEN);
		core_env_public_key_id(kr->recipients[i], p);
		if (crypto_box_seal(p + KEY_ID_LEN, sec->data_key, KEY_LEN, kr->recipients[i]) != 0)
			return core_error_set(CAIRN_E_INVALID,
					      "recipient key %zu is not a usable public key", i + 1);
		p += RECIPIENT_BODY_LEN;
	}
	sodium_memzero(sec->kek, sizeof(sec->kek));
	return CAIRN_OK;
}

int core_env_writer_new(const struct core_keyring *kr, core_sink_fn sink, void *ud,
			struct core_env_writer **out)
{
	return core_env_writer_new_version(CORE_ENV_VERSION, kr, sink, ud, out);
}

int core_env_writer_new_version(unsigned version, const struct core_keyring *kr,
				core_sink_fn sink, void *ud, struct core_env_writer **out)
{
	*out = NULL;
	int rc = sodium_ready();
	if (rc)
		return rc;
	if (version < 1 || version > FORMAT_VERSION)
		return core_error_set(CAIRN_E_INVALID, "envelope version %u cannot be written",
				      version);
	if (!kr)
		return core_error_set(CAIRN_E_INVALID, "no key to encrypt with");
	if ((rc = check_instance_key(kr)) != 0)
		return rc;

	size_t nslots = 1, slots_len = 3 + PLAIN_BODY_LEN;
	if (!kr->no_encryption && (rc = count_slots(kr, &nslots, &slots_len)) != 0)
		return rc;
	if (nslots == 0)
		return core_error_set(CAIRN_E_INVALID, "no key to encrypt with");
	if (nslots > SLOTS_MAX)
		return core_error_set(CAIRN_E_INVALID, "too many keys (at most %d)", SLOTS_MAX);

	size_t body_len = 1 + slots_len + SS_HEADER_LEN; /* < 4 KiB: fits H */
	size_t hdr_len = FIXED_LEN + body_len;

	struct core_env_writer *w = calloc(1, sizeof(*w));
	unsigned char *hdr = malloc(hdr_len);
	if (!w || !hdr || !(w->sec = secrets_new()) || !(w->pt = malloc(CORE_ENV_MESSAGE_MAX)) ||
	    !(w->ct = malloc(4 + MSG_CT_MAX))) {
		rc = core_error_set(CAIRN_E_NOMEM, "out of memory starting the archive");
		goto fail;
	}
	w->sink = sink;
	w->ud = ud;
	w->first = 1;

	memcpy(hdr, MAGIC, MAGIC_LEN);
	put16(hdr + 8, (uint16_t)version);
	put16(hdr + 10, kr->no_encryption ? 0 : FLAG_ENCRYPTED);
	put32(hdr + 12, (uint32_t)body_len);
	hdr[FIXED_LEN] = (unsigned char)nslots;

	crypto_secretstream_xchacha20poly1305_keygen(w->sec->data_key);
	if (kr->no_encryption)
		memcpy(slot_begin(hdr + FIXED_LEN + 1, CORE_ENV_SLOT_PLAIN, PLAIN_BODY_LEN),
		       w->sec->data_key, KEY_LEN);
	else if ((rc = write_slots(kr, w->sec, hdr, slot_ad_len(version), hdr + FIXED_LEN + 1)) != 0)
		goto fail;
	crypto_secretstream_xchacha20poly1305_init_push(&w->sec->st, hdr + hdr_len - SS_HEADER_LEN,
							w->sec->data_key);
	body_ad(version, hdr, hdr_len, w->hdr_hash);

	if ((rc = sink(ud, hdr, hdr_len)) != 0)
		goto fail;
	free(hdr);
	*out = w;
	return CAIRN_OK;
fail:
	free(hdr);
	core_env_writer_free(w);
	return rc;
}

/* Encrypt the buffered plaintext as one message and send it. */
static int emit(struct core_env_writer *w, unsigned char tag)
{
	unsigned long long clen = 0;
	const unsigned char *ad = w->first ? w->hdr_hash : NULL;
	crypto_secretstream_xchacha20poly1305_push(&w->sec->st, w->ct + 4, &clen, w->pt, w->pt_len,
						   ad, ad ? sizeof(w->hdr_hash) : 0, tag);
	put32(w->ct, (uint32_t)clen);
	w->first = 0;
	sodium_memzero(w->pt, w->pt_len);
	w->pt_len = 0;
	int rc = w->sink(w->ud, w->ct, 4 + (size_t)clen);
	if (rc)
		w->status = rc;
	return rc;
}

int core_env_write(struct core_env_writer *w, const void *buf, size_t len)
{
	if (w->status)
		return w->status;
	if (w->finished)
		return core_error_set(CAIRN_E_INVALID, "archive already finished");
	const unsigned char *p = buf;
	while (len > 0) {
		/* A full buffer goes out only once more data proves it isn't the last. */
		if (w->pt_len == CORE_ENV_MESSAGE_MAX) {
			int rc = emit(w, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
			if (rc)
				return rc;
		}
		size_t n = CORE_ENV_MESSAGE_MAX - w->pt_len;
		if (n > len)
			n = len;
		memcpy(w->pt + w->pt_len, p, n);
		w->pt_len += n;
		p += n;
		len -= n;
	}
	return CAIRN_OK;
}

int core_env_finish(struct core_env_writer *w)
{
	if (w->status)
		return w->status;
	if (w->finished)
		return core_error_set(CAIRN_E_INVALID, "archive already finished");
	w->finished = 1;
	return emit(w, crypto_secretstream_xchacha20poly1305_TAG_FINAL);
}

void core_env_writer_free(struct core_env_writer *w)
{
	if (!w)
		return;
	sodium_free(w->sec); /* wipes */
	if (w->pt) {
		sodium_memzero(w->pt, CORE_ENV_MESSAGE_MAX);
		free(w->pt);
	}
	free(w->ct);
	sodium_memzero(w, sizeof(*w));
	free(w);
}

/* ---- reader ---- */

/* Read exactly n bytes unless input ends first; *got tells how many came. */
static int read_full(core_source_fn src, void *ud, unsigned char *buf, size_t n, size_t *got)
{
	*got = 0;
	while (*got < n) {
		size_t r = 0;
		int rc = src(ud, buf + *got, n - *got, &r);
		if (rc)
			return rc;
		if (r == 0)
			break;
		if (r > n - *got)
			return core_error_set(CAIRN_E_IO, "archive source returned more bytes than asked");
		*got += r;
	}
	return CAIRN_OK;
}

static const char *slot_name(int type)
{
	switch (type) {
	case CORE_ENV_SLOT_PLAIN:
		return "plain";
	case CORE_ENV_SLOT_INSTANCE:
		return "instance key";
	case CORE_ENV_SLOT_PASSPHRASE:
		return "passphrase";
	case CORE_ENV_SLOT_RECIPIENT:
		return "recipient";
	default:
		return NULL;
	}
}

static size_t slot_body_len(int type)
{
	switch (type) {
	case CORE_ENV_SLOT_PLAIN:
		return PLAIN_BODY_LEN;
	case CORE_ENV_SLOT_INSTANCE:
		return INSTANCE_BODY_LEN;
	case CORE_ENV_SLOT_PASSPHRASE:
		return PASSPHRASE_BODY_LEN;
	case CORE_ENV_SLOT_RECIPIENT:
		return RECIPIENT_BODY_LEN;
	default:
		return 0;
	}
}

/* Split the header body into slots and check everything that is structural. */
static int parse_slots(const unsigned char *body, size_t len, int encrypted, struct slot *slots,
		       size_t *nslots, struct core_env_info *info)
{
	const unsigned char *p = body, *end = body + len;
	size_t n = *p++;
	if (n < 1 || n > SLOTS_MAX)
		return core_error_set(CAIRN_E_CORRUPT, "malformed header (%zu key slots)", n);
	int understood = 0;
	for (size_t i = 0; i < n; i++) {
		if (end - p < 3)
			return core_error_set(CAIRN_E_CORRUPT, "malformed header (key slot %zu)", i + 1);
		int type = p[0];
		size_t blen = get16(p + 1);
		p += 3;
		if ((size_t)(end - p) < blen)
			return core_error_set(CAIRN_E_CORRUPT, "malformed header (key slot %zu)", i + 1);
		if (slot_name(type)) {
			if (blen != slot_body_len(type))
				return core_error_set(CAIRN_E_CORRUPT,
						      "malformed header (%s slot of %zu bytes)",
						      slot_name(type), blen);
			understood = 1;
		}
		if (type == CORE_ENV_SLOT_PLAIN && (encrypted || n != 1))
			return core_error_set(CAIRN_E_CORRUPT,
					      "malformed header (plain key slot in an encrypted "
					      "archive)");
		if (type == CORE_ENV_SLOT_PASSPHRASE) {
			uint64_t ops = get64(p), mem = get64(p + 8);
			if (ops < crypto_pwhash_argon2id_OPSLIMIT_MIN || ops > PW_OPS_CEILING ||
			    mem < crypto_pwhash_argon2id_MEMLIMIT_MIN || mem > PW_MEM_CEILING)
				return core_error_set(CAIRN_E_CORRUPT,
						      "passphrase slot has out-of-range argon2id "
						      "parameters (opslimit %llu, memlimit %llu)",
						      (unsigned long long)ops, (unsigned long long)mem);
		}
		if (type < 32)
			info->slot_types_mask |= 1u << type;
		slots[i].type = type;
		slots[i].body = p;
		slots[i].len = blen;
		p += blen;
	}
	if ((size_t)(end - p) != SS_HEADER_LEN)
		return core_error_set(CAIRN_E_CORRUPT, "malformed header (bad length)");
	if (!encrypted && !(info->slot_types_mask & 1u << CORE_ENV_SLOT_PLAIN))
		return core_error_set(CAIRN_E_CORRUPT,
				      "malformed header (unencrypted archive without its key)");
	if (!understood)
		return core_error_set(CAIRN_E_UNSUPPORTED,
				      "backup has no key slot this version understands (it was "
				      "written by a newer cairn)");
	*nslots = n;
	return CAIRN_OK;
}

static void append_id(struct core_buf *b, const unsigned char *id)
{
	char hex[2 * KEY_ID_LEN + 1];
	sodium_bin2hex(hex, sizeof(hex), id, KEY_ID_LEN);
	core_buf_printf(b, " %s", hex);
}

static void describe_slot(const struct slot *s, struct core_env_slot_desc *out)
{
	memset(out, 0, sizeof(*out));
	out->type = s->type;
	out->has_id = s->type == CORE_ENV_SLOT_INSTANCE || s->type == CORE_ENV_SLOT_RECIPIENT;
	if (out->has_id)
		memcpy(out->id, s->body, KEY_ID_LEN);
}

void core_env_slot_label(const struct core_env_slot_desc *s, char *out, size_t cap)
{
	const char *name = slot_name(s->type);
	char hex[2 * KEY_ID_LEN + 1] = "";
	if (s->has_id)
		sodium_bin2hex(hex, sizeof(hex), s->id, KEY_ID_LEN);
	if (!name)
		snprintf(out, cap, "unknown type %d", s->type);
	else
		snprintf(out, cap, "%s%s%s", name, s->has_id ? " " : "", hex);
}

/* "no key opens this backup (it has slots: …; tried: …)" */
static int auth_failure(const struct core_keyring *kr, const struct slot *slots, size_t n)
{
	struct core_buf b = CORE_BUF_INIT;
	core_buf_append_str(&b, "no key opens this backup (it has slots: ");
	for (size_t i = 0; i < n; i++) {
		struct core_env_slot_desc d;
		char label[64];
		describe_slot(&slots[i], &d);
		core_env_slot_label(&d, label, sizeof(label));
		core_buf_printf(&b, "%s%s", i ? ", " : "", label);
	}
	core_buf_append_str(&b, "; tried: ");
	int any = 0;
	if (kr && kr->instance_key) {
		unsigned char id[KEY_ID_LEN];
		core_env_instance_key_id(kr->instance_key, kr->instance_key_len, id);
		core_buf_append_str(&b, "instance key");
		append_id(&b, id);
		any = 1;
	}
	if (kr && kr->passphrase) {
		core_buf_append_str(&b, any ? ", passphrase" : "passphrase");
		any = 1;
	}
	for (size_t i = 0; kr && i < kr->n_identities; i++) {
		unsigned char id[KEY_ID_LEN];
		core_env_public_key_id(kr->identities[i].pk, id);
		core_buf_append_str(&b, any ? ", identity" : "identity");
		append_id(&b, id);
		any = 1;
	}
	if (!any)
		core_buf_append_str(&b, "no key at all");
	core_buf_append_char(&b, ')');
	int rc = b.data ? core_error_set(CAIRN_E_AUTH, "%s", b.data)
			: core_error_set(CAIRN_E_AUTH, "no key opens this backup");
	core_buf_free(&b);
	return rc;
}

/*
 * Try the supplied keys against the slots. 1 = opened (data key in
 * sec->data_key), 0 = nothing opened, <0 = error.
 */
static int open_slots(const struct core_keyring *kr, struct secrets *sec, const unsigned char *ad,
		      size_t ad_len, const struct slot *slots, size_t n, struct core_env_info *info)
{
	unsigned char want[KEY_ID_LEN], id[KEY_ID_LEN];
	if (kr && kr->data_key) {
		memcpy(sec->data_key, kr->data_key, KEY_LEN);
		info->opened_by = CORE_ENV_OPENED_BY_DATA_KEY;
		info->opened_slot = SIZE_MAX;
		return 1;
	}
	if (kr && kr->instance_key)
		core_env_instance_key_id(kr->instance_key, kr->instance_key_len, want);

	/* Pass 0: cheap slots with key ids; pass 1: passphrase (Argon2id). */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			const unsigned char *b = slots[i].body;
			switch (slots[i].type) {
			case CORE_ENV_SLOT_PLAIN:
				memcpy(sec->data_key, b, KEY_LEN);
				info->opened_by = CORE_ENV_SLOT_PLAIN;
				info->opened_slot = i;
				return 1;
			case CORE_ENV_SLOT_INSTANCE:
				if (pass != 0 || !kr || !kr->instance_key ||
				    sodium_memcmp(b, want, KEY_ID_LEN) != 0)
					break;
				instance_kek(kr->instance_key, kr->instance_key_len, sec->kek);
				if (crypto_aead_xchacha20poly1305_ietf_decrypt(
					    sec->data_key, NULL, NULL, b + KEY_ID_LEN + AEAD_NONCE_LEN,
					    WRAPPED_LEN, ad, ad_len, b + KEY_ID_LEN, sec->kek) != 0)
					return core_error_set(CAIRN_E_CORRUPT,
							      "archive is corrupted (instance key slot "
							      "%zu does not decrypt)", i + 1);
				info->opened_by = CORE_ENV_SLOT_INSTANCE;
				info->opened_slot = i;
				return 1;
			case CORE_ENV_SLOT_RECIPIENT:
				for (size_t k = 0; pass == 0 && kr && k < kr->n_identities; k++) {
					core_env_public_key_id(kr->identities[k].pk, id);
					if (sodium_memcmp(b, id, KEY_ID_LEN) != 0)
						continue;
					if (crypto_box_seal_open(sec->data_key, b + KEY_ID_LEN,
								 SEALED_LEN, kr->identities[k].pk,
								 kr->identities[k].sk) != 0)
						return core_error_set(
							CAIRN_E_CORRUPT,
							"archive is corrupted (recipient slot %zu does "
							"not decrypt)", i + 1);
					info->opened_by = CORE_ENV_SLOT_RECIPIENT;
					info->opened_slot = i;
					return 1;
				}
				break;
			case CORE_ENV_SLOT_PASSPHRASE: {
				if (pass != 1 || !kr || !kr->passphrase)
					break;
				uint64_t ops = get64(b), mem = get64(b + 8);
				const unsigned char *salt = b + 16, *nonce = salt + SALT_LEN;
				if (crypto_pwhash(sec->kek, KEY_LEN, kr->passphrase,
						  strlen(kr->passphrase), salt, ops, (size_t)mem,
						  crypto_pwhash_ALG_ARGON2ID13) != 0)
					return core_error_set(CAIRN_E_NOMEM,
							      "unable to derive the passphrase key "
							      "(out of memory)");
				/* A wrong passphrase and a damaged slot look alike here. */
				if (crypto_aead_xchacha20poly1305_ietf_decrypt(
					    sec->data_key, NULL, NULL, nonce + AEAD_NONCE_LEN,
					    WRAPPED_LEN, ad, ad_len, nonce, sec->kek) == 0) {
					info->opened_by = CORE_ENV_SLOT_PASSPHRASE;
					info->opened_slot = i;
					return 1;
				}
				break;
			}
			default:
				break; /* unknown type: skipped */
			}
		}
	}
	return 0;
}

int core_env_reader_new(const struct core_keyring *kr, core_source_fn src, void *ud,
			struct core_env_reader **out)
{
	*out = NULL;
	int rc = sodium_ready();
	if (rc)
		return rc;
	if (kr && (rc = check_instance_key(kr)) != 0)
		return rc;

	struct core_env_reader *r = calloc(1, sizeof(*r));
	size_t nslots = 0, got = 0;
	if (!r || !(r->sec = secrets_new())) {
		rc = core_error_set(CAIRN_E_NOMEM, "out of memory opening the archive");
		goto fail;
	}
	r->src = src;
	r->ud = ud;

	unsigned char fixed[FIXED_LEN];
	if ((rc = read_full(src, ud, fixed, FIXED_LEN, &got)) != 0)
		goto fail;
	if (got == 0) {
		rc = core_error_set(CAIRN_E_CORRUPT, "archive is empty");
		goto fail;
	}
	if (got < MAGIC_LEN || memcmp(fixed, MAGIC, MAGIC_LEN) != 0) {
		rc = core_error_set(CAIRN_E_CORRUPT, "not a cairn backup (bad magic)");
		goto fail;
	}
	if (got < FIXED_LEN) {
		rc = core_error_set(CAIRN_E_CORRUPT, "archive is truncated");
		goto fail;
	}
	unsigned version = get16(fixed + 8), flags = get16(fixed + 10);
	uint32_t body_len = get32(fixed + 12);
	if (version < 1 || version > FORMAT_VERSION) {
		rc = core_error_set(CAIRN_E_UNSUPPORTED,
				    "backup format version %u is not supported (this cairn reads "
				    "versions 1 to %d)", version, FORMAT_VERSION);
		goto fail;
	}
	if (flags & ~FLAG_ENCRYPTED) {
		rc = core_error_set(CAIRN_E_UNSUPPORTED,
				    "backup uses unknown header flags 0x%04x", flags);
		goto fail;
	}
	if (body_len > HEADER_BODY_MAX || body_len < 1 + SS_HEADER_LEN) {
		rc = core_error_set(CAIRN_E_CORRUPT, "malformed header (length %lu)",
				    (unsigned long)body_len);
		goto fail;
	}
	r->hdr_len = FIXED_LEN + body_len;
	if (!(r->hdr = malloc(r->hdr_len))) {
		rc = core_error_set(CAIRN_E_NOMEM, "out of memory opening the archive");
		goto fail;
	}
	memcpy(r->hdr, fixed, FIXED_LEN);
	if ((rc = read_full(src, ud, r->hdr + FIXED_LEN, body_len, &got)) != 0)
		goto fail;
	if (got < body_len) {
		rc = core_error_set(CAIRN_E_CORRUPT, "archive is truncated");
		goto fail;
	}
	r->info.version = version;
	r->info.encrypted = (flags & FLAG_ENCRYPTED) != 0;
	if ((rc = parse_slots(r->hdr + FIXED_LEN, body_len, r->info.encrypted, r->slots, &nslots,
			      &r->info)) != 0)
		goto fail;
	r->info.n_slots = nslots;

	rc = open_slots(kr, r->sec, r->hdr, slot_ad_len(version), r->slots, nslots, &r->info);
	sodium_memzero(r->sec->kek, sizeof(r->sec->kek));
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		rc = auth_failure(kr, r->slots, nslots);
		goto fail;
	}
	if (crypto_secretstream_xchacha20poly1305_init_pull(
		    &r->sec->st, r->hdr + r->hdr_len - SS_HEADER_LEN, r->sec->data_key) != 0) {
		rc = core_error_set(CAIRN_E_CORRUPT, "malformed header (stream header)");
		goto fail;
	}
	body_ad(version, r->hdr, r->hdr_len, r->hdr_hash);
	if (!(r->pt = malloc(CORE_ENV_MESSAGE_MAX)) || !(r->ct = malloc(MSG_CT_MAX))) {
		rc = core_error_set(CAIRN_E_NOMEM, "out of memory opening the archive");
		goto fail;
	}
	*out = r;
	return CAIRN_OK;
fail:
	core_env_reader_free(r);
	return rc;
}

void core_env_reader_slot(const struct core_env_reader *r, size_t i,
			  struct core_env_slot_desc *out)
{
	describe_slot(&r->slots[i], out);
}

const unsigned char *core_env_reader_data_key(const struct core_env_reader *r)
{
	return r->sec->data_key;
}

int core_env_rekey(struct core_env_reader *r, const unsigned char *keep,
		   const struct core_keyring *add, core_sink_fn sink, void *ud)
{
	if (r->status)
		return r->status;
	if (r->info.version == 1)
		return core_error_set(CAIRN_E_UNSUPPORTED,
				      "envelope version 1 binds the body to the key slots: they "
				      "cannot change without re-encrypting it");
	if (!r->info.encrypted)
		return core_error_set(CAIRN_E_INVALID,
				      "archive is not encrypted: it has no key slots to change");
	if (r->msg_no)
		return core_error_set(CAIRN_E_INVALID, "archive already read past its header");
	int rc = check_instance_key(add);
	size_t n_add = 0, add_len = 0, n = 0, len = 0;
	if (rc || (rc = count_slots(add, &n_add, &add_len)) != 0)
		return rc;
	for (size_t i = 0; i < r->info.n_slots; i++)
		if (keep[i]) {
			n++;
			len += 3 + r->slots[i].len;
		}
	if (n + n_add == 0)
		return core_error_set(CAIRN_E_INVALID, "no key slot would be left");
	if (n + n_add > SLOTS_MAX)
		return core_error_set(CAIRN_E_INVALID, "too many key slots (at most %d)", SLOTS_MAX);
	size_t body_len = 1 + len + add_len + SS_HEADER_LEN;
	if (body_len > HEADER_BODY_MAX)
		return core_error_set(CAIRN_E_INVALID, "key slots too large for a header");
	size_t hdr_len = FIXED_LEN + body_len;
	unsigned char *hdr = malloc(hdr_len);
	if (!hdr)
		return core_error_set(CAIRN_E_NOMEM, "out of memory rewriting the header");
	memcpy(hdr, r->hdr, BOUND_LEN);
	put32(hdr + 12, (uint32_t)body_len);
	hdr[FIXED_LEN] = (unsigned char)(n + n_add);
	unsigned char *p = hdr + FIXED_LEN + 1;
	for (size_t i = 0; i < r->info.n_slots; i++)
		if (keep[i]) {
			p = slot_begin(p, r->slots[i].type, r->slots[i].len);
			memcpy(p, r->slots[i].body, r->slots[i].len);
			p += r->slots[i].len;
		}
	rc = write_slots(add, r->sec, hdr, BOUND_LEN, p);
	memcpy(hdr + hdr_len - SS_HEADER_LEN, r->hdr + r->hdr_len - SS_HEADER_LEN, SS_HEADER_LEN);
	if (!rc)
		rc = sink(ud, hdr, hdr_len);
	free(hdr);
	return rc;
}

/* Pull and authenticate the next message into r->pt. */
static int next_message(struct core_env_reader *r)
{
	unsigned char lenbuf[4];
	size_t got = 0;
	int rc = read_full(r->src, r->ud, lenbuf, sizeof(lenbuf), &got);
	if (rc)
		return rc;
	if (got < sizeof(lenbuf))
		return core_error_set(CAIRN_E_CORRUPT, "archive is truncated");
	uint32_t clen = get32(lenbuf);
	if (clen > MSG_CT_MAX)
		return core_error_set(CAIRN_E_CORRUPT,
				      "archive is corrupted (oversize message %lu: %lu bytes)",
				      r->msg_no + 1, (unsigned long)clen);
	if (clen < SS_ABYTES)
		return core_error_set(CAIRN_E_CORRUPT,
				      "archive is corrupted (undersize message %lu: %lu bytes)",
				      r->msg_no + 1, (unsigned long)clen);
	if ((rc = read_full(r->src, r->ud, r->ct, clen, &got)) != 0)
		return rc;
	if (got < clen)
		return core_error_set(CAIRN_E_CORRUPT, "archive is truncated");

	r->msg_no++;
	unsigned long long mlen = 0;
	unsigned char tag = 0;
	const unsigned char *ad = r->msg_no == 1 ? r->hdr_hash : NULL;
	if (crypto_secretstream_xchacha20poly1305_pull(&r->sec->st, r->pt, &mlen, &tag, r->ct, clen,
						       ad, ad ? sizeof(r->hdr_hash) : 0) != 0)
		return core_error_set(CAIRN_E_CORRUPT,
				      "archive is corrupted (authentication failed at message %lu)",
				      r->msg_no);
	r->pt_len = (size_t)mlen;
	r->pt_pos = 0;
	if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
		/* Prove end of input before handing out the last plaintext. */
		unsigned char extra;
		if ((rc = read_full(r->src, r->ud, &extra, 1, &got)) != 0)
			return rc;
		if (got)
			return core_error_set(CAIRN_E_CORRUPT, "trailing data after end of archive");
		r->done = 1;
	}
	return CAIRN_OK;
}

int core_env_read(struct core_env_reader *r, void *buf, size_t cap, size_t *got)
{
	*got = 0;
	if (r->status)
		return r->status;
	if (cap == 0)
		return core_error_set(CAIRN_E_INVALID, "read buffer is empty");
	while (r->pt_pos == r->pt_len) {
		if (r->done)
			return CAIRN_OK;
		int rc = next_message(r);
		if (rc) {
			r->status = rc;
			return rc;
		}
	}
	size_t n = r->pt_len - r->pt_pos;
	if (n > cap)
		n = cap;
	memcpy(buf, r->pt + r->pt_pos, n);
	r->pt_pos += n;
	*got = n;
	return CAIRN_OK;
}

void core_env_reader_info(const struct core_env_reader *r, struct core_env_info *out)
{
	*out = r->info;
}

void core_env_reader_free(struct core_env_reader *r)
{
	if (!r)
		return;
	sodium_free(r->sec);
	free(r->hdr);
	if (r->pt) {
		sodium_memzero(r->pt, CORE_ENV_MESSAGE_MAX);
		free(r->pt);
	}
	free(r->ct);
	sodium_memzero(r, sizeof(*r));
	free(r);
}
