//! multi (op 14) and multiRead (op 22): a sequence of MultiHeader + record, closed by a done header.

use bytes::BytesMut;

use crate::jute::{jute_record, JResult, Jute, JuteError};
use crate::proto::codes::op;
use crate::proto::data::{
    CheckVersionRequest, Create2Response, CreateRequest, CreateResponse, CreateTtlRequest,
    DeleteRequest, ErrorResponse, GetChildrenResponse, GetDataResponse, PathWatchRequest,
    SetDataRequest, StatResponse,
};

jute_record! {
    /// Precedes each op and each result; `done` closes the sequence.
    pub struct MultiHeader { pub r#type: i32, pub done: bool, pub err: i32 }
}

/// One op of a multi or multiRead request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum MultiOp {
    /// create (1), create2 (15) or createContainer (19): the type is kept for the reply.
    Create(i32, CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetChildren(PathWatchRequest),
    GetData(PathWatchRequest),
}

impl MultiOp {
    /// The op type written in its MultiHeader.
    pub fn op_type(&self) -> i32 {
        match self {
            MultiOp::Create(t, _) => *t,
            MultiOp::CreateTtl(_) => op::CREATE_TTL,
            MultiOp::Delete(_) => op::DELETE,
            MultiOp::SetData(_) => op::SET_DATA,
            MultiOp::Check(_) => op::CHECK,
            MultiOp::GetChildren(_) => op::GET_CHILDREN,
            MultiOp::GetData(_) => op::GET_DATA,
        }
    }

    /// Whether the op reads (multiRead) rather than writes (multi).
    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetChildren(_) | MultiOp::GetData(_))
    }
}

/// A multi request: the ops in order. An op type that no multi accepts is kept as
/// `Err(type)` so the server can answer as ZooKeeper does instead of dropping the connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiRequest {
    /// The ops, in order.
    pub ops: Vec<MultiOp>,
}

impl Jute for MultiRequest {
    fn read(mut i: &[u8]) -> JResult<'_, Self> {
        let mut ops = Vec::new();
        loop {
            let (rest, h) = MultiHeader::read(i)?;
            i = rest;
            if h.done {
                return Ok((i, MultiRequest { ops }));
            }
            let (rest, o) = match h.r#type {
                op::CREATE | op::CREATE2 | op::CREATE_CONTAINER => {
                    let (r, c) = CreateRequest::read(i)?;
                    (r, MultiOp::Create(h.r#type, c))
                }
                op::CREATE_TTL => {
                    let (r, c) = CreateTtlRequest::read(i)?;
                    (r, MultiOp::CreateTtl(c))
                }
                op::DELETE => {
                    let (r, c) = DeleteRequest::read(i)?;
                    (r, MultiOp::Delete(c))
                }
                op::SET_DATA => {
                    let (r, c) = SetDataRequest::read(i)?;
                    (r, MultiOp::SetData(c))
                }
                op::CHECK => {
                    let (r, c) = CheckVersionRequest::read(i)?;
                    (r, MultiOp::Check(c))
                }
                op::GET_CHILDREN => {
                    let (r, c) = PathWatchRequest::read(i)?;
                    (r, MultiOp::GetChildren(c))
                }
                op::GET_DATA => {
                    let (r, c) = PathWatchRequest::read(i)?;
                    (r, MultiOp::GetData(c))
                }
                other => return Err(JuteError::Invalid(format!("multi op type {other}"))),
            };
            i = rest;
            ops.push(o);
        }
    }

    fn write(&self, out: &mut BytesMut) {
        for o in &self.ops {
            MultiHeader {
                r#type: o.op_type(),
                done: false,
                err: -1,
            }
            .write(out);
            match o {
                MultiOp::Create(_, c) => c.write(out),
                MultiOp::CreateTtl(c) => c.write(out),
                MultiOp::Delete(c) => c.write(out),
                MultiOp::SetData(c) => c.write(out),
                MultiOp::Check(c) => c.write(out),
                MultiOp::GetChildren(c) | MultiOp::GetData(c) => c.write(out),
            }
        }
        MultiHeader {
            r#type: -1,
            done: true,
            err: -1,
        }
        .write(out);
    }
}

/// One result of a multi or multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum MultiResult {
    Create(CreateResponse),
    /// Results of create2, createContainer and createTTL.
    Create2(Create2Response),
    Delete,
    SetData(StatResponse),
    Check,
    GetChildren(GetChildrenResponse),
    GetData(GetDataResponse),
    /// A failed op (type -1): the code.
    Error(i32),
}

/// A multi response: the results in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiResponse {
    /// The results, in op order.
    pub results: Vec<MultiResult>,
}

impl Jute for MultiResponse {
    fn read(mut i: &[u8]) -> JResult<'_, Self> {
        let mut results = Vec::new();
        loop {
            let (rest, h) = MultiHeader::read(i)?;
            i = rest;
            if h.done {
                return Ok((i, MultiResponse { results }));
            }
            let (rest, r) = match h.r#type {
                op::CREATE => {
                    let (r, c) = CreateResponse::read(i)?;
                    (r, MultiResult::Create(c))
                }
                op::CREATE2 => {
                    let (r, c) = Create2Response::read(i)?;
                    (r, MultiResult::Create2(c))
                }
                op::DELETE => (i, MultiResult::Delete),
                op::CHECK => (i, MultiResult::Check),
                op::SET_DATA => {
                    let (r, c) = StatResponse::read(i)?;
                    (r, MultiResult::SetData(c))
                }
                op::GET_CHILDREN => {
                    let (r, c) = GetChildrenResponse::read(i)?;
                    (r, MultiResult::GetChildren(c))
                }
                op::GET_DATA => {
                    let (r, c) = GetDataResponse::read(i)?;
                    (r, MultiResult::GetData(c))
                }
                op::ERROR => {
                    let (r, c) = ErrorResponse::read(i)?;
                    (r, MultiResult::Error(c.err))
                }
                other => return Err(JuteError::Invalid(format!("multi result type {other}"))),
            };
            i = rest;
            results.push(r);
        }
    }

    fn write(&self, out: &mut BytesMut) {
        for r in &self.results {
            let (ty, err) = match r {
                MultiResult::Create(_) => (op::CREATE, 0),
                MultiResult::Create2(_) => (op::CREATE2, 0),
                MultiResult::Delete => (op::DELETE, 0),
                MultiResult::SetData(_) => (op::SET_DATA, 0),
                MultiResult::Check => (op::CHECK, 0),
                MultiResult::GetChildren(_) => (op::GET_CHILDREN, 0),
                MultiResult::GetData(_) => (op::GET_DATA, 0),
                MultiResult::Error(e) => (op::ERROR, *e),
            };
            MultiHeader {
                r#type: ty,
                done: false,
                err,
            }
            .write(out);
            match r {
                MultiResult::Create(c) => c.write(out),
                MultiResult::Create2(c) => c.write(out),
                MultiResult::SetData(c) => c.write(out),
                MultiResult::GetChildren(c) => c.write(out),
                MultiResult::GetData(c) => c.write(out),
                MultiResult::Error(e) => ErrorResponse { err: *e }.write(out),
                MultiResult::Delete | MultiResult::Check => {}
            }
        }
        MultiHeader {
            r#type: -1,
            done: true,
            err: -1,
        }
        .write(out);
    }
}
