//! What to post: the mix of kinds, which wallets (uniform, Zipf-skewed, or one hot wallet) and
//! random amounts. Shared by the HTTP load and `gen-wal`, so both produce the same postings.

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use std::str::FromStr;
use std::sync::Arc;

/// Amounts are handled as integer units of 0.0001 (the ledger's scale).
pub const SCALE: u32 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Every wallet equally likely.
    Uniform,
    /// Zipf-skewed wallet choice (`--zipf-s`): a few wallets take most postings.
    Zipf,
    /// Every posting touches wallet 0 (transfers from or to it, credits and debits on it).
    Hot,
}

#[derive(Args, Clone, Debug)]
pub struct WorkloadArgs {
    /// Number of wallets to create and post against.
    #[arg(long, default_value_t = 10_000)]
    pub wallets: usize,
    /// Initial CREDIT of each wallet.
    #[arg(long, default_value = "1000000")]
    pub fund: Decimal,
    /// Weights of the posting kinds, e.g. `transfer=100` or `transfer=40,credit=30,debit=30`.
    #[arg(long, default_value = "transfer=40,credit=30,debit=30")]
    pub mix: Mix,
    /// How wallets are chosen.
    #[arg(long, value_enum, default_value_t = Workload::Uniform)]
    pub workload: Workload,
    /// Exponent of the Zipf distribution (`--workload zipf`).
    #[arg(long, default_value_t = 1.0)]
    pub zipf_s: f64,
    /// Range of the random amounts, `LO..=HI` (or `LO..HI`, or one fixed amount).
    #[arg(long, default_value = "0.01..=5.00")]
    pub amount: AmountRange,
    /// Seed of the random choices (each connection derives its own stream from it).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Transfer,
    Credit,
    Debit,
}

impl Kind {
    pub fn command(self) -> &'static str {
        match self {
            Kind::Transfer => "TRANSFER",
            Kind::Credit => "CREDIT",
            Kind::Debit => "DEBIT",
        }
    }
}

/// Cumulative weights of the three kinds.
#[derive(Clone, Debug)]
pub struct Mix {
    transfer: u32,
    credit: u32,
    total: u32,
}

impl FromStr for Mix {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        let (mut transfer, mut credit, mut debit) = (0u32, 0u32, 0u32);
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .with_context(|| format!("`{part}`: expected KIND=WEIGHT"))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .with_context(|| format!("`{part}`: weight must be an integer"))?;
            match name.trim().to_ascii_lowercase().as_str() {
                "transfer" => transfer = weight,
                "credit" => credit = weight,
                "debit" => debit = weight,
                other => bail!("unknown posting kind `{other}` (transfer, credit, debit)"),
            }
        }
        let total = transfer
            .checked_add(credit)
            .and_then(|t| t.checked_add(debit))
            .context("weights too large")?;
        if total == 0 {
            bail!("the mix needs at least one positive weight");
        }
        Ok(Mix {
            transfer,
            credit: transfer + credit,
            total,
        })
    }
}

impl std::fmt::Display for Mix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "transfer={},credit={},debit={}",
            self.transfer,
            self.credit - self.transfer,
            self.total - self.credit
        )
    }
}

/// Inclusive range of amounts in units of 0.0001.
#[derive(Clone, Copy, Debug)]
pub struct AmountRange {
    pub lo: i64,
    pub hi: i64,
}

impl AmountRange {
    pub fn lo_decimal(&self) -> Decimal {
        Decimal::new(self.lo, SCALE)
    }
}

impl FromStr for AmountRange {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        let units = |t: &str| -> anyhow::Result<i64> {
            let d = Decimal::from_str(t.trim()).with_context(|| format!("`{t}` is not a decimal amount"))?;
            if d.scale() > SCALE || d <= Decimal::ZERO {
                bail!("`{t}`: amounts must be positive with at most 4 decimals");
            }
            let u = (d * Decimal::new(10_i64.pow(SCALE), 0)).trunc();
            i64::try_from(u.mantissa() / 10_i128.pow(u.scale())).context("amount too large")
        };
        let (lo, hi) = if let Some((a, b)) = s.split_once("..=") {
            (units(a)?, units(b)?)
        } else if let Some((a, b)) = s.split_once("..") {
            (units(a)?, units(b)? - 1)
        } else {
            let v = units(s)?;
            (v, v)
        };
        if lo > hi {
            bail!("empty amount range `{s}`");
        }
        Ok(AmountRange { lo, hi })
    }
}

impl std::fmt::Display for AmountRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..={}", Decimal::new(self.lo, SCALE), Decimal::new(self.hi, SCALE))
    }
}

/// One posting to make: wallet indexes (not account numbers) and the amount in units.
#[derive(Clone, Copy, Debug)]
pub struct Op {
    pub kind: Kind,
    /// Source of a transfer, or the wallet of a credit/debit.
    pub a: usize,
    /// Destination of a transfer.
    pub b: usize,
    pub units: i64,
}

/// The part of a generator shared by all connections (the Zipf table is built once).
#[derive(Clone)]
pub struct Plan {
    args: WorkloadArgs,
    zipf_cdf: Option<Arc<Vec<f64>>>,
}

