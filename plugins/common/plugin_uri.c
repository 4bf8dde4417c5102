/* plugin_uri.c — see plugin_uri.h. */
#include <stdlib.h>
#include <string.h>

#include "plugin_uri.h"
#include "plugin_util.h"

char *cp_pct_decode(const char *s, size_t n, unsigned flags, int *bad)
{
	char *d = malloc(n + 1);
	size_t o = 0;

	if (bad != NULL)
		*bad = 0;
	if (d == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int hi = -1, lo = -1;
		if (s[i] == '%' && i + 2 < n) {
			hi = cp_hexval((unsigned char)s[i + 1]);
			lo = cp_hexval((unsigned char)s[i + 2]);
		}
		if (s[i] != '%' || ((hi < 0 || lo < 0) && !(flags & CP_URI_STRICT))) {
			d[o++] = s[i];
			continue;
		}
		/* a NUL would cut the decoded string short without anyone noticing */
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(d);
			*bad = 1;
			return NULL;
		}
		d[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	d[o] = '\0';
	return d;
}

void cp_uri_free(struct cp_uri *u)
{
	free(u->scheme);
	free(u->authority);
	free(u->user);
	if (u->password != NULL) {
		memset(u->password, 0, strlen(u->password));
		free(u->password);
	}
	free(u->host);
	free(u->path);
	free(u->query);
	memset(u, 0, sizeof *u);
}

/* Decodes s[0..n) into *out; 0, or -1 with *why set. */
static int decode_part(const char *s, size_t n, unsigned flags, char **out, const char **why)
{
	int bad = 0;

	*out = cp_pct_decode(s, n, flags, &bad);
	if (*out != NULL)
		return 0;
	*why = bad ? "invalid percent-escape" : "out of memory";
	return -1;
}

/* Splits the authority a[0..n): user info, host, port. */
static int parse_authority(const char *a, size_t n, unsigned flags, struct cp_uri *u,
			   const char **why)
{
	const char *end = a + n, *at = NULL, *p = a;

	for (const char *s = a; s < end; s++)
		if (*s == '@')
			at = s;
	if (at != NULL) {
		const char *colon = memchr(a, ':', (size_t)(at - a));
		if (decode_part(a, (size_t)((colon ? colon : at) - a), flags, &u->user, why) != 0)
			return -1;
		if (colon != NULL &&
		    decode_part(colon + 1, (size_t)(at - colon - 1), flags, &u->password, why) != 0)
			return -1;
		p = at + 1;
	}
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (rb == NULL) {
			*why = "unterminated '[' in the host";
			return -1;
		}
		if (decode_part(p + 1, (size_t)(rb - p - 1), flags, &u->host, why) != 0)
			return -1;
		p = rb + 1;
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		const char *he = colon ? colon : end;
		if (decode_part(p, (size_t)(he - p), flags, &u->host, why) != 0)
			return -1;
		p = he;
	}
	if (p < end && *p == ':') {
		char num[8];
		long v;
		size_t l = (size_t)(end - p - 1);
		if (l == 0 || l >= sizeof num) {
			*why = "invalid port";
			return -1;
		}
		memcpy(num, p + 1, l);
		num[l] = '\0';
		if (cp_parse_long(num, 1, 65535, &v) != 0) {
			*why = "invalid port";
			return -1;
		}
		u->port = (unsigned)v;
	} else if (p != end) {
		*why = "unexpected text after the host";
		return -1;
	}
	return 0;
}

int cp_uri_parse(const char *uri, unsigned flags, struct cp_uri *u, const char **why)
{
	const char *sep = strstr(uri, "://"), *a, *q, *end;
	size_t alen;

	memset(u, 0, sizeof *u);
	if (sep == NULL || sep == uri || strcspn(uri, ":/?#@") != (size_t)(sep - uri)) {
		*why = "not a scheme:// URI";
		return -1;
	}
	a = sep + 3;
	q = flags & CP_URI_NO_QUERY ? NULL : strchr(a, '?');
	end = q ? q : a + strlen(a);
	alen = strcspn(a, "/");
	if (a + alen > end)
		alen = (size_t)(end - a);
	u->scheme = cp_strdup_n(uri, (size_t)(sep - uri));
	u->authority = cp_strdup_n(a, alen);
	if (u->scheme == NULL || u->authority == NULL) {
		*why = "out of memory";
		goto fail;
	}
	if (parse_authority(a, alen, flags, u, why) != 0 ||
	    decode_part(a + alen, (size_t)(end - a - alen), flags, &u->path, why) != 0)
		goto fail;
	if (q != NULL && q[1] != '\0' && (u->query = cp_strdup(q + 1)) == NULL) {
		*why = "out of memory";
		goto fail;
	}
	return 0;
fail:
	cp_uri_free(u);
	return -1;
}
