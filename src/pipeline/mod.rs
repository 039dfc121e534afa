//! The request pipeline: prep (checks, txn), apply (the tree), reads.

pub mod acl;
pub mod apply;
pub mod pending;
pub mod prep;
pub mod read;
pub mod reconfig;
pub mod uncommitted;
