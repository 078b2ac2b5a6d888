#!/usr/bin/python3
"""test_consent.py -- consent, mandates and the access policy end to end,
against a real dossierd and the stock python3-grpcio client.

What it checks:

  matrix     every RPC of Persons, Documents, Consents and Mandates, called
             by every kind of principal, the agencies under every consent
             state (none, valid, expired, revoked, one-shot spent, wrong
             purpose, wrong type, another agency's consent, consent to the
             agency's kind) and the delegate under every mandate state
             (none, valid, expired, revoked).  Each column works on its own
             dossier.  Exactly the allowed cells succeed; every other cell
             gets PERMISSION_DENIED with a message saying what is missing.
             The matrix is printed as a table, with the refusal reasons.
  cross      an agency holding consent on person A reads nothing of person
             B: by document id guessing (both ways), by List, by the
             LatestValid and Get streams, by GetFacts, Export, or its
             consent list.
  revoke     a read allowed a moment ago is refused at once after the
             revocation; a delegate whose mandate was revoked (or expired:
             see "matrix") can do nothing more for the person.
  validity   mandates of less than one day or more than one year, consents
             ending in the past: INVALID_ARGUMENT naming the field; an
             expired document: FAILED_PRECONDITION "the latest <type>
             expired on YYYY-MM-DD", only for an agency with consent, and
             without spending a one-shot consent.
  scopes     a delegate whose mandate covers some types grants consent for
             those only; the consent records the mandate and the delegate;
             the receipt's text and SHA-256; an agency lists only what it
             holds (its URI or its kind), without who granted it.
  denylist   a principal listed in keys/revoked-principals is refused at
             once after SIGHUP, and served again once removed.
  race       concurrent grants, revocations and reads, with SIGKILL and
             restart between rounds: no read that started after the
             revocation forbidding it returned OK succeeds (violations =
             0); of 8 concurrent reads under one one-shot consent exactly
             one succeeds; revocations acknowledged before a SIGKILL hold
             after the restart.

Expired grants: a consent may simply end a few seconds after it is granted
(valid_until is any future time).  A mandate must last one day at least,
counted from valid_from; valid_from may lie in the past (the date of a
paper mandate signed earlier), so the test grants one with
valid_from = now - 1 day + 6 s and valid_until = now + 6 s: a real, valid
one-day mandate that expires during the test.  No test-only switch exists
in the daemon.

Run from the repository root, after make all asan:

    /usr/bin/python3 tests/interop/test_consent.py [scenario...]
"""

import hashlib
from cryptography.exceptions import InvalidSignature
import importlib
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

import grpc  # noqa: E402

SC = grpc.StatusCode
PURPOSE = "RSA-INSTRUCTION"
DOC_TYPE = "avis-imposition"
FACT_TYPE = "quotient-familial"
SCENARIOS = ("matrix", "cross", "revoke", "validity", "scopes", "denylist",
             "race")

PB = None  # the generated modules, set in main()


def uri(kind, ident):
    return harness.principal_uri(kind, ident)


def nir_for(i):
    """A distinct valid NIR per integer i (< 10^6)."""
    sex = 1 + i % 2
    month = 1 + i % 12
    commune, order = divmod(i, 1000)
    first = "%d%02d%02d69%03d%03d" % (sex, 60 + i % 40, month,
                                       commune % 1000, order)
    return first + "%02d" % (97 - int(first) % 97)


_nir_counter = [1000]


def fresh_nir():
    _nir_counter[0] += 1
    return nir_for(_nir_counter[0])


def rpc_err(e):
    try:
        return e.code(), e.details()
    except Exception:  # noqa: BLE001
        return SC.UNKNOWN, str(e)


# --- the API on one channel ------------------------------------------------------

class Api:
    """Every dossier.v1 method, on a channel with one principal's
    certificate."""

    def __init__(self, d, kind, ident):
        self.kind, self.ident = kind, ident
        self.uri = uri(kind, ident)
        self.ch = harness.grpc_channel(d, kind, ident)
        P, D, C = PB.persons, PB.documents, PB.consents
        table = {
            "Persons/Enrol": ("uu", P.EnrolRequest, P.EnrolResponse),
            "Persons/FindByNir": ("uu", P.FindByNirRequest,
                                  P.FindByNirResponse),
            "Persons/GetSituation": ("uu", P.GetSituationRequest,
                                     P.GetSituationResponse),
            "Persons/UpdateSituation": ("uu", P.UpdateSituationRequest,
                                        P.UpdateSituationResponse),
            "Persons/Export": ("us", P.ExportRequest, P.ExportChunk),
            "Persons/Erase": ("uu", P.EraseRequest, P.EraseResponse),
            "Documents/Put": ("su", D.PutDocumentRequest,
                              D.PutDocumentResponse),
            "Documents/Get": ("us", D.GetDocumentRequest,
                              D.GetDocumentResponse),
            "Documents/List": ("uu", D.ListDocumentsRequest,
                               D.ListDocumentsResponse),
            "Documents/LatestValid": ("us", D.LatestValidRequest,
                                      D.GetDocumentResponse),
            "Documents/CheckIntegrity": ("uu", D.CheckIntegrityRequest,
                                         D.CheckIntegrityResponse),
            "Documents/PutFact": ("uu", D.PutFactRequest, D.PutFactResponse),
            "Documents/GetFacts": ("uu", D.GetFactsRequest,
                                   D.GetFactsResponse),
            "Consents/Grant": ("uu", C.GrantConsentRequest,
                               C.GrantConsentResponse),
            "Consents/Revoke": ("uu", C.RevokeConsentRequest,
                                C.RevokeConsentResponse),
            "Consents/List": ("uu", C.ListConsentsRequest,
                              C.ListConsentsResponse),
            "Mandates/Grant": ("uu", C.GrantMandateRequest,
                               C.GrantMandateResponse),
            "Mandates/Revoke": ("uu", C.RevokeMandateRequest,
                                C.RevokeMandateResponse),
            "Mandates/List": ("uu", C.ListMandatesRequest,
                              C.ListMandatesResponse),
        }
        self.stubs = {}
        for name, (shape, req, resp) in table.items():
            path = "/dossier.v1." + name
            make = {"uu": self.ch.unary_unary, "us": self.ch.unary_stream,
                    "su": self.ch.stream_unary}[shape]
            self.stubs[name] = (shape, make(path, req.SerializeToString,
                                            resp.FromString))

    def close(self):
        self.ch.close()

    def call(self, name, req, timeout=30):
        """(code, details, value): value is the response, or the list of
        stream messages."""
        shape, stub = self.stubs[name]
        try:
            if shape == "us":
                return SC.OK, "", list(stub(req, timeout=timeout))
            if shape == "su":
                return SC.OK, "", stub(iter(req), timeout=timeout)
            return SC.OK, "", stub(req, timeout=timeout)
        except grpc.RpcError as e:
            c, det = rpc_err(e)
            return c, det, None

    def must(self, name, req, timeout=30):
        c, det, v = self.call(name, req, timeout)
        if c != SC.OK:
            raise AssertionError("%s as %s: %s %r" % (name, self.uri,
                                                       c.name, det))
        return v


