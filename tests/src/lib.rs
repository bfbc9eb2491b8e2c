//! Shared helpers for the end-to-end tests: start the real `walletd` binary on a free port
//! with a temporary data directory, log in, and make JSON requests.
//!
//! `CARGO_BIN_EXE_walletd` exists only for the tests of the package that defines the binary,
//! so this crate finds it beside its own test executable (`target/<profile>/walletd`); the
//! `walletd-api` package has an integration test of its own so that `cargo test --workspace`
//! always builds the binary first.

pub use reqwest::Method;
pub use reqwest::header::HeaderMap;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// Path of the `walletd` binary built by this cargo invocation.
pub fn walletd_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/walletd
    let dir = exe.parent().and_then(Path::parent).expect("target profile directory");
    let bin = dir.join("walletd");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (it builds the binary)",
        bin.display()
    );
    bin
}

/// A running `walletd`; killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    /// Lines the server wrote to stderr, as they come.
    pub log: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `walletd` on 127.0.0.1:0 over `data_dir` and waits for "listening on".
    pub fn start(data_dir: &Path) -> Result<Server, String> {
        Self::start_with(data_dir, &[])
    }

    pub fn start_with(data_dir: &Path, extra_args: &[&str]) -> Result<Server, String> {
        let mut child = Command::new(walletd_binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra_args)
            .env("WALLETD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("WALLETD_JWT_SECRET", "test-secret-test-secret-test-secret!")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn walletd: {e}"))?;
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(addr) = line.split("listening on ").nth(1) {
                        let addr = addr
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .trim_matches('"')
                            .to_owned();
                        return Ok(Server {
                            child,
                            base: format!("http://{addr}"),
                            data_dir: data_dir.to_owned(),
                            log: rx,
                        });
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    return Err(format!("walletd did not start ({status:?}):\n{}", seen.join("\n")));
                }
            }
        }
    }

    /// Waits until `GET /health` answers 200: the port is bound (and "listening on" logged)
    /// before recovery has finished, and until then every other route answers 503.
    pub fn wait_healthy(&self) {
        use std::io::{Read, Write};
        let addr = self.base.trim_start_matches("http://").to_owned();
        for _ in 0..600 {
            let status = std::net::TcpStream::connect(&addr).and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                write!(s, "GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
                let mut text = String::new();
                s.read_to_string(&mut text)?;
                Ok(text.lines().next().unwrap_or_default().to_owned())
            });
            if status.is_ok_and(|line| line.contains(" 200 ")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("walletd at {addr} never became healthy");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// SIGKILL, as a crash.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `walletd` to completion with the given arguments; returns (exit success, stderr).
pub fn run_walletd(args: &[&str]) -> (bool, String) {
    let out = Command::new(walletd_binary())
        .args(args)
        .env("WALLETD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .output()
        .expect("run walletd");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

// ---- shared helpers for the `api_*` end-to-end tests ------------------------------------

/// A `walletd` over its own temporary data directory (removed when dropped, after the kill).
pub struct TestServer {
    base: String,
    /// Behind a mutex only so that the server can be shared between test threads.
    pub server: Mutex<Server>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temporary data directory");
        let server = Server::start(dir.path()).expect("walletd starts");
        server.wait_healthy();
        TestServer {
            base: server.base.clone(),
            server: Mutex::new(server),
            _dir: dir,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }
}

/// One server shared by the tests of one test binary while any of them runs: the first test
/// to ask starts it, the last one to let go kills it (statics are never dropped, so a plain
/// `static` server would outlive the tests). Tests keep to their own clients, so a restart
/// between two tests is harmless.
pub fn shared_server() -> Arc<TestServer> {
    static SLOT: Mutex<Weak<TestServer>> = Mutex::new(Weak::new());
    let mut slot = SLOT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = slot.upgrade() {
        return s;
    }
    let s = Arc::new(TestServer::start());
    *slot = Arc::downgrade(&s);
    s
}

/// A JSON string's text; panics (failing the test) on anything else. Test files import it
/// as `s`.
pub fn text_of(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

/// A unique string for this process (idempotency keys, names, usernames).
pub fn uid(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}{}x{n}x{nanos}", std::process::id())
}

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body as JSON; `Null` when it is not JSON (files).
    pub body: Value,
    pub bytes: Vec<u8>,
    /// `METHOD path`, for assertion messages.
    pub what: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status,
            status,
            "{} answered {}: {}",
            self.what,
            self.status,
            self.text()
        );
        &self.body
    }

    /// Asserts the `/api/v1` error shape `{"status","message","code":"HttpException"}` (and
    /// nothing else) with this status; returns the message.
    #[track_caller]
    pub fn expect_error(&self, status: u16) -> &Value {
        self.expect(status);
        let obj = self
            .body
            .as_object()
            .unwrap_or_else(|| panic!("{}: error body is not an object: {}", self.what, self.text()));
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["code", "message", "status"],
            "{}: error shape: {}",
            self.what,
            self.text()
        );
        assert_eq!(self.body["status"], json!(status), "{}: {}", self.what, self.text());
        assert_eq!(self.body["code"], "HttpException", "{}: {}", self.what, self.text());
        let m = &self.body["message"];
        assert!(m.is_string() || m.is_array(), "{}: message: {}", self.what, self.text());
        m
    }

    /// A validation error: 400 with `message` an array of sentences; returns them.
    #[track_caller]
    pub fn expect_validation(&self) -> Vec<String> {
        let m = self.expect_error(400);
        let items = m
            .as_array()
            .unwrap_or_else(|| panic!("{}: 400 message must be an array: {}", self.what, self.text()));
        assert!(!items.is_empty(), "{}: empty message array", self.what);
        items
            .iter()
            .map(|s| {
                s.as_str()
                    .unwrap_or_else(|| panic!("{}: non-string sentence: {s}", self.what))
                    .to_owned()
            })
            .collect()
    }

    /// An error with exactly this sentence as its message (a string).
    #[track_caller]
    pub fn expect_message(&self, status: u16, message: &str) {
        let m = self.expect_error(status);
        assert_eq!(m, &json!(message), "{}: {}", self.what, self.text());
    }
}

