//! The HTTP API (axum): routes, body reading with the size and time limits, query parameters,
//! JSON errors `{"error":{"code","message","field"}}`. Every kernel call runs on the blocking
//! pool (`spawn_blocking`), never on the async threads.
//!
//! The steps of a handler return `Result<_, Response>`: the error is the finished answer (an
//! axum response, large by nature), returned as is by the handler.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::json;

use crate::auth::{Caller, Gate, Need, Refusal};
use crate::event::{Invalid, split_body, validate_all};
use crate::service::Ops;
use crate::views::Filter;

/// What every handler shares.
#[derive(Debug)]
pub struct App {
    /// The service core.
    pub ops: Arc<Ops>,
    /// The authoriser.
    pub gate: Gate,
}

type Shared = State<Arc<App>>;
type Params = Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>;

/// The router of the service.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(crate::dashboard::page))
        .route("/healthz", get(healthz))
        .route("/v1/events", post(ingest))
        .route("/v1/costs/adjust", post(adjust))
        .route("/v1/metrics/overview", get(overview))
        .route("/v1/metrics/timeseries", get(timeseries))
        .route("/v1/failures/recent", get(failures))
        .with_state(app)
}

/// A JSON response.
pub(crate) fn json_response<T: Serialize>(status: StatusCode, v: &T) -> Response {
    let body = serde_json::to_string(v).unwrap_or_else(|_| "{}".into());
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// An error response.
pub(crate) fn error(status: StatusCode, code: &str, message: &str, field: &str) -> Response {
    json_response(status, &json!({"error": {"code": code, "message": message, "field": field}}))
}

fn invalid(i: &Invalid) -> Response {
    error(StatusCode::BAD_REQUEST, i.code, &i.message, &i.field)
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "request failed");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e.to_string(), "")
}

/// Runs a kernel call on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::OpsError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(crate::OpsError::Usage(m))) => Err(error(StatusCode::BAD_REQUEST, "invalid_value", &m, "")),
        Ok(Err(e)) => Err(internal(e)),
        Err(e) => Err(internal(e)),
    }
}

/// Checks the caller; a refusal is logged (`ACCESS_DENIED`) and answered 401/403.
pub(crate) async fn authorize(app: &Arc<App>, headers: &HeaderMap, need: Need) -> Result<Caller, Response> {
    let h = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match app.gate.check(h, need, app.ops.clock().as_ref()) {
        Ok(c) => Ok(c),
        Err(r) => Err(refuse(app, r).await),
    }
}

/// Answers a refusal once it is logged (on the blocking pool).
pub(crate) async fn refuse(app: &Arc<App>, r: Refusal) -> Response {
    let ops = app.ops.clone();
    let who = r.principal.as_deref().unwrap_or("anonymous");
    tracing::warn!(status = r.status, principal = %who, "refused: {}", r.message);
    let denial = r.clone();
    let logged = tokio::task::spawn_blocking(move || ops.record_denial(&denial)).await;
    if let Err(e) = logged.map_err(|e| e.to_string()).and_then(|r| r.map_err(|e| e.to_string())) {
        tracing::error!(error = %e, "could not ledger ACCESS_DENIED");
    }
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::FORBIDDEN);
    let code = if r.status == 401 { "unauthorized" } else { "forbidden" };
    error(status, code, &r.message, "")
}

async fn healthz(State(app): Shared) -> Response {
    let ops = app.ops.clone();
    match blocking(move || Ok(ops.counts())).await {
        Ok(c) => json_response(StatusCode::OK, &json!({"status": "ok", "tenants": c.len()})),
        Err(r) => r,
    }
}

/// Reads the body within `limits.max_body_bytes` and `server.request_timeout_ms`.
async fn read_body(app: &App, headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, Response> {
    let max = app.ops.config().limits.max_body_bytes;
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            &format!("the body exceeds {max} bytes (limits.max_body_bytes)"),
            "",
        )
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let wait = Duration::from_millis(app.ops.config().server.request_timeout_ms);
    match tokio::time::timeout(wait, axum::body::to_bytes(body, max)).await {
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            &format!("the body did not arrive within {} ms (server.request_timeout_ms)", wait.as_millis()),
            "",
        )),
        Ok(Err(e)) if format!("{e:?}").contains("LengthLimit") => Err(too_large()),
        Ok(Err(e)) => {
            Err(error(StatusCode::BAD_REQUEST, "body_unreadable", &format!("the body could not be read: {e}"), ""))
        }
        Ok(Ok(b)) => Ok(b),
    }
}

