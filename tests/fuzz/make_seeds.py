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


if __name__ == "__main__":
    main()
