//! Client services: `POST /api/v1/client-services` and `GET /api/v1/client-services`. A
//! service carries the fee (fixed, percentage, or by amount tiers) and the amount limits that
//! postings through it obey; the engine judges them.

use super::{ClientRef, ListResponse, flag, money, timestamp};
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::json::{Fields, JsonBody, Params, page_request};
use axum::Json;
use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use walletd_engine::catalog::{Client, Service};
use walletd_engine::record::FeeType;
use walletd_engine::views::{FeeTierInput, ServiceInput};

const FEE_TYPES: [&str; 2] = ["FIXED", "PERCENTAGE"];

fn fee_type(name: Option<&str>) -> Option<FeeType> {
    match name {
        Some("FIXED") => Some(FeeType::Fixed),
        Some("PERCENTAGE") => Some(FeeType::Percentage),
        _ => None,
    }
}

/// One fee band: bounds inclusive, the first matching tier wins.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeeTier {
    pub min_amount: String,
    pub max_amount: String,
    /// FIXED or PERCENTAGE.
    pub transaction_fee_type: String,
    pub transaction_fee: String,
}

/// `POST /api/v1/client-services` body. Amounts are JSON numbers or decimal strings.
#[derive(Debug, ToSchema)]
pub struct ServiceRequest {
    pub client_code: String,
    pub client_service_name: String,
    /// CUSTOM_SERVICE.
    pub service_code: String,
    pub has_transaction_fee: bool,
    /// FIXED or PERCENTAGE.
    pub transaction_fee_type: Option<String>,
    #[schema(value_type = Option<String>)]
    pub transaction_fee: Option<String>,
    pub transaction_fee_tiers: Option<Vec<FeeTier>>,
    #[schema(value_type = String)]
    pub minimum_transaction_amount: String,
    #[schema(value_type = String)]
    pub maximum_transaction_amount: String,
    /// 1 or 0 (number or string).
    #[schema(value_type = u8)]
    pub is_active: u8,
}

/// The service kind behind a client service.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceKind {
    pub service_id: String,
    pub service_name: &'static str,
    pub service_code: String,
    pub service_transaction_type: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    pub client_service_id: String,
    pub client_service_code: String,
    pub client_code: String,
    pub client_service_name: String,
    pub service_code: String,
    pub has_transaction_fee: bool,
    pub transaction_fee_type: Option<&'static str>,
    pub transaction_fee: String,
    pub transaction_fee_tiers: Vec<FeeTier>,
    pub minimum_transaction_amount: String,
    pub maximum_transaction_amount: String,
    pub is_active: u8,
    pub created_at: String,
    pub updated_at: String,
    pub service: ServiceKind,
    pub client: ClientRef,
}

impl ServiceView {
    pub fn of(s: &Service, client: &Client) -> Self {
        let d = &s.data;
        ServiceView {
            client_service_id: s.service_id.to_string(),
            client_service_code: d.client_service_code.clone(),
            client_code: client.data.client_code.clone(),
            client_service_name: d.client_service_name.clone(),
            service_code: d.service_code.clone(),
            has_transaction_fee: d.has_transaction_fee,
            transaction_fee_type: d.transaction_fee_type.map(FeeType::as_str),
            transaction_fee: money(d.transaction_fee.0),
            transaction_fee_tiers: d
                .fee_tiers
                .iter()
                .map(|t| FeeTier {
                    min_amount: money(t.min_amount.0),
                    max_amount: money(t.max_amount.0),
                    transaction_fee_type: t.fee_type.as_str().to_owned(),
                    transaction_fee: money(t.fee.0),
                })
                .collect(),
            minimum_transaction_amount: money(d.minimum_transaction_amount.0),
            maximum_transaction_amount: money(d.maximum_transaction_amount.0),
            is_active: flag(d.is_active),
            created_at: timestamp(d.created_at_ms),
            updated_at: timestamp(d.created_at_ms),
            // CUSTOM_SERVICE is the one service kind; it takes credits and debits alike.
            service: ServiceKind {
                service_id: "1".into(),
                service_name: "Custom Service",
                service_code: d.service_code.clone(),
                service_transaction_type: "BOTH",
            },
            client: ClientRef::of(client),
        }
    }
}

fn fee_tiers(f: &mut Fields<'_>) -> Vec<FeeTierInput> {
    let items = f.optional_array("transaction_fee_tiers");
    let mut tiers = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(map) = item else {
            f.problem(format!("transaction_fee_tiers.{i} must be an object"));
            continue;
        };
        let mut t = Fields::item(map, "transaction_fee_tiers", i);
        let tier = FeeTierInput {
            min_amount: t.non_negative("min_amount", None),
            max_amount: t.non_negative("max_amount", None),
            fee_type: fee_type(t.one_of("transaction_fee_type", &FEE_TYPES, true)).unwrap_or(FeeType::Fixed),
            fee: t.non_negative("transaction_fee", None),
        };
        f.absorb(t);
        tiers.push(tier);
    }
    tiers
}

#[utoipa::path(
    post,
    path = "/api/v1/client-services",
    tag = "client-services",
    request_body = ServiceRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The client service, with its generated code", body = ServiceView),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "Client not found", body = ErrorBody),
    )
)]
pub async fn create(auth: AuthUser, JsonBody(body): JsonBody) -> Result<(StatusCode, Json<ServiceView>), ApiError> {
    let mut f = Fields::new(&body);
    let input = ServiceInput {
        client_code: f.required_str("client_code"),
        client_service_name: f.required_str("client_service_name"),
        service_code: f.required_str("service_code"),
        has_transaction_fee: f.boolean("has_transaction_fee", None),
        transaction_fee_type: fee_type(f.one_of("transaction_fee_type", &FEE_TYPES, false)),
        transaction_fee: f.non_negative("transaction_fee", Some(Decimal::ZERO)),
        fee_tiers: fee_tiers(&mut f),
        minimum_transaction_amount: f.non_negative("minimum_transaction_amount", None),
        maximum_transaction_amount: f.non_negative("maximum_transaction_amount", None),
        is_active: f.flag("is_active", None),
    };
    f.finish()?;
    let (service, client) = auth.ledger.create_service(&auth.caller, input).await?;
    Ok((StatusCode::CREATED, Json(ServiceView::of(&service, &client))))
}

#[utoipa::path(
    get,
    path = "/api/v1/client-services",
    tag = "client-services",
    security(("bearer" = [])),
    params(
        ("page" = Option<u64>, Query, description = "Page, from 1"),
        ("limit" = Option<u64>, Query, description = "Records per page, at most 100"),
    ),
    responses(
        (status = 200, description = "Client services the caller may see, oldest first", body = ListResponse<ServiceView>),
        (status = 400, description = "Bad page or limit", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
pub async fn list(auth: AuthUser, Params(params): Params) -> Result<Json<ListResponse<ServiceView>>, ApiError> {
    let page = page_request(&params)?;
    let services = auth.ledger.list_services(&auth.caller, page);
    Ok(Json(ListResponse::from_page(services, |(s, c)| {
        ServiceView::of(&s, &c)
    })))
}
