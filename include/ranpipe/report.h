/*
 * report.h - a run's summary (OUT/summary.json) as one self-contained HTML
 * page (OUT/report.html).
 *
 * The summary's format is "ranpipe-summary/1", described by
 * docs/schemas/summary.schema.json and docs/report.md. The page is made to
 * be opened from disk, mailed or archived with the run: it loads nothing
 * (inline CSS, inline SVG charts, no fonts or images; a Content Security
 * Policy in the page forbids every fetch), and it reads completely with
 * JavaScript off. Its one inline script only sorts tables, and notes any
 * script error or blocked load on the <html> element (data-js-error), so
 * tests can see them.
 *
 * Rendering trusts nothing in the summary: every string is HTML-escaped,
 * a key that is missing or of the wrong type shows as "-" (an em dash) or
 * as a chart saying "no data", and non-finite or absurd numbers are drawn
 * clamped. No summary data is ever put inside the <script>. The same
 * summary always gives the same bytes (nothing depends on the clock, the
 * locale or hash order), and sizes are bounded: at most
 * RP_REPORT_MAX_DOCUMENTS document rows, RP_REPORT_MAX_SAMPLES samples of
 * each kind, RP_REPORT_MAX_POINTS throughput points and RP_REPORT_MAX_TEXT
 * bytes of any one string, each with a note saying what was left out.
 *
 * Thread contract: reentrant; a summary object may be rendered by several
 * threads at once only if none modifies it.
 */
#ifndef RANPIPE_REPORT_H
#define RANPIPE_REPORT_H

#include <jansson.h>

#include "ranpipe/buf.h"
#include "ranpipe/error.h"

/* The "schema" string of the summaries this version reads. */
#define RP_REPORT_SCHEMA "ranpipe-summary/1"

#define RP_REPORT_MAX_DOCUMENTS 1000 /* rows of the per-document table */
#define RP_REPORT_MAX_SAMPLES 50     /* accepted and rejected samples each */
#define RP_REPORT_MAX_POINTS 600     /* throughput points drawn (evenly thinned) */
#define RP_REPORT_MAX_TEXT 20000     /* bytes of one string shown */

/* Largest summary.json read, and largest page written. */
#define RP_REPORT_MAX_SUMMARY (256u << 20)
#define RP_REPORT_MAX_HTML (256u << 20)

/* Appends the page for summary (borrowed; any JSON value, even one that is
 * not an object) to html. Fails only when html cannot grow (RP_ERR_NOMEM,
 * or RP_ERR_TOOBIG past its cap); html then holds a partial page. */
enum rp_err rp_report_render(const json_t *summary, struct rp_buf *html, struct rp_error *err);

/* Reads and checks the summary at path: valid JSON (else RP_ERR_PARSE with
 * the line and column), an object whose "schema" is RP_REPORT_SCHEMA (else
 * RP_ERR_UNSUPPORTED), at most RP_REPORT_MAX_SUMMARY bytes. Missing file:
 * RP_ERR_NOENT. Returns a new reference in *out (caller json_decref()s). */
enum rp_err rp_report_load(const char *path, json_t **out, struct rp_error *err);

/* rp_report_load(summary_path), rp_report_render(), and the page written
 * to html_path atomically (rp_fs_write_atomic(): a reader never sees half
 * a page, and a failed render leaves an older page in place). */
enum rp_err rp_report_write_file(const char *summary_path, const char *html_path,
                                 struct rp_error *err);

/* The report of a run's output directory: out_dir/summary.json rendered
 * to out_dir/report.html, as rp_report_write_file(). */
enum rp_err rp_report_write(const char *out_dir, struct rp_error *err);

#endif /* RANPIPE_REPORT_H */
