//! Session tracker: ids, passwords, timeouts and expiry in tick buckets (SessionTrackerImpl,
//! ExpiryQueue). Time comes in as arguments; nothing here reads a clock.

use std::collections::{BTreeMap, HashMap};

mod password;

pub use password::session_password;

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session id.
    pub id: i64,
    /// Negotiated timeout, ms.
    pub timeout_ms: i32,
    /// When it expires unless touched, ms on the tracker's clock (a tick multiple).
    pub expires_at_ms: u64,
    /// Set once a closeSession for it is under way, so it is not closed twice.
    pub closing: bool,
}

/// Tracks sessions and their expiry.
#[derive(Debug)]
pub struct SessionTracker {
    tick_ms: u64,
    next_id: i64,
    sessions: HashMap<i64, Session>,
    /// expiry bucket -> session ids, for ticking without scanning every session.
    buckets: BTreeMap<u64, Vec<i64>>,
}

/// The first session id of a server: the top byte is the server id, then 40 bits of
/// milliseconds, then 16 zero bits (SessionTrackerImpl.initializeNextSessionId).
pub fn initial_session_id(now_ms: u64, server_id: u8) -> i64 {
    let mut id = (((now_ms as i64) << 24) as u64 >> 8) as i64 | (i64::from(server_id) << 56);
    if id == i64::MIN {
        id += 1;
    }
    id
}

impl SessionTracker {
    /// A tracker whose ids start from `first_id` and expire in `tick_ms` buckets.
    pub fn new(tick_ms: u64, first_id: i64) -> SessionTracker {
        SessionTracker {
            tick_ms: tick_ms.max(1),
            next_id: first_id,
            sessions: HashMap::new(),
            buckets: BTreeMap::new(),
        }
    }

    fn bucket_for(&self, now_ms: u64, timeout_ms: i32) -> u64 {
        // roundToNextInterval: the expiry is moved up to the next tick boundary.
        let t = now_ms + timeout_ms.max(0) as u64;
        (t / self.tick_ms + 1) * self.tick_ms
    }

    /// Allocates the next session id.
    pub fn next_session_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Adds a session (from a createSession txn or a restart).
    pub fn add(&mut self, id: i64, timeout_ms: i32, now_ms: u64) {
        let at = self.bucket_for(now_ms, timeout_ms);
        self.sessions.insert(
            id,
            Session {
                id,
                timeout_ms,
                expires_at_ms: at,
                closing: false,
            },
        );
        self.buckets.entry(at).or_default().push(id);
        if id >= self.next_id && (id >> 56) == (self.next_id >> 56) {
            self.next_id = id + 1;
        }
    }

    /// Extends a session's life; false if it is unknown or closing.
    pub fn touch(&mut self, id: i64, now_ms: u64) -> bool {
        let Some(timeout) = self
            .sessions
            .get(&id)
            .filter(|s| !s.closing)
            .map(|s| s.timeout_ms)
        else {
            return false;
        };
        let at = self.bucket_for(now_ms, timeout);
        if let Some(s) = self.sessions.get_mut(&id) {
            if s.expires_at_ms != at {
                s.expires_at_ms = at;
                self.buckets.entry(at).or_default().push(id);
            }
        }
        true
    }

    /// Changes a session's timeout (a reconnect negotiates a new one).
    pub fn set_timeout(&mut self, id: i64, timeout_ms: i32) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.timeout_ms = timeout_ms;
        }
    }

    /// The session, if alive.
    pub fn get(&self, id: i64) -> Option<&Session> {
        self.sessions.get(&id)
    }

    /// Whether the session exists and is not closing.
    pub fn is_valid(&self, id: i64) -> bool {
        self.sessions.get(&id).is_some_and(|s| !s.closing)
    }

    /// Marks a session as closing (no more touches); false if unknown.
    pub fn set_closing(&mut self, id: i64) -> bool {
        match self.sessions.get_mut(&id) {
            Some(s) => {
                s.closing = true;
                true
            }
            None => false,
        }
    }

    /// Forgets a session (its closeSession txn was applied).
    pub fn remove(&mut self, id: i64) {
        self.sessions.remove(&id);
    }

    /// Sessions whose expiry time has come, marked closing.
    pub fn expired(&mut self, now_ms: u64) -> Vec<i64> {
        let mut out = Vec::new();
        let due: Vec<u64> = self.buckets.range(..=now_ms).map(|(k, _)| *k).collect();
        for k in due {
            for id in self.buckets.remove(&k).unwrap_or_default() {
                if let Some(s) = self.sessions.get_mut(&id) {
                    // Entries left behind by touches point at an older bucket: skip them.
                    if s.expires_at_ms == k && !s.closing {
                        s.closing = true;
                        out.push(id);
                    }
                }
            }
        }
        out
    }

    /// Every live session with its timeout.
    pub fn all(&self) -> impl Iterator<Item = &Session> {
        self.sessions.values()
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standalone_ids_start_with_server_id_one() {
        let id = initial_session_id(0x0123_4567_89ab, 1);
        assert_eq!(id as u64 >> 56, 1);
        assert_eq!(id & 0xffff, 0);
        assert_eq!((id >> 16) & 0xff_ffff_ffff, 0x23_4567_89ab);
    }

    #[test]
    fn expiry_is_bucketed_by_tick() {
        let mut t = SessionTracker::new(2000, 100);
        let id = t.next_session_id();
        t.add(id, 4000, 1000);
        // 1000 + 4000 = 5000 rounds up to 6000.
        assert_eq!(t.get(id).unwrap().expires_at_ms, 6000);
        assert!(t.expired(5999).is_empty());
        assert!(t.touch(id, 3000));
        assert!(t.expired(6000).is_empty(), "touched into a later bucket");
        assert_eq!(t.expired(8000), vec![id]);
        assert!(!t.touch(id, 8000), "a closing session is not revived");
    }
}
