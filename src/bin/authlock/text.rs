//! The text output of `simulate` and `replay`: at most 100 columns wide,
//! plain ASCII apart from the scenario's own text.

use std::time::Duration;

use authlock::{Action, AppDetail, Event, LockKind, Status, format_duration};
use serde_json::Value;

use crate::describe::{Times, decision, wrap};
use crate::run::{Change, EntryReport, Labels, Outcome, Report, UserReport, actor_text};

/// The page width the text output keeps to.
pub const WIDTH: usize = 100;

/// The whole report as text.
pub fn report(r: &Report) -> String {
    let t = Times::new(r.scenario.start);
    let mut out = String::new();
    out.push_str(&format!(
        "Scenario {} ({})\n",
        r.scenario.name, r.scenario.file
    ));
    if let Some(d) = &r.scenario.description {
        out.push('\n');
        for para in d.trim().split("\n\n") {
            out.push_str(&wrap(para, WIDTH, 0));
            out.push_str("\n\n");
        }
    } else {
        out.push('\n');
    }
    out.push_str(&wrap(
        &format!(
            "Start {}, tenant {}, authenticator ID seed {}. Times are UTC; a time on another day than the start shows its date.",
            Times::full(r.scenario.start),
            r.scenario.tenant,
            r.scenario.seed
        ),
        WIDTH,
        0,
    ));
    out.push_str("\n\n");

    out.push_str("Policies in force\n");
    if r.policies.is_empty() {
        out.push_str("  (no authenticator is registered)\n");
    }
    let rows: Vec<(String, String)> = r
        .policies
        .iter()
        .map(|p| {
            let what = match &p.app {
                Some(app) if p.app_override => format!("{} in {app} (app override)", p.kind),
                Some(app) => format!("{} in {app}", p.kind),
                None => format!("{} (every app)", p.kind),
            };
            (what, p.summary.clone())
        })
        .collect();
    let w = rows.iter().map(|(a, _)| a.len()).max().unwrap_or(0).min(40);
    for (what, summary) in rows {
        let head = format!("  {what:<w$}  ");
        let indent = if head.len() > 44 { 6 } else { head.len() };
        let first = if head.len() > 44 {
            out.push_str(head.trim_end());
            out.push('\n');
            " ".repeat(indent)
        } else {
            head
        };
        out.push_str(&wrap(&format!("{first}{summary}"), WIDTH, indent));
        out.push('\n');
    }
    out.push('\n');

    if !r.setup.is_empty() {
        out.push_str("Registered at the start\n");
        let w = r
            .setup
            .iter()
            .map(|s| s.label.len())
            .max()
            .unwrap_or(0)
            .min(24);
        for s in &r.setup {
            let line = format!(
                "  {:<w$}  {} of {}, {}; id {}",
                s.label, s.kind, s.user, s.registered, s.id
            );
            out.push_str(&wrap(&line, WIDTH, w + 4));
            out.push('\n');
        }
        out.push('\n');
    }

    out.push_str("Timeline\n");
    if r.entries.is_empty() {
        out.push_str("  (no entries)\n");
    }
    for e in &r.entries {
        entry(&mut out, e, &t);
    }
    out.push('\n');

    if let Some(chart) = &r.chart {
        out.push_str(&crate::chart::render(chart, &t));
        out.push('\n');
    }

    out.push_str(&format!("Authenticators at the end ({})\n", t.fmt(r.end)));
    for u in &r.users {
        user_view(&mut out, u, &t);
    }
    out.push('\n');
    out.push_str("History\n");
    for u in &r.users {
        user_history(&mut out, u, &t, &r.labels);
    }
    if let Some(log) = &r.helpdesk_log {
        out.push('\n');
        out.push_str("Helpdesk log\n");
        if log.is_empty() {
            out.push_str("  (empty)\n");
        }
        for h in log {
            let what = match &h.action {
                authlock::helpdesk::HelpdeskAction::UserAuthenticated { method } => {
                    format!("user authenticated with {method}")
                }
                authlock::helpdesk::HelpdeskAction::AuthenticationSkipped => {
                    "authentication skipped (unrestricted mode)".to_string()
                }
                authlock::helpdesk::HelpdeskAction::AccountsUnlocked { accounts, events } => {
                    let names: Vec<String> = accounts
                        .iter()
                        .map(|a| format!("{} in {}", a.user, a.store))
                        .collect();
                    let evs: Vec<String> = events.iter().map(|n| format!("#{n}")).collect();
                    format!("unlocked {} (events {})", names.join(", "), evs.join(", "))
                }
            };
            let line = format!(
                "  {}. {} operator {}, session {}, account {} in {}: {what}",
                h.seq,
                t.fmt(h.time),
                h.operator,
                h.session,
                h.account.user,
                h.account.store
            );
            out.push_str(&wrap(&line, WIDTH, 6));
            out.push('\n');
        }
    }
    out
}

