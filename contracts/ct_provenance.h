/* contracts/ct_provenance.h — members' GS1 prefixes, items, EPCIS events,
 * custody, recalls and ownership claims: transaction bodies and queries.
 * Included by ct.h; see docs/provenance.md for the rules, the state key
 * schema and the byte layout of every body and record.
 *
 * Layer: contracts/. Everything here is pure: encoders and decoders of
 * canonical bytes, and queries over a committed ct_store. Nothing here keeps
 * a pointer past the call unless it says so. */
#ifndef HALLMARK_CT_PROVENANCE_H
#define HALLMARK_CT_PROVENANCE_H

/* ------------------------------------------------------------- limits */

#ifndef CT_GTIN_LEN
#define CT_GTIN_LEN 14 /* always stored as GTIN-14 (also in ct_gs1.h) */
#endif
#define CT_SERIAL_MAX 20 /* GS1 AI (21) */
#define CT_LOT_MAX 20    /* GS1 AI (10) */
#define CT_EXPIRY_LEN 6  /* GS1 AI (17): YYMMDD */
#define CT_PREFIX_MIN 6  /* GS1 company prefix digits */
#define CT_PREFIX_MAX 12
#define CT_PRODUCT_NAME_MAX 128
#define CT_PRODUCT_DESC_MAX 1024
#define CT_PRODUCT_URL_MAX 512
#define CT_CLAIM_CODE_MAX 64
#define CT_RECALL_REASON_MAX 256
#define CT_ITEMS_PER_TX_MAX 1000 /* items listed in a custody or recall body */
#define CT_URI_MAX 256           /* bizStep, disposition, locations, EPCs */
#define CT_EVENT_EPCS_MAX 64     /* EPCs per event, each list */
#define CT_EVENT_BIZ_MAX 8       /* bizTransaction / source / destination entries */
#define CT_PAGE_MAX 1000         /* rows any query returns at most */
#define CT_CHUNK_LEAVES 16       /* leaves under one stored Merkle node */
#define CT_PREHASH_MAX 3072      /* EPCIS pre-hash string kept in an event record */

/* A member's stable identity: the key it was first registered with (a
 * genesis admin: its genesis key). Rotation changes the key, never the id, so
 * custody and prefix ownership survive a rotation. */
typedef struct {
    uint8_t bytes[HM_PUBKEY_LEN];
} ct_member_id;

/* The id of the active member whose current key is key (HM_ERR_NOT_FOUND if
 * none, revoked or rotated away). */
HM_MUST_USE hm_err ct_member_id_lookup(ct_exec *x, const hm_pubkey *key, ct_member *member,
                                       ct_member_id *id);
HM_MUST_USE hm_err ct_query_member_id(const ct_store *s, const ct_member_id *id, ct_member *member);

/* ------------------------------------------------- member tx bodies (1-3) */

typedef struct {
    hm_pubkey key;
    uint32_t roles; /* ct_role bits, never CT_ROLE_ADMIN */
    char name[CT_MEMBER_NAME_MAX + 1];
} ct_member_add_body;

typedef struct {
    hm_pubkey key; /* the member's current key */
} ct_member_revoke_body;

typedef struct {
    hm_pubkey old_key;
    hm_pubkey new_key;
} ct_member_rotate_body;

HM_MUST_USE hm_err ct_member_add_encode(const ct_member_add_body *b, hm_writer *w);
HM_MUST_USE hm_err ct_member_add_decode(const uint8_t *data, size_t len, ct_member_add_body *b);
HM_MUST_USE hm_err ct_member_revoke_encode(const ct_member_revoke_body *b, hm_writer *w);
HM_MUST_USE hm_err ct_member_revoke_decode(const uint8_t *data, size_t len,
                                           ct_member_revoke_body *b);
HM_MUST_USE hm_err ct_member_rotate_encode(const ct_member_rotate_body *b, hm_writer *w);
HM_MUST_USE hm_err ct_member_rotate_decode(const uint8_t *data, size_t len,
                                           ct_member_rotate_body *b);

/* -------------------------------------------- provenance tx bodies (4-10) */

/* PREFIX_ASSIGN: an admin gives a GS1 company prefix to a brand. */
typedef struct {
    char prefix[CT_PREFIX_MAX + 1]; /* 6-12 digits */
    ct_member_id brand;
} ct_prefix_assign_body;

