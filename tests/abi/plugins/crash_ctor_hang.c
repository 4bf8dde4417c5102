/* Its constructor sleeps forever. */
#include "crash.h"

CRASH_INFO("ctorhang")
CRASH_NOTE("ctorhang")

__attribute__((constructor)) static void crash_ctor(void)
{
	for (;;)
		pause();
}

CAIRN_EXPORT const struct cairn_plugin_info *cairn_plugin_entry_v1(const struct cairn_host *host)
{
	(void)host;
	return &crash_info;
}
