//! A change in two stages, so that the next batch is matched while this one commits:
//! [`Shared::prepare`] applies the operations to the in-memory engine and takes from it
//! everything the write needs ([`Work`]); [`Shared::commit`] writes that in one transaction
//! (inbox claims, rows, outbox) once every change prepared before it has committed.
//!
//! The engine may thus be ahead of the database by the changes prepared and not yet
//! committed (the runtime's `StagedConsumer` keeps that to two batches). Each prepared change
//! holds a ticket; tickets commit in order. The bookkeeping ([`Chain`]) says which tickets
//! still stand:
//! - a commit that does not take effect (an error, or the database not at the state sequence
//!   it was prepared on, i.e. another replica wrote) voids its ticket and every later one,
//!   and marks the engine stale; a void ticket's commit writes nothing and answers
//!   [`Superseded`], and its batch is prepared again;
//! - the next preparation waits until no valid ticket is pending, then rebuilds the engine
//!   from the database (under the advisory lock);
//! - a message id is a duplicate when it is in the inbox or claimed by a valid pending
//!   ticket (checked in that order: a ticket that commits in between has put its ids in the
//!   inbox before it leaves the pending set); the commit claims every id it applied and
//!   gives up ([`Superseded`]) if one was claimed meanwhile.
//!
//! Effects stay exactly once: the inbox claims commit with the rows and the outbox, and a
//! batch whose commit did not happen is matched again from the database's state.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use chrono::{DateTime, Utc};
use hub_contracts::v1::GoldenRecord;
use hub_runtime::messaging::OutgoingMessage;
use hub_runtime::storage::{inbox, outbox};
use tokio::sync::Notify;

use super::{
    ApplyError, CONSUMER, Cause, EngineState, LOCK_KEY, Op, Shared, decision_batch_messages,
    decision_messages, golden_message, merge_and_split_messages,
};
use crate::engine::{Changes, Engine, OrgId};
use crate::store::{self, Rows};

/// A change prepared on state that did not commit (or that another replica changed): it
/// wrote nothing; prepare it again.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("prepared on state that did not commit; prepare it again")]
pub struct Superseded;

/// Which prepared changes still stand (see the module documentation).
#[derive(Debug)]
struct Chain {
    /// The state sequence the database has once every valid pending ticket committed.
    seq: i64,
    /// The engine holds changes that will not commit: rebuild before the next preparation.
    stale: bool,
    next_ticket: u64,
    /// Every valid ticket up to this one committed.
    resolved: u64,
    /// Tickets from here on were prepared on the engine as last rebuilt.
    valid_from: u64,
    /// Tickets from here on are void.
    void_from: u64,
    /// Message ids claimed by pending tickets.
    in_flight: HashMap<String, u64>,
}

impl Chain {
    fn valid(&self, t: u64) -> bool {
        t >= self.valid_from && t < self.void_from
    }

    /// No valid ticket waits for its commit.
    fn idle(&self) -> bool {
        self.resolved + 1 >= self.next_ticket.min(self.void_from)
    }

    fn in_flight(&self, id: &str) -> bool {
        self.in_flight.get(id).is_some_and(|t| self.valid(*t))
    }

    /// `t` and every later ticket will not commit (nothing changes when `t` is void
    /// already).
    fn void(&mut self, t: u64) {
        if self.valid(t) {
            self.void_from = t;
            self.stale = true;
        }
    }

    fn rebuilt(&mut self, seq: i64) {
        self.seq = seq;
        self.stale = false;
        self.valid_from = self.next_ticket;
        self.void_from = u64::MAX;
        self.resolved = self.next_ticket - 1;
        self.in_flight.clear();
    }
}

/// The tickets of one service, shared with the work prepared.
#[derive(Debug)]
pub(super) struct Stages {
    chain: std::sync::Mutex<Chain>,
    /// Woken whenever a ticket commits or is voided.
    moved: Notify,
}

impl Stages {
    pub(super) fn new(seq: i64) -> Arc<Stages> {
        Arc::new(Stages {
            chain: std::sync::Mutex::new(Chain {
                seq,
                stale: false,
                next_ticket: 1,
                resolved: 0,
                valid_from: 1,
                void_from: u64::MAX,
                in_flight: HashMap::new(),
            }),
            moved: Notify::new(),
        })
    }

    fn chain(&self) -> std::sync::MutexGuard<'_, Chain> {
        self.chain.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the engine holds changes that will not commit.
    pub(super) fn is_stale(&self) -> bool {
        self.chain().stale
    }

