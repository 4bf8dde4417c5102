"""Query DSL, sorting, search_after and _source filtering for the test server.

A query is compiled once per index (field types come from that index's
mapping) into a predicate over (doc_id, Version).  Scores are not computed:
every hit scores 1.0, which is enough for metadata reads, which sort on
fields or on _shard_doc.
"""

import fnmatch

import esdates
from esmodel import (ESError, analyze, field_def, field_type, query_shard_error, source_values,
                     to_number, NUMERIC, INTEGRAL)

LONG_MAX = 9223372036854775807
LONG_MIN = -9223372036854775808


def parsing_error(reason):
    return ESError(400, "parsing_exception", reason, {"line": 1, "col": 1})


QUERY_TYPES = {"match_all", "match_none", "term", "terms", "ids", "exists", "bool", "match",
               "range", "prefix", "constant_score", "wildcard"}


def compile_query(q, idx):
    if q is None:
        return lambda doc_id, v: True
    if not isinstance(q, dict) or len(q) != 1:
        if isinstance(q, dict) and not q:
            raise parsing_error("query malformed, empty clause found")
        raise parsing_error("[_na] query malformed, no start_object after query name")
    (kind, body), = q.items()
    if kind not in QUERY_TYPES:
        raise ESError(400, "parsing_exception", "unknown query [%s]" % kind,
                      {"line": 1, "col": 1},
                      caused_by={"type": "named_object_not_found_exception",
                                 "reason": "[1:1] unknown field [%s]" % kind})
    return globals()["_q_" + kind](body, idx)


def _single_field(kind, body):
    if not isinstance(body, dict):
        raise parsing_error("[%s] query malformed, no start_object after query name" % kind)
    fields = [k for k in body if k not in ("boost", "_name")]
    if len(fields) != 1:
        raise parsing_error("[%s] query doesn't support multiple fields, found [%s] and [%s]"
                            % (kind, fields[0], fields[1]) if len(fields) > 1 else
                            "[%s] query malformed, no field" % kind)
    return fields[0], body[fields[0]]


def _q_match_all(body, idx):
    return lambda doc_id, v: True


def _q_match_none(body, idx):
    return lambda doc_id, v: False


def _q_constant_score(body, idx):
    if not isinstance(body, dict) or "filter" not in body:
        raise parsing_error("[constant_score] requires a 'filter' element")
    return compile_query(body["filter"], idx)


def _values(idx, field, v):
    """(type, definition, values) of field in version v of a document."""
    d, src_path = field_def(idx.mappings, field)
    if d is None:
        return None, None, []
    return field_type(d), d, source_values(v.parsed(), src_path)


def _keyword_strings(vals, d):
    above = d.get("ignore_above") if d else None
    out = []
    for x in vals:
        if isinstance(x, dict):
            continue
        s = ("true" if x else "false") if isinstance(x, bool) else str(x)
        if above is not None and len(s) > int(above):
            continue
        out.append(s)
    return out


def _as_bool(x):
    if x in (True, "true"):
        return True
    if x in (False, "false", ""):
        return False
    return None


