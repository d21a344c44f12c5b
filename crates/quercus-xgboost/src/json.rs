//! Text JSON reader, tolerant the way XGBoost's own `JsonReader` is (research
//! note §1.11): bare `NaN`, `Infinity` and `-Infinity` tokens; integers (no `.`,
//! `e` or `E`) are i64, every other number is parsed straight from its text to
//! f32 (never through f64: double rounding).
//!
//! Arrays whose elements are all numbers become compact typed arrays:
//! [`Value::I64Array`] when every element is an integer, otherwise
//! [`Value::F32Array`] with every element (integers included) parsed from its
//! text to f32.
//!
//! Model files are untrusted: nesting is limited to [`MAX_DEPTH`], nothing
//! panics, and the only allocations are for data actually present.
//!
//! Speed: model files are mostly arrays of numbers, so number tokens of the
//! usual shapes are read straight from the bytes (eight digits at a time) and
//! converted exactly in integer arithmetic ([`decimal_to_f32`]); any other
//! token goes through [`Parser::number_slow`] and the standard library's
//! correctly rounded `str::parse::<f32>`. Containers collect their elements on
//! shared stacks and allocate once, at their exact size.

use crate::value::Value;
use quercus_core::{Error, Result};

/// The deepest nesting of arrays and objects accepted (XGBoost models nest
/// fewer than ten levels).
const MAX_DEPTH: usize = 128;

/// Parses a JSON document.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value> {
    // The longest valid UTF-8 prefix, validated once, so that tokens in it can
    // be sliced as `&str` without validating each again.
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    };
    let mut p = Parser {
        b: bytes,
        text,
        pos: 0,
        ints: Vec::new(),
        floats: Vec::new(),
        items: Vec::new(),
        members: Vec::new(),
    };
    p.skip_ws();
    let v = p.value(0)?;
    p.skip_ws();
    if p.pos != p.b.len() {
        return Err(p.err("unexpected data after the end of the document"));
    }
    Ok(v)
}

/// A number token.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Num {
    Int(i64),
    Float(f32),
}

/// A number token read by [`scan_number`].
enum Scan {
    Num(Num),
    /// A float in the plain grammar that [`decimal_to_f32`] does not cover:
    /// its text is for `str::parse::<f32>`.
    Text,
}

struct Parser<'a> {
    b: &'a [u8],
    /// The longest prefix of `b` that is valid UTF-8.
    text: &'a str,
    pos: usize,
    /// Scratch for the number array being read (number arrays do not nest).
    ints: Vec<i64>,
    floats: Vec<f32>,
    /// Elements and members of the open arrays and objects, innermost last.
    items: Vec<Value>,
    members: Vec<(String, Value)>,
}

