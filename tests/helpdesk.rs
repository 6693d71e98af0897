//! SPEC §8: identity stores, account lockout, operators and roles, and the
//! helpdesk Unlock Account flow.
mod common;

use std::sync::Arc;
use std::time::Duration;

use authlock::helpdesk::{
    AccountStatus, DialogPage, HelpdeskAction, HelpdeskState, NewAccount, UnlockPage, UnlockReport,
    UnlockSession, store_app,
};
use authlock::*;
use common::T0;
use serde_json::{Value, json};

const CONFIG: &str = r#"
[stores.corp]
account_lockout = { max_failures = 3, failure_window = "none", lockout = { kind = "until_unlocked" } }

[stores.partners]
account_lockout = { max_failures = 2, failure_window = "none", lockout = { kind = "temporary", duration = "10m" } }

[stores.legacy]

[roles.none]
mode = "unrestricted"

[roles.basic_restricted]
permissions = ["unlock_account"]
mode = "restricted"

[roles.basic_unrestricted]
permissions = ["unlock_account"]
mode = "unrestricted"

[roles.any_restricted]
permissions = ["unlock_any_account"]
mode = "restricted"

[roles.any_unrestricted]
permissions = ["unlock_any_account"]
mode = "unrestricted"

[roles.both_restricted]
permissions = ["unlock_account", "unlock_any_account"]
mode = "restricted"

[roles.both_unrestricted]
permissions = ["unlock_account", "unlock_any_account"]
mode = "unrestricted"

[operators]
nobody = "none"
rita = "basic_restricted"
uma = "basic_unrestricted"
ari = "any_restricted"
ana = "any_unrestricted"
bea = "both_restricted"
ben = "both_unrestricted"
"#;

struct Desk {
    helpdesk: Helpdesk,
    engine: Arc<Engine>,
    clock: FakeClock,
}

fn desk() -> Desk {
    let config = HelpdeskConfig::from_toml(CONFIG).expect("the test configuration is valid");
    let mut policies = PolicyDocument::new();
    config.apply_policies(&mut policies).unwrap();
    let clock = FakeClock::at(Timestamp::from_millis(T0));
    let engine = Arc::new(
        Engine::builder(policies)
            .clock(clock.clone())
            .ids(SeededIds::new(7))
            .build(),
    );
    let helpdesk = Helpdesk::new(&config, engine.clone()).unwrap();
    Desk {
        helpdesk,
        engine,
        clock,
    }
}

fn acct(store: &str, user: &str) -> AccountRef {
    AccountRef::new(store, user)
}

impl Desk {
    fn add(&self, store: &str, user: &str, enrolled: &[&str]) -> AccountRef {
        let a = acct(store, user);
        self.helpdesk
            .add_account(
                &NewAccount {
                    account: a.clone(),
                    display_name: Some(format!("{user} (display)")),
                    enrolled: enrolled.iter().map(|s| s.to_string()).collect(),
                },
                &Actor::admin("provisioning"),
            )
            .unwrap();
        a
    }

    fn lock_out(&self, a: &AccountRef) {
        for _ in 0..5 {
            if self.status(a).lock.locked {
                return;
            }
            self.helpdesk.record_login_failure(a).unwrap();
        }
        assert!(self.status(a).lock.locked, "{a} did not lock");
    }

    fn status(&self, a: &AccountRef) -> AccountStatus {
        self.helpdesk.account_status(a).unwrap()
    }

    /// Engine and helpdesk state, to show that a refusal changed nothing.
    fn everything(&self) -> (Snapshot, HelpdeskState, usize) {
        (
            self.engine.snapshot(),
            self.helpdesk.state(),
            self.engine.events().len(),
        )
    }
}

fn assert_refused_without_change<T: std::fmt::Debug>(
    d: &Desk,
    call: impl FnOnce() -> Result<T, HelpdeskError>,
) -> HelpdeskError {
    let before = d.everything();
    let err = call().expect_err("the call is refused");
    assert_eq!(d.everything(), before, "a refusal changed something: {err}");
    err
}

// ----- accounts and lockout ----------------------------------------------------

