//! Decoding one event: walk the JSON with jiter along the compiled contract, append every value to its builder, and
//! give up (``Err(NotClean)``) at the first thing that is not exactly what the contract accepts as sent. The caller
//! then restores every builder and leaves the event to pydantic, which gives the verdict and the exact errors.

use std::collections::HashSet;

use jiter::{Jiter, JiterError, Peek};

use crate::builders::{Builder, Values, MAX_OFFSET};
use crate::scalars;
use crate::spec::{DefaultValue, Kind, Node, StrRule, StructRule, Tag, UnionRule, Zone};

/// The event is not clean: pydantic must judge it.
pub struct NotClean;

impl From<JiterError> for NotClean {
    fn from(_: JiterError) -> Self {
        NotClean
    }
}

type Result<T = ()> = std::result::Result<T, NotClean>;

#[inline]
fn check(ok: bool) -> Result {
    if ok { Ok(()) } else { Err(NotClean) }
}

const SCALE: i64 = 9; // decimal128(38, 9): the scale of every decimal column (contracts/arrow.py)

pub struct Decoder<'b> {
    pub builders: &'b mut [Builder],
    /// For each builder, the builders that need a null slot when it gets one (a struct's children).
    pub null_children: &'b [Vec<usize>],
}

impl Decoder<'_> {
    /// One event: a JSON object decoded along ``root``, nothing but whitespace after it.
    pub fn event(&mut self, root: &Node, jiter: &mut Jiter) -> Result {
        let peek = jiter.peek()?;
        check(peek == Peek::Object)?;
        let Kind::Struct(rule) = &root.kind else { return Err(NotClean) };
        self.object(rule, root.builder, jiter)?;
        jiter.finish()?;
        Ok(())
    }

    fn push_null(&mut self, builder: usize) {
        self.builders[builder].push_null();
        for i in 0..self.null_children[builder].len() {
            let child = self.null_children[builder][i];
            self.push_null(child);
        }
    }

    fn value(&mut self, node: &Node, peek: Peek, jiter: &mut Jiter) -> Result {
        if peek == Peek::Null && !matches!(node.kind, Kind::Raw) {
            check(node.nullable)?;
            jiter.known_null()?;
            self.push_null(node.builder);
            return Ok(());
        }
        let b = node.builder;
        match &node.kind {
            Kind::Bool => {
                let value = match peek {
                    Peek::True | Peek::False => jiter.known_bool(peek)?,
                    _ => return Err(NotClean),
                };
                self.push_bool(b, value);
            }
            Kind::Int(rule) => {
                let v = int(peek, jiter)?;
                check(rule.ge.is_none_or(|x| v >= x) && rule.gt.is_none_or(|x| v > x))?;
                check(rule.le.is_none_or(|x| v <= x) && rule.lt.is_none_or(|x| v < x))?;
                check(rule.multiple_of.is_none_or(|m| m != 0 && v % m == 0))?;
                check(rule.literals.as_ref().is_none_or(|l| l.contains(&v)))?;
                self.push_i64(b, v);
            }
            Kind::Float(rule) => {
                let v = float(peek, jiter)?;
                check(rule.ge.is_none_or(|x| v >= x) && rule.gt.is_none_or(|x| v > x))?;
                check(rule.le.is_none_or(|x| v <= x) && rule.lt.is_none_or(|x| v < x))?;
                self.push_f64(b, v);
            }
            Kind::Str(rule) => {
                check(peek == Peek::String)?;
                let text = jiter.known_str()?;
                self.push_text(b, rule, text)?;
            }
            Kind::Bytes(len) => {
                check(peek == Peek::String)?;
                let text = jiter.known_str()?.as_bytes();
                check(len.holds(text.len()))?;
                self.push_bytes(b, text)?;
            }
            Kind::Uuid { version } => {
                check(peek == Peek::String)?;
                let text = scalars::uuid(jiter.known_str()?.as_bytes(), *version).ok_or(NotClean)?;
                self.push_bytes(b, &text)?;
            }
            Kind::Decimal(rule) => {
                let decimal = match peek {
                    Peek::String => scalars::Decimal::from_plain(jiter.known_str()?.as_bytes()),
                    _ => {
                        check(peek.into_inner().is_ascii_digit() || peek == Peek::Minus)?;
                        let text = jiter.known_number_bytes(peek)?;
                        if text.iter().any(|c| matches!(c, b'.' | b'e' | b'E')) {
                            scalars::Decimal::from_float_text(text)
                        } else {
                            scalars::Decimal::from_plain(text)
                        }
                    }
                }
                .ok_or(NotClean)?;
                if rule.max_digits.is_some() || rule.decimal_places.is_some() {
                    let (digits, decimals) = decimal.counts().ok_or(NotClean)?;
                    check(rule.max_digits.is_none_or(|m| digits <= m))?;
                    if let Some(places) = rule.decimal_places {
                        check(decimals <= places)?;
                        if let Some(max) = rule.max_digits {
                            check(digits.saturating_sub(decimals) <= max.saturating_sub(places))?;
                        }
                    }
                }
                let v = decimal.scaled(SCALE).ok_or(NotClean)?;
                check(rule.ge.is_none_or(|x| v >= x) && rule.gt.is_none_or(|x| v > x))?;
                check(rule.le.is_none_or(|x| v <= x) && rule.lt.is_none_or(|x| v < x))?;
                self.push_i128(b, v);
            }
            Kind::Datetime { zone } => {
                check(peek == Peek::String)?;
                let (micros, zoned) = scalars::datetime(jiter.known_str()?.as_bytes()).ok_or(NotClean)?;
                check(match zone {
                    Zone::Any => true,
                    Zone::Required => zoned,
                    Zone::Forbidden => !zoned,
                })?;
                self.push_i64(b, micros);
            }
            Kind::Date => {
                check(peek == Peek::String)?;
                let days = scalars::date(jiter.known_str()?.as_bytes()).ok_or(NotClean)?;
                self.push_i32(b, days);
            }
            Kind::Time => {
                check(peek == Peek::String)?;
                let micros = scalars::time(jiter.known_str()?.as_bytes()).ok_or(NotClean)?;
                self.push_i64(b, micros);
            }
            Kind::Raw => {
                let start = jiter.current_index();
                jiter.known_skip(peek)?;
                let text = jiter.slice_to_current(start);
                self.push_raw(b, text)?;
            }
            Kind::List { item, len } => {
                check(peek == Peek::Array)?;
                let mut count = 0usize;
                let mut next = jiter.known_array()?;
                while let Some(p) = next {
                    self.value(item, p, jiter)?;
                    count += 1;
                    next = jiter.array_step()?;
                }
                check(len.holds(count))?;
                let end = self.builders[item.builder].len();
                self.push_offset(b, end)?;
            }
            Kind::Map { entries, keys, key, value, len } => {
                check(peek == Peek::Object)?;
                let first = match &self.builders[*keys].values {
                    Values::Binary { offsets, .. } => offsets.len() - 1,
                    _ => return Err(NotClean),
                };
                let mut count = 0usize;
                let mut more = match jiter.next_object_bytes()? {
                    Some(k) => self.push_key(*keys, key, k)?,
                    None => false,
                };
                let mut large: Option<HashSet<Box<[u8]>>> = None; // past a few keys, a set: no quadratic scan
                while more {
                    // A key twice: pydantic keeps the last; leave it to pydantic.
                    check(!self.last_key_repeats(*keys, first, count, &mut large))?;
                    let p = jiter.peek()?;
                    self.value(value, p, jiter)?;
                    self.builders[*entries].valid.push(true);
                    count += 1;
                    more = match jiter.next_key_bytes()? {
                        Some(k) => self.push_key(*keys, key, k)?,
                        None => false,
                    };
                }
                check(len.holds(count))?;
                let end = self.builders[*keys].len();
                self.push_offset(b, end)?;
            }
            Kind::Struct(rule) => {
                check(peek == Peek::Object)?;
                self.object(rule, b, jiter)?;
            }
            Kind::Union(rule) => {
                check(peek == Peek::Object)?;
                let variant = variant(rule, jiter)?;
                self.object(variant, b, jiter)?;
                for &absent in &variant.absent {
                    self.push_null(absent);
                }
            }
        }
        Ok(())
    }

    /// The members of an object (its ``{`` is next), along a struct rule; the struct's own slot last.
    fn object(&mut self, rule: &StructRule, builder: usize, jiter: &mut Jiter) -> Result {
        let n = rule.fields.len();
        let mut seen_small: u64 = 0;
        let mut seen_large: Vec<bool> = if n > 64 { vec![false; n] } else { Vec::new() };
        let mut hint = 0usize;
        let mut key = key_of(jiter.next_object_bytes()?, rule, hint)?;
        while let Some(found) = key {
            match found {
                Some(i) => {
                    let duplicate = if n > 64 {
                        std::mem::replace(&mut seen_large[i], true)
                    } else {
                        let bit = 1u64 << i;
                        let was = seen_small & bit != 0;
                        seen_small |= bit;
                        was
                    };
                    check(!duplicate)?; // pydantic keeps the last; leave it to pydantic
                    let peek = jiter.peek()?;
                    self.value(&rule.fields[i].node, peek, jiter)?;
                    hint = i + 1;
                }
                None => {
                    check(!rule.forbid_extra)?;
                    let peek = jiter.peek()?;
                    jiter.known_value(peek)?; // an ignored key: still read in full, strings checked as pydantic does
                }
            }
            key = key_of(jiter.next_key_bytes()?, rule, hint)?;
        }
        for (i, field) in rule.fields.iter().enumerate() {
            let seen = if n > 64 { seen_large[i] } else { seen_small & (1u64 << i) != 0 };
            if !seen {
                self.default(&field.node, &field.default)?;
            }
        }
        self.builders[builder].valid.push(true);
        Ok(())
    }

    fn default(&mut self, node: &Node, default: &DefaultValue) -> Result {
        let b = node.builder;
        match default {
            DefaultValue::Required => return Err(NotClean),
            DefaultValue::Null => self.push_null(b),
            DefaultValue::Bool(v) => self.push_bool(b, *v),
            DefaultValue::I32(v) => self.push_i32(b, *v),
            DefaultValue::I64(v) => self.push_i64(b, *v),
            DefaultValue::F64(v) => self.push_f64(b, *v),
            DefaultValue::I128(v) => self.push_i128(b, *v),
            DefaultValue::Bytes(v) => self.push_bytes(b, v)?,
            DefaultValue::Empty => {
                let end = match (&node.kind, &self.builders[b].values) {
                    (Kind::List { item, .. }, _) => self.builders[item.builder].len(),
                    (Kind::Map { keys, .. }, _) => self.builders[*keys].len(),
                    _ => return Err(NotClean),
                };
                self.push_offset(b, end)?;
            }
            DefaultValue::Missing => {
                let builder = &mut self.builders[b];
                builder.valid.push(false);
                if let Values::Raw { offsets, missing, .. } = &mut builder.values {
                    offsets.push(*offsets.last().unwrap());
                    missing.push(true);
                }
            }
        }
        Ok(())
    }

    /// A map's key: no escape (left to pydantic), valid UTF-8 (an Arrow string), through pydantic's ``str`` rules
    /// (the model's ``str_*`` config) as a ``str`` value is. A key that repeats once transformed (``"A"`` and ``"a"``
    /// lowered) is found by ``last_key_repeats``: pydantic keeps the last, so it is left to pydantic.
    fn push_key(&mut self, keys: usize, rule: &StrRule, key: &[u8]) -> Result<bool> {
        check(!key.contains(&b'\\'))?;
        let text = std::str::from_utf8(key).map_err(|_| NotClean)?;
        self.push_text(keys, rule, text)?;
        Ok(true)
    }

    /// A string through its rules, in pydantic-core's order: strip, then length and pattern, then the case
    /// transform of the result.
    fn push_text(&mut self, b: usize, rule: &StrRule, text: &str) -> Result {
        let text = if rule.strip { text.trim() } else { text };
        if rule.len.min.is_some() || rule.len.max.is_some() {
            check(rule.len.holds(text.chars().count()))?;
        }
        if let Some(literals) = &rule.literals {
            check(literals.iter().any(|l| **l == *text))?;
        }
        if let Some(pattern) = &rule.pattern {
            check(pattern.is_match(text))?;
        }
        if rule.lower {
            self.push_bytes(b, text.to_lowercase().as_bytes())
        } else if rule.upper {
            self.push_bytes(b, text.to_uppercase().as_bytes())
        } else {
            self.push_bytes(b, text.as_bytes())
        }
    }

    /// Whether the key just appended (the map's ``count``-th, its first at ``first``) equals an earlier one: a scan
    /// for the first keys, then a set of them (``large``).
    fn last_key_repeats(
        &self, keys: usize, first: usize, count: usize, large: &mut Option<HashSet<Box<[u8]>>>,
    ) -> bool {
        const SCAN: usize = 16;
        let Values::Binary { offsets, data } = &self.builders[keys].values else { return false };
        let key_at = |i: usize| &data[offsets[i] as usize..offsets[i + 1] as usize];
        let last = offsets.len() - 2;
        if count < SCAN {
            return (first..last).any(|i| key_at(i) == key_at(last));
        }
        let seen = large.get_or_insert_with(|| (first..last).map(|i| key_at(i).into()).collect());
        !seen.insert(key_at(last).into())
    }

    #[inline]
    fn push_bool(&mut self, b: usize, v: bool) {
        let builder = &mut self.builders[b];
        builder.valid.push(true);
        if let Values::Bool(bits) = &mut builder.values {
            bits.push(v);
        }
    }

    #[inline]
    fn push_i32(&mut self, b: usize, v: i32) {
        let builder = &mut self.builders[b];
        builder.valid.push(true);
        if let Values::I32(values) = &mut builder.values {
            values.push(v);
        }
    }

    #[inline]
    fn push_i64(&mut self, b: usize, v: i64) {
        let builder = &mut self.builders[b];
        builder.valid.push(true);
        if let Values::I64(values) = &mut builder.values {
            values.push(v);
        }
    }

    #[inline]
    fn push_f64(&mut self, b: usize, v: f64) {
        let builder = &mut self.builders[b];
        builder.valid.push(true);
        if let Values::F64(values) = &mut builder.values {
            values.push(v);
        }
    }

    #[inline]
    fn push_i128(&mut self, b: usize, v: i128) {
        let builder = &mut self.builders[b];
        builder.valid.push(true);
        if let Values::I128(values) = &mut builder.values {
            values.push(v);
        }
    }

    #[inline]
    fn push_bytes(&mut self, b: usize, v: &[u8]) -> Result {
        let builder = &mut self.builders[b];
        if let Values::Binary { offsets, data } = &mut builder.values {
            check(data.len() + v.len() <= MAX_OFFSET)?;
            data.extend_from_slice(v);
            offsets.push(data.len() as i32);
            builder.valid.push(true);
            Ok(())
        } else {
            Err(NotClean)
        }
    }

    fn push_raw(&mut self, b: usize, v: &[u8]) -> Result {
        let builder = &mut self.builders[b];
        if let Values::Raw { offsets, data, missing } = &mut builder.values {
            check(data.len() + v.len() <= MAX_OFFSET)?;
            data.extend_from_slice(v);
            offsets.push(data.len() as i32);
            missing.push(false);
            builder.valid.push(true);
            Ok(())
        } else {
            Err(NotClean)
        }
    }

    #[inline]
    fn push_offset(&mut self, b: usize, end: usize) -> Result {
        check(end <= MAX_OFFSET)?;
        let builder = &mut self.builders[b];
        if let Values::Offsets(offsets) = &mut builder.values {
            offsets.push(end as i32);
            builder.valid.push(true);
            Ok(())
        } else {
            Err(NotClean)
        }
    }
}

