#!/usr/bin/env python3
"""Cairn's Elasticsearch-API test server.

An emulator of the documented Elasticsearch 8.x REST API, limited to what a
metadata backup tool needs (see docs/elasticsearch-test-server.md).  It is
not Elasticsearch: no Lucene, no scoring, one node, a single lock around the
whole state.  Response bodies, status codes, headers and error objects follow
Elasticsearch 8.x, and Elastic's own YAML REST tests for these APIs run
against it (tests/peers/es-yaml-run).

    es_server.py --port PORT [--host 127.0.0.1] [--data DIR]
                 [--user U --password P] [--api-key KEY]

Test-only controls live under /_cairn_test/ and never under an ES path.
"""

import argparse
import base64
import bisect
import gzip
import hmac
import json
import os
import re
import secrets
import signal
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import esdates  # noqa: E402
import esquery  # noqa: E402
from esmodel import (CLUSTER_UUID, ESError, Index, PIT, Raw, Store, Version,  # noqa: E402
                     apply_dynamic, bad_request, enc, field_def, field_type, flatten,
                     index_not_found, loads, DuplicateKey, normalize_mappings,
                     parse_time, query_shard_error, settings_string, shard_failure,
                     source_values, unflatten, validate_index_name, validation, wildcard_re,
                     NUMERIC, INTEGRAL)

VERSION = {
    "number": "8.17.0",
    "build_flavor": "default",
    "build_type": "tar",
    "build_hash": "0000000000000000000000000000000000000000",
    "build_date": "2024-12-11T12:08:05.663969764Z",
    "build_snapshot": False,
    "lucene_version": "9.12.0",
    "minimum_wire_compatibility_version": "7.17.0",
    "minimum_index_compatibility_version": "7.0.0",
}
CLUSTER_NAME = "cairn-test"
NODE_NAME = "cairn-es-0"
MAX_RESULT_WINDOW = 10000
PIT_MAGIC = b"cairn-pit\x01"

STORE = None
CONFIG = {"user": None, "password": None, "api_key": None, "destructive_requires_name": True}


def truthy(v, default=False):
    if v is None:
        return default
    if isinstance(v, bool):
        return v
    s = str(v).lower()
    if s in ("", "true"):
        return True
    if s == "false":
        return False
    raise bad_request("Failed to parse value [%s] as only [true] or [false] are allowed." % v)


def int_param(params, name, default=None):
    if name not in params:
        return default
    try:
        return int(params[name])
    except ValueError:
        raise bad_request("Failed to parse int parameter [%s] with value [%s]"
                          % (name, params[name]))


def shards_write(idx):
    return {"total": 1 + idx.replicas, "successful": 1, "failed": 0}


def conflict(idx, doc_id, reason):
    return ESError(409, "version_conflict_engine_exception", "[%s]: %s" % (doc_id, reason),
                   {"index_uuid": idx.uuid, "shard": "0", "index": idx.name})


# --------------------------------------------------------------------------
# Index expressions


def alias_map():
    out = {}
    for idx in STORE.indices.values():
        for a in idx.aliases:
            out.setdefault(a, []).append(idx)
    return out


def split_expr(expr):
    if expr is None:
        return []
    if isinstance(expr, list):
        return expr
    return [p for p in expr.split(",") if p != ""]


def resolve(expr, params=None, *, aliases_ok=True, wildcard_aliases=True, expand=None,
            ignore_unavailable=None, allow_no_indices=None, destructive=False):
    """Resolve an index expression to Index objects (sorted by name)."""
    params = params or {}
    if ignore_unavailable is None:
        ignore_unavailable = truthy(params.get("ignore_unavailable"), False)
    if allow_no_indices is None:
        allow_no_indices = truthy(params.get("allow_no_indices"), True)
    ew = params.get("expand_wildcards", expand or "open")
    states = set()
    for w in ew.split(","):
        if w in ("all",):
            states |= {"open", "close"}
        elif w == "open":
            states.add("open")
        elif w == "closed":
            states.add("close")
        elif w in ("none", "hidden"):
            pass
        else:
            raise bad_request("No enum constant org.elasticsearch.action.support."
                              "IndicesOptions.WildcardStates.%s" % w.upper())
    names = split_expr(expr)
    amap = alias_map()
    result = {}
    if not names or names == ["_all"] or names == ["*"]:
        if destructive and CONFIG["destructive_requires_name"] and names:
            raise bad_request("Wildcard expressions or all indices are not allowed")
        for idx in STORE.indices.values():
            if idx.state in states:
                result[idx.name] = idx
        if not result and not allow_no_indices:
            raise index_not_found(",".join(names) or "_all")
        return sorted(result.values(), key=lambda i: i.name)
    saw_wildcard = False
    for raw in names:
        if raw.startswith("-") and saw_wildcard:
            rx = wildcard_re(raw[1:])
            for n in [n for n in result if rx.match(n)]:
                del result[n]
            continue
        name = esdates.resolve_index_date_math(raw)
        if "*" in name:
            saw_wildcard = True
            if destructive and CONFIG["destructive_requires_name"]:
                raise bad_request("Wildcard expressions or all indices are not allowed")
            rx = wildcard_re(name)
            hit = False
            for idx in STORE.indices.values():
                if rx.match(idx.name) and idx.state in states:
                    result[idx.name] = idx
                    hit = True
            if wildcard_aliases:
                for a, idxs in amap.items():
                    if rx.match(a):
                        for idx in idxs:
                            if idx.state in states:
                                result[idx.name] = idx
                                hit = True
            # allow_no_indices=false holds for each wildcard expression.
            if not hit and not allow_no_indices:
                raise index_not_found(name)
            continue
        if name in STORE.indices:
            result[name] = STORE.indices[name]
        elif name in amap:
            if not aliases_ok:
                if ignore_unavailable:
                    continue
                raise bad_request("The provided expression [%s] matches an alias, specify the "
                                  "corresponding concrete indices instead." % name)
            for idx in amap[name]:
                result[idx.name] = idx
        elif not ignore_unavailable:
            raise index_not_found(name)
    if not result and not allow_no_indices:
        raise index_not_found(",".join(names))
    return sorted(result.values(), key=lambda i: i.name)


def check_open(indices, params):
    out = []
    for idx in indices:
        if idx.state == "close":
            if truthy(params.get("ignore_unavailable"), False):
                continue
            raise ESError(400, "index_closed_exception", "closed",
                          {"index_uuid": idx.uuid, "index": idx.name})
        out.append(idx)
    return out


def write_target(name, require_alias=False):
    """The index a write to `name` goes to, created on demand."""
    name = esdates.resolve_index_date_math(name)
    amap = alias_map()
    if name in amap:
        idxs = amap[name]
        writers = [i for i in idxs if i.aliases[name].get("is_write_index") is True]
        if len(idxs) == 1 and idxs[0].aliases[name].get("is_write_index") is not False:
            target = idxs[0]
        elif writers:
            target = writers[0]
        else:
            raise bad_request("no write index is defined for alias [%s]. The write index may be "
                              "explicitly disabled using is_write_index=false or the alias points "
                              "to multiple indices without one being designated as a write index"
                              % name)
    elif require_alias:
        raise index_not_found(name, "no such index [%s] and [require_alias] request flag is [true] "
                              "and [%s] is not an alias" % (name, name))
    elif name in STORE.indices:
        target = STORE.indices[name]
    else:
        validate_index_name(name)
        target = create_index(name, {})
    if target.state == "close":
        raise ESError(400, "index_closed_exception", "closed",
                      {"index_uuid": target.uuid, "index": target.name})
    return target


# --------------------------------------------------------------------------
# Index management

SETTING_PREFIXES = (
    "number_of_shards", "number_of_replicas", "refresh_interval", "number_of_routing_shards",
    "routing.", "routing_partition_size", "max_", "mapping.", "analysis.", "codec",
    "auto_expand_replicas", "blocks.", "hidden", "mode", "sort.", "translog.", "soft_deletes.",
    "write.", "query.", "lifecycle.", "priority", "unassigned.", "shard.", "search.", "merge.",
    "store.", "indexing.", "similarity.", "default_pipeline", "final_pipeline", "requests.",
    "gc_deletes", "queries.", "format", "uuid", "creation_date", "provided_name", "version.",
    "load_fixed_bitset_filters_eagerly", "allocation.", "recovery.", "flush_after_merge",
    "check_on_startup", "time_series.", "look_ahead_time", "look_back_time", "source_only",
)


def normalize_settings(body):
    flat = flatten(body or {})
    out = {}
    for k, v in flat.items():
        key = k if k.startswith("index.") else "index." + k
        short = key[len("index."):]
        if not any(short == p or (p.endswith(".") and short.startswith(p)) or
                   (p.endswith("_") and short.startswith(p)) for p in SETTING_PREFIXES):
            raise bad_request("unknown setting [%s] please check that any required plugins are "
                              "installed, or check the breaking changes documentation for removed "
                              "settings" % key)
        out[key] = settings_string(v)
    if out.get("index.soft_deletes.enabled") == "false":
        raise bad_request("Creating indices with soft-deletes disabled is no longer supported. "
                          "Please do not specify a value for setting [index.soft_deletes.enabled].")
    for key, lo in (("index.number_of_shards", 1), ("index.number_of_replicas", 0)):
        if key in out:
            try:
                n = int(out[key])
            except ValueError:
                raise bad_request("Failed to parse value [%s] for setting [%s]" % (out[key], key))
            if n < lo:
                raise bad_request("Failed to parse value [%s] for setting [%s] must be >= %d"
                                  % (out[key], key, lo))
    if "index.refresh_interval" in out and out["index.refresh_interval"] != "-1":
        parse_time(out["index.refresh_interval"], "index.refresh_interval")
    if out.get("index.mode") not in (None, "standard"):
        raise bad_request("index.mode [%s] is not supported by the Cairn test server"
                          % out["index.mode"])
    return out


