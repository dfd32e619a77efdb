//! [`AccessLog`]: a buffered writer of access lines, for [`Logger::write_to`](super::Logger::write_to).
//!
//! A line is appended to an in-memory buffer under a short lock (one buffer per worker thread,
//! so threads rarely meet) and reaches the writer in batches: when a buffer holds
//! [`buffer_size`](AccessLog::buffer_size) bytes, every [`flush_interval`](AccessLog::flush_interval)
//! (a background thread), on [`flush`](AccessLog::flush), and when the last handle is dropped.
//! That is what nginx's `access_log ... buffer=64k flush=1s` does, and for the same reason: one
//! `write` system call per request would cost more than the request itself.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread;
use std::time::Duration;

use crate::sync::{lock, thread_slot};

/// Default bytes a buffer holds before it is written.
const DEFAULT_BUFFER: usize = 64 * 1024;

/// Default longest time a line waits in a buffer.
const DEFAULT_FLUSH: Duration = Duration::from_millis(200);

/// A buffered, shareable destination for access lines.
///
/// Cheap to clone: clones share the buffers, the writer and the background flusher.
///
/// ```
/// use std::time::Duration;
/// use armature_layers::logger::{AccessLog, Logger};
///
/// let log = AccessLog::stdout()
///     .buffer_size(32 * 1024)
///     .flush_interval(Duration::from_millis(500));
/// let logger = Logger::default().write_to(log.clone());
/// // ... serve ...
/// log.flush().unwrap(); // lines still buffered are written now
/// ```
///
/// A writer error (a closed pipe, a full disk) drops the lines of that batch and is reported
/// once through `tracing` at `WARN`; requests are never failed or slowed because of it.
#[derive(Clone)]
pub struct AccessLog {
    shared: Arc<Shared>,
}

struct Shared {
    shards: Box<[Mutex<Vec<u8>>]>,
    writer: Mutex<Box<dyn Write + Send>>,
    buffer_size: AtomicUsize,
    flush_interval_ms: AtomicUsize,
    failed: std::sync::atomic::AtomicBool,
}

impl AccessLog {
    /// Lines go to `writer` (a file, a socket, a `Vec<u8>` behind a lock...).
    ///
    /// ```
    /// use armature_layers::logger::AccessLog;
    ///
    /// let file = std::fs::File::create(std::env::temp_dir().join("access.log")).unwrap();
    /// let log = AccessLog::new(file);
    /// ```
    pub fn new(writer: impl Write + Send + 'static) -> Self {
        let shards = thread::available_parallelism()
            .map_or(1, |n| n.get())
            .max(1);
        let shared = Arc::new(Shared {
            shards: (0..shards).map(|_| Mutex::new(Vec::new())).collect(),
            writer: Mutex::new(Box::new(writer)),
            buffer_size: AtomicUsize::new(DEFAULT_BUFFER),
            flush_interval_ms: AtomicUsize::new(DEFAULT_FLUSH.as_millis() as usize),
            failed: std::sync::atomic::AtomicBool::new(false),
        });
        spawn_flusher(Arc::downgrade(&shared));
        AccessLog { shared }
    }

    /// Lines go to standard output.
    ///
    /// ```
    /// let log = armature_layers::logger::AccessLog::stdout();
    /// ```
    pub fn stdout() -> Self {
        Self::new(io::stdout())
    }

    /// Lines go to standard error.
    ///
    /// ```
    /// let log = armature_layers::logger::AccessLog::stderr();
    /// ```
    pub fn stderr() -> Self {
        Self::new(io::stderr())
    }

    /// A buffer is written once it holds this many bytes (default 64 KiB; at least 1, which
    /// writes every line at once).
    ///
    /// ```
    /// let log = armature_layers::logger::AccessLog::stderr().buffer_size(8 * 1024);
    /// ```
    pub fn buffer_size(self, bytes: usize) -> Self {
        self.shared
            .buffer_size
            .store(bytes.max(1), Ordering::Relaxed);
        self
    }

    /// The longest a line waits in a buffer before the background flusher writes it
    /// (default 200 ms, at least 1 ms).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let log = armature_layers::logger::AccessLog::stderr().flush_interval(Duration::from_secs(1));
    /// ```
    pub fn flush_interval(self, interval: Duration) -> Self {
        let ms = interval.as_millis().clamp(1, usize::MAX as u128) as usize;
        self.shared.flush_interval_ms.store(ms, Ordering::Relaxed);
        self
    }

    /// Writes every buffered line now and flushes the writer.
    ///
    /// ```
    /// let log = armature_layers::logger::AccessLog::stderr();
    /// log.flush().unwrap();
    /// ```
    pub fn flush(&self) -> io::Result<()> {
        self.shared.flush_all()
    }

    /// Appends one line, written by `write` into the buffer of the calling thread.
    pub(crate) fn append(&self, write: impl FnOnce(&mut Vec<u8>)) {
        let shared = &*self.shared;
        // The buffer of the calling thread: threads take the shards in turn.
        let mut buf = lock(&shared.shards[thread_slot() % shared.shards.len()]);
        write(&mut buf);
        if buf.len() >= shared.buffer_size.load(Ordering::Relaxed) {
            // Written under the shard's lock, so a shard's lines keep their order.
            let result = lock(&shared.writer).write_all(&buf);
            buf.clear();
            shared.report(result);
        }
    }
}

impl fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessLog")
            .field(
                "buffer_size",
                &self.shared.buffer_size.load(Ordering::Relaxed),
            )
            .field(
                "flush_interval_ms",
                &self.shared.flush_interval_ms.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Locks are always taken shard first, then writer.
    fn flush_all(&self) -> io::Result<()> {
        let mut result = Ok(());
        for shard in self.shards.iter() {
            let mut buf = lock(shard);
            if !buf.is_empty() {
                let written = lock(&self.writer).write_all(&buf);
                buf.clear();
                result = result.and(written);
            }
        }
        result.and_then(|()| lock(&self.writer).flush())
    }

    fn report(&self, result: io::Result<()>) {
        if let Err(error) = result {
            if !self.failed.swap(true, Ordering::Relaxed) {
                tracing::warn!(%error, "access log: writing failed; lines are being dropped");
            }
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let result = self.flush_all();
        self.report(result);
    }
}

/// Writes the buffers every flush interval while any handle lives.
fn spawn_flusher(shared: Weak<Shared>) {
    let spawned = thread::Builder::new()
        .name("armature-access-log".into())
        .spawn(move || loop {
            let interval = match shared.upgrade() {
                Some(s) => s.flush_interval_ms.load(Ordering::Relaxed),
                None => return,
            };
            thread::sleep(Duration::from_millis(interval as u64));
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let result = shared.flush_all();
            shared.report(result);
        });
    if let Err(error) = spawned {
        // Lines are still written when a buffer fills, on flush() and on drop.
        tracing::warn!(%error, "access log: no background flusher thread");
    }
}
