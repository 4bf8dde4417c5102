/*
 * s3.c — the s3 and minio storage plugins: entry point, open/close,
 * options and credentials. Both plugins are built from these same sources;
 * S3_FLAVOR_MINIO (a compile definition, see CMakeLists.txt) selects the
 * name, the scheme and the defaults: MinIO speaks the S3 API, so it is S3
 * with an endpoint taken from the URI and path-style addressing.
 *
 *   s3://bucket/prefix                 AWS (or any endpoint= you give)
 *   minio://host:port/bucket/prefix    endpoint from the URI, path style,
 *                                      region us-east-1
 *
 * Why it is written the way it is:
 *  - Options are looked up in open()'s array first (command line, then the
 *    configuration section the core passes), then with config_get in the
 *    plugin's own section; an option we do not know is an error, not a
 *    silently ignored typo.
 *  - Credentials follow the AWS CLI's order (options, environment, shared
 *    profile files) so that existing setups work unchanged; the secret and
 *    the session token are registered with host->redact before anything can
 *    log them.
 *  - minio:// talks plain HTTP to a loopback host and HTTPS to anything else;
 *    endpoint= overrides. Signatures never expose the secret key, but backups
 *    should not cross a network in the clear by default.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <ini.h>

#include "cairn/plugin.h"
#include "plugin_buf.h"
#include "plugin_uri.h"
#include "plugin_util.h"
#include "s3.h"

#ifdef S3_FLAVOR_MINIO
#define S3_PLUGIN "minio"
#define S3_SCHEME "minio"
#define S3_DESCRIPTION "MinIO and other S3-compatible storage (minio://host:port/bucket/prefix)"
#else
#define S3_PLUGIN "s3"
#define S3_SCHEME "s3"
#define S3_DESCRIPTION "Amazon S3 and S3-compatible storage (s3://bucket/prefix)"
#endif

#define MIB (1024u * 1024u)

static const char *const known_options[] = {
	"endpoint", "region", "path_style", "tls_verify", "ca_file", "ca_path", "storage_class",
	"sse", "sse_kms_key_id", "part_size", "access_key_id", "secret_access_key",
	"session_token", "profile", "parallel", "resolve", "object_lock_days", "object_lock_mode",
	NULL,
};

struct opts {
	const struct cairn_host *host;
	const struct cairn_option *v;
	size_t n;
};

static const char *opt(const struct opts *o, const char *key)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->v[i].key, key) == 0)
			return o->v[i].value;
	const char *v = o->host->config_get(o->host, S3_PLUGIN, key);
	return v && *v ? v : NULL;
}

static int parse_bool(const char *v, int *out)
{
	if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") || !strcasecmp(v, "on"))
		*out = 1;
	else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0") ||
		 !strcasecmp(v, "off"))
		*out = 0;
	else
		return -1;
	return 0;
}

/* "8388608", "8M", "8MiB", "1G" → bytes */
static int parse_size(const char *v, size_t *out)
{
	char *end;
	unsigned long long n = strtoull(v, &end, 10);
	if (end == v)
		return -1;
	unsigned long long mul = 1;
	if (*end == 'k' || *end == 'K')
		mul = 1024;
	else if (*end == 'm' || *end == 'M')
		mul = 1024 * 1024;
	else if (*end == 'g' || *end == 'G')
		mul = 1024ULL * 1024 * 1024;
	if (mul > 1) {
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B") || !strcmp(end, "b"))
			end += strlen(end);
	}
	if (*end || n > (unsigned long long)SIZE_MAX / mul)
		return -1;
	*out = (size_t)(n * mul);
	return 0;
}

/* ---- shared credentials files ------------------------------------------- */

/*
 * The profile files are read with inih, set up as the AWS CLI reads them:
 * no comment after a value (a ';' may be part of a secret), no continuation
 * lines, lines of any length (session tokens run to kilobytes), and a
 * malformed line skipped rather than fatal. These switches are global in
 * Debian's libinih and shared with the core, so they are set before every
 * parse.
 */
