//! The figures at the end: human-readable, or one JSON object (`--json`).

use super::check::Check;
use super::run::RunResult;
use serde_json::{Value, json};

pub struct Summary<'a> {
    pub config: Value,
    pub setup_secs: f64,
    pub result: &'a RunResult,
    pub check: Option<&'a Check>,
    pub client_cpu_secs: Option<f64>,
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

impl Summary<'_> {
    pub fn json(&self) -> Value {
        let s = &self.result.stats;
        let secs = self.result.elapsed.as_secs_f64().max(1e-9);
        let h = &s.hist;
        let q = |p: f64| if h.is_empty() { 0.0 } else { ms(h.value_at_quantile(p)) };
        let errors: serde_json::Map<String, Value> =
            s.by_status.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        let top: Vec<Value> = s
            .top_messages(5)
            .into_iter()
            .map(|(status, message, count)| json!({ "status": status, "message": message, "count": count }))
            .collect();
        let check = self.check.map(|c| {
            json!({
                "ok": c.ok(),
                "accounts": c.accounts,
                "sum": c.sum.to_string(),
                "wallets_sum": c.wallets_sum.to_string(),
                "expected_wallets_sum": c.expected_wallets_sum.map(|d| d.to_string()),
                "legs_before": c.legs_before,
                "legs_after": c.legs_after,
                "legs_delta": c.legs_after.saturating_sub(c.legs_before),
                "expected_legs": c.expected_legs,
                "problems": c.problems,
            })
        });
        json!({
            "config": self.config,
            "setup_secs": self.setup_secs,
            "duration_secs": secs,
            "postings_ok": s.postings_ok,
            "postings_failed": s.postings_failed,
            "postings_unknown": s.postings_unknown,
            "postings_per_sec": s.postings_ok as f64 / secs,
            "requests": s.requests,
            "requests_ok": s.requests_ok,
            "requests_per_sec": s.requests as f64 / secs,
            "transport_errors": s.transport_errors,
            "latency_ms": {
                "mean": if h.is_empty() { 0.0 } else { h.mean() / 1000.0 },
                "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p99_9": q(0.999),
                "max": if h.is_empty() { 0.0 } else { ms(h.max()) },
            },
            "errors_by_status": errors,
            "top_errors": top,
            "client_cpu_secs": self.client_cpu_secs,
            "client_cpu_us_per_request": self.client_cpu_secs.map(|c| c * 1e6 / s.requests.max(1) as f64),
            "conservation": check,
        })
    }

    pub fn print(&self) {
        let v = self.json();
        let c = &v["config"];
        let l = &v["latency_ms"];
        println!(
            "walletd-bench: {} mode{}, {} workload, mix {}, {} connections, {} wallets, {} client",
            c["mode"].as_str().unwrap_or("?"),
            if c["mode"] == "batch" {
                format!(" (batch {}, atomic {})", c["batch_size"], c["atomic"])
            } else {
                String::new()
            },
            c["workload"].as_str().unwrap_or("?"),
            c["mix"].as_str().unwrap_or("?"),
            c["connections"],
            c["wallets"],
            c["client"].as_str().unwrap_or("?"),
        );
        println!("  set-up        {:.1} s", self.setup_secs);
        println!("  duration      {:.2} s", v["duration_secs"].as_f64().unwrap_or(0.0));
        println!(
            "  postings      {:.0}/s   ({} ok, {} failed, {} unknown outcome)",
            v["postings_per_sec"].as_f64().unwrap_or(0.0),
            v["postings_ok"],
            v["postings_failed"],
            v["postings_unknown"]
        );
        println!(
            "  requests      {:.0}/s   ({} sent, {} answered 200)",
            v["requests_per_sec"].as_f64().unwrap_or(0.0),
            v["requests"],
            v["requests_ok"]
        );
        let f = |k: &str| l[k].as_f64().unwrap_or(0.0);
        println!(
            "  latency (ms)  p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  mean {:.2}",
            f("p50"),
            f("p90"),
            f("p99"),
            f("p99_9"),
            f("max"),
            f("mean")
        );
        let s = &self.result.stats;
        if s.by_status.is_empty() {
            println!("  errors        none");
        } else {
            let by: Vec<String> = s
                .by_status
                .iter()
                .map(|(k, v)| {
                    if *k == 0 {
                        format!("transport/unreadable: {v}")
                    } else {
                        format!("HTTP {k}: {v}")
                    }
                })
                .collect();
            println!("  errors        {}", by.join(", "));
            for (status, message, count) in s.top_messages(5) {
                println!("    {count:>9} x {status} {message}");
            }
        }
        if let Some(cpu) = self.client_cpu_secs {
            println!(
                "  client CPU    {cpu:.2} s ({:.0}% of one core, {:.1} us per request)",
                100.0 * cpu / v["duration_secs"].as_f64().unwrap_or(1.0),
                v["client_cpu_us_per_request"].as_f64().unwrap_or(0.0)
            );
        }
        match self.check {
            None => println!("  conservation  not checked (--skip-check)"),
            Some(c) => {
                println!(
                    "  conservation  {}: {} accounts of the bench client sum to {}; wallets hold {}{}; legs {} -> {} (+{}{})",
                    if c.ok() { "OK" } else { "FAILED" },
                    c.accounts,
                    c.sum,
                    c.wallets_sum,
                    c.expected_wallets_sum.map_or_else(
                        || " (not compared: some outcomes unknown)".to_owned(),
                        |e| format!(" (expected {e})")
                    ),
                    c.legs_before,
                    c.legs_after,
                    c.legs_after.saturating_sub(c.legs_before),
                    c.expected_legs
                        .map_or_else(|| ", not compared".to_owned(), |e| format!(", expected +{e}")),
                );
                for p in &c.problems {
                    println!("    problem: {p}");
                }
            }
        }
    }
}
