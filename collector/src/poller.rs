//! The collector as a long-running queue poller (ECS, EC2, or the demo):
//! the same pipeline, with SQS receive, delete and release done here instead
//! of by the Lambda event-source mapping.
//!
//! A batch is gathered as the mapping gathers one: receives of at most 10
//! messages until the batch size, [`BATCH_BODY_BYTES`] of bodies, or the
//! batching window after the first message, whichever comes first
//! ([`next_step`]). The batch is then processed as one, and the messages
//! that did not fail are deleted; failed ones stay in flight and come back
//! after the queue's visibility timeout, as with the mapping.
//!
//! Stopping ([`run`]'s `stop`, SIGTERM or SIGINT in the binary) never
//! cancels a call in flight. A ReceiveMessage already sent is awaited (a
//! cancelled one could already hold messages, which would then stay
//! invisible for the whole visibility timeout) and whatever it returned is
//! released with the rest of the batch not yet started (visibility timeout
//! 0, so another consumer takes them at once). A batch being processed is
//! finished and its successes deleted. Then `run` returns.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use tokio::time::Instant;
use tracing::{info, warn};

use fanin::aws::sqs::{QueueClient, Received};
use fanin::config::CollectorConfig;
use fanin::decode::InboundMessage;
use fanin::pipeline::{BatchReport, Collector};
use fanin::ports::CallError;

/// Processing time allowed per batch; keep the queue's visibility timeout
/// above it plus the batching window.
pub const BATCH_BUDGET: Duration = Duration::from_secs(120);
/// Gathering stops at this much message body, as the event-source mapping
/// stops at Lambda's 6 MB invocation payload.
pub const BATCH_BODY_BYTES: usize = 6 * 1024 * 1024;
/// The longest one ReceiveMessage waits for messages (SQS allows 20 s). It
/// bounds how long a stop waits on a receive in flight: within the 10 s
/// `docker stop` allows before it kills.
pub const RECEIVE_WAIT_SECONDS: i32 = 5;
/// Pause after a failed receive before the next one.
const RECEIVE_RETRY_PAUSE: Duration = Duration::from_secs(2);
/// SQS's limit on messages per ReceiveMessage.
const RECEIVE_MAX: usize = 10;

/// How batches are gathered and how long each may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollPolicy {
    /// At most this many messages per batch (`FANIN_BATCH_SIZE`).
    pub batch_size: usize,
    /// Gathering ends this long after the first message of a batch
    /// (`FANIN_MAXIMUM_BATCHING_WINDOW_SECONDS`).
    pub batching_window: Duration,
    pub batch_body_bytes: usize,
    pub receive_wait_seconds: i32,
    pub batch_budget: Duration,
}

impl PollPolicy {
    pub fn from_config(config: &CollectorConfig) -> Self {
        Self {
            batch_size: config.batch_size,
            batching_window: config.maximum_batching_window,
            batch_body_bytes: BATCH_BODY_BYTES,
            receive_wait_seconds: RECEIVE_WAIT_SECONDS,
            batch_budget: BATCH_BUDGET,
        }
    }
}

/// The queue as the poller uses it.
///
/// Failure contract: an `Err` means the call as a whole failed (nothing
/// received; nothing deleted or released, so those messages come back after
/// their visibility timeout); `Ok(n)` of `delete` and `release` counts the
/// entries SQS refused, which likewise come back after the timeout.
#[async_trait(?Send)]
pub trait PolledQueue {
    /// ReceiveMessage: up to `max` (1 to 10) messages, waiting up to
    /// `wait_seconds` (0 to 20) for the first.
    async fn receive(&self, max: i32, wait_seconds: i32) -> Result<Vec<Received>, CallError>;
    /// DeleteMessageBatch over every handle.
    async fn delete(&self, handles: &[String]) -> Result<usize, CallError>;
    /// ChangeMessageVisibilityBatch to 0 over every handle.
    async fn release(&self, handles: &[String]) -> Result<usize, CallError>;
    /// The queue's visibility timeout (GetQueueAttributes).
    async fn visibility_timeout(&self) -> Result<Duration, CallError>;
}

