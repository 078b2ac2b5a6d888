/*
 * history.h -- the person's history, "who saw my dossier": the audit
 * entries of one dossier told as sentences (cmd_history.c), and the same
 * told as one self-contained HTML page (history_html.c).
 */
#ifndef DOSSIER_HISTORY_H
#define DOSSIER_HISTORY_H

#include <stddef.h>
#include <stdio.h>

#include "dossier/v1/audit.pb-c.h"

#include "cli.h"

/* What kind of moment an entry is, for colours and filters. */
enum history_kind {
    HK_DEPOSIT,  /* a document or fact arrived */
    HK_CONSENT,  /* consents and mandates given or withdrawn */
    HK_ACCESS,   /* someone read or looked something up */
    HK_DENIED,   /* someone was refused */
    HK_EVENT,    /* situation, life events, watches, export, erasure */
    HK_OTHER,
};

enum history_kind history_kind_of(const Dossier__V1__AuditEntry *e);

/* The name of a kind, for the legend ("Deposits"...), translated. */
const char *history_kind_name(enum history_kind k);

/* One sentence saying what happened, in the person's language, into
 * |out| (|outsz| bytes): "CAF 75 (agency caf-75) read document p01...
 * for RSA-INSTRUCTION, case CAF-2026-118". */
const char *history_describe(const Dossier__V1__AuditEntry *e, char *out,
                             size_t outsz);

/*
 * Writes the page to |f|: a title, counts by kind, an SVG strip of the
 * moments over time, and the timeline, newest last.  Everything inline
 * (CSS, SVG); no script, no external resource.  Returns 0 or -EIO.
 */
int history_html_write(struct cli *cli, FILE *f,
                       Dossier__V1__AuditEntry *const *entries, size_t n);

#endif
