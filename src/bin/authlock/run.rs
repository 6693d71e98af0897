//! Runs a checked scenario against the library and records what happened,
//! entry by entry, as a [`Report`] that the text and JSON outputs render.
//!
//! The engine gets a [`FakeClock`] set to each entry's time and
//! [`SeededIds`], so the same scenario always gives the same output. The
//! events of each entry are the engine's history events numbered after
//! the entry began.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use authlock::helpdesk::{AccountRef, Helpdesk, HelpdeskEvent, NewAccount};
use authlock::journey::{JourneyContext, JourneyEvent, StepOutcome};
use authlock::{
    Actor, Attempt, AttemptOutcome, AuthenticatorId, AuthenticatorType, AuthenticatorView, Clock,
    Decision, Engine, Event, FakeClock, Identifier, Policy, Registration, Scope, SeededIds, Status,
    Timestamp, UserHistory,
};
use serde::Serialize;
use serde_json::Value;

use crate::chart::{Chart, Sampler};
use crate::scenario::{AdminAction, Op, Plan, RegPlan, Target};

/// Everything a run produced.
#[derive(Serialize)]
pub struct Report {
    /// The scenario.
    pub scenario: ScenarioInfo,
    /// The policies in force for the types and apps the scenario uses.
    pub policies: Vec<PolicyLine>,
    /// The authenticators registered at the start.
    pub setup: Vec<SetupLine>,
    /// One report per timeline entry.
    pub entries: Vec<EntryReport>,
    /// When the scenario ended (the clock after the last entry).
    pub end: Timestamp,
    /// Each user's authenticators and history at the end.
    pub users: Vec<UserReport>,
    /// The helpdesk log, when the scenario has a helpdesk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helpdesk_log: Option<Vec<HelpdeskEvent>>,
    /// The timeline chart, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart: Option<Chart>,
    /// The scenario's labels of authenticator IDs.
    pub labels: Labels,
    /// Every event, for `--history-out` (not part of the report).
    #[serde(skip)]
    pub events: Vec<Event>,
    /// The tenant, for `--history-out`.
    #[serde(skip)]
    pub tenant: String,
}

/// The scenario's header.
#[derive(Serialize)]
pub struct ScenarioInfo {
    /// Its name.
    pub name: String,
    /// The file.
    pub file: String,
    /// Its description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When its clock started.
    pub start: Timestamp,
    /// The seed of the authenticator IDs.
    pub seed: u64,
    /// The tenant.
    pub tenant: String,
}

/// One policy in force.
#[derive(Serialize)]
pub struct PolicyLine {
    /// The type.
    #[serde(rename = "type")]
    pub kind: AuthenticatorType,
    /// The app (none for a global-user type: one policy for every app).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Whether it is the app's override.
    pub app_override: bool,
    /// In words.
    pub summary: String,
    /// The policy (none for a type without lockout).
    pub policy: Option<Policy>,
}

/// One authenticator registered at the start.
#[derive(Serialize)]
pub struct SetupLine {
    /// Its label.
    pub label: String,
    /// Its ID.
    pub id: AuthenticatorId,
    /// The user.
    pub user: String,
    /// The type.
    #[serde(rename = "type")]
    pub kind: AuthenticatorType,
    /// Where: apps, device, identifier.
    pub registered: String,
}

/// What one timeline entry did.
#[derive(Serialize)]
pub struct EntryReport {
    /// Its number, from 1.
    pub entry: usize,
    /// Its line in the scenario (TOML).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// When it happened.
    pub at: Timestamp,
    /// Whether the clock went back to reach it (milliseconds back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_back_ms: Option<i64>,
    /// The `do` value.
    pub action: String,
    /// The entry in words.
    pub summary: String,
    /// The scenario's note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What came of it.
    pub result: Outcome,
    /// The history events it caused.
    pub events: Vec<Event>,
}

