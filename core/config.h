/*
 * config.h — the configuration file and its environment overrides.
 *
 * File format (default /etc/cairn/cairn.conf, or --config / CAIRN_CONFIG):
 *   # comment
 *   [section]
 *   key = value        ; whitespace around key and value is trimmed
 * Values are taken literally (no quoting, no escapes). Section and key
 * names are case-sensitive. A file that is group- or world-readable while it
 * holds a secret (encryption.secret-key, any "password") is accepted with a
 * warning. See docs/operations.md for every key.
 */
#ifndef CORE_CONFIG_H
#define CORE_CONFIG_H

/* Load `path`. `must_exist` 0: a missing file is not an error. */
int core_config_load(const char *path, int must_exist);
/* Value of section.key, or NULL. The string lives until core_config_free. */
const char *core_config_get(const char *section, const char *key);
/* Set (or override) a value, e.g. from the environment. */
int core_config_set(const char *section, const char *key, const char *value);
/* Call cb for every key of `section`, in file order; stops at a non-zero return. */
int core_config_each(const char *section, int (*cb)(void *ud, const char *key, const char *value),
		     void *ud);
void core_config_free(void);

#endif /* CORE_CONFIG_H */
