"""TLS client for the tests, using Python's ssl (OpenSSL): connects, prints what OpenSSL reports
(version, cipher, ALPN, tls-unique = the client's Finished), echoes one line, and can reconnect
with the saved session to show whether the server resumed it.

usage: py_client.py HOST PORT TLS_VERSION(1.2|1.3) ALPN(comma list or -) CAFILE [resume]
Cipher suites are set by the caller through OPENSSL_CONF (TLS 1.3) and here (TLS 1.2).
"""
import json
import socket
import ssl
import sys

host, port, version, alpn, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
resume = len(sys.argv) > 6 and sys.argv[6] == "resume"

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(cafile)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_REQUIRED
v = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
ctx.minimum_version = v
ctx.maximum_version = v
if version == "1.2":
    ctx.set_ciphers("ECDHE-ECDSA-CHACHA20-POLY1305")
if alpn != "-":
    ctx.set_alpn_protocols(alpn.split(","))


def run(session=None):
    out = {}
    with socket.create_connection((host, port), timeout=10) as raw:
        try:
            with ctx.wrap_socket(raw, session=session) as s:
                out["version"] = s.version()
                out["cipher"] = s.cipher()[0]
                out["alpn"] = s.selected_alpn_protocol()
                out["tls_unique"] = s.get_channel_binding("tls-unique").hex()
                s.sendall(b"ping\n")
                out["echo"] = s.recv(100).decode()
                out["reused"] = s.session_reused
                return out, s.session
        except (ssl.SSLError, ConnectionError, OSError) as e:
            out["error"] = type(e).__name__ + ": " + str(e)
            return out, None


first, session = run()
results = [first]
if resume and session is not None:
    results.append(run(session)[0])
print(json.dumps(results))
