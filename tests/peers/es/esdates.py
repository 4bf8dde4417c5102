"""Date parsing and formatting for the Elasticsearch test server.

Values are kept as integer nanoseconds since the epoch (UTC).  Elasticsearch
uses java.time patterns ("yyyy-MM-dd HH:mm:ss.SSS") and a set of named
formats; we translate the handful of pattern letters that matter for
metadata (years, months, days, hours, minutes, seconds, fractions, literal
text and zone offsets) into regular expressions, and say so loudly for the
rest instead of guessing.
"""

import calendar
import datetime
import re
import time

NANOS = 1_000_000_000
MILLI = 1_000_000


class DateError(ValueError):
    pass


_ISO = re.compile(
    r"^([+-]?\d{4,9})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2})(?::?(\d{2})(?::?(\d{2})"
    r"(?:[.,](\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?$")


def _offset_seconds(z):
    if not z or z == "Z":
        return 0
    sign = -1 if z[0] == "-" else 1
    z = z[1:].replace(":", "")
    h = int(z[:2])
    m = int(z[2:4]) if len(z) >= 4 else 0
    return sign * (h * 3600 + m * 60)


def _to_nanos(y, mo, d, h, mi, s, frac, off):
    if not (1 <= mo <= 12) or not (1 <= d <= calendar.monthrange(y, mo)[1]) or h > 23 \
            or mi > 59 or s > 59:
        raise DateError("field out of range")
    secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - off
    f = (frac or "").ljust(9, "0")[:9]
    return secs * NANOS + int(f or 0)


def _parse_iso(text):
    m = _ISO.match(text)
    if not m:
        raise DateError("not an ISO date")
    y, mo, d, h, mi, s, frac, z = m.groups()
    return _to_nanos(int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0),
                     int(s or 0), frac, _offset_seconds(z))


