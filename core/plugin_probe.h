/*
 * plugin_probe.h — loading and checking plugins in child processes, so that
 * one that crashes, hangs or exits in a constructor or its entry point costs
 * a line of output, not the command.
 */
#ifndef CORE_PLUGIN_PROBE_H
#define CORE_PLUGIN_PROBE_H

#include <stddef.h>

#include "plugin_loader.h"

#define CORE_PROBE_TIMEOUT_S 5
#define CORE_PROBE_PARALLEL 16 /* children at a time */

/*
 * Probe v[0..n): each file is loaded with core_plugin_load() in a forked
 * child, which sends back what the info says or the refusal, then _exit()s.
 * Up to CORE_PROBE_PARALLEL run at once, each with its own
 * CORE_PROBE_TIMEOUT_S. On return every entry has either `known` and `meta`
 * set, or `refusal`: the loader's reason, or "crashed (signal N)", "no
 * answer in 5 s", "exited (status N)", "sent a malformed answer". A file
 * with a note whose info disagrees with it is refused too. Nothing is
 * loaded in this process; SIGINT/SIGTERM stop the probes ("cancelled").
 */
void core_plugin_probe(struct core_plugin *const *v, size_t n);

#endif /* CORE_PLUGIN_PROBE_H */
