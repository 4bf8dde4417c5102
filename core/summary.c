/* summary.c — the "[KIND: n, …]" lines of the commands (commands.h). */
#include <stdio.h>

#include "commands.h"

void core_format_summary(char *const *kinds, const uint64_t *counts, size_t n, char *out, size_t cap)
{
	size_t used = 0;
	used += (size_t)snprintf(out, cap, "[");
	for (size_t i = 0; i < n && used < cap; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s%s: %llu", i ? ", " : "", kinds[i],
					 (unsigned long long)counts[i]);
	if (used < cap)
		snprintf(out + used, cap - used, "]");
}
