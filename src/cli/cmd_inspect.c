/*
 * cmd_inspect.c - `ranpipe inspect`: what ingest and the chunker make of files.
 *
 * Each document is shown with its chunks and the complexity of each chunk
 * and of the whole document (default complexity parameters). Reals in the
 * JSON are rounded to 3 decimals and printed with 10 significant digits,
 * so the output (and the golden files made from it) is stable.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "ranpipe/chunk.h"
#include "ranpipe/complexity.h"
#include "ranpipe/hash.h"
#include "ranpipe/ingest.h"
#include "ranpipe/llm.h"
#include "ranpipe/log.h"

void rp_cmd_inspect_help(void)
{
    struct rp_chunk_params d = rp_chunk_default_params();
    printf("usage: ranpipe inspect [OPTIONS] FILE...\n"
           "\n"
           "Parses each FILE and shows its document model (title, metadata, sections,\n"
           "blocks, tables, parameter records, RAN entities) and the chunks it would be\n"
           "split into, with token counts and complexity scores. FILE may be Markdown,\n"
           "text, HTML, CSV, DOCX, PDF, or a ZIP archive of them (each document in it\n"
           "is shown, named ARCHIVE!/MEMBER).\n"
           "Prints JSON (one object per document, one per line) when --json is given or\n"
           "standard output is not a terminal, and a readable summary otherwise.\n"
           "\n"
           "Options:\n"
           "      --json             print JSON even on a terminal\n"
           "  -m, --model PATH       count tokens with this GGUF model's tokenizer\n"
           "                         (default: a calibrated estimate)\n"
           "      --chunk-tokens N   maximum tokens per chunk (default: %zu)\n"
           "      --chunk-overlap N  tokens repeated between chunks (default: %zu)\n"
           "      --log-level L      debug, info, warn, error (default: info)\n"
           "      --log-format F     text or json lines (default: text)\n"
           "  -h, --help             show this help\n"
           "\n"
           "Exit status: 0 when every file was read, 1 when any failed (each failure\n"
           "is reported and the other files are still shown), 2 for a usage error.\n",
           d.max_tokens, d.overlap_tokens);
}

enum { OPT_JSON = 256, OPT_CHUNK_TOKENS, OPT_CHUNK_OVERLAP };

static const struct option inspect_options[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"model", required_argument, NULL, 'm'},
    {"chunk-tokens", required_argument, NULL, OPT_CHUNK_TOKENS},
    {"chunk-overlap", required_argument, NULL, OPT_CHUNK_OVERLAP},
    RP_CLI_LOG_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static json_t *table_json(const struct rp_table *t)
{
    json_t *o = json_object();
    json_t *header = json_array(), *rows = json_array();
    for (size_t r = 0; r < t->n_rows; r++) {
        json_t *row = json_array();
        for (size_t c = 0; c < t->n_cols; c++)
            json_array_append_new(row, json_string(t->cells[r * t->n_cols + c]));
        json_array_append_new(r < t->n_header ? header : rows, row);
    }
    json_object_set_new(o, "header", header);
    json_object_set_new(o, "rows", rows);
    return o;
}

/* A real rounded to 3 decimals. */
static json_t *real3(double x)
{
    return json_real(round(x * 1000.0) / 1000.0);
}

static json_t *complexity_json(const struct rp_complexity *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "score", real3(c->score));
    json_object_set_new(o, "tokens", json_integer((json_int_t)c->tokens));
    json_object_set_new(o, "param_density", real3(c->param_density));
    json_object_set_new(o, "counter_density", real3(c->counter_density));
    json_object_set_new(o, "term_density", real3(c->term_density));
    json_object_set_new(o, "numeric_density", real3(c->numeric_density));
    json_object_set_new(o, "table_share", real3(c->table_share));
    json_object_set_new(o, "depth", json_integer(c->depth));
    json_object_set_new(o, "domain", real3(c->domain));
    return o;
}

