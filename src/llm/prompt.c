/*
 * prompt.c - QA prompt sets (system prompt + user template), the question
 * types, and the bounded output shape as GBNF grammar and JSON Schema.
 *
 * A template stays the text it was loaded as. One interpreter, walk(),
 * both checks it at load time (no values, nothing written) and renders it
 * for each chunk, so the check and the rendering cannot disagree about what
 * a template means, and a set needs no parsed form. Templates are a few
 * hundred bytes; interpreting one per chunk costs nothing next to a model
 * call.
 *
 * The built-in texts below are examples/prompts/system.txt and qa.txt byte
 * for byte (test_prompt compares them). Edit the files and the literals
 * together, and bump RP_PROMPT_VERSION when the built-in prompts, the type
 * list, the type descriptions or the output shape change.
 */
#include "ranpipe/prompt.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranpipe/hash.h"
#include "ranpipe/utf8.h"

/* ---- question types ---- */

/* Five, a prime: every step 1..4 walks all of them, which is what gives the
 * pairs of one chunk distinct types (pair_type()). */
#define N_TYPES 5

const char *const rp_qa_types[N_TYPES + 1] = {"factual",    "conceptual",  "procedural",
                                              "analytical", "comparative", NULL};

/* One line each, shown to the model in {{pair_types}}. */
static const char *const TYPE_DESC[N_TYPES] = {
    "one fact the excerpt states, such as a parameter's value, default, range or unit, a "
    "counter, a name or a number",
    "what something is or is for: the meaning or purpose of a feature, MO class, parameter, "
    "counter or term",
    "how something is done: the steps, their order, the commands or the preconditions of a "
    "procedure",
    "why or when: a cause, effect, condition, dependency or trade-off that the excerpt states",
    "how two things the excerpt names differ or relate, such as two parameters, features, "
    "modes or values",
};

/* The type of pair i (0-based) of a chunk with this seed, as an index into
 * rp_qa_types: the seed picks a first type and a step; the step is coprime
 * with N_TYPES, so the first N_TYPES pairs all differ. Consecutive seeds
 * move the first type on by one. */
static int pair_type(uint64_t seed, int i)
{
    int start = (int)(seed % N_TYPES);
    int step = 1 + (int)(seed / N_TYPES % (N_TYPES - 1));
    return (start + (i % N_TYPES) * step) % N_TYPES;
}

/* ---- built-in texts ---- */

static const char BUILTIN_SYSTEM[] =
    "You write question-answer pairs for fine-tuning an assistant for Radio Access Network "
    "(RAN) engineers. The source material is telecom documentation: Ericsson ELEX feature "
    "descriptions, parameter and counter references and operating procedures, and 3GPP "
    "technical specifications for LTE and NR.\n"
    "\n"
    "You are given one excerpt of such a document at a time. Every pair follows these rules:\n"
    "\n"
    "1. Grounding. The answer is fully supported by the excerpt alone. Add no facts, defaults, "
    "ranges, releases or explanations from your own knowledge, even ones you are sure of.\n"
    "2. Exact identifiers. Copy MO class, parameter, attribute, counter and feature names, "
    "feature identities, commands, specification and clause numbers, values and units exactly "
    "as the excerpt writes them, with the same case and spelling: write qRxLevMin where the "
    "excerpt writes qRxLevMin and q-RxLevMin where it writes q-RxLevMin. Never round, convert, "
    "abbreviate or translate them.\n"
    "3. Self-contained questions. A question makes sense to someone who has never seen the "
    "excerpt: it names its subject (the feature, MO class, parameter, counter, procedure or "
    "specification) and never refers to \"the text\", \"the document\", \"the excerpt\", "
    "\"this section\" or \"the above\".\n"
    "4. Direct answers. The answer states the facts in one to three full sentences. It never "
    "starts with \"According to the text\" or a similar phrase and never mentions the "
    "excerpt.\n"
    "5. No repeats. Each pair is about a different point.\n"
    "\n"
    "Reply with JSON only: an array of objects with the keys \"question\", \"answer\" and "
    "\"type\", with nothing before or after it (no explanations, no Markdown code fences).\n";

