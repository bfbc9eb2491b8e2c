//! `GET /openapi.json` (no auth; the same under `/api/v1` with a token), checked in Rust without network tools: OpenAPI 3.1,
//! every route with its methods and no other, structural rules (every `$ref` resolves, every
//! operation has responses with descriptions, unique operationIds, declared path parameters,
//! known security schemes), the document agrees with the running router (documented methods
//! are served, undocumented ones are 405), and real answers validate against the documented
//! response schemas of their status codes.

use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashSet};
use walletd_tests::{Api, Method, Reply, profile_body, shared_server, uid};

/// Every route of the server: (path, methods).
const ROUTES: &[(&str, &[&str])] = &[
    ("/health", &["get"]),
    ("/api/v1/auth/login", &["post"]),
    ("/api/v1/clients", &["get", "post"]),
    ("/api/v1/clients/{client_code}", &["get"]),
    ("/api/v1/profiles", &["post"]),
    (
        "/api/v1/client-profiles/client-profile-id/{client_profile_id}",
        &["get"],
    ),
    ("/api/v1/profiles/client-profile-id/{client_profile_id}", &["post"]),
    ("/api/v1/account-types", &["get", "post"]),
    ("/api/v1/accounts", &["get", "post"]),
    ("/api/v1/accounts/account-number/{account_number}", &["get", "post"]),
    ("/api/v1/client-services", &["get", "post"]),
    ("/api/v1/transactions", &["get", "post"]),
    ("/api/v1/transactions/{transaction_id}", &["get", "post"]),
    ("/api/v1/transactions/batch", &["post"]),
    ("/api/v1/account-transfers", &["post"]),
    ("/api/v1/account-statements/doc", &["get"]),
    ("/api/v1/users", &["get", "post"]),
    ("/api/v1/users/{username}", &["delete"]),
    ("/api/apps", &["post"]),
    ("/api/wallets/create", &["post"]),
    ("/api/wallets/get", &["get"]),
    ("/api/wallets/update", &["put"]),
    ("/api/wallets/delete", &["delete"]),
];

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

async fn document(base: &str) -> Value {
    let r = Api::anonymous(base).get("/openapi.json").await;
    r.expect(200);
    // Under /api/v1 the same document needs a token, as every /api/v1 route but login does.
    Api::anonymous(base)
        .get("/api/v1/openapi.json")
        .await
        .expect_message(401, "Unauthorized");
    let with_token = Api::admin(base).await.get("/api/v1/openapi.json").await;
    assert_eq!(with_token.expect(200), r.expect(200));
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("application/json"),
        "{:?}",
        r.header("content-type")
    );
    r.body.clone()
}

/// Resolves a local JSON pointer (`#/components/schemas/X`).
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    doc.pointer(pointer)
}

