//! [`WebSocketClient`]: the WebSocket client of `TestClient.websocket_connect`, a real one
//! (tungstenite, blocking) over a real socket to the app served on a loopback port. Every
//! blocking call gives up the GIL, which the app's handlers need meanwhile.

use std::net::TcpStream;
use std::sync::Mutex;
use std::time::Duration;

use pyo3::exceptions::{PyConnectionError, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::stream::MaybeTlsStream;
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

use crate::bridge::lock;

/// How long a test waits for the app before failing rather than hanging.
const WAIT: Duration = Duration::from_secs(30);

type Conn = WebSocket<MaybeTlsStream<TcpStream>>;

/// One client connection (see the module docs).
#[pyclass(frozen, module = "armature._armature")]
pub struct WebSocketClient {
    socket: Mutex<Conn>,
    /// The subprotocol the app accepted, if any.
    #[pyo3(get)]
    subprotocol: Option<String>,
}

fn failed(err: tungstenite::Error) -> PyErr {
    match err {
        tungstenite::Error::Io(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            PyTimeoutError::new_err(format!("the app sent nothing for {}s", WAIT.as_secs()))
        }
        other => PyConnectionError::new_err(other.to_string()),
    }
}

#[pymethods]
impl WebSocketClient {
    /// Opens `url` (`ws://127.0.0.1:PORT/path?query`) with `headers` and offering
    /// `subprotocols`: the connection, or `(status, headers, body)` when the app answered the
    /// handshake with something else than `101`.
    #[staticmethod]
    fn connect<'py>(
        py: Python<'py>,
        url: &str,
        headers: Vec<(String, String)>,
        subprotocols: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut request = url
            .into_client_request()
            .map_err(|e| PyValueError::new_err(format!("websocket_connect({url:?}): {e}")))?;
        for (name, value) in &headers {
            let name = tungstenite::http::HeaderName::try_from(name.as_str())
                .map_err(|e| PyValueError::new_err(format!("header {name:?}: {e}")))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|e| PyValueError::new_err(format!("header {name}: {e}")))?;
            if name == tungstenite::http::header::HOST {
                // In place of the one the URL gives (`TestClient`'s `testserver`).
                request.headers_mut().insert(name, value);
            } else {
                request.headers_mut().append(name, value);
            }
        }
        if !subprotocols.is_empty() {
            let offered = HeaderValue::try_from(subprotocols.join(", "))
                .map_err(|e| PyValueError::new_err(format!("subprotocols: {e}")))?;
            request
                .headers_mut()
                .insert("sec-websocket-protocol", offered);
        }
        let host = request.uri().host().unwrap_or("127.0.0.1").to_owned();
        let port = request.uri().port_u16().unwrap_or(80);
        let connected = py.detach(move || {
            let stream =
                TcpStream::connect((host.as_str(), port)).map_err(tungstenite::Error::Io)?;
            stream
                .set_read_timeout(Some(WAIT))
                .map_err(tungstenite::Error::Io)?;
            stream
                .set_write_timeout(Some(WAIT))
                .map_err(tungstenite::Error::Io)?;
            tungstenite::client::client(request, MaybeTlsStream::Plain(stream)).map_err(|err| {
                match err {
                    tungstenite::HandshakeError::Failure(err) => err,
                    tungstenite::HandshakeError::Interrupted(_) => {
                        tungstenite::Error::Io(std::io::ErrorKind::WouldBlock.into())
                    }
                }
            })
        });
        match connected {
            Ok((socket, response)) => {
                let subprotocol = response
                    .headers()
                    .get("sec-websocket-protocol")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let client = WebSocketClient {
                    socket: Mutex::new(socket),
                    subprotocol,
                };
                Ok(Bound::new(py, client)?.into_any())
            }
            Err(tungstenite::Error::Http(response)) => {
                let headers: Vec<(String, String)> = response
                    .headers()
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str().to_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let body = response.body().as_deref().unwrap_or_default();
                let refused = (response.status().as_u16(), headers, PyBytes::new(py, body));
                Ok(refused.into_pyobject(py)?.into_any())
            }
            Err(err) => Err(failed(err)),
        }
    }

    /// Sends a text (`str`) or binary (`bytes`) message.
    fn send(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let message = match data.cast::<PyString>() {
            Ok(text) => Message::text(text.to_str()?.to_owned()),
            Err(_) => Message::binary(data.extract::<Vec<u8>>()?),
        };
        py.detach(|| lock(&self.socket).send(message))
            .map_err(failed)
    }

    /// The next message: `("text", str)`, `("bytes", bytes)` or, once the app closed (or
    /// the connection broke), `("close", code, reason)`.
    fn receive<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let message = py.detach(|| {
            let mut socket = lock(&self.socket);
            loop {
                match socket.read() {
                    Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
                    Ok(close @ Message::Close(_)) => {
                        // tungstenite queued the close in return: send it now, which ends
                        // the closing handshake the app waits for.
                        let _ = socket.flush();
                        break Ok(close);
                    }
                    other => break other,
                }
            }
        });
        Ok(match message {
            Ok(Message::Text(text)) => ("text", text.as_str()).into_pyobject(py)?.into_any(),
            Ok(Message::Binary(bytes)) => ("bytes", PyBytes::new(py, &bytes))
                .into_pyobject(py)?
                .into_any(),
            Ok(Message::Close(frame)) => {
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.as_str().to_owned())
                });
                ("close", code, reason).into_pyobject(py)?.into_any()
            }
            Ok(_) => unreachable!("skipped above"),
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                ("close", 1006u16, "").into_pyobject(py)?.into_any()
            }
            Err(tungstenite::Error::Protocol(_)) => {
                ("close", 1006u16, "").into_pyobject(py)?.into_any()
            }
            Err(err) => return Err(failed(err)),
        })
    }

    /// Closes with `code` and `reason`, and waits (a while) for the app's close in return.
    fn close(&self, py: Python<'_>, code: u16, reason: String) {
        py.detach(|| {
            let mut socket = lock(&self.socket);
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            };
            if socket.close(Some(frame)).is_err() {
                return;
            }
            // Until the app's close (or the end of the connection).
            while socket.read().is_ok() {}
        });
    }
}
