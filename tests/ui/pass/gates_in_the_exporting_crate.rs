// Flags declared for other crates (`export`) are gated in the declaring crate too: at the
// root, and in a module that names them by path.
flags::declare!("fixtures/good.toml", export);

#[flags::feature_gate("new_feature_enabled")]
fn at_the_root() -> Result<(), flags::FeatureDisabled> {
    Ok(())
}

mod checkout {
    #[flags::feature_gate("new_feature_enabled", flags = crate::Flags)]
    pub fn in_a_module() -> Result<(), flags::FeatureDisabled> {
        Ok(())
    }

    pub mod nested {
        #[flags::feature_gate("new_feature_enabled", flags = super::super::Flags)]
        pub fn further_down() -> Result<(), flags::FeatureDisabled> {
            Ok(())
        }
    }
}

fn main() {
    for (on, _stub) in Flags::each(FlagsStub::new_feature_enabled) {
        assert_eq!(at_the_root().is_ok(), on);
        assert_eq!(checkout::in_a_module().is_ok(), on);
        assert_eq!(checkout::nested::further_down().is_ok(), on);
    }
}
