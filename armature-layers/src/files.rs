//! [`StaticFiles`]: a directory served as a tower service (feature `files`).
//!
//! The serving is tower-http's `ServeDir`: content types by extension, `ETag` and
//! `Last-Modified` with conditional requests (`304`), byte ranges (`206`), `HEAD`, and no path
//! that climbs out of the directory (`..`). What this adds:
//!
//! * **No symbolic link out of the directory** (unless asked): a link inside it that points
//!   elsewhere (`static/link -> /etc/passwd`) answers as a missing file, as Starlette's
//!   `StaticFiles` does by default. `ServeDir` alone follows it.
//! * **The not-found answer is yours** ([`not_found`](StaticFilesBuilder::not_found)), so a
//!   missing file answers as a path no route matches in the app around it.
//! * **A directory redirect keeps the path as sent**: mounted at `/static` with
//!   [`RouterBuilder::nest_service`](armature_router::RouterBuilder::nest_service),
//!   `/static/docs` redirects to `/static/docs/`, not `/docs/` (read from the request's
//!   [`OriginalUri`], so mounts with parameters and mounts within
//!   mounts redirect right too; [`mounted_at`](StaticFilesBuilder::mounted_at) serves where no
//!   router mount says). With index pages, the mount
//!   itself does too: `/static` redirects to `/static/` (as Starlette's `StaticFiles` does), so
//!   the index page's relative links resolve inside the mount. (`ServeDir` sees `/` for both
//!   and would serve the page at `/static`, where `app.js` means `/app.js`.)
//!
//! ```
//! use armature_layers::files::StaticFiles;
//! use armature_router::Router;
//! use http::Request;
//! use tower::ServiceExt;
//!
//! # tokio_test::block_on(async {
//! let dir = std::env::temp_dir().join(format!("armature-files-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! std::fs::write(dir.join("hello.txt"), "hi")?;
//! let files = StaticFiles::builder(&dir).mounted_at("/static").build()?;
//! let router = Router::builder().nest_service("/static", files).build()?;
//! let res = router.clone().oneshot(Request::get("/static/hello.txt").body(())?).await?;
//! assert_eq!(res.status(), 200);
//! assert_eq!(res.headers()["content-type"], "text/plain");
//! let res = router.oneshot(Request::get("/static/nope.txt").body(())?).await?;
//! assert_eq!(res.status(), 404);
//! # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! # }).unwrap();
//! ```

use std::convert::Infallible;
use std::fmt;
use std::future::{ready, Future, Ready};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use armature_router::{Body, IntoResponse, OriginalUri, Response};
use http::header::LOCATION;
use http::{HeaderValue, Request, StatusCode};
use percent_encoding::percent_decode_str;
use tower::ServiceExt;
use tower_http::services::ServeDir;
use tower_http::set_status::SetStatus;
use tower_service::Service;

/// The answer to a request for a file that is not there.
pub type NotFound = fn() -> Response;

/// A directory served as a `tower::Service`; build it with [`StaticFiles::builder`], mount it
/// with [`RouterBuilder::nest_service`](armature_router::RouterBuilder::nest_service). See the
/// [module docs](self).
#[derive(Clone)]
pub struct StaticFiles {
    serve: ServeDir<SetStatus<Missing>>,
    /// The directory, every symbolic link resolved: what a served file's real path must be in.
    root: Arc<Path>,
    follow_links_out: bool,
    index_html: bool,
    not_found: NotFound,
}

impl fmt::Debug for StaticFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticFiles")
            .field("root", &self.root)
            .field("follow_links_out", &self.follow_links_out)
            .finish_non_exhaustive()
    }
}

impl StaticFiles {
    /// A builder serving the directory `root`.
    ///
    /// ```
    /// let files = armature_layers::files::StaticFiles::builder(std::env::temp_dir()).build();
    /// assert!(files.is_ok());
    /// ```
    pub fn builder(root: impl Into<PathBuf>) -> StaticFilesBuilder {
        StaticFilesBuilder {
            root: root.into(),
            index_html: false,
            mounted_at: String::new(),
            follow_links_out: false,
            not_found: default_not_found,
        }
    }
}

/// Builds a [`StaticFiles`].
///
/// ```
/// use armature_layers::files::StaticFiles;
///
/// let files = StaticFiles::builder(std::env::temp_dir())
///     .index_html(true)
///     .mounted_at("/assets")
///     .build()
///     .unwrap();
/// # let _ = files;
/// ```
#[derive(Debug)]
pub struct StaticFilesBuilder {
    root: PathBuf,
    index_html: bool,
    mounted_at: String,
    follow_links_out: bool,
    not_found: NotFound,
}

impl StaticFilesBuilder {
    /// Serves a directory's `index.html` for it, redirecting `dir` to `dir/` (off by
    /// default: a directory is not found).
    ///
    /// ```
    /// let _ = armature_layers::files::StaticFiles::builder(".").index_html(true);
    /// ```
    pub fn index_html(mut self, enabled: bool) -> Self {
        self.index_html = enabled;
        self
    }

    /// The path it is mounted at (`/static`), put in front of the `Location` of a directory
    /// redirect when the request has no [`OriginalUri`] (it
    /// was not routed by an Armature router's `nest_service`, which says where it was sent).
    ///
    /// ```
    /// let _ = armature_layers::files::StaticFiles::builder(".").mounted_at("/static");
    /// ```
    pub fn mounted_at(mut self, path: impl Into<String>) -> Self {
        self.mounted_at = path.into();
        self
    }

    /// Serves files that symbolic links inside the directory lead to outside it (off by
    /// default: such a link answers as a missing file).
    ///
    /// ```
    /// let _ = armature_layers::files::StaticFiles::builder(".").follow_links_out(true);
    /// ```
    pub fn follow_links_out(mut self, enabled: bool) -> Self {
        self.follow_links_out = enabled;
        self
    }

