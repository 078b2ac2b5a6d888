#!/usr/bin/env python3
"""tests/fuzz/make_seeds.py -- writes the seed corpora of the harnesses
that take hand-built binary inputs (tests/fuzz/corpus/<harness>/seed-*).

Run from the repository root; the files it writes are committed.  Inputs
that once crashed a harness are kept beside them as crash-* files and are
never rewritten by this script.  Protobuf is encoded by hand (a few
varints and strings) so that the script needs nothing beyond Python.
"""
import os
import struct

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(num, v):
    return varint(num << 3) + varint(v)


def field_bytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return varint(num << 3 | 2) + varint(len(b)) + b


def frame(msg, flag=0):
    return bytes([flag]) + struct.pack(">I", len(msg)) + msg


def write(harness, name, data):
    d = os.path.join(TOP, "tests", "fuzz", "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def audit_entry(i):
    return (field_varint(1, i) + field_varint(2, 1700000000000 + i) +
            field_bytes(3, "spiffe://dossier.test/agency/caf-75") +
            field_bytes(5, "dossier.v1.Documents/Get") +
            field_bytes(6, "D" + "A" * 26) + field_bytes(11, "granted"))


def checkpoint(size, root=b"\0" * 32):
    return (field_varint(1, size) + field_bytes(2, root) +
            field_varint(3, 1700000000000) + field_bytes(4, b"\0" * 64) +
            field_bytes(5, b"\0" * 8))


def audit_verify_input(flags, cp1, cp2, entries):
    return (bytes([flags]) + struct.pack("<H", len(cp1)) + cp1 +
            struct.pack("<H", len(cp2)) + cp2 + entries)


def main():
    # fuzz_rpc_frame: byte 0 the limit (x 64 bytes), byte 1 the cuts.
    write("fuzz_rpc_frame", "empty-message", b"\x10\x03" + frame(b""))
    write("fuzz_rpc_frame", "two-messages",
          b"\x10\x05" + frame(b"hello") + frame(b"\x08\x01\x12\x03abc"))
    write("fuzz_rpc_frame", "compressed", b"\x10\x00" + frame(b"xx", 1))
    write("fuzz_rpc_frame", "bad-flag", b"\x10\x00" + frame(b"xx", 7))
    write("fuzz_rpc_frame", "too-big", b"\x01\x00" + frame(b"y" * 100))
    write("fuzz_rpc_frame", "truncated", b"\x10\x09" + frame(b"abcdef")[:8])
    write("fuzz_rpc_frame", "timeout-pct", b"\x10\x80" + b"100m%41%zz\xc3\xa9")

    # fuzz_merkle_verify: byte 0 odd = differential (leaf count, index,
    # old size, bit, what), even = raw.
    write("fuzz_merkle_verify", "differential-7",
          b"\x01\x00\x07\x00\x03\x00\x04\x11\x05" + bytes(range(64)))
    write("fuzz_merkle_verify", "differential-256",
          b"\x01\x01\x00\x00\xff\x00\x80\x22\x0a" + bytes(range(256)))
    write("fuzz_merkle_verify", "raw",
          b"\x00" + struct.pack(">QQQ", 5, 8, 3) + b"\x03" + bytes(200))

    # fuzz_audit_verify: flags, checkpoint 1, checkpoint 2, segment.
    seg = b"".join(frame(audit_entry(i)) for i in range(5))
    write("fuzz_audit_verify", "signed-roots",
          audit_verify_input(0x0F, checkpoint(3), checkpoint(5), seg))
    write("fuzz_audit_verify", "one-checkpoint",
          audit_verify_input(0x0A, checkpoint(5), b"", seg))
    write("fuzz_audit_verify", "unsigned", audit_verify_input(
        0x01, checkpoint(2), checkpoint(2), seg))
    write("fuzz_audit_verify", "from-2-french",
          audit_verify_input(0x5E, checkpoint(1), checkpoint(4), seg[60:]))

    # fuzz_config: the packaged file and a few of every kind of line.
    with open(os.path.join(TOP, "packaging", "dossierd.conf"), "rb") as f:
        write("fuzz_config", "packaged", f.read())
    write("fuzz_config", "every-section", b"""# comment
; other comment
[server]
listen = [::1]:7443
trust_domain = dossier.test
diag = yes
[keys]
dir = "/etc/dossier/keys # not a comment"
[store]
data = /var/lib/dossier
map_size = 2G
max_document = 50M   # trailing comment
[limits]
max_message = 4194304
handshake_timeout_ms = 10000
[audit]
retention_days = 365
[log]
level = debug
""")
    write("fuzz_config", "errors", b"""[nowhere]
key
[server]
listen = 127.0.0.1:99999
diag = perhaps
diag = yes
unknown = 1
[store]
map_size = 1T5
data = "unterminated
""")

    # fuzz_conn: raw bytes, or plaintext inside a real TLS session.
    for name, data in conn_inputs().items():
        write("fuzz_conn", name, data)

    # fuzz_requests (and make alloc-fail): method, caller, messages.
    for name, data in requests().items():
        write("fuzz_requests", name, data)


def h2_frame(ftype, flags, stream, payload=b""):
    return (struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) +
            struct.pack(">I", stream) + payload)


