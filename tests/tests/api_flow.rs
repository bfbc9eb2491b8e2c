//! The documents' flow end to end over real HTTP against the real `walletd`: login, client
//! (v1), profile (v2), wallet type, wallets by client_code and by client_profile_id, a client
//! service with a fixed fee, credit, debit, transfer, idempotent replay, conflicting replay,
//! reversal (once), tracking, statements (EXCEL read back, PDF), the profile with balances,
//! and the ledger's total. Then the fee rules: percentage rounding half-even, fee tiers.

use calamine::{Data, Reader, Xlsx};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::io::Cursor;
use walletd_tests::text_of as s;
use walletd_tests::{
    ADMIN_PASSWORD, Api, Reply, assert_id, assert_leg_shape, assert_money, assert_timestamp, client_total,
    profile_body, shared_server, uid, utc_date,
};

/// The legs of one posting (and of its reversal), newest first.
async fn legs_of(api: &Api, sti: &str) -> Vec<Value> {
    let r = api
        .get(&format!("/api/v1/transactions?source_transaction_id={sti}&limit=100"))
        .await;
    r.expect(200)["records"].as_array().expect("records").clone()
}

fn leg_on<'a>(legs: &'a [Value], account: &str) -> &'a Value {
    legs.iter()
        .find(|l| l["account"] == account)
        .unwrap_or_else(|| panic!("no leg on {account}: {legs:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documents_flow_end_to_end() {
    let srv = shared_server();
    let base = srv.base();

    // ---- login ----
    let r = Api::anonymous(base)
        .post(
            "/api/v1/auth/login",
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await;
    let login = r.expect(200);
    assert_eq!(login["token_type"], "Bearer");
    assert!(login["expires_in"].as_u64().is_some_and(|n| n > 0), "{login}");
    assert_eq!(s(&login["access_token"]).split('.').count(), 3, "a JWT: {login}");
    let admin = Api::anonymous(base).with_token(s(&login["access_token"]));

    // ---- client (v1) ----
    let r = admin
        .post("/api/v1/clients", walletd_tests::client_body("Lipad Flow"))
        .await;
    let client = r.expect(201).clone();
    let code = s(&client["client_code"]);
    assert_eq!(code.len(), 10, "client_code: {code}");
    assert!(
        code.starts_with("LIP"),
        "client_code starts with the name's letters: {code}"
    );
    assert!(
        code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{code}"
    );
    assert_id(&client["client_id"]);
    assert_eq!(client["client_name"], "Lipad Flow");
    assert_eq!(client["is_active"], 1);
    assert_eq!(client["country"], "Kenya");
    let r = admin.get(&format!("/api/v1/clients/{code}")).await;
    assert_eq!(r.expect(200)["client_id"], client["client_id"]);

    // ---- profile (v2) ----
    let pid = uid("BRANCH");
    let r = admin.post("/api/v1/profiles", profile_body(&code, &pid)).await;
    let profile = r.expect(201).clone();
    assert_id(&profile["profile_id"]);
    assert_eq!(profile["client_profile_id"], pid.as_str());
    assert_eq!(profile["profile_type"], "BUSINESS");
    assert_eq!(profile["is_active"], 1);
    assert_timestamp(&profile["created_at"]);
    // The same client_profile_id again in this client: 409.
    admin
        .post("/api/v1/profiles", profile_body(&code, &pid))
        .await
        .expect_error(409);

    // ---- wallet type ----
    let r = admin
        .post(
            "/api/v1/account-types",
            json!({"client_code": code, "account_type_name": "Current Account",
                   "account_type_description": "Account type that allows in-flow and out-flow of funds.", "is_active": "1"}),
        )
        .await;
    let wtype = r.expect(201).clone();
    assert_id(&wtype["account_type_id"]);
    let type_code = s(&wtype["account_type_code"]);
    assert!(!type_code.is_empty());
    assert_eq!(wtype["account_type_name"], "Current Account");
    assert_eq!(wtype["is_active"], 1);
    assert_timestamp(&wtype["created_at"]);
    assert_timestamp(&wtype["updated_at"]);

    // ---- wallets: by client_code (v1, with the client's own type) and by client_profile_id (v2) ----
    let r = admin
        .post(
            "/api/v1/accounts",
            json!({"client_code": code, "account_type_code": type_code, "account_name": "Collection Account KES 1",
                   "currency": "KES", "minimum_balance": 0, "can_overdraw": false, "status": "ACTIVE",
                   "status_description": "Collection Account"}),
        )
        .await;
    let w1 = r.expect(201).clone();
    let a1 = s(&w1["account_number"]);
    assert!(
        a1.len() == 8 && a1.bytes().all(|b| b.is_ascii_digit()),
        "account_number: {a1}"
    );
    assert_id(&w1["account_id"]);
    assert_money(&w1["minimum_balance"], "0.0000");
    assert_eq!(w1["can_overdraw"], false);
    assert_eq!(w1["status"], "ACTIVE");
    assert_eq!(w1["currency"], "KES");
    assert_eq!(w1["status_description"], "Collection Account");
    assert_timestamp(&w1["created_at"]);
    assert_timestamp(&w1["updated_at"]);
    let r = admin
        .post(
            "/api/v1/accounts",
            json!({"client_profile_id": pid, "account_type_code": "CURRENT_ACCOUNT", "account_name": "Collection Account KES 2",
                   "currency": "KES", "minimum_balance": 0, "can_overdraw": false, "status": "ACTIVE",
                   "status_description": "All KYC steps completed"}),
        )
        .await;
    let w2 = r.expect(201).clone();
    let a2 = s(&w2["account_number"]);
    assert!(a2 > a1, "account numbers come from a growing sequence: {a1} then {a2}");
    let r = admin.get(&format!("/api/v1/accounts/account-number/{a1}")).await;
    let got = r.expect(200);
    assert_eq!(got["profile"], Value::Null);
    assert_eq!(got["client"]["client_code"], code.as_str());
    assert_money(&got["current_balance"], "0.0000");
    let r = admin.get(&format!("/api/v1/accounts/account-number/{a2}")).await;
    let got = r.expect(200);
    assert_eq!(got["profile"]["client_profile_id"], pid.as_str());
    assert_eq!(got["client"]["client_code"], code.as_str());

    // ---- client service with a FIXED fee of 4 ----
    let svc = admin
        .create_service(
            &code,
            json!({"has_transaction_fee": true, "transaction_fee_type": "FIXED", "transaction_fee": 4,
                   "minimum_transaction_amount": 1.0, "maximum_transaction_amount": 100000}),
        )
        .await;
    let sc = s(&svc["client_service_code"]);
    assert_eq!(sc.len(), 10, "{svc}");
    assert_id(&svc["client_service_id"]);
    assert_eq!(svc["client_code"], code.as_str());
    assert_eq!(svc["has_transaction_fee"], true);
    assert_eq!(svc["transaction_fee_type"], "FIXED");
    assert_money(&svc["transaction_fee"], "4.0000");
    assert_money(&svc["minimum_transaction_amount"], "1.0000");
    assert_money(&svc["maximum_transaction_amount"], "100000.0000");
    assert_eq!(svc["is_active"], 1);

    // ---- CREDIT 100: 96 to the wallet, 4 to the commission account ----
    let credit_sti = uid("credit-");
    let r = admin
        .post(
            "/api/v1/transactions?command=CREDIT",
            json!({"account_number": a1, "client_service_code": sc, "transaction_source": "EXTERNAL",
                   "transaction_amount": 100.0, "source_transaction_id": credit_sti,
                   "source_transaction_data": {"data": "test"}, "transaction_narration": "Test",
                   "transaction_date": "2024-07-29T12:34:56Z"}),
        )
        .await;
    let credit = r.expect(200).clone();
    assert!(r.header("idempotent-replayed").is_none(), "a first answer is no replay");
    assert_leg_shape(&credit);
    assert_eq!(credit["account"], a1.as_str());
    assert_eq!(credit["client_service"], sc.as_str());
    assert_eq!(credit["transaction_type"], "CREDIT");
    assert_eq!(credit["currency"], "KES");
    assert_money(&credit["transaction_amount"], "96.0000");
    assert_money(&credit["previous_balance"], "0.0000");
    assert_money(&credit["current_balance"], "96.0000");
    assert_eq!(credit["transaction_source"], "EXTERNAL");
    assert_eq!(credit["source_transaction_id"], credit_sti.as_str());
    assert_eq!(credit["source_transaction_data"], json!({"data": "test"}));
    assert_eq!(credit["transaction_narration"], "Test");
    assert_eq!(credit["transaction_date"], "2024-07-29T12:34:56.000Z");
    let legs = legs_of(&admin, &credit_sti).await;
    assert_eq!(legs.len(), 3, "settlement, wallet and fee legs: {legs:?}");
    for l in &legs {
        assert_leg_shape(l);
        assert_eq!(l["source_transaction_id"], credit_sti.as_str());
    }
    let ids: Vec<u64> = legs.iter().map(|l| assert_id(&l["transaction_id"])).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let settlement = s(&credit["other_party_account"]);
    assert_ne!(settlement, a1);
    let sleg = leg_on(&legs, &settlement);
    assert_eq!(sleg["transaction_type"], "DEBIT");
    assert_money(&sleg["transaction_amount"], "100.0000");
    assert_eq!(sleg["other_party_account"], a1.as_str());
    let fee_leg = legs
        .iter()
        .find(|l| l["account"] != a1.as_str() && l["account"] != settlement.as_str())
        .expect("fee leg");
    assert_eq!(fee_leg["transaction_type"], "CREDIT");
    assert_money(&fee_leg["transaction_amount"], "4.0000");
    assert_money(&fee_leg["current_balance"], "4.0000");
    let commission = s(&fee_leg["account"]);
    let r = admin
        .get(&format!("/api/v1/accounts/account-number/{commission}"))
        .await;
    assert_eq!(r.expect(200)["account_type_code"], "COMMISSION_ACCOUNT");
    assert_eq!(r.body["client"]["client_code"], code.as_str());
    let r = admin
        .get(&format!("/api/v1/accounts/account-number/{settlement}"))
        .await;
    assert_money(&r.expect(200)["current_balance"], "-100.0000");

    // ---- DEBIT 10: 10 + fee 4 from the wallet ----
    let r = admin
        .post(
            "/api/v1/transactions?command=DEBIT",
            json!({"account_number": a1, "client_service_code": sc, "transaction_source": "EXTERNAL",
                   "transaction_amount": "10", "source_transaction_id": uid("debit-")}),
        )
        .await;
    let debit = r.expect(200).clone();
    assert_leg_shape(&debit);
    assert_eq!(debit["transaction_type"], "DEBIT");
    assert_money(&debit["transaction_amount"], "14.0000");
    assert_money(&debit["previous_balance"], "96.0000");
    assert_money(&debit["current_balance"], "82.0000");
    assert_eq!(debit["other_party_account"], settlement.as_str());
    assert!(assert_id(&debit["transaction_id"]) > assert_id(&credit["transaction_id"]));

    // ---- transfer 20 from w1 to w2 ----
    let transfer_sti = uid("transfer-");
    let transfer_body = json!({"source_account_number": a1, "destination_account_number": a2, "client_service_code": sc,
        "transaction_amount": 20.0, "source_transaction_id": transfer_sti, "transaction_source": "INTERNAL",
        "source_transaction_data": {}, "transaction_narration": "Transfer for payment"});
    let r = admin.post("/api/v1/account-transfers", transfer_body.clone()).await;
    let transfer = r.expect(200).clone();
    let transfer_bytes = r.bytes.clone();
    assert!(r.header("idempotent-replayed").is_none());
    let (src, dst, fee) = (
        &transfer["source_transaction"],
        &transfer["destination_transaction"],
        &transfer["fee_transaction"],
    );
    for leg in [src, dst, fee] {
        assert_leg_shape(leg);
        assert_eq!(leg["source_transaction_id"], transfer_sti.as_str());
        assert_eq!(leg["transaction_narration"], "Transfer for payment");
        assert_eq!(leg["transaction_source"], "INTERNAL");
    }
    assert_eq!(src["account"], a1.as_str());
    assert_eq!(src["transaction_type"], "DEBIT");
    assert_money(&src["transaction_amount"], "24.0000");
    assert_money(&src["previous_balance"], "82.0000");
    assert_money(&src["current_balance"], "58.0000");
    assert_eq!(src["other_party_account"], a2.as_str());
    assert_eq!(dst["account"], a2.as_str());
    assert_eq!(dst["transaction_type"], "CREDIT");
    assert_money(&dst["transaction_amount"], "20.0000");
    assert_money(&dst["previous_balance"], "0.0000");
    assert_money(&dst["current_balance"], "20.0000");
    assert_eq!(dst["other_party_account"], a1.as_str());
    assert_eq!(fee["account"], commission.as_str());
    assert_money(&fee["transaction_amount"], "4.0000");
    assert_money(&fee["previous_balance"], "8.0000");
    assert_money(&fee["current_balance"], "12.0000");

    // ---- idempotent replay: the same answer, byte for byte; no money moves ----
    let r = admin.post("/api/v1/account-transfers", transfer_body.clone()).await;
    r.expect(200);
    assert_eq!(r.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        r.text(),
        String::from_utf8_lossy(&transfer_bytes),
        "a replay answers the same bytes"
    );
    assert_eq!(admin.balance(&a1).await, Decimal::from(58));
    assert_eq!(admin.balance(&a2).await, Decimal::from(20));
    assert_eq!(admin.balance(&commission).await, Decimal::from(12));
    // The same key with another amount: 409, nothing moves.
    let mut other = transfer_body.clone();
    other["transaction_amount"] = json!(21);
    admin.post("/api/v1/account-transfers", other).await.expect_error(409);
    assert_eq!(admin.balance(&a1).await, Decimal::from(58));
    assert_eq!(legs_of(&admin, &transfer_sti).await.len(), 3);

    // ---- reversal by the destination leg's id: every leg negated, fee included ----
    let dst_id = s(&dst["transaction_id"]);
    let r = admin
        .post_empty(&format!("/api/v1/transactions/{dst_id}?command=REVERSE"))
        .await;
    let rev = r.expect(200).clone();
    let (rs, rd, rf) = (
        &rev["source_transaction"],
        &rev["destination_transaction"],
        &rev["fee_transaction"],
    );
    for leg in [rs, rd, rf] {
        assert_leg_shape(leg);
        assert!(assert_id(&leg["transaction_id"]) > assert_id(&fee["transaction_id"]));
    }
    assert_eq!(rs["account"], a2.as_str());
    assert_eq!(rs["transaction_type"], "DEBIT");
    assert_money(&rs["transaction_amount"], "20.0000");
    assert_money(&rs["previous_balance"], "20.0000");
    assert_money(&rs["current_balance"], "0.0000");
    assert_eq!(rd["account"], a1.as_str());
    assert_eq!(rd["transaction_type"], "CREDIT");
    assert_money(&rd["transaction_amount"], "24.0000");
    assert_money(&rd["previous_balance"], "58.0000");
    assert_money(&rd["current_balance"], "82.0000");
    assert_eq!(rf["account"], commission.as_str());
    assert_eq!(rf["transaction_type"], "DEBIT");
    assert_money(&rf["transaction_amount"], "4.0000");
    assert_money(&rf["current_balance"], "8.0000");
    // Once: a second reversal, by either leg, is 409.
    let r = admin
        .post_empty(&format!("/api/v1/transactions/{dst_id}?command=REVERSE"))
        .await;
    r.expect_message(409, "Transaction already reversed");
    let src_id = s(&src["transaction_id"]);
    admin
        .post_empty(&format!("/api/v1/transactions/{src_id}?command=REVERSE"))
        .await
        .expect_error(409);
    assert_eq!(admin.balance(&a1).await, Decimal::from(82));
    assert_eq!(admin.balance(&a2).await, Decimal::ZERO);
    // The posting's legs and its reversal's are found by its source_transaction_id.
    assert_eq!(legs_of(&admin, &transfer_sti).await.len(), 6);

    // ---- tracking: one leg, and the list ----
    let r = admin.get(&format!("/api/v1/transactions/{src_id}")).await;
    let got = r.expect(200);
    for f in [
        "transaction_id",
        "account",
        "transaction_type",
        "transaction_amount",
        "previous_balance",
        "current_balance",
        "other_party_account",
        "source_transaction_id",
        "transaction_date",
    ] {
        assert_eq!(got[f], src[f], "GET /transactions/{src_id}: {f}");
    }
    let r = admin.get(&format!("/api/v1/transactions?account_number={a1}")).await;
    let list = r.expect(200).clone();
    let records = list["records"].as_array().unwrap();
    assert_eq!(list["metadata"]["page"], 1);
    assert_eq!(
        list["metadata"]["total_count"], 4,
        "credit, debit, transfer, reversal: {list}"
    );
    assert_eq!(list["metadata"]["per_page"], 4);
    let ids: Vec<u64> = records.iter().map(|l| assert_id(&l["transaction_id"])).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert_eq!(ids[0], assert_id(&rd["transaction_id"]));
    assert_eq!(ids[3], assert_id(&credit["transaction_id"]));
    let stats = list["statistics"].as_array().unwrap();
    assert!(!stats.is_empty());
    for st in stats {
        assert!(st["name"].is_string() && st["count"].is_u64(), "{st}");
    }
    assert!(
        stats.iter().any(|st| st["count"] == 4),
        "a total among the statistics: {stats:?}"
    );
    let r = admin
        .get(&format!("/api/v1/transactions?account_number={a1}&page=2&limit=3"))
        .await;
    let p2 = r.expect(200);
    assert_eq!(p2["metadata"], json!({"page": 2, "per_page": 1, "total_count": 4}));
    assert_eq!(p2["records"][0]["transaction_id"], credit["transaction_id"]);
    let r = admin
        .get(&format!(
            "/api/v1/transactions?account_number={a1}&transaction_type=CREDIT"
        ))
        .await;
    assert_eq!(r.expect(200)["metadata"]["total_count"], 2);
    // Page and limit may come in a JSON body on the GET, as the documents show.
    let r = admin
        .get_with(
            &format!("/api/v1/transactions?account_number={a1}"),
            json!({"page": 1, "limit": 2}),
        )
        .await;
    assert_eq!(r.expect(200)["metadata"]["per_page"], 2);

    // ---- statements ----
    let (start, end) = (utc_date(-1), utc_date(1));
    let r = admin
        .get(&format!(
            "/api/v1/account-statements/doc?account_number={a1}&start_date={start}&end_date={end}&doc_type=EXCEL"
        ))
        .await;
    r.expect(200);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    let cd = r.header("content-disposition").unwrap_or_default().to_owned();
    assert!(cd.starts_with("attachment; filename=") && cd.contains(".xlsx"), "{cd}");
    check_excel(&r, &[&credit, &debit, src, rd], "82.0000");
    let r = admin
        .get(&format!(
            "/api/v1/account-statements/doc?account_number={a1}&start_date={start}&end_date={end}&doc_type=PDF"
        ))
        .await;
    r.expect(200);
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    let cd = r.header("content-disposition").unwrap_or_default().to_owned();
    assert!(cd.starts_with("attachment; filename=") && cd.contains(".pdf"), "{cd}");
    assert!(r.bytes.starts_with(b"%PDF-"), "a PDF");
    assert!(r.text().trim_end().ends_with("%%EOF"), "a complete PDF");
    let text = r.text();
    for leg in [&credit, &debit, src, rd] {
        let id = s(&leg["transaction_id"]);
        assert!(text.contains(&id), "the PDF names transaction {id}");
    }
    assert!(
        text.contains("82.0000") && text.contains("96.0000"),
        "balances in the PDF"
    );
    // A period without transactions: 404 in the error shape.
    admin
        .get(&format!(
            "/api/v1/account-statements/doc?account_number={a1}&start_date=2001-01-01&end_date=2001-01-31&doc_type=PDF"
        ))
        .await
        .expect_message(404, "No transactions within period");

    // ---- the profile shows its wallets with balances ----
    admin.credit_or_debit("CREDIT", &a2, &sc, json!(50)).await.expect(200);
    let r = admin
        .get(&format!("/api/v1/client-profiles/client-profile-id/{pid}"))
        .await;
    let p = r.expect(200);
    assert_eq!(p["profile_id"], profile["profile_id"]);
    assert_eq!(p["client_profile_id"], pid.as_str());
    assert_eq!(p["client"]["client_code"], code.as_str());
    assert_timestamp(&p["updated_at"]);
    let accounts = p["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), 1, "only w2 belongs to the profile: {p}");
    assert_eq!(accounts[0]["account_number"], a2.as_str());
    assert_money(&accounts[0]["current_balance"], "46.0000");
    assert_money(&accounts[0]["minimum_balance"], "0.0000");

    // ---- double entry: the client's accounts sum to zero ----
    assert_eq!(client_total(&admin, &code).await, Decimal::ZERO);
    assert_eq!(admin.balance(&commission).await, Decimal::from(12));
    assert_eq!(admin.balance(&settlement).await, Decimal::from(-140));
}

/// Reads the EXCEL statement back: opening balance, one row per leg with running balances,
/// closing balance.
fn check_excel(r: &Reply, legs: &[&Value], closing: &str) {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(r.bytes.clone())).expect("a real .xlsx");
    let name = book.sheet_names().first().cloned().expect("a sheet");
    let range = book.worksheet_range(&name).expect("the sheet");
    let cell = |row: u32, col: u32| match range.get_value((row, col)) {
        Some(Data::String(s)) => s.clone(),
        Some(Data::Empty) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let rows = range.end().map(|(r, _)| r).unwrap_or(0);
    let find = |label: &str| (0..=rows).find(|&i| cell(i, 0) == label);
    let opening = find("Opening balance").expect("an opening balance row");
    assert_eq!(cell(opening, 1), "0.0000");
    let header = (0..=rows)
        .find(|&i| (0..7).any(|c| cell(i, c) == "Transaction ID"))
        .expect("a header row");
    let col = |title: &str| {
        (0..7)
            .find(|&c| cell(header, c).eq_ignore_ascii_case(title))
            .unwrap_or_else(|| panic!("column {title}"))
    };
    let (c_id, c_amount, c_prev, c_cur) = (
        col("Transaction ID"),
        col("Amount"),
        col("Previous balance"),
        col("Current balance"),
    );
    let mut running = "0.0000".to_owned();
    for (i, leg) in legs.iter().enumerate() {
        let row = header + 1 + i as u32;
        assert_eq!(cell(row, c_id), s(&leg["transaction_id"]), "row {i}");
        assert_eq!(cell(row, c_amount), s(&leg["transaction_amount"]), "row {i}");
        assert_eq!(cell(row, c_prev), running, "row {i}: running balance");
        assert_eq!(cell(row, c_cur), s(&leg["current_balance"]), "row {i}");
        running = cell(row, c_cur);
    }
    assert!(
        cell(header + 1 + legs.len() as u32, c_id).is_empty(),
        "one row per leg, no more"
    );
    let closing_row = find("Closing balance").expect("a closing balance row");
    assert!(closing_row > header);
    assert_eq!(cell(closing_row, 1), closing);
    assert_eq!(running, closing);
}

/// A credit of `amount` through `service` to a fresh wallet; (wallet leg amount, fee leg amount).
async fn credit_fee(admin: &Api, wallet: &str, service: &str, amount: &str) -> (String, Option<String>) {
    let sti = uid("fee-");
    let r = admin
        .post(
            "/api/v1/transactions?command=CREDIT",
            json!({"account_number": wallet, "client_service_code": service, "transaction_source": "EXTERNAL",
                   "transaction_amount": amount, "source_transaction_id": sti}),
        )
        .await;
    let leg = r.expect(200).clone();
    let legs = legs_of(admin, &sti).await;
    let fee = legs
        .iter()
        .find(|l| l["account"] != wallet && l["account"] != leg["other_party_account"])
        .map(|l| s(&l["transaction_amount"]));
    (s(&leg["transaction_amount"]), fee)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percentage_fees_round_half_even_to_four_decimals() {
    let srv = shared_server();
    let admin = Api::admin(srv.base()).await;
    let code = s(&admin.create_client("Percent Co").await["client_code"]);
    let svc = admin
        .create_service(
            &code,
            json!({"has_transaction_fee": true, "transaction_fee_type": "PERCENTAGE", "transaction_fee": 1.5,
                   "minimum_transaction_amount": 0.0001}),
        )
        .await;
    let sc = s(&svc["client_service_code"]);
    assert_money(&svc["transaction_fee"], "1.5000");
    let w = s(&admin.create_wallet(&code, "ACTIVE").await["account_number"]);
    // 1.5% of 10.01 = 0.15015 -> 0.1502 (the 1 before the 5 is odd: up)
    assert_eq!(
        credit_fee(&admin, &w, &sc, "10.01").await,
        ("9.8598".into(), Some("0.1502".into()))
    );
    // 1.5% of 10.03 = 0.15045 -> 0.1504 (the 4 before the 5 is even: down; half-up would say 0.1505)
    assert_eq!(
        credit_fee(&admin, &w, &sc, "10.03").await,
        ("9.8796".into(), Some("0.1504".into()))
    );
    // 1.5% of 100 = 1.5 exactly
    assert_eq!(
        credit_fee(&admin, &w, &sc, "100").await,
        ("98.5000".into(), Some("1.5000".into()))
    );
    // A fee that rounds to zero: no fee leg at all.
    assert_eq!(credit_fee(&admin, &w, &sc, "0.0033").await, ("0.0033".into(), None));
    assert_eq!(admin.balance(&w).await, "118.2427".parse::<Decimal>().unwrap());
    assert_eq!(client_total(&admin, &code).await, Decimal::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fee_tiers_first_matching_band_bounds_inclusive() {
    let srv = shared_server();
    let admin = Api::admin(srv.base()).await;
    let code = s(&admin.create_client("Tiered Co").await["client_code"]);
    let svc = admin
        .create_service(
            &code,
            json!({"has_transaction_fee": true, "transaction_fee_type": "FIXED", "transaction_fee": 7,
            "transaction_fee_tiers": [
                {"min_amount": 10, "max_amount": 100, "transaction_fee_type": "FIXED", "transaction_fee": 1},
                {"min_amount": 100, "max_amount": 1000, "transaction_fee_type": "PERCENTAGE", "transaction_fee": 2},
                {"min_amount": 10, "max_amount": 5000, "transaction_fee_type": "FIXED", "transaction_fee": 99}
            ]}),
        )
        .await;
    let tiers = svc["transaction_fee_tiers"].as_array().expect("tiers echoed");
    assert_eq!(tiers.len(), 3);
    assert_money(&tiers[1]["min_amount"], "100.0000");
    assert_eq!(tiers[1]["transaction_fee_type"], "PERCENTAGE");
    assert_money(&tiers[1]["transaction_fee"], "2.0000");
    let sc = s(&svc["client_service_code"]);
    let w = s(&admin.create_wallet(&code, "ACTIVE").await["account_number"]);
    for (amount, wallet_leg, fee) in [
        ("10", "9.0000", "1.0000"),           // lower bound of tier 1, inclusive
        ("100", "99.0000", "1.0000"),         // upper bound of tier 1 inclusive; first match beats tiers 2 and 3
        ("100.0001", "98.0001", "2.0000"),    // tier 2: 2% = 2.000002 -> 2.0000
        ("1000", "980.0000", "20.0000"),      // upper bound of tier 2, inclusive
        ("1000.0001", "901.0001", "99.0000"), // tier 3
        ("5000", "4901.0000", "99.0000"),     // upper bound of tier 3, inclusive
        ("9.9999", "2.9999", "7.0000"),       // no tier: the service's own fee
        ("5000.0001", "4993.0001", "7.0000"), // no tier
    ] {
        assert_eq!(
            credit_fee(&admin, &w, &sc, amount).await,
            (wallet_leg.to_owned(), Some(fee.to_owned())),
            "credit of {amount}"
        );
    }
    assert_eq!(client_total(&admin, &code).await, Decimal::ZERO);
}
