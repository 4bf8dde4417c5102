/* error.c — see error.h. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char message[1024];
static int last_status;

int core_error_set(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	last_status = status;
	return status;
}

void core_error_prefix(const char *fmt, ...)
{
	char prefix[512], old[sizeof(message)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, message, sizeof(old));
	snprintf(message, sizeof(message), "%s: %s", prefix, old);
}

const char *core_error_message(void) { return message; }
int core_error_status(void) { return last_status; }

void core_error_clear(void)
{
	message[0] = '\0';
	last_status = 0;
}
