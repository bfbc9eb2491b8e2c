//! Client profiles (v2): `POST /api/v1/profiles`,
//! `GET /api/v1/client-profiles/client-profile-id/{client_profile_id}` and
//! `POST /api/v1/profiles/client-profile-id/{client_profile_id}?command=ACTIVATE|DEACTIVATE`.
//! A `client_profile_id` is unique per client: an ADMIN may add `client_code` (query or body)
//! to say which client's profile it means.

use super::accounts::AccountView;
use super::{ClientRef, flag, timestamp};
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::json::{Fields, JsonBody, Params, PathParam};
use axum::Json;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use walletd_engine::catalog::{Client, Profile};
use walletd_engine::record::ProfileType;
use walletd_engine::views::ProfileInput;

/// `POST /api/v1/profiles` body.
#[derive(Debug, ToSchema)]
pub struct ProfileRequest {
    pub client_code: String,
    pub profile_name: String,
    /// `BUSINESS` or `INDIVIDUAL`.
    pub profile_type: String,
    /// Chosen by the caller; unique within the client.
    pub client_profile_id: String,
    pub profile_email: String,
    pub profile_msisdn: String,
    pub contact_person_name: String,
    pub contact_person_email: String,
    pub contact_person_msisdn: String,
    pub identification_number: String,
    pub physical_address: String,
    pub country: String,
    pub description: Option<String>,
    /// 1 or 0 (number or string).
    #[schema(value_type = u8)]
    pub is_active: u8,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    pub profile_id: String,
    pub client_profile_id: String,
    pub profile_name: String,
    pub profile_type: &'static str,
    pub profile_email: String,
    pub profile_msisdn: String,
    pub contact_person_name: String,
    pub contact_person_email: String,
    pub contact_person_msisdn: String,
    pub identification_number: String,
    pub physical_address: String,
    pub country: String,
    pub description: Option<String>,
    pub is_active: u8,
    pub created_at: String,
    pub updated_at: String,
    pub client: ClientRef,
}

impl ProfileView {
    pub fn of(p: &Profile, client: &Client) -> Self {
        let d = &p.data;
        ProfileView {
            profile_id: p.profile_id.to_string(),
            client_profile_id: d.client_profile_id.clone(),
            profile_name: d.profile_name.clone(),
            profile_type: d.profile_type.as_str(),
            profile_email: d.profile_email.clone(),
            profile_msisdn: d.profile_msisdn.clone(),
            contact_person_name: d.contact_person_name.clone(),
            contact_person_email: d.contact_person_email.clone(),
            contact_person_msisdn: d.contact_person_msisdn.clone(),
            identification_number: d.identification_number.clone(),
            physical_address: d.physical_address.clone(),
            country: d.country.clone(),
            description: d.description.clone(),
            is_active: flag(p.active),
            created_at: timestamp(d.created_at_ms),
            updated_at: timestamp(p.updated_at_ms),
            client: ClientRef::of(client),
        }
    }
}

/// A profile with its wallets and their balances.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileDetailsView {
    #[serde(flatten)]
    pub profile: ProfileView,
    pub accounts: Vec<AccountView>,
}

/// The answer to a profile command.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileStateView {
    /// The profile's `profile_id`.
    pub id: String,
    /// `ACTIVE` or `INACTIVE`.
    pub status: &'static str,
    pub message: &'static str,
}

#[utoipa::path(
    post,
    path = "/api/v1/profiles",
    tag = "profiles",
    request_body = ProfileRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The profile", body = ProfileView),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "Client not found", body = ErrorBody),
        (status = 409, description = "client_profile_id already exists in this client", body = ErrorBody),
    )
)]
pub async fn create(auth: AuthUser, JsonBody(body): JsonBody) -> Result<(StatusCode, Json<ProfileView>), ApiError> {
    let mut f = Fields::new(&body);
    let client_code = f.required_str("client_code");
    let profile_name = f.required_str("profile_name");
    let profile_type = match f.one_of("profile_type", &["BUSINESS", "INDIVIDUAL"], true) {
        Some("INDIVIDUAL") => ProfileType::Individual,
        _ => ProfileType::Business,
    };
    let input = ProfileInput {
        client_code,
        profile_name,
        profile_type,
        client_profile_id: f.required_text("client_profile_id"),
        profile_email: f.required_str("profile_email"),
        profile_msisdn: f.required_text("profile_msisdn"),
        contact_person_name: f.required_str("contact_person_name"),
        contact_person_email: f.required_str("contact_person_email"),
        contact_person_msisdn: f.required_text("contact_person_msisdn"),
        identification_number: f.required_text("identification_number"),
        physical_address: f.required_str("physical_address"),
        country: f.required_str("country"),
        description: f.optional_str("description"),
        is_active: f.flag("is_active", None),
    };
    f.finish()?;
    let (profile, client) = auth.ledger.create_profile(&auth.caller, input).await?;
    Ok((StatusCode::CREATED, Json(ProfileView::of(&profile, &client))))
}

#[utoipa::path(
    get,
    path = "/api/v1/client-profiles/client-profile-id/{client_profile_id}",
    tag = "profiles",
    security(("bearer" = [])),
    params(
        ("client_profile_id" = String, Path, description = "The caller's id of the profile"),
        ("client_code" = Option<String>, Query, description = "ADMIN: the client whose profile is meant"),
    ),
    responses(
        (status = 200, description = "The profile with its wallets", body = ProfileDetailsView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "Profile not found", body = ErrorBody),
        (status = 409, description = "Ambiguous for an ADMIN without client_code", body = ErrorBody),
    )
)]
pub async fn get(
    auth: AuthUser,
    PathParam(reference): PathParam<String>,
    Params(params): Params,
) -> Result<Json<ProfileDetailsView>, ApiError> {
    let mut f = Fields::new(&params);
    let client_code = f.optional_str("client_code");
    f.finish()?;
    let details = auth
        .ledger
        .get_profile(&auth.caller, &reference, client_code.as_deref())
        .await?;
    Ok(Json(ProfileDetailsView {
        profile: ProfileView::of(&details.profile, &details.client),
        accounts: details.accounts.iter().map(AccountView::of).collect(),
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/profiles/client-profile-id/{client_profile_id}",
    tag = "profiles",
    security(("bearer" = [])),
    params(
        ("client_profile_id" = String, Path, description = "The caller's id of the profile"),
        ("command" = String, Query, description = "ACTIVATE or DEACTIVATE"),
        ("client_code" = Option<String>, Query, description = "ADMIN: the client whose profile is meant"),
    ),
    responses(
        (status = 200, description = "The profile's new state", body = ProfileStateView),
        (status = 400, description = "Bad command", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "Profile not found", body = ErrorBody),
    )
)]
pub async fn command(
    auth: AuthUser,
    PathParam(reference): PathParam<String>,
    Params(params): Params,
) -> Result<Json<ProfileStateView>, ApiError> {
    let mut f = Fields::new(&params);
    let command = f.one_of("command", &["ACTIVATE", "DEACTIVATE"], true);
    let client_code = f.optional_str("client_code");
    f.finish()?;
    let active = command == Some("ACTIVATE");
    let profile = auth
        .ledger
        .set_profile_active(&auth.caller, &reference, client_code.as_deref(), active)
        .await?;
    Ok(Json(ProfileStateView {
        id: profile.profile_id.to_string(),
        status: if profile.active { "ACTIVE" } else { "INACTIVE" },
        message: "Profile state updated successfully.",
    }))
}
