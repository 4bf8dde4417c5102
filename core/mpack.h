/*
 * mpack.h — a bounded msgpack reader for untrusted input.
 *
 * msgpack-c 4.0's own readers (msgpack_unpack_next, msgpack_unpacker) are
 * unfit for archive data in two ways: they stop at MSGPACK_EMBED_STACK_SIZE
 * (32) levels of nesting, compiled into libmsgpackc, which is less than the
 * codec's CORE_JSON_MAX_DEPTH; and they allocate for whatever element count
 * an array or map header declares before reading a single element, so a few
 * hostile bytes can ask for 100+ GiB. This reader produces the same
 * msgpack_object trees (so codec.c and record.c keep their msgpack-c types)
 * with a caller-chosen depth limit and allocations bounded by the input size.
 *
 * Thread safety: reports failures through the core's single error slot
 * (error.h), so, like the rest of the core, it is single-threaded.
 */
#ifndef CORE_MPACK_H
#define CORE_MPACK_H

#include <stddef.h>

#include <msgpack.h>

/*
 * Decode one msgpack object from data[*off .. len) into *out, allocating the
 * array and map element tables from `zone`.
 *
 * Types: nil, bool, every int encoding (a negative value gives
 * MSGPACK_OBJECT_NEGATIVE_INTEGER, any non-negative one, signed encoding or
 * not, MSGPACK_OBJECT_POSITIVE_INTEGER, as msgpack-c does), float32
 * (MSGPACK_OBJECT_FLOAT32) and float64 (MSGPACK_OBJECT_FLOAT64), str, bin,
 * ext (all fixext and ext sizes; MSGPACK_OBJECT_EXT with type, size, ptr),
 * array and map. An empty array or map has ptr NULL. 0xc1 is malformed.
 *
 * Limits, all checked before anything is allocated:
 *  - nesting: at most max_depth arrays/maps inside one another (`[]` is
 *    depth 1; max_depth 0 accepts scalars only);
 *  - sizes: a str/bin/ext payload must fit in the bytes left, and every
 *    array/map element still to be read is owed at least one byte of input
 *    (a map pair two), so a header declaring more elements than the rest of
 *    the input could hold is malformed. In total the zone grows by at most
 *    len * sizeof(msgpack_object) plus alignment, whatever the input says.
 * Decoding is iterative (the stack of open containers is on the heap once
 * it outgrows a small fixed one), never recursive.
 *
 * Ownership and lifetime: str, bin and ext objects point into `data`
 * (zero-copy); arrays and maps point into `zone`. The object is valid while
 * both `data` and the zone's current contents live: until the input buffer
 * is freed or changed, or the zone is cleared or freed. The caller owns the
 * zone; on failure the zone may hold partial allocations (clear it or free
 * it as usual). `data` is only read, never past len.
 *
 * Returns:
 *  CAIRN_OK          *out set, *off advanced past the object (bytes after
 *                    it are left for the next call)
 *  CAIRN_E_CORRUPT   truncated or malformed input ("archive is corrupted:
 *                    truncated msgpack at byte N", "… invalid msgpack byte
 *                    0xc1 at byte N", "… msgpack nested deeper than N
 *                    levels"); *off and *out unchanged
 *  CAIRN_E_NOMEM     an allocation failed; *off and *out unchanged
 */
int core_mpack_next(const char *data, size_t len, size_t *off, msgpack_zone *zone,
		    msgpack_object *out, unsigned max_depth);

#endif /* CORE_MPACK_H */
