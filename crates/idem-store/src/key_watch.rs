//! Waiters on keys: who wants to hear that an applied entry touched a key.
//!
//! A reserve that waits for an in-flight result registers a [`KeyWatcher`]
//! on its key and asks again (through the normal, linearizable path) only
//! when an applied entry has touched the key, or when the owner's lease is
//! due; it never polls the log or the leader. A touch is a hint, not an
//! answer: the waiter's next reserve takes its own read point, so a touch
//! seen early or late changes no answer, only when it is asked.
//!
//! The number of watchers is bounded; past the bound [`KeyWatch::watch`]
//! says no and the caller answers at once. Closing the watch (the node is
//! shutting down) wakes every watcher and admits no new one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use idem_core::KeyId;
use tokio::sync::Notify;

/// The waiters of one node, shared by the state machine (which touches
/// keys) and whoever serves waiting requests.
#[derive(Clone)]
pub struct KeyWatch {
    inner: Arc<Inner>,
}

struct Inner {
    keys: Mutex<HashMap<KeyId, Watched>>,
    watchers: AtomicUsize,
    limit: usize,
    closed: AtomicBool,
}

struct Watched {
    signal: Arc<Signal>,
    watchers: usize,
}

#[derive(Default)]
struct Signal {
    /// Bumped on every touch of the key (and on close).
    touches: AtomicU64,
    notify: Notify,
}

/// One registration on one key; deregisters when dropped.
pub struct KeyWatcher {
    inner: Arc<Inner>,
    id: KeyId,
    signal: Arc<Signal>,
    seen: u64,
}

/// Why [`KeyWatcher::changed`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyChange {
    /// An applied entry touched the key since the last call.
    Touched,
    /// The node is shutting down: answer now.
    Closed,
}

impl KeyWatch {
    /// At most `limit` watchers at a time.
    pub fn new(limit: usize) -> Self {
        KeyWatch {
            inner: Arc::new(Inner {
                keys: Mutex::new(HashMap::new()),
                watchers: AtomicUsize::new(0),
                limit,
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// Registers a watcher on `id`; `None` when the bound is reached or the
    /// watch is closed. Register *before* reading the key's state, so that a
    /// touch between the read and the wait is not missed.
    pub fn watch(&self, id: &KeyId) -> Option<KeyWatcher> {
        if self.inner.closed.load(Ordering::Acquire) {
            return None;
        }
        let taken = self
            .inner
            .watchers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.inner.limit).then_some(n + 1)
            });
        if taken.is_err() {
            return None;
        }
        let mut keys = self.inner.lock();
        let watched = keys.entry(id.clone()).or_insert_with(|| Watched {
            signal: Arc::default(),
            watchers: 0,
        });
        watched.watchers += 1;
        let signal = watched.signal.clone();
        let seen = signal.touches.load(Ordering::Acquire);
        Some(KeyWatcher {
            inner: self.inner.clone(),
            id: id.clone(),
            signal,
            seen,
        })
    }

    /// Whether anyone is watching (the state machine skips collecting the
    /// keys of an entry when nobody is).
    pub fn has_watchers(&self) -> bool {
        self.inner.watchers.load(Ordering::Acquire) > 0
    }

    /// How many watchers there are now.
    pub fn watchers(&self) -> usize {
        self.inner.watchers.load(Ordering::Acquire)
    }

    /// Wakes the watchers of each of `ids`.
    pub fn touch<'a>(&self, ids: impl IntoIterator<Item = &'a KeyId>) {
        if !self.has_watchers() {
            return;
        }
        let keys = self.inner.lock();
        for id in ids {
            if let Some(w) = keys.get(id) {
                w.signal.wake();
            }
        }
    }

    /// Wakes every watcher (the whole state was replaced by a snapshot).
    pub fn touch_all(&self) {
        for w in self.inner.lock().values() {
            w.signal.wake();
        }
    }

    /// Wakes every watcher for good and admits no new one.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.touch_all();
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, HashMap<KeyId, Watched>> {
        // A panic while holding the lock leaves the map consistent (every
        // update is one insert or one counter step), so go on with it.
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Signal {
    fn wake(&self) {
        self.touches.fetch_add(1, Ordering::AcqRel);
        self.notify.notify_waiters();
    }
}

impl KeyWatcher {
    /// Resolves when an applied entry touched the key since the watcher
    /// was registered or last returned, or when the watch closes.
    pub async fn changed(&mut self) -> KeyChange {
        loop {
            let notified = self.signal.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.closed.load(Ordering::Acquire) {
                return KeyChange::Closed;
            }
            let touches = self.signal.touches.load(Ordering::Acquire);
            if touches != self.seen {
                self.seen = touches;
                return KeyChange::Touched;
            }
            notified.await;
        }
    }
}

impl Drop for KeyWatcher {
    fn drop(&mut self) {
        let mut keys = self.inner.lock();
        if let Some(w) = keys.get_mut(&self.id) {
            w.watchers -= 1;
            if w.watchers == 0 {
                keys.remove(&self.id);
            }
        }
        drop(keys);
        self.inner.watchers.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use idem_core::{IdemKey, Namespace};

    use super::*;

    fn id(k: &str) -> KeyId {
        KeyId::new(Namespace::new("ns").unwrap(), IdemKey::new(k).unwrap())
    }

    #[tokio::test]
    async fn a_touch_wakes_the_watchers_of_that_key_only() {
        let watch = KeyWatch::new(10);
        let mut a = watch.watch(&id("a")).unwrap();
        let mut b = watch.watch(&id("b")).unwrap();
        watch.touch([&id("a")]);
        assert_eq!(a.changed().await, KeyChange::Touched);
        let waited = tokio::time::timeout(Duration::from_millis(50), b.changed()).await;
        assert!(waited.is_err(), "b was not touched");
        // A touch before the wait began is not lost.
        watch.touch([&id("b")]);
        assert_eq!(b.changed().await, KeyChange::Touched);
    }

    #[tokio::test]
    async fn watchers_are_bounded_and_counted_out_when_dropped() {
        let watch = KeyWatch::new(2);
        let one = watch.watch(&id("a")).unwrap();
        let two = watch.watch(&id("a")).unwrap();
        assert!(watch.watch(&id("b")).is_none(), "over the bound");
        drop(one);
        let three = watch.watch(&id("b")).unwrap();
        assert_eq!(watch.watchers(), 2);
        drop((two, three));
        assert_eq!(watch.watchers(), 0);
        assert!(watch.inner.lock().is_empty());
    }

    #[tokio::test]
    async fn closing_wakes_everyone_and_admits_nobody() {
        let watch = KeyWatch::new(10);
        let mut a = watch.watch(&id("a")).unwrap();
        let waiting = tokio::spawn(async move { a.changed().await });
        tokio::time::sleep(Duration::from_millis(10)).await;
        watch.close();
        assert_eq!(waiting.await.unwrap(), KeyChange::Closed);
        assert!(watch.watch(&id("a")).is_none());
    }
}
