/* buf.c — see buf.h. Grows geometrically so appends are amortised O(1). */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cairn/status.h"

int core_buf_reserve(struct core_buf *b, size_t extra)
{
	if (extra > (size_t)-1 / 2 - b->len)
		return CAIRN_E_NOMEM;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return CAIRN_OK;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return CAIRN_E_NOMEM;
	b->data = p;
	b->cap = cap;
	return CAIRN_OK;
}

int core_buf_append(struct core_buf *b, const void *data, size_t len)
{
	int rc = core_buf_reserve(b, len);
	if (rc)
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return CAIRN_OK;
}

int core_buf_append_str(struct core_buf *b, const char *s)
{
	return core_buf_append(b, s, strlen(s));
}

int core_buf_append_char(struct core_buf *b, char c)
{
	return core_buf_append(b, &c, 1);
}

int core_buf_printf(struct core_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return CAIRN_E_INVALID;
	int rc = core_buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return CAIRN_OK;
}

void core_buf_reset(struct core_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void core_buf_free(struct core_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void core_buf_wipe(struct core_buf *b)
{
	if (b->data)
		sodium_memzero(b->data, b->cap);
	core_buf_free(b);
}
