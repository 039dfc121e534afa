//! Broadcast.
