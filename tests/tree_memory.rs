//! How many bytes the tree allocates per znode for the bench's load shape (1000 parents of
//! 1000 children, 100-byte values), counted by a wrapping allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// The layout of a znode is what keeps a loaded server's RSS at a quarter of ZooKeeper's:
/// 72 bytes of node, 109 of name and data in one allocation, a child-set slot in its parent.
#[test]
fn bytes_per_znode() {
    use ferrokeeper::proto::{perms, Acl};
    use ferrokeeper::tree::DataTree;
    let mut t = DataTree::new(false);
    let open = vec![Acl::world(perms::ALL)];
    let before = LIVE.load(Ordering::Relaxed);
    let mut z = 1;
    t.create("/fkbench", None, open.clone(), 0, -1, z, 0)
        .unwrap();
    t.create("/fkbench/load", None, open.clone(), 0, -1, z, 0)
        .unwrap();
    for p in 0..1000 {
        z += 1;
        t.create(
            &format!("/fkbench/load/p{p}"),
            None,
            open.clone(),
            0,
            -1,
            z,
            0,
        )
        .unwrap();
        for c in 0..1000 {
            z += 1;
            let path = format!("/fkbench/load/p{p}/n{c}");
            t.create(&path, Some(vec![7; 100]), open.clone(), 0, -1, z, 0)
                .unwrap();
        }
    }
    let after = LIVE.load(Ordering::Relaxed);
    let per_znode = (after - before) as f64 / 1_001_002.0;
    eprintln!(
        "{} znodes: {} bytes, {per_znode:.1} per znode",
        t.node_count(),
        after - before
    );
    assert!(per_znode < 195.0, "{per_znode:.1} bytes per znode");
    // Deleting gives it all back (slots and ACL lists are reused, not leaked).
    for p in 0..1000 {
        for c in 0..1000 {
            t.delete(&format!("/fkbench/load/p{p}/n{c}"), z).unwrap();
        }
        t.delete(&format!("/fkbench/load/p{p}"), z).unwrap();
    }
    let left = LIVE.load(Ordering::Relaxed) - before;
    // The slab keeps its chunks (73 MB of slots) for reuse; the rest is freed.
    assert!(left < 80_000_000, "{left} bytes left");
}
