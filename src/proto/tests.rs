//! Round trips for every record in `proto`: value -> bytes -> the same value, and
//! bytes -> value -> the same bytes.

use std::fmt::Debug;

use bytes::BytesMut;
use proptest::prelude::*;

use crate::jute::{Jute, JuteError};
use crate::proto::*;

/// encode -> decode gives the value back (taking all bytes), and re-encoding the
/// decoded value gives the same bytes.
fn rt<T: Jute + PartialEq + Debug>(v: &T) -> BytesMut {
    let b = v.to_bytes();
    let d = T::from_bytes(&b).unwrap_or_else(|e| panic!("{v:?}: {e}"));
    assert_eq!(&d, v);
    assert_eq!(d.to_bytes(), b);
    // No strict prefix decodes to the same value.
    for cut in [0, b.len() / 2, b.len().saturating_sub(1)] {
        if cut < b.len() {
            assert_ne!(T::from_bytes(&b[..cut]).as_ref(), Ok(v));
        }
    }
    b
}

/// A request body as the client encodes it, with its opcode.
fn encode_request(r: &Request) -> (i32, BytesMut) {
    let mut b = BytesMut::new();
    let o = match r {
        Request::Create(t, x) => {
            x.write(&mut b);
            *t
        }
        Request::CreateTtl(x) => {
            x.write(&mut b);
            op::CREATE_TTL
        }
        Request::Delete(x) => {
            x.write(&mut b);
            op::DELETE
        }
        Request::Exists(x) => {
            x.write(&mut b);
            op::EXISTS
        }
        Request::GetData(x) => {
            x.write(&mut b);
            op::GET_DATA
        }
        Request::SetData(x) => {
            x.write(&mut b);
            op::SET_DATA
        }
        Request::GetAcl(x) => {
            x.write(&mut b);
            op::GET_ACL
        }
        Request::SetAcl(x) => {
            x.write(&mut b);
            op::SET_ACL
        }
        Request::GetChildren(x) => {
            x.write(&mut b);
            op::GET_CHILDREN
        }
        Request::GetChildren2(x) => {
            x.write(&mut b);
            op::GET_CHILDREN2
        }
        Request::Sync(x) => {
            x.write(&mut b);
            op::SYNC
        }
        Request::Ping => op::PING,
        Request::Check(x) => {
            x.write(&mut b);
            op::CHECK
        }
        Request::Multi(x) => {
            x.write(&mut b);
            op::MULTI
        }
        Request::MultiRead(x) => {
            x.write(&mut b);
            op::MULTI_READ
        }
        Request::Reconfig(x) => {
            x.write(&mut b);
            op::RECONFIG
        }
        Request::CheckWatches(x) => {
            x.write(&mut b);
            op::CHECK_WATCHES
        }
        Request::RemoveWatches(x) => {
            x.write(&mut b);
            op::REMOVE_WATCHES
        }
        Request::Auth(x) => {
            x.write(&mut b);
            op::AUTH
        }
        Request::SetWatches(x) => {
            x.write(&mut b);
            op::SET_WATCHES
        }
        Request::SetWatches2(x) => {
            x.write(&mut b);
            op::SET_WATCHES2
        }
        Request::Sasl(x) => {
            x.write(&mut b);
            op::SASL
        }
        Request::GetEphemerals(x) => {
            x.write(&mut b);
            op::GET_EPHEMERALS
        }
        Request::GetAllChildrenNumber(x) => {
            x.write(&mut b);
            op::GET_ALL_CHILDREN_NUMBER
        }
        Request::AddWatch(x) => {
            x.write(&mut b);
            op::ADD_WATCH
        }
        Request::WhoAmI => op::WHO_AM_I,
        Request::CloseSession => op::CLOSE_SESSION,
    };
    (o, b)
}

fn rt_request(r: &Request) {
    let (o, b) = encode_request(r);
    let d = Request::decode(o, &b).unwrap_or_else(|e| panic!("{r:?}: {e}"));
    assert_eq!(&d, r);
    assert_eq!(encode_request(&d), (o, b));
}

