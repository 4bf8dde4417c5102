/*
 * main.c — the `cairn` command line: options, configuration, keys, and
 * dispatch to the commands in backup.c, restore.c and inspect.c.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "config.h"
#include "container.h"
#include "commands.h"
#include "error.h"
#include "files.h"
#include "plugin_host.h"
#include "keys.h"
#include "log.h"
#include "scope.h"

static const char usage_text[] =
"Usage: cairn [OPTIONS] COMMAND\n"
"\n"
"Back up and restore the metadata of a Kestra-style orchestrator.\n"
"\n"
"Commands:\n"
"  backups create FULL|TENANT   back up every tenant and the instance, or one tenant\n"
"  backups restore URI          restore a backup into the --source database\n"
"  backups list [PREFIX]        list the backups in the storage (default prefix backups/)\n"
"  backups info URI             show a backup's manifest (needs a key that opens it)\n"
"  backups verify URI           decrypt and decode a whole backup; writes nothing\n"
"  backups check                for cron and monitoring: exit 0 if the newest backup of\n"
"                               the series is recent enough, else 8 and one line\n"
"  backups rekey URI            change a backup's key slots without rewriting its data:\n"
"                               a new object replaces it once verified\n"
"  backups delete URI           delete one backup (only Cairn backups are ever deleted;\n"
"                               one locked by the storage fails, saying until when)\n"
"  backups prune --keep-last N | --keep-within DURATION\n"
"                               delete older backups, per series (full, each tenant);\n"
"                               the newest backup of a series is never deleted, nor\n"
"                               one locked by the storage (kept with a note)\n"
"  keys generate PATH           make a recovery key pair: PATH.pub (give to --recipient)\n"
"                               and PATH.key (keep offline; give to --identity)\n"
"  plugins list                 show the plugins found, and any refused with the reason\n"
"  plugins check FILE.so        load one plugin file and report whether it is usable\n"
"\n"
"Options for backups create:\n"
"  --tenant T                 tenant of a TENANT backup (default: main)\n"
"  --null-tenant              a TENANT backup of the records without a tenant\n"
"                             (open-source Kestra before 0.23)\n"
"  --allow-empty              back up a tenant that has no record (refused by default:\n"
"                             the tenant is most likely misspelt)\n"
"  --encryption-key K         encrypt with passphrase K instead of the instance key\n"
"  --encryption-key-file F    read that passphrase from file F (safer than the command line;\n"
"                             CAIRN_BACKUP_PASSPHRASE works too)\n"
"  --no-encryption            do not encrypt (an integrity check is still written)\n"
"  --recipient FILE           also let the key pair of FILE (.pub) open the backup;\n"
"                             repeatable\n"
"  --compression-level N      zstd level 1…19 (default: [backup] compression-level,\n"
"                             else 1, the fastest; higher is smaller and slower)\n"
"  --include-data             also back up execution data: EXECUTION, LOG, METRIC,\n"
"                             AUDIT_LOG, TEST_RUN (where the tables exist)\n"
"  --resources KIND,...       back up only these kinds (names as in the summary;\n"
"                             with --include-data, plus every execution-data kind);\n"
"                             KV_STORE (KV values and rows), NAMESPACE_FILE (rows and\n"
"                             files) and EXECUTION_FILE name internal-storage files\n"
"  --internal-storage URI     Kestra's internal storage (file:///app/storage,\n"
"                             s3://bucket/prefix …): also back up its KV values and\n"
"                             namespace files, and with --include-data its execution files;\n"
"                             default: CAIRN_INTERNAL_STORAGE, else [internal-storage] uri\n"
"  --internal-storage-option K=V  option for its storage plugin; repeatable\n"
"  --since WHEN               execution data from WHEN on only (UTC: 2026-01-31,\n"
"                             2026-01-31T08:00:00Z, or back from now: 30d, 12h)\n"
"  --object-lock-days N       S3: lock the backup for N days (Object Lock retention;\n"
"                             the bucket must have Object Lock enabled); prune and\n"
"                             delete cannot remove it before then\n"
"  --object-lock-mode M       governance (default: an account with the bypass\n"
"                             permission can still delete) or compliance (nobody can)\n"
"\n"
"Options for backups restore, info and verify:\n"
"  --encryption-key K | --encryption-key-file F   passphrase the backup was made with\n"
"                             (or CAIRN_BACKUP_PASSPHRASE)\n"
"  --identity FILE            a recovery secret key (.key) that opens the backup; repeatable\n"
"  --allow-unencrypted        read an unencrypted backup although keys are configured\n"
"                             (refused by default: anyone who can write to the storage\n"
"                             could have planted it)\n"
"Options for backups restore:\n"
"  --dry-run                  report new/changed/unchanged records per kind; write nothing\n"
"  --replace                  delete the restored kinds' records in scope first\n"
"  --to-tenant T              restore a TENANT backup into tenant T\n"
"  --resources KIND,...       restore only these kinds of the backup (and --replace\n"
"                             only them)\n"
"  --internal-storage URI     write the backup's files there, each atomically, before the\n"
"                             database commit (and --internal-storage-option K=V); without\n"
"                             it a backup's files are checked, not restored, with a warning\n"
"\n"
"Options for backups rekey (and the keys of restore, to open it):\n"
"  --add-recipient FILE       add a slot for the key pair of FILE (.pub); repeatable\n"
"  --remove-slot ID           remove the slot ID: the 16 hex digits 'backups info' shows\n"
"                             for an instance key or recipient, or 'passphrase'; repeatable\n"
"  --new-passphrase-file F    replace the passphrase slot (or add one) with the first\n"
"                             line of file F\n"
"\n"
"Options for backups check:\n"
"  --tenant T                 check the series of tenant T (default: the FULL series)\n"
"  --max-age DURATION         the newest backup may be this old (default 26h: a daily\n"
"                             backup with two hours of slack)\n"
"  --verify-latest            also read the newest backup to its end, as verify does\n"
"  --prometheus FILE          write a node-exporter textfile (replaced atomically)\n"
"\n"
"Options for backups prune:\n"
"  --keep-last N              keep the N newest backups of each series\n"
"  --keep-within DURATION     keep backups younger than DURATION (90s, 30m, 12h, 7d, 2w)\n"
"  --dry-run                  list what would be deleted; delete nothing\n"
"\n"
"Common options:\n"
"  --source URI               metadata database (postgresql://user@host:port/db,\n"
"                             mysql://user@host:port/db …);\n"
"                             default: CAIRN_SOURCE, else [source] uri\n"
"  --storage URI              where backups live (file:///dir, s3://bucket/prefix,\n"
"                             minio://host:port/bucket/prefix …); default: CAIRN_STORAGE,\n"
"                             else [storage] uri, else file:///var/lib/cairn (root) or\n"
"                             file://${XDG_DATA_HOME:-$HOME/.local/share}/cairn;\n"
"                             cairn:/// URIs resolve here\n"
"  -o, --source-option K=V    option for the source plugin; repeatable\n"
"  -O, --storage-option K=V   option for the storage plugin; repeatable\n"
"  --config FILE              configuration file (default /etc/cairn/cairn.conf, CAIRN_CONFIG)\n"
"  --plugin-dir DIR           search plugins here first; repeatable (then CAIRN_PLUGIN_PATH,\n"
"                             [plugins] dir, and the install directory)\n"
"  --output text|json         json: one JSON document on stdout, for scripts\n"
"  --progress | --no-progress show progress on stderr (default: when it is a terminal)\n"
"  -q, --quiet                only warnings and errors on stderr\n"
"  -v, --verbose              debug messages\n"
"  -h, --help                 this help;  --version: print the version\n"
"\n"
"Keys: the instance key is the base64 secret of [encryption] secret-key or\n"
"CAIRN_ENCRYPTION_KEY (like kestra.encryption.secret-key; make one with\n"
"'openssl rand -base64 32'). Database passwords come from the environment or the\n"
"configuration (PGPASSWORD, ~/.pgpass, [postgresql] password): they are never needed\n"
"on the command line, where other users could read them; one given there works, with a\n"
"warning. Passwords never appear in any output.\n"
"\n"
"Exit codes:\n"
"  0  success\n"
"  1  unexpected failure (out of memory, internal error)\n"
"  2  usage: bad command line, URI or configuration\n"
"  3  key: no key configured, malformed key, no given key opens the backup, or\n"
"     the backup is unencrypted although keys are configured\n"
"  4  archive corrupted, truncated, of an unsupported format version, or holding\n"
"     what it may not (another tenant's records, an instance-level kind …)\n"
"  5  source: database unreachable, credentials refused, schema missing or\n"
"     incompatible, a record refused\n"
"  6  storage: unreachable, not found, full disk, permission denied, locked\n"
"  7  plugin: none serves the URI's scheme, or it was refused\n"
"  8  backups check: no backup in the series, or the newest is older than --max-age\n"
"  130 cancelled (SIGINT/SIGTERM); nothing was published or committed\n"
"\n"
"See cairn(1) and docs/ for details.\n";

enum {
	OPT_TENANT = 256, OPT_KEY, OPT_KEY_FILE, OPT_NO_ENC, OPT_RECIPIENT, OPT_IDENTITY,
	OPT_DRY_RUN, OPT_REPLACE, OPT_TO_TENANT, OPT_SOURCE, OPT_STORAGE, OPT_CONFIG,
	OPT_PLUGIN_DIR, OPT_OUTPUT, OPT_VERSION, OPT_PROGRESS, OPT_NO_PROGRESS, OPT_KEEP_LAST,
	OPT_KEEP_WITHIN, OPT_NULL_TENANT, OPT_ALLOW_EMPTY, OPT_ALLOW_UNENCRYPTED,
	OPT_COMPRESSION_LEVEL, OPT_INCLUDE_DATA, OPT_RESOURCES, OPT_SINCE, OPT_MAX_AGE,
	OPT_VERIFY_LATEST, OPT_PROMETHEUS, OPT_INTERNAL_STORAGE, OPT_INTERNAL_OPTION,
	OPT_ADD_RECIPIENT, OPT_REMOVE_SLOT, OPT_NEW_PASSPHRASE_FILE, OPT_LOCK_DAYS, OPT_LOCK_MODE
};

static const struct option long_opts[] = {
	{"tenant", required_argument, NULL, OPT_TENANT},
	{"null-tenant", no_argument, NULL, OPT_NULL_TENANT},
	{"allow-empty", no_argument, NULL, OPT_ALLOW_EMPTY},
	{"compression-level", required_argument, NULL, OPT_COMPRESSION_LEVEL},
	{"include-data", no_argument, NULL, OPT_INCLUDE_DATA},
	{"resources", required_argument, NULL, OPT_RESOURCES},
	{"since", required_argument, NULL, OPT_SINCE},
	{"max-age", required_argument, NULL, OPT_MAX_AGE},
	{"verify-latest", no_argument, NULL, OPT_VERIFY_LATEST},
	{"prometheus", required_argument, NULL, OPT_PROMETHEUS},
	{"internal-storage", required_argument, NULL, OPT_INTERNAL_STORAGE},
	{"internal-storage-option", required_argument, NULL, OPT_INTERNAL_OPTION},
	{"add-recipient", required_argument, NULL, OPT_ADD_RECIPIENT},
	{"remove-slot", required_argument, NULL, OPT_REMOVE_SLOT},
	{"new-passphrase-file", required_argument, NULL, OPT_NEW_PASSPHRASE_FILE},
	{"object-lock-days", required_argument, NULL, OPT_LOCK_DAYS},
	{"object-lock-mode", required_argument, NULL, OPT_LOCK_MODE},
	{"allow-unencrypted", no_argument, NULL, OPT_ALLOW_UNENCRYPTED},
	{"encryption-key", required_argument, NULL, OPT_KEY},
	{"encryption-key-file", required_argument, NULL, OPT_KEY_FILE},
	{"no-encryption", no_argument, NULL, OPT_NO_ENC},
	{"recipient", required_argument, NULL, OPT_RECIPIENT},
	{"identity", required_argument, NULL, OPT_IDENTITY},
	{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	{"replace", no_argument, NULL, OPT_REPLACE},
	{"to-tenant", required_argument, NULL, OPT_TO_TENANT},
	{"source", required_argument, NULL, OPT_SOURCE},
	{"storage", required_argument, NULL, OPT_STORAGE},
	{"source-option", required_argument, NULL, 'o'},
	{"storage-option", required_argument, NULL, 'O'},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
	{"output", required_argument, NULL, OPT_OUTPUT},
	{"progress", no_argument, NULL, OPT_PROGRESS},
	{"keep-last", required_argument, NULL, OPT_KEEP_LAST},
	{"keep-within", required_argument, NULL, OPT_KEEP_WITHIN},
	{"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

struct cli {
	const char *tenant, *key, *key_file, *to_tenant, *source, *storage, *config, *output;
	const char *compression_level, *resources, *since, *max_age, *prometheus;
	int verify_latest, used_check, help;
	int include_data;
	const char **recipients, **identities, **plugin_dirs;
	size_t n_recipients, n_identities, n_plugin_dirs;
	int no_encryption, dry_run, replace, progress; /* progress: -1 auto */
	int null_tenant, allow_empty, allow_unencrypted;
	struct cairn_option *source_opts, *storage_opts, *internal_opts;
	size_t n_source_opts, n_storage_opts, n_internal_opts;
	const char *internal_storage;
	/* which command-specific options were given, for "does not apply" errors */
	int used_create, used_restore, used_prune, used_read;
	const char *keep_last, *keep_within;
	/* backups rekey */
	const char **add_recipients, **remove_slots, *new_passphrase_file;
	size_t n_add_recipients, n_remove_slots;
	int used_rekey;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "cairn: error: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'cairn --help'.\n");
	return CORE_EXIT_USAGE;
}

