/*
 * plugin_note.h — reading a plugin's Cairn note (CAIRN_PLUGIN_NOTE in
 * cairn/plugin.h) from the file, without loading it: the ELF program
 * headers of type PT_NOTE are read and searched for a note of owner "Cairn",
 * type CAIRN_NOTE_TYPE_PLUGIN. The file is untrusted input.
 */
#ifndef CORE_PLUGIN_NOTE_H
#define CORE_PLUGIN_NOTE_H

#include <stddef.h>

#include "plugin_loader.h"

/*
 * 1: found, *out filled (version and description stay NULL; abi 0.0 when
 * the note has none). 0: no note — not an ELF object of this machine's
 * class and byte order, unreadable, or simply without one (a plugin built
 * before the note existed). -1: a Cairn note that is malformed; `why`
 * (size cap) says how.
 */
int core_plugin_note_read(const char *path, struct core_plugin_meta *out, char *why, size_t cap);

/* Parse a note's descriptor (the key=value fields); 0 or -1 as above. */
int core_plugin_note_parse(const unsigned char *desc, size_t len, struct core_plugin_meta *out,
			   char *why, size_t cap);

/*
 * Does what a plugin says about itself (its info, directly or through a
 * probe) agree with its note? 0 when it does; otherwise -1 and `why`.
 * Name and kind must be equal and the schemes the same set.
 */
int core_plugin_note_mismatch(const struct core_plugin_meta *note, const char *name,
			      unsigned kind, const char *const *schemes, char *why, size_t cap);

#endif /* CORE_PLUGIN_NOTE_H */
