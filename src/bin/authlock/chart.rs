//! The `--timeline` chart: one row per authenticator instance, one column
//! per slice of the scenario's time, each cell the most severe state the
//! instance was in during that slice.
//!
//! The horizontal axis is the scenario's elapsed time: the time between
//! entries when the clock moves forward, and nothing when it moves back
//! (those entries are marked `<` under the chart). States are read from the
//! engine's authenticator view, which changes nothing: right after each
//! entry, and at the start of every column, with the clock set to that
//! column's time and put back before the next entry runs.

use std::collections::{BTreeMap, BTreeSet};

use authlock::{AppDetail, AuthenticatorId, Engine, FakeClock, LockKind, Scope, Status, Timestamp};

use crate::run::Labels;
use serde::Serialize;

use crate::describe::Times;
use crate::scenario::{Op, Plan};

/// The widest the chart's cell area gets, in columns.
pub const MAX_COLUMNS: i64 = 72;
/// The width of the row labels.
const LABEL_WIDTH: usize = 22;

/// The chart, ready to print or serialise.
#[derive(Serialize)]
pub struct Chart {
    /// How much scenario time one column covers, in milliseconds.
    pub column_ms: i64,
    /// The number of columns.
    pub columns: usize,
    /// The time at the left edge.
    pub from: Timestamp,
    /// The time of the last entry.
    pub to: Timestamp,
    /// One row per authenticator instance.
    pub rows: Vec<Row>,
    /// Under the chart: `^` where entries happen, `<` where the clock went back.
    pub marks: String,
    /// The time at the start of some columns: (column, time).
    pub ticks: Vec<(usize, Timestamp)>,
}

/// One instance's row.
#[derive(Serialize)]
pub struct Row {
    /// The label.
    pub label: String,
    /// The app (none for a global-user authenticator).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// One character per column (see the legend).
    pub cells: String,
}

type Key = (AuthenticatorId, Option<String>);

/// Collects the samples while the scenario runs.
pub struct Sampler {
    column_ms: i64,
    columns: usize,
    /// Scenario time of the setup (0) and of each entry.
    s: Vec<i64>,
    /// Host time of the setup and of each entry.
    host: Vec<Timestamp>,
    cells: BTreeMap<Key, Vec<char>>,
    order: Vec<Key>,
    alive: BTreeSet<Key>,
}

/// The smallest round column size that fits `total` in [`MAX_COLUMNS`].
fn column_size(total: i64) -> i64 {
    const S: i64 = 1000;
    const M: i64 = 60 * S;
    const H: i64 = 60 * M;
    const D: i64 = 24 * H;
    let fits = |c: i64| total / c < MAX_COLUMNS;
    [
        S,
        2 * S,
        5 * S,
        10 * S,
        15 * S,
        30 * S,
        M,
        2 * M,
        5 * M,
        10 * M,
        15 * M,
        30 * M,
        H,
        2 * H,
        3 * H,
        6 * H,
        12 * H,
        D,
        2 * D,
        7 * D,
        14 * D,
        30 * D,
    ]
    .into_iter()
    .find(|c| fits(*c))
    .unwrap_or_else(|| (total / (MAX_COLUMNS - 1)).max(1) + 1)
}

/// How severe a cell is: the chart shows the most severe state of a column.
fn rank(c: char) -> u8 {
    match c {
        ' ' => 0,
        '.' => 1,
        '1'..='9' => 2 + (c as u8 - b'1'),
        '+' => 11,
        '~' => 12,
        'L' => 13,
        'U' => 14,
        'M' => 15,
        'D' => 16,
        'x' => 17,
        _ => 0,
    }
}

fn cell(d: &AppDetail) -> char {
    if d.status == Status::Deactivated {
        return 'D';
    }
    match (d.lock_kind, d.lock_expires_at) {
        (Some(LockKind::Manual), _) => return 'M',
        (Some(LockKind::Policy), None) => return 'U',
        (Some(LockKind::Policy), Some(_)) => return 'L',
        (None, _) => {}
    }
    if d.throttled_until.is_some() {
        return '~';
    }
    match d.failures {
        0 => '.',
        n @ 1..=9 => char::from(b'0' + n as u8),
        _ => '+',
    }
}

