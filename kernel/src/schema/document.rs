//! Parsing YAML/JSON documents into JSON values with a location for every value, and the
//! errors of the schema service.
//!
//! YAML goes through serde-saphyr with its budgets on ([`ParseLimits`]); duplicate keys are
//! errors. JSON (files ending `.json`) goes through serde_json for exact JSON semantics, plus a
//! linear scan that records where each value starts and refuses duplicate keys.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::Spanned;

/// Resource limits applied while parsing a document. Every document the kernel reads is parsed
/// under these limits, so that an alias bomb, a deeply nested or a huge document is refused with
/// an error instead of exhausting memory, stack or time.
///
/// Set per plane in `HOT/plane/plane.json` (`parse_limits`, schema `plane_config`); a field left
/// out takes its default.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParseLimits {
    /// Largest document accepted, in bytes (checked before parsing). Default 8 MiB
    /// ([`ParseLimits::DEFAULT_MAX_DOCUMENT_BYTES`]).
    pub max_document_bytes: usize,
    /// Deepest nesting of mappings and sequences. Default 64.
    pub max_depth: usize,
    /// Most nodes (mappings, sequences, scalars) in a YAML document. Default 250,000.
    pub max_nodes: usize,
    /// Most parser events in a YAML document. Default 1,000,000.
    pub max_events: usize,
    /// Most alias (`*ref`) uses in a YAML document. Default 10,000.
    pub max_aliases: usize,
    /// Most events replayed by expanding aliases in a YAML document (stops "billion laughs").
    /// Default 100,000.
    pub max_alias_replayed_events: usize,
    /// Most bytes of scalar text in a YAML document. Default 8 MiB.
    pub max_scalar_bytes: usize,
    /// Stack size of the thread that parses a YAML document, in bytes. The YAML deserializer
    /// recurses once per nesting level, so the stack must hold `max_depth` levels (about 40 KiB
    /// each in an unoptimised build). Default 64 MiB (address space, touched only as used).
    pub parser_stack_bytes: usize,
}

impl From<crate::fsx::BoundedReadError> for DocumentError {
    fn from(e: crate::fsx::BoundedReadError) -> Self {
        use crate::fsx::BoundedReadError as B;
        match e {
            B::Io(e) => Self::Io(e),
            B::NotRegular { path, what } => Self::NotRegularFile { path, what },
            B::TooLarge { path, size, limit } => Self::TooLarge {
                path,
                size: usize::try_from(size).unwrap_or(usize::MAX),
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
            },
        }
    }
}

impl ParseLimits {
    /// Reads the document at `path` through the bounded reader ([`crate::fsx::read_bounded`]):
    /// only a regular file of at most [`ParseLimits::max_document_bytes`] bytes.
    pub fn read_document(&self, path: &std::path::Path) -> Result<String, DocumentError> {
        Ok(crate::fsx::read_bounded_string(path, self.max_document_bytes as u64)?)
    }

    /// Default of [`ParseLimits::max_document_bytes`]: 8 MiB.
    pub const DEFAULT_MAX_DOCUMENT_BYTES: usize = 8 * 1024 * 1024;
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_document_bytes: Self::DEFAULT_MAX_DOCUMENT_BYTES,
            max_depth: 64,
            max_nodes: 250_000,
            max_events: 1_000_000,
            max_aliases: 10_000,
            max_alias_replayed_events: 100_000,
            max_scalar_bytes: 8 * 1024 * 1024,
            parser_stack_bytes: 64 * 1024 * 1024,
        }
    }
}

/// One schema violation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// JSON pointer of the offending value (`/pipeline/2/config/max_entries`).
    pub instance_path: String,
    /// 1-based line of the offending value, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What was expected.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{l}:{c}: {}: {}", display_path(&self.instance_path), self.message),
            _ => write!(f, "{}: {}", display_path(&self.instance_path), self.message),
        }
    }
}

fn display_path(p: &str) -> &str {
    if p.is_empty() { "(root)" } else { p }
}

