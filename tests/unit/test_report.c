/*
 * test_report.c - the run report: summary.json into a self-contained HTML
 * page (include/ranpipe/report.h).
 *
 * The fixtures in tests/data/report/ are rendered and searched for their
 * sections and for what must never be there: a raw tag from the summary's
 * hostile strings, a reference to anything outside the page, a second
 * script, a printf "nan". Then summaries that are wrong in every way
 * (empty, wrong types, absurd numbers, invalid UTF-8, 10^5 documents) must
 * still render, deterministically and within bounds, and the file side
 * (rp_report_load / rp_report_write) must name the file and the reason
 * when it fails. Files go to a temporary directory under $RANPIPE_TEST_TMP
 * (or /tmp), removed by the test that made it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ranpipe/buf.h"
#include "ranpipe/error.h"
#include "ranpipe/report.h"
#include "source_dir.h"

/* ---- helpers ---- */

static const char *fixture(const char *name)
{
    static char path[2048];
    snprintf(path, sizeof(path), "%s/tests/data/report/%s",
             rp_test_source_dir(__FILE__, "/tests/unit/test_report.c"), name);
    return path;
}

static json_t *load_fixture(const char *name)
{
    json_t *j = NULL;
    struct rp_error err;
    rp_error_clear(&err);
    if (rp_report_load(fixture(name), &j, &err))
        fail_msg("cannot load %s: %s", name, err.msg);
    return j;
}

/* Renders j; returns the page (caller frees). */
static char *render(const json_t *j)
{
    struct rp_buf b;
    rp_buf_init(&b, RP_REPORT_MAX_HTML);
    struct rp_error err;
    rp_error_clear(&err);
    if (rp_report_render(j, &b, &err))
        fail_msg("render failed: %s", err.msg);
    return rp_buf_detach(&b);
}

static char *render_text(const char *json)
{
    json_error_t je;
    json_t *j = json_loads(json, JSON_DECODE_ANY, &je);
    if (!j)
        fail_msg("bad test JSON: %s", je.text);
    char *html = render(j);
    json_decref(j);
    return html;
}

static size_t occurrences(const char *hay, const char *needle)
{
    size_t n = 0, k = strlen(needle);
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += k)
        n++;
    return n;
}

#define assert_has(html, s)                                                                        \
    do {                                                                                           \
        if (!strstr((html), (s)))                                                                  \
            fail_msg("the page lacks \"%s\"", (s));                                                \
    } while (0)
#define assert_lacks(html, s)                                                                      \
    do {                                                                                           \
        if (strstr((html), (s)))                                                                   \
            fail_msg("the page has \"%s\"", (s));                                                  \
    } while (0)

/* Whether tag has an event handler attribute (" onclick=" and the like). */
static bool has_handler(const char *tag)
{
    for (const char *a = strstr(tag, " on"); a; a = strstr(a + 1, " on")) {
        const char *p = a + 3;
        while (*p >= 'a' && *p <= 'z')
            p++;
        if (p > a + 3 && *p == '=')
            return true;
    }
    return false;
}

/* Whether html has word ("nan", "inf") as printf writes a non-finite
 * number: not part of a longer word ("info", "financial"). */
static bool printf_nonnumber(const char *html, const char *word)
{
    size_t k = strlen(word);
    for (const char *p = strstr(html, word); p; p = strstr(p + 1, word)) {
        char before = p > html ? p[-1] : ' ', after = p[k];
        bool letter_before = (before >= 'a' && before <= 'z') || (before >= 'A' && before <= 'Z');
        bool letter_after = (after >= 'a' && after <= 'z') || (after >= 'A' && after <= 'Z');
        if (!letter_before && !letter_after) {
            print_error("printf's \"%s\" at: %.60s\n", word, p > html + 20 ? p - 20 : html);
            return true;
        }
    }
    return false;
}

/* What every page must satisfy, whatever the summary: one complete
 * document, our one script, nothing loaded from elsewhere, no printf
 * non-numbers in coordinates or text. */
