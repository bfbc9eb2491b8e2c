//! A lean HTTP/1.1 client for the load loop (`--client raw`, the default): one keep-alive
//! TCP connection, one request in flight, the request written with one `write` from a reused
//! buffer and the answer read into a reused buffer by the small parser below. The generator
//! shares two cores with the server; hyper's client (a connection task, a channel, header
//! maps and body buffers per request) cost several times the user-space CPU of this.

use super::http::Target;
use anyhow::{Context, bail};
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest response head accepted (status line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// The largest response body accepted (a batch of 10,000 postings answers about 10 MB).
const MAX_BODY: usize = 256 * 1024 * 1024;
/// Free space kept in the read buffer before each read.
const READ_CHUNK: usize = 16 * 1024;

/// How the body of a response is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    /// No length and not chunked: the body runs until the server closes the connection.
    UntilClose,
}

/// Where the chunked decoder stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data, this many bytes to go.
    Data(usize),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last (zero) chunk: trailer lines until an empty one.
    Trailers,
}

/// A complete response, as positions in the buffer that was parsed.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    pub status: u16,
    /// The body (decoded in place when it was chunked).
    pub body: Range<usize>,
    /// The server asked to close (or closed) the connection: do not reuse it.
    pub close: bool,
}

/// Incremental parser of one response. `parse` is called with the whole response received so
/// far (the same buffer, grown at its end) after every read; a chunked body is decoded in
/// place, which is why the buffer is `&mut`.
#[derive(Debug, Default)]
pub struct ResponseParser {
    head: Option<Head>,
    /// Chunked: next raw byte to decode, end of the decoded body, decoder state.
    read: usize,
    write: usize,
    chunk: Option<Chunk>,
}

#[derive(Clone, Copy, Debug)]
struct Head {
    status: u16,
    body_start: usize,
    framing: Framing,
    close: bool,
}

impl ResponseParser {
    /// `Ok(None)`: more bytes are needed. `eof`: the server has closed the connection after
    /// the bytes in `buf`.
    pub fn parse(&mut self, buf: &mut [u8], eof: bool) -> anyhow::Result<Option<Parsed>> {
        let head = match self.head {
            Some(h) => h,
            None => match parse_head(buf)? {
                Some(h) => {
                    self.head = Some(h);
                    self.read = h.body_start;
                    self.write = h.body_start;
                    h
                }
                None if eof => bail!("the server closed the connection before a complete answer head"),
                None => return Ok(None),
            },
        };
        let done = |body: Range<usize>, close: bool| {
            Some(Parsed {
                status: head.status,
                body,
                close,
            })
        };
        match head.framing {
            Framing::Length(n) => {
                let end = head.body_start + n;
                if buf.len() >= end {
                    if buf.len() > end {
                        bail!("{} bytes after the answer (none were asked for)", buf.len() - end);
                    }
                    return Ok(done(head.body_start..end, head.close));
                }
                if eof {
                    bail!(
                        "the server closed the connection {} bytes into a {n}-byte body",
                        buf.len() - head.body_start
                    );
                }
                Ok(None)
            }
            Framing::UntilClose if eof => Ok(done(head.body_start..buf.len(), true)),
            Framing::UntilClose => Ok(None),
            Framing::Chunked => {
                if self.decode_chunks(buf)? {
                    if self.read < buf.len() {
                        bail!("{} bytes after the chunked answer", buf.len() - self.read);
                    }
                    return Ok(done(head.body_start..self.write, head.close));
                }
                if eof {
                    bail!("the server closed the connection inside a chunked body");
                }
                Ok(None)
            }
        }
    }

    /// Decodes as much of the chunked body as `buf` holds, moving chunk data down over the
    /// chunk-size lines. True once the last chunk and the trailers are in.
    fn decode_chunks(&mut self, buf: &mut [u8]) -> anyhow::Result<bool> {
        loop {
            match self.chunk.unwrap_or(Chunk::Size) {
                Chunk::Size => {
                    let Some(line) = line_at(buf, self.read) else {
                        return Ok(false);
                    };
                    let text = &buf[self.read..line];
                    let hex = text.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
                    let size = parse_number(hex, 16)
                        .with_context(|| format!("bad chunk size line `{}`", String::from_utf8_lossy(text)))?;
                    self.read = line + 2;
                    self.chunk = Some(if size == 0 { Chunk::Trailers } else { Chunk::Data(size) });
                }
                Chunk::Data(left) => {
                    let n = left.min(buf.len() - self.read);
                    if n == 0 {
                        return Ok(false);
                    }
                    buf.copy_within(self.read..self.read + n, self.write);
                    self.read += n;
                    self.write += n;
                    self.chunk = Some(if n == left {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left - n)
                    });
                }
                Chunk::DataEnd => {
                    if buf.len() < self.read + 2 {
                        return Ok(false);
                    }
                    if &buf[self.read..self.read + 2] != b"\r\n" {
                        bail!("chunk data not followed by CRLF");
                    }
                    self.read += 2;
                    self.chunk = Some(Chunk::Size);
                }
                Chunk::Trailers => {
                    let Some(line) = line_at(buf, self.read) else {
                        return Ok(false);
                    };
                    let empty = line == self.read;
                    self.read = line + 2;
                    if empty {
                        return Ok(true);
                    }
                }
            }
        }
    }
}

