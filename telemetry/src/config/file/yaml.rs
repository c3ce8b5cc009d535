//! The YAML of a configuration file as a tree of [`Node`]s, each with its line and
//! column: built from the parser's events, with environment substitution applied to
//! every scalar value (never to a mapping key) before its type is resolved by YAML
//! 1.2's core schema. A quoted scalar stays a string whatever it holds, and a value
//! can never bring YAML structure with it: it is already one scalar when substituted.

use std::collections::BTreeMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::substitute::{substitute, InvalidReference};

/// Nesting deeper than this is refused (a hostile file cannot exhaust the stack).
const MAX_DEPTH: usize = 64;
/// Nodes past this are refused (aliases cannot blow a small file up).
const MAX_NODES: usize = 100_000;

/// One value of the file, and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column.
    pub(crate) column: usize,
}

/// A resolved YAML value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string; `text` of the other scalars is their source form.
    Str(String),
    Seq(Vec<Node>),
    /// Keys in the file's order.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The scalar as text, as written after substitution (`None` for collections).
    pub(crate) fn text(&self) -> Option<String> {
        Some(match &self.value {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(x) => x.to_string(),
            Value::Str(s) => s.clone(),
            Value::Seq(_) | Value::Map(_) => return None,
        })
    }

    /// The value as shown in a message: scalars as text, collections by kind.
    pub(crate) fn shown(&self) -> String {
        match &self.value {
            Value::Seq(_) => "a list".into(),
            Value::Map(_) => "a mapping".into(),
            _ => self.text().unwrap_or_default(),
        }
    }
}

/// Why the text is not a usable YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum YamlError {
    /// Bad syntax or shape, at a 1-based line and column.
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// An invalid `${...}` reference in the scalar at a line and column.
    Substitution {
        line: usize,
        column: usize,
        reference: String,
    },
}

/// Parses the first document of `text`, substituting from `vars`. An empty file gives
/// `Null`.
pub(crate) fn parse(text: &str, vars: &BTreeMap<String, String>) -> Result<Node, YamlError> {
    let mut builder = Builder {
        parser: Parser::new_from_str(text),
        vars,
        anchors: BTreeMap::new(),
        nodes: 0,
    };
    builder.document()
}

struct Builder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    vars: &'a BTreeMap<String, String>,
    anchors: BTreeMap<usize, Node>,
    nodes: usize,
}

fn at(span: &Span) -> (usize, usize) {
    (span.start.line(), span.start.col() + 1)
}