    /// The answer to a missing file (default: `404` with the text `Not Found`).
    ///
    /// ```
    /// use armature_router::IntoResponse;
    /// let _ = armature_layers::files::StaticFiles::builder(".")
    ///     .not_found(|| (http::StatusCode::NOT_FOUND, r#"{"error":"Not Found"}"#).into_response());
    /// ```
    pub fn not_found(mut self, answer: NotFound) -> Self {
        self.not_found = answer;
        self
    }

    /// The service; an error if `root` is not a directory (or cannot be resolved).
    ///
    /// ```
    /// let err = armature_layers::files::StaticFiles::builder("/no/such/dir").build().unwrap_err();
    /// assert!(err.to_string().contains("/no/such/dir"));
    /// ```
    pub fn build(self) -> io::Result<StaticFiles> {
        let root = std::fs::canonicalize(&self.root)
            .map_err(|err| io::Error::new(err.kind(), format!("{}: {err}", self.root.display())))?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{}: not a directory", self.root.display()),
            ));
        }
        let serve = ServeDir::new(&root)
            .append_index_html_on_directories(self.index_html)
            .redirect_path_prefix(self.mounted_at)
            .not_found_service(Missing(self.not_found));
        Ok(StaticFiles {
            serve,
            root: Arc::from(root),
            follow_links_out: self.follow_links_out,
            index_html: self.index_html,
            not_found: self.not_found,
        })
    }
}

fn default_not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

/// `ServeDir`'s not-found service: the builder's answer.
#[derive(Clone, Copy)]
struct Missing(NotFound);

impl<B> Service<Request<B>> for Missing {
    type Response = Response;
    type Error = Infallible;
    type Future = Ready<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        ready(Ok((self.0)()))
    }
}

impl<B: Send + 'static> Service<Request<B>> for StaticFiles {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if self.index_html {
            if let Some(res) = mount_redirect(&req) {
                return Box::pin(ready(Ok(res)));
            }
        }
        let serve = self.serve.clone();
        let checked = (!self.follow_links_out)
            .then(|| inside(&self.root, req.uri().path()))
            .flatten();
        let (not_found, index_html) = (self.not_found, self.index_html);
        let sent = req.extensions().get::<OriginalUri>().map(|o| o.0.clone());
        Box::pin(async move {
            // The real path of what would be served must be in the directory.
            if let Some(path) = checked {
                if !stays_inside(&path, index_html).await {
                    return Ok(not_found());
                }
            }
            let Ok(mut res) = serve.oneshot(req).await;
            // A directory's redirect to its slash: to the path as the client sent it, which
            // `ServeDir` (given `mounted_at` alone) cannot know behind a mount with parameters
            // (`/users/7/files/docs`) or mounts within mounts.
            if res.status() == StatusCode::TEMPORARY_REDIRECT {
                if let Some(location) = sent.as_ref().and_then(with_slash) {
                    res.headers_mut().insert(LOCATION, location);
                }
            }
            Ok(res.map(Body::new))
        })
    }
}

/// `307` to `prefix/` for a request of the mount's own path without its slash (`/static`,
/// which the mount hands on as `/`, as it does `/static/`), as `ServeDir` redirects a
/// directory; the query is kept.
fn mount_redirect<B>(req: &Request<B>) -> Option<Response> {
    if req.uri().path() != "/" {
        return None;
    }
    let OriginalUri(sent) = req.extensions().get::<OriginalUri>()?;
    if sent.path().ends_with('/') {
        return None;
    }
    let location = with_slash(sent)?;
    let mut res = StatusCode::TEMPORARY_REDIRECT.into_response();
    res.headers_mut().insert(LOCATION, location);
    Some(res)
}

/// `sent`'s path with a slash added, its query kept: where a directory redirects.
fn with_slash(sent: &http::Uri) -> Option<HeaderValue> {
    let location = match sent.query() {
        Some(query) => format!("{}/?{query}", sent.path()),
        None => format!("{}/", sent.path()),
    };
    HeaderValue::try_from(location).ok()
}

/// A requested file and the directory it must be in.
struct Candidate {
    root: Arc<Path>,
    candidate: PathBuf,
}

/// The file `path` (as sent: percent-encoded) names under `root`, worked out as `ServeDir`
/// works it out (decoded, then split into components: `.` skipped, a name kept); `None` when
/// it names none, which `ServeDir` refuses too (`..`, a root or drive, bytes that are not
/// UTF-8).
fn inside(root: &Arc<Path>, path: &str) -> Option<Candidate> {
    let decoded = percent_decode_str(path.trim_start_matches('/'))
        .decode_utf8()
        .ok()?;
    let mut candidate = root.to_path_buf();
    for component in Path::new(&*decoded).components() {
        match component {
            Component::Normal(name)
                if Path::new(name)
                    .components()
                    .all(|c| matches!(c, Component::Normal(_))) =>
            {
                candidate.push(name)
            }
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(Candidate {
        root: Arc::clone(root),
        candidate,
    })
}

/// Whether what `candidate` names, every link resolved, stays in the directory; a directory
/// is judged by its `index.html` too when that is what would be served. A path that does not
/// resolve is `ServeDir`'s to answer (a missing file).
async fn stays_inside(path: &Candidate, index_html: bool) -> bool {
    let Ok(real) = tokio::fs::canonicalize(&path.candidate).await else {
        return true;
    };
    if !real.starts_with(&path.root) {
        return false;
    }
    if index_html && real.is_dir() {
        if let Ok(index) = tokio::fs::canonicalize(real.join("index.html")).await {
            return index.starts_with(&path.root);
        }
    }
    true
}
