/*
 * Journey steps and the helpdesk through the C interface, JSON in and out:
 * lock and unlock steps, a step whose expression finds nothing, an abort;
 * the Unlock Account flow with its refusals; bad arguments and malformed
 * JSON, each refused with its status and changing nothing.
 */
#include "check.h"

static const int64_t T0 = 1767225600000; /* 2026-01-01T00:00:00Z */

/* The tenant's policies, with the identity store corp's account lockout
 * policy as the password policy of its app. */
static const char *POLICY =
    "tenant = \"acme\"\n"
    "[policies.password]\n"
    "max_failures = 5\n"
    "failure_window = \"none\"\n"
    "lockout = { kind = \"until_unlocked\" }\n"
    "[apps.\"identity-store:corp\".policies.password]\n"
    "max_failures = 2\n"
    "failure_window = \"none\"\n"
    "lockout = { kind = \"until_unlocked\" }\n";

static const char *HELPDESK_CONFIG =
    "{\"stores\": {\"corp\": {\"account_lockout\": {\"max_failures\": 2,"
    " \"failure_window\": \"none\", \"lockout\": {\"kind\": \"until_unlocked\"}}},"
    " \"partners\": {}},"
    " \"roles\": {\"tier1\": {\"permissions\": [\"unlock_account\"], \"mode\": \"restricted\"}},"
    " \"operators\": {\"olga\": \"tier1\", \"sam\": \"tier1\"}}";

static const char BAD_UTF8[] = {'{', (char)0xC3, (char)0x28, '}', 0};

static int64_t host_clock(void *user_data) {
    return *(const int64_t *)user_data;
}

/* The engine's whole state as JSON (caller frees), to compare before and
 * after a refused call. */
static char *snapshot(const authlock_engine *engine) {
    char *json = NULL;
    CHECK_OK(authlock_engine_snapshot_json(engine, &json));
    return json;
}

