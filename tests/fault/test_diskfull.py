#!/usr/bin/python3
"""test_diskfull.py -- dossierd on a full filesystem, and with a full map.

  disk  the dossier store (--data) on a tmpfs of 12 MiB mounted here (root
        is needed; the key store stays outside), with a 32 MiB map, so
        that the filesystem fills before the map, and a 3 MiB ballast
        file beside the store.  Deposits go on until one is
        refused: RESOURCE_EXHAUSTED "the store is full".  Reads under
        consent go on while their audit entries fit in the pages the file
        already has, and each one refused sends no byte.  Then disk space
        is freed (the ballast removed) and a deposit succeeds again.  The
        disk is filled once more (deposits, then reads until even their
        entries are refused), and an Erase of the filler's dossier still
        works (the delete reserve is held on disk too) and makes room
        inside the file: a deposit succeeds again.
  map   the same steps with the store on an ordinary disk and a tiny map
        (--map-size 2 MiB) instead of a small filesystem (test_audit.py
        and test_dossier.py check the full map in detail; this adds the
        restart check below to it).

Both end with a restart on the same files: every acknowledged deposit
reads whole and byte-identical, nothing listed is partial, every read a
client got has its granted entry, and `dossier audit verify` accepts the
exported log.  Each prints: deposits acknowledged, refused, reads served
after the first refusal, reads refused (with the bytes they sent: 0),
acknowledged writes lost, violations.

If the tmpfs cannot be mounted (not root, or no CAP_SYS_ADMIN), "disk"
says so and fails: it is not replaced by a simulation.

Run from the repository root, after make all:
    /usr/bin/python3 tests/fault/test_diskfull.py [disk|map]
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib as fl  # noqa: E402

harness, ta, SC = fl.harness, fl.ta, fl.SC
KiB, MiB = fl.KiB, fl.MiB
SCENARIOS = ("disk", "map")
FS_SIZE = 12 * MiB
BALLAST = 3 * MiB
DISK_MAP = 32 * MiB  # larger than the filesystem: the disk fills first


def mount_tmpfs(path, size):
    os.makedirs(path, mode=0o700, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o",
                        "size=%d,mode=0700" % size, "tmpfs", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    return r.returncode == 0, r.stdout.strip()


def umount(path):
    subprocess.run(["umount", path], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def df(path):
    s = os.statvfs(path)
    return s.f_bavail * s.f_frsize


class Fill:
    def __init__(self, label):
        self.label = label
        self.led = fl.Ledger()
        self.readers = {}
        self.acked = 0
        self.refused = 0
        self.served_after = 0
        self.reads_refused = 0
        self.bytes_leaked = 0
        self.violations = []
        self.messages = set()


def fill(w, f, did, seed0, size, most=400):
    """Deposits |size| byte documents on |did| until one is refused.
    Returns (code, details) of the refusal, or None."""
    for i in range(most):
        content = fl.content_for(seed0 + i, size)
        c, det, v = w.caf.call("Documents/Put", ta.put_requests(
            did, content, file_name="f%d.pdf" % (seed0 + i)), timeout=30)
        if c == SC.OK:
            f.led.doc_put(v.meta.document_id, did, content)
            f.acked += 1
            continue
        f.refused += 1
        f.messages.add(fl.describe(c, det))
        return c, det
    return None


def reads_until_refused(w, f, did, doc, content, most=5000, seconds=40):
    """Reads under consent until one is refused; each refused read must
    send nothing.  Returns whether one was refused."""
    t_end = time.monotonic() + seconds
    for i in range(most):
        if time.monotonic() > t_end:
            break
        t0 = time.monotonic()
        c, det, metas, data = fl.read_full(w.caf, did, doc)
        if metas or data:
            f.led.reads.append((did, doc, "", t0, time.monotonic()))
        if c == SC.OK:
            if data != content:
                f.violations.append("read returned other bytes")
            f.served_after += 1
            continue
        f.reads_refused += 1
        f.messages.add("read: " + fl.describe(c, det))
        if metas or data:
            f.bytes_leaked += len(data)
            f.violations.append("refused read sent %d meta, %d bytes" % (
                len(metas), len(data)))
        if c not in (SC.RESOURCE_EXHAUSTED, SC.UNAVAILABLE):
            f.violations.append("refused read: %s" % fl.describe(c, det))
        return True
    return False


def deposit_small(w, f, did, seed, what):
    content = fl.content_for(seed, 2000)
    c, det, v = w.caf.call("Documents/Put", ta.put_requests(
        did, content, file_name="after.pdf"), timeout=30)
    if c == SC.OK:
        f.led.doc_put(v.meta.document_id, did, content)
        f.acked += 1
        print("#   %s: a deposit succeeds again" % what)
    else:
        f.violations.append("%s: the deposit still fails: %s" % (
            what, fl.describe(c, det)))
    return c == SC.OK


def scenario(checks, dirs, label, extra_args, data_dir=None, ballast=None,
             piece=64 * KiB):
    wd = dirs.new(label)
    f = Fill(label)
    if data_dir is not None:
        os.rmdir(os.path.join(wd, "data"))
        os.symlink(data_dir, os.path.join(wd, "data"))
    d = harness.Daemon(name="dossierd-%s" % label, exe=fl.release_daemon(),
                       workdir=wd, extra_args=extra_args)
    d.start()
    w = ta.World(d)
    try:
        a = w.enrol("df-a")
        fdid = w.enrol("df-f")
        f.readers = {a: "df-a", fdid: "df-f"}
        doc_content = fl.content_for(1, 3000)
        doc = w.deposit(a, doc_content)
        f.led.doc_put(doc, a, doc_content)
        f.acked += 1
        w.consent("df-a", w.caf.uri)
        c, det, metas, data = fl.read_full(w.caf, a, doc)
        assert c == SC.OK and data == doc_content, fl.describe(c, det)
        f.led.reads.append((a, doc, "", 0, 0))

        r = fill(w, f, fdid, 100, piece)
        print("# %s: %d deposits acknowledged, then %s%s" % (
            label, f.acked, fl.describe(*r) if r else "never refused",
            "; %d KiB left on the filesystem" % (df(data_dir) // KiB)
            if data_dir else ""))
        if r is None or r[0] != SC.RESOURCE_EXHAUSTED or \
                "full" not in r[1]:
            f.violations.append("the refused deposit: %s" % (
                fl.describe(*r) if r else "never refused"))
        log = d.log_text()
        print("#   log: " + " | ".join(
            l[:200] for l in log.splitlines() if "full" in l and
            "level=info" not in l)[:600])
        # The bug this test found: LMDB reports the short write of a full
        # filesystem as EIO, and the writer stopped for good ("store
        # writes stopped after an I/O error") instead of refusing writes
        # while the disk is full.
        if "store writes stopped after an I/O error" in log:
            f.violations.append("a full filesystem was taken for an I/O "
                                "error: writes stopped for good")
        if not reads_until_refused(w, f, a, doc, doc_content):
            print("#   reads never refused (%d served): their entries fit"
                  % f.served_after)
        print("# %s: %d reads served after the first refused deposit, %d "
              "refused, %d bytes sent by refused reads" % (
                  label, f.served_after, f.reads_refused, f.bytes_leaked))
        if ballast:
            os.unlink(ballast)
            print("#   ballast removed: %d KiB free on the filesystem" % (
                df(data_dir) // KiB))
            deposit_small(w, f, a, 500, "disk space freed")
            # Full again, to its last block: the Erase below must still
            # work (the second bug this test found: with the delete
            # reserve kept in the map only, an Erase on a full disk failed
            # for want of blocks, and nothing could free space).
            r = fill(w, f, fdid, 1000, piece)
            if r is None or r[0] != SC.RESOURCE_EXHAUSTED:
                f.violations.append("second fill: %s" % (
                    fl.describe(*r) if r else "never refused"))
            reads_until_refused(w, f, a, doc, doc_content)
            print("#   full again: %d KiB left on the filesystem" % (
                df(data_dir) // KiB))
        # An erasure makes room inside the store.
        f.led.erase_tried.add(fdid)
        c, det, v = w.me("df-f").call("Persons/Erase", ta.PB.persons.
                                      EraseRequest(dossier_id=fdid,
                                                   confirm=True))
        print("#   Erase of the filler's dossier -> %s" % fl.describe(c, det))
        if c == SC.OK:
            f.led.erased.add(fdid)
            ok = False
            for attempt in range(5):
                c, det, metas, data = fl.read_full(w.caf, a, doc)
                if c == SC.OK:
                    ok = True
                    break
                time.sleep(0.2)
            if not ok:
                f.violations.append("reads do not resume after the "
                                    "erasure: %s" % fl.describe(c, det))
            deposit_small(w, f, a, 600, "after the erasure")
        else:
            f.violations.append("Erase in the full store: %s" %
                                fl.describe(c, det))
    finally:
        w.close()
        p = d.stop()
        f.violations += ["stop: %s" % x for x in p]
    # Restart on the same files: nothing acknowledged is lost.
    d = harness.Daemon(name="dossierd-%s-after" % label,
                       exe=fl.release_daemon(), workdir=wd,
                       extra_args=extra_args)
    lost = 0
    try:
        d.start()
        w = ta.World(d)
        try:
            vs = fl.check_documents(w, f.led, f.readers)
            lost = sum(1 for v in vs if "lost" in v or "differs" in v)
            f.violations += vs
            vs, entries, _ = fl.verify_offline(w, d, wd)
            f.violations += vs
            f.violations += fl.check_reads_audited(entries, f.led, w.caf.uri)
        finally:
            w.close()
            f.violations += ["restart: %s" % x for x in d.stop()]
    except harness.HarnessError as e:
        f.violations.append("no restart: %s" % str(e).splitlines()[0])
    print("#   messages: " + "; ".join(sorted(f.messages)))
    print("# %s summary: deposits acknowledged %d, refused %d, reads served "
          "after full %d, reads refused %d (bytes sent 0 wanted: %d), "
          "acknowledged writes lost %d, violations %d" % (
              label, f.acked, f.refused, f.served_after, f.reads_refused,
              f.bytes_leaked, lost, len(f.violations)))
    fl.print_violations(f.violations)
    if f.violations:
        checks.fail("%s: full, refused, nothing lost, resumes" % label,
                    "%d violations" % len(f.violations))
    else:
        checks.ok("%s: RESOURCE_EXHAUSTED when full, reads fail closed, "
                  "writes resume once space is freed, nothing acknowledged "
                  "lost across a restart" % label)


def main():
    want = [a for a in sys.argv[1:] if a in SCENARIOS] or list(SCENARIOS)
    for p in (fl.release_daemon(), fl.cli_path()):
        if not os.access(p, os.X_OK):
            print("not ok - missing %s (make all)" % p)
            print("0 passed, 1 failed")
            return 1
    pbtmp = fl.load()
    dirs = fl.Workdirs("dossier-diskfull-", persons=("df-a", "df-f"))
    checks = harness.Checks()
    mnt = os.path.join(dirs.root, "mnt")
    mounted = False
    try:
        if "disk" in want:
            ok, why = mount_tmpfs(mnt, FS_SIZE)
            if not ok:
                checks.fail("disk: mount a %d MiB tmpfs" % (FS_SIZE // MiB),
                            "mount failed (%s); this test needs root with "
                            "CAP_SYS_ADMIN" % why)
            else:
                mounted = True
                print("# disk: tmpfs of %d KiB mounted at %s" % (
                    FS_SIZE // KiB, mnt))
                ballast = os.path.join(mnt, "ballast")
                with open(ballast, "wb") as fh:
                    fh.write(os.urandom(BALLAST))
                data = os.path.join(mnt, "data")
                os.makedirs(data, mode=0o700)
                checks.run("disk: the store on a full filesystem",
                           scenario, checks, dirs, "disk",
                           ["--map-size", str(DISK_MAP)], data, ballast,
                           256 * KiB)
        if "map" in want:
            checks.run("map: the store in a full map", scenario, checks,
                       dirs, "map", ["--map-size", str(2 * MiB)])
    finally:
        if mounted:
            umount(mnt)
        fl.shutil.rmtree(pbtmp, ignore_errors=True)
        dirs.close(keep=bool(checks.failed) or
                   bool(os.environ.get("DOSSIER_KEEP")))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
