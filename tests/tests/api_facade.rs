//! The sub-wallets facade over real HTTP: approving apps, personal and organisation wallets,
//! their account numbers, taken numbers, listing by appId + userId (body or query), updates,
//! KYC verification, `currentBalance` as an exact JSON number, and deletion (zero balance
//! only) that closes the wallet and keeps its history in `/api/v1`.

use rust_decimal::Decimal;
use serde_json::json;
use walletd_tests::text_of as s;
use walletd_tests::{Api, Method, Reply, shared_server, uid};

/// The facade's error shape, exactly.
#[track_caller]
fn facade_error(r: &Reply, status: u16) -> String {
    r.expect(status);
    let obj = r.body.as_object().unwrap_or_else(|| panic!("{}: {}", r.what, r.text()));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["message", "status"], "{}: {}", r.what, r.text());
    assert_eq!(r.body["status"], "error");
    s(&r.body["message"])
}

/// The exact JSON text of `currentBalance` in an answer.
fn raw_balance(r: &Reply) -> Vec<String> {
    let text = r.text();
    text.match_indices("\"currentBalance\":")
        .map(|(i, m)| {
            text[i + m.len()..]
                .chars()
                .take_while(|c| *c != ',' && *c != '}')
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_are_approved_by_an_admin_with_a_unique_prefix() {
    let srv = shared_server();
    let admin = Api::admin(srv.base()).await;
    let code = s(&admin.create_client("App Owner").await["client_code"]);
    let app_id = uid("app");
    let r = admin
        .post(
            "/api/apps",
            json!({"appId": app_id, "appPrefix": "QQQ", "client_code": code}),
        )
        .await;
    let body = r.expect(201);
    assert_eq!(body["status"], "success");
    assert_eq!(body["app"]["appId"], app_id.as_str());
    assert_eq!(body["app"]["appPrefix"], "QQQ");
    assert_eq!(body["app"]["client_code"], code.as_str());
    assert_eq!(body["app"]["currency"], "KES");
    walletd_tests::assert_timestamp(&body["app"]["createdAt"]);
    // Another app, another currency.
    let r = admin
        .post(
            "/api/apps",
            json!({"appId": uid("app"), "appPrefix": "QQU", "client_code": code, "currency": "USD"}),
        )
        .await;
    assert_eq!(r.expect(201)["app"]["currency"], "USD");
    // The prefix and the appId are unique.
    let r = admin
        .post(
            "/api/apps",
            json!({"appId": uid("app"), "appPrefix": "QQQ", "client_code": code}),
        )
        .await;
    facade_error(&r, 409);
    let r = admin
        .post(
            "/api/apps",
            json!({"appId": app_id, "appPrefix": "QQR", "client_code": code}),
        )
        .await;
    facade_error(&r, 409);
    // Three uppercase letters.
    for prefix in ["QQ", "QQQQ", "qqq", "Q1Q", "", "ÄÄÄ"] {
        let r = admin
            .post(
                "/api/apps",
                json!({"appId": uid("app"), "appPrefix": prefix, "client_code": code}),
            )
            .await;
        assert_eq!(r.status, 400, "prefix {prefix:?}: {}", r.text());
        facade_error(&r, 400);
    }
    let r = admin
        .post(
            "/api/apps",
            json!({"appId": uid("app"), "appPrefix": "QQV", "client_code": code, "currency": "XXY"}),
        )
        .await;
    facade_error(&r, 400);
    let r = admin
        .post(
            "/api/apps",
            json!({"appId": uid("app"), "appPrefix": "QQW", "client_code": "NOSUCHCODE"}),
        )
        .await;
    facade_error(&r, 404);
    let r = admin.post("/api/apps", json!({})).await;
    facade_error(&r, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_and_organisation_wallets_through_their_life() {
    let srv = shared_server();
    let admin = Api::admin(srv.base()).await;
    let code = s(&admin.create_client("Tuku Co").await["client_code"]);
    let service = s(&admin
        .create_service(&code, json!({"minimum_transaction_amount": "0.0001"}))
        .await["client_service_code"]);
    let app = uid("app123-");
    admin
        .post(
            "/api/apps",
            json!({"appId": app, "appPrefix": "AAA", "client_code": code}),
        )
        .await
        .expect(201);

    // ---- a personal wallet: prefix + the phone number's digits ----
    let r = admin
        .post(
            "/api/wallets/create",
            json!({"appId": app, "userId": "user456", "name": "Savings Wallet", "description": "Personal savings wallet",
                   "tukuTillNumber": "+254700123456", "verified": true}),
        )
        .await;
    let body = r.expect(201).clone();
    assert_eq!(body["status"], "success");
    assert_eq!(body["message"], "Wallet created successfully.");
    let w = &body["wallet"];
    assert_eq!(w["accountNumber"], "AAA254700123456");
    assert_eq!(w["appPrefix"], "AAA");
    assert_eq!(w["tukuTillNumber"], "+254700123456");
    assert!(
        w.get("walletNumber").is_none(),
        "personal wallets have no walletNumber: {w}"
    );
    assert_eq!(w["name"], "Savings Wallet");
    assert_eq!(w["description"], "Personal savings wallet");
    assert_eq!(raw_balance(&r), ["0"], "currentBalance is the JSON number 0");
    assert_eq!(w["status"], "active");
    assert_eq!(w["verified"], true);
    assert_eq!(w["userId"], "user456");
    let personal = "AAA254700123456";

    // ---- an organisation wallet: prefix + tukuTillNumber + walletNumber ----
    let r = admin
        .post(
            "/api/wallets/create",
            json!({"appId": app, "userId": "user789", "name": "Operations Wallet",
                   "description": "Main wallet for organizational operations", "tukuTillNumber": "00001",
                   "walletNumber": 2, "verified": true}),
        )
        .await;
    let w = &r.expect(201)["wallet"];
    assert_eq!(w["accountNumber"], "AAA000012");
    assert_eq!(w["walletNumber"], 2);
    assert_eq!(w["tukuTillNumber"], "00001");
    let r = admin
        .post(
            "/api/wallets/create",
            json!({"appId": app, "userId": "user789", "name": "Sub wallet 3", "tukuTillNumber": "00001",
                   "walletNumber": 3, "verified": true}),
        )
        .await;
    assert_eq!(r.expect(201)["wallet"]["accountNumber"], "AAA000013");

    // ---- a taken number is 409 ----
    let r = admin
        .post(
            "/api/wallets/create",
            json!({"appId": app, "userId": "someone-else", "name": "Again", "tukuTillNumber": "+254700123456"}),
        )
        .await;
    assert_eq!(facade_error(&r, 409), "Wallet already exists");
    let r = admin
        .post(
            "/api/wallets/create",
            json!({"appId": app, "userId": "user789", "name": "Again", "tukuTillNumber": "00001", "walletNumber": 2}),
        )
        .await;
    facade_error(&r, 409);
    // Bad input is 400 in the facade's shape; an unknown app 404.
    for bad in [
        json!({"appId": app, "userId": "u", "name": "X", "tukuTillNumber": "+2547abc"}),
        json!({"appId": app, "userId": "u", "name": "X", "tukuTillNumber": "00001", "walletNumber": 0}),
        json!({"appId": app, "userId": "u", "name": "X", "tukuTillNumber": "00001", "walletNumber": "two"}),
        json!({"appId": app, "userId": "u", "tukuTillNumber": "+254700999999"}),
        json!({"appId": app, "userId": "u", "name": "X", "tukuTillNumber": "+254700999999", "verified": "yes"}),
    ] {
        let r = admin.post("/api/wallets/create", bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        facade_error(&r, 400);
    }
    let r = admin
        .post(
            "/api/wallets/create",
            json!({"appId": "no-such-app", "userId": "u", "name": "X", "tukuTillNumber": "+254700999999"}),
        )
        .await;
    assert_eq!(facade_error(&r, 404), "App not found");

    // ---- retrieve by appId + userId, in a JSON body and in the query string ----
    let by_body = admin
        .get_with("/api/wallets/get", json!({"appId": app, "userId": "user789"}))
        .await;
    let by_query = admin.get(&format!("/api/wallets/get?appId={app}&userId=user789")).await;
    assert_eq!(by_body.expect(200), by_query.expect(200));
    assert_eq!(by_body.body["status"], "success");
    let numbers: Vec<&str> = by_body.body["wallets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["accountNumber"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["AAA000012", "AAA000013"]);
    let r = admin.get(&format!("/api/wallets/get?appId={app}&userId=nobody")).await;
    assert_eq!(r.expect(200)["wallets"], json!([]));
    let r = admin.get(&format!("/api/wallets/get?appId={app}")).await;
    facade_error(&r, 400);

    // ---- update name and description ----
    let r = admin
        .put(
            "/api/wallets/update",
            json!({"appId": app, "accountNumber": personal, "name": "Emergency Savings", "description": "Updated wallet description"}),
        )
        .await;
    let body = r.expect(200);
    assert_eq!(body["status"], "success");
    assert_eq!(body["wallet"]["name"], "Emergency Savings");
    assert_eq!(body["wallet"]["description"], "Updated wallet description");
    let r = admin.get(&format!("/api/wallets/get?appId={app}&userId=user456")).await;
    assert_eq!(r.expect(200)["wallets"][0]["name"], "Emergency Savings");
    let r = admin
        .put(
            "/api/wallets/update",
            json!({"appId": app, "accountNumber": "AAA999", "name": "X"}),
        )
        .await;
    assert_eq!(facade_error(&r, 404), "Wallet not found");

    // ---- currentBalance: a JSON number written exactly ----
    let r = admin.credit_or_debit("CREDIT", personal, &service, json!(12.5)).await;
    assert_eq!(r.expect(200)["account"], personal);
    let r = admin.get(&format!("/api/wallets/get?appId={app}&userId=user456")).await;
    r.expect(200);
    assert_eq!(raw_balance(&r), ["12.5"]);
    assert!(r.body["wallets"][0]["currentBalance"].is_number());
    admin
        .credit_or_debit("CREDIT", personal, &service, json!("14987.5"))
        .await
        .expect(200);
    let r = admin.get(&format!("/api/wallets/get?appId={app}&userId=user456")).await;
    assert_eq!(raw_balance(&r), ["15000"]);
    admin
        .credit_or_debit("DEBIT", personal, &service, json!("14999.9999"))
        .await
        .expect(200);
    let r = admin.get(&format!("/api/wallets/get?appId={app}&userId=user456")).await;
    assert_eq!(raw_balance(&r), ["0.0001"]);
    // The facade number works for transfers too.
    admin
        .transfer(personal, "AAA000012", &service, json!("0.0001"))
        .await
        .expect(200);

    // ---- delete: non-zero balance 409; zero balance closes it ----
    let r = admin
        .delete(
            "/api/wallets/delete",
            Some(json!({"appId": app, "accountNumber": "AAA000012"})),
        )
        .await;
    facade_error(&r, 409);
    let r = admin.get(&format!("/api/wallets/get?appId={app}&userId=user789")).await;
    assert_eq!(r.expect(200)["wallets"][0]["status"], "active");
    let r = admin
        .delete(
            "/api/wallets/delete",
            Some(json!({"appId": app, "accountNumber": personal})),
        )
        .await;
    let body = r.expect(200);
    assert_eq!(body["status"], "success");
    assert_eq!(body["wallet"]["status"], "closed");
    assert_eq!(raw_balance(&r), ["0"]);
    // Still there, closed, with its history, in /api/v1.
    let r = admin.get(&format!("/api/v1/accounts/account-number/{personal}")).await;
    let acc = r.expect(200);
    assert_eq!(acc["status"], "CLOSED");
    assert_eq!(acc["account_type_code"], "CURRENT_ACCOUNT");
    // CLOSED is final: a deleted wallet is not renamed.
    let name_before = acc["account_name"].clone();
    let r = admin
        .put(
            "/api/wallets/update",
            json!({"appId": app, "accountNumber": personal, "name": "Renamed after deletion"}),
        )
        .await;
    facade_error(&r, 409);
    let r = admin.get(&format!("/api/v1/accounts/account-number/{personal}")).await;
    assert_eq!(r.expect(200)["account_name"], name_before);
    assert_eq!(acc["currency"], "KES");
    assert_eq!(acc["current_balance"], "0.0000");
    assert_eq!(acc["client"]["client_code"], code.as_str());
    let r = admin
        .get(&format!("/api/v1/transactions?account_number={personal}"))
        .await;
    assert_eq!(
        r.expect(200)["metadata"]["total_count"],
        4,
        "credit, credit, debit, transfer"
    );
    let r = admin.get(&format!("/api/wallets/get?appId={app}&userId=user456")).await;
    assert_eq!(r.expect(200)["wallets"][0]["status"], "closed");
    // A closed wallet takes nothing.
    admin
        .credit_or_debit("CREDIT", personal, &service, json!(1))
        .await
        .expect_error(422);
    // Deleting by the query string works as well.
    let r = admin
        .get_with("/api/wallets/get", json!({"appId": app, "userId": "user789"}))
        .await;
    assert_eq!(r.expect(200)["wallets"][1]["accountNumber"], "AAA000013");
    let r = admin
        .request(
            Method::DELETE,
            &format!("/api/wallets/delete?appId={app}&accountNumber=AAA000013"),
            None,
        )
        .await;
    assert_eq!(r.expect(200)["wallet"]["status"], "closed");
    assert_eq!(walletd_tests::client_total(&admin, &code).await, Decimal::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_wallets_are_pre_active_until_verified() {
    let srv = shared_server();
    let admin = Api::admin(srv.base()).await;
    let code = s(&admin.create_client("KYC Co").await["client_code"]);
    let service = s(&admin.create_service(&code, json!({})).await["client_service_code"]);
    let app = uid("kyc-");
    admin
        .post(
            "/api/apps",
            json!({"appId": app, "appPrefix": "KYC", "client_code": code}),
        )
        .await
        .expect(201);
    for (body, number) in [
        (
            json!({"appId": app, "userId": "u1", "name": "Unverified", "tukuTillNumber": "+254711000001", "verified": false}),
            "KYC254711000001",
        ),
        // verified absent: false
        (
            json!({"appId": app, "userId": "u1", "name": "Default", "tukuTillNumber": "254711000002"}),
            "KYC254711000002",
        ),
    ] {
        let r = admin.post("/api/wallets/create", body).await;
        let w = &r.expect(201)["wallet"];
        assert_eq!(w["accountNumber"], number);
        assert_eq!(w["status"], "pre_active");
        assert_eq!(w["verified"], false);
        let r = admin.get(&format!("/api/v1/accounts/account-number/{number}")).await;
        assert_eq!(r.expect(200)["status"], "PRE_ACTIVE");
        // Not yet: a pre-active wallet takes no credit.
        admin
            .credit_or_debit("CREDIT", number, &service, json!(1))
            .await
            .expect_error(422);
    }
    let number = "KYC254711000001";
    // An update without `verified` leaves it as it is.
    let r = admin
        .put(
            "/api/wallets/update",
            json!({"appId": app, "accountNumber": number, "description": "waiting for KYC"}),
        )
        .await;
    assert_eq!(r.expect(200)["wallet"]["status"], "pre_active");
    let r = admin
        .put(
            "/api/wallets/update",
            json!({"appId": app, "accountNumber": number, "verified": true}),
        )
        .await;
    let w = &r.expect(200)["wallet"];
    assert_eq!(w["status"], "active");
    assert_eq!(w["verified"], true);
    assert_eq!(w["description"], "waiting for KYC");
    let r = admin.get(&format!("/api/v1/accounts/account-number/{number}")).await;
    assert_eq!(r.expect(200)["status"], "ACTIVE");
    admin
        .credit_or_debit("CREDIT", number, &service, json!(1))
        .await
        .expect(200);
    // The other one is still pre-active.
    let r = admin.get(&format!("/api/wallets/get?appId={app}&userId=u1")).await;
    let statuses: Vec<&str> = r.expect(200)["wallets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["active", "pre_active"]);
}
