/* test_redact.c — core_log_redact: registered secrets and URI passwords never show. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

static void expect(const char *in, const char *want)
{
	char out[512];
	core_log_redact(in, out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_uri_passwords(void **state)
{
	(void)state;
	expect("postgresql://u:pw@[::1", "postgresql://u:****@[::1");
	expect("in URI: \"postgresql://u:pw@[::1\"", "in URI: \"postgresql://u:****@[::1\"");
	expect("mysql://root:p@ss@host:3306/db", "mysql://root:****@host:3306/db");
	expect("a s3://AK:SK@b/p and minio://x:y@h:9000/b", "a s3://AK:****@b/p and minio://x:****@h:9000/b");
	/* no password: unchanged */
	expect("postgresql://u@h/db", "postgresql://u@h/db");
	expect("file:///srv/a:b@c", "file:///srv/a:b@c");
	expect("http://h:9200/x?a=b@c", "http://h:9200/x?a=b@c");
	expect("no uri: a:b@c", "no uri: a:b@c");
}

static void test_registered(void **state)
{
	(void)state;
	assert_int_equal(core_log_redact_uri("postgresql://u:p%40ssw0rd@h/db"), 1);
	assert_int_equal(core_log_redact_uri("postgresql://u@h/db"), 0);
	assert_int_equal(core_log_redact_uri("not a uri"), 0);
	/* both spellings, wherever they show */
	expect("libpq: password p@ssw0rd refused", "libpq: password **** refused");
	expect("raw p%40ssw0rd", "raw ****");
	core_log_redact_add("s3cr3t-key");
	expect("key=s3cr3t-key;", "key=****;");
	core_log_free();
	expect("key=s3cr3t-key;", "key=s3cr3t-key;");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri_passwords),
		cmocka_unit_test(test_registered),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