fn rt_txn_entry(e: &TxnEntry) {
    let b = e.to_bytes();
    let d = TxnEntry::from_bytes(&b).unwrap_or_else(|err| panic!("{e:?}: {err}"));
    assert_eq!(&d, e);
    assert_eq!(d.to_bytes(), b);
}

// ---- strategies ----

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z/.0-9-]{0,12}",
        any::<String>().prop_map(|s| s.chars().take(6).collect()),
    ]
}

fn buf() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..20)
}

fn opt_buf() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop::option::of(buf())
}

fn strings() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(string(), 0..4)
}

fn id() -> impl Strategy<Value = Id> {
    (string(), string()).prop_map(|(scheme, id)| Id { scheme, id })
}

fn acl() -> impl Strategy<Value = Acl> {
    (any::<i32>(), id()).prop_map(|(perms, id)| Acl { perms, id })
}

fn acls() -> impl Strategy<Value = Vec<Acl>> {
    prop::collection::vec(acl(), 0..3)
}

fn stat() -> impl Strategy<Value = Stat> {
    (
        (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>()),
        (any::<i32>(), any::<i32>(), any::<i32>()),
        (any::<i64>(), any::<i32>(), any::<i32>(), any::<i64>()),
    )
        .prop_map(
            |((czxid, mzxid, ctime, mtime), (version, cversion, aversion), (eo, dl, nc, pzxid))| {
                Stat {
                    czxid,
                    mzxid,
                    ctime,
                    mtime,
                    version,
                    cversion,
                    aversion,
                    ephemeral_owner: eo,
                    data_length: dl,
                    num_children: nc,
                    pzxid,
                }
            },
        )
}

fn create_req() -> impl Strategy<Value = CreateRequest> {
    (string(), opt_buf(), acls(), any::<i32>()).prop_map(|(path, data, acl, flags)| CreateRequest {
        path,
        data,
        acl,
        flags,
    })
}

fn create_ttl_req() -> impl Strategy<Value = CreateTtlRequest> {
    (string(), opt_buf(), acls(), any::<i32>(), any::<i64>()).prop_map(
        |(path, data, acl, flags, ttl)| CreateTtlRequest {
            path,
            data,
            acl,
            flags,
            ttl,
        },
    )
}

fn path_watch() -> impl Strategy<Value = PathWatchRequest> {
    (string(), any::<bool>()).prop_map(|(path, watch)| PathWatchRequest { path, watch })
}

fn path_req() -> impl Strategy<Value = PathRequest> {
    string().prop_map(|path| PathRequest { path })
}

fn path_version() -> impl Strategy<Value = (String, i32)> {
    (string(), any::<i32>())
}

fn set_data_req() -> impl Strategy<Value = SetDataRequest> {
    (string(), opt_buf(), any::<i32>()).prop_map(|(path, data, version)| SetDataRequest {
        path,
        data,
        version,
    })
}

fn multi_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        (prop_oneof![Just(1), Just(15), Just(19)], create_req())
            .prop_map(|(t, c)| MultiOp::Create(t, c)),
        create_ttl_req().prop_map(MultiOp::CreateTtl),
        path_version().prop_map(|(path, version)| MultiOp::Delete(DeleteRequest { path, version })),
        set_data_req().prop_map(MultiOp::SetData),
        path_version()
            .prop_map(|(path, version)| MultiOp::Check(CheckVersionRequest { path, version })),
        path_watch().prop_map(MultiOp::GetChildren),
        path_watch().prop_map(MultiOp::GetData),
    ]
}

fn multi_req() -> impl Strategy<Value = MultiRequest> {
    prop::collection::vec(multi_op(), 0..5).prop_map(|ops| MultiRequest { ops })
}

/// A multi (writes only) or a multiRead (reads only): Request::decode refuses a mix.
fn multi_of(reads: bool) -> impl Strategy<Value = MultiRequest> {
    prop::collection::vec(multi_op(), 0..5).prop_map(move |ops| MultiRequest {
        ops: ops.into_iter().filter(|o| o.is_read() == reads).collect(),
    })
}

