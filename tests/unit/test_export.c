/*
 * test_export.c - dataset lines into trainer formats and document-level
 * splits (include/ranpipe/export.h).
 *
 * The rendering of every format is checked byte for byte (key order
 * included: exports must be reproducible), then each kind of bad line, the
 * split arithmetic, and whole exports into a temporary directory under
 * $RANPIPE_TEST_TMP (or /tmp), removed by the test that made it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ranpipe/buf.h"
#include "ranpipe/error.h"
#include "ranpipe/export.h"

/* ---- helpers ---- */

/* A dataset line as `ranpipe run` writes it, with metadata keys another
 * stage may add (quality, entities): they must travel unchanged. */
static const char LINE[] =
    "{\"id\":\"00112233aabbccdd\",\"messages\":[{\"role\":\"user\",\"content\":\"What is "
    "ANR?\"},{\"role\":\"assistant\",\"content\":\"Automatic Neighbour Relations.\"}],"
    "\"metadata\":{\"source\":\"docs/anr.md\",\"chunk\":0,\"complexity\":0.19700000000000001,"
    "\"quality\":{\"score\":0.5,\"grounded\":true},\"entities\":[\"ANR\"]}}";
static const char META[] = "\"metadata\":{\"source\":\"docs/anr.md\",\"chunk\":0,"
                           "\"complexity\":0.19700000000000001,\"quality\":{\"score\":0.5,"
                           "\"grounded\":true},\"entities\":[\"ANR\"]}";

/* Converts LINE (or line) with format f, system prompt sys (may be NULL)
 * and metadata kept or not; returns the output (caller frees). */
static char *convert(const char *line, enum rp_export_format f, const char *sys, bool keep)
{
    struct rp_export_params p = rp_export_default_params();
    p.format = f;
    p.system_prompt = sys;
    p.keep_metadata = keep;
    struct rp_buf out, src;
    rp_buf_init(&out, RP_BUF_NO_CAP);
    rp_buf_init(&src, RP_BUF_NO_CAP);
    struct rp_error err;
    rp_error_clear(&err);
    enum rp_err rc = rp_export_convert(&p, line, strlen(line), &out, &src, &err);
    if (rc)
        fail_msg("convert failed: %s", err.msg);
    assert_string_equal(src.data, "docs/anr.md");
    rp_buf_release(&src);
    return rp_buf_detach(&out);
}

static void assert_converts(enum rp_export_format f, const char *sys, bool keep, const char *want)
{
    char *got = convert(LINE, f, sys, keep);
    assert_string_equal(got, want);
    free(got);
}

/* Checks that line is refused with a reason containing why, and that the
 * output buffers keep what they held. */
static void assert_bad(const char *line, const char *why)
{
    struct rp_export_params p = rp_export_default_params();
    struct rp_buf out, src;
    rp_buf_init(&out, RP_BUF_NO_CAP);
    rp_buf_init(&src, RP_BUF_NO_CAP);
    assert_int_equal(rp_buf_adds(&out, "before"), RP_OK);
    assert_int_equal(rp_buf_adds(&src, "src"), RP_OK);
    struct rp_error err;
    rp_error_clear(&err);
    assert_int_equal(rp_export_convert(&p, line, strlen(line), &out, &src, &err), RP_ERR_PARSE);
    if (!strstr(err.msg, why))
        fail_msg("reason '%s' lacks '%s'", err.msg, why);
    assert_string_equal(out.data, "before");
    assert_string_equal(src.data, "src");
    rp_buf_release(&out);
    rp_buf_release(&src);
}

