//! The load: `--connections` workers, each a closed loop on its own keep-alive connection,
//! until `--duration` has passed or `--count` postings were sent. The loop reuses its buffers
//! and parses JSON only where a verdict needs it: the generator shares the server's cores.

use super::http::{Conn, Target, body_error_message, error_message};
use super::payload::{Bodies, scan_batch};
use super::setup::World;
use super::workload::{Kind, Op, Plan};
use clap::ValueEnum;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// One posting per request (`/account-transfers`, `/transactions?command=...`).
    Single,
    /// `--batch-size` postings per `POST /api/v1/transactions/batch`.
    Batch,
}

pub struct RunConfig {
    pub mode: Mode,
    pub batch_size: usize,
    pub atomic: bool,
    pub connections: usize,
    pub duration: Duration,
    pub count: Option<u64>,
    pub progress: bool,
}

/// What the workers saw. Postings whose outcome is unknown (transport error, 408, 5xx)
/// may or may not have been applied; the exact checks are skipped when there are any.
pub struct Stats {
    /// Latency per request in microseconds (the workers share one; `run` puts it here).
    pub hist: Histogram<u64>,
    pub requests: u64,
    pub requests_ok: u64,
    pub transport_errors: u64,
    pub postings_ok: u64,
    pub postings_failed: u64,
    pub postings_unknown: u64,
    /// Per posting (per request for transport errors, status 0).
    pub by_status: BTreeMap<u16, u64>,
    pub messages: HashMap<(u16, String), u64>,
    /// Sums of the successful credits and debits, in units of 0.0001.
    pub credit_units: i128,
    pub debit_units: i128,
}

impl Stats {
    fn new() -> Self {
        Stats {
            hist: latency_histogram(),
            requests: 0,
            requests_ok: 0,
            transport_errors: 0,
            postings_ok: 0,
            postings_failed: 0,
            postings_unknown: 0,
            by_status: BTreeMap::new(),
            messages: HashMap::new(),
            credit_units: 0,
            debit_units: 0,
        }
    }

    fn merge(&mut self, o: Stats) {
        self.hist.add(&o.hist).expect("same histogram bounds");
        self.requests += o.requests;
        self.requests_ok += o.requests_ok;
        self.transport_errors += o.transport_errors;
        self.postings_ok += o.postings_ok;
        self.postings_failed += o.postings_failed;
        self.postings_unknown += o.postings_unknown;
        for (k, v) in o.by_status {
            *self.by_status.entry(k).or_default() += v;
        }
        for (k, v) in o.messages {
            *self.messages.entry(k).or_default() += v;
        }
        self.credit_units += o.credit_units;
        self.debit_units += o.debit_units;
    }

    fn applied(&mut self, op: &Op) {
        self.postings_ok += 1;
        match op.kind {
            Kind::Credit => self.credit_units += i128::from(op.units),
            Kind::Debit => self.debit_units += i128::from(op.units),
            Kind::Transfer => {}
        }
    }

    fn refused(&mut self, status: u16, message: String, postings: u64) {
        // 408 (the server's own timeout) and 5xx: the posting may still be applied.
        if status == 408 || status >= 500 || status == 0 {
            self.postings_unknown += postings;
        } else {
            self.postings_failed += postings;
        }
        *self.by_status.entry(status).or_default() += postings;
        *self.messages.entry((status, generic(&message))).or_default() += postings;
    }

    /// The `n` most frequent error messages.
    pub fn top_messages(&self, n: usize) -> Vec<(u16, String, u64)> {
        let mut v: Vec<_> = self.messages.iter().map(|((s, m), c)| (*s, m.clone(), *c)).collect();
        v.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
        v.truncate(n);
        v
    }
}

/// The message with account numbers and other long numbers replaced by `#`, so that the
/// same refusal of different wallets counts as one message.
fn generic(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut digits = String::new();
    for ch in message.chars().chain(std::iter::once('\0')) {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        if digits.len() >= 5 {
            out.push('#');
        } else {
            out.push_str(&digits);
        }
        digits.clear();
        if ch != '\0' {
            out.push(ch);
        }
    }
    out
}

