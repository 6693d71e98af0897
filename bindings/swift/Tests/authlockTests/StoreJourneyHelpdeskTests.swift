// The durable store, journey steps and the helpdesk from Swift: failures
// that survive closing and reopening a store, a store held by one engine at
// a time, a journey lock step that continues and one that takes the failure
// branch, and the helpdesk's Unlock Account flow in restricted mode. The
// same cases as bindings/kotlin/tests and bindings/python/tests.

import Foundation
import XCTest
import authlock

func storeOptions(create: Bool = true) -> StoreOptions {
    StoreOptions(durability: .sync, recovery: .strict, create: create)
}

/// Parses a JSON answer into a dictionary.
func object(_ json: String) throws -> [String: Any] {
    let value = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
    return try XCTUnwrap(value as? [String: Any], "not a JSON object: \(json)")
}

/// A JSON request from a dictionary.
func json(_ value: [String: Any]) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: value), as: UTF8.self)
}

func lockStepRequest(_ authenticator: String, expression: String = "auth.id") throws -> String {
    try json([
        "step": [
            "name": "lock risky authenticator",
            "type": "lock_authenticator",
            "authenticator_id": expression,
            "lock_reason": "risk score above 90",
            "error_output_variable": "lock_error",
        ],
        "context": [
            "journey": "risk",
            "app": "bank",
            "authenticated_user": "alice",
            "variables": ["auth": ["id": authenticator]],
        ],
    ])
}

let helpdeskConfig = """
    {"stores": {"corp": {}},
     "roles": {"tier1": {"permissions": ["unlock_account"], "mode": "restricted"}},
     "operators": {"olga": "tier1"}}
    """
let alice: [String: Any] = ["store": "corp", "user": "alice"]

final class StoreJourneyHelpdeskTests: XCTestCase {
    var clock: ManualClock!
    var engine: Engine!
    var dir: URL!

