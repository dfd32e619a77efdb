//! OpenAPI for Armature.
//!
//! * **The spec from the route table.** Attach each route's operation with
//!   [`RouteDocs::documented`] (utoipa's `#[utoipa::path]`) and build the document with
//!   [`spec()`] from the built [`Router`](armature_router::Router): the paths are the templates
//!   the router serves, in OpenAPI syntax, and every served method is listed, documented or not.
//! * **Docs beside the app.** [`DocsLayer`] serves the document at `/openapi.json`
//!   (serialized once) and Swagger UI at `/docs`, with try-it-out, from files embedded at build
//!   time (`utoipa-swagger-ui`'s `vendored` feature: from crates.io, nothing downloaded).
//! * **A mock server for any document.** [`mock()`] answers every operation of an OpenAPI 3
//!   document with its example after validating parameters and JSON bodies (`422` naming the
//!   failing field), with the docs beside it. `cargo run --example mock -- openapi.json`.
//! * **A TypeScript client.** [`typescript_client`] writes a typed, fetch-based client.
//!
//! ```
//! use armature_openapi::{DocsLayer, RouteDocs};
//! use armature_router::{get, Router};
//! use http::{Request, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! /// Says hello.
//! #[utoipa::path(get, path = "/hello", responses((status = 200, description = "A greeting", body = String)))]
//! async fn hello(_req: Request<()>) -> &'static str { "hi" }
//!
//! # tokio_test::block_on(async {
//! let router = Router::builder()
//!     .route("/hello", get(hello).documented::<__path_hello>())
//!     .build()?;
//! let spec = armature_openapi::spec(&router, utoipa::openapi::OpenApi::default())?;
//! let app = ServiceBuilder::new().layer(DocsLayer::new(&spec)).service(router);
//! let res = app.oneshot(Request::get("/openapi.json").body(())?).await?;
//! assert_eq!(res.status(), StatusCode::OK);
//! # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! # }).unwrap();
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod docs;
mod mock;
mod route;
mod spec;
mod typescript;

pub use docs::{Docs, DocsFuture, DocsLayer};
pub use mock::{example, mock, mock_router, MockError};
pub use route::{RouteDocs, RouteOperation};
pub use spec::{spec, SpecError};
pub use typescript::typescript_client;

/// utoipa, re-exported so users name the same version (`armature_openapi::utoipa::path`).
pub use utoipa;