struct profile_scan {
	FILE *f;
	const char *profile;
	int config_style; /* the config file: [profile name] or [default] */
	int at_line_start;
	int in;           /* the current section is the profile */
	int oom;
	char **ak, **sk, **tok;
};

/*
 * Is the section header `s` (after '[', up to the first ']') the profile?
 * inih keeps only the first 49 bytes of a section name, so the reader
 * decides this itself from the whole line.
 */
static int profile_section(const struct profile_scan *ps, const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s))
		s++, n--;
	if (ps->config_style && n >= 8 && strncmp(s, "profile ", 8) == 0) {
		s += 8, n -= 8;
		while (n > 0 && isspace((unsigned char)*s))
			s++, n--;
	} else if (ps->config_style && (n != 7 || strncmp(s, "default", 7) != 0)) {
		return 0;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return n == strlen(ps->profile) && strncmp(s, ps->profile, n) == 0;
}

static char *profile_read(char *str, int num, void *stream)
{
	struct profile_scan *ps = stream;
	if (!fgets(str, num, ps->f))
		return NULL;
	const char *s = str;
	while (isspace((unsigned char)*s))
		s++;
	const char *e = *s == '[' ? strchr(s, ']') : NULL;
	if (ps->at_line_start && e)
		ps->in = profile_section(ps, s + 1, (size_t)(e - s - 1));
	size_t len = strlen(str);
	ps->at_line_start = len > 0 && str[len - 1] == '\n';
	return str;
}

static int profile_key(void *ud, const char *section, const char *key, const char *value)
{
	struct profile_scan *ps = ud;
	(void)section;
	if (!ps->in)
		return 1;
	char **dst = !strcmp(key, "aws_access_key_id")       ? ps->ak
		     : !strcmp(key, "aws_secret_access_key") ? ps->sk
		     : !strcmp(key, "aws_session_token")     ? ps->tok
							     : NULL;
	if (dst && !*dst && !(*dst = strdup(value)))
		ps->oom = 1;
	return 1;
}

/*
 * Look `profile` up in an AWS INI file: [name] in the credentials file,
 * [profile name] (or [default]) in the config file. The first value of a
 * key wins; a missing file is no error.
 */
static void ini_profile(const char *path, const char *profile, int config_style, char **ak,
			char **sk, char **tok)
{
	struct profile_scan ps = {.profile = profile, .config_style = config_style,
				  .at_line_start = 1, .ak = ak, .sk = sk, .tok = tok};
	ps.f = fopen(path, "r");
	if (!ps.f)
		return;
	ini_allow_multiline = false;
	ini_allow_inline_comments = false;
	ini_allow_bom = true;
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_initial_alloc = 4096;
	ini_max_line = 1 << 20;
	ini_stop_on_first_error = false;
	ini_parse_stream(profile_read, &ps, profile_key, &ps);
	fclose(ps.f);
}

static char *home_path(const char *rel)
{
	const char *home = getenv("HOME");
	if (!home || !*home)
		return NULL;
	size_t len = strlen(home) + strlen(rel) + 2;
	char *p = malloc(len);
	if (p)
		snprintf(p, len, "%s/%s", home, rel);
	return p;
}

