//! A raw HTTP/3 client on quinn: frames and QPACK field sections written
//! byte by byte, so tests can send what no well-behaved client library
//! would (malformed heads, oversized frames, lying `content-length`).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use armature_server::rustls;
use bytes::{BufMut, Bytes, BytesMut};
use rustls::pki_types::CertificateDer;

use super::GUARD;

/// HTTP/3 frame types (RFC 9114 §7.2).
pub const DATA: u64 = 0x00;
pub const HEADERS: u64 = 0x01;
pub const SETTINGS: u64 = 0x04;
/// A reserved ("grease") frame type, which a receiver must ignore
/// (RFC 9114 §7.2.8).
pub const RESERVED: u64 = 0x21;

/// HTTP/3 error codes (RFC 9114 §8.1).
pub const H3_NO_ERROR: u64 = 0x100;
pub const H3_EXCESSIVE_LOAD: u64 = 0x107;
pub const H3_MESSAGE_ERROR: u64 = 0x10e;

/// A QUIC connection negotiating `h3` and trusting only `cert`, with its
/// control stream open (SETTINGS sent).
pub struct Raw {
    pub conn: quinn::Connection,
    pub control: quinn::SendStream,
    pub endpoint: quinn::Endpoint,
}

pub async fn connect(addr: SocketAddr, cert: &CertificateDer<'static>) -> Raw {
    try_connect_with(addr, cert, None)
        .await
        .expect("QUIC handshake")
}

/// As [`connect`], the client sending a PING every `interval` (so the QUIC
/// idle timeout never closes the connection).
pub async fn connect_with_keep_alive(
    addr: SocketAddr,
    cert: &CertificateDer<'static>,
    interval: Duration,
) -> Raw {
    try_connect_with(addr, cert, Some(interval))
        .await
        .expect("QUIC handshake")
}

/// As [`connect`], but a refused handshake is an `Err`.
pub async fn try_connect(
    addr: SocketAddr,
    cert: &CertificateDer<'static>,
) -> Result<Raw, quinn::ConnectionError> {
    try_connect_with(addr, cert, None).await
}

async fn try_connect_with(
    addr: SocketAddr,
    cert: &CertificateDer<'static>,
    keep_alive: Option<Duration>,
) -> Result<Raw, quinn::ConnectionError> {
    let quic = super::h3::h3_client_crypto(std::slice::from_ref(cert));
    let mut config = quinn::ClientConfig::new(Arc::new(quic));
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(keep_alive);
    config.transport_config(Arc::new(transport));
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).expect("udp");
    endpoint.set_default_client_config(config);
    let connecting = endpoint.connect(addr, "localhost").expect("connect");
    let conn = tokio::time::timeout(GUARD, connecting)
        .await
        .expect("QUIC handshake (hung)")?;
    let mut control = conn.open_uni().await.expect("control stream");
    // Stream type 0x00 (control), then an empty SETTINGS frame.
    let mut opening = BytesMut::new();
    varint(&mut opening, 0x00);
    frame_header(&mut opening, SETTINGS, 0);
    control.write_all(&opening).await.expect("SETTINGS");
    Ok(Raw {
        conn,
        control,
        endpoint,
    })
}

/// A QUIC variable-length integer (RFC 9000 §16).
pub fn varint(buf: &mut BytesMut, v: u64) {
    if v < 1 << 6 {
        buf.put_u8(v as u8);
    } else if v < 1 << 14 {
        buf.put_u16(0x4000 | v as u16);
    } else if v < 1 << 30 {
        buf.put_u32(0x8000_0000 | v as u32);
    } else {
        buf.put_u64(0xc000_0000_0000_0000 | v);
    }
}

/// A frame's type and length.
pub fn frame_header(buf: &mut BytesMut, ty: u64, len: u64) {
    varint(buf, ty);
    varint(buf, len);
}

/// A whole frame.
pub fn frame(ty: u64, payload: &[u8]) -> Bytes {
    let mut buf = BytesMut::new();
    frame_header(&mut buf, ty, payload.len() as u64);
    buf.put_slice(payload);
    buf.freeze()
}

/// An HPACK/QPACK prefixed integer with an `n`-bit prefix; `flags` fills
/// the bits above it.
fn prefix_int(buf: &mut BytesMut, flags: u8, n: u32, mut v: usize) {
    let max = (1usize << n) - 1;
    if v < max {
        buf.put_u8(flags | v as u8);
        return;
    }
    buf.put_u8(flags | max as u8);
    v -= max;
    while v >= 128 {
        buf.put_u8((v % 128) as u8 | 0x80);
        v /= 128;
    }
    buf.put_u8(v as u8);
}

