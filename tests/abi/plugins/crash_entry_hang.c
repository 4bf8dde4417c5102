/* Loads fine; its entry point sleeps forever. */
#include "crash.h"

CRASH_INFO("entryhang")
CRASH_NOTE("entryhang")

CAIRN_EXPORT const struct cairn_plugin_info *cairn_plugin_entry_v1(const struct cairn_host *host)
{
	(void)host;
	for (;;)
		pause();
	return &crash_info;
}
