//! The mock server on a real-world document (the public OpenAPI 3 Petstore example,
//! `fixtures/petstore3.json`, written out from the example at petstore3.swagger.io): every
//! operation answers with a body that an independent validator (PyPI's
//! openapi-schema-validator) finds valid against the document's schema, and bad input gets a
//! 422 naming the failing field.

use crate::common;

use armature_openapi::{Docs, MockError};
use armature_router::Router;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

fn petstore() -> Value {
    let path = common::tests_dir().join("fixtures/petstore3.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

type Mock = Docs<Router<String>>;

async fn send(
    mock: &Mock,
    method: &str,
    uri: &str,
    content_type: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let res = mock
        .clone()
        .oneshot(req.body(body.to_owned()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, value)
}

/// A parameter's example as the text that goes in a URL.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn every_petstore_operation_answers_with_a_body_valid_against_its_schema() {
    let doc = petstore();
    let mock: Mock = armature_openapi::mock(&doc).unwrap();
    let mut results = Vec::new();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let id = op["operationId"].as_str().unwrap();
            // A valid request: every parameter from its schema's example, a JSON body when the
            // operation takes one.
            let mut uri = format!("/api/v3{path}");
            let mut query = Vec::new();
            for param in op["parameters"].as_array().into_iter().flatten() {
                let value = armature_openapi::example(&doc, &param["schema"]);
                let name = param["name"].as_str().unwrap();
                match param["in"].as_str().unwrap() {
                    "path" => uri = uri.replace(&format!("{{{name}}}"), &text(&value)),
                    "query" => match &value {
                        Value::Array(items) => {
                            query.extend(items.iter().map(|v| format!("{name}={}", text(v))))
                        }
                        v => query.push(format!("{name}={}", text(v))),
                    },
                    _ => {}
                }
            }
            if !query.is_empty() {
                uri = format!("{uri}?{}", query.join("&"));
            }
            let content = &op["requestBody"]["content"];
            let (content_type, body) = if let Some(media) = content.get("application/json") {
                let body = armature_openapi::example(&doc, &media["schema"]);
                (Some("application/json"), body.to_string())
            } else if content.get("application/octet-stream").is_some() {
                (Some("application/octet-stream"), "raw bytes".to_owned())
            } else {
                (None, String::new())
            };
            let (status, body) = send(
                &mock,
                &method.to_ascii_uppercase(),
                &uri,
                content_type,
                &body,
            )
            .await;
            assert!(status.is_success(), "{id} {uri}: {status} {body}");
            let schema = &op["responses"][status.as_str()]["content"]["application/json"]["schema"];
            if schema.is_null() {
                assert!(
                    body.is_null(),
                    "{id}: a body where none is documented: {body}"
                );
                continue;
            }
            assert!(!body.is_null(), "{id}: no body");
            results.push(json!({"operation": id, "schema": schema, "body": body}));
        }
    }
    assert_eq!(operations, 19, "the Petstore has 19 operations");
    assert!(results.len() >= 14, "{} bodies", results.len());
    let dir = common::scratch("mock-bodies");
    let doc_path = dir.join("petstore3.json");
    let results_path = dir.join("results.json");
    std::fs::write(&doc_path, doc.to_string()).unwrap();
    std::fs::write(&results_path, Value::Array(results).to_string()).unwrap();
    let out = common::check_py(&[
        "bodies".as_ref(),
        doc_path.as_os_str(),
        results_path.as_os_str(),
    ]);
    assert!(out.contains(", 0 failures"), "{out}");
}

#[test]
fn the_body_judge_can_fail() {
    let doc = petstore();
    let dir = common::scratch("mock-bodies-broken");
    let doc_path = dir.join("petstore3.json");
    let results_path = dir.join("results.json");
    std::fs::write(&doc_path, doc.to_string()).unwrap();
    let results = json!([{"operation": "getPetById", "schema": {"$ref": "#/components/schemas/Pet"},
        "body": {"name": "rex", "photoUrls": "not a list"}}]);
    std::fs::write(&results_path, results.to_string()).unwrap();
    let out = std::process::Command::new(common::python())
        .arg(common::tests_dir().join("python/check.py"))
        .arg("bodies")
        .arg(&doc_path)
        .arg(&results_path)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the judge accepted an invalid body");
}

