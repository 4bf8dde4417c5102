/*
 * plugin_buf.h — a byte string growing in one heap buffer: the one growable
 * buffer of the in-tree plugins (SQL statements, copies of row values that
 * a cursor reuses from row to row, decoded bytes, paths). Internal: never
 * installed.
 *
 * Usage: `struct cp_buf b = {0};` then cp_buf_add()… ; check b.oom once at
 * the end (an allocation failure sticks and later calls do nothing); b.p is
 * the NUL-terminated text (NULL if nothing was added yet); cp_buf_free()
 * releases it. A buffer reused for one value after another is emptied with
 * cp_buf_reset(), which keeps its memory.
 */
#ifndef CAIRN_PLUGIN_COMMON_PLUGIN_BUF_H
#define CAIRN_PLUGIN_COMMON_PLUGIN_BUF_H

#include <stddef.h>

struct cp_buf {
	char *p;
	size_t len, cap;
	int oom;
};

/* Appends the NUL-terminated string s. */
void cp_buf_add(struct cp_buf *b, const char *s);
/* Appends n bytes of s (which may contain NUL bytes). */
void cp_buf_addn(struct cp_buf *b, const char *s, size_t n);
/* Appends printf-style text; returns 0, or -1 (and sets oom). */
int cp_buf_addf(struct cp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes room for `extra` more bytes plus the NUL; returns 0, or -1 (and sets oom). */
int cp_buf_reserve(struct cp_buf *b, size_t extra);
/* Empties the buffer (and clears oom) but keeps its memory for the next value. */
void cp_buf_reset(struct cp_buf *b);
void cp_buf_free(struct cp_buf *b);

#endif /* CAIRN_PLUGIN_COMMON_PLUGIN_BUF_H */
