//! [`observe`]: which route the router matched, learned by a layer outside it without a
//! request or response extension.
//!
//! A layer that labels requests by route (analytics, an access log) sees only the response,
//! and carrying the route there ([`ReportMatchedRoute`](crate::ReportMatchedRoute)) costs the
//! router an extension map on every response. Instead the layer runs the inner service's
//! `call` (and `poll`) inside [`observe`]: the router, which matches in `call`, reports the
//! route it matched into a thread-local cell the observation opened, and the layer reads it
//! back before the observation closes. Outside an observation the router pays one
//! thread-local read per request.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::marker::PhantomData;

/// Identifies a route of a [`Router`](crate::Router): its number (its position in
/// [`Router::routes`](crate::Router::routes)) and a fingerprint of the route templates up to
/// and including it. Two routers built with the same routes, in the same order, give their
/// common routes the same keys, so a key taken from one router's
/// [`route_keys`](crate::Router::route_keys) recognizes the route when another router built
/// alike (say the same routes plus some more after them) reports it.
///
/// ```
/// use armature_router::{get, Router};
/// use http::Request;
///
/// let api = || Router::<()>::builder().route("/users/{id}", get(|_r: Request<()>| async { "" }));
/// let served = api().route("/metrics", get(|_r: Request<()>| async { "" })).build().unwrap();
/// let listed = api().build().unwrap();
/// let key = listed.route_keys().next().unwrap();
/// assert_eq!(key.number(), 0);
/// assert_eq!(served.route_key("/users/7"), Some(key));
/// // `/metrics`, which `listed` lacks, has a key of its own.
/// let metrics = served.route_key("/metrics").unwrap();
/// assert_eq!(metrics.number(), 1);
/// assert!(listed.route_keys().all(|k| k != metrics));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteKey {
    number: u32,
    table: u64,
}

impl RouteKey {
    /// The route's position in [`Router::routes`](crate::Router::routes).
    pub fn number(self) -> usize {
        self.number as usize
    }
}

/// Computes the keys of a router's routes, in [`Router::routes`](crate::Router::routes)
/// order.
#[derive(Default)]
pub(crate) struct KeyChain {
    hasher: DefaultHasher,
    next: u32,
}

impl KeyChain {
    pub(crate) fn key(&mut self, template: &str) -> RouteKey {
        template.hash(&mut self.hasher);
        let key = RouteKey {
            number: self.next,
            table: self.hasher.finish(),
        };
        self.next = self.next.saturating_add(1);
        key
    }
}

/// What the router did while an [`observe`]d closure ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed<T> {
    /// No router was called (on this thread): an outer layer answered the request itself,
    /// say, or the router runs on another task.
    NotCalled,
    /// A router was called and no route matched the path: its fallback answered, or the path
    /// was not valid percent-encoding.
    Unmatched,
    /// A router matched a route: what `label` made of its key and template.
    Route(T),
}

#[derive(Clone, Copy)]
enum Seen {
    Nothing,
    Unmatched,
    Route(RouteKey),
}

#[derive(Clone, Copy)]
struct Scope {
    open: bool,
    seen: Seen,
}

thread_local! {
    static SCOPE: Cell<Scope> = const {
        Cell::new(Scope { open: false, seen: Seen::Nothing })
    };
    /// The route reported last on this thread and its template (the string's capacity is
    /// kept, so reports stop allocating once the longest template has been seen).
    static TEMPLATE: RefCell<(Option<RouteKey>, String)> = const {
        RefCell::new((None, String::new()))
    };
}

