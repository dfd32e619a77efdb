//! The methods a transport wrapper (`Linger`, `ParseErrors`, `Rewind`) passes to its `inner`
//! field unchanged, written once.
//!
//! `forward_io!(poll_read)` inside an `impl AsyncRead` and
//! `forward_io!(poll_write, poll_flush, ...)` inside an `impl AsyncWrite` expand to methods
//! that call the same method on `self.inner` (which must be `Unpin`).

macro_rules! forward_io {
    ($($method:ident),+ $(,)?) => {
        $(forward_io!(@one $method);)+
    };
    (@one poll_read) => {
        fn poll_read(
            mut self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
            buf: &mut ::tokio::io::ReadBuf<'_>,
        ) -> ::std::task::Poll<::std::io::Result<()>> {
            ::std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    };
    (@one poll_write) => {
        fn poll_write(
            mut self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
            buf: &[u8],
        ) -> ::std::task::Poll<::std::io::Result<usize>> {
            ::std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
        }
    };
    (@one poll_write_vectored) => {
        fn poll_write_vectored(
            mut self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
            bufs: &[::std::io::IoSlice<'_>],
        ) -> ::std::task::Poll<::std::io::Result<usize>> {
            ::std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
        }
    };
    (@one is_write_vectored) => {
        fn is_write_vectored(&self) -> bool {
            self.inner.is_write_vectored()
        }
    };
    (@one poll_flush) => {
        fn poll_flush(
            mut self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
        ) -> ::std::task::Poll<::std::io::Result<()>> {
            ::std::pin::Pin::new(&mut self.inner).poll_flush(cx)
        }
    };
    (@one poll_shutdown) => {
        fn poll_shutdown(
            mut self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
        ) -> ::std::task::Poll<::std::io::Result<()>> {
            ::std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    };
}

pub(crate) use forward_io;