/// A JSON client of one `walletd`, with or without a bearer token. Every answer is checked to
/// be below 500: a request never gets a 500 (DECISIONS), so every test scans every response.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

impl Api {
    /// No token.
    pub fn anonymous(base: &str) -> Api {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        Api {
            http,
            base: base.to_owned(),
            token: None,
        }
    }

    /// The same server with this token.
    pub fn with_token(&self, token: impl Into<String>) -> Api {
        Api {
            http: self.http.clone(),
            base: self.base.clone(),
            token: Some(token.into()),
        }
    }

    /// `POST /api/v1/auth/login`; the answer when it is not 200.
    pub async fn login(base: &str, username: &str, password: &str) -> Result<Api, Reply> {
        let anon = Api::anonymous(base);
        let r = anon
            .post(
                "/api/v1/auth/login",
                json!({"username": username, "password": password}),
            )
            .await;
        if r.status != 200 {
            return Err(r);
        }
        let token = r.body["access_token"].as_str().expect("access_token").to_owned();
        Ok(anon.with_token(token))
    }

    /// The admin, retrying while the server is still coming up (or just restarted).
    pub async fn admin(base: &str) -> Api {
        let anon = Api::anonymous(base);
        for _ in 0..200 {
            if let Ok(r) = anon
                .try_send(
                    Method::POST,
                    "/api/v1/auth/login",
                    Some(
                        json!({"username": "admin", "password": ADMIN_PASSWORD})
                            .to_string()
                            .into_bytes(),
                    ),
                    Some("application/json"),
                )
                .await
                && r.status == 200
            {
                let token = r.body["access_token"].as_str().expect("access_token").to_owned();
                return anon.with_token(token);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("admin login never succeeded");
    }

    /// Sends a request; transport errors are returned, any status is accepted.
    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: Option<&str>,
    ) -> reqwest::Result<Reply> {
        let what = format!("{method} {path}");
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(ct) = content_type {
            req = req.header(reqwest::header::CONTENT_TYPE, ct);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let r = req.send().await?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await?.to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            headers,
            body,
            bytes,
            what,
        })
    }

