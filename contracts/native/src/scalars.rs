//! Text that pydantic turns into datetimes, dates, times, UUIDs and decimals, read in the narrow shapes where
//! pydantic's reading is certain; anything else is ``None`` and pydantic judges the event.

const DIGIT_MAX: u8 = 9;

#[inline]
fn digits(s: &[u8]) -> Option<u32> {
    let mut value: u32 = 0;
    for &c in s {
        let d = c.wrapping_sub(b'0');
        if d > DIGIT_MAX {
            return None;
        }
        value = value * 10 + d as u32;
    }
    Some(value)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(year) {
                29
            } else {
                28
            }
        }
    }
}

/// Days since 1970-01-01 (Howard Hinnant's ``days_from_civil``).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// ``YYYY-MM-DD``: days since the epoch.
fn date_part(s: &[u8]) -> Option<i64> {
    if s.len() != 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let year = digits(&s[0..4])? as i64;
    let month = digits(&s[5..7])?;
    let day = digits(&s[8..10])?;
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// ``HH:MM:SS`` with an optional fraction of 1 to 6 digits: microseconds since midnight, and the bytes read.
fn clock(s: &[u8]) -> Option<(i64, usize)> {
    if s.len() < 8 || s[2] != b':' || s[5] != b':' {
        return None;
    }
    let hour = digits(&s[0..2])?;
    let minute = digits(&s[3..5])?;
    let second = digits(&s[6..8])?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut micros = ((hour * 3600 + minute * 60 + second) as i64) * 1_000_000;
    let mut read = 8;
    if s.get(8) == Some(&b'.') {
        let end = s[9..].iter().position(|c| !c.is_ascii_digit()).map_or(s.len(), |p| p + 9);
        let fraction = &s[9..end];
        if fraction.is_empty() || fraction.len() > 6 {
            return None;
        }
        let mut value = digits(fraction)? as i64;
        for _ in fraction.len()..6 {
            value *= 10;
        }
        micros += value;
        read = end;
    }
    Some((micros, read))
}

const MIN_MICROS: i64 = -62_135_596_800_000_000; // 0001-01-01T00:00:00Z
const MAX_MICROS: i64 = 253_402_300_799_999_999; // 9999-12-31T23:59:59.999999Z

/// ``YYYY-MM-DDTHH:MM:SS[.ffffff][Z|±HH:MM]``: microseconds since the epoch (UTC; a naive time is read as UTC, as
/// Arrow stores it), and whether a zone was given.
pub fn datetime(s: &[u8]) -> Option<(i64, bool)> {
    if s.len() < 19 || s[10] != b'T' {
        return None;
    }
    let days = date_part(&s[0..10])?;
    let (micros, read) = clock(&s[11..])?;
    let rest = &s[11 + read..];
    let (offset, zoned) = match rest {
        [] => (0, false),
        [b'Z'] => (0, true),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])? as i64;
            let minutes = digits(&[*m1, *m2])? as i64;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            (if *sign == b'-' { -seconds } else { seconds }, true)
        }
        _ => return None,
    };
    let value = (days * 86_400 - offset) * 1_000_000 + micros;
    if !(MIN_MICROS..=MAX_MICROS).contains(&value) {
        return None;
    }
    Some((value, zoned))
}

/// ``YYYY-MM-DD``: days since the epoch.
pub fn date(s: &[u8]) -> Option<i32> {
    date_part(s).map(|d| d as i32)
}

