//! The router driven in-process (`tower::ServiceExt::oneshot`) over a real ledger in a
//! temporary directory: the documents' flow end to end, tenant isolation, admin-only routes,
//! validation answers, and the sub-wallets facade.

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;
use walletd_api::{ApiConfig, AppState, app};
use walletd_engine::{Ledger, LedgerConfig};

const ADMIN_PASSWORD: &str = "admin-password-1";

struct Api {
    app: Router,
    ledger: Ledger,
    _dir: TempDir,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    bytes: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

impl Api {
    async fn start() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = Ledger::open(LedgerConfig::new(dir.path())).await.unwrap();
        ledger.bootstrap_admin(Some(ADMIN_PASSWORD.into())).await.unwrap();
        let state = AppState::ready(
            ledger.clone(),
            ApiConfig::new(b"test secret of at least thirty-two bytes".to_vec()),
        );
        Api {
            app: app(state),
            ledger,
            _dir: dir,
        }
    }

    async fn stop(self) {
        let ledger = self.ledger.clone();
        tokio::task::spawn_blocking(move || ledger.shutdown()).await.unwrap();
    }

    async fn raw(&self, method: &str, uri: &str, token: Option<&str>, body: Body, content_type: Option<&str>) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let res = self.app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = to_bytes(res.into_body(), 16 << 20).await.unwrap();
        Reply { status, headers, bytes }
    }

    async fn call(&self, method: &str, uri: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let body = body.map_or_else(Body::empty, |v| Body::from(v.to_string()));
        self.raw(method, uri, token, body, Some("application/json")).await
    }

    /// Calls and checks the status, answering the JSON body.
    async fn ok(&self, method: &str, uri: &str, token: &str, body: Option<Value>, want: u16) -> Value {
        let r = self.call(method, uri, Some(token), body).await;
        assert_eq!(r.status.as_u16(), want, "{method} {uri}: {}", r.text());
        r.json()
    }

    async fn login(&self, username: &str, password: &str) -> String {
        let r = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn admin(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// A client with a profile `BRANCH1`, an ACTIVE KES wallet in it, a second ACTIVE wallet by
    /// client_code, and a client service with `fee` (FIXED). Returns (client_code, wallet,
    /// second wallet, service code).
    async fn tenant(&self, token: &str, name: &str, fee: &str) -> (String, String, String, String) {
        let client = self
            .ok("POST", "/api/v1/clients", token, Some(client_body(name)), 201)
            .await;
        let code = client["client_code"].as_str().unwrap().to_owned();
        self.ok(
            "POST",
            "/api/v1/profiles",
            token,
            Some(profile_body(&code, "BRANCH1")),
            201,
        )
        .await;
        let wallet = self
            .ok(
                "POST",
                "/api/v1/accounts",
                token,
                Some(json!({"client_profile_id": "BRANCH1", "client_code": code, "account_type_code": "CURRENT_ACCOUNT",
                    "account_name": "Collection Account KES 1", "currency": "KES", "minimum_balance": 0, "can_overdraw": false,
                    "status": "ACTIVE", "status_description": "All KYC steps completed"})),
                201,
            )
            .await;
        let second = self
            .ok(
                "POST",
                "/api/v1/accounts",
                token,
                Some(
                    json!({"client_code": code, "account_type_code": "FLOAT_ACCOUNT", "account_name": "Float",
                    "currency": "KES", "minimum_balance": 0, "status": "ACTIVE"}),
                ),
                201,
            )
            .await;
        let service = self
            .ok(
                "POST",
                "/api/v1/client-services",
                token,
                Some(service_body(&code, fee)),
                201,
            )
            .await;
        (
            code,
            wallet["account_number"].as_str().unwrap().to_owned(),
            second["account_number"].as_str().unwrap().to_owned(),
            service["client_service_code"].as_str().unwrap().to_owned(),
        )
    }
}

fn client_body(name: &str) -> Value {
    json!({
        "client_name": name, "client_email": "info@example.com", "client_phone_number": "254712345678",
        "contact_person_name": "Admin", "contact_person_email": "admin@example.com", "contact_person_msisdn": "254712345678",
        "business_pin": "1", "physical_address": "456 Elm St", "country": "Canada", "logo": "https://example.com/logo2.png",
        "description": "Lorem ipsum", "is_active": 1
    })
}

fn profile_body(client_code: &str, id: &str) -> Value {
    json!({
        "client_code": client_code, "profile_name": "Branch 1", "profile_type": "BUSINESS", "client_profile_id": id,
        "profile_email": "branch@example.com", "profile_msisdn": "254712345678", "contact_person_name": "Admin",
        "contact_person_email": "admin@example.com", "contact_person_msisdn": "254712345678", "identification_number": "1",
        "physical_address": "456 Elm St", "country": "Canada", "description": "Lorem", "is_active": 1
    })
}

fn service_body(client_code: &str, fee: &str) -> Value {
    json!({
        "client_code": client_code, "client_service_name": "Payout KES Nairobi", "service_code": "CUSTOM_SERVICE",
        "has_transaction_fee": fee != "0", "transaction_fee_type": "FIXED", "transaction_fee": fee,
        "minimum_transaction_amount": 1.0, "maximum_transaction_amount": 100000, "is_active": 1
    })
}

fn posting(account: &str, service: &str, amount: Value, id: &str) -> Value {
    json!({
        "account_number": account, "client_service_code": service, "transaction_source": "EXTERNAL",
        "transaction_amount": amount, "source_transaction_id": id, "source_transaction_data": {"data": "test"},
        "transaction_narration": "Test", "transaction_date": "2024-07-29T12:34:56Z"
    })
}

fn is_id(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

fn is_timestamp(v: &Value) -> bool {
    // 2024-09-05T17:14:04.734Z
    v.as_str()
        .is_some_and(|s| s.len() == 24 && s.ends_with('Z') && s.as_bytes()[19] == b'.')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_flow_end_to_end() {
    let api = Api::start().await;
    let admin = api.admin().await;

    let health = api.call("GET", "/health", None, None).await;
    assert_eq!((health.status.as_u16(), health.json()), (200, json!({"status": "ok"})));

    let client = api
        .ok("POST", "/api/v1/clients", &admin, Some(client_body("Lipad")), 201)
        .await;
    assert!(is_id(&client["client_id"]));
    let code = client["client_code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 10);
    assert!(code.starts_with("LIP"));
    assert_eq!(client["is_active"], 1);
    assert_eq!(
        api.ok("GET", &format!("/api/v1/clients/{code}"), &admin, None, 200)
            .await["client_code"],
        code
    );

    let profile = api
        .ok(
            "POST",
            "/api/v1/profiles",
            &admin,
            Some(profile_body(&code, "BRANCH1")),
            201,
        )
        .await;
    assert!(is_id(&profile["profile_id"]));
    assert_eq!(profile["client_profile_id"], "BRANCH1");
    assert_eq!(profile["profile_type"], "BUSINESS");

    let ty = api
        .ok(
            "POST",
            "/api/v1/account-types",
            &admin,
            Some(json!({"client_code": code, "account_type_name": "Current Account", "account_type_description": "In and out", "is_active": "1"})),
            201,
        )
        .await;
    let type_code = ty["account_type_code"].as_str().unwrap().to_owned();
    assert_eq!(ty["is_active"], 1);
    let types = api.ok("GET", "/api/v1/account-types", &admin, None, 200).await;
    assert_eq!(types["metadata"]["total_count"], 1);

    let wallet = api
        .ok(
            "POST",
            "/api/v1/accounts",
            &admin,
            Some(json!({"client_profile_id": "BRANCH1", "account_type_code": type_code, "account_name": "Collection Account KES 1",
                "currency": "KES", "minimum_balance": 0, "can_overdraw": false, "status": "ACTIVE", "status_description": "KYC done"})),
            201,
        )
        .await;
    let a = wallet["account_number"].as_str().unwrap().to_owned();
    assert_eq!(a.len(), 8);
    assert!(is_id(&wallet["account_id"]));
    assert_eq!(wallet["minimum_balance"], "0.0000");
    assert!(is_timestamp(&wallet["created_at"]));
    let b = api
        .ok(
            "POST",
            "/api/v1/accounts",
            &admin,
            Some(
                json!({"client_code": code, "account_type_code": "FLOAT_ACCOUNT", "account_name": "Float",
                "currency": "KES", "minimum_balance": "0.0", "status": "ACTIVE"}),
            ),
            201,
        )
        .await["account_number"]
        .as_str()
        .unwrap()
        .to_owned();

    let service = api
        .ok(
            "POST",
            "/api/v1/client-services",
            &admin,
            Some(service_body(&code, "4")),
            201,
        )
        .await;
    let svc = service["client_service_code"].as_str().unwrap().to_owned();
    assert_eq!(service["transaction_fee"], "4.0000");
    assert_eq!(service["transaction_fee_type"], "FIXED");
    assert_eq!(service["minimum_transaction_amount"], "1.0000");

    // Credit 100 with a fee of 4: the wallet gets 96, the fee is its own leg.
    let credit = api
        .ok(
            "POST",
            "/api/v1/transactions?command=CREDIT",
            &admin,
            Some(posting(&a, &svc, json!(100.0), "C1")),
            200,
        )
        .await;
    assert_eq!(credit["transaction_type"], "CREDIT");
    assert_eq!(credit["account"], a);
    assert_eq!(credit["client_service"], svc);
    assert_eq!(credit["transaction_amount"], "96.0000");
    assert_eq!(credit["previous_balance"], "0.0000");
    assert_eq!(credit["current_balance"], "96.0000");
    assert_eq!(credit["other_party_transaction_hash"], "N/A");
    assert_eq!(credit["source_transaction_data"], json!({"data": "test"}));
    assert_eq!(credit["transaction_narration"], "Test");
    assert_eq!(credit["transaction_date"], "2024-07-29T12:34:56.000Z");
    assert!(is_id(&credit["transaction_id"]));
    let legs = api
        .ok(
            "GET",
            "/api/v1/transactions?source_transaction_id=C1",
            &admin,
            None,
            200,
        )
        .await;
    let amounts: Vec<&str> = legs["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["transaction_amount"].as_str().unwrap())
        .collect();
    assert_eq!(legs["metadata"]["total_count"], 3, "{legs}");
    assert!(
        amounts.contains(&"4.0000") && amounts.contains(&"96.0000") && amounts.contains(&"100.0000"),
        "{amounts:?}"
    );
    let one = api
        .ok(
            "GET",
            &format!("/api/v1/transactions/{}", credit["transaction_id"].as_str().unwrap()),
            &admin,
            None,
            200,
        )
        .await;
    assert_eq!(one, credit);

    // Debit 10: 14 leaves the wallet (amount + fee).
    let debit = api
        .ok(
            "POST",
            "/api/v1/transactions?command=DEBIT",
            &admin,
            Some(posting(&a, &svc, json!("10"), "D1")),
            200,
        )
        .await;
    assert_eq!(debit["transaction_type"], "DEBIT");
    assert_eq!(debit["transaction_amount"], "14.0000");
    assert_eq!(debit["current_balance"], "82.0000");

    // Transfer 20 from A to B: 24 leaves A, 20 arrives in B, 4 of fee.
    let transfer_body = json!({"source_account_number": a, "destination_account_number": b, "client_service_code": svc,
        "transaction_amount": 20, "source_transaction_id": "T1", "transaction_source": "INTERNAL",
        "source_transaction_data": {"n": 0.1}, "transaction_narration": "Transfer for payment"});
    let first = api
        .call(
            "POST",
            "/api/v1/account-transfers",
            Some(&admin),
            Some(transfer_body.clone()),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert!(first.headers.get("idempotent-replayed").is_none());
    let transfer = first.json();
    assert_eq!(transfer["source_transaction"]["transaction_amount"], "24.0000");
    assert_eq!(transfer["source_transaction"]["current_balance"], "58.0000");
    assert_eq!(transfer["destination_transaction"]["transaction_amount"], "20.0000");
    assert_eq!(transfer["destination_transaction"]["other_party_account"], a);
    assert_eq!(transfer["fee_transaction"]["transaction_amount"], "4.0000");
    assert_eq!(transfer["source_transaction"]["source_transaction_id"], "T1");
    // Numbers inside source_transaction_data keep their text.
    assert!(first.text().contains(r#""n":0.1"#), "{}", first.text());

    // The same request again: same answer, no money moved, header set.
    let replay = api
        .call(
            "POST",
            "/api/v1/account-transfers",
            Some(&admin),
            Some(transfer_body.clone()),
        )
        .await;
    assert_eq!(replay.status, 200);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.json(), transfer);
    // The same id with another payload.
    let mut changed = transfer_body.clone();
    changed["transaction_amount"] = json!(21);
    let conflict = api
        .call("POST", "/api/v1/account-transfers", Some(&admin), Some(changed))
        .await;
    assert_eq!(conflict.status, 409, "{}", conflict.text());
    assert_eq!(conflict.json()["code"], "HttpException");

    // Reverse the transfer through its destination leg: the whole posting is undone.
    let dest_id = transfer["destination_transaction"]["transaction_id"].as_str().unwrap();
    let reversal = api
        .ok(
            "POST",
            &format!("/api/v1/transactions/{dest_id}?command=REVERSE"),
            &admin,
            None,
            200,
        )
        .await;
    assert_eq!(reversal["source_transaction"]["account"], b);
    assert_eq!(reversal["source_transaction"]["transaction_amount"], "20.0000");
    assert_eq!(reversal["destination_transaction"]["account"], a);
    assert_eq!(reversal["destination_transaction"]["current_balance"], "82.0000");
    assert_eq!(reversal["fee_transaction"]["transaction_type"], "DEBIT");
    let again = api
        .call(
            "POST",
            &format!("/api/v1/transactions/{dest_id}?command=REVERSE"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.text());
    let bad = api
        .call(
            "POST",
            &format!("/api/v1/transactions/{dest_id}?command=UNDO"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        bad.json()["message"],
        json!(["command must be one of the following values: REVERSE"])
    );

    let account = api
        .ok(
            "GET",
            &format!("/api/v1/accounts/account-number/{a}"),
            &admin,
            None,
            200,
        )
        .await;
    assert_eq!(account["current_balance"], "82.0000");
    assert_eq!(account["profile"]["client_profile_id"], "BRANCH1");
    assert_eq!(account["client"]["client_code"], code);

    // The wallet's history, newest first.
    let history = api
        .ok(
            "GET",
            &format!("/api/v1/transactions?account_number={a}&limit=2"),
            &admin,
            None,
            200,
        )
        .await;
    assert_eq!(history["metadata"], json!({"page": 1, "per_page": 2, "total_count": 4}));
    let ids: Vec<u64> = history["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["transaction_id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids[0] > ids[1]);
    let credits = api
        .ok(
            "GET",
            &format!("/api/v1/transactions?account_number={a}&transaction_type=CREDIT"),
            &admin,
            None,
            200,
        )
        .await;
    assert_eq!(credits["metadata"]["total_count"], 2);

    // Statements.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let all = api
        .ok(
            "GET",
            &format!("/api/v1/transactions?account_number={a}&limit=100"),
            &admin,
            None,
            200,
        )
        .await;
    let mut wallet_ids: Vec<String> = all["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["transaction_id"].as_str().unwrap().to_owned())
        .collect();
    wallet_ids.reverse();
    let xlsx = api
        .call(
            "GET",
            &format!(
                "/api/v1/account-statements/doc?account_number={a}&start_date={today}&end_date={today}&doc_type=EXCEL"
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(xlsx.status, 200, "{}", xlsx.text());
    assert_eq!(
        xlsx.headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let compact = today.replace('-', "");
    assert_eq!(
        xlsx.headers["content-disposition"],
        format!("attachment; filename=\"statement-{a}-{compact}-{compact}.xlsx\"")
    );
    {
        use calamine::{Data, Reader, Xlsx};
        let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(xlsx.bytes.to_vec())).unwrap();
        let range = book.worksheet_range("Statement").unwrap();
        let text = |r: u32, c: u32| match range.get_value((r, c)) {
            Some(Data::String(s)) => s.clone(),
            _ => String::new(),
        };
        let header = walletd_api::statement_xlsx::HEADER_ROW;
        assert_eq!(text(1, 1), a);
        assert_eq!(text(6, 1), "0.0000");
        let rows: Vec<String> = (0..4).map(|i| text(header + 1 + i, 1)).collect();
        assert_eq!(rows, wallet_ids);
        assert_eq!(text(header + 1, 4), "96.0000");
        assert_eq!(text(header + 4, 6), "82.0000");
        assert_eq!(text(header + 6, 0), "Closing balance");
        assert_eq!(text(header + 6, 1), "82.0000");
    }
    let pdf = api
        .call(
            "GET",
            &format!(
                "/api/v1/account-statements/doc?account_number={a}&start_date={today}&end_date={today}&doc_type=PDF"
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(pdf.status, 200, "{}", pdf.text());
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    assert!(pdf.bytes.starts_with(b"%PDF-"));
    for id in &wallet_ids {
        let needle = format!("({id}) Tj");
        assert!(
            pdf.bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{id} not in the PDF"
        );
    }
    let none = api
        .call("GET", &format!("/api/v1/account-statements/doc?account_number={a}&start_date=2000-01-01&end_date=2000-01-02&doc_type=PDF"), Some(&admin), None)
        .await;
    assert_eq!(
        (none.status.as_u16(), none.json()["message"].clone()),
        (404, json!("No transactions within period"))
    );
    let reversed = api
        .call("GET", &format!("/api/v1/account-statements/doc?account_number={a}&start_date=2024-02-01&end_date=2024-01-01&doc_type=PDF"), Some(&admin), None)
        .await;
    assert_eq!(reversed.status, 400);
    let bad_type = api
        .call(
            "GET",
            &format!(
                "/api/v1/account-statements/doc?account_number={a}&start_date={today}&end_date={today}&doc_type=CSV"
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        bad_type.json()["message"],
        json!(["doc_type must be one of the following values: EXCEL, PDF"])
    );

    // Wallet state commands.
    let close = api
        .call(
            "POST",
            &format!("/api/v1/accounts/account-number/{a}?command=CLOSE"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(close.status, 409, "{}", close.text());
    let bad = api
        .call(
            "POST",
            &format!("/api/v1/accounts/account-number/{a}?command=OPEN"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.json(),
        json!({"status": 400, "message": ["command must be one of the following values: CLOSE, ACTIVATE, DORMANT, SUSPEND"], "code": "HttpException"})
    );
    let missing = api
        .call(
            "POST",
            &format!("/api/v1/accounts/account-number/{a}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(missing.status, 400);
    let dormant = api
        .ok(
            "POST",
            &format!("/api/v1/accounts/account-number/{a}?command=DORMANT"),
            &admin,
            None,
            200,
        )
        .await;
    assert_eq!(
        dormant,
        json!({"account_number": a, "status": "DORMANT", "message": "Account state updated successfully."})
    );
    let refused = api
        .call(
            "POST",
            "/api/v1/transactions?command=DEBIT",
            Some(&admin),
            Some(posting(&a, &svc, json!(1), "D2")),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    api.ok(
        "POST",
        &format!("/api/v1/accounts/account-number/{a}?command=ACTIVATE"),
        &admin,
        None,
        200,
    )
    .await;
    let unknown = api
        .call("GET", "/api/v1/accounts/account-number/99999999", Some(&admin), None)
        .await;
    assert_eq!(
        (unknown.status.as_u16(), unknown.json()["message"].clone()),
        (404, json!("Account not found"))
    );

    // Profile commands: a deactivated profile's wallets refuse postings.
    let off = api
        .ok(
            "POST",
            "/api/v1/profiles/client-profile-id/BRANCH1?command=DEACTIVATE",
            &admin,
            None,
            200,
        )
        .await;
    assert_eq!(off["status"], "INACTIVE");
    assert_eq!(off["message"], "Profile state updated successfully.");
    let refused = api
        .call(
            "POST",
            "/api/v1/transactions?command=CREDIT",
            Some(&admin),
            Some(posting(&a, &svc, json!(5), "C2")),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    let on = api
        .ok(
            "POST",
            "/api/v1/profiles/client-profile-id/BRANCH1?command=ACTIVATE",
            &admin,
            None,
            200,
        )
        .await;
    assert_eq!(on["status"], "ACTIVE");
    let fetched = api
        .ok(
            "GET",
            "/api/v1/client-profiles/client-profile-id/BRANCH1",
            &admin,
            None,
            200,
        )
        .await;
    assert_eq!(fetched["accounts"][0]["account_number"], a);
    assert_eq!(fetched["accounts"][0]["current_balance"], "82.0000");
    assert_eq!(fetched["client"]["client_code"], code);
    let nope = api
        .call(
            "GET",
            "/api/v1/client-profiles/client-profile-id/NOPE",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        nope.json(),
        json!({"status": 404, "message": "Profile not found", "code": "HttpException"})
    );

    // Services listed with the document's envelope.
    let services = api.ok("GET", "/api/v1/client-services", &admin, None, 200).await;
    assert_eq!(services["statistics"][0], json!({"name": "Total", "count": 1}));
    assert_eq!(services["records"][0]["service"]["service_code"], "CUSTOM_SERVICE");

    let doc = api.call("GET", "/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.json()["paths"]["/api/v1/account-transfers"]["post"].is_object());
    // Under /api/v1, as every route there but login, it needs a token.
    let anonymous = api.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(anonymous.status, 401);
    let with_token = api.call("GET", "/api/v1/openapi.json", Some(&admin), None).await;
    assert_eq!(with_token.json(), doc.json());
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_isolated() {
    let api = Api::start().await;
    let admin = api.admin().await;
    let (code_a, wallet_a, _, svc_a) = api.tenant(&admin, "Alpha", "0").await;
    let (code_b, wallet_b, _, svc_b) = api.tenant(&admin, "Beta", "0").await;
    api.ok(
        "POST",
        "/api/v1/transactions?command=CREDIT",
        &admin,
        Some(posting(&wallet_a, &svc_a, json!(50), "X1")),
        200,
    )
    .await;
    let credit_b = api
        .ok(
            "POST",
            "/api/v1/transactions?command=CREDIT",
            &admin,
            Some(posting(&wallet_b, &svc_b, json!(50), "X1")),
            200,
        )
        .await;
    let txn_b = credit_b["transaction_id"].as_str().unwrap().to_owned();

    // Both clients have a BRANCH1: an ADMIN must say which.
    let ambiguous = api
        .call(
            "GET",
            "/api/v1/client-profiles/client-profile-id/BRANCH1",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(ambiguous.status, 409, "{}", ambiguous.text());
    let picked = api
        .ok(
            "GET",
            &format!("/api/v1/client-profiles/client-profile-id/BRANCH1?client_code={code_b}"),
            &admin,
            None,
            200,
        )
        .await;
    assert_eq!(picked["client"]["client_code"], code_b);

    let user = api
        .ok(
            "POST",
            "/api/v1/users",
            &admin,
            Some(json!({"username": "alice", "password": "alice-password", "client_code": code_a, "role": "CLIENT"})),
            201,
        )
        .await;
    assert_eq!(user["client_code"], code_a);
    assert_eq!(user["role"], "CLIENT");
    assert!(user.get("password").is_none() && !user.to_string().contains("argon2"));
    let alice = api.login("alice", "alice-password").await;

    // Her own objects.
    let mine = api
        .ok(
            "GET",
            "/api/v1/client-profiles/client-profile-id/BRANCH1",
            &alice,
            None,
            200,
        )
        .await;
    assert_eq!(mine["client"]["client_code"], code_a);
    // Two wallets, and the settlement account the credit created.
    assert_eq!(
        api.ok("GET", "/api/v1/accounts", &alice, None, 200).await["metadata"]["total_count"],
        3
    );
    assert_eq!(
        api.ok("GET", "/api/v1/client-services", &alice, None, 200).await["metadata"]["total_count"],
        1
    );
    assert_eq!(
        api.ok("GET", "/api/v1/clients", &alice, None, 200).await["metadata"]["total_count"],
        1
    );
    let list = api.ok("GET", "/api/v1/transactions", &alice, None, 200).await;
    assert!(
        list["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["client_service"] == svc_a.as_str()),
        "{list}"
    );
    api.ok(
        "POST",
        "/api/v1/transactions?command=CREDIT",
        &alice,
        Some(posting(&wallet_a, &svc_a, json!(1), "A2")),
        200,
    )
    .await;

    // Everything of B's is 404, exactly as if it did not exist.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    for (method, uri, body) in [
        (
            "GET",
            format!("/api/v1/client-profiles/client-profile-id/BRANCH1?client_code={code_b}"),
            None,
        ),
        ("GET", format!("/api/v1/accounts/account-number/{wallet_b}"), None),
        (
            "POST",
            format!("/api/v1/accounts/account-number/{wallet_b}?command=SUSPEND"),
            None,
        ),
        ("GET", format!("/api/v1/transactions/{txn_b}"), None),
        ("POST", format!("/api/v1/transactions/{txn_b}?command=REVERSE"), None),
        ("GET", format!("/api/v1/transactions?account_number={wallet_b}"), None),
        ("GET", format!("/api/v1/clients/{code_b}"), None),
        (
            "POST",
            "/api/v1/transactions?command=CREDIT".to_owned(),
            Some(posting(&wallet_b, &svc_b, json!(1), "Z1")),
        ),
        (
            "POST",
            "/api/v1/transactions?command=CREDIT".to_owned(),
            Some(posting(&wallet_a, &svc_b, json!(1), "Z2")),
        ),
        (
            "POST",
            "/api/v1/profiles".to_owned(),
            Some(profile_body(&code_b, "EVIL")),
        ),
        (
            "GET",
            format!(
                "/api/v1/account-statements/doc?account_number={wallet_b}&start_date={today}&end_date={today}&doc_type=EXCEL"
            ),
            None,
        ),
    ] {
        let r = api.call(method, &uri, Some(&alice), body).await;
        assert_eq!(r.status, 404, "{method} {uri}: {}", r.text());
    }

    // ADMIN-only routes.
    for (method, uri, body) in [
        ("POST", "/api/v1/clients", Some(client_body("Gamma"))),
        (
            "POST",
            "/api/v1/users",
            Some(json!({"username": "bob", "password": "bob-password", "client_code": code_a})),
        ),
        ("GET", "/api/v1/users", None),
        ("DELETE", "/api/v1/users/admin", None),
    ] {
        let r = api.call(method, uri, Some(&alice), body).await;
        assert_eq!(r.status, 403, "{method} {uri}: {}", r.text());
        assert_eq!(r.json()["code"], "HttpException");
    }
    let app = api
        .call(
            "POST",
            "/api/apps",
            Some(&alice),
            Some(json!({"appId": "x", "appPrefix": "XXX", "client_code": code_a})),
        )
        .await;
    assert_eq!(app.status, 403);
    assert_eq!(app.json()["status"], "error");

    // Deleting the user ends its token at once.
    let users = api.ok("GET", "/api/v1/users", &admin, None, 200).await;
    assert_eq!(users["metadata"]["total_count"], 2);
    api.ok("DELETE", "/api/v1/users/alice", &admin, None, 200).await;
    let gone = api.call("GET", "/api/v1/accounts", Some(&alice), None).await;
    assert_eq!(gone.status, 401);
    assert_eq!(
        gone.json(),
        json!({"status": 401, "message": "Unauthorized", "code": "HttpException"})
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_answer_in_the_documents_shape() {
    let api = Api::start().await;
    let admin = api.admin().await;

    // Tokens.
    for token in [None, Some("garbage"), Some("a.b.c")] {
        let r = api.call("GET", "/api/v1/clients", token, None).await;
        assert_eq!(r.status, 401);
        assert_eq!(
            r.json(),
            json!({"status": 401, "message": "Unauthorized", "code": "HttpException"})
        );
    }
    let wrong = api
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "admin", "password": "nope"})),
        )
        .await;
    assert_eq!(
        wrong.json(),
        json!({"status": 401, "message": "Unauthorized", "code": "HttpException"})
    );

    // Bodies: parsed as JSON whatever the Content-Type.
    let r = api
        .raw(
            "POST",
            "/api/v1/auth/login",
            None,
            Body::from(json!({"username": "admin", "password": ADMIN_PASSWORD}).to_string()),
            Some("text/plain"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = api
        .raw(
            "POST",
            "/api/v1/clients",
            Some(&admin),
            Body::from("{\"client_name\": "),
            None,
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["message"].is_array());
    let r = api
        .call(
            "POST",
            "/api/v1/clients",
            Some(&admin),
            Some(json!({"client_name": 5, "is_active": 2})),
        )
        .await;
    assert_eq!(r.status, 400);
    let problems = r.json()["message"].clone();
    for sentence in [
        "client_name must be a string",
        "client_email should not be empty",
        "country must be a string",
        "is_active must be one of the following values: 0, 1",
    ] {
        assert!(
            problems.as_array().unwrap().contains(&json!(sentence)),
            "{sentence} not in {problems}"
        );
    }
    let big = format!("{{\"client_name\": \"{}\"}}", "x".repeat(70 * 1024));
    let r = api
        .raw("POST", "/api/v1/clients", Some(&admin), Body::from(big), None)
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["code"], "HttpException");

    let (code, wallet, _, svc) = api.tenant(&admin, "Delta", "0").await;
    let bad_status = api
        .call(
            "POST",
            "/api/v1/accounts",
            Some(&admin),
            Some(json!({"client_code": code, "account_type_code": "FLOAT_ACCOUNT", "account_name": "x", "currency": "KES", "minimum_balance": 0, "status": "OPEN"})),
        )
        .await;
    assert_eq!(
        bad_status.json()["message"],
        json!(["status must be one of the following values: PRE_ACTIVE, ACTIVE, DORMANT, SUSPENDED, CLOSED, INACTIVE"])
    );
    let bad_currency = api
        .call(
            "POST",
            "/api/v1/accounts",
            Some(&admin),
            Some(json!({"client_code": code, "account_type_code": "FLOAT_ACCOUNT", "account_name": "x", "currency": "KSH", "minimum_balance": 0, "status": "ACTIVE"})),
        )
        .await;
    assert_eq!(bad_currency.status, 400, "{}", bad_currency.text());

    // Amounts are parsed from their text.
    for (amount, sentence) in [
        (
            serde_json::from_str::<Value>("1e2").unwrap(),
            "transaction_amount must be written in plain decimal notation",
        ),
        (
            serde_json::from_str::<Value>("1E2").unwrap(),
            "transaction_amount must be written in plain decimal notation",
        ),
        (
            serde_json::from_str::<Value>("100.00001").unwrap(),
            "transaction_amount must have at most 4 decimal places",
        ),
        (json!(0), "transaction_amount must be a positive number"),
        (json!("-5"), "transaction_amount must be a positive number"),
        (json!(true), "transaction_amount must be a number"),
    ] {
        let r = api
            .call(
                "POST",
                "/api/v1/transactions?command=CREDIT",
                Some(&admin),
                Some(posting(&wallet, &svc, amount.clone(), "V1")),
            )
            .await;
        assert_eq!(r.status, 400, "{amount}: {}", r.text());
        assert_eq!(r.json()["message"], json!([sentence]), "{amount}");
    }
    let exact = api
        .ok(
            "POST",
            "/api/v1/transactions?command=CREDIT",
            &admin,
            Some(posting(&wallet, &svc, json!("1.0001"), "V2")),
            200,
        )
        .await;
    assert_eq!(exact["transaction_amount"], "1.0001");
    let r = api
        .call(
            "POST",
            "/api/v1/transactions",
            Some(&admin),
            Some(posting(&wallet, &svc, json!(1), "V3")),
        )
        .await;
    assert_eq!(
        r.json()["message"],
        json!(["command must be one of the following values: CREDIT, DEBIT"])
    );
    let mut dated = posting(&wallet, &svc, json!(1), "V4");
    dated["transaction_date"] = json!("29/07/2024");
    let r = api
        .call("POST", "/api/v1/transactions?command=CREDIT", Some(&admin), Some(dated))
        .await;
    assert_eq!(
        r.json()["message"],
        json!(["transaction_date must be a valid ISO 8601 date string"])
    );
    let r = api
        .call(
            "POST",
            "/api/v1/transactions?command=DEBIT",
            Some(&admin),
            Some(posting(&wallet, &svc, json!(1000), "V5")),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = api.call("GET", "/api/v1/transactions/abc", Some(&admin), None).await;
    assert_eq!(r.status, 404);
    let r = api
        .call("GET", "/api/v1/transactions?start_date=yesterday", Some(&admin), None)
        .await;
    assert_eq!(r.status, 400);

    // Pages.
    for q in ["page=0", "limit=-1", "page=x", "limit=1.5"] {
        let r = api
            .call("GET", &format!("/api/v1/accounts?{q}"), Some(&admin), None)
            .await;
        assert_eq!(r.status, 400, "{q}");
        assert!(r.json()["message"].is_array());
    }
    // Two wallets and the settlement account the credits created.
    let clamped = api.ok("GET", "/api/v1/accounts?limit=500", &admin, None, 200).await;
    assert_eq!(clamped["metadata"]["per_page"], 3);
    let by_body = api
        .ok(
            "GET",
            "/api/v1/accounts",
            &admin,
            Some(json!({"page": 2, "limit": 1})),
            200,
        )
        .await;
    assert_eq!(by_body["metadata"], json!({"page": 2, "per_page": 1, "total_count": 3}));
    let query_wins = api
        .ok(
            "GET",
            "/api/v1/accounts?page=3",
            &admin,
            Some(json!({"page": 2, "limit": 1})),
            200,
        )
        .await;
    assert_eq!(query_wins["metadata"]["page"], 3);

    // Routes and methods that do not exist.
    let r = api.call("GET", "/api/v1/nothing", Some(&admin), None).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["code"].clone()),
        (404, json!("HttpException"))
    );
    let r = api.call("PATCH", "/api/v1/clients", Some(&admin), None).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["code"], "HttpException");

    // Failed logins are limited.
    for _ in 0..5 {
        let r = api
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"username": "mallory", "password": "guess"})),
            )
            .await;
        assert_eq!(r.status, 401);
    }
    let r = api
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "mallory", "password": "guess"})),
        )
        .await;
    assert_eq!(r.status, 429);
    assert!(r.headers.contains_key("retry-after"));
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_wallets_facade() {
    let api = Api::start().await;
    let admin = api.admin().await;
    let (code, _, _, svc) = api.tenant(&admin, "Tuku", "0").await;

    let app = api
        .call(
            "POST",
            "/api/apps",
            Some(&admin),
            Some(json!({"appId": "app123", "appPrefix": "AAA", "client_code": code})),
        )
        .await;
    assert_eq!(app.status, 201, "{}", app.text());
    let app = app.json();
    assert_eq!(app["status"], "success");
    assert_eq!(app["app"]["appPrefix"], "AAA");
    assert_eq!(app["app"]["currency"], "KES");

    let personal = api
        .ok(
            "POST",
            "/api/wallets/create",
            &admin,
            Some(json!({"appId": "app123", "userId": "user456", "name": "Savings Wallet", "description": "Personal savings wallet",
                "tukuTillNumber": "+254700123456", "verified": true})),
            201,
        )
        .await;
    assert_eq!(personal["status"], "success");
    assert_eq!(personal["message"], "Wallet created successfully.");
    let w = &personal["wallet"];
    assert_eq!(w["accountNumber"], "AAA254700123456");
    assert_eq!(w["status"], "active");
    assert_eq!(w["currentBalance"], json!(0));
    assert_eq!(w["userId"], "user456");
    let org = api
        .ok(
            "POST",
            "/api/wallets/create",
            &admin,
            Some(
                json!({"appId": "app123", "userId": "user456", "name": "Operations Wallet", "tukuTillNumber": "00001",
                "walletNumber": 2, "verified": false}),
            ),
            201,
        )
        .await;
    assert_eq!(org["wallet"]["accountNumber"], "AAA000012");
    assert_eq!(org["wallet"]["walletNumber"], 2);
    assert_eq!(org["wallet"]["status"], "pre_active");
    let taken = api
        .call(
            "POST",
            "/api/wallets/create",
            Some(&admin),
            Some(json!({"appId": "app123", "userId": "u", "name": "x", "tukuTillNumber": "+254700123456"})),
        )
        .await;
    assert_eq!(taken.status, 409);
    assert_eq!(taken.json()["status"], "error");
    let invalid = api
        .call(
            "POST",
            "/api/wallets/create",
            Some(&admin),
            Some(json!({"appId": "app123"})),
        )
        .await;
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.json()["status"], "error");
    assert!(
        invalid.json()["message"]
            .as_str()
            .unwrap()
            .contains("name should not be empty")
    );

    // Facade wallets are ordinary wallets: credit one through /api/v1.
    api.ok(
        "POST",
        "/api/v1/transactions?command=CREDIT",
        &admin,
        Some(posting("AAA254700123456", &svc, json!(12.5), "F1")),
        200,
    )
    .await;
    let list = api
        .call(
            "GET",
            "/api/wallets/get?appId=app123&userId=user456",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.text());
    assert!(list.text().contains(r#""currentBalance":12.5"#), "{}", list.text());
    assert_eq!(list.json()["wallets"].as_array().unwrap().len(), 2);
    let by_body = api
        .ok(
            "GET",
            "/api/wallets/get",
            &admin,
            Some(json!({"appId": "app123", "userId": "user456"})),
            200,
        )
        .await;
    assert_eq!(by_body["wallets"].as_array().unwrap().len(), 2);

    let updated = api
        .ok(
            "PUT",
            "/api/wallets/update",
            &admin,
            Some(json!({"appId": "app123", "accountNumber": "AAA000012", "name": "Ops", "verified": true})),
            200,
        )
        .await;
    assert_eq!(updated["wallet"]["name"], "Ops");
    assert_eq!(updated["wallet"]["status"], "active");

    let refused = api
        .call(
            "DELETE",
            "/api/wallets/delete",
            Some(&admin),
            Some(json!({"appId": "app123", "accountNumber": "AAA254700123456"})),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert_eq!(refused.json()["status"], "error");
    let deleted = api
        .ok(
            "DELETE",
            "/api/wallets/delete",
            &admin,
            Some(json!({"appId": "app123", "accountNumber": "AAA000012"})),
            200,
        )
        .await;
    assert_eq!(deleted["wallet"]["status"], "closed");
    let missing = api
        .call("GET", "/api/wallets/get?appId=nope&userId=user456", Some(&admin), None)
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["status"], "error");
    let no_token = api
        .call("GET", "/api/wallets/get?appId=app123&userId=user456", None, None)
        .await;
    assert_eq!(no_token.status, 401);
    assert_eq!(no_token.json(), json!({"status": "error", "message": "Unauthorized"}));
    api.stop().await;
}
