//! A bound on the HTTP/3 frames h3 buffers whole, and two more repairs of
//! h3 0.0.8 / h3-quinn 0.0.10 at the stream level.
//!
//! h3 0.0.8 reads every frame other than DATA (HEADERS, SETTINGS, and the
//! unknown and reserved types it must skip, RFC 9114 §7.2.8) completely into
//! memory before it looks at it, whatever length the frame declares, and it
//! takes the bytes out of quinn as they come, so QUIC flow control does not
//! stop it either. A client declaring a frame of 2^40 bytes on its control
//! stream, or in the middle of a request body, made the server buffer all it
//! sent, with no time limit (64 MiB were buffered in a test, and more would
//! have been).
//!
//! [`Connection`] wraps h3-quinn's connection and watches the frame headers
//! passing by on every stream the client opens (request streams, and its
//! control stream). A frame other than DATA longer than the limit is refused
//! before h3 buffers it, with `H3_EXCESSIVE_LOAD` (RFC 9114 §10.5): on a
//! request stream the stream is reset both ways, on the control stream the
//! connection is closed. DATA payloads pass through untouched; h3 hands
//! them on as they come. On request streams, empty DATA frames are also
//! turned into reserved frames, which h3 skips (see [`Rewrite`]), and reads
//! are kept from panicking h3-quinn (see [`RecvStream`]).

use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use h3::quic::{self, ConnectionErrorIncoming, StreamErrorIncoming, StreamId, WriteBuf};

/// `H3_EXCESSIVE_LOAD` (RFC 9114 §8.1).
const H3_EXCESSIVE_LOAD: u32 = 0x107;

/// Frame types read specially (RFC 9114 §7.2, §6.2).
const FRAME_DATA: u64 = 0x00;
/// WebTransport's bidirectional stream signal (not enabled here): no length
/// follows it, so the rest of such a stream is not frames. h3 refuses it.
const FRAME_WEBTRANSPORT_STREAM: u64 = 0x41;
const STREAM_CONTROL: u64 = 0x00;

/// The largest frame other than DATA a client may send: twice the largest
/// field section (an encoded section is never much larger than the decoded
/// size it is limited by, so h3 still answers `431` to heads between the
/// two), and at least 16 KiB for control frames.
pub(crate) fn frame_limit(max_field_section_size: u64) -> u64 {
    max_field_section_size.saturating_mul(2).max(16 * 1024)
}

/// h3-quinn's connection with every incoming stream's frames bounded.
pub(crate) struct Connection {
    inner: h3_quinn::Connection,
    opener: OpenStreams,
}

impl Connection {
    pub(crate) fn new(conn: quinn::Connection, limit: u64) -> Self {
        let inner = h3_quinn::Connection::new(conn.clone());
        let opener = OpenStreams {
            inner: quic::Connection::<Bytes>::opener(&inner),
            conn,
            limit,
        };
        Self { inner, opener }
    }
}

/// h3-quinn's stream opener, wrapping the bidirectional streams it opens.
pub(crate) struct OpenStreams {
    inner: h3_quinn::OpenStreams,
    conn: quinn::Connection,
    limit: u64,
}

impl Clone for OpenStreams {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            conn: self.conn.clone(),
            limit: self.limit,
        }
    }
}

impl<B: Buf> quic::Connection<B> for Connection {
    type RecvStream = RecvStream<h3_quinn::RecvStream>;
    type OpenStreams = OpenStreams;

    fn poll_accept_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::RecvStream, ConnectionErrorIncoming>> {
        let stream = ready!(quic::Connection::<B>::poll_accept_recv(&mut self.inner, cx))?;
        Poll::Ready(Ok(RecvStream::new(
            stream,
            Guard::uni(self.opener.limit),
            self.opener.conn.clone(),
        )))
    }

