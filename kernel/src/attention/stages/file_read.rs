//! `file_read`: reads plane files into fragments. Paths are plane-relative and resolved with
//! `Plane::resolve` (no absolute paths, no `..`, no symlink escapes). A file is read at most up
//! to `max_size_bytes` and to the remaining token budget, whichever is smaller.

use std::io::Read;

use serde::{Deserialize, Serialize};

use super::{Producer, StageCtx, StageRun};
use crate::attention::context::{BudgetLimit, FragmentSource};
use crate::plane::normalize_relative;

/// Config of `file_read`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileReadConfig {
    /// Plane-relative paths (`HOT/config/x.yaml`). In a template, `paths: []` is the slot the
    /// prompt contract's `file_refs` are merged into.
    pub paths: Vec<String>,
    /// Maximum bytes read per file (required); larger files are cut with a warning.
    pub max_size_bytes: u64,
}

impl FileReadConfig {
    /// Pure checks: every path is plane-relative without escapes.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, p) in self.paths.iter().enumerate() {
            if let Err(e) = normalize_relative(p) {
                out.push((format!("/paths/{i}"), format!("refused: {e}")));
            }
        }
        if self.max_size_bytes == 0 {
            out.push(("/max_size_bytes".into(), "must be at least 1".into()));
        }
        out
    }

    pub(crate) fn run(&self, ctx: &mut StageCtx<'_>) -> StageRun {
        let mut p = Producer::default();
        for rel in &self.paths {
            if let Err(limit) = ctx.check_time() {
                p.hit = Some(limit);
                break;
            }
            let remaining = ctx.remaining_tokens();
            if remaining == 0 {
                p.hit = Some(BudgetLimit::Tokens);
                break;
            }
            let path = match ctx.env.plane.resolve(rel) {
                Ok(p) => p,
                Err(e) => {
                    p.errors += 1;
                    ctx.warn(format_args!("file {rel} refused: {e}"));
                    continue;
                }
            };
            if crate::attention::pipeline::never_read(&ctx.env.plane, &path) {
                p.errors += 1;
                ctx.warn(format_args!("file {rel} refused: the operator area, ledgers and staging are never read"));
                continue;
            }
            if !path.is_file() {
                p.errors += 1;
                ctx.warn(format_args!("file {rel} not found"));
                continue;
            }
            // Bytes that can still fit: the token budget in characters (at most 4 bytes each
            // in UTF-8), capped by max_size_bytes.
            let budget_chars = (remaining as f64 * ctx.env.config.chars_per_token).ceil() as u64;
            let cap = self.max_size_bytes.min(budget_chars.saturating_mul(4));
            let (bytes, total) = match read_prefix(&path, cap) {
                Ok(x) => x,
                Err(e) => {
                    p.errors += 1;
                    ctx.warn(format_args!("file {rel}: {e}"));
                    continue;
                }
            };
            let mut text = String::from_utf8_lossy(&bytes).into_owned();
            if total > bytes.len() as u64 {
                // Drop a possibly split trailing character.
                if text.ends_with('\u{FFFD}') {
                    text.pop();
                }
                if total > self.max_size_bytes {
                    p.truncated = true;
                    ctx.warn(format_args!("file {rel} cut to max_size_bytes {} (size {total})", self.max_size_bytes));
                }
            }
            let f = ctx.fragment(
                FragmentSource::File,
                normalize_relative(rel).unwrap_or_else(|_| rel.clone()),
                text,
                None,
                None,
            );
            if let Err(limit) = ctx.add(&mut p, f) {
                p.hit = Some(limit);
                break;
            }
        }
        p.finish()
    }
}

/// Reads at most `cap` bytes of `path`; returns them and the file's size.
fn read_prefix(path: &std::path::Path, cap: u64) -> Result<(Vec<u8>, u64), crate::fsx::FsError> {
    let f = crate::fsx::open(path)?;
    let total = f.metadata().map_err(|e| crate::fsx::FsError::new("stat", path, e))?.len();
    let mut buf = Vec::with_capacity(usize::try_from(cap.min(total)).unwrap_or(0));
    f.take(cap).read_to_end(&mut buf).map_err(|e| crate::fsx::FsError::new("read", path, e))?;
    Ok((buf, total))
}
