//! Authentication: `POST /api/v1/auth/login` issues HS256 JWTs, and the [`AuthUser`] extractor
//! turns a bearer token back into the engine's `Caller`. Only HS256 is accepted (the
//! validation pins it, so `alg: none` and every other algorithm fail), tokens carry `exp`,
//! and the user named by `sub` must still exist: deleting a user ends its tokens at once.
//! Failed logins are rate-limited per username and client address, in memory.

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::json::{Fields, JsonBody};
use axum::Json;
use axum::extract::{ConnectInfo, Extension, FromRequestParts, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use dashmap::DashMap;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use utoipa::ToSchema;
use walletd_engine::Ledger;
use walletd_engine::catalog::User;
use walletd_engine::views::Caller;

/// How long a token lives unless configured otherwise.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// What a token says. `role` and `client_id` are informative: the extractor takes the live
/// user's role and client from the ledger, so a token never grants more than its user has now.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub sub: String,
    /// The user's id (fix found by the end-to-end tests): `sub` alone names a username, and a
    /// deleted user's name may be given to a new user within the same second as the old
    /// token's `iat`, which the `iat` check below cannot tell apart. Ids are never reused, so
    /// a token is bound to exactly one user. Required: a token without it is 401.
    pub uid: String,
    pub role: String,
    pub client_id: Option<String>,
    pub iat: i64,
    pub exp: i64,
}

/// How many verified tokens are remembered before the memory is cleared and refilled.
const VERIFIED_TOKENS_CAP: usize = 16_384;

/// Signing and checking of tokens with one secret.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    /// Tokens whose signature already checked out, by their exact text. A client sends the
    /// same token on every request, and the HMAC, base64 and JSON work of a full check was
    /// about a tenth of a posting's server time. The secret never changes while the process
    /// runs, so a token that verified once verifies again until it expires; expiry is still
    /// checked on every use.
    verified: DashMap<Box<str>, Arc<Claims>, ahash::RandomState>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the keys.
        f.debug_struct("TokenKeys")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        // Pinned to HS256: the algorithm in a token's header is never trusted to pick another.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        // A little tolerance for clock skew between issuing and checking (same host: small).
        validation.leeway = 5;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
            verified: DashMap::with_hasher(ahash::RandomState::new()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A token for `user`, valid for the configured time from `now_secs`.
    pub fn issue(&self, user: &User, now_secs: i64) -> Result<String, ApiError> {
        let claims = Claims {
            sub: user.data.username.clone(),
            uid: user.user_id.to_string(),
            role: user.data.role.as_str().to_owned(),
            client_id: user.data.client_id.map(|c| c.to_string()),
            iat: now_secs,
            exp: now_secs.saturating_add(self.ttl.as_secs() as i64),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("token signing failed: {e}")))
    }

    /// The claims of a valid, unexpired HS256 token signed with our secret.
    pub fn verify(&self, token: &str) -> Result<Arc<Claims>, ApiError> {
        let now = chrono::Utc::now().timestamp();
        if let Some(claims) = self.verified.get(token).map(|c| Arc::clone(&c)) {
            // The same rule as the full check: expired once `exp` is more than the leeway ago.
            if claims.exp >= now.saturating_sub(self.validation.leeway as i64) {
                return Ok(claims);
            }
            self.verified.remove(token);
            return Err(ApiError::Unauthorized);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| Arc::new(data.claims))
            .map_err(|_| ApiError::Unauthorized)?;
        if self.verified.len() >= VERIFIED_TOKENS_CAP {
            // Crude but bounded: a flood of distinct valid tokens only costs full checks.
            self.verified.clear();
        }
        self.verified.insert(token.into(), Arc::clone(&claims));
        Ok(claims)
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// An authenticated request: who is asking, and the ledger to ask.
#[derive(Clone)]
pub struct AuthUser {
    pub caller: Caller,
    pub ledger: Ledger,
}

impl AuthUser {
    /// Route guard for the ADMIN-only routes, checked before the body is judged so that a
    /// CLIENT token gets 403 whatever it sends.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.caller.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("Forbidden resource".into()))
        }
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ledger = state.ledger()?;
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        let claims = state.tokens().verify(token)?;
        let user = ledger.user(&claims.sub).ok_or(ApiError::Unauthorized)?;
        // The token's user, not merely a user of the same name (see `Claims::uid`).
        if claims.uid.parse::<u64>().ok() != Some(user.user_id) {
            return Err(ApiError::Unauthorized);
        }
        // A token issued before this user was created belongs to an earlier, deleted user of
        // the same name.
        if claims.iat < user.data.created_at_ms.div_euclid(1000) {
            return Err(ApiError::Unauthorized);
        }
        Ok(AuthUser {
            caller: ledger.caller_for(&user),
            ledger,
        })
    }
}

