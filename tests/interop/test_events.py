#!/usr/bin/python3
"""test_events.py -- dossier.v1.Events end to end: life events declared
once reach exactly the agencies whose consents cover them, against a real
dossierd and the stock python3-grpcio client.

What it checks:

  two       caf-75 (standing consent: avis-imposition + the situation) and
            the cpam kind (standing consent: rib) watch; a sequence of
            changes on two dossiers (deposits, a new version, a move
            declared as a life event, a second consent, a one-shot consent,
            changes on a dossier without consent) gives each agency
            exactly the events it should see, in order, with the papers
            expected after the move; a person and a delegate cannot watch.
  resume    a watcher reads some events and goes away; more changes; the
            daemon restarts; the watcher comes back with its last cursor
            and receives exactly the events it missed, in order, none
            twice; "0" replays from the oldest kept.
  revoke    once a revocation is acknowledged, the agency gets the
            consent-revoked event and nothing of the changes after it.
  erase     an erasure is told to the agencies holding consent.
  audit     every delivery is an audit entry of the person's dossier: the
            person's own Audit.Query says who was told of the move.
  aidant    a delegate under a "declare" mandate for every type declares
            a birth for the person; the agencies are told, with the papers
            they will expect; a mandate without "declare", or limited to
            some types, is refused saying why.
  cursor    malformed cursor: INVALID_ARGUMENT; a cursor ahead of the log:
            OUT_OF_RANGE; with --event-max 20 and 60 events, an old cursor
            is OUT_OF_RANGE and says so, while "0" starts at the oldest
            kept; a bad life event or a "move" to the same address:
            INVALID_ARGUMENT naming it.
  slow      a raw HTTP/2 client opens a watch and never reads, while
            10,000 events are produced (release daemon): its RSS is
            printed and stays bounded, and a reading watcher receives all
            10,000 in order meanwhile.

Run from the repository root, after make all asan:

    /usr/bin/python3 tests/interop/test_events.py [scenario...]
"""

import os
import queue
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_consent as tc  # noqa: E402  (the API table and helpers)

import grpc  # noqa: E402

SC = grpc.StatusCode
SCENARIOS = ("two", "twice", "resume", "revoke", "erase", "audit", "aidant",
             "cursor", "slow")
PB = None
SLOW_EVENTS = int(os.environ.get("DOSSIER_EVENTS_SLOW", "10000"))


def load():
    global PB
    import importlib
    tmp = tc.load()
    PB = tc.PB
    PB.events = importlib.import_module("dossier.v1.events_pb2")
    PB.audit = importlib.import_module("dossier.v1.audit_pb2")
    return tmp


class Watch(threading.Thread):
    """One Events.Watch call consumed in a thread: its events (heartbeats
    apart) in a list, its end status when it ends."""

    def __init__(self, d, ident, cursor="", kind="agency"):
        super().__init__(daemon=True)
        self.ch = harness.grpc_channel(d, kind, ident)
        stub = self.ch.unary_stream(
            "/dossier.v1.Events/Watch",
            request_serializer=PB.events.WatchRequest.SerializeToString,
            response_deserializer=PB.events.Event.FromString)
        self.call = stub(PB.events.WatchRequest(cursor=cursor), timeout=600)
        self.events = []
        self.last_cursor = cursor
        self.status = None
        self.cv = threading.Condition()
        self.start()

    def run(self):
        try:
            for ev in self.call:
                with self.cv:
                    self.last_cursor = ev.cursor
                    if ev.kind != "heartbeat":
                        self.events.append(ev)
                    self.cv.notify_all()
            code, det = SC.OK, ""
        except grpc.RpcError as e:
            code, det = tc.rpc_err(e)
        with self.cv:
            self.status = (code, det)
            self.cv.notify_all()

    def wait(self, n, timeout=60):
        """Waits for |n| events; returns them (fewer on timeout)."""
        end = time.monotonic() + timeout
        with self.cv:
            while len(self.events) < n and self.status is None:
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.cv.wait(left)
            return list(self.events)

    def wait_end(self, timeout=30):
        end = time.monotonic() + timeout
        with self.cv:
            while self.status is None and time.monotonic() < end:
                self.cv.wait(max(0.0, end - time.monotonic()))
            return self.status

    def settle(self, quiet=1.5, timeout=30):
        """Waits until no event came for |quiet| seconds; returns them."""
        end = time.monotonic() + timeout
        n = -1
        while time.monotonic() < end:
            with self.cv:
                if len(self.events) == n or self.status is not None:
                    return list(self.events)
                n = len(self.events)
            time.sleep(quiet)
        return list(self.events)

    def close(self):
        self.call.cancel()
        self.join(10)
        self.ch.close()


