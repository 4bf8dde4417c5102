/*
 * plugin_uri.h — the one percent-decoder and URI parser of the in-tree
 * plugins (file://, s3:// and minio://, mysql:// locations). Internal: never
 * installed.
 *
 * Why not libcurl's curl_url(): only the s3 plugin links libcurl, and each
 * plugin is packaged on its own, so the fs and mysql plugins would pull in
 * libcurl for a few lines of parsing. The postgresql plugin parses nothing:
 * libpq takes its URI as it is.
 *
 * The parser splits what the plugins' locations have in common,
 *   scheme://[user[:password]@]host[:port][/path][?query]
 * with IPv6 hosts in brackets. Each plugin then says what it accepts of the
 * parts (fs: no host but localhost; s3: the host is the bucket).
 */
#ifndef CAIRN_PLUGIN_COMMON_PLUGIN_URI_H
#define CAIRN_PLUGIN_COMMON_PLUGIN_URI_H

#include <stddef.h>

/* cp_pct_decode / cp_uri_parse flags */
#define CP_URI_STRICT 1u   /* a '%' not followed by two hex digits, or %00, is an error */
#define CP_URI_NO_QUERY 2u /* '?' is part of the path: file and object names may hold one */

/*
 * A malloc'ed, percent-decoded copy of s[0..n). Without CP_URI_STRICT a
 * '%' that starts no escape is kept as it is. NULL when memory is short, or
 * (with CP_URI_STRICT; *bad is then set to 1) on a bad escape. bad may be
 * NULL without CP_URI_STRICT.
 */
char *cp_pct_decode(const char *s, size_t n, unsigned flags, int *bad);

/* The parts of a URI; every string is malloc'ed (cp_uri_free). */
struct cp_uri {
	char *scheme;          /* as written, before "://" */
	char *authority;       /* as written, between "//" and the path (never NULL) */
	char *user, *password; /* decoded; NULL when the URI has none */
	char *host;            /* decoded, without the brackets of an IPv6 address ("" if empty) */
	unsigned port;         /* 1..65535, or 0 when the URI names none */
	char *path;            /* decoded, from the '/' after the authority ("" if none) */
	char *query;           /* after '?', not decoded (parameters are, one by one); NULL if empty */
};

/*
 * Parses uri into *u (flags: CP_URI_*). The user info is what stands
 * before the last '@' of the authority (a password may hold an escaped
 * '@'), the user what stands before its first ':'. Returns 0, or -1 with
 * *why set ("not a scheme:// URI", "invalid percent-escape", "unterminated
 * '[' in the host", "invalid port", "unexpected text after the host", "out
 * of memory") and *u emptied.
 */
int cp_uri_parse(const char *uri, unsigned flags, struct cp_uri *u, const char **why);

/* Frees the parts (the password is wiped first) and empties *u. */
void cp_uri_free(struct cp_uri *u);

#endif /* CAIRN_PLUGIN_COMMON_PLUGIN_URI_H */
