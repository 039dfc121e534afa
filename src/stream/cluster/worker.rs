//! `stream worker`: registers with the ensemble and runs its part of every generation that
//! names it, each as a child process (`stream gen-run`). A child is killed when its
//! generation is superseded or no longer names this worker; a child that fails is reported
//! under the job's `failures/`, so the coordinator starts the next generation. Killing the
//! worker kills its children (they ask the kernel for SIGKILL when their parent dies).

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::Duration;

use clap::Args;

use crate::stream::cluster::nodes::{self, done_path, failures_dir, generation_path, jobs_dir};
use crate::stream::zk_store::ZkManifestStore;
use crate::stream::StreamError;

/// How often the worker looks at the generations.
const POLL: Duration = Duration::from_millis(100);

#[derive(Args, Debug)]
pub(crate) struct WorkerArgs {
    /// The ensemble holding the jobs (host:port,...).
    #[arg(long)]
    zk: String,
    /// This worker's name (default: host:port of --listen).
    #[arg(long)]
    id: Option<String>,
    /// Where its generations' timely listens: host and first port of --ports ports.
    #[arg(long, default_value = "127.0.0.1:7400")]
    listen: String,
    #[arg(long, default_value_t = 16)]
    ports: u16,
    /// Session timeout (ms): how soon the coordinator notices this worker gone.
    #[arg(long, default_value_t = 4000)]
    session_timeout_ms: u64,
    /// Serves the counters of the job processes it runs at http://0.0.0.0:PORT/metrics
    /// (Prometheus text format, labelled by job and worker).
    #[arg(long)]
    metrics_port: Option<u16>,
    /// Its job processes write a progress line to its log every this many seconds; 0: none.
    #[arg(long, default_value_t = 10)]
    progress_secs: u64,
}

/// A child running generation `gen` of a job.
struct Running {
    gen: u64,
    child: Child,
}

pub(crate) fn worker(args: WorkerArgs) -> Result<(), StreamError> {
    let (host, port) = args
        .listen
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .ok_or_else(|| StreamError::Usage(format!("--listen {}: host:port", args.listen)))?;
    let id = args.id.clone().unwrap_or_else(|| args.listen.clone());
    if id.is_empty() || id.contains('/') {
        return Err(StreamError::Usage(format!("--id {id}: a name without '/'")));
    }
    let exe = std::env::current_exe().map_err(|e| StreamError::Engine(format!("exe: {e}")))?;
    let metrics_dir = match args.metrics_port {
        Some(port) => Some(serve_metrics(port, &id)?),
        None => None,
    };
    // A lost session took the registration with it: its children go, and the worker
    // registers again as a new member.
    loop {
        let mut w = Supervisor::register(&args, &id, &host, port, &exe)?;
        w.metrics_dir = metrics_dir.clone();
        loop {
            std::thread::sleep(POLL);
            if let Err(e) = w.tick() {
                // A lost connection passes; a lost session does not.
                tracing::warn!("stream worker {id}: {e}");
                if !w.registered() {
                    tracing::warn!("stream worker {id}: session lost, registering again");
                    break;
                }
            }
        }
    }
}

struct Supervisor {
    zk: ZkManifestStore,
    id: String,
    /// Its registration's session: its identity in generations.
    session: String,
    /// Its registration node.
    me: String,
    info: nodes::WorkerInfo,
    exe: std::path::PathBuf,
    connect: String,
    running: BTreeMap<String, Running>,
    /// The generation each job last ran here: never started twice.
    ran: BTreeMap<String, u64>,
    /// Where its children keep their counters (`<job>.json`), with --metrics-port.
    metrics_dir: Option<std::path::PathBuf>,
    progress_secs: u64,
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        for r in self.running.values_mut() {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }
}

impl Supervisor {
    fn register(
        args: &WorkerArgs,
        id: &str,
        host: &str,
        port: u16,
        exe: &std::path::Path,
    ) -> Result<Supervisor, StreamError> {
        let zk = ZkManifestStore::session(
            &args.zk,
            Duration::from_secs(30),
            Duration::from_millis(args.session_timeout_ms),
        )?;
        zk.ensure(&nodes::workers_dir())?;
        zk.ensure(&jobs_dir())?;
        let session = format!("{:016x}", zk.client().session_id().0);
        let me = format!("{}/{id}", nodes::workers_dir());
        // A registration of this name left by a killed worker lives until its session
        // expires.
        zk.delete_if_there(&me)?;
        let info = nodes::WorkerInfo {
            host: host.to_string(),
            port,
            ports: args.ports.max(1),
            pid: std::process::id(),
            session: session.clone(),
            load: 0,
        };
        nodes::create(&zk, &me, &nodes::to_json(&info)?, true)?;
        tracing::info!("stream worker {id} registered (session {session})");
        Ok(Supervisor {
            zk,
            id: id.to_string(),
            session,
            me,
            info,
            exe: exe.to_path_buf(),
            connect: args.zk.clone(),
            running: BTreeMap::new(),
            ran: BTreeMap::new(),
            metrics_dir: None,
            progress_secs: args.progress_secs,
        })
    }

