//! `Ledger`: the engine's one public handle, cheap to clone. It recovers the state at open
//! (newest valid snapshot + WAL suffix), then judges every request against the catalog, runs
//! postings through the coordinators and appends every other change to the WAL. Tenancy is
//! enforced here: a CLIENT caller's requests resolve within its own client, and everything
//! else answers "not found".

use crate::account::{AccountMsg, AccountView, Refusal, StatusRefusal};
use crate::catalog::*;
use crate::codec::{self, Money};
use crate::coordinator::{
    CommittedPosting, CoordinatorMsg, Intake, IntakeQueue, PostingDraft, PostingFailure, SinglePosting,
    TransferCoordinator, UnitDraft,
};
use crate::error::{EngineError, Result};
use crate::fees::fee_for;
use crate::money::{self, Currency};
use crate::record::*;
use crate::recovery::replay_log;
use crate::sequencer::{LedgerSequencer, WalEntry};
use crate::snapshot::{SnapshotPolicy, SnapshotScheduler, decode_image};
use crate::state::{ClaimSignal, IdempotencyEntry, IdempotencyKey, LedgerState, Settle, TxEntry};
use crate::views::*;
use ractor::{Actor, ActorRef};
use rand::Rng;
use rust_decimal::Decimal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use walletd_snapshots::SnapshotStore;
use walletd_wal::{FsStorage, RecordLoc, Storage, WalConfig, WalReader, WalWriter};

/// How long a request waits for another request's claim on the same idempotency key before
/// treating the claim as abandoned.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Transfer coordinators unless configured otherwise: one per core (at most 8). Each gathers
/// the single postings that arrive together into one unit, so more coordinators than cores
/// only make smaller units (BENCHMARKS.md: four on two cores cost ~10% more CPU per posting).
pub fn default_coordinators() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8)
}

#[derive(Clone, Debug)]
pub struct LedgerConfig {
    pub data_dir: PathBuf,
    pub storage: Arc<dyn Storage>,
    pub segment_bytes: u64,
    pub snapshot: SnapshotPolicy,
    pub keep_snapshots: usize,
    pub coordinators: usize,
}

impl LedgerConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        LedgerConfig {
            data_dir: data_dir.into(),
            storage: Arc::new(FsStorage),
            segment_bytes: 64 * 1024 * 1024,
            snapshot: SnapshotPolicy::default(),
            keep_snapshots: 2,
            coordinators: default_coordinators(),
        }
    }

    pub fn wal_dir(&self) -> PathBuf {
        self.data_dir.join("wal")
    }

    pub fn snapshot_dir(&self) -> PathBuf {
        self.data_dir.join("snapshots")
    }

    fn wal_config(&self) -> WalConfig {
        WalConfig {
            segment_bytes: self.segment_bytes,
            ..WalConfig::new(self.wal_dir())
        }
    }
}

/// What recovery did, for the start-up log.
#[derive(Clone, Debug)]
pub struct RecoveryReport {
    pub snapshot_seq: Option<u64>,
    pub snapshot_path: Option<PathBuf>,
    pub skipped_snapshots: Vec<(PathBuf, String)>,
    pub records_replayed: u64,
    pub truncated_bytes: u64,
    pub last_seq: u64,
    pub accounts: usize,
    pub elapsed: Duration,
}

#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    state: Arc<LedgerState>,
    wal: Arc<WalWriter<WalEntry>>,
    reader: WalReader,
    coordinators: Vec<Coordinator>,
    next_coordinator: AtomicUsize,
}

