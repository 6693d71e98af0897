/*
 * The durable store through the C interface: counters and locks survive
 * freeing and reopening, one opener at a time, a missing directory is
 * refused without create, compaction and recovery, every durability mode,
 * and bad arguments refused without touching the disk.
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>

#include "check.h"

static const int64_t T0 = 1767225600000; /* 2026-01-01T00:00:00Z */

static const char *POLICY =
    "tenant = \"acme\"\n"
    "[policies.password]\n"
    "max_failures = 3\n"
    "failure_window = \"none\"\n"
    "lockout = { kind = \"until_unlocked\" }\n"
    "[policies.pin]\n"
    "max_failures = 2\n"
    "throttle = []\n"
    "max_temporary_lockouts = 5\n"
    "lockout = { kind = \"temporary\", duration = \"5m\" }\n";

static const char BAD_UTF8[] = {'/', 't', 'm', 'p', '/', (char)0xC3, (char)0x28, 0};

/* The temporary directory every store of this run lives under. */
static char base[] = "/tmp/authlock-c-store-XXXXXX";

static int64_t host_clock(void *user_data) {
    return *(const int64_t *)user_data;
}

/* `base`/`name` into `out`. */
static void path_in_base(char *out, size_t size, const char *name) {
    snprintf(out, size, "%s/%s", base, name);
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Options for a store that is created if missing, synced, strict, never
 * compacted automatically. */
static authlock_store_options create_options(void) {
    authlock_store_options o;
    memset(&o, 0, sizeof o);
    o.durability = AUTHLOCK_DURABILITY_SYNC;
    o.create = true;
    o.recovery = AUTHLOCK_RECOVERY_STRICT;
    return o;
}

/* Opens the store in `dir` with the host clock at `*now`; NULL on failure
 * (the failure is counted as a failed check). */
static authlock_engine *open_at(const char *dir, int64_t *now, const authlock_store_options *o,
                                authlock_open_report *report) {
    authlock_engine *engine = NULL;
    CHECK_OK(authlock_engine_open_store(dir, POLICY, host_clock, now, o, &engine, report));
    return engine;
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

/* Appends `len` bytes of `byte` to the file at `path`. */
static int append_bytes(const char *path, int byte, size_t len) {
    FILE *f = fopen(path, "ab");
    if (f == NULL) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        fputc(byte, f);
    }
    return fclose(f) == 0;
}

/* Flips one byte in the middle of the file at `path`. */
static int corrupt_middle(const char *path) {
    FILE *f = fopen(path, "r+b");
    if (f == NULL) {
        return 0;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size / 2, SEEK_SET);
    int c = fgetc(f);
    fseek(f, size / 2, SEEK_SET);
    fputc(c ^ 0x5A, f);
    return fclose(f) == 0 && size > 2;
}

static void counters_survive_reopening(void) {
    char dir[256];
    path_in_base(dir, sizeof dir, "reopen");
    int64_t now = T0;
    authlock_store_options o = create_options();
    authlock_open_report report;
    memset(&report, 0xAB, sizeof report);

    authlock_engine *engine = open_at(dir, &now, &o, &report);
    if (engine == NULL) {
        return;
    }
    /* A fresh store: nothing loaded, nothing replayed. */
    CHECK(report.snapshot_seq == 0 && report.replayed_events == 0);
    CHECK(report.dropped_tail_bytes == 0 && !report.used_previous_snapshot);
    CHECK(exists(dir));

    char pw[AUTHLOCK_ID_SIZE], pin[AUTHLOCK_ID_SIZE];
    authlock_outcome out;
    CHECK_OK(authlock_engine_register(engine, "alice", AUTHLOCK_TYPE_PASSWORD, "web", NULL, NULL,
                                      NULL, pw));
    CHECK_OK(authlock_engine_register(engine, "alice", AUTHLOCK_TYPE_PIN, "bank", "phone-1", NULL,
                                      NULL, pin));
    CHECK_OK(authlock_engine_record_failure(engine, pw, "web", NULL, NULL, 0, &out));
    CHECK_OK(authlock_engine_record_failure(engine, pw, "web", NULL, NULL, 0, &out));
    CHECK(out.counted && out.failures == 2);
    /* Two PIN failures: a five-minute lock, timed by the host clock. */
    CHECK_OK(authlock_engine_record_failure(engine, pin, "bank", NULL, NULL, 0, &out));
    CHECK_OK(authlock_engine_record_failure(engine, pin, "bank", NULL, NULL, 0, &out));
    CHECK(out.decision.verdict == AUTHLOCK_VERDICT_LOCKED);
    CHECK(out.decision.has_retry_at && out.decision.retry_at_ms == T0 + 300000);
    authlock_engine_free(engine);

    /* Reopened without create: the same counters and the same lock. */
    o.create = false;
    memset(&report, 0xAB, sizeof report);
    engine = open_at(dir, &now, &o, &report);
    if (engine == NULL) {
        return;
    }
    /* Two registrations, four failures and the PIN's lock. */
    CHECK(report.snapshot_seq == 0 && report.replayed_events == 7);
    CHECK(report.dropped_tail_bytes == 0 && !report.used_previous_snapshot);
    CHECK(failures_of(engine, pw) == 2);
    authlock_decision d;
    CHECK_OK(authlock_engine_check(engine, pin, "bank", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_LOCKED && d.reason == AUTHLOCK_REASON_POLICY_LOCK);
    CHECK(d.has_retry_at && d.retry_at_ms == T0 + 300000);

    /* A killed-and-restarted app gets no fresh attempts: the third
     * password failure locks. */
    CHECK_OK(authlock_engine_record_failure(engine, pw, "web", NULL, NULL, 0, &out));
    CHECK(out.failures == 3 && out.decision.verdict == AUTHLOCK_VERDICT_LOCKED);
    authlock_engine_free(engine);

    engine = open_at(dir, &now, &o, &report);
    if (engine == NULL) {
        return;
    }
    CHECK_OK(authlock_engine_check(engine, pw, "web", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_LOCKED && d.reason == AUTHLOCK_REASON_POLICY_LOCK);
    CHECK(!d.has_retry_at);
    /* The temporary lock ends by the host clock, after reopening too. */
    now = T0 + 300000;
    CHECK_OK(authlock_engine_check(engine, pin, "bank", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_ALLOWED);
    authlock_engine_free(engine);

    /* The system clock: a NULL clock callback. */
    engine = NULL;
    CHECK_OK(authlock_engine_open_store(dir, POLICY, NULL, NULL, &o, &engine, &report));
    CHECK(engine != NULL);
    CHECK_OK(authlock_engine_check(engine, pw, "web", &d));
    CHECK(d.verdict == AUTHLOCK_VERDICT_LOCKED);
    authlock_engine_free(engine);
}

static void one_opener_at_a_time(void) {
    char dir[256];
    path_in_base(dir, sizeof dir, "in-use");
    int64_t now = T0;
    authlock_store_options o = create_options();
    authlock_open_report report, untouched;
    authlock_engine *first = open_at(dir, &now, &o, &report);
    if (first == NULL) {
        return;
    }
    char pw[AUTHLOCK_ID_SIZE];
    CHECK_OK(authlock_engine_register(first, "bob", AUTHLOCK_TYPE_PASSWORD, "web", NULL, NULL,
                                      NULL, pw));

    authlock_engine *sentinel = (authlock_engine *)&now;
    authlock_engine *second = sentinel;
    memset(&report, 0xAB, sizeof report);
    memcpy(&untouched, &report, sizeof report);
    CHECK_STATUS(authlock_engine_open_store(dir, POLICY, host_clock, &now, &o, &second, &report),
                 AUTHLOCK_STATUS_STORAGE);
    CHECK_LAST_ERROR_HAS("in use");
    CHECK_LAST_ERROR_HAS(dir);
    CHECK(second == sentinel);
    CHECK(memcmp(&report, &untouched, sizeof report) == 0);
    /* The first engine is unharmed. */
    authlock_outcome out;
    CHECK_OK(authlock_engine_record_failure(first, pw, "web", NULL, NULL, 0, &out));
    CHECK(out.failures == 1);
    authlock_engine_free(first);

    /* Freed, the directory is free for the next opener. */
    second = open_at(dir, &now, &o, &report);
    if (second != NULL) {
        CHECK(report.replayed_events == 2);
        CHECK(failures_of(second, pw) == 1);
    }
    authlock_engine_free(second);
}

static void a_missing_directory_needs_create(void) {
    char dir[256], file[256];
    path_in_base(dir, sizeof dir, "missing/store");
    int64_t now = T0;
    authlock_store_options o = create_options();
    o.create = false;
    authlock_open_report report;
    authlock_engine *engine = NULL;
    CHECK_STATUS(authlock_engine_open_store(dir, POLICY, host_clock, &now, &o, &engine, &report),
                 AUTHLOCK_STATUS_STORAGE);
    CHECK_LAST_ERROR_HAS("does not exist");
    CHECK_LAST_ERROR_HAS(dir);
    CHECK(engine == NULL);
    CHECK(!exists(dir));

    /* A path that is a file is no store. */
    path_in_base(file, sizeof file, "plain-file");
    CHECK(append_bytes(file, 'x', 3));
    CHECK_STATUS(authlock_engine_open_store(file, POLICY, host_clock, &now, &o, &engine, &report),
                 AUTHLOCK_STATUS_STORAGE);
    CHECK_LAST_ERROR_HAS("not a directory");
    CHECK(engine == NULL);

    /* With create, the directory and its parents are made. */
    o.create = true;
    engine = open_at(dir, &now, &o, &report);
    CHECK(engine != NULL && exists(dir));
    authlock_engine_free(engine);
}

static void compaction_and_recovery(void) {
    char dir[256], path[512];
    path_in_base(dir, sizeof dir, "compact");
    int64_t now = T0;
    authlock_store_options o = create_options();
    authlock_open_report report;
    authlock_actor admin = {AUTHLOCK_ACTOR_ADMIN, "ops", NULL};
    authlock_engine *engine = open_at(dir, &now, &o, &report);
    if (engine == NULL) {
        return;
    }
    char pw[AUTHLOCK_ID_SIZE];
    authlock_outcome out;
    CHECK_OK(authlock_engine_register(engine, "carol", AUTHLOCK_TYPE_PASSWORD, "web", NULL, NULL,
                                      NULL, pw));
    CHECK_OK(authlock_engine_record_failure(engine, pw, "web", NULL, NULL, 0, &out));
    now += 1000;
    CHECK_OK(authlock_engine_lock(engine, pw, "web", &admin, "suspicious sign-ins"));

    char *before = NULL;
    CHECK_OK(authlock_engine_authenticator_json(engine, pw, &before));
    uint64_t seq = 0;
    CHECK_OK(authlock_engine_compact(engine, &seq));
    /* Registered, failure, locked: the snapshot holds the first three
     * events, and is named after the last. */
    CHECK(seq == 3);
    snprintf(path, sizeof path, "%s/snapshot-%020llu.snap", dir, (unsigned long long)seq);
    CHECK(exists(path));
    authlock_engine_free(engine);

    /* Reopened: loaded from the snapshot, nothing to replay, the same
     * view. */
    o.create = false;
    engine = open_at(dir, &now, &o, &report);
    if (engine == NULL) {
        authlock_string_free(before);
        return;
    }
    CHECK(report.snapshot_seq == seq && report.replayed_events == 0);
    char *after = NULL;
    CHECK_OK(authlock_engine_authenticator_json(engine, pw, &after));
    CHECK(before != NULL && after != NULL && strcmp(before, after) == 0);
    CHECK_HAS(after, "suspicious sign-ins");
    authlock_string_free(after);

    /* An event after the snapshot is replayed from the journal; a second
     * compaction keeps the first snapshot as the previous one. */
    now += 1000;
    CHECK_OK(authlock_engine_unlock(engine, pw, "web", &admin, NULL));
    CHECK_OK(authlock_engine_record_failure(engine, pw, "web", NULL, NULL, 0, &out));
    char *latest = NULL;
    CHECK_OK(authlock_engine_authenticator_json(engine, pw, &latest));
    uint64_t seq2 = 0;
    CHECK_OK(authlock_engine_compact(engine, &seq2));
    CHECK(seq2 > seq);
    now += 1000;
    CHECK_OK(authlock_engine_record_failure(engine, pw, "web", NULL, NULL, 0, &out));
    CHECK(out.failures == 2);
    char *newest = NULL;
    CHECK_OK(authlock_engine_authenticator_json(engine, pw, &newest));
    authlock_engine_free(engine);

    /* A torn last write is cut off on open and reported. */
    snprintf(path, sizeof path, "%s/journal-%020llu.log", dir, (unsigned long long)(seq2 + 1));
    CHECK(append_bytes(path, 0x7F, 5));
    engine = open_at(dir, &now, &o, &report);
    if (engine != NULL) {
        CHECK(report.snapshot_seq == seq2 && report.replayed_events == 1);
        CHECK(report.dropped_tail_bytes == 5 && !report.used_previous_snapshot);
        CHECK(failures_of(engine, pw) == 2);
    }
    authlock_engine_free(engine);

    /* A corrupt newest snapshot: refused by strict recovery; the previous
     * snapshot and the journal after it give the same state. */
    snprintf(path, sizeof path, "%s/snapshot-%020llu.snap", dir, (unsigned long long)seq2);
    CHECK(corrupt_middle(path));
    engine = NULL;
    CHECK_STATUS(authlock_engine_open_store(dir, POLICY, host_clock, &now, &o, &engine, &report),
                 AUTHLOCK_STATUS_STORAGE);
    CHECK_LAST_ERROR_HAS("corrupt");
    CHECK(engine == NULL);
    o.recovery = AUTHLOCK_RECOVERY_PREVIOUS_SNAPSHOT;
    engine = open_at(dir, &now, &o, &report);
    if (engine != NULL) {
        CHECK(report.used_previous_snapshot && report.snapshot_seq == seq);
        CHECK(report.replayed_events == seq2 - seq + 1);
        char *recovered = NULL;
        CHECK_OK(authlock_engine_authenticator_json(engine, pw, &recovered));
        CHECK(newest != NULL && recovered != NULL && strcmp(newest, recovered) == 0);
        authlock_string_free(recovered);
    }
    authlock_engine_free(engine);
    authlock_string_free(before);
    authlock_string_free(latest);
    authlock_string_free(newest);
}

static void automatic_compaction(void) {
    char never[256], every[256];
    path_in_base(never, sizeof never, "compact-never");
    path_in_base(every, sizeof every, "compact-every-2");
    int64_t now = T0;
    authlock_open_report report;
    const char *dirs[2] = {never, every};
    for (int i = 0; i < 2; i++) {
        authlock_store_options o = create_options();
        o.compact_every = i == 0 ? 0 : 2;
        authlock_engine *engine = open_at(dirs[i], &now, &o, &report);
        if (engine == NULL) {
            return;
        }
        char pw[AUTHLOCK_ID_SIZE];
        authlock_outcome out;
        CHECK_OK(authlock_engine_register(engine, "dave", AUTHLOCK_TYPE_PASSWORD, "web", NULL,
                                          NULL, NULL, pw));
        for (int k = 0; k < 2; k++) {
            CHECK_OK(authlock_engine_record_failure(engine, pw, "web", NULL, NULL, 0, &out));
        }
        authlock_store_status status;
        memset(&status, 0xAB, sizeof status);
        CHECK_OK(authlock_engine_store_status(engine, &status));
        if (i == 1) {
            /* The compactor runs on its own thread: wait for its snapshot
             * (a bounded number of polls). */
            for (int poll = 0; poll < 20000 && status.compactions == 0; poll++) {
                struct timespec ms = {0, 1000000};
                nanosleep(&ms, NULL);
                CHECK_OK(authlock_engine_store_status(engine, &status));
            }
        }
        CHECK(status.compactions == (uint64_t)i && status.failed_compactions == 0);
        CHECK(!status.last_failed);
        authlock_engine_free(engine);
        engine = open_at(dirs[i], &now, &o, &report);
        if (engine == NULL) {
            return;
        }
        if (i == 0) {
            /* 0 is never: everything is replayed from the journal. */
            CHECK(report.snapshot_seq == 0 && report.replayed_events == 3);
        } else {
            /* Compacted once the second event was written (the third may
             * have come before the compactor sealed the journal). */
            CHECK(report.snapshot_seq >= 2 && report.snapshot_seq + report.replayed_events == 3);
        }
        CHECK(failures_of(engine, pw) == 2);
        authlock_engine_free(engine);
    }
}

/* A restore would reset the counters without a trace in the journal: a
 * store-backed engine refuses it and keeps its state. */
static void restore_is_refused_on_a_store(void) {
    char dir[256];
    path_in_base(dir, sizeof dir, "restore");
    int64_t now = T0;
    authlock_store_options o = create_options();
    authlock_open_report report;
    authlock_engine *engine = open_at(dir, &now, &o, &report);
    if (engine == NULL) {
        return;
    }
    char *empty = NULL;
    CHECK_OK(authlock_engine_snapshot_json(engine, &empty));
    char pw[AUTHLOCK_ID_SIZE];
    authlock_outcome out;
    CHECK_OK(authlock_engine_register(engine, "erin", AUTHLOCK_TYPE_PASSWORD, "web", NULL, NULL,
                                      NULL, pw));
    for (int k = 0; k < 2; k++) {
        CHECK_OK(authlock_engine_record_failure(engine, pw, "web", NULL, NULL, 0, &out));
    }
    CHECK_STATUS(authlock_engine_restore_json(engine, empty), AUTHLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_HAS(authlock_last_error_message(), "durable store");
    CHECK(failures_of(engine, pw) == 2);
    authlock_string_free(empty);
    authlock_engine_free(engine);
    o.create = false;
    engine = open_at(dir, &now, &o, &report);
    if (engine == NULL) {
        return;
    }
    CHECK(failures_of(engine, pw) == 2);
    authlock_engine_free(engine);

    /* No store, no status. */
    authlock_engine *plain = NULL;
    CHECK_OK(authlock_engine_new(POLICY, &plain));
    authlock_store_status status;
    CHECK_STATUS(authlock_engine_store_status(plain, &status), AUTHLOCK_STATUS_STORAGE);
    CHECK_STATUS(authlock_engine_store_status(NULL, &status), AUTHLOCK_STATUS_NULL_PARAMETER);
    authlock_engine_free(plain);
}

static void every_durability_mode(void) {
    const authlock_durability modes[3] = {AUTHLOCK_DURABILITY_SYNC, AUTHLOCK_DURABILITY_BATCHED,
                                          AUTHLOCK_DURABILITY_NONE};
    const char *names[3] = {"durability-sync", "durability-batched", "durability-none"};
    for (int i = 0; i < 3; i++) {
        char dir[256];
        path_in_base(dir, sizeof dir, names[i]);
        int64_t now = T0;
        authlock_store_options o = create_options();
        o.durability = modes[i];
        if (modes[i] == AUTHLOCK_DURABILITY_BATCHED) {
            o.batch_max_delay_ms = 5;
            o.batch_max_events = 8;
        }
        authlock_open_report report;
        authlock_engine *engine = open_at(dir, &now, &o, &report);
        if (engine == NULL) {
            continue;
        }
        char pw[AUTHLOCK_ID_SIZE];
        authlock_outcome out;
        CHECK_OK(authlock_engine_register(engine, "erin", AUTHLOCK_TYPE_PASSWORD, "web", NULL,
                                          NULL, NULL, pw));
        CHECK_OK(authlock_engine_record_failure(engine, pw, "web", NULL, NULL, 0, &out));
        CHECK_OK(authlock_engine_reserve(engine, pw, "web", NULL, NULL, 0, &out));
        CHECK(out.accepted && out.has_reservation && out.failures == 2);
        uint64_t reservation = out.reservation;
        authlock_engine_free(engine);

        /* Freed, every mode has written everything: the reserved failure
         * is still counted, and its reservation still outstanding. */
        o.create = false;
        engine = open_at(dir, &now, &o, &report);
        if (engine == NULL) {
            continue;
        }
        CHECK(report.replayed_events == 3);
        CHECK(failures_of(engine, pw) == 2);
        CHECK_OK(authlock_engine_commit(engine, pw, "web", NULL, reservation, true, &out));
        CHECK(out.accepted && out.failures == 0);
        authlock_engine_free(engine);

        engine = open_at(dir, &now, &o, &report);
        if (engine != NULL) {
            CHECK(failures_of(engine, pw) == 0);
        }
        authlock_engine_free(engine);
    }
}

static void bad_arguments(void) {
    char dir[256];
    path_in_base(dir, sizeof dir, "never-made");
    int64_t now = T0;
    authlock_store_options o = create_options();
    authlock_open_report report, untouched;
    memset(&report, 0xAB, sizeof report);
    memcpy(&untouched, &report, sizeof report);
    authlock_engine *sentinel = (authlock_engine *)&now;
    authlock_engine *engine = sentinel;

    CHECK_STATUS(authlock_engine_open_store(NULL, POLICY, host_clock, &now, &o, &engine, &report),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("`dir`");
    CHECK_STATUS(authlock_engine_open_store(BAD_UTF8, POLICY, host_clock, &now, &o, &engine,
                                            &report),
                 AUTHLOCK_STATUS_INVALID_UTF8);
    CHECK_LAST_ERROR_HAS("`dir` is not valid UTF-8");
    CHECK_STATUS(authlock_engine_open_store("", POLICY, host_clock, &now, &o, &engine, &report),
                 AUTHLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("dir");
    CHECK_STATUS(authlock_engine_open_store(dir, NULL, host_clock, &now, &o, &engine, &report),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("document");
    CHECK_STATUS(authlock_engine_open_store(dir, "[policies.password]\nmax_failures = 500\n",
                                            host_clock, &now, &o, &engine, &report),
                 AUTHLOCK_STATUS_INVALID_POLICY);
    CHECK_LAST_ERROR_HAS("policies.password.max_failures");
    CHECK_STATUS(authlock_engine_open_store(dir, POLICY, host_clock, &now, NULL, &engine, &report),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("options");
    CHECK_STATUS(authlock_engine_open_store(dir, POLICY, host_clock, &now, &o, NULL, &report),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("out_engine");
    CHECK_STATUS(authlock_engine_open_store(dir, POLICY, host_clock, &now, &o, &engine, NULL),
                 AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("out_report");

    /* Numbers that are no mode. */
    authlock_store_options bad = o;
    bad.durability = 3;
    CHECK_STATUS(authlock_engine_open_store(dir, POLICY, host_clock, &now, &bad, &engine, &report),
                 AUTHLOCK_STATUS_INVALID_KIND);
    CHECK_LAST_ERROR_HAS("AUTHLOCK_DURABILITY_");
    bad.durability = 4000000000u;
    CHECK_STATUS(authlock_engine_open_store(dir, POLICY, host_clock, &now, &bad, &engine, &report),
                 AUTHLOCK_STATUS_INVALID_KIND);
    bad = o;
    bad.recovery = 2;
    CHECK_STATUS(authlock_engine_open_store(dir, POLICY, host_clock, &now, &bad, &engine, &report),
                 AUTHLOCK_STATUS_INVALID_KIND);
    CHECK_LAST_ERROR_HAS("AUTHLOCK_RECOVERY_");

    /* Batch settings: both needed for batched, neither for the others. */
    bad = o;
    bad.durability = AUTHLOCK_DURABILITY_BATCHED;
    bad.batch_max_events = 8;
    CHECK_STATUS(authlock_engine_open_store(dir, POLICY, host_clock, &now, &bad, &engine, &report),
                 AUTHLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("batch_max_delay_ms");
    bad.batch_max_events = 0;
    bad.batch_max_delay_ms = 5;
    CHECK_STATUS(authlock_engine_open_store(dir, POLICY, host_clock, &now, &bad, &engine, &report),
                 AUTHLOCK_STATUS_INVALID_ARGUMENT);
    bad = o;
    bad.durability = AUTHLOCK_DURABILITY_NONE;
    bad.batch_max_delay_ms = 5;
    CHECK_STATUS(authlock_engine_open_store(dir, POLICY, host_clock, &now, &bad, &engine, &report),
                 AUTHLOCK_STATUS_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("only given with AUTHLOCK_DURABILITY_BATCHED");

    /* Nothing was written: no directory made, no out-parameter touched. */
    CHECK(!exists(dir));
    CHECK(engine == sentinel);
    CHECK(memcmp(&report, &untouched, sizeof report) == 0);

    /* Compaction needs an engine, a place for the result, and a store. */
    uint64_t seq = 77;
    CHECK_STATUS(authlock_engine_compact(NULL, &seq), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("engine");
    authlock_engine *memory = NULL;
    CHECK_OK(authlock_engine_new_with_clock(POLICY, host_clock, &now, &memory));
    CHECK_STATUS(authlock_engine_compact(memory, NULL), AUTHLOCK_STATUS_NULL_PARAMETER);
    CHECK_LAST_ERROR_HAS("out_seq");
    CHECK_STATUS(authlock_engine_compact(memory, &seq), AUTHLOCK_STATUS_STORAGE);
    CHECK_LAST_ERROR_HAS("not backed by a store");
    CHECK(seq == 77);
    authlock_engine_free(memory);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void) {
    if (mkdtemp(base) == NULL) {
        fprintf(stderr, "mkdtemp failed: %s\n", strerror(errno));
        return 1;
    }
    counters_survive_reopening();
    one_opener_at_a_time();
    a_missing_directory_needs_create();
    compaction_and_recovery();
    automatic_compaction();
    every_durability_mode();
    restore_is_refused_on_a_store();
    bad_arguments();
    /* Every store of the run, removed. */
    CHECK(nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0);
    CHECK(!exists(base));
    return finish();
}
