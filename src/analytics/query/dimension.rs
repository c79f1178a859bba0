//! What a query can group and filter by.

use super::TimeGrain;

/// The attributes of a visit: those of its first event, and its first and last pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VisitField {
    Source,
    Referrer,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    Country,
    Region,
    Browser,
    Os,
    Device,
    EntryPage,
    ExitPage,
}

impl VisitField {
    pub const ALL: [VisitField; 12] = [
        VisitField::Source,
        VisitField::Referrer,
        VisitField::UtmSource,
        VisitField::UtmMedium,
        VisitField::UtmCampaign,
        VisitField::Country,
        VisitField::Region,
        VisitField::Browser,
        VisitField::Os,
        VisitField::Device,
        VisitField::EntryPage,
        VisitField::ExitPage,
    ];
    pub const COUNT: usize = Self::ALL.len();

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            VisitField::Source => "visit:source",
            VisitField::Referrer => "visit:referrer",
            VisitField::UtmSource => "visit:utm_source",
            VisitField::UtmMedium => "visit:utm_medium",
            VisitField::UtmCampaign => "visit:utm_campaign",
            VisitField::Country => "visit:country",
            VisitField::Region => "visit:region",
            VisitField::Browser => "visit:browser",
            VisitField::Os => "visit:os",
            VisitField::Device => "visit:device",
            VisitField::EntryPage => "visit:entry_page",
            VisitField::ExitPage => "visit:exit_page",
        }
    }
}

/// A dimension of the query API.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dimension {
    Visit(VisitField),
    /// `event:page`: the path of a pageview.
    Page,
    /// `event:name`: the name of a custom event.
    Name,
    /// `event:goal`: a conversion, that is a custom event, by its name.
    Goal,
    /// `event:props:<key>`.
    Prop(String),
    Time(TimeGrain),
}

/// The names of the non-time dimensions with fixed names, for parsing and error messages.
pub const NAMED: [&str; 15] = [
    "event:page",
    "event:name",
    "event:goal",
    "visit:source",
    "visit:referrer",
    "visit:utm_source",
    "visit:utm_medium",
    "visit:utm_campaign",
    "visit:country",
    "visit:region",
    "visit:browser",
    "visit:os",
    "visit:device",
    "visit:entry_page",
    "visit:exit_page",
];

impl Dimension {
    /// A dimension by its name; `None` for an unknown one.
    pub fn named(raw: &str) -> Option<Dimension> {
        let d = match raw {
            "time:hour" => Dimension::Time(TimeGrain::Hour),
            "time:day" => Dimension::Time(TimeGrain::Day),
            "time:month" => Dimension::Time(TimeGrain::Month),
            "event:page" => Dimension::Page,
            "event:name" => Dimension::Name,
            "event:goal" => Dimension::Goal,
            _ => match raw.strip_prefix("event:props:") {
                Some(key) if !key.is_empty() && key.chars().count() <= 100 => {
                    Dimension::Prop(key.into())
                }
                Some(_) => return None,
                None => Dimension::Visit(VisitField::ALL.into_iter().find(|f| f.name() == raw)?),
            },
        };
        Some(d)
    }

    pub fn name(&self) -> String {
        match self {
            Dimension::Visit(f) => f.name().to_owned(),
            Dimension::Page => "event:page".into(),
            Dimension::Name => "event:name".into(),
            Dimension::Goal => "event:goal".into(),
            Dimension::Prop(key) => format!("event:props:{key}"),
            Dimension::Time(TimeGrain::Hour) => "time:hour".into(),
            Dimension::Time(TimeGrain::Day) => "time:day".into(),
            Dimension::Time(TimeGrain::Month) => "time:month".into(),
        }
    }

    /// Whether the dimension splits visits by their events (page, name, goal, properties).
    pub fn is_event_level(&self) -> bool {
        matches!(
            self,
            Dimension::Page | Dimension::Name | Dimension::Goal | Dimension::Prop(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_dimension_parses_back_to_its_name() {
        for name in NAMED {
            assert_eq!(
                Dimension::named(name).map(|d| d.name()).as_deref(),
                Some(name)
            );
        }
        assert_eq!(Dimension::named("visit:shoe_size"), None);
        assert_eq!(Dimension::named("event:props:"), None);
    }
}
