#!/usr/bin/python3
"""crash.py -- rounds of SIGKILL of dossierd under a mixed concurrent load.

`make crash [ROUNDS=N]` (and `make check` with 30 rounds) runs it.  One
store lives across every round; each round starts the daemon (the release
build, build/bin/dossierd: DOSSIERD overrides), runs real grpcio clients
in threads for a random 0.4-1.6 s and kills the daemon with SIGKILL in the
middle of them:

  depositors  caf-75 deposits documents (1 KB to 150 KB, several chunks)
              on four persons' dossiers
  granters    each person grants caf-75 a consent, then revokes it
  fetchers    caf-75 reads documents under the most recent consents
  eraser      the operator enrols a person, caf-75 deposits, the person
              erases the dossier; again

After each kill the daemon is started again on the same files and the
round's outcome is checked:

  - every deposit a client saw acknowledged reads whole and byte-identical
    (those of the round, and a sample of earlier rounds; all of them after
    the last round); every document List shows is complete, including the
    ones whose deposit was cut by the kill (nothing half-visible);
  - an acknowledged erasure holds; an erasure cut by the kill left the
    dossier either whole or wholly unreadable;
  - no fetch that started after the revocation of its consent had been
    acknowledged succeeded; every acknowledged revocation still holds;
    every acknowledged grant is listed by the person;
  - every fetch whose bytes a client got has its granted entry in the log,
    every acknowledged grant its Consents.Grant entry;
  - `dossier audit verify` accepts the exported log with the checkpoint
    taken before the kill and one after the restart (signatures, roots,
    consistency across the kill).

Ends with "crash: rounds R, operations O (acknowledged A), violations V"
(V must be 0) and the closing "N passed, N failed" line.

Environment: ROUNDS via --rounds N or CRASH_ROUNDS (default 30),
CRASH_SEED (printed; replays the kill moments), and harness.py's.
"""

import argparse
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib as fl  # noqa: E402

harness, ta, tc, SC = fl.harness, fl.ta, fl.tc, fl.SC
PERSONS = ["cr-%d" % i for i in range(4)]
SIZES = (1000, 3000, 20 * fl.KiB, 70 * fl.KiB, 150 * fl.KiB)


class State:
    def __init__(self):
        self.led = fl.Ledger()
        self.lock = threading.Lock()
        self.readers = {}        # dossier id -> person ident
        self.dids = {}           # persistent person -> dossier id
        self.grants = []         # live consents to fetch under: (cid, did)
        self.reads_ok = []       # (cid, start) of fetches that succeeded
        self.ops = 0
        self.acked = 0
        self.refused_revoked = 0
        self.known_docs = set()  # listed documents already checked
        self.entries = []        # the audit log, as fetched so far
        self.violations = []
        self.round_docs = []     # documents acknowledged this round
        self.round_revoked = []

    def count(self, acked):
        with self.lock:
            self.ops += 1
            if acked:
                self.acked += 1