    override func setUpWithError() throws {
        clock = ManualClock(startMs)
        engine = try Engine(policyDocument: policy, clock: clock, listener: Recorder())
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("authlock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    var store: String { dir.appendingPathComponent("store").path }

    func registerPassword(_ engine: Engine) throws -> String {
        try engine.register(registration: Registration(user: "alice", kind: .password, app: "web"))
    }

    /// Opens the store, runs `body`, and lets the engine go (closing it).
    func withStore<T>(create: Bool = true, _ body: (Engine) throws -> T) throws -> T {
        let engine = try Engine.openStore(
            dir: store, policyDocument: policy, options: storeOptions(create: create), clock: clock)
        return try body(engine)
    }

    // ----- the store ---------------------------------------------------------

    func testFailuresSurviveClosingAndReopeningTheStore() throws {
        let pw = try withStore { engine -> String in
            XCTAssertEqual(engine.openReport()?.replayedEvents, 0)
            let pw = try registerPassword(engine)
            _ = try engine.recordFailure(id: pw, attempt: Attempt(app: "web"))
            _ = try engine.recordFailure(id: pw, attempt: Attempt(app: "web"))
            return pw
        }
        try withStore(create: false) { engine in
            let report = try XCTUnwrap(engine.openReport())
            XCTAssertEqual(report.snapshotSeq, 0)
            XCTAssertEqual(report.replayedEvents, 3)  // the registration and two failures
            XCTAssertEqual(report.droppedTailBytes, 0)
            XCTAssertFalse(report.usedPreviousSnapshot)
            XCTAssertEqual(try engine.authenticator(id: pw).apps[0].failures, 2)
            // The third failure counts on top of the two from before: the lock.
            XCTAssertEqual(
                try engine.recordFailure(id: pw, attempt: Attempt(app: "web")).decision,
                .locked(lock: .policy, untilMs: nil, reason: nil))
        }
    }

    func testACompactedStoreReopensFromItsSnapshot() throws {
        let (pw, seq) = try withStore { engine -> (String, UInt64) in
            let pw = try registerPassword(engine)
            _ = try engine.recordFailure(id: pw, attempt: Attempt(app: "web"))
            return (pw, try engine.compact())
        }
        XCTAssertEqual(seq, 2)
        try withStore(create: false) { engine in
            XCTAssertEqual(engine.openReport()?.snapshotSeq, seq)
            XCTAssertEqual(engine.openReport()?.replayedEvents, 0)
            XCTAssertEqual(try engine.authenticator(id: pw).apps[0].failures, 1)
        }
    }

    func testASecondOpenerGetsTheInUseStorageError() throws {
        try withStore { first in
            XCTAssertThrowsError(
                try Engine.openStore(dir: store, policyDocument: policy, options: storeOptions())
            ) { error in
                guard case AuthlockError.Storage(let message) = error else {
                    return XCTFail("unexpected error \(error)")
                }
                XCTAssertTrue(message.contains("in use"), message)
            }
            // The first engine is unaffected.
            XCTAssertEqual(try first.check(id: registerPassword(first), app: "web"), .allowed)
        }
    }

    func testAMissingDirectoryIsRefusedWithoutCreate() throws {
        let missing = dir.appendingPathComponent("missing").path
        XCTAssertThrowsError(
            try Engine.openStore(dir: missing, policyDocument: policy, options: storeOptions(create: false))
        ) { error in
            guard case AuthlockError.Storage(let message) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertTrue(message.contains("does not exist"), message)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing))
    }

    func testBatchedDurabilityWithAZeroDelayIsRefused() throws {
        let bad = StoreOptions(durability: .batched(maxDelayMs: 0, maxEvents: 10), recovery: .strict, create: true)
        XCTAssertThrowsError(try Engine.openStore(dir: store, policyDocument: policy, options: bad)) { error in
            guard case AuthlockError.InvalidArgument(let message) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertTrue(message.contains("batched durability"), message)
        }
    }

    func testCompactWithoutAStoreIsAStorageError() throws {
        XCTAssertNil(engine.openReport())
        XCTAssertThrowsError(try engine.compact()) { error in
            guard case AuthlockError.Storage(let message) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertTrue(message.contains("not backed by a store"), message)
        }
    }

    // ----- journey steps -----------------------------------------------------

    func testAJourneyLockStepLocksAndContinues() throws {
        let passkey = try engine.register(
            registration: Registration(user: "alice", kind: .passkey, app: "bank", device: "phone"))
        let response = try object(engine.runJourneyStep(requestJson: lockStepRequest(passkey)))
        let result = try XCTUnwrap(response["result"] as? [String: Any])
        XCTAssertEqual(result["outcome"] as? String, "continue")
        XCTAssertEqual(result["user"] as? String, "alice")
        let context = try XCTUnwrap(response["context"] as? [String: Any])
        let variables = try XCTUnwrap(context["variables"] as? [String: Any])
        XCTAssertTrue(variables["lock_error"] is NSNull)
        XCTAssertEqual(
            try engine.check(id: passkey, app: "bank"),
            .locked(lock: .manual, untilMs: nil, reason: "risk score above 90"))
    }

    func testAJourneyLockStepOnATotpTakesTheFailureBranch() throws {
        let totp = try engine.register(registration: Registration(user: "alice", kind: .totp, app: "bank"))
        let before = engine.events()
        let response = try object(engine.runJourneyStep(requestJson: lockStepRequest(totp)))
        let result = try XCTUnwrap(response["result"] as? [String: Any])
        XCTAssertEqual(result["outcome"] as? String, "failure_branch")
        XCTAssertEqual((result["error"] as? [String: Any])?["code"] as? String, "unsupported_type")
        let context = try XCTUnwrap(response["context"] as? [String: Any])
        let variables = try XCTUnwrap(context["variables"] as? [String: Any])
        XCTAssertEqual((variables["lock_error"] as? [String: Any])?["code"] as? String, "unsupported_type")
        XCTAssertEqual(try engine.check(id: totp, app: "bank"), .allowed)
        XCTAssertEqual(engine.events(), before)
    }

    func testAJourneyStepThatDoesNotLoadIsAnError() throws {
        let request = try lockStepRequest(String(repeating: "0", count: 32), expression: "auth..id")
        XCTAssertThrowsError(try engine.runJourneyStep(requestJson: request)) { error in
            guard case AuthlockError.InvalidJourneyStep(let message) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertTrue(message.contains("authenticator_id"), message)
        }
    }

    // ----- the helpdesk ------------------------------------------------------

    func call(_ helpdesk: Helpdesk, _ op: String, _ fields: [String: Any] = [:]) throws -> Any {
        var request = fields
        request["op"] = op
        let answer = try helpdesk.handle(requestJson: json(request))
        return try JSONSerialization.jsonObject(with: Data(answer.utf8), options: [.fragmentsAllowed])
    }

    func locked(_ helpdesk: Helpdesk) throws -> Bool? {
        let status = try call(helpdesk, "account_status", ["account": alice]) as? [String: Any]
        return (status?["lock"] as? [String: Any])?["locked"] as? Bool
    }

    /// A helpdesk with alice's `corp` account locked by three failed logins.
    func lockedAccountHelpdesk() throws -> Helpdesk {
        let helpdesk = try Helpdesk(engine: engine, configJson: helpdeskConfig)
        _ = try call(helpdesk, "add_account", ["account": ["account": alice, "enrolled": ["email"]]])
        for _ in 0..<3 {
            _ = try call(helpdesk, "record_login_failure", ["account": alice])
        }
        XCTAssertEqual(try locked(helpdesk), true)
        return helpdesk
    }

    func testRestrictedModeRefusesTheUnlockPageBeforeAuthentication() throws {
        let helpdesk = try lockedAccountHelpdesk()
        let session = try XCTUnwrap(
            call(helpdesk, "begin_unlock", ["operator": "olga", "account": alice]) as? [String: Any])
        XCTAssertEqual(session["page"] as? String, "authenticate")
        let id = try XCTUnwrap(session["session"] as? Int)
        let state = try helpdesk.handle(requestJson: "{\"op\": \"state\"}")
        XCTAssertThrowsError(try call(helpdesk, "unlock_page", ["operator": "olga", "session": id])) { error in
            guard case AuthlockError.HelpdeskRefused(let message) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertTrue(message.contains("authenticate the user first"), message)
        }
        XCTAssertThrowsError(
            try call(helpdesk, "unlock", ["operator": "olga", "session": id, "accounts": [alice]])
        ) { error in
            guard case AuthlockError.HelpdeskRefused = error else {
                return XCTFail("unexpected error \(error)")
            }
        }
        XCTAssertEqual(try helpdesk.handle(requestJson: "{\"op\": \"state\"}"), state)
        XCTAssertEqual(try locked(helpdesk), true)
    }

    func testAnAuthenticatedUserIsUnlockedByTheOperator() throws {
        let helpdesk = try lockedAccountHelpdesk()
        let session = try XCTUnwrap(
            call(helpdesk, "begin_unlock", ["operator": "olga", "account": alice]) as? [String: Any])
        let id = try XCTUnwrap(session["session"] as? Int)
        _ = try call(helpdesk, "authenticate_user", ["operator": "olga", "session": id, "method": "email"])
        let page = try XCTUnwrap(call(helpdesk, "unlock_page", ["operator": "olga", "session": id]) as? [String: Any])
        XCTAssertEqual((page["lock"] as? [String: Any])?["locked"] as? Bool, true)
        let report = try XCTUnwrap(
            call(
                helpdesk, "unlock",
                ["operator": "olga", "session": id, "accounts": [alice], "reason": "ticket 42"]
            ) as? [String: Any])
        let unlocked = try XCTUnwrap(report["unlocked"] as? [[String: Any]])
        XCTAssertEqual(unlocked.map { $0["user"] as? String }, ["alice"])
        XCTAssertEqual(try locked(helpdesk), false)
        // The unlock is in the engine's history, with the operator as actor.
        let last = try XCTUnwrap(engine.events().last)
        XCTAssertEqual(last.actor, .helpdesk(id: "olga"))
        XCTAssertEqual(last.reason, "ticket 42")
    }

    func testABadHelpdeskConfigurationIsRefused() throws {
        XCTAssertThrowsError(try Helpdesk(engine: engine, configJson: "{\"operators\": {\"olga\": \"nobody\"}}")) {
            error in
            guard case AuthlockError.InvalidHelpdeskConfig(let message) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertTrue(message.contains("nobody"), message)
        }
    }
}
