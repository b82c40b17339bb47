//! An error's message with its causes, for reports that keep the located detail of a document
//! error (which lives in its source).

/// `e`'s message followed by each of its sources, joined by `: `.
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}
