//! Wallet states against postings over real HTTP: only ACTIVE wallets may be debited (or send
//! a transfer), ACTIVE and DORMANT ones may be credited (or receive one); refusals are 422 and
//! name the rule. CLOSE needs a zero balance and is final. A deactivated profile's wallets
//! refuse postings until it is activated again.

use rust_decimal::Decimal;
use serde_json::json;
use std::sync::Arc;
use walletd_tests::text_of as s;
use walletd_tests::{Api, Reply, TestServer, assert_id, profile_body, shared_server, uid};

struct Fixture {
    _srv: Arc<TestServer>,
    admin: Api,
    code: String,
    service: String,
    /// An ACTIVE wallet holding 1000, the other side of transfers.
    funded: String,
}

async fn fixture(name: &str) -> Fixture {
    let srv = shared_server();
    let admin = Api::admin(srv.base()).await;
    let code = s(&admin.create_client(name).await["client_code"]);
    let service = s(&admin.create_service(&code, json!({})).await["client_service_code"]);
    let funded = s(&admin.create_wallet(&code, "ACTIVE").await["account_number"]);
    admin
        .credit_or_debit("CREDIT", &funded, &service, json!(1000))
        .await
        .expect(200);
    Fixture {
        _srv: srv,
        admin,
        code,
        service,
        funded,
    }
}

impl Fixture {
    async fn command(&self, account: &str, command: &str) -> Reply {
        self.admin
            .post_empty(&format!("/api/v1/accounts/account-number/{account}?command={command}"))
            .await
    }

    async fn status(&self, account: &str) -> String {
        let r = self
            .admin
            .get(&format!("/api/v1/accounts/account-number/{account}"))
            .await;
        s(&r.expect(200)["status"])
    }
}

#[track_caller]
fn refused(r: &Reply, rule: &str) {
    let m = r.expect_error(422).as_str().unwrap_or_default().to_owned();
    assert!(
        m.contains(rule),
        "{}: the refusal must name the rule {rule:?}: {m}",
        r.what
    );
}

