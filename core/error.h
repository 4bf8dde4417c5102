/*
 * error.h — the core's last-error slot.
 *
 * A failing core function records one lowercase line and a CAIRN_E_* status
 * here and returns the status; the caller that decides the exit code reads
 * it back. Plugins reach the same slot through host->set_error, which is a
 * calling-thread service (cairn/host.h): each thread has its own slot, and a
 * thread that works for another hands its failure over (pipe.c).
 */
#ifndef CORE_ERROR_H
#define CORE_ERROR_H

/* Record `status` and a printf-style message; returns `status`. */
int core_error_set(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prefix the current message with "<prefix>: " (adds context on the way up). */
void core_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *core_error_message(void); /* "" when nothing was recorded */
int core_error_status(void);          /* 0 when nothing was recorded */
void core_error_clear(void);

#endif /* CORE_ERROR_H */