/// The result of an entry.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// An attempt (failure, success, reserve, commit).
    Attempt {
        /// Whether it was taken into account (false: refused, nothing counted).
        accepted: bool,
        /// Whether a failure was counted.
        counted: bool,
        /// Failures counted now.
        failures: u32,
        /// The policy's `max_failures`, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        max_failures: Option<u32>,
        /// The reservation's label (reserve, commit).
        #[serde(skip_serializing_if = "Option::is_none")]
        reservation: Option<String>,
        /// The decision for the next attempt (or why this one was refused).
        decision: Decision,
    },
    /// A check.
    Check {
        /// The decision.
        decision: Decision,
    },
    /// An admin action, an unlock by type, a suspension.
    Changed {
        /// What changed, per instance.
        changes: Vec<Change>,
        /// The decision now for the instances concerned.
        now: Vec<InstanceDecision>,
    },
    /// A registration (or a first use, which also records a success).
    Registered {
        /// The label.
        label: String,
        /// The new ID.
        id: AuthenticatorId,
        /// The label of the instance it replaced (device-user re-registration).
        #[serde(skip_serializing_if = "Option::is_none")]
        replaced: Option<String>,
        /// The decision after a first use's success.
        #[serde(skip_serializing_if = "Option::is_none")]
        decision: Option<Decision>,
    },
    /// The clock was set.
    Clock {
        /// The time before.
        from: Timestamp,
        /// The time after.
        to: Timestamp,
    },
    /// A journey step ran.
    Journey {
        /// The step's type.
        step_type: String,
        /// `continue`, `failure_branch` or `abort`.
        outcome: String,
        /// The step's error (as written to the error output variable).
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<Value>,
        /// The user the step acted on.
        #[serde(skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        /// What changed.
        changes: Vec<Change>,
        /// The variables the step wrote (new or changed), after the step.
        written: Value,
        /// The journey event recorded (data reporting).
        #[serde(skip_serializing_if = "Option::is_none")]
        report: Option<Box<JourneyEvent>>,
    },
    /// A helpdesk unlock flow.
    Helpdesk {
        /// The flow's stages, in order, up to the first refusal.
        stages: Vec<Stage>,
        /// What changed.
        changes: Vec<Change>,
    },
    /// The library refused the call.
    Error {
        /// Its message.
        message: String,
    },
}

/// One change to one instance, from a history event.
#[derive(Serialize, Clone)]
pub struct Change {
    /// The authenticator's label (or ID when it has none).
    pub label: String,
    /// The app of the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// The event's action.
    pub action: String,
    /// Status before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Status>,
    /// Status after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Status>,
}

/// The decision for one instance.
#[derive(Serialize)]
pub struct InstanceDecision {
    /// The label.
    pub label: String,
    /// The app.
    pub app: String,
    /// The decision, or...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// ...the error asking for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One stage of the helpdesk flow.
#[derive(Serialize)]
pub struct Stage {
    /// `open dialog`, `authenticate user`, `unlock page`, `unlock`.
    pub stage: String,
    /// Whether it went through.
    pub ok: bool,
    /// What it showed, or why it was refused.
    pub detail: String,
}

/// A user at the end.
#[derive(Serialize)]
pub struct UserReport {
    /// The user.
    pub user: String,
    /// Whether suspended.
    pub suspended: bool,
    /// The profile's identifiers.
    pub identifiers: Vec<Identifier>,
    /// The authenticator view.
    pub authenticators: Vec<LabeledView>,
    /// The history on and by the user.
    pub history: UserHistory,
}

/// An authenticator view with the scenario's labels for it.
#[derive(Serialize)]
pub struct LabeledView {
    /// The labels naming this ID (none outside a scenario).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// The view.
    #[serde(flatten)]
    pub view: AuthenticatorView,
}

/// The scenario's labels of authenticator IDs, with the apps each label
/// names (an ID can carry two labels: a user's password and a helpdesk
/// account's password are one app-user authenticator).
#[derive(Serialize, Default, Clone)]
pub struct Labels(pub Vec<LabelEntry>);

/// One label.
#[derive(Serialize, Clone)]
pub struct LabelEntry {
    /// The label.
    pub label: String,
    /// The ID it names.
    pub id: AuthenticatorId,
    /// The apps it was registered in under this label (empty for a
    /// global-user authenticator).
    pub apps: Vec<String>,
}

impl Labels {
    /// Adds a label (or more apps to it).
    pub fn add(&mut self, label: &str, id: AuthenticatorId, apps: &[String]) {
        match self.0.iter_mut().find(|e| e.label == label && e.id == id) {
            Some(e) => {
                for a in apps {
                    if !e.apps.contains(a) {
                        e.apps.push(a.clone());
                    }
                }
            }
            None => self.0.push(LabelEntry {
                label: label.to_string(),
                id,
                apps: apps.to_vec(),
            }),
        }
    }

    /// Every label of `id`, in the order given.
    pub fn of(&self, id: &AuthenticatorId) -> Vec<String> {
        self.0
            .iter()
            .filter(|e| e.id == *id)
            .map(|e| e.label.clone())
            .collect()
    }

    /// The label of `id` for `app`: the one registered there, else the
    /// first, else the ID itself.
    pub fn for_app(&self, id: &AuthenticatorId, app: Option<&str>) -> String {
        let mine = || self.0.iter().filter(|e| e.id == *id);
        app.and_then(|a| mine().find(|e| e.apps.iter().any(|x| x == a)))
            .or_else(|| mine().next())
            .map_or_else(|| id.to_string(), |e| e.label.clone())
    }

