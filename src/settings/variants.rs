//! A site's `[[sites.banner_variants]]` tables, checked into an `Experiment`.
//!
//! What the settings refuse is what a variant could otherwise break: a first layer without one
//! of its three equal choices, an empty label on one of them, a text key the banner does not
//! read. A variant has no setting for the toggles, so none can tick a category in advance.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::file::{SettingsError, err};
use crate::domain::VariantName;
use crate::domain::variant::{Experiment, FirstButton, FirstLayer, Layout, Variant};
use crate::i18n;

/// The longest text a variant may set.
const MAX_TEXT: usize = 1_000;

/// One variant as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileVariant {
    name: String,
    weight: Option<u32>,
    layout: Option<String>,
    buttons: Option<Vec<String>>,
    #[serde(default)]
    texts: BTreeMap<String, BTreeMap<String, String>>,
}

/// The experiment of the site whose settings start with `at` (`sites[shop]`).
pub(super) fn experiment(raw: Vec<FileVariant>, at: &str) -> Result<Experiment, SettingsError> {
    let whole = format!("{at}.banner_variants");
    match raw.len() {
        0 => return Ok(Experiment::default()),
        1 => {
            return Err(err(
                &whole,
                "an experiment needs at least two variants (one may change nothing: a name alone \
                 is the banner as it is)",
            ));
        }
        n if n > Experiment::MAX_VARIANTS => {
            return Err(err(
                &whole,
                format!(
                    "has {n} variants; at most {} are allowed",
                    Experiment::MAX_VARIANTS
                ),
            ));
        }
        _ => {}
    }
    let mut variants: Vec<Variant> = Vec::new();
    for (i, v) in raw.into_iter().enumerate() {
        let field = |f: &str| format!("{whole}[{i}].{f}");
        let name = VariantName::parse(&v.name).map_err(|e| err(&field("name"), e))?;
        if variants.iter().any(|o| o.name == name) {
            return Err(err(
                &field("name"),
                format!("two variants are named `{name}`"),
            ));
        }
        let weight = v.weight.unwrap_or(1);
        if weight == 0 || weight > Experiment::MAX_WEIGHT {
            return Err(err(
                &field("weight"),
                format!("must be 1 to {}", Experiment::MAX_WEIGHT),
            ));
        }
        let layout = match v.layout.as_deref() {
            None => Layout::default(),
            Some(raw) => Layout::parse(raw).ok_or_else(|| {
                err(
                    &field("layout"),
                    format!("`{raw}` is not a layout; use \"box\" or \"bar\""),
                )
            })?,
        };
        let first_layer = match &v.buttons {
            None => FirstLayer::default(),
            Some(names) => FirstLayer::parse(names).map_err(|e| err(&field("buttons"), e))?,
        };
        let mut texts = BTreeMap::new();
        for (language, by_key) in v.texts {
            if !i18n::LANGUAGES.contains(&language.as_str()) {
                return Err(err(
                    &field(&format!("texts.{language}")),
                    format!("the banner speaks {}", i18n::LANGUAGES.join(", ")),
                ));
            }
            let mut checked = BTreeMap::new();
            for (key, text) in by_key {
                let at_key = field(&format!("texts.{language}.{key}"));
                let Some(known) = i18n::KEYS.iter().find(|k| **k == key) else {
                    return Err(err(&at_key, "is not a text of the banner"));
                };
                checked.insert(*known, checked_text(text, known, &at_key)?);
            }
            texts.insert(language, checked);
        }
        variants.push(Variant {
            name,
            weight,
            layout,
            first_layer,
            texts,
        });
    }
    Ok(Experiment::new(variants))
}

