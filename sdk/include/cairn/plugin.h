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
 *   - info->abi_minor, the minor the plugin *needs* (below), <= the core's
 *     CAIRN_ABI_MINOR;
 *   - info->kind is SOURCE or STORAGE and the vtable is of that kind, with
 *     its own struct_size large enough and every required member set;
 *   - name, version and schemes are set;
 *   - no vtable member newer than info->abi_minor is set, and a plugin
 *     note, if any, names the same ABI as the info (cores before this
 *     rule did not check these two).
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
#define CAIRN_STATIC_ASSERT_ static_assert
#else
#define CAIRN_EXTERN_C
#define CAIRN_STATIC_ASSERT_ _Static_assert
#endif

/* Stable numbers: never renumbered. */
enum cairn_plugin_kind {
	CAIRN_PLUGIN_KIND_SOURCE = 1,  /* metadata source: struct cairn_source_vtable */
	CAIRN_PLUGIN_KIND_STORAGE = 2  /* backup target: struct cairn_storage_vtable */
};

struct cairn_plugin_info {
	uint32_t struct_size; /* sizeof(struct cairn_plugin_info) as compiled */
	uint16_t abi_major;   /* CAIRN_ABI_MAJOR the plugin was built with */
	/*
	 * abi_minor — the minor ABI the plugin NEEDS, not the one of the
	 * headers it was compiled against: the newest "since 1.N" member it
	 * sets in its vtable, 0 when it sets only ABI 1.0 members. A core of
	 * minor M loads the plugin when abi_minor <= M and reads the plugin's
	 * structs only within their struct_size, so a plugin that needs 1.0
	 * loads into every 1.x core whatever headers built it. Declared with
	 * `.abi_minor = N` in CAIRN_PLUGIN_DEFINE (default 0). Too low a value
	 * (a member newer than it is set) is refused by a core that knows
	 * the member; too high a one only keeps older cores from loading the
	 * plugin. Plugins built with the CAIRN_PLUGIN_DEFINE of earlier
	 * headers carry those headers' minor here, never less than they need.
	 */
	uint16_t abi_minor;
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
 * The body of cairn_source_vt_minor() and cairn_storage_vt_minor()
 * (source.h, storage.h), whose parameters are named vt and member: `since`
 * is the vtable's list of X(member, minor).
 */
#define CAIRN_VT_MINOR_TEST_(m, n)                                             \
	if ((n) > need_ && CAIRN_VT_HAS(vt, m)) {                              \
		need_ = (n);                                                   \
		which_ = #m;                                                   \
	}
#define CAIRN_VT_MINOR_BODY_(since)                                            \
	unsigned need_ = 0;                                                    \
	const char *which_ = NULL;                                             \
	since(CAIRN_VT_MINOR_TEST_)                                            \
	if (member)                                                            \
		*member = which_;                                              \
	return need_;

/*
 * CAIRN_PLUGIN_DEFINE(info_initialiser…) — defines the entry point. Use
 * designated initialisers; struct_size and abi_major are filled in, and
 * abi_minor is what you declare (0 when you leave it out):
 *
 *     CAIRN_PLUGIN_DEFINE(.name = "fs", .version = "1.0.0",
 *                         .kind = CAIRN_PLUGIN_KIND_STORAGE,
 *                         .schemes = fs_schemes, .vtable = &fs_vtable,
 *                         .abi_minor = 2)   // it sets housekeep (since 1.2)
 *
 * .abi_minor: the newest "since 1.N" member your vtable sets — the
 * CAIRN_SOURCE_VT_SINCE / CAIRN_STORAGE_VT_SINCE lists (source.h,
 * storage.h) name each member with its minor, and cairn_source_vt_minor()
 * / cairn_storage_vt_minor() compute it for a vtable. Leave it out when
 * you set only ABI 1.0 members: the plugin then loads into every 1.x core,
 * however new the headers that built it. Why it is not taken from the
 * headers: rebuilding an unchanged plugin against newer headers must not
 * make it unloadable by the cores it worked with. The two mistakes are
 * caught when the plugin is loaded, not in the field: a core refuses a
 * plugin that sets a member newer than it declares ("declares ABI 1.0 but
 * sets 'housekeep' (since 1.2)…"; `cairn plugins check` and
 * cairn-plugin-check say so), and one whose note (CAIRN_PLUGIN_NOTE, give
 * it the same N) names another ABI. Setting .abi_major or .struct_size is
 * not allowed (the compiler warns of the override).
 *
 * The host given to the entry point is the same one later passed to open();
 * plugins keep it in their instance state rather than in a global.
 */
#define CAIRN_PLUGIN_DEFINE(...)                                               \
	static const struct cairn_plugin_info cairn_plugin_info_ = {           \
		.struct_size = sizeof(struct cairn_plugin_info),               \
		.abi_major = CAIRN_ABI_MAJOR,                                  \
		__VA_ARGS__};                                                  \
	CAIRN_EXTERN_C CAIRN_EXPORT const struct cairn_plugin_info *           \
	cairn_plugin_entry_v1(const struct cairn_host *host)                   \
	{                                                                      \
		(void)host;                                                    \
		return &cairn_plugin_info_;                                    \
	}

/*
 * CAIRN_PLUGIN_NOTE(kind, name, schemes[, abi_minor]) — says, as plain
 * bytes in the .so file, which plugin this is, which URI schemes it serves
 * and which ABI it needs, so that the core can choose the file a command
 * needs *without running any plugin's code* (docs/abi.md §5). Put it once
 * per plugin, next to CAIRN_PLUGIN_DEFINE, with the same values:
 *
 *     CAIRN_PLUGIN_NOTE(storage, "fs", "file", 2)     // .abi_minor = 2
 *     CAIRN_PLUGIN_NOTE(storage, "s3", "s3")          // needs 1.0
 *
 *   kind       the bare word source or storage (anything else does not
 *              compile);
 *   name       a string literal (or a macro expanding to one): the info's
 *              name, 1–64 characters of [A-Za-z0-9_.+-];
 *   schemes    one string literal: the info's schemes, separated by single
 *              spaces, each 1–31 characters of [a-z0-9+.-] (lowercase, no
 *              "://"), at most 16;
 *   abi_minor  optional, default 0: the info's .abi_minor, as a decimal
 *              literal (or a macro expanding to one). A value above these
 *              headers' CAIRN_ABI_MINOR does not compile.
 *
 * It adds no symbol and no code. It emits a standard ELF note (section
 * ".note.cairn.plugin", allocated, so the linker puts it in a PT_NOTE
 * segment that survives strip and --gc-sections; `readelf -n` shows it):
 * owner CAIRN_NOTE_OWNER, type CAIRN_NOTE_TYPE_PLUGIN, and a descriptor of
 * NUL-terminated ASCII "key=value" fields — kind=, name=, schemes=, and
 * abi=MAJOR.MINOR, the ABI the plugin needs (CAIRN_ABI_MAJOR and
 * abi_minor; the macro of the 1.2 headers wrote its headers' minor here, as
 * it did in the info, so the two agree for those plugins too).
 * Readers ignore keys they do not know, so fields may be added in a later
 * minor.
 *
 * What the core does with it: a command opens only a plugin whose note
 * lists the kind and scheme it needs; after loading that file it checks, as
 * for any plugin, the info (docs/abi.md §3) and also that name, kind,
 * schemes and ABI equal the note's — a plugin that contradicts its note is
 * refused ("its plugin note does not match its info: …"), and so is a
 * malformed note. `cairn plugins check` reports both. A plugin without the
 * note (any plugin built with SDK 1.0/1.1) still works, but every command
 * must first probe it in a child process to learn its schemes.
 *
 * Not GNU C or not ELF: expands to the kind and minor checks only (no
 * note; the core then probes the plugin).
 */
#define CAIRN_NOTE_OWNER "Cairn"
#define CAIRN_NOTE_TYPE_PLUGIN 1
#define CAIRN_NOTE_KIND_source CAIRN_PLUGIN_KIND_SOURCE
#define CAIRN_NOTE_KIND_storage CAIRN_PLUGIN_KIND_STORAGE
#define CAIRN_NOTE_STR_(x) #x
#define CAIRN_NOTE_XSTR_(x) CAIRN_NOTE_STR_(x)
#define CAIRN_NOTE_TEXT_(kind, name, schemes, minor)                           \
	"kind=" #kind "\0name=" name "\0schemes=" schemes                      \
	"\0abi=" CAIRN_NOTE_XSTR_(CAIRN_ABI_MAJOR) "." CAIRN_NOTE_XSTR_(minor)
/* three or four arguments: the fifth of these is the macro to use */
#define CAIRN_NOTE_PICK_(a, b, c, d, which, ...) which
#define CAIRN_PLUGIN_NOTE(...)                                                 \
	CAIRN_NOTE_PICK_(__VA_ARGS__, CAIRN_NOTE_4_, CAIRN_NOTE_3_, -)(__VA_ARGS__)
#define CAIRN_NOTE_3_(kind, name, schemes) CAIRN_NOTE_4_(kind, name, schemes, 0)
#define CAIRN_NOTE_CHECKS_(kind, minor)                                        \
	enum { cairn_plugin_note_kind_ = CAIRN_NOTE_KIND_##kind };             \
	CAIRN_STATIC_ASSERT_((minor) >= 0 && (minor) <= CAIRN_ABI_MINOR,             \
			     "CAIRN_PLUGIN_NOTE: abi_minor is not a minor these headers define");

#if defined(__GNUC__) && defined(__ELF__)
#define CAIRN_NOTE_4_(kind, name, schemes, minor)                              \
	CAIRN_NOTE_CHECKS_(kind, minor)                                        \
	__attribute__((section(".note.cairn.plugin"), used, aligned(4)))       \
	static const struct {                                                  \
		uint32_t namesz, descsz, type;                                 \
		char owner[(sizeof(CAIRN_NOTE_OWNER) + 3) & ~(size_t)3];       \
		char desc[(sizeof(CAIRN_NOTE_TEXT_(kind, name, schemes, minor)) + 3) & \
			  ~(size_t)3];                                         \
	} cairn_plugin_note_ = {                                               \
		sizeof(CAIRN_NOTE_OWNER),                                      \
		sizeof(CAIRN_NOTE_TEXT_(kind, name, schemes, minor)),          \
		CAIRN_NOTE_TYPE_PLUGIN, CAIRN_NOTE_OWNER,                      \
		CAIRN_NOTE_TEXT_(kind, name, schemes, minor)};
#else
#define CAIRN_NOTE_4_(kind, name, schemes, minor) CAIRN_NOTE_CHECKS_(kind, minor)
#endif

#endif /* CAIRN_PLUGIN_H */