/* PRODUCT_SET: the prefix owner stores the metadata of one GTIN. Its
 * product hash is SHA-256 of the encoded body; item records bind it. */
typedef struct {
    char gtin[CT_GTIN_LEN + 1];
    char name[CT_PRODUCT_NAME_MAX + 1];
    char description[CT_PRODUCT_DESC_MAX + 1];
    char image_url[CT_PRODUCT_URL_MAX + 1];
} ct_product_body;

/* One ITEM_REGISTER record (the tx body is empty; 1..100,000 records). */
typedef struct {
    char gtin[CT_GTIN_LEN + 1];
    char serial[CT_SERIAL_MAX + 1];
    char lot[CT_LOT_MAX + 1];       /* "" when none */
    char expiry[CT_EXPIRY_LEN + 1]; /* YYMMDD, "" when none */
    uint8_t product_hash[HM_HASH_LEN];
    bool has_code;
    uint8_t code_hash[HM_HASH_LEN]; /* SHA-256 of the hidden claim code */
} ct_item_record;

typedef enum {
    CT_EPCIS_OBJECT = 1,
    CT_EPCIS_AGGREGATION = 2,
    CT_EPCIS_TRANSACTION = 3,
    CT_EPCIS_TRANSFORMATION = 4,
} ct_epcis_type;

typedef enum {
    CT_ACTION_NONE = 0, /* TransformationEvent */
    CT_ACTION_ADD = 1,
    CT_ACTION_OBSERVE = 2,
    CT_ACTION_DELETE = 3,
} ct_epcis_action;

/* An EPC named by an event and, when it is a registered item, the hash of
 * that item's previous event (all zero for its first): the per-item chain. */
typedef struct {
    char epc[CT_URI_MAX + 1];
    uint8_t prev_hash[HM_HASH_LEN];
} ct_event_epc;

typedef struct {
    char type[CT_URI_MAX + 1];
    char value[CT_URI_MAX + 1];
} ct_event_biz;

/* One EVENT_RECORD record: the canonical form of one EPCIS 2.0 event. The
 * event_hash is the event's standard hash ID (CBV 2.0 algorithm) computed by
 * the submitter; the contract stores it and indexes by it. */
typedef struct {
    uint8_t event_hash[HM_HASH_LEN];
    uint8_t type;   /* ct_epcis_type */
    uint8_t action; /* ct_epcis_action */
    uint64_t event_time_ms;
    char tz_offset[7]; /* "+01:00" */
    char biz_step[CT_URI_MAX + 1];
    char disposition[CT_URI_MAX + 1];
    char read_point[CT_URI_MAX + 1];
    char biz_location[CT_URI_MAX + 1];
    char parent[CT_URI_MAX + 1]; /* AggregationEvent container, "" if none */
    uint32_t epc_count;          /* epcList / childEPCs / inputEPCList */
    ct_event_epc epcs[CT_EVENT_EPCS_MAX];
    uint32_t output_count; /* TransformationEvent outputEPCList */
    ct_event_epc outputs[CT_EVENT_EPCS_MAX];
    uint32_t biz_count; /* bizTransactionList */
    ct_event_biz biz[CT_EVENT_BIZ_MAX];
    uint32_t source_count;
    ct_event_biz sources[CT_EVENT_BIZ_MAX];
    uint32_t dest_count;
    ct_event_biz dests[CT_EVENT_BIZ_MAX];
    /* The CBV 2.0 pre-hash string of the event (everything the standard
     * hashes: quantities, sensor data, ILMD, extensions), or "" for a record
     * without it (an event too large to carry it whole in CT_RECORD_MAX). When present the contract
     * checks SHA-256(prehash) == event_hash, so the stored record carries the whole event. */
    uint32_t prehash_len;
    char prehash[CT_PREHASH_MAX + 1];
} ct_event_record;

/* An item reference inside a body: GTIN-14 and serial. */
typedef struct {
    char gtin[CT_GTIN_LEN + 1];
    char serial[CT_SERIAL_MAX + 1];
} ct_item_ref;

/* CUSTODY_TRANSFER: the current custodian hands items to a member. */
typedef struct {
    ct_member_id to;
    uint32_t item_count;
    ct_item_ref items[CT_ITEMS_PER_TX_MAX];
} ct_custody_body;

typedef enum { CT_RECALL_LOT = 1, CT_RECALL_ITEMS = 2 } ct_recall_mode;

