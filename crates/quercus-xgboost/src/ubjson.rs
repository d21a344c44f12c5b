//! UBJSON reader (research note §2): big-endian numbers; object keys without an
//! `S` marker (an integer-marked length, then the bytes); `[#n` counted and
//! `[$t#n` typed arrays without a closing `]`; `{`…`}` objects, plus the counted
//! and typed object forms for robustness.
//!
//! Model files are untrusted: every count is checked against the bytes left
//! before anything is allocated for it, negative counts are rejected, nesting is
//! limited to [`MAX_DEPTH`], and errors carry the byte offset.

use crate::value::Value;
use quercus_core::{Error, Result};

/// The deepest nesting of arrays and objects accepted.
const MAX_DEPTH: usize = 128;

/// Parses a UBJSON document.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value> {
    let mut r = Reader { b: bytes, pos: 0 };
    let v = r.value(0)?;
    if r.pos != r.b.len() {
        return Err(r.err(r.pos, "unexpected data after the end of the document"));
    }
    Ok(v)
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

/// Fixed-size big-endian chunk → array (the chunk length is guaranteed by
/// `chunks_exact`).
fn be<const N: usize>(c: &[u8]) -> [u8; N] {
    let mut a = [0; N];
    a.copy_from_slice(c);
    a
}

impl<'a> Reader<'a> {
    fn err(&self, at: usize, msg: impl Into<String>) -> Error {
        Error::format(msg).with_offset(at as u64)
    }

    fn left(&self) -> usize {
        self.b.len() - self.pos
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.left() {
            return Err(self.err(
                self.pos,
                format!(
                    "unexpected end of input: {n} bytes needed, {} left",
                    self.left()
                ),
            ));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.take(N).map(be::<N>)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.fixed::<1>()?[0])
    }

    /// The payload of an integer with marker `m`, or `None` if `m` is not an
    /// integer marker.
    fn int_of(&mut self, m: u8) -> Result<Option<i64>> {
        Ok(Some(match m {
            b'i' => i64::from(i8::from_be_bytes(self.fixed()?)),
            b'U' => i64::from(u8::from_be_bytes(self.fixed()?)),
            b'I' => i64::from(i16::from_be_bytes(self.fixed()?)),
            b'l' => i64::from(i32::from_be_bytes(self.fixed()?)),
            b'L' => i64::from_be_bytes(self.fixed()?),
            _ => return Ok(None),
        }))
    }

    /// A length or count: an integer marker and payload, non-negative.
    fn length(&mut self, what: &str) -> Result<usize> {
        let at = self.pos;
        let m = self.byte()?;
        let n = self
            .int_of(m)?
            .ok_or_else(|| self.err(at, format!("expected an integer {what}")))?;
        usize::try_from(n).map_err(|_| self.err(at, format!("negative {what} {n}")))
    }

    /// A count of items that each take at least `min_item_bytes`, checked
    /// against the bytes left.
    fn count(&mut self, min_item_bytes: usize) -> Result<usize> {
        let at = self.pos;
        let n = self.length("count")?;
        if n.checked_mul(min_item_bytes)
            .is_none_or(|need| need > self.left())
        {
            return Err(self.err(
                at,
                format!(
                    "count {n} is larger than the {} bytes left allow",
                    self.left()
                ),
            ));
        }
        Ok(n)
    }

    /// String bytes after their `S` marker (or a key): length, then UTF-8.
    fn string(&mut self) -> Result<String> {
        let n = self.length("string length")?;
        let bytes = self.take(n)?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }

    /// An object key: XGBoost writes no `S` marker, but one is accepted.
    fn key(&mut self) -> Result<String> {
        if self.peek() == Some(b'S') {
            self.pos += 1;
        }
        self.string()
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        let at = self.pos;
        let m = self.byte()?;
        self.value_of(m, at, depth)
    }

