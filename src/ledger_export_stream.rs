//! The audit export of `ledger_export` read from a store page by page, for the command line
//! (`ledger_export_cli`) and the HTTP endpoint (`http::admin`): a first pass over the chain
//! finds the stretch and reads the documents it names (`prepare`), then the file is made a page
//! at a time (`Export::next_chunk`, or `Export::chunks` as a stream). Memory holds one page of
//! rows and one chunk of the file, never the chain.
//!
//! The two passes read the store at two moments: the stretch is fixed by the first (its first
//! and last sequence numbers), so an entry appended in between is not in the file, and one
//! erased in between is in it by its header only, as any erased entry.

use std::sync::Arc;

use futures_util::Stream;

use crate::domain::{EntryHash, SiteId};
use crate::ledger_export::{self, Days, Format, Scan, Stretch};
use crate::store::{ConsentStore, StoreError};

/// An export whose first pass is done: what is left is to write it.
pub struct Export {
    store: Arc<dyn ConsentStore>,
    site: SiteId,
    days: Days,
    format: Format,
    page_rows: usize,
    stretch: Stretch,
    /// The documents the stretch names (hash, bytes); none for CSV.
    documents: Vec<(String, Vec<u8>)>,
    step: Step,
}

/// What the next chunk holds.
#[derive(Debug, Clone, Copy)]
enum Step {
    Head,
    /// The entries after this sequence number, up to the stretch's last.
    Entries {
        after: u64,
    },
    Documents,
    Done,
}

/// Reads the chain holding `site`'s entries once, `page_rows` at a time, for the stretch of
/// `days`, then the documents it names. `Corrupt` when a document is not archived.
pub async fn prepare(
    store: Arc<dyn ConsentStore>,
    site: SiteId,
    days: Days,
    format: Format,
    page_rows: usize,
) -> Result<Export, StoreError> {
    let page_rows = page_rows.max(1);
    let mut scan = Scan::new(&site, days);
    let mut after = 0;
    loop {
        let page = store.ledger_page(site.clone(), after, page_rows).await?;
        for row in &page {
            scan.feed(row);
        }
        match page.last() {
            Some(last) if page.len() == page_rows => after = next_after(after, last.0)?,
            _ => break,
        }
    }
    let stretch = scan.finish();
    let mut documents = Vec::new();
    if format == Format::Jsonl {
        for hash in &stretch.documents {
            let Some(parsed) = EntryHash::parse_hex(hash) else {
                continue;
            };
            match store.notice(parsed).await? {
                Some(document) => documents.push((hash.clone(), document)),
                None => {
                    return Err(StoreError::Corrupt(format!(
                        "document {hash} is not archived"
                    )));
                }
            }
        }
    }
    Ok(Export {
        store,
        site,
        days,
        format,
        page_rows,
        stretch,
        documents,
        step: Step::Head,
    })
}

/// A page's last sequence number, which must be past the one the page was asked after.
fn next_after(after: u64, last: u64) -> Result<u64, StoreError> {
    if last <= after {
        return Err(StoreError::Corrupt(format!(
            "the ledger's entries are not in order after entry {after}"
        )));
    }
    Ok(last)
}

impl Export {
    /// The stretch the file covers.
    pub fn stretch(&self) -> &Stretch {
        &self.stretch
    }

