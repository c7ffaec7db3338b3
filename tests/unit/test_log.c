/*
 * test_log.c - the logging sink's formats (include/ranpipe/log.h).
 *
 * The default sink writes to stderr; these tests point fd 2 at a pipe for
 * the duration of a case and read back what was written. Every JSON line is
 * parsed with jansson, as a log collector would.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ranpipe/log.h"
#include "ranpipe/utf8.h"

/* ---- capturing stderr ---- */

struct capture {
    int pipe[2];
    int saved;
};

static void capture_start(struct capture *c)
{
    fflush(stderr);
    assert_int_equal(pipe(c->pipe), 0);
    c->saved = dup(2);
    assert_true(c->saved >= 0);
    assert_int_equal(dup2(c->pipe[1], 2), 2);
    close(c->pipe[1]);
}

/* Restores stderr and returns what was written (caller frees). */
static char *capture_end(struct capture *c)
{
    fflush(stderr);
    assert_int_equal(dup2(c->saved, 2), 2);
    close(c->saved);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (n + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t r = read(c->pipe[0], buf + n, cap - n - 1);
        assert_true(r >= 0);
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(c->pipe[0]);
    buf[n] = '\0';
    return buf;
}

static int setup(void **state)
{
    (void)state;
    rp_log_set_level(RP_LOG_INFO);
    rp_log_set_format(RP_LOG_FORMAT_TEXT);
    rp_log_set_callback(NULL, NULL);
    return 0;
}

/* Parses one JSON log line and checks its shape; returns the object. */
static json_t *parse_line(const char *line, size_t len)
{
    json_error_t err;
    json_t *o = json_loadb(line, len, 0, &err);
    if (!o)
        fail_msg("not JSON (%s): %.*s", err.text, (int)len, line);
    assert_true(json_is_object(o));
    assert_int_equal(json_object_size(o), 3);
    const char *ts = json_string_value(json_object_get(o, "ts"));
    assert_non_null(ts);
    /* 2026-11-26T23:17:21.123Z */
    assert_int_equal(strlen(ts), 24);
    assert_true(ts[4] == '-' && ts[7] == '-' && ts[10] == 'T' && ts[13] == ':' && ts[16] == ':' &&
                ts[19] == '.' && ts[23] == 'Z');
    assert_non_null(json_string_value(json_object_get(o, "level")));
    assert_non_null(json_string_value(json_object_get(o, "msg")));
    return o;
}

/* ---- cases ---- */

static void parse_format(void **state)
{
    (void)state;
    enum rp_log_format f = RP_LOG_FORMAT_TEXT;
    assert_true(rp_log_parse_format("json", &f));
    assert_int_equal(f, RP_LOG_FORMAT_JSON);
    assert_true(rp_log_parse_format("text", &f));
    assert_int_equal(f, RP_LOG_FORMAT_TEXT);
    assert_false(rp_log_parse_format("JSON", &f));
    assert_false(rp_log_parse_format("", &f));
    assert_false(rp_log_parse_format("xml", &f));
    assert_string_equal(rp_log_level_name(RP_LOG_WARN), "warning");
    assert_string_equal(rp_log_level_name(RP_LOG_DEBUG), "debug");
}

static void text_unchanged(void **state)
{
    (void)state;
    struct capture c;
    capture_start(&c);
    rp_info("hello %d", 1);
    rp_warn("careful");
    rp_errorf("broken '%s'", "x");
    rp_debug("not shown");
    char *out = capture_end(&c);
    assert_string_equal(out, "ranpipe: hello 1\n"
                             "ranpipe: warning: careful\n"
                             "ranpipe: error: broken 'x'\n");
    free(out);
}

static void json_lines(void **state)
{
    (void)state;
    rp_log_set_format(RP_LOG_FORMAT_JSON);
    struct capture c;
    capture_start(&c);
    rp_info("hello %d", 1);
    rp_warn("careful");
    rp_errorf("broken '%s'", "x");
    rp_log_set_level(RP_LOG_DEBUG);
    rp_debug("details");
    char *out = capture_end(&c);
    static const char *const want[][2] = {
        {"info", "hello 1"}, {"warning", "careful"}, {"error", "broken 'x'"}, {"debug", "details"}};
    const char *p = out;
    for (size_t i = 0; i < 4; i++) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        json_t *o = parse_line(p, (size_t)(nl - p));
        assert_string_equal(json_string_value(json_object_get(o, "level")), want[i][0]);
        assert_string_equal(json_string_value(json_object_get(o, "msg")), want[i][1]);
        json_decref(o);
        p = nl + 1;
    }
    assert_string_equal(p, "");
    free(out);
}

