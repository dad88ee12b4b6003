//! `hub-indicators`: runs the indicator service until SIGTERM/SIGINT. Configuration from the
//! environment (see `hub_indicators::config`); everything else is the library's.

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
