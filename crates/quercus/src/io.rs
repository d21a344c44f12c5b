//! Reading input matrices and writing predictions: `.npy`, `.csv` and `.jsonl`,
//! chosen by file extension. Used by the `quercus` CLI and the test suites.
//!
//! * `.npy`: a 2-D `float32` or `float64` (or `int32`/`int64`) array, either
//!   byte order, C or Fortran order (`float64` is rounded to nearest `f32`, as
//!   XGBoost does).
//! * `.csv`: a header row of feature names, then one row per instance; an empty
//!   field is a missing value. Fields follow RFC 4180: a quoted field may hold
//!   commas, quotes (`""`) and line breaks. Blank lines are skipped.
//! * `.jsonl`: one JSON array of numbers per line, or one object keyed by feature
//!   name (an absent key, `null` or the string `"NaN"` — how Google's prebuilt
//!   XGBoost container spells a missing value — is a missing value). A key
//!   given twice in one object is an error (rather than the last one winning).
//!
//! Text inputs must be UTF-8; a UTF-8 byte order mark at the start is
//! skipped. Errors about a place in a text input name it the same way
//! everywhere: `line N` is the 1-based line in the file, as editors count
//! (for a CSV record spanning lines, the line of the offending field), and
//! `column` is the CSV column's (or JSON key's) name in backquotes, or its
//! 1-based number (`column 3`) where there is no name; for a byte that is not
//! UTF-8 or a JSON syntax error, `column N` is the 1-based position in the line.
//!
//! BigQuery ML exports take raw instances instead ([`read_instances`]) and give
//! JSON predictions ([`write_predictions`]).

use std::fmt;
use std::io::Write;
use std::path::Path;

