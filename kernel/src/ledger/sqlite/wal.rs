//! Checkpoints a SQLite ledger's write-ahead log on a connection and thread of its own, so
//! that no append waits for a checkpoint.
//!
//! With SQLite's auto-checkpoint, the commit that finds the WAL over its limit copies the whole
//! WAL into the database file and fsyncs it before it returns: under a steady stream of
//! appends, every few hundred commits one of them took ~75 ms instead of ~8 (docs/BENCHMARKS.md).
//! Instead, the writer's connection registers a WAL hook (which replaces the auto-checkpoint):
//! a commit that leaves at least [`WalLimits::checkpoint`] frames in the WAL wakes the checkpointer,
//! which runs a PASSIVE checkpoint — it never waits for, nor blocks, a reader or writer — while
//! appends go on, and again after each later commit. Under a steady stream of commits the
//! background checkpoint is always a few commits behind, and SQLite starts the WAL over only
//! when every frame is in the database; so a commit that finds [`WalLimits::backstop`] frames
//! checkpoints itself, as the auto-checkpoint would — copying only the few frames the
//! background has not, then the WAL restarts. That also bounds the WAL whatever happens (the
//! checkpointer fell behind, or could not start).
//!
//! The thread starts at the first wake, so a short-lived process that writes little never
//! starts one (closing the last connection checkpoints the WAL, as before), and it ends when
//! the store's connection is dropped.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::hooks::Wal;

/// When a WAL is checkpointed, in frames (pages). Tuning of the storage engine, not policy:
/// it changes no result, and durability is unchanged (with `full`, every commit still fsyncs
/// the WAL).
#[derive(Debug, Clone, Copy)]
pub(super) struct WalLimits {
    /// Frames after which a commit asks for a background checkpoint.
    pub(super) checkpoint: i32,
    /// Frames after which the committing connection checkpoints itself.
    pub(super) backstop: i32,
}

impl WalLimits {
    /// SQLite's default auto-checkpoint is at 1 000 frames; fewer, larger checkpoints write an
    /// index page that many commits touched once instead of once per checkpoint. Between the
    /// two limits the background copies the bulk; the commit at the backstop the rest.
    pub(super) const DEFAULT: Self = Self { checkpoint: 4_000, backstop: 8_000 };
}

/// Registers the hook on `conn`, the writer's connection of the database at `path`.
pub(super) fn install(
    conn: &mut Connection,
    path: &Path,
    busy_timeout: Duration,
    limits: WalLimits,
) -> rusqlite::Result<()> {
    let mut checkpointer =
        Checkpointer { path: path.to_path_buf(), busy_timeout, wake: None, gate: Arc::new(Mutex::new(())) };
    conn.wal_hook(Some(move |wal: &mut Wal, pages: i32| {
        if pages >= limits.backstop || (pages >= limits.checkpoint && !checkpointer.wake()) {
            // After the background run in progress, if any (a second checkpoint would find
            // the checkpoint lock taken and do nothing).
            let _one = checkpointer.gate.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = wal.checkpoint() {
                // The commit has happened: an error here would only make it look failed.
                tracing::debug!(pages, error = %e, "WAL checkpoint in the committing connection did not run");
            }
        }
        Ok(())
    }))
}

/// The writer's side of the background checkpoint.
struct Checkpointer {
    path: PathBuf,
    busy_timeout: Duration,
    /// Wakes the thread; `None` until the first wake. A full channel means a checkpoint is
    /// already asked for (wakes coalesce).
    wake: Option<SyncSender<()>>,
    /// Held during every checkpoint of this store, background or not: one at a time.
    gate: Arc<Mutex<()>>,
}

