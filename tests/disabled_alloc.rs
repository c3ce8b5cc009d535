//! Disabled telemetry costs no allocation per span: a span lifecycle through the
//! registry plus our disabled layer allocates no more than the bare registry does.
//! (The counting allocator counts the test thread's allocations only.)

use std::alloc::{GlobalAlloc, Layout, System};

struct Counting;

thread_local! {
    /// Allocations made by this thread only: background export threads don't count.
    static ALLOCATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn allocations() -> u64 {
    ALLOCATIONS.with(|a| a.get())
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

use tracing_subscriber::prelude::*;

fn lifecycle() {
    let span = tracing::info_span!("request", a = 1_u64, b = "two", c = true);
    let _entered = span.enter();
    tracing::info!(x = 1_u64, y = 2_u64, "event");
}

fn allocations_per_lifecycle(dispatch: &tracing::Dispatch) -> u64 {
    tracing::dispatcher::with_default(dispatch, || {
        for _ in 0..100 {
            lifecycle(); // warm up pools and callsite caches
        }
        let before = allocations();
        for _ in 0..1000 {
            lifecycle();
        }
        allocations() - before
    })
}

#[test]
fn disabled_layer_allocates_nothing_per_span() {
    let bare = tracing::Dispatch::new(tracing_subscriber::registry());
    let telemetry = telemetry::Telemetry::builder()
        .enabled(false)
        .build()
        .unwrap();
    let with_disabled =
        tracing::Dispatch::new(tracing_subscriber::registry().with(telemetry.layer()));
    let enabled_telemetry = telemetry::Telemetry::builder()
        .traces_exporter(telemetry::export::ExporterKind::None)
        .build()
        .unwrap();
    let with_enabled =
        tracing::Dispatch::new(tracing_subscriber::registry().with(enabled_telemetry.layer()));

    let bare_allocs = allocations_per_lifecycle(&bare);
    let disabled_allocs = allocations_per_lifecycle(&with_disabled);
    let enabled_allocs = allocations_per_lifecycle(&with_enabled);
    // One allocation per span would show as 1000 here; a few one-off allocations
    // (thread-local set-up) are not per span.
    assert!(
        disabled_allocs <= bare_allocs + 5 && disabled_allocs < 20,
        "disabled: {disabled_allocs} allocations per 1000 lifecycles, bare registry: {bare_allocs}"
    );
    // The measurement can see allocations: the enabled layer does allocate.
    assert!(
        enabled_allocs > bare_allocs + 1000,
        "enabled: {enabled_allocs}"
    );
}
