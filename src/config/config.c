/*
 * config.c - the run configuration from YAML (include/ranpipe/config.h).
 *
 * Design. The text is read with libyaml's event parser into a small tree of
 * nodes (one arena, freed at once), and the tree is then checked against
 * tables of known keys. Two passes keep the checks simple: a tier's backend
 * decides which keys the tier may have wherever `backend:` appears in its
 * mapping, and checks that involve two keys (min_tokens <= max_tokens) can
 * point at whichever of them the file set. Each table entry names the key,
 * the type and range of its value and where it is stored (an offset into
 * struct rp_config or struct rp_tier_config), so one walker serves every
 * section. docs/config.md describes the keys; examples/ranpipe.yaml shows
 * them with their defaults (tests/unit/test_config.c checks the two agree).
 *
 * A configuration file is hostile input like any other: the text is capped
 * at 1 MiB, nesting at 16 levels and the tree at 65536 nodes; aliases are
 * refused outright (the event parser never expands them, and refusing them
 * means nothing later can either, so an alias bomb costs nothing), and so
 * are tags. Numbers are plain scalars read strictly (the whole scalar, in
 * range); a quoted "5" is a string, not a number.
 *
 * Error messages are "FILE:LINE:COLUMN: KEY.PATH: what is wrong". A bad
 * value is reported at its key (the list element for list items), a
 * missing key at the mapping that lacks it. A value is echoed back in the
 * message (truncated, control characters replaced) except where it could
 * be a secret: API keys are never stored, and api_key_env errors do not
 * repeat the value.
 *
 * Numbers are parsed with strtoll/strtod, so the process must not set a
 * locale whose decimal point is not '.' (ranpipe never calls setlocale).
 * "~/" is expanded with getenv("HOME"): load configurations before other
 * threads may change the environment.
 */
#include "ranpipe/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "ranpipe/buf.h"

#define CFG_MAX_BYTES ((size_t)1 << 20)
#define CFG_MAX_DEPTH 16
#define CFG_MAX_NODES 65536
#define CFG_MAX_TIERS 16
#define CFG_MAX_URLS 64
#define CFG_MAX_NAME 32
#define CFG_PATH_MAX 256

#define DEFAULT_SEED 0x5eed /* the same as rp_run_default_params() */

/* ---- the tree ---- */

enum node_type { NODE_SCALAR, NODE_MAP, NODE_SEQ };

struct node {
    enum node_type type;
    size_t line, col; /* 1-based */
    const char *str;  /* a scalar's text, NUL-terminated (no NUL inside) */
    size_t len;
    bool plain;                      /* a plain scalar (neither quoted nor a block scalar) */
    struct node *head, *tail, *next; /* children; a map's are key, value, key, ... */
    size_t n;
};

struct loader {
    const char *name;     /* for messages */
    const char *base_dir; /* relative paths are resolved against it; NULL: left as they are */
    struct rp_error *err;
    struct rp_arena arena;
    size_t n_nodes;
    /* the tiers' mappings, for the checks after the walk (NULL: default tiers) */
    const struct node *tier_nodes[CFG_MAX_TIERS];
};

#if defined(__GNUC__)
#define CFG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CFG_PRINTF(a, b)
#endif

/* Sets err to "name:line:col: path: message" (the path part only when path
 * is not empty) and returns RP_ERR_CONFIG. */
static enum rp_err fail_at(struct loader *ld, size_t line, size_t col, const char *path,
                           const char *fmt, ...) CFG_PRINTF(5, 6);
