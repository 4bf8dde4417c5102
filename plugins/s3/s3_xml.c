/*
 * s3_xml.c — just enough XML for S3's answers (ListObjectsV2, multipart,
 * <Error>): find an element by tag name, decode the five predefined entities
 * and numeric references. S3 answers are machine-written, unnested where we
 * look, and without CDATA, so a tag extractor is enough and no XML library
 * (nor its attack surface) is needed. Inputs are bounded by the caller.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "s3.h"

static const char *find_mem(const char *p, const char *end, const char *needle, size_t n)
{
	while (p && (size_t)(end - p) >= n) {
		const char *hit = memchr(p, needle[0], (size_t)(end - p) - n + 1);
		if (!hit)
			return NULL;
		if (memcmp(hit, needle, n) == 0)
			return hit;
		p = hit + 1;
	}
	return NULL;
}

const char *s3_xml_find(const char *xml, const char *end, const char *tag, const char **inner,
			size_t *inner_len)
{
	size_t tl = strlen(tag);
	if (!xml || tl > 200)
		return NULL;
	char open[256], close[256];
	open[0] = '<';
	memcpy(open + 1, tag, tl);
	close[0] = '<';
	close[1] = '/';
	memcpy(close + 2, tag, tl);
	close[tl + 2] = '>';
	const char *p = xml;
	for (;;) {
		const char *o = find_mem(p, end, open, tl + 1);
		if (!o)
			return NULL;
		const char *after = o + tl + 1;
		if (after >= end)
			return NULL;
		/* "<Key>" or "<Key attr…>", not "<KeyMarker>"; "<Key/>" is empty */
		if (*after == '/' && after + 1 < end && after[1] == '>') {
			*inner = after + 2;
			*inner_len = 0;
			return after + 2;
		}
		if (*after != '>' && *after != ' ') {
			p = after;
			continue;
		}
		const char *gt = memchr(after, '>', (size_t)(end - after));
		if (!gt)
			return NULL;
		const char *c = find_mem(gt + 1, end, close, tl + 3);
		if (!c)
			return NULL;
		*inner = gt + 1;
		*inner_len = (size_t)(c - (gt + 1));
		return c + tl + 3;
	}
}

static int put_utf8(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

char *s3_xml_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1); /* decoding never grows: "&#x10FFFF;" is 10 bytes for 4 */
	if (!out)
		return NULL;
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		if (s[i] != '&') {
			out[n++] = s[i++];
			continue;
		}
		int done = 0;
		for (size_t e = 0; e < sizeof(ents) / sizeof(ents[0]) && !done; e++) {
			size_t el = strlen(ents[e].ent);
			if (len - i >= el && memcmp(s + i, ents[e].ent, el) == 0) {
				out[n++] = ents[e].c;
				i += el;
				done = 1;
			}
		}
		if (!done && len - i > 3 && s[i + 1] == '#') {
			size_t j = i + 2;
			int hex = 0;
			if (s[j] == 'x' || s[j] == 'X') {
				hex = 1;
				j++;
			}
			unsigned long cp = 0;
			size_t digits = 0;
			for (; j < len && digits < 8; j++, digits++) {
				char c = s[j];
				int v = c >= '0' && c <= '9' ? c - '0'
					: hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
					: hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
								       : -1;
				if (v < 0)
					break;
				cp = cp * (hex ? 16 : 10) + (unsigned long)v;
			}
			if (digits > 0 && j < len && s[j] == ';' && cp > 0 && cp <= 0x10FFFF &&
			    (j + 1 - i) >= 4) {
				n += (size_t)put_utf8(out + n, cp);
				i = j + 1;
				done = 1;
			}
		}
		if (!done)
			out[n++] = s[i++];
	}
	out[n] = '\0';
	return out;
}

char *s3_xml_get(const char *xml, const char *end, const char *tag)
{
	const char *inner;
	size_t len;
	if (!s3_xml_find(xml, end, tag, &inner, &len))
		return NULL;
	return s3_xml_decode(inner, len);
}
