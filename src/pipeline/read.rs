//! Reads and watch requests, answered from the applied tree (FinalRequestProcessor).

use bytes::{BufMut, BytesMut};

use crate::jute::Jute;
use crate::pipeline::acl;
use crate::proto::{
    add_watch_mode, event, perms, watcher_type, ClientInfo, Create2Response, ErrorCode,
    ErrorResponse, GetAclResponse, GetAllChildrenNumberResponse, GetChildren2Response,
    GetChildrenResponse, GetDataResponse, Id, MultiOp, MultiRequest, MultiResponse, MultiResult,
    PathWatchRequest, StatResponse, WhoAmIResponse,
};
use crate::tree::{DataTree, Node};
use crate::watch::{ConnId, Kind, Modes, Notification, WatchManager, WatchTable};

/// The caller of a read.
pub struct ReadCtx<'a> {
    /// Its connection (watches belong to it).
    pub conn: ConnId,
    /// Its session.
    pub session_id: i64,
    /// Its identities.
    pub ids: &'a [Id],
}

/// A read's reply body, or an error code.
pub type ReadResult = Result<Option<BytesMut>, ErrorCode>;

fn body<T: Jute>(r: T) -> ReadResult {
    Ok(Some(r.to_bytes()))
}

/// The node at `path`, if `ids` may read it.
fn readable<'t>(tree: &'t DataTree, path: &str, ids: &[Id]) -> Result<&'t Node, ErrorCode> {
    let node = tree.get(path).ok_or(ErrorCode::NoNode)?;
    acl::check(tree.acl(node), perms::READ, ids)?;
    Ok(node)
}

/// exists: the watch is left even when the node is missing (it fires on creation).
pub fn exists(
    tree: &DataTree,
    w: &mut WatchManager,
    r: &PathWatchRequest,
    c: &ReadCtx<'_>,
) -> ReadResult {
    if r.path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    let node = tree.get(&r.path);
    if let Some(n) = node {
        acl::check(tree.acl(n), perms::READ, c.ids)?;
    }
    if r.watch {
        w.data.add(&r.path, c.conn, Kind::Standard);
    }
    match node {
        Some(n) => body(StatResponse {
            stat: tree.stat_of(n),
        }),
        None => Err(ErrorCode::NoNode),
    }
}

/// getData's checks and watch: the node to answer from.
fn get_data_node<'t>(
    tree: &'t DataTree,
    w: &mut WatchManager,
    r: &PathWatchRequest,
    c: &ReadCtx<'_>,
) -> Result<&'t Node, ErrorCode> {
    let n = readable(tree, &r.path, c.ids)?;
    if r.watch {
        w.data.add(&r.path, c.conn, Kind::Standard);
    }
    Ok(n)
}

/// getData (inside a multi read).
pub fn get_data(
    tree: &DataTree,
    w: &mut WatchManager,
    r: &PathWatchRequest,
    c: &ReadCtx<'_>,
) -> Result<GetDataResponse, ErrorCode> {
    let n = get_data_node(tree, w, r, c)?;
    Ok(GetDataResponse {
        data: n.data().map(<[u8]>::to_vec),
        stat: tree.stat_of(n),
    })
}

/// A getData reply, encoded as its record would be with the data copied from the node
/// once, straight into the reply (the hottest read copied it into a Vec, then into a
/// growing buffer).
pub fn get_data_reply(
    tree: &DataTree,
    w: &mut WatchManager,
    r: &PathWatchRequest,
    c: &ReadCtx<'_>,
) -> ReadResult {
    let n = get_data_node(tree, w, r, c)?;
    let data = n.data();
    let mut out = BytesMut::with_capacity(4 + data.map_or(0, <[u8]>::len) + STAT_BYTES);
    match data {
        Some(d) => {
            out.put_i32(d.len() as i32);
            out.put_slice(d);
        }
        None => out.put_i32(-1),
    }
    tree.stat_of(n).write(&mut out);
    Ok(Some(out))
}

/// Bytes of an encoded Stat: eight longs' and ints' worth (czxid ... pzxid).
const STAT_BYTES: usize = 68;

/// getChildren's checks and watch: the node whose children to list.
fn get_children_node<'t>(
    tree: &'t DataTree,
    w: &mut WatchManager,
    r: &PathWatchRequest,
    c: &ReadCtx<'_>,
) -> Result<&'t Node, ErrorCode> {
    let n = readable(tree, &r.path, c.ids)?;
    if r.watch {
        w.child.add(&r.path, c.conn, Kind::Standard);
    }
    Ok(n)
}