impl Sampler {
    /// A sampler for `plan`'s time span.
    pub fn new(plan: &Plan) -> Sampler {
        let mut s = vec![0i64];
        let mut host = vec![plan.start];
        for e in &plan.entries {
            let prev_host = *host.last().expect("not empty");
            let prev_s = *s.last().expect("not empty");
            s.push(prev_s + (e.at.as_millis() - prev_host.as_millis()).max(0));
            host.push(e.at);
        }
        let total = *s.last().expect("not empty");
        let column_ms = column_size(total);
        let columns = (total / column_ms + 1) as usize;
        Sampler {
            column_ms,
            columns,
            s,
            host,
            cells: BTreeMap::new(),
            order: Vec::new(),
            alive: BTreeSet::new(),
        }
    }

    fn record(&mut self, engine: &Engine, plan: &Plan, at_s: i64) {
        let col = ((at_s / self.column_ms) as usize).min(self.columns - 1);
        // In view order: users by name, each user's authenticators by registration.
        let mut now: Vec<(Key, char)> = Vec::new();
        for u in &plan.users {
            for v in engine.authenticators(&u.name).unwrap_or_default() {
                if v.scope == Scope::GlobalUser {
                    let c = v.apps.first().map_or('.', cell);
                    now.push(((v.id, None), c));
                } else {
                    for d in &v.apps {
                        now.push(((v.id, Some(d.app.clone())), cell(d)));
                    }
                }
            }
        }
        for key in self.alive.iter() {
            if !now.iter().any(|(k, _)| k == key) {
                now.push((key.clone(), 'x'));
            }
        }
        for (key, c) in now {
            if c != 'x' {
                self.alive.insert(key.clone());
            }
            if !self.cells.contains_key(&key) {
                self.order.push(key.clone());
                self.cells.insert(key.clone(), vec![' '; self.columns]);
            }
            let row = self.cells.get_mut(&key).expect("inserted above");
            if rank(c) > rank(row[col]) {
                row[col] = c;
            }
        }
    }

    /// Samples the column starts strictly inside the segment after point `k`.
    fn segment(&mut self, k: usize, engine: &Engine, clock: &FakeClock, plan: &Plan) {
        let (from, to) = match self.s.get(k + 1) {
            Some(next) => (self.s[k], *next),
            None => (self.s[k], self.columns as i64 * self.column_ms),
        };
        let first = from / self.column_ms + 1;
        let mut c = first;
        while c * self.column_ms < to && (c as usize) < self.columns {
            let at_s = c * self.column_ms;
            clock.set(self.host[k].plus(std::time::Duration::from_millis((at_s - from) as u64)));
            self.record(engine, plan, at_s);
            c += 1;
        }
        clock.set(self.host[k]);
    }

    /// After the setup, before the first entry.
    pub fn after_setup(&mut self, engine: &Engine, clock: &FakeClock, plan: &Plan) {
        self.record(engine, plan, 0);
        self.segment(0, engine, clock, plan);
    }

    /// After entry `i` (from 0).
    pub fn after_entry(&mut self, i: usize, engine: &Engine, clock: &FakeClock, plan: &Plan) {
        let s = self.s[i + 1];
        self.record(engine, plan, s);
        self.segment(i + 1, engine, clock, plan);
    }

