/*
 * log.c — see log.h.
 *
 * The secret list is shared by every thread that logs: host->redact and
 * host->log are thread-safe services (cairn/host.h), and plugins call them
 * from worker threads while the core's thread logs too. One mutex guards
 * the list, held while it grows and while a line is matched against it, so
 * no reader ever walks an array that realloc() has just moved. Lines are
 * matched, not formatted, under the lock; contention is a few lines per
 * second at most.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <sodium.h>

static enum cairn_log_level max_level = CAIRN_LOG_INFO;
static const char *action = "cairn";
static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static char **secrets;   /* guarded by secrets_lock */
static size_t n_secrets; /* guarded by secrets_lock */

void core_log_set_level(enum cairn_log_level max) { max_level = max; }
void core_log_set_action(const char *a) { action = a; }

void core_log_redact_add(const char *secret)
{
	if (!secret || strlen(secret) < 4)
		return; /* masking 1-3 characters would garble every line */
	char *copy = strdup(secret); /* outside the lock: loggers need not wait for malloc */
	if (!copy)
		return;
	pthread_mutex_lock(&secrets_lock);
	char **v = realloc(secrets, (n_secrets + 1) * sizeof(*v));
	if (v) {
		secrets = v;
		secrets[n_secrets++] = copy;
		copy = NULL;
	}
	pthread_mutex_unlock(&secrets_lock);
	if (copy) {
		sodium_memzero(copy, strlen(copy));
		free(copy);
	}
}

/*
 * Where the password of the user info that starts at s ends: the extent of
 * an authority is up to the first character that cannot be in one, and its
 * password runs from the first ':' to the last '@' in it. 0 when s has no
 * "user:password@".
 */
static size_t userinfo_password(const char *s, size_t *pw_start)
{
	size_t end = strcspn(s, "/?# \t\r\n\"'<>`");
	size_t at = 0, colon = 0;
	int have_at = 0, have_colon = 0;
	for (size_t i = 0; i < end; i++) {
		if (s[i] == '@')
			at = i, have_at = 1;
		if (s[i] == ':' && !have_colon && !have_at)
			colon = i, have_colon = 1;
	}
	if (!have_at || !have_colon || colon > at)
		return 0;
	*pw_start = colon + 1;
	return at;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int core_log_redact_uri(const char *uri)
{
	const char *sep = uri ? strstr(uri, "://") : NULL;
	size_t start, at;
	if (!sep || (at = userinfo_password(sep + 3, &start)) == 0 || at == start)
		return 0;
	size_t n = at - start;
	char *raw = malloc(n + 1), *dec = malloc(n + 1);
	if (raw && dec) {
		memcpy(raw, sep + 3 + start, n);
		raw[n] = '\0';
		size_t d = 0;
		for (size_t i = 0; i < n; i++) {
			int hi, lo;
			if (raw[i] == '%' && i + 2 < n + 1 && (hi = hexval(raw[i + 1])) >= 0 &&
			    (lo = hexval(raw[i + 2])) >= 0) {
				dec[d++] = (char)(hi * 16 + lo);
				i += 2;
			} else {
				dec[d++] = raw[i];
			}
		}
		dec[d] = '\0';
		core_log_redact_add(raw);
		if (strcmp(raw, dec) != 0)
			core_log_redact_add(dec);
	}
	if (raw)
		sodium_memzero(raw, n);
	if (dec)
		sodium_memzero(dec, n);
	free(raw);
	free(dec);
	return 1;
}

void core_log_redact(const char *in, char *out, size_t cap)
{
	/* first the passwords of URIs, then the registered secrets */
	char *tmp = malloc(2 * strlen(in) + 8); /* "****" for a 1-byte password of a 6-byte minimum */
	if (tmp) {
		size_t t = 0;
		const char *p = in;
		while (*p) {
			size_t start, at;
			if (strncmp(p, "://", 3) == 0 && (at = userinfo_password(p + 3, &start)) > start) {
				memcpy(tmp + t, p, 3 + start);
				t += 3 + start;
				memcpy(tmp + t, "****", 4);
				t += 4;
				p += 3 + at;
				continue;
			}
			tmp[t++] = *p++;
		}
		tmp[t] = '\0';
		in = tmp;
	}
	size_t o = 0;
	pthread_mutex_lock(&secrets_lock);
	while (*in && o + 1 < cap) {
		size_t hit = 0;
		for (size_t i = 0; i < n_secrets; i++) {
			size_t l = strlen(secrets[i]);
			if (strncmp(in, secrets[i], l) == 0) {
				hit = l;
				break;
			}
		}
		if (hit) {
			for (const char *m = "****"; *m && o + 1 < cap; m++)
				out[o++] = *m;
			in += hit;
		} else {
			out[o++] = *in++;
		}
	}
	pthread_mutex_unlock(&secrets_lock);
	out[o] = '\0';
	free(tmp);
}

static const char *level_name(enum cairn_log_level l)
{
	switch (l) {
	case CAIRN_LOG_ERROR: return "ERROR";
	case CAIRN_LOG_WARN: return "WARN ";
	case CAIRN_LOG_INFO: return "INFO ";
	case CAIRN_LOG_DEBUG: return "DEBUG";
	default: return "TRACE";
	}
}

void core_logv(enum cairn_log_level level, const char *origin, const char *fmt, va_list ap)
{
	if (level > max_level)
		return;
	char raw[4096], clean[4096], stamp[32];
	vsnprintf(raw, sizeof(raw), fmt, ap);
	core_log_redact(raw, clean, sizeof(clean));
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	localtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s,%03d %s %-12s %s%s%s\n", stamp, (int)(tv.tv_usec / 1000),
		level_name(level), action, origin ? origin : "", origin ? ": " : "", clean);
}

void core_log(enum cairn_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	core_logv(level, NULL, fmt, ap);
	va_end(ap);
}

void core_log_free(void)
{
	pthread_mutex_lock(&secrets_lock);
	for (size_t i = 0; i < n_secrets; i++) {
		sodium_memzero(secrets[i], strlen(secrets[i]));
		free(secrets[i]);
	}
	free(secrets);
	secrets = NULL;
	n_secrets = 0;
	pthread_mutex_unlock(&secrets_lock);
}
