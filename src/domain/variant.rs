//! Banner experiments: variants of the banner's texts and first-layer layout, one of which each
//! visitor is shown, drawn at random by weight, and recorded with the decision.
//!
//! Invariants, written as absences:
//! - A variant has no way to drop, restyle or hide a choice of the first layer: `FirstLayer`
//!   is an order of exactly accept all, reject all and customise, which the banner draws as
//!   three buttons of one style.
//! - A variant has no way to tick a category before the visitor does: it holds texts, a layout
//!   and an order, nothing about the toggles.

use std::collections::BTreeMap;

use super::ids::VariantName;

/// Where the first layer sits: a box at the bottom centre (the default) or a bar across the
/// bottom edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    #[default]
    Box,
    Bar,
}

impl Layout {
    pub const ALL: [Layout; 2] = [Layout::Box, Layout::Bar];

    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Box => "box",
            Layout::Bar => "bar",
        }
    }

    pub fn parse(raw: &str) -> Option<Layout> {
        Layout::ALL.into_iter().find(|l| l.as_str() == raw)
    }
}

/// A button of the first layer (where a consent is asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstButton {
    AcceptAll,
    RejectAll,
    Customise,
}

impl FirstButton {
    pub const ALL: [FirstButton; 3] = [
        FirstButton::AcceptAll,
        FirstButton::RejectAll,
        FirstButton::Customise,
    ];

    /// Its name, which is also the key of its text.
    pub fn as_str(self) -> &'static str {
        match self {
            FirstButton::AcceptAll => "accept_all",
            FirstButton::RejectAll => "reject_all",
            FirstButton::Customise => "customise",
        }
    }
}

/// Why an order of first-layer buttons was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstLayerError {
    Unknown(String),
    Twice(FirstButton),
    Missing(FirstButton),
}

impl std::fmt::Display for FirstLayerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rule = "the first layer offers accept_all, reject_all and customise, each once and \
                    with equal weight";
        match self {
            FirstLayerError::Unknown(b) => write!(f, "`{b}` is not a button: {rule}"),
            FirstLayerError::Twice(b) => write!(f, "has `{}` twice: {rule}", b.as_str()),
            FirstLayerError::Missing(b) => write!(f, "lacks `{}`: {rule}", b.as_str()),
        }
    }
}

/// The order of the first layer's three buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstLayer([FirstButton; 3]);

impl Default for FirstLayer {
    /// Reject all, accept all, customise: the order of the banner without a variant.
    fn default() -> FirstLayer {
        FirstLayer([
            FirstButton::RejectAll,
            FirstButton::AcceptAll,
            FirstButton::Customise,
        ])
    }
}

impl FirstLayer {
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<FirstLayer, FirstLayerError> {
        let mut out = Vec::with_capacity(3);
        for name in names {
            let name = name.as_ref();
            let button = FirstButton::ALL
                .into_iter()
                .find(|b| b.as_str() == name)
                .ok_or_else(|| FirstLayerError::Unknown(name.chars().take(40).collect()))?;
            if out.contains(&button) {
                return Err(FirstLayerError::Twice(button));
            }
            out.push(button);
        }
        for button in [
            FirstButton::RejectAll,
            FirstButton::AcceptAll,
            FirstButton::Customise,
        ] {
            if !out.contains(&button) {
                return Err(FirstLayerError::Missing(button));
            }
        }
        match out.as_slice() {
            [a, b, c] => Ok(FirstLayer([*a, *b, *c])),
            _ => Err(FirstLayerError::Missing(FirstButton::Customise)),
        }
    }

    pub fn buttons(&self) -> [FirstButton; 3] {
        self.0
    }
}

/// One variant of a site's banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub name: VariantName,
    /// Its share of visitors, relative to the other variants' weights (1 to 100).
    pub weight: u32,
    pub layout: Layout,
    pub first_layer: FirstLayer,
    /// Texts replacing the banner's own, by language then text key; a language or key left
    /// out keeps the banner's text.
    pub texts: BTreeMap<String, BTreeMap<&'static str, String>>,
}

/// A site's banner experiment: no variants, or two or more to draw from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Experiment {
    variants: Vec<Variant>,
}

impl Experiment {
    /// At most this many variants in one experiment.
    pub const MAX_VARIANTS: usize = 8;
    /// The largest weight of a variant.
    pub const MAX_WEIGHT: u32 = 100;

    /// An experiment over checked variants (distinct names, weights 1 to `MAX_WEIGHT`, at most
    /// `MAX_VARIANTS`; the settings check them).
    pub fn new(variants: Vec<Variant>) -> Experiment {
        Experiment { variants }
    }

    pub fn variants(&self) -> &[Variant] {
        &self.variants
    }

    pub fn is_running(&self) -> bool {
        !self.variants.is_empty()
    }

    pub fn find(&self, name: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.name.as_str() == name)
    }

    /// The variant a draw `roll` (uniform over `u64`) falls on, each with its weight's share;
    /// `None` without an experiment.
    pub fn draw(&self, roll: u64) -> Option<&Variant> {
        let total: u64 = self.variants.iter().map(|v| u64::from(v.weight)).sum();
        if total == 0 {
            return None;
        }
        let mut at = roll % total;
        for v in &self.variants {
            let w = u64::from(v.weight);
            if at < w {
                return Some(v);
            }
            at -= w;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(name: &str, weight: u32) -> Variant {
        Variant {
            name: VariantName::parse(name).unwrap(),
            weight,
            layout: Layout::Box,
            first_layer: FirstLayer::default(),
            texts: BTreeMap::new(),
        }
    }

    #[test]
    fn a_first_layer_must_hold_each_of_the_three_choices_once() {
        assert_eq!(
            FirstLayer::parse(&["accept_all", "customise"]),
            Err(FirstLayerError::Missing(FirstButton::RejectAll))
        );
        assert_eq!(
            FirstLayer::parse(&["accept_all", "accept_all", "reject_all", "customise"]),
            Err(FirstLayerError::Twice(FirstButton::AcceptAll))
        );
        assert!(matches!(
            FirstLayer::parse(&["accept_all", "reject_link", "customise"]),
            Err(FirstLayerError::Unknown(_))
        ));
        let ok = FirstLayer::parse(&["accept_all", "reject_all", "customise"]).unwrap();
        assert_eq!(ok.buttons()[0], FirstButton::AcceptAll);
    }

    #[test]
    fn draws_fall_on_variants_in_proportion_to_their_weights() {
        let e = Experiment::new(vec![variant("a", 1), variant("b", 3)]);
        let names: Vec<&str> = (0..8)
            .map(|roll| e.draw(roll).unwrap().name.as_str())
            .collect();
        assert_eq!(names, ["a", "b", "b", "b", "a", "b", "b", "b"]);
        assert!(Experiment::default().draw(7).is_none());
    }
}
