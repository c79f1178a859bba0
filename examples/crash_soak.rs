//! The crash soak of `bench/crash-soak.sh`: SIGKILL the release binary again and again under a
//! seeded, concurrent mix of consent writes, renewals, withdrawals, erasures and events, and
//! after every kill check what the server promised.
//!
//! One data folder for the whole run. Each cycle starts the server (`serve --listen
//! 127.0.0.1:0`), checks over HTTP what the previous kill left, runs the mix for a random time,
//! SIGKILLs the process and, while it is down, runs `consentry ledger verify` and `consentry
//! store check` (both must exit 0). Every fifth cycle it also kills a server while it opens and
//! recovers the store, and verifies the chain again.
//!
//! The checks, after each restart:
//! - every acknowledged, not erased consent reads 200 with the receipt of the last acknowledged
//!   decision on it (if a decision on that id was in flight at the kill: that receipt, or a new
//!   one whose action is the one in flight, which is then adopted);
//! - every acknowledged erasure: the consent and its export are 404, a renewal is 404, and an
//!   event for the id is dropped as `no_consent`;
//! - in an export, every event is the id's own and one the server accepted for it (no event of
//!   another visitor, no event that was dropped, none twice), and the record is the expected one;
//! - during the load: an event is accepted exactly when the last acknowledged decision grants
//!   analytics, and no request fails while the server is up.
//!
//! Operations on one id are serialised (a task owns an id while it works on it), so the
//! expected state of every id is well defined. At the end every id is checked, the marketer
//! counts (rollups and a raw scan) are compared with the events the exports hold, every id is
//! erased, and nothing may still be counted. The seed fixes every choice the driver makes; when
//! the kill lands relative to the server's work still depends on scheduling.
//!
//! Usage: `crash_soak --bin target/release/consentry [--cycles 300] [--seed N] [--dir DIR]`.
//! Exit 0 when nothing was violated, 1 on any violation, 2 on bad usage.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const API: &str = "/api/v1/sites/demo";
const POLICY: &str = "2026-11-01";
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const PAGE: &str = "https://parcelwise.example/p";
/// Concurrent tasks in the mix.
const WORKERS: u64 = 16;
/// Older ids checked after each restart, besides every id the last cycle touched.
const SAMPLE: usize = 48;
/// Of the ids checked after a restart, how many also have their export read.
const EXPORT_SAMPLE: usize = 16;
/// Concurrent requests in the checks.
const CHECKERS: usize = 8;

/// A small deterministic generator (xorshift64), so a seed replays the driver's choices.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        // splitmix64 of the seed: nearby seeds give unrelated streams, and never zero.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        XorShift((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }
}

/// What was in flight on an id when the server was killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// A renewal or withdrawal with this action.
    Decision(&'static str),
    Erase,
}

/// One consent id the server acknowledged, and what the driver expects of it.
struct Tracked {
    id: String,
    /// The receipt of the last acknowledged decision.
    receipt: String,
    /// Whether that decision grants analytics.
    granted: bool,
    /// An erasure of it was acknowledged (200).
    erased: bool,
    pending: Option<Pending>,
    /// Event number → the server run (cycle) that accepted it, and when.
    accepted: BTreeMap<u64, (u64, Instant)>,
    /// Events in flight at a kill: they may or may not be stored. Number → server run.
    maybe: BTreeMap<u64, u64>,
    next_event: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// An acknowledged consent is gone.
    Lost,
    /// An acknowledged consent reads another receipt than the last acknowledged one.
    Changed,
    /// An erased id is readable.
    Resurrected,
    /// An export holds an event that is not the id's, or was never accepted for it.
    ForeignEvent,
    /// The gate accepted or dropped an event against the acknowledged consent.
    Gate,
    /// The marketer counts disagree with the stored events, or count an erased id.
    Counting,
    Chain,
    Store,
    /// A request failed or was answered wrongly while the server was up; a start failed.
    Server,
}

#[derive(Default)]
struct Stats {
    startup_kills: u64,
    consents_acked: u64,
    decisions_acked: u64,
    erasures_acked: u64,
    events_sent: u64,
    events_accepted: u64,
    events_denied: u64,
    probes: u64,
    inflight_new: u64,
    inflight_decisions: u64,
    inflight_erasures: u64,
    inflight_events: u64,
    adopted: u64,
    not_applied: u64,
    consent_checks: u64,
    erasure_checks: u64,
    export_checks: u64,
    events_in_exports: u64,
    verified: u64,
    store_checked: u64,
    store_failed: u64,
    checked_ids: HashSet<usize>,
    checked_erased: HashSet<usize>,
    events_lost_young: u64,
    events_lost_old: u64,
}

struct Soak {
    seed: u64,
    cycle: u64,
    ids: Vec<Tracked>,
    /// Ids nobody works on: not erased, nothing in doubt.
    free: Vec<usize>,
    /// Ids whose last operation was in flight at the kill, until the next check settles them.
    doubt: Vec<usize>,
    /// Acknowledged erasures.
    erased: Vec<usize>,
    /// Ids worked on since the last check.
    touched: BTreeSet<usize>,
    /// When each cycle's kill came.
    kills: Vec<Instant>,
    stats: Stats,
    violations: Vec<(Kind, String)>,
    /// From the final exports: (id, day) → the server runs that accepted its stored events.
    final_days: BTreeMap<(usize, String), BTreeSet<u64>>,
    final_events: u64,
    /// The fault lines `store check` has reported so far.
    store_faults: BTreeSet<String>,
    /// Disagreements of the rollups with the stored events: known, reported, not a failure of
    /// this run. The rollups count unique visitors from memory (a restart counts a returning
    /// visitor again, so an erasure cannot take all of it back) and are merged after the
    /// events of a group write (a crash between the two leaves them behind). The analytics
    /// engine issue (15) replaces them with answers computed from the stored events.
    rollup_defects: Vec<String>,
}

type Shared = Rc<RefCell<Soak>>;

