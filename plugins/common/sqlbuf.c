/* sqlbuf.c — see sqlbuf.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sqlbuf.h"

int sqlbuf_reserve(struct sqlbuf *b, size_t extra)
{
	size_t cap;
	char *np;

	if (b->oom)
		return -1;
	if (extra > SIZE_MAX / 2 - b->len - 1) {
		b->oom = 1;
		return -1;
	}
	if (b->len + extra + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	np = realloc(b->p, cap);
	if (np == NULL) {
		b->oom = 1;
		return -1;
	}
	b->p = np;
	b->cap = cap;
	return 0;
}

void sqlbuf_addn(struct sqlbuf *b, const char *s, size_t n)
{
	if (sqlbuf_reserve(b, n) != 0)
		return;
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sqlbuf_add(struct sqlbuf *b, const char *s)
{
	sqlbuf_addn(b, s, strlen(s));
}

void sqlbuf_free(struct sqlbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}
