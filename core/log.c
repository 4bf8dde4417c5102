/* log.c — see log.h. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <sodium.h>

static enum cairn_log_level max_level = CAIRN_LOG_INFO;
static const char *action = "cairn";
static char **secrets;
static size_t n_secrets;

void core_log_set_level(enum cairn_log_level max) { max_level = max; }
void core_log_set_action(const char *a) { action = a; }

void core_log_redact_add(const char *secret)
{
	if (!secret || strlen(secret) < 4)
		return; /* masking 1-3 characters would garble every line */
	char **v = realloc(secrets, (n_secrets + 1) * sizeof(*v));
	if (!v)
		return;
	secrets = v;
	secrets[n_secrets] = strdup(secret);
	if (secrets[n_secrets])
		n_secrets++;
}

void core_log_redact(const char *in, char *out, size_t cap)
{
	size_t o = 0;
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
	out[o] = '\0';
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
	for (size_t i = 0; i < n_secrets; i++) {
		sodium_memzero(secrets[i], strlen(secrets[i]));
		free(secrets[i]);
	}
	free(secrets);
	secrets = NULL;
	n_secrets = 0;
}
