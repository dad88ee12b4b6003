//! The pipelined consumer on the real broker: batch n+1 is prepared while batch n commits;
//! batches commit and are acked in queue order, each only after its own commit; a commit that
//! fails voids the batch prepared on top of it, which is prepared again once the failed batch
//! took its own (retry) path, and nothing is doubled.
//!
//! The handler reports every stage and holds each commit until the test gives its verdict,
//! so the test decides when a commit ends and sees exactly what ran beside it. Batches are one
//! message each (`max_batch(1)`), so that their boundaries do not depend on the broker.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{declare, message, ready, recv, spec};
use hub_contracts::v1::IdentityMerged;
use hub_runtime::messaging::{
    Broker, CommitError, HandlerError, Incoming, MessagingError, OutgoingMessage, Prepared,
    Publisher, QueueSpec, StagedConsumer, StagedHandler,
};
use hub_runtime::shutdown::CancellationToken;
use hub_test_support::{TestEnv, eventually};
use tokio::sync::{mpsc, oneshot};

/// What the test tells a waiting commit.
enum Verdict {
    Commit,
    Fail,
}

/// A stage the handler went through; preparations are numbered from 1, in order.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// Preparation `k` of the messages with these sequence numbers.
    Prepared(usize, Vec<u64>),
    /// The commit of preparation `k` started (and waits for its verdict).
    Commit(usize, Vec<u64>),
    /// The commit of preparation `k` took effect.
    Committed(usize),
    /// Preparation `k` was dropped without a commit.
    Dropped(usize),
}

enum Event {
    Step(Step),
    /// [`Step::Commit`], with where its verdict goes.
    Commit(usize, Vec<u64>, oneshot::Sender<Verdict>),
}

struct Staged {
    events: mpsc::UnboundedSender<Event>,
    preparations: AtomicUsize,
    /// The inbox: message ids whose effect was committed.
    inbox: Mutex<HashSet<String>>,
    /// The effects, in the order they were committed.
    effects: std::sync::Arc<Mutex<Vec<u64>>>,
}

struct Work {
    k: usize,
    msgs: Vec<(String, u64)>,
    events: mpsc::UnboundedSender<Event>,
    committing: bool,
}

impl Drop for Work {
    fn drop(&mut self) {
        if !self.committing {
            let _ = self.events.send(Event::Step(Step::Dropped(self.k)));
        }
    }
}

impl StagedHandler for Staged {
    type Work = Work;

    async fn prepare(&self, msgs: &[Incoming]) -> Result<Prepared<Work>, HandlerError> {
        let k = self.preparations.fetch_add(1, Ordering::SeqCst) + 1;
        let mut decoded = Vec::new();
        for m in msgs {
            let env = m.decode::<IdentityMerged>()?;
            let n: u64 = env.data.reason.parse().map_err(HandlerError::permanent)?;
            decoded.push((env.id, n));
        }
        let ns = decoded.iter().map(|(_, n)| *n).collect();
        let _ = self.events.send(Event::Step(Step::Prepared(k, ns)));
        Ok(Prepared {
            work: Work {
                k,
                msgs: decoded,
                events: self.events.clone(),
                committing: false,
            },
            results: vec![Ok(()); msgs.len()],
        })
    }

    async fn commit(&self, mut work: Work) -> Result<(), CommitError> {
        work.committing = true;
        let ns = work.msgs.iter().map(|(_, n)| *n).collect();
        let (tx, rx) = oneshot::channel();
        let _ = self.events.send(Event::Commit(work.k, ns, tx));
        match rx.await {
            Ok(Verdict::Commit) => {
                {
                    let mut inbox = self.inbox.lock().expect("inbox");
                    let mut effects = self.effects.lock().expect("effects");
                    for (id, n) in &work.msgs {
                        if inbox.insert(id.clone()) {
                            effects.push(*n);
                        }
                    }
                }
                let _ = self.events.send(Event::Step(Step::Committed(work.k)));
                Ok(())
            }
            Ok(Verdict::Fail) => Err(CommitError::Failed(HandlerError::transient(
                "the database is restarting",
            ))),
            Err(_) => Err(CommitError::Failed(HandlerError::transient(
                "the test ended",
            ))),
        }
    }
}

/// What the handler went through so far, and the commits waiting for a verdict.
struct Log {
    events: mpsc::UnboundedReceiver<Event>,
    steps: Vec<Step>,
    waiting: HashMap<usize, oneshot::Sender<Verdict>>,
}

impl Log {
    /// Takes the handler's reports until `done` holds for the steps so far.
    async fn until(&mut self, what: &str, done: impl Fn(&[Step]) -> bool) {
        while !done(&self.steps) {
            match recv(&mut self.events, what).await {
                Event::Step(s) => self.steps.push(s),
                Event::Commit(k, ns, tx) => {
                    self.steps.push(Step::Commit(k, ns));
                    self.waiting.insert(k, tx);
                }
            }
        }
    }

    /// Ends the commit of preparation `k`, which has started and waits.
    fn decide(&mut self, k: usize, verdict: Verdict) {
        let tx = self
            .waiting
            .remove(&k)
            .unwrap_or_else(|| panic!("commit {k} is not waiting: {:?}", self.steps));
        assert!(tx.send(verdict).is_ok(), "commit {k} is still waiting");
    }

    fn at(&self, step: &Step) -> usize {
        self.steps
            .iter()
            .position(|s| s == step)
            .unwrap_or_else(|| panic!("{step:?} not in {:?}", self.steps))
    }
}

