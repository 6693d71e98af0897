/*
 * Bad input through the C interface: every status family, a clear message
 * for each, out-parameters left untouched, and nothing changed.
 */
#include "check.h"

static const int64_t T0 = 1767225600000; /* 2026-01-01T00:00:00Z */

static const char *POLICY =
    "tenant = \"acme\"\n"
    "[policies.password]\n"
    "max_failures = 3\n"
    "failure_window = \"none\"\n"
    "lockout = { kind = \"until_unlocked\" }\n";

static const char BAD_UTF8[] = {'w', (char)0xC3, (char)0x28, 'b', 0};
static const char UNKNOWN_ID[] = "0123456789abcdef0123456789abcdef";

static int64_t host_clock(void *user_data) {
    return *(const int64_t *)user_data;
}

static void ignore_event(void *user_data, const authlock_event *event) {
    (void)user_data;
    (void)event;
}

/* Failures counted on `id` now, read from the authenticator's view. */
static int failures_of(const authlock_engine *engine, const char *id) {
    char *view = NULL;
    if (authlock_engine_authenticator_json(engine, id, &view) != AUTHLOCK_STATUS_OK) {
        return -1;
    }
    const char *p = strstr(view, "\"failures\":");
    int n = p ? atoi(p + strlen("\"failures\":")) : -1;
    authlock_string_free(view);
    return n;
}

static void messages(void) {
    const authlock_status all[] = {
        AUTHLOCK_STATUS_OK, AUTHLOCK_STATUS_NULL_PARAMETER, AUTHLOCK_STATUS_INVALID_UTF8,
        AUTHLOCK_STATUS_INVALID_ARGUMENT, AUTHLOCK_STATUS_INVALID_ID, AUTHLOCK_STATUS_INVALID_KIND,
        AUTHLOCK_STATUS_NOT_FOUND, AUTHLOCK_STATUS_DELETED, AUTHLOCK_STATUS_UNKNOWN_USER,
        AUTHLOCK_STATUS_ALREADY_REGISTERED, AUTHLOCK_STATUS_UNKNOWN_RESERVATION,
        AUTHLOCK_STATUS_UNSUPPORTED, AUTHLOCK_STATUS_WRONG_APP, AUTHLOCK_STATUS_INVALID_POLICY,
        AUTHLOCK_STATUS_INVALID_SNAPSHOT, AUTHLOCK_STATUS_INVALID_HISTORY,
        AUTHLOCK_STATUS_INTERNAL, AUTHLOCK_STATUS_PANIC, AUTHLOCK_STATUS_STORAGE,
    };
    const char *unknown = authlock_status_message(12345);
    CHECK(unknown != NULL && strcmp(unknown, "unknown status") == 0);
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *m = authlock_status_message(all[i]);
        CHECK(m != NULL && m[0] != '\0' && strcmp(m, unknown) != 0);
        for (size_t j = 0; j < i; j++) {
            CHECK(all[i] != all[j]);
            CHECK(strcmp(m, authlock_status_message(all[j])) != 0);
        }
    }
    CHECK(strcmp(authlock_status_message(AUTHLOCK_STATUS_OK), "success") == 0);
    /* Families by the thousand. */
    CHECK(AUTHLOCK_STATUS_NULL_PARAMETER / 1000 == 1 && AUTHLOCK_STATUS_INVALID_UTF8 / 1000 == 1);
    CHECK(AUTHLOCK_STATUS_NOT_FOUND / 1000 == 2 && AUTHLOCK_STATUS_DELETED / 1000 == 2);
    CHECK(AUTHLOCK_STATUS_UNSUPPORTED / 1000 == 3 && AUTHLOCK_STATUS_WRONG_APP / 1000 == 4);
    CHECK(AUTHLOCK_STATUS_INVALID_POLICY / 1000 == 5 && AUTHLOCK_STATUS_INVALID_SNAPSHOT / 1000 == 6);
    CHECK(AUTHLOCK_STATUS_PANIC / 1000 == 7 && AUTHLOCK_STATUS_STORAGE / 1000 == 8);
    /* Freeing NULL is allowed. */
    authlock_string_free(NULL);
    authlock_engine_free(NULL);
    CHECK(1);
}

