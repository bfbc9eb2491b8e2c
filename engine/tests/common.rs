//! Shared set-up for the engine's integration tests: a ledger over an in-memory storage, with
//! one client, one service and a few wallets, driven as an ADMIN caller.

#![allow(dead_code)]

use rust_decimal::Decimal;
use std::sync::Arc;
use walletd_engine::record::{AccountStatus, FeeType, Role};
use walletd_engine::views::*;
use walletd_engine::{Ledger, LedgerConfig, SnapshotPolicy};
use walletd_wal::sim::SimStorage;

pub fn admin() -> Caller {
    Caller {
        username: "admin".into(),
        role: Role::Admin,
        client_id: None,
    }
}

pub fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

pub fn config(storage: &SimStorage, snapshot_every: u64) -> LedgerConfig {
    let mut c = LedgerConfig::new("/sim/data");
    c.storage = Arc::new(storage.clone());
    c.segment_bytes = 16 * 1024;
    c.snapshot = SnapshotPolicy {
        every_records: snapshot_every,
        every: None,
    };
    c.coordinators = 2;
    c
}

pub async fn open(storage: &SimStorage, snapshot_every: u64) -> Ledger {
    Ledger::open(config(storage, snapshot_every))
        .await
        .expect("ledger opens")
        .0
}

pub struct World {
    pub client_code: String,
    pub service_code: String,
    pub wallets: Vec<String>,
}

/// One client, a service with `fee` (fixed) and limits 0.0001..=1000000, and wallets with the
/// given (minimum balance, can_overdraw).
pub async fn setup(ledger: &Ledger, fee: &str, wallets: &[(&str, bool)]) -> World {
    let a = admin();
    let client = ledger
        .create_client(
            &a,
            ClientInput {
                client_name: "Model Co".into(),
                is_active: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let code = client.data.client_code.clone();
    let fee = d(fee);
    let (svc, _) = ledger
        .create_service(
            &a,
            ServiceInput {
                client_code: code.clone(),
                client_service_name: "Model service".into(),
                service_code: "CUSTOM_SERVICE".into(),
                has_transaction_fee: !fee.is_zero(),
                transaction_fee_type: Some(FeeType::Fixed),
                transaction_fee: fee,
                fee_tiers: vec![],
                minimum_transaction_amount: d("0.0001"),
                maximum_transaction_amount: d("1000000"),
                is_active: true,
            },
        )
        .await
        .unwrap();
    let mut numbers = Vec::new();
    for (i, (min, overdraw)) in wallets.iter().enumerate() {
        let acc = ledger
            .create_account(
                &a,
                AccountInput {
                    owner: AccountOwner::ClientCode(code.clone()),
                    account_type_code: "CURRENT_ACCOUNT".into(),
                    account_name: format!("Wallet {i}"),
                    currency: "KES".into(),
                    minimum_balance: d(min),
                    can_overdraw: *overdraw,
                    status: AccountStatus::Active,
                    status_description: None,
                },
            )
            .await
            .unwrap();
        numbers.push(acc.meta.account_number.clone());
    }
    World {
        client_code: code,
        service_code: svc.data.client_service_code.clone(),
        wallets: numbers,
    }
}

pub fn posting(kind: PostingInputKind, service: &str, amount: Decimal, key: &str) -> PostingInput {
    PostingInput {
        kind,
        client_service_code: service.into(),
        amount,
        transaction_source: "EXTERNAL".into(),
        source_transaction_id: key.into(),
        source_transaction_data: Some(r#"{"data":"test"}"#.into()),
        narration: Some("model".into()),
        transaction_date_ms: None,
    }
}

/// Every account's (number, balance) and the ledger's total, which must be zero.
pub async fn balances(ledger: &Ledger) -> (Vec<(String, Decimal)>, Decimal) {
    let page = ledger
        .list_accounts(
            &admin(),
            PageRequest {
                page: 1,
                limit: 100_000,
            },
        )
        .await
        .unwrap();
    let all: Vec<(String, Decimal)> = page
        .records
        .iter()
        .map(|a| (a.meta.account_number.clone(), a.live.balance))
        .collect();
    let total = all.iter().map(|(_, b)| *b).sum();
    (all, total)
}

/// A CREDIT of `amount` to wallet `a`.
pub fn credit(w: &World, a: usize, amount: &str, key: &str) -> PostingInput {
    posting(
        PostingInputKind::Credit {
            account_number: w.wallets[a].clone(),
        },
        &w.service_code,
        d(amount),
        key,
    )
}

/// A transfer of `amount` from wallet `a` to wallet `b`.
pub fn transfer(w: &World, a: usize, b: usize, amount: &str, key: &str) -> PostingInput {
    posting(
        PostingInputKind::Transfer {
            source_account_number: w.wallets[a].clone(),
            destination_account_number: w.wallets[b].clone(),
        },
        &w.service_code,
        d(amount),
        key,
    )
}

/// Wallet `n`'s balance.
pub async fn balance(ledger: &Ledger, n: &str) -> Decimal {
    ledger.get_account(&admin(), n).await.unwrap().live.balance
}
