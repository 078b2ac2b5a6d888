#!/usr/bin/python3
"""test_admin.py -- dossier-admin's operator commands against a real
dossierd: init, register (issued and external CA), list, revoke,
rotate-master, status.

What it checks:

  init        `init` makes the data and audit keys and two empty stores
              that `status` then reads; run twice it keeps the keys.
  register    `register` issues an agency certificate from the keys
              directory's CA and records it; the daemon accepts a deposit
              with it.  A certificate of an external CA is refused until
              that CA is added to ca.crt (message says so), then recorded
              ("external") and, after SIGHUP, accepted by the daemon.  A
              certificate naming another principal is refused.
  list        both appear, active, with their source.
  revoke      `revoke --pid` adds the URI to revoked-principals and sends
              SIGHUP: the next call with that certificate is
              PERMISSION_DENIED; `list` says revoked; registering it again
              is refused.
  rotate      `rotate-master --pid` makes master-2.key and sends SIGHUP;
              `status` then shows every data key under master-2 (the online
              re-wrap ran), and documents still read back.
  status      keys with modes and ages, certificate expiry, stores with
              map use and entries; a key file opened to others makes it
              fail and say chmod 600.

Run from the repository root, after make all asan:

    /usr/bin/python3 tests/interop/test_admin.py
"""

import datetime
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_audit as ta  # noqa: E402

SC = ta.SC


def admin(args, check=True):
    p = harness.run_admin(args, check=False)
    out = (p.stdout + p.stderr).strip()
    if check and p.returncode != 0:
        raise AssertionError("dossier-admin %s: exit %d\n%s" % (
            " ".join(args), p.returncode, out))
    return p.returncode, out


def show(out, n=8):
    for line in out.splitlines()[:n]:
        print("#     " + line)


