//! WAL records: every change the ledger makes is one of these, appended before it is
//! acknowledged and applied in log order, live and at replay alike.

use crate::codec::Money;
use crate::money::Currency;
use bincode::{Decode, Encode};

#[derive(Clone, Debug, Encode, Decode)]
pub enum Record {
    CreateClient(NewClient),
    CreateProfile(NewProfile),
    SetProfileActive {
        profile_id: u64,
        active: bool,
        at_ms: i64,
    },
    CreateAccountType(NewAccountType),
    CreateAccount(NewAccount),
    SetAccountStatus {
        account_id: u64,
        status: AccountStatus,
        at_ms: i64,
    },
    UpdateAccount(AccountUpdate),
    CreateService(NewService),
    CreateUser(NewUser),
    DeleteUser {
        username: String,
    },
    CreateApp(NewApp),
    Posting(PostingRecord),
    /// Postings made durable together (a batch): one frame, so all or none survive a crash.
    Batch(Vec<PostingRecord>),
}

#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct NewClient {
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
    pub is_active: bool,
    pub created_at_ms: i64,
}

#[derive(Clone, Copy, Debug, Encode, Decode, PartialEq, Eq)]
pub enum ProfileType {
    Business,
    Individual,
}

impl ProfileType {
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileType::Business => "BUSINESS",
            ProfileType::Individual => "INDIVIDUAL",
        }
    }
}

#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct NewProfile {
    pub client_id: u64,
    pub client_profile_id: String,
    pub profile_name: String,
    pub profile_type: ProfileType,
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
    pub created_at_ms: i64,
}

#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct NewAccountType {
    pub client_id: u64,
    pub account_type_code: String,
    pub account_type_name: String,
    pub account_type_description: Option<String>,
    pub is_active: bool,
    pub created_at_ms: i64,
}

#[derive(Clone, Copy, Debug, Encode, Decode, PartialEq, Eq, Hash)]
pub enum AccountStatus {
    PreActive,
    Active,
    Dormant,
    Suspended,
    Closed,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::PreActive => "PRE_ACTIVE",
            AccountStatus::Active => "ACTIVE",
            AccountStatus::Dormant => "DORMANT",
            AccountStatus::Suspended => "SUSPENDED",
            AccountStatus::Closed => "CLOSED",
        }
    }

    /// Only ACTIVE wallets may be debited.
    pub fn can_debit(self) -> bool {
        self == AccountStatus::Active
    }

    /// ACTIVE and DORMANT wallets may be credited.
    pub fn can_credit(self) -> bool {
        matches!(self, AccountStatus::Active | AccountStatus::Dormant)
    }
}

/// What an account is for: customer wallets, or the per-client, per-currency accounts the
/// ledger creates itself for the other side of EXTERNAL money and for fees.
#[derive(Clone, Copy, Debug, Encode, Decode, PartialEq, Eq, Hash)]
pub enum AccountRole {
    Wallet,
    Settlement,
    Commission,
}

#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct FacadeWallet {
    pub app_id: String,
    pub user_id: String,
    pub tuku_till_number: String,
    pub wallet_number: Option<u64>,
    pub verified: bool,
}

#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct NewAccount {
    pub client_id: u64,
    /// Profile ids start at 1; `NonZero` halves the field, which every wallet carries.
    pub profile_id: Option<std::num::NonZeroU64>,
    pub account_type_code: String,
    pub account_name: String,
    pub currency: Currency,
    pub minimum_balance: Money,
    pub can_overdraw: bool,
    pub status: AccountStatus,
    pub status_description: Option<Box<str>>,
    pub role: AccountRole,
    /// Set for facade wallets, whose number is derived from the app; otherwise the next
    /// number of the global sequence is given at apply time.
    pub number: Option<Box<str>>,
    /// Boxed: most wallets are not facade wallets, and an idle wallet's size is what a
    /// platform with millions of them pays (bincode encodes a box as its content).
    pub facade: Option<Box<FacadeWallet>>,
    pub created_at_ms: i64,
}

#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct AccountUpdate {
    pub account_id: u64,
    pub account_name: Option<String>,
    pub description: Option<String>,
    pub verified: Option<bool>,
    pub at_ms: i64,
}

#[derive(Clone, Copy, Debug, Encode, Decode, PartialEq, Eq)]
pub enum FeeType {
    Fixed,
    Percentage,
}