/// getChildren and getChildren2 (with the parent's stat), inside a multi read.
pub fn get_children(
    tree: &DataTree,
    w: &mut WatchManager,
    r: &PathWatchRequest,
    c: &ReadCtx<'_>,
) -> Result<GetChildren2Response, ErrorCode> {
    let n = get_children_node(tree, w, r, c)?;
    Ok(GetChildren2Response {
        children: tree.child_names(n),
        stat: tree.stat_of(n),
    })
}

/// getChildren (`with_stat` false) and getChildren2 replies, encoded as their records
/// would be, with the names copied from the tree straight into the reply: a wide node's
/// listing allocated a String per child only to serialize it.
pub fn get_children_reply(
    tree: &DataTree,
    w: &mut WatchManager,
    r: &PathWatchRequest,
    c: &ReadCtx<'_>,
    with_stat: bool,
) -> ReadResult {
    let n = get_children_node(tree, w, r, c)?;
    let children = tree.children_in_order(n);
    let bytes: usize = children.iter().map(|c| 4 + c.name_bytes().len()).sum();
    let mut out = BytesMut::with_capacity(4 + bytes + if with_stat { STAT_BYTES } else { 0 });
    out.put_i32(children.len() as i32);
    for c in children {
        // Names entered the tree as strings, so their bytes are UTF-8 already.
        let name = c.name();
        out.put_i32(name.len() as i32);
        out.put_slice(name.as_bytes());
    }
    if with_stat {
        tree.stat_of(n).write(&mut out);
    }
    Ok(Some(out))
}

/// getACL: READ or ADMIN; digests masked without ADMIN.
pub fn get_acl(tree: &DataTree, path: &str, c: &ReadCtx<'_>) -> ReadResult {
    let n = tree.get(path).ok_or(ErrorCode::NoNode)?;
    let a = tree.acl(n);
    acl::check(a, perms::READ | perms::ADMIN, c.ids)?;
    let list = if acl::check(a, perms::ADMIN, c.ids).is_ok() {
        a.to_vec()
    } else {
        acl::mask_digests(a)
    };
    body(GetAclResponse {
        acl: list,
        stat: tree.stat_of(n),
    })
}

/// getAllChildrenNumber.
pub fn all_children_number(tree: &DataTree, path: &str, c: &ReadCtx<'_>) -> ReadResult {
    readable(tree, path, c.ids)?;
    // ZooKeeper counts the keys of its node map under `path + "/"`. The root is there
    // twice, as "" and "/": for "/" it answers the map's size less those two, but for ""
    // every key starting with "/" counts, the root's "/" key included.
    let root_key = usize::from(path.is_empty());
    body(GetAllChildrenNumberResponse {
        total_number: (tree.all_children_number(path) + root_key) as i32,
    })
}

/// getEphemerals: the caller's own, filtered by prefix.
pub fn ephemerals(tree: &DataTree, prefix: &str, c: &ReadCtx<'_>) -> ReadResult {
    let p = prefix.trim();
    let all = tree.ephemerals_of(c.session_id);
    let list = if p.is_empty() || p == "/" {
        all
    } else {
        all.into_iter().filter(|e| e.starts_with(prefix)).collect()
    };
    body(GetChildrenResponse { children: list })
}

/// whoAmI: the connection's identities.
pub fn who_am_i(c: &ReadCtx<'_>) -> ReadResult {
    body(WhoAmIResponse {
        client_info: acl::java_set_order(c.ids)
            .into_iter()
            .map(|i| ClientInfo {
                auth_scheme: i.scheme.clone(),
                // ZooKeeper reports the provider's user name (AuthUtil.getUser): for
                // digest ids ("user:base64hash") the part before the first ':', the id
                // itself for ip, sasl and x509, and "" for a scheme without a provider
                // (`super`, which X509AuthenticationProvider adds as `super:<subject>`).
                user: match i.scheme.as_str() {
                    "digest" => i.id.split(':').next().unwrap_or_default().to_string(),
                    "ip" | "sasl" | "x509" => i.id.clone(),
                    _ => String::new(),
                },
            })
            .collect(),
    })
}

