/*
 * report.c - OUT/summary.json as a self-contained HTML page (see
 * include/ranpipe/report.h).
 *
 * The page is written top to bottom into one rp_buf through a small
 * context whose first failure sticks (so each section is straight-line
 * code with no error plumbing; the caller gets that first error).
 *
 * Two kinds of output go into the page and are kept apart by the helper
 * that writes them:
 *  - markup and numbers this file computes: put()/putf(), whose formats
 *    are literals and whose arguments are numbers or constant strings;
 *  - anything taken from the summary: text(), which HTML-escapes & < > " '
 *    (safe in text and in quoted attributes), repairs invalid UTF-8,
 *    replaces control characters and cuts very long strings.
 * Class names that depend on data (status, level, breaker) come from fixed
 * lists, never from the summary's strings.
 *
 * Every value is read through accessors that tolerate a missing key or a
 * wrong type (NULL / false), so any JSON value renders. Numbers go through
 * num(), which refuses non-finite ones, and charts clamp what they draw to
 * their frame. Numbers are printed with printf in the C locale (ranpipe
 * never calls setlocale), so coordinates always use '.'.
 *
 * Charts are inline SVG with a viewBox, scaled to the page's width by CSS;
 * bars in tables are spans with a percentage width. Colours are chosen to
 * survive printing in colour or grey, and print-color-adjust keeps them.
 */
#include "ranpipe/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/fs.h"
#include "ranpipe/utf8.h"

#define DASH "\xe2\x80\x94" /* U+2014, shown for a missing value */
#define TOP_REASONS 15
#define MAX_METRICS 500
#define MAX_METRIC_DEPTH 8
#define CLAMP_ABS 1e15 /* larger magnitudes are drawn as this */

/* The page's script: sorts tables on a click on their header and notes any
 * script error or blocked load on <html data-js-error>. It must never hold
 * summary data. SCRIPT_HASH is its SHA-256 for the Content Security Policy
 * (tests/cli/cli_report.sh checks it, and a browser refuses to run the
 * script when it is stale: recompute it whenever the script changes). */
static const char SCRIPT[] =
    "(function(){"
    "var r=document.documentElement;"
    "function "
    "note(m){if(!r.hasAttribute('data-js-error'))r.setAttribute('data-js-error',String(m));}"
    "window.addEventListener('error',function(e){note(e.message||'error');});"
    "document.addEventListener('securitypolicyviolation',function(e){"
    "note('blocked '+e.violatedDirective+' '+e.blockedURI);});"
    "function key(td,num){var v=td.getAttribute('data-v');if(v===null)v=td.textContent;"
    "if(num){var x=parseFloat(v);return isNaN(x)?-Infinity:x;}return v.toLowerCase();}"
    "function sort(t,i,num,th){var b=t.tBodies[0];if(!b)return;"
    "var asc=th.getAttribute('aria-sort')!=='ascending';"
    "var hs=t.tHead.rows[0].cells;for(var j=0;j<hs.length;j++)hs[j].removeAttribute('aria-sort');"
    "th.setAttribute('aria-sort',asc?'ascending':'descending');"
    "var "
    "rows=Array.prototype.slice.call(b.rows).map(function(tr,n){return[key(tr.cells[i],num),n,tr];}"
    ");"
    "rows.sort(function(a,c){var d=a[0]<c[0]?-1:a[0]>c[0]?1:0;return(asc?d:-d)||a[1]-c[1];});"
    "rows.forEach(function(x){b.appendChild(x[2]);});}"
    "document.addEventListener('DOMContentLoaded',function(){"
    "var ts=document.querySelectorAll('table.sortable');"
    "for(var k=0;k<ts.length;k++)(function(t){if(!t.tHead)return;var hs=t.tHead.rows[0].cells;"
    "for(var i=0;i<hs.length;i++)(function(th,i){th.tabIndex=0;th.title='sort';"
    "var num=th.className.indexOf('num')>=0;"
    "th.addEventListener('click',function(){sort(t,i,num,th);});"
    "th.addEventListener('keydown',function(e){if(e.key==='Enter')sort(t,i,num,th);});"
    "})(hs[i],i);})(ts[k]);"
    "r.setAttribute('data-js','ready');});"
    "})();";
#define SCRIPT_HASH "sha256-xFPVB/Pe6NFpjCgaVD8r0DJz0ZoeXmdPdQeufQRNbvE="

