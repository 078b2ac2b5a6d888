#!/usr/bin/python3
"""test_metrics.py -- dossierd's Prometheus endpoint (--metrics-listen),
checked by Prometheus's own tools.

What it checks:

  exposition  after enrolments, deposits, a granted and a denied read,
              GET /metrics answers 200 with text/plain; version=0.0.4;
              `promtool check metrics` (Debian's prometheus package)
              accepts it; every family has HELP and TYPE lines; the request
              counters count those calls by method and status (OK and
              PERMISSION_DENIED), each method's latency histogram counts as
              many calls as its counters, buckets never decrease; the
              writer's batch and commit histograms, store sizes and map use,
              record counts, connections, key ages and process figures are
              there.
  http        404 for another path, 405 for POST, 400 for a malformed
              request line, 431 for a request over 8 KiB; a connection that
              sends nothing is closed by the daemon (idle timeout), and
              beyond 16 connections at once new ones are closed at accept.
  loopback    --metrics-listen 0.0.0.0:PORT is refused at start with a
              message saying why (no TLS, loopback only).
  prometheus  a real Prometheus server (temporary configuration and
              storage, on 127.0.0.1) scrapes the daemon; its HTTP API says
              up == 1 for the target and returns a dossierd request
              counter sample.

Run from the repository root, after make all asan:

    /usr/bin/python3 tests/interop/test_metrics.py
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_audit as ta  # noqa: E402

SC = ta.SC
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def http_get(port, path="/metrics", timeout=10):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def raw(port, data, timeout=10):
    """Sends |data| on a fresh connection; returns what came back until
    the daemon closed it."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    try:
        s.sendall(data)
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b
    except (ConnectionResetError, BrokenPipeError):
        return out  # closed with our bytes unread: a reset
    finally:
        s.close()


