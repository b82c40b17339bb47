//! `cpctl schema validate|list`.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde::Serialize;

use cp_kernel::{CheckedAs, DocumentError, Plane, SchemaSet, Violation};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Subcommand)]
pub(crate) enum SchemaCmd {
    /// Validate YAML or JSON documents (or schema files) and report every violation with
    /// file:line:column, the field path and what was expected.
    ///
    /// Without --schema the schema is inferred from the file name: `*.schema.json` is checked as
    /// a schema (meta-schema + references), `layout.json` → layout, `plane.json` → plane_config,
    /// `<name>.yaml|json` → <name>. Schemas come from --schemas DIR, else the plane's
    /// HOT/schemas/ over the built-in ones, else (no plane) the built-in ones.
    /// Exit 0 all valid, 2 a document is invalid, 3 a file cannot be read, 1 usage.
    #[command(
        after_help = "Example:\n  cpctl schema validate HOT/config/layout.json\n  cpctl schema validate --schema attention_template my_template.yaml\n  cpctl schema validate --schemas ./schemas ./schemas/*.schema.json"
    )]
    Validate {
        /// Schema to validate against (name without `.schema.json`); inferred when omitted.
        #[arg(long)]
        schema: Option<String>,
        /// Load the schemas from this directory instead of the plane / built-in set.
        #[arg(long, value_name = "DIR")]
        schemas: Option<PathBuf>,
        /// Files to validate.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// List the schemas in force (name, $id, where each comes from).
    #[command(after_help = "Example:\n  cpctl schema list --json")]
    List {
        /// Load the schemas from this directory instead of the plane / built-in set.
        #[arg(long, value_name = "DIR")]
        schemas: Option<PathBuf>,
    },
}

/// The schema set: `--schemas DIR`, else the plane's (when there is a plane), else built-in.
fn schema_set(s: &Settings, dir: Option<&Path>) -> anyhow::Result<(SchemaSet, String)> {
    if let Some(d) = dir {
        return Ok((SchemaSet::load_dir(d)?, d.display().to_string()));
    }
    match Plane::open(&s.root) {
        Ok(p) => Ok((SchemaSet::for_plane(&p)?, format!("plane {}", p.root().display()))),
        Err(cp_kernel::PlaneError::NotAPlane { .. }) => Ok((SchemaSet::embedded()?, "built-in".to_string())),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Valid,
    Invalid,
    Unreadable,
    Usage,
}

#[derive(Debug, Serialize)]
struct FileReport {
    file: String,
    checked_as: Option<CheckedAs>,
    status: Status,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    violations: Vec<Violation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct ValidateReport {
    schemas: String,
    files: Vec<FileReport>,
    valid: usize,
    invalid: usize,
}

fn validate(s: &Settings, schema: Option<&str>, dir: Option<&Path>, files: &[PathBuf]) -> CmdResult {
    let (set, origin) = schema_set(s, dir)?;
    let mut reports = Vec::new();
    let mut first_io: Option<DocumentError> = None;
    let mut usage: Option<String> = None;
    for f in files {
        let file = f.display().to_string();
        let Some(check) = set.check_for(schema, f) else {
            let msg = format!("cannot infer the schema of {file} from its name; name one with --schema");
            usage.get_or_insert(msg.clone());
            reports.push(FileReport {
                file,
                checked_as: None,
                status: Status::Usage,
                violations: vec![],
                error: Some(msg),
            });
            continue;
        };
        let (status, violations, error) = match set.check_file(&check, f) {
            Ok(()) => (Status::Valid, vec![], None),
            Err(DocumentError::Invalid { violations, .. }) => (Status::Invalid, violations, None),
            Err(e @ DocumentError::Io(_)) => {
                let m = e.to_string();
                first_io.get_or_insert(e);
                (Status::Unreadable, vec![], Some(m))
            }
            Err(e @ DocumentError::UnknownSchema(_)) => {
                let m = format!("{e} (see `cpctl schema list`)");
                usage.get_or_insert(m.clone());
                (Status::Usage, vec![], Some(m))
            }
            Err(e) => (Status::Invalid, vec![], Some(e.to_string())),
        };
        reports.push(FileReport { file, checked_as: Some(check), status, violations, error });
    }
    let valid = reports.iter().filter(|r| matches!(r.status, Status::Valid)).count();
    let invalid = reports.iter().filter(|r| matches!(r.status, Status::Invalid)).count();
    let report = ValidateReport { schemas: origin, files: reports, valid, invalid };
    render(s, &report, text)?;
    if let Some(u) = usage {
        anyhow::bail!(u);
    }
    if let Some(e) = first_io {
        return Err(e.into());
    }
    Ok(if report.invalid > 0 { Outcome::Refused } else { Outcome::Ok })
}

fn text(r: &ValidateReport) -> String {
    let mut out = String::new();
    for f in &r.files {
        let against = f.checked_as.as_ref().map(|c| format!(" ({c})")).unwrap_or_default();
        match f.status {
            Status::Valid => out.push_str(&format!("{}: valid{against}\n", f.file)),
            Status::Invalid if !f.violations.is_empty() => {
                let n = f.violations.len();
                out.push_str(&format!(
                    "{}: invalid{against}, {n} violation{}\n",
                    f.file,
                    if n == 1 { "" } else { "s" }
                ));
                for v in &f.violations {
                    out.push_str(&format!("  {}:{v}\n", f.file));
                }
            }
            Status::Invalid => {
                // The error names the file itself (with line:column when known).
                out.push_str(&format!("{}: invalid{against}\n  {}\n", f.file, f.error.as_deref().unwrap_or("")));
            }
            _ => out.push_str(&format!("{}: error{against}: {}\n", f.file, f.error.as_deref().unwrap_or(""))),
        }
    }
    out.push_str(&format!("{} valid, {} invalid (schemas: {})", r.valid, r.invalid, r.schemas));
    out
}

pub(crate) fn run(s: &Settings, c: SchemaCmd) -> CmdResult {
    match c {
        SchemaCmd::Validate { schema, schemas, files } => validate(s, schema.as_deref(), schemas.as_deref(), &files),
        SchemaCmd::List { schemas } => {
            let (set, origin) = schema_set(s, schemas.as_deref())?;
            #[derive(Serialize)]
            struct List {
                origin: String,
                schemas: Vec<cp_kernel::SchemaInfo>,
            }
            let l = List { origin, schemas: set.infos() };
            render(s, &l, |l| {
                let w = l.schemas.iter().map(|i| i.name.len()).max().unwrap_or(0);
                let mut out: String = l
                    .schemas
                    .iter()
                    .map(|i| format!("{:w$}  {}  {}\n", i.name, i.id.as_deref().unwrap_or("-"), i.source))
                    .collect();
                out.push_str(&format!("{} schemas ({})", l.schemas.len(), l.origin));
                out
            })?;
            Ok(Outcome::Ok)
        }
    }
}
