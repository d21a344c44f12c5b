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
//! usual shapes are read straight from the bytes ([`scan_number`]) and
//! converted to the correctly rounded f32 in integer arithmetic
//! ([`decimal_to_f32`]); any other token goes through [`Parser::number_slow`]
//! and the standard library's correctly rounded `str::parse::<f32>`, which is
//! also the reference the fast path is tested against. Containers collect
//! their elements on shared stacks and allocate once, at their exact size.

use crate::value::Value;
use quercus_core::{Error, Result};

/// The deepest nesting of arrays and objects accepted (XGBoost models nest
/// fewer than ten levels).
const MAX_DEPTH: usize = 128;

/// Parses a JSON document.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value> {
    let mut p = Parser::new(bytes);
    p.skip_ws();
    let v = p.value(0)?;
    p.skip_ws();
    if p.pos != p.b.len() {
        return Err(p.err("unexpected data after the end of the document"));
    }
    Ok(v)
}

/// A number token.
#[derive(Clone, Copy, Debug)]
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

impl<'a> Parser<'a> {
    fn new(b: &'a [u8]) -> Parser<'a> {
        // The longest valid UTF-8 prefix, validated once, so that tokens in it
        // can be sliced as `&str` without validating each again.
        let text = match std::str::from_utf8(b) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or_default(),
        };
        Parser {
            b,
            text,
            pos: 0,
            ints: Vec::new(),
            floats: Vec::new(),
            items: Vec::new(),
            members: Vec::new(),
        }
    }

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
        if let Some((n, end)) = self.number_at(self.pos, as_float) {
            self.pos = end;
            return Ok(n);
        }
        self.number_slow(as_float)
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
        // The scratch vectors are moved out for the loop (and back after) so
        // that the compiler can keep them in registers.
        let mut ints = std::mem::take(&mut self.ints);
        let mut fs = std::mem::take(&mut self.floats);
        ints.clear();
        fs.clear();
        let r = self.read_numbers(floats, &mut ints, &mut fs);
        self.ints = ints;
        self.floats = fs;
        r
    }

    fn read_numbers(
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
            let n = match self.number_at(pos, floats) {
                Some((n, end)) => {
                    pos = end;
                    n
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

    /// The number token at `pos` and its end, if it has one of the shapes
    /// read directly; `None` leaves it to [`Self::number_slow`].
    #[inline(always)]
    fn number_at(&self, pos: usize, as_float: bool) -> Option<(Num, usize)> {
        // Most integers in models are one digit (flags, -1 is two bytes).
        if let (false, Some(&c), Some(b',' | b']')) =
            (as_float, self.b.get(pos), self.b.get(pos + 1))
            && c.is_ascii_digit()
        {
            return Some((Num::Int(i64::from(c - b'0')), pos + 1));
        }
        match scan_number(self.b, pos, as_float)? {
            (Scan::Num(n), end) => Some((n, end)),
            (Scan::Text, end) => {
                let f: f32 = self.str_at(pos, end)?.parse().ok()?;
                Some((Num::Float(f), end))
            }
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
    let neg = b.get(pos) == Some(&b'-');
    let mut i = pos + usize::from(neg);
    // The mantissa's digits, integer and fraction parts, as one integer
    // (wrapping, but only kept with at most 19 digits, which cannot wrap).
    let int_start = i;
    let mut w: u64 = 0;
    while let Some(d) = b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|&d| d <= 9) {
        w = w.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    if i == int_start {
        return special_number(b, pos, neg);
    }
    let mut digits = i - int_start;
    let mut frac = 0;
    let mut is_float = false;
    if b.get(i) == Some(&b'.') {
        is_float = true;
        i += 1;
        let frac_start = i;
        while let Some(d) = b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|&d| d <= 9) {
            w = w.wrapping_mul(10).wrapping_add(u64::from(d));
            i += 1;
        }
        frac = i - frac_start;
        if frac == 0 {
            return None;
        }
        digits += frac;
    }
    if digits > 19 {
        return None;
    }
    let mut exp: i32 = 0;
    if let Some(b'e' | b'E') = b.get(i) {
        is_float = true;
        i += 1;
        let sign = b.get(i);
        let exp_neg = sign == Some(&b'-');
        i += usize::from(exp_neg || sign == Some(&b'+'));
        let exp_start = i;
        while let Some(d) = b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|&d| d <= 9) {
            if i - exp_start == 5 {
                break;
            }
            exp = exp * 10 + i32::from(d);
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
    if let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = b.get(i) {
        return None;
    }
    if !is_float && !as_float {
        // Beyond i64 is the slow path's (it becomes a float).
        let v = if neg {
            0i64.checked_sub_unsigned(w)?
        } else {
            i64::try_from(w).ok()?
        };
        return Some((Scan::Num(Num::Int(v)), i));
    }
    let v = if w == 0 {
        // Zero whatever the exponent, as `parse` has it.
        0.0
    } else {
        match decimal_to_f32(w, exp - frac as i32) {
            Some(v) => v,
            None => return Some((Scan::Text, i)),
        }
    };
    // `v` is positive: the sign is its sign bit.
    let v = f32::from_bits(v.to_bits() | u32::from(neg) << 31);
    Some((Scan::Num(Num::Float(v)), i))
}

/// `NaN` or `Infinity` at `pos`, after the `-` if `neg`.
#[cold]
fn special_number(b: &[u8], pos: usize, neg: bool) -> Option<(Scan, usize)> {
    let rest = b.get(pos + usize::from(neg)..)?;
    let (v, len) = if rest.starts_with(b"NaN") {
        (f32::NAN, 3)
    } else if rest.starts_with(b"Infinity") {
        (f32::INFINITY, 8)
    } else {
        return None;
    };
    let v = if neg { -v } else { v };
    Some((Scan::Num(Num::Float(v)), pos + usize::from(neg) + len))
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

/// For k in 1..=19, `(r, s)` with `s` the bit length of 10^k and
/// r = ⌈2^(63+s) / 10^k⌉, so 2^63 < r < 2^64.
const RECIP_POW10: [(u64, u32); 20] = {
    let mut t = [(0u64, 0u32); 20];
    let mut k = 1;
    while k < 20 {
        let d = POW10_U64[k];
        let s = u64::BITS - d.leading_zeros();
        let r = (1u128 << (63 + s)).div_ceil(d as u128);
        t[k] = (r as u64, s);
        k += 1;
    }
    t
};

/// The f32 nearest to `w` × 10^`e10` (ties to even), for `w` ≥ 1, or `None`
/// outside the range handled here (|e10| > 19).
#[inline(always)]
fn decimal_to_f32(w: u64, e10: i32) -> Option<f32> {
    let k = e10.unsigned_abs() as usize;
    if e10 < 0 {
        return div_pow10(w, k).or_else(|| div_pow10_exact(w, k));
    }
    // Clinger's fast path: `w` and 10^k are exact f32s, so one correctly
    // rounded multiply is the correctly rounded value.
    if w <= 1 << 24 && k <= 10 {
        return Some(w as f32 * POW10_F32[k]);
    }
    // An exact integer (< 2^128); integer-to-float casts round to nearest,
    // ties to even.
    let p = *POW10_U64.get(k)?;
    Some(match w.checked_mul(p) {
        Some(n) => n as f32,
        None => (u128::from(w) * u128::from(p)) as f32,
    })
}

/// w / 10^k rounded to the nearest f32 (ties to even), for `w` ≥ 1 and k in
/// 1..=19, by one multiplication with a reciprocal; `None` in the rare cases
/// it cannot decide (then [`div_pow10_exact`] does).
///
/// Exactness. Let x = w / 10^k, `wn` = w·2^lz in [2^63, 2^64) and
/// T = wn·2^(s−1) / 10^k = x·2^(lz+s−1), which lies in (2^62, 2^64). As
/// r = 2^(63+s)/10^k + ε with 0 ≤ ε < 1, wn·r / 2^64 = T + wn·ε/2^64, so
/// h = ⌊wn·r / 2^64⌋ satisfies ⌊T⌋ ≤ h < T + 1. Shifting both left by one
/// when h < 2^63 gives `hn` in [2^63, 2^64) with `hn` even and |hn − Tn| < 2 in
/// that case (|hn − Tn| < 1 otherwise). Rounding to f32's 24 bits drops the low
/// 40 bits of `hn`; the rounding points (midpoints) are the integers M with
/// M mod 2^40 = 2^39, which are even. If such an M lay between Tn and `hn`
/// (inclusive), then |hn − M| < 2 with both even (or < 1), so hn = M. Hence
/// when the low 40 bits of `hn` are not exactly 2^39, no rounding point
/// separates Tn from `hn` and Tn is not one: both round to the same f32.
/// `hn` is rounded by a signed 63-bit conversion of hn/2 with the dropped
/// bit kept as a sticky bit (39 dropped bits remain, so it only matters as
/// "above half"), and the result scaled by 2^−(lz+s−1−top), exactly, since x
/// ≥ 10^−19 is a normal f32.
#[inline(always)]
fn div_pow10(w: u64, k: usize) -> Option<f32> {
    let &(r, s) = RECIP_POW10.get(k)?;
    if r == 0 || w == 0 {
        return None;
    }
    let lz = w.leading_zeros();
    let wn = w << lz;
    let h = ((u128::from(wn) * u128::from(r)) >> 64) as u64;
    let top = (h >> 63) as u32;
    let hn = h << (1 - top);
    if hn & ((1 << 40) - 1) == 1 << 39 {
        return None;
    }
    let f = ((hn >> 1) | (hn & 1)) as i64 as f32;
    // 2 ≤ lz + s − 1 − top ≤ 126: 2^−that is a normal f32.
    let e = lz + s - 1 - top;
    Some(f * f32::from_bits((127 - e) << 23))
}

/// w / 10^k rounded to the nearest f32 (ties to even), for `w` ≥ 1 and k in
/// 1..=19, by integer division: scale w by 2^t so that the quotient q has at
/// least 27 bits, and note a non-zero remainder in q's lowest bit. Rounding q
/// to f32's 24 bits drops at least 3 bits, of which this sticky bit is below
/// the rounding bit, so it rounds exactly as the true quotient does (only a
/// would-be tie changes, to above half when the remainder is non-zero).
/// Multiplying by 2^−t is then exact: the result is ≥ 10^−19, a normal f32.
#[cold]
fn div_pow10_exact(w: u64, k: usize) -> Option<f32> {
    let d = *POW10_U64.get(k)?;
    if k == 0 || w == 0 {
        return None;
    }
    let bw = u64::BITS - w.leading_zeros();
    let bd = u64::BITS - d.leading_zeros();
    let t = (bd + 27).saturating_sub(bw); // ≤ 91
    let n = u128::from(w) << t;
    let d = u128::from(d);
    // q < 2^max(28, bw − bd + 1) ≤ 2^61.
    let q = u64::try_from(n / d).ok()? | u64::from(n % d != 0);
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

        /// The direct reading of number tokens agrees with the general one
        /// (the standard library's parsers) on every token: same number, same
        /// end, or the same error.
        #[test]
        fn number_fast_path_matches_slow_path(
            s in "-?[0-9]{0,21}(\\.[0-9]{0,21})?([eE][+-]?[0-9]{0,7})?[,\\] x.eE+-]?|[-+0-9.eENaIfity,\\]]{0,26}"
        ) {
            for as_float in [false, true] {
                assert_same_number(s.as_bytes(), as_float);
            }
        }

        #[test]
        fn decimal_to_f32_is_correctly_rounded(
            w in 1u64..=9_999_999_999_999_999_999,
            e10 in -19i32..=19,
        ) {
            let want: f32 = format!("{w}e{e10}").parse().unwrap();
            prop_assert_eq!(decimal_to_f32(w, e10).map(f32::to_bits), Some(want.to_bits()));
            if e10 < 0 {
                let k = e10.unsigned_abs() as usize;
                if let Some(v) = div_pow10(w, k) {
                    prop_assert_eq!(v.to_bits(), want.to_bits());
                }
                prop_assert_eq!(div_pow10_exact(w, k).map(f32::to_bits), Some(want.to_bits()));
            }
        }

        /// Decimal texts of values exactly halfway between two f32s (where
        /// rounding ties to even), and of values just beside them.
        #[test]
        fn halfway_values_round_to_even(m in 1u64 << 23..1 << 24, e in -11i32..=39, nudge in 0usize..3) {
            // (2m + 1) * 2^(e - 1) is halfway between m * 2^e and (m + 1) * 2^e.
            let odd = 2 * m + 1;
            let mut text = if e >= 1 {
                (u128::from(odd) << (e - 1)).to_string()
            } else {
                // odd * 5^(1 - e) / 10^(1 - e), written out exactly.
                let places = (1 - e) as usize;
                let digits = (u128::from(odd) * 5u128.pow(places as u32)).to_string();
                let (int, frac) = digits.split_at(digits.len() - places);
                format!("{int}.{frac}")
            };
            match nudge {
                1 => text.push('1'),
                2 => text.push_str("E0"),
                _ => {}
            }
            for as_float in [false, true] {
                assert_same_number(text.as_bytes(), as_float);
            }
            let Value::F32Array(v) = p(&format!("[{text}, 0.5]")) else { panic!("{text}") };
            let want: f32 = text.parse().unwrap();
            prop_assert_eq!(v[0].to_bits(), want.to_bits(), "{}", text);
        }
    }

    /// Checks that [`Parser::number`] and [`Parser::number_slow`] agree on `s`.
    fn assert_same_number(s: &[u8], as_float: bool) {
        let mut fast = Parser::new(s);
        let mut slow = Parser::new(s);
        let a = fast.number(as_float);
        let b = slow.number_slow(as_float);
        let bits = |n: Num| match n {
            Num::Int(i) => (0, i as u64),
            Num::Float(f) => (1, u64::from(f.to_bits())),
        };
        let text = String::from_utf8_lossy(s);
        match (a, b) {
            (Ok(a), Ok(b)) => {
                assert_eq!(bits(a), bits(b), "{text:?} as_float={as_float}");
                assert_eq!(fast.pos, slow.pos, "{text:?} as_float={as_float}");
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text:?}"),
            (a, b) => panic!("{text:?} as_float={as_float}: {a:?} vs {b:?}"),
        }
    }

    #[test]
    fn number_shapes_match_slow_path() {
        for s in [
            "0",
            "-0",
            "7",
            "-1,",
            "5]",
            "12",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "99999999999999999999",
            "007",
            "1.5",
            "-0E0",
            "0E0",
            "1E0",
            "2E2",
            "5E-1",
            "1.3241106E-1",
            "-2.3728813E-1",
            "1.20000005E-1",
            "3.2538572E-5",
            "-8.95522385835647583e-02",
            "2.50000000000000000e-01",
            "1.0e+00",
            "1e+5",
            "1E99999",
            "1E-99999",
            "0E99999",
            "1E100000",
            "1e000001",
            "3.4028235E38",
            "3.4028236E38",
            "1E39",
            "1.4E-45",
            "7E-46",
            "1.17549435E-38",
            "1E-20",
            "12345678901234567890.5",
            "0.00000000000000000001",
            "1.",
            "1.e5",
            "-.5",
            ".5",
            "1e",
            "1e+",
            "1e5.5",
            "1.2.3",
            "1-2",
            "1+2",
            "--1",
            "+1",
            "-",
            "",
            "NaN",
            "-NaN",
            "NaNx",
            "Infinity",
            "-Infinity",
            "Inf",
            "-Inf",
            "N",
            "-x",
            "16777217",
            "16777217.0",
            "1.6777217E7",
            "16777219.0",
            "8388608.5",
            "8388609.5",
            "16777217.000000001",
            "0.1",
            "0.10000000149011612",
            "1E-45",
            "1E-19",
            "1E19",
        ] {
            for as_float in [false, true] {
                assert_same_number(s.as_bytes(), as_float);
            }
        }
    }

    /// Decimals within 2^-62 (relative) above a halfway value, where the
    /// reciprocal product alone cannot tell which way to round.
    #[test]
    fn near_halfway_values_are_exact() {
        for s in [
            // The product lands exactly on the halfway pattern (exact fallback).
            "9920044646400000001e-8",
            "9701110054912000001e-6",
            "9268386081013760001e-4",
            "9932174685896704001e-3",
            "9372615065600000001e-8",
            "9724472500000000001e-12",
            "9972038231580999681e-1",
            "9483410997248000001e-6",
            "9627073330313953281e-1",
            "9694142054400000001e-8",
            // One above it (the sticky bit decides).
            "7597926425139609601e-2",
            "6230292272680796161e-1",
            "6973992400000000001e-11",
            "8164017113661440001e-4",
            "6745128362311680001e-4",
            "6271992751718400001e-4",
            "7824628515625000001e-14",
            "6985369200000000001e-11",
            "5872173776371712001e-1",
            "7084536528843571201e-1",
        ] {
            let want: f32 = s.parse().unwrap();
            let Value::Float(got) = p(s) else {
                panic!("{s}")
            };
            assert_eq!(got.to_bits(), want.to_bits(), "{s}");
        }
    }

    #[test]
    fn reciprocal_table_is_exact() {
        for (k, &(r, s)) in RECIP_POW10.iter().enumerate().skip(1) {
            let d = u128::from(POW10_U64[k]);
            assert_eq!(s, u128::BITS - d.leading_zeros(), "k={k}");
            assert!(r > 1 << 63, "k={k}");
            // r = ⌈2^(63+s) / 10^k⌉.
            assert!(u128::from(r) * d >= 1 << (63 + s), "k={k}");
            assert!(u128::from(r - 1) * d < 1 << (63 + s), "k={k}");
        }
    }

    /// Throughput on the real model files: `cargo test --release -p
    /// quercus-xgboost -- --ignored json_throughput --nocapture`.
    #[test]
    #[ignore = "benchmark"]
    fn json_throughput() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/xgboost");
        let mut docs = Vec::new();
        for dir in std::fs::read_dir(&root).unwrap() {
            let dir = dir.unwrap().path();
            for f in std::fs::read_dir(&dir).into_iter().flatten() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|e| e == "json") {
                    docs.push(std::fs::read(&f).unwrap());
                }
            }
        }
        let mb = docs.iter().map(Vec::len).sum::<usize>() as f64 / 1e6;
        // The best of several rounds, for a loaded machine.
        let mut best = f64::MAX;
        for _ in 0..20 {
            let t = std::time::Instant::now();
            for d in &docs {
                std::hint::black_box(parse(std::hint::black_box(d)).unwrap());
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        eprintln!(
            "json: {} files, {mb:.2} MB, {:.0} MB/s",
            docs.len(),
            mb / best
        );
    }
}
