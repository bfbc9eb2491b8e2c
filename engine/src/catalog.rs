//! The catalog: clients, profiles, wallet types, wallet descriptions, client services, users
//! and apps. Changed only by applying records in log order (on the WAL writer thread live, or
//! at replay), read concurrently by everyone through sharded maps: no global lock.

use crate::error::{EngineError, Result};
use crate::money::Currency;
use crate::record::*;
use bincode::{Decode, Encode};
/// The engine's concurrent map: sharded (no global lock) and hashed with aHash, which is
/// keyed per process like SipHash (so user-chosen keys cannot be made to collide) but several
/// times faster; SipHash was a tenth of replay time.
pub type Map<K, V> = dashmap::DashMap<K, V, ahash::RandomState>;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Wallet type codes every client may use without creating them.
pub const BUILT_IN_ACCOUNT_TYPES: [&str; 8] = [
    "FLOAT_ACCOUNT",
    "AVAILABLE_COLLECTIONS",
    "HYBRID_ACCOUNT",
    "ACQUIRER_RESERVE",
    "ROLLING_RESERVE",
    "COMMISSION_ACCOUNT",
    "COMMISSION_TAX_ACCOUNT",
    "CURRENT_ACCOUNT",
];

/// Account numbers of the global sequence start here.
pub const FIRST_ACCOUNT_NUMBER: u64 = 10_000_001;

#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct Client {
    pub client_id: u64,
    pub data: NewClient,
}

#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct Profile {
    pub profile_id: u64,
    pub data: NewProfile,
    pub active: bool,
    pub updated_at_ms: i64,
}

#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct AccountType {
    pub account_type_id: u64,
    pub data: NewAccountType,
}

/// A wallet's description. Its balance and status belong to its account actor.
#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct AccountMeta {
    pub account_id: u64,
    pub account_number: String,
    pub data: NewAccount,
    pub updated_at_ms: i64,
}

#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct Service {
    pub service_id: u64,
    pub data: NewService,
}

#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct User {
    pub user_id: u64,
    pub data: NewUser,
}

#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct App {
    pub app_seq: u64,
    pub data: NewApp,
}

/// What applying a record produced, handed back to the caller that appended it.
#[derive(Clone, Debug)]
pub enum Applied {
    Client(Arc<Client>),
    Profile(Arc<Profile>),
    AccountType(Arc<AccountType>),
    Account(Arc<AccountMeta>),
    Service(Arc<Service>),
    User(Arc<User>),
    App(Arc<App>),
    Done,
}

/// Id counters; each is the last id given (0: none yet).
#[derive(Debug, Default)]
pub struct Counters {
    pub client: AtomicU64,
    pub profile: AtomicU64,
    pub account_type: AtomicU64,
    pub account: AtomicU64,
    pub service: AtomicU64,
    pub user: AtomicU64,
    pub app: AtomicU64,
    pub account_number: AtomicU64,
}

/// The counters' values at one point of the log, as stored in a snapshot.
#[derive(Clone, Copy, Debug, Default, Encode, Decode, PartialEq, Eq)]
pub struct CounterValues {
    pub client: u64,
    pub profile: u64,
    pub account_type: u64,
    pub account: u64,
    pub service: u64,
    pub user: u64,
    pub app: u64,
    pub account_number: u64,
}

impl Counters {
    pub fn values(&self) -> CounterValues {
        let g = |a: &AtomicU64| a.load(Ordering::Acquire);
        CounterValues {
            client: g(&self.client),
            profile: g(&self.profile),
            account_type: g(&self.account_type),
            account: g(&self.account),
            service: g(&self.service),
            user: g(&self.user),
            app: g(&self.app),
            account_number: g(&self.account_number),
        }
    }

    pub fn set(&self, v: &CounterValues) {
        let s = |a: &AtomicU64, x: u64| a.store(x, Ordering::Release);
        s(&self.client, v.client);
        s(&self.profile, v.profile);
        s(&self.account_type, v.account_type);
        s(&self.account, v.account);
        s(&self.service, v.service);
        s(&self.user, v.user);
        s(&self.app, v.app);
        s(&self.account_number, v.account_number);
    }
}

fn next(counter: &AtomicU64) -> u64 {
    // Only the single applying thread increments, so load+store would do; fetch_add is as cheap.
    counter.fetch_add(1, Ordering::AcqRel) + 1
}