/* RECALL: the brand recalls a GTIN's lot, or a list of its items. */
typedef struct {
    uint8_t mode; /* ct_recall_mode */
    char gtin[CT_GTIN_LEN + 1];
    char lot[CT_LOT_MAX + 1];
    char reason[CT_RECALL_REASON_MAX + 1];
    uint32_t item_count;
    ct_item_ref items[CT_ITEMS_PER_TX_MAX];
} ct_recall_body;

/* CLAIM (keyless): whoever reveals the code claims the item. */
typedef struct {
    ct_item_ref item;
    uint8_t code[CT_CLAIM_CODE_MAX];
    size_t code_len;
} ct_claim_body;

/* Encoders write canonical bytes; decoders read exactly one value from
 * (data, len), reject trailing bytes, and validate every field's form (GTIN
 * check digit, serial charset, lengths); they write *b only on success.
 * ct_custody_body and ct_recall_body are large (~40 KB): heap-allocate. */
HM_MUST_USE hm_err ct_prefix_assign_encode(const ct_prefix_assign_body *b, hm_writer *w);
HM_MUST_USE hm_err ct_prefix_assign_decode(const uint8_t *data, size_t len,
                                           ct_prefix_assign_body *b);
HM_MUST_USE hm_err ct_product_encode(const ct_product_body *b, hm_writer *w);
HM_MUST_USE hm_err ct_product_decode(const uint8_t *data, size_t len, ct_product_body *b);
HM_MUST_USE hm_err ct_item_record_encode(const ct_item_record *r, hm_writer *w);
HM_MUST_USE hm_err ct_item_record_decode(const uint8_t *data, size_t len, ct_item_record *r);
HM_MUST_USE hm_err ct_event_record_encode(const ct_event_record *r, hm_writer *w);
HM_MUST_USE hm_err ct_event_record_decode(const uint8_t *data, size_t len, ct_event_record *r);
HM_MUST_USE hm_err ct_custody_encode(const ct_custody_body *b, hm_writer *w);
HM_MUST_USE hm_err ct_custody_decode(const uint8_t *data, size_t len, ct_custody_body *b);
HM_MUST_USE hm_err ct_recall_encode(const ct_recall_body *b, hm_writer *w);
HM_MUST_USE hm_err ct_recall_decode(const uint8_t *data, size_t len, ct_recall_body *b);
HM_MUST_USE hm_err ct_claim_encode(const ct_claim_body *b, hm_writer *w);
HM_MUST_USE hm_err ct_claim_decode(const uint8_t *data, size_t len, ct_claim_body *b);

/* The canonical EPC of an item, "https://id.gs1.org/01/{gtin14}/21/{serial}"
 * (what events name); out capacity at least CT_URI_MAX + 1. */
HM_MUST_USE hm_err ct_item_epc(const char *gtin14, const char *serial, char *out, size_t out_cap);
/* Whether epc names an item (GTIN + serial) in the canonical form above;
 * writes the item ref when it does. */
bool ct_epc_item_parse(const char *epc, ct_item_ref *out);

/* -------------------------------------------------- refusal rule numbers
 *
 * Every refusal names one of these in ct_result.rule (docs/provenance.md
 * lists them with their error codes). */
