/*
 * audit_verify.h -- the auditor's offline check of the audit log:
 * `dossier audit verify`.
 *
 * Takes what an auditor got from the daemon -- a segment of the log as
 * Audit.Query streams it, and one or two signed checkpoints as
 * Audit.GetCheckpoint answers them -- and the audit public key the auditor
 * holds, and checks them against each other trusting nothing the daemon
 * says: every checkpoint's Ed25519 signature and key id; each entry's
 * index against its position in the segment; the Merkle root of every
 * checkpoint the segment covers, recomputed from the entries' bytes
 * (RFC 9162, merkle.h); and that the second checkpoint extends the first.
 * It prints one line per check and a verdict, in English or French.
 *
 * What it deliberately does not do: talk to the daemon, read the store,
 * fetch proofs, or keep entries: only the right edge of the Merkle tree
 * (at most 64 subtree hashes) is kept while the segment streams by, so
 * memory does not grow with the log.
 *
 * File formats:
 *   entries     the segment: consecutive gRPC length-prefixed messages
 *               (flag byte 0, 4-byte big-endian length, then a serialised
 *               dossier.v1.AuditEntry), in index order, exactly the bytes
 *               Audit.Query sent, the first being entry |from|;
 *   checkpoint  one serialised dossier.v1.Checkpoint (raw protobuf);
 *   public key  the audit public key in PEM (keys/audit.pub), Ed25519.
 */
#ifndef DOSSIER_AUDIT_VERIFY_H
#define DOSSIER_AUDIT_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define AUDIT_VERIFY_CHECKPOINTS_MAX 2

/* What to check.  The strings are not copied; they must outlive the call. */
struct audit_verify_args {
    const char *entries; /* path of the segment */
    /* Paths of the checkpoints, the older first: the second must extend
     * the first. */
    const char *checkpoints[AUDIT_VERIFY_CHECKPOINTS_MAX];
    size_t n_checkpoints; /* 1 or 2 */
    const char *pub;      /* path of the audit public key */
    uint64_t from;        /* index of the segment's first entry */
    bool french;          /* report in French, else in English */
    FILE *out;            /* where the report goes (stdout) */
};

/*
 * Runs every check |a| allows and writes the report to |a->out|: one line
 * per check ("ok: ...", "FAILED: ...", or "not checked: ..." for a check
 * the segment does not allow, e.g. a root when |from| is not 0), then a
 * "verdict: ..." line.  A segment that starts at 0 but stops before a
 * checkpoint's size fails (entries are missing); one that starts later
 * leaves the roots and the extension unchecked, and says so.
 *
 * Returns:
 *   0            every check made verified (some may not have been
 *                possible: they are listed as such);
 *   ERR_CORRUPT  at least one check failed (each failure is a line of the
 *                report: altered, missing, duplicated or reordered
 *                entries, a malformed segment or checkpoint, a root that
 *                does not match, a bad signature or key id, checkpoints
 *                out of order);
 *   or, without a verdict, said on stderr in the report's language
 *   (every file is opened and the checkpoints read before the first report
 *   line, so these come alone, except a read error in the middle of the
 *   segment or a failure of memory or of hashing):
 *   ERR_KEY      |a->pub| holds no Ed25519 public key in PEM;
 *   ERR_INVALID  |a| is malformed (no checkpoint, more than two);
 *   -ENOENT, -EACCES, -EIO... a file cannot be opened or read;
 *   -ENOMEM, or another error of hashing (logged by crypto.c).
 * Pure computation on local files; any thread (it does use stderr).
 */
int audit_verify_run(const struct audit_verify_args *a);

#endif
