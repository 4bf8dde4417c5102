/*
 * test_s3_xml — the s3 plugin's reading of S3's XML answers
 * (plugins/s3/s3_xml.c, expat): the documents S3 and RGW send, decoding,
 * and hostile ones (entity expansion, external entities, truncation, depth,
 * size), which must be refused rather than half-read.
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

#include "s3.h"

#define END(s) ((s) + strlen(s))

static const char list_page[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n"
	"  <Name>bkt</Name><Prefix>dir/</Prefix><KeyCount>3</KeyCount>\n"
	"  <IsTruncated>true</IsTruncated>\n"
	"  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>\n"
	"  <Contents>\n"
	"    <Key>dir/a &amp; b &lt;c&gt; &#xFC;&#252;</Key>\n"
	"    <LastModified>2024-09-17T16:33:12.000Z</LastModified>\n"
	"    <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>\n"
	"    <Size>17</Size>\n"
	"    <Owner><ID>test</ID><Key>not the key</Key></Owner>\n"
	"  </Contents>\n"
	"  <Contents><Key><![CDATA[dir/<raw> & ]]>x</Key><Size>0</Size></Contents>\n"
	"  <CommonPrefixes><Prefix>dir/sub/</Prefix></CommonPrefixes>\n"
	"  <Contents><Key> spaced </Key></Contents>\n"
	"</ListBucketResult>\n";

struct seen {
	int n;
	int stop_at;
	char *key[8], *size[8], *mtime[8];
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int collect(void *ud, const char *const *values)
{
	struct seen *s = ud;
	if (s->n < 8) {
		s->key[s->n] = dup_or_null(values[0]);
		s->size[s->n] = dup_or_null(values[1]);
		s->mtime[s->n] = dup_or_null(values[2]);
	}
	s->n++;
	return s->stop_at && s->n == s->stop_at ? 42 : 0;
}

static void seen_free(struct seen *s)
{
	for (int i = 0; i < 8; i++) {
		free(s->key[i]);
		free(s->size[i]);
		free(s->mtime[i]);
	}
}

static const char *const fields[] = {"Key", "Size", "LastModified"};

/* s3_xml_get of doc must give want */
static void expect_text(const char *doc, const char *tag, const char *want)
{
	char *t = s3_xml_get(doc, END(doc), tag);
	if (!t || strcmp(t, want) != 0)
		fail_msg("<%s>: got '%s', want '%s'", tag, t ? t : "(none)", want);
	free(t);
}

