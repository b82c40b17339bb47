//! Test support shared by the kernel, installer and end-to-end tests (feature `testkit`):
//! temporary planes and fixtures.

use crate::plane::{Plane, PlaneConfig};

/// A plane in a temporary directory, removed on drop.
pub struct TempPlane {
    /// The temporary directory (keep it alive).
    pub dir: tempfile::TempDir,
    /// The plane.
    pub plane: Plane,
}

impl TempPlane {
    /// A freshly initialised plane with the default config.
    pub fn new() -> Self {
        Self::with_config(PlaneConfig::default())
    }

    /// A freshly initialised plane with `config`.
    pub fn with_config(config: PlaneConfig) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let plane = Plane::init(&dir.path().join("plane"), config).unwrap_or_else(|e| panic!("init plane: {e}"));
        Self { dir, plane }
    }
}

impl Default for TempPlane {
    fn default() -> Self {
        Self::new()
    }
}
