//! Small random helpers: weighted choice, coin flips and skewed durations.

use rand::Rng;

/// A weighted choice among `n` items, by cumulative weights.
#[derive(Debug, Clone)]
pub struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    /// Weights must be non-negative with a positive sum; an empty or all-zero list picks 0.
    pub fn new(weights: impl IntoIterator<Item = f64>) -> Weighted {
        let mut sum = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                sum += w.max(0.0);
                sum
            })
            .collect();
        Weighted { cumulative }
    }

    pub fn pick(&self, rng: &mut impl Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        if total <= 0.0 {
            return 0;
        }
        let x = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|c| *c <= x)
            .min(self.cumulative.len() - 1)
    }
}

/// Zipf-like weights for ranks 1..=n: the k-th item is `k^-s` as popular as the first.
pub fn zipf(n: usize, s: f64) -> Vec<f64> {
    (1..=n).map(|k| (k as f64).powf(-s)).collect()
}

pub fn chance(rng: &mut impl Rng, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// A log-normal draw around `median` (the spread `sigma` is in log space).
pub fn log_normal(rng: &mut impl Rng, median: f64, sigma: f64) -> f64 {
    // Box–Muller: two uniforms give one standard normal.
    let u1 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2 = rng.random::<f64>();
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    median * (sigma * z).exp()
}

/// A milliseconds duration, log-normal around `median_s` seconds, kept within bounds.
pub fn duration_ms(rng: &mut impl Rng, median_s: f64, sigma: f64, min_s: f64, max_s: f64) -> i64 {
    (log_normal(rng, median_s, sigma).clamp(min_s, max_s) * 1000.0) as i64
}

/// A deterministic value in [0, 1) from a seed and a key, for per-day noise that does not
/// depend on the order draws are made in.
pub fn hashed_unit(seed: u64, key: u64) -> f64 {
    // SplitMix64.
    let mut z = seed ^ key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}
