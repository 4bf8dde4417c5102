/* Loads fine; its entry point raises SIGSEGV. */
#include "crash.h"

CRASH_INFO("entrysegv")
CRASH_NOTE("entrysegv")

CAIRN_EXPORT const struct cairn_plugin_info *cairn_plugin_entry_v1(const struct cairn_host *host)
{
	(void)host;
	raise(SIGSEGV);
	return &crash_info;
}
