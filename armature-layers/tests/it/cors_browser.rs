//! A real browser is the judge: headless Chromium loads a page from one origin and `fetch()`es
//! API origins served by armature-server + armature-router behind the CORS layer, each with
//! a different preset (see `browser/server.rs`). What the page could or could not read must
//! match the Fetch standard, and what reached the router must show that preflights (and the
//! requests a preflight refused) never did.
//!
//! Needs Node.js, Debian's `chromium` and `npm ci` in `tests/browser/`; without them this
//! test fails with a message saying what to install (CI installs them, see `.ci/test-all`).
//! `CHROMIUM` overrides the browser path, `NODE` the node binary.

#[path = "../browser/server.rs"]
mod server;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use server::{Hits, PRESETS};

/// What the page must observe.
#[derive(Debug, Clone)]
enum Expect {
    /// The fetch resolves; the body starts with this; these headers read as given.
    Readable(
        &'static str,
        &'static [(&'static str, Option<&'static str>)],
    ),
    /// The fetch rejects with a `TypeError` (a CORS failure is a network error to the page).
    Blocked,
}

struct Case {
    name: &'static str,
    api: &'static str,
    method: &'static str,
    headers: &'static [(&'static str, &'static str)],
    credentials: &'static str,
    frame: &'static str,
    expect: Expect,
    /// Whether the actual request reached the router (a simple request is sent even when
    /// its response may not be read; a refused preflight stops it before it is sent).
    reaches_router: bool,
    /// Set when the path is not the default `/case/<name>`.
    path: Option<&'static str>,
    /// For a blocked case, a piece of Chromium's console message naming the rule that
    /// failed, so a case cannot pass by being blocked for another reason.
    because: Option<&'static str>,
}

impl Case {
    fn new(
        name: &'static str,
        api: &'static str,
        method: &'static str,
        expect: Expect,
        reaches_router: bool,
    ) -> Self {
        Case {
            name,
            api,
            method,
            headers: &[],
            credentials: "same-origin",
            frame: "top",
            expect,
            reaches_router,
            path: None,
            because: None,
        }
    }
    fn because(mut self, message: &'static str) -> Self {
        self.because = Some(message);
        self
    }
    fn headers(mut self, headers: &'static [(&'static str, &'static str)]) -> Self {
        self.headers = headers;
        self
    }
    fn credentials(mut self, mode: &'static str) -> Self {
        self.credentials = mode;
        self
    }
    fn sandboxed(mut self) -> Self {
        self.frame = "sandboxed";
        self
    }
    fn path(mut self, path: &'static str) -> Self {
        self.path = Some(path);
        self
    }
    fn url_path(&self) -> String {
        self.path
            .map_or_else(|| format!("/case/{}", self.name), str::to_owned)
    }
}

