/*
 * A device PIN guarded by authlock, from C.
 *
 * Build (after `cargo build`), from the repository root:
 *   gcc -std=c11 -Iinclude examples/c/pin_lockout.c target/debug/libauthlock.a -lpthread -ldl -lm -o pin_lockout
 */
#include <stdio.h>
#include <string.h>

#include "authlock.h"

static const char *POLICY =
    "[policies.pin]\n"
    "max_failures = 3\n"
    "throttle = []\n"
    "lockout = { kind = \"until_unlocked\" }\n";

/* Told about every lock and unlock, on the thread that caused it. */
static void on_lock_change(void *user_data, const authlock_event *event) {
    (void)user_data;
    printf("  event #%llu: %s\n", (unsigned long long)event->seq, event->json);
}

/* Prints the failure and returns 1 when `status` is not OK. */
static int failed(authlock_status status, const char *what) {
    if (status == AUTHLOCK_STATUS_OK) {
        return 0;
    }
    fprintf(stderr, "%s: %s (%s)\n", what, authlock_status_message(status),
            authlock_last_error_message());
    return 1;
}

static const char *verdict_name(authlock_verdict v) {
    switch (v) {
    case AUTHLOCK_VERDICT_ALLOWED: return "allowed";
    case AUTHLOCK_VERDICT_THROTTLED: return "throttled";
    case AUTHLOCK_VERDICT_LOCKED: return "locked";
    case AUTHLOCK_VERDICT_DEACTIVATED: return "deactivated";
    case AUTHLOCK_VERDICT_DELETED: return "deleted";
    }
    return "?";
}

int main(void) {
    authlock_engine *engine = NULL;
    if (failed(authlock_engine_new(POLICY, &engine), "engine")) {
        return 1;
    }
    authlock_engine_set_event_callback(engine, on_lock_change, NULL);

    char pin[AUTHLOCK_ID_SIZE];
    if (failed(authlock_engine_register(engine, "alice", AUTHLOCK_TYPE_PIN, "banking", "phone-1",
                                        NULL, NULL, pin),
               "register")) {
        authlock_engine_free(engine);
        return 1;
    }
    printf("registered PIN %s\n", pin);

    /* Three wrong PINs: the host passes a fingerprint (an HMAC of what was
     * typed), never the PIN itself. */
    for (unsigned char attempt = 1; attempt <= 3; attempt++) {
        unsigned char fingerprint[1] = {attempt};
        authlock_outcome outcome;
        if (failed(authlock_engine_record_failure(engine, pin, "banking", "phone-1", fingerprint,
                                                  sizeof fingerprint, &outcome),
                   "failure")) {
            authlock_engine_free(engine);
            return 1;
        }
        printf("wrong PIN %u: %u failure(s), now %s\n", attempt, outcome.failures,
               verdict_name(outcome.decision.verdict));
    }

    /* A helpdesk operator unlocks it after verifying the user. */
    authlock_actor operator_ = {AUTHLOCK_ACTOR_HELPDESK, "desk-42", NULL};
    if (failed(authlock_engine_unlock(engine, pin, "banking", &operator_, "verified by phone"),
               "unlock")) {
        authlock_engine_free(engine);
        return 1;
    }
    authlock_decision decision;
    if (failed(authlock_engine_check(engine, pin, "banking", &decision), "check")) {
        authlock_engine_free(engine);
        return 1;
    }
    printf("after the unlock: %s\n", verdict_name(decision.verdict));

    char *view = NULL;
    if (!failed(authlock_engine_authenticators_json(engine, "alice", &view), "list")) {
        printf("alice's authenticators: %s\n", view);
        authlock_string_free(view);
    }
    authlock_engine_free(engine);
    return decision.verdict == AUTHLOCK_VERDICT_ALLOWED ? 0 : 1;
}
