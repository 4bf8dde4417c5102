/* Loads fine; its entry point calls exit(3), atexit handlers and all. */
#include "crash.h"

CRASH_INFO("entryexit")
CRASH_NOTE("entryexit")

CAIRN_EXPORT const struct cairn_plugin_info *cairn_plugin_entry_v1(const struct cairn_host *host)
{
	(void)host;
	exit(3);
	return &crash_info;
}
