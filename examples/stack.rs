//! The preset stack: request id → analytics → logger → CORS → rate limit → router, serving
//! the three benchmark endpoints of `examples/hello.rs`, with their OpenAPI document at
//! `/openapi.json` and Swagger UI at `/docs` (built from the router's own route table), and
//! the analytics at `/metrics` (Prometheus), `/analytics` (JSON) and `/analytics/ui` (a live
//! dashboard).
//!
//! ```text
//! cargo run --release --example stack -- --port 3000 [--cors-origin https://app.example]...
//! curl -i localhost:3000/users/42 -H 'origin: https://app.example'
//! curl localhost:3000/metrics          # OpenMetrics text, per method, route and status class
//! open http://localhost:3000/analytics/ui
//! ```
//!
//! The access log goes to stdout, one line per request, written in batches (`AccessLog`):
//! `--access-log stderr` sends it to stderr, `--access-log tracing` makes it `tracing` events
//! filtered by `RUST_LOG` like the rest of the logs.
//!
//! Without `--cors-origin` CORS is permissive (any origin, for development). With one or more,
//! only those exact origins get CORS headers; an invalid origin is refused at start-up.
//!
//! `--rate-limit N/s` limits each client IP to N requests per second with a burst of N (429
//! with `Retry-After` beyond it; `RateLimit` headers on every response), in this process, or
//! with `--redis redis://host:port/` shared by every process using that Redis:
//!
//! ```text
//! cargo run --release --example stack -- --rate-limit 100/s --redis redis://127.0.0.1:6379/
//! ```

use std::convert::Infallible;
use std::process::ExitCode;

use armature_examples::{hello_routes, init_tracing, Args};
use armature_layers::analytics::{AnalyticsLayer, Consumers};
use armature_layers::cors::{Cors, CorsError, CorsLayer};
use armature_layers::logger::{AccessLog, Logger};
use armature_layers::rate_limit::{Quota, RateLimitLayer, RedisStore, ResponseBody};
use armature_layers::request_id::RequestIdLayer;
use armature_openapi::utoipa::openapi::{InfoBuilder, OpenApiBuilder};
use armature_openapi::DocsLayer;
use armature_router::{on_service, Router};
use armature_server::{RequestBody, Server};
use http::{Method, Request, Response};
use tower::util::{Either, MapResponseLayer};
use tower::{Service, ServiceBuilder};

const USAGE: &str =
    "usage: stack [--port N] [--cors-origin ORIGIN]... [--rate-limit N/s [--redis URL]] \
                     [--access-log stdout|stderr|tracing]";

/// `--access-log stdout|stderr|tracing` (default stdout).
pub fn access_log(choice: Option<&str>) -> Result<Logger, String> {
    match choice.unwrap_or("stdout") {
        "stdout" => Ok(Logger::default().write_to(AccessLog::stdout())),
        "stderr" => Ok(Logger::default().write_to(AccessLog::stderr())),
        "tracing" => Ok(Logger::default()),
        other => Err(format!(
            "invalid --access-log `{other}`: expected stdout, stderr or tracing"
        )),
    }
}

/// CORS for `origins`: permissive when there are none.
pub fn cors(origins: &[String]) -> Result<CorsLayer, CorsError> {
    if origins.is_empty() {
        return Ok(Cors::permissive());
    }
    Cors::builder()
        .allow_origins(origins.iter().map(String::as_str))
        .allow_any_method()
        .allow_any_header()
        .expose_headers([http::HeaderName::from_static("x-request-id")])
        .build()
}

/// The per-client-IP limit of `--rate-limit N/s` (burst N), in Redis with `--redis URL`.
pub fn rate_limit(
    spec: Option<&str>,
    redis: Option<&str>,
) -> Result<Option<RateLimitLayer>, String> {
    let Some(spec) = spec else {
        return match redis {
            Some(_) => Err("--redis needs --rate-limit N/s".to_owned()),
            None => Ok(None),
        };
    };
    let per_second = spec
        .strip_suffix("/s")
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("invalid --rate-limit `{spec}`: expected N/s, like 100/s"))?;
    let mut builder = RateLimitLayer::builder().quota(Quota::per_second(per_second));
    if let Some(url) = redis {
        let store = RedisStore::builder(url)
            .build()
            .map_err(|err| err.to_string())?;
        builder = builder.store(store);
    }
    builder.build().map(Some).map_err(|err| err.to_string())
}

