#!/usr/bin/python3
"""merkle_ref.py -- an independent reference for tests/unit/test_merkle.c.

Computes RFC 9162 (Certificate Transparency v2) Merkle tree hashes, audit
paths and consistency proofs straight from the recursive definitions of
sections 2.1.1, 2.1.3.1 and 2.1.4.1, with the standard library only, for
the deterministic entries "entry-0", "entry-1"...  It shares no code with
daemon/merkle.c, which computes the same things iteratively from stored
subtree hashes.

Output, one item per line (hashes in lowercase hex, a path as its hashes
joined by ',' or '-' when empty):

    leaves <N>                      entries hashed (N = 1000)
    root <size> <hash>              for every size 0..N
    incl <index> <size> <path>      audit path of leaf <index> in <size>
    cons <old> <new> <path>         consistency proof from <old> to <new>
    end                             the last line: the output is whole
"""
import hashlib
import sys

N = 1000


def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n):
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


LEAVES = [leaf_hash(b"entry-%d" % i) for i in range(N)]
_memo = {}


def mth(lo, hi):
    """MTH(D[lo:hi]) as defined in RFC 9162 section 2.1.1."""
    if (lo, hi) in _memo:
        return _memo[(lo, hi)]
    n = hi - lo
    if n == 0:
        h = hashlib.sha256(b"").digest()
    elif n == 1:
        h = LEAVES[lo]
    else:
        k = split(n)
        h = node_hash(mth(lo, lo + k), mth(lo + k, hi))
    _memo[(lo, hi)] = h
    return h


def path(m, lo, hi):
    """PATH(m, D[lo:hi]), section 2.1.3.1; m is relative to lo."""
    n = hi - lo
    if n <= 1:
        return []
    k = split(n)
    if m < k:
        return path(m, lo, lo + k) + [mth(lo + k, hi)]
    return path(m - k, lo + k, hi) + [mth(lo, lo + k)]


def subproof(m, lo, hi, b):
    """SUBPROOF(m, D[lo:hi], b), section 2.1.4.1; m is relative to lo."""
    n = hi - lo
    if m == n:
        return [] if b else [mth(lo, hi)]
    k = split(n)
    if m <= k:
        return subproof(m, lo, lo + k, b) + [mth(lo + k, hi)]
    return subproof(m - k, lo + k, hi, False) + [mth(lo, lo + k)]


def fmt(hashes):
    return ",".join(h.hex() for h in hashes) if hashes else "-"


# Sizes around the powers of two, where the shape of the tree changes.
BIG = [63, 64, 65, 100, 127, 128, 129, 255, 256, 257, 511, 512, 513, 777,
       999, 1000]


def main():
    out = sys.stdout
    out.write("leaves %d\n" % N)
    for size in range(N + 1):
        out.write("root %d %s\n" % (size, mth(0, size).hex()))
    # Every leaf of every small tree; a spread of leaves of the big ones.
    for size in range(1, 41):
        for i in range(size):
            out.write("incl %d %d %s\n" % (i, size, fmt(path(i, 0, size))))
    for size in BIG:
        picks = {0, 1, size // 3, size // 2, size - 2, size - 1}
        picks |= {p for p in (31, 32, 63, 64, 127, 128, 255, 256, 511, 512)
                  if p < size}
        for i in sorted(picks):
            out.write("incl %d %d %s\n" % (i, size, fmt(path(i, 0, size))))
    # Every pair of small trees; a spread of old sizes for the big ones.
    for new in range(1, 41):
        for old in range(1, new + 1):
            out.write("cons %d %d %s\n"
                      % (old, new, fmt(subproof(old, 0, new, True))))
    for new in BIG:
        picks = {1, 2, 3, new // 3, new // 2, new - 1, new}
        picks |= {p for p in (7, 8, 9, 31, 32, 33, 64, 128, 256, 512)
                  if p < new}
        for old in sorted(picks):
            out.write("cons %d %d %s\n"
                      % (old, new, fmt(subproof(old, 0, new, True))))
    out.write("end\n")


if __name__ == "__main__":
    main()
