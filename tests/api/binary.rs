//! The real `consentry` binary as a child process, for tests that kill or stop it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_consentry");

/// A server process. Dropping it kills it.
pub struct Server {
    child: Child,
    pub port: u16,
}

fn command(data_dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("CONSENTRY_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "warn").arg("--data-dir").arg(data_dir);
    cmd
}

/// Writes the tests' configuration beside the data folder (rate limits out of the way of the
/// load the tests make) and returns its path.
fn test_config(data_dir: &Path) -> String {
    let config = data_dir.with_extension("test.toml");
    std::fs::write(
        &config,
        "[rate_limit]\nburst = 1000000\nper_minute = 1000000\n\
         [rights_rate_limit]\nburst = 1000000\nper_minute = 1000000\n\
         [consent_id_rate_limit]\nburst = 1000000\nper_minute = 1000000\n",
    )
    .expect("the test configuration is written");
    config.to_string_lossy().into_owned()
}

/// Starts the server on port 0 with the tests' configuration.
/// `None` if it exited before saying where it listens.
pub fn try_start(data_dir: &Path) -> (Child, Option<u16>) {
    let config = test_config(data_dir);
    try_start_with(data_dir, &["--config", &config])
}

fn try_start_with(data_dir: &Path, extra: &[&str]) -> (Child, Option<u16>) {
    try_start_with_env(data_dir, extra, &[])
}

fn try_start_with_env(
    data_dir: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Child, Option<u16>) {
    let mut child = command(data_dir)
        .envs(env.iter().copied())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(stderr_file(data_dir))
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("consentry: listening on http://") {
                let port = rest.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
                let _ = tx.send(port);
            }
        }
    });
    let port = rx.recv_timeout(Duration::from_secs(30)).ok().flatten();
    (child, port)
}

/// Where a started server's standard error goes: a file beside the data folder.
pub fn stderr_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.with_extension("stderr.log")
}

fn stderr_file(data_dir: &Path) -> Stdio {
    std::fs::File::create(stderr_path(data_dir)).map_or_else(|_| Stdio::null(), Stdio::from)
}

/// Starts the server with its log at `info`, for tests that read what it says.
pub fn start_logging(data_dir: &Path) -> Server {
    let config = test_config(data_dir);
    let (child, port) =
        try_start_with_env(data_dir, &["--config", &config], &[("RUST_LOG", "info")]);
    Server {
        child,
        port: port.expect("the server reports its port"),
    }
}

pub fn start(data_dir: &Path) -> Server {
    let (child, port) = try_start(data_dir);
    Server {
        child,
        port: port.expect("the server reports its port"),
    }
}

/// Starts the server (rate limits out of the way) with environment variables set.
#[cfg(feature = "test-support")]
pub fn start_with_env(data_dir: &Path, env: &[(&str, &str)]) -> Server {
    let config = test_config(data_dir);
    let (child, port) = try_start_with_env(data_dir, &["--config", &config], env);
    Server {
        child,
        port: port.expect("the server reports its port"),
    }
}

/// Starts the server (rate limits out of the way) with a fault-injection point armed:
/// `CONSENTRY_FAULT=point` makes it abort there (see `consentry::fault`).
#[cfg(feature = "fault-injection")]
pub fn start_with_fault(data_dir: &Path, point: &str) -> Server {
    let config = test_config(data_dir);
    let (child, port) = try_start_with_env(
        data_dir,
        &["--config", &config],
        &[("CONSENTRY_FAULT", point)],
    );
    Server {
        child,
        port: port.expect("the server reports its port"),
    }
}

/// Starts the server (rate limits out of the way) with more command-line arguments.
pub fn start_with_args(data_dir: &Path, args: &[&str]) -> Server {
    let config = test_config(data_dir);
    let mut all = vec!["--config", config.as_str()];
    all.extend_from_slice(args);
    let (child, port) = try_start_with(data_dir, &all);
    Server {
        child,
        port: port.expect("the server reports its port"),
    }
}

/// Starts the server with a configuration file.
pub fn start_with_config(data_dir: &Path, config: &Path) -> Server {
    let config = config.to_string_lossy().into_owned();
    let (child, port) = try_start_with(data_dir, &["--config", &config]);
    Server {
        child,
        port: port.expect("the server reports its port"),
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// The server's own origin, as a browser on one of its pages sends it.
    pub fn origin(&self) -> (&'static str, String) {
        ("origin", format!("http://127.0.0.1:{}", self.port))
    }

    /// Sends a signal by name (`HUP`, `TERM`…) and returns at once.
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status();
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to end by itself (a fault point aborting it); its exit status.
    #[cfg(feature = "fault-injection")]
    pub fn wait_for_exit(mut self) -> ExitStatus {
        self.child.wait().expect("the server exits")
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.child.wait().expect("the server exits")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `consentry store check`: (exit success, stdout + stderr).
pub fn check_store(data_dir: &Path) -> (bool, String) {
    let (ok, out, err) = run_cli(data_dir, &["store", "check"]);
    (ok, out + &err)
}

/// Runs `consentry ledger verify`: (exit success, stdout + stderr).
pub fn verify_ledger(data_dir: &Path) -> (bool, String) {
    let out = command(data_dir)
        .args(["ledger", "verify"])
        .output()
        .expect("the binary runs");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Starts the server without waiting for it to be ready: for killing it mid-start.
pub fn spawn_unready(data_dir: &Path) -> Child {
    command(data_dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts")
}

/// Runs a `consentry` command against a data folder: (exit success, stdout, stderr).
pub fn run_cli(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    run_cli_with_env(data_dir, args, &[])
}

/// `run_cli` with environment variables set for the command.
pub fn run_cli_with_env(
    data_dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (bool, String, String) {
    let out = command(data_dir)
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
