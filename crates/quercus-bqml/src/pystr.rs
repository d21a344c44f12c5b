//! The few pieces of Python semantics the exported predictor leaks into its
//! behaviour: `str(value)` (vocabulary look-ups), `float(string)` (numeric
//! features, target files, NumPy's string conversion), `int(string)` (dimension
//! files) and `str.splitlines()` (vocabulary files). Python 3.11 (Unicode 14.0),
//! the predictor's, is the reference.
//!
//! Instances arrive as JSON, so `value` is what Python's `json.loads` would
//! have produced: `str`, `int`, `float`, `bool`, `None`, `list` or `dict`.

use serde_json::Value;

/// Appends Python's `str(v)` for a JSON-decoded value to `out`.
///
/// Strings are copied, integers written in decimal, floats in Python's
/// shortest-repr style (`1.0`, `1e+16`, `1.5e-05`), `true`/`false`/`null` as
/// `True`/`False`/`None`, and lists and dicts as their Python `repr`.
pub(crate) fn push_str(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        other => push_repr(other, out),
    }
}

/// Appends Python's `repr(v)`.
fn push_repr(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else if let Some(f) = n.as_f64() {
                push_float_repr(f, out);
            }
        }
        Value::String(s) => push_string_repr(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_repr(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_string_repr(k, out);
                out.push_str(": ");
                push_repr(item, out);
            }
            out.push('}');
        }
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed
/// notation when the decimal exponent is in `-4..16`, else scientific with a
/// signed exponent of at least two digits.
pub(crate) fn push_float_repr(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("nan");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "inf" } else { "-inf" });
        return;
    }
    // Rust's `{:e}` is the shortest round-trip representation: `d[.ddd]e[-]x`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push('0');
        }
        out.push_str(&a.to_string());
    }
}

/// Python's `repr(str)`: single quotes unless the text holds a single quote
/// and no double quote; backslash escapes for the quote, `\\`, `\t`, `\n`,
/// `\r` and other non-printable characters.
fn push_string_repr(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_printable(c) => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02x}"));
                } else if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// An approximation of Python's `str.isprintable` for single characters: the
/// control characters and the common separator / format characters.
fn is_printable(c: char) -> bool {
    let n = c as u32;
    !(n < 0x20
        || (0x7f..=0xa0).contains(&n)
        || n == 0xad
        || n == 0x1680
        || (0x2000..=0x200f).contains(&n)
        || (0x2028..=0x202f).contains(&n)
        || (0x205f..=0x2064).contains(&n)
        || n == 0x3000
        || n == 0xfeff)
}

/// Python's `float(s)` for a string (which is also what NumPy does when it
/// converts a string to `float64`): surrounding whitespace is ignored, single
/// underscores may separate digits, `inf`/`infinity`/`nan` in any case with an
/// optional sign. Returns `None` where Python raises `ValueError`.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    let ascii;
    let s = if s.is_ascii() {
        s
    } else {
        ascii = transform_decimal_and_space(s)?;
        ascii.as_str()
    };
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let cleaned;
    let t = if t.contains('_') {
        cleaned = strip_digit_underscores(t)?;
        cleaned.as_str()
    } else {
        t
    };
    // Rust's grammar is Python's (digits, `.`, exponent, inf/infinity/nan in any
    // case, optional sign), except that Rust rejects nothing Python accepts here.
    t.parse::<f64>().ok()
}

/// Python's `int(s)` for a string: whitespace, an optional sign, decimal digits
/// with single underscores between them.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let ascii;
    let s = if s.is_ascii() {
        s
    } else {
        ascii = transform_decimal_and_space(s)?;
        ascii.as_str()
    };
    let t = s.trim();
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let cleaned = strip_digit_underscores(body)?;
    if cleaned.is_empty() || !cleaned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = cleaned.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// CPython's `_PyUnicode_TransformDecimalAndSpaceToASCII`, which `float()` and
/// `int()` apply to a string first: every non-ASCII whitespace character
/// becomes a space and every Unicode decimal digit (category Nd) its ASCII
/// digit, so `float("١٢")` is `12.0`. Any other non-ASCII character makes the
/// string unparsable (`None`; CPython substitutes `?`).
fn transform_decimal_and_space(s: &str) -> Option<String> {
    s.chars()
        .map(|c| {
            if c.is_ascii() {
                Some(c)
            } else if c.is_whitespace() {
                Some(' ')
            } else {
                decimal_digit(c).map(|d| char::from(b'0' + d))
            }
        })
        .collect()
}