static void check_page(const char *html)
{
    assert_true(strncmp(html, "<!DOCTYPE html>\n", 16) == 0);
    assert_has(html, "</body>\n</html>\n");
    assert_int_equal(occurrences(html, "<script"), 1);
    assert_int_equal(occurrences(html, "</script>"), 1);
    assert_int_equal(occurrences(html, "<style"), 1);
    assert_has(html, "Content-Security-Policy");
    assert_has(html, "default-src 'none'");
    assert_lacks(html, "://");
    assert_lacks(html, "url(");
    assert_lacks(html, "@import");
    /* Every tag: no attribute that fetches or links anything. Text from the
     * summary is escaped, so each raw '<' starts markup (or is in the
     * script, where no "src=" is either). */
    for (const char *p = strchr(html, '<'); p; p = strchr(p + 1, '<')) {
        const char *end = strchr(p, '>');
        assert_non_null(end);
        size_t n = (size_t)(end - p);
        char tag[512];
        if (n >= sizeof(tag))
            n = sizeof(tag) - 1;
        memcpy(tag, p, n);
        tag[n] = '\0';
        if (strstr(tag, " src=") || strstr(tag, " href=") || strstr(tag, " srcset=") ||
            strstr(tag, " action=") || has_handler(tag))
            fail_msg("a tag refers outside the page or runs code: %s", tag);
        if (strncmp(tag, "<img", 4) == 0 || strncmp(tag, "<link", 5) == 0 ||
            strncmp(tag, "<iframe", 7) == 0 || strncmp(tag, "<object", 7) == 0 ||
            strncmp(tag, "<embed", 6) == 0 || strncmp(tag, "<b>", 3) == 0)
            fail_msg("a tag that is not the renderer's: %s", tag);
    }
    assert_false(printf_nonnumber(html, "nan"));
    assert_false(printf_nonnumber(html, "inf"));
}

