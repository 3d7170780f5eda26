//! This thread's count of the stubs and kept configurations active in it, read by inlined
//! checks without a borrow: zero means every published word is this thread's answer, even a
//! word marked `LOCAL` for some other thread's sake.

use std::cell::Cell;

thread_local! {
    static LOCAL_COUNT: Cell<usize> = const { Cell::new(0) };
}

/// Whether this thread has no stub and holds no configuration: then a word marked `LOCAL`
/// (for some other thread's sake) still answers here.
#[inline(always)]
pub(crate) fn none_in_this_thread() -> bool {
    LOCAL_COUNT
        .try_with(Cell::get)
        .map_or(true, |count| count == 0)
}

/// `entries` more stubs or configurations are active in this thread.
pub(crate) fn add_local(entries: usize) {
    let _ = LOCAL_COUNT.try_with(|count| count.set(count.get() + entries));
}

/// `entries` fewer stubs or configurations are active in this thread.
pub(crate) fn remove_local(entries: usize) {
    let _ = LOCAL_COUNT.try_with(|count| count.set(count.get().saturating_sub(entries)));
}
