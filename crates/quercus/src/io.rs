//! Reading input matrices and writing predictions: `.npy`, `.csv` and `.jsonl`,
//! chosen by file extension. Used by the `quercus` CLI and the test suites.
//!
//! * `.npy`: a 2-D `float32` or `float64` (or `int32`/`int64`) array, C or
//!   Fortran order (`float64` is rounded to nearest `f32`, as XGBoost does).
//! * `.csv`: a header row of feature names, then one row per instance; an empty
//!   field is a missing value.
//! * `.jsonl`: one JSON array of numbers per line, or one object keyed by feature
//!   name (an absent key, `null` or the string `"NaN"` — how Google's prebuilt
//!   XGBoost container spells a missing value — is a missing value).
//!
//! BigQuery ML exports take raw instances instead ([`read_instances`]) and give
//! JSON predictions ([`write_predictions`]).

use std::io::Write;
use std::path::Path;

use quercus_core::{Error, Predictions, Result};

/// A dense row-major `f32` table read from a file.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Values, row-major.
    pub data: Vec<f32>,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
}

/// How to map named columns (CSV headers, JSONL object keys) to features.
#[derive(Clone, Copy, Debug)]
pub struct Columns<'a> {
    /// The model's feature names (empty when it has none: then the names
    /// `f0`, `f1`, ... are accepted in objects, and CSV headers are taken in order).
    pub names: &'a [String],
    /// The model's number of features.
    pub count: usize,
}

/// Reads an input file, by extension.
pub fn read_input(path: &Path, columns: Columns<'_>) -> Result<Table> {
    let ext = extension(path);
    let result = match ext.as_str() {
        "npy" => std::fs::read(path)
            .map_err(Error::io)
            .and_then(|b| read_npy(&b)),
        "csv" => std::fs::read_to_string(path)
            .map_err(Error::io)
            .and_then(|s| read_csv(&s, columns)),
        "jsonl" | "ndjson" => std::fs::read_to_string(path)
            .map_err(Error::io)
            .and_then(|s| read_jsonl(&s, columns)),
        _ => Err(Error::input(format!(
            "unknown input type `.{ext}`: use .npy, .csv or .jsonl"
        ))),
    };
    result.map_err(|e| e.with_path(path))
}

