//! A JSON document read one value at a time through a bounded window of its
//! bytes, so that a CloudTrail object streamed from gzip is read at the
//! speed of a slice without being held whole.
//!
//! A [`Source`] is the window: the bytes in memory not consumed yet, and a
//! way to bring more. [`take_value`] hands the window to a reader that
//! deserializes ONE value from its front with `serde_json` from a slice (so
//! strings are borrowed and read at `SliceRead`'s speed) and says how many
//! bytes it used; when the value runs past the window's end (an EOF error,
//! or a value that ends exactly at the window's end, which could be a
//! number cut short), more bytes are brought in and the value is read
//! again. There is no separate scan for the value's end: `serde_json`
//! finds it, and only the value that straddles a refill is read twice
//! (one of about a hundred records of a 256 KiB window).
//!
//! [`ReaderSource`] keeps at most [`MAX_VALUE_BYTES`] plus what the reader
//! hands over in one refill: the window grows (doubling from
//! [`WINDOW_BYTES`]) only while a single value does not fit.
//! [`SliceSource`] is a slice already in memory.

use std::io::{self, Read};

/// The window a [`ReaderSource`] starts with: about a hundred records of
/// CloudTrail's usual 1 to 3 KB.
pub const WINDOW_BYTES: usize = 256 * 1024;

/// The largest single JSON value (a record) a [`ReaderSource`] holds.
/// CloudTrail documents events up to 256 KiB; a larger value makes the
/// object unreadable ([`WindowError::TooLarge`]) rather than the memory
/// unbounded.
pub const MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;

/// Why the window cannot go on.
#[derive(Debug)]
pub enum WindowError {
    /// The reader's error.
    Io(io::Error),
    /// A single value is larger than the limit.
    TooLarge(usize),
}

/// The bytes of a document, a window at a time.
pub trait Source {
    /// The bytes in memory not consumed yet.
    fn window(&self) -> &[u8];
    /// Drops the first `used` bytes of the window.
    fn consume(&mut self, used: usize);
    /// Whether every byte of the document is in the window.
    fn at_end(&self) -> bool;
    /// Brings more bytes into the window (keeping the unconsumed ones);
    /// false when the document has no more.
    fn more(&mut self) -> Result<bool, WindowError>;
}

/// A document already in memory.
pub struct SliceSource<'a> {
    bytes: &'a [u8],
}

impl<'a> SliceSource<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }
}

impl Source for SliceSource<'_> {
    fn window(&self) -> &[u8] {
        self.bytes
    }
    fn consume(&mut self, used: usize) {
        self.bytes = &self.bytes[used..];
    }
    fn at_end(&self) -> bool {
        true
    }
    fn more(&mut self) -> Result<bool, WindowError> {
        Ok(false)
    }
}

/// A document read from `reader` into a window of at most
/// [`MAX_VALUE_BYTES`] (plus one refill).
pub struct ReaderSource<R> {
    reader: R,
    buffer: Vec<u8>,
    /// The window is `buffer[start..end]`.
    start: usize,
    end: usize,
    ended: bool,
}

impl<R: Read> ReaderSource<R> {
    pub fn new(reader: R) -> Self {
        Self::with_window(reader, 0)
    }

    /// A first window of `bytes` (tests cut values with a small one; it
    /// grows to at least [`WINDOW_BYTES`] at the first value it cuts).
    pub fn with_window(reader: R, bytes: usize) -> Self {
        Self {
            reader,
            buffer: vec![0; bytes],
            start: 0,
            end: 0,
            ended: false,
        }
    }

    /// The window's capacity now (what the document costs in memory).
    pub fn capacity(&self) -> usize {
        self.buffer.len()
    }
}

impl<R: Read> Source for ReaderSource<R> {
    fn window(&self) -> &[u8] {
        &self.buffer[self.start..self.end]
    }

    fn consume(&mut self, used: usize) {
        self.start += used;
        debug_assert!(self.start <= self.end);
    }

    fn at_end(&self) -> bool {
        self.ended
    }

    fn more(&mut self) -> Result<bool, WindowError> {
        if self.ended {
            return Ok(false);
        }
        // Keep the unconsumed bytes (a value cut by the last refill) at the
        // front, and grow only when they fill the whole window.
        self.buffer.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.end == self.buffer.len() {
            if self.buffer.len() >= MAX_VALUE_BYTES {
                return Err(WindowError::TooLarge(MAX_VALUE_BYTES));
            }
            let grown = (self.buffer.len() * 2).clamp(WINDOW_BYTES, MAX_VALUE_BYTES);
            self.buffer.resize(grown, 0);
        }
        // Fill the window: fewer refills, fewer values read twice.
        let before = self.end;
        while self.end < self.buffer.len() {
            match self.reader.read(&mut self.buffer[self.end..]) {
                Ok(0) => {
                    self.ended = true;
                    break;
                }
                Ok(read) => self.end += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(WindowError::Io(error)),
            }
        }
        Ok(self.end > before)
    }
}

/// What a value reader made of the window.
pub enum Taken {
    /// The value was read and used this many bytes.
    Used(usize),
    /// The value runs past the window: bring more and read it again.
    Incomplete,
}

/// Why a value could not be taken.
#[derive(Debug)]
pub enum TakeError {
    Window(WindowError),
    /// Broken JSON (the value's own error, positions within the value).
    Json(serde_json::Error),
    /// The document ended inside the value.
    Truncated,
}

impl From<WindowError> for TakeError {
    fn from(error: WindowError) -> Self {
        Self::Window(error)
    }
}