def sig(ev):
    """What a test compares: kind, object, type, version."""
    return (ev.kind, ev.object_id, ev.type, ev.version)


def consent(did, agency="", kind="", types=(), situation=False,
            one_shot=False, until=3600):
    m = tc.consent_msg(did, agency=agency, kind=kind, types=types, facts=(),
                       until=until, one_shot=one_shot)
    m.situation = situation
    return m


def grant(w, ident, c):
    return w.api("person", ident).must(
        "Consents/Grant", PB.consents.GrantConsentRequest(consent=c)).consent


def deposit(w, did, doc_type, supersedes="", content=None, by=None):
    content = content or os.urandom(64)
    reqs = tc.put_requests(did, content=content, doc_type=doc_type)
    reqs[0].meta.supersedes = supersedes
    return (by or w.caf).must("Documents/Put", reqs).meta


def address(line1, city="Lyon", postal="69003"):
    return PB.persons.Address(line1=line1, postal_code=postal, city=city,
                              country="FR")


def declare(api, did, life_event, situation):
    stub = api.ch.unary_unary(
        "/dossier.v1.Events/DeclareLifeEvent",
        request_serializer=PB.events.DeclareLifeEventRequest.SerializeToString,
        response_deserializer=PB.events.DeclareLifeEventResponse.FromString)
    try:
        return SC.OK, "", stub(PB.events.DeclareLifeEventRequest(
            dossier_id=did, life_event=life_event, situation=situation),
            timeout=30)
    except grpc.RpcError as e:
        c, det = tc.rpc_err(e)
        return c, det, None


def expect_events(name, got, want):
    g = [sig(e) for e in got]
    if g != want:
        raise AssertionError("%s: got\n    %s\nwanted\n    %s" % (
            name, "\n    ".join(map(str, g)), "\n    ".join(map(str, want))))
    cursors = [int(e.cursor) for e in got]
    if cursors != sorted(set(cursors)):
        raise AssertionError("%s: cursors not increasing: %s" % (name,
                                                                cursors))


# --- scenarios ----------------------------------------------------------------

def run_two(checks, d, w):
    p1 = w.person("ev-two-1")      # has an avis deposited by caf-75
    p2 = w.person("ev-two-2")      # no consent at all
    caf_uri = tc.uri("agency", "caf-75")
    c_caf = grant(w, "ev-two-1", consent(p1, agency=caf_uri,
                                         types=("avis-imposition",),
                                         situation=True))
    c_cpam = grant(w, "ev-two-1", consent(p1, kind="cpam", types=("rib",)))
    caf = Watch(d, "caf-75")
    cpam = Watch(d, "cpam-69")
    time.sleep(0.5)
    avis = deposit(w, p1, "avis-imposition")
    rib = deposit(w, p1, "rib", by=w.api("agency", "cpam-69"))
    deposit(w, p2, "avis-imposition")             # nobody's consent
    deposit(w, p1, "justificatif-domicile")       # not covered
    code, det, resp = declare(w.api("person", "ev-two-1"), p1,
                              "demenagement",
                              PB.persons.Situation(
                                  address=address("3 rue des Lilas")))
    if code != SC.OK:
        raise AssertionError("DeclareLifeEvent: %s %s" % (code.name, det))
    told = sorted((n.agency, tuple(n.expected_document_types))
                  for n in resp.notified)
    if told != [(caf_uri, ("justificatif-domicile", "bail"))]:
        raise AssertionError("notified %r" % told)
    if list(resp.expected_document_types) != ["justificatif-domicile"]:
        raise AssertionError("expected %r" % resp.expected_document_types)
    deposit(w, p1, "avis-imposition", supersedes=avis.document_id)
    c_cpam2 = grant(w, "ev-two-1", consent(p1, kind="cpam",
                                           types=("avis-imposition",)))
    c_one = grant(w, "ev-two-1", consent(p1, agency=caf_uri, types=("rib",),
                                         one_shot=True))
    deposit(w, p1, "rib", supersedes=rib.document_id,
            by=w.api("agency", "cpam-69"))
    want_caf = [
        ("document", avis.document_id, "avis-imposition", 1),
        ("situation", "", "situation", resp.revision),
        ("document", avis.document_id, "avis-imposition", 2),
        ("consent-granted", c_one.consent_id, "", 0),
    ]
    want_cpam = [
        ("document", rib.document_id, "rib", 1),
        ("consent-granted", c_cpam2.consent_id, "", 0),
        ("document", rib.document_id, "rib", 2),
    ]
    got_caf = caf.wait(len(want_caf))
    got_cpam = cpam.wait(len(want_cpam))
    got_caf = caf.settle()
    got_cpam = cpam.settle()
    expect_events("caf-75", got_caf, want_caf)
    expect_events("cpam-69", got_cpam, want_cpam)
    mv = got_caf[1]
    if mv.life_event != "demenagement" or \
            list(mv.expected_document_types) != ["justificatif-domicile",
                                                 "bail"] or \
            mv.situation.address.line1 != "3 rue des Lilas" or \
            mv.consent_id != c_caf.consent_id or mv.dossier_id != p1:
        raise AssertionError("the move event: %r" % mv)
    if got_cpam[0].consent_id != c_cpam.consent_id:
        raise AssertionError("cpam rib event relies on %s, not %s" % (
            got_cpam[0].consent_id, c_cpam.consent_id))
    for x in (caf, cpam):
        x.close()
    print("# caf-75 saw %d events, cpam-69 saw %d, as expected" % (
        len(got_caf), len(got_cpam)))

    for kind, ident in (("person", "ev-two-1"),
                        ("delegate", "france-services-demo"),
                        ("auditor", "cnil-demo")):
        x = Watch(d, ident, kind=kind)
        st = x.wait_end()
        x.close()
        if st is None or st[0] != SC.PERMISSION_DENIED or \
                (kind != "auditor" and "agency" not in st[1]):
            raise AssertionError("%s watching: %r" % (kind, st))


