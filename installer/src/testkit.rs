//! Test support that needs an install (feature `testkit`), shared by the installer's, the CLI's
//! and the end-to-end tests. Plain planes and fixture archives are the kernel's
//! (`cp_kernel::testkit`).

use cp_kernel::PlaneConfig;
use cp_kernel::testkit::{FIXTURE_FW_PACKAGE, TempPlane, fixture_framework_package};

use crate::{InstallOptions, Installer};

/// A plane that does not require signatures, with the fixture framework package
/// (`FMWK-900`, `SPEC-T-001`) installed. Panics when the install fails (test support).
pub fn plane_with_fixture_framework() -> TempPlane {
    let tp = TempPlane::with_config(PlaneConfig { require_signatures: false, ..PlaneConfig::default() });
    let store = tp.dir.path().join("fixture-store");
    let a = fixture_framework_package().write(&store);
    Installer::new(&tp.plane)
        .install_archive(&a, Some(FIXTURE_FW_PACKAGE), &InstallOptions::default())
        .unwrap_or_else(|e| panic!("install fixture framework: {e}"));
    tp
}
