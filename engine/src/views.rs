//! What the engine's public handle takes and gives: plain inputs (already parsed from the
//! wire by the API, but not yet judged) and read models. No HTTP here.

use crate::account::AccountView;
use crate::catalog::{AccountMeta, App, Client, Profile};
use crate::money::Currency;
use crate::record::{AccountStatus, FeeType, LegRole, PostingKind, ProfileType, Role};
use rust_decimal::Decimal;
use std::sync::Arc;

/// Who is asking. A CLIENT caller sees only its own client's objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub username: String,
    pub role: Role,
    pub client_id: Option<u64>,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// `page` starts at 1; `limit` is already clamped to 1..=100 by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u64,
    pub limit: u64,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest { page: 1, limit: 10 }
    }
}

#[derive(Clone, Debug)]
pub struct Page<T> {
    pub page: u64,
    pub total_count: u64,
    /// (name, count) pairs, as the documents' `statistics`.
    pub statistics: Vec<(String, u64)>,
    pub records: Vec<T>,
}

#[derive(Clone, Debug, Default)]
pub struct ClientInput {
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
    pub is_active: bool,
}

#[derive(Clone, Debug)]
pub struct ProfileInput {
    pub client_code: String,
    pub profile_name: String,
    pub profile_type: ProfileType,
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
    pub is_active: bool,
}

#[derive(Clone, Debug)]
pub struct AccountTypeInput {
    pub client_code: String,
    pub account_type_name: String,
    pub account_type_description: Option<String>,
    pub is_active: bool,
}

/// Where a new wallet belongs: v1 names the client, v2 the profile.
#[derive(Clone, Debug)]
pub enum AccountOwner {
    ClientCode(String),
    /// The profile's `client_profile_id`; `client_code` picks the client for an ADMIN.
    Profile {
        client_profile_id: String,
        client_code: Option<String>,
    },
}

