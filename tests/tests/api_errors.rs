//! Every documented error over real HTTP: malformed bodies, wrong types, missing fields,
//! enum spellings, amounts, currencies, body size, paging, unknown objects, and the ledger's
//! refusals (funds, service limits, inactive service, closing a funded wallet). Each answer is
//! in the documents' shape `{"status","message","code":"HttpException"}`, 400s with `message`
//! an array of sentences; the helper refuses any 5xx on every request.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::sync::Arc;
use walletd_tests::text_of as s;
use walletd_tests::{Api, Method, Reply, TestServer, client_body, shared_server, uid};

/// A client with an active fee-less service (0.01 to 1000) and an ACTIVE wallet holding 100.
struct Fixture {
    /// Keeps the shared server up while the test runs.
    _srv: Arc<TestServer>,
    admin: Api,
    code: String,
    service: String,
    wallet: String,
}

async fn fixture() -> Fixture {
    let srv = shared_server();
    let admin = Api::admin(srv.base()).await;
    let code = s(&admin.create_client("Errors Co").await["client_code"]);
    let service = s(&admin
        .create_service(
            &code,
            json!({"minimum_transaction_amount": "0.01", "maximum_transaction_amount": "1000"}),
        )
        .await["client_service_code"]);
    let wallet = s(&admin.create_wallet(&code, "ACTIVE").await["account_number"]);
    admin
        .credit_or_debit("CREDIT", &wallet, &service, json!(100))
        .await
        .expect(200);
    Fixture {
        _srv: srv,
        admin,
        code,
        service,
        wallet,
    }
}

impl Fixture {
    fn credit_body(&self, amount: &str) -> String {
        format!(
            r#"{{"account_number":"{}","client_service_code":"{}","transaction_source":"EXTERNAL","transaction_amount":{amount},"source_transaction_id":"{}"}}"#,
            self.wallet,
            self.service,
            uid("err-")
        )
    }

    /// A CREDIT whose `transaction_amount` is this raw JSON text.
    async fn credit_raw(&self, amount: &str) -> Reply {
        self.admin
            .raw(
                Method::POST,
                "/api/v1/transactions?command=CREDIT",
                self.credit_body(amount).into_bytes(),
                Some("application/json"),
            )
            .await
    }
}

