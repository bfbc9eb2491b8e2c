//! The ledger's in-memory state and the one deterministic way to change it: applying records
//! in log order. Replay applies to passive account states directly; live, the WAL writer
//! applies the same bookkeeping and sends the legs to the account actors.

use crate::account::{AccountActor, AccountMsg, AccountState};
use crate::catalog::{AccountMeta, Applied, Catalog, CatalogImage, CounterValues, Map};
use crate::codec::Money;
use crate::error::{EngineError, Result};
use crate::record::{PostingKind, PostingRecord, Record};
use bincode::{Decode, Encode};
use ractor::ActorRef;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Where leg `txn_id` lives: the record's WAL location and enough to filter without reading it.
#[derive(Clone, Copy, Debug, Encode, Decode, PartialEq, Eq)]
pub struct TxEntry {
    /// `walletd_wal::RecordLoc::to_u64()` of the posting record.
    pub loc: u64,
    pub account_id: u64,
    pub client_id: u64,
    pub posted_at_ms: i64,
    /// Index of the leg in its posting; the posting's first id is `txn_id - leg`.
    pub leg: u8,
    /// True when the leg adds money to its account (a CREDIT).
    pub is_credit: bool,
}

/// Transaction ids are dense and given in log order, so leg `id` is entry `id - 1` of an
/// append-only vector: O(1) lookups, lock-free reads, one writer (the WAL writer thread).
#[derive(Default)]
pub struct TxIndex {
    entries: boxcar::Vec<TxEntry>,
}

impl TxIndex {
    pub fn push(&self, e: TxEntry) {
        self.entries.push(e);
    }
    pub fn get(&self, txn_id: u64) -> Option<TxEntry> {
        if txn_id == 0 {
            return None;
        }
        self.entries.get((txn_id - 1) as usize).copied()
    }
    /// Number of legs recorded, which is also the last transaction id.
    pub fn len(&self) -> u64 {
        self.entries.count() as u64
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// First transaction id posted at or after `ms` (posting times never go back in log order).
    pub fn first_at_or_after(&self, ms: i64) -> u64 {
        let (mut lo, mut hi) = (0u64, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.entries.get(mid as usize) {
                Some(e) if e.posted_at_ms < ms => lo = mid + 1,
                _ => hi = mid,
            }
        }
        lo + 1
    }
}

/// The state of one idempotency key (`source_transaction_id` within a client).
#[derive(Clone, Debug)]
pub enum IdempotencyEntry {
    /// A posting with this key is under way; the signal fires when its claimer lets go.
    InFlight(Arc<ClaimSignal>),
    Done {
        fingerprint: u64,
        first_txn_id: u64,
    },
}

/// What requests that find an idempotency key claimed wait on. One small allocation per
/// posting (a `watch` channel, used before, carried eight notifiers and locked them all).
#[derive(Debug, Default)]
pub struct ClaimSignal {
    settled: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl ClaimSignal {
    /// A new claim: the claimer keeps the [`Settle`], the key's entry keeps the signal.
    pub fn claim() -> (Settle, Arc<ClaimSignal>) {
        let signal = Arc::new(ClaimSignal::default());
        (Settle(signal.clone()), signal)
    }

    /// Waits until the claimer lets go (the posting was decided, or its request dropped), at
    /// most `limit`. True once it has.
    pub async fn settled(&self, limit: std::time::Duration) -> bool {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        // Registered before the check, so a release between the two is not missed.
        notified.as_mut().enable();
        if self.settled.load(Ordering::Acquire) {
            return true;
        }
        tokio::time::timeout(limit, notified).await.is_ok()
    }
}

/// Held by the request that claimed a key. Dropping it, however the posting ended, wakes
/// every request waiting on the key.
#[derive(Debug)]
pub struct Settle(Arc<ClaimSignal>);

impl Drop for Settle {
    fn drop(&mut self) {
        self.0.settled.store(true, Ordering::Release);
        self.0.notify.notify_waiters();
    }
}

/// A wallet in the directory: active (an actor owns its state) or passive (plain data).
/// Activation happens at most once, under the slot's own lock; there is no global lock.
/// A slot with neither is a hole: an account id never created.
pub struct AccountSlot {
    actor: OnceLock<ActorRef<AccountMsg>>,
    passive: Mutex<Option<AccountState>>,
}

impl AccountSlot {
    fn new(state: Option<AccountState>) -> Self {
        AccountSlot {
            actor: OnceLock::new(),
            passive: Mutex::new(state),
        }
    }
}

/// Every wallet's slot, by account id. Account ids are dense (one counter, in log order), so
/// slot `id - 1` is account `id` in an append-only vector: no hash map and no box per wallet,
/// which is most of what an idle wallet costs. Readers never lock; inserts (the WAL thread,
/// or recovery, one at a time) take `inserting`.
#[derive(Default)]
pub struct Directory {
    slots: boxcar::Vec<AccountSlot>,
    inserting: Mutex<()>,
    accounts: std::sync::atomic::AtomicUsize,
}

impl Directory {
    pub fn insert(&self, state: AccountState) {
        let Some(index) = (state.account_id as usize).checked_sub(1) else {
            tracing::error!("account id 0 cannot be stored");
            return;
        };
        let _one_writer = self.inserting.lock().unwrap_or_else(|p| p.into_inner());
        // Ids never created (a snapshot image lists accounts in no particular order) are
        // holes until their account arrives.
        while self.slots.count() < index {
            self.slots.push(AccountSlot::new(None));
        }
        if self.slots.count() == index {
            self.slots.push(AccountSlot::new(Some(state)));
        } else if let Some(slot) = self.slots.get(index) {
            let mut passive = slot.passive.lock().unwrap_or_else(|p| p.into_inner());
            if passive.is_some() || slot.actor.get().is_some() {
                tracing::error!(account_id = state.account_id, "account stored twice; the first is kept");
                return;
            }
            *passive = Some(state);
        }
        self.accounts.fetch_add(1, Ordering::Relaxed);
    }