#[test]
fn failed_logins_lock_the_account_by_its_stores_policy() {
    let d = desk();
    let corp = d.add("corp", "alice", &["email"]);
    let partners = d.add("partners", "alice", &["email"]);
    for _ in 0..2 {
        d.helpdesk.record_login_failure(&corp).unwrap();
    }
    assert!(!d.status(&corp).lock.locked);
    assert_eq!(d.status(&corp).lock.failures, 2);
    d.helpdesk.record_login_failure(&corp).unwrap();
    let lock = d.status(&corp).lock;
    assert!(lock.locked);
    assert_eq!(lock.lock_kind, Some(LockKind::Policy));
    assert_eq!(lock.lock_expires_at, None, "corp locks until unlocked");
    assert_eq!(lock.status, Status::Locked);

    // The same user's account in another store keeps its own counter and lock.
    assert!(!d.status(&partners).lock.locked);
    d.helpdesk.record_login_failure(&partners).unwrap();
    d.helpdesk.record_login_failure(&partners).unwrap();
    let lock = d.status(&partners).lock;
    assert!(lock.locked);
    assert_eq!(
        lock.lock_expires_at,
        Some(d.clock.now().plus(Duration::from_secs(600)))
    );
    // A refused login on a locked account is not counted.
    let out = d.helpdesk.record_login_failure(&corp).unwrap();
    assert!(!out.accepted);
}

#[test]
fn a_store_without_its_own_policy_uses_the_engines_password_policy() {
    let d = desk();
    let legacy = d.add("legacy", "alice", &[]);
    let default = Policy::default_for(AuthenticatorType::Password).unwrap();
    assert_eq!(
        d.engine
            .policies()
            .policy(AuthenticatorType::Password, &store_app("legacy")),
        Some(&default)
    );
    for _ in 0..default.max_failures {
        d.helpdesk.record_login_failure(&legacy).unwrap();
    }
    assert!(d.status(&legacy).lock.locked);
}

#[test]
fn an_expired_temporary_lock_is_no_longer_shown_as_locked() {
    let d = desk();
    let p = d.add("partners", "alice", &["email"]);
    d.lock_out(&p);
    d.clock.advance(Duration::from_secs(600));
    assert!(!d.status(&p).lock.locked);
}

#[test]
fn password_changes_and_successful_logins_are_recorded() {
    let d = desk();
    let a = d.add("corp", "alice", &["email"]);
    assert_eq!(d.status(&a).last_password_change, Some(d.clock.now()));
    d.clock.advance(Duration::from_secs(3600));
    d.helpdesk.change_password(&a).unwrap();
    assert_eq!(d.status(&a).last_password_change, Some(d.clock.now()));
    d.helpdesk.record_login_failure(&a).unwrap();
    d.helpdesk.record_login_success(&a).unwrap();
    assert_eq!(d.status(&a).lock.failures, 0);
    assert_eq!(d.status(&a).lock.status, Status::Active);
}

#[test]
fn accounts_need_a_known_store_and_are_created_once() {
    let d = desk();
    d.add("corp", "alice", &[]);
    let new = |store: &str, enrolled: Vec<String>| NewAccount {
        account: acct(store, "alice"),
        display_name: None,
        enrolled,
    };
    let err = assert_refused_without_change(&d, || {
        d.helpdesk
            .add_account(&new("nowhere", vec![]), &Actor::System)
    });
    assert_eq!(
        err,
        HelpdeskError::UnknownStore {
            store: "nowhere".into()
        }
    );
    let err = assert_refused_without_change(&d, || {
        d.helpdesk.add_account(&new("corp", vec![]), &Actor::System)
    });
    assert!(matches!(err, HelpdeskError::AccountExists { .. }));
    let err = assert_refused_without_change(&d, || {
        d.helpdesk
            .add_account(&new("partners", vec!["Bad Type".into()]), &Actor::System)
    });
    assert!(err.to_string().contains("authentication type"), "{err}");
}

#[test]
fn an_account_adopts_a_password_the_engine_already_has_in_the_store() {
    let d = desk();
    let id = d
        .engine
        .register(&Registration::new(
            "alice",
            AuthenticatorType::Password,
            &store_app("corp"),
        ))
        .unwrap();
    let events = d.engine.events().len();
    let a = d.add("corp", "alice", &["email"]);
    assert_eq!(d.helpdesk.state().accounts[0].password, id);
    assert_eq!(d.engine.events().len(), events, "nothing registered again");
    d.lock_out(&a);
    assert!(matches!(
        d.engine.check(&id, &store_app("corp")).unwrap(),
        Decision::Locked { .. }
    ));
}

// ----- the allow/deny matrix ----------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Allowed,
    MissingUnlockAccount,
    MissingUnlockAnyAccount,
    UnrestrictedModeRequired,
    AuthenticationRequired,
}

/// The rule, written from the seed: an enrolled user's account needs Unlock
/// Account (Unlock Any Account includes it) and, in restricted mode, the
/// user authenticated first; an unenrolled user's account needs Unlock Any
/// Account and the unrestricted mode.
fn expected(ua: bool, uaa: bool, restricted: bool, enrolled: bool, authenticated: bool) -> Expect {
    if enrolled {
        if !(ua || uaa) {
            Expect::MissingUnlockAccount
        } else if restricted && !authenticated {
            Expect::AuthenticationRequired
        } else {
            Expect::Allowed
        }
    } else if !uaa {
        Expect::MissingUnlockAnyAccount
    } else if restricted {
        Expect::UnrestrictedModeRequired
    } else {
        Expect::Allowed
    }
}