#[derive(Debug, Default)]
pub struct Catalog {
    pub clients: Map<u64, Arc<Client>>,
    pub client_codes: Map<String, u64>,
    pub profiles: Map<u64, Arc<Profile>>,
    pub profile_refs: Map<(u64, String), u64>,
    pub account_types: Map<u64, Arc<AccountType>>,
    pub account_type_codes: Map<(u64, String), u64>,
    pub accounts: Map<u64, Arc<AccountMeta>>,
    /// Boxed strings: a `String` key's spare capacity word is paid once per wallet. The
    /// value is the account itself (kept equal to `accounts`' entry), so a posting finds a
    /// wallet by number in one look-up rather than two.
    pub account_numbers: Map<Box<str>, Arc<AccountMeta>>,
    pub system_accounts: Map<(u64, Currency, AccountRole), u64>,
    pub services: Map<u64, Arc<Service>>,
    /// Kept equal to `services`' entry: one look-up per posting, not two.
    pub service_codes: Map<String, Arc<Service>>,
    pub users: Map<String, Arc<User>>,
    pub apps: Map<String, Arc<App>>,
    pub app_prefixes: Map<String, String>,
    pub counters: Counters,
}

impl Catalog {
    /// Applies a catalog record. Deterministic: the same records in the same order give the
    /// same ids and the same refusals, live and at replay. Postings and account status changes
    /// are not catalog records (see `state`).
    pub fn apply(&self, record: &Record) -> Result<Applied> {
        match record {
            Record::CreateClient(c) => {
                if self.client_codes.contains_key(&c.client_code) {
                    return Err(EngineError::Conflict("client_code already exists".into()));
                }
                let client = Arc::new(Client {
                    client_id: next(&self.counters.client),
                    data: c.clone(),
                });
                self.client_codes.insert(c.client_code.clone(), client.client_id);
                self.clients.insert(client.client_id, client.clone());
                Ok(Applied::Client(client))
            }
            Record::CreateProfile(p) => {
                let key = (p.client_id, p.client_profile_id.clone());
                if self.profile_refs.contains_key(&key) {
                    return Err(EngineError::Conflict("client_profile_id already exists".into()));
                }
                let profile = Arc::new(Profile {
                    profile_id: next(&self.counters.profile),
                    data: p.clone(),
                    active: p.is_active,
                    updated_at_ms: p.created_at_ms,
                });
                self.profile_refs.insert(key, profile.profile_id);
                self.profiles.insert(profile.profile_id, profile.clone());
                Ok(Applied::Profile(profile))
            }
            Record::SetProfileActive {
                profile_id,
                active,
                at_ms,
            } => {
                let mut entry = self
                    .profiles
                    .get_mut(profile_id)
                    .ok_or_else(|| EngineError::NotFound("Profile not found".into()))?;
                let mut p = (**entry).clone();
                p.active = *active;
                p.updated_at_ms = *at_ms;
                let p = Arc::new(p);
                *entry = p.clone();
                Ok(Applied::Profile(p))
            }
            Record::CreateAccountType(t) => {
                let key = (t.client_id, t.account_type_code.clone());
                if self.account_type_codes.contains_key(&key) {
                    return Err(EngineError::Conflict("account_type_code already exists".into()));
                }
                let ty = Arc::new(AccountType {
                    account_type_id: next(&self.counters.account_type),
                    data: t.clone(),
                });
                self.account_type_codes.insert(key, ty.account_type_id);
                self.account_types.insert(ty.account_type_id, ty.clone());
                Ok(Applied::AccountType(ty))
            }
            Record::CreateAccount(a) => {
                if a.role != AccountRole::Wallet
                    && let Some(id) = self.system_accounts.get(&(a.client_id, a.currency, a.role))
                {
                    // Two postings raced to create it: the first record wins, both use it.
                    let meta = self.accounts.get(&*id).map(|m| m.clone());
                    return meta
                        .map(Applied::Account)
                        .ok_or_else(|| EngineError::Internal("system account lost".into()));
                }
                if let Some(number) = &a.number
                    && self.account_numbers.contains_key(&**number)
                {
                    return Err(EngineError::Conflict("Wallet already exists".into()));
                }
                let account_id = next(&self.counters.account);
                let number = match &a.number {
                    Some(n) => n.to_string(),
                    None => {
                        let n = next(&self.counters.account_number) + FIRST_ACCOUNT_NUMBER - 1;
                        format!("{n:08}")
                    }
                };
                let meta = Arc::new(AccountMeta {
                    account_id,
                    account_number: number.clone(),
                    data: a.clone(),
                    updated_at_ms: a.created_at_ms,
                });
                self.account_numbers.insert(number.into_boxed_str(), meta.clone());
                if a.role != AccountRole::Wallet {
                    self.system_accounts
                        .insert((a.client_id, a.currency, a.role), account_id);
                }
                self.accounts.insert(account_id, meta.clone());
                Ok(Applied::Account(meta))
            }
            Record::UpdateAccount(u) => {
                let mut entry = self
                    .accounts
                    .get_mut(&u.account_id)
                    .ok_or_else(|| EngineError::NotFound("Account not found".into()))?;
                let mut m = (**entry).clone();
                if let Some(name) = &u.account_name {
                    m.data.account_name = name.clone();
                }
                if let Some(d) = &u.description {
                    m.data.status_description = Some(d.as_str().into());
                }
                if let (Some(v), Some(f)) = (u.verified, m.data.facade.as_mut()) {
                    f.verified = v;
                }
                m.updated_at_ms = u.at_ms;
                let m = Arc::new(m);
                *entry = m.clone();
                // One map's lock at a time: nothing else ever holds both. The two writes are
                // not one step; that is safe because catalog records are applied by one
                // thread only (the WAL writer, or replay), so no other update can interleave.
                drop(entry);
                if let Some(mut by_number) = self.account_numbers.get_mut(m.account_number.as_str()) {
                    *by_number = m.clone();
                }
                Ok(Applied::Account(m))
            }
            Record::CreateService(s) => {
                if self.service_codes.contains_key(&s.client_service_code) {
                    return Err(EngineError::Conflict("client_service_code already exists".into()));
                }
                let svc = Arc::new(Service {
                    service_id: next(&self.counters.service),
                    data: s.clone(),
                });
                self.service_codes.insert(s.client_service_code.clone(), svc.clone());
                self.services.insert(svc.service_id, svc.clone());
                Ok(Applied::Service(svc))
            }
            Record::CreateUser(u) => {
                if self.users.contains_key(&u.username) {
                    return Err(EngineError::Conflict("username already exists".into()));
                }
                let user = Arc::new(User {
                    user_id: next(&self.counters.user),
                    data: u.clone(),
                });
                self.users.insert(u.username.clone(), user.clone());
                Ok(Applied::User(user))
            }
            Record::DeleteUser { username } => match self.users.remove(username) {
                Some(_) => Ok(Applied::Done),
                None => Err(EngineError::NotFound("User not found".into())),
            },
            Record::CreateApp(a) => {
                if self.apps.contains_key(&a.app_id) {
                    return Err(EngineError::Conflict("appId already exists".into()));
                }
                if self.app_prefixes.contains_key(&a.app_prefix) {
                    return Err(EngineError::Conflict("appPrefix already taken".into()));
                }
                let app = Arc::new(App {
                    app_seq: next(&self.counters.app),
                    data: a.clone(),
                });
                self.app_prefixes.insert(a.app_prefix.clone(), a.app_id.clone());
                self.apps.insert(a.app_id.clone(), app.clone());
                Ok(Applied::App(app))
            }
            Record::SetAccountStatus { .. } | Record::Posting(_) | Record::Batch(_) => {
                Err(EngineError::Internal("not a catalog record".into()))
            }
        }
    }

