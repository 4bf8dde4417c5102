/*
 * s3_xml.c — S3's XML answers (ListObjectsV2, InitiateMultipartUpload,
 * CompleteMultipartUpload, <Error>) read with expat, behind two calls:
 * the text of the first element of a name, and the chosen children of
 * every element of a name.
 *
 * Why it is written the way it is:
 *  - A real parser, not a tag search: keys may hold anything XML can carry
 *    (entities, character references, CDATA), a tag search also matches
 *    inside other elements' text, and a truncated or malformed answer must
 *    be an error rather than whatever a search happens to find.
 *  - Expat streams: nothing but the text being captured is kept, so a list
 *    page costs no more memory than its body, and records are handed to the
 *    caller while the page is parsed.
 *  - The answer comes from a server we talk to, not one we trust: a
 *    document with a DOCTYPE is refused before its internal subset is read
 *    (S3 never sends one), so no entity can be declared, expanded or fetched
 *    from outside; expat ≥ 2.4 would also stop a billion-laughs expansion on
 *    its own, and without an external-entity handler it never opens
 *    anything. Sizes are bounded: the document (callers cap bodies as
 *    well), the nesting depth and every captured text.
 *  - No namespace processing: S3 puts everything in one default namespace,
 *    so local names are enough and a prefix trick cannot hide an element.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "s3.h"

#if XML_MAJOR_VERSION < 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION < 4)
#error "expat 2.4 or newer is needed"
#endif

#define S3_XML_MAX_BYTES (64u << 20) /* well above the 16 MiB cap of a list page */
#define S3_XML_MAX_DEPTH 64
#define S3_XML_MAX_TEXT (64u << 10)  /* keys are at most 1024 bytes, tokens smaller */

struct run {
	XML_Parser p;
	int depth;
	int rc; /* first failure: CAIRN_E_IO (refused, too large), CAIRN_E_NOMEM, or cb's */

	/* s3_xml_get */
	const char *tag;
	int found;

	/* s3_xml_each */
	const char *record;
	const char *const *fields;
	size_t n_fields;
	s3_xml_record_cb cb;
	void *ud;
	int in_record; /* depth of the open record, 0 when none */
	char **values;

	/* the element whose text is being captured */
	int capture_depth; /* 0 when none */
	size_t capture_field;
	struct cp_buf text;
};

static void stop(struct run *r, int rc)
{
	if (!r->rc)
		r->rc = rc;
	XML_StopParser(r->p, XML_FALSE);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	stop(ud, CAIRN_E_IO);
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
				   const XML_Char *value, int value_len, const XML_Char *base,
				   const XML_Char *sysid, const XML_Char *pubid,
				   const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	stop(ud, CAIRN_E_IO);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct run *r = ud;
	/* expat may still deliver the rest of a text run after a stop */
	if (r->rc || !r->capture_depth || r->depth != r->capture_depth || len <= 0)
		return;
	if (r->text.len + (size_t)len > S3_XML_MAX_TEXT)
		stop(r, CAIRN_E_IO);
	else if (s3_str_add(&r->text, s, (size_t)len))
		stop(r, CAIRN_E_NOMEM);
}

/* the captured text as a string of its own ("" for an empty element) */
static char *take_text(struct run *r)
{
	char *t = r->text.p ? r->text.p : strdup("");
	r->text = (struct cp_buf){0};
	r->capture_depth = 0;
	if (!t)
		stop(r, CAIRN_E_NOMEM);
	return t;
}

static int enter(struct run *r)
{
	if (++r->depth > S3_XML_MAX_DEPTH) {
		stop(r, CAIRN_E_IO);
		return 0;
	}
	return 1;
}

static void XMLCALL get_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct run *r = ud;
	(void)attrs;
	if (enter(r) && !r->found && !r->capture_depth && strcmp(name, r->tag) == 0)
		r->capture_depth = r->depth;
}

static void XMLCALL get_end(void *ud, const XML_Char *name)
{
	struct run *r = ud;
	(void)name;
	if (r->capture_depth == r->depth) {
		r->found = 1; /* the text stays in r->text; the rest is only checked */
		r->capture_depth = 0;
	}
	r->depth--;
}

