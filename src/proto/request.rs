//! The client request, decoded by opcode.

use crate::jute::{Jute, JuteError};
use crate::proto::acl::{AuthPacket, SetAclRequest};
use crate::proto::codes::op;
use crate::proto::data::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, PathRequest,
    PathWatchRequest, ReconfigRequest, SaslRecord, SetDataRequest,
};
use crate::proto::multi::MultiRequest;
use crate::proto::watch::{AddWatchRequest, SetWatches, SetWatches2, WatchesRequest};

/// A decoded client request body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Request {
    /// create (1), create2 (15) and createContainer (19), with their opcode.
    Create(i32, CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    Exists(PathWatchRequest),
    GetData(PathWatchRequest),
    SetData(SetDataRequest),
    GetAcl(PathRequest),
    SetAcl(SetAclRequest),
    GetChildren(PathWatchRequest),
    GetChildren2(PathWatchRequest),
    Sync(PathRequest),
    Ping,
    Check(CheckVersionRequest),
    Multi(MultiRequest),
    MultiRead(MultiRequest),
    Reconfig(ReconfigRequest),
    CheckWatches(WatchesRequest),
    RemoveWatches(WatchesRequest),
    Auth(AuthPacket),
    SetWatches(SetWatches),
    SetWatches2(SetWatches2),
    Sasl(SaslRecord),
    GetEphemerals(PathRequest),
    GetAllChildrenNumber(PathRequest),
    AddWatch(AddWatchRequest),
    WhoAmI,
    CloseSession,
}

/// Why a request body could not be turned into a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The opcode is not one a client may send.
    #[error("unknown opcode {0}")]
    UnknownOp(i32),
    /// The body does not decode as the opcode's record.
    #[error("malformed body for opcode {0}: {1}")]
    Malformed(i32, JuteError),
}

fn body<T: Jute>(ty: i32, b: &[u8]) -> Result<T, RequestError> {
    // Java's reader ignores bytes after the record, so trailing bytes are tolerated here too.
    T::read(b)
        .map(|(_, v)| v)
        .map_err(|e| RequestError::Malformed(ty, e))
}

/// A multi must hold only writes and a multiRead only reads; ZooKeeper's record refuses a
/// mix while decoding, which the client sees as MARSHALLINGERROR.
fn multi(ty: i32, b: &[u8], reads: bool) -> Result<MultiRequest, RequestError> {
    let m: MultiRequest = body(ty, b)?;
    if m.ops.iter().any(|o| o.is_read() != reads) {
        return Err(RequestError::Malformed(
            ty,
            JuteError::Invalid("read and write ops mixed in one multi".into()),
        ));
    }
    Ok(m)
}

impl Request {
    /// Decodes the body of a request of type `ty`.
    pub fn decode(ty: i32, b: &[u8]) -> Result<Request, RequestError> {
        Ok(match ty {
            op::CREATE | op::CREATE2 | op::CREATE_CONTAINER => Request::Create(ty, body(ty, b)?),
            op::CREATE_TTL => Request::CreateTtl(body(ty, b)?),
            op::DELETE => Request::Delete(body(ty, b)?),
            op::EXISTS => Request::Exists(body(ty, b)?),
            op::GET_DATA => Request::GetData(body(ty, b)?),
            op::SET_DATA => Request::SetData(body(ty, b)?),
            op::GET_ACL => Request::GetAcl(body(ty, b)?),
            op::SET_ACL => Request::SetAcl(body(ty, b)?),
            op::GET_CHILDREN => Request::GetChildren(body(ty, b)?),
            op::GET_CHILDREN2 => Request::GetChildren2(body(ty, b)?),
            op::SYNC => Request::Sync(body(ty, b)?),
            op::PING => Request::Ping,
            op::CHECK => Request::Check(body(ty, b)?),
            op::MULTI => Request::Multi(multi(ty, b, false)?),
            op::MULTI_READ => Request::MultiRead(multi(ty, b, true)?),
            op::RECONFIG => Request::Reconfig(body(ty, b)?),
            op::CHECK_WATCHES => Request::CheckWatches(body(ty, b)?),
            op::REMOVE_WATCHES => Request::RemoveWatches(body(ty, b)?),
            op::AUTH => Request::Auth(body(ty, b)?),
            op::SET_WATCHES => Request::SetWatches(body(ty, b)?),
            op::SET_WATCHES2 => Request::SetWatches2(body(ty, b)?),
            op::SASL => Request::Sasl(body(ty, b)?),
            op::GET_EPHEMERALS => Request::GetEphemerals(body(ty, b)?),
            op::GET_ALL_CHILDREN_NUMBER => Request::GetAllChildrenNumber(body(ty, b)?),
            op::ADD_WATCH => Request::AddWatch(body(ty, b)?),
            op::WHO_AM_I => Request::WhoAmI,
            op::CLOSE_SESSION => Request::CloseSession,
            other => return Err(RequestError::UnknownOp(other)),
        })
    }

    /// Whether the request changes state and so takes a zxid (a txn, possibly an ErrorTxn).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Create(..)
                | Request::CreateTtl(_)
                | Request::Delete(_)
                | Request::SetData(_)
                | Request::SetAcl(_)
                | Request::Check(_)
                | Request::Multi(_)
                | Request::Reconfig(_)
                | Request::CloseSession
        )
    }
}

/// Whether an opcode is one of the writes that take a zxid even when they fail.
pub fn is_write_op(ty: i32) -> bool {
    matches!(
        ty,
        op::CREATE
            | op::CREATE2
            | op::CREATE_CONTAINER
            | op::CREATE_TTL
            | op::DELETE
            | op::SET_DATA
            | op::SET_ACL
            | op::CHECK
            | op::MULTI
            | op::RECONFIG
            | op::CLOSE_SESSION
    )
}
