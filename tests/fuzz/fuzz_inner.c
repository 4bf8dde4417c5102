/*
 * fuzz_inner.c — libFuzzer target for what lies inside the envelope: the
 * input is taken as the inner tar+zstd stream, wrapped in memory in a valid
 * PLAIN envelope (the authentication would otherwise stop nearly every
 * mutation), then read back through the same path as fuzz_archive.c.
 */
#define FUZZ_ARCHIVE_NO_MAIN
#include "fuzz_archive.c"

struct fuzz_growbuf {
	uint8_t *data;
	size_t len, cap;
};

static int fuzz_sink(void *ud, const void *buf, size_t len)
{
	struct fuzz_growbuf *b = ud;
	if (b->cap - b->len < len) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len < len)
			cap *= 2;
		uint8_t *p = realloc(b->data, cap);
		if (!p)
			return CAIRN_E_NOMEM;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, buf, len);
	b->len += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct core_keyring kr;
	memset(&kr, 0, sizeof(kr));
	kr.no_encryption = 1;
	struct fuzz_growbuf out = {NULL, 0, 0};
	struct core_env_writer *w = NULL;
	if (core_env_writer_new(&kr, fuzz_sink, &out, &w) == 0 &&
	    (size == 0 || core_env_write(w, data, size) == 0) && core_env_finish(w) == 0)
		(void)fuzz_read_backup(out.data, out.len);
	core_env_writer_free(w);
	free(out.data);
	return 0;
}