def _equals_pred(idx, field, value, case_insensitive=False, analyzed_query=False, operator="or"):
    """Predicate for term (analyzed_query False) and match (True) semantics."""
    if field == "_id":
        want = str(value)
        return lambda doc_id, v: doc_id == want
    if field == "_index":
        want = str(value)
        return lambda doc_id, v: idx.name == want
    d, src = field_def(idx.mappings, field)
    t = field_type(d)
    if t is None:
        return lambda doc_id, v: False
    if t in ("text", "match_only_text"):
        if analyzed_query:
            toks = analyze(value)
            if not toks:
                return lambda doc_id, v: False

            def pred(doc_id, v):
                have = set()
                for x in source_values(v.parsed(), src):
                    have.update(analyze(x))
                return all(t_ in have for t_ in toks) if operator == "and" \
                    else any(t_ in have for t_ in toks)
            return pred
        want = str(value)

        def pred(doc_id, v):
            for x in source_values(v.parsed(), src):
                if want in analyze(x):
                    return True
            return False
        return pred
    if t in NUMERIC:
        try:
            want = to_number(value, t)
        except ValueError:
            raise query_shard_error(idx, "failed to create query: For input string: \"%s\"" % value,
                                    caused_by={"type": "number_format_exception",
                                               "reason": "For input string: \"%s\"" % value})

        def pred(doc_id, v):
            for x in source_values(v.parsed(), src):
                try:
                    if to_number(x, t) == want:
                        return True
                except ValueError:
                    pass
            return False
        return pred
    if t == "boolean":
        want = _as_bool(value)
        return lambda doc_id, v: any(_as_bool(x) == want for x in source_values(v.parsed(), src))
    if t in ("date", "date_nanos"):
        want = _date_value(idx, field, d, value, None)
        return lambda doc_id, v: any(_safe_date(d, x) == want
                                     for x in source_values(v.parsed(), src))
    if t in ("object", "nested"):
        return lambda doc_id, v: False
    want = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if case_insensitive:
        want = want.lower()
        return lambda doc_id, v: any(s.lower() == want for s in
                                     _keyword_strings(source_values(v.parsed(), src), d))
    return lambda doc_id, v: want in _keyword_strings(source_values(v.parsed(), src), d)


def _safe_date(d, x):
    try:
        n = esdates.parse(x, d.get("format"))
    except esdates.DateError:
        return None
    return n if d.get("type") == "date_nanos" else n // esdates.MILLI * esdates.MILLI


def _date_value(idx, field, d, value, fmt):
    try:
        n = esdates.parse(value, fmt or d.get("format"))
    except esdates.DateError:
        raise query_shard_error(idx, "failed to parse date field [%s] with format [%s]"
                                % (value, fmt or d.get("format", esdates.DEFAULT_FORMAT)),
                                etype="parse_exception")
    return n if d.get("type") == "date_nanos" else n // esdates.MILLI * esdates.MILLI


def _q_term(body, idx):
    field, spec = _single_field("term", body)
    ci = False
    if isinstance(spec, dict):
        if "value" not in spec:
            raise parsing_error("[term] query does not support [%s]" % ",".join(spec))
        ci = bool(spec.get("case_insensitive", False))
        spec = spec["value"]
    if isinstance(spec, (list, dict)) or spec is None:
        raise parsing_error("[term] query does not support array of values")
    return _equals_pred(idx, field, spec, case_insensitive=ci)


def _q_terms(body, idx):
    field, values = _single_field("terms", body)
    if not isinstance(values, list):
        raise parsing_error("[terms] query does not support [%s]" % field)
    preds = [_equals_pred(idx, field, x) for x in values]
    return lambda doc_id, v: any(p(doc_id, v) for p in preds)


def _q_ids(body, idx):
    if not isinstance(body, dict) or not isinstance(body.get("values", []), list):
        raise parsing_error("[ids] query malformed")
    want = set(str(x) for x in body.get("values", []))
    return lambda doc_id, v: doc_id in want


def _q_exists(body, idx):
    if not isinstance(body, dict) or "field" not in body:
        raise parsing_error("[exists] must be provided with a [field]")
    field = body["field"]
    if field in ("_id", "_index"):
        return lambda doc_id, v: True
    if "*" in field:
        raise parsing_error("[exists] wildcard field names are not supported by the test server")
    d, src = field_def(idx.mappings, field)
    if d is None:
        return lambda doc_id, v: False

    def pred(doc_id, v):
        for x in source_values(v.parsed(), src):
            if isinstance(x, dict):
                if x:
                    return True
            else:
                return True
        return False
    return pred


