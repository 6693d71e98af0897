//! The `authlock` command-line simulator: runs lockout scenarios against
//! the library, checks policy documents, and rebuilds a state from a
//! history. See `docs/SIMULATOR.md` for the scenario format.
//!
//! Exit status: 0 when the command did its work, 1 when an input file is
//! malformed or invalid (or `policy check` found errors), 2 for a command
//! line clap rejects. Errors go to standard error; a scenario with any
//! error prints nothing on standard output.

mod chart;
mod describe;
mod run;
mod scenario;
mod source;
mod text;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

use authlock::{
    AuthenticatorType, Engine, Error, FakeClock, Policy, PolicyDocument, Timestamp,
    history_from_json, history_to_json,
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::describe::Times;
use crate::source::{InputError, Source};

/// Simulates authenticator lockout policies, checks policy documents and
/// replays histories.
#[derive(Parser)]
#[command(name = "authlock", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a scenario (TOML or JSON) and prints each entry's decision,
    /// then every user's authenticators and history.
    Simulate(SimulateArgs),
    /// Policy documents.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Rebuilds the state from a history file and prints the view.
    Replay(ReplayArgs),
}

#[derive(Args)]
struct SimulateArgs {
    /// The scenario file.
    scenario: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    /// Also draw a chart of each authenticator's counter, throttle and lock
    /// over the scenario's time.
    #[arg(long)]
    timeline: bool,
    /// Use this policy document instead of the scenario's own policies.
    #[arg(long, value_name = "FILE")]
    policies: Option<String>,
    /// Write the engine's history to FILE (for `authlock replay`).
    #[arg(long, value_name = "FILE")]
    history_out: Option<String>,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validates a policy document and prints each error with its field
    /// (and line, for TOML), or the policies in force.
    Check(PolicyCheckArgs),
}

#[derive(Args)]
struct PolicyCheckArgs {
    /// The policy document (TOML or JSON).
    file: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
}

#[derive(Args)]
struct ReplayArgs {
    /// The history file (as written by `simulate --history-out`).
    history: String,
    /// The policy document the history was made with.
    #[arg(long, value_name = "FILE", conflicts_with = "scenario")]
    policies: Option<String>,
    /// Take the policies from this scenario file.
    #[arg(long, value_name = "FILE")]
    scenario: Option<String>,
    /// Show the state at this time (RFC 3339); the last event's time by default.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// Text for people.
    Text,
    /// JSON for scripts.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulate(a) => simulate(&a),
        Command::Policy(PolicyCommand::Check(a)) => policy_check(&a),
        Command::Replay(a) => replay(&a),
    };
    match result {
        Ok(code) => code,
        Err(errors) => {
            let mut err = std::io::stderr().lock();
            for e in &errors.list {
                let _ = writeln!(err, "error: {e}");
            }
            if let Some(s) = &errors.summary {
                let _ = writeln!(err, "error: {s}");
            }
            ExitCode::from(1)
        }
    }
}

/// Errors to print, and a closing sentence.
struct Failure {
    list: Vec<InputError>,
    summary: Option<String>,
}

impl From<InputError> for Failure {
    fn from(e: InputError) -> Failure {
        Failure {
            list: vec![e],
            summary: None,
        }
    }
}

fn print(text: &str) -> Result<ExitCode, Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| Failure::from(InputError::whole("standard output", e.to_string())))?;
    Ok(ExitCode::SUCCESS)
}

fn json<T: Serialize>(v: &T) -> Result<String, Failure> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| Failure::from(InputError::whole("output", e.to_string())))
}

fn read(path: &str) -> Result<Source, Failure> {
    Source::read(path).map_err(|m| Failure::from(InputError::whole(path, m)))
}

fn not_run(list: Vec<InputError>) -> Failure {
    let n = list.len();
    Failure {
        list,
        summary: Some(format!(
            "the scenario was not run ({n} problem{})",
            if n == 1 { "" } else { "s" }
        )),
    }
}

