#!/usr/bin/python3
"""test_backup.py -- dossier-admin backup, verify-backup and restore against
a real dossierd under load, with the stock python3-grpcio client.

What it checks:

  under load   persons enrolled, documents deposited (one to four 64 KiB
               chunks), a first signed checkpoint; then four grpcio threads
               deposit and read (bytes compared) while `dossier-admin
               backup` runs; none of their calls fails.
  verify       `dossier-admin verify-backup` accepts the backup (manifest
               signature, hashes, the audit root recomputed, every
               document decrypted).
  restore      `dossier-admin restore` to other paths; a daemon started on
               the restored copy (same keys) serves: every document whose
               deposit was acknowledged before the backup began reads back
               byte-identical, and so does every document of the restored
               dossiers that was deposited during the backup and made it in;
               the audit log's root over the manifest's size is the
               manifest's root; every entry of the backed-up log has an
               InclusionProof that verifies (RFC 9162) against a checkpoint
               of the restored daemon, whose signature verifies; the
               ConsistencyProof from the checkpoint taken before the backup
               verifies.
  tampered     verify-backup refuses, with a message naming the problem:
               a flipped byte in data/data.mdb, an edited manifest, a bad
               signature, a sealed document chunk altered and the manifest
               re-signed with the audit key (so only decryption can tell),
               an audit entry altered likewise; restore refuses a backup
               older than the daemon's last checkpoint.

Run from the repository root, after make all asan:

    /usr/bin/python3 tests/interop/test_backup.py
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_audit as ta  # noqa: E402

import grpc  # noqa: E402

SC = grpc.StatusCode
KiB = 1024


def admin(args, check=True):
    p = harness.run_admin(args, check=False)
    out = (p.stdout + p.stderr).strip()
    if check and p.returncode != 0:
        raise AssertionError("dossier-admin %s: exit %d\n%s" % (
            " ".join(args), p.returncode, out))
    return p.returncode, out


def indent(text, n=12, tail=False):
    """The first |n| lines of |text| (the last |n| with |tail|) as
    comments."""
    lines = text.splitlines()
    more = len(lines) - n
    if more > 0:
        lines = (["... (%d lines)" % more] + lines[-n:] if tail else
                 lines[:n] + ["... (%d more lines)" % more])
    return "\n".join("#     " + ln for ln in lines)


def read_manifest(bdir):
    m = {"files": {}}
    with open(os.path.join(bdir, "MANIFEST")) as f:
        for line in f:
            parts = line.split()
            if parts[0] == "file":
                m["files"][parts[1]] = (int(parts[2]), parts[3])
            elif len(parts) == 2:
                m[parts[0]] = parts[1]
    return m


def resign(keys, bdir, changed):
    """Rewrites MANIFEST with the new size and SHA-256 of the files in
    |changed| and signs it with keys/audit.key, as someone holding the
    audit key would: only the deeper checks can then catch the change."""
    from cryptography.hazmat.primitives import serialization
    with open(os.path.join(keys, "audit.key"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    out = []
    with open(os.path.join(bdir, "MANIFEST")) as f:
        for line in f:
            parts = line.split()
            if parts[0] == "file" and parts[1] in changed:
                with open(os.path.join(bdir, parts[1]), "rb") as g:
                    data = g.read()
                line = "file %s %d %s\n" % (parts[1], len(data),
                                            hashlib.sha256(data).hexdigest())
            out.append(line)
    text = "".join(out).encode()
    with open(os.path.join(bdir, "MANIFEST"), "wb") as f:
        f.write(text)
    with open(os.path.join(bdir, "MANIFEST.sig"), "w") as f:
        f.write(key.sign(text).hex() + "\n")


class Load:
    """Threads that deposit and read while the backup runs."""

    def __init__(self, d, world, persons, nthreads=4):
        self.d, self.w = d, world
        self.persons = persons  # [(ident, dossier id)]
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.deposits = []  # (dossier id, document id, content, t_done)
        self.reads = 0
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(i,))
                        for i in range(nthreads)]

    def run(self, i):
        caf = ta.Api(self.d, "agency", "caf-75")
        ident, did = self.persons[i % len(self.persons)]
        me = ta.Api(self.d, "person", ident)
        n = 0
        try:
            while not self.stop.is_set():
                n += 1
                content = ta.det_bytes(10000 * (i + 1) + n,
                                       (n % 3) * 70 * KiB + 1000 + n)
                c, det, r = caf.call("Documents/Put",
                                     ta.put_requests(did, content))
                if c != SC.OK:
                    self.errors.append("put: %s" % ta.describe(c, det))
                    continue
                doc_id = r.meta.document_id
                with self.lock:
                    self.deposits.append((did, doc_id, content,
                                          time.monotonic()))
                c, det, metas, data = ta.read_doc(me, did, doc_id)
                if c != SC.OK or data != content:
                    self.errors.append("read %s: %s, %d bytes of %d" % (
                        doc_id, ta.describe(c, det), len(data),
                        len(content)))
                with self.lock:
                    self.reads += 1
        except Exception as e:  # noqa: BLE001
            self.errors.append("thread %d: %r" % (i, e))
        finally:
            caf.close()
            me.close()

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(120)


def main():
    harness.require_binaries()
    pbtmp = ta.load()
    tmp = tempfile.mkdtemp(prefix="dossier-backup-")
    checks = harness.Checks()
    t0 = time.monotonic()
    work = os.path.join(tmp, "w")
    bdir = os.path.join(tmp, "backup")
    st = {}
    d = harness.Daemon(name="dossierd-backup", workdir=work)
    d2 = None
    try:
        d.start()
        w = ta.World(d)
        keys = d.keys
        ks_live = os.path.join(keys, "keystore")

        def setup():
            persons = []
            for k in range(4):
                ident = "bk-%d" % k
                did = w.enrol(ident)
                persons.append((ident, did))
                for j in range(5):
                    content = ta.det_bytes(100 * k + j,
                                           j * 60 * KiB + 500 + k)
                    w.deposit(did, content, name="piece-%d.pdf" % j)
            st["persons"] = persons
            st["before"] = [(did, doc, c) for did, docs in w.docs.items()
                            for doc, c in docs]
            st["cp1"] = w.auditor.checkpoint()
            ta.verify_checkpoint(st["cp1"], ta.load_pub(keys))
            print("#   %d persons, %d documents, checkpoint 1 of %d "
                  "entries" % (len(persons), len(st["before"]),
                               st["cp1"].tree_size))
        if not ta.ran(checks, "setup: persons, documents, a checkpoint",
                      setup):
            return checks.finish()

        def backup_under_load():
            load = Load(d, w, st["persons"])
            load.start()
            time.sleep(0.5)
            t_begin = time.monotonic()
            try:
                rc, out = admin(["backup", "--dir", keys, "--data", d.data,
                                 "--backup", bdir])
            finally:
                t_end = time.monotonic()
                time.sleep(0.3)
                load.finish()
            print(indent(out))
            st["load"] = load
            st["t_begin"] = t_begin
            done_before = [x for x in load.deposits if x[3] < t_begin]
            st["before"] += [(did, doc, c) for did, doc, c, _ in done_before]
            st["during"] = [(did, doc, c) for did, doc, c, t in load.deposits
                            if t >= t_begin]
            print("#   backup took %.2fs while 4 threads made %d deposits "
                  "and %d reads (%d deposits acknowledged before it began)" %
                  (t_end - t_begin, len(load.deposits), load.reads,
                   len(done_before)))
            assert not load.errors, "calls failed under load: %s" % (
                load.errors[:5],)
            assert load.deposits and load.reads, "the load did nothing"
        if not ta.ran(checks, "under load: dossier-admin backup while 4 "
                      "grpcio threads deposit and read; no call fails",
                      backup_under_load):
            return checks.finish()
        st["manifest"] = read_manifest(bdir)

        def verify_ok():
            rc, out = admin(["verify-backup", "--dir", keys, "--backup",
                             bdir])
            print(indent(out, 20))
            assert "backup verified" in out
            assert " 0 dossiers" not in out
        ta.ran(checks, "verify: verify-backup accepts the backup (signature, "
               "hashes, audit root, every document decrypted)", verify_ok)

        # Tampered copies, each refused with its reason.
        def tampered(name, change, want):
            def run():
                b = os.path.join(tmp, "tamper-" + name)
                shutil.copytree(bdir, b)
                change(b)
                rc, out = admin(["verify-backup", "--dir", keys, "--backup",
                                 b], check=False)
                print(indent(out, 3, tail=True))
                assert rc == 1, "verify-backup exit %d, want 1" % rc
                assert want in out, "no %r in the message" % want
                shutil.rmtree(b, ignore_errors=True)
            return run

        def flip_file(rel, off=None):
            def change(b):
                p = os.path.join(b, rel)
                with open(p, "r+b") as f:
                    size = os.fstat(f.fileno()).st_size
                    pos = size // 2 if off is None else off
                    f.seek(pos)
                    c = f.read(1)
                    f.seek(pos)
                    f.write(bytes([c[0] ^ 0x01]))
            return change

        def edit_manifest(b):
            p = os.path.join(b, "MANIFEST")
            with open(p) as f:
                text = f.read()
            n = int(st["manifest"]["audit_tree_size"])
            text = text.replace("audit_tree_size %d" % n,
                                "audit_tree_size %d" % (n - 1))
            with open(p, "w") as f:
                f.write(text)

        def bad_sig(b):
            p = os.path.join(b, "MANIFEST.sig")
            with open(p) as f:
                s = f.read().strip()
            s = ("0" if s[0] != "0" else "1") + s[1:]
            with open(p, "w") as f:
                f.write(s + "\n")

        def alter_record(db, b):
            import lmdb
            env = lmdb.open(os.path.join(b, "data"), max_dbs=32, subdir=True,
                            lock=True, map_size=1 << 30)
            h = env.open_db(db.encode(), create=False)
            with env.begin(write=True, db=h) as txn:
                cur = txn.cursor()
                items = list(cur)
                assert items, "no record in %s" % db
                k, v = items[len(items) // 2]
                v = bytearray(v)
                v[len(v) // 2] ^= 0x01
                txn.put(k, bytes(v))
            env.close()
            for f in ("lock.mdb",):
                p = os.path.join(b, "data", f)
                if os.path.exists(p):
                    os.unlink(p)
            resign(keys, b, ["data/data.mdb"])

        for name, change, want in (
                ("data-byte", flip_file("data/data.mdb"),
                 "differs from the manifest"),
                ("keystore-byte", flip_file("keystore/data.mdb"),
                 "differs from the manifest"),
                ("manifest", edit_manifest, "signature does not verify"),
                ("signature", bad_sig, "signature does not verify"),
                ("chunk-resigned", lambda b: alter_record("chunks", b),
                 "does not decrypt"),
                ("audit-resigned", lambda b: alter_record("audit", b),
                 "fails its hash")):
            ta.ran(checks, "tampered: %s refused (%r)" % (name, want),
                   tampered(name, change, want))

        def no_backup_over():
            rc, out = admin(["backup", "--dir", keys, "--data", d.data,
                             "--backup", bdir], check=False)
            assert rc == 1 and "not empty" in out, out
        ta.ran(checks, "backup: refuses to write into a non-empty "
               "directory", no_backup_over)

        checks.add_problems("first daemon stopped cleanly", d.stop())
        w.close()

        rdata = os.path.join(tmp, "restored-data")
        rks = os.path.join(tmp, "restored-keystore")

        def restore():
            rc, out = admin(["restore", "--dir", keys, "--backup", bdir,
                             "--data", rdata, "--keystore", rks])
            print(indent(out, 16))
            assert os.path.exists(os.path.join(rdata, "data.mdb"))
            assert os.path.exists(os.path.join(rks, "data.mdb"))
            rc, out = admin(["restore", "--dir", keys, "--backup", bdir,
                             "--data", rdata, "--keystore", rks],
                            check=False)
            assert rc == 1 and "not empty" in out, \
                "restore over a restored store: %s" % out
        if not ta.ran(checks, "restore: to other paths (and not over a "
                      "store)", restore):
            return checks.finish()

        d2 = harness.Daemon(name="dossierd-restored", workdir=work,
                            extra_args=["--data", rdata, "--keystore", rks])
        d2.start()
        w2 = ta.World(d2)

        def read_back():
            apis = {}
            idents = {did: ident for ident, did in st["persons"]}
            for did, doc, content in st["before"]:
                ident = idents[did]
                api = apis.setdefault(ident, w2.me(ident))
                c, det, metas, data = ta.read_doc(api, did, doc)
                assert c == SC.OK, "%s: %s" % (doc, ta.describe(c, det))
                assert data == content, "%s: %d bytes differ" % (
                    doc, len(content))
            present = 0
            for did, doc, content in st["during"]:
                api = apis[idents[did]]
                c, det, metas, data = ta.read_doc(api, did, doc)
                if c == SC.NOT_FOUND:
                    continue
                assert c == SC.OK and data == content, \
                    "%s (deposited during the backup): %s" % (
                        doc, ta.describe(c, det))
                present += 1
            print("#   %d documents acknowledged before the backup read "
                  "back byte-identical; %d of %d deposited during it are "
                  "in the copy, identical" % (len(st["before"]), present,
                                              len(st["during"])))
        ta.ran(checks, "restore: the daemon on the restored copy serves "
               "every document acknowledged before the backup, "
               "byte-identical", read_back)

        def proofs():
            aud = w2.auditor
            pub = ta.load_pub(keys)
            n = int(st["manifest"]["audit_tree_size"])
            root = bytes.fromhex(st["manifest"]["audit_root"])
            cp = aud.checkpoint()
            ta.verify_checkpoint(cp, pub)
            entries = aud.query_all()
            assert len(entries) >= n >= st["cp1"].tree_size
            leaves = [ta.leaf_hash(e.SerializeToString()) for e in entries]
            t = ta.Tree(leaves)
            assert t.root(n) == root, "root over the manifest's %d " \
                "entries differs" % n
            assert t.root(cp.tree_size) == cp.root_hash
            for i in range(n):
                c, det, r = aud.inclusion(i, cp.tree_size)
                assert c == SC.OK, describe_i(i, c, det)
                assert r.leaf_hash == leaves[i]
                assert ta.verify_inclusion(i, cp.tree_size, leaves[i],
                                           list(r.path), cp.root_hash), \
                    "inclusion of %d in %d" % (i, cp.tree_size)
            cp1 = st["cp1"]
            c, det, r = aud.consistency(cp1.tree_size, cp.tree_size)
            assert c == SC.OK, ta.describe(c, det)
            assert ta.verify_consistency(cp1.tree_size, cp.tree_size,
                                         cp1.root_hash, cp.root_hash,
                                         list(r.path))
            c, det, r = aud.consistency(n, cp.tree_size)
            assert c == SC.OK and ta.verify_consistency(
                n, cp.tree_size, root, cp.root_hash, list(r.path))
            st["cp2"] = cp
            print("#   %d inclusion proofs (every backed-up entry) and the "
                  "consistency proofs %d->%d and %d->%d verify; the "
                  "manifest's root is the log's root at %d" % (
                      n, cp1.tree_size, cp.tree_size, n, cp.tree_size, n))
        ta.ran(checks, "restore: every audit inclusion proof of the "
               "backed-up log and the consistency proofs from the "
               "checkpoints before the backup verify", proofs)
        w2.close()
        checks.add_problems("restored daemon stopped cleanly", d2.stop())
        d2 = None

        def older_refused():
            # The restored daemon handed out a checkpoint beyond the
            # backup: the backup is now older than the log vouched for.
            assert st["cp2"].tree_size > int(
                st["manifest"]["audit_tree_size"])
            rc, out = admin(["restore", "--dir", keys, "--backup", bdir,
                             "--data", os.path.join(tmp, "r2"),
                             "--keystore", os.path.join(tmp, "r2ks")],
                            check=False)
            print(indent(out, 3, tail=True))
            assert rc == 1, "exit %d" % rc
            assert "does not extend the last checkpoint" in out, out
            assert not os.path.exists(os.path.join(tmp, "r2", "data.mdb"))
        ta.ran(checks, "tampered: restore refuses a backup older than the "
               "last checkpoint", older_refused)
    finally:
        if d2 is not None:
            d2.stop()
        if not d.stopped and d.proc is not None:
            d.stop()
        shutil.rmtree(pbtmp, ignore_errors=True)
        if os.environ.get("DOSSIER_KEEP") or checks.failed:
            print("# kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("# total %.1fs" % (time.monotonic() - t0))
    return checks.finish()


def describe_i(i, c, det):
    return "InclusionProof(%d): %s" % (i, ta.describe(c, det))


if __name__ == "__main__":
    sys.exit(main())
