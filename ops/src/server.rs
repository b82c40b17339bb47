//! Running the service: bind, serve, run the alert worker, and shut down gracefully on SIGTERM or
//! Ctrl-C (stop accepting, let in-flight requests finish within `server.shutdown_grace_ms`;
//! a request answered 2xx was stored before it was answered).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;

use crate::alerts::AlertWorker;
use crate::auth::Gate;
use crate::error::OpsError;
use crate::http::{App, router};
use crate::service::Ops;

/// Serves until a signal arrives. `on_bound` is told the bound address once listening.
pub fn serve(ops: Arc<Ops>, gate: Gate, on_bound: impl FnOnce(SocketAddr)) -> Result<(), OpsError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| OpsError::Serve(format!("could not start the runtime: {e}")))?;
    // The last handle of the service is dropped here, outside the runtime: a PostgreSQL plane's
    // ledger connections are synchronous clients, which may not be dropped on an async thread.
    let keep = ops.clone();
    let served = rt.block_on(run(ops, gate, on_bound));
    drop(rt);
    drop(keep);
    served
}

async fn run(ops: Arc<Ops>, gate: Gate, on_bound: impl FnOnce(SocketAddr)) -> Result<(), OpsError> {
    let cfg = ops.config().server.clone();
    let ip: std::net::IpAddr =
        cfg.bind.parse().map_err(|_| OpsError::Usage(format!("--bind {}: not an IP address", cfg.bind)))?;
    let listener = tokio::net::TcpListener::bind((ip, cfg.port))
        .await
        .map_err(|e| OpsError::Serve(format!("could not listen on {}:{}: {e}", cfg.bind, cfg.port)))?;
    let addr = listener.local_addr().map_err(|e| OpsError::Serve(e.to_string()))?;
    // Small request/response exchanges: without TCP_NODELAY, Nagle's algorithm holds the tail
    // of a response until the client's delayed ACK, tens of milliseconds per request.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY on a connection");
        }
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = AlertWorker::new(ops.clone());
    let alerts = tokio::spawn(worker.run(stop_rx.clone()));
    let app = Arc::new(App { ops, gate });
    on_bound(addr);
    let mut graceful = stop_rx.clone();
    let server = axum::serve(listener, router(app)).with_graceful_shutdown(async move {
        let _ = graceful.wait_for(|s| *s).await;
    });
    let signal = tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: no new connections, finishing in-flight requests");
        let _ = stop_tx.send(true);
    });
    let grace = Duration::from_millis(cfg.shutdown_grace_ms);
    let mut stopped = stop_rx.clone();
    let served = tokio::select! {
        r = server.into_future() => r.map_err(|e| OpsError::Serve(e.to_string())),
        () = async move {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("in-flight requests still running after {} ms; stopping", grace.as_millis());
            Ok(())
        }
    };
    signal.abort();
    let _ = alerts.await;
    served
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
