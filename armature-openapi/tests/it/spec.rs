//! The spec is built from the route table that serves requests: exactly the served
//! (path, method) pairs, in OpenAPI syntax, typed, valid per a real OpenAPI validator.

use crate::common;

use std::collections::BTreeSet;

use armature_openapi::{RouteDocs, RouteOperation, SpecError};
use armature_router::{get, Router};
use common::app;
use http::{Method, Request};
use serde_json::{json, Value};

fn spec_json() -> Value {
    let router = app::router::<String>();
    serde_json::to_value(app::spec(&router)).unwrap()
}

/// Every (path, method) of the document.
fn documented(spec: &Value) -> BTreeSet<(String, String)> {
    let mut pairs = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            pairs.insert((path.clone(), method.to_ascii_uppercase()));
        }
    }
    pairs
}

#[test]
fn the_spec_lists_exactly_the_routes_the_router_serves() {
    let router = app::router::<String>();
    let spec = serde_json::to_value(app::spec(&router)).unwrap();
    let served: BTreeSet<(String, String)> = router
        .routes()
        .flat_map(|(template, methods)| {
            let path = template.replace("{*", "{");
            methods
                .into_iter()
                .map(move |m| (path.clone(), m.as_str().to_owned()))
        })
        .collect();
    assert_eq!(documented(&spec), served);
    // And that table is the app's: nesting applied, catch-all in OpenAPI syntax.
    let expected: BTreeSet<(String, String)> = [
        ("/api/users", "GET"),
        ("/api/users", "POST"),
        ("/api/users/{id}", "GET"),
        ("/api/users/{id}", "DELETE"),
        ("/health", "GET"),
        ("/files/{path}", "GET"),
    ]
    .iter()
    .map(|(p, m)| (p.to_string(), m.to_string()))
    .collect();
    assert_eq!(served, expected);
}

#[test]
fn every_spec_path_is_answered_by_the_router_and_no_other_is() {
    let router = app::router::<String>();
    let spec = serde_json::to_value(app::spec(&router)).unwrap();
    for (path, method) in documented(&spec) {
        // Fill each parameter with a value and ask the router's own table.
        let concrete = path.replace("{id}", "7").replace("{path}", "a/b.txt");
        let found = router
            .at(&concrete)
            .unwrap_or_else(|| panic!("{method} {path}: the router serves no {concrete}"));
        let (_, methods) = router
            .routes()
            .find(|(t, _)| *t == found.template())
            .unwrap();
        assert!(
            methods.iter().any(|m| m.as_str() == method),
            "{method} {path}: not served"
        );
    }
}

#[test]
fn operations_carry_typed_params_bodies_and_schemas() {
    let spec = spec_json();
    let get_user = &spec["paths"]["/api/users/{id}"]["get"];
    assert_eq!(get_user["operationId"], "get_user");
    assert_eq!(get_user["tags"], json!(["users"]));
    let id = &get_user["parameters"][0];
    assert_eq!(
        (&id["name"], &id["in"], &id["required"]),
        (&json!("id"), &json!("path"), &json!(true))
    );
    assert_eq!(id["schema"]["type"], "integer");
    assert_eq!(
        get_user["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/User"
    );
    let create = &spec["paths"]["/api/users"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/NewUser"
    );
    assert_eq!(
        spec["paths"]["/api/users"]["get"]["parameters"][0]["in"],
        "query"
    );
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("User") && schemas.contains_key("NewUser"));
    assert_eq!(schemas["User"]["properties"]["id"]["type"], "integer");
    assert_eq!(schemas["User"]["required"], json!(["id", "name"]));
}

#[test]
fn undocumented_routes_are_listed_with_their_path_params() {
    let spec = spec_json();
    let files = &spec["paths"]["/files/{path}"]["get"];
    assert_eq!(files["operationId"], "get_files_path");
    assert_eq!(files["parameters"][0]["name"], "path");
    assert_eq!(files["parameters"][0]["in"], "path");
    assert_eq!(files["parameters"][0]["schema"]["type"], "string");
    assert!(files["responses"]["default"].is_object());
    assert!(spec["paths"]["/health"]["get"]["parameters"].is_null());
}

fn ok(_req: Request<()>) -> std::future::Ready<&'static str> {
    std::future::ready("ok")
}

fn op(id: &str) -> RouteOperation {
    RouteOperation::new(
        utoipa::openapi::path::OperationBuilder::new()
            .operation_id(Some(id))
            .build(),
        [],
    )
}

#[test]
fn documenting_a_method_the_route_does_not_serve_is_an_error() {
    let router = Router::builder()
        .route("/a", get(ok).operation(Method::POST, op("ghost")))
        .build()
        .unwrap();
    let Err(err) = armature_openapi::spec(&router, Default::default()) else {
        panic!("expected an error")
    };
    assert_eq!(
        err,
        SpecError::Unserved {
            route: "/a".into(),
            method: Method::POST
        }
    );
    assert_eq!(
        err.to_string(),
        "POST `/a` is documented but the router does not serve it"
    );
}

#[test]
fn a_documented_path_param_the_template_lacks_is_an_error() {
    /// Declares `{id}`, but is mounted where there is none.
    #[utoipa::path(get, path = "/items/{id}", params(("id" = u64, Path)), responses((status = 200, description = "ok")))]
    #[allow(dead_code)]
    async fn item() {}

    let router = Router::builder()
        .route("/items", get(ok).documented::<__path_item>())
        .build()
        .unwrap();
    let Err(err) = armature_openapi::spec(&router, Default::default()) else {
        panic!("expected an error")
    };
    assert!(
        matches!(err, SpecError::UnknownPathParam { ref param, .. } if param == "id"),
        "{err}"
    );
}