struct Run {
    env: TestEnv,
    spec: QueueSpec,
    broker: Broker,
    log: Log,
    effects: std::sync::Arc<Mutex<Vec<u64>>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), MessagingError>>,
}

impl Run {
    /// A pipelined consumer in batches of one, with the messages `ns` published before it
    /// starts.
    async fn start(name: &str, ns: &[u64]) -> Run {
        let env = TestEnv::new().await;
        let spec = spec(name);
        declare(&env, &spec).await;
        let broker = env.broker(name);
        let msgs: Vec<OutgoingMessage> = ns
            .iter()
            .map(|n| OutgoingMessage::from_envelope(&message(*n)))
            .collect();
        Publisher::new(broker.clone())
            .publish_batch(&msgs)
            .await
            .expect("confirmed");
        let (tx, events) = mpsc::unbounded_channel();
        let effects = std::sync::Arc::new(Mutex::new(Vec::new()));
        let handler = Staged {
            events: tx,
            preparations: AtomicUsize::new(0),
            inbox: Mutex::new(HashSet::new()),
            effects: effects.clone(),
        };
        let stop = CancellationToken::new();
        let task = tokio::spawn(
            StagedConsumer::new(broker.clone(), spec.clone(), handler)
                .retry(env.retry_policy())
                .prefetch(10)
                .max_batch(1)
                .run(stop.clone()),
        );
        Run {
            env,
            spec,
            broker,
            log: Log {
                events,
                steps: Vec::new(),
                waiting: HashMap::new(),
            },
            effects,
            stop,
            task,
        }
    }

    fn effects(&self) -> Vec<u64> {
        self.effects.lock().expect("effects").clone()
    }

    async fn teardown(self) {
        self.broker.close().await;
        self.env.delete_queues(&[self.spec]).await;
        self.env.drop_database().await;
    }
}

#[tokio::test]
async fn the_next_batch_is_prepared_while_one_commits_and_batches_are_acked_in_order() {
    let mut run = Run::start("pipeline-order", &[1, 2, 3]).await;
    use Step::*;
    run.log
        .until("batch 2 prepared while batch 1 commits", |s| {
            s.contains(&Commit(1, vec![1])) && s.contains(&Prepared(2, vec![2]))
        })
        .await;
    assert!(
        !run.log.steps.iter().any(|s| matches!(s, Commit(2, _))),
        "batch 2 does not commit before batch 1: {:?}",
        run.log.steps
    );
    assert!(run.effects().is_empty(), "batch 1 waits for its verdict");
    run.log.decide(1, Verdict::Commit);
    run.log
        .until("batch 2 committing, batch 3 prepared beside it", |s| {
            s.contains(&Commit(2, vec![2])) && s.contains(&Prepared(3, vec![3]))
        })
        .await;
    assert!(
        run.log.at(&Committed(1)) < run.log.at(&Commit(2, vec![2])),
        "batch 2's commit starts after batch 1's ended: {:?}",
        run.log.steps
    );
    assert_eq!(run.effects(), vec![1]);

    // the process dies here: batch 1 was acked after its commit; batch 2 (committing) and
    // batch 3 (prepared) were not, and return to the queue
    run.task.abort();
    let _ = (&mut run.task).await;
    run.broker.close().await;
    let (env, name) = (&run.env, run.spec.name.clone());
    eventually(
        "the two unacked deliveries back in the queue",
        Duration::from_secs(20),
        || async { (ready(env, &name).await == 2).then_some(()) },
    )
    .await;
    assert!(
        !run.log.steps.iter().any(|s| matches!(s, Commit(3, _))),
        "{:?}",
        run.log.steps
    );
    run.teardown().await;
}

#[tokio::test]
async fn a_failed_commit_voids_the_batch_prepared_on_top_of_it_and_doubles_nothing() {
    let mut run = Run::start("pipeline-void", &[1, 2]).await;
    use Step::*;
    run.log
        .until("batch 2 prepared while batch 1 commits", |s| {
            s.contains(&Commit(1, vec![1])) && s.contains(&Prepared(2, vec![2]))
        })
        .await;
    run.log.decide(1, Verdict::Fail);
    // batch 1 takes its retry path; batch 2, prepared on top of it, is dropped and prepared
    // again
    run.log
        .until("batch 2 prepared again and committing", |s| {
            s.contains(&Commit(3, vec![2]))
        })
        .await;
    assert!(
        run.log.at(&Dropped(2)) < run.log.at(&Prepared(3, vec![2])),
        "the void preparation was dropped before the batch was prepared again: {:?}",
        run.log.steps
    );
    run.log.decide(3, Verdict::Commit);
    // message 1 comes back from the retry queue
    run.log
        .until("message 1 prepared again", |s| {
            s.contains(&Commit(4, vec![1]))
        })
        .await;
    run.log.decide(4, Verdict::Commit);
    run.log
        .until("message 1 committed", |s| s.contains(&Committed(4)))
        .await;
    assert!(
        !run.log.steps.iter().any(|s| matches!(s, Commit(2, _))),
        "the void preparation never committed: {:?}",
        run.log.steps
    );
    assert_eq!(run.effects(), vec![2, 1], "each effect once");

    run.stop.cancel();
    (&mut run.task)
        .await
        .expect("joined")
        .expect("consumer ends cleanly");
    assert_eq!(
        ready(&run.env, &run.spec.name).await,
        0,
        "every delivery was acked"
    );
    run.teardown().await;
}