static enum rp_err fail_at(struct loader *ld, size_t line, size_t col, const char *path,
                           const char *fmt, ...)
{
    char msg[RP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (path && *path)
        return rp_error_set(ld->err, RP_ERR_CONFIG, "%s:%zu:%zu: %s: %s", ld->name, line, col, path,
                            msg);
    return rp_error_set(ld->err, RP_ERR_CONFIG, "%s:%zu:%zu: %s", ld->name, line, col, msg);
}

#define FAIL(ld, node, path, ...) fail_at((ld), (node)->line, (node)->col, (path), __VA_ARGS__)

static enum rp_err nomem(struct loader *ld)
{
    return rp_error_set(ld->err, RP_ERR_NOMEM, "%s: out of memory", ld->name);
}

/* ---- building the tree from libyaml events ---- */

struct frame {
    struct node *n;
    const char *key; /* a map's latest key */
};

struct builder {
    struct loader *ld;
    struct frame stack[CFG_MAX_DEPTH];
    int depth;
    struct node *root;
};

static void path_add(char *out, size_t cap, const char *fmt, ...) CFG_PRINTF(3, 4);
static void path_add(char *out, size_t cap, const char *fmt, ...)
{
    size_t len = strlen(out);
    if (len + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + len, cap - len, fmt, ap);
    va_end(ap);
}

/* The key path of the place where the next node would go; without
 * pending_index, a list's path stops at the list itself. */
static void stack_path(const struct builder *b, bool pending_index, char *out, size_t cap)
{
    out[0] = '\0';
    for (int i = 0; i < b->depth; i++) {
        const struct node *n = b->stack[i].n;
        bool deepest = i == b->depth - 1;
        if (n->type == NODE_MAP) {
            /* Inner maps always hold the next frame as a value; the deepest
             * one is at a value when it has an odd number of children. */
            if (!deepest || n->n % 2 == 1)
                path_add(out, cap, out[0] ? ".%s" : "%s", b->stack[i].key);
        } else if (!deepest) {
            path_add(out, cap, "[%zu]", n->n - 1);
        } else if (pending_index) {
            path_add(out, cap, "[%zu]", n->n);
        }
    }
}

static enum rp_err build_fail(struct builder *b, const yaml_mark_t *m, const char *fmt, ...)
    CFG_PRINTF(3, 4);
static enum rp_err build_fail(struct builder *b, const yaml_mark_t *m, const char *fmt, ...)
{
    char path[CFG_PATH_MAX];
    char msg[RP_ERROR_MSG_MAX];
    stack_path(b, true, path, sizeof(path));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return fail_at(b->ld, m->line + 1, m->column + 1, path, "%s", msg);
}

/* Adds a node for the event ev to the tree and returns it in *out. */
static enum rp_err add_node(struct builder *b, const yaml_event_t *ev, enum node_type type,
                            struct node **out)
{
    struct loader *ld = b->ld;
    if (++ld->n_nodes > CFG_MAX_NODES)
        return build_fail(b, &ev->start_mark, "more than %d values", CFG_MAX_NODES);
    struct node *nd = rp_arena_alloc(&ld->arena, sizeof(*nd));
    if (!nd)
        return nomem(ld);
    memset(nd, 0, sizeof(*nd));
    nd->type = type;
    nd->line = ev->start_mark.line + 1;
    nd->col = ev->start_mark.column + 1;
    if (type == NODE_SCALAR) {
        const char *v = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        if (memchr(v, '\0', len))
            return build_fail(b, &ev->start_mark, "text may not contain NUL characters");
        nd->str = rp_arena_strndup(&ld->arena, v, len);
        if (!nd->str)
            return nomem(ld);
        nd->len = len;
        nd->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    }
    if (b->depth == 0) {
        b->root = nd;
    } else {
        struct frame *f = &b->stack[b->depth - 1];
        if (f->n->type == NODE_MAP && f->n->n % 2 == 0) {
            if (type != NODE_SCALAR)
                return build_fail(b, &ev->start_mark, "a key must be a plain name, not a %s",
                                  type == NODE_MAP ? "mapping" : "list");
            f->key = nd->str;
        }
        if (f->n->tail)
            f->n->tail->next = nd;
        else
            f->n->head = nd;
        f->n->tail = nd;
        f->n->n++;
    }
    *out = nd;
    return RP_OK;
}

/* Handles one event. *done is set at the end of the stream. */
static enum rp_err on_event(struct builder *b, const yaml_event_t *ev, int *docs, bool *done)
{
    struct node *nd = NULL;
    enum rp_err e;
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        *done = true;
        return RP_OK;
    case YAML_DOCUMENT_START_EVENT:
        if (++*docs > 1)
            return fail_at(b->ld, ev->start_mark.line + 1, ev->start_mark.column + 1, NULL,
                           "only one YAML document is allowed");
        return RP_OK;
    case YAML_ALIAS_EVENT:
        return build_fail(b, &ev->start_mark, "YAML aliases are not allowed (*%s)",
                          (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        if (ev->data.scalar.tag)
            return build_fail(b, &ev->start_mark, "YAML tags are not allowed (%s)",
                              (const char *)ev->data.scalar.tag);
        return add_node(b, ev, NODE_SCALAR, &nd);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        const yaml_char_t *tag = ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.tag
                                                                       : ev->data.mapping_start.tag;
        if (tag)
            return build_fail(b, &ev->start_mark, "YAML tags are not allowed (%s)",
                              (const char *)tag);
        if (b->depth >= CFG_MAX_DEPTH)
            return build_fail(b, &ev->start_mark, "nested deeper than %d levels", CFG_MAX_DEPTH);
        e = add_node(b, ev, ev->type == YAML_SEQUENCE_START_EVENT ? NODE_SEQ : NODE_MAP, &nd);
        if (e)
            return e;
        b->stack[b->depth].n = nd;
        b->stack[b->depth].key = "";
        b->depth++;
        return RP_OK;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        b->depth--;
        return RP_OK;
    default:
        return RP_OK;
    }
}

/* Parses yaml[0..len) into a tree; *root is NULL for an empty stream. */
static enum rp_err build_tree(struct loader *ld, const char *yaml, size_t len, struct node **root)
{
    yaml_parser_t p;
    struct builder b = {.ld = ld};
    enum rp_err rc = RP_OK;
    int docs = 0;
    bool done = false;
    *root = NULL;
    if (!yaml_parser_initialize(&p))
        return nomem(ld);
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
    yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
    while (!done && !rc) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            char path[CFG_PATH_MAX];
            stack_path(&b, false, path, sizeof(path));
            size_t line = p.problem_mark.line + 1, col = p.problem_mark.column + 1;
            if (p.error == YAML_READER_ERROR) {
                /* Encoding errors come with a byte offset, not a mark. */
                line = col = 1;
                for (size_t i = 0; i < p.problem_offset && i < len; i++) {
                    if (yaml[i] == '\n') {
                        line++;
                        col = 1;
                    } else if (((unsigned char)yaml[i] & 0xc0) != 0x80) {
                        col++;
                    }
                }
            }
            if (p.error == YAML_MEMORY_ERROR)
                rc = nomem(ld);
            else
                rc =
                    fail_at(ld, line, col, path, "invalid YAML: %s%s%s", p.context ? p.context : "",
                            p.context ? " " : "", p.problem ? p.problem : "syntax error");
            break;
        }
        rc = on_event(&b, &ev, &docs, &done);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (!rc)
        *root = b.root;
    return rc;
}

/* ---- scalars ---- */

static bool is_null(const struct node *v)
{
    if (v->type != NODE_SCALAR || !v->plain)
        return false;
    return v->len == 0 || !strcmp(v->str, "~") || !strcmp(v->str, "null") ||
           !strcmp(v->str, "Null") || !strcmp(v->str, "NULL");
}

/* A scalar quoted for a message: at most 40 characters, control
 * characters replaced. */
static const char *preview(const struct node *v, char *buf, size_t cap)
{
    char text[48];
    size_t n = 0;
    for (size_t i = 0; i < v->len && n < 40; i++)
        text[n++] = (unsigned char)v->str[i] < 0x20 || v->str[i] == 0x7f ? '?' : v->str[i];
    /* Cut before a character, not inside one (the text is valid UTF-8). */
    while (n > 0 && n < v->len && ((unsigned char)v->str[n] & 0xc0) == 0x80)
        n--;
    text[n] = '\0';
    snprintf(buf, cap, "'%s%s'", text, v->len > 40 ? "..." : "");
    return buf;
}

/* What v is, for "got ..." in messages. */
static const char *describe(const struct node *v, char *buf, size_t cap)
{
    if (v->type == NODE_MAP)
        return "a mapping";
    if (v->type == NODE_SEQ)
        return "a list";
    if (is_null(v))
        return "nothing";
    if (v->plain)
        return preview(v, buf, cap);
    char q[64];
    snprintf(buf, cap, "the quoted string %s", preview(v, q, sizeof(q)));
    return buf;
}

static bool parse_ll(const struct node *v, long long *out)
{
    if (v->type != NODE_SCALAR || !v->plain || v->len == 0)
        return false;
    const char *s = v->str;
    if (!isdigit((unsigned char)s[s[0] == '-' || s[0] == '+']))
        return false;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = x;
    return true;
}

static bool parse_u64(const struct node *v, uint64_t *out)
{
    if (v->type != NODE_SCALAR || !v->plain || !isdigit((unsigned char)v->str[0]))
        return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v->str, &end, 10);
    if (errno || *end)
        return false;
    *out = (uint64_t)x;
    return true;
}

static bool parse_double(const struct node *v, double *out)
{
    if (v->type != NODE_SCALAR || !v->plain || v->len == 0)
        return false;
    /* Decimal numbers only: no hex floats, inf or nan. */
    if (strspn(v->str, "0123456789+-.eE") != v->len || !strpbrk(v->str, "0123456789"))
        return false;
    char *end;
    errno = 0;
    double x = strtod(v->str, &end);
    if (errno || *end || !isfinite(x))
        return false;
    *out = x;
    return true;
}

static bool parse_bool(const struct node *v, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    if (v->type != NODE_SCALAR || !v->plain)
        return false;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (!strcasecmp(v->str, yes[i])) {
            *out = 1;
            return true;
        }
        if (!strcasecmp(v->str, no[i])) {
            *out = 0;
            return true;
        }
    }
    return false;
}

/* ---- paths and URLs ---- */

static char *str_ndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static char *str_dup(const char *s)
{
    return str_ndup(s, strlen(s));
}

static char *str_cat3(const char *a, size_t na, const char *b, const char *c)
{
    size_t nb = strlen(b), nc = strlen(c);
    char *d = malloc(na + nb + nc + 1);
    if (d) {
        memcpy(d, a, na);
        memcpy(d + na, b, nb);
        memcpy(d + na + nb, c, nc + 1);
    }
    return d;
}

/* Expands "~" and "~/..." from $HOME and puts a relative path under
 * base_dir (when not NULL). On RP_ERR_CONFIG *why says what is wrong. */
static enum rp_err resolve_path(const char *s, const char *base_dir, char **out, const char **why)
{
    *out = NULL;
    if (s[0] == '~') {
        if (s[1] != '\0' && s[1] != '/') {
            *why = "'~user' paths are not supported; write the whole path";
            return RP_ERR_CONFIG;
        }
        const char *home = getenv("HOME");
        if (!home || !*home) {
            *why = "cannot expand '~': HOME is not set";
            return RP_ERR_CONFIG;
        }
        size_t hl = strlen(home);
        while (hl > 1 && home[hl - 1] == '/')
            hl--;
        if (s[1] == '\0')
            *out = str_ndup(home, hl);
        else
            *out = str_cat3(home, hl == 1 && home[0] == '/' ? 0 : hl, s + 1, "");
    } else if (s[0] == '/' || !base_dir) {
        *out = str_dup(s);
    } else {
        size_t bl = strlen(base_dir);
        *out = str_cat3(base_dir, bl, bl && base_dir[bl - 1] == '/' ? "" : "/", s);
    }
    return *out ? RP_OK : RP_ERR_NOMEM;
}