use quercus_core::{Error, Predictions, Result};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

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
        "csv" => std::fs::read(path)
            .map_err(Error::io)
            .and_then(|b| read_csv(&b, columns)),
        "jsonl" | "ndjson" => std::fs::read(path)
            .map_err(Error::io)
            .and_then(|b| read_jsonl(&b, columns)),
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
            return Err(Error::option(format!(
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
/// `{"instances": [...]}`, or a bare array). Errors name the file and the
/// line (and column, for malformed JSON).
pub fn read_instances(path: &Path) -> Result<Vec<serde_json::Value>> {
    let ext = extension(path);
    let result = std::fs::read(path)
        .map_err(Error::io)
        .and_then(|bytes| match ext.as_str() {
            "jsonl" | "ndjson" => parse_instances_jsonl(&bytes),
            "json" => parse_instances_json(&bytes),
            _ => Err(Error::input(format!(
                "unknown input type `.{ext}` for instances: use .jsonl (one JSON object per \
                 line) or .json ({{\"instances\": [...]}})"
            ))),
        });
    result.map_err(|e| e.with_path(path))
}

/// JSON Lines of instances (UTF-8, a leading byte order mark skipped;
/// blank lines skipped; a key repeated in one object is an error).
pub fn parse_instances_jsonl(input: impl AsRef<[u8]>) -> Result<Vec<serde_json::Value>> {
    let text = utf8_text(input.as_ref())?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(parse_json(line, i + 1)?);
    }
    Ok(out)
}

/// A Vertex AI request body `{"instances": [...]}` (other keys, such as
/// `parameters`, are ignored) or a bare JSON array of instances (UTF-8, a
/// leading byte order mark skipped; a key repeated in one object is an error).
pub fn parse_instances_json(input: impl AsRef<[u8]>) -> Result<Vec<serde_json::Value>> {
    let v = parse_json(utf8_text(input.as_ref())?, 1)?;
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
            return Err(Error::option(format!(
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

// The .npy reader is written here rather than taken from `npyz` or
// `ndarray-npy`: both would read these dtypes, byte orders and layouts, but
// both parse the header with `py_literal` (a `pest` grammar: a parser
// generator and its derive macros for one Python dict literal), and we would
// still dispatch on the dtype to convert to `f32` and transpose Fortran order
// ourselves. The format is small (a magic, a length, a dict literal, raw
// values) and `tests/parity_xgboost.rs` reads every fixture through it.

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
    // An empty array has nothing to transpose (and a (0, 10^18) shape must not
    // loop 10^18 times).
    let data = if npy.fortran_order && !flat.is_empty() {
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
            "<f4" => (4, |c| f32::from_le_bytes(b4(c))),
            "<f8" => (8, |c| f64::from_le_bytes(b8(c)) as f32),
            "<i4" => (4, |c| i32::from_le_bytes(b4(c)) as f32),
            "<i8" => (8, |c| i64::from_le_bytes(b8(c)) as f32),
            ">f4" => (4, |c| f32::from_be_bytes(b4(c))),
            ">f8" => (8, |c| f64::from_be_bytes(b8(c)) as f32),
            ">i4" => (4, |c| i32::from_be_bytes(b4(c)) as f32),
            ">i8" => (8, |c| i64::from_be_bytes(b8(c)) as f32),
            d => {
                return Err(Error::input(format!(
                    "array dtype `{d}` is not float32, float64, int32 or int64"
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

fn b4(c: &[u8]) -> [u8; 4] {
    let mut b = [0u8; 4];
    b.copy_from_slice(&c[..4]);
    b
}

fn b8(c: &[u8]) -> [u8; 8] {
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

/// The input without a leading UTF-8 byte order mark.
fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// The 1-based line and column (in characters) of byte `offset` of `bytes`,
/// whose first `offset` bytes are UTF-8.
fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let col = std::str::from_utf8(&before[start..]).map_or(offset - start, |s| s.chars().count());
    (line, col + 1)
}

/// The input as text, without a leading byte order mark; an error naming the
/// line and column of the first byte that is not UTF-8.
fn utf8_text(bytes: &[u8]) -> Result<&str> {
    let bytes = strip_bom(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let (line, col) = line_col(bytes, at);
        Error::input(format!(
            "line {line}, column {col}: invalid UTF-8 (byte 0x{:02X}); the file must be UTF-8",
            bytes[at]
        ))
    })
}

/// A column's name for messages: `` `name` `` (escaped onto one line), or its
/// 1-based number when it has no name.
fn column_label(name: Option<&str>, index: usize) -> String {
    match name {
        Some(n) if !n.is_empty() => format!("column `{}`", n.escape_debug()),
        _ => format!("column {}", index + 1),
    }
}

/// Index of each named input column in the model's feature order. `line`:
/// the header's line, for messages.
fn column_map(header: &[String], columns: Columns<'_>, line: usize) -> Result<Vec<usize>> {
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
    let mut first = vec![None; columns.count];
    for (c, name) in header.iter().enumerate() {
        let label = column_label(Some(name), c);
        let idx = feature_index(name, columns).ok_or_else(|| {
            Error::input(format!(
                "line {line}: {label} is not a feature of the model"
            ))
        })?;
        if let Some(prev) = first[idx].replace(c) {
            return Err(Error::input(format!(
                "line {line}: {label} appears twice (columns {} and {})",
                prev + 1,
                c + 1
            )));
        }
        map.push(idx);
    }
    let missing: Vec<&str> = first
        .iter()
        .zip(columns.names)
        .filter(|(s, _)| s.is_none())
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

/// A CSV cell: a number, or missing when empty.
fn parse_cell(text: &str) -> std::result::Result<f32, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(f32::NAN);
    }
    t.parse::<f32>()
        .map_err(|_| format!("`{}` is not a number", t.escape_debug()))
}

/// The fields of one CSV record as text. `line`: the record's first line;
/// `header`: the column names (`None` while reading the header itself). A
/// field that is not UTF-8 is an error naming its line and column.
fn csv_fields<'r>(
    record: &'r csv::ByteRecord,
    line: usize,
    header: Option<&[String]>,
) -> Result<Vec<&'r str>> {
    let mut newlines = 0;
    record
        .iter()
        .enumerate()
        .map(|(c, field)| {
            let text = std::str::from_utf8(field).map_err(|e| {
                let at = e.valid_up_to();
                let within = field[..at].iter().filter(|&&b| b == b'\n').count();
                let name = header.and_then(|h| h.get(c)).map(String::as_str);
                Error::input(format!(
                    "line {}, {}: invalid UTF-8 (byte 0x{:02X}); the file must be UTF-8",
                    line + newlines + within,
                    column_label(name, c),
                    field[at]
                ))
            })?;
            newlines += field.iter().filter(|&&b| b == b'\n').count();
            Ok(text)
        })
        .collect()
}

/// Parses CSV with a header row (RFC 4180: quoted fields may hold commas,
/// `""` and line breaks). The input is UTF-8, a leading byte order mark
/// skipped; blank lines are skipped.
pub fn read_csv(input: impl AsRef<[u8]>, columns: Columns<'_>) -> Result<Table> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(strip_bom(input.as_ref()));
    let mut record = csv::ByteRecord::new();
    let mut header: Option<(Vec<String>, Vec<usize>)> = None;
    let cols = columns.count;
    let mut data = Vec::new();
    let mut rows = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(Error::input(format!("invalid CSV: {e}"))),
        }
        // A line of blanks only (the csv reader skips empty lines itself).
        if record.len() == 1 && record[0].iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        let Some((names, map)) = &header else {
            let names: Vec<String> = csv_fields(&record, line, None)?
                .into_iter()
                .map(|s| s.trim().to_string())
                .collect();
            let map = column_map(&names, columns, line)?;
            header = Some((names, map));
            continue;
        };
        let fields = csv_fields(&record, line, Some(names))?;
        if fields.len() != names.len() {
            return Err(Error::input(format!(
                "line {line}: {} fields but the header has {}",
                fields.len(),
                names.len()
            )));
        }
        let start = data.len();
        data.resize(start + cols, f32::NAN);
        let mut at = line;
        for (c, f) in fields.iter().enumerate() {
            data[start + map[c]] = parse_cell(f).map_err(|msg| {
                Error::input(format!(
                    "line {at}, {}: {msg}",
                    column_label(Some(&names[c]), c)
                ))
            })?;
            at += f.matches('\n').count();
        }
        rows += 1;
    }
    if header.is_none() {
        return Err(Error::input(
            "the CSV file is empty (a header row is required)",
        ));
    }
    Ok(Table { data, rows, cols })
}

/// Parses one JSON document (`line`: the file line it starts on), refusing
/// a key repeated in an object. Errors name the line and column.
fn parse_json(text: &str, line: usize) -> Result<serde_json::Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Strict::deserialize(&mut de).and_then(|v| de.end().map(|()| v.0));
    parsed.map_err(|e| {
        let msg = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let msg = msg.strip_suffix(&suffix).unwrap_or(&msg);
        let at = format!("line {}, column {}", line + e.line().max(1) - 1, e.column());
        match e.classify() {
            serde_json::error::Category::Data => Error::input(format!("{at}: {msg}")),
            _ => Error::input(format!("{at}: invalid JSON: {msg}")),
        }
    })
}

/// A JSON value whose objects have no repeated key: `serde_json::Value`
/// would keep the last value of a repeated key and drop the others silently.
struct Strict(serde_json::Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Strict, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> std::result::Result<Self::Value, E> {
        Ok(serde_json::Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> std::result::Result<Self::Value, E> {
        Ok(serde_json::Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> std::result::Result<Self::Value, E> {
        Ok(serde_json::Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> std::result::Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into))
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<Self::Value, E> {
        Ok(serde_json::Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> std::result::Result<Self::Value, E> {
        Ok(serde_json::Value::String(v))
    }

    fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_none<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        Strict::deserialize(d).map(|v| v.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key `{}`",
                    key.escape_debug()
                )));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(serde_json::Value::Object(out))
    }
}

/// Parses JSON Lines: each line an array of numbers (in feature order) or an
/// object keyed by feature name. The input is UTF-8, a leading byte order
/// mark skipped; blank lines are skipped; a key repeated in one object is an
/// error.
pub fn read_jsonl(input: impl AsRef<[u8]>, columns: Columns<'_>) -> Result<Table> {
    let text = utf8_text(input.as_ref())?;
    let cols = columns.count;
    let name = |c: usize| columns.names.get(c).map(String::as_str);
    let mut data = Vec::new();
    let mut rows = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_no = i + 1;
        let value = parse_json(line, line_no)?;
        let bad_value =
            |label: String, msg: String| Error::input(format!("line {line_no}, {label}: {msg}"));
        let start = data.len();
        data.resize(start + cols, f32::NAN);
        let row = &mut data[start..];
        match value {
            serde_json::Value::Array(items) => {
                if items.len() != cols {
                    return Err(Error::input(format!(
                        "line {line_no}: {} values but the model has {cols} features",
                        items.len()
                    )));
                }
                for (c, v) in items.iter().enumerate() {
                    row[c] = json_number(v).map_err(|m| bad_value(column_label(name(c), c), m))?;
                }
            }
            serde_json::Value::Object(obj) => {
                for (k, v) in &obj {
                    let c = feature_index(k, columns).ok_or_else(|| {
                        Error::input(format!(
                            "line {line_no}: `{}` is not a feature of the model",
                            k.escape_debug()
                        ))
                    })?;
                    row[c] = json_number(v).map_err(|m| bad_value(column_label(Some(k), c), m))?;
                }
            }
            _ => {
                return Err(Error::input(format!(
                    "line {line_no}: expected an array or an object"
                )));
            }
        }
        rows += 1;
    }
    Ok(Table { data, rows, cols })
}

/// A JSON value as a feature value: a number, or missing (`null`, `"NaN"`).
fn json_number(v: &serde_json::Value) -> std::result::Result<f32, String> {
    match v {
        serde_json::Value::Null => Ok(f32::NAN),
        serde_json::Value::String(s) if s == "NaN" => Ok(f32::NAN),
        // Via f64, as Python's `json` + `numpy.float32` would read it.
        serde_json::Value::Number(n) => n
            .as_f64()
            .map(|f| f as f32)
            .ok_or_else(|| format!("bad number {n}")),
        other => Err(format!("{other} is not a number")),
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
        assert!(
            e.to_string()
                .contains("line 2, column `b`: `x` is not a number"),
            "{e}"
        );
        assert!(
            read_csv("a\n1\n", cols(&names, 2))
                .unwrap_err()
                .to_string()
                .contains("missing feature")
        );
        let e = read_csv("a,b\n\n1,2\n1\n", cols(&names, 2)).unwrap_err();
        assert!(
            e.to_string()
                .contains("line 4: 1 fields but the header has 2"),
            "{e}"
        );
        let e = read_csv("a,zz\n", cols(&names, 2)).unwrap_err();
        assert!(
            e.to_string()
                .contains("line 1: column `zz` is not a feature"),
            "{e}"
        );
        let e = read_csv("a,b,a\n", cols(&names, 2)).unwrap_err();
        assert!(
            e.to_string()
                .contains("column `a` appears twice (columns 1 and 3)"),
            "{e}"
        );
        assert!(read_csv("x,y\n1,2\n", cols(&[], 2)).is_ok());
        // Blank lines (also of spaces) are skipped, before and between rows.
        let t = read_csv("\n  \na,b\n\n1,2\n   \n3,4\n", cols(&names, 2)).unwrap();
        assert_eq!((t.rows, t.data), (2, vec![1.0, 2.0, 3.0, 4.0]));
        assert!(
            read_csv("\n\n", cols(&names, 2))
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }

    #[test]
    fn csv_skips_a_byte_order_mark() {
        let names = vec!["a".to_string(), "b".to_string()];
        let t = read_csv("\u{feff}a,b\r\n1,2\r\n", cols(&names, 2)).unwrap();
        assert_eq!((t.rows, t.data), (1, vec![1.0, 2.0]));
        // Only at the start: elsewhere it is part of a field.
        let e = read_csv("a,b\n1,\u{feff}2\n", cols(&names, 2)).unwrap_err();
        assert!(e.to_string().contains("line 2, column `b`"), "{e}");
    }

    #[test]
    fn csv_quoted_fields_hold_commas_quotes_and_line_breaks() {
        // A feature name with a comma, a quote and a line break, as a header.
        let names = vec!["x, \"y\"\nz".to_string(), "b".to_string()];
        let t = read_csv("b,\"x, \"\"y\"\"\nz\"\n1,2\n\"3\",\"4\"\n", cols(&names, 2)).unwrap();
        assert_eq!((t.rows, t.data), (2, vec![2.0, 1.0, 4.0, 3.0]));

        // As a value: one field (not two, not a line break ending the
        // record), and the lines after it are counted in the file's lines.
        let names = vec!["a".to_string(), "b".to_string()];
        let text = "a,b\n\"1,\n2\",3\n";
        let e = read_csv(text, cols(&names, 2)).unwrap_err();
        assert!(
            e.to_string()
                .contains("line 2, column `a`: `1,\\n2` is not a number"),
            "{e}"
        );
        // A quoted value of blanks and a line break is missing; the record
        // after it starts on line 4.
        let text = "a,b\n5,\" \n \"\n6,x\n";
        let e = read_csv(text, cols(&names, 2)).unwrap_err();
        assert!(e.to_string().contains("line 4, column `b`"), "{e}");
        let t = read_csv("a,b\n5,\" \n \"\n6,7\n", cols(&names, 2)).unwrap();
        assert_eq!(t.rows, 2);
        assert!(t.data[1].is_nan());
        assert_eq!(t.data[2..], [6.0, 7.0]);
        // The bad value is on the second line of a two-line record.
        let e = read_csv("a,b\n\"\n1\",y\n", cols(&names, 2)).unwrap_err();
        assert!(e.to_string().contains("line 3, column `b`"), "{e}");
    }

    #[test]
    fn csv_that_is_not_utf8_names_the_line_and_column() {
        let names = vec!["a".to_string(), "b".to_string()];
        let e = read_csv(b"a,b\n1,2\n3,\xFF\n", cols(&names, 2)).unwrap_err();
        assert!(
            e.to_string()
                .contains("line 3, column `b`: invalid UTF-8 (byte 0xFF)"),
            "{e}"
        );
        let e = read_csv(b"a,\xE9\n", cols(&names, 2)).unwrap_err();
        assert!(e.to_string().contains("line 1, column 2"), "{e}");
        // In a quoted field spanning lines: the line of the byte.
        let e = read_csv(b"a,b\n\"1\n\n\xC0\",2\n", cols(&names, 2)).unwrap_err();
        assert!(e.to_string().contains("line 4, column `a`"), "{e}");
    }

    #[test]
    fn jsonl_arrays_objects_and_ragged_rows() {
        let t = read_jsonl("[1, null]\n{\"f1\": 2}\n", cols(&[], 2)).unwrap();
        assert_eq!(t.rows, 2);
        assert_eq!(t.data[0], 1.0);
        assert!(t.data[1].is_nan() && t.data[2].is_nan());
        assert_eq!(t.data[3], 2.0);
        let e = read_jsonl("[1,2]\n[1]\n", cols(&[], 2)).unwrap_err();
        assert!(e.to_string().contains("line 2: 1 values"), "{e}");
        let e = read_jsonl("[1,\"a\"]\n", cols(&[], 2)).unwrap_err();
        assert!(
            e.to_string()
                .contains("line 1, column 2: \"a\" is not a number"),
            "{e}"
        );
        let names = vec!["a".to_string(), "b".to_string()];
        let e = read_jsonl("\n[1,true]\n", cols(&names, 2)).unwrap_err();
        assert!(e.to_string().contains("line 2, column `b`"), "{e}");
        let e = read_jsonl("{\"b\": []}\n", cols(&names, 2)).unwrap_err();
        assert!(e.to_string().contains("line 1, column `b`"), "{e}");
        let e = read_jsonl("[1,2]\n\n[1,2\n", cols(&[], 2)).unwrap_err();
        assert!(
            e.to_string()
                .contains("line 3, column 4: invalid JSON: EOF"),
            "{e}"
        );
        assert!(read_jsonl("[1,\"nan\"]\n", cols(&[], 2)).is_err());
        let t = read_jsonl("[\"NaN\", 3]\n{\"f0\": \"NaN\"}\n", cols(&[], 2)).unwrap();
        assert!(t.data[0].is_nan() && t.data[2].is_nan() && t.data[3].is_nan());
        assert_eq!(t.data[1], 3.0);
        assert!(read_jsonl("{\"zz\": 1}\n", cols(&[], 2)).is_err());
    }

    #[test]
    fn jsonl_skips_a_byte_order_mark() {
        let names = vec!["a".to_string(), "b".to_string()];
        let t = read_jsonl("\u{feff}{\"a\": 1, \"b\": 2}\n", cols(&names, 2)).unwrap();
        assert_eq!((t.rows, t.data), (1, vec![1.0, 2.0]));
        let t = read_jsonl("\u{feff}[1, 2]\n", cols(&names, 2)).unwrap();
        assert_eq!(t.data, vec![1.0, 2.0]);
        let v = parse_instances_jsonl("\u{feff}{\"a\": \"x\"}\n").unwrap();
        assert_eq!(v, vec![serde_json::json!({"a": "x"})]);
        let v = parse_instances_json("\u{feff}{\"instances\": [1]}").unwrap();
        assert_eq!(v, vec![serde_json::json!(1)]);
    }

    #[test]
    fn jsonl_that_is_not_utf8_names_the_line_and_column() {
        let e = read_jsonl(b"[1, 2]\n[1, \"\xFF\"]\n", cols(&[], 2)).unwrap_err();
        assert!(
            e.to_string()
                .contains("line 2, column 6: invalid UTF-8 (byte 0xFF)"),
            "{e}"
        );
        // Columns count characters, as editors do.
        let e = parse_instances_jsonl(
            "{\"é\": \""
                .bytes()
                .chain(*b"\xC3(\"}")
                .collect::<Vec<u8>>(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 1, column 8"), "{e}");
    }

    #[test]
    fn a_key_given_twice_is_an_error_naming_the_line_and_key() {
        let names = vec!["a".to_string(), "b".to_string()];
        let e = read_jsonl(
            "{\"a\": 1, \"b\": 2}\n{\"a\": 1, \"b\": 2, \"a\": 3}\n",
            cols(&names, 2),
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 2, column "), "{e}");
        assert!(e.to_string().contains("duplicate key `a`"), "{e}");
        assert!(!e.to_string().contains("invalid JSON"), "{e}");
        // Nested objects too, and in instances for BigQuery ML exports.
        let e = parse_instances_jsonl("\n{\"s\": {\"x\": 1, \"x\": 1}}\n").unwrap_err();
        assert!(
            e.to_string().contains("line 2") && e.to_string().contains("duplicate key `x`"),
            "{e}"
        );
        let e = parse_instances_json("{\"instances\": [\n{\"k\": 1},\n{\"k\": 1, \"k\": 2}]}")
            .unwrap_err();
        assert!(
            e.to_string().contains("line 3") && e.to_string().contains("duplicate key `k`"),
            "{e}"
        );
        // Keys differing only in escapes are the same key.
        assert!(parse_instances_jsonl("{\"a\": 1, \"\\u0061\": 2}").is_err());
        // Equal keys in different objects are fine; order is kept.
        let v = parse_instances_jsonl("{\"b\": 1, \"a\": {\"b\": 2}}").unwrap();
        assert_eq!(
            v[0].as_object().unwrap().keys().collect::<Vec<_>>(),
            ["b", "a"]
        );
        assert_eq!(v[0]["a"]["b"], 2);
        // Numbers are kept exactly as serde_json::Value keeps them.
        let v = parse_instances_jsonl("[18446744073709551615, -3, 0.1, 1e400]").unwrap_err();
        assert!(v.to_string().contains("line 1"), "{v}");
        let v = parse_instances_jsonl("[18446744073709551615, -3, 0.1, 1.5e300]").unwrap();
        assert_eq!(
            v[0],
            serde_json::from_str::<serde_json::Value>("[18446744073709551615, -3, 0.1, 1.5e300]")
                .unwrap()
        );
    }

    /// A `.npy` file of `descr` with `shape`, values given as bytes.
    #[test]
    fn an_empty_fortran_array_with_a_huge_dimension_is_read_at_once() {
        let t = read_npy(&npy("<f4", true, "(0, 1000000000000000000)", &[])).unwrap();
        assert_eq!(
            (t.rows, t.cols, t.data.len()),
            (0, 1_000_000_000_000_000_000, 0)
        );
    }

    fn npy(descr: &str, fortran: bool, shape: &str, payload: &[u8]) -> Vec<u8> {
        let mut header = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
            if fortran { "True" } else { "False" }
        );
        header.push_str(&" ".repeat((64 - (10 + header.len() + 1) % 64) % 64));
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn npy_reads_both_byte_orders_and_fortran_order() {
        let values = [1.5f64, -2.0, 0.1, 4.0, 5.0, 6.0];
        let want = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
        let f8be: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
        let f8le: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let f4be: Vec<u8> = values
            .iter()
            .flat_map(|&v| (v as f32).to_be_bytes())
            .collect();
        let i4be: Vec<u8> = [1i32, -2, 3, 4, 5, 6]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let i8le: Vec<u8> = [1i64, -2, 3, 4, 5, 6]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        for (descr, payload) in [(">f8", &f8be), ("<f8", &f8le), (">f4", &f4be)] {
            let t = read_npy(&npy(descr, false, "(2, 3)", payload)).unwrap();
            assert_eq!((t.rows, t.cols), (2, 3), "{descr}");
            assert_eq!(t.data, want(&values), "{descr}");
            // Fortran order: the same bytes are the columns.
            let t = read_npy(&npy(descr, true, "(2, 3)", payload)).unwrap();
            assert_eq!(t.data, want(&[1.5, 0.1, 5.0, -2.0, 4.0, 6.0]), "{descr}");
        }
        for (descr, payload) in [(">i4", &i4be), ("<i8", &i8le)] {
            let t = read_npy(&npy(descr, false, "(3, 2)", payload)).unwrap();
            assert_eq!(t.data, [1.0, -2.0, 3.0, 4.0, 5.0, 6.0], "{descr}");
        }
        let e = read_npy(&npy("<f2", false, "(1, 1)", &[0, 0])).unwrap_err();
        assert!(e.to_string().contains("`<f2`"), "{e}");
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
