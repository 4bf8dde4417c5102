/*
 * rekey.c — `cairn backups rekey URI`: the same backup under other keys.
 *
 * Only the header changes (core_env_rekey, envelope version 2): the body is
 * copied byte for byte from the old object into a new one, so nothing is
 * decrypted or re-encrypted on the way and memory is one buffer however
 * large the backup. The old object is never changed in place: a storage
 * offers no atomic rewrite of a part of an object, and an interrupted
 * rewrite would lose the backup. So the new header and body become a new
 * object of the same series, committed by the storage writer (atomic),
 * verified end to end as `backups verify` does, and only then is the old
 * one deleted. Every failure before that deletion leaves the old object and
 * removes the new one.
 *
 * The new name keeps the old timestamp (retention and `backups check` read
 * the time of a backup from its name) with the next free -N after the old
 * one's, so it never sorts before a backup older than itself.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "backup_read.h"
#include "commands.h"
#include "envelope.h"
#include "error.h"
#include "keys.h"
#include "log.h"
#include "plugin_host.h"
#include "record.h"
#include "scope.h"
#include "storage.h"
#include "uri.h"

#define SLOTS_MAX 32
#define LABEL_LEN 64
#define COPY_LEN 65536

struct stream {
	struct core_storage *st;
	void *handle;
	uint64_t bytes;
};

static int stream_source(void *ud, void *buf, size_t cap, size_t *got)
{
	struct stream *s = ud;
	return core_storage_read(s->st, s->handle, buf, cap, got);
}

static int stream_sink(void *ud, const void *buf, size_t len)
{
	struct stream *s = ud;
	s->bytes += len;
	core_host()->progress(core_host(), s->bytes, 0);
	return core_storage_write(s->st, s->handle, buf, len);
}

/*
 * "…/backup-YYYYMMDDHHMMSS[-N].cairn" → base "…/backup-YYYYMMDDHHMMSS" and N
 * (0 without); -1 when the name is not one cairn gives backups.
 */
static int split_name(const char *name, char *base, size_t cap, int *n)
{
	const char *b = strrchr(name, '/');
	b = b ? b + 1 : name;
	if (strncmp(b, "backup-", 7) != 0)
		return -1;
	const char *d = b + 7, *rest = d + 14;
	for (const char *c = d; c < rest; c++)
		if (*c < '0' || *c > '9')
			return -1;
	long v = 0;
	if (*rest == '-') {
		if (*++rest < '0' || *rest > '9')
			return -1;
		for (; *rest >= '0' && *rest <= '9' && v < 1000000; rest++)
			v = v * 10 + (*rest - '0');
	}
	size_t len = (size_t)(d + 14 - name);
	if (strcmp(rest, ".cairn") != 0 || len >= cap)
		return -1;
	memcpy(base, name, len);
	base[len] = '\0';
	*n = (int)v;
	return 0;
}

/* The URI of object `name` next to the one `uri` names: its last segment replaced. */
static void sibling_uri(const char *uri, const char *name, char *out, size_t cap)
{
	const char *slash = strrchr(uri, '/'), *base = strrchr(name, '/');
	snprintf(out, cap, "%.*s/%s", (int)(slash - uri), uri, base ? base + 1 : name);
}

struct plan {
	size_t n;
	struct core_env_slot_desc slot[SLOTS_MAX];
	char label[SLOTS_MAX][LABEL_LEN];
	unsigned char keep[SLOTS_MAX];
	unsigned char (*add)[32]; /* the recipients of --add-recipient */
	size_t n_add;
	char now[SLOTS_MAX][LABEL_LEN]; /* the new header's slots, in order */
	size_t n_now;
};

static int usage(struct core_run *run, int rc)
{
	return core_fail(run, CORE_EXIT_USAGE, rc);
}

static void join_labels(char (*label)[LABEL_LEN], size_t n, char *out, size_t cap)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && used < cap; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? ", " : "", label[i]);
}

/* Mark the slots --remove-slot ID names; an ID naming none is a usage error. */
static int remove_slot(struct core_run *run, struct plan *p, const char *id)
{
	unsigned char bin[CORE_ENV_KEY_ID_LEN];
	size_t len = 0;
	int passphrase = strcasecmp(id, "passphrase") == 0, found = 0;
	if (!passphrase && (strlen(id) != 2 * CORE_ENV_KEY_ID_LEN ||
			    sodium_hex2bin(bin, sizeof(bin), id, strlen(id), NULL, &len, NULL) != 0 ||
			    len != sizeof(bin)))
		return usage(run, core_error_set(CAIRN_E_INVALID,
						 "'%s' is not a key slot id: give the 16 hex digits "
						 "'backups info' shows, or 'passphrase'", id));
	for (size_t i = 0; i < p->n; i++)
		if (passphrase ? p->slot[i].type == CORE_ENV_SLOT_PASSPHRASE
			       : p->slot[i].has_id && memcmp(p->slot[i].id, bin, sizeof(bin)) == 0) {
			p->keep[i] = 0;
			found = 1;
		}
	if (!found) {
		char all[SLOTS_MAX * (LABEL_LEN + 2)];
		join_labels(p->label, p->n, all, sizeof(all));
		return usage(run, core_error_set(CAIRN_E_INVALID,
						 "this backup has no key slot '%s' (its slots: %s)", id,
						 all));
	}
	return CAIRN_OK;
}