static const char *tmp_dir(void)
{
    const char *d = getenv("RANPIPE_TEST_TMP");
    return d && *d ? d : "/tmp";
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Lines in path; -1 when it does not exist. */
static long count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static void path_in(char *out, size_t size, const char *dir, const char *name)
{
    int w = snprintf(out, size, "%s/%s", dir, name);
    assert_true(w > 0 && (size_t)w < size);
}

/* Removes dir/name for each name given (NULL-terminated), then dir. */
static void remove_tree(const char *dir, ...)
{
    char p[1024];
    va_list ap;
    va_start(ap, dir);
    for (const char *n; (n = va_arg(ap, const char *));) {
        path_in(p, sizeof(p), dir, n);
        unlink(p);
    }
    va_end(ap);
    assert_int_equal(rmdir(dir), 0);
}

/* ---- names and options ---- */

static void format_names(void **state)
{
    (void)state;
    const char *names[] = {"messages", "sharegpt", "alpaca", "completions", "text"};
    for (int i = 0; i < RP_EXPORT_FORMAT__COUNT; i++) {
        enum rp_export_format f;
        assert_true(rp_export_format_parse(names[i], &f));
        assert_int_equal(f, i);
        assert_string_equal(rp_export_format_name(f), names[i]);
    }
    enum rp_export_format f = RP_EXPORT_FORMAT_TEXT;
    assert_false(rp_export_format_parse("chatml", &f));
    assert_false(rp_export_format_parse("Messages", &f));
    assert_int_equal(f, RP_EXPORT_FORMAT_TEXT);
    assert_null(rp_export_format_name(RP_EXPORT_FORMAT__COUNT));
    assert_string_equal(rp_export_split_name(RP_EXPORT_SPLIT_VALID), "valid");
    assert_null(rp_export_split_name(RP_EXPORT_SPLIT__COUNT));
}

static void defaults(void **state)
{
    (void)state;
    struct rp_export_params p = rp_export_default_params();
    assert_int_equal(p.format, RP_EXPORT_FORMAT_MESSAGES);
    assert_int_equal(p.split[0], 100);
    assert_int_equal(p.split[1], 0);
    assert_int_equal(p.split[2], 0);
    assert_true(p.keep_metadata);
    assert_null(p.system_prompt);
    assert_null(p.out_dir);
    assert_int_equal(p.seed, 0);
}

static void split_parse(void **state)
{
    (void)state;
    unsigned pct[3] = {7, 7, 7};
    assert_true(rp_export_split_parse("80/10/10", pct));
    assert_int_equal(pct[0], 80);
    assert_int_equal(pct[1], 10);
    assert_int_equal(pct[2], 10);
    assert_true(rp_export_split_parse("0/0/100", pct));
    assert_int_equal(pct[2], 100);
    assert_true(rp_export_split_parse("100/0/0", pct));
    const char *bad[] = {
        "",          "80/10",    "80/10/11", "80/10/10/0",  "80//20",  "-1/1/100", "80/10/10 ",
        " 80/10/10", "1000/0/0", "a/b/c",    "80.5/9.5/10", "101/0/0", "0100/0/0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pct[0] = 7;
        if (rp_export_split_parse(bad[i], pct))
            fail_msg("'%s' parsed", bad[i]);
        assert_int_equal(pct[0], 7);
    }
}

/* ---- rendering ---- */

static void messages_format(void **state)
{
    (void)state;
    /* Kept metadata and no system prompt: the dataset line itself. */
    assert_converts(RP_EXPORT_FORMAT_MESSAGES, NULL, true, LINE);
    assert_converts(RP_EXPORT_FORMAT_MESSAGES, "You are a RAN engineer.", false,
                    "{\"messages\":[{\"role\":\"system\",\"content\":\"You are a RAN engineer.\"},"
                    "{\"role\":\"user\",\"content\":\"What is ANR?\"},{\"role\":\"assistant\","
                    "\"content\":\"Automatic Neighbour Relations.\"}]}");
    /* An empty system prompt is none. */
    assert_converts(RP_EXPORT_FORMAT_MESSAGES, "", false,
                    "{\"messages\":[{\"role\":\"user\",\"content\":\"What is ANR?\"},"
                    "{\"role\":\"assistant\",\"content\":\"Automatic Neighbour Relations.\"}]}");
}

static void sharegpt_format(void **state)
{
    (void)state;
    char want[1024];
    snprintf(want, sizeof(want),
             "{\"id\":\"00112233aabbccdd\",\"conversations\":[{\"from\":\"system\",\"value\":"
             "\"S\"},{\"from\":\"human\",\"value\":\"What is ANR?\"},{\"from\":\"gpt\","
             "\"value\":\"Automatic Neighbour Relations.\"}],%s}",
             META);
    assert_converts(RP_EXPORT_FORMAT_SHAREGPT, "S", true, want);
    assert_converts(RP_EXPORT_FORMAT_SHAREGPT, NULL, false,
                    "{\"conversations\":[{\"from\":\"human\",\"value\":\"What is ANR?\"},"
                    "{\"from\":\"gpt\",\"value\":\"Automatic Neighbour Relations.\"}]}");
}

static void alpaca_format(void **state)
{
    (void)state;
    assert_converts(RP_EXPORT_FORMAT_ALPACA, NULL, false,
                    "{\"instruction\":\"What is ANR?\",\"input\":\"\",\"output\":\"Automatic "
                    "Neighbour Relations.\"}");
    char want[1024];
    snprintf(want, sizeof(want),
             "{\"id\":\"00112233aabbccdd\",\"instruction\":\"What is ANR?\",\"input\":\"\","
             "\"output\":\"Automatic Neighbour Relations.\",\"system\":\"S\",%s}",
             META);
    assert_converts(RP_EXPORT_FORMAT_ALPACA, "S", true, want);
}

static void completions_format(void **state)
{
    (void)state;
    assert_converts(RP_EXPORT_FORMAT_COMPLETIONS, NULL, false,
                    "{\"prompt\":\"What is ANR?\",\"completion\":\"Automatic Neighbour "
                    "Relations.\"}");
    assert_converts(RP_EXPORT_FORMAT_COMPLETIONS, "Be brief.", false,
                    "{\"prompt\":\"Be brief.\\n\\nWhat is ANR?\",\"completion\":\"Automatic "
                    "Neighbour Relations.\"}");
}

static void text_format(void **state)
{
    (void)state;
    assert_converts(RP_EXPORT_FORMAT_TEXT, NULL, false,
                    "{\"text\":\"Question: What is ANR?\\nAnswer: Automatic Neighbour "
                    "Relations.\"}");
    char want[1024];
    snprintf(want, sizeof(want),
             "{\"id\":\"00112233aabbccdd\",\"text\":\"Be brief.\\n\\nQuestion: What is "
             "ANR?\\nAnswer: Automatic Neighbour Relations.\",%s}",
             META);
    assert_converts(RP_EXPORT_FORMAT_TEXT, "Be brief.", true, want);
}

/* Newlines, quotes and non-ASCII text go through as JSON escapes / UTF-8. */
static void text_is_escaped_not_altered(void **state)
{
    (void)state;
    const char *line = "{\"messages\":[{\"role\":\"user\",\"content\":\"Wh\\u00e9re \\\"is\\\"\\n"
                       "it?\"},{\"role\":\"assistant\",\"content\":\"Line 1\\nLine 2 \\u2013 "
                       "\\ud83d\\udce1\"}],\"metadata\":{\"source\":\"docs/anr.md\"}}";
    char *got = convert(line, RP_EXPORT_FORMAT_TEXT, "Système", true);
    assert_string_equal(got, "{\"text\":\"Système\\n\\nQuestion: Whére \\\"is\\\"\\nit?\\nAnswer: "
                             "Line 1\\nLine 2 – 📡\",\"metadata\":{\"source\":\"docs/anr.md\"}}");
    free(got);
    /* No id in the input: none in the output, even with metadata kept. */
    got = convert(line, RP_EXPORT_FORMAT_COMPLETIONS, NULL, true);
    assert_null(strstr(got, "\"id\""));
    free(got);
}

static void convert_appends(void **state)
{
    (void)state;
    struct rp_export_params p = rp_export_default_params();
    p.format = RP_EXPORT_FORMAT_COMPLETIONS;
    p.keep_metadata = false;
    struct rp_buf out, src;
    rp_buf_init(&out, RP_BUF_NO_CAP);
    rp_buf_init(&src, RP_BUF_NO_CAP);
    assert_int_equal(rp_buf_adds(&out, "> "), RP_OK);
    assert_int_equal(rp_export_convert(&p, LINE, strlen(LINE), &out, &src, NULL), RP_OK);
    assert_int_equal(strncmp(out.data, "> {\"prompt\":", 12), 0);
    /* The line need not be NUL-terminated: only n bytes are read. */
    char copy[sizeof(LINE) + 8];
    memcpy(copy, LINE, sizeof(LINE) - 1);
    memcpy(copy + sizeof(LINE) - 1, "garbage", 8);
    rp_buf_reset(&out);
    rp_buf_reset(&src);
    assert_int_equal(rp_export_convert(&p, copy, sizeof(LINE) - 1, &out, &src, NULL), RP_OK);
    assert_string_equal(src.data, "docs/anr.md");
    rp_buf_release(&out);
    rp_buf_release(&src);
}

static void bad_lines(void **state)
{
    (void)state;
    assert_bad("{\"messages\":", "not valid JSON");
    assert_bad("not json", "not valid JSON");
    assert_bad("[1,2]", "not a JSON object");
    assert_bad("{\"metadata\":{\"source\":\"a\"}}", "no \"messages\" array");
    assert_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"Q\"}],\"metadata\":{\"source\":"
               "\"a\"}}",
               "holds 1 messages");
    assert_bad("{\"messages\":[{\"role\":\"assistant\",\"content\":\"A\"},{\"role\":\"user\","
               "\"content\":\"Q\"}],\"metadata\":{\"source\":\"a\"}}",
               "messages[0] is not {\"role\":\"user\"");
    assert_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"Q\"},{\"role\":\"assistant\","
               "\"content\":7}],\"metadata\":{\"source\":\"a\"}}",
               "messages[1] is not {\"role\":\"assistant\"");
    assert_bad("{\"messages\":[{\"role\":\"user\",\"content\":\" \\n\"},{\"role\":\"assistant\","
               "\"content\":\"A\"}],\"metadata\":{\"source\":\"a\"}}",
               "the question (messages[0]) is empty");
    assert_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"Q\"},{\"role\":\"assistant\","
               "\"content\":\"\"}],\"metadata\":{\"source\":\"a\"}}",
               "the answer (messages[1]) is empty");
    assert_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"Q\"},{\"role\":\"assistant\","
               "\"content\":\"A\"}]}",
               "no \"metadata\" object");
    assert_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"Q\"},{\"role\":\"assistant\","
               "\"content\":\"A\"}],\"metadata\":{\"source\":\"\"}}",
               "no \"metadata.source\"");
    assert_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"Q\"},{\"role\":\"assistant\","
               "\"content\":\"A\"}],\"metadata\":{\"source\":3}}",
               "no \"metadata.source\"");
    assert_bad("{\"id\":5,\"messages\":[{\"role\":\"user\",\"content\":\"Q\"},{\"role\":"
               "\"assistant\",\"content\":\"A\"}],\"metadata\":{\"source\":\"a\"}}",
               "\"id\" is not a string");
    assert_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"caf\xe9\"},{\"role\":"
               "\"assistant\",\"content\":\"A\"}],\"metadata\":{\"source\":\"a\"}}",
               "not valid JSON");
}

