//! Starlette's path convertors (`/items/{id:int}`): which values a route's parameters take,
//! checked in Rust before the request reaches Python, and what `request.path_params` gives.
//!
//! A route with a convertor registers its path without it (`/items/{id}`); a request whose
//! parameter does not fit answers as a path no route matches (`404`), as in Starlette, or
//! falls through to the next route of its shape. Routes with convertors are checked by
//! [`in_order`](crate::in_order)'s dispatch; the others cost nothing more.
//!
//! Starlette's five are checked by name; one registered with `register_url_convertor` by its
//! `regex` (the `regex` crate's syntax, matched whole against one segment), and its Python
//! `convert` makes `path_params`' value.

use std::fmt;
use std::sync::Arc;

use armature_router::PathParams;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyFloat, PyString, PyType};

/// One of Starlette's convertors (`path` is the router's catch-all, not checked here), or one
/// the app registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Convertor {
    /// `{name}` or `{name:str}`: any segment.
    Str,
    /// `[0-9]+`, given as an `int`.
    Int,
    /// `[0-9]+(\.[0-9]+)?`, given as a `float`.
    Float,
    /// `8-4-4-4-12` hexadecimal digits, either case, each dash optional (as Starlette's since
    /// 0.44), given as a `uuid.UUID`.
    Uuid,
    /// `register_url_convertor(key, convertor)`: its `regex`, its `convert`.
    Custom(Arc<Custom>),
}

/// A convertor the app registered, by its key.
pub(crate) struct Custom {
    key: String,
    /// `^(?:regex)$`.
    regex: regex::Regex,
    /// The Python object, whose `convert(value)` makes the value. Behind a trait object, so
    /// that code (and tests) that never meets one does not reference Python's API.
    convertor: Box<dyn Convert>,
}

/// What makes a registered convertor's value: its Python object.
trait Convert: Send + Sync {
    fn convert<'py>(&self, py: Python<'py>, value: &str) -> PyResult<Bound<'py, PyAny>>;
}

impl Convert for Py<PyAny> {
    fn convert<'py>(&self, py: Python<'py>, value: &str) -> PyResult<Bound<'py, PyAny>> {
        self.bind(py)
            .call_method1(pyo3::intern!(py, "convert"), (value,))
    }
}

impl fmt::Debug for Custom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Custom")
            .field("key", &self.key)
            .field("regex", &self.regex.as_str())
            .finish_non_exhaustive()
    }
}

/// Two routes' convertors are the same when they have the same key.
impl PartialEq for Custom {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Custom {}

/// How the Python side names a route's convertor: one of Starlette's by name, or a registered
/// one as `(key, regex, convertor)`.
#[derive(FromPyObject)]
pub(crate) enum Spec {
    Named(String),
    Custom(String, String, Py<PyAny>),
}

impl Spec {
    fn parse(self) -> Result<Convertor, String> {
        match self {
            Spec::Named(name) => {
                Convertor::named(&name).ok_or_else(|| format!("unknown path convertor {name:?}"))
            }
            Spec::Custom(key, regex, convertor) => {
                let whole = regex::Regex::new(&format!("^(?:{regex})$")).map_err(|err| {
                    format!("path convertor {key:?}: its regex {regex:?} does not compile: {err}")
                })?;
                Ok(Convertor::Custom(Arc::new(Custom {
                    key,
                    regex: whole,
                    convertor: Box::new(convertor),
                })))
            }
        }
    }
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
    pub(crate) fn fits(&self, value: &str) -> bool {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        match self {
            Convertor::Str => true,
            Convertor::Int => digits(value),
            Convertor::Float => match value.split_once('.') {
                Some((whole, fraction)) => digits(whole) && digits(fraction),
                None => digits(value),
            },
            Convertor::Uuid => {
                // Starlette's `[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?…-?[0-9a-fA-F]{12}`, whole.
                let mut rest = value.as_bytes();
                let groups = [8, 4, 4, 4, 12].into_iter().enumerate().all(|(at, len)| {
                    if let (1.., [b'-', tail @ ..]) = (at, rest) {
                        rest = tail;
                    }
                    let fits = rest.len() >= len && rest[..len].iter().all(u8::is_ascii_hexdigit);
                    rest = rest.get(len..).unwrap_or_default();
                    fits
                });
                groups && rest.is_empty()
            }
            Convertor::Custom(custom) => custom.regex.is_match(value),
        }
    }