    /// Whether its registration is still there (twice, so a passing error is no verdict).
    fn registered(&self) -> bool {
        (0..2).any(|_| {
            let there = matches!(nodes::exists(&self.zk, &self.me), Ok(true));
            if !there {
                std::thread::sleep(POLL);
            }
            there
        })
    }

    fn tick(&mut self) -> Result<(), StreamError> {
        let (zk, id, session) = (&self.zk, &self.id, self.session.as_str());
        let (running, ran) = (&mut self.running, &mut self.ran);
        // Children that ended: a failure is reported against its generation.
        running.retain(|job, r| match r.child.try_wait() {
            Ok(None) => true,
            Ok(Some(status)) => {
                if !status.success() {
                    tracing::warn!("job {job} generation {}: {status}", r.gen);
                    let path = format!("{}/g{}-{id}", failures_dir(job), r.gen);
                    let _ = zk.ensure(&failures_dir(job));
                    let _ = nodes::create(zk, &path, status.to_string().as_bytes(), false);
                }
                false
            }
            Err(_) => false,
        });
        let jobs = nodes::children(zk, &jobs_dir())?;
        for job in &jobs {
            let generation = nodes::read::<nodes::Generation>(zk, &generation_path(job))?;
            let mine = generation
                .as_ref()
                .filter(|(g, _)| g.rank_of(id, session).is_some())
                .map(|(g, _)| g.gen);
            if let Some(r) = running.get(job) {
                if mine != Some(r.gen) {
                    tracing::info!("job {job}: generation {} superseded", r.gen);
                    if let Some(mut r) = running.remove(job) {
                        let _ = r.child.kill();
                        let _ = r.child.wait();
                    }
                }
            }
            let Some(gen) = mine else { continue };
            if running.contains_key(job) || ran.get(job) == Some(&gen) {
                continue;
            }
            if nodes::exists(zk, &done_path(job))? {
                continue;
            }
            let metrics_file = self.metrics_dir.as_ref().map(|d| metrics_file(d, job));
            let child = spawn(
                &self.exe,
                &self.connect,
                (job, gen),
                (id, session),
                metrics_file.as_deref(),
                self.progress_secs,
            )?;
            tracing::info!("job {job}: generation {gen} started (pid {})", child.id());
            ran.insert(job.clone(), gen);
            running.insert(job.clone(), Running { gen, child });
        }
        // Jobs removed from the ensemble: their children go.
        running.retain(|job, r| {
            let keep = jobs.contains(job);
            if !keep {
                let _ = r.child.kill();
                let _ = r.child.wait();
            }
            keep
        });
        // The counters of processes that ended go with them.
        if let Some(dir) = &self.metrics_dir {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = e.path();
                let job = path.file_stem().map(|s| s.to_string_lossy().to_string());
                if job.is_some_and(|j| !running.contains_key(&j)) {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let load = running.len() as u32;
        if load != self.info.load {
            self.info.load = load;
            let data = nodes::to_json(&self.info)?;
            let _ = zk.block(zk.client().set_data(&self.me, &data, None));
        }
        Ok(())
    }
}

fn spawn(
    exe: &std::path::Path,
    zk: &str,
    (job, gen): (&str, u64),
    (id, session): (&str, &str),
    metrics_file: Option<&std::path::Path>,
    progress_secs: u64,
) -> Result<Child, StreamError> {
    let mut cmd = Command::new(exe);
    cmd.args(["stream", "gen-run", "--zk", zk, "--job", job])
        .args(["--gen", &gen.to_string(), "--worker", id])
        .args(["--worker-session", session])
        .args(["--progress-secs", &progress_secs.to_string()]);
    if let Some(f) = metrics_file {
        cmd.arg("--metrics-file").arg(f);
    }
    // SAFETY: prctl is async-signal-safe; it only asks for SIGKILL when the parent dies.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
        .map_err(|e| StreamError::Engine(format!("gen-run of {job}: {e}")))
}

fn metrics_file(dir: &std::path::Path, job: &str) -> std::path::PathBuf {
    dir.join(format!("{job}.json"))
}

/// Serves `/metrics` on `port`: the counters its running job processes keep in a directory
/// of this worker's (returned), one file per job, removed when its process ends.
fn serve_metrics(port: u16, id: &str) -> Result<std::path::PathBuf, StreamError> {
    let listener = crate::stream::metrics::bind(port)?;
    let dir =
        std::env::temp_dir().join(format!("ferrokeeper-stream-worker-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| StreamError::io(&dir, e))?;
    let (read_dir, id) = (dir.clone(), id.to_string());
    crate::stream::metrics::serve_with(listener, move || {
        let mut samples = Vec::new();
        for e in std::fs::read_dir(&read_dir).into_iter().flatten().flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "json") {
                let job = path.file_stem().map(|s| s.to_string_lossy().to_string());
                if let (Some(job), Some(s)) = (job, crate::stream::progress::read_sample(&path)) {
                    samples.push((vec![("job", job), ("worker", id.clone())], s));
                }
            }
        }
        samples.sort_by(|a, b| a.0.cmp(&b.0));
        crate::stream::metrics::render(&samples)
    })?;
    Ok(dir)
}
