//! The retention policy, for every backend: what the policy page promises is what is swept.
//!
//! For each site: (1) analytics days older than `event_days` go whole; (2) the events of
//! categories a visitor refused after granting them go once the refusal is
//! `withdrawal_purge_hours` old, once per decision (the purge is recorded after it is done, so
//! a sweep cut short purges again and a finished one is not repeated); (3) visitors with no
//! decision and no event for `inactivity_days` are erased through the `Eraser`, each erasure
//! whole, and the sweep logs how many. Then the rights log past 24 months and the query log past
//! 90 days are trimmed. `cancel` (shutdown) stops a sweep between two steps or visitors; what
//! it did stays done and the next sweep does the rest.
//!
//! A backend supplies the small primitives below; it never decides what is due.

use crate::analytics::query::Cancel;
use crate::domain::{SiteId, Subject, Timestamp};
use crate::store::erasure::Eraser;
use crate::store::{QUERY_LOG_DAYS, RIGHTS_LOG_DAYS, Retention, StoreError, SweepReport};

const DAY_MS: i64 = 86_400_000;

/// What the policy reads of a visitor's current consent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateSummary {
    pub decided_at: Option<Timestamp>,
    /// Categories granted earlier and refused by this decision.
    pub refused: Vec<String>,
}

/// The consent side. Blocking.
pub trait ConsentRetention {
    /// Calls `visit` with each current consent of the site; stops at its first error.
    fn each_state(
        &self,
        site: &SiteId,
        visit: &mut dyn FnMut(Subject, StateSummary) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Logs a line in the rights log (never an id).
    fn log_rights(&self, at: Timestamp, line: &str) -> Result<(), StoreError>;

    /// Removes rights-log entries older than `before`; how many. Durable.
    fn trim_rights_log(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// Removes query-log entries older than `before`; how many. Durable.
    fn trim_query_log(&self, before: Timestamp) -> Result<u64, StoreError>;
}

/// The analytics side. Blocking.
pub trait AnalyticsRetention {
    /// Deletes the site's events of every day before `day` (days since the epoch), the day
    /// index rows and the cookie and tracker sightings of those days; how many events.
    fn drop_days_before(&self, site: &SiteId, day: i64) -> Result<u64, StoreError>;

    /// The last day the visitor has events on, if any.
    fn last_event_day(&self, site: &SiteId, subject: &Subject) -> Result<Option<i64>, StoreError>;

    /// When the decision whose refusals were last purged for the visitor was made.
    fn purged_at(&self, site: &SiteId, subject: &Subject) -> Result<Option<Timestamp>, StoreError>;

    /// Deletes, for each visitor, its events of the categories given; how many.
    fn purge_categories(
        &self,
        site: &SiteId,
        refusals: &[(Subject, Vec<String>)],
        cancel: &Cancel,
    ) -> Result<u64, StoreError>;

    /// Records that the refusals of the decision made at `decided_at` are purged.
    fn mark_purged(
        &self,
        site: &SiteId,
        subject: &Subject,
        decided_at: Timestamp,
    ) -> Result<(), StoreError>;
}

/// `Cancelled` once `cancel` is set, checked every 1,024 items of a scan.
fn stop_if(cancel: &Cancel, n: usize) -> Result<(), StoreError> {
    if n % 1024 == 0 && cancel.is_cancelled() {
        return Err(StoreError::Cancelled);
    }
    Ok(())
}

/// The backend's three sides, for one sweep.
pub struct Sweep<'a> {
    pub consents: &'a dyn ConsentRetention,
    pub analytics: &'a dyn AnalyticsRetention,
    pub eraser: &'a Eraser<'a>,
}

impl Sweep<'_> {
    pub fn run(
        &self,
        plan: &[Retention],
        now: Timestamp,
        cancel: &Cancel,
    ) -> Result<SweepReport, StoreError> {
        let mut report = SweepReport::default();
        for r in plan {
            // Whole days: every event of a day older than the limit goes, and a day is not kept
            // in part.
            let cutoff_day = (now.0 - i64::from(r.event_days) * DAY_MS).div_euclid(DAY_MS);
            report.events_deleted += self
                .analytics
                .drop_days_before(&r.site, cutoff_day.max(0))?;
            if cancel.is_cancelled() {
                return Err(StoreError::Cancelled);
            }
            report.withdrawn_events_deleted += self.purge_withdrawn(r, now, cancel)?;
            report.visitors_erased += self.erase_inactive(r, now, cancel)?;
        }
        let before = |days: u32| Timestamp((now.0 - i64::from(days) * DAY_MS).max(0));
        report.query_log_deleted = self.consents.trim_query_log(before(QUERY_LOG_DAYS))?;
        report.rights_log_deleted = self.consents.trim_rights_log(before(RIGHTS_LOG_DAYS))?;
        Ok(report)
    }