const CREDIT_RULE: &str = "only ACTIVE or DORMANT accounts can be credited";
const DEBIT_RULE: &str = "only ACTIVE accounts can be debited";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_status_against_credit_debit_and_transfers() {
    let f = fixture("States Co").await;
    let a = &f.admin;
    // (status on create, status stored, credit ok, debit ok)
    for (create, stored, creditable, debitable) in [
        ("PRE_ACTIVE", "PRE_ACTIVE", false, false),
        ("ACTIVE", "ACTIVE", true, true),
        ("DORMANT", "DORMANT", true, false),
        ("SUSPENDED", "SUSPENDED", false, false),
        ("CLOSED", "CLOSED", false, false),
        ("INACTIVE", "PRE_ACTIVE", false, false),
    ] {
        let w = a.create_wallet(&f.code, create).await;
        assert_eq!(w["status"], stored, "created {create}");
        let w = s(&w["account_number"]);
        assert_eq!(f.status(&w).await, stored);
        // CREDIT
        let r = a.credit_or_debit("CREDIT", &w, &f.service, json!(10)).await;
        if creditable {
            assert_eq!(r.expect(200)["current_balance"], "10.0000", "{create}");
        } else {
            refused(&r, CREDIT_RULE);
            assert!(
                r.body["message"].as_str().unwrap().contains(&w),
                "names the account: {}",
                r.text()
            );
        }
        // transfer in
        let r = a.transfer(&f.funded, &w, &f.service, json!(5)).await;
        if creditable {
            assert_eq!(
                r.expect(200)["destination_transaction"]["current_balance"],
                "15.0000",
                "{create}"
            );
        } else {
            refused(&r, CREDIT_RULE);
        }
        // DEBIT: a DORMANT wallet now holds 15, so only its state refuses it.
        let r = a.credit_or_debit("DEBIT", &w, &f.service, json!(1)).await;
        if debitable {
            assert_eq!(r.expect(200)["current_balance"], "14.0000", "{create}");
        } else {
            refused(&r, DEBIT_RULE);
        }
        // transfer out
        let r = a.transfer(&w, &f.funded, &f.service, json!(1)).await;
        if debitable {
            assert_eq!(r.expect(200)["source_transaction"]["current_balance"], "13.0000");
        } else {
            refused(&r, DEBIT_RULE);
        }
        let expected = match (creditable, debitable) {
            (true, true) => 13,
            (true, false) => 15,
            _ => 0,
        };
        assert_eq!(a.balance(&w).await, Decimal::from(expected), "{create}");
        assert_eq!(f.status(&w).await, stored, "{create}: refusals change no state");
    }
    // Refused postings moved nothing: 1000 - 5 per creditable wallet + 1 from the ACTIVE one.
    assert_eq!(a.balance(&f.funded).await, Decimal::from(1000 - 5 - 5 + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_commands_move_between_states() {
    let f = fixture("Commands Co").await;
    let a = &f.admin;
    let w = s(&a.create_wallet(&f.code, "PRE_ACTIVE").await["account_number"]);
    for (command, status) in [
        ("ACTIVATE", "ACTIVE"),
        ("DORMANT", "DORMANT"),
        ("SUSPEND", "SUSPENDED"),
        ("ACTIVATE", "ACTIVE"),
        ("ACTIVATE", "ACTIVE"),
        ("SUSPEND", "SUSPENDED"),
        ("DORMANT", "DORMANT"),
    ] {
        let r = f.command(&w, command).await;
        let body = r.expect(200);
        assert_eq!(
            body,
            &json!({"account_number": w, "status": status, "message": "Account state updated successfully."}),
            "{command}"
        );
        assert_eq!(f.status(&w).await, status);
    }
    // A DORMANT wallet takes a credit but gives nothing; ACTIVATE and it may pay.
    a.credit_or_debit("CREDIT", &w, &f.service, json!(3)).await.expect(200);
    refused(&a.credit_or_debit("DEBIT", &w, &f.service, json!(3)).await, DEBIT_RULE);
    f.command(&w, "ACTIVATE").await.expect(200);
    a.credit_or_debit("DEBIT", &w, &f.service, json!(3)).await.expect(200);
    // A SUSPENDED wallet takes nothing.
    f.command(&w, "SUSPEND").await.expect(200);
    refused(
        &a.credit_or_debit("CREDIT", &w, &f.service, json!(3)).await,
        CREDIT_RULE,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_needs_a_zero_balance_and_is_final() {
    let f = fixture("Close Co").await;
    let a = &f.admin;
    let w = s(&a.create_wallet(&f.code, "ACTIVE").await["account_number"]);
    a.credit_or_debit("CREDIT", &w, &f.service, json!(5)).await.expect(200);
    f.command(&w, "CLOSE")
        .await
        .expect_message(409, "Account balance must be zero to close it");
    assert_eq!(f.status(&w).await, "ACTIVE");
    // A non-zero balance in a non-ACTIVE state cannot be closed either.
    f.command(&w, "SUSPEND").await.expect(200);
    f.command(&w, "CLOSE").await.expect_error(409);
    f.command(&w, "ACTIVATE").await.expect(200);
    a.credit_or_debit("DEBIT", &w, &f.service, json!(5)).await.expect(200);
    let r = f.command(&w, "CLOSE").await;
    assert_eq!(r.expect(200)["status"], "CLOSED");
    assert_eq!(f.status(&w).await, "CLOSED");
    // Final: no command reopens it, no posting reaches it.
    for command in ["ACTIVATE", "DORMANT", "SUSPEND", "CLOSE"] {
        f.command(&w, command).await.expect_error(409);
        assert_eq!(f.status(&w).await, "CLOSED", "after {command}");
    }
    refused(
        &a.credit_or_debit("CREDIT", &w, &f.service, json!(1)).await,
        CREDIT_RULE,
    );
    refused(&a.transfer(&f.funded, &w, &f.service, json!(1)).await, CREDIT_RULE);
    refused(&a.credit_or_debit("DEBIT", &w, &f.service, json!(1)).await, DEBIT_RULE);
    // Its history stays.
    let r = a.get(&format!("/api/v1/transactions?account_number={w}")).await;
    assert_eq!(r.expect(200)["metadata"]["total_count"], 2);
    // The reversal of a posting on a closed wallet obeys the same rules.
    let credit_id = s(&r.body["records"][1]["transaction_id"]);
    let r = a
        .post_empty(&format!("/api/v1/transactions/{credit_id}?command=REVERSE"))
        .await;
    r.expect_error(422);
    // A wallet created CLOSED is closed for good too.
    let born_closed = s(&a.create_wallet(&f.code, "CLOSED").await["account_number"]);
    f.command(&born_closed, "ACTIVATE").await.expect_error(409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_profiles_wallets_refuse_postings_until_activated() {
    let f = fixture("Profile States Co").await;
    let a = &f.admin;
    let pid = uid("PROF");
    a.post("/api/v1/profiles", profile_body(&f.code, &pid))
        .await
        .expect(201);
    let r = a
        .post(
            "/api/v1/accounts",
            json!({"client_profile_id": pid, "client_code": f.code, "account_type_code": "CURRENT_ACCOUNT",
                   "account_name": "Profile wallet", "currency": "KES", "minimum_balance": 0, "can_overdraw": false,
                   "status": "ACTIVE"}),
        )
        .await;
    let w = s(&r.expect(201)["account_number"]);
    a.credit_or_debit("CREDIT", &w, &f.service, json!(50)).await.expect(200);
    let before = a.transfer(&w, &f.funded, &f.service, json!(5)).await;
    let before_id = s(&before.expect(200)["source_transaction"]["transaction_id"]);

    let r = a
        .post_empty(&format!("/api/v1/profiles/client-profile-id/{pid}?command=DEACTIVATE"))
        .await;
    let body = r.expect(200);
    assert_eq!(body["status"], "INACTIVE");
    assert_eq!(body["message"], "Profile state updated successfully.");
    assert_id(&body["id"]);
    let r = a.get(&format!("/api/v1/client-profiles/client-profile-id/{pid}")).await;
    assert_eq!(r.expect(200)["is_active"], 0);

    let rule = "profile";
    for r in [
        a.credit_or_debit("CREDIT", &w, &f.service, json!(1)).await,
        a.credit_or_debit("DEBIT", &w, &f.service, json!(1)).await,
        a.transfer(&w, &f.funded, &f.service, json!(1)).await,
        a.transfer(&f.funded, &w, &f.service, json!(1)).await,
        a.post_empty(&format!("/api/v1/transactions/{before_id}?command=REVERSE"))
            .await,
    ] {
        let m = r.expect_error(422).as_str().unwrap_or_default().to_owned();
        assert!(m.contains(rule) && m.contains("not active"), "{}: {m}", r.what);
    }
    assert_eq!(a.balance(&w).await, Decimal::from(45));
    // The wallet's own state is untouched.
    assert_eq!(f.status(&w).await, "ACTIVE");

    let r = a
        .post_empty(&format!("/api/v1/profiles/client-profile-id/{pid}?command=ACTIVATE"))
        .await;
    assert_eq!(r.expect(200)["status"], "ACTIVE");
    a.credit_or_debit("CREDIT", &w, &f.service, json!(1)).await.expect(200);
    a.credit_or_debit("DEBIT", &w, &f.service, json!(1)).await.expect(200);
    a.transfer(&f.funded, &w, &f.service, json!(1)).await.expect(200);
    a.post_empty(&format!("/api/v1/transactions/{before_id}?command=REVERSE"))
        .await
        .expect(200);
    assert_eq!(a.balance(&w).await, Decimal::from(51));
    // A bad profile command.
    let r = a
        .post_empty(&format!("/api/v1/profiles/client-profile-id/{pid}?command=CLOSE"))
        .await;
    assert_eq!(
        r.expect_validation(),
        ["command must be one of the following values: ACTIVATE, DEACTIVATE"]
    );
}
