//! The attention request: who needs context, for what, under which contract.

use serde::{Deserialize, Serialize};

use crate::contract::PromptContract;
use crate::plane::Tier;

/// Class of the requesting agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AgentClass {
    /// `KERNEL.syntactic`.
    #[serde(rename = "KERNEL.syntactic")]
    KernelSyntactic,
    /// `KERNEL.semantic`.
    #[serde(rename = "KERNEL.semantic")]
    KernelSemantic,
    /// `ADMIN`.
    #[serde(rename = "ADMIN")]
    Admin,
    /// `RESIDENT`.
    #[serde(rename = "RESIDENT")]
    Resident,
}

impl AgentClass {
    /// The wire name (`KERNEL.syntactic`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KernelSyntactic => "KERNEL.syntactic",
            Self::KernelSemantic => "KERNEL.semantic",
            Self::Admin => "ADMIN",
            Self::Resident => "RESIDENT",
        }
    }
}

impl std::fmt::Display for AgentClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request for context. Deserializable from YAML/JSON (`cpctl attention assemble --request`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttentionRequest {
    /// Agent that needs context.
    pub agent_id: String,
    /// Its class.
    pub agent_class: AgentClass,
    /// Framework the agent belongs to.
    #[serde(default)]
    pub framework_id: Option<String>,
    /// Tier the agent runs in (default tier scope of the stages).
    pub tier: Tier,
    /// Work order being executed (`recency: work_order` needs it).
    #[serde(default)]
    pub work_order_id: Option<String>,
    /// Session scope (`recency: session` needs it).
    #[serde(default)]
    pub session_id: Option<String>,
    /// Tenant: every ledger read is restricted to it.
    pub tenant_id: String,
    /// The prompt contract, inline.
    #[serde(default)]
    pub prompt_contract: Option<PromptContract>,
    /// Or a plane-relative path to it (`HOT/contracts/PRC-X.yaml`), loaded and validated.
    #[serde(default)]
    pub prompt_contract_path: Option<String>,
    /// Force this template id (bypasses matching).
    #[serde(default)]
    pub template_override: Option<String>,
}