/// An observation in progress on this thread: the guard form of [`observe`], for a layer
/// that calls (or polls) the inner service between [`start`](Self::start) and
/// [`finish`](Self::finish) rather than in a closure.
///
/// Dropping it unfinished (say the inner service panicked) closes it all the same. Finish or
/// drop observations in the reverse order of their start, as scopes nest; it is not `Send`.
///
/// ```
/// use armature_router::{get, Observation, Observed, Router};
/// use http::Request;
/// use tower::Service;
///
/// let mut router = Router::builder()
///     .route("/users/{id}", get(|_req: Request<()>| async { "alice" }))
///     .build()
///     .unwrap();
/// let observation = Observation::start();
/// let _future = router.call(Request::get("/users/7").body(()).unwrap());
/// let seen = observation.finish(|_key, template| template.to_owned());
/// assert_eq!(seen, Observed::Route("/users/{id}".to_owned()));
/// ```
pub struct Observation {
    /// The observation this one is nested in, put back when this one closes.
    outer: Scope,
    not_send: PhantomData<*const ()>,
}

impl fmt::Debug for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observation").finish_non_exhaustive()
    }
}

impl Observation {
    /// Opens an observation on this thread: a router called from now on reports to it.
    #[inline]
    pub fn start() -> Observation {
        Observation {
            outer: SCOPE.replace(Scope {
                open: true,
                seen: Seen::Nothing,
            }),
            not_send: PhantomData,
        }
    }

    /// Closes the observation: what the router did meanwhile, its route passed to `label`
    /// with its template (see [`observe`]).
    #[inline]
    pub fn finish<T>(self, label: impl FnOnce(RouteKey, &str) -> T) -> Observed<T> {
        match SCOPE.get().seen {
            Seen::Nothing => Observed::NotCalled,
            Seen::Unmatched => Observed::Unmatched,
            // The template written with the report, unless a later report (in an observation
            // nested in this one, after this one's) replaced it: then nothing is known after
            // all.
            Seen::Route(key) => TEMPLATE.with_borrow(|(last, template)| {
                if *last == Some(key) {
                    Observed::Route(label(key, template))
                } else {
                    Observed::NotCalled
                }
            }),
        }
        // Dropping `self` closes it.
    }
}

/// Closes an observation: puts the enclosing one back, handing it what this one saw if it
/// has seen nothing itself.
impl Drop for Observation {
    #[inline]
    fn drop(&mut self) {
        let mut outer = self.outer;
        if outer.open && matches!(outer.seen, Seen::Nothing) {
            outer.seen = SCOPE.get().seen;
        }
        SCOPE.set(outer);
    }
}

/// Runs `f` and reports which route a [`Router`](crate::Router) matched while it ran, on this
/// thread: the router's answer is passed to `label` as the route's [`RouteKey`] and template.
///
/// The first router to report counts: a router called from a handler of the first (a router
/// nested as a service) does not change the answer. Observations nest: an inner one (another
/// layer's, further in) sees the report first, then hands it to the enclosing one. `label`
/// must not call a router itself.
///
/// The answer is [`Observed::NotCalled`] as well in one odd case: after the router reported,
/// a router of a handler's own, observed by the handler, reported too (the template at hand
/// is then that one's). A layer treats it as any request no router saw.
///
/// ```
/// use armature_router::{get, observe, Observed, Router};
/// use http::Request;
/// use tower::Service;
///
/// let mut router = Router::builder()
///     .route("/health", get(|_req: Request<()>| async { "ok" }))
///     .route("/users/{id}", get(|_req: Request<()>| async { "alice" }))
///     .build()
///     .unwrap();
/// let call = |router: &mut Router<()>, path: &str| {
///     let req = Request::get(path).body(()).unwrap();
///     observe(|| router.call(req), |key, template| (key.number(), template.to_owned())).1
/// };
/// assert_eq!(call(&mut router, "/users/7"), Observed::Route((1, "/users/{id}".to_owned())));
/// assert_eq!(call(&mut router, "/nope"), Observed::Unmatched);
/// assert_eq!(observe(|| (), |_, _| ()).1, Observed::NotCalled);
/// ```
#[inline]
pub fn observe<R, T>(
    f: impl FnOnce() -> R,
    label: impl FnOnce(RouteKey, &str) -> T,
) -> (R, Observed<T>) {
    let observation = Observation::start();
    let out = f();
    (out, observation.finish(label))
}

