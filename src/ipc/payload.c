/*
 * payload.c - request and response layout in a channel slot (ipc_int.h).
 */
#include <string.h>

#include "ipc_int.h"

static size_t opt_len(const char *s)
{
    return s ? strlen(s) : 0;
}

enum rp_err rp__ipc_write_request(char *slot, size_t cap, const struct rp_gen_request *req,
                                  uint32_t *len)
{
    struct rp__req_hdr h = {
        .system_len = (uint32_t)opt_len(req->system),
        .user_len = (uint32_t)opt_len(req->user),
        .grammar_len = (uint32_t)opt_len(req->grammar),
        .max_tokens = req->max_tokens,
        .seed = req->seed,
        .has_system = req->system != NULL,
        .has_grammar = req->grammar != NULL,
    };
    size_t need = sizeof(h) + (size_t)h.system_len + h.user_len + h.grammar_len + 3;
    if (need > cap)
        return RP_ERR_TOOBIG;
    char *p = slot;
    memcpy(p, &h, sizeof(h));
    p += sizeof(h);
    const char *parts[3] = {req->system, req->user, req->grammar};
    uint32_t lens[3] = {h.system_len, h.user_len, h.grammar_len};
    for (int i = 0; i < 3; i++) {
        if (lens[i])
            memcpy(p, parts[i], lens[i]);
        p += lens[i];
        *p++ = '\0';
    }
    *len = (uint32_t)(p - slot);
    return RP_OK;
}

bool rp__ipc_read_request(const char *slot, size_t len, struct rp_gen_request *req)
{
    struct rp__req_hdr h;
    if (len < sizeof(h))
        return false;
    memcpy(&h, slot, sizeof(h));
    size_t need = sizeof(h) + (size_t)h.system_len + h.user_len + h.grammar_len + 3;
    if (need != len)
        return false;
    const char *p = slot + sizeof(h);
    const char *s = p;
    p += h.system_len;
    if (*p++ != '\0')
        return false;
    const char *u = p;
    p += h.user_len;
    if (*p++ != '\0')
        return false;
    const char *g = p;
    p += h.grammar_len;
    if (*p != '\0')
        return false;
    req->system = h.has_system ? s : NULL;
    req->user = u;
    req->grammar = h.has_grammar ? g : NULL;
    req->json_schema = NULL;
    req->max_tokens = h.max_tokens;
    req->seed = h.seed;
    return true;
}

void rp__ipc_write_response(char *slot, size_t cap, struct rp_gen_request *req, uint32_t *len)
{
    struct rp__resp_hdr h;
    size_t room = cap - sizeof(h) - 2;
    size_t msg_len = strlen(req->err.msg);
    if (msg_len > room / 2)
        msg_len = room / 2;
    size_t text_len = req->text.len;
    if (text_len > room - msg_len) {
        text_len = room - msg_len;
        req->finish = RP_FINISH_ERROR;
        rp_error_set(&req->err, RP_ERR_TOOBIG, "the output is larger than the %zu byte slot", cap);
        msg_len = strlen(req->err.msg);
    }
    h.text_len = (uint32_t)text_len;
    h.msg_len = (uint32_t)msg_len;
    char *p = slot;
    memcpy(p, &h, sizeof(h));
    p += sizeof(h);
    if (text_len)
        memcpy(p, req->text.data, text_len);
    p += text_len;
    *p++ = '\0';
    memcpy(p, req->err.msg, msg_len);
    p += msg_len;
    *p++ = '\0';
    *len = (uint32_t)(p - slot);
}

enum rp_err rp__ipc_read_response(const char *slot, size_t len, struct rp_gen_request *req)
{
    struct rp__resp_hdr h;
    if (len < sizeof(h) + 2)
        return RP_ERR_PARSE;
    memcpy(&h, slot, sizeof(h));
    if (sizeof(h) + (size_t)h.text_len + h.msg_len + 2 != len)
        return RP_ERR_PARSE;
    const char *text = slot + sizeof(h);
    rp_buf_reset(&req->text);
    enum rp_err e = rp_buf_add(&req->text, text, h.text_len);
    size_t n = h.msg_len < sizeof(req->err.msg) - 1 ? h.msg_len : sizeof(req->err.msg) - 1;
    memcpy(req->err.msg, text + h.text_len + 1, n);
    req->err.msg[n] = '\0';
    return e;
}
