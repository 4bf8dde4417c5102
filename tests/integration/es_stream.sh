#!/usr/bin/env bash
# Elasticsearch search pages are read as they arrive, not held whole: a
# backup of one 40 MB page (400 documents of 100 KB, page_size=10000) needs a
# small fraction of the page more memory than a backup of nothing, and
# restores byte for byte (the documents are escapes, numbers and literals, so
# the chunks the answer arrives in end inside every kind of token). A broken
# or hostile server's answer (truncated, a hit that never ends, a failed
# shard, junk between hits, bytes after the answer, deep nesting) fails the
# backup with one clear error, in bounded memory, with the point in time
# closed.
. "$(dirname "$0")/lib.sh"
need_es
case ",${ASAN_OPTIONS:-}," in *intercept_tls_get_addr*) ;; *)
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}intercept_tls_get_addr=0" ;; esac
# ASan keeps freed blocks in a quarantine (256 MB by default), which would
# make peak RSS count what was ever allocated instead of what is held
MEASURED="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"

P="st$$_"  # 400 documents of 100 KB: one page of 40 MB
S="st$$s_" # nothing
T="st$$t_" # 40 documents of 100 KB of every kind of token
Q="st$$q_" # their restore
fpid=
cleanup() { # the documents are big: they leave the shared server also when a check fails
	local list="" pre i
	for pre in "$P" "$Q" "$S" "$T"; do
		for i in $METADATA_TABLES flows_revisions; do list="$list${list:+,}$pre$i"; done
	done
	curl -s -o /dev/null -X DELETE "http://127.0.0.1:$ESPORT/$list?ignore_unavailable=true" || true
	[ -z "$fpid" ] || kill "$fpid" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
for pre in "$P" "$S" "$T"; do es PUT "/${pre}flows" "$ES_MAPPING" >/dev/null; done
python3 - "$P" "$T" "$WORK/page.bytes" >"$WORK/load.ndjson" <<'PY'
import base64, json, os, sys
P, T = sys.argv[1], sys.argv[2]
def put(pre, i, body):
    doc = '{"tenantId":"main","namespace":"big","id":"f%03d","revision":1,"pad":%s}' % (i, body)
    print(json.dumps({"index": {"_index": pre + "flows", "_id": "main_big_f%03d" % i}}))
    print(doc)
    return len(doc)
total = sum(put(P, i, json.dumps(base64.b64encode(os.urandom(75000)).decode()))
            for i in range(400))
# escapes that the chunks of the answer may cut anywhere, numbers, literals: 100 KB each
unit = ('"caf\\u00e9 \\ud83d\\ude80 \\"q\\" \\\\ \\/ \\n\\t", 1.10, -0.5e-3, '
        '123456789012345678901234567890, true, false, null, {"k": [1, {"l": ""}]}, ')
soup = (unit * (100000 // len(unit) + 1))[:100000]
soup = "[" + soup[:soup.rindex(", ")] + "]"
json.loads(soup)
for i in range(40):
    put(T, i, soup)
open(sys.argv[3], "w").write("%d\n" % total)
PY
curl -fsS -o "$WORK/load.out" -H 'Content-Type: application/x-ndjson' --data-binary @"$WORK/load.ndjson" \
	"http://127.0.0.1:$ESPORT/_bulk?refresh=true"
grep -q '"errors":false' "$WORK/load.out" || fail "loading the documents failed"
page=$(cat "$WORK/page.bytes")

# backup PREFIX → peak RSS in KB; the backup's URI in $WORK/uri
measure() {
	ASAN_OPTIONS=$MEASURED /usr/bin/time -f %M -o "$WORK/rss" "$CAIRN" backups create FULL \
		--source "$(esuri)" --source-option index_prefix="$1" --source-option page_size=10000 \
		--storage "$STORE" --no-progress >"$WORK/uri" 2>"$WORK/create.err" ||
		{ cat "$WORK/create.err" "$WORK/rss"; fail "backup of $1 failed"; }
	grep -q "Backup summary: .*FLOW: $2," "$WORK/create.err" || { cat "$WORK/create.err"; fail "the backup of $1 does not hold $2 flows"; }
	tail -n 1 "$WORK/rss"
}
small=$(measure "$S" 0)
big=$(measure "$P" 400)
# a page held whole would add at least its size; streamed, it adds one hit
# and the core's own buffers
[ $(((big - small) * 1024)) -lt $((page / 2)) ] ||
	fail "peak RSS grew by $((big - small)) KB for a page of $((page / 1024)) KB: the page is held whole"
note "one page of $((page / 1024)) KB: peak RSS $small KB backing up nothing, $big KB backing up the page"

# the token soup, one page cut into chunks anywhere, comes back with every
# value equal (numbers keep their digits; the core stores JSON as msgpack and
# writes it back compact: core/codec.h)
measure "$T" 40 >/dev/null
u=$(sed 's/^Backup created: //' "$WORK/uri")
"$CAIRN" backups restore "$u" --source "$(esuri)" --source-option index_prefix=$Q --storage "$STORE" \
	>"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err"; fail "restore of the token soup failed"; }
values() { # every document of INDEX, numbers as written, in id order → one digest
	es POST "/$1/_search" '{"size":10000,"sort":[{"id":"asc"}],"query":{"match_all":{}}}' | python3 -c '
import hashlib, json, sys
d = json.load(sys.stdin, parse_float=str, parse_int=str)
docs = [(h["_id"], h["_source"]) for h in d["hits"]["hits"]]
assert len(docs) == 40, len(docs)
print(hashlib.md5(json.dumps(docs, sort_keys=True).encode()).hexdigest())'
}
want=$(values "${T}flows")
[ "$(values "${Q}flows_revisions")" = "$want" ] || fail "the restored revisions differ from the documents"
[ "$(values "${Q}flows")" = "$want" ] || fail "the rebuilt flows differ from the documents"
note "every value of the token soup restored, as revisions and as the flows rebuilt from them"

# ------------------------------------------------------------------ a broken or hostile server
python3 "$(dirname "$0")/es_fake.py" "$WORK/fake.port" 2>"$WORK/fake.log" &
fpid=$!
for _ in $(seq 50); do [ -s "$WORK/fake.port" ] && break; sleep 0.1; done
[ -s "$WORK/fake.port" ] || { cat "$WORK/fake.log"; fail "the scripted server did not start"; }
fake="elasticsearch://127.0.0.1:$(cat "$WORK/fake.port")"
fake_stats() { curl -fsS "http://127.0.0.1:$(cat "$WORK/fake.port")/_fake/stats"; }

# the scripted server itself: a valid page, one byte per write
create FULL --source "$fake" --source-option index_prefix=ok_ >/dev/null
grep -q 'Backup summary: .*FLOW: 2,' "$WORK/create.err" || { cat "$WORK/create.err"; fail "the valid page did not give 2 flows"; }
for c in "trunc_:malformed search answer (it ends in the middle)" "shards_:shards failed during the search" \
	"junk_:malformed search answer (hits array)" "tail_:malformed search answer (data after the answer)" \
	"deep_:malformed search answer (hit)" "huge_:is larger than 64 MiB (refused)"; do
	pre=${c%%:*}
	ASAN_OPTIONS=$MEASURED expect_fail 5 /usr/bin/time -f %M -o "$WORK/rss" "$CAIRN" backups create FULL \
		--source "$fake" --source-option index_prefix="$pre" --storage "$STORE" --no-progress
	case "$ERR" in *"${c#*:}"*) ;; *) fail "$pre: the error does not say '${c#*:}': $ERR" ;; esac
	# a hit that never ends: refused at 64 MiB, while the server offered 1 GiB
	[ "$pre" != huge_ ] || [ "$(tail -n 1 "$WORK/rss")" -lt $((small + 3 * 64 * 1024)) ] ||
		fail "the endless hit took $(tail -n 1 "$WORK/rss") KB"
done
fake_stats | python3 -c 'import json, sys; s = json.load(sys.stdin); assert s["opened"] == s["closed"] == 7, s' ||
	fail "a point in time was left open: $(fake_stats)"
note "truncated, endless, failed-shard, junk, trailing and deep answers refused; every point in time closed"

note "ok"
