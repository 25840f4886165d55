//! tokenscrub removes credentials from logs and traces in flight.
//!
//! Each credential (an `Authorization` header value, a JWT, an API key, a password in a URL, a
//! private key...) is replaced by a stable keyed fingerprint, `REDACTED:<kind>:<16 hex>`, so the
//! same token gives the same word on every host sharing the key; every other byte is left as it
//! was.
//!
//! The core is pure and synchronous: [`rules`] compile the catalogue (`patterns/*.toml`),
//! [`scan`] finds secrets with a literal prefilter and per-rule regexes, [`Redactor`] rewrites.
//! [`pipe`] streams bytes through it; adapters for other transports sit on top. [`scanmode`]
//! runs the same stream path report-only: where each credential is, never what it is.
//!
//! ```
//! use tokenscrub::RedactorBuilder;
//!
//! let redactor = RedactorBuilder::new().build(b"an example key of at least 32 bytes!").unwrap();
//! let out = redactor.redact(b"curl -H 'Authorization: Bearer abcdEFGH1234ijklMNOP5678'\n");
//! let out = String::from_utf8(out).unwrap();
//! assert!(out.starts_with("curl -H 'Authorization: Bearer REDACTED:"));
//! assert!(!out.contains("abcdEFGH1234"));
//! // Redacting again changes nothing.
//! assert_eq!(redactor.redact(out.as_bytes()), out.as_bytes());
//! ```
#![deny(missing_docs)]

pub mod allow;
pub mod check;
pub mod checksum;
pub mod config;
pub mod exposure;
pub mod fingerprint;
mod gate;
pub mod keysource;
pub mod pipe;
pub mod redact;
pub mod replacement;
pub mod rewrite;
pub mod rules;
pub mod scan;
pub mod scanmode;
pub mod structured;
mod validate;

pub use redact::{BuildError, Redactor, RedactorBuilder, Scratch};
pub use rewrite::Rewrite;
pub use scan::Finding;
pub use validate::{is_jwt, is_placeholder, shannon_entropy};
