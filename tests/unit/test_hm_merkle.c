/* tests/unit/test_hm_merkle.c — RFC 9162 Merkle trees against the official
 * vectors and against random trees.
 *
 * Reads the transparency-dev/merkle probes and the RFC 6962 reference
 * vectors from $HALLMARK_TESTDATA (default ../shared/testdata, relative to
 * the repository root where make runs the tests). The property tests use a
 * seeded splitmix64 generator, so every run checks the same trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hm.h"

#define H HM_HASH_LEN
#define FILES_MAX 256

/* ------------------------------------------------------------ file helpers */

static const char *testdata_dir(void) {
    const char *dir = getenv("HALLMARK_TESTDATA");
    return dir != NULL && dir[0] != '\0' ? dir : "../shared/testdata";
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open %s (set HALLMARK_TESTDATA or run from the repo root)", path);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    assert_true(size >= 0);
    char *text = malloc((size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    text[size] = '\0';
    fclose(f);
    return text;
}

static int compare_paths(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.json under dir (recursively), sorted so runs are repeatable. */
static void list_json(const char *dir, char **paths, size_t *count) {
    DIR *d = opendir(dir);
    if (d == NULL) {
        fail_msg("cannot open directory %s", dir);
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            list_json(path, paths, count);
        } else if (strlen(e->d_name) > 5 &&
                   strcmp(e->d_name + strlen(e->d_name) - 5, ".json") == 0) {
            assert_true(*count < FILES_MAX);
            paths[(*count)++] = strdup(path);
        }
    }
    closedir(d);
}

/* Standard base64 (Go's []byte JSON encoding); returns the decoded length. */
static size_t base64_decode(const char *text, uint8_t *out, size_t out_cap) {
    size_t text_len = strlen(text);
    assert_int_equal(text_len % 4, 0);
    assert_true(text_len / 4 * 3 <= out_cap);
    if (text_len == 0) {
        return 0;
    }
    int n = EVP_DecodeBlock(out, (const unsigned char *)text, (int)text_len);
    assert_true(n >= 0);
    /* EVP_DecodeBlock counts padding as zero bytes. */
    size_t pad = (text[text_len - 1] == '=') + (text[text_len - 2] == '=');
    return (size_t)n - pad;
}

/* Upstream compares roots and proof hashes as byte strings of any length.
 * Our API takes 32-byte hashes, so a value of another length is mapped to
 * SHA-256("not-a-hash" || value): equal values stay equal and none of them
 * can equal a real node hash. */
static void to_hash(const uint8_t *bytes, size_t len, uint8_t out[H]) {
    if (len == H) {
        memcpy(out, bytes, H);
        return;
    }
    uint8_t buf[256];
    assert_true(len + 10 <= sizeof buf);
    memcpy(buf, "not-a-hash", 10);
    memcpy(buf + 10, bytes, len);
    hm_sha256(buf, len + 10, out);
}

static void b64_hash(json_t *v, uint8_t out[H], size_t *raw_len) {
    assert_true(json_is_string(v));
    uint8_t raw[192];
    size_t len = base64_decode(json_string_value(v), raw, sizeof raw);
    to_hash(raw, len, out);
    if (raw_len != NULL) {
        *raw_len = len;
    }
}

static void hex_hash(json_t *v, uint8_t out[H]) {
    assert_true(json_is_string(v));
    assert_int_equal(hm_hex_decode(json_string_value(v), out, H), HM_OK);
}

/* Reads an unsigned integer field straight from the JSON text: some probes
 * hold 2^64-1, which jansson's signed integers cannot represent. The field
 * is then overwritten with a zero so that jansson accepts the document. */
static uint64_t take_u64_field(char *text, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    char *at = strstr(text, pattern);
    assert_non_null(at);
    char *num = at + strlen(pattern);
    while (*num == ' ') {
        num++;
    }
    char *end = NULL;
    uint64_t v = strtoull(num, &end, 10);
    assert_true(end > num);
    /* JSON forbids leading zeros, so one zero and then spaces. */
    for (char *p = num; p < end; p++) {
        *p = p == num ? '0' : ' ';
    }
    return v;
}

static json_t *load_json(char *text, const char *path) {
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (root == NULL) {
        fail_msg("%s: %s", path, jerr.text);
    }
    return root;
}

/* ------------------------------------------------------- upstream probes */

static void test_inclusion_probes(void **state) {
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/merkle/inclusion", testdata_dir());
    char *paths[FILES_MAX];
    size_t count = 0;
    list_json(dir, paths, &count);
    qsort(paths, count, sizeof paths[0], compare_paths);
    assert_int_equal(count, 98);
    size_t want_ok = 0, want_err = 0;
    for (size_t i = 0; i < count; i++) {
        char *text = read_text(paths[i]);
        uint64_t leaf_index = take_u64_field(text, "leafIdx");
        uint64_t tree_size = take_u64_field(text, "treeSize");
        json_t *root = load_json(text, paths[i]);
        bool want_error = json_is_true(json_object_get(root, "wantErr"));
        uint8_t root_hash[H], leaf_hash[H];
        size_t leaf_len = 0;
        b64_hash(json_object_get(root, "root"), root_hash, NULL);
        b64_hash(json_object_get(root, "leafHash"), leaf_hash, &leaf_len);
        json_t *proof_json = json_object_get(root, "proof");
        uint8_t proof[HM_MERKLE_PROOF_MAX + 8][H];
        size_t proof_len = 0;
        if (!json_is_null(proof_json)) {
            assert_true(json_is_array(proof_json));
            proof_len = json_array_size(proof_json);
            assert_true(proof_len <= HM_MERKLE_PROOF_MAX + 8);
            for (size_t j = 0; j < proof_len; j++) {
                b64_hash(json_array_get(proof_json, j), proof[j], NULL);
            }
        }
        /* Upstream rejects a leaf hash that is not 32 bytes before anything
         * else; our API cannot even express one. */
        hm_err err = leaf_len != H ? HM_ERR_PROOF
                                   : hm_merkle_inclusion_verify(leaf_hash, leaf_index, tree_size,
                                                                (const uint8_t(*)[H])proof,
                                                                proof_len, root_hash);
        if (want_error) {
            want_err++;
            if (err == HM_OK) {
                fail_msg("%s: accepted, want an error", paths[i]);
            }
            assert_int_equal(err, HM_ERR_PROOF);
        } else {
            want_ok++;
            if (err != HM_OK) {
                fail_msg("%s: rejected (%s), want success", paths[i], hm_err_name(err));
            }
        }
        json_decref(root);
        free(text);
        free(paths[i]);
    }
    assert_true(want_ok > 0 && want_err > 0);
}

static void test_consistency_probes(void **state) {
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/merkle/consistency", testdata_dir());
    char *paths[FILES_MAX];
    size_t count = 0;
    list_json(dir, paths, &count);
    qsort(paths, count, sizeof paths[0], compare_paths);
    assert_int_equal(count, 98);
    for (size_t i = 0; i < count; i++) {
        char *text = read_text(paths[i]);
        uint64_t size1 = take_u64_field(text, "size1");
        uint64_t size2 = take_u64_field(text, "size2");
        json_t *root = load_json(text, paths[i]);
        bool want_error = json_is_true(json_object_get(root, "wantErr"));
        uint8_t root1[H], root2[H];
        b64_hash(json_object_get(root, "root1"), root1, NULL);
        b64_hash(json_object_get(root, "root2"), root2, NULL);
        json_t *proof_json = json_object_get(root, "proof");
        uint8_t proof[HM_MERKLE_PROOF_MAX + 8][H];
        size_t proof_len = 0;
        if (!json_is_null(proof_json)) {
            assert_true(json_is_array(proof_json));
            proof_len = json_array_size(proof_json);
            assert_true(proof_len <= HM_MERKLE_PROOF_MAX + 8);
            for (size_t j = 0; j < proof_len; j++) {
                b64_hash(json_array_get(proof_json, j), proof[j], NULL);
            }
        }
        hm_err err = hm_merkle_consistency_verify(size1, size2, root1, root2,
                                                  (const uint8_t(*)[H])proof, proof_len);
        if (want_error) {
            if (err == HM_OK) {
                fail_msg("%s: accepted, want an error", paths[i]);
            }
            assert_int_equal(err, HM_ERR_PROOF);
        } else if (err != HM_OK) {
            fail_msg("%s: rejected (%s), want success", paths[i], hm_err_name(err));
        }
        json_decref(root);
        free(text);
        free(paths[i]);
    }
}

/* ----------------------------------------------- RFC 6962 reference tree */

/* Checks a vectors file: leaf hashes from the leaf data, every root, and
 * every inclusion and consistency proof both generated and verified. */
static void check_reference_file(const char *name, size_t inclusion_min, size_t consistency_min) {
    char path[1024];
    snprintf(path, sizeof path, "%s/merkle/%s", testdata_dir(), name);
    char *text = read_text(path);
    json_t *doc = load_json(text, path);

    json_t *leaves_hex = json_object_get(doc, "leaves_hex");
    assert_int_equal(json_array_size(leaves_hex), 8);
    uint8_t leaves[8][H];
    for (size_t i = 0; i < 8; i++) {
        uint8_t data[64];
        size_t data_len = 0;
        assert_int_equal(hm_hex_decode_any(json_string_value(json_array_get(leaves_hex, i)), data,
                                           sizeof data, &data_len),
                         HM_OK);
        hm_merkle_leaf_hash(data, data_len, leaves[i]);
    }
    json_t *leaf_hashes = json_object_get(doc, "leaf_hashes");
    for (size_t i = 0; leaf_hashes != NULL && i < 8; i++) {
        uint8_t want[H];
        hex_hash(json_array_get(leaf_hashes, i), want);
        assert_memory_equal(leaves[i], want, H);
    }
    json_t *roots = json_object_get(doc, "root_by_tree_size");
    for (size_t n = 0; n <= 8; n++) {
        char key[8];
        snprintf(key, sizeof key, "%zu", n);
        uint8_t want[H], got[H];
        hex_hash(json_object_get(roots, key), want);
        hm_merkle_root((const uint8_t(*)[H])leaves, n, got);
        assert_memory_equal(got, want, H);
        hm_merkle_tree *t = NULL;
        assert_int_equal(hm_merkle_tree_new((const uint8_t(*)[H])leaves, n, &t), HM_OK);
        hm_merkle_tree_root(t, got);
        assert_memory_equal(got, want, H);
        hm_merkle_tree_free(t);
    }

    json_t *inclusions = json_object_get(doc, "inclusion_proofs");
    assert_true(json_array_size(inclusions) >= inclusion_min);
    for (size_t i = 0; i < json_array_size(inclusions); i++) {
        json_t *c = json_array_get(inclusions, i);
        size_t index = (size_t)json_integer_value(json_object_get(c, "leaf_index"));
        size_t n = (size_t)json_integer_value(json_object_get(c, "tree_size"));
        uint8_t leaf[H], root[H], want[HM_MERKLE_PROOF_MAX][H], got[HM_MERKLE_PROOF_MAX][H];
        hex_hash(json_object_get(c, "leaf_hash"), leaf);
        hex_hash(json_object_get(c, "root"), root);
        json_t *proof = json_object_get(c, "proof");
        size_t want_len = json_array_size(proof), got_len = 0;
        for (size_t j = 0; j < want_len; j++) {
            hex_hash(json_array_get(proof, j), want[j]);
        }
        assert_int_equal(
            hm_merkle_inclusion_proof((const uint8_t(*)[H])leaves, n, index, got, &got_len), HM_OK);
        assert_int_equal(got_len, want_len);
        assert_memory_equal(got, want, want_len * H);
        assert_int_equal(
            hm_merkle_inclusion_verify(leaf, index, n, (const uint8_t(*)[H])want, want_len, root),
            HM_OK);
    }

    json_t *consistencies = json_object_get(doc, "consistency_proofs");
    assert_true(json_array_size(consistencies) >= consistency_min);
    for (size_t i = 0; i < json_array_size(consistencies); i++) {
        json_t *c = json_array_get(consistencies, i);
        size_t size1 = (size_t)json_integer_value(json_object_get(c, "size1"));
        size_t size2 = (size_t)json_integer_value(json_object_get(c, "size2"));
        uint8_t root1[H], root2[H], want[HM_MERKLE_PROOF_MAX][H], got[HM_MERKLE_PROOF_MAX][H];
        hex_hash(json_object_get(c, "root1"), root1);
        hex_hash(json_object_get(c, "root2"), root2);
        json_t *proof = json_object_get(c, "proof");
        size_t want_len = json_array_size(proof), got_len = 0;
        for (size_t j = 0; j < want_len; j++) {
            hex_hash(json_array_get(proof, j), want[j]);
        }
        assert_int_equal(
            hm_merkle_consistency_proof((const uint8_t(*)[H])leaves, size2, size1, got, &got_len),
            HM_OK);
        assert_int_equal(got_len, want_len);
        assert_memory_equal(got, want, want_len * H);
        assert_int_equal(hm_merkle_consistency_verify(size1, size2, root1, root2,
                                                      (const uint8_t(*)[H])want, want_len),
                         HM_OK);
    }
    json_decref(doc);
    free(text);
}

static void test_reference_vectors(void **state) {
    (void)state;
    check_reference_file("rfc6962-reference-vectors.json", 5, 5);
}

static void test_derived_all_proofs(void **state) {
    (void)state;
    check_reference_file("rfc6962-8leaf-derived-all-proofs.json", 36, 36);
}

static void test_empty_and_edges(void **state) {
    (void)state;
    uint8_t root[H], want[H];
    hm_merkle_root(NULL, 0, root);
    assert_int_equal(
        hm_hex_decode("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, H),
        HM_OK);
    assert_memory_equal(root, want, H);
    hm_merkle_builder b;
    hm_merkle_builder_init(&b);
    hm_merkle_builder_root(&b, root);
    assert_memory_equal(root, want, H);

    uint8_t leaf[H] = {1}, proof[HM_MERKLE_PROOF_MAX][H];
    size_t proof_len = 0;
    assert_int_equal(
        hm_merkle_inclusion_proof((const uint8_t(*)[H]) & leaf, 1, 1, proof, &proof_len),
        HM_ERR_ARG);
    assert_int_equal(
        hm_merkle_consistency_proof((const uint8_t(*)[H]) & leaf, 1, 0, proof, &proof_len),
        HM_ERR_ARG);
    assert_int_equal(
        hm_merkle_consistency_proof((const uint8_t(*)[H]) & leaf, 1, 2, proof, &proof_len),
        HM_ERR_ARG);
    hm_merkle_tree *t = NULL;
    assert_int_equal(hm_merkle_tree_new(NULL, 0, &t), HM_OK);
    assert_int_equal(hm_merkle_tree_size(t), 0);
    hm_merkle_tree_root(t, root);
    assert_memory_equal(root, want, H);
    assert_int_equal(hm_merkle_tree_proof(t, 0, proof, &proof_len), HM_ERR_ARG);
    hm_merkle_tree_free(t);
    hm_merkle_tree_free(NULL);
    /* A single leaf is its own root with an empty proof. */
    assert_int_equal(hm_merkle_inclusion_verify(leaf, 0, 1, NULL, 0, leaf), HM_OK);
    assert_int_equal(hm_merkle_inclusion_verify(leaf, 0, 0, NULL, 0, leaf), HM_ERR_PROOF);
    assert_int_equal(hm_merkle_inclusion_verify(leaf, 1, 1, NULL, 0, leaf), HM_ERR_PROOF);
}

/* ------------------------------------------------------ random properties */

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t *s, uint64_t n) {
    return splitmix64(s) % n;
}

/* The verifier's combining pattern for an inclusion proof, derived
 * independently from RFC 6962's PATH recursion: bit i set when proof
 * element i is the left sibling. Two (index, size) pairs with the same
 * pattern and length accept the same proofs, so a changed index or size
 * must be rejected exactly when the pattern changes. */
static void path_shape(uint64_t m, uint64_t n, uint64_t *bits, size_t *len) {
    if (n <= 1) {
        *bits = 0;
        *len = 0;
        return;
    }
    uint64_t k = 1;
    while (k < n - k) {
        k <<= 1;
    }
    if (m < k) {
        path_shape(m, k, bits, len);
    } else {
        path_shape(m - k, n - k, bits, len);
        *bits |= 1ull << *len;
    }
    (*len)++;
}

/* The RFC 9162 2.1.4.2 combining pattern of a consistency proof, computed
 * symbolically: whether the old root is implicit, and per element whether it
 * is folded into both roots ('B') or only appended on the right ('R'). */
static void consistency_shape(uint64_t size1, uint64_t size2, char *ops, size_t ops_cap) {
    assert_true(size1 > 0 && size1 < size2);
    size_t n = 0;
    ops[n++] = (size1 & (size1 - 1)) == 0 ? 'I' : 'E';
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1u) {
        fn >>= 1;
        sn >>= 1;
    }
    while (sn != 0) {
        assert_true(n + 2 < ops_cap);
        if ((fn & 1u) || fn == sn) {
            ops[n++] = 'B';
            if ((fn & 1u) == 0) {
                while ((fn & 1u) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            ops[n++] = 'R';
        }
        fn >>= 1;
        sn >>= 1;
    }
    ops[n] = '\0';
}

typedef struct {
    uint8_t (*leaves)[H];
    size_t n;
    uint8_t root[H];
    uint64_t rng;
} tree_case;

static void flip_bit(uint8_t *bytes, size_t bit) {
    bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

static void check_inclusion(tree_case *tc, const hm_merkle_tree *t, size_t index, bool every_bit) {
    uint8_t proof[HM_MERKLE_PROOF_MAX][H], tree_proof[HM_MERKLE_PROOF_MAX][H];
    size_t proof_len = 0, tree_proof_len = 0;
    assert_int_equal(
        hm_merkle_inclusion_proof((const uint8_t(*)[H])tc->leaves, tc->n, index, proof, &proof_len),
        HM_OK);
    assert_int_equal(hm_merkle_tree_proof(t, index, tree_proof, &tree_proof_len), HM_OK);
    assert_int_equal(proof_len, tree_proof_len);
    assert_memory_equal(proof, tree_proof, proof_len * H);
    const uint8_t(*p)[H] = (const uint8_t(*)[H])proof;
    uint8_t *leaf = tc->leaves[index];
    assert_int_equal(hm_merkle_inclusion_verify(leaf, index, tc->n, p, proof_len, tc->root), HM_OK);

    /* Any single flipped bit in a proof hash, the leaf or the root fails. */
    for (size_t j = 0; j < proof_len; j++) {
        for (size_t bit = 0; bit < 8 * H; bit++) {
            size_t b = every_bit ? bit : (size_t)below(&tc->rng, 8 * H);
            flip_bit(proof[j], b);
            assert_int_equal(hm_merkle_inclusion_verify(leaf, index, tc->n, p, proof_len, tc->root),
                             HM_ERR_PROOF);
            flip_bit(proof[j], b);
            if (!every_bit) {
                break;
            }
        }
    }
    size_t flips = every_bit ? 8 * H : 2;
    for (size_t f = 0; f < flips; f++) {
        size_t b = every_bit ? f : (size_t)below(&tc->rng, 8 * H);
        flip_bit(leaf, b);
        assert_int_equal(hm_merkle_inclusion_verify(leaf, index, tc->n, p, proof_len, tc->root),
                         HM_ERR_PROOF);
        flip_bit(leaf, b);
        flip_bit(tc->root, b);
        assert_int_equal(hm_merkle_inclusion_verify(leaf, index, tc->n, p, proof_len, tc->root),
                         HM_ERR_PROOF);
        flip_bit(tc->root, b);
    }
    /* A proof one hash short or long fails. */
    if (proof_len > 0) {
        assert_int_equal(hm_merkle_inclusion_verify(leaf, index, tc->n, p, proof_len - 1, tc->root),
                         HM_ERR_PROOF);
    }
    if (proof_len < HM_MERKLE_PROOF_MAX) {
        memcpy(proof[proof_len], tc->root, H);
        assert_int_equal(hm_merkle_inclusion_verify(leaf, index, tc->n, p, proof_len + 1, tc->root),
                         HM_ERR_PROOF);
    }

    /* Another index in the same tree is a different path: always rejected. */
    uint64_t other_index[] = {
        index + 1,       index - 1, index ^ 1u, index ^ 2u, below(&tc->rng, tc->n),
        (uint64_t)tc->n, UINT64_MAX};
    for (size_t k = 0; k < sizeof other_index / sizeof other_index[0]; k++) {
        if (other_index[k] == index) {
            continue;
        }
        assert_int_equal(
            hm_merkle_inclusion_verify(leaf, other_index[k], tc->n, p, proof_len, tc->root),
            HM_ERR_PROOF);
    }
    /* Another size accepts the proof exactly when its combining pattern is
     * the same (for example leaf 0 of 5 and of 6 leaves). */
    uint64_t want_bits = 0, bits = 0;
    size_t want_len = 0, len = 0;
    path_shape(index, tc->n, &want_bits, &want_len);
    assert_int_equal(want_len, proof_len);
    uint64_t other_size[] = {
        tc->n + 1, tc->n - 1, 2 * tc->n, tc->n / 2, tc->n ^ 1u, tc->n + 1 + below(&tc->rng, 64), 0};
    for (size_t k = 0; k < sizeof other_size / sizeof other_size[0]; k++) {
        uint64_t size = other_size[k];
        if (size == tc->n) {
            continue;
        }
        bool same = false;
        if (index < size) {
            path_shape(index, size, &bits, &len);
            same = len == want_len && bits == want_bits;
        }
        assert_int_equal(hm_merkle_inclusion_verify(leaf, index, size, p, proof_len, tc->root),
                         same ? HM_OK : HM_ERR_PROOF);
    }
}

static void check_consistency(tree_case *tc, size_t size1, bool every_bit) {
    uint8_t proof[HM_MERKLE_PROOF_MAX][H], root1[H];
    size_t proof_len = 0;
    hm_merkle_root((const uint8_t(*)[H])tc->leaves, size1, root1);
    assert_int_equal(hm_merkle_consistency_proof((const uint8_t(*)[H])tc->leaves, tc->n, size1,
                                                 proof, &proof_len),
                     HM_OK);
    const uint8_t(*p)[H] = (const uint8_t(*)[H])proof;
    assert_int_equal(hm_merkle_consistency_verify(size1, tc->n, root1, tc->root, p, proof_len),
                     HM_OK);
    if (size1 == tc->n) {
        assert_int_equal(proof_len, 0);
        return;
    }
    for (size_t j = 0; j < proof_len; j++) {
        for (size_t bit = 0; bit < 8 * H; bit++) {
            size_t b = every_bit ? bit : (size_t)below(&tc->rng, 8 * H);
            flip_bit(proof[j], b);
            assert_int_equal(
                hm_merkle_consistency_verify(size1, tc->n, root1, tc->root, p, proof_len),
                HM_ERR_PROOF);
            flip_bit(proof[j], b);
            if (!every_bit) {
                break;
            }
        }
    }
    size_t flips = every_bit ? 8 * H : 2;
    for (size_t f = 0; f < flips; f++) {
        size_t b = every_bit ? f : (size_t)below(&tc->rng, 8 * H);
        flip_bit(root1, b);
        assert_int_equal(hm_merkle_consistency_verify(size1, tc->n, root1, tc->root, p, proof_len),
                         HM_ERR_PROOF);
        flip_bit(root1, b);
        flip_bit(tc->root, b);
        assert_int_equal(hm_merkle_consistency_verify(size1, tc->n, root1, tc->root, p, proof_len),
                         HM_ERR_PROOF);
        flip_bit(tc->root, b);
    }
    assert_int_equal(hm_merkle_consistency_verify(size1, tc->n, root1, tc->root, p, proof_len - 1),
                     HM_ERR_PROOF);
    assert_int_equal(hm_merkle_consistency_verify(size1, tc->n, tc->root, root1, p, proof_len),
                     HM_ERR_PROOF);
    /* Changed sizes: rejected unless the combining pattern is identical. */
    char want_ops[2 * HM_MERKLE_PROOF_MAX], ops[2 * HM_MERKLE_PROOF_MAX];
    consistency_shape(size1, tc->n, want_ops, sizeof want_ops);
    uint64_t pairs[][2] = {{size1 + 1, tc->n}, {size1 - 1, tc->n},  {size1, tc->n + 1},
                           {size1, tc->n - 1}, {size1 ^ 2u, tc->n}, {size1, 2 * tc->n},
                           {0, tc->n},         {tc->n, size1},      {size1 * 2, tc->n}};
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        uint64_t s1 = pairs[k][0], s2 = pairs[k][1];
        if (s1 == size1 && s2 == tc->n) {
            continue;
        }
        bool same = false;
        if (s1 > 0 && s1 < s2) {
            consistency_shape(s1, s2, ops, sizeof ops);
            same = strcmp(ops, want_ops) == 0;
        }
        assert_int_equal(hm_merkle_consistency_verify(s1, s2, root1, tc->root, p, proof_len),
                         same ? HM_OK : HM_ERR_PROOF);
    }
}

static void check_tree(size_t n, uint64_t seed) {
    tree_case tc = {.n = n, .rng = seed};
    tc.leaves = malloc(n * H);
    assert_non_null(tc.leaves);
    hm_merkle_builder b;
    hm_merkle_builder_init(&b);
    for (size_t i = 0; i < n; i++) {
        uint64_t word = splitmix64(&tc.rng);
        hm_merkle_leaf_hash((const uint8_t *)&word, sizeof word, tc.leaves[i]);
        hm_merkle_builder_add(&b, tc.leaves[i]);
    }
    hm_merkle_root((const uint8_t(*)[H])tc.leaves, n, tc.root);
    uint8_t other[H];
    hm_merkle_builder_root(&b, other);
    assert_memory_equal(other, tc.root, H);
    hm_merkle_tree *t = NULL;
    assert_int_equal(hm_merkle_tree_new((const uint8_t(*)[H])tc.leaves, n, &t), HM_OK);
    assert_int_equal(hm_merkle_tree_size(t), n);
    hm_merkle_tree_root(t, other);
    assert_memory_equal(other, tc.root, H);

    if (n <= 40) {
        for (size_t i = 0; i < n; i++) {
            check_inclusion(&tc, t, i, i == n / 2);
            check_consistency(&tc, i + 1, i == n / 3);
        }
    } else {
        check_inclusion(&tc, t, 0, false);
        check_inclusion(&tc, t, n - 1, false);
        check_consistency(&tc, 1, false);
        check_consistency(&tc, n - 1, false);
        for (size_t k = 0; k < 8; k++) {
            check_inclusion(&tc, t, (size_t)below(&tc.rng, n), k == 0);
            check_consistency(&tc, 1 + (size_t)below(&tc.rng, n), k == 0);
        }
    }
    hm_merkle_tree_free(t);
    free(tc.leaves);
}

static void test_random_small_trees(void **state) {
    (void)state;
    for (size_t n = 1; n <= 40; n++) {
        check_tree(n, 0x5eed0000u + n);
    }
}

static void test_random_large_trees(void **state) {
    (void)state;
    uint64_t rng = 0x4d65726b6c65ull;
    size_t fixed[] = {63, 64, 65, 127, 128, 129, 1023, 1024, 1025, 2000};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        check_tree(fixed[i], splitmix64(&rng));
    }
    for (size_t i = 0; i < 20; i++) {
        check_tree(1 + (size_t)below(&rng, 2000), splitmix64(&rng));
    }
}

/* The builder's root after every leaf equals the root of that prefix. */
static void test_builder_prefixes(void **state) {
    (void)state;
    enum { N = 300 };
    uint8_t(*leaves)[H] = malloc(N * H);
    assert_non_null(leaves);
    uint64_t rng = 7;
    hm_merkle_builder b;
    hm_merkle_builder_init(&b);
    for (size_t i = 0; i < N; i++) {
        uint64_t word = splitmix64(&rng);
        hm_merkle_leaf_hash((const uint8_t *)&word, sizeof word, leaves[i]);
        hm_merkle_builder_add(&b, leaves[i]);
        uint8_t got[H], want[H];
        hm_merkle_builder_root(&b, got);
        hm_merkle_root((const uint8_t(*)[H])leaves, i + 1, want);
        assert_memory_equal(got, want, H);
    }
    free(leaves);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inclusion_probes),   cmocka_unit_test(test_consistency_probes),
        cmocka_unit_test(test_reference_vectors),  cmocka_unit_test(test_derived_all_proofs),
        cmocka_unit_test(test_empty_and_edges),    cmocka_unit_test(test_random_small_trees),
        cmocka_unit_test(test_random_large_trees), cmocka_unit_test(test_builder_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
