//! The marker type of every bool flag, for extractors and layers that take a feature as a
//! type parameter: `declare!` makes `XFeature` an alias of `FeatureOf<Flags, INDEX>`, so a
//! flag costs a type alias rather than a type with impls of its own.

use std::fmt;
use std::marker::PhantomData;

use crate::report::Feature;

/// What the generic half of generated items reads of a `declare!`d type.
pub trait FlagSet: 'static {
    /// For each flag, in `flags.toml` order, its key if it is a bool flag, else `""` (no
    /// key is empty).
    const FEATURES: &'static [&'static str];

    /// Whether bool flag `index` is on (for the context in scope).
    fn is_enabled(index: usize) -> bool;
}

/// Bool flag `INDEX` of `F` as a type.
pub struct FeatureOf<F, const INDEX: usize>(PhantomData<fn() -> F>);

impl<F: FlagSet, const INDEX: usize> Feature for FeatureOf<F, INDEX> {
    const KEY: &'static str = {
        let key = F::FEATURES[INDEX];
        assert!(
            !key.is_empty(),
            "FeatureOf names a flag that is not a bool flag"
        );
        key
    };

    #[inline]
    fn enabled() -> bool {
        F::is_enabled(INDEX)
    }
}

impl<F, const INDEX: usize> Clone for FeatureOf<F, INDEX> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F, const INDEX: usize> Copy for FeatureOf<F, INDEX> {}

impl<F, const INDEX: usize> Default for FeatureOf<F, INDEX> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<F: FlagSet, const INDEX: usize> fmt::Debug for FeatureOf<F, INDEX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Feature").field(&Self::KEY).finish()
    }
}