/*
 * Decide the new slot list from the options: every slot kept but those
 * removed, the passphrase slot replaced by --new-passphrase-file, then one
 * recipient slot per --add-recipient (refused when that key keeps a slot).
 */
static int plan_slots(struct core_run *run, struct core_env_reader *env,
		      const struct core_rekey_args *a, struct plan *p)
{
	struct core_env_info ei;
	core_env_reader_info(env, &ei);
	p->n = ei.n_slots;
	for (size_t i = 0; i < p->n; i++) {
		core_env_reader_slot(env, i, &p->slot[i]);
		core_env_slot_label(&p->slot[i], p->label[i], LABEL_LEN);
		p->keep[i] = 1;
	}
	for (size_t i = 0; i < a->n_remove; i++) {
		int rc = remove_slot(run, p, a->remove[i]);
		if (rc)
			return rc;
	}
	for (size_t i = 0; a->new_passphrase && i < p->n; i++)
		if (p->slot[i].type == CORE_ENV_SLOT_PASSPHRASE)
			p->keep[i] = 0;
	for (size_t k = 0; k < p->n_add; k++) {
		unsigned char id[CORE_ENV_KEY_ID_LEN];
		core_env_public_key_id(p->add[k], id);
		for (size_t i = 0; i < p->n; i++)
			if (p->keep[i] && p->slot[i].type == CORE_ENV_SLOT_RECIPIENT &&
			    memcmp(p->slot[i].id, id, sizeof(id)) == 0)
				return usage(run, core_error_set(CAIRN_E_INVALID,
								 "'%s' already opens this backup (%s)",
								 a->add[k], p->label[i]));
	}
	size_t left = p->n_add + (a->new_passphrase != NULL);
	for (size_t i = 0; i < p->n; i++)
		left += p->keep[i];
	if (left == 0)
		return usage(run, core_error_set(CAIRN_E_INVALID,
						 "that would leave no key slot: nothing could open the "
						 "backup again"));
	if (left > SLOTS_MAX)
		return usage(run, core_error_set(CAIRN_E_INVALID,
						 "that would make %zu key slots (at most %d)", left,
						 SLOTS_MAX));
	/* as core_env_rekey writes them: the kept ones, then the passphrase, then recipients */
	for (size_t i = 0; i < p->n; i++)
		if (p->keep[i])
			memcpy(p->now[p->n_now++], p->label[i], LABEL_LEN);
	if (a->new_passphrase)
		snprintf(p->now[p->n_now++], LABEL_LEN, "passphrase");
	for (size_t k = 0; k < p->n_add; k++) {
		struct core_env_slot_desc d = {.type = CORE_ENV_SLOT_RECIPIENT, .has_id = 1};
		core_env_public_key_id(p->add[k], d.id);
		core_env_slot_label(&d, p->now[p->n_now++], LABEL_LEN);
	}
	return CAIRN_OK;
}

/* Does the new header have a slot of this type and id (kept, or a recipient added)? */
static int new_header_has(const struct plan *p, int type, const unsigned char *id)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->keep[i] && p->slot[i].type == type &&
		    memcmp(p->slot[i].id, id, CORE_ENV_KEY_ID_LEN) == 0)
			return 1;
	for (size_t k = 0; type == CORE_ENV_SLOT_RECIPIENT && k < p->n_add; k++) {
		unsigned char rid[CORE_ENV_KEY_ID_LEN];
		core_env_public_key_id(p->add[k], rid);
		if (memcmp(rid, id, sizeof(rid)) == 0)
			return 1;
	}
	return 0;
}

/*
 * The keys to verify the new object with: those given that have a slot in
 * it — an instance key or identity by its id, the new passphrase, the old
 * one if it opened the old object and its slot stays. With none, the data
 * key itself (*by_data_key set): the run never held a key that stays.
 */
