//! The counters: one [`RouteStats`] per method and route template, found without allocating
//! (and, for the routes registered up front, without a lock) once it exists, updated in
//! per-thread [`Shards`] without atomic read-modify-writes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, RwLock};

use super::shards::{Add, Shards};

use armature_router::RouteKey;
use http::Method;

/// The route label of requests no route matched (404s, and refusals of outer layers when no
/// router was given to resolve their path). Templates start with `/`, so it names no route.
pub const UNMATCHED: &str = "unmatched";

/// Upper bounds of the latency buckets, in seconds: a 1-2.5-5 series from 25 µs to 10 s,
/// fine enough at the low end for percentiles of fast APIs.
pub const DURATION_BUCKETS: [f64; 18] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds of the body size buckets, in bytes.
pub const SIZE_BUCKETS: [f64; 8] = [
    64.0,
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
];

const DURATION_NANOS: [u64; 18] = {
    let micros = [
        25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
        500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
    ];
    let mut nanos = [0; 18];
    let mut i = 0;
    while i < 18 {
        nanos[i] = micros[i] * 1_000;
        i += 1;
    }
    nanos
};

const SIZE_BYTES: [u64; 8] = [64, 256, 1024, 4096, 16384, 65536, 262_144, 1_048_576];

/// The duration bucket of `nanos`: the first whose bound it does not exceed (the last, +Inf,
/// past them all). Searched from the short end, where a fast API's requests fall after a
/// compare or two.
#[inline]
fn duration_bucket(nanos: u64) -> usize {
    DURATION_NANOS
        .iter()
        .position(|&bound| nanos <= bound)
        .unwrap_or(DURATION_NANOS.len())
}

/// The size bucket of `bytes`, computed: the bounds are the powers of 4 from 4^3 to 4^10, so
/// the bucket is ceil(log4(bytes)) - 3, clamped to `0..=8` (8 is +Inf).
#[inline]
fn size_bucket(bytes: u64) -> usize {
    // ceil(log2(bytes)) for bytes >= 1 (0 for 0 and 1), then halved rounding up.
    let log2 = (u64::BITS - bytes.saturating_sub(1).leading_zeros()) as usize;
    (log2.div_ceil(2)).saturating_sub(3).min(SIZE_BYTES.len())
}

/// Methods with a label of their own; any other is `_OTHER`, as OpenTelemetry says, so an
/// attacker's made-up methods cannot add series.
pub(crate) const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "_OTHER",
];

/// The index of `HEAD` in [`METHODS`].
pub(crate) const HEAD: usize = 1;

pub(crate) fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::DELETE => 4,
        Method::PATCH => 5,
        Method::OPTIONS => 6,
        Method::CONNECT => 7,
        Method::TRACE => 8,
        _ => 9,
    }
}

/// Status classes, and `error` for requests that got no response at all (the service
/// returned an error, or the client went away before the handler answered).
pub(crate) const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "error"];
pub(crate) const CLASS_ERROR: usize = 5;
/// The index of `5xx` in [`CLASSES`].
pub(crate) const CLASS_5XX: usize = 4;

pub(crate) fn class_index(status: u16) -> usize {
    match status {
        100..=199 => 0,
        200..=299 => 1,
        300..=399 => 2,
        400..=499 => 3,
        _ => 4,
    }
}

/// A histogram of fixed buckets: one relaxed add for the bucket, one for the sum.
pub(crate) struct Histogram<const N: usize> {
    buckets: [AtomicU64; N],
    sum: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    fn new() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum: AtomicU64::new(0),
        }
    }

    /// Counts `value` in bucket `index` (of [`duration_bucket`] or [`size_bucket`]).
    #[inline]
    fn record(&self, add: Add, index: usize, value: u64) {
        add.u64(&self.buckets[index], 1);
        add.u64(&self.sum, value);
    }

    /// How many values it holds.
    fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }

    pub(crate) fn snapshot(&self) -> HistogramSnapshot<N> {
        HistogramSnapshot {
            counts: std::array::from_fn(|i| self.buckets[i].load(Relaxed)),
            sum: self.sum.load(Relaxed),
        }
    }
}

