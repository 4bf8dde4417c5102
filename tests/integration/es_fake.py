#!/usr/bin/env python3
"""A scripted Elasticsearch for es_stream.sh: just enough of the API for a
backup (GET /, _cat/indices, opening and closing a point in time), and search
answers that are broken or hostile in the way the index prefix names:

  ok_      a valid page of two hits, written one byte at a time
  trunc_   a valid start, then the body ends in the middle of a hit
  huge_    one hit whose _source never ends (chunked, up to 1 GiB)
  shards_  a page with a failed shard
  junk_    something other than a comma between two hits
  tail_    a valid answer with bytes after it
  deep_    a _source nested 100,000 levels deep

Usage: es_fake.py PORTFILE — listens on an ephemeral port of 127.0.0.1 and
writes it to PORTFILE. GET /_fake/stats gives the points in time opened and
closed.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATS = {"opened": 0, "closed": 0}

HIT = '{"_index":"%sflows","_id":"%s","_source":{"tenantId":"main","id":"%s","n":1.10},"sort":[%d]}'


def page(prefix, hits):
    return ('{"pit_id":"%s","took":1,"timed_out":false,"_shards":{"total":1,"successful":1,'
            '"skipped":0,"failed":0},"hits":{"max_score":null,"hits":[%s]}}'
            % (prefix, ",".join(hits)))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, body, slow=False):
        data = body.encode()
        self.send_response(code)
        self.send_header("X-elastic-product", "Elasticsearch")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if slow:
            for i in range(len(data)):
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
        else:
            self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_HEAD(self):
        self.answer(200, "")

    def do_GET(self):
        if self.path == "/":
            self.answer(200, json.dumps({"name": "fake", "version": {"number": "8.17.0"}}))
        elif self.path.startswith("/_cat/indices/"):
            prefix = self.path.split("/")[3].split("*")[0]
            self.answer(200, json.dumps([{"index": prefix + "flows"}]))
        elif self.path == "/_fake/stats":
            self.answer(200, json.dumps(STATS))
        else:
            self.answer(404, '{"error":"no such thing","status":404}')

    def do_DELETE(self):
        self.body()
        STATS["closed"] += 1
        self.answer(200, '{"succeeded":true,"num_freed":1}')

    def do_POST(self):
        req = self.body()
        if "/_pit" in self.path:
            STATS["opened"] += 1
            prefix = self.path.split("/")[1][:-len("flows")]
            self.answer(200, json.dumps({"id": prefix}))
            return
        prefix = json.loads(req)["pit"]["id"]
        mode = prefix.split("_")[0] + "_"
        if mode == "ok_":
            self.answer(200, page(prefix, [HIT % (prefix, "a", "a", 1), HIT % (prefix, "b", "b", 2)]),
                        slow=True)
        elif mode == "trunc_":
            text = page(prefix, [HIT % (prefix, "a", "a", 1), HIT % (prefix, "b", "b", 2)])
            self.answer(200, text[:text.index('"_id":"b"') + 4])
        elif mode == "shards_":
            self.answer(200, page(prefix, [HIT % (prefix, "a", "a", 1)]).replace(
                '"failed":0', '"failed":1'))
        elif mode == "junk_":
            self.answer(200, page(prefix, [HIT % (prefix, "a", "a", 1), HIT % (prefix, "b", "b", 2)])
                        .replace('},{"_index"', '} x {"_index"'))
        elif mode == "tail_":
            self.answer(200, page(prefix, [HIT % (prefix, "a", "a", 1)]) + ' {"more":1}')
        elif mode == "deep_":
            self.answer(200, page(prefix, ['{"_id":"a","_source":{"x":%s1%s},"sort":[1]}'
                                           % ("[" * 100000, "]" * 100000)]))
        elif mode == "huge_":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            head = ('{"_shards":{"failed":0},"hits":{"hits":[{"_id":"a","_source":{"x":"').encode()
            chunk = b"a" * (1 << 20)
            try:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(head), head))
                for _ in range(1024):  # 1 GiB, unless the client hangs up first
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
        else:
            self.answer(400, '{"error":"unknown mode","status":400}')


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(sys.argv[1], "w") as f:
        f.write("%d\n" % srv.server_address[1])
    srv.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
