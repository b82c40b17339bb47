//! Issue 8 §4: `docs/TUTORIAL-template.md` runs as written — its ```sh blocks, in order, in a
//! fresh directory with the built `cpctl` on PATH — and a template copied straight into a
//! governed root is ignored by the attention service while gate G0B names the orphan.

use std::path::Path;
use std::process::{Command, Output};

/// The ```sh blocks of a Markdown text, in order.
fn sh_blocks(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in md.lines() {
        match (&mut cur, line.trim_end()) {
            (None, "```sh") => cur = Some(String::new()),
            (Some(_), "```") => out.extend(cur.take()),
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    out
}

fn shell(dir: &Path, script: &str) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_cpctl")).parent().unwrap().to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("CONTROL_PLANE_ROOT")
        .env_remove("CP_AUTH_SECRET")
        .env_remove("CP_AUTH_SECRET_FILE")
        .env_remove("CP_AUTH_TOKEN")
        .env_remove("CP_OPENAI_BASE_URL")
        .output()
        .unwrap()
}

#[test]
fn the_template_tutorial_runs_as_written_and_loose_copies_are_ignored() {
    let md =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/TUTORIAL-template.md")).unwrap();
    let blocks = sh_blocks(&md);
    assert!(blocks.len() >= 5, "{blocks:?}");
    let dir = tempfile::tempdir().unwrap();
    let out = shell(dir.path(), &blocks.concat());
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for want in [
        "valid (ATT-RESIDENT-NOTES 1.0.0",
        "installed ATT-RESIDENT-NOTES 1.0.0 as PKG-TPL-RESIDENT-NOTES",
        "(created and trusted)",
        "chosen: ATT-RESIDENT-NOTES",
        "template ATT-RESIDENT-NOTES 1.0.0",
        "upgraded ATT-RESIDENT-NOTES 1.1.0",
        "G0B: PASS",
        "G5: PASS",
    ] {
        assert!(stdout.contains(want), "{want:?} missing:\n{stdout}\nstderr:\n{stderr}");
    }
    // Re-running the install is a no-op.
    let out = shell(dir.path(), "cpctl --root ./cp-root template install notes-template.yaml");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("already_installed"), "{out:?}");
    // The same version with other content is refused, with the hint to bump it.
    let out = shell(
        dir.path(),
        "sed -i 's/max_entries: 3/max_entries: 4/' notes-template.yaml\ncpctl --root ./cp-root template install notes-template.yaml",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bump `version`"), "{out:?}");

    // A loose copy: ignored by the service, named by G0B.
    let out = shell(
        dir.path(),
        "sed 's/ATT-RESIDENT-NOTES/ATT-LOOSE/' notes-template.yaml > cp-root/HOT/attention_templates/ATT-LOOSE.yaml\n\
         printf 'agent_id: r\\nagent_class: RESIDENT\\ntier: ho1\\ntemplate_override: ATT-LOOSE\\n' > loose.yaml\n\
         cpctl --root ./cp-root attention explain --request resident.yaml",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(text.contains("chosen: ATT-RESIDENT-NOTES") && !text.contains("ATT-LOOSE 1.1.0"), "{text}");
    assert!(text.contains("ATT-LOOSE.yaml is not owned by any package and was ignored"), "{text}");
    let out = shell(dir.path(), "cpctl --root ./cp-root attention explain --request loose.yaml");
    assert_ne!(out.status.code(), Some(0), "an override naming the loose template is not served: {out:?}");
    let out = shell(dir.path(), "cpctl --root ./cp-root gates --all");
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("G0B: FAIL") && text.contains("HOT/attention_templates/ATT-LOOSE.yaml"), "{text}");
}