static int load_credentials(struct s3 *s3, const struct opts *o)
{
	const struct cairn_host *host = s3->host;
	const char *ak = opt(o, "access_key_id"), *sk = opt(o, "secret_access_key");
	if (ak || sk) {
		if (!ak || !sk)
			return host->set_error(host, CAIRN_E_INVALID,
					       "the %s storage needs both access_key_id and "
					       "secret_access_key, or neither",
					       S3_PLUGIN);
		s3->access_key = strdup(ak);
		s3->secret_key = strdup(sk);
		s3->session_token = cp_strdup(opt(o, "session_token"));
		S3_LOG_DEBUG(s3, "credentials from the options");
		return CAIRN_OK;
	}
	ak = getenv("AWS_ACCESS_KEY_ID");
	sk = getenv("AWS_SECRET_ACCESS_KEY");
	if (ak && *ak && sk && *sk) {
		s3->access_key = strdup(ak);
		s3->secret_key = strdup(sk);
		const char *t = getenv("AWS_SESSION_TOKEN");
		s3->session_token = t && *t ? strdup(t) : NULL;
		S3_LOG_DEBUG(s3, "credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY");
		return CAIRN_OK;
	}
	const char *profile = opt(o, "profile");
	if (!profile)
		profile = getenv("AWS_PROFILE");
	if (!profile || !*profile)
		profile = "default";
	const char *cf = getenv("AWS_SHARED_CREDENTIALS_FILE");
	const char *cg = getenv("AWS_CONFIG_FILE");
	char *cred_path = cf && *cf ? strdup(cf) : home_path(".aws/credentials");
	char *conf_path = cg && *cg ? strdup(cg) : home_path(".aws/config");
	char *a = NULL, *s = NULL, *t = NULL;
	if (cred_path)
		ini_profile(cred_path, profile, 0, &a, &s, &t);
	if ((!a || !s) && conf_path)
		ini_profile(conf_path, profile, 1, &a, &s, &t);
	free(cred_path);
	free(conf_path);
	if (a && s) {
		s3->access_key = a;
		s3->secret_key = s;
		s3->session_token = t;
		S3_LOG_DEBUG(s3, "credentials from profile '%s'", profile);
		return CAIRN_OK;
	}
	free(a);
	free(s);
	free(t);
	return host->set_error(host, CAIRN_E_AUTH,
			       "no credentials for the %s storage: set access_key_id and "
			       "secret_access_key (options or [%s] in the configuration), "
			       "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or profile '%s' in "
			       "~/.aws/credentials",
			       S3_PLUGIN, S3_PLUGIN, profile);
}

/* ---- open / close -------------------------------------------------------- */

static void s3_free(struct s3 *s3)
{
	if (!s3)
		return;
	if (s3->curl)
		curl_easy_cleanup(s3->curl);
	curl_slist_free_all(s3->resolve);
	free(s3->endpoint);
	free(s3->authority);
	free(s3->bucket);
	free(s3->prefix);
	free(s3->region);
	free(s3->access_key);
	free(s3->secret_key);
	free(s3->session_token);
	free(s3->ca_file);
	free(s3->ca_path);
	free(s3->storage_class);
	free(s3->sse);
	free(s3->sse_kms_key_id);
	free(s3->stat_name);
	free(s3);
}

#ifdef S3_FLAVOR_MINIO
static int is_loopback(const char *host)
{
	return !strncmp(host, "127.", 4) || !strcmp(host, "localhost") || !strcmp(host, "[::1]");
}
#endif

/* "scheme://authority[/]" → endpoint without '/', authority */
static int split_endpoint(struct s3 *s3, const char *ep)
{
	const char *sep = strstr(ep, "://");
	if (!sep || (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0))
		return s3->host->set_error(s3->host, CAIRN_E_INVALID,
					   "endpoint '%s' is not an http:// or https:// URL", ep);
	const char *auth = sep + 3;
	size_t alen = strcspn(auth, "/?#");
	if (alen == 0 || (auth[alen] == '/' && auth[alen + 1] != '\0'))
		return s3->host->set_error(s3->host, CAIRN_E_INVALID,
					   "endpoint '%s' must be scheme://host[:port] without a path",
					   ep);
	size_t slen = (size_t)(auth - ep);
	if (!s3->path_style) {
		/* virtual-hosted style: the bucket becomes part of the host name */
		size_t n = slen + strlen(s3->bucket) + 1 + alen + 1;
		s3->endpoint = malloc(n);
		s3->authority = malloc(n);
		if (!s3->endpoint || !s3->authority)
			return CAIRN_E_NOMEM;
		snprintf(s3->endpoint, n, "%.*s%s.%.*s", (int)slen, ep, s3->bucket, (int)alen, auth);
		snprintf(s3->authority, n, "%s.%.*s", s3->bucket, (int)alen, auth);
	} else {
		s3->endpoint = strndup(ep, slen + alen);
		s3->authority = strndup(auth, alen);
		if (!s3->endpoint || !s3->authority)
			return CAIRN_E_NOMEM;
	}
	return CAIRN_OK;
}