def normalize_aliases(body):
    out = {}
    for name, spec in (body or {}).items():
        spec = spec or {}
        a = {}
        if "filter" in spec:
            a["filter"] = spec["filter"]
        if "routing" in spec:
            a["index_routing"] = a["search_routing"] = str(spec["routing"])
        if "index_routing" in spec:
            a["index_routing"] = str(spec["index_routing"])
        if "search_routing" in spec:
            a["search_routing"] = str(spec["search_routing"])
        if "is_write_index" in spec:
            a["is_write_index"] = truthy(spec["is_write_index"])
        if "is_hidden" in spec:
            a["is_hidden"] = truthy(spec["is_hidden"])
        name = esdates.resolve_index_date_math(name)
        validate_index_name(name, "alias")
        out[name] = a
    return out


def create_index(name, body):
    for k in body:
        if k not in ("settings", "mappings", "aliases"):
            raise ESError(400, "parse_exception", "unknown key [%s] for create index" % k)
    settings = {"index.number_of_shards": "1", "index.number_of_replicas": "1"}
    settings.update(normalize_settings(body.get("settings")))
    mappings = normalize_mappings(body.get("mappings"))
    if "_doc" in mappings and len(mappings) == 1 and isinstance(mappings["_doc"], dict):
        raise ESError(400, "mapper_parsing_exception",
                      "Root mapping definition has unsupported parameters:  [_doc : %s]"
                      % json.dumps(mappings["_doc"]))
    aliases = normalize_aliases(body.get("aliases"))
    amap = alias_map()
    if name in amap:
        raise ESError(400, "invalid_index_name_exception",
                      "Invalid index name [%s], already exists as alias" % name,
                      {"index_uuid": "_na_", "index": name})
    idx = Index(name, settings=settings, mappings=mappings, aliases=aliases)
    idx.settings.update({"index.uuid": idx.uuid, "index.creation_date": str(idx.created),
                         "index.provided_name": name, "index.version.created": "8521000"})
    STORE.indices[name] = idx
    STORE.log({"op": "create", "name": name, "uuid": idx.uuid, "created": idx.created,
               "settings": idx.settings, "mappings": idx.mappings, "aliases": idx.aliases})
    return idx


def h_create_index(req, index):
    name = esdates.resolve_index_date_math(index)
    validate_index_name(name)
    body = req.json_body() or {}
    if name in STORE.indices:
        idx = STORE.indices[name]
        raise ESError(400, "resource_already_exists_exception",
                      "index [%s/%s] already exists" % (name, idx.uuid),
                      {"index_uuid": idx.uuid, "index": name})
    create_index(name, body)
    return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}


def h_index_exists(req, index):
    try:
        found = resolve(index, req.params, expand="open,closed")
    except ESError:
        return 404, None
    return (200 if found else 404), None


def mapping_out(idx):
    return idx.mappings


def settings_out(idx):
    flat = {k[len("index."):]: v for k, v in idx.settings.items() if k.startswith("index.")}
    return {"index": unflatten(flat)}


def h_get_index(req, index):
    out = {}
    for idx in resolve(index, req.params, expand="open,closed"):
        out[idx.name] = {"aliases": idx.aliases, "mappings": mapping_out(idx),
                         "settings": settings_out(idx)}
    return 200, out


def h_delete_index(req, index):
    found = resolve(index, req.params, aliases_ok=False, wildcard_aliases=False,
                    expand="open,closed", destructive=True)
    for idx in found:
        del STORE.indices[idx.name]
        STORE.log({"op": "delete_index", "name": idx.name})
    return 200, {"acknowledged": True}


def h_get_settings(req, index=None):
    return 200, {idx.name: {"settings": settings_out(idx)}
                 for idx in resolve(index, req.params, expand="open,closed")}


def h_get_mapping(req, index=None):
    return 200, {idx.name: {"mappings": mapping_out(idx)}
                 for idx in resolve(index, req.params, expand="open,closed")}


def merge_mappings(old, new, path=""):
    out = json.loads(json.dumps(old))
    for k, v in new.items():
        if k == "properties":
            props = out.setdefault("properties", {})
            for f, d in v.items():
                full = path + f
                if f in props:
                    t_old, t_new = field_type(props[f]), field_type(d)
                    if t_old != t_new:
                        raise bad_request("mapper [%s] cannot be changed from type [%s] to [%s]"
                                          % (full, t_old, t_new))
                    props[f] = merge_mappings(props[f], d, full + ".")
                else:
                    props[f] = d
        else:
            out[k] = v
    return out


def h_put_mapping(req, index):
    body = normalize_mappings(req.json_body() or {})
    targets = resolve(index, req.params)
    merged = [(idx, merge_mappings(idx.mappings, body)) for idx in targets]
    for idx, m in merged:
        idx.mappings = m
        STORE.log({"op": "mapping", "name": idx.name, "mappings": m})
    return 200, {"acknowledged": True}


def shard_counts(indices):
    total = sum(i.shards * (1 + i.replicas) for i in indices if i.state == "open")
    ok = sum(i.shards for i in indices if i.state == "open")
    return {"total": total, "successful": ok, "failed": 0}


def h_refresh(req, index=None):
    found = resolve(index, req.params)
    for idx in found:
        idx.refresh()
    return 200, {"_shards": shard_counts(found)}


def h_close(req, index):
    found = resolve(index, req.params, destructive=True)
    out = {}
    for idx in found:
        idx.state = "close"
        STORE.log({"op": "state", "name": idx.name, "state": "close"})
        out[idx.name] = {"closed": True}
    return 200, {"acknowledged": True, "shards_acknowledged": True, "indices": out}


def h_open(req, index):
    found = resolve(index, req.params, expand="closed")
    for idx in found:
        idx.state = "open"
        idx.refresh()
        STORE.log({"op": "state", "name": idx.name, "state": "open"})
    return 200, {"acknowledged": True, "shards_acknowledged": True}


def h_get_alias(req, index=None, name=None):
    indices = resolve(index, req.params, expand="open,closed")
    names = split_expr(name)
    out = {}
    for idx in indices:
        sel = {a: d for a, d in idx.aliases.items()
               if not names or any(wildcard_re(n).match(a) for n in names)}
        if sel or not names:
            out[idx.name] = {"aliases": sel}
    if names and not out:
        return 404, {"error": "alias [%s] missing" % ",".join(names), "status": 404}
    return 200, out


def h_exists_alias(req, name, index=None):
    status, _ = h_get_alias(req, index, name)
    return status, None


def h_put_alias(req, index, name):
    body = req.json_body() or {}
    aliases = normalize_aliases({name: body})
    for idx in resolve(index, req.params):
        idx.aliases.update(aliases)
        STORE.log({"op": "aliases", "name": idx.name, "aliases": idx.aliases})
    return 200, {"acknowledged": True}


def h_delete_alias(req, index, name):
    names = split_expr(name)
    hit = False
    for idx in resolve(index, req.params):
        for a in list(idx.aliases):
            if any(wildcard_re(n).match(a) for n in names) or names == ["_all"]:
                del idx.aliases[a]
                hit = True
        STORE.log({"op": "aliases", "name": idx.name, "aliases": idx.aliases})
    if not hit:
        raise ESError(404, "aliases_not_found_exception", "aliases [%s] missing" % name,
                      {"resource.type": "aliases", "resource.id": name})
    return 200, {"acknowledged": True}


def h_cluster_health(req, index=None):
    indices = resolve(index, req.params, expand="open,closed") if index else \
        list(STORE.indices.values())
    status = "green" if all(i.health == "green" for i in indices) else "yellow"
    prim = sum(i.shards for i in indices)
    unassigned = sum(i.shards * i.replicas for i in indices)
    body = {"cluster_name": CLUSTER_NAME, "status": status, "timed_out": False,
            "number_of_nodes": 1, "number_of_data_nodes": 1, "active_primary_shards": prim,
            "active_shards": prim, "relocating_shards": 0, "initializing_shards": 0,
            "unassigned_shards": unassigned, "unassigned_primary_shards": 0,
            "delayed_unassigned_shards": 0, "number_of_pending_tasks": 0,
            "number_of_in_flight_fetch": 0, "task_max_waiting_in_queue_millis": 0,
            "active_shards_percent_as_number":
                100.0 if prim + unassigned == 0 else 100.0 * prim / (prim + unassigned)}
    want = req.params.get("wait_for_status")
    if want == "green" and status != "green":
        body["timed_out"] = True
        return 408, body
    return 200, body


# --------------------------------------------------------------------------
# Documents


def parse_source(text, doc_id=None):
    if text is None or text.strip() == "":
        raise validation("source is missing", "content type is missing")
    try:
        obj = loads(text)
    except DuplicateKey as e:
        raise ESError(400, "document_parsing_exception",
                      "[1:1] failed to parse: Duplicate field '%s'" % e,
                      caused_by={"type": "json_parse_exception",
                                 "reason": "Duplicate field '%s'" % e})
    except ValueError as e:
        raise ESError(400, "document_parsing_exception", "[1:1] failed to parse: %s" % e,
                      caused_by={"type": "json_parse_exception", "reason": str(e)})
    if not isinstance(obj, dict):
        raise ESError(400, "document_parsing_exception",
                      "[1:1] failed to parse: Root mapping definition must be an object",
                      caused_by={"type": "not_x_content_exception",
                                 "reason": "Compressor detection can only be called on some "
                                           "xcontent bytes or compressed xcontent bytes"})
    return obj


def check_id(doc_id):
    if doc_id is not None and len(doc_id.encode()) > 512:
        raise validation("id [%s] is too long, must be no longer than 512 bytes but was: %d"
                         % (doc_id, len(doc_id.encode())))