static void invalid_system_prompt(void **state)
{
    (void)state;
    struct rp_export_params p = rp_export_default_params();
    p.system_prompt = "caf\xe9";
    struct rp_buf out, src;
    rp_buf_init(&out, RP_BUF_NO_CAP);
    rp_buf_init(&src, RP_BUF_NO_CAP);
    struct rp_error err;
    assert_int_equal(rp_export_convert(&p, LINE, strlen(LINE), &out, &src, &err), RP_ERR_INVAL);
    assert_non_null(strstr(err.msg, "system prompt"));
    assert_int_equal(out.len, 0);
    rp_buf_release(&out);
    rp_buf_release(&src);
}

/* ---- splits ---- */

static void split_point_range_and_determinism(void **state)
{
    (void)state;
    char src[64];
    for (int i = 0; i < 2000; i++) {
        snprintf(src, sizeof(src), "docs/feature-%d.md", i);
        double x = rp_export_split_point(src, 0);
        assert_true(x >= 0.0 && x < 1.0);
        assert_true(x == rp_export_split_point(src, 0));
        /* A multiple of 2^-53: exact on every machine. */
        double scaled = x * 0x1p53;
        assert_true(scaled == floor(scaled));
    }
    /* Pinned: a change of hash or seeding would move every user's documents
     * between splits from one ranpipe version to the next. */
    assert_true(rp_export_split_point("docs/a.md", 0) == 0x1.f2e5e09094f2bp-1);
    assert_true(rp_export_split_point("docs/a.md", 0) != rp_export_split_point("docs/a.md", 1));
    assert_true(rp_export_split_point("docs/a.md", 0) != rp_export_split_point("docs/b.md", 0));
}

