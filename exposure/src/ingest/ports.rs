//! What ingest reads from outside, as traits it owns, with in-memory fakes
//! for the handler's tests. Writes go through `fanin`'s own ports
//! ([`fanin::ports::ObjectStore`] for the archive and quarantine objects,
//! [`fanin::ports::SearchIndexer`] for the index).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use fanin::flowlogs::classify::NetworkMap;
use fanin::ids::{AccountId, Region};
use fanin::ports::CallError;
use futures::stream::BoxStream;

/// An object's body as it arrives, chunk by chunk.
pub struct ObjectBody {
    pub chunks: BoxStream<'static, Result<Bytes, CallError>>,
}

/// The flow-log bucket, read.
///
/// Failure contract: a missing object or version is `Rejected` (it will not
/// appear by retrying: the object is set aside), a refused read `Denied`
/// (set aside too, for an operator to replay once the bucket policy is
/// fixed), throttling, 5xx and connection failures `Transient`; an error in
/// the middle of the body's stream is `Transient`.
#[async_trait]
pub trait FlowLogObjects: Send + Sync {
    async fn open(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectBody, CallError>;
}

/// The interfaces and VPCs of an account and region
/// (`fanin::exposure::inventory` through the read role).
///
/// Failure contract: `Transient` retries the message; `Denied` or
/// `Rejected` (no read role in that account) lets the object be
/// aggregated with an empty map, classified by the fallbacks
/// `fanin::flowlogs::classify` documents.
#[async_trait]
pub trait NetworkMaps: Send + Sync {
    async fn network_map(
        &self,
        account: &AccountId,
        region: &Region,
    ) -> Result<NetworkMap, CallError>;
}

/// How long a warm container keeps a network map.
pub const NETWORK_MAP_TTL: Duration = Duration::from_secs(15 * 60);

/// A map and when it was read.
type CachedMap = (tokio::time::Instant, Arc<NetworkMap>);

/// Keeps each (account, region)'s map for [`NETWORK_MAP_TTL`]: a batch of
/// ten objects of one account reads the inventory once. Failures are not
/// kept.
pub struct CachedNetworkMaps {
    inner: Arc<dyn NetworkMaps>,
    ttl: Duration,
    entries: tokio::sync::Mutex<HashMap<(String, String), CachedMap>>,
}

impl CachedNetworkMaps {
    pub fn new(inner: Arc<dyn NetworkMaps>, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            entries: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    pub async fn network_map(
        &self,
        account: &AccountId,
        region: &Region,
    ) -> Result<Arc<NetworkMap>, CallError> {
        let key = (account.to_string(), region.to_string());
        let mut entries = self.entries.lock().await;
        if let Some((read_at, map)) = entries.get(&key)
            && read_at.elapsed() < self.ttl
        {
            return Ok(map.clone());
        }
        let map = Arc::new(self.inner.network_map(account, region).await?);
        entries.insert(key, (tokio::time::Instant::now(), map.clone()));
        Ok(map)
    }
}

/// Network maps from memory, with a call counter.
#[derive(Default)]
pub struct InMemoryNetworkMaps {
    pub maps: Mutex<HashMap<(String, String), NetworkMap>>,
    /// Accounts whose read role is missing (answer `Denied`).
    pub denied: Mutex<Vec<String>>,
    pub calls: AtomicUsize,
}

impl InMemoryNetworkMaps {
    pub fn insert(&self, account: &str, region: &str, map: NetworkMap) {
        self.maps
            .lock()
            .unwrap()
            .insert((account.to_owned(), region.to_owned()), map);
    }
}

#[async_trait]
impl NetworkMaps for InMemoryNetworkMaps {
    async fn network_map(
        &self,
        account: &AccountId,
        region: &Region,
    ) -> Result<NetworkMap, CallError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self
            .denied
            .lock()
            .unwrap()
            .iter()
            .any(|a| a == account.as_str())
        {
            return Err(CallError::Denied {
                operation: "AssumeRole",
                code: "AccessDenied".into(),
                message: "no read role".into(),
            });
        }
        Ok(self
            .maps
            .lock()
            .unwrap()
            .get(&(account.to_string(), region.to_string()))
            .cloned()
            .unwrap_or_default())
    }
}

/// A flow-log bucket in memory, served in chunks of `chunk_size` bytes.
pub struct InMemoryFlowLogs {
    pub objects: Mutex<HashMap<(String, String), Vec<u8>>>,
    pub chunk_size: usize,
    /// Failures the next opens answer, in order.
    pub failures: Mutex<VecDeque<CallError>>,
    pub opens: AtomicUsize,
}

impl Default for InMemoryFlowLogs {
    fn default() -> Self {
        Self {
            objects: Mutex::default(),
            chunk_size: 64 * 1024,
            failures: Mutex::default(),
            opens: AtomicUsize::new(0),
        }
    }
}

impl InMemoryFlowLogs {
    pub fn put(&self, bucket: &str, key: &str, body: Vec<u8>) {
        self.objects
            .lock()
            .unwrap()
            .insert((bucket.to_owned(), key.to_owned()), body);
    }
}

#[async_trait]
impl FlowLogObjects for InMemoryFlowLogs {
    async fn open(
        &self,
        bucket: &str,
        key: &str,
        _version_id: Option<&str>,
    ) -> Result<ObjectBody, CallError> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        if let Some(failure) = self.failures.lock().unwrap().pop_front() {
            return Err(failure);
        }
        let body = self
            .objects
            .lock()
            .unwrap()
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned()
            .ok_or_else(|| CallError::Rejected {
                operation: "GetObject",
                code: "NoSuchKey".into(),
                message: "The specified key does not exist.".into(),
            })?;
        let body = Bytes::from(body);
        let chunk_size = self.chunk_size.max(1);
        let chunks: Vec<Result<Bytes, CallError>> = (0..body.len())
            .step_by(chunk_size)
            .map(|at| Ok(body.slice(at..(at + chunk_size).min(body.len()))))
            .collect();
        Ok(ObjectBody {
            chunks: Box::pin(futures::stream::iter(chunks)),
        })
    }
}

