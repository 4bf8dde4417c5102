/*
 * codec.c — see codec.h.
 *
 * Why a lexer of our own. A restore must give back every document exactly,
 * so the library would have to keep number text and every string's bytes,
 * refuse what it cannot represent, and tell a container's element count
 * before its elements (msgpack writes the count first):
 *  - jansson and json-c turn numbers into int64/double: they clamp or
 *    normalise `-0`, `1.10` and big integers.
 *  - yajl (libyajl2 in Debian) does hand number text through its number
 *    callback and keeps "\u0000", but it decodes an unpaired surrogate
 *    escape to "?" (and a high surrogate before a non-surrogate escape to a
 *    wrong code point) instead of refusing it, so a document would change
 *    silently; and as a push parser it gives no counts, so it would have to
 *    run twice or build a tree in memory anyway.
 * The state machine below does both passes in bounded memory. jansson stays
 * for what it does well — the small documents of --output json and the
 * test tools — and never touches a backed-up value: two JSON stacks, each
 * for its own job.
 *
 * Parsing makes two passes over the text with the same iterative state
 * machine. The first validates everything and counts the elements of every
 * container (msgpack puts the count before the elements); the second packs,
 * using those counts. So invalid input never leaves a partial value in the
 * packer, and the explicit stack, not recursion, bounds the depth.
 */
#define _POSIX_C_SOURCE 200809L /* newlocale, uselocale */

#include "codec.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/status.h"
#include "error.h"

/* Longest "%.17g" of a finite double: "-1.2345678901234567e-308". Longer
 * number text can never be a rule-2 float, so it skips strtod. */
#define DOUBLE_TEXT_MAX 24

/* ---- shared helpers -------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s[0..n) (n >= 1), or 0 if invalid
 * (overlong, surrogate, above U+10FFFF, truncated, stray continuation). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t need;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		need = 2;
	else if (c == 0xE0)
		need = 3, lo = 0xA0;
	else if (c == 0xED)
		need = 3, hi = 0x9F;
	else if (c >= 0xE1 && c <= 0xEF)
		need = 3;
	else if (c == 0xF0)
		need = 4, lo = 0x90;
	else if (c == 0xF4)
		need = 4, hi = 0x8F;
	else if (c >= 0xF1 && c <= 0xF3)
		need = 4;
	else
		return 0;
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return need;
}

int core_text_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		if (u[i] == 0)
			return 0;
		size_t k = utf8_len(u + i, n - i);
		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Length of the RFC 8259 number starting at s[0..n), or 0 with the offset of
 * the offending byte in *bad and the reason in *why. */
static size_t number_scan(const char *s, size_t n, size_t *bad, const char **why)
{
	size_t i = 0;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n || !is_digit(s[i])) {
		*bad = i, *why = "expected digit";
		return 0;
	}
	if (s[i] == '0') {
		i++;
		if (i < n && is_digit(s[i])) {
			*bad = i, *why = "leading zero in number";
			return 0;
		}
	} else {
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || !is_digit(s[i])) {
			*bad = i, *why = "expected digit after '.'";
			return 0;
		}
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || !is_digit(s[i])) {
			*bad = i, *why = "expected digit in exponent";
			return 0;
		}
		while (i < n && is_digit(s[i]))
			i++;
	}
	return i;
}

/* Shortest "%.{p}g" of finite d that strtod reads back as d; returns its
 * length. -0.0 prints "-0", and the sign survives the == test because the
 * printed text carries it. */
static size_t shortest_double(double d, char out[32])
{
	int k = 0;

	for (int p = 1; p <= 17; p++) {
		k = snprintf(out, 32, "%.*g", p, d);
		if (strtod(out, NULL) == d)
			break;
	}
	return k > 0 ? (size_t)k : 0;
}

/*
 * strtod and printf follow LC_NUMERIC; a process that called setlocale()
 * might use ',' as decimal point, which would turn floats into ext numbers on
 * the way in and into invalid JSON on the way out. Switch this thread to a
 * "C" numeric locale for the duration of a call. If newlocale fails we go on
 * in the current locale: input stays lossless (mismatches become ext), and
 * output is still checked against the number grammar.
 */