impl Checkpointer {
    /// Asks for a checkpoint, starting the thread the first time; false when there is no
    /// thread to ask (it could not be started, or stopped).
    fn wake(&mut self) -> bool {
        if self.wake.is_none() {
            self.wake = self.start();
        }
        let Some(tx) = &self.wake else { return false };
        match tx.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => true,
            Err(TrySendError::Disconnected(())) => {
                self.wake = None;
                false
            }
        }
    }

    /// Opens the checkpointer's own connection and starts its thread.
    fn start(&self) -> Option<SyncSender<()>> {
        let conn = match Connection::open(&self.path).and_then(|c| c.busy_timeout(self.busy_timeout).map(|()| c)) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "WAL checkpointer not started; commits checkpoint");
                return None;
            }
        };
        let (tx, rx) = mpsc::sync_channel::<()>(1);
        let (path, gate) = (self.path.clone(), self.gate.clone());
        let spawned = std::thread::Builder::new().name("cp-wal-checkpoint".into()).spawn(move || {
            // Ends when the writer's connection (holding the sender) is dropped.
            for () in rx {
                let _one = gate.lock().unwrap_or_else(|p| p.into_inner());
                if let Err(e) = checkpoint(&conn) {
                    tracing::debug!(path = %path.display(), error = %e, "background WAL checkpoint did not run");
                }
            }
        });
        match spawned {
            Ok(_) => Some(tx),
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpointer thread not started; commits checkpoint");
                None
            }
        }
    }
}

/// One PASSIVE checkpoint of `conn`'s database. A connection sees the WAL only once it has
/// read the database (before that, SQLite reports it "not in WAL mode" and does nothing), so a
/// read comes first.
fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    let _: i64 = conn.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
    let (log, done) = conn.wal_checkpoint_v2(None::<&str>, rusqlite::wal::CheckpointMode::PASSIVE)?;
    tracing::trace!(log, done, "background WAL checkpoint");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAL-mode database at `dir/db` whose writer connection has `limits`.
    fn writer(dir: &Path, limits: WalLimits) -> Connection {
        let path = dir.join("db");
        let mut c = Connection::open(&path).unwrap();
        let _: String = c.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).unwrap();
        c.pragma_update(None, "synchronous", "NORMAL").unwrap();
        c.execute_batch("CREATE TABLE t (v BLOB)").unwrap();
        install(&mut c, &path, Duration::from_secs(5), limits).unwrap();
        c
    }

    /// Commits `n` transactions of ten 1 KiB rows (about three new pages each).
    fn commit(c: &Connection, n: usize) {
        for _ in 0..n {
            c.execute_batch(
                "BEGIN; WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 10) \
                 INSERT INTO t SELECT randomblob(1024) FROM k; COMMIT",
            )
            .unwrap();
        }
    }

    fn len(p: &Path) -> u64 {
        std::fs::metadata(p).map_or(0, |m| m.len())
    }

    #[test]
    fn the_checkpoint_runs_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        // The commits never reach the backstop: only the background thread checkpoints.
        let c = writer(dir.path(), WalLimits { checkpoint: 20, backstop: i32::MAX });
        let db = dir.path().join("db");
        let before = len(&db);
        commit(&c, 10);
        // Rows reach the database file only by a checkpoint. A generous deadline for a loaded
        // machine; it passes as soon as the thread has run.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while len(&db) <= before + 20 * 1024 {
            assert!(std::time::Instant::now() < deadline, "no background checkpoint: db {} bytes", len(&db));
            std::thread::sleep(Duration::from_millis(10));
        }
        let rows: i64 = c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 100);
    }

    #[test]
    fn the_wal_stays_bounded_by_the_backstop() {
        for checkpoint in [10, i32::MAX] {
            bounded(checkpoint);
        }
    }

    /// Commits 200 times with the background checkpoint at `checkpoint` frames (never, for
    /// `i32::MAX`) and the backstop at 30: the WAL file never holds much more than 30 frames.
    fn bounded(checkpoint: i32) {
        let dir = tempfile::tempdir().unwrap();
        let c = writer(dir.path(), WalLimits { checkpoint, backstop: 30 });
        for _ in 0..50 {
            commit(&c, 4);
            let wal = len(&dir.path().join("db-wal"));
            // 30 frames plus one commit's frames, of 4 KiB pages (and headers).
            assert!(wal < 60 * 4200, "WAL {wal} bytes: over the backstop (checkpoint at {checkpoint})");
        }
        let rows: i64 = c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 2000);
    }
}
