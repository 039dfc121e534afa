use super::*;
use crate::proto::perms;

fn open() -> Vec<Acl> {
    vec![Acl::world(perms::ALL)]
}

#[test]
fn fresh_tree_matches_zookeeper() {
    let t = DataTree::new(false);
    let root = t.stat("/").unwrap();
    // Stored cversion 0 with one child ("zookeeper") shows as -1.
    assert_eq!(root.cversion, -1);
    assert_eq!(root.num_children, 1);
    assert_eq!(t.stat(CONFIG_PATH).unwrap().aversion, -1);
    assert_eq!(t.node_count(), 4);
}

#[test]
fn create_and_delete_move_parent_stat() {
    let mut t = DataTree::new(false);
    t.create("/a", Some(b"x".to_vec()), open(), 0, 1, 10, 100)
        .unwrap();
    t.create("/a/b", None, open(), 0, 1, 11, 101).unwrap();
    let a = t.stat("/a").unwrap();
    assert_eq!((a.cversion, a.pzxid, a.num_children), (1, 11, 1));
    t.delete("/a/b", 12).unwrap();
    let a = t.stat("/a").unwrap();
    // stored cversion stays 1; the client sees creates + deletes = 2.
    assert_eq!((a.cversion, a.pzxid, a.num_children), (2, 12, 0));
    assert_eq!(
        t.create("/a", None, open(), 0, 2, 13, 0),
        Err(ErrorCode::NodeExists)
    );
    assert_eq!(
        t.create("/x/y", None, open(), 0, 1, 14, 0),
        Err(ErrorCode::NoNode)
    );
}

#[test]
fn ephemeral_owner_reporting() {
    let mut t = DataTree::new(true);
    t.create("/e", None, open(), 0x1234, 1, 1, 0).unwrap();
    t.create(
        "/c",
        None,
        open(),
        crate::proto::CONTAINER_EPHEMERAL_OWNER,
        2,
        2,
        0,
    )
    .unwrap();
    t.create(
        "/t",
        None,
        open(),
        crate::proto::TTL_OWNER_MASK | 500,
        3,
        3,
        0,
    )
    .unwrap();
    assert_eq!(t.stat("/e").unwrap().ephemeral_owner, 0x1234);
    assert_eq!(t.stat("/c").unwrap().ephemeral_owner, 0);
    assert_eq!(t.stat("/t").unwrap().ephemeral_owner, 0);
    assert_eq!(t.ephemerals_of(0x1234), vec!["/e"]);
    assert!(t.containers().contains("/c"));
    assert!(t.ttls().contains("/t"));
    t.delete("/e", 4).unwrap();
    assert!(t.ephemerals_of(0x1234).is_empty());
}

#[test]
fn set_acl_keeps_mzxid() {
    let mut t = DataTree::new(false);
    t.create("/a", None, open(), 0, 1, 5, 0).unwrap();
    t.set_acl("/a", vec![Acl::world(perms::READ)], 1).unwrap();
    let s = t.stat("/a").unwrap();
    assert_eq!((s.mzxid, s.aversion), (5, 1));
    t.set_data("/a", Some(vec![1, 2, 3]), 1, 6, 7).unwrap();
    let s = t.stat("/a").unwrap();
    assert_eq!((s.mzxid, s.mtime, s.version, s.data_length), (6, 7, 1, 3));
}

#[test]
fn preorder_and_restore_rebuild_the_same_tree() {
    let mut t = DataTree::new(true);
    t.create("/a", Some(b"x".to_vec()), open(), 0, 1, 10, 100)
        .unwrap();
    t.create("/a/e", None, open(), 0x77, 1, 11, 101).unwrap();
    t.create(
        "/c",
        None,
        open(),
        crate::proto::CONTAINER_EPHEMERAL_OWNER,
        2,
        12,
        0,
    )
    .unwrap();
    let mut r = DataTree::new(true);
    for (p, n) in t.preorder() {
        r.restore_node(
            &p,
            n.data().map(<[u8]>::to_vec),
            t.acl(n).to_vec(),
            n.stat(),
        )
        .unwrap();
    }
    for (p, n) in t.preorder() {
        assert_eq!(r.stat(&p), t.stat(&p), "{p}");
        assert_eq!(r.get(&p).unwrap().data(), n.data());
    }
    assert_eq!(r.node_count(), t.node_count());
    assert_eq!(r.ephemerals_of(0x77), vec!["/a/e"]);
    assert!(r.containers().contains("/c"));
    assert_eq!(
        r.restore_node("/x/y", None, open(), StatPersisted::default()),
        Err(ErrorCode::NoNode)
    );
}

