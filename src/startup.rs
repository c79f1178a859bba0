//! Builds the application: the same for `main` and for tests.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::error::{QueryPayloadError, UrlencodedError};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, web};

use crate::analytics::query::Cancel;
use crate::domain::{Clock, SystemClock};
use crate::errors::ApiError;
use crate::geo::GeoLocator;
use crate::http::origin::OwnOrigins;
use crate::http::rate_limit::Limiters;
use crate::http::script::ScriptBundle;
use crate::http::state::AppState;
use crate::http::{deadline, observe, routes};
use crate::reload::Reloader;
use crate::settings::Settings;
use crate::sites::LiveSites;
use crate::store::{
    AccessStore, AnalyticsStore, ConsentStore, Retention, SightingStore, StoreError,
};
use crate::telemetry::Metrics;

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the data folder: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// A form body the preferences form cannot have sent: too large, wrong type, or malformed.
fn form_error(e: UrlencodedError, _: &HttpRequest) -> actix_web::Error {
    match e {
        UrlencodedError::Overflow { limit, .. } => ApiError::PayloadTooLarge { limit },
        UrlencodedError::ContentType => ApiError::UnsupportedMedia {
            expected: "application/x-www-form-urlencoded",
        },
        UrlencodedError::Payload(p) if crate::http::deadline::is_timeout(&p) => {
            ApiError::RequestTimeout
        }
        other => ApiError::invalid("form", format!("cannot be read: {other}")),
    }
    .into()
}

fn query_error(e: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::invalid("query string", format!("cannot be read: {e}")).into()
}

/// Each site's retention, from its policy: what the policy page promises is what is swept.
pub fn retention_plan(settings: &Settings) -> Vec<Retention> {
    crate::sites::retention_plan(&settings.sites)
}

/// How often retention is applied.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Runs the retention sweep 30 s after start, then hourly; `stop` (shutdown) ends a sweep in
/// progress at its next check, so a stop never waits for a whole sweep.
/// Each sweep applies the retention of the sites in force then, so a reload changes the next
/// sweep.
fn spawn_sweeper(
    store: Arc<dyn ConsentStore>,
    sites: Arc<LiveSites>,
    clock: Arc<dyn Clock>,
    stop: Cancel,
) {
    actix_web::rt::spawn(async move {
        loop {
            actix_web::rt::time::sleep(Duration::from_secs(30)).await;
            let plan = crate::sites::current_plan(&sites.current());
            match store.sweep(plan, clock.now(), stop.clone()).await {
                Ok(r) => log::info!(
                    "retention: {} events past the limit, {} events of withdrawn categories, {} inactive visitors, {} rights-log entries removed",
                    r.events_deleted,
                    r.withdrawn_events_deleted,
                    r.visitors_erased,
                    r.rights_log_deleted
                ),
                Err(StoreError::Cancelled) => {
                    log::info!("retention sweep stopped for shutdown; the next one goes on");
                    return;
                }
                Err(e) => log::error!("retention sweep failed: {e}"),
            }
            actix_web::rt::time::sleep(SWEEP_EVERY).await;
        }
    });
}

/// How long requests in flight get to finish after SIGTERM or SIGINT; then their connections
/// are closed and what they were doing is dropped (a raw scan stops at its next event).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Resolves at SIGTERM or SIGINT, saying so: the stop is announced before it is carried out.
/// The handlers are installed here, before the server answers anything, so a signal that comes
/// right after start-up is handled too.
#[cfg(unix)]
fn stop_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        let name = match (terminate, interrupt) {
            (Ok(mut t), Ok(mut i)) => tokio::select! {
                _ = t.recv() => "SIGTERM",
                _ = i.recv() => "SIGINT",
            },
            _ => {
                log::warn!("cannot install signal handlers; stop the server with SIGKILL");
                std::future::pending::<&str>().await
            }
        };
        announce_stop(name);
    }
}

#[cfg(not(unix))]
fn stop_signal() -> impl Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
        announce_stop("Ctrl-C");
    }
}

fn announce_stop(name: &str) {
    log::info!(
        "{name}: stopping; requests in flight get {} s, then queued events are written and the data folder is released",
        SHUTDOWN_GRACE.as_secs()
    );
}

/// A built, bound server, not yet running.
pub struct Application {
    port: u16,
    server: Server,
    store: Arc<dyn ConsentStore>,
    analytics: Arc<dyn AnalyticsStore>,
    access: Arc<dyn AccessStore>,
    /// Set at shutdown: a retention sweep in progress stops.
    sweep_stop: Cancel,
}

