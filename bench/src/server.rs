//! Starting the real `labelhook` binary on port 0 with a temporary database.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub const TOKEN: &str = "bench-admin-token-0123456789";
const POSTGRES_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The server binary: `$LABELHOOK_BIN`, else `<repo>/target/release/labelhook`.
pub fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("LABELHOOK_BIN") {
        return PathBuf::from(path);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/labelhook")
}

/// A running labelhook process and its database.
pub struct Server {
    pub addr: SocketAddr,
    pub pid: u32,
    child: Option<Child>,
    db_url: String,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
    pg_database: Option<String>,
}

static DB_COUNTER: AtomicU32 = AtomicU32::new(0);

fn psql(sql: &str) -> anyhow::Result<()> {
    let out = Command::new("psql")
        .args([POSTGRES_ADMIN, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .context("running psql")?;
    if !out.status.success() {
        bail!("psql `{sql}`: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

impl Server {
    /// Starts a server with a fresh database; `env` adds or overrides settings.
    pub fn start(backend: Backend, env: &[(&str, String)]) -> anyhow::Result<Server> {
        let dir = tempfile::Builder::new().prefix("lhbench").tempdir()?;
        let (db_url, pg_database) = match backend {
            Backend::Sqlite => (format!("sqlite://{}/lh.db", dir.path().display()), None),
            Backend::Postgres => {
                let name = format!(
                    "lhbench_{}_{}",
                    std::process::id(),
                    DB_COUNTER.fetch_add(1, Ordering::Relaxed)
                );
                psql(&format!("DROP DATABASE IF EXISTS {name}"))?;
                psql(&format!("CREATE DATABASE {name}"))?;
                (
                    format!("postgres://postgres@127.0.0.1:5432/{name}"),
                    Some(name),
                )
            }
        };
        let mut vars: Vec<(String, String)> = vec![
            ("LABELHOOK_ADMIN_TOKEN".into(), TOKEN.into()),
            ("SSRF_PROTECTION_ENABLED".into(), "false".into()),
            ("LABELHOOK_LOG".into(), "warn".into()),
            ("RUST_LOG".into(), "warn".into()),
        ];
        for (k, v) in env {
            vars.retain(|(name, _)| name != k);
            vars.push((k.to_string(), v.clone()));
        }
        // Experiments: LHB_SERVER_ENV="NAME=value,NAME=value" is added to every server.
        if let Ok(extra) = std::env::var("LHB_SERVER_ENV") {
            for pair in extra.split(',').filter(|p| !p.is_empty()) {
                if let Some((k, v)) = pair.split_once('=') {
                    vars.retain(|(name, _)| name != k);
                    vars.push((k.to_string(), v.to_string()));
                }
            }
        }
        let mut server = Server {
            addr: "127.0.0.1:0".parse().unwrap(),
            pid: 0,
            child: None,
            db_url,
            env: vars,
            dir,
            pg_database,
        };
        server.spawn()?;
        Ok(server)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))?;
        let mut command = Command::new(binary());
        // LHB_NOFILE_SOFT=1024: start the server with that soft open-file limit (a common
        // default), to see how a build copes with it.
        if let Some(soft) = std::env::var("LHB_NOFILE_SOFT")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: only async-signal-safe calls (getrlimit, setrlimit) in the child.
            unsafe {
                command.pre_exec(move || {
                    let mut limit = libc::rlimit {
                        rlim_cur: 0,
                        rlim_max: 0,
                    };
                    if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                        limit.rlim_cur = soft.min(limit.rlim_max);
                        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
                    }
                    Ok(())
                });
            }
        }
        let mut child = command
            .args(["serve", "--bind", "127.0.0.1:0", "--db", &self.db_url])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary().display()))?;
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent && let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(rest.trim().to_string());
                    sent = true;
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let log =
                    std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
                bail!("labelhook did not report its address within 60 s; log:\n{log}");
            }
        };
        self.addr = addr.parse().context("parsing the server address")?;
        self.pid = child.id();
        self.child = Some(child);
        Ok(())
    }

    /// Another `labelhook serve` process on the same database (PostgreSQL: processes
    /// share one database); the database stays this server's to drop.
    pub fn another(&self) -> anyhow::Result<Server> {
        let mut other = Server {
            addr: "127.0.0.1:0".parse().unwrap(),
            pid: 0,
            child: None,
            db_url: self.db_url.clone(),
            env: self.env.clone(),
            dir: tempfile::Builder::new().prefix("lhbench").tempdir()?,
            pg_database: None,
        };
        other.spawn()?;
        Ok(other)
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again on the same database (a new port).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn()
    }

    /// `labelhook admin ...` on this server's database; returns what it printed.
    pub fn admin(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(binary())
            .args(["admin", "--db", &self.db_url])
            .args(args)
            .env_remove("DATABASE_URL")
            .output()
            .context("running labelhook admin")?;
        if !out.status.success() {
            bail!(
                "labelhook admin {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn db_bytes(&self) -> u64 {
        std::fs::read_dir(self.dir.path())
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with("lh.db"))
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if let Some(name) = &self.pg_database {
            let deadline = Instant::now() + Duration::from_secs(10);
            while psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).is_err()
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

/// pgbench's TPC-B-like transaction on this machine's PostgreSQL, as the reference the
/// API's figures are read against (issue 20): a scratch database initialized with
/// `pgbench -i` (scale 1), then `pgbench -c <clients> -j 2 -T <secs>`; returns its tps.
pub fn pgbench_tpcb(clients: usize, secs: u64) -> anyhow::Result<f64> {
    let name = format!(
        "lhbench_pgbench_{}_{}",
        std::process::id(),
        DB_COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    psql(&format!("CREATE DATABASE {name}"))?;
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let run = || -> anyhow::Result<f64> {
        let init = Command::new("pgbench")
            .args(["-i", "-q", &url])
            .output()
            .context("running pgbench -i")?;
        if !init.status.success() {
            bail!("pgbench -i: {}", String::from_utf8_lossy(&init.stderr));
        }
        let out = Command::new("pgbench")
            .args([
                "-c",
                &clients.to_string(),
                "-j",
                "2",
                "-T",
                &secs.to_string(),
                &url,
            ])
            .output()
            .context("running pgbench")?;
        let text = String::from_utf8_lossy(&out.stdout);
        // "tps = 3748.123456 (without initial connection time)"
        text.lines()
            .find_map(|line| {
                line.trim()
                    .strip_prefix("tps = ")
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|n| n.parse().ok())
            })
            .with_context(|| format!("no tps in pgbench's output: {text}"))
    };
    let tps = run();
    let _ = psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    tps
}