/* An OpenAI-compatible base URL from what a user may write: "http://h:p",
 * "http://h:p/", "http://h:p/v1", ".../v1/chat/completions". A URL
 * without a path gets "/v1"; one with another path is kept as given.
 * NULL when s is not an http(s) URL with a host (or out of memory: *oom). */
static char *normalise_url(const char *s, bool *oom)
{
    *oom = false;
    size_t skip;
    if (!strncasecmp(s, "http://", 7))
        skip = 7;
    else if (!strncasecmp(s, "https://", 8))
        skip = 8;
    else
        return NULL;
    for (const char *q = s; *q; q++)
        if ((unsigned char)*q <= ' ' || *q == 0x7f)
            return NULL;
    size_t len = strlen(s);
    while (len > skip && s[len - 1] == '/')
        len--;
    static const char tail[] = "/chat/completions";
    if (len >= skip + sizeof(tail) - 1 &&
        !strncmp(s + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1))
        len -= sizeof(tail) - 1;
    while (len > skip && s[len - 1] == '/')
        len--;
    const char *host = s + skip;
    const char *slash = memchr(host, '/', len - skip);
    size_t host_len = slash ? (size_t)(slash - host) : len - skip;
    if (host_len == 0 || host[0] == ':')
        return NULL;
    char *r = str_cat3(s, len, slash ? "" : "/v1", "");
    *oom = !r;
    for (size_t i = 0; r && i < skip; i++) /* the backends expect "http://" in lower case */
        r[i] = (char)tolower((unsigned char)r[i]);
    return r;
}

/* ---- edit distance, for "did you mean" ---- */

/* Optimal-string-alignment distance (a swap of neighbours counts 1);
 * both strings at most 64 bytes. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    size_t rows[3][65];
    size_t *pp = rows[0], *p = rows[1], *c = rows[2];
    for (size_t j = 0; j <= m; j++)
        p[j] = j;
    for (size_t i = 1; i <= n; i++) {
        c[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t d = p[j] + 1;
            if (c[j - 1] + 1 < d)
                d = c[j - 1] + 1;
            if (p[j - 1] + cost < d)
                d = p[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < d)
                d = pp[j - 2] + 1;
            c[j] = d;
        }
        size_t *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[m];
}

/* ---- the key tables ---- */

enum vtype {
    V_INT,     /* int */
    V_SIZE,    /* size_t */
    V_FLOAT,   /* float */
    V_DOUBLE,  /* double */
    V_BOOL,    /* int 0/1 */
    V_U64,     /* uint64_t, any value */
    V_STR,     /* char *, non-empty; null unsets */
    V_PATH,    /* char *, a file path ("~/" and relative paths resolved) */
    V_ENV,     /* char *, the name of an environment variable */
    V_NAME,    /* char *, a tier name */
    V_BACKEND, /* enum rp_backend_kind */
    V_URL,     /* one base URL into base_urls */
    V_URLS,    /* a list of base URLs */
    V_MAP,     /* a nested section */
    V_TIERS,   /* the list of tiers */
};

/* Which tiers a key applies to. */
#define KIND_BIT(k) (1u << (k))
#define K_EXT KIND_BIT(RP_BACKEND_EXTRACTIVE)
#define K_LLAMA KIND_BIT(RP_BACKEND_LLAMA)
#define K_OPENAI KIND_BIT(RP_BACKEND_OPENAI)
#define K_LLM (K_LLAMA | K_OPENAI)
#define K_ALL (K_EXT | K_LLM)

struct section;

struct key {
    const char *name;
    enum vtype type;
    size_t off;                /* where the value goes, from the section's base */
    double min, max;           /* numbers */
    bool min_excluded;         /* numbers: greater than min */
    unsigned kinds;            /* tier keys: the backends it applies to */
    const struct section *sub; /* V_MAP */
};

struct section {
    const struct key *keys;
    size_t n;
};

/* clang-format off */
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define SECTION(keys) {keys, N_OF(keys)}
/* Keys of struct rp_config (CK) and of struct rp_tier_config (TK); the X
 * forms exclude the minimum ("greater than min"). */
#define CK(nm, ty, field, lo, hi) {nm, ty, offsetof(struct rp_config, field), lo, hi, false, 0, NULL}
#define CKX(nm, ty, field, lo, hi) {nm, ty, offsetof(struct rp_config, field), lo, hi, true, 0, NULL}
#define TK(nm, ty, field, lo, hi, k) \
    {nm, ty, offsetof(struct rp_tier_config, field), lo, hi, false, k, NULL}
#define TKX(nm, ty, field, lo, hi, k) \
    {nm, ty, offsetof(struct rp_tier_config, field), lo, hi, true, k, NULL}
/* clang-format on */

static const struct key chunk_keys[] = {
    CK("max_tokens", V_SIZE, chunk.max_tokens, 16, 1 << 20),
    CK("min_tokens", V_SIZE, chunk.min_tokens, 0, 1 << 20),
    CK("overlap_tokens", V_SIZE, chunk.overlap_tokens, 0, 1 << 20),
};

static const struct key weight_keys[] = {
    CK("length", V_FLOAT, complexity.w_length, 0, 1000),
    CK("params", V_FLOAT, complexity.w_params, 0, 1000),
    CK("counters", V_FLOAT, complexity.w_counters, 0, 1000),
    CK("terms", V_FLOAT, complexity.w_terms, 0, 1000),
    CK("numeric", V_FLOAT, complexity.w_numeric, 0, 1000),
    CK("tables", V_FLOAT, complexity.w_tables, 0, 1000),
    CK("depth", V_FLOAT, complexity.w_depth, 0, 1000),
    CK("domain", V_FLOAT, complexity.w_domain, 0, 1000),
};
static const struct section weight_section = SECTION(weight_keys);

static const struct key complexity_keys[] = {
    {"weights", V_MAP, 0, 0, 0, false, 0, &weight_section},
    CK("length_norm_tokens", V_SIZE, complexity.length_norm_tokens, 1, 1 << 20),
    CKX("density_norm", V_FLOAT, complexity.density_norm, 0, 1000),
    CK("depth_norm", V_INT, complexity.depth_norm, 1, 64),
};

static const struct key ingest_keys[] = {
    CK("max_file_bytes", V_SIZE, ingest.max_file_bytes, 1, (double)((size_t)1 << 40)),
    CK("max_depth", V_INT, ingest.max_depth, 1, 256),
    CK("max_archive_members", V_SIZE, ingest.max_archive_members, 1, 10000000),
    CK("max_archive_bytes", V_SIZE, ingest.max_archive_bytes, 1, (double)((size_t)1 << 42)),
    CK("max_compression_ratio", V_DOUBLE, ingest.max_compression_ratio, 1, 1000000),
    CK("max_archive_depth", V_INT, ingest.max_archive_depth, 0, 16),
    CK("max_pages", V_INT, ingest.max_pages, 1, 1000000),
};

static const struct key breaker_keys[] = {
    CK("failures", V_INT, breaker.failures, 1, 1000),
    CK("cooldown_s", V_DOUBLE, breaker.cooldown_s, 0, 86400),
    CK("half_open_probes", V_INT, breaker.half_open_probes, 1, 1000),
};

static const struct key retry_keys[] = {
    CK("attempts", V_INT, retry.attempts, 1, 100),
    CK("base_delay_s", V_DOUBLE, retry.base_delay_s, 0, 3600),
    CK("max_delay_s", V_DOUBLE, retry.max_delay_s, 0, 86400),
    CKX("deadline_s", V_DOUBLE, retry.deadline_s, 0, 604800),
};