static int same_text(const char *a, const char *b) {
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static authlock_decision decision_of(const authlock_engine *engine, const char *id,
                                     const char *app) {
    authlock_decision d;
    memset(&d, 0, sizeof d);
    d.verdict = (authlock_verdict)99;
    CHECK_OK(authlock_engine_check(engine, id, app, &d));
    return d;
}

/* Runs one step; returns the response (caller frees) or NULL. */
static char *run_step(const authlock_engine *engine, const char *request) {
    char *out = NULL;
    CHECK_OK(authlock_journey_run_step(engine, request, &out));
    return out;
}

static void journey_steps(void) {
    int64_t now = T0;
    authlock_engine *engine = NULL;
    CHECK_OK(authlock_engine_new_with_clock(POLICY, host_clock, &now, &engine));
    authlock_actor admin = {AUTHLOCK_ACTOR_ADMIN, "ops", NULL};
    char pw[AUTHLOCK_ID_SIZE];
    char totp[AUTHLOCK_ID_SIZE];
    CHECK_OK(authlock_engine_register(engine, "alice", AUTHLOCK_TYPE_PASSWORD, "web", NULL, NULL,
                                      &admin, pw));
    CHECK_OK(authlock_engine_register(engine, "alice", AUTHLOCK_TYPE_TOTP, "web", NULL, NULL,
                                      &admin, totp));

    char request[2048];

    /* A lock step that continues. */
    snprintf(request, sizeof request,
             "{\"step\": {\"name\": \"lock risky\", \"type\": \"lock_authenticator\","
             " \"authenticator_id\": \"target.id\", \"lock_reason\": \"risk score above 90\","
             " \"error_output_variable\": \"err\"},"
             " \"context\": {\"journey\": \"risk\", \"app\": \"web\","
             " \"authenticated_user\": \"alice\", \"variables\": {\"target\": {\"id\": \"%s\"}}}}",
             pw);
    char *out = run_step(engine, request);
    CHECK_HAS(out, "\"outcome\":\"continue\"");
    CHECK_HAS(out, "\"user\":\"alice\"");
    CHECK_HAS(out, "\"err\":null");
    CHECK_HAS(out, "\"journey\":\"risk\"");
    authlock_string_free(out);
    authlock_decision d = decision_of(engine, pw, "web");
    CHECK(d.verdict == AUTHLOCK_VERDICT_LOCKED);
    CHECK(d.reason == AUTHLOCK_REASON_MANUAL_LOCK);
    CHECK(d.has_lock_reason);
    char *history = NULL;
    CHECK_OK(authlock_engine_history_json(engine, "alice", &history));
    CHECK_HAS(history, "lock risky");
    CHECK_HAS(history, "risk score above 90");
    authlock_string_free(history);

    /* An unlock step. */
    snprintf(request, sizeof request,
             "{\"step\": {\"name\": \"unlock after recovery\", \"type\": \"unlock_authenticator\","
             " \"authenticator_id\": \"target.id\"},"
             " \"context\": {\"journey\": \"recovery\", \"app\": \"web\","
             " \"authenticated_user\": \"alice\", \"variables\": {\"target\": {\"id\": \"%s\"}}}}",
             pw);
    out = run_step(engine, request);
    CHECK_HAS(out, "\"outcome\":\"continue\"");
    CHECK_HAS(out, "\"error\":null");
    authlock_string_free(out);
    d = decision_of(engine, pw, "web");
    CHECK(d.verdict == AUTHLOCK_VERDICT_ALLOWED);

    /* An expression that finds nothing: the failure branch, the error in
     * the error variable, and nothing changed. */
    char *before = snapshot(engine);
    snprintf(request, sizeof request,
             "{\"step\": {\"name\": \"lock missing\", \"type\": \"lock_authenticator\","
             " \"authenticator_id\": \"target.id\", \"error_output_variable\": \"err\"},"
             " \"context\": {\"journey\": \"risk\", \"app\": \"web\","
             " \"authenticated_user\": \"alice\", \"variables\": {\"target\": {}}}}");
    out = run_step(engine, request);
    CHECK_HAS(out, "\"outcome\":\"failure_branch\"");
    CHECK_HAS(out, "\"code\":\"authenticator_id_missing\"");
    CHECK_HAS(out, "\"err\":{");
    CHECK(out != NULL && strstr(out, "client_error") == NULL);
    authlock_string_free(out);
    char *after = snapshot(engine);
    CHECK(same_text(before, after));
    authlock_string_free(after);
    d = decision_of(engine, pw, "web");
    CHECK(d.verdict == AUTHLOCK_VERDICT_ALLOWED);

    /* An abort: a TOTP cannot be locked by a step; the client error says so. */
    snprintf(request, sizeof request,
             "{\"step\": {\"name\": \"lock totp\", \"type\": \"lock_authenticator\","
             " \"authenticator_id\": \"target.id\", \"failure_behavior\": \"abort\"},"
             " \"context\": {\"journey\": \"risk\", \"app\": \"web\","
             " \"authenticated_user\": \"alice\", \"variables\": {\"target\": {\"id\": \"%s\"}}}}",
             totp);
    out = run_step(engine, request);
    CHECK_HAS(out, "\"outcome\":\"abort\"");
    CHECK_HAS(out, "\"client_error\":{");
    CHECK_HAS(out, "\"code\":\"unsupported_type\"");
    CHECK_HAS(out, "cannot be locked by a journey step");
    authlock_string_free(out);
    after = snapshot(engine);
    CHECK(same_text(before, after));
    authlock_string_free(after);

    /* Bad arguments: each refused with its status, the out-parameter left
     * as it was, nothing changed. */
    char sentinel_text[] = "untouched";
    char *sentinel = sentinel_text;
    out = sentinel;
    CHECK_STATUS(authlock_journey_run_step(NULL, request, &out), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("engine");
    CHECK_STATUS(authlock_journey_run_step(engine, NULL, &out), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("request_json");
    CHECK_STATUS(authlock_journey_run_step(engine, request, NULL), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("out_json");
    CHECK_STATUS(authlock_journey_run_step(engine, BAD_UTF8, &out), AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_LAST_ERROR_HAS("request_json");
    CHECK_STATUS(authlock_journey_run_step(engine, "{\"step\": ", &out),
                 AUTHLOCK_STATUS_INVALID_REQUEST);
    CHECK_LAST_ERROR_HAS("invalid step request");
    CHECK_STATUS(authlock_journey_run_step(engine, "[1, 2]", &out), AUTHLOCK_STATUS_INVALID_REQUEST);
    /* An unknown field in the request. */
    CHECK_STATUS(authlock_journey_run_step(
                     engine,
                     "{\"step\": {\"name\": \"n\", \"type\": \"user_authenticators\","
                     " \"output_variable\": \"list\"}, \"context\": {\"journey\": \"j\","
                     " \"app\": \"web\", \"authenticated_user\": \"alice\"}, \"extra\": 1}",
                     &out),
                 AUTHLOCK_STATUS_INVALID_REQUEST);
    CHECK_LAST_ERROR_HAS("extra");
    /* A malformed expression: the configuration is refused, with its column. */
    snprintf(request, sizeof request,
             "{\"step\": {\"name\": \"n\", \"type\": \"lock_authenticator\","
             " \"authenticator_id\": \"a..b\"},"
             " \"context\": {\"journey\": \"j\", \"app\": \"web\","
             " \"authenticated_user\": \"alice\", \"variables\": {\"a\": \"%s\"}}}",
             pw);
    CHECK_STATUS(authlock_journey_run_step(engine, request, &out),
                 AUTHLOCK_STATUS_INVALID_STEP_CONFIG);
    CHECK_LAST_ERROR_HAS("authenticator_id");
    CHECK_LAST_ERROR_HAS("column 3");
    /* An unusable context: an empty app. */
    snprintf(request, sizeof request,
             "{\"step\": {\"name\": \"n\", \"type\": \"lock_authenticator\","
             " \"authenticator_id\": \"a\"},"
             " \"context\": {\"journey\": \"j\", \"app\": \"\","
             " \"authenticated_user\": \"alice\", \"variables\": {\"a\": \"%s\"}}}",
             pw);
    CHECK_STATUS(authlock_journey_run_step(engine, request, &out), AUTHLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("invalid journey context");
    CHECK(out == sentinel);
    after = snapshot(engine);
    CHECK(same_text(before, after));
    authlock_string_free(after);
    authlock_string_free(before);

    /* The user authenticators step writes the list to its variable. */
    out = run_step(engine,
                   "{\"step\": {\"name\": \"list\", \"type\": \"user_authenticators\","
                   " \"output_variable\": \"list\"}, \"context\": {\"journey\": \"j\","
                   " \"app\": \"web\", \"authenticated_user\": \"alice\"}}");
    CHECK_HAS(out, "\"outcome\":\"continue\"");
    CHECK_HAS(out, "\"list\":[");
    CHECK_HAS(out, pw);
    CHECK_HAS(out, totp);
    authlock_string_free(out);

    authlock_engine_free(engine);
}

/* Handles one helpdesk request that must succeed; returns the response
 * (caller frees) or NULL. */
static char *handle(const authlock_helpdesk *helpdesk, const char *request) {
    char *out = NULL;
    CHECK_OK(authlock_helpdesk_handle(helpdesk, request, &out));
    return out;
}

/* Handles a request that must succeed, discarding the response. */
static void handle_ok(const authlock_helpdesk *helpdesk, const char *request) {
    authlock_string_free(handle(helpdesk, request));
}

/* The number after "session": in a response, or 0. */
static unsigned long long session_of(const char *json) {
    const char *p = json ? strstr(json, "\"session\":") : NULL;
    return p ? strtoull(p + strlen("\"session\":"), NULL, 10) : 0;
}

/* Everything a refusal must leave as it was: the engine and the helpdesk. */
static char *everything(const authlock_engine *engine, const authlock_helpdesk *helpdesk) {
    char *engine_json = snapshot(engine);
    char *helpdesk_json = handle(helpdesk, "{\"op\": \"state\"}");
    size_t n = (engine_json ? strlen(engine_json) : 0) +
               (helpdesk_json ? strlen(helpdesk_json) : 0) + 2;
    char *all = malloc(n);
    if (all != NULL) {
        snprintf(all, n, "%s\n%s", engine_json ? engine_json : "",
                 helpdesk_json ? helpdesk_json : "");
    }
    authlock_string_free(engine_json);
    authlock_string_free(helpdesk_json);
    return all;
}

/* Checks that a request is refused with `expected`, its message mentions
 * `needle`, and nothing changed. */
static void check_refused(const authlock_engine *engine, const authlock_helpdesk *helpdesk,
                          const char *request, authlock_status expected, const char *needle) {
    char *before = everything(engine, helpdesk);
    char sentinel_text[] = "untouched";
    char *out = sentinel_text;
    CHECK_STATUS(authlock_helpdesk_handle(helpdesk, request, &out), expected);
    CHECK_LAST_ERROR_HAS(needle);
    CHECK(out == sentinel_text);
    char *after = everything(engine, helpdesk);
    CHECK(same_text(before, after));
    free(before);
    free(after);
}

static void helpdesk_creation(void) {
    int64_t now = T0;
    authlock_engine *engine = NULL;
    CHECK_OK(authlock_engine_new_with_clock(POLICY, host_clock, &now, &engine));
    authlock_helpdesk *sentinel = (authlock_helpdesk *)&now;
    authlock_helpdesk *helpdesk = sentinel;

    CHECK_STATUS(authlock_helpdesk_new(NULL, HELPDESK_CONFIG, &helpdesk),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("engine");
    CHECK_STATUS(authlock_helpdesk_new(engine, NULL, &helpdesk), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("config_json");
    CHECK_STATUS(authlock_helpdesk_new(engine, HELPDESK_CONFIG, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("out_helpdesk");
    CHECK_STATUS(authlock_helpdesk_new(engine, BAD_UTF8, &helpdesk), AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_LAST_ERROR_HAS("config_json");
    CHECK_STATUS(authlock_helpdesk_new(engine, "{\"stores\": ", &helpdesk),
                 AUTHLOCK_STATUS_INVALID_HELPDESK_CONFIG);
    CHECK_LAST_ERROR_HAS("not a valid JSON helpdesk document");
    CHECK_STATUS(authlock_helpdesk_new(engine, "{\"operators\": {\"olga\": \"nobody\"}}", &helpdesk),
                 AUTHLOCK_STATUS_INVALID_HELPDESK_CONFIG);
    CHECK_LAST_ERROR_HAS("role `nobody` is not defined");
    CHECK(helpdesk == sentinel);
    authlock_engine_free(engine);

    /* An engine built without the store's account lockout policy. */
    engine = NULL;
    CHECK_OK(authlock_engine_new_with_clock("[policies.password]\nmax_failures = 5\n", host_clock,
                                            &now, &engine));
    CHECK_STATUS(authlock_helpdesk_new(engine, HELPDESK_CONFIG, &helpdesk),
                 AUTHLOCK_STATUS_INVALID_HELPDESK_CONFIG);
    CHECK_LAST_ERROR_HAS("stores.corp.account_lockout");
    CHECK(helpdesk == sentinel);
    authlock_engine_free(engine);

    /* Freeing NULL is allowed. */
    authlock_helpdesk_free(NULL);
    CHECK(1);
}

static void helpdesk_flow(void) {
    int64_t now = T0;
    authlock_engine *engine = NULL;
    CHECK_OK(authlock_engine_new_with_clock(POLICY, host_clock, &now, &engine));
    authlock_helpdesk *helpdesk = NULL;
    CHECK_OK(authlock_helpdesk_new(engine, HELPDESK_CONFIG, &helpdesk));
    CHECK(helpdesk != NULL);

    handle_ok(helpdesk,
              "{\"op\": \"add_account\", \"account\": {\"account\": {\"store\": \"corp\","
              " \"user\": \"alice\"}, \"display_name\": \"Alice\", \"enrolled\": [\"email\"]}}");
    handle_ok(helpdesk,
              "{\"op\": \"add_account\", \"account\": {\"account\": {\"store\": \"corp\","
              " \"user\": \"bob\"}}}");
    /* Two failed logins lock alice's account by corp's policy. */
    char *out = NULL;
    for (int i = 0; i < 2; i++) {
        out = handle(helpdesk, "{\"op\": \"record_login_failure\", \"account\":"
                               " {\"store\": \"corp\", \"user\": \"alice\"}}");
        CHECK_HAS(out, "\"accepted\":true");
        authlock_string_free(out);
    }
    out = handle(helpdesk, "{\"op\": \"account_status\", \"account\":"
                           " {\"store\": \"corp\", \"user\": \"alice\"}}");
    CHECK_HAS(out, "\"locked\":true");
    CHECK_HAS(out, "\"display_name\":\"Alice\"");
    authlock_string_free(out);
    /* The lock is the engine's: alice's password in the store's app. */
    char *views = NULL;
    CHECK_OK(authlock_engine_authenticators_json(engine, "alice", &views));
    CHECK_HAS(views, "identity-store:corp");
    CHECK_HAS(views, "\"locked\"");
    authlock_string_free(views);

    /* Restricted mode: the dialog opens on the Authenticate page. */
    out = handle(helpdesk, "{\"op\": \"begin_unlock\", \"operator\": \"olga\", \"account\":"
                           " {\"store\": \"corp\", \"user\": \"alice\"}}");
    CHECK_HAS(out, "\"page\":\"authenticate\"");
    CHECK_HAS(out, "\"may_skip_authentication\":false");
    unsigned long long session = session_of(out);
    CHECK(session != 0);
    authlock_string_free(out);

    char request[512];
    /* The Unlock page before authenticating: refused, naming the step. */
    snprintf(request, sizeof request,
             "{\"op\": \"unlock_page\", \"operator\": \"olga\", \"session\": %llu}", session);
    check_refused(engine, helpdesk, request, AUTHLOCK_STATUS_HELPDESK_AUTHENTICATION_REQUIRED,
                  "authenticate the user first");
    snprintf(request, sizeof request,
             "{\"op\": \"unlock\", \"operator\": \"olga\", \"session\": %llu, \"accounts\":"
             " [{\"store\": \"corp\", \"user\": \"alice\"}]}",
             session);
    check_refused(engine, helpdesk, request, AUTHLOCK_STATUS_HELPDESK_AUTHENTICATION_REQUIRED,
                  "restricted helpdesk policy mode");
    /* A type the user is not enrolled with. */
    snprintf(request, sizeof request,
             "{\"op\": \"authenticate_user\", \"operator\": \"olga\", \"session\": %llu,"
             " \"method\": \"sms\"}",
             session);
    check_refused(engine, helpdesk, request, AUTHLOCK_STATUS_HELPDESK_NOT_ENROLLED,
                  "not enrolled with `sms`");
    /* Another operator cannot use olga's dialog. */
    snprintf(request, sizeof request,
             "{\"op\": \"unlock_page\", \"operator\": \"sam\", \"session\": %llu}", session);
    check_refused(engine, helpdesk, request, AUTHLOCK_STATUS_HELPDESK_SESSION_OF_ANOTHER_OPERATOR,
                  "another operator");

    /* Authenticate, then unlock. */
    snprintf(request, sizeof request,
             "{\"op\": \"authenticate_user\", \"operator\": \"olga\", \"session\": %llu,"
             " \"method\": \"email\"}",
             session);
    out = handle(helpdesk, request);
    CHECK_HAS(out, "\"authenticated_with\":\"email\"");
    CHECK_HAS(out, "\"page\":\"unlock\"");
    authlock_string_free(out);
    snprintf(request, sizeof request,
             "{\"op\": \"unlock_page\", \"operator\": \"olga\", \"session\": %llu}", session);
    out = handle(helpdesk, request);
    CHECK_HAS(out, "\"store\":\"corp\"");
    CHECK_HAS(out, "\"locked\":true");
    CHECK_HAS(out, "\"failures\":2");
    authlock_string_free(out);
    snprintf(request, sizeof request,
             "{\"op\": \"unlock\", \"operator\": \"olga\", \"session\": %llu, \"accounts\": []}",
             session);
    check_refused(engine, helpdesk, request, AUTHLOCK_STATUS_HELPDESK_NOT_UNLOCKABLE,
                  "select at least one account");
    snprintf(request, sizeof request,
             "{\"op\": \"unlock\", \"operator\": \"olga\", \"session\": %llu, \"accounts\":"
             " [{\"store\": \"corp\", \"user\": \"bob\"}]}",
             session);
    check_refused(engine, helpdesk, request, AUTHLOCK_STATUS_HELPDESK_NOT_UNLOCKABLE,
                  "cannot be unlocked here");
    snprintf(request, sizeof request,
             "{\"op\": \"unlock\", \"operator\": \"olga\", \"session\": %llu, \"accounts\":"
             " [{\"store\": \"corp\", \"user\": \"alice\"}], \"reason\": \"ticket 42\"}",
             session);
    out = handle(helpdesk, request);
    CHECK_HAS(out, "\"unlocked\":[{\"store\":\"corp\",\"user\":\"alice\"}]");
    CHECK_HAS(out, "\"operator\"");
    CHECK_HAS(out, "olga");
    authlock_string_free(out);
    out = handle(helpdesk, "{\"op\": \"account_status\", \"account\":"
                           " {\"store\": \"corp\", \"user\": \"alice\"}}");
    CHECK_HAS(out, "\"locked\":false");
    CHECK_HAS(out, "\"failures\":0");
    authlock_string_free(out);
    /* The dialog closed with the unlock. */
    check_refused(engine, helpdesk, request, AUTHLOCK_STATUS_UNKNOWN_SESSION,
                  "no open unlock session");
    /* The unlock is in the engine's history, with the operator as actor. */
    char *history = NULL;
    CHECK_OK(authlock_engine_history_json(engine, "alice", &history));
    CHECK_HAS(history, "ticket 42");
    CHECK_HAS(history, "olga");
    authlock_string_free(history);
    out = handle(helpdesk, "{\"op\": \"history\", \"user\": \"olga\"}");
    CHECK_HAS(out, "accounts_unlocked");
    authlock_string_free(out);

    /* An unenrolled user, without Unlock Any Account: refused before any
     * page, naming the permission. */
    for (int i = 0; i < 2; i++) {
        handle_ok(helpdesk, "{\"op\": \"record_login_failure\", \"account\":"
                            " {\"store\": \"corp\", \"user\": \"bob\"}}");
    }
    check_refused(engine, helpdesk,
                  "{\"op\": \"begin_unlock\", \"operator\": \"olga\", \"account\":"
                  " {\"store\": \"corp\", \"user\": \"bob\"}}",
                  AUTHLOCK_STATUS_HELPDESK_PERMISSION_DENIED, "Unlock Any Account");
    out = handle(helpdesk, "{\"op\": \"account_status\", \"account\":"
                           " {\"store\": \"corp\", \"user\": \"bob\"}}");
    CHECK_HAS(out, "\"locked\":true");
    authlock_string_free(out);

    /* Other refusals, each with its status. */
    check_refused(engine, helpdesk,
                  "{\"op\": \"begin_unlock\", \"operator\": \"mallory\", \"account\":"
                  " {\"store\": \"corp\", \"user\": \"alice\"}}",
                  AUTHLOCK_STATUS_HELPDESK_NOT_FOUND, "not a helpdesk operator");
    check_refused(engine, helpdesk,
                  "{\"op\": \"add_account\", \"account\": {\"account\": {\"store\":"
                  " \"nowhere\", \"user\": \"alice\"}}}",
                  AUTHLOCK_STATUS_HELPDESK_NOT_FOUND, "`nowhere` is not configured");
    check_refused(engine, helpdesk,
                  "{\"op\": \"account_status\", \"account\": {\"store\": \"partners\","
                  " \"user\": \"alice\"}}",
                  AUTHLOCK_STATUS_HELPDESK_NOT_FOUND, "does not exist");
    check_refused(engine, helpdesk,
                  "{\"op\": \"add_account\", \"account\": {\"account\": {\"store\": \"corp\","
                  " \"user\": \"alice\"}}}",
                  AUTHLOCK_STATUS_ACCOUNT_EXISTS, "exists already");
    check_refused(engine, helpdesk,
                  "{\"op\": \"link_accounts\", \"a\": {\"store\": \"corp\", \"user\": \"alice\"},"
                  " \"b\": {\"store\": \"corp\", \"user\": \"bob\"}}",
                  AUTHLOCK_STATUS_HELPDESK_LINK_REFUSED, "cannot be linked");
    check_refused(engine, helpdesk,
                  "{\"op\": \"enrol\", \"account\": {\"store\": \"corp\", \"user\": \"bob\"},"
                  " \"method\": \"Bad Type\"}",
                  AUTHLOCK_STATUS_INVALID_ARGUMENT, "authentication type");

    /* Malformed JSON and requests of the wrong shape. */
    check_refused(engine, helpdesk, "{\"op\": ", AUTHLOCK_STATUS_INVALID_REQUEST,
                  "invalid helpdesk request");
    check_refused(engine, helpdesk, "{\"op\": \"reset_everything\"}",
                  AUTHLOCK_STATUS_INVALID_REQUEST, "reset_everything");
    check_refused(engine, helpdesk, "{\"op\": \"state\", \"extra\": 1}",
                  AUTHLOCK_STATUS_INVALID_REQUEST, "extra");
    check_refused(engine, helpdesk, "{\"op\": \"history\"}", AUTHLOCK_STATUS_INVALID_REQUEST,
                  "user");

    /* NULL and invalid UTF-8 arguments. */
    char sentinel_text[] = "untouched";
    out = sentinel_text;
    CHECK_STATUS(authlock_helpdesk_handle(NULL, "{\"op\": \"state\"}", &out),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("helpdesk");
    CHECK_STATUS(authlock_helpdesk_handle(helpdesk, NULL, &out), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("request_json");
    CHECK_STATUS(authlock_helpdesk_handle(helpdesk, "{\"op\": \"state\"}", NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("out_json");
    CHECK_STATUS(authlock_helpdesk_handle(helpdesk, BAD_UTF8, &out), AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_LAST_ERROR_HAS("request_json");
    CHECK(out == sentinel_text);

    /* The helpdesk goes first; the engine outlives it. */
    authlock_helpdesk_free(helpdesk);
    authlock_engine_free(engine);
}

static void new_status_messages(void) {
    const authlock_status added[] = {
        AUTHLOCK_STATUS_INVALID_REQUEST,
        AUTHLOCK_STATUS_HELPDESK_NOT_FOUND,
        AUTHLOCK_STATUS_UNKNOWN_SESSION,
        AUTHLOCK_STATUS_ACCOUNT_EXISTS,
        AUTHLOCK_STATUS_INVALID_STEP_CONFIG,
        AUTHLOCK_STATUS_INVALID_HELPDESK_CONFIG,
        AUTHLOCK_STATUS_HELPDESK_PERMISSION_DENIED,
        AUTHLOCK_STATUS_HELPDESK_AUTHENTICATION_REQUIRED,
        AUTHLOCK_STATUS_HELPDESK_NOT_ENROLLED,
        AUTHLOCK_STATUS_HELPDESK_NOT_UNLOCKABLE,
        AUTHLOCK_STATUS_HELPDESK_SESSION_OF_ANOTHER_OPERATOR,
        AUTHLOCK_STATUS_HELPDESK_LINK_REFUSED,
    };
    const char *unknown = authlock_status_message(12345);
    for (size_t i = 0; i < sizeof added / sizeof added[0]; i++) {
        const char *m = authlock_status_message(added[i]);
        CHECK(m != NULL && m[0] != '\0' && strcmp(m, unknown) != 0);
        for (size_t j = 0; j < i; j++) {
            CHECK(strcmp(m, authlock_status_message(added[j])) != 0);
        }
    }
    /* Stable numbers, in their families. */
    CHECK(AUTHLOCK_STATUS_INVALID_REQUEST == 1005);
    CHECK(AUTHLOCK_STATUS_HELPDESK_NOT_FOUND == 2005 && AUTHLOCK_STATUS_UNKNOWN_SESSION == 2006 &&
          AUTHLOCK_STATUS_ACCOUNT_EXISTS == 2007);
    CHECK(AUTHLOCK_STATUS_INVALID_STEP_CONFIG == 5001 &&
          AUTHLOCK_STATUS_INVALID_HELPDESK_CONFIG == 5002);
    CHECK(AUTHLOCK_STATUS_HELPDESK_PERMISSION_DENIED == 9000 &&
          AUTHLOCK_STATUS_HELPDESK_AUTHENTICATION_REQUIRED == 9001 &&
          AUTHLOCK_STATUS_HELPDESK_NOT_ENROLLED == 9002 &&
          AUTHLOCK_STATUS_HELPDESK_NOT_UNLOCKABLE == 9003 &&
          AUTHLOCK_STATUS_HELPDESK_SESSION_OF_ANOTHER_OPERATOR == 9004 &&
          AUTHLOCK_STATUS_HELPDESK_LINK_REFUSED == 9005);
}

int main(void) {
    new_status_messages();
    journey_steps();
    helpdesk_creation();
    helpdesk_flow();
    return finish();
}
