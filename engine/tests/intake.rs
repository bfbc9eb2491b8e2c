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

/// A ledger with one coordinator, so that postings sent together land in one unit, and
/// `wallets` empty wallets; one more wallet took a first credit, which opened the client's
/// settlement account (a record of its own) before the test counts records.
async fn one_coordinator(storage: &SimStorage, wallets: usize) -> (Ledger, World) {
    let mut config = config(storage, 0);
    config.coordinators = 1;
    let (ledger, _) = Ledger::open(config).await.unwrap();
    let w = setup(&ledger, "0", &vec![("0", false); wallets + 1]).await;
    ledger.post(&admin(), credit(&w, wallets, "1", "open")).await.unwrap();
    (ledger, w)
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
        (Ok(_), Err(e)) => panic!("an applied posting sent again was not replayed: {e:?}"),
        (Err(_), Ok(replay)) => panic!("a refused posting was replayed as applied: {replay:?}"),
        // Refused the first time, and still no funds.
        (Err(_), Err(e)) => assert!(matches!(e, EngineError::Refused(_)), "{e:?}"),
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
    let (ledger, w) = one_coordinator(&storage, 2).await;
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
    assert_eq!(balance(&ledger, &w.wallets[1]).await, d("50"));
    assert_eq!(balances(&ledger).await.1, Decimal::ZERO);
    ledger.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_postings_on_two_threads_are_each_answered_exactly_once() {
    let storage = SimStorage::new();
    let ledger = open(&storage, 0).await;
    let wallets = 12;
    let w = std::sync::Arc::new(setup(&ledger, "0", &vec![("0", false); wallets]).await);
    for i in 0..wallets {
        ledger
            .post(&admin(), credit(&w, i, "100", &format!("fund{i}")))
            .await
            .unwrap();
    }
    // 40 tasks of 10 transfers each between the wallets, some refused for funds.
    let mut tasks = Vec::new();
    for t in 0..40 {
        let (ledger, w) = (ledger.clone(), w.clone());
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for k in 0..10 {
                let (a, b) = ((t + k) % wallets, (t * 7 + k * 3 + 1) % wallets);
                let b = if a == b { (b + 1) % wallets } else { b };
                let answer = ledger
                    .post(&admin(), transfer(&w, a, b, "35", &format!("m{t}-{k}")))
                    .await;
                answers.push((format!("m{t}-{k}"), answer));
            }
            answers
        }));
    }
    let mut applied = Vec::new();
    for t in tasks {
        for (key, answer) in t.await.unwrap() {
            match answer {
                Ok(o) => {
                    assert_eq!(o.source.source_transaction_id, key);
                    assert_eq!(o.source.previous_balance - o.source.current_balance, d("35"));
                    applied.push(o.source.transaction_id);
                }
                Err(e) => assert!(matches!(e, EngineError::Refused(_)), "{key}: {e:?}"),
            }
        }
    }
    assert!(!applied.is_empty());
    let distinct: std::collections::HashSet<_> = applied.iter().collect();
    assert_eq!(
        distinct.len(),
        applied.len(),
        "each applied posting has its own transaction"
    );
    // The money moved is exactly what the applied transfers say, and the ledger sums to zero.
    let (all, total) = balances(&ledger).await;
    assert_eq!(total, Decimal::ZERO);
    let in_wallets: Decimal = all.iter().filter(|(n, _)| w.wallets.contains(n)).map(|(_, b)| *b).sum();
    assert_eq!(in_wallets, Decimal::from(100 * wallets as i64));
    for (n, b) in &all {
        if w.wallets.contains(n) {
            assert!(!b.is_sign_negative(), "{n} overdrawn: {b}");
        }
    }
    ledger.shutdown();
}

#[tokio::test]
async fn a_refusal_defers_only_its_own_posting_not_its_neighbours_on_shared_accounts() {
    let storage = SimStorage::new();
    let (ledger, w) = one_coordinator(&storage, 3).await;
    ledger.post(&admin(), credit(&w, 0, "10", "fund")).await.unwrap();
    let (records_before, _) = ledger.wal_stats();
    // The debit is refused for funds on wallet 0, which the transfer before it holds: it is
    // deferred, runs again alone, and is refused. The credit after it shares only the client's
    // settlement account with it; concurrent requests keep no order, so the credit is decided
    // in the unit (a batch would defer it too, to keep the settlement account's order).
    let debit = posting(
        PostingInputKind::Debit {
            account_number: w.wallets[0].clone(),
        },
        &w.service_code,
        d("10"),
        "d",
    );
    let answers = post_together(
        &ledger,
        vec![transfer(&w, 0, 1, "10", "t"), debit, credit(&w, 2, "5", "c")],
    )
    .await;
    assert!(answers[0].is_ok(), "{answers:?}");
    assert!(matches!(answers[1], Err(EngineError::Refused(_))), "{answers:?}");
    assert!(answers[2].is_ok(), "{answers:?}");
    assert_eq!(
        ledger.wal_stats().0 - records_before,
        1,
        "the transfer and the credit together"
    );
    assert_eq!(balance(&ledger, &w.wallets[2]).await, d("5"));
    assert_eq!(balances(&ledger).await.1, Decimal::ZERO);
    ledger.shutdown();
}

#[tokio::test]
async fn large_postings_queued_together_are_split_into_units_of_bounded_size() {
    let storage = SimStorage::new();
    let (ledger, w) = one_coordinator(&storage, 1).await;
    let (records_before, _) = ledger.wal_stats();
    // 80 credits carrying 64 KiB of source data each: 5 MiB, more than one unit may hold.
    let data = format!(r#"{{"data":"{}"}}"#, "x".repeat(64 * 1024));
    let inputs = (0..80)
        .map(|i| {
            let mut p = credit(&w, 0, "1", &format!("big{i}"));
            p.source_transaction_data = Some(data.clone());
            p
        })
        .collect();
    let answers = post_together(&ledger, inputs).await;
    assert!(
        answers.iter().all(|a| a.is_ok()),
        "{:?}",
        answers.iter().find(|a| a.is_err())
    );
    assert_eq!(
        ledger.wal_stats().0 - records_before,
        2,
        "two units of about 4 MiB at most"
    );
    assert_eq!(balance(&ledger, &w.wallets[0]).await, d("80"));
    ledger.shutdown();
}
