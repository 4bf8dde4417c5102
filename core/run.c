/* run.c — see run.h. */
#define _POSIX_C_SOURCE 200809L
#include "run.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "uri.h"

/* The lowest status code this core knows (cairn/status.h). */
#define CORE_E_LOWEST_KNOWN CAIRN_E_LOCKED

int core_fail(struct core_run *run, enum core_exit cls, int rc)
{
	if (rc > 0 || rc < CORE_E_LOWEST_KNOWN) {
		/* a code from a newer ABI, or garbage: the plugin broke its contract */
		core_error_prefix("plugin returned unknown status %d", rc);
		rc = CAIRN_E_PLUGIN;
		cls = CORE_EXIT_PLUGIN;
	}
	if (rc) {
		/* first wins, also between a backup's two threads (pipe.h) */
		static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
		pthread_mutex_lock(&lock);
		if (run->exit_class == CORE_EXIT_OK)
			run->exit_class = rc == CAIRN_E_CANCELLED ? CORE_EXIT_CANCELLED : cls;
		pthread_mutex_unlock(&lock);
	}
	return rc;
}

void core_run_keyring(const struct core_run *run, struct core_keyring *kr)
{
	memset(kr, 0, sizeof(*kr));
	kr->instance_key = run->instance_key_len ? run->instance_key : NULL;
	kr->instance_key_len = run->instance_key_len;
	kr->passphrase = run->passphrase;
	kr->recipients = (const unsigned char(*)[32])run->recipients;
	kr->n_recipients = run->n_recipients;
	kr->identities = run->identities;
	kr->n_identities = run->n_identities;
	kr->no_encryption = run->no_encryption;
}

const struct core_plugin *core_run_plugin(struct core_run *run, unsigned kind, const char *uri)
{
	char scheme[32];
	if (core_fail(run, CORE_EXIT_USAGE, core_uri_scheme(uri, scheme, sizeof(scheme))))
		return NULL;
	/* loads the one plugin chosen, and no other plugin's code runs here */
	const struct core_plugin *p = core_plugins_find(&run->plugins, kind, scheme);
	if (!p) {
		/* say why: a refused plugin for this scheme is the usual cause — one
		 * whose note claimed it, else one whose file name mentions it */
		const char *why = NULL;
		for (int pass = 0; pass < 2 && !why; pass++)
			for (size_t i = 0; i < run->plugins.n && !why; i++) {
				const struct core_plugin *q = &run->plugins.v[i];
				if (q->refusal && (pass ? strstr(q->path, scheme) != NULL
							: q->has_note &&
								  core_plugin_serves(&q->note, kind, scheme)))
					why = q->refusal;
			}
		core_error_set(CAIRN_E_NOT_FOUND, "no %s plugin for '%s://'%s%s%s",
			       kind == CAIRN_PLUGIN_KIND_SOURCE ? "source" : "storage", scheme,
			       why ? " (a candidate was refused: " : "; see 'cairn plugins list'",
			       why ? why : "", why ? ")" : "");
		core_fail(run, CORE_EXIT_PLUGIN, CAIRN_E_NOT_FOUND);
	}
	return p;
}

const char *core_vt_refusal(const char *kind, uint32_t size, size_t min, const char *missing,
			    char *why, size_t cap)
{
	if (size < min)
		snprintf(why, cap, "%s vtable too small (%u bytes, ABI 1.0 needs %zu)", kind, size, min);
	else if (missing)
		snprintf(why, cap, "missing required method '%s'", missing);
	else
		return NULL;
	return why;
}
