//! `stream coordinator`: run two or more; one leads, chosen by a latch that Curator's
//! `LeaderLatch` would take part in (ephemeral sequential `_c_<id>-latch-<n>` nodes under
//! `leader/`; the lowest sequence leads). The leader writes each job's next generation
//! when the current one lost a member, failed, or has the wrong size (a rescale), in a
//! multi that checks its own latch node: a leader whose session expired, and whose node
//! went with it, can write nothing more.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Args;
use zookeeper_client::{Acls, CreateMode};

use crate::stream::cluster::nodes::{
    self, done_path, failures_dir, generation_path, jobs_dir, spec_path, workers_dir,
};
use crate::stream::cluster::plan;
use crate::stream::zk_store::ZkManifestStore;
use crate::stream::StreamError;

/// How often the coordinator looks at the workers and jobs.
const POLL: Duration = Duration::from_millis(100);
/// A job whose processes failed this many times is left alone (`stream status` shows it).
const MAX_FAILURES: usize = 50;

#[derive(Args, Debug)]
pub(crate) struct CoordinatorArgs {
    /// The ensemble holding the jobs (host:port,...).
    #[arg(long)]
    zk: String,
    /// Session timeout (ms): how soon a standby takes over from a dead leader.
    #[arg(long, default_value_t = 4000)]
    session_timeout_ms: u64,
}

pub(crate) fn coordinator(args: CoordinatorArgs) -> Result<(), StreamError> {
    // A lost session took the latch node with it: join the latch again, last in line.
    loop {
        let (zk, latch) = join_latch(&args)?;
        let node = latch.rsplit('/').next().unwrap_or_default().to_string();
        let mut leading = false;
        loop {
            match leads(&zk, &node) {
                Ok(Some(true)) => {
                    if !leading {
                        tracing::info!("stream coordinator {node}: leading");
                        leading = true;
                    }
                    if let Err(e) = schedule_all(&zk, &latch) {
                        tracing::warn!("stream coordinator {node}: {e}");
                    }
                }
                Ok(Some(false)) => leading = false,
                Ok(None) => {
                    tracing::warn!(
                        "stream coordinator {node}: its latch node is gone (session lost)"
                    );
                    break;
                }
                Err(e) => tracing::warn!("stream coordinator {node}: {e}"),
            }
            std::thread::sleep(POLL);
        }
    }
}

/// A session and its latch node (`leader/_c_<session>-latch-<seq>`).
fn join_latch(args: &CoordinatorArgs) -> Result<(ZkManifestStore, String), StreamError> {
    let zk = ZkManifestStore::session(
        &args.zk,
        Duration::from_secs(30),
        Duration::from_millis(args.session_timeout_ms),
    )?;
    for d in [nodes::leader_dir(), workers_dir(), jobs_dir()] {
        zk.ensure(&d)?;
    }
    let id = format!("{:016x}", zk.client().session_id().0);
    let prefix = format!("{}/_c_{id}-latch-", nodes::leader_dir());
    let opts = CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());
    let (_, seq) = zk
        .block(zk.client().create(&prefix, id.as_bytes(), &opts))?
        .map_err(|e| StreamError::Zk(format!("latch: {e}")))?;
    let latch = format!("{prefix}{seq}");
    tracing::info!("stream coordinator: latch {latch}");
    Ok((zk, latch))
}

/// Whether `node` is the lowest of the latch; None when it is not there at all.
fn leads(zk: &ZkManifestStore, node: &str) -> Result<Option<bool>, StreamError> {
    let mut latch = nodes::children(zk, &nodes::leader_dir())?;
    if !latch.iter().any(|c| c == node) {
        return Ok(None);
    }
    // Curator orders by the sequence after "latch-", whatever precedes it.
    latch.sort_by_key(|c| c.rsplit("latch-").next().unwrap_or_default().to_string());
    Ok(Some(latch.first().is_some_and(|c| c == node)))
}

fn schedule_all(zk: &ZkManifestStore, latch: &str) -> Result<(), StreamError> {
    let mut live = BTreeMap::new();
    for w in nodes::children(zk, &workers_dir())? {
        if let Some((info, _)) =
            nodes::read::<nodes::WorkerInfo>(zk, &format!("{}/{w}", workers_dir()))?
        {
            live.insert(w, info);
        }
    }
    for job in nodes::children(zk, &jobs_dir())? {
        schedule(zk, latch, &job, &live)?;
    }
    Ok(())
}

fn schedule(
    zk: &ZkManifestStore,
    latch: &str,
    job: &str,
    live: &BTreeMap<String, nodes::WorkerInfo>,
) -> Result<(), StreamError> {
    let Some((spec, _)) = nodes::read::<nodes::JobSpec>(zk, &spec_path(job))? else {
        return Ok(()); // an embedded job's nodes
    };
    if nodes::exists(zk, &done_path(job))? {
        return Ok(());
    }
    let failures = nodes::children(zk, &failures_dir(job))?;
    if failures.len() >= MAX_FAILURES {
        return Ok(());
    }
    let current = nodes::read::<nodes::Generation>(zk, &generation_path(job))?;
    let mut failed = current.as_ref().is_some_and(|(g, _)| {
        let tag = format!("g{}-", g.gen);
        failures.iter().any(|f| f.starts_with(&tag))
    });
    // A generation that stopped at a checkpoint (`stream stop`) stays stopped while the
    // request stands; once it is withdrawn (`stream resume`) the job goes on in the next.
    if let Some((g, _)) = &current {
        if nodes::halted_epoch(zk, job, g.gen)?.is_some() {
            if zk.stop_request(job)?.is_some() {
                return Ok(());
            }
            failed = true;
        }
    }
    let Some(next) =
        plan::next_generation(job, &spec, current.as_ref().map(|(g, _)| g), failed, live)
    else {
        return Ok(());
    };
    let data = nodes::to_json(&next)?;
    let path = generation_path(job);
    let mut w = zk.client().new_multi_writer();
    let add =
        |r: Result<(), zookeeper_client::Error>| r.map_err(|e| StreamError::Zk(e.to_string()));
    add(w.add_check_version(latch, 0))?;
    match &current {
        Some((_, version)) => add(w.add_set_data(&path, &data, Some(*version)))?,
        None => add(w.add_create(
            &path,
            &data,
            &CreateMode::Persistent.with_acls(Acls::anyone_all()),
        ))?,
    }
    zk.block(w.commit())?
        .map_err(|e| StreamError::Zk(format!("generation {} of {job}: {e}", next.gen)))?;
    let who: Vec<&str> = next.members.iter().map(|m| m.worker.as_str()).collect();
    tracing::info!("job {job}: generation {} on {who:?}", next.gen);
    Ok(())
}