def basis(purpose=PURPOSE, case="", consent_id=""):
    return PB.common.Basis(purpose_code=purpose, case_reference=case,
                           consent_id=consent_id)


def date(y, m, d):
    return PB.common.Date(year=y, month=m, day=d)


def put_requests(did, content=b"avis 2024 content", doc_type=DOC_TYPE,
                 valid_until=(2099, 12, 31), issued=(2025, 4, 2)):
    D = PB.documents
    m = D.DocumentMeta(dossier_id=did, type=doc_type, file_name="avis.pdf",
                       media_type="application/pdf", size=len(content),
                       sha256=hashlib.sha256(content).digest(),
                       issued=date(*issued))
    if valid_until:
        m.valid_until.CopyFrom(date(*valid_until))
    return [D.PutDocumentRequest(meta=m), D.PutDocumentRequest(chunk=content)]


def consent_msg(did, agency=None, kind="", types=(DOC_TYPE,),
                facts=(FACT_TYPE,), ids=(), purpose=PURPOSE, until=3600,
                one_shot=False, case=""):
    C = PB.consents
    return C.Consent(dossier_id=did, agency=agency or "", agency_kind=kind,
                     document_types=list(types), fact_types=list(facts),
                     document_ids=list(ids), purpose_code=purpose,
                     purpose_text="instruction de la demande",
                     case_reference=case,
                     valid_until_unix=int(time.time()) + until,
                     one_shot=one_shot)


def grant_consent(api, did, **kw):
    return api.must("Consents/Grant", PB.consents.GrantConsentRequest(
        consent=consent_msg(did, **kw)))


def revoke_consent(api, did, cid):
    return api.must("Consents/Revoke", PB.consents.RevokeConsentRequest(
        dossier_id=did, consent_id=cid))


def mandate_msg(did, delegate, actions=("deposit", "read", "grant-consent"),
                types=("*",), start=0, until=30 * 86400):
    C = PB.consents
    now = int(time.time())
    return C.Mandate(dossier_id=did, delegate=delegate, actions=list(actions),
                     document_types=list(types),
                     valid_from_unix=start,
                     valid_until_unix=(start or now) + until)


def grant_mandate(api, did, delegate, **kw):
    return api.must("Mandates/Grant", PB.consents.GrantMandateRequest(
        mandate=mandate_msg(did, delegate, **kw))).mandate


def read_doc(api, did, doc_id, purpose=PURPOSE, consent_id="", timeout=30):
    return api.call("Documents/Get", PB.documents.GetDocumentRequest(
        dossier_id=did, document_id=doc_id,
        basis=basis(purpose, consent_id=consent_id)), timeout=timeout)


# --- the world the matrix runs in ---------------------------------------------------

class World:
    """A daemon with persons, their documents, consents and mandates."""

    def __init__(self, d):
        self.d = d
        self.apis = {}
        self.persons = {}  # ident -> (dossier id, nir)
        self.docs = {}     # dossier id -> document id

    def api(self, kind, ident):
        k = (kind, ident)
        if k not in self.apis:
            self.apis[k] = Api(self.d, kind, ident)
        return self.apis[k]

    def close(self):
        for a in self.apis.values():
            a.close()
        self.apis = {}

    @property
    def admin(self):
        return self.api("admin", "ops")

    @property
    def caf(self):
        return self.api("agency", "caf-75")

    def person(self, ident):
        """Issues a certificate for person |ident|, enrols them linked to
        it, and deposits an avis and a fact (as caf-75)."""
        if ident in self.persons:
            return self.persons[ident][0]
        self.d.issue("person", ident)
        nir = fresh_nir()
        did = self.admin.must("Persons/Enrol", PB.persons.EnrolRequest(
            nir=nir, given_name="Prenom", family_name="Nom",
            person_principal_id=ident)).dossier_id
        meta = self.caf.must("Documents/Put", put_requests(did)).meta
        self.caf.must("Documents/PutFact", PB.documents.PutFactRequest(
            fact=PB.documents.AgencyFact(dossier_id=did, type=FACT_TYPE,
                                         value="812",
                                         effective=date(2025, 1, 1))))
        self.persons[ident] = (did, nir)
        self.docs[did] = meta.document_id
        return did


class Column:
    def __init__(self, name, kind, ident, state, person):
        self.name, self.kind, self.ident = name, kind, ident
        self.state, self.person = state, person
        self.did = self.nir = self.doc = None
        self.throw_consent = self.throw_mandate = None
        self.api = None


def columns():
    cols = [
        Column("person", "person", "p-own", "own", "p-own"),
        Column("p>other", "person", "p-own", "other", "p-other"),
        Column("admin", "admin", "ops", "-", "p-own"),
        Column("auditor", "auditor", "cnil-demo", "-", "p-own"),
    ]
    for st, ag in (("none", "caf-75"), ("valid", "caf-75"),
                   ("expired", "caf-75"), ("revoked", "caf-75"),
                   ("spent", "caf-75"), ("purpose", "caf-75"),
                   ("type", "caf-75"), ("other", "cpam-69"),
                   ("kind", "caf-13")):
        person = "a-valid" if st == "other" else "a-" + st
        cols.append(Column("ag:" + st, "agency", ag, st, person))
    for st in ("none", "valid", "expired", "revoked"):
        cols.append(Column("dg:" + st, "delegate", "france-services-demo", st,
                           "d-" + st))
    return cols


FS = "france-services-demo"


