//! The dashboard at `/`: one server-rendered HTML page (numbers readable without JavaScript)
//! with the four KPI cards, the spend-per-hour chart (inline SVG), the recent failures table,
//! "last updated" and a tenant/workflow filter; it reloads itself every
//! `views.refresh_interval_s` (`<meta http-equiv="refresh">`). A browser cannot send a bearer
//! header on navigation, so the page also takes the token as `?token=`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::{App, blocking, read_params};
use crate::views::{FailureRow, HourPoint, Overview};

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `GET /`.
pub(crate) async fn page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    q: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let token = q.as_ref().ok().and_then(|Query(m)| m.get("token").cloned()).filter(|t| !t.is_empty());
    let p = match read_params(&app, &headers, q, token.as_deref()).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let ops = app.ops.clone();
    let (tenant, w, lim, f) = (p.tenant.clone(), p.window_hours, p.limit, p.filter.clone());
    let got = blocking(move || {
        Ok((ops.overview(&tenant, w, &f)?, ops.failures(&tenant, lim, &f)?, ops.timeseries(&tenant, w, &f)?))
    })
    .await;
    let (o, fl, ts) = match got {
        Ok(v) => v,
        Err(r) => return r,
    };
    let now = app.ops.clock().wall_now();
    let view = PageView {
        tenant: &p.tenant,
        workflow: p.filter.workflow_id.as_deref().unwrap_or(""),
        token: token.as_deref(),
        refresh_s: app.ops.config().views.refresh_interval_s,
        updated: format!("{now:.0}"),
        dev: app.gate.dev(),
    };
    let html = render(&view, &o, &fl, &ts);
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// What the page shows besides the numbers.
#[derive(Debug)]
pub struct PageView<'a> {
    /// Tenant shown.
    pub tenant: &'a str,
    /// Workflow filter (empty = all).
    pub workflow: &'a str,
    /// Token carried in the links (when given as `?token=`).
    pub token: Option<&'a str>,
    /// Reload interval (s).
    pub refresh_s: u64,
    /// When the numbers were computed.
    pub updated: String,
    /// Whether auth is waived (the tenant field is then editable).
    pub dev: bool,
}

fn fmt_opt<T: std::fmt::Display>(v: Option<T>, suffix: &str) -> String {
    v.map_or_else(|| "–".to_string(), |x| format!("{x}{suffix}"))
}

