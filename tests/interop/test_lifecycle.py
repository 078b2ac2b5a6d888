#!/usr/bin/python3
"""test_lifecycle.py -- dossierd's life: drain, reload, key mode, timeouts.

Each scenario starts its own daemon (harness.py) and drives it with
signals, grpcio channels and raw sockets:

  1. SIGTERM with an Echo (delay 1.5 s) in flight: the call completes, a
     new TCP connection is refused, the daemon exits 0 soon after the call
     ends (long before the 10 s drain timeout).
  2. --drain-timeout 1000 with an Echo (delay 30 s) in flight: the daemon
     exits within ~3 s of SIGTERM and the call ends with an error.
  3. SIGHUP: the PKI in the keys directory is replaced by another one
     (dossier-admin init-dev); new connections must use it, a connection
     opened before keeps working; then a reload of a garbage key (and of a
     key readable by others) must fail, be logged, and change nothing.
  4. A private key readable by group or others: the daemon refuses to
     start, exit 1, and says why (modes 0644 and 0640).
  5. --handshake-timeout 500: a silent TCP connection, and a TLS one that
     never sends the HTTP/2 preface, are closed within ~2 s; one that sent
     the preface is not; a normal client still works.
  6. SIGINT drains like SIGTERM.

Prints "ok - ..." / "not ok - ..." per check, "#" lines with figures and
the daemon's log lines, and "N passed, N failed"; exit 0 only if all
passed.  Takes about 30 s.

Run from the repository root:  /usr/bin/python3 tests/interop/test_lifecycle.py
"""

import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

import grpc  # noqa: E402  (python3-grpcio)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(ftype, flags, stream, payload=b""):
    return (struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) +
            struct.pack(">I", stream & 0x7FFFFFFF) + payload)


def h2_frames(data):
    """[(type, flags, stream, payload)] of the complete frames in |data|."""
    out = []
    while len(data) >= 9:
        n = int.from_bytes(data[:3], "big")
        if len(data) < 9 + n:
            break
        out.append((data[3], data[4],
                    int.from_bytes(data[5:9], "big") & 0x7FFFFFFF,
                    data[9:9 + n]))
        data = data[9 + n:]
    return out


# --- small helpers -----------------------------------------------------------

def channel(addr, ca, crt, key):
    """A grpcio channel to |addr| trusting |ca| with client |crt|/|key|
    (harness.grpc_channel takes the CA from the daemon's keys directory;
    after a reload the test needs to choose)."""
    def rd(p):
        with open(p, "rb") as f:
            return f.read()
    creds = grpc.ssl_channel_credentials(root_certificates=rd(ca),
                                         private_key=rd(key),
                                         certificate_chain=rd(crt))
    return grpc.secure_channel(addr, creds, options=harness.GRPC_OPTIONS)


def echo_future(ch, pb, delay_ms, timeout, payload=b"in flight"):
    req = pb.diag.EchoRequest(payload=payload, delay_ms=delay_ms)
    return harness.echo_stub(ch, pb).future(req, timeout=timeout)


