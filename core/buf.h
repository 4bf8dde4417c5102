/*
 * buf.h — a growable byte buffer, the one container the core uses for
 * JSON text, record chunks and messages. Always NUL-terminated after `len`
 * so that text can be passed to C string functions.
 */
#ifndef CORE_BUF_H
#define CORE_BUF_H

#include <stddef.h>

struct core_buf {
	char *data;   /* NULL until the first append */
	size_t len;   /* bytes used, not counting the terminating NUL */
	size_t cap;   /* bytes allocated */
};

#define CORE_BUF_INIT {NULL, 0, 0}

/* Make room for `extra` more bytes (+ NUL). 0 or CAIRN_E_NOMEM. */
int core_buf_reserve(struct core_buf *b, size_t extra);
int core_buf_append(struct core_buf *b, const void *data, size_t len);
int core_buf_append_str(struct core_buf *b, const char *s);
int core_buf_append_char(struct core_buf *b, char c);
/* printf-style append. */
int core_buf_printf(struct core_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void core_buf_reset(struct core_buf *b); /* len = 0, keeps the memory */
void core_buf_free(struct core_buf *b);  /* frees the memory, back to INIT */
/* Zero the bytes, then free: for buffers that held secrets. */
void core_buf_wipe(struct core_buf *b);

#endif /* CORE_BUF_H */