/// The field a raw key names (``Some(None)``: an undeclared key). A key with an escape, or one that is not UTF-8,
/// is left to pydantic (rare; a key is compared as sent).
#[inline]
fn key_of(key: Option<&[u8]>, rule: &StructRule, hint: usize) -> Result<Option<Option<usize>>> {
    let Some(key) = key else { return Ok(None) };
    check(!key.contains(&b'\\'))?;
    let found = rule.lookup(key, hint);
    if found.is_none() {
        check(std::str::from_utf8(key).is_ok())?;
    }
    Ok(Some(found))
}

/// A JSON integer (not ``1.0``, not ``1e0``) that fits int64 (jiter's own integer reading stops at 18 digits).
fn int(peek: Peek, jiter: &mut Jiter) -> Result<i64> {
    check(peek.into_inner().is_ascii_digit() || peek == Peek::Minus)?;
    let text = jiter.known_number_bytes(peek)?; // a JSON number, checked by jiter
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    // Accumulated negatively, so that i64::MIN fits; a '.', 'e' or 'E' (a float) is not a digit.
    let mut value: i64 = 0;
    for &c in digits {
        let digit = c.wrapping_sub(b'0');
        check(digit <= 9)?;
        value = value.checked_mul(10).and_then(|v| v.checked_sub(digit as i64)).ok_or(NotClean)?;
    }
    if negative { Ok(value) } else { value.checked_neg().ok_or(NotClean) }
}

