//! `TransferCoordinator`: runs postings through the two-phase protocol without ever waiting
//! inside a handler. A unit (one posting, or a batch of them) is a small state machine keyed by
//! a token:
//!
//! 1. `Submit`: send `Prepare` to every leg's account actor (each checks and holds funds).
//! 2. `Prepared` once every leg has answered: a posting with a refused leg has its other legs
//!    aborted and is answered with the refusal (in an atomic unit, every posting is); the
//!    others are appended to the WAL together, as one record.
//! 3. Once the WAL writer has made the entry durable (it sends `Commit` to the accounts, in
//!    log order, and hands over the records with their ids) and every leg has committed, the
//!    unit is answered with the balances. The coordinator parked the unit in its answers
//!    before appending it, having decided all there was to decide, so the account whose
//!    commit comes last answers it itself. Only when the writer's hand-over comes last is the
//!    unit sent back to the coordinator (`Complete`), to keep building a batch's answers off
//!    the writer's thread.
//! 4. `Failed` from the WAL writer (fail-stop): `Abort` every leg and answer unavailable.
//!
//! Legs answer into the unit's [`UnitAnswers`]; only the answer that completes a phase is a
//! message, so a unit of a thousand postings costs the coordinator two or three messages
//! (`Submit`, `Prepared`, perhaps `Complete`), not four thousand. Coordinators form a small
//! pool; no single actor sees every posting.
//!
//! Single postings come in through the coordinator's [`Intake`] rather than one `Submit`
//! each: the request that finds the intake empty rings it (`Drain`); the coordinator yields
//! once, so that the requests already running on its worker queue theirs too, and takes
//! everything queued as one unit that is not atomic (several, if many or large are
//! waiting), each posting answered on its own (a refused one at once, the others when the
//! unit is durable). Concurrent requests have no
//! order between them, so running them together means what running them one after another
//! would; a posting whose refusal could come from a neighbour's hold is deferred and runs again
//! alone ([`Defer::Refused`]). Under load, one unit, one WAL record and two or three
//! coordinator messages serve many requests instead of one each.

use crate::account::{AccountMsg, LegReply, PrepareLeg, Refusal, send_by_account};
use crate::record::{PostingKind, PostingRecord, Record};
use crate::sequencer::WalEntry;
use crate::state::{IdempotencyEntry, LedgerState, Settle};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use rust_decimal::Decimal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::oneshot;
use walletd_wal::WalWriter;

/// One posting ready to run: the record (ids and posting time still to be given by the WAL
/// writer), every leg's account already given its actor.
pub struct PostingDraft {
    pub record: PostingRecord,
    /// Dropping it wakes requests waiting on the same idempotency key.
    pub settle: Option<Settle>,
}

/// Postings submitted together. `atomic`: all are applied or none.
pub struct UnitDraft {
    pub postings: Vec<PostingDraft>,
    pub atomic: bool,
    /// Not atomic, and postings whose answer could depend on earlier ones of the unit may be
    /// deferred (given back) rather than decided: see `defer_where_order_matters`.
    pub defer: bool,
}

#[derive(Debug)]
pub struct CommittedPosting {
    pub record: PostingRecord,
    /// (previous, current) balance of each leg's account.
    pub balances: Vec<(Decimal, Decimal)>,
}

#[derive(Debug)]
pub enum PostingFailure {
    /// Leg `leg` was refused by its account.
    Refused { leg: usize, refusal: Refusal },
    /// Another posting of the same atomic unit failed, so this one was not applied.
    Linked,
    /// The log stopped (fail-stop) or is shutting down.
    Unavailable(String),
    /// Not decided in this unit: its answer could depend on how earlier postings of the unit
    /// end, so it is given back, its key still claimed, to run in a unit after this one.
    Deferred {
        record: Box<PostingRecord>,
        settle: Option<Settle>,
    },
}

pub type PostingResult = Result<CommittedPosting, PostingFailure>;
pub type UnitResult = Vec<PostingResult>;
pub type UnitReply = oneshot::Sender<UnitResult>;
/// Where a single posting from the intake is answered.
pub type PostingReply = oneshot::Sender<PostingResult>;

/// A single posting waiting in a coordinator's intake.
pub struct SinglePosting {
    pub draft: PostingDraft,
    pub reply: PostingReply,
}

/// The largest unit made from the intake, in postings and in (roughly) encoded bytes, well
/// under the WAL's largest record; more waiting make further units at once.
const MAX_INTAKE_UNIT: usize = 1024;
const MAX_INTAKE_UNIT_BYTES: usize = 4 << 20;

/// Roughly what a posting takes in a WAL record, its text being most of it.
fn approx_encoded_len(r: &PostingRecord) -> usize {
    64 + 48 * r.legs.len()
        + r.transaction_source.len()
        + r.source_transaction_id.len()
        + r.source_transaction_data.as_ref().map_or(0, String::len)
        + r.narration.as_ref().map_or(0, String::len)
}

/// A coordinator's intake of single postings, shared by the ledger's handle (which queues)
/// and the coordinator (which empties it). A `Vec` under the coordinator's own lock, held for
/// a push or a swap: a lock-free channel's receive can park the thread while a sender is half
/// way through its send, and a coordinator must never wait.
#[derive(Default)]
pub struct Intake {
    queue: Mutex<IntakeState>,
}

#[derive(Default)]
struct IntakeState {
    waiting: Vec<SinglePosting>,
    /// Its coordinator has stopped: nothing queued would ever be taken.
    closed: bool,
}