def run_twice(checks, d, w):
    # caf-75 holds two standing consents that cover the situation: the
    # move is told to it once, and DeclareLifeEvent names it once.
    p = w.person("ev-twice")
    caf_uri = tc.uri("agency", "caf-75")
    grant(w, "ev-twice", consent(p, agency=caf_uri, types=("rib",),
                                 situation=True))
    grant(w, "ev-twice", consent(p, agency=caf_uri,
                                 types=("avis-imposition",), situation=True))
    caf = Watch(d, "caf-75")
    time.sleep(0.5)
    code, det, resp = declare(w.api("person", "ev-twice"), p, "demenagement",
                              PB.persons.Situation(
                                  address=address("8 quai Perrache")))
    if code != SC.OK:
        raise AssertionError("DeclareLifeEvent: %s %s" % (code.name, det))
    told = [n.agency for n in resp.notified]
    if told != [caf_uri]:
        raise AssertionError("notified %r, want caf-75 once" % told)
    got = [e for e in caf.settle() if e.dossier_id == p]
    caf.close()
    expect_events("caf-75", got, [("situation", "", "situation",
                                   resp.revision)])


def run_resume(checks, d_shared, w_shared):
    import shutil
    import tempfile
    work = tempfile.mkdtemp(prefix="dossier-events-resume-")
    try:
        with harness.Daemon(name="dossierd-events-resume", workdir=work) as d:
            w = tc.World(d)
            p = w.person("ev-resume")
            cg = grant(w, "ev-resume",
                       consent(p, agency=tc.uri("agency", "caf-75"),
                               types=("rib", "avis-imposition")))
            caf = Watch(d, "caf-75")
            time.sleep(0.5)
            first = [deposit(w, p, "rib") for _ in range(3)]
            got = caf.wait(3)
            caf.close()
            expect_events("before", got,
                          [("document", m.document_id, "rib", 1)
                           for m in first])
            cursor = got[-1].cursor
            later = [deposit(w, p, "avis-imposition") for _ in range(4)]
            w.close()
        with harness.Daemon(name="dossierd-events-resumed", workdir=work) as d:
            back = Watch(d, "caf-75", cursor=cursor)
            back.wait(4)
            got = back.settle()
            back.close()
            expect_events("after restart", got,
                          [("document", m.document_id, "avis-imposition", 1)
                           for m in later])
            again = Watch(d, "caf-75", cursor="0")
            allev = again.settle()
            again.close()
            mine = [e for e in allev if e.dossier_id == p]
            expect_events("from 0", mine,
                          [("consent-granted", cg.consent_id, "", 0)] +
                          [("document", m.document_id, "rib", 1)
                           for m in first] +
                          [("document", m.document_id, "avis-imposition", 1)
                           for m in later])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("# resumed after a restart: %d missed events, none twice" %
          len(later))


