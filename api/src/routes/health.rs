//! `GET /health`: 200 `{"status":"ok"}` once recovery has finished and writes are accepted;
//! 503 `{"status":"recovering"}` during recovery, 503 `{"status":"failed","reason"}` after a
//! fail-stop. No authentication.

use crate::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    /// `ok`, `recovering` or `failed`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    responses(
        (status = 200, description = "Serving", body = HealthView),
        (status = 503, description = "Recovering, or stopped after a storage failure", body = HealthView),
    )
)]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthView>) {
    let Ok(ledger) = state.ledger() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthView {
                status: "recovering",
                reason: None,
            }),
        );
    };
    match ledger.health() {
        Ok(()) => (
            StatusCode::OK,
            Json(HealthView {
                status: "ok",
                reason: None,
            }),
        ),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthView {
                status: "failed",
                reason: Some(reason),
            }),
        ),
    }
}