def _q_match(body, idx):
    field, spec = _single_field("match", body)
    op = "or"
    if isinstance(spec, dict):
        if "query" not in spec:
            raise parsing_error("[match] query malformed, no [query] found")
        op = str(spec.get("operator", "or")).lower()
        spec = spec["query"]
    return _equals_pred(idx, field, spec, analyzed_query=True, operator=op)


def _q_prefix(body, idx):
    field, spec = _single_field("prefix", body)
    if isinstance(spec, dict):
        spec = spec.get("value")
    want = str(spec)
    if field == "_id":
        return lambda doc_id, v: doc_id.startswith(want)
    d, src = field_def(idx.mappings, field)
    t = field_type(d)
    if t is None:
        return lambda doc_id, v: False
    if t in ("text", "match_only_text"):
        return lambda doc_id, v: any(tok.startswith(want) for x in source_values(v.parsed(), src)
                                     for tok in analyze(x))
    return lambda doc_id, v: any(s.startswith(want) for s in
                                 _keyword_strings(source_values(v.parsed(), src), d))


def _q_wildcard(body, idx):
    field, spec = _single_field("wildcard", body)
    if isinstance(spec, dict):
        spec = spec.get("value", spec.get("wildcard"))
    pat = str(spec)
    if field == "_id":
        return lambda doc_id, v: fnmatch.fnmatchcase(doc_id, pat)
    d, src = field_def(idx.mappings, field)
    if d is None:
        return lambda doc_id, v: False
    return lambda doc_id, v: any(fnmatch.fnmatchcase(s, pat) for s in
                                 _keyword_strings(source_values(v.parsed(), src), d))


def _q_range(body, idx):
    field, spec = _single_field("range", body)
    if not isinstance(spec, dict):
        raise parsing_error("[range] query malformed, no start_object after query name")
    bounds = {k: spec[k] for k in ("gt", "gte", "lt", "lte") if spec.get(k) is not None}
    if "from" in spec or "to" in spec:
        raise parsing_error("[range] query: [from]/[to] are not supported by the test server")
    d, src = field_def(idx.mappings, field)
    t = field_type(d)
    if field == "_id":
        conv = str
        getv = lambda doc_id, v: [doc_id]
    elif t is None:
        return lambda doc_id, v: False
    elif t in NUMERIC:
        conv = lambda x: to_number(x, "double")
        getv = lambda doc_id, v: source_values(v.parsed(), src)
    elif t in ("date", "date_nanos"):
        fmt = spec.get("format")
        bounds = {k: _date_value(idx, field, d, b, fmt) for k, b in bounds.items()}
        conv = lambda x: x
        getv = lambda doc_id, v: [y for y in (_safe_date(d, x) for x in
                                              source_values(v.parsed(), src)) if y is not None]
    else:
        conv = str
        getv = lambda doc_id, v: _keyword_strings(source_values(v.parsed(), src), d)
    try:
        b = {k: conv(x) for k, x in bounds.items()}
    except ValueError as e:
        raise query_shard_error(idx, "failed to create query: %s" % e)

    def ok(x):
        try:
            x = conv(x)
        except ValueError:
            return False
        return (("gt" not in b or x > b["gt"]) and ("gte" not in b or x >= b["gte"]) and
                ("lt" not in b or x < b["lt"]) and ("lte" not in b or x <= b["lte"]))
    return lambda doc_id, v: any(ok(x) for x in getv(doc_id, v))


def _clauses(body, key):
    c = body.get(key, [])
    if isinstance(c, dict):
        c = [c]
    return c


