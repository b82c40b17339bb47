//! The compliance report: per-prompt facts, decisions and the chain proof; HTML escapes; the PDF
//! is read back by PyPI `pypdf` and holds the same facts as text; one tenant only.

use std::process::Command;

use cp_kernel::{LedgerQuery, LedgerSet};
use cp_otel::{Selection, build_report, render_html, render_pdf};

use crate::fixture::LEDGER;
use crate::python::python_with;
use crate::scope::plane_with_two_tenants;

fn sel(tenant: &str) -> Selection {
    Selection { tenant: tenant.into(), session: Some("S-1".into()), ..Selection::default() }
}

#[test]
fn report_lists_prompts_sources_decisions_and_the_chain_proof() {
    let tp = plane_with_two_tenants();
    let r = build_report(&tp.plane, &sel("t1"), 3).unwrap();
    assert_eq!((r.prompts, r.decisions), (3, 3), "{:#?}", r.sections);
    let text = serde_json::to_string(&r.sections).unwrap();
    for want in [
        "R-1",
        "principal tester",
        "PRC-ANSWER-001",
        "HO2/docs/b.md",
        "dropped",
        "2026-11-01",
        "TIMEOUT",
        "BUDGET_EXHAUSTED",
        "FORBIDDEN",
        "in flight",
    ] {
        assert!(text.contains(want), "{want} missing");
    }
    assert!(!text.contains("\"t2\"") && !text.contains("tenant t2"));
    // The chain proof names the first and last t1 entries of the ledger and a passing verify.
    let all = LedgerSet::new(&tp.plane).open(LEDGER).unwrap().query(&LedgerQuery::default()).unwrap();
    let t1: Vec<_> = all.iter().filter(|e| e.tenant_id.as_deref() == Some("t1")).collect();
    let c = &r.chain[0];
    assert_eq!((c.ledger.as_str(), &c.first.1, &c.last.1), (LEDGER, &t1[0].entry_hash, &t1[t1.len() - 1].entry_hash));
    assert!(c.verified && c.verify.contains("OK"), "{}", c.verify);
    assert_eq!(c.checkpoint, None);
    let html = render_html(&r);
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains(&t1[0].entry_hash));
}

#[test]
fn pdf_text_is_extractable() {
    let tp = plane_with_two_tenants();
    let r = build_report(&tp.plane, &sel("t1"), 100).unwrap();
    let pdf = render_pdf(&r);
    assert!(pdf.starts_with(b"%PDF-1.4") && pdf.ends_with(b"%%EOF\n"));
    let Some(py) = python_with("pypdf", "pypdf") else { return };
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("r.pdf");
    std::fs::write(&f, &pdf).unwrap();
    let script = "import sys, pypdf\nr = pypdf.PdfReader(sys.argv[1], strict=True)\nprint(len(r.pages))\nprint('\\n'.join(p.extract_text() for p in r.pages))";
    let out = Command::new(py).args(["-c", script]).arg(&f).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().next().unwrap().parse::<u32>().unwrap() >= 2, "several pages");
    for want in ["Traceability record: tenant t1", "Prompt R-1", "HO2/docs/b.md", "Chain proof", &r.chain[0].last.1] {
        assert!(text.contains(want), "{want} not in the extracted text:\n{text}");
    }
}
