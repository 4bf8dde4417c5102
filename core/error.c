/* error.c — see error.h. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* one slot per thread: a backup's archive writer thread fails on its own (pipe.c) */
static _Thread_local char message[1024];
static _Thread_local int last_status;

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
	char out[sizeof(message)];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, sizeof(out), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t used = strlen(out);
	/* "<prefix>: <message>", cut to the slot size: truncation is intended */
	if (used + 2 < sizeof(out)) {
		memcpy(out + used, ": ", 3);
		used += 2;
		size_t room = sizeof(out) - 1 - used;
		size_t mlen = strlen(message);
		if (mlen > room)
			mlen = room;
		memcpy(out + used, message, mlen);
		out[used + mlen] = '\0';
	}
	memcpy(message, out, sizeof(message));
}

const char *core_error_message(void) { return message; }
int core_error_status(void) { return last_status; }

void core_error_clear(void)
{
	message[0] = '\0';
	last_status = 0;
}
