//! The report as one self-contained HTML page.

use super::model::ComplianceReport;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The report as HTML.
pub fn render_html(r: &ComplianceReport) -> String {
    let mut h = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Traceability record</title>\n<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}td{font-family:monospace;word-break:break-all}</style></head><body>\n",
    );
    h.push_str(&format!("<h1>Traceability record: tenant {} ({})</h1>\n", esc(&r.tenant), esc(&r.scope)));
    for s in &r.sections {
        h.push_str(&format!("<h2>{}</h2>\n<table>\n", esc(&s.title)));
        for (k, v) in &s.rows {
            h.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>\n", esc(k), esc(v)));
        }
        h.push_str("</table>\n");
    }
    h.push_str("</body></html>\n");
    h
}