impl Soak {
    fn violation(&mut self, kind: Kind, what: String) {
        let line = format!(
            "VIOLATION [{kind:?}] cycle {} (seed {}): {what}",
            self.cycle, self.seed
        );
        eprintln!("{line}");
        self.violations.push((kind, line));
    }

    /// A violation after which the driver's model of the store cannot be trusted: stop. A
    /// fault `store check` finds (checked once more at the end) and the final counts do not
    /// stop the run.
    fn fatal(&self) -> bool {
        self.violations
            .iter()
            .any(|(k, _)| !matches!(k, Kind::Store | Kind::Counting))
    }

    fn counting(&mut self, what: String) {
        self.violation(Kind::Counting, what);
    }

    fn rollup_defect(&mut self, what: String) {
        eprintln!("KNOWN DEFECT [rollups] (seed {}): {what}", self.seed);
        self.rollup_defects.push(what);
    }

    fn count(&self, kind: Kind) -> usize {
        self.violations.iter().filter(|(k, _)| *k == kind).count()
    }
}

/// A request's outcome: an answer, or no (complete) answer.
enum Reply {
    Answer(u16, Value),
    Failed(String),
}

struct Http {
    client: awc::Client,
    base: String,
    origin: String,
}

impl Http {
    fn new(port: u16) -> Http {
        Http {
            client: awc::Client::builder()
                .timeout(Duration::from_secs(20))
                .finish(),
            base: format!("http://127.0.0.1:{port}"),
            origin: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "POST" => self.client.post(&url),
            "DELETE" => self.client.delete(&url),
            _ => self.client.get(&url),
        };
        let mut req = req
            .insert_header(("user-agent", UA))
            .insert_header(("origin", self.origin.as_str()));
        if let Some(key) = key {
            req = req.insert_header(("authorization", format!("Bearer {key}")));
        }
        let sent = match body {
            Some(b) => {
                req.insert_header(("content-type", "application/json"))
                    .send_body(b.to_string())
                    .await
            }
            None => req.send().await,
        };
        let mut res = match sent {
            Ok(res) => res,
            Err(e) => return Reply::Failed(e.to_string()),
        };
        let status = res.status().as_u16();
        match res.body().limit(64 << 20).await {
            Ok(bytes) => Reply::Answer(
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            ),
            Err(e) => Reply::Failed(format!("{status}, then the body failed: {e}")),
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, None).await
    }

    async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send("POST", path, Some(body), None).await
    }
}

#[derive(Clone)]
struct Ctx {
    http: Rc<Http>,
    soak: Shared,
    /// Set right after the kill: a failed request from then on was in flight, not an error.
    stop: Rc<Cell<bool>>,
}

impl Ctx {
    fn violation(&self, kind: Kind, what: String) {
        self.soak.borrow_mut().violation(kind, what);
    }

    /// A request failed: in flight at the kill (true), or a violation while the server was up.
    fn failed(&self, what: &str, e: &str) -> bool {
        if self.stop.get() {
            return true;
        }
        self.violation(
            Kind::Server,
            format!("{what} failed while the server was up: {e}"),
        );
        false
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s
    }
}

/// A decision to ask for: (action, choices, whether it grants analytics).
fn pick_decision(rng: &mut XorShift) -> (&'static str, Value, bool) {
    match rng.below(4) {
        0 => ("accept_all", json!({}), true),
        1 => ("reject_all", json!({}), false),
        _ => {
            let analytics = rng.below(3) != 0;
            let marketing = rng.below(2) == 0;
            (
                "save",
                json!({"analytics": analytics, "marketing": marketing}),
                analytics,
            )
        }
    }
}

/// Takes a random id nobody works on.
fn take_free(soak: &Shared, rng: &mut XorShift) -> Option<usize> {
    let mut s = soak.borrow_mut();
    if s.free.is_empty() {
        return None;
    }
    let i = rng.index(s.free.len());
    let idx = s.free.swap_remove(i);
    s.touched.insert(idx);
    Some(idx)
}

/// Gives an id back after an operation that was answered; `in_flight` leaves it in doubt.
fn give_back(soak: &Shared, idx: usize, in_flight: Option<Pending>) {
    let mut s = soak.borrow_mut();
    match in_flight {
        Some(p) => {
            s.ids[idx].pending = Some(p);
            s.doubt.push(idx);
        }
        None if s.ids[idx].erased => {}
        None => s.free.push(idx),
    }
}

/// One task of the mix, until the kill. Returns when a request fails (the server is gone).
async fn worker(ctx: Ctx, mut rng: XorShift) {
    while !ctx.stop.get() {
        let roll = rng.below(100);
        let go_on = match roll {
            0..25 => new_consent(&ctx, &mut rng).await,
            25..60 => match take_free(&ctx.soak, &mut rng) {
                Some(idx) => send_events(&ctx, &mut rng, idx).await,
                None => new_consent(&ctx, &mut rng).await,
            },
            60..80 => match take_free(&ctx.soak, &mut rng) {
                Some(idx) => decide(&ctx, &mut rng, idx, roll < 70).await,
                None => new_consent(&ctx, &mut rng).await,
            },
            80..88 => match take_free(&ctx.soak, &mut rng) {
                Some(idx) => erase(&ctx, idx).await,
                None => new_consent(&ctx, &mut rng).await,
            },
            88..94 => probe_erased(&ctx, &mut rng).await,
            _ => match take_free(&ctx.soak, &mut rng) {
                Some(idx) => read_own(&ctx, idx).await,
                None => new_consent(&ctx, &mut rng).await,
            },
        };
        if !go_on {
            return;
        }
    }
}

