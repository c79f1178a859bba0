//! User-Agent classification: browser family, operating system, device class and bots.

use std::sync::LazyLock;

use super::{MAX_UA_BYTES, truncate_bytes};

/// Lower-case substrings that mark automated clients, on top of isbot's patterns and woothee's crawler category.
///
/// "headless" matters in particular: the project's own browser tests drive
/// HeadlessChrome, which must not be counted as a visitor.
const BOT_MARKERS: &[&str] = &[
    "crawl",
    "spider",
    "slurp",
    "headless",
    "lighthouse",
    "python-requests",
    "curl/",
    "wget/",
    "httpclient",
    "go-http-client",
    "java/",
    "okhttp",
    "axios",
    "node-fetch",
    "phantomjs",
    "puppeteer",
    "playwright",
];

/// Substrings that mark televisions, consoles and similar appliances.
const APPLIANCE_MARKERS: &[&str] = &[
    "SmartTV",
    "SMART-TV",
    "Android TV",
    "GoogleTV",
    "CrKey",
    "AppleTV",
    "BRAVIA",
    "Web0S",
    "HbbTV",
    "PlayStation",
    "Xbox",
    "Nintendo",
];

/// Substrings that mark tablets regardless of the operating system.
const TABLET_MARKERS: &[&str] = &["iPad", "Tablet", "Kindle", "Silk/", "PlayBook"];

/// Substrings that mark phones regardless of the operating system.
const MOBILE_MARKERS: &[&str] = &["iPhone", "iPod", "Mobi", "Windows Phone", "Opera Mini"];

/// Browser tokens woothee does not know, checked before its result is used.
const BROWSER_OVERRIDES: &[(&str, &str)] = &[("Silk/", "Silk")];

/// The isbot pattern set, compiled once on first use.
static BOTS: LazyLock<isbot::Bots> = LazyLock::new(isbot::Bots::default);

/// The broad kind of device a visitor uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceClass {
    /// Desktop and laptop computers.
    Desktop,
    /// Phones.
    Mobile,
    /// Tablets.
    Tablet,
    /// Anything else: televisions, consoles, crawlers, unknown clients.
    Other,
}

impl DeviceClass {
    /// The stable lower-case name used in storage and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceClass::Desktop => "desktop",
            DeviceClass::Mobile => "mobile",
            DeviceClass::Tablet => "tablet",
            DeviceClass::Other => "other",
        }
    }
}

/// The classified client behind a User-Agent; holds no part of the raw string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The browser family, e.g. "Chrome", "Firefox", "Safari", "Edge", or "Other".
    pub browser: String,
    /// The OS family: "Windows", "macOS", "iOS", "Android", "Linux", "ChromeOS" or "Other".
    pub os: String,
    /// The device class.
    pub device: DeviceClass,
}

impl Client {
    /// The classification used for empty, oversized or unrecognised User-Agents.
    fn unknown() -> Self {
        Client {
            browser: "Other".to_owned(),
            os: "Other".to_owned(),
            device: DeviceClass::Other,
        }
    }
}

/// Classifies a User-Agent into browser family, OS family and device class.
///
/// User-Agents longer than [`MAX_UA_BYTES`] are not parsed and yield "Other" everywhere.
pub fn classify_user_agent(ua: &str) -> Client {
    let ua = ua.trim();
    if ua.is_empty() || ua.len() > MAX_UA_BYTES {
        return Client::unknown();
    }
    let (name, category) = woothee::parser::Parser::new()
        .parse(ua)
        .map_or(("", ""), |result| (result.name, result.category));
    let os = os_family(ua);
    let browser = BROWSER_OVERRIDES
        .iter()
        .find(|(token, _)| ua.contains(token))
        .map_or_else(|| browser_family(name), |(_, family)| family);
    Client {
        browser: browser.to_owned(),
        os: os.to_owned(),
        device: device_class(ua, os, category),
    }
}

/// Reports whether a User-Agent belongs to a bot, crawler, script or headless browser.
///
/// An empty User-Agent is a bot. Only the first [`MAX_UA_BYTES`] bytes are examined.
pub fn is_bot(ua: &str) -> bool {
    let ua = truncate_bytes(ua.trim(), MAX_UA_BYTES);
    if ua.is_empty() {
        return true;
    }
    let lower = ua.to_ascii_lowercase();
    if BOT_MARKERS.iter().any(|marker| lower.contains(marker)) {
        return true;
    }
    let crawler = woothee::parser::Parser::new()
        .parse(ua)
        .is_some_and(|result| result.category == "crawler");
    crawler || BOTS.is_bot(ua)
}

