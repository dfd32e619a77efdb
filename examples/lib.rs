//! Code shared by Armature's examples and benchmarks: the three benchmark endpoints and a tiny
//! command-line parser, so every example reads its options the same way.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::net::SocketAddr;

use armature_router::{get, IntoResponse, Json, PathParams, Router, RouterBuilder};
use http::Request;
use serde::Serialize;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

#[derive(Serialize)]
struct User<'a> {
    id: &'a str,
    name: &'static str,
}

/// The three benchmark endpoints, as a router builder (add routes or layers before `build`):
///
/// * `GET /plaintext` → `Hello, World!` (`text/plain`)
/// * `GET /json` → `{"message":"Hello, World!"}` (`application/json`)
/// * `GET /users/{id}` → `{"id":"<id>","name":"Alice"}` (`application/json`)
///
/// ```
/// use http::Request;
/// use tower::ServiceExt;
///
/// # tokio_test::block_on(async {
/// let router = armature_examples::hello_routes::<()>().build()?;
/// let res = router.oneshot(Request::get("/users/7").body(())?).await?;
/// let body = http_body_util::BodyExt::collect(res.into_body()).await?.to_bytes();
/// assert_eq!(body, r#"{"id":"7","name":"Alice"}"#);
/// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// # }).unwrap();
/// ```
pub fn hello_routes<B: Send + 'static>() -> RouterBuilder<B> {
    Router::builder()
        // No handler here reads its `MatchedRoute`, and the logger and analytics of the stack
        // example learn the route through `armature_router::observe`: skip the extension, and
        // the allocation of each request's extension map on the two static routes with it.
        .matched_route_extension(false)
        // The handlers finish without waiting: polled in `call`, they drop their request
        // before hyper reads the socket again (no fresh read buffer per request). No layer
        // around these routes scopes a span or a task-local to the returned future alone.
        .eager_handlers(true)
        .route(
            "/plaintext",
            get(|_req: Request<B>| async { "Hello, World!" }),
        )
        .route(
            "/json",
            get(|_req: Request<B>| async {
                Json(Message {
                    message: "Hello, World!",
                })
            }),
        )
        .route(
            "/users/{id}",
            get(|req: Request<B>| async move { user(&req) }),
        )
}

fn user<B>(req: &Request<B>) -> armature_router::Response {
    let id = req
        .extensions()
        .get::<PathParams>()
        .and_then(|params| params.get("id"))
        .unwrap_or_default();
    Json(User { id, name: "Alice" }).into_response()
}

/// Command-line options every example understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// `--port N`, else the `PORT` environment variable, else 3000.
    pub port: u16,
    /// Everything else, in order, for the example to read.
    pub rest: Vec<String>,
}

impl Args {
    /// Reads `std::env::args()` and `PORT`.
    pub fn from_env() -> Result<Args, String> {
        Args::parse(std::env::args().skip(1), std::env::var("PORT").ok())
    }

    /// What `check` makes of [`from_env`](Self::from_env)'s arguments (it calls
    /// [`only`](Self::only) with the flags and options the example knows); on `--help`,
    /// prints `usage` and exits with 0, on a mistake prints `name: <error>` and `usage` to
    /// stderr and exits with 2, as a command-line tool does (see [`checked`](Self::checked)).
    pub fn from_env_or_exit<T>(
        name: &str,
        usage: &str,
        check: impl FnOnce(Args) -> Result<T, String>,
    ) -> T {
        match Args::checked(Args::from_env(), name, usage, check) {
            Ok(parsed) => parsed,
            Err((0, text)) => {
                println!("{text}");
                std::process::exit(0);
            }
            Err((code, text)) => {
                eprintln!("{text}");
                std::process::exit(code);
            }
        }
    }