async fn new_consent(ctx: &Ctx, rng: &mut XorShift) -> bool {
    let (action, choices, granted) = pick_decision(rng);
    let body = json!({
        "action": action,
        "choices": choices,
        "policy_version": POLICY,
        "url": "https://parcelwise.example/checkout?step=2",
    });
    match ctx.http.post(&format!("{API}/consents"), &body).await {
        Reply::Answer(201, v) => {
            let id = v["consent_id"].as_str().unwrap_or_default().to_owned();
            let receipt = v["receipt"].as_str().unwrap_or_default().to_owned();
            let got = v["choices"]["analytics"].as_bool();
            let mut s = ctx.soak.borrow_mut();
            if id.is_empty() || receipt.is_empty() || got != Some(granted) {
                s.violation(
                    Kind::Server,
                    format!(
                        "a 201 to {action} {choices} is not the record asked for: {}",
                        short(&v)
                    ),
                );
                return false;
            }
            s.ids.push(Tracked {
                id,
                receipt,
                granted,
                erased: false,
                pending: None,
                accepted: BTreeMap::new(),
                maybe: BTreeMap::new(),
                next_event: 0,
            });
            let idx = s.ids.len() - 1;
            s.touched.insert(idx);
            s.free.push(idx);
            s.stats.consents_acked += 1;
            true
        }
        Reply::Answer(status, v) => {
            ctx.violation(
                Kind::Server,
                format!("a new consent was answered {status}: {}", short(&v)),
            );
            false
        }
        Reply::Failed(e) => {
            if ctx.failed("a new consent", &e) {
                ctx.soak.borrow_mut().stats.inflight_new += 1;
            }
            false
        }
    }
}

async fn send_events(ctx: &Ctx, rng: &mut XorShift, idx: usize) -> bool {
    let k = 1 + rng.below(3);
    let (id, granted, first, run) = {
        let mut s = ctx.soak.borrow_mut();
        let run = s.cycle;
        let t = &mut s.ids[idx];
        let first = t.next_event;
        t.next_event += k;
        (t.id.clone(), t.granted, first, run)
    };
    let events: Vec<Value> = (first..first + k)
        .map(|n| json!({"consent_id": id, "name": "pageview", "url": format!("{PAGE}/{id}/{n}")}))
        .collect();
    let body = if k == 1 {
        events[0].clone()
    } else {
        Value::Array(events)
    };
    ctx.soak.borrow_mut().stats.events_sent += k;
    match ctx.http.post(&format!("{API}/events"), &body).await {
        Reply::Answer(202, v) => {
            let accepted = v["accepted"].as_u64();
            let reasons: Vec<&str> = v["dropped"]
                .as_array()
                .map(|d| d.iter().filter_map(|x| x["reason"].as_str()).collect())
                .unwrap_or_default();
            let as_expected = if granted {
                accepted == Some(k) && reasons.is_empty()
            } else {
                accepted == Some(0)
                    && reasons.len() == k as usize
                    && reasons.iter().all(|r| *r == "category_denied")
            };
            let mut s = ctx.soak.borrow_mut();
            if !as_expected {
                let receipt = s.ids[idx].receipt.clone();
                s.violation(
                    Kind::Gate,
                    format!(
                        "{k} events for {id} (last acknowledged receipt {receipt}, analytics {}) were answered {}",
                        if granted { "granted" } else { "denied" },
                        short(&v)
                    ),
                );
                return false;
            }
            if granted {
                let now = Instant::now();
                for n in first..first + k {
                    s.ids[idx].accepted.insert(n, (run, now));
                }
                s.stats.events_accepted += k;
            } else {
                s.stats.events_denied += k;
            }
            drop(s);
            give_back(&ctx.soak, idx, None);
            true
        }
        Reply::Answer(status, v) => {
            ctx.violation(
                Kind::Server,
                format!("events for {id} were answered {status}: {}", short(&v)),
            );
            false
        }
        Reply::Failed(e) => {
            if ctx.failed("an event post", &e) {
                let mut s = ctx.soak.borrow_mut();
                s.stats.inflight_events += k;
                if granted {
                    for n in first..first + k {
                        s.ids[idx].maybe.insert(n, run);
                    }
                }
            }
            // The consent itself is not in doubt.
            give_back(&ctx.soak, idx, None);
            false
        }
    }
}

/// A renewal (a new decision naming the id) or, with `withdraw`, a withdrawal.
async fn decide(ctx: &Ctx, rng: &mut XorShift, idx: usize, withdraw: bool) -> bool {
    let (action, choices, granted) = if withdraw {
        ("withdraw", json!({}), false)
    } else {
        pick_decision(rng)
    };
    let (id, old) = {
        let s = ctx.soak.borrow();
        (s.ids[idx].id.clone(), s.ids[idx].receipt.clone())
    };
    let body = json!({
        "action": action,
        "choices": choices,
        "policy_version": POLICY,
        "consent_id": id,
    });
    match ctx.http.post(&format!("{API}/consents"), &body).await {
        Reply::Answer(201, v) => {
            let receipt = v["receipt"].as_str().unwrap_or_default().to_owned();
            let ok = v["consent_id"] == id.as_str()
                && !receipt.is_empty()
                && receipt != old
                && v["action"] == action
                && v["choices"]["analytics"].as_bool() == Some(granted);
            if !ok {
                ctx.violation(
                    Kind::Server,
                    format!(
                        "{action} of {id} (receipt {old}) was answered 201 {}",
                        short(&v)
                    ),
                );
                return false;
            }
            {
                let mut s = ctx.soak.borrow_mut();
                let t = &mut s.ids[idx];
                t.receipt = receipt;
                t.granted = granted;
                s.stats.decisions_acked += 1;
            }
            give_back(&ctx.soak, idx, None);
            true
        }
        Reply::Answer(404, v) => {
            ctx.violation(
                Kind::Lost,
                format!(
                    "{action} of acknowledged consent {id} (receipt {old}) was answered 404: {}",
                    short(&v)
                ),
            );
            false
        }
        Reply::Answer(status, v) => {
            ctx.violation(
                Kind::Server,
                format!("{action} of {id} was answered {status}: {}", short(&v)),
            );
            false
        }
        Reply::Failed(e) => {
            if ctx.failed(action, &e) {
                ctx.soak.borrow_mut().stats.inflight_decisions += 1;
                give_back(&ctx.soak, idx, Some(Pending::Decision(action)));
            }
            false
        }
    }
}

