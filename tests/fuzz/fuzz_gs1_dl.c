/* tests/fuzz/fuzz_gs1_dl.c — libFuzzer target for the GS1 Digital Link
 * parser: any bytes as a URI and as a resolver path must be accepted or
 * refused with a reason, never crash or read out of bounds; what is
 * accepted must give an element string and regenerate a URI that parses. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ct_gs1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char text[CT_GS1_DL_URI_MAX + 2];
    if (size > CT_GS1_DL_URI_MAX + 1) {
        size = CT_GS1_DL_URI_MAX + 1;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    static ct_gs1_dl dl;
    const char *why = NULL;
    ct_gs1_dl_options zs = {.zero_suppressed_gtin = (size & 1) != 0};
    hm_err err = ct_gs1_dl_parse_uri(text, &zs, &dl, &why);
    if (err == HM_OK) {
        static char es[CT_GS1_DL_AIS_MAX * (CT_GS1_VALUE_MAX + 8)];
        if (ct_gs1_dl_element_string(&dl, es, sizeof es) != HM_OK) {
            __builtin_trap();
        }
        static char uri[4 * CT_GS1_DL_URI_MAX];
        if (ct_gs1_dl_generate("https://x", dl.ais, dl.ai_count, uri, sizeof uri, &why) == HM_OK) {
            static ct_gs1_dl back;
            if (ct_gs1_dl_parse_uri(uri, &zs, &back, &why) != HM_OK &&
                strlen(uri) <= CT_GS1_DL_URI_MAX) {
                __builtin_trap();
            }
        }
    } else if (why == NULL) {
        __builtin_trap();
    }
    err = ct_gs1_dl_parse_path(text, NULL, &dl, &why);
    (void)err;
    char g[CT_GTIN_LEN + 1];
    (void)ct_gtin_normalize(text, g, NULL);
    return 0;
}