/// A QPACK field section holding `fields` in order, each as a literal with
/// a literal name (no Huffman, no tables): whatever bytes the test wants.
pub fn field_section(fields: &[(&[u8], &[u8])]) -> Bytes {
    let mut buf = BytesMut::new();
    // Required Insert Count 0, Delta Base 0.
    buf.put_u8(0);
    buf.put_u8(0);
    for (name, value) in fields {
        // 001N H + 3-bit name length.
        prefix_int(&mut buf, 0x20, 3, name.len());
        buf.put_slice(name);
        // H=0 + 7-bit value length.
        prefix_int(&mut buf, 0x00, 7, value.len());
        buf.put_slice(value);
    }
    buf.freeze()
}

/// A HEADERS frame of `fields`.
pub fn headers(fields: &[(&[u8], &[u8])]) -> Bytes {
    frame(HEADERS, &field_section(fields))
}

/// The pseudo-header fields of a GET of `path` on `localhost`.
pub fn get_head(path: &str) -> Vec<(&'static [u8], Vec<u8>)> {
    vec![
        (b":method", b"GET".to_vec()),
        (b":scheme", b"https".to_vec()),
        (b":authority", b"localhost".to_vec()),
        (b":path", path.as_bytes().to_vec()),
    ]
}

/// What the server did with a request stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It answered: the raw bytes of the response frames.
    Answered(Vec<u8>),
    /// It reset its side with this code (before or during the answer).
    Reset(u64),
    /// The connection was closed with this application error code.
    ConnectionClosed(u64),
    /// Something else went wrong.
    Other(String),
}

impl Outcome {
    /// The `:status` of an answer: the first HEADERS frame decoded just
    /// enough to find it (the server's QPACK encoder uses the static table
    /// for common statuses and a literal otherwise).
    pub fn status(&self) -> Option<u16> {
        let Outcome::Answered(bytes) = self else {
            return None;
        };
        status_of(bytes)
    }
}

/// Reads everything the server sends on `recv` until it finishes or resets.
pub async fn read_outcome(recv: &mut quinn::RecvStream) -> Outcome {
    let read = tokio::time::timeout(GUARD, recv.read_to_end(64 * 1024 * 1024)).await;
    match read {
        Err(_) => Outcome::Other("hung reading the response".into()),
        Ok(Ok(bytes)) => Outcome::Answered(bytes),
        Ok(Err(quinn::ReadToEndError::Read(quinn::ReadError::Reset(code)))) => {
            Outcome::Reset(code.into_inner())
        }
        Ok(Err(quinn::ReadToEndError::Read(quinn::ReadError::ConnectionLost(
            quinn::ConnectionError::ApplicationClosed(close),
        )))) => Outcome::ConnectionClosed(close.error_code.into_inner()),
        Ok(Err(error)) => Outcome::Other(error.to_string()),
    }
}

/// Sends `bytes` on a new request stream, finishes it, and reads the
/// outcome.
pub async fn exchange(raw: &Raw, bytes: &[u8]) -> Outcome {
    let (mut send, mut recv) = raw.conn.open_bi().await.expect("open stream");
    // The server may refuse the stream before reading all of it.
    let _ = send.write_all(bytes).await;
    let _ = send.finish();
    read_outcome(&mut recv).await
}

fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let first = *bytes.first()?;
    let len = 1usize << (first >> 6);
    if bytes.len() < len {
        return None;
    }
    let mut v = u64::from(first & 0x3f);
    for b in &bytes[1..len] {
        v = (v << 8) | u64::from(*b);
    }
    Some((v, len))
}

/// Splits response bytes into frames: `(type, payload)`.
pub fn frames(mut bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some((ty, a)) = read_varint(bytes) {
        let Some((len, b)) = read_varint(&bytes[a..]) else {
            break;
        };
        let start = a + b;
        let end = start + len as usize;
        if bytes.len() < end {
            break;
        }
        out.push((ty, bytes[start..end].to_vec()));
        bytes = &bytes[end..];
    }
    out
}