/// ``HH:MM:SS[.ffffff]`` without a zone: microseconds since midnight.
pub fn time(s: &[u8]) -> Option<i64> {
    let (micros, read) = clock(s)?;
    if read != s.len() {
        return None;
    }
    Some(micros)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A UUID, hyphenated (8-4-4-4-12) or as 32 hex digits, in any case: its lowercase hyphenated text (as ``str(UUID)``).
/// ``version``: pydantic's UUID1..UUID8 types also require the RFC 4122 variant and that version.
pub fn uuid(s: &[u8], version: Option<u8>) -> Option<[u8; 36]> {
    let mut nibbles = [0u8; 32];
    match s.len() {
        36 => {
            let mut n = 0;
            for (i, &c) in s.iter().enumerate() {
                if matches!(i, 8 | 13 | 18 | 23) {
                    if c != b'-' {
                        return None;
                    }
                } else {
                    nibbles[n] = hex(c)?;
                    n += 1;
                }
            }
        }
        32 => {
            for (i, &c) in s.iter().enumerate() {
                nibbles[i] = hex(c)?;
            }
        }
        _ => return None,
    }
    if let Some(version) = version {
        let variant_rfc4122 = nibbles[16] & 0b1100 == 0b1000;
        if !variant_rfc4122 || nibbles[12] != version {
            return None;
        }
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 36];
    let mut n = 0;
    for (i, slot) in out.iter_mut().enumerate() {
        if !matches!(i, 8 | 13 | 18 | 23) {
            *slot = HEX[nibbles[n] as usize];
            n += 1;
        }
    }
    Some(out)
}

/// A decimal as pydantic sees it: sign, significant digits (no leading or trailing zeros) and the exponent of the
/// last one (``value = ±digits × 10**exponent``); zero has no digits.
pub struct Decimal {
    pub negative: bool,
    pub digits: Vec<u8>,
    pub exponent: i64,
}

impl Decimal {
    /// ``[-]digits[.digits][(e|E)[+|-]digits]`` (a JSON string, as ``str(Decimal)`` writes one too; pydantic also
    /// reads other shapes: those go to pydantic) or a JSON integer's text.
    pub fn from_plain(s: &[u8]) -> Option<Decimal> {
        let (negative, body) = match s.first() {
            Some(b'-') => (true, &s[1..]),
            _ => (false, s),
        };
        let (body, exponent) = match body.iter().position(|&c| c == b'e' || c == b'E') {
            Some(p) => {
                let text = std::str::from_utf8(&body[p + 1..]).ok()?;
                let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
                if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                (&body[..p], text.parse::<i64>().ok()?)
            }
            None => (body, 0),
        };
        let (whole, fraction) = match body.iter().position(|&c| c == b'.') {
            Some(p) => (&body[..p], &body[p + 1..]),
            None => (body, &body[body.len()..]),
        };
        if whole.is_empty() || (fraction.is_empty() && body.len() != whole.len()) {
            return None;
        }
        if !whole.iter().chain(fraction).all(u8::is_ascii_digit) {
            return None;
        }
        let all: Vec<u8> = whole.iter().chain(fraction).map(|c| c - b'0').collect();
        Some(Decimal::normalized(negative, all, exponent - fraction.len() as i64))
    }

    /// A JSON number with a fraction or an exponent: pydantic reads it as a float first, then takes the float's
    /// shortest text (Python's ``repr``): ``19.99`` is ``Decimal("19.99")``, not the binary value. With at most 15
    /// significant digits the text *is* that value (two decimals of 15 digits never round to the same float, and the
    /// shortest text has no more digits than the sent one); beyond, or past a float's range, ``None``.
    pub fn from_float_text(text: &[u8]) -> Option<Decimal> {
        let (negative, body) = match text.first() {
            Some(b'-') => (true, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match body.iter().position(|&c| c == b'e' || c == b'E') {
            Some(p) => (&body[..p], std::str::from_utf8(&body[p + 1..]).ok()?.parse::<i64>().ok()?),
            None => (body, 0),
        };
        let (whole, fraction) = match mantissa.iter().position(|&c| c == b'.') {
            Some(p) => (&mantissa[..p], &mantissa[p + 1..]),
            None => (mantissa, &mantissa[mantissa.len()..]),
        };
        let all: Vec<u8> = whole.iter().chain(fraction).map(|c| c.wrapping_sub(b'0')).collect();
        if all.iter().any(|&d| d > 9) {
            return None;
        }
        let decimal = Decimal::normalized(negative, all, exponent - fraction.len() as i64);
        let magnitude = decimal.digits.len() as i64 + decimal.exponent; // digits before the point
        if decimal.digits.len() > 15 || (!decimal.digits.is_empty() && !(-300..=300).contains(&magnitude)) {
            return None;
        }
        Some(decimal)
    }

    /// A float's shortest text as a decimal (what ``repr`` gives).
    #[cfg(test)]
    pub fn from_float(value: f64) -> Option<Decimal> {
        if !value.is_finite() {
            return None;
        }
        let text = format!("{value:e}"); // shortest round-trip digits, like repr: "1.999e1", "-0e0"
        let (mantissa, exponent) = text.split_once('e')?;
        let exponent: i64 = exponent.parse().ok()?;
        let (negative, mantissa) = match mantissa.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, mantissa),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all: Vec<u8> = whole.bytes().chain(fraction.bytes()).map(|c| c - b'0').collect();
        Some(Decimal::normalized(negative, all, exponent - fraction.len() as i64))
    }

    fn normalized(negative: bool, mut digits: Vec<u8>, mut exponent: i64) -> Decimal {
        let leading = digits.iter().take_while(|&&d| d == 0).count();
        digits.drain(..leading);
        while digits.last() == Some(&0) {
            digits.pop();
            exponent += 1;
        }
        if digits.is_empty() {
            exponent = 0;
        }
        Decimal { negative, digits, exponent }
    }

    /// pydantic's ``max_digits``/``decimal_places`` counts, on the normalized value: (digits, decimal places).
    /// ``None`` past 28 significant digits, where Python's ``normalize()`` would round.
    pub fn counts(&self) -> Option<(u64, u64)> {
        if self.digits.len() > 28 {
            return None;
        }
        let mut digits = self.digits.len().max(1) as u64;
        if self.exponent >= 0 {
            digits += self.exponent as u64;
            Some((digits, 0))
        } else {
            let decimals = self.exponent.unsigned_abs();
            Some((digits.max(decimals), decimals))
        }
    }

    /// The value scaled by ``10**scale`` when it fits ``decimal128(38, scale)`` exactly.
    pub fn scaled(&self, scale: i64) -> Option<i128> {
        let shift = self.exponent + scale;
        if shift < 0 || self.digits.len() as i64 + shift > 38 {
            return if self.digits.is_empty() { Some(0) } else { None };
        }
        let mut value: i128 = 0;
        for &d in &self.digits {
            value = value * 10 + d as i128;
        }
        for _ in 0..shift {
            value = value.checked_mul(10)?;
        }
        Some(if self.negative { -value } else { value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes() {
        assert_eq!(datetime(b"1970-01-01T00:00:00Z"), Some((0, true)));
        assert_eq!(datetime(b"1970-01-01T01:00:00+01:00"), Some((0, true)));
        assert_eq!(datetime(b"1970-01-01T00:00:00.5"), Some((500_000, false)));
        assert_eq!(datetime(b"2024-02-29T00:00:00Z").map(|v| v.0), Some(1_709_164_800_000_000));
        assert_eq!(datetime(b"2026-02-29T00:00:00Z"), None);
        assert_eq!(datetime(b"2026-01-01T24:00:00Z"), None);
        assert_eq!(datetime(b"2026-01-01T00:00:00.1234567Z"), None);
        assert_eq!(datetime(b"2026-01-01 00:00:00Z"), None);
    }

    #[test]
    fn decimals() {
        let d = Decimal::from_float(19.99).unwrap();
        assert_eq!((d.digits.clone(), d.exponent), (vec![1, 9, 9, 9], -2));
        assert_eq!(d.scaled(9), Some(19_990_000_000));
        let d = Decimal::from_plain(b"100.00").unwrap();
        assert_eq!(d.counts(), Some((3, 0)));
        assert_eq!(Decimal::from_plain(b"0.0001").unwrap().counts(), Some((4, 4)));
        assert!(Decimal::from_plain(b"1.").is_none());
        assert_eq!(Decimal::from_plain(b"1E+2").unwrap().scaled(9), Some(100_000_000_000));
        assert_eq!(Decimal::from_plain(b"1.5e-3").unwrap().scaled(9), Some(1_500_000));
        assert!(Decimal::from_plain(b"1e").is_none());
        assert!(Decimal::from_plain(b".5").is_none());
        assert_eq!(Decimal::from_plain(b"1.0000000001").unwrap().scaled(9), None);
    }

    #[test]
    fn uuids() {
        assert_eq!(&uuid(b"12345678123456781234567812345678", None).unwrap(), b"12345678-1234-5678-1234-567812345678");
        assert!(uuid(b"12345678-1234-5678-1234-567812345678", Some(4)).is_none());
    }
}