def load_round(d, w, st, rnd, rng, duration):
    """Runs every client thread until the daemon is killed."""
    stop = threading.Event()
    errors = []
    caf_uri = w.caf.uri

    def guard(fn, *a):
        def run():
            try:
                fn(*a)
            except Exception as e:  # noqa: BLE001 -- a client bug is a failure
                errors.append("%s: %s: %s" % (fn.__name__, type(e).__name__,
                                              e))
        return run

    def depositor(n):
        api = ta.Api(d, "agency", "caf-75")
        r = random.Random(rng.random())
        try:
            while not stop.is_set():
                ident = r.choice(PERSONS)
                did = st.dids[ident]
                seed = r.getrandbits(40)
                content = fl.content_for(seed, r.choice(SIZES))
                c, det, v = api.call("Documents/Put", ta.put_requests(
                    did, content, file_name="k%d.pdf" % seed), timeout=10)
                st.count(c == SC.OK)
                if c == SC.OK:
                    with st.lock:
                        st.led.doc_put(v.meta.document_id, did, content)
                        st.round_docs.append(v.meta.document_id)
        finally:
            api.close()

    def granter(ident):
        api = tc.Api(d, "person", ident)
        did = st.dids[ident]
        r = random.Random(rng.random())
        try:
            while not stop.is_set():
                c, det, v = api.call("Consents/Grant",
                                     ta.PB.consents.GrantConsentRequest(
                                         consent=tc.consent_msg(
                                             did, agency=caf_uri, facts=())),
                                     timeout=10)
                st.count(c == SC.OK)
                if c != SC.OK:
                    continue
                cid = v.consent.consent_id
                with st.lock:
                    st.led.grants.append((did, cid))
                    st.grants.append((cid, did))
                time.sleep(r.uniform(0, 0.15))
                c, det, v = api.call("Consents/Revoke",
                                     ta.PB.consents.RevokeConsentRequest(
                                         dossier_id=did, consent_id=cid),
                                     timeout=10)
                t_ok = time.monotonic()
                st.count(c == SC.OK)
                if c == SC.OK:
                    with st.lock:
                        st.led.revoked[cid] = (did, None, t_ok)
                        st.round_revoked.append(cid)
        finally:
            api.close()

    def fetcher(n):
        api = ta.Api(d, "agency", "caf-75")
        r = random.Random(rng.random())
        try:
            while not stop.is_set():
                with st.lock:
                    g = st.grants[-8:]
                    docs = [k for k, v in st.led.docs.items()
                            if v[0] in st.readers and
                            st.readers[v[0]] in PERSONS]
                if not g or not docs:
                    time.sleep(0.01)
                    continue
                cid, did = r.choice(g)
                mine = [k for k in docs if st.led.docs[k][0] == did]
                if not mine:
                    time.sleep(0.005)
                    continue
                doc = r.choice(mine[-20:])
                t0 = time.monotonic()
                c, det, metas, data = fl.read_full(api, did, doc,
                                                   consent_id=cid, timeout=10)
                t1 = time.monotonic()
                st.count(c == SC.OK)
                with st.lock:
                    if metas or data:
                        st.led.reads.append((did, doc, cid, t0, t1))
                    if c == SC.OK:
                        st.reads_ok.append((cid, t0))
                        want = st.led.docs[doc]
                        if len(data) != want[2] or \
                                fl.hashlib.sha256(data).digest() != want[1]:
                            st.violations.append(
                                "round %d: fetch of %s returned other bytes"
                                % (rnd, doc))
                    elif c == SC.PERMISSION_DENIED and "revoked" in det:
                        st.refused_revoked += 1
        finally:
            api.close()

    def eraser():
        ident = "er-%d" % rnd
        d.issue("person", ident)
        admin = ta.Api(d, "admin", "ops")
        caf = ta.Api(d, "agency", "caf-75")
        me = ta.Api(d, "person", ident)
        r = random.Random(rng.random())
        try:
            while not stop.is_set():
                c, det, v = admin.call("Persons/Enrol", ta.PB.persons.
                                       EnrolRequest(nir=ta.fresh_nir(),
                                                    given_name="Prenom",
                                                    family_name="Nom",
                                                    person_principal_id=ident),
                                       timeout=10)
                st.count(c == SC.OK)
                if c != SC.OK:
                    if c == SC.ALREADY_EXISTS:
                        break  # the last erasure did not happen
                    continue
                did = v.dossier_id
                with st.lock:
                    st.readers[did] = ident
                for _ in range(r.randint(1, 2)):
                    content = fl.content_for(r.getrandbits(40),
                                             r.choice(SIZES))
                    c, det, v = caf.call("Documents/Put", ta.put_requests(
                        did, content), timeout=10)
                    st.count(c == SC.OK)
                    if c == SC.OK:
                        with st.lock:
                            st.led.doc_put(v.meta.document_id, did, content)
                            st.round_docs.append(v.meta.document_id)
                with st.lock:
                    st.led.erase_tried.add(did)
                c, det, v = me.call("Persons/Erase", ta.PB.persons.
                                    EraseRequest(dossier_id=did, confirm=True),
                                    timeout=10)
                st.count(c == SC.OK)
                if c == SC.OK:
                    with st.lock:
                        st.led.erased.add(did)
                else:
                    break  # the kill: the dossier stays as it is
        finally:
            admin.close()
            caf.close()
            me.close()

    threads = [threading.Thread(target=guard(depositor, i)) for i in range(2)]
    threads += [threading.Thread(target=guard(granter, p)) for p in PERSONS]
    threads += [threading.Thread(target=guard(fetcher, i)) for i in range(3)]
    threads += [threading.Thread(target=guard(eraser))]
    for t in threads:
        t.start()
    time.sleep(duration)
    problems = d.kill(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join()
    if errors:
        st.violations += ["round %d: client error %s" % (rnd, e)
                          for e in errors[:5]]
    return problems


def late_fetches(st):
    """Fetches that succeeded although they started after the revocation
    of their consent had been acknowledged."""
    return [(cid, t - st.led.revoked[cid][2]) for cid, t in st.reads_ok
            if cid in st.led.revoked and t > st.led.revoked[cid][2]]


def check_round(w, d, st, rnd, cp_before, final, rng, workdir):
    out = []
    led = st.led
    # Documents: this round's, a sample of older ones (all at the end).
    older = [k for k in led.docs if k not in set(st.round_docs)]
    pick = set(st.round_docs) | set(older if final else
                                    rng.sample(older, min(20, len(older))))
    sub = fl.Ledger()
    sub.docs = {k: led.docs[k] for k in pick}
    sub.erased, sub.erase_tried = led.erased, led.erase_tried
    readers = {did: ident for did, ident in st.readers.items()
               if any(v[0] == did for v in sub.docs.values()) or
               ident in PERSONS}
    # Listed documents (those whose deposit the kill cut included) are
    # read whole once; |known| keeps them from being read every round.
    out += fl.check_documents(w, sub, readers, known=st.known_docs)
    # Revocations: this round's and a sample (all at the end).
    rv = st.round_revoked + ([] if final else rng.sample(
        list(led.revoked), min(10, len(led.revoked))))
    if final:
        rv = list(led.revoked)
    for cid in set(rv):
        did = led.revoked[cid][0]
        doc = next((k for k, v in led.docs.items() if v[0] == did), None)
        if doc is None:
            continue
        c, det, metas, data = fl.read_full(w.caf, did, doc, consent_id=cid)
        if c == SC.OK or data or metas:
            out.append("consent %s revoked (acknowledged) reads after the "
                       "restart" % cid)
    # Grants: every one acknowledged is listed by its person.
    listed = {}
    for ident in PERSONS:
        did = st.dids[ident]
        api = tc.Api(d, "person", ident)
        try:
            v = api.must("Consents/List", ta.PB.consents.ListConsentsRequest(
                dossier_id=did, include_inactive=True))
            listed.update({x.consent_id: x for x in v.consents})
        finally:
            api.close()
    for did, cid in led.grants:
        if did in st.dids.values() and cid not in listed:
            out.append("acknowledged consent %s is not listed" % cid)
        elif cid in led.revoked and cid in listed and \
                not listed[cid].revoked:
            out.append("acknowledged revocation of %s is not listed" % cid)
    # The audit log: fetch what is new, check reads and grants, verify.
    new = w.auditor.query_all(start_index=len(st.entries))
    st.entries += new
    out += fl.check_reads_audited(st.entries, led, w.caf.uri)
    out += fl.check_grants_audited(st.entries, led)
    vs, entries, cp = fl.verify_offline(w, d, workdir, old_cp=cp_before)
    out += vs
    # The entries seen in earlier rounds are still there, unchanged (the
    # export also holds the entries of the queries made since).
    n = len(st.entries)
    if [e.SerializeToString() for e in entries[:n]] != \
            [e.SerializeToString() for e in st.entries]:
        out.append("the log's first %d entries changed across the kill" % n)
    st.entries = entries
    return out, cp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int,
                    default=int(os.environ.get("CRASH_ROUNDS", "30")))
    args = ap.parse_args()
    seed = int(os.environ.get("CRASH_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    for p in (fl.release_daemon(), fl.cli_path()):
        if not os.access(p, os.X_OK):
            print("not ok - missing %s (make all)" % p)
            print("0 passed, 1 failed")
            return 1
    pbtmp = fl.load()
    dirs = fl.Workdirs("dossier-crash-", persons=PERSONS)
    work = dirs.new("store")
    checks = harness.Checks()
    st = State()
    t_start = time.monotonic()
    print("# crash: %d rounds, seed %d (CRASH_SEED=%d replays the kill "
          "moments), daemon %s" % (args.rounds, seed, seed,
                                   fl.release_daemon()))
    cp = None
    try:
        for rnd in range(args.rounds + 1):
            final = rnd == args.rounds
            d = harness.Daemon(name="dossierd-crash-%d" % rnd,
                               exe=fl.release_daemon(), workdir=work)
            try:
                d.start()
            except harness.HarnessError as e:
                checks.fail("round %d: restart after SIGKILL" % rnd,
                            str(e).splitlines()[0])
                break
            w = ta.World(d)
            try:
                if rnd == 0:
                    for ident in PERSONS:
                        did = w.enrol(ident)
                        st.dids[ident] = did
                        st.readers[did] = ident
                else:
                    vs, cp = check_round(w, d, st, rnd - 1, cp, final, rng,
                                         work)
                    late = late_fetches(st)
                    vs += ["fetch under %s started %.3fs after its "
                           "revocation was acknowledged, and succeeded" % x
                           for x in late]
                    st.reads_ok = [x for x in st.reads_ok
                                   if x not in set(late)]
                    if vs:
                        fl.print_violations(vs)
                    st.violations += ["round %d: %s" % (rnd - 1, v)
                                      for v in vs]
                if final:
                    break
                cp = w.auditor.checkpoint()
                st.round_docs, st.round_revoked = [], []
                st.grants = []
                duration = rng.uniform(0.4, 1.6)
                problems = load_round(d, w, st, rnd, rng, duration)
                for p in problems:
                    st.violations.append("round %d: %s" % (rnd, p))
                print("# round %d: SIGKILL %.2fs into the load; so far %d "
                      "operations, %d acknowledged" % (rnd, duration, st.ops,
                                                       st.acked))
            finally:
                w.close()
                if d.running():
                    p = d.stop()
                    st.violations += ["final stop: %s" % x for x in p]
    finally:
        fl.shutil.rmtree(pbtmp, ignore_errors=True)
        dirs.close(keep=bool(st.violations) or
                   bool(os.environ.get("DOSSIER_KEEP")))
    # The late-fetch detector itself must catch a late fetch.
    ctl = State()
    ctl.led.revoked = {"cX": (None, None, 9.0)}
    ctl.reads_ok = [("cX", 10.0), ("cX", 8.0)]
    assert late_fetches(ctl) == [("cX", 1.0)], "the detector is broken"
    n_reads = len(st.led.reads)
    print("# crash: %d documents acknowledged, %d erasures acknowledged, "
          "%d consents granted, %d revoked, %d fetches served, %d refused "
          "as revoked, %d audit entries; %.1fs" % (
              len(st.led.docs), len(st.led.erased), len(st.led.grants),
              len(st.led.revoked), n_reads, st.refused_revoked,
              len(st.entries), time.monotonic() - t_start))
    print("crash: rounds %d, operations %d (acknowledged %d), violations %d"
          % (args.rounds, st.ops, st.acked, len(st.violations)))
    if st.violations:
        fl.print_violations(st.violations, 20)
        checks.fail("crash: every acknowledged write there, nothing half "
                    "visible, no fetch after a revocation, every fetch "
                    "audited, the log verifies", "%d violations" %
                    len(st.violations))
    elif not (n_reads and st.led.revoked and st.led.docs and st.led.erased):
        checks.fail("crash: the load did everything", "reads %d, revoked "
                    "%d, documents %d, erasures %d" % (
                        n_reads, len(st.led.revoked), len(st.led.docs),
                        len(st.led.erased)))
    else:
        checks.ok("crash: %d rounds of SIGKILL under load, violations 0"
                  % args.rounds)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
