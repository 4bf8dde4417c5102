/*
 * plugin_note.c — see plugin_note.h.
 *
 * Hand-written over <elf.h> rather than linked to libelf: we need the ELF
 * header, the program headers and the note layout — three fixed structures —
 * and we read files that anyone able to drop a cairn-*.so into a search
 * directory controls. A reader this small, where every offset and size is
 * checked against the file size before it is used and nothing is mapped,
 * is easier to audit than a general library that also parses sections,
 * relocations and compressed data we never look at, and it keeps the core's
 * dependencies to what it had.
 *
 * Program headers, not section headers: PT_NOTE is what the dynamic loader
 * itself relies on being there, and it survives `strip` and sstrip alike.
 * Only this machine's class and byte order are read; any other file cannot
 * be dlopen()ed here anyway, and the probe reports dlopen's reason.
 */
#define _POSIX_C_SOURCE 200809L
#include "plugin_note.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if UINTPTR_MAX > 0xffffffffu
#define NATIVE_CLASS ELFCLASS64
#define EHDR Elf64_Ehdr
#define PHDR Elf64_Phdr
#else
#define NATIVE_CLASS ELFCLASS32
#define EHDR Elf32_Ehdr
#define PHDR Elf32_Phdr
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_DATA ELFDATA2LSB
#else
#define NATIVE_DATA ELFDATA2MSB
#endif

/* Real plugins have a dozen program headers and a few hundred bytes of
 * notes; the caps keep a hostile file from making us read much. */
#define MAX_PHNUM 256
#define MAX_NOTE_SEGMENT (64u * 1024u)
#define MAX_NAME 64
#define MAX_SCHEME 31
#define MAX_SCHEMES 16

static int bad(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return -1;
}

/* Read exactly len bytes at off, which must lie inside the file's size. */
static int read_at(int fd, uint64_t size, uint64_t off, void *buf, size_t len)
{
	if (off > size || len > size - off)
		return -1;
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

void core_plugin_meta_free(struct core_plugin_meta *m)
{
	free(m->name);
	free(m->version);
	free(m->description);
	if (m->schemes)
		for (char **s = m->schemes; *s; s++)
			free(*s);
	free(m->schemes);
	memset(m, 0, sizeof(*m));
}

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '+' || c == '-';
}

/* The same alphabet core_uri_scheme() accepts, lowercase as it produces. */
static int scheme_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

static int parse_schemes(const char *v, struct core_plugin_meta *out, char *why, size_t cap)
{
	char **list = calloc(MAX_SCHEMES + 1, sizeof(*list));
	if (!list)
		return bad(why, cap, "out of memory");
	out->schemes = list;
	size_t n = 0;
	for (const char *s = v;;) {
		size_t len = 0;
		while (s[len] && s[len] != ' ') {
			if (!scheme_char(s[len]))
				return bad(why, cap, "scheme list '%.64s' has a character not in [a-z0-9+.-]", v);
			len++;
		}
		if (len == 0 || len > MAX_SCHEME)
			return bad(why, cap, "scheme list '%.64s' has an empty or over-long scheme", v);
		if (n == MAX_SCHEMES)
			return bad(why, cap, "more than %d schemes", MAX_SCHEMES);
		if (!(list[n++] = strndup(s, len)))
			return bad(why, cap, "out of memory");
		if (!s[len])
			return 0;
		s += len + 1;
	}
}

int core_plugin_note_parse(const unsigned char *desc, size_t len, struct core_plugin_meta *out,
			   char *why, size_t cap)
{
	memset(out, 0, sizeof(*out));
	if (len == 0 || desc[len - 1] != '\0')
		return bad(why, cap, "descriptor is not NUL-terminated");
	int rc = 0, have_kind = 0;
	for (size_t at = 0; at < len && rc == 0;) {
		const char *f = (const char *)desc + at;
		size_t flen = strlen(f); /* bounded: desc[len - 1] is NUL */
		at += flen + 1;
		if (flen == 0)
			continue;
		const char *v = strchr(f, '=');
		if (!v) {
			rc = bad(why, cap, "field '%.32s' is not key=value", f);
			break;
		}
		size_t klen = (size_t)(v++ - f);
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(f, k, klen) == 0)
		if (KEY("kind")) {
			if (have_kind++)
				rc = bad(why, cap, "field 'kind' given twice");
			else if (strcmp(v, "source") == 0)
				out->kind = CAIRN_PLUGIN_KIND_SOURCE;
			else if (strcmp(v, "storage") == 0)
				out->kind = CAIRN_PLUGIN_KIND_STORAGE;
			else
				rc = bad(why, cap, "kind '%.32s' is neither source nor storage", v);
		} else if (KEY("name")) {
			size_t n = strlen(v);
			if (out->name)
				rc = bad(why, cap, "field 'name' given twice");
			else if (n == 0 || n > MAX_NAME)
				rc = bad(why, cap, "name is empty or longer than %d characters", MAX_NAME);
			for (size_t i = 0; rc == 0 && i < n; i++)
				if (!name_char(v[i]))
					rc = bad(why, cap, "name '%.64s' has a character not in [A-Za-z0-9_.+-]", v);
			if (rc == 0 && !(out->name = strdup(v)))
				rc = bad(why, cap, "out of memory");
		} else if (KEY("schemes")) {
			rc = out->schemes ? bad(why, cap, "field 'schemes' given twice")
					  : parse_schemes(v, out, why, cap);
		} else if (KEY("abi")) {
			unsigned major, minor;
			char end;
			if (sscanf(v, "%3u.%3u%c", &major, &minor, &end) != 2) {
				rc = bad(why, cap, "abi '%.16s' is not MAJOR.MINOR", v);
			} else {
				out->abi_major = major;
				out->abi_minor = minor;
			}
		}
		/* other keys: from a newer SDK, ignored */
#undef KEY
	}
	if (rc == 0 && (!have_kind || !out->name || !out->schemes))
		rc = bad(why, cap, "field '%s' missing",
			 !have_kind ? "kind" : !out->name ? "name" : "schemes");
	if (rc)
		core_plugin_meta_free(out);
	return rc;
}

