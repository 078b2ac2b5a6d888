#!/usr/bin/python3
"""test_tls_refusals.py -- connections dossierd must refuse, at the TLS step.

Each case opens a raw TLS (or plain TCP) connection with the Python ssl
module, and the daemon must end it without any HTTP/2 response: either the
handshake fails (a TLS alert, printed) or the connection is closed.  After
each case a normal Echo through grpcio on a fresh connection must still
work, and the daemon's log lines for the case are printed.

Certificates that dossier-admin cannot make (expired, not yet valid, no
URI SAN...) are made here with python3-cryptography and signed by the
test's development CA, copying the extensions of a genuine client
certificate so that the one thing under test is the only difference; a
certificate made the same way with nothing wrong must be accepted.

Run from the repository root:  /usr/bin/python3 tests/interop/test_tls_refusals.py
"""

import datetime
import os
import socket
import ssl
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, ed448
    from cryptography.x509.oid import ExtensionOID, NameOID
except ImportError:  # pragma: no cover
    print("not ok - python3-cryptography is missing "
          "(apt-get install python3-cryptography)")
    print("0 passed, 1 failed")
    sys.exit(1)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(ftype, flags, stream, payload=b""):
    return (struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) +
            struct.pack(">I", stream & 0x7FFFFFFF) + payload)


# The client's opening: preface, empty SETTINGS, a PING.  A server that
# accepted the connection answers with its SETTINGS at least.
H2_HELLO = PREFACE + h2_frame(4, 0, 0) + h2_frame(6, 0, 0, b"dossier!")


H2_TYPES = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS",
            "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"]
H2_ERRORS = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR",
             "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
             "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
             "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
             "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]


def _frames_pending(data):
    """True when |data| ends inside a frame."""
    while len(data) >= 9:
        n = int.from_bytes(data[:3], "big")
        if len(data) < 9 + n:
            return True
        data = data[9 + n:]
    return len(data) > 0