    fn slot(&self, account_id: u64) -> Option<&AccountSlot> {
        self.slots.get((account_id as usize).checked_sub(1)?)
    }

    /// The account's actor, spawning it from its passive state on first use. Must run inside
    /// a Tokio runtime.
    pub fn actor(&self, account_id: u64) -> Result<ActorRef<AccountMsg>> {
        self.activate(account_id).cloned()
    }

    /// The actor of an account that has one, borrowed: sending through it touches no
    /// reference count (a shared counter both cores would write for every leg).
    pub fn live(&self, account_id: u64) -> Option<&ActorRef<AccountMsg>> {
        self.slot(account_id)?.actor.get()
    }

    /// The account's actor, spawned from its passive state if it has none yet.
    pub fn activate(&self, account_id: u64) -> Result<&ActorRef<AccountMsg>> {
        let slot = self
            .slot(account_id)
            .ok_or_else(|| EngineError::NotFound("Account not found".into()))?;
        if let Some(a) = slot.actor.get() {
            return Ok(a);
        }
        let mut passive = slot
            .passive
            .lock()
            .map_err(|_| EngineError::Internal("account slot poisoned".into()))?;
        if let Some(a) = slot.actor.get() {
            return Ok(a);
        }
        // A copy goes to the actor; the passive one is dropped only once the actor runs, so a
        // failed spawn loses nothing (activation happens once per wallet). Neither actor nor
        // state: a hole, an id no account has.
        let state = passive
            .clone()
            .ok_or_else(|| EngineError::NotFound("Account not found".into()))?;
        let (actor, _) = ractor::ActorRuntime::<AccountActor>::spawn_instant(None, AccountActor, state)
            .map_err(|e| EngineError::Internal(format!("account actor did not start: {e}")))?;
        *passive = None;
        // Set only here, under the slot's lock, after finding it empty.
        Ok(slot.actor.get_or_init(|| actor))
    }

