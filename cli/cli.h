/* cli/cli.h — the `hallmark` command-line tool: its command table, exit codes
 * and the helpers every command shares.
 *
 * Layer: the top, beside node/. Uses lib/ and the transaction encoders of
 * contracts/; talks to a node only through its HTTP API (cli/http.c). Never
 * links node/, never opens a database, never keeps state between runs except
 * the files the user names.
 *
 * Adding a command: write `int cli_cmd_NAME(int argc, char **argv)` in your
 * own cli/cmd_*.c, add its prototype below (one line, alphabetical) and one
 * line to the table in cli/main.c. A handler receives argv[0] = its command
 * name, parses the rest with cli_parse(), prints its result on stdout (JSON
 * with --json where that makes sense) and its errors on stderr, and returns
 * one of the CLI_EXIT_* codes. */
#ifndef HALLMARK_CLI_H
#define HALLMARK_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hm.h"

/* ------------------------------------------------------------- exit codes
 *
 * Stable: scripts depend on them. `hallmark --help` prints this list. */
#define CLI_EXIT_OK 0     /* success */
#define CLI_EXIT_FAILED 1 /* verification failed, or the node refused */
#define CLI_EXIT_USAGE 2  /* bad command line or malformed argument */
#define CLI_EXIT_IO 3     /* file or key error (unreadable, permissions, exists) */
#define CLI_EXIT_NODE 4   /* node unreachable, timed out, or answered badly */

/* The exit code that matches an hm_err: HM_OK -> 0; a signature or proof
 * that does not verify -> 1; malformed input (hex, lengths, values) -> 2;
 * files, keys, randomness, memory -> 3. */
int cli_exit_for(hm_err err);

/* ----------------------------------------------------------- command table */

typedef int (*cli_handler)(int argc, char **argv);

typedef struct {
    const char *name;    /* as typed: "keygen", "verify-sig" */
    const char *summary; /* one line for the command list */
    cli_handler handler;
} cli_command;

/* Runs the entry of table (count entries) named by argv[0] with argc/argv
 * unchanged; `help` or --help in argv[0] lists the table under the heading
 * `usage` (e.g. "hallmark merkle <subcommand>"). Returns the handler's exit
 * code, or CLI_EXIT_USAGE for an unknown name. Used by main() and by commands
 * with subcommands. */
int cli_dispatch(const cli_command *table, size_t count, const char *usage, int argc, char **argv);
/* Prints "  name  summary" lines for a table. */
void cli_print_table(const cli_command *table, size_t count);

/* Command handlers: one line each, alphabetical by command name. */
int cli_cmd_balance(int argc, char **argv);      /* cli/cmd_settlement.c */
int cli_cmd_claim(int argc, char **argv);        /* cli/cmd_provenance.c */
int cli_cmd_custody(int argc, char **argv);      /* cli/cmd_provenance.c */
int cli_cmd_epcis(int argc, char **argv);        /* cli/cmd_epcis.c */
int cli_cmd_event(int argc, char **argv);        /* cli/cmd_provenance.c */
int cli_cmd_genesis(int argc, char **argv);      /* cli/cmd_genesis.c */
int cli_cmd_item(int argc, char **argv);         /* cli/cmd_provenance.c */
int cli_cmd_key(int argc, char **argv);          /* cli/cmd_keys.c */
int cli_cmd_keygen(int argc, char **argv);       /* cli/cmd_keys.c */
int cli_cmd_load(int argc, char **argv);         /* cli/cmd_load.c */
int cli_cmd_member(int argc, char **argv);       /* cli/cmd_provenance.c */
int cli_cmd_merkle(int argc, char **argv);       /* cli/cmd_merkle.c */
int cli_cmd_payout(int argc, char **argv);       /* cli/cmd_settlement.c */
int cli_cmd_prefix(int argc, char **argv);       /* cli/cmd_provenance.c */
int cli_cmd_product(int argc, char **argv);      /* cli/cmd_provenance.c */
int cli_cmd_qr(int argc, char **argv);           /* cli/cmd_qr.c */
int cli_cmd_recall(int argc, char **argv);       /* cli/cmd_provenance.c */
int cli_cmd_refund(int argc, char **argv);       /* cli/cmd_settlement.c */
int cli_cmd_sale(int argc, char **argv);         /* cli/cmd_settlement.c */
int cli_cmd_sign(int argc, char **argv);         /* cli/cmd_keys.c */
int cli_cmd_sign_request(int argc, char **argv); /* cli/cmd_settlement.c */
int cli_cmd_split(int argc, char **argv);        /* cli/cmd_settlement.c */
int cli_cmd_statement(int argc, char **argv);    /* cli/cmd_settlement.c */
int cli_cmd_submit(int argc, char **argv);       /* cli/cmd_submit.c */
int cli_cmd_verify(int argc, char **argv);       /* cli/cmd_verify.c */
int cli_cmd_verify_sig(int argc, char **argv);   /* cli/cmd_keys.c */

