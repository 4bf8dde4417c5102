/*
 * commands.h — the commands of the `cairn` program, one module each
 * (backup.c, restore.c, inspect.c, retention.c). Each returns an exit code
 * (run.h) after printing its result; main.c reports the error line.
 */
#ifndef CORE_COMMANDS_H
#define CORE_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

#include "run.h"

/* tenant NULL with type TENANT: the records without a tenant (--null-tenant). */
int core_cmd_create(struct core_run *run, const char *type, const char *tenant);
int core_cmd_restore(struct core_run *run, const char *uri, int dry_run, int replace,
		     const char *to_tenant);
int core_cmd_list(struct core_run *run, const char *prefix);
int core_cmd_info(struct core_run *run, const char *uri);
int core_cmd_verify(struct core_run *run, const char *uri);
int core_cmd_delete(struct core_run *run, const char *uri);
/* keep_last 0 / keep_within -1: rule not given. The newest backup of each series always stays. */
int core_cmd_prune(struct core_run *run, long keep_last, long long keep_within, int dry_run);
/* "7d", "12h", "30m", "2w", "90s" → seconds; -1 if malformed. */
long long core_parse_duration(const char *s);
/*
 * backups check: the newest backup of the FULL series (or of `tenant`'s) is
 * at most max_age seconds old (exit 8 if not, or if there is none), and
 * with `verify` reads to its authenticated end; writes a Prometheus
 * textfile to `prometheus` when given.
 */
int core_cmd_check(struct core_run *run, const char *tenant, long long max_age, int verify,
		   const char *prometheus);

/*
 * backups rekey: the same backup under other key slots, as a new object of
 * its series that replaces it once verified (rekey.c). remove: slot ids (16
 * hex digits, or "passphrase"); add: recipient key files; new_passphrase
 * replaces the passphrase slot (or adds one), NULL leaves it. All borrowed.
 */
struct core_rekey_args {
	const char *const *remove;
	size_t n_remove;
	const char *const *add;
	size_t n_add;
	const char *new_passphrase;
};
int core_cmd_rekey(struct core_run *run, const char *uri, const struct core_rekey_args *a);

/* "[BINDING: 3, FLOW: 13, …]" for kinds[i]/counts[i], cut to cap. */
void core_format_summary(char *const *kinds, const uint64_t *counts, size_t n, char *out,
			 size_t cap);

#endif /* CORE_COMMANDS_H */
