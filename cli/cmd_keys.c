/* cli/cmd_keys.c — `hallmark keygen`, `key show`, `sign` and `verify-sig`:
 * key files and domain-separated BIP340 signatures from the shell.
 *
 * Layer: cli/ (top), over lib/'s keys and signatures. Never prints or logs a
 * secret key, never writes a key file except through hm_keyfile_write (mode
 * 0600, no overwrite), and wipes every keypair it loads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

#define MESSAGE_MAX CLI_FILE_MAX

static void print_pubkey(const hm_pubkey *pub, const char *file, bool json) {
    char hex[2 * HM_PUBKEY_LEN + 1];
    hm_hex_encode(pub->bytes, sizeof pub->bytes, hex);
    if (json)
        cli_print_json(json_pack("{s:s, s:s}", "pubkey", hex, "file", file));
    else
        puts(hex);
}

/* ------------------------------------------------------------------ keygen */

static const cli_opt keygen_opts[] = {
    {"out", "FILE", "where to write the new key (created with mode 0600; never overwritten)"},
    {"json", NULL, "print {\"pubkey\", \"file\"} as JSON"},
    {NULL, NULL, NULL},
};
static const cli_spec keygen_spec = {
    .usage = "hallmark keygen --out FILE [--json]",
    .description = "Creates a secp256k1 secret key from the system's secure random source,\n"
                   "writes it to FILE (readable by its owner only) and prints the x-only\n"
                   "public key, which is the identity other nodes and contracts know you by.",
    .opts = keygen_opts,
    .positional_min = 0,
    .positional_max = 0,
};

int cli_cmd_keygen(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&keygen_spec, argc, argv, &a, &rc))
        return rc;
    const char *out = cli_arg(&a, "out");
    if (!out)
        return cli_usage_error(&keygen_spec, "--out FILE is required");
    hm_keypair kp;
    hm_err err = hm_keypair_generate(&kp);
    if (err != HM_OK) {
        cli_error("cannot generate a key: %s", hm_err_message(err));
        return cli_exit_for(err);
    }
    err = hm_keyfile_write(out, &kp);
    if (err != HM_OK) {
        if (err == HM_ERR_EXISTS)
            cli_error("refusing to overwrite %s: %s", out, hm_err_message(err));
        else
            cli_error("cannot write key file %s: %s", out, hm_err_message(err));
        hm_keypair_wipe(&kp);
        return CLI_EXIT_IO;
    }
    print_pubkey(&kp.pub, out, cli_flag(&a, "json"));
    hm_keypair_wipe(&kp);
    return CLI_EXIT_OK;
}

/* --------------------------------------------------------------- key show */

static const cli_opt key_show_opts[] = {
    {"key", "FILE", "the key file"},
    {"json", NULL, "print {\"pubkey\", \"file\"} as JSON"},
    {NULL, NULL, NULL},
};
static const cli_spec key_show_spec = {
    .usage = "hallmark key show --key FILE [--json]",
    .description = "Prints the x-only public key (64 hex digits) of a key file.",
    .opts = key_show_opts,
    .positional_min = 0,
    .positional_max = 0,
};

static int cmd_key_show(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&key_show_spec, argc, argv, &a, &rc))
        return rc;
    hm_keypair kp;
    if ((rc = cli_load_key_opt(&key_show_spec, &a, &kp)) != CLI_EXIT_OK)
        return rc;
    print_pubkey(&kp.pub, cli_arg(&a, "key"), cli_flag(&a, "json"));
    hm_keypair_wipe(&kp);
    return CLI_EXIT_OK;
}

static const cli_command key_commands[] = {
    {"show", "print the public key of a key file", cmd_key_show},
};

int cli_cmd_key(int argc, char **argv) {
    return cli_dispatch(key_commands, sizeof key_commands / sizeof key_commands[0],
                        "hallmark key <subcommand>", argc - 1, argv + 1);
}

/* ------------------------------------------------- what is signed, and how */

static const struct {
    const char *name;
    const char *tag;
} purposes[] = {
    {"raw", HM_PURPOSE_RAW},           {"request", HM_PURPOSE_REQUEST}, {"tx", HM_PURPOSE_TX},
    {"proposal", HM_PURPOSE_PROPOSAL}, {"vote", HM_PURPOSE_VOTE},
};