typedef enum {
    CT_RULE_BODY = 100,              /* body or record does not decode */
    CT_RULE_NOT_ADMIN = 101,         /* only an admin may do this */
    CT_RULE_MEMBER_EXISTS = 102,     /* key already used (keys are never reused) */
    CT_RULE_BAD_ROLES = 103,         /* roles empty, unknown, or admin */
    CT_RULE_NO_MEMBER = 104,         /* target member unknown or revoked */
    CT_RULE_SELF_REVOKE = 105,       /* an admin cannot revoke itself */
    CT_RULE_ROTATE_GENESIS = 106,    /* genesis admins are fixed by genesis */
    CT_RULE_NOT_SELF_OR_ADMIN = 107, /* rotate: the member itself or an admin */
    CT_RULE_BAD_KEY = 108,           /* not a curve point */
    CT_RULE_SIGNER = 109,            /* signer missing (keyless tx of a keyed type) */
    CT_RULE_RECORDS = 110,           /* records where none allowed, or missing */
    CT_RULE_PREFIX_TAKEN = 200,      /* prefix (or an overlapping one) assigned */
    CT_RULE_NOT_BRAND = 201,         /* target or signer lacks the brand role */
    CT_RULE_PREFIX_OWNER = 202,      /* GTIN's prefix not owned by the signer */
    CT_RULE_NO_PRODUCT = 203,        /* GTIN has no product metadata */
    CT_RULE_PRODUCT_HASH = 204,      /* record's product hash is not the current one */
    CT_RULE_ITEM_EXISTS = 205,       /* item already registered (or twice in a batch) */
    CT_RULE_NO_ITEM = 206,           /* item not registered */
    CT_RULE_NOT_CUSTODIAN = 207,     /* signer does not hold the item */
    CT_RULE_EVENT_ROLE = 208,        /* signer's roles may not record events */
    CT_RULE_CHAIN = 209,             /* prev_hash is not the item's last event */
    CT_RULE_EVENT_EXISTS = 210,      /* event hash already stored */
    CT_RULE_TRANSFER_TO = 211,       /* receiver not an active custody member */
    CT_RULE_NOT_ITEM_BRAND = 212,    /* recall: signer is not the item's brand */
    CT_RULE_NO_CODE = 213,           /* claim: item has no claim code */
    CT_RULE_BAD_CODE = 214,          /* claim: code does not match */
    CT_RULE_CLAIMED = 215,           /* claim: already claimed */
    CT_RULE_DUPLICATE = 216,         /* an item twice in one tx or one event */
    CT_RULE_CONTAINER = 217,         /* aggregation: child packed elsewhere / not here */
    CT_RULE_EVENT_HASH = 218,        /* SHA-256(prehash) is not the event hash */
} ct_prov_rule;

/* ------------------------------------------------------------- queries
 *
 * Over a committed store (the node's RocksDB, or a memstore in tests). All
 * return HM_ERR_NOT_FOUND for an unknown key and HM_ERR_IO from the store. */

typedef struct {
    ct_item_record record; /* as registered */
    ct_member_id brand;
    ct_member_id custodian;
    uint8_t reg_tx[HM_HASH_LEN]; /* the ITEM_REGISTER tx id */
    uint32_t reg_index;          /* the record's index in that batch */
    bool recalled;               /* by item or by its lot */
    char recall_reason[CT_RECALL_REASON_MAX + 1];
    bool claimed;
    uint64_t claimed_ms; /* block time of the claim */
    uint32_t event_count;
    uint8_t last_event[HM_HASH_LEN]; /* zero when none */
} ct_item_status;

HM_MUST_USE hm_err ct_query_item(const ct_store *s, const char *gtin14, const char *serial,
                                 ct_item_status *out);
/* ct_query_item in two parts, for callers that keep the second one:
 * ct_query_item_in_batch fills everything but reg_tx (left zero) and writes
 * the item's batch number; ct_query_batch_tx gives a batch's registering tx
 * id (HM_ERR_NOT_FOUND for an unknown batch). A batch's tx never changes, and
 * its meta holds every chunk root (about 200 KB for 100,000 records), so a
 * reader answering many items keeps batch -> tx id instead of re-reading it. */
HM_MUST_USE hm_err ct_query_item_in_batch(const ct_store *s, const char *gtin14, const char *serial,
                                          ct_item_status *out, uint64_t *batch);
HM_MUST_USE hm_err ct_query_batch_tx(const ct_store *s, uint64_t batch, uint8_t tx_id[HM_HASH_LEN]);

/* The inclusion proof of record index of batch tx_id to its records_root:
 * leaf hash, path (RFC 9162, leaf upward), tree size and root. */
typedef struct {
    uint8_t leaf_hash[HM_HASH_LEN];
    uint8_t root[HM_HASH_LEN];
    uint64_t tree_size;
    uint64_t index;
    size_t path_len;
    uint8_t path[HM_MERKLE_PROOF_MAX][HM_HASH_LEN];
} ct_record_proof;

HM_MUST_USE hm_err ct_query_record_proof(const ct_store *s, const uint8_t tx_id[HM_HASH_LEN],
                                         uint32_t index, ct_record_proof *out);

/* A stored event: its record bytes (malloc'd, caller frees) and where it came
 * from. */
typedef struct {
    uint8_t *record;
    size_t record_len;
    uint8_t tx_id[HM_HASH_LEN];
    uint32_t index;
    ct_member_id signer;
} ct_stored_event;

