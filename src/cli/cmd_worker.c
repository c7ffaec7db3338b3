/*
 * cmd_worker.c - `ranpipe worker`: a model worker process. `ranpipe run`
 * starts these itself; the command is listed for completeness and for
 * debugging.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ranpipe/log.h"
#include "ranpipe/worker.h"

void rp_cmd_worker_help(void)
{
    printf("usage: ranpipe worker --fds MEM,REQ,RESP (--model PATH | --echo) [OPTIONS]\n"
           "\n"
           "Serves one GGUF model to the ranpipe process that started it, over the\n"
           "shared-memory channel whose three inherited descriptors --fds names.\n"
           "`ranpipe run` starts and restarts its workers itself; you do not need to\n"
           "run this command by hand.\n"
           "\n"
           "Options:\n"
           "      --fds M,R,S        channel memfd, request eventfd, response eventfd\n"
           "  -m, --model PATH       GGUF model to load\n"
           "      --echo             load no model, answer pings (IPC benchmark)\n"
           "      --ctx N            context tokens per sequence\n"
           "  -p, --parallel N       sequences decoded together\n"
           "  -t, --threads N        CPU threads (0: all cores)\n"
           "      --batch N          tokens per decode step\n"
           "      --gpu-layers N     layers offloaded to a GPU build (-1: all, auto)\n"
           "      --temperature F, --top-k N, --top-p F, --max-tokens N   sampling\n"
           "      --log-level L      debug, info, warn, error\n"
           "      --log-format F     text or json lines (default: text)\n"
           "  -h, --help             show this help\n");
}

enum {
    OPT_FDS = 256,
    OPT_ECHO,
    OPT_CTX,
    OPT_BATCH,
    OPT_GPU,
    OPT_TEMP,
    OPT_TOPK,
    OPT_TOPP,
    OPT_MAXTOK,
};

static const struct option worker_options[] = {
    {"fds", required_argument, NULL, OPT_FDS},
    {"model", required_argument, NULL, 'm'},
    {"echo", no_argument, NULL, OPT_ECHO},
    {"ctx", required_argument, NULL, OPT_CTX},
    {"parallel", required_argument, NULL, 'p'},
    {"threads", required_argument, NULL, 't'},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"gpu-layers", required_argument, NULL, OPT_GPU},
    {"temperature", required_argument, NULL, OPT_TEMP},
    {"top-k", required_argument, NULL, OPT_TOPK},
    {"top-p", required_argument, NULL, OPT_TOPP},
    {"max-tokens", required_argument, NULL, OPT_MAXTOK},
    RP_CLI_LOG_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int rp_cmd_worker(int argc, char **argv)
{
    struct rp_worker_params p = {.llama = rp_llama_default_params(),
                                 .sampling = rp_sampling_default()};
    long fds[3] = {-1, -1, -1};
    long v;
    float f;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":m:p:t:h", worker_options, NULL)) != -1) {
        switch (c) {
        case OPT_FDS: {
            char *end = optarg;
            for (int i = 0; i < 3; i++) {
                char *num = end;
                fds[i] = strtol(num, &end, 10);
                if (end == num || fds[i] < 0 || fds[i] > 65535 || (i < 2 && *end++ != ','))
                    return rp_cli_usage_error("worker", "--fds needs three descriptors M,R,S, not '%s'",
                                              optarg);
            }
            if (*end)
                return rp_cli_usage_error("worker", "--fds needs three descriptors M,R,S, not '%s'",
                                          optarg);
            break;
        }
        case 'm':
            p.llama.model_path = optarg;
            break;
        case OPT_ECHO:
            p.echo = 1;
            break;
        case OPT_CTX:
            if (!rp_cli_opt_long("worker", "--ctx", optarg, 256, 1 << 20, &v))
                return RP_EXIT_USAGE;
            p.llama.n_ctx_seq = (int)v;
            break;
        case 'p':
            if (!rp_cli_opt_long("worker", "--parallel", optarg, 1, 256, &v))
                return RP_EXIT_USAGE;
            p.llama.n_parallel = (int)v;
            break;
        case 't':
            if (!rp_cli_opt_long("worker", "--threads", optarg, 0, 1024, &v))
                return RP_EXIT_USAGE;
            p.llama.n_threads = (int)v;
            break;
        case OPT_BATCH:
            if (!rp_cli_opt_long("worker", "--batch", optarg, 1, 1 << 16, &v))
                return RP_EXIT_USAGE;
            p.llama.n_batch = p.llama.n_ubatch = (int)v;
            break;
        case OPT_GPU:
            if (strcmp(optarg, "auto") == 0)
                v = RP_GPU_LAYERS_AUTO;
            else if (!rp_cli_opt_long("worker", "--gpu-layers", optarg, -1, 10000, &v))
                return RP_EXIT_USAGE;
            p.llama.n_gpu_layers = (int)v;
            break;
        case OPT_TEMP:
            if (!rp_cli_opt_float("worker", "--temperature", optarg, 0, 10, &f))
                return RP_EXIT_USAGE;
            p.sampling.temperature = f;
            break;
        case OPT_TOPK:
            if (!rp_cli_opt_long("worker", "--top-k", optarg, 0, 1 << 20, &v))
                return RP_EXIT_USAGE;
            p.sampling.top_k = (int)v;
            break;
        case OPT_TOPP:
            if (!rp_cli_opt_float("worker", "--top-p", optarg, 0, 1, &f))
                return RP_EXIT_USAGE;
            p.sampling.top_p = f;
            break;
        case OPT_MAXTOK:
            if (!rp_cli_opt_long("worker", "--max-tokens", optarg, 0, 1 << 20, &v))
                return RP_EXIT_USAGE;
            p.sampling.max_tokens = (int)v;
            break;
        case RP_CLI_OPT_LOG_LEVEL:
        case RP_CLI_OPT_LOG_FORMAT:
            if (!rp_cli_log_option("worker", c, optarg))
                return RP_EXIT_USAGE;
            break;
        case 'h':
            rp_cmd_worker_help();
            return RP_EXIT_OK;
        default:
            return rp_cli_bad_option("worker", c, argv);
        }
    }
    if (optind < argc)
        return rp_cli_usage_error("worker", "unexpected argument '%s'", argv[optind]);
    if (fds[0] < 0)
        return rp_cli_usage_error("worker", "--fds is required (ranpipe run passes it)");
    if (!p.echo && !p.llama.model_path)
        return rp_cli_usage_error("worker", "--model or --echo is required");
    return rp_worker_main((int)fds[0], (int)fds[1], (int)fds[2], &p);
}
