//! The attention service: assembles an agent's context by running an attention template's
//! pipeline. Read-only: never writes the ledger, never sends a prompt. Filled in by the
//! attention work.