    /// The next piece of the file (never empty), `None` once it is all written.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        loop {
            let mut out = Vec::new();
            match self.step {
                Step::Done => return Ok(None),
                Step::Head => {
                    match self.format {
                        Format::Jsonl => ledger_export::write_lines(
                            &mut out,
                            [ledger_export::export_line(
                                &self.site,
                                self.days,
                                self.stretch.first_seq,
                                self.stretch.last_seq,
                            )],
                        ),
                        Format::Csv => out.extend(ledger_export::csv_header().into_bytes()),
                    }
                    self.step = match self.stretch.first_seq {
                        Some(first) => Step::Entries {
                            after: first.saturating_sub(1),
                        },
                        None => Step::Documents,
                    };
                }
                Step::Entries { after } => {
                    let last_seq = self.stretch.last_seq.unwrap_or(0);
                    let page = self
                        .store
                        .ledger_page(self.site.clone(), after, self.page_rows)
                        .await?;
                    let Some(last) = page.last() else {
                        return Err(StoreError::Corrupt(format!(
                            "the ledger ends before entry {last_seq}"
                        )));
                    };
                    let reached = next_after(after, last.0)?;
                    let rows = page.iter().filter(|r| r.0 <= last_seq);
                    match self.format {
                        Format::Jsonl => ledger_export::write_lines(
                            &mut out,
                            rows.map(|r| ledger_export::entry_of(&self.site, r)),
                        ),
                        Format::Csv => {
                            for line in rows.filter_map(|r| ledger_export::csv_row(&self.site, r)) {
                                out.extend(line.into_bytes());
                            }
                        }
                    }
                    self.step = if reached >= last_seq {
                        Step::Documents
                    } else {
                        Step::Entries { after: reached }
                    };
                }
                Step::Documents => {
                    let documents = std::mem::take(&mut self.documents);
                    ledger_export::write_lines(
                        &mut out,
                        documents
                            .iter()
                            .map(|(hash, document)| ledger_export::document_line(hash, document)),
                    );
                    self.step = Step::Done;
                }
            }
            if !out.is_empty() {
                return Ok(Some(out));
            }
        }
    }

    /// The file as a stream of chunks, each made when the previous one was taken.
    pub fn chunks(self) -> impl Stream<Item = Result<Vec<u8>, StoreError>> + 'static {
        futures_util::stream::try_unfold(self, |mut export| async move {
            Ok(export.next_chunk().await?.map(|chunk| (chunk, export)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConsentId, Timestamp};
    use crate::ledger_export::{csv, lines, stretch, verify};
    use crate::store::LedgerRow;
    use crate::store::test_decision as decision;
    use crate::telemetry::Metrics;

    const DAY: i64 = 86_400_000;
    const START: i64 = 1_790_000_000_000 - 1_790_000_000_000 % DAY;

    async fn store_with_two_sites(dir: &std::path::Path) -> Arc<dyn ConsentStore> {
        let settings = crate::settings::Settings::demo(dir.to_path_buf());
        let store = crate::store::open(&settings, Arc::new(Metrics::default()))
            .unwrap()
            .consents();
        let policy = b"the policy".to_vec();
        let hash = EntryHash::of(&policy);
        store.archive_notice(hash, policy).await.unwrap();
        // demo and blog take turns over five days: one chain for both.
        for n in 0..20u8 {
            let mut d = decision(&ConsentId::from_random([n; 16]));
            if n % 3 == 1 {
                d.site = SiteId::parse("blog").unwrap();
            }
            d.policy_hash = hash.hex();
            d.banner_hash = String::new();
            d.recorded_at = Timestamp(START + i64::from(n / 4) * DAY + i64::from(n));
            store.record(d, false).await.unwrap();
        }
        store
    }

    async fn written(export: &mut Export) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(chunk) = export.next_chunk().await.unwrap() {
            assert!(!chunk.is_empty());
            out.extend(chunk);
        }
        out
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_export_made_a_page_at_a_time_is_the_one_made_from_the_whole_chain() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_two_sites(dir.path()).await;
        let chain: Vec<LedgerRow> = store
            .ledger_page(SiteId::parse("demo").unwrap(), 0, usize::MAX)
            .await
            .unwrap();
        assert_eq!(chain.len(), 20);
        let policy = vec![(EntryHash::of(b"the policy").hex(), b"the policy".to_vec())];
        let demo = SiteId::parse("demo").unwrap();
        for (from, to) in [(0, 5), (1, 3), (4, 4), (2, 2)] {
            let days = Days {
                from_ms: START + from * DAY,
                until_ms: START + (to + 1) * DAY,
            };
            let rows = stretch(&chain, &demo, days);
            let whole: String = lines(&demo, days, rows, &policy)
                .map(|l| format!("{l}\n"))
                .collect();
            assert!(verify(&whole).is_ok());
            for page_rows in [1, 2, 3, 7, 1_000] {
                let consents: Arc<dyn ConsentStore> = store.clone();
                let mut export = prepare(consents, demo.clone(), days, Format::Jsonl, page_rows)
                    .await
                    .unwrap();
                assert_eq!(
                    export.stretch().first_seq,
                    rows.first().map(|r| r.0),
                    "{from}–{to}, {page_rows} a page"
                );
                let paged = String::from_utf8(written(&mut export).await).unwrap();
                assert_eq!(paged, whole, "{from}–{to}, {page_rows} a page");

                let consents: Arc<dyn ConsentStore> = store.clone();
                let mut export = prepare(consents, demo.clone(), days, Format::Csv, page_rows)
                    .await
                    .unwrap();
                let table = String::from_utf8(written(&mut export).await).unwrap();
                assert_eq!(table, csv(&demo, rows), "{from}–{to}, {page_rows} a page");
            }
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_range_without_entries_is_an_export_line_alone_and_a_missing_document_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_two_sites(dir.path()).await;
        let demo = SiteId::parse("demo").unwrap();
        let days = Days {
            from_ms: START + 30 * DAY,
            until_ms: START + 31 * DAY,
        };
        let consents: Arc<dyn ConsentStore> = store.clone();
        let mut export = prepare(consents, demo.clone(), days, Format::Jsonl, 3)
            .await
            .unwrap();
        let text = String::from_utf8(written(&mut export).await).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert_eq!(verify(&text).unwrap().entries, 0);

        let mut unarchived = decision(&ConsentId::from_random([99; 16]));
        unarchived.policy_hash = EntryHash::of(b"never archived").hex();
        unarchived.recorded_at = Timestamp(START + 30 * DAY);
        store.record(unarchived, false).await.unwrap();
        let consents: Arc<dyn ConsentStore> = store.clone();
        let refused = prepare(consents, demo, days, Format::Jsonl, 3).await;
        assert!(
            matches!(&refused, Err(StoreError::Corrupt(why)) if why.contains("is not archived")),
            "{:?}",
            refused.err()
        );
    }
}