fn cases() -> Vec<Case> {
    use Expect::{Blocked, Readable};
    const CUSTOM: &[(&str, &str)] = &[("x-custom", "1")];
    const OTHER_HEADER: &[(&str, &str)] = &[("x-other", "1")];
    const JSON: &[(&str, &str)] = &[("content-type", "application/json")];
    const AUTH: &[(&str, &str)] = &[("authorization", "Bearer t"), ("x-custom", "1")];
    const EXPOSED: &[(&str, Option<&str>)] = &[("x-exposed", Some("yes")), ("x-hidden", None)];
    const ALL_EXPOSED: &[(&str, Option<&str>)] =
        &[("x-exposed", Some("yes")), ("x-hidden", Some("secret"))];
    // Chromium's console wording (checked with Debian's chromium 156).
    const NO_ACAO: &str = "No 'Access-Control-Allow-Origin' header is present";
    const NO_ACAC: &str =
        "The value of the 'Access-Control-Allow-Credentials' header in the response is ''";
    vec![
        // Simple requests.
        Case::new(
            "get-allowed",
            "app",
            "GET",
            Readable("ok GET", EXPOSED),
            true,
        ),
        Case::new("get-disallowed-origin", "other", "GET", Blocked, true).because(NO_ACAO),
        Case::new(
            "post-allowed",
            "app",
            "POST",
            Readable("ok POST", &[]),
            true,
        ),
        // Preflighted requests.
        Case::new(
            "put-custom-header-allowed",
            "app",
            "PUT",
            Readable("ok PUT", EXPOSED),
            true,
        )
        .headers(CUSTOM),
        Case::new("delete-method-not-allowed", "app", "DELETE", Blocked, false)
            .headers(CUSTOM)
            .because("Method DELETE is not allowed by Access-Control-Allow-Methods"),
        Case::new("put-header-not-allowed", "app", "PUT", Blocked, false)
            .headers(OTHER_HEADER)
            .because("Request header field x-other is not allowed by Access-Control-Allow-Headers"),
        Case::new("put-disallowed-origin", "other", "PUT", Blocked, false)
            .headers(CUSTOM)
            .because(NO_ACAO),
        Case::new(
            "post-json-content-type-not-allowed",
            "app",
            "POST",
            Blocked,
            false,
        )
        .headers(JSON)
        .because(
            "Request header field content-type is not allowed by Access-Control-Allow-Headers",
        ),
        Case::new(
            "get-custom-header-allowed",
            "app",
            "GET",
            Readable("ok GET", &[]),
            true,
        )
        .headers(CUSTOM),
        // Credentials.
        Case::new(
            "credentials-allowed",
            "credentials",
            "GET",
            Readable("ok GET", EXPOSED),
            true,
        )
        .credentials("include"),
        Case::new(
            "credentials-put-allowed",
            "credentials",
            "PUT",
            Readable("ok PUT", &[]),
            true,
        )
        .headers(CUSTOM)
        .credentials("include"),
        Case::new(
            "credentials-without-allow-credentials",
            "app",
            "GET",
            Blocked,
            true,
        )
        .credentials("include")
        .because(NO_ACAC),
        Case::new(
            "credentials-put-without-allow-credentials",
            "app",
            "PUT",
            Blocked,
            false,
        )
        .headers(CUSTOM)
        .credentials("include")
        .because(NO_ACAC),
        Case::new(
            "credentials-with-wildcard",
            "permissive",
            "GET",
            Blocked,
            true,
        )
        .credentials("include")
        .because("must not be the wildcard '*' when the request's credentials mode is 'include'"),
        Case::new(
            "cookie-set",
            "credentials",
            "GET",
            Readable("set", &[]),
            true,
        )
        .credentials("include")
        .path("/cookie/set"),
        Case::new(
            "cookie-sent-with-include",
            "credentials",
            "GET",
            Readable("sid=s3cret", &[]),
            true,
        )
        .credentials("include")
        .path("/cookie/echo"),
        // `omit` sends no cookie: the body is empty (readable, as no credentials are involved).
        Case::new(
            "cookie-not-sent-with-omit",
            "credentials",
            "GET",
            Readable("", &[]),
            true,
        )
        .credentials("omit")
        .path("/cookie/echo"),
        // Exposed headers.
        Case::new(
            "permissive-exposes-all",
            "permissive",
            "GET",
            Readable("ok GET", ALL_EXPOSED),
            true,
        ),
        Case::new(
            "permissive-put-authorization",
            "permissive",
            "PUT",
            Readable("ok PUT", &[]),
            true,
        )
        .headers(AUTH),
        // The opaque origin `null` (a sandboxed iframe).
        Case::new("null-origin-blocked", "app", "GET", Blocked, true)
            .sandboxed()
            .because(NO_ACAO),
        Case::new(
            "null-origin-allowed",
            "null",
            "GET",
            Readable("ok GET", EXPOSED),
            true,
        )
        .sandboxed(),
        Case::new(
            "null-origin-put-allowed",
            "null",
            "PUT",
            Readable("ok PUT", &[]),
            true,
        )
        .headers(CUSTOM)
        .sandboxed(),
    ]
}

