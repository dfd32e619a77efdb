//! A real browser loads the analytics dashboard: headless Chromium opens `/analytics/ui`
//! served by armature-server while requests keep arriving, waits until the page has drawn
//! real data, and the test checks what it shows (DOM and canvas pixels) and saves a
//! screenshot to `target/tmp/analytics-dashboard.png`.
//!
//! Needs Node.js, Debian's `chromium` and `npm ci` in `tests/browser/` (as the CORS browser
//! test does); `CHROMIUM` overrides the browser path, `NODE` the node binary.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use armature_layers::analytics::{AnalyticsLayer, Consumers};
use armature_router::{get, on_service, Router};
use armature_server::{RequestBody, Server};
use http::{Method, Request, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn chromium_draws_the_dashboard_from_live_data() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let (node, chromium) = tools(&dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let analytics = AnalyticsLayer::builder()
        .consumers(Consumers::client_ip(), 100)
        .build();
    let router = Router::builder()
        .route(
            "/users/{id}",
            get(|_r: Request<RequestBody>| async { "alice" }),
        )
        .route(
            "/boom",
            get(|_r: Request<RequestBody>| async { StatusCode::INTERNAL_SERVER_ERROR }),
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
        .unwrap();
    let app = tower::ServiceBuilder::new()
        .layer(analytics.clone())
        .service(router);
    let server = rt
        .block_on(async { Server::bind(([127, 0, 0, 1], 0)) })
        .unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut stopped_server = stopped.clone();
    let served = rt.spawn(
        server
            .shutdown_on_signals(false)
            .with_graceful_shutdown(async move {
                let _ = stopped_server.wait_for(|s| *s).await;
            })
            .serve(app),
    );
    // Traffic while the page watches: users every 10 ms, a 500 every 50 ms.
    let load = rt.spawn(async move {
        let mut i = 0u64;
        while !*stopped.borrow() {
            let path = if i % 5 == 4 {
                "/boom".to_owned()
            } else {
                format!("/users/{i}")
            };
            get_once(addr, &path).await;
            i += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });

    let scratch =
        std::env::temp_dir().join(format!("armature-analytics-browser-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let out_path = scratch.join("out.json");
    let screenshot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("analytics-dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let status = run(
        Command::new(node)
            .arg(dir.join("analytics.mjs"))
            .arg(format!("http://{addr}/analytics/ui"))
            .arg(&out_path)
            .arg(&screenshot)
            .current_dir(&dir)
            .env("CHROMIUM", chromium),
        Duration::from_secs(90),
    );
    stop.send(true).unwrap();
    rt.block_on(async {
        load.await.unwrap();
        served.await.unwrap().unwrap();
    });

    let out: Value = serde_json::from_slice(
        &std::fs::read(&out_path)
            .unwrap_or_else(|e| panic!("no driver output ({e}); exit {status:?}")),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(
        status.success() && out["failure"].is_null(),
        "the browser driver failed ({status:?}): {}\nconsole: {}",
        out["failure"],
        out["console"]
    );
    let page = &out["result"];
    println!("{}", serde_json::to_string_pretty(page).unwrap());
    assert!(page["drawn"].as_u64().unwrap() >= 3, "{page}");
    assert!(
        page["routes"].as_u64().unwrap() >= 2,
        "users and boom at least: {page}"
    );
    for chart in ["rps", "latency", "errors"] {
        assert!(
            page[chart]["points"].as_u64().unwrap() > 0,
            "{chart}: {page}"
        );
        // Grid lines alone ink a few thousand pixels; series and bars add more.
        assert!(
            page[chart]["inkedPixels"].as_u64().unwrap() > 2_000,
            "{chart}: {page}"
        );
    }
    assert!(page["errorPoints"].as_u64().unwrap() > 0, "{page}");
    let rows: Vec<(String, String)> = page["routeRows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_owned(),
                r[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        rows.contains(&("/users/{id}".into(), "GET".into())),
        "{rows:?}"
    );
    assert!(rows.contains(&("/boom".into(), "GET".into())), "{rows:?}");
    let boom = page["routeRows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == "/boom")
        .unwrap();
    assert_eq!(boom[10], "100.0%", "every /boom is a 500: {boom}");
    let shown: u64 = page["kpiRequests"].as_str().unwrap().parse().unwrap();
    assert!(
        shown >= 10 && shown == page["lastTotal"]["requests"].as_u64().unwrap(),
        "{page}"
    );
    assert_eq!(page["consumerRows"][0][0], "127.0.0.1", "{page}");
    assert_eq!(
        page["externalResources"],
        serde_json::json!([]),
        "self-contained: {page}"
    );
    let png = std::fs::metadata(&screenshot).expect("a screenshot").len();
    assert!(png > 10_000, "screenshot of {png} bytes");
    println!("screenshot: {}", screenshot.display());
}

async fn get_once(addr: SocketAddr, path: &str) {
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return;
    };
    let request = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_ok() {
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink).await;
    }
}

/// Node and Chromium, or a panic saying how to get them.
fn tools(dir: &Path) -> (PathBuf, PathBuf) {
    let node = PathBuf::from(std::env::var_os("NODE").unwrap_or_else(|| "node".into()));
    let ok = Command::new(&node)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "the dashboard browser test needs Node.js (>= 18) on PATH (or NODE=...): apt-get install -y nodejs npm");
    let chromium =
        PathBuf::from(std::env::var_os("CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into()));
    assert!(
        chromium.exists(),
        "the dashboard browser test needs Debian's Chromium at {} (or CHROMIUM=...): apt-get install -y chromium",
        chromium.display()
    );
    assert!(
        dir.join("node_modules/puppeteer-core/package.json")
            .exists(),
        "the dashboard browser test needs its npm packages: run `npm ci` in {}",
        dir.display()
    );
    (node, chromium)
}

fn run(command: &mut Command, limit: Duration) -> std::process::ExitStatus {
    let mut child = command.stdin(Stdio::null()).spawn().expect("node starts");
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
