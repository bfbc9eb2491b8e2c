//! Wallets (accounts): `POST /api/v1/accounts` by `client_code` (v1) or by
//! `client_profile_id` (v2), `GET /api/v1/accounts`, `GET /api/v1/accounts/account-number/{n}`
//! and the state commands `POST /api/v1/accounts/account-number/{n}?command=...`.

use super::{ClientRef, ListResponse, money, timestamp};
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::json::{Fields, JsonBody, Params, PathParam, page_request};
use axum::Json;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use walletd_engine::record::AccountStatus;
use walletd_engine::views::{AccountCommand, AccountDetails, AccountInput, AccountOwner};

/// Statuses a new wallet may be given (`INACTIVE`, from v1, is stored as `PRE_ACTIVE`).
const CREATE_STATUSES: [&str; 6] = ["PRE_ACTIVE", "ACTIVE", "DORMANT", "SUSPENDED", "CLOSED", "INACTIVE"];
/// In the order of the documents' sentence.
const COMMANDS: [&str; 4] = ["CLOSE", "ACTIVATE", "DORMANT", "SUSPEND"];

/// `POST /api/v1/accounts` body: `client_code` (v1) or `client_profile_id` (v2, with an
/// optional `client_code` for an ADMIN).
#[derive(Debug, ToSchema)]
pub struct AccountRequest {
    pub client_code: Option<String>,
    pub client_profile_id: Option<String>,
    /// A built-in code (`FLOAT_ACCOUNT`, `CURRENT_ACCOUNT`, ...) or one of the client's own.
    pub account_type_code: String,
    pub account_name: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Number or decimal string, at most 4 decimals (`0` for none).
    #[schema(value_type = String)]
    pub minimum_balance: String,
    /// False when left out.
    pub can_overdraw: Option<bool>,
    /// PRE_ACTIVE, ACTIVE, DORMANT, SUSPENDED, CLOSED (or INACTIVE, stored as PRE_ACTIVE).
    pub status: String,
    pub status_description: Option<String>,
}

/// The profile a wallet belongs to, when it was created by `client_profile_id`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountProfile {
    pub profile_id: String,
    pub client_profile_id: String,
    pub profile_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub account_id: String,
    pub account_number: String,
    pub account_name: String,
    pub account_type_code: String,
    pub currency: String,
    pub minimum_balance: String,
    pub can_overdraw: bool,
    pub status: &'static str,
    pub status_description: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub profile: Option<AccountProfile>,
    pub client: ClientRef,
    pub current_balance: String,
}

impl AccountView {
    pub fn of(a: &AccountDetails) -> Self {
        let d = &a.meta.data;
        AccountView {
            account_id: a.meta.account_id.to_string(),
            account_number: a.meta.account_number.clone(),
            account_name: d.account_name.clone(),
            account_type_code: d.account_type_code.clone(),
            currency: d.currency.to_string(),
            minimum_balance: money(d.minimum_balance.0),
            can_overdraw: d.can_overdraw,
            status: a.live.status.as_str(),
            status_description: d.status_description.as_deref().map(str::to_owned),
            created_at: timestamp(d.created_at_ms),
            updated_at: timestamp(a.meta.updated_at_ms.max(a.live.updated_at_ms)),
            profile: a.profile.as_ref().map(|p| AccountProfile {
                profile_id: p.profile_id.to_string(),
                client_profile_id: p.data.client_profile_id.clone(),
                profile_name: p.data.profile_name.clone(),
            }),
            client: ClientRef::of(&a.client),
            current_balance: money(a.live.balance),
        }
    }
}

