/*
 * history_html.c -- the history of a dossier as one HTML page (see
 * history.h), for people who would rather look than read.
 *
 * The page is self-contained: inline CSS, an inline SVG strip that puts
 * every moment on a time axis coloured by kind, then the timeline as a
 * list grouped by day.  No script and no external resource, so it opens
 * the same offline, from a USB stick at a France Services counter, and a
 * strict browser policy has nothing to refuse.  Every text from the log
 * is HTML-escaped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "history.h"

static const char *const colours[] = {
    [HK_DEPOSIT] = "#1f6feb", [HK_CONSENT] = "#2da44e", [HK_ACCESS] = "#8250df",
    [HK_DENIED] = "#cf222e",  [HK_EVENT] = "#bf8700",   [HK_OTHER] = "#6e7781",
};

static void
esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static const char css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,"
    "sans-serif;margin:0;background:#f6f8fa;color:#1f2328}"
    "header{background:#000091;color:#fff;padding:24px 32px}"
    "header h1{margin:0 0 4px;font-size:26px}"
    "header p{margin:0;opacity:.85}"
    "main{max-width:960px;margin:0 auto;padding:24px 32px}"
    ".counts{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 20px;padding:0}"
    ".counts li{list-style:none;background:#fff;border-radius:8px;"
    "padding:10px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08)}"
    ".counts b{font-size:22px;display:block}"
    ".dot{display:inline-block;width:10px;height:10px;border-radius:50%;"
    "margin-right:6px}"
    "svg{background:#fff;border-radius:8px;box-shadow:0 1px 2px "
    "rgba(0,0,0,.08);width:100%;height:auto}"
    "h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;"
    "padding-bottom:4px}"
    "ol{list-style:none;margin:0;padding:0 0 0 18px;border-left:3px solid "
    "#d0d7de}"
    "ol li{position:relative;margin:0 0 10px;padding:8px 12px;background:"
    "#fff;border-radius:6px;box-shadow:0 1px 2px rgba(0,0,0,.06)}"
    "ol li::before{content:'';position:absolute;left:-27px;top:12px;"
    "width:12px;height:12px;border-radius:50%;background:var(--c);"
    "border:2px solid #f6f8fa}"
    "time{color:#57606a;font-variant-numeric:tabular-nums;margin-right:8px}"
    ".denied{border-left:4px solid #cf222e}"
    ".kind{font-size:12px;color:#fff;background:var(--c);border-radius:10px;"
    "padding:1px 8px;margin-left:6px}"
    "footer{color:#57606a;font-size:13px;margin:32px 0}";

/* The SVG strip: one tick per moment on a line from the first to the
 * last, in the colour of its kind. */
static void
svg_strip(struct cli *cli, FILE *f, Dossier__V1__AuditEntry *const *v,
          size_t n)
{
    const int W = 900, H = 120, L = 30, R = 30;
    int64_t t0 = n ? v[0]->time_unix_ms : 0, t1 = n ? v[n - 1]->time_unix_ms : 0;
    char a[64], b[64];

    fprintf(f,
            "<svg viewBox=\"0 0 %d %d\" role=\"img\" "
            "xmlns=\"http://www.w3.org/2000/svg\"><title>",
            W, H);
    esc(f, _("The dossier's moments over time"));
    fprintf(f, "</title>");
    fprintf(f,
            "<line x1=\"%d\" y1=\"60\" x2=\"%d\" y2=\"60\" stroke=\"#d0d7de\" "
            "stroke-width=\"2\"/>",
            L, W - R);
    for (size_t i = 0; i < n; i++) {
        enum history_kind k = history_kind_of(v[i]);
        double x = t1 > t0 ? L + (double)(v[i]->time_unix_ms - t0) *
                                     (W - L - R) / (double)(t1 - t0)
                           : W / 2.0;
        int y = 60 + ((int)k - 2) * 12;
        fprintf(f,
                "<circle cx=\"%.1f\" cy=\"%d\" r=\"6\" fill=\"%s\" "
                "fill-opacity=\"0.8\"><title>",
                x, y, colours[k]);
        char s[1200];
        esc(f, history_describe(v[i], s, sizeof(s)));
        fprintf(f, "</title></circle>");
    }
    if (n > 0) {
        fprintf(f,
                "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#57606a\">",
                L, H - 8);
        esc(f, cli_time_short(cli->french, t0 / 1000, a, sizeof(a)));
        fprintf(f,
                "</text><text x=\"%d\" y=\"%d\" font-size=\"12\" "
                "fill=\"#57606a\" text-anchor=\"end\">",
                W - R, H - 8);
        esc(f, cli_time_short(cli->french, t1 / 1000, b, sizeof(b)));
        fprintf(f, "</text>");
    }
    fprintf(f, "</svg>\n");
}

