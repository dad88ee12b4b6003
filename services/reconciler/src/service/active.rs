//! Which replica is the active one, for operator writes. Replicas of one reconciler (one
//! database) compete for a session-level PostgreSQL advisory lock held on a connection of
//! its own: the holder is active, writes where it can be reached (`RECONCILER_ADVERTISE_URL`,
//! else its host name) in `active_replica`, and takes operator writes; the others are
//! standbys and refuse them naming the active replica (421, see `http`), so that a write
//! never makes a standby rebuild its engine from the database under the lock. When the
//! active replica goes (its connection closes), a standby takes the lock within a second.
//!
//! The source queue's single active consumer is the broker's choice and need not be the
//! same replica: every change is serialised by the transaction lock either way (see
//! `service`); this only keeps operators on one engine.
//!
//! Owns the election and the `active_replica` row; decides nothing about matching.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hub_runtime::shutdown::CancellationToken;
use hub_runtime::storage::Database;
use sqlx::Connection;

/// Session advisory lock whose holder is the active replica ("recactiv").
const ACTIVE_KEY: i64 = 0x7265_6361_6374_6976;
/// How often a standby tries the lock and the active replica checks its connection.
const POLL: Duration = Duration::from_millis(500);

/// This replica's part in the election.
#[derive(Debug, Default)]
pub struct Replica {
    active: AtomicBool,
}

impl Replica {
    /// A standby until [`elect`] makes it active.
    pub fn new() -> Arc<Replica> {
        Arc::new(Replica::default())
    }

    /// A replica that is always active (one process, no election: tests of the shell).
    pub fn alone() -> Arc<Replica> {
        let r = Replica::new();
        r.active.store(true, Ordering::SeqCst);
        r
    }

    /// Whether this replica holds the lock now.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
    }
}

/// Where the active replica is reached, as it wrote it (None: none has been active yet).
pub async fn active_url(db: &Database) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT url FROM active_replica")
        .fetch_optional(&db.pool)
        .await
}

/// Competes for the lock until `shutdown`: holds it while its connection lives (writing
/// `url`, where this replica is reached, as the active one's), tries again when it is lost.
/// `tried` is told once the first attempt decided (this replica active or a standby), so
/// that a replica alone answers its first operator write.
pub async fn elect(
    db: Database,
    replica: Arc<Replica>,
    url: String,
    tried: tokio::sync::oneshot::Sender<()>,
    shutdown: CancellationToken,
) {
    let mut tried = Some(tried);
    loop {
        let held = hold_while_possible(&db, &replica, &url, &mut tried, &shutdown).await;
        if let Some(t) = tried.take() {
            let _ = t.send(());
        }
        if let Err(e) = held {
            tracing::warn!(error = %e, "active-replica election failed; trying again");
        }
        if replica.active.swap(false, Ordering::SeqCst) {
            tracing::warn!("no longer the active replica");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// One connection's turn: tries the lock until it gets it, then keeps it (checking the
/// connection) until shutdown or an error.
async fn hold_while_possible(
    db: &Database,
    replica: &Replica,
    url: &str,
    tried: &mut Option<tokio::sync::oneshot::Sender<()>>,
    shutdown: &CancellationToken,
) -> Result<(), sqlx::Error> {
    // a connection of its own, out of the pool: the lock lives as long as it does
    let mut conn = db.pool.acquire().await?.detach();
    loop {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(ACTIVE_KEY)
            .fetch_one(&mut conn)
            .await?;
        if got {
            break;
        }
        if let Some(t) = tried.take() {
            let _ = t.send(());
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(POLL) => {}
        }
    }
    sqlx::query(
        "INSERT INTO active_replica (only_one, url, since) VALUES (true, $1, now())
         ON CONFLICT (only_one) DO UPDATE SET url = EXCLUDED.url, since = EXCLUDED.since",
    )
    .bind(url)
    .execute(&mut conn)
    .await?;
    replica.active.store(true, Ordering::SeqCst);
    if let Some(t) = tried.take() {
        let _ = t.send(());
    }
    tracing::info!(%url, "this replica is the active one");
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                replica.active.store(false, Ordering::SeqCst);
                // closing the connection releases the lock at once
                let _ = conn.close().await;
                return Ok(());
            }
            _ = tokio::time::sleep(POLL) => conn.ping().await?,
        }
    }
}