def hpack_literal(name, value):
    """A literal header field without indexing, new name (RFC 7541 6.2.2)."""
    name, value = name.encode(), value.encode()
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def h2_request(path, stream=1, extra=()):
    block = b"".join(hpack_literal(n, v) for n, v in (
        (":method", "POST"), (":scheme", "https"), (":path", path),
        (":authority", "localhost"), ("content-type", "application/grpc"),
        ("te", "trailers")) + tuple(extra))
    return h2_frame(1, 0x4, stream, block)


def conn_inputs():
    settings = h2_frame(4, 0, 0)
    health = (settings + h2_request("/grpc.health.v1.Health/Check") +
              h2_frame(0, 0x1, 1, frame(b"")))
    echo = (settings +
            h2_request("/dossier.v1.Diag/Echo", 1, (("grpc-timeout", "2S"),)) +
            h2_frame(0, 0x1, 1, frame(field_bytes(1, b"ping"))))
    stream = (settings + h2_request("/dossier.v1.Diag/EchoStream", 3) +
              h2_frame(0, 0, 3, frame(field_bytes(1, b"a"))) +
              h2_frame(8, 0, 3, struct.pack(">I", 65535)) +
              h2_frame(6, 0, 0, b"12345678") +
              h2_frame(0, 0x1, 3, frame(field_bytes(1, b"b"))))
    reset = (settings + h2_request("/dossier.v1.Diag/Upload", 5) +
             h2_frame(3, 0, 5, struct.pack(">I", 8)) +
             h2_frame(7, 0, 0, struct.pack(">II", 0, 0)))
    split = h2_request("/dossier.v1.Diag/Download", 7)
    continuation = (settings + h2_frame(1, 0, 7, split[9:30]) +
                    h2_frame(9, 0x4, 7, split[30:]) +
                    h2_frame(0, 0x1, 7, frame(field_varint(1, 100000))))
    return {
        # byte 0 even: raw bytes instead of TLS.
        "raw-http": b"\x00\x00GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "raw-clienthello-cut": b"\x00\x00\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        "raw-garbage": b"\x00\x00" + bytes(range(256)),
        # byte 0 odd: TLS; bit 1: the preface is sent first.
        "tls-health": b"\x03\x00" + health,
        "tls-echo-cut": b"\x03\x07" + echo,
        "tls-stream-ping-window": b"\x03\x00" + stream,
        "tls-reset-goaway": b"\x03\x11" + reset,
        "tls-continuation": b"\x03\x00" + continuation,
        "tls-no-preface": b"\x01\x00" + b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + health,
        "tls-http1": b"\x01\x00GET / HTTP/1.1\r\n\r\n",
    }


