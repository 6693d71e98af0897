/*
 * Authenticator IDs as 16-byte structs through the C interface: parsing and
 * formatting, the hot-path calls that take an authlock_id, their refusals,
 * and that they answer exactly as the calls taking the ID as text.
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

static const char BAD_UTF8[] = {'w', (char)0xC3, (char)0x28, 'b', 0};
static const char UNKNOWN_ID[] = "0123456789abcdef0123456789abcdef";

static int64_t host_clock(void *user_data) {
    return *(const int64_t *)user_data;
}

static authlock_id id_of(const char *text) {
    authlock_id id;
    memset(&id, 0, sizeof id);
    CHECK_OK(authlock_id_parse(text, &id));
    return id;
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

static int same_decision(const authlock_decision *a, const authlock_decision *b) {
    return a->verdict == b->verdict && a->reason == b->reason &&
           a->has_retry_at == b->has_retry_at && a->retry_at_ms == b->retry_at_ms &&
           a->has_lock_reason == b->has_lock_reason;
}

/* Reservation numbers are compared by presence only: they are the
 * engine's to choose. */
static int same_outcome(const authlock_outcome *a, const authlock_outcome *b) {
    return a->accepted == b->accepted && a->counted == b->counted &&
           a->failures == b->failures && same_decision(&a->decision, &b->decision) &&
           a->has_reservation == b->has_reservation;
}

static void parse_and_format(void) {
    /* The bytes are the hex digits' values, most significant first. */
    authlock_id id;
    memset(&id, 0, sizeof id);
    CHECK_OK(authlock_id_parse("0123456789abcdef00ff10203040a0f1", &id));
    const uint8_t expected[AUTHLOCK_ID_BYTES] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
                                                 0xcd, 0xef, 0x00, 0xff, 0x10, 0x20,
                                                 0x30, 0x40, 0xa0, 0xf1};
    CHECK(sizeof(authlock_id) == AUTHLOCK_ID_BYTES);
    CHECK(memcmp(id.bytes, expected, AUTHLOCK_ID_BYTES) == 0);
    char text[AUTHLOCK_ID_SIZE];
    memset(text, 'x', sizeof text);
    CHECK_OK(authlock_id_format(id, text));
    CHECK(strcmp(text, "0123456789abcdef00ff10203040a0f1") == 0);

    /* The extremes. */
    authlock_id zero, ones;
    memset(&zero, 0, sizeof zero);
    memset(&ones, 0xff, sizeof ones);
    CHECK_OK(authlock_id_format(zero, text));
    CHECK(strcmp(text, "00000000000000000000000000000000") == 0);
    CHECK_OK(authlock_id_format(ones, text));
    CHECK(strcmp(text, "ffffffffffffffffffffffffffffffff") == 0);
    authlock_id back;
    CHECK_OK(authlock_id_parse(text, &back));
    CHECK(memcmp(&back, &ones, sizeof back) == 0);

    /* Round trips over many byte patterns (a fixed LCG: deterministic). */
    uint32_t state = 12345;
    int round_trips = 0;
    for (int n = 0; n < 256; n++) {
        authlock_id any;
        for (size_t i = 0; i < AUTHLOCK_ID_BYTES; i++) {
            state = state * 1664525u + 1013904223u;
            any.bytes[i] = (uint8_t)(state >> 24);
        }
        char any_text[AUTHLOCK_ID_SIZE];
        authlock_id again;
        memset(&again, 0, sizeof again);
        if (authlock_id_format(any, any_text) == AUTHLOCK_STATUS_OK && is_id(any_text) &&
            authlock_id_parse(any_text, &again) == AUTHLOCK_STATUS_OK &&
            memcmp(&again, &any, sizeof any) == 0) {
            round_trips++;
        }
    }
    CHECK(round_trips == 256);
}