impl Intake {
    /// Queues `single` for `coordinator`'s next unit. The request that finds the intake empty
    /// rings (`Drain`); the others join the unit that Drain will make. Given back if the
    /// coordinator has stopped and closed its intake.
    pub fn submit(
        &self,
        coordinator: &ActorRef<CoordinatorMsg>,
        single: SinglePosting,
    ) -> Result<(), Box<SinglePosting>> {
        let first = {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            if q.closed {
                return Err(Box::new(single));
            }
            q.waiting.push(single);
            q.waiting.len() == 1
        };
        if first && coordinator.cast(CoordinatorMsg::Drain).is_err() {
            // Stopped before it closed its intake: close it here. What is still queued (ours,
            // unless a Drain already took it into a unit) is dropped, which answers each of
            // those requests unavailable; there is no telling which posting is ours.
            drop(self.close());
        }
        Ok(())
    }

    /// Everything queued, leaving the intake empty (the next posting rings again).
    fn take(&self) -> Vec<SinglePosting> {
        std::mem::take(&mut self.queue.lock().unwrap_or_else(|e| e.into_inner()).waiting)
    }

    /// No more postings are taken; returns those still queued.
    fn close(&self) -> Vec<SinglePosting> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.closed = true;
        std::mem::take(&mut q.waiting)
    }
}

/// The coordinator's hold on its intake: closes it when the coordinator stops, dropping what
/// is still queued (each reply dropped answers its request unavailable, and each posting's
/// claim is settled), so no posting waits for a coordinator that is gone.
pub struct IntakeQueue(Arc<Intake>);

impl IntakeQueue {
    pub fn new(intake: Arc<Intake>) -> Self {
        IntakeQueue(intake)
    }
}

impl Drop for IntakeQueue {
    fn drop(&mut self) {
        drop(self.0.close());
    }
}

/// One leg's answers, each given once.
#[derive(Debug, Default)]
struct LegAnswer {
    prepared: OnceLock<Result<(), Refusal>>,
    /// (previous, current) balance, `None` when the account stopped before committing;
    /// indexed by the leg's place in the unit's WAL entry.
    committed: OnceLock<Option<(Decimal, Decimal)>>,
}

/// Where a unit's accounts answer Prepare and Commit: a slot per leg and phase, and a count
/// of the answers still due (the count's acquire-release chain makes every slot set before it
/// visible). The answer that completes the Prepare phase tells the coordinator; the one that
/// completes the Commit phase answers the unit, which the coordinator parked here before
/// appending it. The WAL writer's hand-over of the durable records counts as one more commit
/// answer, so the commit phase completes only once the entry is durable and confirmed by every
/// leg.
pub struct UnitAnswers {
    coordinator: ActorRef<CoordinatorMsg>,
    token: u64,
    legs: Box<[LegAnswer]>,
    prepares_left: AtomicUsize,
    commits_left: AtomicUsize,
    /// The unit's records as made durable (with their transaction ids and posting time).
    durable: Mutex<Option<Vec<PostingRecord>>>,
    /// The unit while its WAL entry is on its way. A cycle through `InFlight::answers`, broken
    /// when it is taken out; [`ParkedUnit`] takes it out if nothing else will.
    parked: Mutex<Option<InFlight>>,
}

impl std::fmt::Debug for UnitAnswers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnitAnswers")
            .field("token", &self.token)
            .field("legs", &self.legs)
            .field("prepares_left", &self.prepares_left)
            .field("commits_left", &self.commits_left)
            .finish_non_exhaustive()
    }
}

impl UnitAnswers {
    fn new(coordinator: ActorRef<CoordinatorMsg>, token: u64, legs: usize) -> Arc<UnitAnswers> {
        Arc::new(UnitAnswers {
            coordinator,
            token,
            legs: (0..legs).map(|_| LegAnswer::default()).collect(),
            prepares_left: AtomicUsize::new(legs),
            commits_left: AtomicUsize::new(0),
            durable: Mutex::new(None),
            parked: Mutex::new(None),
        })
    }

    /// Records leg `leg`'s Prepare answer; the answer that completes the phase tells the
    /// coordinator. A second answer for the same leg is ignored.
    pub(crate) fn prepared(&self, leg: usize, result: Result<(), Refusal>) {
        if self.set_prepared(leg, result) {
            // A coordinator that has stopped needs no answer.
            let _ = self.coordinator.cast(CoordinatorMsg::Prepared { token: self.token });
        }
    }

    /// Records the balances of the `leg`th leg of the unit's WAL entry.
    pub(crate) fn committed(&self, leg: usize, balances: Option<(Decimal, Decimal)>) {
        if self.set_committed(leg, balances) {
            self.commit_phase_done();
        }
    }

    /// Every commit answer is in (every leg's and the writer's hand-over): answer the parked unit.
    fn commit_phase_done(&self) {
        if let Some(unit) = self.unpark() {
            TransferCoordinator::complete(unit, self.take_durable());
        }
    }

    fn park(self: Arc<Self>, unit: InFlight) -> ParkedUnit {
        *self.parked.lock().unwrap_or_else(|e| e.into_inner()) = Some(unit);
        ParkedUnit::new(self)
    }

    fn unpark(&self) -> Option<InFlight> {
        self.parked.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Before the entry is appended: `legs` commits and the writer's hand-over are due.
    fn expect_commits(&self, legs: usize) {
        self.commits_left.store(legs + 1, Ordering::Release);
    }

    fn take_durable(&self) -> Vec<PostingRecord> {
        self.durable
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default()
    }

    /// True for the answer that completes the Prepare phase.
    fn set_prepared(&self, leg: usize, result: Result<(), Refusal>) -> bool {
        match self.legs.get(leg) {
            Some(slot) if slot.prepared.set(result).is_ok() => self.prepares_left.fetch_sub(1, Ordering::AcqRel) == 1,
            _ => false,
        }
    }

    /// True for the answer that completes the Commit phase.
    fn set_committed(&self, leg: usize, balances: Option<(Decimal, Decimal)>) -> bool {
        match self.legs.get(leg) {
            Some(slot) if slot.committed.set(balances).is_ok() => self.commits_left.fetch_sub(1, Ordering::AcqRel) == 1,
            _ => false,
        }
    }
}

/// The WAL writer's share of a parked unit: handed over exactly once, as durable or as failed.
/// Dropped without that (the writer thread panicked, or a message carrying it was never
/// handled because its coordinator stopped at shutdown), it finishes the unit if every commit
/// answer is in, and otherwise drops it, which answers the request with an error and wakes
/// requests waiting on its idempotency keys: a unit is never left in its cycle, unanswered.
/// (A dropped unit's holds and a reversal's claim stay, as they did when a stopped coordinator
/// took its units with it; a restart rebuilds both from the log.)
pub struct ParkedUnit {
    answers: Arc<UnitAnswers>,
    handed_over: bool,
}

impl ParkedUnit {
    fn new(answers: Arc<UnitAnswers>) -> Self {
        ParkedUnit {
            answers,
            handed_over: false,
        }
    }

