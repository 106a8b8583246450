/* cli/cmd_merkle.c — `hallmark merkle`: RFC 9162 Merkle tree roots,
 * inclusion and consistency proofs over a file of leaves, and their checks.
 *
 * Layer: cli/ (top), over lib/'s Merkle functions; it computes nothing of its
 * own, so what it prints is what the node and the proof bundles use. Never
 * reads more than CLI_FILE_MAX bytes or MERKLE_LEAVES_MAX leaves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

#define MERKLE_LEAVES_MAX 10000000u

/* The leaf file: one leaf per line, LF-terminated (a CR before the LF is
 * dropped; a missing final LF is fine). The leaf is the line's bytes, or with
 * --hex the bytes its hex digits spell (an empty line is the empty leaf). */
static const char leaf_file_help[] =
    "FILE holds one leaf per line ('-' for standard input); a leaf is the line's\n"
    "bytes without its line ending, or with --hex the bytes its hex digits spell\n"
    "(an empty line is then the empty leaf). Leaves are hashed as RFC 9162 says:\n"
    "SHA-256(0x00 || leaf).";

typedef struct {
    uint8_t (*hashes)[HM_HASH_LEN]; /* malloc'd leaf hashes */
    size_t count;
} leaf_list;

static json_t *json_hex(const uint8_t *data, size_t data_len) {
    char *text = cli_hex_alloc(data, data_len);
    json_t *value = text ? json_string(text) : NULL;
    free(text);
    return value;
}

static json_t *json_hash_array(const uint8_t (*hashes)[HM_HASH_LEN], size_t count) {
    json_t *array = json_array();
    for (size_t i = 0; array && i < count; i++)
        json_array_append_new(array, json_hex(hashes[i], HM_HASH_LEN));
    return array;
}

/* Reads and hashes the leaves of path; prints why on failure and returns the
 * exit code. */
static int load_leaves(const char *path, bool hex, leaf_list *out) {
    out->hashes = NULL;
    out->count = 0;
    uint8_t *text = NULL;
    size_t text_len = 0;
    if (cli_read_file(path, CLI_FILE_MAX, &text, &text_len) != HM_OK)
        return CLI_EXIT_IO;
    size_t lines = 0;
    for (size_t i = 0; i < text_len; i++)
        lines += text[i] == '\n';
    if (text_len > 0 && text[text_len - 1] != '\n')
        lines++;
    if (lines > MERKLE_LEAVES_MAX) {
        cli_error("%s has %zu leaves; at most %u are accepted", path, lines, MERKLE_LEAVES_MAX);
        free(text);
        return CLI_EXIT_USAGE;
    }
    out->hashes = malloc((lines ? lines : 1) * sizeof *out->hashes);
    uint8_t *leaf = hex ? malloc(text_len / 2 + 1) : NULL;
    if (!out->hashes || (hex && !leaf)) {
        cli_error("out of memory for %zu leaves", lines);
        free(text);
        free(out->hashes);
        free(leaf);
        out->hashes = NULL;
        return CLI_EXIT_IO;
    }
    size_t start = 0;
    while (start < text_len) {
        size_t end = start;
        while (end < text_len && text[end] != '\n')
            end++;
        size_t line_len = end - start;
        if (line_len > 0 && text[start + line_len - 1] == '\r')
            line_len--;
        uint8_t *line = text + start;
        if (hex) {
            /* hm_hex_decode_any wants NUL-terminated text: end the line
             * in place (the byte there is the LF, a CR or the final NUL). */
            line[line_len] = 0;
            size_t leaf_len = 0;
            if (hm_hex_decode_any((const char *)line, leaf, text_len / 2 + 1, &leaf_len) != HM_OK) {
                cli_error("%s: line %zu is not an even number of hex digits", path, out->count + 1);
                free(text);
                free(leaf);
                free(out->hashes);
                out->hashes = NULL;
                return CLI_EXIT_USAGE;
            }
            hm_merkle_leaf_hash(leaf, leaf_len, out->hashes[out->count]);
        } else {
            hm_merkle_leaf_hash(line, line_len, out->hashes[out->count]);
        }
        out->count++;
        start = end + 1;
    }
    free(text);
    free(leaf);
    return CLI_EXIT_OK;
}