fn simulate(a: &SimulateArgs) -> Result<ExitCode, Failure> {
    let source = read(&a.scenario)?;
    let policies = match &a.policies {
        Some(p) => Some(read(p)?),
        None => None,
    };
    let plan = scenario::load(&source, policies.as_ref()).map_err(not_run)?;
    let report = run::run(&plan, a.timeline).map_err(|e| {
        not_run(vec![InputError::whole(
            &plan.file,
            format!("{}: the library refused it: {}", e.place, e.message),
        )])
    })?;
    let out = match a.format {
        OutputFormat::Text => text::report(&report),
        OutputFormat::Json => json(&report)?,
    };
    if let Some(path) = &a.history_out {
        std::fs::write(path, history_to_json(&report.tenant, &report.events) + "\n").map_err(
            |e| {
                Failure::from(InputError::whole(
                    path,
                    format!("cannot write the history: {e}"),
                ))
            },
        )?;
    }
    print(&out)
}

// ----- policy check ----------------------------------------------------------

#[derive(Serialize)]
struct PolicyCheck {
    file: String,
    valid: bool,
    errors: Vec<authlock::FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<String>,
    policies: Vec<PolicyEntry>,
}

#[derive(Serialize)]
struct PolicyEntry {
    #[serde(rename = "type")]
    kind: AuthenticatorType,
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<String>,
    is_default: bool,
    summary: String,
    policy: Option<Policy>,
}

/// serde_json ends its messages with " at line L column C".
fn json_line(message: &str) -> Option<(usize, usize)> {
    let i = message.rfind(" at line ")?;
    let rest = &message[i + " at line ".len()..];
    let (l, c) = rest.split_once(" column ")?;
    Some((l.trim().parse().ok()?, c.trim().parse().ok()?))
}