static void engine_creation(void) {
    int64_t now = T0;
    authlock_engine *sentinel = (authlock_engine *)&now;
    authlock_engine *engine = sentinel;

    CHECK_STATUS(authlock_engine_new(NULL, &engine), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("document");
    CHECK_STATUS(authlock_engine_new(POLICY, NULL), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("out_engine");
    CHECK_STATUS(authlock_engine_new("[policies.password]\nmax_failures = 500\n", &engine),
                 AUTHLOCK_STATUS_INVALID_POLICY);
    CHECK_LAST_ERROR_HAS("policies.password.max_failures");
    CHECK_STATUS(authlock_engine_new("{ not json", &engine), AUTHLOCK_STATUS_INVALID_POLICY);
    CHECK_STATUS(authlock_engine_new("[policies.social_login]\nmax_failures = 3\n", &engine),
                 AUTHLOCK_STATUS_INVALID_POLICY);
    CHECK_LAST_ERROR_HAS("social_login");
    CHECK_STATUS(authlock_engine_new(BAD_UTF8, &engine), AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_LAST_ERROR_HAS("UTF-8");
    CHECK_STATUS(authlock_engine_new_with_clock(POLICY, NULL, &now, &engine),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("clock");
    CHECK_STATUS(authlock_engine_new_with_clock(NULL, host_clock, &now, &engine),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_new_with_clock(POLICY, host_clock, &now, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_new_with_clock("tenant = 5\n", host_clock, &now, &engine),
                 AUTHLOCK_STATUS_INVALID_POLICY);
    /* The out-parameter was never written. */
    CHECK(engine == sentinel);
    CHECK_STATUS(authlock_policy_validate(NULL), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_policy_validate(BAD_UTF8), AUTHLOCK_STATUS_INVALID_UTF8);
}

static void bad_arguments(void) {
    int64_t now = T0;
    authlock_engine *engine = NULL;
    CHECK_OK(authlock_engine_new_with_clock(POLICY, host_clock, &now, &engine));
    authlock_actor admin = {AUTHLOCK_ACTOR_ADMIN, "ops", NULL};
    char pw[AUTHLOCK_ID_SIZE];
    CHECK_OK(authlock_engine_register(engine, "frank", AUTHLOCK_TYPE_PASSWORD, "web", NULL, NULL,
                                      NULL, pw));
    authlock_decision d;
    authlock_outcome o;
    char *json = NULL;
    char id[AUTHLOCK_ID_SIZE];

    /* NULL for each required pointer. */
    CHECK_STATUS(authlock_engine_check(NULL, pw, "web", &d), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("engine");
    CHECK_STATUS(authlock_engine_check(engine, NULL, "web", &d), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("`id`");
    CHECK_STATUS(authlock_engine_check(engine, pw, NULL, &d), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("`app`");
    CHECK_STATUS(authlock_engine_check(engine, pw, "web", NULL), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("out_decision");
    CHECK_STATUS(authlock_engine_record_failure(engine, pw, "web", NULL, NULL, 4, &o),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("fingerprint");
    CHECK_STATUS(authlock_engine_record_failure(engine, pw, "web", NULL, NULL, 0, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_record_success(engine, pw, NULL, NULL, &o),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_reserve(engine, NULL, "web", NULL, NULL, 0, &o),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_commit(engine, pw, "web", NULL, 0, true, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_register(engine, NULL, AUTHLOCK_TYPE_PASSWORD, "web", NULL,
                                          NULL, NULL, id),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_register(engine, "gina", AUTHLOCK_TYPE_PASSWORD, "web", NULL,
                                          NULL, NULL, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("out_id");
    CHECK_STATUS(authlock_engine_add_identifier(engine, "gina", AUTHLOCK_IDENTIFIER_EMAIL, NULL,
                                                NULL, NULL, &json),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_add_identifier(engine, "gina", AUTHLOCK_IDENTIFIER_CUSTOM, NULL,
                                                "x", NULL, &json),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("custom_name");
    CHECK_STATUS(authlock_engine_add_identifier(engine, "gina", AUTHLOCK_IDENTIFIER_EMAIL, NULL,
                                                "g@example.com", NULL, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_record_first_use(engine, "gina", AUTHLOCK_TYPE_SAML, NULL,
                                                  "web", NULL, id, &o),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_record_first_use(engine, "gina", AUTHLOCK_TYPE_SAML, "idp:g",
                                                  "web", NULL, id, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_lock(engine, pw, "web", NULL, "r"), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("actor");
    authlock_actor nameless = {AUTHLOCK_ACTOR_ADMIN, NULL, NULL};
    CHECK_STATUS(authlock_engine_lock(engine, pw, "web", &nameless, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("actor.id");
    authlock_actor stepless = {AUTHLOCK_ACTOR_JOURNEY, "j", NULL};
    CHECK_STATUS(authlock_engine_unlock(engine, pw, "web", &stepless, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("actor.step");
    CHECK_STATUS(authlock_engine_unlock_type(engine, NULL, AUTHLOCK_TYPE_PASSWORD, "web", &admin,
                                             NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_delete(engine, pw, NULL, &admin, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_deactivate(NULL, pw, "web", &admin, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_reactivate(engine, NULL, "web", &admin, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_suspend_user(engine, NULL, &admin, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_unsuspend_user(engine, "frank", NULL, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_authenticators_json(engine, "frank", NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_authenticator_json(engine, NULL, &json),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_history_json(engine, NULL, &json),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_snapshot_json(engine, NULL), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_snapshot_json(NULL, &json), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_restore_json(engine, NULL), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_set_event_callback(NULL, ignore_event, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK(json == NULL);

    /* Invalid UTF-8 in each kind of string. */
    CHECK_STATUS(authlock_engine_check(engine, pw, BAD_UTF8, &d), AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_LAST_ERROR_HAS("`app` is not valid UTF-8");
    CHECK_STATUS(authlock_engine_check(engine, BAD_UTF8, "web", &d), AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_STATUS(authlock_engine_register(engine, BAD_UTF8, AUTHLOCK_TYPE_PASSWORD, "web", NULL,
                                          NULL, NULL, id),
                 AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_STATUS(authlock_engine_record_failure(engine, pw, "web", BAD_UTF8, NULL, 0, &o),
                 AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_LAST_ERROR_HAS("device");
    CHECK_STATUS(authlock_engine_lock(engine, pw, "web", &admin, BAD_UTF8),
                 AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_LAST_ERROR_HAS("reason");
    authlock_actor bad_admin = {AUTHLOCK_ACTOR_ADMIN, BAD_UTF8, NULL};
    CHECK_STATUS(authlock_engine_lock(engine, pw, "web", &bad_admin, NULL),
                 AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_STATUS(authlock_engine_history_json(engine, BAD_UTF8, &json), AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_STATUS(authlock_engine_restore_json(engine, BAD_UTF8), AUTHLOCK_STATUS_INVALID_UTF8);

    /* Malformed arguments. */
    CHECK_STATUS(authlock_engine_check(engine, "not-an-id", "web", &d), AUTHLOCK_STATUS_INVALID_ID);
    CHECK_LAST_ERROR_HAS("32 lowercase hex digits");
    CHECK_STATUS(authlock_engine_check(engine, "0123456789ABCDEF0123456789ABCDEF", "web", &d),
                 AUTHLOCK_STATUS_INVALID_ID);
    CHECK_STATUS(authlock_engine_register(engine, "", AUTHLOCK_TYPE_PASSWORD, "web", NULL, NULL,
                                          NULL, id),
                 AUTHLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("user");
    CHECK_STATUS(authlock_engine_register(engine, "gina", AUTHLOCK_TYPE_PIN, "web", NULL, NULL,
                                          NULL, id),
                 AUTHLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("device");
    CHECK_STATUS(authlock_engine_register(engine, "gina", AUTHLOCK_TYPE_PASSWORD, "web", "phone",
                                          NULL, NULL, id),
                 AUTHLOCK_STATUS_INVALID_ARGUMENT);
    uint8_t long_fp[AUTHLOCK_FINGERPRINT_MAX_LEN + 1];
    memset(long_fp, 7, sizeof long_fp);
    CHECK_STATUS(authlock_engine_record_failure(engine, pw, "web", NULL, long_fp, sizeof long_fp, &o),
                 AUTHLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("fingerprint");
    CHECK_STATUS(authlock_engine_reserve(engine, pw, "web", NULL, long_fp, sizeof long_fp, &o),
                 AUTHLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(authlock_engine_add_identifier(engine, "gina", AUTHLOCK_IDENTIFIER_EMAIL,
                                                "named", "g@example.com", NULL, &json),
                 AUTHLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("custom_name");
    CHECK_STATUS(authlock_engine_lock(engine, pw, "web", &admin, "line\x01break"),
                 AUTHLOCK_STATUS_INVALID_ARGUMENT);

    /* Numbers outside the header's constants. */
    CHECK_STATUS(authlock_engine_register(engine, "gina", 13, "web", NULL, NULL, NULL, id),
                 AUTHLOCK_STATUS_INVALID_KIND);
    CHECK_LAST_ERROR_HAS("AUTHLOCK_TYPE_");
    CHECK_STATUS(authlock_engine_add_identifier(engine, "gina", 99, NULL, "x", NULL, &json),
                 AUTHLOCK_STATUS_INVALID_KIND);
    authlock_actor odd = {77, "x", NULL};
    CHECK_STATUS(authlock_engine_lock(engine, pw, "web", &odd, NULL), AUTHLOCK_STATUS_INVALID_KIND);
    CHECK_LAST_ERROR_HAS("AUTHLOCK_ACTOR_");
    CHECK_STATUS(authlock_engine_unlock_type(engine, "frank", 4000000000u, "web", &admin, NULL),
                 AUTHLOCK_STATUS_INVALID_KIND);

    /* Nothing above changed the state: no failure was counted, no lock
     * made, no user or identifier added. */
    CHECK(failures_of(engine, pw) == 0);
    CHECK_OK(authlock_engine_check(engine, pw, "web", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_ALLOWED);
    CHECK_STATUS(authlock_engine_authenticators_json(engine, "gina", &json),
                 AUTHLOCK_STATUS_UNKNOWN_USER);
    CHECK(json == NULL);

    authlock_engine_free(engine);
}

static void unknown_deleted_unsupported_and_wrong_app(void) {
    int64_t now = T0;
    authlock_engine *engine = NULL;
    CHECK_OK(authlock_engine_new_with_clock(POLICY, host_clock, &now, &engine));
    authlock_actor admin = {AUTHLOCK_ACTOR_ADMIN, "ops", NULL};
    authlock_decision d;
    authlock_outcome o;
    char *json = NULL;
    char pw[AUTHLOCK_ID_SIZE], id[AUTHLOCK_ID_SIZE];
    CHECK_OK(authlock_engine_register(engine, "hank", AUTHLOCK_TYPE_PASSWORD, "web", NULL, NULL,
                                      NULL, pw));

    /* Unknown ID and unknown user. */
    memset(&d, 0xAB, sizeof d);
    authlock_decision untouched;
    memset(&untouched, 0xAB, sizeof untouched);
    CHECK_STATUS(authlock_engine_check(engine, UNKNOWN_ID, "web", &d), AUTHLOCK_STATUS_NOT_FOUND);
    CHECK_LAST_ERROR_HAS(UNKNOWN_ID);
    CHECK(memcmp(&d, &untouched, sizeof d) == 0);
    CHECK_STATUS(authlock_engine_record_failure(engine, UNKNOWN_ID, "web", NULL, NULL, 0, &o),
                 AUTHLOCK_STATUS_NOT_FOUND);
    CHECK_STATUS(authlock_engine_lock(engine, UNKNOWN_ID, "web", &admin, NULL),
                 AUTHLOCK_STATUS_NOT_FOUND);
    CHECK_STATUS(authlock_engine_authenticator_json(engine, UNKNOWN_ID, &json),
                 AUTHLOCK_STATUS_NOT_FOUND);
    CHECK_STATUS(authlock_engine_suspend_user(engine, "nobody", &admin, NULL),
                 AUTHLOCK_STATUS_UNKNOWN_USER);
    CHECK_LAST_ERROR_HAS("nobody");
    CHECK_STATUS(authlock_engine_unlock_type(engine, "nobody", AUTHLOCK_TYPE_PIN, "web", &admin,
                                             NULL),
                 AUTHLOCK_STATUS_UNKNOWN_USER);

    /* Registered twice in the same app. */
    CHECK_STATUS(authlock_engine_register(engine, "hank", AUTHLOCK_TYPE_PASSWORD, "web", NULL,
                                          NULL, NULL, id),
                 AUTHLOCK_STATUS_ALREADY_REGISTERED);
    CHECK_LAST_ERROR_HAS(pw);

    /* Wrong app: the password has no instance in "shop". */
    CHECK_STATUS(authlock_engine_check(engine, pw, "shop", &d), AUTHLOCK_STATUS_WRONG_APP);
    CHECK_LAST_ERROR_HAS("shop");
    CHECK_STATUS(authlock_engine_record_failure(engine, pw, "shop", NULL, NULL, 0, &o),
                 AUTHLOCK_STATUS_WRONG_APP);
    CHECK_STATUS(authlock_engine_lock(engine, pw, "shop", &admin, NULL), AUTHLOCK_STATUS_WRONG_APP);

    /* Unsupported operations for the type. */
    CHECK_OK(authlock_engine_add_identifier(engine, "hank", AUTHLOCK_IDENTIFIER_EMAIL, NULL,
                                            "hank@example.com", NULL, &json));
    char otp[AUTHLOCK_ID_SIZE] = {0};
    if (json != NULL && strlen(json) > 34) {
        memcpy(otp, json + 2, AUTHLOCK_ID_SIZE - 1);
    }
    authlock_string_free(json);
    json = NULL;
    CHECK(is_id(otp));
    CHECK_STATUS(authlock_engine_lock(engine, otp, "web", &admin, NULL), AUTHLOCK_STATUS_UNSUPPORTED);
    CHECK_LAST_ERROR_HAS("manual lock");
    CHECK_STATUS(authlock_engine_delete(engine, otp, "web", &admin, NULL), AUTHLOCK_STATUS_UNSUPPORTED);
    CHECK_STATUS(authlock_engine_register(engine, "hank", AUTHLOCK_TYPE_EMAIL_OTP, "web", NULL,
                                          NULL, NULL, id),
                 AUTHLOCK_STATUS_UNSUPPORTED);
    CHECK_STATUS(authlock_engine_record_first_use(engine, "hank", AUTHLOCK_TYPE_PASSWORD,
                                                  "acct", "web", NULL, id, &o),
                 AUTHLOCK_STATUS_UNSUPPORTED);
    char social[AUTHLOCK_ID_SIZE];
    CHECK_OK(authlock_engine_record_first_use(engine, "hank", AUTHLOCK_TYPE_SOCIAL_LOGIN,
                                              "github:9", "web", NULL, social, &o));
    CHECK_STATUS(authlock_engine_record_failure(engine, social, "web", NULL, NULL, 0, &o),
                 AUTHLOCK_STATUS_UNSUPPORTED);
    CHECK_STATUS(authlock_engine_unlock_type(engine, "hank", AUTHLOCK_TYPE_SOCIAL_LOGIN, "web",
                                             &admin, NULL),
                 AUTHLOCK_STATUS_UNSUPPORTED);

    /* Deleted ID: the check answers "deleted"; every change is refused. */
    CHECK_OK(authlock_engine_delete(engine, pw, "web", &admin, NULL));
    CHECK_OK(authlock_engine_check(engine, pw, "web", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_DELETED);
    CHECK_STATUS(authlock_engine_record_success(engine, pw, "web", NULL, &o), AUTHLOCK_STATUS_DELETED);
    CHECK_LAST_ERROR_HAS("deleted");
    CHECK_STATUS(authlock_engine_unlock(engine, pw, "web", &admin, NULL), AUTHLOCK_STATUS_DELETED);
    CHECK_STATUS(authlock_engine_deactivate(engine, pw, "web", &admin, NULL), AUTHLOCK_STATUS_DELETED);
    CHECK_STATUS(authlock_engine_reactivate(engine, pw, "web", &admin, NULL), AUTHLOCK_STATUS_DELETED);
    CHECK_STATUS(authlock_engine_delete(engine, pw, "web", &admin, NULL), AUTHLOCK_STATUS_DELETED);
    CHECK_STATUS(authlock_engine_reserve(engine, pw, "web", NULL, NULL, 0, &o), AUTHLOCK_STATUS_DELETED);
    CHECK_STATUS(authlock_engine_authenticator_json(engine, pw, &json), AUTHLOCK_STATUS_DELETED);
    CHECK(json == NULL);

    /* The last error belongs to the thread and survives successful calls. */
    CHECK_STATUS(authlock_engine_check(engine, "short", "web", &d), AUTHLOCK_STATUS_INVALID_ID);
    CHECK_OK(authlock_engine_check(engine, social, "web", &d));
    CHECK_LAST_ERROR_HAS("short");

    authlock_engine_free(engine);
}

int main(void) {
    messages();
    engine_creation();
    bad_arguments();
    unknown_deleted_unsupported_and_wrong_app();
    return finish();
}