    pub fn client_by_code(&self, code: &str) -> Option<Arc<Client>> {
        let id = *self.client_codes.get(code)?;
        self.clients.get(&id).map(|c| c.clone())
    }

    pub fn account_by_number(&self, number: &str) -> Option<Arc<AccountMeta>> {
        self.account_numbers.get(number).map(|a| a.clone())
    }

    pub fn service_by_code(&self, code: &str) -> Option<Arc<Service>> {
        self.service_codes.get(code).map(|s| s.clone())
    }

    pub fn profile_by_ref(&self, client_id: u64, reference: &str) -> Option<Arc<Profile>> {
        let id = *self.profile_refs.get(&(client_id, reference.to_owned()))?;
        self.profiles.get(&id).map(|p| p.clone())
    }

    /// Whether `code` names a type the client may use: `None` for no such type, `Some(true)`
    /// for a built-in type or an active one of the client's own, `Some(false)` for an
    /// inactive one.
    pub fn account_type_active(&self, client_id: u64, code: &str) -> Option<bool> {
        if BUILT_IN_ACCOUNT_TYPES.contains(&code) {
            return Some(true);
        }
        self.account_type_codes
            .get(&(client_id, code.to_owned()))
            .and_then(|id| self.account_types.get(&*id).map(|t| t.data.is_active))
    }

