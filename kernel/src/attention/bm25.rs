//! A small in-memory BM25 inverted index (Okapi BM25) for `horizontal_search`.
//!
//! Tokens: maximal runs of alphanumeric characters, lower-cased, at least `min_term_chars`
//! long. Score of a document for a query: `Σ_t idf(t) · tf·(k1+1) / (tf + k1·(1 − b + b·dl/avgdl))`
//! with `idf(t) = ln(1 + (N − n_t + 0.5)/(n_t + 0.5))`, over the distinct query terms. Scores are
//! normalised to 0–1 by dividing by the query's upper bound `Σ_t idf(t)·(k1+1)` (the score of a
//! document that contains every query term with saturated frequency), so a threshold means the
//! same thing across queries.

use std::collections::HashMap;

/// BM25 parameters (from the stage config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bm25Params {
    /// Term-frequency saturation.
    pub k1: f64,
    /// Length normalisation (0–1).
    pub b: f64,
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SearchHit {
    /// Document number (order of [`Bm25Index::add`]).
    pub doc: usize,
    /// Normalised score, 0–1.
    pub score: f64,
}

/// An inverted index over documents added in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bm25Index {
    min_term_chars: usize,
    postings: HashMap<String, Vec<(u32, u32)>>,
    doc_len: Vec<u32>,
    total_len: u64,
}

impl Bm25Index {
    /// An empty index keeping terms of at least `min_term_chars` characters.
    pub(crate) fn new(min_term_chars: usize) -> Self {
        Self { min_term_chars, ..Self::default() }
    }

    /// The terms of `text`.
    pub(crate) fn terms<'a>(&self, text: &'a str) -> impl Iterator<Item = String> + 'a {
        let min = self.min_term_chars;
        text.split(|c: char| !c.is_alphanumeric()).filter(move |t| t.chars().count() >= min).map(str::to_lowercase)
    }

    /// Adds a document; returns its number.
    pub(crate) fn add(&mut self, text: &str) -> usize {
        let doc = self.doc_len.len();
        let mut tf: HashMap<String, u32> = HashMap::new();
        let mut len = 0u32;
        for t in self.terms(text) {
            *tf.entry(t).or_default() += 1;
            len += 1;
        }
        let id = u32::try_from(doc).unwrap_or(u32::MAX);
        for (t, n) in tf {
            self.postings.entry(t).or_default().push((id, n));
        }
        self.doc_len.push(len);
        self.total_len += u64::from(len);
        doc
    }

    /// The best `max_results` documents accepted by `keep` with a normalised score of at least
    /// `threshold` (and above 0), best first; ties by document number.
    pub(crate) fn search(
        &self,
        query: &str,
        params: Bm25Params,
        max_results: usize,
        threshold: f64,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<SearchHit> {
        let n = self.doc_len.len() as f64;
        if n == 0.0 || max_results == 0 {
            return Vec::new();
        }
        let avgdl = (self.total_len as f64 / n).max(1.0);
        let mut terms: Vec<String> = self.terms(query).collect();
        terms.sort();
        terms.dedup();
        let mut upper = 0.0;
        let mut scores: HashMap<u32, f64> = HashMap::new();
        for t in &terms {
            let posting = self.postings.get(t);
            let df = posting.map_or(0, Vec::len) as f64;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            upper += idf * (params.k1 + 1.0);
            for &(doc, tf) in posting.into_iter().flatten() {
                let tf = f64::from(tf);
                let dl = f64::from(self.doc_len[doc as usize]);
                let s = idf * tf * (params.k1 + 1.0) / (tf + params.k1 * (1.0 - params.b + params.b * dl / avgdl));
                *scores.entry(doc).or_default() += s;
            }
        }
        if upper <= 0.0 {
            return Vec::new();
        }
        let mut hits: Vec<SearchHit> = scores
            .into_iter()
            .map(|(doc, s)| SearchHit { doc: doc as usize, score: (s / upper).clamp(0.0, 1.0) })
            .filter(|h| h.score > 0.0 && h.score >= threshold && keep(h.doc))
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc)));
        hits.truncate(max_results);
        hits
    }
}