    /// Where the unit's legs answer.
    pub(crate) fn answers(&self) -> &Arc<UnitAnswers> {
        &self.answers
    }

    /// The entry is durable (`records`, with their ids) and every Commit of it was sent.
    pub(crate) fn durable(mut self, records: Vec<PostingRecord>) {
        self.handed_over = true;
        let answers = &self.answers;
        *answers.durable.lock().unwrap_or_else(|e| e.into_inner()) = Some(records);
        if answers.commits_left.fetch_sub(1, Ordering::AcqRel) != 1 {
            // A leg's commit is still due; that answer will answer the unit.
            return;
        }
        // The hand-over came last: the coordinator answers, not the writer's thread, which has
        // the next group to write.
        let complete = CoordinatorMsg::Complete(ParkedUnit::new(Arc::clone(answers)));
        if let Err(ractor::MessagingErr::SendErr(CoordinatorMsg::Complete(unit))) = answers.coordinator.cast(complete) {
            // No coordinator any more (shutting down): answer here rather than drop it.
            unit.finish();
        }
    }

    /// The WAL writer could not make the entry durable (fail-stop): the coordinator aborts the
    /// unit's legs and answers it.
    pub(crate) fn failed(mut self, error: String) {
        self.handed_over = true;
        let unit = ParkedUnit::new(Arc::clone(&self.answers));
        let _ = self.answers.coordinator.cast(CoordinatorMsg::Failed { unit, error });
    }

    /// Every commit answer is in: answer the unit.
    fn finish(mut self) {
        self.handed_over = true;
        self.answers.commit_phase_done();
    }

    /// The unit, for the coordinator to fail.
    fn take(mut self) -> Option<InFlight> {
        self.handed_over = true;
        self.answers.unpark()
    }
}

impl Drop for ParkedUnit {
    fn drop(&mut self) {
        if self.handed_over {
            return;
        }
        // No count left: durable (the hand-over is one of the answers counted) and confirmed
        // by every leg, a `Complete` never handled, so the answer is known. Otherwise the unit
        // is dropped, and its request told so.
        if self.answers.commits_left.load(Ordering::Acquire) == 0 {
            self.answers.commit_phase_done();
        } else {
            drop(self.answers.unpark());
        }
    }
}

pub enum CoordinatorMsg {
    Submit {
        draft: Box<UnitDraft>,
        reply: UnitReply,
    },
    /// Single postings are waiting in the intake.
    Drain,
    /// Every leg of the unit has answered Prepare.
    Prepared {
        token: u64,
    },
    /// The parked unit's entry is durable and every leg committed before the WAL writer's
    /// hand-over, which came last.
    Complete(ParkedUnit),
    /// The WAL writer could not make the parked unit's entry durable.
    Failed {
        unit: ParkedUnit,
        error: String,
    },
}

/// Which postings of a unit that is not atomic are given back to run later rather than
/// decided (see `defer_where_order_matters`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Defer {
    /// None: an atomic unit, a single posting's, a batch's later waves.
    Never,
    /// A batch's first unit: what its postings would mean in batch order.
    InOrder,
    /// The intake's unit of concurrent requests, which have no order between them: only a
    /// posting refused for funds on an account an earlier posting of the unit touched.
    Refused,
}

/// Who is answered: the unit as a whole, or each posting on its own (from the intake).
enum Replies {
    Unit(UnitReply),
    Each(Vec<PostingReply>),
}

/// What a posting's failure releases: its idempotency key, or its claim on the original.
enum Claim {
    Key((u64, String)),
    Reversal(u64),
}

struct Posting {
    /// Until appended; then `None` (the durable record comes back with ids).
    record: Option<PostingRecord>,
    /// Range of this posting's legs in the unit's flat leg list.
    legs: std::ops::Range<usize>,
    claim: Option<Claim>,
    settle: Option<Settle>,
    refusal: Option<(usize, Refusal)>,
    outcome: Option<PostingResult>,
    /// A posting from the intake is answered on its own; the others with their unit.
    reply: Option<PostingReply>,
}

struct InFlight {
    postings: Vec<Posting>,
    atomic: bool,
    defer: Defer,
    deltas: Vec<Decimal>,
    /// Each leg's account; its actor is borrowed from the directory when sending.
    accounts: Vec<u64>,
    /// The legs' Prepare results and committed balances.
    answers: Arc<UnitAnswers>,
    /// Indices of the postings that went on, in entry order (their legs, in order, are the
    /// WAL entry's legs).
    appended_postings: Vec<usize>,
    reply: Option<UnitReply>,
}

pub struct CoordinatorState {
    next_token: u64,
    in_flight: ahash::HashMap<u64, InFlight>,
    intake: IntakeQueue,
}

pub struct TransferCoordinator {
    pub state: Arc<LedgerState>,
    pub wal: Arc<WalWriter<WalEntry>>,
}

impl TransferCoordinator {
    /// Releases the claims of a posting that will not happen, before waking its waiters.
    fn release(&self, p: &mut Posting) {
        match p.claim.take() {
            Some(Claim::Key(key)) => {
                self.state
                    .idempotency
                    .remove_if(&key, |_, v| matches!(v, IdempotencyEntry::InFlight(_)));
            }
            Some(Claim::Reversal(orig)) => {
                self.state.reversals.remove_if(&orig, |_, v| *v == 0);
            }
            None => {}
        }
        p.settle.take();
    }