impl FeeType {
    pub fn as_str(self) -> &'static str {
        match self {
            FeeType::Fixed => "FIXED",
            FeeType::Percentage => "PERCENTAGE",
        }
    }
}

#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct FeeTier {
    pub min_amount: Money,
    pub max_amount: Money,
    pub fee_type: FeeType,
    pub fee: Money,
}

#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct NewService {
    pub client_id: u64,
    pub client_service_code: String,
    pub client_service_name: String,
    pub service_code: String,
    pub has_transaction_fee: bool,
    pub transaction_fee_type: Option<FeeType>,
    pub transaction_fee: Money,
    pub fee_tiers: Vec<FeeTier>,
    pub minimum_transaction_amount: Money,
    pub maximum_transaction_amount: Money,
    pub is_active: bool,
    pub created_at_ms: i64,
}

#[derive(Clone, Copy, Debug, Encode, Decode, PartialEq, Eq)]
pub enum Role {
    Admin,
    Client,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::Client => "CLIENT",
        }
    }
}

#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct NewUser {
    pub username: String,
    /// An argon2id PHC string; the password itself is never stored.
    pub password_hash: String,
    pub role: Role,
    pub client_id: Option<u64>,
    pub created_at_ms: i64,
}

#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct NewApp {
    pub app_id: String,
    pub app_prefix: String,
    pub client_id: u64,
    pub currency: Currency,
    pub created_at_ms: i64,
}

#[derive(Clone, Copy, Debug, Encode, Decode, PartialEq, Eq)]
pub enum PostingKind {
    Credit,
    Debit,
    Transfer,
    /// Reverses the posting whose first transaction id is given.
    Reversal {
        original: u64,
    },
}

impl PostingKind {
    pub fn is_reversal(self) -> bool {
        matches!(self, PostingKind::Reversal { .. })
    }
}

/// The part a leg plays in its posting; answers are shaped from it.
#[derive(Clone, Copy, Debug, Encode, Decode, PartialEq, Eq)]
pub enum LegRole {
    /// Money leaves this account (`source_transaction`).
    Source,
    /// Money arrives here (`destination_transaction`).
    Destination,
    /// The fee, on the commission account (`fee_transaction`).
    Fee,
}

#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct LegRecord {
    pub account_id: u64,
    /// Signed: negative takes money out of the account.
    pub delta: Money,
    pub role: LegRole,
    pub other_party: u64,
}

