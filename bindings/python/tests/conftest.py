"""Shared fixtures: the policy document, a host clock and a lock listener
written in Python, and an engine wired to both."""

import pathlib
import threading

import pytest

import authlock

# The tests exercise the installed wheel, not the generated module committed
# in bindings/python/generated.
_HERE = pathlib.Path(__file__).resolve().parent.parent
assert _HERE not in pathlib.Path(authlock.__file__).resolve().parents, (
    f"authlock was imported from the source tree ({authlock.__file__}), "
    "not from the installed package"
)

POLICY = """
tenant = "acme"

[policies.pin]
max_failures = 5
failure_window = "none"
throttle = [ { after = 3, wait = "30s" } ]
lockout = { kind = "temporary", duration = "5m" }

[policies.password]
max_failures = 3
failure_window = "none"
lockout = { kind = "until_unlocked" }

[policies.passkey]
max_failures = 3
failure_window = "none"
lockout = { kind = "until_unlocked" }

[policies.face_authentication]
max_failures = 100
failure_window = "none"
lockout = { kind = "until_unlocked" }
"""

START_MS = 1_700_000_000_000
SECOND = 1_000
MINUTE = 60 * SECOND


class ManualClock(authlock.HostClock):
    """A host clock that moves only when the test says so."""

    def __init__(self, now_ms):
        self._now = now_ms
        self._lock = threading.Lock()

    def now_ms(self):
        with self._lock:
            return self._now

    def advance(self, ms):
        with self._lock:
            self._now += ms


class Recorder(authlock.LockListener):
    """A lock listener that keeps every event it is told about."""

    def __init__(self):
        self.events = []
        self._lock = threading.Lock()

    def on_lock_change(self, event):
        with self._lock:
            self.events.append(event)


@pytest.fixture
def clock():
    return ManualClock(START_MS)


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def engine(clock, recorder):
    return authlock.Engine(POLICY, clock, recorder)
