/*
 * codec.h — lossless JSON <-> msgpack conversion for document records.
 *
 * A backup stores each JSON document as one msgpack value; a restore turns it
 * back into JSON. The contract is that the restored document has exactly the
 * same JSON value: every number keeps its digits (`1.10` stays `1.10`, `-0`
 * stays `-0`, a 30-digit integer stays 30 digits) and every string keeps its
 * bytes. The restored *text* is compact and uses the canonical string escapes
 * below, so JSON -> msgpack -> JSON reproduces the input byte for byte when the
 * input is already compact and canonically escaped.
 *
 * Mapping (JSON -> msgpack; the reverse direction inverts it):
 *  - null / true / false  -> nil / true / false.
 *  - array                -> array, same order.
 *  - object               -> map, members in input order; duplicate keys are
 *                            kept as separate entries, in order.
 *  - string               -> str holding the decoded UTF-8 bytes. Escapes are
 *                            decoded (\" \\ \/ \b \f \n \r \t \uXXXX); a
 *                            surrogate pair becomes one 4-byte sequence;
 *                            `\u0000` becomes a NUL byte inside the str.
 *  - number, by the first rule that applies:
 *      1. integer text (no '.', 'e', 'E') that is the canonical decimal of a
 *         value fitting int64 (negative) or uint64 (non-negative)
 *         -> int (smallest msgpack int encoding). `-0` is not canonical.
 *      2. strtod() gives a finite double d and the shortest "%.{p}g"
 *         (p = 1..17) that reads back as d is exactly the input text
 *         -> float64 d. (`1.5`, `0.1`, `-0`, `1e+20`.)
 *      3. otherwise -> ext type 1 (CORE_JSON_EXT_NUMBER) whose payload is
 *         the number text as written (ASCII). (`1.10`, `1E5`, `1e400`,
 *         `-1.5e-7`, `100000000000000000000`.)
 *
 * Output (msgpack -> JSON) is compact (no whitespace):
 *  - int prints in decimal; float64 prints in the shortest "%.{p}g" form that
 *    reads back as the same double (the same rule as above, so rule-2 numbers
 *    come back verbatim); ext 1 prints its payload verbatim after checking it
 *    against the RFC 8259 number grammar.
 *  - strings escape only `"`, `\` and control characters < 0x20: \b \f \n \r
 *    \t in short form, any other as \u00xx (lowercase hex, NUL as \u0000).
 *    Everything else, including `/`, DEL and non-ASCII, is written as raw UTF-8.
 *
 * Number conversion always uses the "C" numeric locale, whatever the process
 * set with setlocale(), so a ',' decimal point can never leak in or out.
 *
 * Thread safety: both calls report failures through the core's single error
 * slot (error.h), so, like the rest of the core, they are single-threaded.
 *
 * Reading the msgpack back: use core_mpack_next (mpack.h), not msgpack-c's
 * msgpack_unpack_next, which refuses nesting deeper than 32 levels
 * (MSGPACK_EMBED_STACK_SIZE, compiled into libmsgpackc) — less than
 * CORE_JSON_MAX_DEPTH — and pre-allocates whatever a header claims.
 */
#ifndef CORE_CODEC_H
#define CORE_CODEC_H

#include <stddef.h>

#include <msgpack.h>

#include "buf.h"

/* Deepest nesting of arrays/objects accepted in either direction: `[]` is
 * depth 1, 512 nested brackets are accepted, 513 are refused. */
#define CORE_JSON_MAX_DEPTH 512

/* msgpack ext type holding a number's text that no int or float64 keeps. */
#define CORE_JSON_EXT_NUMBER 1

/*
 * Parse exactly one JSON value from json[0..len) and append its msgpack
 * encoding to pk.
 *
 * Input is RFC 8259: whitespace (space, tab, CR, LF) may surround the value,
 * nothing else may follow it. The text must be valid UTF-8 (no overlong forms,
 * no encoded surrogates, nothing above U+10FFFF); control characters below
 * 0x20 must be escaped inside strings; a \u escape of a lone or unpaired
 * surrogate is refused; numbers follow the strict grammar (no leading zeros,
 * no '+', no `.5`, no `1.`, no NaN/Infinity). `json` need not be
 * NUL-terminated and may contain NUL bytes (which are then an error).
 *
 * The input is fully validated before anything is packed, so on
 * CAIRN_E_INVALID nothing has been written to pk.
 *
 * Returns:
 *  CAIRN_OK
 *  CAIRN_E_INVALID  bad JSON; message "invalid JSON at byte N: <why>" with N
 *                   the 0-based offset of the offending byte (len for an
 *                   early end), or "JSON nested deeper than 512 levels"
 *  CAIRN_E_NOMEM    allocation failed, or pk's write callback failed (the
 *                   value in pk is then incomplete)
 * `json` is borrowed for the call; pk is only written to.
 */
int core_json_to_msgpack(const char *json, size_t len, msgpack_packer *pk);

/*
 * Append the compact JSON text of obj to out.
 *
 * obj is treated as untrusted (it comes from an archive): anything
 * core_json_to_msgpack would not have produced is refused, never crashed on:
 * a map key that is not a str, a str that is not valid UTF-8, bin, float32,
 * a non-finite float64, an ext type other than 1, an ext 1 payload that is not
 * an RFC 8259 number, nesting deeper than CORE_JSON_MAX_DEPTH. (A float64 that
 * the parser would have turned into an int, such as 5.0, is still accepted
 * and printed as "5".) obj's sizes and pointers must be consistent, as
 * core_mpack_next makes them.
 *
 * Returns:
 *  CAIRN_OK
 *  CAIRN_E_CORRUPT  obj is not a codec value (message says why)
 *  CAIRN_E_NOMEM    out could not grow
 * On failure out is restored to its length at entry.
 */
int core_msgpack_to_json(const msgpack_object *obj, struct core_buf *out);

/* 1 when s[0..n) is valid UTF-8 (no overlong form, surrogate or code point
 * above U+10FFFF) without a NUL byte: what every text column must be. */
int core_text_valid(const char *s, size_t n);

#endif /* CORE_CODEC_H */
