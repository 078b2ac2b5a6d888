#!/usr/bin/python3
"""test_hostile.py -- hostile HTTP/2 peers against dossierd.

Raw HTTP/2 over TLS with a valid client certificate, frames built by hand
with struct (no HTTP/2 library): garbage after and instead of the preface,
truncated frames and records, random frames, a CONTINUATION flood, rapid
reset floods, a reader that never reads a large download, and 1,000 idle
connections held at once.

Throughout, a well-behaved grpcio client (its own thread) keeps calling
Echo and must always be answered; after each attack a fresh connection
must be answered too, and the daemon's resident size (VmRSS) is printed
before and after each attack, and its maximum during the attack, and must
stay under RSS_LIMIT (the point is "bounded", not a figure).  At the end
the harness requires exit 0 after SIGTERM with no sanitizer report.

Run from the repository root:  /usr/bin/python3 tests/interop/test_hostile.py
"""

import collections
import os
import random
import resource
import select
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import MiB  # noqa: E402

# Generous on purpose: the ASan build's shadow memory and quarantine make
# it several times larger than the release build.
RSS_LIMIT_KIB = int(os.environ.get("DOSSIER_RSS_LIMIT_MIB", "300")) * 1024

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, \
    WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIO = 0x1, 0x1, 0x4, 0x8, 0x20
CANCEL = 0x8
H2_ERRORS = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR",
             "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
             "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
             "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
             "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]


def h2err(code):
    return H2_ERRORS[code] if 0 <= code < len(H2_ERRORS) else "0x%x" % code


def frame(ftype, flags, stream, payload=b""):
    return (struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) +
            struct.pack(">I", stream & 0x7FFFFFFF) + payload)


def settings(**kw):
    ids = {"header_table_size": 1, "enable_push": 2,
           "max_concurrent_streams": 3, "initial_window_size": 4,
           "max_frame_size": 5, "max_header_list_size": 6}
    return frame(SETTINGS, 0, 0, b"".join(
        struct.pack(">HI", ids[k], v) for k, v in kw.items()))


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_str(s):
    if isinstance(s, str):
        s = s.encode()
    return hpack_int(len(s), 7) + s


def hpack_literal(name, value):
    """Literal header field without indexing, new name (RFC 7541 6.2.2)."""
    return b"\x00" + hpack_str(name) + hpack_str(value)


def grpc_headers(path="/dossier.v1.Diag/Echo", extra=()):
    block = b"".join(hpack_literal(n, v) for n, v in (
        (":method", "POST"), (":scheme", "https"), (":path", path),
        (":authority", "localhost"), ("content-type", "application/grpc"),
        ("te", "trailers")) + tuple(extra))
    return block


def grpc_message(msg):
    return b"\x00" + struct.pack(">I", len(msg)) + msg


