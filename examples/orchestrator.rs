//! How an orchestrator links the kernel: assemble context with the attention service, route the
//! prompt through the router, and read back what the ledger recorded.
//!
//! Run after `cargo run --release --bin cpctl -- quickstart` (which creates and bootstraps
//! `./cp-root`): `cargo run --release --example orchestrator -- ./cp-root [--provider NAME]`.
//! The provider is chosen as `cpctl route` chooses it ([`cp_kernel::choose_provider`]): the
//! `--provider` flag (a key of `providers` in the plane's router config: mock, openai,
//! anthropic as shipped), else `openai` when `CP_OPENAI_BASE_URL` is set, else the config's
//! default (the mock provider as shipped).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use cp_kernel::{
    AttentionRequest, AttentionService, Plane, PromptContract, PromptRequest, PromptRouter, Provenance, RoutedContext,
    RouterOptions, SchemaSet, choose_provider,
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

/// The command line: `[ROOT] [--provider NAME]`.
struct Args {
    root: String,
    provider: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut out = Args { root: cp_kernel::env_vars::DEFAULT_ROOT.into(), provider: None };
    let mut it = std::env::args().skip(1);
    let mut root_given = false;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--provider" => out.provider = Some(it.next().ok_or("--provider needs a provider name")?),
            _ if a.starts_with('-') => {
                return Err(format!("unknown option {a} (usage: orchestrator [ROOT] [--provider NAME])"));
            }
            _ if root_given => {
                return Err(format!("unexpected argument {a} (usage: orchestrator [ROOT] [--provider NAME])"));
            }
            _ => {
                out.root = a;
                root_given = true;
            }
        }
    }
    Ok(out)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let plane = Plane::open(args.root.as_ref())?;

    // One attention service and one router per process; both are Send + Sync.
    let attention = AttentionService::builder(&plane).build()?;
    // The token secret is the plane's, as `cpctl` finds it: `CP_AUTH_SECRET_FILE`, else
    // `CP_AUTH_SECRET`, else the operator secret the quickstart wrote (`HOT/plane/auth-secret`).
    let mut opts = RouterOptions::new();
    if let Some(p) = choose_provider(args.provider, None) {
        opts = opts.default_provider(p);
    }
    let router = PromptRouter::open(&plane, opts)?;
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