int
history_html_write(struct cli *cli, FILE *f,
                   Dossier__V1__AuditEntry *const *v, size_t n)
{
    size_t counts[HK_OTHER + 1] = {0};
    int py = 0, pm = 0, pd = 0;
    char day[64], now[64];

    for (size_t i = 0; i < n; i++)
        counts[history_kind_of(v[i])]++;
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta "
               "charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width,"
               "initial-scale=1\">"
               "<meta http-equiv=\"Content-Security-Policy\" "
               "content=\"default-src 'none'; style-src 'unsafe-inline'; "
               "img-src data:\">"
               "<title>",
            cli->french ? "fr" : "en");
    esc(f, _("History of my dossier"));
    fprintf(f, "</title><style>%s</style></head><body>\n<header><h1>", css);
    esc(f, _("History of my dossier"));
    fprintf(f, "</h1><p>");
    esc(f, _("Who deposited, read or asked for what, and when: every access, "
             "refused ones included, from the audit log."));
    fprintf(f, "</p></header>\n<main>\n<ul class=\"counts\">");
    for (int k = 0; k <= HK_OTHER; k++) {
        if (k == HK_OTHER && counts[k] == 0)
            continue;
        fprintf(f, "<li><b>%zu</b><span class=\"dot\" "
                   "style=\"background:%s\"></span>",
                counts[k], colours[k]);
        esc(f, history_kind_name((enum history_kind)k));
        fprintf(f, "</li>");
    }
    fprintf(f, "</ul>\n");
    svg_strip(cli, f, v, n);
    if (n == 0) {
        fprintf(f, "<p>");
        esc(f, _("Nothing recorded yet on this dossier."));
        fprintf(f, "</p>");
    }
    for (size_t i = 0; i < n; i++) {
        int64_t t = v[i]->time_unix_ms / 1000;
        enum history_kind k = history_kind_of(v[i]);
        int y, m, d;
        char s[1200], hm[64];

        cli_time_day(t, &y, &m, &d);
        if (y != py || m != pm || d != pd) {
            fprintf(f, "%s<h2>", i ? "</ol>\n" : "");
            esc(f, cli_date_long(cli->french, y, m, d, day, sizeof(day)));
            fprintf(f, "</h2>\n<ol>\n");
            py = y, pm = m, pd = d;
        }
        cli_time_short(cli->french, t, hm, sizeof(hm));
        fprintf(f, "<li%s style=\"--c:%s\"><time>%s</time>",
                k == HK_DENIED ? " class=\"denied\"" : "", colours[k],
                hm + strlen(hm) - 5);
        esc(f, history_describe(v[i], s, sizeof(s)));
        fprintf(f, "<span class=\"kind\">");
        esc(f, history_kind_name(k));
        fprintf(f, "</span></li>\n");
    }
    if (n > 0)
        fprintf(f, "</ol>\n");
    fprintf(f, "<footer>");
    esc(f, _("Made by the dossier command on"));
    fprintf(f, " ");
    esc(f, cli_time_long(cli->french, time(NULL), now, sizeof(now)));
    fprintf(f, ".</footer>\n</main></body></html>\n");
    return ferror(f) ? -EIO : 0;
}