    /// What `check` makes of `args`, or the exit code and the text a command line prints
    /// instead: `(0, usage)` for `--help` (on stdout), `(2, "name: <error>\nusage")` for a
    /// mistake (on stderr).
    ///
    /// ```
    /// use armature_examples::Args;
    ///
    /// let check = |args: Args| args.only(&["--http3"], &[]).map(|()| args.port);
    /// let parse = |argv: &[&str]| {
    ///     let args = Args::parse(argv.iter().map(|a| a.to_string()), None);
    ///     Args::checked(args, "hello", "usage: hello [--port N]", check)
    /// };
    /// assert_eq!(parse(&["--port", "8080", "--http3"]), Ok(8080));
    /// assert_eq!(parse(&["--help"]), Err((0, "usage: hello [--port N]".to_owned())));
    /// assert_eq!(
    ///     parse(&["--bogus"]),
    ///     Err((2, "hello: unknown option `--bogus`\nusage: hello [--port N]".to_owned()))
    /// );
    /// assert_eq!(parse(&["--port", "x"]).unwrap_err().0, 2);
    /// ```
    pub fn checked<T>(
        args: Result<Args, String>,
        name: &str,
        usage: &str,
        check: impl FnOnce(Args) -> Result<T, String>,
    ) -> Result<T, (i32, String)> {
        match args.and_then(check) {
            Ok(parsed) => Ok(parsed),
            Err(err) if err == "help" => Err((0, usage.to_owned())),
            Err(err) => Err((2, format!("{name}: {err}\n{usage}"))),
        }
    }

    /// Parses `args` (without the program name), with `env_port` as the fallback port.
    ///
    /// ```
    /// use armature_examples::Args;
    ///
    /// let args = Args::parse(["--port".into(), "8080".into(), "--x".into()], None).unwrap();
    /// assert_eq!(args.port, 8080);
    /// assert_eq!(args.rest, ["--x"]);
    /// assert_eq!(Args::parse([], Some("4000".into())).unwrap().port, 4000);
    /// assert!(Args::parse(["--port".into(), "http".into()], None).is_err());
    /// ```
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env_port: Option<String>,
    ) -> Result<Args, String> {
        let mut port = None;
        let mut rest = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let value = match arg.strip_prefix("--port") {
                Some("") => args.next().ok_or("--port needs a value")?,
                Some(eq) if eq.starts_with('=') => eq[1..].to_owned(),
                _ => {
                    rest.push(arg);
                    continue;
                }
            };
            port = Some(parse_port(&value)?);
        }
        let port = match (port, env_port) {
            (Some(port), _) => port,
            (None, Some(env)) => parse_port(&env)?,
            (None, None) => 3000,
        };
        Ok(Args { port, rest })
    }

    /// `0.0.0.0:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([0, 0, 0, 0], self.port))
    }

    /// Whether the flag `name` (like `--http3`) was given.
    pub fn flag(&self, name: &str) -> bool {
        self.rest.iter().any(|a| a == name)
    }

    /// Checks that everything besides `--port` is one of `flags` (like `--http3`) or one of
    /// `options` followed by its value (like `--cert PATH`): a mistyped option is an error,
    /// not silently ignored. `--help` is an error too, so that the caller prints its usage.
    ///
    /// ```
    /// use armature_examples::Args;
    ///
    /// let args = Args::parse(["--http3".into(), "--cert".into(), "c.pem".into()], None).unwrap();
    /// assert!(args.only(&["--http3"], &["--cert"]).is_ok());
    /// let typo = Args::parse(["--rate-limt".into(), "5/s".into()], None).unwrap();
    /// assert_eq!(typo.only(&[], &["--rate-limit"]).unwrap_err(), "unknown option `--rate-limt`");
    /// let missing = Args::parse(["--cert".into()], None).unwrap();
    /// assert!(missing.only(&[], &["--cert"]).is_err());
    /// ```
    pub fn only(&self, flags: &[&str], options: &[&str]) -> Result<(), String> {
        let mut rest = self.rest.iter();
        while let Some(arg) = rest.next() {
            if flags.contains(&arg.as_str()) {
                continue;
            }
            if options.contains(&arg.as_str()) {
                rest.next().ok_or_else(|| format!("{arg} needs a value"))?;
                continue;
            }
            return Err(match arg.as_str() {
                "--help" | "-h" => "help".to_owned(),
                other => format!("unknown option `{other}`"),
            });
        }
        Ok(())
    }

    /// Every value given for `--name VALUE` (repeatable options).
    pub fn values(&self, name: &str) -> Vec<String> {
        self.rest
            .windows(2)
            .filter(|pair| pair[0] == name)
            .map(|pair| pair[1].clone())
            .collect()
    }
}

fn parse_port(value: &str) -> Result<u16, String> {
    value
        .parse()
        .map_err(|_| format!("invalid port `{value}`: expected a number from 0 to 65535"))
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

/// The repository README's Rust examples, compiled as doc tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