impl Parser<'_> {
    fn err(&self, msg: impl Into<String>) -> Error {
        Error::format(msg).with_offset(self.pos as u64)
    }

    fn err_at(pos: usize, msg: impl Into<String>) -> Error {
        Error::format(msg).with_offset(pos as u64)
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn unexpected(&self, expected: &str) -> Error {
        match self.peek() {
            None => self.err(format!("unexpected end of input, expected {expected}")),
            Some(c) if c.is_ascii_graphic() => self.err(format!(
                "unexpected character `{}`, expected {expected}",
                c as char
            )),
            Some(c) => self.err(format!("unexpected byte 0x{c:02x}, expected {expected}")),
        }
    }

    fn at_number(&self) -> bool {
        matches!(self.peek(), Some(b'-' | b'0'..=b'9' | b'N' | b'I'))
    }

    /// `self.b[start..end]` as text, if it is valid UTF-8.
    fn str_at(&self, start: usize, end: usize) -> Option<&str> {
        match self.text.get(start..end) {
            Some(s) => Some(s),
            None => std::str::from_utf8(self.b.get(start..end)?).ok(),
        }
    }

    /// A value starting at `pos` (no leading whitespace), inside `depth` containers.
    fn value(&mut self, depth: usize) -> Result<Value> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::Str),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            _ if self.at_number() => Ok(match self.number(false)? {
                Num::Int(i) => Value::Int(i),
                Num::Float(f) => Value::Float(f),
            }),
            _ => Err(self.unexpected("a value")),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value> {
        if self.b[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.err(format!("invalid literal, expected `{word}`")))
        }
    }

    /// A number token; with `as_float`, integers are parsed as f32 too.
    fn number(&mut self, as_float: bool) -> Result<Num> {
        if let Some((n, end)) = self.number_fast(self.pos, as_float) {
            self.pos = end;
            return Ok(n);
        }
        self.number_slow(as_float)
    }

    /// The number token at `pos` and its end, if [`scan_number`] reads it;
    /// `None` leaves it to [`Self::number_slow`].
    #[inline]
    fn number_fast(&self, pos: usize, as_float: bool) -> Option<(Num, usize)> {
        match scan_number(self.b, pos, as_float)? {
            (Scan::Num(n), end) => Some((n, end)),
            (Scan::Text, end) => {
                let f: f32 = self.str_at(pos, end)?.parse().ok()?;
                Some((Num::Float(f), end))
            }
        }
    }

    /// A number token of any shape, or the error for a malformed one.
    fn number_slow(&mut self, as_float: bool) -> Result<Num> {
        let start = self.pos;
        let rest = &self.b[start..];
        for (word, v) in [
            ("NaN", f32::NAN),
            ("-NaN", -f32::NAN),
            ("Infinity", f32::INFINITY),
            ("-Infinity", f32::NEG_INFINITY),
        ] {
            if rest.starts_with(word.as_bytes()) {
                self.pos += word.len();
                return Ok(Num::Float(v));
            }
        }
        let len = rest
            .iter()
            .position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .unwrap_or(rest.len());
        // Only ASCII bytes were accepted above, so this cannot fail.
        let text = std::str::from_utf8(&rest[..len]).unwrap_or_default();
        let is_float = text.contains(['.', 'e', 'E']);
        // The JSON grammar starts a number with `-` or a digit; Rust's parsers
        // would also take a leading `+`.
        let valid_start = matches!(text.as_bytes().first(), Some(b'-' | b'0'..=b'9'));
        if valid_start && !is_float && !as_float {
            // Integers beyond i64 fall through to f32, as a lenient reader should.
            if let Ok(i) = text.parse::<i64>() {
                self.pos += len;
                return Ok(Num::Int(i));
            }
        }
        match text.parse::<f32>() {
            Ok(f) if valid_start => {
                self.pos += len;
                Ok(Num::Float(f))
            }
            _ => Err(Self::err_at(start, format!("invalid number `{text}`"))),
        }
    }

    /// An array; `pos` is at `[`.
    fn array(&mut self, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.pos += 1;
        let body = self.pos;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(Vec::new()));
        }
        if self.at_number() {
            // Try a compact integer array, then a compact float array; each pass
            // gives up (returns None) at the first element that is not a
            // number, and the array is re-read by the next kind of pass. At most
            // three passes, so parsing stays linear.
            if let Some(v) = self.number_array(false)? {
                return Ok(v);
            }
            self.pos = body;
            if let Some(v) = self.number_array(true)? {
                return Ok(v);
            }
            self.pos = body;
        }
        // Elements go on the shared stack (inner containers push and pop above
        // them) and move to an exactly sized vector at the end.
        let base = self.items.len();
        loop {
            self.skip_ws();
            let v = self.value(depth)?;
            self.items.push(v);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(self.items.split_off(base)));
                }
                _ => return Err(self.unexpected("`,` or `]`")),
            }
        }
    }

    /// The rest of an array as numbers: i64 (`floats` false; gives up at the
    /// first float) or f32 (`floats` true). `None` when an element is not a number.
    fn number_array(&mut self, floats: bool) -> Result<Option<Value>> {
        // Local scratch vectors (returned after) keep the loop in registers.
        let mut ints = std::mem::take(&mut self.ints);
        let mut fs = std::mem::take(&mut self.floats);
        ints.clear();
        fs.clear();
        let r = self.number_array_in(floats, &mut ints, &mut fs);
        self.ints = ints;
        self.floats = fs;
        r
    }

    fn number_array_in(
        &mut self,
        floats: bool,
        ints: &mut Vec<i64>,
        fs: &mut Vec<f32>,
    ) -> Result<Option<Value>> {
        let b = self.b;
        // The common case (no whitespace, plain tokens) runs on a local
        // position; anything else takes the general steps, in the same order.
        let mut pos = self.pos;
        loop {
            let n = match scan_number(b, pos, floats) {
                Some((Scan::Num(n), end)) => {
                    pos = end;
                    n
                }
                scanned => {
                    let text = match scanned {
                        Some((Scan::Text, end)) => self.str_at(pos, end).map(|t| (t, end)),
                        _ => None,
                    };
                    match text.and_then(|(t, end)| Some((t.parse::<f32>().ok()?, end))) {
                        Some((f, end)) => {
                            pos = end;
                            Num::Float(f)
                        }
                        None => {
                            self.pos = pos;
                            self.skip_ws();
                            if !self.at_number() {
                                return Ok(None);
                            }
                            let n = self.number(floats)?;
                            pos = self.pos;
                            n
                        }
                    }
                }
            };
            match n {
                Num::Int(i) => ints.push(i),
                Num::Float(_) if !floats => return Ok(None),
                Num::Float(f) => fs.push(f),
            }
            match b.get(pos) {
                Some(b',') => {
                    pos += 1;
                    continue;
                }
                Some(b']') => {}
                _ => {
                    self.pos = pos;
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => {
                            pos = self.pos + 1;
                            continue;
                        }
                        Some(b']') => pos = self.pos,
                        _ => return Err(self.unexpected("`,` or `]`")),
                    }
                }
            }
            self.pos = pos + 1;
            return Ok(Some(if floats {
                Value::F32Array(fs.as_slice().to_vec())
            } else {
                Value::I64Array(ints.as_slice().to_vec())
            }));
        }
    }

    /// An object; `pos` is at `{`.
    fn object(&mut self, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(Vec::new()));
        }
        // Members go on the shared stack, as array elements do.
        let base = self.members.len();
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("a string key"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.unexpected("`:`"));
            }
            self.pos += 1;
            self.skip_ws();
            let v = self.value(depth)?;
            self.members.push((key, v));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(self.members.split_off(base)));
                }
                _ => return Err(self.unexpected("`,` or `}`")),
            }
        }
    }

    /// A string; `pos` is at the opening quote. Invalid UTF-8 and unpaired
    /// surrogates become U+FFFD rather than errors.
    fn string(&mut self) -> Result<String> {
        let start = self.pos;
        let body = start + 1;
        let rest = self.b.get(body..).unwrap_or_default();
        let Some(run) = rest.iter().position(|&c| c == b'"' || c == b'\\') else {
            return Err(Self::err_at(start, "unterminated string"));
        };
        if rest[run] == b'"' {
            // No escapes: the text as it is (already validated if in `text`).
            self.pos = body + run + 1;
            return Ok(match self.text.get(body..body + run) {
                Some(s) => s.to_owned(),
                None => String::from_utf8_lossy(&rest[..run]).into_owned(),
            });
        }
        self.pos = body;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let rest = &self.b[self.pos..];
            let Some(run) = rest.iter().position(|&c| c == b'"' || c == b'\\') else {
                return Err(Self::err_at(start, "unterminated string"));
            };
            out.extend_from_slice(&rest[..run]);
            self.pos += run;
            if rest[run] == b'"' {
                self.pos += 1;
                break;
            }
            let esc = self.pos;
            self.pos += 1;
            let Some(c) = self.peek() else {
                return Err(Self::err_at(start, "unterminated string"));
            };
            self.pos += 1;
            let simple = match c {
                b'"' => b'"',
                b'\\' => b'\\',
                b'/' => b'/',
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'u' => {
                    let ch = self.unicode_escape()?;
                    out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                    continue;
                }
                _ => return Err(Self::err_at(esc, "invalid escape sequence")),
            };
            out.push(simple);
        }
        Ok(match String::from_utf8(out) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// The character of a `\uXXXX` escape (`pos` after the `u`), joining a
    /// surrogate pair written as two escapes.
    fn unicode_escape(&mut self) -> Result<char> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) && self.b[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let lo = self.hex4()?;
            if (0xDC00..0xE000).contains(&lo) {
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            // Not a low surrogate: leave it to be read as its own escape.
            self.pos = save;
        }
        Ok(char::from_u32(hi).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self
            .b
            .get(self.pos..self.pos + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err("invalid `\\u` escape, expected 4 hex digits"))?;
        self.pos += 4;
        Ok(digits)
    }
}

