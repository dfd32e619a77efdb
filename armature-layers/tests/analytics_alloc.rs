//! The analytics layer allocates nothing per request on a known route: counted with a
//! counting global allocator, as the difference between the bare router and the router
//! behind the layer, with or without the router registered: either way the router tells the
//! layer its route as it matches (`armature_router::observe`), not in a response extension.
//! That the count sees such an extension is checked too: a request asking the router for one
//! ([`ReportMatchedRoute`]) costs more than the bare router.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use armature_layers::analytics::{AnalyticsLayer, Consumers};
use armature_router::{get, ReportMatchedRoute, Router};
use http::Request;
use http_body_util::BodyExt;
use tower::{Layer, Service, ServiceExt};

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

/// Allocations of one request through `svc` (request built before counting), asking for the
/// matched route when `report`.
fn allocations_of<S, B>(rt: &tokio::runtime::Runtime, svc: &S, path: &str, report: bool) -> usize
where
    S: Service<Request<()>, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let mut req = Request::get(path).body(()).unwrap();
    let svc = svc.clone();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    // Counted, as the layer's own insert is.
    if report {
        req.extensions_mut().insert(ReportMatchedRoute);
    }
    rt.block_on(async move {
        let res = svc.oneshot(req).await.unwrap();
        res.into_body().collect().await.unwrap();
    });
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

// One test function, so no other test thread allocates while counting.
#[test]
fn a_known_route_costs_no_allocation_beyond_the_router() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let router = Router::builder()
        .route("/users/{id}", get(|_req: Request<()>| async { "alice" }))
        .route("/plaintext", get(|_req: Request<()>| async { "Hello" }))
        .build()
        .unwrap();
    let plain = AnalyticsLayer::new().layer(router.clone());
    let registered = AnalyticsLayer::builder()
        .routes(&router)
        .build()
        .layer(router.clone());
    for path in ["/users/42", "/plaintext"] {
        // Warm up: the plain layer creates a route's counters on its first request, and
        // either layer this thread's shard of counters on its first request.
        allocations_of(&rt, &router, path, false);
        allocations_of(&rt, &plain, path, false);
        allocations_of(&rt, &registered, path, false);
        let most = |count: &dyn Fn() -> usize| (0..10).map(|_| count()).max().unwrap();
        let bare = most(&|| allocations_of(&rt, &router, path, false));
        let reporting = most(&|| allocations_of(&rt, &router, path, true));
        let with_plain = most(&|| allocations_of(&rt, &plain, path, false));
        let with_registered = most(&|| allocations_of(&rt, &registered, path, false));
        assert!(reporting > bare, "{path}: a response extension is not free");
        assert_eq!(with_plain, bare, "{path}: the layer allocated");
        assert_eq!(
            with_registered, bare,
            "{path}: the layer with a router allocated"
        );
    }
    // Consumers are counted in a bounded table: a known consumer costs nothing either.
    let counted = AnalyticsLayer::builder()
        .routes(&router)
        .consumers(Consumers::header("x-api-key"), 16)
        .build()
        .layer(router.clone());
    let keyed = |svc: &_| {
        let req = Request::get("/plaintext")
            .header("x-api-key", "k")
            .body(())
            .unwrap();
        let svc: &tower::util::BoxCloneService<_, _, _> = svc;
        let svc = svc.clone();
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        rt.block_on(async move {
            svc.oneshot(req).await.unwrap();
        });
        ALLOCATIONS.load(Ordering::Relaxed) - before
    };
    let counted = tower::util::BoxCloneService::new(counted.map_response(|r| r.map(|_| ())));
    let bare = tower::util::BoxCloneService::new(router.map_response(|r| r.map(|_| ())));
    keyed(&counted);
    let with_consumers = (0..10).map(|_| keyed(&counted)).max().unwrap();
    let without = (0..10).map(|_| keyed(&bare)).max().unwrap();
    assert_eq!(with_consumers, without, "a known consumer allocated");
}
