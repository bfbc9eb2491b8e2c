//! Request deadlines without a timer per request. A tokio timer per request (tower-http's
//! `TimeoutLayer`) cost 6-9 us of CPU per request on this machine, more than routing and
//! authentication together (BENCHMARKS.md). Here each request in flight holds a slot stamped
//! with its start; one reaper task looks at every slot a few times per deadline and wakes the
//! requests that have run out of time, which then answer `None` (the edge turns it into 408).

use atomic_waker::AtomicWaker;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::Poll;
use std::time::{Duration, Instant};

/// One request's place. `stamp` is 0 while free, else the claim's stamp: its start in
/// milliseconds since `Deadlines::base` (high bits) and a claim counter (low bits), never 0.
/// `expired` holds the stamp the reaper gave up on: a slot reused by a later claim (whose
/// stamp differs, even within the same millisecond) is never expired by mistake.
struct Slot {
    stamp: AtomicU64,
    expired: AtomicU64,
    waker: AtomicWaker,
}

/// The deadlines of the requests in flight: one slot each, and the reaper that expires them.
pub struct Deadlines {
    slots: Box<[Slot]>,
    /// Claims so far: where a claim starts looking for a free slot, and its stamp's low bits.
    claims: AtomicU64,
    base: Instant,
    limit: Duration,
    reaper: OnceLock<()>,
}

/// Frees the slot when the request ends, however it ends.
struct Claim<'a> {
    slot: &'a Slot,
    stamp: u64,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.slot.stamp.store(0, Ordering::Release);
    }
}

impl Deadlines {
    /// `capacity`: requests that may be in flight at once (the edge's in-flight limit, so a
    /// free slot always exists); `limit`: how long each may take.
    pub fn new(capacity: usize, limit: Duration) -> Arc<Deadlines> {
        let slots = (0..capacity.max(1))
            .map(|_| Slot {
                stamp: AtomicU64::new(0),
                expired: AtomicU64::new(0),
                waker: AtomicWaker::new(),
            })
            .collect();
        Arc::new(Deadlines {
            slots,
            claims: AtomicU64::new(0),
            base: Instant::now(),
            limit,
            reaper: OnceLock::new(),
        })
    }

    /// Bits of a stamp that count claims; the rest is milliseconds (2^40 ms is 34 years).
    const CLAIM_BITS: u32 = 24;

    fn now_ms(&self) -> u64 {
        self.base.elapsed().as_millis() as u64
    }

    fn claim(&self) -> Option<Claim<'_>> {
        let n = self.slots.len();
        let claims = self.claims.fetch_add(1, Ordering::Relaxed);
        let (start, count) = (claims as usize, claims & ((1 << Self::CLAIM_BITS) - 1));
        // Milliseconds plus one, so that a stamp is never 0 (a free slot).
        let stamp = ((self.now_ms() + 1) << Self::CLAIM_BITS) | count;
        (0..n).find_map(|k| {
            let slot = &self.slots[(start + k) % n];
            slot.stamp
                .compare_exchange(0, stamp, Ordering::AcqRel, Ordering::Relaxed)
                .ok()
                .map(|_| Claim { slot, stamp })
        })
    }

    /// Runs `fut` to completion, or answers `None` once it has run longer than the limit
    /// (within a tenth of the limit). Must be called inside a tokio runtime; the reaper runs
    /// on the runtime of the first call, which for the server is its only one.
    pub async fn run<F: Future>(self: &Arc<Self>, fut: F) -> Option<F::Output> {
        self.reaper.get_or_init(|| {
            tokio::spawn(reap(Arc::downgrade(self), self.tick()));
        });
        let Some(claim) = self.claim() else {
            // Only if more requests run than the capacity given: fall back to a timer.
            return tokio::time::timeout(self.limit, fut).await.ok();
        };
        let mut fut = std::pin::pin!(fut);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(out));
            }
            // Register before looking, so an expiry that lands in between still wakes us.
            claim.slot.waker.register(cx.waker());
            if claim.slot.expired.load(Ordering::Acquire) == claim.stamp {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    }

    fn tick(&self) -> Duration {
        (self.limit / 10).clamp(Duration::from_millis(5), Duration::from_secs(1))
    }

    /// Expires every request that has run past the limit.
    fn sweep(&self) {
        let now = self.now_ms() + 1;
        let limit = self.limit.as_millis() as u64;
        for slot in self.slots.iter() {
            let stamp = slot.stamp.load(Ordering::Acquire);
            let started = stamp >> Self::CLAIM_BITS;
            if stamp != 0 && now.saturating_sub(started) >= limit && slot.expired.load(Ordering::Relaxed) != stamp {
                slot.expired.store(stamp, Ordering::Release);
                slot.waker.wake();
            }
        }
    }
}

/// The reaper: ends with the last handle on the deadlines.
async fn reap(deadlines: Weak<Deadlines>, tick: Duration) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match deadlines.upgrade() {
            Some(d) => d.sweep(),
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_quick_future_keeps_its_answer_and_frees_its_slot() {
        let d = Deadlines::new(2, Duration::from_millis(50));
        for i in 0..10 {
            assert_eq!(d.run(async move { i * 2 }).await, Some(i * 2));
        }
        assert!(d.slots.iter().all(|s| s.stamp.load(Ordering::Acquire) == 0));
    }

    #[tokio::test]
    async fn a_slow_future_is_given_up_after_the_limit() {
        let d = Deadlines::new(4, Duration::from_millis(40));
        let started = Instant::now();
        let out = d.run(std::future::pending::<()>()).await;
        assert_eq!(out, None);
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(40), "gave up after {took:?}");
        assert!(d.slots.iter().all(|s| s.stamp.load(Ordering::Acquire) == 0));
    }

    #[tokio::test]
    async fn only_the_late_request_expires() {
        let d = Deadlines::new(4, Duration::from_millis(60));
        let slow = tokio::spawn({
            let d = d.clone();
            async move { d.run(std::future::pending::<()>()).await }
        });
        // Quick requests keep coming while the slow one runs out; none of them is cut short.
        for _ in 0..20 {
            let out = d.run(tokio::time::sleep(Duration::from_millis(5))).await;
            assert_eq!(out, Some(()));
        }
        assert_eq!(slow.await.unwrap(), None);
    }

    #[tokio::test]
    async fn more_requests_than_slots_still_get_a_deadline() {
        let d = Deadlines::new(1, Duration::from_millis(30));
        let first = tokio::spawn({
            let d = d.clone();
            async move { d.run(std::future::pending::<()>()).await }
        });
        tokio::task::yield_now().await;
        assert_eq!(d.run(std::future::pending::<()>()).await, None);
        assert_eq!(first.await.unwrap(), None);
    }
}