/// The first code point (digit zero) of every run of ten Unicode decimal
/// digits (category Nd) outside ASCII, as of Unicode 14.0 (Python 3.11's
/// `unicodedata`): each run holds the digits 0 to 9 in order.
const DECIMAL_ZEROS: [u32; 65] = [
    0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6,
    0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50,
    0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// The value of a non-ASCII Unicode decimal digit (Python's
/// `unicodedata.decimal`).
fn decimal_digit(c: char) -> Option<u8> {
    let n = c as u32;
    let i = DECIMAL_ZEROS.partition_point(|&z| z <= n);
    let zero = *DECIMAL_ZEROS.get(i.checked_sub(1)?)?;
    u8::try_from(n - zero).ok().filter(|d| *d < 10)
}

/// Removes underscores that sit between two digits; `None` if any underscore
/// does not (Python rejects `_1`, `1_`, `1__0`, `1_.5`).
fn strip_digit_underscores(t: &str) -> Option<String> {
    let b = t.as_bytes();
    let mut out = String::with_capacity(t.len());
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let before = i > 0 && b[i - 1].is_ascii_digit();
            let after = b.get(i + 1).is_some_and(|x| x.is_ascii_digit());
            if !(before && after) {
                return None;
            }
        } else {
            out.push(c as char);
        }
    }
    Some(out)
}

/// Python's `str.splitlines()` after reading a file in text mode (universal
/// newlines: `\r\n` and `\r` already turned into `\n`).
pub(crate) fn splitlines(text: &str) -> Vec<String> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if matches!(
            c,
            '\n' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}'
        ) {
            lines.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: Value) -> String {
        let mut out = String::new();
        push_str(&v, &mut out);
        out
    }

    #[test]
    fn str_matches_python() {
        assert_eq!(s(serde_json::json!("abc")), "abc");
        assert_eq!(s(serde_json::json!(1)), "1");
        assert_eq!(s(serde_json::json!(-7)), "-7");
        assert_eq!(s(serde_json::json!(1.0)), "1.0");
        assert_eq!(s(serde_json::json!(100.0)), "100.0");
        assert_eq!(s(serde_json::json!(0.1)), "0.1");
        assert_eq!(s(serde_json::json!(1e16)), "1e+16");
        assert_eq!(s(serde_json::json!(1.5e-5)), "1.5e-05");
        assert_eq!(s(serde_json::json!(0.0001)), "0.0001");
        assert_eq!(s(serde_json::json!(123456789012345.6)), "123456789012345.6");
        assert_eq!(s(serde_json::json!(1.2345e22)), "1.2345e+22");
        assert_eq!(s(serde_json::json!(-2.5e-300)), "-2.5e-300");
        assert_eq!(s(serde_json::json!(true)), "True");
        assert_eq!(s(serde_json::json!(null)), "None");
        assert_eq!(
            s(serde_json::json!(["a", 1, 2.0, null])),
            "['a', 1, 2.0, None]"
        );
        assert_eq!(s(serde_json::json!(["it's"])), "[\"it's\"]");
        assert_eq!(s(serde_json::json!([[]])), "[[]]");
        assert_eq!(s(serde_json::json!({"k": [1]})), "{'k': [1]}");
    }

    #[test]
    fn float_parsing_matches_python() {
        assert_eq!(parse_float(" 1.5 "), Some(1.5));
        assert_eq!(parse_float("1_000"), Some(1000.0));
        assert_eq!(parse_float("+.5"), Some(0.5));
        assert_eq!(parse_float("5."), Some(5.0));
        assert_eq!(parse_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(parse_float("nAn").is_some_and(f64::is_nan));
        for bad in ["", " ", "1__0", "_1", "1_", "0x10", "1e", "True", "1,5"] {
            assert_eq!(parse_float(bad), None, "{bad}");
        }
        // Unicode decimal digits and whitespace, as CPython transforms them.
        assert_eq!(parse_float("\u{661}\u{662}"), Some(12.0));
        assert_eq!(parse_float("\u{a0}\u{ff15}.\u{1d7d9}\u{3000}"), Some(5.1));
        assert_eq!(parse_float("\u{1fbf9}_\u{30}"), Some(90.0));
        for bad in ["\u{b2}", "1\u{a0}2", "\u{665}\u{e9}", "\u{1c}5", "\u{2155}"] {
            assert_eq!(parse_float(bad), None, "{bad:?}");
        }
        assert_eq!(parse_int("\u{967}\u{966}"), Some(10));
    }

    #[test]
    fn int_parsing_matches_python() {
        assert_eq!(parse_int(" 12\n"), Some(12));
        assert_eq!(parse_int("+1_0"), Some(10));
        assert_eq!(parse_int("-3"), Some(-3));
        for bad in ["", "1.0", "x", "1__0", "- 1"] {
            assert_eq!(parse_int(bad), None, "{bad}");
        }
    }

    #[test]
    fn splitlines_matches_python() {
        assert_eq!(splitlines("a\nb\n"), ["a", "b"]);
        assert_eq!(splitlines("a\r\n\nb"), ["a", "", "b"]);
        assert_eq!(splitlines("a\rb\x0cc"), ["a", "b", "c"]);
        assert!(splitlines("").is_empty());
    }
}
