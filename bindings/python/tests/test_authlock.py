"""authlock from Python: the engine, its decisions, scopes, views, history,
errors, and the listener and clock implemented here and called from Rust."""

import threading

import pytest

from authlock import (
    Action,
    Actor,
    Attempt,
    AuthenticatorType,
    AuthlockError,
    Decision,
    Engine,
    LockKind,
    LockListener,
    Lockout,
    Registration,
    Scope,
    Status,
    ThrottleStep,
    UnifiedStatus,
)

from conftest import MINUTE, POLICY, SECOND, START_MS, ManualClock, Recorder

OPS = Actor.ADMIN(id="ops")


def register_pin(engine, device, app="bank"):
    return engine.register(
        Registration(user="alice", kind=AuthenticatorType.PIN, app=app, device=device)
    )


def register_password(engine, app):
    return engine.register(
        Registration(user="alice", kind=AuthenticatorType.PASSWORD, app=app)
    )


def fail(engine, authenticator, app="bank"):
    return engine.record_failure(authenticator, Attempt(app=app))


def lock_pin_by_policy(engine, clock, pin):
    """Five failures, each after the previous one's 30 s throttle wait;
    returns when the temporary lockout ends."""
    for i in range(5):
        if i:
            clock.advance(30 * SECOND)
        outcome = fail(engine, pin)
    assert outcome.decision.is_LOCKED()
    return outcome.decision.until_ms


def test_an_engine_is_created_from_a_policy_document(engine):
    assert engine.tenant() == "acme"
    assert engine.now_ms() == START_MS
    pin = engine.policy(AuthenticatorType.PIN, "bank")
    assert pin.max_failures == 5
    assert pin.failure_window_ms is None
    assert pin.throttle == [ThrottleStep(after_failures=3, delay_ms=30 * SECOND)]
    assert pin.lockout == Lockout.TEMPORARY(
        duration_ms=5 * MINUTE, factor=1, increment_ms=0, max_duration_ms=None
    )
    assert engine.policy(AuthenticatorType.PASSWORD, "web").lockout == Lockout.UNTIL_UNLOCKED()
    assert engine.policy(AuthenticatorType.SOCIAL_LOGIN, "web") is None


def test_an_engine_without_a_host_clock_uses_the_system_clock():
    import time

    engine = Engine(POLICY)
    before = int(time.time() * 1000)
    now = engine.now_ms()
    after = int(time.time() * 1000)
    assert before <= now <= after


def test_a_pin_on_two_devices_gets_two_ids_and_a_password_in_two_apps_one(engine):
    phone = register_pin(engine, "phone-1")
    tablet = register_pin(engine, "tablet")
    web = register_password(engine, "web")
    mobile = register_password(engine, "mobile")

    for authenticator in (phone, tablet, web):
        assert len(authenticator) == 32
        int(authenticator, 16)
    assert phone != tablet
    assert web == mobile

    views = engine.authenticators("alice")
    assert [v.id for v in views] == [phone, tablet, web]
    assert [v.kind for v in views] == [
        AuthenticatorType.PIN,
        AuthenticatorType.PIN,
        AuthenticatorType.PASSWORD,
    ]
    assert [v.device for v in views] == ["phone-1", "tablet", None]
    assert views[0].scope == Scope.DEVICE_USER
    assert views[2].scope == Scope.APP_USER
    assert [a.app for a in views[2].apps] == ["web", "mobile"]


def test_failures_throttle_then_lock_and_the_decision_carries_the_retry_time(engine, clock):
    pin = register_pin(engine, "phone-1")

    assert fail(engine, pin).decision == Decision.ALLOWED()
    assert fail(engine, pin).decision == Decision.ALLOWED()
    third = fail(engine, pin)
    assert third.failures == 3
    assert third.decision == Decision.THROTTLED(retry_at_ms=START_MS + 30 * SECOND)
    assert engine.check(pin, "bank") == third.decision

    refused = fail(engine, pin)
    assert not refused.accepted
    assert not refused.counted
    assert refused.failures == 3

    clock.advance(30 * SECOND)
    assert engine.check(pin, "bank").is_ALLOWED()
    fourth = fail(engine, pin)
    assert fourth.decision == Decision.THROTTLED(retry_at_ms=START_MS + 60 * SECOND)

    clock.advance(30 * SECOND)
    fifth = fail(engine, pin)
    until = START_MS + 60 * SECOND + 5 * MINUTE
    assert fifth.failures == 5
    assert fifth.decision == Decision.LOCKED(lock=LockKind.POLICY, until_ms=until, reason=None)
    assert engine.check(pin, "bank") == fifth.decision

    view = engine.authenticator(pin)
    assert view.status == UnifiedStatus.LOCKED
    assert view.apps[0].lock_expires_at_ms == until