def h2_summary(data):
    """The HTTP/2 frames in |data|, in a few words each."""
    out = []
    while len(data) >= 9:
        n = int.from_bytes(data[:3], "big")
        ft, fl = data[3], data[4]
        p = data[9:9 + n]
        name = H2_TYPES[ft] if ft < len(H2_TYPES) else "type%d" % ft
        if ft == 7 and len(p) >= 8:
            last, code = struct.unpack(">II", p[:8])
            e = H2_ERRORS[code] if code < len(H2_ERRORS) else hex(code)
            name += "(%s last=%d %r)" % (e, last, bytes(p[8:120]))
        elif ft == 4:
            name += "(ACK)" if fl & 1 else "(%d)" % (n // 6)
        out.append(name)
        data = data[9 + n:]
    if data:
        out.append("+%d bytes" % len(data))
    return " ".join(out)


class Outcome:
    def __init__(self):
        self.handshake = None   # None, or the handshake error
        self.alert = None       # TLS alert or error seen after the handshake
        self.alpn = None
        self.version = None
        self.app_data = b""     # decrypted bytes from the server
        self.closed = None      # how the connection ended, if it did
        self.elapsed = 0.0

    @property
    def refused(self):
        return not self.app_data and (self.handshake is not None or
                                      self.closed is not None)

    def describe(self):
        parts = []
        if self.handshake is not None:
            parts.append("handshake failed: %s" % self.handshake)
        else:
            parts.append("handshake done (%s, ALPN %r)" % (self.version,
                                                           self.alpn))
        if self.alert:
            parts.append("then %s" % self.alert)
        if self.app_data:
            parts.append("%d bytes of HTTP/2 from the server: %s" % (
                len(self.app_data), h2_summary(self.app_data)))
        if self.closed and not self.alert:
            parts.append("closed: %s" % self.closed)
        elif self.app_data and self.closed is None:
            parts.append("still open")
        if self.handshake is None and self.closed is None and \
                not self.app_data:
            parts.append("left open with no answer")
        return "; ".join(parts) + " (%.2fs)" % self.elapsed


def ssl_reason(e):
    r = getattr(e, "reason", None)
    return "%s%s" % (type(e).__name__, " " + r if r else ": %s" % e)


def tls_probe(d, crt=None, key=None, alpn=("h2",), ctx_fn=None,
              wait=5.0):
    """Opens a TLS connection, sends the HTTP/2 hello if the handshake
    completes, and reads until the server closes or |wait| passes."""
    o = Outcome()
    t0 = time.monotonic()
    ctx = harness.client_ssl_context(d.ca, crt, key, alpn=alpn)
    if ctx_fn:
        ctx_fn(ctx)
    raw = socket.create_connection((d.host, d.port), timeout=wait)
    s = None
    try:
        try:
            s = ctx.wrap_socket(raw, server_hostname="localhost")
        except (ssl.SSLError, OSError) as e:
            o.handshake = ssl_reason(e)
            o.elapsed = time.monotonic() - t0
            return o
        o.alpn = s.selected_alpn_protocol()
        o.version = s.version()
        # In TLS 1.3 the client finishes its handshake before the server
        # has looked at the client certificate: the refusal comes as an
        # alert on the first read.  Read once before writing so as not to
        # lose it to a broken pipe.
        _read_some(s, o, 0.5)
        if o.closed is None:
            try:
                s.sendall(H2_HELLO)
            except (ssl.SSLError, OSError) as e:
                o.closed = "on write: %s" % ssl_reason(e)
        # Read on until the server closes, or has been quiet for a second
        # after sending something: what it sends (GOAWAY...) goes in the
        # report.
        deadline = time.monotonic() + wait
        while o.closed is None and time.monotonic() < deadline:
            n = len(o.app_data)
            _read_some(s, o, min(deadline - time.monotonic(),
                                 1.0 if o.app_data else wait))
            if o.app_data and len(o.app_data) == n:
                break
    finally:
        (s or raw).close()
    o.elapsed = time.monotonic() - t0
    return o


def _read_some(s, o, timeout):
    s.settimeout(max(timeout, 0.01))
    try:
        b = s.recv(65536)
    except socket.timeout:
        return
    except ssl.SSLError as e:
        o.alert = ssl_reason(e)
        o.closed = "alert"
        return
    except OSError as e:
        o.closed = "%s" % ssl_reason(e)
        return
    if not b:
        o.closed = "EOF"
    else:
        o.app_data += b


def plain_probe(d, data, wait=5.0):
    """Sends |data| in clear on the TLS port; returns (closed, bytes)."""
    raw = socket.create_connection((d.host, d.port), timeout=wait)
    got = b""
    closed = None
    deadline = time.monotonic() + wait
    try:
        raw.sendall(data)
        while time.monotonic() < deadline:
            raw.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                b = raw.recv(65536)
            except socket.timeout:
                break
            except OSError as e:
                closed = "%s" % ssl_reason(e)
                break
            if not b:
                closed = "EOF"
                break
            got += b
    finally:
        raw.close()
    return closed, got


# --- certificates ------------------------------------------------------------

def load_pem_cert(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def load_pem_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def sign_alg(key):
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return None
    return hashes.SHA256()


def make_cert(d, outdir, name, sans, not_before, not_after, self_signed=False,
              template=None):
    """A client certificate like the dev ones (extensions copied from
    |template|, default agency-caf-75), with |sans| (a list of
    x509.GeneralName, or None for no SAN extension) and the given validity,
    signed by the dev CA.  Returns (crt, key) paths."""
    tpl = load_pem_cert(template or d.cert("agency", "caf-75")[0])
    ca_cert = load_pem_cert(d.ca)
    ca_key = load_pem_key(os.path.join(d.keys, "ca.key"))
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    b = (x509.CertificateBuilder()
         .subject_name(subject)
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(not_before)
         .not_valid_after(not_after))
    if self_signed:
        b = b.issuer_name(subject)
    else:
        b = b.issuer_name(ca_cert.subject)
    for ext in tpl.extensions:
        oid = ext.oid
        if oid in (ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                   ExtensionOID.SUBJECT_KEY_IDENTIFIER,
                   ExtensionOID.AUTHORITY_KEY_IDENTIFIER):
            continue
        b = b.add_extension(ext.value, critical=ext.critical)
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(
        key.public_key()), critical=False)
    if sans is not None:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if self_signed:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            key.public_key()), critical=False)
        cert = b.sign(key, hashes.SHA256())
    else:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), critical=False)
        cert = b.sign(ca_key, sign_alg(ca_key))
    crt_path = os.path.join(outdir, name + ".crt")
    key_path = os.path.join(outdir, name + ".key")
    with open(crt_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return crt_path, key_path


def uri(u):
    return x509.UniformResourceIdentifier(u)


# --- the checks --------------------------------------------------------------

class T:
    def __init__(self, d, pb, certdir):
        self.d, self.pb, self.certdir = d, pb, certdir
        now = datetime.datetime.now(datetime.timezone.utc).replace(
            microsecond=0)
        self.now = now
        self.valid = (now - datetime.timedelta(hours=1),
                      now + datetime.timedelta(days=30))

    def echo_fresh(self):
        """A normal Echo on a fresh grpcio connection."""
        import grpc
        ch = harness.grpc_channel(self.d, "agency", "caf-75")
        try:
            r = harness.echo_once(ch, self.pb, b"after refusal")
            assert r.principal == harness.principal_uri("agency", "caf-75")
        except grpc.RpcError as e:
            raise AssertionError("normal Echo failed: %s %s" % (
                e.code(), e.details()))
        finally:
            ch.close()

    def expect_refused(self, o):
        print("#   client saw: %s" % o.describe())
        assert not o.app_data, "server answered with HTTP/2: %r" % (
            o.app_data[:64])
        assert o.refused, "connection neither refused nor closed: %s" % (
            o.describe())

    def expect_accepted(self, o):
        print("#   client saw: %s" % o.describe())
        assert o.handshake is None, "handshake failed: %s" % o.handshake
        assert o.alpn == "h2", "ALPN %r" % o.alpn
        assert o.app_data[:3] and o.app_data[3] == 4, \
            "no HTTP/2 SETTINGS from the server: %s" % o.describe()

    # controls: the probe itself must see an accepted connection
    def control_dev_cert(self):
        self.expect_accepted(tls_probe(self.d, *self.d.cert()))

    def control_made_cert(self):
        crt, key = make_cert(self.d, self.certdir, "made-valid",
                             [uri(harness.principal_uri("agency",
                                                        "made-valid"))],
                             *self.valid)
        self.expect_accepted(tls_probe(self.d, crt, key))
        ch = harness.grpc_channel(self.d, crt=crt, key=key)
        try:
            r = harness.echo_once(ch, self.pb)
            assert r.principal == harness.principal_uri(
                "agency", "made-valid"), r.principal
        finally:
            ch.close()

    def control_alpn_both(self):
        o = tls_probe(self.d, *self.d.cert(), alpn=("http/1.1", "h2"))
        self.expect_accepted(o)

    def control_tls12(self):
        # tls.h: TLS 1.3, or 1.2 with ECDHE and AEAD suites only.
        def f(ctx):
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        o = tls_probe(self.d, *self.d.cert(), ctx_fn=f)
        self.expect_accepted(o)
        assert o.version == "TLSv1.2", o.version

    # refusals
    def no_client_cert(self):
        self.expect_refused(tls_probe(self.d))

    def other_ca(self):
        other = os.path.join(self.certdir, "other-pki")
        harness.run_admin(["init-dev", "--dir", other])
        crt = os.path.join(other, "agency-caf-75.crt")
        key = os.path.join(other, "agency-caf-75.key")
        self.expect_refused(tls_probe(self.d, crt, key))

    def self_signed(self):
        crt, key = make_cert(self.d, self.certdir, "self-signed",
                             [uri(harness.principal_uri("agency", "caf-75"))],
                             *self.valid, self_signed=True)
        self.expect_refused(tls_probe(self.d, crt, key))

    def expired(self):
        crt, key = make_cert(self.d, self.certdir, "expired",
                             [uri(harness.principal_uri("agency", "expired"))],
                             self.now - datetime.timedelta(days=30),
                             self.now - datetime.timedelta(days=1))
        self.expect_refused(tls_probe(self.d, crt, key))

    def not_yet_valid(self):
        crt, key = make_cert(self.d, self.certdir, "future",
                             [uri(harness.principal_uri("agency", "future"))],
                             self.now + datetime.timedelta(days=1),
                             self.now + datetime.timedelta(days=30))
        self.expect_refused(tls_probe(self.d, crt, key))

    # Regression (found 2026-11-22, fixed the same day): the five
    # identity cases below (no URI SAN, no SAN, foreign trust domain,
    # unknown kind, two URI SANs) are not refused in the TLS handshake.
    # The daemon completes it, sends SETTINGS and WINDOW_UPDATE, then
    # GOAWAY(INADEQUATE_SECURITY, last_stream=0, "client certificate has
    # no valid spiffe://dossier.test/<kind>/<id> URI SAN") and closes
    # (log: fn=conn_open connection refused).  grpcio treats a GOAWAY with
    # last_stream=0 as "nothing processed" and retries at once: the call
    # never gets a clear error (DEADLINE_EXCEEDED after its deadline) and
    # the client reconnects ~150-190 times a second, each a full
    # handshake.  Checking the URI SAN in the certificate verify callback
    # would send a TLS alert instead (bad_certificate / access_denied),
    # which clients report and back off from.
    def no_uri_san(self):
        crt, key = make_cert(self.d, self.certdir, "dns-only",
                             [x509.DNSName("client.dossier.test")],
                             *self.valid)
        self.expect_refused(tls_probe(self.d, crt, key))

    def no_san(self):
        crt, key = make_cert(self.d, self.certdir, "no-san", None,
                             *self.valid)
        self.expect_refused(tls_probe(self.d, crt, key))

    def _refused_tls_or_rpc(self, crt, key):
        """For identities the CA signed but that are not principals of
        this daemon: refused at TLS, or every call is refused."""
        import grpc
        o = tls_probe(self.d, crt, key)
        print("#   client saw: %s" % o.describe())
        if o.refused:
            return
        ch = harness.grpc_channel(self.d, crt=crt, key=key)
        mark = self.d.log_mark()
        try:
            harness.echo_once(ch, self.pb, timeout=3)
            raise AssertionError("Echo answered for this identity")
        except grpc.RpcError as e:
            n = len(self.d.log_since(mark).splitlines())
            print("#   grpcio Echo (3 s deadline): %s %r; the daemon logged "
                  "%d lines meanwhile (reconnections)" % (
                      e.code(), e.details(), n))
            assert e.code() in (grpc.StatusCode.UNAUTHENTICATED,
                                grpc.StatusCode.PERMISSION_DENIED), e.code()
        finally:
            ch.close()

    def wrong_trust_domain(self):
        crt, key = make_cert(self.d, self.certdir, "evil",
                             [uri("spiffe://evil.test/agency/caf-75")],
                             *self.valid)
        self._refused_tls_or_rpc(crt, key)

    def unknown_kind(self):
        crt, key = make_cert(self.d, self.certdir, "wizard",
                             [uri("spiffe://dossier.test/wizard/merlin")],
                             *self.valid)
        self._refused_tls_or_rpc(crt, key)

    def two_uri_sans(self):
        # Two identities in one certificate: which one would it be?
        crt, key = make_cert(self.d, self.certdir, "two-uris",
                             [uri(harness.principal_uri("agency", "caf-75")),
                              uri(harness.principal_uri("admin", "ops"))],
                             *self.valid)
        self._refused_tls_or_rpc(crt, key)

    def plain_http11(self):
        closed, got = plain_probe(
            self.d, b"GET / HTTP/1.1\r\nHost: localhost\r\n"
                    b"User-Agent: dossier-test\r\n\r\n")
        print("#   client saw: closed=%s, %d bytes back: %r" % (
            closed, len(got), got[:160]))
        assert closed is not None, "connection left open"
        assert not got.startswith(b"\x00\x00"), "HTTP/2 frames in clear"

    def plain_h2c(self):
        closed, got = plain_probe(self.d, H2_HELLO)
        print("#   client saw: closed=%s, %d bytes back: %r" % (
            closed, len(got), got[:160]))
        assert closed is not None, "connection left open"
        assert b"\x00\x00" != got[:2] or got[3:4] != b"\x04", \
            "HTTP/2 SETTINGS in clear"

    def no_alpn(self):
        self.expect_refused(tls_probe(self.d, *self.d.cert(), alpn=None))

    def alpn_http11(self):
        self.expect_refused(tls_probe(self.d, *self.d.cert(),
                                      alpn=("http/1.1",)))

    def tls12_cbc(self):
        def f(ctx):
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:"
                            "AES128-SHA:AES128-GCM-SHA256")
        self.expect_refused(tls_probe(self.d, *self.d.cert(), ctx_fn=f))

    def many_refusals(self):
        rss0 = self.d.rss_kib()
        for i in range(200):
            o = tls_probe(self.d, wait=2.0)
            assert o.refused and not o.app_data, "%d: %s" % (i, o.describe())
        print("#   RSS before/after 200 refused handshakes: %s / %s" % (
            harness.fmt_mib(rss0), harness.fmt_mib(self.d.rss_kib())))


