//! [`Eager`]: an endpoint's future, polled once as soon as it is made, when the router was
//! built with [`eager_handlers(true)`](crate::RouterBuilder::eager_handlers).
//!
//! Most handlers finish without waiting for anything. Polling one right when the router is
//! called (with a no-op waker) finishes it there, and drops its request there: before the
//! server goes on. That matters to hyper's HTTP/1 connections, which read their socket again
//! after calling the service and before polling its future (to notice a client that went
//! away). The request head borrows hyper's read buffer; while a handler still holds its
//! request, hyper cannot reuse that buffer and allocates a new 8 KiB one for every request
//! (~390 instructions, measured in BENCHMARKS.md).
//!
//! A future that is not done after that first poll is polled again by whoever polls the
//! router's future, with their waker, as usual: a future only ever wakes the waker of its
//! latest poll, so the no-op one is never relied on.
//!
//! A handler that panics in that first poll panics later, where it would have: when its
//! future is polled (in the task of its HTTP/2 stream, say, not in the connection's, whose
//! other streams would go with it).

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use pin_project_lite::pin_project;

pin_project! {
    /// A future that was polled once where it was created, holding its output if that poll
    /// finished it.
    #[project = EagerProj]
    pub(crate) enum Eager<F>
    where
        F: Future,
    {
        Running { #[pin] fut: F },
        Done { out: Option<F::Output> },
        Panicked { payload: Option<Box<dyn Any + Send>> },
    }
}

impl<F: Future> Eager<F> {
    /// Boxes `fut` (endpoints box their futures anyway, so routes of any handler type share
    /// one table) and, when `eager`, polls it once.
    pub(crate) fn boxed(fut: F, eager: bool) -> Pin<Box<Self>> {
        let mut boxed = Box::pin(Eager::Running { fut });
        if !eager {
            return boxed;
        }
        // Running, so this polls `fut`. A panic is kept for the first real poll; the future
        // that panicked is dropped now, as unwinding would have dropped it.
        let mut cx = Context::from_waker(Waker::noop());
        match catch_unwind(AssertUnwindSafe(|| boxed.as_mut().poll(&mut cx))) {
            Ok(Poll::Ready(out)) => boxed.set(Eager::Done { out: Some(out) }),
            Ok(Poll::Pending) => {}
            Err(payload) => boxed.set(Eager::Panicked {
                payload: Some(payload),
            }),
        }
        boxed
    }
}

impl<F: Future> Future for Eager<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        match self.project() {
            EagerProj::Running { fut } => fut.poll(cx),
            EagerProj::Done { out } => {
                Poll::Ready(out.take().expect("Eager polled after completion"))
            }
            EagerProj::Panicked { payload } => {
                resume_unwind(payload.take().expect("Eager polled after its panic"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn a_future_that_needs_no_waiting_is_done_before_it_is_polled() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&runs);
        let fut = Eager::boxed(
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                7
            },
            true,
        );
        assert_eq!(runs.load(Ordering::SeqCst), 1, "ran when made");
        assert!(matches!(*fut, Eager::Done { out: Some(7) }));
        assert_eq!(tokio_test::block_on(fut), 7);
        assert_eq!(runs.load(Ordering::SeqCst), 1, "and not again");
    }

    #[test]
    fn a_waiting_future_wakes_the_waker_of_its_later_poll() {
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let mut fut =
            tokio_test::task::spawn(Eager::boxed(async move { rx.await.unwrap() + 1 }, true));
        // The first poll in `boxed` saw nothing to read and kept the future running.
        tokio_test::assert_pending!(fut.poll());
        tx.send(41).unwrap();
        assert!(
            fut.is_woken(),
            "the real waker, not the no-op one, was woken"
        );
        tokio_test::assert_ready_eq!(fut.poll(), 42);
    }

    #[test]
    fn a_panic_in_the_first_poll_surfaces_when_the_future_is_polled() {
        let fut = Eager::boxed(
            async {
                if true {
                    panic!("handler bug");
                }
                1
            },
            true,
        );
        // Making it did not panic; polling it does, with the handler's payload.
        let payload = catch_unwind(AssertUnwindSafe(|| tokio_test::block_on(fut)))
            .expect_err("the panic is re-raised on poll");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"handler bug"));
    }

    #[test]
    fn a_value_sent_before_the_second_poll_is_not_lost() {
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let fut = Eager::boxed(async move { rx.await.unwrap() }, true);
        // Sent between the eager poll (no-op waker) and the first real one.
        tx.send(5).unwrap();
        assert_eq!(tokio_test::block_on(fut), 5);
    }

    #[test]
    fn without_eager_nothing_runs_until_the_future_is_polled() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&runs);
        let fut = Eager::boxed(
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                7
            },
            false,
        );
        assert_eq!(runs.load(Ordering::SeqCst), 0, "not run when made");
        assert_eq!(tokio_test::block_on(fut), 7);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