/* The signed message and its domain, gathered from the options that
 * `sign` and `verify-sig` share. */
typedef struct {
    const char *purpose_tag;
    char chain_id[HM_CHAIN_ID_MAX + 1];
    uint8_t *msg; /* malloc'd */
    size_t msg_len;
} signed_input;

#define SIGNED_INPUT_OPTS                                                                          \
    {"purpose", "NAME", "signing domain: raw (default), request, tx, proposal, vote"},             \
        {"chain-id", "ID", "the chain the signature is for (default: from the genesis file)"},     \
        {"genesis", "FILE", "genesis file to read chain_id from (default $HALLMARK_GENESIS)"},     \
        {"message", "TEXT", "sign/verify TEXT (its UTF-8 bytes, no newline added)"},               \
        {"file", "F", "sign/verify the bytes of file F ('-' for standard input)"},                 \
        {"hex", "H", "sign/verify the bytes given as hex digits"}, {                               \
        "json", NULL, "print the result as JSON"                                                   \
    }

/* Fills in from the options; on failure prints why and returns the exit
 * code (non-zero). */
static int load_signed_input(const cli_spec *spec, const cli_args *a, signed_input *in) {
    memset(in, 0, sizeof *in);
    const char *purpose = cli_arg(a, "purpose");
    if (!purpose)
        purpose = "raw";
    for (size_t i = 0; i < sizeof purposes / sizeof purposes[0]; i++) {
        if (strcmp(purposes[i].name, purpose) == 0)
            in->purpose_tag = purposes[i].tag;
    }
    if (!in->purpose_tag)
        return cli_usage_error(spec, "unknown purpose '%s'", purpose);

    /* The chain id: --chain-id, else a genesis file. A raw signature may do
     * without one (it is then bound to the empty chain id); every protocol
     * purpose must name its chain. */
    const char *chain_id = cli_arg(a, "chain-id");
    const char *genesis = cli_arg(a, "genesis");
    if (chain_id) {
        if (cli_check_chain_id(chain_id) != HM_OK)
            return CLI_EXIT_USAGE;
        memcpy(in->chain_id, chain_id, strlen(chain_id) + 1);
    } else if (genesis || getenv("HALLMARK_GENESIS") || strcmp(purpose, "raw") != 0) {
        hm_err err = cli_genesis_chain_id(genesis, in->chain_id);
        if (err != HM_OK)
            return err == HM_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_IO;
    }

    const char *message = cli_arg(a, "message");
    const char *file = cli_arg(a, "file");
    const char *hex = cli_arg(a, "hex");
    if ((message != NULL) + (file != NULL) + (hex != NULL) != 1)
        return cli_usage_error(spec, "give exactly one of --message, --file, --hex");
    if (message) {
        in->msg_len = strlen(message);
        in->msg = malloc(in->msg_len + 1);
        if (!in->msg) {
            cli_error("out of memory");
            return CLI_EXIT_IO;
        }
        memcpy(in->msg, message, in->msg_len + 1);
    } else if (file) {
        if (cli_read_file(file, MESSAGE_MAX, &in->msg, &in->msg_len) != HM_OK)
            return CLI_EXIT_IO;
    } else {
        size_t cap = strlen(hex) / 2 + 1;
        in->msg = malloc(cap);
        if (!in->msg) {
            cli_error("out of memory");
            return CLI_EXIT_IO;
        }
        if (hm_hex_decode_any(hex, in->msg, cap, &in->msg_len) != HM_OK) {
            free(in->msg);
            in->msg = NULL;
            return cli_usage_error(spec, "--hex: not an even number of hex digits");
        }
    }
    return CLI_EXIT_OK;
}

/* -------------------------------------------------------------------- sign */

static const cli_opt sign_opts[] = {
    {"key", "FILE", "the signing key file"},
    SIGNED_INPUT_OPTS,
    {NULL, NULL, NULL},
};
static const cli_spec sign_spec = {
    .usage = "hallmark sign --key FILE [--purpose NAME] [--chain-id ID | --genesis FILE]\n"
             "                     (--message TEXT | --file F | --hex H) [--json]",
    .description =
        "Signs a message with BIP340 Schnorr over tagged_hash(purpose, chain id, message),\n"
        "so a signature for one purpose or chain never verifies for another, and prints\n"
        "the 64-byte signature as hex. `hallmark verify-sig` checks it.",
    .opts = sign_opts,
    .positional_min = 0,
    .positional_max = 0,
};

