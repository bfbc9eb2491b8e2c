//! Wallet (account) types: `POST /api/v1/account-types` adds a client's own type with a
//! generated `account_type_code`; `GET /api/v1/account-types` lists them. The built-in codes
//! (`FLOAT_ACCOUNT`, `CURRENT_ACCOUNT`, ...) need no creating.

use super::{ListResponse, flag, timestamp};
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::json::{Fields, JsonBody, Params, page_request};
use axum::Json;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use walletd_engine::catalog::{AccountType, Client};
use walletd_engine::views::AccountTypeInput;

/// `POST /api/v1/account-types` body.
#[derive(Debug, ToSchema)]
pub struct AccountTypeRequest {
    pub client_code: String,
    pub account_type_name: String,
    pub account_type_description: Option<String>,
    /// 1 or 0 (number or string); default 1.
    #[schema(value_type = Option<u8>)]
    pub is_active: Option<u8>,
}

/// The owning client, as embedded in a wallet type.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountTypeClient {
    pub client_id: String,
    pub client_code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountTypeView {
    pub account_type_id: String,
    pub account_type_code: String,
    pub account_type_name: String,
    pub account_type_description: Option<String>,
    pub is_mandatory_account: u8,
    pub is_active: u8,
    pub is_default: u8,
    pub created_at: String,
    pub updated_at: String,
    pub client: AccountTypeClient,
}

impl AccountTypeView {
    pub fn of(t: &AccountType, client: &Client) -> Self {
        let d = &t.data;
        AccountTypeView {
            account_type_id: t.account_type_id.to_string(),
            account_type_code: d.account_type_code.clone(),
            account_type_name: d.account_type_name.clone(),
            account_type_description: d.account_type_description.clone(),
            // A client's own types are never mandatory nor defaults; only the built-ins are.
            is_mandatory_account: 0,
            is_active: flag(d.is_active),
            is_default: 0,
            created_at: timestamp(d.created_at_ms),
            updated_at: timestamp(d.created_at_ms),
            client: AccountTypeClient {
                client_id: client.client_id.to_string(),
                client_code: client.data.client_code.clone(),
            },
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/account-types",
    tag = "account-types",
    request_body = AccountTypeRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The wallet type, with its generated code", body = AccountTypeView),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "Client not found", body = ErrorBody),
    )
)]
pub async fn create(auth: AuthUser, JsonBody(body): JsonBody) -> Result<(StatusCode, Json<AccountTypeView>), ApiError> {
    let mut f = Fields::new(&body);
    let input = AccountTypeInput {
        client_code: f.required_str("client_code"),
        account_type_name: f.required_str("account_type_name"),
        account_type_description: f.optional_str("account_type_description"),
        is_active: f.flag("is_active", Some(true)),
    };
    f.finish()?;
    let (ty, client) = auth.ledger.create_account_type(&auth.caller, input).await?;
    Ok((StatusCode::CREATED, Json(AccountTypeView::of(&ty, &client))))
}

#[utoipa::path(
    get,
    path = "/api/v1/account-types",
    tag = "account-types",
    security(("bearer" = [])),
    params(
        ("page" = Option<u64>, Query, description = "Page, from 1"),
        ("limit" = Option<u64>, Query, description = "Records per page, at most 100"),
    ),
    responses(
        (status = 200, description = "Wallet types the caller may see, oldest first", body = ListResponse<AccountTypeView>),
        (status = 400, description = "Bad page or limit", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
pub async fn list(auth: AuthUser, Params(params): Params) -> Result<Json<ListResponse<AccountTypeView>>, ApiError> {
    let page = page_request(&params)?;
    let types = auth.ledger.list_account_types(&auth.caller, page);
    Ok(Json(ListResponse::from_page(types, |(t, c)| {
        AccountTypeView::of(&t, &c)
    })))
}