/// A transfer coordinator and its intake of single postings.
struct Coordinator {
    actor: ActorRef<CoordinatorMsg>,
    intake: Arc<Intake>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn unavailable<T>(_: T) -> EngineError {
    EngineError::Unavailable("the write-ahead log has stopped; writes are refused".into())
}

/// Waits for an actor's answer. No timer here: a timer per posting cost ~6 us of CPU
/// (BENCHMARKS.md). An answer is always sent or its sender dropped (actor stopped); a unit
/// completes even when one of its accounts stops, because a leg's reply dropped unanswered
/// answers for itself (`LegReply`); and the API bounds every request with its own deadline.
async fn await_reply<T>(rx: oneshot::Receiver<T>) -> Result<T> {
    match rx.await {
        Ok(v) => Ok(v),
        Err(_) => Err(unavailable(())),
    }
}

/// Random uppercase letters and digits, for generated codes.
fn random_code(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// A 10-character code: up to 3 letters of `name`, then random characters (`EML67BG6W1`).
pub fn generate_code(name: &str) -> String {
    let letters: String = name
        .chars()
        .filter(|c| c.is_ascii_alphabetic())
        .take(3)
        .collect::<String>()
        .to_ascii_uppercase();
    let rest = 10 - letters.len();
    format!("{letters}{}", random_code(rest))
}

/// FNV-1a: a stable 64-bit hash (std's hasher may change between releases, and fingerprints
/// are kept on disk).
const FNV1A_START: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a of what `h` hashed so far followed by `bytes`.
fn fnv1a_more(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, b| (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

impl Ledger {
    /// Recovers the state from `config.data_dir` and starts the WAL writer and coordinators.
    /// Must be called inside a Tokio runtime.
    pub async fn open(config: LedgerConfig) -> Result<(Ledger, RecoveryReport)> {
        let started = Instant::now();
        let storage = config.storage.clone();
        let store = Arc::new(SnapshotStore::new(
            storage.clone(),
            config.snapshot_dir(),
            config.keep_snapshots,
        ));
        let loaded = store
            .load_latest()
            .map_err(|e| EngineError::Corruption(format!("snapshot: {e}")))?;
        let (mut state, snapshot_seq, snapshot_path, skipped) = match loaded {
            Some(l) => {
                let image = decode_image(&l.payload)?;
                // The file's bytes (a gigabyte at 10 M postings) are not needed past decoding.
                drop(l.payload);
                if image.seq != l.seq {
                    return Err(EngineError::Corruption(format!(
                        "snapshot {} holds seq {} not {}",
                        l.path.display(),
                        image.seq,
                        l.seq
                    )));
                }
                (LedgerState::from_image(image)?, Some(l.seq), Some(l.path), l.skipped)
            }
            None => (LedgerState::default(), None, None, Vec::new()),
        };
        let wal_config = config.wal_config();
        let from_seq = snapshot_seq.map_or(1, |s| s + 1);
        let recovered = replay_log(&mut state, storage.clone(), &wal_config, from_seq)?;
        let state = Arc::new(state);
        let scheduler = SnapshotScheduler::new(
            config.snapshot.clone(),
            store,
            tokio::runtime::Handle::current(),
            state.clone(),
        );
        let sequencer = LedgerSequencer::new(state.clone(), Some(scheduler));
        let wal = Arc::new(
            WalWriter::start(storage.clone(), wal_config.clone(), &recovered, sequencer)
                .map_err(|e| EngineError::Unavailable(format!("cannot open the WAL for writing: {e}")))?,
        );
        let mut coordinators = Vec::new();
        for _ in 0..config.coordinators.max(1) {
            let intake = Arc::new(Intake::default());
            let queue = IntakeQueue::new(Arc::clone(&intake));
            let (actor, _) = TransferCoordinator::spawn(
                None,
                TransferCoordinator {
                    state: state.clone(),
                    wal: wal.clone(),
                },
                queue,
            )
            .await
            .map_err(|e| EngineError::Internal(format!("coordinator did not start: {e}")))?;
            coordinators.push(Coordinator { actor, intake });
        }
        let report = RecoveryReport {
            snapshot_seq,
            snapshot_path,
            skipped_snapshots: skipped,
            records_replayed: recovered.records_applied,
            truncated_bytes: recovered.truncated_bytes,
            last_seq: recovered.next_seq - 1,
            accounts: state.accounts.len(),
            elapsed: started.elapsed(),
        };
        let inner = Inner {
            state,
            wal,
            reader: WalReader::new(storage, wal_config),
            coordinators,
            next_coordinator: AtomicUsize::new(0),
        };
        Ok((Ledger { inner: Arc::new(inner) }, report))
    }

    /// Ok while writes are accepted; the reason otherwise (fail-stop after a storage error).
    pub fn health(&self) -> std::result::Result<(), String> {
        if self.inner.wal.is_failed() {
            Err("the write-ahead log failed; writes are stopped (fail-stop)".into())
        } else {
            Ok(())
        }
    }

    /// Records per fsync so far, and the counts behind it.
    pub fn wal_stats(&self) -> (u64, u64) {
        let s = self.inner.wal.stats();
        (s.records.load(Ordering::Relaxed), s.batches.load(Ordering::Relaxed))
    }

    /// Drains the WAL (everything queued becomes durable) and stops the actors.
    pub fn shutdown(&self) {
        self.inner.wal.shutdown();
        for c in &self.inner.coordinators {
            c.actor.stop(None);
        }
        self.inner.state.accounts.stop_all();
    }

    pub fn state(&self) -> &LedgerState {
        &self.inner.state
    }

    fn catalog(&self) -> &Catalog {
        &self.inner.state.catalog
    }

    async fn append(&self, record: Record) -> Result<Applied> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .wal
            .append(WalEntry::Catalog { record, reply: tx })
            .map_err(unavailable)?;
        await_reply(rx).await?
    }

    // ---- tenancy -------------------------------------------------------------------------

    fn visible(caller: &Caller, client_id: u64) -> bool {
        caller.is_admin() || caller.client_id == Some(client_id)
    }

    fn require_admin(caller: &Caller) -> Result<()> {
        if caller.is_admin() {
            Ok(())
        } else {
            Err(EngineError::Forbidden("Forbidden resource".into()))
        }
    }

    /// The client named by `code`, if the caller may see it.
    pub fn client_for(&self, caller: &Caller, code: &str) -> Result<Arc<Client>> {
        self.catalog()
            .client_by_code(code)
            .filter(|c| Self::visible(caller, c.client_id))
            .ok_or_else(|| EngineError::NotFound("Client not found".into()))
    }

    fn client_by_id(&self, id: u64) -> Result<Arc<Client>> {
        self.catalog()
            .clients
            .get(&id)
            .map(|c| c.clone())
            .ok_or_else(|| EngineError::Internal(format!("client {id} missing")))
    }

    fn account_for(&self, caller: &Caller, number: &str) -> Result<Arc<AccountMeta>> {
        self.catalog()
            .account_by_number(number)
            .filter(|a| Self::visible(caller, a.data.client_id))
            .ok_or_else(|| EngineError::NotFound("Account not found".into()))
    }

    /// Resolves a `client_profile_id`: within the caller's client, or for an ADMIN within
    /// `client_code` if given, else across clients (409 when ambiguous).
    fn profile_for(&self, caller: &Caller, reference: &str, client_code: Option<&str>) -> Result<Arc<Profile>> {
        let not_found = || EngineError::NotFound("Profile not found".into());
        if let Some(code) = client_code {
            let client = self.client_for(caller, code).map_err(|_| not_found())?;
            return self
                .catalog()
                .profile_by_ref(client.client_id, reference)
                .ok_or_else(not_found);
        }
        if let Some(cid) = caller.client_id.filter(|_| !caller.is_admin()) {
            return self.catalog().profile_by_ref(cid, reference).ok_or_else(not_found);
        }
        let matches: Vec<u64> = self
            .catalog()
            .profile_refs
            .iter()
            .filter(|e| e.key().1 == reference)
            .map(|e| *e.value())
            .collect();
        match matches.as_slice() {
            [] => Err(not_found()),
            [id] => self.catalog().profiles.get(id).map(|p| p.clone()).ok_or_else(not_found),
            _ => Err(EngineError::Conflict(
                "client_profile_id is ambiguous: add client_code".into(),
            )),
        }
    }

    /// Appends a record carrying a code generated from `name` (`EML67BG6W1`); a code already
    /// taken is refused by the deterministic apply, and a new one is drawn.
    async fn append_with_code<T>(
        &self,
        name: &str,
        what: &str,
        make: impl Fn(String) -> Record,
        pick: impl Fn(Applied) -> Option<T>,
    ) -> Result<T> {
        for _ in 0..5 {
            match self.append(make(generate_code(name))).await {
                Ok(applied) => {
                    return pick(applied).ok_or_else(|| EngineError::Internal("unexpected apply result".into()));
                }
                Err(EngineError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(EngineError::Internal(format!("could not generate a unique {what}")))
    }

    /// A page of catalog objects the caller may see, oldest first, with the documents'
    /// total/active/inactive statistics under the given names.
    fn catalog_page<T, R>(
        caller: &Caller,
        map: &Map<u64, Arc<T>>,
        owner: impl Fn(&T) -> u64,
        active: impl Fn(&T) -> bool,
        names: [&str; 3],
        page: PageRequest,
        record: impl Fn(Arc<T>) -> Option<R>,
    ) -> Page<R> {
        let mut items: Vec<(u64, Arc<T>)> = map
            .iter()
            .filter(|e| Self::visible(caller, owner(e.value())))
            .map(|e| (*e.key(), e.value().clone()))
            .collect();
        items.sort_by_key(|(id, _)| *id);
        let total = items.len() as u64;
        let active = items.iter().filter(|(_, t)| active(t)).count() as u64;
        let records = paginate(items, page)
            .into_iter()
            .filter_map(|(_, t)| record(t))
            .collect();
        Page {
            page: page.page,
            total_count: total,
            statistics: vec![
                (names[0].into(), total),
                (names[1].into(), active),
                (names[2].into(), total - active),
            ],
            records,
        }
    }

    // ---- users ---------------------------------------------------------------------------

    /// Creates the `admin` user on an empty ledger. Returns the generated password when none
    /// was given (to be printed once).
    pub async fn bootstrap_admin(&self, password: Option<String>) -> Result<Option<String>> {
        if !self.catalog().users.is_empty() {
            return Ok(None);
        }
        let generated = password.is_none();
        let password = password.unwrap_or_else(|| random_code(20));
        let hash = hash_password(password.clone()).await?;
        self.append(Record::CreateUser(NewUser {
            username: "admin".into(),
            password_hash: hash,
            role: Role::Admin,
            client_id: None,
            created_at_ms: now_ms(),
        }))
        .await?;
        Ok(generated.then_some(password))
    }

    /// The user behind a token, as long as it still exists (deleted users' tokens stop working).
    pub fn user(&self, username: &str) -> Option<Arc<User>> {
        self.catalog().users.get(username).map(|u| u.clone())
    }

    /// Checks a password (argon2id, off the async threads). Unknown users take as long.
    pub async fn authenticate(&self, username: &str, password: &str) -> Option<Arc<User>> {
        let user = self.user(username);
        let hash = user
            .as_ref()
            .map(|u| u.data.password_hash.clone())
            .unwrap_or_else(|| DUMMY_HASH.clone());
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .unwrap_or(false);
        user.filter(|_| ok)
    }

    pub fn caller_for(&self, user: &User) -> Caller {
        Caller {
            username: user.data.username.clone(),
            role: user.data.role,
            client_id: user.data.client_id,
        }
    }

    pub async fn create_user(&self, caller: &Caller, input: UserInput) -> Result<(Arc<User>, Option<Arc<Client>>)> {
        Self::require_admin(caller)?;
        let mut problems = Vec::new();
        if input.username.len() < 3
            || input.username.len() > 64
            || !input
                .username
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
        {
            problems.push("username must be 3 to 64 letters, digits or . _ @ -".to_string());
        }
        if input.password.chars().count() < 8 || input.password.len() > 256 {
            problems.push("password must be 8 to 256 characters long".to_string());
        }
        let client = match (&input.role, &input.client_code) {
            (Role::Client, None) => {
                problems.push("client_code must be given for a CLIENT user".to_string());
                None
            }
            (_, Some(code)) => Some(self.client_for(caller, code)?),
            (Role::Admin, None) => None,
        };
        if !problems.is_empty() {
            return Err(EngineError::Invalid(problems));
        }
        if self.catalog().users.contains_key(&input.username) {
            return Err(EngineError::Conflict("username already exists".into()));
        }
        let hash = hash_password(input.password).await?;
        let applied = self
            .append(Record::CreateUser(NewUser {
                username: input.username,
                password_hash: hash,
                role: input.role,
                client_id: client.as_ref().map(|c| c.client_id),
                created_at_ms: now_ms(),
            }))
            .await?;
        match applied {
            Applied::User(u) => Ok((u, client)),
            _ => Err(EngineError::Internal("unexpected apply result".into())),
        }
    }

    pub fn list_users(&self, caller: &Caller, page: PageRequest) -> Result<Page<UserWithClient>> {
        Self::require_admin(caller)?;
        let mut users: Vec<Arc<User>> = self.catalog().users.iter().map(|u| u.clone()).collect();
        users.sort_by_key(|u| u.user_id);
        let total = users.len() as u64;
        let admins = users.iter().filter(|u| u.data.role == Role::Admin).count() as u64;
        let records = paginate(users, page)
            .into_iter()
            .map(|u| {
                let c = u
                    .data
                    .client_id
                    .and_then(|id| self.catalog().clients.get(&id).map(|c| c.clone()));
                (u, c)
            })
            .collect();
        Ok(Page {
            page: page.page,
            total_count: total,
            statistics: vec![
                ("Total Users".into(), total),
                ("Admin Users".into(), admins),
                ("Client Users".into(), total - admins),
            ],
            records,
        })
    }

    pub async fn delete_user(&self, caller: &Caller, username: &str) -> Result<()> {
        Self::require_admin(caller)?;
        if username == caller.username {
            return Err(EngineError::Conflict("You cannot delete your own user".into()));
        }
        if !self.catalog().users.contains_key(username) {
            return Err(EngineError::NotFound("User not found".into()));
        }
        self.append(Record::DeleteUser {
            username: username.to_owned(),
        })
        .await
        .map(|_| ())
    }

    // ---- clients -------------------------------------------------------------------------

    pub async fn create_client(&self, caller: &Caller, input: ClientInput) -> Result<Arc<Client>> {
        Self::require_admin(caller)?;
        let make = |client_code| {
            Record::CreateClient(NewClient {
                client_code,
                client_name: input.client_name.clone(),
                client_email: input.client_email.clone(),
                client_phone_number: input.client_phone_number.clone(),
                contact_person_name: input.contact_person_name.clone(),
                contact_person_email: input.contact_person_email.clone(),
                contact_person_msisdn: input.contact_person_msisdn.clone(),
                business_pin: input.business_pin.clone(),
                physical_address: input.physical_address.clone(),
                country: input.country.clone(),
                logo: input.logo.clone(),
                description: input.description.clone(),
                is_active: input.is_active,
                created_at_ms: now_ms(),
            })
        };
        let pick = |a| match a {
            Applied::Client(c) => Some(c),
            _ => None,
        };
        self.append_with_code(&input.client_name, "client_code", make, pick)
            .await
    }

    pub fn list_clients(&self, caller: &Caller, page: PageRequest) -> Page<Arc<Client>> {
        let names = ["Total Clients", "Active Clients", "Inactive Clients"];
        let catalog = self.catalog();
        Self::catalog_page(
            caller,
            &catalog.clients,
            |c| c.client_id,
            |c| c.data.is_active,
            names,
            page,
            Some,
        )
    }

    pub fn get_client(&self, caller: &Caller, code: &str) -> Result<Arc<Client>> {
        self.client_for(caller, code)
    }

    // ---- profiles ------------------------------------------------------------------------

    pub async fn create_profile(&self, caller: &Caller, input: ProfileInput) -> Result<(Arc<Profile>, Arc<Client>)> {
        let client = self.client_for(caller, &input.client_code)?;
        if input.client_profile_id.trim().is_empty() || input.client_profile_id.len() > 64 {
            return Err(EngineError::invalid(
                "client_profile_id must be 1 to 64 characters long",
            ));
        }
        if self
            .catalog()
            .profile_by_ref(client.client_id, &input.client_profile_id)
            .is_some()
        {
            return Err(EngineError::Conflict("client_profile_id already exists".into()));
        }
        let record = NewProfile {
            client_id: client.client_id,
            client_profile_id: input.client_profile_id,
            profile_name: input.profile_name,
            profile_type: input.profile_type,
            profile_email: input.profile_email,
            profile_msisdn: input.profile_msisdn,
            contact_person_name: input.contact_person_name,
            contact_person_email: input.contact_person_email,
            contact_person_msisdn: input.contact_person_msisdn,
            identification_number: input.identification_number,
            physical_address: input.physical_address,
            country: input.country,
            description: input.description,
            is_active: input.is_active,
            created_at_ms: now_ms(),
        };
        match self.append(Record::CreateProfile(record)).await? {
            Applied::Profile(p) => Ok((p, client)),
            _ => Err(EngineError::Internal("unexpected apply result".into())),
        }
    }

    pub async fn get_profile(
        &self,
        caller: &Caller,
        reference: &str,
        client_code: Option<&str>,
    ) -> Result<ProfileDetails> {
        let profile = self.profile_for(caller, reference, client_code)?;
        let client = self.client_by_id(profile.data.client_id)?;
        let mut metas: Vec<Arc<AccountMeta>> = self
            .catalog()
            .accounts
            .iter()
            .filter(|a| a.data.profile_id.map(|p| p.get()) == Some(profile.profile_id))
            .map(|a| a.clone())
            .collect();
        metas.sort_by_key(|m| m.account_id);
        let mut accounts = Vec::with_capacity(metas.len());
        for meta in metas {
            let live = self.live_view(meta.account_id).await?;
            accounts.push(AccountDetails {
                meta,
                live,
                client: client.clone(),
                profile: Some(profile.clone()),
            });
        }
        Ok(ProfileDetails {
            profile,
            client,
            accounts,
        })
    }

    pub async fn set_profile_active(
        &self,
        caller: &Caller,
        reference: &str,
        client_code: Option<&str>,
        active: bool,
    ) -> Result<Arc<Profile>> {
        let profile = self.profile_for(caller, reference, client_code)?;
        match self
            .append(Record::SetProfileActive {
                profile_id: profile.profile_id,
                active,
                at_ms: now_ms(),
            })
            .await?
        {
            Applied::Profile(p) => Ok(p),
            _ => Err(EngineError::Internal("unexpected apply result".into())),
        }
    }

    // ---- wallet types --------------------------------------------------------------------

    pub async fn create_account_type(
        &self,
        caller: &Caller,
        input: AccountTypeInput,
    ) -> Result<(Arc<AccountType>, Arc<Client>)> {
        let client = self.client_for(caller, &input.client_code)?;
        let make = |account_type_code| {
            Record::CreateAccountType(NewAccountType {
                client_id: client.client_id,
                account_type_code,
                account_type_name: input.account_type_name.clone(),
                account_type_description: input.account_type_description.clone(),
                is_active: input.is_active,
                created_at_ms: now_ms(),
            })
        };
        let pick = |a| match a {
            Applied::AccountType(t) => Some(t),
            _ => None,
        };
        let t = self
            .append_with_code(&input.account_type_name, "account_type_code", make, pick)
            .await?;
        Ok((t, client))
    }

    pub fn list_account_types(&self, caller: &Caller, page: PageRequest) -> Page<(Arc<AccountType>, Arc<Client>)> {
        let names = ["Total Account Types", "Active Account Types", "Inactive Account Types"];
        let with_client = |t: Arc<AccountType>| self.client_by_id(t.data.client_id).ok().map(|c| (t, c));
        let types = &self.catalog().account_types;
        Self::catalog_page(
            caller,
            types,
            |t| t.data.client_id,
            |t| t.data.is_active,
            names,
            page,
            with_client,
        )
    }

    // ---- wallets -------------------------------------------------------------------------

    async fn live_view(&self, account_id: u64) -> Result<AccountView> {
        match self.inner.state.accounts.peek(account_id)? {
            Ok(view) => Ok(view),
            Err(actor) => {
                let (tx, rx) = oneshot::channel();
                actor
                    .cast(AccountMsg::Read { reply: tx })
                    .map_err(|_| EngineError::Internal("account actor stopped".into()))?;
                await_reply(rx).await
            }
        }
    }

    async fn details(&self, meta: Arc<AccountMeta>) -> Result<AccountDetails> {
        let live = self.live_view(meta.account_id).await?;
        let client = self.client_by_id(meta.data.client_id)?;
        let profile = meta
            .data
            .profile_id
            .and_then(|id| self.catalog().profiles.get(&id.get()).map(|p| p.clone()));
        Ok(AccountDetails {
            meta,
            live,
            client,
            profile,
        })
    }

    pub async fn create_account(&self, caller: &Caller, input: AccountInput) -> Result<AccountDetails> {
        let (client, profile) = match &input.owner {
            AccountOwner::ClientCode(code) => (self.client_for(caller, code)?, None),
            AccountOwner::Profile {
                client_profile_id,
                client_code,
            } => {
                let p = self.profile_for(caller, client_profile_id, client_code.as_deref())?;
                (self.client_by_id(p.data.client_id)?, Some(p))
            }
        };
        let mut problems = Vec::new();
        let currency = Currency::parse(&input.currency);
        if currency.is_none() {
            problems.push("currency must be a valid ISO 4217 currency code".to_string());
        }
        if input.minimum_balance.is_sign_negative()
            || input.minimum_balance.scale() > money::SCALE
            || input.minimum_balance > money::max_amount()
        {
            problems.push("minimum_balance must be a non-negative amount with at most 4 decimal places".to_string());
        }
        if input.account_name.trim().is_empty() {
            problems.push("account_name should not be empty".to_string());
        }
        if !problems.is_empty() {
            return Err(EngineError::Invalid(problems));
        }
        match self
            .catalog()
            .account_type_active(client.client_id, &input.account_type_code)
        {
            None => return Err(EngineError::NotFound("Account type not found".into())),
            Some(false) => return Err(EngineError::Refused("Account type is not active".into())),
            Some(true) => {}
        }
        let record = NewAccount {
            client_id: client.client_id,
            profile_id: profile.as_ref().and_then(|p| std::num::NonZeroU64::new(p.profile_id)),
            account_type_code: input.account_type_code,
            account_name: input.account_name,
            currency: currency.expect("checked above"),
            minimum_balance: Money(money::to_scale(input.minimum_balance)),
            can_overdraw: input.can_overdraw,
            status: input.status,
            status_description: input.status_description.map(String::into_boxed_str),
            role: AccountRole::Wallet,
            number: None,
            facade: None,
            created_at_ms: now_ms(),
        };
        match self.append(Record::CreateAccount(record)).await? {
            Applied::Account(meta) => self.details(meta).await,
            _ => Err(EngineError::Internal("unexpected apply result".into())),
        }
    }

    pub async fn list_accounts(&self, caller: &Caller, page: PageRequest) -> Result<Page<AccountDetails>> {
        let mut metas: Vec<Arc<AccountMeta>> = self
            .catalog()
            .accounts
            .iter()
            .map(|a| a.clone())
            .filter(|a| Self::visible(caller, a.data.client_id))
            .collect();
        metas.sort_by_key(|a| a.account_id);
        let total = metas.len() as u64;
        let mut records = Vec::new();
        for meta in paginate(metas, page) {
            records.push(self.details(meta).await?);
        }
        Ok(Page {
            page: page.page,
            total_count: total,
            statistics: vec![("Total Accounts".into(), total)],
            records,
        })
    }

    pub async fn get_account(&self, caller: &Caller, number: &str) -> Result<AccountDetails> {
        let meta = self.account_for(caller, number)?;
        self.details(meta).await
    }

    async fn change_status(&self, meta: &AccountMeta, status: AccountStatus) -> Result<AccountView> {
        if meta.data.role != AccountRole::Wallet {
            return Err(EngineError::Refused(
                "The ledger's settlement and commission accounts cannot change state".into(),
            ));
        }
        let actor = self.inner.state.accounts.actor(meta.account_id)?;
        let (tx, rx) = oneshot::channel();
        actor
            .cast(AccountMsg::PrepareStatus { status, reply: tx })
            .map_err(|_| EngineError::Internal("account actor stopped".into()))?;
        await_reply(rx).await?.map_err(|r| {
            EngineError::Conflict(
                match r {
                    StatusRefusal::Closed => "Account is closed",
                    StatusRefusal::NonZeroBalance => "Account balance must be zero to close it",
                    StatusRefusal::PendingPostings => "Account has postings in progress",
                    StatusRefusal::Busy => "Another state change of this account is in progress",
                }
                .into(),
            )
        })?;
        let (tx, rx) = oneshot::channel();
        let entry = WalEntry::Status {
            account_id: meta.account_id,
            status,
            at_ms: now_ms(),
            actor: actor.clone(),
            reply: tx,
        };
        if self.inner.wal.append(entry).is_err() {
            let _ = actor.cast(AccountMsg::AbortStatus);
            return Err(unavailable(()));
        }
        await_reply(rx).await
    }

    pub async fn set_account_status(
        &self,
        caller: &Caller,
        number: &str,
        command: AccountCommand,
    ) -> Result<(Arc<AccountMeta>, AccountView)> {
        let meta = self.account_for(caller, number)?;
        let view = self.change_status(&meta, command.target()).await?;
        Ok((meta, view))
    }

    // ---- client services -----------------------------------------------------------------

    pub async fn create_service(&self, caller: &Caller, input: ServiceInput) -> Result<(Arc<Service>, Arc<Client>)> {
        let client = self.client_for(caller, &input.client_code)?;
        let mut problems = Vec::new();
        if input.service_code != "CUSTOM_SERVICE" {
            problems.push("service_code must be one of the following values: CUSTOM_SERVICE".to_string());
        }
        let amount_ok = |d: Decimal| !d.is_sign_negative() && d.scale() <= money::SCALE && d <= money::max_amount();
        if !amount_ok(input.minimum_transaction_amount) {
            problems
                .push("minimum_transaction_amount must be a non-negative amount with at most 4 decimal places".into());
        }
        if !amount_ok(input.maximum_transaction_amount) || input.maximum_transaction_amount.is_zero() {
            problems.push("maximum_transaction_amount must be a positive amount with at most 4 decimal places".into());
        }
        if input.minimum_transaction_amount > input.maximum_transaction_amount {
            problems.push("minimum_transaction_amount must not be greater than maximum_transaction_amount".into());
        }
        if input.has_transaction_fee && input.transaction_fee_type.is_none() && input.fee_tiers.is_empty() {
            problems.push("transaction_fee_type must be one of the following values: FIXED, PERCENTAGE".into());
        }
        if !amount_ok(input.transaction_fee) {
            problems.push("transaction_fee must be a non-negative amount with at most 4 decimal places".into());
        }
        if input.transaction_fee_type == Some(FeeType::Percentage) && input.transaction_fee > Decimal::ONE_HUNDRED {
            problems.push("transaction_fee must not exceed 100 for a PERCENTAGE fee".into());
        }
        for (i, t) in input.fee_tiers.iter().enumerate() {
            if !amount_ok(t.min_amount) || !amount_ok(t.max_amount) || t.min_amount > t.max_amount {
                problems.push(format!(
                    "transaction_fee_tiers.{i} must have 0 <= min_amount <= max_amount"
                ));
            }
            if !amount_ok(t.fee) || (t.fee_type == FeeType::Percentage && t.fee > Decimal::ONE_HUNDRED) {
                problems.push(format!(
                    "transaction_fee_tiers.{i}.transaction_fee must be a non-negative fee (at most 100 for PERCENTAGE)"
                ));
            }
        }
        if input.client_service_name.trim().is_empty() {
            problems.push("client_service_name should not be empty".into());
        }
        if !problems.is_empty() {
            return Err(EngineError::Invalid(problems));
        }
        let make = |client_service_code| {
            Record::CreateService(NewService {
                client_id: client.client_id,
                client_service_code,
                client_service_name: input.client_service_name.clone(),
                service_code: input.service_code.clone(),
                has_transaction_fee: input.has_transaction_fee,
                transaction_fee_type: input.transaction_fee_type,
                transaction_fee: Money(money::to_scale(input.transaction_fee)),
                fee_tiers: input
                    .fee_tiers
                    .iter()
                    .map(|t| FeeTier {
                        min_amount: Money(money::to_scale(t.min_amount)),
                        max_amount: Money(money::to_scale(t.max_amount)),
                        fee_type: t.fee_type,
                        fee: Money(money::to_scale(t.fee)),
                    })
                    .collect(),
                minimum_transaction_amount: Money(money::to_scale(input.minimum_transaction_amount)),
                maximum_transaction_amount: Money(money::to_scale(input.maximum_transaction_amount)),
                is_active: input.is_active,
                created_at_ms: now_ms(),
            })
        };
        let pick = |a| match a {
            Applied::Service(s) => Some(s),
            _ => None,
        };
        let service = self
            .append_with_code(&input.client_service_name, "client_service_code", make, pick)
            .await?;
        Ok((service, client))
    }

    pub fn list_services(&self, caller: &Caller, page: PageRequest) -> Page<(Arc<Service>, Arc<Client>)> {
        let with_client = |s: Arc<Service>| self.client_by_id(s.data.client_id).ok().map(|c| (s, c));
        let services = &self.catalog().services;
        Self::catalog_page(
            caller,
            services,
            |s| s.data.client_id,
            |s| s.data.is_active,
            ["Total", "Active", "Inactive"],
            page,
            with_client,
        )
    }

    // ---- postings ------------------------------------------------------------------------

    /// The settlement or commission account of a client in a currency, created on first use.
    async fn system_account(&self, client_id: u64, currency: Currency, role: AccountRole) -> Result<u64> {
        if let Some(id) = self.catalog().system_accounts.get(&(client_id, currency, role)) {
            return Ok(*id);
        }
        let (type_code, name) = match role {
            AccountRole::Settlement => ("SETTLEMENT_ACCOUNT", format!("Settlement {currency}")),
            _ => ("COMMISSION_ACCOUNT", format!("Commission {currency}")),
        };
        let record = NewAccount {
            client_id,
            profile_id: None,
            account_type_code: type_code.into(),
            account_name: name,
            currency,
            minimum_balance: Money(Decimal::new(0, money::SCALE)),
            // The settlement account is the outside world's side: it may go negative.
            can_overdraw: role == AccountRole::Settlement,
            status: AccountStatus::Active,
            status_description: Some("Created by the ledger".into()),
            role,
            number: None,
            facade: None,
            created_at_ms: now_ms(),
        };
        match self.append(Record::CreateAccount(record)).await? {
            Applied::Account(m) => Ok(m.account_id),
            _ => Err(EngineError::Internal("unexpected apply result".into())),
        }
    }

    fn wallet_for_posting(&self, caller: &Caller, number: &str, service: &Service) -> Result<Arc<AccountMeta>> {
        let meta = self.account_for(caller, number)?;
        if meta.data.client_id != service.data.client_id {
            return Err(EngineError::Refused(format!(
                "Account {number} does not belong to the client of the client service"
            )));
        }
        if let Some(pid) = meta.data.profile_id
            && self.catalog().profiles.get(&pid.get()).is_some_and(|p| !p.active)
        {
            return Err(EngineError::Refused(format!(
                "The profile of account {number} is not active"
            )));
        }
        Ok(meta)
    }

    /// CREDIT, DEBIT or transfer. Exactly once per `source_transaction_id` within the client
    /// that owns the service: a replay answers the original result.
    pub async fn post(&self, caller: &Caller, input: PostingInput) -> Result<PostingOutcome> {
        match self.judge(caller, &input).await? {
            Judged::Replay(outcome) => Ok(*outcome),
            Judged::New {
                record,
                fingerprint,
                names,
            } => {
                let settle = match self.claim(idempotency_key(&record), fingerprint).await? {
                    Ok(settle) => settle,
                    Err(replay) => return Ok(*replay),
                };
                self.run_single(Draft::new(record, Some(settle), names)).await
            }
        }
    }

    /// Runs one posting (its key claimed) through a coordinator's intake, in a unit with the
    /// other single postings that arrive meanwhile, and answers it. A posting deferred there
    /// (its answer could have depended on a neighbour's) runs again in a unit of its own.
    async fn run_single(&self, mut draft: Draft) -> Result<PostingOutcome> {
        if let Err(e) = self.activate(&draft.record, &mut draft.names) {
            self.release_claim(&draft.record);
            return Err(e);
        }
        let Draft { record, settle, names } = draft;
        let (tx, rx) = oneshot::channel();
        let single = SinglePosting {
            draft: PostingDraft { record, settle },
            reply: tx,
        };
        let coordinator = self.next_coordinator();
        if let Err(single) = coordinator.intake.submit(&coordinator.actor, single) {
            self.release_claim(&single.draft.record);
            return Err(EngineError::Unavailable("the ledger is shutting down".into()));
        }
        match await_reply(rx).await? {
            Ok(committed) => self.outcome_from(committed, &names).map(|o| *o),
            Err(PostingFailure::Deferred { record, settle }) => {
                let ran = self
                    .run_unit(vec![Draft::new(*record, settle, names)], false, false)
                    .await?;
                self.alone(ran)
            }
            Err(failure) => Err(self.failure_error(failure, &names)),
        }
    }

    /// The coordinators take units in turn.
    fn next_coordinator(&self) -> &Coordinator {
        let coordinators = &self.inner.coordinators;
        &coordinators[self.inner.next_coordinator.fetch_add(1, Ordering::Relaxed) % coordinators.len()]
    }

    /// Gives every leg's account its actor, before a coordinator sends it Prepare, and finds
    /// the accounts' names if judging did not (a reversal).
    fn activate(&self, record: &PostingRecord, names: &mut Names) -> Result<()> {
        let mut lookup = Ok(());
        for l in &record.legs {
            if let Err(e) = self.inner.state.accounts.activate(l.account_id) {
                lookup = Err(e);
            }
        }
        if names.accounts.len() != record.legs.len() {
            names.accounts = record
                .legs
                .iter()
                .map(|l| self.catalog().accounts.get(&l.account_id).map(|m| m.clone()))
                .collect();
        }
        lookup
    }

    /// Many postings in one request. Each is judged and answered on its own, as by `post`,
    /// but they travel together: one coordinator unit, one WAL record, one fsync. `atomic`:
    /// all are applied or none (a posting that fails fails the batch; the others answer that
    /// they were not applied).
    pub async fn post_batch(
        &self,
        caller: &Caller,
        inputs: Vec<PostingInput>,
        atomic: bool,
    ) -> Vec<Result<Box<PostingOutcome>>> {
        let n = inputs.len();
        let mut results: Vec<Option<Result<Box<PostingOutcome>>>> = (0..n).map(|_| None).collect();
        let mut drafts = Vec::with_capacity(n);
        let mut draft_index = Vec::with_capacity(n);
        let mut repeated = Vec::new();
        // Borrowed from the inputs: the keys themselves move on with the records.
        let mut keys = ahash::HashSet::with_capacity_and_hasher(n, ahash::RandomState::new());
        // Judge everything first, then claim the keys in key order with nothing else awaited
        // in between: two batches naming the same keys in different orders cannot deadlock.
        let mut judged = Vec::with_capacity(n);
        for (i, input) in inputs.iter().enumerate() {
            match self.judge(caller, input).await {
                Err(e) => results[i] = Some(Err(e)),
                Ok(Judged::Replay(o)) => results[i] = Some(Ok(o)),
                Ok(Judged::New {
                    record,
                    fingerprint,
                    names,
                }) => {
                    if !keys.insert((record.client_id, input.source_transaction_id.as_str())) {
                        // The same key twice in one batch: the later one is judged after the
                        // first is decided (a replay or a conflict), or refused if atomic.
                        repeated.push(i);
                        continue;
                    }
                    judged.push((i, Draft::new(record, None, names), fingerprint));
                }
            }
        }
        let mut order: Vec<usize> = (0..judged.len()).collect();
        order.sort_by_key(|&j| idempotency_key(&judged[j].1.record));
        let mut settles: Vec<Option<Settle>> = (0..judged.len()).map(|_| None).collect();
        for j in order {
            let (i, draft, fingerprint) = &judged[j];
            match self.claim(idempotency_key(&draft.record), *fingerprint).await {
                Err(e) => results[*i] = Some(Err(e)),
                Ok(Err(replay)) => results[*i] = Some(Ok(replay)),
                Ok(Ok(settle)) => settles[j] = Some(settle),
            }
        }
        for ((i, mut draft, _), settle) in judged.into_iter().zip(settles) {
            if let Some(settle) = settle {
                draft.settle = Some(settle);
                drafts.push(draft);
                draft_index.push(i);
            }
        }
        if atomic {
            for &i in &repeated {
                results[i] = Some(Err(EngineError::invalid(
                    "source_transaction_id is repeated within the batch",
                )));
            }
            if results.iter().any(|r| matches!(r, Some(Err(_)))) {
                for draft in &drafts {
                    self.release_claim(&draft.record);
                }
                drop(drafts);
                return all_or_nothing(
                    results
                        .into_iter()
                        .map(|r| r.unwrap_or_else(|| Err(not_applied())))
                        .collect(),
                );
            }
        }
        // A batch means what its postings sent one after another would mean. An atomic unit
        // lets debits spend the unit's earlier credits (see the coordinator). Otherwise the
        // whole batch runs as one unit first, and the coordinator gives back the postings
        // whose answer could depend on how earlier ones end. Those run after it in waves cut
        // so that no posting debits an account credited earlier in its own wave: a batch built
        // to defer at every step would otherwise be prepared again and again, once per
        // posting, and this way no posting is prepared more than twice.
        let mut later = Vec::new();
        let mut later_slots = Vec::new();
        match self.run_unit(drafts, atomic, !atomic).await {
            Ok(ran) => {
                for (slot, r) in draft_index.into_iter().zip(ran) {
                    match r {
                        Ran::Answered(o) => results[slot] = Some(o),
                        Ran::Deferred(draft) => {
                            later.push(*draft);
                            later_slots.push(slot);
                        }
                    }
                }
            }
            Err(e) => {
                for slot in draft_index {
                    results[slot] = Some(Err(e.clone()));
                }
            }
        }
        let mut later_slots = later_slots.into_iter();
        let mut later_iter = later.into_iter();
        for size in wave_sizes(later_iter.as_slice()) {
            let wave: Vec<_> = later_iter.by_ref().take(size).collect();
            let slots: Vec<usize> = later_slots.by_ref().take(size).collect();
            let answers = match self.run_unit(wave, false, false).await {
                Ok(ran) => ran.into_iter().map(|r| self.answered(r)).collect(),
                Err(e) => vec![Err(e); slots.len()],
            };
            for (slot, answer) in slots.into_iter().zip(answers) {
                results[slot] = Some(answer);
            }
        }
        if !atomic {
            for i in repeated {
                results[i] = Some(self.post(caller, inputs[i].clone()).await.map(Box::new));
            }
        }
        let results = results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(not_applied())))
            .collect();
        if atomic { all_or_nothing(results) } else { results }
    }

    /// Judges a posting request against the catalog and builds its record (no claim yet).
    async fn judge(&self, caller: &Caller, input: &PostingInput) -> Result<Judged> {
        let service = self
            .catalog()
            .service_by_code(&input.client_service_code)
            .filter(|s| Self::visible(caller, s.data.client_id))
            .ok_or_else(|| EngineError::NotFound("Client service not found".into()))?;
        let mut problems = Vec::new();
        if input.amount <= Decimal::ZERO || input.amount.scale() > money::SCALE || input.amount > money::max_amount() {
            problems.push("transaction_amount must be a positive amount with at most 4 decimal places".to_string());
        }
        if input.source_transaction_id.trim().is_empty() || input.source_transaction_id.len() > 128 {
            problems.push("source_transaction_id must be 1 to 128 characters long".to_string());
        }
        if let PostingInputKind::Transfer {
            source_account_number: s,
            destination_account_number: d,
        } = &input.kind
            && s == d
        {
            problems.push("destination_account_number must differ from source_account_number".to_string());
        }
        if !problems.is_empty() {
            return Err(EngineError::Invalid(problems));
        }
        let amount = money::to_scale(input.amount);
        let fingerprint = fingerprint(input, amount);
        let key = (service.data.client_id, input.source_transaction_id.as_str());
        // A replay is answered before any rule is judged again: the original stands.
        if let Some(outcome) = self.replay_if_known(key, fingerprint).await? {
            return Ok(Judged::Replay(outcome));
        }
        if !service.data.is_active {
            return Err(EngineError::Refused("Client service is not active".into()));
        }
        // v1's `is_active: 0` client is an inactive client profile (its document's words), and
        // DECISIONS refuses postings for an inactive profile.
        if self
            .catalog()
            .clients
            .get(&service.data.client_id)
            .is_some_and(|c| !c.data.is_active)
        {
            return Err(EngineError::Refused("Client is not active".into()));
        }
        let (min, max) = (
            service.data.minimum_transaction_amount.0,
            service.data.maximum_transaction_amount.0,
        );
        if amount < min || amount > max {
            return Err(EngineError::Refused(format!(
                "transaction_amount must be between {} and {} for this client service",
                money::format_money(min),
                money::format_money(max)
            )));
        }
        let fee = fee_for(&service.data, amount);
        let client_id = service.data.client_id;
        let service_id = service.service_id;
        let (kind, wallet_legs) = match &input.kind {
            PostingInputKind::Credit { account_number } => (
                PostingKind::Credit,
                vec![self.wallet_for_posting(caller, account_number, &service)?],
            ),
            PostingInputKind::Debit { account_number } => (
                PostingKind::Debit,
                vec![self.wallet_for_posting(caller, account_number, &service)?],
            ),
            PostingInputKind::Transfer {
                source_account_number,
                destination_account_number,
            } => {
                let s = self.wallet_for_posting(caller, source_account_number, &service)?;
                let d = self.wallet_for_posting(caller, destination_account_number, &service)?;
                if s.data.currency != d.data.currency {
                    return Err(EngineError::Refused(
                        "Both accounts of a transfer must have the same currency".into(),
                    ));
                }
                (PostingKind::Transfer, vec![s, d])
            }
        };
        // Both legs of a CREDIT or DEBIT of the settlement account would be on it: a posting
        // that moves nothing yet reads as a credit or a debit in its history.
        if !matches!(kind, PostingKind::Transfer) && wallet_legs[0].data.role == AccountRole::Settlement {
            return Err(EngineError::Refused(
                "The settlement account is the other side of every CREDIT and DEBIT: it cannot be credited or debited itself".into(),
            ));
        }
        // DECISIONS: a fee larger than the amount is refused; a CREDIT whose fee is the whole
        // amount posts nothing to the wallet and the fee to the commission account.
        if fee > amount {
            return Err(EngineError::Refused(
                "The transaction fee must not be larger than the transaction amount".into(),
            ));
        }
        let currency = wallet_legs[0].data.currency;
        let commission = if fee.is_zero() {
            None
        } else {
            Some(
                self.system_account(client_id, currency, AccountRole::Commission)
                    .await?,
            )
        };
        let leg = |account_id: u64, delta: Decimal, role: LegRole, other_party: u64| LegRecord {
            account_id,
            delta: Money(delta),
            role,
            other_party,
        };
        let mut legs = match kind {
            PostingKind::Credit => {
                let settlement = self
                    .system_account(client_id, currency, AccountRole::Settlement)
                    .await?;
                let w = wallet_legs[0].account_id;
                vec![
                    leg(settlement, -amount, LegRole::Source, w),
                    leg(w, amount - fee, LegRole::Destination, settlement),
                ]
            }
            PostingKind::Debit => {
                let settlement = self
                    .system_account(client_id, currency, AccountRole::Settlement)
                    .await?;
                let w = wallet_legs[0].account_id;
                vec![
                    leg(w, -(amount + fee), LegRole::Source, settlement),
                    leg(settlement, amount, LegRole::Destination, w),
                ]
            }
            _ => {
                let (s, d) = (wallet_legs[0].account_id, wallet_legs[1].account_id);
                vec![
                    leg(s, -(amount + fee), LegRole::Source, d),
                    leg(d, amount, LegRole::Destination, s),
                ]
            }
        };
        if let Some(c) = commission {
            let payer = wallet_legs[0].account_id;
            legs.push(leg(c, fee, LegRole::Fee, payer));
        }
        let record = PostingRecord {
            kind,
            client_id,
            service_id,
            currency,
            first_txn_id: 0,
            posted_at_ms: 0,
            amount: Money(amount),
            legs,
            transaction_source: input.transaction_source.clone(),
            source_transaction_id: input.source_transaction_id.clone(),
            source_transaction_data: input.source_transaction_data.clone(),
            narration: input.narration.clone(),
            transaction_date_ms: input.transaction_date_ms,
            fingerprint,
        };
        // The answer names these accounts: keep what judging found (system accounts by id).
        let accounts = record
            .legs
            .iter()
            .map(|l| match wallet_legs.iter().find(|m| m.account_id == l.account_id) {
                Some(m) => Some(m.clone()),
                None => self.catalog().accounts.get(&l.account_id).map(|m| m.clone()),
            })
            .collect();
        Ok(Judged::New {
            record,
            fingerprint,
            names: Names {
                service: Some(service),
                accounts,
            },
        })
    }

    /// Claims an idempotency key; a request that finds it claimed waits for the first to be
    /// decided. `Ok(Err(outcome))`: the key was used by this very request already (a replay).
    async fn claim(
        &self,
        key: (u64, &str),
        fingerprint: u64,
    ) -> Result<std::result::Result<Settle, Box<PostingOutcome>>> {
        loop {
            // The owned key built here is the map's copy of it: the only one a claim makes.
            let existing = match self.inner.state.idempotency.entry((key.0, key.1.to_owned())) {
                dashmap::Entry::Vacant(v) => {
                    let (settle, signal) = ClaimSignal::claim();
                    v.insert(IdempotencyEntry::InFlight(signal));
                    return Ok(Ok(settle));
                }
                dashmap::Entry::Occupied(o) => o.get().clone(),
            };
            match existing {
                IdempotencyEntry::InFlight(waiter) => {
                    if waiter.settled(REPLY_TIMEOUT).await {
                        // Every normal path removes the claim or marks it done before letting
                        // go: one still in flight now was abandoned (its request was dropped
                        // before it reached a coordinator).
                        self.inner.state.idempotency.remove_if(
                            &key as &dyn IdempotencyKey,
                            |_, v| matches!(v, IdempotencyEntry::InFlight(s) if Arc::ptr_eq(s, &waiter)),
                        );
                    }
                    tokio::task::yield_now().await;
                }
                IdempotencyEntry::Done { .. } => {
                    if let Some(outcome) = self.replay_if_known(key, fingerprint).await? {
                        return Ok(Err(outcome));
                    }
                }
            }
        }
    }

    /// The answer of an already-posted request, or 409 if its key was used for another.
    async fn replay_if_known(&self, key: (u64, &str), fingerprint: u64) -> Result<Option<Box<PostingOutcome>>> {
        let first = match self
            .inner
            .state
            .idempotency
            .get(&key as &dyn IdempotencyKey)
            .map(|e| e.clone())
        {
            Some(IdempotencyEntry::Done {
                fingerprint: f,
                first_txn_id,
            }) => {
                if f != fingerprint {
                    return Err(EngineError::Conflict(
                        "source_transaction_id was already used for a different transaction".into(),
                    ));
                }
                first_txn_id
            }
            _ => return Ok(None),
        };
        let mut outcome = self.outcome_of(first).await?;
        outcome.replayed = true;
        Ok(Some(outcome))
    }

    /// Runs postings (their keys claimed) through a coordinator and answers each.
    async fn run_unit(&self, drafts: Vec<Draft>, atomic: bool, defer: bool) -> Result<Vec<Ran>> {
        let mut postings = Vec::with_capacity(drafts.len());
        let mut names = Vec::with_capacity(drafts.len());
        let mut lookup_error = None;
        for Draft {
            record,
            settle,
            names: mut n,
        } in drafts
        {
            if let Err(e) = self.activate(&record, &mut n) {
                lookup_error = Some(e);
            }
            names.push(n);
            postings.push(PostingDraft { record, settle });
        }
        if let Some(e) = lookup_error {
            for p in &postings {
                self.release_claim(&p.record);
            }
            return Err(e);
        }
        let (tx, rx) = oneshot::channel();
        let draft = Box::new(UnitDraft {
            postings,
            atomic,
            defer,
        });
        if let Err(e) = self
            .next_coordinator()
            .actor
            .cast(CoordinatorMsg::Submit { draft, reply: tx })
        {
            if let ractor::MessagingErr::SendErr(CoordinatorMsg::Submit { draft, .. }) = e {
                for p in &draft.postings {
                    self.release_claim(&p.record);
                }
            }
            return Err(EngineError::Unavailable("the ledger is shutting down".into()));
        }
        let results = await_reply(rx).await?;
        Ok(results
            .into_iter()
            .zip(names)
            .map(|(r, names)| match r {
                Ok(committed) => Ran::Answered(self.outcome_from(committed, &names)),
                Err(PostingFailure::Deferred { record, settle }) => {
                    Ran::Deferred(Box::new(Draft::new(*record, settle, names)))
                }
                Err(failure) => Ran::Answered(Err(self.failure_error(failure, &names))),
            })
            .collect())
    }

    /// The answer of a posting from a unit that may not defer (a single posting, a wave).
    fn answered(&self, ran: Ran) -> Result<Box<PostingOutcome>> {
        match ran {
            Ran::Answered(outcome) => outcome,
            Ran::Deferred(draft) => {
                self.release_claim(&draft.record);
                Err(EngineError::Internal(
                    "a posting was deferred by a unit that may not defer".into(),
                ))
            }
        }
    }

    /// The answer of a unit of one posting.
    fn alone(&self, mut ran: Vec<Ran>) -> Result<PostingOutcome> {
        match ran.pop() {
            Some(r) => self.answered(r).map(|o| *o),
            None => Err(EngineError::Internal("no result".into())),
        }
    }

    fn release_claim(&self, record: &PostingRecord) {
        match record.kind {
            PostingKind::Reversal { original } => {
                self.inner.state.reversals.remove_if(&original, |_, v| *v == 0);
            }
            _ => {
                self.inner
                    .state
                    .idempotency
                    .remove_if(&idempotency_key(record) as &dyn IdempotencyKey, |_, v| {
                        matches!(v, IdempotencyEntry::InFlight(_))
                    });
            }
        }
    }

    fn failure_error(&self, failure: PostingFailure, names: &Names) -> EngineError {
        match failure {
            PostingFailure::Unavailable(m) => EngineError::Unavailable(m),
            PostingFailure::Linked => not_applied(),
            // run_unit gives deferred postings back rather than answering them.
            PostingFailure::Deferred { .. } => EngineError::Internal("a deferred posting was answered".into()),
            PostingFailure::Refused { leg, refusal } => {
                let number = names
                    .accounts
                    .get(leg)
                    .and_then(|m| m.as_ref().map(|m| m.account_number.clone()))
                    .unwrap_or_default();
                EngineError::Refused(match refusal {
                    Refusal::InsufficientFunds => format!("Insufficient funds in account {number}"),
                    Refusal::NotDebitable(s) => format!(
                        "Account {number} is {}: only ACTIVE accounts can be debited",
                        s.as_str()
                    ),
                    Refusal::NotCreditable(s) => {
                        format!(
                            "Account {number} is {}: only ACTIVE or DORMANT accounts can be credited",
                            s.as_str()
                        )
                    }
                })
            }
        }
    }

    /// Reverses the posting that leg `txn_id` belongs to: its legs negated, fees included, once.
    pub async fn reverse(&self, caller: &Caller, txn_id: u64) -> Result<PostingOutcome> {
        let entry = self.tx_entry(caller, txn_id)?;
        let original = self.read_posting(entry.loc, txn_id)?;
        if original.kind.is_reversal() {
            return Err(EngineError::Refused("A reversal cannot be reversed".into()));
        }
        for l in &original.legs {
            let meta = self.catalog().accounts.get(&l.account_id).map(|m| m.clone());
            if let Some(pid) = meta.and_then(|m| m.data.profile_id)
                && self.catalog().profiles.get(&pid.get()).is_some_and(|p| !p.active)
            {
                return Err(EngineError::Refused(
                    "The profile of an account of this transaction is not active".into(),
                ));
            }
        }
        let original_first = original.first_txn_id;
        match self.inner.state.reversals.entry(original_first) {
            dashmap::Entry::Occupied(o) => {
                return Err(EngineError::Conflict(if *o.get() == 0 {
                    "A reversal of this transaction is in progress".into()
                } else {
                    "Transaction already reversed".into()
                }));
            }
            dashmap::Entry::Vacant(v) => {
                v.insert(0);
            }
        }
        let legs = original
            .legs
            .iter()
            .map(|l| LegRecord {
                account_id: l.account_id,
                delta: Money(money::negate(l.delta.0)),
                role: match l.role {
                    LegRole::Source => LegRole::Destination,
                    LegRole::Destination => LegRole::Source,
                    LegRole::Fee => LegRole::Fee,
                },
                other_party: l.other_party,
            })
            .collect();
        let record = PostingRecord {
            kind: PostingKind::Reversal {
                original: original.first_txn_id,
            },
            first_txn_id: 0,
            posted_at_ms: 0,
            legs,
            transaction_date_ms: None,
            fingerprint: 0,
            ..original
        };
        let ran = self
            .run_unit(vec![Draft::new(record, None, Names::default())], false, false)
            .await?;
        self.alone(ran)
    }

    fn tx_entry(&self, caller: &Caller, txn_id: u64) -> Result<TxEntry> {
        self.inner
            .state
            .txindex
            .get(txn_id)
            .filter(|e| Self::visible(caller, e.client_id))
            .ok_or_else(|| EngineError::NotFound("Transaction not found".into()))
    }

    /// The posting holding leg `txn_id`, read back from the WAL (the log is the history).
    fn read_posting(&self, loc: u64, txn_id: u64) -> Result<PostingRecord> {
        self.read_posting_via(loc, txn_id, &mut None)
    }

    /// As `read_posting`, keeping the record read in `last` for the next leg: a wallet's
    /// consecutive legs are often in one batch record, which would otherwise be read from its
    /// segment and checked whole again for each.
    fn read_posting_via(&self, loc: u64, txn_id: u64, last: &mut Option<LastRecord>) -> Result<PostingRecord> {
        let last = match last {
            Some(l) if l.loc == loc => l,
            _ => {
                let (_, payload) = self
                    .inner
                    .reader
                    .read(RecordLoc::from_u64(loc))
                    .map_err(|e| EngineError::Corruption(e.to_string()))?;
                last.insert(LastRecord {
                    loc,
                    payload,
                    place: codec::BatchPlace::default(),
                })
            }
        };
        match codec::posting_holding(&last.payload, txn_id, &mut last.place) {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(EngineError::Corruption(format!(
                "the index of leg {txn_id} points at a record that does not hold it"
            ))),
            Err(e) => Err(EngineError::Corruption(format!("posting record does not decode: {e}"))),
        }
    }

    /// Balances right after each leg of a posting, asked of the legs' accounts.
    async fn balances_of(&self, record: &PostingRecord) -> Result<Vec<(Decimal, Decimal)>> {
        let mut out = Vec::with_capacity(record.legs.len());
        for (i, l) in record.legs.iter().enumerate() {
            let txn = record.first_txn_id + i as u64;
            let actor = self.inner.state.accounts.actor(l.account_id)?;
            let (tx, rx) = oneshot::channel();
            actor
                .cast(AccountMsg::BalancesAfter {
                    txn_ids: vec![txn],
                    reply: tx,
                })
                .map_err(|_| EngineError::Internal("account actor stopped".into()))?;
            let after = await_reply(rx)
                .await?
                .first()
                .copied()
                .flatten()
                .ok_or_else(|| EngineError::Internal(format!("leg {txn} missing from its account")))?;
            out.push((after - l.delta.0, after));
        }
        Ok(out)
    }

    async fn outcome_of(&self, first_txn_id: u64) -> Result<Box<PostingOutcome>> {
        let entry = self
            .inner
            .state
            .txindex
            .get(first_txn_id)
            .ok_or_else(|| EngineError::Internal("indexed posting missing".into()))?;
        let record = self.read_posting(entry.loc, first_txn_id)?;
        let balances = self.balances_of(&record).await?;
        self.outcome_from(CommittedPosting { record, balances }, &Names::default())
    }

    fn account_number(&self, id: u64) -> String {
        self.catalog()
            .accounts
            .get(&id)
            .map(|m| m.account_number.clone())
            .unwrap_or_default()
    }

    fn service_code(&self, service_id: u64) -> String {
        self.catalog()
            .services
            .get(&service_id)
            .map(|s| s.data.client_service_code.clone())
            .unwrap_or_default()
    }

    fn leg_view(&self, record: &PostingRecord, i: usize, balances: (Decimal, Decimal)) -> TransactionView {
        let code = self.service_code(record.service_id);
        let names = leg_names(record, i, code, |id| self.account_number(id));
        leg_view(record, i, balances, names, RecordText::cloned(record))
    }

    /// A posting's answer. Built for every posting, so the names judging found are used
    /// rather than looked up again (the catalog's entries are cold by the time a batch is
    /// answered), and the last leg takes the record's strings instead of copying them.
    fn outcome_from(&self, c: CommittedPosting, names: &Names) -> Result<Box<PostingOutcome>> {
        let CommittedPosting { mut record, balances } = c;
        let find = |role: LegRole| record.legs.iter().position(|l| l.role == role);
        let (s, d) = match (find(LegRole::Source), find(LegRole::Destination)) {
            (Some(s), Some(d)) => (s, d),
            _ => {
                return Err(EngineError::Internal(
                    "posting without source or destination leg".into(),
                ));
            }
        };
        let f = find(LegRole::Fee);
        let service = match &names.service {
            Some(s) if s.service_id == record.service_id => s.data.client_service_code.clone(),
            _ => self.service_code(record.service_id),
        };
        // A leg's other party is another leg's account: both come from the same names.
        let number = |id: u64| match names.accounts.iter().flatten().find(|m| m.account_id == id) {
            Some(m) => m.account_number.clone(),
            None => self.account_number(id),
        };
        let names = |i: usize, code: String| leg_names(&record, i, code, number);
        let fee = f.map(|f| {
            let n = names(f, service.clone());
            leg_view(&record, f, balances[f], n, RecordText::cloned(&record))
        });
        let n = names(s, service.clone());
        let source = leg_view(&record, s, balances[s], n, RecordText::cloned(&record));
        let n = names(d, service);
        let text = RecordText::taken(&mut record);
        let destination = leg_view(&record, d, balances[d], n, text);
        Ok(Box::new(PostingOutcome {
            kind: record.kind,
            source,
            destination,
            fee,
            replayed: false,
        }))
    }

    pub async fn get_transaction(&self, caller: &Caller, txn_id: u64) -> Result<TransactionView> {
        let entry = self.tx_entry(caller, txn_id)?;
        let record = self.read_posting(entry.loc, txn_id)?;
        let i = entry.leg as usize;
        let after = self.balance_after(record.legs[i].account_id, txn_id).await?;
        Ok(self.leg_view(&record, i, (after - record.legs[i].delta.0, after)))
    }

    async fn balance_after(&self, account_id: u64, txn_id: u64) -> Result<Decimal> {
        let actor = self.inner.state.accounts.actor(account_id)?;
        let (tx, rx) = oneshot::channel();
        actor
            .cast(AccountMsg::BalancesAfter {
                txn_ids: vec![txn_id],
                reply: tx,
            })
            .map_err(|_| EngineError::Internal("account actor stopped".into()))?;
        await_reply(rx)
            .await?
            .first()
            .copied()
            .flatten()
            .ok_or_else(|| EngineError::Internal(format!("leg {txn_id} missing from its account")))
    }

    /// The transaction id range `[from, to]` of postings made between the two times.
    fn txn_range(&self, start_ms: Option<i64>, end_ms: Option<i64>) -> (u64, u64) {
        let idx = &self.inner.state.txindex;
        let from = start_ms.map_or(1, |s| idx.first_at_or_after(s));
        let to = end_ms.map_or(idx.len(), |e| idx.first_at_or_after(e.saturating_add(1)) - 1);
        (from, to)
    }

    /// Legs matching the filter, newest first.
    pub async fn list_transactions(
        &self,
        caller: &Caller,
        filter: TransactionFilter,
        page: PageRequest,
    ) -> Result<Page<TransactionView>> {
        let client_filter = match &filter.client_code {
            Some(code) => Some(self.client_for(caller, code)?.client_id),
            None => caller.client_id.filter(|_| !caller.is_admin()),
        };
        let (from, to) = self.txn_range(filter.start_ms, filter.end_ms);
        let idx = &self.inner.state.txindex;
        let wanted_type = filter.transaction_type.map(|t| t == "CREDIT");
        let mut ids: Vec<u64> = if let Some(number) = &filter.account_number {
            let meta = self.account_for(caller, number)?;
            if client_filter.is_some_and(|c| c != meta.data.client_id) {
                Vec::new()
            } else {
                let actor = self.inner.state.accounts.actor(meta.account_id)?;
                let (tx, rx) = oneshot::channel();
                actor
                    .cast(AccountMsg::History { from, to, reply: tx })
                    .map_err(|_| EngineError::Internal("account actor stopped".into()))?;
                let (history, _) = await_reply(rx).await?;
                history.iter().map(|h| h.txn_id).rev().collect()
            }
        } else if let Some(sti) = &filter.source_transaction_id {
            let mut firsts: Vec<u64> = self
                .inner
                .state
                .idempotency
                .iter()
                .filter(|e| e.key().1 == *sti && client_filter.is_none_or(|c| c == e.key().0))
                .filter_map(|e| match e.value() {
                    IdempotencyEntry::Done { first_txn_id, .. } => Some(*first_txn_id),
                    _ => None,
                })
                .collect();
            let reversals: Vec<u64> = firsts
                .iter()
                .filter_map(|f| self.inner.state.reversals.get(f).map(|r| *r).filter(|r| *r != 0))
                .collect();
            firsts.extend(reversals);
            let mut ids = Vec::new();
            for first in firsts {
                let mut t = first;
                while let Some(e) = idx.get(t) {
                    if t != first && e.leg == 0 {
                        break;
                    }
                    if Self::visible(caller, e.client_id) && (from..=to).contains(&t) {
                        ids.push(t);
                    }
                    t += 1;
                }
            }
            ids.sort_unstable_by(|a, b| b.cmp(a));
            ids
        } else if let Some(c) = client_filter {
            // One client's legs, newest first, from its own list (ascending ids).
            let legs = self.inner.state.client_legs.get(&c).map(|l| l.clone());
            let mut ids = Vec::new();
            if let Some(legs) = legs {
                for i in (0..legs.count()).rev() {
                    match legs.get(i) {
                        Some(&t) if t < from => break,
                        Some(&t) if t <= to => ids.push(t),
                        _ => {}
                    }
                }
            }
            ids
        } else {
            (from..=to).rev().filter(|t| idx.get(*t).is_some()).collect()
        };
        if let Some(credit) = wanted_type {
            ids.retain(|t| idx.get(*t).is_some_and(|e| e.is_credit == credit));
        }
        let total = ids.len() as u64;
        let credits = ids.iter().filter(|t| idx.get(**t).is_some_and(|e| e.is_credit)).count() as u64;
        let mut records = Vec::new();
        for t in paginate(ids, page) {
            records.push(self.get_transaction(caller, t).await?);
        }
        Ok(Page {
            page: page.page,
            total_count: total,
            statistics: vec![
                ("Total Transactions".into(), total),
                ("Credits".into(), credits),
                ("Debits".into(), total - credits),
            ],
            records,
        })
    }

    /// Opening balance, every leg in the period with its running balance, closing balance.
    pub async fn statement(&self, caller: &Caller, number: &str, start_ms: i64, end_ms: i64) -> Result<Statement> {
        if start_ms > end_ms {
            return Err(EngineError::invalid("start_date must not be after end_date"));
        }
        let meta = self.account_for(caller, number)?;
        let account = self.details(meta.clone()).await?;
        let (from, to) = self.txn_range(Some(start_ms), Some(end_ms));
        let actor = self.inner.state.accounts.actor(meta.account_id)?;
        let (tx, rx) = oneshot::channel();
        actor
            .cast(AccountMsg::History { from, to, reply: tx })
            .map_err(|_| EngineError::Internal("account actor stopped".into()))?;
        let (history, _) = await_reply(rx).await?;
        if history.is_empty() {
            return Err(EngineError::NotFound("No transactions within period".into()));
        }
        let mut rows = Vec::with_capacity(history.len());
        let mut last_record = None;
        for h in &history {
            let e = self
                .inner
                .state
                .txindex
                .get(h.txn_id)
                .ok_or_else(|| EngineError::Internal("indexed leg missing".into()))?;
            let record = self.read_posting_via(e.loc, h.txn_id, &mut last_record)?;
            let i = e.leg as usize;
            let after = h.balance_after.0;
            rows.push(self.leg_view(&record, i, (after - record.legs[i].delta.0, after)));
        }
        let opening = rows.first().map(|r| r.previous_balance).unwrap_or_default();
        let closing = rows.last().map(|r| r.current_balance).unwrap_or_default();
        Ok(Statement {
            account,
            start_ms,
            end_ms,
            opening_balance: opening,
            closing_balance: closing,
            rows,
        })
    }

    // ---- partner apps and their wallets -------------------------------------------------

    pub async fn create_app(&self, caller: &Caller, input: AppInput) -> Result<(Arc<App>, Arc<Client>)> {
        Self::require_admin(caller)?;
        let mut problems = Vec::new();
        if input.app_id.trim().is_empty() || input.app_id.len() > 64 {
            problems.push("appId must be 1 to 64 characters long".to_string());
        }
        if input.app_prefix.len() != 3 || !input.app_prefix.bytes().all(|b| b.is_ascii_uppercase()) {
            problems.push("appPrefix must be 3 uppercase letters".to_string());
        }
        let currency = Currency::parse(input.currency.as_deref().unwrap_or("KES"));
        if currency.is_none() {
            problems.push("currency must be a valid ISO 4217 currency code".to_string());
        }
        if !problems.is_empty() {
            return Err(EngineError::Invalid(problems));
        }
        let client = self.client_for(caller, &input.client_code)?;
        let record = NewApp {
            app_id: input.app_id,
            app_prefix: input.app_prefix,
            client_id: client.client_id,
            currency: currency.expect("checked above"),
            created_at_ms: now_ms(),
        };
        match self.append(Record::CreateApp(record)).await? {
            Applied::App(a) => Ok((a, client)),
            _ => Err(EngineError::Internal("unexpected apply result".into())),
        }
    }

    fn app_for(&self, caller: &Caller, app_id: &str) -> Result<Arc<App>> {
        self.catalog()
            .apps
            .get(app_id)
            .map(|a| a.clone())
            .filter(|a| Self::visible(caller, a.data.client_id))
            .ok_or_else(|| EngineError::NotFound("App not found".into()))
    }

    async fn facade_view(&self, app: &App, meta: &AccountMeta) -> Result<FacadeWalletView> {
        let live = self.live_view(meta.account_id).await?;
        let f = meta
            .data
            .facade
            .clone()
            .ok_or_else(|| EngineError::NotFound("Wallet not found".into()))?;
        Ok(FacadeWalletView {
            account_number: meta.account_number.clone(),
            app_prefix: app.data.app_prefix.clone(),
            tuku_till_number: f.tuku_till_number,
            wallet_number: f.wallet_number,
            name: meta.data.account_name.clone(),
            description: meta.data.status_description.as_deref().map(str::to_owned),
            current_balance: live.balance,
            status: live.status,
            verified: f.verified,
            user_id: f.user_id,
        })
    }

    pub async fn facade_create(&self, caller: &Caller, input: FacadeWalletInput) -> Result<FacadeWalletView> {
        let app = self.app_for(caller, &input.app_id)?;
        let mut problems = Vec::new();
        let number = match input.wallet_number {
            None => {
                let digits = input
                    .tuku_till_number
                    .strip_prefix('+')
                    .unwrap_or(&input.tuku_till_number);
                if digits.len() < 7 || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    problems.push("tukuTillNumber must be a phone number of 7 to 15 digits".to_string());
                }
                format!("{}{}", app.data.app_prefix, digits)
            }
            Some(n) => {
                let t = &input.tuku_till_number;
                if t.is_empty() || t.len() > 20 || !t.bytes().all(|b| b.is_ascii_digit()) {
                    problems.push("tukuTillNumber must be digits for an organisation wallet".to_string());
                }
                if n == 0 {
                    problems.push("walletNumber must be a positive integer".to_string());
                }
                format!("{}{}{}", app.data.app_prefix, t, n)
            }
        };
        if input.name.trim().is_empty() {
            problems.push("name should not be empty".to_string());
        }
        if input.user_id.trim().is_empty() {
            problems.push("userId should not be empty".to_string());
        }
        if !problems.is_empty() {
            return Err(EngineError::Invalid(problems));
        }
        if self.catalog().account_numbers.contains_key(number.as_str()) {
            return Err(EngineError::Conflict("Wallet already exists".into()));
        }
        let record = NewAccount {
            client_id: app.data.client_id,
            profile_id: None,
            account_type_code: "CURRENT_ACCOUNT".into(),
            account_name: input.name,
            currency: app.data.currency,
            minimum_balance: Money(Decimal::new(0, money::SCALE)),
            can_overdraw: false,
            status: if input.verified {
                AccountStatus::Active
            } else {
                AccountStatus::PreActive
            },
            status_description: input.description.map(String::into_boxed_str),
            role: AccountRole::Wallet,
            number: Some(number.into_boxed_str()),
            facade: Some(Box::new(FacadeWallet {
                app_id: app.data.app_id.clone(),
                user_id: input.user_id,
                tuku_till_number: input.tuku_till_number,
                wallet_number: input.wallet_number,
                verified: input.verified,
            })),
            created_at_ms: now_ms(),
        };
        match self.append(Record::CreateAccount(record)).await? {
            Applied::Account(meta) => self.facade_view(&app, &meta).await,
            _ => Err(EngineError::Internal("unexpected apply result".into())),
        }
    }

    pub async fn facade_list(&self, caller: &Caller, app_id: &str, user_id: &str) -> Result<Vec<FacadeWalletView>> {
        let app = self.app_for(caller, app_id)?;
        let mut metas: Vec<Arc<AccountMeta>> = self
            .catalog()
            .accounts
            .iter()
            .filter(|a| {
                a.data
                    .facade
                    .as_ref()
                    .is_some_and(|f| f.app_id == app.data.app_id && f.user_id == user_id)
            })
            .map(|a| a.clone())
            .collect();
        metas.sort_by_key(|m| m.account_id);
        let mut out = Vec::new();
        for m in metas {
            out.push(self.facade_view(&app, &m).await?);
        }
        Ok(out)
    }

    fn facade_wallet(&self, app: &App, number: &str) -> Result<Arc<AccountMeta>> {
        self.catalog()
            .account_by_number(number)
            .filter(|m| m.data.facade.as_ref().is_some_and(|f| f.app_id == app.data.app_id))
            .ok_or_else(|| EngineError::NotFound("Wallet not found".into()))
    }

    pub async fn facade_update(&self, caller: &Caller, input: FacadeUpdateInput) -> Result<FacadeWalletView> {
        let app = self.app_for(caller, &input.app_id)?;
        let meta = self.facade_wallet(&app, &input.account_number)?;
        if input.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(EngineError::invalid("name should not be empty"));
        }
        // Deleting closes a wallet, and CLOSED is final: a deleted wallet is not renamed.
        if self.live_view(meta.account_id).await?.status == AccountStatus::Closed {
            return Err(EngineError::Conflict("Wallet is deleted".into()));
        }
        let update = AccountUpdate {
            account_id: meta.account_id,
            account_name: input.name,
            description: input.description,
            verified: input.verified,
            at_ms: now_ms(),
        };
        let meta = match self.append(Record::UpdateAccount(update)).await? {
            Applied::Account(m) => m,
            _ => return Err(EngineError::Internal("unexpected apply result".into())),
        };
        if input.verified == Some(true) && self.live_view(meta.account_id).await?.status == AccountStatus::PreActive {
            self.change_status(&meta, AccountStatus::Active).await?;
        }
        self.facade_view(&app, &meta).await
    }

    /// Deleting closes the wallet (zero balance only) and keeps its history.
    pub async fn facade_delete(&self, caller: &Caller, app_id: &str, number: &str) -> Result<FacadeWalletView> {
        let app = self.app_for(caller, app_id)?;
        let meta = self.facade_wallet(&app, number)?;
        if self.live_view(meta.account_id).await?.status != AccountStatus::Closed {
            self.change_status(&meta, AccountStatus::Closed).await?;
        }
        self.facade_view(&app, &meta).await
    }
}

/// A posting's idempotency key, borrowed from its record: the client and its
/// `source_transaction_id`.
fn idempotency_key(record: &PostingRecord) -> (u64, &str) {
    (record.client_id, record.source_transaction_id.as_str())
}

// `New` is the common case: boxing it would cost an allocation per posting; the rare replay
// is boxed instead.
#[allow(clippy::large_enum_variant)]
enum Judged {
    /// The request was made before: its original answer.
    Replay(Box<PostingOutcome>),
    New {
        record: PostingRecord,
        fingerprint: u64,
        names: Names,
    },
}

/// What a posting's answer names, as judging found it: the answer then needs no second
/// look-up in the catalog. `accounts` is in leg order (`None` for an account not found).
#[derive(Default)]
struct Names {
    service: Option<Arc<Service>>,
    accounts: Vec<Option<Arc<AccountMeta>>>,
}

/// The WAL record read last for a run of legs, and where in it the last leg was found.
struct LastRecord {
    loc: u64,
    payload: Vec<u8>,
    place: codec::BatchPlace,
}

/// A posting on its way to a coordinator: its record, its claim on its key, its names.
struct Draft {
    record: PostingRecord,
    settle: Option<Settle>,
    names: Names,
}

impl Draft {
    fn new(record: PostingRecord, settle: Option<Settle>, names: Names) -> Self {
        Draft { record, settle, names }
    }
}

/// Splits a batch's postings into consecutive waves so that no posting debits an account
/// that an earlier posting of its own wave credits.
fn wave_sizes(drafts: &[Draft]) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut credited = ahash::HashSet::with_capacity_and_hasher(drafts.len(), ahash::RandomState::new());
    let mut size = 0;
    for Draft { record, .. } in drafts {
        let depends = record
            .legs
            .iter()
            .any(|l| l.delta.0.is_sign_negative() && credited.contains(&l.account_id));
        if depends && size > 0 {
            sizes.push(size);
            size = 0;
            credited.clear();
        }
        credited.extend(
            record
                .legs
                .iter()
                .filter(|l| l.delta.0.is_sign_positive())
                .map(|l| l.account_id),
        );
        size += 1;
    }
    if size > 0 {
        sizes.push(size);
    }
    sizes
}

/// How a posting ended in a coordinator's unit.
enum Ran {
    Answered(Result<Box<PostingOutcome>>),
    /// Given back, its key still claimed, to run in a later unit.
    Deferred(Box<Draft>),
}

/// A failed atomic batch applied nothing of its own: a posting it would have answered as a
/// replay is answered as not applied too, so that no part of a failed batch reads as a success
/// (TigerBeetle's linked events fail the same way).
fn all_or_nothing(results: Vec<Result<Box<PostingOutcome>>>) -> Vec<Result<Box<PostingOutcome>>> {
    if results.iter().all(Result::is_ok) {
        return results;
    }
    results
        .into_iter()
        .map(|r| r.and_then(|_| Err(not_applied())))
        .collect()
}

fn not_applied() -> EngineError {
    EngineError::Refused("Not applied: another posting of this atomic batch failed".into())
}

/// A user and the client it is bound to (none for ADMIN users).
pub type UserWithClient = (Arc<User>, Option<Arc<Client>>);

fn paginate<T>(items: Vec<T>, page: PageRequest) -> Vec<T> {
    let skip = (page.page.saturating_sub(1)).saturating_mul(page.limit) as usize;
    items.into_iter().skip(skip).take(page.limit as usize).collect()
}

fn fingerprint(input: &PostingInput, amount: Decimal) -> u64 {
    let (tag, a, b) = match &input.kind {
        PostingInputKind::Credit { account_number } => (0u8, account_number.as_str(), ""),
        PostingInputKind::Debit { account_number } => (1, account_number.as_str(), ""),
        PostingInputKind::Transfer {
            source_account_number,
            destination_account_number,
        } => (2, source_account_number.as_str(), destination_account_number.as_str()),
    };
    let canonical = (
        tag,
        a,
        b,
        input.client_service_code.as_str(),
        Money(amount),
        input.transaction_source.as_str(),
        input.source_transaction_data.as_deref(),
        input.narration.as_deref(),
        input.transaction_date_ms,
    );
    // Hashed as it is encoded: the same value as hashing the encoding, with no buffer per
    // posting. Fingerprints are kept in the WAL, so this must never change.
    let mut h = FNV1A_START;
    codec::encode_to_sink(&canonical, |bytes| h = fnv1a_more(h, bytes))
        .map(|()| h)
        .unwrap_or(0)
}

static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password_blocking("dummy password for timing").unwrap_or_default());

