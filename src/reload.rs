//! Reloading the configuration while the server runs (`POST /api/v1/admin/reload`, `SIGHUP`).
//!
//! The file is read again with the same overrides. When it parses, its sites (origins, texts,
//! categories, policy versions) are built with their notices archived and then replace the
//! sites in force at once; when it does not, nothing changes and the error names the setting.
//! Other settings (the address, the data folder, budgets) take effect at the next start; the
//! report names those that differ. Reloads run one at a time.

use std::sync::Arc;

use crate::settings::{Settings, SettingsError};
use crate::sites::{LiveSites, SiteChanges, build, changes};
use crate::store::{ConsentStore, StoreError};

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadReport {
    pub sites: SiteChanges,
    /// Settings that differ from those the server started with and need a restart.
    pub needing_restart: Vec<&'static str>,
}

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Settings(#[from] SettingsError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Reloads the sites of the settings the server started with.
pub struct Reloader {
    started_with: Settings,
    sites: Arc<LiveSites>,
    store: Arc<dyn ConsentStore>,
    one_at_a_time: tokio::sync::Mutex<()>,
}

impl Reloader {
    pub fn new(
        started_with: Settings,
        sites: Arc<LiveSites>,
        store: Arc<dyn ConsentStore>,
    ) -> Reloader {
        Reloader {
            started_with,
            sites,
            store,
            one_at_a_time: tokio::sync::Mutex::new(()),
        }
    }

    /// Reads the configuration again and puts its sites in force.
    pub async fn reload(&self) -> Result<ReloadReport, ReloadError> {
        let _turn = self.one_at_a_time.lock().await;
        let new = self.started_with.reread()?;
        let built = build(self.store.as_ref(), &new.sites).await?;
        let sites = changes(&self.sites.current(), &built);
        self.sites.replace(built);
        let report = ReloadReport {
            sites,
            needing_restart: self.started_with.needing_restart(&new),
        };
        log::info!(
            "configuration reloaded: sites added {:?}, changed {:?}, removed {:?}; settings that need a restart: {:?}",
            report.sites.added,
            report.sites.changed,
            report.sites.removed,
            report.needing_restart
        );
        Ok(report)
    }

    /// Reloads at every `SIGHUP`, logging what happened, until the process ends.
    #[cfg(unix)]
    pub fn reload_on_sighup(self: Arc<Self>) {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                log::warn!("cannot listen for SIGHUP ({e}); reload through the admin API");
                return;
            }
        };
        actix_web::rt::spawn(async move {
            while hangups.recv().await.is_some() {
                log::info!("SIGHUP: reloading the configuration");
                if let Err(e) = self.reload().await {
                    log::error!("the configuration was not reloaded, the old one stays: {e}");
                }
            }
        });
    }

    #[cfg(not(unix))]
    pub fn reload_on_sighup(self: Arc<Self>) {}
}