    /// The live view of an account without activating it: read from the passive state, or
    /// the actor to ask.
    pub fn peek(
        &self,
        account_id: u64,
    ) -> Result<std::result::Result<crate::account::AccountView, ActorRef<AccountMsg>>> {
        let slot = self
            .slot(account_id)
            .ok_or_else(|| EngineError::NotFound("Account not found".into()))?;
        if let Some(a) = slot.actor.get() {
            return Ok(Err(a.clone()));
        }
        let passive = slot
            .passive
            .lock()
            .map_err(|_| EngineError::Internal("account slot poisoned".into()))?;
        match (&*passive, slot.actor.get()) {
            (Some(s), _) => Ok(Ok(crate::account::AccountView {
                balance: s.balance.0,
                status: s.status,
                updated_at_ms: s.updated_at_ms,
            })),
            (None, Some(a)) => Ok(Err(a.clone())),
            (None, None) => Err(EngineError::NotFound("Account not found".into())),
        }
    }

    /// A passive account, for replay: `&mut self` proves nothing else can reach the directory
    /// (nothing is active then), so no lock is taken. The slot's lock and unlock per leg were
    /// most of replay's own time: they fence the stores of the leg before them.
    pub fn passive_mut(&mut self, account_id: u64) -> Result<&mut AccountState> {
        let slot = (account_id as usize)
            .checked_sub(1)
            .and_then(|index| self.slots.get_mut(index))
            .ok_or_else(|| EngineError::Internal(format!("account {account_id} missing")))?;
        slot.passive
            .get_mut()
            .map_err(|_| EngineError::Internal("account slot poisoned".into()))?
            .as_mut()
            .ok_or_else(|| EngineError::Internal("account active during replay".into()))
    }

    /// For a snapshot cut, on the WAL writer thread: each account's state at this point of the
    /// log. Passive states are copied now; active ones are sent a Marker now, which their
    /// actors answer after every commit already sent (the writer is the only sender of
    /// commits, and mailboxes are FIFO per sender), so the answer is the state at the cut.
    pub fn cut(&self, max_account_id: u64) -> Vec<CutPart> {
        let marker = |a: &ActorRef<AccountMsg>| {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let _ = a.cast(AccountMsg::Marker { reply: tx });
            CutPart::Active(rx)
        };
        let mut parts = Vec::new();
        for (index, slot) in self.slots.iter() {
            if index as u64 + 1 > max_account_id {
                break;
            }
            if let Some(a) = slot.actor.get() {
                parts.push(marker(a));
                continue;
            }
            let passive = match slot.passive.lock() {
                Ok(p) => p,
                Err(_) => continue,
            };
            match (&*passive, slot.actor.get()) {
                (Some(s), _) => parts.push(CutPart::Passive(s.clone())),
                (None, Some(a)) => parts.push(marker(a)),
                (None, None) => {}
            }
        }
        parts
    }

    pub fn len(&self) -> usize {
        self.accounts.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops every account actor (shutdown).
    pub fn stop_all(&self) {
        for (_, s) in self.slots.iter() {
            if let Some(a) = s.actor.get() {
                a.stop(None);
            }
        }
    }
}

pub enum CutPart {
    Passive(AccountState),
    /// The answer to the Marker sent at the cut.
    Active(tokio::sync::oneshot::Receiver<AccountState>),
}

/// Everything in memory.
pub struct LedgerState {
    pub catalog: Catalog,
    pub accounts: Directory,
    pub txindex: TxIndex,
    /// Each client's transaction ids, ascending: listings of one client's legs read these
    /// instead of scanning every leg of the ledger. Rebuilt from the index at load.
    pub client_legs: Map<u64, Arc<boxcar::Vec<u64>>>,
    pub idempotency: Map<(u64, String), IdempotencyEntry>,
    /// Original posting's first txn id -> the reversal's first txn id (0 while under way).
    pub reversals: Map<u64, u64>,
    /// Last transaction id given (only the WAL writer thread moves it).
    pub last_txn_id: AtomicU64,
    /// Posting time of the last posting: posting times never go back in log order.
    pub last_posted_at_ms: AtomicI64,
    /// Last WAL seq applied.
    pub last_seq: AtomicU64,
}

impl Default for LedgerState {
    fn default() -> Self {
        LedgerState {
            catalog: Catalog::default(),
            accounts: Directory::default(),
            txindex: TxIndex::default(),
            client_legs: Map::default(),
            idempotency: Map::default(),
            reversals: Map::default(),
            last_txn_id: AtomicU64::new(0),
            last_posted_at_ms: AtomicI64::new(0),
            last_seq: AtomicU64::new(0),
        }
    }
}

impl LedgerState {
    /// Applies a catalog record (and, for a new wallet, puts its state in the directory).
    pub fn apply_catalog(&self, record: &Record) -> Result<Applied> {
        let applied = self.catalog.apply(record)?;
        if let (Record::CreateAccount(a), Applied::Account(meta)) = (record, &applied)
            && self.accounts.slot(meta.account_id).is_none()
        {
            self.accounts.insert(new_account_state(meta, a.created_at_ms));
        }
        Ok(applied)
    }

