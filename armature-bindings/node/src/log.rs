//! Where the access log and handler errors go: one `tracing` subscriber writing lines to stderr.

use std::sync::Once;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;

/// The target of handler failures, beside the logger's `armature::access`.
pub(crate) const TARGET: &str = "armature::node";

/// Installs the stderr subscriber once per process, unless the host already set one. Access
/// events and handler failures at INFO, everything else (the server's own start/stop and
/// per-connection noise) at WARN.
pub(crate) fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = Targets::new()
            .with_default(LevelFilter::WARN)
            .with_target(armature_layers::logger::TARGET, LevelFilter::INFO)
            .with_target(TARGET, LevelFilter::INFO);
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(false),
            )
            .with(filter);
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}