def test_a_failure_on_device_one_does_not_touch_device_two(engine):
    phone = register_pin(engine, "phone-1")
    tablet = register_pin(engine, "tablet")

    for _ in range(3):
        fail(engine, phone)

    assert engine.check(phone, "bank").is_THROTTLED()
    assert engine.check(tablet, "bank") == Decision.ALLOWED()
    assert engine.authenticator(phone).apps[0].failures == 3
    assert engine.authenticator(tablet).apps[0].failures == 0


def test_unlock_fans_out_over_the_users_passkeys_in_one_app(engine):
    def passkey(device, app):
        return engine.register(
            Registration(
                user="alice",
                kind=AuthenticatorType.PASSKEY,
                app=app,
                device=device,
                public_key=f"key-of-{device}",
            )
        )

    phone = passkey("phone-1", "bank")
    laptop = passkey("laptop", "bank")
    shop = passkey("phone-1", "shop")
    for authenticator, app in ((phone, "bank"), (laptop, "bank"), (shop, "shop")):
        for _ in range(3):
            fail(engine, authenticator, app)
        assert engine.check(authenticator, app) == Decision.LOCKED(
            lock=LockKind.POLICY, until_ms=None, reason=None
        )

    events = engine.unlock(phone, "bank", OPS, "verified by phone")

    assert sorted(e.authenticator for e in events) == sorted([phone, laptop])
    assert all(e.action == Action.UNLOCKED(cleared_lock=True) for e in events)
    assert all(e.reason == "verified by phone" for e in events)
    assert engine.check(phone, "bank") == Decision.ALLOWED()
    assert engine.check(laptop, "bank") == Decision.ALLOWED()
    assert engine.check(shop, "shop").is_LOCKED()


def test_the_view_shows_mixed_status_and_the_multiple_apps_marker(engine, clock):
    password = register_password(engine, "web")
    register_password(engine, "mobile")
    clock.advance(MINUTE)
    engine.record_success(password, Attempt(app="web", device="laptop"))
    engine.lock(password, "mobile", OPS, "lost phone")

    (view,) = engine.authenticators("alice")
    assert view.status == UnifiedStatus.MIXED
    assert view.multiple_apps
    web, mobile = view.apps
    assert (web.app, web.status, web.last_success_ms) == ("web", Status.ACTIVE, START_MS + MINUTE)
    assert (mobile.app, mobile.status) == ("mobile", Status.LOCKED)
    assert mobile.lock_kind == LockKind.MANUAL
    assert mobile.lock_reason == "lost phone"
    assert mobile.lock_expires_at_ms is None
    assert view.last_login_ms == START_MS + MINUTE
    assert view.last_app == "web"
    assert view.last_device == "laptop"


def test_the_history_lists_actions_on_and_by_a_user(engine):
    pin = register_pin(engine, "phone-1")
    fail(engine, pin)
    engine.lock(pin, "bank", OPS, "reported stolen")

    on_alice = engine.history("alice").on_user
    assert [e.action for e in on_alice] == [
        Action.REGISTERED(
            kind=AuthenticatorType.PIN,
            device="phone-1",
            identifier=None,
            public_key=None,
            replaces=None,
        ),
        Action.FAILURE(fingerprint=None, counted=True),
        Action.LOCKED(lock=LockKind.MANUAL, until_ms=None),
    ]
    assert [e.seq for e in on_alice] == [1, 2, 3]
    assert all(e.tenant == "acme" and e.user == "alice" for e in on_alice)
    assert all(e.authenticator == pin for e in on_alice)
    assert on_alice[0].actor == Actor.USER(id="alice")
    assert on_alice[1].actor == Actor.USER(id="alice")
    locked = on_alice[2]
    assert locked.actor == OPS
    assert locked.reason == "reported stolen"
    assert (locked.before, locked.after) == (Status.REGISTERED, Status.LOCKED)
    assert locked.time_ms == START_MS

    assert engine.history("ops").by_user == [locked]
    assert engine.history("ops").on_user == []
    assert engine.events() == on_alice


