"""The durable store, journey steps and the helpdesk from Python: failures
that survive closing and reopening a store, a store held by one engine at a
time, a journey lock step that continues and one that takes the failure
branch, and the helpdesk's Unlock Account flow in restricted mode."""

import gc
import json

import pytest

from authlock import (
    Attempt,
    AuthenticatorType,
    AuthlockError,
    Decision,
    Durability,
    Engine,
    Helpdesk,
    LockKind,
    Recovery,
    Registration,
    StoreOptions,
)

from conftest import POLICY


def options(create=True):
    return StoreOptions(durability=Durability.SYNC(), recovery=Recovery.STRICT, create=create)


def register_password(engine):
    return engine.register(
        Registration(user="alice", kind=AuthenticatorType.PASSWORD, app="web")
    )


# ----- the store ------------------------------------------------------------


def test_failures_survive_closing_and_reopening_the_store(tmp_path, clock):
    store = str(tmp_path / "store")
    engine = Engine.open_store(store, POLICY, options(), clock)
    assert engine.open_report().replayed_events == 0
    pw = register_password(engine)
    engine.record_failure(pw, Attempt(app="web"))
    engine.record_failure(pw, Attempt(app="web"))
    del engine
    gc.collect()

    reopened = Engine.open_store(store, POLICY, options(create=False), clock)
    report = reopened.open_report()
    assert report.snapshot_seq == 0
    assert report.replayed_events == 3  # the registration and two failures
    assert report.dropped_tail_bytes == 0
    assert not report.used_previous_snapshot
    assert reopened.authenticator(pw).apps[0].failures == 2
    # The third failure counts on top of the two from before: the lock.
    outcome = reopened.record_failure(pw, Attempt(app="web"))
    assert outcome.decision == Decision.LOCKED(lock=LockKind.POLICY, until_ms=None, reason=None)


def test_a_compacted_store_reopens_from_its_snapshot(tmp_path, clock):
    store = str(tmp_path / "store")
    engine = Engine.open_store(store, POLICY, options(), clock)
    pw = register_password(engine)
    engine.record_failure(pw, Attempt(app="web"))
    seq = engine.compact()
    assert seq == 2
    del engine
    gc.collect()

    reopened = Engine.open_store(store, POLICY, options(create=False), clock)
    assert reopened.open_report().snapshot_seq == seq
    assert reopened.open_report().replayed_events == 0
    assert reopened.authenticator(pw).apps[0].failures == 1


def test_a_restore_is_refused_on_a_store_backed_engine_and_changes_nothing(tmp_path, clock):
    store = str(tmp_path / "store")
    engine = Engine.open_store(store, POLICY, options(), clock)
    empty = engine.snapshot_json()
    pw = register_password(engine)
    engine.record_failure(pw, Attempt(app="web"))
    engine.record_failure(pw, Attempt(app="web"))
    with pytest.raises(AuthlockError.InvalidArgument) as refused:
        engine.restore_json(empty)
    assert "durable store" in str(refused.value)
    assert engine.authenticator(pw).apps[0].failures == 2
    # The exception's traceback holds this frame, and so the engine.
    del refused
    del engine
    gc.collect()
    reopened = Engine.open_store(store, POLICY, options(create=False), clock)
    assert reopened.authenticator(pw).apps[0].failures == 2


def test_the_store_status_counts_compactions_and_none_without_a_store(tmp_path, clock, engine):
    store = str(tmp_path / "store")
    stored = Engine.open_store(store, POLICY, options(), clock)
    status = stored.store_status()
    assert (status.snapshot_seq, status.compactions, status.failed_compactions) == (0, 0, 0)
    assert status.last_error is None
    register_password(stored)
    seq = stored.compact()
    status = stored.store_status()
    assert (status.snapshot_seq, status.compactions) == (seq, 1)
    assert engine.store_status() is None


def test_a_second_opener_gets_the_in_use_storage_error(tmp_path, clock):
    store = str(tmp_path / "store")
    first = Engine.open_store(store, POLICY, options(), clock)
    with pytest.raises(AuthlockError.Storage) as raised:
        Engine.open_store(store, POLICY, options(), clock)
    assert "in use" in str(raised.value)
    # The first engine is unaffected.
    pw = register_password(first)
    assert first.check(pw, "web").is_ALLOWED()


def test_a_missing_directory_is_refused_without_create(tmp_path):
    with pytest.raises(AuthlockError.Storage) as raised:
        Engine.open_store(str(tmp_path / "missing"), POLICY, options(create=False))
    assert "does not exist" in str(raised.value)
    assert not (tmp_path / "missing").exists()


def test_batched_durability_with_a_zero_delay_is_refused(tmp_path):
    bad = StoreOptions(
        durability=Durability.BATCHED(max_delay_ms=0, max_events=10),
        recovery=Recovery.STRICT,
        create=True,
    )
    with pytest.raises(AuthlockError.InvalidArgument) as raised:
        Engine.open_store(str(tmp_path / "store"), POLICY, bad)
    assert "batched durability" in str(raised.value)


