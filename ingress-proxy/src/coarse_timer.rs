//! Coarse timers for the long, rarely-firing timeouts every request carries (response head,
//! request head): registering one is a short uncontended lock and a slab insert, instead of a
//! timer-wheel insert and removal under the runtime's timer lock.
//!
//! A ticker task checks the registered deadlines every [`TICK`] and wakes the expired ones, so a
//! deadline fires up to one tick late (never early). That is the right trade for timeouts of
//! seconds that almost never fire; short precise sleeps stay on tokio's timer.
//!
//! [`CoarseTimer`] also implements [`hyper::rt::Timer`], so hyper's request-head timeout
//! (slowloris protection) uses it too.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use slab::Slab;

/// How often deadlines are checked: the most a deadline can fire late.
pub(crate) const TICK: Duration = Duration::from_millis(25);

/// Registrations are spread over shards so threads of a multi-threaded runtime rarely meet.
const SHARDS: usize = 8;

/// A handle to the shared registry of deadlines; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct CoarseTimer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shards: [Mutex<Slab<Entry>>; SHARDS],
    next_shard: AtomicUsize,
    /// The coarse clock: nanoseconds since `base`, as of the last tick (or creation).
    base: Instant,
    ticked: AtomicU64,
}

#[derive(Debug)]
struct Entry {
    deadline: Instant,
    /// The task to wake; taken (and woken) by the ticker when the deadline passes, so `None`
    /// means fired.
    waker: Option<Waker>,
}

/// A future that completes at (or up to one tick after) its deadline.
#[derive(Debug)]
pub(crate) struct Deadline {
    inner: Arc<Inner>,
    deadline: Instant,
    /// `(shard, key)` once registered.
    slot: Option<(usize, usize)>,
}

impl CoarseTimer {
    pub(crate) fn new() -> Self {
        CoarseTimer {
            inner: Arc::new(Inner {
                shards: std::array::from_fn(|_| Mutex::new(Slab::new())),
                next_shard: AtomicUsize::new(0),
                base: Instant::now(),
                ticked: AtomicU64::new(0),
            }),
        }
    }

    /// The time as of the last tick: at most one tick behind, never ahead, and free to read
    /// (for idle-connection ages, where a clock read per request would be wasted).
    pub(crate) fn coarse_now(&self) -> Instant {
        self.inner.coarse_now()
    }

    /// A deadline `duration` from now.
    pub(crate) fn deadline(&self, duration: Duration) -> Deadline {
        self.deadline_at(Instant::now() + duration)
    }

    /// A deadline at `deadline`.
    pub(crate) fn deadline_at(&self, deadline: Instant) -> Deadline {
        Deadline {
            inner: self.inner.clone(),
            deadline,
            slot: None,
        }
    }

    /// Fires expired deadlines every [`TICK`]; runs until dropped (the server aborts it).
    pub(crate) async fn run_ticker(self) {
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            self.fire_expired(Instant::now());
        }
    }

    /// Advances the coarse clock to `now`, marks every deadline at or before it as fired and
    /// wakes its task.
    fn fire_expired(&self, now: Instant) {
        let nanos =
            u64::try_from(now.duration_since(self.inner.base).as_nanos()).unwrap_or(u64::MAX);
        self.inner.ticked.fetch_max(nanos, Ordering::Relaxed);
        let mut wake = Vec::new();
        for shard in &self.inner.shards {
            let mut entries = lock(shard);
            for (_, entry) in entries.iter_mut() {
                if entry.deadline <= now {
                    wake.extend(entry.waker.take());
                }
            }
        }
        // Wake outside the locks: a woken task may run (and register) at once.
        for waker in wake {
            waker.wake();
        }
    }

    /// Deadlines currently registered (for tests).
    #[cfg(test)]
    fn registered(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|shard| lock(shard).len())
            .sum()
    }
}

