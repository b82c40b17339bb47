//! HMAC-SHA256 auth tokens bound to principal, roles and tenant. Filled in by the router work.
