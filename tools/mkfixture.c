/*
 * mkfixture.c - writes random-weight Qwen3 GGUF models for tests and benchmarks.
 *
 * The models have general.architecture = qwen3, the real Qwen tokenizer (every
 * tokenizer.* key copied from llama.cpp's models/ggml-vocab-qwen2.gguf) and a
 * ChatML chat template, so everything around the weights - tokenizing, chat
 * formatting, grammars, batching, timing - behaves as with a real Qwen3 model.
 * The weights are random (seeded, reproducible): the text they produce is noise.
 *
 * Presets:
 *   tiny   2 layers, d_model 64, 4 heads / 2 KV heads, head_dim 16, ffn 192
 *   0.6b   the shape of Qwen3-0.6B: 28 layers, d_model 1024, 16 heads / 8 KV
 *          heads, head_dim 128, ffn 3072
 *   embed  the tiny shape as an embedding model, declared the way
 *          Qwen3-Embedding's GGUFs declare it: qwen3.pooling_type = last and
 *          tokenizer.ggml.add_eos_token = true with <|endoftext|> as EOS (the
 *          tokenizer appends it, and its hidden state is the embedding);
 *          2048-token context
 *
 * --pooling none|mean|cls|last overrides the preset's pooling_type key
 * (none: no key, as in the generative presets).
 *
 * The file is streamed: the GGUF header is written first, then each tensor is
 * generated, converted (F16) or quantized (Q8_0, Q4_0) and written in turn,
 * so memory stays at one tensor even for the 0.6B shape.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ggml.h>
#include <gguf.h>

#include "ranpipe/hash.h"

struct shape {
    const char *name;
    int n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, n_ctx;
    int pooling;  /* qwen3.pooling_type (llama_pooling_type values), -1: no key */
    bool add_eos; /* an embedding model's tokenizer appends <|endoftext|> */
};

/* llama.cpp's enum llama_pooling_type values, as stored in the GGUF key. */
enum { POOL_NONE_KEY = -1, POOL_MEAN = 1, POOL_CLS = 2, POOL_LAST = 3 };

static const struct shape presets[] = {
    {"tiny", 2, 64, 4, 2, 16, 192, 4096, POOL_NONE_KEY, false},
    {"0.6b", 28, 1024, 16, 8, 128, 3072, 32768, POOL_NONE_KEY, false},
    {"embed", 2, 64, 4, 2, 16, 192, 2048, POOL_LAST, true},
};

static const char chatml_template[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] "
    "+ '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' "
    "}}{% endif %}";

static void usage(FILE *f)
{
    fprintf(f, "usage: ranpipe-mkfixture --vocab ggml-vocab-qwen2.gguf --preset tiny|0.6b|embed\n"
               "                         [--type f16|q8_0|q4_0] [--pooling none|mean|cls|last]\n"
               "                         [--seed N] -o OUT.gguf\n");
}

/* The id of the token whose text is exactly text in src's vocabulary, or -1. */
static int64_t find_token(const struct gguf_context *src, const char *text)
{
    int64_t k = gguf_find_key(src, "tokenizer.ggml.tokens");
    if (k < 0)
        return -1;
    size_t n = gguf_get_arr_n(src, k);
    for (size_t i = 0; i < n; i++)
        if (strcmp(gguf_get_arr_str(src, k, i), text) == 0)
            return (int64_t)i;
    return -1;
}

/* Copies every tokenizer.* key of src into dst. */
static bool copy_tokenizer(struct gguf_context *dst, const struct gguf_context *src, int64_t *n_vocab)
{
    *n_vocab = 0;
    for (int64_t i = 0; i < gguf_get_n_kv(src); i++) {
        const char *key = gguf_get_key(src, i);
        if (strncmp(key, "tokenizer.", 10) != 0)
            continue;
        enum gguf_type t = gguf_get_kv_type(src, i);
        switch (t) {
        case GGUF_TYPE_UINT32:
            gguf_set_val_u32(dst, key, gguf_get_val_u32(src, i));
            break;
        case GGUF_TYPE_INT32:
            gguf_set_val_i32(dst, key, gguf_get_val_i32(src, i));
            break;
        case GGUF_TYPE_BOOL:
            gguf_set_val_bool(dst, key, gguf_get_val_bool(src, i));
            break;
        case GGUF_TYPE_STRING:
            gguf_set_val_str(dst, key, gguf_get_val_str(src, i));
            break;
        case GGUF_TYPE_FLOAT32:
            gguf_set_val_f32(dst, key, gguf_get_val_f32(src, i));
            break;
        case GGUF_TYPE_ARRAY: {
            enum gguf_type at = gguf_get_arr_type(src, i);
            size_t n = gguf_get_arr_n(src, i);
            if (strcmp(key, "tokenizer.ggml.tokens") == 0)
                *n_vocab = (int64_t)n;
            if (at == GGUF_TYPE_STRING) {
                const char **strs = malloc(n * sizeof(*strs));
                if (!strs)
                    return false;
                for (size_t k = 0; k < n; k++)
                    strs[k] = gguf_get_arr_str(src, i, k);
                gguf_set_arr_str(dst, key, strs, n);
                free(strs);
            } else {
                gguf_set_arr_data(dst, key, at, gguf_get_arr_data(src, i), n);
            }
            break;
        }
        default:
            fprintf(stderr, "ranpipe-mkfixture: skipping tokenizer key '%s' of type %s\n", key,
                    gguf_type_name(t));
            break;
        }
    }
    return *n_vocab > 0;
}

