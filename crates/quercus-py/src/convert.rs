//! Conversions between Python objects and Quercus types: numpy arrays to
//! [`FeatureMatrix`] views (zero-copy), CSR parts to dense row blocks, and
//! [`Predictions`] to numpy arrays.

use numpy::{PyArray1, PyArray2, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;

use quercus::{FeatureMatrix, Predictions};

use crate::errors::{ToPyResult, input_error};

/// Strides of a numpy array, in `f32` elements, when the array can be read in
/// place: non-negative multiples of 4 bytes. `None` when it cannot.
pub fn element_strides(byte_strides: &[isize]) -> Option<(usize, usize)> {
    let el = |s: isize| -> Option<usize> {
        let s = usize::try_from(s).ok()?;
        (s % std::mem::size_of::<f32>() == 0).then_some(s / std::mem::size_of::<f32>())
    };
    match byte_strides {
        [r, c] => Some((el(*r)?, el(*c)?)),
        _ => None,
    }
}

/// Number of `f32` elements from the first element of a `rows x cols` view to
/// its last, inclusive (0 for an empty view).
pub fn span(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1)
        .checked_mul(row_stride)?
        .checked_add((cols - 1).checked_mul(col_stride)?)?
        .checked_add(1)
}

/// Borrows a 2-D `float32` numpy array for the duration of `f`, without
/// copying it, and calls `f` with a [`FeatureMatrix`] over it.
///
/// The array must be native-endian `float32`, aligned, with non-negative
/// strides that are multiples of 4 bytes (the Python layer copies any other
/// array into that form first). Anything else is an `InputError`, never
/// undefined behaviour.
pub fn with_matrix<R>(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    f: impl FnOnce(FeatureMatrix<'_>) -> PyResult<R>,
) -> PyResult<R> {
    let arr = x.cast::<PyArray2<f32>>().map_err(|_| {
        input_error(
            py,
            "the native predictor needs a 2-D float32 numpy array (use quercus.Model.predict)",
        )
    })?;
    // A shared borrow: no Rust code can write to the array while it is held.
    let ro = arr
        .try_readonly()
        .map_err(|e| input_error(py, format!("cannot read the input array: {e}")))?;
    let (rows, cols) = match ro.shape() {
        [r, c] => (*r, *c),
        _ => unreachable!("PyArray2 has two dimensions"),
    };
    let (rs, cs) = element_strides(ro.strides())
        .filter(|_| ro.is_aligned())
        .ok_or_else(|| {
            input_error(
                py,
                "the input array has negative, unaligned or non-element strides",
            )
        })?;
    let len = span(rows, cols, rs, cs)
        .ok_or_else(|| input_error(py, "the input array is too large to address"))?;
    let data: &[f32] = if len == 0 {
        &[]
    } else {
        // SAFETY: `ro` is a live, aligned, native-endian float32 numpy array
        // (checked by the cast and `is_aligned`), kept alive and borrowed
        // read-only for the whole lifetime of `data`, which ends when this
        // function returns. Its strides are non-negative multiples of the
        // element size, so every element (r, c) sits at
        // `data() + r * rs + c * cs`, and the `len` elements from the first to
        // the last all lie inside the one buffer the array views (the memory
        // between two addresses of one allocation). Python code running in
        // another thread while the GIL is released may still write to that
        // buffer; as with numpy's own GIL-free loops, predicting on an array
        // that is being modified gives unspecified numbers, and `f32` reads
        // have no invalid bit patterns.
        unsafe { std::slice::from_raw_parts(ro.data().cast_const(), len) }
    };
    let m = FeatureMatrix::strided(data, rows, cols, rs, cs).or_raise(py)?;
    f(m)
}

/// A compressed-sparse-row matrix borrowed from scipy's arrays: row `r` has
/// the values `data[indptr[r]..indptr[r + 1]]` in columns `indices[..]`.
/// An absent entry is missing (NaN), as in XGBoost.
#[derive(Clone, Copy, Debug)]
pub struct Csr<'a> {
    /// Row offsets, `rows + 1` of them.
    pub indptr: &'a [i64],
    /// Column of each stored value.
    pub indices: &'a [i64],
    /// The stored values.
    pub data: &'a [f32],
    /// Number of columns.
    pub cols: usize,
}

