//! The plane's networked ledger backend (PostgreSQL), as [`super::LedgerSet`] opens it: the
//! target resolved from the plane config once, then one store per ledger name.
//!
//! Owns: turning the plane config's `postgres` section and the connection string into a
//! target, and refusing clearly when the backend is not configured or not compiled in. Never
//! does: keep the connection string anywhere but in memory.

use std::sync::Arc;

use super::{LedgerError, LedgerStore};
use crate::plane::{Durability, Plane};

/// The resolved PostgreSQL target of a plane (or why there is none).
pub(crate) struct Remote {
    #[cfg(feature = "postgres")]
    target: Result<(super::PgTarget, super::PgOptions), String>,
}

impl Remote {
    /// Resolves the target of `plane` (errors are kept and reported at the first open).
    #[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
    pub(crate) fn for_plane(plane: &Plane, durability: Durability, wait_ms: u64, retries: u32) -> Self {
        #[cfg(feature = "postgres")]
        {
            let target = (|| {
                let cfg = plane.config().postgres.as_ref().ok_or_else(|| {
                    "the ledger backend is postgres but the plane config has no postgres section".to_string()
                })?;
                let url = cfg.connection_string(plane.root(), plane.layout())?;
                let t = super::PgTarget::new(&url, &cfg.schema).map_err(|e| e.to_string())?;
                let opts = super::PgOptions { durability, wait: std::time::Duration::from_millis(wait_ms), retries };
                Ok((t, opts))
            })();
            Self { target }
        }
        #[cfg(not(feature = "postgres"))]
        Self {}
    }

    /// Opens ledger `name`.
    #[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
    pub(crate) fn open(&self, name: &str) -> Result<Arc<dyn LedgerStore>, LedgerError> {
        #[cfg(feature = "postgres")]
        {
            let (t, o) = self.target()?;
            Ok(Arc::new(super::PgStore::open(t, name, *o)?))
        }
        #[cfg(not(feature = "postgres"))]
        Err(Self::not_built())
    }

    /// Names of the ledgers that exist.
    pub(crate) fn list(&self) -> Result<Vec<String>, LedgerError> {
        #[cfg(feature = "postgres")]
        {
            let (t, o) = self.target()?;
            super::PgStore::list(t, *o)
        }
        #[cfg(not(feature = "postgres"))]
        Err(Self::not_built())
    }

    #[cfg(feature = "postgres")]
    fn target(&self) -> Result<&(super::PgTarget, super::PgOptions), LedgerError> {
        self.target.as_ref().map_err(|e| LedgerError::Backend(e.clone()))
    }

    #[cfg(not(feature = "postgres"))]
    fn not_built() -> LedgerError {
        LedgerError::Backend(
            "the plane's ledger backend is postgres but this build has no PostgreSQL support (kernel feature \
             `postgres`)"
                .into(),
        )
    }
}