static char *temp_dir(void)
{
    const char *base = getenv("RANPIPE_TEST_TMP");
    char tmpl[1024];
    snprintf(tmpl, sizeof(tmpl), "%s/test_report.XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void remove_dir(char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.' && (!de->d_name[1] || strcmp(de->d_name, "..") == 0))
                continue;
            char p[2048];
            snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[2048];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* The directory's entries other than . and .., joined by spaces. */
static void list_dir(const char *dir, char *out, size_t n)
{
    out[0] = '\0';
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        size_t used = strlen(out);
        snprintf(out + used, n - used, "%s%s", used ? " " : "", de->d_name);
    }
    closedir(d);
}

/* ---- the fixtures ---- */

static void fixture_has_every_section(void **state)
{
    json_t *j = load_fixture("summary.json");
    char *html = render(j);
    check_page(html);
    static const char *const ids[] = {"bottleneck", "alerts",  "totals",     "quality",
                                      "reasons",    "tiers",   "throughput", "stages",
                                      "documents",  "samples", "metrics"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char want[64];
        snprintf(want, sizeof(want), "<section id=\"%s\">", ids[i]);
        assert_has(html, want);
    }
    assert_has(html, "<header><h1>ranpipe run report</h1>");
    assert_has(html, "<span class=\"status status-complete\">complete</span>");
    assert_has(html, "5 min 12 s (312.4 s)");
    assert_has(html, "its input queue was full 96% of the time");
    assert_has(html, "<li class=\"alert-critical\">");
    assert_has(html, ">211,344<");                              /* prompt tokens, grouped */
    assert_has(html, "aria-label=\"quality score histogram\""); /* chart drawn ... */
    assert_has(html, ">threshold 0.6</text>");                  /* ... threshold marked */
    assert_has(html, "aria-label=\"cumulative chunks and pairs over time\"");
    assert_has(html, "<polyline");
    assert_has(html, "elapsed seconds</text>");
    assert_has(html, "<td class=\"breaker-half-open\">half-open</td>");
    /* 18 reasons: the top 15 and one "other" row for the last 3. */
    assert_has(html, "64 rejections for 18 reasons; the 15 most frequent are shown");
    assert_has(html, "other (3 reasons)");
    assert_has(html, "<tr class=\"hot\"><td><strong>generate</strong>");
    assert_has(html, "8 documents: 6 ok, 1 failed, 1 unchanged.");
    assert_has(html, "<td class=\"doc-failed\">failed</td>");
    assert_has(html, "ranpipe_requests_total.small");
    /* Non-ASCII text is kept as it is. */
    assert_has(html, "\xe4\xb8\xad\xe6\x96\x87"); /* 中文 */
    assert_has(html, "5 \xce\xa9 \xe2\x89\xa0 5 Ohm");
    /* Hostile strings only escaped. */
    assert_lacks(html, "<script>alert");
    assert_lacks(html, "<img");
    assert_lacks(html, "<b>");
    assert_lacks(html, "onerror=alert(1)>");
    assert_has(html, "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; What is the T310");
    assert_has(html, "&lt;img src=x onerror=alert(1)&gt; T310 is the &#39;radio link failure&#39; "
                     "timer &amp; it&#39;s 1000 ms.");
    assert_has(html, "examples/docs/&quot;quoted&quot; &lt;b&gt;name&lt;/b&gt;.html");
    assert_has(html, "extra/&lt;b&gt;notes&lt;/b&gt; &amp; more.md");
    assert_has(html, "Describe the Xn handover preparation in &quot;detail&quot; (&lt;= 3 steps).");
    /* The long answer is whole (under the cut). */
    assert_lacks(html, "more bytes");
    assert_true(strlen(html) < 200000);
    free(html);
    json_decref(j);
}

static void empty_fixture_renders(void **state)
{
    json_t *j = load_fixture("summary-empty.json");
    char *html = render(j);
    check_page(html);
    assert_has(html, "<span class=\"status status-failed\">failed</span>");
    assert_has(html, "No stage limited this run.");
    assert_has(html, "No alerts were raised.");
    assert_has(html, "No pairs were rejected.");
    assert_has(html, "no data (no tiers)");
    assert_has(html, "no data (no stages)");
    assert_has(html, "No documents.");
    assert_has(html, ">no data</text>"); /* histogram and throughput */
    assert_int_equal(occurrences(html, ">no data</text>"), 2);
    assert_lacks(html, "<section id=\"metrics\">");
    free(html);
    json_decref(j);
}

static void rendering_is_deterministic(void **state)
{
    json_t *a = load_fixture("summary.json"), *b = load_fixture("summary.json");
    char *x = render(a), *y = render(b), *z = render(a);
    assert_string_equal(x, y);
    assert_string_equal(x, z);
    free(x);
    free(y);
    free(z);
    json_decref(a);
    json_decref(b);
}

/* Rendering appends, as every rp_buf writer does. */
static void render_appends(void **state)
{
    struct rp_buf b;
    rp_buf_init(&b, RP_BUF_NO_CAP);
    assert_int_equal(rp_buf_adds(&b, "PREFIX"), RP_OK);
    json_t *j = json_object();
    assert_int_equal(rp_report_render(j, &b, NULL), RP_OK);
    assert_true(strncmp(b.data, "PREFIX<!DOCTYPE html>", 21) == 0);
    json_decref(j);
    rp_buf_release(&b);
}

/* ---- tolerance ---- */

static void anything_renders(void **state)
{
    static const char *const docs[] = {"{}",
                                       "null",
                                       "[]",
                                       "\"x\"",
                                       "42",
                                       "[{\"schema\":1}]",
                                       "{\"schema\":\"ranpipe-summary/1\"}"};
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        char *html = render_text(docs[i]);
        check_page(html);
        assert_has(html, "<section id=\"documents\">");
        assert_has(html, "\xe2\x80\x94"); /* a dash for each missing value */
        if (docs[i][0] != '{')
            assert_has(html, "The summary is not a JSON object");
        free(html);
    }
}