/// The buckets (not cumulative) and sum of a histogram at one moment.
#[derive(Clone, Copy)]
pub(crate) struct HistogramSnapshot<const N: usize> {
    pub(crate) counts: [u64; N],
    pub(crate) sum: u64,
}

impl<const N: usize> HistogramSnapshot<N> {
    pub(crate) fn zero() -> Self {
        HistogramSnapshot {
            counts: [0; N],
            sum: 0,
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds `other`'s counts and sum, modulo 2^64 as the shards' counters themselves add: a
    /// sum of nanoseconds or bytes that passes 2^64 (584 years of latency, which thousands of
    /// long-lived requests reach in weeks) starts again from 0, which Prometheus reads as a
    /// counter reset, rather than panicking or sticking at its maximum.
    pub(crate) fn add(&mut self, other: &Self) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.wrapping_add(*b);
        }
        self.sum = self.sum.wrapping_add(other.sum);
    }

    /// `(upper bound, count)` per bucket, not cumulative, the last bound `f64::MAX` for
    /// `+Inf`: what prometheus-client's histogram encoder takes.
    pub(crate) fn buckets(&self, bounds: &[f64]) -> Vec<(f64, u64)> {
        bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::MAX))
            .zip(self.counts)
            .collect()
    }

    /// The `q` quantile, interpolated linearly inside its bucket as Prometheus'
    /// `histogram_quantile` does; `None` when empty. Above the last bound, the last bound.
    pub(crate) fn quantile(&self, q: f64, bounds: &[f64]) -> Option<f64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = q * count as f64;
        let mut below = 0u64;
        for (i, &n) in self.counts.iter().enumerate() {
            if n > 0 && (below + n) as f64 >= rank {
                let Some(&upper) = bounds.get(i) else {
                    return bounds.last().copied();
                };
                let lower = if i == 0 { 0.0 } else { bounds[i - 1] };
                let within = (rank - below as f64) / n as f64;
                return Some(lower + (upper - lower) * within.clamp(0.0, 1.0));
            }
            below += n;
        }
        bounds.last().copied()
    }
}

/// What is recorded for one status class of one method + route (one shard of it).
struct ClassStats {
    duration: Histogram<19>,
    request_size: Histogram<9>,
    response_size: Histogram<9>,
}

impl Default for ClassStats {
    fn default() -> Self {
        ClassStats {
            duration: Histogram::new(),
            request_size: Histogram::new(),
            response_size: Histogram::new(),
        }
    }
}

/// What one status class of one method + route has recorded, over all shards.
pub(crate) struct ClassSnapshot {
    pub(crate) duration: HistogramSnapshot<19>,
    pub(crate) request_size: HistogramSnapshot<9>,
    pub(crate) response_size: HistogramSnapshot<9>,
}

/// The counters of one method + route template.
pub(crate) struct RouteStats {
    pub(crate) method: &'static str,
    pub(crate) route: Arc<str>,
    /// `route` as a Prometheus label value: `\`, `"` and newlines escaped (prometheus-client
    /// writes label values as given, and a template another router labels with — a
    /// `route_label` — may hold them). The same `Arc` when there is nothing to escape.
    pub(crate) label: Arc<str>,
    classes: Shards<[ClassStats; 6]>,
    /// Requests refused by the rate limiter (its `RateLimited` marker).
    pub(crate) rate_limited: AtomicU64,
    /// The response body failed midway.
    pub(crate) body_errors: AtomicU64,
    /// Of those, the bodies of `5xx` answers: already errors by their status, so the
    /// summary's error count (one a request) leaves them out.
    pub(crate) body_errors_after_5xx: AtomicU64,
    /// The inner service returned an error instead of a response.
    pub(crate) service_errors: AtomicU64,
    /// The client went away before the handler answered.
    pub(crate) aborted: AtomicU64,
}

/// `value` escaped for the text exposition formats (Prometheus 0.0.4, OpenMetrics): `\` as
/// `\\`, `"` as `\"`, a newline as `\n`.
fn label_value(value: &Arc<str>) -> Arc<str> {
    if !value.contains(['\\', '"', '\n']) {
        return Arc::clone(value);
    }
    let mut escaped = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    Arc::from(escaped)
}

