//! Input files and places in them: reading a TOML or JSON document, turning
//! byte offsets and field paths into lines and columns, and rendering an
//! error with the line it is about.
//!
//! For TOML, every key and value keeps its span (through the parser's
//! spanned document), so an error found after parsing (an unknown user in
//! timeline entry 7, a policy field out of range) is reported at its line.
//! JSON errors from the parser carry their line; errors found later name
//! the field's path.

use std::fmt;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

/// The two document formats the command line reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// TOML (the default).
    Toml,
    /// JSON (a `.json` file, or a document that starts with `{`).
    Json,
}

/// One step of a path into a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    /// A table key.
    Key(String),
    /// An array index (from 0).
    Index(usize),
}

/// A path into a document, written `timeline[6].auth`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Path(pub Vec<Seg>);

impl Path {
    /// The empty path (the document as a whole).
    pub fn root() -> Path {
        Path(Vec::new())
    }

    /// This path followed by a key.
    pub fn key(&self, k: &str) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }

    /// This path followed by an index.
    pub fn index(&self, i: usize) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    /// Parses a dotted path as the policy and journey modules write them
    /// (`apps.bank.policies.pin.throttle[0].after`). Keys containing dots
    /// cannot be told apart; this is a best effort for finding a line.
    pub fn parse_dotted(s: &str) -> Path {
        let mut p = Path::root();
        for part in s.split('.').filter(|x| !x.is_empty()) {
            let (key, rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !key.is_empty() {
                p.0.push(Seg::Key(key.to_string()));
            }
            for idx in rest.split('[').filter(|x| !x.is_empty()) {
                if let Ok(n) = idx.trim_end_matches(']').parse() {
                    p.0.push(Seg::Index(n));
                }
            }
        }
        p
    }

    /// Appends a dotted path.
    pub fn join_dotted(&self, s: &str) -> Path {
        let mut p = self.clone();
        p.0.extend(Path::parse_dotted(s).0);
        p
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.0 {
            match seg {
                Seg::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// A document read from a file.
pub struct Source {
    /// The path as the user gave it.
    pub name: String,
    /// The text.
    pub text: String,
    /// Its format.
    pub format: Format,
}

impl Source {
    /// Reads a file; the format comes from the extension (`.json`) or the
    /// first character (`{`).
    pub fn read(path: &str) -> Result<Source, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{path}: cannot read: {e}"))?;
        let format = if path.ends_with(".json") || text.trim_start().starts_with('{') {
            Format::Json
        } else {
            Format::Toml
        };
        Ok(Source {
            name: path.to_string(),
            text,
            format,
        })
    }

    /// The 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = self.text[line_start..offset].chars().count() + 1;
        (line, col)
    }

    /// The text of a 1-based line.
    pub fn line_text(&self, line: usize) -> Option<&str> {
        self.text.lines().nth(line.checked_sub(1)?)
    }
}

/// Finds the spans of fields in a document.
pub struct Locator<'a> {
    doc: Option<toml::Spanned<DeTable<'a>>>,
    /// For JSON: where each value starts, by path.
    json: Vec<(Path, usize)>,
}

impl<'a> Locator<'a> {
    /// A locator over `source`, which has parsed already.
    pub fn new(source: &'a Source) -> Locator<'a> {
        match source.format {
            Format::Toml => Locator {
                doc: DeTable::parse(&source.text).ok(),
                json: Vec::new(),
            },
            Format::Json => {
                let mut scan = JsonScan {
                    b: source.text.as_bytes(),
                    i: 0,
                    out: Vec::new(),
                };
                scan.value(Path::root(), 0);
                Locator {
                    doc: None,
                    json: scan.out,
                }
            }
        }
    }

    /// The span of the value at `path`, or of the deepest part of the path
    /// that exists (for JSON, only its start is known).
    pub fn span(&self, path: &Path) -> Option<Range<usize>> {
        if self.doc.is_none() {
            return self
                .json
                .iter()
                .filter(|(p, _)| path.0.starts_with(&p.0) && !p.0.is_empty())
                .max_by_key(|(p, _)| p.0.len())
                .map(|(_, at)| *at..*at + 1);
        }
        let doc = self.doc.as_ref()?;
        let mut best: Option<Range<usize>> = None;
        let mut table: Option<&DeTable<'a>> = Some(doc.get_ref());
        let mut value: Option<&DeValue<'a>> = None;
        for seg in &path.0 {
            let next = match (seg, table, value) {
                (Seg::Key(k), Some(t), _) => t
                    .iter()
                    .find(|(key, _)| key.get_ref().as_ref() == k.as_str())
                    .map(|(_, v)| v),
                (Seg::Index(i), _, Some(DeValue::Array(a))) => a.get(*i),
                _ => None,
            };
            let Some(v) = next else { break };
            best = Some(v.span());
            value = Some(v.get_ref());
            table = match v.get_ref() {
                DeValue::Table(t) => Some(t),
                _ => None,
            };
        }
        best
    }
}

/// Records where each value of a JSON text starts. The text has been
/// parsed by serde_json already; on anything unexpected the scan stops.
struct JsonScan<'a> {
    b: &'a [u8],
    i: usize,
    out: Vec<(Path, usize)>,
}

impl JsonScan<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    /// Scans a string literal at `i`; returns its decoded text.
    fn string(&mut self) -> Option<String> {
        let start = self.i;
        if self.b.get(self.i) != Some(&b'"') {
            return None;
        }
        self.i += 1;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    let lit = std::str::from_utf8(&self.b[start..self.i]).ok()?;
                    return serde_json::from_str(lit).ok();
                }
                _ => self.i += 1,
            }
        }
        None
    }

    /// Scans one value at `path`; false when the scan must stop.
    fn value(&mut self, path: Path, depth: usize) -> bool {
        if depth > 128 {
            return false;
        }
        self.ws();
        self.out.push((path.clone(), self.i));
        match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                loop {
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b'}') => {
                            self.i += 1;
                            return true;
                        }
                        Some(b',') => self.i += 1,
                        Some(b'"') => {
                            let Some(key) = self.string() else {
                                return false;
                            };
                            self.ws();
                            if self.b.get(self.i) != Some(&b':') {
                                return false;
                            }
                            self.i += 1;
                            if !self.value(path.key(&key), depth + 1) {
                                return false;
                            }
                        }
                        _ => return false,
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut n = 0;
                loop {
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b']') => {
                            self.i += 1;
                            return true;
                        }
                        Some(b',') => self.i += 1,
                        Some(_) => {
                            if !self.value(path.index(n), depth + 1) {
                                return false;
                            }
                            n += 1;
                        }
                        None => return false,
                    }
                }
            }
            Some(b'"') => self.string().is_some(),
            Some(_) => {
                let start = self.i;
                while self.i < self.b.len() && !b",]} \t\r\n".contains(&self.b[self.i]) {
                    self.i += 1;
                }
                self.i > start
            }
            None => false,
        }
    }
}

