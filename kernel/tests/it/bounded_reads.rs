//! One bounded reader for documents, requests, contracts and templates (issue 9 §2): a FIFO,
//! `/dev/zero` or `/dev/urandom` is refused before anything is read (and opening a FIFO never
//! waits for a writer); a file over the limit is refused.

use std::path::Path;

use cp_kernel::fsx::{BoundedReadError, read_bounded};
use cp_kernel::{ParseLimits, SchemaSet};

pub(crate) fn mkfifo(path: &Path) {
    let st = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(st.success());
}

#[test]
fn devices_and_fifos_are_refused_unread_and_files_are_bounded() {
    for dev in ["/dev/zero", "/dev/urandom"] {
        let e = read_bounded(dev, 1 << 20).unwrap_err();
        assert!(matches!(e, BoundedReadError::NotRegular { what: "a character device", .. }), "{dev}: {e}");
    }
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("fifo");
    mkfifo(&fifo);
    // No writer: a blocking open would wait for ever; the bounded reader refuses at once.
    let e = read_bounded(&fifo, 1 << 20).unwrap_err();
    assert!(matches!(e, BoundedReadError::NotRegular { what: "a FIFO", .. }), "{e}");
    assert!(e.to_string().contains("not a regular file"), "{e}");
    let e = read_bounded(d.path(), 1 << 20).unwrap_err();
    assert!(matches!(e, BoundedReadError::NotRegular { what: "a directory", .. }), "{e}");
    let f = d.path().join("f.json");
    std::fs::write(&f, b"0123456789").unwrap();
    assert_eq!(read_bounded(&f, 10).unwrap(), b"0123456789");
    assert!(matches!(read_bounded(&f, 9), Err(BoundedReadError::TooLarge { size: 10, limit: 9, .. })));
    // A symlink to a device is judged by what it points to.
    let link = d.path().join("zero.json");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    assert!(matches!(read_bounded(&link, 10), Err(BoundedReadError::NotRegular { .. })));
}

#[test]
fn schema_documents_go_through_the_bounded_reader() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("c.json");
    mkfifo(&fifo);
    let schemas = SchemaSet::embedded().unwrap();
    let e = schemas.load_document::<serde_json::Value>("prompt_contract", &fifo).unwrap_err();
    assert!(e.to_string().contains("is a FIFO, not a regular file"), "{e}");
    let e = schemas.load_document::<serde_json::Value>("prompt_contract", Path::new("/dev/zero")).unwrap_err();
    assert!(e.to_string().contains("character device"), "{e}");
    let big = d.path().join("big.json");
    std::fs::write(&big, vec![b' '; 2048]).unwrap();
    let small = ParseLimits { max_document_bytes: 1024, ..ParseLimits::default() };
    let e = small.read_document(&big).unwrap_err();
    assert!(e.to_string().contains("exceeds the limit of 1024 bytes"), "{e}");
}

#[test]
fn a_fifo_template_is_refused_unread() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("ATT-FIFO-001.yaml");
    mkfifo(&fifo);
    let schemas = SchemaSet::embedded().unwrap();
    let issues = cp_kernel::load_template_file(&schemas, &fifo).expect_err("refused");
    let text = format!("{issues:?}");
    assert!(text.contains("not a regular file"), "{text}");
    let issues = cp_kernel::load_template_file(&schemas, Path::new("/dev/zero")).expect_err("refused");
    assert!(format!("{issues:?}").contains("character device"));
}
