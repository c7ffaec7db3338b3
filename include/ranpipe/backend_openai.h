/*
 * backend_openai.h - the `openai` backend: any OpenAI-compatible
 * chat-completions endpoint (llama-server, vLLM, Ollama, LM Studio, ...),
 * one or several base URLs, over libcurl multi.
 *
 * One event-loop thread drives every HTTP transfer. submit() appends the
 * request to a list under a mutex and wakes the loop (curl_multi_wakeup);
 * the loop starts it on the least-loaded base URL that has fewer than
 * max_concurrent transfers in flight, so capacity() is n_base_urls x
 * max_concurrent.
 *
 * Each request is POST {base_url}/chat/completions with model, messages
 * (system + user), temperature, top_p, top_k (an extension llama-server and
 * vLLM accept; sent only when > 0), max_tokens and seed, plus
 *   "response_format": {"type": "json_schema", "json_schema":
 *                        {"name": "qa", "schema": <json_schema>, "strict": true}}
 * when req->json_schema is set. A base URL that answers 400 naming
 * response_format / json_schema is remembered as not supporting it: the
 * request is sent again without it (not counted as an attempt) and so is
 * every later request to that URL. GBNF grammars are not sent (no standard
 * field); with response_format off, the prompt alone asks for JSON.
 *
 * Output: req->text is the JSON value found in the message content
 * (<think> blocks, ``` fences and prose around it removed) when
 * req->json_schema or req->grammar was set and a value was found, else the
 * content as the server sent it; n_prompt_tokens / n_gen_tokens come from
 * "usage"; finish_reason "length" is RP_FINISH_LENGTH, anything else
 * RP_FINISH_STOP.
 *
 * Failures: a connect error, a timeout (timeout_s per attempt), a body cut
 * short, HTTP 408, 429, 500, 502, 503 or 504 are transient: the request is
 * tried again, up to `attempts` tries in all, after an exponential backoff
 * (base_delay_s doubled per try, with jitter, at most max_delay_s) or the
 * server's Retry-After (seconds) when that is longer, on another base URL
 * when there are several. Other 4xx statuses, a body that is not the
 * expected JSON, and running out of tries or of deadline_s finish the
 * request with RP_FINISH_ERROR and err.code RP_ERR_BACKEND; the message
 * names the URL, the HTTP status (or the transfer error) and an excerpt of
 * the body. The API key is read from the environment variable api_key_env
 * for each attempt, sent as "Authorization: Bearer <key>", and never
 * appears in a message (an excerpt that echoes it is redacted).
 *
 * Thread contract: as backend.h. done is called from the loop thread; it
 * may call submit() on the same backend. The stats getter may be called
 * from any thread.
 */
#ifndef RANPIPE_BACKEND_OPENAI_H
#define RANPIPE_BACKEND_OPENAI_H

#include <stddef.h>
#include <stdint.h>

#include "ranpipe/backend.h"
#include "ranpipe/config.h"
#include "ranpipe/error.h"
#include "ranpipe/llm.h"

struct rp_openai_params {
    const char *const *base_urls; /* e.g. "http://127.0.0.1:8080/v1" (borrowed, copied by new) */
    size_t n_base_urls;           /* at least 1 */
    const char *model;            /* the request's "model" field; NULL: "default" */
    const char *api_key_env;      /* environment variable holding the key, or NULL */
    int max_concurrent;           /* transfers in flight per base URL (default 8) */
    double timeout_s;             /* per attempt, connecting included (default 300) */
    double connect_timeout_s;     /* (default 10, at most timeout_s) */
    int attempts;                 /* tries per request, the first included (default 3) */
    double base_delay_s;          /* first backoff (default 0.5) */
    double max_delay_s;           /* backoff cap (default 30) */
    double deadline_s;            /* no new try after this long since submit (default 900) */
    size_t max_response_bytes;    /* larger bodies fail the attempt (default 16 MiB) */
    struct rp_sampling sampling;
};

struct rp_openai_params rp_openai_default_params(void);

/* Fills *out from an openai tier (and the run's retry policy; NULL keeps
 * the defaults). out borrows t's strings: t must outlive the backend's
 * creation. RP_ERR_CONFIG when t is not an openai tier or has no URL. */
enum rp_err rp_openai_params_from_tier(const struct rp_tier_config *t,
                                       const struct rp_retry_params *retry,
                                       struct rp_openai_params *out, struct rp_error *err);

/* Creates a backend (not started) named name (the tier's, for messages)
 * and sets *out; the caller frees it with rp_backend_free(). p is copied.
 * RP_ERR_INVAL with err set on bad parameters. */
enum rp_err rp_backend_openai_new(const char *name, const struct rp_openai_params *p,
                                  rp_backend_done_fn done, void *ud, struct rp_backend **out,
                                  struct rp_error *err);

struct rp_openai_stats {
    uint64_t requests;          /* taken by submit() */
    uint64_t completed;         /* finished with text */
    uint64_t failed;            /* finished with RP_ERR_BACKEND */
    uint64_t cancelled;         /* finished by stop() */
    uint64_t attempts;          /* HTTP requests sent */
    uint64_t retries;           /* attempts that followed a transient failure */
    uint64_t http_errors;       /* responses with a status other than 2xx */
    uint64_t transport_errors;  /* connect failures, timeouts, bodies cut short */
    uint64_t format_fallbacks;  /* base URLs found not to support response_format */
    uint64_t prompt_tokens;     /* from "usage" */
    uint64_t completion_tokens; /* from "usage" */
};

/* Copies the counters so far into *out. b must be an openai backend. */
void rp_backend_openai_stats(const struct rp_backend *b, struct rp_openai_stats *out);

#endif /* RANPIPE_BACKEND_OPENAI_H */
