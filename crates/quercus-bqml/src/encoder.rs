//! The feature encoder: built once at load time from the metadata and the asset
//! files, it turns JSON instances into the `f32` rows XGBoost was trained on,
//! exactly as `Predictor._preprocess` of Google's exported predictor does
//! (followed by its `np.array(dtype=float)` and XGBoost's `float32` cast).

use std::collections::HashMap;

use quercus_core::{Error, Result};
use serde_json::{Map, Value};

use crate::pystr;

/// How one feature is encoded.
#[derive(Clone, Debug)]
pub(crate) enum Enc {
    /// `float(v)`; the empty string becomes `empty` (the stored mean, `0.0`
    /// without one, NaN for a `null` mean).
    Numeric { empty: f64 },
    /// One column per vocabulary line; `1.0` at the value's first line.
    CatOneHot { index: HashMap<String, u32> },
    /// `K` columns from the value's target vector; unknown values are missing.
    CatTarget { table: HashMap<String, Vec<f32>> },
    /// One column: the value's first line number in the vocabulary.
    CatLabel { index: HashMap<String, f32> },
    /// One column per vocabulary line; `1.0` for every item present.
    ArrOneHot { index: HashMap<String, u32> },
    /// `K` columns: the mean of the items' target vectors.
    ArrTarget {
        table: HashMap<String, Vec<f64>>,
        width: usize,
    },
    /// `dim` columns set from `[key, value]` pairs.
    ArrStruct { dim: usize },
    /// `len` columns, the array itself.
    ArrNumerical { len: usize },
}

impl Enc {
    /// A first-occurrence index of vocabulary lines (`list.index` semantics).
    pub(crate) fn first_index(lines: &[String]) -> HashMap<String, u32> {
        let mut index = HashMap::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            index.entry(line.clone()).or_insert(i as u32);
        }
        index
    }
}

/// One feature of the encoder.
#[derive(Clone, Debug)]
pub(crate) struct FeatureEnc {
    pub name: String,
    /// First column of this feature's block.
    pub offset: usize,
    /// Number of columns.
    pub width: usize,
    pub enc: Enc,
}

/// The whole encoder.
#[derive(Clone, Debug)]
pub(crate) struct Encoder {
    pub features: Vec<FeatureEnc>,
    pub by_name: HashMap<String, usize>,
    pub width: usize,
}

/// Reusable buffers for encoding, and the errors the predictor only raises
/// after every instance is encoded.
#[derive(Default)]
pub(crate) struct Scratch {
    text: String,
    seen: Vec<bool>,
    /// The instance being encoded (its index in the request).
    pub row: usize,
    pub deferred: Deferred,
}

/// Errors the exported predictor raises only once every instance has been
/// encoded, so that any encoding error (of any instance, in instance and
/// column order) is reported first:
///
/// 1. `convert`: `np.array(encoded, dtype=float)` cannot convert an
///    `ARRAY<STRUCT>` value (stored raw by the encoding);
/// 2. `inf`: XGBoost's `DMatrix` refuses a value that is infinite in `float32`.
///
/// Each keeps the first error of its class, in instance and column order.
#[derive(Default)]
pub(crate) struct Deferred {
    convert: Option<Error>,
    inf: Option<Error>,
}

impl Deferred {
    /// Keeps the earlier errors of `self`, filling in from `later`.
    pub fn merge(&mut self, later: Deferred) {
        if self.convert.is_none() {
            self.convert = later.convert;
        }
        if self.inf.is_none() {
            self.inf = later.inf;
        }
    }

    /// The error the predictor reports, if any.
    pub fn into_result(self) -> Result<()> {
        match self.convert.or(self.inf) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Where deferred errors are recorded: the class lists, and the instance.
struct Sink<'a> {
    deferred: &'a mut Deferred,
    row: usize,
}

impl Sink<'_> {
    fn convert(&mut self, e: Error) {
        if self.deferred.convert.is_none() {
            self.deferred.convert = Some(e.with_row(self.row));
        }
    }