def setup_world(w, cols):
    """Persons, consents and mandates for every column; waits for the
    expiring ones to expire.  Returns the setup time in seconds."""
    t0 = time.monotonic()
    w.d.issue("agency", "caf-13")
    w.d.issue("delegate", "fs-two")
    for col in cols:
        w.person(col.person)
    caf75 = uri("agency", "caf-75")
    now = int(time.time())
    exp_consent = exp_mandate = None
    for col in cols:
        col.did, col.nir = w.persons[col.person]
        col.doc = w.docs[col.did]
        col.api = w.api(col.kind, col.ident)
    for person in sorted({c.person for c in cols}):
        did = w.persons[person][0]
        me = w.api("person", person)
        if person == "a-valid":
            grant_consent(me, did, agency=caf75)
        elif person == "a-expired":
            exp_consent = grant_consent(me, did, agency=caf75, until=6)
        elif person == "a-revoked":
            r = grant_consent(me, did, agency=caf75)
            revoke_consent(me, did, r.consent.consent_id)
        elif person == "a-spent":
            r = grant_consent(me, did, agency=caf75, one_shot=True)
        elif person == "a-purpose":
            grant_consent(me, did, agency=caf75, purpose="AUTRE-FINALITE")
        elif person == "a-type":
            grant_consent(me, did, agency=caf75, types=("rib",),
                          facts=("statut-demandeur-emploi",))
        elif person == "a-kind":
            grant_consent(me, did, kind="caf")
        elif person == "d-valid":
            grant_mandate(me, did, uri("delegate", FS))
        elif person == "d-expired":
            exp_mandate = grant_mandate(me, did, uri("delegate", FS),
                                        start=now - 86400 + 6, until=86400)
        elif person == "d-revoked":
            m = grant_mandate(me, did, uri("delegate", FS))
            me.must("Mandates/Revoke", PB.consents.RevokeMandateRequest(
                dossier_id=did, mandate_id=m.mandate_id))
    # Throw-away grants for the Revoke rows.
    for col in cols:
        me = w.api("person", col.person)
        if col.throw_consent is None:
            col.throw_consent = grant_consent(
                me, col.did, agency=uri("agency", "cpam-69"), types=("rib",),
                facts=(), purpose="JETABLE").consent.consent_id
        if col.kind == "delegate" and col.state == "valid":
            col.throw_mandate = grant_mandate(
                me, col.did, uri("delegate", FS), actions=("read",),
                types=("rib",)).mandate_id
        elif col.kind == "delegate" and col.state in ("expired", "revoked"):
            lst = me.must("Mandates/List", PB.consents.ListMandatesRequest(
                dossier_id=col.did, include_inactive=True)).mandates
            col.throw_mandate = [m.mandate_id for m in lst
                                 if m.delegate == uri("delegate", FS)][0]
        else:
            col.throw_mandate = grant_mandate(
                me, col.did, uri("delegate", "fs-two"), actions=("read",),
                types=("rib",)).mandate_id
    # The one-shot consent is used once, by the read it was given for.
    spent_did = w.persons["a-spent"][0]
    c, det, _ = read_doc(w.caf, spent_did, w.docs[spent_did])
    assert c == SC.OK, "first read under the one-shot consent: %s %r" % (
        c.name, det)
    # Let the short consent and mandate expire.
    end = max(exp_consent.consent.valid_until_unix,
              exp_mandate.valid_until_unix) + 1
    while time.time() < end:
        time.sleep(0.2)
    return time.monotonic() - t0


# --- the matrix ----------------------------------------------------------------------------

ROWS = ("Persons/Enrol", "Persons/FindByNir", "Persons/GetSituation",
        "Persons/UpdateSituation", "Persons/Export", "Documents/Put",
        "Documents/Get", "Documents/List", "Documents/LatestValid",
        "Documents/CheckIntegrity", "Documents/PutFact", "Documents/GetFacts",
        "Consents/Grant", "Consents/List", "Consents/Revoke",
        "Mandates/Grant", "Mandates/List", "Mandates/Revoke",
        "Persons/Erase")

READS = ("Documents/Get", "Documents/List", "Documents/LatestValid",
         "Documents/GetFacts")


def expected(rpc, col):
    """True when |col|'s principal may do |rpc| on |col|'s dossier."""
    k, st = col.kind, col.state
    person = k == "person" and st == "own"
    dvalid = k == "delegate" and st == "valid"
    if rpc == "Persons/Enrol":
        return k in ("admin", "delegate")
    if rpc == "Persons/FindByNir":
        return k == "agency"
    if rpc in ("Persons/UpdateSituation", "Persons/Export", "Persons/Erase",
               "Mandates/Grant"):
        return person
    if rpc in ("Persons/GetSituation", "Documents/CheckIntegrity",
               "Consents/Grant", "Consents/Revoke"):
        return person or dvalid
    if rpc == "Documents/Put":
        return person or k == "agency" or dvalid
    if rpc in READS:
        return person or dvalid or (k == "agency" and st in ("valid", "kind"))
    if rpc == "Documents/PutFact":
        return k == "agency"
    if rpc == "Consents/List":
        return person or k == "agency" or dvalid
    if rpc == "Mandates/List":
        return person or k == "delegate"
    if rpc == "Mandates/Revoke":
        return person or (k == "delegate" and st != "none")
    raise AssertionError("no rule for " + rpc)


def request(rpc, col):
    P, D, C = PB.persons, PB.documents, PB.consents
    did = col.did
    if rpc == "Persons/Enrol":
        return P.EnrolRequest(nir=fresh_nir(), given_name="M",
                              family_name="X")
    if rpc == "Persons/FindByNir":
        return P.FindByNirRequest(nir=col.nir, basis=basis())
    if rpc == "Persons/GetSituation":
        return P.GetSituationRequest(dossier_id=did, basis=basis())
    if rpc == "Persons/UpdateSituation":
        return P.UpdateSituationRequest(dossier_id=did, situation=P.Situation(
            address=P.Address(city="Lyon", postal_code="69001")))
    if rpc == "Persons/Export":
        return P.ExportRequest(dossier_id=did)
    if rpc == "Persons/Erase":
        return P.EraseRequest(dossier_id=did, confirm=True)
    if rpc == "Documents/Put":
        return put_requests(did, content=b"depot " + col.name.encode())
    if rpc == "Documents/Get":
        return D.GetDocumentRequest(dossier_id=did, document_id=col.doc,
                                    basis=basis())
    if rpc == "Documents/List":
        return D.ListDocumentsRequest(dossier_id=did, type=DOC_TYPE,
                                      basis=basis())
    if rpc == "Documents/LatestValid":
        return D.LatestValidRequest(dossier_id=did, type=DOC_TYPE,
                                    basis=basis())
    if rpc == "Documents/CheckIntegrity":
        return D.CheckIntegrityRequest(dossier_id=did, document_id=col.doc)
    if rpc == "Documents/PutFact":
        return D.PutFactRequest(fact=D.AgencyFact(
            dossier_id=did, type=FACT_TYPE, value="900",
            effective=date(2025, 6, 1)))
    if rpc == "Documents/GetFacts":
        return D.GetFactsRequest(dossier_id=did, type=FACT_TYPE,
                                 basis=basis())
    if rpc == "Consents/Grant":
        return C.GrantConsentRequest(consent=consent_msg(
            did, agency=uri("agency", "cpam-69"), types=("rib",), facts=(),
            purpose="MATRICE"))
    if rpc == "Consents/List":
        return C.ListConsentsRequest(dossier_id=did)
    if rpc == "Consents/Revoke":
        return C.RevokeConsentRequest(dossier_id=did,
                                      consent_id=col.throw_consent)
    if rpc == "Mandates/Grant":
        return C.GrantMandateRequest(mandate=mandate_msg(
            did, uri("delegate", "fs-two"), actions=("read",),
            types=("rib",), until=2 * 86400))
    if rpc == "Mandates/List":
        return C.ListMandatesRequest(dossier_id=did)
    if rpc == "Mandates/Revoke":
        return C.RevokeMandateRequest(dossier_id=did,
                                      mandate_id=col.throw_mandate)
    raise AssertionError(rpc)