static const struct key quality_weight_keys[] = {
    CK("grounding", V_DOUBLE, quality.scorer.w_grounding, 0, 1000),
    CK("support", V_DOUBLE, quality.scorer.w_support, 0, 1000),
    CK("answerable", V_DOUBLE, quality.scorer.w_answerable, 0, 1000),
    CK("semantic", V_DOUBLE, quality.scorer.w_semantic, 0, 1000),
    CK("judge", V_DOUBLE, quality.scorer.w_judge, 0, 1000),
};
static const struct section quality_weight_section = SECTION(quality_weight_keys);

static const struct key quality_keys[] = {
    CK("threshold", V_DOUBLE, quality.scorer.threshold, 0, 1),
    CK("min_support", V_DOUBLE, quality.scorer.min_support, 0, 1),
    CK("hard_factor", V_DOUBLE, quality.scorer.hard_factor, 0, 1),
    CK("question_min_chars", V_SIZE, quality.scorer.question_min_chars, 0, 100000),
    CK("question_max_chars", V_SIZE, quality.scorer.question_max_chars, 1, 100000),
    CK("answer_min_chars", V_SIZE, quality.scorer.answer_min_chars, 0, 1000000),
    CK("answer_max_chars", V_SIZE, quality.scorer.answer_max_chars, 1, 1000000),
    {"weights", V_MAP, 0, 0, 0, false, 0, &quality_weight_section},
    CK("dedup", V_BOOL, quality.dedup, 0, 1),
    CKX("dedup_threshold", V_DOUBLE, quality.dedup_threshold, 0, 1),
    CKX("dedup_pair_threshold", V_DOUBLE, quality.dedup_pair_threshold, 0, 1),
    CK("embed_model", V_PATH, quality.embed_model, 0, 0),
    CK("judge", V_NAME, quality.judge, 0, 0),
};
static const struct section quality_section = SECTION(quality_keys);

static const struct key route_keys[] = {
    CK("adaptive", V_BOOL, route.adaptive, 0, 1),
    CKX("target", V_DOUBLE, route.target, 0, 1),
};
static const struct section route_section = SECTION(route_keys);

static const struct key alert_keys[] = {
    CK("min_pass_rate", V_DOUBLE, monitor.alerts.min_pass_rate, 0, 1),
    CK("max_error_rate", V_DOUBLE, monitor.alerts.max_error_rate, 0, 1),
    CK("breaker_open", V_BOOL, monitor.alerts.breaker_open, 0, 1),
    CK("min_samples", V_SIZE, monitor.alerts.min_samples, 1, 1000000000),
};
static const struct section alert_section = SECTION(alert_keys);

static const struct key monitor_keys[] = {
    CKX("progress_interval", V_DOUBLE, monitor.progress_interval_s, 0, 86400),
    {"alerts", V_MAP, 0, 0, 0, false, 0, &alert_section},
};
static const struct section monitor_section = SECTION(monitor_keys);

static const struct section chunk_section = SECTION(chunk_keys);
static const struct section complexity_section = SECTION(complexity_keys);
static const struct section ingest_section = SECTION(ingest_keys);
static const struct section breaker_section = SECTION(breaker_keys);
static const struct section retry_section = SECTION(retry_keys);

static const struct key root_keys[] = {
    CK("seed", V_U64, seed, 0, 0),
    CK("escalate", V_BOOL, escalate, 0, 1),
    {"chunk", V_MAP, 0, 0, 0, false, 0, &chunk_section},
    {"complexity", V_MAP, 0, 0, 0, false, 0, &complexity_section},
    {"ingest", V_MAP, 0, 0, 0, false, 0, &ingest_section},
    {"breaker", V_MAP, 0, 0, 0, false, 0, &breaker_section},
    {"retry", V_MAP, 0, 0, 0, false, 0, &retry_section},
    {"quality", V_MAP, 0, 0, 0, false, 0, &quality_section},
    {"route", V_MAP, 0, 0, 0, false, 0, &route_section},
    {"monitor", V_MAP, 0, 0, 0, false, 0, &monitor_section},
    {"tiers", V_TIERS, 0, 0, 0, false, 0, NULL},
};
static const struct section root_section = SECTION(root_keys);

static const struct key tier_keys[] = {
    TK("name", V_NAME, name, 0, 0, K_ALL),
    TK("backend", V_BACKEND, kind, 0, 0, K_ALL),
    TK("max_complexity", V_FLOAT, max_complexity, 0, 1, K_LLM),
    /* llama */
    TK("model", V_PATH, model, 0, 0, K_LLAMA),
    TK("context", V_INT, llama.n_ctx_seq, 256, 1 << 20, K_LLAMA),
    TK("parallel", V_INT, llama.n_parallel, 1, 256, K_LLAMA),
    TK("threads", V_INT, llama.n_threads, 0, 1024, K_LLAMA),
    TK("batch", V_INT, llama.n_batch, 1, 1 << 16, K_LLAMA),
    TK("ubatch", V_INT, llama.n_ubatch, 1, 1 << 16, K_LLAMA),
    TK("gpu_layers", V_INT, llama.n_gpu_layers, -1, 10000, K_LLAMA), /* or "auto" */
    TK("workers", V_INT, workers, 1, 64, K_LLAMA),
    TK("memory_budget_mb", V_SIZE, memory_budget_mb, 0, 1 << 24, K_LLAMA),
    /* openai */
    TK("base_url", V_URL, base_urls, 0, 0, K_OPENAI),
    TK("base_urls", V_URLS, base_urls, 0, 0, K_OPENAI),
    TK("api_model", V_STR, api_model, 0, 0, K_OPENAI),
    TK("api_key_env", V_ENV, api_key_env, 0, 0, K_OPENAI),
    TK("max_concurrent", V_INT, max_concurrent, 1, 1024, K_OPENAI),
    TKX("timeout_s", V_DOUBLE, timeout_s, 0, 86400, K_OPENAI),
    /* generation */
    TK("temperature", V_FLOAT, sampling.temperature, 0, 10, K_LLM),
    TK("top_k", V_INT, sampling.top_k, 0, 1 << 20, K_LLM),
    TK("top_p", V_FLOAT, sampling.top_p, 0, 1, K_LLM),
    TK("max_tokens", V_INT, sampling.max_tokens, 0, 1 << 20, K_LLM),
    TK("max_pairs", V_INT, shape.max_pairs, 1, 20, K_LLM),
    TK("tokens_per_pair", V_INT, shape.tokens_per_pair, 1, 100000, K_LLM),
    TK("question_chars", V_INT, shape.question_chars, 16, 8192, K_LLM),
    TK("answer_chars", V_INT, shape.answer_chars, 16, 65536, K_LLM),
    TK("prompt_template", V_PATH, prompt_template, 0, 0, K_LLM),
    TK("system_prompt", V_PATH, system_prompt, 0, 0, K_LLM),
};
static const struct section tier_section = SECTION(tier_keys);

#define SECTION_MAX_KEYS 32

static const char *kinds_text(unsigned kinds)
{
    switch (kinds) {
    case K_LLAMA:
        return "llama tiers";
    case K_OPENAI:
        return "openai tiers";
    case K_LLM:
        return "llama and openai tiers";
    default:
        return "every tier";
    }
}

/* ---- tiers ---- */

static void tier_init(struct rp_tier_config *t, enum rp_backend_kind kind)
{
    memset(t, 0, sizeof(*t));
    t->kind = kind;
    t->max_complexity = kind == RP_BACKEND_EXTRACTIVE ? 0.0f : 1.0f;
    t->llama = rp_llama_default_params();
    t->workers = 1;
    t->memory_budget_mb = 0;
    t->max_concurrent = 8;
    t->timeout_s = 300.0;
    t->sampling = rp_sampling_default();
    t->shape = rp_qa_shape_default();
}