/// The answer to a state command.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountStateView {
    pub account_number: String,
    pub status: &'static str,
    pub message: &'static str,
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts",
    tag = "accounts",
    request_body = AccountRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The wallet, with its account number", body = AccountView),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "Client, profile or wallet type not found", body = ErrorBody),
        (status = 409, description = "client_profile_id ambiguous for an ADMIN", body = ErrorBody),
    )
)]
pub async fn create(auth: AuthUser, JsonBody(body): JsonBody) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let mut f = Fields::new(&body);
    let owner = if f.has("client_profile_id") {
        AccountOwner::Profile {
            client_profile_id: f.required_text("client_profile_id"),
            client_code: f.optional_str("client_code"),
        }
    } else {
        AccountOwner::ClientCode(f.required_str("client_code"))
    };
    let account_type_code = f.required_str("account_type_code");
    let account_name = f.required_str("account_name");
    let currency = f.required_str("currency");
    // Both documents require `minimum_balance`. `can_overdraw` is optional in v1 and required
    // in v2, on the one route both use: left out, it is false.
    let minimum_balance = f.non_negative("minimum_balance", None);
    let can_overdraw = f.boolean("can_overdraw", Some(false));
    let status = match f.one_of("status", &CREATE_STATUSES, true) {
        Some("ACTIVE") => AccountStatus::Active,
        Some("DORMANT") => AccountStatus::Dormant,
        Some("SUSPENDED") => AccountStatus::Suspended,
        Some("CLOSED") => AccountStatus::Closed,
        _ => AccountStatus::PreActive,
    };
    let status_description = f.optional_str("status_description");
    f.finish()?;
    let input = AccountInput {
        owner,
        account_type_code,
        account_name,
        currency,
        minimum_balance,
        can_overdraw,
        status,
        status_description,
    };
    let details = auth.ledger.create_account(&auth.caller, input).await?;
    Ok((StatusCode::CREATED, Json(AccountView::of(&details))))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts",
    tag = "accounts",
    security(("bearer" = [])),
    params(
        ("page" = Option<u64>, Query, description = "Page, from 1"),
        ("limit" = Option<u64>, Query, description = "Records per page, at most 100"),
    ),
    responses(
        (status = 200, description = "Wallets the caller may see, oldest first", body = ListResponse<AccountView>),
        (status = 400, description = "Bad page or limit", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
pub async fn list(auth: AuthUser, Params(params): Params) -> Result<Json<ListResponse<AccountView>>, ApiError> {
    let page = page_request(&params)?;
    let accounts = auth.ledger.list_accounts(&auth.caller, page).await?;
    Ok(Json(ListResponse::from_page(accounts, |a| AccountView::of(&a))))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/account-number/{account_number}",
    tag = "accounts",
    security(("bearer" = [])),
    params(("account_number" = String, Path, description = "The wallet's account number")),
    responses(
        (status = 200, description = "The wallet with its balance", body = AccountView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "Account not found", body = ErrorBody),
    )
)]
pub async fn get(auth: AuthUser, PathParam(number): PathParam<String>) -> Result<Json<AccountView>, ApiError> {
    let details = auth.ledger.get_account(&auth.caller, &number).await?;
    Ok(Json(AccountView::of(&details)))
}

#[utoipa::path(
    post,
    path = "/api/v1/accounts/account-number/{account_number}",
    tag = "accounts",
    security(("bearer" = [])),
    params(
        ("account_number" = String, Path, description = "The wallet's account number"),
        ("command" = String, Query, description = "CLOSE, ACTIVATE, DORMANT or SUSPEND"),
    ),
    responses(
        (status = 200, description = "The wallet's new state", body = AccountStateView),
        (status = 400, description = "Bad command", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "Account not found", body = ErrorBody),
        (status = 409, description = "Closing a wallet with a balance, or a closed wallet", body = ErrorBody),
    )
)]
pub async fn command(
    auth: AuthUser,
    PathParam(number): PathParam<String>,
    Params(params): Params,
) -> Result<Json<AccountStateView>, ApiError> {
    let mut f = Fields::new(&params);
    let command = match f.one_of("command", &COMMANDS, true) {
        Some("CLOSE") => AccountCommand::Close,
        Some("DORMANT") => AccountCommand::Dormant,
        Some("SUSPEND") => AccountCommand::Suspend,
        _ => AccountCommand::Activate,
    };
    f.finish()?;
    let (meta, live) = auth.ledger.set_account_status(&auth.caller, &number, command).await?;
    Ok(Json(AccountStateView {
        account_number: meta.account_number.clone(),
        status: live.status.as_str(),
        message: "Account state updated successfully.",
    }))
}