static void split_of_follows_the_point(void **state)
{
    (void)state;
    const unsigned pct[3] = {80, 10, 10};
    const unsigned all_train[3] = {100, 0, 0}, all_valid[3] = {0, 100, 0};
    const unsigned all_test[3] = {0, 0, 100}, no_valid[3] = {50, 0, 50};
    size_t n[3] = {0, 0, 0};
    char src[64];
    for (int i = 0; i < 10000; i++) {
        snprintf(src, sizeof(src), "docs/%d.md", i);
        double x = rp_export_split_point(src, 42);
        enum rp_export_split s = rp_export_split_of(pct, src, 42);
        enum rp_export_split want = x < 0.8   ? RP_EXPORT_SPLIT_TRAIN
                                    : x < 0.9 ? RP_EXPORT_SPLIT_VALID
                                              : RP_EXPORT_SPLIT_TEST;
        assert_int_equal(s, want);
        n[s]++;
        assert_int_equal(rp_export_split_of(all_train, src, 42), RP_EXPORT_SPLIT_TRAIN);
        assert_int_equal(rp_export_split_of(all_valid, src, 42), RP_EXPORT_SPLIT_VALID);
        assert_int_equal(rp_export_split_of(all_test, src, 42), RP_EXPORT_SPLIT_TEST);
        assert_int_not_equal(rp_export_split_of(no_valid, src, 42), RP_EXPORT_SPLIT_VALID);
    }
    /* The shares come out near the percentages (10000 documents). */
    assert_in_range(n[0], 7700, 8300);
    assert_in_range(n[1], 850, 1150);
    assert_in_range(n[2], 850, 1150);
}