def _tokens(pattern):
    """Split a java.time pattern into (kind, text) tokens."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "'":
            j = pattern.find("'", i + 1)
            if j < 0:
                raise DateError("unterminated quote in [%s]" % pattern)
            out.append(("lit", pattern[i + 1:j] or "'"))
            i = j + 1
        elif c.isalpha():
            j = i
            while j < len(pattern) and pattern[j] == c:
                j += 1
            out.append(("field", pattern[i:j]))
            i = j
        else:
            out.append(("lit", c))
            i += 1
    return out


_FIELD_RE = {
    "y": lambda n: r"(\d{4})" if n != 2 else r"(\d{2})",
    "u": lambda n: r"(\d{4})",
    "M": lambda n: r"(\d{2})" if n == 2 else r"(\d{1,2})",
    "d": lambda n: r"(\d{2})" if n == 2 else r"(\d{1,2})",
    "H": lambda n: r"(\d{2})" if n == 2 else r"(\d{1,2})",
    "m": lambda n: r"(\d{2})" if n == 2 else r"(\d{1,2})",
    "s": lambda n: r"(\d{2})" if n == 2 else r"(\d{1,2})",
    "S": lambda n: r"(\d{%d})" % n,
    "X": lambda n: r"(Z|[+-]\d{2}(?::?\d{2})?)",
    "Z": lambda n: r"(Z|[+-]\d{2}:?\d{2})",
    "x": lambda n: r"([+-]\d{2}(?::?\d{2})?)",
}

_pattern_cache = {}


def _compile(pattern):
    if pattern in _pattern_cache:
        return _pattern_cache[pattern]
    toks = _tokens(pattern)
    rx = ""
    fields = []
    for kind, text in toks:
        if kind == "lit":
            rx += re.escape(text)
        else:
            letter = text[0]
            if letter not in _FIELD_RE:
                raise DateError("pattern letter [%s] is not supported by the test server" % letter)
            rx += _FIELD_RE[letter](len(text))
            fields.append(letter)
    compiled = (re.compile("^" + rx + "$"), fields, toks)
    _pattern_cache[pattern] = compiled
    return compiled


def _parse_pattern(pattern, text):
    rx, fields, _ = _compile(pattern)
    m = rx.match(text)
    if not m:
        raise DateError("no match")
    v = {"y": 1970, "M": 1, "d": 1, "H": 0, "m": 0, "s": 0, "S": "", "X": "Z"}
    for letter, g in zip(fields, m.groups()):
        if letter == "u":
            letter = "y"
        if letter in ("Z", "x"):
            letter = "X"
        v[letter] = g if letter in ("S", "X") else int(g)
    return _to_nanos(v["y"], v["M"], v["d"], v["H"], v["m"], v["s"], v["S"],
                     _offset_seconds(v["X"]))


NAMED = {
    "strict_date_optional_time", "date_optional_time", "strict_date_optional_time_nanos",
    "epoch_millis", "epoch_second", "strict_date_time", "date_time", "strict_date",
    "date", "strict_date_hour_minute_second", "date_hour_minute_second",
    "strict_date_hour_minute_second_millis", "basic_date",
}

DEFAULT_FORMAT = "strict_date_optional_time||epoch_millis"


def parse(value, fmt=None):
    """Parse a date value (string or number) with an ES format string."""
    fmt = fmt or DEFAULT_FORMAT
    last = None
    for f in fmt.split("||"):
        f = f.strip()
        try:
            return _parse_one(value, f)
        except DateError as e:
            last = e
    raise DateError(str(last))


def _parse_one(value, f):
    if f in ("epoch_millis", "epoch_second"):
        if isinstance(value, bool):
            raise DateError("boolean")
        if isinstance(value, (int, float)):
            num = value
        else:
            s = str(value)
            if not re.match(r"^-?\d+(\.\d+)?$", s):
                raise DateError("not a number")
            num = float(s) if "." in s else int(s)
        mult = MILLI if f == "epoch_millis" else NANOS
        return int(num * mult) if isinstance(num, float) else num * mult
    if not isinstance(value, str):
        raise DateError("not a string")
    if f in ("strict_date_optional_time", "date_optional_time",
             "strict_date_optional_time_nanos", "strict_date_time", "date_time",
             "strict_date", "date", "strict_date_hour_minute_second",
             "date_hour_minute_second", "strict_date_hour_minute_second_millis"):
        return _parse_iso(value)
    if f == "basic_date":
        return _parse_pattern("yyyyMMdd", value)
    return _parse_pattern(f, value)


def _fraction(nanos, digits_min, digits_max):
    frac = "%09d" % (nanos % NANOS)
    frac = frac[:digits_max]
    while len(frac) > digits_min and frac.endswith("0"):
        frac = frac[:-1]
    return frac


def format(nanos, fmt=None):
    """Render nanoseconds since the epoch with the first format of fmt."""
    f = (fmt or DEFAULT_FORMAT).split("||")[0].strip()
    if f == "epoch_millis":
        return str(nanos // MILLI)
    if f == "epoch_second":
        return str(nanos // NANOS)
    secs = nanos // NANOS
    t = time.gmtime(secs)
    if f == "strict_date_optional_time_nanos":
        return time.strftime("%Y-%m-%dT%H:%M:%S", t) + "." + _fraction(nanos, 3, 9) + "Z"
    if f in NAMED:
        return time.strftime("%Y-%m-%dT%H:%M:%S", t) + "." + _fraction(nanos, 3, 3) + "Z"
    out = ""
    for kind, text in _compile(f)[2]:
        if kind == "lit":
            out += text
            continue
        n = len(text)
        c = text[0]
        if c in "yu":
            out += ("%04d" % t.tm_year) if n != 2 else ("%02d" % (t.tm_year % 100))
        elif c == "M":
            out += "%0*d" % (n, t.tm_mon)
        elif c == "d":
            out += "%0*d" % (n, t.tm_mday)
        elif c == "H":
            out += "%0*d" % (n, t.tm_hour)
        elif c == "m":
            out += "%0*d" % (n, t.tm_min)
        elif c == "s":
            out += "%0*d" % (n, t.tm_sec)
        elif c == "S":
            out += ("%09d" % (nanos % NANOS))[:n]
        elif c in "XZx":
            out += "Z" if c == "X" else "+0000"
    return out


def looks_like_dynamic_date(s):
    """Elasticsearch's default dynamic_date_formats: strict_date_optional_time
    and 'yyyy/MM/dd HH:mm:ss Z||yyyy/MM/dd Z'."""
    if not isinstance(s, str) or len(s) < 8 or not s[:4].isdigit():
        return False
    for f in ("strict_date_optional_time", "yyyy/MM/dd HH:mm:ss Z", "yyyy/MM/dd Z"):
        try:
            _parse_one(s, f)
            # A bare year ("2024") is a valid strict_date_optional_time but
            # Elasticsearch's dynamic detection needs at least a month.
            return "-" in s or "/" in s
        except DateError:
            continue
    return False


# --- date math in index names: <static{now/d{yyyy.MM.dd|+01:00}}> ---------------

_UNITS = {"y": "y", "M": "M", "w": "w", "d": "d", "h": "h", "H": "h", "m": "m", "s": "s"}


def _add(dt, n, unit):
    if unit == "y":
        return dt.replace(year=dt.year + n)
    if unit == "M":
        m = dt.month - 1 + n
        return dt.replace(year=dt.year + m // 12, month=m % 12 + 1)
    delta = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}[unit]
    return dt + datetime.timedelta(seconds=n * delta)


def _round(dt, unit):
    if unit == "y":
        return dt.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "M":
        return dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "w":
        dt = dt - datetime.timedelta(days=dt.weekday())
        return dt.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "d":
        return dt.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "h":
        return dt.replace(minute=0, second=0, microsecond=0)
    if unit == "m":
        return dt.replace(second=0, microsecond=0)
    return dt.replace(microsecond=0)


def _eval_math(expr):
    if expr.startswith("now"):
        dt = datetime.datetime.now(datetime.timezone.utc)
        rest = expr[3:]
    else:
        anchor, sep, rest = expr.partition("||")
        if not sep:
            raise DateError("invalid date math [%s]" % expr)
        dt = datetime.datetime.fromtimestamp(parse(anchor) / NANOS, datetime.timezone.utc)
    i = 0
    while i < len(rest):
        op = rest[i]
        if op == "/":
            dt = _round(dt, _UNITS[rest[i + 1]])
            i += 2
        elif op in "+-":
            j = i + 1
            while j < len(rest) and rest[j].isdigit():
                j += 1
            n = int(rest[i + 1:j] or 1)
            dt = _add(dt, n if op == "+" else -n, _UNITS[rest[j]])
            i = j + 1
        else:
            raise DateError("invalid date math [%s]" % expr)
    return int(dt.timestamp()) * NANOS + dt.microsecond * 1000


def resolve_index_date_math(name):
    """Resolve "<logs_{now/d}>"-style names; other names pass unchanged."""
    if not (name.startswith("<") and name.endswith(">")):
        return name
    s = name[1:-1]
    out = ""
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            out += s[i + 1]
            i += 2
        elif c == "{":
            depth = 1
            j = i + 1
            while j < len(s) and depth:
                depth += {"{": 1, "}": -1}.get(s[j], 0)
                j += 1
            inner = s[i + 1:j - 1]
            fmt = "yyyy.MM.dd"
            if "{" in inner:
                expr, _, f = inner.partition("{")
                fmt = f.rstrip("}").split("|")[0]
            else:
                expr = inner
            out += format(_eval_math(expr), fmt)
            i = j
        else:
            out += c
            i += 1
    return out