static void verify_keyring(const struct core_run *run, const struct plan *p,
			   const struct core_env_info *opened, const char *new_passphrase,
			   struct core_env_reader *env, struct core_identity *ids,
			   struct core_keyring *kr, int *by_data_key)
{
	memset(kr, 0, sizeof(*kr));
	unsigned char id[CORE_ENV_KEY_ID_LEN];
	if (run->instance_key_len) {
		core_env_instance_key_id(run->instance_key, run->instance_key_len, id);
		if (new_header_has(p, CORE_ENV_SLOT_INSTANCE, id)) {
			kr->instance_key = run->instance_key;
			kr->instance_key_len = run->instance_key_len;
		}
	}
	for (size_t i = 0; i < run->n_identities; i++) {
		core_env_public_key_id(run->identities[i].pk, id);
		if (new_header_has(p, CORE_ENV_SLOT_RECIPIENT, id))
			ids[kr->n_identities++] = run->identities[i];
	}
	kr->identities = ids;
	if (new_passphrase)
		kr->passphrase = new_passphrase;
	else if (opened->opened_by == CORE_ENV_SLOT_PASSPHRASE && p->keep[opened->opened_slot])
		kr->passphrase = run->passphrase;
	*by_data_key = !kr->instance_key && !kr->n_identities && !kr->passphrase;
	if (*by_data_key)
		kr->data_key = core_env_reader_data_key(env);
}

/* Read the new object to its authenticated end, with every check a restore makes. */
static int verify_new(struct core_run *run, const char *uri, const struct core_keyring *kr,
		      char *with, size_t cap)
{
	struct core_opened o;
	int rc = core_backup_open_with(run, uri, kr, &o);
	if (!rc)
		rc = core_manifest_check(run, o.manifest);
	const struct cairn_record *rec;
	size_t ki;
	while (!rc && (rc = core_backup_next(&o, &ki, &rec)) == 1)
		rc = 0;
	if (!rc) {
		struct core_env_info ei;
		struct core_env_slot_desc d;
		core_env_reader_info(o.env, &ei);
		if (ei.opened_by == CORE_ENV_OPENED_BY_DATA_KEY) {
			snprintf(with, cap, "the data key");
		} else {
			core_env_reader_slot(o.env, ei.opened_slot, &d);
			core_env_slot_label(&d, with, cap);
		}
	}
	core_backup_close(&o);
	return rc;
}