#[test]
fn children_listed_in_java_hashset_order() {
    // Printed by Java 17: a HashSet<String>(8) after adding "n0", "n7", ..., "n133".
    let mut t = DataTree::new(false);
    t.create("/p", None, open(), 0, -1, 1, 0).unwrap();
    for i in 0..20 {
        t.create(&format!("/p/n{}", i * 7), None, open(), 0, -1, 2 + i, 0)
            .unwrap();
    }
    let java = "n0, n70, n91, n7, n63, n84, n21, n98, n42, n56, n77, n14, n35, n133, n49, n28, n126, n112, n119, n105";
    let p = t.get("/p").unwrap();
    assert_eq!(t.child_names(p).join(", "), java);
    // Deleting keeps the table size (Java never shrinks it), so the order of the rest holds.
    t.delete("/p/n70", 30).unwrap();
    let p = t.get("/p").unwrap();
    assert_eq!(t.child_names(p).join(", "), java.replacen("n70, ", "", 1));
    assert_eq!(t.all_children_number("/p"), 19);
    assert_eq!(t.all_children_number("/"), 23);
}

#[test]
fn slots_and_acls_are_reused() {
    let mut t = DataTree::new(false);
    let fresh = DataTree::new(false);
    let secret = vec![Acl {
        perms: perms::ALL,
        id: crate::proto::Id {
            scheme: "digest".into(),
            id: "u:x".into(),
        },
    }];
    for round in 0..3 {
        for i in 0..1000 {
            let z = round * 10_000 + i;
            t.create(
                &format!("/n{i}"),
                Some(vec![1; 10]),
                secret.clone(),
                0,
                -1,
                z,
                0,
            )
            .unwrap();
        }
        for i in 0..1000 {
            t.delete(&format!("/n{i}"), round * 10_000 + 5000 + i)
                .unwrap();
        }
        assert_eq!(t.node_count(), 4);
        assert_eq!(t.approximate_data_size(), fresh.approximate_data_size());
    }
    assert_eq!(t.acls.len(), 2, "the digest list went with its last node");
}

#[test]
fn a_wide_node_is_listed_in_java_hashset_order() {
    // Printed by Java 17: a HashSet<String>(8) after adding "k0", "k13", ..., "k1287",
    // removing "k650" and adding it again, then removing "k13". Over 32 children the
    // listing takes the counting sort of buckets; "k650" went to the end of its bucket.
    let mut t = DataTree::new(false);
    t.create("/p", None, open(), 0, -1, 1, 0).unwrap();
    for i in 0..100 {
        t.create(&format!("/p/k{}", i * 13), None, open(), 0, -1, 2 + i, 0)
            .unwrap();
    }
    t.delete("/p/k650", 200).unwrap();
    t.create("/p/k650", None, open(), 0, -1, 201, 0).unwrap();
    t.delete("/p/k13", 202).unwrap();
    let java = "k429, k949, k390, k39, k260, k1053, k143, k780, k663, k546, k1170, k702, k936, k819, k0, k1209, k1287, k130, k494, k650, k377, k897, k533, k1040, k416, k728, k52, k1274, k286, k442, k1157, k169, k325, k962, k689, k208, k845, k715, k65, k1144, k273, k1027, k156, k793, k312, k676, k832, k1261, k559, k507, k78, k182, k1131, k585, k221, k1014, k741, k1092, k468, k104, k624, k988, k858, k1248, k1001, k572, k299, k455, k611, k338, k975, k91, k806, k1118, k1196, k481, k1235, k1079, k364, k884, k520, k247, k767, k403, k923, k1105, k26, k1066, k195, k351, k871, k1222, k598, k234, k754, k910, k1183, k117, k637";
    let p = t.get("/p").unwrap();
    assert_eq!(t.child_names(p).join(", "), java);
    let nodes: Vec<String> = t
        .children_in_order(p)
        .iter()
        .map(|n| n.name().into())
        .collect();
    assert_eq!(nodes.join(", "), java);
}

#[test]
fn triggers_carry_the_acls_their_events_are_filtered_by() {
    let mut t = DataTree::new(false);
    let parent = vec![Acl::world(perms::CREATE | perms::DELETE)];
    let node = vec![Acl::world(perms::WRITE)];
    t.create("/p", None, parent.clone(), 0, 1, 1, 0).unwrap();
    let created = t.create("/p/n", None, node.clone(), 0, 1, 2, 0).unwrap();
    let Trigger::Created {
        acl, parent_acl, ..
    } = created
    else {
        panic!("{created:?}");
    };
    assert_eq!((&*acl, &*parent_acl), (node.as_slice(), parent.as_slice()));
    let changed = t.set_data("/p/n", None, 1, 3, 0).unwrap();
    assert!(matches!(changed, Trigger::DataChanged { ref acl, .. } if **acl == *node));
    // The node's list is freed with its last user: the trigger keeps its own copy.
    let deleted = t.delete("/p/n", 4).unwrap();
    let Trigger::Deleted {
        acl, parent_acl, ..
    } = deleted
    else {
        panic!("{deleted:?}");
    };
    assert_eq!((&*acl, &*parent_acl), (node.as_slice(), parent.as_slice()));
}
