/*
 * One engine shared by several threads: concurrent failures on shared
 * authenticators are each counted exactly once, concurrent lock and unlock
 * cycles are each reported exactly once to the event callback, and
 * concurrent registrations all land.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>

#include "check.h"

enum {
    THREADS = 4,
    SHARED = 8,                      /* shared passwords, each hit by every thread */
    SHARED_FAILURES_PER_THREAD = 20, /* per shared password: 4 x 20 = 80, below max_failures */
    LOCK_CYCLES_PER_THREAD = 100,
    USERS_PER_THREAD = 50,
};

static const char *POLICY =
    "tenant = \"acme\"\n"
    "[policies.password]\n"
    "max_failures = 100\n"
    "failure_window = \"none\"\n"
    "lockout = { kind = \"until_unlocked\" }\n"
    "[policies.pin]\n"
    "max_failures = 3\n"
    "throttle = []\n"
    "lockout = { kind = \"until_unlocked\" }\n";

static int64_t fixed_clock(void *user_data) {
    (void)user_data;
    return 1767225600000; /* a clock that does not move keeps waits out of the test */
}

static atomic_int locks_seen;
static atomic_int unlocks_seen;
static atomic_int other_events_seen;

static void on_event(void *user_data, const authlock_event *event) {
    (void)user_data;
    if (event->action == AUTHLOCK_EVENT_ACTION_LOCKED) {
        atomic_fetch_add(&locks_seen, 1);
    } else if (event->action == AUTHLOCK_EVENT_ACTION_UNLOCKED) {
        atomic_fetch_add(&unlocks_seen, 1);
    } else {
        atomic_fetch_add(&other_events_seen, 1);
    }
}

static pthread_barrier_t start_together;

struct worker {
    const authlock_engine *engine;
    int index;
    char (*shared_ids)[AUTHLOCK_ID_SIZE];
    /* Each failure count a shared password reported to this thread. */
    uint32_t counts[SHARED][SHARED_FAILURES_PER_THREAD];
    int errors;
    int cycles_locked;
    int users_registered;
    int own_last_error;
};

static void *work(void *arg) {
    struct worker *w = arg;
    authlock_outcome o;
    authlock_decision d;
    char user[32], device[32], pin[AUTHLOCK_ID_SIZE];
    authlock_actor admin = {AUTHLOCK_ACTOR_ADMIN, "ops", NULL};

    snprintf(user, sizeof user, "worker-%d", w->index);
    snprintf(device, sizeof device, "device-%d", w->index);
    if (authlock_engine_register(w->engine, user, AUTHLOCK_TYPE_PIN, "app", device, NULL, NULL,
                                 pin) != AUTHLOCK_STATUS_OK) {
        w->errors++;
        return NULL;
    }

    pthread_barrier_wait(&start_together);
    for (int i = 0; i < SHARED_FAILURES_PER_THREAD; i++) {
        /* Hammer the shared passwords, each thread in its own order... */
        for (int k = 0; k < SHARED; k++) {
            int s = (k + w->index) % SHARED;
            const char *id = w->shared_ids[s];
            if (authlock_engine_record_failure(w->engine, id, "web", NULL, NULL, 0, &o) !=
                    AUTHLOCK_STATUS_OK ||
                !o.accepted || !o.counted) {
                w->errors++;
            } else {
                w->counts[s][i] = o.failures;
            }
            if (authlock_engine_check(w->engine, id, "web", &d) != AUTHLOCK_STATUS_OK ||
                d.verdict != AUTHLOCK_VERDICT_ALLOWED) {
                w->errors++;
            }
        }
    }

    /* ...lock and unlock this thread's own PIN... */
    for (int c = 0; c < LOCK_CYCLES_PER_THREAD; c++) {
        for (int f = 0; f < 3; f++) {
            if (authlock_engine_record_failure(w->engine, pin, "app", NULL, NULL, 0, &o) !=
                AUTHLOCK_STATUS_OK) {
                w->errors++;
            }
        }
        if (o.decision.verdict == AUTHLOCK_VERDICT_LOCKED) {
            w->cycles_locked++;
        }
        if (authlock_engine_unlock(w->engine, pin, "app", &admin, "cycle") != AUTHLOCK_STATUS_OK) {
            w->errors++;
        }
    }

    /* ...and register users of its own. */
    for (int u = 0; u < USERS_PER_THREAD; u++) {
        char name[48], id[AUTHLOCK_ID_SIZE];
        snprintf(name, sizeof name, "user-%d-%d", w->index, u);
        if (authlock_engine_register(w->engine, name, AUTHLOCK_TYPE_PASSWORD, "web", NULL, NULL,
                                     NULL, id) == AUTHLOCK_STATUS_OK) {
            w->users_registered++;
        } else {
            w->errors++;
        }
    }

    /* The last error message belongs to the thread: each thread fails with
     * its own bad ID, waits until all have failed, then reads its own. */
    char bad_id[32];
    snprintf(bad_id, sizeof bad_id, "bad-id-of-thread-%d", w->index);
    if (authlock_engine_check(w->engine, bad_id, "web", &d) != AUTHLOCK_STATUS_INVALID_ID) {
        w->errors++;
    }
    pthread_barrier_wait(&start_together);
    w->own_last_error = strstr(authlock_last_error_message(), bad_id) != NULL;
    return NULL;
}