static int push(const char ***v, size_t *n, const char *s)
{
	const char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -1;
	nv[(*n)++] = s;
	*v = nv;
	return 0;
}

static int add_opt(struct cairn_option **v, size_t *n, const char *key, const char *value)
{
	struct cairn_option *nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -1;
	nv[*n].key = key;
	nv[*n].value = value;
	if (strstr(key, "password") || strstr(key, "secret"))
		core_log_redact_add(value);
	(*n)++;
	*v = nv;
	return 0;
}

static int push_opt(struct cairn_option **v, size_t *n, char *kv)
{
	char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		return -1;
	*eq = '\0';
	return add_opt(v, n, kv, eq + 1);
}

/* Read a passphrase file: first line, without the newline. */
static char *read_secret_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		core_error_set(CAIRN_E_INVALID, "unable to read key file '%s': %s", path, strerror(errno));
		return NULL;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);
	fclose(f);
	if (n <= 0) {
		free(line);
		core_error_set(CAIRN_E_INVALID, "key file '%s' is empty", path);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n == 0) {
		free(line);
		core_error_set(CAIRN_E_INVALID, "key file '%s' is empty", path);
		return NULL;
	}
	return line;
}

static void report(struct core_run *run, int code)
{
	char msg[2048];
	if (code == CORE_EXIT_OK)
		return;
	core_log_redact(core_error_message(), msg, sizeof(msg));
	if (run && run->json) {
		json_t *j = json_pack("{s:s, s:i}", "error", *msg ? msg : "failed", "exit_code", code);
		json_dumpf(j, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	}
	fprintf(stderr, "cairn: error: %s\n", *msg ? msg : "failed");
}

static const char *kind_word(unsigned kind)
{
	return kind == CAIRN_PLUGIN_KIND_SOURCE ? "source" : "storage";
}

/* Every file is loaded in a child (plugin_probe.h): a broken one is a line here. */
static int cmd_plugins_list(struct core_run *run)
{
	core_plugins_probe_all(&run->plugins);
	if (run->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < run->plugins.n; i++) {
			const struct core_plugin *p = &run->plugins.v[i];
			const struct core_plugin_meta *m = &p->meta;
			json_t *o;
			if (p->known && !p->refusal) {
				json_t *schemes = json_array();
				for (char **s = m->schemes; *s; s++)
					json_array_append_new(schemes, json_string(*s));
				char abi[16];
				snprintf(abi, sizeof(abi), "%u.%u", m->abi_major, m->abi_minor);
				o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:b, s:b}", "name", m->name,
					      "kind", kind_word(m->kind), "version", m->version, "abi", abi,
					      "schemes", schemes, "path", p->path, "shadowed", p->shadowed,
					      "note", p->has_note);
			} else {
				o = json_pack("{s:s, s:s}", "path", p->path, "refused",
					      p->refusal ? p->refusal : "not probed");
			}
			json_array_append_new(arr, o);
		}
		json_dumpf(arr, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(arr);
		return CORE_EXIT_OK;
	}
	printf("%-14s %-8s %-9s %-5s %-24s %s\n", "NAME", "KIND", "VERSION", "ABI", "SCHEMES", "PATH");
	for (size_t i = 0; i < run->plugins.n; i++) {
		const struct core_plugin *p = &run->plugins.v[i];
		const struct core_plugin_meta *m = &p->meta;
		if (!p->known || p->refusal)
			continue;
		char schemes[128] = "";
		size_t used = 0;
		for (char **s = m->schemes; *s && used < sizeof(schemes); s++)
			used += (size_t)snprintf(schemes + used, sizeof(schemes) - used, "%s%s",
						 used ? "," : "", *s);
		printf("%-14s %-8s %-9s %u.%-3u %-24s %s%s%s\n", m->name, kind_word(m->kind), m->version,
		       m->abi_major, m->abi_minor, schemes, p->path,
		       p->shadowed ? " (shadowed by an earlier one)" : "",
		       p->has_note ? "" : " (no plugin note: probed by every command)");
	}
	for (size_t i = 0; i < run->plugins.n; i++)
		if (run->plugins.v[i].refusal || !run->plugins.v[i].known)
			printf("refused: %s: %s\n", run->plugins.v[i].path,
			       run->plugins.v[i].refusal ? run->plugins.v[i].refusal : "not probed");
	if (run->plugins.n == 0)
		core_warn("no plugins found; give --plugin-dir or set CAIRN_PLUGIN_PATH");
	return CORE_EXIT_OK;
}