/* The style sheet, in pieces (ISO C bounds one string literal's length). */
static const char *const STYLE[] = {
    ":root{--fg:#1a202c;--muted:#5a6472;--line:#d5dae1;--bg-alt:#f4f6f8;--acc:#2b6cb0;"
    "--rej:#c05621;--warn:#b7791f;--crit:#c53030;--ok:#2f855a}"
    "*{box-sizing:border-box}"
    "html{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    "body{margin:0 auto;max-width:1240px;padding:24px 20px 48px;color:var(--fg);background:#fff;"
    "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','DejaVu Sans',sans-serif}"
    "h1{font-size:24px;margin:0 0 6px}"
    "h2{font-size:18px;margin:32px 0 10px;padding-bottom:4px;border-bottom:2px solid var(--line)}"
    "h3{font-size:15px;margin:18px 0 6px}"
    "p{margin:6px 0}"
    ".muted,.note{color:var(--muted)}"
    ".note{font-style:italic}"
    "code,.mono{font-family:ui-monospace,'DejaVu Sans "
    "Mono',Menlo,Consolas,monospace;font-size:12.5px}"
    "table{border-collapse:collapse;margin:6px 0;width:100%}"
    "th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}"
    "th{background:var(--bg-alt);font-weight:600;white-space:nowrap}"
    "td.n,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "table.sortable th{cursor:pointer}"
    "th[aria-sort=ascending]::after{content:' \\25B2'}th[aria-sort=descending]::after{content:' "
    "\\25BC'}"
    "table.kv{width:auto}table.kv "
    "th{background:none;padding-left:0;color:var(--muted);font-weight:normal}"
    ".wrap{overflow-wrap:anywhere;word-break:break-word}"
    ".status{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;color:#fff;"
    "background:var(--muted)}"
    ".status-complete{background:var(--ok)}.status-interrupted{background:var(--warn)}"
    ".status-failed{background:var(--crit)}"
    ".cards{display:grid;grid-template-columns:repeat(6,1fr);gap:10px;margin:10px 0}"
    ".card{border:1px solid var(--line);border-radius:6px;padding:8px 12px}"
    ".card .v{font-size:22px;font-weight:650;font-variant-numeric:tabular-nums}"
    ".card .k{color:var(--muted);font-size:12.5px}"
    ".totals{display:grid;grid-template-columns:repeat(4,1fr);gap:0 24px}"
    ".totals div{display:flex;justify-content:space-between;border-bottom:1px dotted var(--line);"
    "padding:3px 0}"
    ".totals span:last-child{font-variant-numeric:tabular-nums}",
    ".bottleneck{font-size:16px;padding:10px 14px;border-left:5px solid var(--rej);"
    "background:var(--bg-alt)}"
    ".alerts{list-style:none;padding:0;margin:0}"
    ".alerts li{padding:6px 10px;margin:4px 0;border-left:5px solid var(--muted);"
    "background:var(--bg-alt)}"
    ".alert-info{border-left-color:var(--acc)!important}"
    ".alert-warning{border-left-color:var(--warn)!important}"
    ".alert-error,.alert-critical{border-left-color:var(--crit)!important}"
    ".tag{display:inline-block;font-size:13px;font-weight:650;padding:1px 8px;margin-right:4px;"
    "border:1px solid var(--rej);border-radius:4px;color:var(--rej);background:#fff}"
    ".level{font-weight:650;text-transform:uppercase;font-size:12px;margin-right:6px}"
    "svg.chart{width:100%;height:auto;display:block;margin:6px 0}"
    "svg text{font:12px system-ui,'DejaVu Sans',sans-serif;fill:#333}"
    "svg .axis{stroke:#666;stroke-width:1}svg .grid{stroke:#e2e6ea;stroke-width:1}"
    "svg .nodata{font-size:16px;fill:var(--muted)}"
    ".legend{display:flex;flex-wrap:wrap;gap:4px 18px;margin:4px 0;color:var(--muted)}"
    ".sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;"
    "vertical-align:-1px}"
    ".barcell{width:45%}"
    ".bar{display:flex;height:14px;background:var(--bg-alt);border-radius:2px;overflow:hidden}"
    ".bar span{display:block;height:100%}"
    ".b-acc{background:var(--acc)}.b-rej{background:var(--rej)}.b-in{background:#a0aec0}"
    ".b-out{background:#d69e2e}"
    "tr.hot td{background:#fff5eb}"
    ".breaker-open{color:var(--crit);font-weight:650}.breaker-half-open{color:var(--warn);"
    "font-weight:650}"
    ".doc-failed,.doc-dead-letter{color:var(--crit)}.doc-unchanged{color:var(--muted)}"
    ".samples{display:grid;grid-template-columns:1fr;gap:10px}"
    ".sample{border:1px solid var(--line);border-left:5px solid var(--acc);border-radius:4px;"
    "padding:8px 12px}"
    ".sample.rejected{border-left-color:var(--rej)}"
    ".sample .hd{color:var(--muted);font-size:12.5px;margin-bottom:4px}"
    ".sample .q{font-weight:600}"
    ".sample .a{white-space:pre-wrap}"
    ".sample ul{margin:4px 0 0;padding-left:20px;color:var(--rej)}"
    "footer{margin-top:40px;color:var(--muted);font-size:12.5px;border-top:1px solid var(--line);"
    "padding-top:8px}"
    "@media print{body{max-width:none;padding:0}h2{break-after:avoid}"
    ".sample,tr,svg{break-inside:avoid}table.sortable th{cursor:auto}}",
};

/* Colours of the tiers, in their order in the summary (then repeating). */
static const char *const TIER_COLOURS[] = {"#2b6cb0", "#dd6b20", "#2f855a", "#805ad5",
                                           "#b7791f", "#319795", "#c53030", "#4a5568"};
#define N_TIER_COLOURS (sizeof(TIER_COLOURS) / sizeof(TIER_COLOURS[0]))

/* ---- output ---- */

struct ctx {
    struct rp_buf *b;
    enum rp_err rc;         /* first failure; later output is dropped */
    struct rp_buf tmp;      /* scratch for UTF-8 repair */
    const char *bottleneck; /* the bottleneck stage's name, or NULL */
};

static void put(struct ctx *c, const char *s)
{
    if (!c->rc)
        c->rc = rp_buf_adds(c->b, s);
}

static void putf(struct ctx *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void putf(struct ctx *c, const char *fmt, ...)
{
    if (c->rc)
        return;
    va_list ap;
    va_start(ap, fmt);
    c->rc = rp_buf_vaddf(c->b, fmt, ap);
    va_end(ap);
}

/* Appends s[0..n), known to be valid UTF-8, escaped. */
static void text_valid(struct ctx *c, const char *s, size_t n)
{
    size_t run = 0; /* start of the bytes not yet copied */
    for (size_t i = 0; i < n && !c->rc; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *rep = NULL;
        switch (ch) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        case '\t':
        case '\n':
            break;
        case '\r':
            rep = "\n";
            break;
        default:
            if (ch < 0x20 || ch == 0x7f)
                rep = "\xef\xbf\xbd"; /* U+FFFD: control characters are not text */
            break;
        }
        if (!rep)
            continue;
        if (i > run)
            c->rc = rp_buf_add(c->b, s + run, i - run);
        if (!c->rc)
            c->rc = rp_buf_adds(c->b, rep);
        run = i + 1;
    }
    if (!c->rc && n > run)
        c->rc = rp_buf_add(c->b, s + run, n - run);
}

/* Appends the summary string s (may be NULL: a dash), HTML-escaped, cut at
 * RP_REPORT_MAX_TEXT bytes (on a character boundary) with a note. */
static void text(struct ctx *c, const char *s)
{
    if (c->rc)
        return;
    if (!s) {
        put(c, DASH);
        return;
    }
    size_t n = strlen(s), shown = n;
    if (shown > RP_REPORT_MAX_TEXT) {
        shown = RP_REPORT_MAX_TEXT;
        while (shown > 0 && ((unsigned char)s[shown] & 0xC0) == 0x80)
            shown--;
    }
    if (rp_utf8_valid(s, shown, NULL)) {
        text_valid(c, s, shown);
    } else {
        rp_buf_reset(&c->tmp);
        if ((c->rc = rp_utf8_repair(s, shown, &c->tmp)) == RP_OK)
            text_valid(c, c->tmp.data, c->tmp.len);
    }
    if (shown < n)
        putf(c, "<span class=\"note\"> \xe2\x80\xa6 (%zu more bytes)</span>", n - shown);
}

/* ---- reading the summary ---- */

static const json_t *get(const json_t *o, const char *k)
{
    return json_is_object(o) ? json_object_get(o, k) : NULL;
}

static const char *str_of(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *str(const json_t *o, const char *k)
{
    return str_of(get(o, k));
}

/* A finite number in *out; false for anything else. */
static bool num_of(const json_t *v, double *out)
{
    double x;
    if (json_is_integer(v))
        x = (double)json_integer_value(v);
    else if (json_is_real(v))
        x = json_real_value(v);
    else
        return false;
    if (!isfinite(x))
        return false;
    *out = x;
    return true;
}

static bool num(const json_t *o, const char *k, double *out)
{
    return num_of(get(o, k), out);
}

/* The number at o.k, clamped to [0, CLAMP_ABS]; 0 when absent. For sizes
 * of things drawn. */
static double amount(const json_t *o, const char *k)
{
    double x;
    if (!num(o, k, &x) || x < 0)
        return 0;
    return x > CLAMP_ABS ? CLAMP_ABS : x;
}

static size_t arr_len(const json_t *a)
{
    return json_is_array(a) ? json_array_size(a) : 0;
}

/* ---- number formatting (into a caller's char[48]) ---- */

#define NUMBUF 48

/* An integer with thousands separators, or %.3g beyond 1e15. */
static const char *fmt_count_v(char *buf, double v)
{
    if (!isfinite(v))
        return DASH;
    if (fabs(v) >= CLAMP_ABS || v != floor(v)) {
        if (fabs(v) >= CLAMP_ABS)
            snprintf(buf, NUMBUF, "%.3g", v);
        else
            snprintf(buf, NUMBUF, "%.2f", v);
        return buf;
    }
    char digits[32];
    snprintf(digits, sizeof(digits), "%.0f", fabs(v));
    size_t nd = strlen(digits), o = 0;
    if (v < 0)
        buf[o++] = '-';
    for (size_t i = 0; i < nd; i++) {
        if (i && (nd - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* A number with up to `decimals` decimals, trailing zeros dropped. */
static const char *fmt_real_v(char *buf, double v, int decimals)
{
    if (!isfinite(v))
        return DASH;
    if (fabs(v) >= CLAMP_ABS) {
        snprintf(buf, NUMBUF, "%.3g", v);
        return buf;
    }
    snprintf(buf, NUMBUF, "%.*f", decimals, v);
    if (strchr(buf, '.')) {
        size_t n = strlen(buf);
        while (n && buf[n - 1] == '0')
            buf[--n] = '\0';
        if (n && buf[n - 1] == '.')
            buf[--n] = '\0';
    }
    if (strcmp(buf, "-0") == 0) {
        buf[0] = '0';
        buf[1] = '\0';
    }
    return buf;
}

static const char *fmt_duration_v(char *buf, double s)
{
    if (!isfinite(s) || s < 0)
        return DASH;
    if (s < 60) {
        snprintf(buf, NUMBUF, "%.1f s", s);
    } else if (s < 3600) {
        long t = lround(s);
        snprintf(buf, NUMBUF, "%ld min %02ld s", t / 60, t % 60);
    } else if (s < 1e9) {
        long t = lround(s / 60);
        snprintf(buf, NUMBUF, "%ld h %02ld min", t / 60, t % 60);
    } else {
        snprintf(buf, NUMBUF, "%.3g s", s);
    }
    return buf;
}

/* The count at o.k, or a dash. */
static void count(struct ctx *c, const json_t *o, const char *k)
{
    char b[NUMBUF];
    double v;
    put(c, num(o, k, &v) ? fmt_count_v(b, v) : DASH);
}

static void real(struct ctx *c, const json_t *o, const char *k, int decimals)
{
    char b[NUMBUF];
    double v;
    put(c, num(o, k, &v) ? fmt_real_v(b, v, decimals) : DASH);
}

/* A number with exactly `decimals` decimals, so a column lines up. */
static const char *fmt_fixed_v(char *buf, double v, int decimals)
{
    if (!isfinite(v))
        return DASH;
    if (fabs(v) >= CLAMP_ABS)
        snprintf(buf, NUMBUF, "%.3g", v);
    else
        snprintf(buf, NUMBUF, "%.*f", decimals, v);
    return buf;
}

/* A table cell with a number, right-aligned (a count when decimals < 0,
 * else with that many decimals), its value for sorting in data-v. */
static void td_num(struct ctx *c, const json_t *o, const char *k, int decimals)
{
    double v;
    if (!num(o, k, &v)) {
        put(c, "<td class=\"n\" data-v=\"\">" DASH "</td>");
        return;
    }
    char b[NUMBUF], s[NUMBUF];
    putf(c, "<td class=\"n\" data-v=\"%s\">%s</td>", fmt_real_v(s, v, 6),
         decimals < 0 ? fmt_count_v(b, v) : fmt_fixed_v(b, v, decimals));
}

/* ---- chart helpers ---- */

/* A step of 1, 2 or 5 times a power of ten giving about `ticks` ticks
 * over [0, range]. */
static double nice_step(double range, int ticks)
{
    if (!(range > 0) || !isfinite(range))
        return 1;
    double raw = range / ticks;
    double p = pow(10, floor(log10(raw)));
    double f = raw / p;
    double m = f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10;
    return m * p;
}

/* A tick label for value v on an axis with the given step. */
static const char *fmt_tick(char *buf, double v, double step)
{
    if (step >= 1)
        return fmt_count_v(buf, round(v));
    int dec = (int)ceil(-log10(step) - 1e-9);
    return fmt_real_v(buf, v, dec < 0 ? 0 : dec > 6 ? 6 : dec);
}

static void svg_open(struct ctx *c, int w, int h, const char *label)
{
    putf(c, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s\">", w, h,
         label);
}

static void svg_nodata(struct ctx *c, int w, int h, const char *label, const char *why)
{
    svg_open(c, w, h, label);
    putf(
        c,
        "<rect x=\"0.5\" y=\"0.5\" width=\"%d\" height=\"%d\" fill=\"#f4f6f8\" stroke=\"#d5dae1\"/>"
        "<text class=\"nodata\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text></svg>",
        w - 1, h - 1, w / 2, h / 2 + 5, why);
}

/* Plot frame of the x/y charts. */
struct frame {
    double x0, x1, y0, y1; /* pixel box: left, right, top, bottom */
    double vx0, vx1, vy1;  /* value ranges: x from vx0 to vx1, y from 0 to vy1 */
};

static double fx(const struct frame *f, double v)
{
    double t = (f->vx1 > f->vx0) ? (v - f->vx0) / (f->vx1 - f->vx0) : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return f->x0 + t * (f->x1 - f->x0);
}

static double fy(const struct frame *f, double v)
{
    double t = f->vy1 > 0 ? v / f->vy1 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return f->y1 - t * (f->y1 - f->y0);
}

/* Axes, grid lines and tick labels; rounds f->vy1 up to a whole step. */
static void axes(struct ctx *c, struct frame *f, const char *xlabel, const char *ylabel)
{
    char b[NUMBUF];
    double ys = nice_step(f->vy1 > 0 ? f->vy1 : 1, 5);
    f->vy1 = ceil((f->vy1 > 0 ? f->vy1 : 1) / ys - 1e-9) * ys;
    for (int i = 0; i <= 12; i++) {
        double v = i * ys;
        if (v > f->vy1 * (1 + 1e-9))
            break;
        double y = fy(f, v);
        putf(c, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", f->x0, y,
             f->x1, y);
        putf(c, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", f->x0 - 6, y + 4,
             fmt_tick(b, v, ys));
    }
    double xr = f->vx1 - f->vx0;
    double xs = nice_step(xr > 0 ? xr : 1, 10);
    double first = ceil(f->vx0 / xs - 1e-9) * xs;
    for (int i = 0; i <= 25; i++) {
        double v = first + i * xs;
        if (v > f->vx1 + xs * 1e-6)
            break;
        double x = fx(f, v);
        putf(c, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x, f->y1,
             x, f->y1 + 5);
        putf(c, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", x, f->y1 + 19,
             fmt_tick(b, fabs(v) < xs * 1e-9 ? 0 : v, xs));
    }
    putf(c,
         "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
         "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
         f->x0, f->y1, f->x1, f->y1, f->x0, f->y0, f->x0, f->y1);
    putf(c, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", (f->x0 + f->x1) / 2,
         f->y1 + 38, xlabel);
    putf(c,
         "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 %.1f %.1f)\">"
         "%s</text>",
         f->x0 - 52, (f->y0 + f->y1) / 2, f->x0 - 52, (f->y0 + f->y1) / 2, ylabel);
}

/* A percentage for a CSS width: part of whole, 0 to 100. */
static double pct(double part, double whole)
{
    if (!(whole > 0) || !(part > 0))
        return 0;
    double p = 100 * part / whole;
    return p > 100 ? 100 : p;
}

/* ---- sections ---- */

static const char *known(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcmp(s, *list) == 0)
            return *list;
    return NULL;
}

static const char *const STATUSES[] = {"complete", "interrupted", "failed", NULL};
static const char *const LEVELS[] = {"info", "warning", "error", "critical", NULL};
static const char *const BREAKERS[] = {"closed", "open", "half-open", NULL};
static const char *const DOC_STATUSES[] = {"ok", "failed", "dead-letter", "unchanged", NULL};

static void section_header(struct ctx *c, const json_t *s)
{
    char b[NUMBUF], b2[NUMBUF];
    double secs;
    const char *status = str(s, "status");
    const char *cls = known(status, STATUSES);
    put(c, "<header><h1>ranpipe run report</h1><p>");
    putf(c, "<span class=\"status status-%s\">", cls ? cls : "unknown");
    text(c, status);
    put(c, "</span> ");
    if (num(s, "seconds", &secs))
        putf(c, "in %s", fmt_duration_v(b, secs));
    put(c, "</p><table class=\"kv\"><tbody><tr><th>started</th><td>");
    text(c, str(s, "started_at"));
    put(c, "</td></tr><tr><th>finished</th><td>");
    text(c, str(s, "finished_at"));
    put(c, "</td></tr><tr><th>duration</th><td>");
    if (num(s, "seconds", &secs))
        putf(c, "%s (%s s)", fmt_duration_v(b, secs), fmt_real_v(b2, secs, 1));
    else
        put(c, DASH);
    put(c, "</td></tr><tr><th>inputs</th><td class=\"wrap\">");
    const json_t *in = get(s, "inputs");
    if (arr_len(in) == 0)
        put(c, DASH);
    for (size_t i = 0; i < arr_len(in); i++) {
        if (i)
            put(c, ", ");
        put(c, "<code>");
        text(c, str_of(json_array_get(in, i)));
        put(c, "</code>");
    }
    put(c, "</td></tr><tr><th>output</th><td class=\"wrap\"><code>");
    text(c, str(s, "out_dir"));
    put(c, "</code></td></tr><tr><th>ranpipe</th><td>");
    text(c, str(s, "ranpipe_version"));
    put(c, "</td></tr></tbody></table></header>\n");
}

static void section_totals(struct ctx *c, const json_t *s)
{
    static const char *const cards[][2] = {
        {"docs", "documents"},
        {"chunks", "chunks"},
        {"pairs", "pairs accepted"},
        {"rejects", "rejected"},
        {"gen_tokens", "tokens generated"},
        {"docs_failed", "documents failed"},
    };
    static const char *const all[][2] = {
        {"files", "input files"},
        {"docs", "documents"},
        {"docs_failed", "documents failed"},
        {"docs_new", "documents new"},
        {"docs_changed", "documents changed"},
        {"docs_unchanged", "documents unchanged"},
        {"docs_deleted", "documents deleted"},
        {"chunks", "chunks"},
        {"pairs", "pairs"},
        {"extractive_pairs", "extractive pairs"},
        {"rejects", "rejects"},
        {"quality_rejects", "quality rejects"},
        {"duplicates", "duplicates"},
        {"conflicts", "conflicts"},
        {"pending", "pending"},
        {"dead_letters", "dead letters"},
        {"cache_hits", "cache hits"},
        {"requests_failed", "requests failed"},
        {"fallbacks", "fallbacks"},
        {"escalations", "escalations"},
        {"prompt_tokens", "prompt tokens"},
        {"gen_tokens", "generated tokens"},
    };
    const json_t *t = get(s, "totals");
    put(c, "<section id=\"totals\"><h2>Totals</h2><div class=\"cards\">");
    for (size_t i = 0; i < sizeof(cards) / sizeof(cards[0]); i++) {
        put(c, "<div class=\"card\"><div class=\"v\">");
        count(c, t, cards[i][0]);
        putf(c, "</div><div class=\"k\">%s</div></div>", cards[i][1]);
    }
    put(c, "</div><div class=\"totals\">");
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        putf(c, "<div><span>%s</span><span>", all[i][1]);
        count(c, t, all[i][0]);
        put(c, "</span></div>");
    }
    const json_t *r = get(s, "rates");
    put(c, "</div><h3>Rates</h3><div class=\"totals\"><div><span>documents per hour</span><span>");
    real(c, r, "docs_per_hour", 1);
    put(c, "</span></div><div><span>chunks per second</span><span>");
    real(c, r, "chunks_per_second", 3);
    put(c, "</span></div><div><span>pairs per hour</span><span>");
    real(c, r, "pairs_per_hour", 1);
    put(c, "</span></div><div><span>generated tokens per second</span><span>");
    real(c, r, "gen_tokens_per_second", 2);
    put(c, "</span></div></div></section>\n");
}

static void section_bottleneck(struct ctx *c, const json_t *s)
{
    const json_t *b = get(s, "bottleneck");
    const char *stage = str(b, "stage"), *kind = str(b, "kind"), *reason = str(b, "reason");
    put(c, "<section id=\"bottleneck\"><h2>Bottleneck</h2><p class=\"bottleneck\">");
    if (!stage || !*stage || (kind && strcmp(kind, "none") == 0)) {
        put(c, "No stage limited this run");
        if (reason && *reason) {
            put(c, ": ");
            text(c, reason);
        }
        put(c, ".");
    } else {
        put(c, "<span class=\"tag\">");
        text(c, stage);
        put(c, "</span> <span class=\"tag\">");
        text(c, kind);
        put(c, "</span> ");
        if (reason && *reason)
            text(c, reason);
        else
            put(c, "limited the run.");
    }
    put(c, "</p></section>\n");
}

static void section_alerts(struct ctx *c, const json_t *s)
{
    const json_t *a = get(s, "alerts");
    char b[NUMBUF];
    put(c, "<section id=\"alerts\"><h2>Alerts</h2>");
    if (arr_len(a) == 0) {
        put(c, "<p class=\"muted\">No alerts were raised.</p></section>\n");
        return;
    }
    put(c, "<ul class=\"alerts\">");
    for (size_t i = 0; i < arr_len(a); i++) {
        const json_t *e = json_array_get(a, i);
        const char *level = str(e, "level"), *cls = known(level, LEVELS);
        double t;
        putf(c, "<li class=\"alert-%s\"><span class=\"level\">", cls ? cls : "unknown");
        text(c, level);
        put(c, "</span><code>");
        text(c, str(e, "name"));
        put(c, "</code>");
        if (num(e, "t", &t))
            putf(c, " at %s", fmt_duration_v(b, t));
        put(c, ": <span class=\"wrap\">");
        text(c, str(e, "message"));
        put(c, "</span></li>");
    }
    put(c, "</ul></section>\n");
}

static void section_quality(struct ctx *c, const json_t *s)
{
    enum { W = 1200, H = 300 };
    const json_t *q = get(s, "quality");
    const json_t *h = get(q, "score_histogram");
    const json_t *bounds = get(h, "bounds"), *counts = get(h, "counts");
    char b[NUMBUF], b2[NUMBUF];
    double thr = 0;
    bool has_thr = num(q, "threshold", &thr);
    put(c, "<section id=\"quality\"><h2>Quality score distribution</h2><p>");
    count(c, q, "accepted");
    put(c, " accepted, ");
    count(c, q, "rejected");
    put(c, " rejected at threshold ");
    real(c, q, "threshold", 3);
    put(c, ".</p>");

    size_t n = arr_len(bounds) < arr_len(counts) ? arr_len(bounds) : arr_len(counts);
    bool ok = n > 0 && n == arr_len(bounds) && n == arr_len(counts);
    double prev = -INFINITY, maxc = 0;
    for (size_t i = 0; ok && i < n; i++) {
        double v = 0;
        if (!num_of(json_array_get(bounds, i), &v) || !(v > prev) || fabs(v) > CLAMP_ABS)
            ok = false;
        prev = v;
        if (num_of(json_array_get(counts, i), &v) && v > maxc)
            maxc = v > CLAMP_ABS ? CLAMP_ABS : v;
    }
    if (!ok) {
        svg_nodata(c, W, 120, "quality score histogram",
                   n || arr_len(bounds) || arr_len(counts) ? "no data (malformed histogram)"
                                                           : "no data");
        put(c, "</section>\n");
        return;
    }
    double first = 0;
    num_of(json_array_get(bounds, 0), &first);
    double last = prev;
    double lo; /* lower edge of the first bin */
    if (first > 0)
        lo = 0;
    else if (n > 1) {
        double second = 0;
        num_of(json_array_get(bounds, 1), &second);
        lo = first - (second - first);
    } else
        lo = first - 1;
    struct frame f = {
        .x0 = 70, .x1 = W - 20, .y0 = 16, .y1 = H - 50, .vx0 = lo, .vx1 = last, .vy1 = maxc};
    svg_open(c, W, H, "quality score histogram");
    axes(c, &f, "quality score", "pairs");
    double left = lo;
    for (size_t i = 0; i < n; i++) {
        double right = 0, v = 0;
        num_of(json_array_get(bounds, i), &right);
        if (!num_of(json_array_get(counts, i), &v) || v < 0)
            v = 0;
        double xa = fx(&f, left), xb = fx(&f, right), y = fy(&f, v);
        bool acc = has_thr && left >= thr - 1e-12;
        putf(c,
             "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
             "<title>",
             xa + 1, y, xb - xa - 2 > 0.5 ? xb - xa - 2 : 0.5, f.y1 - y,
             acc ? "#2b6cb0" : "#c05621");
        put(c, fmt_real_v(b, left, 4));
        put(c, " \xe2\x80\x93 ");
        put(c, fmt_real_v(b, right, 4));
        putf(c, ": %s</title></rect>", fmt_count_v(b2, v));
        left = right;
    }
    if (has_thr && thr >= lo && thr <= last) {
        double x = fx(&f, thr);
        putf(c,
             "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#1a202c\" "
             "stroke-width=\"2\" stroke-dasharray=\"6 4\"/>"
             "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">threshold %s</text>",
             x, f.y0 - 4, x, f.y1, x + (x > W - 200 ? -6 : 6), f.y0 + 12,
             x > W - 200 ? "end" : "start", fmt_real_v(b, thr, 3));
    }
    put(c, "</svg><div class=\"legend\"><span><span class=\"sw b-rej\"></span>below the "
           "threshold (rejected)</span><span><span class=\"sw b-acc\"></span>at or above the "
           "threshold (accepted)</span></div></section>\n");
}

struct reason {
    const char *stage, *reason;
    double count;
    size_t index;
};

static int cmp_reason(const void *pa, const void *pb)
{
    const struct reason *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    int d = strcmp(a->stage ? a->stage : "", b->stage ? b->stage : "");
    if (!d)
        d = strcmp(a->reason ? a->reason : "", b->reason ? b->reason : "");
    return d ? d : (a->index < b->index ? -1 : a->index > b->index);
}

static void bar_row_end(struct ctx *c, double v, double max)
{
    char b[NUMBUF];
    putf(c,
         "<td class=\"barcell\"><div class=\"bar\"><span class=\"b-rej\" style=\"width:%.1f%%\">"
         "</span></div></td><td class=\"n\" data-v=\"%.0f\">%s</td></tr>",
         pct(v, max), v, fmt_count_v(b, v));
}

static void section_reasons(struct ctx *c, const json_t *s)
{
    const json_t *a = get(s, "reject_reasons");
    size_t n = arr_len(a);
    put(c, "<section id=\"reasons\"><h2>Rejection reasons</h2>");
    if (n == 0) {
        put(c, "<p class=\"muted\">No pairs were rejected.</p></section>\n");
        return;
    }
    struct reason *r = calloc(n, sizeof(*r));
    if (!r) {
        c->rc = c->rc ? c->rc : RP_ERR_NOMEM;
        return;
    }
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(a, i);
        r[i].stage = str(e, "stage");
        r[i].reason = str(e, "reason");
        r[i].count = amount(e, "count");
        r[i].index = i;
        total += r[i].count;
    }
    qsort(r, n, sizeof(*r), cmp_reason);
    size_t shown = n > TOP_REASONS + 1 ? TOP_REASONS : n;
    double max = r[0].count, other = 0;
    for (size_t i = shown; i < n; i++)
        other += r[i].count;
    if (other > max)
        max = other;
    char b[NUMBUF];
    putf(c, "<p>%s rejections for %zu reason%s", fmt_count_v(b, total), n, n == 1 ? "" : "s");
    if (shown < n)
        putf(c, "; the %zu most frequent are shown, the other %zu together", shown, n - shown);
    put(c, ".</p><table><thead><tr><th>stage</th><th>reason</th><th></th>"
           "<th class=\"num\">pairs</th></tr></thead><tbody>");
    for (size_t i = 0; i < shown; i++) {
        put(c, "<tr><td>");
        text(c, r[i].stage);
        put(c, "</td><td class=\"wrap\">");
        text(c, r[i].reason);
        put(c, "</td>");
        bar_row_end(c, r[i].count, max);
    }
    if (shown < n) {
        putf(c, "<tr><td class=\"muted\">" DASH "</td><td class=\"muted\">other (%zu reasons)</td>",
             n - shown);
        bar_row_end(c, other, max);
    }
    put(c, "</tbody></table></section>\n");
    free(r);
}

static void legend_tiers(struct ctx *c, const json_t *tiers)
{
    put(c, "<div class=\"legend\">");
    for (size_t i = 0; i < arr_len(tiers); i++) {
        putf(c, "<span><span class=\"sw\" style=\"background:%s\"></span>",
             TIER_COLOURS[i % N_TIER_COLOURS]);
        text(c, str(json_array_get(tiers, i), "name"));
        put(c, "</span>");
    }
    put(c, "</div>");
}

static void section_tiers(struct ctx *c, const json_t *s)
{
    enum { W = 1200, H = 120, X0 = 90, X1 = 1180 };
    const json_t *tiers = get(s, "tiers");
    size_t n = arr_len(tiers);
    char b[NUMBUF];
    put(c, "<section id=\"tiers\"><h2>Tier mix</h2>");
    if (n == 0) {
        svg_nodata(c, W, 80, "chunks and pairs per tier", "no data (no tiers)");
        put(c, "</section>\n");
        return;
    }
    static const char *const rows[2][2] = {{"chunks", "chunks"}, {"pairs", "pairs"}};
    double tot[2] = {0, 0};
    for (size_t i = 0; i < n; i++)
        for (int r = 0; r < 2; r++)
            tot[r] += amount(json_array_get(tiers, i), rows[r][0]);
    svg_open(c, W, H, "chunks and pairs per tier");
    for (int r = 0; r < 2; r++) {
        double y = 14 + r * 52, x = X0;
        putf(c, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>", X0 - 10, y + 22,
             rows[r][1]);
        if (!(tot[r] > 0)) {
            putf(c,
                 "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"34\" fill=\"#f4f6f8\"/>"
                 "<text x=\"%d\" y=\"%.1f\">none</text>",
                 X0, y, X1 - X0, X0 + 8, y + 22);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            const json_t *t = json_array_get(tiers, i);
            double v = amount(t, rows[r][0]);
            double w = (X1 - X0) * v / tot[r];
            if (!(w > 0))
                continue;
            putf(c, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"34\" fill=\"%s\"><title>",
                 x, y, w, TIER_COLOURS[i % N_TIER_COLOURS]);
            text(c, str(t, "name"));
            putf(c, ": %s (%.1f%%)</title></rect>", fmt_count_v(b, v), pct(v, tot[r]));
            if (w >= 70)
                putf(c,
                     "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" style=\"fill:#fff\">"
                     "%s</text>",
                     x + w / 2, y + 22, fmt_count_v(b, v));
            x += w;
        }
    }
    put(c, "</svg>");
    legend_tiers(c, tiers);
    put(c, "<table class=\"sortable\"><thead><tr><th>tier</th><th>kind</th>"
           "<th class=\"num\">chunks</th><th class=\"num\">pairs</th><th class=\"num\">failed</th>"
           "<th class=\"num\">prompt tokens</th><th class=\"num\">generated tokens</th>"
           "<th class=\"num\">requests</th><th class=\"num\">mean latency (s)</th>"
           "<th class=\"num\">p50 (s)</th><th class=\"num\">p95 (s)</th><th>breaker</th>"
           "</tr></thead><tbody>");
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_array_get(tiers, i);
        const json_t *lat = get(t, "latency_seconds");
        putf(c, "<tr><td><span class=\"sw\" style=\"background:%s\"></span>",
             TIER_COLOURS[i % N_TIER_COLOURS]);
        text(c, str(t, "name"));
        put(c, "</td><td>");
        text(c, str(t, "kind"));
        put(c, "</td>");
        td_num(c, t, "chunks", -1);
        td_num(c, t, "pairs", -1);
        td_num(c, t, "failed", -1);
        td_num(c, t, "prompt_tokens", -1);
        td_num(c, t, "gen_tokens", -1);
        td_num(c, lat, "count", -1);
        double sum, cnt;
        if (num(lat, "sum", &sum) && num(lat, "count", &cnt) && cnt > 0)
            putf(c, "<td class=\"n\" data-v=\"%.6g\">%s</td>", sum / cnt,
                 fmt_fixed_v(b, sum / cnt, 3));
        else
            put(c, "<td class=\"n\" data-v=\"\">" DASH "</td>");
        td_num(c, lat, "p50", 3);
        td_num(c, lat, "p95", 3);
        const char *br = str(t, "breaker"), *cls = known(br, BREAKERS);
        putf(c, "<td class=\"breaker-%s\">", cls ? cls : "unknown");
        text(c, br);
        put(c, "</td></tr>");
    }
    put(c, "</tbody></table></section>\n");
}

struct point {
    double t, chunks, pairs;
    size_t index;
};

static int cmp_point(const void *pa, const void *pb)
{
    const struct point *a = pa, *b = pb;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

static void polyline(struct ctx *c, const struct frame *f, const struct point *p, size_t n,
                     bool pairs, const char *colour)
{
    if (n == 1) {
        putf(c, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>", fx(f, p[0].t),
             fy(f, pairs ? p[0].pairs : p[0].chunks), colour);
        return;
    }
    putf(c,
         "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\" "
         "stroke-linejoin=\"round\" points=\"",
         colour);
    for (size_t i = 0; i < n; i++)
        putf(c, "%s%.1f,%.1f", i ? " " : "", fx(f, p[i].t),
             fy(f, pairs ? p[i].pairs : p[i].chunks));
    put(c, "\"/>");
}

static void section_throughput(struct ctx *c, const json_t *s)
{
    enum { W = 1200, H = 340 };
    const json_t *a = get(s, "throughput");
    size_t n = arr_len(a), m = 0;
    put(c, "<section id=\"throughput\"><h2>Throughput over time</h2>");
    struct point *p = n ? calloc(n, sizeof(*p)) : NULL;
    if (n && !p) {
        c->rc = c->rc ? c->rc : RP_ERR_NOMEM;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(a, i);
        double t;
        if (!num(e, "t", &t) || t < 0 || t > CLAMP_ABS)
            continue;
        p[m++] = (struct point){t, amount(e, "chunks"), amount(e, "pairs"), i};
    }
    if (m == 0) {
        svg_nodata(c, W, 120, "cumulative chunks and pairs over time", "no data");
        put(c, "</section>\n");
        free(p);
        return;
    }
    qsort(p, m, sizeof(*p), cmp_point);
    if (m > RP_REPORT_MAX_POINTS) { /* thin evenly, keeping the last */
        size_t k = 0;
        for (size_t i = 0; i < RP_REPORT_MAX_POINTS; i++)
            p[k++] = p[i * (m - 1) / (RP_REPORT_MAX_POINTS - 1)];
        m = k;
    }
    double ymax = 0, tmax = p[m - 1].t;
    for (size_t i = 0; i < m; i++) {
        if (p[i].chunks > ymax)
            ymax = p[i].chunks;
        if (p[i].pairs > ymax)
            ymax = p[i].pairs;
    }
    char b[NUMBUF], b2[NUMBUF], b3[NUMBUF];
    putf(c, "<p>%zu samples over %s; at the end: %s chunks, %s pairs.</p>", m,
         fmt_duration_v(b, tmax), fmt_count_v(b2, p[m - 1].chunks),
         fmt_count_v(b3, p[m - 1].pairs));
    struct frame f = {.x0 = 80,
                      .x1 = W - 20,
                      .y0 = 16,
                      .y1 = H - 50,
                      .vx0 = 0,
                      .vx1 = tmax > 0 ? tmax : 1,
                      .vy1 = ymax};
    svg_open(c, W, H, "cumulative chunks and pairs over time");
    axes(c, &f, "elapsed seconds", "cumulative count");
    polyline(c, &f, p, m, false, "#718096");
    polyline(c, &f, p, m, true, "#2b6cb0");
    put(c, "</svg><div class=\"legend\"><span><span class=\"sw\" style=\"background:#718096\">"
           "</span>chunks</span><span><span class=\"sw\" style=\"background:#2b6cb0\"></span>"
           "pairs</span></div></section>\n");
    free(p);
}

static void section_stages(struct ctx *c, const json_t *s)
{
    const json_t *a = get(s, "stages");
    size_t n = arr_len(a);
    put(c, "<section id=\"stages\"><h2>Stage busy share</h2>");
    if (n == 0) {
        put(c, "<p class=\"muted\">no data (no stages)</p></section>\n");
        return;
    }
    put(c, "<p>Where each stage's time went: working, waiting for input (starved) or waiting to "
           "hand on its output (blocked).</p>"
           "<div class=\"legend\"><span><span class=\"sw b-acc\"></span>busy</span>"
           "<span><span class=\"sw b-in\"></span>waiting for input</span>"
           "<span><span class=\"sw b-out\"></span>waiting on output</span></div>"
           "<table><thead><tr><th>stage</th><th class=\"num\">items</th>"
           "<th class=\"num\">busy (s)</th><th class=\"num\">waiting for input (s)</th>"
           "<th class=\"num\">waiting on output (s)</th><th></th><th class=\"num\">busy share</th>"
           "</tr></thead><tbody>");
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(a, i);
        const char *name = str(e, "name");
        bool hot = name && c->bottleneck && strcmp(name, c->bottleneck) == 0;
        put(c, hot ? "<tr class=\"hot\"><td><strong>" : "<tr><td>");
        text(c, name);
        put(c, hot ? "</strong></td>" : "</td>");
        td_num(c, e, "items", -1);
        td_num(c, e, "busy_seconds", 1);
        td_num(c, e, "wait_input_seconds", 1);
        td_num(c, e, "wait_output_seconds", 1);
        double busy = amount(e, "busy_seconds"), win = amount(e, "wait_input_seconds"),
               wout = amount(e, "wait_output_seconds"), tot = busy + win + wout;
        putf(
            c,
            "<td class=\"barcell\"><div class=\"bar\"><span class=\"b-acc\" style=\"width:%.1f%%\">"
            "</span><span class=\"b-in\" style=\"width:%.1f%%\"></span><span class=\"b-out\" "
            "style=\"width:%.1f%%\"></span></div></td>",
            pct(busy, tot), pct(win, tot), pct(wout, tot));
        double share;
        char b[NUMBUF];
        if (num(e, "busy_share", &share))
            putf(c, "<td class=\"n\">%s%%</td></tr>", fmt_fixed_v(b, share * 100, 1));
        else
            put(c, "<td class=\"n\">" DASH "</td></tr>");
    }
    put(c, "</tbody></table></section>\n");
}

static void section_documents(struct ctx *c, const json_t *s)
{
    const json_t *a = get(s, "documents");
    size_t n = arr_len(a);
    size_t by_status[5] = {0};
    char b[NUMBUF], b2[NUMBUF];
    put(c, "<section id=\"documents\"><h2>Documents</h2>");
    if (n == 0) {
        put(c, "<p class=\"muted\">No documents.</p></section>\n");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *st = known(str(json_array_get(a, i), "status"), DOC_STATUSES);
        size_t k = 4;
        for (size_t j = 0; st && DOC_STATUSES[j]; j++)
            if (DOC_STATUSES[j] == st)
                k = j;
        by_status[k]++;
    }
    putf(c, "<p>%s document%s", fmt_count_v(b, (double)n), n == 1 ? "" : "s");
    const char *sep = ": ";
    for (size_t j = 0; j < 5; j++) {
        if (!by_status[j])
            continue;
        putf(c, "%s%s %s", sep, fmt_count_v(b, (double)by_status[j]),
             j < 4 ? DOC_STATUSES[j] : "of unknown status");
        sep = ", ";
    }
    put(c, ".");
    if (n > RP_REPORT_MAX_DOCUMENTS)
        putf(c,
             " <span class=\"note\">Only the first %s are listed; the other %s are in "
             "summary.json.</span>",
             fmt_count_v(b, RP_REPORT_MAX_DOCUMENTS),
             fmt_count_v(b2, (double)(n - RP_REPORT_MAX_DOCUMENTS)));
    put(c, " Click a column heading to sort.</p>"
           "<table class=\"sortable\"><thead><tr><th>source</th><th>status</th>"
           "<th class=\"num\">chunks</th><th class=\"num\">pairs</th><th class=\"num\">rejects</th>"
           "<th>pairs per tier</th><th>error</th></tr></thead><tbody>");
    for (size_t i = 0; i < n && i < RP_REPORT_MAX_DOCUMENTS; i++) {
        const json_t *d = json_array_get(a, i);
        const char *st = str(d, "status"), *cls = known(st, DOC_STATUSES);
        put(c, "<tr><td class=\"wrap\"><code>");
        text(c, str(d, "source"));
        putf(c, "</code></td><td class=\"doc-%s\">", cls ? cls : "unknown");
        text(c, st);
        put(c, "</td>");
        td_num(c, d, "chunks", -1);
        td_num(c, d, "pairs", -1);
        td_num(c, d, "rejects", -1);
        put(c, "<td>");
        const json_t *tiers = get(d, "tiers");
        const char *key;
        const json_t *v;
        bool any = false;
        if (json_is_object(tiers)) {
            json_object_foreach((json_t *)tiers, key, v)
            {
                double x;
                put(c, any ? ", " : "");
                text(c, key);
                put(c, " ");
                put(c, num_of(v, &x) ? fmt_count_v(b, x) : DASH);
                any = true;
            }
        }
        if (!any)
            put(c, DASH);
        put(c, "</td><td class=\"wrap\">");
        const char *e = str(d, "error");
        if (e)
            text(c, e);
        put(c, "</td></tr>");
    }
    put(c, "</tbody></table></section>\n");
}

static void samples(struct ctx *c, const json_t *a, bool rejected)
{
    size_t n = arr_len(a);
    char b[NUMBUF];
    putf(c, "<h3>%s</h3>", rejected ? "Rejected" : "Accepted");
    if (n == 0) {
        put(c, "<p class=\"muted\">none</p>");
        return;
    }
    if (n > RP_REPORT_MAX_SAMPLES)
        putf(c, "<p class=\"note\">The first %d of %zu are shown.</p>", RP_REPORT_MAX_SAMPLES, n);
    put(c, "<div class=\"samples\">");
    for (size_t i = 0; i < n && i < RP_REPORT_MAX_SAMPLES; i++) {
        const json_t *e = json_array_get(a, i);
        double score;
        putf(c, "<div class=\"sample%s\"><div class=\"hd\"><code>", rejected ? " rejected" : "");
        text(c, str(e, "id"));
        put(c, "</code> \xc2\xb7 <code class=\"wrap\">");
        text(c, str(e, "source"));
        put(c, "</code> \xc2\xb7 tier ");
        text(c, str(e, "tier"));
        putf(c, " \xc2\xb7 score %s", num(e, "score", &score) ? fmt_real_v(b, score, 3) : DASH);
        if (rejected) {
            put(c, " \xc2\xb7 rejected by ");
            text(c, str(e, "stage"));
        }
        put(c, "</div><div class=\"q wrap\">Q: ");
        text(c, str(e, "question"));
        put(c, "</div><div class=\"a wrap\">A: ");
        text(c, str(e, "answer"));
        put(c, "</div>");
        const json_t *rs = get(e, "reasons");
        if (rejected && arr_len(rs)) {
            put(c, "<ul>");
            for (size_t j = 0; j < arr_len(rs); j++) {
                put(c, "<li class=\"wrap\">");
                text(c, str_of(json_array_get(rs, j)));
                put(c, "</li>");
            }
            put(c, "</ul>");
        }
        put(c, "</div>");
    }
    put(c, "</div>");
}

static void section_samples(struct ctx *c, const json_t *s)
{
    const json_t *sm = get(s, "samples");
    put(c, "<section id=\"samples\"><h2>Sample pairs</h2>");
    samples(c, get(sm, "accepted"), false);
    samples(c, get(sm, "rejected"), true);
    put(c, "</section>\n");
}

/* One row per scalar below v (named by its path), depth first, at most
 * MAX_METRICS rows in all. */
static void metric_rows(struct ctx *c, const json_t *v, struct rp_buf *path, int depth,
                        size_t *rows)
{
    if (*rows >= MAX_METRICS || c->rc)
        return;
    if (json_is_object(v) || json_is_array(v)) {
        if (depth >= MAX_METRIC_DEPTH)
            return;
        size_t keep = path->len;
        if (json_is_object(v)) {
            const char *k;
            json_t *x;
            json_object_foreach((json_t *)v, k, x)
            {
                rp_buf_truncate(path, keep);
                /* A name past the path's cap is skipped, not an error. */
                if (rp_buf_addf(path, "%s%s", keep ? "." : "", k) == RP_OK)
                    metric_rows(c, x, path, depth + 1, rows);
            }
        } else {
            for (size_t i = 0; i < json_array_size(v); i++) {
                rp_buf_truncate(path, keep);
                if (rp_buf_addf(path, "[%zu]", i) == RP_OK)
                    metric_rows(c, json_array_get(v, i), path, depth + 1, rows);
            }
        }
        rp_buf_truncate(path, keep);
        return;
    }
    char b[NUMBUF];
    double x;
    (*rows)++;
    put(c, "<tr><td class=\"wrap\"><code>");
    text(c, path->data);
    put(c, "</code></td><td class=\"wrap\">");
    if (num_of(v, &x))
        put(c, fmt_real_v(b, x, 6));
    else if (json_is_string(v))
        text(c, json_string_value(v));
    else
        put(c, json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null");
    put(c, "</td></tr>");
}

static void section_metrics(struct ctx *c, const json_t *s)
{
    const json_t *m = get(s, "metrics");
    if (!json_is_object(m) || json_object_size(m) == 0)
        return;
    struct rp_buf path;
    rp_buf_init(&path, 4096);
    size_t rows = 0;
    put(c, "<section id=\"metrics\"><h2>Metrics</h2><details><summary>The metrics registry at the "
           "end of the run</summary><table><thead><tr><th>metric</th><th>value</th></tr></thead>"
           "<tbody>");
    metric_rows(c, m, &path, 0, &rows);
    put(c, "</tbody></table>");
    if (rows >= MAX_METRICS)
        putf(c, "<p class=\"note\">Only the first %d values are shown.</p>", MAX_METRICS);
    put(c, "</details></section>\n");
    rp_buf_release(&path);
}

enum rp_err rp_report_render(const json_t *summary, struct rp_buf *html, struct rp_error *err)
{
    struct ctx c = {.b = html, .rc = RP_OK};
    rp_buf_init(&c.tmp, RP_REPORT_MAX_TEXT * 3 + 16);
    const json_t *s = summary;
    const char *bs = str(get(s, "bottleneck"), "stage");
    const char *bk = str(get(s, "bottleneck"), "kind");
    c.bottleneck = bs && *bs && !(bk && strcmp(bk, "none") == 0) ? bs : NULL;

    put(&c, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; script-src '" SCRIPT_HASH "'; img-src data:; "
            "base-uri 'none'; form-action 'none'\">\n<title>ranpipe report: ");
    text(&c, str(s, "status"));
    put(&c, ", ");
    text(&c, str(s, "out_dir"));
    put(&c, "</title>\n<style>");
    for (size_t i = 0; i < sizeof(STYLE) / sizeof(STYLE[0]); i++)
        put(&c, STYLE[i]);
    put(&c, "</style>\n<script>");
    put(&c, SCRIPT);
    put(&c, "</script>\n</head>\n<body>\n");
    if (!json_is_object(s))
        put(&c, "<p class=\"bottleneck\">The summary is not a JSON object: nothing to show.</p>\n");
    section_header(&c, s);
    section_bottleneck(&c, s);
    section_alerts(&c, s);
    section_totals(&c, s);
    section_quality(&c, s);
    section_reasons(&c, s);
    section_tiers(&c, s);
    section_throughput(&c, s);
    section_stages(&c, s);
    section_documents(&c, s);
    section_samples(&c, s);
    section_metrics(&c, s);
    put(&c, "<footer>Made by <code>ranpipe report</code> from summary.json (");
    text(&c, str(s, "schema"));
    put(&c, "). This page is self-contained: it loads nothing from the network and reads the "
            "same with JavaScript off.</footer>\n</body>\n</html>\n");
    rp_buf_release(&c.tmp);
    if (c.rc)
        return rp_error_set(err, c.rc, "cannot render the report: %s%s", rp_strerror(c.rc),
                            c.rc == RP_ERR_TOOBIG ? " (the page outgrew its size limit)" : "");
    return RP_OK;
}

/* ---- files ---- */

enum rp_err rp_report_load(const char *path, json_t **out, struct rp_error *err)
{
    *out = NULL;
    struct rp_buf raw;
    rp_buf_init(&raw, RP_REPORT_MAX_SUMMARY);
    enum rp_err rc = rp_buf_read_file(&raw, path, err);
    if (rc) {
        rp_buf_release(&raw);
        return rc;
    }
    json_error_t je;
    json_t *j = json_loadb(raw.data, raw.len, JSON_REJECT_DUPLICATES, &je);
    rp_buf_release(&raw);
    if (!j)
        return rp_error_set(err, RP_ERR_PARSE,
                            "cannot read '%s': invalid JSON at line %d, column %d: %s", path,
                            je.line, je.column, je.text);
    const char *schema = str(j, "schema");
    if (!json_is_object(j))
        rc = rp_error_set(err, RP_ERR_UNSUPPORTED,
                          "cannot read '%s': not a run summary (a JSON object was expected)", path);
    else if (!schema)
        rc = rp_error_set(err, RP_ERR_UNSUPPORTED,
                          "cannot read '%s': not a run summary (no \"schema\" string)", path);
    else if (strcmp(schema, RP_REPORT_SCHEMA) != 0)
        rc = rp_error_set(err, RP_ERR_UNSUPPORTED,
                          "cannot read '%s': its schema is '%.64s', and this ranpipe reads "
                          "'" RP_REPORT_SCHEMA "'",
                          path, schema);
    if (rc) {
        json_decref(j);
        return rc;
    }
    *out = j;
    return RP_OK;
}

enum rp_err rp_report_write_file(const char *summary_path, const char *html_path,
                                 struct rp_error *err)
{
    json_t *s = NULL;
    enum rp_err rc = rp_report_load(summary_path, &s, err);
    if (rc)
        return rc;
    struct rp_buf html;
    rp_buf_init(&html, RP_REPORT_MAX_HTML);
    rc = rp_report_render(s, &html, err);
    if (!rc)
        rc = rp_fs_write_atomic(html_path, html.data, html.len, err);
    rp_buf_release(&html);
    json_decref(s);
    return rc;
}

enum rp_err rp_report_write(const char *out_dir, struct rp_error *err)
{
    struct rp_buf in, out;
    rp_buf_init(&in, 4096);
    rp_buf_init(&out, 4096);
    enum rp_err rc;
    if (rp_buf_addf(&in, "%s/summary.json", out_dir) ||
        rp_buf_addf(&out, "%s/report.html", out_dir))
        rc = rp_error_set(err, RP_ERR_TOOBIG, "path too long: '%s'", out_dir);
    else
        rc = rp_report_write_file(in.data, out.data, err);
    rp_buf_release(&in);
    rp_buf_release(&out);
    return rc;
}
