//! Serving on runtimes the server builds itself: [`Server::run`] and
//! [`RuntimeMode`].

use std::net::TcpListener;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::thread;

use bytes::Bytes;
use http::{Request, Response};
use tokio::sync::{mpsc, watch};

use crate::accept::accept_loop;
use crate::body::FromIncoming;
use crate::bounds::{BoxError, ResBody, UserService};
use crate::connection::Protocols;
use crate::drain::{Drain, Phase, Watch};
use crate::host::HostCheck;
use crate::http3::Http3Listener;
use crate::{listener, signal, RequestBody, Server, ServerError};

/// How [`Server::run`] spreads work over threads.
///
/// ```
/// use armature_server::RuntimeMode;
///
/// let shared = RuntimeMode::multi_thread();
/// let sharded = RuntimeMode::per_core();
/// let two = RuntimeMode::PerCore { workers: 2 };
/// assert_ne!(shared, two);
/// # let _ = sharded;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuntimeMode {
    /// One multi-thread, work-stealing Tokio runtime with `workers` threads
    /// and one listener. Idle threads steal work from busy ones, which
    /// evens out uneven connections (a few long-lived connections carrying
    /// most of the load), at the price of cross-thread wake-ups on every
    /// request.
    MultiThread {
        /// Worker threads (at least 1).
        workers: usize,
    },
    /// `workers` threads, each with its own current-thread Tokio runtime
    /// and its own `SO_REUSEPORT` listener on the same address; the kernel
    /// spreads new connections across them and a connection stays on the
    /// thread that accepted it. No cross-thread wake-ups or stealing.
    ///
    /// With a listener that lacks `SO_REUSEPORT` (one passed to
    /// [`Server::from_listener`]), the workers share that listener instead.
    ///
    /// The default, as in actix-web: measured on one core, it serves HTTP/2
    /// at about 0.6x the CPU time per request of the multi-thread runtime and
    /// HTTP/1.1 at the same cost within noise (BENCHMARKS.md, "Runtime layout"). Choose
    /// [`MultiThread`](RuntimeMode::MultiThread) when a few connections carry
    /// most of the traffic, so that no core sits idle beside a busy one.
    PerCore {
        /// Threads, each with its own runtime and listener (at least 1).
        workers: usize,
    },
}

impl RuntimeMode {
    /// [`MultiThread`](RuntimeMode::MultiThread) with one worker per CPU.
    ///
    /// ```
    /// # use armature_server::RuntimeMode;
    /// assert!(matches!(RuntimeMode::multi_thread(), RuntimeMode::MultiThread { workers } if workers >= 1));
    /// ```
    pub fn multi_thread() -> Self {
        Self::MultiThread { workers: cpus() }
    }

    /// [`PerCore`](RuntimeMode::PerCore) with one worker per CPU.
    ///
    /// ```
    /// # use armature_server::RuntimeMode;
    /// assert!(matches!(RuntimeMode::per_core(), RuntimeMode::PerCore { workers } if workers >= 1));
    /// ```
    pub fn per_core() -> Self {
        Self::PerCore { workers: cpus() }
    }
}

impl Default for RuntimeMode {
    /// [`RuntimeMode::per_core`].
    ///
    /// ```
    /// # use armature_server::RuntimeMode;
    /// assert_eq!(RuntimeMode::default(), RuntimeMode::per_core());
    /// ```
    fn default() -> Self {
        Self::per_core()
    }
}

fn cpus() -> usize {
    thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

impl Server {
    /// Builds the runtime(s) chosen with [`runtime`](Server::runtime),
    /// serves `service` until shutdown and returns; blocks the calling
    /// thread. Use [`serve`](Server::serve) instead inside a runtime (this
    /// returns [`ServerError::NestedRuntime`] there).
    ///
    /// ```no_run
    /// use std::convert::Infallible;
    /// use armature_server::{RuntimeMode, Server};
    /// use bytes::Bytes;
    /// use http_body_util::Full;
    ///
    /// fn main() -> Result<(), armature_server::ServerError> {
    ///     let service = tower::service_fn(|_req: http::Request<armature_server::RequestBody>| async {
    ///         Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from("hi"))))
    ///     });
    ///     Server::bind(([0, 0, 0, 0], 8080))?
    ///         .runtime(RuntimeMode::per_core())
    ///         .run(service)
    /// }
    /// ```
    pub fn run<S, B>(self, service: S) -> Result<(), ServerError>
    where
        S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(ServerError::NestedRuntime);
        }
        match self.runtime {
            RuntimeMode::MultiThread { workers: 0 } | RuntimeMode::PerCore { workers: 0 } => {
                Err(ServerError::Config("a runtime needs at least one worker"))
            }
            RuntimeMode::MultiThread { workers } => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .thread_name("armature-worker")
                    .enable_all()
                    .build()
                    .map_err(ServerError::Runtime)?;
                runtime.block_on(self.serve(service))
            }
            RuntimeMode::PerCore { workers } => run_per_core(self, workers, service),
        }
    }
}

