/*
 * cairn/plugin.h — how a plugin introduces itself to the core.
 *
 * A plugin is a shared object exporting exactly one symbol:
 *
 *     const struct cairn_plugin_info *cairn_plugin_entry_v1(const struct cairn_host *host);
 *
 * The core dlopen()s the file, looks the symbol up, calls it once, and checks
 * the returned info before it calls anything else:
 *
 *   - info->struct_size >= the size of the ABI 1.0 struct;
 *   - info->abi_major == CAIRN_ABI_MAJOR;
 *   - info->abi_minor <= the core's CAIRN_ABI_MINOR;
 *   - info->kind is SOURCE or STORAGE and the vtable is of that kind, with
 *     its own struct_size large enough and every required member set;
 *   - name, version and schemes are set.
 *
 * Any failed check refuses the plugin with one line naming the file and the
 * reason; the core never calls into a refused plugin again.
 *
 * Lifetime: the info, the strings it points to and the vtable are static
 * data of the plugin, valid until dlclose(). The entry point must not fail
 * for lack of resources; return NULL only if the host is unusable (for
 * example host->struct_size too small for the services you need).
 */
#ifndef CAIRN_PLUGIN_H
#define CAIRN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/host.h"
#include "cairn/status.h"
#include "cairn/version.h"

#if defined(__GNUC__)
#define CAIRN_EXPORT __attribute__((visibility("default")))
#else
#define CAIRN_EXPORT
#endif

#ifdef __cplusplus
#define CAIRN_EXTERN_C extern "C"
#else
#define CAIRN_EXTERN_C
#endif

/* Stable numbers: never renumbered. */
enum cairn_plugin_kind {
	CAIRN_PLUGIN_KIND_SOURCE = 1,  /* metadata source: struct cairn_source_vtable */
	CAIRN_PLUGIN_KIND_STORAGE = 2  /* backup target: struct cairn_storage_vtable */
};

struct cairn_plugin_info {
	uint32_t struct_size; /* sizeof(struct cairn_plugin_info) as compiled */
	uint16_t abi_major;   /* CAIRN_ABI_MAJOR the plugin was built with */
	uint16_t abi_minor;   /* CAIRN_ABI_MINOR the plugin was built with */
	const char *name;     /* short, lowercase, unique: "postgresql", "fs" */
	const char *version;  /* the plugin's own version, free form */
	const char *description; /* one line for `cairn plugins list`; may be NULL */
	uint32_t kind;        /* enum cairn_plugin_kind */
	/*
	 * URI schemes served, lowercase without "://", NULL-terminated:
	 * {"postgresql", "postgres", NULL}. At least one.
	 */
	const char *const *schemes;
	/* const struct cairn_source_vtable * or const struct cairn_storage_vtable * */
	const void *vtable;
};

#define CAIRN_PLUGIN_ENTRY_NAME "cairn_plugin_entry_v1"

typedef const struct cairn_plugin_info *(*cairn_plugin_entry_fn)(
	const struct cairn_host *host);

/*
 * CAIRN_VT_HAS(vt, member) — non-zero when `member` lies inside vt's
 * struct_size and is non-NULL. The core reads optional and newer members
 * only through this test.
 */
#define CAIRN_VT_HAS(vt, member)                                               \
	((size_t)((const char *)&(vt)->member - (const char *)(vt)) +         \
		 sizeof((vt)->member) <=                                       \
	 (vt)->struct_size && (vt)->member != NULL)

/*
 * CAIRN_PLUGIN_DEFINE(info_initialiser…) — defines the entry point. Use
 * designated initialisers; struct_size and the ABI numbers are filled in:
 *
 *     CAIRN_PLUGIN_DEFINE(.name = "fs", .version = "1.0.0",
 *                         .kind = CAIRN_PLUGIN_KIND_STORAGE,
 *                         .schemes = fs_schemes, .vtable = &fs_vtable)
 *
 * The host given to the entry point is the same one later passed to open();
 * plugins keep it in their instance state rather than in a global.
 */
#define CAIRN_PLUGIN_DEFINE(...)                                               \
	static const struct cairn_plugin_info cairn_plugin_info_ = {           \
		.struct_size = sizeof(struct cairn_plugin_info),               \
		.abi_major = CAIRN_ABI_MAJOR,                                  \
		.abi_minor = CAIRN_ABI_MINOR,                                  \
		__VA_ARGS__};                                                  \
	CAIRN_EXTERN_C CAIRN_EXPORT const struct cairn_plugin_info *           \
	cairn_plugin_entry_v1(const struct cairn_host *host)                   \
	{                                                                      \
		(void)host;                                                    \
		return &cairn_plugin_info_;                                    \
	}

#endif /* CAIRN_PLUGIN_H */
