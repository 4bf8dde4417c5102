/*
 * test_pipe.c — the backup's archive writer thread (core/pipe.c): entries
 * come out whole and in order, buffers come back recycled, and a failure of
 * the writer thread reaches the caller with its status and its message.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "buf.h"
#include "cairn/status.h"
#include "container.h"
#include "envelope.h"
#include "error.h"
#include "pipe.h"

struct mem {
	struct core_buf b;
	size_t pos;
	size_t limit; /* the sink fails once it would hold more (0: no limit) */
};

static int mem_sink(void *ud, const void *buf, size_t len)
{
	struct mem *m = ud;
	if (m->limit && m->b.len + len > m->limit)
		return core_error_set(CAIRN_E_NO_SPACE, "test sink: no space left after %zu bytes",
				      m->b.len);
	return core_buf_append(&m->b, buf, len);
}

static int mem_source(void *ud, void *buf, size_t cap, size_t *got)
{
	struct mem *m = ud;
	size_t n = m->b.len - m->pos < cap ? m->b.len - m->pos : cap;
	memcpy(buf, m->b.data + m->pos, n);
	m->pos += n;
	*got = n;
	return CAIRN_OK;
}

/* Entry i: i*7919 % 300000 pseudo-random bytes, so sizes and contents differ. */
static void fill(struct core_buf *b, unsigned i)
{
	size_t n = (size_t)i * 7919u % 300000u;
	uint32_t x = i * 2654435761u + 1;
	core_buf_reset(b);
	assert_int_equal(core_buf_reserve(b, n), CAIRN_OK);
	for (size_t k = 0; k < n; k++) {
		x = x * 1103515245u + 12345u;
		b->data[k] = (char)(x >> 24);
	}
	b->len = n;
}

static void test_order_and_bytes(void **state)
{
	(void)state;
	struct core_keyring kr = {.no_encryption = 1};
	struct mem out = {CORE_BUF_INIT, 0, 0};
	struct core_env_writer *ew;
	struct core_archive_writer *aw;
	struct core_pipe *p;
	assert_int_equal(core_env_writer_new(&kr, mem_sink, &out, &ew), CAIRN_OK);
	assert_int_equal(core_archive_writer_new(ew, 0, &aw), CAIRN_OK);
	assert_int_equal(core_pipe_start(aw, &p), CAIRN_OK);
	struct core_buf b = CORE_BUF_INIT;
	for (unsigned i = 1; i <= 40; i++) {
		char name[64];
		fill(&b, i);
		snprintf(name, sizeof(name), "records/X/%06u.msgpack", i);
		assert_int_equal(core_pipe_put(p, name, &b), CAIRN_OK);
		assert_int_equal(b.len, 0); /* handed over, not copied */
	}
	assert_int_equal(core_pipe_finish(p), CAIRN_OK);
	core_pipe_free(p);
	assert_int_equal(core_archive_writer_finish(aw), CAIRN_OK);
	core_archive_writer_free(aw);
	core_env_writer_free(ew);

	struct core_env_reader *er;
	struct core_archive_reader *ar;
	assert_int_equal(core_env_reader_new(&kr, mem_source, &out, &er), CAIRN_OK);
	assert_int_equal(core_archive_reader_new(er, &ar), CAIRN_OK);
	const char *name;
	const void *data;
	size_t len;
	for (unsigned i = 1; i <= 40; i++) {
		char want[64];
		snprintf(want, sizeof(want), "records/X/%06u.msgpack", i);
		assert_int_equal(core_archive_next(ar, &name, &data, &len), 1);
		assert_string_equal(name, want);
		fill(&b, i);
		assert_int_equal(len, b.len);
		assert_memory_equal(data, b.data, len);
	}
	assert_int_equal(core_archive_next(ar, &name, &data, &len), 0);
	core_archive_reader_free(ar);
	core_env_reader_free(er);
	core_buf_free(&b);
	core_buf_free(&out.b);
}

static void test_writer_failure(void **state)
{
	(void)state;
	struct core_keyring kr = {.no_encryption = 1};
	struct mem out = {CORE_BUF_INIT, 0, 200000};
	struct core_env_writer *ew;
	struct core_archive_writer *aw;
	struct core_pipe *p;
	assert_int_equal(core_env_writer_new(&kr, mem_sink, &out, &ew), CAIRN_OK);
	assert_int_equal(core_archive_writer_new(ew, 0, &aw), CAIRN_OK);
	assert_int_equal(core_pipe_start(aw, &p), CAIRN_OK);
	core_error_clear();
	struct core_buf b = CORE_BUF_INIT;
	int rc = CAIRN_OK;
	unsigned i;
	for (i = 1; i <= 200 && rc == CAIRN_OK; i++) {
		fill(&b, i);
		rc = core_pipe_put(p, "records/X/000001.msgpack", &b);
	}
	if (rc == CAIRN_OK) /* every put got in before the writer failed: finish says it */
		rc = core_pipe_finish(p);
	assert_int_equal(rc, CAIRN_E_NO_SPACE);
	/* the writer's message, now in this thread's slot */
	assert_non_null(strstr(core_error_message(), "no space left after"));
	assert_true(i < 200); /* the caller learnt of it while still putting */
	core_pipe_free(p);
	core_archive_writer_free(aw);
	core_env_writer_free(ew);
	core_buf_free(&b);
	core_buf_free(&out.b);
}

/* Freed while entries wait (a source failure): nothing hangs or leaks. */
static void test_free_with_queue(void **state)
{
	(void)state;
	struct core_keyring kr = {.no_encryption = 1};
	struct mem out = {CORE_BUF_INIT, 0, 0};
	struct core_env_writer *ew;
	struct core_archive_writer *aw;
	struct core_pipe *p;
	assert_int_equal(core_env_writer_new(&kr, mem_sink, &out, &ew), CAIRN_OK);
	assert_int_equal(core_archive_writer_new(ew, 0, &aw), CAIRN_OK);
	assert_int_equal(core_pipe_start(aw, &p), CAIRN_OK);
	struct core_buf b = CORE_BUF_INIT;
	for (unsigned i = 1; i <= CORE_PIPE_SLOTS; i++) {
		fill(&b, 100 + i);
		assert_int_equal(core_pipe_put(p, "records/X/000001.msgpack", &b), CAIRN_OK);
	}
	core_pipe_free(p);
	core_archive_writer_free(aw);
	core_env_writer_free(ew);
	core_buf_free(&b);
	core_buf_free(&out.b);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_bytes),
		cmocka_unit_test(test_writer_failure),
		cmocka_unit_test(test_free_with_queue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
