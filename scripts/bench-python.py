#!/usr/bin/env python3
"""What `check` costs through the Python (uniffi) bindings, beside the floors
it cannot go below: a plain Python method call, one ctypes call into C (the
mechanism the generated module uses), and a uniffi call with no argument to
lower and nothing but an integer to lift (`engine.now_ms()` on the system
clock).

Runs against the authlock package installed in .venv (see
scripts/install-binding-tools.sh). With --build it first builds and installs
a release wheel from this checkout, the same way scripts/test-bindings.sh
does (pip's PEP 517 build through maturin is a release build):

    PATH="$PWD/.venv/bin:$HOME/.cargo/bin:$PATH" \
        .venv/bin/pip install --no-build-isolation --force-reinstall --no-deps ./bindings/python

Usage (from anywhere; re-runs itself with .venv/bin/python):

    python3 scripts/bench-python.py [--build] [--repeat N]

Each row is timed with timeit: the number of calls per repetition is chosen
so that one repetition takes about 0.2 s, and the median over the
repetitions, divided by that number, is reported in ns per call. Standard
library only; not part of the test command."""

import argparse
import ctypes
import os
import pathlib
import statistics
import subprocess
import sys
import timeit

ROOT = pathlib.Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
BUILD = [
    str(VENV / "bin" / "pip"),
    "install",
    "--quiet",
    "--disable-pip-version-check",
    "--no-build-isolation",
    "--force-reinstall",
    "--no-deps",
    str(ROOT / "bindings" / "python"),
]

POLICY = """
tenant = "bench"

[policies.password]
max_failures = 100
failure_window = "1ms"
lockout = { kind = "until_unlocked" }
"""

START_MS = 1_767_225_600_000


def in_venv():
    return pathlib.Path(sys.prefix).resolve() == VENV.resolve()


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", action="store_true",
                   help="build and install a release wheel from this checkout first")
    p.add_argument("--repeat", type=int, default=25,
                   help="timeit repetitions per row (default 25)")
    p.add_argument("--target", type=float, default=0.2,
                   help="seconds per repetition (default 0.2)")
    return p.parse_args()


def time_ns(stmt, namespace, repeat, target):
    """Median ns per call of `stmt` over `repeat` repetitions."""
    timer = timeit.Timer(stmt, globals=namespace)
    number = 1
    while timer.timeit(number) < target:
        number *= 2
    runs = timer.repeat(repeat=repeat, number=number)
    per_call = [r / number * 1e9 for r in runs]
    return statistics.median(per_call), min(per_call), number


def main():
    args = parse_args()
    if not VENV_PYTHON.exists():
        sys.exit(f"missing {VENV_PYTHON}: run scripts/install-binding-tools.sh first")
    if not in_venv():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__] + sys.argv[1:])
    if args.build:
        print("building and installing the release wheel:", " ".join(BUILD), flush=True)
        # maturin (in the venv) and cargo must be on the PATH, as in
        # scripts/test-bindings.sh.
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join(
            [str(VENV / "bin"), str(pathlib.Path.home() / ".cargo" / "bin"), env.get("PATH", "")])
        subprocess.run(BUILD, check=True, cwd=ROOT, env=env)

    # Import from elsewhere than the source tree, so that the generated module
    # committed in bindings/python/generated never shadows the package.
    sys.path = [p for p in sys.path if pathlib.Path(p or ".").resolve() != ROOT]
    import authlock

    lib = pathlib.Path(authlock.__file__).resolve().parent / "libauthlock.so"
    if ROOT in lib.parents and VENV not in lib.parents:
        sys.exit(f"authlock was imported from the source tree ({lib}), not the installed package")

    class HostClock(authlock.HostClock):
        """A host clock implemented in Python: every call the engine makes
        to read the time crosses back into Python."""

        def now_ms(self):
            return START_MS

    class Empty:
        def check(self, id, app):
            pass

    def engine_with(clock):
        engine = authlock.Engine(POLICY, clock, None)
        id = engine.register(authlock.Registration(
            user="alice", kind=authlock.AuthenticatorType.PASSWORD, app="web"))
        assert engine.check(id, "web").is_ALLOWED()
        return engine, id

    libc_abs = ctypes.CDLL(None).abs
    libc_abs.argtypes = [ctypes.c_int]
    libc_abs.restype = ctypes.c_int

    system_engine, system_id = engine_with(None)
    host_engine, host_id = engine_with(HostClock())
    namespace = {
        "empty": Empty(),
        "libc_abs": libc_abs,
        "system_engine": system_engine,
        "system_id": system_id,
        "host_engine": host_engine,
        "host_id": host_id,
    }
    rows = [
        ("empty Python method call, 2 args (floor)", "empty.check(system_id, 'web')"),
        ("ctypes call to libc abs() (native call floor)", "libc_abs(-3)"),
        ("engine.now_ms(), no args (uniffi floor)", "system_engine.now_ms()"),
        ("engine.check(id, app), system clock", "system_engine.check(system_id, 'web')"),
        ("engine.check(id, app), host clock in Python", "host_engine.check(host_id, 'web')"),
    ]

    print(f"authlock from {lib}")
    print(f"Python {sys.version.split()[0]}, {args.repeat} repetitions of ~{args.target}s each")
    print()
    print("| call | median ns/call | min ns/call | calls per repetition |")
    print("| --- | ---: | ---: | ---: |")
    results = {}
    for name, stmt in rows:
        median, best, number = time_ns(stmt, namespace, args.repeat, args.target)
        results[stmt] = median
        print(f"| {name} | {median:.0f} | {best:.0f} | {number:,} |", flush=True)
    print()
    check = results["system_engine.check(system_id, 'web')"]
    floor = results["system_engine.now_ms()"]
    print(f"check above the uniffi floor: {check - floor:.0f} ns")


if __name__ == "__main__":
    main()