static void test_list_page(void **state)
{
	(void)state;
	struct seen s = {0};
	assert_int_equal(s3_xml_each(list_page, END(list_page), "Contents", fields, 3, collect, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.key[0], "dir/a & b <c> \xc3\xbc\xc3\xbc");
	assert_string_equal(s.size[0], "17");
	assert_string_equal(s.mtime[0], "2024-09-17T16:33:12.000Z");
	assert_string_equal(s.key[1], "dir/<raw> & x");
	assert_string_equal(s.size[1], "0");
	assert_null(s.mtime[1]);
	assert_string_equal(s.key[2], " spaced ");
	assert_null(s.size[2]);
	seen_free(&s);

	expect_text(list_page, "IsTruncated", "true");
	expect_text(list_page, "NextContinuationToken", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	/* the first Prefix is the top-level one, not CommonPrefixes' */
	expect_text(list_page, "Prefix", "dir/");
	assert_null(s3_xml_get(list_page, END(list_page), "Marker"));
}

static void test_callback_stops(void **state)
{
	(void)state;
	struct seen s = {.stop_at = 2};
	assert_int_equal(s3_xml_each(list_page, END(list_page), "Contents", fields, 3, collect, &s),
			 42);
	assert_int_equal(s.n, 2);
	seen_free(&s);
}

static void test_error_and_upload(void **state)
{
	(void)state;
	static const char err[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchBucket</Code>"
		"<Message>The specified bucket does not exist</Message>"
		"<BucketName>x</BucketName><RequestId>tx0</RequestId></Error>";
	expect_text(err, "Code", "NoSuchBucket");
	expect_text(err, "Message", "The specified bucket does not exist");
	/* an element with children only: present, its own text empty */
	expect_text(err, "Error", "");

	static const char init[] =
		"<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Bucket>b</Bucket><Key>k</Key><UploadId>2~iCw_lDY8VoNsGAXfFEjA1</UploadId>"
		"</InitiateMultipartUploadResult>";
	expect_text(init, "UploadId", "2~iCw_lDY8VoNsGAXfFEjA1");
	expect_text("<R><UploadId/></R>", "UploadId", "");
	/* the declared encoding is honoured; texts come out as UTF-8 */
	expect_text("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><R><Code>\xfc</Code></R>", "Code",
		    "\xc3\xbc");

	/* markup inside text is text: no <Code> element here */
	static const char cdata[] =
		"<Error><Message><![CDATA[<Code>SlowDown</Code>]]></Message></Error>";
	assert_null(s3_xml_get(cdata, END(cdata), "Code"));
	expect_text(cdata, "Message", "<Code>SlowDown</Code>");
}

static int refused_each(const char *doc, size_t len)
{
	struct seen s = {0};
	int rc = s3_xml_each(doc, doc + len, "Contents", fields, 3, collect, &s);
	seen_free(&s);
	return rc;
}

static void test_hostile(void **state)
{
	(void)state;
	static const char *const bad[] = {
		/* billion laughs */
		"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
		"<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
		"<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
		"<Error><Code>&lol3;</Code></Error>",
		/* an external entity */
		"<?xml version=\"1.0\"?><!DOCTYPE e [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		"<Error><Code>&x;</Code></Error>",
		/* an external DTD */
		"<?xml version=\"1.0\"?><!DOCTYPE Error SYSTEM \"http://127.0.0.1:1/x.dtd\">"
		"<Error><Code>x</Code></Error>",
		/* an undeclared entity */
		"<Error><Code>&x;</Code></Error>",
		/* truncated */
		"<Error><Code>NoSuchKey</Code><Message>cut",
		/* not XML */
		"HTTP/1.1 502 Bad Gateway",
		/* mismatched tags */
		"<Error><Code>x</Message></Error>",
		/* two roots */
		"<Error><Code>x</Code></Error><Error/>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *c = s3_xml_get(bad[i], END(bad[i]), "Code");
		if (c)
			fail_msg("document %zu: got '%s' instead of a refusal", i, c);
		assert_int_equal(refused_each(bad[i], strlen(bad[i])), CAIRN_E_IO);
	}
	assert_null(s3_xml_get("", END(""), "Code"));
	assert_null(s3_xml_get(NULL, NULL, "Code"));

	/* nesting deeper than 64 */
	struct cp_buf d = {0};
	for (int i = 0; i < 100; i++)
		s3_str_adds(&d, "<a>");
	for (int i = 0; i < 100; i++)
		s3_str_adds(&d, "</a>");
	assert_int_equal(refused_each(d.p, d.len), CAIRN_E_IO);
	s3_str_free(&d);

	/* a captured text over 64 KiB (here a key, spread over many chunks) */
	s3_str_adds(&d, "<R><Contents><Key>");
	for (int i = 0; i < 70 * 1024; i++)
		s3_str_adds(&d, i % 2 ? "&amp;" : "k");
	s3_str_adds(&d, "</Key></Contents></R>");
	assert_int_equal(refused_each(d.p, d.len), CAIRN_E_IO);
	s3_str_free(&d);
}

static void test_escape(void **state)
{
	(void)state;
	struct cp_buf s = {0};
	assert_int_equal(s3_xml_escape(&s, "\"a&b<c>\""), 0);
	assert_string_equal(s.p, "\"a&amp;b&lt;c&gt;\"");
	s3_str_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_page),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_error_and_upload),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
