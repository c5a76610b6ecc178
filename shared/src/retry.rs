//! fanin's one retry policy, for the retry loops of its own (today the bulk
//! items OpenSearch answered 429/5xx), and the deadline every outside call
//! runs within.
//!
//! AWS calls are retried by the SDK's standard retry strategy (configured in
//! [`crate::aws::load_sdk_config`]), never by a second loop here. What the
//! SDK cannot know is the Lambda's deadline: [`within`] bounds any call by the
//! time left in the invocation, and [`next_step`] never schedules a retry
//! that would end after it.
//!
//! The policy is data and the decision a pure function (the model is
//! `deploy/src/wait.rs`); [`Backoff`] only adds the clock and the dice.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::ports::CallError;

/// Exponential backoff with jitter, bounded by attempts and by a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// The delay ceiling after the first failed attempt; it doubles after
    /// each further failure, up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// Bulk items OpenSearch refused for load (429) or failed (5xx): a
    /// rejected write queue needs hundreds of milliseconds to drain, and what
    /// is still refused after three attempts goes back to SQS, which retries
    /// it minutes later in a fresh invocation.
    pub const BULK_ITEMS: Self = Self {
        max_attempts: 3,
        first_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(2),
    };
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Sleep this long, then try again.
    RetryAfter(Duration),
    /// The attempts are used up.
    AttemptsExhausted,
    /// The next attempt could not start before the deadline.
    DeadlineTooClose,
}

/// The decision after `attempts_made` failed attempts (1 after the first),
/// with `remaining` time before the deadline and `jitter` drawn uniformly
/// from `[0, 1)`.
///
/// The delay is "equal jitter": half the exponential ceiling for sure, the
/// other half at random. Spreading the retries of concurrent invocations
/// (the jitter) matters as much as slowing them (the exponent); keeping half
/// fixed gives an overloaded cluster a real pause even on an unlucky draw.
pub fn next_step(
    policy: &RetryPolicy,
    attempts_made: u32,
    remaining: Duration,
    jitter: f64,
) -> Step {
    if attempts_made >= policy.max_attempts {
        return Step::AttemptsExhausted;
    }
    let doublings = attempts_made.saturating_sub(1).min(30);
    let ceiling = policy
        .first_delay
        .saturating_mul(1 << doublings)
        .min(policy.max_delay);
    let delay = ceiling / 2 + ceiling.mul_f64(jitter.clamp(0.0, 1.0) / 2.0);
    if delay >= remaining {
        return Step::DeadlineTooClose;
    }
    Step::RetryAfter(delay)
}

/// The retry loop's state: attempts made under one policy and deadline.
#[derive(Debug)]
pub struct Backoff {
    policy: RetryPolicy,
    deadline: Instant,
    attempts_made: u32,
}

impl Backoff {
    pub fn new(policy: RetryPolicy, deadline: Instant) -> Self {
        Self {
            policy,
            deadline,
            attempts_made: 0,
        }
    }

    /// Records a failed attempt; sleeps and answers `true` when another
    /// attempt is worth making, answers `false` at once otherwise.
    pub async fn retry(&mut self) -> bool {
        self.attempts_made += 1;
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        match next_step(&self.policy, self.attempts_made, remaining, fastrand::f64()) {
            Step::RetryAfter(delay) => {
                tokio::time::sleep(delay).await;
                true
            }
            Step::AttemptsExhausted | Step::DeadlineTooClose => false,
        }
    }
}

/// The code of the [`CallError`] a call gets when the deadline passes first.
pub const DEADLINE_EXCEEDED: &str = "DeadlineExceeded";

/// Runs `call` within the time left before `deadline`. When time runs out
/// first, the call is dropped (cancelled) and the answer is a transient
/// error named after `operation`: the message goes back to the queue instead
/// of the invocation running into Lambda's hard timeout.
pub async fn within<T>(
    operation: &'static str,
    deadline: Instant,
    call: impl Future<Output = Result<T, CallError>>,
) -> Result<T, CallError> {
    match tokio::time::timeout_at(deadline, call).await {
        Ok(answer) => answer,
        Err(_) => Err(CallError::transient(
            operation,
            DEADLINE_EXCEEDED,
            "no time left in the invocation",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(300),
    };
    const PLENTY: Duration = Duration::from_secs(60);

    #[test]
    fn delays_double_up_to_the_ceiling_with_half_of_it_random() {
        let low: Vec<Step> = (1..4).map(|n| next_step(&POLICY, n, PLENTY, 0.0)).collect();
        assert_eq!(
            low,
            [50, 100, 150].map(|ms| Step::RetryAfter(Duration::from_millis(ms)))
        );
        let high: Vec<Step> = (1..4)
            .map(|n| next_step(&POLICY, n, PLENTY, 0.999_999))
            .collect();
        for (step, ceiling) in high.iter().zip([100u64, 200, 300]) {
            let Step::RetryAfter(delay) = step else {
                panic!("{step:?}")
            };
            assert!(
                delay.as_millis() as u64 >= ceiling - 1 && delay.as_millis() as u64 <= ceiling,
                "{delay:?} for ceiling {ceiling}"
            );
        }
    }

    #[test]
    fn stops_after_the_last_attempt() {
        assert_eq!(next_step(&POLICY, 4, PLENTY, 0.5), Step::AttemptsExhausted);
        assert_eq!(next_step(&POLICY, 9, PLENTY, 0.5), Step::AttemptsExhausted);
    }

    #[test]
    fn never_sleeps_past_the_deadline() {
        assert_eq!(
            next_step(&POLICY, 1, Duration::from_millis(40), 0.0),
            Step::DeadlineTooClose
        );
        assert_eq!(
            next_step(&POLICY, 1, Duration::from_millis(51), 0.0),
            Step::RetryAfter(Duration::from_millis(50))
        );
        assert_eq!(
            next_step(&POLICY, 1, Duration::ZERO, 0.0),
            Step::DeadlineTooClose
        );
    }

    #[test]
    fn jitter_outside_its_range_is_clamped() {
        assert_eq!(
            next_step(&POLICY, 1, PLENTY, -3.0),
            Step::RetryAfter(Duration::from_millis(50))
        );
        assert_eq!(
            next_step(&POLICY, 1, PLENTY, 7.0),
            Step::RetryAfter(Duration::from_millis(100))
        );
    }

    #[tokio::test]
    async fn backoff_makes_at_most_the_policy_attempts() {
        let quick = RetryPolicy {
            max_attempts: 4,
            first_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(4),
        };
        let mut backoff = Backoff::new(quick, Instant::now() + PLENTY);
        let mut attempts = 1;
        while backoff.retry().await {
            attempts += 1;
        }
        assert_eq!(attempts, quick.max_attempts);
    }

    #[tokio::test]
    async fn a_call_that_outlives_the_deadline_is_a_transient_error() {
        let deadline = Instant::now() + Duration::from_millis(50);
        let hung = within("PutObject", deadline, async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<_, CallError>(())
        })
        .await
        .unwrap_err();
        assert_eq!(
            hung,
            CallError::transient(
                "PutObject",
                DEADLINE_EXCEEDED,
                "no time left in the invocation"
            )
        );
        assert!(hung.is_transient());
        let later = Instant::now() + Duration::from_secs(5);
        let quick = within("PutObject", later, async { Ok::<_, CallError>(7) }).await;
        assert_eq!(quick, Ok(7));
    }
}
