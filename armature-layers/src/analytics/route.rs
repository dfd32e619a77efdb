//! [`Route`]: how a request finds its counters. Usually the router tells, as it matches
//! ([`Observation`]); a request the router never saw (an outer layer refused it) is looked up
//! by its path in the registered router.

use armature_router::{MatchedRoute, Observation, Observed, RouteKey};
use http::Request;
use smallvec::SmallVec;

use super::layer::Shared;
use super::stats::Counters;

/// The longest path copied (on the stack) to be looked up after the call.
const PATH_COPY: usize = 128;

/// What is known of a request's route.
pub(crate) struct Route {
    counters: Counters,
    /// Whether a router reported `counters`; if not, they are what the registered router
    /// says of the path (or `Unmatched`), used unless a router reports later.
    reported: bool,
}

/// The path of a request being called, kept to be looked up if no router reports (or the
/// route a [label](super::AnalyticsBuilder::route_label) read).
pub(crate) enum Lookup {
    /// No router registered: nothing to look up.
    None,
    /// Copied (the request goes to the inner service).
    Path(SmallVec<[u8; PATH_COPY]>),
    /// Too long to copy: looked up before the call.
    Found(Counters),
}

impl Lookup {
    #[inline]
    pub(crate) fn new<B>(shared: &Shared, method: usize, req: &Request<B>) -> Lookup {
        if let Some(template) = shared.label.and_then(|label| label(req.extensions())) {
            return Lookup::Found(Counters::Other(shared.routes.get(method, Some(template))));
        }
        let path = req.uri().path();
        match &shared.router {
            None => Lookup::None,
            Some(_) if path.len() > PATH_COPY => Lookup::Found(shared.resolve(path)),
            Some(_) => Lookup::Path(SmallVec::from_slice(path.as_bytes())),
        }
    }
}

impl Route {
    /// After the inner service's `call`: what `observation` saw, else what `lookup` finds.
    #[inline]
    pub(crate) fn called(
        shared: &Shared,
        method: usize,
        observation: Observation,
        lookup: Lookup,
    ) -> Route {
        let mut route = Route {
            counters: Counters::Unmatched,
            reported: false,
        };
        if route.learn(shared, method, observation) {
            return route;
        }
        route.counters = match lookup {
            Lookup::None => Counters::Unmatched,
            // Copied from a `&str`.
            Lookup::Path(path) => shared.resolve(std::str::from_utf8(&path).unwrap_or_default()),
            Lookup::Found(counters) => counters,
        };
        route
    }

    /// Whether a router has reported; if not, the inner service's `poll` is observed too.
    #[inline]
    pub(crate) fn reported(&self) -> bool {
        self.reported
    }

    /// Takes what `observation` saw, if a router reported; returns whether one did.
    #[inline]
    pub(crate) fn learn(
        &mut self,
        shared: &Shared,
        method: usize,
        observation: Observation,
    ) -> bool {
        let seen = observation
            .finish(|key: RouteKey, template: &str| shared.routes.reported(key, method, template));
        self.counters = match seen {
            Observed::Route(counters) => counters,
            Observed::Unmatched => Counters::Unmatched,
            Observed::NotCalled => return false,
        };
        self.reported = true;
        true
    }

    /// The counters, once the request is answered. `matched` (a route the response names) is
    /// only looked at when no router reported.
    pub(crate) fn counters<'a>(
        self,
        shared: &Shared,
        method: usize,
        matched: impl FnOnce() -> Option<&'a MatchedRoute>,
    ) -> Counters {
        if self.reported {
            return self.counters;
        }
        match matched() {
            Some(m) => Counters::Other(shared.routes.get(method, Some(m.as_str()))),
            None => self.counters,
        }
    }
}
