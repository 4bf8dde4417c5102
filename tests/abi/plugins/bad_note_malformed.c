/*
 * Refused without being run: a hand-made Cairn note that lacks the
 * schemes field (the macro cannot produce that).
 */
#include "stub.h"

__attribute__((section(".note.cairn.plugin"), used, aligned(4)))
static const struct {
	uint32_t namesz, descsz, type;
	char owner[8];
	char desc[28];
} bad_note = {sizeof(CAIRN_NOTE_OWNER), 25, CAIRN_NOTE_TYPE_PLUGIN, CAIRN_NOTE_OWNER,
	      "kind=storage\0name=broken"};

CAIRN_PLUGIN_DEFINE(.name = "broken", .version = "0", .kind = CAIRN_PLUGIN_KIND_STORAGE,
		    .schemes = stub_schemes, .vtable = &stub_storage_vtable)