    /// Everything a snapshot keeps of the catalog as of `cut`: objects created later are left
    /// out (replay of the suffix creates them again with the same ids); later changes to
    /// older objects may be present, which is harmless because replaying them sets the
    /// same values again.
    pub fn image(&self, cut: &CounterValues) -> CatalogImage {
        fn sorted<T: Clone, K>(map: &Map<K, Arc<T>>, keep: impl Fn(&T) -> bool, key: impl Fn(&T) -> u64) -> Vec<T>
        where
            K: Eq + std::hash::Hash,
        {
            let mut v: Vec<T> = map.iter().map(|e| (**e.value()).clone()).filter(|t| keep(t)).collect();
            v.sort_by_key(|t| key(t));
            v
        }
        CatalogImage {
            counters: *cut,
            clients: sorted(&self.clients, |c| c.client_id <= cut.client, |c| c.client_id),
            profiles: sorted(&self.profiles, |p| p.profile_id <= cut.profile, |p| p.profile_id),
            account_types: sorted(
                &self.account_types,
                |t| t.account_type_id <= cut.account_type,
                |t| t.account_type_id,
            ),
            accounts: sorted(&self.accounts, |a| a.account_id <= cut.account, |a| a.account_id),
            services: sorted(&self.services, |s| s.service_id <= cut.service, |s| s.service_id),
            users: sorted(&self.users, |u| u.user_id <= cut.user, |u| u.user_id),
            apps: sorted(&self.apps, |a| a.app_seq <= cut.app, |a| a.app_seq),
        }
    }

    /// Rebuilds the catalog from a snapshot image.
    pub fn from_image(image: CatalogImage) -> Catalog {
        let cat = Catalog::default();
        cat.counters.set(&image.counters);
        for c in image.clients {
            cat.client_codes.insert(c.data.client_code.clone(), c.client_id);
            cat.clients.insert(c.client_id, Arc::new(c));
        }
        for p in image.profiles {
            cat.profile_refs
                .insert((p.data.client_id, p.data.client_profile_id.clone()), p.profile_id);
            cat.profiles.insert(p.profile_id, Arc::new(p));
        }
        for t in image.account_types {
            cat.account_type_codes
                .insert((t.data.client_id, t.data.account_type_code.clone()), t.account_type_id);
            cat.account_types.insert(t.account_type_id, Arc::new(t));
        }
        for a in image.accounts {
            if a.data.role != AccountRole::Wallet {
                cat.system_accounts
                    .insert((a.data.client_id, a.data.currency, a.data.role), a.account_id);
            }
            let a = Arc::new(a);
            cat.account_numbers.insert(a.account_number.as_str().into(), a.clone());
            cat.accounts.insert(a.account_id, a);
        }
        for s in image.services {
            let s = Arc::new(s);
            cat.service_codes.insert(s.data.client_service_code.clone(), s.clone());
            cat.services.insert(s.service_id, s);
        }
        for u in image.users {
            cat.users.insert(u.data.username.clone(), Arc::new(u));
        }
        for a in image.apps {
            cat.app_prefixes
                .insert(a.data.app_prefix.clone(), a.data.app_id.clone());
            cat.apps.insert(a.data.app_id.clone(), Arc::new(a));
        }
        cat
    }
}

/// The catalog as stored in a snapshot.
#[derive(Clone, Debug, Default, Encode, Decode, PartialEq)]
pub struct CatalogImage {
    pub counters: CounterValues,
    pub clients: Vec<Client>,
    pub profiles: Vec<Profile>,
    pub account_types: Vec<AccountType>,
    pub accounts: Vec<AccountMeta>,
    pub services: Vec<Service>,
    pub users: Vec<User>,
    pub apps: Vec<App>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Money;
    use rust_decimal::Decimal;

    fn wallet(client_id: u64) -> Record {
        Record::CreateAccount(NewAccount {
            client_id,
            profile_id: None,
            account_type_code: "WALLET".into(),
            account_name: "Before".into(),
            currency: Currency::parse("KES").unwrap(),
            minimum_balance: Money(Decimal::ZERO),
            can_overdraw: false,
            status: AccountStatus::Active,
            status_description: None,
            role: AccountRole::Wallet,
            number: None,
            facade: None,
            created_at_ms: 1,
        })
    }

    #[test]
    fn a_wallet_found_by_number_is_the_one_found_by_id_after_an_update() {
        let catalog = Catalog::default();
        let Ok(Applied::Account(created)) = catalog.apply(&wallet(1)) else {
            panic!("account not created");
        };
        let update = Record::UpdateAccount(AccountUpdate {
            account_id: created.account_id,
            account_name: Some("After".into()),
            description: None,
            verified: None,
            at_ms: 2,
        });
        catalog.apply(&update).unwrap();
        let by_number = catalog.account_by_number(&created.account_number).unwrap();
        assert_eq!(by_number.data.account_name, "After");
        assert_eq!(by_number.updated_at_ms, 2);
        assert!(Arc::ptr_eq(
            &by_number,
            &catalog.accounts.get(&created.account_id).unwrap()
        ));

        // And after a snapshot's image is loaded back.
        let image = catalog.image(&catalog.counters.values());
        let loaded = Catalog::from_image(image);
        let by_number = loaded.account_by_number(&created.account_number).unwrap();
        assert_eq!(by_number.data.account_name, "After");
        assert!(Arc::ptr_eq(
            &by_number,
            &loaded.accounts.get(&created.account_id).unwrap()
        ));
    }
}