/*
 * Walk the notes of one PT_NOTE segment. Each header is 12 bytes; name and
 * descriptor are padded to the segment's alignment (4, or 8 for segments
 * aligned so, as gABI and the GNU property notes have it). A note running
 * past the segment ends the walk: that segment is someone else's problem.
 */
static int find_in_segment(const unsigned char *buf, size_t len, size_t align,
			   struct core_plugin_meta *out, char *why, size_t cap)
{
	size_t pos = 0;
	while (len - pos >= 12) {
		uint32_t hdr[3];
		memcpy(hdr, buf + pos, sizeof(hdr));
		pos += 12;
		size_t namesz = hdr[0], descsz = hdr[1];
		if (namesz > len - pos)
			return 0;
		size_t name_at = pos;
		pos += (namesz + align - 1) & ~(align - 1); /* len <= 64 KiB: cannot overflow */
		if (pos > len || descsz > len - pos)
			return 0;
		size_t desc_at = pos;
		pos += (descsz + align - 1) & ~(align - 1);
		if (pos > len)
			pos = len;
		if (hdr[2] == CAIRN_NOTE_TYPE_PLUGIN && namesz == sizeof(CAIRN_NOTE_OWNER) &&
		    memcmp(buf + name_at, CAIRN_NOTE_OWNER, namesz) == 0)
			return core_plugin_note_parse(buf + desc_at, descsz, out, why, cap) ? -1 : 1;
	}
	return 0;
}

int core_plugin_note_read(const char *path, struct core_plugin_meta *out, char *why, size_t cap)
{
	memset(out, 0, sizeof(*out));
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return 0;
	int found = 0;
	struct stat st;
	EHDR eh;
	PHDR *ph = NULL;
	unsigned char *seg = NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	uint64_t size = (uint64_t)st.st_size;
	if (read_at(fd, size, 0, &eh, sizeof(eh)) != 0 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != NATIVE_CLASS || eh.e_ident[EI_DATA] != NATIVE_DATA ||
	    eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_type != ET_DYN ||
	    eh.e_phentsize != sizeof(PHDR) || eh.e_phnum == 0 || eh.e_phnum > MAX_PHNUM)
		goto out; /* not ours to judge: dlopen() in the probe says why */
	size_t phbytes = (size_t)eh.e_phnum * sizeof(PHDR);
	ph = malloc(phbytes);
	if (!ph || read_at(fd, size, eh.e_phoff, ph, phbytes) != 0)
		goto out;
	for (size_t i = 0; i < eh.e_phnum && found == 0; i++) {
		if (ph[i].p_type != PT_NOTE || ph[i].p_filesz < 12 || ph[i].p_filesz > MAX_NOTE_SEGMENT)
			continue;
		size_t len = (size_t)ph[i].p_filesz;
		free(seg);
		seg = malloc(len);
		if (!seg || read_at(fd, size, ph[i].p_offset, seg, len) != 0)
			break;
		found = find_in_segment(seg, len, ph[i].p_align == 8 ? 8 : 4, out, why, cap);
	}
out:
	free(seg);
	free(ph);
	close(fd);
	return found;
}

static int scheme_listed(const char *const *schemes, const char *s)
{
	for (; schemes && *schemes; schemes++)
		if (strcmp(*schemes, s) == 0)
			return 1;
	return 0;
}

int core_plugin_note_mismatch(const struct core_plugin_meta *note, const char *name,
			      unsigned kind, const char *const *schemes, char *why, size_t cap)
{
	if (!name || strcmp(note->name, name) != 0)
		return bad(why, cap, "note names '%s', info '%.64s'", note->name, name ? name : "");
	if (note->kind != kind)
		return bad(why, cap, "note says kind %u, info %u", note->kind, kind);
	const char *const *ns = (const char *const *)note->schemes;
	for (const char *const *s = ns; *s; s++)
		if (!scheme_listed(schemes, *s))
			return bad(why, cap, "note lists scheme '%s', info does not", *s);
	for (const char *const *s = schemes; s && *s; s++)
		if (!scheme_listed(ns, *s))
			return bad(why, cap, "info lists scheme '%.32s', note does not", *s);
	return 0;
}
