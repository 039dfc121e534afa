//! Properties: any input never panics and a failure is final; a well-behaved leader's
//! random conversation ends with every txn logged, ACKed after it is durable, once, and
//! committed in order.

use proptest::prelude::*;

use super::*;

/// One input to the machine.
#[derive(Debug, Clone)]
enum Step {
    Packet(QuorumPacket),
    Durable(i64),
    Tick(u64),
    Loaded,
}

fn arb_zxid() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        (0i64..4, 0i64..8).prop_map(|(e, c)| Zxid::new(e, c).0),
    ]
}

fn arb_packet() -> impl Strategy<Value = QuorumPacket> {
    prop_oneof![
        (
            -1i32..21,
            arb_zxid(),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        )
            .prop_map(|(r#type, zxid, data)| QuorumPacket {
                r#type,
                zxid,
                data,
                authinfo: None,
            }),
        (0i64..4, 0i64..8).prop_map(|(e, c)| proposal(Zxid::new(e, c))),
        (0i64..4).prop_map(leader_info),
    ]
}

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => arb_packet().prop_map(Step::Packet),
        1 => arb_zxid().prop_map(Step::Durable),
        1 => (0u64..40_000).prop_map(Step::Tick),
        1 => Just(Step::Loaded),
    ]
}

/// What a well-behaved leader sends: a sync kind, the sync proposals with the number of
/// commits released after each, then the same after NEWLEADER and after UPTODATE.
#[derive(Debug, Clone)]
struct Conversation {
    sync: i32,
    before: Vec<usize>,
    between: Vec<usize>,
    after: Vec<usize>,
    /// After each input, how many of the logged txns the writer reports durable (cut to
    /// what is logged).
    flush: Vec<usize>,
}

fn arb_conversation() -> impl Strategy<Value = Conversation> {
    let commits = || proptest::collection::vec(0usize..3, 0..6);
    (
        prop_oneof![Just(pt::DIFF), Just(pt::TRUNC), Just(pt::SNAP)],
        commits(),
        commits(),
        commits(),
        proptest::collection::vec(0usize..4, 64),
    )
        .prop_map(|(sync, before, between, after, flush)| Conversation {
            sync,
            before,
            between,
            after,
            flush,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_input_is_handled_and_a_failure_is_final(steps in proptest::collection::vec(arb_step(), 0..40)) {
        let mut l = started(persisted(1, 1, Zxid::new(1, 3)));
        let mut failed = false;
        for step in steps {
            let r = match step {
                Step::Packet(p) => l.on_packet(0, &p).map(|_| ()),
                Step::Durable(z) => l.durable(Zxid(z)).map(|_| ()),
                Step::Loaded => l.snapshot_loaded(0).map(|_| ()),
                Step::Tick(now) => {
                    let out = l.tick(now);
                    prop_assert!(!failed || out.is_empty(), "a second GoLooking");
                    failed |= !out.is_empty();
                    continue;
                }
            };
            prop_assert!(!failed || r.is_err(), "accepted an input after failing");
            failed |= r.is_err();
        }
    }

    #[test]
    fn a_good_leader_is_followed(c in arb_conversation()) {
        follow(c)?;
    }
}

/// The leader's side of a [`Conversation`]: the packets, and what it committed.
#[derive(Default)]
struct Leader {
    packets: Vec<QuorumPacket>,
    next: i64,
    uncommitted: std::collections::VecDeque<Zxid>,
    committed: Vec<Zxid>,
}

impl Leader {
    /// Proposes one txn per entry of `releases` in `epoch`, each followed by that many
    /// COMMITs of the oldest uncommitted txns.
    fn propose(&mut self, releases: &[usize], epoch: i64) {
        for &release in releases {
            self.next += 1;
            let z = Zxid::new(epoch, self.next);
            self.packets.push(proposal(z));
            self.uncommitted.push_back(z);
            for _ in 0..release.min(self.uncommitted.len()) {
                let z = self.uncommitted.pop_front().expect("counted");
                self.packets.push(bare(pt::COMMIT, z));
                self.committed.push(z);
            }
        }
    }
}

/// The driver's side: performs the actions and checks them as they come.
#[derive(Default)]
struct Driver {
    logged: Vec<Zxid>,
    durable: usize,
    acked: Vec<Zxid>,
    applied: Vec<Zxid>,
    epoch_acks: Vec<i64>,
}

impl Driver {
    fn perform(&mut self, actions: Vec<Action>) -> Result<(), TestCaseError> {
        for a in actions {
            match a {
                Action::Log { zxid, .. } => self.logged.push(zxid),
                Action::Send(p) if p.r#type == pt::ACK && Zxid(p.zxid).counter() == 0 => {
                    self.epoch_acks.push(p.zxid)
                }
                Action::Send(p) if p.r#type == pt::ACK => {
                    let z = Zxid(p.zxid);
                    prop_assert!(!self.epoch_acks.is_empty(), "ACK {z:?} before NEWLEADER's");
                    prop_assert!(self.logged[..self.durable].contains(&z), "ACK {z:?} early");
                    self.acked.push(z);
                }
                Action::Commit { zxid } => {
                    prop_assert!(self.logged.contains(&zxid), "commit of unlogged {zxid:?}");
                    self.applied.push(zxid);
                }
                Action::Apply { entry } => self.applied.push(Zxid(entry.header.zxid)),
                Action::Warn(w) => prop_assert!(false, "warning {w:?}"),
                _ => {}
            }
        }
        Ok(())
    }

    /// The writer reports `n` more txns durable (at most what is logged).
    fn flush(&mut self, l: &mut Learner, n: usize) -> Result<(), TestCaseError> {
        let upto = self.durable.saturating_add(n).min(self.logged.len());
        if upto > self.durable {
            self.durable = upto;
            let out = l.durable(self.logged[upto - 1]).expect("durable");
            self.perform(out)?;
        }
        Ok(())
    }
}