/* "/a//b" → "a/b/": keys never start with '/' nor hold empty segments */
static char *prefix_normalise(const char *path)
{
	struct cp_buf b = {0};
	for (const char *c = path; *c; c++)
		if (*c != '/' || (b.len > 0 && b.p[b.len - 1] != '/'))
			cp_buf_addn(&b, c, 1);
	if (b.len > 0 && b.p[b.len - 1] != '/')
		cp_buf_add(&b, "/");
	cp_buf_reserve(&b, 0); /* an empty prefix is "", not NULL */
	if (b.oom) {
		cp_buf_free(&b);
		return NULL;
	}
	return b.p;
}

static int parse_location(struct s3 *s3, const char *uri, char **uri_host)
{
	const struct cairn_host *host = s3->host;
	const char *scheme = S3_SCHEME "://", *why;
	*uri_host = NULL;
	if (strncasecmp(uri, scheme, strlen(scheme)) != 0)
		return host->set_error(host, CAIRN_E_INVALID, "'%s' is not a %s URI", uri, scheme);
	/* object names may hold '?': there is no query string */
	struct cp_uri u;
	if (cp_uri_parse(uri, CP_URI_NO_QUERY, &u, &why) != 0)
		return strcmp(why, "out of memory") == 0
			       ? CAIRN_E_NOMEM
			       : host->set_error(host, CAIRN_E_INVALID, "'%s' is not a valid %s URI: %s",
						 uri, scheme, why);
	const char *path = u.path;
	int rc = CAIRN_OK;
#ifdef S3_FLAVOR_MINIO
	/* the server: as written, host:port for the endpoint */
	if (!*u.authority) {
		rc = host->set_error(host, CAIRN_E_INVALID,
				     "'%s' names no server: minio://host:port/bucket/prefix", uri);
		goto out;
	}
	*uri_host = u.authority;
	u.authority = NULL;
	while (*path == '/')
		path++;
	size_t bl = strcspn(path, "/");
	s3->bucket = cp_strdup_n(path, bl);
	path += bl;
	const char *usage = "minio://host:port/bucket/prefix";
#else
	/* the bucket is the host part, decoded as the path is */
	s3->bucket = cp_pct_decode(u.authority, strlen(u.authority), 0, NULL);
	const char *usage = "s3://bucket/prefix";
#endif
	if (s3->bucket && !*s3->bucket) {
		rc = host->set_error(host, CAIRN_E_INVALID, "'%s' names no bucket: %s", uri, usage);
		goto out;
	}
	s3->prefix = prefix_normalise(path);
	if (!s3->bucket || !s3->prefix)
		rc = CAIRN_E_NOMEM;
out:
	cp_uri_free(&u);
	return rc;
}