    /// Waits until `until` holds of the chain.
    async fn wait(&self, until: impl Fn(&Chain) -> bool) {
        loop {
            let moved = self.moved.notified();
            let mut moved = std::pin::pin!(moved);
            moved.as_mut().enable();
            if until(&self.chain()) {
                return;
            }
            moved.await;
        }
    }

    fn void(&self, t: u64) {
        self.chain().void(t);
        self.moved.notify_waiters();
    }

    fn committed(&self, t: u64) {
        {
            let mut c = self.chain();
            c.resolved = t;
            c.in_flight.retain(|_, x| *x != t);
        }
        self.moved.notify_waiters();
    }
}

/// A change prepared and not committed yet: what its transaction writes, taken from the
/// engine when the change was made. Dropped without a commit, it voids its ticket.
pub struct Work {
    stages: Arc<Stages>,
    ticket: u64,
    /// The state sequence the database must have for this to commit.
    base_seq: i64,
    /// The message ids applied (claimed in the inbox at the commit).
    ids: Vec<String>,
    write: Option<Write>,
    applied: Vec<bool>,
    changes: Changes,
    resolved: bool,
    prepared_in: std::time::Duration,
}

impl Drop for Work {
    fn drop(&mut self) {
        if !self.resolved {
            self.stages.void(self.ticket);
        }
    }
}

/// What one transaction writes.
struct Write {
    rows: Rows,
    goldens: Vec<GoldenRecord>,
    msgs: Vec<OutgoingMessage>,
    now: DateTime<Utc>,
    operations: usize,
}