static locale_t numeric_enter(void)
{
	static locale_t c_numeric = (locale_t)0;

	if (c_numeric == (locale_t)0)
		c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (c_numeric == (locale_t)0)
		return (locale_t)0;
	return uselocale(c_numeric);
}

static void numeric_leave(locale_t old)
{
	if (old != (locale_t)0)
		uselocale(old);
}

/* ---- JSON -> msgpack ------------------------------------------------- */

struct parser {
	const char *s;
	size_t len;
	size_t pos;
	bool emit;             /* false: validate and count; true: pack */
	msgpack_packer *pk;
	uint32_t *counts;      /* element count per container, in pre-order */
	size_t ncounts, capcounts;
	size_t next;           /* emit pass: next container's index in counts */
	struct core_buf scratch;
	const char *str;       /* emit pass: the last string's decoded text */
	size_t str_len;
};

struct frame {
	char kind;  /* '[' or '{' */
	size_t idx; /* into parser.counts */
};

static int fail(size_t at, const char *why)
{
	return core_error_set(CAIRN_E_INVALID, "invalid JSON at byte %zu: %s", at, why);
}

static int nomem(void)
{
	return core_error_set(CAIRN_E_NOMEM, "out of memory converting JSON to msgpack");
}

static int pack_failed(void)
{
	return core_error_set(CAIRN_E_NOMEM, "unable to write msgpack output");
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len) {
		char c = p->s[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static int scratch_put(struct parser *p, const void *data, size_t n)
{
	if (!p->emit || n == 0)
		return CAIRN_OK;
	return core_buf_append(&p->scratch, data, n) ? nomem() : CAIRN_OK;
}

/* Value of the 4 hex digits at s[i..i+4), or -1. */
static long hex4(const struct parser *p, size_t i)
{
	long v = 0;

	if (i > p->len || p->len - i < 4)
		return -1;
	for (size_t k = 0; k < 4; k++) {
		char c = p->s[i + k];
		int d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static int put_codepoint(struct parser *p, unsigned long cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp, n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xC0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xE0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xF0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return scratch_put(p, u, n);
}

/* Escape at s[*i] == '\\'; decodes it and advances *i past it. */
static int parse_escape(struct parser *p, size_t *i)
{
	size_t at = *i;
	char out;

	if (p->len - at < 2)
		return fail(p->len, "unterminated string");
	switch (p->s[at + 1]) {
	case '"': out = '"'; break;
	case '\\': out = '\\'; break;
	case '/': out = '/'; break;
	case 'b': out = '\b'; break;
	case 'f': out = '\f'; break;
	case 'n': out = '\n'; break;
	case 'r': out = '\r'; break;
	case 't': out = '\t'; break;
	case 'u': {
		long cp = hex4(p, at + 2);
		if (cp < 0)
			return fail(at, "invalid \\u escape");
		*i = at + 6;
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			return fail(at, "unpaired surrogate");
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			long lo = -1;
			if (p->len - *i >= 2 && p->s[*i] == '\\' && p->s[*i + 1] == 'u')
				lo = hex4(p, *i + 2);
			if (lo < 0xDC00 || lo > 0xDFFF)
				return fail(at, "unpaired surrogate");
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			*i += 6;
		}
		return put_codepoint(p, (unsigned long)cp);
	}
	default:
		return fail(at, "invalid escape");
	}
	*i = at + 2;
	return scratch_put(p, &out, 1);
}

/*
 * Bytes a string may hold as they are: printable ASCII but '"' and '\\'.
 * Strings are most of a Kestra document's bytes, and the profile of a
 * backup had this loop at 18 % of the client (bench/RESULTS.md): a table
 * lookup per byte instead of three comparisons and a UTF-8 call.
 */
static const unsigned char plain_byte[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x10 */
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  /* 0x20 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  /* 0x30 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  /* 0x40 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,  /* 0x50 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  /* 0x60 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  /* 0x70 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x80 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x90 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xA0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xB0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xC0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xD0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xE0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xF0 */
};

/*
 * Nonzero when one of the 8 bytes of w may not be plain: '"', '\\', below
 * 0x20 or above 0x7F. The usual "has a zero byte" bit trick, for three
 * values at once; a false alarm (a borrow past a real match) only sends the
 * caller to the byte loop, which decides.
 */
static inline uint64_t maybe_special8(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
	return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | w) & highs;
}

/*
 * String at s[pos] == '"'. Afterwards p->str/p->str_len is its decoded text:
 * a span of the input itself when it has no escape (nothing is copied), else
 * p->scratch. The first pass validates; the emit pass runs on input the
 * first one accepted, so it only looks for the closing quote and escapes.
 */
static int parse_string(struct parser *p)
{
	const unsigned char *s = (const unsigned char *)p->s;
	size_t start = p->pos + 1, i = start, run = start;
	int escaped = 0, rc;

	for (;;) {
		for (uint64_t w; p->len - i >= 8; i += 8) {
			memcpy(&w, s + i, 8); /* unaligned, and no aliasing rule broken */
			if (maybe_special8(w))
				break;
		}
		while (i < p->len && plain_byte[s[i]])
			i++;
		if (i >= p->len)
			return fail(p->len, "unterminated string");
		unsigned char c = s[i];
		if (c == '"')
			break;
		if (c == '\\') {
			if (p->emit && !escaped) {
				core_buf_reset(&p->scratch);
				escaped = 1;
			}
			if ((rc = scratch_put(p, s + run, i - run)))
				return rc;
			if ((rc = parse_escape(p, &i)))
				return rc;
			run = i;
			continue;
		}
		if (p->emit) { /* validated: a control byte cannot be here */
			i++;
			continue;
		}
		if (c < 0x20)
			return fail(i, "control character in string");
		size_t k = utf8_len(s + i, p->len - i);
		if (k == 0)
			return fail(i, "invalid UTF-8");
		i += k;
	}
	/* Decoded text is never longer than its source, so this bounds both. */
	if (i - start > UINT32_MAX)
		return fail(p->pos, "string longer than 4 GiB");
	p->pos = i + 1;
	if (!p->emit)
		return CAIRN_OK;
	if (!escaped) {
		p->str = p->s + start;
		p->str_len = i - start;
		return CAIRN_OK;
	}
	if ((rc = scratch_put(p, s + run, i - run)))
		return rc;
	p->str = p->scratch.data;
	p->str_len = p->scratch.len;
	return CAIRN_OK;
}

static int pack_scratch_str(struct parser *p)
{
	if (msgpack_pack_str(p->pk, p->str_len))
		return pack_failed();
	if (p->str_len && msgpack_pack_str_body(p->pk, p->str, p->str_len))
		return pack_failed();
	return CAIRN_OK;
}

/* Rule 1 of codec.h: canonical integer text that fits int64/uint64. */
static int try_pack_int(struct parser *p, const char *t, size_t n, bool *done)
{
	bool neg = t[0] == '-';
	uint64_t mag = 0;
	char canon[24];

	if (n > 20)
		return CAIRN_OK;
	for (size_t i = neg; i < n; i++) {
		if (!is_digit(t[i]))
			return CAIRN_OK;
		unsigned d = (unsigned)(t[i] - '0');
		if (mag > (UINT64_MAX - d) / 10)
			return CAIRN_OK;
		mag = mag * 10 + d;
	}
	if (!neg) {
		snprintf(canon, sizeof(canon), "%" PRIu64, mag);
		if (strlen(canon) != n || memcmp(canon, t, n) != 0)
			return CAIRN_OK;
		*done = true;
		return msgpack_pack_uint64(p->pk, mag) ? pack_failed() : CAIRN_OK;
	}
	if (mag > (uint64_t)INT64_MAX + 1)
		return CAIRN_OK;
	int64_t v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	snprintf(canon, sizeof(canon), "%" PRId64, v);
	if (strlen(canon) != n || memcmp(canon, t, n) != 0)
		return CAIRN_OK; /* "-0" */
	*done = true;
	return msgpack_pack_int64(p->pk, v) ? pack_failed() : CAIRN_OK;
}

/* Rule 2: a float64 whose shortest printing is exactly the text. */
static int try_pack_double(struct parser *p, const char *t, size_t n, bool *done)
{
	char in[DOUBLE_TEXT_MAX + 1], out[32];
	char *end;

	if (n > DOUBLE_TEXT_MAX)
		return CAIRN_OK;
	memcpy(in, t, n);
	in[n] = '\0';
	double d = strtod(in, &end);
	if (end != in + n || !isfinite(d))
		return CAIRN_OK;
	if (shortest_double(d, out) != n || memcmp(out, t, n) != 0)
		return CAIRN_OK;
	*done = true;
	return msgpack_pack_double(p->pk, d) ? pack_failed() : CAIRN_OK;
}

static int pack_number(struct parser *p, const char *t, size_t n)
{
	bool done = false;
	int rc;

	if ((rc = try_pack_int(p, t, n, &done)) || done)
		return rc;
	if ((rc = try_pack_double(p, t, n, &done)) || done)
		return rc;
	if (msgpack_pack_ext(p->pk, n, CORE_JSON_EXT_NUMBER) ||
	    msgpack_pack_ext_body(p->pk, t, n))
		return pack_failed();
	return CAIRN_OK;
}

static int parse_number(struct parser *p)
{
	const char *why = "";
	size_t bad = 0;
	size_t n = number_scan(p->s + p->pos, p->len - p->pos, &bad, &why);

	if (n == 0)
		return fail(p->pos + bad, why);
	if (n > UINT32_MAX)
		return fail(p->pos, "number longer than 4 GiB");
	if (p->emit) {
		int rc = pack_number(p, p->s + p->pos, n);
		if (rc)
			return rc;
	}
	p->pos += n;
	return CAIRN_OK;
}

static int parse_literal(struct parser *p)
{
	static const char *const words[] = {"null", "true", "false"};

	for (int w = 0; w < 3; w++) {
		size_t n = strlen(words[w]);
		if (p->len - p->pos < n || memcmp(p->s + p->pos, words[w], n) != 0)
			continue;
		p->pos += n;
		if (!p->emit)
			return CAIRN_OK;
		int r = w == 0 ? msgpack_pack_nil(p->pk)
		      : w == 1 ? msgpack_pack_true(p->pk) : msgpack_pack_false(p->pk);
		return r ? pack_failed() : CAIRN_OK;
	}
	return fail(p->pos, "expected value");
}

static int open_container(struct parser *p, char kind, size_t *idx)
{
	if (p->emit) {
		uint32_t n = p->counts[p->next];
		*idx = p->next++;
		int r = kind == '[' ? msgpack_pack_array(p->pk, n) : msgpack_pack_map(p->pk, n);
		return r ? pack_failed() : CAIRN_OK;
	}
	if (p->ncounts == p->capcounts) {
		size_t cap = p->capcounts ? p->capcounts * 2 : 64;
		uint32_t *c = realloc(p->counts, cap * sizeof(*c));
		if (!c)
			return nomem();
		p->counts = c;
		p->capcounts = cap;
	}
	p->counts[p->ncounts] = 0;
	*idx = p->ncounts++;
	return CAIRN_OK;
}

/* An element (array value or object member) starts in frame f. */
static int count_element(struct parser *p, const struct frame *f)
{
	if (p->emit)
		return CAIRN_OK;
	if (p->counts[f->idx] == UINT32_MAX)
		return fail(p->pos, "more than 4294967295 elements in one container");
	p->counts[f->idx]++;
	return CAIRN_OK;
}

/* Object member: key string, ':' and the whitespace before the value. */
static int parse_key(struct parser *p)
{
	int rc;

	if (p->pos >= p->len)
		return fail(p->len, "unexpected end of input");
	if (p->s[p->pos] != '"')
		return fail(p->pos, "expected string key");
	if ((rc = parse_string(p)))
		return rc;
	if (p->emit && (rc = pack_scratch_str(p)))
		return rc;
	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p->len, "unexpected end of input");
	if (p->s[p->pos] != ':')
		return fail(p->pos, "expected ':'");
	p->pos++;
	skip_ws(p);
	return CAIRN_OK;
}

static int parse_pass(struct parser *p)
{
	struct frame st[CORE_JSON_MAX_DEPTH];
	size_t depth = 0;
	int rc;

	p->pos = 0;
	p->next = 0;
	skip_ws(p);
	for (;;) {
		/* p->pos is where a value must start. */
		if (p->pos >= p->len)
			return fail(p->len, "unexpected end of input");
		char c = p->s[p->pos];
		if (c == '[' || c == '{') {
			if (depth == CORE_JSON_MAX_DEPTH)
				return core_error_set(CAIRN_E_INVALID, "JSON nested deeper than %d levels",
						      CORE_JSON_MAX_DEPTH);
			struct frame *f = &st[depth++];
			f->kind = c;
			if ((rc = open_container(p, c, &f->idx)))
				return rc;
			p->pos++;
			skip_ws(p);
			if (p->pos < p->len && p->s[p->pos] == (c == '[' ? ']' : '}')) {
				p->pos++;
				depth--;
			} else {
				if ((rc = count_element(p, f)))
					return rc;
				if (c == '{' && (rc = parse_key(p)))
					return rc;
				continue;
			}
		} else if (c == '"') {
			if ((rc = parse_string(p)))
				return rc;
			if (p->emit && (rc = pack_scratch_str(p)))
				return rc;
		} else if (c == '-' || is_digit(c)) {
			if ((rc = parse_number(p)))
				return rc;
		} else if ((rc = parse_literal(p))) {
			return rc;
		}

		/* A value ended: close finished containers, then find the next value. */
		for (;;) {
			skip_ws(p);
			if (depth == 0) {
				if (p->pos != p->len)
					return fail(p->pos, "unexpected data after the value");
				return CAIRN_OK;
			}
			struct frame *f = &st[depth - 1];
			if (p->pos >= p->len)
				return fail(p->len, "unexpected end of input");
			char d = p->s[p->pos];
			if (d == (f->kind == '[' ? ']' : '}')) {
				p->pos++;
				depth--;
				continue;
			}
			if (d != ',')
				return fail(p->pos, f->kind == '[' ? "expected ',' or ']'"
								     : "expected ',' or '}'");
			p->pos++;
			skip_ws(p);
			if ((rc = count_element(p, f)))
				return rc;
			if (f->kind == '{' && (rc = parse_key(p)))
				return rc;
			break;
		}
	}
}

int core_json_to_msgpack(const char *json, size_t len, msgpack_packer *pk)
{
	struct parser p = {.s = json, .len = json ? len : 0, .pk = pk,
			   .scratch = CORE_BUF_INIT};
	locale_t old = numeric_enter();

	int rc = parse_pass(&p);
	if (rc == CAIRN_OK) {
		p.emit = true;
		rc = parse_pass(&p);
	}
	numeric_leave(old);
	free(p.counts);
	core_buf_free(&p.scratch);
	return rc;
}

/* ---- msgpack -> JSON ------------------------------------------------- */

static int corrupt(const char *why)
{
	return core_error_set(CAIRN_E_CORRUPT, "msgpack value has no JSON form: %s", why);
}

static int out_nomem(void)
{
	return core_error_set(CAIRN_E_NOMEM, "out of memory converting msgpack to JSON");
}

static int put(struct core_buf *out, const void *data, size_t n)
{
	return core_buf_append(out, data, n) ? out_nomem() : CAIRN_OK;
}

static int write_string(struct core_buf *out, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;
	int rc;

	if ((rc = put(out, "\"", 1)))
		return rc;
	if (n == 0)
		return put(out, "\"", 1);
	while (i < n) {
		unsigned char c = s[i];
		char esc[7];
		size_t elen = 2;

		if (c >= 0x80) {
			size_t k = utf8_len(s + i, n - i);
			if (k == 0)
				return corrupt("invalid UTF-8 in string");
			i += k;
			continue;
		}
		if (c >= 0x20 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xF];
			elen = 6;
		}
		if ((rc = put(out, s + run, i - run)) || (rc = put(out, esc, elen)))
			return rc;
		run = ++i;
	}
	if ((rc = put(out, s + run, n - run)))
		return rc;
	return put(out, "\"", 1);
}

