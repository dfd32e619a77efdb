//! A small documented API: users (list, create, one, delete) under `/api`, plus an undocumented
//! health check and a catch-all file route.

use std::sync::{Arc, Mutex};

use armature_openapi::RouteDocs;
use armature_router::{get, Json, PathParams, Router, RouterBuilder};
use http::{Request, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user of the service.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct User {
    /// The id.
    pub id: u64,
    /// The display name.
    pub name: String,
}

/// What creating a user takes.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct NewUser {
    /// The display name.
    pub name: String,
}

/// Lists the users.
#[utoipa::path(get, path = "/users", tag = "users",
    params(("limit" = Option<u32>, Query, description = "At most this many")),
    responses((status = 200, description = "The users", body = Vec<User>)))]
pub async fn list_users<B>(_req: Request<B>) -> Json<Vec<User>> {
    Json(vec![User {
        id: 1,
        name: "Alice".into(),
    }])
}

/// Creates a user.
#[utoipa::path(post, path = "/users", tag = "users", request_body = NewUser,
    responses((status = 201, description = "Created", body = User)))]
pub async fn create_user<B>(req: Request<B>) -> armature_router::Response
where
    B: http_body::Body + Send,
    B::Data: Send,
    B::Error: Into<armature_router::BoxError>,
{
    use armature_router::IntoResponse;
    match Json::<NewUser>::from_request(req).await {
        Ok(Json(new)) => (
            StatusCode::CREATED,
            Json(User {
                id: 2,
                name: new.name,
            }),
        )
            .into_response(),
        Err(rejection) => rejection.into_response(),
    }
}

/// Gets one user.
#[utoipa::path(get, path = "/users/{id}", tag = "users",
    params(("id" = u64, Path, description = "The user's id")),
    responses((status = 200, description = "The user", body = User),
              (status = 404, description = "No such user")))]
pub async fn get_user<B>(req: Request<B>) -> armature_router::Response {
    use armature_router::IntoResponse;
    let id = req
        .extensions()
        .get::<PathParams>()
        .and_then(|p| p.get("id"))
        .unwrap_or("");
    match id.parse::<u64>() {
        Ok(id) => Json(User {
            id,
            name: "Alice".into(),
        })
        .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Deletes a user.
#[utoipa::path(delete, path = "/users/{id}", tag = "users",
    params(("id" = u64, Path, description = "The user's id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_user<B>(_req: Request<B>) -> StatusCode {
    StatusCode::NO_CONTENT
}

/// The users routes, with their operations attached.
pub fn users<B>() -> RouterBuilder<B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<armature_router::BoxError>,
{
    Router::builder()
        .route(
            "/users",
            get(list_users::<B>)
                .post(create_user::<B>)
                .documented::<__path_list_users>()
                .documented::<__path_create_user>(),
        )
        .route(
            "/users/{id}",
            get(get_user::<B>)
                .delete(delete_user::<B>)
                .documented::<__path_get_user>()
                .documented::<__path_delete_user>(),
        )
}

/// The whole app: `/api/users...` (documented), `/health` and `/files/{*path}` (not).
pub fn router<B>() -> Router<B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<armature_router::BoxError>,
{
    Router::builder()
        .nest("/api", users())
        .route("/health", get(|_req: Request<B>| async { "ok" }))
        .route("/files/{*path}", get(|_req: Request<B>| async { "file" }))
        .build()
        .expect("valid routes")
}

/// `METHOD /path` of every request a recorder saw.
pub type Hits = Arc<Mutex<Vec<String>>>;

/// The spec of [`router`].
pub fn spec<B>(router: &Router<B>) -> utoipa::openapi::OpenApi {
    let base = utoipa::openapi::OpenApiBuilder::new()
        .info(
            utoipa::openapi::InfoBuilder::new()
                .title("Users")
                .version("1.0.0")
                .build(),
        )
        .build();
    armature_openapi::spec(router, base).expect("the app documents only what it serves")
}
