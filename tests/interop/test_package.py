#!/usr/bin/env python3
"""test_package.py -- the Debian package, installed and started.

- `make deb` builds the .deb files with dpkg-buildpackage;
- they are installed into a fresh directory tree with dpkg --root (the
  maintainer scripts run there through DPKG_ROOT: the _dossierd user made
  by systemd-sysusers, /var/lib/dossierd and its keys/ and data/ made
  mode 0700 for it, the service enabled); without root, dpkg -x only;
- every file is where the package says, the configuration is a conffile;
- the offline security score of the installed unit is printed and must
  be 2.0 or less;
- the installed dossierd starts with the packaged configuration (paths
  moved into the tree, a free port, development keys made by the
  installed dossier-admin), tells NOTIFY_SOCKET READY=1, answers a
  health check over mutual TLS (python3-grpcio), logs one line for the
  call with its principal and outcome and no person's id, says
  RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM, and exits 0;
- `make install DESTDIR PREFIX` puts the same files under another prefix;
- the installed client (from the .deb, and under the other prefix) speaks
  French with LANG=fr_FR.UTF-8, from its installed message catalogue.
"""

import glob
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TOP = harness.TOP
MAX_SCORE = 2.0

EXPECTED_FILES = (
    "usr/sbin/dossierd",
    "usr/sbin/dossier-admin",
    "usr/bin/dossier",
    "etc/dossierd/dossierd.conf",
    "lib/systemd/system/dossierd.service",
    "usr/lib/sysusers.d/dossierd.conf",
    "usr/lib/tmpfiles.d/dossierd.conf",
    "usr/share/dossierd/pieces.tsv",
    "usr/share/man/man8/dossierd.8.gz",
    "usr/share/man/man5/dossierd.conf.5.gz",
    "usr/share/man/man8/dossier-admin.8.gz",
    "usr/share/man/fr/man8/dossierd.8.gz",
    "usr/share/man/fr/man5/dossierd.conf.5.gz",
    "usr/share/man/fr/man8/dossier-admin.8.gz",
    "usr/share/locale/fr/LC_MESSAGES/dossier.mo",
)


def run(argv, **kw):
    kw.setdefault("cwd", TOP)
    return subprocess.run(argv, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, **kw)


class State:
    debs = []
    root = None
    chrootless = False


def build_deb():
    t0 = time.monotonic()
    p = run(["make", "-s", "deb"], timeout=900)
    assert p.returncode == 0, "make deb failed:\n" + p.stdout[-3000:]
    State.debs = sorted(d for d in glob.glob(
        os.path.join(TOP, "build", "deb", "*.deb")) if "dbgsym" not in d)
    names = [os.path.basename(d) for d in State.debs]
    print("# built %s in %.0fs" % (", ".join(names), time.monotonic() - t0))
    assert any(n.startswith("dossierd_") for n in names), names
    assert any(n.startswith("dossier-client_") for n in names), names


def install_tree(tmp):
    root = os.path.join(tmp, "root")
    State.root = root
    if os.geteuid() == 0:
        for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"):
            os.makedirs(os.path.join(root, d))
        open(os.path.join(root, "var/lib/dpkg/status"), "w").close()
        # The libraries are the host's: only the package's own scripts
        # run, chrootless, with DPKG_ROOT set to the tree.
        p = run(["dpkg", "--root", root, "--force-script-chrootless",
                 "--force-depends", "-i"] + State.debs, timeout=120)
        assert p.returncode == 0, "dpkg -i failed:\n" + p.stdout
        State.chrootless = True
        print("# installed with dpkg --root %s" % root)
    else:
        for d in State.debs:
            p = run(["dpkg", "-x", d, root])
            assert p.returncode == 0, p.stdout
        print("# not root: extracted with dpkg -x (no maintainer scripts)")


def check_files():
    root = State.root
    for f in EXPECTED_FILES:
        path = os.path.join(root, f)
        assert os.path.isfile(path), "missing " + f
    for f in ("usr/sbin/dossierd", "usr/sbin/dossier-admin",
              "usr/bin/dossier"):
        assert os.access(os.path.join(root, f), os.X_OK), f + " not exec"
    p = run([os.path.join(root, "usr/bin/dossier"), "--help"],
            env=dict(os.environ, LANG="fr_FR.UTF-8", LC_ALL="",
                     LC_MESSAGES=""))
    assert "utilisation : dossier" in p.stdout, p.stdout[:300]
    mode = os.stat(os.path.join(root, "etc/dossierd/dossierd.conf")).st_mode
    assert stat.S_IMODE(mode) == 0o644, oct(mode)
    p = run(["dpkg-deb", "-f", [d for d in State.debs
                                if "/dossierd_" in d][0], "Depends"])
    print("# dossierd Depends: %s" % p.stdout.strip())
    ctl = os.path.join(root, "..", "ctl")
    run(["dpkg-deb", "-e", [d for d in State.debs if "/dossierd_" in d][0],
         ctl])
    with open(os.path.join(ctl, "conffiles")) as f:
        assert "/etc/dossierd/dossierd.conf" in f.read().split()


