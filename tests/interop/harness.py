"""harness.py -- start a real dossierd for an interop test, and stop it.

Each test gets a fresh temporary directory with development keys made by
dossier-admin, a free port on 127.0.0.1 and a daemon started with --diag.
On stop the daemon gets SIGTERM and must exit 0 with no AddressSanitizer,
LeakSanitizer or UBSan report on stderr; anything else fails the test.

Only Debian's python3 standard library is used here; grpc and the
generated _pb2 modules are imported lazily by the helpers that need them.

Environment:
  DOSSIER_TOP    repository root (default: two levels above this file)
  DOSSIERD       daemon under test (default: build/asan/dossierd)
  DOSSIER_ADMIN  key tool (default: build/bin/dossier-admin)
  DOSSIER_KEEP   if set, keep the temporary directory (its path is printed)
"""

import importlib
import importlib.util
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

# The tests start and kill daemons (fork + exec) while grpcio's threads
# run.  grpcio 1.51's fork handlers then sometimes abort the test process
# ("thread_pool.cc: assertion failed: state_ == State::kRunning", seen in
# a CI run of test_audit.py).  We never use grpc in a forked child, so the
# handlers are not needed: turn them off before grpc is imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

TOP = os.path.abspath(os.environ.get(
    "DOSSIER_TOP",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
TRUST_DOMAIN = "dossier.test"

# What a sanitizer prints when it finds something.  Any of these on the
# daemon's stderr fails the test, whatever the exit code.
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "WARNING: ThreadSanitizer",
    "AddressSanitizer:DEADLYSIGNAL",
)

# The demo principals that `dossier-admin init-dev` makes.
DEMO_PRINCIPALS = (
    ("person", "demo"),
    ("agency", "caf-75"),
    ("agency", "cpam-69"),
    ("delegate", "france-services-demo"),
    ("auditor", "cnil-demo"),
    ("admin", "ops"),
)

MiB = 1024 * 1024


class HarnessError(Exception):
    pass


def _path_from_env(name, default_rel):
    p = os.environ.get(name)
    if not p:
        p = os.path.join(TOP, default_rel)
    elif not os.path.isabs(p):
        p = os.path.join(TOP, p)
    return p


def daemon_path():
    return _path_from_env("DOSSIERD", "build/asan/dossierd")


def admin_path():
    return _path_from_env("DOSSIER_ADMIN", "build/bin/dossier-admin")


def free_port():
    """A port on 127.0.0.1 that nobody listened on a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def proc_status_kib(pid, field):
    """A field of /proc/<pid>/status in KiB (VmRSS, VmHWM...), or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def fmt_mib(kib):
    return "?" if kib is None else "%.1f MiB" % (kib / 1024.0)


def run_admin(args, check=True):
    """Runs dossier-admin with |args|; returns the CompletedProcess."""
    admin = admin_path()
    if not os.access(admin, os.X_OK):
        raise HarnessError("dossier-admin not found at %s (make all?)" % admin)
    p = subprocess.run([admin] + list(args), cwd=TOP, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    if check and p.returncode != 0:
        raise HarnessError("dossier-admin %s: exit %d\n%s%s" % (
            " ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def make_keys(keydir):
    """Development PKI in |keydir| (created), by dossier-admin init-dev."""
    run_admin(["init-dev", "--dir", keydir])
    for name in ("ca.crt", "server.crt", "server.key"):
        if not os.path.exists(os.path.join(keydir, name)):
            raise HarnessError("init-dev did not make %s" % name)


class Daemon:
    """One dossierd under test.

    Use as a context manager, or call start() and stop() yourself:

        with Daemon() as d:
            ...d.addr, d.ca, d.cert("agency", "caf-75")...
        # leaving the block stops it; a bad exit raises HarnessError

    stop() returns the list of problems found (empty when all is well) and
    prints them; the context manager raises when there are any.
    """

    def __init__(self, diag=True, extra_args=(), name="dossierd",
                 start_timeout=30.0, stop_timeout=30.0, exe=None,
                 workdir=None, env=None):
        # exe: this daemon binary instead of daemon_path() (e.g. the
        # release build for a memory figure).  workdir: run on the keys/
        # and data/ of this directory (made if missing, kept on stop), so
        # that a test can stop a daemon, touch its files and start another
        # on the same store.  env: variables added to the daemon's
        # environment (e.g. LD_PRELOAD of a fault-injection shim).
        self.exe = exe
        self.extra_env = dict(env or {})
        self.workdir = workdir
        self.diag = diag
        self.extra_args = list(extra_args)
        self.name = name
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.tmp = None
        self.keys = None
        self.data = None
        self.log_path = None
        self.proc = None
        self.port = None
        self.host = "127.0.0.1"
        self.peak_kib = None
        self.terminated_at = None
        self._log = None
        self.stopped = False
        self.problems = []

    # --- paths --------------------------------------------------------------

    @property
    def addr(self):
        return "%s:%d" % (self.host, self.port)

    @property
    def ca(self):
        return os.path.join(self.keys, "ca.crt")

    @property
    def pid(self):
        return self.proc.pid

    def cert(self, kind="agency", ident="caf-75"):
        """(certificate, key) paths of a client principal in the dev PKI."""
        base = os.path.join(self.keys, "%s-%s" % (kind, ident))
        crt, key = base + ".crt", base + ".key"
        if not os.path.exists(crt) or not os.path.exists(key):
            raise HarnessError("no client certificate %s.crt/.key" % base)
        return crt, key

    def issue(self, kind, ident, days=None):
        """Issues one more client certificate with dossier-admin issue."""
        args = ["issue", "--dir", self.keys, "--kind", kind, "--id", ident]
        if days is not None:
            args += ["--days", str(days)]
        run_admin(args)
        return self.cert(kind, ident)

    # --- life ---------------------------------------------------------------

    def start(self):
        exe = self.exe or daemon_path()
        if not os.access(exe, os.X_OK):
            raise HarnessError("daemon not found at %s (make asan, or set "
                               "DOSSIERD)" % exe)
        if self.workdir:
            self.tmp = self.workdir
            os.makedirs(self.tmp, mode=0o700, exist_ok=True)
        else:
            self.tmp = tempfile.mkdtemp(prefix="dossier-interop-")
        self.keys = os.path.join(self.tmp, "keys")
        self.data = os.path.join(self.tmp, "data")
        os.makedirs(self.data, mode=0o700, exist_ok=True)
        if not os.path.exists(os.path.join(self.keys, "ca.crt")):
            make_keys(self.keys)
        env = dict(os.environ)
        # Leaks and memory errors are what we are looking for; keep the
        # report on stderr and let the exit code say so.  The quarantine
        # (freed memory held back to catch use-after-free) is cut from
        # 256 MiB to 64 MiB so that the RSS figures mean something.
        env.setdefault("ASAN_OPTIONS",
                       "detect_leaks=1:abort_on_error=0:"
                       "quarantine_size_mb=64:"
                       "detect_stack_use_after_return=1:"
                       "check_initialization_order=1:strict_string_checks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=0")
        env.setdefault("LSAN_OPTIONS", "report_objects=0")
        env.update(self.extra_env)
        last_err = None
        for attempt in range(3):
            self.port = free_port()
            self.log_path = _new_log_path(self.tmp)
            self._log = open(self.log_path, "wb")
            argv = _DIE_WITH_PARENT + [exe, "--listen", self.addr,
                                       "--keys", self.keys, "--data",
                                       self.data]
            if self.diag:
                argv.append("--diag")
            argv += self.extra_args
            self.proc = subprocess.Popen(argv, cwd=TOP, env=env,
                                         stdin=subprocess.DEVNULL,
                                         stdout=self._log, stderr=self._log)
            try:
                self._wait_ready()
                self._start_sampler()
                print("# %s pid %d on %s (%s), keys in %s" % (
                    self.name, self.pid, self.addr, exe, self.keys))
                return self
            except HarnessError as e:
                last_err = e
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait()
                self._log.close()
                log = self.log_text()
                if "in use" not in log.lower():
                    break
        self._cleanup(keep=True)
        raise HarnessError("%s did not start: %s\n--- daemon log ---\n%s" % (
            self.name, last_err, self.log_text()[-4000:]))

    def _wait_ready(self):
        """Waits until the daemon completes a TLS handshake with a client
        certificate and ALPN h2."""
        deadline = time.monotonic() + self.start_timeout
        crt, key = self.cert("agency", "caf-75")
        ctx = client_ssl_context(self.ca, crt, key)
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise HarnessError("exited with %d before accepting" % rc)
            try:
                raw = socket.create_connection((self.host, self.port),
                                               timeout=2)
            except OSError as e:
                last = e
                time.sleep(0.05)
                continue
            try:
                s = ctx.wrap_socket(raw, server_hostname="localhost")
                if s.selected_alpn_protocol() != "h2":
                    last = "ALPN %r" % s.selected_alpn_protocol()
                else:
                    s.close()
                    return
                s.close()
            except (OSError, ssl.SSLError) as e:
                last = e
                raw.close()
            time.sleep(0.05)
        raise HarnessError("not accepting TLS after %.0fs (last: %s)" % (
            self.start_timeout, last))

    def _start_sampler(self):
        """Keeps VmHWM up to date in a thread, so that the peak is known
        even when someone else (a child test process) sends the SIGTERM."""
        import threading

        def sample(proc=self.proc):
            while proc.poll() is None:
                hwm = proc_status_kib(proc.pid, "VmHWM")
                if hwm is not None:
                    self.peak_kib = max(self.peak_kib or 0, hwm)
                time.sleep(0.25)

        threading.Thread(target=sample, daemon=True).start()

    def sigterm_sent_elsewhere(self):
        """Tells stop() that another process already sent SIGTERM, so that
        it only waits (a second SIGTERM could cut the drain short)."""
        if self.terminated_at is None:
            self.terminated_at = time.monotonic()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def rss_kib(self):
        """Current resident size (VmRSS) in KiB, or None once it exited."""
        return proc_status_kib(self.pid, "VmRSS")

    def hwm_kib(self):
        """Peak resident size so far (VmHWM) in KiB, or None."""
        return proc_status_kib(self.pid, "VmHWM")

    def terminate(self):
        """Sends SIGTERM (once), after noting the peak RSS."""
        if self.terminated_at is not None or not self.running():
            return
        hwm = self.hwm_kib()
        if hwm is not None:
            self.peak_kib = max(self.peak_kib or 0, hwm)
        self.terminated_at = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)

    def stop(self):
        """SIGTERM, wait, check exit code and sanitizer reports, remove the
        temporary directory.  Returns the list of problems (also printed).
        """
        if self.stopped:
            return self.problems
        self.stopped = True
        problems = []
        if self.proc is None:
            return problems
        if self.terminated_at is None and self.proc.poll() is not None:
            problems.append("daemon died before stop (exit %d)"
                            % self.proc.returncode)
        self.terminate()
        try:
            rc = self.proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            problems.append("daemon still running %.0fs after SIGTERM; "
                            "killed" % self.stop_timeout)
            self.proc.kill()
            rc = self.proc.wait()
        took = (time.monotonic() - self.terminated_at
                if self.terminated_at else 0.0)
        if self._log:
            self._log.close()
        log = self.log_text()
        if rc != 0:
            problems.append("daemon exit status %d after SIGTERM (want 0)"
                            % rc)
        for m in SANITIZER_MARKERS:
            if m in log:
                problems.append("sanitizer report on stderr: %r" % m)
        print("# %s exit %s %.2fs after SIGTERM; peak RSS (VmHWM) %s" % (
            self.name, rc, took, fmt_mib(self.peak_kib)))
        if problems:
            for p in problems:
                print("not ok - %s: %s" % (self.name, p))
            print("# --- daemon log (tail) ---")
            sys.stdout.write(_indent(log[-12000:]))
            sys.stdout.flush()
        else:
            print("ok - %s exited 0 after SIGTERM with no sanitizer report"
                  % self.name)
        self.problems = problems
        self._cleanup(keep=bool(problems))
        return problems

    def kill(self, sig=signal.SIGKILL):
        """Kills the daemon with |sig| (SIGKILL: a crash) and waits for it;
        no exit status is required, but a sanitizer report already on
        stderr is still a problem.  Ends this Daemon like stop() does
        (a workdir is kept).  Returns the list of problems (also printed).
        """
        if self.stopped:
            return self.problems
        self.stopped = True
        problems = []
        if self.proc is None:
            return problems
        hwm = self.hwm_kib()
        if hwm is not None:
            self.peak_kib = max(self.peak_kib or 0, hwm)
        if self.proc.poll() is not None:
            problems.append("daemon died before the kill (exit %d)"
                            % self.proc.returncode)
        else:
            self.proc.send_signal(sig)
        rc = self.proc.wait()
        if self._log:
            self._log.close()
        log = self.log_text()
        for m in SANITIZER_MARKERS:
            if m in log:
                problems.append("sanitizer report on stderr: %r" % m)
        print("# %s killed by signal %d (status %s); peak RSS (VmHWM) %s" % (
            self.name, sig, rc, fmt_mib(self.peak_kib)))
        if problems:
            for p in problems:
                print("not ok - %s: %s" % (self.name, p))
            print("# --- daemon log (tail) ---")
            sys.stdout.write(_indent(log[-12000:]))
            sys.stdout.flush()
        else:
            print("ok - %s killed, no sanitizer report before" % self.name)
        self.problems = problems
        self._cleanup(keep=bool(problems))
        return problems

    def _cleanup(self, keep=False):
        if not self.tmp:
            return
        if self.workdir:
            return  # the caller's directory: the caller removes it
        if os.environ.get("DOSSIER_KEEP") or keep:
            print("# kept %s" % self.tmp)
            return
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- the daemon's stderr -------------------------------------------------

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def log_mark(self):
        """A position in the log, for log_since()."""
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, mark):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(mark)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, et, ev, tb):
        if et is not None:
            print("# exception in test: %s: %s" % (et.__name__, ev))
        problems = self.stop()
        if problems and et is None:
            raise HarnessError("; ".join(problems))
        return False


def _new_log_path(d):
    """A daemon log file name not yet used in directory |d|."""
    n = 0
    while os.path.exists(os.path.join(d, "dossierd-%d.log" % n)):
        n += 1
    return os.path.join(d, "dossierd-%d.log" % n)


# If the test process dies (killed by a runner's timeout), the daemon gets
# SIGKILL instead of lingering.  Done by util-linux's setpriv, which execs
# the daemon in place (same pid), rather than by a preexec_fn: Python code
# between fork and exec in a process where grpcio's threads run can hang or
# crash the child before the daemon even starts (seen in CI: a refused
# start with an empty log).
_SETPRIV = shutil.which("setpriv")
_DIE_WITH_PARENT = [_SETPRIV, "--pdeathsig", "KILL", "--"] if _SETPRIV else []


def _indent(text):
    return "".join("#   " + l + "\n" for l in text.splitlines())


def client_ssl_context(ca, crt=None, key=None, alpn=("h2",)):
    """A TLS client context trusting |ca|, presenting |crt|/|key| if given,
    offering |alpn| (None: no ALPN extension at all)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    if crt:
        ctx.load_cert_chain(crt, key)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


# --- results ------------------------------------------------------------------

class Checks:
    """Prints one line per check ("ok - ..." / "not ok - ...") and the
    closing "N passed, N failed" line."""

    def __init__(self):
        self.passed = 0
        self.failed = []

    def ok(self, name):
        self.passed += 1
        print("ok - %s" % name)
        sys.stdout.flush()

    def fail(self, name, why):
        self.failed.append(name)
        print("not ok - %s: %s" % (name, why))
        sys.stdout.flush()

    def run(self, name, fn, *args, **kw):
        """Runs fn; an exception (AssertionError included) fails the check.
        Returns fn's value, or None on failure."""
        t0 = time.monotonic()
        try:
            v = fn(*args, **kw)
        except Exception as e:  # noqa: BLE001 -- every failure is reported
            tb = traceback.format_exc(limit=4)
            self.fail(name, "%s: %s" % (type(e).__name__, e))
            sys.stdout.write(_indent(tb))
            return None
        dt = time.monotonic() - t0
        self.passed += 1
        print("ok - %s (%.2fs)" % (name, dt))
        sys.stdout.flush()
        return v

    def add_problems(self, name, problems):
        if problems:
            for p in problems:
                self.fail(name, p)
        else:
            self.passed += 1

    def finish(self):
        print("%d passed, %d failed" % (self.passed, len(self.failed)))
        if self.failed:
            print("# failed: " + "; ".join(self.failed))
        sys.stdout.flush()
        return 1 if self.failed else 0


# --- protobuf and grpc helpers (lazy imports) -----------------------------

PROTO_FILES = (
    "dossier/v1/common.proto",
    "dossier/v1/diag.proto",
    "dossier/v1/documents.proto",
    "grpc/health/v1/health.proto",
    "grpc/reflection/v1/reflection.proto",
    "grpc/reflection/v1alpha/reflection.proto",
)


class Protos:
    """The _pb2 modules the tests need, generated with protoc into a
    temporary directory (never into the tree)."""


def load_protos(outdir):
    """Runs protoc --python_out=|outdir| on the protos the tests use and
    imports them.  The grpc/... modules cannot be imported by package
    name (the grpcio package is called grpc too), so they are loaded
    from their files under private names."""
    os.makedirs(outdir, exist_ok=True)
    files = list(PROTO_FILES)
    # documents.proto imports common.proto, and maybe more: take every
    # dossier/v1 file so that imports always resolve.
    pdir = os.path.join(TOP, "proto", "dossier", "v1")
    for f in sorted(os.listdir(pdir)):
        rel = "dossier/v1/" + f
        if f.endswith(".proto") and rel not in files:
            files.append(rel)
    p = subprocess.run(["protoc", "--python_out=" + outdir, "-I",
                        os.path.join(TOP, "proto")] + files,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if p.returncode != 0:
        raise HarnessError("protoc failed: %s" % p.stderr)
    if outdir not in sys.path:
        sys.path.insert(0, outdir)
    pb = Protos()
    pb.diag = importlib.import_module("dossier.v1.diag_pb2")
    pb.documents = importlib.import_module("dossier.v1.documents_pb2")

    def by_file(rel, name):
        path = os.path.join(outdir, rel)
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod

    pb.health = by_file("grpc/health/v1/health_pb2.py",
                        "dossier_test_health_pb2")
    pb.refl_v1 = by_file("grpc/reflection/v1/reflection_pb2.py",
                         "dossier_test_reflection_v1_pb2")
    pb.refl_v1alpha = by_file("grpc/reflection/v1alpha/reflection_pb2.py",
                              "dossier_test_reflection_v1alpha_pb2")
    return pb


GRPC_OPTIONS = [
    ("grpc.max_send_message_length", 64 * MiB),
    ("grpc.max_receive_message_length", 64 * MiB),
    # One test's channel must not reuse another's connection.
    ("grpc.use_local_subchannel_pool", 1),
]


def grpc_channel(d, kind="agency", ident="caf-75", crt=None, key=None,
                 options=None):
    """A grpcio secure channel to |d| with a client certificate of the
    dev PKI (or the given |crt|/|key| paths)."""
    import grpc
    if crt is None:
        crt, key = d.cert(kind, ident)
    with open(d.ca, "rb") as f:
        ca = f.read()
    with open(crt, "rb") as f:
        chain = f.read()
    with open(key, "rb") as f:
        pkey = f.read()
    creds = grpc.ssl_channel_credentials(root_certificates=ca,
                                         private_key=pkey,
                                         certificate_chain=chain)
    return grpc.secure_channel(d.addr, creds,
                               options=(options or []) + GRPC_OPTIONS)


def echo_stub(channel, pb):
    return channel.unary_unary(
        "/dossier.v1.Diag/Echo",
        request_serializer=pb.diag.EchoRequest.SerializeToString,
        response_deserializer=pb.diag.EchoResponse.FromString)


def echo_once(channel, pb, payload=None, timeout=10.0):
    """One Echo that must succeed with the same payload; returns the
    response."""
    if payload is None:
        payload = os.urandom(16)
    resp = echo_stub(channel, pb)(pb.diag.EchoRequest(payload=payload),
                                  timeout=timeout)
    assert resp.payload == payload, "echo payload differs"
    return resp


def principal_uri(kind, ident):
    return "spiffe://%s/%s/%s" % (TRUST_DOMAIN, kind, ident)


def expected_download(seed, offset, n):
    """The bytes Diag/Download sends at absolute offsets offset..offset+n:
    byte i is (seed + i) % 251."""
    start = (seed + offset) % 251
    period = bytes((start + k) % 251 for k in range(251))
    reps = n // 251 + 1
    return (period * reps)[:n]


class PatternHasher:
    """Feeds sha256 with the expected Download content, block by block."""

    def __init__(self, seed):
        self.seed = seed
        base = bytes((seed + k) % 251 for k in range(251))
        # A block whose length is a multiple of 251 so that it repeats.
        self.block = base * 4096  # ~1 MiB

    def sha256(self, total):
        import hashlib
        h = hashlib.sha256()
        full, rest = divmod(total, len(self.block))
        for _ in range(full):
            h.update(self.block)
        h.update(self.block[:rest])
        return h.digest()

    def check(self, offset, data):
        """True when |data| is what the server must send at |offset|."""
        start = offset % 251
        need = start + len(data)
        blk = self.block
        while len(blk) < need:
            blk = blk + self.block
        return blk[start:need] == data


def require_binaries():
    """Prints a clear line and exits 1 when the binaries are missing."""
    missing = [p for p in (daemon_path(), admin_path())
               if not os.access(p, os.X_OK)]
    if missing:
        print("not ok - missing binaries: %s (run make all asan)"
              % ", ".join(missing))
        print("0 passed, 1 failed")
        sys.exit(1)
