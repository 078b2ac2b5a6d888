#!/usr/bin/python3
"""run_node.py -- start dossierd (harness.py) and run test_grpcjs.js on it.

node gets DOSSIER_ADDR, DOSSIER_KEYS, DOSSIER_TOP and DOSSIER_PID.  The
Node test sends SIGTERM itself as its last check (health Watch during a
drain); this script then only waits for the daemon and checks its exit.

Needs tests/interop/node_modules (cd tests/interop && npm ci).

Run from the repository root:  /usr/bin/python3 tests/interop/run_node.py
"""

import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402


def main():
    harness.require_binaries()
    checks = harness.Checks()
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        checks.fail("node", "node is not installed")
        return checks.finish()
    if not os.path.isdir(os.path.join(HERE, "node_modules", "@grpc",
                                      "grpc-js")):
        checks.fail("node_modules", "missing: run `npm ci` in %s" % HERE)
        return checks.finish()
    d = harness.Daemon(name="dossierd[grpc-js]")
    try:
        d.start()
    except harness.HarnessError as e:
        checks.fail("start dossierd", e)
        return checks.finish()
    env = dict(os.environ, DOSSIER_ADDR=d.addr, DOSSIER_KEYS=d.keys,
               DOSSIER_TOP=harness.TOP, DOSSIER_PID=str(d.pid))
    rc = None
    sigterm_sent = False
    try:
        p = subprocess.Popen([node, os.path.join(HERE, "test_grpcjs.js")],
                             cwd=HERE, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        for line in p.stdout:
            if re.match(r"^\d+ passed, \d+ failed", line):
                line = "# node: " + line
            sys.stdout.write(line)
            sys.stdout.flush()
            if line.startswith("# sent SIGTERM"):
                sigterm_sent = True
                d.sigterm_sent_elsewhere()
            # Node's own "N passed, N failed" is folded into ours below.
            if line.startswith("ok - "):
                checks.passed += 1
            elif line.startswith("not ok - "):
                checks.failed.append(line[9:].split(":")[0].strip())
        try:
            rc = p.wait(timeout=150)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
            checks.fail("node", "test_grpcjs.js timed out")
    finally:
        if not sigterm_sent:
            print("# node did not send SIGTERM; the harness does")
        checks.add_problems("daemon exit", d.stop())
    if rc != 0 and not checks.failed:
        checks.fail("node", "test_grpcjs.js exited %s" % rc)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