/// The position of the CRLF that ends the line starting at `from`, if it has arrived.
fn line_at(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?.windows(2).position(|w| w == b"\r\n").map(|p| from + p)
}

/// A non-empty run of digits in `radix` (10 or 16), without overflow.
fn parse_number(digits: &[u8], radix: u32) -> Option<usize> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |acc, &b| {
        let d = char::from(b).to_digit(radix)?;
        acc.checked_mul(radix as usize)?.checked_add(d as usize)
    })
}

/// Parses the status line and headers once the blank line that ends them has arrived, in one
/// pass over the lines. Informational (1xx) heads are not expected (no `Expect:` is ever
/// sent) and are refused.
fn parse_head(buf: &[u8]) -> anyhow::Result<Option<Head>> {
    let mut status = None;
    let (mut length, mut chunked, mut close) = (None, false, false);
    let mut pos = 0;
    loop {
        let Some(newline) = buf[pos..].iter().position(|&b| b == b'\n') else {
            if buf.len() > MAX_HEAD {
                bail!("answer head over {MAX_HEAD} bytes");
            }
            return Ok(None);
        };
        let line = &buf[pos..pos + newline];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += newline + 1;
        if status.is_none() {
            status = Some(parse_status_line(line)?);
            close = line.starts_with(b"HTTP/1.0");
            continue;
        }
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            bail!("bad header line `{}`", String::from_utf8_lossy(line));
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_number(value, 10)
                .filter(|&n| n <= MAX_BODY)
                .with_context(|| format!("bad Content-Length `{}`", String::from_utf8_lossy(value)))?;
            if length.is_some_and(|l| l != n) {
                bail!("two different Content-Length headers");
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if !value.eq_ignore_ascii_case(b"chunked") {
                bail!("unsupported Transfer-Encoding `{}`", String::from_utf8_lossy(value));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            close = value
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
        }
    }
    let status = status.expect("the loop reads the status line first");
    // Transfer-Encoding wins over Content-Length (RFC 9112 6.3); 204 and 304 have no body.
    let framing = if status == 204 || status == 304 {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked
    } else {
        length.map_or(Framing::UntilClose, Framing::Length)
    };
    Ok(Some(Head {
        status,
        body_start: pos,
        framing,
        close: close || framing == Framing::UntilClose,
    }))
}

/// `HTTP/1.x NNN reason`: the status, 200 to 599.
fn parse_status_line(line: &[u8]) -> anyhow::Result<u16> {
    match line {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor, b' ', s @ ..]
            if minor.is_ascii_digit() && s.len() >= 3 && (s.len() == 3 || s[3] == b' ') =>
        {
            parse_number(&s[..3], 10).and_then(|n| u16::try_from(n).ok())
        }
        _ => None,
    }
    .filter(|s| (200..600).contains(s))
    .with_context(|| format!("bad status line `{}`", String::from_utf8_lossy(line)))
}

/// One worker's connection: reopened before a request when the server has closed it.
pub struct Wire {
    target: Arc<Target>,
    addr: SocketAddr,
    stream: Option<TcpStream>,
    /// `Host: ...\r\n`, and the `Authorization` line of token generation `auth_gen`.
    host_line: Vec<u8>,
    auth_line: Vec<u8>,
    auth_gen: u64,
    /// The request being sent, and the answer being read (its first `filled` bytes).
    out: Vec<u8>,
    buf: Vec<u8>,
    filled: usize,
}

impl Wire {
    pub fn new(target: Arc<Target>) -> Wire {
        let host_line = format!("Host: {}\r\n", target.authority).into_bytes();
        Wire {
            addr: target.addr,
            target,
            stream: None,
            host_line,
            auth_line: Vec::new(),
            auth_gen: u64::MAX,
            out: Vec::with_capacity(1024),
            buf: vec![0; READ_CHUNK],
            filled: 0,
        }
    }

