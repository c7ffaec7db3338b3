/*
 * test_prompt.c - prompt sets: the built-in prompts against the shipped
 * examples/prompts files, template rendering and its load-time errors, the
 * spread of question types, prompt versions, and the JSON Schema against
 * the GBNF grammar (include/ranpipe/prompt.h).
 *
 * The shipped files are found through $RANPIPE_SOURCE_DIR (set by ctest),
 * else relative to this file; templates of the tests' own are written under
 * $RANPIPE_TEST_TMP (or /tmp).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "source_dir.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ranpipe/buf.h"
#include "ranpipe/error.h"
#include "ranpipe/prompt.h"

#define N_TYPES 5
#define MAX_FILES 16

/* ---- helpers ---- */

/* Each test's buffers, set and files, released by the teardown even when an
 * assertion fails. */
struct fixture {
    struct rp_buf buf;
    struct rp_buf other;
    struct rp_prompt_set *ps;
    struct rp_prompt_set *ps2;
    struct rp_error err;
    char dir[512];
    char files[MAX_FILES][600];
    int n_files;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    rp_buf_init(&f->buf, RP_BUF_NO_CAP);
    rp_buf_init(&f->other, RP_BUF_NO_CAP);
    rp_error_clear(&f->err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < f->n_files; i++)
        unlink(f->files[i]);
    if (f->dir[0])
        rmdir(f->dir);
    rp_prompt_set_free(f->ps);
    rp_prompt_set_free(f->ps2);
    rp_buf_release(&f->buf);
    rp_buf_release(&f->other);
    free(f);
    return 0;
}

static const char *source_dir(void)
{
    return rp_test_source_dir(__FILE__, "/tests/unit/test_prompt.c");
}

static void shipped_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/examples/prompts/%s", source_dir(), name);
}

/* Writes n bytes of data to a file of the test's temporary directory and
 * returns its path (owned by the fixture). */
static const char *write_file_n(struct fixture *f, const char *name, const void *data, size_t n)
{
    if (!f->dir[0]) {
        const char *base = getenv("RANPIPE_TEST_TMP");
        snprintf(f->dir, sizeof(f->dir), "%s/prompt-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(f->dir)) {
            f->dir[0] = '\0';
            fail_msg("cannot make a temporary directory");
        }
    }
    char *path = NULL;
    for (int i = 0; i < f->n_files && !path; i++)
        if (strcmp(strrchr(f->files[i], '/') + 1, name) == 0)
            path = f->files[i];
    if (!path) {
        assert_true(f->n_files < MAX_FILES);
        path = f->files[f->n_files++];
        snprintf(path, sizeof(f->files[0]), "%s/%s", f->dir, name);
    }
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
    return path;
}

static const char *write_file(struct fixture *f, const char *name, const char *text)
{
    return write_file_n(f, name, text, strlen(text));
}

/* Loads a set, failing the test with the error message if it fails. */
static void load_ok(struct fixture *f, const char *system_path, const char *user_path)
{
    rp_prompt_set_free(f->ps);
    f->ps = NULL;
    rp_error_clear(&f->err);
    enum rp_err e = rp_prompt_set_load(system_path, user_path, &f->ps, &f->err);
    if (e != RP_OK)
        fail_msg("load failed (%s): %s", rp_strerror(e), f->err.msg);
    assert_non_null(f->ps);
}

/* Loads a set that must fail with code and a message containing each of the
 * NULL-terminated strings after it. */
static void load_fails(struct fixture *f, const char *system_path, const char *user_path,
                       enum rp_err code, ...)
{
    struct rp_prompt_set *ps = (struct rp_prompt_set *)&ps; /* must come back NULL */
    rp_error_clear(&f->err);
    enum rp_err e = rp_prompt_set_load(system_path, user_path, &ps, &f->err);
    if (e != code)
        fail_msg("expected %s, got %s: %s", rp_strerror(code), rp_strerror(e), f->err.msg);
    assert_null(ps);
    assert_int_equal(f->err.code, code);
    va_list ap;
    va_start(ap, code);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (!strstr(f->err.msg, s))
            fail_msg("message lacks '%s': %s", s, f->err.msg);
    va_end(ap);
}

