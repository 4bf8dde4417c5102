/*
 * test_plugin_note.c — the ELF note reader (core/plugin_note.c) on real
 * plugins, and on damaged copies of one: truncated at every length, with
 * offsets and sizes pointing outside the file, and with random bytes
 * flipped. Whatever the file, the reader must answer 1, 0 or -1 without
 * reading out of bounds (ASan watches). Also the descriptor parser and the
 * note/info comparison.
 */
#define _POSIX_C_SOURCE 200809L
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugin_loader.h"
#include "plugin_note.h"

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Write buf to a temporary file, read its note, remove it. */
static int read_bytes(const unsigned char *buf, size_t len, struct core_plugin_meta *m)
{
	char path[] = "/tmp/cairn-note-test.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	char why[256];
	int r = core_plugin_note_read(path, m, why, sizeof(why));
	unlink(path);
	assert_true(r >= -1 && r <= 1);
	if (r == -1)
		assert_non_null(memchr(why, '\0', sizeof(why)));
	return r;
}

static int read_bytes_free(const unsigned char *buf, size_t len)
{
	struct core_plugin_meta m;
	int r = read_bytes(buf, len, &m);
	core_plugin_meta_free(&m);
	return r;
}

static void test_real_plugins(void **state)
{
	(void)state;
	struct core_plugin_meta m;
	char why[256];
	assert_int_equal(core_plugin_note_read(ABI_GOOD_STORAGE, &m, why, sizeof(why)), 1);
	assert_string_equal(m.name, "abigood");
	assert_int_equal(m.kind, CAIRN_PLUGIN_KIND_STORAGE);
	assert_string_equal(m.schemes[0], "abigood");
	assert_null(m.schemes[1]);
	/* the ABI it needs (1.0: no fourth argument), not the headers' */
	assert_int_equal(m.abi_major, CAIRN_ABI_MAJOR);
	assert_int_equal(m.abi_minor, 0);
	assert_null(m.version);
	core_plugin_meta_free(&m);
	assert_int_equal(core_plugin_note_read(ABI_NEEDS12, &m, why, sizeof(why)), 1);
	assert_int_equal(m.abi_major, 1);
	assert_int_equal(m.abi_minor, 2);
	core_plugin_meta_free(&m);
	/* built before notes existed, not ELF, not there: no note, no error */
	assert_int_equal(core_plugin_note_read(ABI10_STORAGE, &m, why, sizeof(why)), 0);
	assert_int_equal(core_plugin_note_read(ABI_BAD_DIR "/cairn-storage-garbage.so", &m, why,
					       sizeof(why)), 0);
	assert_int_equal(core_plugin_note_read(ABI_BAD_DIR "/none.so", &m, why, sizeof(why)), 0);
	assert_int_equal(core_plugin_note_read(ABI_BAD_DIR, &m, why, sizeof(why)), 0);
	assert_int_equal(core_plugin_note_read(ABI_CRASH_DIR "/cairn-storage-notebroken.so", &m,
					       why, sizeof(why)), -1);
	assert_string_equal(why, "field 'schemes' missing");
}

static void test_truncated(void **state)
{
	(void)state;
	size_t len;
	unsigned char *so = slurp(ABI_GOOD_STORAGE, &len);
	/* the note sits in the first page; every cut before and in it */
	size_t upto = len < 8192 ? len : 8192;
	for (size_t cut = 0; cut < upto; cut++)
		read_bytes_free(so, cut);
	assert_int_equal(read_bytes_free(so, 0), 0);
	assert_int_equal(read_bytes_free(so, sizeof(Elf64_Ehdr) - 1), 0);
	free(so);
}

/* The first PT_NOTE holding the Cairn note, and the note's header offset. */
static Elf64_Phdr *cairn_segment(unsigned char *so, size_t *note_at)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)so;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr *ph = (Elf64_Phdr *)(so + eh->e_phoff) + i;
		if (ph->p_type != PT_NOTE)
			continue;
		for (size_t at = ph->p_offset; at + 20 <= ph->p_offset + ph->p_filesz;) {
			uint32_t h[3];
			memcpy(h, so + at, 12);
			if (memcmp(so + at + 12, "Cairn", 6) == 0) {
				*note_at = at;
				return ph;
			}
			at += 12 + ((h[0] + 3u) & ~3u) + ((h[1] + 3u) & ~3u);
		}
	}
	fail_msg("no Cairn note in the good plugin");
	return NULL;
}