/* Every key there but with the wrong type, and numbers no run makes. */
static const char WRONG[] =
    "{\"schema\":\"ranpipe-summary/1\",\"status\":7,\"started_at\":[],\"finished_at\":{},"
    "\"seconds\":\"NaN\",\"inputs\":\"examples\",\"out_dir\":null,"
    "\"totals\":{\"docs\":\"8\",\"chunks\":-3,\"pairs\":1e308,\"rejects\":9223372036854775807,"
    "\"gen_tokens\":-9223372036854775807,\"files\":1.5},"
    "\"rates\":[1,2],"
    "\"tiers\":[1,\"a\",null,{\"name\":5,\"kind\":\"llama\",\"chunks\":\"7\",\"pairs\":1e308,"
    "\"latency_seconds\":[],\"breaker\":\"<b>\"},{\"name\":\"x\",\"chunks\":1e300,"
    "\"latency_seconds\":{\"count\":0,\"sum\":5,\"p50\":\"Infinity\",\"p95\":-1e308}}],"
    "\"stages\":[{\"busy_seconds\":1e308,\"wait_input_seconds\":1e308,\"wait_output_seconds\":-1,"
    "\"busy_share\":\"x\"},7,{\"name\":{}}],"
    "\"bottleneck\":[],"
    "\"quality\":{\"threshold\":\"NaN\",\"accepted\":{},\"score_histogram\":{\"bounds\":[0.5,0.2],"
    "\"counts\":[1,2]}},"
    "\"reject_reasons\":[{\"count\":1e308},{\"count\":-3},{\"count\":\"9\"},null,{\"stage\":1}],"
    "\"throughput\":[{\"t\":\"NaN\"},{\"t\":1e308,\"pairs\":1e308},{\"t\":-1},{\"t\":2,\"pairs\":-"
    "5},"
    "{\"t\":1,\"chunks\":1e300,\"pairs\":\"1\"},7],"
    "\"documents\":[7,null,{\"source\":[],\"status\":\"weird\",\"tiers\":[1],\"chunks\":1e308},"
    "{\"tiers\":{\"a\":\"b\",\"c\":1e308}}],"
    "\"samples\":{\"accepted\":\"x\",\"rejected\":[{\"reasons\":\"x\",\"score\":\"0.5\"},1]},"
    "\"alerts\":[null,{\"level\":\"<b>\",\"t\":-1e308},{\"level\":{},\"t\":1e308}],"
    "\"metrics\":{\"a\":[1,{\"b\":null,\"c\":true}],\"d\":1e308}}";

static void wrong_types_render(void **state)
{
    char *html = render_text(WRONG);
    check_page(html);
    assert_has(html, "status-unknown");
    assert_has(html, "breaker-unknown");
    assert_has(html, "&lt;b&gt;");
    assert_has(html, "no data (malformed histogram)");
    assert_has(html, "of unknown status");
    assert_has(html, "aria-label=\"cumulative chunks and pairs over time\"");
    assert_lacks(html, ">no data</text>"); /* the throughput points that are numbers are drawn */
    assert_has(html, "metrics");
    assert_has(html, "a[1].c");
    /* Metric names longer than a path may be are left out, the rest shown. */
    json_t *j = json_loads(WRONG, 0, NULL);
    assert_non_null(j);
    char *name = malloc(100000);
    assert_non_null(name);
    memset(name, 'm', 99999);
    name[99999] = '\0';
    json_object_set_new(json_object_get(j, "metrics"), name, json_integer(1));
    char *with_long = render(j);
    check_page(with_long);
    assert_has(with_long, "a[1].c");
    assert_lacks(with_long, "mmmmmmmmmmmmmmmmmmmm");
    free(with_long);
    free(name);
    json_decref(j);
    char *again = render_text(WRONG);
    assert_string_equal(html, again);
    free(again);
    free(html);
}

/* A histogram of one bin, a threshold outside it, counts of another length. */
static void odd_histograms(void **state)
{
    char *html = render_text("{\"quality\":{\"threshold\":2,\"score_histogram\":{\"bounds\":[1],"
                             "\"counts\":[3]}}}");
    check_page(html);
    assert_has(html, "aria-label=\"quality score histogram\"");
    assert_lacks(html, ">threshold");
    free(html);
    html = render_text("{\"quality\":{\"score_histogram\":{\"bounds\":[0.5,1],\"counts\":[3]}}}");
    assert_has(html, "no data (malformed histogram)");
    free(html);
    html = render_text("{\"quality\":{\"score_histogram\":{\"bounds\":[0,0.5,1],"
                       "\"counts\":[1,\"x\",null]}}}");
    check_page(html);
    assert_has(html, "aria-label=\"quality score histogram\"");
    assert_lacks(html, "malformed");
    free(html);
}

static void strings_are_cleaned(void **state)
{
    json_t *j = json_object();
    /* Invalid UTF-8 and control characters cannot reach the page as they are. */
    json_object_set_new(j, "out_dir",
                        json_stringn_nocheck("a\xff\xfe"
                                             "b\x01"
                                             "c\x1b[31m",
                                             11));
    json_object_set_new(j, "ranpipe_version", json_string("1\r\n2\t3"));
    char *html = render(j);
    check_page(html);
    assert_has(html, "a\xef\xbf\xbd\xef\xbf\xbd"
                     "b\xef\xbf\xbd"
                     "c\xef\xbf\xbd[31m");
    assert_has(html, "1\n\n2\t3");
    free(html);
    json_decref(j);
}

