"""State of the Elasticsearch test server: indices, documents, mappings, PITs.

Documents are kept as chains of versions, each stamped with the per-index
sequence number that wrote it.  Search reads "as of" a checkpoint: the last
refreshed sequence number for ordinary searches, the sequence numbers frozen
when it was opened for a point in time.  That is how Lucene's near-real-time
readers behave from the outside (a write is invisible to search until a
refresh, a PIT keeps seeing the old documents) without copying anything on
refresh.  Old versions are dropped as soon as no checkpoint can see them.

Every mutation is appended to DIR/journal.ndjson and replayed on start, so a
restarted server keeps its indices.
"""

import base64
import collections
import json
import os
import re
import secrets
import threading
import time

import esdates

# --------------------------------------------------------------------------
# JSON


class Raw:
    """JSON text to be embedded verbatim in a response (a document's _source,
    returned byte for byte as it was indexed, as Elasticsearch does)."""
    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text


def enc(obj):
    parts = []
    _enc(obj, parts)
    return "".join(parts)


_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode


def _enc(o, out):
    if isinstance(o, dict):
        out.append("{")
        first = True
        for k, v in o.items():
            if not first:
                out.append(",")
            first = False
            out.append(_dumps(str(k)))
            out.append(":")
            _enc(v, out)
        out.append("}")
    elif isinstance(o, (list, tuple)):
        out.append("[")
        for i, v in enumerate(o):
            if i:
                out.append(",")
            _enc(v, out)
        out.append("]")
    elif isinstance(o, Raw):
        out.append(o.text)
    else:
        out.append(_dumps(o))


class DuplicateKey(ValueError):
    pass


