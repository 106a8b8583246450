/* tests/unit/test_ct_epcis_env.h — what the EPCIS tests share: where the
 * test data lives and reading a whole file. Header-only (static) so each
 * test binary stays one file. */
#ifndef HALLMARK_TEST_CT_EPCIS_ENV_H
#define HALLMARK_TEST_CT_EPCIS_ENV_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

/* The shared test data directory: $HALLMARK_TESTDATA, or the default. */
static const char *testdata(void) {
    const char *d = getenv("HALLMARK_TESTDATA");
    return d != NULL && d[0] != '\0' ? d : "../shared/testdata";
}

/* The whole file at path, NUL-terminated and malloc'd (the caller frees), its
 * length in *len if len is not NULL; NULL if it cannot be opened. */
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = '\0';
    if (len != NULL)
        *len = got;
    return buf;
}

#endif
