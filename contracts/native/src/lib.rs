//! ``contracts._native``: raw JSON events decoded along a compiled contract straight into Arrow buffers.
//!
//! The Python side (``contracts/fast/``) compiles a contract into a tree of nodes (see ``spec.rs``) and a list of
//! builders (one per Arrow array); :class:`Decoder` reads a batch of events with jiter (pydantic-core's parser),
//! checks every value against its node, and returns for each event whether it is clean plus every builder's
//! buffers. An event that is not clean leaves no value behind: pydantic judges it on the per-row path.

mod builders;
mod decode;
mod scalars;
mod spec;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use std::sync::atomic::{AtomicUsize, Ordering};

use builders::Builder;
use decode::Decoder as Walk;
use spec::{Kind, Node};

/// A contract compiled for decoding: ``Decoder(root, builders)``.
///
/// ``root``: the event's struct node (a dict, see ``contracts/fast/plan.py``). ``builders``: one ``(kind,
/// children)`` per output array, ``kind`` one of ``struct``, ``bool``, ``i32``, ``i64``, ``f64``, ``i128``,
/// ``binary``, ``offsets``, ``raw``; ``children``: the builders that get a null slot with it (a struct's fields).
#[pyclass(frozen, module = "contracts._native")]
struct Decoder {
    root: Node,
    kinds: Vec<String>,
    null_children: Vec<Vec<usize>>,
    /// Per builder, the slots and text bytes of the last batch, per event (×1000): how much to reserve.
    sizes: Vec<(AtomicUsize, AtomicUsize)>,
}

#[pymethods]
impl Decoder {
    #[new]
    fn new(root: &Bound<'_, PyDict>, builders: &Bound<'_, PyList>) -> PyResult<Self> {
        let root = spec::node(root)?;
        if !matches!(root.kind, Kind::Struct(_)) {
            return Err(PyValueError::new_err("the root node must be a struct"));
        }
        let mut kinds = Vec::new();
        let mut null_children = Vec::new();
        for item in builders.iter() {
            let (kind, children): (String, Vec<usize>) = item.extract()?;
            if Builder::new(&kind).is_none() {
                return Err(PyValueError::new_err(format!("unknown builder kind {kind:?}")));
            }
            kinds.push(kind);
            null_children.push(children);
        }
        if null_children.iter().flatten().any(|&c| c >= kinds.len()) {
            return Err(PyValueError::new_err("a builder's child is out of range"));
        }
        let sizes = kinds.iter().map(|_| (AtomicUsize::new(0), AtomicUsize::new(0))).collect();
        Ok(Decoder { root, kinds, null_children, sizes })
    }

    /// Decode a batch: ``(flags, buffers)``. ``flags``: one byte per event, 1 when clean (its values are in the
    /// buffers, in batch order), 0 when pydantic must judge it (anything that is not ``bytes`` included).
    /// ``buffers``: per builder, ``(length, null count, validity or None, *buffers)`` (``Builder::to_python``).
    /// The GIL is released while decoding.
    fn decode<'py>(&self, py: Python<'py>, payloads: &Bound<'py, PyList>) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyList>)> {
        let owned: Vec<Option<Bound<'py, PyBytes>>> =
            payloads.iter().map(|p| p.cast_into::<PyBytes>().ok()).collect();
        let slices: Vec<Option<&[u8]>> = owned.iter().map(|p| p.as_ref().map(|b| b.as_bytes())).collect();
        let (flags, builders) = py.detach(|| self.run(&slices));
        let out = PyList::empty(py);
        for builder in &builders {
            out.append(builder.to_python(py)?)?;
        }
        Ok((PyBytes::new(py, &flags), out))
    }
}

impl Decoder {
    fn run(&self, payloads: &[Option<&[u8]>]) -> (Vec<u8>, Vec<Builder>) {
        let mut builders: Vec<Builder> = self.kinds.iter().map(|k| Builder::new(k).unwrap()).collect();
        let events = payloads.len();
        for (builder, (slots, bytes)) in builders.iter_mut().zip(&self.sizes) {
            let per_event = |size: &AtomicUsize| size.load(Ordering::Relaxed) * events / 1000;
            builder.reserve(per_event(slots), per_event(bytes));
        }
        let mut flags = vec![0u8; payloads.len()];
        let mut snapshot = vec![0usize; builders.len()];
        let mut tape = Vec::new();
        for (flag, payload) in flags.iter_mut().zip(payloads) {
            let Some(data) = payload else { continue };
            for (slot, builder) in snapshot.iter_mut().zip(&builders) {
                *slot = builder.len();
            }
            let mut jiter = jiter::Jiter::with_tape(data, std::mem::take(&mut tape));
            let mut walk = Walk { builders: &mut builders, null_children: &self.null_children };
            let clean = walk.event(&self.root, &mut jiter).is_ok();
            tape = jiter.into_tape();
            if clean {
                *flag = 1;
            } else {
                for (builder, &len) in builders.iter_mut().zip(&snapshot) {
                    builder.truncate(len);
                }
            }
        }
        if events > 0 {
            for (builder, (slots, bytes)) in builders.iter().zip(&self.sizes) {
                slots.store(builder.len() * 1000 / events + 1, Ordering::Relaxed);
                bytes.store(builder.data_len() * 1000 / events + 1, Ordering::Relaxed);
            }
        }
        (flags, builders)
    }
}

/// Why the regex crate (pydantic-core's default engine) does not compile ``pattern``, or ``None``.
#[pyfunction]
fn regex_error(pattern: &str) -> Option<String> {
    regex::Regex::new(pattern).err().map(|e| e.to_string())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Decoder>()?;
    m.add_function(wrap_pyfunction!(regex_error, m)?)?;
    Ok(())
}