static int s3_open(const struct cairn_host *host, const char *uri, const struct cairn_option *opts,
		   size_t n_opts, void **inst)
{
	for (size_t i = 0; i < n_opts; i++) {
		int ok = 0;
		for (const char *const *k = known_options; *k && !ok; k++)
			ok = strcmp(*k, opts[i].key) == 0;
		if (!ok)
			return host->set_error(host, CAIRN_E_INVALID,
					       "the %s storage has no option '%s' (known: endpoint, "
					       "region, path_style, tls_verify, ca_file, ca_path, "
					       "storage_class, sse, sse_kms_key_id, part_size, "
					       "access_key_id, secret_access_key, session_token, profile, "
					       "parallel, resolve, object_lock_days, object_lock_mode)",
					       S3_PLUGIN, opts[i].key);
	}
	if (s3_http_global_init())
		return host->set_error(host, CAIRN_E_GENERIC, "unable to initialise libcurl");
	struct opts o = {.host = host, .v = opts, .n = n_opts};
	struct s3 *s3 = calloc(1, sizeof(*s3));
	if (!s3)
		return host->set_error(host, CAIRN_E_NOMEM, "out of memory");
	s3->host = host;
	s3->plugin = S3_PLUGIN;
	s3->tls_verify = 1;
	s3->part_size = 8 * MIB;
	s3->max_tries = 4;
	s3->retry_base_ms = 200;
	char *uri_host = NULL;
	const char *v;
	int rc = parse_location(s3, uri, &uri_host);
	if (rc)
		goto fail;

	/* region */
	v = opt(&o, "region");
	if (!v)
		v = getenv("AWS_REGION");
	if (!v || !*v)
		v = getenv("AWS_DEFAULT_REGION");
	if (!v || !*v)
		v = "us-east-1";
	s3->region = strdup(v);

	/* addressing: path style for MinIO and custom endpoints, virtual hosts on AWS */
	const char *endpoint = opt(&o, "endpoint");
#ifdef S3_FLAVOR_MINIO
	s3->path_style = 1;
#else
	/* the AWS CLI's variables for S3-compatible servers */
	if (!endpoint && (v = getenv("AWS_ENDPOINT_URL_S3")) && *v)
		endpoint = v;
	if (!endpoint && (v = getenv("AWS_ENDPOINT_URL")) && *v)
		endpoint = v;
	s3->path_style = endpoint != NULL;
#endif
	if ((v = opt(&o, "path_style")) && parse_bool(v, &s3->path_style)) {
		rc = host->set_error(host, CAIRN_E_INVALID, "path_style must be true or false, not '%s'", v);
		goto fail;
	}
	if ((v = opt(&o, "tls_verify")) && parse_bool(v, &s3->tls_verify)) {
		rc = host->set_error(host, CAIRN_E_INVALID, "tls_verify must be true or false, not '%s'", v);
		goto fail;
	}
	if ((v = opt(&o, "part_size"))) {
		if (parse_size(v, &s3->part_size) || s3->part_size < 5 * MIB ||
		    s3->part_size > (size_t)5 * 1024 * MIB) {
			rc = host->set_error(host, CAIRN_E_INVALID,
					     "part_size must be between 5 MiB and 5 GiB, not '%s'", v);
			goto fail;
		}
	}
	s3->parallel = 4;
	if ((v = opt(&o, "parallel"))) {
		char *end;
		long n = strtol(v, &end, 10);
		if (end == v || *end || n < 1 || n > 64) {
			rc = host->set_error(host, CAIRN_E_INVALID,
					     "parallel must be between 1 and 64, not '%s'", v);
			goto fail;
		}
		s3->parallel = (int)n;
	}
	if ((v = opt(&o, "resolve"))) {
		/* "host:port:address[,host:port:address…]", as curl --resolve */
		char *copy = strdup(v), *save = NULL;
		if (!copy) {
			rc = CAIRN_E_NOMEM;
			goto fail;
		}
		for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
			char *c1 = strchr(t, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
			if (!c1 || !c2 || c1 == t || c2 == c1 + 1 || !c2[1]) {
				rc = host->set_error(host, CAIRN_E_INVALID,
						     "resolve entries are host:port:address, not '%s'", t);
				free(copy);
				goto fail;
			}
			struct curl_slist *nl = curl_slist_append(s3->resolve, t);
			if (!nl) {
				free(copy);
				rc = CAIRN_E_NOMEM;
				goto fail;
			}
			s3->resolve = nl;
		}
		free(copy);
	}
	/* Object Lock: every new object locked this many days (s3_lock.c) */
	if ((v = opt(&o, "object_lock_days"))) {
		char *end;
		long n = strtol(v, &end, 10);
		if (end == v || *end || n < 1 || n > 36500) {
			rc = host->set_error(host, CAIRN_E_INVALID,
					     "object_lock_days must be a number of days from 1 to 36500, "
					     "not '%s'", v);
			goto fail;
		}
		s3->lock_days = (int)n;
	}
	s3->lock_mode = "GOVERNANCE";
	if ((v = opt(&o, "object_lock_mode"))) {
		if (strcasecmp(v, "governance") == 0) {
			s3->lock_mode = "GOVERNANCE";
		} else if (strcasecmp(v, "compliance") == 0) {
			s3->lock_mode = "COMPLIANCE";
		} else {
			rc = host->set_error(host, CAIRN_E_INVALID,
					     "object_lock_mode must be governance or compliance, not '%s'",
					     v);
			goto fail;
		}
		if (!s3->lock_days) {
			rc = host->set_error(host, CAIRN_E_INVALID,
					     "object_lock_mode needs object_lock_days (how long to lock)");
			goto fail;
		}
	}
	s3->ca_file = cp_strdup(opt(&o, "ca_file"));
	s3->ca_path = cp_strdup(opt(&o, "ca_path"));
	s3->storage_class = cp_strdup(opt(&o, "storage_class"));
	s3->sse = cp_strdup(opt(&o, "sse"));
	s3->sse_kms_key_id = cp_strdup(opt(&o, "sse_kms_key_id"));
	if (s3->sse && strcmp(s3->sse, "AES256") != 0 && strcmp(s3->sse, "aws:kms") != 0) {
		rc = host->set_error(host, CAIRN_E_INVALID, "sse must be AES256 or aws:kms, not '%s'",
				     s3->sse);
		goto fail;
	}
	if (s3->sse_kms_key_id && (!s3->sse || strcmp(s3->sse, "aws:kms") != 0)) {
		rc = host->set_error(host, CAIRN_E_INVALID, "sse_kms_key_id needs sse=aws:kms");
		goto fail;
	}

	char def[512];
	if (!endpoint) {
#ifdef S3_FLAVOR_MINIO
		snprintf(def, sizeof(def), "%s://%s", is_loopback(uri_host) ? "http" : "https",
			 uri_host);
#else
		snprintf(def, sizeof(def), "https://s3.%s.amazonaws.com", s3->region);
#endif
		endpoint = def;
	}
	if ((rc = split_endpoint(s3, endpoint)))
		goto fail;
	if (!s3->tls_verify)
		S3_LOG_WARN(s3, "tls_verify is off: the identity of '%s' is not checked", s3->endpoint);

	if ((rc = load_credentials(s3, &o)))
		goto fail;
	if (!s3->region || !s3->access_key || !s3->secret_key) {
		rc = CAIRN_E_NOMEM;
		goto fail;
	}
	host->redact(host, s3->secret_key);
	if (s3->session_token)
		host->redact(host, s3->session_token);

	s3->curl = curl_easy_init();
	if (!s3->curl) {
		rc = host->set_error(host, CAIRN_E_GENERIC, "unable to create a libcurl handle");
		goto fail;
	}
	S3_LOG_DEBUG(s3, "bucket '%s', prefix '%s' at %s (%s style, region %s, %d parallel parts)",
		     s3->bucket, s3->prefix, s3->endpoint, s3->path_style ? "path" : "virtual-hosted",
		     s3->region, s3->parallel);
	if (s3->lock_days)
		S3_LOG_DEBUG(s3, "new objects are locked %d day%s (Object Lock, %s mode)", s3->lock_days,
			     s3->lock_days == 1 ? "" : "s", s3->lock_mode);
	free(uri_host);
	*inst = s3;
	return CAIRN_OK;
fail:
	free(uri_host);
	s3_free(s3);
	if (rc == CAIRN_E_NOMEM)
		host->set_error(host, rc, "out of memory");
	return rc;
}

static void s3_close(void *inst)
{
	s3_free(inst);
}

static const struct cairn_storage_vtable s3_vtable = {
	.struct_size = sizeof(struct cairn_storage_vtable),
	.features = 0,
	.open = s3_open,
	.close = s3_close,
	.writer_begin = s3_writer_begin,
	.writer_write = s3_writer_write,
	.writer_commit = s3_writer_commit,
	.writer_abort = s3_writer_abort,
	.reader_open = s3_reader_open,
	.reader_read = s3_reader_read,
	.reader_close = s3_reader_close,
	.list = s3_list,
	.stat = s3_stat,
	.remove = s3_remove,
};

static const char *const s3_schemes[] = {S3_SCHEME, NULL};

CAIRN_PLUGIN_DEFINE(.name = S3_PLUGIN, .version = "1.0.0", .description = S3_DESCRIPTION,
		    .kind = CAIRN_PLUGIN_KIND_STORAGE, .schemes = s3_schemes,
		    .vtable = &s3_vtable)
CAIRN_PLUGIN_NOTE(storage, S3_PLUGIN, S3_SCHEME)
