//! A small YAML writer for JSON values: what the predict schemata files need.
//!
//! The output is block-style YAML that YAML 1.1 readers (PyYAML) and YAML 1.2
//! readers read back as the same JSON value:
//!
//! * strings are plain only when they cannot be mistaken for anything else
//!   (`[A-Za-z_][A-Za-z0-9_.-]*` and not `true`/`no`/`null`/`on`...);
//!   otherwise double-quoted, with every line break, control character and
//!   other non-printable character escaped;
//! * floats always have a `.` and a signed exponent (`1.0e+39`), since YAML 1.1
//!   reads `1e39` as a string;
//! * empty mappings and sequences are written `{}` and `[]`.

use serde_json::{Number, Value};

/// Writes `value` as a YAML document (block style, two-space indentation,
/// ending with a newline). Object keys keep their order.
///
/// ```
/// use serde_json::json;
/// let text = quercus_vertex::yaml::to_string(&json!({
///     "type": "object",
///     "properties": {"age": {"type": "number"}, "on": {"type": "string"}},
///     "required": ["age", "on"],
/// }));
/// assert_eq!(text, "\
/// type: object
/// properties:
///   age:
///     type: number
///   \"on\":
///     type: string
/// required:
/// - age
/// - \"on\"
/// ");
/// ```
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => block(&mut out, value, 0, false),
        Value::Array(a) if !a.is_empty() => block(&mut out, value, 0, false),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
    out
}

fn is_compound(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// Writes a non-empty mapping or sequence whose lines start at `indent`. With
/// `continue_line`, the caller has already written `- ` and the first line
/// continues it.
fn block(out: &mut String, v: &Value, indent: usize, continue_line: bool) {
    let mut first = true;
    let mut start_line = |out: &mut String| {
        if !(first && continue_line) {
            pad(out, indent);
        }
        first = false;
    };
    match v {
        Value::Object(m) => {
            for (k, item) in m {
                start_line(out);
                out.push_str(&string(k));
                out.push(':');
                if is_compound(item) {
                    out.push('\n');
                    let child = if item.is_array() { indent } else { indent + 2 };
                    block(out, item, child, false);
                } else {
                    out.push(' ');
                    out.push_str(&inline(item));
                    out.push('\n');
                }
            }
        }
        Value::Array(a) => {
            for item in a {
                start_line(out);
                out.push_str("- ");
                if is_compound(item) {
                    block(out, item, indent + 2, true);
                } else {
                    out.push_str(&inline(item));
                    out.push('\n');
                }
            }
        }
        _ => {
            out.push_str(&inline(v));
            out.push('\n');
        }
    }
}

/// A scalar or an empty container on one line.
fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number(n),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A number YAML 1.1 and 1.2 both read back as the same value.
fn number(n: &Number) -> String {
    let s = n.to_string();
    if !n.is_f64() {
        return s;
    }
    let (mantissa, exponent) = match s.split_once(['e', 'E']) {
        Some((m, e)) => (m.to_string(), Some(e.to_string())),
        None => (s.clone(), None),
    };
    let mut out = mantissa;
    if !out.contains('.') {
        out.push_str(".0");
    }
    if let Some(e) = exponent {
        out.push('e');
        if !e.starts_with(['-', '+']) {
            out.push('+');
        }
        out.push_str(&e);
    }
    out
}

/// Words a YAML 1.1 reader resolves to a boolean or null when plain.
const RESERVED: &[&str] = &[
    "null", "true", "false", "yes", "no", "on", "off", "y", "n", "~",
];

fn plain_ok(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str())
}

/// A string scalar: plain when unambiguous, else double-quoted.
fn string(s: &str) -> String {
    if plain_ok(s) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // Control characters, DEL and C1 controls (YAML: not printable),
            // NEL and the Unicode line/paragraph separators (YAML: line
            // breaks), the BOM and the non-characters U+FFFE/U+FFFF.
            c if (c as u32) < 0x20 || (0x7f..=0x9f).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars() {
        assert_eq!(to_string(&json!(null)), "null\n");
        assert_eq!(to_string(&json!(true)), "true\n");
        assert_eq!(to_string(&json!(3)), "3\n");
        assert_eq!(to_string(&json!(-3)), "-3\n");
        assert_eq!(to_string(&json!(1.5)), "1.5\n");
        assert_eq!(to_string(&json!(1e39)), "1.0e+39\n");
        assert_eq!(to_string(&json!(1.5e-7)), "1.5e-7\n");
        assert_eq!(to_string(&json!(2.0)), "2.0\n");
        assert_eq!(to_string(&json!("abc")), "abc\n");
        assert_eq!(to_string(&json!({})), "{}\n");
        assert_eq!(to_string(&json!([])), "[]\n");
    }

    #[test]
    fn strings_that_need_quotes() {
        for (s, want) in [
            ("", "\"\""),
            ("yes", "\"yes\""),
            ("No", "\"No\""),
            ("NULL", "\"NULL\""),
            ("1", "\"1\""),
            ("1.5", "\"1.5\""),
            ("a b", "\"a b\""),
            ("a: b", "\"a: b\""),
            ("-x", "\"-x\""),
            ("#x", "\"#x\""),
            (".nan", "\".nan\""),
            ("a\"b\\c", "\"a\\\"b\\\\c\""),
            ("l1\nl2\r\t", "\"l1\\nl2\\r\\t\""),
            ("\u{0}\u{7f}\u{85}", "\"\\x00\\x7F\\x85\""),
            ("a\u{2028}b", "\"a\\u2028b\""),
            ("日本", "\"日本\""),
        ] {
            assert_eq!(string(s), want, "{s:?}");
        }
        for s in [
            "abc",
            "predicted_label",
            "f2_foo",
            "v1.2",
            "a-b",
            "NaN",
            "inf",
        ] {
            assert_eq!(string(s), s);
        }
    }

    #[test]
    fn nesting() {
        let v = json!({
            "a": [1, {"b": [], "c": {"d": "e"}}, [2, [3]]],
            "x": {"y": [{"z": 1}]},
        });
        assert_eq!(
            to_string(&v),
            "a:\n- 1\n- b: []\n  c:\n    d: e\n- - 2\n  - - 3\nx:\n  \"y\":\n  - z: 1\n"
        );
    }
}
