#!/usr/bin/env bash
# Smoke test of a compiled binary: --version, init in a temporary directory, start on
# 127.0.0.1, a TLS handshake plus the SMP server hello, the web pages (embedded assets) on the
# same port by SNI, SIGTERM, clean exit.
# Usage: [SMOKE_RUNNER="qemu-aarch64 -L …"] .ci/smoke.sh path/to/smp-server
set -euo pipefail
bin=$(realpath "$1")
runner=${SMOKE_RUNNER:-}
if [ -n "$runner" ]; then
  # Resolve the emulator now: the binary runs with a PATH that holds neither bun nor node.
  set -- "$1" $runner
  runner="$(command -v "$2") ${*:3}"
  set -- "$1"
fi
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# Neither bun nor node may be needed by the binary: it runs with an empty PATH.
run() { env -i HOME="$work" PATH=/nonexistent $runner "$bin" "$@"; }

run --version | tee "$work/version.txt"
grep -q "SMP" "$work/version.txt"

run init --config-dir "$work/etc" --data-dir "$work/var" --ip 127.0.0.1 --port "$port" --no-password --web-cert self-signed --yes | tee "$work/init.txt"
grep -q "smp://" "$work/init.txt"

# Started directly (not through the function) so that $! is the server process itself.
env -i HOME="$work" PATH=/nonexistent $runner "$bin" start --config-dir "$work/etc" --data-dir "$work/var" > "$work/start.log" 2>&1 &
pid=$!
python3 - "$port" "$work/etc/fingerprint" <<'PY'
import base64, hashlib, socket, ssl, struct, sys, time
port, fp_file = int(sys.argv[1]), sys.argv[2]
fingerprint = base64.urlsafe_b64decode(open(fp_file).read().strip())
deadline = time.time() + 60
while True:
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        break
    except OSError:
        if time.time() > deadline: raise
        time.sleep(0.2)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["smp/1"])
s = ctx.wrap_socket(raw)
s.settimeout(30)
buf = b""
while len(buf) < 16384:
    chunk = s.recv(16384 - len(buf))
    if not chunk: raise SystemExit("connection closed before the server hello")
    buf += chunk
n = struct.unpack(">H", buf[:2])[0]
hello = buf[2:2 + n]
vmin, vmax = struct.unpack(">HH", hello[:4])
sid = hello[5:5 + hello[4]]
assert sid == s.get_channel_binding("tls-unique"), "session id != tls-unique"
chain = s._sslobj.get_unverified_chain() if hasattr(s._sslobj, "get_unverified_chain") else None
print(f"server hello: versions {vmin}-{vmax}, session id {len(sid)} bytes = tls-unique, {s.version()}")
assert (vmin, vmax) == (6, 20)

# The same port with SNI: the web site, its files embedded in the binary.
def get(path):
    w = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    w.check_hostname = False
    w.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=30) as r, w.wrap_socket(r, server_hostname="localhost") as t:
        t.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := t.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head[:40]
    return body
assert b"Server information" in get("/")
assert b"media/link.js" in get("/a")
assert len(get("/media/qrcode.js")) > 10000
assert b"chat.simplex.app" in get("/.well-known/assetlinks.json")
print("web pages served on the SMP port by SNI")
PY
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
cat "$work/start.log"
[ "$rc" -eq 0 ] || { echo "server exited with $rc after SIGTERM" >&2; exit 1; }
echo "smoke test passed: $bin"
