//! `Listener`: a listening socket bound before worker processes fork, so they share the port.

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Mutex;

use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use socket2::{Domain, Protocol, Socket, Type};

const BACKLOG: i32 = 1024;

/// A bound, listening TCP socket with `SO_REUSEPORT`.
#[pyclass(frozen, module = "armature._armature")]
pub struct Listener {
    addr: SocketAddr,
    socket: Mutex<Option<TcpListener>>,
}

fn socket(addr: SocketAddr, reuse_port: bool) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(reuse_port)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = socket(addr, true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

impl Listener {
    pub(crate) fn take(&self) -> PyResult<TcpListener> {
        self.socket
            .lock()
            .map_err(|_| PyRuntimeError::new_err("poisoned"))?
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this listener is closed or already serving"))
    }
}

#[pymethods]
impl Listener {
    /// Binds `host:port` (port 0 picks a free port). The address is first claimed by a plain
    /// socket, so a port another server listens on is refused even with `SO_REUSEPORT`.
    #[new]
    fn new(host: &str, port: u16) -> PyResult<Self> {
        let wanted = (host, port)
            .to_socket_addrs()
            .map_err(|e| PyOSError::new_err(format!("cannot resolve {host}:{port}: {e}")))?
            .next()
            .ok_or_else(|| PyOSError::new_err(format!("cannot resolve {host}:{port}")))?;
        let bind_err = |e: io::Error| PyOSError::new_err(format!("cannot bind {wanted}: {e}"));
        let probe = socket(wanted, false).map_err(bind_err)?;
        probe.bind(&wanted.into()).map_err(bind_err)?;
        let addr = probe
            .local_addr()
            .map_err(bind_err)?
            .as_socket()
            .ok_or_else(|| PyOSError::new_err("no IP address"))?;
        drop(probe);
        let listener = listen(addr).map_err(bind_err)?;
        Ok(Listener {
            addr,
            socket: Mutex::new(Some(listener)),
        })
    }

    /// Another `SO_REUSEPORT` socket on the same address: one per worker process, and the
    /// kernel spreads new connections across them.
    fn replicate(&self) -> PyResult<Listener> {
        let listener = listen(self.addr)
            .map_err(|e| PyOSError::new_err(format!("cannot bind {}: {e}", self.addr)))?;
        Ok(Listener {
            addr: self.addr,
            socket: Mutex::new(Some(listener)),
        })
    }

    /// Closes the socket (a worker's parent does, once the workers have their own).
    fn close(&self) -> PyResult<()> {
        drop(self.take().ok());
        Ok(())
    }

    /// `(host, port)` actually bound.
    #[getter]
    fn address(&self) -> (String, u16) {
        (self.addr.ip().to_string(), self.addr.port())
    }

    /// The port actually bound.
    #[getter]
    fn port(&self) -> u16 {
        self.addr.port()
    }
}