/* --------------------------------------------------------- option parsing
 *
 * A command describes its options once (cli_spec); cli_parse() builds the
 * getopt_long tables from it, adds --help (-h) to every command, prints the
 * help text, and reports usage errors with the command's usage line. Every
 * option is long-only; values may follow as `--opt VALUE` or `--opt=VALUE`;
 * options and positional arguments may be mixed. */

#define CLI_OPTS_MAX 32         /* options per command */
#define CLI_OCCURRENCES_MAX 256 /* option occurrences per command line */

typedef struct {
    const char *name;     /* long name without "--"; NULL ends the list */
    const char *arg_name; /* placeholder shown in help ("FILE"); NULL for a flag */
    const char *help;     /* one line */
} cli_opt;

typedef struct {
    const char *usage;       /* "hallmark keygen --out FILE [--json]" */
    const char *description; /* a paragraph; may be NULL */
    const cli_opt *opts;     /* ends with an entry whose name is NULL */
    int positional_min;
    int positional_max; /* -1: unbounded */
} cli_spec;

typedef struct {
    const cli_spec *spec;
    size_t count; /* occurrences, in command-line order */
    struct {
        int opt;           /* index into spec->opts */
        const char *value; /* "" for a flag */
    } seen[CLI_OCCURRENCES_MAX];
    int positional_count;
    char **positional; /* points into argv */
} cli_args;

/* Parses argv[1..argc) against spec into out. Returns true when the command
 * should run. Returns false with *exit_code set when it should not: after
 * printing help (CLI_EXIT_OK) or a usage error (CLI_EXIT_USAGE). argv is
 * permuted (options first). */
bool cli_parse(const cli_spec *spec, int argc, char **argv, cli_args *out, int *exit_code);
/* The value of the last occurrence of option name, or NULL if absent. */
const char *cli_arg(const cli_args *a, const char *name);
/* True if flag (or option) name was given. */
bool cli_flag(const cli_args *a, const char *name);
/* Iterates over every occurrence of a repeatable option: start with
 * *cursor = 0; returns NULL after the last. */
const char *cli_arg_next(const cli_args *a, const char *name, size_t *cursor);
/* Prints "hallmark: <message>" and the usage line to stderr; returns
 * CLI_EXIT_USAGE so a handler can `return cli_usage_error(...)`. */
