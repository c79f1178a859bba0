//! A site's `[[sites.goals]]` tables, checked into `Goals`.

use serde::Deserialize;

use super::file::{SettingsError, err};
use crate::analytics::funnel::{PagePattern, Step};
use crate::analytics::goals::{Currency, Goal, Goals};
use crate::domain::event::MAX_PROP_KEY;
use crate::domain::is_event_name;

/// One goal as written: a name, exactly one of `event` and `page`, and optionally the
/// property holding its revenue with the currency of it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileGoal {
    name: String,
    event: Option<String>,
    page: Option<String>,
    revenue: Option<String>,
    currency: Option<String>,
}

/// The goals of the site whose settings start with `at` (`sites[shop]`).
pub(super) fn goals(raw: Vec<FileGoal>, at: &str) -> Result<Goals, SettingsError> {
    let mut list = Vec::new();
    let mut currency: Option<Currency> = None;
    for (i, g) in raw.into_iter().enumerate() {
        let field = |f: &str| format!("{at}.goals[{i}].{f}");
        let trigger = match (g.event, g.page) {
            (Some(event), None) => Step::Event(event_name(event, &field("event"))?),
            (None, Some(page)) => Step::Page(
                PagePattern::parse(&page, &field("page")).map_err(|e| err(&field("page"), e))?,
            ),
            _ => {
                return Err(err(
                    &format!("{at}.goals[{i}]"),
                    "needs exactly one of `event` (a custom event's name) and `page` (a path, `*` \
                     for any characters)",
                ));
            }
        };
        if let Some(key) = &g.revenue {
            let len = key.chars().count();
            if len == 0 || len > MAX_PROP_KEY || key.chars().any(char::is_control) {
                return Err(err(
                    &field("revenue"),
                    format!(
                        "must be an event property's key: 1 to {MAX_PROP_KEY} characters, no \
                         control characters"
                    ),
                ));
            }
        }
        match (&g.revenue, g.currency.as_deref()) {
            (Some(_), Some(c)) => {
                let c = Currency::parse(c).ok_or_else(|| {
                    err(
                        &field("currency"),
                        format!("`{c}` is not a currency like EUR"),
                    )
                })?;
                if let Some(earlier) = currency.as_ref().filter(|e| **e != c) {
                    return Err(err(
                        &field("currency"),
                        format!(
                            "is {}, another goal's is {}: the revenue of one site is counted in \
                             one currency",
                            c.as_str(),
                            earlier.as_str()
                        ),
                    ));
                }
                currency = Some(c);
            }
            (Some(_), None) => {
                return Err(err(
                    &field("currency"),
                    "is needed with `revenue`, e.g. \"EUR\"",
                ));
            }
            (None, Some(_)) => {
                return Err(err(
                    &field("revenue"),
                    "is needed with `currency`: the event property holding the amount",
                ));
            }
            (None, None) => {}
        }
        list.push(Goal {
            name: g.name,
            trigger,
            revenue_property: g.revenue,
        });
    }
    Goals::new(list, currency).map_err(|e| err(&format!("{at}.goals"), e))
}

/// A custom event's name: one the events API accepts, and not `pageview` (a page goal
/// names its path instead).
fn event_name(name: String, field: &str) -> Result<String, SettingsError> {
    if name == "pageview" {
        return Err(err(
            field,
            "`pageview` is no custom event; use `page = \"*\"` for any pageview, or a path",
        ));
    }
    if !is_event_name(&name) {
        return Err(err(
            field,
            format!(
                "`{}` can be no event's name: 1 to 64 ASCII letters, digits, `_ - . :` and spaces",
                name.chars().take(70).collect::<String>()
            ),
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_goals: &str) -> Result<Goals, SettingsError> {
        #[derive(Deserialize)]
        struct Wrapper {
            goals: Vec<FileGoal>,
        }
        let w: Wrapper = toml::from_str(toml_goals).unwrap_or_else(|e| panic!("{e}"));
        goals(w.goals, "sites[shop]")
    }

    #[test]
    fn goals_are_read_with_their_revenue_and_currency() {
        let g = parse(
            r#"
            [[goals]]
            name = "Purchase"
            event = "purchase"
            revenue = "value"
            currency = "EUR"
            [[goals]]
            name = "Docs"
            page = "/docs/*"
            "#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(g.list().len(), 2);
        assert_eq!(g.currency().map(Currency::as_str), Some("EUR"));
    }

    #[test]
    fn a_goal_that_could_never_count_right_is_refused_with_its_setting_named() {
        let cases = [
            (
                "name = \"x\"\nevent = \"a\"\npage = \"/b\"",
                "sites[shop].goals[0]",
                "exactly one of",
            ),
            ("name = \"x\"", "sites[shop].goals[0]", "exactly one of"),
            (
                "name = \"x\"\nevent = \"pageview\"",
                "goals[0].event",
                "no custom event",
            ),
            (
                "name = \"x\"\nevent = \"add to cart!\"",
                "goals[0].event",
                "can be no event's name",
            ),
            (
                "name = \"x\"\npage = \"docs\"",
                "goals[0].page",
                "starting with `/`",
            ),
            (
                "name = \"x\"\nevent = \"buy\"\nrevenue = \"value\"",
                "goals[0].currency",
                "is needed with `revenue`",
            ),
            (
                "name = \"x\"\nevent = \"buy\"\ncurrency = \"EUR\"",
                "goals[0].revenue",
                "is needed with `currency`",
            ),
            (
                "name = \"x\"\nevent = \"buy\"\nrevenue = \"v\"\ncurrency = \"euro\"",
                "goals[0].currency",
                "not a currency",
            ),
            (
                "name = \"x\"\nevent = \"buy\"\nrevenue = \"\"\ncurrency = \"EUR\"",
                "goals[0].revenue",
                "event property's key",
            ),
        ];
        for (goal, setting, problem) in cases {
            let e = parse(&format!("[[goals]]\n{goal}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(setting) && e.contains(problem), "{goal:?} → {e}");
        }
        let two_currencies = parse(
            "[[goals]]\nname = \"a\"\nevent = \"a\"\nrevenue = \"v\"\ncurrency = \"EUR\"\n\
             [[goals]]\nname = \"b\"\nevent = \"b\"\nrevenue = \"v\"\ncurrency = \"USD\"",
        )
        .unwrap_err()
        .to_string();
        assert!(
            two_currencies.contains("goals[1].currency"),
            "{two_currencies}"
        );
        let twice =
            parse("[[goals]]\nname = \"a\"\nevent = \"a\"\n[[goals]]\nname = \"a\"\nevent = \"b\"")
                .unwrap_err()
                .to_string();
        assert!(twice.contains("two goals are named `a`"), "{twice}");
    }
}
