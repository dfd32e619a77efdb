//! `armature_layers::files::StaticFiles` (feature `files`) mounted with `nest_service`, on a
//! real directory: files, conditional requests, ranges, index pages, and what is refused —
//! paths out of the directory and symbolic links that lead out of it.

use armature_layers::files::StaticFiles;
use armature_router::{IntoResponse, Router};
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

struct Dir(std::path::PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `root/` with `css/site.css`, `docs/index.html`, a link to a file outside it and one to a
/// file inside it; `root/../outside.txt` beside it.
fn tree(name: &str) -> Dir {
    let base = std::env::temp_dir().join(format!("armature-files-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("root");
    std::fs::create_dir_all(root.join("css")).unwrap();
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("css/site.css"), "body { color: red }").unwrap();
    std::fs::write(root.join("docs/index.html"), "<h1>docs</h1>").unwrap();
    std::fs::write(base.join("outside.txt"), "not for you").unwrap();
    std::os::unix::fs::symlink(base.join("outside.txt"), root.join("out-link")).unwrap();
    std::os::unix::fs::symlink(root.join("css/site.css"), root.join("in-link.css")).unwrap();
    // A directory whose index page leads out, and a directory link that leads out.
    std::fs::create_dir_all(root.join("leaky")).unwrap();
    std::os::unix::fs::symlink(base.join("outside.txt"), root.join("leaky/index.html")).unwrap();
    std::os::unix::fs::symlink(&base, root.join("css/up")).unwrap();
    Dir(base)
}

/// A router with `files` at `/static`.
fn mounted(files: StaticFiles) -> Router<()> {
    Router::builder()
        .nest_service("/static", files)
        .build()
        .unwrap()
}

fn json_404() -> armature_router::Response {
    (StatusCode::NOT_FOUND, r#"{"error":"Not Found"}"#).into_response()
}

async fn get(
    router: &Router<()>,
    uri: &str,
    header: Option<(&str, &str)>,
) -> (StatusCode, http::HeaderMap, Bytes) {
    let mut req = Request::get(uri);
    if let Some((name, value)) = header {
        req = req.header(name, value);
    }
    let res = router.clone().oneshot(req.body(()).unwrap()).await.unwrap();
    let (parts, body) = res.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

/// `GET uri` answers `307` to `location`.
async fn assert_redirects(router: &Router<()>, uri: &str, location: &'static str) {
    let (status, headers, _) = get(router, uri, None).await;
    assert_eq!(
        (status, &headers["location"]),
        (
            StatusCode::TEMPORARY_REDIRECT,
            &HeaderValue::from_static(location)
        ),
        "{uri}"
    );
}

#[tokio::test]
async fn files_are_served_and_nothing_outside_the_directory() {
    let dir = tree("serve");
    let files = StaticFiles::builder(dir.0.join("root"))
        .index_html(true)
        .mounted_at("/static")
        .not_found(json_404)
        .build()
        .unwrap();
    let router = mounted(files);

    let (status, headers, body) = get(&router, "/static/css/site.css", None).await;
    assert_eq!(
        (status, &body[..]),
        (StatusCode::OK, &b"body { color: red }"[..])
    );
    assert_eq!(headers["content-type"], "text/css");
    let modified = headers["last-modified"].to_str().unwrap().to_owned();
    let (status, _, _) = get(
        &router,
        "/static/css/site.css",
        Some(("if-modified-since", &modified)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, body) = get(
        &router,
        "/static/css/site.css",
        Some(("range", "bytes=0-3")),
    )
    .await;
    assert_eq!(
        (status, &body[..]),
        (StatusCode::PARTIAL_CONTENT, &b"body"[..])
    );
    // A link that stays inside the directory is served.
    assert_eq!(
        get(&router, "/static/in-link.css", None).await.0,
        StatusCode::OK
    );
    // Index pages, and a directory redirect that keeps the mount's path.
    assert_eq!(
        &get(&router, "/static/docs/", None).await.2[..],
        b"<h1>docs</h1>"
    );
    let (status, headers, _) = get(&router, "/static/docs", None).await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(headers["location"], "/static/docs/");
    // The mount's own path too (the router hands `/static` and `/static/` on alike), the
    // query kept; `/static/` itself is the root directory, which has no index page here.
    for (uri, location) in [("/static", "/static/"), ("/static?v=1", "/static/?v=1")] {
        assert_redirects(&router, uri, location).await;
    }
    let (status, _, body) = get(&router, "/static/", None).await;
    assert_eq!(
        (status, &body[..]),
        (StatusCode::NOT_FOUND, &br#"{"error":"Not Found"}"#[..])
    );
    // Missing, out of the directory, or through a link that leads out: the app's 404.
    for uri in [
        "/static/nope.css",
        "/static/../outside.txt",
        "/static/%2e%2e/outside.txt",
        "/static/out-link",
        // `.` segments, which ServeDir skips, do not skip the check.
        "/static/./out-link",
        "/static/%2E/out-link",
        "/static/css/./up/outside.txt",
        "/static/css/up/outside.txt",
        // A directory served by an index page that leads out.
        "/static/leaky/",
    ] {
        let (status, _, body) = get(&router, uri, None).await;
        assert_eq!(
            (status, &body[..]),
            (StatusCode::NOT_FOUND, &br#"{"error":"Not Found"}"#[..]),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn links_out_are_followed_only_when_asked_and_directories_without_index_are_missing() {
    let dir = tree("follow");
    let files = StaticFiles::builder(dir.0.join("root"))
        .follow_links_out(true)
        .build()
        .unwrap();
    let router = mounted(files);
    assert_eq!(
        &get(&router, "/static/out-link", None).await.2[..],
        b"not for you"
    );
    // No index_html: a directory is not found (the default answer, plain text), and the
    // mount's own path is not redirected.
    for uri in ["/static/docs/", "/static"] {
        let (status, _, body) = get(&router, uri, None).await;
        assert_eq!(
            (status, &body[..]),
            (StatusCode::NOT_FOUND, &b"Not Found"[..]),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn directory_redirects_keep_the_path_as_sent_behind_parameters_and_nested_mounts() {
    let dir = tree("nested");
    let files = || {
        StaticFiles::builder(dir.0.join("root"))
            .index_html(true)
            .build()
            .unwrap()
    };
    // A mount with a parameter in its prefix, and a router mounted inside a mount.
    let inner = Router::builder()
        .nest_service("/static", files())
        .build()
        .unwrap();
    let router = Router::builder()
        .nest_service("/users/{id}/files", files())
        .nest_service("/app", inner)
        .build()
        .unwrap();
    for (uri, location) in [
        ("/users/7/files/docs", "/users/7/files/docs/"),
        ("/users/7/files/docs?v=1", "/users/7/files/docs/?v=1"),
        ("/users/7/files", "/users/7/files/"),
        ("/app/static/docs", "/app/static/docs/"),
        ("/app/static", "/app/static/"),
    ] {
        assert_redirects(&router, uri, location).await;
    }
    assert_eq!(
        &get(&router, "/users/7/files/docs/", None).await.2[..],
        b"<h1>docs</h1>"
    );
}

#[test]
fn a_root_that_is_not_a_directory_is_an_error() {
    let dir = tree("root");
    let err = StaticFiles::builder(dir.0.join("root/css/site.css"))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
    assert!(StaticFiles::builder(dir.0.join("missing")).build().is_err());
}
