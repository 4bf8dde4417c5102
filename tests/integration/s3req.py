"""s3req.py — signed S3 requests straight to the test server, for the s3 tests.

SigV4 by Python's standard library, so that the plugin under test neither
prepares nor checks its own tests.

CLI:    s3req.py ENDPOINT ACCESS_KEY SECRET_KEY METHOD PATH [QUERY [BODY [NAME:VALUE…]]]
        prints the HTTP status on the first line, then the body; each
        NAME:VALUE after the body is one more (signed) request header.
Module: request(endpoint, ak, sk, method, path, query="", body=b"", headers=None)
        -> (status, body); request_full(…) -> (status, body, response headers)
"""
import datetime
import hashlib
import hmac
import sys
import urllib.error
import urllib.parse
import urllib.request

REGION = "us-east-1"


def request(endpoint, ak, sk, method, path, query="", body=b"", headers=None):
    status, data, _ = request_full(endpoint, ak, sk, method, path, query, body, headers)
    return status, data


def request_full(endpoint, ak, sk, method, path, query="", body=b"", headers=None):
    host = endpoint.split("://", 1)[1]
    amz = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    ph = hashlib.sha256(body).hexdigest()
    pairs = sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
    cq = "&".join(urllib.parse.quote(k, safe="-_.~") + "=" + urllib.parse.quote(v, safe="-_.~")
                  for k, v in pairs)
    epath = urllib.parse.quote(path, safe="/-_.~")
    signed = {"host": host, "x-amz-content-sha256": ph, "x-amz-date": amz}
    for name, value in (headers or {}).items():
        signed[name.lower()] = value.strip()
    names = sorted(signed)
    sh = ";".join(names)
    creq = "\n".join([method, epath, cq] + [n + ":" + signed[n] for n in names] + ["", sh, ph])
    scope = amz[:8] + "/" + REGION + "/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + sk).encode()
    for part in (amz[:8], REGION, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(endpoint + epath + ("?" + cq if cq else ""), method=method,
                                 data=body if method in ("PUT", "POST") else None)
    for n in names:
        if n != "host":
            req.add_header(n, signed[n])
    req.add_header("Authorization", "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders="
                   "%s, Signature=%s" % (ak, scope, sh, sig))
    try:
        r = urllib.request.urlopen(req, timeout=30)
        return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


if __name__ == "__main__":
    endpoint, ak, sk, method, path = sys.argv[1:6]
    query = sys.argv[6] if len(sys.argv) > 6 else ""
    body = sys.argv[7].encode() if len(sys.argv) > 7 else b""
    extra = dict(h.split(":", 1) for h in sys.argv[8:])
    status, data = request(endpoint, ak, sk, method, path, query, body, extra)
    print(status)
    sys.stdout.write(data.decode("utf-8", "replace"))
