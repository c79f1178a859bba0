//! Which law applies to a visitor, and so which consent regime the banner uses.
//!
//! The rule is the contract's: EU/EEA (EU 27 + IS, LI, NO), UK and CH are opt-in; US states with
//! a comprehensive privacy law are opt-out with GPC honoured; other countries get the site's
//! setting; an unknown location is opt-in, the strictest.

use std::fmt;

/// EU 27 plus Iceland, Liechtenstein and Norway. `is_in_european_union` alone would miss the
/// last three, so the table is ours.
const EEA: [&str; 30] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
];

/// US states whose comprehensive consumer-privacy law gives a right to opt out of sale or
/// sharing and (in most) obliges honouring a universal opt-out signal such as GPC, in force by
/// 2026: CA, VA, CO, CT, UT, TX, OR, MT, IA, DE, NH, NJ, TN, MN, MD, IN, KY, RI, NE.
const US_PRIVACY_LAW_STATES: [&str; 19] = [
    "CA", "VA", "CO", "CT", "UT", "TX", "OR", "MT", "IA", "DE", "NH", "NJ", "TN", "MN", "MD", "IN",
    "KY", "RI", "NE",
];

/// Where the visitor is, as far as the geo database knows. Never an address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
    /// The ISO 3166-2 subdivision code without the country prefix, e.g. `CA` for California.
    pub subdivision: Option<String>,
}

impl Location {
    pub fn unknown() -> Location {
        Location::default()
    }
}

/// The legal area a visitor falls in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jurisdiction {
    Eea,
    Uk,
    Ch,
    /// A US state, with whether it has a comprehensive privacy law.
    UsState {
        state: String,
        has_law: bool,
    },
    /// The US with no state known (a Country database).
    Us,
    Other,
    Unknown,
}

/// How consent is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Regime {
    /// Nothing non-essential until the visitor agrees.
    OptIn,
    /// Allowed until the visitor objects (or sends GPC); a "Do Not Sell or Share" control.
    OptOut,
    /// Information only; non-essential categories are on.
    Notice,
}

impl Regime {
    pub fn as_str(self) -> &'static str {
        match self {
            Regime::OptIn => "opt_in",
            Regime::OptOut => "opt_out",
            Regime::Notice => "notice",
        }
    }

    pub fn parse(raw: &str) -> Option<Regime> {
        match raw {
            "opt_in" => Some(Regime::OptIn),
            "opt_out" => Some(Regime::OptOut),
            "notice" => Some(Regime::Notice),
            _ => None,
        }
    }
}

impl Jurisdiction {
    /// Classifies a location. Anything not recognised is `Other`; no country at all is `Unknown`.
    pub fn of(location: &Location) -> Jurisdiction {
        let Some(country) = location.country.as_deref() else {
            return Jurisdiction::Unknown;
        };
        match country {
            "GB" => Jurisdiction::Uk,
            "CH" => Jurisdiction::Ch,
            "US" => match location.subdivision.as_deref() {
                Some(state) => Jurisdiction::UsState {
                    state: state.to_owned(),
                    has_law: US_PRIVACY_LAW_STATES.contains(&state),
                },
                None => Jurisdiction::Us,
            },
            c if EEA.contains(&c) => Jurisdiction::Eea,
            _ => Jurisdiction::Other,
        }
    }

    /// The regime for this jurisdiction, given the site's choice for places without a law.
    ///
    /// A Country-only database treats the whole US as a GPC state, as the checklist asks.
    pub fn regime(&self, without_law: Regime) -> Regime {
        match self {
            Jurisdiction::Eea | Jurisdiction::Uk | Jurisdiction::Ch | Jurisdiction::Unknown => {
                Regime::OptIn
            }
            Jurisdiction::UsState { has_law: true, .. } | Jurisdiction::Us => Regime::OptOut,
            Jurisdiction::UsState { has_law: false, .. } | Jurisdiction::Other => without_law,
        }
    }

    /// The contract's spelling: `EEA`, `UK`, `CH`, `US-CA`, `US`, `OTHER`, `UNKNOWN`.
    pub fn code(&self) -> String {
        match self {
            Jurisdiction::Eea => "EEA".into(),
            Jurisdiction::Uk => "UK".into(),
            Jurisdiction::Ch => "CH".into(),
            Jurisdiction::UsState { state, .. } => format!("US-{state}"),
            Jurisdiction::Us => "US".into(),
            Jurisdiction::Other => "OTHER".into(),
            Jurisdiction::Unknown => "UNKNOWN".into(),
        }
    }
}

impl fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(country: &str, subdivision: Option<&str>) -> Jurisdiction {
        Jurisdiction::of(&Location {
            country: Some(country.into()),
            subdivision: subdivision.map(Into::into),
        })
    }

    #[test]
    fn every_eea_country_and_the_uk_and_switzerland_are_opt_in() {
        let all = EEA.iter().chain(["GB", "CH"].iter());
        let mut n = 0;
        for c in all {
            assert_eq!(at(c, None).regime(Regime::Notice), Regime::OptIn, "{c}");
            n += 1;
        }
        assert_eq!(n, 32);
    }

    #[test]
    fn norway_iceland_and_liechtenstein_are_eea_although_not_eu() {
        for c in ["NO", "IS", "LI"] {
            assert_eq!(at(c, None), Jurisdiction::Eea);
        }
    }

    #[test]
    fn us_states_with_a_law_are_opt_out_and_others_follow_the_site() {
        assert_eq!(at("US", Some("CA")).regime(Regime::OptIn), Regime::OptOut);
        assert_eq!(at("US", Some("VA")).regime(Regime::OptIn), Regime::OptOut);
        assert_eq!(at("US", Some("NY")).regime(Regime::Notice), Regime::Notice);
        assert_eq!(at("US", None).regime(Regime::Notice), Regime::OptOut);
        assert_eq!(at("US", Some("CA")).code(), "US-CA");
    }

    #[test]
    fn an_unknown_location_is_opt_in_whatever_the_site_says() {
        let j = Jurisdiction::of(&Location::unknown());
        assert_eq!(j, Jurisdiction::Unknown);
        assert_eq!(j.regime(Regime::Notice), Regime::OptIn);
    }
}
