/*
 * test_host_threads.c — host services that cairn/host.h calls thread-safe,
 * called as a plugin's worker threads would: several threads register
 * secrets through host->redact while others mask lines with what is
 * registered so far. The secret list grows (and moves) under them; run
 * under ASan, a reader walking a list that realloc() just freed is reported.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "plugin_host.h"
#include "log.h"

#define WRITERS 4
#define READERS 4
#define SECRETS_EACH 400

static void *writer(void *arg)
{
	const struct cairn_host *h = core_host();
	int id = (int)(intptr_t)arg;
	for (int i = 0; i < SECRETS_EACH; i++) {
		char secret[32];
		snprintf(secret, sizeof(secret), "pw-%d-%04d-x", id, i);
		h->redact(h, secret);
	}
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg;
	char out[256];
	for (int i = 0; i < SECRETS_EACH * 2; i++) {
		char line[128];
		snprintf(line, sizeof(line), "connect with pw-%d-%04d-x failed", i % WRITERS,
			 i % SECRETS_EACH);
		core_log_redact(line, out, sizeof(out));
		/* masked or not yet registered: either whole, never torn */
		if (strstr(out, "pw-") == NULL && strstr(out, "connect with **** failed") == NULL)
			return (void *)1;
	}
	return NULL;
}

static void test_redact_while_masking(void **state)
{
	(void)state;
	pthread_t w[WRITERS], r[READERS];
	for (int i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&r[i], NULL, reader, NULL), 0);
	for (int i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&w[i], NULL, writer, (void *)(intptr_t)i), 0);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(w[i], NULL);
	for (int i = 0; i < READERS; i++) {
		void *bad = NULL;
		pthread_join(r[i], &bad);
		assert_null(bad);
	}
	/* afterwards every secret of every writer is known */
	char out[256];
	for (int id = 0; id < WRITERS; id++) {
		char line[64];
		snprintf(line, sizeof(line), "a pw-%d-%04d-x b", id, SECRETS_EACH - 1);
		core_log_redact(line, out, sizeof(out));
		assert_string_equal(out, "a **** b");
	}
	core_log_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact_while_masking),
	};
	return cmocka_run_group_tests_name("host_threads", tests, NULL, NULL);
}