#[track_caller]
fn has(sentences: &[String], wanted: &str) {
    assert!(
        sentences.iter().any(|s| s == wanted),
        "expected the sentence {wanted:?} among {sentences:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_wrong_types_and_missing_fields_are_400_arrays() {
    let f = fixture().await;
    let a = &f.admin;
    // Malformed JSON, and JSON that is not an object.
    for body in [
        &b"{\"client_name\": "[..],
        b"{not json}",
        b"[1,2,3]",
        b"\"text\"",
        b"\xff\xfe",
    ] {
        let r = a
            .raw(Method::POST, "/api/v1/clients", body.to_vec(), Some("application/json"))
            .await;
        r.expect_validation();
    }
    let r = a
        .raw(
            Method::POST,
            "/api/v1/transactions?command=CREDIT",
            b"{\"account_number\": \"1\",".to_vec(),
            None,
        )
        .await;
    r.expect_validation();
    // Missing fields: one sentence per problem.
    let r = a.post("/api/v1/clients", json!({})).await;
    let m = r.expect_validation();
    for field in [
        "client_name",
        "client_email",
        "client_phone_number",
        "contact_person_name",
        "contact_person_email",
        "contact_person_msisdn",
        "business_pin",
        "country",
        "is_active",
    ] {
        has(&m, &format!("{field} should not be empty"));
    }
    assert!(
        !m.iter()
            .any(|s| s.starts_with("physical_address") || s.starts_with("logo")),
        "optional fields are not required: {m:?}"
    );
    // An empty body reads as {}: the same sentences.
    let r = a.raw(Method::POST, "/api/v1/clients", Vec::new(), None).await;
    has(&r.expect_validation(), "client_name should not be empty");
    // Wrong types.
    let mut body = client_body("Typed Co");
    body["client_name"] = json!(5);
    body["is_active"] = json!("yes");
    body["description"] = json!(["x"]);
    let m = a.post("/api/v1/clients", body).await.expect_validation();
    has(&m, "client_name must be a string");
    has(&m, "is_active must be one of the following values: 0, 1");
    has(&m, "description must be a string");
    let r = a
        .post(
            "/api/v1/accounts",
            json!({"client_code": f.code, "account_type_code": "CURRENT_ACCOUNT", "account_name": "W",
                   "currency": "KES", "minimum_balance": 0, "can_overdraw": "no", "status": "ACTIVE"}),
        )
        .await;
    has(&r.expect_validation(), "can_overdraw must be a boolean value");
    let r = a
        .post(
            "/api/v1/transactions?command=DEBIT",
            json!({"account_number": f.wallet, "client_service_code": f.service, "transaction_source": "EXTERNAL",
                   "transaction_amount": 1, "source_transaction_id": uid("t-"), "source_transaction_data": "text",
                   "transaction_date": "yesterday"}),
        )
        .await;
    let m = r.expect_validation();
    has(&m, "source_transaction_data must be an object");
    has(&m, "transaction_date must be a valid ISO 8601 date string");
    let r = a
        .post(
            "/api/v1/transactions?command=CREDIT",
            json!({"account_number": f.wallet}),
        )
        .await;
    let m = r.expect_validation();
    for field in [
        "client_service_code",
        "transaction_amount",
        "transaction_source",
        "source_transaction_id",
    ] {
        has(&m, &format!("{field} should not be empty"));
    }
    let r = a.post("/api/v1/account-transfers", json!({})).await;
    let m = r.expect_validation();
    has(&m, "source_account_number should not be empty");
    has(&m, "destination_account_number should not be empty");
    // The body is JSON whatever the Content-Type says.
    let r = a
        .raw(
            Method::POST,
            "/api/v1/clients",
            client_body("Plain Text Co").to_string().into_bytes(),
            Some("text/plain"),
        )
        .await;
    r.expect(201);
    // Login without fields.
    let r = Api::anonymous(&a.base).post("/api/v1/auth/login", json!({})).await;
    has(&r.expect_validation(), "username should not be empty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_enum_values_name_the_allowed_ones() {
    let f = fixture().await;
    let a = &f.admin;
    let state_path = format!("/api/v1/accounts/account-number/{}", f.wallet);
    for query in ["?command=FOO", "?command=close", "", "?command="] {
        let r = a.post_empty(&format!("{state_path}{query}")).await;
        assert_eq!(
            r.expect_validation(),
            ["command must be one of the following values: CLOSE, ACTIVATE, DORMANT, SUSPEND"],
            "{query}"
        );
    }
    let r = a
        .post(
            "/api/v1/transactions?command=REFUND",
            json!({"account_number": f.wallet, "client_service_code": f.service, "transaction_source": "EXTERNAL",
                   "transaction_amount": 1, "source_transaction_id": uid("t-")}),
        )
        .await;
    assert_eq!(
        r.expect_validation(),
        ["command must be one of the following values: CREDIT, DEBIT"]
    );
    let r = a
        .post(
            "/api/v1/accounts",
            json!({"client_code": f.code, "account_type_code": "CURRENT_ACCOUNT", "account_name": "W",
                   "currency": "KES", "minimum_balance": 0, "status": "OPEN"}),
        )
        .await;
    assert_eq!(
        r.expect_validation(),
        ["status must be one of the following values: PRE_ACTIVE, ACTIVE, DORMANT, SUSPENDED, CLOSED, INACTIVE"]
    );
    let mut p = walletd_tests::profile_body(&f.code, &uid("P"));
    p["profile_type"] = json!("COMPANY");
    assert_eq!(
        a.post("/api/v1/profiles", p).await.expect_validation(),
        ["profile_type must be one of the following values: BUSINESS, INDIVIDUAL"]
    );
    let r = a
        .post(
            "/api/v1/client-services",
            json!({"client_code": f.code, "client_service_name": "S", "service_code": "CUSTOM_SERVICE",
                   "has_transaction_fee": true, "transaction_fee_type": "FLAT", "transaction_fee": 1,
                   "minimum_transaction_amount": 1, "maximum_transaction_amount": 10, "is_active": 1}),
        )
        .await;
    has(
        &r.expect_validation(),
        "transaction_fee_type must be one of the following values: FIXED, PERCENTAGE",
    );
    let r = a
        .get(&format!(
            "/api/v1/account-statements/doc?account_number={}&start_date=2024-01-01&end_date=2024-01-02&doc_type=WORD",
            f.wallet
        ))
        .await;
    has(
        &r.expect_validation(),
        "doc_type must be one of the following values: EXCEL, PDF",
    );
    let r = a
        .get(&format!(
            "/api/v1/transactions?account_number={}&transaction_type=REFUND",
            f.wallet
        ))
        .await;
    has(
        &r.expect_validation(),
        "transaction_type must be one of the following values: CREDIT, DEBIT",
    );
    let r = a.post_empty("/api/v1/transactions/1?command=UNDO").await;
    has(
        &r.expect_validation(),
        "command must be one of the following values: REVERSE",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amounts_are_plain_decimals_with_at_most_four_places() {
    let f = fixture().await;
    for (amount, sentence) in [
        ("1e2", "transaction_amount must be written in plain decimal notation"),
        ("1E2", "transaction_amount must be written in plain decimal notation"),
        (
            "\"1e2\"",
            "transaction_amount must be written in plain decimal notation",
        ),
        ("1.00001", "transaction_amount must have at most 4 decimal places"),
        ("\"0.00001\"", "transaction_amount must have at most 4 decimal places"),
        ("0", "transaction_amount must be a positive number"),
        ("0.0000", "transaction_amount must be a positive number"),
        ("-5", "transaction_amount must be a positive number"),
        ("\"-0.5\"", "transaction_amount must be a positive number"),
        ("10000000000000", "transaction_amount must not exceed 1000000000000"),
        ("1000000000000.0001", "transaction_amount must not exceed 1000000000000"),
        (
            "123456789012345678901234567890",
            "transaction_amount must not exceed 1000000000000",
        ),
        ("\"abc\"", "transaction_amount must be a number"),
        ("\"NaN\"", "transaction_amount must be a number"),
        ("\"Infinity\"", "transaction_amount must be a number"),
        ("\"\"", "transaction_amount must be a number"),
        ("true", "transaction_amount must be a number"),
        ("[100]", "transaction_amount must be a number"),
        ("{\"value\":1}", "transaction_amount must be a number"),
    ] {
        let r = f.credit_raw(amount).await;
        assert_eq!(r.status, 400, "amount {amount}: {}", r.text());
        let m = r.expect_validation();
        has(&m, sentence);
    }
    // Nothing moved.
    assert_eq!(f.admin.balance(&f.wallet).await, Decimal::from(100));
    // A decimal string and a plain number are both fine.
    let r = f.credit_raw("\"100.50\"").await;
    assert_eq!(r.expect(200)["transaction_amount"], "100.5000");
    let r = f.credit_raw("0.0100").await;
    assert_eq!(r.expect(200)["transaction_amount"], "0.0100");
    let r = f.credit_raw("12.3456").await;
    assert_eq!(r.expect(200)["transaction_amount"], "12.3456");
    assert_eq!(f.admin.balance(&f.wallet).await, "212.8556".parse::<Decimal>().unwrap());
    // Limits, fees and minimum balances obey the same notation.
    let r = f
        .admin
        .post(
            "/api/v1/client-services",
            json!({"client_code": f.code, "client_service_name": "S", "service_code": "CUSTOM_SERVICE",
                   "has_transaction_fee": true, "transaction_fee_type": "FIXED", "transaction_fee": -1,
                   "minimum_transaction_amount": "1.00001", "maximum_transaction_amount": 10, "is_active": 1}),
        )
        .await;
    let m = r.expect_validation();
    has(&m, "transaction_fee must not be less than 0");
    has(&m, "minimum_transaction_amount must have at most 4 decimal places");
    let r = f
        .admin
        .raw(
            Method::POST,
            "/api/v1/accounts",
            format!(
                r#"{{"client_code":"{}","account_type_code":"CURRENT_ACCOUNT","account_name":"W","currency":"KES","minimum_balance":5e1,"status":"ACTIVE"}}"#,
                f.code
            )
            .into_bytes(),
            Some("application/json"),
        )
        .await;
    has(
        &r.expect_validation(),
        "minimum_balance must be written in plain decimal notation",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn currencies_must_be_iso_4217() {
    let f = fixture().await;
    for currency in [
        json!("XYZ"),
        json!("kes"),
        json!("KESS"),
        json!("KE"),
        json!(""),
        json!(404),
    ] {
        let r = f
            .admin
            .post(
                "/api/v1/accounts",
                json!({"client_code": f.code, "account_type_code": "CURRENT_ACCOUNT", "account_name": "W",
                       "currency": currency, "minimum_balance": 0, "status": "ACTIVE"}),
            )
            .await;
        assert_eq!(r.status, 400, "currency {currency}: {}", r.text());
        r.expect_validation();
    }
    for currency in ["USD", "EUR", "UGX"] {
        let r = f
            .admin
            .post(
                "/api/v1/accounts",
                json!({"client_code": f.code, "account_type_code": "CURRENT_ACCOUNT", "account_name": "W",
                       "currency": currency, "minimum_balance": 0, "status": "ACTIVE"}),
            )
            .await;
        assert_eq!(r.expect(201)["currency"], currency);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_in_the_error_shape() {
    let f = fixture().await;
    let mut body = client_body("Big Co");
    body["description"] = json!("x".repeat(70 * 1024));
    let bytes = body.to_string().into_bytes();
    assert!(bytes.len() > 64 * 1024);
    for path in ["/api/v1/clients", "/api/v1/transactions?command=CREDIT"] {
        let r = f
            .admin
            .raw(Method::POST, path, bytes.clone(), Some("application/json"))
            .await;
        assert!(r.status == 413 || r.status == 400, "{path}: {} {}", r.status, r.text());
        r.expect_error(r.status);
    }
    // Just under the limit is read, and judged on its fields: a text field holds at most 4096
    // characters (not bytes).
    body["description"] = json!("x".repeat(60 * 1024));
    let r = f.admin.post("/api/v1/clients", body.clone()).await;
    has(
        &r.expect_validation(),
        "description must be at most 4096 characters long",
    );
    body["description"] = json!("é".repeat(4096));
    f.admin.post("/api/v1/clients", body).await.expect(201);
    // The posting routes' own reading of a body says the same.
    let r = f
        .admin
        .raw(
            Method::POST,
            "/api/v1/transactions?command=CREDIT",
            format!(
                r#"{{"account_number":"{}","client_service_code":"{}","transaction_source":"{}","transaction_amount":1,"source_transaction_id":"{}"}}"#,
                f.wallet,
                f.service,
                "E".repeat(5000),
                uid("long-")
            )
            .into_bytes(),
            Some("application/json"),
        )
        .await;
    has(
        &r.expect_validation(),
        "transaction_source must be at most 4096 characters long",
    );
    // Routes that read no body refuse one over the limit too, and do nothing.
    let credit = f.admin.credit_or_debit("CREDIT", &f.wallet, &f.service, json!(1)).await;
    let id = s(&credit.expect(200)["transaction_id"]);
    let r = f
        .admin
        .raw(
            Method::POST,
            &format!("/api/v1/transactions/{id}?command=REVERSE"),
            bytes.clone(),
            Some("application/json"),
        )
        .await;
    r.expect_message(413, "Request body is too large");
    f.admin
        .post_empty(&format!("/api/v1/transactions/{id}?command=REVERSE"))
        .await
        .expect(200);
    let (user, _) = f.admin.client_user(&f.code).await;
    let r = f
        .admin
        .raw(
            Method::DELETE,
            &format!("/api/v1/users/{user}"),
            bytes,
            Some("application/json"),
        )
        .await;
    r.expect_message(413, "Request body is too large");
    f.admin.delete(&format!("/api/v1/users/{user}"), None).await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_page_and_limit_are_400_and_large_limits_are_clamped() {
    let f = fixture().await;
    let a = &f.admin;
    for path in [
        "/api/v1/clients",
        "/api/v1/accounts",
        "/api/v1/account-types",
        "/api/v1/client-services",
        "/api/v1/transactions",
        "/api/v1/users",
    ] {
        for q in [
            "page=0", "page=-1", "page=x", "page=1.5", "limit=0", "limit=-1", "limit=x", "page=",
        ] {
            let r = a.get(&format!("{path}?{q}")).await;
            assert_eq!(r.status, 400, "{path}?{q}: {}", r.text());
            let m = r.expect_validation();
            let field = q.split('=').next().unwrap();
            has(&m, &format!("{field} must be a positive integer"));
        }
        // In a JSON body too.
        let r = a.get_with(path, json!({"page": 0, "limit": "ten"})).await;
        let m = r.expect_validation();
        has(&m, "page must be a positive integer");
        has(&m, "limit must be a positive integer");
    }
    // limit 1000 is clamped to 100: a wallet with 101 legs.
    let postings: Vec<Value> = (0..100)
        .map(|_| {
            json!({"command": "CREDIT", "account_number": f.wallet, "client_service_code": f.service,
                   "transaction_source": "EXTERNAL", "transaction_amount": 1, "source_transaction_id": uid("c-")})
        })
        .collect();
    let r = a
        .post(
            "/api/v1/transactions/batch",
            json!({"atomic": true, "postings": postings}),
        )
        .await;
    assert_eq!(r.expect(200)["succeeded"], 100);
    let r = a
        .get(&format!("/api/v1/transactions?account_number={}&limit=1000", f.wallet))
        .await;
    let body = r.expect(200);
    assert_eq!(body["metadata"]["total_count"], 101);
    assert_eq!(body["metadata"]["per_page"], 100);
    assert_eq!(body["records"].as_array().unwrap().len(), 100);
    let r = a
        .get(&format!(
            "/api/v1/transactions?account_number={}&limit=1000&page=2",
            f.wallet
        ))
        .await;
    assert_eq!(r.expect(200)["metadata"]["per_page"], 1);
    // A page past the end is empty, not an error.
    let r = a
        .get(&format!("/api/v1/transactions?account_number={}&page=99", f.wallet))
        .await;
    assert_eq!(r.expect(200)["records"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_objects_are_404() {
    let f = fixture().await;
    let a = &f.admin;
    a.get("/api/v1/accounts/account-number/99999999")
        .await
        .expect_message(404, "Account not found");
    a.post_empty("/api/v1/accounts/account-number/99999999?command=CLOSE")
        .await
        .expect_message(404, "Account not found");
    a.credit_or_debit("CREDIT", "99999999", &f.service, json!(1))
        .await
        .expect_message(404, "Account not found");
    a.transfer(&f.wallet, "99999999", &f.service, json!(1))
        .await
        .expect_message(404, "Account not found");
    a.get("/api/v1/transactions?account_number=99999999")
        .await
        .expect_message(404, "Account not found");
    a.get(
        "/api/v1/account-statements/doc?account_number=99999999&start_date=2024-01-01&end_date=2024-01-02&doc_type=PDF",
    )
    .await
    .expect_message(404, "Account not found");
    a.get("/api/v1/client-profiles/client-profile-id/NO-SUCH-PROFILE")
        .await
        .expect_message(404, "Profile not found");
    a.post_empty("/api/v1/profiles/client-profile-id/NO-SUCH-PROFILE?command=ACTIVATE")
        .await
        .expect_message(404, "Profile not found");
    let r = a
        .post(
            "/api/v1/accounts",
            json!({"client_profile_id": "NO-SUCH-PROFILE", "account_type_code": "CURRENT_ACCOUNT", "account_name": "W",
                   "currency": "KES", "minimum_balance": 0, "status": "ACTIVE"}),
        )
        .await;
    r.expect_message(404, "Profile not found");
    a.get("/api/v1/clients/NOSUCHCODE")
        .await
        .expect_message(404, "Client not found");
    a.credit_or_debit("CREDIT", &f.wallet, "NOSUCHSVC1", json!(1))
        .await
        .expect_message(404, "Client service not found");
    for id in ["999999999", "abc", "-1"] {
        a.get(&format!("/api/v1/transactions/{id}"))
            .await
            .expect_message(404, "Transaction not found");
        a.post_empty(&format!("/api/v1/transactions/{id}?command=REVERSE"))
            .await
            .expect_message(404, "Transaction not found");
    }
    let r = a
        .post(
            "/api/v1/accounts",
            json!({"client_code": f.code, "account_type_code": "NO_SUCH_TYPE", "account_name": "W",
                   "currency": "KES", "minimum_balance": 0, "status": "ACTIVE"}),
        )
        .await;
    r.expect_error(404);
    a.delete("/api/v1/users/no-such-user", None).await.expect_error(404);
    // Unknown routes and methods answer in the same shape.
    a.get("/api/v1/no-such-route").await.expect_error(404);
    a.request(Method::DELETE, "/api/v1/clients", None)
        .await
        .expect_error(405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledgers_refusals_are_422_and_409() {
    let f = fixture().await;
    let a = &f.admin;
    // Insufficient funds (100 held).
    let r = a
        .credit_or_debit("DEBIT", &f.wallet, &f.service, json!("100.0001"))
        .await;
    let m = r.expect_error(422).as_str().unwrap().to_owned();
    assert!(m.contains("Insufficient funds"), "{m}");
    let other = s(&a.create_wallet(&f.code, "ACTIVE").await["account_number"]);
    let r = a.transfer(&f.wallet, &other, &f.service, json!(101)).await;
    assert!(r.expect_error(422).as_str().unwrap().contains("Insufficient funds"));
    // The whole balance is fine.
    a.transfer(&f.wallet, &other, &f.service, json!(100)).await.expect(200);
    a.transfer(&other, &f.wallet, &f.service, json!(100)).await.expect(200);
    // A minimum balance counts.
    let r = a
        .post(
            "/api/v1/accounts",
            json!({"client_code": f.code, "account_type_code": "CURRENT_ACCOUNT", "account_name": "Min",
                   "currency": "KES", "minimum_balance": "10", "status": "ACTIVE"}),
        )
        .await;
    let min_wallet = s(&r.expect(201)["account_number"]);
    a.credit_or_debit("CREDIT", &min_wallet, &f.service, json!(15))
        .await
        .expect(200);
    let r = a
        .credit_or_debit("DEBIT", &min_wallet, &f.service, json!("5.0001"))
        .await;
    assert!(r.expect_error(422).as_str().unwrap().contains("Insufficient funds"));
    a.credit_or_debit("DEBIT", &min_wallet, &f.service, json!(5))
        .await
        .expect(200);
    // Service limits (0.01 to 1000).
    for amount in ["0.0099", "1000.0001", "5000"] {
        let r = a.credit_or_debit("CREDIT", &f.wallet, &f.service, json!(amount)).await;
        let m = r.expect_error(422).as_str().unwrap().to_owned();
        assert_eq!(
            m, "transaction_amount must be between 0.0100 and 1000.0000 for this client service",
            "{amount}"
        );
    }
    for amount in ["0.01", "1000"] {
        a.credit_or_debit("CREDIT", &f.wallet, &f.service, json!(amount))
            .await
            .expect(200);
    }
    // An inactive service.
    let inactive = s(&a.create_service(&f.code, json!({"is_active": 0})).await["client_service_code"]);
    for command in ["CREDIT", "DEBIT"] {
        a.credit_or_debit(command, &f.wallet, &inactive, json!(1))
            .await
            .expect_message(422, "Client service is not active");
    }
    a.transfer(&f.wallet, &other, &inactive, json!(1))
        .await
        .expect_message(422, "Client service is not active");
    // A fee larger than the amount.
    let fee10 = s(&a
        .create_service(
            &f.code,
            json!({"has_transaction_fee": true, "transaction_fee_type": "FIXED", "transaction_fee": 10}),
        )
        .await["client_service_code"]);
    a.credit_or_debit("CREDIT", &f.wallet, &fee10, json!(5))
        .await
        .expect_error(422);
    // A fee equal to the amount is not larger: the wallet is credited nothing, and the fee
    // goes to the commission account.
    let before = a.balance(&f.wallet).await;
    let r = a.credit_or_debit("CREDIT", &f.wallet, &fee10, json!(10)).await;
    let leg = r.expect(200);
    assert_eq!(leg["current_balance"], leg["previous_balance"], "{leg}");
    assert_eq!(a.balance(&f.wallet).await, before);
    // Reversed, it takes nothing back: a zero leg, of the same type as read back later, and
    // never "-0.0000".
    let fresh = s(&a.create_wallet(&f.code, "ACTIVE").await["account_number"]);
    let r = a.credit_or_debit("CREDIT", &fresh, &fee10, json!(10)).await;
    let credited = r.expect(200);
    assert_eq!(credited["current_balance"], "0.0000", "{credited}");
    let r = a
        .post_empty(&format!(
            "/api/v1/transactions/{}?command=REVERSE",
            s(&credited["transaction_id"])
        ))
        .await;
    let back = &r.expect(200)["source_transaction"];
    assert_eq!(back["account"], fresh.as_str(), "{back}");
    assert_eq!(back["current_balance"], "0.0000", "{back}");
    let read = a
        .get(&format!("/api/v1/transactions/{}", s(&back["transaction_id"])))
        .await;
    assert_eq!(read.expect(200)["transaction_type"], back["transaction_type"]);
    let r = a.get(&format!("/api/v1/accounts/account-number/{fresh}")).await;
    assert_eq!(r.expect(200)["current_balance"], "0.0000");
    // CLOSE with a non-zero balance: 409.
    let r = a
        .post_empty(&format!("/api/v1/accounts/account-number/{}?command=CLOSE", f.wallet))
        .await;
    r.expect_message(409, "Account balance must be zero to close it");
    let r = a.get(&format!("/api/v1/accounts/account-number/{}", f.wallet)).await;
    assert_eq!(r.expect(200)["status"], "ACTIVE");
    // A transfer to itself is invalid.
    a.transfer(&f.wallet, &f.wallet, &f.service, json!(1))
        .await
        .expect_validation();
    // A transfer between currencies is refused.
    let usd = a
        .post(
            "/api/v1/accounts",
            json!({"client_code": f.code, "account_type_code": "CURRENT_ACCOUNT", "account_name": "USD",
                   "currency": "USD", "minimum_balance": 0, "status": "ACTIVE"}),
        )
        .await;
    let usd = s(&usd.expect(201)["account_number"]);
    a.transfer(&f.wallet, &usd, &f.service, json!(1))
        .await
        .expect_error(422);
    // Statement date problems are 400.
    for q in [
        "start_date=yesterday&end_date=2024-01-02",
        "start_date=2024-02-01&end_date=2024-01-01",
        "start_date=2024-13-01&end_date=2024-12-01",
        "end_date=2024-01-01",
    ] {
        let r = a
            .get(&format!(
                "/api/v1/account-statements/doc?account_number={}&doc_type=PDF&{q}",
                f.wallet
            ))
            .await;
        assert_eq!(r.status, 400, "{q}: {}", r.text());
        r.expect_validation();
    }
}

/// What a conformance review found: a required `minimum_balance`, an inactive client, an
/// inactive wallet type and the settlement account named in a CREDIT or DEBIT. Each is refused
/// and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_clients_and_types_and_the_settlement_account_are_refused() {
    let f = fixture().await;
    let a = &f.admin;
    // The client's own user sees the client's wallets and no others'.
    let (_, own) = a.client_user(&f.code).await;
    let wallets_before = own.get("/api/v1/accounts").await.expect(200)["metadata"]["total_count"].clone();
    let r = a
        .post(
            "/api/v1/accounts",
            json!({"client_code": f.code, "account_type_code": "CURRENT_ACCOUNT", "account_name": "W",
                   "currency": "KES", "status": "ACTIVE"}),
        )
        .await;
    has(&r.expect_validation(), "minimum_balance should not be empty");

    // A wallet type that exists but is inactive is a refusal, not an unknown object.
    let r = a
        .post(
            "/api/v1/account-types",
            json!({"client_code": f.code, "account_type_name": "Retired", "account_type_description": "No longer offered",
                   "is_active": 0}),
        )
        .await;
    let retired = s(&r.expect(201)["account_type_code"]);
    let r = a
        .post(
            "/api/v1/accounts",
            json!({"client_code": f.code, "account_type_code": retired, "account_name": "W",
                   "currency": "KES", "minimum_balance": 0, "status": "ACTIVE"}),
        )
        .await;
    r.expect_message(422, "Account type is not active");
    let wallets_after = own.get("/api/v1/accounts").await.expect(200)["metadata"]["total_count"].clone();
    assert_eq!(wallets_after, wallets_before, "no wallet was created");

    // The settlement account is the other side of every CREDIT and DEBIT, never their account.
    let r = a.credit_or_debit("CREDIT", &f.wallet, &f.service, json!(5)).await;
    let settlement = s(&r.expect(200)["other_party_account"]);
    let held = a.balance(&settlement).await;
    for command in ["CREDIT", "DEBIT"] {
        let r = a.credit_or_debit(command, &settlement, &f.service, json!(5)).await;
        assert_eq!(r.status, 422, "{command} of the settlement account: {}", r.text());
    }
    assert_eq!(a.balance(&settlement).await, held);

    // v1's `is_active: 0` client is an inactive client profile: its wallets refuse postings.
    let mut body = client_body("Dormant Co");
    body["is_active"] = json!(0);
    let code = s(&a.post("/api/v1/clients", body).await.expect(201)["client_code"]);
    let service = s(&a
        .create_service(
            &code,
            json!({"minimum_transaction_amount": "0.01", "maximum_transaction_amount": "1000"}),
        )
        .await["client_service_code"]);
    let wallet = s(&a.create_wallet(&code, "ACTIVE").await["account_number"]);
    let r = a.credit_or_debit("CREDIT", &wallet, &service, json!(5)).await;
    r.expect_message(422, "Client is not active");
    assert_eq!(a.balance(&wallet).await, Decimal::ZERO);
}
