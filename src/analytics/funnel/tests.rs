use proptest::prelude::*;

use super::*;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn pattern(raw: &str) -> PagePattern {
    PagePattern::parse(raw, "steps[0].page").unwrap()
}

fn page(raw: &str) -> Step {
    Step::Page(pattern(raw))
}

fn event(name: &str) -> Step {
    Step::Event(name.into())
}

fn view(at_ms: i64, visit: u64, path: &str) -> Touch<'_> {
    Touch {
        at_ms,
        visit,
        kind: TouchKind::Page(path),
    }
}

fn did(at_ms: i64, visit: u64, name: &str) -> Touch<'_> {
    Touch {
        at_ms,
        visit,
        kind: TouchKind::Event(name),
    }
}

fn raw_page(p: &str) -> RawStep {
    RawStep {
        page: Some(p.into()),
        event: None,
    }
}

fn raw_event(e: &str) -> RawStep {
    RawStep {
        page: None,
        event: Some(e.into()),
    }
}

// Page patterns.

#[test]
fn a_pattern_without_a_star_matches_exactly_that_path() {
    let p = pattern("/pricing");
    assert!(p.matches("/pricing"));
    for other in [
        "/pricing/",
        "/pricing/team",
        "/Pricing",
        "/",
        "",
        "x/pricing",
    ] {
        assert!(!p.matches(other), "{other:?}");
    }
    assert_eq!(p.as_str(), "/pricing");
}

#[test]
fn a_star_matches_any_run_of_characters_including_none() {
    let cases: &[(&str, &str, bool)] = &[
        ("/blog/*", "/blog/", true),
        ("/blog/*", "/blog/a/b/c", true),
        ("/blog/*", "/blog", false),
        ("*", "", true),
        ("*", "/anything", true),
        ("**", "/x", true),
        ("*/checkout", "/shop/checkout", true),
        ("*/checkout", "/checkout", true),
        ("*/checkout", "/checkout/done", false),
        ("/a*a", "/a", false),
        ("/a*a", "/aa", true),
        ("/a*a", "/abca", true),
        ("/a*b*c", "/abc", true),
        ("/a*b*c", "/acb", false),
        ("/a*b*c", "/aXbYbZc", true),
        ("/a*b*c", "/aXbYbZcW", false),
        ("/p/*/edit", "/p/42/edit", true),
        ("/p/*/edit", "/p//edit", true),
        ("/p/*/edit", "/p/42/edit/edit", true),
        ("/p/*/edit", "/p/42/view", false),
        ("/*/*/", "/a/b/", true),
        ("/*/*/", "/a/", false),
        ("/é*ü", "/éaü", true),
        ("/é*ü", "/éü", true),
        ("/é*ü", "/eü", false),
    ];
    for (p, path, expected) in cases {
        assert_eq!(pattern(p).matches(path), *expected, "{p} on {path}");
    }
}

#[test]
fn patterns_are_refused_when_empty_long_not_a_path_or_holding_controls() {
    assert!(PagePattern::parse(&format!("/{}", "x".repeat(499)), "p").is_ok());
    for bad in [
        "".to_owned(),
        "pricing".to_owned(),
        format!("/{}", "x".repeat(500)),
        "/a\nb".to_owned(),
        "/a\u{0}".to_owned(),
    ] {
        let e = PagePattern::parse(&bad, "steps[1].page").unwrap_err();
        assert_eq!(e.code, "invalid_request");
        assert!(e.message.starts_with("`steps[1].page`"), "{}", e.message);
    }
}