/// Serves one large body generated lazily, chunk by chunk, without holding
/// it (the 100 MB example).
pub struct GeneratedFlowLogs<F> {
    pub make: F,
}

#[async_trait]
impl<F> FlowLogObjects for GeneratedFlowLogs<F>
where
    F: Fn() -> BoxStream<'static, Result<Bytes, CallError>> + Send + Sync,
{
    async fn open(&self, _: &str, _: &str, _: Option<&str>) -> Result<ObjectBody, CallError> {
        Ok(ObjectBody {
            chunks: (self.make)(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_map_is_read_once_per_time_to_live_and_failures_are_not_kept() {
        let maps = Arc::new(InMemoryNetworkMaps::default());
        let cached = CachedNetworkMaps::new(maps.clone(), Duration::from_millis(300));
        let account = AccountId::parse("111122223333").unwrap();
        let region = Region::parse("eu-west-1").unwrap();
        cached.network_map(&account, &region).await.unwrap();
        cached.network_map(&account, &region).await.unwrap();
        assert_eq!(maps.calls.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(400)).await;
        cached.network_map(&account, &region).await.unwrap();
        assert_eq!(maps.calls.load(Ordering::SeqCst), 2);
        maps.denied.lock().unwrap().push("444455556666".into());
        let other = AccountId::parse("444455556666").unwrap();
        assert!(cached.network_map(&other, &region).await.is_err());
        assert!(cached.network_map(&other, &region).await.is_err());
        assert_eq!(
            maps.calls.load(Ordering::SeqCst),
            4,
            "failures are not kept"
        );
        assert_eq!(NETWORK_MAP_TTL, Duration::from_secs(900));
    }
}
