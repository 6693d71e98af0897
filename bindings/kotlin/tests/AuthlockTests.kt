// authlock from Kotlin: the engine, its decisions, scopes, views, history,
// errors, and the listener and clock implemented here and called from Rust.
//
// A plain `main` runs every test, prints one line per test, then
// `N passed, N failed`, and exits with 1 if any test failed.
@file:JvmName("AuthlockTests")

import java.util.Collections
import java.util.concurrent.CyclicBarrier
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong
import kotlin.concurrent.thread
import kotlin.system.exitProcess
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotEquals
import kotlin.test.assertNull
import kotlin.test.assertTrue
import uniffi.authlock.Action
import uniffi.authlock.Actor
import uniffi.authlock.Attempt
import uniffi.authlock.AuthenticatorType
import uniffi.authlock.AuthlockException
import uniffi.authlock.Decision
import uniffi.authlock.Engine
import uniffi.authlock.HistoryEvent
import uniffi.authlock.HostClock
import uniffi.authlock.LockKind
import uniffi.authlock.LockListener
import uniffi.authlock.Lockout
import uniffi.authlock.Registration
import uniffi.authlock.Scope
import uniffi.authlock.Status
import uniffi.authlock.ThrottleStep
import uniffi.authlock.UnifiedStatus

val POLICY = """
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
""".trimIndent()

const val START_MS = 1_700_000_000_000L
const val SECOND = 1_000L
const val MINUTE = 60 * SECOND
val OPS = Actor.Admin("ops")

/** A host clock that moves only when the test says so. */
class ManualClock(start: Long) : HostClock {
    private val now = AtomicLong(start)
    override fun nowMs(): Long = now.get()
    fun advance(ms: Long) {
        now.addAndGet(ms)
    }
}

/** A lock listener that keeps every event it is told about. */
class Recorder : LockListener {
    val events: MutableList<HistoryEvent> = Collections.synchronizedList(mutableListOf())
    override fun onLockChange(event: HistoryEvent) {
        events.add(event)
    }
}

/** An engine wired to a manual clock and a recorder, closed after [body]. */
fun withEngine(body: (Engine, ManualClock, Recorder) -> Unit) {
    val clock = ManualClock(START_MS)
    val recorder = Recorder()
    Engine(POLICY, clock, recorder).use { engine -> body(engine, clock, recorder) }
}

fun Engine.registerPin(device: String, app: String = "bank"): String =
    register(Registration(user = "alice", kind = AuthenticatorType.PIN, app = app, device = device))

fun Engine.registerPassword(app: String): String =
    register(Registration(user = "alice", kind = AuthenticatorType.PASSWORD, app = app))

fun Engine.fail(id: String, app: String = "bank") = recordFailure(id, Attempt(app = app))

/** Five failures, each after the previous one's 30 s throttle wait;
 *  returns when the temporary lockout ends. */
fun Engine.lockPinByPolicy(clock: ManualClock, pin: String): Long {
    var last = fail(pin)
    repeat(4) {
        clock.advance(30 * SECOND)
        last = fail(pin)
    }
    val decision = last.decision as? Decision.Locked ?: error("expected a lock, got ${last.decision}")
    return decision.untilMs ?: error("expected a temporary lock, got $decision")
}