    /// A client's list of transaction ids, created on its first leg.
    fn client_leg_list(&self, client_id: u64) -> Arc<boxcar::Vec<u64>> {
        // Shared lookup first: the write-locking entry path is taken once per client only.
        if let Some(legs) = self.client_legs.get(&client_id) {
            return legs.clone();
        }
        self.client_legs.entry(client_id).or_default().clone()
    }

    /// The bookkeeping of a durable posting, shared by live apply and replay: index its legs,
    /// settle its idempotency key and, for a reversal, mark the original reversed.
    pub fn record_posting(&self, loc: u64, p: &PostingRecord) {
        if self.index_legs(&self.client_leg_list(p.client_id), loc, p) {
            // The key is normally there, claimed: settle it in place, without a copy of it. The
            // claim it replaces is dropped after the shard's lock is released, as `insert`
            // would: its last reference may free it, and others wait on that lock.
            let key = (p.client_id, p.source_transaction_id.as_str());
            let claim = match self.idempotency.get_mut(&key as &dyn IdempotencyKey) {
                Some(mut entry) => Some(std::mem::replace(&mut *entry, settled(p))),
                None => self
                    .idempotency
                    .insert((p.client_id, p.source_transaction_id.clone()), settled(p)),
            };
            drop(claim);
        }
    }

    /// Everything `record_posting` does but settle the idempotency key (`client_legs`: the
    /// posting's client's list of legs); true when the posting has one to settle (every kind
    /// but a reversal, which claims its original instead).
    fn index_legs(&self, client_legs: &boxcar::Vec<u64>, loc: u64, p: &PostingRecord) -> bool {
        for (i, leg) in p.legs.iter().enumerate() {
            client_legs.push(p.first_txn_id + i as u64);
            self.txindex.push(TxEntry {
                loc,
                account_id: leg.account_id,
                client_id: p.client_id,
                posted_at_ms: p.posted_at_ms,
                leg: i as u8,
                is_credit: leg.delta.0.is_sign_positive(),
            });
        }
        self.last_txn_id
            .store(p.first_txn_id + p.legs.len() as u64 - 1, Ordering::Release);
        self.last_posted_at_ms.store(p.posted_at_ms, Ordering::Release);
        match p.kind {
            PostingKind::Reversal { original } => {
                self.reversals.insert(original, p.first_txn_id);
                false
            }
            _ => true,
        }
    }
}

/// Recovery's hold on the state while it replays the log: exclusive, so that replay takes no
/// lock per leg, and each client's list of legs is found in a map of its own rather than the
/// shared one (whose look-up locks a shard and counts a reference).
pub struct Replay<'s> {
    state: &'s mut LedgerState,
    client_legs: std::collections::HashMap<u64, Arc<boxcar::Vec<u64>>, ahash::RandomState>,
}

impl<'s> Replay<'s> {
    pub fn new(state: &'s mut LedgerState) -> Self {
        Replay {
            state,
            client_legs: Default::default(),
        }
    }

    /// Replay of one record: the same rules as live, applied to passive states. The
    /// idempotency keys the record settles are pushed to `keys` rather than inserted, so that
    /// recovery can insert them on another thread ([`settle_keys`]); nothing in replay reads
    /// them.
    pub fn record(&mut self, seq: u64, loc: u64, record: Record, keys: &mut Vec<SettledKey>) -> Result<()> {
        match record {
            Record::Posting(p) => self.posting(loc, p, keys)?,
            Record::Batch(postings) => {
                for p in postings {
                    self.posting(loc, p, keys)?;
                }
            }
            Record::SetAccountStatus {
                account_id,
                status,
                at_ms,
            } => self.state.accounts.passive_mut(account_id)?.apply_status(status, at_ms),
            other => {
                // A record refused live (a unique key taken) is refused again here, identically.
                let _ = self.state.apply_catalog(&other);
            }
        }
        self.state.last_seq.store(seq, Ordering::Release);
        Ok(())
    }

