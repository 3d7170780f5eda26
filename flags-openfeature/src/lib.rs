//! OpenFeature for the `flags` toolkit (the `openfeature` feature of the `flags` crate, as
//! `flags::openfeature`).
//!
//! - `FlagsProvider` (feature `provider`, on by default) is an OpenFeature provider over a
//!   [`Runtime`]: code written against the `open-feature` SDK evaluates the flags of
//!   `flags.toml`, with the same values, reasons and live changes as `Flags::x()`.
//! - [`Resolver`], [`ContextBuilder`], [`ResolutionReason`] and [`ErrorCode`] are the
//!   mappings between OpenFeature and the runtime, with no SDK: the OFREP endpoints of
//!   `flags::axum::ofrep` use them too, so that both answer alike.
//!
//! ```
//! # #[cfg(feature = "provider")]
//! # async fn example() {
//! use flags_openfeature::FlagsProvider;
//! use open_feature::{EvaluationContext, OpenFeature};
//!
//! flags::declare!("../flags.toml");
//!
//! let mut api = OpenFeature::singleton_mut().await;
//! api.set_provider(FlagsProvider::new(Flags::runtime())).await;
//! let client = api.create_client();
//! let ada = EvaluationContext::default()
//!     .with_targeting_key("u-1")
//!     .with_custom_field("email", "ada@example.com");
//! let comments = client
//!     .get_bool_value("product-TASKS-103-comments", Some(&ada), None)
//!     .await
//!     .unwrap_or(false); // the application's default, on any error
//! # let _ = comments;
//! # }
//! ```
//!
//! `docs/openfeature.md` documents the mappings: reasons, error codes, context and metadata.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod context;
#[cfg(feature = "provider")]
mod provider;
mod resolve;

pub use context::{ContextBuilder, Field, MAX_ATTRIBUTES};
#[cfg(feature = "provider")]
pub use provider::FlagsProvider;
pub use resolve::{ErrorCode, Failure, Resolution, ResolutionReason, Resolver, metadata, variant};

#[doc(no_inline)]
pub use flags_runtime::Runtime;