def external_pki(tmp, uri):
    """An external CA and a client certificate for |uri| signed by it, as
    PEM files in |tmp|.  Returns (ca path, cert path, key path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                            "external agency CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name)
          .issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                         critical=True)
          .add_extension(x509.KeyUsage(True, False, False, False, False,
                                       True, True, False, False),
                         critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(
              ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(
                NameOID.COMMON_NAME, "agency/ext-1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=10))
            .add_extension(x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(uri)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                           critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False,
                                         False, False, False, False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(tmp, n) for n in ("ext-ca.crt", "ext.crt",
                                            "ext.key")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(paths[2], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


def deposit_code(d, did, crt=None, key=None, kind="agency", ident=None):
    """The status of one small deposit on |did| with the given
    certificate."""
    if crt is not None:
        ch = harness.grpc_channel(d, crt=crt, key=key)
    else:
        ch = harness.grpc_channel(d, kind, ident)
    try:
        stub = ch.stream_unary("/dossier.v1.Documents/Put",
                               ta.PB.documents.PutDocumentRequest
                               .SerializeToString,
                               ta.PB.documents.PutDocumentResponse.FromString)
        try:
            stub(ta.put_requests(did, b"attestation " * 50), timeout=30)
            return SC.OK, ""
        except ta.grpc.RpcError as e:
            return ta.rpc_err(e)
    finally:
        ch.close()


def wait_for(fn, what, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.2)


def main():
    harness.require_binaries()
    pbtmp = ta.load()
    tmp = tempfile.mkdtemp(prefix="dossier-admin-")
    checks = harness.Checks()
    t0 = time.monotonic()
    st = {}
    d = harness.Daemon(name="dossierd-admin")
    try:
        def init():
            k, data = os.path.join(tmp, "k"), os.path.join(tmp, "data")
            rc, out = admin(["init", "--dir", k, "--data", data])
            show(out, 6)
            for f in ("master-1.key", "pepper.key", "audit.key", "audit.pub",
                      "keystore/data.mdb"):
                assert os.path.exists(os.path.join(k, f)), f
            assert os.path.exists(os.path.join(data, "data.mdb"))
            with open(os.path.join(k, "master-1.key")) as f:
                before = f.read()
            admin(["init", "--dir", k, "--data", data])
            with open(os.path.join(k, "master-1.key")) as f:
                assert f.read() == before, "init replaced master-1.key"
            rc, out = admin(["status", "--dir", k, "--data", data])
            assert "data store" in out and "master-1" in out, out
            assert out.count("  format 2\n") == 2, out  # both stores
        ta.ran(checks, "init: keys and empty stores; a second run keeps the "
               "keys; status reads them and their format", init)

        d.start()
        w = ta.World(d)
        keys = d.keys
        did = w.enrol("adm-a")
        w.deposit(did, ta.det_bytes(7, 200 * 1024))
        w.consent("adm-a", ta.uri("agency", "caf-75"))

        def register_issued():
            rc, out = admin(["register", "--dir", keys, "--kind", "agency",
                             "--id", "msa-44"])
            show(out, 3)
            c, det = deposit_code(d, did, kind="agency", ident="msa-44")
            assert c == SC.OK, ta.describe(c, det)
        ta.ran(checks, "register: an agency certificate issued from the CA; "
               "the daemon accepts it", register_issued)

        def register_external():
            uri = ta.uri("agency", "ext-1")
            ca, crt, key = external_pki(tmp, uri)
            rc, out = admin(["register", "--dir", keys, "--kind", "agency",
                             "--id", "ext-1", "--cert", crt], check=False)
            show(out, 2)
            assert rc == 1 and "add its CA to" in out, out
            rc, out = admin(["register", "--dir", keys, "--kind", "agency",
                             "--id", "other", "--cert", crt], check=False)
            assert rc == 1 and "does not name" in out, out
            with open(ca) as f, open(os.path.join(keys, "ca.crt"), "a") as g:
                g.write(f.read())
            rc, out = admin(["register", "--dir", keys, "--kind", "agency",
                             "--id", "ext-1", "--cert", crt])
            show(out, 2)
            mark = d.log_mark()
            d.proc.send_signal(ta.signal.SIGHUP)
            wait_for(lambda: "reloaded certificates" in d.log_since(mark),
                     "the reload")
            c, det = deposit_code(d, did, crt=crt, key=key)
            assert c == SC.OK, ta.describe(c, det)
        ta.ran(checks, "register: an external CA's certificate is refused "
               "until its CA is in ca.crt, then registered and accepted "
               "after SIGHUP; one naming another principal is refused",
               register_external)

        def listing():
            rc, out = admin(["list", "--dir", keys, "--kind", "agency"])
            show(out, 5)
            lines = out.splitlines()
            assert any("agency/msa-44 " in ln and " active " in ln and
                       " issued " in ln for ln in lines), out
            assert any("agency/ext-1 " in ln and " active " in ln and
                       " external " in ln for ln in lines), out
        ta.ran(checks, "list: both agencies, active, with their source",
               listing)

        def revoke():
            mark = d.log_mark()
            rc, out = admin(["revoke", "--dir", keys, "--kind", "agency",
                             "--id", "msa-44", "--pid", str(d.pid)])
            show(out, 3)
            with open(os.path.join(keys, "revoked-principals")) as f:
                assert ta.uri("agency", "msa-44") in f.read().split()
            wait_for(lambda: "revoked principals loaded" in
                     d.log_since(mark), "the denylist reload")
            c, det = deposit_code(d, did, kind="agency", ident="msa-44")
            assert c == SC.PERMISSION_DENIED, ta.describe(c, det)
            print("#   after revoke: %s" % ta.describe(c, det))
            rc, out = admin(["list", "--dir", keys])
            assert any("agency/msa-44 " in ln and " revoked " in ln
                       for ln in out.splitlines()), out
            rc, out = admin(["register", "--dir", keys, "--kind", "agency",
                             "--id", "msa-44"], check=False)
            assert rc == 1 and "was revoked" in out, out
            c, det = deposit_code(d, did, kind="agency", ident="caf-75")
            assert c == SC.OK, "caf-75 after revoking msa-44: %s" % (
                ta.describe(c, det))
        ta.ran(checks, "revoke: SIGHUP sent; the revoked agency is refused "
               "at its next call, others are not; list says revoked; no "
               "re-registration", revoke)

        def rotate():
            rc, out = admin(["rotate-master", "--dir", keys, "--pid",
                             str(d.pid)])
            show(out, 3)
            assert os.path.exists(os.path.join(keys, "master-2.key"))

            def rewrapped():
                rc, out = admin(["status", "--dir", keys, "--data", d.data])
                line = [ln for ln in out.splitlines()
                        if "data keys by master key" in ln]
                if line and "master-2:" in line[0] and \
                        "master-1:" not in line[0]:
                    st["status"] = out
                    return line[0]
                return None
            print("#   " + wait_for(rewrapped, "the re-wrap").strip())
            c, det, _, data = ta.read_doc(w.caf, did, w.docs[did][0][0])
            assert c == SC.OK and data == w.docs[did][0][1], \
                ta.describe(c, det)
        ta.ran(checks, "rotate: rotate-master makes master-2 and SIGHUPs; "
               "status shows every data key re-wrapped under it; documents "
               "read", rotate)

        def status():
            out = st.get("status") or admin(["status", "--dir", keys,
                                             "--data", d.data])[1]
            show(out, 30)
            for want in ("server.crt", "expires", "master-2.key", "0600",
                         "map size", "entries", "persons=", "audit="):
                assert want in out, "no %r in status" % want
            p = os.path.join(keys, "pepper.key")
            os.chmod(p, 0o644)
            try:
                rc, out = admin(["status", "--dir", keys, "--data", d.data],
                                check=False)
            finally:
                os.chmod(p, 0o600)
            assert rc == 1 and "chmod 600" in out, out
        ta.ran(checks, "status: keys (modes, ages, expiry), stores (map use, "
               "entries); a key open to others fails it", status)
        w.close()
    finally:
        if d.proc is not None:
            checks.add_problems("daemon stopped cleanly", d.stop())
        shutil.rmtree(pbtmp, ignore_errors=True)
        if os.environ.get("DOSSIER_KEEP") or checks.failed:
            print("# kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("# total %.1fs" % (time.monotonic() - t0))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