/// What one per-core worker thread needs.
struct Worker<S> {
    listener: TcpListener,
    protocols: Arc<Protocols>,
    service: HostCheck<FromIncoming<S>>,
    /// The HTTP/3 endpoint, on the first worker only.
    http3: Option<(Http3Listener, S)>,
    watch: Watch,
    /// Turns true once shutdown is complete and the worker may drop its
    /// runtime (which would cancel its connection tasks).
    released: watch::Receiver<bool>,
    _exit: ExitNotice,
}

/// Tells the coordinator a worker thread ended, even by panicking.
struct ExitNotice(mpsc::UnboundedSender<()>);

impl Drop for ExitNotice {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

fn run_per_core<S, B>(server: Server, workers: usize, service: S) -> Result<(), ServerError>
where
    S: UserService<B>,
    B: ResBody,
{
    let prepared = server.prepare()?;
    let listeners = listener::replicate(prepared.listener, workers)?;
    let coordinator = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServerError::Runtime)?;
    let trigger = {
        let _context = coordinator.enter();
        signal::trigger(prepared.shutdown, prepared.signals).map_err(ServerError::Signal)?
    };
    let (drain, watch) = Drain::new();
    let (release, released) = watch::channel(false);
    let (exit_tx, mut exits) = mpsc::unbounded_channel();

    let mut threads = Vec::with_capacity(workers);
    let mut http3 = prepared.http3.map(|h3| (h3, service.clone()));
    for (index, listener) in listeners.into_iter().enumerate() {
        let worker = Worker {
            listener,
            protocols: prepared.protocols.clone(),
            service: HostCheck::new(FromIncoming::new(service.clone()))
                .alt_svc(prepared.alt_svc.clone())
                .peer_addr(prepared.peer_addr),
            http3: http3.take(),
            watch: watch.clone(),
            released: released.clone(),
            _exit: ExitNotice(exit_tx.clone()),
        };
        let thread = thread::Builder::new()
            .name(format!("armature-worker-{index}"))
            .spawn(move || run_worker(worker))
            .map_err(ServerError::Runtime)?;
        threads.push(thread);
    }
    drop((watch, released, exit_tx));
    tracing::info!(addr = %prepared.local_addr, workers, "serving, one runtime per core");

    coordinator.block_on(async {
        tokio::select! {
            () = trigger => {}
            _ = exits.recv() => tracing::error!("a worker thread stopped; shutting down"),
        }
        drain.enter(Phase::Draining);
        drain.finish(prepared.shutdown_timeout).await;
    });
    release.send_replace(true);

    let mut result = Ok(());
    for thread in threads {
        let outcome = thread.join().unwrap_or(Err(ServerError::WorkerPanicked));
        if result.is_ok() {
            result = outcome;
        }
    }
    tracing::info!("server stopped");
    result
}

fn run_worker<S, B>(worker: Worker<S>) -> Result<(), ServerError>
where
    S: UserService<B>,
    B: ResBody,
{
    let Worker {
        listener,
        protocols,
        service,
        http3,
        watch,
        mut released,
        _exit,
    } = worker;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServerError::Runtime)?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(ServerError::Listener)?;
        if let Some((h3, service)) = http3 {
            tokio::spawn(h3.start()?.serve(service, watch.clone()));
        }
        accept_loop(listener, protocols, service, watch).await;
        // Keep driving this thread's connections until shutdown completes.
        let _ = released.wait_for(|done| *done).await;
        Ok(())
    })
}