static void XMLCALL each_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct run *r = ud;
	(void)attrs;
	if (!enter(r))
		return;
	if (!r->in_record) {
		if (strcmp(name, r->record) == 0)
			r->in_record = r->depth;
		return;
	}
	if (r->depth != r->in_record + 1)
		return;
	for (size_t i = 0; i < r->n_fields; i++) {
		if (strcmp(name, r->fields[i]) == 0 && !r->values[i]) {
			r->capture_depth = r->depth;
			r->capture_field = i;
			break;
		}
	}
}

static void clear_values(struct run *r)
{
	for (size_t i = 0; i < r->n_fields; i++) {
		free(r->values[i]);
		r->values[i] = NULL;
	}
}

static void XMLCALL each_end(void *ud, const XML_Char *name)
{
	struct run *r = ud;
	(void)name;
	if (r->capture_depth && r->capture_depth == r->depth) {
		r->values[r->capture_field] = take_text(r);
	} else if (r->in_record && r->in_record == r->depth && !r->rc) {
		r->in_record = 0;
		int rc = r->cb(r->ud, (const char *const *)r->values);
		clear_values(r);
		if (rc)
			stop(r, rc);
	}
	r->depth--;
}

/* one parse of [xml, end) with the handlers already chosen; CAIRN_OK or why not */
static int run_parse(struct run *r, const char *xml, const char *end, XML_StartElementHandler start,
		     XML_EndElementHandler finish)
{
	size_t len = xml && end > xml ? (size_t)(end - xml) : 0;
	if (len == 0 || len > S3_XML_MAX_BYTES)
		return CAIRN_E_IO;
	r->p = XML_ParserCreate(NULL); /* the declared encoding, UTF-8 if none */
	if (!r->p)
		return CAIRN_E_NOMEM;
	XML_SetUserData(r->p, r);
	XML_SetElementHandler(r->p, start, finish);
	XML_SetCharacterDataHandler(r->p, on_text);
	XML_SetStartDoctypeDeclHandler(r->p, on_doctype);
	XML_SetEntityDeclHandler(r->p, on_entity_decl);
	XML_SetParamEntityParsing(r->p, XML_PARAM_ENTITY_PARSING_NEVER);
	enum XML_Status st = XML_Parse(r->p, xml, (int)len, XML_TRUE);
	if (st != XML_STATUS_OK && !r->rc)
		r->rc = XML_GetErrorCode(r->p) == XML_ERROR_NO_MEMORY ? CAIRN_E_NOMEM : CAIRN_E_IO;
	XML_ParserFree(r->p);
	r->p = NULL;
	return r->rc;
}

char *s3_xml_get(const char *xml, const char *end, const char *tag)
{
	struct run r = {.tag = tag};
	int rc = run_parse(&r, xml, end, get_start, get_end);
	char *t = NULL;
	if (!rc && r.found) {
		t = r.text.p ? r.text.p : strdup("");
		r.text = (struct cp_buf){0};
	}
	s3_str_free(&r.text);
	return t;
}

int s3_xml_each(const char *xml, const char *end, const char *record, const char *const *fields,
		size_t n_fields, s3_xml_record_cb cb, void *ud)
{
	struct run r = {.record = record, .fields = fields, .n_fields = n_fields, .cb = cb, .ud = ud};
	r.values = calloc(n_fields ? n_fields : 1, sizeof(*r.values));
	if (!r.values)
		return CAIRN_E_NOMEM;
	int rc = run_parse(&r, xml, end, each_start, each_end);
	clear_values(&r);
	free(r.values);
	s3_str_free(&r.text);
	return rc;
}

int s3_xml_escape(struct cp_buf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			s3_str_adds(out, "&amp;");
			break;
		case '<':
			s3_str_adds(out, "&lt;");
			break;
		case '>':
			s3_str_adds(out, "&gt;");
			break;
		default:
			s3_str_add(out, s, 1);
		}
	}
	return out->oom ? CAIRN_E_NOMEM : CAIRN_OK;
}
