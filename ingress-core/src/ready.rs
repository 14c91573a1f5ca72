//! A runtime-agnostic readiness gate: opens once, wakes every waiter.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// Opens after the first complete snapshot is published.
#[derive(Debug, Default)]
pub(crate) struct ReadyGate {
    open: AtomicBool,
    waiters: Mutex<Vec<Waker>>,
}

/// Resolves when the table has published its first complete snapshot.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct UntilReady {
    gate: Arc<ReadyGate>,
}

impl ReadyGate {
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    pub(crate) fn open(&self) {
        if !self.open.swap(true, Ordering::AcqRel) {
            // A poisoned lock only means a waker panicked while registering; the list is
            // still a list of wakers, so take it anyway.
            let waiters =
                std::mem::take(&mut *self.waiters.lock().unwrap_or_else(PoisonError::into_inner));
            for waker in waiters {
                waker.wake();
            }
        }
    }

    fn poll_open(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_open() {
            return Poll::Ready(());
        }
        let mut waiters = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
        // Re-check under the lock: `open` takes the lock after setting the flag.
        if self.is_open() {
            return Poll::Ready(());
        }
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl UntilReady {
    pub(crate) fn new(gate: Arc<ReadyGate>) -> Self {
        UntilReady { gate }
    }
}

impl Future for UntilReady {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.gate.poll_open(cx)
    }
}