def tcp_connect_refused(d):
    """Tries one TCP connection to |d|; returns None if it was refused,
    else a description of what happened instead."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((d.host, d.port))
    except ConnectionRefusedError:
        return None
    except OSError as e:
        return "connect failed, but not refused: %s" % e
    else:
        return "TCP connection accepted"
    finally:
        s.close()


def wait_exit(d, timeout):
    """Waits for the daemon to exit; returns (status or None, seconds)."""
    t0 = time.monotonic()
    try:
        rc = d.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        rc = None
    return rc, time.monotonic() - t0


def wait_log(d, mark, text, timeout=5.0):
    """Waits for |text| in the daemon's log after |mark|; returns the log
    since |mark| (whether or not the text came)."""
    deadline = time.monotonic() + timeout
    while True:
        log = d.log_since(mark)
        if text in log or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def show_log(d, mark, limit=8):
    lines = d.log_since(mark).strip().splitlines()
    for line in lines[:limit]:
        print("#   daemon: %s" % line)
    if len(lines) > limit:
        print("#   daemon: ... %d more lines" % (len(lines) - limit))


def describe_rpc_error(e):
    return "%s %r" % (e.code(), e.details())


def ssl_reason(e):
    r = getattr(e, "reason", None)
    return "%s%s" % (type(e).__name__, " " + r if r else ": %s" % e)


def wait_closed(s, limit):
    """Reads from |s| until the peer closes or |limit| seconds pass.
    Returns (how it ended or None if still open, seconds, bytes read)."""
    t0 = time.monotonic()
    got = b""
    while True:
        left = limit - (time.monotonic() - t0)
        if left <= 0:
            return None, time.monotonic() - t0, got
        s.settimeout(left)
        try:
            b = s.recv(65536)
        except socket.timeout:
            return None, time.monotonic() - t0, got
        except ssl.SSLError as e:
            return ssl_reason(e), time.monotonic() - t0, got
        except OSError as e:
            return "%s" % e, time.monotonic() - t0, got
        if not b:
            return "EOF", time.monotonic() - t0, got
        got += b


def sanitizer_reports(text):
    return [m for m in harness.SANITIZER_MARKERS if m in text]


# --- 1 and 6: drain with a call in flight --------------------------------

def drain_with_call(checks, pb, signum):
    """Echo of 1.5 s, |signum| 300 ms into it: the call completes, new
    connections are refused, and the daemon exits 0 soon after the call."""
    sname = signal.Signals(signum).name
    d = harness.Daemon(name="dossierd[%s]" % sname.lower(),
                       extra_args=["--drain-timeout", "10000"])
    try:
        d.start()
    except harness.HarnessError as e:
        checks.fail("%s: start dossierd" % sname, e)
        return
    ch = harness.grpc_channel(d)
    state = {}
    try:
        def call_in_flight():
            harness.echo_once(ch, pb, timeout=10)   # connection is up
            mark = d.log_mark()
            t0 = time.monotonic()
            fut = echo_future(ch, pb, 1500, timeout=20)
            time.sleep(0.3)
            if signum == signal.SIGTERM:
                d.terminate()
            else:
                d.sigterm_sent_elsewhere()
                d.proc.send_signal(signum)
            t_sig = time.monotonic()
            # A new connection, while the call is still running.
            time.sleep(0.2)
            state["refused"] = tcp_connect_refused(d)
            state["refused_at"] = time.monotonic() - t_sig
            state["fut"] = fut
            try:
                r = fut.result(timeout=15)
            except grpc.RpcError as e:
                raise AssertionError("the Echo in flight failed: %s" %
                                     describe_rpc_error(e))
            finally:
                state["call_end"] = time.monotonic()
                state["mark"] = mark
            dt = state["call_end"] - t0
            print("#   Echo(delay 1500 ms) answered %.2fs after it started, "
                  "%.2fs after %s" % (dt, state["call_end"] - t_sig, sname))
            assert r.payload == b"in flight", r.payload
            assert dt >= 1.4, "answered after %.2fs, before its delay" % dt

        checks.run("%s: Echo (delay 1500 ms) in flight at %s completes OK"
                   % (sname, sname), call_in_flight)

        def new_conn_refused():
            if "refused" not in state:
                raise AssertionError("not tried (the call failed first)")
            why = state["refused"]
            print("#   TCP connect %.2fs after %s: %s" % (
                state["refused_at"], sname, why or "connection refused"))
            assert why is None, why

        checks.run("%s: a new connection during the drain is refused" % sname,
                   new_conn_refused)

        def exits_soon():
            ch.close()
            rc, _ = wait_exit(d, 12)
            if "call_end" in state:
                after = time.monotonic() - state["call_end"]
            else:
                after = None
            total = time.monotonic() - d.terminated_at
            print("#   exit status %s, %.2fs after %s%s" % (
                rc, total, sname,
                "" if after is None else
                ", %.2fs after the call ended" % after))
            if "mark" in state:
                show_log(d, state["mark"])
            assert rc is not None, "still running %.1fs after %s" % (
                total, sname)
            assert rc == 0, "exit status %d" % rc
            assert total < 5.0, ("exited %.1fs after %s: the drain timeout "
                                 "(10 s), not the end of the call, ended it"
                                 % (total, sname))

        checks.run("%s: the daemon exits 0 shortly after the call ends "
                   "(drain timeout 10 s)" % sname, exits_soon)
    finally:
        ch.close()
        checks.add_problems("%s: daemon exit" % sname, d.stop())


# --- 2: drain timeout ----------------------------------------------------

def drain_timeout(checks, pb):
    d = harness.Daemon(name="dossierd[drain-timeout]",
                       extra_args=["--drain-timeout", "1000"])
    try:
        d.start()
    except harness.HarnessError as e:
        checks.fail("drain timeout: start dossierd", e)
        return
    ch = harness.grpc_channel(d)
    state = {}
    try:
        def exits_in_time():
            harness.echo_once(ch, pb, timeout=10)
            state["mark"] = d.log_mark()
            fut = echo_future(ch, pb, 30000, timeout=60)
            state["fut"] = fut
            time.sleep(0.3)
            assert not fut.done(), "the 30 s Echo ended at once: %s" % (
                fut.exception(),)
            d.terminate()
            rc, dt = wait_exit(d, 8)
            print("#   exit status %s, %.2fs after SIGTERM "
                  "(--drain-timeout 1000)" % (rc, dt))
            show_log(d, state["mark"])
            assert rc is not None, "still running 8 s after SIGTERM"
            assert dt <= 3.0, "took %.2fs" % dt
            assert rc == 0, "exit status %d" % rc

        checks.run("drain timeout: SIGTERM with a 30 s Echo in flight, "
                   "--drain-timeout 1000 -> exit 0 within 3 s", exits_in_time)

        def call_failed():
            fut = state.get("fut")
            assert fut is not None, "no call was made"
            try:
                r = fut.result(timeout=10)
            except grpc.FutureTimeoutError:
                raise AssertionError("the call has not ended 10 s after "
                                     "the daemon's exit")
            except grpc.RpcError as e:
                print("#   the client's call ended with %s" %
                      describe_rpc_error(e))
                assert e.code() in (grpc.StatusCode.UNAVAILABLE,
                                    grpc.StatusCode.CANCELLED,
                                    grpc.StatusCode.INTERNAL), e.code()
                return
            raise AssertionError("the call ended OK: %r" % (r,))

        checks.run("drain timeout: the call cut by the drain ends with "
                   "UNAVAILABLE, CANCELLED or INTERNAL", call_failed)
    finally:
        ch.close()
        checks.add_problems("drain timeout: daemon exit", d.stop())


# --- 3: SIGHUP reload ------------------------------------------------------

def probe_refused(d, crt, key, expect_server_der):
    """A TLS connection that does not verify the server (so that the
    server's decision is what is tested), presenting |crt|/|key|.  Returns
    (refused?, description)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(crt, key)
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection((d.host, d.port), timeout=5)
    try:
        try:
            s = ctx.wrap_socket(raw, server_hostname="localhost")
        except (ssl.SSLError, OSError) as e:
            return True, "handshake failed: %s" % ssl_reason(e)
        try:
            der = s.getpeercert(binary_form=True)
            same = der == expect_server_der
            version = s.version()
            # TLS 1.3: the server judges the client certificate after the
            # client's handshake is done; its alert comes on the first read.
            try:
                s.sendall(PREFACE + h2_frame(4, 0, 0))
            except (ssl.SSLError, OSError):
                pass
            how, dt, got = wait_closed(s, 3.0)
            desc = "handshake done (%s, server certificate %s); then %s" % (
                version, "of the new PKI" if same else "NOT the new one",
                how or "left open")
            if got:
                desc += "; %d bytes of HTTP/2 from the server" % len(got)
            assert same, desc
            return (how is not None and not got), desc
        finally:
            s.close()
    finally:
        raw.close()


def pem_to_der(path):
    with open(path, "rb") as f:
        return ssl.PEM_cert_to_DER_cert(f.read().decode("ascii"))


def sighup_reload(checks, pb, tmp):
    d = harness.Daemon(name="dossierd[sighup]")
    try:
        d.start()
    except harness.HarnessError as e:
        checks.fail("SIGHUP: start dossierd", e)
        return
    a_dir = os.path.join(tmp, "pki-a")      # A's CA and client certs, kept
    b_dir = os.path.join(tmp, "pki-b")
    os.makedirs(a_dir)
    for name in ("ca.crt", "agency-caf-75.crt", "agency-caf-75.key"):
        shutil.copy2(os.path.join(d.keys, name), os.path.join(a_dir, name))
    a_ca = os.path.join(a_dir, "ca.crt")
    a_crt = os.path.join(a_dir, "agency-caf-75.crt")
    a_key = os.path.join(a_dir, "agency-caf-75.key")
    b_ca = os.path.join(b_dir, "ca.crt")
    b_crt = os.path.join(b_dir, "agency-caf-75.crt")
    b_key = os.path.join(b_dir, "agency-caf-75.key")
    server_key = os.path.join(d.keys, "server.key")
    ch_a = channel(d.addr, a_ca, a_crt, a_key)
    chans = [ch_a]
    state = {}
    try:
        def before():
            r = harness.echo_once(ch_a, pb, timeout=10)
            assert r.principal == harness.principal_uri("agency", "caf-75")

        checks.run("SIGHUP: before the reload, a connection with A's "
                   "certificate works (kept open)", before)

        def reload_b():
            harness.run_admin(["init-dev", "--dir", b_dir])
            for name in ("ca.crt", "server.crt", "server.key"):
                dst = os.path.join(d.keys, name)
                shutil.copyfile(os.path.join(b_dir, name), dst)
            os.chmod(server_key, 0o600)
            mark = d.log_mark()
            d.proc.send_signal(signal.SIGHUP)
            log = wait_log(d, mark, "reloaded certificates", 5)
            show_log(d, mark)
            assert "reloaded certificates" in log, "no 'reloaded' log line"
            assert "reload failed" not in log, "reload failed"
            state["reloaded"] = True

        checks.run("SIGHUP: B's CA, server certificate and key copied over "
                   "A's, SIGHUP -> reloaded", reload_b)
        b_server_der = pem_to_der(os.path.join(b_dir, "server.crt"))

        def a_refused():
            mark = d.log_mark()
            refused, desc = probe_refused(d, a_crt, a_key, b_server_der)
            print("#   A's client certificate: %s" % desc)
            time.sleep(0.05)
            show_log(d, mark, 4)
            assert refused, desc

        checks.run("SIGHUP: a new connection with A's client certificate "
                   "is refused", a_refused)

        def a_refused_grpc():
            ch = channel(d.addr, b_ca, a_crt, a_key)
            chans.append(ch)
            try:
                harness.echo_once(ch, pb, timeout=5)
            except grpc.RpcError as e:
                print("#   grpcio (B's CA, A's certificate): %s" %
                      describe_rpc_error(e))
                assert e.code() == grpc.StatusCode.UNAVAILABLE, e.code()
                return
            finally:
                ch.close()
            raise AssertionError("Echo answered with A's certificate")

        checks.run("SIGHUP: grpcio with A's client certificate gets "
                   "UNAVAILABLE", a_refused_grpc)

        def b_works():
            ch = channel(d.addr, b_ca, b_crt, b_key)
            chans.append(ch)
            try:
                r = harness.echo_once(ch, pb, timeout=10)
            except grpc.RpcError as e:
                raise AssertionError("Echo with B: %s" % describe_rpc_error(e))
            finally:
                ch.close()
            assert r.principal == harness.principal_uri("agency", "caf-75")

        checks.run("SIGHUP: a new connection with B's client certificate "
                   "(B's CA for the server) works", b_works)

        def a_old_conn():
            # A's CA does not trust B's server certificate and the daemon
            # refuses A's client certificate now: this call can only work
            # on the connection opened before the reload.
            try:
                harness.echo_once(ch_a, pb, timeout=10)
            except grpc.RpcError as e:
                raise AssertionError("new call on the old channel: %s" %
                                     describe_rpc_error(e))

        checks.run("SIGHUP: the connection opened before the reload with "
                   "A's certificate serves a new call", a_old_conn)

        def bad_reload(content, mode, what):
            with open(server_key, "wb") as f:
                f.write(content)
            os.chmod(server_key, mode)
            mark = d.log_mark()
            d.proc.send_signal(signal.SIGHUP)
            log = wait_log(d, mark, "reload failed", 5)
            show_log(d, mark, 4)
            assert d.running(), "the daemon exited (status %s)" % (
                d.proc.returncode,)
            assert "reload failed" in log, "no 'reload failed' log line " \
                "after SIGHUP with %s" % what
            assert "reloaded certificates" not in log, "reloaded " + what
            ch = channel(d.addr, b_ca, b_crt, b_key)
            try:
                harness.echo_once(ch, pb, timeout=10)
            except grpc.RpcError as e:
                raise AssertionError("new B connection after the failed "
                                     "reload: %s" % describe_rpc_error(e))
            finally:
                ch.close()
            harness.echo_once(ch_a, pb, timeout=10)

        with open(os.path.join(b_dir, "server.key"), "rb") as f:
            b_server_key = f.read()
        checks.run("SIGHUP: garbage in server.key -> 'reload failed' logged, "
                   "new B connections still served",
                   bad_reload, b"this is not a PEM private key\n" * 4, 0o600,
                   "a garbage key")
        checks.run("SIGHUP: server.key mode 0644 -> 'reload failed' logged, "
                   "new B connections still served",
                   bad_reload, b_server_key, 0o644, "a key of mode 0644")
        os.chmod(server_key, 0o600)
    finally:
        for ch in chans:
            ch.close()
        checks.add_problems("SIGHUP: daemon exit", d.stop())


# --- 4: private key mode -----------------------------------------------------

def daemon_env():
    """The sanitizer options harness.Daemon uses."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS",
                   "detect_leaks=1:abort_on_error=0:quarantine_size_mb=64:"
                   "detect_stack_use_after_return=1:"
                   "check_initialization_order=1:strict_string_checks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=0")
    env.setdefault("LSAN_OPTIONS", "report_objects=0")
    return env


def key_mode(checks, tmp, mode):
    def run():
        base = os.path.join(tmp, "keymode-%04o" % mode)
        keys = os.path.join(base, "keys")
        data = os.path.join(base, "data")
        os.makedirs(data, mode=0o700)
        harness.make_keys(keys)
        os.chmod(os.path.join(keys, "server.key"), mode)
        argv = [harness.daemon_path(), "--listen",
                "127.0.0.1:%d" % harness.free_port(), "--keys", keys,
                "--data", data, "--diag"]
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, cwd=harness.TOP, env=daemon_env(),
                               stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=15)
        except subprocess.TimeoutExpired as e:
            # subprocess.run has killed it.
            out = (e.stderr or b"").decode("utf-8", "replace")
            raise AssertionError("still running after 15 s (it started "
                                 "with a key of mode %04o)\n%s" % (mode, out))
        dt = time.monotonic() - t0
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        print("#   exit status %d after %.2fs" % (p.returncode, dt))
        for line in (out + err).strip().splitlines()[:6]:
            print("#   daemon: %s" % line)
        bad = sanitizer_reports(out + err)
        assert not bad, "sanitizer report: %s\n%s" % (bad, err[-4000:])
        assert p.returncode == 1, "exit status %d (want 1)" % p.returncode
        assert "readable by group or others" in err, \
            "stderr does not say 'readable by group or others'"
        assert "chmod 600" in err, "stderr does not say 'chmod 600'"

    checks.run("key mode %04o: refuses to start, exit 1, says 'readable by "
               "group or others'" % mode, run)


# --- 5: handshake timeout ----------------------------------------------------

def handshake_timeout(checks, pb):
    d = harness.Daemon(name="dossierd[handshake-timeout]",
                       extra_args=["--handshake-timeout", "500"])
    try:
        d.start()
    except harness.HarnessError as e:
        checks.fail("handshake timeout: start dossierd", e)
        return
    ch = harness.grpc_channel(d)
    try:
        def expect_closed(s, what):
            how, dt, got = wait_closed(s, 4.0)
            print("#   %s: %s after %.2fs%s" % (
                what, how or "still open", dt,
                ", %d bytes received first" % len(got) if got else ""))
            assert how is not None, "still open after 4 s"
            assert dt <= 2.0, "closed only after %.2fs" % dt
            assert dt >= 0.3, "closed after %.2fs, before the timeout: " \
                "something other than the handshake timer closed it" % dt
            return got

        def silent_tcp():
            mark = d.log_mark()
            s = socket.create_connection((d.host, d.port), timeout=5)
            try:
                expect_closed(s, "TCP connection that sends nothing")
            finally:
                s.close()
            show_log(d, mark, 4)

        checks.run("handshake timeout 500 ms: a TCP connection that sends "
                   "nothing is closed within 2 s", silent_tcp)

        def half_hello():
            s = socket.create_connection((d.host, d.port), timeout=5)
            try:
                # A TLS record header announcing a ClientHello of 512 bytes,
                # and 5 of them.
                s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03")
                expect_closed(s, "half a ClientHello")
            finally:
                s.close()

        checks.run("handshake timeout 500 ms: a connection stalled inside "
                   "the ClientHello is closed within 2 s", half_hello)

        def tls_no_preface():
            mark = d.log_mark()
            ctx = harness.client_ssl_context(d.ca, *d.cert())
            raw = socket.create_connection((d.host, d.port), timeout=5)
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            try:
                assert s.selected_alpn_protocol() == "h2", \
                    s.selected_alpn_protocol()
                got = expect_closed(s, "TLS done (%s), no HTTP/2 preface"
                                    % s.version())
                kinds = [t for t, _, _, _ in h2_frames(got)]
                if got:
                    print("#   frames from the server before it closed: %s"
                          % kinds)
            finally:
                s.close()
            show_log(d, mark, 4)

        checks.run("handshake timeout 500 ms: a TLS connection that never "
                   "sends the HTTP/2 preface is closed within 2 s",
                   tls_no_preface)

        def preface_survives():
            ctx = harness.client_ssl_context(d.ca, *d.cert())
            raw = socket.create_connection((d.host, d.port), timeout=5)
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            try:
                s.sendall(PREFACE + h2_frame(4, 0, 0))
                how, dt, got = wait_closed(s, 1.5)
                assert how is None, "closed after %.2fs (%s) although the " \
                    "preface was sent" % (dt, how)
                s.sendall(h2_frame(4, 1, 0) + h2_frame(6, 0, 0, b"lifecycl"))
                deadline = time.monotonic() + 3
                acked = False
                while not acked and time.monotonic() < deadline:
                    s.settimeout(max(0.05, deadline - time.monotonic()))
                    try:
                        b = s.recv(65536)
                    except socket.timeout:
                        break
                    if not b:
                        raise AssertionError("closed instead of a PING ACK")
                    got += b
                    acked = any(t == 6 and fl & 1 and p == b"lifecycl"
                                for t, fl, _, p in h2_frames(got))
                assert acked, "no PING ACK after 1.5 s idle"
                print("#   idle 1.5 s after the preface, then PING -> ACK")
            finally:
                s.close()

        checks.run("handshake timeout 500 ms: a connection that sent the "
                   "preface is still served 1.5 s later", preface_survives)

        def normal_client():
            r = harness.echo_once(ch, pb, timeout=10)
            assert r.principal == harness.principal_uri("agency", "caf-75")
            time.sleep(1.0)   # twice the handshake timeout, same channel
            harness.echo_once(ch, pb, timeout=10)

        checks.run("handshake timeout 500 ms: a normal grpcio client still "
                   "works (two calls 1 s apart)", normal_client)
    finally:
        ch.close()
        checks.add_problems("handshake timeout: daemon exit", d.stop())


def main():
    harness.require_binaries()
    checks = harness.Checks()
    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="dossier-lifecycle-")
    try:
        try:
            pb = harness.load_protos(os.path.join(tmp, "pb2"))
        except Exception as e:  # noqa: BLE001
            checks.fail("protoc --python_out", e)
            return checks.finish()
        scenarios = [
            ("1. drain with a call in flight (SIGTERM)",
             lambda: drain_with_call(checks, pb, signal.SIGTERM)),
            ("2. drain timeout",
             lambda: drain_timeout(checks, pb)),
            ("3. SIGHUP reload",
             lambda: sighup_reload(checks, pb, tmp)),
            ("4. private key mode",
             lambda: [key_mode(checks, tmp, m) for m in (0o644, 0o640)]),
            ("5. handshake timeout",
             lambda: handshake_timeout(checks, pb)),
            ("6. drain with a call in flight (SIGINT)",
             lambda: drain_with_call(checks, pb, signal.SIGINT)),
        ]
        for name, fn in scenarios:
            print("# === %s" % name)
            sys.stdout.flush()
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                checks.fail(name, "%s: %s" % (type(e).__name__, e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("# took %.1fs" % (time.monotonic() - t_start))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