    fn purge_withdrawn(
        &self,
        r: &Retention,
        now: Timestamp,
        cancel: &Cancel,
    ) -> Result<u64, StoreError> {
        let due = now.0 - i64::from(r.withdrawal_purge_hours) * 3_600_000;
        let mut refusals = Vec::new();
        let mut decided = Vec::new();
        let mut n = 0;
        self.consents.each_state(&r.site, &mut |subject, state| {
            stop_if(cancel, n)?;
            n += 1;
            let Some(at) = state.decided_at else {
                return Ok(());
            };
            if state.refused.is_empty() || at.0 > due {
                return Ok(());
            }
            if self.analytics.purged_at(&r.site, &subject)? == Some(at) {
                return Ok(());
            }
            refusals.push((subject, state.refused));
            decided.push(at);
            Ok(())
        })?;
        if refusals.is_empty() {
            return Ok(0);
        }
        let deleted = self
            .analytics
            .purge_categories(&r.site, &refusals, cancel)?;
        // Recorded only once every event is gone: a sweep cut short purges these again.
        for ((subject, _), at) in refusals.iter().zip(decided) {
            self.analytics.mark_purged(&r.site, subject, at)?;
        }
        Ok(deleted)
    }

    fn erase_inactive(
        &self,
        r: &Retention,
        now: Timestamp,
        cancel: &Cancel,
    ) -> Result<u64, StoreError> {
        let cutoff = now.0 - i64::from(r.inactivity_days) * DAY_MS;
        let mut inactive = Vec::new();
        let mut n = 0;
        self.consents.each_state(&r.site, &mut |subject, state| {
            stop_if(cancel, n)?;
            n += 1;
            let decided = state.decided_at.map(|at| at.0);
            // A decision since the cutoff is activity enough: the event days are read only for
            // visitors whose last decision is older.
            if decided.is_some_and(|at| at >= cutoff) {
                return Ok(());
            }
            let last_event = self
                .analytics
                .last_event_day(&r.site, &subject)?
                .map(|d| d * DAY_MS + DAY_MS - 1);
            if decided.max(last_event).is_some_and(|at| at < cutoff) {
                inactive.push(subject);
            }
            Ok(())
        })?;
        // Each erasure is whole; a shutdown stops between two, and the ones done are logged.
        let mut erased = 0u64;
        for subject in &inactive {
            if cancel.is_cancelled() {
                break;
            }
            self.eraser
                .erase_subject(&r.site, subject, now, "retention")?;
            erased += 1;
        }
        if erased > 0 {
            let line = format!(
                "type=retention\nsite={}\nchannel=sweeper\noutcome=erased {erased} inactive visitors\ncompleted_at={}\n",
                r.site, now.0
            );
            self.consents.log_rights(now, &line)?;
        }
        if erased < inactive.len() as u64 {
            return Err(StoreError::Cancelled);
        }
        Ok(erased)
    }
}
