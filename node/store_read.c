/* node/store_read.c — read helpers over the committed chain for the HTTP
 * modules, built on the store's internal API (node/nd_int.h).
 *
 * Layer: node/. Reads only: it never writes the store, and it holds nothing
 * between calls. Kept apart from node/store.c, the one file that speaks to
 * RocksDB, so that readers can grow without touching the write path. */
#include <stdlib.h>

#include "nd_int.h"

hm_err nd_node_block_read(nd_node *n, uint64_t height, nd_block *out) {
    if (n == NULL || out == NULL || height == 0) {
        return HM_ERR_ARG;
    }
    uint8_t *raw = NULL;
    size_t len = 0;
    hm_err err = nd_store_get_block(n->store, height, &raw, &len);
    if (err != HM_OK) {
        return err;
    }
    err = nd_block_take(raw, len, n->g.block_txs_max, out);
    /* A stored block that does not decode is damage, not bad input. */
    return err == HM_OK ? HM_OK : HM_ERR_IO;
}