struct tensor_plan {
    struct ggml_tensor *t;
    float std;  /* 0: all ones (norm weights) */
};

int main(int argc, char **argv)
{
    const char *vocab_path = NULL, *out_path = NULL, *preset = "tiny", *type_name = "f16";
    const char *pooling_name = NULL;
    uint64_t seed = 42;
    static const struct option opts[] = {
        {"vocab", required_argument, NULL, 'v'}, {"preset", required_argument, NULL, 'p'},
        {"type", required_argument, NULL, 't'},  {"seed", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},   {"help", no_argument, NULL, 'h'},
        {"pooling", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "v:p:t:s:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            vocab_path = optarg;
            break;
        case 'p':
            preset = optarg;
            break;
        case 't':
            type_name = optarg;
            break;
        case 's': {
            char *end;
            errno = 0;
            seed = strtoull(optarg, &end, 0);
            if (errno || *end) {
                fprintf(stderr, "ranpipe-mkfixture: bad seed '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case 'o':
            out_path = optarg;
            break;
        case 'P':
            pooling_name = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!vocab_path || !out_path) {
        usage(stderr);
        return 2;
    }
    const struct shape *sh = NULL;
    for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
        if (strcmp(presets[i].name, preset) == 0)
            sh = &presets[i];
    if (!sh) {
        fprintf(stderr, "ranpipe-mkfixture: unknown preset '%s' (tiny, 0.6b, embed)\n", preset);
        return 2;
    }
    int pooling = sh->pooling;
    if (pooling_name) {
        static const struct {
            const char *name;
            int value;
        } pools[] = {
            {"none", POOL_NONE_KEY}, {"mean", POOL_MEAN}, {"cls", POOL_CLS}, {"last", POOL_LAST}};
        size_t k = 0, np_ = sizeof(pools) / sizeof(pools[0]);
        while (k < np_ && strcmp(pools[k].name, pooling_name) != 0)
            k++;
        if (k == np_) {
            fprintf(stderr, "ranpipe-mkfixture: unknown pooling '%s' (none, mean, cls, last)\n",
                    pooling_name);
            return 2;
        }
        pooling = pools[k].value;
    }
    enum ggml_type wtype;
    uint32_t file_type;
    if (strcmp(type_name, "f16") == 0) {
        wtype = GGML_TYPE_F16;
        file_type = 1; /* LLAMA_FTYPE_MOSTLY_F16 */
    } else if (strcmp(type_name, "q8_0") == 0) {
        wtype = GGML_TYPE_Q8_0;
        file_type = 7;
    } else if (strcmp(type_name, "q4_0") == 0) {
        wtype = GGML_TYPE_Q4_0;
        file_type = 2;
    } else {
        fprintf(stderr, "ranpipe-mkfixture: unknown type '%s' (f16, q8_0, q4_0)\n", type_name);
        return 2;
    }

    int rc = 1;
    FILE *out = NULL;
    struct gguf_context *gout = NULL, *gvocab = NULL;
    struct ggml_context *ctx = NULL;
    struct tensor_plan *plan = NULL;
    float *src = NULL;
    void *dst = NULL;
    char tmp_path[4096];
    snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", out_path);

    struct gguf_init_params gp = {.no_alloc = true, .ctx = NULL};
    gvocab = gguf_init_from_file(vocab_path, gp);
    if (!gvocab) {
        fprintf(stderr, "ranpipe-mkfixture: cannot read '%s' as GGUF\n", vocab_path);
        goto out;
    }
    gout = gguf_init_empty();
    int64_t n_vocab;
    if (!copy_tokenizer(gout, gvocab, &n_vocab)) {
        fprintf(stderr, "ranpipe-mkfixture: '%s' has no tokenizer.ggml.tokens\n", vocab_path);
        goto out;
    }
    char name[128];
    snprintf(name, sizeof(name), "ranpipe-fixture-qwen3-%s-%s", sh->name, type_name);
    /* Named with its pooling when it differs from the preset's. */
    if (pooling_name && pooling != sh->pooling) {
        size_t len = strlen(name);
        snprintf(name + len, sizeof(name) - len, "-%s", pooling_name);
    }
    gguf_set_val_str(gout, "general.architecture", "qwen3");
    gguf_set_val_str(gout, "general.name", name);
    gguf_set_val_u32(gout, "general.file_type", file_type);
    gguf_set_val_u32(gout, "general.quantization_version", 2);
    gguf_set_val_u32(gout, "qwen3.block_count", (uint32_t)sh->n_layer);
    gguf_set_val_u32(gout, "qwen3.context_length", (uint32_t)sh->n_ctx);
    gguf_set_val_u32(gout, "qwen3.embedding_length", (uint32_t)sh->n_embd);
    gguf_set_val_u32(gout, "qwen3.feed_forward_length", (uint32_t)sh->n_ff);
    gguf_set_val_u32(gout, "qwen3.attention.head_count", (uint32_t)sh->n_head);
    gguf_set_val_u32(gout, "qwen3.attention.head_count_kv", (uint32_t)sh->n_head_kv);
    gguf_set_val_u32(gout, "qwen3.attention.key_length", (uint32_t)sh->head_dim);
    gguf_set_val_u32(gout, "qwen3.attention.value_length", (uint32_t)sh->head_dim);
    gguf_set_val_f32(gout, "qwen3.attention.layer_norm_rms_epsilon", 1e-6f);
    gguf_set_val_f32(gout, "qwen3.rope.freq_base", 1000000.0f);
    gguf_set_val_str(gout, "tokenizer.chat_template", chatml_template);
    if (pooling != POOL_NONE_KEY)
        gguf_set_val_u32(gout, "qwen3.pooling_type", (uint32_t)pooling);
    if (sh->add_eos) {
        int64_t eot = find_token(gvocab, "<|endoftext|>");
        if (eot < 0) {
            fprintf(stderr, "ranpipe-mkfixture: '%s' has no <|endoftext|> token\n", vocab_path);
            goto out;
        }
        gguf_set_val_u32(gout, "tokenizer.ggml.eos_token_id", (uint32_t)eot);
        gguf_set_val_bool(gout, "tokenizer.ggml.add_eos_token", true);
    }

    size_t n_tensors = 2 + (size_t)sh->n_layer * 11;
    struct ggml_init_params ip = {
        .mem_size = n_tensors * ggml_tensor_overhead() + 1024,
        .mem_buffer = NULL,
        .no_alloc = true,
    };
    ctx = ggml_init(ip);
    plan = calloc(n_tensors, sizeof(*plan));
    if (!ctx || !plan)
        goto out;
    size_t np = 0;
    const int q_dim = sh->n_head * sh->head_dim, kv_dim = sh->n_head_kv * sh->head_dim;
#define ADD(nm, type, ne0, ne1, sd)                                                                \
    do {                                                                                           \
        struct ggml_tensor *t_ = (ne1) > 1 ? ggml_new_tensor_2d(ctx, type, ne0, ne1)               \
                                           : ggml_new_tensor_1d(ctx, type, ne0);                   \
        ggml_set_name(t_, nm);                                                                     \
        plan[np].t = t_;                                                                           \
        plan[np].std = (sd);                                                                       \
        np++;                                                                                      \
        gguf_add_tensor(gout, t_);                                                                 \
    } while (0)
    /* The output projection is tied to the embeddings (as in Qwen3-0.6B). */
    ADD("token_embd.weight", wtype, sh->n_embd, n_vocab, 0.02f);
    ADD("output_norm.weight", GGML_TYPE_F32, sh->n_embd, 1, 0.0f);
    for (int l = 0; l < sh->n_layer; l++) {
        char nm[64];
        float sd_in = 1.0f / sqrtf((float)sh->n_embd);
        snprintf(nm, sizeof(nm), "blk.%d.attn_norm.weight", l);
        ADD(nm, GGML_TYPE_F32, sh->n_embd, 1, 0.0f);
        snprintf(nm, sizeof(nm), "blk.%d.attn_q.weight", l);
        ADD(nm, wtype, sh->n_embd, q_dim, sd_in);
        snprintf(nm, sizeof(nm), "blk.%d.attn_k.weight", l);
        ADD(nm, wtype, sh->n_embd, kv_dim, sd_in);
        snprintf(nm, sizeof(nm), "blk.%d.attn_v.weight", l);
        ADD(nm, wtype, sh->n_embd, kv_dim, sd_in);
        snprintf(nm, sizeof(nm), "blk.%d.attn_output.weight", l);
        ADD(nm, wtype, q_dim, sh->n_embd, 1.0f / sqrtf((float)q_dim));
        snprintf(nm, sizeof(nm), "blk.%d.attn_q_norm.weight", l);
        ADD(nm, GGML_TYPE_F32, sh->head_dim, 1, 0.0f);
        snprintf(nm, sizeof(nm), "blk.%d.attn_k_norm.weight", l);
        ADD(nm, GGML_TYPE_F32, sh->head_dim, 1, 0.0f);
        snprintf(nm, sizeof(nm), "blk.%d.ffn_norm.weight", l);
        ADD(nm, GGML_TYPE_F32, sh->n_embd, 1, 0.0f);
        snprintf(nm, sizeof(nm), "blk.%d.ffn_gate.weight", l);
        ADD(nm, wtype, sh->n_embd, sh->n_ff, sd_in);
        snprintf(nm, sizeof(nm), "blk.%d.ffn_up.weight", l);
        ADD(nm, wtype, sh->n_embd, sh->n_ff, sd_in);
        snprintf(nm, sizeof(nm), "blk.%d.ffn_down.weight", l);
        ADD(nm, wtype, sh->n_ff, sh->n_embd, 1.0f / sqrtf((float)sh->n_ff));
    }
#undef ADD

    out = fopen(tmp_path, "wb");
    if (!out) {
        fprintf(stderr, "ranpipe-mkfixture: cannot create '%s': %s\n", tmp_path, strerror(errno));
        goto out;
    }
    size_t meta_size = gguf_get_meta_size(gout);
    void *meta = malloc(meta_size);
    if (!meta)
        goto out;
    gguf_get_meta_data(gout, meta);
    size_t wrote = fwrite(meta, 1, meta_size, out);
    free(meta);
    if (wrote != meta_size)
        goto write_error;

    const size_t align = gguf_get_alignment(gout);
    struct rp_rng rng;
    rp_rng_seed(&rng, seed);
    static const char zeros[64];
    for (size_t i = 0; i < np; i++) {
        struct ggml_tensor *t = plan[i].t;
        int64_t n_per_row = t->ne[0], nrows = t->ne[1];
        /* Generate and convert a block of rows at a time. */
        int64_t rows_per_step = (1 << 20) / n_per_row;
        if (rows_per_step < 1)
            rows_per_step = 1;
        free(src);
        free(dst);
        src = malloc((size_t)(rows_per_step * n_per_row) * sizeof(float));
        dst = malloc(ggml_row_size(t->type, n_per_row) * (size_t)rows_per_step);
        if (!src || !dst)
            goto out;
        size_t written = 0;
        for (int64_t r0 = 0; r0 < nrows; r0 += rows_per_step) {
            int64_t nr = nrows - r0 < rows_per_step ? nrows - r0 : rows_per_step;
            int64_t n = nr * n_per_row;
            float amp = plan[i].std * 1.7320508f; /* uniform(-a, a) has std a/sqrt(3) */
            for (int64_t k = 0; k < n; k++)
                src[k] = plan[i].std == 0.0f ? 1.0f
                                             : (float)(rp_rng_uniform(&rng) * 2.0 - 1.0) * amp;
            size_t bytes;
            const void *data;
            if (t->type == GGML_TYPE_F32) {
                bytes = (size_t)n * sizeof(float);
                data = src;
            } else if (t->type == GGML_TYPE_F16) {
                ggml_fp32_to_fp16_row(src, dst, n);
                bytes = (size_t)n * sizeof(ggml_fp16_t);
                data = dst;
            } else {
                bytes = ggml_quantize_chunk(t->type, src, dst, 0, nr, n_per_row, NULL);
                data = dst;
            }
            if (fwrite(data, 1, bytes, out) != bytes)
                goto write_error;
            written += bytes;
        }
        size_t pad = GGML_PAD(written, align) - written;
        if (pad && fwrite(zeros, 1, pad, out) != pad)
            goto write_error;
    }
    if (fclose(out) != 0) {
        out = NULL;
        goto write_error;
    }
    out = NULL;
    if (rename(tmp_path, out_path) != 0) {
        fprintf(stderr, "ranpipe-mkfixture: cannot rename '%s': %s\n", tmp_path, strerror(errno));
        goto out;
    }
    printf("wrote %s (%s, %s, %lld-token vocabulary)\n", out_path, sh->name, type_name,
           (long long)n_vocab);
    rc = 0;
    goto out;
write_error:
    fprintf(stderr, "ranpipe-mkfixture: cannot write '%s': %s\n", tmp_path, strerror(errno));
out:
    if (out)
        fclose(out);
    if (rc)
        remove(tmp_path);
    free(src);
    free(dst);
    free(plan);
    if (ctx)
        ggml_free(ctx);
    if (gout)
        gguf_free(gout);
    if (gvocab)
        gguf_free(gvocab);
    return rc;
}