static void tier_release(struct rp_tier_config *t)
{
    free(t->name);
    free(t->model);
    for (size_t i = 0; i < t->n_base_urls; i++)
        free(t->base_urls[i]);
    free(t->base_urls);
    free(t->api_model);
    free(t->api_key_env);
    free(t->prompt_template);
    free(t->system_prompt);
    memset(t, 0, sizeof(*t));
}

static void tier_set_urls(struct rp_tier_config *t, char **urls, size_t n)
{
    for (size_t i = 0; i < t->n_base_urls; i++)
        free(t->base_urls[i]);
    free(t->base_urls);
    t->base_urls = urls;
    t->n_base_urls = n;
}

static void free_tiers(struct rp_config *c)
{
    for (size_t i = 0; i < c->n_tiers; i++)
        tier_release(&c->tiers[i]);
    free(c->tiers);
    c->tiers = NULL;
    c->n_tiers = 0;
}

static bool is_llm(const struct rp_tier_config *t)
{
    return t->kind != RP_BACKEND_EXTRACTIVE;
}

/* The value node of key in map, or NULL; *key_out (may be NULL) gets the key node. */
static const struct node *find_key(const struct node *map, const char *key,
                                   const struct node **key_out)
{
    if (!map || map->type != NODE_MAP)
        return NULL;
    for (const struct node *k = map->head; k && k->next; k = k->next->next) {
        if (!strcmp(k->str, key)) {
            if (key_out)
                *key_out = k;
            return k->next;
        }
    }
    return NULL;
}

/* Gives every LLM tier without a max_complexity of its own one spread
 * evenly between its neighbours' (the last LLM tier 1.0), and checks that
 * the values do not decrease. ld is NULL for the built-in defaults, whose
 * tiers set none. */
static enum rp_err assign_complexity(struct loader *ld, struct rp_config *c)
{
    size_t idx[CFG_MAX_TIERS];
    bool set[CFG_MAX_TIERS];
    size_t m = 0;
    for (size_t i = 0; i < c->n_tiers && m < CFG_MAX_TIERS; i++) {
        if (!is_llm(&c->tiers[i]))
            continue;
        set[m] = ld && find_key(ld->tier_nodes[i], "max_complexity", NULL);
        idx[m++] = i;
    }
    if (m == 0)
        return RP_OK;
    if (!set[m - 1]) {
        c->tiers[idx[m - 1]].max_complexity = 1.0f;
        set[m - 1] = true;
    }
    float prev = 0.0f;
    long prev_j = -1;
    for (size_t j = 0; j < m; j++) {
        if (!set[j])
            continue;
        struct rp_tier_config *t = &c->tiers[idx[j]];
        if (prev_j >= 0 && t->max_complexity < prev) {
            const struct node *k = ld->tier_nodes[idx[j]];
            find_key(k, "max_complexity", &k);
            char path[CFG_PATH_MAX];
            snprintf(path, sizeof(path), "tiers[%zu].max_complexity", idx[j]);
            return FAIL(ld, k, path,
                        "tier '%s' has max_complexity %g, below the %g of tier '%s' before it; "
                        "LLM tiers must be in order of non-decreasing max_complexity",
                        t->name, (double)t->max_complexity, (double)prev,
                        c->tiers[idx[prev_j]].name);
        }
        /* Spread the unset tiers between the previous set value and this one. */
        size_t first = prev_j < 0 ? 0 : (size_t)prev_j + 1;
        float lo = prev_j < 0 ? 0.0f : prev;
        for (size_t u = first; u < j; u++)
            c->tiers[idx[u]].max_complexity =
                lo + (t->max_complexity - lo) * (float)(u - first + 1) / (float)(j - first + 1);
        prev = t->max_complexity;
        prev_j = (long)j;
    }
    return RP_OK;
}

/* ---- the walker ---- */

static enum rp_err parse_section(struct loader *ld, const struct node *map, const char *path,
                                 const struct section *sec, char *base, unsigned kind_bit,
                                 const char *kind_name);
static enum rp_err parse_tiers(struct loader *ld, const struct node *at, const struct node *v,
                               const char *path, struct rp_config *c);

static enum rp_err bad_number(struct loader *ld, const struct node *at, const struct node *v,
                              const char *path, const struct key *d)
{
    char buf[96];
    const char *got = describe(v, buf, sizeof(buf));
    if (d->type == V_INT || d->type == V_SIZE)
        return FAIL(ld, at, path, "expected an integer from %lld to %lld, got %s",
                    (long long)d->min, (long long)d->max, got);
    if (d->min_excluded)
        return FAIL(ld, at, path, "expected a number greater than %.10g and at most %.10g, got %s",
                    d->min, d->max, got);
    return FAIL(ld, at, path, "expected a number from %.10g to %.10g, got %s", d->min, d->max, got);
}

/* A string value into *slot (replacing what was there): V_STR, V_PATH,
 * V_ENV and V_NAME. */
static enum rp_err set_string(struct loader *ld, const struct node *at, const struct node *v,
                              const char *path, const struct key *d, char **slot)
{
    char got[96];
    if (is_null(v) && d->type != V_NAME) {
        free(*slot);
        *slot = NULL;
        return RP_OK;
    }
    if (v->type != NODE_SCALAR || v->len == 0 || is_null(v)) {
        switch (d->type) {
        case V_PATH:
            return FAIL(ld, at, path, "expected a file path, got %s",
                        describe(v, got, sizeof(got)));
        case V_NAME:
            return FAIL(ld, at, path, "expected a tier name, got %s",
                        describe(v, got, sizeof(got)));
        case V_ENV:
            return FAIL(ld, at, path, "expected the name of an environment variable, got %s",
                        v->type == NODE_SCALAR ? "''" : describe(v, got, sizeof(got)));
        default:
            return FAIL(ld, at, path, "expected a string, got %s", describe(v, got, sizeof(got)));
        }
    }
    const char *s = v->str;
    char *val = NULL;
    if (d->type == V_NAME) {
        bool ok = v->len <= CFG_MAX_NAME;
        for (size_t i = 0; ok && i < v->len; i++)
            ok = isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_';
        if (!ok)
            return FAIL(ld, at, path,
                        "expected a tier name of letters, digits, '-' and '_' (at most %d), got %s",
                        CFG_MAX_NAME, describe(v, got, sizeof(got)));
    } else if (d->type == V_ENV) {
        bool ok = v->len <= 128 && (isalpha((unsigned char)s[0]) || s[0] == '_');
        for (size_t i = 1; ok && i < v->len; i++)
            ok = isalnum((unsigned char)s[i]) || s[i] == '_';
        /* The value is not repeated: a key pasted here must not reach a log. */
        if (!ok)
            return FAIL(ld, at, path,
                        "expected the name of an environment variable (letters, digits and '_'), "
                        "not the key itself");
    } else if (d->type == V_PATH) {
        const char *why = NULL;
        enum rp_err e = resolve_path(s, ld->base_dir, &val, &why);
        if (e == RP_ERR_NOMEM)
            return nomem(ld);
        if (e)
            return FAIL(ld, at, path, "%s", why);
    }
    if (!val && !(val = str_dup(s)))
        return nomem(ld);
    free(*slot);
    *slot = val;
    return RP_OK;
}