/// A text of a variant: not blank where it labels a choice, short enough, no control
/// characters.
fn checked_text(text: String, key: &str, at: &str) -> Result<String, SettingsError> {
    if text.chars().count() > MAX_TEXT || text.chars().any(char::is_control) {
        return Err(err(
            at,
            format!("must be at most {MAX_TEXT} characters, no control characters"),
        ));
    }
    let labels_a_choice = FirstButton::ALL.iter().any(|b| b.as_str() == key);
    if labels_a_choice && text.trim().is_empty() {
        return Err(err(
            at,
            "is blank: the first layer offers accept_all, reject_all and customise, each \
             labelled and with equal weight",
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_variants: &str) -> Result<Experiment, String> {
        #[derive(Deserialize)]
        struct Wrapper {
            banner_variants: Vec<FileVariant>,
        }
        let w: Wrapper = toml::from_str(toml_variants).map_err(|e| e.to_string())?;
        experiment(w.banner_variants, "sites[shop]").map_err(|e| e.to_string())
    }

    #[test]
    fn variants_are_read_with_their_weights_layouts_orders_and_texts() {
        let e = parse(
            r#"
            [[banner_variants]]
            name = "control"
            [[banner_variants]]
            name = "short"
            weight = 3
            layout = "bar"
            buttons = ["accept_all", "reject_all", "customise"]
            texts.en.title = "Cookies?"
            texts.de.title = "Cookies?"
            "#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let short = e.find("short").unwrap();
        assert_eq!((short.weight, short.layout), (3, Layout::Bar));
        assert_eq!(short.first_layer.buttons()[0], FirstButton::AcceptAll);
        assert_eq!(short.texts["de"]["title"], "Cookies?");
        assert_eq!(
            e.find("control").unwrap().first_layer,
            FirstLayer::default()
        );
    }

    #[test]
    fn a_variant_that_would_break_the_banners_rules_is_refused_with_its_setting_named() {
        let control = "[[banner_variants]]\nname = \"control\"\n";
        let cases = [
            (
                "buttons = [\"accept_all\", \"customise\"]",
                "banner_variants[1].buttons",
                "lacks `reject_all`",
            ),
            (
                "buttons = [\"accept_all\", \"reject_all\"]",
                "banner_variants[1].buttons",
                "lacks `customise`",
            ),
            (
                "buttons = [\"accept_all\", \"reject_link\", \"customise\"]",
                "banner_variants[1].buttons",
                "is not a button",
            ),
            (
                "texts.en.reject_all = \" \"",
                "banner_variants[1].texts.en.reject_all",
                "equal weight",
            ),
            (
                "texts.en.reject_colour = \"grey\"",
                "banner_variants[1].texts.en.reject_colour",
                "not a text of the banner",
            ),
            (
                "texts.it.title = \"Cookie\"",
                "banner_variants[1].texts.it",
                "the banner speaks",
            ),
            (
                "layout = \"wall\"",
                "banner_variants[1].layout",
                "not a layout",
            ),
            (
                "weight = 0",
                "banner_variants[1].weight",
                "must be 1 to 100",
            ),
            ("name = \"Two\"", "banner_variants[1].name", "lowercase"),
        ];
        for (variant, setting, problem) in cases {
            let name = if variant.starts_with("name") {
                ""
            } else {
                "name = \"b\"\n"
            };
            let e = parse(&format!("{control}[[banner_variants]]\n{name}{variant}")).unwrap_err();
            assert!(
                e.contains(setting) && e.contains(problem),
                "{variant:?} → {e}"
            );
        }
        let pre_ticked = parse(&format!(
            "{control}[[banner_variants]]\nname = \"b\"\nchecked = [\"analytics\"]"
        ))
        .unwrap_err();
        assert!(
            pre_ticked.contains("unknown field `checked`"),
            "{pre_ticked}"
        );
        let alone = parse(control).unwrap_err();
        assert!(alone.contains("at least two variants"), "{alone}");
        let twice = parse(&format!("{control}{control}")).unwrap_err();
        assert!(
            twice.contains("two variants are named `control`"),
            "{twice}"
        );
    }
}
