//! A wallet: its plain state (balance, status, limits, the index of its legs) and the
//! `AccountActor` that owns it while it is active. The actor checks and holds funds at
//! Prepare, applies a leg at Commit (which cannot fail, because of the hold) and releases the
//! hold at Abort. Commits reach it in log order, so balances match the log exactly.
//! It never calls another actor; it only replies.

use crate::codec::Money;
use crate::coordinator::UnitAnswers;
use crate::record::AccountStatus;
use bincode::{Decode, Encode};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use rust_decimal::Decimal;
use std::sync::Arc;
use tokio::sync::oneshot;

/// One leg in an account's history: its transaction id and the balance right after it.
/// The balance before is `balance_after - delta`, with the delta from the posting record.
#[derive(Clone, Copy, Debug, Encode, Decode, PartialEq, Eq)]
pub struct HistoryEntry {
    pub txn_id: u64,
    pub balance_after: Money,
}

/// Everything durable about a wallet's money, as kept in snapshots.
#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct AccountState {
    pub account_id: u64,
    pub balance: Money,
    pub status: AccountStatus,
    pub minimum_balance: Money,
    pub can_overdraw: bool,
    pub updated_at_ms: i64,
    pub history: Vec<HistoryEntry>,
}

impl AccountState {
    /// Applies one committed leg; returns (previous, current) balance.
    pub fn apply_leg(&mut self, txn_id: u64, delta: Decimal) -> (Decimal, Decimal) {
        let prev = self.balance.0;
        let cur = prev + delta;
        self.balance = Money(cur);
        self.history.push(HistoryEntry {
            txn_id,
            balance_after: Money(cur),
        });
        (prev, cur)
    }

    pub fn apply_status(&mut self, status: AccountStatus, at_ms: i64) {
        self.status = status;
        self.updated_at_ms = at_ms;
    }

    /// The balance right after leg `txn_id`, if that leg is this account's.
    pub fn balance_after(&self, txn_id: u64) -> Option<Decimal> {
        self.history
            .binary_search_by_key(&txn_id, |h| h.txn_id)
            .ok()
            .map(|i| self.history[i].balance_after.0)
    }

    /// Legs with `from <= txn_id <= to`, oldest first.
    pub fn history_between(&self, from: u64, to: u64) -> &[HistoryEntry] {
        let lo = self.history.partition_point(|h| h.txn_id < from);
        let hi = self.history.partition_point(|h| h.txn_id <= to);
        &self.history[lo..hi.max(lo)]
    }
}

/// Why an account refused to prepare a leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A debit needs an ACTIVE wallet.
    NotDebitable(AccountStatus),
    /// A credit needs an ACTIVE or DORMANT wallet.
    NotCreditable(AccountStatus),
    /// The debit would take the balance below its minimum and overdraw is not allowed.
    InsufficientFunds,
}

/// Where a leg's answer goes: its slot in the unit's answers, which also name the coordinator
/// running the unit. The leg that completes the Prepare phase tells the coordinator (one
/// message per unit, not per leg); the one that completes the Commit phase answers the unit
/// the coordinator parked there. The reply holds one reference, to the answers, so a leg
/// touches one shared counter rather than two.
///
/// A reply dropped unanswered (its message never delivered, or left in the mailbox of an
/// account that stopped) answers for itself: a refusal at Prepare, a lost commit at Commit.
/// So a unit always completes and its caller is always answered.
#[derive(Debug)]
pub struct LegReply {
    answers: Arc<UnitAnswers>,
    /// At Prepare, the leg's index among all legs of the unit; at Commit, among the legs of
    /// the unit's WAL entry.
    leg: u32,
    phase: Phase,
    answered: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Prepare,
    Commit,
}

impl LegReply {
    pub fn prepare(answers: Arc<UnitAnswers>, leg: u32) -> Self {
        LegReply::new(Phase::Prepare, answers, leg)
    }

    pub fn commit(answers: Arc<UnitAnswers>, leg: u32) -> Self {
        LegReply::new(Phase::Commit, answers, leg)
    }

    fn new(phase: Phase, answers: Arc<UnitAnswers>, leg: u32) -> Self {
        LegReply {
            answers,
            leg,
            phase,
            answered: false,
        }
    }

    pub fn prepared(mut self, result: Result<(), Refusal>) {
        self.answered = true;
        self.answers.prepared(self.leg as usize, result);
    }