static void split_seed_moves_documents(void **state)
{
    (void)state;
    const unsigned pct[3] = {80, 10, 10};
    char src[64];
    int moved = 0;
    for (int i = 0; i < 200; i++) {
        snprintf(src, sizeof(src), "docs/%d.md", i);
        moved += rp_export_split_of(pct, src, 0) != rp_export_split_of(pct, src, 7);
    }
    assert_true(moved > 20);
}

/* ---- whole exports ---- */

struct bad_seen {
    size_t n, line;
    char reason[256];
};

static void on_bad(const char *path, size_t line, const char *reason, void *ud)
{
    struct bad_seen *b = ud;
    assert_non_null(strstr(path, "dataset.jsonl"));
    b->n++;
    b->line = line;
    snprintf(b->reason, sizeof(b->reason), "%s", reason);
}

static void pair_line(struct rp_buf *b, const char *source, int i)
{
    assert_int_equal(rp_buf_addf(b,
                                 "{\"id\":\"%016x\",\"messages\":[{\"role\":\"user\",\"content\":"
                                 "\"Q%d\"},{\"role\":\"assistant\",\"content\":\"A%d\"}],"
                                 "\"metadata\":{\"source\":\"%s\"}}\n",
                                 (unsigned)i, i, i, source),
                     RP_OK);
}