static json_t *doc_json(const struct rp_doc *doc, const struct rp_chunk_list *chunks)
{
    struct rp_complexity_params cxp = rp_complexity_default_params();
    json_t *o = json_object();
    json_object_set_new(o, "path", json_string(doc->path));
    json_object_set_new(o, "format", json_string(rp_doc_format_name(doc->format)));
    json_object_set_new(o, "title", json_string(doc->title));
    json_t *meta = json_object();
    for (size_t i = 0; i < doc->n_meta; i++)
        json_object_set_new(meta, doc->meta[i].key, json_string(doc->meta[i].value));
    json_object_set_new(o, "metadata", meta);
    json_t *secs = json_array();
    for (size_t i = 0; i < doc->n_sections; i++) {
        const struct rp_section *s = &doc->sections[i];
        json_array_append_new(secs, json_pack("{s:s,s:i,s:i,s:I}", "title", s->title, "level",
                                              s->level, "parent", s->parent, "line",
                                              (json_int_t)s->line));
    }
    json_object_set_new(o, "sections", secs);
    json_t *blocks = json_array();
    for (size_t i = 0; i < doc->n_blocks; i++) {
        const struct rp_block *b = &doc->blocks[i];
        json_t *jb = json_pack("{s:s,s:i,s:I,s:s}", "type", rp_block_type_name(b->type), "section",
                               b->section, "line", (json_int_t)b->line, "text", b->text);
        if (b->page)
            json_object_set_new(jb, "page", json_integer(b->page));
        if (b->table)
            json_object_set_new(jb, "table", table_json(b->table));
        json_array_append_new(blocks, jb);
    }
    json_object_set_new(o, "blocks", blocks);
    json_t *params = json_array();
    for (size_t i = 0; i < doc->n_params; i++) {
        const struct rp_param *p = &doc->params[i];
        json_t *jp = json_object();
        const char *keys[] = {"mo_class", "name", "type", "range", "default", "unit", "description"};
        const char *vals[] = {p->mo_class, p->name, p->type, p->range, p->default_value, p->unit,
                              p->description};
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
            if (vals[k])
                json_object_set_new(jp, keys[k], json_string(vals[k]));
        json_object_set_new(jp, "block", json_integer(p->block));
        json_object_set_new(jp, "row", json_integer((json_int_t)p->row));
        json_array_append_new(params, jp);
    }
    json_object_set_new(o, "parameters", params);
    json_t *ents = json_array();
    for (size_t i = 0; i < doc->n_entities; i++) {
        const struct rp_entity *e = &doc->entities[i];
        json_t *je = json_pack("{s:s,s:s,s:s,s:i,s:i,s:I,s:I}", "type", rp_entity_type_name(e->type),
                               "text", e->text, "norm", e->norm ? e->norm : e->text, "block",
                               e->block, "section", e->section, "offset", (json_int_t)e->offset,
                               "length", (json_int_t)e->len);
        if (e->expansion)
            json_object_set_new(je, "expansion", json_string(e->expansion));
        json_array_append_new(ents, je);
    }
    json_object_set_new(o, "entities", ents);
    json_t *jc = json_array();
    for (size_t i = 0; i < chunks->n; i++) {
        const struct rp_chunk *c = &chunks->items[i];
        char id[17];
        rp_hash_hex(c->hash, id);
        json_t *jch = json_pack("{s:I,s:s,s:s,s:I,s:I,s:s}", "index", (json_int_t)c->index, "id", id,
                                "section", c->heading_path, "tokens", (json_int_t)c->n_tokens, "line",
                                (json_int_t)c->line, "text", c->text);
        struct rp_complexity cx;
        rp_complexity_chunk(doc, c, &cxp, &cx);
        json_object_set_new(jch, "complexity", complexity_json(&cx));
        json_array_append_new(jc, jch);
    }
    json_object_set_new(o, "chunks", jc);
    struct rp_complexity dcx;
    rp_complexity_doc(doc, chunks, &cxp, &dcx);
    json_object_set_new(o, "complexity", complexity_json(&dcx));
    return o;
}

static void print_readable(const struct rp_doc *doc, const struct rp_chunk_list *chunks)
{
    size_t by_type[4] = {0};
    for (size_t i = 0; i < doc->n_blocks; i++)
        by_type[doc->blocks[i].type]++;
    printf("%s\n  format %s, title \"%s\"\n", doc->path, rp_doc_format_name(doc->format), doc->title);
    for (size_t i = 0; i < doc->n_meta; i++)
        printf("  meta %s: %s\n", doc->meta[i].key, doc->meta[i].value);
    printf("  %zu sections; %zu blocks: %zu paragraphs, %zu tables, %zu lists, %zu code\n",
           doc->n_sections - 1, doc->n_blocks, by_type[RP_BLOCK_PARAGRAPH], by_type[RP_BLOCK_TABLE],
           by_type[RP_BLOCK_LIST], by_type[RP_BLOCK_CODE]);
    for (size_t i = 1; i < doc->n_sections; i++)
        printf("  %*s%s\n", 2 * (doc->sections[i].level - 1), "", doc->sections[i].title);
    if (doc->n_params)
        printf("  %zu parameter records\n", doc->n_params);
    if (doc->n_entities) {
        size_t by[RP_ENTITY__COUNT] = {0};
        for (size_t i = 0; i < doc->n_entities; i++)
            by[doc->entities[i].type]++;
        printf("  %zu entities:", doc->n_entities);
        for (int t = 0; t < RP_ENTITY__COUNT; t++)
            if (by[t])
                printf(" %zu %s", by[t], rp_entity_type_name((enum rp_entity_type)t));
        printf("\n");
    }
    struct rp_complexity_params cxp = rp_complexity_default_params();
    struct rp_complexity dcx;
    rp_complexity_doc(doc, chunks, &cxp, &dcx);
    printf("  complexity %.2f (token-weighted mean over %zu chunks)\n", dcx.score, chunks->n);
    printf("  %zu chunks:\n", chunks->n);
    for (size_t i = 0; i < chunks->n; i++) {
        const struct rp_chunk *c = &chunks->items[i];
        struct rp_complexity cx;
        rp_complexity_chunk(doc, c, &cxp, &cx);
        printf("    #%zu  %4zu tokens  complexity %.2f  line %-5zu %s\n", c->index, c->n_tokens,
               cx.score, c->line, c->heading_path[0] ? c->heading_path : "(preamble)");
    }
}