int main(void) {
    authlock_engine *engine = NULL;
    CHECK_OK(authlock_engine_new_with_clock(POLICY, fixed_clock, NULL, &engine));
    CHECK_OK(authlock_engine_set_event_callback(engine, on_event, NULL));
    char shared[SHARED][AUTHLOCK_ID_SIZE];
    for (int s = 0; s < SHARED; s++) {
        char name[32];
        snprintf(name, sizeof name, "shared-%d", s);
        CHECK_OK(authlock_engine_register(engine, name, AUTHLOCK_TYPE_PASSWORD, "web", NULL, NULL,
                                          NULL, shared[s]));
    }
    CHECK(pthread_barrier_init(&start_together, NULL, THREADS) == 0);

    struct worker workers[THREADS];
    pthread_t threads[THREADS];
    memset(workers, 0, sizeof workers);
    for (int t = 0; t < THREADS; t++) {
        workers[t].engine = engine;
        workers[t].index = t;
        workers[t].shared_ids = shared;
        CHECK(pthread_create(&threads[t], NULL, work, &workers[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++) {
        CHECK(pthread_join(threads[t], NULL) == 0);
    }
    pthread_barrier_destroy(&start_together);

    /* Every call succeeded. */
    for (int t = 0; t < THREADS; t++) {
        CHECK(workers[t].errors == 0);
        CHECK(workers[t].cycles_locked == LOCK_CYCLES_PER_THREAD);
        CHECK(workers[t].users_registered == USERS_PER_THREAD);
        CHECK(workers[t].own_last_error);
    }

    /* Each concurrent failure on a shared password got its own count:
     * 1..80, each exactly once, and 80 is what the password shows. */
    enum { TOTAL = THREADS * SHARED_FAILURES_PER_THREAD };
    for (int s = 0; s < SHARED; s++) {
        int seen[TOTAL + 1];
        memset(seen, 0, sizeof seen);
        int out_of_range = 0;
        for (int t = 0; t < THREADS; t++) {
            for (int i = 0; i < SHARED_FAILURES_PER_THREAD; i++) {
                uint32_t n = workers[t].counts[s][i];
                if (n >= 1 && n <= TOTAL) {
                    seen[n]++;
                } else {
                    out_of_range++;
                }
            }
        }
        CHECK(out_of_range == 0);
        int exactly_once = 0;
        for (int n = 1; n <= TOTAL; n++) {
            exactly_once += seen[n] == 1;
        }
        CHECK(exactly_once == TOTAL);

        char *view = NULL;
        CHECK_OK(authlock_engine_authenticator_json(engine, shared[s], &view));
        char expected[32];
        snprintf(expected, sizeof expected, "\"failures\":%d,", TOTAL);
        CHECK_HAS(view, expected);
        authlock_string_free(view);
    }

    /* Every lock and every unlock was reported once. */
    CHECK(atomic_load(&locks_seen) == THREADS * LOCK_CYCLES_PER_THREAD);
    CHECK(atomic_load(&unlocks_seen) == THREADS * LOCK_CYCLES_PER_THREAD);
    CHECK(atomic_load(&other_events_seen) == 0);

    /* Every registration landed, and the history holds every failure. */
    char *list = NULL;
    CHECK_OK(authlock_engine_authenticators_json(engine, "user-3-49", &list));
    CHECK_HAS(list, "\"kind\":\"password\"");
    authlock_string_free(list);
    char *snapshot = NULL;
    CHECK_OK(authlock_engine_snapshot_json(engine, &snapshot));
    /* One user per thread with a PIN, its registered users, and the shared ones. */
    CHECK(count_of(snapshot, "\"authenticators\":") == THREADS * (USERS_PER_THREAD + 1) + SHARED);
    authlock_string_free(snapshot);
    char *history = NULL;
    CHECK_OK(authlock_engine_history_json(engine, "shared-5", &history));
    /* The user's own failures are both on and by the user. */
    char *by_user = strstr(history, "\"by_user\":");
    CHECK(by_user != NULL);
    if (by_user != NULL) {
        CHECK(count_of(by_user, "\"type\":\"failure\"") == TOTAL);
        *by_user = '\0';
        CHECK(count_of(history, "\"type\":\"failure\"") == TOTAL);
    }
    authlock_string_free(history);

    authlock_engine_free(engine);
    return finish();
}