impl Inner {
    fn coarse_now(&self) -> Instant {
        self.base + Duration::from_nanos(self.ticked.load(Ordering::Relaxed))
    }
}

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match this.slot {
            None => {
                // The coarse clock never runs ahead, so this never fires early; a deadline that
                // passed since the last tick waits for the next one.
                if this.inner.coarse_now() >= this.deadline {
                    return Poll::Ready(());
                }
                let shard = this.inner.next_shard.fetch_add(1, Ordering::Relaxed) % SHARDS;
                let key = lock(&this.inner.shards[shard]).insert(Entry {
                    deadline: this.deadline,
                    waker: Some(cx.waker().clone()),
                });
                this.slot = Some((shard, key));
                Poll::Pending
            }
            Some((shard, key)) => {
                let mut entries = lock(&this.inner.shards[shard]);
                match entries.get_mut(key).and_then(|entry| entry.waker.as_mut()) {
                    Some(waker) => {
                        waker.clone_from(cx.waker());
                        Poll::Pending
                    }
                    // Fired (or, impossibly, gone): the deadline has passed.
                    None => Poll::Ready(()),
                }
            }
        }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if let Some((shard, key)) = self.slot.take() {
            lock(&self.inner.shards[shard]).try_remove(key);
        }
    }
}

/// Runs `future` until it completes (`Some`) or `deadline` passes first (`None`).
pub(crate) async fn timeout<F: Future>(deadline: Deadline, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut deadline = std::pin::pin!(deadline);
    std::future::poll_fn(|cx| {
        // The future first: the deadline registers only if the future has to wait.
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        deadline.as_mut().poll(cx).map(|()| None)
    })
    .await
}

impl hyper::rt::Sleep for Deadline {}

impl hyper::rt::Timer for CoarseTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(self.deadline(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(self.deadline_at(deadline))
    }

    /// hyper computes its request-head deadline from this: a deadline up to one tick earlier
    /// than from the precise clock, without a clock read per request.
    fn now(&self) -> Instant {
        self.coarse_now()
    }
}

/// Every critical section is a single slab operation: state stays consistent across a panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_deadline_fires_after_it_passes_and_not_before() {
        let timer = CoarseTimer::new();
        let ticker = tokio::spawn(timer.clone().run_ticker());
        let start = Instant::now();
        timer.deadline(Duration::from_millis(60)).await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(60),
            "fired early: {waited:?}"
        );
        assert!(
            waited < Duration::from_millis(60) + TICK * 8,
            "fired late: {waited:?}"
        );
        assert_eq!(
            timer.registered(),
            0,
            "a fired deadline unregisters on drop"
        );
        ticker.abort();
    }

    #[tokio::test]
    async fn a_dropped_deadline_unregisters() {
        let timer = CoarseTimer::new();
        let deadline = timer.deadline(Duration::from_secs(60));
        let raced = tokio::time::timeout(Duration::from_millis(10), deadline).await;
        assert!(raced.is_err(), "a 60 s deadline did not fire within 10 ms");
        assert_eq!(timer.registered(), 0);
    }

    #[tokio::test]
    async fn a_deadline_before_the_last_tick_is_ready_without_waiting() {
        let timer = CoarseTimer::new();
        let deadline = Instant::now();
        timer.fire_expired(Instant::now());
        assert!(timer.coarse_now() >= deadline);
        timer.deadline_at(deadline).await;
        assert_eq!(timer.registered(), 0);
    }

    #[test]
    fn the_coarse_clock_follows_ticks_and_never_goes_back() {
        let timer = CoarseTimer::new();
        let later = Instant::now() + Duration::from_millis(50);
        timer.fire_expired(later);
        assert_eq!(timer.coarse_now(), later);
        timer.fire_expired(later - Duration::from_millis(10));
        assert_eq!(timer.coarse_now(), later);
    }

    #[tokio::test]
    async fn many_deadlines_fire_in_order_of_their_time() {
        let timer = CoarseTimer::new();
        let ticker = tokio::spawn(timer.clone().run_ticker());
        let start = Instant::now();
        let waits = (1..=20u64).map(|i| {
            let deadline = timer.deadline(Duration::from_millis(5 * i));
            async move {
                deadline.await;
                (i, start.elapsed())
            }
        });
        for (i, waited) in futures::future::join_all(waits).await {
            assert!(waited >= Duration::from_millis(5 * i), "deadline {i} early");
        }
        assert_eq!(timer.registered(), 0);
        ticker.abort();
    }
}
