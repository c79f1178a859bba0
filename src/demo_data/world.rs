//! The raw tables of the demo world: Parcelwise's pages, where visitors come from, where they
//! are and what they browse with. `catalog` turns them into enriched, ready-to-use values.

/// The demo site's public origin; its pages' URLs and the decisions' `url` start with it.
pub const ORIGIN: &str = "https://parcelwise.example";

/// Pages that are not blog posts or documentation, most visited first.
pub const CORE_PAGES: &[(&str, f64)] = &[
    ("/", 100.0),
    ("/pricing", 42.0),
    ("/features", 30.0),
    ("/docs", 28.0),
    ("/blog", 16.0),
    ("/signup", 12.0),
    ("/login", 11.0),
    ("/integrations", 9.0),
    ("/customers", 6.0),
    ("/about", 5.0),
    ("/contact", 4.0),
    ("/careers", 3.0),
    ("/checkout", 2.0),
    ("/legal/terms", 1.0),
];

pub const BLOG_SLUGS: [&str; 40] = [
    "shipping-api-rate-limits-explained",
    "how-we-cut-label-printing-time-by-80-percent",
    "introducing-parcelwise-webhooks-v2",
    "customs-declarations-without-tears",
    "choosing-a-carrier-api-in-2026",
    "dhl-vs-ups-vs-dpd-api-comparison",
    "multi-carrier-rate-shopping",
    "what-black-friday-taught-us-about-queues",
    "address-validation-edge-cases",
    "building-a-tracking-page-in-an-afternoon",
    "returns-are-a-feature",
    "idempotency-keys-for-shipments",
    "eu-vat-and-cross-border-shipping",
    "postal-codes-are-hard",
    "node-sdk-3-0-released",
    "python-sdk-async-support",
    "go-sdk-is-here",
    "migrating-from-v1-to-v2-api",
    "batch-label-generation",
    "sustainable-shipping-options",
    "parcel-lockers-api",
    "webhook-security-best-practices",
    "estimated-delivery-dates-with-ml",
    "how-we-run-postgres-at-scale",
    "incident-report-2026-09-14",
    "shopify-integration-guide",
    "woocommerce-plugin-launch",
    "pricing-changes-explained",
    "gdpr-and-shipping-data",
    "the-hidden-cost-of-failed-deliveries",
    "tracking-events-normalized",
    "rate-cards-demystified",
    "international-returns-playbook",
    "open-sourcing-our-address-parser",
    "a-year-of-parcelwise",
    "engineering-on-call-at-parcelwise",
    "label-formats-zpl-pdf-png",
    "hazmat-shipping-api",
    "peak-season-checklist",
    "our-sla-and-how-we-measure-it",
];

pub const DOC_PAGES: [&str; 25] = [
    "/docs/getting-started",
    "/docs/api/shipments",
    "/docs/api/authentication",
    "/docs/api/labels",
    "/docs/api/tracking",
    "/docs/api/rates",
    "/docs/api/webhooks",
    "/docs/sdks/node",
    "/docs/sdks/python",
    "/docs/api/addresses",
    "/docs/api/returns",
    "/docs/guides/first-label",
    "/docs/api/errors",
    "/docs/api/customs",
    "/docs/guides/multi-carrier",
    "/docs/sdks/go",
    "/docs/api/rate-limits",
    "/docs/guides/international",
    "/docs/api/pickups",
    "/docs/sdks/php",
    "/docs/api/pagination",
    "/docs/guides/testing",
    "/docs/sdks/ruby",
    "/docs/carriers",
    "/docs/changelog",
];

/// Where a visit's first page is picked from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landing {
    Home,
    Any,
    Blog,
    Docs,
    Pricing,
    Features,
    /// The page of the newsletter campaign that brought the visitor.
    Campaign,
}

