/* lib/random.c — the operating system's secure random source.
 *
 * Layer: lib/, the bottom. The one place lib/ obtains randomness: key
 * generation and the BIP340 aux nonce. Never falls back to a weaker source
 * (no rand(), no time seeds): a failure is reported, not papered over. */
#include "hm.h"

#include <errno.h>
#include <sys/random.h>

hm_err hm_random_bytes(uint8_t *buf, size_t len) {
    if (buf == NULL && len > 0) {
        return HM_ERR_ARG;
    }
    size_t filled = 0;
    while (filled < len) {
        /* getrandom returns at most 32 MiB per call and may be interrupted. */
        ssize_t got = getrandom(buf + filled, len - filled, 0);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            return HM_ERR_RANDOM;
        }
        filled += (size_t)got;
    }
    return HM_OK;
}