/// Reads the value at the front of the window with `read`, which gets the
/// window and whether the document ends with it, and must not act on a
/// value it answers [`Taken::Incomplete`] for: it is called again with
/// more bytes. Consumes the bytes the value used.
pub fn take_value<S: Source>(
    source: &mut S,
    mut read: impl FnMut(&[u8], bool) -> Result<Taken, serde_json::Error>,
) -> Result<(), TakeError> {
    loop {
        let at_end = source.at_end();
        match read(source.window(), at_end) {
            Ok(Taken::Used(used)) => {
                source.consume(used);
                return Ok(());
            }
            Ok(Taken::Incomplete) if at_end => return Err(TakeError::Truncated),
            Ok(Taken::Incomplete) => {}
            Err(error) if error.is_eof() && !at_end => {}
            Err(error) => return Err(TakeError::Json(error)),
        }
        source.more()?;
    }
}

/// Deserializes one `T` from the front of `window` (a [`take_value`]
/// reader's body): the value and the bytes it used, or
/// [`Taken::Incomplete`] when it may go on past the window.
pub fn read_one<'w, T: serde::Deserialize<'w>>(
    window: &'w [u8],
    at_end: bool,
) -> Result<Result<(T, usize), Taken>, serde_json::Error> {
    let mut stream = serde_json::Deserializer::from_slice(window).into_iter::<T>();
    match stream.next() {
        None => Ok(Err(Taken::Incomplete)),
        Some(Err(error)) => Err(error),
        // A value that ends with the window may be a number cut short, or
        // followed by bytes not read yet: read it again with more.
        Some(Ok(_)) if stream.byte_offset() == window.len() && !at_end => {
            Ok(Err(Taken::Incomplete))
        }
        Some(Ok(value)) => Ok(Ok((value, stream.byte_offset()))),
    }
}

/// The next byte that is not JSON whitespace, consuming the whitespace
/// (and bringing more bytes as needed); `None` at the document's end.
pub fn next_token<S: Source>(source: &mut S) -> Result<Option<u8>, WindowError> {
    loop {
        let window = source.window();
        let spaces = window
            .iter()
            .position(|byte| !matches!(byte, b' ' | b'\n' | b'\r' | b'\t'));
        match spaces {
            Some(at) => {
                let token = window[at];
                source.consume(at);
                return Ok(Some(token));
            }
            None => {
                let all = window.len();
                source.consume(all);
                if !source.more()? {
                    return Ok(None);
                }
            }
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A reader that hands over `step` bytes at a time.
    pub struct Trickle<'a> {
        pub bytes: &'a [u8],
        pub step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(out.len()).min(self.bytes.len());
            out[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    fn numbers<S: Source>(mut source: S) -> Result<Vec<u64>, TakeError> {
        let mut out = Vec::new();
        while next_token(&mut source)?.is_some() {
            take_value(&mut source, |window, at_end| {
                Ok(match read_one::<u64>(window, at_end)? {
                    Ok((number, used)) => {
                        out.push(number);
                        Taken::Used(used)
                    }
                    Err(incomplete) => incomplete,
                })
            })?;
        }
        Ok(out)
    }

    #[test]
    fn a_number_cut_by_a_refill_is_read_whole() {
        let text = b" 12345 678\n9 ";
        assert_eq!(numbers(SliceSource::new(text)).unwrap(), [12345, 678, 9]);
        for step in 1..4 {
            let trickle = Trickle { bytes: text, step };
            // A refill fills the whole window, so only a window smaller
            // than the document cuts values.
            let source = ReaderSource::with_window(trickle, 3);
            assert_eq!(numbers(source).unwrap(), [12345, 678, 9], "step {step}");
        }
    }

    #[test]
    fn the_window_grows_for_a_long_value_and_stops_at_the_limit() {
        let long = format!("\"{}\"", "x".repeat(WINDOW_BYTES * 3));
        let mut source = ReaderSource::new(long.as_bytes());
        take_value(&mut source, |window, at_end| {
            Ok(match read_one::<&str>(window, at_end)? {
                Ok((text, used)) => {
                    assert_eq!(text.len(), WINDOW_BYTES * 3);
                    Taken::Used(used)
                }
                Err(incomplete) => incomplete,
            })
        })
        .unwrap();
        assert_eq!(source.capacity(), WINDOW_BYTES * 4);

        let too_long = format!("\"{}", "x".repeat(MAX_VALUE_BYTES));
        let mut source = ReaderSource::new(too_long.as_bytes());
        let taken = take_value(&mut source, |window, at_end| {
            Ok(read_one::<&str>(window, at_end)?
                .map(|(_, used)| Taken::Used(used))
                .unwrap_or_else(|incomplete| incomplete))
        });
        assert!(matches!(
            taken,
            Err(TakeError::Window(WindowError::TooLarge(_)))
        ));
        assert!(source.capacity() <= MAX_VALUE_BYTES);
    }

    #[test]
    fn a_document_that_ends_inside_a_value_is_truncated() {
        for source in [&b"[1, 2"[..], b"\"abc"] {
            let taken = take_value(&mut ReaderSource::new(source), |window, at_end| {
                Ok(read_one::<serde::de::IgnoredAny>(window, at_end)?
                    .map(|(_, used)| Taken::Used(used))
                    .unwrap_or_else(|incomplete| incomplete))
            });
            assert!(
                matches!(taken, Err(TakeError::Json(ref e)) if e.is_eof()),
                "{taken:?}"
            );
        }
    }
}
