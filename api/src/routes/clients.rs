//! Clients (v1): `POST /api/v1/clients` (ADMIN only), `GET /api/v1/clients`,
//! `GET /api/v1/clients/{client_code}`.

use super::{ListResponse, flag, timestamp};
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::json::{Fields, JsonBody, Params, PathParam, page_request};
use axum::Json;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use walletd_engine::catalog::Client;
use walletd_engine::views::ClientInput;

/// `POST /api/v1/clients` body.
#[derive(Debug, ToSchema)]
pub struct ClientRequest {
    pub client_name: String,
    pub client_email: String,
    pub client_phone_number: String,
    pub contact_person_name: String,
    pub contact_person_email: String,
    pub contact_person_msisdn: String,
    pub business_pin: String,
    pub physical_address: Option<String>,
    pub country: String,
    pub logo: Option<String>,
    pub description: Option<String>,
    /// 1 or 0 (number or string).
    #[schema(value_type = u8)]
    pub is_active: u8,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub client_id: String,
    pub client_code: String,
    pub client_name: String,
    pub client_email: String,
    pub client_phone_number: String,
    pub contact_person_name: String,
    pub contact_person_email: String,
    pub contact_person_msisdn: String,
    pub business_pin: String,
    pub physical_address: Option<String>,
    pub country: String,
    pub logo: Option<String>,
    pub description: Option<String>,
    pub is_active: u8,
    pub created_at: String,
    pub updated_at: String,
}

impl ClientView {
    pub fn of(c: &Client) -> Self {
        let d = &c.data;
        ClientView {
            client_id: c.client_id.to_string(),
            client_code: d.client_code.clone(),
            client_name: d.client_name.clone(),
            client_email: d.client_email.clone(),
            client_phone_number: d.client_phone_number.clone(),
            contact_person_name: d.contact_person_name.clone(),
            contact_person_email: d.contact_person_email.clone(),
            contact_person_msisdn: d.contact_person_msisdn.clone(),
            business_pin: d.business_pin.clone(),
            physical_address: d.physical_address.clone(),
            country: d.country.clone(),
            logo: d.logo.clone(),
            description: d.description.clone(),
            is_active: flag(d.is_active),
            created_at: timestamp(d.created_at_ms),
            // Clients are never changed after creation.
            updated_at: timestamp(d.created_at_ms),
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/clients",
    tag = "clients",
    request_body = ClientRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The client, with its generated client_code", body = ClientView),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an ADMIN", body = ErrorBody),
    )
)]
pub async fn create(auth: AuthUser, JsonBody(body): JsonBody) -> Result<(StatusCode, Json<ClientView>), ApiError> {
    auth.require_admin()?;
    let mut f = Fields::new(&body);
    let input = ClientInput {
        client_name: f.required_str("client_name"),
        client_email: f.required_str("client_email"),
        client_phone_number: f.required_text("client_phone_number"),
        contact_person_name: f.required_str("contact_person_name"),
        contact_person_email: f.required_str("contact_person_email"),
        contact_person_msisdn: f.required_text("contact_person_msisdn"),
        business_pin: f.required_text("business_pin"),
        physical_address: f.optional_str("physical_address"),
        country: f.required_str("country"),
        logo: f.optional_str("logo"),
        description: f.optional_str("description"),
        is_active: f.flag("is_active", None),
    };
    f.finish()?;
    let client = auth.ledger.create_client(&auth.caller, input).await?;
    Ok((StatusCode::CREATED, Json(ClientView::of(&client))))
}

#[utoipa::path(
    get,
    path = "/api/v1/clients",
    tag = "clients",
    security(("bearer" = [])),
    params(
        ("page" = Option<u64>, Query, description = "Page, from 1"),
        ("limit" = Option<u64>, Query, description = "Records per page, at most 100"),
    ),
    responses(
        (status = 200, description = "Clients the caller may see, oldest first", body = ListResponse<ClientView>),
        (status = 400, description = "Bad page or limit", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
pub async fn list(auth: AuthUser, Params(params): Params) -> Result<Json<ListResponse<ClientView>>, ApiError> {
    let page = page_request(&params)?;
    let clients = auth.ledger.list_clients(&auth.caller, page);
    Ok(Json(ListResponse::from_page(clients, |c| ClientView::of(&c))))
}

#[utoipa::path(
    get,
    path = "/api/v1/clients/{client_code}",
    tag = "clients",
    security(("bearer" = [])),
    params(("client_code" = String, Path, description = "The client's generated code")),
    responses(
        (status = 200, description = "The client", body = ClientView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "Client not found", body = ErrorBody),
    )
)]
pub async fn get(auth: AuthUser, PathParam(code): PathParam<String>) -> Result<Json<ClientView>, ApiError> {
    let client = auth.ledger.get_client(&auth.caller, &code)?;
    Ok(Json(ClientView::of(&client)))
}
