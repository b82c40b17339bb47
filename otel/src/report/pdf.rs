//! The report as a PDF written by hand: PDF 1.4, A4 pages, the standard Helvetica fonts
//! (WinAnsiEncoding, nothing embedded), uncompressed text content streams, so any reader opens
//! it and the text is extractable. Long values wrap; characters outside Latin-1 print as `?`.

use super::model::ComplianceReport;

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 40.0;
const SIZE: f32 = 8.0;
const LEADING: f32 = 10.5;
/// Characters per line at 8 pt Helvetica in the text width (conservative average width).
const WRAP: usize = 110;

#[derive(Clone, Copy)]
enum Font {
    Regular,
    Bold,
}

fn lines(r: &ComplianceReport) -> Vec<(Font, String)> {
    let mut out = vec![
        (Font::Bold, format!("Traceability record: tenant {} ({})", r.tenant, r.scope)),
        (Font::Regular, String::new()),
    ];
    for s in &r.sections {
        out.push((Font::Bold, s.title.clone()));
        for (k, v) in &s.rows {
            let text = format!("{k}: {v}");
            let chars: Vec<char> = text.chars().collect();
            for (i, chunk) in chars.chunks(WRAP).enumerate() {
                let c: String = chunk.iter().collect();
                out.push((Font::Regular, if i == 0 { c } else { format!("    {c}") }));
            }
        }
        out.push((Font::Regular, String::new()));
    }
    out
}

/// A PDF string literal body: Latin-1 bytes with `\`, `(` and `)` escaped.
fn pdf_text(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        let b = u8::try_from(u32::from(c)).ok().filter(|b| *b >= 0x20 && *b != 0x7f).unwrap_or(b'?');
        if matches!(b, b'\\' | b'(' | b')') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

fn page_stream(lines: &[(Font, String)]) -> Vec<u8> {
    let mut s = Vec::new();
    let mut y = PAGE_H - MARGIN;
    for (font, text) in lines {
        let f = match font {
            Font::Regular => "F1",
            Font::Bold => "F2",
        };
        s.extend_from_slice(format!("BT /{f} {SIZE} Tf {MARGIN} {y:.1} Td (").as_bytes());
        s.extend(pdf_text(text));
        s.extend_from_slice(b") Tj ET\n");
        y -= LEADING;
    }
    s
}

/// The report as PDF bytes.
pub fn render_pdf(r: &ComplianceReport) -> Vec<u8> {
    let per_page = ((PAGE_H - 2.0 * MARGIN) / LEADING) as usize;
    let all = lines(r);
    let pages: Vec<&[(Font, String)]> = all.chunks(per_page.max(1)).collect();
    // Objects: 1 catalog, 2 pages, 3 F1, 4 F2, then per page: page, content.
    let mut objs: Vec<Vec<u8>> = Vec::new();
    let kids: Vec<String> = (0..pages.len()).map(|i| format!("{} 0 R", 5 + 2 * i)).collect();
    objs.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    objs.push(format!("<< /Type /Pages /Kids [{}] /Count {} >>", kids.join(" "), pages.len()).into_bytes());
    objs.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec());
    objs.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>".to_vec());
    for (i, p) in pages.iter().enumerate() {
        let content = 6 + 2 * i;
        objs.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {content} 0 R >>"
            )
            .into_bytes(),
        );
        let stream = page_stream(p);
        let mut o = format!("<< /Length {} >>\nstream\n", stream.len()).into_bytes();
        o.extend(stream);
        o.extend_from_slice(b"endstream");
        objs.push(o);
    }
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(o);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objs.len() + 1).as_bytes(),
    );
    out
}