static void parse_and_format_refusals(void) {
    authlock_id sentinel;
    memset(&sentinel, 0x5A, sizeof sentinel);
    authlock_id id = sentinel;

    CHECK_STATUS(authlock_id_parse(NULL, &id), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("`text`");
    CHECK_STATUS(authlock_id_parse(UNKNOWN_ID, NULL), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("`out_id`");
    CHECK_STATUS(authlock_id_parse(BAD_UTF8, &id), AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_LAST_ERROR_HAS("`text` is not valid UTF-8");

    const char *bad[] = {
        "",                                   /* empty */
        "0123456789abcdef0123456789abcde",    /* 31 digits */
        "0123456789abcdef0123456789abcdef0",  /* 33 digits */
        "0123456789ABCDEF0123456789ABCDEF",   /* upper case */
        "0123456789abcdef0123456789abcdeg",   /* not a hex digit */
        " 0123456789abcdef0123456789abcde",   /* a space */
        "0x23456789abcdef0123456789abcdef",   /* a prefix */
        "0123456789abcdef-123456789abcdef",   /* a sign inside */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(authlock_id_parse(bad[i], &id), AUTHLOCK_STATUS_INVALID_ID);
        CHECK_LAST_ERROR_HAS("32 lowercase hex digits");
    }
    /* 32 characters that are not all ASCII: a two-byte é replaces two digits. */
    CHECK_STATUS(authlock_id_parse("0123456789abcdef0123456789abcd\xc3\xa9", &id),
                 AUTHLOCK_STATUS_INVALID_ID);
    /* No refusal wrote the out-parameter. */
    CHECK(memcmp(&id, &sentinel, sizeof id) == 0);

    char text[AUTHLOCK_ID_SIZE];
    memset(text, 'x', sizeof text);
    CHECK_STATUS(authlock_id_format(sentinel, NULL), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("`out_text`");
    CHECK(text[0] == 'x' && text[AUTHLOCK_ID_SIZE - 1] == 'x');
}

/* One authenticator driven through one form of the calls. */
struct driver {
    const authlock_engine *engine;
    int by_struct;
    const char *text;
    authlock_id id;
};

static authlock_status drive_check(const struct driver *dr, const char *app, authlock_decision *d) {
    return dr->by_struct ? authlock_engine_check_id(dr->engine, dr->id, app, d)
                         : authlock_engine_check(dr->engine, dr->text, app, d);
}

static authlock_status drive_failure(const struct driver *dr, const char *app, uint8_t fp,
                                     authlock_outcome *o) {
    return dr->by_struct
               ? authlock_engine_record_failure_id(dr->engine, dr->id, app, "phone-1", &fp, 1, o)
               : authlock_engine_record_failure(dr->engine, dr->text, app, "phone-1", &fp, 1, o);
}

static authlock_status drive_success(const struct driver *dr, const char *app, authlock_outcome *o) {
    return dr->by_struct ? authlock_engine_record_success_id(dr->engine, dr->id, app, NULL, o)
                         : authlock_engine_record_success(dr->engine, dr->text, app, NULL, o);
}

static authlock_status drive_reserve(const struct driver *dr, uint8_t fp, authlock_outcome *o) {
    return dr->by_struct
               ? authlock_engine_reserve_id(dr->engine, dr->id, "web", NULL, &fp, 1, o)
               : authlock_engine_reserve(dr->engine, dr->text, "web", NULL, &fp, 1, o);
}

static authlock_status drive_commit(const struct driver *dr, uint64_t reservation, bool success,
                                    authlock_outcome *o) {
    return dr->by_struct
               ? authlock_engine_commit_id(dr->engine, dr->id, "web", NULL, reservation, success, o)
               : authlock_engine_commit(dr->engine, dr->text, "web", NULL, reservation, success, o);
}

enum { STEPS = 20 };

/* What each step of the scenario returned. */
struct trace {
    authlock_status status[STEPS];
    authlock_outcome outcome[STEPS];
    int steps;
};

static void step(struct trace *t, authlock_status status, const authlock_outcome *o) {
    if (t->steps < STEPS) {
        t->status[t->steps] = status;
        t->outcome[t->steps] = *o;
        t->steps++;
    }
}

/* Runs the same scenario on a fresh engine with a password in "web",
 * through the text or the struct form of every hot-path call. */
static void run_scenario(int by_struct, struct trace *t) {
    int64_t now = T0;
    authlock_engine *engine = NULL;
    CHECK_OK(authlock_engine_new_with_clock(POLICY, host_clock, &now, &engine));
    char text[AUTHLOCK_ID_SIZE];
    CHECK_OK(authlock_engine_register(engine, "alice", AUTHLOCK_TYPE_PASSWORD, "web", NULL, NULL,
                                      NULL, text));
    struct driver dr = {engine, by_struct, text, id_of(text)};
    memset(t, 0, sizeof *t);
    authlock_outcome o;
    authlock_decision d;

    /* Checks are recorded as outcomes holding only the decision. */
#define CHECK_STEP(app)                                \
    do {                                               \
        memset(&o, 0, sizeof o);                       \
        memset(&d, 0, sizeof d);                       \
        authlock_status s_ = drive_check(&dr, app, &d); \
        o.decision = d;                                \
        step(t, s_, &o);                               \
    } while (0)

    CHECK_STEP("web");
    step(t, drive_failure(&dr, "web", 0xA1, &o), &o);
    step(t, drive_failure(&dr, "web", 0xA1, &o), &o); /* repeated: not counted */
    step(t, drive_success(&dr, "web", &o), &o);
    step(t, drive_reserve(&dr, 0xB2, &o), &o);
    step(t, drive_commit(&dr, o.reservation, true, &o), &o); /* refunded */
    step(t, drive_reserve(&dr, 0xC3, &o), &o);
    step(t, drive_commit(&dr, o.reservation, false, &o), &o); /* stays counted */
    now += MINUTE;
    step(t, drive_failure(&dr, "web", 0xD4, &o), &o);
    step(t, drive_failure(&dr, "web", 0xE5, &o), &o); /* the third: locked 5 minutes */
    CHECK_STEP("web");
    step(t, drive_failure(&dr, "web", 0xF6, &o), &o); /* refused while locked */
    step(t, drive_success(&dr, "web", &o), &o);        /* refused while locked */
    now += 6 * MINUTE;
    CHECK_STEP("web"); /* the lock expired */
    step(t, drive_success(&dr, "web", &o), &o);
    CHECK_STEP("shop"); /* no instance there */
    step(t, drive_failure(&dr, "shop", 0x01, &o), &o);
    step(t, drive_commit(&dr, 999999, true, &o), &o); /* no such reservation */
#undef CHECK_STEP

    authlock_engine_free(engine);
}

static void struct_calls_answer_as_text_calls(void) {
    struct trace by_text, by_struct;
    run_scenario(0, &by_text);
    run_scenario(1, &by_struct);
    CHECK(by_text.steps == 18 && by_struct.steps == 18);
    int same = 0;
    for (int i = 0; i < by_text.steps && i < by_struct.steps; i++) {
        if (by_text.status[i] == by_struct.status[i] &&
            same_outcome(&by_text.outcome[i], &by_struct.outcome[i])) {
            same++;
        } else {
            fprintf(stderr, "step %d: text form returned %u, struct form %u\n", i,
                    (unsigned)by_text.status[i], (unsigned)by_struct.status[i]);
        }
    }
    CHECK(same == 18);

    /* The scenario did what it says (checked on the struct run). */
    const authlock_status *s = by_struct.status;
    const authlock_outcome *o = by_struct.outcome;
    CHECK(s[0] == AUTHLOCK_STATUS_OK && o[0].decision.verdict == AUTHLOCK_VERDICT_ALLOWED);
    CHECK(s[1] == AUTHLOCK_STATUS_OK && o[1].counted && o[1].failures == 1);
    CHECK(s[2] == AUTHLOCK_STATUS_OK && !o[2].counted && o[2].failures == 1);
    CHECK(s[3] == AUTHLOCK_STATUS_OK && o[3].accepted && o[3].failures == 0);
    CHECK(s[4] == AUTHLOCK_STATUS_OK && o[4].has_reservation && o[4].failures == 1);
    CHECK(s[5] == AUTHLOCK_STATUS_OK && o[5].failures == 0);
    CHECK(s[7] == AUTHLOCK_STATUS_OK && o[7].failures == 1);
    CHECK(s[9] == AUTHLOCK_STATUS_OK && o[9].failures == 3);
    CHECK(o[9].decision.verdict == AUTHLOCK_VERDICT_LOCKED);
    CHECK(o[9].decision.reason == AUTHLOCK_REASON_POLICY_LOCK);
    CHECK(o[9].decision.has_retry_at && o[9].decision.retry_at_ms == T0 + MINUTE + 5 * MINUTE);
    CHECK(s[10] == AUTHLOCK_STATUS_OK && o[10].decision.verdict == AUTHLOCK_VERDICT_LOCKED);
    CHECK(s[11] == AUTHLOCK_STATUS_OK && !o[11].accepted && o[11].failures == 3);
    CHECK(s[12] == AUTHLOCK_STATUS_OK && !o[12].accepted);
    CHECK(s[13] == AUTHLOCK_STATUS_OK && o[13].decision.verdict == AUTHLOCK_VERDICT_ALLOWED);
    CHECK(s[14] == AUTHLOCK_STATUS_OK && o[14].accepted && o[14].failures == 0);
    CHECK(s[15] == AUTHLOCK_STATUS_WRONG_APP);
    CHECK(s[16] == AUTHLOCK_STATUS_WRONG_APP);
    CHECK(s[17] == AUTHLOCK_STATUS_UNKNOWN_RESERVATION);
}

/* Both forms name the same authenticator: what one does, the other sees. */
static void both_forms_share_one_authenticator(void) {
    int64_t now = T0;
    authlock_engine *engine = NULL;
    CHECK_OK(authlock_engine_new_with_clock(POLICY, host_clock, &now, &engine));
    char pin[AUTHLOCK_ID_SIZE];
    CHECK_OK(authlock_engine_register(engine, "bob", AUTHLOCK_TYPE_PIN, "bank", "phone-1", NULL,
                                      NULL, pin));
    authlock_id pin_id = id_of(pin);
    char formatted[AUTHLOCK_ID_SIZE];
    CHECK_OK(authlock_id_format(pin_id, formatted));
    CHECK(strcmp(formatted, pin) == 0);

    authlock_outcome o;
    authlock_decision d;
    const uint8_t a[] = {0xA1}, b[] = {0xB2};
    CHECK_OK(authlock_engine_record_failure_id(engine, pin_id, "bank", NULL, a, sizeof a, &o));
    CHECK(o.failures == 1);
    CHECK(failures_of(engine, pin) == 1);
    CHECK_OK(authlock_engine_record_failure(engine, pin, "bank", NULL, b, sizeof b, &o));
    CHECK(o.failures == 2 && o.decision.verdict == AUTHLOCK_VERDICT_THROTTLED);
    CHECK_OK(authlock_engine_check_id(engine, pin_id, "bank", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_THROTTLED && d.retry_at_ms == T0 + MINUTE);
    authlock_decision by_text;
    CHECK_OK(authlock_engine_check(engine, pin, "bank", &by_text));
    CHECK(same_decision(&d, &by_text));

    /* A reservation made in one form is settled in the other. */
    now += MINUTE;
    CHECK_OK(authlock_engine_reserve(engine, pin, "bank", NULL, NULL, 0, &o));
    CHECK(o.has_reservation && o.failures == 3);
    CHECK_OK(authlock_engine_commit_id(engine, pin_id, "bank", NULL, o.reservation, true, &o));
    CHECK(o.accepted && o.failures == 0);
    CHECK_OK(authlock_engine_reserve_id(engine, pin_id, "bank", "phone-1", NULL, 0, &o));
    CHECK(o.has_reservation && o.failures == 1);
    CHECK_OK(authlock_engine_commit(engine, pin, "bank", NULL, o.reservation, false, &o));
    CHECK(o.accepted && o.failures == 1);
    CHECK_OK(authlock_engine_record_success_id(engine, pin_id, "bank", "phone-1", &o));
    CHECK(o.accepted && o.failures == 0);
    CHECK(failures_of(engine, pin) == 0);

    /* A deleted ID: the check answers "deleted", attempts are refused. */
    authlock_actor admin = {AUTHLOCK_ACTOR_ADMIN, "ops", NULL};
    CHECK_OK(authlock_engine_delete(engine, pin, "bank", &admin, NULL));
    CHECK_OK(authlock_engine_check_id(engine, pin_id, "bank", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_DELETED && d.reason == AUTHLOCK_REASON_DELETED);
    CHECK_STATUS(authlock_engine_record_failure_id(engine, pin_id, "bank", NULL, NULL, 0, &o),
                 AUTHLOCK_STATUS_DELETED);
    CHECK_STATUS(authlock_engine_record_success_id(engine, pin_id, "bank", NULL, &o),
                 AUTHLOCK_STATUS_DELETED);
    CHECK_STATUS(authlock_engine_reserve_id(engine, pin_id, "bank", NULL, NULL, 0, &o),
                 AUTHLOCK_STATUS_DELETED);
    CHECK_LAST_ERROR_HAS("deleted");

    authlock_engine_free(engine);
}

static void struct_call_refusals(void) {
    int64_t now = T0;
    authlock_engine *engine = NULL;
    CHECK_OK(authlock_engine_new_with_clock(POLICY, host_clock, &now, &engine));
    char pw[AUTHLOCK_ID_SIZE];
    CHECK_OK(authlock_engine_register(engine, "carol", AUTHLOCK_TYPE_PASSWORD, "web", NULL, NULL,
                                      NULL, pw));
    authlock_id id = id_of(pw);
    authlock_id unknown = id_of(UNKNOWN_ID);

    authlock_decision d, d_untouched;
    authlock_outcome o, o_untouched;
    memset(&d, 0xAB, sizeof d);
    memset(&d_untouched, 0xAB, sizeof d_untouched);
    memset(&o, 0xAB, sizeof o);
    memset(&o_untouched, 0xAB, sizeof o_untouched);
    const uint8_t fp[] = {1, 2, 3};

    /* NULL for each required pointer. */
    CHECK_STATUS(authlock_engine_check_id(NULL, id, "web", &d), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("`engine`");
    CHECK_STATUS(authlock_engine_check_id(engine, id, NULL, &d), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("`app`");
    CHECK_STATUS(authlock_engine_check_id(engine, id, "web", NULL), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("out_decision");
    CHECK_STATUS(authlock_engine_record_failure_id(NULL, id, "web", NULL, fp, sizeof fp, &o),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_record_failure_id(engine, id, NULL, NULL, fp, sizeof fp, &o),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("`app`");
    CHECK_STATUS(authlock_engine_record_failure_id(engine, id, "web", NULL, NULL, 4, &o),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("fingerprint");
    CHECK_STATUS(authlock_engine_record_failure_id(engine, id, "web", NULL, fp, sizeof fp, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("out_outcome");
    CHECK_STATUS(authlock_engine_record_success_id(NULL, id, "web", NULL, &o),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_record_success_id(engine, id, NULL, NULL, &o),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_record_success_id(engine, id, "web", NULL, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("out_outcome");
    CHECK_STATUS(authlock_engine_reserve_id(NULL, id, "web", NULL, fp, sizeof fp, &o),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_reserve_id(engine, id, "web", NULL, NULL, 1, &o),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_reserve_id(engine, id, "web", NULL, fp, sizeof fp, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_commit_id(NULL, id, "web", NULL, 1, true, &o),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_commit_id(engine, id, NULL, NULL, 1, true, &o),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_STATUS(authlock_engine_commit_id(engine, id, "web", NULL, 1, true, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);

    /* Invalid UTF-8 and malformed names. */
    CHECK_STATUS(authlock_engine_check_id(engine, id, BAD_UTF8, &d), AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_LAST_ERROR_HAS("`app` is not valid UTF-8");
    CHECK_STATUS(authlock_engine_check_id(engine, id, "", &d), AUTHLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("empty");
    CHECK_STATUS(authlock_engine_check_id(engine, id, "w\teb", &d), AUTHLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("control characters");
    char long_app[300];
    memset(long_app, 'a', sizeof long_app - 1);
    long_app[sizeof long_app - 1] = '\0';
    CHECK_STATUS(authlock_engine_check_id(engine, id, long_app, &d), AUTHLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("at most 256");
    CHECK_STATUS(authlock_engine_record_failure_id(engine, id, "web", BAD_UTF8, fp, sizeof fp, &o),
                 AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_LAST_ERROR_HAS("device");
    CHECK_STATUS(authlock_engine_record_success_id(engine, id, BAD_UTF8, NULL, &o),
                 AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_STATUS(authlock_engine_reserve_id(engine, id, "", NULL, fp, sizeof fp, &o),
                 AUTHLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(authlock_engine_commit_id(engine, id, "web", BAD_UTF8, 1, true, &o),
                 AUTHLOCK_STATUS_INVALID_UTF8);
    uint8_t long_fp[AUTHLOCK_FINGERPRINT_MAX_LEN + 1];
    memset(long_fp, 7, sizeof long_fp);
    CHECK_STATUS(authlock_engine_record_failure_id(engine, id, "web", NULL, long_fp, sizeof long_fp,
                                                   &o),
                 AUTHLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("fingerprint");
    CHECK_STATUS(authlock_engine_reserve_id(engine, id, "web", NULL, long_fp, sizeof long_fp, &o),
                 AUTHLOCK_STATUS_INVALID_ARGUMENT);

    /* An ID no authenticator has: not found, the message naming it. */
    CHECK_STATUS(authlock_engine_check_id(engine, unknown, "web", &d), AUTHLOCK_STATUS_NOT_FOUND);
    CHECK_LAST_ERROR_HAS(UNKNOWN_ID);
    CHECK_STATUS(authlock_engine_record_failure_id(engine, unknown, "web", NULL, fp, sizeof fp, &o),
                 AUTHLOCK_STATUS_NOT_FOUND);
    CHECK_LAST_ERROR_HAS(UNKNOWN_ID);
    CHECK_STATUS(authlock_engine_record_success_id(engine, unknown, "web", NULL, &o),
                 AUTHLOCK_STATUS_NOT_FOUND);
    CHECK_STATUS(authlock_engine_reserve_id(engine, unknown, "web", NULL, NULL, 0, &o),
                 AUTHLOCK_STATUS_NOT_FOUND);
    CHECK_STATUS(authlock_engine_commit_id(engine, unknown, "web", NULL, 1, true, &o),
                 AUTHLOCK_STATUS_NOT_FOUND);
    authlock_id zero;
    memset(&zero, 0, sizeof zero);
    CHECK_STATUS(authlock_engine_check_id(engine, zero, "web", &d), AUTHLOCK_STATUS_NOT_FOUND);
    CHECK_LAST_ERROR_HAS("00000000000000000000000000000000");

    /* A reservation that is not outstanding, and a wrong app. */
    CHECK_STATUS(authlock_engine_commit_id(engine, id, "web", NULL, 424242, true, &o),
                 AUTHLOCK_STATUS_UNKNOWN_RESERVATION);
    CHECK_STATUS(authlock_engine_check_id(engine, id, "shop", &d), AUTHLOCK_STATUS_WRONG_APP);
    CHECK_LAST_ERROR_HAS("shop");

    /* No refusal wrote an out-parameter or changed anything. */
    CHECK(memcmp(&d, &d_untouched, sizeof d) == 0);
    CHECK(memcmp(&o, &o_untouched, sizeof o) == 0);
    CHECK(failures_of(engine, pw) == 0);
    CHECK_OK(authlock_engine_check_id(engine, id, "web", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_ALLOWED);

    authlock_engine_free(engine);
}

/* App names are validated in full whatever their bytes: ASCII, other
 * UTF-8, broken UTF-8, and control characters of either kind. */
static void app_names_beyond_ascii(void) {
    int64_t now = T0;
    authlock_engine *engine = NULL;
    CHECK_OK(authlock_engine_new_with_clock(POLICY, host_clock, &now, &engine));
    const char *cafe = "caf\xc3\xa9";
    char pw[AUTHLOCK_ID_SIZE];
    CHECK_OK(authlock_engine_register(engine, "dora", AUTHLOCK_TYPE_PASSWORD, cafe, NULL, NULL,
                                      NULL, pw));
    authlock_id id = id_of(pw);
    authlock_decision d, by_text;
    authlock_outcome o;
    CHECK_OK(authlock_engine_check_id(engine, id, cafe, &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_ALLOWED);
    CHECK_OK(authlock_engine_check(engine, pw, cafe, &by_text));
    CHECK(same_decision(&d, &by_text));
    const uint8_t fp[] = {9};
    CHECK_OK(authlock_engine_record_failure_id(engine, id, cafe, NULL, fp, sizeof fp, &o));
    CHECK(o.counted && o.failures == 1);
    /* "cafe" without the accent is another app. */
    CHECK_STATUS(authlock_engine_check_id(engine, id, "cafe", &d), AUTHLOCK_STATUS_WRONG_APP);

    /* A sequence cut short, after ASCII and at the start. */
    CHECK_STATUS(authlock_engine_check_id(engine, id, "caf\xc3", &d), AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_LAST_ERROR_HAS("`app` is not valid UTF-8");
    CHECK_STATUS(authlock_engine_check_id(engine, id, "\xa9web", &d), AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_STATUS(authlock_engine_record_success_id(engine, id, "caf\xc3", NULL, &o),
                 AUTHLOCK_STATUS_INVALID_UTF8);
    /* An overlong encoding of '/' and an encoded surrogate are not UTF-8. */
    CHECK_STATUS(authlock_engine_check_id(engine, id, "a\xc0\xaf" "b", &d), AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_STATUS(authlock_engine_check_id(engine, id, "a\xed\xa0\x80" "b", &d),
                 AUTHLOCK_STATUS_INVALID_UTF8);
    /* U+0085 (NEL) is valid UTF-8 but a control character. */
    CHECK_STATUS(authlock_engine_check_id(engine, id, "a\xc2\x85" "b", &d),
                 AUTHLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("control characters");
    CHECK_STATUS(authlock_engine_check_id(engine, id, "a\x7f" "b", &d),
                 AUTHLOCK_STATUS_INVALID_ARGUMENT);
    CHECK(failures_of(engine, pw) == 1);

    authlock_engine_free(engine);
}

int main(void) {
    parse_and_format();
    parse_and_format_refusals();
    struct_calls_answer_as_text_calls();
    both_forms_share_one_authenticator();
    struct_call_refusals();
    app_names_beyond_ascii();
    return finish();
}