/// multiRead: each op on its own; a failed op gives an error result.
pub fn multi_read(
    tree: &DataTree,
    w: &mut WatchManager,
    m: &MultiRequest,
    c: &ReadCtx<'_>,
) -> ReadResult {
    let mut results = Vec::with_capacity(m.ops.len());
    for o in &m.ops {
        let r = match o {
            MultiOp::GetChildren(r) => {
                let r = PathWatchRequest {
                    path: r.path.clone(),
                    watch: false,
                };
                get_children(tree, w, &r, c).map(|g| {
                    MultiResult::GetChildren(GetChildrenResponse {
                        children: g.children,
                    })
                })
            }
            MultiOp::GetData(r) => {
                let r = PathWatchRequest {
                    path: r.path.clone(),
                    watch: false,
                };
                get_data(tree, w, &r, c).map(MultiResult::GetData)
            }
            _ => return Err(ErrorCode::MarshallingError),
        };
        results.push(r.unwrap_or_else(|e| MultiResult::Error(e.code())));
    }
    body(MultiResponse { results })
}

/// checkWatches / removeWatches: which table entries a WatcherType selects.
fn selection(ty: i32) -> Option<(Modes, Modes)> {
    let all = Modes {
        standard: true,
        persistent: true,
        recursive: true,
    };
    let none = Modes::default();
    Some(match ty {
        watcher_type::CHILDREN => (none, all),
        watcher_type::DATA => (all, none),
        watcher_type::ANY => (all, all),
        watcher_type::PERSISTENT => {
            let p = Modes {
                persistent: true,
                ..none
            };
            (p, p)
        }
        watcher_type::PERSISTENT_RECURSIVE => {
            let p = Modes {
                recursive: true,
                ..none
            };
            (p, p)
        }
        _ => return None,
    })
}

fn holds(have: Modes, which: Modes) -> bool {
    (have.standard && which.standard)
        || (have.persistent && which.persistent)
        || (have.recursive && which.recursive)
}

/// checkWatches (remove = false) and removeWatches (remove = true); NOWATCHER if none.
pub fn watches(
    w: &mut WatchManager,
    path: &str,
    ty: i32,
    remove: bool,
    conn: ConnId,
) -> ReadResult {
    // An unknown WatcherType fails in ZooKeeper's request decoding: MARSHALLINGERROR.
    let (data, child) = selection(ty).ok_or(ErrorCode::MarshallingError)?;
    let found = if remove {
        let a = w.data.remove(path, conn, data);
        let b = w.child.remove(path, conn, child);
        a || b
    } else {
        let in_data = holds(w.data.modes(path, conn), data);
        let in_child = holds(w.child.modes(path, conn), child);
        let throws = |t: &WatchTable, sel: Modes, found: bool| {
            sel != Modes::default() && parent_walk_throws(t, path, found)
        };
        if throws(&w.child, child, in_child) || throws(&w.data, data, in_data) {
            return Err(ErrorCode::MarshallingError);
        }
        in_data || in_child
    };
    if found {
        Ok(None)
    } else {
        Err(ErrorCode::NoWatcher)
    }
}

/// Whether ZooKeeper 3.8's `containsWatcher` throws on this path, which its
/// FinalRequestProcessor answers with MARSHALLINGERROR. It walks the path's parents with a
/// PathParentIterator that cuts the next step at the last '/' before it is asked for it: on
/// a non-empty path without a '/' the first step already fails. When the table holds
/// recursive watches the walk goes on towards the root after a miss, and fails on the first
/// component of a path that does not start with '/'.
fn parent_walk_throws(table: &WatchTable, path: &str, found: bool) -> bool {
    if path.is_empty() {
        return false;
    }
    if !path.contains('/') {
        return true;
    }
    table.has_recursive() && !path.starts_with('/') && !found
}

/// addWatch: registers in both tables, answers a 4-byte ErrorResponse(0).
pub fn add_watch(w: &mut WatchManager, path: &str, mode: i32, conn: ConnId) -> ReadResult {
    let kind = match mode {
        add_watch_mode::PERSISTENT => Kind::Persistent,
        add_watch_mode::PERSISTENT_RECURSIVE => Kind::Recursive,
        // AddWatchMode.fromInt throws while the request is decoded.
        _ => return Err(ErrorCode::MarshallingError),
    };
    w.data.add(path, conn, kind);
    w.child.add(path, conn, kind);
    body(ErrorResponse { err: 0 })
}

/// The watches a reconnecting client asks to restore.
pub struct SetWatchesArgs<'a> {
    /// The client's last zxid.
    pub relative_zxid: i64,
    /// getData watches.
    pub data: &'a [String],
    /// exists watches.
    pub exist: &'a [String],
    /// getChildren watches.
    pub child: &'a [String],
    /// addWatch PERSISTENT.
    pub persistent: &'a [String],
    /// addWatch PERSISTENT_RECURSIVE.
    pub recursive: &'a [String],
}