/// Who failed to log in: the username, exactly (usernames are case-sensitive, so `Bob`'s
/// failures do not lock out `bob`), and the client's address when known.
type LoginKey = (String, Option<IpAddr>);

/// Failed logins per (username, client address): after `max_failures` within `window`, login
/// answers 429 until the oldest failure leaves the window.
#[derive(Debug)]
pub struct LoginLimiter {
    // A std mutex: every critical section is a few map operations and never awaits.
    failures: Mutex<HashMap<LoginKey, Vec<Instant>>>,
    max_failures: usize,
    window: Duration,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(5, Duration::from_secs(300))
    }
}

impl LoginLimiter {
    /// Beyond this many tracked keys, keys with no failure inside the window are dropped.
    const PRUNE_AT: usize = 10_000;

    pub fn new(max_failures: usize, window: Duration) -> Self {
        LoginLimiter {
            failures: Mutex::new(HashMap::new()),
            max_failures,
            window,
        }
    }

    fn key(username: &str, ip: Option<IpAddr>) -> LoginKey {
        (username.to_owned(), ip)
    }

    /// Refuses with 429 while the key has too many recent failures.
    pub fn check(&self, username: &str, ip: Option<IpAddr>, now: Instant) -> Result<(), ApiError> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let Some(list) = map.get_mut(&Self::key(username, ip)) else {
            return Ok(());
        };
        list.retain(|t| now.duration_since(*t) < self.window);
        if list.len() >= self.max_failures {
            let oldest = list.iter().min().copied().unwrap_or(now);
            let wait = self.window.saturating_sub(now.duration_since(oldest)).as_secs().max(1);
            return Err(ApiError::TooManyRequests {
                message: "Too many failed login attempts; try again later".into(),
                retry_after_secs: wait,
            });
        }
        Ok(())
    }

    pub fn record_failure(&self, username: &str, ip: Option<IpAddr>, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= Self::PRUNE_AT {
            map.retain(|_, list| list.iter().any(|t| now.duration_since(*t) < self.window));
        }
        map.entry(Self::key(username, ip)).or_default().push(now);
    }

    pub fn clear(&self, username: &str, ip: Option<IpAddr>) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Self::key(username, ip));
    }
}