# The order of drv_methods[] and enum drv_who in tests/fuzz/driver.[ch].
METHODS = """Health/Check Health/Watch ReflV1 ReflV1alpha Diag/Echo Diag/Download
Diag/Upload Diag/EchoStream Persons/Enrol Persons/FindByNir
Persons/GetSituation Persons/UpdateSituation Persons/Export Persons/Erase
Documents/Put Documents/Get Documents/List Documents/LatestValid
Documents/CheckIntegrity Documents/PutFact Documents/GetFacts Consents/Grant
Consents/Revoke Consents/List Mandates/Grant Mandates/Revoke Mandates/List
Audit/Query Audit/GetCheckpoint Audit/InclusionProof Audit/ConsistencyProof
Events/Watch Events/DeclareLifeEvent""".split()
PERSON, AGENCY, AGENCY2, DELEGATE, AUDITOR, ADMIN, STRANGER = range(7)

# Fixture placeholders (driver.h): 27 bytes, replaced by the real ids.
D0, D1, C0, K0, M0 = (("@@" + t).ljust(27, "@") for t in
                      ("D0", "D1", "C0", "K0", "M0"))
CAF = "spiffe://dossier.test/agency/caf-75"
DELEG = "spiffe://dossier.test/delegate/france-services-demo"


def date(y, m, d):
    return field_varint(1, y) + field_varint(2, m) + field_varint(3, d)


def basis(consent=""):
    b = field_bytes(1, "RSA-INSTRUCTION") + field_bytes(2, "dossier-4711")
    return b + (field_bytes(3, consent) if consent else b"")


def request(method, who, *msgs):
    out = bytes([METHODS.index(method), who])
    for m in msgs:
        out += struct.pack(">H", len(m)) + m
    return out


