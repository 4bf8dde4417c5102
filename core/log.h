/*
 * log.h — timestamped log lines on stderr, in the seed's shape:
 *   2024-09-17 16:33:12,706 INFO  create       Backup summary: [...]
 * Registered secrets are replaced by "****" in every line. Results meant
 * for scripts (the "Backup created: URI" line, --output json) go to stdout
 * and never through the logger, but through core_log_redact all the same.
 */
#ifndef CORE_LOG_H
#define CORE_LOG_H

#include <stdarg.h>

#include "cairn/host.h"

void core_log_set_level(enum cairn_log_level max); /* default INFO */
void core_log_set_action(const char *action);      /* "create", "restore" … */
/*
 * Thread-safety: core_log_redact_add, core_log_redact_uri, core_log_redact
 * and core_log/core_logv may be called from any thread at once (they back
 * the thread-safe host services log and redact). The level and the action
 * are set once by the command's thread before plugins run; core_log_free
 * runs after every plugin thread is gone.
 */
void core_log_redact_add(const char *secret);
/*
 * Register the password of a URI's user info (scheme://user:PASSWORD@host…),
 * as written and percent-decoded. Returns 1 when the URI carries one.
 */
int core_log_redact_uri(const char *uri);
/*
 * Copy `in` to out (size cap) with every registered secret masked, and the
 * password of every "scheme://user:password@" in it, whoever wrote the text
 * (a client library's parse error quotes the URI it was given; a password
 * too short to register is still masked there).
 */
void core_log_redact(const char *in, char *out, size_t cap);
void core_log(enum cairn_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void core_logv(enum cairn_log_level level, const char *origin, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
void core_log_free(void);

#define core_info(...) core_log(CAIRN_LOG_INFO, __VA_ARGS__)
#define core_warn(...) core_log(CAIRN_LOG_WARN, __VA_ARGS__)
#define core_debug(...) core_log(CAIRN_LOG_DEBUG, __VA_ARGS__)

#endif /* CORE_LOG_H */