/// Why a document was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The file could not be read.
    #[error(transparent)]
    Io(#[from] crate::fsx::FsError),
    /// The document is not valid YAML/JSON (or breached a parser budget).
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The document is larger than [`ParseLimits::max_document_bytes`].
    #[error("{}: document of {size} bytes exceeds the limit of {limit} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The path is not a regular file (a FIFO, `/dev/zero`, a directory): refused unread.
    #[error("{} is {what}, not a regular file; refused before reading", path.display())]
    NotRegularFile {
        /// The file.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
    /// The document violates its schema.
    #[error(
        "{} does not match schema {schema} ({} violation{}):{}",
        path.display(),
        violations.len(),
        if violations.len() == 1 { "" } else { "s" },
        violations.iter().map(|v| format!("\n    {}:{v}", path.display())).collect::<String>()
    )]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Schema name.
        schema: String,
        /// Every violation found.
        violations: Vec<Violation>,
    },
    /// The document matches the schema but does not decode into the typed config.
    #[error("{}: {message}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What is wrong: `line:column: field path: serde's message` when the place is known.
        message: String,
    },
    /// No schema of that name is loaded.
    #[error("unknown schema {0:?}")]
    UnknownSchema(String),
}

/// Where each value of a parsed document starts: JSON pointer → (line, column), both 1-based.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locations {
    map: BTreeMap<String, (usize, usize)>,
}

impl Locations {
    /// The position of the value at `pointer`, or of its nearest ancestor that has one.
    pub fn find(&self, pointer: &str) -> Option<(usize, usize)> {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.map.get(p) {
                return Some(*pos);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }

    /// The pointer of the value that starts at `(line, column)`, else the last value starting
    /// before it (the innermost value enclosing or preceding that position).
    pub fn pointer_at(&self, line: usize, column: usize) -> Option<&str> {
        let mut best: Option<(&str, (usize, usize))> = None;
        for (p, &pos) in &self.map {
            if pos <= (line, column) && best.is_none_or(|(bp, b)| pos > b || (pos == b && p.len() > bp.len())) {
                best = Some((p, pos));
            }
        }
        best.map(|(p, _)| p)
    }

    /// Number of located values.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is located.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn insert(&mut self, pointer: &str, line: usize, column: usize) {
        self.map.entry(pointer.to_string()).or_insert((line, column));
    }
}

/// A parsed document: its JSON value and where each value is in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedDocument {
    /// The document as a JSON value.
    pub value: Value,
    /// Where each value starts.
    pub locations: Locations,
}

/// Parses `text` (YAML or JSON — JSON is YAML; files ending `.json` use the JSON parser) into a
/// JSON value, with the YAML parser's budgets on ([`ParseLimits::default`]).
pub fn parse_document(path: &Path, text: &str) -> Result<Value, DocumentError> {
    parse_located(path, text, &ParseLimits::default()).map(|d| d.value)
}

/// Whether `path` is parsed as JSON (it ends `.json`) rather than YAML.
pub fn is_json_path(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
}

/// Parses `text` under `limits` into a value and the location of every value in it.
pub fn parse_located(path: &Path, text: &str, limits: &ParseLimits) -> Result<LocatedDocument, DocumentError> {
    if text.len() > limits.max_document_bytes {
        return Err(DocumentError::TooLarge {
            path: path.to_path_buf(),
            size: text.len(),
            limit: limits.max_document_bytes,
        });
    }
    if is_json_path(path) { parse_json(path, text, limits) } else { parse_yaml(path, text, limits) }
}

fn parse_err(path: &Path, line: usize, column: usize, message: impl Into<String>) -> DocumentError {
    DocumentError::Parse { path: path.to_path_buf(), line, column, message: message.into() }
}

// ---------------------------------------------------------------------------------------------
// YAML

/// The serde-saphyr options for `limits`: budgets on, duplicate keys refused, one-line errors.
pub(crate) fn yaml_options(limits: &ParseLimits) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = limits.max_depth;
    budget.max_nodes = limits.max_nodes;
    budget.max_events = limits.max_events;
    budget.max_aliases = limits.max_aliases;
    budget.max_total_scalar_bytes = limits.max_scalar_bytes;
    budget.max_documents = 1;
    budget.max_reader_input_bytes = Some(limits.max_document_bytes);
    let mut alias_limits = serde_saphyr::options::AliasLimits::default();
    alias_limits.max_total_replayed_events = limits.max_alias_replayed_events;
    let mut o = serde_saphyr::Options::default();
    o.budget = Some(budget);
    o.alias_limits = alias_limits;
    o.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    o.with_snippet = false;
    o
}