    /// The ID of a label.
    pub fn id(&self, label: &str) -> Option<AuthenticatorId> {
        self.0.iter().rev().find(|e| e.label == label).map(|e| e.id)
    }
}

/// A failure to set up the scenario (the engine refused a declaration).
pub struct SetupError {
    /// What was being set up, in words.
    pub place: String,
    /// Why.
    pub message: String,
}

struct Runner<'p> {
    plan: &'p Plan,
    clock: FakeClock,
    engine: Arc<Engine>,
    helpdesk: Option<Helpdesk>,
    labels: Labels,
    reservations: BTreeMap<String, u64>,
    journeys: BTreeMap<String, JourneyContext>,
    accounts: BTreeMap<String, AccountRef>,
    used: BTreeSet<(AuthenticatorType, Option<String>)>,
}

/// Runs a plan. `chart` also samples the state for the timeline chart.
pub fn run(plan: &Plan, chart: bool) -> Result<Report, SetupError> {
    let clock = FakeClock::at(plan.start);
    let engine = Arc::new(
        Engine::builder(plan.policies.clone())
            .clock(clock.clone())
            .ids(SeededIds::new(plan.seed))
            .build(),
    );
    let helpdesk = match &plan.helpdesk {
        Some(cfg) => Some(Helpdesk::new(cfg, engine.clone()).map_err(|e| SetupError {
            place: "[helpdesk]".into(),
            message: e.to_string(),
        })?),
        None => None,
    };
    let mut r = Runner {
        plan,
        clock,
        engine,
        helpdesk,
        labels: Labels::default(),
        reservations: BTreeMap::new(),
        journeys: BTreeMap::new(),
        accounts: BTreeMap::new(),
        used: BTreeSet::new(),
    };
    let setup = r.setup()?;
    let mut sampler = chart.then(|| Sampler::new(plan));
    if let Some(s) = &mut sampler {
        s.after_setup(&r.engine, &r.clock, plan);
    }
    let mut entries = Vec::new();
    for (i, e) in plan.entries.iter().enumerate() {
        let from = r.clock.now();
        let clock_back_ms = (e.at < from).then(|| from.as_millis() - e.at.as_millis());
        r.clock.set(e.at);
        let before = r.engine.last_seq();
        let (summary, result) = match r.unregistered(&e.op) {
            Some((target, message)) => (
                format!("{} {}", e.action, on(target)),
                Outcome::Error { message },
            ),
            None => r.entry(&e.op, from),
        };
        let events: Vec<Event> = r
            .engine
            .events()
            .into_iter()
            .filter(|ev| ev.seq > before)
            .collect();
        entries.push(EntryReport {
            entry: e.number,
            line: e.line,
            at: e.at,
            clock_back_ms,
            action: e.action.clone(),
            summary,
            note: e.note.clone(),
            result,
            events,
        });
        if let Some(s) = &mut sampler {
            s.after_entry(i, &r.engine, &r.clock, plan);
        }
    }
    let end = r.clock.now();
    let chart = sampler.map(|s| s.finish(&r.labels, plan));
    let users = r.users();
    let policies = r.policies();
    Ok(Report {
        scenario: ScenarioInfo {
            name: plan.name.clone(),
            file: plan.file.clone(),
            description: plan.description.clone(),
            start: plan.start,
            seed: plan.seed,
            tenant: r.engine.tenant().to_string(),
        },
        policies,
        setup,
        entries,
        end,
        users,
        helpdesk_log: r.helpdesk.as_ref().map(|h| h.state().log),
        chart,
        labels: r.labels.clone(),
        events: r.engine.events(),
        tenant: r.engine.tenant().to_string(),
    })
}