fn operator_for(ua: bool, uaa: bool, restricted: bool) -> &'static str {
    match (ua, uaa, restricted) {
        (false, false, _) => "nobody",
        (true, false, true) => "rita",
        (true, false, false) => "uma",
        (false, true, true) => "ari",
        (false, true, false) => "ana",
        (true, true, true) => "bea",
        (true, true, false) => "ben",
    }
}

#[test]
fn unlock_allow_deny_matrix_follows_permission_mode_enrolment_and_authentication() {
    let mut checked = 0;
    for ua in [false, true] {
        for uaa in [false, true] {
            for restricted in [false, true] {
                if !ua && !uaa && restricted {
                    continue; // the "none" role is one role; its mode does not matter
                }
                for enrolled in [false, true] {
                    for authenticate in [false, true] {
                        let d = desk();
                        let op = operator_for(ua, uaa, restricted);
                        let enrolment: &[&str] = if enrolled { &["sms", "email"] } else { &[] };
                        let a = d.add("corp", "alice", enrolment);
                        d.lock_out(&a);
                        let want = expected(ua, uaa, restricted, enrolled, authenticate);
                        let case = format!(
                            "ua={ua} uaa={uaa} restricted={restricted} enrolled={enrolled} authenticate={authenticate}: expected {want:?}"
                        );
                        let got = run_flow(&d, op, &a, authenticate, enrolled);
                        match (want, &got) {
                            (Expect::Allowed, Ok(report)) => {
                                assert_eq!(report.unlocked, vec![a.clone()], "{case}");
                                assert!(!d.status(&a).lock.locked, "{case}");
                                assert!(
                                    report.events.iter().all(|e| e.actor == Actor::helpdesk(op)),
                                    "{case}"
                                );
                            }
                            (
                                Expect::MissingUnlockAccount,
                                Err(HelpdeskError::MissingPermission { permission, .. }),
                            ) => {
                                assert_eq!(*permission, Permission::UnlockAccount, "{case}")
                            }
                            (
                                Expect::MissingUnlockAnyAccount,
                                Err(HelpdeskError::MissingPermission { permission, .. }),
                            ) => {
                                assert_eq!(*permission, Permission::UnlockAnyAccount, "{case}")
                            }
                            (
                                Expect::UnrestrictedModeRequired,
                                Err(HelpdeskError::UnrestrictedModeRequired { .. }),
                            ) => {}
                            (
                                Expect::AuthenticationRequired,
                                Err(HelpdeskError::AuthenticationRequired { enrolled, .. }),
                            ) => {
                                assert_eq!(enrolled, &["email", "sms"], "{case}")
                            }
                            _ => panic!("{case}, got {got:?}"),
                        }
                        if want != Expect::Allowed {
                            assert!(d.status(&a).lock.locked, "{case}: still locked");
                            assert!(
                                d.engine
                                    .history("alice")
                                    .on_user
                                    .iter()
                                    .all(|e| e.actor != Actor::helpdesk(op)),
                                "{case}"
                            );
                        }
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 7 * 2 * 2);
}

/// Opens the dialog, authenticates the user (if asked and possible), reads
/// the Unlock page and unlocks the account. Each refused call must change
/// nothing; the first refusal is returned.
fn run_flow(
    d: &Desk,
    op: &str,
    a: &AccountRef,
    authenticate: bool,
    enrolled: bool,
) -> Result<UnlockReport, HelpdeskError> {
    let before = d.everything();
    let session = match d.helpdesk.begin_unlock(op, a) {
        Ok(s) => s,
        Err(e) => {
            assert_eq!(d.everything(), before, "refused begin changed something");
            return Err(e);
        }
    };
    assert_eq!(
        session.page,
        if enrolled {
            DialogPage::Authenticate
        } else {
            DialogPage::Unlock
        }
    );
    if authenticate {
        let before = d.everything();
        let r = d.helpdesk.authenticate_user(op, session.session, "sms");
        if enrolled {
            let s = r.expect("an enrolled type is accepted");
            assert_eq!(s.page, DialogPage::Unlock);
            assert_eq!(s.authenticated_with.as_deref(), Some("sms"));
        } else {
            assert!(matches!(r, Err(HelpdeskError::NotEnrolled { .. })));
            assert_eq!(d.everything(), before);
        }
    }
    let before = d.everything();
    if let Err(e) = d.helpdesk.unlock_page(op, session.session) {
        assert_eq!(d.everything(), before, "refused page changed something");
        let again = d
            .helpdesk
            .unlock(op, session.session, std::slice::from_ref(a), None)
            .expect_err("unlock is refused like its page");
        assert_eq!(again, e);
        assert_eq!(d.everything(), before, "refused unlock changed something");
        return Err(e);
    }
    d.helpdesk
        .unlock(op, session.session, std::slice::from_ref(a), None)
}

#[test]
fn restricted_mode_requires_authenticating_the_user_first() {
    let d = desk();
    let a = d.add("corp", "alice", &["email"]);
    d.lock_out(&a);
    let s = d.helpdesk.begin_unlock("rita", &a).unwrap();
    assert_eq!(s.page, DialogPage::Authenticate);
    assert!(!s.may_skip_authentication);
    assert_eq!(s.enrolled, ["email"]);
    let err = assert_refused_without_change(&d, || d.helpdesk.unlock_page("rita", s.session));
    assert_eq!(
        err.to_string(),
        "authenticate the user first: role `basic_restricted` is in restricted helpdesk policy mode, so the Unlock page needs the user authenticated with one of their enrolled types (email)"
    );
    assert_refused_without_change(&d, || {
        d.helpdesk
            .unlock("rita", s.session, std::slice::from_ref(&a), None)
    });
    d.helpdesk
        .authenticate_user("rita", s.session, "email")
        .unwrap();
    let page = d.helpdesk.unlock_page("rita", s.session).unwrap();
    assert!(page.lock.locked);
    d.helpdesk
        .unlock("rita", s.session, std::slice::from_ref(&a), None)
        .unwrap();
    assert!(!d.status(&a).lock.locked);
}

#[test]
fn authenticating_with_a_type_the_user_is_not_enrolled_with_is_refused() {
    let d = desk();
    let a = d.add("corp", "alice", &["email", "security_questions"]);
    d.lock_out(&a);
    let s = d.helpdesk.begin_unlock("rita", &a).unwrap();
    let err = assert_refused_without_change(&d, || {
        d.helpdesk.authenticate_user("rita", s.session, "sms")
    });
    assert_eq!(
        err.to_string(),
        "user `alice` is not enrolled with `sms` (enrolled: email, security_questions)"
    );
    assert_refused_without_change(&d, || d.helpdesk.unlock_page("rita", s.session));
}

#[test]
fn unrestricted_mode_may_skip_authentication_and_the_skip_is_logged() {
    let d = desk();
    let a = d.add("corp", "alice", &["email"]);
    d.lock_out(&a);
    let s = d.helpdesk.begin_unlock("uma", &a).unwrap();
    assert_eq!(s.page, DialogPage::Authenticate);
    assert!(s.may_skip_authentication);
    d.helpdesk.unlock_page("uma", s.session).unwrap();
    d.helpdesk.unlock_page("uma", s.session).unwrap();
    let report = d
        .helpdesk
        .unlock(
            "uma",
            s.session,
            std::slice::from_ref(&a),
            Some("called in"),
        )
        .unwrap();
    assert_eq!(report.events[0].reason.as_deref(), Some("called in"));
    let log = d.helpdesk.state().log;
    let actions: Vec<_> = log.iter().map(|e| &e.action).collect();
    assert_eq!(actions.len(), 2, "{log:?}");
    assert_eq!(actions[0], &HelpdeskAction::AuthenticationSkipped);
    assert!(matches!(
        actions[1],
        HelpdeskAction::AccountsUnlocked { .. }
    ));
}

#[test]
fn an_unenrolled_user_is_unlocked_only_with_unlock_any_account_in_unrestricted_mode() {
    let d = desk();
    let a = d.add("corp", "alice", &[]);
    d.lock_out(&a);
    for (op, needle) in [
        ("rita", "lacks the Unlock Any Account permission"),
        ("uma", "lacks the Unlock Any Account permission"),
        (
            "bea",
            "an unenrolled user's account can be unlocked only in unrestricted mode",
        ),
        (
            "ari",
            "an unenrolled user's account can be unlocked only in unrestricted mode",
        ),
    ] {
        let err = assert_refused_without_change(&d, || d.helpdesk.begin_unlock(op, &a));
        assert!(err.to_string().contains(needle), "{op}: {err}");
    }
    let s = d.helpdesk.begin_unlock("ana", &a).unwrap();
    assert_eq!(s.page, DialogPage::Unlock, "only the Unlock page");
    assert!(s.enrolled.is_empty());
    let err = assert_refused_without_change(&d, || {
        d.helpdesk.authenticate_user("ana", s.session, "email")
    });
    assert!(matches!(err, HelpdeskError::NotEnrolled { .. }));
    d.helpdesk
        .unlock("ana", s.session, std::slice::from_ref(&a), None)
        .unwrap();
    assert!(!d.status(&a).lock.locked);
    assert!(
        d.helpdesk
            .state()
            .log
            .iter()
            .all(|e| e.action != HelpdeskAction::AuthenticationSkipped),
        "nothing was skipped for an unenrolled user"
    );
}

#[test]
fn an_operator_without_permissions_is_refused_naming_unlock_account() {
    let d = desk();
    let a = d.add("corp", "alice", &["email"]);
    let err = assert_refused_without_change(&d, || d.helpdesk.begin_unlock("nobody", &a));
    assert_eq!(
        err.to_string(),
        "operator `nobody` (role `none`) lacks the Unlock Account permission: unlocking an account needs Unlock Account or Unlock Any Account"
    );
}

// ----- the Unlock page and linked accounts --------------------------------------

#[test]
fn the_unlock_page_shows_the_account_and_every_locked_linked_account() {
    let d = desk();
    let corp = d.add("corp", "alice", &["email"]);
    let partners = d.add("partners", "alice.p", &["email"]);
    let legacy = d.add("legacy", "alice", &[]);
    let other = d.add("partners", "bob", &["email"]);
    d.helpdesk.link_accounts(&corp, &partners).unwrap();
    d.helpdesk.link_accounts(&partners, &legacy).unwrap();
    d.lock_out(&corp);
    d.lock_out(&partners);
    d.lock_out(&other);
    d.clock.advance(Duration::from_secs(60));
    d.helpdesk.change_password(&corp).unwrap();
    let changed = d.clock.now();

    let s = d.helpdesk.begin_unlock("ben", &corp).unwrap();
    let page: UnlockPage = d.helpdesk.unlock_page("ben", s.session).unwrap();
    assert_eq!(page.user, "alice");
    assert_eq!(page.display_name, "alice (display)");
    assert_eq!(page.store, "corp");
    assert_eq!(page.last_password_change, Some(changed));
    assert!(page.lock.locked);
    assert_eq!(page.lock.lock_kind, Some(LockKind::Policy));
    // legacy is linked (through partners) but not locked; bob is locked but not linked.
    let linked: Vec<_> = page
        .linked_locked
        .iter()
        .map(|l| l.account.clone())
        .collect();
    assert_eq!(linked, vec![partners.clone()]);
    assert_eq!(page.linked_locked[0].display_name, "alice.p (display)");

    d.lock_out(&legacy);
    let page = d.helpdesk.unlock_page("ben", s.session).unwrap();
    let linked: Vec<_> = page
        .linked_locked
        .iter()
        .map(|l| l.account.clone())
        .collect();
    assert_eq!(linked, vec![legacy, partners], "links reach through");
}

#[test]
fn the_operator_unlocks_only_the_selected_accounts() {
    let d = desk();
    let corp = d.add("corp", "alice", &["email"]);
    let partners = d.add("partners", "alice.p", &["email"]);
    let legacy = d.add("legacy", "alice", &["email"]);
    d.helpdesk.link_accounts(&corp, &partners).unwrap();
    d.helpdesk.link_accounts(&corp, &legacy).unwrap();
    for a in [&corp, &partners, &legacy] {
        d.lock_out(a);
    }
    let s = d.helpdesk.begin_unlock("bea", &corp).unwrap();
    d.helpdesk
        .authenticate_user("bea", s.session, "email")
        .unwrap();
    let report = d
        .helpdesk
        .unlock("bea", s.session, &[partners.clone(), corp.clone()], None)
        .unwrap();
    assert_eq!(report.unlocked, vec![partners.clone(), corp.clone()]);
    assert!(!d.status(&corp).lock.locked);
    assert!(!d.status(&partners).lock.locked);
    assert!(d.status(&legacy).lock.locked, "not selected");
    let apps: Vec<_> = report
        .events
        .iter()
        .filter_map(|e| e.app.as_deref())
        .collect();
    assert_eq!(apps, [store_app("partners"), store_app("corp")]);
    let users: Vec<_> = report.events.iter().map(|e| &*e.user).collect();
    assert_eq!(users, ["alice.p", "alice"]);
    // The dialog is closed.
    let err = assert_refused_without_change(&d, || d.helpdesk.unlock_page("bea", s.session));
    assert_eq!(err, HelpdeskError::UnknownSession { session: s.session });
}

#[test]
fn unlocking_one_store_leaves_the_same_users_account_in_another_store_locked() {
    let d = desk();
    let corp = d.add("corp", "alice", &["email"]);
    let partners = d.add("partners", "alice", &["email"]);
    d.lock_out(&corp);
    d.lock_out(&partners);
    let s = d.helpdesk.begin_unlock("ben", &corp).unwrap();
    let page = d.helpdesk.unlock_page("ben", s.session).unwrap();
    assert!(page.linked_locked.is_empty(), "not linked");
    d.helpdesk
        .unlock("ben", s.session, std::slice::from_ref(&corp), None)
        .unwrap();
    assert!(!d.status(&corp).lock.locked);
    assert!(d.status(&partners).lock.locked);
}

#[test]
fn a_selection_not_on_the_unlock_page_is_refused_and_nothing_is_unlocked() {
    let d = desk();
    let corp = d.add("corp", "alice", &["email"]);
    let partners = d.add("partners", "alice.p", &["email"]);
    let legacy = d.add("legacy", "alice", &["email"]);
    let stranger = d.add("legacy", "bob", &["email"]);
    d.helpdesk.link_accounts(&corp, &partners).unwrap();
    d.helpdesk.link_accounts(&corp, &legacy).unwrap();
    d.lock_out(&corp);
    d.lock_out(&partners);
    d.lock_out(&stranger);
    let s = d.helpdesk.begin_unlock("ben", &corp).unwrap();
    for (selection, needle) in [
        (
            vec![corp.clone(), legacy.clone()],
            "the linked account is not locked",
        ),
        (vec![partners.clone(), stranger.clone()], "nor linked to it"),
        (vec![acct("corp", "ghost")], "nor linked to it"),
    ] {
        let err = assert_refused_without_change(&d, || {
            d.helpdesk.unlock("ben", s.session, &selection, None)
        });
        assert!(err.to_string().contains(needle), "{err}");
        assert!(d.status(&corp).lock.locked && d.status(&partners).lock.locked);
    }
    let err = assert_refused_without_change(&d, || d.helpdesk.unlock("ben", s.session, &[], None));
    assert_eq!(err, HelpdeskError::NothingSelected);
    let err = assert_refused_without_change(&d, || {
        d.helpdesk.unlock(
            "ben",
            s.session,
            std::slice::from_ref(&corp),
            Some("bell\u{7}"),
        )
    });
    assert!(
        matches!(err, HelpdeskError::InvalidArgument { what: "reason", .. }),
        "{err}"
    );

    // An account that is not locked is not on the page either.
    let free = d.add("corp", "carol", &["email"]);
    let s2 = d.helpdesk.begin_unlock("ben", &free).unwrap();
    let err = assert_refused_without_change(&d, || {
        d.helpdesk
            .unlock("ben", s2.session, std::slice::from_ref(&free), None)
    });
    assert!(
        err.to_string().contains("the account is not locked"),
        "{err}"
    );
}

#[test]
fn links_join_accounts_in_different_stores_only() {
    let d = desk();
    let a = d.add("corp", "alice", &[]);
    let b = d.add("corp", "alice2", &[]);
    let err = assert_refused_without_change(&d, || d.helpdesk.link_accounts(&a, &b));
    assert!(
        err.to_string().contains("different identity stores"),
        "{err}"
    );
    let err = assert_refused_without_change(&d, || {
        d.helpdesk.link_accounts(&a, &acct("partners", "nobody"))
    });
    assert!(matches!(err, HelpdeskError::UnknownAccount { .. }));
    let c = d.add("partners", "alice", &[]);
    d.helpdesk.link_accounts(&a, &c).unwrap();
    assert_eq!(d.helpdesk.state().links, vec![(a.clone(), c.clone())]);
    d.helpdesk.unlink_accounts(&c, &a).unwrap();
    assert!(d.helpdesk.state().links.is_empty());
    assert_refused_without_change(&d, || d.helpdesk.unlink_accounts(&a, &c));
}

// ----- sessions -------------------------------------------------------------------

#[test]
fn a_session_belongs_to_the_operator_who_opened_it() {
    let d = desk();
    let a = d.add("corp", "alice", &["email"]);
    d.lock_out(&a);
    let s: UnlockSession = d.helpdesk.begin_unlock("rita", &a).unwrap();
    let err = assert_refused_without_change(&d, || {
        d.helpdesk.authenticate_user("uma", s.session, "email")
    });
    assert_eq!(
        err,
        HelpdeskError::SessionOfAnotherOperator { session: s.session }
    );
    let err = assert_refused_without_change(&d, || {
        d.helpdesk
            .unlock("ben", s.session, std::slice::from_ref(&a), None)
    });
    assert_eq!(
        err,
        HelpdeskError::SessionOfAnotherOperator { session: s.session }
    );
    let err = assert_refused_without_change(&d, || d.helpdesk.unlock_page("mallory", s.session));
    assert_eq!(
        err,
        HelpdeskError::UnknownOperator {
            operator: "mallory".into()
        }
    );
    assert_refused_without_change(&d, || d.helpdesk.unlock_page("rita", 999));
    d.helpdesk.cancel_unlock("rita", s.session).unwrap();
    let err = assert_refused_without_change(&d, || {
        d.helpdesk.authenticate_user("rita", s.session, "email")
    });
    assert_eq!(err, HelpdeskError::UnknownSession { session: s.session });
}

#[test]
fn opening_too_many_dialogs_closes_the_oldest() {
    let d = desk();
    let a = d.add("corp", "alice", &["email"]);
    let first = d.helpdesk.begin_unlock("ben", &a).unwrap().session;
    for _ in 0..helpdesk::MAX_OPEN_SESSIONS_PER_OPERATOR {
        d.helpdesk.begin_unlock("ben", &a).unwrap();
    }
    assert_eq!(
        d.helpdesk.state().sessions.len(),
        helpdesk::MAX_OPEN_SESSIONS_PER_OPERATOR
    );
    assert_eq!(
        d.helpdesk.unlock_page("ben", first).unwrap_err(),
        HelpdeskError::UnknownSession { session: first }
    );
}

// ----- history --------------------------------------------------------------------

#[test]
fn every_unlock_is_in_the_history_with_the_operator_as_actor() {
    let d = desk();
    let corp = d.add("corp", "alice", &["email"]);
    let partners = d.add("partners", "alice.p", &["email"]);
    d.helpdesk.link_accounts(&corp, &partners).unwrap();
    d.lock_out(&corp);
    d.lock_out(&partners);
    let s = d.helpdesk.begin_unlock("rita", &corp).unwrap();
    d.helpdesk
        .authenticate_user("rita", s.session, "email")
        .unwrap();
    let report = d
        .helpdesk
        .unlock("rita", s.session, &[corp.clone(), partners.clone()], None)
        .unwrap();
    let seqs: Vec<u64> = report.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs.len(), 2);

    // The user's history: actions on the user, with the operator as actor.
    let h = d.helpdesk.history("alice");
    let unlock = h
        .engine
        .on_user
        .iter()
        .find(|e| e.action == Action::Unlocked { cleared_lock: true })
        .expect("the unlock is in alice's history");
    assert_eq!(unlock.actor, Actor::helpdesk("rita"));
    assert_eq!(unlock.app.as_deref(), Some(store_app("corp").as_str()));
    assert!(
        h.engine
            .on_user
            .iter()
            .any(|e| matches!(e.action, Action::Locked { .. }))
    );
    let kinds: Vec<_> = h
        .helpdesk_on_user
        .iter()
        .map(|e| e.action.clone())
        .collect();
    assert_eq!(
        kinds,
        vec![
            HelpdeskAction::UserAuthenticated {
                method: "email".into()
            },
            HelpdeskAction::AccountsUnlocked {
                accounts: vec![corp.clone(), partners.clone()],
                events: seqs.clone()
            }
        ]
    );

    // The linked account's user sees the unlock of their account too.
    let h = d.helpdesk.history("alice.p");
    assert!(
        h.engine
            .on_user
            .iter()
            .any(|e| e.seq == seqs[1] && e.actor == Actor::helpdesk("rita"))
    );
    assert_eq!(h.helpdesk_on_user.len(), 1);

    // The operator's history: the actions by the operator.
    let h = d.helpdesk.history("rita");
    let by: Vec<u64> = h.engine.by_user.iter().map(|e| e.seq).collect();
    assert_eq!(by, seqs);
    assert_eq!(h.helpdesk_by_user.len(), 2);
    assert!(h.helpdesk_by_user.iter().all(|e| e.operator == "rita"));
    assert!(h.engine.on_user.is_empty());
}

// ----- configuration ----------------------------------------------------------------

#[test]
fn the_engine_must_carry_the_stores_lockout_policies() {
    let config = HelpdeskConfig::from_toml(CONFIG).unwrap();
    let engine = Arc::new(Engine::new(PolicyDocument::new()));
    let err = Helpdesk::new(&config, engine).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("stores.corp.account_lockout"), "{text}");
    assert!(text.contains("stores.partners.account_lockout"), "{text}");
    assert!(!text.contains("stores.legacy"), "{text}");
    assert!(text.contains("apply_policies"), "{text}");
}

#[test]
fn configuration_problems_are_all_listed_with_their_field() {
    let err = HelpdeskConfig::from_toml(
        r#"
        [stores.corp]
        account_lockout = { max_failures = 0, lockout = { kind = "until_unlocked" } }
        [stores.""]
        [roles.r]
        mode = "restricted"
        [operators]
        olga = "r"
        sam = "missing"
        "#,
    )
    .unwrap_err();
    let HelpdeskError::InvalidConfig(problems) = &err else {
        panic!("{err}")
    };
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems[0].starts_with("stores.: invalid identity store name"),
        "{problems:?}"
    );
    assert!(
        problems[1].starts_with("stores.corp.account_lockout.max_failures:"),
        "{problems:?}"
    );
    assert!(
        problems[2].contains("role `missing` is not defined"),
        "{problems:?}"
    );

    for (text, needle) in [
        ("[roles.r]\nmode = \"lenient\"", "unknown variant `lenient`"),
        (
            "[roles.r]\nmode = \"restricted\"\npermissions = [\"reset_password\"]",
            "unknown variant `reset_password`",
        ),
        ("[stores.s]\nlockout = 3", "unknown field `lockout`"),
    ] {
        let err = HelpdeskConfig::from_toml(text).unwrap_err();
        assert!(err.to_string().contains(needle), "{text}: {err}");
    }
    let err = HelpdeskConfig::from_json(
        "{\"stores\": {\"s\": {\"account_lockout\": {\"max_failures\": 3, \"colour\": 1}}}}",
    )
    .unwrap_err();
    assert!(err.to_string().contains("colour"), "{err}");
}

// ----- JSON -------------------------------------------------------------------------

fn call(d: &Desk, req: Value) -> Result<Value, HelpdeskError> {
    d.helpdesk
        .handle_json(&req.to_string())
        .map(|s| serde_json::from_str(&s).expect("responses are JSON"))
}

#[test]
fn the_whole_flow_runs_through_json() {
    let d = desk();
    let corp = json!({ "store": "corp", "user": "alice" });
    let partners = json!({ "store": "partners", "user": "alice.p" });
    call(
        &d,
        json!({ "op": "add_account", "account": { "account": corp, "enrolled": ["email"] } }),
    )
    .unwrap();
    call(
        &d,
        json!({ "op": "add_account", "account": { "account": partners, "display_name": "Alice P" },
                     "actor": { "kind": "admin", "id": "root" } }),
    )
    .unwrap();
    call(
        &d,
        json!({ "op": "enrol", "account": partners, "method": "sms" }),
    )
    .unwrap();
    call(
        &d,
        json!({ "op": "link_accounts", "a": corp, "b": partners }),
    )
    .unwrap();
    for _ in 0..3 {
        call(&d, json!({ "op": "record_login_failure", "account": corp })).unwrap();
        call(
            &d,
            json!({ "op": "record_login_failure", "account": partners }),
        )
        .unwrap();
    }
    let status = call(&d, json!({ "op": "account_status", "account": corp })).unwrap();
    assert_eq!(status["lock"]["locked"], true);

    let s = call(
        &d,
        json!({ "op": "begin_unlock", "operator": "rita", "account": corp }),
    )
    .unwrap();
    assert_eq!(s["page"], "authenticate");
    let session = s["session"].as_u64().unwrap();
    let err = call(
        &d,
        json!({ "op": "unlock_page", "operator": "rita", "session": session }),
    )
    .unwrap_err();
    assert!(matches!(err, HelpdeskError::AuthenticationRequired { .. }));
    call(&d, json!({ "op": "authenticate_user", "operator": "rita", "session": session, "method": "email" })).unwrap();
    let page = call(
        &d,
        json!({ "op": "unlock_page", "operator": "rita", "session": session }),
    )
    .unwrap();
    assert_eq!(page["store"], "corp");
    assert_eq!(page["linked_locked"][0]["account"], partners);
    assert_eq!(page["linked_locked"][0]["display_name"], "Alice P");
    let report = call(
        &d,
        json!({ "op": "unlock", "operator": "rita", "session": session,
                                  "accounts": [corp, partners], "reason": "ticket 42" }),
    )
    .unwrap();
    assert_eq!(report["unlocked"].as_array().unwrap().len(), 2);
    assert_eq!(
        report["events"][0]["actor"],
        json!({ "kind": "helpdesk", "operator": "rita" })
    );
    let history = call(&d, json!({ "op": "history", "user": "rita" })).unwrap();
    assert_eq!(history["engine"]["by_user"].as_array().unwrap().len(), 2);
    let state = call(&d, json!({ "op": "state" })).unwrap();
    assert_eq!(state["accounts"].as_array().unwrap().len(), 2);
    assert_eq!(state["accounts"][1]["enrolled"], json!(["sms"]));
}

#[test]
fn bad_json_requests_are_refused_and_change_nothing() {
    let d = desk();
    d.add("corp", "alice", &["email"]);
    for bad in [
        "",
        "[]",
        "{\"op\": \"explode\"}",
        "{\"op\": \"begin_unlock\", \"operator\": \"rita\"}",
        "{\"op\": \"state\", \"extra\": 1}",
    ] {
        let before = d.everything();
        let err = d.helpdesk.handle_json(bad).unwrap_err();
        assert!(
            matches!(err, HelpdeskError::InvalidRequest { .. }),
            "{bad}: {err}"
        );
        assert_eq!(d.everything(), before);
    }
}
