//! Finds the line and column of a JSON pointer (`/pipeline/2/config/max_entries`) in a YAML or
//! JSON document, so that issues found after parsing (schema violations without a location,
//! stage validation) still point into the file. Uses `serde_saphyr::Spanned` over a small node
//! tree; JSON is YAML, so one parser covers both.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A YAML node with the location of each child.
enum Node {
    Map(Vec<(String, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Leaf,
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Node, A::Error> {
        let mut v = Vec::new();
        while let Some(k) = m.next_key::<serde_json::Value>()? {
            let key = match k {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            v.push((key, m.next_value::<Spanned<Node>>()?));
        }
        Ok(Node::Map(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Node, A::Error> {
        let mut v = Vec::new();
        while let Some(n) = s.next_element::<Spanned<Node>>()? {
            v.push(n);
        }
        Ok(Node::Seq(v))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

/// Line and column (1-based) of the deepest node of `pointer` present in `text`.
pub(crate) fn locate(text: &str, pointer: &str) -> Option<(usize, usize)> {
    let root: Spanned<Node> = serde_saphyr::from_str(text).ok()?;
    let mut cur = &root;
    let mut best = None;
    for raw in pointer.split('/').skip(1) {
        let part = raw.replace("~1", "/").replace("~0", "~");
        let next = match &cur.value {
            Node::Map(kv) => kv.iter().find(|(k, _)| *k == part).map(|(_, v)| v),
            Node::Seq(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            Node::Leaf => None,
        };
        match next {
            Some(n) => {
                cur = n;
                if n.referenced.line() > 0 {
                    best = Some((n.referenced.line() as usize, n.referenced.column() as usize));
                }
            }
            None => break,
        }
    }
    best
}
