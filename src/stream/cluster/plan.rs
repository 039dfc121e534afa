//! The next generation of a job: pure, so its rules are tested without an ensemble.
//!
//! A job keeps its generation while every member is registered (the same process), none
//! failed, and it has as many members as it wants (its spec's `workers`, at most the
//! registered workers). Otherwise the next one keeps the members still there, in rank
//! order, and adds the least loaded other workers (resource-based placement; ties by
//! name). Each member's timely port moves with the generation, so a process of an older
//! generation still connecting finds nobody there rather than the new generation.

use std::collections::BTreeMap;

use crate::stream::cluster::nodes::{Generation, JobSpec, Member, WorkerInfo};

/// The generation to write, or None to keep `current`.
pub(crate) fn next_generation(
    job: &str,
    spec: &JobSpec,
    current: Option<&Generation>,
    failed: bool,
    live: &BTreeMap<String, WorkerInfo>,
) -> Option<Generation> {
    let want = spec.workers.min(live.len());
    if want == 0 {
        return None;
    }
    let alive = |m: &Member| live.get(&m.worker).is_some_and(|w| w.session == m.session);
    if let Some(g) = current {
        if !failed && g.members.len() == want && g.members.iter().all(alive) {
            return None;
        }
    }
    let gen = current.map_or(1, |g| g.gen + 1);
    let mut names: Vec<&str> = current
        .map(|g| {
            g.members
                .iter()
                .filter(|m| alive(m))
                .map(|m| m.worker.as_str())
                .collect()
        })
        .unwrap_or_default();
    names.truncate(want);
    let mut others: Vec<(&String, &WorkerInfo)> = live
        .iter()
        .filter(|(n, _)| !names.contains(&n.as_str()))
        .collect();
    others.sort_by_key(|(n, w)| (w.load, n.as_str()));
    for (n, _) in others {
        if names.len() == want {
            break;
        }
        names.push(n);
    }
    let members = names
        .into_iter()
        .filter_map(|n| {
            let w = live.get(n)?;
            Some(Member {
                worker: n.to_string(),
                session: w.session.clone(),
                addr: format!("{}:{}", w.host, port(w, job, gen)),
            })
        })
        .collect();
    Some(Generation { gen, members })
}

/// A member's timely port for generation `gen` of `job`, in the worker's range.
fn port(w: &WorkerInfo, job: &str, gen: u64) -> u16 {
    let span = u64::from(w.ports.max(1));
    // FNV-1a: jobs sharing a worker start at different places in its range.
    let h = job.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    w.port.saturating_add(((h.wrapping_add(gen)) % span) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(workers: usize) -> JobSpec {
        JobSpec {
            sql: String::new(),
            workers,
            threads: 1,
            checkpoint_ms: 100,
            splits: 8,
            state_dir: "/s".into(),
        }
    }

    fn live(ws: &[(&str, u32, u32)]) -> BTreeMap<String, WorkerInfo> {
        ws.iter()
            .map(|(n, pid, load)| {
                (
                    n.to_string(),
                    WorkerInfo {
                        host: "127.0.0.1".into(),
                        port: 9000,
                        ports: 16,
                        pid: *pid,
                        session: pid.to_string(),
                        load: *load,
                    },
                )
            })
            .collect()
    }

    fn names(g: &Generation) -> Vec<&str> {
        g.members.iter().map(|m| m.worker.as_str()).collect()
    }

    #[test]
    fn first_generation_takes_the_least_loaded() {
        let l = live(&[("a", 1, 2), ("b", 2, 0), ("c", 3, 1)]);
        let g = next_generation("j", &spec(2), None, false, &l).unwrap();
        assert_eq!(g.gen, 1);
        assert_eq!(names(&g), ["b", "c"]);
        assert!(next_generation("j", &spec(2), None, false, &BTreeMap::new()).is_none());
    }

    #[test]
    fn a_healthy_generation_stays() {
        let l = live(&[("a", 1, 0), ("b", 2, 0), ("c", 3, 0)]);
        let g = next_generation("j", &spec(2), None, false, &l).unwrap();
        assert!(next_generation("j", &spec(2), Some(&g), false, &l).is_none());
    }

    #[test]
    fn a_lost_or_restarted_member_is_replaced_and_the_rest_keep_their_ranks() {
        let l = live(&[("a", 1, 0), ("b", 2, 0), ("c", 3, 0)]);
        let g = next_generation("j", &spec(2), None, false, &l).unwrap();
        assert_eq!(names(&g), ["a", "b"]);
        let gone = live(&[("b", 2, 0), ("c", 3, 0)]);
        let g2 = next_generation("j", &spec(2), Some(&g), false, &gone).unwrap();
        assert_eq!((g2.gen, names(&g2)), (2, vec!["b", "c"]));
        // `a` restarted under its name: another process.
        let restarted = live(&[("a", 9, 0), ("b", 2, 0), ("c", 3, 5)]);
        let g3 = next_generation("j", &spec(2), Some(&g), false, &restarted).unwrap();
        assert_eq!(names(&g3), ["b", "a"]);
        assert_eq!(g3.members[1].session, "9");
    }

    #[test]
    fn a_failure_gives_a_new_generation_of_the_same_members_on_new_ports() {
        let l = live(&[("a", 1, 0), ("b", 2, 0)]);
        let g = next_generation("j", &spec(2), None, false, &l).unwrap();
        let g2 = next_generation("j", &spec(2), Some(&g), true, &l).unwrap();
        assert_eq!(names(&g2), names(&g));
        assert_ne!(g2.members[0].addr, g.members[0].addr);
    }

    #[test]
    fn rescale_down_keeps_the_first_ranks_and_up_adds_workers() {
        let l = live(&[("a", 1, 0), ("b", 2, 0), ("c", 3, 0)]);
        let g = next_generation("j", &spec(2), None, false, &l).unwrap();
        let one = next_generation("j", &spec(1), Some(&g), false, &l).unwrap();
        assert_eq!(names(&one), ["a"]);
        let two = next_generation("j", &spec(2), Some(&one), false, &l).unwrap();
        assert_eq!(names(&two), ["a", "b"]);
        // Fewer registered than wanted: run on those there are, grow when one comes.
        let few = live(&[("a", 1, 0)]);
        let g1 = next_generation("j", &spec(3), Some(&two), false, &few).unwrap();
        assert_eq!(names(&g1), ["a"]);
        assert!(next_generation("j", &spec(3), Some(&g1), false, &few).is_none());
        assert_eq!(
            next_generation("j", &spec(3), Some(&g1), false, &l)
                .unwrap()
                .members
                .len(),
            3
        );
    }
}
