"""s3req.py — signed S3 requests straight to the test server, for the s3 tests.

SigV4 by Python's standard library, so that the plugin under test neither
prepares nor checks its own tests.

CLI:    s3req.py ENDPOINT ACCESS_KEY SECRET_KEY METHOD PATH [QUERY [BODY]]
        prints the HTTP status on the first line, then the body.
Module: request(endpoint, ak, sk, method, path, query="", body=b"") -> (status, body)
"""
import datetime
import hashlib
import hmac
import sys
import urllib.error
import urllib.parse
import urllib.request

REGION = "us-east-1"


def request(endpoint, ak, sk, method, path, query="", body=b""):
    host = endpoint.split("://", 1)[1]
    amz = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    ph = hashlib.sha256(body).hexdigest()
    pairs = sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
    cq = "&".join(urllib.parse.quote(k, safe="-_.~") + "=" + urllib.parse.quote(v, safe="-_.~")
                  for k, v in pairs)
    epath = urllib.parse.quote(path, safe="/-_.~")
    creq = "\n".join([method, epath, cq, "host:" + host, "x-amz-content-sha256:" + ph,
                      "x-amz-date:" + amz, "", "host;x-amz-content-sha256;x-amz-date", ph])
    scope = amz[:8] + "/" + REGION + "/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + sk).encode()
    for part in (amz[:8], REGION, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(endpoint + epath + ("?" + cq if cq else ""), method=method,
                                 data=body if method in ("PUT", "POST") else None)
    req.add_header("x-amz-date", amz)
    req.add_header("x-amz-content-sha256", ph)
    req.add_header("Authorization", "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders="
                   "host;x-amz-content-sha256;x-amz-date, Signature=%s" % (ak, scope, sig))
    try:
        r = urllib.request.urlopen(req, timeout=30)
        return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


if __name__ == "__main__":
    endpoint, ak, sk, method, path = sys.argv[1:6]
    query = sys.argv[6] if len(sys.argv) > 6 else ""
    body = sys.argv[7].encode() if len(sys.argv) > 7 else b""
    status, data = request(endpoint, ak, sk, method, path, query, body)
    print(status)
    sys.stdout.write(data.decode("utf-8", "replace"))
