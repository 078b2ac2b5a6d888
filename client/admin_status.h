/*
 * admin_status.h -- dossier-admin status: the keys and the stores, as an
 * operator checks them before and after a rotation or a restore.
 *
 * Keys: every key, certificate and state file of the keys directory with
 * its mode, its age (from its modification time), and for certificates
 * their expiry; the current master key id and, from the data-key store,
 * how many data keys each master key wraps (a rotation is over when the
 * older ids wrap none).  Stores: map size, bytes in use and the ratio,
 * records per database, the audit log's size.  Opens the stores
 * read-only, so it runs while the daemon serves.
 */
#ifndef DOSSIER_ADMIN_STATUS_H
#define DOSSIER_ADMIN_STATUS_H

/* Prints the status; |keystore_dir| NULL means <keys_dir>/keystore,
 * |data_dir| NULL leaves the data store out.  Returns 0 or an error,
 * said (a key file open to group or others is an error). */
int admin_status_print(const char *keys_dir, const char *data_dir,
                       const char *keystore_dir);

#endif
