//! Setup through the API: one client, a fee-free client service, N wallets, each funded with
//! one CREDIT (through the batch endpoint when the server has it), many requests in flight.

use super::http::{Conn, Target};
use super::workload::AmountRange;
use anyhow::{Context, bail};
use indicatif::ProgressBar;
use rust_decimal::Decimal;
use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// Postings per funding request when the batch endpoint exists.
const FUND_BATCH: usize = 1000;

/// What the load needs to know about the bench's own client.
pub struct World {
    pub client_code: String,
    pub service: String,
    /// Account numbers, by wallet index.
    pub wallets: Vec<String>,
    pub fund: Decimal,
    /// Whether `POST /api/v1/transactions/batch` answered (it funded the wallets).
    pub batch_endpoint: bool,
    pub setup_secs: f64,
}

/// Runs `f(conn, i)` for every `i` in `0..n`, `width` at a time, each task on its own
/// connection; the answers in order of `i`. The first error stops the others.
pub async fn parallel<T, F, Fut>(
    target: &Arc<Target>,
    width: usize,
    n: usize,
    bar: &ProgressBar,
    f: F,
) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(Conn, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = (Conn, anyhow::Result<T>)> + Send + 'static,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..width.clamp(1, n.max(1)) {
        let (f, next, stop, bar) = (f.clone(), next.clone(), stop.clone(), bar.clone());
        let mut conn = target.conn();
        tasks.spawn(async move {
            let mut out = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let (c, r) = f(conn, i).await;
                conn = c;
                match r {
                    Ok(v) => out.push((i, v)),
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
                bar.inc(1);
            }
            Ok(out)
        });
    }
    let mut all = Vec::with_capacity(n);
    let mut first_error = None;
    while let Some(r) = tasks.join_next().await {
        match r.context("setup task")? {
            Ok(out) => all.extend(out),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    all.sort_unstable_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, v)| v).collect())
}

fn bar(len: usize, what: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix:>8} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .expect("template")
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_owned());
    bar
}

pub struct SetupArgs {
    pub wallets: usize,
    pub fund: Decimal,
    pub amount: AmountRange,
    pub in_flight: usize,
    pub progress: bool,
}

