//! YAML documents with the line of every node, and a block-style writer.
//!
//! Manifests are parsed with `saphyr-parser`'s event stream into [`Node`]s that keep their
//! 1-based line and column, so every error and finding can point at the line a user wrote.
//! Anchors and aliases are resolved by copying the anchored node. [`emit`] writes a node back
//! as block YAML (plain scalars stay plain, others are written double-quoted), which is how
//! patches and patched manifests are written.

use std::collections::BTreeMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::error::CheckError;

/// A parsed YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// For a mapping value: the 1-based line of its key (0 otherwise). A block value starts on
    /// the line after its key; errors and findings point at the key.
    pub key_line: usize,
    /// What the node holds.
    pub value: Value,
}

/// The content of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar; `plain` when it was written unquoted (so `"1"` stays a string and `1` an
    /// integer, as Kubernetes reads them).
    Scalar {
        /// The scalar's text.
        text: String,
        /// Written without quotes.
        plain: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, keys in the order written.
    Map(Vec<(String, Node)>),
}

/// One document of a multi-document stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// The file it came from (`-` for standard input).
    pub file: String,
    /// The 0-based index of the document in its file.
    pub index: usize,
    /// The document's root.
    pub root: Node,
}

impl Node {
    /// A plain scalar node (for building patches).
    pub fn plain(text: impl Into<String>) -> Node {
        Node {
            line: 0,
            col: 0,
            key_line: 0,
            value: Value::Scalar {
                text: text.into(),
                plain: true,
            },
        }
    }

    /// A quoted string node.
    pub fn string(text: impl Into<String>) -> Node {
        Node {
            line: 0,
            col: 0,
            key_line: 0,
            value: Value::Scalar {
                text: text.into(),
                plain: false,
            },
        }
    }

    /// A mapping node from entries.
    pub fn map(entries: Vec<(&str, Node)>) -> Node {
        Node {
            line: 0,
            col: 0,
            key_line: 0,
            value: Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            ),
        }
    }

    /// A sequence node.
    pub fn seq(items: Vec<Node>) -> Node {
        Node {
            line: 0,
            col: 0,
            key_line: 0,
            value: Value::Seq(items),
        }
    }

    /// The line to point at: the key's line for a mapping value, else the node's own.
    pub fn at(&self) -> usize {
        if self.key_line > 0 {
            self.key_line
        } else {
            self.line
        }
    }

    /// The value under `key` when this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value under `key`, created as an empty mapping if absent (for patching).
    pub fn entry(&mut self, key: &str) -> Option<&mut Node> {
        let Value::Map(entries) = &mut self.value else {
            return None;
        };
        let i = match entries.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                entries.push((key.to_string(), Node::map(vec![])));
                entries.len() - 1
            }
        };
        Some(&mut entries[i].1)
    }

    /// The scalar text, if this is a scalar that is not null.
    pub fn scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, plain } if !(*plain && is_null(text)) => Some(text),
            _ => None,
        }
    }

    /// `true` for a null scalar (`null`, `~`, empty).
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if is_null(text))
    }

    /// The items when this is a sequence.
    pub fn items(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(v) => Some(v),
            _ => None,
        }
    }

    /// The entries when this is a mapping.
    pub fn entries(&self) -> Option<&[(String, Node)]> {
        match &self.value {
            Value::Map(v) => Some(v),
            _ => None,
        }
    }

    /// A short name of the node's type, for errors.
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Scalar { .. } if self.is_null() => "null",
            Value::Scalar { .. } => "scalar",
            Value::Seq(_) => "sequence",
            Value::Map(_) => "mapping",
        }
    }
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

enum Frame {
    Seq(Node, usize),
    Map(Node, Option<(String, usize)>, usize),
}

fn node_at(span: &Span, value: Value) -> Node {
    Node {
        line: span.start.line(),
        col: span.start.col() + 1,
        key_line: 0,
        value,
    }
}

/// Parses every document of `text`; `file` names the source in errors. Empty documents (only
/// comments) are left out.
pub fn parse(text: &str, file: &str) -> Result<Vec<Doc>, CheckError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: BTreeMap<usize, Node> = BTreeMap::new();
    let mut root: Option<Node> = None;
    let mut index = 0usize;
    let not_yaml = |line: usize, col: usize, reason: String| CheckError::NotYaml {
        file: file.to_string(),
        line,
        col,
        reason,
    };
    for ev in Parser::new_from_str(text) {
        let (event, span) = ev.map_err(|e| {
            not_yaml(
                e.marker().line(),
                e.marker().col() + 1,
                e.info().to_string(),
            )
        })?;
        let finished: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                root = None;
                anchors.clear();
                None
            }
            Event::DocumentEnd => {
                if let Some(r) = root.take()
                    && !r.is_null()
                {
                    docs.push(Doc {
                        file: file.to_string(),
                        index,
                        root: r,
                    });
                }
                index += 1;
                None
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(n) => {
                    let mut n = n.clone();
                    n.line = span.start.line();
                    n.col = span.start.col() + 1;
                    Some((n, 0))
                }
                None => {
                    return Err(not_yaml(
                        span.start.line(),
                        span.start.col() + 1,
                        "alias to an unknown anchor".into(),
                    ));
                }
            },
            Event::Scalar(text, style, anchor, _) => Some((
                node_at(
                    &span,
                    Value::Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                ),
                anchor,
            )),
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(node_at(&span, Value::Seq(Vec::new())), anchor));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(
                    node_at(&span, Value::Map(Vec::new())),
                    None,
                    anchor,
                ));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(n, a)) => Some((n, a)),
                _ => return Err(not_yaml(span.start.line(), 1, "unbalanced sequence".into())),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(n, _, a)) => Some((n, a)),
                _ => return Err(not_yaml(span.start.line(), 1, "unbalanced mapping".into())),
            },
        };
        let Some((node, anchor)) = finished else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq(seq, _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Frame::Map(map, key, _)) => match key.take() {
                None => match node.value {
                    Value::Scalar { text, .. } => *key = Some((text, node.line)),
                    _ => {
                        return Err(not_yaml(
                            node.line,
                            node.col,
                            "a mapping key must be a scalar".into(),
                        ));
                    }
                },
                Some((k, key_line)) => {
                    let mut node = node;
                    node.key_line = key_line;
                    if let Value::Map(entries) = &mut map.value {
                        if entries.iter().any(|(e, _)| *e == k) {
                            return Err(not_yaml(
                                node.line,
                                node.col,
                                format!("duplicate key {k:?}"),
                            ));
                        }
                        entries.push((k, node));
                    }
                }
            },
        }
    }
    Ok(docs)
}

