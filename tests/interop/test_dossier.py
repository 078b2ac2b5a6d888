#!/usr/bin/python3
"""test_dossier.py -- the dossier services (Persons, Documents) end to end,
against a real dossierd and the stock python3-grpcio client.

What it checks (each scenario on its own daemon and temporary directory):

  roundtrip  0 B, 1 B, 1 MiB and 50 MiB documents put and got back, checked
             by SHA-256 and meta, on the RELEASE daemon (build/bin/dossierd,
             or DOSSIERD_RELEASE): VmRSS, RssAnon and RssFile are sampled
             every 50 ms while the 50 MiB one moves; the daemon's own memory
             (RssAnon) must stay under DOSSIER_DOC_RSS_LIMIT_MIB (default
             40).  VmRSS is printed, not bounded: it also counts the pages
             of data.mdb that LMDB's read-only map touched (a 50 MiB get
             adds ~50 MiB of shared, reclaimable page cache).  Everything
             else runs on the ASan daemon (DOSSIERD), the round trips too.
             Then 1 MiB reads after the connection idled past its buffer
             trim, and 24 by dossier-loadgen, whose 16 MiB windows leave
             dossierd alone to move an answer on.
  badinput   INVALID_ARGUMENT naming the field for bad NIRs, unknown type,
             valid_until before issued, empty or 256-byte file name,
             declared size larger or smaller than the content; over
             --max-document -> RESOURCE_EXHAUSTED.
  canary     a person whose names, address, document content, file name
             and facts hold a canary string, with a fixed NIR: after a stop,
             neither the canary nor the NIR appears in the data directory,
             the key store or the log, raw, base64 (3 alignments) or hex.
  erase      (same directory) data.mdb copied before Persons.Erase; after
             the erase the person's reads fail; with the old data.mdb put
             back (current key store and keys) they still fail, while
             another person's documents read fine.
  tamper     with the daemon stopped, python3-lmdb flips bytes in DOCS,
             CHUNKS, SITUATIONS and FACTS records, swaps two documents'
             DOCS records and two persons' CHUNKS records, truncates and
             deletes chunk records; after a restart every read is
             DATA_LOSS/NOT_FOUND or the exact original bytes (a stream may
             deliver a true prefix before failing), never other bytes, and
             the daemon keeps answering.  Then raw byte flips in the upper
             half of data.mdb (chunk ciphertext found by search, and seeded
             random offsets): INTERNAL is accepted too, never wrong bytes,
             never a crash.
  kill       several threads put documents of 1 KiB..2 MiB; SIGKILL at a
             random moment after some acknowledgements; after a restart
             every acknowledged document reads back byte-identical and
             every listed document reads whole.  3 rounds, then no orphan
             chunk or upload record remains in the store.
  rotation   300 persons enrolled, a few documents; keygen-master, SIGHUP,
             SIGKILL within 50 ms; restart resumes the rotation; every
             document reads; all DEKs are under master 2; with
             master-1.key removed everything still reads.  Then SIGHUP
             while 300 enrolments are in flight: once "rotation complete"
             is logged every DEK must be under master 2, and dossiers must
             still work once master-1.key is gone.
  full       the smallest --map-size that starts: puts end in
             RESOURCE_EXHAUSTED, earlier documents still read, Erase frees
             space and a new put succeeds.

Run from the repository root, after make all asan:

    /usr/bin/python3 tests/interop/test_dossier.py [scenario...]

Environment: as harness.py (DOSSIERD, DOSSIER_ADMIN, DOSSIER_KEEP...), plus
DOSSIERD_RELEASE (default build/bin/dossierd), DOSSIER_DOC_RSS_LIMIT_MIB and
DOSSIER_SEED (the kill scenario's random moments and sizes; printed).
Needs python3-lmdb for the tamper, kill and rotation scenarios.
"""

import base64
import hashlib
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import MiB  # noqa: E402

import grpc  # noqa: E402

KiB = 1024
CHUNK = 64 * KiB            # VAULT_CHUNK: plaintext bytes per stored chunk
ID_LEN = 16                 # VAULT_ID_LEN
SC = grpc.StatusCode
B32 = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford, as daemon/vault.c

# Every scenario's name, in run order.
SCENARIOS = ("roundtrip", "badinput", "canary", "tamper", "kill",
             "rotation", "full")

# The canary: a string that no ciphertext will hold by chance.
CANARY = "QzKanari7319Xv"


def release_path():
    p = os.environ.get("DOSSIERD_RELEASE") or "build/bin/dossierd"
    return p if os.path.isabs(p) else os.path.join(harness.TOP, p)


def nir_with_key(first13):
    assert len(first13) == 13 and first13.isdigit()
    return first13 + "%02d" % (97 - int(first13) % 97)


# A fixed, valid NIR for the canary person (man, born May 1985, dept 78).
CANARY_NIR = nir_with_key("1850578006084")


def nir_for(i):
    """A distinct valid NIR per integer i (< 10^6)."""
    sex = 1 + i % 2
    month = 1 + i % 12
    commune, order = divmod(i, 1000)
    return nir_with_key("%d%02d%02d69%03d%03d" % (sex, 60 + i % 40, month,
                                                  commune % 1000, order))


def id_bytes(printable):
    """The 16 bytes of a printable id (d.../p.../f...), as vault__id_parse."""
    v = 0
    for ch in printable[1:]:
        v = v * 32 + B32.index(ch)
    return v.to_bytes(16, "big")


def id_str(kind, b):
    v = int.from_bytes(b, "big")
    out = []
    for _ in range(26):
        out.append(B32[v & 31])
        v >>= 5
    return kind + "".join(reversed(out))


def det_bytes(seed, n):
    return random.Random(seed).randbytes(n)


def sha(b):
    return hashlib.sha256(b).digest()


def rpc_err(e):
    """(code, details) of a grpc.RpcError."""
    try:
        return e.code(), e.details()
    except Exception:  # noqa: BLE001
        return SC.UNKNOWN, str(e)


def describe(code, details):
    return "%s %r" % (code.name if code else None, details)


# --- the API on one channel --------------------------------------------------

class Api:
    """Generic stubs of Persons, Documents, Diag and Health on a channel
    with one principal's certificate."""

    def __init__(self, d, pb, kind, ident):
        self.d, self.pb, self.kind, self.ident = d, pb, kind, ident
        self.ch = harness.grpc_channel(d, kind, ident)
        P, D = pb.persons, pb.documents

        def uu(path, req, resp):
            return self.ch.unary_unary(path, req.SerializeToString,
                                       resp.FromString)

        def us(path, req, resp):
            return self.ch.unary_stream(path, req.SerializeToString,
                                        resp.FromString)

        self.enrol_stub = uu("/dossier.v1.Persons/Enrol", P.EnrolRequest,
                             P.EnrolResponse)
        self.find_stub = uu("/dossier.v1.Persons/FindByNir",
                            P.FindByNirRequest, P.FindByNirResponse)
        self.sit_get = uu("/dossier.v1.Persons/GetSituation",
                          P.GetSituationRequest, P.GetSituationResponse)
        self.sit_put = uu("/dossier.v1.Persons/UpdateSituation",
                          P.UpdateSituationRequest,
                          P.UpdateSituationResponse)
        self.export_stub = us("/dossier.v1.Persons/Export",
                              P.ExportRequest, P.ExportChunk)
        self.erase_stub = uu("/dossier.v1.Persons/Erase", P.EraseRequest,
                             P.EraseResponse)
        self.put_stub = self.ch.stream_unary(
            "/dossier.v1.Documents/Put",
            D.PutDocumentRequest.SerializeToString,
            D.PutDocumentResponse.FromString)
        self.get_stub = us("/dossier.v1.Documents/Get", D.GetDocumentRequest,
                           D.GetDocumentResponse)
        self.list_stub = uu("/dossier.v1.Documents/List",
                            D.ListDocumentsRequest, D.ListDocumentsResponse)
        self.check_stub = uu("/dossier.v1.Documents/CheckIntegrity",
                             D.CheckIntegrityRequest,
                             D.CheckIntegrityResponse)
        self.fact_put = uu("/dossier.v1.Documents/PutFact", D.PutFactRequest,
                           D.PutFactResponse)
        self.facts_get = uu("/dossier.v1.Documents/GetFacts",
                            D.GetFactsRequest, D.GetFactsResponse)
        self.echo_stub = harness.echo_stub(self.ch, pb)
        H = pb.health
        self.health_stub = uu("/grpc.health.v1.Health/Check",
                              H.HealthCheckRequest, H.HealthCheckResponse)

    def close(self):
        self.ch.close()

    def basis(self):
        """The Basis of a read: an agency must state its purpose."""
        return self.pb.common.Basis(purpose_code="TEST-INTEROP",
                                    case_reference="test_dossier.py")

    # -- persons --

    def find(self, nir, timeout=10):
        return self.find_stub(self.pb.persons.FindByNirRequest(
            nir=nir, basis=self.basis()), timeout=timeout).dossier_id

    def enrol(self, nir, given="Jeanne", family="Martin", principal="",
              situation=None, birth=(1985, 5, 17), timeout=30):
        P, C = self.pb.persons, self.pb.common
        req = P.EnrolRequest(nir=nir, given_name=given, family_name=family,
                             person_principal_id=principal)
        if birth:
            req.birth_date.CopyFrom(C.Date(year=birth[0], month=birth[1],
                                           day=birth[2]))
        if situation is not None:
            req.situation.CopyFrom(situation)
        return self.enrol_stub(req, timeout=timeout).dossier_id

    def enrol_future(self, nir, principal="", given="P", family="Q"):
        P = self.pb.persons
        return self.enrol_stub.future(P.EnrolRequest(
            nir=nir, given_name=given, family_name=family,
            person_principal_id=principal), timeout=60)

    def situation(self, line1, line2="", city="Paris", household=()):
        P, C = self.pb.persons, self.pb.common
        s = P.Situation(address=P.Address(line1=line1, line2=line2,
                                          postal_code="75011", city=city,
                                          country="FR"),
                        effective=C.Date(year=2024, month=3, day=1))
        for g, f in household:
            s.household.append(P.HouseholdMember(
                given_name=g, family_name=f, relation="enfant",
                birth_date=C.Date(year=2015, month=6, day=2)))
        return s

    def update_situation(self, dossier_id, situation, timeout=30):
        return self.sit_put(self.pb.persons.UpdateSituationRequest(
            dossier_id=dossier_id, situation=situation),
            timeout=timeout).revision

    def get_situation(self, dossier_id="", history=False, timeout=30):
        return self.sit_get(self.pb.persons.GetSituationRequest(
            dossier_id=dossier_id, with_history=history,
            basis=self.basis()), timeout=timeout)

    def erase(self, dossier_id="", confirm=True, timeout=30):
        return self.erase_stub(self.pb.persons.EraseRequest(
            dossier_id=dossier_id, confirm=confirm), timeout=timeout)

    def export(self, dossier_id="", timeout=60):
        """(code, details, archive bytes so far)."""
        out = []
        try:
            for m in self.export_stub(self.pb.persons.ExportRequest(
                    dossier_id=dossier_id), timeout=timeout):
                out.append(m.data)
        except grpc.RpcError as e:
            c, det = rpc_err(e)
            return c, det, b"".join(out)
        return SC.OK, "", b"".join(out)

    # -- documents --

    def meta(self, dossier_id="", size=0, content_sha=None,
             doc_type="avis-imposition", file_name="piece.pdf",
             media_type="application/pdf", issued=(2024, 4, 2),
             valid_until=None, supersedes=""):
        D, C = self.pb.documents, self.pb.common
        m = D.DocumentMeta(dossier_id=dossier_id, type=doc_type,
                           media_type=media_type, file_name=file_name,
                           size=size, supersedes=supersedes)
        if issued:
            m.issued.CopyFrom(C.Date(year=issued[0], month=issued[1],
                                     day=issued[2]))
        if valid_until:
            m.valid_until.CopyFrom(C.Date(year=valid_until[0],
                                          month=valid_until[1],
                                          day=valid_until[2]))
        if content_sha is not None:
            m.sha256 = content_sha
        return m

    def put_requests(self, meta, content, piece=MiB):
        D = self.pb.documents
        yield D.PutDocumentRequest(meta=meta)
        for off in range(0, len(content), piece):
            yield D.PutDocumentRequest(chunk=content[off:off + piece])

    def put(self, content, dossier_id="", timeout=120, piece=MiB,
            with_sha=True, size=None, **kw):
        """Puts |content|; returns the stored DocumentMeta (raises
        grpc.RpcError)."""
        m = self.meta(dossier_id=dossier_id,
                      size=len(content) if size is None else size,
                      content_sha=sha(content) if with_sha else None, **kw)
        return self.put_stub(self.put_requests(m, content, piece),
                             timeout=timeout).meta

    def try_put(self, content, **kw):
        """(code, details, meta or None)."""
        try:
            return SC.OK, "", self.put(content, **kw)
        except grpc.RpcError as e:
            c, det = rpc_err(e)
            return c, det, None

    def get(self, document_id, dossier_id="", timeout=120, on_chunk=None):
        """(code, details, meta or None, content bytes received)."""
        meta, parts = None, []
        req = self.pb.documents.GetDocumentRequest(dossier_id=dossier_id,
                                                   document_id=document_id,
                                                   basis=self.basis())
        try:
            for m in self.get_stub(req, timeout=timeout):
                which = m.WhichOneof("part")
                if which == "meta":
                    if meta is not None:
                        raise AssertionError("Get sent meta twice")
                    meta = m.meta
                else:
                    if meta is None:
                        raise AssertionError("Get sent content before meta")
                    parts.append(m.chunk)
                    if on_chunk:
                        on_chunk(m.chunk)
        except grpc.RpcError as e:
            c, det = rpc_err(e)
            return c, det, meta, b"".join(parts)
        return SC.OK, "", meta, b"".join(parts)

    def list(self, dossier_id="", all_versions=False, doc_type="",
             timeout=30):
        return list(self.list_stub(self.pb.documents.ListDocumentsRequest(
            dossier_id=dossier_id, all_versions=all_versions,
            type=doc_type, basis=self.basis()), timeout=timeout).documents)

    def check(self, document_id, dossier_id="", timeout=60):
        return self.check_stub(self.pb.documents.CheckIntegrityRequest(
            dossier_id=dossier_id, document_id=document_id), timeout=timeout)

    def put_fact(self, dossier_id, ftype, value, timeout=30):
        D, C = self.pb.documents, self.pb.common
        f = D.AgencyFact(dossier_id=dossier_id, type=ftype, value=value,
                         effective=C.Date(year=2024, month=1, day=1))
        return self.fact_put(D.PutFactRequest(fact=f),
                             timeout=timeout).fact_id

    def get_facts(self, dossier_id="", timeout=30):
        return list(self.facts_get(self.pb.documents.GetFactsRequest(
            dossier_id=dossier_id, basis=self.basis()),
            timeout=timeout).facts)

    # -- liveness --

    def alive(self):
        """Echo (when --diag) and health Check both answer."""
        harness.echo_once(self.ch, self.pb, b"still there?", timeout=10)
        r = self.health_stub(self.pb.health.HealthCheckRequest(service=""),
                             timeout=10)
        assert r.status == 1, "health status %s" % r.status


