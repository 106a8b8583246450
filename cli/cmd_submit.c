/* cli/cmd_submit.c — `hallmark submit`: send an already encoded transaction
 * (made offline, or by another tool) to a node.
 *
 * Layer: cli/ (top). It does not decode or check the transaction: the node
 * does, and its answer is printed as it comes. Never retries: a resubmitted
 * transaction is the node's to deduplicate, not ours to guess at. */
#include <stdlib.h>

#include "cli.h"

static const cli_opt submit_opts[] = {
    {"tx", "FILE", "the encoded transaction ('-' for standard input)"},
    {"node", "URL", "node API base URL (default $HALLMARK_NODE or " CLI_NODE_URL_DEFAULT ")"},
    {NULL, NULL, NULL},
};
static const cli_spec submit_spec = {
    .usage = "hallmark submit --tx FILE [--node URL]",
    .description = "POSTs the bytes of FILE to the node's /v1/txs and prints its JSON answer\n"
                   "({\"tx\": \"<id>\"} when accepted). Exits 1 if the node refuses the\n"
                   "transaction, 4 if the node cannot be reached or fails.",
    .opts = submit_opts,
    .positional_min = 0,
    .positional_max = 0,
};

int cli_cmd_submit(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&submit_spec, argc, argv, &a, &rc))
        return rc;
    const char *path = cli_arg(&a, "tx");
    if (!path)
        return cli_usage_error(&submit_spec, "--tx FILE is required");
    uint8_t *tx = NULL;
    size_t tx_len = 0;
    hm_err err = cli_read_file(path, CLI_FILE_MAX, &tx, &tx_len);
    if (err != HM_OK)
        return CLI_EXIT_IO;
    if (tx_len == 0) {
        free(tx);
        return cli_usage_error(&submit_spec, "%s is empty", path);
    }
    rc = cli_submit_tx(cli_node_url(cli_arg(&a, "node")), tx, tx_len);
    free(tx);
    return rc;
}
