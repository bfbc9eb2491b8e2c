//! Tokens and logins over real HTTP: a missing, garbage, wrongly signed, expired, `alg: none`,
//! HS384/HS512 or tampered token is 401 `{"status":401,"message":"Unauthorized","code":"HttpException"}`;
//! a token forged correctly with the server's secret (the test secret) passes, which shows the
//! refusals are about what each token gets wrong. Wrong passwords are 401; repeated failures
//! are rate limited (429).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use walletd_tests::{ADMIN_PASSWORD, Api, Method, Reply, shared_server, uid};

/// The secret `Server::start` gives walletd.
const SECRET: &[u8] = b"test-secret-test-secret-test-secret!";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn sign(alg: Algorithm, claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).expect("sign")
}

#[track_caller]
fn unauthorized(r: &Reply) {
    assert_eq!(r.status, 401, "{}: {}", r.what, r.text());
    assert_eq!(
        r.body,
        json!({"status": 401, "message": "Unauthorized", "code": "HttpException"}),
        "{}",
        r.what
    );
}

/// The admin's user id, as tokens carry it.
async fn admin_uid(admin: &Api) -> String {
    let r = admin.get("/api/v1/users?limit=100").await;
    let users = r.expect(200)["records"].as_array().unwrap().clone();
    let me = users.iter().find(|u| u["username"] == "admin").expect("admin listed");
    me["user_id"].as_str().unwrap().to_owned()
}

