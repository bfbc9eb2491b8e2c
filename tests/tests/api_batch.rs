//! `POST /api/v1/transactions/batch` over real HTTP: a mix of good and bad postings
//! (non-atomic: each on its own), atomic all-or-nothing, a thousand postings in one request,
//! the route's larger body limit, idempotent replays inside a batch, and its bounds.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::sync::Arc;
use walletd_tests::text_of as s;
use walletd_tests::{Api, Method, TestServer, assert_leg_shape, shared_server, uid};

struct Fixture {
    _srv: Arc<TestServer>,
    admin: Api,
    code: String,
    service: String,
    /// ACTIVE wallets holding 100 each.
    a: String,
    b: String,
}

async fn fixture(name: &str) -> Fixture {
    let srv = shared_server();
    let admin = Api::admin(srv.base()).await;
    let code = s(&admin.create_client(name).await["client_code"]);
    let service = s(&admin.create_service(&code, json!({})).await["client_service_code"]);
    let a = s(&admin.create_wallet(&code, "ACTIVE").await["account_number"]);
    let b = s(&admin.create_wallet(&code, "ACTIVE").await["account_number"]);
    for w in [&a, &b] {
        admin
            .credit_or_debit("CREDIT", w, &service, json!(100))
            .await
            .expect(200);
    }
    Fixture {
        _srv: srv,
        admin,
        code,
        service,
        a,
        b,
    }
}

impl Fixture {
    fn posting(&self, command: &str, account: &str, amount: Value) -> Value {
        json!({"command": command, "account_number": account, "client_service_code": self.service,
               "transaction_source": "EXTERNAL", "transaction_amount": amount, "source_transaction_id": uid("b-")})
    }

    fn transfer(&self, from: &str, to: &str, amount: Value) -> Value {
        json!({"command": "TRANSFER", "source_account_number": from, "destination_account_number": to,
               "client_service_code": self.service, "transaction_source": "INTERNAL", "transaction_amount": amount,
               "source_transaction_id": uid("bt-")})
    }

    async fn batch(&self, atomic: Option<bool>, postings: &[Value]) -> Value {
        let mut body = json!({"postings": postings});
        if let Some(a) = atomic {
            body["atomic"] = json!(a);
        }
        let r = self.admin.post("/api/v1/transactions/batch", body).await;
        let v = r.expect(200).clone();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["atomic", "failed", "results", "succeeded"], "{v}");
        assert_eq!(v["results"].as_array().unwrap().len(), postings.len());
        assert_eq!(
            v["succeeded"].as_u64().unwrap() + v["failed"].as_u64().unwrap(),
            postings.len() as u64
        );
        v
    }

    async fn balances(&self) -> (Decimal, Decimal) {
        (self.admin.balance(&self.a).await, self.admin.balance(&self.b).await)
    }
}