def agency_kind(ident):
    return ident.split("-", 1)[0]


def check_success(rpc, col, value):
    """What a success must hold; returns a problem or None."""
    if rpc in ("Documents/List",) and len(value.documents) == 0:
        return "OK but no document listed"
    if rpc == "Documents/GetFacts" and len(value.facts) == 0:
        return "OK but no fact returned"
    if rpc in ("Documents/Get", "Documents/LatestValid"):
        if not value or value[0].WhichOneof("part") != "meta":
            return "OK but no metadata streamed"
    if rpc == "Consents/List" and col.kind == "agency":
        me = uri("agency", col.ident)
        for x in value.consents:
            if x.agency != me and x.agency_kind != agency_kind(col.ident):
                return "lists consent %s of another agency" % x.consent_id
            if x.granted_by:
                return "shows an agency who granted consent %s" % x.consent_id
    if rpc == "Mandates/List" and col.kind == "delegate":
        for m in value.mandates:
            if m.delegate != uri("delegate", col.ident):
                return "lists mandate %s of another delegate" % m.mandate_id
    return None


# Words the refusal of an agency's or delegate's read must contain.
READ_REASONS = {
    "p>other": "own dossier",
    "admin": "operator",
    "auditor": "auditor",
    "ag:none": "no consent of agency caf-75 covers",
    "ag:expired": "expired on",
    "ag:revoked": "was revoked on",
    "ag:spent": "already used",
    "ag:purpose": "is not the purpose of consent",
    "ag:type": "no consent of agency caf-75 covers",
    "ag:other": "no consent of agency cpam-69 covers",
    "dg:none": "no mandate of delegate",
    "dg:expired": "expired on",
    "dg:revoked": "was revoked on",
}


def run_matrix(checks, w, cols):
    results = {}
    reasons = {}
    problems = []
    for rpc in ROWS:
        order = list(cols)
        if rpc == "Persons/Erase":  # the one that erases goes last
            order.sort(key=lambda c: expected(rpc, c))
        for col in order:
            code, det, value = col.api.call(rpc, request(rpc, col))
            want = expected(rpc, col)
            if code == SC.OK:
                bad = check_success(rpc, col, value)
                got = "ok"
                if bad:
                    problems.append("%s by %s: %s" % (rpc, col.name, bad))
                    got = "BAD"
            elif code == SC.PERMISSION_DENIED:
                got = "denied"
                reasons[(rpc, col.name)] = det
                if not det or len(det) < 12:
                    problems.append("%s by %s: denied without a reason (%r)"
                                    % (rpc, col.name, det))
            else:
                got = code.name
            results[(rpc, col.name)] = got
            if (got == "ok") != want or got not in ("ok", "denied"):
                problems.append("%s by %s: want %s, got %s %r" % (
                    rpc, col.name, "ok" if want else "PERMISSION_DENIED",
                    got, det))
    # The table.
    width = max(len(c.name) for c in cols) + 1
    head = "%-26s" % "RPC \\ caller" + "".join(
        "%*s" % (width, c.name) for c in cols)
    print("#")
    print("# ACCESS MATRIX  (ok = succeeded, allowed;  .  = PERMISSION_DENIED,"
          " refused;  !x = WRONG)")
    print("#   columns: person = the person on their own dossier; p>other ="
          " the same person on another's;")
    print("#   ag:<state> = agency caf-75 under that consent state (other ="
          " cpam-69 on caf-75's consent,")
    print("#   kind = caf-13 under a consent to every agency of kind caf);"
          " dg:<state> = delegate, mandate state")
    print("# " + head)
    for rpc in ROWS:
        line = "%-26s" % rpc
        for col in cols:
            got = results[(rpc, col.name)]
            want = expected(rpc, col)
            if got == "ok" and want:
                cell = "ok"
            elif got == "denied" and not want:
                cell = "."
            else:
                cell = "!" + got
            line += "%*s" % (width, cell)
        print("# " + line)
    allowed = sum(1 for k, v in results.items() if v == "ok")
    print("# %d cells: %d allowed and succeeded, %d refused with "
          "PERMISSION_DENIED" % (len(results), allowed,
                                 sum(1 for v in results.values()
                                     if v == "denied")))
    print("#")
    print("# why a read (Documents/Get) was refused, by column:")
    for col in cols:
        r = reasons.get(("Documents/Get", col.name))
        if r:
            print("#   %-10s %s" % (col.name, r))
    print("# and a few other refusals:")
    for key in (("Documents/CheckIntegrity", "ag:valid"),
                ("Persons/GetSituation", "ag:valid"),
                ("Consents/Grant", "ag:valid"),
                ("Mandates/Grant", "dg:valid"),
                ("Mandates/Revoke", "dg:none"),
                ("Documents/Put", "dg:expired"),
                ("Documents/GetFacts", "ag:type"),
                ("Documents/List", "ag:purpose"),
                ("Persons/Export", "dg:valid")):
        if key in reasons:
            print("#   %-26s by %-10s %s" % (key[0], key[1], reasons[key]))
    for col in cols:
        want_words = READ_REASONS.get(col.name)
        if not want_words:
            continue
        for rpc in ("Documents/Get", "Documents/LatestValid"):
            r = reasons.get((rpc, col.name), "")
            if want_words not in r:
                problems.append("%s by %s: reason %r does not say %r" % (
                    rpc, col.name, r, want_words))
    if problems:
        for p in problems:
            print("#   problem: " + p)
        raise AssertionError("%d matrix cells wrong (first: %s)" % (
            len(problems), problems[0]))


# --- cross-person ----------------------------------------------------------------------

