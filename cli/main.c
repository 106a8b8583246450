/* cli/main.c — entry point of `hallmark`: the command table and the top-level
 * help.
 *
 * Layer: cli/ (top). It only dispatches: every command lives in its own
 * cli/cmd_*.c. Never put command logic here, and never let a handler's exit
 * code be anything but one of the CLI_EXIT_* codes. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The commands, one line each, alphabetical by name. To add yours, insert
 * one line here and its prototype in cli/cli.h; the help lists it by itself.
 * `verify` is reserved for proof bundles. */
static const cli_command commands[] = {
    {"balance", "an account's balances per currency (signed read)", cli_cmd_balance},
    {"claim", "claim an item with the hidden code under its label (no key)", cli_cmd_claim},
    {"custody", "hand items to another member (custody transfer)", cli_cmd_custody},
    {"epcis", "import an EPCIS 2.0 JSON/JSON-LD document as signed event batches", cli_cmd_epcis},
    {"event", "record an EPCIS event chained to each item's last (event record)", cli_cmd_event},
    {"genesis", "create a network: keys, TLS identities, genesis, configs", cli_cmd_genesis},
    {"item", "register items (one, or a CSV/JSON batch); show an item", cli_cmd_item},
    {"key", "show the public key of a key file (key show)", cli_cmd_key},
    {"keygen", "create a new secret key file", cli_cmd_keygen},
    {"load", "send signed NOTE txs; report committed tx/s and latency", cli_cmd_load},
    {"member", "consortium members: add, revoke, rotate", cli_cmd_member},
    {"merkle", "RFC 9162 Merkle roots and proofs over a file of leaves", cli_cmd_merkle},
    {"payout", "record money paid out of an available balance", cli_cmd_payout},
    {"prefix", "assign a GS1 company prefix to a brand (prefix assign)", cli_cmd_prefix},
    {"product", "set a GTIN's product metadata (product set)", cli_cmd_product},
    {"qr", "QR labels (SVG/PNG) of an item's GS1 Digital Link; --sheet for many", cli_cmd_qr},
    {"recall", "recall a GTIN's lot or a list of items", cli_cmd_recall},
    {"refund", "refund part or all of a sale", cli_cmd_refund},
    {"sale", "record sales: one, or a CSV as one batch (sale record)", cli_cmd_sale},
    {"sign", "sign a message with a key file (BIP340, domain-separated)", cli_cmd_sign},
    {"sign-request", "header lines of a signed read, e.g. for curl", cli_cmd_sign_request},
    {"split", "split contracts: create, amend, show, id", cli_cmd_split},
    {"statement", "an account's postings, JSON or CSV (signed read)", cli_cmd_statement},
    {"submit", "send an encoded transaction file to a node", cli_cmd_submit},
    {"verify", "check a proof bundle offline against a genesis file", cli_cmd_verify},
    {"verify-sig", "check a signature made by `hallmark sign`", cli_cmd_verify_sig},
};

static void print_main_help(void) {
    printf("usage: hallmark <command> [subcommand] [options]\n"
           "       hallmark help <command>      (or: hallmark <command> --help)\n"
           "\n"
           "Hallmark's command-line tool: keys, signatures, Merkle proofs, and the\n"
           "node's API (transactions, queries, proof bundles).\n"
           "\n"
           "commands:\n");
    cli_print_table(commands, sizeof commands / sizeof commands[0]);
    printf("\n"
           "common options: --help on every command; --json for machine-readable output\n"
           "where a command has a result to print.\n"
           "\n"
           "environment:\n"
           "  HALLMARK_GENESIS  genesis file used when --genesis is not given\n"
           "  HALLMARK_NODE     node API base URL when --node is not given (default %s)\n"
           "  HALLMARK_HTTP_TIMEOUT_MS  deadline of a transaction submission (default %d)\n"
           "\n"
           "exit codes:\n"
           "  %d  success\n"
           "  %d  verification failed, or refused (by the node or a check)\n"
           "  %d  usage error (bad option, argument or value)\n"
           "  %d  I/O or key error (file unreadable, key permissions, file exists)\n"
           "  %d  node or network error\n",
           CLI_NODE_URL_DEFAULT, CLI_HTTP_TIMEOUT_MS, CLI_EXIT_OK, CLI_EXIT_FAILED, CLI_EXIT_USAGE,
           CLI_EXIT_IO, CLI_EXIT_NODE);
}

int main(int argc, char **argv) {
    const size_t count = sizeof commands / sizeof commands[0];
    if (argc < 2) {
        print_main_help();
        return CLI_EXIT_USAGE;
    }
    const char *first = argv[1];
    if (strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0) {
        print_main_help();
        return CLI_EXIT_OK;
    }
    if (strcmp(first, "help") == 0) {
        if (argc < 3) {
            print_main_help();
            return CLI_EXIT_OK;
        }
        /* `hallmark help merkle root` is `hallmark merkle root --help`. */
        char *help_argv[8];
        int help_argc = 0;
        for (int i = 2; i < argc && help_argc < 6; i++)
            help_argv[help_argc++] = argv[i];
        static char help_flag[] = "--help";
        help_argv[help_argc++] = help_flag;
        help_argv[help_argc] = NULL;
        return cli_dispatch(commands, count, "hallmark <command>", help_argc, help_argv);
    }
    return cli_dispatch(commands, count, "hallmark <command>", argc - 1, argv + 1);
}