def ran(checks, name, fn, *a):
    """checks.run for a step whose value does not matter: True if it
    passed."""
    return checks.run(name, lambda: (fn(*a), True)[1]) is not None


def call_code(fn, *a, **kw):
    """(code, details, value) of a unary call."""
    try:
        return SC.OK, "", fn(*a, **kw)
    except grpc.RpcError as e:
        c, det = rpc_err(e)
        return c, det, None


class Session:
    """A daemon and its Api objects by principal."""

    def __init__(self, d, pb):
        self.d, self.pb = d, pb
        self.apis = {}

    def api(self, kind, ident):
        k = (kind, ident)
        if k not in self.apis:
            self.apis[k] = Api(self.d, self.pb, kind, ident)
        return self.apis[k]

    @property
    def admin(self):
        return self.api("admin", "ops")

    @property
    def caf(self):
        return self.api("agency", "caf-75")

    def person(self, ident):
        return self.api("person", ident)

    def close(self):
        for a in self.apis.values():
            a.close()
        self.apis = {}


def start(name, pb, **kw):
    d = harness.Daemon(name=name, **kw)
    d.start()
    return Session(d, pb)


def log_lines(text, words, limit=12):
    """The log lines holding one of |words|, for evidence."""
    out = [ln for ln in text.splitlines() if any(w in ln for w in words)]
    return out[-limit:]


def print_log(text, words, limit=12):
    for ln in log_lines(text, words, limit):
        print("#   log: %s" % ln[:300])


# --- RSS sampling ------------------------------------------------------------

class RssSampler:
    """Samples VmRSS, RssAnon and RssFile of |pid| every |period| s in a
    thread; keeps the peak of each.  RssFile counts the pages of data.mdb
    that LMDB's read-only memory map has touched (page cache, shared and
    reclaimable), RssAnon the daemon's own memory."""

    FIELDS = ("VmRSS", "RssAnon", "RssFile")

    def __init__(self, pid, period=0.05):
        self.pid, self.period = pid, period
        self.peaks = dict.fromkeys(self.FIELDS, 0)
        self.samples = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    @property
    def peak(self):
        return self.peaks["VmRSS"]

    def _run(self):
        while not self._stop.is_set():
            got = False
            for f in self.FIELDS:
                v = harness.proc_status_kib(self.pid, f)
                if v is not None:
                    self.peaks[f] = max(self.peaks[f], v)
                    got = True
            self.samples += got
            self._stop.wait(self.period)

    def describe(self):
        return "VmRSS %s (RssAnon %s, RssFile %s), %d samples" % (
            harness.fmt_mib(self.peaks["VmRSS"]),
            harness.fmt_mib(self.peaks["RssAnon"]),
            harness.fmt_mib(self.peaks["RssFile"]), self.samples)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *a):
        self._stop.set()
        self._t.join()
        return False


# --- 1. round trips ----------------------------------------------------------

ROUND_TRIP_SIZES = (0, 1, MiB, 50 * MiB)


