#!/usr/bin/env bash
# TLS verification of the s3/minio plugins, against a real Ceph RADOS Gateway
# (tests/peers/rgw.sh, plain HTTP on CAIRN_TEST_RGW_PORT) behind a small
# TLS-terminating forwarder (Python's standard library) whose certificate is
# signed by a throwaway CA made here with openssl:
#   - default settings: the CA is unknown, `backups list` / `create` exit 6
#     with one error line about the certificate;
#   - ca_file= the throwaway CA: create, list, verify and restore succeed;
#   - ca_path= a hashed directory holding the CA: list succeeds;
#   - a certificate for another name, even with ca_file=: exit 6 (host name
#     checked, not only the chain);
#   - tls_verify=false: succeeds, and a warning is logged on stderr;
#   - ca_file= a file that does not exist: exit 6, the message names it.
. "$(dirname "$0")/lib.sh"
need_pg

need_rgw
command -v openssl >/dev/null || fail "openssl is needed to make the test certificates"
# the system's CA store must be the one libcurl uses by default
unset CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR || true

FWD_PIDS=()
stop_fwd() {
	local p
	for p in "${FWD_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	FWD_PIDS=()
}
trap 'stop_fwd; rm -rf "$WORK"' EXIT

# --- a throwaway CA, a server certificate for 127.0.0.1/localhost, and one for
# --- another name, all signed by that CA ---------------------------------------
mkcerts() {
	local d=$WORK/tls
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Cairn test CA $$" \
		-keyout "$d/ca.key" -out "$d/ca.pem" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" || return 1
	local name san serial=1
	for name in good other; do
		case $name in
		good) san="IP:127.0.0.1,DNS:localhost" ;;
		other) san="DNS:not-this-host.invalid" ;;
		esac
		printf '%s\n' "subjectAltName=$san" "basicConstraints=CA:FALSE" \
			"keyUsage=critical,digitalSignature,keyEncipherment" \
			"extendedKeyUsage=serverAuth" >"$d/$name.ext"
		openssl req -newkey rsa:2048 -nodes -subj "/CN=${san#*:}" \
			-keyout "$d/$name.key" -out "$d/$name.csr" || return 1
		openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
			-set_serial $((serial++)) -days 2 -extfile "$d/$name.ext" -out "$d/$name.pem" || return 1
	done
	mkdir -p "$d/capath"
	cp "$d/ca.pem" "$d/capath/"
	openssl rehash "$d/capath" || return 1
}
mkcerts >"$WORK/openssl.log" 2>&1 || { cat "$WORK/openssl.log"; fail "unable to make the test certificates"; }
CA=$WORK/tls/ca.pem

# --- the forwarder: TLS on a free loopback port, bytes both ways to RGW --------
cat >"$WORK/tlsfwd.py" <<'PY'
import socket, ssl, sys, threading
cert, key, upstream_port, port_file = sys.argv[1:5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(64)

def pump(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.close()
        except OSError:
            pass

def serve(raw):
    try:
        raw.settimeout(30)
        tls = ctx.wrap_socket(raw, server_side=True)
        tls.settimeout(None)
        up = socket.create_connection(("127.0.0.1", int(upstream_port)), timeout=30)
        up.settimeout(None)
    except (OSError, ssl.SSLError):
        raw.close()   # a client that refused our certificate ends up here
        return
    threading.Thread(target=pump, args=(up, tls), daemon=True).start()
    pump(tls, up)

with open(port_file + ".tmp", "w") as f:
    f.write(str(ls.getsockname()[1]))
import os
os.rename(port_file + ".tmp", port_file)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY

# start_fwd NAME → prints the port of a forwarder presenting certificate NAME
start_fwd() {
	local pf=$WORK/fwd-$1.port i=0
	python3 "$WORK/tlsfwd.py" "$WORK/tls/$1.pem" "$WORK/tls/$1.key" "$RGW_PORT" "$pf" \
		2>"$WORK/fwd-$1.err" &
	FWD_PIDS+=($!)
	while [ ! -s "$pf" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || { cat "$WORK/fwd-$1.err" >&2; fail "the TLS forwarder ($1) did not start"; }
		sleep 0.05
	done
	cat "$pf"
}
# not in a $(…): the pid must be recorded in this shell
start_fwd good >"$WORK/good.port"
start_fwd other >"$WORK/other.port"
TLS_PORT=$(cat "$WORK/good.port")
OTHER_PORT=$(cat "$WORK/other.port")
python3 - "$TLS_PORT" "$CA" <<'PY' || fail "the TLS forwarder does not answer with the test certificate"
import ssl, sys, urllib.request, urllib.error
ctx = ssl.create_default_context(cafile=sys.argv[2])
try:
    urllib.request.urlopen("https://127.0.0.1:%s/" % sys.argv[1], timeout=10, context=ctx)
except urllib.error.HTTPError:
    pass
PY

# --- a bucket, made over plain HTTP straight to RGW (lib.sh's mkbucket) ---------
bucket="cairn-tls-$(date +%s)-$$"
mkbucket "$bucket" || fail "unable to create bucket $bucket"

STORE="minio://127.0.0.1:$TLS_PORT/$bucket/tls"
HTTPS="https://127.0.0.1:$TLS_PORT"
src=$(new_db src sample)

# --- (1) default settings: an unknown CA is refused ----------------------------
expect_fail 6 "$CAIRN" backups list --storage "$STORE" -O endpoint="$HTTPS"
echo "$ERR" | grep -qi "certificate" || fail "unknown CA (list): no word about the certificate: $ERR"
note "unknown CA, list: exit 6, $ERR"
expect_fail 6 "$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$STORE" \
	-O endpoint="$HTTPS" --no-progress
echo "$ERR" | grep -qi "certificate" || fail "unknown CA (create): no word about the certificate: $ERR"
note "unknown CA, create: exit 6"

# --- (2) ca_file= the test CA: everything works --------------------------------
u=$("$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$STORE" \
	-O endpoint="$HTTPS" -O ca_file="$CA" --no-progress 2>"$WORK/err") ||
	{ cat "$WORK/err"; fail "create with ca_file"; }
u=${u#Backup created: }
case "$u" in "$STORE"/backups/full/backup-*.cairn) ;; *) fail "unexpected backup URI '$u'" ;; esac
grep -q 'AddressSanitizer\|runtime error' "$WORK/err" && fail "sanitizer report (create)"
"$CAIRN" backups list --storage "$STORE" -O endpoint="$HTTPS" -O ca_file="$CA" >"$WORK/list" 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "list with ca_file"; }
grep -q "backup-" "$WORK/list" || { cat "$WORK/list"; fail "list with ca_file does not show the backup"; }
"$CAIRN" backups verify "$u" --storage "$STORE" -O endpoint="$HTTPS" -O ca_file="$CA" \
	>/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "verify with ca_file"; }
