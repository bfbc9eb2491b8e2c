//! The sub-wallets facade (`sub-wallets-api.txt`): `POST /api/apps` (ADMIN) approves a partner
//! app with a 3-letter prefix; `POST /api/wallets/create`, `GET /api/wallets/get`,
//! `PUT /api/wallets/update` and `DELETE /api/wallets/delete` manage its wallets, which are
//! ordinary ledger wallets. This facade answers in its own document's shape: camelCase fields,
//! `{"status":"success",...}` or `{"status":"error","message":...}`, lowercase wallet statuses,
//! and `currentBalance` as a JSON number written exactly from the decimal (`15000`, `12.5`).

use crate::auth::AuthUser;
use crate::error::{ApiError, FacadeError, FacadeErrorBody};
use crate::json::{Fields, JsonBody, Params};
use axum::Json;
use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Number;
use utoipa::ToSchema;
use walletd_engine::views::{AppInput, FacadeUpdateInput, FacadeWalletInput, FacadeWalletView};

/// A decimal as a JSON number with exactly its digits (no `f64` on the way): trailing zeros
/// are dropped, so 15000.0000 is `15000` and 12.5000 is `12.5`.
pub fn exact_number(d: Decimal) -> Number {
    d.normalize()
        .to_string()
        .parse::<Number>()
        .unwrap_or_else(|_| Number::from(0))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FacadeWallet {
    pub account_number: String,
    pub app_prefix: String,
    pub tuku_till_number: String,
    /// Organisation wallets only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wallet_number: Option<u64>,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = f64)]
    pub current_balance: Number,
    /// Lowercase: `active`, `pre_active`, `dormant`, `suspended`, `closed`.
    pub status: String,
    pub verified: bool,
    pub user_id: String,
}

impl FacadeWallet {
    pub fn of(w: &FacadeWalletView) -> Self {
        FacadeWallet {
            account_number: w.account_number.clone(),
            app_prefix: w.app_prefix.clone(),
            tuku_till_number: w.tuku_till_number.clone(),
            wallet_number: w.wallet_number,
            name: w.name.clone(),
            description: w.description.clone(),
            current_balance: exact_number(w.current_balance),
            status: w.status.as_str().to_ascii_lowercase(),
            verified: w.verified,
            user_id: w.user_id.clone(),
        }
    }
}

/// Create, update and delete answer with the wallet.
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletAnswer {
    /// `success`.
    pub status: &'static str,
    pub message: &'static str,
    pub wallet: FacadeWallet,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WalletList {
    /// `success`.
    pub status: &'static str,
    pub wallets: Vec<FacadeWallet>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppView {
    #[serde(rename = "appId")]
    pub app_id: String,
    #[serde(rename = "appPrefix")]
    pub app_prefix: String,
    pub client_code: String,
    pub currency: String,
    #[serde(rename = "createdAt")]
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppAnswer {
    /// `success`.
    pub status: &'static str,
    pub message: &'static str,
    pub app: AppView,
}

/// `POST /api/apps` body.
#[derive(Debug, ToSchema)]
pub struct AppRequest {
    #[schema(rename = "appId")]
    pub app_id: String,
    /// Three uppercase letters, unique.
    #[schema(rename = "appPrefix")]
    pub app_prefix: String,
    pub client_code: String,
    /// ISO 4217; default KES.
    pub currency: Option<String>,
}

/// `POST /api/wallets/create` body: an organisation wallet when `walletNumber` is given.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct CreateWalletRequest {
    pub app_id: String,
    pub user_id: String,
    pub name: String,
    pub description: Option<String>,
    pub tuku_till_number: String,
    pub wallet_number: Option<u64>,
    /// false (default) creates the wallet PRE_ACTIVE.
    pub verified: Option<bool>,
}

/// `PUT /api/wallets/update` body.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct UpdateWalletRequest {
    pub app_id: String,
    pub account_number: String,
    pub name: Option<String>,
    pub description: Option<String>,
    /// true activates a PRE_ACTIVE wallet.
    pub verified: Option<bool>,
}

/// `DELETE /api/wallets/delete` body (or query string).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct DeleteWalletRequest {
    pub app_id: String,
    pub account_number: String,
}

#[utoipa::path(
    post,
    path = "/api/apps",
    tag = "sub-wallets",
    request_body = AppRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The approved app", body = AppAnswer),
        (status = 400, description = "Invalid body", body = FacadeErrorBody),
        (status = 401, description = "No valid token", body = FacadeErrorBody),
        (status = 403, description = "Not an ADMIN", body = FacadeErrorBody),
        (status = 404, description = "Client not found", body = FacadeErrorBody),
        (status = 409, description = "appId or appPrefix taken", body = FacadeErrorBody),
    )
)]
pub async fn create_app(
    auth: Result<AuthUser, ApiError>,
    body: Result<JsonBody, ApiError>,
) -> Result<(StatusCode, Json<AppAnswer>), FacadeError> {
    let auth = auth?;
    auth.require_admin()?;
    let JsonBody(body) = body?;
    let mut f = Fields::new(&body);
    let input = AppInput {
        app_id: f.required_text("appId"),
        app_prefix: f.required_str("appPrefix"),
        client_code: f.required_str("client_code"),
        currency: f.optional_str("currency"),
    };
    f.finish()?;
    let (app, client) = auth.ledger.create_app(&auth.caller, input).await?;
    let view = AppView {
        app_id: app.data.app_id.clone(),
        app_prefix: app.data.app_prefix.clone(),
        client_code: client.data.client_code.clone(),
        currency: app.data.currency.to_string(),
        created_at: super::timestamp(app.data.created_at_ms),
    };
    Ok((
        StatusCode::CREATED,
        Json(AppAnswer {
            status: "success",
            message: "App created successfully.",
            app: view,
        }),
    ))
}

