//! Registries: located errors for malformed CSV, ownership semantics, filters, round trips.

use std::collections::BTreeMap;
use std::path::Path;

use cp_kernel::{
    FrameworkRow, OwnershipRow, RegistryError, RegistryKind, append_rows, current_ownership, read_kind_table,
    read_rows, read_table, write_rows,
};
use proptest::prelude::*;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const FW_HEADER: &str = "framework_id,title,status,version,plane_id,created_at\n";

fn located(e: &RegistryError) -> (u64, u64) {
    match e {
        RegistryError::Malformed { line, column, .. } => (*line, *column),
        other => panic!("expected Malformed, got {other}"),
    }
}

#[test]
fn unequal_field_count_names_file_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "frameworks_registry.csv",
        &format!("{FW_HEADER}FMWK-000,Gov,active,1.0.0,p,t\nFMWK-001,Prov,active\n"),
    );
    let e = read_rows::<FrameworkRow>(&p, RegistryKind::Frameworks).unwrap_err();
    assert_eq!(located(&e), (3, 4));
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("{}:3:4: ", p.display())), "{msg}");
    let e = read_table(&p).unwrap_err();
    assert_eq!(located(&e), (3, 4));
}

#[test]
fn bad_quoting_names_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    let cases = [
        ("a,b\"c,x,y,z,w\n", (2, 4)),     // quote inside an unquoted field
        ("\"ab\"c,x,y,z,w,v\n", (2, 4)),  // text after the closing quote
        ("x,\"never closed,y\n", (2, 3)), // unterminated
    ];
    for (row, want) in cases {
        let p = write(d.path(), "frameworks_registry.csv", &format!("{FW_HEADER}{row}"));
        let e = read_rows::<FrameworkRow>(&p, RegistryKind::Frameworks).unwrap_err();
        assert_eq!(located(&e), want, "{row:?}: {e}");
        assert!(e.to_string().contains("frameworks_registry.csv:"), "{e}");
    }
    // Properly quoted fields (separator, doubled quote, newline inside) are fine.
    let p = write(
        d.path(),
        "frameworks_registry.csv",
        &format!("{FW_HEADER}FMWK-1,\"A, \"\"quoted\"\"\nline\",active,1.0.0,p,t\n"),
    );
    let rows = read_rows::<FrameworkRow>(&p, RegistryKind::Frameworks).unwrap();
    assert_eq!(rows[0].title, "A, \"quoted\"\nline");
}

#[test]
fn wrong_header_names_the_first_differing_column() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "frameworks_registry.csv", "framework_id,name,status,version,plane_id,created_at\n");
    let e = read_rows::<FrameworkRow>(&p, RegistryKind::Frameworks).unwrap_err();
    assert!(matches!(e, RegistryError::Header { .. }), "{e}");
    assert!(e.to_string().starts_with(&format!("{}:1:14: header", p.display())), "{e}");
    assert!(read_kind_table(&p, RegistryKind::Frameworks).is_err());
}

fn own(path: &str, pkg: &str, replaced: &str, by: &str) -> OwnershipRow {
    OwnershipRow {
        file_path: path.into(),
        package_id: pkg.into(),
        sha256: format!("sha256:{}", "a".repeat(64)),
        classification: "schema".into(),
        installed_date: "2026-11-22T00:00:00Z".into(),
        replaced_date: replaced.into(),
        superseded_by: by.into(),
    }
}

#[test]
fn ownership_last_row_wins() {
    let rows = vec![
        own("HOT/a.json", "PKG-A", "", ""),
        own("HOT/b.json", "PKG-A", "", ""),
        own("HOT/c.json", "PKG-A", "", ""),
        // a.json transferred to PKG-B: the transfer row, then the new owner's row.
        own("HOT/a.json", "PKG-A", "2026-11-23T00:00:00Z", "PKG-B"),
        own("HOT/a.json", "PKG-B", "", ""),
        // c.json removed by uninstall.
        own("HOT/c.json", "PKG-A", "2026-11-23T00:00:00Z", "-"),
    ];
    let cur = current_ownership(&rows);
    assert_eq!(cur.keys().collect::<Vec<_>>(), ["HOT/a.json", "HOT/b.json"]);
    assert_eq!(cur["HOT/a.json"].package_id, "PKG-B");
    assert_eq!(cur["HOT/b.json"].package_id, "PKG-A");
    // Re-adding a removed path makes it owned again.
    let mut more = rows.clone();
    more.push(own("HOT/c.json", "PKG-C", "", ""));
    assert_eq!(current_ownership(&more)["HOT/c.json"].package_id, "PKG-C");
}

#[test]
fn append_creates_header_once_and_round_trips() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("sub/file_ownership.csv");
    append_rows(&p, RegistryKind::FileOwnership, &[own("HOT/a.json", "PKG-A", "", "")]).unwrap();
    append_rows(
        &p,
        RegistryKind::FileOwnership,
        &[own("HOT/b.json", "PKG-A", "", ""), own("HOT/a.json", "PKG-B", "", "")],
    )
    .unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert_eq!(text.matches("file_path,package_id").count(), 1, "{text}");
    assert_eq!(text.lines().count(), 4);
    let rows: Vec<OwnershipRow> = read_rows(&p, RegistryKind::FileOwnership).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(current_ownership(&rows)["HOT/a.json"].package_id, "PKG-B");
}

#[test]
fn filtered_lookup() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("file_ownership.csv");
    write_rows(
        &p,
        RegistryKind::FileOwnership,
        &[own("HOT/a", "PKG-A", "", ""), own("HOT/b", "PKG-B", "", ""), own("HOT/c", "PKG-A", "", "")],
    )
    .unwrap();
    let t = read_kind_table(&p, RegistryKind::FileOwnership).unwrap();
    let f: BTreeMap<String, String> = [("package_id".to_string(), "PKG-A".to_string())].into();
    let hits = t.filter(&f);
    assert_eq!(hits.iter().map(|m| m["file_path"].as_str()).collect::<Vec<_>>(), ["HOT/a", "HOT/c"]);
    let f2: BTreeMap<String, String> =
        [("package_id".to_string(), "PKG-A".to_string()), ("file_path".to_string(), "HOT/c".to_string())].into();
    assert_eq!(t.filter(&f2).len(), 1);
    let none: BTreeMap<String, String> = [("no_such_column".to_string(), "x".to_string())].into();
    assert!(t.filter(&none).is_empty());
    // A missing file is an empty table with the registry's columns.
    let empty = read_kind_table(&d.path().join("missing.csv"), RegistryKind::Specs).unwrap();
    assert_eq!(empty.columns, RegistryKind::Specs.columns());
    assert!(empty.rows.is_empty());
}

proptest! {
    #[test]
    fn write_read_round_trip(titles in proptest::collection::vec("[ -~\\n\u{e9}\u{4e2d}]{0,20}", 0..8)) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("frameworks_registry.csv");
        let rows: Vec<FrameworkRow> = titles
            .iter()
            .enumerate()
            .map(|(i, t)| FrameworkRow {
                framework_id: format!("FMWK-{i:03}"),
                title: t.clone(),
                status: "active".into(),
                version: "1.0.0".into(),
                plane_id: "p".into(),
                created_at: "2026-11-22T00:00:00Z".into(),
            })
            .collect();
        write_rows(&p, RegistryKind::Frameworks, &rows).unwrap();
        let back: Vec<FrameworkRow> = read_rows(&p, RegistryKind::Frameworks).unwrap();
        prop_assert_eq!(back, rows);
    }
}