def check_user_and_dirs():
    if not State.chrootless:
        print("# skipped: needs root for dpkg --root")
        return
    root = State.root
    with open(os.path.join(root, "etc/passwd")) as f:
        users = dict((l.split(":")[0], l.split(":")) for l in f if ":" in l)
    assert "_dossierd" in users, "no _dossierd user in the tree"
    uid = int(users["_dossierd"][2])
    assert users["_dossierd"][6].strip() in ("/usr/sbin/nologin",
                                              "/sbin/nologin"), \
        users["_dossierd"]
    for d in ("var/lib/dossierd", "var/lib/dossierd/keys",
              "var/lib/dossierd/data"):
        st = os.stat(os.path.join(root, d))
        assert stat.S_IMODE(st.st_mode) == 0o700, "%s mode %o" % (
            d, stat.S_IMODE(st.st_mode))
        assert st.st_uid == uid, "%s owner %d, want %d" % (d, st.st_uid, uid)
    link = os.path.join(root, "etc/systemd/system/multi-user.target.wants/"
                        "dossierd.service")
    assert os.path.lexists(link), "service not enabled in the tree"
    print("# _dossierd uid %d owns /var/lib/dossierd{,/keys,/data} 0700; "
          "service enabled" % uid)


def check_security_score():
    unit = os.path.join(State.root, "lib/systemd/system/dossierd.service")
    # systemd-analyze writes nothing, but runs in a scratch directory so
    # that no relative path of its own can touch the tree.
    p = subprocess.run(["systemd-analyze", "security", "--offline=true",
                        "--no-pager", unit], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True,
                       cwd=tempfile.gettempdir())
    m = re.search(r"Overall exposure level for dossierd\.service: "
                  r"([0-9.]+)", p.stdout)
    assert m, "no score in:\n" + p.stdout[-2000:]
    score = float(m.group(1))
    print("# systemd-analyze security --offline=true dossierd.service: "
          "%.1f (want <= %.1f)" % (score, MAX_SCORE))
    for line in p.stdout.splitlines():
        if line.startswith("\u2717"):
            print("#   " + re.sub(r"\s{2,}", "  ", line))
    assert score <= MAX_SCORE, "score %.1f" % score


class Installed:
    """What harness.grpc_channel needs to reach the installed daemon."""

    def __init__(self, keys, port):
        self.keys = keys
        self.port = port
        self.addr = "127.0.0.1:%d" % port
        self.ca = os.path.join(keys, "ca.crt")

    def cert(self, kind="agency", ident="caf-75"):
        base = os.path.join(self.keys, "%s-%s" % (kind, ident))
        return base + ".crt", base + ".key"


