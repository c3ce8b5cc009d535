//! The one-call setup installs a global subscriber once; a second call reports it
//! instead of panicking. (Alone in its binary: it touches process-wide globals.)

use telemetry::{InitError, Telemetry};

#[test]
fn init_installs_once_and_never_panics() {
    let guard = Telemetry::builder()
        .service_name("init-test")
        .traces_exporter(telemetry::export::ExporterKind::None)
        .try_init()
        .expect("first install");
    assert!(guard.telemetry().is_some());
    tracing::info_span!("after.init").in_scope(|| tracing::info!("recorded"));

    let second = Telemetry::builder().try_init();
    assert!(
        matches!(second, Err(InitError::AlreadyInstalled)),
        "{second:?}"
    );
    // The infallible form warns and returns an inert guard.
    let inert = Telemetry::builder()
        .traces_exporter(telemetry::export::ExporterKind::None)
        .init();
    assert!(inert.telemetry().is_none());
    drop(inert);
    let report = guard.shutdown().expect("shutdown");
    assert_eq!(
        report.traces.received, 0,
        "ExporterKind::None has no pipeline"
    );
}