pub async fn setup(target: &Arc<Target>, conn: &mut Conn, args: SetupArgs) -> anyhow::Result<World> {
    let started = Instant::now();
    let tag = format!("{:06}", rand::random::<u32>() % 1_000_000);
    let client = conn
        .post(
            "/api/v1/clients",
            json!({
                "client_name": format!("Bench {tag}"),
                "client_email": "bench@example.com",
                "client_phone_number": "254700000000",
                "contact_person_name": "Bench",
                "contact_person_email": "bench@example.com",
                "contact_person_msisdn": "254700000000",
                "business_pin": "BENCH",
                "country": "Kenya",
                "description": "walletd-bench load generator",
                "is_active": 1
            })
            .to_string(),
        )
        .await
        .context("POST /api/v1/clients")?
        .expect(201, "POST /api/v1/clients")?;
    let client_code = client["client_code"]
        .as_str()
        .context("client without client_code")?
        .to_owned();
    let min = Decimal::new(1, 2).min(args.amount.lo_decimal());
    let service = conn
        .post(
            "/api/v1/client-services",
            json!({
                "client_code": client_code,
                "client_service_name": "Bench transfers",
                "service_code": "CUSTOM_SERVICE",
                "has_transaction_fee": false,
                "minimum_transaction_amount": min.to_string(),
                "maximum_transaction_amount": "1000000000",
                "is_active": 1
            })
            .to_string(),
        )
        .await
        .context("POST /api/v1/client-services")?
        .expect(201, "POST /api/v1/client-services")?;
    let service = service["client_service_code"]
        .as_str()
        .context("service without client_service_code")?
        .to_owned();

    let b = bar(args.wallets, "wallets", args.progress);
    let code = Arc::new(client_code.clone());
    let wallets = parallel(target, args.in_flight, args.wallets, &b, move |mut c, i| {
        let body = json!({
            "client_code": *code,
            "account_type_code": "CURRENT_ACCOUNT",
            "account_name": format!("Bench wallet {i}"),
            "currency": "KES",
            "minimum_balance": 0,
            "can_overdraw": false,
            "status": "ACTIVE"
        })
        .to_string();
        async move {
            let r = async {
                let v = c
                    .post("/api/v1/accounts", body)
                    .await?
                    .expect(201, "POST /api/v1/accounts")?;
                Ok(v["account_number"]
                    .as_str()
                    .context("wallet without account_number")?
                    .to_owned())
            }
            .await;
            (c, r)
        }
    })
    .await?;
    b.finish_and_clear();

    let fund_text = args.fund.to_string();
    let credit = |i: usize, number: &str| {
        json!({
            "account_number": number,
            "client_service_code": service,
            "transaction_source": "EXTERNAL",
            "transaction_amount": fund_text,
            "source_transaction_id": format!("fund-{i}"),
            "transaction_narration": "walletd-bench funding"
        })
    };
    // The batch endpoint, when the server has it: probe with the first chunk.
    let chunks: Vec<String> = wallets
        .chunks(FUND_BATCH)
        .enumerate()
        .map(|(c, ws)| {
            let postings: Vec<_> = ws
                .iter()
                .enumerate()
                .map(|(k, n)| {
                    let mut p = credit(c * FUND_BATCH + k, n);
                    p["command"] = json!("CREDIT");
                    p
                })
                .collect();
            json!({ "atomic": false, "postings": postings }).to_string()
        })
        .collect();
    let check_batch = |v: &serde_json::Value, expected: usize| -> anyhow::Result<()> {
        let results = v["results"].as_array().context("batch answer without results")?;
        let failed: Vec<_> = results.iter().filter(|r| r.get("code").is_some()).take(3).collect();
        if results.len() != expected || !failed.is_empty() {
            bail!(
                "funding batch: {} results for {expected} postings; failures: {failed:?}",
                results.len()
            );
        }
        Ok(())
    };
    let probe = conn
        .post("/api/v1/transactions/batch", chunks[0].clone())
        .await
        .context("funding batch")?;
    let batch_endpoint = probe.status == 200 && probe.json().is_ok_and(|v| v.get("results").is_some());
    let b = bar(args.wallets, "funding", args.progress);
    if batch_endpoint {
        check_batch(&probe.json()?, wallets.len().min(FUND_BATCH))?;
        b.inc(wallets.len().min(FUND_BATCH) as u64);
        let sizes: Vec<usize> = wallets.chunks(FUND_BATCH).map(<[String]>::len).collect();
        let rest: Arc<Vec<(String, usize)>> = Arc::new(chunks.into_iter().zip(sizes).skip(1).collect());
        let bar2 = b.clone();
        parallel(target, 4, rest.len(), &ProgressBar::hidden(), move |mut c, i| {
            let (body, size) = rest[i].clone();
            let bar2 = bar2.clone();
            async move {
                let r = async {
                    let v = c
                        .post("/api/v1/transactions/batch", body)
                        .await?
                        .expect(200, "funding batch")?;
                    check_batch(&v, size)?;
                    bar2.inc(size as u64);
                    Ok(())
                }
                .await;
                (c, r)
            }
        })
        .await?;
    } else {
        let bodies: Arc<Vec<String>> = Arc::new(
            wallets
                .iter()
                .enumerate()
                .map(|(i, n)| credit(i, n).to_string())
                .collect(),
        );
        parallel(target, args.in_flight, wallets.len(), &b, move |mut c, i| {
            let body = bodies[i].clone();
            async move {
                let r = async {
                    c.post("/api/v1/transactions?command=CREDIT", body)
                        .await?
                        .expect(200, "funding CREDIT")?;
                    Ok(())
                }
                .await;
                (c, r)
            }
        })
        .await?;
    }
    b.finish_and_clear();
    Ok(World {
        client_code,
        service,
        wallets,
        fund: args.fund,
        batch_endpoint,
        setup_secs: started.elapsed().as_secs_f64(),
    })
}

/// Legs (transactions) of the client so far: `metadata.total_count`.
pub async fn leg_count(conn: &mut Conn, client_code: &str) -> anyhow::Result<u64> {
    let v = conn
        .get(&format!("/api/v1/transactions?limit=1&client_code={client_code}"))
        .await?
        .expect(200, "GET /api/v1/transactions")?;
    v["metadata"]["total_count"]
        .as_u64()
        .context("transactions list without metadata.total_count")
}
