/* plugin_util.c — see plugin_util.h. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_util.h"

char *cp_strdup(const char *s)
{
	size_t n;
	char *d;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	d = malloc(n);
	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

char *cp_strdup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d == NULL)
		return NULL;
	if (n > 0)
		memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

int cp_fail(const struct cairn_host *host, int status, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return host->set_error(host, status, "%s", buf);
}

int cp_cancelled(const struct cairn_host *host)
{
	return CAIRN_HOST_HAS(host, cancelled) && host->cancelled(host);
}

int cp_check_cancelled(const struct cairn_host *host)
{
	return cp_cancelled(host) ? cp_fail(host, CAIRN_E_CANCELLED, "cancelled") : CAIRN_OK;
}

void cp_redact(const struct cairn_host *host, const char *secret)
{
	if (secret != NULL && *secret != '\0' && CAIRN_HOST_HAS(host, redact))
		host->redact(host, secret);
}

int cp_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int cp_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int cp_hex_decode(const char *hex, size_t n, unsigned char *out)
{
	for (size_t k = 0; k < n; k++) {
		int hi = cp_hexval((unsigned char)hex[2 * k]), lo = cp_hexval((unsigned char)hex[2 * k + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[k] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

const char *cp_opt_get(const struct cairn_option *opts, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (opts[i].key != NULL && strcmp(opts[i].key, key) == 0)
			return opts[i].value;
	return NULL;
}

const char *cp_option(const struct cairn_option *opts, size_t n, const struct cairn_host *host,
		      const char *section, const char *key)
{
	const char *v = cp_opt_get(opts, n, key);

	if (v == NULL && CAIRN_HOST_HAS(host, config_get))
		v = host->config_get(host, section, key);
	return v;
}

/* Does a struct of `size` bytes reach the end of a member at `off` of `len` bytes? */
#define HAS_ROOM(size, off, len) ((size_t)(size) >= (size_t)(off) + (len))

void cp_restore_opts_read(const struct cairn_restore_opts *opts, int *dry_run, int *replace,
			  const char **source_version)
{
	uint32_t size = opts->struct_size;

	if (dry_run != NULL)
		*dry_run = HAS_ROOM(size, offsetof(struct cairn_restore_opts, dry_run),
				    sizeof opts->dry_run) && opts->dry_run != 0;
	if (replace != NULL)
		*replace = HAS_ROOM(size, offsetof(struct cairn_restore_opts, replace),
				    sizeof opts->replace) && opts->replace != 0;
	if (source_version != NULL)
		*source_version = HAS_ROOM(size, offsetof(struct cairn_restore_opts,
							 source_schema_version),
					   sizeof opts->source_schema_version)
					  ? opts->source_schema_version
					  : NULL;
}

void cp_source_desc_set(struct cairn_source_desc *out, const char *backend,
			const char *schema_version)
{
	/* Only the members the caller's struct has room for are written. */
	if (HAS_ROOM(out->struct_size, offsetof(struct cairn_source_desc, backend),
		     sizeof out->backend))
		out->backend = backend;
	if (HAS_ROOM(out->struct_size, offsetof(struct cairn_source_desc, schema_version),
		     sizeof out->schema_version))
		out->schema_version = schema_version;
}

int cp_tx_expect(const struct cairn_host *host, int tx, int want)
{
	if (tx == want)
		return CAIRN_OK;
	switch (want) {
	case CP_TX_NONE:
		return cp_fail(host, CAIRN_E_INVALID, "a transaction is already open");
	case CP_TX_SNAPSHOT:
		return cp_fail(host, CAIRN_E_INVALID, "no snapshot is open");
	default:
		return cp_fail(host, CAIRN_E_INVALID, "no restore is in progress");
	}
}

int cp_restore_commit(const struct cairn_host *host, int *tx, int *tx_failed, int dry_run,
		      cp_tx_end_fn end, void *inst)
{
	int failed = *tx_failed, rc;

	if (dry_run || failed) {
		rc = end(inst, 0);
		if (rc == CAIRN_OK && failed)
			rc = cp_fail(host, CAIRN_E_BACKEND,
				     "a statement of the restore failed: nothing was written");
	} else {
		rc = end(inst, 1);
	}
	*tx = CP_TX_NONE;
	*tx_failed = 0;
	return rc;
}

int cp_restore_rollback(int *tx, int *tx_failed, cp_tx_end_fn end, void *inst)
{
	int rc = CAIRN_OK;

	if (*tx == CP_TX_RESTORE) {
		*tx = CP_TX_NONE;
		rc = end(inst, 0);
		*tx_failed = 0;
	}
	return rc;
}

int cp_kestra_check(const struct cairn_host *host, const char *database, const char *schema,
		    const struct cp_kestra_probe *p)
{
	if (schema != NULL && !p->schema_exists)
		return cp_fail(host, CAIRN_E_SCHEMA,
			       "database '%s' has no schema '%s': not a Kestra database "
			       "(the option 'schema' names the schema holding Kestra's tables)",
			       database, schema);
	if (p->has_flows || p->has_flyway)
		return CAIRN_OK;
	if (schema != NULL)
		return cp_fail(host, CAIRN_E_SCHEMA,
			       "database '%s' schema '%s' has no Kestra tables (no flows, no "
			       "flyway_schema_history): not a Kestra database", database, schema);
	return cp_fail(host, CAIRN_E_SCHEMA,
		       "database '%s' has no Kestra tables (no flows, no flyway_schema_history): "
		       "not a Kestra database", database);
}