static enum rp_err set_urls(struct loader *ld, const struct node *at, const struct node *v,
                            const char *path, const struct key *d, struct rp_tier_config *t)
{
    char got[96];
    char ipath[CFG_PATH_MAX];
    const struct node *items = v;
    size_t n = 1;
    if (d->type == V_URLS) {
        if (v->type != NODE_SEQ || v->n == 0 || v->n > CFG_MAX_URLS)
            return FAIL(ld, at, path, "expected a list of 1 to %d URLs, got %s", CFG_MAX_URLS,
                        v->type == NODE_SEQ ? (v->n ? "more" : "an empty list")
                                            : describe(v, got, sizeof(got)));
        items = v->head;
        n = v->n;
    }
    char **urls = calloc(n, sizeof(*urls));
    if (!urls)
        return nomem(ld);
    enum rp_err rc = RP_OK;
    size_t i = 0;
    for (const struct node *u = items; i < n; u = u->next, i++) {
        const struct node *where = at;
        const char *p = path;
        if (d->type == V_URLS) {
            snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
            where = u;
            p = ipath;
        }
        bool oom = false;
        if (u->type == NODE_SCALAR)
            urls[i] = normalise_url(u->str, &oom);
        if (oom) {
            rc = nomem(ld);
            break;
        }
        if (!urls[i]) {
            rc = FAIL(ld, where, p, "expected an http:// or https:// URL, got %s",
                      describe(u, got, sizeof(got)));
            break;
        }
    }
    if (rc) {
        for (size_t j = 0; j < n; j++)
            free(urls[j]);
        free(urls);
        return rc;
    }
    tier_set_urls(t, urls, n);
    return RP_OK;
}

static enum rp_err parse_backend(struct loader *ld, const struct node *at, const struct node *v,
                                 const char *path, enum rp_backend_kind *out)
{
    static const enum rp_backend_kind kinds[] = {RP_BACKEND_EXTRACTIVE, RP_BACKEND_LLAMA,
                                                 RP_BACKEND_OPENAI};
    for (size_t i = 0; v->type == NODE_SCALAR && i < N_OF(kinds); i++) {
        if (!strcmp(v->str, rp_backend_kind_name(kinds[i]))) {
            *out = kinds[i];
            return RP_OK;
        }
    }
    char got[96];
    return FAIL(ld, at, path, "expected extractive, llama or openai, got %s",
                describe(v, got, sizeof(got)));
}

/* Checks and stores one value. at is the node errors point at (the key). */
static enum rp_err set_value(struct loader *ld, const struct node *at, const struct node *v,
                             const char *path, const struct key *d, char *base)
{
    void *slot = base + d->off;
    long long ll;
    double x;
    switch (d->type) {
    case V_INT:
    case V_SIZE:
        if (d->type == V_INT && !strcmp(d->name, "gpu_layers") && v->type == NODE_SCALAR && strcmp(v->str, "auto") == 0) {
            *(int *)slot = RP_GPU_LAYERS_AUTO;
            return RP_OK;
        }
        if (!parse_ll(v, &ll) || (double)ll < d->min || (double)ll > d->max)
            return bad_number(ld, at, v, path, d);
        if (d->type == V_INT)
            *(int *)slot = (int)ll;
        else
            *(size_t *)slot = (size_t)ll;
        return RP_OK;
    case V_FLOAT:
    case V_DOUBLE:
        if (!parse_double(v, &x) || x < d->min || x > d->max || (d->min_excluded && x <= d->min))
            return bad_number(ld, at, v, path, d);
        if (d->type == V_FLOAT)
            *(float *)slot = (float)x;
        else
            *(double *)slot = x;
        return RP_OK;
    case V_BOOL:
        if (!parse_bool(v, (int *)slot)) {
            char got[96];
            return FAIL(ld, at, path, "expected true or false, got %s",
                        describe(v, got, sizeof(got)));
        }
        return RP_OK;
    case V_U64:
        if (!parse_u64(v, (uint64_t *)slot)) {
            char got[96];
            return FAIL(ld, at, path, "expected an integer from 0 to %llu, got %s",
                        (unsigned long long)UINT64_MAX, describe(v, got, sizeof(got)));
        }
        return RP_OK;
    case V_STR:
    case V_PATH:
    case V_ENV:
    case V_NAME:
        return set_string(ld, at, v, path, d, (char **)slot);
    case V_BACKEND:
        return parse_backend(ld, at, v, path, (enum rp_backend_kind *)slot);
    case V_URL:
    case V_URLS:
        return set_urls(ld, at, v, path, d, (struct rp_tier_config *)(void *)base);
    case V_MAP:
        if (!is_null(v) && v->type != NODE_MAP) {
            char got[96];
            return FAIL(ld, at, path, "expected a mapping of settings, got %s",
                        describe(v, got, sizeof(got)));
        }
        return parse_section(ld, v, path, d->sub, base, 0, NULL);
    case V_TIERS:
        return parse_tiers(ld, at, v, path, (struct rp_config *)(void *)base);
    }
    return RP_OK;
}

static enum rp_err unknown_key(struct loader *ld, const struct node *k, const char *path,
                               const struct section *sec)
{
    if (!strcmp(k->str, "api_key"))
        return FAIL(ld, k, path,
                    "API keys are not read from configuration files; put the key in an "
                    "environment variable and name it with api_key_env");
    const char *best = NULL;
    size_t best_d = 3;
    if (k->len <= 64) {
        for (size_t i = 0; i < sec->n; i++) {
            size_t dist = edit_distance(k->str, sec->keys[i].name);
            if (dist < best_d) {
                best_d = dist;
                best = sec->keys[i].name;
            }
        }
    }
    char got[96];
    preview(k, got, sizeof(got));
    if (best)
        return FAIL(ld, k, path, "unknown key %s (did you mean '%s'?)", got, best);
    return FAIL(ld, k, path, "unknown key %s", got);
}

/* Walks map against sec, storing into base. For a tier, kind_bit is its
 * backend's bit and keys of other backends are refused. */
static enum rp_err parse_section(struct loader *ld, const struct node *map, const char *path,
                                 const struct section *sec, char *base, unsigned kind_bit,
                                 const char *kind_name)
{
    if (is_null(map))
        return RP_OK; /* "chunk:" with nothing under it: the defaults */
    if (map->type != NODE_MAP) {
        char got[96];
        return FAIL(ld, map, path, "expected a mapping of settings, got %s",
                    describe(map, got, sizeof(got)));
    }
    const struct node *seen[SECTION_MAX_KEYS] = {0};
    for (const struct node *k = map->head; k && k->next; k = k->next->next) {
        char kp[CFG_PATH_MAX];
        snprintf(kp, sizeof(kp), "%s%s%s", path, *path ? "." : "", k->str);
        size_t i = 0;
        while (i < sec->n && strcmp(sec->keys[i].name, k->str))
            i++;
        if (i == sec->n)
            return unknown_key(ld, k, kp, sec);
        if (seen[i])
            return FAIL(ld, k, kp, "duplicate key (first at line %zu)", seen[i]->line);
        seen[i] = k;
        const struct key *d = &sec->keys[i];
        if (kind_bit && !(d->kinds & kind_bit))
            return FAIL(ld, k, kp, "'%s' is a setting of %s, not of %s tiers", d->name,
                        kinds_text(d->kinds), kind_name);
        enum rp_err e = set_value(ld, k, k->next, kp, d, base);
        if (e)
            return e;
    }
    return RP_OK;
}