/// Every `$ref` in `v`, with where it was found.
fn refs(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    out.push((at.to_owned(), x.as_str().unwrap_or_default().to_owned()));
                } else {
                    refs(x, &format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                refs(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Every key named `key` anywhere in `v`.
fn has_key(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(m) => m.contains_key(key) || m.values().any(|x| has_key(x, key)),
        Value::Array(items) => items.iter().any(|x| has_key(x, key)),
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_openapi_3_1_and_structurally_sound() {
    let srv = shared_server();
    let doc = document(srv.base()).await;
    assert!(
        doc["openapi"].as_str().unwrap_or_default().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert!(
        doc["info"]["title"].is_string() && doc["info"]["version"].is_string(),
        "{}",
        doc["info"]
    );
    // 3.0's `nullable` does not exist in 3.1 (null is a type there).
    assert!(!has_key(&doc, "nullable"), "`nullable` is OpenAPI 3.0, not 3.1");

    // Every route, with exactly its methods, and nothing else.
    let paths = doc["paths"].as_object().expect("paths");
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| METHODS.contains(&k.as_str()))
                .map(move |m| (p.clone(), m.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .flat_map(|(p, ms)| ms.iter().map(move |m| (p.to_string(), m.to_string())))
        .collect();
    assert_eq!(
        documented.difference(&expected).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not a route"
    );
    assert_eq!(
        expected.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "routes missing from the document"
    );

    // Components.
    let schemas = doc["components"]["schemas"].as_object().expect("components.schemas");
    assert!(!schemas.is_empty());
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("securitySchemes");
    let bearer = schemes
        .iter()
        .find(|(_, s)| s["type"] == "http" && s["scheme"].as_str().is_some_and(|x| x.eq_ignore_ascii_case("bearer")))
        .map(|(name, _)| name.clone())
        .expect("an http bearer security scheme");
    for name in [
        "ErrorBody",
        "TransactionJson",
        "PostingJson",
        "AccountView",
        "FacadeWallet",
    ] {
        assert!(schemas.contains_key(name), "schema {name}");
    }
    // Every object schema's required properties exist.
    for (name, schema) in schemas {
        if let (Some(req), Some(props)) = (schema["required"].as_array(), schema["properties"].as_object()) {
            for r in req {
                assert!(
                    props.contains_key(r.as_str().unwrap()),
                    "{name}: required {r} has no property"
                );
            }
        }
    }

    // Every $ref resolves (and points into the components).
    let mut all = Vec::new();
    refs(&doc, "", &mut all);
    assert!(!all.is_empty());
    for (at, r) in &all {
        assert!(r.starts_with("#/components/"), "{at}: non-local $ref {r}");
        assert!(resolve(&doc, r).is_some(), "{at}: $ref {r} does not resolve");
    }

    // Operations.
    let tags: HashSet<&str> = doc["tags"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    let mut ids = HashSet::new();
    for (path, item) in paths {
        let in_path: BTreeSet<String> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        for (method, op) in item.as_object().unwrap() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let what = format!("{method} {path}");
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{what}: no operationId"));
            assert!(ids.insert(id.to_owned()), "{what}: operationId {id:?} is not unique");
            let responses = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{what}: no responses"));
            assert!(!responses.is_empty(), "{what}: empty responses");
            for (code, resp) in responses {
                assert!(
                    code == "default"
                        || (code.len() == 3 && (code.bytes().all(|b| b.is_ascii_digit()) || code.ends_with("XX"))),
                    "{what}: response key {code}"
                );
                let resp = match resp.get("$ref") {
                    Some(r) => resolve(&doc, r.as_str().unwrap()).unwrap(),
                    None => resp,
                };
                assert!(
                    resp["description"].is_string(),
                    "{what} {code}: a response needs a description"
                );
            }
            assert!(
                responses.keys().any(|c| c.starts_with('2')),
                "{what}: no success response"
            );
            // Parameters: declared, well formed, unique, and the path's all present.
            let mut seen = HashSet::new();
            let mut path_params = BTreeSet::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{what}: nameless parameter"));
                let loc = p["in"].as_str().unwrap_or_default();
                assert!(
                    ["query", "header", "path", "cookie"].contains(&loc),
                    "{what}: {name} in {loc}"
                );
                assert!(seen.insert((name, loc)), "{what}: parameter {name} twice");
                assert!(
                    p.get("schema").is_some() || p.get("content").is_some(),
                    "{what}: {name} has no schema"
                );
                if loc == "path" {
                    assert_eq!(p["required"], true, "{what}: path parameter {name} must be required");
                    path_params.insert(name.to_owned());
                }
            }
            assert_eq!(path_params, in_path, "{what}: path parameters");
            // Security.
            let public = path == "/health" || path == "/api/v1/auth/login";
            let security = op["security"].as_array().or(doc["security"].as_array());
            match security {
                Some(reqs) => {
                    for req in reqs {
                        for scheme in req.as_object().unwrap().keys() {
                            assert!(schemes.contains_key(scheme), "{what}: unknown security scheme {scheme}");
                        }
                    }
                    if !public {
                        assert!(
                            reqs.iter().any(|r| r.get(&bearer).is_some()),
                            "{what}: must require the bearer scheme"
                        );
                    }
                }
                None => assert!(public, "{what}: no security requirement"),
            }
            for t in op["tags"].as_array().into_iter().flatten() {
                assert!(
                    tags.is_empty() || tags.contains(t.as_str().unwrap()),
                    "{what}: undeclared tag {t}"
                );
            }
            if let Some(body) = op.get("requestBody") {
                let content = body["content"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{what}: requestBody content"));
                assert!(!content.is_empty(), "{what}: empty requestBody content");
            }
        }
    }
}

/// The document against the running router: each documented operation is served (no
/// "Cannot METHOD path" 404, no 405), each undocumented method of a documented path is 405.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_matches_the_running_router() {
    let srv = shared_server();
    let doc = document(srv.base()).await;
    let anon = Api::anonymous(srv.base());
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete: String = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in ["get", "post", "put", "delete", "patch"] {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = anon.request(m, &concrete, None).await;
            let routed = !(r.status == 405 || (r.status == 404 && r.text().contains("Cannot ")));
            if item.get(method).is_some() {
                assert!(
                    routed,
                    "{method} {path} is documented but not served: {} {}",
                    r.status,
                    r.text()
                );
                // Unauthenticated: 401 except on the public routes.
                if !(path == "/health" || path == "/api/v1/auth/login") {
                    assert_eq!(r.status, 401, "{method} {path}: {}", r.text());
                }
            } else {
                assert_eq!(
                    r.status,
                    405,
                    "{method} {path} is served but not documented: {}",
                    r.text()
                );
            }
        }
    }
}

// ---- a small JSON Schema check of real answers against the document ---------------------

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "null" => v.is_null(),
        _ => false,
    }
}

/// The properties an object schema (or an allOf of them) declares.
fn declared_properties(doc: &Value, schema: &Value, out: &mut Map<String, Value>) {
    let schema = match schema.get("$ref") {
        Some(r) => resolve(doc, r.as_str().unwrap()).unwrap(),
        None => schema,
    };
    if let Some(p) = schema["properties"].as_object() {
        out.extend(p.clone());
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        declared_properties(doc, part, out);
    }
}

/// Problems of `v` against `schema`; unknown properties count as problems (every field an
/// answer carries must be documented).
fn validate(doc: &Value, schema: &Value, v: &Value, at: &str, strict: bool, errs: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref") {
        let target = resolve(doc, r.as_str().unwrap()).unwrap();
        return validate(doc, target, v, at, strict, errs);
    }
    if let Some(parts) = schema["oneOf"].as_array() {
        let ok = parts
            .iter()
            .filter(|p| {
                let mut e = Vec::new();
                validate(doc, p, v, at, strict, &mut e);
                e.is_empty()
            })
            .count();
        if ok != 1 {
            errs.push(format!(
                "{at}: {v} matches {ok} of oneOf {}",
                Value::Array(parts.clone())
            ));
        }
        return;
    }
    if let Some(parts) = schema["anyOf"].as_array() {
        if !parts.iter().any(|p| {
            let mut e = Vec::new();
            validate(doc, p, v, at, strict, &mut e);
            e.is_empty()
        }) {
            errs.push(format!("{at}: {v} matches none of anyOf"));
        }
        return;
    }
    if let Some(parts) = schema["allOf"].as_array() {
        for p in parts {
            validate(doc, p, v, at, false, errs);
        }
        if strict && let Some(obj) = v.as_object() {
            let mut props = Map::new();
            declared_properties(doc, schema, &mut props);
            for k in obj.keys() {
                if !props.contains_key(k) {
                    errs.push(format!("{at}: undocumented field {k}"));
                }
            }
        }
        return;
    }
    match &schema["type"] {
        Value::String(t) if !type_ok(t, v) => return errs.push(format!("{at}: {v} is not {t}")),
        Value::Array(ts) if !ts.iter().any(|t| type_ok(t.as_str().unwrap_or_default(), v)) => {
            return errs.push(format!("{at}: {v} is none of {}", Value::Array(ts.clone())));
        }
        _ => {}
    }
    if let Some(e) = schema["enum"].as_array()
        && !e.contains(v)
    {
        errs.push(format!("{at}: {v} not in enum"));
    }
    if let Some(obj) = v.as_object() {
        for r in schema["required"].as_array().into_iter().flatten() {
            if !obj.contains_key(r.as_str().unwrap()) {
                errs.push(format!("{at}: required field {r} missing"));
            }
        }
        let props = schema["properties"].as_object();
        for (k, x) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(doc, s, x, &format!("{at}.{k}"), true, errs),
                None if strict && props.is_some() => errs.push(format!("{at}: undocumented field {k}")),
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            validate(doc, items, x, &format!("{at}[{i}]"), true, errs);
        }
    }
}