def run_revoke(checks, d, w):
    p = w.person("ev-revoke")
    c = grant(w, "ev-revoke", consent(p, agency=tc.uri("agency", "caf-75"),
                                      types=("rib",)))
    caf = Watch(d, "caf-75")
    time.sleep(0.5)
    m1 = deposit(w, p, "rib")
    caf.wait(1)
    w.api("person", "ev-revoke").must("Consents/Revoke",
                                      PB.consents.RevokeConsentRequest(
                                          dossier_id=p,
                                          consent_id=c.consent_id))
    m2 = deposit(w, p, "rib")
    deposit(w, p, "rib", supersedes=m2.document_id)
    got = caf.settle()
    caf.close()
    expect_events("revoke", got, [("document", m1.document_id, "rib", 1),
                                  ("consent-revoked", c.consent_id, "", 0)])


def run_erase(checks, d, w):
    p = w.person("ev-erase")
    grant(w, "ev-erase", consent(p, agency=tc.uri("agency", "caf-75"),
                                 types=("rib",)))
    caf = Watch(d, "caf-75")
    time.sleep(0.5)
    w.api("person", "ev-erase").must("Persons/Erase", PB.persons.EraseRequest(
        dossier_id=p, confirm=True))
    got = caf.settle()
    caf.close()
    expect_events("erase", got, [("erasure", "", "", 0)])
    if got[0].dossier_id != p:
        raise AssertionError("erasure of %s, not %s" % (got[0].dossier_id,
                                                         p))


def run_audit(checks, d, w):
    p = w.person("ev-audit")
    caf_uri = tc.uri("agency", "caf-75")
    grant(w, "ev-audit", consent(p, agency=caf_uri, situation=True))
    grant(w, "ev-audit", consent(p, kind="cpam", types=("rib",)))
    caf = Watch(d, "caf-75")
    time.sleep(0.5)
    code, det, resp = declare(w.api("person", "ev-audit"), p, "demenagement",
                              PB.persons.Situation(
                                  address=address("12 quai Perrache")))
    if code != SC.OK:
        raise AssertionError("declare: %s %s" % (code.name, det))
    caf.wait(1)
    caf.close()
    stub = w.api("person", "ev-audit").ch.unary_stream(
        "/dossier.v1.Audit/Query",
        request_serializer=PB.audit.QueryAuditRequest.SerializeToString,
        response_deserializer=PB.audit.AuditEntry.FromString)
    entries = list(stub(PB.audit.QueryAuditRequest(dossier_id=p,
                                                   limit=10000), timeout=30))
    told = [(e.principal, e.object_id) for e in entries
            if e.action == "Events.Watch"]
    want = [(caf_uri, "situation r%d" % resp.revision)]
    if told != want:
        raise AssertionError("who was told of the move: %r, wanted %r" % (
            told, want))
    print("# the person sees who was told of the move: %s" % told)


def run_aidant(checks, d, w):
    p = w.person("ev-aidant")
    caf_uri = tc.uri("agency", "caf-75")
    person = w.api("person", "ev-aidant")
    aidant = w.api("delegate", "france-services-demo")
    grant(w, "ev-aidant", consent(p, agency=caf_uri, situation=True))
    spouse = PB.persons.HouseholdMember(given_name="A", family_name="B",
                                        relation="conjoint")
    code, det, _ = declare(person, p, "demenagement", PB.persons.Situation(
        address=address("8 rue Garibaldi"), household=[spouse]))
    if code != SC.OK:
        raise AssertionError("first situation: %s %s" % (code.name, det))
    child = PB.persons.HouseholdMember(given_name="C", family_name="B",
                                       relation="enfant",
                                       birth_date=tc.date(2026, 11, 20))
    after = PB.persons.Situation(address=address("8 rue Garibaldi"),
                                 household=[spouse, child])
    dlg = tc.uri("delegate", "france-services-demo")
    m_read = tc.grant_mandate(person, p, dlg, actions=("read",))
    code, det, _ = declare(aidant, p, "naissance", after)
    if code != SC.PERMISSION_DENIED or "declare" not in det:
        raise AssertionError("mandate without declare: %s %s" % (code, det))
    person.must("Mandates/Revoke", PB.consents.RevokeMandateRequest(
        dossier_id=p, mandate_id=m_read.mandate_id))
    m_some = tc.grant_mandate(person, p, dlg, actions=("declare",),
                              types=("rib",))
    code, det, _ = declare(aidant, p, "naissance", after)
    if code != SC.PERMISSION_DENIED or "situation" not in det:
        raise AssertionError("mandate for some types: %s %s" % (code, det))
    person.must("Mandates/Revoke", PB.consents.RevokeMandateRequest(
        dossier_id=p, mandate_id=m_some.mandate_id))
    tc.grant_mandate(person, p, dlg, actions=("declare",))
    caf = Watch(d, "caf-75")
    time.sleep(0.5)
    code, det, resp = declare(aidant, p, "naissance", after)
    if code != SC.OK:
        raise AssertionError("aidant declares: %s %s" % (code.name, det))
    got = caf.wait(1)
    got = caf.settle()
    caf.close()
    expect_events("birth", got, [("situation", "", "situation",
                                  resp.revision)])
    if got[0].life_event != "naissance" or \
            list(got[0].expected_document_types) != ["acte-naissance",
                                                     "livret-famille"] or \
            len(got[0].situation.household) != 2:
        raise AssertionError("the birth event: %r" % got[0])