/// `POST /api/v1/auth/login` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// A bearer token.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A bearer token", body = LoginResponse),
        (status = 400, description = "Missing fields", body = ErrorBody),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    JsonBody(body): JsonBody,
) -> Result<Json<LoginResponse>, ApiError> {
    let ledger = state.ledger()?;
    let mut f = Fields::new(&body);
    let username = f.required_str("username");
    let password = f.required_str("password");
    f.finish()?;
    let ip = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    let limiter = state.login_limiter();
    limiter.check(&username, ip, Instant::now())?;
    let Some(user) = ledger.authenticate(&username, &password).await else {
        limiter.record_failure(&username, ip, Instant::now());
        tracing::info!(username = %username, "failed login");
        return Err(ApiError::Unauthorized);
    };
    limiter.clear(&username, ip);
    let keys = state.tokens();
    let token = keys.issue(&user, chrono::Utc::now().timestamp())?;
    Ok(Json(LoginResponse {
        access_token: token,
        token_type: "Bearer",
        expires_in: keys.ttl().as_secs(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use walletd_engine::record::{NewUser, Role};

    fn user() -> User {
        User {
            user_id: 1,
            data: NewUser {
                username: "alice".into(),
                password_hash: String::new(),
                role: Role::Client,
                client_id: Some(7),
                created_at_ms: 0,
            },
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn keys() -> TokenKeys {
        TokenKeys::new(b"0123456789abcdef0123456789abcdef", DEFAULT_TOKEN_TTL)
    }

    #[test]
    fn issued_tokens_verify() {
        let k = keys();
        let token = k.issue(&user(), now()).unwrap();
        let claims = k.verify(&token).unwrap();
        assert_eq!(claims.sub, "alice");
        assert_eq!(claims.role, "CLIENT");
        assert_eq!(claims.client_id.as_deref(), Some("7"));
        assert_eq!(claims.exp - claims.iat, 3600);
    }

    #[test]
    fn forged_signature_is_rejected() {
        let token = keys().issue(&user(), now()).unwrap();
        let other = TokenKeys::new(b"another secret entirely, 32 bytes", DEFAULT_TOKEN_TTL);
        assert!(matches!(other.verify(&token), Err(ApiError::Unauthorized)));
        // Tampered payload, original signature.
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        claims["role"] = "ADMIN".into();
        let forged = format!("{}.{}.{}", parts[0], B64.encode(claims.to_string()), parts[2]);
        assert!(matches!(keys().verify(&forged), Err(ApiError::Unauthorized)));
    }

    #[test]
    fn a_remembered_token_is_checked_for_expiry_on_every_use() {
        let k = keys();
        // Valid for one more second than the leeway: verified, then remembered.
        let token = k.issue(&user(), now() - 3600 + 1).unwrap();
        assert_eq!(k.verify(&token).unwrap().sub, "alice");
        assert!(k.verified.contains_key(token.as_str()));
        // The same text again is answered from memory, and its expiry still applies.
        k.verified.alter(token.as_str(), |_, c| {
            let mut c = (*c).clone();
            c.exp = now() - 10;
            Arc::new(c)
        });
        assert!(matches!(k.verify(&token), Err(ApiError::Unauthorized)));
        assert!(!k.verified.contains_key(token.as_str()));
        // A forged token is never remembered, however often it is sent.
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{}.{}x", parts[0], parts[1], parts[2]);
        for _ in 0..2 {
            assert!(matches!(k.verify(&forged), Err(ApiError::Unauthorized)));
        }
        assert!(!k.verified.contains_key(forged.as_str()));
    }

    #[test]
    fn expired_token_is_rejected() {
        let token = keys().issue(&user(), now() - 2 * 3600).unwrap();
        assert!(matches!(keys().verify(&token), Err(ApiError::Unauthorized)));
    }

    #[test]
    fn alg_none_is_rejected() {
        let header = B64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let claims = B64.encode(format!(
            r#"{{"sub":"alice","role":"ADMIN","client_id":null,"iat":{},"exp":{}}}"#,
            now(),
            now() + 3600
        ));
        for token in [format!("{header}.{claims}."), format!("{header}.{claims}")] {
            assert!(matches!(keys().verify(&token), Err(ApiError::Unauthorized)), "{token}");
        }
    }

    #[test]
    fn other_algorithms_are_rejected() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let claims = Claims {
            sub: "alice".into(),
            uid: "1".into(),
            role: "ADMIN".into(),
            client_id: None,
            iat: now(),
            exp: now() + 3600,
        };
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let token = jsonwebtoken::encode(&Header::new(alg), &claims, &EncodingKey::from_secret(secret)).unwrap();
            assert!(matches!(keys().verify(&token), Err(ApiError::Unauthorized)), "{alg:?}");
        }
    }

    #[test]
    fn garbage_is_rejected() {
        for token in ["", "abc", "a.b.c", "...."] {
            assert!(matches!(keys().verify(token), Err(ApiError::Unauthorized)));
        }
    }

    #[test]
    fn limiter_blocks_after_five_failures_and_forgets_after_the_window() {
        let limiter = LoginLimiter::new(5, Duration::from_secs(300));
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        let t0 = Instant::now();
        for _ in 0..5 {
            limiter.check("bob", ip, t0).unwrap();
            limiter.record_failure("bob", ip, t0);
        }
        assert!(matches!(
            limiter.check("bob", ip, t0),
            Err(ApiError::TooManyRequests { .. })
        ));
        // Another address, or another user (`Bob` is not `bob`), is not blocked.
        limiter.check("bob", Some(IpAddr::from([10, 0, 0, 1])), t0).unwrap();
        limiter.check("carol", ip, t0).unwrap();
        limiter.check("Bob", ip, t0).unwrap();
        limiter.check("bob", ip, t0 + Duration::from_secs(301)).unwrap();
    }
}
