//! [`FeatureMatrix`]: a borrowed, strided view of `f32` input rows.

use crate::error::{Error, Result};

/// A dense matrix of `f32` features borrowed from the caller, in any layout
/// that strides can describe: row-major, column-major, or a strided slice of a
/// larger array. NaN is always a missing value.
#[derive(Clone, Copy, Debug)]
pub struct FeatureMatrix<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> FeatureMatrix<'a> {
    /// A row-major (C-order) matrix: element `(r, c)` is `data[r * cols + c]`.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        Self::strided(data, rows, cols, cols, 1)
    }

    /// A column-major (Fortran-order) matrix: element `(r, c)` is `data[c * rows + r]`.
    pub fn col_major(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        Self::strided(data, rows, cols, 1, rows)
    }

    /// A general strided view: element `(r, c)` is
    /// `data[r * row_stride + c * col_stride]`. Every element must lie in `data`.
    pub fn strided(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        if rows > 0 && cols > 0 {
            let last = (rows - 1).checked_mul(row_stride).and_then(|a| {
                (cols - 1)
                    .checked_mul(col_stride)
                    .and_then(|b| a.checked_add(b))
            });
            match last {
                Some(last) if last < data.len() => {}
                _ => {
                    return Err(Error::input(format!(
                        "a {rows} x {cols} matrix with strides ({row_stride}, {col_stride}) \
                         does not fit in {} values",
                        data.len()
                    )));
                }
            }
        }
        Ok(FeatureMatrix {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// True when each row's values are contiguous.
    pub fn is_row_contiguous(&self) -> bool {
        self.col_stride == 1 || self.cols <= 1
    }

    /// Element `(r, c)`. Panics when out of range, like slice indexing.
    #[inline]
    pub fn get(&self, r: usize, c: usize) -> f32 {
        assert!(r < self.rows && c < self.cols, "index out of range");
        self.data[r * self.row_stride + c * self.col_stride]
    }

    /// True when the rows are contiguous and back to back (plain C order), so a
    /// range of rows is one slice.
    pub fn is_dense_row_major(&self) -> bool {
        self.is_row_contiguous() && (self.row_stride == self.cols || self.rows <= 1)
    }

    /// Rows `start..end` as one row-major slice. Panics unless
    /// [`is_dense_row_major`](Self::is_dense_row_major) and the range is in bounds.
    pub fn rows_slice(&self, start: usize, end: usize) -> &'a [f32] {
        assert!(self.is_dense_row_major() && start <= end && end <= self.rows);
        &self.data[start * self.cols..end * self.cols]
    }

    /// Row `r` as a slice, when rows are contiguous.
    #[inline]
    pub fn row_slice(&self, r: usize) -> Option<&'a [f32]> {
        if r < self.rows && self.is_row_contiguous() {
            let start = r * self.row_stride;
            Some(&self.data[start..start + self.cols])
        } else {
            None
        }
    }

    /// Copies row `r` into `buf` (which must have `cols` elements).
    #[inline]
    pub fn copy_row(&self, r: usize, buf: &mut [f32]) {
        let base = r * self.row_stride;
        for (c, v) in buf.iter_mut().enumerate().take(self.cols) {
            *v = self.data[base + c * self.col_stride];
        }
    }

    /// The first `cols` columns (at most [`cols`](Self::cols)) as a view.
    pub fn first_cols(&self, cols: usize) -> FeatureMatrix<'a> {
        assert!(cols <= self.cols, "column range out of bounds");
        FeatureMatrix { cols, ..*self }
    }

    /// Rows `start..end` as a view.
    pub fn slice_rows(&self, start: usize, end: usize) -> FeatureMatrix<'a> {
        assert!(start <= end && end <= self.rows, "row range out of bounds");
        let offset = if end > start {
            start * self.row_stride
        } else {
            0
        };
        FeatureMatrix {
            data: &self.data[offset.min(self.data.len())..],
            rows: end - start,
            cols: self.cols,
            row_stride: self.row_stride,
            col_stride: self.col_stride,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_agree() {
        let rm = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let cm = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0];
        let a = FeatureMatrix::row_major(&rm, 2, 3).unwrap();
        let b = FeatureMatrix::col_major(&cm, 2, 3).unwrap();
        for r in 0..2 {
            for c in 0..3 {
                assert_eq!(a.get(r, c), b.get(r, c));
            }
        }
        assert_eq!(a.slice_rows(1, 2).row_slice(0).unwrap(), &[4.0, 5.0, 6.0]);
        let mut buf = [0.0; 3];
        b.slice_rows(1, 2).copy_row(0, &mut buf);
        assert_eq!(buf, [4.0, 5.0, 6.0]);
    }

    #[test]
    fn views_past_the_data_are_rejected() {
        assert!(FeatureMatrix::row_major(&[0.0; 5], 2, 3).is_err());
        assert!(FeatureMatrix::strided(&[0.0; 6], 2, 3, usize::MAX, 1).is_err());
        assert!(FeatureMatrix::row_major(&[], 0, 3).is_ok());
    }
}