def parse(text):
    """{(name, labels string): value} and {family: type}, and the families
    that have a HELP line."""
    samples, types, helps = {}, {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
        elif line.startswith("# HELP "):
            helps.add(line.split(" ", 3)[2])
        elif line and not line.startswith("#"):
            m = SAMPLE.match(line)
            assert m, "not a sample line: %r" % line
            samples[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return samples, types, helps


def value(samples, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for (n, lab), v in samples.items():
        if n != name:
            continue
        got = ",".join(sorted(lab.strip("{}").split(","))) if lab else ""
        if got == want:
            return v
    return None


def main():
    harness.require_binaries()
    if shutil.which("promtool") is None or shutil.which("prometheus") is None:
        print("not ok - promtool and prometheus are missing (apt-get install "
              "prometheus)")
        return 1
    pbtmp = ta.load()
    tmp = tempfile.mkdtemp(prefix="dossier-metrics-")
    checks = harness.Checks()
    t0 = time.monotonic()
    mport = harness.free_port()
    d = harness.Daemon(name="dossierd-metrics",
                       extra_args=["--metrics-listen", "127.0.0.1:%d" % mport])
    prom = None
    st = {}
    try:
        d.start()
        w = ta.World(d)

        def traffic():
            a = w.enrol("met-a")
            b = w.enrol("met-b")
            doc_a = w.deposit(a, ta.det_bytes(1, 150 * 1024))
            doc_b = w.deposit(b, ta.det_bytes(2, 1000))
            w.consent("met-a", ta.uri("agency", "caf-75"))
            c, det, _, data = ta.read_doc(w.caf, a, doc_a)
            assert c == SC.OK, ta.describe(c, det)
            c, det, _, _ = ta.read_doc(w.caf, b, doc_b)
            assert c == SC.PERMISSION_DENIED, ta.describe(c, det)
        if not ta.ran(checks, "traffic: enrolments, deposits, a granted and "
                      "a denied read", traffic):
            return checks.finish()

        def exposition():
            status, ctype, text = http_get(mport)
            assert status == 200
            assert ctype == "text/plain; version=0.0.4; charset=utf-8", ctype
            p = subprocess.run(["promtool", "check", "metrics"],
                               input=text, text=True,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            print("#   promtool check metrics: exit %d %s" % (
                p.returncode, p.stdout.strip() or "(no remark)"))
            assert p.returncode == 0, p.stdout
            samples, types, helps = parse(text)
            print("#   %d samples in %d families, %d bytes" % (
                len(samples), len(types), len(text)))
            assert set(types) == helps, "families without HELP or TYPE: %s" \
                % (set(types) ^ helps)
            enrol = value(samples, "dossierd_requests_total",
                          method="/dossier.v1.Persons/Enrol", code="OK")
            denied = value(samples, "dossierd_requests_total",
                           method="/dossier.v1.Documents/Get",
                           code="PERMISSION_DENIED")
            got = value(samples, "dossierd_requests_total",
                        method="/dossier.v1.Documents/Get", code="OK")
            assert enrol == 2, "Enrol OK counted %r, want 2" % enrol
            assert denied == 1 and got == 1, (denied, got)
            # Each method's histogram counts its calls.
            per_method = {}
            for (n, lab), v in samples.items():
                if n == "dossierd_requests_total":
                    m = re.search(r'method="([^"]*)"', lab).group(1)
                    per_method[m] = per_method.get(m, 0) + v
            for m, n in per_method.items():
                cnt = value(samples, "dossierd_request_duration_seconds_count",
                            method=m)
                inf = value(samples,
                            "dossierd_request_duration_seconds_bucket",
                            method=m, le="+Inf")
                assert cnt == n == inf, (m, n, cnt, inf)
            for fam in ("dossierd_request_duration_seconds",
                        "dossierd_writer_batch_operations",
                        "dossierd_writer_commit_duration_seconds",
                        "dossierd_writer_queue_wait_seconds",
                        "dossierd_writer_report_delay_seconds"):
                assert types[fam] == "histogram", fam
                buckets = [(lab, v) for (n, lab), v in samples.items()
                           if n == fam + "_bucket"]
                assert buckets, fam
            ops = value(samples, "dossierd_writer_batch_operations_count")
            commits = value(samples,
                            "dossierd_writer_commit_duration_seconds_count")
            assert ops and ops > 0 and commits and commits > 0, (ops, commits)
            # Every write run counts its queued time, and every one
            # reported its report delay (none is in flight now).
            written = value(samples, "dossierd_writer_batch_operations_sum")
            waits = value(samples, "dossierd_writer_queue_wait_seconds_count")
            reports = value(samples,
                            "dossierd_writer_report_delay_seconds_count")
            assert written and waits == written == reports, (
                written, waits, reports)
            for store in ("data", "keystore"):
                ms = value(samples, "dossierd_store_map_size_bytes",
                           store=store)
                used = value(samples, "dossierd_store_used_bytes",
                             store=store)
                assert ms and used and 0 < used <= ms, (store, ms, used)
            persons = value(samples, "dossierd_store_entries", store="data",
                            db="persons")
            assert persons == 2, persons
            assert value(samples, "dossierd_connections_total") >= 1
            for f in ("master-1.key", "pepper.key", "audit.key"):
                age = value(samples, "dossierd_key_age_seconds", file=f)
                assert age is not None and age >= 0, (f, age)
            assert value(samples, "process_resident_memory_bytes") > 0
            assert value(samples, "process_open_fds") > 0
            st["enrol"] = enrol
            print("#   Persons/Enrol OK=%d, Documents/Get OK=%d "
                  "PERMISSION_DENIED=%d; writer: %d operations in %d "
                  "commits; data store %d of %d bytes" % (
                      enrol, got, denied, ops, commits,
                      value(samples, "dossierd_store_used_bytes",
                            store="data"),
                      value(samples, "dossierd_store_map_size_bytes",
                            store="data")))
        ta.ran(checks, "exposition: promtool check metrics passes; requests "
               "by method and status, latency, writer, stores, key ages, "
               "process", exposition)

        def http_edges():
            out = raw(mport, b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
            assert out.startswith(b"HTTP/1.1 404 "), out[:40]
            out = raw(mport, b"POST /metrics HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Length: 0\r\n\r\n")
            assert out.startswith(b"HTTP/1.1 405 "), out[:40]
            out = raw(mport, b"garbage\r\n\r\n")
            assert out.startswith(b"HTTP/1.1 400 "), out[:40]
            out = raw(mport, b"GET /metrics HTTP/1.1\r\nX: " +
                      b"a" * 9000 + b"\r\n\r\n")
            assert out.startswith(b"HTTP/1.1 431 "), out[:40]
            out = raw(mport, b"HEAD /metrics HTTP/1.1\r\n\r\n")
            assert out.startswith(b"HTTP/1.1 200 ") and \
                out.endswith(b"\r\n\r\n"), out[-40:]
            print("#   404, 405, 400, 431 and HEAD answered as documented")
        ta.ran(checks, "http: 404, 405, 400, 431, HEAD", http_edges)

        def idle_and_limit():
            idle = [socket.create_connection(("127.0.0.1", mport), timeout=30)
                    for _ in range(16)]
            time.sleep(0.3)
            try:
                # The 17th is closed at once, without an answer.
                out = raw(mport, b"GET /metrics HTTP/1.1\r\n\r\n", timeout=5)
                assert out == b"", "17th connection answered: %r" % out[:40]
                t = time.monotonic()
                for s in idle:
                    assert s.recv(10) == b"", "idle connection got bytes"
                waited = time.monotonic() - t
            finally:
                for s in idle:
                    s.close()
            status, _, _ = http_get(mport)
            assert status == 200
            print("#   17th connection closed at accept; 16 idle ones closed "
                  "by the daemon after %.1fs; scrapes work again" % waited)
        ta.ran(checks, "http: idle connections are closed, at most 16 at "
               "once", idle_and_limit)

        def loopback_only():
            p = subprocess.run(
                [harness.daemon_path(), "--listen",
                 "127.0.0.1:%d" % harness.free_port(), "--keys", d.keys,
                 "--data", os.path.join(tmp, "data2"), "--keystore",
                 os.path.join(tmp, "ks2"), "--metrics-listen",
                 "0.0.0.0:%d" % harness.free_port()],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                timeout=60, cwd=harness.TOP)
            line = [ln for ln in p.stdout.splitlines()
                    if "loopback" in ln]
            print("#   " + (line[0] if line else p.stdout[-300:]))
            assert p.returncode != 0, "started with metrics on 0.0.0.0"
            assert line, p.stdout[-1000:]
        ta.ran(checks, "loopback: --metrics-listen 0.0.0.0 refused at start",
               loopback_only)

        def prometheus():
            nonlocal prom
            pport = harness.free_port()
            cfg = os.path.join(tmp, "prometheus.yml")
            with open(cfg, "w") as f:
                f.write("global:\n  scrape_interval: 1s\n"
                        "  scrape_timeout: 1s\n"
                        "scrape_configs:\n  - job_name: dossierd\n"
                        "    static_configs:\n"
                        "      - targets: ['127.0.0.1:%d']\n" % mport)
            log = open(os.path.join(tmp, "prometheus.log"), "wb")
            prom = subprocess.Popen(
                ["prometheus", "--config.file=" + cfg,
                 "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
                 "--web.listen-address=127.0.0.1:%d" % pport,
                 "--log.level=warn"],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL)

            def query(q):
                url = "http://127.0.0.1:%d/api/v1/query?%s" % (
                    pport, urllib.parse.urlencode({"query": q}))
                with urllib.request.urlopen(url, timeout=5) as r:
                    body = json.loads(r.read().decode())
                assert body["status"] == "success", body
                return body["data"]["result"]

            deadline = time.monotonic() + 90
            up = enrol = None
            while time.monotonic() < deadline:
                if prom.poll() is not None:
                    with open(os.path.join(tmp, "prometheus.log")) as f:
                        raise AssertionError("prometheus exited %d: %s" % (
                            prom.returncode, f.read()[-1000:]))
                try:
                    up = query('up{job="dossierd"}')
                    enrol = query('dossierd_requests_total{method='
                                  '"/dossier.v1.Persons/Enrol",code="OK"}')
                except (OSError, ValueError):
                    up = enrol = None
                if up and up[0]["value"][1] == "1" and enrol:
                    break
                time.sleep(0.5)
            assert up and up[0]["value"][1] == "1", "up: %r" % (up,)
            assert enrol and float(enrol[0]["value"][1]) == st["enrol"], \
                "Enrol counter in Prometheus: %r" % (enrol,)
            print("#   Prometheus %s scraped 127.0.0.1:%d: up=%s, "
                  "dossierd_requests_total{Persons/Enrol,OK}=%s" % (
                      subprocess.run(["prometheus", "--version"],
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
                      .stdout.split("\n")[0].split(" ")[2],
                      mport, up[0]["value"][1], enrol[0]["value"][1]))
        ta.ran(checks, "prometheus: a real Prometheus server scrapes the "
               "daemon; its API returns up == 1 and a request counter",
               prometheus)
        w.close()
    finally:
        if prom is not None and prom.poll() is None:
            prom.send_signal(signal.SIGTERM)
            try:
                prom.wait(30)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
        checks.add_problems("daemon with metrics stopped cleanly", d.stop())
        shutil.rmtree(pbtmp, ignore_errors=True)
        if os.environ.get("DOSSIER_KEEP") or checks.failed:
            print("# kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("# total %.1fs" % (time.monotonic() - t0))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