async fn erase(ctx: &Ctx, idx: usize) -> bool {
    let id = ctx.soak.borrow().ids[idx].id.clone();
    let path = format!("{API}/consents/{id}");
    match ctx.http.send("DELETE", &path, None, None).await {
        Reply::Answer(200, v) if v["erased"] == true && v["consent_id"] == id.as_str() => {
            {
                let mut s = ctx.soak.borrow_mut();
                s.ids[idx].erased = true;
                s.erased.push(idx);
                s.stats.erasures_acked += 1;
            }
            give_back(&ctx.soak, idx, None);
            true
        }
        Reply::Answer(404, v) => {
            ctx.violation(
                Kind::Lost,
                format!(
                    "the erasure of acknowledged consent {id} was answered 404: {}",
                    short(&v)
                ),
            );
            false
        }
        Reply::Answer(status, v) => {
            ctx.violation(
                Kind::Server,
                format!("the erasure of {id} was answered {status}: {}", short(&v)),
            );
            false
        }
        Reply::Failed(e) => {
            if ctx.failed("an erasure", &e) {
                ctx.soak.borrow_mut().stats.inflight_erasures += 1;
                give_back(&ctx.soak, idx, Some(Pending::Erase));
            }
            false
        }
    }
}

/// An acknowledged erasure during the load: an event for it is dropped as `no_consent`, and
/// sometimes a renewal of it is 404.
async fn probe_erased(ctx: &Ctx, rng: &mut XorShift) -> bool {
    let picked = {
        let mut s = ctx.soak.borrow_mut();
        if s.erased.is_empty() {
            None
        } else {
            let idx = s.erased[rng.index(s.erased.len())];
            let t = &mut s.ids[idx];
            let n = t.next_event;
            t.next_event += 1;
            s.stats.probes += 1;
            s.stats.events_sent += 1;
            Some((s.ids[idx].id.clone(), n))
        }
    };
    let Some((id, n)) = picked else {
        return new_consent(ctx, rng).await;
    };
    let body = json!({"consent_id": id, "name": "pageview", "url": format!("{PAGE}/{id}/{n}")});
    match ctx.http.post(&format!("{API}/events"), &body).await {
        Reply::Answer(202, v)
            if v["accepted"] == 0 && v["dropped"][0]["reason"] == "no_consent" =>
        {
            ctx.soak.borrow_mut().stats.events_denied += 1;
        }
        Reply::Answer(status, v) => {
            ctx.violation(
                Kind::Resurrected,
                format!(
                    "an event for erased id {id} was answered {status} {}",
                    short(&v)
                ),
            );
            return false;
        }
        Reply::Failed(e) => {
            ctx.failed("an event for an erased id", &e);
            return false;
        }
    }
    if rng.below(4) == 0 {
        let body = json!({"action": "accept_all", "policy_version": POLICY, "consent_id": id});
        match ctx.http.post(&format!("{API}/consents"), &body).await {
            Reply::Answer(404, _) => {}
            Reply::Answer(status, v) => {
                ctx.violation(
                    Kind::Resurrected,
                    format!(
                        "a renewal of erased id {id} was answered {status} {}",
                        short(&v)
                    ),
                );
                return false;
            }
            Reply::Failed(e) => {
                ctx.failed("a renewal of an erased id", &e);
                return false;
            }
        }
    }
    true
}

async fn read_own(ctx: &Ctx, idx: usize) -> bool {
    let (id, receipt) = {
        let s = ctx.soak.borrow();
        (s.ids[idx].id.clone(), s.ids[idx].receipt.clone())
    };
    match ctx.http.get(&format!("{API}/consents/{id}")).await {
        Reply::Answer(200, v) if v["receipt"] == receipt.as_str() => {
            give_back(&ctx.soak, idx, None);
            true
        }
        Reply::Answer(status, v) => {
            let kind = if status == 404 {
                Kind::Lost
            } else {
                Kind::Changed
            };
            ctx.violation(
                kind,
                format!(
                    "{id} (last acknowledged receipt {receipt}) read {status} {} during the load",
                    short(&v)
                ),
            );
            false
        }
        Reply::Failed(e) => {
            ctx.failed("a read", &e);
            give_back(&ctx.soak, idx, None);
            false
        }
    }
}