async fn ingest(State(app): Shared, headers: HeaderMap, body: Body) -> Response {
    let caller = match authorize(&app, &headers, Need::Ingest).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let bytes = match read_body(&app, &headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let limits = &app.ops.config().limits;
    let events = match split_body(&bytes, limits).and_then(|v| validate_all(v, limits)) {
        Ok(e) => e,
        Err(i) => return invalid(&i),
    };
    let dev_tenant = &app.ops.config().views.dev_tenant;
    let tenant = match caller.tenant_for(events[0].field("tenant_id"), dev_tenant) {
        Ok(t) => t,
        Err(r) => return refuse(&app, r).await,
    };
    if let Some(i) = events.iter().position(|e| e.field("tenant_id").is_some_and(|t| t != tenant)) {
        let m = format!("events of one request belong to one tenant ({tenant:?})");
        return error(StatusCode::BAD_REQUEST, "mixed_tenants", &m, &format!("/{i}/tenant_id"));
    }
    let ops = app.ops.clone();
    match blocking(move || ops.ingest(&tenant, events)).await {
        Ok(r) => json_response(StatusCode::OK, &r),
        Err(r) => r,
    }
}

async fn adjust(State(app): Shared, headers: HeaderMap, body: Body) -> Response {
    let caller = match authorize(&app, &headers, Need::Ingest).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let bytes = match read_body(&app, &headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let v: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, "malformed_json", &format!("the body is not JSON: {e}"), ""),
    };
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let Some(event_id) = s("event_id") else {
        return error(StatusCode::BAD_REQUEST, "missing_field", "event_id (string) is required", "/event_id");
    };
    let Some(amount) = v.get("amount_usd").and_then(|x| x.as_f64()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "missing_field",
            "amount_usd (number, signed) is required",
            "/amount_usd",
        );
    };
    let Some(reason) = s("reason") else {
        return error(StatusCode::BAD_REQUEST, "missing_field", "reason (string) is required", "/reason");
    };
    let tenant = match caller.tenant_for(s("tenant_id").as_deref(), &app.ops.config().views.dev_tenant) {
        Ok(t) => t,
        Err(r) => return refuse(&app, r).await,
    };
    let ops = app.ops.clone();
    let actor = caller.principal.clone();
    match blocking(move || ops.adjust(&tenant, &event_id, amount, &reason, &actor)).await {
        Ok(r) => json_response(StatusCode::OK, &r),
        Err(r) => r,
    }
}

/// Parsed query parameters of the read endpoints.
pub(crate) struct ReadParams {
    pub(crate) tenant: String,
    pub(crate) window_hours: u32,
    pub(crate) limit: usize,
    pub(crate) filter: Filter,
}

/// Authorises a read and parses its parameters.
pub(crate) async fn read_params(
    app: &Arc<App>,
    headers: &HeaderMap,
    q: Params,
    token: Option<&str>,
) -> Result<ReadParams, Response> {
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return Err(error(StatusCode::BAD_REQUEST, "invalid_query", &e.body_text(), "")),
    };
    let caller = match token {
        Some(t) => {
            let h = format!("Bearer {t}");
            match app.gate.check(Some(&h), Need::Read, app.ops.clock().as_ref()) {
                Ok(c) => c,
                Err(r) => return Err(refuse(app, r).await),
            }
        }
        None => authorize(app, headers, Need::Read).await?,
    };
    let v = &app.ops.config().views;
    let asked = q.get("tenant").filter(|t| !t.is_empty());
    let tenant = match caller.tenant_for(asked.map(String::as_str), &v.dev_tenant) {
        Ok(t) => t,
        Err(r) => return Err(refuse(app, r).await),
    };
    let num = |k: &str, d: u64, max: u64| -> Result<u64, Response> {
        match q.get(k).filter(|s| !s.is_empty()) {
            None => Ok(d),
            Some(s) => s.parse::<u64>().ok().filter(|n| (1..=max).contains(n)).ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    "invalid_value",
                    &format!("{k}={s:?}: expected an integer from 1 to {max}"),
                    &format!("/{k}"),
                )
            }),
        }
    };
    let window_hours = num("window_hours", v.window_hours.into(), v.max_window_hours.into())? as u32;
    let limit = num("limit", v.failures_limit as u64, v.max_failures_limit as u64)? as usize;
    let opt = |k: &str| q.get(k).filter(|s| !s.is_empty()).cloned();
    Ok(ReadParams {
        tenant,
        window_hours,
        limit,
        filter: Filter { workflow_id: opt("workflow_id"), agent_id: opt("agent_id") },
    })
}

async fn overview(State(app): Shared, headers: HeaderMap, q: Params) -> Response {
    let p = match read_params(&app, &headers, q, None).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let ops = app.ops.clone();
    match blocking(move || ops.overview(&p.tenant, p.window_hours, &p.filter)).await {
        Ok(o) => json_response(StatusCode::OK, &o),
        Err(r) => r,
    }
}

async fn failures(State(app): Shared, headers: HeaderMap, q: Params) -> Response {
    let p = match read_params(&app, &headers, q, None).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let ops = app.ops.clone();
    match blocking(move || ops.failures(&p.tenant, p.limit, &p.filter)).await {
        Ok(f) => json_response(StatusCode::OK, &json!({"failures": f})),
        Err(r) => r,
    }
}

async fn timeseries(State(app): Shared, headers: HeaderMap, q: Params) -> Response {
    let p = match read_params(&app, &headers, q, None).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let ops = app.ops.clone();
    match blocking(move || ops.timeseries(&p.tenant, p.window_hours, &p.filter)).await {
        Ok(t) => json_response(StatusCode::OK, &json!({"window_hours": p.window_hours, "points": t})),
        Err(r) => r,
    }
}
