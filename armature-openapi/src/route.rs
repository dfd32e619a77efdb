//! Attaching OpenAPI operations to routes, so the spec comes from the table that serves them.

use std::fmt;

use armature_router::MethodRouter;
use http::Method;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;

/// The OpenAPI description of one method of one route: its operation and the component schemas
/// it references. [`RouteDocs`] attaches it to a [`MethodRouter`] as route metadata, and
/// [`spec`](crate::spec()) reads it back from the built router.
#[derive(Clone)]
pub struct RouteOperation {
    pub(crate) operation: Operation,
    pub(crate) schemas: Vec<(String, RefOr<Schema>)>,
}

impl RouteOperation {
    /// An operation built by hand (with utoipa's `OperationBuilder`), with the component schemas
    /// it references (`(name, schema)`, e.g. from `<User as utoipa::ToSchema>::name()` and
    /// `<User as utoipa::PartialSchema>::schema()`).
    pub fn new(
        operation: impl Into<Operation>,
        schemas: impl IntoIterator<Item = (String, RefOr<Schema>)>,
    ) -> Self {
        RouteOperation {
            operation: operation.into(),
            schemas: schemas.into_iter().collect(),
        }
    }

    /// The operation.
    pub fn operation(&self) -> &Operation {
        &self.operation
    }
}

impl fmt::Debug for RouteOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteOperation")
            .field("operation_id", &self.operation.operation_id)
            .field(
                "schemas",
                &self.schemas.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Documents a route's methods: an extension of [`MethodRouter`].
///
/// ```
/// use armature_openapi::RouteDocs;
/// use armature_router::{get, Json, PathParams, Router};
/// use http::Request;
/// use serde::Serialize;
/// use utoipa::ToSchema;
///
/// #[derive(Serialize, ToSchema)]
/// struct User { id: u64, name: String }
///
/// /// One user.
/// #[utoipa::path(get, path = "/users/{id}",
///     params(("id" = u64, Path, description = "The user's id")),
///     responses((status = 200, description = "The user", body = User)))]
/// async fn get_user(req: Request<()>) -> Json<User> {
///     let id = req.extensions().get::<PathParams>().unwrap()["id"].parse().unwrap_or(0);
///     Json(User { id, name: "Alice".into() })
/// }
///
/// let router = Router::builder()
///     .route("/users/{id}", get(get_user).documented::<__path_get_user>())
///     .build()
///     .unwrap();
/// let spec = armature_openapi::spec(&router, utoipa::openapi::OpenApi::default()).unwrap();
/// assert!(spec.paths.paths["/users/{id}"].get.is_some());
/// assert!(spec.components.unwrap().schemas.contains_key("User"));
/// ```
pub trait RouteDocs: Sized {
    /// Attaches the operation that `#[utoipa::path]` generated (the `__path_<fn>` type) to each
    /// of the methods it declares, with its tags and every schema it references. The `path = ".."` it declares
    /// is not used: the spec lists the route under the template the router serves.
    fn documented<P>(self) -> Self
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences + utoipa::__dev::Tags<'static>;

    /// Attaches a hand-built operation to `method`.
    fn operation(self, method: Method, operation: RouteOperation) -> Self;
}

impl<B: Send + 'static> RouteDocs for MethodRouter<B> {
    fn documented<P>(self) -> Self
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences + utoipa::__dev::Tags<'static>,
    {
        let mut schemas = Vec::new();
        P::schemas(&mut schemas);
        let mut operation = P::operation();
        // `tag = ".."` of `#[utoipa::path]` comes separately (utoipa merges it the same way).
        let tags = <P as utoipa::__dev::Tags<'static>>::tags();
        if !tags.is_empty() {
            let list = operation.tags.get_or_insert_with(Vec::new);
            for tag in tags {
                if !list.iter().any(|t| t == tag) {
                    list.push(tag.to_owned());
                }
            }
        }
        let doc = RouteOperation { operation, schemas };
        P::methods().into_iter().fold(self, |methods, method| {
            methods.metadata(to_http(&method), doc.clone())
        })
    }

    fn operation(self, method: Method, operation: RouteOperation) -> Self {
        self.metadata(method, operation)
    }
}

pub(crate) fn to_http(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

pub(crate) fn to_openapi(method: &Method) -> Option<HttpMethod> {
    Some(match *method {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::DELETE => HttpMethod::Delete,
        Method::OPTIONS => HttpMethod::Options,
        Method::HEAD => HttpMethod::Head,
        Method::PATCH => HttpMethod::Patch,
        Method::TRACE => HttpMethod::Trace,
        _ => return None,
    })
}