def recv_state(sock, want, timeout=30.0):
    """Reads datagrams until one holds |want|; returns them all."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        got.append(msg)
        if want in msg.split("\n"):
            return got
    raise AssertionError("no %s from the daemon (got %r)" % (want, got))


def check_installed_daemon(tmp):
    root = State.root
    sbin = os.path.join(root, "usr/sbin")
    keys = os.path.join(root, "var/lib/dossierd/keys")
    p = run([os.path.join(sbin, "dossier-admin"), "init-dev", "--dir", keys])
    assert p.returncode == 0, p.stdout
    port = harness.free_port()
    with open(os.path.join(root, "etc/dossierd/dossierd.conf")) as f:
        conf = f.read()
    conf = conf.replace("/var/lib/dossierd", root + "/var/lib/dossierd")
    conf = conf.replace("/usr/share/dossierd", root + "/usr/share/dossierd")
    conf = re.sub(r"(?m)^listen = .*$", "listen = 127.0.0.1:%d" % port, conf)
    path = os.path.join(tmp, "dossierd.conf")
    with open(path, "w") as f:
        f.write(conf)
    dossierd = os.path.join(sbin, "dossierd")
    p = run([dossierd, "--check-config", "--config", path])
    assert p.returncode == 0, p.stdout

    nsock_path = os.path.join(tmp, "notify")
    nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    nsock.bind(nsock_path)
    env = dict(os.environ, NOTIFY_SOCKET=nsock_path)
    log_path = os.path.join(tmp, "dossierd.log")
    log = open(log_path, "wb")
    proc = subprocess.Popen(harness._DIE_WITH_PARENT +
                            [dossierd, "--config", path], cwd=tmp, env=env,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        recv_state(nsock, "READY=1")
        print("# installed dossierd pid %d: READY=1 on NOTIFY_SOCKET, port "
              "%d" % (proc.pid, port))
        pb = harness.load_protos(os.path.join(tmp, "pb"))
        d = Installed(keys, port)
        for kind, ident in (("agency", "caf-75"), ("person", "demo")):
            ch = harness.grpc_channel(d, kind, ident)
            check = ch.unary_unary(
                "/grpc.health.v1.Health/Check",
                request_serializer=pb.health.HealthCheckRequest
                .SerializeToString,
                response_deserializer=pb.health.HealthCheckResponse
                .FromString)
            resp = check(pb.health.HealthCheckRequest(), timeout=10)
            assert resp.status == pb.health.HealthCheckResponse.SERVING, resp
            ch.close()
        print("# Health/Check over mutual TLS: SERVING")
        proc.send_signal(signal.SIGHUP)
        states = recv_state(nsock, "RELOADING=1")
        states += recv_state(nsock, "READY=1")
        assert any(s.startswith("RELOADING=1\nMONOTONIC_USEC=")
                   for s in states), states
        print("# SIGHUP: RELOADING=1 then READY=1")
        proc.send_signal(signal.SIGTERM)
        recv_state(nsock, "STOPPING=1")
        rc = proc.wait(timeout=60)
        assert rc == 0, "exit status %d" % rc
        print("# SIGTERM: STOPPING=1, exit 0")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        nsock.close()
    with open(log_path) as f:
        text = f.read()
    calls = [l for l in text.splitlines() if ' msg="call" ' in l]
    for l in calls:
        print("#   " + l)
    agency = [l for l in calls if "method=/grpc.health.v1.Health/Check "
              "principal=spiffe://dossier.test/agency/caf-75 status=OK" in l]
    assert agency, "no call line for the agency's health check"
    person = [l for l in calls if re.search(r"principal=person:[0-9a-f]{16} "
                                            r"status=OK", l)]
    assert person, "no call line for the person's health check"
    assert "person/demo" not in text, "a person's id is in the log"
    for l in text.splitlines():
        assert l.startswith("level="), "not a key=value line: %r" % l


def check_make_install(tmp):
    dest = os.path.join(tmp, "dest")
    p = run(["make", "-s", "install", "DESTDIR=" + dest,
             "PREFIX=/opt/dossierd"], timeout=600)
    assert p.returncode == 0, p.stdout[-2000:]
    pre = os.path.join(dest, "opt/dossierd")
    for f in ("sbin/dossierd", "sbin/dossier-admin", "bin/dossier",
              "etc/dossierd/dossierd.conf", "share/dossierd/pieces.tsv",
              "share/man/man5/dossierd.conf.5",
              "share/man/fr/man8/dossierd.8",
              "lib/systemd/system/dossierd.service",
              "lib/sysusers.d/dossierd.conf",
              "share/locale/fr/LC_MESSAGES/dossier.mo"):
        assert os.path.isfile(os.path.join(pre, f)), "missing " + f
    # The installed client speaks French from its installed catalogue.
    p = run([os.path.join(pre, "bin/dossier"), "--help"],
            env=dict(os.environ, LANG="fr_FR.UTF-8", LC_ALL="",
                     LC_MESSAGES=""))
    assert "utilisation : dossier" in p.stdout, p.stdout[:300]
    with open(os.path.join(pre, "etc/dossierd/dossierd.conf")) as f:
        assert "catalog = /opt/dossierd/share/dossierd/pieces.tsv" in f.read()
    with open(os.path.join(pre, "lib/systemd/system/dossierd.service")) as f:
        unit = f.read()
    assert ("ExecStart=/opt/dossierd/sbin/dossierd --config "
            "/opt/dossierd/etc/dossierd/dossierd.conf") in unit, unit


def main():
    c = harness.Checks()
    tmp = tempfile.mkdtemp(prefix="dossier-package-")
    try:
        if c.run("make deb builds the packages", build_deb) is None and \
                not State.debs:
            return c.finish()
        c.run("the packages install into a fresh tree", install_tree, tmp)
        c.run("every file in place, the configuration a conffile",
              check_files)
        c.run("the _dossierd user owns its 0700 directories",
              check_user_and_dirs)
        c.run("the unit's offline security score is <= %.1f" % MAX_SCORE,
              check_security_score)
        c.run("the installed daemon serves with the packaged configuration",
              check_installed_daemon, tmp)
        c.run("make install DESTDIR PREFIX", check_make_install, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
