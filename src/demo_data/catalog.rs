//! The demo world made ready: every page path, traffic source, campaign tag and browser is
//! classified once by the real enrichment (`analytics::enrich`), so what is stored is exactly
//! what the HTTP API would store; and planned events are built into `AcceptedEvent`s here.

use rand::Rng;

use super::people::Visitor;
use super::pick::{Weighted, chance, zipf};
use super::visits::{Planned, What};
use super::world::{self, Arrival, Landing, ORIGIN};
use crate::analytics::enrich;
use crate::analytics::event::{AcceptedEvent, Context, PropValue};
use crate::domain::{CategoryId, Site, SiteId, event_categories};

/// The visit-level part of a landing pageview's context: source, referrer and campaign tags.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub source: Option<String>,
    pub referrer: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
}

impl Entry {
    /// As the events endpoint derives it from the page URL and the referrer.
    fn classify(referrer: Option<&str>, query: Option<&str>) -> Entry {
        let own_host = enrich::host(ORIGIN).unwrap_or_default();
        let source = referrer.and_then(|r| enrich::classify_referrer(r, &own_host));
        let utm = query
            .map(|q| enrich::utm(&format!("{ORIGIN}/?{q}")))
            .unwrap_or_default();
        Entry {
            source: source.as_ref().map(|s| s.name.clone()),
            referrer: source.map(|s| s.referrer_domain),
            utm_source: utm.source,
            utm_medium: utm.medium,
            utm_campaign: utm.campaign,
        }
    }
}

/// A browser as the enrichment classifies it, and how often its users send GPC.
#[derive(Debug, Clone)]
pub struct Client {
    pub browser: String,
    pub os: String,
    pub device: String,
    pub gpc_rate: f64,
}

/// A country, its regions and the banner language its visitors usually get.
pub struct Place {
    pub country: Option<&'static str>,
    pub regions: &'static [&'static str],
    region_pick: Weighted,
    pub language: &'static str,
}

impl Place {
    /// A region, when the geo database would resolve one.
    pub fn region(&self, rng: &mut impl Rng) -> Option<&'static str> {
        let country = self.country?;
        if self.regions.is_empty() || !chance(rng, world::region_rate(country)) {
            return None;
        }
        Some(self.regions[self.region_pick.pick(rng)])
    }
}

/// Visitors who share a daily rhythm.
pub struct Zone {
    pub offset_hours: i64,
    pub share: f64,
    pub places: Vec<Place>,
    pub pick: Weighted,
}

/// A traffic source: where it lands and its classified entries (one per Google, one per
/// newsletter campaign, else one).
struct Source {
    arrival: Arrival,
    landing: Landing,
    entries: Vec<usize>,
}

/// An event name, the category the page script sends it with and the categories the gate
/// checks (the stricter first, under which it is stored).
pub struct Kind {
    pub name: &'static str,
    pub sent: CategoryId,
    pub categories: Vec<CategoryId>,
}

/// Indexes of the pages the visit model names.
#[derive(Debug, Clone, Copy)]
pub struct Named {
    pub home: usize,
    pub pricing: usize,
    pub features: usize,
    pub docs: usize,
    pub blog: usize,
    pub signup: usize,
    pub login: usize,
    pub checkout: usize,
}

pub struct Catalog {
    pub site_id: SiteId,
    pub pages: Vec<String>,
    pub named: Named,
    popular: Weighted,
    blog: Vec<usize>,
    blog_pick: Weighted,
    docs: Vec<usize>,
    docs_pick: Weighted,
    nav: [usize; 6],
    nav_pick: Weighted,
    pub clients: Vec<Client>,
    pub client_pick: Weighted,
    pub zones: Vec<Zone>,
    pub zone_pick: Weighted,
    pub entries: Vec<Entry>,
    sources: Vec<Source>,
    new_source: Weighted,
    returning_source: Weighted,
    campaign_pages: Vec<usize>,
    pub kinds: Vec<Kind>,
    outbound: Vec<String>,
    downloads: Vec<String>,
}

fn page_path(path: &str) -> Result<String, String> {
    enrich::page_path(&format!("{ORIGIN}{path}"))
        .ok_or_else(|| format!("the demo page {path} has no path"))
}

