//! After the load, through the API: the balances of every account of the bench's client
//! (wallets and the settlement account) must sum to exactly zero, the wallets must hold what
//! the acknowledged postings say, and the client's legs must have grown by two per posting.

use super::http::Conn;
use super::run::Stats;
use super::setup::World;
use anyhow::{Context, bail};
use rust_decimal::Decimal;
use std::collections::HashSet;
use std::str::FromStr;

pub struct Check {
    pub accounts: u64,
    pub sum: Decimal,
    pub wallets_sum: Decimal,
    /// None when some postings' outcome is unknown.
    pub expected_wallets_sum: Option<Decimal>,
    pub legs_before: u64,
    pub legs_after: u64,
    pub expected_legs: Option<u64>,
    pub problems: Vec<String>,
}

impl Check {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

const PAGE: u64 = 100;

pub async fn check(conn: &mut Conn, world: &World, legs_before: u64, stats: &Stats) -> anyhow::Result<Check> {
    let mine: HashSet<&str> = world.wallets.iter().map(String::as_str).collect();
    let (mut sum, mut wallets_sum, mut accounts, mut seen_wallets) = (Decimal::ZERO, Decimal::ZERO, 0u64, 0usize);
    let mut total: Option<u64> = None;
    let mut page = 1u64;
    loop {
        let v = conn
            .get(&format!("/api/v1/accounts?page={page}&limit={PAGE}"))
            .await?
            .expect(200, "GET /api/v1/accounts")?;
        let records = v["records"].as_array().context("accounts list without records")?;
        let t = *total.get_or_insert(
            v["metadata"]["total_count"]
                .as_u64()
                .context("no metadata.total_count")?,
        );
        for r in records {
            if r["client"]["client_code"].as_str() != Some(world.client_code.as_str()) {
                continue;
            }
            let balance = r["current_balance"]
                .as_str()
                .context("account without current_balance")?;
            let balance = Decimal::from_str(balance).with_context(|| format!("current_balance `{balance}`"))?;
            accounts += 1;
            sum += balance;
            if r["account_number"].as_str().is_some_and(|n| mine.contains(n)) {
                wallets_sum += balance;
                seen_wallets += 1;
            }
        }
        // Bounded: the first page's total fixes the number of pages.
        if records.len() < PAGE as usize || page * PAGE >= t || page > t / PAGE + 1 {
            break;
        }
        page += 1;
    }
    let legs_after = super::setup::leg_count(conn, &world.client_code).await?;
    let mut problems = Vec::new();
    if seen_wallets != world.wallets.len() {
        bail!(
            "the accounts list shows {seen_wallets} of the {} bench wallets",
            world.wallets.len()
        );
    }
    if !sum.is_zero() {
        problems.push(format!("the client's balances sum to {sum}, not 0"));
    }
    let known = stats.postings_unknown == 0;
    let units = |u: i128| Decimal::from_i128_with_scale(u, super::workload::SCALE);
    let expected_wallets_sum = known.then(|| {
        world.fund * Decimal::from(world.wallets.len() as u64) + units(stats.credit_units) - units(stats.debit_units)
    });
    if let Some(e) = expected_wallets_sum
        && e != wallets_sum
    {
        problems.push(format!(
            "the wallets hold {wallets_sum}, the acknowledged postings say {e}"
        ));
    }
    let expected_legs = known.then_some(2 * stats.postings_ok);
    if let Some(e) = expected_legs
        && legs_after.checked_sub(legs_before) != Some(e)
    {
        problems.push(format!(
            "the client's legs went from {legs_before} to {legs_after}, expected +{e} (2 per acknowledged posting)"
        ));
    }
    Ok(Check {
        accounts,
        sum,
        wallets_sum,
        expected_wallets_sum,
        legs_before,
        legs_after,
        expected_legs,
        problems,
    })
}