static void print_result(const struct core_run *run, const char *new_uri, const char *old_uri,
			 const struct plan *p, const char *with)
{
	char shown_new[2048], shown_old[2048];
	core_log_redact(new_uri, shown_new, sizeof(shown_new));
	core_log_redact(old_uri, shown_old, sizeof(shown_old));
	if (run->json) {
		json_t *slots = json_array();
		for (size_t i = 0; i < p->n_now; i++)
			json_array_append_new(slots, json_string(p->now[i]));
		json_t *j = json_pack("{s:s, s:s, s:o, s:s}", "uri", shown_new, "replaces", shown_old,
				      "key_slots", slots, "verified_with", with);
		json_dumpf(j, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	} else {
		printf("Backup rekeyed: %s (replaces %s)\n", shown_new, shown_old);
	}
	fflush(stdout);
}

int core_cmd_rekey(struct core_run *run, const char *uri, const struct core_rekey_args *a)
{
	char *location = NULL, *name = NULL;
	struct core_storage in = {0}, out = {0};
	struct stream src = {.st = &in}, dst = {.st = &out};
	struct core_env_reader *env = NULL;
	struct core_identity *ids = NULL;
	struct plan p = {0};
	char base[1024], new_name[1100], new_uri[4096], with[LABEL_LEN + 64];
	unsigned char *buf = NULL;
	int committed = 0, n = 0;

	int rc = core_uri_split(run, uri, &location, &name);
	if (rc)
		goto out;
	if (split_name(name, base, sizeof(base), &n) != 0) {
		rc = usage(run, core_error_set(CAIRN_E_INVALID,
					       "'%s' is not named like a cairn backup "
					       "(backup-YYYYMMDDHHMMSS[-N].cairn): rekey names the new "
					       "object after it", name));
		goto out;
	}
	if (a->n_add && !(p.add = calloc(a->n_add, sizeof(*p.add)))) {
		rc = core_fail(run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
		goto out;
	}
	for (; p.n_add < a->n_add; p.n_add++)
		if ((rc = core_fail(run, CORE_EXIT_KEY,
				    core_key_load_recipient(a->add[p.n_add], p.add[p.n_add]))) != 0)
			goto out;

	if ((rc = core_storage_open(run, location, &in)) != 0 ||
	    (rc = core_storage_reader_open(&in, name, &src.handle)) != 0)
		goto out;
	struct core_keyring kr;
	core_run_keyring(run, &kr);
	if ((rc = core_env_reader_new(&kr, stream_source, &src, &env)) != 0) {
		env = NULL;
		core_backup_open_fail(run, rc);
		goto out;
	}
	struct core_env_info opened;
	core_env_reader_info(env, &opened);
	if (opened.version == 1) {
		/* its body is bound to a hash of every header byte, slots included */
		rc = usage(run, core_error_set(CAIRN_E_UNSUPPORTED,
					       "'%s' was made before format 2: create a new backup to "
					       "rotate its keys (in format 1 the data is bound to the "
					       "key slots, so they cannot change without rewriting it)",
					       name));
		goto out;
	}
	if (!opened.encrypted) {
		rc = usage(run, core_error_set(CAIRN_E_INVALID,
					       "'%s' is not encrypted: it has no key slots to rotate; "
					       "create an encrypted backup instead", name));
		goto out;
	}
	if ((rc = plan_slots(run, env, a, &p)) != 0)
		goto out;

	if ((rc = core_storage_open(run, location, &out)) != 0 ||
	    (rc = core_storage_writer_begin_free(&out, base, n + 1, new_name, sizeof(new_name),
						 &dst.handle)) != 0)
		goto out;
	sibling_uri(uri, new_name, new_uri, sizeof(new_uri));
	core_progress_step("rekeying: bytes");
	struct core_keyring add = {.passphrase = a->new_passphrase,
				   .recipients = (const unsigned char(*)[32])p.add,
				   .n_recipients = p.n_add};
	if ((rc = core_env_rekey(env, p.keep, &add, stream_sink, &dst)) != 0) {
		core_fail(run, rc == CAIRN_E_INVALID ? CORE_EXIT_KEY : CORE_EXIT_STORAGE, rc);
		goto out;
	}
	/* the body, verbatim: it stays valid under the new header (docs/format.md) */
	if (!(buf = malloc(COPY_LEN))) {
		rc = core_fail(run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
		goto out;
	}
	for (;;) {
		size_t got = 0;
		if (core_cancelled()) {
			rc = core_fail(run, CORE_EXIT_CANCELLED,
				       core_error_set(CAIRN_E_CANCELLED, "cancelled by signal"));
			goto out;
		}
		if ((rc = core_storage_read(&in, src.handle, buf, COPY_LEN, &got)) != 0)
			goto out;
		if (got == 0)
			break;
		if ((rc = stream_sink(&dst, buf, got)) != 0)
			goto out;
	}
	core_storage_reader_close(&in, src.handle);
	src.handle = NULL;
	rc = core_storage_commit(&out, dst.handle);
	dst.handle = NULL; /* commit frees the writer whatever happens */
	if (rc)
		goto out;
	committed = 1;
	core_progress_done();

	ids = run->n_identities ? sodium_malloc(run->n_identities * sizeof(*ids)) : NULL;
	if (run->n_identities && !ids) {
		rc = core_fail(run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
		goto out;
	}
	struct core_keyring vkr;
	int by_data_key = 0;
	verify_keyring(run, &p, &opened, a->new_passphrase, env, ids, &vkr, &by_data_key);
	if ((rc = verify_new(run, new_uri, &vkr, with, sizeof(with))) != 0) {
		core_error_prefix("the rekeyed copy '%s' does not verify, so it is removed again and "
				  "'%s' stays as it was", new_name, name);
		goto out;
	}
	if (by_data_key)
		core_warn("none of the keys given has a slot in the rekeyed backup, so it was verified "
			  "with its data key: check that one of its keys opens it (backups verify)");
	char now[SLOTS_MAX * (LABEL_LEN + 2)];
	join_labels(p.now, p.n_now, now, sizeof(now));
	core_info("Key slots: %s (verified with %s)", now, with);
	if ((rc = core_storage_remove(&out, name)) != 0) {
		core_error_prefix("unable to remove '%s', so the rekeyed copy '%s' is removed again",
				  name, new_name);
		goto out;
	}
	committed = 0; /* the new object is the backup now */
	print_result(run, new_uri, uri, &p, with);
out:
	core_progress_done();
	if (committed && core_storage_remove(&out, new_name) != CAIRN_OK)
		core_warn("unable to remove the rekeyed copy '%s': delete it by hand", new_name);
	free(buf);
	if (ids)
		sodium_free(ids);
	core_env_reader_free(env);
	if (src.handle)
		core_storage_reader_close(&in, src.handle);
	core_storage_abort(&out, dst.handle);
	core_storage_close(&in);
	core_storage_close(&out);
	free(p.add);
	free(location);
	free(name);
	if (rc && run->exit_class == CORE_EXIT_OK)
		run->exit_class = CORE_EXIT_FAILURE;
	return rc ? (int)run->exit_class : CORE_EXIT_OK;
}
