//! The HTTP/1.1 client side: one keep-alive connection per worker. The lean client of
//! `wire.rs` (the default: the generator shares the machine with the server, so its CPU per
//! request matters), `hyper` directly (a connection owned by its worker, no pool) or
//! `reqwest` (a shared pooled client), so the generator's own CPU cost can be compared
//! (`--client`).

use super::wire::Wire;
use anyhow::{Context, bail};
use bytes::Bytes;
use clap::ValueEnum;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::net::TcpStream;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClientKind {
    /// The hand-written HTTP/1.1 client of `wire.rs`.
    Raw,
    Hyper,
    Reqwest,
}

/// Where the server is, and the bearer token (refreshed in the background).
pub struct Target {
    pub base: String,
    /// `HOST:PORT` as given in `--url`.
    pub authority: String,
    pub addr: SocketAddr,
    pub host: HeaderValue,
    pub token: RwLock<HeaderValue>,
    /// Bumped by every `set_token`, so connections re-read the token only when it changed.
    token_generation: AtomicU64,
    pub kind: ClientKind,
    reqwest: reqwest::Client,
}

impl Target {
    /// `url` must be `http://IP:PORT` (or `http://localhost:PORT`): loopback only.
    pub fn new(url: &str, kind: ClientKind, connections: usize) -> anyhow::Result<Arc<Target>> {
        let base = url.trim_end_matches('/').to_owned();
        let Some(authority) = base.strip_prefix("http://") else {
            bail!("--url must start with http:// (plain HTTP only)");
        };
        if authority.contains('/') {
            bail!("--url must be http://HOST:PORT without a path");
        }
        let authority_for_parse = authority.replacen("localhost", "127.0.0.1", 1);
        let addr: SocketAddr = authority_for_parse
            .parse()
            .with_context(|| format!("--url: `{authority}` is not IP:PORT (e.g. 127.0.0.1:8080)"))?;
        if !addr.ip().is_loopback() {
            bail!(
                "--url must be a loopback address (127.0.0.1, [::1] or localhost), not {}",
                addr.ip()
            );
        }
        let reqwest = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(connections.max(1))
            .build()
            .context("reqwest client")?;
        Ok(Arc::new(Target {
            host: HeaderValue::from_str(authority).context("host header")?,
            authority: authority.to_owned(),
            base,
            addr,
            token: RwLock::new(HeaderValue::from_static("Bearer -")),
            token_generation: AtomicU64::new(0),
            kind,
            reqwest,
        }))
    }

    pub fn set_token(&self, token: &str) -> anyhow::Result<()> {
        let v = HeaderValue::from_str(&format!("Bearer {token}")).context("token")?;
        *self.token.write().unwrap_or_else(|e| e.into_inner()) = v;
        self.token_generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    fn token(&self) -> HeaderValue {
        self.token.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes whenever the token does (read before `token_text`).
    pub fn token_generation(&self) -> u64 {
        self.token_generation.load(Ordering::Acquire)
    }

    /// `Bearer ...`, the value of the Authorization header.
    pub fn token_text(&self) -> String {
        String::from_utf8_lossy(self.token().as_bytes()).into_owned()
    }

    pub fn conn(self: &Arc<Self>) -> Conn {
        Conn {
            target: self.clone(),
            sender: None,
            wire: (self.kind == ClientKind::Raw).then(|| Wire::new(self.clone())),
            last: Bytes::new(),
        }
    }
}

/// One answer: status and the whole body.
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "HTTP {}: body is not JSON: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The answer as JSON when it is `expected`, else an error naming status and body.
    pub fn expect(&self, expected: u16, what: &str) -> anyhow::Result<serde_json::Value> {
        if self.status != expected {
            bail!("{what}: HTTP {} {}", self.status, String::from_utf8_lossy(&self.body));
        }
        self.json()
    }
}

/// The `message` of an error answer's body, joined if an array; else the body's start.
pub fn body_error_message(body: &[u8]) -> String {
    error_message(serde_json::from_slice(body).ok().as_ref())
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned())
}

pub fn error_message(v: Option<&serde_json::Value>) -> Option<String> {
    match v?.get("message")? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(items) => Some(
            items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => Some(other.to_string()),
    }
}

