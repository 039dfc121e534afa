//! A generation's checkpoint manifests. Each process collects its own workers' acks into
//! a partial manifest (its splits' positions, its workers' files) and writes it under
//! `acks/`; the first process (rank 0) waits for every other rank's, merges them and
//! commits, in one multi that checks the generation node's version, creates the manifest,
//! sets `latest` and deletes the acks. A process returns from a commit once `latest`
//! reaches its epoch, so its sink publishes only committed output.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::stream::checkpoint::{Commit, Manifest, ManifestStore};
use crate::stream::cluster::nodes::{
    self, ack_path, generation_path, halted_dir, halted_epoch, halted_path,
};
use crate::stream::zk_store::ZkManifestStore;
use crate::stream::StreamError;

/// How often a process looks for the others' acks or for the commit.
const POLL: Duration = Duration::from_millis(5);
/// How often, while it waits, it checks that its generation is still the job's.
const FENCE_CHECK: Duration = Duration::from_millis(500);

pub(crate) struct GenStore {
    pub(crate) zk: ZkManifestStore,
    pub(crate) job: String,
    pub(crate) gen: u64,
    /// The generation node's version when this process read it: the commit's fence.
    pub(crate) gen_version: i32,
    pub(crate) rank: usize,
    pub(crate) ranks: usize,
    /// The rank reading each split (its position comes from that rank's ack).
    pub(crate) split_owner: Vec<usize>,
    /// The job's state directory: older generations' files go once none is retained.
    pub(crate) job_dir: PathBuf,
    pub(crate) forgot: bool,
}

impl GenStore {
    /// Fails once the job has moved on to another generation: this one is fenced out.
    fn still_current(&self) -> Result<(), StreamError> {
        match nodes::read::<nodes::Generation>(&self.zk, &generation_path(&self.job))? {
            Some((g, v)) if g.gen == self.gen && v == self.gen_version => Ok(()),
            _ => Err(StreamError::Checkpoint(format!(
                "generation {} of {} was superseded",
                self.gen, self.job
            ))),
        }
    }

    /// Polls `ready` until it gives a value, checking the fence now and then. A lost
    /// connection is waited out (the client moves the session to another server); a lost
    /// session is not.
    fn wait_for<T>(
        &self,
        mut ready: impl FnMut() -> Result<Option<T>, StreamError>,
    ) -> Result<T, StreamError> {
        let mut checked = Instant::now();
        loop {
            match ready() {
                Ok(Some(v)) => return Ok(v),
                Ok(None) | Err(StreamError::Disconnected(_)) => {}
                Err(e) => return Err(e),
            }
            if checked.elapsed() >= FENCE_CHECK {
                match self.still_current() {
                    Ok(()) | Err(StreamError::Disconnected(_)) => {}
                    Err(e) => return Err(e),
                }
                checked = Instant::now();
            }
            std::thread::sleep(POLL);
        }
    }

    /// Whether epoch `epoch` is committed.
    fn committed(&self, epoch: u64) -> Result<Option<()>, StreamError> {
        Ok(nodes::latest_epoch(&self.zk, &self.job)?
            .filter(|l| *l >= epoch)
            .map(|_| ()))
    }

    fn merge(&self, mine: &Manifest) -> Result<(Manifest, Vec<String>), StreamError> {
        let mut merged = mine.clone();
        merged.generation = Some(self.gen);
        let mut acks = Vec::new();
        for r in 1..self.ranks {
            let path = ack_path(&self.job, self.gen, mine.epoch, r);
            let part: Manifest =
                self.wait_for(|| Ok(nodes::read::<Manifest>(&self.zk, &path)?.map(|(m, _)| m)))?;
            for (k, owner) in self.split_owner.iter().enumerate() {
                if *owner == r {
                    if let (Some(slot), Some(pos)) =
                        (merged.positions.get_mut(k), part.positions.get(k))
                    {
                        *slot = *pos;
                    }
                }
            }
            merged.files.extend(part.files);
            acks.push(path);
        }
        merged.files.sort();
        Ok((merged, acks))
    }
}

impl ManifestStore for GenStore {
    fn commit(&mut self, m: &Manifest) -> Result<(), StreamError> {
        self.commit_halting(m, false).map(|_| ())
    }

    fn commit_halting(&mut self, m: &Manifest, halting: bool) -> Result<Commit, StreamError> {
        if self.rank == 0 {
            let (merged, acks) = self.merge(m)?;
            let fence = generation_path(&self.job);
            self.wait_for(|| {
                match self
                    .zk
                    .commit_fenced(&merged, Some((&fence, self.gen_version)), &acks)
                {
                    Ok(()) => Ok(Some(())),
                    // Applied or not: `latest` tells, once the connection is back.
                    Err(StreamError::Disconnected(_)) => {
                        self.wait_for(|| match self.committed(m.epoch) {
                            Ok(Some(())) => Ok(Some(Some(()))),
                            Ok(None) => Ok(Some(None)),
                            Err(e) => Err(e),
                        })
                    }
                    Err(e) => Err(StreamError::Checkpoint(format!(
                        "generation {} could not commit epoch {}: {e}",
                        self.gen, m.epoch
                    ))),
                }
            })?;
            if !halting {
                return Ok(Commit::Done);
            }
            // The other processes wait for this epoch's commit, or already for the next
            // one's: the marker tells them to stop.
            self.zk.ensure(&halted_dir(&self.job))?;
            let path = halted_path(&self.job, self.gen, None);
            let epoch = m.epoch.to_string();
            self.wait_for(|| {
                nodes::create(&self.zk, &path, epoch.as_bytes(), false).map(|_| Some(()))
            })?;
            return Ok(Commit::Halt);
        }
        let path = ack_path(&self.job, self.gen, m.epoch, self.rank);
        let data = nodes::to_json(m)?;
        // Created, or there from an attempt whose answer the connection lost.
        self.wait_for(|| nodes::create(&self.zk, &path, &data, false).map(|_| Some(())))?;
        self.wait_for(|| {
            let halt = halted_epoch(&self.zk, &self.job, self.gen)?;
            if self.committed(m.epoch)?.is_some() {
                return Ok(Some(if halt == Some(m.epoch) {
                    Commit::Halt
                } else {
                    Commit::Done
                }));
            }
            Ok(halt.filter(|h| *h < m.epoch).map(|_| Commit::Halted))
        })
    }

    fn forget(&mut self, job: &str, epoch: u64) -> Result<(), StreamError> {
        if self.rank != 0 {
            return Ok(());
        }
        if !self.forgot {
            // Every retained checkpoint is now this generation's: older ones' files go.
            self.forgot = true;
            remove_older_generations(&self.job_dir, self.gen);
        }
        self.zk.forget(job, epoch)
    }
}

/// Removes `g<n>/` directories of generations before `gen`.
pub(crate) fn remove_older_generations(job_dir: &std::path::Path, gen: u64) {
    for e in std::fs::read_dir(job_dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name
            .strip_prefix('g')
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| n < gen)
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
