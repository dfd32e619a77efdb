//! Building the OpenAPI document from a built router's route table.

use std::collections::{HashMap, HashSet};
use std::fmt;

use armature_router::Router;
use http::Method;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::{Components, OpenApi, RefOr, Required, ResponseBuilder};
use utoipa::PartialSchema;

use crate::route::{to_openapi, RouteOperation};

/// Why [`spec`] could not describe a router.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpecError {
    /// The base document already lists paths; only the router may say what is served.
    BaseHasPaths {
        /// The first path of the base document.
        path: String,
    },
    /// An operation is attached to a method the route does not serve.
    Unserved {
        /// The route template.
        route: String,
        /// The method nobody answers.
        method: Method,
    },
    /// An operation declares a path parameter that the route template does not have.
    UnknownPathParam {
        /// The route template.
        route: String,
        /// The method of the operation.
        method: Method,
        /// The parameter name.
        param: String,
    },
    /// Two route templates are one OpenAPI path (`/files/{name}` and the catch-all
    /// `/files/{*name}` are both `/files/{name}`) and both serve `method`: the document can
    /// hold only one of the two operations.
    SamePath {
        /// The OpenAPI path both templates become.
        path: String,
        /// The method both serve.
        method: Method,
        /// The template listed first.
        first: String,
        /// The other template.
        second: String,
    },
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::BaseHasPaths { path } => write!(
                f,
                "the base OpenAPI document already lists `{path}`; paths come from the router only"
            ),
            SpecError::Unserved { route, method } => write!(
                f,
                "{method} `{route}` is documented but the router does not serve it"
            ),
            SpecError::UnknownPathParam {
                route,
                method,
                param,
            } => write!(
                f,
                "{method} `{route}` documents a path parameter `{param}` that the route does not have"
            ),
            SpecError::SamePath {
                path,
                method,
                first,
                second,
            } => write!(
                f,
                "{method} `{first}` and {method} `{second}` are both the OpenAPI path `{path}`, \
                 which holds one {method} operation: name the catch-all's parameter apart"
            ),
        }
    }
}

impl std::error::Error for SpecError {}

/// The OpenAPI document of `router`: `base` (info, servers, components, tags, security) with
/// one path per route [`Router::routes`] lists and one operation per method it serves.
///
/// * Templates are written in OpenAPI syntax: `/users/{id}`; a catch-all `{*rest}` becomes
///   `{rest}` (OpenAPI has no multi-segment parameter; its description says so). Two
///   templates that become one path and serve the same method (`/files/{name}` and
///   `/files/{*name}`) are a [`SpecError::SamePath`]: the document could list only one.
/// * A method documented with [`RouteDocs`](crate::RouteDocs) gets its operation and the
///   component schemas it references. Path parameters it does not declare are added as
///   required strings; one it declares that the template lacks is a [`SpecError`].
/// * An undocumented method gets an operation with an `operationId` (`get_users_id`, made
///   unique with a `_2`, `_3`… suffix where templates differ only in punctuation, such as
///   `/users` and `/users/`) and a `default` response, so the document lists exactly what is
///   served.
/// * `HEAD` answered from `GET` is not listed (the router answers it implicitly). `CONNECT` and
///   extension methods have no place in an OpenAPI 3.1 path item and are left out.
pub fn spec<B>(router: &Router<B>, base: OpenApi) -> Result<OpenApi, SpecError> {
    let mut api = base;
    if let Some(path) = api.paths.paths.keys().next() {
        return Err(SpecError::BaseHasPaths { path: path.clone() });
    }
    let mut components = api.components.take().unwrap_or_default();
    // Documented ids are the user's; undocumented ones are made not to collide with them.
    let mut ids: HashSet<String> = router
        .routes()
        .flat_map(|(template, _)| router.metadata::<RouteOperation>(template))
        .filter_map(|(_, doc)| doc.operation.operation_id.clone())
        .collect();
    // Which template wrote each (OpenAPI path, method): two templates can be one path.
    let mut written: HashMap<(String, Method), &str> = HashMap::new();
    for (template, methods) in router.routes() {
        let names = param_names(template);
        for (method, _) in router.metadata::<RouteOperation>(template) {
            if !methods.contains(method) {
                return Err(SpecError::Unserved {
                    route: template.to_owned(),
                    method: method.clone(),
                });
            }
        }
        let path = openapi_path(template);
        for method in &methods {
            let Some(openapi_method) = to_openapi(method) else {
                continue;
            };
            if let Some(first) = written.insert((path.clone(), method.clone()), template) {
                return Err(SpecError::SamePath {
                    path,
                    method: method.clone(),
                    first: first.to_owned(),
                    second: template.to_owned(),
                });
            }
            let documented = router
                .metadata::<RouteOperation>(template)
                .find(|(m, _)| *m == method)
                .map(|(_, doc)| doc);
            let mut operation = match documented {
                Some(doc) => {
                    add_schemas(&mut components, doc);
                    doc.operation.clone()
                }
                None => undocumented(method, template, &mut ids),
            };
            complete_path_params(&mut operation, template, method, &names)?;
            let item = PathItem::new(openapi_method, operation);
            match api.paths.paths.get_mut(&path) {
                Some(existing) => existing.merge_operations(item),
                None => {
                    api.paths.paths.insert(path.clone(), item);
                }
            }
        }
    }
    if !components.schemas.is_empty()
        || !components.responses.is_empty()
        || !components.security_schemes.is_empty()
    {
        api.components = Some(components);
    }
    Ok(api)
}

