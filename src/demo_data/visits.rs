//! One visit: its pages (1 to 8, about 40% bounces), the time spent on each, and the custom
//! events the page script would send (signup, purchase, outbound link, download).

use std::sync::Arc;

use rand::Rng;

use super::catalog::Catalog;
use super::people::Visitor;
use super::pick::{chance, duration_ms};

/// Which event, with its properties in compact form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    Pageview,
    Signup { pro: bool },
    Purchase(u8),
    Outbound(u8),
    Download(u8),
}

impl What {
    /// Its index in `Catalog::kinds`.
    pub fn kind(self) -> usize {
        match self {
            What::Pageview => 0,
            What::Signup { .. } => 1,
            What::Purchase(_) => 2,
            What::Outbound(_) => 3,
            What::Download(_) => 4,
        }
    }
}

/// An event planned for a visitor, small until it is built for the store.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Milliseconds since the epoch.
    pub at: i64,
    /// Creation order: breaks ties between events of the same millisecond.
    pub seq: u64,
    pub who: Arc<Visitor>,
    pub what: What,
    pub page: u16,
    /// The source and campaign of a landing pageview (`Catalog::entries`).
    pub entry: Option<u16>,
}

/// A step of a visit before it is tied to a visitor.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub at: i64,
    pub what: What,
    pub page: usize,
}

const BOUNCE: f64 = 0.40;
const ONE_MORE_PAGE: f64 = 0.55;
const MAX_PAGES: usize = 8;
const SIGNUP: f64 = 0.03;
const PURCHASE: f64 = 0.009;
const OUTBOUND: f64 = 0.05;
const DOWNLOAD: f64 = 0.03;

/// The steps of a visit starting at `start` on `landing`, in time order.
pub fn plan(rng: &mut impl Rng, cat: &Catalog, start: i64, landing: usize) -> Vec<Step> {
    let n = &cat.named;
    let mut pages = vec![landing];
    if !chance(rng, BOUNCE) {
        pages.push(cat.next_page(rng, landing));
        while pages.len() < MAX_PAGES && chance(rng, ONE_MORE_PAGE) {
            let last = pages[pages.len() - 1];
            pages.push(cat.next_page(rng, last));
        }
    }
    let signup = chance(rng, SIGNUP);
    let purchase = chance(rng, PURCHASE);
    if signup && !pages.contains(&n.signup) {
        pages.push(n.signup);
    }
    if purchase {
        if pages.last() != Some(&n.pricing) {
            pages.push(n.pricing);
        }
        pages.push(n.checkout);
    }
    let outbound = chance(rng, OUTBOUND).then(|| rng.random_range(0..cat.outbound_count()));
    let download = chance(rng, DOWNLOAD).then(|| rng.random_range(0..cat.download_count()));
    // Links are clicked on the first documentation page, else on the last page.
    let link_page = pages
        .iter()
        .position(|p| cat.is_docs(*p))
        .unwrap_or(pages.len() - 1);

    let mut steps = Vec::with_capacity(pages.len() + 2);
    let mut t = start;
    for (i, &page) in pages.iter().enumerate() {
        steps.push(Step {
            at: t,
            what: What::Pageview,
            page,
        });
        let dwell = duration_ms(rng, 40.0, 1.0, 3.0, 900.0);
        let mut during = |what: What, rng: &mut dyn rand::RngCore| {
            let share = 0.2 + 0.7 * rng.random::<f64>();
            steps.push(Step {
                at: t + ((dwell as f64 * share) as i64).max(1),
                what,
                page,
            });
        };
        if signup && page == n.signup {
            during(
                What::Signup {
                    pro: chance(rng, 0.2),
                },
                rng,
            );
        }
        if purchase && page == n.checkout {
            let plan = rng.random_range(0..3u8);
            during(What::Purchase(plan), rng);
        }
        if i == link_page {
            if let Some(o) = outbound {
                during(What::Outbound(u8::try_from(o).unwrap_or(0)), rng);
            }
            if let Some(d) = download {
                during(What::Download(u8::try_from(d).unwrap_or(0)), rng);
            }
        }
        t += dwell;
    }
    steps.sort_by_key(|s| s.at);
    steps
}