int cli_usage_error(const cli_spec *spec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints "hallmark: <message>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a whole decimal number in [0, max]; false (nothing written) for
 * anything else, including signs, spaces and empty text. */
bool cli_parse_u64(const char *text, uint64_t max, uint64_t *out);

/* The options of every command that builds and sends one signed transaction
 * (cli_send_tx reads them): put CLI_TX_OPTS first in the command's cli_opt
 * array. */
#define CLI_TX_OPTS                                                                                \
    {"key", "FILE", "the signing key file"},                                                       \
        {"genesis", "FILE", "genesis file for the chain id (default $HALLMARK_GENESIS)"},          \
        {"node", "URL", "node API base URL (default $HALLMARK_NODE or " CLI_NODE_URL_DEFAULT ")"}, \
        {"nonce", "N", "tx nonce (default: random)"}, {                                            \
        "out", "FILE", "write the signed tx to FILE instead of submitting it"                      \
    }

/* ------------------------------------------------------------- files, keys */

#define CLI_FILE_MAX (256u * 1024 * 1024) /* the largest file any command reads */

/* Reads a whole file ("-" for standard input) of at most size_max bytes into
 * a malloc'd buffer (*data, NUL-terminated for convenience; the NUL is not
 * counted in *data_len). On failure prints why (naming the path) and returns
 * HM_ERR_IO, HM_ERR_TOO_LONG or HM_ERR_NOMEM; *data is then NULL. */
HM_MUST_USE hm_err cli_read_file(const char *path, size_t size_max, uint8_t **data,
                                 size_t *data_len);

/* Loads a key file into kp. On failure prints a message for people naming
 * the path (for HM_ERR_KEY_PERMS: that the file must be chmod 600) and
 * returns the error; map it with cli_exit_for(). Wipe kp when done. */
HM_MUST_USE hm_err cli_load_key(const char *path, hm_keypair *kp);
/* Loads the key file named by option --key of a into kp. Returns CLI_EXIT_OK,
 * a usage error when --key is missing, or CLI_EXIT_IO (after printing why)
 * when the file cannot be used. Wipe kp when done (only after CLI_EXIT_OK). */
int cli_load_key_opt(const cli_spec *spec, const cli_args *a, hm_keypair *kp);

/* Writes data_len bytes of data to path (created or truncated). Returns
 * CLI_EXIT_OK, or CLI_EXIT_IO after printing "cannot write PATH". */
int cli_write_file(const char *path, const uint8_t *data, size_t data_len);

/* The chain id from a genesis JSON file (its string field "chain_id", 1 to
 * HM_CHAIN_ID_MAX printable ASCII characters). path NULL means the file
 * named by $HALLMARK_GENESIS; with neither, prints how to name one and
 * returns HM_ERR_ARG. Other failures print why and return HM_ERR_IO
 * (unreadable) or HM_ERR_BAD_VALUE (not JSON, no or bad chain_id). */
HM_MUST_USE hm_err cli_genesis_chain_id(const char *path, char chain_id[HM_CHAIN_ID_MAX + 1]);
/* HM_OK if text is a valid chain id (see above); prints why not otherwise. */
HM_MUST_USE hm_err cli_check_chain_id(const char *text);

/* ----------------------------------------------------------------- output */

/* Prints data as lower-case hex and a newline on stdout. */
void cli_print_hex(const uint8_t *data, size_t data_len);
/* Writes data as hex into a malloc'd string; NULL when out of memory. */
char *cli_hex_alloc(const uint8_t *data, size_t data_len);
/* Prints a JSON value built by the caller (indented, keys in insertion
 * order) on stdout and releases it; obj NULL (a failed json_pack) prints "out
 * of memory" on stderr instead. */
struct json_t;
void cli_print_json(struct json_t *obj);

/* ------------------------------------------------------------ misc */

/* A transaction nonce from the system's secure random source; the wall clock
 * in seconds if that fails (a nonce must differ, not be secret). */
uint64_t cli_random_nonce(void);
/* The monotonic clock in microseconds (for measuring, never for dates). */
uint64_t cli_monotonic_us(void);
/* qsort comparator for uint64_t, ascending. */
int cli_compare_u64(const void *a, const void *b);

/* ------------------------------------------------------------ node access */

#define CLI_NODE_URL_DEFAULT "http://127.0.0.1:7000"
#define CLI_HTTP_RESPONSE_MAX (16u * 1024 * 1024)
#define CLI_HTTP_TIMEOUT_MS 10000

/* The node's base URL: url when not NULL, else $HALLMARK_NODE, else
 * CLI_NODE_URL_DEFAULT. */
const char *cli_node_url(const char *url);

/* One blocking HTTP/1.1 request over a plain TCP connection (the node API is
 * plain HTTP on loopback). base_url is "http://host:port" (host a name, an
 * IPv4 address or [IPv6]); path starts with '/'. content_type may be NULL
 * when there is no body. extra_headers is NULL or complete "Name: value\r\n"
 * lines. The whole exchange must finish within timeout_ms. On HM_OK,
 * *status is the HTTP status and *response a malloc'd, NUL-terminated body
 * of *response_len (<= response_max) bytes that the caller frees. On failure
 * prints why and returns HM_ERR_ARG (bad URL or arguments), HM_ERR_IO
 * (resolve, connect, send, receive, timeout), HM_ERR_TOO_LONG (body above
 * response_max) or HM_ERR_BAD_VALUE (not an HTTP response); *response is
 * then NULL. */
HM_MUST_USE hm_err cli_http_request(const char *base_url, const char *method, const char *path,
                                    const char *content_type, const uint8_t *body, size_t body_len,
                                    const char *extra_headers, int *status, char **response,
                                    size_t *response_len, size_t response_max, int timeout_ms);

/* POSTs an encoded transaction to node_url + "/v1/txs" (Content-Type
 * application/octet-stream) and prints the node's JSON answer on stdout
 * (errors on stderr). The deadline is CLI_HTTP_TIMEOUT_MS, or
 * $HALLMARK_HTTP_TIMEOUT_MS when that is a number from 1 to 600000. Returns CLI_EXIT_OK for 2xx,
 * CLI_EXIT_FAILED when the node refused the transaction (4xx), CLI_EXIT_NODE otherwise. */
int cli_submit_tx(const char *node_url, const uint8_t *tx, size_t tx_len);

/* Builds the transaction of type with body (body_len bytes; NULL when 0) and,
 * when rec_count > 0, the records recs[i] of rec_lens[i] bytes, signed by kp
 * (kp NULL: a keyless transaction, nonce 0), for the chain id of --genesis.
 * The nonce is --nonce or cli_random_nonce(). With --out FILE writes the
 * encoded tx there; otherwise submits it to --node (cli_submit_tx). Prints
 * every failure; returns the exit code. */
int cli_send_tx(const cli_spec *spec, const cli_args *a, const hm_keypair *kp, uint32_t type,
                const uint8_t *body, size_t body_len, const uint8_t *const *recs,
                const size_t *rec_lens, uint32_t rec_count);

#endif