static enum rp_err parse_tier(struct loader *ld, const struct node *map, const char *path,
                              struct rp_tier_config *t)
{
    char got[96];
    char kp[CFG_PATH_MAX];
    if (map->type != NODE_MAP)
        return FAIL(ld, map, path, "expected a mapping with the tier's settings, got %s",
                    describe(map, got, sizeof(got)));
    /* The backend first: it decides which keys the tier may have. */
    const struct node *bk = NULL;
    const struct node *bv = find_key(map, "backend", &bk);
    if (!bv)
        return FAIL(ld, map, path, "missing 'backend' (extractive, llama or openai)");
    snprintf(kp, sizeof(kp), "%s.backend", path);
    enum rp_backend_kind kind;
    enum rp_err e = parse_backend(ld, bk, bv, kp, &kind);
    if (e)
        return e;
    tier_init(t, kind);
    e = parse_section(ld, map, path, &tier_section, (char *)t, KIND_BIT(kind),
                      rp_backend_kind_name(kind));
    if (e)
        return e;
    if (!t->name)
        return FAIL(ld, map, path, "missing 'name'");
    if (kind == RP_BACKEND_LLAMA) {
        if (!t->model)
            return FAIL(ld, map, path, "a llama tier needs 'model' (the GGUF file)");
        const struct node *ub = NULL;
        if (t->llama.n_ubatch > t->llama.n_batch) {
            if (!find_key(map, "ubatch", &ub))
                find_key(map, "batch", &ub);
            snprintf(kp, sizeof(kp), "%s.%s", path, ub->str);
            return FAIL(ld, ub, kp, "ubatch (%d) may not be larger than batch (%d)",
                        t->llama.n_ubatch, t->llama.n_batch);
        }
    } else if (kind == RP_BACKEND_OPENAI) {
        const struct node *k1 = NULL, *k2 = NULL;
        find_key(map, "base_url", &k1);
        find_key(map, "base_urls", &k2);
        if (k1 && k2) {
            const struct node *later =
                k1->line > k2->line || (k1->line == k2->line && k1->col > k2->col) ? k1 : k2;
            snprintf(kp, sizeof(kp), "%s.%s", path, later->str);
            return FAIL(ld, later, kp, "give either base_url or base_urls, not both");
        }
        if (!t->n_base_urls)
            return FAIL(ld, map, path, "an openai tier needs 'base_url' or 'base_urls'");
    }
    t->llama.model_path = t->model;
    return RP_OK;
}

static enum rp_err parse_tiers(struct loader *ld, const struct node *at, const struct node *v,
                               const char *path, struct rp_config *c)
{
    char got[96];
    char kp[CFG_PATH_MAX];
    if (v->type != NODE_SEQ)
        return FAIL(ld, at, path, "expected a list of tiers, got %s",
                    describe(v, got, sizeof(got)));
    if (v->n == 0)
        return FAIL(ld, at, path, "expected at least one tier, got an empty list");
    if (v->n > CFG_MAX_TIERS)
        return FAIL(ld, at, path, "at most %d tiers are allowed, got %zu", CFG_MAX_TIERS, v->n);
    free_tiers(c);
    c->tiers = calloc(v->n, sizeof(*c->tiers));
    if (!c->tiers)
        return nomem(ld);
    size_t i = 0;
    for (const struct node *tn = v->head; tn; tn = tn->next, i++) {
        snprintf(kp, sizeof(kp), "%s[%zu]", path, i);
        ld->tier_nodes[i] = tn;
        c->n_tiers = i + 1; /* released with c from here on */
        enum rp_err e = parse_tier(ld, tn, kp, &c->tiers[i]);
        if (e)
            return e;
        struct rp_tier_config *t = &c->tiers[i];
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(c->tiers[j].name, t->name)) {
                const struct node *nk = NULL;
                find_key(tn, "name", &nk);
                snprintf(kp, sizeof(kp), "%s[%zu].name", path, i);
                return FAIL(ld, nk, kp, "duplicate tier name '%s' (also %s[%zu])", t->name, path,
                            j);
            }
            if (t->kind == RP_BACKEND_EXTRACTIVE && c->tiers[j].kind == RP_BACKEND_EXTRACTIVE) {
                snprintf(kp, sizeof(kp), "%s[%zu]", path, i);
                return FAIL(ld, tn, kp, "only one extractive tier is allowed (also %s[%zu])", path,
                            j);
            }
        }
        if (t->kind == RP_BACKEND_EXTRACTIVE && i > 0) {
            snprintf(kp, sizeof(kp), "%s[%zu]", path, i);
            return FAIL(ld, tn, kp, "the extractive tier must be the first tier");
        }
    }
    return RP_OK;
}

/* The key node of a if the file set it, else that of b (NULL if neither). */
static const struct node *pick_key(const struct node *sec, const char *a, const char *b)
{
    const struct node *k = NULL;
    if (!find_key(sec, a, &k))
        find_key(sec, b, &k);
    return k;
}

/* Reports a check on two keys of section name at the key pick_key() finds
 * (the section's own node should neither be set, which the defaults rule out). */
static enum rp_err fail_pair(struct loader *ld, const struct node *root, const char *name,
                             const char *a, const char *b, const char *fmt, ...) CFG_PRINTF(6, 7);
static enum rp_err fail_pair(struct loader *ld, const struct node *root, const char *name,
                             const char *a, const char *b, const char *fmt, ...)
{
    const struct node *sk = NULL;
    const struct node *sec = find_key(root, name, &sk);
    const struct node *k = pick_key(sec, a, b);
    char path[CFG_PATH_MAX];
    char msg[RP_ERROR_MSG_MAX];
    snprintf(path, sizeof(path), "%s.%s", name, k ? k->str : a);
    if (!k)
        k = sk ? sk : root;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return FAIL(ld, k, path, "%s", msg);
}

/* Checks that involve more than one key of a section. */
static enum rp_err check_sections(struct loader *ld, const struct node *root,
                                  const struct rp_config *c)
{
    if (c->chunk.min_tokens > c->chunk.max_tokens)
        return fail_pair(ld, root, "chunk", "min_tokens", "max_tokens",
                         "min_tokens (%zu) may not be larger than max_tokens (%zu)",
                         c->chunk.min_tokens, c->chunk.max_tokens);
    if (c->chunk.overlap_tokens >= c->chunk.max_tokens)
        return fail_pair(ld, root, "chunk", "overlap_tokens", "max_tokens",
                         "overlap_tokens (%zu) must be smaller than max_tokens (%zu)",
                         c->chunk.overlap_tokens, c->chunk.max_tokens);
    if (c->retry.base_delay_s > c->retry.max_delay_s)
        return fail_pair(ld, root, "retry", "base_delay_s", "max_delay_s",
                         "base_delay_s (%g) may not be larger than max_delay_s (%g)",
                         c->retry.base_delay_s, c->retry.max_delay_s);
    const struct rp_complexity_params *w = &c->complexity;
    if (w->w_length + w->w_params + w->w_counters + w->w_terms + w->w_numeric + w->w_tables +
            w->w_depth + w->w_domain <=
        0.0f) {
        const struct node *wk = NULL;
        find_key(find_key(root, "complexity", NULL), "weights", &wk);
        return FAIL(ld, wk ? wk : root, "complexity.weights",
                    "at least one weight must be above 0");
    }
    if (c->quality.judge) {
        const struct rp_tier_config *t = rp_config_tier(c, c->quality.judge);
        const struct node *jk = NULL;
        find_key(find_key(root, "quality", NULL), "judge", &jk);
        if (!t)
            return FAIL(ld, jk ? jk : root, "quality.judge", "no tier is called '%s'", c->quality.judge);
        if (t->kind == RP_BACKEND_EXTRACTIVE)
            return FAIL(ld, jk ? jk : root, "quality.judge",
                        "tier '%s' is extractive; the judge must be an LLM tier", c->quality.judge);
    }
    if (c->quality.scorer.answer_min_chars > c->quality.scorer.answer_max_chars)
        return fail_pair(ld, root, "quality", "answer_min_chars", "answer_max_chars",
                         "answer_min_chars (%zu) may not be larger than answer_max_chars (%zu)",
                         c->quality.scorer.answer_min_chars, c->quality.scorer.answer_max_chars);
    const struct rp_quality_params *qw = &c->quality.scorer;
    if (qw->w_grounding + qw->w_support + qw->w_answerable <= 0.0) {
        const struct node *wk = NULL;
        find_key(find_key(root, "quality", NULL), "weights", &wk);
        return FAIL(ld, wk ? wk : root, "quality.weights",
                    "grounding, support or answerable must weigh above 0 (the other checks are optional)");
    }
    if (c->quality.scorer.question_min_chars > c->quality.scorer.question_max_chars)
        return fail_pair(ld, root, "quality", "question_min_chars", "question_max_chars",
                         "question_min_chars (%zu) may not be larger than question_max_chars (%zu)",
                         c->quality.scorer.question_min_chars, c->quality.scorer.question_max_chars);
    return RP_OK;
}

