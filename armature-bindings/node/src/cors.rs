//! CORS options from JS, turned into armature-layers' `CorsLayer` (errors become JS errors).

use std::time::Duration;

use armature_layers::cors::{Cors, CorsLayer};
use napi::{Error, Result, Status};
use napi_derive::napi;

/// Options of `Cors.new(...)`. Every list is exact; `"*"` in `origins` allows any origin.
#[napi(object)]
#[derive(Clone, Default)]
pub struct CorsOptions {
    /// Allowed origins, like `https://app.example`; `["*"]` for any.
    pub origins: Option<Vec<String>>,
    /// Allowed methods (default: any).
    pub methods: Option<Vec<String>>,
    /// Allowed request headers (default: any).
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

pub(crate) fn layer(options: &CorsOptions) -> Result<CorsLayer> {
    if options.permissive == Some(true) {
        return Ok(Cors::permissive());
    }
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
        None => builder.allow_any_method(),
    };
    builder = match &options.headers {
        Some(headers) => builder.allow_headers(headers),
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
    builder
        .build()
        .map_err(|err| Error::new(Status::InvalidArg, format!("Cors.new: {err}")))
}

/// Checks CORS options the way the app will use them; throws the configuration error.
// Called only from JS: the test build (which has no JS) sees it unused.
#[cfg_attr(test, allow(dead_code))]
#[napi]
pub fn validate_cors(options: CorsOptions) -> Result<()> {
    layer(&options).map(drop)
}