/// A reference glob matcher: the textbook dynamic programme over (pattern, path) prefixes.
fn glob_reference(p: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (p.chars().collect(), s.chars().collect());
    let mut m = vec![vec![false; s.len() + 1]; p.len() + 1];
    m[0][0] = true;
    for i in 1..=p.len() {
        for j in 0..=s.len() {
            m[i][j] = if p[i - 1] == '*' {
                m[i - 1][j] || (j > 0 && m[i][j - 1])
            } else {
                j > 0 && m[i - 1][j - 1] && p[i - 1] == s[j - 1]
            };
        }
    }
    m[p.len()][s.len()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_glob_matcher_agrees_with_the_reference(
        head in prop::sample::select(vec!["/", "*"]),
        p in "[ab/*]{0,6}",
        s in "[ab/]{0,8}",
    ) {
        let p = format!("{head}{p}");
        let s = format!("/{s}");
        prop_assert_eq!(pattern(&p).matches(&s), glob_reference(&p, &s), "{} on {}", p, s);
    }
}

// Windows and steps from the wire.

#[test]
fn a_window_is_visit_or_one_to_ninety_days() {
    assert_eq!(Window::parse("visit"), Ok(Window::Visit));
    assert_eq!(Window::parse("1d"), Ok(Window::Days(1)));
    assert_eq!(Window::parse("30d"), Ok(Window::Days(30)));
    assert_eq!(Window::parse("90d"), Ok(Window::Days(90)));
    for bad in [
        "",
        "d",
        "0d",
        "91d",
        "07d",
        "+7d",
        "-1d",
        "7",
        "7D",
        "7 d",
        "1.5d",
        "visits",
        "Visit",
        "99999999999d",
    ] {
        let e = Window::parse(bad).unwrap_err();
        assert_eq!(e.code, "invalid_request", "{bad:?}");
        assert!(e.message.starts_with("`window`"), "{}", e.message);
    }
    assert_eq!(Window::default(), Window::Visit);
    assert_eq!(Window::Days(7).name(), "7d");
    assert_eq!(Window::Visit.name(), "visit");
}

#[test]
fn a_funnel_has_two_to_eight_steps_each_a_page_or_an_event() {
    let f = Funnel::parse(&[raw_page("/pricing"), raw_event("signup")], None).unwrap();
    assert_eq!(f.steps(), [page("/pricing"), event("signup")]);
    assert_eq!(f.window(), Window::Visit);
    let f = Funnel::parse(&vec![raw_page("/*"); 8], Some("7d")).unwrap();
    assert_eq!(f.window(), Window::Days(7));

    for (steps, window, names) in [
        (vec![raw_page("/")], None, "`steps`"),
        (vec![raw_page("/"); 9], None, "`steps`"),
        (vec![], None, "`steps`"),
        (vec![raw_page("/"), RawStep::default()], None, "`steps[1]`"),
        (
            vec![
                raw_page("/"),
                RawStep {
                    page: Some("/".into()),
                    event: Some("signup".into()),
                },
            ],
            None,
            "`steps[1]`",
        ),
        (vec![raw_page("/"), raw_event("")], None, "`steps[1].event`"),
        (
            vec![raw_page("/"), raw_event("pageview")],
            None,
            "`steps[1].event`",
        ),
        (
            vec![raw_page("pricing"), raw_event("x")],
            None,
            "`steps[0].page`",
        ),
        (
            vec![raw_page("/"), raw_event("x")],
            Some("week"),
            "`window`",
        ),
    ] {
        let e = Funnel::parse(&steps, window).unwrap_err();
        assert_eq!(e.code, "invalid_request");
        assert!(e.message.starts_with(names), "{names}: {}", e.message);
    }
}

// How far a visitor gets.

fn funnel(steps: Vec<Step>, window: Window) -> Funnel {
    Funnel::new(steps, window)
}

#[test]
fn steps_count_only_in_order_and_one_touch_never_counts_twice() {
    let f = funnel(
        vec![page("/"), page("/pricing"), event("signup")],
        Window::Visit,
    );
    assert_eq!(f.reached(&[]), 0);
    assert_eq!(
        f.reached(&[view(0, 1, "/pricing")]),
        0,
        "step 2 without step 1"
    );
    assert_eq!(f.reached(&[view(0, 1, "/")]), 1);
    assert_eq!(
        f.reached(&[view(0, 1, "/pricing"), view(1, 1, "/"), did(2, 1, "signup")]),
        1,
        "pricing before the home page does not count"
    );
    assert_eq!(
        f.reached(&[
            view(0, 1, "/"),
            view(1, 1, "/about"),
            view(2, 1, "/pricing"),
            did(3, 1, "signup"),
        ]),
        3,
        "other touches in between do not matter"
    );
    let twice = funnel(vec![page("/*"), page("/*")], Window::Visit);
    assert_eq!(
        twice.reached(&[view(0, 1, "/a")]),
        1,
        "the same touch is not reused"
    );
    assert_eq!(twice.reached(&[view(0, 1, "/a"), view(0, 1, "/b")]), 2);
    let kinds = funnel(vec![event("signup"), page("/signup")], Window::Visit);
    assert_eq!(
        kinds.reached(&[view(0, 1, "/signup"), did(1, 1, "signup")]),
        1,
        "a page step matches pageviews only, an event step events only"
    );
}

#[test]
fn with_the_visit_window_the_funnel_must_happen_in_one_visit_and_the_best_visit_counts() {
    let f = funnel(
        vec![page("/"), page("/pricing"), event("signup")],
        Window::Visit,
    );
    let split = [
        view(0, 1, "/"),
        view(DAY, 2, "/pricing"),
        did(DAY + 1, 2, "signup"),
    ];
    assert_eq!(
        f.reached(&split),
        1,
        "step 2 in another visit does not count"
    );
    let retried = [
        view(0, 1, "/"),
        view(1, 1, "/about"),
        view(DAY, 2, "/"),
        view(DAY + 1, 2, "/pricing"),
        did(DAY + 2, 2, "signup"),
    ];
    assert_eq!(f.reached(&retried), 3, "step 1 retried in a later visit");
    let better_first = [view(0, 1, "/"), view(1, 1, "/pricing"), view(DAY, 2, "/")];
    assert_eq!(f.reached(&better_first), 2, "the best visit, not the last");
    let interleaved = [
        view(0, 7, "/"),
        view(1, 8, "/"),
        view(2, 7, "/pricing"),
        did(3, 8, "signup"),
    ];
    assert_eq!(
        f.reached(&interleaved),
        2,
        "visits are told apart by their number"
    );
}

#[test]
fn with_a_day_window_every_step_is_within_n_days_of_the_first_and_the_best_start_counts() {
    let f = funnel(
        vec![page("/"), page("/pricing"), event("buy")],
        Window::Days(1),
    );
    let across_visits = [
        view(0, 1, "/"),
        view(HOUR, 2, "/pricing"),
        did(2 * HOUR, 3, "buy"),
    ];
    assert_eq!(f.reached(&across_visits), 3, "visits do not matter");
    let edge = [
        view(0, 1, "/"),
        view(DAY, 2, "/pricing"),
        did(DAY, 2, "buy"),
    ];
    assert_eq!(f.reached(&edge), 3, "exactly 24 h later is within");
    let late = [
        view(0, 1, "/"),
        view(HOUR, 1, "/pricing"),
        did(DAY + 1, 2, "buy"),
    ];
    assert_eq!(
        f.reached(&late),
        2,
        "the last step 24 h and 1 ms after the first is out"
    );
    let restart = [
        view(0, 1, "/"),
        view(20 * HOUR, 2, "/"),
        view(30 * HOUR, 3, "/pricing"),
        did(40 * HOUR, 3, "buy"),
    ];
    assert_eq!(
        f.reached(&restart),
        3,
        "a later step-1 touch starts a better run"
    );
    let early_start_goes_further = [
        view(0, 1, "/"),
        view(HOUR, 1, "/pricing"),
        view(2 * HOUR, 1, "/"),
        did(DAY + HOUR, 2, "buy"),
    ];
    assert_eq!(
        f.reached(&early_start_goes_further),
        2,
        "the later start has no step 2 after it; the earlier one's window ended before `buy`"
    );
    let week = funnel(vec![page("/"), event("buy")], Window::Days(7));
    assert_eq!(week.reached(&[view(0, 1, "/"), did(7 * DAY, 9, "buy")]), 2);
    assert_eq!(
        week.reached(&[view(0, 1, "/"), did(7 * DAY + 1, 9, "buy")]),
        1
    );
}

/// The definition, by brute force: the most steps any choice of touches at increasing
/// positions reaches, each matching its step, all in the first one's visit or window.
fn reference(f: &Funnel, touches: &[Touch<'_>]) -> usize {
    fn go<'a>(
        f: &Funnel,
        touches: &[Touch<'a>],
        from: usize,
        k: usize,
        first: Option<Touch<'a>>,
    ) -> usize {
        if k == f.steps().len() {
            return k;
        }
        let mut best = k;
        for (i, t) in touches.iter().enumerate().skip(from) {
            if !f.steps()[k].matches(t.kind) {
                continue;
            }
            let inside = match (first, f.window()) {
                (None, _) => true,
                (Some(s), Window::Visit) => t.visit == s.visit,
                (Some(s), Window::Days(n)) => t.at_ms - s.at_ms <= i64::from(n) * DAY,
            };
            if inside {
                best = best.max(go(f, touches, i + 1, k + 1, first.or(Some(*t))));
            }
        }
        best
    }
    go(f, touches, 0, 0, None)
}

const PATHS: [&str; 4] = ["/", "/a", "/a/x", "/b"];
const NAMES: [&str; 2] = ["signup", "buy"];

fn touch_kind() -> impl Strategy<Value = TouchKind<'static>> {
    prop_oneof![
        prop::sample::select(PATHS.to_vec()).prop_map(TouchKind::Page),
        prop::sample::select(NAMES.to_vec()).prop_map(TouchKind::Event),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        prop::sample::select(vec!["/", "/a", "/a*", "*x", "/b", "/*"]).prop_map(page),
        prop::sample::select(NAMES.to_vec()).prop_map(event),
    ]
}

fn window() -> impl Strategy<Value = Window> {
    prop_oneof![Just(Window::Visit), (1u32..=3).prop_map(Window::Days)]
}

/// Up to ten touches in time order, steps apart by nothing, an hour, half a day, exactly a day,
/// a day and a millisecond or two days, in up to three visits (interleaved or not).
fn touches() -> impl Strategy<Value = Vec<Touch<'static>>> {
    let gap = prop::sample::select(vec![0, HOUR, 12 * HOUR, DAY, DAY + 1, 2 * DAY]);
    prop::collection::vec((gap, 0u64..3, touch_kind()), 0..10).prop_map(|raw| {
        let mut at = 0;
        raw.into_iter()
            .map(|(gap, visit, kind)| {
                at += gap;
                Touch {
                    at_ms: at,
                    visit,
                    kind,
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn reached_agrees_with_the_brute_force_definition(
        steps in prop::collection::vec(step(), 1..=4),
        window in window(),
        touches in touches(),
    ) {
        let f = funnel(steps, window);
        prop_assert_eq!(f.reached(&touches), reference(&f, &touches), "{:?} {:?}", f, touches);
    }
}

// From counts to rows.

#[test]
fn tally_counts_each_visitor_in_every_step_up_to_the_one_they_reached() {
    assert_eq!(tally([0, 1, 3, 3, 2, 0], 3), [4, 3, 2]);
    assert_eq!(tally([], 2), [0, 0]);
    assert_eq!(
        tally([9], 2),
        [1, 1],
        "more than the funnel's steps is all of them"
    );
}

#[test]
fn rows_give_visitors_conversion_from_step_one_and_drop_off_from_the_step_before() {
    let r = rows(&[3, 2, 1, 0]);
    let as_tuples: Vec<(u64, f64, u64)> = r
        .iter()
        .map(|r| (r.visitors, r.conversion_rate, r.drop_off))
        .collect();
    assert_eq!(
        as_tuples,
        [(3, 100.0, 0), (2, 66.7, 1), (1, 33.3, 1), (0, 0.0, 1)]
    );
    let rates: Vec<f64> = rows(&[16, 1, 1])
        .iter()
        .map(|r| r.conversion_rate)
        .collect();
    assert_eq!(rates, [100.0, 6.3, 6.3], "6.25 rounds half up");
    let nobody = rows(&[0, 0]);
    assert!(
        nobody
            .iter()
            .all(|r| r.conversion_rate == 0.0 && r.drop_off == 0)
    );
    assert!(rows(&[]).is_empty());
    let big = rows(&[u64::MAX, u64::MAX / 3]);
    assert_eq!(big[1].conversion_rate, 33.3, "no overflow");
}