class H2Raw:
    """One raw HTTP/2-over-TLS connection to the daemon.  Single-threaded:
    writes are blocking with a timeout, and drain() reads what the server
    sent, answering its SETTINGS and PINGs as a client must."""

    def __init__(self, d, preface=True, timeout=10.0, our_settings=None):
        crt, key = d.cert("agency", "caf-75")
        ctx = harness.client_ssl_context(d.ca, crt, key)
        raw = socket.create_connection((d.host, d.port), timeout=timeout)
        self.s = ctx.wrap_socket(raw, server_hostname="localhost")
        self.timeout = timeout
        self.s.settimeout(timeout)
        self.buf = b""
        self.counts = collections.Counter()
        self.goaway = None
        self.closed = None
        self.rst = []
        self.ended = set()   # streams the server ended (END_STREAM)
        self.ping_acks = 0
        self.sent = 0
        if preface:
            self.send(PREFACE + (our_settings or settings()))

    def send(self, data):
        if self.closed is not None:
            return False
        try:
            self.s.settimeout(self.timeout)
            self.s.sendall(data)
            self.sent += len(data)
            return True
        except socket.timeout:
            self.closed = "write timed out (server stopped reading)"
        except (OSError, ssl.SSLError) as e:
            self.closed = "on write: %s" % type(e).__name__
        return False

    def drain(self, wait=0.0):
        end = time.monotonic() + wait
        while self.closed is None:
            if self.s.pending() == 0:
                left = max(0.0, end - time.monotonic())
                r, _, _ = select.select([self.s], [], [], left)
                if not r:
                    return
            try:
                self.s.settimeout(2.0)
                b = self.s.recv(262144)
            except socket.timeout:
                return
            except ssl.SSLWantReadError:
                continue
            except (OSError, ssl.SSLError) as e:
                self.closed = "on read: %s" % type(e).__name__
                return
            if not b:
                self.closed = "EOF"
                return
            self.buf += b
            self._parse()

    def _parse(self):
        while len(self.buf) >= 9:
            n = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + n:
                return
            ft, fl = self.buf[3], self.buf[4]
            sid = struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
            p = self.buf[9:9 + n]
            self.buf = self.buf[9 + n:]
            self.counts[ft] += 1
            if ft == SETTINGS and not fl & ACK:
                self.send(frame(SETTINGS, ACK, 0))
            elif ft == PING:
                if fl & ACK:
                    self.ping_acks += 1
                else:
                    self.send(frame(PING, ACK, 0, p))
            elif ft == GOAWAY and len(p) >= 8:
                last, code = struct.unpack(">II", p[:8])
                self.goaway = (last & 0x7FFFFFFF, code, p[8:200])
            elif ft == RST_STREAM and len(p) == 4:
                self.rst.append((sid, struct.unpack(">I", p)[0]))
                self.ended.add(sid)
            elif ft in (HEADERS, DATA) and fl & END_STREAM:
                self.ended.add(sid)

    def wait_closed(self, timeout):
        end = time.monotonic() + timeout
        while self.closed is None and time.monotonic() < end:
            self.drain(min(0.5, max(0.0, end - time.monotonic())))
        return self.closed is not None

    def ping_ok(self, timeout=5.0):
        """True when the server still answers a PING on this connection."""
        before = self.ping_acks
        if not self.send(frame(PING, 0, 0, b"hostile!")):
            return False
        end = time.monotonic() + timeout
        while self.ping_acks == before and self.closed is None and \
                time.monotonic() < end:
            self.drain(0.2)
        return self.ping_acks > before

    def describe(self):
        g = ("GOAWAY %s last_stream=%d %r" % (
            h2err(self.goaway[1]), self.goaway[0], self.goaway[2])
            if self.goaway else "no GOAWAY")
        rst = collections.Counter(h2err(c) for _, c in self.rst)
        return "%s; closed=%s; RST_STREAM %s; frames in %s" % (
            g, self.closed, dict(rst) or 0,
            {k: v for k, v in sorted(self.counts.items())})

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class Prober(threading.Thread):
    """The well-behaved client: Echo after Echo on one grpcio channel,
    and a sample of the daemon's RSS with each."""

    def __init__(self, d, pb):
        super().__init__(daemon=True)
        self.d, self.pb = d, pb
        self.lock = threading.Lock()
        self.results = []     # (monotonic, ok, latency, error)
        self.max_rss = 0
        self.stopping = threading.Event()
        self.ch = harness.grpc_channel(d, "agency", "caf-75")
        self.stub = harness.echo_stub(self.ch, pb)

    def run(self):
        import grpc
        i = 0
        while not self.stopping.is_set():
            i += 1
            p = b"probe %d" % i
            t0 = time.monotonic()
            try:
                r = self.stub(self.pb.diag.EchoRequest(payload=p), timeout=10)
                ok, err = r.payload == p, None if r.payload == p else "payload"
            except grpc.RpcError as e:
                ok, err = False, "%s %s" % (e.code(), e.details())
            dt = time.monotonic() - t0
            rss = self.d.rss_kib() or 0
            with self.lock:
                self.results.append((t0, ok, dt, err))
                self.max_rss = max(self.max_rss, rss)
            self.stopping.wait(0.02)

    def mark(self):
        with self.lock:
            self.max_rss = self.d.rss_kib() or 0
            return len(self.results)

    def since(self, mark):
        with self.lock:
            return list(self.results[mark:]), self.max_rss

    def wait_success_after(self, t, timeout=15.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if any(ok and t0 >= t for t0, ok, _, _ in self.results):
                    return True
            time.sleep(0.05)
        return False

    def stop(self):
        self.stopping.set()
        self.join(15)
        self.ch.close()


class T:
    def __init__(self, d, pb, prober):
        self.d, self.pb, self.prober = d, pb, prober

    def attack(self, checks, name, fn):
        """Runs attack |fn| with the prober going, then checks that every
        probe was answered, that a fresh connection is answered, and that
        the RSS stayed bounded."""
        print("# --- %s" % name)
        rss0 = self.d.rss_kib()
        m = self.prober.mark()
        log_mark = self.d.log_mark()
        checks.run(name, fn)
        t_end = time.monotonic()
        answered = self.prober.wait_success_after(t_end)
        res, max_rss = self.prober.since(m)
        rss1 = self.d.rss_kib()
        bad = [r for r in res if not r[1]]
        worst = max((r[2] for r in res), default=0.0)
        print("#   RSS before %s, after %s, max during %s; probes %d "
              "(%d failed, slowest %.3fs)" % (
                  harness.fmt_mib(rss0), harness.fmt_mib(rss1),
                  harness.fmt_mib(max_rss), len(res), len(bad), worst))
        lines = self.d.log_since(log_mark).strip().splitlines()
        for line in lines[:5]:
            print("#   daemon: %s" % line)
        if len(lines) > 5:
            print("#   daemon: ... %d more lines" % (len(lines) - 5))

        def after():
            assert self.d.running(), "daemon exited"
            assert not bad, "%d probes failed during the attack, first: %s" % (
                len(bad), bad[0][3])
            assert answered, "no probe answered after the attack"
            self.fresh_echo()
            assert (rss1 or 0) < RSS_LIMIT_KIB and max_rss < RSS_LIMIT_KIB, \
                "RSS %s (max %s) over %s" % (
                    harness.fmt_mib(rss1), harness.fmt_mib(max_rss),
                    harness.fmt_mib(RSS_LIMIT_KIB))
        checks.run("  well-behaved client answered throughout, RSS bounded",
                   after)

    def fresh_echo(self):
        import grpc
        ch = harness.grpc_channel(self.d, "agency", "caf-75")
        try:
            harness.echo_once(ch, self.pb, b"fresh")
        except grpc.RpcError as e:
            raise AssertionError("fresh Echo: %s %s" % (e.code(), e.details()))
        finally:
            ch.close()

    # --- garbage ----------------------------------------------------------

    def random_after_preface(self):
        for seed in range(10):
            c = H2Raw(self.d)
            c.send(random.Random(seed).randbytes(64 * 1024))
            closed = c.wait_closed(10)
            if seed < 3 or not closed:
                print("#   seed %d: %s" % (seed, c.describe()))
            c.close()
            assert closed, "seed %d: connection not closed" % seed
            assert not c.ended, "seed %d: streams answered" % seed

    def random_instead_of_preface(self):
        for seed in range(10):
            c = H2Raw(self.d, preface=False)
            c.send(random.Random(1000 + seed).randbytes(64 * 1024))
            closed = c.wait_closed(10)
            if seed < 3 or not closed:
                print("#   seed %d: %s" % (seed, c.describe()))
            c.close()
            assert closed, "seed %d: connection not closed" % seed
        # A preface that is almost right.
        c = H2Raw(self.d, preface=False)
        c.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + settings())
        closed = c.wait_closed(10)
        print("#   almost-preface: %s" % c.describe())
        c.close()
        assert closed, "almost-preface: not closed"

    def random_frames(self):
        # Well-formed frame headers, random types, flags, streams and
        # payloads: the server may close, must not crash or grow.
        rng = random.Random(4242)
        closed = 0
        for conn in range(20):
            c = H2Raw(self.d)
            out = []
            for _ in range(500):
                ft = rng.choice([DATA, HEADERS, PRIORITY, RST_STREAM,
                                 SETTINGS, PING, GOAWAY, WINDOW_UPDATE,
                                 CONTINUATION, rng.randrange(10, 256)])
                n = rng.choice([0, 1, 4, 5, 8, 9, rng.randrange(0, 300)])
                out.append(frame(ft, rng.randrange(256),
                                 rng.choice([0, 1, 3, rng.randrange(1 << 31)]),
                                 rng.randbytes(n)))
            c.send(b"".join(out))
            if c.wait_closed(5):
                closed += 1
            c.close()
        print("#   %d of 20 connections closed by the server" % closed)

    # --- truncation -------------------------------------------------------

    def truncated_frames(self):
        hb = grpc_headers()
        cases = [
            ("HEADERS", frame(HEADERS, END_HEADERS, 1, hb)[:9 + 10]),
            ("DATA", frame(HEADERS, END_HEADERS, 1, hb) +
             frame(DATA, 0, 1, b"\x00" * 1000)[:9 + 10]),
            ("SETTINGS", frame(SETTINGS, 0, 0, b"\x00" * 600)[:9 + 6]),
            ("PING", frame(PING, 0, 0, b"12345678")[:9 + 3]),
            ("WINDOW_UPDATE", frame(WINDOW_UPDATE, 0, 0, b"\x00\x00\x10\x00")
             [:9 + 2]),
            ("CONTINUATION", frame(HEADERS, 0, 1, hb[:20]) +
             frame(CONTINUATION, END_HEADERS, 1, hb[20:])[:9 + 4]),
            ("frame header", frame(HEADERS, END_HEADERS, 1, hb)[:5]),
            ("frame announcing 16 MiB", b"\xff\xff\xff\x00\x00\x00\x00\x00"
             b"\x01" + b"x" * 1000),
        ]
        for what, data in cases:
            c = H2Raw(self.d)
            c.drain(0.2)
            c.send(data)
            c.drain(0.2)
            c.close()   # abrupt: no close_notify, no GOAWAY
        # Then: one more connection must be fine.
        c = H2Raw(self.d)
        ok = c.ping_ok()
        c.close()
        assert ok, "no PING ACK on a new connection"

    def truncated_tls_records(self):
        crt, key = self.d.cert("agency", "caf-75")
        for cut in (1, 5, 100, -1):
            ctx = harness.client_ssl_context(self.d.ca, crt, key)
            raw = socket.create_connection((self.d.host, self.d.port),
                                           timeout=10)
            inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
            obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
            while True:
                try:
                    obj.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    raw.sendall(out.read())
                    b = raw.recv(65536)
                    assert b, "server closed during handshake"
                    inc.write(b)
            raw.sendall(out.read())
            obj.write(PREFACE + settings() +
                      frame(PING, 0, 0, b"abcdefgh") + b"\x00" * 9000)
            rec = out.read()
            n = len(rec) + cut if cut < 0 else cut
            raw.sendall(rec[:n])
            raw.close()
        c = H2Raw(self.d)
        ok = c.ping_ok()
        c.close()
        assert ok, "no PING ACK on a new connection"

    def truncated_grpc_message(self):
        # A gRPC prefix announcing 100 bytes, 10 sent, then END_STREAM: the
        # call must end (trailers or RST_STREAM), the connection must live.
        c = H2Raw(self.d)
        c.send(frame(HEADERS, END_HEADERS, 1, grpc_headers()) +
               frame(DATA, END_STREAM, 1,
                     b"\x00" + struct.pack(">I", 100) + b"x" * 10))
        end = time.monotonic() + 10
        while 1 not in c.ended and c.closed is None and \
                time.monotonic() < end:
            c.drain(0.2)
        print("#   %s" % c.describe())
        assert 1 in c.ended, "stream 1 not ended by the server"
        assert c.ping_ok(), "connection unusable afterwards"
        # A compressed-flag message (we never negotiated compression).
        c.send(frame(HEADERS, END_HEADERS, 3, grpc_headers()) +
               frame(DATA, END_STREAM, 3,
                     b"\x01" + struct.pack(">I", 3) + b"abc"))
        end = time.monotonic() + 10
        while 3 not in c.ended and c.closed is None and \
                time.monotonic() < end:
            c.drain(0.2)
        assert 3 in c.ended, "stream 3 not ended by the server"
        c.close()

    # --- floods -----------------------------------------------------------

    def continuation_flood(self, payload_fn, n=50000, batch=500):
        c = H2Raw(self.d)
        c.drain(0.2)
        c.send(frame(HEADERS, 0, 1, grpc_headers()))
        sent = 0
        while sent < n and c.closed is None:
            buf = b"".join(frame(CONTINUATION, 0, 1, payload_fn(sent + k))
                           for k in range(batch))
            if not c.send(buf):
                break
            sent += batch
            c.drain(0.0)
        c.wait_closed(5)
        print("#   %d CONTINUATION frames sent (%.1f MiB); %s" % (
            sent, c.sent / MiB, c.describe()))
        c.close()
        assert c.closed is not None, \
            "server took %d CONTINUATION frames without closing" % sent
        assert sent < n, "server read all %d CONTINUATION frames before " \
            "closing (it should stop early)" % n

    def continuation_flood_headers(self):
        self.continuation_flood(
            lambda i: hpack_literal("x-flood-%06d" % i, "a" * 40))

    def continuation_flood_empty(self):
        self.continuation_flood(lambda i: b"")

    def rapid_reset(self, n=10000, batch=250, with_request=False):
        c = H2Raw(self.d)
        c.drain(0.2)
        hb = grpc_headers()
        req = grpc_message(self.pb.diag.EchoRequest(
            payload=b"x" * 32, delay_ms=100).SerializeToString())
        sid = 1
        done = 0
        t0 = time.monotonic()
        while done < n and c.closed is None:
            out = []
            for _ in range(batch):
                if with_request:
                    out.append(frame(HEADERS, END_HEADERS, sid, hb))
                    out.append(frame(DATA, END_STREAM, sid, req))
                else:
                    out.append(frame(HEADERS, END_HEADERS, sid, hb))
                out.append(frame(RST_STREAM, 0, sid,
                                 struct.pack(">I", CANCEL)))
                sid += 2
            if not c.send(b"".join(out)):
                break
            done += batch
            c.drain(0.0)
        dt = time.monotonic() - t0
        alive = c.closed is None and c.ping_ok()
        c.wait_closed(0.5)
        print("#   %d streams opened and reset in %.2fs; connection %s; %s"
              % (done, dt, "alive" if alive else "closed", c.describe()))
        c.close()
        assert done > 0

    def rapid_reset_in_flight(self):
        self.rapid_reset(n=3000, with_request=True)

    def slow_reader(self):
        # Huge windows, a 1 GiB Download, and then never read: the server
        # must stop producing when the socket stops draining, not queue the
        # whole download in memory.
        c = H2Raw(self.d, our_settings=settings(
            initial_window_size=(1 << 31) - 1, max_frame_size=(1 << 24) - 1))
        c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", (1 << 31) - 1 -
                                                      65535)))
        c.drain(0.2)
        req = grpc_message(self.pb.diag.DownloadRequest(
            total_bytes=1 << 30, chunk_bytes=1 << 20, seed=1)
            .SerializeToString())
        c.send(frame(HEADERS, END_HEADERS, 1,
                     grpc_headers("/dossier.v1.Diag/Download")) +
               frame(DATA, END_STREAM, 1, req))
        peak = 0
        for _ in range(30):      # 6 s without reading a byte
            time.sleep(0.2)
            peak = max(peak, self.d.rss_kib() or 0)
        print("#   RSS peak while the client does not read: %s" %
              harness.fmt_mib(peak))
        c.close()
        assert peak < RSS_LIMIT_KIB, "RSS %s while a client does not read" % (
            harness.fmt_mib(peak))

    def idle_connections(self, n=1000, hold=5.0):
        conns = []
        failed = []
        t0 = time.monotonic()
        for i in range(n):
            try:
                conns.append(H2Raw(self.d, timeout=10))
            except (OSError, ssl.SSLError) as e:
                failed.append("%d: %s" % (i, e))
        dt = time.monotonic() - t0
        rss_open = self.d.rss_kib()
        end = time.monotonic() + hold
        while time.monotonic() < end:
            for c in conns:
                c.drain(0.0)
            time.sleep(0.2)
        closed = [c for c in conns if c.closed is not None]
        print("#   %d TLS+HTTP/2 connections opened in %.1fs (%d failed%s); "
              "RSS with them open %s; %d closed by the server within %.0fs" % (
                  len(conns), dt, len(failed),
                  ", first: " + failed[0] if failed else "",
                  harness.fmt_mib(rss_open), len(closed), hold))
        # Those still open must still be served: a PING on a few of them.
        still = [c for c in conns if c.closed is None]
        pinged = [c.ping_ok(5) for c in still[:: max(1, len(still) // 10)]]
        for c in conns:
            c.close()
        assert len(conns) + len(failed) == n
        assert all(pinged), "%d of %d sampled idle connections did not " \
            "answer PING" % (pinged.count(False), len(pinged))

    def idle_tcp(self, n=1000, hold=3.0):
        # TCP connections that never start TLS.
        socks = []
        for _ in range(n):
            try:
                socks.append(socket.create_connection(
                    (self.d.host, self.d.port), timeout=5))
            except OSError:
                break
        time.sleep(hold)
        closed = 0
        for s in socks:
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    closed += 1
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
            s.close()
        print("#   %d silent TCP connections, %d closed by the server "
              "within %.0fs" % (len(socks), closed, hold))
        assert len(socks) == n, "only %d connections opened" % len(socks)


def main():
    harness.require_binaries()
    checks = harness.Checks()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    print("# RLIMIT_NOFILE %d (hard %s), inherited by the daemon" % (
        resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard))
    tmp = tempfile.mkdtemp(prefix="dossier-hostile-")
    try:
        pb = harness.load_protos(os.path.join(tmp, "pb2"))
    except Exception as e:  # noqa: BLE001
        checks.fail("protoc --python_out", e)
        return checks.finish()
    d = harness.Daemon(name="dossierd[hostile]")
    try:
        d.start()
    except harness.HarnessError as e:
        checks.fail("start dossierd", e)
        return checks.finish()
    prober = Prober(d, pb)
    prober.start()
    t = T(d, pb, prober)
    try:
        assert prober.wait_success_after(0, 15), "prober never answered"
        a = lambda name, fn: t.attack(checks, name, fn)  # noqa: E731
        a("random bytes after the preface (10 x 64 KiB) -> closed",
          t.random_after_preface)
        a("random bytes instead of the preface (10 x 64 KiB) -> closed",
          t.random_instead_of_preface)
        a("random well-framed frames (20 x 500)", t.random_frames)
        a("truncated frames, then a new connection works",
          t.truncated_frames)
        a("truncated TLS records, then a new connection works",
          t.truncated_tls_records)
        a("truncated gRPC message -> call ended, connection usable",
          t.truncated_grpc_message)
        a("CONTINUATION flood (50,000 with headers) -> closed early",
          t.continuation_flood_headers)
        a("CONTINUATION flood (50,000 empty) -> closed early",
          t.continuation_flood_empty)
        a("rapid reset: 10,000 HEADERS + RST_STREAM(CANCEL)", t.rapid_reset)
        a("rapid reset with requests in flight: 3,000 HEADERS + DATA + RST",
          t.rapid_reset_in_flight)
        a("client that never reads a 1 GiB download", t.slow_reader)
        a("1,000 idle TLS+HTTP/2 connections held at once",
          t.idle_connections)
        a("1,000 silent TCP connections held at once", t.idle_tcp)
    except AssertionError as e:
        checks.fail("prober", e)
    finally:
        prober.stop()
        print("# daemon peak RSS so far %s" % harness.fmt_mib(d.hwm_kib()))
        checks.add_problems("daemon exit", d.stop())
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