#[track_caller]
fn error_result(r: &Value, status: u16) -> &Value {
    assert_eq!(r["status"], status, "{r}");
    assert_eq!(r["code"], "HttpException", "{r}");
    let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "message", "status"], "{r}");
    &r["message"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_atomic_batch_answers_each_posting_on_its_own() {
    let f = fixture("Batch Mix").await;
    let postings = vec![
        f.posting("CREDIT", &f.a, json!(10)),      // ok: a 110
        f.posting("DEBIT", &f.b, json!(1000)),     // 422 insufficient funds
        f.posting("CREDIT", &f.a, json!("1e3")),   // 400 amount notation
        f.transfer(&f.a, &f.b, json!("25.5")),     // ok: a 84.5, b 125.5
        f.posting("CREDIT", "99999999", json!(1)), // 404
        f.posting("REFUND", &f.a, json!(1)),       // 400 command
        json!("not an object"),                    // 400
        f.posting("DEBIT", &f.b, json!("0.5")),    // ok: b 125
    ];
    let v = f.batch(None, &postings).await;
    assert_eq!(v["atomic"], false);
    assert_eq!(v["succeeded"], 3);
    assert_eq!(v["failed"], 5);
    let res = v["results"].as_array().unwrap();
    // 0: the single endpoint's CREDIT answer.
    assert_leg_shape(&res[0]);
    assert_eq!(res[0]["account"], f.a.as_str());
    assert_eq!(res[0]["transaction_type"], "CREDIT");
    assert_eq!(res[0]["current_balance"], "110.0000");
    assert_eq!(res[0]["source_transaction_id"], postings[0]["source_transaction_id"]);
    let m = error_result(&res[1], 422);
    assert!(m.as_str().unwrap().contains("Insufficient funds"), "{m}");
    let m = error_result(&res[2], 400);
    assert!(
        m.as_array().unwrap().iter().any(|s| s
            .as_str()
            .unwrap()
            .contains("postings.2.transaction_amount must be written in plain decimal notation")),
        "{m}"
    );
    // 3: the transfer's shape.
    assert_leg_shape(&res[3]["source_transaction"]);
    assert_leg_shape(&res[3]["destination_transaction"]);
    assert_eq!(res[3]["source_transaction"]["current_balance"], "84.5000");
    assert_eq!(res[3]["destination_transaction"]["current_balance"], "125.5000");
    assert_eq!(error_result(&res[4], 404), "Account not found");
    let m = error_result(&res[5], 400);
    assert!(
        m.as_array().unwrap().iter().any(|s| s
            .as_str()
            .unwrap()
            .contains("command must be one of the following values: CREDIT, DEBIT, TRANSFER")),
        "{m}"
    );
    error_result(&res[6], 400);
    assert_eq!(res[7]["current_balance"], "125.0000");
    assert_eq!(f.balances().await, ("84.5".parse().unwrap(), Decimal::from(125)));
    // Every success is a real posting, found like any other.
    let r = f
        .admin
        .get(&format!(
            "/api/v1/transactions/{}",
            s(&res[3]["destination_transaction"]["transaction_id"])
        ))
        .await;
    assert_eq!(r.expect(200)["current_balance"], "125.5000");
    // The refused postings' keys were not consumed: retried alone they are judged afresh.
    let mut retry = postings[1].clone();
    retry["transaction_amount"] = json!(1);
    retry.as_object_mut().unwrap().remove("command");
    f.admin
        .post("/api/v1/transactions?command=DEBIT", retry)
        .await
        .expect(200);
    // The batch again: the good ones replay (same transaction ids), nothing moves twice.
    let again = f.batch(Some(false), &postings).await;
    let res2 = again["results"].as_array().unwrap();
    assert_eq!(res2[0], res[0]);
    assert_eq!(res2[3], res[3]);
    assert_eq!(res2[7], res[7]);
    // The refused key, since used by another payload, is now a conflict.
    error_result(&res2[1], 409);
    assert_eq!(f.balances().await, ("84.5".parse().unwrap(), Decimal::from(124)));
    assert_eq!(walletd_tests::client_total(&f.admin, &f.code).await, Decimal::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_atomic_batch_is_all_or_nothing() {
    let f = fixture("Batch Atomic").await;
    let before = f.balances().await;
    // One posting the ledger refuses.
    let postings = vec![
        f.posting("CREDIT", &f.a, json!(10)),
        f.transfer(&f.a, &f.b, json!(50)),
        f.posting("DEBIT", &f.b, json!(1000)),
        f.posting("CREDIT", &f.b, json!(5)),
    ];
    let v = f.batch(Some(true), &postings).await;
    assert_eq!(v["atomic"], true);
    assert_eq!(v["succeeded"], 0);
    assert_eq!(v["failed"], 4);
    let res = v["results"].as_array().unwrap();
    assert!(
        error_result(&res[2], 422)
            .as_str()
            .unwrap()
            .contains("Insufficient funds")
    );
    for i in [0, 1, 3] {
        assert_eq!(
            error_result(&res[i], 422),
            "Not applied: another posting of this atomic batch failed",
            "{i}"
        );
    }
    assert_eq!(f.balances().await, before, "nothing applied");
    for p in &postings {
        let r = f
            .admin
            .get(&format!(
                "/api/v1/transactions?source_transaction_id={}",
                s(&p["source_transaction_id"])
            ))
            .await;
        assert_eq!(r.expect(200)["metadata"]["total_count"], 0);
    }
    // One malformed posting fails the batch too.
    let mut bad = postings.clone();
    bad[2] = f.posting("DEBIT", &f.b, json!(-1));
    let v = f.batch(Some(true), &bad).await;
    assert_eq!(v["succeeded"], 0);
    error_result(&v["results"][2], 400);
    assert_eq!(f.balances().await, before);
    // The same key twice in an atomic batch is refused.
    let dup = vec![postings[0].clone(), postings[0].clone()];
    let v = f.batch(Some(true), &dup).await;
    assert_eq!(v["succeeded"], 0);
    assert_eq!(f.balances().await, before);
    // Without the bad one, the same postings (same keys, not consumed) all apply.
    let good = vec![postings[0].clone(), postings[1].clone(), postings[3].clone()];
    let v = f.batch(Some(true), &good).await;
    assert_eq!(v["succeeded"], 3, "{v}");
    assert_eq!(v["failed"], 0);
    assert_eq!(
        f.balances().await,
        (before.0 + Decimal::from(10 - 50), before.1 + Decimal::from(50 + 5))
    );
    // Replayed as a whole: the same answers, no money moves.
    let again = f.batch(Some(true), &good).await;
    assert_eq!(again["results"], v["results"]);
    assert_eq!(
        f.balances().await,
        (before.0 + Decimal::from(-40), before.1 + Decimal::from(55))
    );
    assert_eq!(walletd_tests::client_total(&f.admin, &f.code).await, Decimal::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_postings_in_one_request_over_64_kib() {
    let f = fixture("Batch Big").await;
    let postings: Vec<Value> = (0..1000)
        .map(|i| {
            if i % 2 == 0 {
                f.posting("CREDIT", &f.a, json!("1.0001"))
            } else {
                // From b, which holds enough from the start: postings of one batch are
                // prepared together (see `a_batch_sees_its_own_earlier_credits`).
                f.transfer(&f.b, &f.a, json!("0.1"))
            }
        })
        .collect();
    let body = json!({"atomic": false, "postings": postings}).to_string();
    assert!(body.len() > 64 * 1024, "over the ordinary body limit: {}", body.len());
    assert!(body.len() < 8 * 1024 * 1024);
    let r = f
        .admin
        .raw(
            Method::POST,
            "/api/v1/transactions/batch",
            body.into_bytes(),
            Some("application/json"),
        )
        .await;
    let v = r.expect(200);
    assert_eq!(v["succeeded"], 1000);
    assert_eq!(v["failed"], 0);
    let res = v["results"].as_array().unwrap();
    let mut ids = std::collections::HashSet::new();
    for (i, x) in res.iter().enumerate() {
        let leg = if i % 2 == 0 { x } else { &x["source_transaction"] };
        assert!(ids.insert(s(&leg["transaction_id"])), "distinct transaction ids");
    }
    // a: 100 + 500 * 1.0001 + 500 * 0.1 = 650.05; b: 100 - 50
    assert_eq!(f.balances().await, ("650.0500".parse().unwrap(), Decimal::from(50)));
    for (account, legs) in [(&f.a, 1001), (&f.b, 501)] {
        let r = f
            .admin
            .get(&format!("/api/v1/transactions?account_number={account}&limit=1"))
            .await;
        assert_eq!(r.expect(200)["metadata"]["total_count"], legs);
    }
    assert_eq!(walletd_tests::client_total(&f.admin, &f.code).await, Decimal::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_routes_bounds() {
    let f = fixture("Batch Bounds").await;
    let before = f.balances().await;
    // 10001 postings: 400, nothing applied.
    let one = f.posting("CREDIT", &f.a, json!(1));
    let postings: Vec<Value> = (0..10_001)
        .map(|i| {
            let mut p = one.clone();
            p["source_transaction_id"] = json!(format!("{}-{i}", s(&one["source_transaction_id"])));
            p
        })
        .collect();
    let r = f
        .admin
        .post("/api/v1/transactions/batch", json!({"postings": postings}))
        .await;
    assert_eq!(
        r.expect_validation(),
        ["postings must be an array of 1 to 10000 postings"]
    );
    assert_eq!(f.balances().await, before);
    for body in [
        json!({"postings": []}),
        json!({}),
        json!({"postings": {"command": "CREDIT"}}),
        json!({"atomic": "yes", "postings": [one]}),
    ] {
        let r = f.admin.post("/api/v1/transactions/batch", body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        r.expect_validation();
    }
    let r = f
        .admin
        .raw(
            Method::POST,
            "/api/v1/transactions/batch",
            b"{\"postings\": [".to_vec(),
            None,
        )
        .await;
    r.expect_validation();
    // Over 8 MiB: refused in the error shape. The server answers once it has read 8 MiB and
    // closes the connection with the rest unread, so the client may see the connection reset
    // before the answer (hyper's way with an unread body): that is a refusal too. What must
    // hold is that nothing was applied.
    let pad = "x".repeat(9 * 1024 * 1024);
    let body = json!({"postings": [one], "padding": pad}).to_string().into_bytes();
    match f
        .admin
        .try_send(
            Method::POST,
            "/api/v1/transactions/batch",
            Some(body),
            Some("application/json"),
        )
        .await
    {
        Ok(r) => {
            assert!(r.status == 413 || r.status == 400, "{}", r.status);
            r.expect_error(r.status);
        }
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    assert_eq!(f.balances().await, before);
}

/// Postings of one batch are applied in order, as the same requests sent one after another
/// would be: a debit may spend what an earlier posting of the batch credited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_sees_its_own_earlier_credits() {
    let f = fixture("Batch Order").await;
    let empty = s(&f.admin.create_wallet(&f.code, "ACTIVE").await["account_number"]);
    for atomic in [false, true] {
        let postings = vec![
            f.posting("CREDIT", &empty, json!(10)),
            f.posting("DEBIT", &empty, json!(5)),
        ];
        let v = f.batch(Some(atomic), &postings).await;
        assert_eq!(v["succeeded"], 2, "atomic {atomic}: {v}");
    }
    assert_eq!(f.admin.balance(&empty).await, Decimal::from(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_sent_again_is_answered_as_a_replay() {
    let f = fixture("Batch Replay").await;
    let postings = vec![f.posting("CREDIT", &f.a, json!(3)), f.transfer(&f.a, &f.b, json!(2))];
    let body = json!({"postings": postings});
    let first = f.admin.post("/api/v1/transactions/batch", body.clone()).await;
    assert_eq!(first.header("idempotent-replayed"), None, "a new batch is no replay");
    let again = f.admin.post("/api/v1/transactions/batch", body).await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.expect(200), first.expect(200), "the same body");
    // One new posting among replayed ones: the batch posted something, so it is no replay.
    let mixed = json!({"postings": [postings[0].clone(), f.posting("CREDIT", &f.b, json!(1))]});
    let r = f.admin.post("/api/v1/transactions/batch", mixed).await;
    assert_eq!(r.expect(200)["succeeded"], 2);
    assert_eq!(r.header("idempotent-replayed"), None);
    // Nothing but refusals posts nothing, but replays nothing either.
    let refused = json!({"postings": [f.posting("DEBIT", &f.a, json!(1_000_000))]});
    let r = f.admin.post("/api/v1/transactions/batch", refused).await;
    assert_eq!(r.expect(200)["failed"], 1);
    assert_eq!(r.header("idempotent-replayed"), None);
    assert_eq!(f.balances().await, (Decimal::from(101), Decimal::from(103)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_posting_of_a_batch_is_held_to_a_single_requests_limits() {
    let f = fixture("Batch Limits Co").await;
    // A posting carrying more than one posting's own request may (64 KiB) is refused on its
    // own; the rest of a non-atomic batch runs. A text field is held to 4096 characters.
    let mut big = f.posting("CREDIT", &f.a, json!(1));
    big["source_transaction_data"] = json!({"blob": "d".repeat(70 * 1024)});
    let mut long = f.posting("CREDIT", &f.a, json!(1));
    long["transaction_narration"] = json!("n".repeat(4097));
    let v = f
        .batch(Some(false), &[f.posting("CREDIT", &f.a, json!(2)), big, long])
        .await;
    assert_eq!(v["results"][0]["transaction_type"], "CREDIT", "{}", v["results"][0]);
    assert_eq!(v["results"][1]["status"], 400);
    assert_eq!(
        v["results"][1]["message"],
        json!(["postings.1 must be at most 65536 bytes, as one posting's own request"])
    );
    assert_eq!(
        v["results"][2]["message"],
        json!(["postings.2.transaction_narration must be at most 4096 characters long"])
    );
    assert_eq!(f.admin.balance(&f.a).await, Decimal::new(102, 0));
    // The ledger's own validation sentences say which posting they are about.
    let v = f.batch(Some(false), &[f.transfer(&f.a, &f.a, json!(1))]).await;
    assert_eq!(
        v["results"][0]["message"],
        json!(["postings.0.destination_account_number must differ from source_account_number"])
    );
    // A failed atomic batch answers a posting it would have replayed as not applied, and the
    // answer is no replay.
    let done = f.posting("CREDIT", &f.b, json!(3));
    f.batch(None, std::slice::from_ref(&done)).await;
    let r = f
        .admin
        .post(
            "/api/v1/transactions/batch",
            json!({"atomic": true, "postings": [done, f.posting("DEBIT", &f.b, json!(100_000))]}),
        )
        .await;
    assert_eq!(r.header("Idempotent-Replayed"), None);
    let v = r.expect(200);
    assert_eq!(v["succeeded"], 0, "{v}");
    assert_eq!(v["results"][0]["status"], 422);
    assert_eq!(
        v["results"][0]["message"],
        "Not applied: another posting of this atomic batch failed"
    );
    assert_eq!(f.admin.balance(&f.b).await, Decimal::new(103, 0));
}