/// Plays `c` against a follower at epoch 1 (log up to (1, 0)) joining epoch 2.
fn follow(c: Conversation) -> Result<(), TestCaseError> {
    let mut l = started(persisted(1, 1, Zxid::new(1, 0)));
    let mut leader = Leader {
        packets: vec![leader_info(2), bare(c.sync, Zxid::new(1, 0))],
        ..Leader::default()
    };
    leader.propose(&c.before, 1);
    leader.packets.push(bare(pt::NEWLEADER, Zxid::new(2, 0)));
    leader.next = 0;
    leader.propose(&c.between, 2);
    leader.packets.push(bare(pt::UPTODATE, Zxid(-1)));
    leader.propose(&c.after, 2);

    let mut d = Driver::default();
    let mut flush = c.flush.iter().cycle();
    for p in &leader.packets {
        // A leader sends UPTODATE only once our NEWLEADER ACK is in.
        if p.r#type == pt::UPTODATE {
            d.flush(&mut l, usize::MAX)?;
        }
        let out = feed(&mut l, 0, p);
        d.perform(out)?;
        if p.r#type == pt::SNAP {
            prop_assert_eq!(l.snapshot_loaded(0).expect("loaded"), vec![]);
        }
        d.flush(&mut l, *flush.next().expect("cycle"))?;
    }
    d.flush(&mut l, usize::MAX)?;
    prop_assert!(l.is_serving());
    prop_assert_eq!(l.epochs(), (2, 2));
    // The NEWLEADER ACK, then the UPTODATE ACK.
    prop_assert_eq!(&d.epoch_acks, &vec![Zxid::new(2, 0).0; 2]);
    // Each logged txn ACKed once, in log order, and logs increase.
    prop_assert_eq!(&d.acked, &d.logged);
    prop_assert!(d.logged.windows(2).all(|w| w[0] < w[1]));
    // Everything the leader committed reached the tree, in order.
    prop_assert_eq!(&d.applied, &leader.committed);
    Ok(())
}