HM_MUST_USE hm_err ct_query_event(const ct_store *s, const uint8_t hash[HM_HASH_LEN],
                                  ct_stored_event *out);
void ct_stored_event_clear(ct_stored_event *e);

/* Paginated listings: visit is called with each row in order (at most limit,
 * which must be 1..CT_PAGE_MAX); *next (capacity CT_KEY_MAX) receives an
 * opaque cursor for the next page and *next_len 0 when there is none. Pass
 * the previous cursor as (after, after_len), or NULL/0 for the first page. */
typedef bool (*ct_hash_visit_fn)(void *arg, const uint8_t hash[HM_HASH_LEN]);
typedef bool (*ct_item_visit_fn)(void *arg, const char *gtin14, const char *serial);

/* An item's event hashes in the order they were recorded (including events
 * on a container while the item was packed in it). */
HM_MUST_USE hm_err ct_query_item_history(const ct_store *s, const char *gtin14, const char *serial,
                                         const uint8_t *after, size_t after_len, uint32_t limit,
                                         ct_hash_visit_fn visit, void *arg, uint8_t *next,
                                         size_t *next_len);
HM_MUST_USE hm_err ct_query_brand_items(const ct_store *s, const ct_member_id *brand,
                                        const uint8_t *after, size_t after_len, uint32_t limit,
                                        ct_item_visit_fn visit, void *arg, uint8_t *next,
                                        size_t *next_len);

/* Event filter: each field empty/zero means "any". time range [from, to). */
typedef struct {
    char gtin[CT_GTIN_LEN + 1];
    char lot[CT_LOT_MAX + 1]; /* needs gtin */
    char biz_step[CT_URI_MAX + 1];
    uint64_t time_from_ms;
    uint64_t time_to_ms; /* 0: no upper bound */
} ct_event_filter;

HM_MUST_USE hm_err ct_query_events(const ct_store *s, const ct_event_filter *f,
                                   const uint8_t *after, size_t after_len, uint32_t limit,
                                   ct_hash_visit_fn visit, void *arg, uint8_t *next,
                                   size_t *next_len);

/* ------------------------------------------------------- EPCIS 2.0 JSON
 *
 * An EPCIS 2.0 document (EPCISDocument or EPCISQueryDocument, JSON or
 * JSON-LD) parsed into events, each with its CBV 2.0 pre-hash string and
 * standard event hash, and convertible into an EVENT_RECORD record. XML is
 * not supported (docs/provenance.md lists every unsupported case). */

#define CT_EPCIS_DOC_MAX (8u * 1024 * 1024) /* bytes of one document */
#define CT_EPCIS_EVENTS_MAX 100000
#define CT_EPCIS_HASH_ID_LEN 89 /* "ni:///sha-256;" 64 hex "?ver=CBV2.0" */

typedef struct ct_epcis_doc ct_epcis_doc;

/* Parses json (len bytes, need not be NUL-terminated). On a refusal returns
 * HM_ERR_BAD_VALUE / HM_ERR_TOO_LONG / HM_ERR_UNKNOWN_TYPE with a sentence in
 * why (naming the event index when there is one). *out is heap-owned. */
HM_MUST_USE hm_err ct_epcis_doc_parse(const char *json, size_t len, ct_epcis_doc **out, char *why,
                                      size_t why_cap);
void ct_epcis_doc_free(ct_epcis_doc *d);
size_t ct_epcis_doc_count(const ct_epcis_doc *d);
/* The pre-hash string of event i (valid while d is). */
const char *ct_epcis_doc_prehash(const ct_epcis_doc *d, size_t i);
void ct_epcis_doc_hash(const ct_epcis_doc *d, size_t i, uint8_t out[HM_HASH_LEN]);
/* The event as a record (prev hashes zero: the importer fills them from
 * state). HM_ERR_BAD_VALUE / HM_ERR_TOO_LONG with why for an event Hallmark
 * cannot store. */
HM_MUST_USE hm_err ct_epcis_doc_record(const ct_epcis_doc *d, size_t i, ct_event_record *out,
                                       char *why, size_t why_cap);
/* The previous event of an item EPC for chaining: HM_OK with out set (zero
 * when the item has no event yet), HM_ERR_NOT_FOUND when it is not a
 * registered item (the import is then refused), other errors pass through. */
