//! The reconciler service: configuration from the environment (see
//! `hub_reconciler::config`), then [`hub_reconciler::run`] until SIGTERM or SIGINT.

/// mimalloc: the services allocate and free many small JSON values per message; glibc malloc
/// spent about a fifth of the pipeline benchmark's CPU in allocation (see `bench-results.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = hub_reconciler::Config::from_env()?;
    hub_runtime::telemetry::init(config.common.log_format);
    let shutdown = hub_runtime::shutdown::on_signals();
    hub_reconciler::run(config, shutdown).await?;
    Ok(())
}