#[async_trait(?Send)]
impl PolledQueue for QueueClient {
    async fn receive(&self, max: i32, wait_seconds: i32) -> Result<Vec<Received>, CallError> {
        QueueClient::receive(self, max, wait_seconds).await
    }

    async fn delete(&self, handles: &[String]) -> Result<usize, CallError> {
        QueueClient::delete(self, handles).await
    }

    async fn release(&self, handles: &[String]) -> Result<usize, CallError> {
        QueueClient::release(self, handles).await
    }

    async fn visibility_timeout(&self) -> Result<Duration, CallError> {
        QueueClient::visibility_timeout(self).await
    }
}

/// What processes a gathered batch: the pipeline.
#[async_trait(?Send)]
pub trait BatchProcessor {
    async fn process(&self, messages: Vec<InboundMessage>, deadline: Instant) -> BatchReport;
}

#[async_trait(?Send)]
impl BatchProcessor for Collector {
    async fn process(&self, messages: Vec<InboundMessage>, deadline: Instant) -> BatchReport {
        Collector::process_batch(self, messages, deadline).await
    }
}

/// The next move while gathering a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Receive { max: i32, wait_seconds: i32 },
    Process,
}

/// Decides the next move from what has been gathered: `messages` and
/// `body_bytes` so far, `since_first` the time since the first message
/// arrived (`None` while nothing has).
pub fn next_step(
    policy: &PollPolicy,
    messages: usize,
    body_bytes: usize,
    since_first: Option<Duration>,
) -> Next {
    let Some(since_first) = since_first else {
        return Next::Receive {
            max: policy.batch_size.min(RECEIVE_MAX) as i32,
            wait_seconds: policy.receive_wait_seconds,
        };
    };
    if messages >= policy.batch_size || body_bytes >= policy.batch_body_bytes {
        return Next::Process;
    }
    let left = policy.batching_window.saturating_sub(since_first);
    if left.is_zero() {
        return Next::Process;
    }
    // SQS waits in whole seconds: the last receive may end up to a second
    // after the window, and only when no message came to end it sooner.
    let left_seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    Next::Receive {
        max: (policy.batch_size - messages).min(RECEIVE_MAX) as i32,
        wait_seconds: left_seconds.min(policy.receive_wait_seconds as u64) as i32,
    }
}

/// Messages received for one batch, each once, with every receipt handle
/// it came with (SQS may deliver a message twice, even within one batch).
#[derive(Default)]
struct Gathered {
    messages: Vec<InboundMessage>,
    handles: HashMap<String, Vec<String>>,
    body_bytes: usize,
    receives: usize,
    first_at: Option<Instant>,
}

impl Gathered {
    fn add(&mut self, received: Vec<Received>) {
        // Receives that found nothing before the first message are idle polls, not this batch's.
        if self.first_at.is_some() || !received.is_empty() {
            self.receives += 1;
        }
        for Received {
            message,
            receipt_handle,
        } in received
        {
            self.first_at.get_or_insert_with(Instant::now);
            let handles = self.handles.entry(message.message_id.clone()).or_default();
            if handles.is_empty() {
                self.body_bytes += message.body.len();
                self.messages.push(message);
            }
            handles.push(receipt_handle);
        }
    }

    fn every_handle(&self) -> Vec<String> {
        self.handles.values().flatten().cloned().collect()
    }

    fn handles_except(&self, failed: &[String]) -> Vec<String> {
        self.handles
            .iter()
            .filter(|(id, _)| !failed.contains(id))
            .flat_map(|(_, handles)| handles.iter().cloned())
            .collect()
    }
}

/// The stop request, watched without ever cancelling the work in progress.
struct StopSignal<F> {
    signal: Pin<Box<F>>,
    requested: bool,
}

impl<F: Future<Output = ()>> StopSignal<F> {
    fn new(signal: F) -> Self {
        Self {
            signal: Box::pin(signal),
            requested: false,
        }
    }