typedef hm_err (*ct_epcis_prev_fn)(void *arg, const char *epc, uint8_t out[HM_HASH_LEN]);
/* ct_epcis_prev_fn over a committed store (arg: const ct_store *). */
hm_err ct_epcis_prev_from_store(void *arg, const char *epc, uint8_t out[HM_HASH_LEN]);

/* Encoded EVENT_RECORD records of events [first, first + count) of d, each
 * item EPC chained to its previous event: earlier in d if there is one, else
 * prev(arg, epc). All-or-nothing: on a refusal returns its error with why
 * (naming the event) and allocates nothing. *recs and *lens are malloc'd
 * arrays of count entries; free with ct_epcis_records_free. */
HM_MUST_USE hm_err ct_epcis_doc_records(const ct_epcis_doc *d, size_t first, size_t count,
                                        ct_epcis_prev_fn prev, void *arg, uint8_t ***recs,
                                        size_t **lens, char *why, size_t why_cap);
void ct_epcis_records_free(uint8_t **recs, size_t *lens, size_t count);

/* The bytes of a tx whose signature was made elsewhere (the node assembling
 * what a member signed): the same envelope ct_tx_build writes. */
HM_MUST_USE hm_err ct_epcis_tx_assemble(hm_writer *w, uint32_t type, const hm_pubkey *signer,
                                        uint64_t nonce, const uint8_t *const *records,
                                        const size_t *lens, uint32_t count, const hm_sig *sig);

/* An xsd:dateTime with a zone ("2024-01-01T08:00:00.5+08:00") -> Unix ms
 * (rounded as the hash algorithm rounds). HM_ERR_BAD_VALUE otherwise. */
HM_MUST_USE hm_err ct_epcis_time_parse(const char *text, int64_t *ms);

/* "ni:///sha-256;<hex>?ver=CBV2.0" (out capacity CT_EPCIS_HASH_ID_LEN + 1). */
void ct_epcis_hash_id(const uint8_t hash[HM_HASH_LEN], char *out);
HM_MUST_USE hm_err ct_epcis_hash_id_parse(const char *text, uint8_t hash[HM_HASH_LEN]);
/* Canonical (pre-hash) form of one value of an EPC field: EPC URNs become
 * GS1 Digital Link URIs on id.gs1.org. out capacity >= CT_URI_MAX + 1. */
HM_MUST_USE hm_err ct_epcis_epc_normalize(const char *epc, char *out, size_t out_cap);

/* Reading a stored pre-hash string back (contracts/epcis_out.c). */
#define CT_EPCIS_PREHASH_READ_MAX (64 * 1024) /* bytes of one pre-hash string read back */
#define CT_EPCIS_OUT_PREFIXES_MAX 32          /* extension namespaces of one event */

struct json_t;
/* The EPCIS 2.0 JSON-LD event whose CBV 2.0 pre-hash string is prehash (len
 * bytes, need not be NUL-terminated): type, times, EPC and quantity lists,
 * action, bizStep, disposition, persistentDisposition, certificationInfo,
 * transformationID, readPoint and bizLocation (with their extensions),
 * business lists, sensorElementList, ilmd and user extensions, with numbers
 * as JSON numbers where the standard has numbers. Extension keys use the
 * prefixes of the standard context or "ext" + 8 hex digits of the
 * namespace's SHA-256; *context receives those extra prefixes as a JSON-LD
 * context object (empty when there are none). The result is checked: the
 * pre-hash of *event under that context is prehash, byte for byte.
 *
 * HM_OK: *event and *context are new references the caller releases.
 * HM_ERR_TOO_LONG (len over CT_EPCIS_PREHASH_READ_MAX, too many namespaces),
 * HM_ERR_BAD_VALUE (malformed, or not readable back exactly) with a sentence
 * in why; *event and *context are then NULL. Pure and bounded: at most two
 * readings of the string, each at most len times the nesting depth (16). */
HM_MUST_USE hm_err ct_epcis_prehash_json(const char *prehash, size_t len, struct json_t **event,
                                         struct json_t **context, char *why, size_t why_cap);

HM_MUST_USE hm_err ct_query_product(const ct_store *s, const char *gtin14, ct_product_body *out,
                                    ct_member_id *owner);
HM_MUST_USE hm_err ct_query_prefix(const ct_store *s, const char *prefix, ct_member_id *owner);

#endif
