//! API users (ADMIN only): `POST /api/v1/users`, `GET /api/v1/users`,
//! `DELETE /api/v1/users/{username}`. A CLIENT user is bound to one client and sees only its
//! objects. Answers never carry the password or its hash.

use super::{ListResponse, timestamp};
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::json::{Fields, JsonBody, Params, PathParam, RawJson, page_request};
use axum::Json;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use walletd_engine::catalog::{Client, User};
use walletd_engine::record::Role;
use walletd_engine::views::UserInput;

/// `POST /api/v1/users` body.
#[derive(Debug, ToSchema)]
pub struct UserRequest {
    pub username: String,
    pub password: String,
    /// Required for a CLIENT user.
    pub client_code: Option<String>,
    /// CLIENT (default) or ADMIN.
    pub role: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub user_id: String,
    pub username: String,
    pub client_code: Option<String>,
    pub role: &'static str,
    pub created_at: String,
}

impl UserView {
    pub fn of(u: &User, client: Option<&Client>) -> Self {
        UserView {
            user_id: u.user_id.to_string(),
            username: u.data.username.clone(),
            client_code: client.map(|c| c.data.client_code.clone()),
            role: u.data.role.as_str(),
            created_at: timestamp(u.data.created_at_ms),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserDeleted {
    pub username: String,
    pub message: &'static str,
}

#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    request_body = UserRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The user (never its password)", body = UserView),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an ADMIN", body = ErrorBody),
        (status = 404, description = "Client not found", body = ErrorBody),
        (status = 409, description = "Username taken", body = ErrorBody),
    )
)]
pub async fn create(auth: AuthUser, JsonBody(body): JsonBody) -> Result<(StatusCode, Json<UserView>), ApiError> {
    auth.require_admin()?;
    let mut f = Fields::new(&body);
    let username = f.required_str("username");
    let password = f.required_str("password");
    let client_code = f.optional_str("client_code");
    let role = match f.one_of("role", &["ADMIN", "CLIENT"], false) {
        Some("ADMIN") => Role::Admin,
        _ => Role::Client,
    };
    f.finish()?;
    let (user, client) = auth
        .ledger
        .create_user(
            &auth.caller,
            UserInput {
                username,
                password,
                client_code,
                role,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(UserView::of(&user, client.as_deref()))))
}

#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    security(("bearer" = [])),
    params(
        ("page" = Option<u64>, Query, description = "Page, from 1"),
        ("limit" = Option<u64>, Query, description = "Records per page, at most 100"),
    ),
    responses(
        (status = 200, description = "Users, oldest first", body = ListResponse<UserView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an ADMIN", body = ErrorBody),
    )
)]
pub async fn list(auth: AuthUser, Params(params): Params) -> Result<Json<ListResponse<UserView>>, ApiError> {
    auth.require_admin()?;
    let page = page_request(&params)?;
    let users = auth.ledger.list_users(&auth.caller, page)?;
    Ok(Json(ListResponse::from_page(users, |(u, c)| {
        UserView::of(&u, c.as_deref())
    })))
}

#[utoipa::path(
    delete,
    path = "/api/v1/users/{username}",
    tag = "users",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "The user to remove")),
    responses(
        (status = 200, description = "Removed; its tokens stop working at once", body = UserDeleted),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an ADMIN", body = ErrorBody),
        (status = 404, description = "User not found", body = ErrorBody),
        (status = 409, description = "Deleting oneself", body = ErrorBody),
    )
)]
pub async fn delete(
    auth: AuthUser,
    PathParam(username): PathParam<String>,
    // Read, not used: a body over the limit is refused (413) as on every route, rather than
    // the user deleted with it ignored.
    _body: RawJson,
) -> Result<Json<UserDeleted>, ApiError> {
    auth.require_admin()?;
    auth.ledger.delete_user(&auth.caller, &username).await?;
    Ok(Json(UserDeleted {
        username,
        message: "User deleted successfully.",
    }))
}
