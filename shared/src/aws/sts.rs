//! Sessions in source accounts: STS AssumeRole with ExternalId, cached.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use tokio::sync::Mutex;

use crate::ids::{AccountId, Partition};
use crate::ports::{AccountSession, CallError, SessionProvider};

/// Assumes `arn:<partition>:iam::<account>:role/<role_name>` with the ExternalId.
pub struct StsSessions {
    client: aws_sdk_sts::Client,
    partition: Partition,
    role_name: String,
    external_id: String,
    duration: Duration,
    session_name: String,
}

impl StsSessions {
    pub fn new(
        config: &SdkConfig,
        partition: Partition,
        role_name: String,
        external_id: String,
        duration: Duration,
    ) -> Self {
        Self {
            client: aws_sdk_sts::Client::new(config),
            partition,
            role_name,
            external_id,
            duration,
            session_name: "fanin-collector".into(),
        }
    }
}

#[async_trait]
impl SessionProvider for StsSessions {
    async fn session(&self, account: &AccountId) -> Result<AccountSession, CallError> {
        let role_arn = format!(
            "arn:{}:iam::{}:role/{}",
            self.partition, account, self.role_name
        );
        let answer = self
            .client
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(&self.session_name)
            .external_id(&self.external_id)
            .duration_seconds(self.duration.as_secs() as i32)
            .send()
            .await
            .map_err(|e| super::classify("AssumeRole", e))?;
        let issued = answer.credentials().ok_or_else(|| {
            CallError::transient("AssumeRole", "NoCredentials", "answer without credentials")
        })?;
        let expiry = SystemTime::try_from(*issued.expiration()).ok();
        let credentials = Credentials::new(
            issued.access_key_id(),
            issued.secret_access_key(),
            Some(issued.session_token().to_owned()),
            expiry,
            "fanin-assume-role",
        );
        Ok(AccountSession {
            account: account.clone(),
            credentials,
        })
    }
}

/// Caches sessions per account across warm invocations, until `refresh_margin`
/// before they expire. Failures are not cached: the next batch asks again.
pub struct CachedSessions<P> {
    inner: P,
    refresh_margin: Duration,
    cache: Mutex<HashMap<AccountId, Arc<Mutex<Option<AccountSession>>>>>,
}

impl<P: SessionProvider> CachedSessions<P> {
    pub fn new(inner: P, refresh_margin: Duration) -> Self {
        Self {
            inner,
            refresh_margin,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn fresh(&self, session: &AccountSession) -> bool {
        match session.credentials.expiry() {
            Some(expiry) => SystemTime::now() + self.refresh_margin < expiry,
            None => true,
        }
    }
}

#[async_trait]
impl<P: SessionProvider> SessionProvider for CachedSessions<P> {
    async fn session(&self, account: &AccountId) -> Result<AccountSession, CallError> {
        // One slot per account, locked while it is filled, so concurrent
        // groups of the same account make one AssumeRole between them.
        let slot = self
            .cache
            .lock()
            .await
            .entry(account.clone())
            .or_default()
            .clone();
        let mut slot = slot.lock().await;
        if let Some(session) = slot.as_ref().filter(|s| self.fresh(s)) {
            return Ok(session.clone());
        }
        let session = self.inner.session(account).await?;
        *slot = Some(session.clone());
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    struct Counting {
        calls: AtomicUsize,
        lifetime: Duration,
    }

    #[async_trait]
    impl SessionProvider for Counting {
        async fn session(&self, account: &AccountId) -> Result<AccountSession, CallError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let expiry = SystemTime::now() + self.lifetime;
            Ok(AccountSession {
                account: account.clone(),
                credentials: Credentials::new(
                    "AKID",
                    "secret",
                    Some("token".into()),
                    Some(expiry),
                    "test",
                ),
            })
        }
    }

    #[tokio::test]
    async fn sessions_are_reused_until_shortly_before_expiry() {
        let account = AccountId::parse("111111111111").unwrap();
        let long = CachedSessions::new(
            Counting {
                calls: AtomicUsize::new(0),
                lifetime: Duration::from_secs(3600),
            },
            Duration::from_secs(300),
        );
        for _ in 0..3 {
            long.session(&account).await.unwrap();
        }
        assert_eq!(long.inner.calls.load(Ordering::SeqCst), 1);

        let short = CachedSessions::new(
            Counting {
                calls: AtomicUsize::new(0),
                lifetime: Duration::from_secs(200),
            },
            Duration::from_secs(300),
        );
        short.session(&account).await.unwrap();
        short.session(&account).await.unwrap();
        assert_eq!(
            short.inner.calls.load(Ordering::SeqCst),
            2,
            "a session inside the refresh margin is renewed"
        );
    }
}
