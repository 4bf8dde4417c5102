/* scope.c — see scope.h. */
#define _POSIX_C_SOURCE 200809L
#include "scope.h"

#include <stdio.h>
#include <string.h>

#include "run.h"
#include "error.h"
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