static void long_strings_are_cut(void **state)
{
    size_t n = 3 * RP_REPORT_MAX_TEXT;
    char *big = malloc(n + 1);
    assert_non_null(big);
    /* Three-byte characters, so the cut must land between two of them. */
    for (size_t i = 0; i + 3 <= n; i += 3)
        memcpy(big + i, "\xe4\xb8\xad", 3);
    big[n] = '\0';
    json_t *j =
        json_pack("{s:{s:[{s:s,s:s}]}}", "samples", "accepted", "question", "q", "answer", big);
    assert_non_null(j);
    char *html = render(j);
    check_page(html);
    assert_has(html, "more bytes)");
    assert_true(strlen(html) < n);
    /* Still valid UTF-8 around the cut. */
    const char *cut = strstr(html, "<span class=\"note\"> \xe2\x80\xa6");
    assert_non_null(cut);
    assert_memory_equal(cut - 3, "\xe4\xb8\xad", 3);
    free(html);
    json_decref(j);
    free(big);
}

/* 10^5 documents and throughput points: the table and the chart are
 * capped, the page stays small, and says what it left out. */
static void large_summaries_are_capped(void **state)
{
    json_t *docs = json_array(), *thr = json_array();
    for (int i = 0; i < 100000; i++) {
        char src[32];
        snprintf(src, sizeof(src), "doc-%d.md", i);
        json_array_append_new(docs, json_pack("{s:s,s:s,s:i,s:i,s:i,s:{s:i}}", "source", src,
                                              "status", "ok", "chunks", 3, "pairs", 2, "rejects", 1,
                                              "tiers", "small", 2));
        json_array_append_new(
            thr, json_pack("{s:f,s:i,s:i}", "t", i * 0.5, "chunks", i, "pairs", i / 2));
    }
    json_t *j = json_pack("{s:o,s:o}", "documents", docs, "throughput", thr);
    char *html = render(j);
    check_page(html);
    assert_has(html, "100,000 documents: 100,000 ok.");
    assert_has(html, "Only the first 1,000 are listed; the other 99,000 are in summary.json.");
    assert_has(html, ">doc-999.md<");
    assert_lacks(html, ">doc-1000.md<");
    assert_has(html, "600 samples over 13 h 53 min");
    const char *pl = strstr(html, "<polyline");
    assert_non_null(pl);
    const char *pts = strstr(pl, "points=\"");
    assert_non_null(pts);
    size_t spaces = 0;
    for (const char *p = pts + 8; *p && *p != '"'; p++)
        spaces += *p == ' ';
    assert_int_equal(spaces + 1, RP_REPORT_MAX_POINTS);
    assert_true(strlen(html) < 1000000);
    free(html);
    json_decref(j);
}

/* A page that outgrows the buffer's cap fails cleanly. */
static void cap_is_an_error(void **state)
{
    json_t *j = load_fixture("summary.json");
    struct rp_buf b;
    rp_buf_init(&b, 4000);
    struct rp_error err;
    rp_error_clear(&err);
    assert_int_equal(rp_report_render(j, &b, &err), RP_ERR_TOOBIG);
    assert_non_null(strstr(err.msg, "cannot render the report"));
    rp_buf_release(&b);
    json_decref(j);
}

/* ---- files ---- */

