//! Every environment variable the kernel and its binaries read, defined once.

/// Root of the plane when `--root` is not given (else `./cp-root`).
pub const CONTROL_PLANE_ROOT: &str = "CONTROL_PLANE_ROOT";
/// Secret used to sign and verify HMAC auth tokens (alternative to a secret file).
pub const CP_AUTH_SECRET: &str = "CP_AUTH_SECRET";
/// Path of a file holding the HMAC auth secret (must lie outside the plane).
pub const CP_AUTH_SECRET_FILE: &str = "CP_AUTH_SECRET_FILE";
/// Base URL of an OpenAI-compatible endpoint; when set, the quickstart routes there.
pub const CP_OPENAI_BASE_URL: &str = "CP_OPENAI_BASE_URL";
/// API key for the OpenAI-compatible endpoint.
pub const CP_OPENAI_API_KEY: &str = "CP_OPENAI_API_KEY";
/// API key for the Anthropic Messages endpoint.
pub const CP_ANTHROPIC_API_KEY: &str = "CP_ANTHROPIC_API_KEY";
/// Directory holding the bootstrap package sources (overrides the built-in location).
pub const CP_PACKAGES_DIR: &str = "CP_PACKAGES_DIR";

/// Default plane root when neither `--root` nor [`CONTROL_PLANE_ROOT`] is given.
pub const DEFAULT_ROOT: &str = "./cp-root";

/// Auth token used by `cpctl route`, `cpctl budget` when `--token` is not given.
pub const CP_AUTH_TOKEN: &str = "CP_AUTH_TOKEN";