/// Runs `f` over `items`, `n` at a time.
async fn pool<F, Fut>(n: usize, items: Vec<usize>, f: F)
where
    F: Fn(usize) -> Fut + Clone + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let queue = Rc::new(RefCell::new(items));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let queue = queue.clone();
        let f = f.clone();
        tasks.push(actix_web::rt::spawn(async move {
            loop {
                let next = queue.borrow_mut().pop();
                let Some(i) = next else { break };
                f(i).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Checks one id after a restart; settles what was in doubt; with `export`, reads its export.
async fn check_one(ctx: Ctx, idx: usize, export: bool, last: bool) {
    let (id, receipt, pending, erased) = {
        let s = ctx.soak.borrow();
        let t = &s.ids[idx];
        (t.id.clone(), t.receipt.clone(), t.pending, t.erased)
    };
    let path = format!("{API}/consents/{id}");
    let mut erased_now = erased;
    if !erased {
        let reply = ctx.http.get(&path).await;
        let mut s = ctx.soak.borrow_mut();
        s.stats.consent_checks += 1;
        s.stats.checked_ids.insert(idx);
        match reply {
            Reply::Answer(200, v) => {
                let found = v["receipt"].as_str().unwrap_or_default().to_owned();
                let adopt = match pending {
                    Some(Pending::Decision(a)) => found != receipt && v["action"] == a,
                    _ => false,
                };
                if found == receipt {
                    if pending.is_some() {
                        s.stats.not_applied += 1;
                    }
                } else if adopt {
                    let t = &mut s.ids[idx];
                    t.receipt = found;
                    t.granted = v["choices"]["analytics"].as_bool() == Some(true);
                    s.stats.adopted += 1;
                } else {
                    s.violation(
                        Kind::Changed,
                        format!(
                            "{id}: expected receipt {receipt} (in flight at the kill: {pending:?}), found {}",
                            short(&v)
                        ),
                    );
                }
            }
            Reply::Answer(404, _) if pending == Some(Pending::Erase) => {
                s.ids[idx].erased = true;
                s.erased.push(idx);
                s.stats.adopted += 1;
                erased_now = true;
            }
            Reply::Answer(404, v) => s.violation(
                Kind::Lost,
                format!(
                    "acknowledged consent {id} (receipt {receipt}, in flight at the kill: {pending:?}) reads 404 {}",
                    short(&v)
                ),
            ),
            Reply::Answer(status, v) => s.violation(
                Kind::Server,
                format!("reading {id} was answered {status} {}", short(&v)),
            ),
            Reply::Failed(e) => s.violation(Kind::Server, format!("reading {id} failed: {e}")),
        }
    }
    if pending.is_some() {
        let mut s = ctx.soak.borrow_mut();
        s.ids[idx].pending = None;
        if !erased_now {
            s.free.push(idx);
        }
    }
    if erased_now {
        check_erased(&ctx, idx, &id).await;
    } else if export {
        check_export(&ctx, idx, &id, last).await;
    }
}

async fn check_erased(ctx: &Ctx, idx: usize, id: &str) {
    let read = ctx.http.get(&format!("{API}/consents/{id}")).await;
    let export = ctx.http.get(&format!("{API}/consents/{id}/export")).await;
    let mut s = ctx.soak.borrow_mut();
    s.stats.erasure_checks += 1;
    s.stats.checked_erased.insert(idx);
    for (what, reply) in [("the consent", read), ("the export", export)] {
        match reply {
            Reply::Answer(404, _) => {}
            Reply::Answer(status, v) => s.violation(
                Kind::Resurrected,
                format!("erased id {id}: {what} reads {status} {}", short(&v)),
            ),
            Reply::Failed(e) => {
                s.violation(Kind::Server, format!("erased id {id}: {what} failed: {e}"))
            }
        }
    }
}

async fn check_export(ctx: &Ctx, idx: usize, id: &str, last: bool) {
    let reply = ctx.http.get(&format!("{API}/consents/{id}/export")).await;
    let mut s = ctx.soak.borrow_mut();
    s.stats.export_checks += 1;
    let v = match reply {
        Reply::Answer(200, v) => v,
        Reply::Answer(status, v) => {
            let kind = if status == 404 {
                Kind::Lost
            } else {
                Kind::Server
            };
            s.violation(
                kind,
                format!(
                    "the export of acknowledged consent {id} reads {status} {}",
                    short(&v)
                ),
            );
            return;
        }
        Reply::Failed(e) => {
            s.violation(Kind::Server, format!("the export of {id} failed: {e}"));
            return;
        }
    };
    let receipt = s.ids[idx].receipt.clone();
    if v["current"]["receipt"] != receipt.as_str() {
        s.violation(
            Kind::Changed,
            format!(
                "the export of {id} holds current {} instead of receipt {receipt}",
                short(&v["current"])
            ),
        );
    }
    let in_history = v["history"]
        .as_array()
        .is_some_and(|h| h.iter().any(|e| e["receipt"] == receipt.as_str()));
    if !in_history {
        s.violation(
            Kind::Changed,
            format!("the export history of {id} lacks receipt {receipt}"),
        );
    }
    let prefix = format!("/p/{id}/");
    let mut found: BTreeMap<u64, String> = BTreeMap::new();
    let events = v["events"].as_array().cloned().unwrap_or_default();
    s.stats.events_in_exports += events.len() as u64;
    for e in &events {
        let path = e["path"].as_str().unwrap_or_default();
        let n = path
            .strip_prefix(prefix.as_str())
            .and_then(|n| n.parse::<u64>().ok());
        let Some(n) = n else {
            s.violation(
                Kind::ForeignEvent,
                format!(
                    "the export of {id} holds an event of someone else: {}",
                    short(e)
                ),
            );
            continue;
        };
        let t = &s.ids[idx];
        if !t.accepted.contains_key(&n) && !t.maybe.contains_key(&n) {
            s.violation(
                Kind::ForeignEvent,
                format!(
                    "the export of {id} holds event {n}, which the server never accepted: {}",
                    short(e)
                ),
            );
        }
        let day = e["at"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(10)
            .collect();
        if found.insert(n, day).is_some() {
            s.violation(
                Kind::ForeignEvent,
                format!("the export of {id} holds event {n} twice"),
            );
        }
    }
    if !last {
        return;
    }
    // The final pass: every accepted event not found was lost by a kill.
    let mut young = 0;
    let mut old = 0;
    let mut runs_by_day: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let t = &s.ids[idx];
    for (n, (run, at)) in &t.accepted {
        match found.get(n) {
            Some(day) => {
                runs_by_day.entry(day.clone()).or_default().insert(*run);
            }
            None => {
                let kill = s.kills.get(*run as usize).copied();
                let age = kill
                    .map(|k| k.saturating_duration_since(*at))
                    .unwrap_or_default();
                if age >= Duration::from_secs(1) {
                    old += 1
                } else {
                    young += 1
                }
            }
        }
    }
    for (n, run) in &t.maybe {
        if let Some(day) = found.get(n) {
            runs_by_day.entry(day.clone()).or_default().insert(*run);
        }
    }
    s.stats.events_lost_young += young;
    s.stats.events_lost_old += old;
    s.final_events += found.len() as u64;
    for (day, runs) in runs_by_day {
        s.final_days.insert((idx, day), runs);
    }
}

/// Checks after a restart: everything in doubt or touched since the last check and a sample of
/// the rest (or, with `all`, every id).
async fn check(ctx: &Ctx, rng: &mut XorShift, all: bool) {
    let (targets, exports) = {
        let mut s = ctx.soak.borrow_mut();
        let mut set: BTreeSet<usize> = std::mem::take(&mut s.touched);
        set.extend(std::mem::take(&mut s.doubt));
        if all {
            set.extend(0..s.ids.len());
        } else if !s.ids.is_empty() {
            for _ in 0..SAMPLE {
                set.insert(rng.index(s.ids.len()));
            }
        }
        let targets: Vec<usize> = set.into_iter().collect();
        let mut exports = BTreeSet::new();
        if all {
            exports.extend(targets.iter().copied());
        } else if !targets.is_empty() {
            for _ in 0..EXPORT_SAMPLE {
                exports.insert(targets[rng.index(targets.len())]);
            }
        }
        (targets, Rc::new(exports))
    };
    let c = ctx.clone();
    pool(CHECKERS, targets, move |idx| {
        check_one(c.clone(), idx, exports.contains(&idx), all)
    })
    .await;
}

/// The marketer counts over the run's days: (visitors, pageviews, visits, source).
async fn counts(
    http: &Http,
    key: &str,
    range: &Value,
    raw: bool,
) -> Result<(i64, i64, i64, String), String> {
    let mut body = json!({"metrics": ["visitors", "pageviews", "visits"], "date_range": range});
    if raw {
        // Any filter but one `is` forces a scan of the raw events.
        body["filters"] = json!([["contains", "event:page", ["/p/"]]]);
    }
    match http
        .send("POST", &format!("{API}/query"), Some(&body), Some(key))
        .await
    {
        Reply::Answer(200, v) => {
            let m = &v["results"][0]["metrics"];
            let n = |i: usize| m[i].as_f64().unwrap_or(0.0) as i64;
            Ok((
                n(0),
                n(1),
                n(2),
                v["meta"]["source"].as_str().unwrap_or("?").to_owned(),
            ))
        }
        Reply::Answer(status, v) => Err(format!("the query was answered {status} {}", short(&v))),
        Reply::Failed(e) => Err(format!("the query failed: {e}")),
    }
}

async fn today(http: &Http, key: &str) -> Option<String> {
    let body = json!({"metrics": ["visitors"], "date_range": "today"});
    match http
        .send("POST", &format!("{API}/query"), Some(&body), Some(key))
        .await
    {
        Reply::Answer(200, v) => v["meta"]["date_range"][0].as_str().map(str::to_owned),
        _ => None,
    }
}

struct Opts {
    bin: PathBuf,
    cycles: u64,
    seed: u64,
    dir: Option<PathBuf>,
}

fn parse_args() -> Result<Opts, String> {
    let mut bin = None;
    let mut cycles = 300;
    let mut seed = None;
    let mut dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--bin" => bin = Some(PathBuf::from(value()?)),
            "--cycles" => cycles = value()?.parse().map_err(|e| format!("--cycles: {e}"))?,
            "--seed" => seed = Some(value()?.parse().map_err(|e| format!("--seed: {e}"))?),
            "--dir" => dir = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            % 1_000_000_000_000
    });
    Ok(Opts {
        bin: bin.ok_or("--bin is required")?,
        cycles,
        seed,
        dir,
    })
}

struct Paths {
    bin: PathBuf,
    data: PathBuf,
    config: PathBuf,
    stderr: PathBuf,
}

impl Paths {
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        for (k, _) in std::env::vars() {
            if k.starts_with("CONSENTRY_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("RUST_LOG", "warn")
            .arg("--data-dir")
            .arg(&self.data)
            .arg("--config")
            .arg(&self.config);
        cmd
    }

    /// A `consentry` command against the data folder: (exit success, stdout + stderr).
    fn cli(&self, args: &[&str]) -> (bool, String) {
        match self.command().args(args).output() {
            Ok(out) => {
                let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
                text.push_str(&String::from_utf8_lossy(&out.stderr));
                (out.status.success(), text.trim().to_owned())
            }
            Err(e) => (false, format!("cannot run {}: {e}", self.bin.display())),
        }
    }

    fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }

    /// Starts the server and waits until it says where it listens.
    fn start(&self) -> Result<(Child, u16), String> {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr)
            .map_or_else(|_| Stdio::null(), Stdio::from);
        let mut child = self
            .command()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the server's stdout is not piped".into());
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("consentry: listening on http://") {
                    let _ = tx.send(rest.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()));
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)).ok().flatten() {
            Some(port) => Ok((child, port)),
            None => {
                let _ = child.kill();
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                Err(format!(
                    "the server did not say where it listens within 60 s ({status}); its stderr ends:\n{}",
                    self.stderr_tail()
                ))
            }
        }
    }

    /// Starts the server without waiting for it: to kill it while it opens the store.
    fn spawn_unready(&self) -> Result<Child, String> {
        self.command()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))
    }
}