def test_compact_without_a_store_is_a_storage_error(engine):
    assert engine.open_report() is None
    with pytest.raises(AuthlockError.Storage) as raised:
        engine.compact()
    assert "not backed by a store" in str(raised.value)


# ----- journey steps --------------------------------------------------------


def lock_step_request(authenticator, **step):
    return json.dumps(
        {
            "step": {
                "name": "lock risky authenticator",
                "type": "lock_authenticator",
                "authenticator_id": "auth.id",
                "lock_reason": "risk score above 90",
                "error_output_variable": "lock_error",
                **step,
            },
            "context": {
                "journey": "risk",
                "app": "bank",
                "authenticated_user": "alice",
                "variables": {"auth": {"id": authenticator}},
            },
        }
    )


def test_a_journey_lock_step_locks_and_continues(engine):
    passkey = engine.register(
        Registration(user="alice", kind=AuthenticatorType.PASSKEY, app="bank", device="phone")
    )
    response = json.loads(engine.run_journey_step(lock_step_request(passkey)))
    assert response["result"]["outcome"] == "continue"
    assert response["result"]["user"] == "alice"
    assert response["context"]["variables"]["lock_error"] is None
    assert engine.check(passkey, "bank") == Decision.LOCKED(
        lock=LockKind.MANUAL, until_ms=None, reason="risk score above 90"
    )


def test_a_journey_lock_step_on_a_totp_takes_the_failure_branch(engine):
    totp = engine.register(Registration(user="alice", kind=AuthenticatorType.TOTP, app="bank"))
    events = len(engine.events())
    response = json.loads(engine.run_journey_step(lock_step_request(totp)))
    assert response["result"]["outcome"] == "failure_branch"
    assert response["result"]["error"]["code"] == "unsupported_type"
    assert response["context"]["variables"]["lock_error"]["code"] == "unsupported_type"
    assert engine.check(totp, "bank").is_ALLOWED()
    assert len(engine.events()) == events


def test_a_journey_step_that_does_not_load_is_an_error(engine):
    with pytest.raises(AuthlockError.InvalidJourneyStep) as raised:
        engine.run_journey_step(lock_step_request("0" * 32, authenticator_id="auth..id"))
    assert "authenticator_id" in str(raised.value)


# ----- the helpdesk ---------------------------------------------------------

HELPDESK = json.dumps(
    {
        "stores": {"corp": {}},
        "roles": {"tier1": {"permissions": ["unlock_account"], "mode": "restricted"}},
        "operators": {"olga": "tier1"},
    }
)
ALICE = {"store": "corp", "user": "alice"}


def call(helpdesk, op, **fields):
    return json.loads(helpdesk.handle(json.dumps({"op": op, **fields})))


@pytest.fixture
def helpdesk(engine):
    helpdesk = Helpdesk(engine, HELPDESK)
    call(helpdesk, "add_account", account={"account": ALICE, "enrolled": ["email"]})
    for _ in range(3):
        call(helpdesk, "record_login_failure", account=ALICE)
    assert call(helpdesk, "account_status", account=ALICE)["lock"]["locked"]
    return helpdesk


def test_restricted_mode_refuses_the_unlock_page_before_authentication(helpdesk):
    session = call(helpdesk, "begin_unlock", operator="olga", account=ALICE)
    assert session["page"] == "authenticate"
    state = helpdesk.handle('{"op": "state"}')
    with pytest.raises(AuthlockError.HelpdeskRefused) as raised:
        call(helpdesk, "unlock_page", operator="olga", session=session["session"])
    assert "authenticate the user first" in str(raised.value)
    with pytest.raises(AuthlockError.HelpdeskRefused):
        call(helpdesk, "unlock", operator="olga", session=session["session"], accounts=[ALICE])
    assert helpdesk.handle('{"op": "state"}') == state
    assert call(helpdesk, "account_status", account=ALICE)["lock"]["locked"]


def test_an_authenticated_user_is_unlocked_by_the_operator(engine, helpdesk):
    session = call(helpdesk, "begin_unlock", operator="olga", account=ALICE)["session"]
    call(helpdesk, "authenticate_user", operator="olga", session=session, method="email")
    page = call(helpdesk, "unlock_page", operator="olga", session=session)
    assert page["lock"]["locked"]
    report = call(
        helpdesk, "unlock", operator="olga", session=session, accounts=[ALICE], reason="ticket 42"
    )
    assert report["unlocked"] == [ALICE]
    assert call(helpdesk, "account_status", account=ALICE)["lock"]["locked"] is False
    # The unlock is in the engine's history, with the operator as actor.
    assert engine.events()[-1].actor.is_HELPDESK()
    assert engine.events()[-1].reason == "ticket 42"


def test_a_bad_helpdesk_configuration_is_refused(engine):
    with pytest.raises(AuthlockError.InvalidHelpdeskConfig) as raised:
        Helpdesk(engine, '{"operators": {"olga": "nobody"}}')
    assert "nobody" in str(raised.value)
