/*
 * cairn/version.h — the plugin ABI version these headers describe.
 *
 * CAIRN_ABI_MAJOR is bumped only on an incompatible change; the entry symbol
 * carries it in its name (cairn_plugin_entry_v1), so a core of another major
 * reports "built for ABI N" instead of calling into an incompatible table.
 *
 * CAIRN_ABI_MINOR is bumped whenever a member is appended to a crossing struct
 * (each new member is marked "since 1.N"): it is the newest minor these
 * headers *describe*, and a core built with them *has* it. A plugin does not
 * stamp it: it declares the minor it *needs* (cairn_plugin_info.abi_minor,
 * `.abi_minor = N` in CAIRN_PLUGIN_DEFINE; 0 when it sets only 1.0 members).
 * A 1.x core loads a plugin that needs no more than the core's minor and
 * reads the plugin's structs only within their struct_size; it refuses one
 * that needs more ("needs plugin ABI 1.N, newer than this cairn's 1.M").
 *
 * History:
 *   1.0  first release
 *   1.1  cairn_source_vtable.restore_write_batch (optional)
 *   1.2  cairn_source_vtable.cursor_open_scoped, restore_delete_scoped,
 *        list_tenants; cairn_storage_vtable.housekeep (all optional)
 *   1.3  cairn_kind_desc.time_column and .time_field, cairn_scope.since:
 *        a time window for execution data (--since); appended members, read
 *        only by a plugin that declares 1.3
 *   1.4  CAIRN_E_LOCKED (status), cairn_object_info.locked_until and
 *        .lock_mode: retention of immutable objects (S3 Object Lock); a
 *        plugin fills the members when the struct_size it is handed covers
 *        them, and returns the status when host->abi_minor >= 4
 */
#ifndef CAIRN_VERSION_H
#define CAIRN_VERSION_H

#define CAIRN_ABI_MAJOR 1
#define CAIRN_ABI_MINOR 4

#endif /* CAIRN_VERSION_H */
