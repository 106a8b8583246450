/* lib/err.c — names and messages for every hm_err.
 *
 * Layer: lib/, the bottom. Pure tables; never allocates, never fails. The
 * names are stable machine identifiers used in logs and JSON error bodies,
 * so an existing name must never change once released. */
#include "hm.h"

#include <assert.h>

typedef struct {
    const char *name;
    const char *message;
} hm_err_text;

/* Indexed by hm_err; designated initialisers keep it in step with the enum,
 * and the unit test checks that no code is left without a name. */
static const hm_err_text err_texts[HM_ERR__COUNT] = {
    [HM_OK] = {"ok", "success"},
    [HM_ERR_ARG] = {"bad_argument", "an argument is outside its documented domain"},
    [HM_ERR_NOMEM] = {"out_of_memory", "memory allocation failed"},
    [HM_ERR_TRUNCATED] = {"truncated", "the input ended inside a value"},
    [HM_ERR_TRAILING] = {"trailing_bytes", "bytes remain after the value"},
    [HM_ERR_NONMINIMAL] = {"non_minimal", "an integer is not in its shortest encoding"},
    [HM_ERR_OVERFLOW] = {"overflow", "an integer is above its maximum"},
    [HM_ERR_TOO_LONG] = {"too_long", "a length is above its maximum for this field"},
    [HM_ERR_UNKNOWN_TYPE] = {"unknown_type", "a type tag or version is not known"},
    [HM_ERR_BAD_VALUE] = {"bad_value", "a value is outside its domain"},
    [HM_ERR_FULL] = {"output_full", "the output does not fit its capacity"},
    [HM_ERR_HEX] = {"bad_hex", "the text is not hex of the expected length"},
    [HM_ERR_BAD_KEY] = {"bad_key", "not a valid secp256k1 key"},
    [HM_ERR_BAD_SIG] = {"bad_signature", "the signature does not verify"},
    [HM_ERR_PROOF] = {"bad_proof", "the proof or certificate does not verify"},
    [HM_ERR_IO] = {"io_error", "reading or writing a file failed"},
    [HM_ERR_KEY_PERMS] = {"key_permissions",
                          "the key file is accessible by group or others (chmod 600 it)"},
    [HM_ERR_KEY_FORMAT] = {"key_format", "the key file is malformed"},
    [HM_ERR_EXISTS] = {"exists", "refusing to overwrite an existing file"},
    [HM_ERR_RANDOM] = {"random_failed", "the operating system's random source failed"},
    [HM_ERR_NOT_FOUND] = {"not_found", "nothing was found"},
    [HM_ERR_CRYPTO] = {"crypto_failed", "the cryptographic library failed"},
    [HM_ERR_DENIED] = {"denied", "the signer is not allowed to do this"},
    [HM_ERR_CONFLICT] = {"conflict", "refused by a rule over the current state"},
    [HM_ERR_LIMIT] = {"limit_reached", "a configured bound has been reached"},
};

const char *hm_err_name(hm_err err) {
    if ((unsigned)err >= HM_ERR__COUNT) {
        return "unknown_error";
    }
    assert(err_texts[err].name != NULL);
    return err_texts[err].name;
}

const char *hm_err_message(hm_err err) {
    if ((unsigned)err >= HM_ERR__COUNT) {
        return "unknown error code";
    }
    assert(err_texts[err].message != NULL);
    return err_texts[err].message;
}
