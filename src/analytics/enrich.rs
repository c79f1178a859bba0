//! Enrichment of raw analytics hits into small, classified values.
//!
//! Every function here is pure: no I/O, no clock, no shared mutable state.
//! Nothing returned contains the raw User-Agent string or a visitor's IP
//! address; callers get browser and OS families, a device class, a bot flag,
//! a referrer's registrable domain, UTM tags and a page path.
//!
//! Work is bounded: User-Agents longer than [`MAX_UA_BYTES`] and URLs longer
//! than [`MAX_URL_BYTES`] are not parsed.

mod referrer;
mod urls;
mod user_agent;

pub use referrer::{Source, classify_referrer};
pub use urls::{Utm, host, page_path, utm};
pub use user_agent::{Client, DeviceClass, classify_user_agent, is_bot};

/// The longest User-Agent (in bytes) that is classified.
pub const MAX_UA_BYTES: usize = 512;

/// The longest URL (in bytes) that is parsed; longer ones yield nothing.
pub const MAX_URL_BYTES: usize = 8192;

/// Returns the longest prefix of `s` that is at most `max` bytes and ends on a character boundary.
fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;
    use std::time::Instant;

    /// A tiny deterministic xorshift generator, so the fuzz loop needs no extra crate.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Feeds one input to every public function; the test passes if nothing panics.
    fn feed_everything(input: &str) {
        let client = classify_user_agent(input);
        let _ = client.device.as_str();
        let _ = is_bot(input);
        let _ = classify_referrer(input, "example.com");
        let _ = classify_referrer(input, input);
        let _ = utm(input);
        if let Some(path) = page_path(input) {
            assert!(path.starts_with('/') && path.len() <= 512);
        }
        let _ = host(input);
    }

    #[test]
    fn random_bytes_never_cause_a_panic() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let lengths = [0, 1, 2, 7, 31, 64, 200, 511, 512, 513, 1500, 9000];
        for round in 0..3000 {
            let len = lengths[round % lengths.len()];
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            feed_everything(&String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn random_url_like_strings_never_cause_a_panic() {
        let pieces = [
            "http://",
            "https://",
            "android-app://",
            "//",
            "/",
            "?",
            "#",
            "&",
            "=",
            "%",
            "%2",
            "%zz",
            "%C3%A9",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "google.co.uk",
            "[::1]",
            "127.0.0.1",
            ":",
            ":99999",
            "@",
            ".",
            "..",
            "xn--",
            "é",
            "\u{0}",
            " ",
            "\t",
            "+",
            "Mozilla/5.0 (",
            ")",
            ";",
            "Android",
            "iPad",
            "Mobile",
        ];
        let mut rng = XorShift(0xDEAD_BEEF_CAFE_F00D);
        for _ in 0..5000 {
            let count = rng.below(40);
            let input: String = (0..count)
                .map(|_| pieces[rng.below(pieces.len())])
                .collect();
            feed_everything(&input);
        }
    }

    #[test]
    fn oversized_inputs_are_ignored() {
        let long_ua = format!(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) {}",
            "A".repeat(600)
        );
        assert_eq!(classify_user_agent(&long_ua).browser, "Other");
        let long_url = format!("https://www.google.com/{}", "a".repeat(MAX_URL_BYTES));
        assert!(classify_referrer(&long_url, "example.com").is_none());
        assert!(page_path(&long_url).is_none());
        assert!(host(&long_url).is_none());
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate_bytes("héllo", 2), "h");
        assert_eq!(truncate_bytes("héllo", 3), "hé");
        assert_eq!(truncate_bytes("abc", 10), "abc");
    }

    /// Times `iterations` calls of `f` over `inputs` and returns nanoseconds per call.
    fn time_per_op<T>(inputs: &[&str], iterations: usize, f: impl Fn(&str) -> T) -> f64 {
        for input in inputs {
            black_box(f(black_box(input)));
        }
        let start = Instant::now();
        for i in 0..iterations {
            black_box(f(black_box(inputs[i % inputs.len()])));
        }
        start.elapsed().as_nanos() as f64 / iterations as f64
    }

    #[test]
    #[ignore = "measurement, run with --ignored --nocapture (ideally --release)"]
    fn classification_speed_is_printed() {
        let uas = [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        ];
        let referrers = [
            "https://www.google.co.uk/",
            "https://news.ycombinator.com/item?id=1",
            "https://blog.example.org/post/1",
            "android-app://com.google.android.gm/",
        ];
        let pages = [
            "https://example.com/pricing?utm_source=Newsletter&utm_medium=email&utm_campaign=Spring#top",
        ];
        let n = 100_000;
        let client = time_per_op(&uas, n, classify_user_agent);
        let bot = time_per_op(&uas, n, is_bot);
        let referrer = time_per_op(&referrers, n, |r| classify_referrer(r, "example.com"));
        let tags = time_per_op(&pages, n, utm);
        let path = time_per_op(&pages, n, page_path);
        let hosts = time_per_op(&pages, n, host);
        println!("classify_user_agent: {client:.0} ns/op");
        println!("is_bot:              {bot:.0} ns/op");
        println!("classify_referrer:   {referrer:.0} ns/op");
        println!("utm:                 {tags:.0} ns/op");
        println!("page_path:           {path:.0} ns/op");
        println!("host:                {hosts:.0} ns/op");
    }
}
