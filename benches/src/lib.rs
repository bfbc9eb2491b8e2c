//! Shared set-up for walletd's benchmarks: a ledger on a real data directory (durable:
//! every posting fsynced) with one client, a fee-free service and N funded wallets.

use rust_decimal::Decimal;
use walletd_engine::record::{AccountStatus, Role};
use walletd_engine::views::*;
use walletd_engine::{Ledger, LedgerConfig, SnapshotPolicy};

pub fn admin() -> Caller {
    Caller {
        username: "admin".into(),
        role: Role::Admin,
        client_id: None,
    }
}

pub struct BenchWorld {
    pub ledger: Ledger,
    pub service: String,
    pub wallets: Vec<String>,
}

/// Opens a ledger in `dir` with `wallets` wallets, each credited with `funds`, and as many
/// coordinators as `WALLETD_COORDINATORS` says (as the server's `--coordinators`), the
/// engine's default otherwise.
pub async fn world(dir: &std::path::Path, wallets: usize, funds: Decimal) -> BenchWorld {
    let mut config = LedgerConfig::new(dir);
    if let Some(n) = std::env::var("WALLETD_COORDINATORS").ok().and_then(|v| v.parse().ok()) {
        config.coordinators = n;
    }
    config.snapshot = SnapshotPolicy {
        every_records: 0,
        every: None,
    };
    let (ledger, _) = Ledger::open(config).await.expect("open ledger");
    let a = admin();
    let client = ledger
        .create_client(
            &a,
            ClientInput {
                client_name: "Bench".into(),
                is_active: true,
                ..Default::default()
            },
        )
        .await
        .expect("client");
    let code = client.data.client_code.clone();
    let (svc, _) = ledger
        .create_service(
            &a,
            ServiceInput {
                client_code: code.clone(),
                client_service_name: "Bench".into(),
                service_code: "CUSTOM_SERVICE".into(),
                has_transaction_fee: false,
                transaction_fee_type: None,
                transaction_fee: Decimal::ZERO,
                fee_tiers: vec![],
                minimum_transaction_amount: Decimal::new(1, 4),
                maximum_transaction_amount: Decimal::new(1_000_000_000, 0),
                is_active: true,
            },
        )
        .await
        .expect("service");
    let service = svc.data.client_service_code.clone();
    // Wallets are created many at a time, so their records share fsyncs (group commit).
    let mut numbers = vec![String::new(); if funds.is_zero() { 0 } else { wallets }];
    let mut next = 0;
    let mut creating = tokio::task::JoinSet::new();
    while next < wallets || !creating.is_empty() {
        while next < wallets && creating.len() < 256 {
            let (ledger, code, i) = (ledger.clone(), code.clone(), next);
            creating.spawn(async move {
                let input = AccountInput {
                    owner: AccountOwner::ClientCode(code),
                    account_type_code: "CURRENT_ACCOUNT".into(),
                    account_name: format!("W{i}"),
                    currency: "KES".into(),
                    minimum_balance: Decimal::ZERO,
                    can_overdraw: false,
                    status: AccountStatus::Active,
                    status_description: None,
                };
                (i, ledger.create_account(&admin(), input).await)
            });
            next += 1;
        }
        if let Some(done) = creating.join_next().await {
            let (i, acc) = done.expect("task");
            let number = acc.expect("wallet").meta.account_number.clone();
            if !funds.is_zero() {
                numbers[i] = number;
            }
        }
    }
    // Zero funds: the wallets stay idle (never posted to), as most wallets of a platform are,
    // and their numbers are not kept (the memory probe measures the ledger, not this list).
    if funds.is_zero() {
        numbers = Vec::new();
    }
    for (c, chunk) in numbers.chunks(1000).enumerate() {
        let credits = chunk
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let kind = PostingInputKind::Credit {
                    account_number: n.clone(),
                };
                posting(kind, &service, funds, format!("fund-{c}-{i}"))
            })
            .collect();
        for r in ledger.post_batch(&admin(), credits, false).await {
            r.expect("funding credit");
        }
    }
    BenchWorld {
        ledger,
        service,
        wallets: numbers,
    }
}

pub fn posting(kind: PostingInputKind, service: &str, amount: Decimal, key: String) -> PostingInput {
    PostingInput {
        kind,
        client_service_code: service.to_owned(),
        amount,
        transaction_source: "INTERNAL".into(),
        source_transaction_id: key,
        source_transaction_data: None,
        narration: None,
        transaction_date_ms: None,
    }
}

/// A small deterministic generator: benchmarks must not depend on thread_rng.
pub use walletd_wal::sim::SplitMix64;
