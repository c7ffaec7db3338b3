/*
 * prompt.c - QA prompt text and its bounded GBNF grammar.
 */
#include "ranpipe/prompt.h"

const char *const rp_qa_types[] = {"factual",   "definition", "parameter",       "procedure",
                                   "comparison", "troubleshooting", NULL};

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

const char *rp_prompt_qa_system(void)
{
    return "You are a senior Radio Access Network (RAN) engineer who writes question-answer pairs "
           "for training a telecom assistant. You only state what the given text supports.";
}

enum rp_err rp_prompt_qa_user(const char *title, const char *heading_path, const char *text,
                              int n_pairs, struct rp_buf *out)
{
    enum rp_err e = RP_OK;
    if (title && *title)
        e = rp_buf_addf(out, "Document: %s\n", title);
    if (!e && heading_path && *heading_path)
        e = rp_buf_addf(out, "Section: %s\n", heading_path);
    if (!e)
        e = rp_buf_addf(out, "\n%s\n\n", text);
    if (!e)
        e = rp_buf_addf(
            out,
            "Write %d question-answer pair%s that a RAN engineer would ask about the text above.\n"
            "- Every answer must be fully supported by the text. Copy parameter names, counter "
            "names, values, units and specification references exactly as written; add nothing "
            "the text does not say.\n"
            "- Each question must stand on its own: name the feature, parameter or procedure "
            "instead of saying \"the text\" or \"the document\".\n"
            "- Answer with a JSON array of objects with the keys \"question\", \"answer\" and "
            "\"type\" (one of factual, definition, parameter, procedure, comparison, "
            "troubleshooting).",
            n_pairs, n_pairs == 1 ? "" : "s");
    return e;
}

enum rp_err rp_prompt_qa_grammar(const struct rp_qa_shape *shape, int n_pairs, struct rp_buf *out)
{
    if (n_pairs < 1)
        n_pairs = 1;
    enum rp_err e = RP_OK;
    if (n_pairs == 1)
        e = rp_buf_adds(out, "root ::= \"[\" ws pair ws \"]\"\n");
    else
        e = rp_buf_addf(out, "root ::= \"[\" ws pair (\",\" ws pair){0,%d} ws \"]\"\n", n_pairs - 1);
    if (!e)
        e = rp_buf_adds(out,
                        "pair ::= \"{\" ws \"\\\"question\\\":\" ws question \",\" ws "
                        "\"\\\"answer\\\":\" ws answer \",\" ws \"\\\"type\\\":\" ws qtype ws \"}\"\n");
    if (!e)
        e = rp_buf_addf(out, "question ::= \"\\\"\" char{8,%d} \"\\\"\"\n", shape->question_chars);
    if (!e)
        e = rp_buf_addf(out, "answer ::= \"\\\"\" char{1,%d} \"\\\"\"\n", shape->answer_chars);
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
