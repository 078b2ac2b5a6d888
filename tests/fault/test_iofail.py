#!/usr/bin/python3
"""test_iofail.py -- dossierd when a write or a sync of its store fails.

The daemon (release build) runs with the LD_PRELOAD shim
build/fault/libiofail.so (tests/fault/iofail.c), which makes the Nth
counted call on a file named data.mdb (the dossier store and the data-key
store) fail with EIO; a failed write writes nothing and a failed sync
loses every write since the last good sync, as a dying disk would.  For
each N, on a fresh store, one client runs a fixed workload one call at a
time: enrol a person, grant a consent, deposit four documents (3 KB to
200 KB), read each under the consent, enrol a second person, deposit, erase
them, deposit again.  Then the daemon is stopped, started again without
the shim on the same files, and checked:

  - no write was acknowledged once a failure had been injected, and no
    write or sync of the file that failed was even tried after it (the
    writer stops for good after an I/O error: no retried fsync), and the
    daemon said so in one log line ("store writes stopped after an I/O
    error"), exactly once;
  - no read sent a byte once a failure had been injected (its audit entry
    could not be made durable): reads fail closed;
  - after the restart, every acknowledged deposit reads whole and
    byte-identical, an acknowledged erasure holds, nothing listed is
    partial, every read a client got has its granted entry, every
    acknowledged consent its entry, and `dossier audit verify` accepts the
    exported log.

Scenarios (all by default):
  sync     IOFAIL_OPS=sync (fsync, fdatasync), once, N = 1 .. every sync
           the workload makes (counted by a first run of the shim)
  sticky   the same calls failing from N on, for a few N
  write    IOFAIL_OPS=write,pwrite,writev: data pages and the meta page
           (O_DSYNC) lost, N sampled over every write the workload makes
  enospc   a sync failing with ENOSPC on a filesystem with room (a lost
           write-back, as thin provisioning reports it), for 10 N: the
           bug this found was that it counted as a full store, so the
           writer went on and retried the sync; it is an I/O error

Each prints its summary: N tried, failures injected, writes acknowledged,
acknowledged writes lost, violations (must be 0).  Environment: as
harness.py, plus IOFAIL_RUNS (most N tried per scenario, default 200) and
IOFAIL_SHIM (the shim, default build/fault/libiofail.so).

Run from the repository root, after make all fault:
    /usr/bin/python3 tests/fault/test_iofail.py [scenario...]
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib as fl  # noqa: E402

harness, ta, SC = fl.harness, fl.ta, fl.SC
SCENARIOS = ("sync", "sticky", "write", "enospc")
STOPPED_LINE = "store writes stopped after an I/O error"
SIZES = (3000, 70 * fl.KiB, 200 * fl.KiB, 1000)


def shim_path():
    return os.environ.get("IOFAIL_SHIM") or os.path.join(
        harness.TOP, "build", "fault", "libiofail.so")


def shim_env(ops, n, mode="once", report=None, errno_name="EIO"):
    env = {"LD_PRELOAD": shim_path(), "IOFAIL_OPS": ops,
           "IOFAIL_N": str(n), "IOFAIL_MODE": mode,
           "IOFAIL_PATH": "data.mdb", "IOFAIL_ERRNO": errno_name}
    if report:
        env["IOFAIL_REPORT"] = report
    return env


class Run:
    """One workload under one fault setting."""

    def __init__(self, label):
        self.label = label
        self.led = fl.Ledger()
        self.readers = {}   # dossier id -> person ident
        self.faulted = False
        self.fault_step = None
        self.acks_after = []   # writes acknowledged after the fault
        self.served_after = []  # reads that sent bytes after the fault
        self.refusal = None    # what the first refused write said
        self.acked = 0
        self.started = True
        self.violations = []


def workload(d, w, run):
    """The fixed sequence of calls; after each, notes whether a failure
    has been injected (the shim says so on the daemon's stderr)."""
    mark = d.log_mark()
    step = [0]

    def after(what, code, det, wrote):
        step[0] += 1
        if not run.faulted and "iofail: injected" in d.log_since(mark):
            run.faulted = True
            run.fault_step = "%d (%s)" % (step[0], what)
            if code == SC.OK and wrote:
                run.acks_after.append(what)
            return
        if run.faulted and code == SC.OK and wrote:
            run.acks_after.append(what)
        if run.faulted and wrote and code != SC.OK and run.refusal is None:
            run.refusal = "%s -> %s" % (what, fl.describe(code, det))

    admin, caf = w.admin, w.caf
    P, D, C = ta.PB.persons, ta.PB.documents, ta.PB.consents

    def enrol(ident):
        c, det, v = admin.call("Persons/Enrol", P.EnrolRequest(
            nir=ta.fresh_nir(), given_name="Prenom", family_name="Nom",
            person_principal_id=ident))
        if c == SC.OK:
            run.led.persons[ident] = v.dossier_id
            run.readers[v.dossier_id] = ident
            run.acked += 1
        after("enrol " + ident, c, det, True)
        return v.dossier_id if c == SC.OK else None

    def deposit(did, seed, size):
        content = fl.content_for(seed, size)
        c, det, v = caf.call("Documents/Put", ta.put_requests(
            did, content, file_name="io%d.pdf" % seed))
        if c == SC.OK:
            run.led.doc_put(v.meta.document_id, did, content)
            run.acked += 1
        after("deposit %d B" % size, c, det, True)
        return (v.meta.document_id, content) if c == SC.OK else None

    did = enrol("io-a")
    if did is None:
        return
    c, det, v = w.me("io-a").call("Consents/Grant", C.GrantConsentRequest(
        consent=ta.consent_msg(did, caf.uri)))
    if c == SC.OK:
        run.led.grants.append((did, v.consent.consent_id))
        run.acked += 1
    after("consent", c, det, True)
    docs = []
    for i, size in enumerate(SIZES):
        r = deposit(did, 10 + i, size)
        if r:
            docs.append(r)
    for doc, content in docs:
        t0 = time.monotonic()
        c, det, metas, data = fl.read_full(caf, did, doc)
        served = bool(metas or data)
        if served and run.faulted:
            run.served_after.append("read of %s: %s, %d bytes" % (
                doc, fl.describe(c, det), len(data)))
        if served:
            run.led.reads.append((did, doc, "", t0, time.monotonic()))
        if c == SC.OK and data != content:
            run.violations.append("read of %s returned other bytes" % doc)
        after("read", c, det, False)
    other = enrol("io-b")
    if other is not None:
        deposit(other, 30, 5000)
        run.led.erase_tried.add(other)
        c, det, v = w.me("io-b").call("Persons/Erase", P.EraseRequest(
            dossier_id=other, confirm=True))
        if c == SC.OK:
            run.led.erased.add(other)
            run.acked += 1
        after("erase", c, det, True)
    deposit(did, 40, 2000)


def check_after(wd, run):
    """Restart without the shim and check what the clients were told."""
    d = harness.Daemon(name="dossierd-after", exe=fl.release_daemon(),
                       workdir=wd)
    try:
        d.start()
    except harness.HarnessError as e:
        run.violations.append("no restart without the fault: %s" %
                              str(e).splitlines()[0])
        return 0
    w = ta.World(d)
    lost = 0
    try:
        docs = fl.check_documents(w, run.led, run.readers)
        lost = sum(1 for v in docs if "lost" in v or "differs" in v or
                   "gone" in v or "still reads" in v)
        run.violations += docs
        vs, entries, _ = fl.verify_offline(w, d, wd)
        run.violations += vs
        run.violations += fl.check_reads_audited(entries, run.led, w.caf.uri)
        g = fl.check_grants_audited(entries, run.led)
        lost += len(g)
        run.violations += g
    finally:
        w.close()
        p = d.stop()
        run.violations += ["restarted daemon: %s" % x for x in p]
    return lost


def one(dirs, ops, n, mode, report=None, errno_name="EIO"):
    """Runs the workload with the Nth counted call failing; returns the
    Run (violations filled in) and the acknowledged writes lost."""
    wd = dirs.new()
    run = Run("%s N=%d %s" % (ops, n, mode))
    d = harness.Daemon(name="dossierd-iofail", exe=fl.release_daemon(),
                       workdir=wd, env=shim_env(ops, n, mode, report,
                                                errno_name))
    try:
        d.start()
    except harness.HarnessError as e:
        # A failure in the start-up commits: refusing to start is right.
        run.started = False
        run.faulted = "iofail: injected" in str(e)
        run.fault_step = "start-up"
        if not run.faulted:
            run.violations.append("did not start: %s" %
                                  str(e).splitlines()[0])
    if run.started:
        w = ta.World(d)
        try:
            workload(d, w, run)
        finally:
            w.close()
        log = d.log_text()
        d.stop()  # its exit status after a fault is not the point here
        stopped = log.count(STOPPED_LINE)
        if run.faulted and stopped != 1:
            run.violations.append("the log says %r %d times after the "
                                  "fault (want once)" % (STOPPED_LINE,
                                                         stopped))
        if not run.faulted and stopped:
            run.violations.append("writes stopped with no fault injected")
        for a in run.acks_after:
            run.violations.append("write acknowledged after the failure: "
                                  + a)
        for s in run.served_after:
            run.violations.append("document served after the failure: " + s)
        if "iofail: injected" in log and not run.faulted:
            run.violations.append("fault injected but not seen")
        # No retried sync, no write to the file that failed after the
        # failure (in "once" mode the shim lets them through and says
        # so; the batch in flight may still commit to the other store).
        # One write is LMDB's own: after a failed write of the meta page
        # (through its O_DSYNC descriptor), mdb.c writes the old meta
        # back through the other descriptor, so that the page cache does
        # not hold the new one, and marks the environment failed.
        if mode == "once":
            inj = [l for l in log.splitlines()
                   if l.startswith("iofail: injected")]
            path = inj[0].rsplit(", ", 1)[-1].rstrip(")") if inj else None
            meta_restore = bool(inj) and ", dsync, " in inj[0]
            for l in log.splitlines():
                if "after the injected failure" not in l or path is None \
                        or not l.rstrip().endswith(path + ")"):
                    continue
                if meta_restore and l.startswith("iofail: pwrite "):
                    meta_restore = False
                    continue
                run.violations.append("the file was written or synced "
                                      "again after its failure: " +
                                      l.strip()[:200])
                break
    lost = check_after(wd, run) if run.started or run.faulted else 0
    if not run.violations:
        dirs.remove(wd)
    else:
        print("# kept %s" % wd)
    return run, lost


def calibrate(dirs, ops):
    """How many counted calls the workload makes (no failure)."""
    rep = os.path.join(dirs.root, "report-%s" % ops.replace(",", "-"))
    run, lost = one(dirs, ops, 0, "once", report=rep)
    with open(rep) as f:
        lines = f.read().split()
    counted = [int(x.split("=")[1]) for x in lines if x.startswith("counted=")]
    fields = " ".join(x for x in lines if "=" in x and
                      not x.startswith(("counted", "injected")))
    # The first line is the faulty daemon's; later ones would be other
    # processes sharing the file (none).
    total = counted[0] if counted else 0
    print("# %s: the workload makes %d counted calls (%s); %d writes "
          "acknowledged, violations %d" % (ops, total, fields, run.acked,
                                           len(run.violations)))
    fl.print_violations(run.violations)
    assert not run.violations, "the workload fails without any fault"
    return total


def sweep(checks, dirs, name, ops, mode, ns, errno_name="EIO"):
    tried = injected = acked = lost = 0
    viol = []
    outcomes = {}
    for n in ns:
        run, l = one(dirs, ops, n, mode, errno_name=errno_name)
        tried += 1
        injected += bool(run.faulted)
        acked += run.acked
        lost += l
        key = run.fault_step.split(" ", 1)[-1] if run.fault_step else \
            "not reached"
        outcomes[key] = outcomes.get(key, 0) + 1
        if run.violations:
            print("# N=%d (%s, fault at %s): %d violations" % (
                n, mode, run.fault_step, len(run.violations)))
            fl.print_violations(run.violations, 4)
            viol += ["N=%d: %s" % (n, v) for v in run.violations]
        elif run.refusal and tried <= 3:
            print("# N=%d: after the fault, %s" % (n, run.refusal))
    print("# %s: N tried %d (%s), failures injected %d, writes "
          "acknowledged %d, acknowledged writes lost %d, violations %d" % (
              name, tried, "%s %s" % (ops, mode), injected, acked, lost,
              len(viol)))
    print("#   where the failure fell: " + ", ".join(
        "%s: %d" % kv for kv in sorted(outcomes.items())))
    if viol:
        checks.fail("%s: no acknowledged write lost, nothing served or "
                    "acknowledged after the failure" % name,
                    "%d violations" % len(viol))
    else:
        checks.ok("%s: %d fault points, acknowledged writes lost 0, "
                  "violations 0" % (name, tried))
    return tried, len(viol)


def spread(total, most):
    """At most |most| values of 1..total, evenly spread, ends included."""
    if total <= most:
        return list(range(1, total + 1))
    step = (total - 1) / float(most - 1)
    return sorted({1 + int(round(i * step)) for i in range(most)})


def main():
    for p in (shim_path(), fl.release_daemon(), fl.cli_path()):
        if not os.access(p, os.R_OK):
            print("not ok - missing %s (make all fault)" % p)
            print("0 passed, 1 failed")
            return 1
    want = [a for a in sys.argv[1:] if a in SCENARIOS] or list(SCENARIOS)
    most = int(os.environ.get("IOFAIL_RUNS", "200"))
    pbtmp = fl.load()
    dirs = fl.Workdirs("dossier-iofail-", persons=("io-a", "io-b"))
    checks = harness.Checks()
    t0 = time.monotonic()
    total_tried = total_viol = 0
    try:
        if "sync" in want or "sticky" in want or "enospc" in want:
            total = checks.run("sync: the workload runs clean under the shim "
                               "(count the syncs)", calibrate, dirs, "sync")
            if total:
                if "sync" in want:
                    t, v = sweep(checks, dirs, "sync", "sync", "once",
                                 spread(total, most))
                    total_tried += t
                    total_viol += v
                if "sticky" in want:
                    t, v = sweep(checks, dirs, "sticky", "sync", "sticky",
                                 spread(total, 5))
                    total_tried += t
                    total_viol += v
                if "enospc" in want:
                    t, v = sweep(checks, dirs, "enospc", "sync", "once",
                                 spread(total, 10), errno_name="ENOSPC")
                    total_tried += t
                    total_viol += v
        if "write" in want:
            ops = "write,pwrite,writev"
            total = checks.run("write: the workload runs clean under the "
                               "shim (count the writes)", calibrate, dirs,
                               ops)
            if total:
                t, v = sweep(checks, dirs, "write", ops, "once",
                             spread(total, most))
                total_tried += t
                total_viol += v
    finally:
        fl.shutil.rmtree(pbtmp, ignore_errors=True)
        dirs.close(keep=bool(checks.failed) or
                   bool(os.environ.get("DOSSIER_KEEP")))
    print("# iofail summary: N tried %d, violations %d, %.1fs" % (
        total_tried, total_viol, time.monotonic() - t0))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