    /// The value whose marker `m` (at offset `at`) has been read.
    fn value_of(&mut self, m: u8, at: usize, depth: usize) -> Result<Value> {
        if let Some(i) = self.int_of(m)? {
            return Ok(Value::Int(i));
        }
        Ok(match m {
            b'{' => self.object(at, depth + 1)?,
            b'[' => self.array(at, depth + 1)?,
            b'Z' => Value::Null,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            b'd' => Value::Float(f32::from_be_bytes(self.fixed()?)),
            // XGBoost's Number is f32; an f64 is rounded to it.
            b'D' => Value::Float(f64::from_be_bytes(self.fixed()?) as f32),
            // XGBoost reads a char into its (signed, on x86) `char`.
            b'C' => Value::Int(i64::from(i8::from_be_bytes(self.fixed()?))),
            b'S' => Value::Str(self.string()?),
            b'H' => return Err(self.err(at, "high-precision numbers (`H`) are not supported")),
            _ if m.is_ascii_graphic() => {
                return Err(self.err(at, format!("unknown UBJSON marker `{}`", m as char)));
            }
            _ => return Err(self.err(at, format!("unknown UBJSON marker 0x{m:02x}"))),
        })
    }

    fn check_depth(&self, at: usize, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(self.err(at, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    /// An array after its `[` (at offset `at`).
    fn array(&mut self, at: usize, depth: usize) -> Result<Value> {
        self.check_depth(at, depth)?;
        match self.peek() {
            Some(b'$') => {
                self.pos += 1;
                let t_at = self.pos;
                let t = self.byte()?;
                self.typed_array(t, t_at)
            }
            Some(b'#') => {
                self.pos += 1;
                let n = self.count(1)?;
                let mut items = Vec::with_capacity(n.min(4096));
                for _ in 0..n {
                    items.push(self.value(depth)?);
                }
                Ok(Value::Array(items))
            }
            _ => {
                let mut items = Vec::new();
                while self.peek() != Some(b']') {
                    items.push(self.value(depth)?);
                }
                self.pos += 1;
                Ok(Value::Array(items))
            }
        }
    }

    /// A typed array's `#n` and payload, element type `t` (at offset `t_at`).
    fn typed_array(&mut self, t: u8, t_at: usize) -> Result<Value> {
        let size = match t {
            b'i' | b'U' => 1,
            b'I' => 2,
            b'l' | b'd' => 4,
            b'L' | b'D' => 8,
            _ => {
                return Err(self.err(
                    t_at,
                    format!("typed arrays of `{}` are not supported", t.escape_ascii()),
                ));
            }
        };
        if self.peek() != Some(b'#') {
            return Err(self.err(self.pos, "a typed array must have a count (`#`)"));
        }
        self.pos += 1;
        let n = self.count(size)?;
        let data = self.take(n * size)?;
        Ok(match t {
            b'i' => Value::I8Array(data.iter().map(|&x| x as i8).collect()),
            b'U' => Value::U8Array(data.to_vec()),
            b'I' => Value::I16Array(
                data.chunks_exact(2)
                    .map(|c| i16::from_be_bytes(be(c)))
                    .collect(),
            ),
            b'l' => Value::I32Array(
                data.chunks_exact(4)
                    .map(|c| i32::from_be_bytes(be(c)))
                    .collect(),
            ),
            b'd' => Value::F32Array(
                data.chunks_exact(4)
                    .map(|c| f32::from_be_bytes(be(c)))
                    .collect(),
            ),
            b'L' => Value::I64Array(
                data.chunks_exact(8)
                    .map(|c| i64::from_be_bytes(be(c)))
                    .collect(),
            ),
            _ => Value::F64Array(
                data.chunks_exact(8)
                    .map(|c| f64::from_be_bytes(be(c)))
                    .collect(),
            ),
        })
    }

    /// An object after its `{` (at offset `at`).
    fn object(&mut self, at: usize, depth: usize) -> Result<Value> {
        self.check_depth(at, depth)?;
        let mut members = Vec::new();
        // Every member takes at least 2 bytes (a key's length marker and payload).
        match self.peek() {
            Some(b'$') => {
                self.pos += 1;
                let t = self.byte()?;
                if self.peek() != Some(b'#') {
                    return Err(self.err(self.pos, "a typed object must have a count (`#`)"));
                }
                self.pos += 1;
                let n = self.count(2)?;
                for _ in 0..n {
                    let key = self.key()?;
                    let v_at = self.pos;
                    members.push((key, self.value_of(t, v_at, depth)?));
                }
            }
            Some(b'#') => {
                self.pos += 1;
                let n = self.count(2)?;
                for _ in 0..n {
                    let key = self.key()?;
                    members.push((key, self.value(depth)?));
                }
            }
            _ => {
                while self.peek() != Some(b'}') {
                    let key = self.key()?;
                    members.push((key, self.value(depth)?));
                }
                self.pos += 1;
            }
        }
        Ok(Value::Object(members))
    }
}

/// A UBJSON encoder in XGBoost's style (`UBJWriter`), to build test documents.
#[cfg(test)]
pub(crate) fn encode(v: &Value) -> Vec<u8> {
    fn len(out: &mut Vec<u8>, n: usize) {
        out.push(b'L');
        out.extend_from_slice(&(n as i64).to_be_bytes());
    }
    fn typed<T, const N: usize>(out: &mut Vec<u8>, t: u8, xs: &[T], f: impl Fn(&T) -> [u8; N]) {
        out.extend_from_slice(&[b'[', b'$', t, b'#']);
        len(out, xs.len());
        for x in xs {
            out.extend_from_slice(&f(x));
        }
    }
    fn go(v: &Value, out: &mut Vec<u8>) {
        match v {
            Value::Null => out.push(b'Z'),
            Value::Bool(b) => out.push(if *b { b'T' } else { b'F' }),
            Value::Int(i) => {
                // XGBoost's strict bounds: -128 and 127 already take `I`.
                let i = *i;
                if i > -128 && i < 127 {
                    out.push(b'i');
                    out.extend_from_slice(&(i as i8).to_be_bytes());
                } else if i > -32768 && i < 32767 {
                    out.push(b'I');
                    out.extend_from_slice(&(i as i16).to_be_bytes());
                } else if i > i64::from(i32::MIN) && i < i64::from(i32::MAX) {
                    out.push(b'l');
                    out.extend_from_slice(&(i as i32).to_be_bytes());
                } else {
                    out.push(b'L');
                    out.extend_from_slice(&i.to_be_bytes());
                }
            }
            Value::Float(f) => {
                out.push(b'd');
                out.extend_from_slice(&f.to_be_bytes());
            }
            Value::Str(s) => {
                out.push(b'S');
                len(out, s.len());
                out.extend_from_slice(s.as_bytes());
            }
            Value::Array(items) => {
                out.extend_from_slice(b"[#");
                len(out, items.len());
                for x in items {
                    go(x, out);
                }
            }
            Value::I8Array(xs) => typed(out, b'i', xs, |x| x.to_be_bytes()),
            Value::U8Array(xs) => typed(out, b'U', xs, |x| x.to_be_bytes()),
            Value::I16Array(xs) => typed(out, b'I', xs, |x| x.to_be_bytes()),
            Value::I32Array(xs) => typed(out, b'l', xs, |x| x.to_be_bytes()),
            Value::I64Array(xs) => typed(out, b'L', xs, |x| x.to_be_bytes()),
            Value::F32Array(xs) => typed(out, b'd', xs, |x| x.to_be_bytes()),
            Value::F64Array(xs) => typed(out, b'D', xs, |x| x.to_be_bytes()),
            Value::Object(members) => {
                out.push(b'{');
                for (k, x) in members {
                    len(out, k.len());
                    out.extend_from_slice(k.as_bytes());
                    go(x, out);
                }
                out.push(b'}');
            }
        }
    }
    let mut out = Vec::new();
    go(v, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn obj(members: Vec<(&str, Value)>) -> Value {
        Value::Object(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    fn sample() -> Value {
        obj(vec![
            (
                "learner",
                obj(vec![
                    ("name", Value::Str("gbtree".into())),
                    ("f", Value::F32Array(vec![0.5, f32::INFINITY, -0.0])),
                    ("l", Value::I32Array(vec![1, -1, i32::MAX])),
                    ("b", Value::U8Array(vec![0, 1])),
                    ("s", Value::I64Array(vec![i64::MIN, 0])),
                    ("w", Value::I16Array(vec![-300])),
                    ("c", Value::I8Array(vec![-5])),
                    ("e", Value::Array(vec![])),
                ]),
            ),
            (
                "version",
                Value::Array(vec![Value::Int(3), Value::Int(-128), Value::Int(127)]),
            ),
            (
                "misc",
                Value::Array(vec![
                    Value::Null,
                    Value::Bool(true),
                    Value::Bool(false),
                    Value::Float(1.5),
                    Value::Int(40_000),
                    Value::Int(1 << 40),
                    Value::Str("é".into()),
                    Value::Object(vec![]),
                ]),
            ),
        ])
    }

    #[test]
    fn round_trips_xgboost_style_documents() {
        let v = sample();
        let bytes = encode(&v);
        // An XGBoost file starts with `{L` and the 8-byte key length.
        assert_eq!(&bytes[..2], b"{L");
        assert_eq!(parse(&bytes).unwrap(), v);
        assert_eq!(crate::detect(&bytes), Some(crate::Format::Ubjson));
    }

    #[test]
    fn hand_written_forms() {
        // Uncounted array with a closing `]`, small-int length markers, `S` keys,
        // `U`/`C`/`D` scalars.
        let doc = b"{U\x01a[i\x01U\xffC\x41D\x3f\xf8\x00\x00\x00\x00\x00\x00]SU\x01bSi\x02hi}";
        assert_eq!(
            parse(doc).unwrap(),
            obj(vec![
                (
                    "a",
                    Value::Array(vec![
                        Value::Int(1),
                        Value::Int(255),
                        Value::Int(65),
                        Value::Float(1.5),
                    ])
                ),
                ("b", Value::Str("hi".into())),
            ])
        );
        // Counted and typed objects.
        assert_eq!(
            parse(b"{#i\x02i\x01ai\x07i\x01bZ").unwrap(),
            obj(vec![("a", Value::Int(7)), ("b", Value::Null)])
        );
        assert_eq!(
            parse(b"{$d#i\x01i\x01x\x3f\x80\x00\x00").unwrap(),
            obj(vec![("x", Value::Float(1.0))])
        );
        // Typed arrays with other count markers.
        assert_eq!(
            parse(b"[$D#U\x01\x3f\xf8\x00\x00\x00\x00\x00\x00").unwrap(),
            Value::F64Array(vec![1.5])
        );
        assert_eq!(
            parse(b"[$l#i\x02\x00\x00\x00\x01\xff\xff\xff\xff").unwrap(),
            Value::I32Array(vec![1, -1])
        );
    }

    #[test]
    fn counts_beyond_the_input_are_errors() {
        let cases: [&[u8]; 9] = [
            b"[#L\x00\x00\x01\x00\x00\x00\x00\x00ZZZ",
            b"[$d#L\x7f\xff\xff\xff\xff\xff\xff\xff",
            b"[$d#L\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00",
            b"[$L#l\x00\x10\x00\x00",
            b"[#L\xff\xff\xff\xff\xff\xff\xff\xff",
            b"[$U#i\xff",
            b"{#L\x00\x00\x00\x00\x10\x00\x00\x00",
            b"SL\x00\x00\x00\x00\x00\x00\x00\x05abc",
            b"{L\x7f\xff\xff\xff\xff\xff\xff\xffabc",
        ];
        for doc in cases {
            let e = parse(doc).unwrap_err();
            assert!(e.location().offset.is_some(), "{e}");
        }
        let e = parse(b"[$d#L\x7f\xff\xff\xff\xff\xff\xff\xff").unwrap_err();
        assert_eq!(e.location().offset, Some(4));
        assert!(e.to_string().contains("count"), "{e}");
        assert!(
            parse(b"[#i\xffZ")
                .unwrap_err()
                .to_string()
                .contains("negative")
        );
    }

    #[test]
    fn unsupported_and_malformed() {
        for doc in [
            &b"H"[..],
            b"[$S#i\x01",
            b"[$Z#L\x7f\xff\xff\xff\xff\xff\xff\xff",
            b"[$di\x01",
            b"{$i}",
            b"{S}",
            b"X",
            b"\x00",
            b"ZZ",
            b"",
            b"[#d\x00",
        ] {
            assert!(parse(doc).is_err(), "{doc:?}");
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encode(&sample());
        for i in 0..bytes.len() {
            assert!(parse(&bytes[..i]).is_err(), "prefix of {i} bytes parsed");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        for unit in [
            &b"["[..],
            b"[#L\x00\x00\x00\x00\x00\x00\x00\x01",
            b"{i\x01a",
        ] {
            let e = parse(&unit.repeat(100_000)).unwrap_err();
            assert!(e.to_string().contains("nesting"), "{e}");
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn mutations_never_panic(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let mut bytes = encode(&sample());
            for (i, b) in edits {
                let i = i.index(bytes.len());
                bytes[i] = b;
            }
            let _ = parse(&bytes);
        }
    }
}