impl RouteStats {
    fn new(method: &'static str, route: Arc<str>) -> Self {
        RouteStats {
            method,
            label: label_value(&route),
            route,
            classes: Shards::new(),
            rate_limited: AtomicU64::new(0),
            body_errors: AtomicU64::new(0),
            body_errors_after_5xx: AtomicU64::new(0),
            service_errors: AtomicU64::new(0),
            aborted: AtomicU64::new(0),
        }
    }

    /// One finished request.
    #[inline]
    pub(crate) fn record(&self, class: usize, nanos: u64, request: u64, response: u64) {
        let (classes, add) = self.classes.local();
        let class = &classes[class];
        class.duration.record(add, duration_bucket(nanos), nanos);
        class
            .request_size
            .record(add, size_bucket(request), request);
        class
            .response_size
            .record(add, size_bucket(response), response);
    }

    /// How many requests it has recorded, of every status class.
    fn finished(&self) -> u64 {
        self.classes
            .each()
            .flat_map(|classes| classes.iter())
            .map(|class| class.duration.count())
            .sum()
    }

    /// What status class `class` (an index of [`CLASSES`]) has recorded.
    pub(crate) fn class(&self, class: usize) -> ClassSnapshot {
        let mut sum = ClassSnapshot {
            duration: HistogramSnapshot::zero(),
            request_size: HistogramSnapshot::zero(),
            response_size: HistogramSnapshot::zero(),
        };
        for shard in self.classes.each() {
            let shard = &shard[class];
            sum.duration.add(&shard.duration.snapshot());
            sum.request_size.add(&shard.request_size.snapshot());
            sum.response_size.add(&shard.response_size.snapshot());
        }
        sum
    }
}

/// The methods of one route template, each created on first use.
struct RouteEntry {
    template: Arc<str>,
    methods: [OnceLock<Arc<RouteStats>>; 10],
}

impl RouteEntry {
    fn stats(&self, method: usize) -> &Arc<RouteStats> {
        self.methods[method]
            .get_or_init(|| Arc::new(RouteStats::new(METHODS[method], Arc::clone(&self.template))))
    }
}

type Map = HashMap<Box<str>, Arc<RouteEntry>, foldhash::fast::FixedState>;

/// Where the counters of one request are: found once per request, read when it ends.
pub(crate) enum Counters {
    /// A route by its router's number: no hashing, no lock, no reference count.
    Numbered(u32),
    /// No route matched.
    Unmatched,
    /// A route found by its template.
    Other(Arc<RouteStats>),
}

/// How many routes get a numbered slot: those of the registered router, or of the first
/// router to report them (at least this many). A route past them is found by its template.
const SLOTS: usize = 256;

/// A route's number taken by a route (`RouteKey` tells the router's table apart), and its
/// counters.
type Slot = OnceLock<(RouteKey, Arc<RouteEntry>)>;

/// Every route seen so far, bounded: past `max_routes` templates, new ones are counted under
/// [`UNMATCHED`] (a router's table is finite, but a hand-made `MatchedRoute` need not be).
pub(crate) struct Routes {
    /// The routes registered up front: never changes, so read without a lock.
    known: Map,
    /// Routes by number, with their keys: the registered router's, filled up front, or each
    /// claimed by the first route to be reported with that number (a route past
    /// `max_routes` shares `unmatched`).
    numbered: Box<[Slot]>,
    /// Routes first seen in a request.
    map: RwLock<Map>,
    unmatched: Arc<RouteEntry>,
    max_routes: usize,
    /// Requests started per method, on the thread that starts each. Those in flight are
    /// these less those recorded (every request is recorded once, when it ends), so ending
    /// one writes nothing more.
    started: Shards<[AtomicU64; 10]>,
}