fn multi_result() -> impl Strategy<Value = MultiResult> {
    prop_oneof![
        string().prop_map(|path| MultiResult::Create(CreateResponse { path })),
        (string(), stat())
            .prop_map(|(path, stat)| MultiResult::Create2(Create2Response { path, stat })),
        Just(MultiResult::Delete),
        stat().prop_map(|stat| MultiResult::SetData(StatResponse { stat })),
        Just(MultiResult::Check),
        strings().prop_map(|children| MultiResult::GetChildren(GetChildrenResponse { children })),
        (opt_buf(), stat())
            .prop_map(|(data, stat)| MultiResult::GetData(GetDataResponse { data, stat })),
        any::<i32>().prop_map(MultiResult::Error),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (prop_oneof![Just(1), Just(15), Just(19)], create_req())
            .prop_map(|(t, c)| Request::Create(t, c)),
        create_ttl_req().prop_map(Request::CreateTtl),
        path_version().prop_map(|(path, version)| Request::Delete(DeleteRequest { path, version })),
        path_watch().prop_map(Request::Exists),
        path_watch().prop_map(Request::GetData),
        set_data_req().prop_map(Request::SetData),
        path_req().prop_map(Request::GetAcl),
        (string(), acls(), any::<i32>())
            .prop_map(|(path, acl, version)| Request::SetAcl(SetAclRequest { path, acl, version })),
        path_watch().prop_map(Request::GetChildren),
        path_watch().prop_map(Request::GetChildren2),
        path_req().prop_map(Request::Sync),
        Just(Request::Ping),
        path_version()
            .prop_map(|(path, version)| Request::Check(CheckVersionRequest { path, version })),
        multi_of(false).prop_map(Request::Multi),
        multi_of(true).prop_map(Request::MultiRead),
        (string(), string(), string(), any::<i64>()).prop_map(|(j, l, n, c)| Request::Reconfig(
            ReconfigRequest {
                joining_servers: j,
                leaving_servers: l,
                new_members: n,
                cur_config_id: c
            }
        )),
        (string(), any::<i32>())
            .prop_map(|(path, t)| Request::CheckWatches(WatchesRequest { path, r#type: t })),
        (string(), any::<i32>())
            .prop_map(|(path, t)| Request::RemoveWatches(WatchesRequest { path, r#type: t })),
        (any::<i32>(), string(), opt_buf()).prop_map(|(t, scheme, auth)| Request::Auth(
            AuthPacket {
                r#type: t,
                scheme,
                auth
            }
        )),
        (any::<i64>(), strings(), strings(), strings()).prop_map(|(z, d, e, c)| {
            Request::SetWatches(SetWatches {
                relative_zxid: z,
                data_watches: d,
                exist_watches: e,
                child_watches: c,
            })
        }),
        (
            any::<i64>(),
            strings(),
            strings(),
            strings(),
            strings(),
            strings()
        )
            .prop_map(|(z, d, e, c, p, r)| Request::SetWatches2(SetWatches2 {
                relative_zxid: z,
                data_watches: d,
                exist_watches: e,
                child_watches: c,
                persistent_watches: p,
                persistent_recursive_watches: r,
            })),
        opt_buf().prop_map(|token| Request::Sasl(SaslRecord { token })),
        path_req().prop_map(Request::GetEphemerals),
        path_req().prop_map(Request::GetAllChildrenNumber),
        (string(), any::<i32>())
            .prop_map(|(path, mode)| Request::AddWatch(AddWatchRequest { path, mode })),
        Just(Request::WhoAmI),
        Just(Request::CloseSession),
    ]
}

fn txn_leaf() -> impl Strategy<Value = Txn> {
    prop_oneof![
        (
            prop_oneof![Just(1), Just(15)],
            string(),
            opt_buf(),
            acls(),
            any::<bool>(),
            any::<i32>()
        )
            .prop_map(|(t, path, data, acl, ephemeral, pc)| Txn::Create(
                t,
                CreateTxn {
                    path,
                    data,
                    acl,
                    ephemeral,
                    parent_cversion: pc
                }
            )),
        (string(), opt_buf(), acls(), any::<i32>(), any::<i64>()).prop_map(
            |(path, data, acl, pc, ttl)| Txn::CreateTtl(CreateTtlTxn {
                path,
                data,
                acl,
                parent_cversion: pc,
                ttl
            })
        ),
        (string(), opt_buf(), acls(), any::<i32>()).prop_map(|(path, data, acl, pc)| {
            Txn::CreateContainer(CreateContainerTxn {
                path,
                data,
                acl,
                parent_cversion: pc,
            })
        }),
        (prop_oneof![Just(2), Just(20)], string())
            .prop_map(|(t, path)| Txn::Delete(t, DeleteTxn { path })),
        (string(), opt_buf(), any::<i32>()).prop_map(|(path, data, version)| Txn::SetData(
            SetDataTxn {
                path,
                data,
                version
            }
        )),
        (string(), acls(), any::<i32>()).prop_map(|(path, acl, version)| Txn::SetAcl(SetAclTxn {
            path,
            acl,
            version
        })),
        path_version().prop_map(|(path, version)| Txn::Check(CheckVersionTxn { path, version })),
        any::<i32>().prop_map(|t| Txn::CreateSession(CreateSessionTxn { time_out: t })),
        strings().prop_map(|p| Txn::CloseSession(Some(CloseSessionTxn { paths2_delete: p }))),
        any::<i32>().prop_map(|err| Txn::Error(ErrorTxn { err })),
        (string(), opt_buf(), any::<i32>()).prop_map(|(path, data, version)| Txn::Reconfig(
            SetDataTxn {
                path,
                data,
                version
            }
        )),
    ]
}

fn txn() -> impl Strategy<Value = Txn> {
    prop_oneof![
        3 => txn_leaf(),
        1 => prop::collection::vec(
            prop_oneof![4 => txn_leaf(), 1 => Just(Txn::CloseSession(None))],
            0..4
        )
        .prop_map(Txn::Multi),
    ]
}

fn txn_header() -> impl Strategy<Value = (i64, i32, i64, i64)> {
    (any::<i64>(), any::<i32>(), any::<i64>(), any::<i64>())
}

fn digest() -> impl Strategy<Value = Option<TxnDigest>> {
    prop::option::of(
        (any::<i32>(), any::<i64>()).prop_map(|(version, tree_digest)| TxnDigest {
            version,
            tree_digest,
        }),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn headers(xid in any::<i32>(), t in any::<i32>(), zxid in any::<i64>(), err in any::<i32>()) {
        prop_assert_eq!(rt(&RequestHeader { xid, r#type: t }).len(), 8);
        prop_assert_eq!(rt(&ReplyHeader { xid, zxid, err }).len(), 16);
        rt(&MultiHeader { r#type: t, done: xid & 1 == 0, err });
    }

    #[test]
    fn connect(
        pv in any::<i32>(), z in any::<i64>(), to in any::<i32>(), sid in any::<i64>(),
        pw in buf(), ro in prop::option::of(any::<bool>()),
    ) {
        let req = ConnectRequest {
            protocol_version: pv, last_zxid_seen: z, time_out: to, session_id: sid,
            passwd: pw.clone(), read_only: ro,
        };
        let b = rt(&req);
        prop_assert_eq!(b.len(), 28 + pw.len() + usize::from(ro.is_some()));
        let resp = ConnectResponse {
            protocol_version: pv, time_out: to, session_id: sid, passwd: pw.clone(), read_only: ro,
        };
        let b = rt(&resp);
        prop_assert_eq!(b.len(), 20 + pw.len() + usize::from(ro.is_some()));
    }

    #[test]
    fn node_records(
        s in stat(), path in string(), data in opt_buf(), children in strings(), acl in acls(),
        n in any::<i32>(), l in any::<i64>(),
    ) {
        prop_assert_eq!(rt(&s).len(), 68);
        rt(&StatPersisted {
            czxid: s.czxid, mzxid: s.mzxid, ctime: s.ctime, mtime: s.mtime, version: s.version,
            cversion: s.cversion, aversion: s.aversion, ephemeral_owner: s.ephemeral_owner,
            pzxid: s.pzxid,
        });
        rt(&CreateResponse { path: path.clone() });
        rt(&Create2Response { path: path.clone(), stat: s.clone() });
        rt(&StatResponse { stat: s.clone() });
        rt(&GetDataResponse { data: data.clone(), stat: s.clone() });
        rt(&GetChildrenResponse { children: children.clone() });
        rt(&GetChildren2Response { children, stat: s.clone() });
        rt(&GetAllChildrenNumberResponse { total_number: n });
        rt(&ErrorResponse { err: n });
        rt(&SaslRecord { token: data.clone() });
        rt(&GetAclResponse { acl: acl.clone(), stat: s });
        rt(&SetAclRequest { path: path.clone(), acl, version: n });
        rt(&ReconfigRequest {
            joining_servers: path.clone(), leaving_servers: String::new(),
            new_members: path.clone(), cur_config_id: l,
        });
        rt(&WatcherEvent { r#type: n, state: n.wrapping_add(1), path: path.clone() });
        rt(&AddWatchRequest { path: path.clone(), mode: n });
        rt(&WatchesRequest { path: path.clone(), r#type: n });
        rt(&AuthPacket { r#type: n, scheme: path.clone(), auth: data });
        rt(&WhoAmIResponse { client_info: vec![
            ClientInfo { auth_scheme: "ip".into(), user: path.clone() },
            ClientInfo { auth_scheme: path, user: String::new() },
        ]});
    }

    #[test]
    fn requests(r in request()) {
        rt_request(&r);
    }

    #[test]
    fn multi(m in multi_req(), results in prop::collection::vec(multi_result(), 0..6)) {
        let b = rt(&m);
        // The done header closes every sequence.
        prop_assert_eq!(&b[b.len() - 9..], &[0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff][..]);
        rt(&MultiResponse { results });
    }

    #[test]
    fn txns(h in txn_header(), t in txn(), d in digest()) {
        let header = TxnHeader { client_id: h.0, cxid: h.1, zxid: h.2, time: h.3, r#type: t.op_type() };
        rt(&header);
        rt_txn_entry(&TxnEntry { header, txn: t, digest: d });
    }

    /// Whatever bytes decode as a request re-encode without panicking, and a second
    /// round trip is stable.
    #[test]
    fn arbitrary_bytes_decode_stably(t in prop_oneof![any::<i32>(), 0..=22i32, 100..=107i32],
                                     b in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(r) = Request::decode(t, &b) {
            let (o, enc) = encode_request(&r);
            let again = Request::decode(o, &enc).unwrap();
            prop_assert_eq!(&again, &r);
        }
        if let Ok(e) = TxnEntry::from_bytes(&b) {
            // A body-less closeSession followed by bytes is ambiguous; everything else is stable.
            let enc = e.to_bytes();
            if let Ok(again) = TxnEntry::from_bytes(&enc) {
                prop_assert_eq!(again.to_bytes(), enc);
            }
        }
        let _ = ConnectRequest::from_bytes(&b).map(|c| c.to_bytes());
        let _ = MultiResponse::from_bytes(&b).map(|m| m.to_bytes());
    }
}

#[test]
fn every_multi_op_and_result_kind() {
    let s = Stat {
        czxid: 1,
        version: 2,
        ..Stat::default()
    };
    let c = CreateRequest {
        path: "/a".into(),
        data: None,
        acl: vec![Acl::world(31)],
        flags: 0,
    };
    let m = MultiRequest {
        ops: vec![
            MultiOp::Create(op::CREATE, c.clone()),
            MultiOp::Create(op::CREATE2, c.clone()),
            MultiOp::Create(op::CREATE_CONTAINER, c),
            MultiOp::CreateTtl(CreateTtlRequest {
                path: "/t".into(),
                data: Some(vec![1]),
                acl: vec![],
                flags: 5,
                ttl: 10,
            }),
            MultiOp::Delete(DeleteRequest {
                path: "/a".into(),
                version: -1,
            }),
            MultiOp::SetData(SetDataRequest {
                path: "/a".into(),
                data: Some(vec![]),
                version: 3,
            }),
            MultiOp::Check(CheckVersionRequest {
                path: "/a".into(),
                version: 4,
            }),
            MultiOp::GetChildren(PathWatchRequest {
                path: "/".into(),
                watch: false,
            }),
            MultiOp::GetData(PathWatchRequest {
                path: "/".into(),
                watch: true,
            }),
        ],
    };
    let b = rt(&m);
    // Each op header is {type, false, -1}.
    assert_eq!(&b[..9], &[0, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff]);
    let types: Vec<i32> = m.ops.iter().map(MultiOp::op_type).collect();
    assert_eq!(types, vec![1, 15, 19, 21, 2, 5, 13, 8, 4]);
    let (writes, reads): (Vec<MultiOp>, Vec<MultiOp>) =
        m.ops.iter().cloned().partition(|o| !o.is_read());
    rt_request(&Request::Multi(MultiRequest { ops: writes }));
    rt_request(&Request::MultiRead(MultiRequest { ops: reads }));
    // A mix of reads and writes is MARSHALLINGERROR in either opcode.
    for o in [op::MULTI, op::MULTI_READ] {
        assert!(matches!(
            Request::decode(o, &b),
            Err(RequestError::Malformed(x, _)) if x == o
        ));
    }

    let r = MultiResponse {
        results: vec![
            MultiResult::Create(CreateResponse { path: "/a".into() }),
            MultiResult::Create2(Create2Response {
                path: "/b".into(),
                stat: s.clone(),
            }),
            MultiResult::Delete,
            MultiResult::SetData(StatResponse { stat: s.clone() }),
            MultiResult::Check,
            MultiResult::GetChildren(GetChildrenResponse {
                children: vec!["x".into()],
            }),
            MultiResult::GetData(GetDataResponse {
                data: None,
                stat: s,
            }),
            MultiResult::Error(0),
            MultiResult::Error(-101),
            MultiResult::Error(-2),
        ],
    };
    let b = rt(&r);
    // An error result carries its code in the header and again in the body.
    let tail = &b[b.len() - 9 - 13..b.len() - 9];
    assert_eq!(
        tail,
        &[0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xfe]
    );
    rt(&MultiResponse::default());
}

#[test]
fn txn_entries_with_and_without_digest() {
    let header = |t: i32| TxnHeader {
        client_id: 0x100,
        cxid: 7,
        zxid: 0x1_0000_0001,
        time: 1_700_000_000_000,
        r#type: t,
    };
    let sub = vec![
        Txn::Create(
            op::CREATE,
            CreateTxn {
                path: "/a".into(),
                data: Some(b"x".to_vec()),
                acl: vec![Acl::world(31)],
                ephemeral: false,
                parent_cversion: 1,
            },
        ),
        Txn::Delete(op::DELETE, DeleteTxn { path: "/a".into() }),
        Txn::Check(CheckVersionTxn {
            path: "/".into(),
            version: 0,
        }),
        Txn::Error(ErrorTxn { err: -101 }),
    ];
    for txn in [
        Txn::Multi(sub),
        Txn::Multi(vec![]),
        Txn::CreateSession(CreateSessionTxn { time_out: 30000 }),
        Txn::CloseSession(Some(CloseSessionTxn {
            paths2_delete: vec!["/e".into()],
        })),
        Txn::Delete(op::DELETE_CONTAINER, DeleteTxn { path: "/c".into() }),
    ] {
        for digest in [
            None,
            Some(TxnDigest {
                version: 2,
                tree_digest: -5,
            }),
        ] {
            let e = TxnEntry {
                header: header(txn.op_type()),
                txn: txn.clone(),
                digest: digest.clone(),
            };
            rt_txn_entry(&e);
            let len = e.to_bytes().len();
            let base = TxnEntry {
                digest: None,
                ..e.clone()
            };
            assert_eq!(
                len,
                base.to_bytes().len() + if digest.is_some() { 12 } else { 0 }
            );
        }
    }
    // An old log's closeSession has no body (and then no digest).
    rt_txn_entry(&TxnEntry {
        header: header(op::CLOSE_SESSION),
        txn: Txn::CloseSession(None),
        digest: None,
    });
    // A digest cut short is an error, not a silently dropped digest.
    let mut b = TxnEntry {
        header: header(op::ERROR),
        txn: Txn::Error(ErrorTxn { err: -8 }),
        digest: Some(TxnDigest {
            version: 2,
            tree_digest: 1,
        }),
    }
    .to_bytes();
    b.truncate(b.len() - 1);
    assert!(TxnEntry::from_bytes(&b).is_err());
    // An unknown txn type is refused.
    let mut b = header(99).to_bytes();
    b.extend_from_slice(&[0, 0, 0, 0]);
    assert!(matches!(
        TxnEntry::from_bytes(&b),
        Err(JuteError::Invalid(_))
    ));
}

#[test]
fn connect_read_only_is_optional() {
    let mut req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 5,
        time_out: 30000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: None,
    };
    assert_eq!(rt(&req).len(), 44);
    req.read_only = Some(false);
    assert_eq!(rt(&req).len(), 45);
    req.read_only = Some(true);
    assert_eq!(rt(&req)[44], 1);
    let resp = ConnectResponse {
        protocol_version: 0,
        time_out: 30000,
        session_id: 1,
        passwd: vec![7; 16],
        read_only: None,
    };
    assert_eq!(rt(&resp).len(), 36);
    assert_eq!(
        rt(&ConnectResponse {
            read_only: Some(false),
            ..resp
        })
        .len(),
        37
    );
}

#[test]
fn non_canonical_inputs_normalize() {
    // Java reads any non-zero byte as true; it is written back as 1.
    let w = PathWatchRequest::from_bytes(&[0, 0, 0, 1, b'/', 2]).unwrap();
    assert!(w.watch);
    assert_eq!(&w.to_bytes()[..], &[0, 0, 0, 1, b'/', 1]);
    // A null ustring reads as empty.
    let p = PathRequest::from_bytes(&[0xff, 0xff, 0xff, 0xff]).unwrap();
    assert_eq!(p.path, "");
    // A nullable buffer keeps null apart from empty.
    let d = SetDataRequest::from_bytes(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1]).unwrap();
    assert_eq!(d.data, None);
    rt(&d);
    // Other negative lengths and lengths past the end are refused.
    assert_eq!(
        PathRequest::from_bytes(&[0xff, 0xff, 0xff, 0xfe]),
        Err(JuteError::BadLength(-2))
    );
    assert_eq!(
        PathRequest::from_bytes(&[0, 0, 0, 5, b'/']),
        Err(JuteError::BadLength(5))
    );
    // A hostile vector count fails before allocating.
    assert!(GetChildrenResponse::from_bytes(&[0x7f, 0xff, 0xff, 0xff]).is_err());
    // Request::decode ignores trailing bytes, as Java's reader does.
    assert_eq!(
        Request::decode(op::SYNC, &[0, 0, 0, 1, b'/', 9, 9]).unwrap(),
        Request::Sync(PathRequest { path: "/".into() })
    );
    assert_eq!(Request::decode(999, &[]), Err(RequestError::UnknownOp(999)));
    assert!(matches!(
        Request::decode(op::CREATE, &[0, 0, 0, 1]),
        Err(RequestError::Malformed(op::CREATE, _))
    ));
    // A multi with an op type no multi accepts is refused.
    let mut b = MultiHeader {
        r#type: op::SET_ACL,
        done: false,
        err: -1,
    }
    .to_bytes();
    b.extend_from_slice(&[0, 0, 0, 1, b'/', 0, 0, 0, 0, 0, 0, 0, 0]);
    assert!(MultiRequest::from_bytes(&b).is_err());
}