static void test_bad_offsets(void **state)
{
	(void)state;
	size_t len, note_at;
	unsigned char *orig = slurp(ABI_GOOD_STORAGE, &len);
	unsigned char *so = malloc(len);
	assert_non_null(so);
#define FRESH() (memcpy(so, orig, len), (Elf64_Ehdr *)so)
	Elf64_Ehdr *eh = FRESH();
	assert_int_equal(read_bytes_free(so, len), 1);

	eh = FRESH(); eh->e_phoff = (Elf64_Off)-8;
	assert_int_equal(read_bytes_free(so, len), 0);
	eh = FRESH(); eh->e_phoff = len - 8;
	assert_int_equal(read_bytes_free(so, len), 0);
	eh = FRESH(); eh->e_phnum = 0xffff;
	assert_int_equal(read_bytes_free(so, len), 0);
	eh = FRESH(); eh->e_phentsize = 1;
	assert_int_equal(read_bytes_free(so, len), 0);
	eh = FRESH(); eh->e_ident[EI_CLASS] = ELFCLASS32;
	assert_int_equal(read_bytes_free(so, len), 0);

	Elf64_Phdr *ph;
	FRESH(); ph = cairn_segment(so, &note_at); ph->p_offset = (Elf64_Off)-1;
	assert_int_equal(read_bytes_free(so, len), 0);
	FRESH(); ph = cairn_segment(so, &note_at); ph->p_offset = len - 4;
	assert_int_equal(read_bytes_free(so, len), 0);
	FRESH(); ph = cairn_segment(so, &note_at); ph->p_filesz = (Elf64_Xword)-1;
	assert_int_equal(read_bytes_free(so, len), 0);
	FRESH(); ph = cairn_segment(so, &note_at); ph->p_filesz = len; /* past EOF from p_offset */
	assert_int_equal(read_bytes_free(so, len), 0);

	uint32_t huge = 0xffffffffu, *field;
	FRESH(); cairn_segment(so, &note_at); memcpy(so + note_at, &huge, 4); /* namesz */
	assert_int_equal(read_bytes_free(so, len), 0);
	FRESH(); cairn_segment(so, &note_at); memcpy(so + note_at + 4, &huge, 4); /* descsz */
	assert_int_equal(read_bytes_free(so, len), 0);
	/* descsz one short: the descriptor no longer ends in NUL */
	FRESH(); cairn_segment(so, &note_at);
	field = (uint32_t *)(so + note_at + 4);
	(*field)--;
	assert_int_equal(read_bytes_free(so, len), -1);
	/* descsz 0 */
	FRESH(); cairn_segment(so, &note_at);
	field = (uint32_t *)(so + note_at + 4);
	*field = 0;
	assert_int_equal(read_bytes_free(so, len), -1);
#undef FRESH
	free(so);
	free(orig);
}

/* Random damage to the ELF header, program headers and notes: no crash. */
static void test_random_damage(void **state)
{
	(void)state;
	size_t len, note_at;
	unsigned char *orig = slurp(ABI_GOOD_STORAGE, &len);
	cairn_segment(orig, &note_at);
	Elf64_Phdr *ph = cairn_segment(orig, &note_at);
	size_t end = ph->p_offset + ph->p_filesz;
	unsigned char *so = malloc(len);
	assert_non_null(so);
	uint32_t seed = 12345;
	for (int round = 0; round < 1500; round++) {
		memcpy(so, orig, len);
		for (int k = 0; k < 1 + round % 4; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % end;
			seed = seed * 1103515245u + 12345u;
			so[at] = (unsigned char)(seed >> 16);
		}
		read_bytes_free(so, len);
	}
	free(so);
	free(orig);
}

static int parse(const char *desc, size_t len, struct core_plugin_meta *m)
{
	char why[256] = "";
	int r = core_plugin_note_parse((const unsigned char *)desc, len, m, why, sizeof(why));
	if (r)
		assert_true(*why);
	return r;
}