fn sigkill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `ledger verify` and `store check` while the server is down. A fault `store check` reports
/// stays in the store, so each is a violation once, when first seen.
fn offline_checks(paths: &Paths, soak: &Shared, when: &str, store_check: bool) {
    let (ok, out) = paths.cli(&["ledger", "verify"]);
    {
        let mut s = soak.borrow_mut();
        s.stats.verified += 1;
        if !ok {
            s.violation(Kind::Chain, format!("`ledger verify` {when} failed: {out}"));
        }
    }
    if !store_check {
        return;
    }
    let (ok, out) = paths.cli(&["store", "check"]);
    let mut s = soak.borrow_mut();
    s.stats.store_checked += 1;
    if ok {
        return;
    }
    s.stats.store_failed += 1;
    let faults: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("- "))
        .map(str::to_owned)
        .collect();
    let new: Vec<String> = faults
        .iter()
        .filter(|f| !s.store_faults.contains(*f))
        .cloned()
        .collect();
    if faults.is_empty() || !new.is_empty() {
        let head = out
            .lines()
            .next()
            .unwrap_or_default()
            .trim_end_matches(':')
            .to_owned();
        s.violation(
            Kind::Store,
            format!(
                "`store check` {when} failed: {head}; new: {}",
                new.join(" ")
            ),
        );
    }
    s.store_faults.extend(faults);
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("crash_soak: {e}");
            eprintln!("usage: crash_soak --bin PATH [--cycles N] [--seed N] [--dir DIR]");
            std::process::exit(2);
        }
    };
    let code = actix_web::rt::System::new().block_on(run(opts));
    std::process::exit(code);
}