impl Csr<'_> {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.indptr.len().saturating_sub(1)
    }

    /// Checks the structure once, so densifying never indexes out of range.
    pub fn validate(&self) -> quercus::Result<()> {
        let bad = |m: String| Err(quercus::Error::input(m));
        if self.indptr.is_empty() {
            return bad("a sparse matrix needs at least one row offset".into());
        }
        if self.indices.len() != self.data.len() {
            return bad(format!(
                "a sparse matrix has {} column indices but {} values",
                self.indices.len(),
                self.data.len()
            ));
        }
        let nnz = self.data.len() as i64;
        let mut prev = 0i64;
        for (r, &p) in self.indptr.iter().enumerate() {
            if p < prev || p > nnz || (r == 0 && p != 0) {
                return bad(format!(
                    "the sparse matrix's row offsets are not increasing from 0 to {nnz} (row {r})"
                ));
            }
            prev = p;
        }
        if *self.indptr.last().unwrap_or(&0) != nnz {
            return bad(format!(
                "the sparse matrix's last row offset is not its {nnz} stored values"
            ));
        }
        if let Some(&c) = self
            .indices
            .iter()
            .find(|&&c| c < 0 || c as u64 >= self.cols as u64)
        {
            return bad(format!(
                "the sparse matrix has column index {c}, outside its {} columns",
                self.cols
            ));
        }
        Ok(())
    }

    /// Writes the first `width` columns of rows `start..start + n` densely
    /// into `out` (`n * width` values, NaN where no value is stored); values
    /// in later columns are left out. Call [`Csr::validate`] first.
    pub fn densify(&self, start: usize, n: usize, width: usize, out: &mut [f32]) {
        out.fill(f32::NAN);
        for (i, row) in out.chunks_exact_mut(width.max(1)).take(n).enumerate() {
            let (a, b) = (
                self.indptr[start + i] as usize,
                self.indptr[start + i + 1] as usize,
            );
            for (&c, &v) in self.indices[a..b].iter().zip(&self.data[a..b]) {
                if let Some(x) = row.get_mut(c as usize) {
                    *x = v;
                }
            }
        }
    }
}

/// Floats held at once when a sparse matrix is densified in row blocks.
const DENSE_BLOCK_FLOATS: usize = 1 << 22;

/// Predicts a CSR matrix in dense row blocks of bounded size: only the
/// columns the model reads are densified ([`quercus::Forest::features_read`]),
/// so a model declaring billions of features costs what its splits use.
pub fn predict_csr(
    model: &quercus::Model,
    csr: Csr<'_>,
    opts: &quercus::PredictOptions,
) -> quercus::Result<Predictions> {
    csr.validate()?;
    if csr.cols != model.num_features() {
        return Err(quercus::Error::new(quercus::ErrorKind::FeatureCount {
            expected: model.num_features(),
            found: csr.cols,
        }));
    }
    let rows = csr.rows();
    let cols = model.forest().features_read().min(csr.cols);
    let block_rows = (DENSE_BLOCK_FLOATS / cols.max(1)).clamp(1, rows.max(1));
    let mut buf = vec![0.0f32; block_rows * cols];
    let mut data = Vec::new();
    let mut shape = None;
    let mut start = 0;
    loop {
        let n = block_rows.min(rows - start);
        csr.densify(start, n, cols, &mut buf[..n * cols]);
        let x = FeatureMatrix::row_major(&buf[..n * cols], n, cols)?;
        let p = model.forest().predict_leading(&x, opts)?;
        if shape.is_none() {
            data.reserve_exact(rows.saturating_mul(p.width()));
            shape = Some(p.shape);
        }
        data.extend_from_slice(&p.data);
        start += n;
        if start >= rows {
            break;
        }
    }
    let mut shape = shape.unwrap_or_default();
    if let Some(r) = shape.first_mut() {
        *r = rows;
    }
    Ok(Predictions { data, shape })
}

/// Moves predictions into a numpy array of their shape, without copying.
pub fn to_numpy<'py>(py: Python<'py>, p: Predictions) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    let shape = p.shape;
    let flat = PyArray1::from_vec(py, p.data);
    flat.reshape(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_in_elements() {
        assert_eq!(element_strides(&[112, 4]), Some((28, 1)));
        assert_eq!(element_strides(&[4, 400]), Some((1, 100)));
        assert_eq!(element_strides(&[0, 4]), Some((0, 1)));
        assert_eq!(element_strides(&[-112, 4]), None);
        assert_eq!(element_strides(&[6, 4]), None);
        assert_eq!(element_strides(&[4]), None);
    }

    #[test]
    fn spans() {
        assert_eq!(span(0, 28, 28, 1), Some(0));
        assert_eq!(span(3, 2, 2, 1), Some(6));
        assert_eq!(span(3, 2, 1, 3), Some(6));
        assert_eq!(span(2, 2, usize::MAX, 1), None);
    }

    #[test]
    fn csr_densifies_absent_as_missing() {
        let csr = Csr {
            indptr: &[0, 2, 2, 3],
            indices: &[0, 2, 1],
            data: &[1.0, 0.0, 5.0],
            cols: 3,
        };
        csr.validate().unwrap();
        let mut out = vec![0.0; 9];
        csr.densify(0, 3, csr.cols, &mut out);
        let bits: Vec<u32> = out.iter().map(|v| v.to_bits()).collect();
        let n = f32::NAN.to_bits();
        assert_eq!(
            bits,
            [1.0f32.to_bits(), n, 0, n, n, n, n, 5.0f32.to_bits(), n]
        );
        let bad = Csr {
            indices: &[0, 3, 1],
            ..csr
        };
        assert!(bad.validate().is_err());
        let bad = Csr {
            indptr: &[0, 2, 1, 3],
            ..csr
        };
        assert!(bad.validate().is_err());
    }
}