/// The payload bytes of all DATA frames.
pub fn body_of(bytes: &[u8]) -> Vec<u8> {
    frames(bytes)
        .into_iter()
        .filter(|(ty, _)| *ty == DATA)
        .flat_map(|(_, payload)| payload)
        .collect()
}

/// The `:status` of the first HEADERS frame.
fn status_of(bytes: &[u8]) -> Option<u16> {
    let (_, block) = frames(bytes).into_iter().find(|(ty, _)| *ty == HEADERS)?;
    // Skip the two prefix bytes; the status comes first.
    let first = *block.get(2)?;
    // Indexed field line, static table (11xxxxxx): statuses at 24..=28
    // and 63..=71.
    if first & 0xc0 == 0xc0 {
        let (index, _) = read_prefix_int(&block[2..], 6)?;
        let status = match index {
            24 => 103,
            25 => 200,
            26 => 304,
            27 => 404,
            28 => 503,
            63 => 100,
            64 => 204,
            65 => 206,
            66 => 302,
            67 => 400,
            68 => 403,
            69 => 421,
            70 => 425,
            71 => 500,
            _ => return None,
        };
        return Some(status);
    }
    // Literal with a static name reference (01NTxxxx, 4-bit index), the
    // value a string (H bit + 7-bit length), Huffman-coded by h3.
    if first & 0xc0 == 0x40 {
        let (_, used) = read_prefix_int(&block[2..], 4)?;
        let at = 2 + used;
        let head = *block.get(at)?;
        let len = usize::from(head & 0x7f);
        let value = block.get(at + 1..at + 1 + len)?;
        let digits = if head & 0x80 != 0 {
            huffman_digits(value)?
        } else {
            String::from_utf8(value.to_vec()).ok()?
        };
        return digits.parse().ok();
    }
    None
}

fn read_prefix_int(bytes: &[u8], n: u32) -> Option<(usize, usize)> {
    let max = (1usize << n) - 1;
    let mut v = usize::from(*bytes.first()?) & max;
    if v < max {
        return Some((v, 1));
    }
    let mut shift = 0;
    for (i, b) in bytes[1..].iter().enumerate() {
        v += usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            return Some((v, i + 2));
        }
    }
    None
}

/// Decodes a Huffman-coded string of ASCII digits (RFC 7541 Appendix B:
/// `0`-`2` are `00000`-`00010`, `3`-`9` are `011001`-`011111`).
fn huffman_digits(bytes: &[u8]) -> Option<String> {
    let bits: Vec<u8> = bytes
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
        .collect();
    let mut out = String::new();
    let mut i = 0;
    while i + 5 <= bits.len() {
        let code5 = bits[i..i + 5].iter().fold(0u8, |a, b| a << 1 | b);
        if code5 <= 2 {
            out.push(char::from(b'0' + code5));
            i += 5;
        } else if i + 6 <= bits.len() && code5 >> 2 == 0b011 {
            let code6 = bits[i..i + 6].iter().fold(0u8, |a, b| a << 1 | b);
            out.push(char::from(b'0' + code6 - 0b011001 + 3));
            i += 6;
        } else {
            break;
        }
    }
    // What is left is padding: all ones.
    bits[i..].iter().all(|b| *b == 1).then_some(out)
}

/// Frame type GOAWAY (RFC 9114 §7.2.6).
pub const GOAWAY: u64 = 0x07;

/// Waits for the server's control stream and the first GOAWAY on it; the
/// stream ID it carries: the first request the server will not process.
pub async fn goaway(raw: &Raw) -> u64 {
    let find = async {
        loop {
            let mut uni = raw.conn.accept_uni().await.expect("server's streams");
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let Ok(Some(n)) = uni.read(&mut chunk).await else {
                continue;
            };
            buf.extend_from_slice(&chunk[..n]);
            if buf[0] != 0x00 {
                // A QPACK stream (or grease): not the control stream.
                continue;
            }
            loop {
                if let Some((_, payload)) =
                    frames(&buf[1..]).into_iter().find(|(ty, _)| *ty == GOAWAY)
                {
                    return read_varint(&payload).expect("GOAWAY id").0;
                }
                match uni.read(&mut chunk).await {
                    Ok(Some(n)) => buf.extend_from_slice(&chunk[..n]),
                    other => panic!("control stream ended without GOAWAY: {other:?}"),
                }
            }
        }
    };
    tokio::time::timeout(GUARD, find)
        .await
        .expect("no GOAWAY (hung)")
}
