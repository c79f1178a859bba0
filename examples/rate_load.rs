//! An open-loop, constant-rate HTTP/1.1 load generator for `bench/ingest.sh`.
//!
//! Request `i` is due at `start + i / RATE`; its latency is measured from that intended send
//! time, not from when a connection was free to send it, so a stalled server shows up in the
//! percentiles instead of silently slowing the load (no coordinated omission, as in wrk2).
//! `CONCURRENCY_CAP` keep-alive connections (default 64), each driven by one thread with a
//! hand-written client, take the next due request; if all are busy the request waits and the
//! wait counts in its latency.
//!
//! Usage: `rate_load URL RATE DURATION_SECS BODY_FILE [CONCURRENCY_CAP] [HEADER:VALUE...]`
//! Each request is a POST of one line of BODY_FILE (cycling through its lines) with
//! `Content-Type: application/json` unless a header argument sets it. Only `http://` URLs.
//! Requests due in the first DURATION_SECS are sent; the run stops at DURATION_SECS + 10 s at
//! the latest (requests still unsent then are reported as `unsent`). Prints a summary and a
//! `RESULT key=value...` line for scripts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const GRACE: Duration = Duration::from_secs(10);

struct Target {
    addr: SocketAddr,
    host: String,
    path: String,
}

fn parse_url(url: &str) -> Result<Target, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// URLs: {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let with_port = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("no address for {authority}"))?;
    Ok(Target {
        addr,
        host: authority.to_owned(),
        path: path.to_owned(),
    })
}

#[derive(Default)]
struct Tally {
    /// Latency in microseconds of each completed request.
    latencies: Vec<u32>,
    /// How late, in microseconds, each request left against its due time (the generator's own
    /// lag plus waiting for a free connection).
    lags: Vec<u32>,
    non2xx: u64,
    errors: u64,
}

/// What one response said.
enum Outcome {
    Status(u16),
    /// The server closed the connection after answering (or asked to).
    StatusThenClose(u16),
}

