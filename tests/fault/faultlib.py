"""faultlib.py -- what the fault tests of tests/fault/ share.

The daemon, its keys and the clients come from tests/interop: harness.py
starts and kills dossierd, test_audit.py's Api/World speak every RPC the
fault tests use (with test_consent.py's Api for revocations).  This file
only adds what is particular to faults: fresh stores made quickly from one
set of keys, the record of what clients saw acknowledged, and the checks
made after a restart (acknowledged data there and byte-identical, no
partial document, reads audited, the log verified offline by
`dossier audit verify`).
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import harness  # noqa: E402
import test_audit as ta  # noqa: E402
import test_consent as tc  # noqa: E402

import grpc  # noqa: E402

SC = grpc.StatusCode
KiB = 1024
MiB = harness.MiB


def load():
    """Generates the _pb2 modules once, for both reused test modules.
    Returns the temporary directory to remove at the end."""
    tmp = ta.load()
    tc.PB = ta.PB
    return tmp


def release_daemon():
    """The daemon the fault tests run: the release build by default (a
    SIGKILL or an LD_PRELOAD shim meet no sanitizer anyway, and it starts
    in a fraction of the ASan build's time); DOSSIERD overrides."""
    if os.environ.get("DOSSIERD"):
        return harness.daemon_path()
    return os.path.join(harness.TOP, "build", "bin", "dossierd")


def cli_path():
    return os.path.join(harness.TOP, "build", "bin", "dossier")


class Workdirs:
    """Fresh daemon directories (keys/ and data/) copied from one set of
    development keys, made once: dossier-admin's PKI takes a second."""

    def __init__(self, prefix, persons=()):
        self.root = tempfile.mkdtemp(prefix=prefix)
        self.keys = os.path.join(self.root, "template-keys")
        harness.make_keys(self.keys)
        for ident in persons:
            harness.run_admin(["issue", "--dir", self.keys, "--kind",
                               "person", "--id", ident])
        self.n = 0

    def new(self, name=None):
        self.n += 1
        d = os.path.join(self.root, name or ("w%d" % self.n))
        if os.path.exists(d):
            shutil.rmtree(d)
        os.makedirs(d, mode=0o700)
        shutil.copytree(self.keys, os.path.join(d, "keys"))
        os.makedirs(os.path.join(d, "data"), mode=0o700)
        return d

    def remove(self, d):
        shutil.rmtree(d, ignore_errors=True)

    def close(self, keep=False):
        if keep:
            print("# kept %s" % self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)


def content_for(seed, size):
    return ta.det_bytes(seed, size)


def describe(code, det):
    return ta.describe(code, det)


class Ledger:
    """What the clients saw acknowledged, to be checked after a restart.

    docs:     document id -> (dossier id, sha256, size)
    erased:   dossier ids whose Erase returned OK
    revoked:  consent id -> (dossier id, document id, time the Revoke
              returned OK, monotonic)
    reads:    complete reads a client got: (dossier id, document id,
              consent id, start, end (monotonic), wall ms start, end)
    """

    def __init__(self):
        self.docs = {}
        self.persons = {}  # ident -> dossier id (enrol acknowledged)
        self.erased = set()
        self.erase_tried = set()  # Erase called, whatever it answered
        self.revoked = {}
        self.reads = []
        self.grants = []  # (dossier id, consent id) acknowledged

    def doc_put(self, doc_id, did, content):
        self.docs[doc_id] = (did, hashlib.sha256(content).digest(),
                             len(content))


def read_full(api, did, doc, consent_id="", timeout=15):
    """A Get under |consent_id| (or none): (code, details, metas, bytes)."""
    req = ta.PB.documents.GetDocumentRequest(
        dossier_id=did, document_id=doc,
        basis=ta.basis(consent_id=consent_id) if consent_id else ta.basis())
    c, det, msgs = api.stream("Documents/Get", req, timeout)
    metas = [m for m in msgs if m.WhichOneof("part") == "meta"]
    data = b"".join(m.chunk for m in msgs if m.WhichOneof("part") == "chunk")
    return c, det, metas, data


def check_documents(w, ledger, readers, known=None):
    """After a restart: every acknowledged deposit on a dossier not erased
    reads whole and byte-identical (by its owner, |readers| maps dossier id
    -> person ident), and every document List shows is complete (its size
    and hash match what Get returns: nothing half-visible).  Erased
    dossiers read nothing.  Returns a list of violations (strings)."""
    out = []
    by_did = {}
    for doc, (did, sha, size) in ledger.docs.items():
        by_did.setdefault(did, []).append((doc, sha, size))
    for did, ident in readers.items():
        me = w.me(ident)
        if did in ledger.erase_tried and did not in ledger.erased:
            # An erasure that was not acknowledged may have happened (the
            # data key goes first): then nothing of the dossier reads; or
            # not: then everything does.  Never a part.
            got = [read_full(me, did, doc)[0] == SC.OK
                   for doc, _, _ in by_did.get(did, [])]
            if any(got) and not all(got):
                out.append("dossier %s half erased: %d of %d documents "
                           "read" % (did, sum(got), len(got)))
            if not all(got):
                continue
        if did in ledger.erased:
            for doc, _, _ in by_did.get(did, []):
                c, det, metas, data = read_full(me, did, doc)
                if c == SC.OK or data:
                    out.append("erased dossier %s: document %s still reads"
                               % (did, doc))
            continue
        for doc, sha, size in by_did.get(did, []):
            c, det, metas, data = read_full(me, did, doc)
            if c != SC.OK:
                out.append("acknowledged document %s lost: %s" % (
                    doc, describe(c, det)))
            elif hashlib.sha256(data).digest() != sha or len(data) != size:
                out.append("acknowledged document %s differs: %d bytes, "
                           "want %d" % (doc, len(data), size))
        c, det, v = me.call("Documents/List", ta.PB.documents.
                            ListDocumentsRequest(dossier_id=did,
                                                 basis=ta.basis()))
        if c == SC.NOT_FOUND and did not in ledger.erased:
            if by_did.get(did):
                out.append("dossier %s with acknowledged documents is gone"
                           % did)
            continue
        if c != SC.OK:
            out.append("List of %s: %s" % (did, describe(c, det)))
            continue
        for m in v.documents:
            if known is not None:
                if m.document_id in known:
                    continue
                known.add(m.document_id)
            c, det, metas, data = read_full(me, did, m.document_id)
            if c != SC.OK or len(data) != m.size or \
                    hashlib.sha256(data).digest() != m.sha256:
                out.append("listed document %s is partial: %s, %d of %d "
                           "bytes" % (m.document_id, describe(c, det),
                                      len(data), m.size))
    return out


def check_revocations(w, ledger):
    """Every revocation acknowledged before the kill still holds."""
    out = []
    for cid, (did, doc, _) in ledger.revoked.items():
        c, det, metas, data = read_full(w.caf, did, doc, consent_id=cid)
        if c == SC.OK or data:
            out.append("consent %s revoked (acknowledged) reads again "
                       "after the restart" % cid)
    return out


def audit_entries(w):
    return w.auditor.query_all()


def check_reads_audited(entries, ledger, caf_uri):
    """Every complete read a client got has a granted Documents.Get entry
    naming its document: counted per document (reads <= entries)."""
    out = []
    per = {}
    for e in entries:
        if e.action == "Documents.Get" and e.outcome == "granted" and \
                e.principal == caf_uri:
            per[e.object_id] = per.get(e.object_id, 0) + 1
    want = {}
    for r in ledger.reads:
        want[r[1]] = want.get(r[1], 0) + 1
    for doc, n in want.items():
        if per.get(doc, 0) < n:
            out.append("document %s: %d complete reads, %d granted entries"
                       % (doc, n, per.get(doc, 0)))
    return out


def check_grants_audited(entries, ledger):
    got = {e.object_id for e in entries if e.action == "Consents.Grant" and
           e.outcome == "granted"}
    return ["acknowledged consent %s has no Consents.Grant entry" % cid
            for _, cid in ledger.grants if cid not in got]


def verify_offline(w, d, workdir, old_cp=None):
    """Exports the whole log (Audit.Query as an auditor) and a checkpoint
    (and |old_cp|, an earlier one, if given) and runs `dossier audit
    verify` on them.  Returns (violations, entries, checkpoint)."""
    entries = audit_entries(w)
    cp = w.auditor.checkpoint()
    seg = os.path.join(workdir, "export-log.bin")
    with open(seg, "wb") as f:
        for e in entries:
            b = e.SerializeToString()
            f.write(b"\x00" + len(b).to_bytes(4, "big") + b)
    argv = [cli_path(), "audit", "verify", "--entries", seg,
            "--pub", os.path.join(d.keys, "audit.pub")]
    cps = [cp] if old_cp is None else [old_cp, cp]
    for i, c in enumerate(cps):
        p = os.path.join(workdir, "export-cp%d.pb" % i)
        with open(p, "wb") as f:
            f.write(c.SerializeToString())
        argv += ["--checkpoint", p]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=120,
                       env=dict(os.environ, LANG="C.UTF-8"))
    out = []
    if r.returncode != 0:
        out.append("dossier audit verify: exit %d: %s" % (
            r.returncode, r.stdout.strip()[-600:]))
    return out, entries, cp


def print_violations(vs, limit=8):
    for v in vs[:limit]:
        print("#   violation: %s" % v)
    if len(vs) > limit:
        print("#   ... and %d more" % (len(vs) - limit))
