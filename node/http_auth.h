/* node/http_auth.h — signed reads: checking the request signature of an API
 * call, refusing replays, and telling overseers (admins, auditors) apart.
 *
 * Layer: node/. The signed bytes are built by ct_request_message()
 * (contracts/ct_settlement.h) and described in docs/settlement.md. Runs on
 * the node's loop thread only. Never reveals in a refusal whether the thing
 * asked for exists: callers decide 401/403 before any lookup. */
#ifndef HALLMARK_HTTP_AUTH_H
#define HALLMARK_HTTP_AUTH_H

#include "nd.h"

#define ND_AUTH_WINDOW_MS (5u * 60 * 1000) /* accepted clock difference, each way */
#define ND_AUTH_REPLAY_SLOTS (1u << 18)    /* signatures remembered within the window */

typedef struct nd_auth nd_auth;

/* A replay table (heap-owned); nd_auth_free(NULL) is a no-op. */
HM_MUST_USE hm_err nd_auth_new(nd_auth **out);
void nd_auth_free(nd_auth *a);

/* Checks the X-Hallmark-Key/-Time/-Signature headers of req against its
 * method, path, query and body, at now_ms. On success writes the signer and
 * returns 0. Otherwise replies itself (401 for a missing, malformed, stale,
 * wrong or replayed signature; 503 if the replay table is full) and returns
 * that status: the caller must not reply again. */
int nd_auth_check(nd_auth *a, nd_node *n, struct evhttp_request *req, uint64_t now_ms,
                  hm_pubkey *signer);

/* True if key is a genesis admin or a member with the admin or auditor role:
 * those may read every account. */
bool nd_auth_is_overseer(nd_node *n, const hm_pubkey *key);

/* The wall clock in Unix milliseconds. */
uint64_t nd_auth_now_ms(void);

#endif
