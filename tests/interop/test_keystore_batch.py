#!/usr/bin/python3
"""test_keystore_batch.py -- enrolments and erasures share one key-store
commit per writer batch, and stay crash-safe.

Regression test for the key store committed once per enrolment: every
enrolment used to make its DEK durable in a transaction of its own, inside
the writer's batch, so enrolments were serialised on one key-store sync
each (176 enrolments/s in make bench, where a batch of deposits shares one
sync).  The key-store writes of a batch now go into one transaction,
committed just before the batch (writer_on_batch_end).  What must still
hold, checked here against a real daemon:

  burst      200 enrolments and 10 erasures in flight at once (so that they
             share batches) all succeed.
  crash      after SIGKILL and a restart on the same files, every
             acknowledged enrolment has its data key (a deposit on it
             succeeds: the vault opens the DEK), and every acknowledged
             erasure has none (a deposit is refused with NOT_FOUND).
  duplicate  an enrolment refused as a duplicate NIR in the middle of a
             batch does not spoil its neighbours.

Run from the repository root, after make all asan:

    /usr/bin/python3 tests/interop/test_keystore_batch.py
"""

import hashlib
import importlib
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

import grpc  # noqa: E402

PB = None
SC = grpc.StatusCode


def nir_for(i):
    """A distinct valid NIR per integer i (< 10^6)."""
    sex = 1 + i % 2
    month = 1 + i % 12
    commune, order = divmod(i, 1000)
    first = "%d%02d%02d75%03d%03d" % (sex, 50 + i % 40, month,
                                       commune % 1000, order)
    return first + "%02d" % (97 - int(first) % 97)


class Api:
    def __init__(self, d, kind, ident):
        self.ch = harness.grpc_channel(d, kind, ident)
        P, D = PB.persons, PB.documents
        self.enrol = self.ch.unary_unary("/dossier.v1.Persons/Enrol",
                                         P.EnrolRequest.SerializeToString,
                                         P.EnrolResponse.FromString)
        self.erase = self.ch.unary_unary("/dossier.v1.Persons/Erase",
                                         P.EraseRequest.SerializeToString,
                                         P.EraseResponse.FromString)
        self.put = self.ch.stream_unary(
            "/dossier.v1.Documents/Put", D.PutDocumentRequest.SerializeToString,
            D.PutDocumentResponse.FromString)

    def close(self):
        self.ch.close()


def deposit(api, did):
    D = PB.documents
    content = b"avis " + did.encode()
    m = D.DocumentMeta(dossier_id=did, type="avis-imposition",
                       file_name="avis.pdf", media_type="application/pdf",
                       size=len(content),
                       sha256=hashlib.sha256(content).digest(),
                       issued=PB.common.Date(year=2025, month=4, day=2))
    try:
        api.put(iter([D.PutDocumentRequest(meta=m),
                      D.PutDocumentRequest(chunk=content)]), timeout=60)
        return SC.OK
    except grpc.RpcError as e:
        return e.code()


def run(checks, work):
    P = PB.persons
    d = harness.Daemon(name="dossierd-ks-0", workdir=work)
    d.start()
    enrolled, erased = [], []
    try:
        admin = Api(d, "admin", "ops")
        # Ten persons with certificates, enrolled first: erased in the burst.
        people = []
        for k in range(10):
            ident = "ks%d" % k
            d.issue("person", ident)
            did = admin.enrol(P.EnrolRequest(
                nir=nir_for(900000 + k), given_name="P", family_name="N",
                person_principal_id=ident), timeout=60).dossier_id
            people.append((ident, did))
        own = [(did, Api(d, "person", ident)) for ident, did in people]

        def burst():
            futs = [admin.enrol.future(P.EnrolRequest(
                nir=nir_for(i), given_name="P", family_name="N"), timeout=120)
                for i in range(200)]
            # A duplicate NIR amid the burst: refused alone.
            dup = admin.enrol.future(P.EnrolRequest(
                nir=nir_for(7), given_name="P", family_name="N"), timeout=120)
            efuts = [(did, api.erase.future(P.EraseRequest(
                dossier_id=did, confirm=True), timeout=120))
                for did, api in own]
            for f in futs:
                enrolled.append(f.result().dossier_id)
            for did, f in efuts:
                f.result()
                erased.append(did)
            try:
                dup.result()
                codes = [SC.OK]
            except grpc.RpcError as e:
                codes = [e.code()]
            assert codes[0] in (SC.ALREADY_EXISTS, SC.OK), codes
            assert len(set(enrolled)) == 200
        checks.run("burst: 200 enrolments and 10 erasures at once succeed",
                   burst)
        for _, api in own:
            api.close()
        admin.close()
    finally:
        checks.add_problems("first daemon killed cleanly", d.kill())

    d = harness.Daemon(name="dossierd-ks-1", workdir=work)
    d.start()
    try:
        caf = Api(d, "agency", "caf-75")

        def after_crash():
            bad = [did for did in enrolled if deposit(caf, did) != SC.OK]
            assert not bad, "%d enrolled dossiers lost their key, e.g. %s" % (
                len(bad), bad[:3])
            codes = [deposit(caf, did) for did in erased]
            assert all(c == SC.NOT_FOUND for c in codes), codes
        checks.run("crash: after SIGKILL every acknowledged enrolment has "
                   "its key, every acknowledged erasure has none",
                   after_crash)
        caf.close()
    finally:
        checks.add_problems("second daemon stopped cleanly", d.stop())


def main():
    global PB
    harness.require_binaries()
    tmp = tempfile.mkdtemp(prefix="dossier-ks-")
    checks = harness.Checks()
    try:
        PB = harness.load_protos(os.path.join(tmp, "pb"))
        PB.persons = importlib.import_module("dossier.v1.persons_pb2")
        PB.common = importlib.import_module("dossier.v1.common_pb2")
        run(checks, os.path.join(tmp, "work"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