def run_cross(checks, w):
    caf = w.caf
    a = w.person("x-alice")
    b = w.person("x-bob")
    grant_consent(w.api("person", "x-alice"), a, agency=caf.uri)
    doc_a, doc_b = w.docs[a], w.docs[b]
    D, C, P = PB.documents, PB.consents, PB.persons

    def ok_a():
        c, det, v = read_doc(caf, a, doc_a)
        assert c == SC.OK, "the agency cannot read A under consent: %s %r" % (
            c.name, det)
    checks.run("cross: caf-75 reads A's avis under A's consent", ok_a)

    def call_line():
        # The read's one log line says what it relied on, in key=value
        # tokens only: the basis has a blank ("consent <id>"), so it is
        # quoted (it was not: under=consent <id> left a stray token).
        line = None
        for _ in range(50):
            for l in w.d.log_text().splitlines():
                if "method=/dossier.v1.Documents/Get " in l and \
                        (" document=%s " % doc_a) in l and "under=" in l:
                    line = l
            if line:
                break
            time.sleep(0.1)
        assert line, "no call line for the read of A's document"
        print("#   " + line)
        assert re.search(r' under="consent c[0-9a-z]{26}" spent=\d+ '
                         r'dossier=%s document=%s version=1$' % (a, doc_a),
                         line), line
        rest = line.split(' msg="call" ', 1)[1]
        tokens = re.findall(r'([a-z_.]+)=("[^"]*"|\S+)( |$)', rest)
        assert "".join(k + "=" + v + sp for k, v, sp in tokens) == rest, \
            "not key=value tokens: %r" % rest
    checks.run("cross: the read's call line names its consent, quoted",
               call_line)

    def denied(label, rpc, req):
        def run():
            c, det, v = caf.call(rpc, req)
            assert c == SC.PERMISSION_DENIED, "%s: %s %r (want " \
                "PERMISSION_DENIED)" % (label, c.name, det)
            print("#   %s -> %s" % (label, det))
        checks.run("cross: " + label + " refused", run)

    denied("Get B's document in B's dossier", "Documents/Get",
           D.GetDocumentRequest(dossier_id=b, document_id=doc_b,
                                basis=basis()))
    denied("Get A's document id in B's dossier", "Documents/Get",
           D.GetDocumentRequest(dossier_id=b, document_id=doc_a,
                                basis=basis()))
    denied("Get B's document id in A's dossier", "Documents/Get",
           D.GetDocumentRequest(dossier_id=a, document_id=doc_b,
                                basis=basis()))
    guessed = "p" + "".join(random.choice("0123456789abcdefghjkmnpqrstvwxyz")
                            for _ in range(26))
    guessed = "p0" + guessed[2:]
    denied("Get a guessed document id in A's dossier", "Documents/Get",
           D.GetDocumentRequest(dossier_id=a, document_id=guessed,
                                basis=basis()))
    denied("List B", "Documents/List",
           D.ListDocumentsRequest(dossier_id=b, basis=basis()))
    denied("List B by type", "Documents/List",
           D.ListDocumentsRequest(dossier_id=b, type=DOC_TYPE, basis=basis()))
    denied("LatestValid stream on B", "Documents/LatestValid",
           D.LatestValidRequest(dossier_id=b, type=DOC_TYPE, basis=basis()))
    denied("GetFacts B", "Documents/GetFacts",
           D.GetFactsRequest(dossier_id=b, basis=basis()))
    denied("Export B", "Persons/Export", P.ExportRequest(dossier_id=b))
    denied("GetSituation B", "Persons/GetSituation",
           P.GetSituationRequest(dossier_id=b, basis=basis()))

    def lists():
        v = caf.must("Consents/List", C.ListConsentsRequest(dossier_id=b))
        assert len(v.consents) == 0, "consents on B listed: %s" % v
        v = caf.must("Consents/List", C.ListConsentsRequest())
        dossiers = {x.dossier_id for x in v.consents}
        assert b not in dossiers and a in dossiers, dossiers
        # A's list through the agency's eyes: only its own consent.
        v = caf.must("Documents/List", D.ListDocumentsRequest(
            dossier_id=a, basis=basis()))
        assert [m.document_id for m in v.documents] == [doc_a], v
    checks.run("cross: the agency's lists hold A only, never B", lists)


# --- revocation at once ---------------------------------------------------------------------

def run_revoke(checks, w):
    did = w.person("r-paul")
    me = w.api("person", "r-paul")
    doc = w.docs[did]
    caf = w.caf
    fs = w.api("delegate", FS)

    def consent():
        cid = grant_consent(me, did, agency=caf.uri).consent.consent_id
        c, det, _ = read_doc(caf, did, doc)
        assert c == SC.OK, "before revocation: %s %r" % (c.name, det)
        revoke_consent(me, did, cid)
        c, det, _ = read_doc(caf, did, doc)
        assert c == SC.PERMISSION_DENIED and "revoked" in det, \
            "right after revocation: %s %r" % (c.name, det)
        print("#   after revoke: %s" % det)
    checks.run("revoke: a consent revoked is refused by the very next read",
               consent)

    def mandate():
        m = grant_mandate(me, did, fs.uri)
        c, det, _ = read_doc(fs, did, doc)
        assert c == SC.OK, "delegate before revocation: %s %r" % (c.name, det)
        me.must("Mandates/Revoke", PB.consents.RevokeMandateRequest(
            dossier_id=did, mandate_id=m.mandate_id))
        for rpc, req in (
                ("Documents/Get", PB.documents.GetDocumentRequest(
                    dossier_id=did, document_id=doc)),
                ("Documents/Put", put_requests(did)),
                ("Consents/Grant", PB.consents.GrantConsentRequest(
                    consent=consent_msg(did, agency=caf.uri))),
                ("Persons/GetSituation", PB.persons.GetSituationRequest(
                    dossier_id=did))):
            c, det, _ = fs.call(rpc, req)
            assert c == SC.PERMISSION_DENIED and "revoked" in det, \
                "%s after the mandate's revocation: %s %r" % (rpc, c.name,
                                                              det)
    checks.run("revoke: a delegate whose mandate was revoked can do nothing "
               "more for the person", mandate)

    def give_up():
        m = grant_mandate(me, did, fs.uri)
        fs.must("Mandates/Revoke", PB.consents.RevokeMandateRequest(
            dossier_id=did, mandate_id=m.mandate_id))
        c, det, _ = read_doc(fs, did, doc)
        assert c == SC.PERMISSION_DENIED, "after giving up: %s" % c.name
        lst = me.must("Mandates/List", PB.consents.ListMandatesRequest(
            include_inactive=True)).mandates
        mine = [x for x in lst if x.mandate_id == m.mandate_id][0]
        assert mine.revoked and mine.revoked_by == fs.uri, mine
    checks.run("revoke: a delegate gives its mandate up; the person sees who "
               "did", give_up)


# --- validity -------------------------------------------------------------------------------