/// How a visit arrives.
#[derive(Debug, Clone, Copy)]
pub enum Arrival {
    /// No referrer, no campaign tags.
    Direct,
    /// A Google search, from the visitor's country's Google; with optional UTM tags (ads).
    Google(Option<&'static str>),
    /// A referrer URL and optional UTM tags.
    Referrer(&'static str, Option<&'static str>),
    /// A newsletter link: no referrer (mail clients send none), the current campaign's tags.
    Newsletter,
}

/// A traffic source: how it arrives, its weight for new and for returning visitors, and
/// where it lands.
pub struct SourceDef {
    pub arrival: Arrival,
    pub new_weight: f64,
    pub returning_weight: f64,
    pub landing: Landing,
}

pub const SOURCES: &[SourceDef] = &[
    source(Arrival::Direct, 28.0, 60.0, Landing::Home),
    source(Arrival::Google(None), 34.0, 22.0, Landing::Any),
    source(
        Arrival::Referrer("https://www.bing.com/", None),
        5.0,
        1.5,
        Landing::Any,
    ),
    source(
        Arrival::Referrer("https://duckduckgo.com/", None),
        4.0,
        1.5,
        Landing::Any,
    ),
    source(
        Arrival::Referrer("https://www.ecosia.org/", None),
        1.0,
        0.3,
        Landing::Any,
    ),
    source(
        Arrival::Referrer("https://t.co/", None),
        3.0,
        0.5,
        Landing::Blog,
    ),
    source(
        Arrival::Referrer("https://www.linkedin.com/", None),
        2.5,
        0.5,
        Landing::Blog,
    ),
    source(
        Arrival::Referrer(
            "https://www.linkedin.com/",
            Some("utm_source=linkedin&utm_medium=social&utm_campaign=launch-week"),
        ),
        1.5,
        0.0,
        Landing::Features,
    ),
    source(
        Arrival::Referrer("https://news.ycombinator.com/", None),
        2.0,
        0.2,
        Landing::Blog,
    ),
    source(
        Arrival::Referrer("https://www.reddit.com/", None),
        1.5,
        0.2,
        Landing::Blog,
    ),
    source(
        Arrival::Referrer("https://github.com/parcelwise/parcelwise-node", None),
        3.0,
        3.0,
        Landing::Docs,
    ),
    source(
        Arrival::Referrer(
            "https://stackoverflow.com/questions/tagged/parcelwise",
            None,
        ),
        2.0,
        1.0,
        Landing::Docs,
    ),
    source(
        Arrival::Google(Some(
            "utm_source=google&utm_medium=cpc&utm_campaign=brand-search",
        )),
        3.0,
        0.5,
        Landing::Pricing,
    ),
    source(Arrival::Newsletter, 2.5, 8.0, Landing::Campaign),
];

const fn source(
    arrival: Arrival,
    new_weight: f64,
    returning_weight: f64,
    landing: Landing,
) -> SourceDef {
    SourceDef {
        arrival,
        new_weight,
        returning_weight,
        landing,
    }
}

/// The Google each country searches with; anywhere else uses google.com.
pub const GOOGLES: &[(&str, &str)] = &[
    ("DE", "https://www.google.de/"),
    ("AT", "https://www.google.at/"),
    ("CH", "https://www.google.ch/"),
    ("FR", "https://www.google.fr/"),
    ("BE", "https://www.google.be/"),
    ("NL", "https://www.google.nl/"),
    ("ES", "https://www.google.es/"),
    ("IT", "https://www.google.it/"),
    ("SE", "https://www.google.se/"),
    ("PL", "https://www.google.pl/"),
    ("GB", "https://www.google.co.uk/"),
    ("CA", "https://www.google.ca/"),
    ("AU", "https://www.google.com.au/"),
    ("IN", "https://www.google.co.in/"),
    ("BR", "https://www.google.com.br/"),
    ("JP", "https://www.google.co.jp/"),
];
pub const GOOGLE_ELSEWHERE: &str = "https://www.google.com/";

/// Newsletter campaigns, sent in turn every other Tuesday; each with the page it promotes
/// (`None`: a blog post).
pub const CAMPAIGNS: &[(&str, Option<&str>)] = &[
    ("product-update", Some("/features")),
    ("api-tips", None),
    ("black-friday", Some("/pricing")),
    ("shipping-report", None),
    ("webinar-invite", None),
    ("changelog-digest", Some("/docs/changelog")),
];

/// A country (`None`: not found in the geo database), its regions (ISO 3166-2 subdivision
/// codes, most common first), its weight within its zone and its usual banner language.
pub type PlaceDef = (
    Option<&'static str>,
    &'static [&'static str],
    f64,
    &'static str,
);

/// A zone: its UTC offset in hours (for the daily rhythm), its share of visitors and places.
pub struct ZoneDef {
    pub offset_hours: i64,
    pub share: f64,
    pub places: &'static [PlaceDef],
}

