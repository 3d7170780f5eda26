//! Every form #[feature_gate] accepts, run with the flag on and off.
use flags::{FeatureDisabled, feature_gate};

flags::declare!("fixtures/good.toml");

#[feature_gate("new_feature_enabled")]
fn free() -> Result<u32, FeatureDisabled> {
    Ok(1)
}

/// Docs and attributes stay on the fn.
#[feature_gate("new_feature_enabled")]
#[inline]
pub fn generic<T: Default + std::fmt::Debug>(value: T) -> std::result::Result<T, FeatureDisabled> {
    let _ = T::default();
    Ok(value)
}

#[derive(Debug, PartialEq)]
enum AppError {
    Disabled(String),
}

impl From<FeatureDisabled> for AppError {
    fn from(disabled: FeatureDisabled) -> Self {
        AppError::Disabled(disabled.to_string())
    }
}

type AppResult<T> = Result<T, AppError>;

#[feature_gate("new_feature_enabled")]
fn with_alias() -> AppResult<&'static str> {
    Ok("new")
}

#[feature_gate("new_feature_enabled")]
fn boxed() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Ok(())
}

#[feature_gate("new_feature_enabled")]
async fn asynchronous(x: u32) -> Result<u32, FeatureDisabled> {
    tokio::task::yield_now().await;
    Ok(x * 2)
}

fn legacy_total(items: &[u32], tax: u32) -> u32 {
    items.iter().sum::<u32>() + tax
}

#[feature_gate("new_feature_enabled", fallback = legacy_total)]
fn total(items: &[u32], tax: u32) -> u32 {
    items.iter().sum::<u32>() * 2 + tax
}

struct Point(u32, u32);

fn legacy_sum(Point(x, y): Point, (a, b): (u32, u32)) -> u32 {
    x + y + a + b
}

// Arguments written as patterns reach the fallback whole.
#[feature_gate("new_feature_enabled", fallback = legacy_sum)]
fn sum(Point(x, y): Point, (a, b): (u32, u32)) -> u32 {
    (x + y + a + b) * 100
}

async fn old_fetch(id: u32) -> String {
    format!("old {id}")
}

#[feature_gate("new_feature_enabled", fallback = old_fetch)]
async fn fetch(id: u32) -> String {
    format!("new {id}")
}

struct Cart {
    items: Vec<u32>,
}

impl Cart {
    #[feature_gate("new_feature_enabled")]
    fn checkout(&self) -> Result<usize, FeatureDisabled> {
        Ok(self.items.len())
    }

    fn old_count(&mut self, extra: u32) -> u32 {
        self.items.push(extra);
        0
    }

    #[feature_gate("new_feature_enabled", fallback = Self::old_count)]
    fn count(&mut self, extra: u32) -> u32 {
        self.items.push(extra);
        self.items.len() as u32
    }

    #[feature_gate("new_feature_enabled")]
    async fn pay(self) -> Result<u32, AppError> {
        Ok(self.items.iter().sum())
    }
}

trait Shop {
    fn open(&self) -> Result<bool, FeatureDisabled>;
}

impl Shop for Cart {
    #[feature_gate("new_feature_enabled")]
    fn open(&self) -> Result<bool, FeatureDisabled> {
        Ok(true)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    for (on, _stub) in Flags::each(FlagsStub::new_feature_enabled) {
        let disabled = FeatureDisabled::new("new_feature_enabled");
        let expect = |value| if on { Ok(value) } else { Err(disabled) };
        assert_eq!(free(), expect(1));
        assert_eq!(generic(5u8), if on { Ok(5) } else { Err(disabled) });
        assert_eq!(
            with_alias(),
            if on { Ok("new") } else { Err(AppError::Disabled("feature `new_feature_enabled` is not enabled".into())) }
        );
        assert_eq!(boxed().is_ok(), on);
        assert_eq!(asynchronous(4).await, expect(8));
        assert_eq!(total(&[1, 2], 3), if on { 9 } else { 6 });
        assert_eq!(sum(Point(1, 2), (3, 4)), if on { 1000 } else { 10 });
        assert_eq!(fetch(7).await, if on { "new 7" } else { "old 7" });
        let mut cart = Cart { items: vec![1, 2] };
        assert_eq!(cart.checkout(), if on { Ok(2) } else { Err(disabled) });
        assert_eq!(cart.count(5), if on { 3 } else { 0 });
        assert_eq!(cart.open(), if on { Ok(true) } else { Err(disabled) });
        assert_eq!(cart.pay().await.is_ok(), on);
    }
}
