//! The expression language of journey step fields (the authenticator ID,
//! identifier values, custom report payloads).
//!
//! An expression is either a string literal or a path into the journey's
//! variables:
//!
//! ```text
//! expression := literal | path
//! literal    := "'" chars "'" | '"' chars '"'      escapes: \\  \'  \"
//! path       := name ( "." name | "[" index "]" | "[" literal "]" )*
//! name       := [A-Za-z_] [A-Za-z0-9_]*
//! index      := [0-9]+
//! ```
//!
//! Spaces are allowed around the whole expression and inside brackets, and
//! nowhere else. There are no operators and no function calls: a step field
//! names a value, it does not compute one.
//!
//! Parsing happens when a step is loaded; a malformed expression is refused
//! with the column (counted in characters, from 1) where it goes wrong.
//! Evaluating a path never fails: it yields the value found, or says where
//! the path stopped ([`Missing`]). What counts as an acceptable value is
//! decided by the step that uses it.
//!
//! ```
//! use authlock::journey::Expression;
//! use serde_json::json;
//!
//! let vars = json!({ "authenticators": [ { "id": "abc" } ] });
//! let e = Expression::parse("authenticators[0].id").unwrap();
//! assert_eq!(e.evaluate(&vars).unwrap(), &json!("abc"));
//!
//! let err = Expression::parse("auth..id").unwrap_err();
//! assert_eq!(err.column, 6);
//! ```

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Longest expression accepted, in bytes.
pub const MAX_EXPRESSION_LEN: usize = 1024;
/// Most segments a path may have.
pub const MAX_PATH_SEGMENTS: usize = 64;

/// A parsed expression over journey variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expression {
    source: String,
    body: Body,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Body {
    Literal(Value),
    Path(Vec<Segment>),
}

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    /// `.name` or `["name"]`: a field of an object.
    Field(String),
    /// `[3]`: an element of a list.
    Index(usize),
}

/// Why an expression does not parse, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[error("at column {column}: {message}")]
pub struct ExpressionError {
    /// The column, in characters from 1, where the problem is.
    pub column: usize,
    /// What is wrong there.
    pub message: String,
}

/// Where a path stopped: the part that was found, and why the next step
/// could not be taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    /// The longest prefix of the path that was found (empty for the first
    /// name).
    pub found: String,
    /// Why the next segment could not be followed.
    pub why: String,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.why)
    }
}

impl Expression {
    /// Parses `source`.
    pub fn parse(source: &str) -> Result<Expression, ExpressionError> {
        if source.len() > MAX_EXPRESSION_LEN {
            return Err(ExpressionError {
                column: 1,
                message: format!(
                    "the expression is {} bytes long; at most {MAX_EXPRESSION_LEN} are allowed",
                    source.len()
                ),
            });
        }
        let mut p = Parser {
            chars: source.chars().collect(),
            pos: 0,
        };
        p.skip_spaces();
        let body = match p.peek() {
            None => return Err(p.error("the expression is empty")),
            Some('\'' | '"') => Body::Literal(Value::String(p.literal()?)),
            Some(c) if is_name_start(c) => Body::Path(p.path()?),
            Some(c) => {
                return Err(p.error(format!(
                    "expected a variable name or a quoted string, found `{c}`"
                )));
            }
        };
        p.skip_spaces();
        if let Some(c) = p.peek() {
            return Err(p.error(match body {
                Body::Literal(_) => format!("unexpected `{c}` after the string literal"),
                Body::Path(_) => {
                    format!("unexpected `{c}`: a path continues only with `.name` or `[...]`")
                }
            }));
        }
        Ok(Expression {
            source: source.to_string(),
            body,
        })
    }

    /// The text the expression was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the expression is a string literal.
    pub fn is_literal(&self) -> bool {
        matches!(self.body, Body::Literal(_))
    }

