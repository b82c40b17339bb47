//! `cpctl plane|schema|registry` run as a real process: exit codes and output (inline
//! snapshots; the temporary directory is masked as `[TMP]`).

use std::path::{Path, PathBuf};
use std::process::Command;

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Runs cpctl in the temporary directory; returns exit code, stdout and stderr, masked.
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_cpctl"))
            .current_dir(self.path())
            .env_remove("CONTROL_PLANE_ROOT")
            .env("CP_LOG", "off")
            .env("COLUMNS", "100")
            .args(args)
            .output()
            .unwrap();
        let canon = std::fs::canonicalize(self.path()).unwrap();
        let mask = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .replace(canon.to_str().unwrap(), "[TMP]")
                .replace(self.path().to_str().unwrap(), "[TMP]")
        };
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            out.status.code().map_or("signal".to_string(), |c| c.to_string()),
            mask(&out.stdout),
            mask(&out.stderr)
        )
    }
}

const BAD_LAYOUT_YAML: &str = "\
schema_version: 1.0
tiers: [HOT, HO2]
dirs:
  config: config
governed_roots: [config]
installer_maintained: []
colour: blue
ledger:
  backend: sqlite
  durability: sometimes
";

#[test]
fn plane_init_then_info() {
    let c = Cli::new();
    insta::assert_snapshot!(c.run(&["--root", "cp-root", "plane", "init", "--plane-id", "demo"]), @r#"
        exit: 0
        --- stdout
        created plane demo at [TMP]/cp-root
        root from: flag
        layout: built-in
        tiers: HOT, HO2, HO1
        governed roots: config, schemas, registries, attention_templates, contracts, spec_packs, FMWK-*, kernel, scripts, tests
        ledger: sqlite (full durability)
        signatures required: true (0 trusted keys)
        registries:
          frameworks         absent  HOT/registries/frameworks_registry.csv
          specs              absent  HOT/registries/specs_registry.csv
          file_ownership     absent  HOT/registries/file_ownership.csv
          packages_state     absent  HOT/registries/packages_state.csv
        ledgers: (none)
        --- stderr
        "#);
    insta::assert_snapshot!(c.run(&["--root", "cp-root", "plane", "init", "--plane-id", "other"]), @r#"
        exit: 0
        --- stdout
        plane demo already exists at [TMP]/cp-root (left unchanged)
        root from: flag
        layout: built-in
        tiers: HOT, HO2, HO1
        governed roots: config, schemas, registries, attention_templates, contracts, spec_packs, FMWK-*, kernel, scripts, tests
        ledger: sqlite (full durability)
        signatures required: true (0 trusted keys)
        registries:
          frameworks         absent  HOT/registries/frameworks_registry.csv
          specs              absent  HOT/registries/specs_registry.csv
          file_ownership     absent  HOT/registries/file_ownership.csv
          packages_state     absent  HOT/registries/packages_state.csv
        ledgers: (none)
        --- stderr
        "#);
    let json = c.run(&["--root", "cp-root", "plane", "info", "--json"]);
    insta::assert_snapshot!(json, @r#"
        exit: 0
        --- stdout
        {
          "root": "[TMP]/cp-root",
          "root_source": "flag",
          "plane_id": "demo",
          "layout": "built-in",
          "tiers": [
            "HOT",
            "HO2",
            "HO1"
          ],
          "governed_roots": [
            "config",
            "schemas",
            "registries",
            "attention_templates",
            "contracts",
            "spec_packs",
            "FMWK-*",
            "kernel",
            "scripts",
            "tests"
          ],
          "ledger_backend": "sqlite",
          "durability": "full",
          "require_signatures": true,
          "trusted_keys": 0,
          "registries": [
            {
              "name": "frameworks",
              "file": "HOT/registries/frameworks_registry.csv",
              "rows": null
            },
            {
              "name": "specs",
              "file": "HOT/registries/specs_registry.csv",
              "rows": null
            },
            {
              "name": "file_ownership",
              "file": "HOT/registries/file_ownership.csv",
              "rows": null
            },
            {
              "name": "packages_state",
              "file": "HOT/registries/packages_state.csv",
              "rows": null
            }
          ],
          "ledgers": []
        }
        --- stderr
        "#);
}

#[test]
fn plane_info_without_a_plane_is_a_usage_error_with_a_hint() {
    let c = Cli::new();
    insta::assert_snapshot!(c.run(&["--root", "nowhere", "plane", "info"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        error: nowhere is not a plane (no HOT/ directory)
          hint: create it with `cpctl --root nowhere plane init`
        "#);
}

#[test]
fn plane_info_reports_a_bad_layout_with_its_location() {
    let c = Cli::new();
    c.run(&["--root", "cp-root", "plane", "init"]);
    c.write("cp-root/HOT/config/layout.json", "{\n  \"schema_version\": \"1.0\",\n  \"tiers\": \"HOT\"\n}\n");
    insta::assert_snapshot!(c.run(&["--root", "cp-root", "plane", "info"]), @r#"
        exit: 2
        --- stdout
        --- stderr
        error: invalid plane document
          caused by: [TMP]/cp-root/HOT/config/layout.json does not match schema layout (5 violations):
            [TMP]/cp-root/HOT/config/layout.json:1:1: (root): "dirs" is a required property
            [TMP]/cp-root/HOT/config/layout.json:1:1: (root): "governed_roots" is a required property
            [TMP]/cp-root/HOT/config/layout.json:1:1: (root): "installer_maintained" is a required property
            [TMP]/cp-root/HOT/config/layout.json:1:1: (root): "ledger" is a required property
            [TMP]/cp-root/HOT/config/layout.json:3:12: /tiers: "HOT" is not of type "array"
        "#);
}

#[test]
fn schema_validate_reports_every_violation_with_its_place() {
    let c = Cli::new();
    c.write("layout.yaml", BAD_LAYOUT_YAML);
    c.write("good/layout.json", cp_kernel::DEFAULT_LAYOUT_JSON);
    insta::assert_snapshot!(c.run(&["schema", "validate", "good/layout.json", "layout.yaml"]), @r#"
        exit: 2
        --- stdout
        good/layout.json: valid (layout)
        layout.yaml: invalid (layout), 3 violations
          layout.yaml:1:17: /schema_version: 1.0 is not of type "string"
          layout.yaml:7:9: (root): Additional properties are not allowed ('colour' was unexpected)
          layout.yaml:10:15: /ledger/durability: "sometimes" is not one of "full" or "normal"
        1 valid, 1 invalid (schemas: built-in)
        --- stderr
        "#);
}

#[test]
fn schema_validate_json_output() {
    let c = Cli::new();
    c.write("x.yaml", "plane_id: ''\nrequire_signatures: 'yes'\n");
    insta::assert_snapshot!(c.run(&["schema", "validate", "--json", "--schema", "plane_config", "x.yaml"]), @r#"
        exit: 2
        --- stdout
        {
          "schemas": "built-in",
          "files": [
            {
              "file": "x.yaml",
              "checked_as": {
                "kind": "document",
                "name": "plane_config"
              },
              "status": "invalid",
              "violations": [
                {
                  "instance_path": "/plane_id",
                  "line": 1,
                  "column": 11,
                  "message": "\"\" is shorter than 1 character"
                },
                {
                  "instance_path": "/plane_id",
                  "line": 1,
                  "column": 11,
                  "message": "\"\" does not match \"^[A-Za-z0-9][A-Za-z0-9_.-]*$\""
                },
                {
                  "instance_path": "/require_signatures",
                  "line": 2,
                  "column": 21,
                  "message": "\"yes\" is not of type \"boolean\""
                }
              ]
            }
          ],
          "valid": 0,
          "invalid": 1
        }
        --- stderr
        "#);
}

#[test]
fn schema_validate_checks_schema_files() {
    let c = Cli::new();
    let repo_schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/layout.schema.json");
    c.write("schemas/layout.schema.json", &std::fs::read_to_string(repo_schemas).unwrap());
    c.write(
        "remote.schema.json",
        "{\"type\": \"object\",\n \"properties\": {\"x\": {\"$ref\": \"https://example.com/x.json\"}}}\n",
    );
    c.write("typo.schema.json", "{\n  \"type\": \"objekt\"\n}\n");
    insta::assert_snapshot!(c.run(&["schema", "validate", "schemas/layout.schema.json", "remote.schema.json", "typo.schema.json"]), @r#"
        exit: 2
        --- stdout
        schemas/layout.schema.json: valid (JSON Schema)
        remote.schema.json: invalid (JSON Schema)
          remote.schema.json: $ref "https://example.com/x.json" is not in the loaded schema set (remote references are refused)
        typo.schema.json: invalid (JSON Schema), 1 violation
          typo.schema.json:2:11: /type: "objekt" is not valid under any of the schemas listed in the 'anyOf' keyword
        1 valid, 2 invalid (schemas: built-in)
        --- stderr
        "#);
}

#[test]
fn schema_dir_with_a_remote_ref_is_refused() {
    let c = Cli::new();
    c.write("s/evil.schema.json", "{\"properties\": {\"x\": {\"$ref\": \"https://example.com/x.json\"}}}");
    c.write("doc.json", "{}");
    insta::assert_snapshot!(c.run(&["schema", "validate", "--schemas", "s", "--schema", "evil", "doc.json"]), @r#"
        exit: 2
        --- stdout
        --- stderr
        error: schema s/evil.schema.json refers to "https://example.com/x.json", which is not in the loaded schema set (remote references are refused)
        "#);
}

#[test]
fn yaml_alias_bomb_is_refused() {
    let c = Cli::new();
    let mut s = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
    let mut prev = "a".to_string();
    for i in 0..9 {
        let n = format!("l{i}");
        s.push_str(&format!("{n}: &{n} [{}]\n", vec![format!("*{prev}"); 10].join(",")));
        prev = n;
    }
    c.write("bomb.yaml", &s);
    insta::assert_snapshot!(c.run(&["schema", "validate", "--schema", "layout", "bomb.yaml"]), @r#"
        exit: 2
        --- stdout
        bomb.yaml: invalid (layout)
          bomb.yaml:5:38: alias replay limit exceeded: total_replayed_events=100001 > 100000 at line 1, column 16 (defined at line 4, column 9) (used at line 5, column 38)
        0 valid, 1 invalid (schemas: built-in)
        --- stderr
        "#);
}

#[test]
fn fifty_megabyte_single_line_document_is_refused() {
    let c = Cli::new();
    let mut line = String::with_capacity(50 * 1024 * 1024 + 16);
    line.push_str("{\"a\": \"");
    line.push_str(&"x".repeat(50 * 1024 * 1024));
    line.push_str("\"}");
    c.write("big.json", &line);
    insta::assert_snapshot!(c.run(&["schema", "validate", "--schema", "layout", "big.json"]), @r#"
        exit: 2
        --- stdout
        big.json: invalid (layout)
          big.json: document of 52428809 bytes exceeds the limit of 8388608 bytes
        0 valid, 1 invalid (schemas: built-in)
        --- stderr
        "#);
}

#[test]
fn schema_validate_usage_and_io_errors() {
    let c = Cli::new();
    c.write("notes.txt", "hello");
    insta::assert_snapshot!(c.run(&["schema", "validate", "notes.txt"]), @r#"
        exit: 1
        --- stdout
        notes.txt: error: cannot infer the schema of notes.txt from its name; name one with --schema
        0 valid, 0 invalid (schemas: built-in)
        --- stderr
        error: cannot infer the schema of notes.txt from its name; name one with --schema
        "#);
    insta::assert_snapshot!(c.run(&["schema", "validate", "--schema", "layout", "missing.json"]), @r#"
        exit: 3
        --- stdout
        missing.json: error (layout): cannot open missing.json
        0 valid, 0 invalid (schemas: built-in)
        --- stderr
        error: cannot open missing.json
          caused by: No such file or directory (os error 2)
        "#);
    insta::assert_snapshot!(c.run(&["schema", "validate", "--schema", "no_such", "notes.txt"]), @r#"
        exit: 1
        --- stdout
        notes.txt: error (no_such): unknown schema "no_such" (see `cpctl schema list`)
        0 valid, 0 invalid (schemas: built-in)
        --- stderr
        error: unknown schema "no_such" (see `cpctl schema list`)
        "#);
}

#[test]
fn schema_list_works_without_a_plane() {
    let c = Cli::new();
    let out = c.run(&["schema", "list", "--json"]);
    assert!(out.starts_with("exit: 0\n"), "{out}");
    for n in ["layout", "plane_config", "ledger_entry", "ledger_entry_metadata"] {
        assert!(out.contains(&format!("\"name\": \"{n}\"")), "{n}: {out}");
    }
}

fn ownership_csv() -> String {
    let h = "a".repeat(64);
    format!(
        "file_path,package_id,sha256,classification,installed_date,replaced_date,superseded_by\n\
         HOT/config/layout.json,PKG-LAYOUT-001,sha256:{h},config,2026-11-22T00:00:00Z,,\n\
         HOT/schemas/a.schema.json,PKG-PHASE2-SCHEMAS-001,sha256:{h},schema,2026-11-22T00:00:00Z,,\n\
         HOT/schemas/b.schema.json,PKG-PHASE2-SCHEMAS-001,sha256:{h},schema,2026-11-22T00:00:00Z,,\n"
    )
}

#[test]
fn registry_show_with_filters() {
    let c = Cli::new();
    c.run(&["--root", "cp-root", "plane", "init"]);
    c.write("cp-root/HOT/registries/file_ownership.csv", &ownership_csv());
    insta::assert_snapshot!(c.run(&["--root", "cp-root", "registry", "show", "file_ownership", "--filter", "package_id=PKG-LAYOUT-001"]), @r#"
        exit: 0
        --- stdout
        file_path               package_id      sha256                                                                   classification  installed_date        replaced_date  superseded_by
        HOT/config/layout.json  PKG-LAYOUT-001  sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  config          2026-11-22T00:00:00Z
        1 row (HOT/registries/file_ownership.csv)
        --- stderr
        "#);
    insta::assert_snapshot!(c.run(&[
        "--root", "cp-root", "registry", "show", "file_ownership", "--json",
        "--filter", "package_id=PKG-PHASE2-SCHEMAS-001", "--filter", "file_path=HOT/schemas/b.schema.json"
    ]), @r#"
        exit: 0
        --- stdout
        {
          "registry": "file_ownership",
          "file": "HOT/registries/file_ownership.csv",
          "columns": [
            "file_path",
            "package_id",
            "sha256",
            "classification",
            "installed_date",
            "replaced_date",
            "superseded_by"
          ],
          "rows": [
            {
              "classification": "schema",
              "file_path": "HOT/schemas/b.schema.json",
              "installed_date": "2026-11-22T00:00:00Z",
              "package_id": "PKG-PHASE2-SCHEMAS-001",
              "replaced_date": "",
              "sha256": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
              "superseded_by": ""
            }
          ]
        }
        --- stderr
        "#);
    insta::assert_snapshot!(c.run(&["--root", "cp-root", "registry", "show", "file_ownership", "--filter", "owner=x"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        error: registry file_ownership has no column "owner" (columns: file_path, package_id, sha256, classification, installed_date, replaced_date, superseded_by)
        "#);
    insta::assert_snapshot!(c.run(&["--root", "cp-root", "registry", "show", "nope"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        error: unknown registry "nope" (known: frameworks, specs, file_ownership, packages_state)
        "#);
}

#[test]
fn registry_show_malformed_csv_is_located() {
    let c = Cli::new();
    c.run(&["--root", "cp-root", "plane", "init"]);
    c.write(
        "cp-root/HOT/registries/frameworks_registry.csv",
        "framework_id,title,status,version,plane_id,created_at\nFMWK-000,Gov \"x\",active,1.0.0,p,t\n",
    );
    insta::assert_snapshot!(c.run(&["--root", "cp-root", "registry", "show", "frameworks"]), @r#"
        exit: 2
        --- stdout
        --- stderr
        error: [TMP]/cp-root/HOT/registries/frameworks_registry.csv:2:14: quote inside an unquoted field
        "#);
}

#[test]
fn every_foundation_command_help_shows_an_example() {
    let c = Cli::new();
    for cmd in [
        &["plane", "init"][..],
        &["plane", "info"],
        &["schema", "validate"],
        &["schema", "list"],
        &["registry", "show"],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = c.run(&args);
        assert!(out.starts_with("exit: 0\n"), "{cmd:?}: {out}");
        assert!(out.contains("Example:\n  cpctl "), "{cmd:?}: {out}");
    }
}

#[test]
fn schema_validate_with_a_schema_directory_and_hostile_json() {
    let c = Cli::new();
    c.write(
        "s/item.schema.json",
        "{\"$id\": \"https://control-plane.invalid/schemas/item.schema.json\", \"type\": \"object\",\n \"additionalProperties\": false, \"properties\": {\"n\": {\"type\": \"integer\"}}}",
    );
    c.write("ok/item.yaml", "n: 3\n");
    c.write("dup/item.json", "{\"n\": 1,\n \"n\": 2}");
    c.write("inf/item.yaml", "n: .inf\n");
    insta::assert_snapshot!(c.run(&["schema", "validate", "--schemas", "s", "ok/item.yaml", "dup/item.json", "inf/item.yaml"]), @r#"
        exit: 2
        --- stdout
        ok/item.yaml: valid (item)
        dup/item.json: invalid (item)
          dup/item.json:2:2: duplicate key "n"
        inf/item.yaml: invalid (item)
          inf/item.yaml:1:4: non-finite float `.inf` rejected by the configured policy
        1 valid, 2 invalid (schemas: s)
        --- stderr
        "#);
}