def write_doc(idx, doc_id, src, parsed, op_type="index", if_seq_no=None, if_primary_term=None,
              version=None, version_type=None):
    """Index one document; returns (status, result dict)."""
    auto = doc_id is None
    if auto:
        doc_id = base64.urlsafe_b64encode(secrets.token_bytes(15)).decode()
    check_id(doc_id)
    chain = idx.docs.get(doc_id)
    live = chain[-1] if chain else None
    exists = live is not None and not live.deleted
    if op_type == "create" and exists:
        raise conflict(idx, doc_id, "version conflict, document already exists (current version "
                       "[%d])" % live.version)
    if if_seq_no is not None or if_primary_term is not None:
        if not exists:
            raise conflict(idx, doc_id, "version conflict, required seqNo [%s], primary term [%s] "
                           "but no document was found" % (if_seq_no, if_primary_term))
        if int(if_seq_no) != live.seq or int(if_primary_term) != 1:
            raise conflict(idx, doc_id, "version conflict, required seqNo [%s], primary term [%s]."
                           " current document has seqNo [%d] and primary term [1]"
                           % (if_seq_no, if_primary_term, live.seq))
    if version_type in ("external", "external_gte"):
        cur = live.version if live else -1
        v = int(version)
        if (version_type == "external" and v <= cur) or v < cur:
            raise conflict(idx, doc_id, "version conflict, current version [%d] is higher or equal "
                           "to the one provided [%d]" % (cur, v))
        new_version = v
    else:
        new_version = (live.version + 1) if live else 1
    new_map = apply_dynamic(idx.mappings, parsed, doc_id)
    if new_map is not idx.mappings:
        idx.mappings = new_map
        STORE.log({"op": "mapping", "name": idx.name, "mappings": new_map})
    idx.max_seq += 1
    ver = Version(idx.max_seq, new_version, src)
    idx.put_version(doc_id, ver)
    STORE.log({"op": "doc", "i": idx.name, "id": doc_id, "seq": ver.seq, "v": ver.version,
               "src": src})
    return (200 if exists else 201), {
        "_index": idx.name, "_id": doc_id, "_version": new_version,
        "result": "updated" if exists else "created", "_shards": shards_write(idx),
        "_seq_no": ver.seq, "_primary_term": 1}


def delete_doc(idx, doc_id, if_seq_no=None, if_primary_term=None, version=None,
               version_type=None):
    chain = idx.docs.get(doc_id)
    live = chain[-1] if chain else None
    exists = live is not None and not live.deleted
    if if_seq_no is not None or if_primary_term is not None:
        if not exists:
            raise conflict(idx, doc_id, "version conflict, required seqNo [%s], primary term [%s] "
                           "but no document was found" % (if_seq_no, if_primary_term))
        if int(if_seq_no) != live.seq or int(if_primary_term) != 1:
            raise conflict(idx, doc_id, "version conflict, required seqNo [%s], primary term [%s]."
                           " current document has seqNo [%d] and primary term [1]"
                           % (if_seq_no, if_primary_term, live.seq))
    new_version = int(version) if version_type in ("external", "external_gte") else \
        ((live.version + 1) if live else 1)
    idx.max_seq += 1
    if chain is not None:
        idx.put_version(doc_id, Version(idx.max_seq, new_version, None, True))
        STORE.log({"op": "doc", "i": idx.name, "id": doc_id, "seq": idx.max_seq,
                   "v": new_version, "src": None})
    return (200 if exists else 404), {
        "_index": idx.name, "_id": doc_id, "_version": new_version,
        "result": "deleted" if exists else "not_found", "_shards": shards_write(idx),
        "_seq_no": idx.max_seq, "_primary_term": 1}


def apply_refresh(idx, params, resp):
    r = params.get("refresh")
    if r is None or r == "false":
        return
    shard = idx.shard_of(resp["_id"])
    if r in ("", "true"):
        idx.refresh(shard)
        resp["forced_refresh"] = True
    elif r == "wait_for":
        idx.refresh(shard)
    else:
        raise bad_request("Unknown value for refresh: [%s]." % r)


def h_index_doc(req, index, id=None, op_type=None):
    idx = write_target(index, truthy(req.params.get("require_alias"), False))
    op = op_type or req.params.get("op_type", "index")
    if op not in ("index", "create"):
        raise bad_request("opType must be 'create' or 'index', found: [%s]" % op)
    if id == "":
        raise validation("if _id is specified it must not be empty")
    src = req.text_body()
    parsed = parse_source(src, id)
    status, resp = write_doc(idx, id, src, parsed, op, req.params.get("if_seq_no"),
                             req.params.get("if_primary_term"), req.params.get("version"),
                             req.params.get("version_type"))
    apply_refresh(idx, req.params, resp)
    headers = [("Location", "/%s/_doc/%s" % (urllib.parse.quote(idx.name),
                                             urllib.parse.quote(resp["_id"])))] \
        if status == 201 else []
    return status, resp, headers


def h_create_doc(req, index, id):
    return h_index_doc(req, index, id, "create")


def _doc_index(index):
    """The index a read by id goes to (an alias must name exactly one)."""
    name = esdates.resolve_index_date_math(index)
    if name in STORE.indices:
        idx = STORE.indices[name]
    else:
        amap = alias_map()
        if name in amap and len(amap[name]) == 1:
            idx = amap[name][0]
        elif name in amap:
            raise bad_request("alias [%s] has more than one index associated with it [%s], can't "
                              "execute a single index op" % (name, ", ".join(sorted(
                                  i.name for i in amap[name]))))
        else:
            raise index_not_found(name)
    if idx.state == "close":
        raise ESError(400, "index_closed_exception", "closed",
                      {"index_uuid": idx.uuid, "index": idx.name})
    return idx


def stored_fields_out(idx, parsed, names):
    out = {}
    for n in names:
        d, src = field_def(idx.mappings, n)
        if d is None or not d.get("store"):
            continue
        vals = source_values(parsed, src)
        if vals:
            out[n] = vals
    return out


def _read_version(idx, doc_id, params):
    if truthy(params.get("refresh"), False):
        idx.refresh()
    chain = idx.docs.get(doc_id)
    if not chain:
        return None
    if not truthy(params.get("realtime"), True):
        idx.maybe_refresh()
        cp = idx.refreshed[idx.shard_of(doc_id)]
        for v in reversed(chain):
            if v.seq <= cp:
                return None if v.deleted else v
        return None
    v = chain[-1]
    return None if v.deleted else v


def h_get_doc(req, index, id):
    idx = _doc_index(index)
    v = _read_version(idx, id, req.params)
    if v is not None and "version" in req.params and \
            req.params.get("version_type", "internal") == "internal" and \
            int(req.params["version"]) != v.version:
        raise conflict(idx, id, "version conflict, current version [%d] is different than the one "
                       "provided [%s]" % (v.version, req.params["version"]))
    if v is None:
        return 404, {"_index": idx.name, "_id": id, "found": False}
    resp = {"_index": idx.name, "_id": id, "_version": v.version, "_seq_no": v.seq,
            "_primary_term": 1, "found": True}
    fetch, inc, exc = esquery.source_spec(None, req.params)
    stored = [s for s in req.params.get("stored_fields", "").split(",") if s]
    if stored and "_source" not in req.params and "_source_includes" not in req.params:
        fetch = False
    if fetch:
        resp["_source"] = Raw(v.src) if not inc and not exc else \
            esquery.filter_source(v.parsed(), inc, exc)
    if stored:
        f = stored_fields_out(idx, v.parsed(), stored)
        if f:
            resp["fields"] = f
    return 200, resp


def h_exists_doc(req, index, id):
    try:
        idx = _doc_index(index)
    except ESError as e:
        return e.status, None
    return (200 if _read_version(idx, id, req.params) is not None else 404), None


def h_get_source(req, index, id):
    idx = _doc_index(index)
    v = _read_version(idx, id, req.params)
    if v is None:
        raise ESError(404, "resource_not_found_exception",
                      "Document not found [%s]/[%s]" % (idx.name, id))
    fetch, inc, exc = esquery.source_spec(None, req.params)
    return 200, (Raw(v.src) if not inc and not exc else
                 esquery.filter_source(v.parsed(), inc, exc))


def h_delete_doc(req, index, id):
    idx = _doc_index(index)
    status, resp = delete_doc(idx, id, req.params.get("if_seq_no"),
                              req.params.get("if_primary_term"), req.params.get("version"),
                              req.params.get("version_type"))
    apply_refresh(idx, req.params, resp)
    return status, resp


def deep_merge(base, doc):
    out = dict(base)
    for k, v in doc.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def update_doc(idx, doc_id, body, if_seq_no=None, if_primary_term=None):
    if not isinstance(body, dict):
        raise bad_request("Validation Failed: 1: script or doc is missing;")
    if "script" in body:
        raise bad_request("[script] updates are not supported by the Cairn test server")
    if "doc" not in body and "upsert" not in body:
        raise validation("script or doc is missing")
    chain = idx.docs.get(doc_id)
    live = chain[-1] if chain else None
    if live is None or live.deleted:
        if body.get("doc_as_upsert") and "doc" in body:
            new = body["doc"]
        elif "upsert" in body:
            new = body["upsert"]
        else:
            raise ESError(404, "document_missing_exception", "[%s]: document missing" % doc_id,
                          {"index_uuid": idx.uuid, "shard": "0", "index": idx.name})
        src = enc(new)
        return write_doc(idx, doc_id, src, new, "create")
    merged = deep_merge(live.parsed(), body.get("doc", {}))
    if body.get("detect_noop", True) and merged == live.parsed():
        return 200, {"_index": idx.name, "_id": doc_id, "_version": live.version,
                     "result": "noop", "_shards": {"total": 0, "successful": 0, "failed": 0},
                     "_seq_no": live.seq, "_primary_term": 1}
    status, resp = write_doc(idx, doc_id, enc(merged), merged, "index", if_seq_no,
                             if_primary_term)
    return 200, resp


def h_update(req, index, id):
    idx = write_target(index)
    status, resp = update_doc(idx, id, req.json_body(), req.params.get("if_seq_no"),
                              req.params.get("if_primary_term"))
    apply_refresh(idx, req.params, resp)
    return status, resp


# --------------------------------------------------------------------------
# Bulk


def bulk_lines(text):
    if text and not text.endswith("\n"):
        raise bad_request("The bulk request must be terminated by a newline [\\n]")
    return text.split("\n")[:-1] if text else []