/* Reads proof hashes from positional arguments and from a file of one hex
 * hash per line (blank lines ignored). */
static int load_proof(const cli_spec *spec, const cli_args *a, int first_positional,
                      uint8_t (*proof)[HM_HASH_LEN], size_t *proof_len) {
    *proof_len = 0;
    const char *proof_file = cli_arg(a, "proof-file");
    if (proof_file) {
        uint8_t *text = NULL;
        size_t text_len = 0;
        if (cli_read_file(proof_file, 64 * 1024, &text, &text_len) != HM_OK)
            return CLI_EXIT_IO;
        char *save = NULL;
        for (char *tok = strtok_r((char *)text, " \t\r\n", &save); tok;
             tok = strtok_r(NULL, " \t\r\n", &save)) {
            if (*proof_len >= HM_MERKLE_PROOF_MAX) {
                free(text);
                return cli_usage_error(spec, "more than %d proof hashes", HM_MERKLE_PROOF_MAX);
            }
            if (hm_hex_decode(tok, proof[*proof_len], HM_HASH_LEN) != HM_OK) {
                free(text);
                return cli_usage_error(spec, "%s: '%s' is not a 64-digit hex hash", proof_file,
                                       tok);
            }
            (*proof_len)++;
        }
        free(text);
    }
    for (int i = first_positional; i < a->positional_count; i++) {
        if (*proof_len >= HM_MERKLE_PROOF_MAX)
            return cli_usage_error(spec, "more than %d proof hashes", HM_MERKLE_PROOF_MAX);
        if (hm_hex_decode(a->positional[i], proof[*proof_len], HM_HASH_LEN) != HM_OK)
            return cli_usage_error(spec, "proof hash '%s' is not 64 hex digits", a->positional[i]);
        (*proof_len)++;
    }
    return CLI_EXIT_OK;
}

static int parse_hash_opt(const cli_spec *spec, const cli_args *a, const char *name,
                          uint8_t out[HM_HASH_LEN]) {
    const char *text = cli_arg(a, name);
    if (!text)
        return cli_usage_error(spec, "--%s HEX is required", name);
    if (hm_hex_decode(text, out, HM_HASH_LEN) != HM_OK)
        return cli_usage_error(spec, "--%s must be 64 hex digits", name);
    return CLI_EXIT_OK;
}

static int parse_count_opt(const cli_spec *spec, const cli_args *a, const char *name,
                           uint64_t *out) {
    const char *text = cli_arg(a, name);
    if (!text)
        return cli_usage_error(spec, "--%s N is required", name);
    if (!cli_parse_u64(text, UINT64_MAX, out))
        return cli_usage_error(spec, "--%s must be a whole number", name);
    return CLI_EXIT_OK;
}

/* The common start of `proof` and `consistency`: the whole-number option
 * count_name, then the leaves of the FILE argument (--hex: hex lines). */
static int load_counted_leaves(const cli_spec *spec, const cli_args *a, const char *count_name,
                               uint64_t *count, leaf_list *leaves) {
    int rc = parse_count_opt(spec, a, count_name, count);
    if (rc != CLI_EXIT_OK)
        return rc;
    return load_leaves(a->positional[0], cli_flag(a, "hex"), leaves);
}

/* Prints proof hashes one hex hash per line, the form --proof-file reads. */
static void print_proof_lines(const uint8_t (*proof)[HM_HASH_LEN], size_t proof_len) {
    for (size_t i = 0; i < proof_len; i++)
        cli_print_hex(proof[i], HM_HASH_LEN);
}

/* -------------------------------------------------------------------- root */

static const cli_opt root_opts[] = {
    {"hex", NULL, "each line is the leaf in hex"},
    {"json", NULL, "print {\"size\", \"root\"} as JSON"},
    {NULL, NULL, NULL},
};
static const cli_spec root_spec = {
    .usage = "hallmark merkle root FILE [--hex] [--json]",
    .description = leaf_file_help,
    .opts = root_opts,
    .positional_min = 1,
    .positional_max = 1,
};

