//! Single postings that arrive together share a coordinator unit and a WAL record, yet each is
//! answered on its own, as if it had been posted alone, and they replay exactly.

mod common;

use common::*;
use rust_decimal::Decimal;
use walletd_engine::views::*;
use walletd_engine::{EngineError, Ledger};
use walletd_wal::sim::SimStorage;

/// Posts every input at once, each from its own task, and returns the answers in input order.
/// On the test's single-threaded runtime every task has queued its posting before a
/// coordinator empties its intake.
async fn post_together(ledger: &Ledger, inputs: Vec<PostingInput>) -> Vec<Result<PostingOutcome, EngineError>> {
    let tasks: Vec<_> = inputs
        .into_iter()
        .map(|input| {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.post(&admin(), input).await })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("task"));
    }
    answers
}

#[tokio::test]
async fn concurrent_postings_share_records_and_each_gets_its_own_answer() {
    let storage = SimStorage::new();
    let ledger = open(&storage, 0).await;
    let w = setup(&ledger, "0", &vec![("0", false); 21]).await;
    ledger.post(&admin(), credit(&w, 0, "100", "fund")).await.unwrap();
    let (records_before, _) = ledger.wal_stats();
    // Twenty transfers of 10 from a wallet holding 100: ten pass, ten are refused.
    let inputs = (1..=20).map(|i| transfer(&w, 0, i, "10", &format!("t{i}"))).collect();
    let answers = post_together(&ledger, inputs).await;
    let (records_after, _) = ledger.wal_stats();
    let passed: Vec<&PostingOutcome> = answers.iter().filter_map(|a| a.as_ref().ok()).collect();
    assert_eq!(passed.len(), 10, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|a| a.is_ok() || matches!(a, Err(EngineError::Refused(_)))),
        "{answers:?}"
    );
    // Each answer is its own posting's: its key, its destination, and one step of the source
    // wallet's balance from 100 down to 0.
    let mut steps: Vec<(Decimal, Decimal)> = passed
        .iter()
        .map(|o| (o.source.previous_balance, o.source.current_balance))
        .collect();
    steps.sort();
    let expected: Vec<(Decimal, Decimal)> = (0..10)
        .map(|k| (Decimal::from(10 * k + 10), Decimal::from(10 * k)))
        .collect();
    assert_eq!(steps, expected);
    for (i, a) in answers.iter().enumerate() {
        if let Ok(o) = a {
            assert_eq!(o.source.source_transaction_id, format!("t{}", i + 1));
            assert_eq!(o.destination.account_number, w.wallets[i + 1]);
            assert_eq!(o.destination.current_balance, d("10"));
            assert!(!o.replayed);
        }
    }
    // Fewer WAL records than postings applied: they travelled together.
    let records = records_after - records_before;
    assert!((1..10).contains(&records), "{records} records for 10 postings");
    assert_eq!(balance(&ledger, &w.wallets[0]).await, d("0"));
    assert_eq!(balances(&ledger).await.1, Decimal::ZERO);
    // Sent again, each is answered from its own record.
    let again = ledger.post(&admin(), transfer(&w, 0, 1, "10", "t1")).await;
    match (&answers[0], again) {
        (Ok(first), Ok(replay)) => {
            assert!(replay.replayed);
            assert_eq!(replay.source.transaction_id, first.source.transaction_id);
        }
        (Err(_), Ok(replay)) => panic!("a refused posting was replayed as applied: {replay:?}"),
        (_, Err(_)) => {}
    }
    // And they replay exactly.
    let before = balances(&ledger).await;
    ledger.shutdown();
    let recovered = open(&storage.crash(5), 0).await;
    assert_eq!(balances(&recovered).await, before);
    for o in &passed {
        let again = recovered
            .get_transaction(&admin(), o.source.transaction_id)
            .await
            .unwrap();
        assert_eq!(again.previous_balance, o.source.previous_balance);
        assert_eq!(again.current_balance, o.source.current_balance);
    }
    recovered.shutdown();
}

#[tokio::test]
async fn a_posting_that_spends_a_neighbours_credit_is_run_again_not_refused() {
    let storage = SimStorage::new();
    let mut config = config(&storage, 0);
    // One coordinator, so that both postings land in the same unit.
    config.coordinators = 1;
    let (ledger, _) = Ledger::open(config).await.unwrap();
    let w = setup(&ledger, "0", &[("0", false), ("0", false)]).await;
    // The first credit also opens the client's settlement account (a record of its own).
    ledger.post(&admin(), credit(&w, 1, "1", "open")).await.unwrap();
    let (records_before, _) = ledger.wal_stats();
    // Prepared together, the transfer would find wallet 0 empty (a credit counts only once
    // committed); one after the other, it passes. The unit defers it and it runs again.
    let answers = post_together(&ledger, vec![credit(&w, 0, "50", "c"), transfer(&w, 0, 1, "50", "t")]).await;
    let [Ok(credited), Ok(moved)] = &answers[..] else {
        panic!("{answers:?}");
    };
    assert_eq!(credited.destination.current_balance, d("50"));
    assert_eq!(moved.source.previous_balance, d("50"));
    assert_eq!(moved.source.current_balance, d("0"));
    assert!(moved.source.transaction_id > credited.destination.transaction_id);
    // The credit's unit, then the transfer alone.
    assert_eq!(ledger.wal_stats().0 - records_before, 2);
    assert_eq!(balance(&ledger, &w.wallets[0]).await, d("0"));
    assert_eq!(balance(&ledger, &w.wallets[1]).await, d("51"));
    assert_eq!(balances(&ledger).await.1, Decimal::ZERO);
    ledger.shutdown();
}
