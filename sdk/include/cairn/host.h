/*
 * cairn/host.h — services the core offers to plugins.
 *
 * The core passes one `struct cairn_host` to a plugin's entry point and to
 * every open(). The pointer stays valid until the plugin's last instance is
 * closed and the plugin is unloaded; a plugin may keep it. The struct is
 * owned by the core and must never be written by a plugin.
 *
 * Versioning: members are only appended (marked "since 1.N"). A plugin built
 * against newer headers must check that a member lies inside struct_size
 * (CAIRN_HOST_HAS) before calling it.
 *
 * Threading: the core calls a plugin from one thread at a time (the
 * "calling thread" of that call). A plugin may start threads of its own
 * (an upload pool, a pipeline reader) and call from them, concurrently:
 *
 *   thread-safe, any thread, any time until the plugin is unloaded:
 *     log, redact, config_get, alloc, free, cancelled
 *   calling thread only, during a call from the core into the plugin:
 *     set_error, progress — they write the core's per-command state (the
 *     error of the call being answered, the progress line); a worker thread
 *     hands its failure to the calling thread, which reports it and returns
 *     the status.
 *
 * A service appended later says which group it is in.
 */
#ifndef CAIRN_HOST_H
#define CAIRN_HOST_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define CAIRN_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CAIRN_PRINTF(fmt, args)
#endif

enum cairn_log_level {
	CAIRN_LOG_ERROR = 0,
	CAIRN_LOG_WARN = 1,
	CAIRN_LOG_INFO = 2,
	CAIRN_LOG_DEBUG = 3,
	CAIRN_LOG_TRACE = 4
};

/*
 * An option given to open(): `key` and `value` are NUL-terminated UTF-8,
 * borrowed for the duration of the call. Options come from the command line
 * (`--source-option k=v`, `--storage-option k=v`) and from the plugin's
 * section of the configuration file; command-line options come first.
 */
struct cairn_option {
	const char *key;
	const char *value;
};

struct cairn_host {
	uint32_t struct_size; /* sizeof(struct cairn_host) as built by the core */
	uint16_t abi_major;   /* the core's CAIRN_ABI_MAJOR */
	uint16_t abi_minor;   /* the core's CAIRN_ABI_MINOR */

	/* Opaque core state; plugins pass the host pointer back, never this. */
	void *core;

	/*
	 * log — write one log line. Plugins never write to stdout or stderr;
	 * the core decides where lines go and redacts registered secrets.
	 * `plugin` is the plugin's name (the CAIRN_LOG_* macros pass it).
	 * Thread-safe; a line is written whole, never interleaved with
	 * another thread's.
	 */
	void (*log)(const struct cairn_host *host, enum cairn_log_level level,
		    const char *plugin, const char *fmt, ...) CAIRN_PRINTF(4, 5);

	/*
	 * set_error — record the detail of the failure the plugin is about to
	 * return: a lowercase one-line message without trailing period, naming
	 * the object in single quotes ("unable to open '%s': %s"). Returns
	 * `status` so that a plugin can write `return host->set_error(...)`.
	 * The last call before a failing return wins. Calling thread only.
	 */
	int (*set_error)(const struct cairn_host *host, int status,
			 const char *fmt, ...) CAIRN_PRINTF(3, 4);

	/*
	 * config_get — look up `key` in the configuration section named
	 * `section` (normally the plugin's name). Returns a NUL-terminated
	 * string owned by the core, valid until the plugin is unloaded, or NULL
	 * when the key is not set. Thread-safe (the configuration is read-only
	 * once plugins run).
	 */
	const char *(*config_get)(const struct cairn_host *host,
				  const char *section, const char *key);

	/*
	 * alloc / free — memory that a plugin hands to the core must come from
	 * here. Everything else a plugin allocates it frees itself. alloc
	 * returns NULL on failure; free(NULL) is a no-op. Thread-safe.
	 */
	void *(*alloc)(const struct cairn_host *host, size_t size);
	void (*free)(const struct cairn_host *host, void *ptr);

	/*
	 * cancelled — non-zero once the user asked to stop (SIGINT/SIGTERM).
	 * Long loops call it between units of work and return
	 * CAIRN_E_CANCELLED, after cleaning up, when it is set. Thread-safe:
	 * worker threads poll it too.
	 */
	int (*cancelled)(const struct cairn_host *host);

	/*
	 * progress — report `done` of `total` units (bytes or records; total
	 * 0 when unknown) of the current step. Cheap: call it as often as you
	 * like; the core rate-limits the display. Calling thread only: workers
	 * count, the calling thread reports.
	 */
	void (*progress)(const struct cairn_host *host, uint64_t done,
			 uint64_t total);

	/*
	 * redact — register a secret (password, key) so that the core masks it
	 * in every later log line and error message. The string is copied;
	 * secrets shorter than 4 bytes are not registered (masking them would
	 * garble every line). Thread-safe, also while other threads log: a
	 * line is masked either with or without a secret registered at the
	 * same moment, never half. Register before the secret can appear in
	 * a message.
	 */
	void (*redact)(const struct cairn_host *host, const char *secret);
};

/* Non-zero when `member` of host `h` lies inside its struct_size and is set. */
#define CAIRN_HOST_HAS(h, member)                                              \
	((size_t)((const char *)&(h)->member - (const char *)(h)) +           \
		 sizeof((h)->member) <=                                        \
	 (h)->struct_size && (h)->member != NULL)

#define CAIRN_LOG_ERROR(h, name, ...) (h)->log((h), CAIRN_LOG_ERROR, (name), __VA_ARGS__)
#define CAIRN_LOG_WARN(h, name, ...)  (h)->log((h), CAIRN_LOG_WARN, (name), __VA_ARGS__)
#define CAIRN_LOG_INFO(h, name, ...)  (h)->log((h), CAIRN_LOG_INFO, (name), __VA_ARGS__)
#define CAIRN_LOG_DEBUG(h, name, ...) (h)->log((h), CAIRN_LOG_DEBUG, (name), __VA_ARGS__)

#endif /* CAIRN_HOST_H */
