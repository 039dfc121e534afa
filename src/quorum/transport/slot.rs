//! A peer's send queue: QuorumCnxManager's `CircularBlockingQueue(SEND_CAPACITY = 1)`.
//!
//! Putting into a full queue drops the message already there: an election notification
//! is superseded by the next one, and a peer must never be sent a stale vote after a
//! newer one (the reason SEND_CAPACITY is 1).

use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::Notify;

use super::limits::SEND_CAPACITY;

const _: () = assert!(SEND_CAPACITY == 1, "SendSlot holds exactly one message");

/// One framed message waiting for the peer's writer.
#[derive(Debug, Default)]
pub(crate) struct SendSlot {
    msg: Mutex<Option<Bytes>>,
    ready: Notify,
}

impl SendSlot {
    /// Queue `frame`, replacing (and dropping) any message not yet taken.
    pub(crate) fn put(&self, frame: Bytes) {
        *lock(&self.msg) = Some(frame);
        self.ready.notify_one();
    }

    /// Whether nothing waits: Java's `queue.size() == 0` in haveDelivered.
    pub(crate) fn is_empty(&self) -> bool {
        lock(&self.msg).is_none()
    }

    /// Wait for a message and take it (SendWorker's pollSendQueue).
    pub(crate) async fn take(&self) -> Bytes {
        loop {
            // Registered before looking, so a put between the look and the wait is seen.
            let notified = self.ready.notified();
            if let Some(frame) = lock(&self.msg).take() {
                return frame;
            }
            notified.await;
        }
    }
}

/// A poisoned lock still guards a valid `Option`; keep going.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_only_the_newest() {
        let slot = SendSlot::default();
        assert!(slot.is_empty());
        slot.put(Bytes::from_static(b"old"));
        slot.put(Bytes::from_static(b"new"));
        assert!(!slot.is_empty());
        assert_eq!(slot.take().await, Bytes::from_static(b"new"));
        assert!(slot.is_empty());
    }

    #[tokio::test]
    async fn take_waits_for_a_put() {
        let slot = std::sync::Arc::new(SendSlot::default());
        let s = slot.clone();
        let taker = tokio::spawn(async move { s.take().await });
        tokio::task::yield_now().await;
        slot.put(Bytes::from_static(b"x"));
        assert_eq!(taker.await.ok(), Some(Bytes::from_static(b"x")));
    }
}
