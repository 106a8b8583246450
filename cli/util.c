/* cli/util.c — helpers every `hallmark` command shares: dispatch, option
 * parsing, exit codes, bounded file reading and writing, key files, the
 * genesis chain id, JSON output, and building and sending a signed tx.
 *
 * Layer: cli/ (top). Talks to the user: every failure is printed here, once,
 * in words that name the file or option at fault. Never exits the process
 * (handlers return exit codes) and never reads more than a stated bound. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "ct.h"

int cli_exit_for(hm_err err) {
    switch (err) {
    case HM_OK:
        return CLI_EXIT_OK;
    case HM_ERR_BAD_SIG:
    case HM_ERR_PROOF:
        return CLI_EXIT_FAILED;
    case HM_ERR_ARG:
    case HM_ERR_TRUNCATED:
    case HM_ERR_TRAILING:
    case HM_ERR_NONMINIMAL:
    case HM_ERR_OVERFLOW:
    case HM_ERR_TOO_LONG:
    case HM_ERR_UNKNOWN_TYPE:
    case HM_ERR_BAD_VALUE:
    case HM_ERR_HEX:
    case HM_ERR_BAD_KEY:
        return CLI_EXIT_USAGE;
    default:
        /* Files, keys, memory, randomness, the crypto library itself. */
        return CLI_EXIT_IO;
    }
}

/* ----------------------------------------------------------------- dispatch */

void cli_print_table(const cli_command *table, size_t count) {
    size_t width = 0;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(table[i].name);
        if (len > width)
            width = len;
    }
    for (size_t i = 0; i < count; i++)
        printf("  %-*s  %s\n", (int)width, table[i].name, table[i].summary);
}

int cli_dispatch(const cli_command *table, size_t count, const char *usage, int argc, char **argv) {
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
        strcmp(argv[0], "help") == 0) {
        FILE *out = argc < 1 ? stderr : stdout;
        fprintf(out, "usage: %s [options]\n\n", usage);
        fflush(out);
        if (out == stdout) {
            cli_print_table(table, count);
        } else {
            for (size_t i = 0; i < count; i++)
                fprintf(stderr, "  %s\n", table[i].name);
        }
        fprintf(out, "\nRun with --help after a name for its options.\n");
        return argc < 1 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    for (size_t i = 0; i < count; i++) {
        if (strcmp(table[i].name, argv[0]) == 0)
            return table[i].handler(argc, argv);
    }
    cli_error("unknown command '%s' (usage: %s; --help lists them)", argv[0], usage);
    return CLI_EXIT_USAGE;
}

/* ------------------------------------------------------------ option parsing */

/* "hallmark: <message>" and a newline on stderr. */
__attribute__((format(printf, 1, 0))) static void vprint_error(const char *fmt, va_list ap) {
    fputs("hallmark: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprint_error(fmt, ap);
    va_end(ap);
}

int cli_usage_error(const cli_spec *spec, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprint_error(fmt, ap);
    va_end(ap);
    fprintf(stderr, "usage: %s\n(--help for details)\n", spec->usage);
    return CLI_EXIT_USAGE;
}

static void print_spec_help(const cli_spec *spec) {
    printf("usage: %s\n", spec->usage);
    if (spec->description)
        printf("\n%s\n", spec->description);
    printf("\noptions:\n");
    int width = 6; /* "--help" */
    for (const cli_opt *o = spec->opts; o && o->name; o++) {
        int len = 2 + (int)strlen(o->name) + (o->arg_name ? 1 + (int)strlen(o->arg_name) : 0);
        if (len > width)
            width = len;
    }
    char left[128];
    for (const cli_opt *o = spec->opts; o && o->name; o++) {
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg_name ? " " : "",
                 o->arg_name ? o->arg_name : "");
        printf("  %-*s  %s\n", width, left, o->help);
    }
    printf("  %-*s  %s\n", width, "--help", "show this help");
    printf("\nexit codes: %d ok, %d verification failed or refused, %d usage error,\n"
           "%d I/O or key error, %d node or network error\n",
           CLI_EXIT_OK, CLI_EXIT_FAILED, CLI_EXIT_USAGE, CLI_EXIT_IO, CLI_EXIT_NODE);
}