static int write_number_text(struct core_buf *out, const char *t, size_t n)
{
	const char *why = "";
	size_t bad = 0;

	if (n == 0 || number_scan(t, n, &bad, &why) != n)
		return corrupt("number text is not a JSON number");
	return put(out, t, n);
}

static int write_value(const msgpack_object *o, struct core_buf *out, unsigned depth)
{
	char tmp[32];
	int rc;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return put(out, "null", 4);
	case MSGPACK_OBJECT_BOOLEAN:
		return o->via.boolean ? put(out, "true", 4) : put(out, "false", 5);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		snprintf(tmp, sizeof(tmp), "%" PRIu64, o->via.u64);
		return put(out, tmp, strlen(tmp));
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		snprintf(tmp, sizeof(tmp), "%" PRId64, o->via.i64);
		return put(out, tmp, strlen(tmp));
	case MSGPACK_OBJECT_FLOAT64:
		if (!isfinite(o->via.f64))
			return corrupt("float is not finite");
		return write_number_text(out, tmp, shortest_double(o->via.f64, tmp));
	case MSGPACK_OBJECT_FLOAT32:
		return corrupt("float32 is never produced from JSON");
	case MSGPACK_OBJECT_STR:
		return write_string(out, o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		return corrupt("bin is never produced from JSON");
	case MSGPACK_OBJECT_EXT:
		if (o->via.ext.type != CORE_JSON_EXT_NUMBER)
			return core_error_set(CAIRN_E_CORRUPT,
					      "msgpack value has no JSON form: unknown ext type %d",
					      (int)o->via.ext.type);
		return write_number_text(out, o->via.ext.ptr, o->via.ext.size);
	case MSGPACK_OBJECT_ARRAY:
		if (depth >= CORE_JSON_MAX_DEPTH)
			return corrupt("nested deeper than 512 levels");
		if ((rc = put(out, "[", 1)))
			return rc;
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (i && (rc = put(out, ",", 1)))
				return rc;
			if ((rc = write_value(&o->via.array.ptr[i], out, depth + 1)))
				return rc;
		}
		return put(out, "]", 1);
	case MSGPACK_OBJECT_MAP:
		if (depth >= CORE_JSON_MAX_DEPTH)
			return corrupt("nested deeper than 512 levels");
		if ((rc = put(out, "{", 1)))
			return rc;
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			if (i && (rc = put(out, ",", 1)))
				return rc;
			if (kv->key.type != MSGPACK_OBJECT_STR)
				return corrupt("map key is not a string");
			if ((rc = write_string(out, kv->key.via.str.ptr, kv->key.via.str.size)) ||
			    (rc = put(out, ":", 1)) ||
			    (rc = write_value(&kv->val, out, depth + 1)))
				return rc;
		}
		return put(out, "}", 1);
	}
	return core_error_set(CAIRN_E_CORRUPT, "msgpack value has no JSON form: unknown type %d",
			      (int)o->type);
}

int core_msgpack_to_json(const msgpack_object *obj, struct core_buf *out)
{
	size_t start = out->len;
	locale_t old = numeric_enter();

	int rc = write_value(obj, out, 0);
	numeric_leave(old);
	if (rc != CAIRN_OK) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return rc;
}