/// setWatches / setWatches2: re-registers watches, and fires at once those whose event
/// the client missed while away. The events go out before the reply.
pub fn set_watches(
    tree: &DataTree,
    w: &mut WatchManager,
    a: &SetWatchesArgs<'_>,
    conn: ConnId,
) -> Vec<Notification> {
    let mut out = Vec::new();
    let mut tell = |ty: i32, path: &str| {
        out.push(Notification {
            conn,
            event_type: ty,
            path: path.to_string(),
            // ZooKeeper's DataTree.setWatches fires these with no ACL: never filtered.
            acl: None,
        })
    };
    for p in a.data {
        match tree.get(p) {
            None => tell(event::NODE_DELETED, p),
            Some(n) if n.mzxid() > a.relative_zxid => tell(event::NODE_DATA_CHANGED, p),
            Some(_) => w.data.add(p, conn, Kind::Standard),
        }
    }
    for p in a.exist {
        if tree.get(p).is_some() {
            tell(event::NODE_CREATED, p);
        } else {
            w.data.add(p, conn, Kind::Standard);
        }
    }
    for p in a.child {
        match tree.get(p) {
            None => tell(event::NODE_DELETED, p),
            Some(n) if n.pzxid() > a.relative_zxid => tell(event::NODE_CHILDREN_CHANGED, p),
            Some(_) => w.child.add(p, conn, Kind::Standard),
        }
    }
    for p in a.persistent {
        w.data.add(p, conn, Kind::Persistent);
        w.child.add(p, conn, Kind::Persistent);
    }
    for p in a.recursive {
        w.data.add(p, conn, Kind::Recursive);
        w.child.add(p, conn, Kind::Recursive);
    }
    out
}

/// The Create2Response of a create result.
pub fn create2(path: String, stat: crate::proto::Stat) -> Create2Response {
    Create2Response { path, stat }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Acl;

    /// The reply written straight from the tree is byte for byte the records' encoding.
    #[test]
    fn get_children_reply_encodes_as_the_records_do() {
        let mut t = DataTree::new(false);
        let open = || vec![Acl::world(perms::ALL)];
        t.create("/p", None, open(), 0, -1, 1, 0).unwrap();
        t.create("/empty", None, open(), 0, -1, 2, 0).unwrap();
        for i in 0..70 {
            t.create(&format!("/p/c-{i}"), None, open(), 0, -1, 3 + i, 0)
                .unwrap();
        }
        let mut w = WatchManager::default();
        let ids = [Id {
            scheme: "ip".into(),
            id: "127.0.0.1".into(),
        }];
        let c = ReadCtx {
            conn: 1,
            session_id: 1,
            ids: &ids,
        };
        for path in ["/p", "/empty"] {
            let r = PathWatchRequest {
                path: path.into(),
                watch: false,
            };
            let n = t.get(path).unwrap();
            let children = t.child_names(n);
            let stat = t.stat_of(n);
            let plain = get_children_reply(&t, &mut w, &r, &c, false)
                .unwrap()
                .unwrap();
            let want = GetChildrenResponse {
                children: children.clone(),
            }
            .to_bytes();
            assert_eq!(plain, want);
            let with_stat = get_children_reply(&t, &mut w, &r, &c, true)
                .unwrap()
                .unwrap();
            assert_eq!(
                with_stat,
                GetChildren2Response { children, stat }.to_bytes()
            );
        }
        let missing = PathWatchRequest {
            path: "/nope".into(),
            watch: false,
        };
        assert_eq!(
            get_children_reply(&t, &mut w, &missing, &c, true),
            Err(ErrorCode::NoNode)
        );
        assert_eq!(
            get_data_reply(&t, &mut w, &missing, &c),
            Err(ErrorCode::NoNode)
        );
    }

    /// getData's reply, null data and empty data included, is the record's encoding.
    #[test]
    fn get_data_reply_encodes_as_the_record_does() {
        let mut t = DataTree::new(false);
        let open = || vec![Acl::world(perms::ALL)];
        t.create("/null", None, open(), 0, -1, 1, 0).unwrap();
        t.create("/empty", Some(Vec::new()), open(), 0, -1, 2, 0)
            .unwrap();
        t.create("/full", Some(vec![7u8; 300]), open(), 0, -1, 3, 0)
            .unwrap();
        let mut w = WatchManager::default();
        let c = ReadCtx {
            conn: 1,
            session_id: 1,
            ids: &[],
        };
        for path in ["/null", "/empty", "/full"] {
            let r = PathWatchRequest {
                path: path.into(),
                watch: false,
            };
            let want = get_data(&t, &mut w, &r, &c).unwrap().to_bytes();
            assert_eq!(get_data_reply(&t, &mut w, &r, &c).unwrap().unwrap(), want);
        }
    }
}
