//! WAL group commit on a real directory: records/s with 1, 8 and 64 concurrent appenders,
//! each waiting for its record to be durable; prints records per fsync.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use walletd_wal::{FsStorage, RecordLoc, Recovered, Sequencer, WalConfig, WalError, WalWriter};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A 200-byte record (about a posting's size); the sender hears when it is durable.
struct Entry(mpsc::Sender<()>);

struct Acks;

impl Sequencer for Acks {
    type Entry = Entry;
    fn encode(&mut self, seq: u64, _entry: &mut Entry, out: &mut Vec<u8>) {
        out.extend_from_slice(&seq.to_le_bytes());
        out.resize(out.len() + 192, 0xab);
    }
    fn durable(&mut self, _seq: u64, _loc: RecordLoc, entry: Entry) {
        let _ = entry.0.send(());
    }
    fn failed(&mut self, _entry: Entry, _error: &WalError) {}
}

fn group_commit(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = WalConfig::new(dir.path().join("wal"));
    let storage = Arc::new(FsStorage);
    let wal = Arc::new(WalWriter::start(storage, config, &Recovered::default(), Acks).expect("writer"));
    let mut group = c.benchmark_group("wal_group_commit");
    group.sample_size(10).measurement_time(Duration::from_secs(8));
    for appenders in [1usize, 8, 64] {
        let per = if appenders == 1 { 200 } else { 4000 / appenders * 4 };
        group.throughput(Throughput::Elements((per * appenders) as u64));
        group.bench_function(format!("{appenders}_appenders"), |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                for _ in 0..iters {
                    std::thread::scope(|s| {
                        for _ in 0..appenders {
                            let wal = wal.clone();
                            s.spawn(move || {
                                for _ in 0..per {
                                    let (tx, rx) = mpsc::channel();
                                    if wal.append(Entry(tx)).is_err() {
                                        panic!("log failed");
                                    }
                                    rx.recv().expect("durable");
                                }
                            });
                        }
                    });
                }
                started.elapsed()
            })
        });
    }
    group.finish();
    let stats = wal.stats();
    println!(
        "WAL group commit: {:.1} records per fsync overall",
        stats.records_per_fsync()
    );
    wal.shutdown();
}

criterion_group!(benches, group_commit);
criterion_main!(benches);