fn read_response(r: &mut BufReader<TcpStream>, line: &mut String) -> std::io::Result<Outcome> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    line.clear();
    if r.read_line(line)? == 0 {
        return Err(bad("connection closed before the status line"));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut close = false;
    loop {
        line.clear();
        if r.read_line(line)? == 0 {
            return Err(bad("connection closed in the headers"));
        }
        let h = line.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
    }
    let mut sink = [0u8; 8192];
    let mut skip = |r: &mut BufReader<TcpStream>, mut n: usize| -> std::io::Result<()> {
        while n > 0 {
            let take = n.min(sink.len());
            r.read_exact(&mut sink[..take])?;
            n -= take;
        }
        Ok(())
    };
    if chunked {
        loop {
            line.clear();
            r.read_line(line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    line.clear();
                    if r.read_line(line)? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            skip(r, size + 2)?;
        }
    } else if let Some(n) = length {
        skip(r, n)?;
    } else if status >= 200 && status != 204 && status != 304 {
        // Body until close.
        let mut rest = Vec::new();
        r.read_to_end(&mut rest)?;
        close = true;
    }
    Ok(if close {
        Outcome::StatusThenClose(status)
    } else {
        Outcome::Status(status)
    })
}

fn connect(target: &Target) -> std::io::Result<(TcpStream, BufReader<TcpStream>)> {
    let s = TcpStream::connect_timeout(&target.addr, Duration::from_secs(5))?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    let r = BufReader::with_capacity(16 * 1024, s.try_clone()?);
    Ok((s, r))
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[i.clamp(1, sorted.len()) - 1]) / 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!(
            "usage: {} URL RATE DURATION_SECS BODY_FILE [CONCURRENCY_CAP] [HEADER:VALUE...]",
            args[0]
        );
        std::process::exit(2);
    }
    let fail = |m: String| -> ! {
        eprintln!("rate_load: {m}");
        std::process::exit(2)
    };
    let target = parse_url(&args[1]).unwrap_or_else(|m| fail(m));
    let rate: f64 = args[2]
        .parse()
        .ok()
        .filter(|r: &f64| *r > 0.0 && r.is_finite())
        .unwrap_or_else(|| fail(format!("RATE must be a positive number: {}", args[2])));
    let duration: f64 = args[3]
        .parse()
        .ok()
        .filter(|d: &f64| *d > 0.0 && *d <= 3600.0)
        .unwrap_or_else(|| fail(format!("DURATION_SECS must be in (0, 3600]: {}", args[3])));
    let bodies: Vec<String> = std::fs::read_to_string(&args[4])
        .unwrap_or_else(|e| fail(format!("cannot read {}: {e}", args[4])))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    if bodies.is_empty() {
        fail(format!("{} has no body lines", args[4]));
    }
    let mut rest = &args[5..];
    let mut cap = 64usize;
    if let Some(first) = rest.first() {
        if let Ok(n) = first.parse::<usize>() {
            cap = n.clamp(1, 1024);
            rest = &rest[1..];
        }
    }
    let mut headers = String::new();
    let mut has_type = false;
    for h in rest {
        let Some((name, value)) = h.split_once(':') else {
            fail(format!("a header must look like Name:value: {h}"));
        };
        has_type |= name.trim().eq_ignore_ascii_case("content-type");
        headers.push_str(&format!("{}: {}\r\n", name.trim(), value.trim()));
    }
    if !has_type {
        headers.push_str("Content-Type: application/json\r\n");
    }
    // Every request, ready to write.
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        bodies
            .iter()
            .map(|b| {
                format!(
                    "POST {} HTTP/1.1\r\nHost: {}\r\n{headers}Content-Length: {}\r\n\r\n{b}",
                    target.path,
                    target.host,
                    b.len()
                )
                .into_bytes()
            })
            .collect(),
    );
    let total = (rate * duration).floor() as u64;
    let interval_ns = 1e9 / rate;
    let target = Arc::new(target);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(50);
    let hard_stop = start + Duration::from_secs_f64(duration) + GRACE;

    let workers: Vec<_> = (0..cap)
        .map(|_| {
            let (target, next, requests) = (target.clone(), next.clone(), requests.clone());
            std::thread::spawn(move || {
                let mut tally = Tally::default();
                let mut conn: Option<(TcpStream, BufReader<TcpStream>)> = None;
                let mut line = String::with_capacity(256);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let due = start + Duration::from_nanos((i as f64 * interval_ns) as u64);
                    let now = Instant::now();
                    if now >= hard_stop {
                        break;
                    }
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    let lag = due.elapsed().as_micros().min(u128::from(u32::MAX));
                    tally.lags.push(lag as u32);
                    let req = &requests[(i % requests.len() as u64) as usize];
                    // One retry on a fresh connection when a kept-alive one turns out closed.
                    let mut done = false;
                    for _attempt in 0..2 {
                        let reused = conn.is_some();
                        if !reused {
                            match connect(&target) {
                                Ok(c) => conn = Some(c),
                                Err(_) => break,
                            }
                        }
                        let Some((s, r)) = conn.as_mut() else { break };
                        let result = s.write_all(req).and_then(|()| read_response(r, &mut line));
                        match result {
                            Ok(outcome) => {
                                let status = match outcome {
                                    Outcome::Status(st) => st,
                                    Outcome::StatusThenClose(st) => {
                                        conn = None;
                                        st
                                    }
                                };
                                let micros = due.elapsed().as_micros().min(u128::from(u32::MAX));
                                tally.latencies.push(micros as u32);
                                if !(200..300).contains(&status) {
                                    tally.non2xx += 1;
                                }
                                done = true;
                                break;
                            }
                            Err(_) => {
                                conn = None;
                                if !reused {
                                    break;
                                }
                            }
                        }
                    }
                    if !done {
                        tally.errors += 1;
                    }
                }
                tally
            })
        })
        .collect();

    let mut all = Tally::default();
    for w in workers {
        if let Ok(t) = w.join() {
            all.latencies.extend_from_slice(&t.latencies);
            all.lags.extend_from_slice(&t.lags);
            all.non2xx += t.non2xx;
            all.errors += t.errors;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let done = all.latencies.len() as u64;
    let unsent = total.saturating_sub(done + all.errors);
    all.latencies.sort_unstable();
    all.lags.sort_unstable();
    let (lag50, lag99) = (pct(&all.lags, 50.0), pct(&all.lags, 99.0));
    let l = &all.latencies;
    let achieved = done as f64 / elapsed;
    let (p50, p90, p99, p999) = (pct(l, 50.0), pct(l, 90.0), pct(l, 99.0), pct(l, 99.9));
    let max = l.last().map_or(f64::NAN, |m| f64::from(*m) / 1000.0);
    println!(
        "target {rate:.0} req/s for {duration} s ({total} scheduled, {cap} connections max): \
         {done} answered in {elapsed:.1} s = {achieved:.0} req/s; non-2xx {}; errors {}; unsent {unsent}",
        all.non2xx, all.errors
    );
    println!(
        "latency from intended send time: p50 {p50:.2} ms, p90 {p90:.2} ms, p99 {p99:.2} ms, \
         p99.9 {p999:.2} ms, max {max:.2} ms (send lag behind schedule: p50 {lag50:.2} ms, \
         p99 {lag99:.2} ms)"
    );
    println!(
        "RESULT rate={achieved:.0} count={done} non2xx={} errors={} unsent={unsent} \
         p50={p50:.2} p90={p90:.2} p99={p99:.2} p999={p999:.2} max={max:.2} lag_p50={lag50:.2} lag_p99={lag99:.2}",
        all.non2xx, all.errors
    );
}
