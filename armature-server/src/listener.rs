//! Listening sockets: binding with `SO_REUSEPORT`, and one listener per
//! worker for [`RuntimeMode::PerCore`](crate::RuntimeMode::PerCore).

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

use crate::ServerError;

/// The accept backlog asked for; Linux caps it at `net.core.somaxconn`.
pub(crate) const BACKLOG: i32 = 1024;

/// Binds a non-blocking listener on `addr`.
///
/// On Unix it sets `SO_REUSEADDR` (restart without waiting for TIME_WAIT)
/// and `SO_REUSEPORT`, so per-core workers can bind more sockets to the same
/// address and let the kernel spread connections across them (Linux only
/// lets sockets of the same user join such a group).
///
/// `SO_REUSEPORT` alone would also let a second server started by mistake
/// on the same port silently share its traffic. So the address is first
/// claimed by a plain probe socket, which fails with "address in use" like
/// any ordinary bind, and which also resolves port 0 to a real port.
pub(crate) fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    let bind_error = |source| ServerError::Bind { addr, source };
    let resolved = probe(addr).map_err(bind_error)?;
    bind_socket(resolved, true).map_err(bind_error)
}

/// Binds and releases a socket without `SO_REUSEPORT`; returns the address
/// it got.
fn probe(addr: SocketAddr) -> io::Result<SocketAddr> {
    let socket = new_socket(addr, false)?;
    socket.bind(&addr.into())?;
    socket
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("probe socket has no IP address"))
}

fn bind_socket(addr: SocketAddr, reuse_port: bool) -> io::Result<TcpListener> {
    let socket = new_socket(addr, reuse_port)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

fn new_socket(addr: SocketAddr, reuse_port: bool) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    {
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(reuse_port)?;
    }
    #[cfg(not(unix))]
    let _ = reuse_port;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Returns `count` listeners for the address `first` listens on, `first`
/// included: new `SO_REUSEPORT` sockets when `first` has that option (the
/// kernel balances between them), otherwise duplicates of `first` (the
/// workers then share one accept queue).
pub(crate) fn replicate(first: TcpListener, count: usize) -> Result<Vec<TcpListener>, ServerError> {
    let addr = first.local_addr().map_err(ServerError::Listener)?;
    let reuse_port = has_reuse_port(&first);
    let mut listeners = Vec::with_capacity(count);
    for _ in 1..count {
        let next = if reuse_port {
            bind_socket(addr, true).map_err(|source| ServerError::Bind { addr, source })?
        } else {
            first.try_clone().map_err(ServerError::Listener)?
        };
        listeners.push(next);
    }
    listeners.insert(0, first);
    Ok(listeners)
}

#[cfg(unix)]
fn has_reuse_port(listener: &TcpListener) -> bool {
    socket2::SockRef::from(listener)
        .reuse_port()
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn has_reuse_port(_listener: &TcpListener) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_share_the_address() {
        let first = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = first.local_addr().unwrap();
        let all = replicate(first, 3).unwrap();
        assert_eq!(all.len(), 3);
        for listener in &all {
            assert_eq!(listener.local_addr().unwrap(), addr);
        }
    }

    #[test]
    fn a_port_in_use_is_refused_even_with_reuse_port() {
        let first = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let taken = first.local_addr().unwrap();
        assert!(matches!(bind(taken), Err(ServerError::Bind { .. })));
    }

    #[test]
    fn plain_listeners_are_duplicated() {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = first.local_addr().unwrap();
        let all = replicate(first, 2).unwrap();
        assert_eq!(all[1].local_addr().unwrap(), addr);
    }
}
