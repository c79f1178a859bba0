//! Funnels: which steps of an ordered list a visitor went through, within a window.
//!
//! Pure logic: the steps and window parsed from the wire strings, how far one visitor's touches
//! (pageviews and custom events, in time order) reach, and the answer rows from per-step counts.
//! No storage, HTTP or JSON here: the caller gathers each visitor's touches and shapes the answer.
//!
//! A visitor reaches step k when they reached step k−1 and then, later, matched step k: each
//! step is matched by a touch after the one that matched the step before it (in the order
//! given; one touch never counts for two steps). With `Window::Visit` the steps reached must
//! all be in one visit, and the best visit counts. With `Window::Days(n)` every step after the
//! first must be at most n×24 h after the touch that matched the first (a touch exactly n×24 h
//! later is in), and the best starting touch counts.

use std::fmt;

use crate::domain::glob::Glob;

/// The fewest steps a funnel has.
pub const MIN_STEPS: usize = 2;
/// The most steps a funnel has.
pub const MAX_STEPS: usize = 8;
/// The longest window, in days.
pub const MAX_WINDOW_DAYS: u32 = 90;
/// The longest page pattern or event name, in characters.
pub const MAX_STEP_LEN: usize = 500;

const DAY_MS: i64 = 86_400_000;

/// Why a funnel was refused: a code for the error body and a message naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunnelError {
    pub code: &'static str,
    pub message: String,
}

impl fmt::Display for FunnelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn invalid(message: impl Into<String>) -> FunnelError {
    FunnelError {
        code: "invalid_request",
        message: message.into(),
    }
}

/// A page path pattern: a `Glob` over paths, starting with `/` or `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PagePattern(Glob);