    /// Like the old per-test helper: `(status, json)` or the transport error.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Result<(u16, Value)> {
        let ct = body.as_ref().map(|_| "application/json");
        let r = self
            .try_send(method, path, body.map(|b| b.to_string().into_bytes()), ct)
            .await?;
        Ok((r.status, r.body))
    }

    /// Raw bytes with an optional Content-Type; panics on a transport error or a 5xx.
    pub async fn raw(&self, method: Method, path: &str, body: Vec<u8>, content_type: Option<&str>) -> Reply {
        let what = format!("{method} {path}");
        let r = self
            .try_send(method, path, Some(body), content_type)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(r.status < 500, "{what} answered {}: {}", r.status, r.text());
        r
    }

    /// A JSON request (no body when `None`); panics on a transport error or a 5xx.
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let what = format!("{method} {path}");
        let ct = body.map(|_| "application/json");
        let r = self
            .try_send(method, path, body.map(|b| b.to_string().into_bytes()), ct)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(r.status < 500, "{what} answered {}: {}", r.status, r.text());
        r
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, None).await
    }

    pub async fn get_with(&self, path: &str, body: Value) -> Reply {
        self.request(Method::GET, path, Some(&body)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.request(Method::POST, path, Some(&body)).await
    }

    /// A POST without a body (commands).
    pub async fn post_empty(&self, path: &str) -> Reply {
        self.request(Method::POST, path, None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.request(Method::PUT, path, Some(&body)).await
    }

    pub async fn delete(&self, path: &str, body: Option<Value>) -> Reply {
        self.request(Method::DELETE, path, body.as_ref()).await
    }

    // ---- building blocks of the documents' flow ----

    /// `POST /api/v1/clients` (ADMIN), 201; the client.
    pub async fn create_client(&self, name: &str) -> Value {
        self.post("/api/v1/clients", client_body(name))
            .await
            .expect(201)
            .clone()
    }

    /// `POST /api/v1/client-services` for `client_code` with `extra` fields over a fee-less,
    /// active service taking 0.01 to 1,000,000; 201; the service.
    pub async fn create_service(&self, client_code: &str, extra: Value) -> Value {
        let mut body = json!({"client_code": client_code, "client_service_name": "Payout KES Nairobi",
            "service_code": "CUSTOM_SERVICE", "has_transaction_fee": false,
            "minimum_transaction_amount": 0.01, "maximum_transaction_amount": 1000000, "is_active": 1});
        merge(&mut body, extra);
        self.post("/api/v1/client-services", body).await.expect(201).clone()
    }

    /// `POST /api/v1/accounts` by client_code, KES, `status`; 201; the wallet.
    pub async fn create_wallet(&self, client_code: &str, status: &str) -> Value {
        self.post(
            "/api/v1/accounts",
            json!({"client_code": client_code, "account_type_code": "CURRENT_ACCOUNT", "account_name": uid("Wallet "),
                   "currency": "KES", "minimum_balance": 0, "can_overdraw": false, "status": status}),
        )
        .await
        .expect(201)
        .clone()
    }

    /// `POST /api/v1/transactions?command=CREDIT|DEBIT` with a fresh source_transaction_id.
    pub async fn credit_or_debit(&self, command: &str, account: &str, service: &str, amount: Value) -> Reply {
        self.post(
            &format!("/api/v1/transactions?command={command}"),
            json!({"account_number": account, "client_service_code": service, "transaction_source": "EXTERNAL",
                   "transaction_amount": amount, "source_transaction_id": uid("st-")}),
        )
        .await
    }

    /// `POST /api/v1/account-transfers` with a fresh source_transaction_id.
    pub async fn transfer(&self, from: &str, to: &str, service: &str, amount: Value) -> Reply {
        self.post(
            "/api/v1/account-transfers",
            json!({"source_account_number": from, "destination_account_number": to, "client_service_code": service,
                   "transaction_source": "INTERNAL", "transaction_amount": amount, "source_transaction_id": uid("tr-")}),
        )
        .await
    }

    /// The wallet's `current_balance`.
    pub async fn balance(&self, account: &str) -> Decimal {
        let r = self.get(&format!("/api/v1/accounts/account-number/{account}")).await;
        dec(&r.expect(200)["current_balance"])
    }

    /// `POST /api/v1/users` (ADMIN) for a CLIENT of `client_code`, then its login.
    pub async fn client_user(&self, client_code: &str) -> (String, Api) {
        let username = uid("user");
        self.post(
            "/api/v1/users",
            json!({"username": username, "password": "pw-for-tests-123", "client_code": client_code, "role": "CLIENT"}),
        )
        .await
        .expect(201);
        let api = Api::login(&self.base, &username, "pw-for-tests-123")
            .await
            .unwrap_or_else(|r| panic!("login of {username}: {} {}", r.status, r.text()));
        (username, api)
    }
}

/// The documents' client body, with `name`.
pub fn client_body(name: &str) -> Value {
    json!({"client_name": name, "client_email": "ops@example.com", "client_phone_number": "254712345678",
           "contact_person_name": "Admin", "contact_person_email": "admin@example.com",
           "contact_person_msisdn": "254712345678", "business_pin": "A102035", "physical_address": "456 Elm St",
           "country": "Kenya", "logo": "https://example.com/logo.png", "description": "Test", "is_active": 1})
}

/// The documents' profile body.
pub fn profile_body(client_code: &str, client_profile_id: &str) -> Value {
    json!({"client_code": client_code, "profile_name": "Branch 1", "profile_type": "BUSINESS",
           "client_profile_id": client_profile_id, "profile_email": "branch@example.com",
           "profile_msisdn": "254712345678", "contact_person_name": "Admin",
           "contact_person_email": "admin@example.com", "contact_person_msisdn": "254712345678",
           "identification_number": "1", "physical_address": "456 Elm St", "country": "Kenya",
           "description": "Lorem ipsum", "is_active": 1})
}

/// Shallow merge of `extra`'s keys into `base` (a `null` removes the key).
pub fn merge(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            if v.is_null() {
                b.remove(&k);
            } else {
                b.insert(k, v);
            }
        }
    }
}

