//! When visitors arrive: a daily curve in each zone's local time, a weekly one (a business
//! audience: quieter weekends), slight growth, day-to-day noise, and a burst after each
//! fortnightly newsletter.

use super::pick::hashed_unit;
use super::world::CAMPAIGNS;

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;

/// Relative traffic by local hour.
const DAILY: [f64; 24] = [
    0.18, 0.12, 0.09, 0.08, 0.09, 0.14, 0.28, 0.50, 0.78, 0.95, 1.00, 0.98, 0.90, 0.93, 0.97, 0.95,
    0.88, 0.75, 0.62, 0.58, 0.55, 0.50, 0.40, 0.28,
];
/// Relative traffic by local weekday, Monday first.
const WEEKLY: [f64; 7] = [1.0, 1.04, 1.02, 0.98, 0.86, 0.52, 0.58];
/// The highest product of the two curves.
const PEAK: f64 = 1.04;
/// Growth of traffic per day (about 15% a quarter).
const GROWTH_PER_DAY: f64 = 0.0016;
/// Day-to-day variation, up to this share either way.
const NOISE: f64 = 0.10;
/// A newsletter goes out every other Tuesday at 08:00 UTC.
const SEND_EVERY_DAYS: i64 = 14;
const SEND_HOUR: i64 = 8;
/// A send's extra arrivals in its first hour (in the units of a zone weight), decaying.
const BURST: f64 = 0.12;
const BURST_HOURS: f64 = 10.0;

pub struct Rhythm {
    start: i64,
    seed: u64,
    /// Each zone's UTC offset in hours and share of visitors.
    zones: Vec<(i64, f64)>,
}

/// Days since the epoch of a time.
fn day(at: i64) -> i64 {
    at.div_euclid(DAY_MS)
}

impl Rhythm {
    pub fn new(start: i64, seed: u64, zones: Vec<(i64, f64)>) -> Rhythm {
        Rhythm { start, seed, zones }
    }

    pub fn zone_count(&self) -> usize {
        self.zones.len()
    }

    fn growth(&self, at: i64) -> f64 {
        1.0 + GROWTH_PER_DAY * (at - self.start) as f64 / DAY_MS as f64
    }

    fn noise(&self, at: i64) -> f64 {
        let d = day(at) as u64;
        let u = (hashed_unit(self.seed, d) + hashed_unit(self.seed, d ^ 0xDA7A)) / 2.0;
        1.0 - NOISE + 2.0 * NOISE * u
    }

    /// How busy the site is at `at` for visitors `offset_hours` from UTC, from 0 to 1: the
    /// daily and weekly curves.
    pub fn activity(offset_hours: i64, at: i64) -> f64 {
        let local = at + offset_hours * HOUR_MS;
        let hour = local.div_euclid(HOUR_MS).rem_euclid(24) as usize;
        // 1970-01-01 was a Thursday.
        let weekday = (day(local) + 3).rem_euclid(7) as usize;
        DAILY[hour] * WEEKLY[weekday] / PEAK
    }

    /// The expected share of arrivals of `zone` in `[from, to)`, in relative units.
    pub fn zone_weight(&self, zone: usize, from: i64, to: i64) -> f64 {
        let Some(&(offset, share)) = self.zones.get(zone) else {
            return 0.0;
        };
        let mid = from + (to - from) / 2;
        let hours = (to - from) as f64 / HOUR_MS as f64;
        hours * share * Self::activity(offset, mid) * self.growth(mid) * self.noise(mid)
    }

    /// The latest newsletter send at or before `at`.
    fn last_send(at: i64) -> i64 {
        let first_tuesday = 5; // 1970-01-06, whose day number is ≡ 5 (mod 14).
        let send_of = |d: i64| d * DAY_MS + SEND_HOUR * HOUR_MS;
        let d = day(at);
        let k = (d - first_tuesday).div_euclid(SEND_EVERY_DAYS);
        let mut s = first_tuesday + k * SEND_EVERY_DAYS;
        if send_of(s) > at {
            s -= SEND_EVERY_DAYS;
        }
        send_of(s)
    }

    /// The extra newsletter arrivals in `[from, to)`, in the units of `zone_weight`.
    pub fn burst_weight(&self, from: i64, to: i64) -> f64 {
        let mid = from + (to - from) / 2;
        let since = (mid - Self::last_send(mid)) as f64 / HOUR_MS as f64;
        let hours = (to - from) as f64 / HOUR_MS as f64;
        hours * BURST * (-since / BURST_HOURS).exp() * self.growth(mid)
    }

    /// The newsletter campaign current at `at`: an index into `world::CAMPAIGNS`.
    pub fn campaign(at: i64) -> usize {
        let fortnight = day(Self::last_send(at)).div_euclid(SEND_EVERY_DAYS);
        fortnight.rem_euclid(CAMPAIGNS.len() as i64) as usize
    }
}