def _pairs(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise DuplicateKey(k)
        d[k] = v
    return d


def _bad_constant(name):
    raise ValueError("non-standard number %s" % name)


def loads(text):
    """Strict JSON: duplicate keys and NaN/Infinity are errors, as in ES."""
    return json.loads(text, object_pairs_hook=_pairs, parse_constant=_bad_constant)


# --------------------------------------------------------------------------
# Errors


class ESError(Exception):
    """An error answered with Elasticsearch's error object."""

    def __init__(self, status, etype, reason, extra=None, caused_by=None, body=None,
                 headers=None):
        super().__init__(reason)
        self.status = status
        self.etype = etype
        self.reason = reason
        self.extra = extra or {}
        self.caused_by = caused_by
        self.body = body
        self.headers = headers or []

    def cause(self):
        c = {"type": self.etype, "reason": self.reason}
        c.update(self.extra)
        if self.caused_by:
            c["caused_by"] = self.caused_by
        return c

    def to_body(self):
        if self.body is not None:
            return self.body
        rc = {"type": self.etype, "reason": self.reason}
        rc.update(self.extra)
        e = {"root_cause": [rc], "type": self.etype, "reason": self.reason}
        e.update(self.extra)
        if self.caused_by:
            e["caused_by"] = self.caused_by
        return {"error": e, "status": self.status}


def bad_request(reason, etype="illegal_argument_exception", **kw):
    return ESError(400, etype, reason, **kw)


def validation(*msgs):
    text = "Validation Failed: " + "".join("%d: %s;" % (i + 1, m) for i, m in enumerate(msgs))
    return ESError(400, "action_request_validation_exception", text)


def index_not_found(name, reason=None):
    return ESError(404, "index_not_found_exception", reason or "no such index [%s]" % name,
                   {"resource.type": "index_or_alias", "resource.id": name,
                    "index_uuid": "_na_", "index": name})


def shard_failure(idx, inner, status=400):
    """Search-phase errors come wrapped in the per-shard failure report."""
    failed = {"shard": 0, "index": idx.name if idx else None, "node": NODE_ID,
              "reason": inner}
    body = {"error": {"root_cause": [dict((k, v) for k, v in inner.items() if k != "caused_by")],
                      "type": "search_phase_execution_exception",
                      "reason": "all shards failed", "phase": "query", "grouped": True,
                      "failed_shards": [failed]},
            "status": status}
    if "caused_by" in inner:
        body["error"]["caused_by"] = inner["caused_by"]
    return ESError(status, "search_phase_execution_exception", "all shards failed", body=body)


def query_shard_error(idx, reason, etype="query_shard_exception", status=400, caused_by=None):
    inner = {"type": etype, "reason": reason}
    if idx is not None:
        inner.update({"index_uuid": idx.uuid, "index": idx.name})
    if caused_by:
        inner["caused_by"] = caused_by
    return shard_failure(idx, inner, status)


def new_uuid():
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


NODE_ID = new_uuid()
CLUSTER_UUID = new_uuid()

# --------------------------------------------------------------------------
# Names


_BAD_CHARS = set('\\/*?"<>| ,#:')


def validate_index_name(name, what="index"):
    def bad(msg):
        return ESError(400, "invalid_index_name_exception",
                       "Invalid %s name [%s], %s" % (what, name, msg),
                       {"index_uuid": "_na_", "index": name})
    if not name:
        raise bad("must not be empty")
    if name != name.lower():
        raise bad("must be lowercase")
    for c in name:
        if c in _BAD_CHARS:
            if c == ":":
                raise bad("must not contain ':'")
            if c == "#":
                raise bad("must not contain '#'")
            raise bad("must not contain the following characters "
                      "[' ','\"','*',',','/','<','>','?','\\','|']")
    if name[0] in "_-+":
        raise bad("must not start with '_', '-', or '+'")
    if name in (".", ".."):
        raise bad("must not be '.' or '..'")
    if len(name.encode()) > 255:
        raise bad("index name is too long, (%d > 255)" % len(name.encode()))


def wildcard_re(pattern):
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$")


# --------------------------------------------------------------------------
# Settings


def flatten(d, prefix=""):
    out = {}
    for k, v in (d or {}).items():
        key = prefix + k
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def unflatten(flat):
    out = {}
    for k, v in sorted(flat.items()):
        cur = out
        parts = k.split(".")
        for p in parts[:-1]:
            nxt = cur.setdefault(p, {})
            if not isinstance(nxt, dict):
                nxt = cur[p] = {"": nxt}
            cur = nxt
        cur[parts[-1]] = v
    return out


def settings_string(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return [settings_string(x) for x in v]
    return str(v)


def parse_time(value, what="keep_alive"):
    """Elasticsearch time units: d h m s ms micros nanos; returns seconds."""
    if isinstance(value, (int, float)):
        return value / 1000.0
    m = re.match(r"^(-?\d+(?:\.\d+)?)(d|h|m|s|ms|micros|nanos)$", str(value).strip())
    if not m:
        raise ESError(400, "parse_exception",
                      "failed to parse setting [%s] with value [%s] as a time value: unit is missing "
                      "or unrecognized" % (what, value))
    n = float(m.group(1))
    return n * {"d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 1e-3, "micros": 1e-6,
                "nanos": 1e-9}[m.group(2)]


# --------------------------------------------------------------------------
# Mappings

NUMERIC = {"long", "integer", "short", "byte", "double", "float", "half_float",
           "scaled_float", "unsigned_long"}
INTEGRAL = {"long", "integer", "short", "byte", "unsigned_long"}
KNOWN_TYPES = NUMERIC | {"text", "keyword", "boolean", "date", "date_nanos", "object",
                         "nested", "flattened", "binary", "ip", "match_only_text",
                         "constant_keyword", "wildcard"}


def normalize_mappings(m, path=""):
    """Expand dotted property names and check what Elasticsearch checks."""
    if m is None:
        return {}
    if not isinstance(m, dict):
        raise ESError(400, "mapper_parsing_exception", "Failed to parse mapping: Expected map for "
                      "property [mappings] but got a %s" % type(m).__name__)
    out = {}
    for k, v in m.items():
        if k == "properties":
            props = {}
            for name, d in (v or {}).items():
                if name == "" or name.strip() == "":
                    msg = "field name cannot be an empty string" if name == "" else \
                        "field name cannot contain only whitespaces"
                    raise ESError(400, "mapper_parsing_exception",
                                  "Failed to parse mapping: " + msg,
                                  caused_by={"type": "illegal_argument_exception", "reason": msg})
                if not isinstance(d, dict):
                    raise ESError(400, "mapper_parsing_exception",
                                  "Failed to parse mapping: Expected map for property [fields] on "
                                  "field [%s] but got a class java.lang.String" % name)
                parts = name.split(".")
                target = props
                for p in parts[:-1]:
                    target = target.setdefault(p, {}).setdefault("properties", {})
                full = (path + "." if path else "") + name
                d = normalize_mappings(d, full)
                t = d.get("type", "object" if "properties" in d or "type" not in d else None)
                if t not in KNOWN_TYPES:
                    raise ESError(400, "mapper_parsing_exception",
                                  "Failed to parse mapping: No handler for type [%s] declared on "
                                  "field [%s]" % (t, name),
                                  caused_by={"type": "mapper_parsing_exception",
                                             "reason": "No handler for type [%s] declared on field "
                                                       "[%s]" % (t, name)})
                target[parts[-1]] = d
            out["properties"] = props
        elif k == "dynamic":
            out["dynamic"] = settings_string(v).lower()
        else:
            out[k] = v
    return out


def field_def(mappings, path):
    """Mapping definition for a dotted field path, or None when unmapped.
    Multi-fields ("title.keyword") resolve to the sub-field; the second value
    is the source path the values come from."""
    parts = path.split(".")
    props = mappings.get("properties", {})
    i = 0
    while i < len(parts):
        # Try the longest key first: a mapping may also have been written with
        # a literal dot in an object's name.
        found = None
        for j in range(len(parts), i, -1):
            key = ".".join(parts[i:j])
            if key in props:
                found = (key, j)
                break
        if not found:
            return None, None
        d = props[found[0]]
        i = found[1]
        if i == len(parts):
            return d, path
        if "properties" in d:
            props = d["properties"]
            continue
        rest = ".".join(parts[i:])
        sub = d.get("fields", {}).get(rest)
        if sub is not None:
            return sub, ".".join(parts[:i])
        return None, None
    return None, None


def field_type(d):
    if d is None:
        return None
    return d.get("type", "object")


def source_values(obj, path):
    """All leaf values at a dotted path of a parsed _source (arrays flattened,
    dotted keys honoured)."""
    out = []
    _collect(obj, path.split(".") if path else [], out)
    return out


def _collect(obj, parts, out):
    if isinstance(obj, list):
        for el in obj:
            _collect(el, parts, out)
        return
    if not parts:
        if obj is not None:
            out.append(obj)
        return
    if not isinstance(obj, dict):
        return
    for j in range(1, len(parts) + 1):
        key = ".".join(parts[:j])
        if key in obj:
            _collect(obj[key], parts[j:], out)


def _preview(v):
    if isinstance(v, dict):
        return "{" + ", ".join("%s=%s" % (k, _preview(x)) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_preview(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _parse_failure(field, ftype, doc_id, value, reason):
    return ESError(400, "document_parsing_exception",
                   "[1:%d] failed to parse field [%s] of type [%s] in document with id '%s'. "
                   "Preview of field's value: '%s'" % (2, field, ftype, doc_id, _preview(value)),
                   caused_by={"type": "illegal_argument_exception", "reason": reason})


def check_value(field, d, value, doc_id):
    """Reject values a mapped field cannot hold, as Elasticsearch does."""
    t = field_type(d)
    if value is None:
        return
    if t in ("object", "nested"):
        if not isinstance(value, dict):
            raise ESError(400, "document_parsing_exception",
                          "[1:2] object mapping for [%s] tried to parse field [%s] as object, but "
                          "found a concrete value" % (field, field.split(".")[-1]))
        return
    if isinstance(value, dict) and t not in ("flattened", "object"):
        raise _parse_failure(field, t, doc_id, value,
                             "Cannot parse object as %s" % t)
    if t in NUMERIC:
        try:
            to_number(value, t)
        except ValueError:
            raise _parse_failure(field, t, doc_id, value,
                                 "For input string: \"%s\"" % _preview(value))
    elif t in ("date", "date_nanos"):
        try:
            esdates.parse(value, d.get("format"))
        except esdates.DateError:
            raise _parse_failure(field, t, doc_id, value,
                                 "failed to parse date field [%s] with format [%s]"
                                 % (_preview(value), d.get("format", esdates.DEFAULT_FORMAT)))
    elif t == "boolean":
        if value not in (True, False, "true", "false", ""):
            raise _parse_failure(field, t, doc_id, value,
                                 "Failed to parse value [%s] as only [true] or [false] are allowed."
                                 % _preview(value))


def to_number(v, t="double"):
    if isinstance(v, bool):
        raise ValueError("boolean")
    if isinstance(v, (int, float)):
        n = v
    elif isinstance(v, str):
        s = v.strip()
        try:
            n = int(s)
        except ValueError:
            n = float(s)
    else:
        raise ValueError("not a number")
    if t in INTEGRAL:
        if isinstance(n, float):
            if n != n or n in (float("inf"), float("-inf")):
                raise ValueError("not finite")
            n = int(n)  # coerce truncates, as Elasticsearch does
    return n


def dynamic_type(value):
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "long"}
    if isinstance(value, float):
        return {"type": "float"}
    if isinstance(value, str):
        if esdates.looks_like_dynamic_date(value):
            return {"type": "date"}
        return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
    if isinstance(value, dict):
        return {"properties": {}}
    return None


def apply_dynamic(mappings, source, doc_id):
    """Check source against mappings; return the mapping with dynamically added
    fields (the same object when nothing changed)."""
    # First pass on the mapping itself: most documents add no field, so the
    # copy (second pass) is only made when one does.
    changed = [False]
    mutate = [False]
    new = mappings if mappings else {}

    def walk(props_owner, obj, prefix, dyn):
        props = props_owner.get("properties")
        if props is None:
            props = {}
            if dyn == "true" and mutate[0]:
                props_owner["properties"] = props
        for key, value in obj.items():
            parts = key.split(".")
            if "" in parts:
                raise ESError(400, "document_parsing_exception",
                              "[1:2] field name cannot contain only dots" if not key.strip(".")
                              else "[1:2] object field starting or ending with a [.] makes object "
                                   "resolution ambiguous: [%s]" % key)
            # "a.b": v is the same as {"a": {"b": v}}
            owner, p, cur_dyn, cur_prefix = props_owner, props, dyn, prefix
            for part in parts[:-1]:
                d = p.get(part)
                full = cur_prefix + part
                if d is None:
                    if cur_dyn == "strict":
                        raise strict(part, cur_prefix)
                    if cur_dyn != "true":
                        break
                    if not mutate[0]:
                        raise _NeedsCopy()
                    d = p[part] = {"properties": {}}
                    changed[0] = True
                if field_type(d) not in ("object", "nested"):
                    break
                cur_dyn = d.get("dynamic", cur_dyn)
                sub = d.get("properties")
                if sub is None:
                    sub = {}
                    if cur_dyn == "true" and mutate[0]:
                        d["properties"] = sub
                owner, p, cur_prefix = d, sub, full + "."
            else:
                leaf(owner, p, parts[-1], value, cur_prefix, cur_dyn)

    def strict(name, prefix):
        within = prefix[:-1] if prefix else "_doc"
        return ESError(400, "strict_dynamic_mapping_exception",
                       "[1:2] mapping set to strict, dynamic introduction of [%s] within [%s] is "
                       "not allowed" % (name, within))

    def leaf(owner, props, name, value, prefix, dyn):
        full = prefix + name
        d = props.get(name)
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, list):
                for x in v:
                    leaf(owner, props, name, x, prefix, dyn)
                continue
            if v is None:
                continue
            if d is None:
                if dyn == "strict":
                    raise strict(name, prefix)
                if dyn != "true":
                    return
                d = dynamic_type(v)
                if d is None:
                    continue
                if not mutate[0]:
                    raise _NeedsCopy()
                owner.setdefault("properties", props)
                props[name] = d
                changed[0] = True
            check_value(full, d, v, doc_id)
            if isinstance(v, dict):
                walk(d, v, full + ".", d.get("dynamic", dyn))

    try:
        walk(new, source, "", new.get("dynamic", "true"))
        return mappings
    except _NeedsCopy:
        pass
    new = json.loads(json.dumps(mappings)) if mappings else {}
    mutate[0] = True
    walk(new, source, "", new.get("dynamic", "true"))
    return new if changed[0] else mappings


class _NeedsCopy(Exception):
    pass


def analyze(text):
    """The standard analyzer, near enough: lowercased Unicode word tokens."""
    return re.findall(r"\w+", str(text).lower())


# --------------------------------------------------------------------------
# Documents and indices


_PARSED = collections.OrderedDict()
_PARSED_MAX = 20000


class Version:
    """One version of a document.  Only the raw _source text is kept; parsed
    forms live in a bounded cache, so memory stays near the data's size."""
    __slots__ = ("seq", "version", "src", "deleted")

    def __init__(self, seq, version, src, deleted=False):
        self.seq = seq
        self.version = version
        self.src = src           # raw JSON text of _source
        self.deleted = deleted

    def parsed(self):
        p = _PARSED.get(self)
        if p is None:
            p = json.loads(self.src)   # checked strictly when it was indexed
            _PARSED[self] = p
            if len(_PARSED) > _PARSED_MAX:
                _PARSED.popitem(last=False)
        return p


class Index:
    def __init__(self, name, uuid=None, created=None, settings=None, mappings=None,
                 aliases=None):
        self.name = name
        self.uuid = uuid or new_uuid()
        self.created = created or int(time.time() * 1000)
        self.settings = settings or {}
        self.mappings = mappings or {}
        self.aliases = aliases or {}
        self.state = "open"
        self.docs = {}            # id -> [Version, ...] oldest first
        self.max_seq = -1
        # One refreshed checkpoint per shard: a write is visible to search once
        # its own shard has refreshed (delete/50_refresh relies on that).
        self.refreshed = (-1,) * self.shards
        self.last_refresh = time.monotonic()
        self.pins = {}            # checkpoint tuple -> number of PITs holding it
        self.doc_shard = {}       # id -> shard, when there is more than one

    # settings helpers
    def setting(self, key, default=None):
        return self.settings.get("index." + key, default)

    @property
    def shards(self):
        return int(self.setting("number_of_shards", "1"))

    @property
    def replicas(self):
        return int(self.setting("number_of_replicas", "1"))

    @property
    def health(self):
        return "green" if self.replicas == 0 else "yellow"

    def maybe_refresh(self):
        """The periodic refresh, done lazily: a search sees writes older than
        index.refresh_interval (1s by default; -1 turns it off)."""
        ri = self.setting("refresh_interval", "1s")
        if str(ri) == "-1":
            return
        secs = parse_time(ri, "index.refresh_interval")
        if time.monotonic() - self.last_refresh >= secs:
            self.refresh()

    def refresh(self, shard=None):
        if shard is None:
            self.refreshed = (self.max_seq,) * self.shards
            self.last_refresh = time.monotonic()
        else:
            cp = list(self.refreshed)
            cp[shard] = self.max_seq
            self.refreshed = tuple(cp)

    def shard_of(self, doc_id):
        if self.shards == 1:
            return 0
        s = self.doc_shard.get(doc_id)
        if s is None:
            s = self.doc_shard[doc_id] = route_shard(doc_id, self.shards, self.routing_shards)
        return s

    @property
    def routing_shards(self):
        n = self.setting("number_of_routing_shards")
        if n is not None:
            return int(n)
        # Elasticsearch's default: the largest shards * 2^k not above 1024
        # (at least one split).
        log2 = (self.shards - 1).bit_length()
        return self.shards << max(1, 10 - log2)

    def live(self, doc_id):
        chain = self.docs.get(doc_id)
        if not chain:
            return None
        return chain[-1]

    def visible(self, checkpoint):
        """(id, Version) pairs visible to a reader at checkpoint (a tuple
        of per-shard sequence numbers)."""
        single = checkpoint[0] if len(checkpoint) == 1 else None
        for doc_id, chain in self.docs.items():
            v = chain[-1]
            if single is None:
                checkpoint_ = checkpoint[self.shard_of(doc_id)]
            else:
                checkpoint_ = single
            if v.seq > checkpoint_:
                v = None
                for old in reversed(chain):
                    if old.seq <= checkpoint_:
                        v = old
                        break
            if v is not None and not v.deleted:
                yield doc_id, v

    def count(self, checkpoint):
        return sum(1 for _ in self.visible(checkpoint))

    def put_version(self, doc_id, ver):
        chain = self.docs.get(doc_id)
        if chain is None:
            self.docs[doc_id] = [ver]
            return
        chain.append(ver)
        # Drop versions no reader can see any more.
        floor = min(min(cp) for cp in [self.refreshed] + list(self.pins))
        keep_from = 0
        for i in range(len(chain) - 1):
            if chain[i + 1].seq <= floor:
                keep_from = i + 1
        if keep_from:
            del chain[:keep_from]

    def size_bytes(self):
        n = 0
        for chain in self.docs.values():
            v = chain[-1]
            if not v.deleted:
                n += len(v.src) + 64
        return n + 225 * self.shards


def murmur3_32(data, seed=0):
    c1, c2 = 0xcc9e2d51, 0x1b873593
    h = seed
    n = len(data) & ~3
    for i in range(0, n, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * c1) & 0xffffffff
        k = ((k << 15) | (k >> 17)) & 0xffffffff
        k = (k * c2) & 0xffffffff
        h ^= k
        h = ((h << 13) | (h >> 19)) & 0xffffffff
        h = (h * 5 + 0xe6546b64) & 0xffffffff
    tail = data[n:]
    k = 0
    for i, b in enumerate(tail):
        k |= b << (8 * i)
    if tail:
        k = (k * c1) & 0xffffffff
        k = ((k << 15) | (k >> 17)) & 0xffffffff
        k = (k * c2) & 0xffffffff
        h ^= k
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85ebca6b) & 0xffffffff
    h ^= h >> 13
    h = (h * 0xc2b2ae35) & 0xffffffff
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h


def route_shard(doc_id, shards, routing_shards):
    """Elasticsearch's document routing: murmur3 over the id's UTF-16 code
    units, modulo the routing shards, divided by the routing factor."""
    data = doc_id.encode("utf-16-le")
    h = murmur3_32(data)
    return (h % routing_shards) // (routing_shards // shards)


class PIT:
    def __init__(self, pit_id, checkpoints, keep_alive):
        self.id = pit_id
        self.checkpoints = checkpoints   # [(index name, uuid, checkpoint)]
        self.expires = time.monotonic() + keep_alive
        self.cache = {}                  # request signature -> sorted hits


class Store:
    def __init__(self, data_dir):
        self.lock = threading.RLock()
        self.indices = {}
        self.pits = {}
        # Test-only fault injection (POST /_cairn_test/faults): the next N
        # bulk items / bulk requests / searches fail with `status`.
        self.faults = {"bulk_items": 0, "bulk_requests": 0, "searches": 0, "status": 429}
        self.dir = data_dir
        self.journal = None
        if data_dir:
            os.makedirs(data_dir, exist_ok=True)
            path = os.path.join(data_dir, "journal.ndjson")
            if os.path.exists(path):
                self._replay(path)
            self.journal = open(path, "a", encoding="utf-8")

    # --- journal
    def log(self, rec):
        if self.journal:
            self.journal.write(json.dumps(rec, ensure_ascii=False) + "\n")

    def flush(self):
        if self.journal:
            self.journal.flush()

    def _replay(self, path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    break   # a torn last line after a crash
                op = r["op"]
                if op == "create":
                    self.indices[r["name"]] = Index(r["name"], r["uuid"], r["created"],
                                                    r["settings"], r["mappings"], r["aliases"])
                elif op == "delete_index":
                    self.indices.pop(r["name"], None)
                elif op == "mapping":
                    self.indices[r["name"]].mappings = r["mappings"]
                elif op == "aliases":
                    self.indices[r["name"]].aliases = r["aliases"]
                elif op == "settings":
                    self.indices[r["name"]].settings = r["settings"]
                elif op == "state":
                    self.indices[r["name"]].state = r["state"]
                elif op == "doc":
                    idx = self.indices[r["i"]]
                    v = Version(r["seq"], r["v"], r["src"], r["src"] is None)
                    idx.docs.setdefault(r["id"], []).append(v)
                    if len(idx.docs[r["id"]]) > 1:
                        del idx.docs[r["id"]][:-1]
                    idx.max_seq = max(idx.max_seq, r["seq"])
        for idx in self.indices.values():
            idx.refresh()

    # --- PITs
    def expire_pits(self):
        now = time.monotonic()
        for pid in [p for p, pit in self.pits.items() if pit.expires < now]:
            self.release_pit(pid)

    def release_pit(self, pid):
        pit = self.pits.pop(pid, None)
        if not pit:
            return False
        for name, uuid, cp in pit.checkpoints:
            idx = self.indices.get(name)
            if idx is not None and idx.uuid == uuid:
                n = idx.pins.get(cp, 0) - 1
                if n <= 0:
                    idx.pins.pop(cp, None)
                else:
                    idx.pins[cp] = n
        return True