    fn posting(&mut self, loc: u64, p: PostingRecord, keys: &mut Vec<SettledKey>) -> Result<()> {
        for (i, leg) in p.legs.iter().enumerate() {
            self.state
                .accounts
                .passive_mut(leg.account_id)?
                .apply_leg(p.first_txn_id + i as u64, leg.delta.0);
        }
        let state = &*self.state;
        let client_legs = self
            .client_legs
            .entry(p.client_id)
            .or_insert_with(|| state.client_leg_list(p.client_id));
        if state.index_legs(client_legs, loc, &p) {
            let entry = settled(&p);
            keys.push(((p.client_id, p.source_transaction_id), entry));
        }
        Ok(())
    }
}

/// Inserts the keys that replay deferred.
pub fn settle_keys(idempotency: &Map<(u64, String), IdempotencyEntry>, keys: Vec<SettledKey>) {
    for (key, entry) in keys {
        idempotency.insert(key, entry);
    }
}

/// An idempotency key and the entry that settles it.
pub type SettledKey = ((u64, String), IdempotencyEntry);

/// An idempotency key (client id, `source_transaction_id`) that may be borrowed, so that the
/// map's entry is found without building an owned key. It hashes and compares exactly as the
/// owned `(u64, String)` does.
pub trait IdempotencyKey {
    fn parts(&self) -> (u64, &str);
}

impl IdempotencyKey for (u64, String) {
    fn parts(&self) -> (u64, &str) {
        (self.0, &self.1)
    }
}

impl IdempotencyKey for (u64, &str) {
    fn parts(&self) -> (u64, &str) {
        *self
    }
}

impl<'a> std::borrow::Borrow<dyn IdempotencyKey + 'a> for (u64, String) {
    fn borrow(&self) -> &(dyn IdempotencyKey + 'a) {
        self
    }
}

impl std::hash::Hash for dyn IdempotencyKey + '_ {
    /// As the tuple's derived `Hash`: the client id, then the string.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let (client, key) = self.parts();
        client.hash(state);
        key.hash(state);
    }
}

impl PartialEq for dyn IdempotencyKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn IdempotencyKey + '_ {}

fn settled(p: &PostingRecord) -> IdempotencyEntry {
    IdempotencyEntry::Done {
        fingerprint: p.fingerprint,
        first_txn_id: p.first_txn_id,
    }
}

pub fn new_account_state(meta: &AccountMeta, at_ms: i64) -> AccountState {
    AccountState {
        account_id: meta.account_id,
        balance: Money::default(),
        status: meta.data.status,
        minimum_balance: meta.data.minimum_balance,
        can_overdraw: meta.data.can_overdraw,
        updated_at_ms: at_ms,
        history: Vec::new(),
    }
}

/// A snapshot's content: the state as of WAL record `seq` (history stays in the WAL; the
/// per-account leg index and the transaction index are kept so old legs can be found there).
#[derive(Debug, Encode, Decode)]
pub struct StateImage {
    pub seq: u64,
    pub last_txn_id: u64,
    pub last_posted_at_ms: i64,
    pub catalog: CatalogImage,
    pub accounts: Vec<AccountState>,
    pub txindex: Vec<TxEntry>,
    /// (client id, source_transaction_id, fingerprint, first txn id)
    pub idempotency: Vec<(u64, String, u64, u64)>,
    /// (original first txn id, reversal first txn id)
    pub reversals: Vec<(u64, u64)>,
}

/// What the WAL writer captures at a snapshot cut; the rest is gathered in the background.
pub struct Cut {
    pub seq: u64,
    pub last_txn_id: u64,
    pub last_posted_at_ms: i64,
    pub counters: CounterValues,
    pub accounts: Vec<CutPart>,
    /// Users can be deleted, so leaving out later ones by id is not enough: copied at the cut.
    pub users: Vec<crate::catalog::User>,
}

