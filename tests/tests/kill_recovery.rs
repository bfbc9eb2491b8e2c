//! The real `walletd`, killed with SIGKILL at random moments while concurrent transfers run,
//! restarted on the same data directory each time: every acknowledged posting is present
//! exactly once with the balances it was acknowledged with, and the ledger's total is zero.

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use walletd_tests::{Api, Server};

/// (source txn id, destination txn id, source leg body, destination leg body)
type Acked = HashMap<String, (String, Value, Value)>;

async fn total_of_all_balances(api: &Api) -> rust_decimal::Decimal {
    let mut total = rust_decimal::Decimal::ZERO;
    let mut page = 1;
    loop {
        let r = api.get(&format!("/api/v1/accounts?page={page}&limit=100")).await;
        let body = r.expect(200);
        let records = body["records"].as_array().unwrap().clone();
        for r in &records {
            total += r["current_balance"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap();
        }
        if records.len() < 100 {
            return total;
        }
        page += 1;
    }
}

/// Every acknowledged transfer is present exactly once; for `sample` of them (all when None)
/// each leg is read back and must show the balances it was acknowledged with.
async fn check_acked(api: &Api, acked: &Acked, sample: Option<usize>) {
    let full = sample.unwrap_or(usize::MAX);
    for (n, (sti, (_, src, dst))) in acked.iter().enumerate() {
        let r = api
            .get(&format!("/api/v1/transactions?source_transaction_id={sti}&limit=100"))
            .await;
        let body = r.expect(200);
        let records = body["records"].as_array().unwrap();
        assert_eq!(
            records.len(),
            2,
            "acknowledged {sti} must be present exactly once: {body}"
        );
        if n >= full {
            continue;
        }
        for leg in [src, dst] {
            let id = leg["transaction_id"].as_str().unwrap();
            let r = api.get(&format!("/api/v1/transactions/{id}")).await;
            let got = r.expect(200);
            for field in [
                "account",
                "transaction_amount",
                "previous_balance",
                "current_balance",
                "transaction_type",
            ] {
                assert_eq!(
                    got[field], leg[field],
                    "{sti} leg {id}: {field} changed across the crash"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_at_random_moments_loses_no_acknowledged_posting() {
    let seed: u64 = std::env::var("WALLETD_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let cycles: usize = std::env::var("WALLETD_KILL_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    eprintln!("kill test seed={seed} (replay with WALLETD_KILL_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    // Small snapshot interval so recoveries go through snapshot + suffix too.
    let args = ["--snapshot-every-records", "150"];
    let server = Server::start_with(dir.path(), &args).unwrap();
    let api = Api::admin(&server.base).await;
    let client = api
        .post(
            "/api/v1/clients",
            json!({"client_name": "Crash Co", "client_email": "c@x.io", "client_phone_number": "254700000000",
                   "contact_person_name": "C", "contact_person_email": "c@x.io", "contact_person_msisdn": "254700000000",
                   "business_pin": "P1", "country": "Kenya", "is_active": 1}),
        )
        .await.expect(201).clone();
    let code = client["client_code"].as_str().unwrap().to_owned();
    let svc = api
        .post(
            "/api/v1/client-services",
            json!({"client_code": code, "client_service_name": "Transfers", "service_code": "CUSTOM_SERVICE",
                   "has_transaction_fee": false, "minimum_transaction_amount": 0.01, "maximum_transaction_amount": 100000, "is_active": 1}),
        )
        .await.expect(201).clone();
    let svc = svc["client_service_code"].as_str().unwrap().to_owned();
    let mut wallets = Vec::new();
    for i in 0..8 {
        let w = api
            .post(
                "/api/v1/accounts",
                json!({"client_code": code, "account_type_code": "CURRENT_ACCOUNT", "account_name": format!("W{i}"),
                       "currency": "KES", "minimum_balance": 0, "can_overdraw": false, "status": "ACTIVE"}),
            )
            .await
            .expect(201)
            .clone();
        let n = w["account_number"].as_str().unwrap().to_owned();
        api.post(
            "/api/v1/transactions?command=CREDIT",
            json!({"account_number": n, "client_service_code": svc, "transaction_source": "EXTERNAL",
                       "transaction_amount": "10000", "source_transaction_id": format!("fund-{i}")}),
        )
        .await
        .expect(200);
        wallets.push(n);
    }
    let mut server = Some(server);
    let mut all_acked: Acked = HashMap::new();
    let mut last_acked: Acked = HashMap::new();
    for cycle in 0..cycles {
        let srv = match server.take() {
            Some(s) => s,
            None => Server::start_with(dir.path(), &args).unwrap(),
        };
        let api = Arc::new(Api::admin(&srv.base).await);
        // What was acknowledged before the previous kill must be there, exactly.
        check_acked(&api, &last_acked, Some(100)).await;
        assert_eq!(
            total_of_all_balances(&api).await,
            rust_decimal::Decimal::ZERO,
            "cycle {cycle}: total"
        );
        let acked: Arc<Mutex<Acked>> = Arc::default();
        let mut tasks = Vec::new();
        for t in 0..8 {
            let (api, acked, wallets, svc) = (api.clone(), acked.clone(), wallets.clone(), svc.clone());
            let mut trng = rand::rngs::StdRng::seed_from_u64(seed ^ ((cycle * 64 + t) as u64));
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    let a = trng.random_range(0..wallets.len());
                    let b = (a + trng.random_range(1..wallets.len())) % wallets.len();
                    let sti = format!("k{cycle}-{t}-{i}");
                    let body = json!({"source_account_number": wallets[a], "destination_account_number": wallets[b],
                        "client_service_code": svc, "transaction_amount": format!("{}.{:02}", trng.random_range(0..50), trng.random_range(1..100)),
                        "source_transaction_id": sti, "transaction_source": "INTERNAL"});
                    match api.call(reqwest::Method::POST, "/api/v1/account-transfers", Some(body)).await {
                        Ok((200, r)) => {
                            let src = r["source_transaction"].clone();
                            let dst = r["destination_transaction"].clone();
                            acked.lock().unwrap().insert(sti, (String::new(), src, dst));
                        }
                        Ok((422, _)) => {}
                        Ok((status, r)) => panic!("unexpected {status}: {r}"),
                        Err(_) => return, // the server died
                    }
                }
            }));
        }
        let wait = rng.random_range(50..400);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        srv.kill();
        for t in tasks {
            t.await.unwrap();
        }
        let acked = acked.lock().unwrap().clone();
        eprintln!(
            "cycle {cycle}: killed after {wait} ms with {} acknowledged transfers",
            acked.len()
        );
        all_acked.extend(acked.clone());
        last_acked = acked;
    }
    let srv = Server::start_with(dir.path(), &args).unwrap();
    let api = Api::admin(&srv.base).await;
    check_acked(&api, &all_acked, Some(500)).await;
    assert_eq!(total_of_all_balances(&api).await, rust_decimal::Decimal::ZERO);
    assert!(!all_acked.is_empty(), "the test acknowledged no transfer at all");
}

#[test]
fn a_second_walletd_on_the_same_data_directory_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Server::start(dir.path()).unwrap();
    let second = Server::start(dir.path());
    let err = second.err().expect("the second walletd must not start");
    assert!(err.contains("already"), "clear message expected, got: {err}");
}