impl Shared {
    /// Applies `ops`, in order, to the engine and takes what their transaction will write
    /// (see the module documentation). A duplicate message id (in the inbox, claimed by a
    /// pending change, or earlier in `ops`) is skipped. An engine error leaves the engine
    /// stale (rebuilt before the next change).
    pub async fn prepare(&self, ops: Vec<(Cause, Op<'_>)>) -> Result<Work, ApplyError> {
        let started = Instant::now();
        let mut st = self.state.lock().await;
        self.catch_up(&mut st).await?;
        let ids: Vec<String> = ops
            .iter()
            .filter_map(|(c, _)| c.message_id.clone())
            .collect();
        // pending claims first, then the inbox (see the module documentation)
        let mut seen: HashSet<String> = {
            let c = self.stages.chain();
            ids.iter().filter(|i| c.in_flight(i)).cloned().collect()
        };
        if !ids.is_empty() {
            let mut conn = self.db.pool.acquire().await?;
            seen.extend(inbox::claimed(&mut conn, CONSUMER, &ids).await?);
        }
        let now = Utc::now();
        let mut applied = Vec::with_capacity(ops.len());
        let mut fresh = Vec::new();
        let mut total = Changes::default();
        let mut events = Vec::new();
        let mut decisions = Vec::new();
        // the latest golden record of each identity, and the operation that made it
        let mut goldens: BTreeMap<OrgId, (GoldenRecord, usize)> = BTreeMap::new();
        let mut causes = Vec::with_capacity(ops.len());
        for (cause, op) in ops {
            if let Some(id) = &cause.message_id {
                if !seen.insert(id.clone()) {
                    applied.push(false);
                    continue;
                }
                fresh.push(id.clone());
            }
            let ch = match op(&mut st.engine, now) {
                Ok(r) => r,
                Err(e) => {
                    // an operation that fails changes nothing, but the engine holds the ones
                    // before it: rebuilt before the next change
                    if !causes.is_empty() {
                        self.stages.chain().stale = true;
                    }
                    return Err(e.into());
                }
            };
            let c = causes.len();
            for g in st.engine.publish_golden(&ch.identities, now) {
                goldens.insert(g.organisation_id, (g, c));
            }
            events.extend(merge_and_split_messages(&ch, &cause));
            if self.decision_contracts.v1 {
                decisions.extend(decision_messages(&ch, &cause));
            }
            total.absorb(ch);
            applied.push(true);
            causes.push(cause);
        }
        let write = (!causes.is_empty()).then(|| {
            let mut msgs = events;
            for (g, c) in goldens.values() {
                msgs.push(golden_message(g, &causes[*c]));
            }
            msgs.extend(decisions);
            if self.decision_contracts.v2 {
                msgs.extend(decision_batch_messages(&total.decisions, now, &causes));
            }
            Write {
                rows: Rows::of(&st.engine, &total),
                goldens: goldens.into_values().map(|(g, _)| g).collect(),
                msgs,
                now,
                operations: causes.len(),
            }
        });
        let (ticket, base_seq) = {
            let mut c = self.stages.chain();
            let t = c.next_ticket;
            c.next_ticket += 1;
            let base = c.seq;
            if write.is_some() {
                c.seq += 1;
            }
            for id in &fresh {
                c.in_flight.insert(id.clone(), t);
            }
            (t, base)
        };
        drop(st);
        Ok(Work {
            stages: self.stages.clone(),
            ticket,
            base_seq,
            ids: fresh,
            write,
            applied,
            changes: total,
            resolved: false,
            prepared_in: started.elapsed(),
        })
    }

    /// Brings the engine to the database's state when it is stale (after the pending changes
    /// resolved) or, with nothing pending, when another replica wrote since.
    async fn catch_up(&self, st: &mut EngineState) -> Result<(), ApplyError> {
        let (stale, idle, seq) = {
            let c = self.stages.chain();
            (c.stale, c.idle(), c.seq)
        };
        if stale {
            self.stages.wait(Chain::idle).await;
        } else if idle {
            let mut conn = self.db.pool.acquire().await?;
            let (now, _) = store::engine_state(&mut conn).await?;
            if now == seq {
                return Ok(());
            }
        } else {
            return Ok(());
        }
        let mut tx = self.db.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        let (now, snap) = store::load_snapshot(&mut tx).await?;
        tx.commit().await?;
        tracing::info!(
            state_seq = now,
            was = seq,
            stale,
            "engine behind the database: rebuilding"
        );
        st.engine = Engine::restore(snap);
        self.stages.chain().rebuilt(now);
        Ok(())
    }

    /// Commits `work` once every change prepared before it committed: one transaction with
    /// the advisory lock, the inbox claims, the rows and the outbox. Returns, per operation,
    /// whether it was applied (false: a duplicate), and the union of the changes.
    pub async fn commit(&self, mut work: Work) -> Result<(Vec<bool>, Changes), ApplyError> {
        let started = Instant::now();
        let t = work.ticket;
        self.stages
            .wait(|c| !c.valid(t) || c.resolved + 1 == t)
            .await;
        if !self.stages.chain().valid(t) {
            work.resolved = true;
            return Err(Superseded.into());
        }
        let Some(write) = work.write.take() else {
            // only duplicates: nothing to write
            work.resolved = true;
            self.stages.committed(t);
            return Ok((std::mem::take(&mut work.applied), Changes::default()));
        };
        if let Err(e) = self.write(&work, &write).await {
            work.resolved = true;
            self.stages.void(t);
            return Err(e);
        }
        work.resolved = true;
        self.stages.committed(t);
        tracing::debug!(
            operations = write.operations,
            events = write.msgs.len(),
            prepare_ms = work.prepared_in.as_secs_f64() * 1e3,
            commit_ms = started.elapsed().as_secs_f64() * 1e3,
            "batch committed"
        );
        let changes = std::mem::take(&mut work.changes);
        for d in &changes.decisions {
            // no subscriber is fine
            let _ = self.decisions.send(d.clone());
        }
        Ok((std::mem::take(&mut work.applied), changes))
    }

    /// The transaction of `work`: the advisory lock taken with `BEGIN` (one round trip), the
    /// state sequence checked and raised, the inbox claims, the rows, the outbox.
    async fn write(&self, work: &Work, write: &Write) -> Result<(), ApplyError> {
        let mut tx = self
            .db
            .pool
            .begin_with(sqlx::AssertSqlSafe(format!(
                "BEGIN; SELECT pg_advisory_xact_lock({LOCK_KEY})"
            )))
            .await?;
        let persisted = store::persist(
            &mut tx,
            work.base_seq,
            &write.rows,
            &work.changes,
            &write.goldens,
            write.now,
        )
        .await?;
        if persisted.is_none() {
            tracing::info!(expected = work.base_seq, "another writer committed first");
            return Err(Superseded.into());
        }
        let claimed = inbox::claim_many(&mut tx, CONSUMER, &work.ids).await?;
        if claimed.len() != work.ids.len() {
            return Err(Superseded.into());
        }
        outbox::enqueue(&mut tx, &self.db.schema, &write.msgs).await?;
        tx.commit().await?;
        Ok(())
    }
}
