//! `TransferCoordinator`: runs postings through the two-phase protocol without ever waiting
//! inside a handler. Each posting is a small state machine keyed by a token:
//!
//! 1. `Submit`: send `Prepare` to every leg's account actor (each checks and holds funds).
//! 2. `Prepared` from every leg: if any refused, `Abort` the others and answer the refusal;
//!    otherwise append the posting to the WAL.
//! 3. `Durable` from the WAL writer (which has already sent `Commit` to the accounts, in log
//!    order), then `Committed` from every leg: answer with the balances.
//! 4. `Failed` from the WAL writer (fail-stop): `Abort` every leg and answer unavailable.
//!
//! Coordinators form a small pool; no single actor sees every posting.

use crate::account::{AccountMsg, LegReply, Refusal};
use crate::record::{PostingRecord, Record};
use crate::sequencer::WalEntry;
use crate::state::{IdempotencyEntry, LedgerState};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{oneshot, watch};
use walletd_wal::WalWriter;

/// A posting ready to run: the record (ids and posting time still to be given by the WAL
/// writer) and the actors of its legs, in leg order.
pub struct PostingDraft {
    pub record: PostingRecord,
    pub actors: Vec<ActorRef<AccountMsg>>,
    /// Dropping it wakes requests waiting on the same idempotency key.
    pub settle: Option<watch::Sender<()>>,
}

#[derive(Debug)]
pub struct CommittedPosting {
    pub record: PostingRecord,
    /// (previous, current) balance of each leg's account.
    pub balances: Vec<(Decimal, Decimal)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PostingFailure {
    /// Leg `leg` was refused by its account.
    Refused { leg: usize, refusal: Refusal },
    /// The log stopped (fail-stop) or is shutting down.
    Unavailable(String),
}

pub type PostingReply = oneshot::Sender<Result<CommittedPosting, PostingFailure>>;

pub enum CoordinatorMsg {
    Submit { draft: Box<PostingDraft>, reply: PostingReply },
    Prepared { token: u64, leg: u8, result: Result<(), Refusal> },
    Durable { token: u64, record: Box<PostingRecord> },
    Committed { token: u64, leg: u8, previous: Decimal, current: Decimal },
    Failed { token: u64, error: String },
}

struct InFlight {
    record: Option<Box<PostingRecord>>,
    deltas: Vec<Decimal>,
    actors: Vec<ActorRef<AccountMsg>>,
    idempotency_key: Option<(u64, String)>,
    reversal_of: Option<u64>,
    settle: Option<watch::Sender<()>>,
    answered: u8,
    prepared_ok: Vec<bool>,
    refusal: Option<(usize, Refusal)>,
    durable: bool,
    balances: Vec<Option<(Decimal, Decimal)>>,
    committed: u8,
    reply: Option<PostingReply>,
}

pub struct CoordinatorState {
    next_token: u64,
    in_flight: HashMap<u64, InFlight>,
}

pub struct TransferCoordinator {
    pub state: Arc<LedgerState>,
    pub wal: Arc<WalWriter<WalEntry>>,
}

impl TransferCoordinator {
    /// Releases the idempotency key (or reversal claim) of a posting that will not happen,
    /// before waking whoever waits on it.
    fn release_claims(&self, f: &mut InFlight) {
        if let Some(key) = f.idempotency_key.take() {
            self.state.idempotency.remove_if(&key, |_, v| matches!(v, IdempotencyEntry::InFlight(_)));
        }
        if let Some(orig) = f.reversal_of.take() {
            self.state.reversals.remove_if(&orig, |_, v| *v == 0);
        }
        f.settle.take();
    }

    fn abort_prepared(f: &InFlight) {
        for (i, ok) in f.prepared_ok.iter().enumerate() {
            if *ok {
                let _ = f.actors[i].cast(AccountMsg::Abort { delta: f.deltas[i] });
            }
        }
    }
}

impl Actor for TransferCoordinator {
    type Msg = CoordinatorMsg;
    type State = CoordinatorState;
    type Arguments = ();

    async fn pre_start(&self, _me: ActorRef<CoordinatorMsg>, _: ()) -> Result<CoordinatorState, ActorProcessingErr> {
        Ok(CoordinatorState { next_token: 1, in_flight: HashMap::new() })
    }