    /// The value the expression names in `variables` (a JSON object), or
    /// where its path stopped. JSON `null` is returned as found; callers
    /// treat it as "nothing".
    pub fn evaluate<'v>(&'v self, variables: &'v Value) -> Result<&'v Value, Missing> {
        let segments = match &self.body {
            Body::Literal(v) => return Ok(v),
            Body::Path(s) => s,
        };
        let mut current = variables;
        let mut found = String::new();
        for seg in segments {
            let next = match seg {
                Segment::Field(name) => match current {
                    Value::Object(map) => map.get(name).ok_or_else(|| Missing {
                        found: found.clone(),
                        why: if found.is_empty() {
                            format!("there is no variable `{name}`")
                        } else {
                            format!("`{found}` has no field `{name}`")
                        },
                    })?,
                    other => {
                        return Err(Missing {
                            found: found.clone(),
                            why: format!(
                                "`{found}` is {}, not an object, so it has no field `{name}`",
                                json_kind(other)
                            ),
                        });
                    }
                },
                Segment::Index(i) => match current {
                    Value::Array(items) => items.get(*i).ok_or_else(|| Missing {
                        found: found.clone(),
                        why: format!(
                            "`{found}` has {} element(s), so there is no element [{i}]",
                            items.len()
                        ),
                    })?,
                    other => {
                        return Err(Missing {
                            found: found.clone(),
                            why: format!(
                                "`{found}` is {}, not a list, so it has no element [{i}]",
                                json_kind(other)
                            ),
                        });
                    }
                },
            };
            push_segment(&mut found, seg);
            current = next;
        }
        Ok(current)
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for Expression {
    type Err = ExpressionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Expression::parse(s)
    }
}

impl Serialize for Expression {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Expression {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Expression::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A short name of a JSON value's kind, for messages ("a number", ...).
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Whether `name` is a plain variable name (`[A-Za-z_][A-Za-z0-9_]*`, at
/// most 128 characters): the form of output variable names.
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 128 && chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn push_segment(path: &mut String, seg: &Segment) {
    match seg {
        Segment::Field(name) if is_variable_name(name) => {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(name);
        }
        Segment::Field(name) => {
            path.push_str(&format!("[{}]", serde_json::Value::String(name.clone())));
        }
        Segment::Index(i) => path.push_str(&format!("[{i}]")),
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn error(&self, message: impl Into<String>) -> ExpressionError {
        ExpressionError {
            column: self.pos + 1,
            message: message.into(),
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(|c| c == ' ' || c == '\t') {
            self.pos += 1;
        }
    }

    fn name(&mut self) -> Result<String, ExpressionError> {
        match self.peek() {
            Some(c) if is_name_start(c) => {}
            Some(c) => {
                return Err(self.error(format!(
                    "expected a field name (a letter or `_` first), found `{c}`"
                )));
            }
            None => return Err(self.error("expected a field name, found the end")),
        }
        let start = self.pos;
        while self.peek().is_some_and(is_name_char) {
            self.pos += 1;
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn literal(&mut self) -> Result<String, ExpressionError> {
        let quote = self.peek().expect("called on a quote");
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(
                        self.error(format!("the string starting here has no closing {quote}"))
                    );
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ ('\\' | '\'' | '"')) => {
                            out.push(c);
                            self.pos += 1;
                        }
                        Some(c) => {
                            return Err(self.error(format!(
                                "unknown escape `\\{c}`: only \\\\, \\' and \\\" are allowed"
                            )));
                        }
                        None => {
                            return Err(self.error("the string ends in the middle of an escape"));
                        }
                    }
                }
                Some(c) if c.is_control() => {
                    return Err(self.error("control characters are not allowed in a string"));
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn path(&mut self) -> Result<Vec<Segment>, ExpressionError> {
        let mut segments = vec![Segment::Field(self.name()?)];
        loop {
            let at = self.pos;
            match self.peek() {
                Some('.') => {
                    self.pos += 1;
                    segments.push(Segment::Field(self.name().map_err(|e| {
                        ExpressionError {
                            message: format!("after `.`: {}", e.message),
                            ..e
                        }
                    })?));
                }
                Some('[') => {
                    self.pos += 1;
                    self.skip_spaces();
                    let seg = match self.peek() {
                        Some('\'' | '"') => Segment::Field(self.literal()?),
                        Some(c) if c.is_ascii_digit() => {
                            let start = self.pos;
                            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                                self.pos += 1;
                            }
                            let digits: String = self.chars[start..self.pos].iter().collect();
                            let index = digits.parse::<usize>().map_err(|_| ExpressionError {
                                column: start + 1,
                                message: format!("index {digits} is too large"),
                            })?;
                            Segment::Index(index)
                        }
                        Some(c) => {
                            return Err(self.error(format!(
                                "expected an index (0, 1, ...) or a quoted field name inside `[...]`, found `{c}`"
                            )));
                        }
                        None => return Err(self.error("`[` is not closed")),
                    };
                    self.skip_spaces();
                    match self.peek() {
                        Some(']') => self.pos += 1,
                        Some(c) => return Err(self.error(format!("expected `]`, found `{c}`"))),
                        None => return Err(self.error("`[` is not closed: expected `]`")),
                    }
                    segments.push(seg);
                }
                _ => return Ok(segments),
            }
            if segments.len() > MAX_PATH_SEGMENTS {
                self.pos = at;
                return Err(self.error(format!(
                    "the path has more than {MAX_PATH_SEGMENTS} segments"
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_paths_indexes_and_literals() {
        let vars = json!({"a": {"b-c": [1, {"d": "x"}]}, "s": "str"});
        let e = Expression::parse(r#" a["b-c"][ 1 ].d "#).unwrap();
        assert_eq!(e.evaluate(&vars).unwrap(), &json!("x"));
        let e = Expression::parse(r#"'it\'s'"#).unwrap();
        assert_eq!(e.evaluate(&vars).unwrap(), &json!("it's"));
        assert!(e.is_literal());
    }

    #[test]
    fn reports_columns() {
        let cases = [
            ("", 1),
            ("a.", 3),
            ("a[", 3),
            ("a[x]", 3),
            ("a b", 3),
            ("'open", 1),
            ("9a", 1),
            ("a[0", 4),
            ("'x' y", 5),
            (r"'\n'", 3),
        ];
        for (src, col) in cases {
            let err = Expression::parse(src).unwrap_err();
            assert_eq!(err.column, col, "{src}: {err}");
        }
    }

    #[test]
    fn missing_paths_say_where_they_stopped() {
        let vars = json!({"a": {"b": "s"}, "l": []});
        let e = Expression::parse("a.b.c").unwrap();
        let m = e.evaluate(&vars).unwrap_err();
        assert_eq!(m.found, "a.b");
        assert!(m.why.contains("is a string"), "{}", m.why);
        let m = Expression::parse("l[2]")
            .unwrap()
            .evaluate(&vars)
            .unwrap_err();
        assert!(m.why.contains("0 element"), "{}", m.why);
        let m = Expression::parse("nope")
            .unwrap()
            .evaluate(&vars)
            .unwrap_err();
        assert!(m.why.contains("no variable `nope`"));
    }
}