#[tokio::test]
async fn bad_input_gets_422_naming_the_failing_field() {
    let mock: Mock = armature_openapi::mock(&petstore()).unwrap();
    let json = Some("application/json");
    /// (method, uri, content type, body, in, field)
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, &'a str, &'a str, &'a str);
    let cases: &[Case] = &[
        // (method, uri, content type, body, in, field)
        ("GET", "/api/v3/pet/abc", None, "", "path", "petId"),
        (
            "GET",
            "/api/v3/pet/findByStatus",
            None,
            "",
            "query",
            "status",
        ),
        (
            "GET",
            "/api/v3/pet/findByStatus?status=lost",
            None,
            "",
            "query",
            "status",
        ),
        ("GET", "/api/v3/pet/findByTags", None, "", "query", "tags"),
        (
            "POST",
            "/api/v3/pet",
            json,
            r#"{"photoUrls":[]}"#,
            "body",
            "name",
        ),
        (
            "POST",
            "/api/v3/pet",
            json,
            r#"{"name":"rex","photoUrls":"x"}"#,
            "body",
            "photoUrls",
        ),
        (
            "POST",
            "/api/v3/pet",
            json,
            r#"{"name":"rex","photoUrls":[],"category":{"id":"one"}}"#,
            "body",
            "category.id",
        ),
        (
            "POST",
            "/api/v3/pet",
            json,
            r#"{"name":"rex","photoUrls":[],"tags":[{"id":1},{"id":"2"}]}"#,
            "body",
            "tags[1].id",
        ),
        (
            "POST",
            "/api/v3/pet",
            json,
            r#"{"name":"rex","photoUrls":[],"status":"lost"}"#,
            "body",
            "status",
        ),
        ("POST", "/api/v3/pet", None, "", "body", ""),
        ("PUT", "/api/v3/store/order/1", None, "", "", ""), // 405, checked below
    ];
    for &(method, uri, content_type, body, location, field) in &cases[..cases.len() - 1] {
        let (status, answer) = send(&mock, method, uri, content_type, body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {uri} {body}: {answer}"
        );
        assert_eq!(
            (answer["in"].as_str(), answer["field"].as_str()),
            (Some(location), Some(field)),
            "{method} {uri} {body}: {answer}"
        );
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (status, _) = send(&mock, "PUT", "/api/v3/store/order/1", json, "{}").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _) = send(&mock, "POST", "/api/v3/pet", json, "{").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = send(&mock, "POST", "/api/v3/pet", Some("text/plain"), "rex").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _) = send(&mock, "GET", "/pet/1", None, "").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "routes live under the server's base path"
    );
    // Valid edge cases pass: repeated array parameters, and an XML body is accepted unread.
    let (status, _) = send(
        &mock,
        "GET",
        "/api/v3/pet/findByTags?tags=a&tags=b",
        None,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(
        &mock,
        "POST",
        "/api/v3/pet",
        Some("application/xml"),
        "<pet/>",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_mock_serves_its_document_and_docs_beside_it() {
    let doc = petstore();
    let mock: Mock = armature_openapi::mock(&doc).unwrap();
    let (status, served) = send(&mock, "GET", "/openapi.json", None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served["servers"], json!([{"url": "/api/v3"}]));
    assert_eq!(served["paths"], doc["paths"]);
    let (status, page) = send(&mock, "GET", "/docs/", None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.as_str().unwrap().contains("swagger-ui"));
}

#[test]
fn documents_the_router_cannot_serve_are_refused() {
    let err = armature_openapi::mock_router::<String>(&json!({"swagger": "2.0", "paths": {}}), "")
        .unwrap_err();
    assert!(matches!(err, MockError::NotOpenApi(_)), "{err}");
    let doc = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "paths": {"/files/{name}.json": {"get": {"responses": {"200": {"description": "ok"}}}}}});
    let err = armature_openapi::mock_router::<String>(&doc, "").unwrap_err();
    assert!(matches!(err, MockError::Route(_)), "{err}");
}

/// The base path comes from the first server URL however it is written: absolute, relative
/// to the document (which the mock serves at the root), or network-path (`//host/v1`, whose
/// host is not part of the path).
#[tokio::test]
async fn the_base_path_is_read_from_every_form_of_server_url() {
    for (url, base) in [
        ("https://api.example.com/v1/", "/v1"),
        ("/v1", "/v1"),
        ("//api.example.com/v1", "/v1"),
        ("v1", "/v1"),
        ("./v1", "/v1"),
        ("../v1/", "/v1"),
        (".", "/"),
        ("https://api.example.com", "/"),
        ("//api.example.com", "/"),
    ] {
        let doc = json!({
            "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
            "servers": [{"url": url}],
            "paths": {"/ping": {"get": {"responses": {"200": {"description": "ok"}}}}}
        });
        let mock: Mock = armature_openapi::mock(&doc).unwrap_or_else(|err| panic!("{url}: {err}"));
        let ping = format!("{}/ping", base.trim_end_matches('/'));
        let (status, _) = send(&mock, "GET", &ping, None, "").await;
        assert_eq!(status, StatusCode::OK, "{url}: GET {ping}");
        let (_, served) = send(&mock, "GET", "/openapi.json", None, "").await;
        assert_eq!(served["servers"], json!([{ "url": base }]), "{url}");
    }
}

/// A media type the document writes with parameters (`application/json;charset=UTF-8`, as
/// Spring's generators do) takes requests of that type, whatever their parameters, and
/// checks their JSON.
#[tokio::test]
async fn body_media_types_are_matched_without_their_parameters() {
    let doc = json!({
        "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
        "paths": {"/pets": {"post": {
            "requestBody": {"required": true, "content": {"application/json;charset=UTF-8": {
                "schema": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}},
            "responses": {"201": {"description": "created"}}
        }}}
    });
    let mock: Mock = armature_openapi::mock(&doc).unwrap();
    for content_type in ["application/json", "application/json; charset=utf-8"] {
        let (status, body) = send(
            &mock,
            "POST",
            "/pets",
            Some(content_type),
            r#"{"name":"rex"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{content_type}: {body}");
        let (status, body) =
            send(&mock, "POST", "/pets", Some(content_type), r#"{"name":7}"#).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{content_type}: {body}"
        );
    }
    let (status, _) = send(&mock, "POST", "/pets", Some("text/plain"), "rex").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}
