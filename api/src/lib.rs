//! walletd's REST API: axum handlers that translate HTTP to calls on the engine's one
//! cloneable handle (`walletd_engine::Ledger`) and back. Handlers hold no business rules: they
//! judge the shape of a request (presence, types, enum spellings, pages) and leave every
//! money and tenancy rule to the engine.
//!
//! Layout:
//! - `lib.rs`: [`AppState`], [`app`] (the router and its middleware);
//! - `error`: [`ApiError`](error::ApiError), the only place engine errors become HTTP answers;
//! - `json`: reading bodies, query strings and path parameters, and field validation;
//! - `auth`: login, tokens, the `AuthUser` extractor, the failed-login limiter;
//! - `deadline`: the request time limit, without a timer per request;
//! - `routes/*`: one module per resource; `statement_xlsx`, `statement_pdf`: statement files;
//! - `openapi`: the OpenAPI 3.1 document, served at `/openapi.json` and `/api/v1/openapi.json`.

pub mod auth;
pub mod deadline;
pub mod error;
pub mod json;
pub mod json_out;
pub mod openapi;
pub mod posting_body;
pub mod routes;
pub mod statement_pdf;
pub mod statement_xlsx;

use crate::auth::{LoginLimiter, TokenKeys};
use crate::deadline::Deadlines;
use crate::error::{ApiError, ErrorBody};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use routes::{account_types, accounts, clients, facade, health, profiles, services, statements, transactions, users};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use walletd_engine::Ledger;

/// Largest request body (DECISIONS: 64 KiB).
pub const BODY_LIMIT: usize = 64 * 1024;
/// The batch route's body limit: 10,000 postings fit.
pub const BATCH_BODY_LIMIT: usize = 8 * 1024 * 1024;
/// A request that takes longer is answered 408 (the posting itself, if durable, stands and is
/// found again by an idempotent retry).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests served at once; more wait. The engine's mailboxes are unbounded, so back-pressure
/// belongs here, at the edge.
pub const MAX_IN_FLIGHT: usize = 1024;

/// How the API is set up, apart from the ledger.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// HMAC secret for the HS256 tokens.
    pub jwt_secret: Vec<u8>,
    pub token_ttl: Duration,
    pub max_in_flight: usize,
    /// A request still running after this long is answered 408.
    pub request_timeout: Duration,
}

impl ApiConfig {
    pub fn new(jwt_secret: impl Into<Vec<u8>>) -> Self {
        ApiConfig {
            jwt_secret: jwt_secret.into(),
            token_ttl: auth::DEFAULT_TOKEN_TTL,
            max_in_flight: MAX_IN_FLIGHT,
            request_timeout: REQUEST_TIMEOUT,
        }
    }
}

/// What every handler shares. The ledger is set once recovery has finished; until then every
/// route but `/health` answers 503, so the port can be bound (and `listening on` logged) before
/// a long recovery.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    ledger: OnceLock<Ledger>,
    tokens: TokenKeys,
    logins: LoginLimiter,
    in_flight: Semaphore,
    deadlines: Arc<Deadlines>,
}

impl AppState {
    /// A state still waiting for its ledger (recovery in progress).
    pub fn recovering(config: ApiConfig) -> Self {
        AppState {
            inner: Arc::new(Shared {
                ledger: OnceLock::new(),
                tokens: TokenKeys::new(&config.jwt_secret, config.token_ttl),
                logins: LoginLimiter::default(),
                in_flight: Semaphore::new(config.max_in_flight.max(1)),
                deadlines: Deadlines::new(config.max_in_flight.max(1), config.request_timeout),
            }),
        }
    }

    /// A state serving `ledger` right away (tests, embedding).
    pub fn ready(ledger: Ledger, config: ApiConfig) -> Self {
        let state = AppState::recovering(config);
        state.set_ledger(ledger);
        state
    }

    /// Hands over the recovered ledger; the routes start serving. Later calls are ignored.
    pub fn set_ledger(&self, ledger: Ledger) {
        let _ = self.inner.ledger.set(ledger);
    }

    /// The ledger, or 503 while recovery is still running.
    pub fn ledger(&self) -> Result<Ledger, ApiError> {
        self.inner.ledger.get().cloned().ok_or_else(recovering)
    }

    pub fn is_ready(&self) -> bool {
        self.inner.ledger.get().is_some()
    }

    pub fn tokens(&self) -> &TokenKeys {
        &self.inner.tokens
    }

    pub fn login_limiter(&self) -> &LoginLimiter {
        &self.inner.logins
    }
}

fn recovering() -> ApiError {
    ApiError::Unavailable("walletd is recovering its ledger; try again shortly".into())
}