impl Routes {
    /// `registered`: the method + route pairs whose counters exist before any request;
    /// `keyed`: the key and template of each route of the registered router, by number.
    pub(crate) fn new<'a>(
        max_routes: usize,
        registered: impl IntoIterator<Item = (&'a Method, &'a str)>,
        keyed: impl IntoIterator<Item = (RouteKey, &'a str)>,
    ) -> Self {
        let mut known = Map::default();
        let add = |known: &mut Map, route: &str| -> Option<Arc<RouteEntry>> {
            if known.len() >= max_routes && !known.contains_key(route) {
                return None;
            }
            let entry = known.entry(route.into()).or_insert_with(|| {
                Arc::new(RouteEntry {
                    template: Arc::from(route),
                    methods: Default::default(),
                })
            });
            Some(Arc::clone(entry))
        };
        for (method, route) in registered {
            if let Some(entry) = add(&mut known, route) {
                entry.stats(method_index(method));
            }
        }
        let unmatched = Arc::new(RouteEntry {
            template: Arc::from(UNMATCHED),
            methods: Default::default(),
        });
        let keyed: Vec<_> = keyed
            .into_iter()
            .map(|(key, route)| {
                let entry = add(&mut known, route).unwrap_or_else(|| Arc::clone(&unmatched));
                (key, entry)
            })
            .collect();
        let slots = keyed
            .iter()
            .map(|(key, _)| key.number() + 1)
            .max()
            .unwrap_or(0)
            .max(SLOTS);
        let numbered: Box<[Slot]> = (0..slots).map(|_| OnceLock::new()).collect();
        for (key, entry) in keyed {
            let _ = numbered[key.number()].set((key, entry));
        }
        Routes {
            known,
            numbered,
            map: RwLock::new(Map::default()),
            unmatched,
            max_routes,
            started: Shards::new(),
        }
    }

    /// A request of `method` starts.
    #[inline]
    pub(crate) fn start(&self, method: usize) {
        let (started, add) = self.started.local();
        add.u64(&started[method], 1);
    }

    /// Requests in flight, by method: started less recorded. Recorded counts are read first,
    /// so a request ending meanwhile cannot make a count negative.
    pub(crate) fn active(&self) -> [u64; 10] {
        let mut active = [0; 10];
        for stats in self.all() {
            if let Some(method) = METHODS.iter().position(|m| *m == stats.method) {
                active[method] += stats.finished();
            }
        }
        for (method, finished) in active.iter_mut().enumerate() {
            let started: u64 = self.started.each().map(|s| s[method].load(Relaxed)).sum();
            *finished = started.saturating_sub(*finished);
        }
        active
    }

    /// The counters of route `key`, if it has a numbered slot (the registered router's
    /// routes all do).
    #[inline]
    pub(crate) fn numbered(&self, key: RouteKey) -> Option<Counters> {
        let (known, _) = self.numbered.get(key.number())?.get()?;
        (*known == key).then_some(Counters::Numbered(key.number() as u32))
    }

    /// The counters of the route a router reported as it matched: `key` and its `template`.
    /// The first report of a number claims its slot, so the same route's later requests are
    /// found by number; a number another route (of another router) holds is found by template.
    #[inline]
    pub(crate) fn reported(&self, key: RouteKey, method: usize, template: &str) -> Counters {
        if let Some(slot) = self.numbered.get(key.number()) {
            let (claimed, _) = slot.get_or_init(|| (key, self.with_entry(template, Arc::clone)));
            if *claimed == key {
                return Counters::Numbered(key.number() as u32);
            }
        }
        Counters::Other(self.get(method, Some(template)))
    }

    /// The counters of `method` that `counters` points to.
    #[inline]
    pub(crate) fn stats<'a>(&'a self, counters: &'a Counters, method: usize) -> &'a RouteStats {
        match counters {
            Counters::Numbered(n) => match self.numbered[*n as usize].get() {
                Some((_, entry)) => entry.stats(method),
                None => self.unmatched.stats(method),
            },
            Counters::Unmatched => self.unmatched.stats(method),
            Counters::Other(stats) => stats,
        }
    }

    /// The counters of `method` on `route` (`None`: unmatched). Allocation-free once the pair
    /// has been seen: for a registered route a hash lookup and a reference count, else a read
    /// lock as well.
    pub(crate) fn get(&self, method: usize, route: Option<&str>) -> Arc<RouteStats> {
        match route {
            None => Arc::clone(self.unmatched.stats(method)),
            Some(route) => self.with_entry(route, |entry| Arc::clone(entry.stats(method))),
        }
    }

    /// `f` of the entry of `route`, created if there is room (`unmatched` if not).
    fn with_entry<T>(&self, route: &str, f: impl FnOnce(&Arc<RouteEntry>) -> T) -> T {
        if let Some(entry) = self.known.get(route) {
            return f(entry);
        }
        if let Some(entry) = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(route)
        {
            return f(entry);
        }
        f(&self.entry(route))
    }

