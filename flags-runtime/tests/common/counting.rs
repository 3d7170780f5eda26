//! A global allocator that counts the allocations of the measuring thread only, for the
//! tests that evaluations allocate nothing (flags-runtime's, interpreted; the root crate's,
//! compiled). Include it with `#[path]` and install it with `#[global_allocator]`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static MEASURING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if MEASURING.try_with(Cell::get).unwrap_or(false) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if MEASURING.try_with(Cell::get).unwrap_or(false) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations made by `f`, run 1000 times after a warm-up run.
pub fn allocations(mut f: impl FnMut()) -> usize {
    f();
    ALLOCATIONS.store(0, Ordering::Relaxed);
    MEASURING.with(|m| m.set(true));
    for _ in 0..1_000 {
        f();
    }
    MEASURING.with(|m| m.set(false));
    ALLOCATIONS.load(Ordering::Relaxed)
}