static const char BUILTIN_USER[] =
    "{{#if title}}\n"
    "Document: {{title}}\n"
    "{{/if}}\n"
    "{{#if section}}\n"
    "Section: {{section}}\n"
    "{{/if}}\n"
    "<excerpt>\n"
    "{{text}}\n"
    "</excerpt>\n"
    "\n"
    "Write one question-answer pair for each numbered item below, in this order ({{n_pairs}} "
    "in all). Each item gives the type of question to ask:\n"
    "{{pair_types}}\n"
    "\n"
    "If the excerpt offers nothing for an item's type, write a grounded question of another "
    "type instead and give it that type. A question may use the document title or section to "
    "name its subject; the answer comes from the excerpt alone, with every identifier, value "
    "and unit copied exactly. Reply with only a JSON array holding one object per item, with "
    "the keys \"question\", \"answer\" and \"type\" (one of {{types}}).\n";

static const char BUILTIN_USER_NAME[] = "built-in prompt template";

/* ---- the template interpreter ---- */

/* Placeholders, in the order of VAR_NAMES. */
enum var { VAR_TITLE, VAR_SECTION, VAR_TEXT, VAR_N_PAIRS, VAR_PAIR_TYPES, VAR_TYPES, VAR__COUNT };

static const char *const VAR_NAMES[VAR__COUNT] = {"title",   "section",    "text",
                                                  "n_pairs", "pair_types", "types"};

#define KNOWN_VARS "title, section, text, n_pairs, pair_types, types"

/* The values of one rendering. */
struct render {
    const char *title;   /* never NULL */
    const char *section; /* never NULL */
    const char *text;    /* never NULL */
    int n_pairs;         /* at least 1 */
    uint64_t seed;
};

/* The template being walked, and where the walk is. */
struct walker {
    const char *name; /* file name for errors */
    const char *t;
    size_t counted; /* t[0..counted) has been counted into line */
    int line;       /* line of t[counted] */
};

