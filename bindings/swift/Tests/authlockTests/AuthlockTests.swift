// authlock from Swift: the engine, its decisions, scopes, views, history,
// errors, and the listener and clock implemented here and called from Rust.
// The same cases as bindings/kotlin/tests and bindings/python/tests.

import Foundation
import XCTest
import authlock

// Qualified, so that it never meets the concurrency library's `Actor`.
typealias Actor = authlock.Actor

let policy = """
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

let startMs: Int64 = 1_700_000_000_000
let second: Int64 = 1_000
let minute: Int64 = 60 * second
let ops = Actor.admin(id: "ops")

/// A host clock that moves only when the test says so.
final class ManualClock: HostClock, @unchecked Sendable {
    private let lock = NSLock()
    private var now: Int64

    init(_ start: Int64) {
        now = start
    }

    func nowMs() -> Int64 {
        lock.lock()
        defer { lock.unlock() }
        return now
    }

    func advance(_ ms: Int64) {
        lock.lock()
        defer { lock.unlock() }
        now += ms
    }
}

/// A lock listener that keeps every event it is told about.
final class Recorder: LockListener, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [HistoryEvent] = []

    var events: [HistoryEvent] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    func onLockChange(event: HistoryEvent) throws {
        lock.lock()
        defer { lock.unlock() }
        recorded.append(event)
    }
}

/// A listener that always fails.
final class BrokenListener: LockListener, @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    var calls: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }

    func onLockChange(event: HistoryEvent) throws {
        lock.lock()
        count += 1
        lock.unlock()
        throw ListenerError.Failed(reason: "listener is down")
    }
}

/// What each thread saw, shared between threads.
final class ThreadResults: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [[UInt32]]
    private var problems: [String] = []

    init(threads: Int) {
        failures = Array(repeating: [], count: threads)
    }

    func add(_ count: UInt32, thread: Int) {
        lock.lock()
        defer { lock.unlock() }
        failures[thread].append(count)
    }

    func fail(_ problem: String) {
        lock.lock()
        defer { lock.unlock() }
        problems.append(problem)
    }

    var seen: [[UInt32]] {
        lock.lock()
        defer { lock.unlock() }
        return failures
    }

    var errors: [String] {
        lock.lock()
        defer { lock.unlock() }
        return problems
    }
}

struct UnexpectedDecision: Error {
    let decision: Decision
}

extension Engine {
    func registerPin(_ device: String, app: String = "bank") throws -> String {
        try register(registration: Registration(user: "alice", kind: .pin, app: app, device: device))
    }

    func registerPassword(_ app: String) throws -> String {
        try register(registration: Registration(user: "alice", kind: .password, app: app))
    }

    @discardableResult
    func fail(_ id: String, app: String = "bank") throws -> AttemptOutcome {
        try recordFailure(id: id, attempt: Attempt(app: app))
    }

    /// Five failures, each after the previous one's 30 s throttle wait;
    /// returns when the temporary lockout ends.
    func lockPinByPolicy(_ clock: ManualClock, _ pin: String) throws -> Int64 {
        var last = try fail(pin)
        for _ in 0..<4 {
            clock.advance(30 * second)
            last = try fail(pin)
        }
        guard case .locked(_, let untilMs?, _) = last.decision else {
            throw UnexpectedDecision(decision: last.decision)
        }
        return untilMs
    }
}

final class AuthlockTests: XCTestCase {
    var clock: ManualClock!
    var recorder: Recorder!
    var engine: Engine!

    override func setUpWithError() throws {
        clock = ManualClock(startMs)
        recorder = Recorder()
        engine = try Engine(policyDocument: policy, clock: clock, listener: recorder)
    }

    func testAnEngineIsCreatedFromAPolicyDocument() throws {
        XCTAssertEqual(engine.tenant(), "acme")
        XCTAssertEqual(engine.nowMs(), startMs)
        let pin = try XCTUnwrap(engine.policy(kind: .pin, app: "bank"))
        XCTAssertEqual(pin.maxFailures, 5)
        XCTAssertNil(pin.failureWindowMs)
        XCTAssertEqual(pin.throttle, [ThrottleStep(afterFailures: 3, delayMs: 30 * second)])
        XCTAssertEqual(
            pin.lockout,
            .temporary(durationMs: 5 * minute, factor: 1, incrementMs: 0, maxDurationMs: nil))
        XCTAssertEqual(engine.policy(kind: .password, app: "web")?.lockout, .untilUnlocked)
        XCTAssertNil(engine.policy(kind: .socialLogin, app: "web"))
    }

    func testAnEngineWithoutAHostClockUsesTheSystemClock() throws {
        let engine = try Engine(policyDocument: policy)
        let before = Int64(Date().timeIntervalSince1970 * 1000)
        let now = engine.nowMs()
        let after = Int64(Date().timeIntervalSince1970 * 1000)
        XCTAssertTrue(before <= now && now <= after, "\(now) not in \(before)...\(after)")
    }

    func testAPinOnTwoDevicesGetsTwoIdsAndAPasswordInTwoAppsOne() throws {
        let phone = try engine.registerPin("phone-1")
        let tablet = try engine.registerPin("tablet")
        let web = try engine.registerPassword("web")
        let mobile = try engine.registerPassword("mobile")

        for id in [phone, tablet, web] {
            XCTAssertEqual(id.count, 32)
            XCTAssertTrue(id.allSatisfy { $0.isHexDigit && !$0.isUppercase }, id)
        }
        XCTAssertNotEqual(phone, tablet)
        XCTAssertEqual(web, mobile)

        let views = try engine.authenticators(user: "alice")
        XCTAssertEqual(views.map(\.id), [phone, tablet, web])
        XCTAssertEqual(views.map(\.kind), [.pin, .pin, .password])
        XCTAssertEqual(views.map(\.device), ["phone-1", "tablet", nil])
        XCTAssertEqual(views[0].scope, .deviceUser)
        XCTAssertEqual(views[2].scope, .appUser)
        XCTAssertEqual(views[2].apps.map(\.app), ["web", "mobile"])
    }

    func testFailuresThrottleThenLockAndTheDecisionCarriesTheRetryTime() throws {
        let pin = try engine.registerPin("phone-1")

        XCTAssertEqual(try engine.fail(pin).decision, .allowed)
        XCTAssertEqual(try engine.fail(pin).decision, .allowed)
        let third = try engine.fail(pin)
        XCTAssertEqual(third.failures, 3)
        XCTAssertEqual(third.decision, .throttled(retryAtMs: startMs + 30 * second))
        XCTAssertEqual(try engine.check(id: pin, app: "bank"), third.decision)

        let refused = try engine.fail(pin)
        XCTAssertFalse(refused.accepted)
        XCTAssertFalse(refused.counted)
        XCTAssertEqual(refused.failures, 3)

        clock.advance(30 * second)
        XCTAssertEqual(try engine.check(id: pin, app: "bank"), .allowed)
        XCTAssertEqual(try engine.fail(pin).decision, .throttled(retryAtMs: startMs + 60 * second))

        clock.advance(30 * second)
        let fifth = try engine.fail(pin)
        let until = startMs + 60 * second + 5 * minute
        XCTAssertEqual(fifth.failures, 5)
        XCTAssertEqual(fifth.decision, .locked(lock: .policy, untilMs: until, reason: nil))
        XCTAssertEqual(try engine.check(id: pin, app: "bank"), fifth.decision)

        let view = try engine.authenticator(id: pin)
        XCTAssertEqual(view.status, .locked)
        XCTAssertEqual(view.apps[0].lockExpiresAtMs, until)
    }

    func testAFailureOnDeviceOneDoesNotTouchDeviceTwo() throws {
        let phone = try engine.registerPin("phone-1")
        let tablet = try engine.registerPin("tablet")

        for _ in 0..<3 {
            try engine.fail(phone)
        }

        guard case .throttled = try engine.check(id: phone, app: "bank") else {
            return XCTFail("device 1 should be throttled")
        }
        XCTAssertEqual(try engine.check(id: tablet, app: "bank"), .allowed)
        XCTAssertEqual(try engine.authenticator(id: phone).apps[0].failures, 3)
        XCTAssertEqual(try engine.authenticator(id: tablet).apps[0].failures, 0)
    }

    func testUnlockFansOutOverTheUsersPasskeysInOneApp() throws {
        func passkey(_ device: String, _ app: String) throws -> String {
            try engine.register(
                registration: Registration(
                    user: "alice", kind: .passkey, app: app, device: device,
                    publicKey: "key-of-\(device)"))
        }
        let phone = try passkey("phone-1", "bank")
        let laptop = try passkey("laptop", "bank")
        let shop = try passkey("phone-1", "shop")
        for (id, app) in [(phone, "bank"), (laptop, "bank"), (shop, "shop")] {
            for _ in 0..<3 {
                try engine.fail(id, app: app)
            }
            XCTAssertEqual(
                try engine.check(id: id, app: app), .locked(lock: .policy, untilMs: nil, reason: nil))
        }

        let events = try engine.unlock(id: phone, app: "bank", actor: ops, reason: "verified by phone")

        XCTAssertEqual(events.count, 2)
        XCTAssertEqual(Set(events.compactMap(\.authenticator)), [phone, laptop])
        XCTAssertTrue(events.allSatisfy { $0.action == .unlocked(clearedLock: true) })
        XCTAssertTrue(events.allSatisfy { $0.reason == "verified by phone" })
        XCTAssertEqual(try engine.check(id: phone, app: "bank"), .allowed)
        XCTAssertEqual(try engine.check(id: laptop, app: "bank"), .allowed)
        guard case .locked = try engine.check(id: shop, app: "shop") else {
            return XCTFail("the passkey in the other app should stay locked")
        }
    }

    func testTheViewShowsMixedStatusAndTheMultipleAppsMarker() throws {
        let password = try engine.registerPassword("web")
        _ = try engine.registerPassword("mobile")
        clock.advance(minute)
        _ = try engine.recordSuccess(id: password, attempt: Attempt(app: "web", device: "laptop"))
        _ = try engine.lock(id: password, app: "mobile", actor: ops, reason: "lost phone")

        let views = try engine.authenticators(user: "alice")
        XCTAssertEqual(views.count, 1)
        let view = views[0]
        XCTAssertEqual(view.status, .mixed)
        XCTAssertTrue(view.multipleApps)
        XCTAssertEqual(view.apps.count, 2)
        let web = view.apps[0]
        let mobile = view.apps[1]
        XCTAssertEqual(web.app, "web")
        XCTAssertEqual(web.status, .active)
        XCTAssertEqual(web.lastSuccessMs, startMs + minute)
        XCTAssertEqual(mobile.app, "mobile")
        XCTAssertEqual(mobile.status, .locked)
        XCTAssertEqual(mobile.lockKind, .manual)
        XCTAssertEqual(mobile.lockReason, "lost phone")
        XCTAssertNil(mobile.lockExpiresAtMs)
        XCTAssertEqual(view.lastLoginMs, startMs + minute)
        XCTAssertEqual(view.lastApp, "web")
        XCTAssertEqual(view.lastDevice, "laptop")
    }

    func testTheHistoryListsActionsOnAndByAUser() throws {
        let pin = try engine.registerPin("phone-1")
        try engine.fail(pin)
        _ = try engine.lock(id: pin, app: "bank", actor: ops, reason: "reported stolen")

        let onAlice = engine.history(user: "alice").onUser
        XCTAssertEqual(
            onAlice.map(\.action),
            [
                .registered(
                    kind: .pin, device: "phone-1", identifier: nil, publicKey: nil, replaces: nil),
                .failure(fingerprint: nil, counted: true),
                .locked(lock: .manual, untilMs: nil),
            ])
        XCTAssertEqual(onAlice.map(\.seq), [1, 2, 3])
        XCTAssertTrue(
            onAlice.allSatisfy { $0.tenant == "acme" && $0.user == "alice" && $0.authenticator == pin })
        XCTAssertEqual(onAlice[0].actor, .user(id: "alice"))
        XCTAssertEqual(onAlice[1].actor, .user(id: "alice"))
        let locked = onAlice[2]
        XCTAssertEqual(locked.actor, ops)
        XCTAssertEqual(locked.reason, "reported stolen")
        XCTAssertEqual(locked.before, .registered)
        XCTAssertEqual(locked.after, .locked)
        XCTAssertEqual(locked.timeMs, startMs)

        XCTAssertEqual(engine.history(user: "ops").byUser, [locked])
        XCTAssertEqual(engine.history(user: "ops").onUser, [])
        XCTAssertEqual(engine.events(), onAlice)
    }

    func testAnUnknownIdIsANotFoundErrorWithTheCoreMessage() throws {
        let unknown = String(repeating: "0", count: 32)
        XCTAssertThrowsError(try engine.check(id: unknown, app: "bank")) { error in
            guard case AuthlockError.NotFound(let message) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(message, "authenticator \(unknown) not found")
        }
        XCTAssertThrowsError(try engine.check(id: "not-an-id", app: "bank")) { error in
            guard case AuthlockError.InvalidArgument(let message) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertTrue(message.contains("`not-an-id` is not an authenticator ID"), message)
        }
    }

    func testLockingATotpIsRefusedAndChangesNothing() throws {
        let totp = try engine.register(
            registration: Registration(user: "alice", kind: .totp, app: "web"))
        let before = engine.events()

        XCTAssertThrowsError(try engine.lock(id: totp, app: "web", actor: ops, reason: "no")) { error in
            guard case AuthlockError.Unsupported(let message) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(message, "totp does not support manual lock")
        }

        XCTAssertEqual(engine.events(), before)
        XCTAssertEqual(try engine.check(id: totp, app: "web"), .allowed)
    }

    func testABadPolicyDocumentIsRefusedWithTheReason() {
        XCTAssertThrowsError(
            try Engine(policyDocument: "[policies.totp]\nlockout = { kind = \"until_unlocked\" }\n")
        ) { error in
            guard case AuthlockError.InvalidPolicy(let message) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertTrue(message.contains("totp cannot be unlocked manually"), message)
        }
    }

    func testTheListenerWrittenInSwiftHearsEveryLockAndUnlock() throws {
        let pin = try engine.registerPin("phone-1")
        let password = try engine.registerPassword("web")
        let until = try engine.lockPinByPolicy(clock, pin)
        XCTAssertEqual(until, engine.nowMs() + 5 * minute)
        XCTAssertEqual(recorder.events.map(\.action), [.locked(lock: .policy, untilMs: until)])

        clock.advance(5 * minute)
        XCTAssertEqual(try engine.check(id: pin, app: "bank"), .allowed)
        _ = try engine.lock(id: password, app: "web", actor: ops, reason: "fraud")
        _ = try engine.unlock(id: password, app: "web", actor: ops, reason: nil)

        let heard = recorder.events
        XCTAssertEqual(heard.map(\.authenticator), [pin, pin, password, password])
        XCTAssertEqual(
            heard.map(\.action),
            [
                .locked(lock: .policy, untilMs: until),
                .lockExpired,
                .locked(lock: .manual, untilMs: nil),
                .unlocked(clearedLock: true),
            ])
        XCTAssertEqual(heard[2].reason, "fraud")
    }

    func testAListenerThatThrowsDoesNotUndoOrFailTheChange() throws {
        let broken = BrokenListener()
        engine.setListener(listener: broken)
        let password = try engine.registerPassword("web")

        let events = try engine.lock(id: password, app: "web", actor: ops, reason: nil)

        XCTAssertEqual(broken.calls, 1)
        XCTAssertEqual(events.map(\.action), [.locked(lock: .manual, untilMs: nil)])
        guard case .locked = try engine.check(id: password, app: "web") else {
            return XCTFail("the lock should stay")
        }
    }

    func testTheHostClockWrittenInSwiftDrivesATemporaryLockoutToExpiry() throws {
        let clock = ManualClock(startMs)
        let engine = try Engine(policyDocument: policy, clock: clock)
        let pin = try engine.registerPin("phone-1")
        let until = try engine.lockPinByPolicy(clock, pin)
        XCTAssertEqual(until, startMs + 4 * 30 * second + 5 * minute)
        XCTAssertEqual(
            try engine.check(id: pin, app: "bank"), .locked(lock: .policy, untilMs: until, reason: nil))

        clock.advance(until - 1 - engine.nowMs())
        guard case .locked = try engine.check(id: pin, app: "bank") else {
            return XCTFail("still locked one millisecond before the end")
        }
        clock.advance(1)
        XCTAssertEqual(try engine.check(id: pin, app: "bank"), .allowed)
        XCTAssertEqual(try engine.authenticator(id: pin).apps[0].failures, 0)
        XCTAssertEqual(engine.history(user: "alice").onUser.last?.action, .lockExpired)
    }

    func testTwoThreadsShareOneEngineWithoutLosingAFailure() throws {
        let engine = self.engine!
        let face = try engine.register(
            registration: Registration(user: "alice", kind: .faceAuthentication, app: "web"))
        let perThread = 25
        let results = ThreadResults(threads: 2)
        let group = DispatchGroup()
        for t in 0..<2 {
            group.enter()
            let thread = Thread {
                for _ in 0..<perThread {
                    do {
                        let outcome = try engine.recordFailure(id: face, attempt: Attempt(app: "web"))
                        if outcome.accepted && outcome.counted {
                            results.add(outcome.failures, thread: t)
                        } else {
                            results.fail("refused: \(outcome)")
                        }
                    } catch {
                        results.fail("\(error)")
                    }
                }
                group.leave()
            }
            thread.start()
        }
        group.wait()

        XCTAssertEqual(results.errors, [])
        XCTAssertEqual(results.seen.map(\.count), [perThread, perThread])
        XCTAssertEqual(results.seen.joined().sorted(), Array(1...UInt32(2 * perThread)))
        XCTAssertEqual(try engine.authenticator(id: face).apps[0].failures, UInt32(2 * perThread))
    }
}