impl Runner<'_> {
    fn name(&mut self, label: &str, id: AuthenticatorId, apps: &[String]) {
        self.labels.add(label, id, apps);
    }

    fn label_of(&self, id: &AuthenticatorId, app: Option<&str>) -> String {
        self.labels.for_app(id, app)
    }

    fn setup(&mut self) -> Result<Vec<SetupLine>, SetupError> {
        let plan = self.plan;
        let mut lines = Vec::new();
        for u in &plan.users {
            for ident in &u.identifiers {
                let ids = self
                    .engine
                    .add_identifier(&u.name, ident, &Actor::user(&u.name))
                    .map_err(|e| SetupError {
                        place: format!("users.{}.identifiers", u.name),
                        message: e.to_string(),
                    })?;
                for id in ids {
                    let kind = self
                        .engine
                        .authenticator(&id)
                        .map(|v| v.kind)
                        .map_err(|e| SetupError {
                            place: format!("users.{}", u.name),
                            message: e.to_string(),
                        })?;
                    let label = format!("{}/{kind}", u.name);
                    self.name(&label, id, &[]);
                    self.used.insert((kind, None));
                    lines.push(SetupLine {
                        label,
                        id,
                        user: u.name.clone(),
                        kind,
                        registered: format!("from {} {}", ident_kind(ident), ident.value),
                    });
                }
            }
        }
        for (i, reg) in plan.registrations.iter().enumerate() {
            let id = self.register(reg).map_err(|message| SetupError {
                place: format!("authenticator {} (`{}`)", i + 1, reg.label),
                message,
            })?;
            lines.push(SetupLine {
                label: reg.label.clone(),
                id,
                user: reg.user.clone(),
                kind: reg.kind,
                registered: where_registered(reg),
            });
        }
        if let Some(h) = self.helpdesk.take() {
            for a in &plan.accounts {
                let new = NewAccount {
                    account: a.account.clone(),
                    display_name: a.display_name.clone(),
                    enrolled: a.enrolled.clone(),
                };
                let id = h
                    .add_account(&new, &Actor::user(&a.account.user))
                    .map_err(|e| SetupError {
                        place: format!("account `{}`", a.label),
                        message: e.to_string(),
                    })?;
                self.accounts.insert(a.label.clone(), a.account.clone());
                let app = authlock::helpdesk::store_app(&a.account.store);
                self.used
                    .insert((AuthenticatorType::Password, Some(app.clone())));
                lines.push(SetupLine {
                    label: a.label.clone(),
                    id,
                    user: a.account.user.clone(),
                    kind: AuthenticatorType::Password,
                    registered: format!(
                        "account in identity store {} (app {app}); enrolled: {}",
                        a.account.store,
                        if a.enrolled.is_empty() {
                            "nothing".to_string()
                        } else {
                            a.enrolled.join(", ")
                        }
                    ),
                });
                self.name(&a.label, id, std::slice::from_ref(&app));
            }
            for (a, b) in &plan.links {
                let (ra, rb) = (self.accounts[a].clone(), self.accounts[b].clone());
                h.link_accounts(&ra, &rb).map_err(|e| SetupError {
                    place: format!("link {a} - {b}"),
                    message: e.to_string(),
                })?;
            }
            self.helpdesk = Some(h);
        }
        Ok(lines)
    }

    /// Registers in every app of the plan; returns the ID.
    fn register(&mut self, reg: &RegPlan) -> Result<AuthenticatorId, String> {
        let mut id = None;
        for app in &reg.apps {
            let mut r = Registration::new(&reg.user, reg.kind, app);
            if let Some(d) = &reg.device {
                r = r.on_device(d);
            }
            if let Some(k) = &reg.public_key {
                r = r.with_public_key(k);
            }
            if let Some(by) = &reg.by {
                r = r.by(by.clone());
            }
            let got = self.engine.register(&r).map_err(|e| e.to_string())?;
            let scope_app = (reg.kind.scope() != Scope::GlobalUser).then(|| app.clone());
            self.used.insert((reg.kind, scope_app));
            id = Some(got);
        }
        let id = id.ok_or_else(|| "no app to register in".to_string())?;
        self.name(&reg.label, id, &reg.apps);
        Ok(id)
    }

    fn id(&self, label: &str) -> AuthenticatorId {
        self.labels
            .id(label)
            .expect("the planner resolved every label before its first use")
    }

    fn max_failures(&self, label: &str, app: &str) -> Option<u32> {
        let kind = self.engine.authenticator(&self.id(label)).ok()?.kind;
        self.engine
            .policies()
            .policy(kind, app)
            .map(|p| p.max_failures)
    }

    fn changes(&self, events: &[Event]) -> Vec<Change> {
        events
            .iter()
            .map(|e| Change {
                label: match &e.authenticator {
                    Some(id) => self.label_of(id, e.app.as_deref()),
                    None => format!("user {}", e.user),
                },
                app: e.app.as_deref().map(str::to_string),
                action: e.action.name().to_string(),
                before: e.before,
                after: e.after,
            })
            .collect()
    }

    /// The decision now for each instance named by the events (and `also`).
    fn decisions(&self, events: &[Event], also: Option<&Target>) -> Vec<InstanceDecision> {
        let mut seen: Vec<(AuthenticatorId, String)> = Vec::new();
        if let Some(t) = also {
            seen.push((self.id(&t.label), t.app.clone()));
        }
        for e in events {
            if let (Some(id), Some(app)) = (e.authenticator, e.app.as_deref())
                && !seen.iter().any(|(i, a)| *i == id && a == app)
            {
                seen.push((id, app.to_string()));
            }
        }
        seen.into_iter()
            .map(|(id, app)| {
                let (decision, error) = match self.engine.check(&id, &app) {
                    Ok(d) => (Some(d), None),
                    Err(e) => (None, Some(e.to_string())),
                };
                InstanceDecision {
                    label: self.label_of(&id, Some(&app)),
                    app,
                    decision,
                    error,
                }
            })
            .collect()
    }

    fn attempt_outcome(
        &self,
        o: AttemptOutcome,
        target: &Target,
        reservation: Option<String>,
    ) -> Outcome {
        Outcome::Attempt {
            accepted: o.accepted,
            counted: o.counted,
            failures: o.failures,
            max_failures: self.max_failures(&target.label, &target.app),
            reservation,
            decision: o.decision,
        }
    }

    /// Runs one entry: its summary and its outcome.
    /// The entry's authenticator, when its label names nothing because the
    /// `register` entry meant to register it was refused.
    fn unregistered<'o>(&self, op: &'o Op) -> Option<(&'o Target, String)> {
        let target = match op {
            Op::Failure { target, .. }
            | Op::Success { target, .. }
            | Op::Check { target }
            | Op::Reserve { target, .. }
            | Op::Commit { target, .. }
            | Op::Admin { target, .. } => target,
            _ => return None,
        };
        self.labels.id(&target.label).is_none().then(|| {
            (
                target,
                format!(
                    "`{}` was never registered: the entry that registers it was refused",
                    target.label
                ),
            )
        })
    }

    fn entry(&mut self, op: &Op, from: Timestamp) -> (String, Outcome) {
        let err = |e: &dyn std::fmt::Display| Outcome::Error {
            message: e.to_string(),
        };
        match op {
            Op::Failure {
                target,
                device,
                fingerprint,
            } => {
                let mut a = Attempt::in_app(&target.app);
                if let Some(d) = device {
                    a = a.on_device(d);
                }
                if let Some(f) = fingerprint {
                    a = a.with_fingerprint(f.as_bytes());
                }
                let summary = format!(
                    "failure {}{}{}",
                    on(target),
                    device
                        .as_ref()
                        .map_or(String::new(), |d| format!(" on {d}")),
                    fingerprint
                        .as_ref()
                        .map_or(String::new(), |f| format!(", secret fingerprint \"{f}\""))
                );
                let res = match self.engine.record_failure(&self.id(&target.label), &a) {
                    Ok(o) => self.attempt_outcome(o, target, None),
                    Err(e) => err(&e),
                };
                (summary, res)
            }
            Op::Success { target, device } => {
                let mut a = Attempt::in_app(&target.app);
                if let Some(d) = device {
                    a = a.on_device(d);
                }
                let summary = format!(
                    "success {}{}",
                    on(target),
                    device
                        .as_ref()
                        .map_or(String::new(), |d| format!(" on {d}"))
                );
                let res = match self.engine.record_success(&self.id(&target.label), &a) {
                    Ok(o) => self.attempt_outcome(o, target, None),
                    Err(e) => err(&e),
                };
                (summary, res)
            }
            Op::Check { target } => {
                let summary = format!("check {}", on(target));
                let res = match self.engine.check(&self.id(&target.label), &target.app) {
                    Ok(decision) => Outcome::Check { decision },
                    Err(e) => err(&e),
                };
                (summary, res)
            }
            Op::Reserve {
                target,
                device,
                fingerprint,
                reservation,
            } => {
                let mut a = Attempt::in_app(&target.app);
                if let Some(d) = device {
                    a = a.on_device(d);
                }
                if let Some(f) = fingerprint {
                    a = a.with_fingerprint(f.as_bytes());
                }
                let summary = format!(
                    "reserve {} as {reservation}{}",
                    on(target),
                    fingerprint
                        .as_ref()
                        .map_or(String::new(), |f| format!(", secret fingerprint \"{f}\""))
                );
                let res = match self.engine.reserve(&self.id(&target.label), &a) {
                    Ok(o) => {
                        if let Some(n) = o.reservation {
                            self.reservations.insert(reservation.clone(), n);
                        }
                        self.attempt_outcome(o, target, Some(reservation.clone()))
                    }
                    Err(e) => err(&e),
                };
                (summary, res)
            }
            Op::Commit {
                target,
                device,
                reservation,
                success,
            } => {
                let mut a = Attempt::in_app(&target.app);
                if let Some(d) = device {
                    a = a.on_device(d);
                }
                let summary = format!(
                    "commit {reservation} on {} as {}",
                    on(target),
                    if *success { "success" } else { "failure" }
                );
                let res = match self.reservations.get(reservation) {
                    None => Outcome::Error {
                        message: format!(
                            "reservation {reservation} was never made (its reserve entry was refused)"
                        ),
                    },
                    Some(n) => {
                        match self
                            .engine
                            .commit(&self.id(&target.label), &a, *n, *success)
                        {
                            Ok(o) => self.attempt_outcome(o, target, Some(reservation.clone())),
                            Err(e) => err(&e),
                        }
                    }
                };
                (summary, res)
            }
            Op::Admin {
                what,
                target,
                reason,
                by,
            } => {
                let id = self.id(&target.label);
                let app = target.app.as_str();
                let reason = reason.as_deref();
                let (verb, res) = match what {
                    AdminAction::Lock => ("lock", self.engine.lock(&id, app, by, reason)),
                    AdminAction::Unlock => ("unlock", self.engine.unlock(&id, app, by, reason)),
                    AdminAction::Delete => ("delete", self.engine.delete(&id, app, by, reason)),
                    AdminAction::Deactivate => {
                        ("deactivate", self.engine.deactivate(&id, app, by, reason))
                    }
                    AdminAction::Reactivate => {
                        ("reactivate", self.engine.reactivate(&id, app, by, reason))
                    }
                };
                let summary = format!(
                    "{verb} {} by {}{}",
                    on(target),
                    actor_text(by),
                    reason_text(reason)
                );
                let res = match res {
                    Ok(events) => Outcome::Changed {
                        changes: self.changes(&events),
                        now: self.decisions(&events, Some(target)),
                    },
                    Err(e) => err(&e),
                };
                (summary, res)
            }
            Op::UnlockType {
                user,
                kind,
                app,
                reason,
                by,
            } => {
                let summary = format!(
                    "unlock every {kind} of {user} in {app} by {}{}",
                    actor_text(by),
                    reason_text(reason.as_deref())
                );
                let res = match self
                    .engine
                    .unlock_type(user, *kind, app, by, reason.as_deref())
                {
                    Ok(events) => Outcome::Changed {
                        changes: self.changes(&events),
                        now: self.decisions(&events, None),
                    },
                    Err(e) => err(&e),
                };
                (summary, res)
            }
            Op::Suspend {
                suspend,
                user,
                reason,
                by,
            } => {
                let verb = if *suspend { "suspend" } else { "unsuspend" };
                let summary = format!(
                    "{verb} user {user} by {}{}",
                    actor_text(by),
                    reason_text(reason.as_deref())
                );
                let res = if *suspend {
                    self.engine.suspend_user(user, by, reason.as_deref())
                } else {
                    self.engine.unsuspend_user(user, by, reason.as_deref())
                };
                let res = match res {
                    Ok(events) => Outcome::Changed {
                        changes: self.changes(&events),
                        now: self.decisions(&events, None),
                    },
                    Err(e) => err(&e),
                };
                (summary, res)
            }
            Op::Register(reg) => {
                let summary = format!(
                    "register {} ({} of {}, {})",
                    reg.label,
                    reg.kind,
                    reg.user,
                    where_registered(reg)
                );
                let seq = self.engine.last_seq();
                let res = match self.register(reg) {
                    Ok(id) => {
                        // A device-user re-registration deletes the instance it replaces.
                        let replaced = self
                            .engine
                            .events()
                            .into_iter()
                            .filter(|e| e.seq > seq)
                            .find_map(|e| match e.action {
                                authlock::Action::Deleted {
                                    replaced_by: Some(new),
                                } if new == id => e.authenticator,
                                _ => None,
                            })
                            .map(|old| self.label_of(&old, None));
                        Outcome::Registered {
                            label: reg.label.clone(),
                            id,
                            replaced,
                            decision: None,
                        }
                    }
                    Err(message) => Outcome::Error { message },
                };
                (summary, res)
            }
            Op::FirstUse {
                label,
                user,
                kind,
                account,
                app,
                device,
            } => {
                let mut a = Attempt::in_app(app);
                if let Some(d) = device {
                    a = a.on_device(d);
                }
                let summary = format!(
                    "first sign-in of {user} with {kind} account {account} in {app}, as {label}"
                );
                let res = match self.engine.record_first_use(user, *kind, account, &a) {
                    Ok((id, o)) => {
                        self.name(label, id, &[]);
                        self.used.insert((*kind, None));
                        Outcome::Registered {
                            label: label.clone(),
                            id,
                            replaced: None,
                            decision: Some(o.decision),
                        }
                    }
                    Err(e) => err(&e),
                };
                (summary, res)
            }
            Op::Clock => (
                "clock set".to_string(),
                Outcome::Clock {
                    from,
                    to: self.clock.now(),
                },
            ),
            Op::Journey {
                journey,
                step,
                app,
                user,
                variables,
            } => self.journey(journey, step, app, user, variables),
            Op::HelpdeskUnlock {
                operator,
                account,
                authenticate_with,
                select,
                reason,
            } => self.helpdesk_unlock(operator, account, authenticate_with, select, reason),
        }
    }

    fn journey(
        &mut self,
        journey: &str,
        step_name: &str,
        app: &Option<String>,
        user: &Option<String>,
        variables: &Option<Value>,
    ) -> (String, Outcome) {
        let step = &self.plan.steps[step_name];
        let mut ctx = self
            .journeys
            .remove(journey)
            .unwrap_or_else(|| JourneyContext::new(journey, app.as_deref().unwrap_or("")));
        if let Some(a) = app {
            ctx.app = a.clone();
        }
        if let Some(u) = user {
            ctx.authenticated_user = Some(u.clone());
        }
        if let Some(Value::Object(vars)) = variables {
            for (k, v) in vars {
                let v = self.substitute(v);
                if let Value::Object(m) = &mut ctx.variables {
                    m.insert(k.clone(), v);
                }
            }
        }
        let summary = format!(
            "journey {journey}: \"{step_name}\" ({}) in {}, {}",
            step.config().kind_name(),
            ctx.app,
            ctx.authenticated_user
                .as_ref()
                .map_or("no user signed in".to_string(), |u| format!(
                    "signed in as {u}"
                ))
        );
        let before = ctx.variables.clone();
        let res = match step.run(&self.engine, &mut ctx) {
            Ok(r) => {
                let outcome = match &r.outcome {
                    StepOutcome::Continue => "continue",
                    StepOutcome::FailureBranch => "failure_branch",
                    StepOutcome::Abort { .. } => "abort",
                };
                Outcome::Journey {
                    step_type: step.config().kind_name().to_string(),
                    outcome: outcome.to_string(),
                    error: r.error.as_ref().map(|e| e.to_value()),
                    user: r.user.clone(),
                    changes: self.changes(&r.events),
                    written: written(&before, &ctx.variables),
                    report: r.report.clone().map(Box::new),
                }
            }
            Err(e) => Outcome::Error {
                message: e.to_string(),
            },
        };
        self.journeys.insert(journey.to_string(), ctx);
        (summary, res)
    }

    /// Replaces `@label` strings with the label's authenticator ID.
    fn substitute(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => match s.strip_prefix('@') {
                Some(rest) if rest.starts_with('@') => Value::String(rest.to_string()),
                Some(label) => self
                    .labels
                    .id(label)
                    .map_or_else(|| v.clone(), |id| Value::String(id.to_string())),
                None => v.clone(),
            },
            Value::Array(a) => Value::Array(a.iter().map(|x| self.substitute(x)).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), self.substitute(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn helpdesk_unlock(
        &mut self,
        operator: &str,
        account: &str,
        authenticate_with: &Option<String>,
        select: &Option<Vec<String>>,
        reason: &Option<String>,
    ) -> (String, Outcome) {
        let h = self
            .helpdesk
            .as_ref()
            .expect("the planner requires a helpdesk for helpdesk entries");
        let acc = self.accounts[account].clone();
        let summary = format!(
            "helpdesk unlock of {account} by operator {operator}{}",
            authenticate_with
                .as_ref()
                .map_or(String::new(), |m| format!(", user authenticated with {m}"))
        );
        let mut stages = Vec::new();
        let mut changes = Vec::new();
        let label_of_account = |a: &AccountRef| {
            self.accounts
                .iter()
                .find(|(_, x)| *x == a)
                .map_or_else(|| a.to_string(), |(l, _)| l.clone())
        };
        let refused = |stage: &str, e: &dyn std::fmt::Display| Stage {
            stage: stage.to_string(),
            ok: false,
            detail: format!("refused: {e}"),
        };
        let session = match h.begin_unlock(operator, &acc) {
            Ok(s) => {
                stages.push(Stage {
                    stage: "open dialog".into(),
                    ok: true,
                    detail: format!(
                        "session {}; enrolled: {}; {}; next page: {}",
                        s.session,
                        if s.enrolled.is_empty() {
                            "nothing".to_string()
                        } else {
                            s.enrolled.join(", ")
                        },
                        if s.may_skip_authentication {
                            "unrestricted mode: authentication may be skipped"
                        } else {
                            "restricted mode: the user must be authenticated"
                        },
                        match s.page {
                            authlock::helpdesk::DialogPage::Authenticate => "authenticate",
                            authlock::helpdesk::DialogPage::Unlock => "unlock",
                        }
                    ),
                });
                s.session
            }
            Err(e) => {
                stages.push(refused("open dialog", &e));
                return (summary, Outcome::Helpdesk { stages, changes });
            }
        };
        let cancel = |h: &Helpdesk| {
            let _ = h.cancel_unlock(operator, session);
        };
        if let Some(m) = authenticate_with {
            match h.authenticate_user(operator, session, m) {
                Ok(_) => stages.push(Stage {
                    stage: "authenticate user".into(),
                    ok: true,
                    detail: format!("authenticated with {m}"),
                }),
                Err(e) => {
                    stages.push(refused("authenticate user", &e));
                    cancel(h);
                    return (summary, Outcome::Helpdesk { stages, changes });
                }
            }
        }
        let page = match h.unlock_page(operator, session) {
            Ok(p) => {
                let linked: Vec<String> = p
                    .linked_locked
                    .iter()
                    .map(|s| label_of_account(&s.account))
                    .collect();
                stages.push(Stage {
                    stage: "unlock page".into(),
                    ok: true,
                    detail: format!(
                        "{} ({}) in store {}; last password change {}; {}; linked locked accounts: {}",
                        p.user,
                        p.display_name,
                        p.store,
                        p.last_password_change.map_or("never".to_string(), |t| {
                            crate::describe::Times::new(self.plan.start).fmt(t)
                        }),
                        if p.lock.locked {
                            format!("locked ({} failures counted)", p.lock.failures)
                        } else {
                            format!("not locked ({})", p.lock.status)
                        },
                        if linked.is_empty() {
                            "none".to_string()
                        } else {
                            linked.join(", ")
                        }
                    ),
                });
                p
            }
            Err(e) => {
                stages.push(refused("unlock page", &e));
                cancel(h);
                return (summary, Outcome::Helpdesk { stages, changes });
            }
        };
        let selected: Vec<AccountRef> = match select {
            Some(labels) => labels.iter().map(|l| self.accounts[l].clone()).collect(),
            None => {
                let mut v = Vec::new();
                if page.lock.locked {
                    v.push(acc.clone());
                }
                v.extend(page.linked_locked.iter().map(|s| s.account.clone()));
                v
            }
        };
        let names: Vec<String> = selected.iter().map(&label_of_account).collect();
        match h.unlock(operator, session, &selected, reason.as_deref()) {
            Ok(report) => {
                changes = self.changes(&report.events);
                stages.push(Stage {
                    stage: "unlock".into(),
                    ok: true,
                    detail: format!("unlocked {}", names.join(", ")),
                });
            }
            Err(e) => {
                stages.push(Stage {
                    stage: "unlock".into(),
                    ok: false,
                    detail: format!(
                        "refused{}: {e}",
                        if names.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", names.join(", "))
                        }
                    ),
                });
                cancel(h);
            }
        }
        (summary, Outcome::Helpdesk { stages, changes })
    }

    fn users(&self) -> Vec<UserReport> {
        self.plan
            .users
            .iter()
            .map(|u| user_report(&self.engine, &u.name, &self.labels))
            .collect()
    }

    fn policies(&self) -> Vec<PolicyLine> {
        let doc = self.engine.policies();
        self.used
            .iter()
            .map(|(kind, app)| {
                let policy = match app {
                    Some(a) => doc.policy(*kind, a),
                    None => doc.tenant_policy(*kind),
                };
                let app_override =
                    app.is_some() && policy.is_some() && policy != doc.tenant_policy(*kind);
                PolicyLine {
                    kind: *kind,
                    app: app.clone(),
                    app_override,
                    summary: policy.map_or_else(
                        || "no lockout policy (failures are not counted)".to_string(),
                        crate::describe::policy,
                    ),
                    policy: policy.cloned(),
                }
            })
            .collect()
    }
}