/* ---- the public functions ---- */

static void set_defaults(struct rp_config *c)
{
    memset(c, 0, sizeof(*c));
    c->chunk = rp_chunk_default_params();
    c->complexity = rp_complexity_default_params();
    c->ingest = rp_ingest_default_params();
    c->breaker.failures = 5;
    c->breaker.cooldown_s = 30.0;
    c->breaker.half_open_probes = 1;
    c->retry.attempts = 3;
    c->retry.base_delay_s = 0.5;
    c->retry.max_delay_s = 30.0;
    c->retry.deadline_s = 900.0;
    c->quality.scorer = rp_quality_default_params();
    c->quality.dedup = 1;
    c->route.adaptive = 0;
    c->route.target = 0.8;
    c->monitor.progress_interval_s = 10.0;
    c->monitor.alerts.min_pass_rate = 0.2;
    c->monitor.alerts.max_error_rate = 0.25;
    c->monitor.alerts.breaker_open = 1;
    c->monitor.alerts.min_samples = 20;
    c->quality.dedup_threshold = 0.8;
    c->quality.dedup_pair_threshold = 0.55;
    c->escalate = 1;
    c->seed = DEFAULT_SEED;
}

enum rp_err rp_config_default(struct rp_config *c, const char *model_path, const char *endpoint,
                              struct rp_error *err)
{
    enum rp_err rc = RP_OK;
    char *url = NULL;
    set_defaults(c);
    if (model_path && !*model_path)
        model_path = NULL;
    if (endpoint && !*endpoint)
        endpoint = NULL;
    if (endpoint) {
        bool oom = false;
        url = normalise_url(endpoint, &oom);
        if (oom) {
            rc = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (!url) {
            rc = rp_error_set(err, RP_ERR_INVAL,
                              "invalid endpoint '%s': expected http://host:port or "
                              "http://host:port/v1",
                              endpoint);
            goto out;
        }
    }
    size_t n = 1 + (model_path != NULL) + (endpoint != NULL);
    c->tiers = calloc(n, sizeof(*c->tiers));
    if (!c->tiers)
        goto nomem;
    tier_init(&c->tiers[0], RP_BACKEND_EXTRACTIVE);
    c->n_tiers = 1;
    if (!(c->tiers[0].name = str_dup("extractive")))
        goto nomem;
    if (model_path) {
        struct rp_tier_config *t = &c->tiers[c->n_tiers++];
        tier_init(t, RP_BACKEND_LLAMA);
        const char *why = NULL;
        rc = resolve_path(model_path, NULL, &t->model, &why);
        if (rc == RP_ERR_NOMEM)
            goto nomem;
        if (rc) {
            rc = rp_error_set(err, RP_ERR_INVAL, "invalid model path '%s': %s", model_path, why);
            goto out;
        }
        t->llama.model_path = t->model;
        if (!(t->name = str_dup("small")))
            goto nomem;
    }
    if (url) {
        struct rp_tier_config *t = &c->tiers[c->n_tiers++];
        tier_init(t, RP_BACKEND_OPENAI);
        if (!(t->base_urls = calloc(1, sizeof(*t->base_urls))))
            goto nomem;
        t->base_urls[0] = url;
        t->n_base_urls = 1;
        url = NULL;
        if (!(t->name = str_dup(model_path ? "medium" : "small")))
            goto nomem;
    }
    rc = assign_complexity(NULL, c);
    goto out;
nomem:
    rc = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
out:
    free(url);
    if (rc)
        rp_config_release(c);
    return rc;
}

/* rp_config_parse() with the directory relative paths are resolved
 * against (NULL: left as they are). */
static enum rp_err parse_config(const char *name, const char *base_dir, const char *yaml,
                                size_t len, struct rp_config *c, struct rp_error *err)
{
    struct loader ld = {.name = name, .base_dir = base_dir, .err = err};
    struct node *root = NULL;
    enum rp_err rc = rp_config_default(c, NULL, NULL, err);
    if (rc)
        return rc;
    rp_arena_init(&ld.arena);
    if (!(c->path = str_dup(name))) {
        rc = nomem(&ld);
        goto out;
    }
    if (len > CFG_MAX_BYTES) {
        rc = rp_error_set(err, RP_ERR_TOOBIG,
                          "%s: larger than the %zu byte limit of a "
                          "configuration file",
                          name, CFG_MAX_BYTES);
        goto out;
    }
    rc = build_tree(&ld, yaml, len, &root);
    if (rc || !root || is_null(root))
        goto out;
    if (root->type != NODE_MAP) {
        char got[96];
        rc = FAIL(&ld, root, NULL, "expected a mapping of settings at the top level, got %s",
                  describe(root, got, sizeof(got)));
        goto out;
    }
    rc = parse_section(&ld, root, "", &root_section, (char *)c, 0, NULL);
    if (!rc)
        rc = check_sections(&ld, root, c);
    if (!rc)
        rc = assign_complexity(&ld, c);
out:
    rp_arena_release(&ld.arena);
    if (rc)
        rp_config_release(c);
    return rc;
}

enum rp_err rp_config_parse(const char *name, const char *yaml, size_t len, struct rp_config *c,
                            struct rp_error *err)
{
    if (!yaml)
        len = 0;
    return parse_config(name ? name : "<config>", NULL, yaml ? yaml : "", len, c, err);
}

enum rp_err rp_config_load(const char *path, struct rp_config *c, struct rp_error *err)
{
    struct rp_buf b;
    char *dir = NULL;
    enum rp_err rc;
    memset(c, 0, sizeof(*c));
    rp_buf_init(&b, CFG_MAX_BYTES);
    rc = rp_buf_read_file(&b, path, err);
    if (rc)
        goto out;
    const char *slash = strrchr(path, '/');
    if (slash && !(dir = str_ndup(path, slash == path ? 1 : (size_t)(slash - path)))) {
        rc = rp_error_set(err, RP_ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = parse_config(path, dir, b.data, b.len, c, err);
out:
    free(dir);
    rp_buf_release(&b);
    return rc;
}

void rp_config_release(struct rp_config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->quality.embed_model);
    free(c->quality.judge);
    free_tiers(c);
    memset(c, 0, sizeof(*c));
}

const struct rp_tier_config *rp_config_tier(const struct rp_config *c, const char *name)
{
    if (!c || !name)
        return NULL;
    for (size_t i = 0; i < c->n_tiers; i++)
        if (c->tiers[i].name && !strcmp(c->tiers[i].name, name))
            return &c->tiers[i];
    return NULL;
}

const char *rp_backend_kind_name(enum rp_backend_kind k)
{
    switch (k) {
    case RP_BACKEND_EXTRACTIVE:
        return "extractive";
    case RP_BACKEND_LLAMA:
        return "llama";
    case RP_BACKEND_OPENAI:
        return "openai";
    }
    return "unknown";
}