def run_validity(checks, w):
    did = w.person("v-lea")
    me = w.api("person", "v-lea")
    caf = w.caf
    C = PB.consents
    now = int(time.time())

    def bad_mandate(label, start, until, field):
        def run():
            m = C.Mandate(dossier_id=did, delegate=uri("delegate", FS),
                          actions=["read"], document_types=["*"],
                          valid_from_unix=start, valid_until_unix=until)
            c, det, _ = me.call("Mandates/Grant",
                                C.GrantMandateRequest(mandate=m))
            assert c == SC.INVALID_ARGUMENT and field in det, \
                "%s: %s %r" % (label, c.name, det)
            print("#   %s -> %s" % (label, det))
        checks.run("validity: mandate " + label + " refused", run)

    bad_mandate("of 23 hours", 0, now + 23 * 3600,
                "mandate.valid_until_unix")
    bad_mandate("of 367 days", 0, now + 367 * 86400,
                "mandate.valid_until_unix")
    bad_mandate("ended in the past", now - 3 * 86400, now - 86400,
                "mandate.valid_until_unix")
    bad_mandate("without an end", 0, 0, "mandate.valid_until_unix")

    def mandate_bounds():
        grant_mandate(me, did, uri("delegate", FS), until=86400 + 5)
        grant_mandate(me, did, uri("delegate", FS), until=365 * 86400)
    checks.run("validity: mandates of one day and of one year are granted",
               mandate_bounds)

    def bad_consent():
        for until, field in ((-10, "consent.valid_until_unix"),):
            c, det, _ = me.call("Consents/Grant", C.GrantConsentRequest(
                consent=consent_msg(did, agency=caf.uri, until=until)))
            assert c == SC.INVALID_ARGUMENT and field in det, (c, det)
            print("#   consent ending in the past -> %s" % det)
        c, det, _ = me.call("Consents/Grant", C.GrantConsentRequest(
            consent=consent_msg(did, agency=caf.uri, kind="caf")))
        assert c == SC.INVALID_ARGUMENT and "exactly one" in det, (c, det)
        c, det, _ = me.call("Consents/Grant", C.GrantConsentRequest(
            consent=consent_msg(did, agency=uri("delegate", FS))))
        assert c == SC.INVALID_ARGUMENT and "consent.agency" in det, (c, det)
        c, det, _ = me.call("Consents/Grant", C.GrantConsentRequest(
            consent=consent_msg(did, agency=caf.uri, types=("pas-un-type",))))
        assert c == SC.INVALID_ARGUMENT and "document_types" in det, (c, det)
        c, det, _ = me.call("Consents/Grant", C.GrantConsentRequest(
            consent=consent_msg(did, agency=caf.uri, types=(), facts=())))
        assert c == SC.INVALID_ARGUMENT and "at least one" in det, (c, det)
    checks.run("validity: bad consents refused with INVALID_ARGUMENT naming "
               "the field", bad_consent)

    def expired_doc():
        other = w.person("v-max")
        pm = w.api("person", "v-max")
        caf.must("Documents/Put", put_requests(
            other, content=b"vieil avis", issued=(2026, 1, 2),
            valid_until=(2026, 1, 3)))
        req = PB.documents.LatestValidRequest(dossier_id=other, type=DOC_TYPE,
                                              basis=basis())
        c, det, _ = caf.call("Documents/LatestValid", req)
        assert c == SC.PERMISSION_DENIED, \
            "without consent the agency learns nothing: %s %r" % (c.name, det)
        cid = grant_consent(pm, other, agency=caf.uri,
                            one_shot=True).consent.consent_id
        for _ in range(2):  # twice: the one-shot is not spent by a refusal
            c, det, _ = caf.call("Documents/LatestValid", req)
            assert c == SC.FAILED_PRECONDITION and \
                det == "the latest avis-imposition expired on 2026-01-03", \
                (c.name, det)
        print("#   LatestValid -> %s %s" % (c.name, det))
        lst = pm.must("Consents/List", PB.consents.ListConsentsRequest())
        x = [k for k in lst.consents if k.consent_id == cid][0]
        assert not x.spent, "the one-shot consent was spent by a refusal"
        c, det, v = pm.call("Documents/LatestValid", req)
        assert c == SC.FAILED_PRECONDITION, "the person too: %s" % c.name
    checks.run("validity: LatestValid of an expired document is "
               "FAILED_PRECONDITION, after the consent check", expired_doc)


# --- scopes, receipts, lists ------------------------------------------------------------------