#[test]
fn a_base_document_with_paths_is_refused() {
    let router = Router::builder().route("/a", get(ok)).build().unwrap();
    let base = utoipa::openapi::OpenApiBuilder::new()
        .paths(utoipa::openapi::Paths::builder().path(
            "/b",
            utoipa::openapi::PathItem::new(
                utoipa::openapi::HttpMethod::Get,
                utoipa::openapi::path::Operation::new(),
            ),
        ))
        .build();
    let Err(err) = armature_openapi::spec(&router, base) else {
        panic!("expected an error")
    };
    assert_eq!(err, SpecError::BaseHasPaths { path: "/b".into() });
}

#[test]
fn the_spec_is_valid_per_openapi_spec_validator() {
    let dir = common::scratch("spec-validator");
    let path = dir.join("openapi.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&spec_json()).unwrap()).unwrap();
    let out = common::check_py(&["spec".as_ref(), path.as_os_str()]);
    assert!(out.contains("valid OpenAPI 3.1.0"), "{out}");
}

#[test]
fn the_validator_rejects_a_broken_spec() {
    // The judge itself can fail: a path parameter that is not declared is invalid.
    let dir = common::scratch("spec-validator-broken");
    let path = dir.join("openapi.json");
    let mut spec = spec_json();
    spec["paths"]["/api/users/{id}"]["get"]["parameters"] = json!([]);
    spec["paths"]["/api/users/{id}"]["delete"]["parameters"] = json!([]);
    std::fs::write(&path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let out = std::process::Command::new(common::python())
        .arg(common::tests_dir().join("python/check.py"))
        .arg("spec")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the validator accepted a broken spec"
    );
}

/// A route answering every method (`any`) is in the document under every OpenAPI operation,
/// and a method set beside it is documented as its own.
#[test]
fn an_any_route_is_listed_under_every_method() {
    let router = Router::builder()
        .route(
            "/hook",
            armature_router::any(|_req: Request<()>| async { "any" }),
        )
        .build()
        .unwrap();
    let spec = serde_json::to_value(
        armature_openapi::spec(&router, utoipa::openapi::OpenApi::default()).unwrap(),
    )
    .unwrap();
    let methods: BTreeSet<String> = documented(&spec)
        .into_iter()
        .filter(|(path, _)| path == "/hook")
        .map(|(_, method)| method)
        .collect();
    let expected: BTreeSet<String> = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(methods, expected);
}

/// Undocumented routes whose templates differ only in punctuation (a trailing slash, as
/// `nest_service` mounts both `/static` and `/static/`) still get distinct `operationId`s,
/// which OpenAPI requires to be unique in the document.
#[test]
fn a_param_and_a_catch_all_that_are_one_openapi_path_are_an_error_not_a_lost_operation() {
    let clash = Router::builder()
        .route("/files/{name}", get(ok))
        .route("/files/{*name}", get(ok).post(ok))
        .build()
        .unwrap();
    let Err(err) = armature_openapi::spec(&clash, utoipa::openapi::OpenApi::default()) else {
        panic!("one of the two GET operations would be lost");
    };
    assert_eq!(
        err,
        SpecError::SamePath {
            path: "/files/{name}".into(),
            method: Method::GET,
            first: "/files/{name}".into(),
            second: "/files/{*name}".into(),
        }
    );
    assert!(
        err.to_string()
            .contains("both the OpenAPI path `/files/{name}`"),
        "{err}"
    );
    // One path, different methods: both operations are listed.
    let apart = Router::builder()
        .route("/files/{name}", get(ok))
        .route("/files/{*name}", armature_router::post(ok))
        .build()
        .unwrap();
    let spec = serde_json::to_value(
        armature_openapi::spec(&apart, utoipa::openapi::OpenApi::default()).unwrap(),
    )
    .unwrap();
    let item = &spec["paths"]["/files/{name}"];
    assert!(
        item["get"].is_object() && item["post"].is_object(),
        "{item}"
    );
}

#[test]
fn undocumented_operation_ids_are_unique() {
    /// Documented with the id the undocumented `POST /users-list` would get.
    #[utoipa::path(post, path = "/users/list", operation_id = "post_users_list", responses((status = 200, description = "ok")))]
    #[allow(dead_code)]
    async fn list() {}

    let files = armature_router::handler_fn(|_req: Request<()>| async { "file" });
    let router = Router::builder()
        .route("/users", get(ok))
        .route("/users/", get(ok))
        .route("/users-list", get(ok).post(ok))
        .route(
            "/users/list",
            armature_router::post(ok).documented::<__path_list>(),
        )
        .route("/users/list", get(ok))
        .nest_service("/static", files)
        .build()
        .unwrap();
    let spec = serde_json::to_value(
        armature_openapi::spec(&router, utoipa::openapi::OpenApi::default()).unwrap(),
    )
    .unwrap();
    let mut ids = BTreeSet::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap().to_owned();
            assert!(ids.insert(id.clone()), "operationId {id} is used twice");
        }
    }
    // The documented id is the user's, as written.
    assert_eq!(
        spec["paths"]["/users/list"]["post"]["operationId"],
        "post_users_list"
    );
    let dir = common::scratch("spec-validator-ids");
    let path = dir.join("openapi.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let out = common::check_py(&["spec".as_ref(), path.as_os_str()]);
    assert!(out.contains("valid OpenAPI"), "{out}");
}