    fn abort_legs(&self, f: &InFlight, legs: std::ops::Range<usize>) {
        for i in legs {
            if f.answers.legs[i].prepared.get() == Some(&Ok(()))
                && let Some(actor) = self.state.accounts.live(f.accounts[i])
            {
                let _ = actor.cast(AccountMsg::Abort { delta: f.deltas[i] });
            }
        }
    }

    /// A unit that may defer must mean what its postings would mean sent one after another.
    /// Its postings were prepared together: each against the holds of every earlier one on
    /// its accounts, without their credits. So a posting refused for funds on an account that
    /// an earlier posting of the unit touched might have passed one after another; it is
    /// deferred to a later unit instead of refused. In a batch's unit ([`Defer::InOrder`]),
    /// so is every later posting touching an account of a deferred one, so that each account
    /// still sees its postings in batch order; concurrent requests ([`Defer::Refused`]) have
    /// no order to keep, and the order they mean is the unit's decided postings, then the
    /// deferred ones. A posting that passed would also have passed one after another (the
    /// holds it saw are at least the debits that happen), and the first posting of a unit is
    /// never deferred, so every unit decides at least one.
    fn defer_where_order_matters(&self, f: &mut InFlight) {
        let in_order = f.defer == Defer::InOrder;
        let mut touched: ahash::HashSet<u64> = ahash::HashSet::default();
        let mut deferred: ahash::HashSet<u64> = ahash::HashSet::default();
        for i in 0..f.postings.len() {
            let Some(record) = f.postings[i].record.as_ref() else {
                continue;
            };
            let accounts = || record.legs.iter().map(|l| l.account_id);
            let funds_after_others = matches!(
                f.postings[i].refusal,
                Some((leg, Refusal::InsufficientFunds)) if record.legs.get(leg).is_some_and(|l| touched.contains(&l.account_id))
            );
            if funds_after_others || (in_order && accounts().any(|a| deferred.contains(&a))) {
                if in_order {
                    deferred.extend(accounts());
                }
                touched.extend(accounts());
                self.abort_legs(f, f.postings[i].legs.clone());
                let p = &mut f.postings[i];
                let record = p.record.take().expect("checked above");
                p.outcome = Some(Err(PostingFailure::Deferred {
                    record: Box::new(record),
                    settle: p.settle.take(),
                }));
                p.claim = None;
                p.refusal = None;
            } else {
                touched.extend(accounts());
            }
        }
    }

    /// Every leg answered Prepare: drop what was refused; the rest is the record to append, if
    /// any.
    fn decide(&self, f: &mut InFlight) -> Option<Record> {
        if f.defer != Defer::Never && f.postings.len() > 1 {
            self.defer_where_order_matters(f);
        }
        let any_refused = f.postings.iter().any(|p| p.refusal.is_some());
        for i in 0..f.postings.len() {
            if f.postings[i].record.is_none() {
                // Deferred: already answered.
                continue;
            }
            let refused = f.postings[i].refusal;
            if refused.is_none() && !(f.atomic && any_refused) {
                continue;
            }
            self.abort_legs(f, f.postings[i].legs.clone());
            let p = &mut f.postings[i];
            self.release(p);
            p.record = None;
            p.outcome = Some(Err(match refused {
                Some((leg, refusal)) => PostingFailure::Refused { leg, refusal },
                None => PostingFailure::Linked,
            }));
        }
        let mut records = Vec::with_capacity(f.postings.len());
        let mut legs = 0;
        f.appended_postings.reserve(f.postings.len());
        for (i, p) in f.postings.iter_mut().enumerate() {
            if let Some(r) = p.record.take() {
                records.push(r);
                f.appended_postings.push(i);
                legs += p.legs.len();
            }
        }
        if records.is_empty() {
            return None;
        }
        // Before the WAL writer can send a single Commit.
        f.answers.expect_commits(legs);
        Some(if records.len() == 1 {
            Record::Posting(records.pop().expect("one"))
        } else {
            Record::Batch(records)
        })
    }

    /// Nothing appended will become durable: abort and answer unavailable.
    fn fail(&self, f: &mut InFlight, error: String) {
        for i in std::mem::take(&mut f.appended_postings) {
            self.abort_legs(f, f.postings[i].legs.clone());
            let p = &mut f.postings[i];
            self.release(p);
            p.outcome = Some(Err(PostingFailure::Unavailable(error.clone())));
        }
    }

    /// Once durable and every leg committed, each appended posting's answer is known.
    fn collect(f: &mut InFlight) {
        // The k-th leg of the WAL entry answered into slot k.
        let mut k = 0;
        for &i in &f.appended_postings {
            let p = &mut f.postings[i];
            let slots = &f.answers.legs[k..k + p.legs.len()];
            k += p.legs.len();
            if let Some(record) = p.record.take() {
                let balances: Option<Vec<_>> = slots.iter().map(|s| s.committed.get().copied().flatten()).collect();
                p.outcome = Some(match balances {
                    Some(balances) => Ok(CommittedPosting { record, balances }),
                    // Durable, but an account stopped before confirming its leg: say so rather
                    // than invent balances (a restart replays the posting into it).
                    None => Err(PostingFailure::Unavailable(
                        "the posting is durable, but an account stopped before confirming it; it is applied again on restart".into(),
                    )),
                });
            }
        }
    }

    /// The unit's entry is durable (`records`, in entry order) and every leg of it has
    /// committed: answer it.
    fn complete(mut f: InFlight, records: Vec<PostingRecord>) {
        for (&i, record) in f.appended_postings.iter().zip(records) {
            let p = &mut f.postings[i];
            // The key is settled (Done) by the WAL writer; waking its waiters is safe now.
            p.claim = None;
            p.settle.take();
            p.record = Some(record);
        }
        Self::collect(&mut f);
        Self::answer(f);
    }