#define PARSE_FAILS(lit) do { \
		struct core_plugin_meta m_; \
		assert_int_equal(parse(lit, sizeof(lit), &m_), -1); \
	} while (0)

static void test_parse(void **state)
{
	(void)state;
	struct core_plugin_meta m;
	static const char ok[] = "kind=source\0name=pg\0schemes=postgresql postgres\0future=x\0abi=1.7";
	assert_int_equal(parse(ok, sizeof(ok), &m), 0);
	assert_int_equal(m.kind, CAIRN_PLUGIN_KIND_SOURCE);
	assert_string_equal(m.schemes[1], "postgres");
	assert_null(m.schemes[2]);
	assert_int_equal(m.abi_minor, 7);
	core_plugin_meta_free(&m);

	PARSE_FAILS("kind=plugin\0name=x\0schemes=x");
	PARSE_FAILS("name=x\0schemes=x");
	PARSE_FAILS("kind=storage\0schemes=x");
	PARSE_FAILS("kind=storage\0name=x");
	PARSE_FAILS("kind=storage\0kind=storage\0name=x\0schemes=x");
	PARSE_FAILS("kind=storage\0name=x\0name=y\0schemes=x");
	PARSE_FAILS("kind=storage\0name=a b\0schemes=x");
	PARSE_FAILS("kind=storage\0name=\0schemes=x");
	PARSE_FAILS("kind=storage\0name=x\0schemes=File");
	PARSE_FAILS("kind=storage\0name=x\0schemes=a  b");
	PARSE_FAILS("kind=storage\0name=x\0schemes=a ");
	PARSE_FAILS("kind=storage\0name=x\0schemes=");
	PARSE_FAILS("kind=storage\0name=x\0schemes=a://");
	PARSE_FAILS("kind=storage\0name=x\0schemes=a\0schemes=b");
	PARSE_FAILS("kind=storage\0name=x\0schemes=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"); /* 32 */
	PARSE_FAILS("kind=storage\0name=x\0schemes=a b c d e f g h i j k l m n o p q"); /* 17 */
	PARSE_FAILS("kind=storage\0name=x\0schemes=x\0abi=one");
	PARSE_FAILS("kind=storage\0name=x\0schemes=x\0abi=1.2.3");
	PARSE_FAILS("kind=storage\0name=x\0schemes=x\0noequals");
	static const char unterminated[] = {'k', 'i', 'n', 'd', '=', 's'};
	assert_int_equal(parse(unterminated, sizeof(unterminated), &m), -1);
}

static void test_mismatch(void **state)
{
	(void)state;
	struct core_plugin_meta m;
	static const char desc[] = "kind=storage\0name=fs\0schemes=file local";
	assert_int_equal(parse(desc, sizeof(desc), &m), 0);
	char why[256];
	const char *const same[] = {"local", "file", NULL}, *const fewer[] = {"file", NULL},
			  *const more[] = {"file", "local", "x", NULL};
	assert_int_equal(core_plugin_note_mismatch(&m, "fs", CAIRN_PLUGIN_KIND_STORAGE, same, why,
						   sizeof(why)), 0);
	assert_int_equal(core_plugin_note_mismatch(&m, "fs", CAIRN_PLUGIN_KIND_STORAGE, fewer, why,
						   sizeof(why)), -1);
	assert_string_equal(why, "note lists scheme 'local', info does not");
	assert_int_equal(core_plugin_note_mismatch(&m, "fs", CAIRN_PLUGIN_KIND_STORAGE, more, why,
						   sizeof(why)), -1);
	assert_int_equal(core_plugin_note_mismatch(&m, "fs2", CAIRN_PLUGIN_KIND_STORAGE, same, why,
						   sizeof(why)), -1);
	assert_int_equal(core_plugin_note_mismatch(&m, "fs", CAIRN_PLUGIN_KIND_SOURCE, same, why,
						   sizeof(why)), -1);
	assert_int_equal(core_plugin_note_mismatch(&m, NULL, CAIRN_PLUGIN_KIND_STORAGE, same, why,
						   sizeof(why)), -1);
	core_plugin_meta_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_plugins),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad_offsets),
		cmocka_unit_test(test_random_damage),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_mismatch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