fn entry(out: &mut String, e: &EntryReport, t: &Times) {
    let num = format!("{:>3}", format!("#{}", e.entry));
    let mut head = format!("{num}  {}  ", t.fmt(e.at));
    let indent = 7;
    if let Some(ms) = e.clock_back_ms {
        head.push_str(&format!(
            "(clock moved back {}) ",
            format_duration(Duration::from_millis(ms as u64))
        ));
    }
    head.push_str(&e.summary);
    out.push_str(&wrap(&head, WIDTH, indent + 2));
    out.push('\n');
    let pad = " ".repeat(indent);
    if let Some(n) = &e.note {
        out.push_str(&wrap(&format!("{pad}-- {n}"), WIDTH, indent + 3));
        out.push('\n');
    }
    for line in result_lines(e, t) {
        out.push_str(&wrap(&format!("{pad}{line}"), WIDTH, indent + 3));
        out.push('\n');
    }
}

fn counted(failures: u32, max: Option<u32>) -> String {
    match max {
        Some(m) => format!("{failures}/{m}"),
        None => failures.to_string(),
    }
}

fn result_lines(e: &EntryReport, t: &Times) -> Vec<String> {
    match &e.result {
        Outcome::Attempt {
            accepted,
            counted: was_counted,
            failures,
            max_failures,
            reservation,
            decision: d,
        } => {
            let d = decision(d, t);
            let n = counted(*failures, *max_failures);
            let r = reservation.clone().unwrap_or_default();
            let line = if !accepted {
                format!("=> refused, not counted: {d}")
            } else {
                match (e.action.as_str(), was_counted) {
                    ("failure", true) => format!("=> failure counted ({n}) -> {d}"),
                    ("failure", false) => format!(
                        "=> same wrong secret as a failure still counted: not counted again ({n}) -> {d}"
                    ),
                    ("reserve", true) => {
                        format!("=> {r} reserved: failure counted before verification ({n}) -> {d}")
                    }
                    ("reserve", false) => format!(
                        "=> {r} reserved: same wrong secret as a failure still counted, not counted again ({n}) -> {d}"
                    ),
                    ("commit", _) if e.summary.ends_with("as success") => {
                        format!("=> {r} was right: its reserved failure is refunded ({n}) -> {d}")
                    }
                    ("commit", _) => {
                        format!("=> {r} was wrong: its reserved failure stays counted ({n}) -> {d}")
                    }
                    _ if max_failures.is_none() => format!("=> success -> {d}"),
                    _ => format!("=> success: counter cleared ({n}) -> {d}"),
                }
            };
            vec![line]
        }
        Outcome::Check { decision: d } => vec![format!("=> {}", decision(d, t))],
        Outcome::Changed { changes, now } => {
            let mut v = change_lines(changes);
            for d in now {
                let what = match (&d.decision, &d.error) {
                    (Some(x), _) => decision(x, t),
                    (None, Some(err)) => format!("error: {err}"),
                    (None, None) => String::new(),
                };
                v.push(format!("   now {} in {}: {what}", d.label, d.app));
            }
            v
        }
        Outcome::Registered {
            label,
            id,
            replaced,
            decision: d,
        } => {
            let mut line = format!("=> registered {label} as {id}");
            if let Some(old) = replaced {
                line.push_str(&format!("; it replaces {old}, which is now deleted"));
            }
            if let Some(d) = d {
                line.push_str(&format!("; success recorded -> {}", decision(d, t)));
            }
            vec![line]
        }
        Outcome::Clock { from, to } => {
            let ms = to.as_millis() - from.as_millis();
            let d = format_duration(Duration::from_millis(ms.unsigned_abs()));
            vec![match ms {
                0 => format!("=> the clock stays at {}", t.fmt(*to)),
                m if m < 0 => format!(
                    "=> the clock goes back {d}, from {} to {}",
                    t.fmt(*from),
                    t.fmt(*to)
                ),
                _ => format!(
                    "=> the clock moves forward {d}, from {} to {}",
                    t.fmt(*from),
                    t.fmt(*to)
                ),
            }]
        }
        Outcome::Journey {
            outcome,
            error,
            user,
            changes,
            written,
            report,
            ..
        } => {
            let message = error
                .as_ref()
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let mut v = vec![match outcome.as_str() {
                "continue" => format!(
                    "=> continue{}",
                    user.as_ref()
                        .map_or(String::new(), |u| format!(" (user {u})"))
                ),
                "failure_branch" => format!("=> failure branch: {message}"),
                _ => format!("=> abort; the client is sent: {message}"),
            }];
            if !changes.is_empty() {
                v.extend(change_lines(changes));
            }
            if let Value::Object(m) = written {
                for (k, val) in m {
                    v.push(fit(&format!("   wrote {k} = "), &val.to_string()));
                }
            }
            if let Some(r) = report {
                let data = r
                    .payload
                    .as_ref()
                    .or(r.output.as_ref())
                    .map_or("{}".to_string(), Value::to_string);
                v.push(fit("   journey event recorded: ", &data));
            }
            v
        }
        Outcome::Helpdesk { stages, changes } => {
            let mut v: Vec<String> = stages
                .iter()
                .map(|s| {
                    format!(
                        "{} {}: {}",
                        if s.ok { "=>" } else { "=x" },
                        s.stage,
                        s.detail
                    )
                })
                .collect();
            v.extend(change_lines(changes));
            v
        }
        Outcome::Error { message } => vec![format!("=> error: {message}")],
    }
}