/// The whole HTTP surface over `state`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .route(openapi::PUBLIC_PATH, get(openapi::serve))
        .route("/api/v1/openapi.json", get(openapi::serve_authenticated))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/clients", post(clients::create).get(clients::list))
        .route("/api/v1/clients/{client_code}", get(clients::get))
        .route("/api/v1/profiles", post(profiles::create))
        .route(
            "/api/v1/client-profiles/client-profile-id/{client_profile_id}",
            get(profiles::get),
        )
        .route(
            "/api/v1/profiles/client-profile-id/{client_profile_id}",
            post(profiles::command),
        )
        .route(
            "/api/v1/account-types",
            post(account_types::create).get(account_types::list),
        )
        .route("/api/v1/accounts", post(accounts::create).get(accounts::list))
        .route(
            "/api/v1/accounts/account-number/{account_number}",
            get(accounts::get).post(accounts::command),
        )
        .route("/api/v1/client-services", post(services::create).get(services::list))
        .route(
            "/api/v1/transactions",
            post(transactions::credit_or_debit).get(transactions::list),
        )
        .route(
            "/api/v1/transactions/{transaction_id}",
            get(transactions::get).post(transactions::reverse),
        )
        .route("/api/v1/account-transfers", post(transactions::transfer))
        .route(
            "/api/v1/transactions/batch",
            post(transactions::batch).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        )
        .route("/api/v1/account-statements/doc", get(statements::document))
        .route("/api/v1/users", post(users::create).get(users::list))
        .route("/api/v1/users/{username}", delete(users::delete))
        .route("/api/apps", post(facade::create_app))
        .route("/api/wallets/create", post(facade::create))
        .route("/api/wallets/get", get(facade::list))
        .route("/api/wallets/update", put(facade::update))
        .route("/api/wallets/delete", delete(facade::delete))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Innermost first: the body limit applies to the handlers' body extractors.
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // One middleware for the edge rules: each `from_fn` layer costs a boxed future and a
        // clone of the inner service per request, and tower-http's timeout and trace layers
        // cost 6-9 us and 1-4 us of CPU per request here (BENCHMARKS.md).
        .layer(middleware::from_fn_with_state(state.clone(), edge))
        .with_state(state)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("Cannot {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("Cannot {method} {}", uri.path()))
}

/// The edge of every request: until recovery has finished, everything but the health check
/// and the public API description answers 503; at most `max_in_flight` requests are served at once
/// (the engine's mailboxes are unbounded, so back-pressure belongs here); a request running
/// past `request_timeout` is answered 408; error answers made by layers rather than handlers
/// get the documents' error shape; and each request is logged at debug level, failed ones
/// (5xx, 408) at warn.
async fn edge(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !state.is_ready() && path != "/health" && path != openapi::PUBLIC_PATH {
        return recovering().into_response();
    }
    let started = tracing::enabled!(tracing::Level::DEBUG).then(Instant::now);
    // For the log lines below (cheap: a method is inline, a URI reference-counted).
    let (method, uri) = (req.method().clone(), req.uri().clone());
    // Held for the whole request; the semaphore is never closed, so acquiring cannot fail.
    let Ok(_permit) = state.inner.in_flight.acquire().await else {
        return ApiError::Unavailable("walletd is shutting down".into()).into_response();
    };
    let response = match state.inner.deadlines.run(next.run(req)).await {
        Some(response) => response,
        None => StatusCode::REQUEST_TIMEOUT.into_response(),
    };
    let status = response.status();
    if let Some(started) = started {
        let micros = started.elapsed().as_micros() as u64;
        tracing::debug!(%method, path = uri.path(), status = status.as_u16(), micros, "request");
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        tracing::warn!(%method, path = uri.path(), status = status.as_u16(), "request failed");
    }
    shape_bodiless_error(response)
}

/// Error answers produced by layers rather than handlers (the timeout's 408, for one) come
/// without a body: give them the documents' error shape too.
fn shape_bodiless_error(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let body = ErrorBody {
        status: status.as_u16(),
        message: serde_json::Value::String(status.canonical_reason().unwrap_or("Error").to_owned()),
        code: "HttpException",
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    (parts, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};
    use tower::ServiceExt;

    async fn call(app: Router, method: &str, uri: &str) -> (StatusCode, serde_json::Value) {
        let req = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let res = app.oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = to_bytes(res.into_body(), 1 << 20).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    #[tokio::test]
    async fn while_recovering_health_says_so_and_routes_answer_503() {
        let app = app(AppState::recovering(ApiConfig::new(b"secret".to_vec())));
        let (status, body) = call(app.clone(), "GET", "/health").await;
        assert_eq!(status, 503);
        assert_eq!(body, serde_json::json!({"status":"recovering"}));
        let (status, body) = call(app.clone(), "POST", "/api/v1/auth/login").await;
        assert_eq!(status, 503);
        assert_eq!(body["code"], "HttpException");
        let (status, _) = call(app.clone(), "GET", "/openapi.json").await;
        assert_eq!(status, 200);
        // Under /api/v1 the document needs a token (DECISIONS), hence the ledger.
        let (status, _) = call(app, "GET", "/api/v1/openapi.json").await;
        assert_eq!(status, 503);
    }

    #[tokio::test]
    async fn a_request_past_the_time_limit_is_answered_408_in_the_error_shape() {
        let mut config = ApiConfig::new(b"secret".to_vec());
        config.request_timeout = Duration::from_millis(50);
        let state = AppState::recovering(config);
        let app = Router::new()
            .route("/health", get(std::future::pending::<&'static str>))
            .route("/openapi.json", get(|| async { "quick" }))
            .layer(middleware::from_fn_with_state(state.clone(), edge))
            .with_state(state);
        let (status, body) = call(app.clone(), "GET", "/health").await;
        assert_eq!(status, 408);
        assert_eq!(
            body,
            serde_json::json!({"status":408,"message":"Request Timeout","code":"HttpException"})
        );
        let (status, _) = call(app, "GET", "/openapi.json").await;
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn bodiless_errors_from_layers_get_the_error_shape() {
        let app = Router::new()
            .route("/bare", get(|| async { StatusCode::REQUEST_TIMEOUT }))
            .route("/shaped", get(|| async { ApiError::Conflict("taken".into()) }))
            .layer(middleware::map_response(|r: Response| async move {
                shape_bodiless_error(r)
            }));
        let (status, body) = call(app.clone(), "GET", "/bare").await;
        assert_eq!(status, 408);
        assert_eq!(
            body,
            serde_json::json!({"status":408,"message":"Request Timeout","code":"HttpException"})
        );
        let (status, body) = call(app, "GET", "/shaped").await;
        assert_eq!(status, 409);
        assert_eq!(body["message"], "taken");
    }
}