fn syntax(span: &Span, message: impl Into<String>) -> YamlError {
    let (line, column) = at(span);
    YamlError::Syntax {
        line,
        column,
        message: message.into(),
    }
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        match self.parser.next_event() {
            Some(Ok(event)) => Ok(event),
            Some(Err(e)) => Err(YamlError::Syntax {
                line: e.marker().line(),
                column: e.marker().col() + 1,
                message: format!("not valid YAML: {}", e.info()),
            }),
            None => Err(YamlError::Syntax {
                line: 1,
                column: 1,
                message: "not valid YAML: the text ends early".into(),
            }),
        }
    }

    fn document(&mut self) -> Result<Node, YamlError> {
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::Nothing => continue,
                Event::StreamEnd => {
                    return Ok(Node {
                        value: Value::Null,
                        line: 1,
                        column: 1,
                    })
                }
                Event::DocumentStart(_) => break,
                _ => return Err(syntax(&span, "not valid YAML: no document")),
            }
        }
        let (event, span) = self.next()?;
        let root = self.node(event, span, 0)?;
        // One document only: a second one would be silently ignored otherwise.
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::DocumentEnd | Event::Nothing => continue,
                Event::StreamEnd => return Ok(root),
                _ => {
                    return Err(syntax(
                        &span,
                        "a second YAML document: a configuration file holds one",
                    ))
                }
            }
        }
    }

    fn count(&mut self, span: &Span) -> Result<(), YamlError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(syntax(
                span,
                format!(
                    "more than {MAX_NODES} values (aliases included): not a configuration file"
                ),
            ));
        }
        Ok(())
    }

    fn node(&mut self, event: Event<'a>, span: Span, depth: usize) -> Result<Node, YamlError> {
        if depth > MAX_DEPTH {
            return Err(syntax(
                &span,
                format!("nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.count(&span)?;
        let (line, column) = at(&span);
        let (value, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let quoted = style != ScalarStyle::Plain;
                let forced_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let text = substitute(&text, self.vars).map_err(|InvalidReference(r)| {
                    YamlError::Substitution {
                        line,
                        column,
                        reference: r,
                    }
                })?;
                let value = if quoted || forced_str {
                    Value::Str(text)
                } else {
                    resolve_plain(text)
                };
                (value, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, span, depth + 1)?);
                }
                (Value::Seq(items), anchor)
            }
            Event::MappingStart(anchor, _) => {
                let mut entries: Vec<(String, Node)> = Vec::new();
                loop {
                    let (event, key_span) = self.next()?;
                    let key = match event {
                        Event::MappingEnd => break,
                        // Keys are never substituted.
                        Event::Scalar(text, ..) => text.into_owned(),
                        _ => {
                            return Err(syntax(
                                &key_span,
                                "a mapping key that is not a plain word: keys are names",
                            ))
                        }
                    };
                    if entries.iter().any(|(k, _)| *k == key) {
                        return Err(syntax(&key_span, format!("the key `{key}` appears twice")));
                    }
                    let (event, span) = self.next()?;
                    let value = self.node(event, span, depth + 1)?;
                    entries.push((key, value));
                }
                (Value::Map(entries), anchor)
            }
            Event::Alias(id) => {
                let Some(node) = self.anchors.get(&id).cloned() else {
                    return Err(syntax(&span, "an alias to no anchor"));
                };
                self.nodes += weight(&node);
                if self.nodes > MAX_NODES {
                    return Err(syntax(
                        &span,
                        "aliases expand past the size of a configuration file",
                    ));
                }
                return Ok(Node {
                    value: node.value,
                    line,
                    column,
                });
            }
            _ => return Err(syntax(&span, "not valid YAML here")),
        };
        let node = Node {
            value,
            line,
            column,
        };
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }
}

/// How many nodes `node` holds, itself included.
fn weight(node: &Node) -> usize {
    1 + match &node.value {
        Value::Seq(items) => items.iter().map(weight).sum(),
        Value::Map(entries) => entries.iter().map(|(_, v)| weight(v)).sum(),
        _ => 0,
    }
}

/// The type of a plain scalar by YAML 1.2's core schema.
fn resolve_plain(text: String) -> Value {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let int = |digits: &str, radix: u32| -> Option<i64> {
        (!digits.is_empty() && digits.chars().all(|c| c.is_digit(radix)))
            .then(|| i64::from_str_radix(digits, radix).ok())
            .flatten()
    };
    if let Some(hex) = text.strip_prefix("0x") {
        if let Some(n) = int(hex, 16) {
            return Value::Int(n);
        }
    } else if let Some(oct) = text.strip_prefix("0o") {
        if let Some(n) = int(oct, 8) {
            return Value::Int(n);
        }
    } else {
        let unsigned = text.strip_prefix(['-', '+']).unwrap_or(&text);
        if !unsigned.is_empty() && unsigned.chars().all(|c| c.is_ascii_digit()) {
            if let Ok(n) = text.parse::<i64>() {
                return Value::Int(n);
            }
        }
        if is_core_float(unsigned) {
            if let Ok(x) = text.parse::<f64>() {
                return Value::Float(x);
            }
        }
    }
    Value::Str(text)
}

/// `(\.[0-9]+ | [0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the sign already taken off.
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}