/// `head` then `value`, cut with `...` to fit the page after the entry
/// indent (7) when `value` is one unbreakable token.
fn fit(head: &str, value: &str) -> String {
    let room = WIDTH.saturating_sub(7 + head.chars().count());
    if value.chars().count() <= room {
        format!("{head}{value}")
    } else {
        let cut: String = value.chars().take(room.saturating_sub(3)).collect();
        format!("{head}{cut}...")
    }
}

fn change_lines(changes: &[Change]) -> Vec<String> {
    if changes.is_empty() {
        return vec!["=> nothing changed".to_string()];
    }
    changes
        .iter()
        .map(|c| {
            format!(
                "=> {}{}: {}{}",
                c.label,
                c.app.as_ref().map_or(String::new(), |a| format!(" in {a}")),
                c.action,
                status_change(c.before, c.after)
            )
        })
        .collect()
}

fn status_change(before: Option<Status>, after: Option<Status>) -> String {
    let s = |x: Option<Status>| x.map_or("-".to_string(), |s| s.to_string());
    if before == after {
        String::new()
    } else {
        format!(" ({} -> {})", s(before), s(after))
    }
}

fn detail_text(d: &AppDetail, t: &Times) -> String {
    let mut parts = vec![format!("registered {}", t.fmt(d.registered_at))];
    parts.push(match d.last_success {
        Some(s) => format!("last success {}", t.fmt(s)),
        None => "never used successfully".to_string(),
    });
    let state = match d.lock_kind {
        Some(kind) => {
            let who = match kind {
                LockKind::Policy => "locked by policy".to_string(),
                LockKind::Manual => match &d.lock_reason {
                    Some(r) => format!("locked by hand (\"{r}\")"),
                    None => "locked by hand".to_string(),
                },
            };
            match d.lock_expires_at {
                Some(u) => format!("{who} until {}", t.fmt(u)),
                None => format!("{who} until unlocked"),
            }
        }
        None => d.status.to_string(),
    };
    let state = if d.status == Status::Deactivated && d.lock_kind.is_some() {
        format!("deactivated (and {state})")
    } else {
        state
    };
    parts.push(state);
    if d.failures > 0 {
        parts.push(format!(
            "{} failure{} counted",
            d.failures,
            if d.failures == 1 { "" } else { "s" }
        ));
    }
    if let Some(u) = d.throttled_until {
        parts.push(format!("throttled until {}", t.fmt(u)));
    }
    format!("{}: {}", d.app, parts.join(", "))
}

/// One user's authenticator view.
pub fn user_view(out: &mut String, u: &UserReport, t: &Times) {
    let mut head = format!("  {}", u.user);
    if u.suspended {
        head.push_str(" (suspended)");
    }
    if !u.identifiers.is_empty() {
        let ids: Vec<String> = u
            .identifiers
            .iter()
            .map(|i| {
                let kind = match &i.kind {
                    authlock::IdentifierKind::Email => "email".to_string(),
                    authlock::IdentifierKind::Phone => "phone".to_string(),
                    authlock::IdentifierKind::Username => "username".to_string(),
                    authlock::IdentifierKind::ExternalId => "external ID".to_string(),
                    authlock::IdentifierKind::Custom(n) => n.clone(),
                };
                format!("{kind} {}", i.value)
            })
            .collect();
        head.push_str(&format!(": {}", ids.join(", ")));
    }
    out.push_str(&wrap(&head, WIDTH, 6));
    out.push('\n');
    if u.authenticators.is_empty() {
        out.push_str("    (no authenticators)\n");
    }
    for a in &u.authenticators {
        let v = &a.view;
        let name = if a.labels.is_empty() {
            v.id.to_string()
        } else {
            a.labels.join(" = ")
        };
        let status = format!("{:?}", v.status).to_lowercase();
        let mut line = format!("    {name}: {} ({}", v.kind, scope_text(v.scope));
        if let Some(d) = &v.device {
            line.push_str(&format!(", device {d}"));
        }
        if let Some(i) = &v.identifier {
            line.push_str(&format!(", {i}"));
        }
        line.push_str(&format!(") {status}"));
        if v.multiple_apps {
            line.push_str(", multiple apps");
        }
        out.push_str(&wrap(&line, WIDTH, 8));
        out.push('\n');
        let mut facts = Vec::new();
        if !a.labels.is_empty() {
            facts.push(format!("id {}", v.id));
        }
        match (&v.last_login, &v.last_app) {
            (Some(at), Some(app)) => facts.push(format!(
                "last login {} in {app}{}",
                t.fmt(*at),
                v.last_device
                    .as_ref()
                    .map_or(String::new(), |d| format!(" on {d}"))
            )),
            _ => facts.push("no login yet".to_string()),
        }
        if let Some(k) = &v.public_key {
            facts.push(format!("public key {k}"));
        }
        out.push_str(&wrap(&format!("      {}", facts.join("; ")), WIDTH, 8));
        out.push('\n');
        if v.apps.is_empty() {
            out.push_str("      not used in any app yet\n");
        }
        for d in &v.apps {
            out.push_str(&wrap(&format!("      {}", detail_text(d, t)), WIDTH, 8));
            out.push('\n');
        }
    }
}

