//! `ApiError`: every way a request can fail, and the one place that turns engine errors into
//! HTTP answers. `/api/v1` answers `{"status":<code>,"message":<string or array>,"code":"HttpException"}`;
//! the sub-wallets facade answers `{"status":"error","message":...}` through [`FacadeError`],
//! with the same status codes. Internal errors are logged here and answered with a generic
//! message: their text may name files or invariants a client has no business seeing.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use thiserror::Error;
use utoipa::ToSchema;
use walletd_engine::EngineError;

#[derive(Debug, Error)]
pub enum ApiError {
    /// 400 with one sentence per problem (`message` is an array).
    #[error("{}", .0.join("; "))]
    Validation(Vec<String>),
    /// 401: missing, invalid, expired or revoked token, or wrong credentials.
    #[error("Unauthorized")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 422: a well-formed request the ledger's rules refuse.
    #[error("{0}")]
    Refused(String),
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_secs: u64 },
    #[error("{0}")]
    Unavailable(String),
    /// 500: logged with its detail, answered without it.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        ApiError::Validation(vec![msg.into()])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told: validation problems as an array, everything else a sentence.
    pub fn message(&self) -> Value {
        match self {
            ApiError::Validation(problems) => json!(problems),
            ApiError::Internal(detail) => {
                // Logged here because this is the only place every internal error passes through.
                tracing::error!(detail = %detail, "internal error answered with 500");
                json!("Internal server error")
            }
            other => json!(other.to_string()),
        }
    }

    /// The same error, answered in the sub-wallets facade's shape.
    pub fn facade(self) -> FacadeError {
        FacadeError(self)
    }

    fn extra_headers(&self, response: &mut Response) {
        if let ApiError::TooManyRequests { retry_after_secs, .. } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if matches!(self, ApiError::Unavailable(_)) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NotFound(m) => ApiError::NotFound(m),
            EngineError::Invalid(problems) => ApiError::Validation(problems),
            EngineError::Refused(m) => ApiError::Refused(m),
            EngineError::Conflict(m) => ApiError::Conflict(m),
            EngineError::Forbidden(m) => ApiError::Forbidden(m),
            EngineError::Unavailable(m) => ApiError::Unavailable(m),
            EngineError::Corruption(m) => ApiError::Internal(format!("data corruption: {m}")),
            EngineError::Internal(m) => ApiError::Internal(m),
        }
    }
}

/// The `/api/v1` error body, as the documents show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The HTTP status code, repeated.
    pub status: u16,
    /// A sentence, or for validation errors (400) an array of one sentence per problem.
    #[schema(schema_with = message_schema)]
    pub message: Value,
    /// Always `HttpException`.
    pub code: &'static str,
}

/// `message` is a string or an array of strings. (Fix found by the end-to-end tests: it was
/// documented as `type: object`, which no answer ever is.)
fn message_schema() -> utoipa::openapi::schema::OneOfBuilder {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String))
        .item(ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(
            "A sentence, or for validation errors (400) an array of one sentence per problem.",
        ))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            status: status.as_u16(),
            message: self.message(),
            code: "HttpException",
        };
        let mut response = (status, Json(body)).into_response();
        self.extra_headers(&mut response);
        response
    }
}

/// The facade's error body: `{"status":"error","message":"..."}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FacadeErrorBody {
    /// Always `error`.
    pub status: &'static str,
    pub message: String,
}

/// An [`ApiError`] answered in the facade's shape.
#[derive(Debug)]
pub struct FacadeError(pub ApiError);

impl From<ApiError> for FacadeError {
    fn from(e: ApiError) -> Self {
        FacadeError(e)
    }
}

impl From<EngineError> for FacadeError {
    fn from(e: EngineError) -> Self {
        FacadeError(e.into())
    }
}

impl IntoResponse for FacadeError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let message = match self.0.message() {
            Value::String(s) => s,
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "),
            other => other.to_string(),
        };
        let mut response = (
            status,
            Json(FacadeErrorBody {
                status: "error",
                message,
            }),
        )
            .into_response();
        self.0.extra_headers(&mut response);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    async fn body_of(r: Response) -> Value {
        let bytes = to_bytes(r.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn engine_errors_map_to_their_status_codes() {
        let cases = [
            (EngineError::NotFound("Account not found".into()), 404),
            (EngineError::Invalid(vec!["a".into()]), 400),
            (EngineError::Refused("Insufficient funds".into()), 422),
            (EngineError::Conflict("Transaction already reversed".into()), 409),
            (EngineError::Forbidden("Forbidden resource".into()), 403),
            (EngineError::Unavailable("stopped".into()), 503),
            (EngineError::Corruption("bad crc".into()), 500),
            (EngineError::Internal("boom".into()), 500),
        ];
        for (e, code) in cases {
            assert_eq!(ApiError::from(e.clone()).status().as_u16(), code, "{e:?}");
        }
    }

    #[tokio::test]
    async fn validation_errors_answer_an_array() {
        let r = ApiError::Validation(vec![
            "client_name should not be empty".into(),
            "client_name must be a string".into(),
        ])
        .into_response();
        assert_eq!(r.status(), 400);
        let body = body_of(r).await;
        assert_eq!(
            body,
            json!({"status":400,"message":["client_name should not be empty","client_name must be a string"],"code":"HttpException"})
        );
    }

    #[tokio::test]
    async fn internal_errors_hide_their_detail() {
        let r = ApiError::from(EngineError::Corruption("segment 00000001.wal offset 42".into())).into_response();
        assert_eq!(r.status(), 500);
        let body = body_of(r).await;
        assert_eq!(body["message"], "Internal server error");
        assert!(!body.to_string().contains("offset"));
    }

    #[tokio::test]
    async fn unauthorized_and_facade_shapes() {
        let body = body_of(ApiError::Unauthorized.into_response()).await;
        assert_eq!(
            body,
            json!({"status":401,"message":"Unauthorized","code":"HttpException"})
        );
        let r = ApiError::Conflict("Wallet already exists".into())
            .facade()
            .into_response();
        assert_eq!(r.status(), 409);
        assert_eq!(
            body_of(r).await,
            json!({"status":"error","message":"Wallet already exists"})
        );
    }

    #[test]
    fn too_many_requests_carries_retry_after() {
        let r = ApiError::TooManyRequests {
            message: "slow down".into(),
            retry_after_secs: 42,
        }
        .into_response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()[header::RETRY_AFTER], "42");
    }
}