struct inspect_ctx {
    const struct rp_chunk_params *cp;
    struct rp_llama *m;
    int json;
    int status;
};

/* Shows one document of an input (or why it could not be read). */
static enum rp_err inspect_sink(struct rp_doc *doc, const struct rp_error *err, const char *path,
                                void *ud)
{
    struct inspect_ctx *ctx = ud;
    if (!doc) {
        fprintf(stderr, "ranpipe inspect: %s\n", err->msg);
        ctx->status = RP_EXIT_FAIL;
        return RP_OK;
    }
    struct rp_chunk_list chunks;
    rp_chunk_list_init(&chunks);
    struct rp_error cerr;
    rp_error_clear(&cerr);
    if (rp_chunk_doc(doc, ctx->cp, ctx->m ? rp_llama_count_tokens : NULL, ctx->m, &chunks, &cerr)) {
        fprintf(stderr, "ranpipe inspect: cannot chunk '%s': %s\n", path, cerr.msg);
        ctx->status = RP_EXIT_FAIL;
    } else if (ctx->json) {
        json_t *o = doc_json(doc, &chunks);
        char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
        if (s)
            puts(s);
        free(s);
        json_decref(o);
    } else {
        print_readable(doc, &chunks);
    }
    rp_chunk_list_release(&chunks);
    rp_doc_free(doc);
    return RP_OK;
}

int rp_cmd_inspect(int argc, char **argv)
{
    struct rp_chunk_params cp = rp_chunk_default_params();
    struct rp_ingest_params ip = rp_ingest_default_params();
    const char *model_path = NULL;
    int json = !isatty(STDOUT_FILENO);
    long v;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":m:h", inspect_options, NULL)) != -1) {
        switch (c) {
        case OPT_JSON:
            json = 1;
            break;
        case 'm':
            model_path = optarg;
            break;
        case OPT_CHUNK_TOKENS:
            if (!rp_cli_opt_long("inspect", "--chunk-tokens", optarg, 16, 1 << 20, &v))
                return RP_EXIT_USAGE;
            cp.max_tokens = (size_t)v;
            if (cp.min_tokens > cp.max_tokens / 2)
                cp.min_tokens = cp.max_tokens / 2;
            break;
        case OPT_CHUNK_OVERLAP:
            if (!rp_cli_opt_long("inspect", "--chunk-overlap", optarg, 0, 1 << 20, &v))
                return RP_EXIT_USAGE;
            cp.overlap_tokens = (size_t)v;
            break;
        case RP_CLI_OPT_LOG_LEVEL:
        case RP_CLI_OPT_LOG_FORMAT:
            if (!rp_cli_log_option("inspect", c, optarg))
                return RP_EXIT_USAGE;
            break;
        case 'h':
            rp_cmd_inspect_help();
            return RP_EXIT_OK;
        default:
            return rp_cli_bad_option("inspect", c, argv);
        }
    }
    if (optind >= argc)
        return rp_cli_usage_error("inspect", "no file given");

    struct rp_llama *m = NULL;
    if (model_path) {
        struct rp_llama_params lp = rp_llama_default_params();
        lp.model_path = model_path;
        lp.n_parallel = 1;
        lp.n_ctx_seq = 512;
        struct rp_error err;
        m = rp_llama_new(&lp, &err);
        if (!m) {
            fprintf(stderr, "ranpipe inspect: %s\n", err.msg);
            return RP_EXIT_FAIL;
        }
    }
    struct inspect_ctx ctx = {.cp = &cp, .m = m, .json = json, .status = RP_EXIT_OK};
    for (int i = optind; i < argc; i++)
        rp_ingest_path(argv[i], &ip, inspect_sink, &ctx);
    int status = ctx.status;
    rp_llama_free(m);
    return status;
}
