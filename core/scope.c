/* scope.c — see scope.h. */
#define _POSIX_C_SOURCE 200809L
#include "scope.h"

#include <stdio.h>
#include <string.h>

#include "run.h"
#include "error.h"
#include "commands.h"
#include "record.h"

int core_tenant_valid(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 100)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = t[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

/* Every refusal here is of the archive's content: exit class 4. */
static int refuse(struct core_run *run, int status)
{
	return core_fail(run, CORE_EXIT_CORRUPT, status);
}

int core_manifest_check(struct core_run *run, const struct core_manifest *m)
{
	int tenant_backup = strcmp(m->type, "TENANT") == 0;

	if (!tenant_backup && m->tenant)
		return refuse(run, core_error_set(CAIRN_E_CORRUPT,
						  "archive refused: a FULL backup that names tenant '%.100s'",
						  m->tenant));
	if (tenant_backup && m->tenant && !core_tenant_valid(m->tenant))
		return refuse(run, core_error_set(CAIRN_E_CORRUPT,
						  "archive refused: TENANT backup of a malformed tenant id"));
	for (size_t i = 0; i < m->n_kinds; i++) {
		const char *k = m->kinds[i];
		if (!core_kind_name_valid(k))
			return refuse(run, core_error_set(CAIRN_E_CORRUPT,
							  "archive refused: malformed kind name in the manifest"));
		for (size_t j = 0; j < i; j++)
			if (strcmp(m->kinds[j], k) == 0)
				return refuse(run, core_error_set(CAIRN_E_CORRUPT,
								  "archive refused: the manifest lists kind %s twice", k));
		const struct cairn_kind_desc *kd = core_kinds_find(&run->kinds, k);
		/* restore must know where a kind goes; verify refuses the same, so a
		 * verified archive restores here */
		if (!kd)
			return refuse(run, core_error_set(CAIRN_E_UNSUPPORTED,
							  "backup holds kind '%s' that the catalogue does not know; "
							  "add it under [kinds] in the configuration", k));
		if (tenant_backup && kd->scope != CAIRN_SCOPE_TENANT)
			return refuse(run, core_error_set(CAIRN_E_CORRUPT,
							  "archive refused: TENANT backup holds %s, an instance-level kind",
							  k));
	}
	return CAIRN_OK;
}

void core_manifest_scope(const struct core_manifest *m, struct cairn_scope *out)
{
	memset(out, 0, sizeof(*out));
	out->struct_size = sizeof(*out);
	if (strcmp(m->type, "TENANT") != 0) {
		out->filter = CAIRN_TENANT_ANY;
	} else if (m->tenant) {
		out->filter = CAIRN_TENANT_ONE;
		out->tenant = m->tenant;
	} else {
		out->filter = CAIRN_TENANT_NONE;
	}
}

const char *core_scope_name(const struct cairn_scope *s, char *buf, size_t cap)
{
	if (s->filter == CAIRN_TENANT_ONE)
		snprintf(buf, cap, "tenant '%s'", s->tenant);
	else if (s->filter == CAIRN_TENANT_NONE)
		snprintf(buf, cap, "no tenant");
	else
		snprintf(buf, cap, "every tenant");
	return buf;
}

static int days_in_month(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : d[m - 1];
}

/* n decimal digits at s, as a number; -1 if any is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int core_since_parse(const char *s, time_t now, char out[20])
{
	long long back = core_parse_duration(s);
	if (back >= 0) {
		if (back > (long long)now)
			return -1;
		time_t t = now - (time_t)back;
		struct tm tm;
		if (!gmtime_r(&t, &tm))
			return -1;
		strftime(out, 20, "%Y-%m-%d %H:%M:%S", &tm);
		return 0;
	}
	/* the shapes are fixed, so they are read by position: no locale, no sscanf slack */
	size_t n = strlen(s);
	if (n != 10 && n != 19 && !(n == 20 && s[19] == 'Z'))
		return -1;
	int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2), h = 0, mi = 0, sec = 0;
	if (y < 1970 || s[4] != '-' || s[7] != '-' || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo))
		return -1;
	if (n > 10) {
		h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
		if ((s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' || h < 0 || h > 23 ||
		    mi < 0 || mi > 59 || sec < 0 || sec > 59)
			return -1;
	}
	snprintf(out, 20, "%04d-%02d-%02d %02d:%02d:%02d", y, mo, d, h, mi, sec);
	return 0;
}