/// Renders the page.
pub fn render(v: &PageView<'_>, o: &Overview, failures: &[FailureRow], ts: &[HourPoint]) -> String {
    let mut h = String::with_capacity(8192);
    let rate = o.success_rate.map(|r| format!("{:.1}%", r * 100.0));
    let avg = o.avg_latency_ms.map(|a| format!("{a:.0}"));
    let _ = write!(
        h,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{refresh}">
<title>Control Plane operations</title><style>
body{{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d2430;background:#f6f7f9}}
.cards{{display:grid;grid-template-columns:repeat(4,1fr);gap:1rem}}.card{{background:#fff;border-radius:8px;padding:1rem;box-shadow:0 1px 3px #0002}}
.card .v{{font-size:2rem;font-weight:600}}table{{border-collapse:collapse;width:100%;background:#fff}}td,th{{padding:.35rem .6rem;border-bottom:1px solid #e3e6ea;text-align:left;font-size:.9rem}}
form{{margin:1rem 0}}.muted{{color:#667}}</style></head><body>
<h1>Operations — tenant <span id="tenant">{tenant}</span></h1>
<p class="muted">Last {w} h · last updated <time id="last-updated">{updated}</time> · reloads every {refresh} s</p>
<form method="get" action="/">{tenant_input}<label>workflow <input name="workflow_id" value="{workflow}"></label>{token_input} <button>Filter</button></form>
<div class="cards">
<div class="card" id="card-runs"><div class="muted">Runs</div><div class="v" data-kpi="runs">{runs}</div><div class="muted">{running} running</div></div>
<div class="card" id="card-success"><div class="muted">Success rate</div><div class="v" data-kpi="success_rate">{rate}</div><div class="muted">{s} ok · {f} failed</div></div>
<div class="card" id="card-spend"><div class="muted">Spend</div><div class="v" data-kpi="spend_usd">${spend:.2}</div><div class="muted" data-kpi="spend_exact">{spend}</div></div>
<div class="card" id="card-latency"><div class="muted">Avg latency</div><div class="v" data-kpi="avg_latency_ms">{avg}</div><div class="muted">p95 {p95}</div></div>
</div>"#,
        refresh = v.refresh_s,
        tenant = esc(v.tenant),
        w = o.window_hours,
        updated = esc(&v.updated),
        tenant_input = if v.dev {
            format!(r#"<label>tenant <input name="tenant" value="{}"></label> "#, esc(v.tenant))
        } else {
            String::new()
        },
        workflow = esc(v.workflow),
        token_input =
            v.token.map(|t| format!(r#"<input type="hidden" name="token" value="{}">"#, esc(t))).unwrap_or_default(),
        runs = o.runs,
        running = o.running,
        rate = fmt_opt(rate, ""),
        s = o.successes,
        f = o.failures,
        spend = o.spend_usd,
        avg = fmt_opt(avg, " ms"),
        p95 = fmt_opt(o.p95_latency_ms, " ms"),
    );
    h.push_str(&chart(ts));
    h.push_str(r#"<h2>Recent failures</h2><table id="failures"><thead><tr><th>time</th><th>agent</th><th>workflow</th><th>run</th><th>error</th><th>latency ms</th><th>cost usd</th><th>trace</th></tr></thead><tbody>"#);
    for r in failures {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.timestamp),
            esc(&r.agent_id),
            esc(&r.workflow_id),
            esc(r.run_id.as_deref().unwrap_or("")),
            esc(r.error_type.as_deref().unwrap_or("")),
            r.latency_ms,
            crate::views::round_usd(r.cost_usd),
            esc(r.trace_id.as_deref().unwrap_or(""))
        );
    }
    if failures.is_empty() {
        h.push_str(r#"<tr><td colspan="8" class="muted">no failures</td></tr>"#);
    }
    h.push_str("</tbody></table>");
    let _ = write!(
        h,
        r#"<p class="muted">API: <a href="/v1/metrics/overview?tenant={t}">overview</a> · <a href="/v1/failures/recent?tenant={t}">failures</a> · <a href="/v1/metrics/timeseries?tenant={t}">timeseries</a></p></body></html>"#,
        t = enc(v.tenant)
    );
    h
}

/// The spend-per-hour bar chart as inline SVG.
fn chart(ts: &[HourPoint]) -> String {
    let (w, hgt) = (720.0f64, 140.0f64);
    let max = ts.iter().map(|p| p.spend_usd).fold(0.0f64, f64::max);
    let bw = if ts.is_empty() { 0.0 } else { w / ts.len() as f64 };
    let mut s = format!(
        r#"<h2>Spend per hour</h2><svg id="spend-chart" role="img" aria-label="spend per hour" width="{w}" height="{}" viewBox="0 0 {w} {}" style="background:#fff;border-radius:8px">"#,
        hgt + 20.0,
        hgt + 20.0
    );
    for (i, p) in ts.iter().enumerate() {
        let bh = if max > 0.0 { p.spend_usd / max * hgt } else { 0.0 };
        let _ = write!(
            s,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#3b6fd8"><title>{} ${}</title></rect>"##,
            i as f64 * bw + 1.0,
            hgt - bh + 10.0,
            (bw - 2.0).max(1.0),
            bh,
            esc(&p.hour),
            p.spend_usd
        );
    }
    let _ = write!(s, r##"<text x="4" y="12" font-size="11" fill="#667">max ${max:.2}/h</text></svg>"##);
    s
}
