// The durable store, journey steps and the helpdesk from Kotlin: failures
// that survive closing and reopening a store, a store held by one engine at
// a time, a journey lock step that continues and one that takes the failure
// branch, and the helpdesk's Unlock Account flow in restricted mode. The
// same cases as bindings/python/tests/test_store_journey_helpdesk.py.
//
// Requests and answers are JSON; the answers are compact JSON from the
// library, so the tests look for exact fragments of it.
import java.io.File
import java.nio.file.Files
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue
import uniffi.authlock.Attempt
import uniffi.authlock.AuthenticatorType
import uniffi.authlock.AuthlockException
import uniffi.authlock.Decision
import uniffi.authlock.Durability
import uniffi.authlock.Engine
import uniffi.authlock.Helpdesk
import uniffi.authlock.LockKind
import uniffi.authlock.Recovery
import uniffi.authlock.Registration
import uniffi.authlock.StoreOptions

fun storeOptions(create: Boolean = true) =
    StoreOptions(durability = Durability.Sync, recovery = Recovery.STRICT, create = create)

/** A fresh temporary directory, removed after [body]. */
fun withTempDir(body: (File) -> Unit) {
    val dir = Files.createTempDirectory("authlock-store").toFile()
    try {
        body(dir)
    } finally {
        dir.deleteRecursively()
    }
}

fun Engine.registerWebPassword(): String =
    register(Registration(user = "alice", kind = AuthenticatorType.PASSWORD, app = "web"))

fun assertContains(text: String, fragment: String) =
    assertTrue(text.contains(fragment), "expected `$fragment` in $text")

fun lockStepRequest(authenticator: String, authenticatorIdExpression: String = "auth.id") = """
    {"step": {"name": "lock risky authenticator", "type": "lock_authenticator",
              "authenticator_id": "$authenticatorIdExpression", "lock_reason": "risk score above 90",
              "error_output_variable": "lock_error"},
     "context": {"journey": "risk", "app": "bank", "authenticated_user": "alice",
                 "variables": {"auth": {"id": "$authenticator"}}}}
""".trimIndent()

val HELPDESK = """
    {"stores": {"corp": {}},
     "roles": {"tier1": {"permissions": ["unlock_account"], "mode": "restricted"}},
     "operators": {"olga": "tier1"}}
""".trimIndent()
const val ALICE = """{"store":"corp","user":"alice"}"""

/** A helpdesk over an engine, with alice's `corp` account locked by three failed logins. */
fun withLockedAccount(body: (Engine, Helpdesk) -> Unit) {
    withEngine { engine, _, _ ->
        Helpdesk(engine, HELPDESK).use { helpdesk ->
            helpdesk.handle("""{"op":"add_account","account":{"account":$ALICE,"enrolled":["email"]}}""")
            repeat(3) { helpdesk.handle("""{"op":"record_login_failure","account":$ALICE}""") }
            assertContains(helpdesk.handle("""{"op":"account_status","account":$ALICE}"""), "\"locked\":true")
            body(engine, helpdesk)
        }
    }
}

fun sessionOf(answer: String): Long =
    Regex("\"session\":(\\d+)").find(answer)?.groupValues?.get(1)?.toLong() ?: error("no session in $answer")

