//! The hot path's allocation promises, counted with a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use armature_router::{get, Router};
use http::Request;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; it only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

// One test function, so no other test thread allocates while counting.
#[test]
fn route_lookup_never_allocates() {
    let handler = || get(|_req: Request<()>| async { "" });
    let mut builder = Router::builder();
    for route in [
        "/plaintext",
        "/users/{id}",
        "/repos/{owner}/{repo}/issues/{number}",
        "/files/{*path}",
        "/a/{b}/c/{d}/e/{f}/g/{h}/i/{j}",
    ] {
        builder = builder.route(route, handler());
    }
    for i in 0..40 {
        builder = builder.route(&format!("/static/number-{i}/{{id}}"), handler());
    }
    let router = builder.build().unwrap();
    for path in [
        "/plaintext",
        "/users/42",
        "/repos/rust-lang/rust/issues/1",
        "/files/a/b/c.txt",
        "/static/number-39/x",
        "/missing/path",
        "/a/1/c/2/e/3/g/4/i/5",
    ] {
        let mut found = None;
        let n = allocations_in(|| found = router.at(path).map(|m| m.template().len()));
        // Five parameters spill the inline storage of four; fewer never allocate.
        let expected = if path.starts_with("/a/") { 1 } else { 0 };
        assert_eq!(n, expected, "{path} allocated {n} times");
        assert_eq!(found.is_some(), path != "/missing/path", "{path}");
    }
}