fn hash_password_blocking(password: &str) -> Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| EngineError::Internal(format!("password salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| EngineError::Internal(format!("password hashing: {e}")))
}

async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_password_blocking(&password))
        .await
        .map_err(|e| EngineError::Internal(format!("password hashing: {e}")))?
}

fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Operator command (walletd not running): moves WAL segments wholly covered by the newest
/// valid snapshot into `wal/archive/`, where reads still find them. Nothing is deleted.
pub fn archive_wal(config: &LedgerConfig) -> Result<Vec<PathBuf>> {
    let store = SnapshotStore::new(config.storage.clone(), config.snapshot_dir(), config.keep_snapshots);
    let loaded = store
        .load_latest()
        .map_err(|e| EngineError::Corruption(format!("snapshot: {e}")))?;
    let Some(snapshot) = loaded else {
        return Ok(Vec::new());
    };
    walletd_wal::archive_sealed(config.storage.clone(), &config.wal_config(), snapshot.seq + 1)
        .map_err(|e| EngineError::Internal(format!("archive: {e}")))
}

/// The names a leg's answer shows, looked up in the catalog.
struct LegNames {
    account_number: String,
    other_party_account: String,
    client_service_code: String,
}

/// The request's text that every leg of a posting shows.
struct RecordText {
    transaction_source: String,
    source_transaction_id: String,
    source_transaction_data: Option<String>,
    narration: Option<String>,
}