impl LedgerState {
    /// Takes the cut: must run on the WAL writer thread, right after record `seq` was applied.
    pub fn cut(&self, seq: u64) -> Cut {
        let counters = self.catalog.counters.values();
        Cut {
            seq,
            last_txn_id: self.last_txn_id.load(Ordering::Acquire),
            last_posted_at_ms: self.last_posted_at_ms.load(Ordering::Acquire),
            counters,
            accounts: self.accounts.cut(counters.account),
            users: {
                let mut users: Vec<_> = self.catalog.users.iter().map(|u| (**u).clone()).collect();
                users.sort_by_key(|u| u.user_id);
                users
            },
        }
    }

    /// Builds the snapshot image from a cut (in the background; postings go on meanwhile).
    /// Objects created after the cut are left out by their ids; everything else that may have
    /// changed since is either exact (accounts, via markers) or set again by replay.
    pub async fn image(&self, cut: Cut) -> Result<StateImage> {
        let mut accounts = Vec::with_capacity(cut.accounts.len());
        for part in cut.accounts {
            match part {
                CutPart::Passive(s) => accounts.push(s),
                CutPart::Active(rx) => {
                    accounts.push(
                        rx.await
                            .map_err(|_| EngineError::Internal("account actor gone".into()))?,
                    );
                }
            }
        }
        accounts.sort_by_key(|a| a.account_id);
        let txindex = (1..=cut.last_txn_id)
            .filter_map(|id| self.txindex.get(id))
            .collect::<Vec<_>>();
        let mut idempotency: Vec<(u64, String, u64, u64)> = self
            .idempotency
            .iter()
            .filter_map(|e| match e.value() {
                IdempotencyEntry::Done {
                    fingerprint,
                    first_txn_id,
                } if *first_txn_id <= cut.last_txn_id => {
                    Some((e.key().0, e.key().1.clone(), *fingerprint, *first_txn_id))
                }
                _ => None,
            })
            .collect();
        idempotency.sort_by_key(|e| e.3);
        let mut reversals: Vec<(u64, u64)> = self
            .reversals
            .iter()
            .filter(|e| *e.value() != 0 && *e.value() <= cut.last_txn_id)
            .map(|e| (*e.key(), *e.value()))
            .collect();
        reversals.sort_unstable();
        Ok(StateImage {
            seq: cut.seq,
            last_txn_id: cut.last_txn_id,
            last_posted_at_ms: cut.last_posted_at_ms,
            catalog: {
                let mut catalog = self.catalog.image(&cut.counters);
                catalog.users = cut.users;
                catalog
            },
            accounts,
            txindex,
            idempotency,
            reversals,
        })
    }

