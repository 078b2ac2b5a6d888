#!/usr/bin/python3
"""test_cli.py -- the `dossier` command against a real dossierd.

What it checks (scenarios, all by default):

  person    every subcommand of a person and an aidant -- enrol, documents
            put/list/show/get, consents grant/list/revoke, mandates
            grant/list/revoke, situation show/update, history (text,
            --json, --html), export (a real tar), erase (refused when
            piped without --yes, then done with --yes) -- run in English
            and in French, checking the words printed and the exit status;
            every --json output parses and matches the data (ids, types,
            dates, sizes, SHA-256 of the file sent).
  agency    find by NIR, deposit, fetch under consent with purpose and case
            (the bytes match), refused without consent (exit 3), consents
            held; events watch and situation declare once the daemon
            serves dossier.v1.Events (before that: exit 1 and a sentence).
  auditor   audit query with filters (--outcome denied finds the refusals,
            --agency), audit checkpoint --keep twice (the second is proved
            to extend the first), audit query --save + audit verify exit 0.
  errors    daemon down, certificate missing, not found, denied, bad date,
            file too big (a daemon with --max-document 1 MiB), in English
            and in French: exit status 5, 6, 4, 3, 2, 1, and stderr is one
            line "dossier: ..." saying what happened and what to do, with
            no raw library code (errno names, OpenSSL or nghttp2 codes).
  help      --help of every subcommand exits 0 with an example, in both
            languages; unknown commands and options exit 2.
  tmux      a 50 MiB deposit in a tmux pane (send-keys, capture-pane)
            shows the progress bar and its 100%; the same with stderr piped
            shows no bar at all.
  html      the page of `dossier history --html` opens in headless
            Chromium without console errors; a screenshot is written to
            build/test-cli/history.png (and the page next to it).
  demo      the story of `make demo` runs to the end.

Run from the repository root, after make all asan:

    /usr/bin/python3 tests/interop/test_cli.py [scenario...]

Environment: as harness.py, plus DOSSIER_CLI (default build/bin/dossier).
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo  # noqa: E402
import harness  # noqa: E402

SCENARIOS = ("help", "person", "agency", "auditor", "errors", "settings",
             "tmux", "html", "demo")
NIR = "185057800608491"
NIR2 = "279033901204452"
EN = {"LANG": "C.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
FR = {"LANG": "fr_FR.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
# What must never reach a person: raw codes of the libraries under us.
RAW = re.compile(r"ECONN|EPIPE|ENOENT|errno|SSL_|ssl3_|error:[0-9A-F]{6,}|"
                 r"NGHTTP2_|-2000[0-9]|level=|fn=|Traceback")
OUT = os.path.join(harness.TOP, "build", "test-cli")


def cli_path():
    return harness._path_from_env("DOSSIER_CLI", "build/bin/dossier")


class Cli:
    """Runs the dossier command against daemon |d| from |work|."""

    def __init__(self, d, work):
        self.d = d
        self.work = work
        self.env = dict(os.environ)
        self.env.update({
            "DOSSIER_KEYS": d.keys if d else "/nonexistent",
            "DOSSIER_SERVER": d.addr if d else "127.0.0.1:1",
            "XDG_CONFIG_HOME": os.path.join(work, "config"),
        })
        for k in ("DOSSIER_AS", "DOSSIER_CERT", "DOSSIER_KEY", "DOSSIER_CA",
                  "LANGUAGE"):
            self.env.pop(k, None)

    def run(self, args, lang=EN, want=0, stdin=None, as_=None, env=None):
        argv = [cli_path()]
        if as_:
            argv += ["--as", as_]
        argv += list(args)
        e = dict(self.env)
        e.update(lang)
        if env:
            e.update(env)
        p = subprocess.run(argv, cwd=self.work, env=e, input=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=300)
        if want is not None and p.returncode != want:
            raise AssertionError("%s: exit %d, want %d\n--- stdout\n%s--- "
                                 "stderr\n%s" % (" ".join(argv[1:]),
                                                 p.returncode, want, p.stdout,
                                                 p.stderr))
        return p

    def json(self, args, **kw):
        p = self.run(["--json"] + list(args), **kw)
        try:
            return json.loads(p.stdout)
        except ValueError as e:
            raise AssertionError("%s: --json does not parse (%s): %r" % (
                " ".join(args), e, p.stdout[:400]))

    def both(self, args, en, fr, **kw):
        """Runs |args| in English and French; each output must contain
        its words."""
        for lang, words in ((EN, en), (FR, fr)):
            p = self.run(args, lang=lang, **kw)
            text = p.stdout + p.stderr
            for w in words:
                assert w in text, "%s (%s): %r not in %r" % (
                    " ".join(args), lang["LANG"], w, text[:800])
        return p


def one_sentence(p, words=()):
    """stderr is one line starting 'dossier: ', with |words|, no raw code."""
    err = p.stderr.strip("\n")
    lines = err.splitlines()
    assert len(lines) == 1, "want one line on stderr, got %r" % err
    assert lines[0].startswith("dossier: "), lines[0]
    assert not RAW.search(lines[0]), "raw code in %r" % lines[0]
    for w in words:
        assert w in lines[0], "%r not in %r" % (w, lines[0])
    return lines[0]


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# --- scenarios ---------------------------------------------------------------

HELPS = ("documents list", "documents show", "documents get", "documents put",
         "consents grant", "consents revoke", "consents list",
         "mandates grant", "mandates revoke", "mandates list",
         "situation show", "situation update", "situation declare",
         "history", "export", "erase", "enrol", "agency find",
         "agency deposit", "agency fetch", "agency consents", "agency watch",
         "events watch", "audit query", "audit checkpoint", "audit verify")


def scenario_help(checks, work):
    c = Cli(None, work)

    def helps():
        for cmd in HELPS:
            for lang, word in ((EN, "Example:"), (FR, "Exemple :")):
                p = c.run(cmd.split() + ["--help"], lang=lang)
                name = "events watch" if cmd == "agency watch" else cmd
                assert word in p.stdout and "dossier " + name in p.stdout, \
                    "%s --help (%s): %r" % (cmd, lang["LANG"], p.stdout)
        p = c.run(["--help"], lang=FR)
        assert "utilisation" in p.stdout and "Exemple" in p.stdout
    checks.run("help: --help of every subcommand, with an example, EN+FR",
               helps)

    def usage():
        for lang in (EN, FR):
            one_sentence(c.run(["frobnicate"], lang=lang, want=2))
            one_sentence(c.run(["documents", "frob"], lang=lang, want=2))
            one_sentence(c.run(["documents", "list", "--bogus"], lang=lang,
                               want=2))
            one_sentence(c.run(["documents", "get", "p1"], lang=lang, want=2),
                         ["-o"])
        one_sentence(c.run(["consents", "grant", "--agency", "x"], lang=FR,
                           want=2), ["voyez"])
    checks.run("help: usage errors exit 2 with one sentence", usage)

    def man_and_completion():
        man = os.path.join(harness.TOP, "packaging", "man", "dossier.1")
        p = subprocess.run(["groff", "-mdoc", "-Tutf8", "-ww"], stdin=open(
            man), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert p.returncode == 0 and not p.stderr, p.stderr
        page = re.sub(r".\x08", "", p.stdout)
        sect = page[page.index("EXIT STATUS"):page.index("FILES")]
        for code in ("0", "1", "2", "3", "4", "5", "6"):
            assert re.search(r"^\s+%s\s" % code, sect, re.M), code
        for cmd in HELPS:
            assert cmd.split()[-1] in page, cmd
        fr = os.path.join(harness.TOP, "packaging", "man", "fr", "dossier.1")
        p = subprocess.run(["groff", "-mdoc", "-Tutf8", "-ww", "-K", "utf8"],
                           stdin=open(fr), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        assert p.returncode == 0 and not p.stderr, p.stderr
        page = re.sub(r".\x08", "", p.stdout)
        assert "CODE DE SORTIE" in page and "Introuvable" in page
        comp = os.path.join(harness.TOP, "packaging", "completion", "dossier")
        script = ('source %s; COMP_WORDS=(dossier docu); COMP_CWORD=1; '
                  '_dossier; echo "${COMPREPLY[*]}"; '
                  'COMP_WORDS=(dossier audit query --out); COMP_CWORD=3; '
                  '_dossier; echo "${COMPREPLY[*]}"' % comp)
        p = subprocess.run(["bash", "--norc", "-c", script],
                           stdout=subprocess.PIPE, text=True)
        assert p.stdout.splitlines() == ["documents", "--outcome"], p.stdout
    def catalogue():
        # Every message of the code has its French translation.
        pot = os.path.join(work, "dossier.pot")
        srcs = sorted(os.path.join("client", f) for f in os.listdir(
            os.path.join(harness.TOP, "client"))
            if f.endswith(".c") and f not in ("dossier_admin.c", "devpki.c")
            and not f.startswith("admin_"))
        subprocess.run(["xgettext", "--from-code=UTF-8", "-k_", "-kN_", "-o",
                        pot] + srcs, cwd=harness.TOP, check=True)
        p = subprocess.run(["msgcmp", "po/fr.po", pot], cwd=harness.TOP,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        assert p.returncode == 0, "untranslated messages:\n" + p.stderr
    if shutil.which("msgcmp"):
        checks.run("help: every message has its French translation",
                   catalogue)
    if shutil.which("groff"):
        checks.run("help: man page renders, lists every exit status; bash "
                   "completion completes", man_and_completion)


def enrol(c, nir=NIR, principal="demo"):
    return c.json(["enrol", "--nir", nir, "--given-name", "Camille",
                   "--family-name", "Martin", "--birth-date", "12/05/1985",
                   "--principal", principal],
                  as_="delegate-france-services-demo")["dossier_id"]


def scenario_person(checks, d, work):
    c = Cli(d, work)
    st = {}

    def do_enrol():
        st["dossier"] = enrol(c)
        assert re.match(r"^d[0-9a-z]{26}$", st["dossier"]), st["dossier"]
        # A second enrolment of the same certificate is refused clearly.
        p = c.run(["enrol", "--nir", NIR2, "--given-name", "A",
                   "--family-name", "B", "--birth-date", "1990-01-01",
                   "--principal", "demo"], as_="delegate-france-services-"
                  "demo", want=1)
        one_sentence(p, ["already"])
    checks.run("person: enrol by an aidant (--json dossier id)", do_enrol)

    def put_list_show_get():
        path = os.path.join(work, "facture-edf.pdf")
        with open(path, "wb") as f:
            f.write(b"%PDF-1.4 facture " + os.urandom(3000))
        c.both(["documents", "put", "facture-edf.pdf", "--type",
                "justificatif-domicile", "--issued", "2026-11-20",
                "--valid-until", "20/02/2027"],
               ["Deposited facture-edf.pdf as Proof of address"],
               ["facture-edf.pdf déposé comme Justificatif de domicile"])
        docs = c.json(["documents", "list"])
        assert len(docs) == 2, docs
        m = docs[-1]
        assert m["type"] == "justificatif-domicile", m
        assert m["issued"] == "2026-11-20" and \
            m["valid_until"] == "2027-02-20", m
        assert m["size"] == os.path.getsize(path), m
        assert m["sha256"] == sha(path), m
        assert m["dossier_id"] == st["dossier"], m
        assert m["issuer"].endswith("/person/demo"), m
        st["doc"] = m["document_id"]
        c.both(["documents", "list"],
               ["Proof of address", "2026-11-20", "2027-02-20", "VALID UNTIL"],
               ["Justificatif de domicile", "20/11/2026", "20/02/2027",
                "VALABLE JUSQU'AU"])
        c.both(["documents", "show", st["doc"]],
               ["Issued:", "20 November 2026", m["sha256"]],
               ["Délivré le :", "20 novembre 2026", m["sha256"]])
        one = c.json(["documents", "show", st["doc"]])
        assert one == m, (one, m)
        for lang in (EN, FR):
            out = os.path.join(work, "back-%s.pdf" % lang["LANG"][:2])
            c.run(["documents", "get", st["doc"], "-o", out], lang=lang)
            assert sha(out) == m["sha256"], "downloaded bytes differ"
        j = c.json(["documents", "get", st["doc"], "-o", "back.pdf"])
        assert j["sha256"] == m["sha256"] and j["size"] == m["size"], j
    checks.run("person: documents put/list/show/get, EN+FR, --json matches",
               put_list_show_get)

    def consents():
        p = c.both(["consents", "grant", "--agency", "agency-cpam-69",
                    "--types", "justificatif-domicile", "--purpose",
                    "CSS-INSTRUCTION", "--purpose-text", "Complémentaire "
                    "santé solidaire", "--until", "30/06/2027"],
                   ["granted: agency cpam-69 may read it for CSS-INSTRUCTION"
                    " until 30 June 2027"],
                   ["donné : organisme cpam-69 peut le lire pour "
                    "CSS-INSTRUCTION jusqu'au 30 juin 2027"])
        g = c.json(["consents", "grant", "--agency-kind", "caf", "--types",
                    "justificatif-domicile", "--situation", "--purpose",
                    "RSA-INSTRUCTION", "--purpose-text", "RSA", "--until",
                    "+30", "--receipt", "receipt.txt"])
        with open(os.path.join(work, "receipt.txt"), "rb") as f:
            receipt = f.read()
        assert receipt.startswith(b"dossier-consent-receipt v1"), receipt
        assert hashlib.sha256(receipt).hexdigest() == g["receipt_sha256"]
        cid = g["consent"]["consent_id"]
        assert g["consent"]["agency_kind"] == "caf" and \
            g["consent"]["situation"] is True, g
        lst = c.json(["consents", "list"])
        assert {x["consent_id"] for x in lst} >= {cid}, lst
        assert all(x["state"] == "active" for x in lst), lst
        c.both(["consents", "list"], ["in force", "every caf", "UNTIL"],
               ["en cours", "tout organisme caf", "JUSQU'AU"])
        c.both(["consents", "revoke", cid], ["revoked"], ["retiré"],
               want=None)  # the second run revokes an already revoked one
        after = {x["consent_id"]: x for x in
                 c.json(["consents", "list", "--all"])}
        assert after[cid]["revoked"] is True, after[cid]
        assert after[cid]["state"] == "revoked"
        assert cid not in {x["consent_id"] for x in
                           c.json(["consents", "list"])}
        c.both(["consents", "list", "--all"], ["revoked"], ["révoqué"])
        st["cpam_consent"] = [x for x in lst if x["agency"].endswith(
            "/agency/cpam-69")][0]["consent_id"]
    checks.run("person: consents grant/list/revoke, EN+FR, receipt, --json",
               consents)

    def mandates():
        c.both(["mandates", "grant", "--delegate", "france-services-demo",
                "--actions", "read,deposit", "--days", "30"],
               ["granted: aidant france-services-demo may read,deposit"],
               ["donné : aidant france-services-demo peut read,deposit"])
        lst = c.json(["mandates", "list"])
        assert len(lst) == 2 and all(
            x["delegate"].endswith("/delegate/france-services-demo")
            for x in lst), lst
        assert lst[0]["actions"] == ["read", "deposit"], lst
        held = c.json(["mandates", "list"],
                      as_="delegate-france-services-demo")
        assert {x["mandate_id"] for x in held} == \
            {x["mandate_id"] for x in lst}, held
        # The aidant reads under the mandate.
        docs = c.json(["documents", "list", "--dossier", st["dossier"]],
                      as_="delegate-france-services-demo")
        assert st["doc"] in {x["document_id"] for x in docs}
        mid = lst[0]["mandate_id"]
        c.both(["mandates", "revoke", mid], ["revoked"], ["retiré"],
               want=None)
        lst2 = c.json(["mandates", "list", "--all"])
        assert [x for x in lst2 if x["mandate_id"] == mid][0]["revoked"]
        c.both(["mandates", "list", "--all"], ["AIDANT", "revoked"],
               ["AIDANT", "révoqué"])
    checks.run("person: mandates grant/list/revoke, EN+FR, the aidant reads",
               mandates)

    def situation():
        c.both(["situation", "update", "--line1", "3 rue des Lilas",
                "--postal-code", "69003", "--city", "Lyon", "--effective",
                "2026-12-01"],
               ["Situation updated"], ["Situation mise à jour"])
        c.run(["situation", "update", "--add-member",
               "Lina,Martin,2026-11-28,enfant"])
        s = c.json(["situation", "show", "--history"])
        cur = s["current"]
        assert cur["address"]["city"] == "Lyon", cur
        assert cur["address"]["line1"] == "3 rue des Lilas"
        assert cur["household"][0]["given_name"] == "Lina", cur
        assert cur["household"][0]["birth_date"] == "2026-11-28"
        assert len(s["history"]) >= 3, s["history"]
        c.both(["situation", "show"],
               ["3 rue des Lilas, 69003 Lyon", "Household:", "28 November "
                "2026"],
               ["3 rue des Lilas, 69003 Lyon", "Foyer :", "28 novembre 2026"])
        one_sentence(c.run(["situation", "update", "--effective",
                            "31/02/2026"], want=2), ["31/02/2026"])
    checks.run("person: situation update/show, EN+FR, --json", situation)

    def history():
        c.both(["history"], ["deposited document", "granted consent",
                             "revoked consent"],
               ["a déposé le document", "a donné le consentement",
                "a retiré le consentement", "décembre"])
        h = c.json(["history"])
        actions = [x["entry"]["action"] for x in h]
        assert "Documents.Put" in actions and "Consents.Grant" in actions
        assert all(x["entry"]["dossier_id"] in ("", st["dossier"])
                   for x in h), "another dossier's entry in the history"
        assert all(x["text"] for x in h)
        p = c.run(["history", "--html", "h.html"])
        with open(os.path.join(work, "h.html"), encoding="utf-8") as f:
            page = f.read()
        assert page.startswith("<!DOCTYPE html>") and "<svg" in page
        assert "http://" not in page.replace(
            'xmlns="http://www.w3.org/2000/svg"', ""), "external reference"
        assert "<script" not in page
    checks.run("person: history text EN+FR, --json, --html", history)

    def export():
        c.both(["export", "-o", "mine.tar"], ["a tar archive"],
               ["une archive tar"])
        with tarfile.open(os.path.join(work, "mine.tar")) as t:
            names = t.getnames()
            man = json.load(t.extractfile("manifest.json"))
        assert "manifest.json" in names and "situation.json" in names, names
        assert any(n.startswith("documents/") and n.endswith(
            "facture-edf.pdf") for n in names), names
        j = c.json(["export", "-o", "mine2.tar"])
        assert j["size"] == os.path.getsize(os.path.join(work, "mine2.tar"))
        assert man is not None
    checks.run("person: export (a real tar), EN+FR, --json", export)

    def erase():
        # A second person to erase, so the first stays for the others.
        c2 = Cli(d, work)
        d.issue("person", "eraseme")
        enrol(c2, nir=NIR2, principal="eraseme")
        for lang in (EN, FR):
            p = c2.run(["erase"], as_="person-eraseme", lang=lang, want=2,
                       stdin="yes\n")
            one_sentence(p, ["--yes"])
        c2.run(["documents", "list"], as_="person-eraseme")
        # A person without a dossier is told how to get one.
        d.issue("person", "nodossier")
        one_sentence(c2.run(["documents", "list"], as_="person-nodossier",
                            want=3), ["dossier enrol"])
        p = c2.run(["erase", "--yes"], as_="person-eraseme")
        assert "erased" in p.stdout, p.stdout
        p = c2.run(["documents", "list"], as_="person-eraseme", want=None)
        assert p.returncode != 0
        one_sentence(p)
    checks.run("person: erase refuses without a terminal or --yes, then "
               "erases", erase)
    return st


def scenario_agency(checks, d, work, st):
    c = Cli(d, work)
    caf, cpam = "agency-caf-75", "agency-cpam-69"

    def find_deposit():
        for lang, word in ((EN, "Dossier "), (FR, "Dossier ")):
            p = c.run(["agency", "find", NIR, "--purpose", "RSA-INSTRUCTION",
                       "--case", "CAF-1"], as_=caf, lang=lang)
            assert st["dossier"] in p.stdout and word in p.stdout
        j = c.json(["agency", "find", NIR, "--purpose", "RSA-INSTRUCTION",
                    "--case", "CAF-1"], as_=caf)
        assert j["dossier_id"] == st["dossier"]
        one_sentence(c.run(["agency", "find", NIR], as_=caf, want=2),
                     ["--purpose"])
        one_sentence(c.run(["agency", "find", "279033901299967", "--purpose",
                            "X", "--case", "Y"], as_=caf, want=None))
        path = os.path.join(work, "attestation.pdf")
        with open(path, "wb") as f:
            f.write(b"%PDF attestation caf " + os.urandom(1000))
        c.both(["agency", "deposit", st["dossier"], "attestation.pdf",
                "--type", "attestation-paiement-caf", "--issued", "today",
                "--valid-until", "+90"], ["CAF payment certificate"],
               ["Attestation de paiement CAF"], as_=caf)
        j = c.json(["agency", "deposit", st["dossier"], "attestation.pdf",
                    "--type", "attestation-paiement-caf", "--issued",
                    "today"], as_=caf)
        assert j["issuer"].endswith("/agency/caf-75") and \
            j["sha256"] == sha(path), j
        st["att"] = j["document_id"]
    checks.run("agency: find by NIR, deposit, EN+FR, --json", find_deposit)

    def fetch():
        # The consent of the person scenario covers justificatif-domicile.
        args = ["agency", "fetch", st["dossier"], "--type",
                "justificatif-domicile", "--purpose", "CSS-INSTRUCTION",
                "--case", "CPAM-1", "-o"]
        c.run(args + ["got.pdf"], as_=cpam)
        docs = c.json(["documents", "list"])
        want = [x for x in docs if x["type"] == "justificatif-domicile"][0]
        assert sha(os.path.join(work, "got.pdf")) == want["sha256"]
        c.run(["agency", "fetch", st["dossier"], want["document_id"],
               "--purpose", "CSS-INSTRUCTION", "--case", "CPAM-1", "-o",
               "got2.pdf"], as_=cpam, lang=FR)
        # Another type, or another purpose: refused, and nothing written.
        for lang, word in ((EN, "refused"), (FR, "refusé")):
            p = c.run(["agency", "fetch", st["dossier"], "--type",
                       "attestation-paiement-caf", "--purpose",
                       "CSS-INSTRUCTION", "--case", "CPAM-1", "-o",
                       "no.pdf"], as_=cpam, lang=lang, want=3)
            one_sentence(p, [word])
            assert not os.path.exists(os.path.join(work, "no.pdf"))
        held = c.json(["agency", "consents"], as_=cpam)
        assert st["cpam_consent"] in {x["consent_id"] for x in held}, held
        c.both(["agency", "consents"], [st["dossier"], "CSS-INSTRUCTION"],
               [st["dossier"], "en cours"], as_=cpam)
    checks.run("agency: fetch under consent, refused otherwise, consents "
               "held, EN+FR", fetch)

    def events():
        p = c.run(["events", "watch", "--cursor", "0", "--count", "1",
                   "--for", "20"], as_=cpam, want=None)
        if "does not offer this yet" in p.stderr:
            # The daemon does not serve dossier.v1.Events yet.
            assert p.returncode == 1
            one_sentence(p)
            p = c.run(["situation", "declare", "demenagement", "--city",
                       "Villeurbanne"], want=1)
            one_sentence(p)
            print("# dossier.v1.Events not served by this daemon: watch and "
                  "declare only checked for their refusal")
            return
        assert p.returncode == 0, p.stderr
        # The CAF holds a consent by kind with the situation... revoked;
        # give the CPAM one on the situation, declare, and watch for it.
        c.run(["consents", "grant", "--agency", cpam, "--situation",
               "--purpose", "CSS-INSTRUCTION", "--purpose-text", "CSS",
               "--until", "+60"])
        j = c.json(["situation", "declare", "demenagement", "--line1",
                    "8 avenue Jean Jaurès", "--postal-code", "69100",
                    "--city", "Villeurbanne"])
        assert j["revision"] > 0 and j["cursor"], j
        assert any(n["agency"].endswith("/agency/cpam-69")
                   for n in j["notified"]), j
        p = c.run(["situation", "declare", "naissance", "--add-member",
                   "Lina,Martin,2026-11-28,enfant"])
        assert "declared" in p.stdout and "cpam-69" in p.stdout, p.stdout
        print("# " + p.stdout.replace("\n", "\n# "))
        p = c.run(["situation", "declare", "demenagement", "--line1",
                   "12 rue Paul Bert"], lang=FR)
        assert "déclaré" in p.stdout and "prévenu" in p.stdout, p.stdout
        one_sentence(c.run(["situation", "declare", "demenagement",
                            "--line1", "12 rue Paul Bert"], want=2),
                     ["same"])
        one_sentence(c.run(["situation", "declare", "mariage"], want=2),
                     ["mariage"])
        p = c.run(["--json", "events", "watch", "--cursor", "0", "--count",
                   "2", "--for", "30"], as_=cpam)
        evs = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        assert evs and all(e["dossier_id"] == st["dossier"] for e in evs), evs
        assert any(e["kind"] == "situation" for e in evs) or len(evs) == 2
        cur = evs[-1]["cursor"]
        p = c.both(["events", "watch", "--cursor", "0", "--count", "50",
                    "--for", "3"], [st["dossier"], "situation changed"],
                   [st["dossier"], "situation changée"], as_=cpam)
        # Resuming after the last event seen gives the next ones only.
        nxt = c.json(["events", "watch", "--cursor", cur, "--count", "1",
                      "--for", "30"], as_=cpam)
        assert nxt["cursor"] != cur, (nxt, cur)
        # A person may not watch.
        one_sentence(c.run(["events", "watch", "--for", "5"], want=3))
    checks.run("agency: events watch and situation declare", events)


def varint(n):
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def scenario_auditor(checks, d, work, st):
    c = Cli(d, work)
    aud = "auditor-cnil-demo"

    def query():
        rows = c.json(["audit", "query", "--outcome", "denied"], as_=aud)
        assert rows and all(r["outcome"] == "denied" for r in rows), rows
        rows = c.json(["audit", "query", "--agency", "agency-cpam-69"],
                      as_=aud)
        assert rows and all(r["principal"].endswith("/agency/cpam-69")
                            for r in rows), rows
        rows = c.json(["audit", "query", "--dossier", st["dossier"],
                       "--action", "Documents.Put", "--from", "today"],
                      as_=aud)
        assert rows and all(r["action"] == "Documents.Put" and
                            r["dossier_id"] == st["dossier"] for r in rows)
        c.both(["audit", "query", "--limit", "3"], ["OUTCOME", "granted"],
               ["RÉSULTAT", "granted"], as_=aud)
        one_sentence(c.run(["audit", "query", "--from", "2026-02-30"],
                           as_=aud, want=2))
    checks.run("auditor: audit query with filters, EN+FR, --json", query)

    def checkpoints():
        keep = os.path.join(work, "kept")
        j1 = c.json(["audit", "checkpoint", "--keep", keep], as_=aud)
        assert j1["previous_size"] == -1 and j1["tree_size"] > 0, j1
        c.run(["enrol", "--nir", "190017512345655", "--given-name", "X",
               "--family-name", "Y", "--birth-date", "1990-01-01"],
              as_="admin-ops")
        p = c.both(["audit", "checkpoint", "--keep", keep],
                   ["verified with a consistency proof"],
                   ["vérifié par une preuve de cohérence"], as_=aud)
        j2 = c.json(["audit", "checkpoint", "--keep", keep, "-o",
                     "cp.pb"], as_=aud)
        assert j2["extends_previous"] is True and \
            j2["previous_size"] >= j1["tree_size"], j2
        # A kept checkpoint from the future (bigger than the log): the log
        # "shrank" and the auditor is alerted.
        with open(os.path.join(keep, "checkpoint-%d.pb" % j2["tree_size"]),
                  "rb") as f:
            raw = f.read()
        # Field 1 (tree_size, a varint) comes first: replace it.
        assert raw[0] == 0x08, raw[:4]
        i = 1
        while raw[i] & 0x80:
            i += 1
        with open(os.path.join(keep, "checkpoint-999999.pb"), "wb") as f:
            f.write(b"\x08" + varint(999999) + raw[i + 1:])
        p = c.run(["audit", "checkpoint", "--keep", keep], as_=aud, want=1)
        one_sentence(p, ["ALERT", "shrank"])
    checks.run("auditor: checkpoints kept, extension proved, shrink alerted",
               checkpoints)

    def verify():
        c.run(["audit", "query", "--save", "log.bin"], as_=aud)
        for lang, word in ((EN, "everything verifies"),
                           (FR, "tout est vérifié")):
            p = c.run(["audit", "verify", "--entries", "log.bin",
                       "--checkpoint", "cp.pb", "--pub",
                       os.path.join(d.keys, "audit.pub")], lang=lang)
            assert word in p.stdout, p.stdout
    checks.run("auditor: audit query --save then audit verify, EN+FR",
               verify)


def scenario_errors(checks, d, work, st):
    c = Cli(d, work)

    def down():
        dead = Cli(d, work)
        dead.env["DOSSIER_SERVER"] = "127.0.0.1:%d" % harness.free_port()
        for lang, word in ((EN, "does not answer"), (FR, "ne répond pas")):
            one_sentence(dead.run(["documents", "list"], lang=lang, want=5),
                         [word, "make run"])
    checks.run("errors: daemon down -> exit 5, one sentence, EN+FR", down)

    def cert_missing():
        for lang, word in ((EN, "no certificate"), (FR, "pas de certificat")):
            one_sentence(c.run(["documents", "list"], as_="person-nobody",
                               lang=lang, want=6), [word, "--as"])
        nokeys = Cli(d, work)
        nokeys.env["DOSSIER_KEYS"] = os.path.join(work, "nowhere")
        one_sentence(nokeys.run(["documents", "list"], want=6, lang=FR),
                     ["make run"])
    checks.run("errors: certificate missing -> exit 6, EN+FR", cert_missing)

    def not_found():
        for lang, word in ((EN, "not found"), (FR, "introuvable")):
            one_sentence(c.run(["documents", "get",
                                "p" + "0" * 26, "-o", "x.pdf"],
                               lang=lang, want=4), [word])
            one_sentence(c.run(["consents", "revoke", "c" + "0" * 26],
                               lang=lang, want=4), [word])
        assert not os.path.exists(os.path.join(work, "x.pdf"))
    checks.run("errors: not found -> exit 4, EN+FR", not_found)

    def denied():
        for lang, word in ((EN, "refused"), (FR, "refusé")):
            one_sentence(c.run(["documents", "list", "--dossier",
                                st["dossier"], "--purpose", "X", "--case",
                                "Y"], as_="agency-caf-75", lang=lang,
                               want=3), [word])
            one_sentence(c.run(["situation", "show", "--dossier",
                                st["dossier"], "--purpose", "X", "--case",
                                "Y"], as_="agency-cpam-69", lang=lang,
                               want=3), [word])
    checks.run("errors: denied -> exit 3, EN+FR", denied)

    def bad_date():
        for lang, word in ((EN, "is not a date"), (FR, "n'est pas une date")):
            one_sentence(c.run(["documents", "put", "facture-edf.pdf",
                                "--type", "rib", "--issued", "2026-13-01"],
                               lang=lang, want=2), [word, "2026-12-03"])
            one_sentence(c.run(["consents", "grant", "--agency", "cpam-69",
                                "--types", "rib", "--purpose", "P",
                                "--purpose-text", "T", "--until",
                                "demain"], lang=lang, want=2), [word])
    checks.run("errors: bad date -> exit 2, EN+FR", bad_date)

    def too_big():
        with harness.Daemon(name="dossierd (1 MiB documents)",
                            extra_args=["--max-document", "1048576"]) as d2:
            c2 = Cli(d2, work)
            enrol(c2)
            with open(os.path.join(work, "big.bin"), "wb") as f:
                f.write(os.urandom(2 * 1024 * 1024))
            for lang, word in ((EN, "too big"), (FR, "trop gros")):
                one_sentence(c2.run(["documents", "put", "big.bin", "--type",
                                     "rib", "--issued", "today"], lang=lang,
                                    want=1), [word])
            # The dossier holds nothing of it.
            assert c2.json(["documents", "list"]) == []
    checks.run("errors: file too big -> exit 1, EN+FR", too_big)

    def unreadable():
        for lang in (EN, FR):
            one_sentence(c.run(["documents", "put", "missing.pdf", "--type",
                                "rib", "--issued", "today"], lang=lang,
                               want=2), ["missing.pdf"])
    checks.run("errors: unreadable file -> exit 2, EN+FR", unreadable)


def scenario_settings(checks, d, work, st):
    """Flags, then environment, then the configuration file, then the
    defaults of `make run` (keys/dev of the working directory)."""
    def layers():
        home = os.path.join(work, "settings")
        os.makedirs(os.path.join(home, "config", "dossier"), exist_ok=True)
        # keys/dev in the working directory, as after `make run`.
        os.makedirs(os.path.join(home, "keys"), exist_ok=True)
        link = os.path.join(home, "keys", "dev")
        if not os.path.exists(link):
            os.symlink(d.keys, link)
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("DOSSIER_") and k != "DOSSIER_TOP":
                del env[k]
        env.update(EN)
        env["XDG_CONFIG_HOME"] = os.path.join(home, "config")
        conf = os.path.join(home, "config", "dossier", "config")

        def run(args, extra=None, want=0):
            e = dict(env)
            e.update(extra or {})
            p = subprocess.run([cli_path()] + args, cwd=home, env=e,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=60)
            assert p.returncode == want, (args, p.returncode, p.stderr)
            return p

        # Only the server in the file: the person-demo of keys/dev.
        with open(conf, "w") as f:
            f.write("# test\nserver = %s\n" % d.addr)
        docs = json.loads(run(["--json", "documents", "list"]).stdout)
        assert docs and docs[0]["dossier_id"] == st["dossier"], docs
        # The file says as = agency-caf-75: agency consents works (a
        # person's certificate would get another answer).
        with open(conf, "a") as f:
            f.write("as = agency-caf-75\n")
        held = json.loads(run(["--json", "agency", "consents"]).stdout)
        assert isinstance(held, list)
        one_sentence(run(["documents", "list"], want=2), ["dossier_id"])
        # The environment beats the file, the flag beats the environment.
        run(["--json", "documents", "list"], {"DOSSIER_AS": "person-demo"})
        run(["--as", "person-demo", "--json", "documents", "list"],
            {"DOSSIER_AS": "agency-caf-75"})
        one_sentence(run(["documents", "list"], {"DOSSIER_SERVER":
                                                 "127.0.0.1:%d" %
                                                 harness.free_port()},
                         want=5))
        run(["--server", d.addr, "documents", "list"],
            {"DOSSIER_SERVER": "127.0.0.1:1", "DOSSIER_AS": "person-demo"})
        # A bad line in the file is said with its number.
        with open(conf, "a") as f:
            f.write("colour = blue\n")
        one_sentence(run(["documents", "list"], want=2), ["line 4"])
    checks.run("settings: flags > environment > config file > keys/dev "
               "defaults", layers)


def scenario_tmux(checks, d, work, st):
    if not shutil.which("tmux"):
        checks.fail("tmux", "tmux is not installed (make deps)")
        return
    c = Cli(d, work)
    big = os.path.join(work, "scan-50mib.bin")
    with open(big, "wb") as f:
        block = os.urandom(1024 * 1024)
        for _ in range(50):
            f.write(block)
    sock = os.path.join(work, "tmux.sock")
    env_line = " ".join("%s=%s" % (k, c.env[k]) for k in
                        ("DOSSIER_KEYS", "DOSSIER_SERVER", "XDG_CONFIG_HOME"))
    cmd = "%s %s documents put %s --type bulletin-salaire --issued today" % (
        env_line, cli_path(), big)

    def tmux(*args, check=True):
        return subprocess.run(["tmux", "-S", sock] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=30, check=check)

    def bar():
        tmux("new-session", "-d", "-x", "120", "-y", "30", "-s", "cli",
             "-c", work, "env LANG=C.UTF-8 bash --norc --noprofile")
        try:
            tmux("send-keys", "-t", "cli", cmd + "; echo DONE-$?", "Enter")
            seen_bar = False
            text = ""
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                text = tmux("capture-pane", "-p", "-t", "cli").stdout
                if re.search(r"Sending \[#*\.*\]", text):
                    seen_bar = True
                if re.search(r"^DONE-\d+", text, re.M):
                    break
                time.sleep(0.2)
            assert re.search(r"^DONE-0", text, re.M), text
            assert seen_bar, "no progress bar seen:\n" + text
            assert re.search(r"Sending \[#{30}\] 100%  50\.0 MiB / 50\.0 MiB",
                             text), text
            print("# tmux pane after the transfer:")
            sys.stdout.write(harness._indent(text.strip()))
            # Piped: the same deposit, stderr through a pipe -> no bar.
            out = os.path.join(work, "piped.txt")
            tmux("send-keys", "-t", "cli", "clear", "Enter")
            tmux("send-keys", "-t", "cli",
                 "%s 2>&1 | cat > %s; echo PIPED-$?" % (cmd, out), "Enter")
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                text = tmux("capture-pane", "-p", "-t", "cli").stdout
                if re.search(r"^PIPED-\d", text, re.M):
                    break
                time.sleep(0.2)
            assert re.search(r"^PIPED-0", text, re.M), text
            with open(out) as f:
                piped = f.read()
            assert "Deposited" in piped, piped
            assert "\r" not in piped and "Sending" not in piped and \
                "#" not in piped, "a bar when piped: %r" % piped
            assert "Sending" not in text, text
            # erase asks on the terminal: "non" keeps, "oui" erases.
            d.issue("person", "tmuxerase")
            enrol(c, nir="285067512345639", principal="tmuxerase")
            er = "%s LANG=fr_FR.UTF-8 %s --as person-tmuxerase erase" % (
                env_line, cli_path())
            for n, (answer, want_text, code) in enumerate((
                    ("non", "Rien n'a été effacé.", 1),
                    ("oui", "Le dossier a été effacé", 0))):
                # A marker printed first, so that what is read below is
                # this run's screen, not the last one's.
                tmux("send-keys", "-t", "cli", "clear; echo MARK-%d; %s; "
                     "echo ERASE-$?" % (n, er), "Enter")
                deadline = time.monotonic() + 60
                text = ""
                while time.monotonic() < deadline:
                    text = tmux("capture-pane", "-p", "-t", "cli").stdout
                    m = re.search(r"^MARK-%d$" % n, text, re.M)
                    if m and "Tapez « oui »" in text[m.end():]:
                        break
                    time.sleep(0.1)
                assert "Tapez « oui »" in text, text
                tmux("send-keys", "-t", "cli", answer, "Enter")
                while time.monotonic() < deadline:
                    text = tmux("capture-pane", "-p", "-t", "cli").stdout
                    if re.search(r"^ERASE-\d", text, re.M):
                        break
                    time.sleep(0.1)
                assert want_text in text and re.search(
                    r"^ERASE-%d" % code, text, re.M), text
        finally:
            tmux("kill-server", check=False)
        # And the download, piped: no bar either, the bytes intact.
        docs = c.json(["documents", "list", "--type", "bulletin-salaire"])
        p = c.run(["documents", "get", docs[0]["document_id"], "-o",
                   "back-50mib.bin"])
        assert "Downloading" not in p.stderr and "\r" not in p.stderr
        assert sha(os.path.join(work, "back-50mib.bin")) == sha(big)
    checks.run("tmux: progress bar on a 50 MiB deposit, none when piped", bar)


def scenario_html(checks, d, work, st):
    chromium = shutil.which("chromium")
    if chromium is None:
        checks.fail("html", "chromium is not installed (make deps)")
        return
    c = Cli(d, work)

    def page():
        os.makedirs(OUT, exist_ok=True)
        html = os.path.join(OUT, "history.html")
        png = os.path.join(OUT, "history.png")
        if os.path.exists(png):
            os.unlink(png)
        c.run(["history", "--html", html], lang=FR)
        profile = tempfile.mkdtemp(prefix="chromium-", dir=work)
        flags = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-quic", "--no-first-run",
                 "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--user-data-dir=" + profile, "--enable-logging=stderr",
                 "--v=0", "--hide-scrollbars", "--window-size=1100,1400"]
        p = subprocess.run([chromium] + flags + ["--screenshot=" + png,
                                                 "file://" + html],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=120)
        console = [l for l in p.stderr.splitlines() if "CONSOLE" in l]
        bad = [l for l in console if re.search(
            r"error|uncaught|refused|failed", l, re.I)]
        assert not bad, "console errors:\n" + "\n".join(bad)
        assert os.path.exists(png), "no screenshot:\n" + p.stderr[-2000:]
        with open(png, "rb") as f:
            head = f.read(24)
        assert head[:8] == b"\x89PNG\r\n\x1a\n", head
        w = int.from_bytes(head[16:20], "big")
        h = int.from_bytes(head[20:24], "big")
        assert w >= 800 and h >= 800, (w, h)
        assert os.path.getsize(png) > 20000, os.path.getsize(png)
        # The DOM as Chromium parsed it: the timeline is there.
        p = subprocess.run([chromium] + flags + ["--dump-dom",
                                                 "file://" + html],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=120)
        assert "Historique de mon dossier" in p.stdout, p.stdout[:500]
        assert p.stdout.count("<li") >= 5 and "<svg" in p.stdout
        assert "a déposé le document" in p.stdout
        print("# screenshot %s (%dx%d, %d bytes)" % (png, w, h,
                                                      os.path.getsize(png)))
    checks.run("html: history page in headless Chromium, no console error, "
               "screenshot", page)


def scenario_demo(checks, work):
    def story():
        w = os.path.join(work, "demo")
        os.makedirs(w)
        with harness.Daemon(name="dossierd (demo)") as d:
            s = demo.tell(d, w)
        assert s.steps[-1][1] == 0 and \
            "everything verifies" in s.steps[-1][2], s.steps[-1]
    checks.run("demo: the story runs to the end", story)


def main():
    harness.require_binaries()
    if not os.access(cli_path(), os.X_OK):
        print("not ok - %s missing (make all)" % cli_path())
        return 1
    want = sys.argv[1:] or list(SCENARIOS)
    for s in want:
        if s not in SCENARIOS:
            print("unknown scenario %s (%s)" % (s, ", ".join(SCENARIOS)))
            return 2
    checks = harness.Checks()
    work = tempfile.mkdtemp(prefix="dossier-cli-")
    try:
        if "help" in want:
            scenario_help(checks, work)
        needs = [s for s in want if s not in ("help", "demo")]
        if needs:
            with harness.Daemon(name="dossierd (cli)") as d:
                st = scenario_person(checks, d, work)
                if "agency" in want or "auditor" in want or \
                        "errors" in want:
                    scenario_agency(checks, d, work, st)
                if "auditor" in want:
                    scenario_auditor(checks, d, work, st)
                if "errors" in want:
                    scenario_errors(checks, d, work, st)
                if "settings" in want:
                    scenario_settings(checks, d, work, st)
                if "tmux" in want:
                    scenario_tmux(checks, d, work, st)
                if "html" in want:
                    scenario_html(checks, d, work, st)
        if "demo" in want:
            scenario_demo(checks, work)
    finally:
        if not checks.failed:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("# kept %s" % work)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
