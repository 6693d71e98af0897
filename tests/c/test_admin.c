/*
 * Admin actions through the C interface: manual lock and unlock, unlock by
 * type, delete, deactivate and reactivate, suspend and unsuspend, the
 * authenticator list and the history as JSON, and snapshots.
 */
#include "check.h"

static const int64_t T0 = 1767225600000; /* 2026-01-01T00:00:00Z */

static const char *POLICY =
    "tenant = \"acme\"\n"
    "[policies.pin]\n"
    "max_failures = 2\n"
    "throttle = []\n"
    "lockout = { kind = \"until_unlocked\" }\n";

static int64_t host_clock(void *user_data) {
    return *(const int64_t *)user_data;
}

struct counts {
    int locked;
    int unlocked;
};

static void count_lock_changes(void *user_data, const authlock_event *event) {
    struct counts *c = user_data;
    if (event->action == AUTHLOCK_EVENT_ACTION_LOCKED) {
        c->locked++;
    } else if (event->action == AUTHLOCK_EVENT_ACTION_UNLOCKED) {
        c->unlocked++;
    }
}

static authlock_verdict verdict(const authlock_engine *engine, const char *id, const char *app) {
    authlock_decision d;
    authlock_status s = authlock_engine_check(engine, id, app, &d);
    CHECK_OK(s);
    return s == AUTHLOCK_STATUS_OK ? d.verdict : (authlock_verdict)99;
}

static void fail_times(const authlock_engine *engine, const char *id, const char *app, int n) {
    authlock_outcome o;
    for (int i = 0; i < n; i++) {
        CHECK_OK(authlock_engine_record_failure(engine, id, app, NULL, NULL, 0, &o));
    }
}

