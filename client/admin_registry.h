/*
 * admin_registry.h -- the operator's registry of principals (agencies,
 * aidants, auditors, operators, persons) and their revocation.
 *
 * The registry is the text file <keys dir>/principals, written whole and
 * atomically at each change, one principal a line (lines starting with
 * '#' are comments):
 *
 *     <uri> <state> <source> <not-after> <sha256> <registered>
 *
 * uri the principal's SPIFFE URI; state "active" or "revoked"; source
 * "issued" (by dossier-admin from the keys directory's CA) or "external"
 * (a certificate of another CA, registered as given); not-after the
 * certificate's expiry (YYYY-MM-DD); sha256 the certificate's SHA-256
 * fingerprint (hex); registered the time of the last change (UTC,
 * YYYY-MM-DDTHH:MM:SSZ).
 *
 * The daemon does not read the registry: it trusts any certificate its CA
 * file (ca.crt) verifies.  Revocation is what it reads: revoking adds the
 * URI to <keys dir>/revoked-principals (policy.h: one URI a line,
 * reloaded on SIGHUP, checked on every request).  A revoked principal
 * stays in the registry, marked revoked, and registering it again is
 * refused: a new principal takes a new id.
 */
#ifndef DOSSIER_ADMIN_REGISTRY_H
#define DOSSIER_ADMIN_REGISTRY_H

#define REGISTRY_FILE "principals"

/*
 * Records the principal |uri| with the certificate at |cert_path| from
 * |source| ("issued" or "external"), replacing its line if it was there
 * and active.  For an external certificate, checks first that its one URI
 * SAN is |uri| in |trust_domain| and that it verifies against
 * <keys_dir>/ca.crt (else the daemon would refuse it: "add its CA to
 * ca.crt").  Returns 0, ERR_DENIED (revoked before), ERR_INVALID (the
 * certificate does not name |uri| or does not verify), ERR_KEY (no
 * certificate in the file) or a negative errno; every refusal said.
 */
int admin_registry_add(const char *keys_dir, const char *trust_domain,
                       const char *uri, const char *source,
                       const char *cert_path);

/* Refuses (ERR_DENIED, said) a principal |uri| that was revoked: a new
 * one takes a new id.  Returns 0 or that, or a negative errno. */
int admin_registry_check_new(const char *keys_dir, const char *uri);

/* Prints the registry (kind |kind|, or all when NULL), with the state the
 * denylist gives.  Returns 0 or a negative errno, said. */
int admin_registry_list(const char *keys_dir, const char *kind);

/*
 * Revokes |uri|: adds it to revoked-principals (kept sorted, written
 * atomically) and marks it revoked in the registry (added if it was
 * not there).  Revoking twice is not an error.  Returns 0 or a negative
 * errno, said.
 */
int admin_registry_revoke(const char *keys_dir, const char *uri);

#endif
