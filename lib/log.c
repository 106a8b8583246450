/* lib/log.c — structured one-line logging to stderr.
 *
 * Layer: lib/, the bottom. Each event is one `key=value` line written with a
 * single write so lines from different threads never interleave. lib/ never
 * reads a clock: the timestamp comes from a hook that node/ installs.
 * Configuration (level, clock, prefix) is meant to be set once at start-up,
 * before other threads log. */
#include "hm.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define LOG_LINE_MAX 2048
#define LOG_PREFIX_MAX 128

static hm_log_level log_level = HM_LOG_INFO;
static uint64_t (*log_now_ms)(void);
static char log_prefix[LOG_PREFIX_MAX];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void hm_log_set_level(hm_log_level level) {
    assert(level >= HM_LOG_DEBUG && level <= HM_LOG_ERROR);
    log_level = level;
}

hm_log_level hm_log_get_level(void) {
    return log_level;
}

void hm_log_set_clock(uint64_t (*now_ms)(void)) {
    log_now_ms = now_ms;
}

void hm_log_set_prefix(const char *prefix) {
    if (prefix == NULL) {
        log_prefix[0] = '\0';
        return;
    }
    /* Truncates a too-long prefix rather than failing: logging never fails. */
    snprintf(log_prefix, sizeof log_prefix, "%s", prefix);
}

void hm_log(hm_log_level level, const char *event, const char *fmt, ...) {
    if (level < log_level || level > HM_LOG_ERROR) {
        return;
    }
    char line[LOG_LINE_MAX];
    size_t used = 0;
    int n;
    if (log_now_ms != NULL) {
        uint64_t now_ms = log_now_ms();
        n = snprintf(line, sizeof line, "ts=%llu.%03u ", (unsigned long long)(now_ms / 1000),
                     (unsigned)(now_ms % 1000));
        used = n > 0 ? (size_t)n : 0;
    }
    n = snprintf(line + used, sizeof line - used, "level=%s event=%s", level_names[level],
                 event != NULL ? event : "-");
    used += n > 0 ? (size_t)n : 0;
    if (log_prefix[0] != '\0' && used < sizeof line) {
        n = snprintf(line + used, sizeof line - used, " %s", log_prefix);
        used += n > 0 ? (size_t)n : 0;
    }
    if (fmt != NULL && fmt[0] != '\0' && used + 1 < sizeof line) {
        line[used++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        n = vsnprintf(line + used, sizeof line - used, fmt, ap);
        va_end(ap);
        used += n > 0 ? (size_t)n : 0;
    }
    /* A truncated line still ends with a newline so the next one starts clean. */
    if (used > sizeof line - 2) {
        used = sizeof line - 2;
    }
    line[used++] = '\n';
    fwrite(line, 1, used, stderr);
}

hm_err hm_log_level_parse(const char *text, hm_log_level *out) {
    if (text == NULL || out == NULL) {
        return HM_ERR_ARG;
    }
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcasecmp(text, level_names[i]) == 0) {
            *out = (hm_log_level)i;
            return HM_OK;
        }
    }
    if (strcasecmp(text, "warning") == 0) {
        *out = HM_LOG_WARN;
        return HM_OK;
    }
    return HM_ERR_BAD_VALUE;
}
