#!/usr/bin/env python3
"""test_config.py -- dossierd reads its configuration file.

- packaging/dossierd.conf (the packaged default) passes --check-config;
- a daemon started with --config serves with the file's options (diag on
  from the file), and the command line overrides the file;
- every file of a table of bad files makes both --check-config and a real
  start fail with FILE:LINE: reason on stderr; the daemon exits non-zero
  and never listens on its port.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# (file text, line, words of the reason)
BAD_FILES = (
    ("[server]\nlisten\n", 2, "missing '='"),
    ("[server]\nlissten = 127.0.0.1:1\n", 2, "unknown key 'lissten'"),
    ("[nosuch]\nx = 1\n", 1, "unknown section [nosuch]"),
    ("[store]\nmap_size = 12Q\n", 2, "bad number '12Q'"),
    ("[limits]\nmax_message = 10\n", 2, "out of range"),
    ("[limits]\ndrain_timeout_ms = 1\ndrain_timeout_ms = 2\n", 3,
     "duplicate key 'drain_timeout_ms' (first set on line 2)"),
    ("[server]\ndiag = perhaps\n", 2, "bad boolean"),
    ("[log]\nlevel = loud\n", 2, "bad log level"),
    ("# comment\n\nlisten = 127.0.0.1:1\n", 3, "outside any [section]"),
    ("[keys]\ndir = \"/unterminated\n", 2, "unterminated quote"),
)


def port_is_open(port):
    s = socket.socket()
    s.settimeout(0.5)
    try:
        return s.connect_ex(("127.0.0.1", port)) == 0
    finally:
        s.close()


def run(argv, timeout=30):
    return subprocess.run(argv, cwd=harness.TOP, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True,
                          timeout=timeout)


def check_packaged(exe):
    conf = os.path.join(harness.TOP, "packaging", "dossierd.conf")
    p = run([exe, "--check-config", "--config", conf])
    assert p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr)
    assert "configuration OK" in p.stdout, p.stdout


def check_bad_files(exe, tmp, keys, data):
    for i, (text, line, words) in enumerate(BAD_FILES):
        path = os.path.join(tmp, "bad-%d.conf" % i)
        with open(path, "w") as f:
            f.write(text)
        want = "%s:%d: " % (path, line)
        p = run([exe, "--check-config", "--config", path])
        assert p.returncode != 0, "check-config accepted bad file %d" % i
        assert want in p.stderr and words in p.stderr, (
            "file %d: want %r and %r in %r" % (i, want, words, p.stderr))
        # A real start with everything else valid must refuse too.
        port = harness.free_port()
        p = run([exe, "--config", path, "--listen", "127.0.0.1:%d" % port,
                 "--keys", keys, "--data", data])
        assert p.returncode != 0, "daemon started on bad file %d" % i
        assert want in p.stderr and words in p.stderr, (
            "file %d: start log lacks %r: %r" % (i, want, p.stderr))
        assert not port_is_open(port), "something listens on %d" % port
        print("#   %s%s" % (want, words))


def check_unreadable(exe, tmp):
    path = os.path.join(tmp, "missing.conf")
    p = run([exe, "--check-config", "--config", path])
    assert p.returncode != 0
    assert "%s: cannot read the file" % path in p.stderr, p.stderr


def config_options():
    """(section, key, command-line name) of every option of config.c."""
    with open(os.path.join(harness.TOP, "daemon", "config.c")) as f:
        text = f.read()
    table = text[text.index("static const struct opt opts[]"):]
    table = table[:table.index("};")]
    found = re.findall(r'\{"([a-z_]+)",\s*"([a-z_]+)",\s*"([a-z-]+)",', table)
    assert len(found) >= 20, "option table not found in config.c"
    return found


def check_every_option_documented():
    def read(rel):
        with open(os.path.join(harness.TOP, rel), encoding="utf-8") as f:
            return f.read()
    conf5 = {l: read("packaging/man/%sdossierd.conf.5" % l)
             for l in ("", "fr/")}
    man8 = {l: read("packaging/man/%sdossierd.8" % l) for l in ("", "fr/")}
    readme = read("README.md")
    packaged = read("packaging/dossierd.conf")
    main_c = read("daemon/main.c")
    missing = []
    for section, key, cli in config_options():
        flag = "\\-\\-" + cli.replace("-", "\\-")
        for lang in ("", "fr/"):
            page = conf5[lang]
            start = page.find(".SS [%s]" % section)
            end = page.find(".SS ", start + 1)
            if start < 0 or (".BI %s " % key) not in page[start:end]:
                missing.append("%sdossierd.conf.5: [%s] %s" % (lang, section,
                                                               key))
            if flag not in man8[lang]:
                missing.append("%sdossierd.8: --%s" % (lang, cli))
        if "`[%s] %s`" % (section, key) not in readme and \
                "`[%s] %s` /" % (section, key.split("_")[0]) not in readme \
                and ("`--%s" % cli) not in readme:
            missing.append("README.md: [%s] %s" % (section, key))
        if "[%s]" % section not in packaged or \
                not re.search(r"(?m)^#?\s*%s = " % key, packaged):
            missing.append("packaging/dossierd.conf: [%s] %s" % (section,
                                                                 key))
        if '{"%s", ' % cli not in main_c:
            missing.append("daemon/main.c: --%s" % cli)
    assert not missing, "undocumented: " + "; ".join(missing)
    print("# %d options, each in dossierd.conf(5), dossierd(8) (English "
          "and French), README.md and packaging/dossierd.conf"
          % len(config_options()))


def check_serves_from_file(tmp):
    # The file turns diag on; the harness starts the daemon without
    # --diag, so an Echo answering proves the file was read.  The file's
    # listen address is overridden by the harness's --listen.
    path = os.path.join(tmp, "good.conf")
    with open(path, "w") as f:
        f.write("[server]\nlisten = 127.0.0.1:1\ndiag = yes\n"
                "[limits]\ndrain_timeout_ms = 2000\n[log]\nlevel = debug\n")
    pb = harness.load_protos(os.path.join(tmp, "pb"))
    with harness.Daemon(diag=False, extra_args=["--config", path]) as d:
        ch = harness.grpc_channel(d)
        harness.echo_once(ch, pb)
        ch.close()
        log = d.log_text()
        assert "port=%d" % d.port in log, "listen not overridden"


def main():
    harness.require_binaries()
    exe = harness.daemon_path()
    c = harness.Checks()
    tmp = tempfile.mkdtemp(prefix="dossier-config-")
    keys = os.path.join(tmp, "keys")
    data = os.path.join(tmp, "data")
    os.makedirs(data, mode=0o700)
    harness.make_keys(keys)
    c.run("packaging/dossierd.conf passes --check-config", check_packaged,
          exe)
    c.run("every bad file: FILE:LINE: reason, and no start",
          check_bad_files, exe, tmp, keys, data)
    c.run("an unreadable file is reported", check_unreadable, exe, tmp)
    c.run("every option is documented", check_every_option_documented)
    c.run("the daemon serves with the file's options, flags override",
          check_serves_from_file, tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
