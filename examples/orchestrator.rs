//! How an orchestrator links the kernel: assemble context with the attention service, route the
//! prompt through the router, and read back what the ledger recorded.
//!
//! Run after `cargo run --bin cpctl -- quickstart` (which creates and bootstraps `./cp-root`):
//! `cargo run --example orchestrator -- ./cp-root`
#![allow(clippy::print_stdout, clippy::print_stderr)]

use cp_kernel::{
    AttentionRequest, AttentionService, AuthSecret, Plane, PromptContract, PromptRequest, PromptRouter, Provenance,
    RoutedContext, RouterOptions, SchemaSet,
};
use serde_json::json;

/// Errors print as `error:` plus one `caused by:` per cause (Display, never Rust debug text).
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut cause = e.source();
            while let Some(c) = cause {
                eprintln!("  caused by: {c}");
                cause = c.source();
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args().nth(1).unwrap_or_else(|| "./cp-root".into());
    let plane = Plane::open(root.as_ref())?;

    // One attention service and one router per process; both are Send + Sync.
    let attention = AttentionService::builder(&plane).build()?;
    let secret_file = cp_installer::quickstart_secret_path(plane.root());
    let secret = AuthSecret::from_sources(Some(&secret_file), None, plane.root(), 32)?;
    let router = PromptRouter::open(&plane, RouterOptions::new().auth_secret(secret))?;
    let (token, _) = router.issue_token("orchestrator", &["agent".into()], "demo", Some(600))?;

    // The agent's request: who it is, where it runs, which contract it fulfils.
    let contract_path = "HOT/contracts/PRC-QUICKSTART-001.yaml";
    let request: AttentionRequest = serde_json::from_value(json!({
        "agent_id": "agent-7", "agent_class": "KERNEL.semantic", "framework_id": "FMWK-003",
        "tier": "ho1", "tenant_id": "demo", "session_id": "S-example", "work_order_id": "WO-42",
        "prompt_contract_path": contract_path,
    }))?;
    let context = attention.assemble(&request)?;
    println!(
        "template {} → {} fragments, {} tokens",
        context.template_id,
        context.fragments.len(),
        context.budget_used.tokens
    );

    let contract = PromptContract::load(&SchemaSet::for_plane(&plane)?, &plane.resolve(contract_path)?)?;
    let provenance = Provenance {
        tenant_id: Some("demo".into()),
        agent_id: Some("agent-7".into()),
        agent_class: Some("KERNEL.semantic".into()),
        framework_id: Some("FMWK-003".into()),
        work_order_id: Some("WO-42".into()),
        session_id: Some("S-example".into()),
        ..Provenance::default()
    };
    let response = router.route(PromptRequest {
        context: RoutedContext::from(&context),
        contract,
        input: json!({"question": "What does FMWK-003 require of every LLM call?"}),
        provenance,
        auth_token: token,
    })?;
    println!(
        "{} ({} + {} tokens, {} micro-units)",
        response.text, response.usage.input_tokens, response.usage.output_tokens, response.cost_micros
    );
    println!("ledger: PROMPT_SENT seq {} → PROMPT_RECEIVED seq {}", response.sent.seq, response.received.seq);
    Ok(())
}