impl Application {
    /// Opens the store, archives the current notices, and binds the listener.
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        Application::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Application, StartupError> {
        // Bound first: the server's own origins follow from the address when `public_url` is
        // not set.
        let listener = TcpListener::bind(settings.listen).map_err(|source| StartupError::Bind {
            addr: settings.listen.to_string(),
            source,
        })?;
        let bound = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: settings.listen.to_string(),
            source,
        })?;
        let port = bound.port();
        let metrics = Arc::new(Metrics::default());
        let opened = crate::store::open(&settings, metrics.clone())?;
        match (&settings.encryption_key, &settings.postgres_url) {
            (Some(key), _) => log::info!(
                "storage is encrypted at rest with the data key of {} (key-encryption key {}, fingerprint {})",
                settings.data_dir.display(),
                key.path().display(),
                key.fingerprint()
            ),
            (None, None) => log::warn!(
                "STORAGE IS NOT ENCRYPTED: consents, the ledger and events are written to {} as plain bytes; set `encryption_key_file` for a new data folder (see the README, \"Encryption at rest\")",
                settings.data_dir.display()
            ),
            (None, Some(_)) => {}
        }
        let store: Arc<dyn ConsentStore> = opened.clone().consents();
        let access: Arc<dyn AccessStore> = opened.clone().access();
        let sightings: Arc<dyn SightingStore> = opened.clone().sightings();
        let analytics: Arc<dyn AnalyticsStore> = opened.analytics();
        let events = analytics.clone();
        let sites = Arc::new(LiveSites::new(
            crate::sites::build(store.as_ref(), &settings.sites).await?,
        ));
        let reloader = Arc::new(Reloader::new(
            settings.clone(),
            sites.clone(),
            store.clone(),
        ));
        reloader.clone().reload_on_sighup();
        let geo = GeoLocator::open(
            settings.geoip.clone(),
            Duration::from_secs(settings.geoip_reload_seconds),
        );
        let state = web::Data::new(AppState {
            sites: sites.clone(),
            reloader,
            admin_token: settings.admin_token,
            store: store.clone(),
            analytics: analytics.clone(),
            geo,
            trusted: settings.trusted_proxies.clone(),
            clock,
            metrics,
            script: ScriptBundle::build(),
            limits: Limiters::new(&settings),
            access: access.clone(),
            sightings,
            session_secret: access.session_secret().await?,
            own_origins: OwnOrigins::new(settings.public_origin.as_deref(), bound),
            body_timeout: Duration::from_secs(settings.body_timeout_seconds),
            min_group_size: settings.min_group_size,
            storage_encrypted: settings.encryption_key.is_some(),
        });
        let sweep_stop = Cancel::default();
        spawn_sweeper(
            store.clone(),
            sites,
            state.clock.clone(),
            sweep_stop.clone(),
        );
        let server = crate::http::front::serve(
            listener,
            move || {
                App::new()
                    .app_data(state.clone())
                    .app_data(web::PayloadConfig::new(16 * 1024))
                    .app_data(
                        web::FormConfig::default()
                            .limit(4 * 1024)
                            .error_handler(form_error),
                    )
                    .app_data(web::QueryConfig::default().error_handler(query_error))
                    .wrap(from_fn(deadline::body_deadline))
                    .wrap(from_fn(observe::observe))
                    .configure(routes)
            },
            Duration::from_secs(2),
            SHUTDOWN_GRACE.as_secs(),
            stop_signal(),
        )
        .map_err(|source| StartupError::Bind {
            addr: settings.listen.to_string(),
            source,
        })?;
        Ok(Application {
            port,
            server,
            store,
            analytics: events,
            access,
            sweep_stop,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The consent store, for tests that reach below HTTP (retention sweeps).
    pub fn store(&self) -> Arc<dyn ConsentStore> {
        self.store.clone()
    }

    /// The analytics store, for tests that wait for queued events or query below HTTP.
    pub fn analytics(&self) -> Arc<dyn AnalyticsStore> {
        self.analytics.clone()
    }

    /// API keys and the query log, for tests that make keys while the server runs.
    pub fn access(&self) -> Arc<dyn AccessStore> {
        self.access.clone()
    }

    /// Serves until SIGINT or SIGTERM, then drains in-flight requests and flushes the store.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.sweep_stop.cancel();
        if let Err(e) = self.analytics.sync_events().await {
            log::error!("queued events could not be written at shutdown: {e}");
        }
        if let Err(e) = self.store.flush() {
            log::error!("the final flush failed: {e}");
        }
        log::info!("stopped: everything acknowledged is on disk");
        result
    }
}