def run_scopes(checks, w):
    did = w.person("s-ines")
    me = w.api("person", "s-ines")
    caf = w.caf
    fs = w.api("delegate", FS)
    C = PB.consents

    def delegate_scope():
        m = grant_mandate(me, did, fs.uri, actions=("grant-consent", "read"),
                          types=("rib",))
        c, det, _ = fs.call("Consents/Grant", C.GrantConsentRequest(
            consent=consent_msg(did, agency=caf.uri, facts=())))
        assert c == SC.PERMISSION_DENIED and "does not cover type " \
            "avis-imposition" in det, (c.name, det)
        print("#   delegate granting outside its types -> %s" % det)
        r = fs.must("Consents/Grant", C.GrantConsentRequest(
            consent=consent_msg(did, agency=caf.uri, types=("rib",),
                                facts=())))
        assert r.consent.mandate_id == m.mandate_id, r.consent
        assert r.consent.granted_by == fs.uri, r.consent
        c, det, _ = read_doc(fs, did, w.docs[did])
        assert c == SC.PERMISSION_DENIED and "does not cover type" in det, \
            (c.name, det)
        c, det, _ = fs.call("Documents/Put", put_requests(did))
        assert c == SC.PERMISSION_DENIED and "allows deposit" in det, \
            (c.name, det)
        lst = me.must("Consents/List", C.ListConsentsRequest()).consents
        x = [k for k in lst if k.consent_id == r.consent.consent_id][0]
        assert x.mandate_id == m.mandate_id and x.granted_by == fs.uri, x
    checks.run("scopes: a delegate grants consent only within its mandate's "
               "types; the consent names the mandate", delegate_scope)

    def receipt():
        r = grant_consent(me, did, kind="cpam", types=("rib",), facts=(),
                          purpose="CSS-ATTRIBUTION", case="DOSSIER-42")
        text = r.receipt.decode()
        assert hashlib.sha256(r.receipt).digest() == r.receipt_sha256
        for want in ("dossier-consent-receipt v1\n",
                     "consent_id: %s\n" % r.consent.consent_id,
                     "dossier_id: %s\n" % did,
                     "to_agency_kind: cpam\n", "purpose_code: CSS-ATTRIBUTION",
                     "case_reference: DOSSIER-42", "valid_until: ",
                     "document_types: rib\n"):
            assert want in text, "receipt lacks %r:\n%s" % (want, text)
        print("#   receipt (%d bytes, sha256 %s...):" % (
            len(r.receipt), r.receipt_sha256.hex()[:16]))
        for line in text.splitlines():
            print("#     " + line)
        # The person can prove the receipt: Ed25519 by the audit key, whose
        # public part is audit.pub.
        from cryptography.hazmat.primitives.serialization import \
            load_pem_public_key
        pub = load_pem_public_key(
            open(os.path.join(w.d.keys, "audit.pub"), "rb").read())
        assert len(r.receipt_signature) == 64, "receipt is not signed"
        pub.verify(r.receipt_signature, r.receipt)
        forged = bytearray(r.receipt)
        forged[-2] ^= 1
        try:
            pub.verify(r.receipt_signature, bytes(forged))
            raise AssertionError("a changed receipt still verifies")
        except InvalidSignature:
            pass
    checks.run("scopes: the consent receipt is canonical text with its "
               "SHA-256, signed by the audit key", receipt)

    def agency_lists():
        cpam = w.api("agency", "cpam-69")
        lst = cpam.must("Consents/List", C.ListConsentsRequest(
            dossier_id=did)).consents
        assert any(x.agency_kind == "cpam" for x in lst), lst
        for x in lst:
            assert x.agency == cpam.uri or x.agency_kind == "cpam", x
            assert x.granted_by == "" and x.mandate_id == "", x
        lst = caf.must("Consents/List", C.ListConsentsRequest(
            dossier_id=did)).consents
        assert all(x.agency == caf.uri for x in lst) and lst, lst
    checks.run("scopes: an agency lists the consents it holds (URI or kind) "
               "and no other", agency_lists)

    def case_reference():
        other = w.person("s-hugo")
        ph = w.api("person", "s-hugo")
        grant_consent(ph, other, agency=caf.uri, case="CAF-2026-001")
        doc = w.docs[other]
        req = PB.documents.GetDocumentRequest(
            dossier_id=other, document_id=doc,
            basis=basis(case="CAF-2026-999"))
        c, det, _ = caf.call("Documents/Get", req)
        assert c == SC.PERMISSION_DENIED and "case reference" in det, \
            (c.name, det)
        req.basis.case_reference = "CAF-2026-001"
        c, det, _ = caf.call("Documents/Get", req)
        assert c == SC.OK, (c.name, det)
    checks.run("scopes: a consent given for one case reference serves that "
               "case only", case_reference)

    def chain_logged():
        mark = w.d.log_mark()
        dv = w.persons["d-valid"][0] if "d-valid" in w.persons else None
        if dv is None:
            dv = w.person("s-zoe")
            grant_mandate(w.api("person", "s-zoe"), dv, fs.uri)
        c, det, _ = read_doc(fs, dv, w.docs[dv])
        assert c == SC.OK, (c.name, det)
        time.sleep(0.2)
        log = w.d.log_since(mark)
        assert ("chain=\"%s -> dossier %s" % (fs.uri, dv)) in log, log[-800:]
    checks.run("scopes: an act under mandate carries the chain delegate -> "
               "person", chain_logged)


# --- denylist ------------------------------------------------------------------------------------

def run_denylist(checks, w):
    C = PB.consents
    path = os.path.join(w.d.keys, "revoked-principals")
    if not os.path.exists(os.path.join(w.d.keys, "agency-caf-13.crt")):
        w.d.issue("agency", "caf-13")
    caf13 = w.api("agency", "caf-13")

    def hup_and_wait(mark):
        w.d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            log = w.d.log_since(mark)
            if "fn=policy_denylist_load" in log:
                time.sleep(0.05)  # the "keeping" line follows a bad file
                return w.d.log_since(mark)
            time.sleep(0.05)
        raise AssertionError("no reload seen in the log")

    def run():
        caf13.must("Consents/List", C.ListConsentsRequest())
        with open(path, "w") as f:
            f.write("# revoked by the operator\n\n%s\n" % uri("agency",
                                                              "caf-13"))
        hup_and_wait(w.d.log_mark())
        c, det, _ = caf13.call("Consents/List", C.ListConsentsRequest())
        assert c == SC.PERMISSION_DENIED and "revoked by the operator" in det, \
            (c.name, det)
        c, det, _ = caf13.call("Persons/FindByNir", PB.persons.FindByNirRequest(
            nir=nir_for(1001), basis=basis()))
        assert c == SC.PERMISSION_DENIED, (c.name, det)
        w.caf.must("Consents/List", C.ListConsentsRequest())
        print("#   caf-13 after SIGHUP -> %s" % det)
        # A bad file keeps the list in force.
        with open(path, "w") as f:
            f.write("pas une URI\n")
        log = hup_and_wait(w.d.log_mark())
        assert "line 1" in log, log[-500:]
        c, det, _ = caf13.call("Consents/List", C.ListConsentsRequest())
        assert c == SC.PERMISSION_DENIED, "a bad file emptied the list"
        os.unlink(path)
        hup_and_wait(w.d.log_mark())
        caf13.must("Consents/List", C.ListConsentsRequest())
    checks.run("denylist: revoked-principals is enforced after SIGHUP, a bad "
               "file keeps it, removing it restores access", run)


# --- race with SIGKILL -----------------------------------------------------------------------------

