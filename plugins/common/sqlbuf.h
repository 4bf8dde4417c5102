/*
 * sqlbuf.h — an SQL statement growing in one heap buffer, shared by the
 * in-tree source plugins (internal: never installed).
 *
 * Usage: `struct sqlbuf b = {0};` then sqlbuf_add()… ; check b.oom once at the
 * end (an allocation failure sticks and later calls do nothing); b.p is the
 * NUL-terminated text (NULL if nothing was added); sqlbuf_free() releases it.
 */
#ifndef CAIRN_PLUGIN_COMMON_SQLBUF_H
#define CAIRN_PLUGIN_COMMON_SQLBUF_H

#include <stddef.h>

struct sqlbuf {
	char *p;
	size_t len, cap;
	int oom;
};

/* Appends the NUL-terminated string s. */
void sqlbuf_add(struct sqlbuf *b, const char *s);
/* Appends n bytes of s (which may contain NUL bytes). */
void sqlbuf_addn(struct sqlbuf *b, const char *s, size_t n);
/* Makes room for `extra` more bytes plus the NUL; returns 0, or -1 (and sets oom). */
int sqlbuf_reserve(struct sqlbuf *b, size_t extra);
void sqlbuf_free(struct sqlbuf *b);

#endif /* CAIRN_PLUGIN_COMMON_SQLBUF_H */