    fn poll_accept_bidi(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::BidiStream, ConnectionErrorIncoming>> {
        let stream = ready!(quic::Connection::<B>::poll_accept_bidi(&mut self.inner, cx))?;
        Poll::Ready(Ok(BidiStream::new(stream, &self.opener)))
    }

    fn opener(&self) -> Self::OpenStreams {
        self.opener.clone()
    }
}

impl<B: Buf> quic::OpenStreams<B> for Connection {
    type BidiStream = BidiStream<B>;
    type SendStream = h3_quinn::SendStream<B>;

    fn poll_open_bidi(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::BidiStream, StreamErrorIncoming>> {
        self.opener.poll_open_bidi(cx)
    }

    fn poll_open_send(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::SendStream, StreamErrorIncoming>> {
        quic::OpenStreams::<B>::poll_open_send(&mut self.inner, cx)
    }

    fn close(&mut self, code: h3::error::Code, reason: &[u8]) {
        quic::OpenStreams::<B>::close(&mut self.inner, code, reason);
    }
}

impl<B: Buf> quic::OpenStreams<B> for OpenStreams {
    type BidiStream = BidiStream<B>;
    type SendStream = h3_quinn::SendStream<B>;

    fn poll_open_bidi(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::BidiStream, StreamErrorIncoming>> {
        let stream = ready!(quic::OpenStreams::<B>::poll_open_bidi(&mut self.inner, cx))?;
        Poll::Ready(Ok(BidiStream::new(stream, self)))
    }

    fn poll_open_send(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::SendStream, StreamErrorIncoming>> {
        quic::OpenStreams::<B>::poll_open_send(&mut self.inner, cx)
    }

    fn close(&mut self, code: h3::error::Code, reason: &[u8]) {
        quic::OpenStreams::<B>::close(&mut self.inner, code, reason);
    }
}

/// A request stream: h3-quinn's, with its receiving half bounded.
pub(crate) struct BidiStream<B: Buf> {
    send: h3_quinn::SendStream<B>,
    recv: RecvStream<h3_quinn::RecvStream>,
}

impl<B: Buf> BidiStream<B> {
    fn new(stream: h3_quinn::BidiStream<B>, opener: &OpenStreams) -> Self {
        let (send, recv) = quic::BidiStream::split(stream);
        Self {
            send,
            recv: RecvStream::new(recv, Guard::framed(opener.limit), opener.conn.clone()),
        }
    }
}

impl<B: Buf> quic::BidiStream<B> for BidiStream<B> {
    type SendStream = h3_quinn::SendStream<B>;
    type RecvStream = RecvStream<h3_quinn::RecvStream>;

    fn split(self) -> (Self::SendStream, Self::RecvStream) {
        (self.send, self.recv)
    }
}

impl<B: Buf> quic::SendStream<B> for BidiStream<B> {
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StreamErrorIncoming>> {
        self.send.poll_ready(cx)
    }

    fn send_data<T: Into<WriteBuf<B>>>(&mut self, data: T) -> Result<(), StreamErrorIncoming> {
        self.send.send_data(data)
    }

    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StreamErrorIncoming>> {
        self.send.poll_finish(cx)
    }

    fn reset(&mut self, reset_code: u64) {
        self.send.reset(reset_code);
    }

    fn send_id(&self) -> StreamId {
        self.send.send_id()
    }
}

impl<B: Buf> quic::RecvStream for BidiStream<B> {
    type Buf = Bytes;

    /// As [`RecvStream`]'s; a request refused for a frame too large has its
    /// response side reset as well, so the client learns of it at once.
    fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Bytes>, StreamErrorIncoming>> {
        let fresh = self.recv.failed.is_none();
        let polled = self.recv.poll_data(cx);
        if fresh && self.recv.failed.is_some() {
            quic::SendStream::<B>::reset(&mut self.send, H3_EXCESSIVE_LOAD.into());
        }
        polled
    }

    fn stop_sending(&mut self, error_code: u64) {
        self.recv.stop_sending(error_code);
    }

    fn recv_id(&self) -> StreamId {
        self.recv.recv_id()
    }
}

/// A receiving stream whose frame headers are checked as they pass.
///
/// It also keeps h3-quinn from panicking: its `RecvStream` lends the quinn
/// stream to the read in progress, and `stop_sending` or `recv_id` called
/// while a read is pending unwrap `None`. h3 hands out DATA it has buffered
/// even while its next read is pending, so a body found malformed right
/// then (longer than its `Content-Length`) panicked the request's task.
/// Here the stream ID is kept from the start, and a `STOP_SENDING` asked
/// for during a read goes out when the read completes (or, if the stream is
/// never read again, quinn stops it when it is dropped).
pub(crate) struct RecvStream<S> {
    inner: S,
    guard: Guard,
    conn: quinn::Connection,
    /// Set once a frame was too large: every later read fails too.
    failed: Option<StreamErrorIncoming>,
    id: StreamId,
    /// A read is pending: h3-quinn holds the stream.
    reading: bool,
    /// A `STOP_SENDING` code waiting for the read to complete.
    stop: Option<u64>,
    /// Empty DATA frames made safe (request streams).
    rewrite: Rewrite,
    /// The stream has ended (what `rewrite` holds is still to be given).
    ended: bool,
}

impl<S: quic::RecvStream> RecvStream<S> {
    fn new(inner: S, guard: Guard, conn: quinn::Connection) -> Self {
        Self {
            id: inner.recv_id(),
            inner,
            guard,
            conn,
            failed: None,
            reading: false,
            stop: None,
            rewrite: Rewrite::default(),
            ended: false,
        }
    }
}

impl<S> RecvStream<S> {
    /// The error every read gives once a frame was too large.
    fn failure(&self) -> StreamErrorIncoming {
        match self.failed {
            Some(StreamErrorIncoming::StreamTerminated { error_code }) => {
                StreamErrorIncoming::StreamTerminated { error_code }
            }
            _ => StreamErrorIncoming::ConnectionErrorIncoming {
                connection_error: ConnectionErrorIncoming::ApplicationClose {
                    error_code: H3_EXCESSIVE_LOAD.into(),
                },
            },
        }
    }
}

impl<S: quic::RecvStream<Buf = Bytes>> quic::RecvStream for RecvStream<S> {
    type Buf = Bytes;

    /// A frame too large on a request stream fails that stream: reading
    /// stops (`STOP_SENDING` with `H3_EXCESSIVE_LOAD`) and h3 sees the
    /// stream reset. One on the control stream closes the connection.
    fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Bytes>, StreamErrorIncoming>> {
        if self.failed.is_some() {
            return Poll::Ready(Err(self.failure()));
        }
        let too_large = loop {
            if self.ended {
                return Poll::Ready(Ok(self.rewrite.finish()));
            }
            let polled = self.inner.poll_data(cx);
            self.reading = polled.is_pending();
            if !self.reading {
                if let Some(code) = self.stop.take() {
                    self.inner.stop_sending(code);
                }
            }
            let Some(chunk) = ready!(polled)? else {
                self.ended = true;
                continue;
            };
            let checked = if self.guard.request {
                self.rewrite.chunk(&mut self.guard, chunk)
            } else {
                self.guard.scan(&chunk).map(|()| chunk)
            };
            match checked {
                // All of it held back (part of a frame header): read on.
                Ok(chunk) if chunk.is_empty() => {}
                Ok(chunk) => return Poll::Ready(Ok(Some(chunk))),
                Err(too_large) => break too_large,
            }
        };
        let FrameTooLarge { ty, len } = too_large;
        let peer = self.conn.remote_address();
        if self.guard.request {
            tracing::debug!(%peer, frame_type = ty, len, "HTTP/3 request stream reset: frame too large");
            self.inner.stop_sending(H3_EXCESSIVE_LOAD.into());
            self.failed = Some(StreamErrorIncoming::StreamTerminated {
                error_code: H3_EXCESSIVE_LOAD.into(),
            });
        } else {
            tracing::debug!(%peer, frame_type = ty, len, "closing HTTP/3 connection: frame too large");
            self.conn
                .close(H3_EXCESSIVE_LOAD.into(), b"frame too large");
            self.failed = Some(self.failure());
        }
        Poll::Ready(Err(self.failure()))
    }

    fn stop_sending(&mut self, error_code: u64) {
        if self.reading {
            self.stop = Some(error_code);
        } else {
            self.inner.stop_sending(error_code);
        }
    }

    fn recv_id(&self) -> StreamId {
        self.id
    }
}

/// A frame longer than the limit: its type and declared length.
#[derive(Debug, PartialEq, Eq)]
struct FrameTooLarge {
    ty: u64,
    len: u64,
}

/// Follows the frame layout of one stream, byte by byte through the frame
/// headers and in one step over each payload.
#[derive(Debug)]
struct Guard {
    state: State,
    limit: u64,
    /// A request stream (else a unidirectional one).
    request: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A unidirectional stream's type (RFC 9114 §6.2): frames follow only
    /// on the control stream.
    StreamType(Varint),
    FrameType(Varint),
    Length {
        ty: u64,
        len: Varint,
    },
    Payload {
        remaining: u64,
    },
    /// Not frames (QPACK streams, which h3 does not read, and streams h3
    /// refuses): nothing to check.
    Unframed,
}

impl Guard {
    /// For a request stream: frames from the first byte.
    fn framed(limit: u64) -> Self {
        Self {
            state: State::FrameType(Varint::default()),
            limit,
            request: true,
        }
    }

    /// For a unidirectional stream: a stream type, then maybe frames.
    fn uni(limit: u64) -> Self {
        Self {
            state: State::StreamType(Varint::default()),
            limit,
            request: false,
        }
    }

    /// Advances over `bytes`; `Err` once a frame other than DATA declares a
    /// length over the limit (and from then on).
    fn scan(&mut self, bytes: &[u8]) -> Result<(), FrameTooLarge> {
        self.scan_marking(bytes).map(|_| ())
    }

    /// As [`scan`](Self::scan), also telling where in `bytes` the type of
    /// each empty DATA frame lies, and where a frame header that `bytes` ends
    /// in the middle of begins (if it begins in `bytes`).
    fn scan_marking(&mut self, mut bytes: &[u8]) -> Result<Marks, FrameTooLarge> {
        let total = bytes.len();
        let mut marks = Marks::default();
        // Where the current frame header began, and its type ended, in `bytes`.
        let mut header_start = None;
        let mut type_end = None;
        if self.state == State::FrameType(Varint::default()) {
            header_start = Some(0);
        }
        while !bytes.is_empty() {
            let pos = total - bytes.len();
            match &mut self.state {
                State::Unframed => return Ok(marks),
                State::Payload { remaining } => {
                    let step = (*remaining).min(bytes.len() as u64);
                    *remaining -= step;
                    bytes = &bytes[step as usize..];
                    if *remaining == 0 {
                        self.state = State::FrameType(Varint::default());
                        header_start = Some(total - bytes.len());
                    }
                }
                State::StreamType(varint) => {
                    if let Some(ty) = varint.push(&mut bytes) {
                        self.state = if ty == STREAM_CONTROL {
                            header_start = Some(total - bytes.len());
                            State::FrameType(Varint::default())
                        } else {
                            State::Unframed
                        };
                    }
                }
                State::FrameType(varint) => {
                    if varint.left == 0 {
                        header_start = Some(pos);
                    }
                    if let Some(ty) = varint.push(&mut bytes) {
                        type_end = Some(total - bytes.len());
                        self.state = if ty == FRAME_WEBTRANSPORT_STREAM {
                            State::Unframed
                        } else {
                            State::Length {
                                ty,
                                len: Varint::default(),
                            }
                        };
                    }
                }
                State::Length { ty, len } => {
                    if let Some(len) = len.push(&mut bytes) {
                        let ty = *ty;
                        if ty != FRAME_DATA && len > self.limit {
                            return Err(FrameTooLarge { ty, len });
                        }
                        if ty == FRAME_DATA && len == 0 {
                            if let (Some(start), Some(end)) = (header_start, type_end) {
                                marks.empty_data.push((start, end));
                            }
                        }
                        type_end = None;
                        self.state = if len == 0 {
                            header_start = Some(total - bytes.len());
                            State::FrameType(Varint::default())
                        } else {
                            header_start = None;
                            State::Payload { remaining: len }
                        };
                    }
                }
            }
        }
        if matches!(self.state, State::FrameType(v) if v.left > 0)
            || matches!(self.state, State::Length { .. })
        {
            marks.partial_header = header_start;
        }
        Ok(marks)
    }

    /// Starts again at a frame boundary: the bytes of a partial header are
    /// held back and scanned again with what follows them.
    fn restart_header(&mut self) {
        self.state = State::FrameType(Varint::default());
    }
}

/// What [`Guard::scan_marking`] found in a chunk.
#[derive(Debug, Default, PartialEq, Eq)]
struct Marks {
    /// The byte ranges of the types of empty DATA frames.
    empty_data: Vec<(usize, usize)>,
    /// Where a frame header cut off by the end of the chunk begins.
    partial_header: Option<usize>,
}

/// Makes a request stream's chunks safe for h3 0.0.8, which takes an empty
/// DATA frame for the end of the body: the next DATA frame then arrived
/// where it expected trailers, and it closed the whole connection with
/// `H3_FRAME_UNEXPECTED` (RFC 9114 allows empty DATA frames). Each empty
/// DATA frame's type becomes a reserved type (0x21, in as many bytes), which
/// h3 skips. To see a frame header whole, the bytes of one cut off at the
/// end of a chunk are held back and given with the next.
#[derive(Debug, Default)]
struct Rewrite {
    held: Option<Bytes>,
}

impl Rewrite {
    /// The bytes to hand to h3 for `chunk` (maybe none yet).
    fn chunk(&mut self, guard: &mut Guard, chunk: Bytes) -> Result<Bytes, FrameTooLarge> {
        let chunk = match self.held.take() {
            Some(held) => {
                let mut joined = Vec::with_capacity(held.len() + chunk.len());
                joined.extend_from_slice(&held);
                joined.extend_from_slice(&chunk);
                Bytes::from(joined)
            }
            None => chunk,
        };
        let marks = guard.scan_marking(&chunk)?;
        let mut chunk = if marks.empty_data.is_empty() {
            chunk
        } else {
            let mut bytes = bytes::BytesMut::from(&chunk[..]);
            for (start, end) in marks.empty_data {
                // The same varint length, the value 0x21.
                let prefix = bytes[start] & 0xc0;
                bytes[start..end].fill(0);
                bytes[start] |= prefix;
                bytes[end - 1] |= RESERVED_FRAME;
            }
            bytes.freeze()
        };
        if let Some(start) = marks.partial_header {
            self.held = Some(chunk.split_off(start));
            guard.restart_header();
        }
        Ok(chunk)
    }

    /// At the end of the stream: what is still held (a header cut off by
    /// the end, which h3 then reports as an incomplete frame).
    fn finish(&mut self) -> Option<Bytes> {
        self.held.take()
    }
}

/// The reserved frame type (`0x1f * N + 0x21`, N = 0) empty DATA frames
/// are turned into.
const RESERVED_FRAME: u8 = 0x21;

/// A QUIC variable-length integer (RFC 9000 §16) read a byte at a time.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Varint {
    value: u64,
    /// Bytes still to read; 0 before the first byte.
    left: u8,
}

impl Varint {
    /// Takes bytes from `bytes` until the integer is complete.
    fn push(&mut self, bytes: &mut &[u8]) -> Option<u64> {
        while let Some((&b, rest)) = bytes.split_first() {
            *bytes = rest;
            if self.left == 0 {
                self.left = 1 << (b >> 6);
                self.value = u64::from(b & 0x3f);
            } else {
                self.value = (self.value << 8) | u64::from(b);
            }
            self.left -= 1;
            if self.left == 0 {
                let value = self.value;
                *self = Self::default();
                return Some(value);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(v: u64) -> Vec<u8> {
        if v < 1 << 6 {
            vec![v as u8]
        } else if v < 1 << 14 {
            (0x4000 | v as u16).to_be_bytes().to_vec()
        } else if v < 1 << 30 {
            (0x8000_0000 | v as u32).to_be_bytes().to_vec()
        } else {
            (0xc000_0000_0000_0000 | v).to_be_bytes().to_vec()
        }
    }

    fn frame(ty: u64, len: u64, payload: usize) -> Vec<u8> {
        let mut out = varint(ty);
        out.extend(varint(len));
        out.extend(std::iter::repeat_n(0xab, payload));
        out
    }

    /// Feeds `bytes` one byte at a time, then in one piece: the result must
    /// not depend on how the stream was cut.
    fn scan_both_ways(guard: impl Fn() -> Guard, bytes: &[u8]) -> Result<(), FrameTooLarge> {
        let mut whole = guard();
        let at_once = whole.scan(bytes);
        let mut split = guard();
        let by_byte = bytes.chunks(1).try_for_each(|b| split.scan(b));
        assert_eq!(at_once, by_byte);
        at_once
    }

    #[test]
    fn frames_up_to_the_limit_and_any_data_pass() {
        let mut bytes = frame(0x01, 100, 100);
        bytes.extend(frame(0x00, 1 << 20, 1 << 20));
        bytes.extend(frame(0x21, 100, 100));
        bytes.extend(frame(0x01, 100, 100));
        bytes.extend(frame(0x00, 1 << 40, 10));
        assert_eq!(scan_both_ways(|| Guard::framed(100), &bytes), Ok(()));
    }

    #[test]
    fn a_frame_over_the_limit_is_caught_at_its_header() {
        for ty in [0x01, 0x04, 0x21, 0x1f * 7 + 0x21] {
            let mut bytes = frame(0x01, 10, 10);
            bytes.extend(frame(0x00, 5, 5));
            bytes.extend(frame(ty, 101, 0));
            assert_eq!(
                scan_both_ways(|| Guard::framed(100), &bytes),
                Err(FrameTooLarge { ty, len: 101 })
            );
        }
        // A declared length of 2^62 - 1, the largest there is.
        let bytes = frame(0x21, (1 << 62) - 1, 0);
        assert!(scan_both_ways(|| Guard::framed(100), &bytes).is_err());
    }

    #[test]
    fn only_the_control_stream_of_the_unidirectional_ones_is_checked() {
        let mut control = varint(0x00);
        control.extend(frame(0x04, 4, 4));
        control.extend(frame(0x21, 1 << 30, 0));
        assert!(scan_both_ways(|| Guard::uni(100), &control).is_err());
        // A QPACK encoder stream: instructions, not frames.
        let mut encoder = varint(0x02);
        encoder.extend([0x3f, 0xff, 0xff, 0xff, 0x0f]);
        encoder.extend(frame(0x21, 1 << 30, 0));
        assert_eq!(scan_both_ways(|| Guard::uni(100), &encoder), Ok(()));
    }

    #[test]
    fn the_limit_leaves_room_for_any_accepted_field_section() {
        assert_eq!(frame_limit(16 * 1024), 32 * 1024);
        assert_eq!(frame_limit(100), 16 * 1024);
        assert_eq!(frame_limit(u64::MAX), u64::MAX);
    }

    /// Splits a stream's bytes into `(type, payload)` frames.
    fn parse(mut bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let mut frames = Vec::new();
        while !bytes.is_empty() {
            let ty = Varint::default().push(&mut bytes).expect("type");
            let len = Varint::default().push(&mut bytes).expect("length") as usize;
            frames.push((ty, bytes[..len].to_vec()));
            bytes = &bytes[len..];
        }
        frames
    }

    /// Runs `bytes`, cut at `cuts`, through a request stream's rewrite; the
    /// chunks h3 would get, joined.
    fn rewritten(bytes: &[u8], cuts: &[usize]) -> Result<Vec<u8>, FrameTooLarge> {
        let mut guard = Guard::framed(100);
        let mut rewrite = Rewrite::default();
        let mut out = Vec::new();
        let mut from = 0;
        for &cut in cuts.iter().chain([bytes.len()].iter()) {
            let chunk = rewrite.chunk(&mut guard, Bytes::copy_from_slice(&bytes[from..cut]))?;
            out.extend_from_slice(&chunk);
            from = cut;
        }
        out.extend(rewrite.finish().unwrap_or_default());
        Ok(out)
    }

    #[test]
    fn empty_data_frames_become_reserved_ones_wherever_the_stream_is_cut() {
        let mut bytes = frame(0x01, 3, 3);
        bytes.extend(frame(0x00, 0, 0));
        bytes.extend(frame(0x00, 5, 5));
        bytes.extend(frame(0x00, 0, 0));
        // An empty DATA frame with a two-byte type and a four-byte length.
        bytes.extend([0x40, 0x00, 0x80, 0x00, 0x00, 0x00]);
        bytes.extend(frame(0x21, 2, 2));
        bytes.extend(frame(0x00, 70, 70));
        bytes.extend(frame(0x00, 0, 0));
        let expected: Vec<(u64, Vec<u8>)> = parse(&bytes)
            .into_iter()
            .map(|(ty, payload)| match (ty, payload.len()) {
                (0x00, 0) => (0x21, payload),
                _ => (ty, payload),
            })
            .collect();
        assert_eq!(expected.iter().filter(|(ty, _)| *ty == 0x21).count(), 5);
        // Uncut, cut once anywhere, cut twice anywhere.
        assert_eq!(parse(&rewritten(&bytes, &[]).unwrap()), expected);
        for a in 0..=bytes.len() {
            let out = rewritten(&bytes, &[a]).unwrap();
            assert_eq!(out.len(), bytes.len());
            assert_eq!(parse(&out), expected, "cut at {a}");
            for b in a..=bytes.len() {
                assert_eq!(parse(&rewritten(&bytes, &[a, b]).unwrap()), expected);
            }
        }
        // Cut at every byte.
        let every: Vec<usize> = (1..bytes.len()).collect();
        assert_eq!(parse(&rewritten(&bytes, &every).unwrap()), expected);
    }

    #[test]
    fn the_rewrite_still_refuses_frames_over_the_limit_and_passes_data_untouched() {
        let mut bytes = frame(0x01, 3, 3);
        bytes.extend(frame(0x00, 50, 50));
        assert_eq!(rewritten(&bytes, &[1, 4, 9]).unwrap(), bytes);
        bytes.extend(frame(0x21, 101, 0));
        for cut in 0..=bytes.len() {
            assert_eq!(
                rewritten(&bytes, &[cut]),
                Err(FrameTooLarge { ty: 0x21, len: 101 })
            );
        }
    }

    #[test]
    fn a_header_cut_off_by_the_end_of_the_stream_is_handed_on() {
        let mut bytes = frame(0x00, 2, 2);
        bytes.extend([0x40]);
        assert_eq!(rewritten(&bytes, &[3]).unwrap(), bytes);
    }
}