dst=$(new_db dst)
"$CAIRN" backups restore "$u" --source "$(uri "$dst")" --storage "$STORE" -O endpoint="$HTTPS" \
	-O ca_file="$CA" >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "restore with ca_file"; }
[ "$(digest "$src")" = "$(digest "$dst")" ] || fail "restore over TLS differs from the source"
grep -qi "tls_verify" "$WORK/err" && fail "a tls_verify warning although verification is on"
note "ca_file: create, list, verify, restore over TLS"

# --- ca_path= a hashed directory holding the CA --------------------------------
"$CAIRN" backups list --storage "$STORE" -O endpoint="$HTTPS" -O ca_path="$WORK/tls/capath" \
	>"$WORK/list" 2>"$WORK/err" || { cat "$WORK/err"; fail "list with ca_path"; }
grep -q "backup-" "$WORK/list" || { cat "$WORK/list"; fail "list with ca_path does not show the backup"; }
note "ca_path: list over TLS"

# --- a trusted certificate for another name is refused -------------------------
expect_fail 6 "$CAIRN" backups list --storage "minio://127.0.0.1:$OTHER_PORT/$bucket/tls" \
	-O endpoint="https://127.0.0.1:$OTHER_PORT" -O ca_file="$CA"
echo "$ERR" | grep -qi "certificate\|subject\|name" || fail "wrong host name: $ERR"
note "certificate for another name: exit 6, $ERR"

# --- (3) tls_verify=false: works, with a warning --------------------------------
"$CAIRN" backups list --storage "$STORE" -O endpoint="$HTTPS" -O tls_verify=false \
	>"$WORK/list" 2>"$WORK/err" || { cat "$WORK/err"; fail "list with tls_verify=false"; }
grep -q "backup-" "$WORK/list" || { cat "$WORK/list"; fail "list with tls_verify=false does not show the backup"; }
grep -qi "tls_verify" "$WORK/err" || { cat "$WORK/err"; fail "tls_verify=false: no warning on stderr"; }
grep -q '^cairn: error: ' "$WORK/err" && fail "tls_verify=false: an error line: $(cat "$WORK/err")"
"$CAIRN" backups create FULL --source "$(uri "$src")" --storage "$STORE" \
	-O endpoint="$HTTPS" -O tls_verify=false --no-progress >/dev/null 2>"$WORK/err" ||
	{ cat "$WORK/err"; fail "create with tls_verify=false"; }
grep -qi "tls_verify" "$WORK/err" || { cat "$WORK/err"; fail "create with tls_verify=false: no warning"; }
note "tls_verify=false: works, warns: $(grep -i tls_verify "$WORK/err" | head -n1)"

# --- (4) ca_file= a file that does not exist -----------------------------------
expect_fail 6 "$CAIRN" backups list --storage "$STORE" -O endpoint="$HTTPS" \
	-O ca_file="$WORK/no-such-ca.pem"
echo "$ERR" | grep -q "no-such-ca.pem" || fail "missing CA file: the message does not name it: $ERR"
note "missing CA file: exit 6, $ERR"

note "ok"