val storeJourneyHelpdeskTests: List<Pair<String, () -> Unit>> = listOf(
    "failures survive closing and reopening the store" to {
        withTempDir { dir ->
            val store = File(dir, "store").path
            val clock = ManualClock(START_MS)
            val pw = Engine.openStore(store, POLICY, storeOptions(), clock).use { engine ->
                assertEquals(0uL, engine.openReport()!!.replayedEvents)
                val pw = engine.registerWebPassword()
                engine.recordFailure(pw, Attempt(app = "web"))
                engine.recordFailure(pw, Attempt(app = "web"))
                pw
            }
            Engine.openStore(store, POLICY, storeOptions(create = false), clock).use { engine ->
                val report = engine.openReport()!!
                assertEquals(0uL, report.snapshotSeq)
                assertEquals(3uL, report.replayedEvents) // the registration and two failures
                assertEquals(0uL, report.droppedTailBytes)
                assertFalse(report.usedPreviousSnapshot)
                assertEquals(2u, engine.authenticator(pw).apps[0].failures)
                // The third failure counts on top of the two from before: the lock.
                assertEquals(
                    Decision.Locked(LockKind.POLICY, null, null),
                    engine.recordFailure(pw, Attempt(app = "web")).decision,
                )
            }
        }
    },
    "a compacted store reopens from its snapshot" to {
        withTempDir { dir ->
            val store = File(dir, "store").path
            val clock = ManualClock(START_MS)
            var seq = 0uL
            val pw = Engine.openStore(store, POLICY, storeOptions(), clock).use { engine ->
                val pw = engine.registerWebPassword()
                engine.recordFailure(pw, Attempt(app = "web"))
                seq = engine.compact()
                pw
            }
            assertEquals(2uL, seq)
            Engine.openStore(store, POLICY, storeOptions(create = false), clock).use { engine ->
                assertEquals(seq, engine.openReport()!!.snapshotSeq)
                assertEquals(0uL, engine.openReport()!!.replayedEvents)
                assertEquals(1u, engine.authenticator(pw).apps[0].failures)
            }
        }
    },
    "a restore is refused on a store-backed engine and changes nothing" to {
        withTempDir { dir ->
            val store = File(dir, "store").path
            val clock = ManualClock(START_MS)
            val pw = Engine.openStore(store, POLICY, storeOptions(), clock).use { engine ->
                val empty = engine.snapshotJson()
                val pw = engine.registerWebPassword()
                repeat(2) { engine.recordFailure(pw, Attempt(app = "web")) }
                val refused = assertFailsWith<AuthlockException.InvalidArgument> { engine.restoreJson(empty) }
                assertContains(refused.message!!, "durable store")
                assertEquals(2u, engine.authenticator(pw).apps[0].failures)
                pw
            }
            Engine.openStore(store, POLICY, storeOptions(create = false), clock).use { engine ->
                assertEquals(2u, engine.authenticator(pw).apps[0].failures)
            }
        }
    },
    "the store status counts compactions, and is null without a store" to {
        withTempDir { dir ->
            Engine.openStore(File(dir, "store").path, POLICY, storeOptions(), ManualClock(START_MS)).use { engine ->
                assertEquals(0uL, engine.storeStatus()!!.compactions)
                engine.registerWebPassword()
                val seq = engine.compact()
                val status = engine.storeStatus()!!
                assertEquals(seq, status.snapshotSeq)
                assertEquals(1uL, status.compactions)
                assertEquals(0uL, status.failedCompactions)
                assertNull(status.lastError)
            }
        }
        withEngine { engine, _, _ -> assertNull(engine.storeStatus()) }
    },
    "a second opener gets the in-use storage error" to {
        withTempDir { dir ->
            val store = File(dir, "store").path
            Engine.openStore(store, POLICY, storeOptions()).use { first ->
                val refused = assertFailsWith<AuthlockException.Storage> {
                    Engine.openStore(store, POLICY, storeOptions()).close()
                }
                assertContains(refused.message!!, "in use")
                // The first engine is unaffected.
                assertEquals(Decision.Allowed, first.check(first.registerWebPassword(), "web"))
            }
        }
    },
    "a missing directory is refused without create" to {
        withTempDir { dir ->
            val missing = File(dir, "missing")
            val refused = assertFailsWith<AuthlockException.Storage> {
                Engine.openStore(missing.path, POLICY, storeOptions(create = false)).close()
            }
            assertContains(refused.message!!, "does not exist")
            assertFalse(missing.exists())
        }
    },
    "batched durability with a zero delay is refused" to {
        withTempDir { dir ->
            val bad = StoreOptions(Durability.Batched(maxDelayMs = 0uL, maxEvents = 10uL), Recovery.STRICT, create = true)
            val refused = assertFailsWith<AuthlockException.InvalidArgument> {
                Engine.openStore(File(dir, "store").path, POLICY, bad).close()
            }
            assertContains(refused.message!!, "batched durability")
        }
    },
    "compact without a store is a storage error" to {
        withEngine { engine, _, _ ->
            assertNull(engine.openReport())
            val refused = assertFailsWith<AuthlockException.Storage> { engine.compact() }
            assertContains(refused.message!!, "not backed by a store")
        }
    },
    "a journey lock step locks and continues" to {
        withEngine { engine, _, _ ->
            val passkey = engine.register(
                Registration(user = "alice", kind = AuthenticatorType.PASSKEY, app = "bank", device = "phone"),
            )
            val response = engine.runJourneyStep(lockStepRequest(passkey))
            assertContains(response, "\"outcome\":\"continue\"")
            assertContains(response, "\"user\":\"alice\"")
            assertContains(response, "\"lock_error\":null")
            assertEquals(Decision.Locked(LockKind.MANUAL, null, "risk score above 90"), engine.check(passkey, "bank"))
        }
    },
    "a journey lock step on a TOTP takes the failure branch" to {
        withEngine { engine, _, _ ->
            val totp = engine.register(Registration(user = "alice", kind = AuthenticatorType.TOTP, app = "bank"))
            val before = engine.events()
            val response = engine.runJourneyStep(lockStepRequest(totp))
            assertContains(response, "\"outcome\":\"failure_branch\"")
            assertContains(
                response,
                "\"lock_error\":{\"action\":\"locked\",\"authenticator_type\":\"totp\",\"code\":\"unsupported_type\"",
            )
            assertEquals(Decision.Allowed, engine.check(totp, "bank"))
            assertEquals(before, engine.events())
        }
    },
    "a journey step that does not load is an error" to {
        withEngine { engine, _, _ ->
            val refused = assertFailsWith<AuthlockException.InvalidJourneyStep> {
                engine.runJourneyStep(lockStepRequest("0".repeat(32), authenticatorIdExpression = "auth..id"))
            }
            assertContains(refused.message!!, "authenticator_id")
        }
    },
    "restricted mode refuses the unlock page before authentication" to {
        withLockedAccount { _, helpdesk ->
            val session = helpdesk.handle("""{"op":"begin_unlock","operator":"olga","account":$ALICE}""")
            assertContains(session, "\"page\":\"authenticate\"")
            val id = sessionOf(session)
            val state = helpdesk.handle("""{"op":"state"}""")
            val refused = assertFailsWith<AuthlockException.HelpdeskRefused> {
                helpdesk.handle("""{"op":"unlock_page","operator":"olga","session":$id}""")
            }
            assertContains(refused.message!!, "authenticate the user first")
            assertFailsWith<AuthlockException.HelpdeskRefused> {
                helpdesk.handle("""{"op":"unlock","operator":"olga","session":$id,"accounts":[$ALICE]}""")
            }
            assertEquals(state, helpdesk.handle("""{"op":"state"}"""))
            assertContains(helpdesk.handle("""{"op":"account_status","account":$ALICE}"""), "\"locked\":true")
        }
    },
    "an authenticated user is unlocked by the operator" to {
        withLockedAccount { engine, helpdesk ->
            val id = sessionOf(helpdesk.handle("""{"op":"begin_unlock","operator":"olga","account":$ALICE}"""))
            helpdesk.handle("""{"op":"authenticate_user","operator":"olga","session":$id,"method":"email"}""")
            assertContains(helpdesk.handle("""{"op":"unlock_page","operator":"olga","session":$id}"""), "\"locked\":true")
            val report = helpdesk.handle(
                """{"op":"unlock","operator":"olga","session":$id,"accounts":[$ALICE],"reason":"ticket 42"}""",
            )
            assertContains(report, "\"unlocked\":[$ALICE]")
            assertContains(helpdesk.handle("""{"op":"account_status","account":$ALICE}"""), "\"locked\":false")
            // The unlock is in the engine's history, with the operator as actor.
            val last = engine.events().last()
            assertEquals(uniffi.authlock.Actor.Helpdesk("olga"), last.actor)
            assertEquals("ticket 42", last.reason)
        }
    },
    "a bad helpdesk configuration is refused" to {
        withEngine { engine, _, _ ->
            val refused = assertFailsWith<AuthlockException.InvalidHelpdeskConfig> {
                Helpdesk(engine, """{"operators": {"olga": "nobody"}}""").close()
            }
            assertContains(refused.message!!, "nobody")
        }
    },
)
