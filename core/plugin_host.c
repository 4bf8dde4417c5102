/*
 * plugin_host.c — services given to plugins. Plugin messages land in the core's
 * error slot and log, so the CLI reports a plugin failure the same way as
 * a core failure, with secrets redacted.
 */
#define _POSIX_C_SOURCE 200809L
#include "plugin_host.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cairn/status.h"
#include "cairn/version.h"
#include "config.h"
#include "error.h"
#include "log.h"

static volatile sig_atomic_t cancel_flag;
/*
 * The progress line. A backup draws it from its archive writer thread
 * (pipe.h) while the calling thread names the kind being read: one lock.
 * Nothing is drawn during a step's first second, so a quick command never
 * flashes a frame between its log lines.
 */
static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;
static int progress_on;
static const char *progress_label = "";
static char progress_item[128];
static struct timespec progress_last, progress_start;
static int progress_shown;

static long ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

static void on_signal(int sig)
{
	(void)sig;
	cancel_flag = 1;
}

void core_host_trap_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int core_cancelled(void) { return cancel_flag != 0; }

static void h_log(const struct cairn_host *h, enum cairn_log_level level, const char *plugin,
		  const char *fmt, ...) CAIRN_PRINTF(4, 5);
static int h_set_error(const struct cairn_host *h, int status, const char *fmt, ...)
	CAIRN_PRINTF(3, 4);

static void h_log(const struct cairn_host *h, enum cairn_log_level level, const char *plugin,
		  const char *fmt, ...)
{
	(void)h;
	va_list ap;
	va_start(ap, fmt);
	core_logv(level, plugin, fmt, ap);
	va_end(ap);
}

static int h_set_error(const struct cairn_host *h, int status, const char *fmt, ...)
{
	(void)h;
	char raw[1024], clean[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* plugins must give one line; fold any newline a server message carried */
	for (char *p = raw; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	core_log_redact(raw, clean, sizeof(clean));
	core_error_set(status, "%s", clean);
	return status;
}

static const char *h_config_get(const struct cairn_host *h, const char *section, const char *key)
{
	(void)h;
	return core_config_get(section, key);
}

static void *h_alloc(const struct cairn_host *h, size_t size)
{
	(void)h;
	return malloc(size);
}

static void h_free(const struct cairn_host *h, void *p)
{
	(void)h;
	free(p);
}

static int h_cancelled(const struct cairn_host *h)
{
	(void)h;
	return core_cancelled();
}

void core_progress_enable(int on) { progress_on = on; }

static void clear_line(void)
{
	if (progress_shown) {
		fputs("\r\033[K", stderr);
		progress_shown = 0;
	}
}

void core_progress_step(const char *label)
{
	pthread_mutex_lock(&progress_lock);
	clear_line();
	progress_label = label;
	progress_item[0] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &progress_start);
	pthread_mutex_unlock(&progress_lock);
}

void core_progress_item(const char *fmt, ...)
{
	pthread_mutex_lock(&progress_lock);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(progress_item, sizeof(progress_item), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&progress_lock);
}

void core_progress_done(void)
{
	pthread_mutex_lock(&progress_lock);
	clear_line();
	progress_label = "";
	pthread_mutex_unlock(&progress_lock);
}

static void h_progress(const struct cairn_host *h, uint64_t done, uint64_t total)
{
	(void)h;
	if (!progress_on)
		return;
	pthread_mutex_lock(&progress_lock);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* inside a step only, not in its first second; then at most 5 refreshes a second */
	if (progress_label[0] && ms_between(&progress_start, &now) >= 1000 &&
	    (ms_between(&progress_last, &now) >= 200 || (total && done == total))) {
		progress_last = now;
		const char *sep = progress_item[0] ? " — " : "";
		if (total)
			fprintf(stderr, "\r\033[K%s%s%s: %llu of %llu (%d%%)", progress_label, sep,
				progress_item, (unsigned long long)done, (unsigned long long)total,
				(int)(done * 100 / total));
		else
			fprintf(stderr, "\r\033[K%s%s%s: %llu", progress_label, sep, progress_item,
				(unsigned long long)done);
		progress_shown = 1;
	}
	pthread_mutex_unlock(&progress_lock);
}

static void h_redact(const struct cairn_host *h, const char *secret)
{
	(void)h;
	core_log_redact_add(secret);
}

static const struct cairn_host host = {
	.struct_size = sizeof(struct cairn_host),
	.abi_major = CAIRN_ABI_MAJOR,
	.abi_minor = CAIRN_ABI_MINOR,
	.core = NULL,
	.log = h_log,
	.set_error = h_set_error,
	.config_get = h_config_get,
	.alloc = h_alloc,
	.free = h_free,
	.cancelled = h_cancelled,
	.progress = h_progress,
	.redact = h_redact,
};

const struct cairn_host *core_host(void) { return &host; }