def round_trips(checks, s, label, rss_limit_kib=None):
    """Puts each size as agency caf-75 on the demo dossier and gets it
    back as the person (who reads everything in their own dossier, while
    an agency needs consent to read, even what it deposited)."""
    admin, caf, me = s.admin, s.caf, s.person("demo")
    dossier = {}

    def enrol():
        dossier["id"] = admin.enrol(nir_for(1), principal="demo")
    if not ran(checks, "%s: enrol the demo person (admin)" % label, enrol):
        return
    did = dossier["id"]
    for size in ROUND_TRIP_SIZES:
        content = det_bytes(size + 7, size)
        name = "%s: round trip of %s, SHA-256 checked" % (
            label, "%d B" % size if size < MiB else "%d MiB" % (size // MiB))
        if size >= 50 * MiB and rss_limit_kib is not None:
            name += "; daemon RssAnon < %s while it moves" % (
                harness.fmt_mib(rss_limit_kib))

        def rt(size=size, content=content):
            want = sha(content)
            big = size >= 50 * MiB
            sampler_put = RssSampler(s.d.pid) if big else None
            base = s.d.rss_kib()
            base_anon = harness.proc_status_kib(s.d.pid, "RssAnon")
            t0 = time.monotonic()
            if big:
                with sampler_put:
                    m = caf.put(content, dossier_id=did,
                                file_name="scan-%d.pdf" % size)
            else:
                m = caf.put(content, dossier_id=did,
                            file_name="scan-%d.pdf" % size)
            t_put = time.monotonic() - t0
            assert m.size == size, "meta.size %d, want %d" % (m.size, size)
            assert m.sha256 == want, "meta.sha256 %s, want %s" % (
                m.sha256.hex(), want.hex())
            assert m.document_id.startswith("p"), m.document_id
            assert m.dossier_id == did, m.dossier_id
            h = hashlib.sha256()
            got = [0]

            def feed(b):
                h.update(b)
                got[0] += len(b)
            reader = me
            sampler_get = RssSampler(s.d.pid) if big else None
            t0 = time.monotonic()
            if big:
                with sampler_get:
                    code, det, gm, _ = reader.get(m.document_id,
                                                  on_chunk=feed)
            else:
                code, det, gm, data = reader.get(m.document_id,
                                                 dossier_id=did)
                feed(data)
            t_get = time.monotonic() - t0
            assert code == SC.OK, "Get: %s" % describe(code, det)
            assert gm is not None and gm.size == size and \
                gm.sha256 == want, "Get meta %s" % gm
            assert got[0] == size, "got %d bytes, want %d" % (got[0], size)
            assert h.digest() == want, "SHA-256 of what came back differs"
            if big:
                print("# %s: 50 MiB put %.2fs (%.0f MiB/s), get %.2fs "
                      "(%.0f MiB/s)" % (label, t_put, 50 / t_put, t_get,
                                        50 / t_get))
                print("# %s: before: VmRSS %s (RssAnon %s); peak during the "
                      "put: %s; during the get: %s" % (
                          label, harness.fmt_mib(base),
                          harness.fmt_mib(base_anon),
                          sampler_put.describe(), sampler_get.describe()))
                if rss_limit_kib is not None:
                    # The bound is on the daemon's own memory.  VmRSS also
                    # counts the data.mdb pages mapped by LMDB, which grow
                    # by the document's size during a get (page cache,
                    # shared, reclaimable): printed, not bounded.
                    peak = max(sampler_put.peaks["RssAnon"],
                               sampler_get.peaks["RssAnon"])
                    assert peak < rss_limit_kib, \
                        "peak RssAnon %s while moving 50 MiB, limit %s" % (
                            harness.fmt_mib(peak),
                            harness.fmt_mib(rss_limit_kib))
            else:
                print("# %s: %d B put %.3fs, get %.3fs" % (label, size,
                                                         t_put, t_get))
        checks.run(name, rt)

    def listed():
        docs = me.list()
        sizes = sorted(m.size for m in docs)
        assert sizes == sorted(ROUND_TRIP_SIZES), "List sizes %s" % sizes
        for m in docs:
            want = sha(det_bytes(m.size + 7, m.size))
            assert m.sha256 == want, "List sha256 of %d B" % m.size
    checks.run("%s: List by the person shows the 4 documents with size "
               "and sha256" % label, listed)

    def after_idle():
        # Idle for CONN_TRIM_MS (1 s), a connection gives its TLS and
        # HTTP/2 buffers back (conn.c): what it reads afterwards, on the
        # same connection, must be whole, each time.
        docs = {m.size: m for m in me.list()}
        for size in (MiB, 1, MiB):
            time.sleep(1.3)
            code, det, gm, data = me.get(docs[size].document_id,
                                         dossier_id=did)
            assert code == SC.OK, "Get after idle: %s" % describe(code, det)
            assert sha(data) == sha(det_bytes(size + 7, size)), \
                "%d B read after the connection idled differs" % size
    checks.run("%s: reads on a connection that idled past its buffer trim "
               "(1 s) come back whole (1 MiB, 1 B, 1 MiB)" % label,
               after_idle)

    def wide_windows():
        # The load generator opens 16 MiB HTTP/2 windows: the peer sends
        # no WINDOW_UPDATE while a 1 MiB answer streams, so nothing but
        # dossierd itself moves the answer on once the socket has taken
        # every byte at once.  A flush that left the next chunks to a
        # later loop pass stalled here (bench s2, 6a3e71a).
        m = {d.size: d for d in me.list()}[MiB]
        fd, body = tempfile.mkstemp(prefix="get-1m-", suffix=".pb")
        with os.fdopen(fd, "wb") as f:
            f.write(me.pb.documents.GetDocumentRequest(
                dossier_id=did, document_id=m.document_id,
                basis=me.basis()).SerializeToString())
        crt, key = s.d.cert("person", "demo")
        lg = harness._path_from_env("DOSSIER_BENCH_LOADGEN",
                                    "build/bin/dossier-loadgen")
        try:
            r = subprocess.run([lg, "--connect", s.d.addr, "--ca", s.d.ca,
                                "--cert", crt, "--key", key, "--grpc",
                                "/dossier.v1.Documents/Get", "--body", body,
                                "-c", "2", "-m", "4", "-n", "24"],
                               capture_output=True, text=True, timeout=60)
        finally:
            os.unlink(body)
        assert r.returncode == 0, "dossier-loadgen: exit %d\n%s%s" % (
            r.returncode, r.stdout, r.stderr)
        assert "24 ok, 0 failed" in r.stdout + r.stderr, r.stdout + r.stderr
    checks.run("%s: 24 reads of 1 MiB, 2 connections x 4 streams, by a "
               "client with 16 MiB windows (dossier-loadgen): every answer "
               "whole" % label, wide_windows)


# --- 7. bad input ------------------------------------------------------------

def bad_input(checks, s):
    """On a daemon where round_trips() enrolled the demo person."""
    admin, caf = s.admin, s.caf
    code, det, did = call_code(caf.find, nir_for(1))
    if code != SC.OK:
        checks.fail("bad input: find the demo dossier by NIR (caf)",
                    describe(code, det))
        return

    def expect_invalid(what, fn, field, want=SC.INVALID_ARGUMENT):
        def run():
            c, det, _ = fn()
            assert c == want, "%s: got %s, want %s" % (
                what, describe(c, det), want.name)
            assert field in (det or ""), \
                "%s: message %r does not name %r" % (what, det, field)
            print("#   %s -> %s %r" % (what, c.name, det))
        checks.run("bad input: %s -> %s naming %s" % (
            what, want.name, field), run)

    good = nir_for(4242)
    wrong_key = good[:13] + "%02d" % ((int(good[13:]) % 97) + 1)
    for what, nir in (("NIR with a wrong key", wrong_key),
                      ("NIR of 14 characters", good[:14]),
                      ("NIR of 16 characters", good + "1"),
                      ("NIR with letters", good[:7] + "ABC" + good[10:]),
                      ("NIR month 13", good[:3] + "13" + good[5:13] + "00")):
        expect_invalid("Enrol: " + what,
                       lambda nir=nir: call_code(admin.enrol, nir),
                       "nir")
    expect_invalid("FindByNir: NIR with a wrong key",
                   lambda: call_code(caf.find, wrong_key), "nir")
    expect_invalid("FindByNir: an agency without a purpose",
                   lambda: call_code(caf.find_stub,
                                     s.pb.persons.FindByNirRequest(
                                         nir=good), timeout=10),
                   "basis.purpose_code")
    small = b"%PDF-1.4 bad input test\n"

    def put(**kw):
        content = kw.pop("content", small)
        return caf.try_put(content, dossier_id=did, **kw)
    expect_invalid("Put: unknown document type",
                   lambda: put(doc_type="carte-de-fidelite"), "type")
    expect_invalid("Put: type with capitals and spaces",
                   lambda: put(doc_type="Avis Imposition"), "type")
    expect_invalid("Put: valid_until before issued",
                   lambda: put(issued=(2024, 5, 1),
                               valid_until=(2024, 4, 30)), "valid_until")
    expect_invalid("Put: empty file name", lambda: put(file_name=""),
                   "file_name")
    expect_invalid("Put: file name of 256 bytes",
                   lambda: put(file_name="a" * 252 + ".pdf"), "file_name")
    expect_invalid("Put: file name of 256 bytes (128 x 'é')",
                   lambda: put(file_name="é" * 128), "file_name")
    expect_invalid("Put: declared size larger than the content",
                   lambda: put(size=len(small) + 1, with_sha=False), "size")
    expect_invalid("Put: declared size smaller than the content",
                   lambda: put(size=len(small) - 1, with_sha=False), "size")
    expect_invalid("Put: declared size 1 MiB, 3 MiB sent",
                   lambda: put(size=MiB, with_sha=False,
                               content=det_bytes(3, 3 * MiB)), "size")
    expect_invalid("Put: sha256 not matching the content",
                   lambda: _put_bad_sha(caf, did, small), "sha256")

    def file_name_255():
        m = caf.put(small, dossier_id=did, file_name="b" * 251 + ".pdf")
        code, det, gm, data = s.person("demo").get(m.document_id)
        assert code == SC.OK and data == small and \
            gm.file_name == "b" * 251 + ".pdf", describe(code, det)
    checks.run("bad input boundary: a 255-byte file name is accepted and "
               "read back", file_name_255)

    def nothing_stored():
        # None of the refused deposits may show.
        docs = s.person("demo").list()
        names = sorted(m.file_name for m in docs)
        assert all(n.startswith("scan-") or n.startswith("b" * 251)
                   for n in names), "refused deposits listed: %s" % [
                       n[:40] for n in names]
    checks.run("bad input: no refused deposit appears in List",
               nothing_stored)
    checks.run("bad input: daemon still answers", caf.alive)


def _put_bad_sha(api, did, content):
    m = api.meta(dossier_id=did, size=len(content),
                 content_sha=b"\x01" * 32)
    try:
        return SC.OK, "", api.put_stub(api.put_requests(m, content),
                                       timeout=30)
    except grpc.RpcError as e:
        c, det = rpc_err(e)
        return c, det, None


def over_max(checks, pb, max_doc=1000000):
    """A daemon with --max-document |max_doc| (not a multiple of a MiB):
    exactly the maximum is accepted, one byte more is RESOURCE_EXHAUSTED
    naming size, before any content is stored."""
    try:
        s = start("dossierd[max-document %d]" % max_doc, pb,
                  extra_args=["--max-document", str(max_doc)])
    except harness.HarnessError as e:
        checks.fail("over --max-document: start dossierd", e)
        return
    caf = s.caf
    got = {}
    try:
        def run():
            did = s.admin.enrol(nir_for(77), principal="demo")
            c, det, m = caf.try_put(det_bytes(5, max_doc), dossier_id=did,
                                    file_name="max.pdf")
            assert c == SC.OK, "exactly --max-document: %s" % describe(c,
                                                                       det)
            c, det, m = caf.try_put(det_bytes(6, max_doc + 1),
                                    dossier_id=did, file_name="over.pdf")
            print("#   %d + 1 bytes -> %s" % (max_doc, describe(c, det)))
            got["det"] = det
            assert c == SC.RESOURCE_EXHAUSTED, \
                "--max-document + 1: %s" % describe(c, det)
            assert "size" in det, "message %r does not name size" % det
            # Declared small, then more than the maximum streamed: refused
            # as soon as it passes the declared size.
            c, det, _ = caf.try_put(det_bytes(6, max_doc + 1),
                                    dossier_id=did, file_name="over2.pdf",
                                    size=10, with_sha=False)
            print("#   declared 10 B, %d sent -> %s" % (max_doc + 1,
                                                         describe(c, det)))
            assert c in (SC.INVALID_ARGUMENT, SC.RESOURCE_EXHAUSTED), \
                "declared 10 B, sent max+1: %s" % describe(c, det)
            names = [m.file_name for m in s.person("demo").list()]
            assert names == ["max.pdf"], "listed: %s" % names
        checks.run("over --max-document (%d B) -> RESOURCE_EXHAUSTED naming "
                   "size; exactly the maximum is accepted" % max_doc, run)

        def wording():
            # Regression: svc_put.c once printed the limit as
            # max_document >> 20 MiB ("size: over the 0 MiB limit" for
            # --max-document 1000000); it now states the bytes.
            det = got.get("det") or ""
            assert " 0 MiB" not in det and (
                str(max_doc) in det or "%.2f" % (max_doc / MiB) in det or
                "%d KiB" % (max_doc // KiB) in det or
                "%.1f MB" % (max_doc / 1e6) in det or
                "%d MB" % (max_doc // 1000000) in det), \
                "the message misstates the %d-byte limit: %r" % (max_doc,
                                                                  det)
        checks.run("over --max-document: the message states the %d-byte "
                   "limit correctly" % max_doc, wording)
    finally:
        s.close()
        checks.add_problems("max-document daemon stops cleanly",
                            s.d.stop())


# --- 2. canary and 4. erase --------------------------------------------------

def b64_variants(data):
    """Substrings that any base64 encoding of |data| at any of the three
    alignments must contain (standard and URL-safe alphabets)."""
    out = set()
    n = len(data)
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + data + b"\0\0")
        first = -(-8 * k // 6)                   # ceil(8k/6)
        last = (8 * (k + n) - 6) // 6            # floor
        frag = enc[first:last + 1]
        out.add(frag)
        out.add(frag.replace(b"+", b"-").replace(b"/", b"_"))
    return out


def needles(label, data):
    """(description, bytes) of every form searched for."""
    res = [("%s raw" % label, data),
           ("%s hex" % label, data.hex().encode()),
           ("%s HEX" % label, data.hex().upper().encode())]
    for i, v in enumerate(sorted(b64_variants(data))):
        res.append(("%s base64 #%d %s" % (label, i, v.decode()), v))
    return res


def files_under(*dirs):
    for top in dirs:
        for root, _, names in os.walk(top):
            for n in names:
                yield os.path.join(root, n)


def search_files(paths, forms):
    """[(path, description, offset)] of every form found."""
    found = []
    for p in paths:
        with open(p, "rb") as f:
            blob = f.read()
        for what, b in forms:
            i = blob.find(b)
            if i >= 0:
                found.append((p, what, i))
    return found


def canary_and_erase(checks, pb, tmp):
    work = os.path.join(tmp, "canary")
    try:
        s = start("dossierd[canary]", pb, workdir=work)
    except harness.HarnessError as e:
        checks.fail("canary: start dossierd", e)
        return
    d = s.d
    info = {}
    try:
        d.issue("person", "canari")
        d.issue("person", "temoin")
        admin, caf = s.admin, s.caf
        me = s.person("canari")
        other = s.person("temoin")
        content = (det_bytes(11, 150 * KiB) + ("<< %s >>" % CANARY).encode()
                   * 50 + det_bytes(12, 20 * KiB) + CANARY.encode())
        info["content"] = content

        def setup():
            sit = admin.situation("12 rue %s" % CANARY,
                                  "Bâtiment %s" % CANARY,
                                  city="Ville-%s" % CANARY,
                                  household=[("Enfant%s" % CANARY,
                                              "Famille%s" % CANARY)])
            did = admin.enrol(CANARY_NIR, given="Prénom%s" % CANARY,
                              family="Nom%s" % CANARY, principal="canari",
                              situation=sit)
            info["did"] = did
            rev = me.update_situation(did, me.situation(
                "99 avenue %s" % CANARY, "Escalier %s" % CANARY))
            assert rev == 2, "revision %s" % rev
            m = me.put(content, file_name="releve-%s.pdf" % CANARY,
                       doc_type="rib")
            info["doc"] = m.document_id
            m2 = caf.put(content[:5000], dossier_id=did,
                         file_name="attestation-%s.pdf" % CANARY,
                         doc_type="attestation-paiement-caf")
            info["doc_caf"] = m2.document_id
            info["fact"] = caf.put_fact(did, "quotient-familial",
                                        "QF 512 %s" % CANARY)
            assert caf.find(CANARY_NIR) == did
            # A witness person whose documents must survive the erase.
            odid = admin.enrol(nir_for(5150), principal="temoin",
                               given="Paul", family="Témoin")
            info["odid"] = odid
            om = other.put(det_bytes(21, 100 * KiB), file_name="temoin.pdf")
            info["odoc"] = om.document_id
            g = me.get_situation(history=True)
            assert CANARY in g.current.address.line1, g
        if not ran(checks, "canary: enrol with canary names, address, "
                   "household, document name and content, fact; fixed NIR "
                   "%s..." % CANARY_NIR[:3], setup):
            return
    finally:
        s.close()
        problems = d.stop()
    checks.add_problems("canary: daemon stops cleanly", problems)
    if problems:
        return
    data_dir, keystore = d.data, os.path.join(d.keys, "keystore")
    forms = (needles("canary", CANARY.encode()) +
             needles("canary(lower)", CANARY.lower().encode()) +
             needles("NIR", CANARY_NIR.encode()) +
             needles("NIR(13)", CANARY_NIR[:13].encode()))

    def search():
        paths = list(files_under(data_dir, keystore))
        assert paths, "no files in %s and %s" % (data_dir, keystore)
        found = search_files(paths, forms)
        size = sum(os.path.getsize(p) for p in paths)
        print("# searched %d files (%s) for %d forms: %s" % (
            len(paths), ", ".join(os.path.relpath(p, work) for p in paths),
            len(forms), "nothing found" if not found else "FOUND"))
        print("# data.mdb %d bytes, key store %d bytes, total %d" % (
            os.path.getsize(os.path.join(data_dir, "data.mdb")),
            sum(os.path.getsize(p) for p in files_under(keystore)), size))
        assert not found, "found: %s" % "; ".join(
            "%s in %s at %d" % (w, os.path.relpath(p, work), i)
            for p, w, i in found[:10])
    checks.run("canary: neither the canary nor the NIR in DATADIR or the "
               "key store (raw, base64 x3 alignments, hex lower/upper)",
               search)

    def log_clean():
        logs = [p for p in files_under(work) if p.endswith(".log")]
        found = search_files(logs, forms)
        assert not found, "in the daemon log: %s" % "; ".join(
            "%s at %d" % (w, i) for _, w, i in found[:5])
    checks.run("canary: neither the canary nor the NIR in the daemon log",
               log_clean)

    # --- 4. erase, then the old data.mdb put back ---
    snapshot = os.path.join(tmp, "data.mdb.pre-erase")
    shutil.copyfile(os.path.join(data_dir, "data.mdb"), snapshot)
    try:
        s = start("dossierd[erase]", pb, workdir=work)
    except harness.HarnessError as e:
        checks.fail("erase: restart dossierd", e)
        return
    d = s.d
    did = info["did"]
    try:
        me, caf, other = s.person("canari"), s.caf, s.person("temoin")

        def before():
            c, det, m, data = me.get(info["doc"])
            assert c == SC.OK and data == info["content"], \
                "before erase: %s" % describe(c, det)
        checks.run("erase: the person reads the document before the erase",
                   before)

        def erase():
            c, det, _ = call_code(me.erase, did, confirm=False)
            assert c == SC.INVALID_ARGUMENT, \
                "confirm=false: %s" % describe(c, det)
            c, det, _ = call_code(caf.erase, did)
            assert c == SC.PERMISSION_DENIED, \
                "agency erase: %s" % describe(c, det)
            me.erase(did, confirm=True)
        if not ran(checks, "erase: Persons.Erase(confirm=true) by the "
                   "person (confirm=false and an agency refused)", erase):
            return

        def after():
            res = []
            for who, api, doc in (("person", me, info["doc"]),
                                  ("person", me, info["doc_caf"]),
                                  ("caf", caf, info["doc_caf"])):
                c, det, m, data = api.get(doc, dossier_id=did)
                res.append("%s Get -> %s" % (who, describe(c, det)))
                assert not data and m is None, "%s read content" % who
                # The person's certificate is no longer linked to any
                # dossier: PERMISSION_DENIED is the policy's answer; an
                # agency without consent may get it too.
                assert c in (SC.NOT_FOUND, SC.PERMISSION_DENIED), \
                    "%s Get: %s" % (who, describe(c, det))
            c, det, _ = call_code(me.get_situation, did)
            res.append("person GetSituation -> %s" % describe(c, det))
            assert c in (SC.NOT_FOUND, SC.PERMISSION_DENIED), res[-1]
            c, det, _ = call_code(caf.list, did)
            res.append("caf List -> %s" % describe(c, det))
            assert c in (SC.NOT_FOUND, SC.PERMISSION_DENIED), res[-1]
            c, det, _ = call_code(caf.get_facts, did)
            res.append("caf GetFacts -> %s" % describe(c, det))
            assert c in (SC.NOT_FOUND, SC.PERMISSION_DENIED), res[-1]
            c, det, _ = call_code(caf.find, CANARY_NIR)
            res.append("caf FindByNir -> %s" % describe(c, det))
            assert c == SC.NOT_FOUND, res[-1]
            c, det, _ = call_code(caf.put, b"late", dossier_id=did,
                                  file_name="late.pdf")
            res.append("caf Put -> %s" % describe(c, det))
            assert c == SC.NOT_FOUND, res[-1]
            for r in res:
                print("#   after erase: %s" % r)
        checks.run("erase: afterwards every read fails (agency NOT_FOUND; "
                   "the person's own certificate NOT_FOUND or "
                   "PERMISSION_DENIED)", after)

        def witness():
            c, det, m, data = other.get(info["odoc"])
            assert c == SC.OK and data == det_bytes(21, 100 * KiB), \
                describe(c, det)
        checks.run("erase: the other person still reads their document",
                   witness)
    finally:
        s.close()
        problems = d.stop()
    checks.add_problems("erase: daemon stops cleanly", problems)
    if problems:
        return
    # The backup comes back: the pre-erase data.mdb, with today's key store.
    shutil.copyfile(snapshot, os.path.join(data_dir, "data.mdb"))
    lock = os.path.join(data_dir, "lock.mdb")
    if os.path.exists(lock):
        os.unlink(lock)
    try:
        s = start("dossierd[erase-restored]", pb, workdir=work)
    except harness.HarnessError as e:
        checks.fail("erase: start on the pre-erase data.mdb", e)
        return
    d = s.d
    try:
        me, caf, other = s.person("canari"), s.caf, s.person("temoin")

        def restored():
            res = []
            for who, api, doc in (("person", me, info["doc"]),
                                  ("person", me, info["doc_caf"]),
                                  ("caf", caf, info["doc_caf"])):
                c, det, m, data = api.get(doc, dossier_id=did)
                res.append("%s Get %s -> %s, %d bytes" % (
                    who, doc, describe(c, det), len(data)))
                assert m is None and not data, "%s read %d bytes: %s" % (
                    who, len(data), res[-1])
                assert c in (SC.NOT_FOUND, SC.DATA_LOSS) or (
                    who == "caf" and c == SC.PERMISSION_DENIED), res[-1]
            for who, fn in (("person GetSituation",
                             lambda: me.get_situation(did)),
                            ("person List", lambda: me.list(did)),
                            ("caf GetFacts", lambda: caf.get_facts(did)),
                            ("person Export", None)):
                if fn is None:
                    c, det, arch = me.export(did)
                    assert len(arch) == 0 or c != SC.OK, "export produced"
                    res.append("%s -> %s, %d bytes" % (who, describe(c, det),
                                                       len(arch)))
                    assert CANARY.encode() not in arch, "canary in export"
                    assert c in (SC.NOT_FOUND, SC.DATA_LOSS), res[-1]
                    continue
                c, det, v = call_code(fn)
                res.append("%s -> %s" % (who, describe(c, det)))
                assert c in (SC.NOT_FOUND, SC.DATA_LOSS) or (
                    who.startswith("caf") and c == SC.PERMISSION_DENIED), \
                    res[-1]
            for r in res:
                print("#   pre-erase data.mdb: %s" % r)
        checks.run("erase: with the pre-erase data.mdb restored, the erased "
                   "person's documents, situation, facts and export still "
                   "fail (NOT_FOUND/DATA_LOSS)", restored)

        def witness():
            c, det, m, data = other.get(info["odoc"])
            assert c == SC.OK and data == det_bytes(21, 100 * KiB), \
                describe(c, det)
            other.alive()
        checks.run("erase: with the pre-erase data.mdb, the other person "
                   "still reads their document", witness)
    finally:
        s.close()
        problems = d.stop()
    checks.add_problems("erase: daemon on the restored data.mdb stops "
                        "cleanly", problems)


# --- python3-lmdb ------------------------------------------------------------

def import_lmdb(checks):
    try:
        import lmdb  # noqa: F401
        return lmdb
    except ImportError:
        checks.fail("import lmdb", "python3-lmdb is missing (apt-get install "
                    "python3-lmdb)")
        return None


def records_pb2(tmp):
    """dossier.internal records, generated by protoc into |tmp|."""
    out = os.path.join(tmp, "internal_pb2")
    os.makedirs(out, exist_ok=True)
    p = subprocess.run(["protoc", "--python_out=" + out, "-I",
                        os.path.join(harness.TOP, "proto"),
                        "internal/records.proto"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if p.returncode != 0:
        raise harness.HarnessError("protoc records.proto: %s" % p.stderr)
    import importlib.util
    path = os.path.join(out, "internal", "records_pb2.py")
    spec = importlib.util.spec_from_file_location("dossier_test_records_pb2",
                                                  path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["dossier_test_records_pb2"] = mod
    spec.loader.exec_module(mod)
    return mod


def open_env(lmdb, path, readonly=False):
    return lmdb.open(path, max_dbs=32, subdir=True, readonly=readonly,
                     lock=True, map_size=1 << 30)


# --- 3. tampering ------------------------------------------------------------

def flip(b, off, mask=0x01):
    b = bytearray(b)
    b[off] ^= mask
    return bytes(b)


def pb_field_offset(buf, field):
    """Offset of the (first byte of the) value of varint field |field| in
    the protobuf message |buf|, or None."""
    def varint(i):
        v = shift = 0
        while True:
            b = buf[i]
            i += 1
            v |= (b & 0x7f) << shift
            shift += 7
            if not b & 0x80:
                return v, i
    i = 0
    while i < len(buf):
        tag, i = varint(i)
        num, wt = tag >> 3, tag & 7
        if wt == 0:
            if num == field:
                return i
            _, i = varint(i)
        elif wt == 2:
            n, i = varint(i)
            i += n
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        else:
            return None
    return None


def doc_read_verdict(api, doc_id, original, allow_internal=False):
    """Reads |doc_id|; returns (ok_exact, description).  Raises on a
    broken promise: content other than the original (a non-prefix, or
    OK with other bytes), or an unexpected code."""
    c, det, m, data = api.get(doc_id)
    desc = "%s -> %s, %d bytes" % (doc_id, describe(c, det), len(data))
    if c == SC.OK:
        assert data == original, "OK with other bytes: %s" % desc
        assert m.sha256 == sha(original) and m.size == len(original), \
            "OK with other meta: %s" % desc
        return True, desc
    assert original.startswith(data), \
        "bytes before the error are not the original's: %s" % desc
    okc = (SC.DATA_LOSS, SC.NOT_FOUND) + ((SC.INTERNAL,) if allow_internal
                                          else ())
    assert c in okc, "unexpected code: %s" % desc
    return False, desc


def check_export(api, originals):
    """Export must not be OK with content other than the originals'."""
    c, det, arch = api.export()
    if c != SC.OK:
        return "Export -> %s (%d bytes streamed)" % (describe(c, det),
                                                       len(arch))
    tf = tarfile.open(fileobj=io.BytesIO(arch))
    n = 0
    for ti in tf.getmembers():
        if not ti.name.startswith("documents/") or not ti.isfile():
            continue
        doc = ti.name[len("documents/"):].split("-v")[0]
        data = tf.extractfile(ti).read()
        assert doc in originals, "export holds unknown document %s" % doc
        assert data == originals[doc], \
            "export OK with other bytes for %s" % doc
        n += 1
    return "Export -> OK with %d documents, all original" % n


def tamper(checks, pb, tmp, lmdb):
    work = os.path.join(tmp, "tamper")
    try:
        rec = records_pb2(tmp)
        s = start("dossierd[tamper-setup]", pb, workdir=work)
    except harness.HarnessError as e:
        checks.fail("tamper: start dossierd", e)
        return
    d = s.d
    persons = {}   # ident -> dict(did, docs{doc_id: bytes}, ...)
    sizes1 = [3000, 70 * KiB, 150 * KiB, 5, 64 * KiB, 200 * KiB, 130 * KiB,
              100 * KiB, 40 * KiB, 2 * CHUNK + 17, 1, 90 * KiB]
    try:
        for ident in ("t1", "t2", "t3"):
            d.issue("person", ident)

        def setup():
            for k, ident in enumerate(("t1", "t2", "t3")):
                api = s.person(ident)
                did = s.admin.enrol(nir_for(900 + k), principal=ident,
                                    situation=api.situation("%d rue A" % k))
                p = persons[ident] = {"did": did, "docs": {}, "order": []}
                sizes = sizes1 if ident == "t1" else [
                    150 * KiB, 140 * KiB, 130 * KiB, 200 * KiB, 70 * KiB]
                for i, n in enumerate(sizes):
                    content = det_bytes(1000 * k + i, n)
                    m = api.put(content, file_name="%s-%d.pdf" % (ident, i))
                    p["docs"][m.document_id] = content
                    p["order"].append(m.document_id)
            t1 = persons["t1"]
            api = s.person("t1")
            t1["rev2"] = api.update_situation(t1["did"],
                                              api.situation("2 rue B"))
            t1["sit"] = api.get_situation().current.SerializeToString()
            t1["facts"] = [s.caf.put_fact(t1["did"], "quotient-familial",
                                          "QF %d" % i) for i in range(2)]
            # t3's document 4 gets a version 2: version 1's envelope then
            # carries superseded=true.
            t3 = persons["t3"]
            old = t3["order"][4]
            v2 = det_bytes(4242, 30 * KiB)
            m = s.person("t3").put(v2, file_name="t3-4-v2.pdf",
                                   supersedes=old)
            assert m.document_id == old and m.version == 2, \
                "a new version: %s v%d" % (m.document_id, m.version)
            t3["docs"][old] = v2
            t3["superseded"] = old
        if not ran(checks, "tamper: 3 persons, 22 documents (1 B..200 "
                   "KiB), a second version, 2 situation revisions, 2 facts",
                   setup):
            return
    finally:
        s.close()
        problems = d.stop()
    checks.add_problems("tamper: setup daemon stops cleanly", problems)
    if problems:
        return
    mdb = os.path.join(d.data, "data.mdb")
    pristine = os.path.join(tmp, "data.mdb.pristine")
    shutil.copyfile(mdb, pristine)
    expect_bad = set()     # document ids that must not read OK
    done = []

    def do_tamper():
        env = open_env(lmdb, d.data)
        dbs = {n: env.open_db(n.encode(), create=False)
               for n in ("docs", "chunks", "situations", "facts")}
        t1, t2, t3 = persons["t1"], persons["t2"], persons["t3"]

        def doc_key(person, doc_id, ver=1):
            return id_bytes(person["did"]) + id_bytes(doc_id) + \
                ver.to_bytes(4, "big")

        with env.begin(write=True) as txn:
            def blob_of(person, doc_id):
                v = txn.get(doc_key(person, doc_id), db=dbs["docs"])
                assert v is not None, "no DOCS record for %s" % doc_id
                r = rec.DocRecord.FromString(v)
                return r.blob_id, r.chunks

            def chunk_key(person, doc_id, n):
                blob, _ = blob_of(person, doc_id)
                return id_bytes(person["did"]) + blob + n.to_bytes(4, "big")

            def put(db, k, v):
                assert txn.put(k, v, db=dbs[db], overwrite=True)

            o1 = t1["order"]
            # (a) one byte of the DOCS record of t1's documents 0..5, at
            # spread offsets: protobuf tags, lengths, the sealed meta's
            # nonce, ciphertext and tag, the chunk count, the blob id.
            for i in range(6):
                k = doc_key(t1, o1[i])
                v = txn.get(k, db=dbs["docs"])
                off = [0, 1, 2, len(v) // 2, len(v) - 20, len(v) - 1][i]
                put("docs", k, flip(v, off))
                expect_bad.add(o1[i])
                done.append("DOCS[%s] byte %d/%d flipped" % (o1[i], off,
                                                             len(v)))
            # (b) one byte of a CHUNKS record of documents 6..8: first
            # chunk's nonce, a middle chunk's ciphertext, last chunk's tag.
            for i, (which, where) in zip((6, 7, 8), (("first", 0),
                                                    ("middle", None),
                                                    ("last", -1))):
                _, nch = blob_of(t1, o1[i])
                n = {"first": 0, "middle": nch // 2, "last": nch - 1}[which]
                k = chunk_key(t1, o1[i], n)
                v = txn.get(k, db=dbs["chunks"])
                off = len(v) // 2 if where is None else where % len(v)
                put("chunks", k, flip(v, off, 0x80))
                expect_bad.add(o1[i])
                done.append("CHUNKS[%s #%d] byte %d/%d flipped" % (
                    o1[i], n, off, len(v)))
            # (c) t1's current situation (revision 2) and one fact.
            k = id_bytes(t1["did"]) + (2).to_bytes(8, "big")
            v = txn.get(k, db=dbs["situations"])
            assert v is not None, "no SITUATIONS revision 2"
            put("situations", k, flip(v, len(v) // 2))
            done.append("SITUATIONS[t1 rev 2] byte %d/%d flipped" % (
                len(v) // 2, len(v)))
            fk = id_bytes(t1["did"]) + id_bytes(t1["facts"][0])
            v = txn.get(fk, db=dbs["facts"])
            assert v is not None, "no FACTS record for %s" % t1["facts"][0]
            put("facts", fk, flip(v, len(v) - 5))
            done.append("FACTS[%s] byte %d/%d flipped" % (
                t1["facts"][0], len(v) - 5, len(v)))
            # (d) t2: the DOCS records of documents 0 and 1 swapped.
            o2, o3 = t2["order"], t3["order"]
            ka, kb = doc_key(t2, o2[0]), doc_key(t2, o2[1])
            va, vb = txn.get(ka, db=dbs["docs"]), txn.get(kb, db=dbs["docs"])
            put("docs", ka, vb)
            put("docs", kb, va)
            expect_bad.update((o2[0], o2[1]))
            done.append("DOCS[%s] <-> DOCS[%s] swapped (same person)" % (
                o2[0], o2[1]))
            # (e) chunk 0 of t2's document 2 <-> chunk 0 of t3's document 0
            # (two persons).
            ka, kb = chunk_key(t2, o2[2], 0), chunk_key(t3, o3[0], 0)
            va = txn.get(ka, db=dbs["chunks"])
            vb = txn.get(kb, db=dbs["chunks"])
            put("chunks", ka, vb)
            put("chunks", kb, va)
            expect_bad.update((o2[2], o3[0]))
            done.append("CHUNKS[%s #0] <-> CHUNKS[%s #0] swapped (two "
                        "persons)" % (o2[2], o3[0]))
            # (f) t2's document 3: chunk 1 <-> chunk 2 (same document).
            ka, kb = chunk_key(t2, o2[3], 1), chunk_key(t2, o2[3], 2)
            va = txn.get(ka, db=dbs["chunks"])
            vb = txn.get(kb, db=dbs["chunks"])
            put("chunks", ka, vb)
            put("chunks", kb, va)
            expect_bad.add(o2[3])
            done.append("CHUNKS[%s #1] <-> [#2] swapped" % o2[3])
            # (g) t3's document 1: chunk 1 truncated to half; document 2:
            # last chunk truncated by its last byte; document 3: chunk 1
            # deleted.
            k = chunk_key(t3, o3[1], 1)
            v = txn.get(k, db=dbs["chunks"])
            put("chunks", k, v[:len(v) // 2])
            k = chunk_key(t3, o3[2], 2)
            v = txn.get(k, db=dbs["chunks"])
            put("chunks", k, v[:-1])
            k = chunk_key(t3, o3[3], 1)
            assert txn.delete(k, db=dbs["chunks"])
            expect_bad.update((o3[1], o3[2], o3[3]))
            done.append("CHUNKS[%s #1] truncated to half, CHUNKS[%s #2] "
                        "lost its last byte, CHUNKS[%s #1] deleted" % (
                            o3[1], o3[2], o3[3]))
            # (i) the situations (revision 1) of t2 and t3 swapped.
            ka = id_bytes(t2["did"]) + (1).to_bytes(8, "big")
            kb = id_bytes(t3["did"]) + (1).to_bytes(8, "big")
            va = txn.get(ka, db=dbs["situations"])
            vb = txn.get(kb, db=dbs["situations"])
            assert va is not None and vb is not None, "no revision 1"
            put("situations", ka, vb)
            put("situations", kb, va)
            done.append("SITUATIONS[t2 rev 1] <-> SITUATIONS[t3 rev 1] "
                        "swapped (two persons)")
            # (h) t3's document 4, version 1: its envelope once carried a
            # clear "superseded" flag (field 3) that a flipped byte could
            # turn back.  The daemon now derives "superseded" from the
            # existence of version 2; the envelope has no such field.
            k = doc_key(t3, t3["superseded"], 1)
            v = txn.get(k, db=dbs["docs"])
            assert pb_field_offset(v, 3) is None, \
                "DOCS envelope still has a clear superseded flag"
            done.append("DOCS[%s v1]: no clear superseded flag to flip"
                        % t3["superseded"])
        env.close()
        for x in done:
            print("#   tampered: %s" % x)
    if not ran(checks, "tamper: python3-lmdb edits DOCS, CHUNKS, "
               "SITUATIONS, FACTS records (flips, swaps, truncation, "
               "deletion)", do_tamper):
        return
    try:
        s = start("dossierd[tampered]", pb, workdir=work)
    except harness.HarnessError as e:
        checks.fail("tamper: restart on the tampered store", e)
        return
    d = s.d
    mark = d.log_mark()
    try:
        def reads():
            bad_ok, lines = [], []
            for ident, p in persons.items():
                api = s.person(ident)
                for doc_id in p["order"]:
                    exact, desc = doc_read_verdict(api, doc_id,
                                                   p["docs"][doc_id])
                    lines.append("%s %s" % (ident, desc))
                    if exact and doc_id in expect_bad:
                        bad_ok.append(desc)
                    if not exact and doc_id not in expect_bad:
                        raise AssertionError("untouched document fails: %s"
                                             % desc)
            for ln in lines:
                print("#   %s" % ln)
            # Reading the original back after a change is fine for the
            # promise, but none of our changes can leave the bytes valid.
            assert not bad_ok, "tampered documents read OK: %s" % bad_ok
        checks.run("tamper: every Get is DATA_LOSS/NOT_FOUND (any bytes "
                   "before the error a true prefix) for the %d tampered "
                   "documents, exact bytes for the others" % len(expect_bad)
                   if expect_bad else "tamper: reads", reads)

        def integrity():
            out = []
            for ident, p in persons.items():
                api = s.person(ident)
                for doc_id in p["order"]:
                    c, det, r = call_code(api.check, doc_id)
                    good = c == SC.OK and r.intact and \
                        r.sha256 == sha(p["docs"][doc_id])
                    if doc_id in expect_bad:
                        assert not good, "tampered %s intact" % doc_id
                        assert (c == SC.OK and not r.intact) or c in (
                            SC.DATA_LOSS, SC.NOT_FOUND), \
                            "%s: %s" % (doc_id, describe(c, det))
                        out.append("%s -> %s" % (doc_id, "intact=false" if
                                                 c == SC.OK else
                                                 describe(c, det)))
                    else:
                        assert good, "untouched %s: %s %s" % (
                            doc_id, describe(c, det), r)
            for ln in out:
                print("#   CheckIntegrity %s" % ln)
        checks.run("tamper: CheckIntegrity says intact=false (or "
                   "DATA_LOSS/NOT_FOUND) for each tampered document, "
                   "intact with the right SHA-256 for the others", integrity)

        def others():
            api = s.person("t1")
            res = []
            c, det, r = call_code(api.get_situation)
            res.append("t1 GetSituation -> %s" % describe(c, det))
            assert c in (SC.DATA_LOSS, SC.NOT_FOUND), res[-1]
            for ident in ("t2", "t3"):
                c, det, r = call_code(s.person(ident).get_situation)
                res.append("%s GetSituation (swapped) -> %s" % (
                    ident, describe(c, det)))
                assert c in (SC.DATA_LOSS, SC.NOT_FOUND), res[-1]
            c, det, r = call_code(api.get_facts)
            if c == SC.OK:
                vals = sorted(f.value for f in r)
                res.append("t1 GetFacts -> OK %s" % vals)
                assert set(vals) <= {"QF 0", "QF 1"} and len(vals) < 2, \
                    res[-1]
            else:
                res.append("t1 GetFacts -> %s" % describe(c, det))
                assert c in (SC.DATA_LOSS, SC.NOT_FOUND), res[-1]
            for ident, p in persons.items():
                a = s.person(ident)
                c, det, lst = call_code(a.list)
                if c == SC.OK:
                    res.append("%s List -> OK, %d documents" % (ident,
                                                               len(lst)))
                    for m in lst:
                        if m.document_id == p.get("superseded") and \
                                m.version == 1:
                            continue    # the next check's business
                        orig = p["docs"].get(m.document_id)
                        assert orig is not None and m.size == len(orig) and \
                            m.sha256 == sha(orig), "List meta differs: %s" % m
                else:
                    res.append("%s List -> %s" % (ident, describe(c, det)))
                    assert c in (SC.DATA_LOSS, SC.NOT_FOUND), res[-1]
                res.append("%s %s" % (ident, check_export(a, p["docs"])))
            for ln in res:
                print("#   %s" % ln)
        checks.run("tamper: GetSituation, GetFacts, List and Export give "
                   "DATA_LOSS/NOT_FOUND or only original data", others)

        def superseded():
            p = persons["t3"]
            doc = p["superseded"]
            c, det, lst = call_code(s.person("t3").list)
            if c != SC.OK:
                print("#   t3 List -> %s" % describe(c, det))
                assert c in (SC.DATA_LOSS, SC.NOT_FOUND), describe(c, det)
                return
            vers = sorted(m.version for m in lst if m.document_id == doc)
            print("#   t3 List (current versions) -> %d documents; %s "
                  "listed as version(s) %s" % (len(lst), doc, vers))
            # Fixed: "superseded" was a clear flag in the envelope; it is
            # now derived from the keys (a later version exists).
            assert vers == [2], \
                "List shows version(s) %s of %s as current (want only " \
                "version 2)" % (vers, doc)
        checks.run("tamper: version 1 of a superseded document never comes "
                   "back as current in List", superseded)
        checks.run("tamper: daemon still answers Echo and health",
                   s.caf.alive)
        print_log(d.log_since(mark), ("integrity", "corrupt", "warn"), 8)
    finally:
        s.close()
        problems = d.stop()
    checks.add_problems("tamper: daemon on the tampered store stops "
                        "cleanly, no sanitizer report", problems)

    # --- raw flips in data.mdb ---
    shutil.copyfile(pristine, mdb)
    lock = os.path.join(d.data, "lock.mdb")
    if os.path.exists(lock):
        os.unlink(lock)
    flips = []

    def raw_flip():
        # Chunk ciphertext of three documents, located by search.
        env = open_env(lmdb, d.data, readonly=True)
        cdb = env.open_db(b"chunks", create=False)
        ddb = env.open_db(b"docs", create=False)
        targets = [("t1", persons["t1"]["order"][9]),
                   ("t2", persons["t2"]["order"][4]),
                   ("t3", persons["t3"]["order"][0])]
        cipher = []
        with env.begin() as txn:
            for ident, doc_id in targets:
                p = persons[ident]
                k = id_bytes(p["did"]) + id_bytes(doc_id) + \
                    (1).to_bytes(4, "big")
                r = rec.DocRecord.FromString(txn.get(k, db=ddb))
                ck = id_bytes(p["did"]) + r.blob_id + (0).to_bytes(4, "big")
                cipher.append((doc_id, bytes(txn.get(ck, db=cdb))))
        env.close()
        with open(mdb, "rb") as f:
            blob = bytearray(f.read())
        size = len(blob)
        for doc_id, v in cipher:
            probe = v[100:164]
            i = blob.find(probe)
            assert i >= 0, "chunk ciphertext of %s not found in data.mdb" % \
                doc_id
            off = i + 1000
            blob[off] ^= 0x10
            flips.append((off, "chunk ciphertext of %s" % doc_id))
            expect_bad.add(doc_id)
        rng = random.Random(20240402)
        psize = 4096
        for _ in range(5):
            off = rng.randrange(size // 2, size)
            pg = off // psize
            hdr = blob[pg * psize:pg * psize + 16]
            kind = "?"
            if int.from_bytes(hdr[0:8], "little") == pg:
                fl = int.from_bytes(hdr[10:12], "little")
                kind = {1: "branch", 2: "leaf", 4: "overflow",
                        8: "meta"}.get(fl & 0xf, "flags=%#x" % fl)
            else:
                kind = "inside an overflow run"
            blob[off] ^= 0x04
            flips.append((off, "random, page %d (%s)" % (pg, kind)))
        with open(mdb, "wb") as f:
            f.write(blob)
        for off, what in flips:
            print("#   raw flip at %d of %d: %s" % (off, size, what))
    if not ran(checks, "raw: flip bytes of the pristine data.mdb (3 in "
               "chunk ciphertext found by search, 5 at seeded random "
               "offsets in the upper half)", raw_flip):
        return
    try:
        s = start("dossierd[raw-flips]", pb, workdir=work)
    except harness.HarnessError as e:
        checks.fail("raw: start on the flipped data.mdb", e)
        return
    d = s.d
    try:
        def raw_reads():
            lines, bad = [], []
            targets = {doc for _, w in flips for doc in [w.split()[-1]]}
            for ident, p in persons.items():
                api = s.person(ident)
                for doc_id in p["order"]:
                    exact, desc = doc_read_verdict(api, doc_id,
                                                   p["docs"][doc_id],
                                                   allow_internal=True)
                    lines.append("%s %s" % (ident, desc))
                    if exact and doc_id in targets:
                        bad.append(desc)
            ok = sum(1 for ln in lines if " OK" in ln)
            print("#   %d documents read exact, %d failed cleanly" % (
                ok, len(lines) - ok))
            for ln in lines:
                if " OK" not in ln:
                    print("#   %s" % ln)
            assert not bad, "flipped ciphertext read OK: %s" % bad
        checks.run("raw: every read is exact or DATA_LOSS/NOT_FOUND/"
                   "INTERNAL, the 3 flipped chunks never OK", raw_reads)
        checks.run("raw: daemon still answers Echo and health", s.caf.alive)
    finally:
        s.close()
        problems = d.stop()
    checks.add_problems("raw: daemon on the flipped data.mdb stops cleanly, "
                        "no sanitizer report", problems)


# --- 5. kill -9 during concurrent puts ---------------------------------------

def kill_rounds(checks, pb, tmp, lmdb, rounds=3, threads=4):
    work = os.path.join(tmp, "kill")
    acked = {}       # doc_id -> (sha, size, name)
    attempted = {}   # file name -> (sha, size)
    did = None
    seed = int(os.environ.get("DOSSIER_SEED") or time.time())
    print("# kill: DOSSIER_SEED=%d (the moments of the kills)" % seed)
    rng = random.Random(seed)
    for rnd in range(1, rounds + 1):
        try:
            s = start("dossierd[kill-%d]" % rnd, pb, workdir=work)
        except harness.HarnessError as e:
            checks.fail("kill round %d: start dossierd" % rnd, e)
            return
        d = s.d
        try:
            if did is None:
                did = s.admin.enrol(nir_for(31337), principal="demo")
            if rnd > 1:
                verify_after_kill(checks, s, did, acked, attempted, rnd - 1)
            lock = threading.Lock()
            stop = threading.Event()
            acks = [0]
            errors = []
            apis = [Api(d, pb, "agency", "caf-75") for _ in range(threads)]

            def worker(w, api):
                wr = random.Random(seed * 1000 + rnd * 100 + w)
                i = 0
                while not stop.is_set():
                    n = wr.randint(KiB, 2 * MiB)
                    name = "k%d-w%d-%d.bin" % (rnd, w, i)
                    content = wr.randbytes(n)
                    h = sha(content)
                    with lock:
                        attempted[name] = (h, n)
                    try:
                        m = api.put(content, dossier_id=did, file_name=name,
                                    doc_type="bulletin-salaire", timeout=30,
                                    piece=256 * KiB)
                    except grpc.RpcError as e:
                        if not stop.is_set():
                            errors.append("%s: %s" % (name,
                                                      describe(*rpc_err(e))))
                        return
                    with lock:
                        acked[m.document_id] = (h, n, name)
                        acks[0] += 1
                    i += 1
            ts = [threading.Thread(target=worker, args=(w, a), daemon=True)
                  for w, a in enumerate(apis)]
            t0 = time.monotonic()
            for t in ts:
                t.start()
            want_acks = rng.randint(4, 12)
            while acks[0] < want_acks and time.monotonic() - t0 < 60 and \
                    not errors:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.3))
            n_acks = acks[0]
            stop.set()
            problems = d.kill()
            for t in ts:
                t.join(timeout=30)
            for a in apis:
                a.close()
            print("# kill round %d: SIGKILL after %d acknowledgements "
                  "(%.2fs), %d attempts in total so far, %d acknowledged" % (
                      rnd, n_acks, time.monotonic() - t0, len(attempted),
                      len(acked)))
            if errors:
                checks.fail("kill round %d: puts before the kill" % rnd,
                            "; ".join(errors[:3]))
            checks.add_problems("kill round %d: no sanitizer report before "
                                "the SIGKILL" % rnd, problems)
        finally:
            s.close()
            if not d.stopped:
                d.stop()
    try:
        s = start("dossierd[kill-final]", pb, workdir=work)
    except harness.HarnessError as e:
        checks.fail("kill: final restart", e)
        return
    d = s.d
    try:
        verify_after_kill(checks, s, did, acked, attempted, rounds)
    finally:
        s.close()
        problems = d.stop()
    checks.add_problems("kill: last daemon stops cleanly", problems)
    if lmdb is None or problems:
        return

    def no_orphans():
        rec = records_pb2(tmp)
        env = open_env(lmdb, d.data, readonly=True)
        ddb = env.open_db(b"docs", create=False)
        cdb = env.open_db(b"chunks", create=False)
        udb = env.open_db(b"uploads", create=False)
        blobs = {}
        with env.begin() as txn:
            for k, v in txn.cursor(db=ddb):
                r = rec.DocRecord.FromString(v)
                blobs[bytes(k[:ID_LEN]) + r.blob_id] = r.chunks
            orphan, chunks = 0, 0
            for k, v in txn.cursor(db=cdb):
                chunks += 1
                if bytes(k[:2 * ID_LEN]) not in blobs:
                    orphan += 1
            uploads = sum(1 for _ in txn.cursor(db=udb))
        env.close()
        print("# after %d kills: %d documents, %d chunk records, %d orphan "
              "chunks, %d upload records" % (rounds, len(blobs), chunks,
                                             orphan, uploads))
        assert orphan == 0 and uploads == 0, \
            "%d orphan chunk records, %d upload records left" % (orphan,
                                                                 uploads)
    checks.run("kill: no orphan chunk nor upload record left in the store",
               no_orphans)


def verify_after_kill(checks, s, did, acked, attempted, rnd):
    me = s.person("demo")

    def acked_ok():
        bad = []
        for doc_id, (h, n, name) in sorted(acked.items()):
            c, det, m, data = me.get(doc_id, timeout=60)
            if c != SC.OK or sha(data) != h or len(data) != n:
                bad.append("%s (%s): %s, %d bytes" % (
                    doc_id, name, describe(c, det), len(data)))
        assert not bad, "%d of %d acknowledged documents lost or wrong: %s" \
            % (len(bad), len(acked), "; ".join(bad[:5]))
    checks.run("kill round %d: all %d acknowledged documents read back "
               "byte-identical after the restart" % (rnd, len(acked)),
               acked_ok)

    def listed_ok():
        docs = me.list()
        half = []
        extra = 0
        for m in docs:
            if m.document_id not in acked:
                extra += 1
            c, det, gm, data = me.get(m.document_id, timeout=60)
            want = attempted.get(m.file_name)
            if c != SC.OK or sha(data) != m.sha256 or \
                    len(data) != m.size or \
                    (want is not None and want != (sha(data), len(data))):
                half.append("%s (%s): %s" % (m.document_id, m.file_name,
                                             describe(c, det)))
        print("#   listed %d documents (%d acknowledged, %d committed but "
              "unacknowledged)" % (len(docs), len(docs) - extra, extra))
        missing = set(acked) - {m.document_id for m in docs}
        assert not half, "listed but unreadable: %s" % half[:5]
        assert not missing, "acknowledged but not listed: %s" % \
            sorted(missing)[:5]
    checks.run("kill round %d: List shows no half-visible document" % rnd,
               listed_ok)


# --- 6. rotation killed midway -----------------------------------------------

def key_ids(lmdb, keystore, which=None):
    """{master key id: number of DEKs it wraps} in the key store; with
    |which|, the dossier ids whose DEK that key wraps."""
    env = open_env(lmdb, keystore, readonly=True)
    db = env.open_db(b"persons", create=False)
    out, ids = {}, []
    with env.begin() as txn:
        for k, v in txn.cursor(db=db):
            kid = int.from_bytes(bytes(v[:4]), "big")
            out[kid] = out.get(kid, 0) + 1
            if kid == which:
                ids.append(id_str("d", bytes(k)))
    env.close()
    return ids if which is not None else out


def rotation_under_load(checks, pb, tmp, lmdb, base=100, during=300):
    """SIGHUP while enrolments are in flight: once the daemon logs
    "rotation complete", no DEK may still be wrapped by master 1."""
    work = os.path.join(tmp, "rotation-load")
    try:
        s = start("dossierd[rotation-under-load]", pb, workdir=work)
    except harness.HarnessError as e:
        checks.fail("rotation under load: start dossierd", e)
        return
    d = s.d
    got = {}
    try:
        def run():
            futs = [s.admin.enrol_future(nir_for(5000 + i))
                    for i in range(base)]
            for f in futs:
                f.result()
            harness.run_admin(["keygen-master", "--dir", d.keys])
            futs = [s.admin.enrol_future(nir_for(6000 + i))
                    for i in range(during)]
            time.sleep(0.02)
            d.proc.send_signal(signal.SIGHUP)
            ok = sum(1 for f in futs if f.result().dossier_id)
            t0 = time.monotonic()
            while "rotation complete" not in d.log_text() and \
                    time.monotonic() - t0 < 10:
                time.sleep(0.05)
            time.sleep(0.2)
            print("# %d enrolled before keygen-master, %d enrolled while "
                  "SIGHUP arrived" % (base, ok))
            print_log(d.log_text(), ("re-wrapped", "rotation", "keys loaded"))
            got["complete"] = "rotation complete" in d.log_text()
            assert got["complete"], "no 'rotation complete' within 10 s"
        if not ran(checks, "rotation under load: %d enrolments in flight "
                   "during SIGHUP, 'rotation complete' logged" % during, run):
            return
    finally:
        s.close()
        problems = d.stop()
    checks.add_problems("rotation under load: daemon stops cleanly",
                        problems)
    keystore = os.path.join(d.keys, "keystore")
    stale = key_ids(lmdb, keystore, which=1)

    def all_under_2():
        ids = key_ids(lmdb, keystore)
        print("# once 'rotation complete' was logged, wrapped DEKs by "
              "master key id: %s" % ids)
        # Regression (bug found by this test, fixed): an Enrol wraps its new DEK with the
        # keyring of the moment on the loop thread (vault_person_enrol),
        # and the writer thread stores it in the key store later
        # (vault_enrol_run).  Enrolments wrapped under master 1 before the
        # SIGHUP but stored after the rotation's last scan stay under
        # master 1, yet the daemon says "rotation complete ... older
        # master key files are no longer used".
        assert ids == {2: base + during}, \
            "%d DEKs still wrapped by master 1 after 'rotation complete'" % (
                ids.get(1, 0))
    checks.run("rotation under load: every DEK is under master 2 once "
               "'rotation complete' is logged", all_under_2)
    # What the operator then does: remove master-1.key, restart.
    os.unlink(os.path.join(d.keys, "master-1.key"))
    try:
        s = start("dossierd[rotation-under-load-no-master-1]", pb,
                  workdir=work)
    except harness.HarnessError as e:
        checks.fail("rotation under load: start without master-1.key", e)
        return
    d = s.d
    try:
        def puts():
            res = []
            for did in stale[:3]:
                c, det, _ = s.caf.try_put(b"after rotation", dossier_id=did,
                                          file_name="after.pdf")
                res.append("Put on %s -> %s" % (did, describe(c, det)))
            for r in res:
                print("#   %s" % r)
            print_log(d.log_text(), ("rotation stopped",), 1)
            print_log(d.log_text(), ("not loaded",), 1)
            print_log(d.log_text(), ("opening the dossier's key",), 1)
            bad = [r for r in res if "-> OK" not in r]
            assert not bad, "%d of the %d dossiers left under master 1 are " \
                "unusable without master-1.key: %s" % (len(stale), len(stale),
                                                       bad[0])
        checks.run("rotation under load: with master-1.key removed after "
                   "'rotation complete', every dossier still takes a put",
                   puts)
    finally:
        s.close()
        problems = d.stop()
    checks.add_problems("rotation under load: daemon without master-1.key "
                        "stops cleanly", problems)


# The persons (by enrolment rank) who get a certificate and a document.
HOLDERS = (0, 1, 150, 298, 299)


def rotation(checks, pb, tmp, lmdb, n_persons=300):
    work = os.path.join(tmp, "rotation")
    try:
        s = start("dossierd[rotation]", pb, workdir=work)
    except harness.HarnessError as e:
        checks.fail("rotation: start dossierd", e)
        return
    d = s.d
    docs = {}      # doc_id -> (dossier_id, content)
    dids = []
    try:
        def enrol_all():
            t0 = time.monotonic()
            admin = s.admin
            futs = []
            ids = []
            holders = dict(zip(HOLDERS, range(len(HOLDERS))))
            for k in range(len(HOLDERS)):
                d.issue("person", "rot-%d" % k)
            for i in range(n_persons):
                futs.append(admin.enrol_future(
                    nir_for(2000 + i),
                    principal="rot-%d" % holders[i] if i in holders else ""))
                if len(futs) >= 32:
                    ids.extend(f.result().dossier_id for f in futs)
                    futs = []
            ids.extend(f.result().dossier_id for f in futs)
            dids.extend(ids)
            assert len(set(ids)) == n_persons
            for k, i in enumerate(HOLDERS):
                content = det_bytes(7000 + k, 3000 + 70000 * k)
                m = s.caf.put(content, dossier_id=ids[i],
                              file_name="rot-%d.pdf" % k)
                docs[m.document_id] = ("rot-%d" % k, content)
            print("# enrolled %d persons and put %d documents in %.2fs" % (
                n_persons, len(docs), time.monotonic() - t0))
        if not ran(checks, "rotation: enrol %d persons (admin), put 5 "
                   "documents" % n_persons, enrol_all):
            return
        harness.run_admin(["keygen-master", "--dir", d.keys])
        if not os.path.exists(os.path.join(d.keys, "master-2.key")):
            checks.fail("rotation: keygen-master", "no master-2.key")
            return
        mark = d.log_mark()
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGHUP)
        # Kill as soon as the first batch is logged, at most 50 ms later.
        while time.monotonic() - t0 < 0.05:
            if "re-wrapped" in d.log_since(mark):
                break
            time.sleep(0.001)
        waited = time.monotonic() - t0
        problems = d.kill()
        midway = d.log_since(mark)
        print("# SIGKILL %.1f ms after SIGHUP" % (waited * 1000))
        print_log(midway, ("re-wrapped", "rotation", "keys loaded"))
        checks.add_problems("rotation: no sanitizer report before the "
                            "SIGKILL", problems)
    finally:
        s.close()
        if not d.stopped:
            d.stop()
    keystore = os.path.join(d.keys, "keystore")
    state = key_ids(lmdb, keystore) if lmdb else {}
    print("# after the kill, wrapped DEKs by master key id: %s" % state)
    try:
        s = start("dossierd[rotation-resume]", pb, workdir=work)
    except harness.HarnessError as e:
        checks.fail("rotation: restart after the kill", e)
        return
    d = s.d
    try:
        def resumed():
            t0 = time.monotonic()
            while time.monotonic() - t0 < 20:
                if "rotation complete" in d.log_text():
                    break
                if state and 1 not in state:
                    break
                time.sleep(0.05)
            print_log(d.log_text(), ("re-wrapped", "rotation"))
            assert "rotation complete" in d.log_text() or \
                (state and 1 not in state), \
                "no 'rotation complete' within 20 s after the restart"
        checks.run("rotation: the restarted daemon resumes and completes the "
                   "rotation", resumed)

        def read_all():
            for doc_id, (who, content) in docs.items():
                c, det, m, data = s.person(who).get(doc_id)
                assert c == SC.OK and data == content, "%s: %s" % (
                    doc_id, describe(c, det))
                s.person(who).get_situation()
        checks.run("rotation: every document reads after the resumed "
                   "rotation", read_all)
    finally:
        s.close()
        problems = d.stop()
    checks.add_problems("rotation: resumed daemon stops cleanly", problems)
    if lmdb:
        def all_under_2():
            ids = key_ids(lmdb, keystore)
            print("# after the resumed rotation: %s" % ids)
            assert ids == {2: n_persons}, "wrapped DEKs by key id: %s" % ids
        checks.run("rotation: all %d DEKs wrapped under master key 2"
                   % n_persons, all_under_2)
    os.unlink(os.path.join(d.keys, "master-1.key"))
    try:
        s = start("dossierd[rotation-no-master-1]", pb, workdir=work)
    except harness.HarnessError as e:
        checks.fail("rotation: start without master-1.key", e)
        return
    d = s.d
    try:
        def read_all2():
            for doc_id, (who, content) in docs.items():
                c, det, m, data = s.person(who).get(doc_id)
                assert c == SC.OK and data == content, "%s: %s" % (
                    doc_id, describe(c, det))
            # Every person's key unwraps: a put on each dossier needs it.
            futs = []
            for did in dids[::10]:
                futs.append(did)
            for did in futs:
                m = s.caf.put(b"after rotation", dossier_id=did,
                              file_name="after.pdf")
                assert m.size == 14
        checks.run("rotation: without master-1.key every document still "
                   "reads, every 10th dossier takes a put", read_all2)
    finally:
        s.close()
        problems = d.stop()
    checks.add_problems("rotation: daemon without master-1.key stops "
                        "cleanly", problems)


# --- 8. full store -----------------------------------------------------------

def full_store(checks, pb, tmp):
    map_size = None
    s = None
    for mib in (1, 2, 3, 4, 6, 8):
        work = os.path.join(tmp, "full-%d" % mib)
        try:
            s = start("dossierd[map-size %d MiB]" % mib, pb, workdir=work,
                      extra_args=["--map-size", str(mib * MiB)])
            map_size = mib * MiB
            break
        except harness.HarnessError as e:
            print("# --map-size %d MiB does not start: %s" % (
                mib, str(e).splitlines()[0][:200]))
            shutil.rmtree(work, ignore_errors=True)
    if s is None:
        checks.fail("full: start with a small --map-size",
                    "none of 1..8 MiB starts")
        return
    checks.ok("full: the smallest --map-size that starts is %d MiB (the "
              "option refuses less than 1 MiB)" % (map_size // MiB))
    d = s.d
    doc_size = 64 * KiB
    try:
        d.issue("person", "f1")
        d.issue("person", "f2")
        f1, f2 = s.person("f1"), s.person("f2")
        stored = []    # (api, doc_id, content)
        state = {}

        def fill():
            state["d1"] = s.admin.enrol(nir_for(81), principal="f1")
            state["d2"] = s.admin.enrol(nir_for(82), principal="f2")
            for i in range(400):
                api = f1 if i % 2 == 0 else f2
                content = det_bytes(500 + i, doc_size)
                c, det, m = api.try_put(content, file_name="f%d.pdf" % i)
                if c == SC.OK:
                    stored.append((api, m.document_id, content))
                    continue
                state["full"] = (i, c, det)
                break
            i, c, det = state.get("full", (None, None, None))
            print("# map %d MiB: %d documents of %d KiB stored, then %s" % (
                map_size // MiB, len(stored), doc_size // KiB,
                describe(c, det) if c else "never full"))
            print_log(d.log_text(), ("full",), 3)
            assert c == SC.RESOURCE_EXHAUSTED, \
                "put into a full store: %s" % describe(c, det)
        if not ran(checks, "full: puts end in RESOURCE_EXHAUSTED", fill):
            return

        def more_refusals():
            res = []
            mark = d.log_mark()
            for what, fn in (
                    ("64 KiB put",
                     lambda: f2.try_put(det_bytes(1, doc_size),
                                        file_name="x.pdf")),
                    ("100 B put",
                     lambda: f2.try_put(b"x" * 100, file_name="small.pdf")),
                    ("Enrol", lambda: call_code(s.admin.enrol,
                                                nir_for(83))),
                    ("PutFact", lambda: call_code(
                        s.caf.put_fact, state["d2"], "quotient-familial",
                        "QF 1"))):
                c, det, _ = fn()
                res.append((what, c, det))
            for what, c, det in res:
                print("#   full store: %s -> %s" % (what, describe(c, det)))
            # A refused deposit's chunks are removed after its answer, by a
            # writer operation of their own: the next put may find their
            # room (seen in CI: a 64 KiB put accepted right after the
            # refusal).  So OK is allowed; anything but OK and
            # RESOURCE_EXHAUSTED is the bug below, and at least one of
            # these calls into a full store must be refused.
            bad = [(w, c, det) for w, c, det in res
                   if c not in (SC.RESOURCE_EXHAUSTED, SC.OK)]
            if all(c == SC.OK for _, c, _ in res):
                # Everything fitted in the room freed: the store must fill
                # again, and refuse, within a few more deposits.
                for k in range(20):
                    c, det, _ = f2.try_put(det_bytes(600 + k, doc_size),
                                           file_name="again.pdf")
                    if c != SC.OK:
                        break
                print("#   full store: %d more 64 KiB puts, then %s" % (
                    k, describe(c, det)))
                if c != SC.RESOURCE_EXHAUSTED:
                    bad = [("filling again", c, det)]
            if bad:
                print_log(d.log_since(mark), ("Put", "full", "error"), 6)
            # Regression (bug found by this test, fixed): a put whose only chunk is written
            # at half-close (content under 64 KiB, or the last partial
            # chunk) into a full store gets INTERNAL "internal error while
            # storing the document", log "failed while storing the
            # document: Input/output error": upload_finish() submits the
            # last chunk with no completion, its ERR_FULL is dropped, and
            # upload_finish_run() maps the missing chunk to -EIO.
            assert not bad, "not RESOURCE_EXHAUSTED: %s" % "; ".join(
                "%s -> %s" % (w, describe(c, det)) for w, c, det in bad)
        checks.run("full: further puts (64 KiB and 100 B), Enrol and PutFact "
                   "get RESOURCE_EXHAUSTED (or fit in the room a refused "
                   "deposit left), never an internal error", more_refusals)

        def earlier():
            for api, doc_id, content in stored:
                c, det, m, data = api.get(doc_id)
                assert c == SC.OK and data == content, "%s: %s" % (
                    doc_id, describe(c, det))
            s.caf.alive()
        checks.run("full: the earlier documents still read, the daemon "
                   "answers", earlier)

        def erase_then_put():
            c, det, _ = call_code(f1.erase, state["d1"])
            print("#   Erase of f1 in the full store -> %s" % describe(c,
                                                                      det))
            assert c == SC.OK, "Erase in a full store: %s" % describe(c, det)
            tries = 0
            while True:
                tries += 1
                c, det, m = f2.try_put(det_bytes(9, doc_size),
                                       file_name="after-erase.pdf")
                # Pages freed by a commit are reusable two commits later.
                if c == SC.OK or tries == 3:
                    break
                time.sleep(0.1)
            print("#   put after the erase -> %s (attempt %d)" % (
                describe(c, det), tries))
            assert c == SC.OK, "put after erase: %s" % describe(c, det)
            c, det, _, data = f2.get(m.document_id)
            assert c == SC.OK and data == det_bytes(9, doc_size)
            for api, doc_id, content in stored:
                if api is f2:
                    c, det, _, data = f2.get(doc_id)
                    assert c == SC.OK and data == content, describe(c, det)
            print_log(d.log_text(), ("room again",), 2)
        checks.run("full: Erase of one person frees space, a new put "
                   "succeeds, the other person's documents still read",
                   erase_then_put)
    finally:
        s.close()
        checks.add_problems("full: daemon stops cleanly", d.stop())


# --- main --------------------------------------------------------------------

def main(argv):
    wanted = [a for a in argv if not a.startswith("-")] or list(SCENARIOS)
    for w in wanted:
        if w not in SCENARIOS:
            print("unknown scenario %s (known: %s)" % (w, " ".join(SCENARIOS)))
            return 2
    harness.require_binaries()
    checks = harness.Checks()
    tmp = tempfile.mkdtemp(prefix="dossier-doc-")
    keep = bool(os.environ.get("DOSSIER_KEEP"))
    t_start = time.monotonic()
    try:
        pb = harness.load_protos(os.path.join(tmp, "pb2"))
        import importlib
        pb.persons = importlib.import_module("dossier.v1.persons_pb2")
        pb.common = importlib.import_module("dossier.v1.common_pb2")
    except Exception as e:  # noqa: BLE001
        checks.fail("protoc --python_out", e)
        return checks.finish()
    lmdb = None
    if any(w in wanted for w in ("tamper", "kill", "rotation")):
        lmdb = import_lmdb(checks)
    for w in SCENARIOS:
        if w not in wanted:
            continue
        t0 = time.monotonic()
        print("# --- %s ---" % w)
        sys.stdout.flush()
        try:
            if w == "roundtrip":
                rel = release_path()
                if os.access(rel, os.X_OK):
                    lim = float(os.environ.get("DOSSIER_DOC_RSS_LIMIT_MIB",
                                               "40"))
                    s = start("dossierd[release]", pb, exe=rel)
                    try:
                        round_trips(checks, s, "release",
                                    rss_limit_kib=int(lim * 1024))
                    finally:
                        s.close()
                        checks.add_problems("release daemon stops cleanly",
                                            s.d.stop())
                else:
                    checks.fail("release daemon", "%s not built" % rel)
            elif w == "badinput":
                s = start("dossierd[asan]", pb)
                try:
                    round_trips(checks, s, "asan")
                    bad_input(checks, s)
                finally:
                    s.close()
                    checks.add_problems("asan daemon stops cleanly",
                                        s.d.stop())
                over_max(checks, pb)
            elif w == "canary":
                canary_and_erase(checks, pb, tmp)
            elif w == "tamper":
                if lmdb:
                    tamper(checks, pb, tmp, lmdb)
            elif w == "kill":
                kill_rounds(checks, pb, tmp, lmdb)
            elif w == "rotation":
                if lmdb:
                    rotation(checks, pb, tmp, lmdb)
                    rotation_under_load(checks, pb, tmp, lmdb)
            elif w == "full":
                full_store(checks, pb, tmp)
        except harness.HarnessError as e:
            checks.fail("%s: daemon" % w, e)
        print("# %s took %.1fs" % (w, time.monotonic() - t0))
    print("# total %.1fs" % (time.monotonic() - t_start))
    rc = checks.finish()
    if keep or rc:
        print("# kept %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