/// Writes `node` as block YAML (no trailing document marker).
pub fn emit(node: &Node) -> String {
    let mut out = String::new();
    match &node.value {
        Value::Scalar { text, plain } => {
            out.push_str(&scalar_text(text, *plain));
            out.push('\n');
        }
        _ => block(node, 0, &mut out),
    }
    out
}

fn scalar_text(text: &str, plain: bool) -> String {
    let safe = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./@%+=-~".contains(c))
        && !text.starts_with(['-', '@', '%', '~']);
    if plain && is_null(text) {
        "null".into()
    } else if safe && (plain || !looks_typed(text)) {
        text.to_string()
    } else {
        serde_json::Value::String(text.to_string()).to_string()
    }
}

/// A plain scalar YAML would read as something other than a string.
fn looks_typed(text: &str) -> bool {
    is_null(text)
        || matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | ".inf" | ".nan"
        )
        || text.parse::<f64>().is_ok()
        || text.starts_with("0x")
        || text.starts_with("0o")
}

/// A non-empty mapping or sequence at `indent`, each line padded.
fn block(node: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match &node.value {
        Value::Map(entries) if !entries.is_empty() => {
            for (k, v) in entries {
                out.push_str(&pad);
                out.push_str(&scalar_text(k, true));
                out.push(':');
                tail(v, indent, out);
            }
        }
        Value::Seq(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                match &item.value {
                    Value::Map(e) if !e.is_empty() => inline_block(item, indent + 2, out),
                    Value::Seq(i) if !i.is_empty() => inline_block(item, indent + 2, out),
                    _ => tail(item, indent, out),
                }
            }
        }
        _ => tail(node, indent, out),
    }
}

/// A block whose first line follows a `- ` already written.
fn inline_block(node: &Node, indent: usize, out: &mut String) {
    let mut s = String::new();
    block(node, indent, &mut s);
    out.push(' ');
    out.push_str(&s[indent..]);
}

/// What follows `key:` or `-`.
fn tail(v: &Node, indent: usize, out: &mut String) {
    match &v.value {
        Value::Scalar { text, plain } => {
            out.push(' ');
            out.push_str(&scalar_text(text, *plain));
            out.push('\n');
        }
        Value::Seq(items) if items.is_empty() => out.push_str(" []\n"),
        Value::Map(entries) if entries.is_empty() => out.push_str(" {}\n"),
        Value::Map(_) => {
            out.push('\n');
            block(v, indent + 2, out);
        }
        Value::Seq(_) => {
            out.push('\n');
            block(v, indent, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_documents() {
        let text = "a: 1\nb:\n  c: [x, y]\n---\n# only a comment\n---\nkind: Service\n";
        let docs = parse(text, "f.yaml").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].root.get("b").unwrap().get("c").unwrap().line, 3);
        assert_eq!(docs[1].index, 2);
        assert_eq!(docs[1].root.get("kind").unwrap().line, 7);
    }

    #[test]
    fn emit_round_trips() {
        let text = "a: 1\nb:\n  c:\n  - x\n  - name: n\n    v: \"1\"\n  d: {}\ne: \"a: b\"\n";
        let docs = parse(text, "f").unwrap();
        let out = emit(&docs[0].root);
        let again = parse(&out, "g").unwrap();
        assert_eq!(emit(&again[0].root), out);
        assert_eq!(
            again[0]
                .root
                .get("b")
                .unwrap()
                .get("c")
                .unwrap()
                .items()
                .unwrap()[1]
                .get("v")
                .unwrap()
                .value,
            Value::Scalar {
                text: "1".into(),
                plain: false
            }
        );
        assert_eq!(again[0].root.get("e").unwrap().scalar(), Some("a: b"));
    }

    #[test]
    fn bad_yaml_names_the_line() {
        let err = parse("a: 1\nb: [1, 2\n", "bad.yaml").unwrap_err();
        assert!(matches!(err, CheckError::NotYaml { ref file, .. } if file == "bad.yaml"));
        let err = parse("a: 1\na: 2\n", "dup.yaml").unwrap_err();
        assert!(err.to_string().contains("duplicate key"), "{err}");
    }
}