/// The analytics of the stack: the routes of `router` pre-registered (and used to count
/// rate-limit refusals under their route), consumers by client IP in a top-1000 table.
pub fn analytics(router: &Router<RequestBody>) -> AnalyticsLayer {
    AnalyticsLayer::builder()
        .routes(router)
        .consumers(Consumers::client_ip(), 1000)
        .build()
}

/// The whole preset stack around the hello routes, with an optional rate limit between CORS
/// and the router (so that a 429 is logged and still carries CORS headers a browser needs to
/// read it). Analytics sits outside the rate limit, to count its refusals.
pub fn app(
    cors: CorsLayer,
    rate_limit: Option<RateLimitLayer>,
    logger: Logger,
) -> impl Service<
    Request<RequestBody>,
    Response = Response<
        impl http_body::Body<
                Data = bytes::Bytes,
                Error = impl Into<Box<dyn std::error::Error + Send + Sync>>,
            > + Send
            + 'static,
    >,
    Error = Infallible,
    Future = impl Send + 'static,
> + Clone
       + Send
       + 'static {
    let api = hello_routes::<RequestBody>()
        .build()
        .expect("the hello routes are valid");
    let info = InfoBuilder::new().title("Armature stack").version("0.1.0");
    let spec = armature_openapi::spec(&api, OpenApiBuilder::new().info(info).build())
        .expect("the spec describes the hello routes");
    let analytics = analytics(&api);
    let router = hello_routes::<RequestBody>()
        .route(
            "/metrics",
            on_service(Method::GET, analytics.metrics_service()),
        )
        .route(
            "/analytics",
            on_service(Method::GET, analytics.json_service()),
        )
        .route(
            "/analytics/ui",
            on_service(Method::GET, analytics.dashboard_service("/analytics")),
        )
        .build()
        .expect("the hello and analytics routes are valid");
    ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .layer(analytics)
        .layer(logger)
        .layer(cors)
        .layer(optional(rate_limit))
        .layer(DocsLayer::new(&spec))
        .service(router)
}

/// Without a rate limit: responses get the body type the rate-limit layer gives them.
type Unlimited<B> = MapResponseLayer<fn(Response<B>) -> Response<ResponseBody<B>>>;

/// `limit`, or without one a layer giving responses the same body type.
fn optional<B>(limit: Option<RateLimitLayer>) -> Either<RateLimitLayer, Unlimited<B>> {
    match limit {
        Some(layer) => Either::Left(layer),
        None => Either::Right(MapResponseLayer::new(|res: Response<B>| {
            res.map(ResponseBody::new)
        })),
    }
}

#[allow(dead_code)]
fn main() -> ExitCode {
    init_tracing();
    let args = Args::from_env_or_exit("stack", USAGE, |args| {
        args.only(
            &[],
            &["--cors-origin", "--rate-limit", "--redis", "--access-log"],
        )?;
        Ok(args)
    });
    let cors = match cors(&args.values("--cors-origin")) {
        Ok(cors) => cors,
        Err(err) => {
            eprintln!("stack: invalid CORS configuration: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rate_limit = match rate_limit(
        args.values("--rate-limit").last().map(String::as_str),
        args.values("--redis").last().map(String::as_str),
    ) {
        Ok(rate_limit) => rate_limit,
        Err(err) => {
            eprintln!("stack: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let logger = match access_log(args.values("--access-log").last().map(String::as_str)) {
        Ok(logger) => logger,
        Err(err) => {
            eprintln!("stack: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let served = Server::bind(args.addr()).and_then(|server| {
        tracing::info!("preset stack on http://{}", server.local_addr());
        server.run(app(cors, rate_limit, logger))
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("stack: {err}");
            ExitCode::FAILURE
        }
    }
}