/// A JSON number as pydantic's float: an integer's text as an int64 converted (pydantic reads integers as integers
/// first), anything else as a float; not finite, or an integer beyond int64: not clean.
fn float(peek: Peek, jiter: &mut Jiter) -> Result<f64> {
    check(peek.into_inner().is_ascii_digit() || peek == Peek::Minus)?;
    let text = jiter.known_number_bytes(peek)?;
    let value = if text.iter().any(|c| matches!(c, b'.' | b'e' | b'E')) {
        std::str::from_utf8(text).ok().and_then(|t| t.parse::<f64>().ok()).ok_or(NotClean)?
    } else {
        std::str::from_utf8(text).ok().and_then(|t| t.parse::<i64>().ok()).ok_or(NotClean)? as f64
    };
    check(value.is_finite())?;
    Ok(value)
}

/// The variant a tagged object names: its tag is found by a look ahead (a clone of the parser), then the object is
/// read once along that variant.
fn variant<'r>(rule: &'r UnionRule, jiter: &Jiter) -> Result<&'r StructRule> {
    let mut ahead = jiter.clone();
    let mut key = ahead.next_object_bytes()?.map(|k| rule.tag_keys.iter().any(|t| **t == *k));
    while let Some(is_tag) = key {
        let peek = ahead.peek()?;
        if is_tag {
            let tag = match peek {
                Peek::String => Tag::Str(ahead.known_str()?.into()),
                _ => Tag::Int(int(peek, &mut ahead)?),
            };
            return rule.variants.iter().find(|(t, _)| *t == tag).map(|(_, s)| s).ok_or(NotClean);
        }
        ahead.known_skip(peek)?;
        key = ahead.next_key_bytes()?.map(|k| rule.tag_keys.iter().any(|t| **t == *k));
    }
    Err(NotClean)
}