/// `/files/{*rest}` → `/files/{rest}`.
pub(crate) fn openapi_path(template: &str) -> String {
    template.replace("{*", "{")
}

/// The parameter names of a template, with whether each is a catch-all.
fn param_names(template: &str) -> Vec<(String, bool)> {
    template
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| match name.strip_prefix('*') {
            Some(rest) => (rest.to_owned(), true),
            None => (name.to_owned(), false),
        })
        .collect()
}

fn add_schemas(components: &mut Components, doc: &RouteOperation) {
    for (name, schema) in &doc.schemas {
        components
            .schemas
            .entry(name.clone())
            .or_insert_with(|| schema.clone());
    }
}

/// An operation for a method nobody documented, with an `operationId` not in `ids` (added).
fn undocumented(method: &Method, template: &str, ids: &mut HashSet<String>) -> Operation {
    let mut base = method.as_str().to_ascii_lowercase();
    for part in template.split(|c: char| !c.is_ascii_alphanumeric()) {
        if !part.is_empty() {
            base.push('_');
            base.push_str(part);
        }
    }
    let mut id = base.clone();
    let mut n = 2;
    while !ids.insert(id.clone()) {
        id = format!("{base}_{n}");
        n += 1;
    }
    let mut operation = Operation::new();
    operation.operation_id = Some(id);
    operation.responses.responses.insert(
        "default".into(),
        RefOr::T(ResponseBuilder::new().description("Not documented").build()),
    );
    operation
}

fn complete_path_params(
    operation: &mut Operation,
    template: &str,
    method: &Method,
    names: &[(String, bool)],
) -> Result<(), SpecError> {
    let params = operation.parameters.get_or_insert_with(Vec::new);
    let declared: Vec<String> = params
        .iter()
        .filter_map(|p| match p {
            RefOr::T(p) if p.parameter_in == ParameterIn::Path => Some(p.name.clone()),
            _ => None,
        })
        .collect();
    if let Some(param) = declared
        .iter()
        .find(|d| !names.iter().any(|(n, _)| n == *d))
    {
        return Err(SpecError::UnknownPathParam {
            route: template.to_owned(),
            method: method.clone(),
            param: param.clone(),
        });
    }
    for (name, catch_all) in names {
        if declared.contains(name) {
            continue;
        }
        let description = catch_all.then_some("The rest of the path (it may contain `/`).");
        params.push(RefOr::T(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(description)
                .schema(Some(String::schema()))
                .build(),
        ));
    }
    if params.is_empty() {
        operation.parameters = None;
    }
    Ok(())
}
