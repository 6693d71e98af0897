/*
 * Attempts through the C interface: policies, engines on a host clock,
 * explicit and implicit registration, check, failures, successes,
 * throttling, reserve and commit, and the event callback.
 */
#include "check.h"

static const int64_t T0 = 1767225600000; /* 2026-01-01T00:00:00Z */
static const int64_t MINUTE = 60000;

static const char *POLICY =
    "tenant = \"acme\"\n"
    "[policies.password]\n"
    "max_failures = 3\n"
    "failure_window = \"none\"\n"
    "max_temporary_lockouts = 2\n"
    "lockout = { kind = \"temporary\", duration = \"5m\" }\n"
    "[policies.pin]\n"
    "max_failures = 5\n"
    "throttle = [ { after = 2, wait = \"1m\" } ]\n"
    "lockout = { kind = \"until_unlocked\" }\n";

static int64_t host_clock(void *user_data) {
    return *(const int64_t *)user_data;
}

/* What the event callback saw. */
struct seen_events {
    const authlock_engine *engine;
    int locked;
    int lock_expired;
    int unlocked;
    int refunded;
    int other;
    authlock_event last;
    char last_id[AUTHLOCK_ID_SIZE];
    char last_user[64];
    char last_app[64];
    char last_json[1024];
    /* The verdict of a check made from inside the callback. */
    authlock_status reentrant_status;
    authlock_verdict reentrant_verdict;
};

static void on_event(void *user_data, const authlock_event *event) {
    struct seen_events *seen = user_data;
    switch (event->action) {
    case AUTHLOCK_EVENT_ACTION_LOCKED: seen->locked++; break;
    case AUTHLOCK_EVENT_ACTION_LOCK_EXPIRED: seen->lock_expired++; break;
    case AUTHLOCK_EVENT_ACTION_UNLOCKED: seen->unlocked++; break;
    case AUTHLOCK_EVENT_ACTION_LOCK_REFUNDED: seen->refunded++; break;
    default: seen->other++; break;
    }
    seen->last = *event;
    /* The pointers are valid only during the call: copy what is kept. */
    memcpy(seen->last_id, event->authenticator_id, AUTHLOCK_ID_SIZE);
    snprintf(seen->last_user, sizeof seen->last_user, "%s", event->user);
    snprintf(seen->last_app, sizeof seen->last_app, "%s", event->app ? event->app : "(none)");
    snprintf(seen->last_json, sizeof seen->last_json, "%s", event->json);
    seen->last.user = NULL;
    seen->last.app = NULL;
    seen->last.json = NULL;
    /* The callback may call back into the engine. */
    if (event->authenticator_id[0] != '\0') {
        authlock_decision d;
        seen->reentrant_status = authlock_engine_check(seen->engine, event->authenticator_id,
                                                       event->app ? event->app : "web", &d);
        seen->reentrant_verdict = d.verdict;
    }
}

