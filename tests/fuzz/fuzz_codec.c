/*
 * fuzz_codec.c — libFuzzer target for the JSON <-> msgpack codec (codec.h).
 * The input is tried both ways:
 *  - as msgpack: every object core_mpack_next (mpack.h, the reader restores
 *    use) finds goes through core_msgpack_to_json; the JSON it gives must
 *    parse back, and converting that back again must reproduce the same text
 *    (the codec's contract);
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
#include "mpack.h"
#include "record.h"

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
	msgpack_zone *zone = msgpack_zone_new(8192);
	if (!zone)
		goto out;
	msgpack_object obj;
	size_t off = 0;
	rc = core_mpack_next(mp.data, mp.len, &off, zone, &obj, CORE_JSON_MAX_DEPTH);
	if (rc == CAIRN_OK) {
		rc = core_msgpack_to_json(&obj, &again);
		if (rc == CAIRN_OK &&
		    (again.len != json->len || memcmp(again.data, json->data, json->len) != 0))
			fuzz_fail("round trip changed the JSON text", json, &again);
		if (rc == CAIRN_E_CORRUPT)
			fuzz_fail("codec refuses its own msgpack", json, NULL);
	} else if (rc != CAIRN_E_NOMEM) {
		fuzz_fail("core_mpack_next cannot read the codec's msgpack", json, NULL);
	}
	msgpack_zone_free(zone);
out:
	core_buf_free(&mp);
	core_buf_free(&again);
}

static void fuzz_as_msgpack(const uint8_t *data, size_t size)
{
	msgpack_zone *zone = msgpack_zone_new(8192);
	if (!zone)
		return;
	size_t off = 0;
	for (int i = 0; i < 64 && off < size; i++) {
		msgpack_object obj;
		size_t before = off;
		msgpack_zone_clear(zone);
		if (core_mpack_next((const char *)data, size, &off, zone, &obj,
				    CORE_JSON_MAX_DEPTH) != CAIRN_OK)
			break;
		if (off <= before)
			fuzz_fail("core_mpack_next succeeded without advancing", NULL, NULL);
		struct core_buf json = CORE_BUF_INIT;
		if (core_msgpack_to_json(&obj, &json) == CAIRN_OK)
			check_json_stable(&json);
		else if (json.len != 0)
			fuzz_fail("failed conversion left output behind", &json, NULL);
		core_buf_free(&json);
	}
	msgpack_zone_free(zone);
}

static void fuzz_as_json(const uint8_t *data, size_t size)
{
	struct core_buf mp = CORE_BUF_INIT, json = CORE_BUF_INIT;
	msgpack_packer pk;
	core_packer_init(&pk, &mp);
	int rc = core_json_to_msgpack((const char *)data, size, &pk);
	if (rc == CAIRN_E_INVALID && mp.len != 0)
		fuzz_fail("refused JSON left msgpack behind", &mp, NULL);
	msgpack_zone *zone = rc == CAIRN_OK ? msgpack_zone_new(8192) : NULL;
	if (zone) {
		msgpack_object obj;
		size_t off = 0;
		rc = core_mpack_next(mp.data, mp.len, &off, zone, &obj, CORE_JSON_MAX_DEPTH);
		if (rc == CAIRN_E_CORRUPT)
			fuzz_fail("core_mpack_next cannot read the codec's msgpack", &mp, NULL);
		if (rc == CAIRN_OK) {
			if (off != mp.len)
				fuzz_fail("codec wrote more than one msgpack value", NULL, NULL);
			rc = core_msgpack_to_json(&obj, &json);
			if (rc == CAIRN_E_CORRUPT)
				fuzz_fail("codec refuses the msgpack it made from JSON", NULL, NULL);
			if (rc == CAIRN_OK)
				check_json_stable(&json);
		}
		msgpack_zone_free(zone);
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