impl PagePattern {
    /// Parses a pattern: 1 to `MAX_STEP_LEN` characters starting with `/` or `*`, no control
    /// characters. `field` names it in the error.
    pub fn parse(raw: &str, field: &str) -> Result<PagePattern, FunnelError> {
        if raw.is_empty() || raw.chars().count() > MAX_STEP_LEN {
            return Err(invalid(format!(
                "`{field}` must be 1 to {MAX_STEP_LEN} characters"
            )));
        }
        if !raw.starts_with(['/', '*']) {
            return Err(invalid(format!(
                "`{field}` is `{}`; a page pattern is a path starting with `/` (or `*`)",
                raw.chars().take(40).collect::<String>()
            )));
        }
        if raw.chars().any(char::is_control) {
            return Err(invalid(format!("`{field}` contains a control character")));
        }
        Ok(PagePattern(Glob::new(raw)))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether the whole of `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        self.0.matches(path)
    }
}

/// A funnel step.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// A pageview whose path matches.
    Page(PagePattern),
    /// A custom event of this name.
    Event(String),
}

impl Step {
    pub fn matches(&self, touch: TouchKind<'_>) -> bool {
        match (self, touch) {
            (Step::Page(p), TouchKind::Page(path)) => p.matches(path),
            (Step::Event(name), TouchKind::Event(e)) => name == e,
            _ => false,
        }
    }
}

/// A step as sent: exactly one of `page` and `event`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawStep {
    pub page: Option<String>,
    pub event: Option<String>,
}

/// How long a visitor has to go from the first step to the last.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Window {
    /// Within one visit. The default.
    #[default]
    Visit,
    /// Within this many days (1 to `MAX_WINDOW_DAYS`) of the first step.
    Days(u32),
}

impl Window {
    /// `"visit"` or `"<N>d"` with N from 1 to `MAX_WINDOW_DAYS`, written without a sign or
    /// leading zeros.
    pub fn parse(raw: &str) -> Result<Window, FunnelError> {
        if raw == "visit" {
            return Ok(Window::Visit);
        }
        let days = raw
            .strip_suffix('d')
            .filter(|n| {
                !n.is_empty() && !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit())
            })
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| (1..=MAX_WINDOW_DAYS).contains(n));
        days.map(Window::Days).ok_or_else(|| {
            invalid(format!(
                "`window` is `{}`; use `visit` or `<N>d` with N from 1 to {MAX_WINDOW_DAYS}",
                raw.chars().take(40).collect::<String>()
            ))
        })
    }

    pub fn name(self) -> String {
        match self {
            Window::Visit => "visit".into(),
            Window::Days(n) => format!("{n}d"),
        }
    }
}

/// What a visitor did: a pageview of a path, or a custom event by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TouchKind<'a> {
    Page(&'a str),
    Event(&'a str),
}

/// One thing a visitor did, with when (ms) and in which of their visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touch<'a> {
    pub at_ms: i64,
    pub visit: u64,
    pub kind: TouchKind<'a>,
}

/// A funnel that can be answered: 2 to 8 steps and a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funnel {
    steps: Vec<Step>,
    window: Window,
}

fn parse_step(raw: &RawStep, i: usize) -> Result<Step, FunnelError> {
    match (&raw.page, &raw.event) {
        (Some(page), None) => PagePattern::parse(page, &format!("steps[{i}].page")).map(Step::Page),
        (None, Some(name)) => {
            let field = format!("steps[{i}].event");
            if name.is_empty() || name.chars().count() > MAX_STEP_LEN {
                return Err(invalid(format!(
                    "`{field}` must be 1 to {MAX_STEP_LEN} characters"
                )));
            }
            if name == "pageview" {
                return Err(invalid(format!(
                    "`{field}` is `pageview`; name the page instead: {{\"page\": \"/path\"}}"
                )));
            }
            Ok(Step::Event(name.clone()))
        }
        _ => Err(invalid(format!(
            "`steps[{i}]` needs exactly one of `page` and `event`"
        ))),
    }
}

impl Funnel {
    /// Parses the steps and the window (`None`: `visit`).
    pub fn parse(steps: &[RawStep], window: Option<&str>) -> Result<Funnel, FunnelError> {
        if !(MIN_STEPS..=MAX_STEPS).contains(&steps.len()) {
            return Err(invalid(format!(
                "`steps` has {}; a funnel has {MIN_STEPS} to {MAX_STEPS} steps",
                steps.len()
            )));
        }
        let steps = steps
            .iter()
            .enumerate()
            .map(|(i, s)| parse_step(s, i))
            .collect::<Result<Vec<_>, _>>()?;
        let window = window.map(Window::parse).transpose()?.unwrap_or_default();
        Ok(Funnel::new(steps, window))
    }

    /// A funnel from parsed parts. The caller keeps to `MIN_STEPS..=MAX_STEPS`; `reached`
    /// answers for any number.
    pub fn new(steps: Vec<Step>, window: Window) -> Funnel {
        Funnel { steps, window }
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    pub fn window(&self) -> Window {
        self.window
    }

    /// How many steps (0 to `steps().len()`) one visitor reached, from their touches in time
    /// order.
    pub fn reached(&self, touches: &[Touch<'_>]) -> usize {
        match self.window {
            Window::Visit => self.reached_in_a_visit(touches),
            Window::Days(n) => self.reached_within(touches, i64::from(n) * DAY_MS),
        }
    }

    /// Each visit on its own: the earliest match of each next step is never worse than a later
    /// one, so one pass keeps how far each visit got.
    fn reached_in_a_visit(&self, touches: &[Touch<'_>]) -> usize {
        let mut progress: Vec<(u64, usize)> = Vec::new();
        let mut best = 0;
        for t in touches {
            let at = match progress.iter().position(|(v, _)| *v == t.visit) {
                Some(at) => at,
                None => {
                    progress.push((t.visit, 0));
                    progress.len() - 1
                }
            };
            let done = &mut progress[at].1;
            if self.steps.get(*done).is_some_and(|s| s.matches(t.kind)) {
                *done += 1;
                best = best.max(*done);
            }
        }
        best
    }

    /// `latest[k]`: the latest start (time of a step-1 touch) of a run that has reached step
    /// k+1 so far. A later start leaves at least as much of the window, so it is the only one
    /// worth keeping. Steps are updated from the last down, so a touch extends only runs that
    /// earlier touches made and never counts for two steps.
    fn reached_within(&self, touches: &[Touch<'_>], window_ms: i64) -> usize {
        let mut latest: Vec<Option<i64>> = vec![None; self.steps.len()];
        for t in touches {
            for k in (1..self.steps.len()).rev() {
                let Some(start) = latest[k - 1] else {
                    continue;
                };
                if t.at_ms.saturating_sub(start) <= window_ms && self.steps[k].matches(t.kind) {
                    latest[k] = Some(latest[k].map_or(start, |s| s.max(start)));
                }
            }
            if self.steps.first().is_some_and(|s| s.matches(t.kind)) {
                latest[0] = Some(latest[0].map_or(t.at_ms, |s| s.max(t.at_ms)));
            }
        }
        latest
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |k| k + 1)
    }
}

/// How many visitors reached each step, from how far each visitor got: `steps` counts,
/// the k-th being the visitors who reached step k+1 or further.
pub fn tally(reached: impl IntoIterator<Item = usize>, steps: usize) -> Vec<u64> {
    let mut at_least = vec![0u64; steps + 1];
    for r in reached {
        at_least[r.min(steps)] += 1;
    }
    let mut running = 0;
    let mut out = vec![0u64; steps];
    for k in (0..steps).rev() {
        running += at_least[k + 1];
        out[k] = running;
    }
    out
}

/// One step of the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRow {
    pub visitors: u64,
    /// Percent of the visitors of step 1, rounded half up to 0.1 (0 when step 1 has none).
    pub conversion_rate: f64,
    /// The previous step's visitors minus this one's (0 for step 1).
    pub drop_off: u64,
}

/// The answer rows from per-step visitor counts.
pub fn rows(counts: &[u64]) -> Vec<StepRow> {
    let first = counts.first().copied().unwrap_or(0);
    let mut previous = first;
    counts
        .iter()
        .map(|&visitors| {
            let row = StepRow {
                visitors,
                conversion_rate: percent(visitors, first),
                drop_off: previous.saturating_sub(visitors),
            };
            previous = visitors;
            row
        })
        .collect()
}

/// `part` of `whole` in percent, rounded half up to one decimal, computed in integers.
fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    let (part, whole) = (u128::from(part), u128::from(whole));
    let tenths = (part * 1000 * 2 + whole) / (whole * 2);
    // At most 1000 × part / whole tenths: exact in an f64 for any count a store holds.
    tenths as f64 / 10.0
}

#[cfg(test)]
mod tests;