#[derive(Clone, Debug)]
pub struct AccountInput {
    pub owner: AccountOwner,
    pub account_type_code: String,
    pub account_name: String,
    /// Text as given; judged by the engine (ISO 4217).
    pub currency: String,
    pub minimum_balance: Decimal,
    pub can_overdraw: bool,
    pub status: AccountStatus,
    pub status_description: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountCommand {
    Activate,
    Close,
    Dormant,
    Suspend,
}

impl AccountCommand {
    pub fn target(self) -> AccountStatus {
        match self {
            AccountCommand::Activate => AccountStatus::Active,
            AccountCommand::Close => AccountStatus::Closed,
            AccountCommand::Dormant => AccountStatus::Dormant,
            AccountCommand::Suspend => AccountStatus::Suspended,
        }
    }
}

#[derive(Clone, Debug)]
pub struct FeeTierInput {
    pub min_amount: Decimal,
    pub max_amount: Decimal,
    pub fee_type: FeeType,
    pub fee: Decimal,
}

#[derive(Clone, Debug)]
pub struct ServiceInput {
    pub client_code: String,
    pub client_service_name: String,
    pub service_code: String,
    pub has_transaction_fee: bool,
    pub transaction_fee_type: Option<FeeType>,
    pub transaction_fee: Decimal,
    pub fee_tiers: Vec<FeeTierInput>,
    pub minimum_transaction_amount: Decimal,
    pub maximum_transaction_amount: Decimal,
    pub is_active: bool,
}

#[derive(Clone, Debug)]
pub struct UserInput {
    pub username: String,
    pub password: String,
    pub client_code: Option<String>,
    pub role: Role,
}

/// A CREDIT, DEBIT or transfer as the client sent it.
#[derive(Clone, Debug, PartialEq)]
pub struct PostingInput {
    pub kind: PostingInputKind,
    pub client_service_code: String,
    pub amount: Decimal,
    pub transaction_source: String,
    pub source_transaction_id: String,
    /// JSON text of `source_transaction_data`, verbatim.
    pub source_transaction_data: Option<String>,
    pub narration: Option<String>,
    pub transaction_date_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PostingInputKind {
    Credit {
        account_number: String,
    },
    Debit {
        account_number: String,
    },
    Transfer {
        source_account_number: String,
        destination_account_number: String,
    },
}

/// One leg as the documents show a transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct TransactionView {
    pub transaction_id: u64,
    pub account_number: String,
    pub client_service_code: String,
    /// "CREDIT" or "DEBIT": the sign of the leg.
    pub transaction_type: &'static str,
    pub currency: Currency,
    pub amount: Decimal,
    pub previous_balance: Decimal,
    pub current_balance: Decimal,
    pub other_party_account: String,
    pub transaction_source: String,
    pub source_transaction_id: String,
    pub source_transaction_data: Option<String>,
    pub narration: Option<String>,
    /// As given by the client (or the posting time), normalised to UTC.
    pub transaction_date_ms: i64,
    /// The server's posting time, which date filters and statements use.
    pub posted_at_ms: i64,
    pub role: LegRole,
    pub posting_kind: PostingKind,
}

/// The answer to a posting: its legs by role. `replayed` is true for an idempotent replay.
#[derive(Clone, Debug, PartialEq)]
pub struct PostingOutcome {
    pub kind: PostingKind,
    pub source: TransactionView,
    pub destination: TransactionView,
    pub fee: Option<TransactionView>,
    pub replayed: bool,
}

impl PostingOutcome {
    /// The leg a CREDIT or DEBIT answers with: the customer wallet's.
    pub fn wallet_leg(&self) -> &TransactionView {
        match self.kind {
            PostingKind::Credit => &self.destination,
            _ => &self.source,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct TransactionFilter {
    pub account_number: Option<String>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// "CREDIT" or "DEBIT".
    pub transaction_type: Option<&'static str>,
    pub source_transaction_id: Option<String>,
    /// ADMIN only: restrict to one client.
    pub client_code: Option<String>,
}

/// A wallet with its live balance and status.
#[derive(Clone, Debug)]
pub struct AccountDetails {
    pub meta: Arc<AccountMeta>,
    pub live: AccountView,
    pub client: Arc<Client>,
    pub profile: Option<Arc<Profile>>,
}

#[derive(Clone, Debug)]
pub struct ProfileDetails {
    pub profile: Arc<Profile>,
    pub client: Arc<Client>,
    pub accounts: Vec<AccountDetails>,
}

#[derive(Clone, Debug)]
pub struct Statement {
    pub account: AccountDetails,
    pub start_ms: i64,
    pub end_ms: i64,
    pub opening_balance: Decimal,
    pub closing_balance: Decimal,
    /// Oldest first.
    pub rows: Vec<TransactionView>,
}

#[derive(Clone, Debug)]
pub struct AppInput {
    pub app_id: String,
    pub app_prefix: String,
    pub client_code: String,
    /// Default KES.
    pub currency: Option<String>,
}

#[derive(Clone, Debug)]
pub struct FacadeWalletInput {
    pub app_id: String,
    pub user_id: String,
    pub name: String,
    pub description: Option<String>,
    pub tuku_till_number: String,
    pub wallet_number: Option<u64>,
    pub verified: bool,
}

#[derive(Clone, Debug)]
pub struct FacadeUpdateInput {
    pub app_id: String,
    pub account_number: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub verified: Option<bool>,
}

/// A facade wallet as its document shows it.
#[derive(Clone, Debug)]
pub struct FacadeWalletView {
    pub account_number: String,
    pub app_prefix: String,
    pub tuku_till_number: String,
    pub wallet_number: Option<u64>,
    pub name: String,
    pub description: Option<String>,
    pub current_balance: Decimal,
    pub status: AccountStatus,
    pub verified: bool,
    pub user_id: String,
}

pub type AppView = Arc<App>;