    /// `float64 -> float32`, as XGBoost converts its input; a value that is
    /// (or rounds to) infinity is recorded as XGBoost's error.
    #[inline]
    fn float32(&mut self, feature: &str, x: f64) -> f32 {
        let f = x as f32;
        if f.is_infinite() {
            self.inf(bad(
                feature,
                format!(
                    "{} is infinite or too large for float32 (XGBoost rejects it)",
                    FloatDisplay(x)
                ),
            ));
        }
        f
    }

    fn inf(&mut self, e: Error) {
        if self.deferred.inf.is_none() {
            self.deferred.inf = Some(e.with_row(self.row));
        }
    }
}

/// An encoding error for one feature of one instance.
fn bad(feature: &str, msg: impl std::fmt::Display) -> Error {
    Error::input(format!("feature `{feature}`: {msg}"))
}

struct FloatDisplay(f64);

impl std::fmt::Display for FloatDisplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        pystr::push_float_repr(self.0, &mut s);
        f.write_str(&s)
    }
}

/// A short rendering of an instance value for error messages.
fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        let mut t: String = s.chars().take(60).collect();
        t.push('…');
        t
    } else {
        s
    }
}

/// The Python type name of a JSON-decoded value, for error messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "None",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Looks a value up by its Python `str()`.
#[inline]
fn lookup<'m, T>(map: &'m HashMap<String, T>, v: &Value, text: &mut String) -> Option<&'m T> {
    match v {
        Value::String(s) => map.get(s.as_str()),
        other => {
            text.clear();
            pystr::push_str(other, text);
            map.get(text.as_str())
        }
    }
}

/// The items of an iterable JSON value, as Python iterates them: a list's
/// elements, a string's characters, a dict's keys. Other values are not
/// iterable (Python's `TypeError`).
enum Items<'a> {
    List(&'a [Value]),
    Chars(&'a str),
    Keys(&'a Map<String, Value>),
}

impl<'a> Items<'a> {
    fn of(feature: &str, v: &'a Value) -> Result<Items<'a>> {
        match v {
            Value::Array(a) => Ok(Items::List(a)),
            Value::String(s) => Ok(Items::Chars(s)),
            Value::Object(m) => Ok(Items::Keys(m)),
            other => Err(bad(
                feature,
                format!(
                    "expected an array, found {} ({})",
                    show(other),
                    type_name(other)
                ),
            )),
        }
    }

    fn len(&self) -> usize {
        match self {
            Items::List(a) => a.len(),
            Items::Chars(s) => s.chars().count(),
            Items::Keys(m) => m.len(),
        }
    }

    /// Calls `f` with the Python `str()` of every item.
    fn for_each_str(&self, text: &mut String, mut f: impl FnMut(&str)) {
        match self {
            Items::List(items) => {
                for item in *items {
                    match item {
                        Value::String(s) => f(s),
                        other => {
                            text.clear();
                            pystr::push_str(other, text);
                            f(text);
                        }
                    }
                }
            }
            Items::Chars(s) => {
                let mut buf = [0u8; 4];
                for c in s.chars() {
                    f(c.encode_utf8(&mut buf));
                }
            }
            Items::Keys(m) => {
                for k in m.keys() {
                    f(k);
                }
            }
        }
    }
}

/// NumPy's conversion of one element to `float64` (`np.array(..., dtype=float)`
/// on Python objects): numbers, booleans, `None` (NaN) and numeric strings.
fn np_float(feature: &str, v: &Value) -> Result<f64> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| bad(feature, format!("{n} is not a number"))),
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        Value::Null => Ok(f64::NAN),
        Value::String(s) => pystr::parse_float(s)
            .ok_or_else(|| bad(feature, format!("could not convert string to float: {s:?}"))),
        other => Err(bad(
            feature,
            format!(
                "{} ({}) cannot be converted to float",
                show(other),
                type_name(other)
            ),
        )),
    }
}

