//! Words for policies, decisions and times, shared by every text output.

use authlock::{Decision, LockKind, Lockout, Policy, Timestamp, format_duration};

/// A policy in one line: `5 failures within 15m -> locked 5m, x2 each time
/// up to 1h; throttle after 3: 30s`.
pub fn policy(p: &Policy) -> String {
    let mut s = format!(
        "{} failure{}",
        p.max_failures,
        if p.max_failures == 1 { "" } else { "s" }
    );
    if let Some(w) = p.failure_window {
        s.push_str(&format!(" within {}", format_duration(w)));
    }
    s.push_str(" -> ");
    match &p.lockout {
        Lockout::UntilUnlocked => s.push_str("locked until unlocked"),
        Lockout::Temporary {
            duration,
            factor,
            increment,
            max_duration,
        } => {
            s.push_str(&format!("locked {}", format_duration(*duration)));
            if *factor > 1 {
                s.push_str(&format!(", x{factor} each time"));
            }
            if !increment.is_zero() {
                s.push_str(&format!(", +{} each time", format_duration(*increment)));
            }
            if let Some(cap) = max_duration
                && (*factor > 1 || !increment.is_zero())
            {
                s.push_str(&format!(" up to {}", format_duration(*cap)));
            }
            if let Some(n) = p.max_temporary_lockouts {
                s.push_str(&format!(
                    "; after {n} temporary lockout{} the next is until unlocked",
                    if n == 1 { "" } else { "s" }
                ));
            }
        }
    }
    if !p.throttle.is_empty() {
        let steps: Vec<String> = p
            .throttle
            .iter()
            .map(|t| format!("{}: {}", t.after_failures, format_duration(t.delay)))
            .collect();
        s.push_str(&format!("; throttle after {}", steps.join(", ")));
    }
    s
}

/// Formats times relative to the scenario's start date: `09:00:30` on the
/// start date, `2026-01-06 09:00:30` on another; milliseconds only when
/// there are some.
#[derive(Clone, Copy)]
pub struct Times {
    start_date: i64,
}

const DAY_MS: i64 = 86_400_000;

impl Times {
    /// Times for a scenario starting at `start`.
    pub fn new(start: Timestamp) -> Times {
        Times {
            start_date: start.as_millis().div_euclid(DAY_MS),
        }
    }

    /// The time, short.
    pub fn fmt(&self, t: Timestamp) -> String {
        let full = t.to_string(); // 2026-01-05T09:00:30.000Z
        let (date, rest) = full.split_once('T').unwrap_or((&full, ""));
        let rest = rest.trim_end_matches('Z');
        let rest = rest.strip_suffix(".000").unwrap_or(rest);
        if t.as_millis().div_euclid(DAY_MS) == self.start_date {
            rest.to_string()
        } else {
            format!("{date} {rest}")
        }
    }

    /// The time, in full (`2026-01-05 09:00:30 UTC`).
    pub fn full(t: Timestamp) -> String {
        let full = t.to_string();
        let s = full.replacen('T', " ", 1);
        let s = s.trim_end_matches('Z');
        let s = s.strip_suffix(".000").unwrap_or(s);
        format!("{s} UTC")
    }
}

/// A decision in words: `allowed`, `throttled until 09:01:00`, `locked
/// (policy) until 09:15:00`, `locked by hand ("reason") until unlocked`.
pub fn decision(d: &Decision, t: &Times) -> String {
    match d {
        Decision::Allowed => "allowed".into(),
        Decision::Throttled { retry_at } => format!("throttled until {}", t.fmt(*retry_at)),
        Decision::Locked {
            lock,
            until,
            reason,
        } => {
            let who = match lock {
                LockKind::Policy => "locked by policy".to_string(),
                LockKind::Manual => match reason {
                    Some(r) => format!("locked by hand (\"{r}\")"),
                    None => "locked by hand".to_string(),
                },
            };
            match until {
                Some(u) => format!("{who} until {}", t.fmt(*u)),
                None => format!("{who} until unlocked"),
            }
        }
        Decision::Deactivated => "deactivated".into(),
        Decision::Deleted => "deleted".into(),
    }
}

/// Wraps `text` to `width` columns at spaces, keeping its own spacing;
/// every line after the first is indented by `indent` spaces. Newlines in
/// `text` count as spaces.
pub fn wrap(text: &str, width: usize, indent: usize) -> String {
    let text = text.replace('\n', " ");
    let mut out = String::new();
    let pad = " ".repeat(indent);
    let mut col = 0;
    let mut rest = text.as_str();
    let mut first = true;
    while !rest.is_empty() {
        let word_at = rest.len() - rest.trim_start_matches(' ').len();
        let sep = &rest[..word_at];
        rest = &rest[word_at..];
        let word_len = rest.find(' ').unwrap_or(rest.len());
        let word = &rest[..word_len];
        rest = &rest[word_len..];
        if word.is_empty() {
            break;
        }
        let len = word.chars().count();
        if !first && col + sep.len() + len > width && col > indent {
            out.push('\n');
            out.push_str(&pad);
            col = indent;
        } else {
            out.push_str(sep);
            col += sep.len();
        }
        out.push_str(word);
        col += len;
        first = false;
    }
    out
}