impl Plan {
    pub fn new(args: &WorkloadArgs) -> anyhow::Result<Self> {
        if args.wallets < 2 {
            bail!("--wallets must be at least 2");
        }
        let zipf_cdf = (args.workload == Workload::Zipf).then(|| {
            if !(args.zipf_s.is_finite() && args.zipf_s >= 0.0) {
                return Err(anyhow::anyhow!("--zipf-s must be a finite number >= 0"));
            }
            let mut acc = 0.0;
            Ok(Arc::new(
                (0..args.wallets)
                    .map(|k| {
                        acc += 1.0 / ((k + 1) as f64).powf(args.zipf_s);
                        acc
                    })
                    .collect::<Vec<f64>>(),
            ))
        });
        Ok(Plan {
            args: args.clone(),
            zipf_cdf: zipf_cdf.transpose()?,
        })
    }

    /// The generator of stream `stream` (one per connection or task).
    pub fn generator(&self, stream: u64) -> Generator {
        let seed = self.args.seed ^ stream.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Generator {
            plan: self.clone(),
            rng: SmallRng::seed_from_u64(seed),
        }
    }
}

pub struct Generator {
    plan: Plan,
    rng: SmallRng,
}

impl Generator {
    fn wallet(&mut self) -> usize {
        let n = self.plan.args.wallets;
        match &self.plan.zipf_cdf {
            Some(cdf) => {
                let x = self.rng.random::<f64>() * cdf[n - 1];
                cdf.partition_point(|&c| c < x).min(n - 1)
            }
            None => self.rng.random_range(0..n),
        }
    }

    /// A wallet other than `a`.
    fn other(&mut self, a: usize) -> usize {
        let n = self.plan.args.wallets;
        for _ in 0..8 {
            let b = self.wallet();
            if b != a {
                return b;
            }
        }
        (a + 1 + self.rng.random_range(0..n - 1)) % n
    }

    pub fn next_op(&mut self) -> Op {
        let args = &self.plan.args;
        let r = self.rng.random_range(0..args.mix.total);
        let kind = if r < args.mix.transfer {
            Kind::Transfer
        } else if r < args.mix.credit {
            Kind::Credit
        } else {
            Kind::Debit
        };
        let units = self.rng.random_range(args.amount.lo..=args.amount.hi);
        let (a, b) = match (args.workload, kind) {
            (Workload::Hot, Kind::Transfer) => {
                let other = self.rng.random_range(1..args.wallets);
                if self.rng.random::<bool>() {
                    (0, other)
                } else {
                    (other, 0)
                }
            }
            (Workload::Hot, _) => (0, 0),
            (_, Kind::Transfer) => {
                let a = self.wallet();
                (a, self.other(a))
            }
            _ => {
                let a = self.wallet();
                (a, a)
            }
        };
        Op { kind, a, b, units }
    }
}

/// Appends `units` as plain decimal text without trailing zeros (`1.2300` -> `1.23`), as JSON
/// number text: what `Decimal::new(units, SCALE).normalize()` prints, without its formatting
/// machinery (this runs for every posting the load sends).
pub fn push_amount(out: &mut Vec<u8>, units: i64) {
    if units < 0 {
        out.push(b'-');
    }
    let unit = 10_u64.pow(SCALE);
    let (whole, mut frac) = (units.unsigned_abs() / unit, units.unsigned_abs() % unit);
    super::wire::push_decimal(out, whole);
    if frac != 0 {
        let mut digits = SCALE;
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        out.push(b'.');
        for k in (0..digits).rev() {
            out.push(b'0' + (frac / 10_u64.pow(k) % 10) as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(workload: Workload) -> WorkloadArgs {
        WorkloadArgs {
            wallets: 100,
            fund: Decimal::new(1000, 0),
            mix: "transfer=40,credit=30,debit=30".parse().unwrap(),
            workload,
            zipf_s: 1.0,
            amount: "0.01..=5.00".parse().unwrap(),
            seed: 7,
        }
    }

    #[test]
    fn parses_mix_and_amounts() {
        let m: Mix = "transfer=100".parse().unwrap();
        assert_eq!(m.to_string(), "transfer=100,credit=0,debit=0");
        assert!("transfer=0".parse::<Mix>().is_err());
        assert!("refund=1".parse::<Mix>().is_err());
        let a: AmountRange = "0.01..=5.00".parse().unwrap();
        assert_eq!((a.lo, a.hi), (100, 50_000));
        let a: AmountRange = "2".parse().unwrap();
        assert_eq!((a.lo, a.hi), (20_000, 20_000));
        assert!("0.00001".parse::<AmountRange>().is_err());
        for units in (-20_000..=60_000).chain([i64::MAX, i64::MIN, 123_456_789]) {
            let mut out = Vec::new();
            push_amount(&mut out, units);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                Decimal::new(units, SCALE).normalize().to_string(),
                "{units}"
            );
        }
    }

    #[test]
    fn generators_respect_the_workload() {
        for w in [Workload::Uniform, Workload::Zipf, Workload::Hot] {
            let mut g = Plan::new(&args(w)).unwrap().generator(3);
            let mut zero = 0;
            for _ in 0..10_000 {
                let op = g.next_op();
                assert!(op.a < 100 && op.b < 100);
                assert!((100..=50_000).contains(&op.units));
                if op.kind == Kind::Transfer {
                    assert_ne!(op.a, op.b);
                }
                if op.a == 0 || op.b == 0 {
                    zero += 1;
                }
            }
            match w {
                Workload::Hot => assert_eq!(zero, 10_000),
                Workload::Zipf => assert!(zero > 1_000, "{zero}"),
                Workload::Uniform => assert!(zero < 600, "{zero}"),
            }
        }
    }
}