static void policies(void) {
    CHECK_OK(authlock_policy_validate(POLICY));
    CHECK_OK(authlock_policy_validate(""));
    CHECK_OK(authlock_policy_validate("{\"policies\": {\"totp\": {\"max_failures\": 4}}}"));
    CHECK_STATUS(authlock_policy_validate("[policies.password]\nmax_failures = 0\n"),
                 AUTHLOCK_STATUS_INVALID_POLICY);
    CHECK_LAST_ERROR_HAS("max_failures");
    CHECK_STATUS(authlock_policy_validate("[policies.passwrd]\n"), AUTHLOCK_STATUS_INVALID_POLICY);
    CHECK_LAST_ERROR_HAS("passwrd");

    /* An engine on the system clock works too. */
    authlock_engine *engine = NULL;
    CHECK_OK(authlock_engine_new("", &engine));
    CHECK(engine != NULL);
    char id[AUTHLOCK_ID_SIZE];
    CHECK_OK(authlock_engine_register(engine, "zoe", AUTHLOCK_TYPE_TOTP, "web", NULL, NULL,
                                      NULL, id));
    authlock_decision d;
    CHECK_OK(authlock_engine_check(engine, id, "web", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_ALLOWED);
    authlock_engine_free(engine);
}

static void password_lockout_and_events(void) {
    int64_t now = T0;
    authlock_engine *engine = NULL;
    CHECK_OK(authlock_engine_new_with_clock(POLICY, host_clock, &now, &engine));
    struct seen_events seen;
    memset(&seen, 0, sizeof seen);
    seen.engine = engine;
    CHECK_OK(authlock_engine_set_event_callback(engine, on_event, &seen));

    char pw[AUTHLOCK_ID_SIZE];
    CHECK_OK(authlock_engine_register(engine, "alice", AUTHLOCK_TYPE_PASSWORD, "web", NULL, NULL,
                                      NULL, pw));
    CHECK(is_id(pw));

    authlock_decision d;
    memset(&d, 0xAB, sizeof d);
    CHECK_OK(authlock_engine_check(engine, pw, "web", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_ALLOWED);
    CHECK(d.reason == AUTHLOCK_REASON_NONE);
    CHECK(!d.has_retry_at);
    CHECK(d.retry_at_ms == 0);

    /* Three distinct wrong secrets lock for five minutes. */
    const uint8_t fp1[] = {1, 2, 3}, fp2[] = {4, 5, 6}, fp3[] = {7, 8, 9};
    authlock_outcome o;
    CHECK_OK(authlock_engine_record_failure(engine, pw, "web", "laptop", fp1, sizeof fp1, &o));
    CHECK(o.accepted && o.counted && o.failures == 1);
    CHECK(o.decision.verdict == AUTHLOCK_VERDICT_ALLOWED);
    CHECK(!o.has_reservation);
    /* The same wrong secret again is not counted twice. */
    CHECK_OK(authlock_engine_record_failure(engine, pw, "web", NULL, fp1, sizeof fp1, &o));
    CHECK(o.accepted && !o.counted && o.failures == 1);
    CHECK_OK(authlock_engine_record_failure(engine, pw, "web", NULL, fp2, sizeof fp2, &o));
    CHECK(o.failures == 2);
    CHECK(seen.locked == 0);
    CHECK_OK(authlock_engine_record_failure(engine, pw, "web", NULL, fp3, sizeof fp3, &o));
    CHECK(o.accepted && o.counted && o.failures == 3);
    CHECK(o.decision.verdict == AUTHLOCK_VERDICT_LOCKED);
    CHECK(o.decision.reason == AUTHLOCK_REASON_POLICY_LOCK);
    CHECK(o.decision.has_retry_at && o.decision.retry_at_ms == T0 + 5 * MINUTE);
    CHECK(!o.decision.has_lock_reason);

    /* The callback heard the lock, with its details. */
    CHECK(seen.locked == 1);
    CHECK(seen.last.action == AUTHLOCK_EVENT_ACTION_LOCKED);
    CHECK(seen.last.lock_kind == AUTHLOCK_LOCK_KIND_POLICY);
    CHECK(seen.last.has_until && seen.last.until_ms == T0 + 5 * MINUTE);
    CHECK(seen.last.time_ms == T0);
    CHECK(seen.last.seq > 1);
    CHECK(strcmp(seen.last_id, pw) == 0);
    CHECK(strcmp(seen.last_user, "alice") == 0);
    CHECK(strcmp(seen.last_app, "web") == 0);
    CHECK_HAS(seen.last_json, "\"type\":\"locked\"");
    CHECK_HAS(seen.last_json, pw);
    CHECK(seen.reentrant_status == AUTHLOCK_STATUS_OK);
    CHECK(seen.reentrant_verdict == AUTHLOCK_VERDICT_LOCKED);

    /* While locked, attempts are refused and count nothing. */
    CHECK_OK(authlock_engine_check(engine, pw, "web", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_LOCKED && d.retry_at_ms == T0 + 5 * MINUTE);
    CHECK_OK(authlock_engine_record_failure(engine, pw, "web", NULL, NULL, 0, &o));
    CHECK(!o.accepted && !o.counted && o.failures == 3);
    CHECK_OK(authlock_engine_record_success(engine, pw, "web", NULL, &o));
    CHECK(!o.accepted && o.decision.verdict == AUTHLOCK_VERDICT_LOCKED);

    /* Five minutes later the lock has ended; the check records the expiry. */
    now += 5 * MINUTE;
    CHECK_OK(authlock_engine_check(engine, pw, "web", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_ALLOWED);
    CHECK(seen.lock_expired == 1);
    CHECK(seen.last.action == AUTHLOCK_EVENT_ACTION_LOCK_EXPIRED);

    CHECK_OK(authlock_engine_record_failure(engine, pw, "web", NULL, NULL, 0, &o));
    CHECK(o.counted && o.failures == 1);
    CHECK_OK(authlock_engine_record_success(engine, pw, "web", "laptop", &o));
    CHECK(o.accepted && o.failures == 0 && o.decision.verdict == AUTHLOCK_VERDICT_ALLOWED);

    /* Removing the callback stops the reports. */
    CHECK_OK(authlock_engine_set_event_callback(engine, NULL, NULL));
    for (int i = 0; i < 3; i++) {
        CHECK_OK(authlock_engine_record_failure(engine, pw, "web", NULL, NULL, 0, &o));
    }
    CHECK(o.decision.verdict == AUTHLOCK_VERDICT_LOCKED);
    CHECK(seen.locked == 1);

    char *view = NULL;
    CHECK_OK(authlock_engine_authenticator_json(engine, pw, &view));
    CHECK_HAS(view, "\"status\":\"locked\"");
    CHECK_HAS(view, "\"last_device\":\"laptop\"");
    authlock_string_free(view);

    authlock_engine_free(engine);
}

static void throttle_reserve_and_commit(void) {
    int64_t now = T0;
    authlock_engine *engine = NULL;
    CHECK_OK(authlock_engine_new_with_clock(POLICY, host_clock, &now, &engine));
    struct seen_events seen;
    memset(&seen, 0, sizeof seen);
    seen.engine = engine;
    CHECK_OK(authlock_engine_set_event_callback(engine, on_event, &seen));

    char pin[AUTHLOCK_ID_SIZE];
    CHECK_OK(authlock_engine_register(engine, "bob", AUTHLOCK_TYPE_PIN, "bank", "phone-1", NULL,
                                      NULL, pin));
    authlock_outcome o;
    const uint8_t a[] = {0xA1}, b[] = {0xB2}, c[] = {0xC3}, d5[] = {0xD4}, e[] = {0xE5};

    /* Reserve before verifying, then commit as a success: refunded. */
    CHECK_OK(authlock_engine_reserve(engine, pin, "bank", "phone-1", a, sizeof a, &o));
    CHECK(o.accepted && o.counted && o.failures == 1 && o.has_reservation);
    uint64_t r1 = o.reservation;
    CHECK_OK(authlock_engine_commit(engine, pin, "bank", "phone-1", r1, true, &o));
    CHECK(o.accepted && o.failures == 0);
    /* A reservation is settled once. */
    CHECK_STATUS(authlock_engine_commit(engine, pin, "bank", NULL, r1, true, &o),
                 AUTHLOCK_STATUS_UNKNOWN_RESERVATION);
    CHECK_LAST_ERROR_HAS("not outstanding");

    /* Reserve, commit as a failure: it stays counted. */
    CHECK_OK(authlock_engine_reserve(engine, pin, "bank", NULL, b, sizeof b, &o));
    uint64_t r2 = o.reservation;
    CHECK(o.failures == 1);
    CHECK_OK(authlock_engine_commit(engine, pin, "bank", NULL, r2, false, &o));
    CHECK(o.accepted && o.failures == 1);

    /* The second failure throttles the next attempt by a minute. */
    CHECK_OK(authlock_engine_record_failure(engine, pin, "bank", NULL, c, sizeof c, &o));
    CHECK(o.failures == 2);
    CHECK(o.decision.verdict == AUTHLOCK_VERDICT_THROTTLED);
    CHECK(o.decision.reason == AUTHLOCK_REASON_RECENT_FAILURES);
    CHECK(o.decision.has_retry_at && o.decision.retry_at_ms == T0 + MINUTE);
    authlock_decision d;
    CHECK_OK(authlock_engine_check(engine, pin, "bank", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_THROTTLED && d.retry_at_ms == T0 + MINUTE);
    CHECK_OK(authlock_engine_record_failure(engine, pin, "bank", NULL, d5, sizeof d5, &o));
    CHECK(!o.accepted && o.failures == 2);

    /* Failures up to the limit, a minute apart, then the lock; a reserved
     * failure that locks is refunded by a successful commit. */
    uint8_t fp[1];
    for (uint8_t i = 0; i < 2; i++) {
        now += MINUTE;
        fp[0] = (uint8_t)(0x10 + i);
        CHECK_OK(authlock_engine_record_failure(engine, pin, "bank", NULL, fp, 1, &o));
        CHECK(o.accepted);
    }
    CHECK(o.failures == 4);
    now += MINUTE;
    CHECK_OK(authlock_engine_reserve(engine, pin, "bank", NULL, e, sizeof e, &o));
    /* The reserved attempt itself goes on to verification (accepted); the
     * decision is for the attempts after it: the lock it caused holds for
     * them until the commit settles it. */
    CHECK(o.accepted && o.failures == 5 && o.has_reservation);
    CHECK(o.decision.verdict == AUTHLOCK_VERDICT_LOCKED);
    CHECK(o.decision.reason == AUTHLOCK_REASON_POLICY_LOCK);
    uint64_t r3 = o.reservation;
    CHECK(seen.locked == 1);
    CHECK_OK(authlock_engine_check(engine, pin, "bank", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_LOCKED && d.reason == AUTHLOCK_REASON_POLICY_LOCK);
    CHECK(!d.has_retry_at);
    CHECK_OK(authlock_engine_commit(engine, pin, "bank", NULL, r3, true, &o));
    CHECK(o.accepted && o.failures == 0 && o.decision.verdict == AUTHLOCK_VERDICT_ALLOWED);
    CHECK(seen.refunded == 1);

    authlock_engine_free(engine);
}

static void implicit_registration(void) {
    int64_t now = T0;
    authlock_engine *engine = NULL;
    CHECK_OK(authlock_engine_new_with_clock(POLICY, host_clock, &now, &engine));

    /* An email registers email OTP and the magic link. */
    char *ids = NULL;
    CHECK_OK(authlock_engine_add_identifier(engine, "carol", AUTHLOCK_IDENTIFIER_EMAIL, NULL,
                                            "carol@example.com", NULL, &ids));
    CHECK(ids != NULL && ids[0] == '[');
    CHECK(count_of(ids, "\"") == 4);
    char first[AUTHLOCK_ID_SIZE] = {0};
    if (ids != NULL && strlen(ids) > 34) {
        memcpy(first, ids + 2, AUTHLOCK_ID_SIZE - 1);
    }
    CHECK(is_id(first));
    authlock_string_free(ids);
    authlock_decision d;
    CHECK_OK(authlock_engine_check(engine, first, "any-app", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_ALLOWED);

    /* The same identifier again registers nothing. */
    ids = NULL;
    CHECK_OK(authlock_engine_add_identifier(engine, "carol", AUTHLOCK_IDENTIFIER_EMAIL, NULL,
                                            "carol@example.com", NULL, &ids));
    CHECK(ids != NULL && strcmp(ids, "[]") == 0);
    authlock_string_free(ids);

    /* A phone, added by an admin, registers SMS and direct OTP. */
    authlock_actor admin = {AUTHLOCK_ACTOR_ADMIN, "ops", NULL};
    CHECK_OK(authlock_engine_add_identifier(engine, "carol", AUTHLOCK_IDENTIFIER_PHONE, NULL,
                                            "+15550100", &admin, &ids));
    CHECK(count_of(ids, "\"") == 4);
    authlock_string_free(ids);
    /* Identifiers that register nothing. */
    CHECK_OK(authlock_engine_add_identifier(engine, "carol", AUTHLOCK_IDENTIFIER_USERNAME, NULL,
                                            "carol", NULL, &ids));
    CHECK(strcmp(ids, "[]") == 0);
    authlock_string_free(ids);
    CHECK_OK(authlock_engine_add_identifier(engine, "carol", AUTHLOCK_IDENTIFIER_EXTERNAL_ID,
                                            NULL, "ext-77", NULL, &ids));
    authlock_string_free(ids);
    CHECK_OK(authlock_engine_add_identifier(engine, "carol", AUTHLOCK_IDENTIFIER_CUSTOM,
                                            "badge", "B-12", NULL, &ids));
    CHECK(strcmp(ids, "[]") == 0);
    authlock_string_free(ids);

    /* Social login registers on first use and records the success. */
    char social[AUTHLOCK_ID_SIZE];
    authlock_outcome o;
    CHECK_OK(authlock_engine_record_first_use(engine, "carol", AUTHLOCK_TYPE_SOCIAL_LOGIN,
                                              "google:1234", "web", "laptop", social, &o));
    CHECK(is_id(social));
    CHECK(o.accepted && o.decision.verdict == AUTHLOCK_VERDICT_ALLOWED);
    char again[AUTHLOCK_ID_SIZE];
    CHECK_OK(authlock_engine_record_first_use(engine, "carol", AUTHLOCK_TYPE_SOCIAL_LOGIN,
                                              "google:1234", "mobile", NULL, again, &o));
    CHECK(strcmp(social, again) == 0);
    CHECK_OK(authlock_engine_record_first_use(engine, "carol", AUTHLOCK_TYPE_OIDC, "idp:carol",
                                              "web", NULL, again, &o));
    CHECK(strcmp(social, again) != 0);

    char *list = NULL;
    CHECK_OK(authlock_engine_authenticators_json(engine, "carol", &list));
    CHECK(count_of(list, "\"kind\":") == 6);
    CHECK_HAS(list, "\"kind\":\"email_otp\"");
    CHECK_HAS(list, "\"kind\":\"sms_otp\"");
    CHECK_HAS(list, "\"kind\":\"direct_otp\"");
    CHECK_HAS(list, "\"kind\":\"email_magic_link\"");
    CHECK_HAS(list, "\"identifier\":\"google:1234\"");
    CHECK_HAS(list, "\"multiple_apps\":true");
    authlock_string_free(list);

    authlock_engine_free(engine);
}

int main(void) {
    policies();
    password_lockout_and_events();
    throttle_reserve_and_commit();
    implicit_registration();
    return finish();
}
