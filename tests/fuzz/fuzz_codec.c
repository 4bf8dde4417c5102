/*
 * fuzz_codec.c — libFuzzer target for the JSON <-> msgpack codec (codec.h).
 * The input is tried both ways:
 *  - as msgpack: every object msgpack_unpack_next finds goes through
 *    core_msgpack_to_json; the JSON it gives must parse back, and converting
 *    that back again must reproduce the same text (the codec's contract);
 *  - as JSON text: core_json_to_msgpack, then the msgpack back to JSON, then
 *    that JSON again, which must give the same text.
 * A broken round trip aborts, so libFuzzer reports it as a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "buf.h"
#include "cairn/status.h"
#include "codec.h"
#include "error.h"
#include "record.h"

/*
 * msgpack-c's unpacker allocates for the element count an array or map
 * header declares before reading the elements, so a few hostile bytes ask
 * for up to hundreds of GiB. Production usually gets NULL (msgpack_unpack_next fails
 * and the core reports an error) or untouched virtual memory; make ASan fail any
 * allocation over 1 GiB with NULL instead of aborting or filling its shadow
 * memory.
 */
const char *__asan_default_options(void);

const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1:max_allocation_size_mb=1024";
}

static void fuzz_fail(const char *what, const struct core_buf *a, const struct core_buf *b)
{
	fprintf(stderr, "fuzz_codec: %s (%s)\n", what, core_error_message());
	if (a && a->data)
		fprintf(stderr, "  first:  %.*s\n", (int)a->len, a->data);
	if (b && b->data)
		fprintf(stderr, "  second: %.*s\n", (int)b->len, b->data);
	abort();
}

/*
 * json (produced by the codec) must convert to msgpack and back to the very
 * same text.
 */
static void check_json_stable(const struct core_buf *json)
{
	struct core_buf mp = CORE_BUF_INIT, again = CORE_BUF_INIT;
	msgpack_packer pk;
	core_packer_init(&pk, &mp);
	int rc = core_json_to_msgpack(json->data, json->len, &pk);
	if (rc == CAIRN_E_NOMEM)
		goto out;
	if (rc)
		fuzz_fail("codec output does not parse back", json, NULL);
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0;
	int ur = msgpack_unpack_next(&u, mp.data, mp.len, &off);
	if (ur == MSGPACK_UNPACK_SUCCESS) {
		rc = core_msgpack_to_json(&u.data, &again);
		if (rc == CAIRN_OK &&
		    (again.len != json->len || memcmp(again.data, json->data, json->len) != 0))
			fuzz_fail("round trip changed the JSON text", json, &again);
		if (rc == CAIRN_E_CORRUPT)
			fuzz_fail("codec refuses its own msgpack", json, NULL);
	} else if (ur != MSGPACK_UNPACK_NOMEM_ERROR) {
		/* msgpack-c refuses nesting deeper than 32; anything else is a bug */
		int depth = 0, max = 0, in_str = 0;
		for (size_t i = 0; i < json->len; i++) {
			char c = json->data[i];
			if (in_str) {
				if (c == '\\')
					i++;
				else if (c == '"')
					in_str = 0;
			} else if (c == '"') {
				in_str = 1;
			} else if (c == '[' || c == '{') {
				max = ++depth > max ? depth : max;
			} else if (c == ']' || c == '}') {
				depth--;
			}
		}
		if (max <= 30)
			fuzz_fail("msgpack-c cannot read the codec's msgpack", json, NULL);
	}
	msgpack_unpacked_destroy(&u);
out:
	core_buf_free(&mp);
	core_buf_free(&again);
}

static void fuzz_as_msgpack(const uint8_t *data, size_t size)
{
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0;
	for (int i = 0; i < 64 && off < size; i++) {
		size_t before = off;
		int ur = msgpack_unpack_next(&u, (const char *)data, size, &off);
		if (ur != MSGPACK_UNPACK_SUCCESS && ur != MSGPACK_UNPACK_EXTRA_BYTES)
			break;
		struct core_buf json = CORE_BUF_INIT;
		if (core_msgpack_to_json(&u.data, &json) == CAIRN_OK)
			check_json_stable(&json);
		else if (json.len != 0)
			fuzz_fail("failed conversion left output behind", &json, NULL);
		core_buf_free(&json);
		if (off <= before)
			break;
	}
	msgpack_unpacked_destroy(&u);
}

static void fuzz_as_json(const uint8_t *data, size_t size)
{
	struct core_buf mp = CORE_BUF_INIT, json = CORE_BUF_INIT;
	msgpack_packer pk;
	core_packer_init(&pk, &mp);
	int rc = core_json_to_msgpack((const char *)data, size, &pk);
	if (rc == CAIRN_E_INVALID && mp.len != 0)
		fuzz_fail("refused JSON left msgpack behind", &mp, NULL);
	if (rc == CAIRN_OK) {
		msgpack_unpacked u;
		msgpack_unpacked_init(&u);
		size_t off = 0;
		if (msgpack_unpack_next(&u, mp.data, mp.len, &off) == MSGPACK_UNPACK_SUCCESS) {
			if (off != mp.len)
				fuzz_fail("codec wrote more than one msgpack value", NULL, NULL);
			rc = core_msgpack_to_json(&u.data, &json);
			if (rc == CAIRN_E_CORRUPT)
				fuzz_fail("codec refuses the msgpack it made from JSON", NULL, NULL);
			if (rc == CAIRN_OK)
				check_json_stable(&json);
		}
		msgpack_unpacked_destroy(&u);
	}
	core_buf_free(&mp);
	core_buf_free(&json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	core_error_clear();
	fuzz_as_msgpack(data, size);
	fuzz_as_json(data, size);
	return 0;
}