int cli_cmd_sign(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&sign_spec, argc, argv, &a, &rc))
        return rc;
    const char *key_path = cli_arg(&a, "key");
    if (!key_path)
        return cli_usage_error(&sign_spec, "--key FILE is required");
    signed_input in;
    rc = load_signed_input(&sign_spec, &a, &in);
    if (rc != CLI_EXIT_OK)
        return rc;
    hm_keypair kp;
    if (cli_load_key(key_path, &kp) != HM_OK) {
        free(in.msg);
        return CLI_EXIT_IO;
    }
    hm_sig sig;
    hm_err err = hm_sign(&kp, in.purpose_tag, in.chain_id, in.msg, in.msg_len, &sig);
    char pub_hex[2 * HM_PUBKEY_LEN + 1];
    hm_hex_encode(kp.pub.bytes, sizeof kp.pub.bytes, pub_hex);
    hm_keypair_wipe(&kp);
    free(in.msg);
    if (err != HM_OK) {
        cli_error("signing failed: %s", hm_err_message(err));
        return CLI_EXIT_IO;
    }
    char sig_hex[2 * HM_SIG_LEN + 1];
    hm_hex_encode(sig.bytes, sizeof sig.bytes, sig_hex);
    if (cli_flag(&a, "json"))
        cli_print_json(json_pack("{s:s, s:s, s:s, s:s}", "sig", sig_hex, "pubkey", pub_hex,
                                 "purpose", in.purpose_tag, "chain_id", in.chain_id));
    else
        puts(sig_hex);
    return CLI_EXIT_OK;
}

/* -------------------------------------------------------------- verify-sig */

static const cli_opt verify_opts[] = {
    {"pubkey", "HEX", "the signer's x-only public key (64 hex digits)"},
    {"sig", "HEX", "the signature (128 hex digits)"},
    SIGNED_INPUT_OPTS,
    {NULL, NULL, NULL},
};
static const cli_spec verify_spec = {
    .usage = "hallmark verify-sig --pubkey HEX --sig HEX [--purpose NAME]\n"
             "                           [--chain-id ID | --genesis FILE]\n"
             "                           (--message TEXT | --file F | --hex H) [--json]",
    .description = "Checks a signature made by `hallmark sign` with the same purpose, chain id\n"
                   "and message. Prints \"valid\" and exits 0, or \"invalid\" and exits 1.",
    .opts = verify_opts,
    .positional_min = 0,
    .positional_max = 0,
};

int cli_cmd_verify_sig(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&verify_spec, argc, argv, &a, &rc))
        return rc;
    const char *pub_hex = cli_arg(&a, "pubkey");
    const char *sig_hex = cli_arg(&a, "sig");
    if (!pub_hex || !sig_hex)
        return cli_usage_error(&verify_spec, "--pubkey and --sig are required");
    hm_pubkey pub;
    hm_sig sig;
    if (hm_hex_decode(pub_hex, pub.bytes, sizeof pub.bytes) != HM_OK)
        return cli_usage_error(&verify_spec, "--pubkey must be %d hex digits", 2 * HM_PUBKEY_LEN);
    if (hm_hex_decode(sig_hex, sig.bytes, sizeof sig.bytes) != HM_OK)
        return cli_usage_error(&verify_spec, "--sig must be %d hex digits", 2 * HM_SIG_LEN);
    signed_input in;
    rc = load_signed_input(&verify_spec, &a, &in);
    if (rc != CLI_EXIT_OK)
        return rc;
    hm_err err = hm_verify(&pub, in.purpose_tag, in.chain_id, in.msg, in.msg_len, &sig);
    free(in.msg);
    if (err == HM_ERR_BAD_KEY) {
        cli_error("--pubkey is not a point on secp256k1");
        return CLI_EXIT_USAGE;
    }
    bool valid = err == HM_OK;
    if (cli_flag(&a, "json"))
        cli_print_json(
            json_pack("{s:b, s:s}", "valid", valid, "reason", valid ? "ok" : hm_err_name(err)));
    else
        puts(valid ? "valid" : "invalid");
    if (!valid && err != HM_ERR_BAD_SIG) {
        cli_error("cannot verify: %s", hm_err_message(err));
        return cli_exit_for(err);
    }
    return valid ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}