/// Maps a woothee browser name to the family names used in reports.
fn browser_family(woothee_name: &str) -> &'static str {
    match woothee_name {
        "Chrome" => "Chrome",
        "Firefox" => "Firefox",
        "Safari" => "Safari",
        "Edge" => "Edge",
        "Opera" => "Opera",
        "Vivaldi" => "Vivaldi",
        "SamsungBrowser" => "Samsung Internet",
        "Yandex Browser" => "Yandex Browser",
        "Internet Explorer" => "Internet Explorer",
        "Webview" => "WebView",
        _ => "Other",
    }
}

/// Derives the OS family from well-known User-Agent tokens.
///
/// The order matters: iOS User-Agents say "like Mac OS X", and Android ones say "Linux".
fn os_family(ua: &str) -> &'static str {
    if ua.contains("Windows Phone") || ua.contains("Windows CE") {
        "Other"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("iPhone") || ua.contains("iPad") || ua.contains("iPod") {
        "iOS"
    } else if ua.contains("Android") {
        "Android"
    } else if ua.contains("CrOS") {
        "ChromeOS"
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        "macOS"
    } else if ua.contains("Linux") || ua.contains("X11") {
        "Linux"
    } else {
        "Other"
    }
}

/// Derives the device class from tokens, the OS family and woothee's category.
fn device_class(ua: &str, os: &str, category: &str) -> DeviceClass {
    let has_any = |markers: &[&str]| markers.iter().any(|marker| ua.contains(marker));
    if category == "crawler" || has_any(APPLIANCE_MARKERS) {
        DeviceClass::Other
    } else if has_any(TABLET_MARKERS) && os != "Windows" {
        DeviceClass::Tablet
    } else if os == "Android" {
        // Android phones say "Mobile"; Android tablets do not.
        if ua.contains("Mobile") {
            DeviceClass::Mobile
        } else {
            DeviceClass::Tablet
        }
    } else if has_any(MOBILE_MARKERS) || matches!(category, "smartphone" | "mobilephone") {
        DeviceClass::Mobile
    } else if category == "pc" || matches!(os, "Windows" | "macOS" | "Linux" | "ChromeOS") {
        DeviceClass::Desktop
    } else {
        DeviceClass::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One real-world User-Agent and what it must classify as.
    struct Case {
        ua: &'static str,
        browser: &'static str,
        os: &'static str,
        device: DeviceClass,
        bot: bool,
    }

    const fn case(
        ua: &'static str,
        browser: &'static str,
        os: &'static str,
        device: DeviceClass,
        bot: bool,
    ) -> Case {
        Case {
            ua,
            browser,
            os,
            device,
            bot,
        }
    }

    use DeviceClass::{Desktop, Mobile, Other, Tablet};

    const CASES: &[Case] = &[
        case(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            "Chrome",
            "Windows",
            Desktop,
            false,
        ),
        case(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
            "Safari",
            "iOS",
            Mobile,
            false,
        ),
        case(
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
            "Safari",
            "iOS",
            Tablet,
            false,
        ),
        case(
            "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
            "Firefox",
            "Linux",
            Desktop,
            false,
        ),
        case(
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
            "Firefox",
            "Linux",
            Desktop,
            false,
        ),
        case(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
            "Edge",
            "Windows",
            Desktop,
            false,
        ),
        case(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
            "Safari",
            "macOS",
            Desktop,
            false,
        ),
        case(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
            "Chrome",
            "macOS",
            Desktop,
            false,
        ),
        case(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
            "Firefox",
            "macOS",
            Desktop,
            false,
        ),
        case(
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
            "Samsung Internet",
            "Android",
            Mobile,
            false,
        ),
        case(
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
            "Chrome",
            "Android",
            Mobile,
            false,
        ),
        case(
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            "Chrome",
            "Android",
            Tablet,
            false,
        ),
        case(
            "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
            "Firefox",
            "Android",
            Mobile,
            false,
        ),
        case(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.71 Mobile/15E148 Safari/604.1",
            "Chrome",
            "iOS",
            Mobile,
            false,
        ),
        case(
            "Mozilla/5.0 (Linux; Android 10; HD1913) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36 EdgA/124.0.2478.64",
            "Edge",
            "Android",
            Mobile,
            false,
        ),
        case(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 OPR/109.0.0.0",
            "Opera",
            "Windows",
            Desktop,
            false,
        ),
        case(
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            "Chrome",
            "ChromeOS",
            Desktop,
            false,
        ),
        case(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
            "Firefox",
            "Windows",
            Desktop,
            false,
        ),
        case(
            "Mozilla/5.0 (Linux; Android 11; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/124.3.1 like Chrome/124.0.6367.179 Safari/537.36",
            "Silk",
            "Android",
            Tablet,
            false,
        ),
        case(
            "Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
            "Chrome",
            "Android",
            Mobile,
            false,
        ),
        case(
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Other",
            "Other",
            Other,
            true,
        ),
        case(
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.201 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Other",
            "Android",
            Other,
            true,
        ),
        case(
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "Other",
            "Other",
            Other,
            true,
        ),
        case("curl/8.5.0", "Other", "Other", Other, true),
        case("python-requests/2.31.0", "Other", "Other", Other, true),
        case("Wget/1.21.4", "Other", "Other", Other, true),
        case(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.60 Safari/537.36",
            "Chrome",
            "Linux",
            Desktop,
            true,
        ),
        case(
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Other",
            "Other",
            Other,
            true,
        ),
        case(
            "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
            "Other",
            "Other",
            Other,
            true,
        ),
        case(
            "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
            "Other",
            "Other",
            Other,
            true,
        ),
        case(
            "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
            "Chrome",
            "Android",
            Mobile,
            true,
        ),
        case("Go-http-client/2.0", "Other", "Other", Other, true),
        case("okhttp/4.12.0", "Other", "Other", Other, true),
        case(
            "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
            "Other",
            "Other",
            Other,
            true,
        ),
        case(
            "Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7233; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.0.0 Mobile Safari/537.36 SMART-TV",
            "WebView",
            "Android",
            Other,
            false,
        ),
        case(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edge/44.18363.8131",
            "Other",
            "Windows",
            Other,
            false,
        ),
    ];

    #[test]
    fn real_world_user_agents_are_classified() {
        let mut failures = Vec::new();
        for case in CASES {
            let client = classify_user_agent(case.ua);
            let bot = is_bot(case.ua);
            if client.browser != case.browser
                || client.os != case.os
                || client.device != case.device
                || bot != case.bot
            {
                failures.push(format!(
                    "{}\n  got {}/{}/{}/bot={bot}, want {}/{}/{}/bot={}",
                    case.ua,
                    client.browser,
                    client.os,
                    client.device.as_str(),
                    case.browser,
                    case.os,
                    case.device.as_str(),
                    case.bot
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn the_table_covers_at_least_twenty_five_user_agents() {
        assert!(CASES.len() >= 25);
    }

    #[test]
    fn empty_and_blank_user_agents_are_bots() {
        assert!(is_bot(""));
        assert!(is_bot("   "));
        assert_eq!(classify_user_agent(""), Client::unknown());
    }

    #[test]
    fn headless_chrome_is_always_a_bot() {
        assert!(is_bot(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36"
        ));
    }

    #[test]
    fn long_user_agents_are_checked_on_their_prefix() {
        let long = format!("Googlebot/2.1 {}", "x".repeat(2000));
        assert!(is_bot(&long));
        let long_browser = format!(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 {}",
            "é".repeat(400)
        );
        assert!(!is_bot(&long_browser));
        assert_eq!(classify_user_agent(&long_browser), Client::unknown());
    }

    #[test]
    fn device_classes_have_stable_names() {
        assert_eq!(DeviceClass::Desktop.as_str(), "desktop");
        assert_eq!(DeviceClass::Mobile.as_str(), "mobile");
        assert_eq!(DeviceClass::Tablet.as_str(), "tablet");
        assert_eq!(DeviceClass::Other.as_str(), "other");
    }

    #[test]
    fn classification_never_echoes_the_raw_user_agent() {
        for case in CASES {
            let client = classify_user_agent(case.ua);
            assert!(!client.browser.contains('/') && client.browser.len() < 32);
            assert!(!client.os.contains('/') && client.os.len() < 32);
        }
    }
}
