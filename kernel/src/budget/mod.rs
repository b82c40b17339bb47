//! The token budgeter: hierarchical scopes, reserve/settle/release in the same ledger
//! transaction as the router's entries; state is a pure function of the ledger.
//! Filled in by the router work.
