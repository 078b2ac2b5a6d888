#!/usr/bin/python3
"""demo.py -- `make demo`: the story of the dossier command, step by step,
against a fresh daemon (a temporary directory, fresh keys, a free port;
harness.py).

  1. an aidant of France Services opens the dossier of Camille (person demo);
  2. the CAF finds it by NIR and deposits an attestation de paiement;
  3. Camille lets the CPAM read it, for one purpose, until a date;
  4. the CPAM fetches it, saying why and for which case;
  5. Camille withdraws the consent;
  6. the CPAM tries again and is refused;
  7. Camille reads who saw what (and gets the page of it);
  8. an auditor of the CNIL saves the log and a checkpoint and verifies
     them offline.

Every command is printed as typed, then what it printed and its exit
status.  The story stops at the first step that does not end as it
should, and the script exits 1.  Run from the repository root:

    /usr/bin/python3 tests/interop/demo.py

Environment: as harness.py (DOSSIERD: the daemon; `make demo` uses the
release build), plus DOSSIER_CLI (default build/bin/dossier).  LANG picks
the language of the story's commands as for anyone.
"""

import os
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NIR = "185057800608491"


def cli_path():
    return harness._path_from_env("DOSSIER_CLI", "build/bin/dossier")


class Story:
    def __init__(self, d, work, out=sys.stdout):
        self.d = d
        self.work = work
        self.out = out
        self.env = dict(os.environ)
        self.env["DOSSIER_KEYS"] = d.keys
        self.env["DOSSIER_SERVER"] = d.addr
        self.env["XDG_CONFIG_HOME"] = os.path.join(work, "config")
        self.steps = []

    def say(self, text):
        self.out.write(text + "\n")
        self.out.flush()

    def run(self, args, want=0):
        shown = "dossier " + " ".join(shlex.quote(a) for a in args)
        self.say("$ " + shown)
        p = subprocess.run([cli_path()] + args, cwd=self.work, env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=120)
        for line in (p.stdout + p.stderr).splitlines():
            self.say("  " + line)
        self.say("  [exit %d]" % p.returncode)
        self.steps.append((shown, p.returncode, p.stdout, p.stderr))
        if p.returncode != want:
            raise AssertionError("%s: exit %d, want %d" % (
                shown, p.returncode, want))
        return p

    def step(self, n, text):
        self.say("")
        self.say("== %d. %s" % (n, text))


def tell(d, work, out=sys.stdout):
    """Runs the story on daemon |d| in directory |work|; returns the
    Story (its steps) or raises AssertionError at the first wrong end."""
    s = Story(d, work, out)
    with open(os.path.join(work, "attestation-caf.pdf"), "wb") as f:
        f.write(b"%PDF-1.4\n% attestation de paiement CAF (demo)\n%%EOF\n")

    s.step(1, "France Services opens Camille's dossier / "
              "France Services ouvre le dossier de Camille")
    p = s.run(["--as", "delegate-france-services-demo", "enrol", "--nir", NIR,
               "--given-name", "Camille", "--family-name", "Martin",
               "--birth-date", "12/05/1985", "--principal", "demo"])

    s.step(2, "The CAF finds the dossier by NIR and deposits an attestation"
              " / La CAF trouve le dossier par NIR et dépose une attestation")
    p = s.run(["--as", "agency-caf-75", "--json", "agency", "find", NIR,
               "--purpose", "RSA-INSTRUCTION", "--case", "CAF-2026-118"])
    import json
    dossier = json.loads(p.stdout)["dossier_id"]
    s.run(["--as", "agency-caf-75", "agency", "deposit", dossier,
           "attestation-caf.pdf", "--type", "attestation-paiement-caf",
           "--issued", "today", "--valid-until", "+90"])
    s.run(["documents", "list"])

    s.step(3, "Camille lets the CPAM read it for one purpose / "
              "Camille autorise la CPAM à la lire pour une finalité")
    p = s.run(["--json", "consents", "grant", "--agency", "agency-cpam-69",
               "--types", "attestation-paiement-caf", "--purpose",
               "CSS-INSTRUCTION", "--purpose-text",
               "Complémentaire santé solidaire", "--until", "+180",
               "--receipt", "recu-consentement.txt"])
    consent = json.loads(p.stdout)["consent"]["consent_id"]
    s.run(["consents", "list"])

    s.step(4, "The CPAM fetches the attestation / "
              "La CPAM récupère l'attestation")
    s.run(["--as", "agency-cpam-69", "agency", "fetch", dossier, "--type",
           "attestation-paiement-caf", "--purpose", "CSS-INSTRUCTION",
           "--case", "CPAM-69-4471", "-o", "recu-par-la-cpam.pdf"])

    s.step(5, "Camille withdraws her consent / Camille retire son "
              "consentement")
    s.run(["consents", "revoke", consent])

    s.step(6, "The CPAM tries again and is refused / La CPAM réessaie et "
              "elle est refusée")
    s.run(["--as", "agency-cpam-69", "agency", "fetch", dossier, "--type",
           "attestation-paiement-caf", "--purpose", "CSS-INSTRUCTION",
           "--case", "CPAM-69-4471", "-o", "refus.pdf"], want=3)

    s.step(7, "Camille reads who saw what / Camille lit qui a vu quoi")
    s.run(["history", "--html", "historique.html"])

    s.step(8, "A CNIL auditor verifies the log / Un auditeur de la CNIL "
              "vérifie le journal")
    s.run(["--as", "auditor-cnil-demo", "audit", "checkpoint", "-o",
           "checkpoint.pb"])
    s.run(["--as", "auditor-cnil-demo", "audit", "query", "--save",
           "journal.bin"])
    s.run(["audit", "verify", "--entries", "journal.bin", "--checkpoint",
           "checkpoint.pb", "--pub", os.path.join(d.keys, "audit.pub")])
    s.say("")
    s.say("== The end / Fin")
    return s


def main():
    harness.require_binaries()
    work = tempfile.mkdtemp(prefix="dossier-demo-")
    with harness.Daemon(name="dossierd (demo)") as d:
        try:
            tell(d, work)
        except AssertionError as e:
            print("not ok - demo stopped: %s" % e)
            return 1
    print("ok - the demo ran to the end (files in %s)" % work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
