use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::header::HeaderName;
use http::Response;
use pin_project_lite::pin_project;

use super::RequestId;

pin_project! {
    /// Response future of [`SetRequestId`](super::SetRequestId): echoes the id on the response.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        id: Option<RequestId>,
        header: HeaderName,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, id: RequestId, header: HeaderName) -> Self {
        ResponseFuture {
            inner,
            id: Some(id),
            header,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = ready!(this.inner.poll(cx))?;
        if let Some(id) = this.id.take() {
            // The id this layer set wins over one the inner service may have copied. Only the
            // header: a response extension would allocate the response's extension map (three
            // allocations) for what the header already says.
            let mut value = id.into_header_value();
            // Unique to this response: h2's HPACK encoder writes it as a "never indexed"
            // literal instead of adding it to the connection's table, where it would never be
            // used again, only evict entries that would be (and lengthen the chain every
            // later lookup of the name walks). `Debug` of the value now reads `Sensitive`.
            value.set_sensitive(true);
            res.headers_mut().insert(this.header.clone(), value);
        }
        Poll::Ready(Ok(res))
    }
}