static void render(struct fixture *f, const char *title, const char *section, const char *text,
                   int n_pairs, uint64_t seed)
{
    rp_buf_reset(&f->buf);
    rp_error_clear(&f->err);
    enum rp_err e =
        rp_prompt_set_user(f->ps, title, section, text, n_pairs, seed, &f->buf, &f->err);
    if (e != RP_OK)
        fail_msg("render failed (%s): %s", rp_strerror(e), f->err.msg);
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int type_index(const char *s, size_t n)
{
    for (int t = 0; rp_qa_types[t]; t++)
        if (strlen(rp_qa_types[t]) == n && memcmp(rp_qa_types[t], s, n) == 0)
            return t;
    return -1;
}

/* The types of the "N. type: description." lines in s, in order, checking
 * their numbering; returns how many there are. */
static int listed_types(const char *s, int *types, int max)
{
    int n = 0;
    for (const char *line = s, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            next++;
        char *dot;
        long k = strtol(line, &dot, 10);
        if (dot == line || dot[0] != '.' || dot[1] != ' ')
            continue;
        assert_int_equal(k, n + 1);
        const char *name = dot + 2;
        const char *colon = strchr(name, ':');
        assert_non_null(colon);
        int t = type_index(name, (size_t)(colon - name));
        if (t < 0)
            fail_msg("unknown type in line: %.60s", line);
        const char *eol = strchr(colon, '\n');
        size_t len = eol ? (size_t)(eol - colon) : strlen(colon);
        assert_true(len > 20);                 /* a description follows */
        assert_int_equal(colon[len - 1], '.'); /* one sentence on one line */
        assert_true(n < max);
        types[n++] = t;
    }
    return n;
}

/* ---- tests ---- */

static void builtin_is_the_shipped_files(void **state)
{
    struct fixture *f = *state;
    char sys_path[1100], qa_path[1100];
    shipped_path(sys_path, sizeof(sys_path), "system.txt");
    shipped_path(qa_path, sizeof(qa_path), "qa.txt");

    assert_int_equal(rp_buf_read_file(&f->other, sys_path, &f->err), RP_OK);
    if (strcmp(f->other.data, rp_prompt_qa_system()) != 0)
        fail_msg("the built-in system prompt differs from %s: copy the file into "
                 "BUILTIN_SYSTEM in src/llm/prompt.c",
                 sys_path);

    /* The built-in set and a set loaded from the shipped files are the same
     * texts: same version (a hash of both), same system prompt, same
     * rendering. */
    load_ok(f, NULL, NULL);
    char builtin_version[64];
    snprintf(builtin_version, sizeof(builtin_version), "%s", rp_prompt_set_version(f->ps));
    assert_string_equal(rp_prompt_set_system(f->ps), rp_prompt_qa_system());
    struct rp_prompt_set *builtin = f->ps2 = f->ps;
    f->ps = NULL;
    if (rp_prompt_set_load(sys_path, qa_path, &f->ps, &f->err))
        fail_msg("cannot load the shipped prompts: %s", f->err.msg);
    bool same = strcmp(rp_prompt_set_version(f->ps), builtin_version) == 0;
    rp_buf_reset(&f->other);
    for (int i = 0; i < 4 && same; i++) {
        const char *title = i & 1 ? "LTE Idle Mode" : "";
        const char *section = i & 2 ? "Cell Selection > Parameters" : NULL;
        rp_buf_reset(&f->buf);
        rp_buf_reset(&f->other);
        assert_int_equal(rp_prompt_set_user(builtin, title, section, "qRxLevMin is in dBm.", 3, 7,
                                            &f->buf, NULL),
                         RP_OK);
        assert_int_equal(rp_prompt_set_user(f->ps, title, section, "qRxLevMin is in dBm.", 3, 7,
                                            &f->other, NULL),
                         RP_OK);
        same = strcmp(f->buf.data, f->other.data) == 0;
    }
    if (!same)
        fail_msg("the built-in user template differs from %s: copy the file into BUILTIN_USER "
                 "in src/llm/prompt.c",
                 qa_path);

    /* The old entry point renders the built-in set with seed 0. */
    rp_buf_reset(&f->buf);
    rp_buf_reset(&f->other);
    assert_int_equal(rp_prompt_qa_user("T", "S", "Body.", 2, &f->buf), RP_OK);
    assert_int_equal(rp_prompt_set_user(f->ps, "T", "S", "Body.", 2, 0, &f->other, NULL), RP_OK);
    assert_string_equal(f->buf.data, f->other.data);
}

static void builtin_rendering(void **state)
{
    struct fixture *f = *state;
    load_ok(f, NULL, NULL);
    const char *text = "qRxLevMin sets the minimum required RX level in the cell, in dBm.";

    render(f, "LTE Idle Mode", "Cell Selection > Parameters", text, 2, 0);
    const char *p = f->buf.data;
    assert_true(starts_with(p, "Document: LTE Idle Mode\nSection: Cell Selection > Parameters\n"
                               "<excerpt>\n"));
    assert_non_null(strstr(p, "<excerpt>\nqRxLevMin sets"));
    assert_non_null(strstr(p, "(2 in all)"));
    assert_non_null(strstr(p, "(one of factual, conceptual, procedural, analytical, comparative)"));
    assert_null(strstr(p, "{{"));
    assert_null(strstr(p, "}}"));
    int types[8];
    assert_int_equal(listed_types(p, types, 8), 2);

    /* Title and section each leave with their whole line. */
    render(f, "", NULL, text, 1, 0);
    assert_true(starts_with(f->buf.data, "<excerpt>\n"));
    assert_null(strstr(f->buf.data, "Document:"));
    assert_null(strstr(f->buf.data, "Section:"));
    render(f, "LTE Idle Mode", "", text, 1, 0);
    assert_true(starts_with(f->buf.data, "Document: LTE Idle Mode\n<excerpt>\n"));
    render(f, NULL, "Parameters", text, 1, 0);
    assert_true(starts_with(f->buf.data, "Section: Parameters\n<excerpt>\n"));

    /* Values are never read as template text. */
    render(f, "{{text}}", "{{#if title}}", "{{/if}} {{n_pairs}}", 1, 0);
    assert_non_null(strstr(f->buf.data, "Document: {{text}}\nSection: {{#if title}}\n"));
    assert_non_null(strstr(f->buf.data, "<excerpt>\n{{/if}} {{n_pairs}}\n</excerpt>"));

    /* A chunk longer than any internal buffer comes through whole; n_pairs
     * below 1 counts as 1. */
    struct rp_buf big;
    rp_buf_init(&big, RP_BUF_NO_CAP);
    for (int i = 0; i < 2000; i++)
        assert_int_equal(rp_buf_addf(&big, "word%d ", i), RP_OK);
    render(f, "T", "S", big.data, 0, 3);
    rp_buf_release(&big);
    assert_non_null(strstr(f->buf.data, "word1999 \n</excerpt>"));
    assert_non_null(strstr(f->buf.data, "(1 in all)"));
}

static void custom_template(void **state)
{
    struct fixture *f = *state;
    /* Inline blocks keep what is around them; standalone ones (blanks and
     * CRLF allowed) take their line; placeholders may have inner blanks. */
    load_ok(f, NULL,
            write_file(f, "t.txt",
                       "A{{#if title}}[{{title}}]{{/if}}B\n"
                       "  {{#if section}}  \r\n"
                       "S={{ section }}\n"
                       "{{/if}}\n"
                       "{{text}}|{{n_pairs}}|{{types}}\n"
                       "{{pair_types}}"));
    render(f, "x", "y", "body", 2, 0);
    assert_string_equal(f->buf.data, "A[x]B\nS=y\nbody|2|factual, conceptual, procedural, "
                                     "analytical, comparative\n"
                                     "1. factual: one fact the excerpt states, such as a "
                                     "parameter's value, default, range or unit, a counter, a "
                                     "name or a number.\n"
                                     "2. conceptual: what something is or is for: the meaning or "
                                     "purpose of a feature, MO class, parameter, counter or term.");
    render(f, NULL, NULL, "body", 1, 0);
    assert_true(starts_with(f->buf.data, "AB\nbody|1|"));
    /* The built-in system prompt goes with a custom template. */
    assert_string_equal(rp_prompt_set_system(f->ps), rp_prompt_qa_system());

    /* A custom system prompt is returned as written. */
    load_ok(f, write_file(f, "s.txt", "You are terse.\n"), NULL);
    assert_string_equal(rp_prompt_set_system(f->ps), "You are terse.\n");
}

static void types_distinct_and_rotating(void **state)
{
    struct fixture *f = *state;
    load_ok(f, NULL, NULL);
    int types[32];

    for (uint64_t seed = 0; seed < 200; seed++) {
        for (int k = 1; k <= 8; k++) {
            render(f, "T", "S", "text", k, seed * 0x9e3779b97f4a7c15u);
            assert_int_equal(listed_types(f->buf.data, types, 32), k);
            /* k different types; past five, the same five again in order */
            for (int i = 0; i < k; i++)
                for (int j = 0; j < i; j++)
                    if (((i - j) % N_TYPES == 0) != (types[i] == types[j]))
                        fail_msg("seed %llu, %d pairs: pair %d and %d have types %s and %s",
                                 (unsigned long long)seed, k, j + 1, i + 1, rp_qa_types[types[j]],
                                 rp_qa_types[types[i]]);
        }
    }

    /* Five consecutive seeds give every type as a chunk's first, whatever
     * the number of pairs; the first type does not depend on that number. */
    for (uint64_t base = 0; base < 50; base += 7) {
        for (int k = 1; k <= 3; k++) {
            unsigned seen = 0;
            for (uint64_t seed = base; seed < base + 5; seed++) {
                render(f, "", "", "text", k, seed);
                assert_int_equal(listed_types(f->buf.data, types, 32), k);
                seen |= 1u << types[0];
            }
            assert_int_equal(seen, (1u << N_TYPES) - 1);
        }
    }

    /* Over many chunks of two pairs, every type shows up in both places and
     * several different pairings occur. */
    unsigned pos[2] = {0, 0};
    bool pairing[N_TYPES][N_TYPES] = {{false}};
    int n_pairings = 0;
    for (uint64_t seed = 0; seed < 40; seed++) {
        render(f, "", "", "text", 2, seed);
        assert_int_equal(listed_types(f->buf.data, types, 32), 2);
        pos[0] |= 1u << types[0];
        pos[1] |= 1u << types[1];
        n_pairings += !pairing[types[0]][types[1]];
        pairing[types[0]][types[1]] = true;
    }
    assert_int_equal(pos[0], (1u << N_TYPES) - 1);
    assert_int_equal(pos[1], (1u << N_TYPES) - 1);
    assert_true(n_pairings >= 10);
}

static void rendering_is_deterministic(void **state)
{
    struct fixture *f = *state;
    load_ok(f, NULL, NULL);
    int differ = 0;
    for (uint64_t seed = 0; seed < 20; seed++) {
        render(f, "Doc", "Sec", "Some text.", 3, seed);
        rp_buf_reset(&f->other);
        assert_int_equal(rp_buf_add(&f->other, f->buf.data, f->buf.len), RP_OK);
        render(f, "Doc", "Sec", "Some text.", 3, seed);
        assert_string_equal(f->buf.data, f->other.data);
        render(f, "Doc", "Sec", "Some text.", 3, seed + 1);
        differ += strcmp(f->buf.data, f->other.data) != 0;
    }
    assert_int_equal(differ, 20);

    /* A buffer cap is reported, with a message. */
    struct rp_buf small;
    rp_buf_init(&small, 64);
    rp_error_clear(&f->err);
    assert_int_equal(rp_prompt_set_user(f->ps, "Doc", "Sec", "Some text.", 3, 0, &small, &f->err),
                     RP_ERR_TOOBIG);
    rp_buf_release(&small);
    assert_int_equal(f->err.code, RP_ERR_TOOBIG);
    assert_non_null(strstr(f->err.msg, "built-in prompt template"));
}

static void load_errors(void **state)
{
    struct fixture *f = *state;
    const char *sys = write_file(f, "sys.txt", "You are a RAN engineer.\n");

    /* Missing files name the path and which file it is. */
    char missing[700];
    snprintf(missing, sizeof(missing), "%s/no-such-prompt.txt", f->dir);
    load_fails(f, missing, NULL, RP_ERR_NOENT, "system prompt", missing, NULL);
    load_fails(f, sys, missing, RP_ERR_NOENT, "prompt template", missing, NULL);

    /* Template errors name file:line and the tag. */
    const char *t =
        write_file(f, "bad.txt", "Document: {{title}}\n\nSee {{titel}} here\n{{text}}\n");
    char where[700];
    snprintf(where, sizeof(where), "%s:3:", t);
    load_fails(f, sys, t, RP_ERR_PARSE, where, "unknown placeholder '{{titel}}'", NULL);

    t = write_file(f, "bad.txt", "{{text}}\n{{#if title}}\nDocument: {{title}}\n\n");
    snprintf(where, sizeof(where), "%s:2:", t);
    load_fails(f, NULL, t, RP_ERR_PARSE, where, "'{{#if title}}' without a matching {{/if}}", NULL);

    t = write_file(f, "bad.txt", "{{text}}\nDocument: {{title}}\n{{/if}}\n");
    snprintf(where, sizeof(where), "%s:3:", t);
    load_fails(f, NULL, t, RP_ERR_PARSE, where, "'{{/if}}' without an open {{#if}}", NULL);

    t = write_file(f, "bad.txt", "{{#if title}}{{#if section}}x{{/if}}{{/if}}{{text}}");
    snprintf(where, sizeof(where), "%s:1:", t);
    load_fails(f, NULL, t, RP_ERR_PARSE, where, "do not nest", NULL);

    t = write_file(f, "bad.txt", "{{text}}\n{{#if text}}x{{/if}}\n");
    snprintf(where, sizeof(where), "%s:2:", t);
    load_fails(f, NULL, t, RP_ERR_PARSE, where, "'{{#if text}}'", "title and section", NULL);

    t = write_file(f, "bad.txt", "{{text}}\n{{#each title}}x{{/each}}\n");
    load_fails(f, NULL, t, RP_ERR_PARSE, "unknown block '{{#each title}}'", NULL);

    t = write_file(f, "bad.txt", "{{text}}\n{{#if}}x{{/if}}\n");
    load_fails(f, NULL, t, RP_ERR_PARSE, ":2:", "unknown block '{{#if}}'", NULL);

    t = write_file(f, "bad.txt", "{{text}}\n\n\nDocument: {{title\n}}\n");
    snprintf(where, sizeof(where), "%s:4:", t);
    load_fails(f, NULL, t, RP_ERR_PARSE, where, "'{{' without '}}'", NULL);

    t = write_file(f, "bad.txt", "{{text}} {{}}");
    load_fails(f, NULL, t, RP_ERR_PARSE, "unknown placeholder '{{}}'", NULL);

    t = write_file(f, "bad.txt", "Document: {{title}}\n");
    load_fails(f, NULL, t, RP_ERR_PARSE, t, "never uses {{text}}", NULL);

    /* Files that are not usable text. */
    t = write_file(f, "empty.txt", " \n\n");
    load_fails(f, t, NULL, RP_ERR_PARSE, "system prompt", t, "is empty", NULL);
    load_fails(f, NULL, t, RP_ERR_PARSE, "prompt template", t, "is empty", NULL);
    t = write_file_n(f, "nul.txt", "{{text}}\0x", 10);
    load_fails(f, NULL, t, RP_ERR_PARSE, t, "NUL byte", NULL);
    t = write_file(f, "latin1.txt", "{{text}} caf\xe9\n");
    load_fails(f, NULL, t, RP_ERR_PARSE, t, "not UTF-8", NULL);

    /* Too big for a prompt. */
    size_t big_n = 300 * 1024;
    char *big = malloc(big_n);
    assert_non_null(big);
    memset(big, 'a', big_n);
    memcpy(big, "{{text}}", 8);
    t = write_file_n(f, "big.txt", big, big_n);
    free(big);
    load_fails(f, NULL, t, RP_ERR_TOOBIG, "prompt template", t, NULL);

    /* Valid after all that; freeing NULL is a no-op. */
    t = write_file(f, "good.txt", "{{text}}");
    load_ok(f, sys, t);
    rp_prompt_set_free(NULL);
}

static void version_follows_the_files(void **state)
{
    struct fixture *f = *state;
    char v[5][64];
    load_ok(f, NULL, NULL);
    snprintf(v[0], sizeof(v[0]), "%s", rp_prompt_set_version(f->ps));
    const char *sys = write_file(f, "s.txt", "You write RAN QA pairs.\n");
    const char *qa = write_file(f, "q.txt", "{{text}}\n{{pair_types}}\n");
    load_ok(f, sys, qa);
    snprintf(v[1], sizeof(v[1]), "%s", rp_prompt_set_version(f->ps));
    write_file(f, "s.txt", "You write RAN QA pairs!\n");
    load_ok(f, sys, qa);
    snprintf(v[2], sizeof(v[2]), "%s", rp_prompt_set_version(f->ps));
    write_file(f, "q.txt", "{{text}}\n\n{{pair_types}}\n");
    load_ok(f, sys, qa);
    snprintf(v[3], sizeof(v[3]), "%s", rp_prompt_set_version(f->ps));
    /* A newline moved from one file to the other is still a change. */
    load_ok(f, write_file(f, "s.txt", "You write RAN QA pairs!"),
            write_file(f, "q.txt", "\n{{text}}\n\n{{pair_types}}\n"));
    snprintf(v[4], sizeof(v[4]), "%s", rp_prompt_set_version(f->ps));

    for (int i = 0; i < 5; i++) {
        assert_int_equal(strlen(v[i]), strlen(RP_PROMPT_VERSION) + 1 + 16);
        assert_true(strncmp(v[i], "qa-v2-", 6) == 0);
        assert_int_equal(strspn(v[i] + 6, "0123456789abcdef"), 16);
        for (int j = 0; j < i; j++)
            if (strcmp(v[i], v[j]) == 0)
                fail_msg("versions %d and %d are both %s", j, i, v[i]);
    }

    /* The same texts again give the same version. */
    write_file(f, "s.txt", "You write RAN QA pairs!\n");
    write_file(f, "q.txt", "{{text}}\n\n{{pair_types}}\n");
    load_ok(f, sys, qa);
    assert_string_equal(rp_prompt_set_version(f->ps), v[3]);
    load_ok(f, NULL, NULL);
    assert_string_equal(rp_prompt_set_version(f->ps), v[0]);
}

/* The schema for n_pairs, parsed. */
static json_t *schema_for(struct fixture *f, const struct rp_qa_shape *s, int n_pairs)
{
    rp_buf_reset(&f->buf);
    assert_int_equal(rp_prompt_qa_json_schema(s, n_pairs, &f->buf), RP_OK);
    json_error_t je;
    json_t *j = json_loads(f->buf.data, 0, &je);
    if (!j)
        fail_msg("schema is not JSON (%s): %s", je.text, f->buf.data);
    return j;
}

static json_int_t int_at(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("'%s' is not an integer", key);
    return json_integer_value(v);
}

static void check_string_prop(json_t *props, const char *name, json_int_t min, json_int_t max)
{
    json_t *p = json_object_get(props, name);
    assert_true(json_is_object(p));
    assert_string_equal(json_string_value(json_object_get(p, "type")), "string");
    assert_int_equal(int_at(p, "minLength"), min);
    assert_int_equal(int_at(p, "maxLength"), max);
}

static void json_schema_shape(void **state)
{
    struct fixture *f = *state;
    struct rp_qa_shape s = rp_qa_shape_default();
    s.question_chars = 300;
    s.answer_chars = 1000;
    int ns[] = {0, 1, 3, 20};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        json_t *j = schema_for(f, &s, ns[i]);
        assert_null(json_object_get(j, "$schema"));
        assert_string_equal(json_string_value(json_object_get(j, "type")), "array");
        assert_int_equal(int_at(j, "minItems"), 1);
        assert_int_equal(int_at(j, "maxItems"), ns[i] < 1 ? 1 : ns[i]);
        json_t *items = json_object_get(j, "items");
        assert_string_equal(json_string_value(json_object_get(items, "type")), "object");
        assert_true(json_is_false(json_object_get(items, "additionalProperties")));
        json_t *req = json_object_get(items, "required");
        assert_int_equal(json_array_size(req), 3);
        const char *keys[] = {"question", "answer", "type"};
        for (size_t k = 0; k < 3; k++)
            assert_string_equal(json_string_value(json_array_get(req, k)), keys[k]);
        json_t *props = json_object_get(items, "properties");
        assert_int_equal(json_object_size(props), 3);
        check_string_prop(props, "question", 8, 300);
        check_string_prop(props, "answer", 1, 1000);
        json_t *type = json_object_get(props, "type");
        assert_string_equal(json_string_value(json_object_get(type, "type")), "string");
        json_t *en = json_object_get(type, "enum");
        size_t n = 0;
        for (; rp_qa_types[n]; n++)
            assert_string_equal(json_string_value(json_array_get(en, n)), rp_qa_types[n]);
        assert_int_equal(json_array_size(en), n);
        assert_int_equal(n, N_TYPES);
        json_decref(j);
    }
    /* Properties come in the grammar's order (llama-server keeps it). */
    rp_buf_reset(&f->buf);
    assert_int_equal(rp_prompt_qa_json_schema(&s, 2, &f->buf), RP_OK);
    const char *q = strstr(f->buf.data, "\"question\":{");
    const char *a = strstr(f->buf.data, "\"answer\":{");
    const char *t = strstr(f->buf.data, "\"type\":{");
    assert_true(q && a && t && q < a && a < t);
}

