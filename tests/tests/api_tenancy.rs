//! Tenant isolation over real HTTP: a CLIENT user of client A gets 404, exactly as for an
//! object that does not exist, for everything of client B (client, profile, wallet, service,
//! transaction, reversal, statement, facade app and wallets); lists show only A's objects;
//! ADMIN-only routes answer 403; a deleted user's token stops working at once.

use serde_json::json;
use walletd_tests::text_of as s;
use walletd_tests::{Api, Reply, profile_body, shared_server, uid};

/// One client's objects, made by the admin.
struct Tenant {
    code: String,
    /// `SHARED-BRANCH`, in both tenants.
    profile: String,
    /// A profile id only this tenant has.
    own_profile: String,
    wallet: String,
    service: String,
    /// A CREDIT's wallet leg and its source_transaction_id.
    txn: String,
    sti: String,
    app: String,
}

async fn tenant(admin: &Api, name: &str, prefix: &str) -> Tenant {
    let code = s(&admin.create_client(name).await["client_code"]);
    // The same client_profile_id in both clients: ids are per client.
    let profile = "SHARED-BRANCH".to_owned();
    admin
        .post("/api/v1/profiles", profile_body(&code, &profile))
        .await
        .expect(201);
    let r = admin
        .post(
            "/api/v1/accounts",
            json!({"client_profile_id": profile, "client_code": code, "account_type_code": "CURRENT_ACCOUNT",
                   "account_name": "Profile wallet", "currency": "KES", "minimum_balance": 0, "status": "ACTIVE"}),
        )
        .await;
    let wallet = s(&r.expect(201)["account_number"]);
    let service = s(&admin.create_service(&code, json!({})).await["client_service_code"]);
    let sti = uid("sti-");
    let r = admin
        .post(
            "/api/v1/transactions?command=CREDIT",
            json!({"account_number": wallet, "client_service_code": service, "transaction_source": "EXTERNAL",
                   "transaction_amount": 100, "source_transaction_id": sti}),
        )
        .await;
    let txn = s(&r.expect(200)["transaction_id"]);
    let app = uid("app-");
    admin
        .post(
            "/api/apps",
            json!({"appId": app, "appPrefix": prefix, "client_code": code}),
        )
        .await
        .expect(201);
    admin
        .post(
            "/api/wallets/create",
            json!({"appId": app, "userId": "u1", "name": "Personal", "tukuTillNumber": "+254700000001", "verified": true}),
        )
        .await
        .expect(201);
    let own_profile = uid("OWN");
    admin
        .post("/api/v1/profiles", profile_body(&code, &own_profile))
        .await
        .expect(201);
    Tenant {
        code,
        profile,
        own_profile,
        wallet,
        service,
        txn,
        sti,
        app,
    }
}

