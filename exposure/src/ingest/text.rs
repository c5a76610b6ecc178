//! gzip text objects: the body's chunks are fed through a bounded channel
//! to a blocking reader (`flate2`'s `MultiGzDecoder`, which reads the
//! concatenated gzip members S3 deliveries may have) in `spawn_blocking`,
//! so at most a few chunks and one 256 KiB line buffer are held, never the
//! object. Parsing and aggregation run on that thread.

use std::io::{BufReader, Read};
use std::sync::Arc;

use bytes::{Buf, Bytes};
use fanin::flowlogs::aggregate::Aggregator;
use fanin::flowlogs::classify::NetworkMap;
use fanin::flowlogs::parse::{FlowLogReader, Line, ReadError};
use fanin::ports::CallError;
use futures::StreamExt;
use tokio::sync::mpsc;

use super::ports::ObjectBody;
use super::{MalformedLines, ObjectAggregation, ObjectError};

/// Chunks in flight between the download and the reader.
const CHANNEL_CHUNKS: usize = 8;
const LINE_BUFFER: usize = 256 * 1024;

/// Streams, decompresses, parses and aggregates one text object.
pub async fn aggregate(
    body: ObjectBody,
    map: Arc<NetworkMap>,
) -> Result<ObjectAggregation, ObjectError> {
    let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
    let reader = tokio::task::spawn_blocking(move || read(ChannelReader::new(receiver), map));
    let mut chunks = body.chunks;
    let mut failure = None;
    while let Some(chunk) = chunks.next().await {
        match chunk {
            Ok(bytes) => {
                if sender.send(Ok(bytes)).await.is_err() {
                    // The reader stopped (an unreadable object): its answer says why.
                    break;
                }
            }
            Err(error) => {
                let _ = sender.send(Err(error.clone())).await;
                failure = Some(error);
                break;
            }
        }
    }
    drop(sender);
    let read = reader
        .await
        .map_err(|e| ObjectError::Unreadable(format!("the reader failed: {e}")))?;
    if let Some(error) = failure {
        return Err(ObjectError::Call(error));
    }
    read
}

/// The blocking half: gzip → lines → records → aggregates.
pub fn read(source: impl Read, map: Arc<NetworkMap>) -> Result<ObjectAggregation, ObjectError> {
    let decoder = flate2::read::MultiGzDecoder::new(source);
    let mut aggregator = Aggregator::new(map);
    let mut malformed = MalformedLines::default();
    let mut reader = match FlowLogReader::new(BufReader::with_capacity(LINE_BUFFER, decoder)) {
        Ok(reader) => reader,
        Err(ReadError::Empty) => {
            return Ok(ObjectAggregation {
                aggregator,
                malformed,
                unknown_fields: Vec::new(),
                headerless: false,
            });
        }
        Err(ReadError::Io(error)) => return Err(unreadable(error)),
        Err(error @ ReadError::Header(_)) => {
            return Err(ObjectError::Unreadable(error.to_string()));
        }
    };
    let unknown_fields = reader.format().unknown_names().map(str::to_owned).collect();
    let headerless = reader.headerless();
    reader
        .for_each_line(|line| match line {
            Line::Record { record, .. } => aggregator.add(record),
            Line::Malformed { line, reason, text } => {
                malformed.push(*line, &reason.to_string(), text)
            }
        })
        .map_err(unreadable)?;
    Ok(ObjectAggregation {
        aggregator,
        malformed,
        unknown_fields,
        headerless,
    })
}

/// A read error: the download's (transient, carried through the channel)
/// or the object's own (not gzip, corrupt: permanent).
fn unreadable(error: std::io::Error) -> ObjectError {
    if let Some(call) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<CallError>())
    {
        return ObjectError::Call(call.clone());
    }
    ObjectError::Unreadable(format!("not a readable gzip text object: {error}"))
}

/// A blocking [`Read`] over the chunks the async side sends.
struct ChannelReader {
    receiver: mpsc::Receiver<Result<Bytes, CallError>>,
    current: Bytes,
}

impl ChannelReader {
    fn new(receiver: mpsc::Receiver<Result<Bytes, CallError>>) -> Self {
        Self {
            receiver,
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.receiver.blocking_recv() {
                None => return Ok(0),
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(error)) => return Err(std::io::Error::other(error)),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}
