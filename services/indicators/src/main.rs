//! `hub-indicators`: runs the indicator service until SIGTERM/SIGINT. Configuration from the
//! environment (see `hub_indicators::config`); everything else is the library's.

/// mimalloc: the services allocate and free many small JSON values per message; glibc malloc
/// spent about a fifth of the pipeline benchmark's CPU in allocation (see `bench-results.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = hub_indicators::Config::from_env().context("configuration")?;
    hub_runtime::telemetry::init(config.common.log_format);
    let shutdown = hub_runtime::shutdown::on_signals();
    hub_indicators::run(config, shutdown)
        .await
        .context("hub-indicators")?;
    Ok(())
}