#[utoipa::path(
    post,
    path = "/api/wallets/create",
    tag = "sub-wallets",
    request_body = CreateWalletRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The wallet", body = WalletAnswer),
        (status = 400, description = "Invalid body", body = FacadeErrorBody),
        (status = 401, description = "No valid token", body = FacadeErrorBody),
        (status = 404, description = "App not found", body = FacadeErrorBody),
        (status = 409, description = "Account number taken", body = FacadeErrorBody),
    )
)]
pub async fn create(
    auth: Result<AuthUser, ApiError>,
    body: Result<JsonBody, ApiError>,
) -> Result<(StatusCode, Json<WalletAnswer>), FacadeError> {
    let auth = auth?;
    let JsonBody(body) = body?;
    let mut f = Fields::new(&body);
    let input = FacadeWalletInput {
        app_id: f.required_text("appId"),
        user_id: f.required_text("userId"),
        name: f.required_str("name"),
        description: f.optional_str("description"),
        tuku_till_number: f.required_text("tukuTillNumber"),
        wallet_number: if f.has("walletNumber") {
            Some(f.positive_int("walletNumber", None))
        } else {
            None
        },
        verified: f.boolean("verified", Some(false)),
    };
    f.finish()?;
    let wallet = auth.ledger.facade_create(&auth.caller, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(WalletAnswer {
            status: "success",
            message: "Wallet created successfully.",
            wallet: FacadeWallet::of(&wallet),
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/wallets/get",
    tag = "sub-wallets",
    security(("bearer" = [])),
    params(
        ("appId" = String, Query, description = "The app (or in a JSON body)"),
        ("userId" = String, Query, description = "The partner's user id (or in a JSON body)"),
    ),
    responses(
        (status = 200, description = "The user's wallets in this app", body = WalletList),
        (status = 400, description = "Missing appId or userId", body = FacadeErrorBody),
        (status = 401, description = "No valid token", body = FacadeErrorBody),
        (status = 404, description = "App not found", body = FacadeErrorBody),
    )
)]
pub async fn list(
    auth: Result<AuthUser, ApiError>,
    params: Result<Params, ApiError>,
) -> Result<Json<WalletList>, FacadeError> {
    let auth = auth?;
    let Params(params) = params?;
    let mut f = Fields::new(&params);
    let app_id = f.required_text("appId");
    let user_id = f.required_text("userId");
    f.finish()?;
    let wallets = auth.ledger.facade_list(&auth.caller, &app_id, &user_id).await?;
    Ok(Json(WalletList {
        status: "success",
        wallets: wallets.iter().map(FacadeWallet::of).collect(),
    }))
}

#[utoipa::path(
    put,
    path = "/api/wallets/update",
    tag = "sub-wallets",
    request_body = UpdateWalletRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated wallet", body = WalletAnswer),
        (status = 400, description = "Invalid body", body = FacadeErrorBody),
        (status = 401, description = "No valid token", body = FacadeErrorBody),
        (status = 404, description = "App or wallet not found", body = FacadeErrorBody),
    )
)]
pub async fn update(
    auth: Result<AuthUser, ApiError>,
    body: Result<JsonBody, ApiError>,
) -> Result<Json<WalletAnswer>, FacadeError> {
    let auth = auth?;
    let JsonBody(body) = body?;
    let mut f = Fields::new(&body);
    let input = FacadeUpdateInput {
        app_id: f.required_text("appId"),
        account_number: f.required_text("accountNumber"),
        name: f.optional_str("name"),
        description: f.optional_str("description"),
        verified: if f.has("verified") {
            Some(f.boolean("verified", None))
        } else {
            None
        },
    };
    f.finish()?;
    let wallet = auth.ledger.facade_update(&auth.caller, input).await?;
    Ok(Json(WalletAnswer {
        status: "success",
        message: "Wallet updated successfully.",
        wallet: FacadeWallet::of(&wallet),
    }))
}

#[utoipa::path(
    delete,
    path = "/api/wallets/delete",
    tag = "sub-wallets",
    request_body = DeleteWalletRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The wallet, now closed (its history is kept)", body = WalletAnswer),
        (status = 400, description = "Invalid body", body = FacadeErrorBody),
        (status = 401, description = "No valid token", body = FacadeErrorBody),
        (status = 404, description = "App or wallet not found", body = FacadeErrorBody),
        (status = 409, description = "The wallet's balance is not zero", body = FacadeErrorBody),
    )
)]
pub async fn delete(
    auth: Result<AuthUser, ApiError>,
    params: Result<Params, ApiError>,
) -> Result<Json<WalletAnswer>, FacadeError> {
    let auth = auth?;
    let Params(params) = params?;
    let mut f = Fields::new(&params);
    let app_id = f.required_text("appId");
    let account_number = f.required_text("accountNumber");
    f.finish()?;
    let wallet = auth
        .ledger
        .facade_delete(&auth.caller, &app_id, &account_number)
        .await?;
    Ok(Json(WalletAnswer {
        status: "success",
        message: "Wallet deleted successfully.",
        wallet: FacadeWallet::of(&wallet),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn balances_are_exact_json_numbers() {
        let n = |s: &str| serde_json::to_string(&exact_number(Decimal::from_str(s).unwrap())).unwrap();
        assert_eq!(n("15000.0000"), "15000");
        assert_eq!(n("12.5000"), "12.5");
        assert_eq!(n("0.0000"), "0");
        assert_eq!(n("0.0001"), "0.0001");
        assert_eq!(n("999999999999.9999"), "999999999999.9999");
    }
}