/// A refused item of the batch endpoint's `results`: `{"status","message","code"}`.
#[derive(Deserialize)]
struct BatchError {
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    message: Option<serde_json::Value>,
}

fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds")
}

struct Shared {
    target: Arc<Target>,
    /// Latencies of all workers in one histogram, so that the counters a run touches are
    /// few enough to stay in cache (one histogram per worker spread them over 64 times the
    /// memory). The lock is uncontended on the default single-threaded runtime.
    latency: Mutex<Histogram<u64>>,
    bodies: Bodies,
    plan: Plan,
    issued: AtomicU64,
    done: AtomicU64,
    errors: AtomicU64,
    deadline: Instant,
    count: Option<u64>,
    mode: Mode,
    batch_size: usize,
    atomic: bool,
}

async fn worker(shared: Arc<Shared>, index: usize) -> Stats {
    let mut stats = Stats::new();
    let mut conn: Conn = shared.target.conn();
    let mut generator = shared.plan.generator(index as u64);
    let per_request = if shared.mode == Mode::Batch {
        shared.batch_size.max(1)
    } else {
        1
    };
    let mut ops = Vec::with_capacity(per_request);
    // Rebuilt in place for every request (a posting is about 260 bytes).
    let mut body: Vec<u8> = Vec::with_capacity(per_request * 260 + 64);
    let mut verdicts = Vec::with_capacity(per_request);
    let batch_head: &[u8] = if shared.atomic {
        br#"{"atomic":true,"postings":["#
    } else {
        br#"{"atomic":false,"postings":["#
    };
    let mut seq = 0u64;
    // The end of the previous request doubles as the deadline check's clock.
    let mut now = Instant::now();
    loop {
        let n = match shared.count {
            Some(total) => {
                let start = shared.issued.fetch_add(per_request as u64, Ordering::Relaxed);
                if start >= total {
                    break;
                }
                (total - start).min(per_request as u64) as usize
            }
            None => {
                if now >= shared.deadline {
                    break;
                }
                per_request
            }
        };
        ops.clear();
        ops.extend((0..n).map(|_| generator.next_op()));
        body.clear();
        let path = match shared.mode {
            Mode::Single => {
                let op = &ops[0];
                body.push(b'{');
                shared.bodies.push_posting(&mut body, op, index, seq);
                body.push(b'}');
                seq += 1;
                match op.kind {
                    Kind::Transfer => "/api/v1/account-transfers",
                    Kind::Credit => "/api/v1/transactions?command=CREDIT",
                    Kind::Debit => "/api/v1/transactions?command=DEBIT",
                }
            }
            Mode::Batch => {
                body.extend_from_slice(batch_head);
                for (k, op) in ops.iter().enumerate() {
                    if k > 0 {
                        body.push(b',');
                    }
                    for part in ["{\"command\":\"", op.kind.command(), "\","] {
                        body.extend_from_slice(part.as_bytes());
                    }
                    shared.bodies.push_posting(&mut body, op, index, seq);
                    body.push(b'}');
                    seq += 1;
                }
                body.extend_from_slice(b"]}");
                "/api/v1/transactions/batch"
            }
        };
        let started = Instant::now();
        let answer = conn.post_borrowed(path, &body).await;
        now = Instant::now();
        let micros = now.duration_since(started).as_micros().min(u128::from(u64::MAX)) as u64;
        shared
            .latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .saturating_record(micros.max(1));
        stats.requests += 1;
        let before_errors = stats.postings_failed + stats.postings_unknown;
        match answer {
            Err(e) => {
                stats.transport_errors += 1;
                stats.refused(0, format!("transport: {e:#}"), n as u64);
                tokio::time::sleep(Duration::from_millis(10)).await;
                now = Instant::now();
            }
            Ok((200, answer)) => {
                stats.requests_ok += 1;
                match shared.mode {
                    Mode::Single => stats.applied(&ops[0]),
                    Mode::Batch => batch_results(&mut stats, answer, &ops, &mut verdicts),
                }
            }
            Ok((status, answer)) => stats.refused(status, body_error_message(answer), n as u64),
        }
        shared.done.fetch_add(n as u64, Ordering::Relaxed);
        let errors = stats.postings_failed + stats.postings_unknown - before_errors;
        if errors > 0 {
            shared.errors.fetch_add(errors, Ordering::Relaxed);
        }
    }
    stats
}

