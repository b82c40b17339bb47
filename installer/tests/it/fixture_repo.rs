//! A small repository of package sources (same shape as the real `packages/`), so that the
//! CLI can be exercised before and independently of the bootstrap data.

use std::path::Path;

use cp_kernel::{testkit::FixturePackage, testkit::fixture_framework_package};
use serde_json::json;

/// Writes `packages/<id>/manifest.json` (hashes omitted, as in the real sources) and the files.
fn write_source(repo: &Path, p: &FixturePackage, layer: u32) {
    let dir = repo.join("packages").join(&p.id);
    for (path, data, _) in &p.files {
        let f = dir.join(path);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, data).unwrap();
    }
    let mut m = p.manifest_value();
    m["layer"] = json!(layer);
    for a in m["assets"].as_array_mut().unwrap() {
        a.as_object_mut().unwrap().remove("sha256");
    }
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}

/// Ids in install order.
pub(crate) const IDS: [&str; 4] = ["PKG-FW-001", "PKG-BASE-001", "PKG-MID-001", "PKG-TOP-001"];

/// A repository with a framework package (layer 0), a base, a middle and a top package
/// (TOP → MID → BASE → FW), plus one big package `PKG-BIG-001` (layer 3, `nbig` files)
/// used by the crash test.
pub(crate) fn make_repo(repo: &Path, nbig: usize) {
    std::fs::create_dir_all(repo.join("packages")).unwrap();
    std::fs::write(repo.join("packages/sources.json"), r#"{"mappings":[]}"#).unwrap();
    write_source(repo, &fixture_framework_package(), 0);
    write_source(repo, &FixturePackage::new("PKG-BASE-001").file("HOT/schemas/base.json", "{}\n").dep("PKG-FW-001"), 1);
    write_source(
        repo,
        &FixturePackage::new("PKG-MID-001").file("HO2/contracts/mid.md", "{\"m\":1}\n").dep("PKG-BASE-001"),
        2,
    );
    write_source(
        repo,
        &FixturePackage::new("PKG-TOP-001").file("HOT/attention_templates/top.md", "t: 1\n").dep("PKG-MID-001"),
        3,
    );
    if nbig > 0 {
        let mut big = FixturePackage::new("PKG-BIG-001").dep("PKG-FW-001");
        for i in 0..nbig {
            big = big.file(
                &format!("HOT/schemas/big{i:04}.json"),
                format!("{{\"i\":{i},\"pad\":\"{}\"}}\n", "x".repeat(64)),
            );
        }
        write_source(repo, &big, 3);
    }
}
