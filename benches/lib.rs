//! Shared fixtures for Armature's criterion benchmarks: the route tables and the three
//! benchmark endpoints, built through the public API only, as a user would.

use std::convert::Infallible;
use std::hint::black_box;

use armature_router::{get, Router};
use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup};
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use tower::{Service, ServiceExt};

/// The request body of the layer benchmarks.
pub type Req = Empty<Bytes>;
/// The response body of [`inner`].
pub type Res = Full<Bytes>;
/// Builds the request of one benchmark iteration.
pub type MakeRequest = fn() -> Request<Req>;
/// The bare inner service of the layer benchmarks.
pub type Inner = tower::util::ServiceFn<
    fn(Request<Req>) -> std::future::Ready<Result<Response<Res>, Infallible>>,
>;

/// A bare service answering `Hello, World!`: what each layer wraps, and the "bare" baseline.
pub fn inner() -> Inner {
    fn hello(_req: Request<Req>) -> std::future::Ready<Result<Response<Res>, Infallible>> {
        std::future::ready(Ok(Response::new(Full::new(Bytes::from_static(
            b"Hello, World!",
        )))))
    }
    tower::service_fn(hello as fn(_) -> _)
}

/// Benchmarks one request through `svc` as `name` in `group`: the request is built outside
/// the measured part, the response body is read to the end inside it.
pub fn bench_oneshot<S, B>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    rt: &tokio::runtime::Runtime,
    svc: S,
    request: MakeRequest,
) where
    S: Service<Request<Req>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    group.bench_function(name, |b| {
        b.to_async(rt).iter_batched(
            || (svc.clone(), request()),
            |(svc, req)| async move {
                let res = svc.oneshot(black_box(req)).await.unwrap();
                black_box(res.into_body().collect().await.unwrap());
            },
            BatchSize::SmallInput,
        )
    });
}

/// Times `iters` calls of `call`, each on an input from `make`. Inputs are built in batches of
/// `batch` outside the timed part (building a request is the server's work, not the service's),
/// and the batch vector is reused, so no page is first touched while timing — criterion's
/// `iter_batched` collects outputs into a fresh vector and so times that vector's page
/// faults, about 50 ns a request here. For `Bencher::iter_custom`.
pub async fn timed_in_batches<T>(
    iters: u64,
    batch: u64,
    mut make: impl FnMut() -> T,
    mut call: impl AsyncFnMut(T),
) -> std::time::Duration {
    let mut inputs = Vec::with_capacity(batch as usize);
    let mut timed = std::time::Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(batch);
        inputs.extend((0..n).map(|_| make()));
        let start = std::time::Instant::now();
        for input in inputs.drain(..) {
            call(black_box(input)).await;
        }
        timed += start.elapsed();
        left -= n;
    }
    timed
}