BULK_META = {"_index", "_id", "routing", "_routing", "op_type", "version", "version_type",
             "if_seq_no", "if_primary_term", "pipeline", "require_alias", "retry_on_conflict",
             "_source", "dynamic_templates", "require_data_stream", "list_executed_pipelines"}


def token_name(v):
    if isinstance(v, dict):
        return "START_OBJECT"
    if isinstance(v, list):
        return "START_ARRAY"
    if isinstance(v, str):
        return "VALUE_STRING"
    if isinstance(v, bool):
        return "VALUE_BOOLEAN"
    if v is None:
        return "VALUE_NULL"
    return "VALUE_NUMBER"


def parse_bulk(text, params, default_index):
    lines = bulk_lines(text)
    ops = []
    i = 0
    while i < len(lines):
        line = lines[i]
        lineno = i + 1
        i += 1
        if line.strip() == "":
            continue
        try:
            action = loads(line)
        except ValueError as e:
            raise ESError(400, "x_content_parse_exception", "[1:1] Unexpected character: %s" % e)
        if not isinstance(action, dict):
            raise bad_request("Malformed action/metadata line [%d], expected START_OBJECT or "
                              "END_OBJECT but found [%s]" % (lineno, token_name(action)))
        if not action:
            raise bad_request("Malformed action/metadata line [%d], expected FIELD_NAME but found "
                              "[END_OBJECT]" % lineno)
        if len(action) != 1:
            raise bad_request("Malformed action/metadata line [%d], expected END_OBJECT but found "
                              "[FIELD_NAME]" % lineno)
        (kind, meta), = action.items()
        if kind not in ("index", "create", "update", "delete"):
            raise bad_request("Malformed action/metadata line [%d], expected field [create], "
                              "[delete], [index] or [update] but found [%s]" % (lineno, kind))
        if not isinstance(meta, dict):
            raise bad_request("Malformed action/metadata line [%d], expected START_OBJECT but "
                              "found [%s]" % (lineno, token_name(meta)))
        for k in meta:
            if k not in BULK_META:
                raise bad_request("Action/metadata line [%d] contains an unknown parameter [%s]"
                                  % (lineno, k))
        if kind == "index" and meta.get("op_type") == "create":
            kind = "create"
        src = None
        if kind != "delete":
            if i >= len(lines):
                raise validation("no requests added") if not ops else \
                    bad_request("The bulk request must be terminated by a newline [\\n]")
            src = lines[i]
            i += 1
        index = meta.get("_index", default_index)
        if index is None:
            raise validation("index is missing")
        ops.append((kind, index, meta, src))
    if not ops:
        raise validation("no requests added")
    return ops


def item_error(e, index, doc_id):
    err = {"type": e.etype, "reason": e.reason}
    err.update(e.extra)
    if e.caused_by:
        err["caused_by"] = e.caused_by
    item = {"_index": index, "_id": doc_id, "status": e.status, "error": err}
    if doc_id is None:
        del item["_id"]
    return item


def h_bulk(req, index=None):
    if STORE.faults["bulk_requests"] > 0:
        STORE.faults["bulk_requests"] -= 1
        raise ESError(STORE.faults["status"], "es_rejected_execution_exception",
                      "rejected execution of coordinating operation [cairn test fault]")
    started = time.monotonic()
    ops = parse_bulk(req.text_body(), req.params, index)
    items = []
    errors = False
    touched = {}
    global_alias = truthy(req.params.get("require_alias"), False)
    for kind, name, meta, src in ops:
        doc_id = meta.get("_id")
        if doc_id is not None:
            doc_id = str(doc_id)
        try:
            if STORE.faults["bulk_items"] > 0:
                STORE.faults["bulk_items"] -= 1
                raise ESError(STORE.faults["status"], "es_rejected_execution_exception",
                              "rejected execution of primary operation [coordinating_and_primary_"
                              "bytes=0, replica_bytes=0, all_bytes=0, primary_operation_bytes=%d, "
                              "max_coordinating_and_primary_bytes=0] (cairn test fault)"
                              % len(src or ""))
            if doc_id == "":
                raise bad_request("if _id is specified it must not be empty")
            if kind == "delete":
                idx = _doc_index(name) if name in STORE.indices or name in alias_map() \
                    else None
                if idx is None:
                    raise index_not_found(name)
                status, resp = delete_doc(idx, doc_id, meta.get("if_seq_no"),
                                          meta.get("if_primary_term"), meta.get("version"),
                                          meta.get("version_type"))
            else:
                idx = write_target(name, truthy(meta.get("require_alias", global_alias)))
                if kind == "update":
                    if doc_id is None:
                        raise validation("id is missing")
                    body = parse_source(src)
                    status, resp = update_doc(idx, doc_id, body, meta.get("if_seq_no"),
                                              meta.get("if_primary_term"))
                else:
                    parsed = parse_source(src, doc_id)
                    status, resp = write_doc(idx, doc_id, src, parsed, kind,
                                             meta.get("if_seq_no"), meta.get("if_primary_term"),
                                             meta.get("version"), meta.get("version_type"))
            touched[idx.name] = idx
            resp["status"] = status
            items.append({kind: resp})
        except ESError as e:
            errors = True
            items.append({kind: item_error(e, esdates.resolve_index_date_math(name), doc_id)})
    r = req.params.get("refresh")
    if r is not None and r != "false":
        for idx in touched.values():
            idx.refresh()
        if r in ("", "true"):
            for it in items:
                (body,) = it.values()
                if "error" not in body:
                    body["forced_refresh"] = True
    took = int((time.monotonic() - started) * 1000)
    return 200, {"errors": errors, "took": took, "items": items}


# --------------------------------------------------------------------------
# Search

SEARCH_BODY_KEYS = {"query", "from", "size", "sort", "search_after", "pit", "_source",
                    "track_total_hits", "stored_fields", "docvalue_fields", "slice",
                    "track_scores", "seq_no_primary_term", "version", "timeout",
                    "terminate_after", "post_filter", "min_score", "explain", "stats"}
UNSUPPORTED_BODY_KEYS = {"aggs", "aggregations", "highlight", "suggest", "rescore", "collapse",
                         "script_fields", "runtime_mappings", "knn", "rank", "retriever",
                         "fields", "indices_boost", "profile", "ext", "sub_searches"}


def check_body_keys(body, allowed):
    for k, v in body.items():
        if k in UNSUPPORTED_BODY_KEYS:
            raise bad_request("[%s] is not supported by the Cairn Elasticsearch test server" % k)
        if k not in allowed:
            raise ESError(400, "parsing_exception",
                          "Unknown key for a %s in [%s]." % (token_name(v), k),
                          {"line": 1, "col": 1})


def parse_track_total(v):
    """-> (mode, limit): mode 'exact', 'none' or 'limit'."""
    if v is None:
        return "limit", 10000
    if isinstance(v, bool) or v in ("true", "false"):
        return ("exact", None) if v in (True, "true") else ("none", None)
    try:
        n = int(v)
    except (TypeError, ValueError):
        raise bad_request("Failed to parse value [%s] as only [true] or [false] are allowed." % v)
    if n == -1:
        return "exact", None
    if n < 0:
        raise bad_request("[track_total_hits] parameter must be positive or equals to -1, got %d"
                          % n)
    return "limit", n


def decode_pit_id(pid):
    try:
        raw = base64.b64decode(pid.encode(), validate=True)
    except (ValueError, UnicodeError):
        raw = b""
    if not raw.startswith(PIT_MAGIC):
        raise bad_request("invalid id: [%s]" % pid)
    return pid


def pit_missing(pid):
    inner = {"type": "search_context_missing_exception",
             "reason": "No search context found for id [%s]" % pid}
    return shard_failure(None, inner, 404)


def docvalue_out(idx, specs, v):
    out = {}
    for s in specs:
        if isinstance(s, dict):
            name, fmt = s.get("field"), s.get("format")
        else:
            name, fmt = s, None
        d, src = field_def(idx.mappings, name)
        if d is None:
            continue
        t = field_type(d)
        if t in ("text", "match_only_text"):
            raise query_shard_error(idx, "Fielddata is disabled on [%s] in [%s]." % (name, idx.name),
                                    etype="illegal_argument_exception")
        vals = []
        for x in source_values(v.parsed(), src):
            if isinstance(x, dict):
                continue
            try:
                if t in NUMERIC:
                    n = float(x) if t not in INTEGRAL else int(float(x))
                    vals.append(decimal_format(n, fmt) if fmt else n)
                elif t in ("date", "date_nanos"):
                    vals.append(esdates.format(esdates.parse(x, d.get("format")),
                                               fmt or "strict_date_optional_time"))
                elif t == "boolean":
                    vals.append(x in (True, "true"))
                else:
                    vals.extend(esquery._keyword_strings([x], d))
            except (ValueError, esdates.DateError):
                continue
        if vals:
            out[name] = sorted(vals, key=lambda z: (str(type(z)), z))
    return out


def decimal_format(n, pattern):
    """java.text.DecimalFormat for the simple "#.0" / "0.00" patterns."""
    if "." in pattern:
        frac = pattern.split(".", 1)[1]
        mx, mn = len(frac), frac.count("0")
    else:
        mx = mn = 0
    s = "%.*f" % (mx, n)
    if "." in s:
        whole, f = s.split(".")
        while len(f) > mn and f.endswith("0"):
            f = f[:-1]
        s = whole + ("." + f if f else "")
    return s


