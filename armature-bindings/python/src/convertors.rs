//! Starlette's path convertors (`/items/{id:int}`): which values a route's parameters take,
//! checked in Rust before the request reaches Python, and what `request.path_params` gives.
//!
//! A route with a convertor registers its path without it (`/items/{id}`); a request whose
//! parameter does not fit answers as a path no route matches (`404`), as in Starlette, or
//! falls through to the next route of its shape ([`in_order`](crate::in_order)). Only routes
//! with convertors carry the check, so the others cost nothing more.

use std::sync::Arc;

use armature_router::PathParams;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyFloat, PyString, PyType};

/// One of Starlette's convertors (`path` is the router's catch-all, not checked here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Convertor {
    /// `{name}` or `{name:str}`: any segment.
    Str,
    /// `[0-9]+`, given as an `int`.
    Int,
    /// `[0-9]+(\.[0-9]+)?`, given as a `float`.
    Float,
    /// Lowercase `8-4-4-4-12` hexadecimal, given as a `uuid.UUID`.
    Uuid,
}

impl Convertor {
    /// The convertor called `name` (`""` is `str`), or `None` for a name Starlette does not have.
    pub(crate) fn named(name: &str) -> Option<Self> {
        match name {
            "" | "str" | "path" => Some(Convertor::Str),
            "int" => Some(Convertor::Int),
            "float" => Some(Convertor::Float),
            "uuid" => Some(Convertor::Uuid),
            _ => None,
        }
    }

    /// Whether the (percent-decoded) `value` matches the convertor's regular expression whole.
    pub(crate) fn fits(self, value: &str) -> bool {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        match self {
            Convertor::Str => true,
            Convertor::Int => digits(value),
            Convertor::Float => match value.split_once('.') {
                Some((whole, fraction)) => digits(whole) && digits(fraction),
                None => digits(value),
            },
            Convertor::Uuid => {
                let bytes = value.as_bytes();
                bytes.len() == 36
                    && bytes.iter().enumerate().all(|(at, &b)| match at {
                        8 | 13 | 18 | 23 => b == b'-',
                        _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
                    })
            }
        }
    }

    /// The value Starlette's convertor gives for a `value` that fits.
    fn convert<'py>(self, py: Python<'py>, value: &str) -> PyResult<Bound<'py, PyAny>> {
        static UUID: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        match self {
            Convertor::Str => Ok(PyString::new(py, value).into_any()),
            Convertor::Int => match value.parse::<u64>() {
                Ok(small) => Ok(small.into_pyobject(py)?.into_any()),
                // Python's ints have no bound: past 64 bits, Python reads the digits.
                Err(_) => py.get_type::<pyo3::types::PyInt>().call1((value,)),
            },
            Convertor::Float => {
                // Correctly rounded, as Python's `float()`; the digits always parse.
                let number: f64 = value.parse().unwrap_or(f64::NAN);
                Ok(PyFloat::new(py, number).into_any())
            }
            Convertor::Uuid => UUID.import(py, "uuid", "UUID")?.call1((value,)),
        }
    }
}

/// A route's convertors, one per path parameter in order; in a checked request's extensions
/// (for `path_params`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Convertors(Arc<[Convertor]>);

impl Convertors {
    /// The convertors of one route from their names, `None` when they are all `str` (nothing to
    /// check). An unknown name is an error message (the Python side refuses those first).
    pub(crate) fn parse(names: &[String]) -> Result<Option<Self>, String> {
        let convertors = names
            .iter()
            .map(|name| {
                Convertor::named(name).ok_or_else(|| format!("unknown path convertor {name:?}"))
            })
            .collect::<Result<Arc<[Convertor]>, String>>()?;
        Ok(convertors
            .iter()
            .any(|c| *c != Convertor::Str)
            .then_some(Convertors(convertors)))
    }

    /// Whether every parameter fits its convertor.
    pub(crate) fn fit(&self, params: &PathParams) -> bool {
        params
            .iter()
            .zip(self.0.iter())
            .all(|((_, value), convertor)| convertor.fits(value))
    }

    /// The value of parameter number `at` (its text, for a parameter past the convertors).
    pub(crate) fn convert<'py>(
        &self,
        py: Python<'py>,
        at: usize,
        value: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.0
            .get(at)
            .copied()
            .unwrap_or(Convertor::Str)
            .convert(py, value)
    }
}

#[cfg(test)]
mod tests {
    use super::Convertor::{self, *};

    #[test]
    fn values_fit_as_starlettes_regular_expressions() {
        let cases: &[(Convertor, &str, bool)] = &[
            (Int, "0", true),
            (Int, "0042", true),
            (Int, "", false),
            (Int, "-1", false),
            (Int, "+1", false),
            (Int, "1.0", false),
            (Int, "١", false),
            (Float, "1", true),
            (Float, "1.5", true),
            (Float, "1.", false),
            (Float, ".5", false),
            (Float, "1e5", false),
            (Float, "1.2.3", false),
            (Float, "-1.5", false),
            (Uuid, "12345678-9abc-def0-1234-56789abcdef0", true),
            (Uuid, "12345678-9ABC-def0-1234-56789abcdef0", false),
            (Uuid, "123456789abcdef0123456789abcdef0", false),
            (Uuid, "12345678-9abc-def0-1234-56789abcdef", false),
            (Uuid, "1234567-89abc-def0-1234-56789abcdef0", false),
            (Str, "anything", true),
        ];
        for &(convertor, value, fits) in cases {
            assert_eq!(convertor.fits(value), fits, "{convertor:?} {value:?}");
        }
    }
}