/// An error in an input file, with its place.
#[derive(Clone, Debug)]
pub struct InputError {
    /// The file.
    pub file: String,
    /// The 1-based line and column, when known.
    pub at: Option<(usize, usize)>,
    /// Which part of the document, in words (`timeline entry 7, field
    /// `auth``), when known.
    pub place: Option<String>,
    /// What is wrong.
    pub message: String,
    /// The source line and a caret under the column, when known.
    pub snippet: Option<String>,
}

impl InputError {
    /// An error at a byte offset of `source`.
    pub fn at_offset(
        source: &Source,
        offset: Option<usize>,
        place: Option<String>,
        message: String,
    ) -> InputError {
        let at = offset.map(|o| source.line_col(o));
        InputError::at_line(source, at, place, message)
    }

    /// An error at a line and column of `source`.
    pub fn at_line(
        source: &Source,
        at: Option<(usize, usize)>,
        place: Option<String>,
        message: String,
    ) -> InputError {
        let snippet = at.and_then(|(line, col)| {
            let text = source.line_text(line)?;
            let text: String = text.chars().take(160).collect();
            let pad = " ".repeat(line.to_string().len());
            let caret = " ".repeat(col.saturating_sub(1).min(text.chars().count()));
            Some(format!("{line} | {text}\n{pad} | {caret}^"))
        });
        InputError {
            file: source.name.clone(),
            at,
            place,
            message,
            snippet,
        }
    }

    /// An error about the file as a whole.
    pub fn whole(file: &str, message: String) -> InputError {
        InputError {
            file: file.to_string(),
            at: None,
            place: None,
            message,
            snippet: None,
        }
    }

    /// The one-line form: `file:line:col: place: message`.
    pub fn headline(&self) -> String {
        let mut s = self.file.clone();
        if let Some((line, col)) = self.at {
            s.push_str(&format!(":{line}:{col}"));
        }
        s.push_str(": ");
        if let Some(p) = &self.place {
            s.push_str(p);
            s.push_str(": ");
        }
        s.push_str(&self.message);
        s
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.headline())?;
        if let Some(snippet) = &self.snippet {
            for l in snippet.lines() {
                write!(f, "\n    {l}")?;
            }
        }
        Ok(())
    }
}