class SearchRequest:
    def __init__(self, req, index, body):
        self.req = req
        self.params = req.params
        self.body = body if body is not None else {}
        if not isinstance(self.body, dict):
            raise ESError(400, "parsing_exception", "Expected [START_OBJECT] but found [%s]"
                          % token_name(self.body), {"line": 1, "col": 1})
        self.index = index
        check_body_keys(self.body, SEARCH_BODY_KEYS)
        p = self.params
        b = self.body
        if "scroll" in p:
            raise bad_request("scroll is not supported by the Cairn test server; use a point in "
                              "time with search_after")
        ta = p.get("terminate_after", b.get("terminate_after"))
        if ta is not None and int(ta) <= 0:
            raise bad_request("terminateAfter must be > 0")
        self.track = parse_track_total(p.get("track_total_hits", b.get("track_total_hits")))
        self.as_int = truthy(p.get("rest_total_hits_as_int"), False)
        if self.as_int and self.track[0] == "limit" and "track_total_hits" in p or \
                self.as_int and self.track[0] == "limit" and "track_total_hits" in b:
            raise validation("[rest_total_hits_as_int] cannot be used if the tracking of total "
                             "hits is not accurate, got %d" % self.track[1])
        if self.as_int and self.track[0] == "limit":
            self.track = ("exact", None)
        self.size = int(p.get("size", b.get("size", 10)))
        self.from_ = int(p.get("from", b.get("from", 0)))
        if self.size < 0:
            raise bad_request("[size] parameter cannot be negative, found [%d]" % self.size)
        if self.from_ < 0:
            raise bad_request("[from] parameter cannot be negative, found [%d]" % self.from_)
        self.pit = b.get("pit")
        if self.pit is not None:
            if not isinstance(self.pit, dict) or "id" not in self.pit:
                raise ESError(400, "x_content_parse_exception", "[1:1] [pit] failed to parse "
                              "field [id]")
            if index:
                raise validation("[indices] cannot be used with point in time. Do not specify "
                                 "any index with point in time.")
        sort = b.get("sort")
        if "sort" in p:
            sort = [s for s in p["sort"].split(",") if s]
        self.specs = esquery.parse_sort(sort)
        self.search_after = b.get("search_after")
        if self.search_after is not None:
            if not isinstance(self.search_after, list):
                raise ESError(400, "parsing_exception", "[search_after] must be an array",
                              {"line": 1, "col": 1})
            if self.from_ > 0:
                raise bad_request("[from] parameter must be set to 0 when [search_after] is used")
            if not self.specs:
                raise bad_request("Sort must contain at least one field.")
        if self.pit is not None and self.specs and self.specs[-1].field != "_shard_doc" and \
                (self.search_after is None or len(self.search_after) == len(self.specs) + 1):
            tb = esquery.SortSpec("_shard_doc", "asc")
            tb.unmapped_type = "long"
            self.specs.append(tb)
        if self.search_after is not None and len(self.search_after) != len(self.specs):
            raise bad_request("search_after has %d value(s) but sort has %d."
                              % (len(self.search_after), len(self.specs)))
        self.slice = b.get("slice")
        fetch, inc, exc = esquery.source_spec(b.get("_source"), p)
        stored = b.get("stored_fields", p.get("stored_fields"))
        if isinstance(stored, str):
            stored = [s for s in stored.split(",") if s]
        self.stored = stored
        if stored is not None and "_source" not in stored and "_source" not in b and \
                "_source" not in p and "_source_includes" not in p:
            fetch = False
        if stored == ["_none_"]:
            fetch = False
        self.fetch, self.inc, self.exc = fetch, inc, exc
        dv = b.get("docvalue_fields")
        if "docvalue_fields" in p:
            dv = [s for s in p["docvalue_fields"].split(",") if s]
        self.docvalue = dv or []
        self.query = b.get("query")
        if "q" in p:
            self.query = q_param_query(p["q"], p)
        self.post_filter = b.get("post_filter")
        self.track_scores = bool(b.get("track_scores", False))
        self.seq_no = truthy(p.get("seq_no_primary_term", b.get("seq_no_primary_term")), False)
        self.version = truthy(p.get("version", b.get("version")), False)

    def signature(self):
        return enc([self.query, self.post_filter, [s.__dict__ for s in self.specs], self.slice])


def q_param_query(q, params):
    """The q= URI search: only "*", "field:value" and a bare value."""
    q = q.strip()
    if q in ("*", "*:*", ""):
        return {"match_all": {}}
    if ":" in q:
        f, _, v = q.partition(":")
        return {"match": {f: v.strip('"')}}
    return {"match": {params.get("df", "*"): q}}


def gather(sr, targets):
    """targets: [(Index, checkpoint, shard position)] -> sorted entries."""
    entries = []
    sorted_search = bool(sr.specs)
    for idx, cp, pos in targets:
        pred = esquery.compile_query(sr.query, idx)
        post = esquery.compile_query(sr.post_filter, idx) if sr.post_filter else None
        sorter = esquery.Sorter(sr.specs, idx, pos, sr.pit is not None) if sorted_search else None
        sl = sr.slice
        for doc_id, v in idx.visible(cp):
            # A slice is a stable partition of the PIT's documents.
            if sl is not None and v.seq % int(sl.get("max", 1)) != int(sl.get("id", 0)):
                continue
            if not pred(doc_id, v):
                continue
            if post is not None and not post(doc_id, v):
                continue
            if sorter:
                raw = sorter.raw_values(doc_id, v)
                key = sorter.key(raw)
            else:
                raw = None
                key = (pos, v.seq)
            entries.append((key, idx, doc_id, v, raw, sorter))
    try:
        entries.sort(key=lambda e: e[0])
    except TypeError:
        raise bad_request("Can't sort on field [%s]; the field has incompatible sort types across "
                          "indices" % ",".join(s.field for s in sr.specs))
    return entries


def run_search(sr):
    started = time.monotonic()
    if STORE.faults["searches"] > 0:
        STORE.faults["searches"] -= 1
        raise ESError(STORE.faults["status"], "es_rejected_execution_exception",
                      "rejected execution of search [cairn test fault]")
    if sr.pit is not None:
        pid = decode_pit_id(str(sr.pit["id"]))
        STORE.expire_pits()
        pit = STORE.pits.get(pid)
        if pit is None:
            raise pit_missing(pid)
        if sr.pit.get("keep_alive") is not None:
            pit.expires = time.monotonic() + parse_time(sr.pit["keep_alive"])
        targets = []
        for pos, (name, uuid, cp) in enumerate(pit.checkpoints):
            idx = STORE.indices.get(name)
            if idx is None or idx.uuid != uuid:
                raise pit_missing(pid)
            targets.append((idx, cp, pos))
    else:
        indices = check_open(resolve(sr.index, sr.params), sr.params)
        targets = []
        for pos, idx in enumerate(indices):
            idx.maybe_refresh()
            targets.append((idx, idx.refreshed, pos))
    if sr.from_ + sr.size > MAX_RESULT_WINDOW and targets:
        raise query_shard_error(
            targets[0][0], "Result window is too large, from + size must be less than or equal "
            "to: [%d] but was [%d]. See the scroll api for a more efficient way to request large "
            "data sets. This limit can be set by changing the [index.max_result_window] index "
            "level setting." % (MAX_RESULT_WINDOW, sr.from_ + sr.size),
            etype="illegal_argument_exception")
    if sr.pit is not None:
        sig = sr.signature()
        cached = pit.cache.get(sig)
        if cached is None:
            entries = gather(sr, targets)
            cached = (entries, [e[0] for e in entries])
            pit.cache.clear()
            pit.cache[sig] = cached
        entries, keys = cached
    else:
        entries = gather(sr, targets)
        keys = None
    total = len(entries)
    start = 0
    if sr.search_after is not None and entries:
        sorter = entries[0][5]
        after_key = sorter.key(sorter.after_raw(sr.search_after))
        if keys is None:
            keys = [e[0] for e in entries]
        start = bisect.bisect_right(keys, after_key)
    elif sr.search_after is not None:
        # Validate the values even when nothing matches.
        for idx, cp, pos in targets:
            s = esquery.Sorter(sr.specs, idx, pos, sr.pit is not None)
            s.after_raw(sr.search_after)
    page = entries[start + sr.from_:start + sr.from_ + sr.size]
    sorted_search = bool(sr.specs) and not (len(sr.specs) == 1 and sr.specs[0].field == "_score")
    hits = []
    for key, idx, doc_id, v, raw, sorter in page:
        h = {"_index": idx.name, "_id": doc_id}
        if sr.version:
            h["_version"] = v.version
        if sr.seq_no:
            h["_seq_no"] = v.seq
            h["_primary_term"] = 1
        h["_score"] = None if sorted_search and not sr.track_scores else 1.0
        if sr.fetch:
            h["_source"] = Raw(v.src) if not sr.inc and not sr.exc else \
                esquery.filter_source(v.parsed(), sr.inc, sr.exc)
        fields = {}
        if sr.docvalue:
            fields.update(docvalue_out(idx, sr.docvalue, v))
        if sr.stored:
            fields.update(stored_fields_out(idx, v.parsed(), [s for s in sr.stored
                                                               if s != "_source"]))
        if fields:
            h["fields"] = fields
        if sorter is not None:
            h["sort"] = sorter.output(raw)
        hits.append(h)
    mode, limit = sr.track
    hits_obj = {}
    if sr.as_int:
        hits_obj["total"] = -1 if mode == "none" else total
    elif mode == "exact":
        hits_obj["total"] = {"value": total, "relation": "eq"}
    elif mode == "limit":
        hits_obj["total"] = {"value": min(total, limit),
                             "relation": "gte" if total > limit else "eq"}
    hits_obj["max_score"] = None if sorted_search and not sr.track_scores or not hits else 1.0
    hits_obj["hits"] = hits
    nshards = sum(idx.shards for idx, cp, pos in targets)
    resp = {}
    if sr.pit is not None:
        resp["pit_id"] = sr.pit["id"]
    resp.update({"took": int((time.monotonic() - started) * 1000), "timed_out": False,
                 "_shards": {"total": nshards, "successful": nshards, "skipped": 0, "failed": 0},
                 "hits": hits_obj})
    return resp


def h_search(req, index=None):
    sr = SearchRequest(req, index, req.json_body())
    return 200, run_search(sr)


