//! The reconciler service over the real broker in a test: its queues declared up front, an
//! observer queue whose messages reach the test, and the teardown of both.

use hub_contracts::registry::exchanges;
use hub_contracts::{Contract, Envelope};
use hub_reconciler::Config;
use hub_runtime::messaging::{Consumer, HandlerError, Incoming, OutgoingMessage, QueueSpec};
use hub_runtime::shutdown::CancellationToken;
use hub_test_support::TestEnv;
use tokio::sync::mpsc;

/// The test's own queue on `coophub.identity`.
pub const OBSERVER: &str = "test.identity";

/// A source record as the adapters publish it, under message id `id`.
pub fn outgoing<T: Contract>(id: &str, data: T) -> OutgoingMessage {
    OutgoingMessage::from_envelope(&Envelope::new(id, "urn:coophub:test", data))
}

/// A consumer of the [`OBSERVER`] queue that hands the test what it makes of each message.
pub struct Observer<T> {
    spec: QueueSpec,
    stop: CancellationToken,
    /// What the observer received, in order.
    pub rx: mpsc::UnboundedReceiver<T>,
}

impl<T: Send + 'static> Observer<T> {
    /// Declares the reconciler's source queue and the observer queue, bound to `keys` on
    /// `coophub.identity` (they exist before anything is published: publishing is
    /// `mandatory`), then observes: `forward` makes what reaches [`Observer::rx`] of each
    /// message; an error settles the message as a handler error would.
    pub async fn start<F>(env: &TestEnv, config: &Config, keys: &[&str], forward: F) -> Self
    where
        F: Fn(Incoming) -> Result<T, HandlerError> + Send + Sync + 'static,
    {
        let spec = keys.iter().fold(QueueSpec::new(OBSERVER), |s, k| {
            s.bind(exchanges::IDENTITY, k)
        });
        let broker = env.broker("test-declare");
        let ch = broker.channel().await.expect("broker reachable");
        for spec in [hub_reconciler::source_queue(config), spec.clone()] {
            env.topology()
                .declare_queue(&ch, &spec, &env.retry_policy())
                .await
                .expect("declare");
        }
        broker.close().await;
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let consumer = Consumer::new(
            env.broker("test-observer"),
            spec.clone(),
            move |m: Incoming| {
                let tx = tx.clone();
                let item = forward(m);
                async move {
                    let _ = tx.send(item?);
                    Ok(())
                }
            },
        );
        tokio::spawn(consumer.run(stop.clone()));
        Observer { spec, stop, rx }
    }

    /// Stops observing, deletes the test's queues and drops its database.
    pub async fn teardown(self, env: TestEnv, config: &Config) {
        self.stop.cancel();
        env.delete_queues(&[hub_reconciler::source_queue(config), self.spec])
            .await;
        env.drop_database().await;
    }
}