/// `theirs` must answer exactly like `missing` (status and body), both 404.
#[track_caller]
fn same_404(theirs: &Reply, missing: &Reply) {
    assert_eq!(theirs.status, 404, "{}: {}", theirs.what, theirs.text());
    assert_eq!(
        (theirs.status, &theirs.body),
        (missing.status, &missing.body),
        "{} must look exactly like a missing object ({})",
        theirs.what,
        missing.what
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_user_sees_only_its_own_client() {
    let srv = shared_server();
    let admin = Api::admin(srv.base()).await;
    let a = tenant(&admin, "Alpha Tenant", "ATA").await;
    let b = tenant(&admin, "Beta Tenant", "BTB").await;
    let (_, ua) = admin.client_user(&a.code).await;

    // Own objects are reachable.
    ua.get(&format!("/api/v1/clients/{}", a.code)).await.expect(200);
    let r = ua
        .get(&format!("/api/v1/client-profiles/client-profile-id/{}", a.profile))
        .await;
    assert_eq!(r.expect(200)["client"]["client_code"], a.code.as_str());
    ua.get(&format!("/api/v1/accounts/account-number/{}", a.wallet))
        .await
        .expect(200);
    ua.get(&format!("/api/v1/transactions/{}", a.txn)).await.expect(200);
    ua.credit_or_debit("CREDIT", &a.wallet, &a.service, json!(1))
        .await
        .expect(200);
    let r = ua.get(&format!("/api/wallets/get?appId={}&userId=u1", a.app)).await;
    assert_eq!(r.expect(200)["wallets"].as_array().unwrap().len(), 1);

    // Client B's objects look exactly like missing ones.
    same_404(
        &ua.get(&format!("/api/v1/clients/{}", b.code)).await,
        &ua.get("/api/v1/clients/NOSUCHCODE").await,
    );
    // A profile id only B has.
    same_404(
        &ua.get(&format!("/api/v1/client-profiles/client-profile-id/{}", b.own_profile))
            .await,
        &ua.get("/api/v1/client-profiles/client-profile-id/NO-SUCH").await,
    );
    same_404(
        &ua.post_empty(&format!(
            "/api/v1/profiles/client-profile-id/{}?command=DEACTIVATE",
            b.own_profile
        ))
        .await,
        &ua.post_empty("/api/v1/profiles/client-profile-id/NO-SUCH?command=DEACTIVATE")
            .await,
    );
    same_404(
        &ua.post(
            "/api/v1/accounts",
            json!({"client_profile_id": b.own_profile, "account_type_code": "CURRENT_ACCOUNT", "account_name": "W",
                   "currency": "KES", "minimum_balance": 0, "status": "ACTIVE"}),
        )
        .await,
        &ua.post(
            "/api/v1/accounts",
            json!({"client_profile_id": "NO-SUCH", "account_type_code": "CURRENT_ACCOUNT", "account_name": "W",
                   "currency": "KES", "minimum_balance": 0, "status": "ACTIVE"}),
        )
        .await,
    );
    // The shared id names A's own profile for A's user.
    let r = ua
        .get(&format!("/api/v1/client-profiles/client-profile-id/{}", b.profile))
        .await;
    assert_eq!(r.expect(200)["client"]["client_code"], a.code.as_str());
    // B's profile named with B's client_code: still nothing.
    same_404(
        &ua.get(&format!(
            "/api/v1/client-profiles/client-profile-id/{}?client_code={}",
            b.profile, b.code
        ))
        .await,
        &ua.get("/api/v1/client-profiles/client-profile-id/NO-SUCH").await,
    );
    same_404(
        &ua.post_empty(&format!(
            "/api/v1/profiles/client-profile-id/{}?command=DEACTIVATE&client_code={}",
            b.profile, b.code
        ))
        .await,
        &ua.post_empty("/api/v1/profiles/client-profile-id/NO-SUCH?command=DEACTIVATE")
            .await,
    );
    same_404(
        &ua.get(&format!("/api/v1/accounts/account-number/{}", b.wallet)).await,
        &ua.get("/api/v1/accounts/account-number/99999999").await,
    );
    same_404(
        &ua.post_empty(&format!("/api/v1/accounts/account-number/{}?command=SUSPEND", b.wallet))
            .await,
        &ua.post_empty("/api/v1/accounts/account-number/99999999?command=SUSPEND")
            .await,
    );
    // Postings: B's service, B's wallet.
    same_404(
        &ua.credit_or_debit("CREDIT", &a.wallet, &b.service, json!(1)).await,
        &ua.credit_or_debit("CREDIT", &a.wallet, "NOSUCHSVC1", json!(1)).await,
    );
    same_404(
        &ua.credit_or_debit("DEBIT", &b.wallet, &b.service, json!(1)).await,
        &ua.credit_or_debit("DEBIT", &a.wallet, "NOSUCHSVC1", json!(1)).await,
    );
    same_404(
        &ua.credit_or_debit("CREDIT", &b.wallet, &a.service, json!(1)).await,
        &ua.credit_or_debit("CREDIT", "99999999", &a.service, json!(1)).await,
    );
    same_404(
        &ua.transfer(&b.wallet, &a.wallet, &a.service, json!(1)).await,
        &ua.transfer("99999999", &a.wallet, &a.service, json!(1)).await,
    );
    same_404(
        &ua.transfer(&a.wallet, &b.wallet, &a.service, json!(1)).await,
        &ua.transfer(&a.wallet, "99999999", &a.service, json!(1)).await,
    );
    // Transactions and reversals.
    same_404(
        &ua.get(&format!("/api/v1/transactions/{}", b.txn)).await,
        &ua.get("/api/v1/transactions/999999999").await,
    );
    same_404(
        &ua.post_empty(&format!("/api/v1/transactions/{}?command=REVERSE", b.txn))
            .await,
        &ua.post_empty("/api/v1/transactions/999999999?command=REVERSE").await,
    );
    same_404(
        &ua.get(&format!("/api/v1/transactions?account_number={}", b.wallet))
            .await,
        &ua.get("/api/v1/transactions?account_number=99999999").await,
    );
    let r = ua
        .get(&format!("/api/v1/transactions?source_transaction_id={}", b.sti))
        .await;
    assert_eq!(r.expect(200)["metadata"]["total_count"], 0, "{}", r.text());
    let r = ua.get(&format!("/api/v1/transactions?client_code={}", b.code)).await;
    r.expect_error(404);
    // Statements.
    let q = "start_date=2000-01-01&end_date=2100-01-01&doc_type=PDF";
    same_404(
        &ua.get(&format!(
            "/api/v1/account-statements/doc?account_number={}&{q}",
            b.wallet
        ))
        .await,
        &ua.get(&format!("/api/v1/account-statements/doc?account_number=99999999&{q}"))
            .await,
    );
    // Creating objects in B.
    let r = ua
        .post(
            "/api/v1/accounts",
            json!({"client_code": b.code, "account_type_code": "CURRENT_ACCOUNT", "account_name": "W",
                   "currency": "KES", "minimum_balance": 0, "status": "ACTIVE"}),
        )
        .await;
    r.expect_message(404, "Client not found");
    ua.post("/api/v1/profiles", profile_body(&b.code, &uid("P")))
        .await
        .expect_message(404, "Client not found");
    ua.create_service(&a.code, json!({})).await;
    let r = ua
        .post(
            "/api/v1/client-services",
            json!({"client_code": b.code, "client_service_name": "S", "service_code": "CUSTOM_SERVICE",
                   "has_transaction_fee": false, "minimum_transaction_amount": 1, "maximum_transaction_amount": 10, "is_active": 1}),
        )
        .await;
    r.expect_message(404, "Client not found");
    // The facade: B's app is as missing as an unknown one.
    same_404(
        &ua.get(&format!("/api/wallets/get?appId={}&userId=u1", b.app)).await,
        &ua.get("/api/wallets/get?appId=no-such-app&userId=u1").await,
    );
    same_404(
        &ua.post(
            "/api/wallets/create",
            json!({"appId": b.app, "userId": "u2", "name": "X", "tukuTillNumber": "+254700000002"}),
        )
        .await,
        &ua.post(
            "/api/wallets/create",
            json!({"appId": "no-such-app", "userId": "u2", "name": "X", "tukuTillNumber": "+254700000002"}),
        )
        .await,
    );
    same_404(
        &ua.put(
            "/api/wallets/update",
            json!({"appId": b.app, "accountNumber": "BTB254700000001", "name": "Mine"}),
        )
        .await,
        &ua.put(
            "/api/wallets/update",
            json!({"appId": "no-such-app", "accountNumber": "BTB254700000001", "name": "Mine"}),
        )
        .await,
    );
    same_404(
        &ua.delete(
            "/api/wallets/delete",
            Some(json!({"appId": b.app, "accountNumber": "BTB254700000001"})),
        )
        .await,
        &ua.delete(
            "/api/wallets/delete",
            Some(json!({"appId": "no-such-app", "accountNumber": "BTB254700000001"})),
        )
        .await,
    );
    // B's facade wallet through /api/v1 too.
    same_404(
        &ua.get("/api/v1/accounts/account-number/BTB254700000001").await,
        &ua.get("/api/v1/accounts/account-number/99999999").await,
    );

    // Lists show only A's objects.
    for path in [
        "/api/v1/clients",
        "/api/v1/accounts",
        "/api/v1/client-services",
        "/api/v1/account-types",
        "/api/v1/transactions",
    ] {
        let r = ua.get(&format!("{path}?limit=100")).await;
        let body = r.expect(200);
        let records = body["records"].as_array().unwrap();
        assert!(
            (records.len() as u64) == body["metadata"]["total_count"].as_u64().unwrap(),
            "{path}: {body}"
        );
        for rec in records {
            let text = rec.to_string();
            assert!(!text.contains(&b.code), "{path} shows B's object: {rec}");
            assert!(!text.contains(&b.wallet), "{path} shows B's wallet: {rec}");
        }
        if path != "/api/v1/account-types" {
            assert!(!records.is_empty(), "{path}: A's own objects are listed");
        }
    }
    let r = ua.get("/api/v1/clients").await;
    let body = r.expect(200);
    assert_eq!(body["metadata"]["total_count"], 1);
    assert_eq!(body["records"][0]["client_code"], a.code.as_str());
    let r = ua.get("/api/v1/accounts?limit=100").await;
    for rec in r.expect(200)["records"].as_array().unwrap() {
        assert_eq!(rec["client"]["client_code"], a.code.as_str(), "{rec}");
    }
    let r = ua.get("/api/v1/client-services?limit=100").await;
    for rec in r.expect(200)["records"].as_array().unwrap() {
        assert_eq!(rec["client_code"], a.code.as_str(), "{rec}");
    }
    // B's objects are unchanged by all of this.
    assert_eq!(admin.balance(&b.wallet).await, 100.into());
    let r = admin
        .get(&format!("/api/v1/accounts/account-number/{}", b.wallet))
        .await;
    assert_eq!(r.expect(200)["status"], "ACTIVE");
    let r = admin
        .get(&format!(
            "/api/v1/client-profiles/client-profile-id/{}?client_code={}",
            b.profile, b.code
        ))
        .await;
    assert_eq!(r.expect(200)["is_active"], 1);
    // The admin, without client_code, finds the shared client_profile_id ambiguous.
    admin
        .get(&format!("/api/v1/client-profiles/client-profile-id/{}", b.profile))
        .await
        .expect_error(409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_only_routes_answer_403_to_a_client_user() {
    let srv = shared_server();
    let admin = Api::admin(srv.base()).await;
    let code = s(&admin.create_client("Gamma Tenant").await["client_code"]);
    let (name, uc) = admin.client_user(&code).await;
    let r = uc.post("/api/v1/clients", walletd_tests::client_body("Sneaky")).await;
    r.expect_message(403, "Forbidden resource");
    // Whatever the body: the role is judged first.
    uc.post("/api/v1/clients", json!({})).await.expect_error(403);
    uc.post(
        "/api/v1/users",
        json!({"username": uid("x"), "password": "pw-123456", "client_code": code, "role": "ADMIN"}),
    )
    .await
    .expect_error(403);
    uc.get("/api/v1/users").await.expect_error(403);
    uc.delete(&format!("/api/v1/users/{name}"), None)
        .await
        .expect_error(403);
    uc.delete("/api/v1/users/admin", None).await.expect_error(403);
    let r = uc
        .post(
            "/api/apps",
            json!({"appId": uid("app"), "appPrefix": "GGG", "client_code": code}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.body["status"], "error", "the facade's shape: {}", r.text());
    // The admin still can.
    let r = admin.get("/api/v1/users?limit=100").await;
    let users = r.expect(200)["records"].as_array().unwrap().clone();
    let me = users.iter().find(|u| u["username"] == name.as_str()).expect("listed");
    assert_eq!(me["role"], "CLIENT");
    assert_eq!(me["client_code"], code.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_never_show_passwords_and_a_deleted_users_token_stops_at_once() {
    let srv = shared_server();
    let admin = Api::admin(srv.base()).await;
    let code = s(&admin.create_client("Delta Tenant").await["client_code"]);
    let username = uid("deluser");
    let password = "very-secret-password-42";
    let r = admin
        .post(
            "/api/v1/users",
            json!({"username": username, "password": password, "client_code": code, "role": "CLIENT"}),
        )
        .await;
    let user = r.expect(201).clone();
    let mut keys: Vec<&str> = user.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["client_code", "created_at", "role", "user_id", "username"]);
    walletd_tests::assert_id(&user["user_id"]);
    walletd_tests::assert_timestamp(&user["created_at"]);
    assert!(!r.text().contains(password));
    // The same username again: 409.
    admin
        .post(
            "/api/v1/users",
            json!({"username": username, "password": "another-pw-1", "client_code": code, "role": "CLIENT"}),
        )
        .await
        .expect_error(409);
    let r = admin.get("/api/v1/users?limit=100").await;
    r.expect(200);
    assert!(
        !r.text().contains(password) && !r.text().contains("$argon2"),
        "no passwords or hashes"
    );

    // Start just after a second boundary, so that the token's `iat` (whole seconds) and the
    // re-creation of its username below most likely fall in the same second: the old token
    // must still not pass as the new user's.
    let subsec = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_millis();
    tokio::time::sleep(std::time::Duration::from_millis(u64::from(1010 - subsec))).await;
    let u = Api::login(&admin.base, &username, password).await.expect("login");
    u.get("/api/v1/accounts").await.expect(200);
    let r = admin.delete(&format!("/api/v1/users/{username}"), None).await;
    assert_eq!(r.expect(200)["username"], username.as_str());
    // At once: the very next request.
    u.get("/api/v1/accounts").await.expect_message(401, "Unauthorized");
    u.get(&format!("/api/v1/clients/{code}"))
        .await
        .expect_message(401, "Unauthorized");
    let r = Api::anonymous(&admin.base)
        .post(
            "/api/v1/auth/login",
            json!({"username": username, "password": password}),
        )
        .await;
    r.expect_message(401, "Unauthorized");
    // Re-creating the name does not revive the old token.
    admin
        .post(
            "/api/v1/users",
            json!({"username": username, "password": password, "client_code": code, "role": "CLIENT"}),
        )
        .await
        .expect(201);
    u.get("/api/v1/accounts").await.expect_message(401, "Unauthorized");
    // Deleting it twice: 404.
    admin
        .delete(&format!("/api/v1/users/{username}"), None)
        .await
        .expect(200);
    admin
        .delete(&format!("/api/v1/users/{username}"), None)
        .await
        .expect_error(404);
}