fn scope_text(s: authlock::Scope) -> &'static str {
    match s {
        authlock::Scope::GlobalUser => "global-user",
        authlock::Scope::AppUser => "app-user",
        authlock::Scope::DeviceUser => "device-user",
    }
}

/// One user's history.
pub fn user_history(out: &mut String, u: &UserReport, t: &Times, labels: &Labels) {
    let h = &u.history;
    let by_others: Vec<&Event> = h.by_user.iter().filter(|e| *e.user != *u.user).collect();
    out.push_str(&format!(
        "  {}: {} event{} on the user{}\n",
        u.user,
        h.on_user.len(),
        if h.on_user.len() == 1 { "" } else { "s" },
        if by_others.is_empty() {
            String::new()
        } else {
            format!(", {} by the user on others", by_others.len())
        }
    ));
    for e in &h.on_user {
        out.push_str(&event_line(e, t, labels));
        out.push('\n');
    }
    if !by_others.is_empty() {
        out.push_str("    by the user on others:\n");
        for e in by_others {
            out.push_str(&event_line(e, t, labels));
            out.push('\n');
        }
    }
}

fn event_line(e: &Event, t: &Times, labels: &Labels) -> String {
    let what = match &e.action {
        Action::Registered(r) => match &r.device {
            Some(d) => format!("registered {} on {d}", r.kind),
            None => format!("registered {}", r.kind),
        },
        Action::Failure { counted, .. } => {
            if *counted {
                "failure".to_string()
            } else {
                "failure (repeated secret, not counted)".to_string()
            }
        }
        Action::Success { .. } => "success".to_string(),
        Action::Reserved {
            reservation,
            counted,
            ..
        } => {
            if *counted {
                format!("reserved #{reservation}")
            } else {
                format!("reserved #{reservation} (repeated secret, not counted)")
            }
        }
        Action::Committed {
            reservation,
            success,
            ..
        } => format!(
            "committed #{reservation} as {}",
            if *success { "success" } else { "failure" }
        ),
        Action::Locked { lock, until } => {
            let who = match lock {
                LockKind::Policy => "locked by policy",
                LockKind::Manual => "locked by hand",
            };
            match until {
                Some(u) => format!("{who} until {}", t.fmt(*u)),
                None => format!("{who} until unlocked"),
            }
        }
        Action::Unlocked { cleared_lock } => {
            if *cleared_lock {
                "unlocked".to_string()
            } else {
                "unlocked (counter reset; it was not locked)".to_string()
            }
        }
        Action::Deleted { replaced_by } => match replaced_by {
            Some(_) => "deleted (replaced by a new registration)".to_string(),
            None => "deleted".to_string(),
        },
        Action::IdentifierAdded { identifier } => {
            format!("identifier added: {}", identifier.value)
        }
        other => other.name().replace('_', " "),
    };
    let subject = match &e.authenticator {
        Some(id) => labels.for_app(id, e.app.as_deref()),
        None => format!("user {}", e.user),
    };
    let mut line = format!(
        "    #{:<3} {}  {}{} by {}: {what}{}",
        e.seq,
        t.fmt(e.time),
        subject,
        e.app.as_ref().map_or(String::new(), |a| format!(" in {a}")),
        actor_text(&e.actor),
        status_change(e.before, e.after)
    );
    if let Some(r) = &e.reason {
        line.push_str(&format!(", reason \"{r}\""));
    }
    wrap(&line, WIDTH, 10)
}