#[test]
fn chromium_enforces_the_layers_cors_answers_as_the_fetch_standard_says() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let tools = Tools::find(&dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let shutdown = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let page_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let page = format!(
        "http://127.0.0.1:{}",
        page_listener.local_addr().unwrap().port()
    );
    let page_server = rt.spawn(server::serve_page(page_listener, shutdown()));
    let mut apis = BTreeMap::new();
    let mut hits = BTreeMap::new();
    let mut api_servers = Vec::new();
    for preset in PRESETS {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let layer = server::preset(preset, &page).unwrap();
        let log = Hits::default();
        api_servers.push(rt.spawn(server::serve_api(listener, layer, log.clone(), shutdown())));
        apis.insert(preset, url);
        hits.insert(preset, log);
    }

    let cases = cases();
    let config = json!({
        "page": format!("{page}/"),
        "apis": apis,
        "cases": cases.iter().map(|c| json!({
            "name": c.name,
            "api": c.api,
            "path": c.url_path(),
            "method": c.method,
            "headers": c.headers.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "credentials": c.credentials,
            "frame": c.frame,
            "read": match &c.expect { Expect::Readable(_, read) => read.iter().map(|(n, _)| *n).collect(), Expect::Blocked => vec![] },
        })).collect::<Vec<_>>(),
    });
    let scratch =
        std::env::temp_dir().join(format!("armature-cors-browser-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let config_path = scratch.join("config.json");
    let out_path = scratch.join("out.json");
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();

    let status = tools.run_driver(&dir, &config_path, &out_path, Duration::from_secs(180));

    stop.send(true).unwrap();
    rt.block_on(async {
        page_server.await.unwrap().unwrap();
        for server in api_servers {
            server.await.unwrap().unwrap();
        }
    });

    let out: Value = match std::fs::read(&out_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap(),
        Err(err) => {
            panic!("the browser driver wrote no results ({err}); it exited with {status:?}")
        }
    };
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(
        status.success() && out["failure"].is_null(),
        "the browser driver failed ({status:?}): {}\nconsole:\n{}",
        out["failure"],
        console(&out)
    );

    let mut failures = Vec::new();
    for case in &cases {
        let got = &out["results"][case.name];
        println!("{:<45} {:<12} {}", case.name, case.api, got);
        check(case, got, &mut failures);
        if let Some(because) = case.because {
            let url = format!("{}'", case.url_path());
            let lines = out["console"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str);
            let mut blocked =
                lines.filter(|l| l.contains(&url) && l.contains("blocked by CORS policy"));
            match blocked.next() {
                Some(line) if line.contains(because) => {}
                Some(line) => {
                    failures.push(format!("{}: blocked for another reason: {line}", case.name))
                }
                None => failures.push(format!("{}: no CORS error in the console", case.name)),
            }
        }
        let log = hits[case.api].lock().unwrap();
        let path = case.url_path();
        let reached = log.iter().any(|h| *h == format!("{} {path}", case.method));
        if reached != case.reaches_router {
            failures.push(format!(
                "{}: reached the router: {reached}, expected {} (router saw {log:?})",
                case.name, case.reaches_router
            ));
        }
    }
    for (preset, log) in &hits {
        let log = log.lock().unwrap();
        if let Some(options) = log.iter().find(|h| h.starts_with("OPTIONS ")) {
            failures.push(format!(
                "{preset}: a preflight reached the router: {options}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} browser cases failed:\n  {}\nresults: {}\nconsole:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n  "),
        serde_json::to_string_pretty(&out["results"]).unwrap(),
        console(&out)
    );
    println!("console:\n{}", console(&out));
    println!("{} browser cases passed", cases.len());
}

fn check(case: &Case, got: &Value, failures: &mut Vec<String>) {
    let name = case.name;
    match (&case.expect, got["ok"].as_bool()) {
        (_, None) => failures.push(format!("{name}: no result: {got}")),
        (Expect::Blocked, Some(true)) => {
            failures.push(format!("{name}: expected blocked, but the page read {got}"))
        }
        (Expect::Blocked, Some(false)) => {
            let error = got["error"].as_str().unwrap_or_default();
            if !error.starts_with("TypeError") {
                failures.push(format!("{name}: expected a TypeError, got {error:?}"));
            }
        }
        (Expect::Readable(..), Some(false)) => {
            failures.push(format!("{name}: expected readable, got {got}"))
        }
        (Expect::Readable(body, headers), Some(true)) => {
            let got_body = got["body"].as_str().unwrap_or_default();
            if !got_body.starts_with(body) || (body.is_empty() && !got_body.is_empty()) {
                failures.push(format!("{name}: body {got_body:?}, expected {body:?}…"));
            }
            if got["status"] != 200 {
                failures.push(format!("{name}: status {}", got["status"]));
            }
            for (header, expected) in *headers {
                let value = got["read"][header].as_str();
                if value != *expected {
                    failures.push(format!(
                        "{name}: header {header} read as {value:?}, expected {expected:?}"
                    ));
                }
            }
        }
    }
}

fn console(out: &Value) -> String {
    out["console"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// Node, Chromium and the driver's npm packages, or a panic saying how to get them.
struct Tools {
    node: PathBuf,
    chromium: PathBuf,
}

impl Tools {
    fn find(dir: &Path) -> Tools {
        let node = PathBuf::from(std::env::var_os("NODE").unwrap_or_else(|| "node".into()));
        let version = Command::new(&node).arg("--version").output();
        match version {
            Ok(out) if out.status.success() => {}
            _ => panic!(
                "the CORS browser test needs Node.js (>= 18) on PATH (or NODE=/path/to/node); \
                 install it, e.g. `apt-get install -y nodejs npm`"
            ),
        }
        let chromium = PathBuf::from(
            std::env::var_os("CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into()),
        );
        if !chromium.exists() {
            panic!(
                "the CORS browser test needs Chromium at {} (or CHROMIUM=/path/to/chromium); \
                 install Debian's: `apt-get update && apt-get install -y chromium` (never a downloaded browser)",
                chromium.display()
            );
        }
        if !dir
            .join("node_modules/puppeteer-core/package.json")
            .exists()
        {
            panic!(
                "the CORS browser test needs its npm packages: run `npm ci` in {}",
                dir.display()
            );
        }
        Tools { node, chromium }
    }

    /// Runs `cors.mjs`, killing it after `limit`.
    fn run_driver(
        &self,
        dir: &Path,
        config: &Path,
        out: &Path,
        limit: Duration,
    ) -> std::process::ExitStatus {
        let mut child = Command::new(&self.node)
            .arg(dir.join("cors.mjs"))
            .arg(config)
            .arg(out)
            .current_dir(dir)
            .env("CHROMIUM", &self.chromium)
            .stdin(Stdio::null())
            .spawn()
            .expect("node starts");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the browser driver did not finish within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