/// The GitHub REST API route table used by matchit's benchmark (130 routes), in `{param}`
/// syntax. Six routes of that table glue a parameter to a static segment
/// (`/orgs/{org}/members{user}`); here they have the `/` the real API has.
pub const GITHUB_ROUTES: &[&str] = &[
    "/authorizations",
    "/authorizations/{id}",
    "/applications/{client_id}/tokens/{access_token}",
    "/events",
    "/repos/{owner}/{repo}/events",
    "/networks/{owner}/{repo}/events",
    "/orgs/{org}/events",
    "/users/{user}/received_events",
    "/users/{user}/received_events/public",
    "/users/{user}/events",
    "/users/{user}/events/public",
    "/users/{user}/events/orgs/{org}",
    "/feeds",
    "/notifications",
    "/repos/{owner}/{repo}/notifications",
    "/notifications/threads/{id}",
    "/notifications/threads/{id}/subscription",
    "/repos/{owner}/{repo}/stargazers",
    "/users/{user}/starred",
    "/user/starred",
    "/user/starred/{owner}/{repo}",
    "/repos/{owner}/{repo}/subscribers",
    "/users/{user}/subscriptions",
    "/user/subscriptions",
    "/repos/{owner}/{repo}/subscription",
    "/user/subscriptions/{owner}/{repo}",
    "/users/{user}/gists",
    "/gists",
    "/gists/{id}",
    "/gists/{id}/star",
    "/repos/{owner}/{repo}/git/blobs/{sha}",
    "/repos/{owner}/{repo}/git/commits/{sha}",
    "/repos/{owner}/{repo}/git/refs",
    "/repos/{owner}/{repo}/git/tags/{sha}",
    "/repos/{owner}/{repo}/git/trees/{sha}",
    "/issues",
    "/user/issues",
    "/orgs/{org}/issues",
    "/repos/{owner}/{repo}/issues",
    "/repos/{owner}/{repo}/issues/{number}",
    "/repos/{owner}/{repo}/assignees",
    "/repos/{owner}/{repo}/assignees/{assignee}",
    "/repos/{owner}/{repo}/issues/{number}/comments",
    "/repos/{owner}/{repo}/issues/{number}/events",
    "/repos/{owner}/{repo}/labels",
    "/repos/{owner}/{repo}/labels/{name}",
    "/repos/{owner}/{repo}/issues/{number}/labels",
    "/repos/{owner}/{repo}/milestones/{number}/labels",
    "/repos/{owner}/{repo}/milestones/",
    "/repos/{owner}/{repo}/milestones/{number}",
    "/emojis",
    "/gitignore/templates",
    "/gitignore/templates/{name}",
    "/meta",
    "/rate_limit",
    "/users/{user}/orgs",
    "/user/orgs",
    "/orgs/{org}",
    "/orgs/{org}/members",
    "/orgs/{org}/members/{user}",
    "/orgs/{org}/public_members",
    "/orgs/{org}/public_members/{user}",
    "/orgs/{org}/teams",
    "/teams/{id}",
    "/teams/{id}/members",
    "/teams/{id}/members/{user}",
    "/teams/{id}/repos",
    "/teams/{id}/repos/{owner}/{repo}",
    "/user/teams",
    "/repos/{owner}/{repo}/pulls",
    "/repos/{owner}/{repo}/pulls/{number}",
    "/repos/{owner}/{repo}/pulls/{number}/commits",
    "/repos/{owner}/{repo}/pulls/{number}/files",
    "/repos/{owner}/{repo}/pulls/{number}/merge",
    "/repos/{owner}/{repo}/pulls/{number}/comments",
    "/user/repos",
    "/users/{user}/repos",
    "/orgs/{org}/repos",
    "/repositories",
    "/repos/{owner}/{repo}",
    "/repos/{owner}/{repo}/contributors",
    "/repos/{owner}/{repo}/languages",
    "/repos/{owner}/{repo}/teams",
    "/repos/{owner}/{repo}/tags",
    "/repos/{owner}/{repo}/branches",
    "/repos/{owner}/{repo}/branches/{branch}",
    "/repos/{owner}/{repo}/collaborators",
    "/repos/{owner}/{repo}/collaborators/{user}",
    "/repos/{owner}/{repo}/comments",
    "/repos/{owner}/{repo}/commits/{sha}/comments",
    "/repos/{owner}/{repo}/commits",
    "/repos/{owner}/{repo}/commits/{sha}",
    "/repos/{owner}/{repo}/readme",
    "/repos/{owner}/{repo}/keys",
    "/repos/{owner}/{repo}/keys/{id}",
    "/repos/{owner}/{repo}/downloads",
    "/repos/{owner}/{repo}/downloads/{id}",
    "/repos/{owner}/{repo}/forks",
    "/repos/{owner}/{repo}/hooks",
    "/repos/{owner}/{repo}/hooks/{id}",
    "/repos/{owner}/{repo}/releases",
    "/repos/{owner}/{repo}/releases/{id}",
    "/repos/{owner}/{repo}/releases/{id}/assets",
    "/repos/{owner}/{repo}/stats/contributors",
    "/repos/{owner}/{repo}/stats/commit_activity",
    "/repos/{owner}/{repo}/stats/code_frequency",
    "/repos/{owner}/{repo}/stats/participation",
    "/repos/{owner}/{repo}/stats/punch_card",
    "/repos/{owner}/{repo}/statuses/{ref}",
    "/search/repositories",
    "/search/code",
    "/search/issues",
    "/search/users",
    "/legacy/issues/search/{owner}/{repository}/{state}/{keyword}",
    "/legacy/repos/search/{keyword}",
    "/legacy/user/search/{keyword}",
    "/legacy/user/email/{email}",
    "/users/{user}",
    "/user",
    "/users",
    "/user/emails",
    "/users/{user}/followers",
    "/user/followers",
    "/users/{user}/following",
    "/user/following",
    "/user/following/{user}",
    "/users/{user}/following/{target}",
    "/users/{user}/keys",
    "/user/keys",
    "/user/keys/{id}",
];

/// One concrete request path per route of [`GITHUB_ROUTES`], each parameter filled in.
pub fn github_paths() -> Vec<String> {
    GITHUB_ROUTES
        .iter()
        .map(|route| {
            route
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        "rust-lang"
                    } else {
                        seg
                    }
                })
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}

/// A router over [`GITHUB_ROUTES`] whose handlers answer nothing in particular.
pub fn github_router() -> Router<()> {
    GITHUB_ROUTES
        .iter()
        .fold(Router::builder(), |b, route| {
            b.route(route, get(|_req: Request<()>| async { "" }))
        })
        .build()
        .expect("the GitHub table has no conflicts")
}
