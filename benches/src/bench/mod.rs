//! The pieces of `walletd-bench` (see `benches/README.md`).

pub mod check;
pub mod genwal;
pub mod http;
pub mod payload;
pub mod report;
pub mod run;
pub mod setup;
pub mod wire;
pub mod workload;

/// `30s`, `500ms`, `2m`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> anyhow::Result<std::time::Duration> {
    let s = s.trim();
    let (number, unit) = s.split_at(s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len()));
    let value: f64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("`{s}` is not a duration (e.g. 30s, 500ms, 2m)"))?;
    let secs = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => anyhow::bail!("unknown duration unit `{other}` (ms, s, m, h)"),
    };
    if !(secs.is_finite() && secs > 0.0) {
        anyhow::bail!("the duration must be positive");
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat`.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After the command name: state is field 3, utime field 14, stime field 15.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap().as_secs(), 30);
        assert_eq!(parse_duration("500ms").unwrap().as_millis(), 500);
        assert_eq!(parse_duration("2m").unwrap().as_secs(), 120);
        assert_eq!(parse_duration("5").unwrap().as_secs(), 5);
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn cpu_time_is_readable() {
        assert!(cpu_seconds().is_some());
    }
}