fn policy_check(a: &PolicyCheckArgs) -> Result<ExitCode, Failure> {
    let src = read(&a.file)?;
    let (valid, errors, doc) = match PolicyDocument::parse(&src.text) {
        Ok(doc) => (true, Vec::new(), Some(doc)),
        Err(Error::Policy(errs)) => {
            let mut errs = errs.0;
            for e in &mut errs {
                if e.line.is_none() {
                    e.line = json_line(&e.message).map(|(l, _)| l as u32);
                }
            }
            (false, errs, None)
        }
        Err(other) => return Err(InputError::whole(&a.file, other.to_string()).into()),
    };
    let mut policies = Vec::new();
    if let Some(doc) = &doc {
        for kind in AuthenticatorType::ALL {
            let p = doc.tenant_policy(kind);
            policies.push(PolicyEntry {
                kind,
                app: None,
                is_default: p == Policy::default_for(kind).as_ref(),
                summary: p.map_or_else(
                    || "no lockout policy (failures are not counted)".into(),
                    describe::policy,
                ),
                policy: p.cloned(),
            });
        }
        for (app, kind, p) in doc.overrides() {
            policies.push(PolicyEntry {
                kind,
                app: Some(app.to_string()),
                is_default: false,
                summary: describe::policy(p),
                policy: Some(p.clone()),
            });
        }
    }
    let check = PolicyCheck {
        file: a.file.clone(),
        valid,
        errors,
        tenant: doc.as_ref().map(|d| d.tenant().to_string()),
        policies,
    };
    match a.format {
        OutputFormat::Json => {
            print(&json(&check)?)?;
        }
        OutputFormat::Text if valid => {
            let mut out = format!(
                "{}: valid policy document for tenant {}\n\nPolicies in force\n",
                a.file,
                check.tenant.as_deref().unwrap_or("default")
            );
            for p in &check.policies {
                let what = match &p.app {
                    Some(app) => format!("{} in {app}", p.kind),
                    None => p.kind.to_string(),
                };
                let line = format!(
                    "  {what:<22}{}{}",
                    p.summary,
                    if p.is_default { " (default)" } else { "" }
                );
                out.push_str(&describe::wrap(&line, text::WIDTH, 24));
                out.push('\n');
            }
            print(&out)?;
        }
        OutputFormat::Text => {
            let list = check
                .errors
                .iter()
                .map(|e| {
                    let at = e.line.map(|l| (l as usize, 1));
                    let place = (!e.field.is_empty()).then(|| e.field.clone());
                    let message = match json_line(&e.message) {
                        Some(_) => e.message
                            [..e.message.rfind(" at line ").unwrap_or(e.message.len())]
                            .to_string(),
                        None => e.message.clone(),
                    };
                    let mut ie = InputError::at_line(&src, at, place, message);
                    // The line is known, the column is not: show the line without a caret.
                    ie.snippet = ie
                        .snippet
                        .map(|s| s.lines().next().unwrap_or_default().to_string());
                    ie
                })
                .collect::<Vec<_>>();
            let n = list.len();
            return Err(Failure {
                list,
                summary: Some(format!(
                    "{}: invalid policy document ({n} error{})",
                    a.file,
                    if n == 1 { "" } else { "s" }
                )),
            });
        }
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

// ----- replay ----------------------------------------------------------------

#[derive(Serialize)]
struct ReplayReport {
    history: String,
    tenant: String,
    events: usize,
    at: Timestamp,
    users: Vec<run::UserReport>,
}

fn replay(a: &ReplayArgs) -> Result<ExitCode, Failure> {
    let src = read(&a.history)?;
    let (tenant, events) = history_from_json(&src.text)
        .map_err(|e| Failure::from(InputError::whole(&a.history, e.to_string())))?;
    let policies = if let Some(p) = &a.policies {
        let psrc = read(p)?;
        PolicyDocument::parse(&psrc.text).map_err(|e| match e {
            Error::Policy(errs) => Failure {
                list: errs
                    .0
                    .into_iter()
                    .map(|fe| {
                        let place = (!fe.field.is_empty()).then(|| fe.field.clone());
                        InputError::at_line(
                            &psrc,
                            fe.line.map(|l| (l as usize, 1)),
                            place,
                            fe.message,
                        )
                    })
                    .collect(),
                summary: Some(format!("{p}: invalid policy document")),
            },
            other => Failure::from(InputError::whole(p, other.to_string())),
        })?
    } else if let Some(s) = &a.scenario {
        let ssrc = read(s)?;
        scenario::load(&ssrc, None)
            .map_err(|list| Failure {
                list,
                summary: Some(format!("{s}: invalid scenario")),
            })?
            .policies
    } else {
        let mut d = PolicyDocument::new();
        d.set_tenant(&tenant)
            .map_err(|e| Failure::from(InputError::whole(&a.history, e.to_string())))?;
        d
    };
    if policies.tenant() != tenant {
        return Err(InputError::whole(
            &a.history,
            format!(
                "the history is of tenant `{tenant}`, the policies are of tenant `{}`",
                policies.tenant()
            ),
        )
        .into());
    }
    let at = match &a.at {
        Some(s) => {
            Timestamp::parse_rfc3339(s).map_err(|m| Failure::from(InputError::whole("--at", m)))?
        }
        None => events.last().map_or(Timestamp::EPOCH, |e| e.time),
    };
    let engine = Engine::builder(policies)
        .clock(FakeClock::at(at))
        .replay(&events)
        .map_err(|e| Failure::from(InputError::whole(&a.history, e.to_string())))?;
    let users: BTreeSet<String> = events.iter().map(|e| e.user.to_string()).collect();
    let names = run::Labels::default();
    let users: Vec<run::UserReport> = users
        .iter()
        .map(|u| run::user_report(&engine, u, &names))
        .collect();
    let report = ReplayReport {
        history: a.history.clone(),
        tenant,
        events: events.len(),
        at,
        users,
    };
    let out = match a.format {
        OutputFormat::Json => json(&report)?,
        OutputFormat::Text => {
            let t = Times::new(events.first().map_or(at, |e| e.time));
            let mut out = format!(
                "Replayed {} events of tenant {} from {}; the state at {}\n\nAuthenticators\n",
                report.events,
                report.tenant,
                report.history,
                Times::full(at)
            );
            for u in &report.users {
                text::user_view(&mut out, u, &t);
            }
            out.push_str("\nHistory\n");
            for u in &report.users {
                text::user_history(&mut out, u, &t, &names);
            }
            out
        }
    };
    print(&out)
}
