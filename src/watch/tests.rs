use super::*;

fn open_acl() -> Arc<[Acl]> {
    vec![Acl::world(crate::proto::perms::ALL)].into()
}

fn created(p: &str) -> Trigger {
    let (parent, _) = parent_and_name(p);
    Trigger::Created {
        path: p.into(),
        parent: parent.into(),
        acl: open_acl(),
        parent_acl: open_acl(),
    }
}

fn deleted(p: &str) -> Trigger {
    let (parent, _) = parent_and_name(p);
    Trigger::Deleted {
        path: p.into(),
        parent: parent.into(),
        acl: open_acl(),
        parent_acl: open_acl(),
    }
}

fn changed(p: &str) -> Trigger {
    Trigger::DataChanged {
        path: p.into(),
        acl: open_acl(),
    }
}

#[test]
fn standard_watch_fires_once() {
    let mut w = WatchManager::default();
    w.data.add("/a", 1, Kind::Standard);
    let n = w.trigger(&changed("/a"));
    assert_eq!(n.len(), 1);
    assert!(w.trigger(&changed("/a")).is_empty());
    assert_eq!(w.count(), 0);
}

#[test]
fn create_fires_created_then_children_changed() {
    let mut w = WatchManager::default();
    w.data.add("/a/b", 1, Kind::Standard);
    w.child.add("/a", 1, Kind::Standard);
    let n = w.trigger(&created("/a/b"));
    let got: Vec<(i32, &str)> = n.iter().map(|n| (n.event_type, n.path.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (event::NODE_CREATED, "/a/b"),
            (event::NODE_CHILDREN_CHANGED, "/a")
        ]
    );
}

#[test]
fn delete_tells_a_connection_once_for_the_node() {
    let mut w = WatchManager::default();
    w.data.add("/a", 1, Kind::Standard);
    w.child.add("/a", 1, Kind::Standard);
    w.child.add("/a", 2, Kind::Standard);
    let n = w.trigger(&deleted("/a"));
    let deleted_for: Vec<ConnId> = n
        .iter()
        .filter(|n| n.event_type == event::NODE_DELETED)
        .map(|n| n.conn)
        .collect();
    assert_eq!(deleted_for.len(), 2);
    assert!(deleted_for.contains(&1) && deleted_for.contains(&2));
    // Both one-shot child watches on /a are gone, the suppressed one included.
    assert_eq!(w.count(), 0);
}

#[test]
fn recursive_watch_skips_children_changed() {
    let mut w = WatchManager::default();
    w.data.add("/a", 7, Kind::Recursive);
    w.child.add("/a", 7, Kind::Recursive);
    let n = w.trigger(&created("/a/b/c"));
    assert_eq!(n.len(), 1);
    assert_eq!(
        (n[0].event_type, n[0].path.as_str()),
        (event::NODE_CREATED, "/a/b/c")
    );
    let n = w.trigger(&created("/a/x"));
    assert_eq!(
        n.len(),
        1,
        "no NodeChildrenChanged for /a from a recursive watch"
    );
    assert_eq!(w.count(), 2, "persistent watches stay");
}

#[test]
fn persistent_watch_gets_children_changed() {
    let mut w = WatchManager::default();
    w.data.add("/a", 7, Kind::Persistent);
    w.child.add("/a", 7, Kind::Persistent);
    let n = w.trigger(&created("/a/x"));
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].event_type, event::NODE_CHILDREN_CHANGED);
    w.remove_conn(7);
    assert_eq!(w.count(), 0);
}
