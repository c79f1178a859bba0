//! A PostgreSQL server for the tests: `CONSENTRY_TEST_POSTGRES_URL` when set (a server the
//! caller runs), else one started here once per test process, from Debian's `postgresql-15`
//! binaries: `initdb` into a temporary folder (as the unprivileged `postgres` user when the
//! tests run as root, since the server refuses root), listening on a free loopback port only,
//! with a watchdog that stops it and removes its folder when the test process ends. Each test
//! gets a database of its own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// `host=… port=… user=…` of the server, without a database.
fn server() -> &'static str {
    static SERVER: OnceLock<String> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var("CONSENTRY_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => start(),
    })
}

fn bin_dir() -> PathBuf {
    for dir in [
        "/usr/lib/postgresql/15/bin",
        "/usr/lib/postgresql/16/bin",
        "/usr/lib/postgresql/17/bin",
    ] {
        if Path::new(dir).join("initdb").exists() {
            return PathBuf::from(dir);
        }
    }
    panic!(
        "no PostgreSQL server binaries: install Debian's postgresql-15 (scripts/test does), or set CONSENTRY_TEST_POSTGRES_URL"
    );
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Runs a server binary, as `postgres` when we are root.
fn run(bin: &Path, args: &[&str]) {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    let out = cmd.args(args).output().expect("a PostgreSQL binary runs");
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}{}",
        bin.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn start() -> String {
    let bin = bin_dir();
    let dir = std::env::temp_dir().join(format!("consentry-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the cluster folder is made");
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .expect("chown runs");
        assert!(status.success(), "the cluster folder is given to postgres");
    }
    let data = dir.join("data");
    let data_s = data.to_string_lossy().into_owned();
    let dir_s = dir.to_string_lossy().into_owned();
    run(
        &bin.join("initdb"),
        &[
            "-D",
            &data_s,
            "-U",
            "consentry",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
    );
    let port = free_port();
    let options = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={dir_s} -c max_connections=200"
    );
    let log = dir.join("server.log").to_string_lossy().into_owned();
    run(
        &bin.join("pg_ctl"),
        &["-D", &data_s, "-o", &options, "-l", &log, "-w", "start"],
    );
    // Stops the server and removes its folder once this process is gone.
    let stop = if is_root() {
        format!(
            "runuser -u postgres -- {}/pg_ctl -D {data_s} -m fast stop",
            bin.display()
        )
    } else {
        format!("{}/pg_ctl -D {data_s} -m fast stop", bin.display())
    };
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir_s}",
        pid = std::process::id()
    );
    spawn_watchdog(&watchdog);
    format!("host=127.0.0.1 port={port} user=consentry")
}

/// Runs `script` in a shell that outlives this process on purpose, to stop a test server after
/// it (the script waits for this process to end).
pub(crate) fn spawn_watchdog(script: &str) {
    // Never waited for.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .args(["-c", script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the watchdog starts");
}

/// A new, empty database on the test server; its connection string.
pub fn database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let server = server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let (client, connection) =
            tokio_postgres::connect(&format!("{server} dbname=postgres"), tokio_postgres::NoTls)
                .await
                .expect("the test server answers");
        let driver = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("a test database is made");
        drop(client);
        let _ = driver.await;
    });
    format!("{server} dbname={name}")
}