/// Sends GET `path` with this exact Authorization header (none when `None`).
async fn with_header(base: &str, path: &str, auth: Option<&str>) -> Reply {
    let api = Api::anonymous(base);
    let mut req = api.http.get(format!("{base}{path}"));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap().to_vec();
    assert!(status < 500, "{path}: {status}");
    Reply {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        bytes,
        what: format!("GET {path} with {auth:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_401_and_a_correct_one_passes() {
    let srv = shared_server();
    let base = srv.base();
    let admin = Api::admin(base).await;
    let uid_admin = admin_uid(&admin).await;
    let t = now();
    let claims =
        |exp: i64| json!({"sub": "admin", "uid": uid_admin, "role": "ADMIN", "client_id": null, "iat": t, "exp": exp});

    // The control: HS256, the server's secret, valid claims.
    let good = sign(Algorithm::HS256, &claims(t + 600), SECRET);
    let path = "/api/v1/accounts";
    with_header(base, path, Some(&format!("Bearer {good}")))
        .await
        .expect(200);
    // The login's own token passes too.
    admin.get(path).await.expect(200);

    let expired = sign(Algorithm::HS256, &claims(t - 60), SECRET);
    let long_expired = sign(
        Algorithm::HS256,
        &json!({"sub": "admin", "uid": uid_admin, "role": "ADMIN", "iat": t - 7200, "exp": t - 3600}),
        SECRET,
    );
    let wrong_secret = sign(
        Algorithm::HS256,
        &claims(t + 600),
        b"another-secret-another-secret-another!",
    );
    let hs512 = sign(Algorithm::HS512, &claims(t + 600), SECRET);
    let hs384 = sign(Algorithm::HS384, &claims(t + 600), SECRET);
    let none_header = B64.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let none_claims = B64.encode(claims(t + 600).to_string());
    let alg_none = format!("{none_header}.{none_claims}.");
    let alg_none_bare = format!("{none_header}.{none_claims}");
    // alg none with the good token's signature kept.
    let good_sig = good.rsplit('.').next().unwrap();
    let alg_none_sig = format!("{none_header}.{none_claims}.{good_sig}");
    // Tampered payload, original signature.
    let parts: Vec<&str> = good.split('.').collect();
    let tampered_claims = B64.encode(claims(t + 999_999).to_string());
    let tampered = format!("{}.{tampered_claims}.{}", parts[0], parts[2]);
    let ghost = sign(
        Algorithm::HS256,
        &json!({"sub": "ghost", "uid": "999999", "role": "ADMIN", "iat": t, "exp": t + 600}),
        SECRET,
    );
    let no_exp = sign(
        Algorithm::HS256,
        &json!({"sub": "admin", "uid": uid_admin, "role": "ADMIN", "iat": t}),
        SECRET,
    );
    let no_uid = sign(
        Algorithm::HS256,
        &json!({"sub": "admin", "role": "ADMIN", "iat": t, "exp": t + 600}),
        SECRET,
    );
    let other_uid = sign(
        Algorithm::HS256,
        &json!({"sub": "admin", "uid": "987654", "role": "ADMIN", "iat": t, "exp": t + 600}),
        SECRET,
    );
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing header", None),
        ("empty bearer", Some("Bearer ".into())),
        ("garbage", Some("Bearer garbage".into())),
        ("three garbage parts", Some("Bearer a.b.c".into())),
        ("no scheme", Some(good.clone())),
        ("basic scheme", Some(format!("Basic {}", B64.encode("admin:x")))),
        ("token scheme", Some(format!("Token {good}"))),
        ("wrong signature", Some(format!("Bearer {wrong_secret}"))),
        ("expired a minute ago", Some(format!("Bearer {expired}"))),
        ("expired an hour ago", Some(format!("Bearer {long_expired}"))),
        ("alg none", Some(format!("Bearer {alg_none}"))),
        ("alg none, no dot", Some(format!("Bearer {alg_none_bare}"))),
        ("alg none with a signature", Some(format!("Bearer {alg_none_sig}"))),
        ("HS512", Some(format!("Bearer {hs512}"))),
        ("HS384", Some(format!("Bearer {hs384}"))),
        ("tampered payload", Some(format!("Bearer {tampered}"))),
        ("unknown user", Some(format!("Bearer {ghost}"))),
        ("no exp", Some(format!("Bearer {no_exp}"))),
        ("no uid", Some(format!("Bearer {no_uid}"))),
        ("another user's id", Some(format!("Bearer {other_uid}"))),
    ];
    for (what, header) in &cases {
        for path in [
            "/api/v1/accounts",
            "/api/v1/clients",
            "/api/v1/users",
            "/api/v1/transactions/1",
            "/api/v1/client-profiles/client-profile-id/X",
            "/api/v1/account-statements/doc?account_number=1&start_date=2024-01-01&end_date=2024-01-02&doc_type=PDF",
        ] {
            let r = with_header(base, path, header.as_deref()).await;
            assert_eq!(r.status, 401, "{what} on {path}: {}", r.text());
            unauthorized(&r);
        }
        // The facade answers 401 in its own shape.
        let r = with_header(base, "/api/wallets/get?appId=a&userId=b", header.as_deref()).await;
        assert_eq!(r.status, 401, "{what}: {}", r.text());
        assert_eq!(r.body, json!({"status": "error", "message": "Unauthorized"}), "{what}");
    }
    // POSTs with a bad token are refused before their bodies are judged.
    let bad = Api::anonymous(base).with_token(expired.clone());
    unauthorized(&bad.post("/api/v1/clients", json!({})).await);
    unauthorized(&bad.post("/api/v1/transactions?command=CREDIT", json!({})).await);
    unauthorized(&bad.post("/api/v1/account-transfers", json!({})).await);
    unauthorized(&bad.post_empty("/api/v1/transactions/1?command=REVERSE").await);
    unauthorized(
        &bad.raw(Method::POST, "/api/v1/transactions/batch", b"{not json".to_vec(), None)
            .await,
    );
    // Health and the public API description need no token; under /api/v1 it needs one.
    with_header(base, "/health", None).await.expect(200);
    with_header(base, "/openapi.json", None).await.expect(200);
    unauthorized(&with_header(base, "/api/v1/openapi.json", None).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_401() {
    let srv = shared_server();
    let anon = Api::anonymous(srv.base());
    let admin = Api::admin(srv.base()).await;
    // A user of its own, so that failures here do not count against the admin's logins.
    let name = uid("cred");
    admin
        .post(
            "/api/v1/users",
            json!({"username": name, "password": "right-password-1", "role": "ADMIN"}),
        )
        .await
        .expect(201);
    unauthorized(
        &anon
            .post(
                "/api/v1/auth/login",
                json!({"username": name, "password": "wrong-password"}),
            )
            .await,
    );
    unauthorized(
        &anon
            .post(
                "/api/v1/auth/login",
                json!({"username": uid("nobody"), "password": "whatever"}),
            )
            .await,
    );
    unauthorized(
        &anon
            .post(
                "/api/v1/auth/login",
                json!({"username": name, "password": "Right-password-1"}),
            )
            .await,
    );
    let r = anon
        .post(
            "/api/v1/auth/login",
            json!({"username": name, "password": "right-password-1"}),
        )
        .await;
    let body = r.expect(200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();
    // HS256, with the claims the server documents.
    let header: Value = serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    let claims: Value = serde_json::from_slice(&B64.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["sub"], name.as_str());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    assert!(!token.contains("right-password"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_logins_are_rate_limited() {
    let srv = shared_server();
    let anon = Api::anonymous(srv.base());
    let admin = Api::admin(srv.base()).await;
    let name = uid("limited");
    admin
        .post(
            "/api/v1/users",
            json!({"username": name, "password": "right-password-2", "role": "ADMIN"}),
        )
        .await
        .expect(201);
    let mut limited = None;
    for attempt in 1..=10 {
        let r = anon
            .post(
                "/api/v1/auth/login",
                json!({"username": name, "password": format!("wrong-{attempt}")}),
            )
            .await;
        if r.status == 429 {
            limited = Some((attempt, r));
            break;
        }
        unauthorized(&r);
    }
    let (attempt, r) = limited.expect("429 after repeated failed logins");
    assert!(attempt > 1, "the first failure is a plain 401");
    r.expect_error(429);
    let retry: u64 = r.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!(retry >= 1, "{retry}");
    // Even the right password waits now.
    let r = anon
        .post(
            "/api/v1/auth/login",
            json!({"username": name, "password": "right-password-2"}),
        )
        .await;
    r.expect_error(429);
    // Other users are not affected.
    let r = anon
        .post(
            "/api/v1/auth/login",
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await;
    r.expect(200);
    // Tokens issued before keep working.
    admin.get("/api/v1/accounts").await.expect(200);
}