val tests: List<Pair<String, () -> Unit>> = listOf(
    "an engine is created from a policy document" to {
        withEngine { engine, _, _ ->
            assertEquals("acme", engine.tenant())
            assertEquals(START_MS, engine.nowMs())
            val pin = engine.policy(AuthenticatorType.PIN, "bank")!!
            assertEquals(5u, pin.maxFailures)
            assertNull(pin.failureWindowMs)
            assertEquals(listOf(ThrottleStep(afterFailures = 3u, delayMs = 30 * SECOND)), pin.throttle)
            assertEquals(Lockout.Temporary(5 * MINUTE, 1u, 0L, null), pin.lockout)
            assertEquals(Lockout.UntilUnlocked, engine.policy(AuthenticatorType.PASSWORD, "web")!!.lockout)
            assertNull(engine.policy(AuthenticatorType.SOCIAL_LOGIN, "web"))
        }
    },
    "an engine without a host clock uses the system clock" to {
        Engine(POLICY).use { engine ->
            val before = System.currentTimeMillis()
            val now = engine.nowMs()
            val after = System.currentTimeMillis()
            assertTrue(now in before..after, "$now not in $before..$after")
        }
    },
    "a PIN on two devices gets two IDs and a password in two apps one" to {
        withEngine { engine, _, _ ->
            val phone = engine.registerPin("phone-1")
            val tablet = engine.registerPin("tablet")
            val web = engine.registerPassword("web")
            val mobile = engine.registerPassword("mobile")

            for (id in listOf(phone, tablet, web)) {
                assertTrue(Regex("[0-9a-f]{32}").matches(id), id)
            }
            assertNotEquals(phone, tablet)
            assertEquals(web, mobile)

            val views = engine.authenticators("alice")
            assertEquals(listOf(phone, tablet, web), views.map { it.id })
            assertEquals(
                listOf(AuthenticatorType.PIN, AuthenticatorType.PIN, AuthenticatorType.PASSWORD),
                views.map { it.kind },
            )
            assertEquals(listOf("phone-1", "tablet", null), views.map { it.device })
            assertEquals(Scope.DEVICE_USER, views[0].scope)
            assertEquals(Scope.APP_USER, views[2].scope)
            assertEquals(listOf("web", "mobile"), views[2].apps.map { it.app })
        }
    },
    "failures throttle then lock and the decision carries the retry time" to {
        withEngine { engine, clock, _ ->
            val pin = engine.registerPin("phone-1")

            assertEquals(Decision.Allowed, engine.fail(pin).decision)
            assertEquals(Decision.Allowed, engine.fail(pin).decision)
            val third = engine.fail(pin)
            assertEquals(3u, third.failures)
            assertEquals(Decision.Throttled(START_MS + 30 * SECOND), third.decision)
            assertEquals(third.decision, engine.check(pin, "bank"))

            val refused = engine.fail(pin)
            assertFalse(refused.accepted)
            assertFalse(refused.counted)
            assertEquals(3u, refused.failures)

            clock.advance(30 * SECOND)
            assertEquals(Decision.Allowed, engine.check(pin, "bank"))
            assertEquals(Decision.Throttled(START_MS + 60 * SECOND), engine.fail(pin).decision)

            clock.advance(30 * SECOND)
            val fifth = engine.fail(pin)
            val until = START_MS + 60 * SECOND + 5 * MINUTE
            assertEquals(5u, fifth.failures)
            assertEquals(Decision.Locked(LockKind.POLICY, until, null), fifth.decision)
            assertEquals(fifth.decision, engine.check(pin, "bank"))

            val view = engine.authenticator(pin)
            assertEquals(UnifiedStatus.LOCKED, view.status)
            assertEquals(until, view.apps[0].lockExpiresAtMs)
        }
    },
    "a failure on device 1 does not touch device 2" to {
        withEngine { engine, _, _ ->
            val phone = engine.registerPin("phone-1")
            val tablet = engine.registerPin("tablet")

            repeat(3) { engine.fail(phone) }

            assertTrue(engine.check(phone, "bank") is Decision.Throttled)
            assertEquals(Decision.Allowed, engine.check(tablet, "bank"))
            assertEquals(3u, engine.authenticator(phone).apps[0].failures)
            assertEquals(0u, engine.authenticator(tablet).apps[0].failures)
        }
    },
    "unlock fans out over the user's passkeys in one app" to {
        withEngine { engine, _, _ ->
            fun passkey(device: String, app: String) = engine.register(
                Registration(
                    user = "alice",
                    kind = AuthenticatorType.PASSKEY,
                    app = app,
                    device = device,
                    publicKey = "key-of-$device",
                ),
            )
            val phone = passkey("phone-1", "bank")
            val laptop = passkey("laptop", "bank")
            val shop = passkey("phone-1", "shop")
            for ((id, app) in listOf(phone to "bank", laptop to "bank", shop to "shop")) {
                repeat(3) { engine.fail(id, app) }
                assertEquals(Decision.Locked(LockKind.POLICY, null, null), engine.check(id, app))
            }

            val events = engine.unlock(phone, "bank", OPS, "verified by phone")

            assertEquals(setOf(phone, laptop), events.map { it.authenticator }.toSet())
            assertEquals(2, events.size)
            assertTrue(events.all { it.action == Action.Unlocked(clearedLock = true) })
            assertTrue(events.all { it.reason == "verified by phone" })
            assertEquals(Decision.Allowed, engine.check(phone, "bank"))
            assertEquals(Decision.Allowed, engine.check(laptop, "bank"))
            assertTrue(engine.check(shop, "shop") is Decision.Locked)
        }
    },
    "the view shows Mixed status and the multiple-apps marker" to {
        withEngine { engine, clock, _ ->
            val password = engine.registerPassword("web")
            engine.registerPassword("mobile")
            clock.advance(MINUTE)
            engine.recordSuccess(password, Attempt(app = "web", device = "laptop"))
            engine.lock(password, "mobile", OPS, "lost phone")

            val view = engine.authenticators("alice").single()
            assertEquals(UnifiedStatus.MIXED, view.status)
            assertTrue(view.multipleApps)
            val (web, mobile) = view.apps
            assertEquals("web", web.app)
            assertEquals(Status.ACTIVE, web.status)
            assertEquals(START_MS + MINUTE, web.lastSuccessMs)
            assertEquals("mobile", mobile.app)
            assertEquals(Status.LOCKED, mobile.status)
            assertEquals(LockKind.MANUAL, mobile.lockKind)
            assertEquals("lost phone", mobile.lockReason)
            assertNull(mobile.lockExpiresAtMs)
            assertEquals(START_MS + MINUTE, view.lastLoginMs)
            assertEquals("web", view.lastApp)
            assertEquals("laptop", view.lastDevice)
        }
    },
    "the history lists actions on and by a user" to {
        withEngine { engine, _, _ ->
            val pin = engine.registerPin("phone-1")
            engine.fail(pin)
            engine.lock(pin, "bank", OPS, "reported stolen")

            val onAlice = engine.history("alice").onUser
            assertEquals(
                listOf(
                    Action.Registered(AuthenticatorType.PIN, "phone-1", null, null, null),
                    Action.Failure(null, true),
                    Action.Locked(LockKind.MANUAL, null),
                ),
                onAlice.map { it.action },
            )
            assertEquals(listOf(1uL, 2uL, 3uL), onAlice.map { it.seq })
            assertTrue(onAlice.all { it.tenant == "acme" && it.user == "alice" && it.authenticator == pin })
            assertEquals(Actor.User("alice"), onAlice[0].actor)
            assertEquals(Actor.User("alice"), onAlice[1].actor)
            val locked = onAlice[2]
            assertEquals(OPS, locked.actor)
            assertEquals("reported stolen", locked.reason)
            assertEquals(Status.REGISTERED, locked.before)
            assertEquals(Status.LOCKED, locked.after)
            assertEquals(START_MS, locked.timeMs)

            assertEquals(listOf(locked), engine.history("ops").byUser)
            assertEquals(emptyList(), engine.history("ops").onUser)
            assertEquals(onAlice, engine.events())
        }
    },
    "an unknown ID is a NotFound exception with the core's message" to {
        withEngine { engine, _, _ ->
            val unknown = "0".repeat(32)
            val notFound = assertFailsWith<AuthlockException.NotFound> { engine.check(unknown, "bank") }
            assertEquals("authenticator $unknown not found", notFound.message)

            val malformed = assertFailsWith<AuthlockException.InvalidArgument> { engine.check("not-an-id", "bank") }
            assertTrue(malformed.message!!.contains("`not-an-id` is not an authenticator ID"), malformed.message)
        }
    },
    "locking a TOTP is refused and changes nothing" to {
        withEngine { engine, _, _ ->
            val totp = engine.register(Registration(user = "alice", kind = AuthenticatorType.TOTP, app = "web"))
            val before = engine.events()

            val refused = assertFailsWith<AuthlockException.Unsupported> { engine.lock(totp, "web", OPS, "no") }
            assertEquals("totp does not support manual lock", refused.message)

            assertEquals(before, engine.events())
            assertEquals(Decision.Allowed, engine.check(totp, "web"))
        }
    },
    "a bad policy document is refused with the reason" to {
        val refused = assertFailsWith<AuthlockException.InvalidPolicy> {
            Engine("[policies.totp]\nlockout = { kind = \"until_unlocked\" }\n").close()
        }
        assertTrue(refused.message!!.contains("totp cannot be unlocked manually"), refused.message)
    },
    "the listener written in Kotlin hears every lock and unlock" to {
        withEngine { engine, clock, recorder ->
            val pin = engine.registerPin("phone-1")
            val password = engine.registerPassword("web")
            val until = engine.lockPinByPolicy(clock, pin)
            assertEquals(engine.nowMs() + 5 * MINUTE, until)
            assertEquals(listOf<Action>(Action.Locked(LockKind.POLICY, until)), recorder.events.map { it.action })

            clock.advance(5 * MINUTE)
            assertEquals(Decision.Allowed, engine.check(pin, "bank"))
            engine.lock(password, "web", OPS, "fraud")
            engine.unlock(password, "web", OPS, null)

            assertEquals(
                listOf(
                    pin to Action.Locked(LockKind.POLICY, until),
                    pin to Action.LockExpired,
                    password to Action.Locked(LockKind.MANUAL, null),
                    password to Action.Unlocked(clearedLock = true),
                ),
                recorder.events.map { it.authenticator to it.action },
            )
            assertEquals("fraud", recorder.events[2].reason)
        }
    },
    "a listener that throws does not undo or fail the change" to {
        withEngine { engine, _, _ ->
            val calls = AtomicInteger()
            engine.setListener(object : LockListener {
                override fun onLockChange(event: HistoryEvent) {
                    calls.incrementAndGet()
                    throw IllegalStateException("listener is down")
                }
            })
            val password = engine.registerPassword("web")

            val events = engine.lock(password, "web", OPS, null)

            assertEquals(1, calls.get())
            assertEquals(listOf<Action>(Action.Locked(LockKind.MANUAL, null)), events.map { it.action })
            assertTrue(engine.check(password, "web") is Decision.Locked)
        }
    },
    "the host clock written in Kotlin drives a temporary lockout to expiry" to {
        val clock = ManualClock(START_MS)
        Engine(POLICY, clock).use { engine ->
            val pin = engine.registerPin("phone-1")
            val until = engine.lockPinByPolicy(clock, pin)
            assertEquals(START_MS + 4 * 30 * SECOND + 5 * MINUTE, until)
            assertEquals(Decision.Locked(LockKind.POLICY, until, null), engine.check(pin, "bank"))

            clock.advance(until - 1 - engine.nowMs())
            assertTrue(engine.check(pin, "bank") is Decision.Locked)
            clock.advance(1)
            assertEquals(Decision.Allowed, engine.check(pin, "bank"))
            assertEquals(0u, engine.authenticator(pin).apps[0].failures)
            assertEquals(Action.LockExpired, engine.history("alice").onUser.last().action)
        }
    },
    "two threads share one engine without losing a failure" to {
        withEngine { engine, _, _ ->
            val face = engine.register(
                Registration(user = "alice", kind = AuthenticatorType.FACE_AUTHENTICATION, app = "web"),
            )
            val perThread = 25
            val start = CyclicBarrier(2)
            val seen = List(2) { Collections.synchronizedList(mutableListOf<UInt>()) }
            val errors = Collections.synchronizedList(mutableListOf<Throwable>())
            val threads = seen.map { out ->
                thread {
                    try {
                        start.await()
                        repeat(perThread) {
                            val outcome = engine.recordFailure(face, Attempt(app = "web"))
                            check(outcome.accepted && outcome.counted) { "refused: $outcome" }
                            out.add(outcome.failures)
                        }
                    } catch (e: Throwable) {
                        errors.add(e)
                    }
                }
            }
            threads.forEach { it.join() }

            assertEquals(emptyList(), errors.map { it.toString() })
            assertEquals(listOf(perThread, perThread), seen.map { it.size })
            assertEquals((1..2 * perThread).map { it.toUInt() }, (seen[0] + seen[1]).sorted())
            assertEquals((2 * perThread).toUInt(), engine.authenticator(face).apps[0].failures)
        }
    },
)

fun main() {
    var passed = 0
    var failed = 0
    for ((name, test) in tests + storeJourneyHelpdeskTests) {
        try {
            test()
            passed++
            println("ok   $name")
        } catch (e: Throwable) {
            failed++
            println("FAIL $name: $e")
        }
    }
    println("$passed passed, $failed failed")
    if (failed > 0) exitProcess(1)
}