    /// Opens a unit: sends every leg's account its Prepare, and keeps the unit until they
    /// have all answered.
    fn start(
        &self,
        me: &ActorRef<CoordinatorMsg>,
        st: &mut CoordinatorState,
        postings: Vec<PostingDraft>,
        atomic: bool,
        defer: Defer,
        replies: Replies,
    ) {
        let token = st.next_token;
        st.next_token += 1;
        let (reply, mut each) = match replies {
            Replies::Unit(reply) => (Some(reply), None),
            Replies::Each(replies) => (None, Some(replies.into_iter())),
        };
        let n = postings.iter().map(|d| d.record.legs.len()).sum();
        let mut f = InFlight {
            postings: Vec::with_capacity(postings.len()),
            atomic,
            defer: if atomic { Defer::Never } else { defer },
            deltas: Vec::with_capacity(n),
            accounts: Vec::with_capacity(n),
            answers: UnitAnswers::new(me.clone(), token, n),
            appended_postings: Vec::new(),
            reply,
        };
        for d in postings {
            let start = f.deltas.len();
            f.deltas.extend(d.record.legs.iter().map(|l| l.delta.0));
            f.accounts.extend(d.record.legs.iter().map(|l| l.account_id));
            let claim = match d.record.kind {
                PostingKind::Reversal { original } => Claim::Reversal(original),
                _ => Claim::Key((d.record.client_id, d.record.source_transaction_id.clone())),
            };
            f.postings.push(Posting {
                legs: start..f.deltas.len(),
                record: Some(d.record),
                claim: Some(claim),
                settle: d.settle,
                refusal: None,
                outcome: None,
                reply: each.as_mut().and_then(|r| r.next()),
            });
        }
        // In an atomic unit a debit may spend what earlier postings of the unit credit
        // to the same account: all commit together, in order, or none does.
        // Every leg's account, in leg order.
        let accounts = f.accounts.iter().copied();
        let mut credit_before = Vec::new();
        if f.atomic {
            let mut credited: ahash::HashMap<u64, Decimal> = ahash::HashMap::default();
            credit_before = vec![Decimal::ZERO; n];
            for (i, account) in accounts.clone().enumerate() {
                let so_far = credited.entry(account).or_default();
                credit_before[i] = *so_far;
                if f.deltas[i].is_sign_positive() {
                    *so_far += f.deltas[i];
                }
            }
        }
        let directory = &self.state.accounts;
        let legs = accounts.clone().enumerate().map(|(i, account)| {
            let prepare = PrepareLeg {
                delta: f.deltas[i],
                credit_before: credit_before.get(i).copied().unwrap_or_default(),
                reply: LegReply::prepare(f.answers.clone(), i as u32),
            };
            (account, directory.live(account), prepare)
        });
        send_by_account(accounts, legs, AccountMsg::Prepare);
        if n == 0 {
            Self::answer(f);
        } else {
            st.in_flight.insert(token, f);
        }
    }

    /// Postings answered on their own (from the intake) that were refused are told now rather
    /// than once the rest of their unit is durable. A deferred one waits for the unit's end:
    /// it runs again then, after the unit's commits, which its answer may depend on.
    fn answer_refused(f: &mut InFlight) {
        if f.reply.is_some() {
            // Answered as a whole, at the end.
            return;
        }
        for p in &mut f.postings {
            let refused = matches!(
                p.outcome,
                Some(Err(PostingFailure::Refused { .. } | PostingFailure::Linked))
            );
            if refused
                && p.reply.is_some()
                && let (Some(reply), Some(outcome)) = (p.reply.take(), p.outcome.take())
            {
                let _ = reply.send(outcome);
            }
        }
    }

    fn answer(mut f: InFlight) {
        fn outcome(p: &mut Posting) -> PostingResult {
            p.outcome
                .take()
                .unwrap_or(Err(PostingFailure::Unavailable("posting lost".into())))
        }
        match f.reply.take() {
            Some(r) => {
                let _ = r.send(f.postings.iter_mut().map(outcome).collect());
            }
            None => {
                for p in &mut f.postings {
                    if let Some(r) = p.reply.take() {
                        let _ = r.send(outcome(p));
                    }
                }
            }
        }
    }
}

impl Actor for TransferCoordinator {
    type Msg = CoordinatorMsg;
    type State = CoordinatorState;
    type Arguments = IntakeQueue;

    async fn pre_start(
        &self,
        _me: ActorRef<CoordinatorMsg>,
        intake: IntakeQueue,
    ) -> Result<CoordinatorState, ActorProcessingErr> {
        Ok(CoordinatorState {
            next_token: 1,
            in_flight: ahash::HashMap::default(),
            intake,
        })
    }