static int cmd_plugins_check(const char *path)
{
	struct core_plugins one = {0};
	int code = CORE_EXIT_OK;
	if (core_plugins_add(&one, path) != CAIRN_OK) {
		core_error_set(CAIRN_E_NOMEM, "out of memory");
		code = CORE_EXIT_FAILURE;
		goto out;
	}
	core_plugins_probe_all(&one);
	const struct core_plugin *p = &one.v[0];
	if (p->refusal || !p->known) {
		core_error_set(CAIRN_E_PLUGIN, "plugin '%s' refused: %s", path,
			       p->refusal ? p->refusal : "not probed");
		code = CORE_EXIT_PLUGIN;
		goto out;
	}
	printf("%s: ok: %s %s plugin %s, ABI %u.%u%s\n", path, p->meta.name, kind_word(p->meta.kind),
	       p->meta.version, p->meta.abi_major, p->meta.abi_minor,
	       p->has_note ? "" : " (no plugin note: rebuild with SDK 1.2 so commands need not probe it)");
out:
	core_plugins_free(&one);
	return code;
}

static char *default_storage(void)
{
	const char *home = getenv("HOME");
	char buf[4096];
	if (geteuid() == 0 || !home || !*home)
		return strdup("file:///var/lib/cairn");
	const char *xdg = getenv("XDG_DATA_HOME");
	if (xdg && *xdg == '/')
		snprintf(buf, sizeof(buf), "file://%s/cairn", xdg);
	else
		snprintf(buf, sizeof(buf), "file://%s/.local/share/cairn", home);
	return strdup(buf);
}

