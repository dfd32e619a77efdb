//! Python values (dict, list, str, int, float, bool, None, Pydantic models, enums, and the
//! types FastAPI's `jsonable_encoder` knows, through `armature.encoders`) to JSON bytes,
//! written by sonic-rs without building an intermediate Python string.

use std::borrow::Cow;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyModule, PyString, PyTuple};
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// Deeper than this is almost surely a cycle; Python's `json` would say the same.
const MAX_DEPTH: u32 = 256;

struct Value<'a, 'py> {
    obj: &'a Bound<'py, PyAny>,
    depth: u32,
}

impl Serialize for Value<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let obj = self.obj;
        if self.depth > MAX_DEPTH {
            return Err(S::Error::custom("value nested too deeply (a cycle?)"));
        }
        if obj.is_none() {
            return s.serialize_unit();
        }
        if let Ok(text) = obj.cast::<PyString>() {
            return s.serialize_str(text.to_str().map_err(S::Error::custom)?);
        }
        if let Ok(flag) = obj.cast::<PyBool>() {
            return s.serialize_bool(flag.is_true());
        }
        if obj.cast::<PyInt>().is_ok() {
            if let Ok(n) = obj.extract::<i64>() {
                return s.serialize_i64(n);
            }
            if let Ok(n) = obj.extract::<u64>() {
                return s.serialize_u64(n);
            }
            // Beyond 64 bits: its digits, as a JSON number, as Python's json writes it.
            return big_int(obj).map_err(S::Error::custom)?.serialize(s);
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            let f = f.value();
            if !f.is_finite() {
                // As Python's `json.dumps(allow_nan=False)`, which FastAPI's responses use:
                // JSON has no NaN or infinity, and writing `null` would lose the value silently.
                return Err(S::Error::custom(format!(
                    "Out of range float values are not JSON compliant: {f}"
                )));
            }
            return s.serialize_f64(f);
        }
        if let Ok(dict) = obj.cast::<PyDict>() {
            let mut map = s.serialize_map(Some(dict.len()))?;
            for (key, value) in dict.iter() {
                // A str key (nearly always) is written from Python's own UTF-8, not copied.
                let key: Cow<'_, str> = match key.cast::<PyString>() {
                    Ok(k) => Cow::Borrowed(k.to_str().map_err(S::Error::custom)?),
                    Err(_) if key.is_none() => Cow::Borrowed("null"),
                    // Python's json writes int, float and bool keys as strings.
                    Err(_) => match (Value {
                        obj: &key,
                        depth: 0,
                    })
                    .to_vec()
                    {
                        Ok(bytes) => {
                            Cow::Owned(String::from_utf8_lossy(&bytes).trim_matches('"').to_owned())
                        }
                        Err(err) => return Err(S::Error::custom(err)),
                    },
                };
                map.serialize_entry(&*key, &self.child(&value))?;
            }
            return map.end();
        }
        if let Ok(list) = obj.cast::<PyList>() {
            let mut seq = s.serialize_seq(Some(list.len()))?;
            for item in list.iter() {
                seq.serialize_element(&self.child(&item))?;
            }
            return seq.end();
        }
        if let Ok(tuple) = obj.cast::<PyTuple>() {
            let mut seq = s.serialize_seq(Some(tuple.len()))?;
            for item in tuple.iter() {
                seq.serialize_element(&self.child(&item))?;
            }
            return seq.end();
        }
        // Pydantic models: their own JSON-mode dump, then the same walk. By alias, as
        // FastAPI's `jsonable_encoder`: `Field(alias="userName")` is sent as `userName`.
        if let Ok(dump) = obj.getattr("model_dump") {
            let py = obj.py();
            let kwargs = PyDict::new(py);
            kwargs.set_item("mode", "json").map_err(S::Error::custom)?;
            kwargs
                .set_item("by_alias", true)
                .map_err(S::Error::custom)?;
            let plain = dump.call((), Some(&kwargs)).map_err(S::Error::custom)?;
            return self.child(&plain).serialize(s);
        }
        // Enums: their value.
        if let Ok(value) = obj.getattr("_value_") {
            return self.child(&value).serialize(s);
        }
        // The rest (datetime, UUID, Decimal, set, bytes, dataclasses...) as FastAPI writes
        // them: `armature.encoders.jsonable` gives a stand-in, or the `TypeError`.
        let py = obj.py();
        let plain = encoders(py)
            .and_then(|module| module.call_method1("jsonable", (obj,)))
            .map_err(S::Error::custom)?;
        self.child(&plain).serialize(s)
    }
}

/// An int of any size as a JSON number: its decimal digits (`int.__repr__`, not a subclass's).
fn big_int(obj: &Bound<'_, PyAny>) -> PyResult<sonic_rs::RawNumber> {
    let digits = obj
        .py()
        .get_type::<PyInt>()
        .call_method1(pyo3::intern!(obj.py(), "__repr__"), (obj,))?;
    sonic_rs::from_str(digits.cast::<PyString>()?.to_str()?)
        .map_err(|err| PyTypeError::new_err(err.to_string()))
}

/// `armature.encoders`.
fn encoders(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    crate::engine::module(py, &MODULE, "armature.encoders")
}

impl<'py> Value<'_, 'py> {
    fn child<'b>(&self, obj: &'b Bound<'py, PyAny>) -> Value<'b, 'py> {
        Value {
            obj,
            depth: self.depth + 1,
        }
    }

    fn to_vec(&self) -> Result<Vec<u8>, sonic_rs::Error> {
        sonic_rs::to_vec(self)
    }
}

/// Serializes `obj` to JSON bytes; a `TypeError` for what JSON cannot hold.
pub(crate) fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    Value { obj, depth: 0 }
        .to_vec()
        .map_err(|err| PyTypeError::new_err(err.to_string()))
}

/// `dumps(obj) -> bytes`: the serializer responses use, for Python code that needs the same.
#[pyfunction]
pub(crate) fn dumps<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    Ok(PyBytes::new(py, &to_json(obj)?))
}