    /// The chart, with the scenario's labels.
    pub fn finish(self, labels: &Labels, plan: &Plan) -> Chart {
        let mut referenced: BTreeSet<(String, String)> = BTreeSet::new();
        for e in &plan.entries {
            if let Op::Failure { target, .. }
            | Op::Success { target, .. }
            | Op::Check { target }
            | Op::Reserve { target, .. }
            | Op::Commit { target, .. }
            | Op::Admin { target, .. } = &e.op
            {
                referenced.insert((target.label.clone(), target.app.clone()));
            }
        }
        let mut rows = Vec::new();
        for key in &self.order {
            let cells = &self.cells[key];
            let label = labels.for_app(&key.0, key.1.as_deref());
            let is_referenced = match &key.1 {
                Some(app) => referenced.contains(&(label.clone(), app.clone())),
                None => referenced.iter().any(|(l, _)| *l == label),
            };
            let interesting = cells.iter().any(|c| *c != ' ' && *c != '.');
            if !is_referenced && !interesting {
                continue;
            }
            rows.push(Row {
                label,
                app: key.1.clone(),
                cells: cells.iter().collect(),
            });
        }
        // Rows of an ID with instances in several apps name the app.
        let mut count: BTreeMap<String, usize> = BTreeMap::new();
        for r in &rows {
            *count.entry(r.label.clone()).or_default() += 1;
        }
        for r in &mut rows {
            if count[&r.label] > 1
                && let Some(app) = &r.app
            {
                r.label = format!("{} @{app}", r.label);
            }
        }
        let mut marks = vec![' '; self.columns];
        for (i, e) in plan.entries.iter().enumerate() {
            let col = ((self.s[i + 1] / self.column_ms) as usize).min(self.columns - 1);
            let back = e.at < self.host[i];
            if back {
                marks[col] = '<';
            } else if marks[col] != '<' {
                marks[col] = '^';
            }
        }
        let host_at = |col: usize| -> Timestamp {
            let at_s = col as i64 * self.column_ms;
            let k = self.s.iter().rposition(|s| *s <= at_s).unwrap_or(0);
            self.host[k].plus(std::time::Duration::from_millis((at_s - self.s[k]) as u64))
        };
        let mut ticks = vec![(0, host_at(0))];
        if self.columns > 1 {
            let mid = self.columns / 2;
            if mid > 0 && mid < self.columns - 1 {
                ticks.push((mid, host_at(mid)));
            }
            ticks.push((self.columns - 1, host_at(self.columns - 1)));
        }
        Chart {
            column_ms: self.column_ms,
            columns: self.columns,
            from: self.host[0],
            to: *self.host.last().expect("not empty"),
            rows,
            marks: marks.into_iter().collect(),
            ticks,
        }
    }
}

/// The chart as text, at most 100 columns wide.
pub fn render(chart: &Chart, times: &Times) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Timeline chart: 1 column = {}, from {} to {}\n\n",
        authlock::format_duration(std::time::Duration::from_millis(chart.column_ms as u64)),
        times.fmt(chart.from),
        times.fmt(chart.to),
    ));
    // Tick labels above the chart.
    let offset = LABEL_WIDTH + 1;
    let width = offset + chart.columns + 24;
    let mut axis: Vec<char> = vec![' '; width];
    let mut last_end = 0usize;
    for (i, (col, t)) in chart.ticks.iter().enumerate() {
        let text: Vec<char> = times.fmt(*t).chars().collect();
        let at = offset + col;
        let start = if i == 0 {
            at
        } else if i + 1 == chart.ticks.len() {
            (at + 1).saturating_sub(text.len())
        } else {
            at.saturating_sub(text.len() / 2)
        };
        if i > 0 && start <= last_end + 1 {
            continue;
        }
        for (j, ch) in text.iter().enumerate() {
            if start + j < width {
                axis[start + j] = *ch;
            }
        }
        last_end = start + text.len();
    }
    out.push_str(axis.iter().collect::<String>().trim_end());
    out.push('\n');
    for row in &chart.rows {
        out.push_str(&format!(
            "{:<w$}|{}|\n",
            truncate(&row.label, LABEL_WIDTH - 1),
            row.cells,
            w = LABEL_WIDTH
        ));
    }
    let marks = format!("{:<w$} {}", "entries", chart.marks, w = LABEL_WIDTH);
    out.push_str(marks.trim_end());
    out.push('\n');
    out.push('\n');
    out.push_str(
        "  . no failures counted   1-9 failures counted (+ for 10 or more)   ~ throttled\n",
    );
    out.push_str(
        "  L locked by policy for a time   U locked by policy until unlocked   M locked by hand\n",
    );
    out.push_str(
        "  D deactivated   x deleted   (blank) not registered   ^ entry   < clock went back\n",
    );
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('~');
        t
    }
}