impl Encoder {
    /// Checks an instance's keys against the model's features: the predictor
    /// requires exactly the same set.
    fn check_keys(&self, obj: &Map<String, Value>) -> Result<()> {
        if obj.len() == self.features.len() && obj.keys().all(|k| self.by_name.contains_key(k)) {
            return Ok(());
        }
        let mut missing: Vec<&str> = self
            .features
            .iter()
            .map(|f| f.name.as_str())
            .filter(|n| !obj.contains_key(*n))
            .collect();
        missing.sort_unstable();
        let mut extra: Vec<&str> = obj
            .keys()
            .map(String::as_str)
            .filter(|k| !self.by_name.contains_key(*k))
            .collect();
        extra.sort_unstable();
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("missing feature(s) {}", missing.join(", ")));
        }
        if !extra.is_empty() {
            parts.push(format!("unexpected feature(s) {}", extra.join(", ")));
        }
        let mut expected: Vec<&str> = self.features.iter().map(|f| f.name.as_str()).collect();
        expected.sort_unstable();
        Err(Error::input(format!(
            "the instance's features differ from the model's: {} (the model expects exactly: {})",
            parts.join("; "),
            expected.join(", ")
        )))
    }

    /// Encodes one instance into `row` (`self.width` values, pre-filled with
    /// NaN). Errors the predictor raises while encoding are returned; those it
    /// raises later (see [`Deferred`]) are recorded in `scratch.deferred` under
    /// `scratch.row`.
    pub(crate) fn encode(
        &self,
        inst: &Value,
        row: &mut [f32],
        scratch: &mut Scratch,
    ) -> Result<()> {
        let Value::Object(obj) = inst else {
            return Err(Error::input(format!(
                "an instance must be a JSON object keyed by feature name, found {}",
                show(inst)
            )));
        };
        self.check_keys(obj)?;
        for f in &self.features {
            let Some(v) = obj.get(&f.name) else {
                return Err(bad(&f.name, "missing")); // excluded by check_keys
            };
            let block = &mut row[f.offset..f.offset + f.width];
            encode_feature(f, v, block, scratch)?;
        }
        Ok(())
    }
}

fn encode_feature(
    f: &FeatureEnc,
    v: &Value,
    block: &mut [f32],
    scratch: &mut Scratch,
) -> Result<()> {
    let name = f.name.as_str();
    let mut sink = Sink {
        deferred: &mut scratch.deferred,
        row: scratch.row,
    };
    match &f.enc {
        Enc::Numeric { empty } => {
            let x = match v {
                Value::String(s) if s.is_empty() => *empty,
                Value::String(s) => pystr::parse_float(s).ok_or_else(|| {
                    bad(name, format!("{} cannot be converted to float", show(v)))
                })?,
                Value::Number(n) => n
                    .as_f64()
                    .ok_or_else(|| bad(name, format!("{n} is not a number")))?,
                Value::Bool(b) => f64::from(u8::from(*b)),
                other => {
                    return Err(bad(
                        name,
                        format!(
                            "{} ({}) cannot be converted to float",
                            show(other),
                            type_name(other)
                        ),
                    ));
                }
            };
            block[0] = sink.float32(name, x);
        }
        Enc::CatOneHot { index } => {
            if let Some(&j) = lookup(index, v, &mut scratch.text) {
                block[j as usize] = 1.0;
            }
        }
        Enc::CatTarget { table, .. } => {
            if let Some(t) = lookup(table, v, &mut scratch.text) {
                block.copy_from_slice(t);
                if block.iter().any(|x| x.is_infinite()) {
                    sink.inf(bad(
                        name,
                        format!(
                            "the target encoding of {} is infinite (XGBoost rejects it)",
                            show(v)
                        ),
                    ));
                }
            }
        }
        Enc::CatLabel { index } => {
            if let Some(&j) = lookup(index, v, &mut scratch.text) {
                block[0] = j;
            }
        }
        Enc::ArrOneHot { index } => {
            let items = Items::of(name, v)?;
            items.for_each_str(&mut scratch.text, |s| {
                if let Some(&j) = index.get(s) {
                    block[j as usize] = 1.0;
                }
            });
        }
        Enc::ArrTarget { table, width } => {
            let items = Items::of(name, v)?;
            let n = items.len() as f64;
            let mut acc = vec![0.0f64; *width];
            items.for_each_str(&mut scratch.text, |s| {
                match table.get(s) {
                    Some(t) => {
                        for (a, x) in acc.iter_mut().zip(t) {
                            *a += x / n;
                        }
                    }
                    None => {
                        for a in acc.iter_mut() {
                            *a += 0.0 / n;
                        }
                    }
                };
            });
            for (out, a) in block.iter_mut().zip(&acc) {
                *out = if *width > 1 && *a == 0.0 {
                    f32::NAN
                } else {
                    sink.float32(name, *a)
                };
            }
        }
        Enc::ArrStruct { dim } => {
            encode_struct(name, *dim, v, block, &mut scratch.seen, &mut sink)?
        }
        Enc::ArrNumerical { len } => encode_numerical(name, *len, v, block, &mut sink)?,
    }
    Ok(())
}