    /// The state a snapshot image holds, all accounts passive. The idempotency map, sized once
    /// from the image, is built on a second thread while this one rebuilds the accounts and the
    /// transaction index: at 10 M postings, building it was a sixth of the load, half of that
    /// growing by rehashing (BENCHMARKS.md, tenth round).
    pub fn from_image(image: StateImage) -> Result<LedgerState> {
        let StateImage {
            catalog,
            accounts,
            txindex,
            idempotency: keys,
            reversals,
            last_txn_id,
            last_posted_at_ms,
            seq,
        } = image;
        let build_keys = move || {
            let map = Map::with_capacity_and_hasher(keys.len(), Default::default());
            for (client, key, fingerprint, first_txn_id) in keys {
                map.insert(
                    (client, key),
                    IdempotencyEntry::Done {
                        fingerprint,
                        first_txn_id,
                    },
                );
            }
            map
        };
        let mut state = LedgerState {
            catalog: Catalog::from_image(catalog),
            last_txn_id: AtomicU64::new(last_txn_id),
            last_posted_at_ms: AtomicI64::new(last_posted_at_ms),
            last_seq: AtomicU64::new(seq),
            ..LedgerState::default()
        };
        let rebuild = |state: &LedgerState| {
            for a in accounts {
                state.accounts.insert(a);
            }
            for (i, e) in txindex.into_iter().enumerate() {
                state.client_leg_list(e.client_id).push(i as u64 + 1);
                state.txindex.push(e);
            }
        };
        state.idempotency = std::thread::scope(|scope| {
            let key_thread = std::thread::Builder::new()
                .name("snapshot-keys".into())
                .spawn_scoped(scope, build_keys)
                .map_err(|e| EngineError::Internal(format!("cannot start the snapshot's key thread: {e}")))?;
            rebuild(&state);
            key_thread
                .join()
                .map_err(|_| EngineError::Internal("the snapshot's key thread panicked".into()))
        })?;
        for (orig, rev) in reversals {
            state.reversals.insert(orig, rev);
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::AccountStatus;

    #[test]
    fn a_borrowed_idempotency_key_finds_what_the_owned_one_stored() {
        let map: Map<(u64, String), u64> = Map::default();
        let keys = ["", "k", "tx-1", "a\u{0}b", "é€😀", "the same text, another client"];
        for (i, k) in keys.iter().enumerate() {
            map.insert((i as u64, (*k).to_owned()), i as u64);
        }
        for (i, k) in keys.iter().enumerate() {
            let borrowed = (i as u64, *k);
            assert_eq!(
                map.get(&borrowed as &dyn IdempotencyKey).map(|v| *v),
                Some(i as u64),
                "{k:?}"
            );
            // Another client's key, or a prefix of the text, is another key.
            assert!(map.get(&(i as u64 + 100, *k) as &dyn IdempotencyKey).is_none());
            let longer = format!("{k}x");
            assert!(map.get(&(i as u64, longer.as_str()) as &dyn IdempotencyKey).is_none());
        }
        let owned = (7u64, "tx-7".to_string());
        let hasher = map.hasher();
        assert_eq!(
            hasher.hash_one(&owned),
            hasher.hash_one(&owned as &dyn IdempotencyKey),
            "the owned and the borrowed key hash alike"
        );
    }

    fn account(id: u64, balance: i64) -> AccountState {
        AccountState {
            account_id: id,
            balance: Money(rust_decimal::Decimal::new(balance, 0)),
            status: AccountStatus::Active,
            minimum_balance: Money::default(),
            can_overdraw: false,
            updated_at_ms: 0,
            history: Vec::new(),
        }
    }

    fn balance(d: &Directory, id: u64) -> Result<rust_decimal::Decimal> {
        match d.peek(id)? {
            Ok(view) => Ok(view.balance),
            Err(_) => Err(EngineError::Internal("unexpectedly active".into())),
        }
    }

    #[test]
    fn directory_slots_follow_ids_in_any_insert_order_and_holes_are_not_found() {
        let mut d = Directory::default();
        // A snapshot image may list accounts in any order, and an id may never be used.
        for id in [3, 1, 5] {
            d.insert(account(id, id as i64 * 10));
        }
        assert_eq!(d.len(), 3);
        for id in [1, 3, 5] {
            assert_eq!(balance(&d, id).unwrap(), rust_decimal::Decimal::new(id as i64 * 10, 0));
        }
        for id in [0, 2, 4, 6] {
            assert!(matches!(d.peek(id), Err(EngineError::NotFound(_))), "id {id}");
            assert!(d.passive_mut(id).is_err(), "id {id}");
        }
        // A hole filled later is found; a second insert of the same id keeps the first.
        d.insert(account(2, 20));
        d.insert(account(2, 99));
        assert_eq!(balance(&d, 2).unwrap(), rust_decimal::Decimal::new(20, 0));
        assert_eq!(d.len(), 4);
        // A cut covers the accounts up to its last id, holes skipped.
        let passive: Vec<u64> = d
            .cut(3)
            .into_iter()
            .filter_map(|p| match p {
                CutPart::Passive(s) => Some(s.account_id),
                CutPart::Active(_) => None,
            })
            .collect();
        assert_eq!(passive, vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn a_hole_is_not_found_when_asked_for_its_actor() {
        let d = Directory::default();
        d.insert(account(2, 5));
        assert!(matches!(d.actor(1), Err(EngineError::NotFound(_))));
        let actor = d.actor(2).unwrap();
        assert!(matches!(d.peek(2), Ok(Err(_))));
        actor.stop(None);
    }
}