/* Instance key: CAIRN_ENCRYPTION_KEY, else [encryption] secret-key. */
static int load_instance_key(struct core_run *run)
{
	const char *b64 = getenv("CAIRN_ENCRYPTION_KEY");
	const char *from = "CAIRN_ENCRYPTION_KEY";
	if (!b64 || !*b64) {
		b64 = core_config_get("encryption", "secret-key");
		from = "[encryption] secret-key";
	}
	if (!b64 || !*b64)
		return CAIRN_OK;
	core_log_redact_add(b64);
	int rc = core_key_decode_instance(b64, run->instance_key, sizeof(run->instance_key),
					  &run->instance_key_len);
	if (rc) {
		core_error_prefix("%s", from);
		return core_fail(run, CORE_EXIT_KEY, rc);
	}
	return CAIRN_OK;
}

static int setup_keys(struct core_run *run, struct cli *c, int creating, char **passbuf)
{
	if (c->key && c->key_file)
		return core_fail(run, CORE_EXIT_USAGE,
				 core_error_set(CAIRN_E_INVALID, "give --encryption-key or --encryption-key-file, not both"));
	if (c->key) {
		run->passphrase = c->key;
		core_log_redact_add(c->key);
	} else if (c->key_file) {
		*passbuf = read_secret_file(c->key_file);
		if (!*passbuf)
			return core_fail(run, CORE_EXIT_KEY, CAIRN_E_INVALID);
		run->passphrase = *passbuf;
		core_log_redact_add(*passbuf);
	} else if (getenv("CAIRN_BACKUP_PASSPHRASE") && *getenv("CAIRN_BACKUP_PASSPHRASE")) {
		run->passphrase = getenv("CAIRN_BACKUP_PASSPHRASE");
		core_log_redact_add(run->passphrase);
	}
	if (creating && c->no_encryption && (run->passphrase || c->n_recipients))
		return core_fail(run, CORE_EXIT_USAGE,
				 core_error_set(CAIRN_E_INVALID, "--no-encryption cannot be combined with a key or --recipient"));
	run->no_encryption = creating && c->no_encryption;
	/* the seed: --encryption-key is used *instead of* the instance key */
	if (!run->no_encryption && !(creating && run->passphrase)) {
		int rc = load_instance_key(run);
		if (rc)
			return rc;
	}
	if (c->n_recipients) {
		run->recipients = calloc(c->n_recipients, sizeof(*run->recipients));
		if (!run->recipients)
			return core_fail(run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
		for (size_t i = 0; i < c->n_recipients; i++) {
			int rc = core_key_load_recipient(c->recipients[i], run->recipients[i]);
			if (rc)
				return core_fail(run, CORE_EXIT_KEY, rc);
		}
		run->n_recipients = c->n_recipients;
	}
	if (c->n_identities) {
		run->identities = sodium_malloc(c->n_identities * sizeof(*run->identities));
		if (!run->identities)
			return core_fail(run, CORE_EXIT_FAILURE, CAIRN_E_NOMEM);
		for (size_t i = 0; i < c->n_identities; i++) {
			int rc = core_key_load_identity(c->identities[i], &run->identities[i]);
			if (rc)
				return core_fail(run, CORE_EXIT_KEY, rc);
		}
		run->n_identities = c->n_identities;
	}
	if (creating && !run->no_encryption && !run->passphrase && !run->instance_key_len &&
	    !run->n_recipients)
		return core_fail(run, CORE_EXIT_KEY,
				 core_error_set(CAIRN_E_INVALID,
						"no encryption key: set [encryption] secret-key in the configuration or "
						"CAIRN_ENCRYPTION_KEY (make one with 'openssl rand -base64 32'), or give "
						"--encryption-key-file, --recipient, or --no-encryption"));
	return CAIRN_OK;
}

/*
 * Secrets on the command line work, but every user of the machine can read
 * them in the process list: say so, and where they belong instead. Every
 * password a URI carries is registered for redaction, wherever it came from.
 */
static void check_uri_secret(const char *uri, const char *given_as, const char *instead)
{
	if (core_log_redact_uri(uri) && given_as)
		core_warn("the password in %s is visible to other users in the process list; %s",
			  given_as, instead);
}

static void warn_cli_secrets(const struct cli *c, const char *positional_uri)
{
	check_uri_secret(c->source, "--source",
			 "put the URI in CAIRN_SOURCE or [source] uri of the configuration file, or the "
			 "password in the client's own place (PGPASSWORD, ~/.pgpass, MYSQL_PWD, the "
			 "plugin's password option in the configuration file)");
	check_uri_secret(getenv("CAIRN_SOURCE"), NULL, NULL);
	check_uri_secret(core_config_get("source", "uri"), NULL, NULL);
	check_uri_secret(c->storage, "--storage",
			 "put the URI in CAIRN_STORAGE or [storage] uri of the configuration file, and "
			 "credentials in the plugin's environment variables or configuration section");
	check_uri_secret(getenv("CAIRN_STORAGE"), NULL, NULL);
	check_uri_secret(c->internal_storage, "--internal-storage",
			 "put the URI in CAIRN_INTERNAL_STORAGE or [internal-storage] uri of the "
			 "configuration file");
	check_uri_secret(core_config_get("storage", "uri"), NULL, NULL);
	check_uri_secret(positional_uri, "the backup URI",
			 "give credentials through the storage plugin's environment variables or "
			 "configuration section");
	if (c->key)
		core_warn("--encryption-key puts the passphrase in the process list, where other users "
			  "can read it; use --encryption-key-file FILE or CAIRN_BACKUP_PASSPHRASE");
	const struct cairn_option *sets[3] = {c->source_opts, c->storage_opts, c->internal_opts};
	size_t ns[3] = {c->n_source_opts, c->n_storage_opts, c->n_internal_opts};
	for (int k = 0; k < 3; k++)
		for (size_t i = 0; i < ns[k]; i++)
			if (strstr(sets[k][i].key, "password") || strstr(sets[k][i].key, "secret"))
				core_warn("%s %s=… is visible to other users in the process list; set it in "
					  "the configuration file or the plugin's environment variable",
					  k == 2 ? "--internal-storage-option" : k ? "--storage-option"
					  : "--source-option", sets[k][i].key);
}

/*
 * `cairn backups create --help`: the lines of usage_text for that command —
 * its line under "Commands:", the "Options for …" blocks that name it, and
 * the common options — so that each subcommand's help is specific while the
 * text stays written once. `cairn --help` (or an unknown command) prints all.
 */
static void print_help(const char *group, const char *cmd)
{
	char want[64];
	if (!group || !cmd || (strcmp(group, "backups") != 0 && strcmp(group, "keys") != 0 &&
			       strcmp(group, "plugins") != 0)) {
		fputs(usage_text, stdout);
		return;
	}
	snprintf(want, sizeof(want), "%s %s", group, cmd);
	if (!strstr(usage_text, want)) {
		fputs(usage_text, stdout);
		return;
	}
	printf("Usage: cairn [OPTIONS] %s …\n\n", want);
	enum { OTHER, COMMANDS, BLOCK_WANTED, BLOCK_OTHER, COMMON } at = OTHER;
	int in_cmd = 0, last_blank = 0;
	for (const char *l = usage_text; *l;) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);
		char line[256];
		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) - 1 ? n : sizeof(line) - 1), l);
		if (strncmp(line, "Commands:", 9) == 0) {
			at = COMMANDS;
		} else if (strncmp(line, "Options for backups ", 20) == 0) {
			/* "Options for backups restore, info and verify:" names several */
			char names[128];
			snprintf(names, sizeof(names), " %s", line + 20);
			for (char *q = names; *q; q++)
				if (*q == ',' || *q == ':')
					*q = ' ';
			char needle[40];
			snprintf(needle, sizeof(needle), " %s ", cmd);
			at = strcmp(group, "backups") == 0 && strstr(names, needle) ? BLOCK_WANTED : BLOCK_OTHER;
			if (at == BLOCK_WANTED)
				printf("%s%s\n", last_blank ? "" : "\n", line);
		} else if (strncmp(line, "Common options:", 15) == 0) {
			at = COMMON;
			printf("%s%s\n", last_blank ? "" : "\n", line);
		} else if (line[0] != ' ' && line[0] != '\0') {
			at = OTHER;
		} else if (at == COMMANDS) {
			/* a command's line and the continuation lines under it */
			if (strncmp(line, "  ", 2) == 0 && line[2] != ' ')
				in_cmd = strncmp(line + 2, want, strlen(want)) == 0;
			if (in_cmd)
				puts(line);
		} else if (at == BLOCK_WANTED || at == COMMON) {
			puts(line);
			last_blank = line[0] == '\0';
			l = e ? e + 1 : l + n;
			continue;
		}
		if (at == COMMANDS && in_cmd)
			last_blank = 0;
		l = e ? e + 1 : l + n;
	}
	printf("See cairn --help for every command and the exit codes, and cairn(1).\n");
}