bool cli_parse(const cli_spec *spec, int argc, char **argv, cli_args *out, int *exit_code) {
    memset(out, 0, sizeof *out);
    out->spec = spec;
    struct option longopts[CLI_OPTS_MAX + 2];
    int n = 0;
    for (const cli_opt *o = spec->opts; o && o->name; o++) {
        /* A spec is code, not input: too many options is a bug. */
        if (n >= CLI_OPTS_MAX) {
            cli_error("internal: too many options for '%s'", spec->usage);
            *exit_code = CLI_EXIT_USAGE;
            return false;
        }
        longopts[n] =
            (struct option){o->name, o->arg_name ? required_argument : no_argument, NULL, 1000 + n};
        n++;
    }
    const int help_id = 999;
    longopts[n++] = (struct option){"help", no_argument, NULL, help_id};
    longopts[n] = (struct option){NULL, 0, NULL, 0};

    /* optind = 0 makes glibc reinitialise, so a process (a test) may parse
     * more than one command line. */
    optind = 0;
    opterr = 0;
    for (;;) {
        int longindex = -1;
        int c = getopt_long(argc, argv, ":h", longopts, &longindex);
        if (c == -1)
            break;
        if (c == 'h' || c == help_id) {
            print_spec_help(spec);
            *exit_code = CLI_EXIT_OK;
            return false;
        }
        if (c == '?') {
            *exit_code = cli_usage_error(spec, "unknown option '%s'", argv[optind - 1]);
            return false;
        }
        if (c == ':') {
            *exit_code = cli_usage_error(spec, "option '%s' needs a value", argv[optind - 1]);
            return false;
        }
        if (c < 1000 || c >= 1000 + CLI_OPTS_MAX) {
            *exit_code = cli_usage_error(spec, "unexpected option");
            return false;
        }
        if (out->count >= CLI_OCCURRENCES_MAX) {
            *exit_code =
                cli_usage_error(spec, "too many options (at most %d)", CLI_OCCURRENCES_MAX);
            return false;
        }
        out->seen[out->count].opt = c - 1000;
        out->seen[out->count].value = optarg ? optarg : "";
        out->count++;
    }
    out->positional = argv + optind;
    out->positional_count = argc - optind;
    if (out->positional_count < spec->positional_min) {
        *exit_code = cli_usage_error(spec, "missing argument");
        return false;
    }
    if (spec->positional_max >= 0 && out->positional_count > spec->positional_max) {
        *exit_code = cli_usage_error(spec, "unexpected argument '%s'",
                                     out->positional[spec->positional_max]);
        return false;
    }
    *exit_code = CLI_EXIT_OK;
    return true;
}

static int opt_index(const cli_args *a, const char *name) {
    int i = 0;
    for (const cli_opt *o = a->spec->opts; o && o->name; o++, i++) {
        if (strcmp(o->name, name) == 0)
            return i;
    }
    return -1;
}

const char *cli_arg(const cli_args *a, const char *name) {
    int want = opt_index(a, name);
    const char *value = NULL;
    for (size_t i = 0; i < a->count; i++) {
        if (a->seen[i].opt == want)
            value = a->seen[i].value;
    }
    return value;
}

bool cli_flag(const cli_args *a, const char *name) {
    return cli_arg(a, name) != NULL;
}

const char *cli_arg_next(const cli_args *a, const char *name, size_t *cursor) {
    int want = opt_index(a, name);
    while (*cursor < a->count) {
        size_t i = (*cursor)++;
        if (a->seen[i].opt == want)
            return a->seen[i].value;
    }
    return NULL;
}