    /// The value Starlette's convertor gives for a `value` that fits.
    fn convert<'py>(&self, py: Python<'py>, value: &str) -> PyResult<Bound<'py, PyAny>> {
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
            Convertor::Custom(custom) => custom.convertor.convert(py, value),
        }
    }
}

/// A route's convertors, one per path parameter in order; in a checked request's extensions
/// (for `path_params`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Convertors(Arc<[Convertor]>);

impl Convertors {
    /// The convertors of one route, `None` when they are all `str` (nothing to check). An
    /// unknown name, or a regex that does not compile, is an error message.
    pub(crate) fn parse(specs: Vec<Spec>) -> Result<Option<Self>, String> {
        let convertors = specs
            .into_iter()
            .map(Spec::parse)
            .collect::<Result<Vec<Convertor>, String>>()?;
        Ok(Self::checking(convertors))
    }

    /// `convertors`, `None` when they are all `str` (nothing to check).
    pub(crate) fn checking(convertors: Vec<Convertor>) -> Option<Self> {
        convertors
            .iter()
            .any(|c| *c != Convertor::Str)
            .then(|| Convertors(convertors.into()))
    }

    /// Whether every value `later` takes, `earlier` takes too (`None`: no convertors, every
    /// value): then a route with `later` after one with `earlier` is never reached. Known
    /// where it is sure: `str` takes all, `float` every `int`, a convertor itself; a registered
    /// one only itself.
    pub(crate) fn covers(earlier: Option<&Self>, later: Option<&Self>) -> bool {
        let Some(earlier) = earlier else {
            return true;
        };
        let at = |convertors: Option<&Self>, i: usize| {
            convertors
                .and_then(|c| c.0.get(i))
                .unwrap_or(&Convertor::Str)
                .clone()
        };
        let count = earlier.0.len().max(later.map_or(0, |l| l.0.len()));
        (0..count).all(|i| match (at(Some(earlier), i), at(later, i)) {
            (Convertor::Str, _) | (Convertor::Float, Convertor::Int) => true,
            (a, b) => a == b,
        })
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
        match self.0.get(at) {
            Some(convertor) => convertor.convert(py, value),
            None => Ok(PyString::new(py, value).into_any()),
        }
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
            (Uuid, "12345678-9ABC-def0-1234-56789abcdef0", true),
            (Uuid, "123456789abcdef0123456789abcdef0", true),
            (Uuid, "12345678-9abcdef0-1234-56789abcdef0", true),
            (Uuid, "12345678-9abc-def0-1234-56789abcdef", false),
            (Uuid, "1234567-89abc-def0-1234-56789abcdef0", false),
            (Uuid, "12345678-9abc-def0-1234-56789abcdef01", false),
            (Uuid, "12345678--9abc-def0-1234-56789abcdef0", false),
            (Uuid, "-12345678-9abc-def0-1234-56789abcdef0", false),
            (Uuid, "12345678-9abc-def0-1234-56789abcdef0-", false),
            (Uuid, "12345678-9abg-def0-1234-56789abcdef0", false),
            (Uuid, "12345678-9abc-def0-1234-56789abcdéf", false),
            (Str, "anything", true),
        ];
        for (convertor, value, fits) in cases {
            assert_eq!(convertor.fits(value), *fits, "{convertor:?} {value:?}");
        }
    }

    #[test]
    fn a_registered_convertors_regex_is_matched_whole() {
        struct Never;
        impl super::Convert for Never {
            fn convert<'py>(
                &self,
                _: pyo3::Python<'py>,
                _: &str,
            ) -> pyo3::PyResult<pyo3::Bound<'py, pyo3::PyAny>> {
                unreachable!("only `fits` is called here")
            }
        }
        let date = Custom(std::sync::Arc::new(super::Custom {
            key: "date".to_owned(),
            regex: regex::Regex::new("^(?:[0-9]{4}-[0-9]{2}(-[0-9]{2})?)$").unwrap(),
            convertor: Box::new(Never),
        }));
        for (value, fits) in [
            ("2026-12-07", true),
            ("2026-12", true),
            ("x2026-12-07", false),
            ("2026-12-07x", false),
            ("2026-1-07", false),
            ("", false),
        ] {
            assert_eq!(date.fits(value), fits, "{value:?}");
        }
    }
}