def main():
    harness.require_binaries()
    checks = harness.Checks()
    tmp = tempfile.mkdtemp(prefix="dossier-tls-")
    try:
        pb = harness.load_protos(os.path.join(tmp, "pb2"))
    except Exception as e:  # noqa: BLE001
        checks.fail("protoc --python_out", e)
        return checks.finish()
    d = harness.Daemon(name="dossierd[tls]")
    try:
        d.start()
    except harness.HarnessError as e:
        checks.fail("start dossierd", e)
        return checks.finish()
    certdir = os.path.join(tmp, "certs")
    os.makedirs(certdir)
    t = T(d, pb, certdir)
    cases = [
        ("control: dev client certificate accepted", t.control_dev_cert),
        ("control: certificate made by this test, valid, accepted",
         t.control_made_cert),
        ("control: ALPN http/1.1 and h2 offered -> h2", t.control_alpn_both),
        ("control: TLS 1.2 with ECDHE+AEAD accepted", t.control_tls12),
        ("refused: no client certificate", t.no_client_cert),
        ("refused: certificate from another CA", t.other_ca),
        ("refused: self-signed certificate with a valid URI SAN",
         t.self_signed),
        ("refused: expired certificate", t.expired),
        ("refused: certificate not yet valid", t.not_yet_valid),
        ("refused: certificate without URI SAN (DNS SAN only)", t.no_uri_san),
        ("refused: certificate without any SAN", t.no_san),
        ("refused (TLS or every call): URI SAN of another trust domain",
         t.wrong_trust_domain),
        ("refused (TLS or every call): URI SAN with an unknown kind",
         t.unknown_kind),
        ("refused (TLS or every call): two URI SANs", t.two_uri_sans),
        ("refused: plaintext HTTP/1.1 request on the TLS port",
         t.plain_http11),
        ("refused: plaintext HTTP/2 preface on the TLS port", t.plain_h2c),
        ("refused: TLS without ALPN", t.no_alpn),
        ("refused: ALPN http/1.1 only", t.alpn_http11),
        ("refused: TLS 1.2 with CBC suites only", t.tls12_cbc),
        ("refused: 200 handshakes without certificate in a row",
         t.many_refusals),
    ]
    try:
        for name, fn in cases:
            mark = d.log_mark()
            print("# --- %s" % name)
            checks.run(name, fn)
            time.sleep(0.05)
            lines = d.log_since(mark).strip().splitlines()
            for line in lines[:6]:
                print("#   daemon: %s" % line)
            if len(lines) > 6:
                print("#   daemon: ... %d more lines" % (len(lines) - 6))
            checks.run("  then a normal Echo still works", t.echo_fresh)
            if not d.running():
                checks.fail("daemon alive", "the daemon exited")
                break
    finally:
        checks.add_problems("daemon exit", d.stop())
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