def _q_bool(body, idx):
    if not isinstance(body, dict):
        raise parsing_error("[bool] query malformed, no start_object after query name")
    for k in body:
        if k not in ("must", "filter", "should", "must_not", "minimum_should_match", "boost",
                     "_name", "adjust_pure_negative"):
            raise parsing_error("[bool] query does not support [%s]" % k)
    must = [compile_query(c, idx) for c in _clauses(body, "must") + _clauses(body, "filter")]
    should = [compile_query(c, idx) for c in _clauses(body, "should")]
    must_not = [compile_query(c, idx) for c in _clauses(body, "must_not")]
    msm = body.get("minimum_should_match")
    if msm is None:
        need = 1 if should and not must else 0
    else:
        s = str(msm)
        if s.endswith("%"):
            pct = int(s[:-1])
            need = len(should) * abs(pct) // 100
            if pct < 0:
                need = len(should) - need
        else:
            n = int(s)
            need = n if n >= 0 else len(should) + n
    need = max(0, min(need, len(should))) if should else 0

    def pred(doc_id, v):
        for p in must:
            if not p(doc_id, v):
                return False
        for p in must_not:
            if p(doc_id, v):
                return False
        if need:
            hits = 0
            for p in should:
                if p(doc_id, v):
                    hits += 1
                    if hits >= need:
                        return True
            return False
        return True
    return pred


# --------------------------------------------------------------------------
# Sorting


class Neg:
    """Reverses the order of a sort component (descending sorts)."""
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __lt__(self, other):
        return other.v < self.v

    def __gt__(self, other):
        return other.v > self.v

    def __eq__(self, other):
        return self.v == other.v

    def __le__(self, other):
        return other.v <= self.v

    def __ge__(self, other):
        return other.v >= self.v


class SortSpec:
    def __init__(self, field, order=None, missing="_last", unmapped_type=None, fmt=None,
                 numeric_type=None, mode=None):
        self.field = field
        default = "desc" if field == "_score" else "asc"
        self.order = (order or default).lower()
        if self.order not in ("asc", "desc"):
            raise bad_sort("[%s] sort order must be one of [asc, desc], found [%s]"
                           % (field, order))
        self.missing = missing
        self.unmapped_type = unmapped_type
        self.format = fmt
        self.numeric_type = numeric_type
        self.mode = mode

    def describe(self):
        return {self.field: {"order": self.order}}


def bad_sort(reason):
    return ESError(400, "illegal_argument_exception", reason)


def parse_sort(sort):
    if sort is None:
        return []
    if not isinstance(sort, list):
        sort = [sort]
    out = []
    for s in sort:
        if isinstance(s, str):
            if ":" in s and s not in ("_score", "_doc"):
                f, _, o = s.rpartition(":")
                out.append(SortSpec(f, o))
            else:
                out.append(SortSpec(s))
        elif isinstance(s, dict) and len(s) == 1:
            (f, o), = s.items()
            if isinstance(o, str):
                out.append(SortSpec(f, o))
            elif isinstance(o, dict):
                for k in o:
                    if k not in ("order", "missing", "unmapped_type", "format", "numeric_type",
                                 "mode", "nested"):
                        raise ESError(400, "x_content_parse_exception",
                                      "[1:1] [field_sort] unknown field [%s]" % k)
                out.append(SortSpec(f, o.get("order"), o.get("missing", "_last"),
                                    o.get("unmapped_type"), o.get("format"),
                                    o.get("numeric_type"), o.get("mode")))
            else:
                raise parsing_error("malformed sort format, within the sort array, an object, "
                                    "or an actual string are allowed")
        else:
            raise parsing_error("malformed sort format, within the sort array, an object, "
                                "or an actual string are allowed")
    return out