    async fn handle(
        &self,
        me: ActorRef<CoordinatorMsg>,
        msg: CoordinatorMsg,
        st: &mut CoordinatorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            CoordinatorMsg::Submit { draft, reply } => {
                let UnitDraft {
                    postings,
                    atomic,
                    defer,
                } = *draft;
                let defer = if defer { Defer::InOrder } else { Defer::Never };
                self.start(&me, st, postings, atomic, defer, Replies::Unit(reply));
            }
            CoordinatorMsg::Drain => {
                // Let the requests already running on this worker queue theirs first, so that
                // they make one unit with this one rather than one unit each. (A yield, not a
                // wait: the worker runs its other tasks and comes back.)
                tokio::task::yield_now().await;
                let mut waiting = st.intake.0.take().into_iter().peekable();
                while waiting.peek().is_some() {
                    let (mut drafts, mut replies) = (Vec::new(), Vec::new());
                    let mut bytes = 0;
                    while let Some(next) = waiting.peek() {
                        let len = approx_encoded_len(&next.draft.record);
                        if !drafts.is_empty()
                            && (drafts.len() == MAX_INTAKE_UNIT || bytes + len > MAX_INTAKE_UNIT_BYTES)
                        {
                            break;
                        }
                        bytes += len;
                        let SinglePosting { draft, reply } = waiting.next().expect("peeked");
                        drafts.push(draft);
                        replies.push(reply);
                    }
                    self.start(&me, st, drafts, false, Defer::Refused, Replies::Each(replies));
                }
            }
            CoordinatorMsg::Prepared { token } => {
                let Some(f) = st.in_flight.get_mut(&token) else {
                    return Ok(());
                };
                for p in f.postings.iter_mut() {
                    for leg in p.legs.clone() {
                        // Every slot is set by now; an empty one would be a bug: refuse the leg.
                        let refusal = match f.answers.legs[leg].prepared.get() {
                            Some(Ok(())) => continue,
                            Some(Err(r)) => *r,
                            None => Refusal::InsufficientFunds,
                        };
                        p.refusal.get_or_insert((leg - p.legs.start, refusal));
                    }
                }
                let record = self.decide(f);
                Self::answer_refused(f);
                let f = st.in_flight.remove(&token).expect("present");
                let Some(record) = record else {
                    // Nothing to append: every posting is answered already.
                    Self::answer(f);
                    return Ok(());
                };
                // Parked before the writer can see the entry, so the last commit answer always
                // finds it; whoever gives that answer answers the unit.
                let unit = Arc::clone(&f.answers).park(f);
                if let Err(WalEntry::Postings { unit, .. }) = self.wal.append(WalEntry::Postings { record, unit })
                    && let Some(mut f) = unit.take()
                {
                    // Never queued: fail it here.
                    self.fail(&mut f, "the write-ahead log has stopped".into());
                    Self::answer(f);
                }
            }
            CoordinatorMsg::Complete(unit) => unit.finish(),
            CoordinatorMsg::Failed { unit, error } => {
                if let Some(mut f) = unit.take() {
                    self.fail(&mut f, error);
                    Self::answer(f);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::AccountStatus;
    use std::time::Duration;

    /// Stands in for a coordinator: forwards the tokens of the phase messages it receives,
    /// answers a unit sent back complete as the coordinator does, and drops a failed one (as a
    /// coordinator that stopped would).
    struct Listener(tokio::sync::mpsc::UnboundedSender<(&'static str, u64)>);

    impl Actor for Listener {
        type Msg = CoordinatorMsg;
        type State = ();
        type Arguments = ();

        async fn pre_start(&self, _: ActorRef<CoordinatorMsg>, _: ()) -> Result<(), ActorProcessingErr> {
            Ok(())
        }

        async fn handle(
            &self,
            _: ActorRef<CoordinatorMsg>,
            msg: CoordinatorMsg,
            _: &mut (),
        ) -> Result<(), ActorProcessingErr> {
            let _ = match msg {
                CoordinatorMsg::Prepared { token } => self.0.send(("prepared", token)),
                CoordinatorMsg::Complete(unit) => {
                    let token = unit.answers().token;
                    unit.finish();
                    self.0.send(("complete", token))
                }
                CoordinatorMsg::Failed { unit, .. } => self.0.send(("failed", unit.answers().token)),
                CoordinatorMsg::Drain => self.0.send(("drain", 0)),
                CoordinatorMsg::Submit { .. } => Ok(()),
            };
            Ok(())
        }
    }

    type Heard = tokio::sync::mpsc::UnboundedReceiver<(&'static str, u64)>;

    async fn listener() -> (ActorRef<CoordinatorMsg>, Heard, ractor::concurrency::JoinHandle<()>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (listener, handle) = Listener::spawn(None, Listener(tx), ()).await.unwrap();
        (listener, rx, handle)
    }

    /// Waits for `f`, failing the test rather than hanging it.
    async fn soon<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(5), f)
            .await
            .expect("answered within 5 s")
    }

    fn record(legs: usize) -> PostingRecord {
        use crate::codec::Money;
        use crate::money::Currency;
        use crate::record::{LegRecord, LegRole};
        PostingRecord {
            kind: PostingKind::Credit,
            client_id: 1,
            service_id: 1,
            currency: Currency::parse("KES").unwrap(),
            first_txn_id: 11,
            posted_at_ms: 0,
            amount: Money(Decimal::ONE),
            legs: (0..legs as u64)
                .map(|a| LegRecord {
                    account_id: a + 1,
                    delta: Money(Decimal::ONE),
                    role: LegRole::Destination,
                    other_party: 0,
                })
                .collect(),
            transaction_source: "test".into(),
            source_transaction_id: "t1".into(),
            source_transaction_data: None,
            narration: None,
            transaction_date_ms: None,
            fingerprint: 0,
        }
    }

    fn single() -> (SinglePosting, oneshot::Receiver<PostingResult>) {
        let (reply, answered) = oneshot::channel();
        let draft = PostingDraft {
            record: record(2),
            settle: None,
        };
        (SinglePosting { draft, reply }, answered)
    }

    #[tokio::test]
    async fn the_intake_rings_once_until_taken_and_closes_with_its_coordinator() {
        let (listener, mut heard, handle) = listener().await;
        let intake = Arc::new(Intake::default());
        let queue = IntakeQueue::new(Arc::clone(&intake));
        let mut answered = Vec::new();
        for _ in 0..3 {
            let (s, a) = single();
            assert!(intake.submit(&listener, s).is_ok());
            answered.push(a);
        }
        // What the coordinator's Drain takes: all three.
        let taken = intake.take();
        assert_eq!(taken.len(), 3);
        // Queued after that: rung again.
        let (s, later) = single();
        assert!(intake.submit(&listener, s).is_ok());
        // Four postings, two rings: the listener handles everything sent before it drains.
        listener.drain().unwrap();
        handle.await.unwrap();
        let mut rings = 0;
        while let Ok(m) = heard.try_recv() {
            assert_eq!(m, ("drain", 0));
            rings += 1;
        }
        assert_eq!(rings, 2);
        // Each taken posting keeps its own reply.
        for (k, s) in taken.into_iter().enumerate() {
            let _ = s.reply.send(Err(PostingFailure::Unavailable(format!("answer {k}"))));
        }
        for (k, a) in answered.into_iter().enumerate() {
            match soon(a).await {
                Ok(Err(PostingFailure::Unavailable(m))) => assert_eq!(m, format!("answer {k}")),
                other => panic!("{other:?}"),
            }
        }
        // The coordinator stops (its queue dropped): what was still queued is dropped, so its
        // request hears at once rather than waiting; a posting submitted afterwards comes back.
        drop(queue);
        assert!(soon(later).await.is_err(), "dropped, not left waiting");
        let (s, _) = single();
        let back = intake.submit(&listener, s).expect_err("given back");
        assert_eq!(back.draft.record.legs.len(), 2);
    }

    #[tokio::test]
    async fn a_posting_rung_to_a_stopped_coordinator_is_answered_and_the_intake_closed() {
        let (listener, _heard, handle) = listener().await;
        listener.stop(None);
        handle.await.unwrap();
        // The coordinator is gone but its intake was never closed (it did not own it).
        let intake = Intake::default();
        let (s, answered) = single();
        assert!(intake.submit(&listener, s).is_ok());
        assert!(soon(answered).await.is_err(), "dropped: its request hears at once");
        let (s, _) = single();
        let back = intake.submit(&listener, s).expect_err("closed: given back");
        assert_eq!(back.draft.record.source_transaction_id, "t1");
    }

    /// Parks a unit of one posting whose legs are the first `legs` of the WAL entry, as the
    /// coordinator does before appending; the receiver gets the unit's answer.
    fn park_one_posting(answers: &Arc<UnitAnswers>, legs: usize) -> (ParkedUnit, oneshot::Receiver<UnitResult>) {
        let (reply, answered) = oneshot::channel();
        let unit = Arc::clone(answers).park(InFlight {
            postings: vec![Posting {
                record: None,
                legs: 0..legs,
                claim: None,
                settle: None,
                refusal: None,
                outcome: None,
                reply: None,
            }],
            atomic: false,
            defer: Defer::Never,
            deltas: vec![Decimal::ONE; legs],
            accounts: vec![1; legs],
            answers: Arc::clone(answers),
            appended_postings: vec![0],
            reply: Some(reply),
        });
        (unit, answered)
    }

    #[tokio::test]
    async fn the_last_commit_answers_the_unit_itself() {
        let (listener, mut heard, handle) = listener().await;
        let answers = UnitAnswers::new(listener.clone(), 5, 3);
        assert!(!answers.set_prepared(2, Ok(())));
        // A second answer for the same leg counts for nothing.
        assert!(!answers.set_prepared(2, Err(Refusal::InsufficientFunds)));
        assert!(!answers.set_prepared(7, Ok(())), "no such leg");
        assert!(!answers.set_prepared(0, Err(Refusal::NotDebitable(AccountStatus::Dormant))));
        answers.prepared(1, Ok(()));
        assert_eq!(soon(heard.recv()).await, Some(("prepared", 5)));
        assert_eq!(answers.legs[2].prepared.get(), Some(&Ok(())));
        assert_eq!(
            answers.legs[0].prepared.get(),
            Some(&Err(Refusal::NotDebitable(AccountStatus::Dormant)))
        );

        // Two of the three legs went to the log; the writer's hand-over is due as well.
        answers.expect_commits(2);
        let (unit, mut answered) = park_one_posting(&answers, 2);
        let one = Decimal::ONE;
        answers.committed(1, Some((one, one + one)));
        answers.committed(1, Some((one, one)));
        unit.durable(vec![record(2)]);
        assert!(answered.try_recv().is_err(), "one commit still due");
        answers.committed(0, Some((one, Decimal::ZERO)));
        let result = soon(answered).await.expect("answered by the last commit");
        let posting = result[0].as_ref().expect("committed");
        assert_eq!(posting.record.first_txn_id, 11, "the records the writer handed over");
        assert_eq!(posting.balances, vec![(one, Decimal::ZERO), (one, one + one)]);
        assert!(answers.unpark().is_none(), "answered once");
        assert_eq!(Arc::strong_count(&answers), 1, "the unit's cycle is broken");
        assert!(heard.try_recv().is_err(), "the coordinator was not asked");
        listener.stop(None);
        handle.await.unwrap();
    }

    #[tokio::test]
    async fn a_hand_over_that_comes_last_is_answered_by_the_coordinator() {
        let (listener, mut heard, handle) = listener().await;
        let answers = UnitAnswers::new(listener.clone(), 9, 2);
        answers.expect_commits(2);
        let (unit, mut answered) = park_one_posting(&answers, 2);
        answers.committed(0, Some((Decimal::ZERO, Decimal::ONE)));
        answers.committed(1, Some((Decimal::ZERO, Decimal::ONE)));
        assert!(answered.try_recv().is_err(), "the hand-over is still due");
        unit.durable(vec![record(2)]);
        assert_eq!(
            soon(heard.recv()).await,
            Some(("complete", 9)),
            "not answered on the writer's thread"
        );
        assert!(soon(answered).await.expect("answered")[0].is_ok());
        assert_eq!(Arc::strong_count(&answers), 1, "the unit's cycle is broken");
        listener.stop(None);
        handle.await.unwrap();
    }

    #[tokio::test]
    async fn a_unit_nothing_finishes_is_dropped_and_its_request_answered() {
        let (listener, mut heard, handle) = listener().await;
        // Failed, and the message dropped unhandled (the stand-in, like a coordinator that
        // stopped, does not finish it): the request still gets an answer, an error.
        let failing = UnitAnswers::new(listener.clone(), 10, 2);
        failing.expect_commits(2);
        let (unit, answered) = park_one_posting(&failing, 2);
        unit.failed("disk".into());
        assert_eq!(soon(heard.recv()).await, Some(("failed", 10)));
        assert!(soon(answered).await.is_err(), "dropped, so answered as an error");
        assert_eq!(Arc::strong_count(&failing), 1, "the unit's cycle is broken");

        // Never handed over at all (the writer's thread panicked with the entry queued).
        let lost = UnitAnswers::new(listener.clone(), 11, 1);
        lost.expect_commits(1);
        let (unit, answered) = park_one_posting(&lost, 1);
        drop(unit);
        assert!(soon(answered).await.is_err());
        assert_eq!(Arc::strong_count(&lost), 1, "the unit's cycle is broken");
        listener.stop(None);
        handle.await.unwrap();
    }

    #[tokio::test]
    async fn a_durable_unit_is_answered_even_when_its_coordinator_is_gone() {
        let (gone, _heard, handle) = listener().await;
        let answers = UnitAnswers::new(gone.clone(), 12, 1);
        answers.expect_commits(1);
        let (unit, answered) = park_one_posting(&answers, 1);
        answers.committed(0, Some((Decimal::ZERO, Decimal::ONE)));
        // The coordinator stopped (shutdown) before the hand-over, which comes last.
        gone.stop(None);
        handle.await.unwrap();
        unit.durable(vec![record(1)]);
        assert!(
            soon(answered).await.expect("answered")[0].is_ok(),
            "durable, so answered so"
        );
        assert_eq!(Arc::strong_count(&answers), 1, "the unit's cycle is broken");

        // A `Complete` that no coordinator handles (dropped with a stopped coordinator's
        // mailbox): the same.
        let (listener, _heard, handle) = listener().await;
        let answers = UnitAnswers::new(listener.clone(), 13, 1);
        answers.expect_commits(1);
        let (unit, answered) = park_one_posting(&answers, 1);
        answers.committed(0, Some((Decimal::ZERO, Decimal::ONE)));
        // What `durable` does when its hand-over comes last, up to sending `Complete`...
        let mut writers = unit;
        writers.handed_over = true;
        drop(writers);
        *answers.durable.lock().unwrap() = Some(vec![record(1)]);
        answers.commits_left.fetch_sub(1, Ordering::AcqRel);
        // ...and the guard that `Complete` carries, dropped unhandled.
        drop(ParkedUnit::new(Arc::clone(&answers)));
        assert!(soon(answered).await.expect("answered")[0].is_ok());
        assert_eq!(Arc::strong_count(&answers), 1);
        listener.stop(None);
        handle.await.unwrap();
    }

    #[tokio::test]
    async fn a_reply_dropped_unanswered_answers_for_itself() {
        let (listener, mut heard, handle) = listener().await;
        let answers = UnitAnswers::new(listener.clone(), 7, 2);
        LegReply::prepare(answers.clone(), 0).prepared(Ok(()));
        // The second leg's Prepare was lost (say, its account stopped): dropping its reply
        // completes the phase as a refusal, so the unit is not left waiting.
        drop(LegReply::prepare(answers.clone(), 1));
        assert_eq!(soon(heard.recv()).await, Some(("prepared", 7)));
        assert_eq!(answers.legs[1].prepared.get(), Some(&Err(Refusal::InsufficientFunds)));

        answers.expect_commits(2);
        let (unit, answered) = park_one_posting(&answers, 2);
        let one = Decimal::ONE;
        unit.durable(vec![record(2)]);
        LegReply::commit(answers.clone(), 0).committed(Some((Decimal::ZERO, one)));
        drop(LegReply::commit(answers.clone(), 1));
        assert_eq!(answers.legs[0].committed.get(), Some(&Some((Decimal::ZERO, one))));
        assert_eq!(
            answers.legs[1].committed.get(),
            Some(&None),
            "a lost commit is marked, not invented"
        );
        let result = soon(answered).await.expect("answered");
        assert!(
            matches!(&result[0], Err(PostingFailure::Unavailable(m)) if m.contains("applied again on restart")),
            "durable but unconfirmed is said so: {result:?}"
        );
        assert!(
            heard.try_recv().is_err(),
            "one message for the prepare phase, none for commit"
        );
        listener.stop(None);
        handle.await.unwrap();
    }

    #[tokio::test]
    async fn answers_from_many_threads_report_each_phase_exactly_once() {
        let (listener, mut heard, handle) = listener().await;
        let legs = 512;
        let answers = UnitAnswers::new(listener.clone(), 3, legs);
        answers.expect_commits(legs);
        let (unit, answered) = park_one_posting(&answers, legs);
        let unit = Mutex::new(Some(unit));
        std::thread::scope(|s| {
            for t in 0..4 {
                let (answers, unit) = (&answers, &unit);
                s.spawn(move || {
                    for leg in (t..legs).step_by(4) {
                        answers.prepared(leg, Ok(()));
                    }
                    for leg in (t..legs).step_by(4) {
                        answers.committed(leg, Some((Decimal::ZERO, Decimal::ONE)));
                    }
                    if t == 2
                        && let Some(unit) = unit.lock().unwrap().take()
                    {
                        unit.durable(vec![record(legs)]);
                    }
                });
            }
        });
        assert_eq!(soon(heard.recv()).await, Some(("prepared", 3)));
        let result = soon(answered)
            .await
            .expect("answered once the last of the 513 answers is in");
        assert_eq!(result[0].as_ref().expect("committed").balances.len(), legs);
        // Whoever came last, the unit was answered once: at most one `Complete` besides.
        let mut completes = 0;
        while let Ok(Some(heard)) = tokio::time::timeout(Duration::from_millis(100), heard.recv()).await {
            assert_eq!(heard, ("complete", 3), "each phase reported once");
            completes += 1;
        }
        assert!(completes <= 1, "{completes} completes");
        assert!(answers.legs.iter().all(|l| l.prepared.get() == Some(&Ok(()))));
        assert_eq!(Arc::strong_count(&answers), 1, "the unit's cycle is broken");
        listener.stop(None);
        handle.await.unwrap();
    }
}
