//! A ClickHouse server for the tests: `CONSENTRY_TEST_CLICKHOUSE_URL` when set (a server the
//! caller runs), else one started here once per test process from Debian's
//! `clickhouse-server` (18.16): a configuration of its own in a temporary folder, listening on
//! free loopback ports only, run as the unprivileged `clickhouse` user when the tests run as
//! root, with a watchdog that stops it and removes its folder when the test process ends.
//! Each test gets a database of its own.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::store::postgres::test_cluster::{free_port, is_root, spawn_watchdog};

const SERVER: &str = "/usr/sbin/clickhouse-server";

/// `http://127.0.0.1:port` of the server.
fn server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("CONSENTRY_TEST_CLICKHOUSE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => start(),
    })
}

fn config(dir: &str, http: u16, tcp: u16) -> String {
    format!(
        r#"<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>{dir}/server.log</log><errorlog>{dir}/server.err.log</errorlog><size>10M</size><count>1</count></logger>
    <http_port>{http}</http_port>
    <tcp_port>{tcp}</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <max_connections>512</max_connections>
    <max_concurrent_queries>200</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>{dir}/data/</path>
    <tmp_path>{dir}/data/tmp/</tmp_path>
    <user_files_path>{dir}/data/user_files/</user_files_path>
    <format_schema_path>{dir}/data/format_schemas/</format_schema_path>
    <users_config>{dir}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
"#
    )
}

const USERS: &str = r#"<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"#;

fn start() -> String {
    assert!(
        Path::new(SERVER).exists(),
        "no ClickHouse server: install Debian's clickhouse-server (scripts/test does), or set CONSENTRY_TEST_CLICKHOUSE_URL"
    );
    let dir = std::env::temp_dir().join(format!("consentry-ch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the server folder is made");
    let dir_s = dir.to_string_lossy().into_owned();
    let (http, tcp) = (free_port(), free_port());
    std::fs::write(dir.join("config.xml"), config(&dir_s, http, tcp)).expect("config written");
    std::fs::write(dir.join("users.xml"), USERS).expect("users written");
    let config_arg = format!("--config-file={dir_s}/config.xml");
    let mut cmd = if is_root() {
        let status = Command::new("chown")
            .args(["-R", "clickhouse:clickhouse"])
            .arg(&dir)
            .status()
            .expect("chown runs");
        assert!(status.success(), "the server folder is given to clickhouse");
        let mut c = Command::new("runuser");
        c.args(["-u", "clickhouse", "--", SERVER]);
        c
    } else {
        Command::new(SERVER)
    };
    let child = cmd
        .arg(&config_arg)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("clickhouse-server starts");
    // Stops the server and removes its folder once this process is gone.
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; pkill -TERM -f -- '{config_arg}'; \
         for i in $(seq 1 30); do pgrep -f -- '{config_arg}' >/dev/null || break; sleep 1; done; \
         pkill -KILL -f -- '{config_arg}'; rm -rf {dir_s}",
        pid = std::process::id()
    );
    spawn_watchdog(&watchdog);
    // Not waited for either: the watchdog stops the server.
    drop(child);
    let url = format!("http://127.0.0.1:{http}");
    let started = Instant::now();
    while !answers(http) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "ClickHouse did not answer within 60 s; see {dir_s}/server.err.log"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    url
}

/// Whether the server answers `/ping`.
fn answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.ends_with("Ok.\n")
}

/// The server's URL and a database name no other test uses (created at start-up by the
/// store).
pub fn database() -> (String, String) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    (server().to_owned(), name)
}
