//! What the process tests share: a plane that can route, and a token for it.

use cp_kernel::testkit::{TempPlane, router_test_configs, test_secret, write_router_configs};
use cp_kernel::{PromptRouter, RouterOptions};

/// The auth secret of [`test_secret`], as child processes get it (`CP_AUTH_SECRET`).
pub(crate) const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// A plane with the router test configs and a token of `principal` with `role` for tenant
/// `acme`, valid for a day. Issued on the real clock, relative to now: the child processes that
/// use it read the real clock.
pub(crate) fn routable_plane(principal: &str, role: &str) -> (TempPlane, String) {
    let tp = TempPlane::new();
    let (r, b, p) = router_test_configs();
    write_router_configs(&tp, &r, &b, &p);
    let router = PromptRouter::open(&tp.plane, RouterOptions::new().auth_secret(test_secret())).unwrap();
    let (tok, _) = router.issue_token(principal, &[role.into()], "acme", Some(86_400)).unwrap();
    (tp, tok)
}
