//! The install benchmark behind `cpctl bench install`: a bootstrap install of a package set
//! with every gate, against a same-run baseline of only reading the same archives and hashing
//! their files. Reports both and their ratio; never asserts anything about time.

use std::io::Read;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::install::{InstallError, InstallOptions, Installer};
use crate::pack::pack_all;
use crate::store::index_store;
use cp_kernel::InstallConfig;
use cp_kernel::{Durability, Plane, PlaneConfig, fsx, fsx::FsError};

/// Result of the install benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct InstallBench {
    /// Packages installed per run.
    pub packages: usize,
    /// Files installed per run.
    pub files: usize,
    /// Archive bytes per run.
    pub archive_bytes: u64,
    /// Runs measured.
    pub iterations: usize,
    /// Median milliseconds of one bootstrap install (every gate, fresh plane), durability
    /// `full` (every file, directory, registry and ledger write fsynced).
    pub install_full_ms: f64,
    /// The same with durability `normal` (process-crash safe, no fsync).
    pub install_normal_ms: f64,
    /// Median milliseconds of reading the same archives and hashing their files.
    pub baseline_ms: f64,
    /// `install_full_ms / baseline_ms`.
    pub ratio_full: f64,
    /// `install_normal_ms / baseline_ms`.
    pub ratio_normal: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn baseline(archives: &[std::path::PathBuf]) -> Result<usize, FsError> {
    let mut n = 0;
    for a in archives {
        let f = fsx::open(a)?;
        let mut t = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(f)));
        let io = |e| FsError::new("read archive", a.clone(), e);
        for e in t.entries().map_err(io)? {
            let mut e = e.map_err(io)?;
            let mut h = Sha256::new();
            let mut buf = [0u8; 64 * 1024];
            loop {
                let k = e.read(&mut buf).map_err(io)?;
                if k == 0 {
                    break;
                }
                h.update(&buf[..k]);
            }
            std::hint::black_box(h.finalize());
            n += 1;
        }
    }
    Ok(n)
}

/// Runs the benchmark in `work_dir` (created, and removed afterwards) with the package sources
/// of `repo` (or a store of archives).
pub fn bench_install(repo_or_store: &Path, work_dir: &Path, iterations: usize) -> Result<InstallBench, InstallError> {
    fsx::create_dir_all(work_dir)?;
    let r = run(repo_or_store, work_dir, iterations.max(1));
    let _ = fsx::remove_dir_all(work_dir);
    r
}

fn run(repo_or_store: &Path, work_dir: &Path, iterations: usize) -> Result<InstallBench, InstallError> {
    let store = if repo_or_store.join("packages").is_dir() {
        let s = work_dir.join("store");
        fsx::create_dir_all(&s)?;
        pack_all(repo_or_store, &s)?;
        s
    } else {
        repo_or_store.to_path_buf()
    };
    let caps = InstallConfig::builtin()?.archive;
    let index = index_store(&store, &caps)?;
    let archives: Vec<std::path::PathBuf> = index.values().map(|e| e.path.clone()).collect();
    let pinned = index.iter().map(|(id, e)| (id.clone(), e.manifest_sha256.clone())).collect();
    let opts = InstallOptions { pinned, ..InstallOptions::default() };
    let mut archive_bytes = 0;
    for a in &archives {
        archive_bytes += fsx::metadata(a)?.len();
    }
    let (mut full_t, mut normal_t, mut base_t) = (Vec::new(), Vec::new(), Vec::new());
    let mut files = 0;
    for i in 0..iterations {
        let t = Instant::now();
        baseline(&archives)?;
        base_t.push(t.elapsed().as_secs_f64() * 1e3);
        for (d, times) in [(Durability::Full, &mut full_t), (Durability::Normal, &mut normal_t)] {
            let root = work_dir.join(format!("plane-{i}-{d:?}"));
            let plane = Plane::init(&root, PlaneConfig { durability: Some(d), ..PlaneConfig::default() })?;
            let t = Instant::now();
            let outs = Installer::new(&plane).install_bootstrap(&store, &opts, &mut |_| {})?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            files = outs.iter().map(|o| o.files).sum();
            fsx::remove_dir_all(&root)?;
        }
    }
    let (full, normal, baseline_ms) = (median(full_t), median(normal_t), median(base_t));
    let ratio = |x: f64| if baseline_ms > 0.0 { x / baseline_ms } else { 0.0 };
    Ok(InstallBench {
        packages: archives.len(),
        files,
        archive_bytes,
        iterations,
        install_full_ms: full,
        install_normal_ms: normal,
        baseline_ms,
        ratio_full: ratio(full),
        ratio_normal: ratio(normal),
    })
}