/// One double-entry posting. Its legs sum to zero; leg `i` has transaction id
/// `first_txn_id + i`. Ids and `posted_at_ms` are given by the WAL writer in log order.
#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct PostingRecord {
    pub kind: PostingKind,
    pub client_id: u64,
    pub service_id: u64,
    pub currency: Currency,
    pub first_txn_id: u64,
    pub posted_at_ms: i64,
    pub amount: Money,
    pub legs: Vec<LegRecord>,
    pub transaction_source: String,
    pub source_transaction_id: String,
    /// JSON text, kept verbatim (bincode cannot carry `serde_json::Value`).
    pub source_transaction_data: Option<String>,
    pub narration: Option<String>,
    pub transaction_date_ms: Option<i64>,
    /// Fingerprint of the request, to tell an idempotent replay from a reused id.
    pub fingerprint: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode, encode_to_vec};
    use rust_decimal::Decimal;

    fn kes() -> Currency {
        Currency::parse("KES").unwrap()
    }

    fn round_trip(r: Record) {
        let bytes = encode_to_vec(&r).unwrap();
        let back: Record = decode(&bytes).unwrap();
        assert_eq!(format!("{back:?}"), format!("{r:?}"));
    }

    #[test]
    fn every_record_type_round_trips() {
        let m = |s: &str| Money(s.parse::<Decimal>().unwrap());
        round_trip(Record::CreateClient(NewClient {
            client_code: "EML67BG6W1".into(),
            client_name: "Emlyn".into(),
            client_email: "e@x.io".into(),
            client_phone_number: "254712345678".into(),
            contact_person_name: "A".into(),
            contact_person_email: "a@x.io".into(),
            contact_person_msisdn: "2547".into(),
            business_pin: "P1".into(),
            physical_address: None,
            country: "Kenya".into(),
            logo: Some("https://l".into()),
            description: None,
            is_active: true,
            created_at_ms: 1,
        }));
        round_trip(Record::CreateProfile(NewProfile {
            client_id: 1,
            client_profile_id: "BRANCH1".into(),
            profile_name: "B".into(),
            profile_type: ProfileType::Individual,
            profile_email: "p@x".into(),
            profile_msisdn: "1".into(),
            contact_person_name: "c".into(),
            contact_person_email: "c@x".into(),
            contact_person_msisdn: "2".into(),
            identification_number: "3".into(),
            physical_address: "4".into(),
            country: "KE".into(),
            description: Some("d".into()),
            is_active: false,
            created_at_ms: 2,
        }));
        round_trip(Record::SetProfileActive {
            profile_id: 3,
            active: true,
            at_ms: 4,
        });
        round_trip(Record::CreateAccountType(NewAccountType {
            client_id: 1,
            account_type_code: "CUR1234567".into(),
            account_type_name: "Current".into(),
            account_type_description: None,
            is_active: true,
            created_at_ms: 5,
        }));
        round_trip(Record::CreateAccount(NewAccount {
            client_id: 1,
            profile_id: std::num::NonZeroU64::new(2),
            account_type_code: "FLOAT_ACCOUNT".into(),
            account_name: "Float".into(),
            currency: kes(),
            minimum_balance: m("0.1000"),
            can_overdraw: false,
            status: AccountStatus::PreActive,
            status_description: Some("x".into()),
            role: AccountRole::Wallet,
            number: Some("AAA254700123456".into()),
            facade: Some(Box::new(FacadeWallet {
                app_id: "app".into(),
                user_id: "u".into(),
                tuku_till_number: "00001".into(),
                wallet_number: Some(2),
                verified: false,
            })),
            created_at_ms: 6,
        }));
        round_trip(Record::SetAccountStatus {
            account_id: 9,
            status: AccountStatus::Closed,
            at_ms: 7,
        });
        round_trip(Record::UpdateAccount(AccountUpdate {
            account_id: 9,
            account_name: Some("n".into()),
            description: None,
            verified: Some(true),
            at_ms: 8,
        }));
        round_trip(Record::CreateService(NewService {
            client_id: 1,
            client_service_code: "PAY1CNAELX".into(),
            client_service_name: "Payout".into(),
            service_code: "CUSTOM_SERVICE".into(),
            has_transaction_fee: true,
            transaction_fee_type: Some(FeeType::Percentage),
            transaction_fee: m("4"),
            fee_tiers: vec![FeeTier {
                min_amount: m("1"),
                max_amount: m("100"),
                fee_type: FeeType::Fixed,
                fee: m("0.5"),
            }],
            minimum_transaction_amount: m("1"),
            maximum_transaction_amount: m("100000"),
            is_active: true,
            created_at_ms: 9,
        }));
        round_trip(Record::CreateUser(NewUser {
            username: "admin".into(),
            password_hash: "$argon2id$...".into(),
            role: Role::Admin,
            client_id: None,
            created_at_ms: 10,
        }));
        round_trip(Record::DeleteUser { username: "bob".into() });
        round_trip(Record::CreateApp(NewApp {
            app_id: "app123".into(),
            app_prefix: "AAA".into(),
            client_id: 1,
            currency: kes(),
            created_at_ms: 11,
        }));
        round_trip(Record::Posting(PostingRecord {
            kind: PostingKind::Reversal { original: 77 },
            client_id: 1,
            service_id: 2,
            currency: kes(),
            first_txn_id: 100,
            posted_at_ms: 12,
            amount: m("100.5"),
            legs: vec![
                LegRecord {
                    account_id: 1,
                    delta: m("-100.5"),
                    role: LegRole::Source,
                    other_party: 2,
                },
                LegRecord {
                    account_id: 2,
                    delta: m("96.5"),
                    role: LegRole::Destination,
                    other_party: 1,
                },
                LegRecord {
                    account_id: 3,
                    delta: m("4"),
                    role: LegRole::Fee,
                    other_party: 1,
                },
            ],
            transaction_source: "EXTERNAL".into(),
            source_transaction_id: "abc".into(),
            source_transaction_data: Some(r#"{"data":"test","n":0.1}"#.into()),
            narration: Some("Test".into()),
            transaction_date_ms: Some(13),
            fingerprint: 0xdead_beef,
        }));
    }
}