static void manual_lock_and_unlock(void) {
    int64_t now = T0;
    authlock_engine *engine = NULL;
    CHECK_OK(authlock_engine_new_with_clock(POLICY, host_clock, &now, &engine));
    struct counts counts = {0, 0};
    CHECK_OK(authlock_engine_set_event_callback(engine, count_lock_changes, &counts));
    authlock_actor admin = {AUTHLOCK_ACTOR_ADMIN, "ops", NULL};
    authlock_actor helpdesk = {AUTHLOCK_ACTOR_HELPDESK, "desk-7", NULL};
    authlock_actor journey = {AUTHLOCK_ACTOR_JOURNEY, "recovery", "verify-email"};
    authlock_actor system = {AUTHLOCK_ACTOR_SYSTEM, NULL, NULL};

    char pw[AUTHLOCK_ID_SIZE];
    CHECK_OK(authlock_engine_register(engine, "dave", AUTHLOCK_TYPE_PASSWORD, "web", NULL, NULL,
                                      &admin, pw));
    CHECK_OK(authlock_engine_lock(engine, pw, "web", &helpdesk, "reported stolen"));
    authlock_decision d;
    CHECK_OK(authlock_engine_check(engine, pw, "web", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_LOCKED);
    CHECK(d.reason == AUTHLOCK_REASON_MANUAL_LOCK);
    CHECK(!d.has_retry_at && d.has_lock_reason);
    CHECK(counts.locked == 1);
    char *view = NULL;
    CHECK_OK(authlock_engine_authenticator_json(engine, pw, &view));
    CHECK_HAS(view, "\"lock_reason\":\"reported stolen\"");
    CHECK_HAS(view, "\"lock_kind\":\"manual\"");
    authlock_string_free(view);

    CHECK_OK(authlock_engine_unlock(engine, pw, "web", &journey, NULL));
    CHECK(verdict(engine, pw, "web") == AUTHLOCK_VERDICT_ALLOWED);
    CHECK(counts.unlocked == 1);

    /* A system lock without a reason. */
    CHECK_OK(authlock_engine_lock(engine, pw, "web", &system, NULL));
    CHECK_OK(authlock_engine_check(engine, pw, "web", &d));
    CHECK(d.reason == AUTHLOCK_REASON_MANUAL_LOCK && !d.has_lock_reason);
    CHECK_OK(authlock_engine_unlock(engine, pw, "web", &admin, "checked"));

    /* Unlock by type reaches every PIN the user has in the app. */
    char pin1[AUTHLOCK_ID_SIZE], pin2[AUTHLOCK_ID_SIZE], pin3[AUTHLOCK_ID_SIZE];
    CHECK_OK(authlock_engine_register(engine, "dave", AUTHLOCK_TYPE_PIN, "bank", "phone", NULL,
                                      NULL, pin1));
    CHECK_OK(authlock_engine_register(engine, "dave", AUTHLOCK_TYPE_PIN, "bank", "tablet", NULL,
                                      NULL, pin2));
    CHECK_OK(authlock_engine_register(engine, "dave", AUTHLOCK_TYPE_PIN, "shop", "phone", NULL,
                                      NULL, pin3));
    CHECK(strcmp(pin1, pin2) != 0 && strcmp(pin1, pin3) != 0);
    fail_times(engine, pin1, "bank", 2);
    fail_times(engine, pin2, "bank", 2);
    fail_times(engine, pin3, "shop", 2);
    CHECK(verdict(engine, pin1, "bank") == AUTHLOCK_VERDICT_LOCKED);
    CHECK(verdict(engine, pin2, "bank") == AUTHLOCK_VERDICT_LOCKED);
    CHECK(counts.locked == 5);
    CHECK_OK(authlock_engine_unlock_type(engine, "dave", AUTHLOCK_TYPE_PIN, "bank", &admin,
                                         "identity verified"));
    CHECK(verdict(engine, pin1, "bank") == AUTHLOCK_VERDICT_ALLOWED);
    CHECK(verdict(engine, pin2, "bank") == AUTHLOCK_VERDICT_ALLOWED);
    CHECK(verdict(engine, pin3, "shop") == AUTHLOCK_VERDICT_LOCKED);
    CHECK(counts.unlocked == 4);

    /* Unlocking one PIN unlocks the user's other PINs in that app too. */
    fail_times(engine, pin1, "bank", 2);
    fail_times(engine, pin2, "bank", 2);
    CHECK_OK(authlock_engine_unlock(engine, pin1, "bank", &admin, NULL));
    CHECK(verdict(engine, pin2, "bank") == AUTHLOCK_VERDICT_ALLOWED);

    /* Deactivate and reactivate. */
    CHECK_OK(authlock_engine_deactivate(engine, pw, "web", &admin, "left the company"));
    CHECK_OK(authlock_engine_check(engine, pw, "web", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_DEACTIVATED && d.reason == AUTHLOCK_REASON_DEACTIVATED);
    authlock_outcome o;
    CHECK_OK(authlock_engine_record_success(engine, pw, "web", NULL, &o));
    CHECK(!o.accepted);
    CHECK_OK(authlock_engine_reactivate(engine, pw, "web", &admin, NULL));
    CHECK(verdict(engine, pw, "web") == AUTHLOCK_VERDICT_ALLOWED);

    /* Suspending the user deactivates everything until unsuspended. */
    CHECK_OK(authlock_engine_suspend_user(engine, "dave", &admin, "investigation"));
    CHECK(verdict(engine, pw, "web") == AUTHLOCK_VERDICT_DEACTIVATED);
    CHECK(verdict(engine, pin1, "bank") == AUTHLOCK_VERDICT_DEACTIVATED);
    CHECK_OK(authlock_engine_unsuspend_user(engine, "dave", &admin, NULL));
    CHECK(verdict(engine, pw, "web") == AUTHLOCK_VERDICT_ALLOWED);
    CHECK(verdict(engine, pin3, "shop") == AUTHLOCK_VERDICT_LOCKED);

    /* Delete: the ID answers "deleted" for ever. */
    CHECK_OK(authlock_engine_delete(engine, pin1, "bank", &admin, "device lost"));
    CHECK_OK(authlock_engine_check(engine, pin1, "bank", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_DELETED && d.reason == AUTHLOCK_REASON_DELETED);
    CHECK_STATUS(authlock_engine_record_failure(engine, pin1, "bank", NULL, NULL, 0, &o),
                 AUTHLOCK_STATUS_DELETED);

    /* The list shows what is left; the history what happened. */
    char *list = NULL;
    CHECK_OK(authlock_engine_authenticators_json(engine, "dave", &list));
    CHECK(count_of(list, "\"kind\":") == 3);
    CHECK(strstr(list, pin1) == NULL);
    CHECK_HAS(list, pin2);
    CHECK_HAS(list, pw);
    authlock_string_free(list);

    char *history = NULL;
    CHECK_OK(authlock_engine_history_json(engine, "dave", &history));
    CHECK_HAS(history, "\"on_user\":[");
    CHECK_HAS(history, "\"by_user\":[");
    CHECK_HAS(history, "\"reason\":\"reported stolen\"");
    CHECK_HAS(history, "\"operator\":\"desk-7\"");
    CHECK_HAS(history, "\"step\":\"verify-email\"");
    CHECK_HAS(history, "\"type\":\"suspended\"");
    CHECK_HAS(history, "\"type\":\"deleted\"");
    authlock_string_free(history);

    /* What the admin did is in the admin's own history. */
    CHECK_OK(authlock_engine_history_json(engine, "ops", &history));
    CHECK(strstr(history, "\"on_user\":[]") != NULL);
    CHECK(count_of(history, "\"type\":\"deactivated\"") >= 1);
    authlock_string_free(history);

    authlock_engine_free(engine);
}

static void snapshots(void) {
    int64_t now = T0;
    authlock_engine *engine = NULL;
    CHECK_OK(authlock_engine_new_with_clock(POLICY, host_clock, &now, &engine));
    char pin[AUTHLOCK_ID_SIZE], pw[AUTHLOCK_ID_SIZE];
    CHECK_OK(authlock_engine_register(engine, "erin", AUTHLOCK_TYPE_PIN, "bank", "phone", NULL,
                                      NULL, pin));
    CHECK_OK(authlock_engine_register(engine, "erin", AUTHLOCK_TYPE_PASSWORD, "web", NULL, NULL,
                                      NULL, pw));
    fail_times(engine, pin, "bank", 2);

    char *snapshot = NULL;
    CHECK_OK(authlock_engine_snapshot_json(engine, &snapshot));
    CHECK_HAS(snapshot, "\"format\":\"authlock-snapshot\"");
    CHECK_HAS(snapshot, pin);

    /* A new engine of the same tenant takes the state over. */
    authlock_engine *copy = NULL;
    CHECK_OK(authlock_engine_new_with_clock(POLICY, host_clock, &now, &copy));
    CHECK_STATUS(authlock_engine_check(copy, pin, "bank", &(authlock_decision){0}),
                 AUTHLOCK_STATUS_NOT_FOUND);
    CHECK_OK(authlock_engine_restore_json(copy, snapshot));
    CHECK(verdict(copy, pin, "bank") == AUTHLOCK_VERDICT_LOCKED);
    CHECK(verdict(copy, pw, "web") == AUTHLOCK_VERDICT_ALLOWED);

    /* A corrupt snapshot is refused and changes nothing. */
    size_t len = strlen(snapshot);
    char *corrupt = malloc(len + 1);
    CHECK(corrupt != NULL);
    memcpy(corrupt, snapshot, len + 1);
    corrupt[len / 2] = '\0';
    CHECK_STATUS(authlock_engine_restore_json(copy, corrupt), AUTHLOCK_STATUS_INVALID_SNAPSHOT);
    CHECK_LAST_ERROR_HAS("snapshot");
    free(corrupt);
    CHECK_STATUS(authlock_engine_restore_json(copy, "{\"format\":\"authlock-snapshot\",\"version\":99}"),
                 AUTHLOCK_STATUS_INVALID_SNAPSHOT);
    CHECK_LAST_ERROR_HAS("version 99");
    CHECK_STATUS(authlock_engine_restore_json(copy, "not json"), AUTHLOCK_STATUS_INVALID_SNAPSHOT);
    CHECK(verdict(copy, pin, "bank") == AUTHLOCK_VERDICT_LOCKED);

    /* A snapshot of another tenant is refused. */
    authlock_engine *other = NULL;
    CHECK_OK(authlock_engine_new_with_clock("tenant = \"globex\"\n", host_clock, &now, &other));
    CHECK_STATUS(authlock_engine_restore_json(other, snapshot), AUTHLOCK_STATUS_INVALID_SNAPSHOT);
    CHECK_LAST_ERROR_HAS("globex");
    CHECK_STATUS(authlock_engine_check(other, pin, "bank", &(authlock_decision){0}),
                 AUTHLOCK_STATUS_NOT_FOUND);

    authlock_string_free(snapshot);
    authlock_engine_free(other);
    authlock_engine_free(copy);
    authlock_engine_free(engine);
}

int main(void) {
    manual_lock_and_unlock();
    snapshots();
    return finish();
}
