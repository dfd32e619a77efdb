//! Stepping a handler's coroutine once, as `coro.send(None)` does, but without raising
//! `StopIteration` when it returns: most handlers return on their first step, and making,
//! fetching and dropping that exception was a quarter of the Python thread's work per request.

use pyo3::prelude::*;

/// What one step of a coroutine gave.
pub(crate) enum Step<'py> {
    /// It suspended, yielding this (a Future, usually).
    Yielded(Bound<'py, PyAny>),
    /// It returned this.
    Returned(Bound<'py, PyAny>),
}

/// `coro.send(None)`, through `PyIter_Send` (Python 3.10+), which reports a return without an
/// exception.
#[cfg(all(Py_3_10, not(PyPy)))]
pub(crate) fn send_none<'py>(coro: &Bound<'py, PyAny>) -> PyResult<Step<'py>> {
    use pyo3::types::iterator::PySendResult;
    use pyo3::types::PyIterator;
    let py = coro.py();
    // SAFETY: only the static type changes; nothing but `send` is called on it. `send` is
    // `PyIter_Send`, which takes any object whose type has `am_send` (coroutines do; that is
    // what `await` uses) or is an iterator. The caller passes an exact `types.CoroutineType`.
    let iter = unsafe { coro.cast_unchecked::<PyIterator>() };
    Ok(match iter.send(py.None().bind(py))? {
        PySendResult::Next(yielded) => Step::Yielded(yielded),
        PySendResult::Return(value) => Step::Returned(value),
    })
}

/// `coro.send(None)`, catching the `StopIteration` that carries the return value.
#[cfg(not(all(Py_3_10, not(PyPy))))]
pub(crate) fn send_none<'py>(coro: &Bound<'py, PyAny>) -> PyResult<Step<'py>> {
    use pyo3::exceptions::PyStopIteration;
    let py = coro.py();
    match coro.call_method1(pyo3::intern!(py, "send"), (py.None(),)) {
        Ok(yielded) => Ok(Step::Yielded(yielded)),
        Err(err) if err.is_instance_of::<PyStopIteration>(py) => err
            .value(py)
            .getattr(pyo3::intern!(py, "value"))
            .map(Step::Returned),
        Err(err) => Err(err),
    }
}