async fn run(opts: Opts) -> i32 {
    let temp;
    let dir: &Path = match &opts.dir {
        Some(d) => d,
        None => match tempfile::tempdir() {
            Ok(t) => {
                temp = t;
                temp.path()
            }
            Err(e) => {
                eprintln!("crash_soak: no temp dir: {e}");
                return 2;
            }
        },
    };
    let paths = Paths {
        bin: opts.bin.clone(),
        data: dir.join("data"),
        config: dir.join("soak.toml"),
        stderr: dir.join("server.stderr.log"),
    };
    let huge = "burst = 100000000\nper_minute = 100000000\n";
    let config = format!(
        "min_group_size = 1\n[rate_limit]\n{huge}[rights_rate_limit]\n{huge}\
         [consent_id_rate_limit]\n{huge}[auth_failure_limit]\n{huge}[query_rate_limit]\n{huge}"
    );
    if let Err(e) = std::fs::write(&paths.config, config) {
        eprintln!("crash_soak: cannot write {}: {e}", paths.config.display());
        return 2;
    }
    let seed = opts.seed;
    println!(
        "crash soak: seed {seed} (replay: SEED={seed} bash bench/crash-soak.sh; the seed fixes the \
         driver's choices, where each kill lands in the server's work still depends on scheduling)"
    );
    println!(
        "crash soak: data folder {}, server stderr {}",
        paths.data.display(),
        paths.stderr.display()
    );

    // The marketer key for the counting checks, created while the server is stopped.
    let (ok, out) = paths.cli(&["keys", "create", "--site", "demo", "--label", "crash soak"]);
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("key:"))
        .map(|k| k.trim().to_owned());
    let Some(key) = key.filter(|_| ok) else {
        eprintln!("crash_soak: `keys create` failed: {out}");
        return 1;
    };

    let soak: Shared = Rc::new(RefCell::new(Soak {
        seed,
        cycle: 0,
        ids: Vec::new(),
        free: Vec::new(),
        doubt: Vec::new(),
        erased: Vec::new(),
        touched: BTreeSet::new(),
        kills: Vec::new(),
        stats: Stats::default(),
        violations: Vec::new(),
        final_days: BTreeMap::new(),
        final_events: 0,
        store_faults: BTreeSet::new(),
        rollup_defects: Vec::new(),
    }));
    let mut rng = XorShift::new(seed);
    let started = Instant::now();
    let mut first_day = None;

    for cycle in 0..opts.cycles {
        soak.borrow_mut().cycle = cycle;
        let (mut child, port) = match paths.start() {
            Ok(s) => s,
            Err(e) => {
                soak.borrow_mut()
                    .violation(Kind::Server, format!("restart: {e}"));
                break;
            }
        };
        let http = Rc::new(Http::new(port));
        let stop = Rc::new(Cell::new(false));
        let ctx = Ctx {
            http: http.clone(),
            soak: soak.clone(),
            stop: stop.clone(),
        };
        if first_day.is_none() {
            first_day = today(&http, &key).await;
        }
        check(&ctx, &mut rng, false).await;
        if soak.borrow().fatal() {
            sigkill(&mut child);
            break;
        }

        // The mix, for tens to hundreds of milliseconds; one cycle in ten runs for 1.2 to
        // 2.5 s, so some accepted events are past the one-second window before the kill.
        let load_ms = if rng.below(10) == 0 {
            1200 + rng.below(1300)
        } else {
            10 + rng.below(290)
        };
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let r = XorShift::new(seed ^ (cycle << 20) ^ (w << 8) ^ 0xC0FFEE);
                actix_web::rt::spawn(worker(ctx.clone(), r))
            })
            .collect();
        actix_web::rt::time::sleep(Duration::from_millis(load_ms)).await;
        // Nothing else runs on this thread between the kill and `stop`: a request that fails
        // after it was in flight at the kill, one that failed before is a violation.
        sigkill(&mut child);
        stop.set(true);
        soak.borrow_mut().kills.push(Instant::now());
        for w in workers {
            let _ = w.await;
        }
        offline_checks(&paths, &soak, "after the kill", true);

        if cycle % 5 == 4 {
            // Kill while the store is opening and recovering.
            match paths.spawn_unready() {
                Ok(mut c) => {
                    std::thread::sleep(Duration::from_millis(rng.below(80)));
                    sigkill(&mut c);
                    soak.borrow_mut().stats.startup_kills += 1;
                    offline_checks(&paths, &soak, "after a kill during start-up", false);
                }
                Err(e) => soak.borrow_mut().violation(Kind::Server, e),
            }
        }
        if soak.borrow().fatal() {
            break;
        }
        if (cycle + 1) % 25 == 0 {
            let s = soak.borrow();
            println!(
                "  cycle {}/{}: {} consents, {} erased, {} events accepted, {:.0} s",
                cycle + 1,
                opts.cycles,
                s.ids.len(),
                s.erased.len(),
                s.stats.events_accepted,
                started.elapsed().as_secs_f64()
            );
        }
    }

    let cycles_done = {
        let s = soak.borrow();
        s.kills.len() as u64
    };
    if !soak.borrow().fatal() {
        soak.borrow_mut().cycle = opts.cycles;
        final_pass(&paths, &soak, &mut rng, &key, first_day).await;
    }
    summary(&soak, cycles_done, started.elapsed())
}