impl Catalog {
    /// Builds the world for `site`, which must have an `analytics` category (the page
    /// script's default for events).
    pub fn build(site: &Site) -> Result<Catalog, String> {
        let analytics = site
            .category("analytics")
            .map(|c| c.id.clone())
            .ok_or_else(|| {
                format!(
                    "site `{}` has no `analytics` category, so it collects no events",
                    site.id
                )
            })?;
        let marketing = site
            .category("marketing")
            .map_or_else(|| analytics.clone(), |c| c.id.clone());

        let mut pages = Vec::new();
        let mut weights = Vec::new();
        for (path, w) in world::CORE_PAGES {
            pages.push(page_path(path)?);
            weights.push(*w);
        }
        let blog_first = pages.len();
        let blog_weights = zipf(world::BLOG_SLUGS.len(), 1.05);
        for (slug, w) in world::BLOG_SLUGS.iter().zip(&blog_weights) {
            pages.push(page_path(&format!("/blog/{slug}"))?);
            weights.push(w * 30.0);
        }
        let docs_first = pages.len();
        let docs_weights = zipf(world::DOC_PAGES.len(), 0.9);
        for (path, w) in world::DOC_PAGES.iter().zip(&docs_weights) {
            pages.push(page_path(path)?);
            weights.push(w * 25.0);
        }
        let index = |path: &str| {
            pages
                .iter()
                .position(|p| p == path)
                .ok_or_else(|| format!("the demo site lacks {path}"))
        };
        let named = Named {
            home: index("/")?,
            pricing: index("/pricing")?,
            features: index("/features")?,
            docs: index("/docs")?,
            blog: index("/blog")?,
            signup: index("/signup")?,
            login: index("/login")?,
            checkout: index("/checkout")?,
        };
        let blog: Vec<usize> = (blog_first..docs_first).collect();
        let docs: Vec<usize> = (docs_first..pages.len()).collect();
        let campaign_pages = world::CAMPAIGNS
            .iter()
            .enumerate()
            .map(|(i, (_, page))| match page {
                Some(p) => index(p),
                None => Ok(blog[(i * 7 + 3) % blog.len()]),
            })
            .collect::<Result<Vec<_>, _>>()?;

        let mut clients = Vec::new();
        for (ua, _, gpc_rate) in world::CLIENTS {
            if enrich::is_bot(ua) {
                return Err(format!("the demo User-Agent {ua} classifies as a bot"));
            }
            let c = enrich::classify_user_agent(ua);
            clients.push(Client {
                browser: c.browser,
                os: c.os,
                device: c.device.as_str().to_owned(),
                gpc_rate: *gpc_rate,
            });
        }

        let zones = world::ZONES
            .iter()
            .map(|z| Zone {
                offset_hours: z.offset_hours,
                share: z.share,
                places: z
                    .places
                    .iter()
                    .map(|(country, regions, _, language)| Place {
                        country: *country,
                        regions,
                        region_pick: Weighted::new(zipf(regions.len(), 0.8)),
                        language,
                    })
                    .collect(),
                pick: Weighted::new(z.places.iter().map(|p| p.2)),
            })
            .collect::<Vec<_>>();

        let mut entries = Vec::new();
        let mut push = |e: Entry| {
            entries.push(e);
            entries.len() - 1
        };
        let sources = world::SOURCES
            .iter()
            .map(|s| {
                let list = match s.arrival {
                    Arrival::Direct => vec![push(Entry::default())],
                    Arrival::Google(query) => world::GOOGLES
                        .iter()
                        .map(|(_, url)| *url)
                        .chain([world::GOOGLE_ELSEWHERE])
                        .map(|url| push(Entry::classify(Some(url), query)))
                        .collect(),
                    Arrival::Referrer(url, query) => vec![push(Entry::classify(Some(url), query))],
                    Arrival::Newsletter => world::CAMPAIGNS
                        .iter()
                        .map(|(name, _)| {
                            let q = format!(
                                "utm_source=newsletter&utm_medium=email&utm_campaign={name}"
                            );
                            push(Entry::classify(None, Some(&q)))
                        })
                        .collect(),
                };
                Source {
                    arrival: s.arrival,
                    landing: s.landing,
                    entries: list,
                }
            })
            .collect();

        let kind = |name: &'static str, sent: &CategoryId| Kind {
            name,
            sent: sent.clone(),
            categories: event_categories(site, name, sent),
        };
        let nav = [
            named.pricing,
            named.features,
            named.docs,
            named.home,
            named.blog,
            named.signup,
        ];
        Ok(Catalog {
            site_id: site.id.clone(),
            named,
            popular: Weighted::new(weights),
            blog_pick: Weighted::new(blog_weights),
            blog,
            docs_pick: Weighted::new(docs_weights),
            docs,
            nav,
            nav_pick: Weighted::new([30.0, 20.0, 18.0, 14.0, 8.0, 10.0]),
            pages,
            client_pick: Weighted::new(world::CLIENTS.iter().map(|c| c.1)),
            clients,
            zone_pick: Weighted::new(zones.iter().map(|z| z.share)),
            zones,
            entries,
            sources,
            new_source: Weighted::new(world::SOURCES.iter().map(|s| s.new_weight)),
            returning_source: Weighted::new(world::SOURCES.iter().map(|s| s.returning_weight)),
            campaign_pages,
            kinds: vec![
                kind("pageview", &analytics),
                kind("signup", &analytics),
                kind("purchase", &marketing),
                kind("outbound", &analytics),
                kind("download", &analytics),
            ],
            outbound: world::OUTBOUND.iter().map(|s| (*s).to_owned()).collect(),
            downloads: world::DOWNLOADS
                .iter()
                .map(|p| format!("{ORIGIN}{p}"))
                .collect(),
        })
    }

    /// A source for a visit.
    pub fn source(&self, rng: &mut impl Rng, returning: bool) -> usize {
        if returning {
            self.returning_source.pick(rng)
        } else {
            self.new_source.pick(rng)
        }
    }

    /// The newsletter source, for the visits a campaign brings.
    pub fn newsletter(&self) -> usize {
        self.sources
            .iter()
            .position(|s| matches!(s.arrival, Arrival::Newsletter))
            .unwrap_or(0)
    }

    /// The classified entry of a source for a visitor's country and the current campaign.
    pub fn entry(&self, source: usize, country: Option<&str>, campaign: usize) -> usize {
        let s = &self.sources[source];
        let i = match s.arrival {
            Arrival::Google(_) => world::GOOGLES
                .iter()
                .position(|(c, _)| Some(*c) == country)
                .unwrap_or(world::GOOGLES.len()),
            Arrival::Newsletter => campaign,
            _ => 0,
        };
        s.entries[i.min(s.entries.len() - 1)]
    }

    /// The first page of a visit from `source`.
    pub fn landing(&self, rng: &mut impl Rng, source: usize, campaign: usize) -> usize {
        let n = &self.named;
        match self.sources[source].landing {
            Landing::Home => match rng.random_range(0..100) {
                0..55 => n.home,
                55..65 => n.docs,
                65..75 => n.login,
                75..82 => n.pricing,
                _ => self.popular.pick(rng),
            },
            Landing::Any => self.popular.pick(rng),
            Landing::Blog => self.blog[self.blog_pick.pick(rng)],
            Landing::Docs => self.docs[self.docs_pick.pick(rng)],
            Landing::Pricing => match rng.random_range(0..100) {
                0..60 => n.pricing,
                60..85 => n.home,
                _ => n.features,
            },
            Landing::Features => n.features,
            Landing::Campaign => self.campaign_pages[campaign % self.campaign_pages.len()],
        }
    }

    /// The page a visitor goes to next from `current`.
    pub fn next_page(&self, rng: &mut impl Rng, current: usize) -> usize {
        for _ in 0..3 {
            let r = rng.random::<f64>();
            let next = if self.docs.contains(&current) && r < 0.55 {
                self.docs[self.docs_pick.pick(rng)]
            } else if self.blog.contains(&current) && r < 0.2 {
                self.blog[self.blog_pick.pick(rng)]
            } else if r < 0.6 {
                self.nav[self.nav_pick.pick(rng)]
            } else {
                self.popular.pick(rng)
            };
            if next != current && next != self.named.checkout {
                return next;
            }
        }
        self.named.pricing
    }

    pub fn is_docs(&self, page: usize) -> bool {
        self.docs.contains(&page) || page == self.named.docs
    }

    pub fn outbound_count(&self) -> usize {
        self.outbound.len()
    }

    pub fn download_count(&self) -> usize {
        self.downloads.len()
    }

    /// The event the HTTP API would have accepted for a planned one.
    pub fn event(&self, p: &Planned) -> AcceptedEvent {
        let kind = &self.kinds[p.what.kind()];
        let who: &Visitor = &p.who;
        let client = &self.clients[usize::from(who.client)];
        let entry = p.entry.map(|e| &self.entries[usize::from(e)]);
        let props = match p.what {
            What::Pageview => Vec::new(),
            What::Signup { pro } => vec![(
                "plan".to_owned(),
                PropValue::Str(if pro { "pro" } else { "free" }.to_owned()),
            )],
            What::Purchase(i) => {
                let (plan, value) = world::PURCHASES[usize::from(i) % world::PURCHASES.len()];
                vec![
                    ("plan".to_owned(), PropValue::Str(plan.to_owned())),
                    ("value".to_owned(), PropValue::Num(value)),
                ]
            }
            What::Outbound(i) => vec![(
                "url".to_owned(),
                PropValue::Str(self.outbound[usize::from(i) % self.outbound.len()].clone()),
            )],
            What::Download(i) => vec![(
                "url".to_owned(),
                PropValue::Str(self.downloads[usize::from(i) % self.downloads.len()].clone()),
            )],
        };
        AcceptedEvent {
            site: self.site_id.clone(),
            consent_id: who.id.clone(),
            at: crate::domain::Timestamp(p.at),
            name: kind.name.to_owned(),
            category: kind.categories[0].clone(),
            path: self.pages[usize::from(p.page)].clone(),
            props,
            context: Context {
                country: who.country.map(str::to_owned),
                region: who.region.map(str::to_owned),
                browser: client.browser.clone(),
                os: client.os.clone(),
                device: client.device.clone(),
                source: entry.and_then(|e| e.source.clone()),
                referrer: entry.and_then(|e| e.referrer.clone()),
                utm_source: entry.and_then(|e| e.utm_source.clone()),
                utm_medium: entry.and_then(|e| e.utm_medium.clone()),
                utm_campaign: entry.and_then(|e| e.utm_campaign.clone()),
            },
        }
    }
}
