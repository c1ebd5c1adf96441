//! The compiled contract: a tree of nodes (what a JSON value must be, and which builder it goes to), read from the
//! plain Python structure that ``contracts/fast/plan.py`` builds (dicts, lists, numbers, strings).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use regex::Regex;

pub struct Node {
    pub nullable: bool,
    pub builder: usize,
    pub kind: Kind,
}

pub enum Kind {
    Bool,
    Int(IntRule),
    Float(FloatRule),
    Str(StrRule),
    Bytes(LenRule),
    Uuid { version: Option<u8> },
    Decimal(DecimalRule),
    Datetime { zone: Zone },
    Date,
    Time,
    Raw,
    List { item: Box<Node>, len: LenRule },
    /// ``key``: what pydantic's ``str`` schema does to a key (the model's ``str_*`` config: strip, length, case).
    Map { entries: usize, keys: usize, key: StrRule, value: Box<Node>, len: LenRule },
    Struct(StructRule),
    Union(UnionRule),
}

#[derive(Default)]
pub struct LenRule {
    pub min: Option<usize>,
    pub max: Option<usize>,
}

impl LenRule {
    #[inline]
    pub fn holds(&self, len: usize) -> bool {
        self.min.is_none_or(|m| len >= m) && self.max.is_none_or(|m| len <= m)
    }
}

#[derive(Default)]
pub struct IntRule {
    pub ge: Option<i64>,
    pub gt: Option<i64>,
    pub le: Option<i64>,
    pub lt: Option<i64>,
    pub multiple_of: Option<i64>,
    pub literals: Option<Vec<i64>>,
}

#[derive(Default)]
pub struct FloatRule {
    pub ge: Option<f64>,
    pub gt: Option<f64>,
    pub le: Option<f64>,
    pub lt: Option<f64>,
}

pub struct StrRule {
    pub len: LenRule,
    pub pattern: Option<Regex>,
    pub literals: Option<Vec<Box<str>>>,
    pub strip: bool,
    pub lower: bool,
    pub upper: bool,
}

#[derive(Default)]
pub struct DecimalRule {
    pub max_digits: Option<u64>,
    pub decimal_places: Option<u64>,
    /// Bounds on the value scaled by 10**9 (the column's scale).
    pub ge: Option<i128>,
    pub gt: Option<i128>,
    pub le: Option<i128>,
    pub lt: Option<i128>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Any,
    Required,
    Forbidden,
}

pub enum DefaultValue {
    Required,
    Null,
    Bool(bool),
    I32(i32),
    I64(i64),
    F64(f64),
    I128(i128),
    Bytes(Vec<u8>),
    /// An empty list or map.
    Empty,
    /// A raw node's missing key: pydantic applies the default later.
    Missing,
}

pub struct Field {
    pub keys: Vec<Box<[u8]>>,
    pub node: Node,
    pub default: DefaultValue,
}

pub struct StructRule {
    pub fields: Vec<Field>,
    pub forbid_extra: bool,
    /// Builders of the union's merged struct that this variant does not fill (null for its events).
    pub absent: Vec<usize>,
    /// Every accepted key with its field.
    keys: Vec<(Box<[u8]>, usize)>,
}

impl StructRule {
    /// The field a key (its raw JSON bytes) names: the field after the previous one first (events usually follow
    /// the declaration order), then every key.
    #[inline]
    pub fn lookup(&self, key: &[u8], hint: usize) -> Option<usize> {
        if let Some(field) = self.fields.get(hint) {
            if field.keys.iter().any(|k| **k == *key) {
                return Some(hint);
            }
        }
        self.keys.iter().find(|(k, _)| **k == *key).map(|&(_, i)| i)
    }
}

#[derive(PartialEq)]
pub enum Tag {
    Str(Box<str>),
    Int(i64),
}

pub struct UnionRule {
    pub tag_keys: Vec<Box<[u8]>>,
    pub variants: Vec<(Tag, StructRule)>,
}

fn get<'py>(spec: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok(spec.get_item(key)?.filter(|v| !v.is_none()))
}

fn opt<'py, T: for<'a> FromPyObject<'a, 'py, Error = PyErr>>(
    spec: &Bound<'py, PyDict>,
    key: &str,
) -> PyResult<Option<T>> {
    get(spec, key)?.map(|v| v.extract::<T>()).transpose()
}

fn flag(spec: &Bound<'_, PyDict>, key: &str) -> PyResult<bool> {
    Ok(opt::<bool>(spec, key)?.unwrap_or(false))
}

fn len_rule(spec: &Bound<'_, PyDict>) -> PyResult<LenRule> {
    Ok(LenRule { min: opt(spec, "min_len")?, max: opt(spec, "max_len")? })
}

fn dict<'py>(value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    Ok(value.cast::<PyDict>()?.clone())
}

