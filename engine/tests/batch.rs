//! Batches: each posting is answered on its own and travels in one WAL record; an atomic batch
//! applies all of its postings or none; a batch survives recovery like single postings do.

mod common;

use common::*;
use rust_decimal::Decimal;
use walletd_engine::EngineError;
use walletd_engine::views::*;
use walletd_wal::sim::SimStorage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answers_each_posting_and_survives_recovery() {
    let storage = SimStorage::new();
    let ledger = open(&storage, 0).await;
    let w = setup(&ledger, "0", &[("0", false), ("0", false), ("0", false)]).await;
    let fund = posting(
        PostingInputKind::Credit {
            account_number: w.wallets[0].clone(),
        },
        &w.service_code,
        d("100"),
        "fund",
    );
    ledger.post(&admin(), fund).await.unwrap();
    let batch = vec![
        transfer(&w, 0, 1, "30", "b1"),
        transfer(&w, 0, 2, "80", "b2"), // 70 left after b1 (holds count): refused
        transfer(&w, 0, 2, "20", "b3"),
        transfer(&w, 1, 1, "1", "b4"),  // same account: invalid
        transfer(&w, 0, 1, "30", "b1"), // same key, same request, within the batch: a replay
    ];
    let results = ledger.post_batch(&admin(), batch, false).await;
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(matches!(results[1], Err(EngineError::Refused(_))), "{:?}", results[1]);
    assert!(results[2].is_ok(), "{:?}", results[2]);
    assert!(matches!(results[3], Err(EngineError::Invalid(_))), "{:?}", results[3]);
    let replay = results[4].as_ref().unwrap();
    assert!(replay.replayed);
    assert_eq!(
        replay.source.transaction_id,
        results[0].as_ref().unwrap().source.transaction_id
    );
    assert_eq!(balance(&ledger, &w.wallets[0]).await, d("50"));
    assert_eq!(balance(&ledger, &w.wallets[1]).await, d("30"));
    assert_eq!(balance(&ledger, &w.wallets[2]).await, d("20"));
    // Non-atomic: a posting that spends money credited earlier in the batch runs after it.
    let chained = vec![
        posting(
            PostingInputKind::Credit {
                account_number: w.wallets[1].clone(),
            },
            &w.service_code,
            d("5"),
            "c1",
        ),
        transfer(&w, 1, 2, "35", "c2"),
    ];
    let chained = ledger.post_batch(&admin(), chained, false).await;
    assert!(chained.iter().all(|r| r.is_ok()), "{chained:?}");
    assert_eq!(balance(&ledger, &w.wallets[1]).await, d("0"));
    assert_eq!(balance(&ledger, &w.wallets[2]).await, d("55"));
    // The two postings of one record chain their balances like separate postings would.
    let b3 = results[2].as_ref().unwrap();
    assert_eq!(b3.source.previous_balance, d("70"));
    assert_eq!(b3.source.current_balance, d("50"));
    ledger.shutdown();
    let recovered = open(&storage.crash(3), 0).await;
    assert_eq!(balance(&recovered, &w.wallets[0]).await, d("50"));
    assert_eq!(balance(&recovered, &w.wallets[2]).await, d("55"));
    let again = recovered
        .get_transaction(&admin(), b3.source.transaction_id)
        .await
        .unwrap();
    assert_eq!(again.previous_balance, d("70"));
    assert_eq!(balances(&recovered).await.1, Decimal::ZERO);
    recovered.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_atomic_batch_is_all_or_nothing() {
    let storage = SimStorage::new();
    let ledger = open(&storage, 0).await;
    let w = setup(&ledger, "0", &[("0", false), ("0", false)]).await;
    let fund = posting(
        PostingInputKind::Credit {
            account_number: w.wallets[0].clone(),
        },
        &w.service_code,
        d("100"),
        "fund",
    );
    ledger.post(&admin(), fund).await.unwrap();
    // The second leg would overdraw: nothing of the batch is applied, and its keys stay free.
    let failing = vec![transfer(&w, 0, 1, "60", "a1"), transfer(&w, 0, 1, "60", "a2")];
    let results = ledger.post_batch(&admin(), failing, true).await;
    assert!(
        results.iter().all(|r| matches!(r, Err(EngineError::Refused(_)))),
        "{results:?}"
    );
    assert_eq!(balance(&ledger, &w.wallets[0]).await, d("100"));
    assert_eq!(balance(&ledger, &w.wallets[1]).await, d("0"));
    // A batch means what its postings sent one after another mean: wallet 1 may pass on
    // money it receives earlier in the same atomic batch.
    let ok = vec![
        transfer(&w, 0, 1, "60", "a1"),
        transfer(&w, 1, 0, "50", "a2"),
        transfer(&w, 0, 1, "20", "a5"),
    ];
    let results = ledger.post_batch(&admin(), ok, true).await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(balance(&ledger, &w.wallets[0]).await, d("70"));
    assert_eq!(balance(&ledger, &w.wallets[1]).await, d("30"));
    // ... but not more than it received.
    let over = vec![transfer(&w, 0, 1, "10", "a6"), transfer(&w, 1, 0, "40.0001", "a7")];
    let results = ledger.post_batch(&admin(), over, true).await;
    assert!(
        results.iter().all(|r| matches!(r, Err(EngineError::Refused(_)))),
        "{results:?}"
    );
    assert_eq!(balance(&ledger, &w.wallets[1]).await, d("30"));
    // A validation error anywhere refuses the whole atomic batch before anything runs.
    let invalid = vec![transfer(&w, 0, 1, "1", "a3"), transfer(&w, 0, 0, "1", "a4")];
    let results = ledger.post_batch(&admin(), invalid, true).await;
    assert!(matches!(results[0], Err(EngineError::Refused(_))), "{:?}", results[0]);
    assert!(matches!(results[1], Err(EngineError::Invalid(_))), "{:?}", results[1]);
    assert_eq!(balance(&ledger, &w.wallets[0]).await, d("70"));
    // A posting already applied (a1, 60 from wallet 0 to 1) sent again in a failed atomic
    // batch is not answered as a success: the batch applied nothing. Failed when judged (an
    // invalid posting) and when run (funds), alike; its key still answers a replay alone.
    for failing in [
        vec![transfer(&w, 0, 1, "60", "a1"), transfer(&w, 0, 0, "1", "a8")],
        vec![transfer(&w, 0, 1, "60", "a1"), transfer(&w, 1, 0, "1000", "a9")],
    ] {
        let results = ledger.post_batch(&admin(), failing, true).await;
        assert!(
            matches!(&results[0], Err(EngineError::Refused(m)) if m.starts_with("Not applied")),
            "{:?}",
            results[0]
        );
        assert!(results[1].is_err(), "{:?}", results[1]);
    }
    let again = ledger.post(&admin(), transfer(&w, 0, 1, "60", "a1")).await.unwrap();
    assert!(again.replayed);
    assert_eq!(balance(&ledger, &w.wallets[0]).await, d("70"));
    assert_eq!(balance(&ledger, &w.wallets[1]).await, d("30"));
    ledger.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_idempotency_claim_does_not_block_the_key() {
    let storage = SimStorage::new();
    let ledger = open(&storage, 0).await;
    let w = setup(&ledger, "0", &[("0", false), ("0", false)]).await;
    // A request that claimed a key and was dropped before reaching a coordinator (a client
    // disconnect, a timeout) leaves the claim with nobody to settle it.
    let key = (
        ledger
            .list_clients(&admin(), PageRequest { page: 1, limit: 10 })
            .records[0]
            .client_id,
        "k1".to_string(),
    );
    let (settle, claim) = walletd_engine::state::ClaimSignal::claim();
    ledger
        .state()
        .idempotency
        .insert(key, walletd_engine::state::IdempotencyEntry::InFlight(claim));
    drop(settle);
    let credit = posting(
        PostingInputKind::Credit {
            account_number: w.wallets[0].clone(),
        },
        &w.service_code,
        d("5"),
        "k1",
    );
    let answer = tokio::time::timeout(std::time::Duration::from_secs(5), ledger.post(&admin(), credit)).await;
    let outcome = answer.expect("the key is taken over, not waited on").unwrap();
    assert_eq!(outcome.destination.current_balance, d("5"));
    ledger.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_defers_at_every_step_still_means_its_postings_in_order() {
    let storage = SimStorage::new();
    let ledger = open(&storage, 0).await;
    let w = setup(&ledger, "0", &[("0", false)]).await;
    // Each debit spends the credit just before it: the first unit decides the first credit
    // and defers the rest, which then run in waves.
    let wallet = || w.wallets[0].clone();
    let mut batch = Vec::new();
    for i in 0..200 {
        batch.push(posting(
            PostingInputKind::Credit {
                account_number: wallet(),
            },
            &w.service_code,
            d("1"),
            &format!("c{i}"),
        ));
        batch.push(posting(
            PostingInputKind::Debit {
                account_number: wallet(),
            },
            &w.service_code,
            d("1"),
            &format!("d{i}"),
        ));
    }
    let results = ledger.post_batch(&admin(), batch, false).await;
    for (i, r) in results.iter().enumerate() {
        let leg = r.as_ref().unwrap_or_else(|e| panic!("posting {i}: {e:?}")).wallet_leg();
        let (before, after) = if i % 2 == 0 { ("0", "1") } else { ("1", "0") };
        assert_eq!(
            (leg.previous_balance, leg.current_balance),
            (d(before), d(after)),
            "posting {i}"
        );
    }
    // Ids follow the batch's order here: every posting after the first was deferred.
    let ids: Vec<u64> = results
        .iter()
        .map(|r| r.as_ref().unwrap().wallet_leg().transaction_id)
        .collect();
    assert!(ids.windows(2).all(|p| p[0] < p[1]), "{ids:?}");
    assert_eq!(balance(&ledger, &w.wallets[0]).await, d("0"));
    ledger.shutdown();
    let recovered = open(&storage.crash(7), 0).await;
    assert_eq!(balance(&recovered, &w.wallets[0]).await, d("0"));
    assert_eq!(balances(&recovered).await.1, Decimal::ZERO);
    recovered.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_reads_a_wallets_several_legs_out_of_one_batch_record() {
    let storage = SimStorage::new();
    let ledger = open(&storage, 0).await;
    let w = setup(&ledger, "0", &[("0", false), ("0", false), ("0", false), ("0", false)]).await;
    ledger.post(&admin(), credit(&w, 0, "100", "fund")).await.unwrap();
    ledger.post(&admin(), credit(&w, 2, "100", "fund2")).await.unwrap();
    // Wallet 0's legs interleaved with others' in one record, then one more record.
    let mut batch = Vec::new();
    for k in 0..6 {
        batch.push(transfer(&w, 2, 3, "1", &format!("o{k}")));
        batch.push(transfer(&w, 0, 1, &format!("{}", k + 1), &format!("s{k}")));
    }
    let results = ledger.post_batch(&admin(), batch, false).await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    ledger.post(&admin(), transfer(&w, 1, 0, "4", "back")).await.unwrap();
    let st = ledger.statement(&admin(), &w.wallets[0], 0, i64::MAX).await.unwrap();
    let keys: Vec<&str> = st.rows.iter().map(|r| r.source_transaction_id.as_str()).collect();
    assert_eq!(keys, ["fund", "s0", "s1", "s2", "s3", "s4", "s5", "back"]);
    let amounts: Vec<Decimal> = st.rows.iter().map(|r| r.amount).collect();
    assert_eq!(amounts, ["100", "1", "2", "3", "4", "5", "6", "4"].map(d));
    for pair in st.rows.windows(2) {
        assert_eq!(pair[1].previous_balance, pair[0].current_balance, "{pair:?}");
    }
    assert_eq!(st.opening_balance, d("0"));
    assert_eq!(st.closing_balance, d("83"));
    assert_eq!(balance(&ledger, &w.wallets[0]).await, d("83"));
    ledger.shutdown();
}
