//! CORS options from JS, turned into armature-layers' `CorsLayer` (errors become JS errors).

use std::time::Duration;

use armature_layers::cors::{Cors, CorsError, CorsLayer};
use napi::{Error, Result, Status};
use napi_derive::napi;

/// Options of `Cors.new(...)`. Every list is exact; `"*"` in `origins` allows any origin.
#[napi(object)]
#[derive(Clone, Default)]
pub struct CorsOptions {
    /// Allowed origins, like `https://app.example`; `["*"]` for any.
    pub origins: Option<Vec<String>>,
    /// Allowed methods (default: any; with `credentials`, @fastify/cors' default list
    /// `GET, HEAD, PUT, PATCH, POST, DELETE`).
    pub methods: Option<Vec<String>>,
    /// Allowed request headers (default: any; with `credentials`, those the preflight asks
    /// for, echoed, as @fastify/cors does).
    pub headers: Option<Vec<String>>,
    /// Response headers exposed to the page.
    pub expose_headers: Option<Vec<String>>,
    /// Whether cookies and `authorization` may be sent.
    pub credentials: Option<bool>,
    /// Preflight cache lifetime, in seconds.
    pub max_age: Option<u32>,
    /// The development preset (any origin, no credentials); other fields are ignored.
    pub permissive: Option<bool>,
}

/// The methods a policy with credentials allows when `methods` is not given: @fastify/cors'
/// default. Browsers read `Access-Control-Allow-Methods: *` literally on credentialed
/// requests, so "any" (the default without credentials) cannot be said there.
const CREDENTIALED_METHODS: [&str; 6] = ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"];

pub(crate) fn layer(options: &CorsOptions) -> Result<CorsLayer> {
    if options.permissive == Some(true) {
        return Ok(Cors::permissive());
    }
    let credentials = options.credentials == Some(true);
    let mut builder = Cors::builder();
    match options.origins.as_deref() {
        Some([any]) if any == "*" => builder = builder.allow_any_origin(),
        Some(origins) if !origins.is_empty() => builder = builder.allow_origins(origins),
        _ => {
            return Err(Error::new(
                Status::InvalidArg,
                "Cors.new: `origins` must list at least one origin (or be [\"*\"])",
            ))
        }
    }
    builder = match &options.methods {
        Some(methods) => builder.allow_methods(methods),
        None if credentials => builder.allow_methods(CREDENTIALED_METHODS),
        None => builder.allow_any_method(),
    };
    builder = match &options.headers {
        Some(headers) => builder.allow_headers(headers),
        // `*` is read literally with credentials: the headers a preflight asks for are echoed
        // instead, as @fastify/cors does by default (the origins are still a list).
        None if credentials => builder.mirror_request_headers(),
        None => builder.allow_any_header(),
    };
    if let Some(expose) = &options.expose_headers {
        builder = builder.expose_headers(expose);
    }
    if let Some(credentials) = options.credentials {
        builder = builder.allow_credentials(credentials);
    }
    if let Some(secs) = options.max_age {
        builder = builder.max_age(Duration::from_secs(secs.into()));
    }
    builder.build().map_err(|err| invalid(&js_message(&err)))
}

fn invalid(message: &str) -> Error {
    Error::new(Status::InvalidArg, format!("Cors.new: {message}"))
}

/// The configuration error in the JS options' names (armature-layers' own messages name its
/// Rust builder methods).
fn js_message(err: &CorsError) -> String {
    match err {
        CorsError::AnyOriginWithCredentials => "`origins: ['*']` cannot be combined with \
            `credentials: true`: browsers reject `Access-Control-Allow-Origin: *` on credentialed \
            requests; list the origins, like `origins: ['https://app.example']`"
            .into(),
        CorsError::AnyMethodWithCredentials => "with `credentials: true`, list the methods, like \
            `methods: ['GET', 'POST']` (browsers read `*` literally on credentialed requests)"
            .into(),
        CorsError::AnyHeaderWithCredentials => {
            "with `credentials: true`, list the request headers, like \
             `headers: ['content-type']` (browsers read `*` literally on credentialed requests)"
                .into()
        }
        CorsError::WildcardInList { list, .. } => match *list {
            "allow_origins" => "`*` in `origins`: give `origins: ['*']` alone to allow any origin",
            "allow_methods" => "`*` in `methods`: leave `methods` out to allow any method",
            "allow_headers" => "`*` in `headers`: leave `headers` out to allow any header",
            _ => "`*` in `exposeHeaders`: list the header names pages may read",
        }
        .into(),
        other => other.to_string(),
    }
}

/// Checks CORS options the way the app will use them; throws the configuration error.
// Called only from JS: the test build (which has no JS) sees it unused.
#[cfg_attr(test, allow(dead_code))]
#[napi]
pub fn validate_cors(options: CorsOptions) -> Result<()> {
    layer(&options).map(drop)
}
