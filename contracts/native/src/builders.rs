//! Column builders: one per Arrow array of the output, kept in an arena and addressed by index.
//!
//! Every builder can report its length and be truncated back to an earlier length, so that an event found not clean
//! half-way through leaves no trace: the decoder takes a snapshot of every length before an event and restores it
//! when the event fails.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

/// A growable bitmap (Arrow's LSB bit order).
#[derive(Default)]
pub struct Bits {
    pub(crate) bytes: Vec<u8>,
    len: usize,
}

impl Bits {
    #[inline]
    pub fn push(&mut self, bit: bool) {
        if self.len % 8 == 0 {
            self.bytes.push(0);
        }
        if bit {
            *self.bytes.last_mut().unwrap() |= 1 << (self.len % 8);
        }
        self.len += 1;
    }

    pub fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        self.len = len;
        self.bytes.truncate(len.div_ceil(8));
        if len % 8 != 0 {
            *self.bytes.last_mut().unwrap() &= (1u8 << (len % 8)) - 1;
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn count_zeros(&self) -> usize {
        let ones: usize = self.bytes.iter().map(|b| b.count_ones() as usize).sum();
        self.len - ones
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// What a builder holds besides its validity bitmap.
pub enum Values {
    /// No values of its own: a struct (its children are other builders).
    None,
    Bool(Bits),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F64(Vec<f64>),
    I128(Vec<i128>),
    /// Variable-size binary or text: offsets (one more than the slots) and the bytes.
    Binary { offsets: Vec<i32>, data: Vec<u8> },
    /// A list or a map: offsets into the child builder(s).
    Offsets(Vec<i32>),
    /// Raw JSON text of a value checked later by pydantic, and whether the key was missing.
    Raw { offsets: Vec<i32>, data: Vec<u8>, missing: Bits },
}

pub struct Builder {
    pub valid: Bits,
    pub values: Values,
}

/// Offsets past this many bytes or items would overflow Arrow's 32-bit offsets: the event is left to pydantic.
pub const MAX_OFFSET: usize = i32::MAX as usize - 1;

impl Builder {
    pub fn new(kind: &str) -> Option<Self> {
        let values = match kind {
            "struct" => Values::None,
            "bool" => Values::Bool(Bits::default()),
            "i32" => Values::I32(Vec::new()),
            "i64" => Values::I64(Vec::new()),
            "f64" => Values::F64(Vec::new()),
            "i128" => Values::I128(Vec::new()),
            "binary" => Values::Binary { offsets: vec![0], data: Vec::new() },
            "offsets" => Values::Offsets(vec![0]),
            "raw" => Values::Raw { offsets: vec![0], data: Vec::new(), missing: Bits::default() },
            _ => return None,
        };
        Some(Builder { valid: Bits::default(), values })
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.valid.len()
    }

    /// The bytes of text this builder holds (0 for others).
    pub fn data_len(&self) -> usize {
        match &self.values {
            Values::Binary { data, .. } | Values::Raw { data, .. } => data.len(),
            _ => 0,
        }
    }

    /// Room for ``slots`` values and ``bytes`` of text (the previous batch's sizes): no reallocation while
    /// decoding a batch like it.
    pub fn reserve(&mut self, slots: usize, bytes: usize) {
        self.valid.bytes.reserve(slots / 8 + 1);
        match &mut self.values {
            Values::None => {}
            Values::Bool(bits) => bits.bytes.reserve(slots / 8 + 1),
            Values::I32(v) => v.reserve(slots),
            Values::I64(v) => v.reserve(slots),
            Values::F64(v) => v.reserve(slots),
            Values::I128(v) => v.reserve(slots),
            Values::Binary { offsets, data } => {
                offsets.reserve(slots);
                data.reserve(bytes);
            }
            Values::Offsets(offsets) => offsets.reserve(slots),
            Values::Raw { offsets, data, missing } => {
                offsets.reserve(slots);
                data.reserve(bytes);
                missing.bytes.reserve(slots / 8 + 1);
            }
        }
    }

    /// A null slot (a struct's children get theirs from the caller).
    pub fn push_null(&mut self) {
        self.valid.push(false);
        match &mut self.values {
            Values::None => {}
            Values::Bool(bits) => bits.push(false),
            Values::I32(v) => v.push(0),
            Values::I64(v) => v.push(0),
            Values::F64(v) => v.push(0.0),
            Values::I128(v) => v.push(0),
            Values::Binary { offsets, .. } | Values::Offsets(offsets) => offsets.push(*offsets.last().unwrap()),
            Values::Raw { offsets, missing, .. } => {
                offsets.push(*offsets.last().unwrap());
                missing.push(false);
            }
        }
    }

    pub fn truncate(&mut self, len: usize) {
        if len >= self.len() {
            return;
        }
        self.valid.truncate(len);
        match &mut self.values {
            Values::None => {}
            Values::Bool(bits) => bits.truncate(len),
            Values::I32(v) => v.truncate(len),
            Values::I64(v) => v.truncate(len),
            Values::F64(v) => v.truncate(len),
            Values::I128(v) => v.truncate(len),
            Values::Binary { offsets, data } => {
                offsets.truncate(len + 1);
                data.truncate(*offsets.last().unwrap() as usize);
            }
            Values::Offsets(offsets) => offsets.truncate(len + 1),
            Values::Raw { offsets, data, missing } => {
                offsets.truncate(len + 1);
                data.truncate(*offsets.last().unwrap() as usize);
                missing.truncate(len);
            }
        }
    }

    /// ``(length, null count, validity, *buffers)``; validity is ``None`` without nulls. Buffers: a bitmap of
    /// values (bool); the values (fixed width, little-endian); offsets and data (binary); offsets (list, map);
    /// offsets, data and the missing bitmap (raw).
    pub fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let length = self.len();
        let nulls = self.valid.count_zeros();
        let validity: Bound<'py, PyAny> = if nulls == 0 {
            py.None().into_bound(py)
        } else {
            PyBytes::new(py, self.valid.as_bytes()).into_any()
        };
        let mut items: Vec<Bound<'py, PyAny>> =
            vec![length.into_pyobject(py)?.into_any(), nulls.into_pyobject(py)?.into_any(), validity];
        match &self.values {
            Values::None => {}
            Values::Bool(bits) => items.push(PyBytes::new(py, bits.as_bytes()).into_any()),
            Values::I32(v) => items.push(PyBytes::new(py, as_bytes(v)).into_any()),
            Values::I64(v) => items.push(PyBytes::new(py, as_bytes(v)).into_any()),
            Values::F64(v) => items.push(PyBytes::new(py, as_bytes(v)).into_any()),
            Values::I128(v) => items.push(PyBytes::new(py, as_bytes(v)).into_any()),
            Values::Binary { offsets, data } => {
                items.push(PyBytes::new(py, as_bytes(offsets)).into_any());
                items.push(PyBytes::new(py, data).into_any());
            }
            Values::Offsets(offsets) => items.push(PyBytes::new(py, as_bytes(offsets)).into_any()),
            Values::Raw { offsets, data, missing } => {
                items.push(PyBytes::new(py, as_bytes(offsets)).into_any());
                items.push(PyBytes::new(py, data).into_any());
                items.push(PyBytes::new(py, missing.as_bytes()).into_any());
            }
        }
        PyTuple::new(py, items)
    }
}

/// The bytes of a slice of plain numbers (little-endian on every platform Arrow and we build for).
fn as_bytes<T: Copy>(values: &[T]) -> &[u8] {
    // SAFETY: T is a plain number type (i32, i64, f64, i128): no padding, any bit pattern is a valid u8.
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values)) }
}