def h_count(req, index=None):
    body = req.json_body() or {}
    if not isinstance(body, dict):
        raise ESError(400, "parsing_exception", "request body must be an object")
    for k in body:
        if k not in ("query",):
            raise ESError(400, "parsing_exception", "request does not support [%s]" % k,
                          {"line": 1, "col": 1})
    ta = int_param(req.params, "terminate_after")
    if ta is not None and ta <= 0:
        raise bad_request("terminateAfter must be > 0")
    query = body.get("query")
    if "q" in req.params:
        query = q_param_query(req.params["q"], req.params)
    indices = check_open(resolve(index, req.params), req.params)
    n = 0
    for idx in indices:
        idx.maybe_refresh()
        pred = esquery.compile_query(query, idx)
        n += sum(1 for doc_id, v in idx.visible(idx.refreshed) if pred(doc_id, v))
    sh = sum(i.shards for i in indices)
    return 200, {"count": n, "_shards": {"total": sh, "successful": sh, "skipped": 0,
                                         "failed": 0}}


def h_msearch(req, index=None):
    lines = bulk_lines(req.text_body())
    pairs = []
    i = 0
    while i < len(lines):
        try:
            header = loads(lines[i]) if lines[i].strip() else {}
            body = loads(lines[i + 1]) if i + 1 < len(lines) else {}
        except ValueError as e:
            raise ESError(400, "x_content_parse_exception", "[1:1] %s" % e)
        i += 2
        pairs.append((header, body))
    if not pairs:
        raise validation("no requests added")
    started = time.monotonic()
    prepared = []
    for header, body in pairs:
        target = header.get("index", index)
        if isinstance(target, list):
            target = ",".join(target)

        class Sub:
            pass
        sub = Sub()
        sub.params = {k: str(v).lower() if isinstance(v, bool) else str(v)
                      for k, v in header.items() if k != "index"}
        try:
            prepared.append((SearchRequest(sub, target, body), None))
        except ESError as e:
            if e.etype == "action_request_validation_exception":
                raise
            prepared.append((None, e))
    responses = []
    for sr, err in prepared:
        if err is None:
            try:
                r = run_search(sr)
                r["status"] = 200
                responses.append(r)
                continue
            except ESError as e:
                err = e
        b = err.to_body()
        responses.append({"error": b["error"], "status": err.status})
    return 200, {"took": int((time.monotonic() - started) * 1000), "responses": responses}


def h_open_pit(req, index):
    if "keep_alive" not in req.params:
        raise validation("[keep_alive] is not specified")
    keep = parse_time(req.params["keep_alive"])
    indices = check_open(resolve(index, req.params), req.params)
    cps = []
    for idx in indices:
        idx.maybe_refresh()
        cp = idx.refreshed
        idx.pins[cp] = idx.pins.get(cp, 0) + 1
        cps.append((idx.name, idx.uuid, cp))
    pid = base64.b64encode(PIT_MAGIC + secrets.token_bytes(33)).decode()
    STORE.pits[pid] = PIT(pid, cps, keep)
    n = sum(i.shards for i in indices)
    return 200, {"id": pid, "_shards": {"total": n, "successful": n, "skipped": 0, "failed": 0}}


def h_close_pit(req):
    body = req.json_body()
    if not isinstance(body, dict) or "id" not in body:
        raise validation("[id] is missing")
    pid = decode_pit_id(str(body["id"]))
    STORE.expire_pits()
    freed = STORE.release_pit(pid)
    return 200, {"succeeded": True, "num_freed": 1 if freed else 0}


def h_delete_by_query(req, index):
    started = time.monotonic()
    body = req.json_body() or {}
    for k in body:
        if k not in ("query", "max_docs", "slice"):
            raise ESError(400, "parsing_exception", "Unknown key for a %s in [%s]."
                          % (token_name(body[k]), k), {"line": 1, "col": 1})
    if "query" not in body and "q" not in req.params:
        raise validation("query is missing")
    if not truthy(req.params.get("wait_for_completion"), True):
        raise bad_request("wait_for_completion=false is not supported by the Cairn test server")
    conflicts = req.params.get("conflicts", "abort")
    if conflicts not in ("abort", "proceed"):
        raise bad_request("conflicts may only be \"proceed\" or \"abort\" but was [%s]"
                          % conflicts)
    query = body.get("query")
    if "q" in req.params:
        query = q_param_query(req.params["q"], req.params)
    max_docs = body.get("max_docs", int_param(req.params, "max_docs"))
    indices = check_open(resolve(index, req.params), req.params)
    total = deleted = vconf = 0
    failures = []
    for idx in indices:
        idx.maybe_refresh()
        pred = esquery.compile_query(query, idx)
        matches = [(doc_id, v) for doc_id, v in idx.visible(idx.refreshed) if pred(doc_id, v)]
        for doc_id, v in matches:
            if max_docs is not None and total >= int(max_docs):
                break
            total += 1
            live = idx.docs[doc_id][-1]
            if live.seq != v.seq:
                vconf += 1
                if conflicts == "abort":
                    failures.append({"index": idx.name, "id": doc_id, "cause": {
                        "type": "version_conflict_engine_exception",
                        "reason": "[%s]: version conflict, required seqNo [%d], primary term [1]. "
                                  "current document has seqNo [%d] and primary term [1]"
                                  % (doc_id, v.seq, live.seq),
                        "index_uuid": idx.uuid, "shard": "0", "index": idx.name},
                        "status": 409})
                    break
                continue
            delete_doc(idx, doc_id)
            deleted += 1
        if failures:
            break
    if truthy(req.params.get("refresh"), False):
        for idx in indices:
            idx.refresh()
    resp = {"took": int((time.monotonic() - started) * 1000), "timed_out": False,
            "total": total, "deleted": deleted, "batches": 1 if total else 0,
            "version_conflicts": vconf, "noops": 0, "retries": {"bulk": 0, "search": 0},
            "throttled_millis": 0, "requests_per_second": -1.0, "throttled_until_millis": 0,
            "failures": failures}
    return (409 if failures else 200), resp


# --------------------------------------------------------------------------
# _cat/indices

CAT_COLUMNS = [
    # name, aliases, default, numeric
    ("health", ("h",), True, False),
    ("status", ("s",), True, False),
    ("index", ("i", "idx"), True, False),
    ("uuid", ("id", "uuid"), True, False),
    ("pri", ("p", "shards.primary", "shardsPrimary"), True, True),
    ("rep", ("r", "shards.replica", "shardsReplica"), True, True),
    ("docs.count", ("dc", "docsCount"), True, True),
    ("docs.deleted", ("dd", "docsDeleted"), True, True),
    ("creation.date", ("cd",), False, True),
    ("creation.date.string", ("cds",), False, False),
    ("store.size", ("ss", "storeSize"), True, True),
    ("pri.store.size", (), True, True),
    ("dataset.size", (), True, True),
]


