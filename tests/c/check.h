/*
 * Minimal checking helpers shared by the C tests: each check counts as
 * passed or failed, a failure prints where and why, and finish() prints the
 * closing line "N passed, M failed" and gives the exit code.
 */
#ifndef AUTHLOCK_TEST_CHECK_H
#define AUTHLOCK_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authlock.h"

static int checks_passed = 0;
static int checks_failed = 0;

static inline void check_result(int ok, const char *file, int line, const char *what) {
    if (ok) {
        checks_passed++;
    } else {
        checks_failed++;
        fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    }
}

#define CHECK(cond) check_result((cond) ? 1 : 0, __FILE__, __LINE__, #cond)

/* Checks that a call returns the expected status; on a mismatch prints both
 * statuses and the library's detailed message. */
#define CHECK_STATUS(call, expected)                                              \
    do {                                                                          \
        authlock_status got_ = (call);                                            \
        authlock_status want_ = (expected);                                       \
        if (got_ == want_) {                                                      \
            checks_passed++;                                                      \
        } else {                                                                  \
            checks_failed++;                                                      \
            fprintf(stderr, "%s:%d: %s\n  returned %u (%s: %s), expected %u (%s)\n", \
                    __FILE__, __LINE__, #call, (unsigned)got_,                    \
                    authlock_status_message(got_), authlock_last_error_message(), \
                    (unsigned)want_, authlock_status_message(want_));             \
        }                                                                         \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, AUTHLOCK_STATUS_OK)

/* Checks that the thread's last error message contains `needle`. */
#define CHECK_LAST_ERROR_HAS(needle)                                                  \
    do {                                                                              \
        const char *msg_ = authlock_last_error_message();                             \
        if (strstr(msg_, (needle)) != NULL) {                                         \
            checks_passed++;                                                          \
        } else {                                                                      \
            checks_failed++;                                                          \
            fprintf(stderr, "%s:%d: last error \"%s\" does not mention \"%s\"\n",     \
                    __FILE__, __LINE__, msg_, (needle));                              \
        }                                                                             \
    } while (0)

/* Checks that a string contains `needle`. */
#define CHECK_HAS(haystack, needle)                                                   \
    do {                                                                              \
        const char *h_ = (haystack);                                                  \
        if (h_ != NULL && strstr(h_, (needle)) != NULL) {                             \
            checks_passed++;                                                          \
        } else {                                                                      \
            checks_failed++;                                                          \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,      \
                    __LINE__, h_ ? h_ : "(null)", (needle));                          \
        }                                                                             \
    } while (0)

/* Number of non-overlapping occurrences of `needle` in `haystack`. */
static inline int count_of(const char *haystack, const char *needle) {
    int n = 0;
    size_t len = strlen(needle);
    const char *p = haystack;
    while (p != NULL && (p = strstr(p, needle)) != NULL) {
        n++;
        p += len;
    }
    return n;
}

/* Whether `id` is 32 lowercase hex digits. */
static inline int is_id(const char *id) {
    if (strlen(id) != AUTHLOCK_ID_SIZE - 1) {
        return 0;
    }
    for (const char *p = id; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static inline int finish(void) {
    printf("%d passed, %d failed\n", checks_passed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}

#endif