static int cmd_root(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&root_spec, argc, argv, &a, &rc))
        return rc;
    leaf_list leaves;
    rc = load_leaves(a.positional[0], cli_flag(&a, "hex"), &leaves);
    if (rc != CLI_EXIT_OK)
        return rc;
    uint8_t root[HM_HASH_LEN];
    hm_merkle_root((const uint8_t(*)[HM_HASH_LEN])leaves.hashes, leaves.count, root);
    free(leaves.hashes);
    if (cli_flag(&a, "json"))
        cli_print_json(json_pack("{s:I, s:o}", "size", (json_int_t)leaves.count, "root",
                                 json_hex(root, sizeof root)));
    else
        cli_print_hex(root, sizeof root);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------- proof */

static const cli_opt proof_opts[] = {
    {"index", "I", "the leaf to prove (0-based)"},
    {"hex", NULL, "each line is the leaf in hex"},
    {"json", NULL, "print index, size, leaf hash, root and proof as JSON"},
    {NULL, NULL, NULL},
};
static const cli_spec proof_spec = {
    .usage = "hallmark merkle proof FILE --index I [--hex] [--json]",
    .description = "Prints the RFC 9162 inclusion proof of leaf I, one hash per line, from the\n"
                   "leaf up. `hallmark merkle verify --proof-file` reads that output back.\n\n"
                   "FILE holds one leaf per line; see `hallmark merkle root --help`.",
    .opts = proof_opts,
    .positional_min = 1,
    .positional_max = 1,
};