bool cli_parse_u64(const char *text, uint64_t max, uint64_t *out) {
    if (!text || !*text)
        return false;
    uint64_t value = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        uint64_t digit = (uint64_t)(*p - '0');
        if (value > (max - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    *out = value;
    return true;
}

/* ---------------------------------------------------------------- files */

hm_err cli_read_file(const char *path, size_t size_max, uint8_t **data, size_t *data_len) {
    *data = NULL;
    *data_len = 0;
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        cli_error("cannot open %s: %s", path, strerror(errno));
        return HM_ERR_IO;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap + 1);
    hm_err err = buf ? HM_OK : HM_ERR_NOMEM;
    while (err == HM_OK) {
        if (len == cap) {
            /* Grow geometrically, but never past the bound plus one byte:
             * that byte is how an oversized file is noticed. */
            size_t want = cap * 2 > size_max + 1 ? size_max + 1 : cap * 2;
            if (want <= cap) {
                cli_error("%s is larger than %zu bytes", path, size_max);
                err = HM_ERR_TOO_LONG;
                break;
            }
            uint8_t *grown = realloc(buf, want + 1);
            if (!grown) {
                err = HM_ERR_NOMEM;
                break;
            }
            buf = grown;
            cap = want;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len > size_max) {
            cli_error("%s is larger than %zu bytes", path, size_max);
            err = HM_ERR_TOO_LONG;
            break;
        }
        if (got == 0) {
            if (ferror(f)) {
                cli_error("cannot read %s: %s", path, strerror(errno));
                err = HM_ERR_IO;
            }
            break;
        }
    }
    if (!is_stdin)
        fclose(f);
    if (err == HM_ERR_NOMEM)
        cli_error("out of memory reading %s", path);
    if (err != HM_OK) {
        free(buf);
        return err;
    }
    buf[len] = 0;
    *data = buf;
    *data_len = len;
    return HM_OK;
}

hm_err cli_load_key(const char *path, hm_keypair *kp) {
    errno = 0;
    hm_err err = hm_keyfile_read(path, kp);
    int read_errno = errno;
    if (err == HM_OK)
        return HM_OK;
    if (err == HM_ERR_KEY_PERMS) {
        /* The key file must be private to its owner; say how to fix it. */
        cli_error("refusing key file %s: %s; the file must be chmod 600 (run: chmod 600 %s)", path,
                  hm_err_message(err), path);
    } else if (err == HM_ERR_NOT_FOUND) {
        cli_error("key file %s does not exist", path);
    } else if (err == HM_ERR_IO && read_errno != 0) {
        /* errno still says why the open or read failed. */
        cli_error("cannot read key file %s: %s (%s)", path, hm_err_message(err),
                  strerror(read_errno));
    } else {
        cli_error("cannot use key file %s: %s", path, hm_err_message(err));
    }
    return err;
}

int cli_load_key_opt(const cli_spec *spec, const cli_args *a, hm_keypair *kp) {
    const char *path = cli_arg(a, "key");
    if (path == NULL)
        return cli_usage_error(spec, "--key FILE is required");
    return cli_load_key(path, kp) == HM_OK ? CLI_EXIT_OK : CLI_EXIT_IO;
}

int cli_write_file(const char *path, const uint8_t *data, size_t data_len) {
    FILE *f = fopen(path, "wb");
    bool ok = f != NULL && fwrite(data, 1, data_len, f) == data_len;
    if (f != NULL && fclose(f) != 0)
        ok = false;
    if (!ok)
        cli_error("cannot write %s", path);
    return ok ? CLI_EXIT_OK : CLI_EXIT_IO;
}

hm_err cli_check_chain_id(const char *text) {
    size_t len = strlen(text);
    if (len == 0 || len > HM_CHAIN_ID_MAX) {
        cli_error("chain id must be 1 to %d characters (got %zu)", HM_CHAIN_ID_MAX, len);
        return HM_ERR_BAD_VALUE;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x21 || c > 0x7e) {
            cli_error("chain id must be printable ASCII without spaces");
            return HM_ERR_BAD_VALUE;
        }
    }
    return HM_OK;
}

#define CLI_GENESIS_MAX (4u * 1024 * 1024)

