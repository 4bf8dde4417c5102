/*
 * cairn/plugin.h — how a plugin introduces itself to the core.
 *
 * A plugin is a shared object exporting exactly one symbol:
 *
 *     const struct cairn_plugin_info *cairn_plugin_entry_v1(const struct cairn_host *host);
 *
 * The core dlopen()s the file, looks the symbol up, calls it once, and checks
 * the returned info before it calls anything else:
 *
 *   - info->struct_size >= the size of the ABI 1.0 struct;
 *   - info->abi_major == CAIRN_ABI_MAJOR;
 *   - info->abi_minor <= the core's CAIRN_ABI_MINOR;
 *   - info->kind is SOURCE or STORAGE and the vtable is of that kind, with
 *     its own struct_size large enough and every required member set;
 *   - name, version and schemes are set.
 *
 * Any failed check refuses the plugin with one line naming the file and the
 * reason; the core never calls into a refused plugin again.
 *
 * Which files get loaded at all: a command loads only the plugin serving
 * its URI's scheme, found through the note CAIRN_PLUGIN_NOTE writes into
 * the file (below); `cairn plugins list` and `plugins check` load each file
 * in a child process with a 5 s limit. Constructors and the entry point of
 * a plugin therefore run in a child as well as, for a command that uses it,
 * in the core: they must be quick and free of side effects.
 *
 * Lifetime: the info, the strings it points to and the vtable are static
 * data of the plugin, valid until dlclose(). The entry point must not fail
 * for lack of resources; return NULL only if the host is unusable (for
 * example host->struct_size too small for the services you need).
 */
#ifndef CAIRN_PLUGIN_H
#define CAIRN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/host.h"
#include "cairn/status.h"
#include "cairn/version.h"

#if defined(__GNUC__)
#define CAIRN_EXPORT __attribute__((visibility("default")))
#else
#define CAIRN_EXPORT
#endif

#ifdef __cplusplus
#define CAIRN_EXTERN_C extern "C"
#else
#define CAIRN_EXTERN_C
#endif

/* Stable numbers: never renumbered. */
enum cairn_plugin_kind {
	CAIRN_PLUGIN_KIND_SOURCE = 1,  /* metadata source: struct cairn_source_vtable */
	CAIRN_PLUGIN_KIND_STORAGE = 2  /* backup target: struct cairn_storage_vtable */
};

struct cairn_plugin_info {
	uint32_t struct_size; /* sizeof(struct cairn_plugin_info) as compiled */
	uint16_t abi_major;   /* CAIRN_ABI_MAJOR the plugin was built with */
	uint16_t abi_minor;   /* CAIRN_ABI_MINOR the plugin was built with */
	const char *name;     /* short, lowercase, unique: "postgresql", "fs" */
	const char *version;  /* the plugin's own version, free form */
	const char *description; /* one line for `cairn plugins list`; may be NULL */
	uint32_t kind;        /* enum cairn_plugin_kind */
	/*
	 * URI schemes served, lowercase without "://", NULL-terminated:
	 * {"postgresql", "postgres", NULL}. At least one.
	 */
	const char *const *schemes;
	/* const struct cairn_source_vtable * or const struct cairn_storage_vtable * */
	const void *vtable;
};

#define CAIRN_PLUGIN_ENTRY_NAME "cairn_plugin_entry_v1"

typedef const struct cairn_plugin_info *(*cairn_plugin_entry_fn)(
	const struct cairn_host *host);

/*
 * CAIRN_VT_HAS(vt, member) — non-zero when `member` lies inside vt's
 * struct_size and is non-NULL. The core reads optional and newer members
 * only through this test.
 */
#define CAIRN_VT_HAS(vt, member)                                               \
	((size_t)((const char *)&(vt)->member - (const char *)(vt)) +         \
		 sizeof((vt)->member) <=                                       \
	 (vt)->struct_size && (vt)->member != NULL)

/*
 * CAIRN_PLUGIN_DEFINE(info_initialiser…) — defines the entry point. Use
 * designated initialisers; struct_size and the ABI numbers are filled in:
 *
 *     CAIRN_PLUGIN_DEFINE(.name = "fs", .version = "1.0.0",
 *                         .kind = CAIRN_PLUGIN_KIND_STORAGE,
 *                         .schemes = fs_schemes, .vtable = &fs_vtable)
 *
 * The host given to the entry point is the same one later passed to open();
 * plugins keep it in their instance state rather than in a global.
 */