/// A YAML node with the location of each child.
enum Node {
    Null,
    Bool(bool),
    Num(Number),
    Str(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(String, Spanned<Node>)>),
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Num(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Num(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        i64::try_from(v).map(|v| Node::Num(v.into())).map_err(|_| E::custom(format!("integer {v} out of range")))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        u64::try_from(v).map(|v| Node::Num(v.into())).map_err(|_| E::custom(format!("integer {v} out of range")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Number::from_f64(v).map(Node::Num).ok_or_else(|| E::custom("non-finite numbers are not allowed"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
        let mut v = Vec::new();
        while let Some(n) = a.next_element::<Spanned<Node>>()? {
            v.push(n);
        }
        Ok(Node::Seq(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
        let mut v = Vec::new();
        while let Some(k) = a.next_key::<String>()? {
            let n = a.next_value::<Spanned<Node>>()?;
            v.push((k, n));
        }
        Ok(Node::Map(v))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

/// Appends one JSON-pointer segment (RFC 6901 escaping) to `ptr`.
fn push_segment(ptr: &mut String, seg: &str) {
    ptr.push('/');
    for c in seg.chars() {
        match c {
            '~' => ptr.push_str("~0"),
            '/' => ptr.push_str("~1"),
            c => ptr.push(c),
        }
    }
}

fn node_to_value(node: Spanned<Node>, ptr: &mut String, locs: &mut Locations) -> Value {
    let loc = node.referenced;
    if loc.line() > 0 {
        locs.insert(ptr, loc.line() as usize, loc.column() as usize);
    }
    match node.value {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(b),
        Node::Num(n) => Value::Number(n),
        Node::Str(s) => Value::String(s),
        Node::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, n) in items.into_iter().enumerate() {
                let len = ptr.len();
                push_segment(ptr, &i.to_string());
                out.push(node_to_value(n, ptr, locs));
                ptr.truncate(len);
            }
            Value::Array(out)
        }
        Node::Map(entries) => {
            let mut out = Map::new();
            for (k, n) in entries {
                let len = ptr.len();
                push_segment(ptr, &k);
                let v = node_to_value(n, ptr, locs);
                ptr.truncate(len);
                out.insert(k, v);
            }
            Value::Object(out)
        }
    }
}

fn parse_yaml(path: &Path, text: &str, limits: &ParseLimits) -> Result<LocatedDocument, DocumentError> {
    on_parser_stack(path, limits, || {
        let root: Spanned<Node> = serde_saphyr::from_str_with_options(text, yaml_options(limits)).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line() as usize, l.column() as usize));
            parse_err(path, line, column, one_line(&e.to_string()))
        })?;
        let mut locations = Locations::default();
        let value = node_to_value(root, &mut String::new(), &mut locations);
        Ok(LocatedDocument { value, locations })
    })
}

/// Runs `f` on a scoped thread whose stack is [`ParseLimits::parser_stack_bytes`], so that a
/// document nested up to `max_depth` is refused by the budget, never by a stack overflow.
pub(crate) fn on_parser_stack<T: Send>(
    path: &Path,
    limits: &ParseLimits,
    f: impl FnOnce() -> Result<T, DocumentError> + Send,
) -> Result<T, DocumentError> {
    std::thread::scope(|s| {
        let h = std::thread::Builder::new()
            .name("cp-yaml-parse".to_string())
            .stack_size(limits.parser_stack_bytes)
            .spawn_scoped(s, f)
            .map_err(|e| parse_err(path, 0, 0, format!("cannot start the parser thread: {e}")))?;
        h.join().unwrap_or_else(|_| Err(parse_err(path, 0, 0, "the parser failed unexpectedly")))
    })
}

/// serde-saphyr errors may span lines and end with their own `at line N, column M` (already in
/// the error's location); keep one line without the repeated position.
fn one_line(msg: &str) -> String {
    let joined = msg.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
    match joined.rsplit_once(" at line ") {
        Some((head, tail))
            if tail.split_once(", column ").is_some_and(|(l, c)| {
                !l.is_empty() && !c.is_empty() && l.bytes().chain(c.bytes()).all(|b| b.is_ascii_digit())
            }) =>
        {
            head.to_string()
        }
        _ => joined,
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

fn parse_json(path: &Path, text: &str, limits: &ParseLimits) -> Result<LocatedDocument, DocumentError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let msg = e.to_string();
        let msg = msg.rsplit_once(" at line ").map_or(msg.as_str(), |(m, _)| m).to_string();
        parse_err(path, e.line(), e.column(), msg)
    })?;
    let mut s = JsonScanner { b: text.as_bytes(), i: 0, line: 1, col: 1, locs: Locations::default() };
    s.value(&mut String::new(), 0, limits.max_depth).map_err(|(line, column, m)| parse_err(path, line, column, m))?;
    Ok(LocatedDocument { value, locations: s.locs })
}

type ScanError = (usize, usize, String);

/// Records where each value of an (already validated) JSON text starts, refuses duplicate keys
/// and nesting deeper than the limit.
struct JsonScanner<'a> {
    b: &'a [u8],
    i: usize,
    line: usize,
    col: usize,
    locs: Locations,
}

impl JsonScanner<'_> {
    fn peek(&self) -> u8 {
        self.b.get(self.i).copied().unwrap_or(0)
    }