pub const ZONES: &[ZoneDef] = &[
    ZoneDef {
        offset_hours: 1,
        share: 0.56,
        places: &[
            (
                Some("DE"),
                &["BY", "NW", "BE", "HH", "HE", "BW", "SN"],
                30.0,
                "de",
            ),
            (Some("FR"), &["IDF", "ARA", "OCC", "NAQ", "PAC"], 13.0, "fr"),
            (Some("NL"), &["NH", "ZH", "UT", "NB"], 8.0, "en"),
            (Some("ES"), &["MD", "CT", "AN", "VC"], 7.0, "es"),
            (Some("IT"), &["MI", "RM", "TO", "BO"], 6.0, "en"),
            (Some("CH"), &["ZH", "BE", "GE", "VD", "BS"], 7.0, "de"),
            (Some("SE"), &["AB", "O", "M"], 4.0, "en"),
            (Some("AT"), &["9", "6", "4"], 4.0, "de"),
            (Some("PL"), &["14", "12", "30"], 4.0, "en"),
            (Some("BE"), &["BRU", "VAN", "VLI"], 3.0, "fr"),
            (Some("DK"), &["84", "82"], 2.0, "en"),
            (Some("IE"), &["L", "M"], 2.0, "en"),
            (Some("FI"), &["18"], 1.5, "en"),
            (Some("PT"), &["11", "13"], 1.5, "en"),
            (Some("NO"), &["03", "46"], 1.5, "en"),
            (Some("CZ"), &["10"], 1.5, "en"),
        ],
    },
    ZoneDef {
        offset_hours: 0,
        share: 0.10,
        places: &[(Some("GB"), &["ENG", "SCT", "WLS", "NIR"], 1.0, "en")],
    },
    ZoneDef {
        offset_hours: -5,
        share: 0.09,
        places: &[(
            Some("US"),
            &["NY", "MA", "VA", "NJ", "FL", "GA", "PA", "NC"],
            1.0,
            "en",
        )],
    },
    ZoneDef {
        offset_hours: -6,
        share: 0.045,
        places: &[(Some("US"), &["TX", "IL", "MN", "CO", "MO"], 1.0, "en")],
    },
    ZoneDef {
        offset_hours: -8,
        share: 0.065,
        places: &[(Some("US"), &["CA", "WA", "OR", "NV"], 1.0, "en")],
    },
    ZoneDef {
        offset_hours: -4,
        share: 0.035,
        places: &[
            (Some("CA"), &["ON", "QC", "BC"], 2.0, "en"),
            (Some("BR"), &["SP", "RJ"], 1.0, "en"),
            (Some("MX"), &["CMX"], 0.5, "es"),
        ],
    },
    ZoneDef {
        offset_hours: 7,
        share: 0.04,
        places: &[
            (Some("IN"), &["MH", "KA"], 2.0, "en"),
            (Some("AU"), &["NSW", "VIC"], 1.5, "en"),
            (Some("JP"), &["13"], 1.0, "en"),
            (Some("SG"), &[], 1.0, "en"),
        ],
    },
    ZoneDef {
        offset_hours: 0,
        share: 0.015,
        places: &[(None, &[], 1.0, "en")],
    },
];

/// How often the geo database resolves a region: US states almost always, elsewhere often.
pub fn region_rate(country: &str) -> f64 {
    if country == "US" { 0.88 } else { 0.65 }
}

/// User-Agents and their weight, with how often their users send GPC.
pub const CLIENTS: &[(&str, f64, f64)] = &[
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
        26.0,
        0.03,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.2849.68",
        9.0,
        0.02,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
        5.0,
        0.15,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
        11.0,
        0.04,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        8.0,
        0.02,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:132.0) Gecko/20100101 Firefox/132.0",
        2.5,
        0.15,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
        3.0,
        0.2,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
        2.0,
        0.08,
    ),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
        0.5,
        0.02,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        15.0,
        0.02,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/130.0.6723.90 Mobile/15E148 Safari/604.1",
        2.0,
        0.02,
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
        11.0,
        0.03,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        2.0,
        0.02,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1",
        2.0,
        0.02,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
        1.0,
        0.03,
    ),
];

/// Links out that the outbound tracker reports (`url` property, at most 200 characters).
pub const OUTBOUND: &[&str] = &[
    "https://github.com/parcelwise/parcelwise-node",
    "https://github.com/parcelwise/parcelwise-python",
    "https://status.parcelwise.example/",
    "https://www.dhl.com/de-en/home/tracking.html",
    "https://stackoverflow.com/questions/tagged/parcelwise",
];

/// Files the download tracker reports (matched by extension on the page).
pub const DOWNLOADS: &[&str] = &[
    "/downloads/parcelwise-api-guide.pdf",
    "/downloads/parcelwise-cli-2.4.1-macos.zip",
    "/downloads/parcelwise-cli-2.4.1-windows.exe",
    "/downloads/rate-card-2026.pdf",
    "/downloads/sample-shipments.csv",
];

/// Plans bought at checkout and their value.
pub const PURCHASES: &[(&str, f64)] = &[("pro", 49.0), ("pro", 490.0), ("business", 199.0)];
