/* Its constructor raises SIGSEGV: dlopen() itself never returns. */
#include "crash.h"

CRASH_INFO("ctorsegv")
CRASH_NOTE("ctorsegv")

__attribute__((constructor)) static void crash_ctor(void)
{
	raise(SIGSEGV);
}

CAIRN_EXPORT const struct cairn_plugin_info *cairn_plugin_entry_v1(const struct cairn_host *host)
{
	(void)host;
	return &crash_info;
}