    fn requested(&mut self) -> bool {
        if !self.requested && self.signal.as_mut().now_or_never().is_some() {
            self.note("between calls");
        }
        self.requested
    }

    fn note(&mut self, during: &'static str) {
        self.requested = true;
        info!(during, "stop requested");
    }

    /// Runs `work` to its end, noting a stop request that arrives meanwhile.
    async fn finish<T>(&mut self, during: &'static str, work: impl Future<Output = T>) -> T {
        tokio::pin!(work);
        loop {
            tokio::select! {
                biased;
                output = &mut work => return output,
                () = self.signal.as_mut(), if !self.requested => self.note(during),
            }
        }
    }

    /// Waits `pause` unless a stop request comes first.
    async fn pause(&mut self, pause: Duration) {
        if self.requested {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = self.signal.as_mut() => self.note("pause"),
        }
    }
}

/// Polls, gathers and processes batches until `stop` resolves, then
/// releases what it received but did not start, and returns.
pub async fn run(
    processor: &impl BatchProcessor,
    queue: &impl PolledQueue,
    policy: &PollPolicy,
    stop: impl Future<Output = ()>,
) {
    let mut stop = StopSignal::new(stop);
    info!(
        batch_size = policy.batch_size,
        batching_window_seconds = policy.batching_window.as_secs(),
        "poller started"
    );
    // A message's visibility timeout runs from its receive, through the window and the batch.
    let needed = policy.batching_window + policy.batch_budget;
    match queue.visibility_timeout().await {
        Ok(timeout) if timeout < needed => warn!(
            visibility_timeout_seconds = timeout.as_secs(),
            needed_seconds = needed.as_secs(),
            "the queue's visibility timeout is shorter than the batching window plus the batch budget; a slow batch can be delivered twice"
        ),
        Ok(_) => {}
        Err(error) => warn!(error = %error, "could not read the queue's visibility timeout"),
    }
    loop {
        let Some(batch) = gather(queue, policy, &mut stop).await else {
            info!("poller stopped");
            return;
        };
        process(processor, queue, policy, &mut stop, batch).await;
    }
}

/// Receives until [`next_step`] says the batch is complete. `None` when a
/// stop was requested; what had been received is then released.
async fn gather<F: Future<Output = ()>>(
    queue: &impl PolledQueue,
    policy: &PollPolicy,
    stop: &mut StopSignal<F>,
) -> Option<Gathered> {
    let mut gathered = Gathered::default();
    loop {
        if stop.requested() {
            release(queue, &gathered).await;
            return None;
        }
        let since_first = gathered.first_at.map(|first| first.elapsed());
        let (max, wait_seconds) = match next_step(
            policy,
            gathered.messages.len(),
            gathered.body_bytes,
            since_first,
        ) {
            Next::Process => return Some(gathered),
            Next::Receive { max, wait_seconds } => (max, wait_seconds),
        };
        match stop
            .finish("receive", queue.receive(max, wait_seconds))
            .await
        {
            Ok(received) => gathered.add(received),
            Err(error) if gathered.messages.is_empty() => {
                warn!(error = %error, "receive failed");
                stop.pause(RECEIVE_RETRY_PAUSE).await;
            }
            Err(error) => {
                warn!(error = %error, "receive failed; processing what was gathered");
                return Some(gathered);
            }
        }
    }
}

async fn process<F: Future<Output = ()>>(
    processor: &impl BatchProcessor,
    queue: &impl PolledQueue,
    policy: &PollPolicy,
    stop: &mut StopSignal<F>,
    mut gathered: Gathered,
) {
    info!(
        messages = gathered.messages.len(),
        receives = gathered.receives,
        body_bytes = gathered.body_bytes,
        gathered_ms = gathered
            .first_at
            .map(|first| first.elapsed().as_millis() as u64),
        "batch gathered"
    );
    let messages = std::mem::take(&mut gathered.messages);
    let report = stop
        .finish(
            "process",
            processor.process(messages, Instant::now() + policy.batch_budget),
        )
        .await;
    crate::handler::log_report(&report);
    let done = gathered.handles_except(&report.failed_message_ids);
    match stop.finish("delete", queue.delete(&done)).await {
        Ok(0) => {}
        Ok(refused) => warn!(
            refused,
            "some deletes were refused; those messages will be redelivered"
        ),
        Err(error) => warn!(error = %error, "delete failed; those messages will be redelivered"),
    }
}

