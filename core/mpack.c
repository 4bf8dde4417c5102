/*
 * mpack.c — see mpack.h.
 *
 * The size bound works by accounting: `owed` counts the array/map slots that
 * are open but not started yet, each of which needs at least one byte of its
 * own further on. A new container of s slots is accepted only when
 * owed + s still fits in the bytes left after its header, so every slot ever
 * allocated is backed by a distinct input byte, whatever the nesting.
 */
#include "mpack.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/status.h"
#include "error.h"

/* An open array or map. A map has two slots per pair: key, then value. */
struct frame {
	msgpack_object *arr;   /* array elements; NULL for a map */
	msgpack_object_kv *kv; /* map pairs */
	uint64_t next;         /* slot being filled */
	uint64_t slots;
};

/* Deep enough for manifests, summaries and most records without malloc. */
#define EMBED_FRAMES 32

enum kind { K_SCALAR, K_STR, K_BIN, K_EXT, K_ARRAY, K_MAP };

static uint64_t read_be(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static msgpack_object *frame_slot(const struct frame *f)
{
	if (f->arr)
		return &f->arr[f->next];
	msgpack_object_kv *kv = &f->kv[f->next / 2];
	return f->next % 2 ? &kv->val : &kv->key;
}

static int truncated(size_t at)
{
	return core_error_set(CAIRN_E_CORRUPT, "archive is corrupted: truncated msgpack at byte %zu",
			      at);
}

static int out_of_memory(void)
{
	return core_error_set(CAIRN_E_NOMEM, "out of memory decoding msgpack");
}

int core_mpack_next(const char *data, size_t len, size_t *off, msgpack_zone *zone,
		    msgpack_object *out, unsigned max_depth)
{
	const unsigned char *p = (const unsigned char *)data;
	struct frame embed[EMBED_FRAMES], *stack = embed;
	size_t cap = EMBED_FRAMES, sp = 0, pos = *off;
	uint64_t owed = 0;
	msgpack_object root, *slot = &root;
	int rc = CAIRN_OK;

	if (pos > len)
		return truncated(len);
	for (;;) {
		size_t at = pos;
		if (pos >= len) {
			rc = truncated(at);
			goto out;
		}
		unsigned t = p[pos++];
		enum kind kind = K_SCALAR;
		unsigned width = 0; /* bytes of value or length after the type byte */
		uint64_t v = 0;

		if (t <= 0x7f) {
			slot->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
			slot->via.u64 = t;
		} else if (t <= 0x8f) {
			kind = K_MAP;
			v = t & 0x0f;
		} else if (t <= 0x9f) {
			kind = K_ARRAY;
			v = t & 0x0f;
		} else if (t <= 0xbf) {
			kind = K_STR;
			v = t & 0x1f;
		} else if (t >= 0xe0) {
			slot->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
			slot->via.i64 = (int8_t)t;
		} else {
			switch (t) {
			case 0xc0:
				slot->type = MSGPACK_OBJECT_NIL;
				break;
			case 0xc2:
			case 0xc3:
				slot->type = MSGPACK_OBJECT_BOOLEAN;
				slot->via.boolean = t == 0xc3;
				break;
			case 0xc4: case 0xc5: case 0xc6: /* bin 8/16/32 */
				kind = K_BIN;
				width = 1u << (t - 0xc4);
				break;
			case 0xc7: case 0xc8: case 0xc9: /* ext 8/16/32 */
				kind = K_EXT;
				width = 1u << (t - 0xc7);
				break;
			case 0xca: /* float32 */
				width = 4;
				break;
			case 0xcb: /* float64 */
				width = 8;
				break;
			case 0xcc: case 0xcd: case 0xce: case 0xcf: /* uint 8..64 */
				width = 1u << (t - 0xcc);
				break;
			case 0xd0: case 0xd1: case 0xd2: case 0xd3: /* int 8..64 */
				width = 1u << (t - 0xd0);
				break;
			case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: /* fixext 1..16 */
				kind = K_EXT;
				v = 1u << (t - 0xd4);
				break;
			case 0xd9: case 0xda: case 0xdb: /* str 8/16/32 */
				kind = K_STR;
				width = 1u << (t - 0xd9);
				break;
			case 0xdc: case 0xdd: /* array 16/32 */
				kind = K_ARRAY;
				width = 2u << (t - 0xdc);
				break;
			case 0xde: case 0xdf: /* map 16/32 */
				kind = K_MAP;
				width = 2u << (t - 0xde);
				break;
			default: /* 0xc1, the one byte msgpack never uses */
				rc = core_error_set(CAIRN_E_CORRUPT,
						    "archive is corrupted: invalid msgpack byte 0x%02x at byte %zu",
						    t, at);
				goto out;
			}
		}
		if (width) {
			if (len - pos < width) {
				rc = truncated(at);
				goto out;
			}
			v = read_be(p + pos, width);
			pos += width;
		}

		if (kind == K_SCALAR && width) {
			if (t == 0xca) {
				uint32_t u = (uint32_t)v;
				float f;
				memcpy(&f, &u, sizeof(f));
				slot->type = MSGPACK_OBJECT_FLOAT32;
				slot->via.f64 = f;
			} else if (t == 0xcb) {
				double d;
				memcpy(&d, &v, sizeof(d));
				slot->type = MSGPACK_OBJECT_FLOAT64;
				slot->via.f64 = d;
			} else if (t <= 0xcf) {
				slot->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
				slot->via.u64 = v;
			} else {
				/* sign-extend the width-byte two's complement value */
				int64_t i = width == 1 ? (int8_t)v : width == 2 ? (int16_t)v :
					    width == 4 ? (int32_t)v : (int64_t)v;
				if (i < 0) {
					slot->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
					slot->via.i64 = i;
				} else {
					slot->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
					slot->via.u64 = (uint64_t)i;
				}
			}
		} else if (kind == K_STR || kind == K_BIN || kind == K_EXT) {
			int8_t ext_type = 0;
			if (kind == K_EXT) {
				if (pos >= len) {
					rc = truncated(at);
					goto out;
				}
				ext_type = (int8_t)p[pos++];
			}
			size_t avail = len - pos;
			if (owed > avail || v > avail - owed) {
				rc = truncated(at);
				goto out;
			}
			const char *ptr = data + pos;
			pos += (size_t)v;
			if (kind == K_STR) {
				slot->type = MSGPACK_OBJECT_STR;
				slot->via.str.size = (uint32_t)v;
				slot->via.str.ptr = ptr;
			} else if (kind == K_BIN) {
				slot->type = MSGPACK_OBJECT_BIN;
				slot->via.bin.size = (uint32_t)v;
				slot->via.bin.ptr = ptr;
			} else {
				slot->type = MSGPACK_OBJECT_EXT;
				slot->via.ext.type = ext_type;
				slot->via.ext.size = (uint32_t)v;
				slot->via.ext.ptr = ptr;
			}
		} else if (kind == K_ARRAY || kind == K_MAP) {
			if (sp >= max_depth) {
				rc = core_error_set(CAIRN_E_CORRUPT,
						    "archive is corrupted: msgpack nested deeper than %u levels",
						    max_depth);
				goto out;
			}
			uint64_t slots = kind == K_MAP ? 2 * v : v;
			size_t avail = len - pos;
			if (owed > avail || slots > avail - owed) {
				rc = truncated(at);
				goto out;
			}
			/* slots <= len, so this only trips where size_t is narrow */
			size_t elem = kind == K_MAP ? sizeof(msgpack_object_kv) : sizeof(msgpack_object);
			if (v > SIZE_MAX / elem) {
				rc = out_of_memory();
				goto out;
			}
			void *mem = NULL;
			if (v) {
				mem = msgpack_zone_malloc(zone, (size_t)v * elem);
				if (!mem) {
					rc = out_of_memory();
					goto out;
				}
			}
			if (kind == K_MAP) {
				slot->type = MSGPACK_OBJECT_MAP;
				slot->via.map.size = (uint32_t)v;
				slot->via.map.ptr = mem;
			} else {
				slot->type = MSGPACK_OBJECT_ARRAY;
				slot->via.array.size = (uint32_t)v;
				slot->via.array.ptr = mem;
			}
			if (v) {
				if (sp == cap) {
					size_t ncap = cap * 2 < max_depth ? cap * 2 : max_depth;
					struct frame *ns = stack == embed ? malloc(ncap * sizeof(*ns)) :
							   realloc(stack, ncap * sizeof(*ns));
					if (!ns) {
						rc = out_of_memory();
						goto out;
					}
					if (stack == embed)
						memcpy(ns, embed, sizeof(embed));
					stack = ns;
					cap = ncap;
				}
				struct frame *f = &stack[sp++];
				f->arr = kind == K_ARRAY ? mem : NULL;
				f->kv = kind == K_MAP ? mem : NULL;
				f->next = 0;
				f->slots = slots;
				owed += slots - 1;
				slot = frame_slot(f);
				continue;
			}
		}

		/* slot is complete: move to the next open slot, closing finished containers */
		for (;;) {
			if (sp == 0)
				goto done;
			struct frame *f = &stack[sp - 1];
			if (++f->next < f->slots) {
				owed--;
				slot = frame_slot(f);
				break;
			}
			sp--;
		}
	}
done:
	*out = root;
	*off = pos;
out:
	if (stack != embed)
		free(stack);
	return rc;
}
