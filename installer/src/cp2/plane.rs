//! Recognising a plane installed by Control Plane v2 (the Python system), so that read-only
//! commands can say what it is instead of failing on its layout.
//!
//! Signs: a Python ledger (`HOT/ledger/packages.jsonl` or `governance.jsonl`) with its
//! `index.jsonl` beside it (a native plane never writes `index.jsonl`); a Python-shaped
//! `HOT/config/layout.json` (its `tiers` an object, or no `governed_roots`); a receipt under
//! `HOT/installed/*/receipt.json` that is not a native receipt. The ledger sign alone, or the
//! layout and receipt signs together, make a v2 plane: a native plane with a damaged layout or
//! receipt is not mistaken for one (it is repaired, not migrated).

use std::path::{Path, PathBuf};

use serde::Serialize;

use cp_kernel::{LAYOUT_PATH, Layout, Receipt, fsx};

/// Why a directory looks like a v2 plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cp2PlaneSigns {
    /// The root.
    pub root: PathBuf,
    /// One line per sign found.
    pub signs: Vec<String>,
}

impl Cp2PlaneSigns {
    /// The message read-only commands print: what the plane is, why, and the command to
    /// migrate it.
    pub fn message(&self) -> String {
        format!(
            "CP2_PLANE: {} is a Control Plane v2 (Python) plane ({}); native commands do not run on it in \
             place (it is left unchanged). Migrate it into a new native plane with: \
             cpctl plane migrate --from-cp2 {} --root NEW_ROOT",
            self.root.display(),
            self.signs.join("; "),
            self.root.display()
        )
    }
}

fn layout_sign(root: &Path) -> Option<String> {
    let bytes = fsx::read(root.join(LAYOUT_PATH)).ok()?;
    if serde_json::from_slice::<Layout>(&bytes).is_ok() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let python = v.get("tiers").is_some_and(serde_json::Value::is_object) || v.get("governed_roots").is_none();
    python.then(|| format!("{LAYOUT_PATH} is in the Python layout format"))
}

fn ledger_sign(root: &Path) -> Option<String> {
    let dir = root.join("HOT/ledger");
    if !dir.join("index.jsonl").is_file() {
        return None;
    }
    ["packages.jsonl", "governance.jsonl"]
        .into_iter()
        .find(|f| dir.join(f).is_file())
        .map(|f| format!("HOT/ledger/{f} with index.jsonl (Python ledgers)"))
}

fn receipt_sign(root: &Path) -> Option<String> {
    let entries = fsx::read_dir(root.join("HOT/installed")).ok()?;
    entries.iter().find_map(|e| {
        let bytes = fsx::read(e.path().join("receipt.json")).ok()?;
        serde_json::from_slice::<Receipt>(&bytes)
            .is_err()
            .then(|| format!("HOT/installed/{}/receipt.json is a Python receipt", e.file_name().to_string_lossy()))
    })
}

/// The v2 signs of `root`, or `None` for anything else (a native plane, not a plane).
pub fn detect_cp2_plane(root: &Path) -> Option<Cp2PlaneSigns> {
    let ledger = ledger_sign(root);
    let layout = layout_sign(root);
    // Receipts are read only when another sign is there (a native plane pays two stats and one
    // small read per command).
    let receipt = if ledger.is_some() || layout.is_some() { receipt_sign(root) } else { None };
    if ledger.is_none() && (layout.is_none() || receipt.is_none()) {
        return None;
    }
    let signs: Vec<String> = [ledger, layout, receipt].into_iter().flatten().collect();
    Some(Cp2PlaneSigns { root: root.to_path_buf(), signs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_ambiguous_sign_is_not_a_v2_plane_but_the_ledger_or_two_signs_are() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(detect_cp2_plane(root), None);
        fsx::create_dir_all(root.join("HOT/config")).unwrap();
        fsx::write(root.join(LAYOUT_PATH), r#"{"tiers": {"HOT": {"path": "HOT"}}}"#).unwrap();
        assert_eq!(detect_cp2_plane(root), None, "a damaged layout alone is repaired, not migrated");
        fsx::create_dir_all(root.join("HOT/installed/PKG-A-001")).unwrap();
        fsx::write(root.join("HOT/installed/PKG-A-001/receipt.json"), r#"{"package_id": "PKG-A-001"}"#).unwrap();
        assert_eq!(detect_cp2_plane(root).map(|s| s.signs.len()), Some(2));
        let only_ledger = tempfile::tempdir().unwrap();
        let l = only_ledger.path().join("HOT/ledger");
        fsx::create_dir_all(&l).unwrap();
        fsx::write(l.join("governance.jsonl"), "").unwrap();
        assert_eq!(detect_cp2_plane(only_ledger.path()), None, "no index.jsonl: could be a native JSONL ledger");
        fsx::write(l.join("index.jsonl"), "").unwrap();
        let s = detect_cp2_plane(only_ledger.path()).unwrap();
        assert!(s.message().starts_with("CP2_PLANE: "), "{}", s.message());
        assert!(s.message().contains("cpctl plane migrate --from-cp2"), "{}", s.message());
    }
}
