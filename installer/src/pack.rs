//! Packing package sources into deterministic archives.
//!
//! A source is `packages/PKG-X/manifest.json` listing assets (with or without `sha256`). Each
//! asset path is resolved through `packages/sources.json`
//! (`{"mappings":[{"prefix":"HOT/schemas/","source":"schemas/"}]}`, longest prefix wins, source
//! relative to the repository root), falling back to `packages/PKG-X/<asset path>`, so that
//! every governed file exists once in the repository. Missing hashes are filled, present ones
//! checked; the final manifest is validated and written first into the archive.
//! Never does: install or touch a plane.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use cp_kernel::{
    ArchiveFile, HashRequirement, ManifestError, embedded_schemas, parse_manifest, sha256_prefixed, write_archive,
};
use cp_kernel::{fsx, fsx::FsError};

/// Errors of packing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    /// File error.
    #[error(transparent)]
    Io(#[from] FsError),
    /// The source manifest is refused.
    #[error("{}: {source}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ManifestError,
    },
    /// A present asset hash differs from the file.
    #[error("asset {asset} ({}): manifest says {expected}, file has {actual}", file.display())]
    HashMismatch {
        /// Asset path.
        asset: String,
        /// Source file.
        file: PathBuf,
        /// Declared.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// The built-in schemas could not be loaded (packing fails closed rather than pack a
    /// manifest it could not check).
    #[error(transparent)]
    Schemas(#[from] cp_kernel::DocumentError),
    /// `sources.json` is malformed.
    #[error("{}: {message}", path.display())]
    Sources {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A written archive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PackedArchive {
    /// The archive file (`PKG-X-<version>.tar.gz`).
    pub path: PathBuf,
    /// Package id.
    pub package_id: String,
    /// Version.
    pub version: String,
    /// Layer.
    pub layer: u32,
    /// `sha256:` of the archived manifest bytes.
    pub manifest_sha256: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sources {
    mappings: Vec<Mapping>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mapping {
    prefix: String,
    source: String,
}

/// Where `packages/sources.json` lives under a repository root.
pub const SOURCES_PATH: &str = "packages/sources.json";

fn load_mappings(repo_root: &Path) -> Result<Vec<Mapping>, PackError> {
    let path = repo_root.join(SOURCES_PATH);
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let text = fsx::read_to_string(&path)?;
    let s: Sources =
        serde_json::from_str(&text).map_err(|e| PackError::Sources { path: path.clone(), message: e.to_string() })?;
    Ok(s.mappings)
}

fn resolve_source(repo_root: &Path, pkg_dir: &Path, maps: &[Mapping], asset: &str) -> PathBuf {
    let best = maps.iter().filter(|m| asset.starts_with(&m.prefix)).max_by_key(|m| m.prefix.len());
    match best {
        // A mapping replaces the prefix textually (`HOT/FMWK-` → `frameworks/FMWK-`), so the
        // prefix need not end at a path separator.
        Some(m) => repo_root.join(format!("{}{}", m.source, &asset[m.prefix.len()..])),
        None => pkg_dir.join(asset),
    }
}

/// Packs one package. `pkg` is a package id (looked up in `<repo_root>/packages/`) or a
/// directory holding `manifest.json`. Writes `<out_dir>/PKG-X-<version>.tar.gz`.
pub fn pack_package(repo_root: &Path, pkg: &str, out_dir: &Path) -> Result<PackedArchive, PackError> {
    let as_dir = Path::new(pkg);
    let pkg_dir = if as_dir.join("manifest.json").is_file() {
        as_dir.to_path_buf()
    } else {
        repo_root.join("packages").join(pkg)
    };
    let maps = load_mappings(repo_root)?;
    let mpath = pkg_dir.join("manifest.json");
    let bytes = fsx::read(&mpath)?;
    let schemas = Some(embedded_schemas()?);
    parse_manifest(&bytes, None, HashRequirement::Optional, schemas.as_deref())
        .map_err(|source| PackError::Manifest { path: mpath.clone(), source })?;
    let mut value: Value = serde_json::from_slice(&bytes).map_err(|e| PackError::Manifest {
        path: mpath.clone(),
        source: ManifestError::Json { line: e.line(), column: e.column(), message: e.to_string() },
    })?;
    let mut files = Vec::new();
    if let Some(assets) = value.get_mut("assets").and_then(Value::as_array_mut) {
        for a in assets.iter_mut() {
            let path = a.get("path").and_then(Value::as_str).unwrap_or_default().to_string();
            let src = resolve_source(repo_root, &pkg_dir, &maps, &path);
            let data = fsx::read(&src)?;
            let actual = sha256_prefixed(&data);
            match a.get("sha256").and_then(Value::as_str) {
                Some(h) if h != actual => {
                    return Err(PackError::HashMismatch { asset: path, file: src, expected: h.to_string(), actual });
                }
                Some(_) => {}
                None => {
                    if let Some(o) = a.as_object_mut() {
                        o.insert("sha256".into(), Value::String(actual));
                    }
                }
            }
            let executable = is_executable(&src)?;
            files.push(ArchiveFile { path: path.trim_start_matches("./").to_string(), data, executable });
        }
    }
    let mut manifest = serde_json::to_vec_pretty(&value).map_err(|e| PackError::Manifest {
        path: mpath.clone(),
        source: ManifestError::Invalid { problems: vec![e.to_string()] },
    })?;
    manifest.push(b'\n');
    let m = parse_manifest(&manifest, None, HashRequirement::Required, schemas.as_deref())
        .map_err(|source| PackError::Manifest { path: mpath.clone(), source })?;
    let out = out_dir.join(format!("{}-{}.tar.gz", m.package_id, m.version));
    write_archive(&out, &manifest, &files)?;
    Ok(PackedArchive {
        path: out,
        package_id: m.package_id,
        version: m.version,
        layer: m.layer,
        manifest_sha256: sha256_prefixed(&manifest),
    })
}

fn is_executable(p: &Path) -> Result<bool, FsError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Ok(fsx::metadata(p)?.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = p;
        Ok(false)
    }
}

/// Package ids of every `packages/PKG-*/manifest.json` under `repo_root`, sorted.
pub fn source_package_ids(repo_root: &Path) -> Result<Vec<String>, FsError> {
    let dir = repo_root.join("packages");
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for e in fsx::read_dir(&dir)? {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("PKG-") && e.path().join("manifest.json").is_file() {
            out.push(name);
        }
    }
    Ok(out)
}

/// Packs every package source of `repo_root` into `out_dir`.
pub fn pack_all(repo_root: &Path, out_dir: &Path) -> Result<Vec<PackedArchive>, PackError> {
    source_package_ids(repo_root)?.iter().map(|id| pack_package(repo_root, id, out_dir)).collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{Mapping, resolve_source};

    #[test]
    fn mapping_replaces_the_prefix_textually() {
        let maps = vec![
            Mapping { prefix: "HOT/FMWK-".into(), source: "frameworks/FMWK-".into() },
            Mapping { prefix: "HOT/schemas/".into(), source: "schemas/".into() },
        ];
        let (r, p) = (Path::new("/repo"), Path::new("/repo/packages/PKG-X"));
        assert_eq!(
            resolve_source(r, p, &maps, "HOT/FMWK-004_Attention/manifest.yaml"),
            r.join("frameworks/FMWK-004_Attention/manifest.yaml")
        );
        assert_eq!(resolve_source(r, p, &maps, "HOT/schemas/a.json"), r.join("schemas/a.json"));
        assert_eq!(resolve_source(r, p, &maps, "HOT/config/x.yaml"), p.join("HOT/config/x.yaml"));
    }
}