/// Counts each posting of a batch by its item in `results`; only refused items are parsed.
fn batch_results(stats: &mut Stats, answer: &[u8], ops: &[Op], verdicts: &mut Vec<Option<Range<usize>>>) {
    match scan_batch(answer, verdicts) {
        Ok(()) if verdicts.len() == ops.len() => {
            for (verdict, op) in verdicts.iter().zip(ops) {
                let Some(item) = verdict else {
                    stats.applied(op);
                    continue;
                };
                match serde_json::from_slice::<BatchError>(&answer[item.clone()]) {
                    Ok(e) => {
                        let message =
                            error_message(e.message.as_ref().map(|m| serde_json::json!({ "message": m })).as_ref())
                                .unwrap_or_default();
                        stats.refused(e.status.unwrap_or(0), message, 1);
                    }
                    Err(e) => stats.refused(0, format!("batch answer item unreadable: {e}"), 1),
                }
            }
        }
        Ok(()) => stats.refused(
            0,
            format!("batch answer has {} results for {} postings", verdicts.len(), ops.len()),
            ops.len() as u64,
        ),
        Err(e) => stats.refused(0, format!("batch answer unreadable: {e}"), ops.len() as u64),
    }
}

pub struct RunResult {
    pub stats: Stats,
    pub elapsed: Duration,
}

pub async fn run(target: &Arc<Target>, world: Arc<World>, plan: Plan, cfg: &RunConfig) -> RunResult {
    let started = Instant::now();
    let shared = Arc::new(Shared {
        target: target.clone(),
        latency: Mutex::new(latency_histogram()),
        bodies: Bodies::new(&world),
        plan,
        issued: AtomicU64::new(0),
        done: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        deadline: started + cfg.duration,
        count: cfg.count,
        mode: cfg.mode,
        batch_size: cfg.batch_size,
        atomic: cfg.atomic,
    });
    let bar = if cfg.progress {
        let (len, template) = match cfg.count {
            Some(c) => (c, "    load [{bar:40}] {pos}/{len} postings {msg}"),
            None => (
                cfg.duration.as_millis() as u64,
                "    load [{bar:40}] {elapsed}/{duration} {msg}",
            ),
        };
        let b = ProgressBar::new(len);
        b.set_style(
            ProgressStyle::with_template(template)
                .expect("template")
                .progress_chars("=> "),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let ticker = {
        let (shared, bar, counted) = (shared.clone(), bar.clone(), cfg.count.is_some());
        tokio::spawn(async move {
            let mut last = (Instant::now(), 0u64);
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let done = shared.done.load(Ordering::Relaxed);
                let now = Instant::now();
                let rate = (done - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
                last = (now, done);
                bar.set_position(if counted {
                    done
                } else {
                    started.elapsed().as_millis() as u64
                });
                bar.set_message(format!(
                    "{rate:.0} postings/s, {} errors",
                    shared.errors.load(Ordering::Relaxed)
                ));
            }
        })
    };
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..cfg.connections.max(1) {
        tasks.spawn(worker(shared.clone(), i));
    }
    let mut stats = Stats::new();
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(s) => stats.merge(s),
            Err(e) => eprintln!("walletd-bench: a worker failed: {e}"),
        }
    }
    let elapsed = started.elapsed();
    stats
        .hist
        .add(&*shared.latency.lock().unwrap_or_else(|e| e.into_inner()))
        .expect("same histogram bounds");
    ticker.abort();
    bar.finish_and_clear();
    RunResult { stats, elapsed }
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_lose_their_account_numbers() {
        assert_eq!(
            super::generic("Insufficient funds in account 10005103"),
            "Insufficient funds in account #"
        );
        assert_eq!(super::generic("amount 5 of 1234"), "amount 5 of 1234");
        assert_eq!(super::generic("12345678 x"), "# x");
    }
}