/* The names of the grammar's qtype alternatives ("\"factual\"" | ...). */
static int grammar_types(const char *g, char names[][32], int max)
{
    const char *p = strstr(g, "\nqtype ::= ");
    assert_non_null(p);
    p += strlen("\nqtype ::= ");
    const char *eol = strchr(p, '\n');
    assert_non_null(eol);
    int n = 0;
    for (const char *q; (q = strstr(p, "\"\\\"")) && q < eol; p = q) {
        q += 3;
        const char *e = strstr(q, "\\\"\"");
        assert_true(e && e < eol && e - q < 32 && n < max);
        memcpy(names[n], q, (size_t)(e - q));
        names[n++][e - q] = '\0';
        q = e + 3;
    }
    return n;
}

static void grammar_and_schema_agree(void **state)
{
    struct fixture *f = *state;
    struct rp_qa_shape s = rp_qa_shape_default();
    for (int n_pairs = 1; n_pairs <= 4; n_pairs++) {
        rp_buf_reset(&f->other);
        assert_int_equal(rp_prompt_qa_grammar(&s, n_pairs, &f->other), RP_OK);
        char names[8][32];
        int n = grammar_types(f->other.data, names, 8);
        json_t *j = schema_for(f, &s, n_pairs);
        json_t *props = json_object_get(json_object_get(j, "items"), "properties");
        json_t *en = json_object_get(json_object_get(props, "type"), "enum");
        assert_int_equal(json_array_size(en), (size_t)n);
        for (int i = 0; i < n; i++)
            assert_string_equal(json_string_value(json_array_get(en, (size_t)i)), names[i]);

        /* and on the bounds */
        char want[64];
        snprintf(want, sizeof(want), "char{%d,%d}",
                 (int)int_at(json_object_get(props, "question"), "minLength"), s.question_chars);
        assert_non_null(strstr(f->other.data, want));
        snprintf(want, sizeof(want), "char{%d,%d}",
                 (int)int_at(json_object_get(props, "answer"), "minLength"), s.answer_chars);
        assert_non_null(strstr(f->other.data, want));
        if (n_pairs > 1) {
            snprintf(want, sizeof(want), "pair){0,%d}", n_pairs - 1);
            assert_non_null(strstr(f->other.data, want));
        }
        assert_int_equal(int_at(j, "maxItems"), n_pairs);
        json_decref(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(builtin_is_the_shipped_files, setup, teardown),
        cmocka_unit_test_setup_teardown(builtin_rendering, setup, teardown),
        cmocka_unit_test_setup_teardown(custom_template, setup, teardown),
        cmocka_unit_test_setup_teardown(types_distinct_and_rotating, setup, teardown),
        cmocka_unit_test_setup_teardown(rendering_is_deterministic, setup, teardown),
        cmocka_unit_test_setup_teardown(load_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(version_follows_the_files, setup, teardown),
        cmocka_unit_test_setup_teardown(json_schema_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(grammar_and_schema_agree, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