/// ARRAY<STRUCT<INT64, FLOAT64>>: a list of `[key, value]` pairs into a dense
/// block of `dim` (missing where unset). Keys are checked in order, as the
/// predictor does; a later pair for the same key overwrites an earlier one.
/// The values are stored raw by the predictor and converted by NumPy once
/// every instance is encoded: their errors are deferred.
fn encode_struct(
    name: &str,
    dim: usize,
    v: &Value,
    block: &mut [f32],
    seen: &mut Vec<bool>,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let pairs: &[Value] = match Items::of(name, v)? {
        Items::List(a) => a,
        items if items.len() == 0 => return Ok(()),
        _ => {
            return Err(bad(
                name,
                format!("expected an array of [key, value] pairs, found {}", show(v)),
            ));
        }
    };
    let mut keys = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let Value::Array(kv) = pair else {
            return Err(bad(
                name,
                format!("expected a [key, value] pair, found {}", show(pair)),
            ));
        };
        let key = match kv.first() {
            None => return Err(bad(name, "a [key, value] pair is empty")),
            Some(Value::Bool(b)) => i128::from(u8::from(*b)),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from))
                .unwrap_or(i128::MAX),
            Some(k) => {
                return Err(bad(
                    name,
                    format!(
                        "the key {} of a [key, value] pair is not an integer",
                        show(k)
                    ),
                ));
            }
        };
        if key < 0 {
            return Err(bad(
                name,
                format!("the key {key} of the sparse feature is smaller than 0"),
            ));
        }
        if key >= dim as i128 {
            return Err(bad(
                name,
                format!(
                    "the key {key} of the sparse feature is not smaller than the sparse \
                     feature dimension {dim}"
                ),
            ));
        }
        if kv.len() < 2 {
            return Err(bad(name, format!("the pair {} has no value", show(pair))));
        }
        keys.push(key as usize);
    }
    // The last pair for a key wins; only its value is converted (NumPy converts
    // the final dense vector).
    seen.clear();
    seen.resize(dim, false);
    for (pair, &key) in pairs.iter().zip(&keys).rev() {
        if seen[key] {
            continue;
        }
        seen[key] = true;
        if let Value::Array(kv) = pair {
            match np_float(name, &kv[1]) {
                Ok(x) => block[key] = sink.float32(name, x),
                Err(e) => sink.convert(e),
            }
        }
    }
    Ok(())
}

/// ARRAY<numeric>: exactly `len` numbers, converted the way
/// `np.array(col).astype(np.float64)` converts them.
fn encode_numerical(
    name: &str,
    len: usize,
    v: &Value,
    block: &mut [f32],
    sink: &mut Sink<'_>,
) -> Result<()> {
    let items = Items::of(name, v)?;
    if items.len() != len {
        return Err(bad(
            name,
            format!(
                "the array has {} values but the model's array_numerical_length is {len}",
                items.len()
            ),
        ));
    }
    let Items::List(values) = items else {
        return Err(bad(
            name,
            format!("expected an array of numbers, found {}", show(v)),
        ));
    };
    let has_null = values.iter().any(Value::is_null);
    let has_str = values.iter().any(Value::is_string);
    // Without a None, NumPy makes a string array of a list with any string in
    // it, and `str(True)` is not a number.
    if has_str && !has_null && values.iter().any(Value::is_boolean) {
        return Err(bad(
            name,
            "could not convert string to float: 'True' (a boolean mixed with strings)",
        ));
    }
    for (out, item) in block.iter_mut().zip(values) {
        *out = sink.float32(name, np_float(name, item)?);
    }
    Ok(())
}