    fn bump(&mut self) {
        if let Some(&c) = self.b.get(self.i) {
            self.i += 1;
            if c == b'\n' {
                self.line += 1;
                self.col = 1;
            } else if c & 0xC0 != 0x80 {
                self.col += 1;
            }
        }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), b' ' | b'\t' | b'\n' | b'\r') {
            self.bump();
        }
    }

    fn err(&self, m: String) -> ScanError {
        (self.line, self.col, m)
    }

    /// Skips a string starting at `"`, returning its raw text including the quotes.
    fn string(&mut self) -> &str {
        let start = self.i;
        self.bump();
        loop {
            match self.peek() {
                0 => break,
                b'\\' => {
                    self.bump();
                    self.bump();
                }
                b'"' => {
                    self.bump();
                    break;
                }
                _ => self.bump(),
            }
        }
        std::str::from_utf8(&self.b[start..self.i]).unwrap_or("\"\"")
    }

    fn value(&mut self, ptr: &mut String, depth: usize, max_depth: usize) -> Result<(), ScanError> {
        self.ws();
        self.locs.insert(ptr, self.line, self.col);
        match self.peek() {
            b'{' | b'[' if depth >= max_depth => {
                Err(self.err(format!("nesting deeper than the limit of {max_depth} levels")))
            }
            b'{' => {
                self.bump();
                let mut seen = HashSet::new();
                loop {
                    self.ws();
                    if self.peek() == b'}' {
                        self.bump();
                        return Ok(());
                    }
                    if self.peek() == b',' {
                        self.bump();
                        continue;
                    }
                    let (line, col) = (self.line, self.col);
                    let raw = self.string().to_string();
                    let key: String = serde_json::from_str(&raw).unwrap_or_default();
                    if !seen.insert(key.clone()) {
                        return Err((line, col, format!("duplicate key {key:?}")));
                    }
                    self.ws();
                    self.bump(); // ':'
                    let len = ptr.len();
                    push_segment(ptr, &key);
                    self.value(ptr, depth + 1, max_depth)?;
                    ptr.truncate(len);
                }
            }
            b'[' => {
                self.bump();
                let mut idx = 0usize;
                loop {
                    self.ws();
                    match self.peek() {
                        b']' | 0 => {
                            self.bump();
                            return Ok(());
                        }
                        b',' => self.bump(),
                        _ => {
                            let len = ptr.len();
                            push_segment(ptr, &idx.to_string());
                            self.value(ptr, depth + 1, max_depth)?;
                            ptr.truncate(len);
                            idx += 1;
                        }
                    }
                }
            }
            b'"' => {
                self.string();
                Ok(())
            }
            _ => {
                while !matches!(self.peek(), b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' | 0) {
                    self.bump();
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests;