/// The top-level variables of `after` that are new or differ from `before`.
fn written(before: &Value, after: &Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Value::Object(m) = after {
        for (k, v) in m {
            if before.get(k) != Some(v) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// A user's view and history, with the scenario's labels.
pub fn user_report(engine: &Engine, user: &str, labels: &Labels) -> UserReport {
    let authenticators = engine
        .authenticators(user)
        .unwrap_or_default()
        .into_iter()
        .map(|view| LabeledView {
            labels: labels.of(&view.id),
            view,
        })
        .collect();
    UserReport {
        user: user.to_string(),
        suspended: engine.is_suspended(user).unwrap_or(false),
        identifiers: engine.identifiers(user).unwrap_or_default(),
        authenticators,
        history: engine.history(user),
    }
}

fn on(t: &Target) -> String {
    format!("{} in {}", t.label, t.app)
}

fn reason_text(r: Option<&str>) -> String {
    r.map_or(String::new(), |r| format!(", reason \"{r}\""))
}

/// An actor in words.
pub fn actor_text(a: &Actor) -> String {
    match a {
        Actor::User { id } => format!("user {id}"),
        Actor::Admin { id } => format!("admin {id}"),
        Actor::Helpdesk { operator } => format!("helpdesk {operator}"),
        Actor::Journey { journey, step } => format!("journey {journey}/{step}"),
        Actor::System => "system".to_string(),
    }
}

fn ident_kind(i: &Identifier) -> String {
    match &i.kind {
        authlock::IdentifierKind::Email => "email".into(),
        authlock::IdentifierKind::Phone => "phone".into(),
        authlock::IdentifierKind::Username => "username".into(),
        authlock::IdentifierKind::ExternalId => "external ID".into(),
        authlock::IdentifierKind::Custom(n) => n.clone(),
    }
}

fn where_registered(reg: &RegPlan) -> String {
    let mut s = format!("in {}", reg.apps.join(", "));
    if let Some(d) = &reg.device {
        s.push_str(&format!(" on {d}"));
    }
    s
}

/// The step type's name, for output.
trait KindName {
    fn kind_name(&self) -> &'static str;
}

impl KindName for authlock::journey::StepConfig {
    fn kind_name(&self) -> &'static str {
        use authlock::journey::StepKind;
        match self.kind {
            StepKind::LockAuthenticator => "lock_authenticator",
            StepKind::UnlockAuthenticator => "unlock_authenticator",
            StepKind::UserAuthenticators => "user_authenticators",
        }
    }
}