class Sorter:
    """Sort keys and output sort values for the docs of one index."""

    def __init__(self, specs, idx, shard_pos, has_pit):
        self.specs = specs
        self.idx = idx
        self.pos = shard_pos
        self.getters = []
        for s in specs:
            if s.field == "_shard_doc":
                if not has_pit:
                    raise ESError(400, "action_request_validation_exception",
                                  "Validation Failed: 1: [_shard_doc] sort field cannot be used "
                                  "without [point in time];")
                self.getters.append(("shard_doc", None, None))
            elif s.field == "_doc":
                self.getters.append(("doc", None, None))
            elif s.field == "_score":
                self.getters.append(("score", None, None))
            else:
                d, src = field_def(idx.mappings, s.field)
                t = field_type(d)
                if d is None:
                    if s.unmapped_type is None:
                        raise query_shard_error(idx, "No mapping found for [%s] in order to sort on"
                                                % s.field)
                    self.getters.append(("missing", {"type": s.unmapped_type}, None))
                    continue
                if t in ("text", "match_only_text") and not d.get("fielddata"):
                    raise query_shard_error(
                        idx, "Fielddata is disabled on [%s] in [%s]. Text fields are not optimised "
                        "for operations that require per-document field data like aggregations "
                        "and sorting, so these operations are disabled by default. Please use a "
                        "keyword field instead. Alternatively, set fielddata=true on [%s] in order "
                        "to load field data by uninverting the inverted index. Note that this can "
                        "use significant memory." % (s.field, idx.name, s.field),
                        etype="illegal_argument_exception")
                if t in ("object", "nested"):
                    raise query_shard_error(idx, "Can't sort on an object field [%s]" % s.field,
                                            etype="illegal_argument_exception")
                self.getters.append(("field", d, src))

    def raw_values(self, doc_id, v):
        """Comparable value per sort spec (None when missing)."""
        out = []
        for s, (kind, d, src) in zip(self.specs, self.getters):
            if kind == "shard_doc":
                out.append((self.pos << 32) | (v.seq & 0xffffffff))
            elif kind == "doc":
                out.append(v.seq)
            elif kind == "score":
                out.append(1.0)
            elif kind == "missing":
                out.append(None)
            else:
                out.append(self._field_value(s, d, src, v))
        return out

    def _field_value(self, s, d, src, v):
        t = field_type(d)
        vals = []
        for x in source_values(v.parsed(), src):
            if isinstance(x, dict):
                continue
            try:
                if t in NUMERIC:
                    vals.append(to_number(x, t))
                elif t in ("date", "date_nanos"):
                    vals.append(esdates.parse(x, d.get("format")))
                elif t == "boolean":
                    b = _as_bool(x)
                    if b is not None:
                        vals.append(1 if b else 0)
                else:
                    vals.extend(_keyword_strings([x], d))
            except (ValueError, esdates.DateError):
                continue
        if not vals:
            return None
        if t == "date":
            vals = [n // esdates.MILLI * esdates.MILLI for n in vals]
        mode = s.mode or ("max" if s.order == "desc" else "min")
        if mode == "max":
            return max(vals)
        if mode in ("sum", "avg", "median") and t in NUMERIC:
            tot = sum(vals)
            return tot / len(vals) if mode == "avg" else tot
        return min(vals)

    def key(self, raw):
        k = []
        for s, v in zip(self.specs, raw):
            if v is None:
                first = s.missing == "_first"
                k.append((-1 if first else 1, 0))
            else:
                k.append((0, Neg(v) if s.order == "desc" else v))
        return tuple(k)

    def output(self, raw):
        out = []
        for s, (kind, d, src), v in zip(self.specs, self.getters, raw):
            t = field_type(d) if d else None
            if v is None:
                if t in INTEGRAL or t in ("date", "date_nanos", "boolean"):
                    out.append(LONG_MAX if (s.order == "asc") == (s.missing != "_first")
                               else LONG_MIN)
                else:
                    out.append(None)
            elif kind == "field" and t in ("date", "date_nanos"):
                if s.format:
                    out.append(esdates.format(v, s.format))
                elif t == "date_nanos" and s.numeric_type != "date":
                    out.append(v)
                elif t == "date" and s.numeric_type == "date_nanos":
                    out.append(v)
                else:
                    out.append(v // esdates.MILLI)
            elif kind == "field" and t in NUMERIC and t not in INTEGRAL:
                out.append(float(v))
            else:
                out.append(v)
        return out

    def after_raw(self, values):
        """search_after values turned into comparable values."""
        raw = []
        for s, (kind, d, src), x in zip(self.specs, self.getters, values):
            t = field_type(d) if d else None
            if x is None:
                raw.append(None)
                continue
            try:
                if kind in ("shard_doc", "doc"):
                    raw.append(int(x))
                elif kind == "score":
                    raw.append(float(x))
                elif kind == "missing":
                    raw.append(None)
                elif t in ("date", "date_nanos"):
                    if isinstance(x, (int, float)) and not isinstance(x, bool):
                        if x in (LONG_MAX, LONG_MIN):
                            raw.append(None)
                        elif (t == "date_nanos" and s.numeric_type != "date") or \
                                s.numeric_type == "date_nanos":
                            raw.append(int(x))
                        else:
                            raw.append(int(x) * esdates.MILLI)
                    else:
                        fmt = s.format or d.get("format")
                        try:
                            raw.append(esdates.parse(x, fmt))
                        except esdates.DateError:
                            raise query_shard_error(
                                self.idx, "failed to parse date field [%s] with format [%s]"
                                % (x, fmt or esdates.DEFAULT_FORMAT), etype="parse_exception")
                elif t in NUMERIC or t == "boolean":
                    if x in (LONG_MAX, LONG_MIN) and t in INTEGRAL:
                        raw.append(None)
                    else:
                        raw.append(to_number(x, t))
                else:
                    raw.append(str(x))
            except ValueError:
                raise query_shard_error(self.idx, "Failed to parse search_after value for field "
                                        "[%s]." % s.field, etype="illegal_argument_exception")
        return raw


# --------------------------------------------------------------------------
# _source filtering


def _matches_any(path, patterns):
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def _may_contain(path, patterns):
    """Could something below path match one of the patterns?  Wildcard
    patterns are resolved at the leaves, so they always say yes here."""
    prefix = path + "."
    return any(p.startswith(prefix) or "*" in p for p in patterns)


def filter_source(obj, includes, excludes, prefix=""):
    out = {}
    for k, v in obj.items():
        path = prefix + k
        if excludes and _matches_any(path, excludes):
            continue
        full = not includes or _matches_any(path, includes)
        if full:
            if isinstance(v, dict) and excludes:
                out[k] = filter_source(v, [], excludes, path + ".")
            elif isinstance(v, list) and excludes:
                out[k] = [filter_source(x, [], excludes, path + ".") if isinstance(x, dict) else x
                          for x in v]
            else:
                out[k] = v
        elif isinstance(v, dict) and _may_contain(path, includes):
            sub = filter_source(v, includes, excludes, path + ".")
            if sub:
                out[k] = sub
        elif isinstance(v, list) and _may_contain(path, includes):
            sub = [filter_source(x, includes, excludes, path + ".") for x in v
                   if isinstance(x, dict)]
            sub = [x for x in sub if x]
            if sub:
                out[k] = sub
    return out


def source_spec(body_source, params):
    """-> (fetch: bool, includes, excludes) from body _source and URL params
    (URL parameters win, as in Elasticsearch)."""
    fetch, inc, exc = True, [], []

    def as_list(x):
        if x is None:
            return []
        if isinstance(x, list):
            return [str(i) for i in x]
        return [p for p in str(x).split(",") if p]

    s = body_source
    if s is not None:
        if isinstance(s, bool):
            fetch = s
        elif isinstance(s, (str, list)):
            inc = as_list(s)
        elif isinstance(s, dict):
            inc = as_list(s.get("includes", s.get("include")))
            exc = as_list(s.get("excludes", s.get("exclude")))
    if "_source" in params:
        p = params["_source"]
        if p in ("true", ""):
            fetch, inc = True, []
        elif p == "false":
            fetch = False
        else:
            fetch, inc = True, as_list(p)
    if "_source_includes" in params:
        fetch, inc = True, as_list(params["_source_includes"])
    if "_source_excludes" in params:
        fetch, exc = True, as_list(params["_source_excludes"])
    return fetch, inc, exc