def human_bytes(n, unit=None):
    if unit:
        div = {"b": 1, "kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3}.get(unit)
        if div is None:
            raise bad_request("failed to parse [%s] as a byte size unit" % unit)
        return str(n // div)
    for u, div in (("gb", 1024 ** 3), ("mb", 1024 ** 2), ("kb", 1024)):
        if n >= div:
            v = n / div
            s = ("%.1f" % v).rstrip("0").rstrip(".")
            return s + u
    return "%db" % n


def h_cat_indices(req, index=None):
    p = req.params
    health = p.get("health")
    if health is not None and health not in ("green", "yellow", "red"):
        raise bad_request("Unknown health status [%s]" % health)
    indices = resolve(index, p, expand="all")
    rows = []
    for idx in indices:
        if health and idx.health != health:
            continue
        closed = idx.state == "close"
        if not closed:
            idx.maybe_refresh()
        size = idx.size_bytes()
        unit = p.get("bytes")
        row = {
            "health": idx.health, "status": idx.state, "index": idx.name, "uuid": idx.uuid,
            "pri": str(idx.shards), "rep": str(idx.replicas),
            "docs.count": None if closed else str(idx.count(idx.refreshed)),
            "docs.deleted": None if closed else "0",
            "creation.date": str(idx.created),
            "creation.date.string": esdates.format(idx.created * esdates.MILLI,
                                                   "strict_date_optional_time"),
            "store.size": None if closed else human_bytes(size, unit),
            "pri.store.size": None if closed else human_bytes(size, unit),
            "dataset.size": None if closed else human_bytes(size, unit),
        }
        rows.append(row)
    cols = []
    if "h" in p:
        for want in p["h"].split(","):
            for name, al, _, num in CAT_COLUMNS:
                if want == name or want in al:
                    cols.append((name, num))
                    break
            # Elasticsearch ignores unknown columns in h= as well.
    else:
        cols = [(name, num) for name, al, dflt, num in CAT_COLUMNS if dflt]
    if "s" in p:
        keys = []
        for s in p["s"].split(","):
            name, _, order = s.partition(":")
            for cname, al, _, num in CAT_COLUMNS:
                if name == cname or name in al:
                    keys.append((cname, num, order == "desc"))
                    break
            else:
                raise bad_request("Unable to sort by unknown sort key `%s`" % name)
        for cname, num, desc in reversed(keys):
            rows.sort(key=lambda r: (r[cname] is None,
                                     (float(r[cname]) if num and r[cname] and
                                      re.match(r"^\d+(\.\d+)?$", r[cname]) else r[cname] or "")),
                      reverse=desc)
    else:
        rows.sort(key=lambda r: r["index"])
    if p.get("format") == "json":
        return 200, [{c: r[c] for c, _ in cols} for r in rows]
    if p.get("format") not in (None, "txt", "text"):
        raise bad_request("format [%s] is not supported by the Cairn test server" % p["format"])
    table = [[r[c] or "" for c, _ in cols] for r in rows]
    if truthy(p.get("v"), False):
        table.insert(0, [c for c, _ in cols])
    widths = [max([len(row[i]) for row in table] + [0]) for i in range(len(cols))]
    out = []
    for row in table:
        cells = []
        for i, cell in enumerate(row):
            num = cols[i][1] and row is not table[0] if truthy(p.get("v"), False) else cols[i][1]
            cells.append(cell.rjust(widths[i]) if num else cell.ljust(widths[i]))
        out.append(" ".join(cells) + "\n")
    return 200, "".join(out), [], "text/plain; charset=UTF-8"


# --------------------------------------------------------------------------
# Root and test controls


def h_info(req):
    return 200, {"name": NODE_NAME, "cluster_name": CLUSTER_NAME, "cluster_uuid": CLUSTER_UUID,
                 "version": VERSION, "tagline": "You Know, for Search"}


def h_test_reset(req):
    for pid in list(STORE.pits):
        STORE.release_pit(pid)
    for name in list(STORE.indices):
        del STORE.indices[name]
        STORE.log({"op": "delete_index", "name": name})
    for k in ("bulk_items", "bulk_requests", "searches"):
        STORE.faults[k] = 0
    return 200, {"acknowledged": True}


def h_test_faults(req):
    if req.method == "POST":
        body = req.json_body() or {}
        for k, v in body.items():
            if k not in STORE.faults:
                raise bad_request("unknown fault [%s]; known: %s" % (k, ", ".join(STORE.faults)))
            STORE.faults[k] = int(v)
    return 200, dict(STORE.faults)


def h_test_stats(req):
    STORE.expire_pits()
    return 200, {"open_pits": len(STORE.pits), "indices": sorted(STORE.indices),
                 "requests": dict(STATS)}


STATS = {}

# (methods, path pattern, handler, allowed params)
COMMON_PARAMS = {"pretty", "human", "error_trace", "filter_path", "source", "source_content_type"}
P_INDICES = {"ignore_unavailable", "allow_no_indices", "expand_wildcards"}
P_WRITE = {"refresh", "routing", "timeout", "wait_for_active_shards", "version", "version_type",
           "if_seq_no", "if_primary_term", "pipeline", "require_alias", "require_data_stream",
           "op_type"}
P_GET = {"stored_fields", "preference", "realtime", "refresh", "routing", "_source",
         "_source_excludes", "_source_includes", "version", "version_type",
         "force_synthetic_source"}
P_SEARCH = P_INDICES | {"analyzer", "analyze_wildcard", "ccs_minimize_roundtrips",
                        "default_operator", "df", "explain", "stored_fields", "docvalue_fields",
                        "from", "ignore_throttled", "lenient", "preference", "q", "routing",
                        "scroll", "search_type", "size", "sort", "_source", "_source_excludes",
                        "_source_includes", "terminate_after", "stats", "suggest_field",
                        "suggest_mode", "suggest_size", "suggest_text", "timeout",
                        "track_scores", "track_total_hits", "allow_partial_search_results",
                        "typed_keys", "version", "seq_no_primary_term", "request_cache",
                        "batched_reduce_size", "max_concurrent_shard_requests",
                        "pre_filter_shard_size", "rest_total_hits_as_int", "include_named_queries_score"}
P_MGMT = P_INDICES | {"timeout", "master_timeout", "local", "flat_settings", "include_defaults",
                      "wait_for_active_shards", "include_type_name"}

ROUTES = [
    ({"GET", "HEAD"}, "/", h_info, set()),
    ({"GET"}, "/_cluster/health", h_cluster_health, P_MGMT | {"wait_for_status", "level",
                                                              "wait_for_nodes",
                                                              "wait_for_no_relocating_shards",
                                                              "wait_for_events",
                                                              "wait_for_no_initializing_shards"}),
    ({"GET"}, "/_cluster/health/{index}", h_cluster_health, P_MGMT | {"wait_for_status",
                                                                      "level"}),
    ({"PUT"}, "/{index}", h_create_index, P_MGMT),
    ({"HEAD"}, "/{index}", h_index_exists, P_MGMT),
    ({"GET"}, "/{index}", h_get_index, P_MGMT | {"features"}),
    ({"DELETE"}, "/{index}", h_delete_index, P_MGMT),
    ({"GET"}, "/_settings", h_get_settings, P_MGMT),
    ({"GET"}, "/{index}/_settings", h_get_settings, P_MGMT),
    ({"GET"}, "/_mapping", h_get_mapping, P_MGMT),
    ({"GET"}, "/{index}/_mapping", h_get_mapping, P_MGMT),
    ({"PUT", "POST"}, "/{index}/_mapping", h_put_mapping, P_MGMT | {"write_index_only"}),
    ({"GET", "POST"}, "/_refresh", h_refresh, P_INDICES),
    ({"GET", "POST"}, "/{index}/_refresh", h_refresh, P_INDICES),
    ({"POST"}, "/{index}/_close", h_close, P_MGMT),
    ({"POST"}, "/{index}/_open", h_open, P_MGMT),
    ({"GET"}, "/_alias", h_get_alias, P_MGMT),
    ({"GET"}, "/{index}/_alias", h_get_alias, P_MGMT),
    ({"GET"}, "/_alias/{name}", h_get_alias, P_MGMT),
    ({"GET"}, "/{index}/_alias/{name}", h_get_alias, P_MGMT),
    ({"HEAD"}, "/_alias/{name}", h_exists_alias, P_MGMT),
    ({"HEAD"}, "/{index}/_alias/{name}", h_exists_alias, P_MGMT),
    ({"PUT", "POST"}, "/{index}/_alias/{name}", h_put_alias, P_MGMT),
    ({"PUT", "POST"}, "/{index}/_aliases/{name}", h_put_alias, P_MGMT),
    ({"DELETE"}, "/{index}/_alias/{name}", h_delete_alias, P_MGMT),
    ({"DELETE"}, "/{index}/_aliases/{name}", h_delete_alias, P_MGMT),
    ({"PUT", "POST"}, "/{index}/_doc/{id}", h_index_doc, P_WRITE),
    ({"POST"}, "/{index}/_doc", h_index_doc, P_WRITE),
    ({"PUT", "POST"}, "/{index}/_create/{id}", h_create_doc, P_WRITE),
    ({"GET"}, "/{index}/_doc/{id}", h_get_doc, P_GET),
    ({"HEAD"}, "/{index}/_doc/{id}", h_exists_doc, P_GET),
    ({"DELETE"}, "/{index}/_doc/{id}", h_delete_doc, P_WRITE),
    ({"GET"}, "/{index}/_source/{id}", h_get_source, P_GET),
    ({"HEAD"}, "/{index}/_source/{id}", h_exists_doc, P_GET),
    ({"POST"}, "/{index}/_update/{id}", h_update, P_WRITE | {"retry_on_conflict", "_source",
                                                            "_source_includes",
                                                            "_source_excludes", "lang"}),
    ({"POST", "PUT"}, "/_bulk", h_bulk, P_WRITE | {"type", "_source", "_source_excludes",
                                                   "_source_includes",
                                                   "list_executed_pipelines"}),
    ({"POST", "PUT"}, "/{index}/_bulk", h_bulk, P_WRITE | {"type", "_source",
                                                           "_source_excludes",
                                                           "_source_includes",
                                                           "list_executed_pipelines"}),
    ({"GET", "POST"}, "/_search", h_search, P_SEARCH),
    ({"GET", "POST"}, "/{index}/_search", h_search, P_SEARCH),
    ({"GET", "POST"}, "/_count", h_count, P_SEARCH),
    ({"GET", "POST"}, "/{index}/_count", h_count, P_SEARCH | {"min_score"}),
    ({"GET", "POST"}, "/_msearch", h_msearch, P_SEARCH | {"max_concurrent_searches"}),
    ({"GET", "POST"}, "/{index}/_msearch", h_msearch, P_SEARCH | {"max_concurrent_searches"}),
    ({"POST"}, "/{index}/_pit", h_open_pit, P_INDICES | {"keep_alive", "preference", "routing",
                                                         "allow_partial_search_results",
                                                         "max_concurrent_shard_requests"}),
    ({"DELETE"}, "/_pit", h_close_pit, set()),
    ({"POST"}, "/{index}/_delete_by_query", h_delete_by_query,
     P_SEARCH | {"conflicts", "max_docs", "refresh", "wait_for_completion", "slices",
                 "scroll_size", "requests_per_second", "wait_for_active_shards",
                 "search_timeout"}),
    ({"GET"}, "/_cat/indices", h_cat_indices, P_INDICES | {"format", "bytes", "local",
                                                           "master_timeout", "h", "health",
                                                           "help", "pri", "s", "v",
                                                           "include_unloaded_segments", "time"}),
    ({"GET"}, "/_cat/indices/{index}", h_cat_indices, P_INDICES | {"format", "bytes", "local",
                                                                   "master_timeout", "h",
                                                                   "health", "help", "pri", "s",
                                                                   "v", "time",
                                                                   "include_unloaded_segments"}),
    ({"POST"}, "/_cairn_test/reset", h_test_reset, set()),
    ({"GET", "POST"}, "/_cairn_test/faults", h_test_faults, set()),
    ({"GET"}, "/_cairn_test/stats", h_test_stats, set()),
]


def compile_routes():
    out = []
    for methods, pattern, handler, params in ROUTES:
        segs = [s for s in pattern.split("/") if s] if pattern != "/" else []
        literal = sum(1 for s in segs if not s.startswith("{"))
        out.append((segs, literal, methods, pattern, handler, params))
    return out


COMPILED = compile_routes()


def match_route(segs):
    """Routes whose shape matches, best (most literal segments) first."""
    found = []
    for rsegs, literal, methods, pattern, handler, params in COMPILED:
        if len(rsegs) != len(segs):
            continue
        args = {}
        ok = True
        for r, s in zip(rsegs, segs):
            if r.startswith("{"):
                if s.startswith("_") and r == "{index}" and s not in ("_all",):
                    ok = False
                    break
                args[r[1:-1]] = s
            elif r != s:
                ok = False
                break
        if ok:
            found.append((literal, methods, pattern, handler, params, args))
    found.sort(key=lambda f: -f[0])
    return found


# --------------------------------------------------------------------------
# filter_path


def filter_path(obj, patterns):
    pats = [p.split(".") for p in patterns if p and not p.startswith("-")]
    if not pats:
        return obj
    res = _fp(obj, pats)
    return res if res is not None else {}


def _fp(obj, pats):
    if any(not p for p in pats):
        return obj
    if isinstance(obj, list):
        out = [x for x in (_fp(el, pats) for el in obj) if x is not None]
        return out or None
    if not isinstance(obj, dict):
        return None
    out = {}
    for k, v in obj.items():
        sub = []
        for p in pats:
            head = p[0]
            if head == "**":
                sub.append(p)          # ** may match more levels
                sub.append(p[1:])      # or none
                if len(p) > 1 and re.match(wildcard_re(p[1]).pattern, k):
                    sub.append(p[2:])
            elif wildcard_re(head).match(k):
                sub.append(p[1:])
        if not sub:
            continue
        r = _fp(v, sub)
        if r is not None:
            out[k] = r
    return out or None


# --------------------------------------------------------------------------
# HTTP

JSON_TYPES = ("application/json", "application/x-ndjson", "application/vnd.elasticsearch+json",
              "application/vnd.elasticsearch+x-ndjson")


class Request:
    def __init__(self, method, path, params, headers, body):
        self.method = method
        self.path = path
        self.params = params
        self.headers = headers
        self.body = body

    def text_body(self):
        try:
            return self.body.decode("utf-8") if self.body else ""
        except UnicodeDecodeError:
            raise ESError(400, "x_content_parse_exception", "[1:1] Invalid UTF-8 start byte")

    def json_body(self):
        text = self.text_body()
        if "source" in self.params and not text:
            text = self.params["source"]
        if text.strip() == "":
            return None
        try:
            return loads(text)
        except DuplicateKey as e:
            raise ESError(400, "x_content_parse_exception", "[1:1] Duplicate field '%s'" % e)
        except ValueError as e:
            raise ESError(400, "x_content_parse_exception", "[1:1] %s" % e)


def check_auth(headers, path):
    if not (CONFIG["user"] or CONFIG["api_key"]):
        return
    auth = headers.get("Authorization", "")
    www = [("WWW-Authenticate", 'Basic realm="security", charset="UTF-8"'),
           ("WWW-Authenticate", "ApiKey")]

    def fail(reason):
        hdr = {"WWW-Authenticate": ['Basic realm="security", charset="UTF-8"', "ApiKey"]}
        rc = {"type": "security_exception", "reason": reason, "header": hdr}
        body = {"error": {"root_cause": [rc], "type": "security_exception", "reason": reason,
                          "header": hdr}, "status": 401}
        return ESError(401, "security_exception", reason, body=body, headers=www)

    if not auth:
        raise fail("missing authentication credentials for REST request [%s]" % path)
    scheme, _, cred = auth.partition(" ")
    cred = cred.strip()
    if scheme.lower() == "basic" and CONFIG["user"]:
        try:
            user, _, pw = base64.b64decode(cred).decode().partition(":")
        except (ValueError, UnicodeError):
            user, pw = "", None
        if hmac.compare_digest(user, CONFIG["user"]) and pw is not None and \
                hmac.compare_digest(pw, CONFIG["password"] or ""):
            return
        raise fail("unable to authenticate user [%s] for REST request [%s]" % (user, path))
    if scheme.lower() == "apikey" and CONFIG["api_key"]:
        key = CONFIG["api_key"]
        try:
            decoded = base64.b64decode(cred).decode()
        except (ValueError, UnicodeError):
            decoded = None
        if hmac.compare_digest(cred, key) or (decoded is not None and
                                              hmac.compare_digest(decoded, key)):
            return
        raise fail("unable to authenticate with provided credentials and anonymous access is "
                   "not allowed for this request")
    raise fail("missing authentication credentials for REST request [%s]" % path)


def dispatch(req, raw_path):
    segs = [urllib.parse.unquote(s) for s in req.path.split("/") if s]
    if not segs or segs[0] != "_cairn_test":
        check_auth(req.headers, raw_path)
    candidates = match_route(segs)
    if not candidates:
        raise bad_request("no handler found for uri [%s] and method [%s]"
                          % (raw_path, req.method))
    for literal, methods, pattern, handler, allowed, args in candidates:
        if req.method in methods:
            break
    else:
        allowed_m = sorted(set().union(*[c[1] for c in candidates if c[0] == candidates[0][0]]))
        body = {"error": "Incorrect HTTP method for uri [%s] and method [%s], allowed: [%s]"
                         % (raw_path, req.method, ", ".join(allowed_m)), "status": 405}
        raise ESError(405, "", "", body=body, headers=[("Allow", ",".join(allowed_m))])
    unknown = [p for p in req.params if p not in allowed and p not in COMMON_PARAMS
]
    if unknown:
        raise bad_request("request [%s] contains unrecognized parameter%s: [%s]"
                          % (req.path, "s" if len(unknown) > 1 else "",
                             "], [".join(sorted(unknown))))
    if req.body and req.method != "HEAD":
        ct = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ct not in JSON_TYPES:
            body = {"error": "Content-Type header [%s] is not supported"
                             % (req.headers.get("Content-Type") or ""), "status": 406}
            raise ESError(406, "", "", body=body)
    STATS[pattern] = STATS.get(pattern, 0) + 1
    with STORE.lock:
        try:
            return handler(req, **args)
        finally:
            STORE.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "cairn-es"
    sys_version = ""

    def send_response(self, code, message=None):
        # Elasticsearch sends neither Server nor Date.
        self.log_request(code)
        self.send_response_only(code, message)

    def handle(self):
        # Clients hanging up on a kept-alive connection are not errors.
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError, TimeoutError):
            pass

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            data = b"".join(chunks)
        else:
            n = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(n) if n else b""
        if (self.headers.get("Content-Encoding") or "").lower() == "gzip" and data:
            data = gzip.decompress(data)
        return data

    def _handle(self):
        started = time.monotonic()
        raw_path = self.path
        parsed = urllib.parse.urlsplit(raw_path)
        params = {}
        for k, v in urllib.parse.parse_qsl(parsed.query, keep_blank_values=True):
            params[k] = v
        try:
            body = self._read_body()
        except (ValueError, OSError) as e:
            self.send_error(400, "bad body: %s" % e)
            return
        req = Request(self.command, parsed.path, params, self.headers, body)
        extra = []
        ctype = "application/json"
        accept = (self.headers.get("Accept") or "")
        m = re.search(r"application/vnd\.elasticsearch\+json;\s*compatible-with=(\d+)", accept)
        if m:
            ctype = "application/vnd.elasticsearch+json;compatible-with=%s" % m.group(1)
        try:
            r = dispatch(req, raw_path)
            status, obj = r[0], r[1]
            if len(r) > 2:
                extra = r[2]
            if len(r) > 3:
                ctype = r[3]
        except ESError as e:
            status, obj, extra = e.status, e.to_body(), e.headers
        except Exception as e:  # a bug here must still answer like ES does
            import traceback
            traceback.print_exc()
            err = ESError(500, "exception", "cairn test server bug: %s: %s"
                          % (type(e).__name__, e))
            status, obj = 500, err.to_body()
        if obj is None:
            data = b""
        elif isinstance(obj, str) and ctype.startswith("text/"):
            data = obj.encode("utf-8")
        else:
            text = enc(obj)
            if "filter_path" in params or truthy(params.get("pretty"), False) and \
                    params.get("pretty") != "false":
                o = json.loads(text)
                if "filter_path" in params:
                    o = filter_path(o, params["filter_path"].split(","))
                text = json.dumps(o, ensure_ascii=False,
                                  indent=2 if "pretty" in params else None,
                                  separators=None if "pretty" in params else (",", ":"))
                if "pretty" in params:
                    text += "\n"
            data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("X-elastic-product", "Elasticsearch")
        if obj is not None or self.command == "HEAD":
            self.send_header("content-type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("content-length", str(len(data)) if self.command != "HEAD" else
                         str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        STATS["_took_ms"] = STATS.get("_took_ms", 0) + int((time.monotonic() - started) * 1000)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


def main():
    global STORE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--data", help="directory for the journal (default: memory only)")
    ap.add_argument("--user", default=os.environ.get("CAIRN_ES_USER"))
    ap.add_argument("--password", default=os.environ.get("CAIRN_ES_PASSWORD"))
    ap.add_argument("--api-key", default=os.environ.get("CAIRN_ES_API_KEY"))
    ap.add_argument("--tls-cert", default=os.environ.get("CAIRN_ES_TLS_CERT"),
                    help="PEM certificate (chain): serve HTTPS instead of HTTP")
    ap.add_argument("--tls-key", default=os.environ.get("CAIRN_ES_TLS_KEY"))
    ap.add_argument("--pid-file")
    ap.add_argument("--destructive-requires-name",
                    default=os.environ.get("CAIRN_ES_DESTRUCTIVE_REQUIRES_NAME", "true"),
                    choices=["true", "false"])
    a = ap.parse_args()
    CONFIG.update(user=a.user, password=a.password, api_key=a.api_key,
                  destructive_requires_name=a.destructive_requires_name == "true")
    if a.user and a.password is None:
        ap.error("--user needs --password (or CAIRN_ES_PASSWORD)")
    STORE = Store(a.data)
    srv = ThreadingHTTPServer((a.host, a.port), Handler)
    srv.daemon_threads = True
    srv.block_on_close = False   # idle keep-alive connections must not delay a stop
    if a.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        # The handshake then happens in the connection's thread, not in accept().
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                     do_handshake_on_connect=False)
    if a.pid_file:
        with open(a.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())

    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    sys.stderr.write("cairn-es %s listening on %s://%s:%d (data: %s, auth: %s)\n"
                     % (VERSION["number"], "https" if a.tls_cert else "http", a.host, a.port,
                        a.data or "memory", "on" if (a.user or a.api_key) else "off"))
    sys.stderr.flush()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        with STORE.lock:
            STORE.flush()
        srv.server_close()


if __name__ == "__main__":
    main()