/// Writes predictions to a file, by extension, atomically: the file appears
/// only once it is complete.
pub fn write_output(path: &Path, preds: &Predictions) -> Result<()> {
    let ext = extension(path);
    let bytes = match ext.as_str() {
        "npy" => write_npy(preds),
        "csv" => write_csv(preds),
        "jsonl" | "ndjson" => write_jsonl(preds),
        _ => {
            return Err(Error::input(format!(
                "unknown output type `.{ext}`: use .npy, .csv or .jsonl"
            ))
            .with_path(path));
        }
    };
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` atomically and durably: a uniquely named
/// temporary file in the same directory, fsync, rename over `path`, then (on
/// Unix) fsync of the directory so the rename survives a crash. Readers see
/// the old file or the whole new one, never a part.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(
        ".{}.tmp{}-{}",
        name.unwrap_or_default(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(e).with_path(path)
    })
}

/// Reads raw instances for a BigQuery ML export: `.jsonl` (one JSON object
/// per line; blank lines are skipped) or `.json` (a Vertex AI request
/// `{"instances": [...]}`, or a bare array). Errors name the file, the
/// instance (row) and, for JSON Lines, the line.
pub fn read_instances(path: &Path) -> Result<Vec<serde_json::Value>> {
    let ext = extension(path);
    let result = std::fs::read_to_string(path)
        .map_err(Error::io)
        .and_then(|text| match ext.as_str() {
            "jsonl" | "ndjson" => parse_instances_jsonl(&text),
            "json" => parse_instances_json(&text),
            _ => Err(Error::input(format!(
                "unknown input type `.{ext}` for instances: use .jsonl (one JSON object per \
                 line) or .json ({{\"instances\": [...]}})"
            ))),
        });
    result.map_err(|e| e.with_path(path))
}

/// JSON Lines of instances.
pub fn parse_instances_jsonl(text: &str) -> Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            Error::input(format!("line {}: invalid JSON: {e}", i + 1)).with_row(out.len())
        })?;
        out.push(v);
    }
    Ok(out)
}

/// A Vertex AI request body `{"instances": [...]}` (other keys, such as
/// `parameters`, are ignored) or a bare JSON array of instances.
pub fn parse_instances_json(text: &str) -> Result<Vec<serde_json::Value>> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error::input(format!("invalid JSON: {e}")))?;
    match v {
        serde_json::Value::Array(items) => Ok(items),
        serde_json::Value::Object(mut m) => match m.remove("instances") {
            Some(serde_json::Value::Array(items)) => Ok(items),
            Some(_) => Err(Error::input("`instances` is not an array")),
            None => Err(Error::input(
                "expected a Vertex AI request {\"instances\": [...]} or an array of instances",
            )),
        },
        _ => Err(Error::input(
            "expected a Vertex AI request {\"instances\": [...]} or an array of instances",
        )),
    }
}

/// Writes JSON predictions, atomically: `.jsonl` one per line, `.json` a
/// Vertex AI response `{"predictions": [...]}`.
pub fn write_predictions(path: &Path, predictions: &[serde_json::Value]) -> Result<()> {
    let ext = extension(path);
    let bytes = match ext.as_str() {
        "jsonl" | "ndjson" => {
            let mut s = String::new();
            for p in predictions {
                s.push_str(&p.to_string());
                s.push('\n');
            }
            s.into_bytes()
        }
        "json" => {
            let mut s = serde_json::json!({ "predictions": predictions }).to_string();
            s.push('\n');
            s.into_bytes()
        }
        _ => {
            return Err(Error::input(format!(
                "unknown output type `.{ext}` for predictions: use .jsonl or .json"
            ))
            .with_path(path));
        }
    };
    write_atomic(path, &bytes)
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Parses a `.npy` file holding a 2-D float32/float64 array.
pub fn read_npy(bytes: &[u8]) -> Result<Table> {
    let npy = parse_npy(bytes)?;
    if npy.shape.len() != 2 {
        return Err(Error::input(format!(
            "expected a 2-D array, found shape {:?}",
            npy.shape
        )));
    }
    let (rows, cols) = (npy.shape[0], npy.shape[1]);
    let flat = npy.values_f32()?;
    let data = if npy.fortran_order {
        let mut d = vec![0.0f32; flat.len()];
        for c in 0..cols {
            for r in 0..rows {
                d[r * cols + c] = flat[c * rows + r];
            }
        }
        d
    } else {
        flat
    };
    Ok(Table { data, rows, cols })
}

/// A parsed `.npy` array of any shape, as `f32` values in C order plus its shape.
pub fn read_npy_any(bytes: &[u8]) -> Result<(Vec<f32>, Vec<usize>)> {
    let npy = parse_npy(bytes)?;
    if npy.fortran_order && npy.shape.len() > 1 {
        return Err(Error::input(
            "Fortran-order arrays of more than 2 dimensions are not supported",
        ));
    }
    let values = npy.values_f32()?;
    Ok((values, npy.shape))
}

struct Npy<'a> {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
    payload: &'a [u8],
}

impl Npy<'_> {
    fn values_f32(&self) -> Result<Vec<f32>> {
        let count = self
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::input("array shape overflows"))?;
        let (size, decode): (usize, fn(&[u8]) -> f32) = match self.descr.as_str() {
            "<f4" => (4, |c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            "<f8" => (8, |c| f64::from_le_bytes(le8(c)) as f32),
            "<i4" => (4, |c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32),
            "<i8" => (8, |c| i64::from_le_bytes(le8(c)) as f32),
            d => {
                return Err(Error::input(format!(
                    "array dtype `{d}` is not float32, float64, int32 or int64 (little-endian)"
                )));
            }
        };
        let need = count
            .checked_mul(size)
            .ok_or_else(|| Error::input("array size overflows"))?;
        if self.payload.len() < need {
            return Err(Error::input(format!(
                "array of {count} values needs {need} bytes, the file has {}",
                self.payload.len()
            )));
        }
        Ok(self.payload[..need]
            .chunks_exact(size)
            .map(decode)
            .collect())
    }
}

fn le8(c: &[u8]) -> [u8; 8] {
    let mut b = [0u8; 8];
    b.copy_from_slice(&c[..8]);
    b
}

fn parse_npy(bytes: &[u8]) -> Result<Npy<'_>> {
    let bad = |m: &str| Error::input(format!("not a valid .npy file: {m}"));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("missing the \\x93NUMPY magic"));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(&format!("unsupported version {v}"))),
    };
    let header = bytes
        .get(start..start.saturating_add(hlen))
        .ok_or_else(|| bad("truncated header"))?;
    let header = std::str::from_utf8(header).map_err(|_| bad("header is not text"))?;
    let field = |key: &str| -> Option<&str> {
        let i = header.find(&format!("'{key}'"))?;
        let rest = &header[i + key.len() + 2..];
        Some(rest.trim_start().strip_prefix(':')?.trim_start())
    };
    let descr = field("descr")
        .and_then(|r| r.strip_prefix('\''))
        .and_then(|r| r.split('\'').next())
        .ok_or_else(|| bad("no descr"))?
        .to_string();
    let fortran_order = field("fortran_order")
        .ok_or_else(|| bad("no fortran_order"))?
        .starts_with("True");
    let shape_txt = field("shape")
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.split(')').next())
        .ok_or_else(|| bad("no shape"))?;
    let shape = shape_txt
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| bad("bad shape"))?;
    Ok(Npy {
        descr,
        fortran_order,
        shape,
        payload: &bytes[start + hlen..],
    })
}

/// Serialises predictions as a little-endian `float32` `.npy` array.
pub fn write_npy(preds: &Predictions) -> Vec<u8> {
    let shape = match preds.shape.as_slice() {
        [n] => format!("({n},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + preds.data.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in &preds.data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Index of each named input column in the model's feature order.
fn column_map(header: &[String], columns: Columns<'_>) -> Result<Vec<usize>> {
    if columns.names.is_empty() {
        if header.len() != columns.count {
            return Err(Error::new(quercus_core::ErrorKind::FeatureCount {
                expected: columns.count,
                found: header.len(),
            }));
        }
        return Ok((0..header.len()).collect());
    }
    let mut map = Vec::with_capacity(header.len());
    let mut seen = vec![false; columns.count];
    for (c, name) in header.iter().enumerate() {
        let idx = feature_index(name, columns).ok_or_else(|| {
            Error::input(format!("column `{name}` is not a feature of the model")).with_column(c)
        })?;
        if std::mem::replace(&mut seen[idx], true) {
            return Err(Error::input(format!("column `{name}` appears twice")).with_column(c));
        }
        map.push(idx);
    }
    let missing: Vec<&str> = seen
        .iter()
        .zip(columns.names)
        .filter(|(s, _)| !**s)
        .map(|(_, n)| n.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(Error::input(format!(
            "missing feature column(s): {}",
            missing.join(", ")
        )));
    }
    Ok(map)
}

fn feature_index(name: &str, columns: Columns<'_>) -> Option<usize> {
    if columns.names.is_empty() {
        let i: usize = name.strip_prefix('f')?.parse().ok()?;
        return (i < columns.count).then_some(i);
    }
    columns.names.iter().position(|n| n == name)
}

fn parse_cell(text: &str, line: usize, row: usize, col: usize) -> Result<f32> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(f32::NAN);
    }
    t.parse::<f32>().map_err(|_| {
        Error::input(format!("line {line}: `{t}` is not a number"))
            .with_row(row)
            .with_column(col)
    })
}

/// Parses CSV text with a header row. Quoted fields (`"a,b"`) are supported.
pub fn read_csv(text: &str, columns: Columns<'_>) -> Result<Table> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(Error::input(
            "the CSV file is empty (a header row is required)",
        ));
    };
    let header: Vec<String> = split_csv(header)
        .into_iter()
        .map(|s| s.trim().to_string())
        .collect();
    let map = column_map(&header, columns)?;
    let cols = columns.count;
    let mut data = Vec::new();
    let mut rows = 0;
    for (i, line) in lines {
        let fields = split_csv(line);
        if fields.len() != header.len() {
            return Err(Error::input(format!(
                "line {}: {} fields but the header has {}",
                i + 1,
                fields.len(),
                header.len()
            ))
            .with_row(rows));
        }
        let start = data.len();
        data.resize(start + cols, f32::NAN);
        for (c, f) in fields.iter().enumerate() {
            data[start + map[c]] = parse_cell(f, i + 1, rows, c)?;
        }
        rows += 1;
    }
    Ok(Table { data, rows, cols })
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    out.push(cur);
    out
}

/// Parses JSON Lines: each line an array of numbers (in feature order) or an
/// object keyed by feature name.
pub fn read_jsonl(text: &str, columns: Columns<'_>) -> Result<Table> {
    let cols = columns.count;
    let mut data = Vec::new();
    let mut rows = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_no = i + 1;
        let at = |e: Error| e.with_row(rows);
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| at(Error::input(format!("line {line_no}: invalid JSON: {e}"))))?;
        let start = data.len();
        data.resize(start + cols, f32::NAN);
        let row = &mut data[start..];
        match value {
            serde_json::Value::Array(items) => {
                if items.len() != cols {
                    return Err(at(Error::input(format!(
                        "line {line_no}: {} values but the model has {cols} features",
                        items.len()
                    ))));
                }
                for (c, v) in items.iter().enumerate() {
                    row[c] = json_number(v, line_no).map_err(|e| at(e.with_column(c)))?;
                }
            }
            serde_json::Value::Object(obj) => {
                for (k, v) in &obj {
                    let c = feature_index(k, columns).ok_or_else(|| {
                        at(Error::input(format!(
                            "line {line_no}: `{k}` is not a feature of the model"
                        )))
                    })?;
                    row[c] = json_number(v, line_no).map_err(|e| at(e.with_column(c)))?;
                }
            }
            _ => {
                return Err(at(Error::input(format!(
                    "line {line_no}: expected an array or an object"
                ))));
            }
        }
        rows += 1;
    }
    Ok(Table { data, rows, cols })
}

fn json_number(v: &serde_json::Value, line: usize) -> Result<f32> {
    match v {
        serde_json::Value::Null => Ok(f32::NAN),
        serde_json::Value::String(s) if s == "NaN" => Ok(f32::NAN),
        // Via f64, as Python's `json` + `numpy.float32` would read it.
        serde_json::Value::Number(n) => n
            .as_f64()
            .map(|f| f as f32)
            .ok_or_else(|| Error::input(format!("line {line}: bad number {n}"))),
        other => Err(Error::input(format!(
            "line {line}: {other} is not a number"
        ))),
    }
}

fn output_header(preds: &Predictions) -> Vec<String> {
    let w = preds.width();
    if w == 1 {
        vec!["prediction".to_string()]
    } else {
        (0..w).map(|i| format!("output_{i}")).collect()
    }
}

/// Serialises predictions as CSV with a header row. Floats are written in
/// their shortest exact (round-trip) form.
pub fn write_csv(preds: &Predictions) -> Vec<u8> {
    let mut s = output_header(preds).join(",");
    s.push('\n');
    for row in preds.data.chunks(preds.width().max(1)) {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    s.into_bytes()
}

/// Serialises predictions as JSON Lines: a number per row, or an array when a
/// row has several values.
pub fn write_jsonl(preds: &Predictions) -> Vec<u8> {
    let w = preds.width().max(1);
    let mut s = String::new();
    let num = |v: f32| {
        if v.is_finite() {
            format!("{v:?}")
        } else {
            "null".to_string()
        }
    };
    for row in preds.data.chunks(w) {
        if preds.shape.len() == 1 {
            s.push_str(&num(row[0]));
        } else {
            s.push('[');
            s.push_str(&row.iter().map(|&v| num(v)).collect::<Vec<_>>().join(","));
            s.push(']');
        }
        s.push('\n');
    }
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[String], count: usize) -> Columns<'_> {
        Columns { names, count }
    }

    #[test]
    fn npy_round_trips() {
        let p = Predictions {
            data: vec![1.5, -2.0, f32::NAN, 0.1],
            shape: vec![2, 2],
        };
        let t = read_npy(&write_npy(&p)).unwrap();
        assert_eq!((t.rows, t.cols), (2, 2));
        assert_eq!(t.data[3].to_bits(), 0.1f32.to_bits());
        assert!(t.data[2].is_nan());
        let (v, shape) = read_npy_any(&write_npy(&Predictions {
            data: vec![3.0],
            shape: vec![1],
        }))
        .unwrap();
        assert_eq!((v, shape), (vec![3.0], vec![1]));
    }

    #[test]
    fn csv_reorders_by_name_and_reports_bad_cells() {
        let names = vec!["a".to_string(), "b".to_string()];
        let t = read_csv("b,a\n1,2\n,3.5\n", cols(&names, 2)).unwrap();
        assert_eq!(t.data[..2], [2.0, 1.0]);
        assert!(t.data[3].is_nan());
        let e = read_csv("a,b\n1,x\n", cols(&names, 2)).unwrap_err();
        assert_eq!(e.location().row, Some(0));
        assert_eq!(e.location().column, Some(1));
        assert!(e.to_string().contains("`x` is not a number"), "{e}");
        assert!(
            read_csv("a\n1\n", cols(&names, 2))
                .unwrap_err()
                .to_string()
                .contains("missing feature")
        );
        assert!(read_csv("a,b\n1\n", cols(&names, 2)).is_err());
        assert!(read_csv("x,y\n1,2\n", cols(&[], 2)).is_ok());
    }

    #[test]
    fn jsonl_arrays_objects_and_ragged_rows() {
        let t = read_jsonl("[1, null]\n{\"f1\": 2}\n", cols(&[], 2)).unwrap();
        assert_eq!(t.rows, 2);
        assert_eq!(t.data[0], 1.0);
        assert!(t.data[1].is_nan() && t.data[2].is_nan());
        assert_eq!(t.data[3], 2.0);
        let e = read_jsonl("[1,2]\n[1]\n", cols(&[], 2)).unwrap_err();
        assert_eq!(e.location().row, Some(1));
        assert!(read_jsonl("[1,\"a\"]\n", cols(&[], 2)).is_err());
        assert!(read_jsonl("[1,\"nan\"]\n", cols(&[], 2)).is_err());
        let t = read_jsonl("[\"NaN\", 3]\n{\"f0\": \"NaN\"}\n", cols(&[], 2)).unwrap();
        assert!(t.data[0].is_nan() && t.data[2].is_nan() && t.data[3].is_nan());
        assert_eq!(t.data[1], 3.0);
        assert!(read_jsonl("{\"zz\": 1}\n", cols(&[], 2)).is_err());
    }

    #[test]
    fn outputs_are_shortest_round_trip() {
        let p = Predictions {
            data: vec![0.1, 2.0],
            shape: vec![2],
        };
        assert_eq!(
            String::from_utf8(write_csv(&p)).unwrap(),
            "prediction\n0.1\n2.0\n"
        );
        assert_eq!(String::from_utf8(write_jsonl(&p)).unwrap(), "0.1\n2.0\n");
    }
}