static int cmd_proof(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&proof_spec, argc, argv, &a, &rc))
        return rc;
    uint64_t index = 0;
    leaf_list leaves;
    rc = load_counted_leaves(&proof_spec, &a, "index", &index, &leaves);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (index >= leaves.count) {
        free(leaves.hashes);
        return cli_usage_error(&proof_spec, "--index %llu is not below the %zu leaves",
                               (unsigned long long)index, leaves.count);
    }
    const uint8_t(*hashes)[HM_HASH_LEN] = (const uint8_t(*)[HM_HASH_LEN])leaves.hashes;
    uint8_t proof[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
    size_t proof_len = 0;
    uint8_t root[HM_HASH_LEN];
    hm_err err = hm_merkle_inclusion_proof(hashes, leaves.count, (size_t)index, proof, &proof_len);
    hm_merkle_root(hashes, leaves.count, root);
    if (err != HM_OK) {
        free(leaves.hashes);
        cli_error("cannot build the proof: %s", hm_err_message(err));
        return cli_exit_for(err);
    }
    if (cli_flag(&a, "json")) {
        cli_print_json(json_pack("{s:I, s:I, s:o, s:o, s:o}", "index", (json_int_t)index, "size",
                                 (json_int_t)leaves.count, "leaf_hash",
                                 json_hex(leaves.hashes[index], HM_HASH_LEN), "root",
                                 json_hex(root, sizeof root), "proof",
                                 json_hash_array((const uint8_t(*)[HM_HASH_LEN])proof, proof_len)));
    } else {
        print_proof_lines((const uint8_t(*)[HM_HASH_LEN])proof, proof_len);
    }
    free(leaves.hashes);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ verify */

static const cli_opt verify_opts[] = {
    {"root", "HEX", "the tree's root"},
    {"size", "N", "the tree's size (leaves)"},
    {"index", "I", "the leaf's index (0-based)"},
    {"leaf", "TEXT", "the leaf's bytes as text"},
    {"leaf-hex", "HEX", "the leaf's bytes in hex"},
    {"leaf-hash", "HEX", "the leaf's hash, SHA-256(0x00 || leaf)"},
    {"proof-file", "FILE", "proof hashes, one hex hash per line (as `merkle proof` prints)"},
    {"json", NULL, "print {\"valid\"} as JSON"},
    {NULL, NULL, NULL},
};
static const cli_spec verify_spec = {
    .usage = "hallmark merkle verify --root HEX --size N --index I\n"
             "                              (--leaf TEXT | --leaf-hex HEX | --leaf-hash HEX)\n"
             "                              [--proof-file FILE] [PROOF_HASH...] [--json]",
    .description = "Checks an RFC 9162 inclusion proof: the proof hashes come from --proof-file\n"
                   "and then from the arguments, leaf side first. Prints \"valid\" and exits 0,\n"
                   "or \"invalid\" and exits 1.",
    .opts = verify_opts,
    .positional_min = 0,
    .positional_max = HM_MERKLE_PROOF_MAX,
};

static int print_verdict(const cli_args *a, bool valid) {
    if (cli_flag(a, "json"))
        cli_print_json(json_pack("{s:b}", "valid", valid));
    else
        puts(valid ? "valid" : "invalid");
    return valid ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

static int cmd_verify(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&verify_spec, argc, argv, &a, &rc))
        return rc;
    uint8_t root[HM_HASH_LEN], leaf_hash[HM_HASH_LEN];
    uint64_t size = 0, index = 0;
    if ((rc = parse_hash_opt(&verify_spec, &a, "root", root)) != CLI_EXIT_OK ||
        (rc = parse_count_opt(&verify_spec, &a, "size", &size)) != CLI_EXIT_OK ||
        (rc = parse_count_opt(&verify_spec, &a, "index", &index)) != CLI_EXIT_OK)
        return rc;
    const char *leaf = cli_arg(&a, "leaf");
    const char *leaf_hex = cli_arg(&a, "leaf-hex");
    const char *leaf_hash_hex = cli_arg(&a, "leaf-hash");
    if ((leaf != NULL) + (leaf_hex != NULL) + (leaf_hash_hex != NULL) != 1)
        return cli_usage_error(&verify_spec, "give exactly one of --leaf, --leaf-hex, --leaf-hash");
    if (leaf) {
        hm_merkle_leaf_hash((const uint8_t *)leaf, strlen(leaf), leaf_hash);
    } else if (leaf_hex) {
        size_t cap = strlen(leaf_hex) / 2 + 1, len = 0;
        uint8_t *bytes = malloc(cap);
        if (!bytes) {
            cli_error("out of memory");
            return CLI_EXIT_IO;
        }
        if (hm_hex_decode_any(leaf_hex, bytes, cap, &len) != HM_OK) {
            free(bytes);
            return cli_usage_error(&verify_spec, "--leaf-hex: not an even number of hex digits");
        }
        hm_merkle_leaf_hash(bytes, len, leaf_hash);
        free(bytes);
    } else if (hm_hex_decode(leaf_hash_hex, leaf_hash, HM_HASH_LEN) != HM_OK) {
        return cli_usage_error(&verify_spec, "--leaf-hash must be 64 hex digits");
    }
    uint8_t proof[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
    size_t proof_len = 0;
    rc = load_proof(&verify_spec, &a, 0, proof, &proof_len);
    if (rc != CLI_EXIT_OK)
        return rc;
    hm_err err = hm_merkle_inclusion_verify(leaf_hash, index, size,
                                            (const uint8_t(*)[HM_HASH_LEN])proof, proof_len, root);
    return print_verdict(&a, err == HM_OK);
}

/* ------------------------------------------------------------- consistency */

static const cli_opt consistency_opts[] = {
    {"size1", "M", "size of the earlier tree (its first M leaves)"},
    {"hex", NULL, "each line is the leaf in hex"},
    {"json", NULL, "print sizes, both roots and the proof as JSON"},
    {NULL, NULL, NULL},
};
static const cli_spec consistency_spec = {
    .usage = "hallmark merkle consistency FILE --size1 M [--hex] [--json]",
    .description = "Prints the RFC 9162 consistency proof that the tree of the first M leaves\n"
                   "of FILE is a prefix of the tree of all of them, one hash per line.\n"
                   "`hallmark merkle verify-consistency` checks it.\n\n"
                   "FILE holds one leaf per line; see `hallmark merkle root --help`.",
    .opts = consistency_opts,
    .positional_min = 1,
    .positional_max = 1,
};

static int cmd_consistency(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&consistency_spec, argc, argv, &a, &rc))
        return rc;
    uint64_t size1 = 0;
    leaf_list leaves;
    rc = load_counted_leaves(&consistency_spec, &a, "size1", &size1, &leaves);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (size1 == 0 || size1 > leaves.count) {
        free(leaves.hashes);
        return cli_usage_error(&consistency_spec, "--size1 must be 1 to %zu (the leaves)",
                               leaves.count);
    }
    const uint8_t(*hashes)[HM_HASH_LEN] = (const uint8_t(*)[HM_HASH_LEN])leaves.hashes;
    uint8_t proof[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
    size_t proof_len = 0;
    hm_err err =
        hm_merkle_consistency_proof(hashes, leaves.count, (size_t)size1, proof, &proof_len);
    if (err != HM_OK) {
        free(leaves.hashes);
        cli_error("cannot build the proof: %s", hm_err_message(err));
        return cli_exit_for(err);
    }
    uint8_t root1[HM_HASH_LEN], root2[HM_HASH_LEN];
    hm_merkle_root(hashes, (size_t)size1, root1);
    hm_merkle_root(hashes, leaves.count, root2);
    if (cli_flag(&a, "json")) {
        cli_print_json(json_pack("{s:I, s:I, s:o, s:o, s:o}", "size1", (json_int_t)size1, "size2",
                                 (json_int_t)leaves.count, "root1", json_hex(root1, sizeof root1),
                                 "root2", json_hex(root2, sizeof root2), "proof",
                                 json_hash_array((const uint8_t(*)[HM_HASH_LEN])proof, proof_len)));
    } else {
        print_proof_lines((const uint8_t(*)[HM_HASH_LEN])proof, proof_len);
    }
    free(leaves.hashes);
    return CLI_EXIT_OK;
}

