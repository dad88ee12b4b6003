//! Running the engine's settle pass (see `engine::settle`) in the service: once no input has
//! changed the engine for a quiet interval, the canonical replay runs on a blocking thread
//! (away from the lock the consumer and operators need) and its result is applied through
//! [`Shared::apply`], so the moves are persisted and published like any other change.
//!
//! Owns the timing only; what settling means is the engine's.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hub_runtime::shutdown::CancellationToken;

use super::{ApplyError, Cause, Shared};
use crate::engine::Generation;

/// Why a settle attempt failed (it is tried again at the next quiet interval).
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error("the settle replay did not finish: {0}")]
    Replay(String),
}

/// What one settle attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettleOutcome {
    /// The identities were already the canonical ones for the inputs held.
    AlreadySettled,
    /// The replay agreed with the live identities: nothing written.
    Confirmed,
    /// The live identities moved to the replay's: persisted and published.
    Applied,
    /// Inputs changed while the replay ran: try again when quiet.
    Stale,
}

/// The reconciler's settle state, for the status API.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct SettleStatus {
    /// True when the identities are what the canonical order gives for the records and
    /// operator decisions held now.
    pub settled: bool,
    pub observations: usize,
    pub identities: usize,
    pub open_reviews: usize,
}

impl Shared {
    /// Runs the settle pass once (see the module documentation).
    pub async fn settle_once(&self) -> Result<SettleOutcome, SettleError> {
        let input = {
            let st = self.state.lock().await;
            if st.engine.is_settled() {
                return Ok(SettleOutcome::AlreadySettled);
            }
            st.engine.settle_input()
        };
        let settlement = tokio::task::spawn_blocking(move || input.replay(Utc::now()))
            .await
            .map_err(|e| SettleError::Replay(e.to_string()))?;
        {
            let mut st = self.state.lock().await;
            if st.engine.generation() != settlement.generation() {
                return Ok(SettleOutcome::Stale);
            }
            if !self.stages.is_stale() && !st.engine.settlement_needed(&settlement) {
                // nothing moves: the engine only learns it is settled
                st.engine.apply_settlement(&settlement, Utc::now());
                return Ok(SettleOutcome::Confirmed);
            }
        }
        let generation = settlement.generation();
        self.apply(&Cause::default(), move |e, now| {
            Ok(e.apply_settlement(&settlement, now))
        })
        .await?;
        let st = self.state.lock().await;
        Ok(
            if st.engine.is_settled() && st.engine.generation() == generation {
                SettleOutcome::Applied
            } else {
                SettleOutcome::Stale
            },
        )
    }

    /// Whether the engine is settled, with its counts.
    pub async fn settle_status(&self) -> SettleStatus {
        let st = self.state.lock().await;
        let stats = st.engine.stats();
        SettleStatus {
            settled: st.engine.is_settled(),
            observations: stats.active,
            identities: stats.identities,
            open_reviews: stats.open_reviews,
        }
    }

    async fn generation(&self) -> Generation {
        self.state.lock().await.engine.generation()
    }
}

/// Settles whenever the inputs have not changed for `quiet`, until `shutdown`.
pub async fn settle_loop(shared: Arc<Shared>, quiet: Duration, shutdown: CancellationToken) {
    let mut last: Option<Generation> = None;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(quiet) => {}
        }
        if !shared.replica.is_active() {
            // the active replica settles (a standby's pass would be a write)
            continue;
        }
        let now = shared.generation().await;
        if last != Some(now) {
            // inputs moved during the last interval: wait for a quiet one
            last = Some(now);
            continue;
        }
        match shared.settle_once().await {
            Ok(SettleOutcome::Applied) => {
                tracing::info!("settle pass: identities moved to the canonical order's");
            }
            Ok(SettleOutcome::Confirmed) => {
                tracing::debug!("settle pass: identities already canonical");
            }
            Ok(SettleOutcome::AlreadySettled | SettleOutcome::Stale) => {}
            Err(e) => tracing::warn!(error = %e, "settle pass failed; retried when quiet"),
        }
    }
}