static int line_at(struct walker *w, size_t pos)
{
    for (; w->counted < pos; w->counted++)
        w->line += w->t[w->counted] == '\n';
    return w->line;
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static enum rp_err
tmpl_error(const struct walker *w, int line, struct rp_error *err, const char *fmt, ...)
{
    char msg[RP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return rp_error_set(err, RP_ERR_PARSE, "%s:%d: %s", w->name, line, msg);
}

static enum rp_err emit_var(struct rp_buf *out, enum var v, const struct render *r)
{
    enum rp_err e = RP_OK;
    switch (v) {
    case VAR_TITLE:
        return rp_buf_adds(out, r->title);
    case VAR_SECTION:
        return rp_buf_adds(out, r->section);
    case VAR_TEXT:
        return rp_buf_adds(out, r->text);
    case VAR_N_PAIRS:
        return rp_buf_addf(out, "%d", r->n_pairs);
    case VAR_PAIR_TYPES:
        for (int i = 0; i < r->n_pairs && !e; i++) {
            int k = pair_type(r->seed, i);
            e = rp_buf_addf(out, "%s%d. %s: %s.", i ? "\n" : "", i + 1, rp_qa_types[k],
                            TYPE_DESC[k]);
        }
        return e;
    case VAR_TYPES:
        for (int i = 0; rp_qa_types[i] && !e; i++)
            e = rp_buf_addf(out, "%s%s", i ? ", " : "", rp_qa_types[i]);
        return e;
    case VAR__COUNT:
        break;
    }
    return RP_ERR_INVAL;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Whether t[b..e) is name, ignoring blanks around it. */
static bool trimmed_is(const char *t, size_t b, size_t e, const char *name)
{
    while (b < e && is_blank(t[b]))
        b++;
    while (e > b && is_blank(t[e - 1]))
        e--;
    return e - b == strlen(name) && memcmp(t + b, name, e - b) == 0;
}

static int var_of(const char *t, size_t b, size_t e)
{
    for (int v = 0; v < VAR__COUNT; v++)
        if (trimmed_is(t, b, e, VAR_NAMES[v]))
            return v;
    return -1;
}

/* Walks template t[0..n): with r and out, appends the rendered text to out;
 * with both NULL, only checks the template. Sets bit v of *used for every
 * placeholder {{v}} found (used may be NULL). */
static enum rp_err walk(const char *name, const char *t, size_t n, const struct render *r,
                        struct rp_buf *out, unsigned *used, struct rp_error *err)
{
    struct walker w = {.name = name, .t = t, .line = 1};
    size_t pos = 0, lit = 0; /* next place to look for "{{", start of pending literal */
    bool in_if = false, skip = false;
    int if_line = 0, if_len = 0;
    const char *if_tag = NULL; /* the open {{#if}}, for messages */
    enum rp_err e = RP_OK;
    if (used)
        *used = 0;
    for (;;) {
        const char *hit = NULL;
        for (size_t i = pos; i + 1 < n; i++)
            if (t[i] == '{' && t[i + 1] == '{') {
                hit = t + i;
                break;
            }
        if (!hit)
            break;
        size_t p = (size_t)(hit - t), q = p + 2; /* the tag is t[p..q+2) once q finds "}}" */
        while (q < n && t[q] != '\n' && !(t[q] == '}' && q + 1 < n && t[q + 1] == '}'))
            q++;
        int line = line_at(&w, p);
        if (q >= n || t[q] != '}')
            return tmpl_error(&w, line, err, "'{{' without '}}' on the same line");
        size_t end = q + 2;
        int tag_len = (int)(end - p > 80 ? 80 : end - p);
        size_t ib = p + 2, ie = q; /* inside the braces */
        while (ib < ie && is_blank(t[ib]))
            ib++;
        bool open = ib < ie && t[ib] == '#', close = ib < ie && t[ib] == '/';
        int v = -1;

        if (open) {
            /* "{{#if title}}": the keyword, at least one blank, the name */
            if (ie - ib < 4 || memcmp(t + ib, "#if", 3) != 0 || !is_blank(t[ib + 3]))
                return tmpl_error(&w, line, err, "unknown block '%.*s' (only {{#if ...}})", tag_len,
                                  t + p);
            v = var_of(t, ib + 3, ie);
            if (v != VAR_TITLE && v != VAR_SECTION)
                return tmpl_error(&w, line, err, "'%.*s': only title and section can be tested",
                                  tag_len, t + p);
            if (in_if)
                return tmpl_error(&w, line, err,
                                  "'%.*s' inside the {{#if}} of line %d (blocks do not nest)",
                                  tag_len, t + p, if_line);
        } else if (close) {
            if (!trimmed_is(t, ib, ie, "/if"))
                return tmpl_error(&w, line, err, "unknown block end '%.*s' (only {{/if}})", tag_len,
                                  t + p);
            if (!in_if)
                return tmpl_error(&w, line, err, "'{{/if}}' without an open {{#if}}");
        } else {
            v = var_of(t, ib, ie);
            if (v < 0)
                return tmpl_error(&w, line, err,
                                  "unknown placeholder '%.*s' (known: " KNOWN_VARS ")", tag_len,
                                  t + p);
        }

        /* A block tag alone on its line takes the line, newline included. */
        size_t lit_end = p;
        if (open || close) {
            size_t ls = p, le = end;
            while (ls > 0 && is_blank(t[ls - 1]))
                ls--;
            while (le < n && (is_blank(t[le]) || t[le] == '\r'))
                le++;
            if ((ls == 0 || t[ls - 1] == '\n') && (le == n || t[le] == '\n')) {
                lit_end = ls;
                end = le < n ? le + 1 : n;
            }
        }
        if (out && !skip && lit_end > lit)
            e = rp_buf_add(out, t + lit, lit_end - lit);
        if (!e && out && !skip && !open && !close)
            e = emit_var(out, (enum var)v, r);
        if (e)
            return rp_error_set(err, e, "cannot render the prompt from %s: %s", name,
                                rp_strerror(e));

        if (open) {
            in_if = true;
            if_line = line;
            if_tag = t + p;
            if_len = tag_len;
            const char *val = v == VAR_TITLE ? (r ? r->title : "") : (r ? r->section : "");
            skip = r && !*val;
        } else if (close) {
            in_if = skip = false;
        } else if (used) {
            *used |= 1u << v;
        }
        pos = lit = end;
    }
    if (in_if)
        return tmpl_error(&w, if_line, err, "'%.*s' without a matching {{/if}}", if_len, if_tag);
    if (out && !skip && n > lit)
        e = rp_buf_add(out, t + lit, n - lit);
    if (e)
        return rp_error_set(err, e, "cannot render the prompt from %s: %s", name, rp_strerror(e));
    return RP_OK;
}

static enum rp_err render_user(const char *name, const char *tmpl, const char *title,
                               const char *heading_path, const char *text, int n_pairs,
                               uint64_t seed, struct rp_buf *out, struct rp_error *err)
{
    struct render r = {
        .title = title ? title : "",
        .section = heading_path ? heading_path : "",
        .text = text ? text : "",
        .n_pairs = n_pairs < 1 ? 1 : n_pairs,
        .seed = seed,
    };
    return walk(name, tmpl, strlen(tmpl), &r, out, NULL, err);
}

/* ---- prompt sets ---- */

#define PROMPT_FILE_MAX (256 * 1024)

struct rp_prompt_set {
    const char *system;    /* own_system or BUILTIN_SYSTEM */
    const char *user;      /* own_user or BUILTIN_USER */
    const char *user_name; /* the template's path, for messages */
    char *own_system;
    char *own_user;
    char *own_user_name;
    char version[sizeof(RP_PROMPT_VERSION) + 17]; /* "qa-v2-" + 16 hex digits */
};

/* Reads a prompt file into *text (new, caller frees): non-empty UTF-8 text
 * without NUL bytes. what says which file it is, for messages. */
static enum rp_err read_prompt(const char *path, const char *what, char **text,
                               struct rp_error *err)
{
    struct rp_buf b;
    rp_buf_init(&b, PROMPT_FILE_MAX);
    size_t bad = 0;
    enum rp_err e = rp_buf_read_file(&b, path, err);
    if (e) {
        rp_error_prefix(err, "%s: ", what);
        goto out;
    }
    size_t i = 0;
    while (i < b.len && (is_blank(b.data[i]) || b.data[i] == '\n' || b.data[i] == '\r'))
        i++;
    if (i == b.len)
        e = rp_error_set(err, RP_ERR_PARSE, "%s: '%s' is empty", what, path);
    else if (memchr(b.data, '\0', b.len))
        e = rp_error_set(err, RP_ERR_PARSE, "%s: '%s' contains a NUL byte", what, path);
    else if (!rp_utf8_valid(b.data, b.len, &bad))
        e = rp_error_set(err, RP_ERR_PARSE, "%s: '%s' is not UTF-8 (bad byte at offset %zu)", what,
                         path, bad);
    if (e)
        goto out;
    *text = rp_buf_detach(&b);
    if (!*text)
        e = rp_error_set(err, RP_ERR_NOMEM, "%s: cannot read '%s': out of memory", what, path);
out:
    rp_buf_release(&b);
    return e;
}

static void set_version(struct rp_prompt_set *ps)
{
    uint64_t h = rp_hash64(RP_PROMPT_VERSION, sizeof(RP_PROMPT_VERSION));
    for (int i = 0; i < N_TYPES; i++) {
        h = rp_hash64_seeded(rp_qa_types[i], strlen(rp_qa_types[i]) + 1, h);
        h = rp_hash64_seeded(TYPE_DESC[i], strlen(TYPE_DESC[i]) + 1, h);
    }
    h = rp_hash64_seeded(ps->system, strlen(ps->system) + 1, h);
    h = rp_hash64_seeded(ps->user, strlen(ps->user) + 1, h);
    char hex[17];
    rp_hash_hex(h, hex);
    snprintf(ps->version, sizeof(ps->version), "%s-%s", RP_PROMPT_VERSION, hex);
}

enum rp_err rp_prompt_set_load(const char *system_path, const char *user_template_path,
                               struct rp_prompt_set **out, struct rp_error *err)
{
    *out = NULL;
    struct rp_prompt_set *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return rp_error_set(err, RP_ERR_NOMEM, "cannot load the prompts: out of memory");
    ps->system = BUILTIN_SYSTEM;
    ps->user = BUILTIN_USER;
    ps->user_name = BUILTIN_USER_NAME;
    enum rp_err e = RP_OK;
    if (system_path) {
        e = read_prompt(system_path, "system prompt", &ps->own_system, err);
        if (e)
            goto out;
        ps->system = ps->own_system;
    }
    if (user_template_path) {
        e = read_prompt(user_template_path, "prompt template", &ps->own_user, err);
        if (e)
            goto out;
        ps->user = ps->own_user;
        ps->own_user_name = strdup(user_template_path);
        if (!ps->own_user_name) {
            e = rp_error_set(err, RP_ERR_NOMEM, "cannot load the prompts: out of memory");
            goto out;
        }
        ps->user_name = ps->own_user_name;
    }
    unsigned used = 0;
    e = walk(ps->user_name, ps->user, strlen(ps->user), NULL, NULL, &used, err);
    if (e)
        goto out;
    if (!(used & 1u << VAR_TEXT)) {
        e = rp_error_set(err, RP_ERR_PARSE,
                         "%s: the template never uses {{text}}, so no chunk would be shown",
                         ps->user_name);
        goto out;
    }
    set_version(ps);
    *out = ps;
    ps = NULL;
out:
    rp_prompt_set_free(ps);
    return e;
}

void rp_prompt_set_free(struct rp_prompt_set *ps)
{
    if (!ps)
        return;
    free(ps->own_system);
    free(ps->own_user);
    free(ps->own_user_name);
    free(ps);
}

const char *rp_prompt_set_system(const struct rp_prompt_set *ps)
{
    return ps->system;
}

const char *rp_prompt_set_version(const struct rp_prompt_set *ps)
{
    return ps->version;
}

enum rp_err rp_prompt_set_user(const struct rp_prompt_set *ps, const char *title,
                               const char *heading_path, const char *text, int n_pairs,
                               uint64_t seed, struct rp_buf *out, struct rp_error *err)
{
    return render_user(ps->user_name, ps->user, title, heading_path, text, n_pairs, seed, out, err);
}

const char *rp_prompt_qa_system(void)
{
    return BUILTIN_SYSTEM;
}

enum rp_err rp_prompt_qa_user(const char *title, const char *heading_path, const char *text,
                              int n_pairs, struct rp_buf *out)
{
    return render_user(BUILTIN_USER_NAME, BUILTIN_USER, title, heading_path, text, n_pairs, 0, out,
                       NULL);
}

/* ---- output shape ---- */

struct rp_qa_shape rp_qa_shape_default(void)
{
    struct rp_qa_shape s = {
        .max_pairs = 3,
        .tokens_per_pair = 120,
        .question_chars = 256,
        .answer_chars = 768,
    };
    return s;
}

int rp_prompt_pairs_for(const struct rp_qa_shape *shape, size_t n_tokens)
{
    int per = shape->tokens_per_pair > 0 ? shape->tokens_per_pair : 120;
    size_t n = (n_tokens + (size_t)per / 2) / (size_t)per;
    if (n < 1)
        n = 1;
    if (n > (size_t)shape->max_pairs)
        n = (size_t)shape->max_pairs;
    return (int)n;
}

int rp_prompt_max_tokens(const struct rp_qa_shape *shape, int n_pairs)
{
    /* characters of both strings, plus keys, the type and punctuation */
    return n_pairs * (shape->question_chars + shape->answer_chars + 48) + 8;
}

/* The shortest question and answer, in both the grammar and the schema. */
#define QUESTION_MIN_CHARS 8
#define ANSWER_MIN_CHARS 1

enum rp_err rp_prompt_qa_grammar(const struct rp_qa_shape *shape, int n_pairs, struct rp_buf *out)
{
    if (n_pairs < 1)
        n_pairs = 1;
    enum rp_err e = RP_OK;
    if (n_pairs == 1)
        e = rp_buf_adds(out, "root ::= \"[\" ws pair ws \"]\"\n");
    else
        e = rp_buf_addf(out, "root ::= \"[\" ws pair (\",\" ws pair){0,%d} ws \"]\"\n",
                        n_pairs - 1);
    if (!e)
        e = rp_buf_adds(
            out, "pair ::= \"{\" ws \"\\\"question\\\":\" ws question \",\" ws "
                 "\"\\\"answer\\\":\" ws answer \",\" ws \"\\\"type\\\":\" ws qtype ws \"}\"\n");
    if (!e)
        e = rp_buf_addf(out, "question ::= \"\\\"\" char{%d,%d} \"\\\"\"\n", QUESTION_MIN_CHARS,
                        shape->question_chars);
    if (!e)
        e = rp_buf_addf(out, "answer ::= \"\\\"\" char{%d,%d} \"\\\"\"\n", ANSWER_MIN_CHARS,
                        shape->answer_chars);
    if (!e)
        e = rp_buf_adds(out, "char ::= [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | "
                             "\"u\" [0-9a-fA-F]{4})\n");
    if (!e)
        e = rp_buf_adds(out, "qtype ::= ");
    for (int i = 0; rp_qa_types[i] && !e; i++)
        e = rp_buf_addf(out, "%s\"\\\"%s\\\"\"", i ? " | " : "", rp_qa_types[i]);
    if (!e)
        e = rp_buf_adds(out, "\nws ::= [ \\n]{0,2}\n");
    return e;
}

enum rp_err rp_prompt_qa_json_schema(const struct rp_qa_shape *shape, int n_pairs,
                                     struct rp_buf *out)
{
    if (n_pairs < 1)
        n_pairs = 1;
    enum rp_err e = RP_OK;
    json_t *schema = NULL;
    char *s = NULL;
    json_t *types = json_array();
    if (!types)
        return RP_ERR_NOMEM;
    for (int i = 0; rp_qa_types[i]; i++)
        if (json_array_append_new(types, json_string(rp_qa_types[i]))) {
            e = RP_ERR_NOMEM;
            goto out;
        }
    /* Keys in the order of the grammar: llama-server turns a schema into a
     * grammar with the properties in this order. */
    schema = json_pack("{s:s, s:i, s:i, s:{s:s, s:{s:{s:s, s:i, s:i}, s:{s:s, s:i, s:i}, "
                       "s:{s:s, s:O}}, s:[s, s, s], s:b}}",
                       "type", "array", "minItems", 1, "maxItems", n_pairs, "items", "type",
                       "object", "properties", "question", "type", "string", "minLength",
                       QUESTION_MIN_CHARS, "maxLength", shape->question_chars, "answer", "type",
                       "string", "minLength", ANSWER_MIN_CHARS, "maxLength", shape->answer_chars,
                       "type", "type", "string", "enum", types, "required", "question", "answer",
                       "type", "additionalProperties", 0);
    s = schema ? json_dumps(schema, JSON_COMPACT) : NULL;
    e = s ? rp_buf_adds(out, s) : RP_ERR_NOMEM;
out:
    free(s);
    json_decref(schema);
    json_decref(types);
    return e;
}
