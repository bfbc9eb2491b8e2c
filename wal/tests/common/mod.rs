//! Helpers shared by the scenario tests: a recording `Sequencer` and recovery into a Vec.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use rand::Rng;
use walletd_wal::{RecordLoc, Recovered, Sequencer, SimStorage, Storage, WalConfig, WalError, WalWriter, recover};

/// What happened to one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Durable(u64, RecordLoc),
    Failed(String),
}

pub struct Entry {
    pub payload: Vec<u8>,
    pub ack: Option<mpsc::Sender<Outcome>>,
}

impl Entry {
    pub fn new(payload: Vec<u8>) -> Self {
        Entry { payload, ack: None }
    }

    /// An entry and the receiver its outcome arrives on.
    pub fn with_ack(payload: Vec<u8>) -> (Self, mpsc::Receiver<Outcome>) {
        let (tx, rx) = mpsc::channel();
        (Entry { payload, ack: Some(tx) }, rx)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    pub seq: u64,
    pub loc: RecordLoc,
    pub payload: Vec<u8>,
    /// The storage image of `SimStorage::freeze_after_ops` was not yet taken when `durable`
    /// ran, so the image must hold this record.
    pub before_freeze: bool,
}

/// Everything the sequencer saw, in callback order.
#[derive(Debug, Default)]
pub struct Journal {
    /// Payload encoded for each seq (the latest, if a seq was reused after a crash).
    pub encoded: BTreeMap<u64, Vec<u8>>,
    pub durable: Vec<Acked>,
    pub failed: Vec<(Vec<u8>, String)>,
    pub batches: Vec<usize>,
}

pub struct RecordingSeq {
    pub journal: Arc<Mutex<Journal>>,
    /// Consulted in `durable` to tell acknowledgements before and after a freeze point.
    pub freeze_probe: Option<SimStorage>,
}

impl Sequencer for RecordingSeq {
    type Entry = Entry;

    fn encode(&mut self, seq: u64, entry: &mut Entry, out: &mut Vec<u8>) {
        out.extend_from_slice(&entry.payload);
        self.journal.lock().unwrap().encoded.insert(seq, entry.payload.clone());
    }

    fn durable(&mut self, seq: u64, loc: RecordLoc, entry: Entry) {
        let before_freeze = self.freeze_probe.as_ref().is_none_or(|s| !s.is_frozen());
        self.journal.lock().unwrap().durable.push(Acked {
            seq,
            loc,
            payload: entry.payload,
            before_freeze,
        });
        if let Some(ack) = entry.ack {
            let _ = ack.send(Outcome::Durable(seq, loc));
        }
    }

    fn failed(&mut self, entry: Entry, error: &WalError) {
        self.journal
            .lock()
            .unwrap()
            .failed
            .push((entry.payload, error.to_string()));
        if let Some(ack) = entry.ack {
            let _ = ack.send(Outcome::Failed(error.to_string()));
        }
    }

    fn batch_done(&mut self, records: usize) {
        self.journal.lock().unwrap().batches.push(records);
    }
}

/// Starts a writer whose sequencer records into the returned journal.
pub fn start_writer(
    storage: Arc<dyn Storage>,
    config: &WalConfig,
    recovered: &Recovered,
    freeze_probe: Option<SimStorage>,
) -> (WalWriter<Entry>, Arc<Mutex<Journal>>) {
    let journal = Arc::new(Mutex::new(Journal::default()));
    let seq = RecordingSeq {
        journal: journal.clone(),
        freeze_probe,
    };
    let writer = WalWriter::start(storage, config.clone(), recovered, seq).expect("writer starts");
    (writer, journal)
}

/// One replayed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub seq: u64,
    pub loc: RecordLoc,
    pub payload: Vec<u8>,
}

pub fn recover_all(
    storage: Arc<dyn Storage>,
    config: &WalConfig,
    from_seq: u64,
) -> Result<(Recovered, Vec<Replayed>), WalError> {
    let mut out = Vec::new();
    let r = recover(storage, config, from_seq, |seq, loc, payload| {
        out.push(Replayed {
            seq,
            loc,
            payload: payload.to_vec(),
        });
        Ok(())
    })?;
    Ok((r, out))
}

/// A payload starting with a unique 8-byte id, of a size mostly small, sometimes large.
pub fn payload(rng: &mut impl Rng, id: u64, max: usize) -> Vec<u8> {
    let len = match rng.random_range(0..10) {
        0 => 0,
        1..=6 => rng.random_range(0..64),
        7 | 8 => rng.random_range(64..max.max(65)),
        _ => rng.random_range(0..max.max(1) * 2),
    };
    let mut p = id.to_le_bytes().to_vec();
    p.extend((0..len).map(|_| rng.random::<u8>()));
    p
}

/// Appends one entry and waits until it is durable.
pub fn append_and_wait(writer: &WalWriter<Entry>, payload: Vec<u8>) -> Outcome {
    let (entry, rx) = Entry::with_ack(payload);
    match writer.append(entry) {
        Ok(()) => rx.recv().expect("every accepted entry gets an outcome"),
        Err(_) => Outcome::Failed("append refused".into()),
    }
}
