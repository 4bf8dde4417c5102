/*
 * plugin_host.h — the core's implementation of struct cairn_host (declared in
 * the SDK's cairn/host.h): the services every plugin is handed,
 * and the cancellation flag set by SIGINT/SIGTERM.
 */
#ifndef CORE_PLUGIN_HOST_H
#define CORE_PLUGIN_HOST_H

#include "cairn/host.h"

/* The one host the core hands to every plugin. */
const struct cairn_host *core_host(void);
/* Install SIGINT/SIGTERM handlers that set the cancellation flag. */
void core_host_trap_signals(void);
int core_cancelled(void);

/* Progress display: enabled when stderr is a terminal (or forced). */
void core_progress_enable(int on);
void core_progress_step(const char *label); /* a new step; clears the line */
/* What the step works on now ("FLOW, kind 9 of 24"), shown after the label. */
void core_progress_item(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void core_progress_done(void);                 /* end of a step: clear the line */

#endif /* CORE_PLUGIN_HOST_H */