/// Makes received but unprocessed messages visible again at once.
async fn release(queue: &impl PolledQueue, gathered: &Gathered) {
    let handles = gathered.every_handle();
    if handles.is_empty() {
        return;
    }
    match queue.release(&handles).await {
        Ok(0) => info!(
            messages = gathered.messages.len(),
            "received messages released"
        ),
        Ok(refused) => warn!(
            refused,
            "some releases were refused; those messages return after the visibility timeout"
        ),
        Err(error) => warn!(
            error = %error,
            "release failed; those messages return after the visibility timeout"
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::{Notify, oneshot};

    use super::*;

    fn policy(batch_size: usize, window_seconds: u64) -> PollPolicy {
        PollPolicy {
            batch_size,
            batching_window: Duration::from_secs(window_seconds),
            batch_body_bytes: BATCH_BODY_BYTES,
            receive_wait_seconds: RECEIVE_WAIT_SECONDS,
            batch_budget: BATCH_BUDGET,
        }
    }

    /// The loop tests run in real time: windows and long polls of 1 s.
    fn quick_policy(batch_size: usize, window_seconds: u64) -> PollPolicy {
        PollPolicy {
            receive_wait_seconds: 1,
            ..policy(batch_size, window_seconds)
        }
    }

    #[test]
    fn gathering_follows_the_event_source_mapping() {
        let deployed = policy(100, 5);
        let receive = |max, wait_seconds| Next::Receive { max, wait_seconds };
        // Nothing yet: long-poll for the first message.
        assert_eq!(next_step(&deployed, 0, 0, None), receive(10, 5));
        // Within the window: keep receiving, never beyond the window or the batch size.
        let second = Duration::from_secs(1);
        assert_eq!(next_step(&deployed, 10, 100, Some(second)), receive(10, 4));
        assert_eq!(next_step(&deployed, 95, 100, Some(second)), receive(5, 4));
        assert_eq!(
            next_step(&deployed, 95, 100, Some(Duration::from_millis(4_200))),
            receive(5, 1),
            "less than a second left: one more receive of a second"
        );
        assert_eq!(
            next_step(&deployed, 95, 100, Some(Duration::from_secs(5))),
            Next::Process,
            "the window has closed"
        );
        assert_eq!(next_step(&deployed, 100, 100, Some(second)), Next::Process);
        assert_eq!(
            next_step(&deployed, 20, BATCH_BODY_BYTES, Some(second)),
            Next::Process,
            "the payload cap"
        );
        // A long window still waits at most RECEIVE_WAIT_SECONDS per receive.
        assert_eq!(
            next_step(&policy(1000, 300), 10, 100, Some(second)),
            receive(10, 5)
        );
        // Window 0 (batch size up to 10): one receive per batch.
        assert_eq!(next_step(&policy(10, 0), 0, 0, None), receive(10, 5));
        assert_eq!(
            next_step(&policy(10, 0), 3, 100, Some(Duration::ZERO)),
            Next::Process
        );
    }

    /// An in-memory queue: messages waiting, handles deleted and released.
    #[derive(Default)]
    struct FakeQueue {
        waiting: Mutex<VecDeque<Received>>,
        receives: AtomicUsize,
        deleted: Mutex<Vec<String>>,
        released: Mutex<Vec<String>>,
        /// While set, a receive waits for a notification before it answers.
        hold_receive: Option<Notify>,
    }

    impl FakeQueue {
        fn with_messages(count: usize) -> Self {
            let queue = Self::default();
            queue.send(count);
            queue
        }

        fn send(&self, count: usize) {
            let mut waiting = self.waiting.lock().unwrap();
            let start = waiting.len();
            for i in start..start + count {
                waiting.push_back(Received {
                    message: InboundMessage {
                        message_id: format!("m{i}"),
                        body: "{}".into(),
                        receive_count: 1,
                    },
                    receipt_handle: format!("h{i}"),
                });
            }
        }
    }

    #[async_trait(?Send)]
    impl PolledQueue for FakeQueue {
        async fn receive(&self, max: i32, wait_seconds: i32) -> Result<Vec<Received>, CallError> {
            self.receives.fetch_add(1, Ordering::SeqCst);
            if let Some(hold) = &self.hold_receive {
                hold.notified().await;
            }
            let taken: Vec<Received> = {
                let mut waiting = self.waiting.lock().unwrap();
                let n = waiting.len().min(max as usize);
                waiting.drain(..n).collect()
            };
            if taken.is_empty() {
                tokio::time::sleep(Duration::from_secs(wait_seconds as u64)).await;
            }
            Ok(taken)
        }

        async fn delete(&self, handles: &[String]) -> Result<usize, CallError> {
            self.deleted.lock().unwrap().extend_from_slice(handles);
            Ok(0)
        }

        async fn release(&self, handles: &[String]) -> Result<usize, CallError> {
            self.released.lock().unwrap().extend_from_slice(handles);
            Ok(0)
        }

        async fn visibility_timeout(&self) -> Result<Duration, CallError> {
            Ok(Duration::from_secs(390))
        }
    }

    /// Records each batch's message ids; fails the ids in `fail`; while
    /// `hold` is set, waits for a notification before answering.
    #[derive(Default)]
    struct FakeProcessor {
        batches: Mutex<Vec<Vec<String>>>,
        fail: Vec<String>,
        hold: Option<Notify>,
        started: Notify,
    }

    #[async_trait(?Send)]
    impl BatchProcessor for FakeProcessor {
        async fn process(&self, messages: Vec<InboundMessage>, _: Instant) -> BatchReport {
            self.started.notify_one();
            if let Some(hold) = &self.hold {
                hold.notified().await;
            }
            let ids: Vec<String> = messages.into_iter().map(|m| m.message_id).collect();
            self.batches.lock().unwrap().push(ids.clone());
            BatchReport {
                received: ids.len(),
                failed_message_ids: ids
                    .into_iter()
                    .filter(|id| self.fail.contains(id))
                    .collect(),
                ..Default::default()
            }
        }
    }

    fn sorted(mut handles: Vec<String>) -> Vec<String> {
        handles.sort_by_key(|h| h[1..].parse::<usize>().unwrap());
        handles
    }

    fn handles(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("h{i}")).collect()
    }

    #[tokio::test]
    async fn receives_are_gathered_into_one_batch_up_to_the_batch_size() {
        let queue = FakeQueue::with_messages(130);
        let processor = FakeProcessor::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let policy = quick_policy(100, 1);
        let poller = run(&processor, &queue, &policy, async {
            stopped.await.unwrap_or_default()
        });
        tokio::pin!(poller);
        // Let the poller take both batches (the second closes with its window).
        tokio::select! {
            () = &mut poller => panic!("stopped early"),
            () = tokio::time::sleep(Duration::from_secs(3)) => {}
        }
        stop.send(()).unwrap();
        poller.await;
        let batches = processor.batches.lock().unwrap().clone();
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![100, 30],
            "100 messages from 10 receives, then the rest when the window closes"
        );
        assert_eq!(
            sorted(queue.deleted.lock().unwrap().clone()),
            handles(0..130)
        );
        assert!(queue.released.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_window_closes_a_batch_that_is_not_full() {
        let queue = FakeQueue::with_messages(3);
        let processor = FakeProcessor::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let policy = quick_policy(100, 1);
        let poller = run(&processor, &queue, &policy, async {
            stopped.await.unwrap_or_default()
        });
        tokio::pin!(poller);
        let started = Instant::now();
        tokio::select! {
            () = &mut poller => panic!("stopped early"),
            () = processor.started.notified() => {}
        }
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(1) && waited < Duration::from_millis(2900),
            "processed when the 1 s window closed, not before, not a receive later: {waited:?}"
        );
        tokio::select! {
            () = &mut poller => panic!("stopped early"),
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        stop.send(()).unwrap();
        poller.await;
        assert_eq!(processor.batches.lock().unwrap().len(), 1);
        assert_eq!(sorted(queue.deleted.lock().unwrap().clone()), handles(0..3));
    }

    #[tokio::test]
    async fn a_stop_during_processing_finishes_the_batch_and_deletes_its_successes() {
        let queue = FakeQueue::with_messages(10);
        let processor = FakeProcessor {
            fail: vec!["m7".into()],
            hold: Some(Notify::new()),
            ..Default::default()
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let policy = quick_policy(10, 0);
        let poller = run(&processor, &queue, &policy, async {
            stopped.await.unwrap_or_default()
        });
        tokio::pin!(poller);
        tokio::select! {
            () = &mut poller => panic!("stopped early"),
            () = processor.started.notified() => {}
        }
        stop.send(()).unwrap();
        // The stop does not end the batch in hand.
        tokio::select! {
            () = &mut poller => panic!("the batch in hand was abandoned"),
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        processor.hold.as_ref().unwrap().notify_one();
        poller.await;
        let mut expected = handles(0..10);
        expected.retain(|h| h != "h7");
        assert_eq!(sorted(queue.deleted.lock().unwrap().clone()), expected);
        assert!(
            queue.released.lock().unwrap().is_empty(),
            "a failed message keeps its visibility timeout, as with the mapping"
        );
        assert_eq!(
            queue.receives.load(Ordering::SeqCst),
            1,
            "no receive after the stop"
        );
    }

    #[tokio::test]
    async fn a_receive_in_flight_at_stop_is_completed_and_everything_gathered_released() {
        let queue = FakeQueue {
            hold_receive: Some(Notify::new()),
            ..FakeQueue::with_messages(15)
        };
        let processor = FakeProcessor::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let policy = quick_policy(100, 1);
        let poller = run(&processor, &queue, &policy, async {
            stopped.await.unwrap_or_default()
        });
        tokio::pin!(poller);
        let hold = queue.hold_receive.as_ref().unwrap();
        // The first receive answers (10 messages); the second is in flight when the stop comes.
        hold.notify_one();
        tokio::select! {
            () = &mut poller => panic!("stopped early"),
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        assert_eq!(queue.receives.load(Ordering::SeqCst), 2);
        stop.send(()).unwrap();
        tokio::select! {
            () = &mut poller => panic!("the receive in flight was abandoned"),
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        hold.notify_one();
        poller.await;
        assert!(
            processor.batches.lock().unwrap().is_empty(),
            "nothing started"
        );
        assert!(queue.deleted.lock().unwrap().is_empty());
        assert_eq!(
            sorted(queue.released.lock().unwrap().clone()),
            handles(0..15),
            "the receive in flight returned 5 more, released with the first 10"
        );
    }

    #[tokio::test]
    async fn a_message_delivered_twice_in_one_batch_is_processed_once_and_both_handles_deleted() {
        let queue = FakeQueue::with_messages(2);
        queue.waiting.lock().unwrap().push_back(Received {
            message: InboundMessage {
                message_id: "m0".into(),
                body: "{}".into(),
                receive_count: 2,
            },
            receipt_handle: "h0-again".into(),
        });
        let processor = FakeProcessor::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let policy = quick_policy(10, 0);
        let poller = run(&processor, &queue, &policy, async {
            stopped.await.unwrap_or_default()
        });
        tokio::pin!(poller);
        tokio::select! {
            () = &mut poller => panic!("stopped early"),
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        stop.send(()).unwrap();
        poller.await;
        assert_eq!(
            processor.batches.lock().unwrap().clone(),
            vec![vec!["m0".to_owned(), "m1".to_owned()]]
        );
        let mut deleted = queue.deleted.lock().unwrap().clone();
        deleted.sort();
        assert_eq!(deleted, ["h0", "h0-again", "h1"]);
    }
}