    /// `balances`: (previous, current), or `None` for a commit whose account stopped.
    pub fn committed(mut self, balances: Option<(Decimal, Decimal)>) {
        self.answered = true;
        self.answers.committed(self.leg as usize, balances);
    }
}

impl Drop for LegReply {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        self.answered = true;
        let leg = self.leg as usize;
        match self.phase {
            // A stopped account cannot hold funds: its leg counts as refused.
            Phase::Prepare => self.answers.prepared(leg, Err(Refusal::InsufficientFunds)),
            Phase::Commit => self.answers.committed(leg, None),
        }
    }
}

/// A read of an account's live state.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountView {
    pub balance: Decimal,
    pub status: AccountStatus,
    pub updated_at_ms: i64,
}

/// One leg to hold funds for. `credit_before`: money credited to this account by earlier
/// postings of the same atomic unit, which a debit may spend (the unit commits all or
/// nothing, in order).
#[derive(Debug)]
pub struct PrepareLeg {
    pub delta: Decimal,
    pub credit_before: Decimal,
    pub reply: LegReply,
}

/// One durable leg to apply.
#[derive(Debug)]
pub struct CommitLeg {
    pub txn_id: u64,
    pub delta: Decimal,
    pub reply: LegReply,
}

/// An account's legs of one unit (or one WAL entry), in order: a wallet that a batch touches
/// a thousand times gets one message, not a thousand. `One` needs no allocation.
#[derive(Debug)]
pub enum Legs<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> Legs<T> {
    fn for_each(self, mut f: impl FnMut(T)) {
        match self {
            Legs::One(leg) => f(leg),
            Legs::Many(legs) => legs.into_iter().for_each(f),
        }
    }
}

/// Sends every account its legs in one message, keeping the order in which `legs` lists
/// them (so each account sees its legs as it would one message at a time). `legs`: the
/// account's id, its actor (a leg without one is dropped), the leg; `accounts`: the same ids,
/// read first to see whether any account has two legs (a single posting's never do, and then
/// nothing is collected). A message that cannot be delivered is dropped, and the replies in
/// it answer for themselves.
pub(crate) fn send_by_account<'a, T>(
    accounts: impl Iterator<Item = u64>,
    legs: impl Iterator<Item = (u64, Option<&'a ActorRef<AccountMsg>>, T)>,
    message: impl Fn(Legs<T>) -> AccountMsg,
) {
    if !shares_an_account(accounts) {
        for (_, actor, leg) in legs {
            if let Some(actor) = actor {
                let _ = actor.cast(message(Legs::One(leg)));
            }
        }
        return;
    }
    let legs = legs
        .filter_map(|(account, actor, leg)| actor.map(|a| (account, a, leg)))
        .collect();
    by_account(legs, |actor, legs| {
        let _ = actor.cast(message(legs));
    });
}

/// True when an account appears twice; past eight legs, assumed (grouping costs less than
/// finding out first).
fn shares_an_account(accounts: impl Iterator<Item = u64>) -> bool {
    let mut seen = [0u64; 8];
    for (i, account) in accounts.enumerate() {
        if i == seen.len() || seen[..i].contains(&account) {
            return true;
        }
        seen[i] = account;
    }
    false
}

/// Hands `send` each account's legs (with the `to` of its first leg), accounts in the order
/// of their first leg, legs in their order in `legs`.
fn by_account<X, T>(legs: Vec<(u64, X, T)>, mut send: impl FnMut(X, Legs<T>)) {
    let n = legs.len();
    // next[i]: the next leg on leg i's account.
    let mut next = vec![usize::MAX; n];
    let mut last: ahash::HashMap<u64, usize> = ahash::HashMap::with_capacity_and_hasher(n, Default::default());
    for (i, (account, _, _)) in legs.iter().enumerate() {
        if let Some(j) = last.insert(*account, i) {
            next[j] = i;
        }
    }
    let mut slots: Vec<Option<(X, T)>> = legs.into_iter().map(|(_, to, leg)| Some((to, leg))).collect();
    for i in 0..n {
        // Empty: a later leg of an account already sent with its first.
        let Some((to, leg)) = slots[i].take() else { continue };
        if next[i] == usize::MAX {
            send(to, Legs::One(leg));
            continue;
        }
        let mut many = vec![leg];
        let mut j = next[i];
        while j != usize::MAX {
            if let Some((_, leg)) = slots[j].take() {
                many.push(leg);
            }
            j = next[j];
        }
        send(to, Legs::Many(many));
    }
}