static const cli_opt verify_consistency_opts[] = {
    {"size1", "M", "size of the earlier tree"},
    {"size2", "N", "size of the later tree"},
    {"root1", "HEX", "root of the earlier tree"},
    {"root2", "HEX", "root of the later tree"},
    {"proof-file", "FILE", "proof hashes, one hex hash per line (as `merkle consistency` prints)"},
    {"json", NULL, "print {\"valid\"} as JSON"},
    {NULL, NULL, NULL},
};
static const cli_spec verify_consistency_spec = {
    .usage = "hallmark merkle verify-consistency --size1 M --size2 N --root1 HEX --root2 HEX\n"
             "                                          [--proof-file FILE] [PROOF_HASH...] "
             "[--json]",
    .description = "Checks an RFC 9162 consistency proof. Prints \"valid\" and exits 0, or\n"
                   "\"invalid\" and exits 1. M = 0 is never valid; M = N needs equal roots\n"
                   "and an empty proof.",
    .opts = verify_consistency_opts,
    .positional_min = 0,
    .positional_max = HM_MERKLE_PROOF_MAX,
};

static int cmd_verify_consistency(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&verify_consistency_spec, argc, argv, &a, &rc))
        return rc;
    const cli_spec *spec = &verify_consistency_spec;
    uint8_t root1[HM_HASH_LEN], root2[HM_HASH_LEN];
    uint64_t size1 = 0, size2 = 0;
    if ((rc = parse_count_opt(spec, &a, "size1", &size1)) != CLI_EXIT_OK ||
        (rc = parse_count_opt(spec, &a, "size2", &size2)) != CLI_EXIT_OK ||
        (rc = parse_hash_opt(spec, &a, "root1", root1)) != CLI_EXIT_OK ||
        (rc = parse_hash_opt(spec, &a, "root2", root2)) != CLI_EXIT_OK)
        return rc;
    uint8_t proof[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
    size_t proof_len = 0;
    rc = load_proof(spec, &a, 0, proof, &proof_len);
    if (rc != CLI_EXIT_OK)
        return rc;
    hm_err err = hm_merkle_consistency_verify(size1, size2, root1, root2,
                                              (const uint8_t(*)[HM_HASH_LEN])proof, proof_len);
    return print_verdict(&a, err == HM_OK);
}

/* --------------------------------------------------------------- dispatch */

static const cli_command merkle_commands[] = {
    {"consistency", "print the consistency proof between two sizes of a tree", cmd_consistency},
    {"proof", "print the inclusion proof of one leaf", cmd_proof},
    {"root", "print the root of the tree of a file's leaves", cmd_root},
    {"verify", "check an inclusion proof", cmd_verify},
    {"verify-consistency", "check a consistency proof", cmd_verify_consistency},
};

int cli_cmd_merkle(int argc, char **argv) {
    return cli_dispatch(merkle_commands, sizeof merkle_commands / sizeof merkle_commands[0],
                        "hallmark merkle <subcommand>", argc - 1, argv + 1);
}