pub fn node(spec: &Bound<'_, PyDict>) -> PyResult<Node> {
    let kind_name: String = spec.get_item("kind")?.ok_or_else(|| PyValueError::new_err("node without kind"))?.extract()?;
    let builder: usize = opt(spec, "builder")?.unwrap_or(usize::MAX);
    let kind = match kind_name.as_str() {
        "bool" => Kind::Bool,
        "int" => Kind::Int(IntRule {
            ge: opt(spec, "ge")?,
            gt: opt(spec, "gt")?,
            le: opt(spec, "le")?,
            lt: opt(spec, "lt")?,
            multiple_of: opt(spec, "multiple_of")?,
            literals: opt(spec, "literals")?,
        }),
        "float" => Kind::Float(FloatRule { ge: opt(spec, "ge")?, gt: opt(spec, "gt")?, le: opt(spec, "le")?, lt: opt(spec, "lt")? }),
        "str" => Kind::Str(str_rule(spec)?),
        "bytes" => Kind::Bytes(len_rule(spec)?),
        "uuid" => Kind::Uuid { version: opt(spec, "version")? },
        "decimal" => Kind::Decimal(DecimalRule {
            max_digits: opt(spec, "max_digits")?,
            decimal_places: opt(spec, "decimal_places")?,
            ge: opt(spec, "ge")?,
            gt: opt(spec, "gt")?,
            le: opt(spec, "le")?,
            lt: opt(spec, "lt")?,
        }),
        "datetime" => {
            let zone: Option<String> = opt(spec, "zone")?;
            Kind::Datetime {
                zone: match zone.as_deref() {
                    Some("required") => Zone::Required,
                    Some("forbidden") => Zone::Forbidden,
                    _ => Zone::Any,
                },
            }
        }
        "date" => Kind::Date,
        "time" => Kind::Time,
        "raw" => Kind::Raw,
        "list" => Kind::List { item: Box::new(node(&dict(&spec.as_any().get_item("item")?)?)?), len: len_rule(spec)? },
        "map" => Kind::Map {
            entries: opt(spec, "entries")?.ok_or_else(|| PyValueError::new_err("map without entries"))?,
            keys: opt(spec, "keys")?.ok_or_else(|| PyValueError::new_err("map without keys"))?,
            key: match get(spec, "key")? {
                Some(key) => str_rule(&dict(&key)?)?,
                None => StrRule { len: LenRule::default(), pattern: None, literals: None, strip: false, lower: false, upper: false },
            },
            value: Box::new(node(&dict(&spec.as_any().get_item("value")?)?)?),
            len: len_rule(spec)?,
        },
        "struct" => Kind::Struct(struct_rule(spec)?),
        "union" => {
            let tag_keys: Vec<String> = spec.as_any().get_item("tag_keys")?.extract()?;
            let mut variants = Vec::new();
            for variant in spec.as_any().get_item("variants")?.cast::<PyList>()?.iter() {
                let variant = dict(&variant)?;
                let tag = variant.as_any().get_item("tag")?;
                let tag = if let Ok(s) = tag.extract::<String>() { Tag::Str(s.into_boxed_str()) } else { Tag::Int(tag.extract()?) };
                variants.push((tag, struct_rule(&variant)?));
            }
            Kind::Union(UnionRule { tag_keys: tag_keys.into_iter().map(|k| k.into_bytes().into_boxed_slice()).collect(), variants })
        }
        other => return Err(PyValueError::new_err(format!("unknown node kind {other:?}"))),
    };
    Ok(Node { nullable: flag(spec, "nullable")?, builder, kind })
}

fn str_rule(spec: &Bound<'_, PyDict>) -> PyResult<StrRule> {
    let pattern: Option<String> = opt(spec, "pattern")?;
    let pattern = pattern
        .map(|p| Regex::new(&p).map_err(|e| PyValueError::new_err(format!("pattern {p:?}: {e}"))))
        .transpose()?;
    let literals: Option<Vec<String>> = opt(spec, "literals")?;
    Ok(StrRule {
        len: len_rule(spec)?,
        pattern,
        literals: literals.map(|v| v.into_iter().map(String::into_boxed_str).collect()),
        strip: flag(spec, "strip")?,
        lower: flag(spec, "lower")?,
        upper: flag(spec, "upper")?,
    })
}

fn struct_rule(spec: &Bound<'_, PyDict>) -> PyResult<StructRule> {
    let mut fields = Vec::new();
    for item in spec.as_any().get_item("fields")?.cast::<PyList>()?.iter() {
        let item = dict(&item)?;
        let keys: Vec<String> = item.as_any().get_item("keys")?.extract()?;
        let node = node(&dict(&item.as_any().get_item("node")?)?)?;
        let default = default_value(&item, &node)?;
        fields.push(Field { keys: keys.into_iter().map(|k| k.into_bytes().into_boxed_slice()).collect(), node, default });
    }
    let keys = fields.iter().enumerate().flat_map(|(i, f)| f.keys.iter().map(move |k| (k.clone(), i))).collect();
    Ok(StructRule {
        fields,
        forbid_extra: flag(spec, "forbid_extra")?,
        absent: opt(spec, "absent")?.unwrap_or_default(),
        keys,
    })
}

/// ``default`` absent: required. ``None``: null. Otherwise the value in the builder's physical type: bool, int
/// (i32, i64 and i128 builders), float, bytes (binary builders), ``[]`` (an empty list or map).
fn default_value(item: &Bound<'_, PyDict>, node: &Node) -> PyResult<DefaultValue> {
    if !item.contains("default")? {
        return Ok(if matches!(node.kind, Kind::Raw) { DefaultValue::Missing } else { DefaultValue::Required });
    }
    if matches!(node.kind, Kind::Raw) {
        return Ok(DefaultValue::Missing);
    }
    let value = item.as_any().get_item("default")?;
    if value.is_none() {
        return Ok(DefaultValue::Null);
    }
    Ok(match &node.kind {
        Kind::Bool => DefaultValue::Bool(value.extract()?),
        Kind::Int(_) | Kind::Datetime { .. } | Kind::Time => DefaultValue::I64(value.extract()?),
        Kind::Date => DefaultValue::I32(value.extract()?),
        Kind::Float(_) => DefaultValue::F64(value.extract()?),
        Kind::Decimal(_) => DefaultValue::I128(value.extract()?),
        Kind::Str(_) | Kind::Bytes(_) | Kind::Uuid { .. } => DefaultValue::Bytes(value.extract()?),
        Kind::List { .. } | Kind::Map { .. } => DefaultValue::Empty,
        Kind::Struct(_) | Kind::Union(_) | Kind::Raw => {
            return Err(PyValueError::new_err("a struct's default can only be None"));
        }
    })
}