static void write_replaces_the_page(void **state)
{
    char *dir = temp_dir();
    char path[2048], listing[4096];
    struct rp_error err;
    rp_error_clear(&err);

    /* No summary: NOENT, naming the file. */
    assert_int_equal(rp_report_write(dir, &err), RP_ERR_NOENT);
    assert_non_null(strstr(err.msg, "summary.json"));
    list_dir(dir, listing, sizeof(listing));
    assert_string_equal(listing, "");

    /* Invalid JSON: where. */
    write_file(dir, "summary.json", "{\"schema\": \"ranpipe-summary/1\",\n  \"status\": tru }\n");
    assert_int_equal(rp_report_write(dir, &err), RP_ERR_PARSE);
    assert_non_null(strstr(err.msg, "summary.json': invalid JSON at line 2, column"));

    /* Not a summary, or another version. */
    write_file(dir, "summary.json", "[1,2]");
    assert_int_equal(rp_report_write(dir, &err), RP_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "a JSON object was expected"));
    write_file(dir, "summary.json", "{\"status\":\"complete\"}");
    assert_int_equal(rp_report_write(dir, &err), RP_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "no \"schema\""));
    write_file(dir, "summary.json", "{\"schema\":\"ranpipe-summary/9\"}");
    assert_int_equal(rp_report_write(dir, &err), RP_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "its schema is 'ranpipe-summary/9', and this ranpipe reads "
                                    "'ranpipe-summary/1'"));
    list_dir(dir, listing, sizeof(listing));
    assert_string_equal(listing, "summary.json"); /* nothing written, nothing left behind */

    /* A good one: the page, readable by all, and no temporary file left. */
    write_file(dir, "summary.json", "{\"schema\":\"ranpipe-summary/1\",\"status\":\"complete\"}");
    rp_error_clear(&err);
    assert_int_equal(rp_report_write(dir, &err), RP_OK);
    snprintf(path, sizeof(path), "%s/report.html", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    off_t first = st.st_size;
    json_t *j = load_fixture("summary.json");
    char *want = render(j);
    json_decref(j);

    /* Rewritten over the old page from another summary. */
    snprintf(path, sizeof(path), "%s/report.html", dir);
    assert_int_equal(rp_report_write_file(fixture("summary.json"), path, &err), RP_OK);
    struct rp_buf got;
    rp_buf_init(&got, RP_BUF_NO_CAP);
    assert_int_equal(rp_buf_read_file(&got, path, &err), RP_OK);
    assert_string_equal(got.data, want);
    assert_true((off_t)got.len > first);
    rp_buf_release(&got);
    free(want);
    list_dir(dir, listing, sizeof(listing));
    assert_true(strcmp(listing, "summary.json report.html") == 0 ||
                strcmp(listing, "report.html summary.json") == 0);

    /* An output directory that does not exist: the error names the file. */
    snprintf(path, sizeof(path), "%s/missing/report.html", dir);
    assert_int_equal(rp_report_write_file(fixture("summary.json"), path, &err), RP_ERR_NOENT);
    assert_non_null(strstr(err.msg, "missing/report.html"));
    remove_dir(dir);
}

/* Only regular files are replaced: a FIFO (or a device, like /dev/null) is
 * refused and stays what it is; a symbolic link's target is replaced and
 * the link kept. */
static void write_replaces_only_files(void **state)
{
    char *dir = temp_dir();
    char path[2048], target[2048];
    struct rp_error err;
    rp_error_clear(&err);
    snprintf(path, sizeof(path), "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(rp_report_write_file(fixture("summary.json"), path, &err), RP_ERR_INVAL);
    assert_non_null(strstr(err.msg, "not a regular file"));
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(rp_report_write_file(fixture("summary.json"), dir, &err), RP_ERR_INVAL);
    assert_non_null(strstr(err.msg, "it is a directory"));

    snprintf(target, sizeof(target), "%s/target.html", dir);
    write_file(dir, "target.html", "old");
    snprintf(path, sizeof(path), "%s/link.html", dir);
    assert_int_equal(symlink("target.html", path), 0);
    assert_int_equal(rp_report_write_file(fixture("summary.json"), path, &err), RP_OK);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(stat(target, &st), 0);
    assert_true(st.st_size > 1000);
    char listing[4096];
    list_dir(dir, listing, sizeof(listing));
    assert_null(strstr(listing, ".tmp."));
    remove_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixture_has_every_section),
        cmocka_unit_test(empty_fixture_renders),
        cmocka_unit_test(rendering_is_deterministic),
        cmocka_unit_test(render_appends),
        cmocka_unit_test(anything_renders),
        cmocka_unit_test(wrong_types_render),
        cmocka_unit_test(odd_histograms),
        cmocka_unit_test(strings_are_cleaned),
        cmocka_unit_test(long_strings_are_cut),
        cmocka_unit_test(large_summaries_are_capped),
        cmocka_unit_test(cap_is_an_error),
        cmocka_unit_test(write_replaces_the_page),
        cmocka_unit_test(write_replaces_only_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