hm_err cli_genesis_chain_id(const char *path, char chain_id[HM_CHAIN_ID_MAX + 1]) {
    if (!path)
        path = getenv("HALLMARK_GENESIS");
    if (!path || !*path) {
        cli_error("no genesis file: pass --genesis FILE or set HALLMARK_GENESIS");
        return HM_ERR_ARG;
    }
    uint8_t *text = NULL;
    size_t text_len = 0;
    hm_err err = cli_read_file(path, CLI_GENESIS_MAX, &text, &text_len);
    if (err != HM_OK)
        return err == HM_ERR_TOO_LONG ? HM_ERR_BAD_VALUE : err;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)text, text_len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root) {
        cli_error("%s is not JSON: line %d: %s", path, jerr.line, jerr.text);
        return HM_ERR_BAD_VALUE;
    }
    const json_t *field = json_is_object(root) ? json_object_get(root, "chain_id") : NULL;
    if (!json_is_string(field)) {
        cli_error("%s has no string field \"chain_id\"", path);
        json_decref(root);
        return HM_ERR_BAD_VALUE;
    }
    const char *value = json_string_value(field);
    if (strlen(value) != json_string_length(field) || cli_check_chain_id(value) != HM_OK) {
        cli_error("%s: bad \"chain_id\"", path);
        json_decref(root);
        return HM_ERR_BAD_VALUE;
    }
    memcpy(chain_id, value, strlen(value) + 1);
    json_decref(root);
    return HM_OK;
}

/* ---------------------------------------------------------------- output */

char *cli_hex_alloc(const uint8_t *data, size_t data_len) {
    char *text = malloc(2 * data_len + 1);
    if (text)
        hm_hex_encode(data, data_len, text);
    return text;
}

void cli_print_hex(const uint8_t *data, size_t data_len) {
    char *text = cli_hex_alloc(data, data_len);
    if (!text) {
        cli_error("out of memory");
        return;
    }
    puts(text);
    free(text);
}

void cli_print_json(json_t *obj) {
    char *text = obj ? json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (text) {
        puts(text);
        free(text);
    } else {
        cli_error("out of memory");
    }
    json_decref(obj);
}

/* ------------------------------------------------------------------ misc */

uint64_t cli_random_nonce(void) {
    uint8_t b[8];
    uint64_t v = 0;
    if (hm_random_bytes(b, sizeof b) != HM_OK)
        return (uint64_t)time(NULL);
    for (int i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return v;
}

uint64_t cli_monotonic_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int cli_compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------ transactions */

int cli_send_tx(const cli_spec *spec, const cli_args *a, const hm_keypair *kp, uint32_t type,
                const uint8_t *body, size_t body_len, const uint8_t *const *recs,
                const size_t *rec_lens, uint32_t rec_count) {
    char chain_id[HM_CHAIN_ID_MAX + 1];
    hm_err err = cli_genesis_chain_id(cli_arg(a, "genesis"), chain_id);
    if (err != HM_OK)
        return cli_exit_for(err);
    uint64_t nonce = cli_random_nonce();
    const char *nonce_text = cli_arg(a, "nonce");
    if (nonce_text != NULL && !cli_parse_u64(nonce_text, UINT64_MAX, &nonce))
        return cli_usage_error(spec, "--nonce must be a whole number");
    hm_writer w;
    hm_writer_init_growable(&w, CT_TX_MAX);
    /* A keyless transaction carries no nonce: nothing signs it. */
    err = ct_tx_build(&w, type, kp, chain_id, kp ? nonce : 0, body, body_len, rec_count > 0, recs,
                      rec_lens, rec_count);
    if (err != HM_OK) {
        hm_writer_free(&w);
        cli_error("cannot build the transaction: %s", hm_err_message(err));
        return cli_exit_for(err);
    }
    const char *out = cli_arg(a, "out");
    int rc = out != NULL ? cli_write_file(out, w.buf, w.len)
                         : cli_submit_tx(cli_node_url(cli_arg(a, "node")), w.buf, w.len);
    hm_writer_free(&w);
    return rc;
}