    /// The entry of `route`, created if there is room (slow path, first request only).
    fn entry(&self, route: &str) -> Arc<RouteEntry> {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = map.get(route) {
            return Arc::clone(entry);
        }
        if self.known.len() + map.len() >= self.max_routes {
            return Arc::clone(&self.unmatched);
        }
        let entry = Arc::new(RouteEntry {
            template: Arc::from(route),
            methods: Default::default(),
        });
        map.insert(route.into(), Arc::clone(&entry));
        entry
    }

    /// Every method + route that has counters.
    pub(crate) fn all(&self) -> Vec<Arc<RouteStats>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        self.known
            .values()
            .chain(map.values())
            .chain(std::iter::once(&self.unmatched))
            .flat_map(|entry| entry.methods.iter().filter_map(|m| m.get().cloned()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_within_buckets() {
        let mut h = HistogramSnapshot::<19>::zero();
        h.counts[2] = 100; // 50..100 µs
        let p50 = h.quantile(0.5, &DURATION_BUCKETS).unwrap();
        assert!((p50 - 0.000_075).abs() < 1e-9, "{p50}");
        assert_eq!(
            HistogramSnapshot::<19>::zero().quantile(0.5, &DURATION_BUCKETS),
            None
        );
        h.counts[18] = 1_000; // above 10 s
        assert_eq!(h.quantile(0.99, &DURATION_BUCKETS), Some(10.0));
    }

    #[test]
    fn buckets_take_values_up_to_and_including_their_bound() {
        let routes = Routes::new(10, [], []);
        let stats = routes.get(0, Some("/a"));
        stats.record(1, 25_000, 64, 65);
        let class = stats.class(1);
        assert_eq!(class.duration.counts[0], 1);
        assert_eq!(class.request_size.counts[0], 1);
        assert_eq!(class.response_size.counts[1], 1);
    }

    #[test]
    fn sums_past_2_to_the_64_wrap_instead_of_panicking() {
        let routes = Routes::new(10, [], []);
        let stats = routes.get(0, Some("/a"));
        // Two threads, two shards, each holding 2^63: their sum is 2^64.
        let half = 1 << 63;
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| stats.record(1, half, half, half + 5));
            }
        });
        let class = stats.class(1);
        assert_eq!(class.duration.count(), 2);
        assert_eq!(class.duration.sum, 0);
        assert_eq!(class.request_size.sum, 0);
        assert_eq!(class.response_size.sum, 10);
    }

    /// Every bound, its neighbours and extremes, against a binary search of the bounds.
    #[test]
    fn bucket_indexes_agree_with_a_search_of_the_bounds() {
        let searched = |bounds: &[u64], v: u64| bounds.partition_point(|&b| b < v);
        let probes = |bounds: &[u64]| {
            let mut values = vec![0, 1, 2, 3, u64::MAX - 1, u64::MAX];
            for &b in bounds {
                values.extend([b - 1, b, b + 1, b * 2, b * 3 / 2]);
            }
            values.extend((0..20_000).map(|i| i * 97));
            values
        };
        for v in probes(&SIZE_BYTES) {
            assert_eq!(size_bucket(v), searched(&SIZE_BYTES, v), "{v} bytes");
        }
        for v in probes(&DURATION_NANOS) {
            assert_eq!(duration_bucket(v), searched(&DURATION_NANOS, v), "{v} ns");
        }
        assert_eq!(size_bucket(u64::MAX), SIZE_BYTES.len());
        assert_eq!(duration_bucket(u64::MAX), DURATION_NANOS.len());
    }

    #[test]
    fn routes_past_the_bound_collapse_into_unmatched() {
        let get = Method::GET;
        let routes = Routes::new(2, [(&get, "/a")], []);
        for r in ["/a", "/b", "/c", "/d"] {
            routes.get(0, Some(r));
        }
        let mut names: Vec<_> = routes.all().iter().map(|s| s.route.to_string()).collect();
        names.sort();
        assert_eq!(names, ["/a", "/b", UNMATCHED]);
    }
}