static void json_escaping(void **state)
{
    (void)state;
    char buf[1024];
    /* Quotes, backslashes, every kind of control character, DEL, and valid
     * multibyte characters kept as they are. */
    const char *msg =
        "say \"hi\"\\ \x01\x1f\n\r\t\b\f\x7f caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa1";
    size_t n = rp_log_format_json(buf, sizeof(buf), RP_LOG_ERROR, msg);
    assert_int_equal(n, strlen(buf));
    assert_int_equal(buf[n - 1], '\n');
    assert_non_null(
        strstr(buf, "\"msg\":\"say \\\"hi\\\"\\\\ \\u0001\\u001f\\n\\r\\t\\b\\f\\u007f caf"));
    for (size_t i = 0; i < n - 1; i++)
        assert_true((unsigned char)buf[i] >= 0x20); /* no raw control characters */
    json_t *o = parse_line(buf, n);
    assert_string_equal(json_string_value(json_object_get(o, "msg")), msg);
    assert_string_equal(json_string_value(json_object_get(o, "level")), "error");
    json_decref(o);
}

static void json_invalid_utf8(void **state)
{
    (void)state;
    char buf[1024];
    /* A lone byte, a stray continuation, an overlong '/', a surrogate, a
     * code point above U+10FFFF and a sequence cut off at the end. */
    const char *msg = "a\xff"
                      "b\x80"
                      "c\xc0\xaf"
                      "d\xed\xa0\x80"
                      "e\xf4\x90\x80\x80"
                      "f\xe2\x82";
    size_t n = rp_log_format_json(buf, sizeof(buf), RP_LOG_WARN, msg);
    assert_true(rp_utf8_valid(buf, n, NULL));
    json_t *o = parse_line(buf, n);
    const char *got = json_string_value(json_object_get(o, "msg"));
#define R "\xef\xbf\xbd"
    assert_string_equal(got, "a" R "b" R "c" R R "d" R R R "e" R R R R "f" R R);
#undef R
    json_decref(o);
}

static void json_cut_stays_valid(void **state)
{
    (void)state;
    /* Cut in the middle of escapes and multibyte characters: the line is
     * still one valid JSON object, the message a prefix of the original. */
    char msg[600];
    size_t k = 0;
    while (k + 4 < sizeof(msg)) {
        memcpy(msg + k, "\x01\xe2\x82\xac", 4);
        k += 4;
    }
    msg[k] = '\0';
    for (size_t cap = 128; cap < 400; cap += 7) {
        char buf[400];
        size_t n = rp_log_format_json(buf, cap, RP_LOG_INFO, msg);
        assert_true(n > 0 && n < cap);
        assert_int_equal(buf[n], '\0');
        json_t *o = parse_line(buf, n);
        const char *got = json_string_value(json_object_get(o, "msg"));
        assert_true(strncmp(got, msg, strlen(got)) == 0);
        json_decref(o);
    }
}

static void json_long_message_through_sink(void **state)
{
    (void)state;
    rp_log_set_format(RP_LOG_FORMAT_JSON);
    char msg[3000];
    memset(msg, '\x02', sizeof(msg) - 1); /* 6 bytes each once escaped */
    msg[sizeof(msg) - 1] = '\0';
    struct capture c;
    capture_start(&c);
    rp_warn("%s", msg);
    char *out = capture_end(&c);
    size_t len = strlen(out);
    assert_true(len > 1000);
    assert_int_equal(out[len - 1], '\n');
    assert_null(memchr(out, '\n', len - 1)); /* one line */
    json_t *o = parse_line(out, len);
    json_decref(o);
    free(out);
}

/* The hooks run around each line the default sink writes, in order. */
static char hook_trace[256];
static void trace_before(void *ud)
{
    strncat(hook_trace, (const char *)ud, sizeof(hook_trace) - strlen(hook_trace) - 1);
    strncat(hook_trace, "<", sizeof(hook_trace) - strlen(hook_trace) - 1);
}
static void trace_after(void *ud)
{
    strncat(hook_trace, ">", sizeof(hook_trace) - strlen(hook_trace) - 1);
}

static void tty_hooks(void **state)
{
    (void)state;
    static char tag[] = "A";
    hook_trace[0] = '\0';
    struct capture c;
    capture_start(&c);
    rp_log_set_tty_hooks(trace_before, trace_after, tag);
    rp_warn("one");
    rp_debug("filtered: no hooks either");
    rp_warn("two");
    assert_false(rp_log_clear_tty_hooks(NULL)); /* not the owner */
    assert_true(rp_log_clear_tty_hooks(tag));
    rp_warn("three");
    char *out = capture_end(&c);
    assert_string_equal(hook_trace, "A<>A<>");
    assert_string_equal(out,
                        "ranpipe: warning: one\nranpipe: warning: two\nranpipe: warning: three\n");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(parse_format, setup),
        cmocka_unit_test_setup(text_unchanged, setup),
        cmocka_unit_test_setup(json_lines, setup),
        cmocka_unit_test_setup(json_escaping, setup),
        cmocka_unit_test_setup(json_invalid_utf8, setup),
        cmocka_unit_test_setup(json_cut_stays_valid, setup),
        cmocka_unit_test_setup(json_long_message_through_sink, setup),
        cmocka_unit_test_setup(tty_hooks, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
