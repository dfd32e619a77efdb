//! `DocsLayer` serves the precomputed spec and a Swagger UI that loads only from the app.

use crate::common;

use armature_openapi::DocsLayer;
use common::app;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::{ServiceBuilder, ServiceExt};

async fn get(
    app: &armature_openapi::Docs<armature_router::Router<String>>,
    path: &str,
) -> (StatusCode, http::HeaderMap, String) {
    let res = app
        .clone()
        .oneshot(Request::get(path).body(String::new()).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn app() -> (
    armature_openapi::Docs<armature_router::Router<String>>,
    String,
) {
    let router = app::router::<String>();
    let spec = app::spec(&router);
    let json = serde_json::to_string(&spec).unwrap();
    let docs = ServiceBuilder::new()
        .layer(DocsLayer::new(&spec))
        .service(router);
    (docs, json)
}

#[tokio::test]
async fn openapi_json_is_the_spec() {
    let (app, json) = app();
    let (status, headers, body) = get(&app, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body, json);
}

#[tokio::test]
async fn docs_redirect_to_the_ui_whose_pages_name_no_other_origin() {
    let (app, _) = app();
    let (status, headers, _) = get(&app, "/docs").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/docs/");

    let (status, headers, index) = get(&app, "/docs/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let (status, _, init) = get(&app, "/docs/swagger-initializer.js").await;
    assert_eq!(status, StatusCode::OK);
    for (name, text) in [("index.html", &index), ("swagger-initializer.js", &init)] {
        assert!(
            !text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"),
            "{name} names another origin:\n{text}"
        );
    }
    assert!(init.contains("\"url\": \"/openapi.json\""), "{init}");
    assert!(init.contains("\"tryItOutEnabled\": true"), "{init}");
    assert!(init.contains("\"validatorUrl\": \"none\""), "{init}");

    // Every script and stylesheet the page loads is served by the app itself.
    let mut assets = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for piece in index.split(attr).skip(1) {
            let target = piece.split('"').next().unwrap();
            assets.push(target.trim_start_matches("./").to_owned());
        }
    }
    assert!(
        assets.iter().any(|a| a == "swagger-ui-bundle.js"),
        "{assets:?}"
    );
    for asset in &assets {
        let (status, _, body) = get(&app, &format!("/docs/{asset}")).await;
        assert_eq!(status, StatusCode::OK, "/docs/{asset}");
        assert!(!body.is_empty(), "/docs/{asset}");
    }
    let (status, _, _) = get(&app, "/docs/no-such-file.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn other_requests_reach_the_app_and_docs_refuse_writes() {
    let (app, _) = app();
    let (status, _, body) = get(&app, "/api/users/7").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, r#"{"id":7,"name":"Alice"}"#);
    let (status, _, _) = get(&app, "/docsx").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Writes to any docs path, the `/docs` redirect included, get 405 with a short message.
    for path in ["/openapi.json", "/docs", "/docs/", "/docs/swagger-ui.css"] {
        let res = app
            .clone()
            .oneshot(Request::post(path).body(String::new()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(res.headers()["allow"], "GET,HEAD", "{path}");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "Method Not Allowed", "{path}");
    }
    let (status, _, body) = get(&app, "/docs/no-such-file.js").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::NOT_FOUND, "Not Found")
    );
}

#[test]
fn a_docs_ui_path_that_would_take_every_request_is_refused_at_build() {
    let spec = serde_json::json!({ "openapi": "3.1.0" });
    for ui_path in ["/", "/docs/"] {
        let built =
            std::panic::catch_unwind(|| DocsLayer::with_paths(&spec, "/openapi.json", ui_path));
        let message = built.err().and_then(|p| p.downcast::<String>().ok());
        assert!(
            message.is_some_and(|m| m.contains("must not end with `/`")),
            "{ui_path} was accepted"
        );
    }
    let _ = DocsLayer::with_paths(&spec, "/openapi.json", "/api/docs");
}