/// A worker's connection (raw and hyper: its own TCP connection, reopened when the server
/// closes it; reqwest: the shared pool).
pub struct Conn {
    target: Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
    wire: Option<Wire>,
    /// The body of the last `post_borrowed` answer through hyper or reqwest.
    last: Bytes,
}

impl Conn {
    async fn connect(&mut self) -> anyhow::Result<()> {
        let stream = TcpStream::connect(self.target.addr).await.context("connect")?;
        stream.set_nodelay(true).context("nodelay")?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// Sends one request. `path` includes the query; `body` is JSON (POST) or None (GET).
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        auth: bool,
    ) -> anyhow::Result<Answer> {
        match self.target.kind {
            ClientKind::Raw => {
                let wire = self.wire.as_mut().context("no raw connection")?;
                let (status, body) = wire.request(method.as_str(), path, body.as_deref(), auth).await?;
                Ok(Answer {
                    status,
                    body: Bytes::copy_from_slice(body),
                })
            }
            ClientKind::Hyper => self.send_hyper(method, path, body, auth).await,
            ClientKind::Reqwest => {
                let t = &self.target;
                let mut req = t.reqwest.request(method, format!("{}{path}", t.base));
                if auth {
                    req = req.header(AUTHORIZATION, t.token());
                }
                if let Some(b) = body {
                    req = req
                        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                        .body(b);
                }
                let res = req.send().await?;
                let status = res.status().as_u16();
                Ok(Answer {
                    status,
                    body: res.bytes().await?,
                })
            }
        }
    }

    async fn send_hyper(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        auth: bool,
    ) -> anyhow::Result<Answer> {
        // A connection the server closed since the last request is reopened once, before
        // anything is sent (so a posting is never sent twice by this).
        let alive = match self.sender.as_mut() {
            Some(s) => s.ready().await.is_ok(),
            None => false,
        };
        if !alive {
            self.sender = None;
            self.connect().await?;
        }
        let sender = self.sender.as_mut().context("no connection")?;
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.target.host.clone());
        if auth {
            req = req.header(AUTHORIZATION, self.target.token());
        }
        let req = match body {
            Some(b) => req
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(Full::new(b))?,
            None => req.body(Full::new(Bytes::new()))?,
        };
        let result = async {
            let res = sender.send_request(req).await?;
            let status = res.status().as_u16();
            let body = res.into_body().collect().await?.to_bytes();
            anyhow::Ok(Answer { status, body })
        }
        .await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    pub async fn get(&mut self, path: &str) -> anyhow::Result<Answer> {
        self.send(Method::GET, path, None, true).await
    }

    pub async fn post(&mut self, path: &str, body: impl Into<Bytes>) -> anyhow::Result<Answer> {
        self.send(Method::POST, path, Some(body.into()), true).await
    }

    /// A POST for the load loop: the answer's status and body, borrowed until the next
    /// request. With the raw client nothing is copied or allocated.
    pub async fn post_borrowed(&mut self, path: &str, body: &[u8]) -> anyhow::Result<(u16, &[u8])> {
        if self.target.kind == ClientKind::Raw {
            let wire = self.wire.as_mut().context("no raw connection")?;
            return wire.request("POST", path, Some(body), true).await;
        }
        let answer = self
            .send(Method::POST, path, Some(Bytes::copy_from_slice(body)), true)
            .await?;
        self.last = answer.body;
        Ok((answer.status, &self.last))
    }
}

/// Logs in and returns the token's lifetime in seconds.
pub async fn login(conn: &mut Conn, target: &Target, username: &str, password: &str) -> anyhow::Result<u64> {
    let body = serde_json::json!({ "username": username, "password": password }).to_string();
    let answer = conn
        .send(Method::POST, "/api/v1/auth/login", Some(body.into()), false)
        .await
        .context("login")?;
    let v = answer.expect(200, "login")?;
    let token = v["access_token"]
        .as_str()
        .context("login answer without access_token")?;
    target.set_token(token)?;
    Ok(v["expires_in"].as_u64().unwrap_or(3600))
}