impl RecordText {
    fn cloned(record: &PostingRecord) -> Self {
        RecordText {
            transaction_source: record.transaction_source.clone(),
            source_transaction_id: record.source_transaction_id.clone(),
            source_transaction_data: record.source_transaction_data.clone(),
            narration: record.narration.clone(),
        }
    }

    /// For the last leg built from a record that is dropped next.
    fn taken(record: &mut PostingRecord) -> Self {
        RecordText {
            transaction_source: std::mem::take(&mut record.transaction_source),
            source_transaction_id: std::mem::take(&mut record.source_transaction_id),
            source_transaction_data: record.source_transaction_data.take(),
            narration: record.narration.take(),
        }
    }
}

/// Leg `i`'s account numbers (found by `number`) and its service code.
fn leg_names(
    record: &PostingRecord,
    i: usize,
    client_service_code: String,
    number: impl Fn(u64) -> String,
) -> LegNames {
    let leg = &record.legs[i];
    LegNames {
        account_number: number(leg.account_id),
        other_party_account: number(leg.other_party),
        client_service_code,
    }
}

fn leg_view(
    record: &PostingRecord,
    i: usize,
    balances: (Decimal, Decimal),
    names: LegNames,
    text: RecordText,
) -> TransactionView {
    let leg = &record.legs[i];
    TransactionView {
        transaction_id: record.first_txn_id + i as u64,
        account_number: names.account_number,
        client_service_code: names.client_service_code,
        transaction_type: if leg.delta.0.is_sign_negative() {
            "DEBIT"
        } else {
            "CREDIT"
        },
        currency: record.currency,
        amount: leg.delta.0.abs(),
        previous_balance: balances.0,
        current_balance: balances.1,
        other_party_account: names.other_party_account,
        transaction_source: text.transaction_source,
        source_transaction_id: text.source_transaction_id,
        source_transaction_data: text.source_transaction_data,
        narration: text.narration,
        transaction_date_ms: record.transaction_date_ms.unwrap_or(record.posted_at_ms),
        posted_at_ms: record.posted_at_ms,
        role: leg.role,
        posting_kind: record.kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_hashes_the_encoded_request_and_never_changes() {
        let input = PostingInput {
            kind: PostingInputKind::Transfer {
                source_account_number: "1000000001".into(),
                destination_account_number: "1000000002".into(),
            },
            client_service_code: "TRANSFER".into(),
            amount: Decimal::new(10_050, 2),
            transaction_source: "bench".into(),
            source_transaction_id: "t-1".into(),
            source_transaction_data: Some(r#"{"order":7}"#.into()),
            narration: None,
            transaction_date_ms: Some(1_764_000_000_000),
        };
        let amount = money::to_scale(input.amount);
        let canonical = (
            2u8,
            "1000000001",
            "1000000002",
            "TRANSFER",
            Money(amount),
            "bench",
            Some(r#"{"order":7}"#),
            None::<&str>,
            Some(1_764_000_000_000i64),
        );
        let encoded = codec::encode_to_vec(&canonical).unwrap();
        assert_eq!(fingerprint(&input, amount), fnv1a_more(FNV1A_START, &encoded));
        // Kept in the WAL and compared with requests sent again after a restart: pinned.
        assert_eq!(fingerprint(&input, amount), 3_079_220_213_343_920_262);
    }
}
