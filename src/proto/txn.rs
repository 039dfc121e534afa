//! Transaction records: what a write becomes before it is logged, proposed and applied.
//! The bytes are ZooKeeper's own, so Java servers and Ferrokeeper can exchange them.

use bytes::BytesMut;

use crate::jute::{jute_record, JResult, Jute, JuteError};
use crate::proto::acl::Acl;
use crate::proto::codes::op;

jute_record! {
    /// Precedes every txn in the log and in proposals.
    pub struct TxnHeader { pub client_id: i64, pub cxid: i32, pub zxid: i64, pub time: i64, pub r#type: i32 }
}
jute_record! {
    /// create / create2 (types 1, 15).
    pub struct CreateTxn { pub path: String, pub data: Option<Vec<u8>>, pub acl: Vec<Acl>, pub ephemeral: bool, pub parent_cversion: i32 }
}
jute_record! {
    /// createTTL (type 21).
    pub struct CreateTtlTxn { pub path: String, pub data: Option<Vec<u8>>, pub acl: Vec<Acl>, pub parent_cversion: i32, pub ttl: i64 }
}
jute_record! {
    /// createContainer (type 19).
    pub struct CreateContainerTxn { pub path: String, pub data: Option<Vec<u8>>, pub acl: Vec<Acl>, pub parent_cversion: i32 }
}
jute_record! {
    /// delete and deleteContainer (types 2, 20).
    pub struct DeleteTxn { pub path: String }
}
jute_record! {
    /// setData (type 5); version is the node's new version.
    pub struct SetDataTxn { pub path: String, pub data: Option<Vec<u8>>, pub version: i32 }
}
jute_record! {
    /// setACL (type 7); version is the new aversion.
    pub struct SetAclTxn { pub path: String, pub acl: Vec<Acl>, pub version: i32 }
}
jute_record! {
    /// check (type 13), inside multi only.
    pub struct CheckVersionTxn { pub path: String, pub version: i32 }
}
jute_record! {
    /// createSession (type -10).
    pub struct CreateSessionTxn { pub time_out: i32 }
}
jute_record! {
    /// closeSession (type -11): the ephemerals it deletes.
    pub struct CloseSessionTxn { pub paths2_delete: Vec<String> }
}
jute_record! {
    /// A failed write (type -1).
    pub struct ErrorTxn { pub err: i32 }
}
jute_record! {
    /// One sub-transaction of a multi: its type and its serialized record.
    pub struct MultiTxnEntry { pub r#type: i32, pub data: Vec<u8> }
}
jute_record! {
    /// multi (type 14).
    pub struct MultiTxn { pub txns: Vec<MultiTxnEntry> }
}
jute_record! {
    /// The tree digest that may follow a txn record.
    pub struct TxnDigest { pub version: i32, pub tree_digest: i64 }
}

/// A txn record, tagged by the header type that selects it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Txn {
    Create(i32, CreateTxn),
    CreateTtl(CreateTtlTxn),
    CreateContainer(CreateContainerTxn),
    Delete(i32, DeleteTxn),
    SetData(SetDataTxn),
    SetAcl(SetAclTxn),
    Check(CheckVersionTxn),
    CreateSession(CreateSessionTxn),
    /// `None`: an old log's closeSession without a body.
    CloseSession(Option<CloseSessionTxn>),
    Error(ErrorTxn),
    Multi(Vec<Txn>),
    /// Reconfig logs a SetDataTxn under type 16.
    Reconfig(SetDataTxn),
}

impl Txn {
    /// The TxnHeader type for this record.
    pub fn op_type(&self) -> i32 {
        match self {
            Txn::Create(t, _) | Txn::Delete(t, _) => *t,
            Txn::CreateTtl(_) => op::CREATE_TTL,
            Txn::CreateContainer(_) => op::CREATE_CONTAINER,
            Txn::SetData(_) => op::SET_DATA,
            Txn::SetAcl(_) => op::SET_ACL,
            Txn::Check(_) => op::CHECK,
            Txn::CreateSession(_) => op::CREATE_SESSION,
            Txn::CloseSession(_) => op::CLOSE_SESSION,
            Txn::Error(_) => op::ERROR,
            Txn::Multi(_) => op::MULTI,
            Txn::Reconfig(_) => op::RECONFIG,
        }
    }

    /// Appends the record (not the header).
    pub fn write(&self, out: &mut BytesMut) {
        match self {
            Txn::Create(_, t) => t.write(out),
            Txn::CreateTtl(t) => t.write(out),
            Txn::CreateContainer(t) => t.write(out),
            Txn::Delete(_, t) => t.write(out),
            Txn::SetData(t) | Txn::Reconfig(t) => t.write(out),
            Txn::SetAcl(t) => t.write(out),
            Txn::Check(t) => t.write(out),
            Txn::CreateSession(t) => t.write(out),
            Txn::CloseSession(t) => {
                if let Some(t) = t {
                    t.write(out)
                }
            }
            Txn::Error(t) => t.write(out),
            Txn::Multi(txns) => {
                let entries: Vec<MultiTxnEntry> = txns
                    .iter()
                    .map(|t| {
                        let mut b = BytesMut::new();
                        t.write(&mut b);
                        MultiTxnEntry {
                            r#type: t.op_type(),
                            data: b.to_vec(),
                        }
                    })
                    .collect();
                MultiTxn { txns: entries }.write(out)
            }
        }
    }

    /// Decodes the record for header type `ty` from the front of `i`.
    pub fn read(ty: i32, i: &[u8]) -> JResult<'_, Txn> {
        Ok(match ty {
            op::CREATE | op::CREATE2 => {
                let (i, t) = CreateTxn::read(i)?;
                (i, Txn::Create(ty, t))
            }
            op::CREATE_TTL => {
                let (i, t) = CreateTtlTxn::read(i)?;
                (i, Txn::CreateTtl(t))
            }
            op::CREATE_CONTAINER => {
                let (i, t) = CreateContainerTxn::read(i)?;
                (i, Txn::CreateContainer(t))
            }
            op::DELETE | op::DELETE_CONTAINER => {
                let (i, t) = DeleteTxn::read(i)?;
                (i, Txn::Delete(ty, t))
            }
            op::SET_DATA => {
                let (i, t) = SetDataTxn::read(i)?;
                (i, Txn::SetData(t))
            }
            op::RECONFIG => {
                let (i, t) = SetDataTxn::read(i)?;
                (i, Txn::Reconfig(t))
            }
            op::SET_ACL => {
                let (i, t) = SetAclTxn::read(i)?;
                (i, Txn::SetAcl(t))
            }
            op::CHECK => {
                let (i, t) = CheckVersionTxn::read(i)?;
                (i, Txn::Check(t))
            }
            op::CREATE_SESSION => {
                let (i, t) = CreateSessionTxn::read(i)?;
                (i, Txn::CreateSession(t))
            }
            op::CLOSE_SESSION => {
                if i.is_empty() {
                    (i, Txn::CloseSession(None))
                } else {
                    let (i, t) = CloseSessionTxn::read(i)?;
                    (i, Txn::CloseSession(Some(t)))
                }
            }
            op::ERROR => {
                let (i, t) = ErrorTxn::read(i)?;
                (i, Txn::Error(t))
            }
            op::MULTI => {
                let (i, m) = MultiTxn::read(i)?;
                let mut txns = Vec::with_capacity(m.txns.len());
                for e in &m.txns {
                    txns.push(Txn::from_sub(e.r#type, &e.data)?);
                }
                (i, Txn::Multi(txns))
            }
            other => return Err(JuteError::Invalid(format!("txn type {other}"))),
        })
    }

    fn from_sub(ty: i32, data: &[u8]) -> Result<Txn, JuteError> {
        let (_, t) = Txn::read(ty, data)?;
        Ok(t)
    }
}

/// A whole txn entry: header, record and optional digest, as ZooKeeper logs and proposes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnEntry {
    /// The header.
    pub header: TxnHeader,
    /// The record.
    pub txn: Txn,
    /// The tree digest after the txn, when digests are on.
    pub digest: Option<TxnDigest>,
}

impl TxnEntry {
    /// Serializes header ‖ record ‖ digest.
    pub fn to_bytes(&self) -> BytesMut {
        let mut b = BytesMut::with_capacity(64);
        self.header.write(&mut b);
        self.txn.write(&mut b);
        if let Some(d) = &self.digest {
            d.write(&mut b);
        }
        b
    }

    /// Parses header ‖ record ‖ optional digest (detected by what is left, as ZooKeeper does).
    pub fn from_bytes(i: &[u8]) -> Result<TxnEntry, JuteError> {
        let (i, header) = TxnHeader::read(i)?;
        let (i, txn) = Txn::read(header.r#type, i)?;
        let digest = if i.is_empty() {
            None
        } else {
            Some(TxnDigest::from_bytes(i)?)
        };
        Ok(TxnEntry {
            header,
            txn,
            digest,
        })
    }
}