/// A money string as a decimal.
#[track_caller]
pub fn dec(v: &Value) -> Decimal {
    let s = v.as_str().unwrap_or_else(|| panic!("money must be a string: {v}"));
    s.parse().unwrap_or_else(|_| panic!("not a decimal: {s}"))
}

/// `"96.0000"`: a string, optional minus, digits, a point, exactly 4 digits.
#[track_caller]
pub fn assert_money(v: &Value, expected: &str) {
    let s = v.as_str().unwrap_or_else(|| panic!("money must be a string: {v}"));
    let digits = s.strip_prefix('-').unwrap_or(s);
    let ok = digits.split_once('.').is_some_and(|(i, f)| {
        !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()) && f.len() == 4 && f.bytes().all(|b| b.is_ascii_digit())
    });
    assert!(ok, "money must have exactly 4 decimals: {s}");
    assert_eq!(s, expected);
}

/// `"2024-09-05T17:14:04.734Z"`.
#[track_caller]
pub fn assert_timestamp(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("timestamp must be a string: {v}"));
    let b = s.as_bytes();
    let pattern = b"dddd-dd-ddTdd:dd:dd.dddZ";
    let ok = b.len() == pattern.len()
        && b.iter()
            .zip(pattern)
            .all(|(c, p)| if *p == b'd' { c.is_ascii_digit() } else { c == p });
    assert!(ok, "timestamp must be ISO 8601 UTC with milliseconds: {s}");
}

/// An id: a string of decimal digits.
#[track_caller]
pub fn assert_id(v: &Value) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("id must be a string: {v}"));
    assert!(
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()),
        "id must be decimal digits: {s}"
    );
    s.parse().unwrap_or_else(|_| panic!("id out of range: {s}"))
}

/// The documents' transaction (one leg) shape: every field, with its type.
#[track_caller]
pub fn assert_leg_shape(t: &Value) {
    for f in [
        "transaction_id",
        "account",
        "client_service",
        "transaction_type",
        "currency",
        "transaction_amount",
        "previous_balance",
        "current_balance",
        "other_party_account",
        "other_party_transaction_hash",
        "transaction_source",
        "source_transaction_id",
        "source_transaction_data",
        "transaction_narration",
        "transaction_date",
    ] {
        assert!(t.get(f).is_some(), "leg lacks {f}: {t}");
    }
    assert_id(&t["transaction_id"]);
    for f in ["transaction_amount", "previous_balance", "current_balance"] {
        let s = t[f].as_str().unwrap_or_else(|| panic!("{f} must be a string: {t}"));
        assert_money(&t[f], s);
    }
    assert!(
        t["transaction_type"] == "CREDIT" || t["transaction_type"] == "DEBIT",
        "transaction_type: {t}"
    );
    assert_eq!(t["other_party_transaction_hash"], "N/A");
    assert_timestamp(&t["transaction_date"]);
    // previous +/- amount = current
    let (p, a, c) = (
        dec(&t["previous_balance"]),
        dec(&t["transaction_amount"]),
        dec(&t["current_balance"]),
    );
    let expected = if t["transaction_type"] == "CREDIT" {
        p + a
    } else {
        p - a
    };
    assert_eq!(c, expected, "running balance of leg: {t}");
}

/// The sum of `current_balance` over every account an API sees whose client is `client_code`
/// (wallets, settlement and commission accounts).
pub async fn client_total(api: &Api, client_code: &str) -> Decimal {
    let mut total = Decimal::ZERO;
    let mut page = 1;
    loop {
        let r = api.get(&format!("/api/v1/accounts?page={page}&limit=100")).await;
        let records = r.expect(200)["records"].as_array().expect("records").clone();
        for a in &records {
            if a["client"]["client_code"] == client_code {
                total += dec(&a["current_balance"]);
            }
        }
        if records.len() < 100 {
            return total;
        }
        page += 1;
    }
}

/// Today's date (UTC) plus `offset_days`, as `YYYY-MM-DD`.
pub fn utc_date(offset_days: i64) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    // Howard Hinnant's civil_from_days.
    let z = secs.div_euclid(86_400) + offset_days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