/// After the last kill: every id checked, the counts against the stored events, then every id
/// erased and nothing still counted; a clean stop, the chain and the store once more.
async fn final_pass(
    paths: &Paths,
    soak: &Shared,
    rng: &mut XorShift,
    key: &str,
    first_day: Option<String>,
) {
    let (mut child, port) = match paths.start() {
        Ok(s) => s,
        Err(e) => {
            soak.borrow_mut()
                .violation(Kind::Server, format!("final restart: {e}"));
            return;
        }
    };
    let http = Rc::new(Http::new(port));
    let ctx = Ctx {
        http: http.clone(),
        soak: soak.clone(),
        stop: Rc::new(Cell::new(false)),
    };
    check(&ctx, rng, true).await;

    let last_day = today(&http, key).await;
    let range = match (first_day, last_day) {
        (Some(a), Some(b)) => json!([a, b]),
        _ => {
            soak.borrow_mut()
                .violation(Kind::Server, "the query for today's date failed".into());
            sigkill(&mut child);
            return;
        }
    };
    // Visitors are unique per day and summed over days (README): what the stored events give.
    let (expected_visitors, if_restarts_reset, expected_pageviews) = {
        let s = soak.borrow();
        let runs: usize = s.final_days.values().map(BTreeSet::len).sum();
        (
            s.final_days.len() as i64,
            runs as i64,
            s.final_events as i64,
        )
    };
    let mut report = Vec::new();
    for raw in [false, true] {
        match counts(&http, key, &range, raw).await {
            Ok((visitors, pageviews, visits, source)) => {
                report.push(format!(
                    "{source}: {visitors} visitors, {pageviews} pageviews, {visits} visits"
                ));
                if (visitors, pageviews) != (expected_visitors, expected_pageviews) {
                    let mut s = soak.borrow_mut();
                    let record = if raw {
                        Soak::counting
                    } else {
                        Soak::rollup_defect
                    };
                    record(
                        &mut s,
                        format!(
                            "before erasing: the query over {range} from {source} counts {visitors} visitors and \
                             {pageviews} pageviews; the exports hold {expected_pageviews} events of \
                             {expected_visitors} visitor-days (unique per day), or {if_restarts_reset} \
                             if every server run counted its visitors afresh"
                        ),
                    );
                }
            }
            Err(e) => soak.borrow_mut().violation(Kind::Counting, e),
        }
    }
    println!(
        "crash soak: counts before erasing: expected {expected_visitors} visitors, {expected_pageviews} pageviews \
         ({if_restarts_reset} visitors if each server run counted afresh); {}",
        report.join("; ")
    );

    // Erase every id still held: afterwards nothing may be counted.
    let live: Vec<usize> = {
        let s = soak.borrow();
        (0..s.ids.len()).filter(|&i| !s.ids[i].erased).collect()
    };
    let c = ctx.clone();
    pool(CHECKERS, live.clone(), move |idx| {
        let c = c.clone();
        async move {
            erase(&c, idx).await;
        }
    })
    .await;
    let c = ctx.clone();
    pool(CHECKERS, live, move |idx| {
        let c = c.clone();
        async move {
            let id = c.soak.borrow().ids[idx].id.clone();
            check_erased(&c, idx, &id).await;
        }
    })
    .await;
    let mut report = Vec::new();
    for raw in [false, true] {
        match counts(&http, key, &range, raw).await {
            Ok((visitors, pageviews, visits, source)) => {
                report.push(format!(
                    "{source}: {visitors} visitors, {pageviews} pageviews, {visits} visits"
                ));
                if (visitors, pageviews, visits) != (0, 0, 0) {
                    let mut s = soak.borrow_mut();
                    let record = if raw {
                        Soak::counting
                    } else {
                        Soak::rollup_defect
                    };
                    record(
                        &mut s,
                        format!(
                            "after erasing every id: the query over {range} from {source} still counts \
                             {visitors} visitors, {pageviews} pageviews, {visits} visits (all must be 0)"
                        ),
                    );
                }
            }
            Err(e) => soak.borrow_mut().violation(Kind::Counting, e),
        }
    }
    println!(
        "crash soak: counts after erasing every id: {}",
        report.join("; ")
    );

    // A clean stop this time, then the chain and the store once more.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    offline_checks(paths, soak, "after the final clean stop", true);
}

fn summary(soak: &Shared, cycles: u64, took: Duration) -> i32 {
    let s = soak.borrow();
    let st = &s.stats;
    println!(
        "crash soak: load: {} consents acknowledged, {} renewals and withdrawals, {} erasures; {} events sent \
         ({} accepted, {} dropped as expected); in flight at a kill: {} new consents, {} decisions, {} erasures, \
         {} events; of the decisions and erasures in flight, {} took effect and {} did not",
        st.consents_acked,
        st.decisions_acked,
        st.erasures_acked,
        st.events_sent,
        st.events_accepted,
        st.events_denied,
        st.inflight_new,
        st.inflight_decisions,
        st.inflight_erasures,
        st.inflight_events,
        st.adopted,
        st.not_applied,
    );
    println!(
        "crash soak: checks: {} consent reads, {} erased-id checks, {} exports holding {} events; accepted events \
         lost to a kill: {} acknowledged under 1 s before it, {} acknowledged 1 s or more before it (the README \
         allows losing under about one second of analytics); {} kills during start-up",
        st.consent_checks,
        st.erasure_checks,
        st.export_checks,
        st.events_in_exports,
        st.events_lost_young,
        st.events_lost_old,
        st.startup_kills,
    );
    println!(
        "crash soak: {cycles} SIGKILL cycles (seed {}): {} acknowledged consents checked ({} checks in all), {} \
         erasures checked, {} events sent, {} lost, {} resurrected, chain verified {} times, store checked {} \
         times ({} failed, {} distinct fault lines); {:.0} s",
        s.seed,
        st.checked_ids.len(),
        st.consent_checks + st.erasure_checks + st.export_checks,
        st.checked_erased.len(),
        st.events_sent,
        s.count(Kind::Lost),
        s.count(Kind::Resurrected),
        st.verified,
        st.store_checked,
        st.store_failed,
        s.store_faults.len(),
        took.as_secs_f64(),
    );
    for what in &s.rollup_defects {
        println!(
            "crash soak: KNOWN DEFECT, not a failure of this run (rollups disagree with the stored events; issue 15 replaces them): {what}"
        );
    }
    if s.violations.is_empty() {
        return 0;
    }
    let mut kinds: BTreeMap<Kind, usize> = BTreeMap::new();
    for (k, _) in &s.violations {
        *kinds.entry(*k).or_default() += 1;
    }
    println!(
        "crash soak: FAILED: {} violations {kinds:?} (seed {}):",
        s.violations.len(),
        s.seed
    );
    for (_, line) in s.violations.iter().take(40) {
        println!("  {line}");
    }
    1
}