pub enum AccountMsg {
    Prepare(Legs<PrepareLeg>),
    Commit(Legs<CommitLeg>),
    Abort {
        delta: Decimal,
    },
    /// Checks a status change and blocks postings that the new status would refuse until
    /// the change is committed or aborted.
    PrepareStatus {
        status: AccountStatus,
        reply: oneshot::Sender<Result<(), StatusRefusal>>,
    },
    CommitStatus {
        status: AccountStatus,
        at_ms: i64,
        reply: Option<oneshot::Sender<AccountView>>,
    },
    AbortStatus,
    Read {
        reply: oneshot::Sender<AccountView>,
    },
    /// Balances right after the given legs (None for legs not on this account).
    BalancesAfter {
        txn_ids: Vec<u64>,
        reply: oneshot::Sender<Vec<Option<Decimal>>>,
    },
    History {
        from: u64,
        to: u64,
        reply: oneshot::Sender<(Vec<HistoryEntry>, Decimal)>,
    },
    /// Snapshot cut: the WAL writer sends this after the last commit of the cut, so the state
    /// replied is exactly the state at that point of the log.
    Marker {
        reply: oneshot::Sender<AccountState>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusRefusal {
    Closed,
    NonZeroBalance,
    PendingPostings,
    Busy,
}

/// The actor's state: the durable part and the holds of postings under way.
pub struct LiveAccount {
    pub state: AccountState,
    pending_debit: Decimal,
    pending_credit: Decimal,
    pending_status: Option<AccountStatus>,
}

impl LiveAccount {
    pub fn new(state: AccountState) -> Self {
        LiveAccount {
            state,
            pending_debit: Decimal::ZERO,
            pending_credit: Decimal::ZERO,
            pending_status: None,
        }
    }

    /// The Prepare rule. Both the current status and a status change under way must allow the
    /// leg, so a posting can never slip in around a CLOSE or SUSPEND being made durable.
    pub fn prepare(&mut self, delta: Decimal, credit_before: Decimal) -> Result<(), Refusal> {
        let statuses = [Some(self.state.status), self.pending_status];
        if delta.is_sign_negative() {
            if let Some(s) = statuses.into_iter().flatten().find(|s| !s.can_debit()) {
                return Err(Refusal::NotDebitable(s));
            }
            let available = self.state.balance.0 - self.pending_debit + credit_before + delta;
            if !self.state.can_overdraw && available < self.state.minimum_balance.0 {
                return Err(Refusal::InsufficientFunds);
            }
            self.pending_debit -= delta;
        } else {
            if let Some(s) = statuses.into_iter().flatten().find(|s| !s.can_credit()) {
                return Err(Refusal::NotCreditable(s));
            }
            self.pending_credit += delta;
        }
        Ok(())
    }

    fn release(&mut self, delta: Decimal) {
        if delta.is_sign_negative() {
            self.pending_debit += delta;
        } else {
            self.pending_credit -= delta;
        }
    }

    pub fn commit(&mut self, txn_id: u64, delta: Decimal) -> (Decimal, Decimal) {
        self.release(delta);
        self.state.apply_leg(txn_id, delta)
    }

    pub fn abort(&mut self, delta: Decimal) {
        self.release(delta);
    }

    pub fn prepare_status(&mut self, status: AccountStatus) -> Result<(), StatusRefusal> {
        if self.state.status == AccountStatus::Closed {
            return Err(StatusRefusal::Closed);
        }
        if self.pending_status.is_some() {
            return Err(StatusRefusal::Busy);
        }
        // Postings prepared under the old status would commit after the new one is
        // acknowledged: refuse the change while any that the new status forbids is under way.
        let debits = !self.pending_debit.is_zero();
        let credits = !self.pending_credit.is_zero();
        if (debits && !status.can_debit()) || (credits && !status.can_credit()) {
            return Err(StatusRefusal::PendingPostings);
        }
        if status == AccountStatus::Closed && !self.state.balance.0.is_zero() {
            return Err(StatusRefusal::NonZeroBalance);
        }
        self.pending_status = Some(status);
        Ok(())
    }

    fn view(&self) -> AccountView {
        AccountView {
            balance: self.state.balance.0,
            status: self.state.status,
            updated_at_ms: self.state.updated_at_ms,
        }
    }
}

pub struct AccountActor;

impl Actor for AccountActor {
    type Msg = AccountMsg;
    type State = LiveAccount;
    type Arguments = AccountState;

    async fn pre_start(
        &self,
        _myself: ActorRef<AccountMsg>,
        state: AccountState,
    ) -> Result<LiveAccount, ActorProcessingErr> {
        Ok(LiveAccount::new(state))
    }

    async fn handle(
        &self,
        _myself: ActorRef<AccountMsg>,
        msg: AccountMsg,
        acc: &mut LiveAccount,
    ) -> Result<(), ActorProcessingErr> {
        // Replies go to coordinators or one-shot channels; a receiver that went away is not
        // this actor's failure, so send errors are ignored on purpose.
        match msg {
            AccountMsg::Prepare(legs) => legs.for_each(|l| l.reply.prepared(acc.prepare(l.delta, l.credit_before))),
            AccountMsg::Commit(legs) => legs.for_each(|l| l.reply.committed(Some(acc.commit(l.txn_id, l.delta)))),
            AccountMsg::Abort { delta } => acc.abort(delta),
            AccountMsg::PrepareStatus { status, reply } => {
                let result = acc.prepare_status(status);
                // Nobody is waiting for this change any more: do not keep the wallet blocked.
                if reply.send(result).is_err() && result.is_ok() {
                    acc.pending_status = None;
                }
            }
            AccountMsg::CommitStatus { status, at_ms, reply } => {
                acc.pending_status = None;
                acc.state.apply_status(status, at_ms);
                if let Some(r) = reply {
                    let _ = r.send(acc.view());
                }
            }
            AccountMsg::AbortStatus => acc.pending_status = None,
            AccountMsg::Read { reply } => {
                let _ = reply.send(acc.view());
            }
            AccountMsg::BalancesAfter { txn_ids, reply } => {
                let _ = reply.send(txn_ids.iter().map(|t| acc.state.balance_after(*t)).collect());
            }
            AccountMsg::History { from, to, reply } => {
                let _ = reply.send((acc.state.history_between(from, to).to_vec(), acc.state.balance.0));
            }
            AccountMsg::Marker { reply } => {
                let _ = reply.send(acc.state.clone());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn live(balance: &str, min: &str, overdraw: bool, status: AccountStatus) -> LiveAccount {
        LiveAccount::new(AccountState {
            account_id: 1,
            balance: Money(d(balance)),
            status,
            minimum_balance: Money(d(min)),
            can_overdraw: overdraw,
            updated_at_ms: 0,
            history: vec![],
        })
    }

    /// (account, legs) as `by_account` hands them over.
    fn grouped(legs: &[(u64, char)]) -> Vec<(u64, Vec<char>, bool)> {
        let mut out = Vec::new();
        by_account(legs.iter().map(|&(a, c)| (a, a, c)).collect(), |a, legs| {
            let many = matches!(legs, Legs::Many(_));
            let mut cs = Vec::new();
            legs.for_each(|c| cs.push(c));
            out.push((a, cs, many));
        });
        out
    }

    #[test]
    fn an_account_gets_its_legs_in_one_message_in_their_order() {
        // Distinct accounts: one message each, in order, none grouped.
        assert_eq!(
            grouped(&[(1, 'a'), (2, 'b')]),
            vec![(1, vec!['a'], false), (2, vec!['b'], false)]
        );
        assert_eq!(grouped(&[]), vec![]);
        // A small unit with a shared account.
        assert_eq!(
            grouped(&[(1, 'a'), (2, 'b'), (1, 'c')]),
            vec![(1, vec!['a', 'c'], true), (2, vec!['b'], false)]
        );
        // A large unit with a hot account: accounts in the order of their first leg.
        let mut legs: Vec<(u64, char)> = (0..20u8).map(|i| (100 + u64::from(i), char::from(b'a' + i))).collect();
        legs.insert(3, (7, 'X'));
        legs.insert(10, (7, 'Y'));
        legs.push((7, 'Z'));
        let out = grouped(&legs);
        assert_eq!(out.len(), 21);
        assert_eq!(out[3], (7, vec!['X', 'Y', 'Z'], true));
        assert_eq!(out[0], (100, vec!['a'], false));
        assert_eq!(out[20], (119, vec!['t'], false));
        let total: usize = out.iter().map(|(_, cs, _)| cs.len()).sum();
        assert_eq!(total, legs.len());
    }

    #[test]
    fn a_few_distinct_accounts_are_told_apart_without_a_map() {
        assert!(!shares_an_account([1, 2, 3].into_iter()));
        assert!(shares_an_account([1, 2, 1].into_iter()));
        assert!(!shares_an_account(std::iter::empty()));
        assert!(!shares_an_account(1..=8));
        assert!(shares_an_account(1..=9));
    }

    #[test]
    fn holds_count_against_available_funds() {
        let mut a = live("100", "0", false, AccountStatus::Active);
        assert_eq!(a.prepare(d("-60"), Decimal::ZERO), Ok(()));
        assert_eq!(a.prepare(d("-50"), Decimal::ZERO), Err(Refusal::InsufficientFunds));
        assert_eq!(a.prepare(d("-40"), Decimal::ZERO), Ok(()));
        a.abort(d("-40"));
        assert_eq!(a.commit(7, d("-60")), (d("100"), d("40")));
        assert_eq!(a.prepare(d("-40.0001"), Decimal::ZERO), Err(Refusal::InsufficientFunds));
        assert_eq!(a.state.balance_after(7), Some(d("40")));
    }

    #[test]
    fn minimum_balance_and_overdraw() {
        let mut a = live("10", "5", false, AccountStatus::Active);
        assert_eq!(a.prepare(d("-5.0001"), Decimal::ZERO), Err(Refusal::InsufficientFunds));
        assert_eq!(a.prepare(d("-5"), Decimal::ZERO), Ok(()));
        let mut b = live("0", "0", true, AccountStatus::Active);
        assert_eq!(b.prepare(d("-1000"), Decimal::ZERO), Ok(()));
    }

    #[test]
    fn status_rules() {
        let mut dormant = live("10", "0", false, AccountStatus::Dormant);
        assert_eq!(
            dormant.prepare(d("-1"), Decimal::ZERO),
            Err(Refusal::NotDebitable(AccountStatus::Dormant))
        );
        assert_eq!(dormant.prepare(d("1"), Decimal::ZERO), Ok(()));
        let mut suspended = live("10", "0", false, AccountStatus::Suspended);
        assert_eq!(
            suspended.prepare(d("1"), Decimal::ZERO),
            Err(Refusal::NotCreditable(AccountStatus::Suspended))
        );
        let mut active = live("0", "0", false, AccountStatus::Active);
        assert_eq!(active.prepare_status(AccountStatus::Closed), Ok(()));
        assert_eq!(
            active.prepare(d("1"), Decimal::ZERO),
            Err(Refusal::NotCreditable(AccountStatus::Closed))
        );
    }

    #[test]
    fn close_needs_zero_balance_and_no_holds() {
        let mut a = live("1", "0", false, AccountStatus::Active);
        assert_eq!(
            a.prepare_status(AccountStatus::Closed),
            Err(StatusRefusal::NonZeroBalance)
        );
        let mut b = live("0", "0", false, AccountStatus::Active);
        b.prepare(d("5"), Decimal::ZERO).unwrap();
        assert_eq!(
            b.prepare_status(AccountStatus::Closed),
            Err(StatusRefusal::PendingPostings)
        );
    }

    #[test]
    fn a_state_change_waits_for_postings_it_would_forbid() {
        let mut a = live("10", "0", false, AccountStatus::Active);
        a.prepare(d("-5"), Decimal::ZERO).unwrap();
        assert_eq!(
            a.prepare_status(AccountStatus::Suspended),
            Err(StatusRefusal::PendingPostings)
        );
        assert_eq!(
            a.prepare_status(AccountStatus::Dormant),
            Err(StatusRefusal::PendingPostings)
        );
        a.abort(d("-5"));
        a.prepare(d("5"), Decimal::ZERO).unwrap();
        // DORMANT still takes credits, so a credit under way does not hold it back.
        assert_eq!(a.prepare_status(AccountStatus::Dormant), Ok(()));
    }

    #[test]
    fn an_atomic_unit_may_spend_its_own_earlier_credits() {
        let mut a = live("0", "0", false, AccountStatus::Active);
        a.prepare(d("10"), Decimal::ZERO).unwrap();
        assert_eq!(a.prepare(d("-10"), d("10")), Ok(()));
        assert_eq!(a.prepare(d("-0.0001"), d("10")), Err(Refusal::InsufficientFunds));
    }

    #[test]
    fn history_ranges() {
        let mut s = live("0", "0", true, AccountStatus::Active).state;
        for t in [3u64, 5, 9] {
            s.apply_leg(t, d("1"));
        }
        let ids: Vec<u64> = s.history_between(4, 9).iter().map(|h| h.txn_id).collect();
        assert_eq!(ids, vec![5, 9]);
        assert!(s.history_between(10, 20).is_empty());
        assert_eq!(s.balance_after(9), Some(d("3")));
        assert_eq!(s.balance_after(4), None);
    }
}
