fn main() {
    // `#[cfg(Py_3_10)]` and friends, for the interpreter the extension is built for.
    pyo3_build_config::use_pyo3_cfgs();
}
