/*
 * crash.h — for the fixtures that crash, hang or exit while being loaded.
 * Each is a storage plugin named after what it does, serving the scheme of
 * the same name, and carries a plugin note unless built with CRASH_NO_NOTE
 * (then it is what a plugin built with SDK 1.0/1.1 would be, and the core
 * must probe it to learn its scheme).
 */
#ifndef ABI_TEST_CRASH_H
#define ABI_TEST_CRASH_H

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "stub.h"

#ifdef CRASH_NO_NOTE
#define CRASH_NOTE(id)
#else
#define CRASH_NOTE(id) CAIRN_PLUGIN_NOTE(storage, id, id)
#endif

/* An info that would pass every check, for the ones that get that far. */
#define CRASH_INFO(id)                                                       \
	static const char *const crash_schemes[] = {id, NULL};               \
	static const struct cairn_plugin_info crash_info = {                   \
		.struct_size = sizeof(struct cairn_plugin_info),               \
		.abi_major = CAIRN_ABI_MAJOR, .abi_minor = 0,                  \
		.name = id, .version = "0", .kind = CAIRN_PLUGIN_KIND_STORAGE, \
		.schemes = crash_schemes, .vtable = &stub_storage_vtable};     \
	CAIRN_EXPORT const struct cairn_plugin_info *cairn_plugin_entry_v1(    \
		const struct cairn_host *host);

#endif /* ABI_TEST_CRASH_H */
