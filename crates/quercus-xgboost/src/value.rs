//! A parsed JSON/UBJSON document.
//!
//! Both readers produce this tree. Arrays of numbers are kept as compact typed
//! vectors (what UBJSON's `$` containers hold, and what the JSON reader turns
//! all-number arrays into) so that a model with millions of nodes does not cost
//! a 32-byte [`Value`] per number.

/// A document value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// `null` / `Z`.
    Null,
    /// `true`/`false` / `T`/`F`.
    Bool(bool),
    /// An integer (XGBoost's `Integer` is i64).
    Int(i64),
    /// A float (XGBoost's `Number` is f32).
    Float(f32),
    /// A string.
    Str(String),
    /// A heterogeneous array.
    Array(Vec<Value>),
    /// UBJSON `[$i`.
    I8Array(Vec<i8>),
    /// UBJSON `[$U`.
    U8Array(Vec<u8>),
    /// UBJSON `[$I`.
    I16Array(Vec<i16>),
    /// UBJSON `[$l`.
    I32Array(Vec<i32>),
    /// UBJSON `[$L`; JSON arrays of integers.
    I64Array(Vec<i64>),
    /// UBJSON `[$d`; JSON arrays of numbers with at least one float.
    F32Array(Vec<f32>),
    /// UBJSON `[$D`.
    F64Array(Vec<f64>),
    /// An object, keys in document order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// A short name of the value's type, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Array(_)
            | Value::I8Array(_)
            | Value::U8Array(_)
            | Value::I16Array(_)
            | Value::I32Array(_)
            | Value::I64Array(_)
            | Value::F32Array(_)
            | Value::F64Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }

    /// The member `key` of an object (the last one if the key is repeated, as a
    /// JSON reader that assigns members in order would see it). `None` for
    /// non-objects.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The members of an object.
    pub(crate) fn as_object(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The elements of a heterogeneous array (typed arrays are `None`, except
    /// that an empty typed array is an empty array).
    pub(crate) fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ if self.array_len() == Some(0) => Some(&[]),
            _ => None,
        }
    }

    /// A string's contents.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// An integer.
    pub(crate) fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The length of any array.
    pub(crate) fn array_len(&self) -> Option<usize> {
        Some(match self {
            Value::Array(v) => v.len(),
            Value::I8Array(v) => v.len(),
            Value::U8Array(v) => v.len(),
            Value::I16Array(v) => v.len(),
            Value::I32Array(v) => v.len(),
            Value::I64Array(v) => v.len(),
            Value::F32Array(v) => v.len(),
            Value::F64Array(v) => v.len(),
            _ => return None,
        })
    }

    /// An array of numbers as f32: floats as they are, integers converted with
    /// round-to-nearest (as XGBoost does for an integer in a float field). `D`
    /// (f64) elements are rounded to f32 too. `None` if this is not an array or
    /// an element is not a number.
    pub(crate) fn to_f32_vec(&self) -> Option<Vec<f32>> {
        Some(match self {
            Value::F32Array(v) => v.clone(),
            Value::F64Array(v) => v.iter().map(|&x| x as f32).collect(),
            Value::I8Array(v) => v.iter().map(|&x| f32::from(x)).collect(),
            Value::U8Array(v) => v.iter().map(|&x| f32::from(x)).collect(),
            Value::I16Array(v) => v.iter().map(|&x| f32::from(x)).collect(),
            Value::I32Array(v) => v.iter().map(|&x| x as f32).collect(),
            Value::I64Array(v) => v.iter().map(|&x| x as f32).collect(),
            Value::Array(items) => items
                .iter()
                .map(|x| match x {
                    Value::Float(f) => Some(*f),
                    Value::Int(i) => Some(*i as f32),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?,
            _ => return None,
        })
    }

    /// An array of numbers as f64 (integers exactly up to 2^53). `None` if
    /// this is not an array or an element is not a number.
    pub(crate) fn to_f64_vec(&self) -> Option<Vec<f64>> {
        Some(match self {
            Value::F64Array(v) => v.clone(),
            Value::F32Array(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Value::Array(items) => items
                .iter()
                .map(|x| match x {
                    Value::Float(f) => Some(f64::from(*f)),
                    Value::Int(i) => Some(*i as f64),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?,
            other => other.to_i64_vec()?.into_iter().map(|x| x as f64).collect(),
        })
    }

    /// An array of integers as i64. Floats are not accepted. `None` if this is
    /// not an array or an element is not an integer.
    pub(crate) fn to_i64_vec(&self) -> Option<Vec<i64>> {
        Some(match self {
            Value::I64Array(v) => v.clone(),
            Value::I8Array(v) => v.iter().map(|&x| i64::from(x)).collect(),
            Value::U8Array(v) => v.iter().map(|&x| i64::from(x)).collect(),
            Value::I16Array(v) => v.iter().map(|&x| i64::from(x)).collect(),
            Value::I32Array(v) => v.iter().map(|&x| i64::from(x)).collect(),
            Value::Array(items) => items
                .iter()
                .map(Value::as_i64)
                .collect::<Option<Vec<_>>>()?,
            _ if self.array_len() == Some(0) => Vec::new(),
            _ => return None,
        })
    }

    /// An array of flags: integers (non-zero is true) or booleans.
    pub(crate) fn to_bool_vec(&self) -> Option<Vec<bool>> {
        match self {
            Value::U8Array(v) => Some(v.iter().map(|&x| x != 0).collect()),
            Value::Array(items) => items
                .iter()
                .map(|x| match x {
                    Value::Bool(b) => Some(*b),
                    Value::Int(i) => Some(*i != 0),
                    _ => None,
                })
                .collect(),
            _ => Some(self.to_i64_vec()?.into_iter().map(|x| x != 0).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_lookup_takes_the_last_duplicate() {
        let v = Value::Object(vec![
            ("a".into(), Value::Int(1)),
            ("b".into(), Value::Null),
            ("a".into(), Value::Int(2)),
        ]);
        assert_eq!(v.get("a"), Some(&Value::Int(2)));
        assert_eq!(v.get("c"), None);
        assert_eq!(Value::Int(1).get("a"), None);
    }

    #[test]
    fn numeric_conversions() {
        let mixed = Value::Array(vec![Value::Int(3), Value::Float(0.5)]);
        assert_eq!(mixed.to_f32_vec(), Some(vec![3.0, 0.5]));
        assert_eq!(mixed.to_i64_vec(), None);
        assert_eq!(Value::I32Array(vec![-1, 7]).to_i64_vec(), Some(vec![-1, 7]));
        assert_eq!(
            Value::I64Array(vec![16_777_217]).to_f32_vec(),
            Some(vec![16_777_216.0])
        );
        assert_eq!(Value::F32Array(vec![]).to_i64_vec(), Some(vec![]));
        assert_eq!(Value::F32Array(vec![1.0]).to_i64_vec(), None);
        assert_eq!(
            Value::Array(vec![Value::Bool(true), Value::Int(0)]).to_bool_vec(),
            Some(vec![true, false])
        );
        assert_eq!(
            Value::I8Array(vec![2, 0]).to_bool_vec(),
            Some(vec![true, false])
        );
        assert_eq!(Value::Str("x".into()).to_f32_vec(), None);
        assert_eq!(Value::U8Array(vec![]).as_array(), Some(&[][..]));
    }
}