def test_an_unknown_id_is_a_not_found_error_with_the_core_message(engine):
    unknown = "0" * 32
    with pytest.raises(AuthlockError.NotFound) as raised:
        engine.check(unknown, "bank")
    assert str(raised.value) == f"authenticator {unknown} not found"

    with pytest.raises(AuthlockError.InvalidArgument) as raised:
        engine.check("not-an-id", "bank")
    assert "`not-an-id` is not an authenticator ID" in str(raised.value)


def test_locking_a_totp_is_refused_and_changes_nothing(engine):
    totp = engine.register(
        Registration(user="alice", kind=AuthenticatorType.TOTP, app="web")
    )
    before = engine.events()

    with pytest.raises(AuthlockError.Unsupported) as raised:
        engine.lock(totp, "web", OPS, "no")
    assert str(raised.value) == "totp does not support manual lock"

    assert engine.events() == before
    assert engine.check(totp, "web") == Decision.ALLOWED()


def test_a_bad_policy_document_is_refused_with_the_reason():
    with pytest.raises(AuthlockError.InvalidPolicy) as raised:
        Engine('[policies.totp]\nlockout = { kind = "until_unlocked" }\n')
    assert "totp cannot be unlocked manually" in str(raised.value)


def test_the_listener_written_in_python_hears_every_lock_and_unlock(engine, clock, recorder):
    pin = register_pin(engine, "phone-1")
    password = register_password(engine, "web")
    until = lock_pin_by_policy(engine, clock, pin)
    assert until == engine.now_ms() + 5 * MINUTE
    assert [e.action for e in recorder.events] == [
        Action.LOCKED(lock=LockKind.POLICY, until_ms=until)
    ]

    clock.advance(5 * MINUTE)
    assert engine.check(pin, "bank") == Decision.ALLOWED()
    engine.lock(password, "web", OPS, "fraud")
    engine.unlock(password, "web", OPS, None)

    assert [(e.authenticator, e.action) for e in recorder.events] == [
        (pin, Action.LOCKED(lock=LockKind.POLICY, until_ms=until)),
        (pin, Action.LOCK_EXPIRED()),
        (password, Action.LOCKED(lock=LockKind.MANUAL, until_ms=None)),
        (password, Action.UNLOCKED(cleared_lock=True)),
    ]
    assert recorder.events[2].reason == "fraud"


def test_a_listener_that_raises_does_not_undo_or_fail_the_change(engine):
    class Broken(LockListener):
        calls = 0

        def on_lock_change(self, event):
            Broken.calls += 1
            raise RuntimeError("listener is down")

    engine.set_listener(Broken())
    password = register_password(engine, "web")

    events = engine.lock(password, "web", OPS, None)

    assert Broken.calls == 1
    assert [e.action for e in events] == [Action.LOCKED(lock=LockKind.MANUAL, until_ms=None)]
    assert engine.check(password, "web").is_LOCKED()


def test_the_host_clock_written_in_python_drives_a_temporary_lockout_to_expiry():
    clock = ManualClock(START_MS)
    engine = Engine(POLICY, clock)
    pin = register_pin(engine, "phone-1")
    until = lock_pin_by_policy(engine, clock, pin)
    assert until == START_MS + 4 * 30 * SECOND + 5 * MINUTE
    assert engine.check(pin, "bank") == Decision.LOCKED(
        lock=LockKind.POLICY, until_ms=until, reason=None
    )

    clock.advance(until - 1 - engine.now_ms())
    assert engine.check(pin, "bank").is_LOCKED()
    clock.advance(1)
    assert engine.check(pin, "bank") == Decision.ALLOWED()
    assert engine.authenticator(pin).apps[0].failures == 0
    assert [e.action for e in engine.history("alice").on_user][-1] == Action.LOCK_EXPIRED()


def test_two_threads_share_one_engine_without_losing_a_failure(engine):
    face = engine.register(
        Registration(user="alice", kind=AuthenticatorType.FACE_AUTHENTICATION, app="web")
    )
    per_thread = 25
    seen = [[], []]
    start = threading.Barrier(2)

    def hammer(out):
        start.wait()
        for _ in range(per_thread):
            outcome = engine.record_failure(face, Attempt(app="web"))
            assert outcome.accepted and outcome.counted
            out.append(outcome.failures)

    threads = [threading.Thread(target=hammer, args=(out,)) for out in seen]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(seen[0]) == len(seen[1]) == per_thread
    assert sorted(seen[0] + seen[1]) == list(range(1, 2 * per_thread + 1))
    assert engine.authenticator(face).apps[0].failures == 2 * per_thread