def run_race(checks):
    rounds = int(os.environ.get("DOSSIER_RACE_ROUNDS", "3"))
    work = tempfile.mkdtemp(prefix="dossier-consent-race-")
    state = {"revoked": {}, "reads": [], "granted": [], "shots": [],
             "refused": 0}
    lock = threading.Lock()
    dossiers = []  # (ident, did, doc)
    ok = False
    try:
        for rnd in range(rounds):
            d = harness.Daemon(name="dossierd-race-%d" % rnd, workdir=work)
            d.start()
            w = World(d)
            try:
                if rnd == 0:
                    for i in range(4):
                        ident = "race-%d" % i
                        did = w.person(ident)
                        dossiers.append((ident, did, w.docs[did]))
                else:
                    # Every revocation acknowledged before the SIGKILL holds.
                    for cid, (did, doc, _) in list(state["revoked"].items()):
                        c, det, _ = read_doc(w.caf, did, doc, consent_id=cid)
                        assert c == SC.PERMISSION_DENIED, \
                            "consent %s revoked before the kill reads " \
                            "again after the restart: %s" % (cid, c.name)
                    print("# round %d: %d revocations acknowledged before the "
                          "kill still hold" % (rnd, len(state["revoked"])))
                race_round(w, d, dossiers, state, lock, rnd)
            finally:
                w.close()
        d = harness.Daemon(name="dossierd-race-final", workdir=work)
        d.start()
        w = World(d)
        try:
            for cid, (did, doc, _) in list(state["revoked"].items()):
                c, det, _ = read_doc(w.caf, did, doc, consent_id=cid)
                assert c == SC.PERMISSION_DENIED, cid
        finally:
            w.close()
            problems = d.stop()
            assert not problems, problems
        ok = True
    finally:
        if ok or not os.environ.get("DOSSIER_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    # The detector itself must catch a late read (a negative control).
    assert find_violations({"reads": [("cX", 10.0), ("cY", 5.0)],
                            "revoked": {"cX": (None, None, 9.0),
                                        "cY": (None, None, 9.0)}}) == \
        [("cX", 1.0)], "the violation detector is broken"
    violations = find_violations(state)
    reads_ok = len(state["reads"])
    print("# race: %d rounds, %d consents granted, %d revoked (acknowledged),"
          " %d reads succeeded, %d refused as revoked" % (
              rounds, len(state["granted"]), len(state["revoked"]), reads_ok,
              state["refused"]))
    print("# race: one-shot consents raced by 8 readers each: successes per "
          "consent %s" % state["shots"])
    print("# violations = %d" % len(violations))
    for cid, late in violations[:10]:
        print("#   read under %s started %.3fs after its revocation returned"
              % (cid, late))
    assert not violations, "%d reads succeeded after their revocation" % len(
        violations)
    assert all(n == 1 for n in state["shots"]), \
        "one-shot consents used %s times" % state["shots"]
    assert reads_ok > 0 and state["revoked"], "the race did not race"


def find_violations(state):
    """Reads that succeeded although they started after the revocation of
    the consent they named had returned OK: (consent id, lateness)."""
    out = []
    for cid, t_start in state["reads"]:
        rv = state["revoked"].get(cid)
        if rv is not None and t_start > rv[2]:
            out.append((cid, t_start - rv[2]))
    return out


def race_round(w, d, dossiers, state, lock, rnd):
    caf = w.caf
    stop = threading.Event()
    errors = []

    # One-shot: 8 readers at once, exactly one succeeds.
    ident, did, doc = dossiers[0]
    me = w.api("person", ident)
    cid = grant_consent(me, did, agency=caf.uri, one_shot=True,
                        facts=()).consent.consent_id
    chans = [Api(d, "agency", "caf-75") for _ in range(8)]
    barrier = threading.Barrier(8)
    wins = []

    def shot(api):
        barrier.wait()
        c, det, _ = read_doc(api, did, doc, consent_id=cid)
        if c == SC.OK:
            wins.append(1)
        elif c != SC.PERMISSION_DENIED:
            errors.append("one-shot read: %s %r" % (c.name, det))
    ts = [threading.Thread(target=shot, args=(a,)) for a in chans]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for a in chans:
        a.close()
    state["shots"].append(len(wins))
    c, det, _ = read_doc(caf, did, doc, consent_id=cid)
    assert c == SC.PERMISSION_DENIED and "already used" in det, (c.name, det)

    def granter(ident, did, doc):
        api = Api(d, "person", ident)
        rng = random.Random(hash((ident, rnd)))
        try:
            while not stop.is_set():
                c, det, v = api.call("Consents/Grant",
                                     PB.consents.GrantConsentRequest(
                                         consent=consent_msg(
                                             did, agency=caf.uri, facts=())),
                                     timeout=10)
                if c != SC.OK:
                    continue
                xid = v.consent.consent_id
                with lock:
                    state["granted"].append((xid, did, doc))
                time.sleep(rng.uniform(0, 0.05))
                c, det, _ = api.call("Consents/Revoke",
                                     PB.consents.RevokeConsentRequest(
                                         dossier_id=did, consent_id=xid),
                                     timeout=10)
                if c == SC.OK:
                    t_ok = time.monotonic()
                    with lock:
                        state["revoked"][xid] = (did, doc, t_ok)
        finally:
            api.close()

    def reader(n):
        api = Api(d, "agency", "caf-75")
        rng = random.Random(n * 7919 + rnd)
        try:
            while not stop.is_set():
                with lock:
                    if not state["granted"]:
                        pick = None
                    else:
                        # Mostly recent consents: the interesting ones.
                        g = state["granted"]
                        pick = g[-1 - min(len(g) - 1, int(rng.expovariate(0.3)))]
                if pick is None:
                    time.sleep(0.01)
                    continue
                xid, did, doc = pick
                t0 = time.monotonic()
                c, det, _ = read_doc(api, did, doc, consent_id=xid,
                                     timeout=10)
                if c == SC.OK:
                    with lock:
                        state["reads"].append((xid, t0))
                elif c == SC.PERMISSION_DENIED and "revoked" in det:
                    with lock:
                        state["refused"] += 1
        finally:
            api.close()

    threads = [threading.Thread(target=granter, args=x) for x in dossiers]
    threads += [threading.Thread(target=reader, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    time.sleep(random.uniform(1.0, 2.5))
    d.kill(signal.SIGKILL)  # in the middle of everything
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
    print("# round %d: SIGKILL with grants, revocations and reads in flight"
          % rnd)


# --- main -----------------------------------------------------------------------------------------

def load():
    global PB
    tmp = tempfile.mkdtemp(prefix="dossier-consent-pb-")
    pb = harness.load_protos(tmp)
    pb.persons = importlib.import_module("dossier.v1.persons_pb2")
    pb.common = importlib.import_module("dossier.v1.common_pb2")
    pb.consents = importlib.import_module("dossier.v1.consents_pb2")
    PB = pb
    return tmp


def main():
    harness.require_binaries()
    want = [a for a in sys.argv[1:] if a in SCENARIOS] or list(SCENARIOS)
    tmp = load()
    checks = harness.Checks()
    try:
        shared = [s for s in want if s != "race"]
        if shared:
            d = harness.Daemon(name="dossierd-consent")
            d.start()
            w = World(d)
            try:
                if "matrix" in want:
                    cols = columns()
                    t = checks.run("matrix: set up persons, consents and "
                                   "mandates in every state",
                                   setup_world, w, cols)
                    if t is not None:
                        print("# set-up took %.1fs (including the wait for "
                              "expiry)" % t)
                        checks.run("matrix: every RPC x every principal x "
                                   "every consent and mandate state",
                                   run_matrix, checks, w, cols)
                if "cross" in want:
                    run_cross(checks, w)
                if "revoke" in want:
                    run_revoke(checks, w)
                if "validity" in want:
                    run_validity(checks, w)
                if "scopes" in want:
                    run_scopes(checks, w)
                if "denylist" in want:
                    run_denylist(checks, w)
            finally:
                w.close()
                checks.add_problems("daemon stopped cleanly", d.stop())
        if "race" in want:
            checks.run("race: concurrent grants, revocations and reads with "
                       "SIGKILL between rounds", run_race, checks)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