def run_cursor(checks, d, w):
    x = Watch(d, "caf-75", cursor="12ab")
    st = x.wait_end()
    x.close()
    if st is None or st[0] != SC.INVALID_ARGUMENT or "cursor" not in st[1]:
        raise AssertionError("bad cursor: %r" % (st,))
    x = Watch(d, "caf-75", cursor="99999999")
    st = x.wait_end()
    x.close()
    if st is None or st[0] != SC.OUT_OF_RANGE or "ahead" not in st[1]:
        raise AssertionError("cursor ahead: %r" % (st,))
    p = w.person("ev-cursor")
    code, det, _ = declare(w.api("person", "ev-cursor"), p, "mariage",
                           PB.persons.Situation(address=address("1 rue")))
    if code != SC.INVALID_ARGUMENT or "life_event" not in det:
        raise AssertionError("unknown life event: %s %s" % (code, det))
    s = PB.persons.Situation(address=address("5 rue Neuve"))
    code, det, _ = declare(w.api("person", "ev-cursor"), p, "demenagement", s)
    if code != SC.OK:
        raise AssertionError("first move: %s %s" % (code, det))
    code, det, _ = declare(w.api("person", "ev-cursor"), p, "demenagement", s)
    if code != SC.INVALID_ARGUMENT or "same" not in det:
        raise AssertionError("move to the same address: %s %s" % (code, det))
    code, det, _ = declare(w.api("person", "ev-cursor"), p, "naissance", s)
    if code != SC.INVALID_ARGUMENT or "enfant" not in det:
        raise AssertionError("birth without a child: %s %s" % (code, det))

    # A small log: 60 events, 20 kept.
    import shutil
    import tempfile
    work = tempfile.mkdtemp(prefix="dossier-events-small-")
    args = ["--event-max", "20"]
    try:
        with harness.Daemon(name="dossierd-events-small", workdir=work,
                            extra_args=args) as small:
            sw = tc.World(small)
            q = sw.person("ev-small")
            grant(sw, "ev-small", consent(q, agency=tc.uri("agency",
                                                           "caf-75"),
                                          types=("rib",)))
            for _ in range(60):
                deposit(sw, q, "rib")
            sw.close()
        # The purge runs every 256 events, hourly, and at start-up.
        with harness.Daemon(name="dossierd-events-small2", workdir=work,
                            extra_args=args) as small:
            time.sleep(1.0)
            x = Watch(small, "caf-75", cursor="1")
            st = x.wait_end()
            x.close()
            if st is None or st[0] != SC.OUT_OF_RANGE or \
                    "older" not in st[1]:
                raise AssertionError("old cursor: %r" % (st,))
            print("# old cursor refused: %s" % st[1])
            x = Watch(small, "caf-75", cursor="0")
            got = x.settle()
            x.close()
            # 61 events (the grant, 60 deposits): the last 20 are kept.
            if len(got) != 20:
                raise AssertionError("from 0 with 20 kept: %d events" %
                                     len(got))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_slow(checks, d_unused, w_unused):
    import test_hostile as th
    rel = os.path.join(harness.TOP, "build", "bin", "dossierd")
    with harness.Daemon(name="dossierd-events-slow", exe=rel) as d:
        w = tc.World(d)
        try:
            p = w.person("ev-slow")
            grant(w, "ev-slow", consent(p, agency=tc.uri("agency", "caf-75"),
                                        situation=True))
            # The stuck watcher: a raw HTTP/2 stream that never grants
            # window and never reads.
            raw = th.H2Raw(d)
            req = PB.events.WatchRequest(cursor="").SerializeToString()
            raw.send(th.frame(th.HEADERS, th.END_HEADERS, 1,
                              th.grpc_headers("/dossier.v1.Events/Watch")))
            raw.send(th.frame(th.DATA, th.END_STREAM, 1,
                              th.grpc_message(req)))
            raw.drain(1.0)  # settings, then nothing more is read
            good = Watch(d, "caf-75")
            time.sleep(0.5)
            person = w.api("person", "ev-slow")
            stub = person.ch.unary_unary(
                "/dossier.v1.Persons/UpdateSituation",
                request_serializer=PB.persons.UpdateSituationRequest
                .SerializeToString,
                response_deserializer=PB.persons.UpdateSituationResponse
                .FromString)
            def mem():
                return (d.rss_kib(),
                        harness.proc_status_kib(d.pid, "RssAnon"))
            rss = [mem()]
            sent = 0
            marks = (SLOW_EVENTS // 2, SLOW_EVENTS)
            while sent < SLOW_EVENTS:
                futs = [stub.future(PB.persons.UpdateSituationRequest(
                    dossier_id=p, situation=PB.persons.Situation(
                        address=address("%d rue du Flux" % (sent + i)))),
                    timeout=60) for i in range(min(200, SLOW_EVENTS - sent))]
                for f in futs:
                    f.result()
                sent += len(futs)
                if sent in marks:
                    rss.append(mem())
            got = good.wait(SLOW_EVENTS, timeout=300)
            rss.append(mem())
            good.close()

            def f(m):
                return "VmRSS %s (RssAnon %s)" % (harness.fmt_mib(m[0]),
                                                   harness.fmt_mib(m[1]))
            print("# %d events made; the stuck watcher read nothing; at "
                  "start %s; at %d events %s; at %d events %s; once the "
                  "reading watcher caught up %s.  VmRSS counts the store's "
                  "mapped file pages; RssAnon is the daemon's own memory" % (
                      sent, f(rss[0]), marks[0], f(rss[1]), marks[1],
                      f(rss[2]), f(rss[3])))
            if len(got) != SLOW_EVENTS:
                raise AssertionError("the reading watcher got %d of %d" % (
                    len(got), SLOW_EVENTS))
            lines = [e.situation.address.line1 for e in got]
            if lines != ["%d rue du Flux" % i for i in range(SLOW_EVENTS)]:
                raise AssertionError("events out of order or changed")
            if raw.closed is not None:
                raise AssertionError("the stuck watcher was dropped: %s" %
                                     raw.closed)
            growth = rss[2][1] - rss[1][1]
            if growth > 4 * 1024:
                raise AssertionError("RssAnon grew by %d KiB between %d and "
                                     "%d events" % (growth, marks[0],
                                                    marks[1]))
            raw.close()
        finally:
            w.close()


def main():
    harness.require_binaries()
    want = [a for a in sys.argv[1:] if a in SCENARIOS] or list(SCENARIOS)
    load()
    checks = harness.Checks()
    import shutil
    import tempfile
    work = tempfile.mkdtemp(prefix="dossier-events-")
    d = harness.Daemon(name="dossierd-events", workdir=work)
    d.start()
    w = tc.World(d)
    try:
        names = {
            "two": "two agencies, different consents: exactly their events, "
                   "in order",
            "twice": "an agency holding two consents on the situation is "
                     "told of a move once, and named once",
            "resume": "disconnect, changes, restart, reconnect with the "
                      "cursor: nothing lost, nothing twice",
            "revoke": "a revoked consent stops the events at once",
            "erase": "an erasure is told to the agencies holding consent",
            "audit": "each delivery is an audit entry the person sees",
            "aidant": "an aidant under a declare mandate declares a birth",
            "cursor": "bad, ahead and too-old cursors; bad life events",
            "slow": "a watcher that never reads: bounded memory, others "
                    "served",
        }
        for s in SCENARIOS:
            if s in want:
                fn = globals()["run_" + s]
                checks.run("%s: %s" % (s, names[s]), fn, checks, d, w)
    finally:
        w.close()
        problems = d.stop()
        if problems:
            checks.add_problems("daemon", problems)
        shutil.rmtree(work, ignore_errors=True)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
