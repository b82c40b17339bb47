//! PostgreSQL test support: the server from `CP_TEST_POSTGRES_URL`, and a throw-away schema per
//! test (random name, dropped when the fixture is dropped).
//!
//! Without `CP_TEST_POSTGRES_URL` a test prints `skipped: no PostgreSQL` and returns — unless
//! `CP_REQUIRE_SERVICES=1`, where a missing or unreachable server fails the test.

use std::time::Duration;

use crate::{Durability, PgOptions, PgStore, PgTarget};

/// The environment variable naming the test server (a libpq connection string).
pub const URL_ENV: &str = "CP_TEST_POSTGRES_URL";

/// Options used by test stores: full durability, 5 s per attempt, 5 retries.
pub fn test_options() -> PgOptions {
    PgOptions { durability: Durability::Full, wait: Duration::from_secs(5), retries: 5 }
}

/// The test server's connection string, or `None` (after printing `skipped: no PostgreSQL`)
/// when the variable is unset. Panics when `CP_REQUIRE_SERVICES=1` and it is unset.
pub fn url() -> Option<String> {
    match std::env::var(URL_ENV) {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("CP_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "CP_REQUIRE_SERVICES=1 but {URL_ENV} is not set (.ci/run sets it to the machine's server)"
            );
            #[allow(clippy::print_stdout)] // the skip notice the test harness shows
            {
                println!("skipped: no PostgreSQL");
            }
            None
        }
    }
}

/// A schema of its own on the test server, dropped (with every table in it) on drop.
pub struct PgSchema {
    /// Connection string of the server.
    pub url: String,
    /// The schema name (`cp_t_<random hex>`).
    pub schema: String,
}

impl PgSchema {
    /// A fresh schema name on the test server; `None` when the test is skipped. The schema is
    /// created by the first store opened on it.
    pub fn new() -> Option<Self> {
        let url = url()?;
        let mut r = [0u8; 8];
        getrandom::fill(&mut r).expect("random schema name");
        Some(Self { url, schema: format!("cp_t_{}", const_hex::encode(r)) })
    }

    /// The target for this schema.
    pub fn target(&self) -> PgTarget {
        PgTarget::new(&self.url, &self.schema).expect("test target")
    }

    /// Opens ledger `name` in this schema with [`test_options`].
    pub fn open(&self, name: &str) -> PgStore {
        PgStore::open(&self.target(), name, test_options()).expect("open postgres ledger")
    }

    /// A plain client on the test server (for tests that inspect or tamper with tables).
    pub fn client(&self) -> postgres::Client {
        let mut c = postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to the test server");
        c.batch_execute(&format!("SET search_path TO \"{}\"", self.schema)).expect("search_path");
        c
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema));
        }
    }
}

impl PgSchema {
    /// A plane config whose ledgers live in this schema, the connection string read from
    /// `url_file` (which this writes).
    pub fn plane_config(&self, url_file: &std::path::Path) -> crate::PlaneConfig {
        crate::fsx::write(url_file, &self.url).expect("write the connection string file");
        crate::PlaneConfig {
            ledger_backend: Some(crate::LedgerBackend::Postgres),
            postgres: Some(crate::PostgresLedgerConfig {
                schema: self.schema.clone(),
                url_file: Some(url_file.display().to_string()),
            }),
            require_signatures: false,
            ..crate::PlaneConfig::default()
        }
    }

    /// A fresh plane (in a temporary directory) whose ledgers live in this schema.
    pub fn temp_plane(&self) -> crate::testkit::TempPlane {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = self.plane_config(&dir.path().join("ledger.url"));
        let plane = crate::Plane::init(&dir.path().join("plane"), config).expect("init plane");
        crate::testkit::TempPlane { dir, plane }
    }
}