    /// A connection that can take a request: the current one unless the server closed it
    /// (or sent something unasked) since the last answer. The check costs no system call
    /// while the socket has not been reported readable.
    async fn ensure_connected(&mut self) -> anyhow::Result<()> {
        if let Some(s) = &self.stream {
            let mut probe = [0u8; 1];
            match s.try_read(&mut probe) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                _ => self.stream = None,
            }
        }
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await.context("connect")?;
            s.set_nodelay(true).context("nodelay")?;
            self.stream = Some(s);
        }
        Ok(())
    }

    /// Sends one request and reads its whole answer: the status and the body, borrowed until
    /// the next request. On an error the connection is dropped (the next request opens one).
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        auth: bool,
    ) -> anyhow::Result<(u16, &[u8])> {
        self.build(method, path, body, auth);
        match self.exchange().await {
            Ok(parsed) => {
                if parsed.close {
                    self.stream = None;
                }
                Ok((parsed.status, &self.buf[parsed.body]))
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }

    /// Writes the request head and body into `out`.
    fn build(&mut self, method: &str, path: &str, body: Option<&[u8]>, auth: bool) {
        let out = &mut self.out;
        out.clear();
        for part in [
            method.as_bytes(),
            b" ",
            path.as_bytes(),
            b" HTTP/1.1\r\n",
            &self.host_line,
        ] {
            out.extend_from_slice(part);
        }
        if auth {
            // The token is shared and refreshed in the background: re-read only when it changed.
            let generation = self.target.token_generation();
            if generation != self.auth_gen {
                self.auth_line = format!("Authorization: {}\r\n", self.target.token_text()).into_bytes();
                self.auth_gen = generation;
            }
            out.extend_from_slice(&self.auth_line);
        }
        if let Some(b) = body {
            out.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
            push_decimal(out, b.len() as u64);
            out.extend_from_slice(b"\r\n\r\n");
            out.extend_from_slice(b);
        } else {
            out.extend_from_slice(b"\r\n");
        }
    }

    async fn exchange(&mut self) -> anyhow::Result<Parsed> {
        self.ensure_connected().await?;
        let stream = self.stream.as_mut().context("no connection")?;
        stream.write_all(&self.out).await.context("send")?;
        let mut parser = ResponseParser::default();
        self.filled = 0;
        loop {
            // Room for all of an announced body (so a large answer is not copied as the buffer
            // doubles up to it), else for READ_CHUNK more bytes. Never an empty read buffer:
            // a read of 0 bytes means the server closed the connection.
            let want = match parser.head {
                Some(Head {
                    framing: Framing::Length(n),
                    body_start,
                    ..
                }) => body_start + n,
                _ => self.filled + READ_CHUNK,
            };
            if self.buf.len() < want {
                let len = want.max(self.buf.len() * 2);
                self.buf.resize(len, 0);
            }
            let n = stream.read(&mut self.buf[self.filled..]).await.context("receive")?;
            self.filled += n;
            if let Some(mut parsed) = parser.parse(&mut self.buf[..self.filled], n == 0)? {
                parsed.close |= n == 0;
                return Ok(parsed);
            }
            if self.filled > MAX_HEAD + MAX_BODY {
                bail!("answer over {} bytes", MAX_HEAD + MAX_BODY);
            }
        }
    }
}

/// Appends `v` in decimal.
pub fn push_decimal(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `raw` to a parser in pieces of `step` bytes, as reads would deliver it.
    fn parse_in_steps(raw: &[u8], step: usize, eof_at_end: bool) -> anyhow::Result<(u16, Vec<u8>, bool)> {
        let mut parser = ResponseParser::default();
        let mut buf = Vec::new();
        let mut fed = 0;
        loop {
            let next = (fed + step).min(raw.len());
            buf.extend_from_slice(&raw[fed..next]);
            fed = next;
            let eof = eof_at_end && fed == raw.len();
            if let Some(p) = parser.parse(&mut buf, eof)? {
                assert_eq!(fed, raw.len(), "complete before all bytes were fed");
                return Ok((p.status, buf[p.body].to_vec(), p.close));
            }
            if fed == raw.len() {
                anyhow::bail!("incomplete");
            }
        }
    }

    fn every_split(raw: &[u8]) -> (u16, Vec<u8>, bool) {
        let whole = parse_in_steps(raw, raw.len(), false).unwrap();
        for step in [1, 2, 3, 7, 64] {
            assert_eq!(parse_in_steps(raw, step, false).unwrap(), whole, "step {step}");
        }
        whole
    }

    #[test]
    fn content_length_in_any_split() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 15\r\ndate: x\r\n\r\n{\"status\":\"ok\"}";
        assert_eq!(every_split(raw), (200, b"{\"status\":\"ok\"}".to_vec(), false));
        let empty = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(every_split(empty), (204, Vec::new(), false));
    }

    #[test]
    fn chunked_in_any_split() {
        let raw = b"HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
            5\r\n{\"a\":\r\n1A;ext=1\r\n\"abcdefghijklmnopqrstuvw\"}\r\n0\r\nx-trailer: 1\r\n\r\n";
        let (status, body, close) = every_split(raw);
        assert_eq!((status, close), (409, true));
        assert_eq!(body, b"{\"a\":\"abcdefghijklmnopqrstuvw\"}");
        let bad = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert!(parse_in_steps(bad, 100, false).is_err());
        let gzip = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
        assert!(parse_in_steps(gzip, 100, false).is_err());
    }

    #[test]
    fn bad_status_lines_and_truncation() {
        for raw in [
            &b"HTTP/2 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"hello\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        ] {
            assert!(
                parse_in_steps(raw, 100, false).is_err(),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        // The connection closes before the announced body is in.
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        assert!(parse_in_steps(short, 100, true).is_err());
        // More bytes than announced: out of sync.
        let long = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab";
        assert!(parse_in_steps(long, 100, false).is_err());
        // No length: the body runs to the close.
        let until_close = b"HTTP/1.0 500 Oops\r\n\r\nboom";
        assert_eq!(
            parse_in_steps(until_close, 3, true).unwrap(),
            (500, b"boom".to_vec(), true)
        );
    }

    #[test]
    fn requests_carry_the_current_token() {
        let target = Target::new("http://127.0.0.1:9", super::super::http::ClientKind::Raw, 1).unwrap();
        let mut wire = Wire::new(target.clone());
        target.set_token("one").unwrap();
        wire.build("POST", "/p?q=1", Some(b"{}"), true);
        assert_eq!(
            String::from_utf8(wire.out.clone()).unwrap(),
            "POST /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nAuthorization: Bearer one\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
        target.set_token("two").unwrap();
        wire.build("GET", "/health", None, true);
        assert_eq!(
            String::from_utf8(wire.out.clone()).unwrap(),
            "GET /health HTTP/1.1\r\nHost: 127.0.0.1:9\r\nAuthorization: Bearer two\r\n\r\n"
        );
    }

    /// Against a scripted server: an answer in pieces, a chunked one that closes the
    /// connection, then a request that must go out on a new connection.
    #[tokio::test]
    async fn keeps_alive_and_reconnects_after_close() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        // Per request: the answer's pieces (written 5 ms apart), and whether the server then
        // closes the connection.
        let script: [(&[&[u8]], bool); 3] = [
            (&[b"HTTP/1.1 200 OK\r\nContent-Le", b"ngth: 5\r\n\r\nhe", b"llo"], false),
            (
                &[b"HTTP/1.1 422 Unprocessable\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"],
                true,
            ),
            (&[b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n"], false),
        ];
        let server = tokio::spawn(async move {
            let mut connections = 0;
            let mut stream = None;
            for (pieces, close) in script {
                if stream.is_none() {
                    stream = Some(listener.accept().await.unwrap().0);
                    connections += 1;
                }
                let s = stream.as_mut().unwrap();
                // The requests here are heads without a body: read up to the blank line.
                let (mut request, mut byte) = (Vec::new(), [0u8; 1]);
                while !request.ends_with(b"\r\n\r\n") {
                    assert_eq!(s.read(&mut byte).await.unwrap(), 1, "the client hung up");
                    request.push(byte[0]);
                }
                for piece in pieces {
                    s.write_all(piece).await.unwrap();
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                if close {
                    stream = None;
                }
            }
            connections
        });
        let target = Target::new(&url, super::super::http::ClientKind::Raw, 1).unwrap();
        let mut wire = Wire::new(target);
        let (status, body) = wire.request("GET", "/a", None, false).await.unwrap();
        assert_eq!((status, body), (200, &b"hello"[..]));
        let (status, body) = wire.request("GET", "/b", None, false).await.unwrap();
        assert_eq!((status, body), (422, &b"abc"[..]));
        let (status, body) = wire.request("GET", "/c", None, false).await.unwrap();
        assert_eq!((status, body), (201, &b""[..]));
        assert_eq!(server.await.unwrap(), 2);
    }

    #[test]
    fn decimals() {
        for v in [0u64, 7, 10, 1234, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
    }
}