/// Reads a number token at `pos` if it has one of the usual shapes:
/// `-?D+(.D+)?([eE][+-]?D{1,5})?` with at most 19 mantissa digits `D`, or
/// `NaN`/`Infinity` with an optional `-`. Returns it and its end, or `None` to
/// leave it to [`Parser::number_slow`]; for every token read here, that gives
/// the same number (so its text and result are the reference).
#[inline(always)]
fn scan_number(b: &[u8], pos: usize, as_float: bool) -> Option<(Scan, usize)> {
    let s = b.get(pos..)?;
    let neg = s.first() == Some(&b'-');
    let mut i = usize::from(neg);
    match s.get(i) {
        Some(b'0'..=b'9') => {}
        Some(b'N') if s[i..].starts_with(b"NaN") => {
            let v = if neg { -f32::NAN } else { f32::NAN };
            return Some((Scan::Num(Num::Float(v)), pos + i + 3));
        }
        Some(b'I') if s[i..].starts_with(b"Infinity") => {
            let v = if neg {
                f32::NEG_INFINITY
            } else {
                f32::INFINITY
            };
            return Some((Scan::Num(Num::Float(v)), pos + i + 8));
        }
        _ => return None,
    }
    // The mantissa's digits, integer and fraction parts, as one integer.
    let (mut w, int_digits) = digits(&s[i..], 0);
    i += int_digits;
    let mut frac = 0;
    let mut is_float = false;
    if s.get(i) == Some(&b'.') {
        is_float = true;
        i += 1;
        (w, frac) = digits(&s[i..], w);
        if frac == 0 {
            return None;
        }
        i += frac;
    }
    // With at most 19 digits, `w` did not wrap.
    if int_digits + frac > 19 {
        return None;
    }
    let mut exp: i32 = 0;
    if let Some(b'e' | b'E') = s.get(i) {
        is_float = true;
        i += 1;
        let exp_neg = s.get(i) == Some(&b'-');
        if matches!(s.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp_start = i;
        while let Some(&c) = s.get(i) {
            if !c.is_ascii_digit() || i - exp_start == 5 {
                break;
            }
            exp = exp * 10 + i32::from(c - b'0');
            i += 1;
        }
        if i == exp_start {
            return None;
        }
        if exp_neg {
            exp = -exp;
        }
    }
    // The slow path reads the longest run of number characters (a sixth
    // exponent digit included): the token must end here for both to agree.
    if let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = s.get(i) {
        return None;
    }
    let end = pos + i;
    if !is_float && !as_float {
        // Beyond i64 is the slow path's (it becomes a float).
        let v = if neg {
            0i64.checked_sub_unsigned(w)?
        } else {
            i64::try_from(w).ok()?
        };
        return Some((Scan::Num(Num::Int(v)), end));
    }
    let v = if w == 0 {
        // Zero whatever the exponent, as `parse` has it.
        0.0
    } else {
        match decimal_to_f32(w, exp - frac as i32) {
            Some(v) => v,
            None => return Some((Scan::Text, end)),
        }
    };
    Some((Scan::Num(Num::Float(if neg { -v } else { v })), end))
}

/// Powers of ten that f32 represents exactly (5^10 < 2^24).
const POW10_F32: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

/// Powers of ten up to the largest in u64.
const POW10_U64: [u64; 20] = {
    let mut p = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

/// The run of ASCII digits at the start of `b`, appended to `acc` (as
/// `acc * 10^n + run`, wrapping on overflow), and its length `n`. Reads eight
/// bytes at a time where there are eight.
#[inline]
fn digits(b: &[u8], mut acc: u64) -> (u64, usize) {
    let mut n = 0;
    while let Some(chunk) = b.get(n..).and_then(<[u8]>::first_chunk::<8>) {
        let x = u64::from_le_bytes(*chunk);
        // A byte is a digit iff its high nibble is 3 and stays 3 after adding
        // 6. Carries only leave a non-digit byte, so the bytes before the
        // first non-digit are judged correctly.
        let hi = x & 0xF0F0_F0F0_F0F0_F0F0;
        let hi6 = x.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0;
        let bad = (hi ^ 0x3030_3030_3030_3030) | (hi6 ^ 0x3030_3030_3030_3030);
        let k = (bad.trailing_zeros() / 8) as usize;
        if k == 0 {
            return (acc, n);
        }
        // The k digits as the low (last) bytes of a word, first digit most
        // significant; borrows from the bytes after them are shifted out.
        let d = x.wrapping_sub(0x3030_3030_3030_3030) << (8 * (8 - k));
        acc = acc.wrapping_mul(POW10_U64[k]).wrapping_add(eight_digits(d));
        n += k;
        if k < 8 {
            return (acc, n);
        }
    }
    while let Some(&c) = b.get(n) {
        if !c.is_ascii_digit() {
            break;
        }
        acc = acc.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
        n += 1;
    }
    (acc, n)
}

/// The value of eight decimal digits, one per byte (0..=9), the first in the
/// lowest byte.
#[inline]
fn eight_digits(d: u64) -> u64 {
    // Pairs, then quadruples, then all eight (Lemire's SWAR reduction).
    let d = d.wrapping_mul(10).wrapping_add(d >> 8);
    let lo = (d & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let hi = ((d >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    lo.wrapping_add(hi) >> 32
}

/// The f32 nearest to `w` × 10^`e10` (ties to even), for `w` ≥ 1, computed
/// exactly in integers, or `None` outside the range handled here (|e10| > 19).
#[inline]
fn decimal_to_f32(w: u64, e10: i32) -> Option<f32> {
    // Clinger's fast path: `w` and 10^|e10| are exact f32s, so one correctly
    // rounded multiply or divide is the correctly rounded value.
    if w <= 1 << 24 && (-10..=10).contains(&e10) {
        let m = w as f32;
        let p = POW10_F32[e10.unsigned_abs() as usize];
        return Some(if e10 < 0 { m / p } else { m * p });
    }
    let k = e10.unsigned_abs() as usize;
    let d = *POW10_U64.get(k)?;
    if e10 >= 0 {
        // An exact integer (< 2^128); integer-to-float casts round to nearest,
        // ties to even.
        return Some(match w.checked_mul(d) {
            Some(n) => n as f32,
            None => (u128::from(w) * u128::from(d)) as f32,
        });
    }
    // w / d: scale w by 2^t so that the quotient q has at least 27 bits, and
    // note a non-zero remainder in q's lowest bit. Rounding q to f32's 24 bits
    // drops at least 3 bits, of which this sticky bit is below the rounding
    // bit, so it rounds exactly as the true quotient does (only a would-be tie
    // changes, to above half when the remainder is non-zero). Multiplying by
    // 2^-t is then exact: the result is ≥ 10^-19, a normal f32.
    let bw = u64::BITS - w.leading_zeros();
    let bd = u64::BITS - d.leading_zeros();
    let t = (bd + 27).saturating_sub(bw); // ≤ 91
    let q = if bw + t <= 64 {
        let n = w << t;
        (n / d) | u64::from(n % d != 0)
    } else {
        let n = u128::from(w) << t;
        let d = u128::from(d);
        // q < 2^max(28, bw - bd + 1) ≤ 2^61.
        u64::try_from(n / d).ok()? | u64::from(n % d != 0)
    };
    Some(q as f32 * f32::from_bits((127 - t) << 23))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Value {
        parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn scalars_and_structure() {
        assert_eq!(p(" null "), Value::Null);
        assert_eq!(p("true"), Value::Bool(true));
        assert_eq!(p("false"), Value::Bool(false));
        assert_eq!(p("-12"), Value::Int(-12));
        assert_eq!(p("5E-1"), Value::Float(0.5));
        assert_eq!(p("0E0"), Value::Float(0.0));
        assert!(matches!(p("-0E0"), Value::Float(f) if f == 0.0 && f.is_sign_negative()));
        assert_eq!(p("9223372036854775807"), Value::Int(i64::MAX));
        assert_eq!(p("99999999999999999999"), Value::Float(1e20));
        assert_eq!(
            p(r#"{"a" : [ ], "b":{}, "c":[{"d":"x"}, null]}"#),
            Value::Object(vec![
                ("a".into(), Value::Array(vec![])),
                ("b".into(), Value::Object(vec![])),
                (
                    "c".into(),
                    Value::Array(vec![
                        Value::Object(vec![("d".into(), Value::Str("x".into()))]),
                        Value::Null
                    ])
                ),
            ])
        );
    }

    #[test]
    fn non_finite_tokens() {
        match p("[1E0, NaN, Infinity, -Infinity, 2]") {
            Value::F32Array(v) => {
                assert_eq!(v[0], 1.0);
                assert!(v[1].is_nan());
                assert_eq!(v[2], f32::INFINITY);
                assert_eq!(v[3], f32::NEG_INFINITY);
                assert_eq!(v[4], 2.0);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(p("NaN"), Value::Float(f) if f.is_nan()));
        assert_eq!(p("-Infinity"), Value::Float(f32::NEG_INFINITY));
        assert!(parse(b"Nan").is_err());
        assert!(parse(b"inf").is_err());
        assert!(parse(b"+1").is_err());
    }

    #[test]
    fn floats_are_parsed_straight_to_f32() {
        // Just above the midpoint between 1.0 and the next f32: direct parsing
        // rounds up; through f64 the excess is lost, and the tie rounds to even.
        let text = "1.00000005960464477539062501";
        let via_f64 = text.parse::<f64>().unwrap() as f32;
        assert_eq!(via_f64.to_bits(), 0x3F80_0000);
        let Value::Float(direct) = p(text) else {
            panic!()
        };
        assert_eq!(direct.to_bits(), 0x3F80_0001);
        // Same inside a compact array, and for an integer promoted by a float.
        let doc = format!("[7, {text}, -0]");
        let Value::F32Array(v) = p(&doc) else {
            panic!()
        };
        assert_eq!(v[1].to_bits(), 0x3F80_0001);
        assert_eq!(v[0], 7.0);
        assert_eq!(v[2].to_bits(), (-0.0f32).to_bits());
        // 17-digit output of 1.0.x round-trips.
        assert_eq!(p("0.10000000149011612"), Value::Float(0.1));
        assert_eq!(p("1E-45"), Value::Float(f32::from_bits(1)));
    }

    #[test]
    fn compact_arrays() {
        assert_eq!(p("[1, -1, 2]"), Value::I64Array(vec![1, -1, 2]));
        assert_eq!(p("[1.5,2]"), Value::F32Array(vec![1.5, 2.0]));
        assert_eq!(
            p(r#"[1, 2.5, "x"]"#),
            Value::Array(vec![
                Value::Int(1),
                Value::Float(2.5),
                Value::Str("x".into())
            ])
        );
        assert_eq!(
            p("[1, [2]]"),
            Value::Array(vec![Value::Int(1), Value::I64Array(vec![2])])
        );
        assert_eq!(
            p("[true, 1]"),
            Value::Array(vec![Value::Bool(true), Value::Int(1)])
        );
        assert!(parse(b"[1 2]").is_err());
        assert!(parse(b"[1,]").is_err());
        assert!(parse(b"[1.2.3]").is_err());
        assert!(parse(b"[1x]").is_err());
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            p(r#""a\"b\\c\/d\b\f\n\r\t""#),
            Value::Str("a\"b\\c/d\u{8}\u{c}\n\r\t".into())
        );
        assert_eq!(p(r#""\u00e9\u4e2d""#), Value::Str("é中".into()));
        assert_eq!(p(r#""\ud83d\ude00""#), Value::Str("😀".into()));
        assert_eq!(p(r#""\ud83dx""#), Value::Str("\u{fffd}x".into()));
        assert_eq!(p(r#""\ude00\u0041""#), Value::Str("\u{fffd}A".into()));
        assert_eq!(p("\"é\""), Value::Str("é".into()));
        assert_eq!(parse(b"\"\xff\"").unwrap(), Value::Str("\u{fffd}".into()));
        assert!(parse(br#""\x""#).is_err());
        assert!(parse(br#""\u12""#).is_err());
        assert!(parse(br#""\u+123""#).is_err());
        assert!(parse(br#""abc"#).is_err());
    }

    #[test]
    fn errors_carry_offsets() {
        let e = parse(b"{\"a\": [1, 2,, 3]}").unwrap_err();
        assert_eq!(e.location().offset, Some(12));
        let e = parse(b"[1] x").unwrap_err();
        assert_eq!(e.location().offset, Some(4));
        let e = parse(b"").unwrap_err();
        assert_eq!(e.location().offset, Some(0));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        for open in ["[", "{\"a\":", "[1,"] {
            let doc = open.repeat(100_000);
            let e = parse(doc.as_bytes()).unwrap_err();
            assert!(e.to_string().contains("nesting"), "{e}");
        }
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let doc = br#"{"a":[1,2.5,NaN,-Infinity],"b":"x\u00e9y","c":[true,false,null,{"d":[]}],"e":-1E-2}"#;
        assert!(parse(doc).is_ok());
        for i in 0..doc.len() {
            assert!(parse(&doc[..i]).is_err(), "prefix of {i} bytes parsed");
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn json_like_text_never_panics(s in "[\\[\\]{}\",:0-9eE.+\\-NaIfity \\\\u]{0,64}") {
            let _ = parse(s.as_bytes());
        }
    }
}

/// Throughput on the real model files: `cargo test --release -p
/// quercus-xgboost -- --ignored json_throughput --nocapture`.
#[cfg(test)]
#[cfg(test)]
mod bench {
    #[path = "/tmp/jsonhelper/json_orig.rs"]
    #[allow(dead_code, unused_imports, clippy::all)]
    mod orig;

    /// This thread's CPU time (Linux), immune to other load on the machine.
    fn cpu_ns() -> u64 {
        let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
        s.split_whitespace().next().unwrap().parse().unwrap()
    }

    #[test]
    #[ignore = "benchmark"]
    fn json_throughput() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/xgboost");
        let mut docs = Vec::new();
        for dir in std::fs::read_dir(&root).unwrap() {
            let dir = dir.unwrap().path();
            if !dir.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(&dir).unwrap() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|e| e == "json") {
                    docs.push(std::fs::read(&f).unwrap());
                }
            }
        }
        if let Ok(kind) = std::env::var("SYNTH") {
            let tok = match kind.as_str() {
                "int" => "1234,-1,",
                "float" => "1.3241106E-1,-2.3728813E-1,",
                "short" => "1E0,2.5E-1,",
                "long" => "-8.95522385835647583e-02,",
                _ => "\"abcdefghijklm\":1,",
            };
            let body = tok.repeat(20000);
            let d = if kind == "key" { format!("{{{}\"z\":1}}", body) } else { format!("[{}0]", body) };
            docs = vec![d.into_bytes(); 20];
        }
        let total: usize = docs.iter().map(Vec::len).sum();
        let only_new = std::env::var("ONLY_NEW").is_ok();
        for d in docs.iter().filter(|_| !only_new) {
            assert_eq!(format!("{:?}", super::parse(d).unwrap()), format!("{:?}", orig::parse(d).unwrap()));
        }
        let mut best = [f64::MAX; 2];
        for _ in 0..15 {
            for (k, best) in best.iter_mut().enumerate().skip(usize::from(only_new)) {
                let t = cpu_ns();
                for d in &docs {
                    let d = std::hint::black_box(d);
                    if k == 0 {
                        std::hint::black_box(orig::parse(d).unwrap());
                    } else {
                        std::hint::black_box(super::parse(d).unwrap());
                    }
                }
                *best = best.min((cpu_ns() - t) as f64 * 1e-9);
            }
        }
        let mb = total as f64 / 1e6;
        eprintln!("json: {} files, {mb:.2} MB: before {:.1} MB/s, after {:.1} MB/s ({:.2}x)", docs.len(), mb / best[0], mb / best[1], best[0] / best[1]);
    }
}