def requests():
    meta = (field_bytes(2, D0) + field_bytes(3, "avis-imposition") +
            field_bytes(5, date(2026, 4, 1)) +
            field_bytes(9, "application/pdf") +
            field_bytes(10, "avis.pdf") + field_varint(11, 10))
    address = (field_bytes(1, "3 rue des Lilas") + field_bytes(3, "75011") +
               field_bytes(4, "Paris") + field_bytes(5, "FR"))
    situation = (field_bytes(1, address) + field_bytes(3, date(2026, 6, 1)) +
                 field_bytes(2, field_bytes(1, "Lou") + field_bytes(2, "Martin") +
                             field_bytes(3, date(2019, 2, 3)) +
                             field_bytes(4, "enfant")))
    consent = (field_bytes(3, CAF) + field_bytes(5, "avis-imposition") +
               field_bytes(8, "RSA-INSTRUCTION") +
               field_bytes(9, "instruction du RSA") +
               field_varint(12, 2000000000) + field_varint(13, 1))
    mandate = (field_bytes(3, DELEG) + field_bytes(4, "deposit") +
               field_bytes(4, "read") + field_bytes(5, "*") +
               field_varint(6, 1795000000) +
               field_varint(7, 1795000000 + 300 * 86400))
    fact = (field_bytes(1, D0) + field_bytes(2, "quotient-familial") +
            field_bytes(3, "812") + field_bytes(4, date(2026, 1, 1)))
    refl_list = field_bytes(7, "")
    refl_file = field_bytes(4, "dossier.v1.Documents")
    return {
        "health-check": request("Health/Check", AGENCY, b""),
        "health-check-service": request("Health/Check", AGENCY,
                                        field_bytes(1, "dossier.v1.Documents")),
        "health-watch": request("Health/Watch", AGENCY, b""),
        "reflection-v1": request("ReflV1", AGENCY, refl_list, refl_file),
        "reflection-v1alpha": request("ReflV1alpha", AUDITOR, refl_file),
        "diag-echo": request("Diag/Echo", AGENCY, field_bytes(1, b"ping")),
        "diag-download": request("Diag/Download", AGENCY,
                                 field_varint(1, 3000) + field_varint(2, 1000)),
        "diag-upload": request("Diag/Upload", AGENCY, field_bytes(1, b"a" * 40),
                               field_bytes(1, b"b")),
        "diag-echostream": request("Diag/EchoStream", AGENCY,
                                   field_bytes(1, b"one"), field_bytes(1, b"two")),
        "enrol": request("Persons/Enrol", ADMIN,
                         field_bytes(1, "2 95 10 99 126 111 93") +
                         field_bytes(2, "Lou") + field_bytes(3, "Martin") +
                         field_bytes(4, date(1995, 10, 9)) +
                         field_bytes(5, situation) + field_bytes(6, "lou")),
        "find-by-nir": request("Persons/FindByNir", AGENCY,
                               field_bytes(1, "185057800608491") +
                               field_bytes(2, basis())),
        "get-situation": request("Persons/GetSituation", AGENCY,
                                 field_bytes(1, D0) + field_bytes(2, basis()) +
                                 field_varint(3, 1)),
        "update-situation": request("Persons/UpdateSituation", PERSON,
                                    field_bytes(1, D0) +
                                    field_bytes(2, situation) +
                                    field_bytes(3, "demenagement")),
        "export": request("Persons/Export", PERSON, field_bytes(1, D0)),
        "erase-unconfirmed": request("Persons/Erase", PERSON,
                                     field_bytes(1, D0)),
        "put": request("Documents/Put", AGENCY, field_bytes(1, meta),
                       field_bytes(2, b"0123456789")),
        "put-delegate": request("Documents/Put", DELEGATE, field_bytes(1, meta),
                                field_bytes(2, b"01234"),
                                field_bytes(2, b"56789")),
        "get": request("Documents/Get", AGENCY,
                       field_bytes(1, D0) + field_bytes(2, C0) +
                       field_bytes(3, basis(K0))),
        "get-person": request("Documents/Get", PERSON,
                              field_bytes(1, D0) + field_bytes(2, C0)),
        "list": request("Documents/List", AGENCY,
                        field_bytes(1, D0) + field_varint(3, 1) +
                        field_bytes(4, basis())),
        "latest-valid": request("Documents/LatestValid", AGENCY,
                                field_bytes(1, D0) +
                                field_bytes(2, "justificatif-domicile") +
                                field_bytes(3, basis())),
        "check-integrity": request("Documents/CheckIntegrity", PERSON,
                                   field_bytes(1, D0) + field_bytes(2, C0)),
        "put-fact": request("Documents/PutFact", AGENCY, field_bytes(1, fact)),
        "get-facts": request("Documents/GetFacts", AGENCY2,
                             field_bytes(1, D0) + field_bytes(3, basis())),
        "consent-grant": request("Consents/Grant", PERSON,
                                 field_bytes(1, consent)),
        "consent-grant-delegate": request("Consents/Grant", DELEGATE,
                                          field_bytes(1, field_bytes(2, D0) +
                                                      consent)),
        "consent-revoke": request("Consents/Revoke", PERSON,
                                  field_bytes(1, D0) + field_bytes(2, K0)),
        "consent-list": request("Consents/List", AGENCY, field_varint(2, 1)),
        "consent-list-person": request("Consents/List", PERSON,
                                       field_bytes(1, D0)),
        "mandate-grant": request("Mandates/Grant", PERSON,
                                 field_bytes(1, mandate)),
        "mandate-revoke": request("Mandates/Revoke", DELEGATE,
                                  field_bytes(1, D0) + field_bytes(2, M0)),
        "mandate-list": request("Mandates/List", DELEGATE, field_varint(2, 1)),
        "audit-query": request("Audit/Query", AUDITOR,
                               field_varint(7, 1) + field_varint(8, 10)),
        "audit-query-person": request("Audit/Query", PERSON,
                                      field_bytes(1, D0)),
        "audit-checkpoint": request("Audit/GetCheckpoint", AUDITOR, b""),
        "audit-inclusion": request("Audit/InclusionProof", AUDITOR,
                                   field_varint(1, 1) + field_varint(2, 3)),
        "audit-consistency": request("Audit/ConsistencyProof", AUDITOR,
                                     field_varint(1, 1) + field_varint(2, 4)),
        "events-watch": request("Events/Watch", AGENCY, b""),
        "events-watch-cursor": request("Events/Watch", AGENCY,
                                       field_bytes(1, "0000000000000001")),
        "events-declare": request("Events/DeclareLifeEvent", PERSON,
                                  field_bytes(1, D0) +
                                  field_bytes(2, "demenagement") +
                                  field_bytes(3, situation)),
        "events-declare-birth": request(
            "Events/DeclareLifeEvent", DELEGATE,
            field_bytes(1, D0) + field_bytes(2, "naissance") +
            field_bytes(3, situation)),
    }


if __name__ == "__main__":
    main()