/// Called by a router once it knows the route of a request (`route()`; `None`: no route),
/// for the observation open on this thread, if any. Without one, a thread-local read.
#[inline]
pub(crate) fn report<'a>(route: impl FnOnce() -> Option<(RouteKey, &'a str)>) {
    let scope = SCOPE.get();
    if scope.open && matches!(scope.seen, Seen::Nothing) {
        record(scope, route());
    }
}

#[cold]
#[inline(never)]
fn record(mut scope: Scope, route: Option<(RouteKey, &str)>) {
    scope.seen = match route {
        None => Seen::Unmatched,
        Some((key, template)) => {
            let copied = TEMPLATE.try_with(|copy| match copy.try_borrow_mut() {
                Ok(mut copy) => {
                    let (last, copy) = &mut *copy;
                    // A key names one template (its fingerprint covers it): the same route
                    // as last time, the usual case under load, has its template copied already.
                    if *last != Some(key) {
                        *last = Some(key);
                        copy.clear();
                        copy.push_str(template);
                    }
                    true
                }
                Err(_) => false,
            });
            if copied != Ok(true) {
                return;
            }
            Seen::Route(key)
        }
    };
    SCOPE.set(scope);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(number: u32) -> RouteKey {
        RouteKey { number, table: 7 }
    }

    fn label(key: RouteKey, template: &str) -> (usize, String) {
        (key.number(), template.to_owned())
    }

    #[test]
    fn an_inner_observation_hands_its_report_to_the_outer_one() {
        let ((), outer) = observe(
            || {
                let ((), inner) = observe(|| report(|| Some((key(3), "/a"))), label);
                assert_eq!(inner, Observed::Route((3, "/a".to_owned())));
                report(|| Some((key(4), "/b"))); // the first report counts
            },
            label,
        );
        assert_eq!(outer, Observed::Route((3, "/a".to_owned())));
    }

    #[test]
    fn a_template_replaced_by_a_later_report_is_not_passed_on() {
        let ((), outer) = observe(
            || {
                report(|| Some((key(1), "/first")));
                // A handler observing a router of its own, after the first report.
                let ((), inner) = observe(|| report(|| Some((key(2), "/second"))), label);
                assert_eq!(inner, Observed::Route((2, "/second".to_owned())));
            },
            label,
        );
        assert_eq!(outer, Observed::NotCalled);
    }

    #[test]
    fn each_report_passes_on_its_own_template_repeated_or_not() {
        for (number, template) in [(8, "/x"), (8, "/x"), (9, "/y/{id}"), (8, "/x")] {
            let ((), seen) = observe(|| report(|| Some((key(number), template))), label);
            assert_eq!(
                seen,
                Observed::Route((number as usize, template.to_owned()))
            );
        }
    }

    #[test]
    fn a_panic_closes_the_observation() {
        let ((), outer) = observe(
            || {
                let caught = std::panic::catch_unwind(|| observe(|| panic!("handler"), label));
                assert!(caught.is_err());
                report(|| None); // the outer observation is open again
            },
            label,
        );
        assert_eq!(outer, Observed::Unmatched);
        // Outside any observation, a report goes nowhere.
        report(|| Some((key(1), "/c")));
        assert_eq!(observe(|| (), label).1, Observed::NotCalled);
    }

    #[test]
    fn keys_chain_the_templates_before_them() {
        let (mut a, mut b) = (KeyChain::default(), KeyChain::default());
        assert_eq!(a.key("/x"), b.key("/x"));
        assert_ne!(a.key("/y"), b.key("/z"));
        assert_ne!(
            a.key("/w"),
            b.key("/w"),
            "same template, other routes before it"
        );
    }
}