static void free_cli(struct cli *c)
{
	free(c->recipients);
	free(c->identities);
	free(c->plugin_dirs);
	free(c->source_opts);
	free(c->storage_opts);
	free(c->internal_opts);
	free(c->add_recipients);
	free(c->remove_slots);
}

int main(int argc, char **argv)
{
	struct cli c = {.progress = -1};
	int verbose = 0, quiet = 0, opt;
	if (sodium_init() < 0) {
		fprintf(stderr, "cairn: error: libsodium failed to initialise\n");
		return CORE_EXIT_FAILURE;
	}
	/* leaving while parsing: free what the options gathered so far */
#define LEAVE(code_) do { int c_ = (code_); free_cli(&c); return c_; } while (0)
	opterr = 0; /* getopt's own messages are not our one-line errors */
	while ((opt = getopt_long(argc, argv, ":o:O:qvh", long_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_TENANT: c.tenant = optarg; break;
		case OPT_NULL_TENANT: c.null_tenant = 1; c.used_create = 1; break;
		case OPT_ALLOW_EMPTY: c.allow_empty = 1; c.used_create = 1; break;
		case OPT_COMPRESSION_LEVEL: c.compression_level = optarg; c.used_create = 1; break;
		case OPT_INCLUDE_DATA: c.include_data = 1; c.used_create = 1; break;
		case OPT_RESOURCES: c.resources = optarg; break;
		case OPT_SINCE: c.since = optarg; c.used_create = 1; break;
		case OPT_MAX_AGE: c.max_age = optarg; c.used_check = 1; break;
		case OPT_VERIFY_LATEST: c.verify_latest = 1; c.used_check = 1; break;
		case OPT_PROMETHEUS: c.prometheus = optarg; c.used_check = 1; break;
		case OPT_INTERNAL_STORAGE: c.internal_storage = optarg; break;
		case OPT_INTERNAL_OPTION:
			if (push_opt(&c.internal_opts, &c.n_internal_opts, optarg))
				LEAVE(usage_error("--internal-storage-option needs KEY=VALUE, got '%s'", optarg));
			break;
		case OPT_ADD_RECIPIENT: push(&c.add_recipients, &c.n_add_recipients, optarg); c.used_rekey = 1; break;
		case OPT_REMOVE_SLOT: push(&c.remove_slots, &c.n_remove_slots, optarg); c.used_rekey = 1; break;
		case OPT_NEW_PASSPHRASE_FILE: c.new_passphrase_file = optarg; c.used_rekey = 1; break;
		/* shorthands for the storage options of the same name (the s3 plugin's) */
		case OPT_LOCK_DAYS:
		case OPT_LOCK_MODE:
			if (add_opt(&c.storage_opts, &c.n_storage_opts,
				    opt == OPT_LOCK_DAYS ? "object_lock_days" : "object_lock_mode", optarg))
				LEAVE(CORE_EXIT_FAILURE);
			c.used_create = 1;
			break;
		case OPT_ALLOW_UNENCRYPTED: c.allow_unencrypted = 1; c.used_read = 1; break;
		case OPT_KEY: c.key = optarg; break;
		case OPT_KEY_FILE: c.key_file = optarg; break;
		case OPT_NO_ENC: c.no_encryption = 1; c.used_create = 1; break;
		case OPT_RECIPIENT: push(&c.recipients, &c.n_recipients, optarg); c.used_create = 1; break;
		case OPT_IDENTITY: push(&c.identities, &c.n_identities, optarg); break;
		case OPT_DRY_RUN: c.dry_run = 1; break;
		case OPT_KEEP_LAST: c.keep_last = optarg; c.used_prune = 1; break;
		case OPT_KEEP_WITHIN: c.keep_within = optarg; c.used_prune = 1; break;
		case OPT_REPLACE: c.replace = 1; c.used_restore = 1; break;
		case OPT_TO_TENANT: c.to_tenant = optarg; c.used_restore = 1; break;
		case OPT_SOURCE: c.source = optarg; break;
		case OPT_STORAGE: c.storage = optarg; break;
		case 'o':
			if (push_opt(&c.source_opts, &c.n_source_opts, optarg))
				LEAVE(usage_error("--source-option needs KEY=VALUE, got '%s'", optarg));
			break;
		case 'O':
			if (push_opt(&c.storage_opts, &c.n_storage_opts, optarg))
				LEAVE(usage_error("--storage-option needs KEY=VALUE, got '%s'", optarg));
			break;
		case OPT_CONFIG: c.config = optarg; break;
		case OPT_PLUGIN_DIR: push(&c.plugin_dirs, &c.n_plugin_dirs, optarg); break;
		case OPT_OUTPUT:
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
				LEAVE(usage_error("--output must be text or json, not '%s'", optarg));
			c.output = optarg;
			break;
		case OPT_PROGRESS: c.progress = 1; break;
		case OPT_NO_PROGRESS: c.progress = 0; break;
		case 'q': quiet = 1; break;
		case 'v': verbose++; break;
		case 'h': c.help = 1; break; /* the rest of the line says which help */
		case OPT_VERSION: printf("cairn %s (plugin ABI %d.%d)\n", CAIRN_VERSION, CAIRN_ABI_MAJOR, CAIRN_ABI_MINOR); LEAVE(CORE_EXIT_OK);
		case ':':
			LEAVE(usage_error("option '%s' needs a value", argv[optind - 1]));
		default:
			if (optopt)
				LEAVE(usage_error("unknown option '-%c'", optopt));
			LEAVE(usage_error("unknown option '%s'", argv[optind - 1]));
		}
	}
	char **args = argv + optind;
	int nargs = argc - optind;
	if (c.help) {
		print_help(nargs > 0 ? args[0] : NULL, nargs > 1 ? args[1] : NULL);
		LEAVE(CORE_EXIT_OK);
	}
	if (nargs < 1)
		LEAVE(usage_error("%s", "missing command"));
#undef LEAVE
	const char *group = args[0], *cmd = nargs > 1 ? args[1] : NULL;

	core_log_set_level(quiet ? CAIRN_LOG_WARN : verbose > 1 ? CAIRN_LOG_TRACE : verbose ? CAIRN_LOG_DEBUG : CAIRN_LOG_INFO);
	core_log_set_action(cmd ? cmd : group);
	core_progress_enable(c.progress == -1 ? isatty(2) && !quiet : c.progress);
	core_host_trap_signals();

	if (strcmp(group, "keys") == 0) {
		if (!cmd || strcmp(cmd, "generate") != 0 || nargs != 3)
			return usage_error("%s", "usage: cairn keys generate PATH");
		int rc = core_key_generate(args[2]);
		if (rc) {
			report(NULL, CORE_EXIT_KEY);
			return rc == CAIRN_E_EXISTS ? CORE_EXIT_USAGE : CORE_EXIT_KEY;
		}
		printf("Recipient (public) key: %s.pub — give it to 'backups create --recipient'\n", args[2]);
		printf("Identity (secret) key:  %s.key — keep it offline, apart from the backups\n", args[2]);
		return CORE_EXIT_OK;
	}
	if (strcmp(group, "plugins") == 0 && cmd && strcmp(cmd, "check") == 0) {
		if (nargs != 3)
			return usage_error("%s", "usage: cairn plugins check FILE.so");
		int code = cmd_plugins_check(args[2]);
		if (code)
			report(NULL, code);
		return code;
	}

	struct core_run run;
	memset(&run, 0, sizeof(run));
	run.json = c.output && strcmp(c.output, "json") == 0;
	int code = CORE_EXIT_OK;
	char *passbuf = NULL, *storage_default = NULL, *pathenv = NULL;
	const char **dirs = NULL;
	size_t n_dirs = 0;

	/* configuration: --config, CAIRN_CONFIG, /etc/cairn/cairn.conf (optional) */
	const char *conf = c.config ? c.config : getenv("CAIRN_CONFIG");
	if (core_config_load(conf ? conf : "/etc/cairn/cairn.conf", conf != NULL) ||
	    core_kinds_load(&run.kinds)) {
		code = CORE_EXIT_USAGE;
		report(&run, code);
		goto out;
	}
	for (size_t i = 0; i < c.n_plugin_dirs; i++)
		push(&dirs, &n_dirs, c.plugin_dirs[i]);
	pathenv = getenv("CAIRN_PLUGIN_PATH") ? strdup(getenv("CAIRN_PLUGIN_PATH")) : NULL;
	if (pathenv)
		for (char *save = NULL, *d = strtok_r(pathenv, ":", &save); d; d = strtok_r(NULL, ":", &save))
			push(&dirs, &n_dirs, d);
	if (core_config_get("plugins", "dir"))
		push(&dirs, &n_dirs, core_config_get("plugins", "dir"));
	push(&dirs, &n_dirs, CAIRN_PLUGIN_DIR);
	core_plugins_scan(&run.plugins, dirs, n_dirs);

	run.source_uri = c.source ? c.source : getenv("CAIRN_SOURCE") ? getenv("CAIRN_SOURCE") : core_config_get("source", "uri");
	if (c.storage) {
		run.storage_uri = c.storage;
	} else {
		run.storage_is_default = 1;
		run.storage_uri = getenv("CAIRN_STORAGE") ? getenv("CAIRN_STORAGE") : core_config_get("storage", "uri");
		if (!run.storage_uri)
			run.storage_uri = storage_default = default_storage();
	}
	run.allow_empty = c.allow_empty;
	run.allow_unencrypted = c.allow_unencrypted;
	warn_cli_secrets(&c, nargs == 3 && strcmp(group, "backups") == 0 ? args[2] : NULL);
	run.source_opts = c.source_opts;
	run.n_source_opts = c.n_source_opts;
	run.storage_opts = c.storage_opts;
	run.n_storage_opts = c.n_storage_opts;

	if (strcmp(group, "plugins") == 0) {
		if (!cmd || strcmp(cmd, "list") != 0 || nargs != 2) {
			code = usage_error("%s", "usage: cairn plugins list | check FILE.so");
			goto out;
		}
		code = cmd_plugins_list(&run);
		goto out;
	}
	if (strcmp(group, "backups") != 0 || !cmd) {
		code = usage_error("unknown command '%s'", group);
		goto out;
	}
	int creating = strcmp(cmd, "create") == 0, restoring = strcmp(cmd, "restore") == 0;
	int pruning = strcmp(cmd, "prune") == 0;
	int checking = strcmp(cmd, "check") == 0;
	int reading = restoring || checking || strcmp(cmd, "verify") == 0 || strcmp(cmd, "info") == 0;
	if ((c.used_create && !creating) || (c.used_restore && !restoring) ||
	    (c.used_prune && !pruning) || (c.used_read && !reading) ||
	    (c.used_check && !checking) || (c.used_rekey && strcmp(cmd, "rekey") != 0) ||
	    (c.tenant && !creating && !checking) ||
	    (c.dry_run && !restoring && !pruning) ||
	    ((c.resources || c.internal_storage || c.n_internal_opts) && !creating && !restoring)) {
		code = usage_error("an option given does not apply to 'backups %s'", cmd);
		goto out;
	}
	run.include_data = c.include_data;
	if (c.resources) {
		run.resources = malloc(run.kinds.n + CORE_FK_N); /* then the file kinds: kinds.h */
		if (!run.resources || core_kinds_select(&run.kinds, c.resources, run.resources)) {
			code = run.resources ? usage_error("%s", core_error_message()) : CORE_EXIT_FAILURE;
			goto out;
		}
	}
	if ((creating || restoring) &&
	    core_files_configure(&run, c.internal_storage, c.internal_opts, c.n_internal_opts)) {
		code = CORE_EXIT_FAILURE;
		goto out;
	}
	if (creating) {
		if (nargs != 3 || (strcmp(args[2], "FULL") != 0 && strcmp(args[2], "TENANT") != 0)) {
			code = usage_error("%s", "usage: cairn backups create FULL|TENANT [--tenant T]");
			goto out;
		}
		if ((c.tenant || c.null_tenant || c.allow_empty) && strcmp(args[2], "FULL") == 0) {
			code = usage_error("%s", "--tenant, --null-tenant and --allow-empty apply to TENANT backups only");
			goto out;
		}
		if (c.tenant && c.null_tenant) {
			code = usage_error("%s", "give --tenant T or --null-tenant, not both");
			goto out;
		}
		/* the command line wins over the configuration */
		const char *lv = c.compression_level ? c.compression_level
						     : core_config_get("backup", "compression-level");
		if (lv) {
			char *end;
			long n = strtol(lv, &end, 10);
			if (end == lv || *end || n < 1 || n > CORE_ZSTD_LEVEL_MAX) {
				code = usage_error("compression level '%s' is not a number from 1 to %d%s", lv,
						   CORE_ZSTD_LEVEL_MAX,
						   c.compression_level ? "" : " ([backup] compression-level)");
				goto out;
			}
			run.compression_level = (int)n;
		}
		if (c.since && core_since_parse(c.since, time(NULL), run.since)) {
			code = usage_error("--since needs a UTC date (2026-01-31, 2026-01-31T08:00:00Z) or a "
					   "duration back from now (30d, 12h), not '%s'", c.since);
			goto out;
		}
		const char *tenant = c.null_tenant ? NULL : c.tenant ? c.tenant : "main";
		if (tenant && !core_tenant_valid(tenant)) {
			code = usage_error("'%s' is not a valid tenant id (letters, digits, '_' and '-')", tenant);
			goto out;
		}
		if (setup_keys(&run, &c, 1, &passbuf)) {
			code = run.exit_class;
			report(&run, code);
			goto out;
		}
		code = core_cmd_create(&run, args[2], tenant);
	} else if (restoring || strcmp(cmd, "info") == 0 || strcmp(cmd, "verify") == 0) {
		if (nargs != 3) {
			code = usage_error("usage: cairn backups %s URI", cmd);
			goto out;
		}
		if (c.to_tenant && !core_tenant_valid(c.to_tenant)) {
			code = usage_error("'%s' is not a valid tenant id (letters, digits, '_' and '-')", c.to_tenant);
			goto out;
		}
		if (setup_keys(&run, &c, 0, &passbuf)) {
			code = run.exit_class;
			report(&run, code);
			goto out;
		}
		if (restoring)
			code = core_cmd_restore(&run, args[2], c.dry_run, c.replace, c.to_tenant);
		else if (strcmp(cmd, "info") == 0)
			code = core_cmd_info(&run, args[2]);
		else
			code = core_cmd_verify(&run, args[2]);
	} else if (checking) {
		long long max_age = c.max_age ? core_parse_duration(c.max_age) : 26 * 3600;
		if (nargs != 2) {
			code = usage_error("%s", "usage: cairn backups check [--tenant T] [--max-age DURATION] "
					   "[--verify-latest] [--prometheus FILE]");
			goto out;
		}
		if (max_age < 0) {
			code = usage_error("--max-age needs a duration like 26h, 2d or 90m, not '%s'", c.max_age);
			goto out;
		}
		if (c.tenant && !core_tenant_valid(c.tenant)) {
			code = usage_error("'%s' is not a valid tenant id (letters, digits, '_' and '-')", c.tenant);
			goto out;
		}
		if (c.verify_latest && setup_keys(&run, &c, 0, &passbuf)) {
			code = run.exit_class;
			report(&run, code);
			goto out;
		}
		code = core_cmd_check(&run, c.tenant, max_age, c.verify_latest, c.prometheus);
	} else if (strcmp(cmd, "rekey") == 0) {
		if (nargs != 3 || !c.used_rekey) {
			code = usage_error("%s", "usage: cairn backups rekey URI [--add-recipient FILE] "
					   "[--remove-slot ID] [--new-passphrase-file F]");
			goto out;
		}
		char *newpass = NULL;
		if (!setup_keys(&run, &c, 0, &passbuf) && c.new_passphrase_file &&
		    !(newpass = read_secret_file(c.new_passphrase_file)))
			core_fail(&run, CORE_EXIT_KEY, CAIRN_E_INVALID);
		if (run.exit_class) {
			code = run.exit_class;
			report(&run, code);
			goto out;
		}
		if (newpass)
			core_log_redact_add(newpass);
		struct core_rekey_args ra = {c.remove_slots, c.n_remove_slots, c.add_recipients,
					     c.n_add_recipients, newpass};
		code = core_cmd_rekey(&run, args[2], &ra);
		if (newpass) {
			sodium_memzero(newpass, strlen(newpass));
			free(newpass);
		}
	} else if (strcmp(cmd, "delete") == 0) {
		if (nargs != 3) {
			code = usage_error("%s", "usage: cairn backups delete URI");
			goto out;
		}
		code = core_cmd_delete(&run, args[2]);
	} else if (pruning) {
		long keep_last = 0;
		long long keep_within = -1;
		if (nargs != 2 || (!c.keep_last && !c.keep_within)) {
			code = usage_error("%s", "usage: cairn backups prune --keep-last N | --keep-within DURATION [--dry-run]");
			goto out;
		}
		if (c.keep_last) {
			char *end;
			keep_last = strtol(c.keep_last, &end, 10);
			if (*end || keep_last < 1) {
				code = usage_error("--keep-last needs a number of at least 1, not '%s'", c.keep_last);
				goto out;
			}
		}
		if (c.keep_within && (keep_within = core_parse_duration(c.keep_within)) < 0) {
			code = usage_error("--keep-within needs a duration like 7d, 12h or 30m, not '%s'", c.keep_within);
			goto out;
		}
		code = core_cmd_prune(&run, keep_last, keep_within, c.dry_run);
	} else if (strcmp(cmd, "list") == 0) {
		if (nargs > 3) {
			code = usage_error("%s", "usage: cairn backups list [PREFIX]");
			goto out;
		}
		code = core_cmd_list(&run, nargs == 3 ? args[2] : NULL);
	} else {
		code = usage_error("unknown command 'backups %s'", cmd);
		goto out;
	}
	if (code)
		report(&run, code);
out:
	core_plugins_free(&run.plugins);
	core_files_unconfigure(&run);
	free(run.resources);
	core_kinds_free(&run.kinds);
	core_config_free();
	core_log_free();
	sodium_memzero(run.instance_key, sizeof(run.instance_key));
	if (run.identities)
		sodium_free(run.identities);
	free(run.recipients);
	if (passbuf) {
		sodium_memzero(passbuf, strlen(passbuf));
		free(passbuf);
	}
	free(storage_default);
	free(pathenv);
	free(dirs);
	free(c.recipients);
	free(c.identities);
	free(c.add_recipients);
	free(c.remove_slots);
	free(c.plugin_dirs);
	free(c.source_opts);
	free(c.storage_opts);
	free(c.internal_opts);
	return code;
}