/// Checks a real answer against the document: its status is documented for the operation,
/// and a JSON body validates against that response's schema.
#[track_caller]
fn conforms(doc: &Value, method: &str, template: &str, r: &Reply) {
    let op = &doc["paths"][template][method];
    assert!(op.is_object(), "{method} {template} undocumented");
    let resp = &op["responses"][r.status.to_string()];
    assert!(
        resp.is_object(),
        "{method} {template}: status {} is not documented ({})",
        r.status,
        r.text()
    );
    if let Some(schema) = resp.pointer("/content/application~1json/schema") {
        let mut errs = Vec::new();
        validate(doc, schema, &r.body, "$", true, &mut errs);
        assert!(
            errs.is_empty(),
            "{method} {template} {}: {errs:#?}\n{}",
            r.status,
            r.text()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_answers_match_the_documented_schemas() {
    let srv = shared_server();
    let doc = document(srv.base()).await;
    let admin = Api::admin(srv.base()).await;
    let anon = Api::anonymous(srv.base());
    let c = |m: &str, t: &str, r: &Reply| conforms(&doc, m, t, r);

    c("get", "/health", &anon.get("/health").await);
    c(
        "post",
        "/api/v1/auth/login",
        &anon
            .post(
                "/api/v1/auth/login",
                json!({"username": "admin", "password": walletd_tests::ADMIN_PASSWORD}),
            )
            .await,
    );
    c(
        "post",
        "/api/v1/auth/login",
        &anon.post("/api/v1/auth/login", json!({})).await,
    );
    c(
        "post",
        "/api/v1/auth/login",
        &anon
            .post("/api/v1/auth/login", json!({"username": "admin", "password": "nope"}))
            .await,
    );
    let r = admin
        .post("/api/v1/clients", walletd_tests::client_body("Schema Co"))
        .await;
    c("post", "/api/v1/clients", &r);
    let code = r.body["client_code"].as_str().unwrap().to_owned();
    c(
        "post",
        "/api/v1/clients",
        &admin.post("/api/v1/clients", json!({})).await,
    );
    c("get", "/api/v1/clients", &admin.get("/api/v1/clients").await);
    c("get", "/api/v1/clients", &admin.get("/api/v1/clients?page=0").await);
    c(
        "get",
        "/api/v1/clients/{client_code}",
        &admin.get(&format!("/api/v1/clients/{code}")).await,
    );
    c(
        "get",
        "/api/v1/clients/{client_code}",
        &admin.get("/api/v1/clients/NOPE").await,
    );
    let pid = uid("S");
    c(
        "post",
        "/api/v1/profiles",
        &admin.post("/api/v1/profiles", profile_body(&code, &pid)).await,
    );
    c(
        "post",
        "/api/v1/profiles",
        &admin.post("/api/v1/profiles", profile_body(&code, &pid)).await,
    );
    let r = admin
        .post(
            "/api/v1/account-types",
            json!({"client_code": code, "account_type_name": "Current", "is_active": 1}),
        )
        .await;
    c("post", "/api/v1/account-types", &r);
    c(
        "get",
        "/api/v1/account-types",
        &admin.get("/api/v1/account-types").await,
    );
    let r = admin
        .post(
            "/api/v1/accounts",
            json!({"client_profile_id": pid, "client_code": code, "account_type_code": "CURRENT_ACCOUNT",
                   "account_name": "W1", "currency": "KES", "minimum_balance": 0, "status": "ACTIVE"}),
        )
        .await;
    c("post", "/api/v1/accounts", &r);
    let w1 = r.body["account_number"].as_str().unwrap().to_owned();
    let w2 = admin.create_wallet(&code, "ACTIVE").await["account_number"]
        .as_str()
        .unwrap()
        .to_owned();
    c("get", "/api/v1/accounts", &admin.get("/api/v1/accounts").await);
    let t = "/api/v1/accounts/account-number/{account_number}";
    c(
        "get",
        t,
        &admin.get(&format!("/api/v1/accounts/account-number/{w1}")).await,
    );
    c("get", t, &admin.get("/api/v1/accounts/account-number/99999999").await);
    c(
        "post",
        t,
        &admin
            .post_empty(&format!("/api/v1/accounts/account-number/{w2}?command=DORMANT"))
            .await,
    );
    c(
        "post",
        t,
        &admin
            .post_empty(&format!("/api/v1/accounts/account-number/{w2}?command=NOPE"))
            .await,
    );
    c(
        "post",
        t,
        &admin
            .post_empty(&format!("/api/v1/accounts/account-number/{w2}?command=ACTIVATE"))
            .await,
    );
    let t = "/api/v1/client-profiles/client-profile-id/{client_profile_id}";
    c(
        "get",
        t,
        &admin
            .get(&format!("/api/v1/client-profiles/client-profile-id/{pid}"))
            .await,
    );
    c(
        "get",
        t,
        &admin.get("/api/v1/client-profiles/client-profile-id/NOPE").await,
    );
    let t = "/api/v1/profiles/client-profile-id/{client_profile_id}";
    c(
        "post",
        t,
        &admin
            .post_empty(&format!("/api/v1/profiles/client-profile-id/{pid}?command=ACTIVATE"))
            .await,
    );
    let svc = admin
        .create_service(
            &code,
            json!({"has_transaction_fee": true, "transaction_fee_type": "FIXED", "transaction_fee": 1,
                   "transaction_fee_tiers": [{"min_amount": 1, "max_amount": 10, "transaction_fee_type": "PERCENTAGE", "transaction_fee": 1}]}),
        )
        .await;
    let sc = svc["client_service_code"].as_str().unwrap().to_owned();
    c(
        "get",
        "/api/v1/client-services",
        &admin.get("/api/v1/client-services").await,
    );
    c(
        "post",
        "/api/v1/client-services",
        &admin.post("/api/v1/client-services", json!({})).await,
    );
    // Postings.
    let credit = admin
        .post(
            "/api/v1/transactions?command=CREDIT",
            json!({"account_number": w1, "client_service_code": sc, "transaction_source": "EXTERNAL",
                   "transaction_amount": 100, "source_transaction_id": uid("s"), "source_transaction_data": {"a": [1, 2]}}),
        )
        .await;
    c("post", "/api/v1/transactions", &credit);
    c(
        "post",
        "/api/v1/transactions",
        &admin.credit_or_debit("CREDIT", &w2, &sc, json!(50)).await,
    );
    c(
        "post",
        "/api/v1/transactions",
        &admin.credit_or_debit("DEBIT", &w2, &sc, json!(5000)).await,
    );
    c(
        "post",
        "/api/v1/transactions",
        &admin.credit_or_debit("DEBIT", &w2, &sc, json!("1e3")).await,
    );
    c(
        "post",
        "/api/v1/transactions",
        &admin.credit_or_debit("DEBIT", "99999999", &sc, json!(1)).await,
    );
    let transfer = admin.transfer(&w1, &w2, &sc, json!(10)).await;
    c("post", "/api/v1/account-transfers", &transfer);
    let leg = transfer.body["destination_transaction"]["transaction_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = "/api/v1/transactions/{transaction_id}";
    c("get", t, &admin.get(&format!("/api/v1/transactions/{leg}")).await);
    c("get", t, &admin.get("/api/v1/transactions/999999999").await);
    c(
        "post",
        t,
        &admin
            .post_empty(&format!("/api/v1/transactions/{leg}?command=REVERSE"))
            .await,
    );
    c(
        "post",
        t,
        &admin
            .post_empty(&format!("/api/v1/transactions/{leg}?command=REVERSE"))
            .await,
    );
    c(
        "get",
        "/api/v1/transactions",
        &admin.get(&format!("/api/v1/transactions?account_number={w1}")).await,
    );
    c(
        "get",
        "/api/v1/transactions",
        &admin.get("/api/v1/transactions?start_date=nope").await,
    );
    let batch = admin
        .post(
            "/api/v1/transactions/batch",
            json!({"postings": [
                {"command": "CREDIT", "account_number": w2, "client_service_code": sc, "transaction_source": "X",
                 "transaction_amount": 1, "source_transaction_id": uid("b")},
                {"command": "DEBIT", "account_number": w2, "client_service_code": sc, "transaction_source": "X",
                 "transaction_amount": 100000, "source_transaction_id": uid("b")}]}),
        )
        .await;
    c("post", "/api/v1/transactions/batch", &batch);
    c(
        "post",
        "/api/v1/transactions/batch",
        &admin.post("/api/v1/transactions/batch", json!({})).await,
    );
    // Users.
    let name = uid("schema-user");
    c(
        "post",
        "/api/v1/users",
        &admin
            .post(
                "/api/v1/users",
                json!({"username": name, "password": "pw-123456789", "client_code": code, "role": "CLIENT"}),
            )
            .await,
    );
    c("get", "/api/v1/users", &admin.get("/api/v1/users").await);
    c(
        "delete",
        "/api/v1/users/{username}",
        &admin.delete(&format!("/api/v1/users/{name}"), None).await,
    );
    c(
        "delete",
        "/api/v1/users/{username}",
        &admin.delete(&format!("/api/v1/users/{name}"), None).await,
    );
    // The facade.
    let app = uid("schema-app");
    c(
        "post",
        "/api/apps",
        &admin
            .post(
                "/api/apps",
                json!({"appId": app, "appPrefix": "SCH", "client_code": code}),
            )
            .await,
    );
    c(
        "post",
        "/api/apps",
        &admin
            .post(
                "/api/apps",
                json!({"appId": app, "appPrefix": "SCH", "client_code": code}),
            )
            .await,
    );
    c(
        "post",
        "/api/wallets/create",
        &admin
            .post(
                "/api/wallets/create",
                json!({"appId": app, "userId": "u", "name": "N", "tukuTillNumber": "00001", "walletNumber": 1, "verified": true}),
            )
            .await,
    );
    c(
        "post",
        "/api/wallets/create",
        &admin
            .post(
                "/api/wallets/create",
                json!({"appId": app, "userId": "u", "name": "N", "tukuTillNumber": "+254700000009"}),
            )
            .await,
    );
    admin
        .credit_or_debit("CREDIT", "SCH000011", &sc, json!("12.5"))
        .await
        .expect(200);
    c(
        "get",
        "/api/wallets/get",
        &admin.get(&format!("/api/wallets/get?appId={app}&userId=u")).await,
    );
    c(
        "get",
        "/api/wallets/get",
        &admin.get("/api/wallets/get?appId=nope&userId=u").await,
    );
    c(
        "put",
        "/api/wallets/update",
        &admin
            .put(
                "/api/wallets/update",
                json!({"appId": app, "accountNumber": "SCH000011", "name": "M"}),
            )
            .await,
    );
    c(
        "delete",
        "/api/wallets/delete",
        &admin
            .delete(
                "/api/wallets/delete",
                Some(json!({"appId": app, "accountNumber": "SCH000011"})),
            )
            .await,
    );
    c(
        "delete",
        "/api/wallets/delete",
        &admin
            .delete(
                "/api/wallets/delete",
                Some(json!({"appId": app, "accountNumber": "SCH254700000009"})),
            )
            .await,
    );
    // Unauthenticated answers.
    c("get", "/api/v1/accounts", &anon.get("/api/v1/accounts").await);
    c("get", "/api/wallets/get", &anon.get("/api/wallets/get").await);
}