static void export_run_splits_by_document(void **state)
{
    (void)state;
    char dir[512], ds[1024], out[1024], p[1100];
    snprintf(dir, sizeof(dir), "%s/test_export.XXXXXX", tmp_dir());
    assert_non_null(mkdtemp(dir));
    path_in(ds, sizeof(ds), dir, "dataset.jsonl");
    path_in(out, sizeof(out), dir, "export-text");

    /* 12 documents of 3 pairs each, interleaved, a bad line 5 and blank lines. */
    struct rp_buf b;
    rp_buf_init(&b, RP_BUF_NO_CAP);
    int id = 0;
    for (int round = 0; round < 3; round++) {
        for (int d = 0; d < 12; d++) {
            char src[32];
            snprintf(src, sizeof(src), "docs/%d.md", d);
            pair_line(&b, src, id++);
            if (round == 0 && d == 3)
                assert_int_equal(rp_buf_adds(&b, "{\"messages\": oops\n\n"), RP_OK);
        }
    }
    assert_int_equal(rp_buf_adds(&b, "\r\n"), RP_OK);
    write_file(ds, b.data);
    rp_buf_release(&b);

    struct rp_export_params prm = rp_export_default_params();
    prm.format = RP_EXPORT_FORMAT_TEXT;
    prm.split[0] = 50;
    prm.split[1] = 25;
    prm.split[2] = 25;
    struct bad_seen bad = {0};
    prm.on_bad_line = on_bad;
    prm.ud = &bad;
    struct rp_export_summary s;
    struct rp_error err;
    /* A directory names its dataset.jsonl; the default output goes beside it. */
    assert_int_equal(rp_export_run(dir, &prm, &s, &err), RP_OK);
    assert_string_equal(s.dir, out);
    assert_int_equal(s.bad_lines, 1);
    assert_int_equal(bad.n, 1);
    assert_int_equal(bad.line, 5);
    assert_non_null(strstr(bad.reason, "not valid JSON"));
    assert_int_equal(s.lines, 36 + 3);
    assert_int_equal(s.pairs, 36);
    assert_int_equal(s.docs, 12);
    size_t pairs = 0, docs = 0;
    const char *names[] = {"train.jsonl", "valid.jsonl", "test.jsonl"};
    for (int i = 0; i < 3; i++) {
        assert_true(s.written[i]);
        assert_int_equal(s.split_pairs[i], 3 * s.split_docs[i]); /* documents stay whole */
        pairs += s.split_pairs[i];
        docs += s.split_docs[i];
        path_in(p, sizeof(p), out, names[i]);
        assert_int_equal(count_lines(p), (long)s.split_pairs[i]);
    }
    assert_int_equal(pairs, 36);
    assert_int_equal(docs, 12);
    /* Each document's pairs went to the split its source hashes to. */
    size_t want[3] = {0, 0, 0};
    for (int d = 0; d < 12; d++) {
        char src[32];
        snprintf(src, sizeof(src), "docs/%d.md", d);
        want[rp_export_split_of(prm.split, src, 0)] += 3;
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(s.split_pairs[i], want[i]);
    path_in(p, sizeof(p), out, "train.jsonl.partial");
    assert_int_equal(access(p, F_OK), -1);

    /* Without a split only train.jsonl remains: the stale valid and test go. */
    prm.split[0] = 100;
    prm.split[1] = prm.split[2] = 0;
    prm.out_dir = out;
    prm.on_bad_line = NULL; /* logged instead */
    assert_int_equal(rp_export_run(ds, &prm, &s, &err), RP_OK);
    assert_true(s.written[0] && !s.written[1] && !s.written[2]);
    assert_int_equal(s.split_pairs[0], 36);
    path_in(p, sizeof(p), out, "train.jsonl");
    assert_int_equal(count_lines(p), 36);
    path_in(p, sizeof(p), out, "valid.jsonl");
    assert_int_equal(count_lines(p), -1);
    path_in(p, sizeof(p), out, "test.jsonl");
    assert_int_equal(count_lines(p), -1);

    /* A dataset file named directly: the default output goes beside it. */
    prm.out_dir = NULL;
    prm.format = RP_EXPORT_FORMAT_ALPACA;
    assert_int_equal(rp_export_run(ds, &prm, &s, &err), RP_OK);
    path_in(p, sizeof(p), dir, "export-alpaca");
    assert_string_equal(s.dir, p);

    remove_tree(out, "train.jsonl", NULL);
    remove_tree(p, "train.jsonl", NULL);
    remove_tree(dir, "dataset.jsonl", NULL);
}

static void export_run_errors(void **state)
{
    (void)state;
    char dir[512], p[1024];
    snprintf(dir, sizeof(dir), "%s/test_export.XXXXXX", tmp_dir());
    assert_non_null(mkdtemp(dir));
    struct rp_export_params prm = rp_export_default_params();
    struct rp_export_summary s;
    struct rp_error err;

    /* A directory without a dataset. */
    assert_int_equal(rp_export_run(dir, &prm, &s, &err), RP_ERR_NOENT);
    assert_non_null(strstr(err.msg, "dataset.jsonl"));
    path_in(p, sizeof(p), dir, "export-messages");
    assert_int_equal(access(p, F_OK), -1); /* nothing made */
    /* A path that does not exist. */
    path_in(p, sizeof(p), dir, "missing");
    assert_int_equal(rp_export_run(p, &prm, &s, &err), RP_ERR_NOENT);
    assert_non_null(strstr(err.msg, "missing"));
    /* Splits that do not add up. */
    prm.split[0] = 90;
    assert_int_equal(rp_export_run(dir, &prm, &s, &err), RP_ERR_INVAL);
    prm.split[0] = 100;
    prm.format = RP_EXPORT_FORMAT__COUNT;
    assert_int_equal(rp_export_run(dir, &prm, &s, &err), RP_ERR_INVAL);

    /* An empty dataset exports empty files. */
    prm.format = RP_EXPORT_FORMAT_MESSAGES;
    path_in(p, sizeof(p), dir, "dataset.jsonl");
    write_file(p, "");
    assert_int_equal(rp_export_run(dir, &prm, &s, &err), RP_OK);
    assert_int_equal(s.pairs, 0);
    assert_int_equal(s.docs, 0);
    assert_true(s.written[0]);
    path_in(p, sizeof(p), dir, "export-messages");
    remove_tree(p, "train.jsonl", NULL);
    remove_tree(dir, "dataset.jsonl", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format_names),
        cmocka_unit_test(defaults),
        cmocka_unit_test(split_parse),
        cmocka_unit_test(messages_format),
        cmocka_unit_test(sharegpt_format),
        cmocka_unit_test(alpaca_format),
        cmocka_unit_test(completions_format),
        cmocka_unit_test(text_format),
        cmocka_unit_test(text_is_escaped_not_altered),
        cmocka_unit_test(convert_appends),
        cmocka_unit_test(bad_lines),
        cmocka_unit_test(invalid_system_prompt),
        cmocka_unit_test(split_point_range_and_determinism),
        cmocka_unit_test(split_of_follows_the_point),
        cmocka_unit_test(split_seed_moves_documents),
        cmocka_unit_test(export_run_splits_by_document),
        cmocka_unit_test(export_run_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