#define CAIRN_PLUGIN_DEFINE(...)                                               \
	static const struct cairn_plugin_info cairn_plugin_info_ = {           \
		.struct_size = sizeof(struct cairn_plugin_info),               \
		.abi_major = CAIRN_ABI_MAJOR,                                  \
		.abi_minor = CAIRN_ABI_MINOR,                                  \
		__VA_ARGS__};                                                  \
	CAIRN_EXTERN_C CAIRN_EXPORT const struct cairn_plugin_info *           \
	cairn_plugin_entry_v1(const struct cairn_host *host)                   \
	{                                                                      \
		(void)host;                                                    \
		return &cairn_plugin_info_;                                    \
	}

/*
 * CAIRN_PLUGIN_NOTE(kind, name, schemes) — says, as plain bytes in the .so
 * file, which plugin this is and which URI schemes it serves, so that the
 * core can choose the file a command needs *without running any plugin's
 * code* (docs/abi.md §5). Put it once per plugin, next to
 * CAIRN_PLUGIN_DEFINE, with the same values:
 *
 *     CAIRN_PLUGIN_NOTE(storage, "fs", "file")
 *     CAIRN_PLUGIN_NOTE(source, "postgresql", "postgresql postgres")
 *
 *   kind     the bare word source or storage (anything else does not
 *            compile);
 *   name     a string literal (or a macro expanding to one): the info's
 *            name, 1–64 characters of [A-Za-z0-9_.+-];
 *   schemes  one string literal: the info's schemes, separated by single
 *            spaces, each 1–31 characters of [a-z0-9+.-] (lowercase, no
 *            "://"), at most 16.
 *
 * It adds no symbol and no code. It emits a standard ELF note (section
 * ".note.cairn.plugin", allocated, so the linker puts it in a PT_NOTE
 * segment that survives strip and --gc-sections; `readelf -n` shows it):
 * owner CAIRN_NOTE_OWNER, type CAIRN_NOTE_TYPE_PLUGIN, and a descriptor of
 * NUL-terminated ASCII "key=value" fields — kind=, name=, schemes=, and
 * abi=MAJOR.MINOR of the headers compiled against. Readers ignore keys they
 * do not know, so fields may be added in a later minor.
 *
 * What the core does with it: a command opens only a plugin whose note
 * lists the kind and scheme it needs; after loading that file it checks, as
 * for any plugin, the info (docs/abi.md §3) and also that name, kind and
 * schemes equal the note's — a plugin that contradicts its note is refused
 * ("its plugin note does not match its info: …"), and so is a malformed
 * note. `cairn plugins check` reports both. A plugin without the note (any
 * plugin built with SDK 1.0/1.1) still works, but every command must first
 * probe it in a child process to learn its schemes.
 *
 * Not GNU C or not ELF: expands to the kind check only (no note; the core
 * then probes the plugin).
 */
#define CAIRN_NOTE_OWNER "Cairn"
#define CAIRN_NOTE_TYPE_PLUGIN 1
#define CAIRN_NOTE_KIND_source CAIRN_PLUGIN_KIND_SOURCE
#define CAIRN_NOTE_KIND_storage CAIRN_PLUGIN_KIND_STORAGE
#define CAIRN_NOTE_STR_(x) #x
#define CAIRN_NOTE_XSTR_(x) CAIRN_NOTE_STR_(x)
#define CAIRN_NOTE_TEXT_(kind, name, schemes)                                  \
	"kind=" #kind "\0name=" name "\0schemes=" schemes                      \
	"\0abi=" CAIRN_NOTE_XSTR_(CAIRN_ABI_MAJOR) "." CAIRN_NOTE_XSTR_(CAIRN_ABI_MINOR)

#if defined(__GNUC__) && defined(__ELF__)
#define CAIRN_PLUGIN_NOTE(kind, name, schemes)                                 \
	enum { cairn_plugin_note_kind_ = CAIRN_NOTE_KIND_##kind };             \
	__attribute__((section(".note.cairn.plugin"), used, aligned(4)))       \
	static const struct {                                                  \
		uint32_t namesz, descsz, type;                                 \
		char owner[(sizeof(CAIRN_NOTE_OWNER) + 3) & ~(size_t)3];       \
		char desc[(sizeof(CAIRN_NOTE_TEXT_(kind, name, schemes)) + 3) & \
			  ~(size_t)3];                                         \
	} cairn_plugin_note_ = {                                               \
		sizeof(CAIRN_NOTE_OWNER),                                      \
		sizeof(CAIRN_NOTE_TEXT_(kind, name, schemes)),                 \
		CAIRN_NOTE_TYPE_PLUGIN, CAIRN_NOTE_OWNER,                      \
		CAIRN_NOTE_TEXT_(kind, name, schemes)};
#else
#define CAIRN_PLUGIN_NOTE(kind, name, schemes)                                 \
	enum { cairn_plugin_note_kind_ = CAIRN_NOTE_KIND_##kind };
#endif

#endif /* CAIRN_PLUGIN_H */