    async fn handle(&self, me: ActorRef<CoordinatorMsg>, msg: CoordinatorMsg, st: &mut CoordinatorState) -> Result<(), ActorProcessingErr> {
        match msg {
            CoordinatorMsg::Submit { draft, reply } => {
                let token = st.next_token;
                st.next_token += 1;
                let PostingDraft { record, actors, settle } = *draft;
                let deltas: Vec<Decimal> = record.legs.iter().map(|l| l.delta.0).collect();
                for (i, actor) in actors.iter().enumerate() {
                    let leg_reply = LegReply { coordinator: me.clone(), token, leg: i as u8 };
                    if actor.cast(AccountMsg::Prepare { delta: deltas[i], reply: leg_reply }).is_err() {
                        // A dead account actor answers nothing: count it as refused below.
                        let _ = me.cast(CoordinatorMsg::Failed { token, error: "account actor stopped".into() });
                    }
                }
                let n = deltas.len();
                let (idempotency_key, reversal_of) = match record.kind {
                    crate::record::PostingKind::Reversal { original } => (None, Some(original)),
                    _ => (Some((record.client_id, record.source_transaction_id.clone())), None),
                };
                st.in_flight.insert(
                    token,
                    InFlight {
                        record: Some(Box::new(record)),
                        deltas,
                        actors,
                        idempotency_key,
                        reversal_of,
                        settle,
                        answered: 0,
                        prepared_ok: vec![false; n],
                        refusal: None,
                        durable: false,
                        balances: vec![None; n],
                        committed: 0,
                        reply: Some(reply),
                    },
                );
            }
            CoordinatorMsg::Prepared { token, leg, result } => {
                let Some(f) = st.in_flight.get_mut(&token) else { return Ok(()) };
                f.answered += 1;
                match result {
                    Ok(()) => f.prepared_ok[leg as usize] = true,
                    Err(refusal) => {
                        if f.refusal.is_none() {
                            f.refusal = Some((leg as usize, refusal));
                        }
                    }
                }
                if (f.answered as usize) < f.deltas.len() {
                    return Ok(());
                }
                if let Some((leg, refusal)) = f.refusal {
                    let mut f = st.in_flight.remove(&token).expect("present");
                    Self::abort_prepared(&f);
                    self.release_claims(&mut f);
                    if let Some(r) = f.reply.take() {
                        let _ = r.send(Err(PostingFailure::Refused { leg, refusal }));
                    }
                    return Ok(());
                }
                let record = f.record.take().expect("record kept until appended");
                let entry = WalEntry::Posting {
                    record: Record::Posting(*record),
                    actors: f.actors.clone(),
                    coordinator: me.clone(),
                    token,
                };
                if self.wal.append(entry).is_err() {
                    let mut f = st.in_flight.remove(&token).expect("present");
                    Self::abort_prepared(&f);
                    self.release_claims(&mut f);
                    if let Some(r) = f.reply.take() {
                        let _ = r.send(Err(PostingFailure::Unavailable("the write-ahead log has stopped".into())));
                    }
                }
            }
            CoordinatorMsg::Durable { token, record } => {
                let Some(f) = st.in_flight.get_mut(&token) else { return Ok(()) };
                f.durable = true;
                f.record = Some(record);
                // The key is settled (Done) by the WAL writer; waking waiters is safe now.
                f.idempotency_key = None;
                f.reversal_of = None;
                f.settle.take();
                Self::finish_if_done(st, token);
            }
            CoordinatorMsg::Committed { token, leg, previous, current } => {
                let Some(f) = st.in_flight.get_mut(&token) else { return Ok(()) };
                if f.balances[leg as usize].replace((previous, current)).is_none() {
                    f.committed += 1;
                }
                Self::finish_if_done(st, token);
            }
            CoordinatorMsg::Failed { token, error } => {
                let Some(mut f) = st.in_flight.remove(&token) else { return Ok(()) };
                if f.durable {
                    // Durable already: commits were sent and will land; keep waiting for them.
                    st.in_flight.insert(token, f);
                    return Ok(());
                }
                Self::abort_prepared(&f);
                self.release_claims(&mut f);
                if let Some(r) = f.reply.take() {
                    let _ = r.send(Err(PostingFailure::Unavailable(error)));
                }
            }
        }
        Ok(())
    }
}

impl TransferCoordinator {
    fn finish_if_done(st: &mut CoordinatorState, token: u64) {
        let done = st.in_flight.get(&token).is_some_and(|f| f.durable && f.committed as usize == f.deltas.len());
        if !done {
            return;
        }
        let mut f = st.in_flight.remove(&token).expect("present");
        let record = *f.record.take().expect("durable record");
        let balances = f.balances.iter().map(|b| b.unwrap_or_default()).collect();
        if let Some(r) = f.reply.take() {
            let _ = r.send(Ok(CommittedPosting { record, balances }));
        }
    }
}
