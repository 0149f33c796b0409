//! What our banded CPU convolutions ([`super::winograd`], [`super::im2col`]) share: the output
//! buffer their bands write into, the matrix product each band runs on its own thread (the
//! bands are the parallelism), and each thread's scratch.

use std::cell::RefCell;
use std::thread::LocalKey;

/// Runs `work` with this thread's scratch in `key`, kept between calls: a band's buffers are
/// megabytes, and fresh ones cost page faults and zero-filling every time.
pub(crate) fn with_thread_scratch<S: Default, R>(
    key: &'static LocalKey<RefCell<S>>,
    work: impl FnOnce(&mut S) -> R,
) -> R {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => work(&mut scratch),
        // Only if a band's work ever re-entered the pool on this thread.
        Err(_) => work(&mut S::default()),
    })
}

/// A matrix in memory: its first element and the steps between its columns and between its rows
/// (row-major: `(1, columns)`; column-major: `(rows, 1)`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Strided<P> {
    /// The first element.
    ptr: P,
    /// Elements from one column to the next.
    column_step: isize,
    /// Elements from one row to the next.
    row_step: isize,
}

impl<P> Strided<P> {
    /// The matrix at `ptr` with these steps.
    pub(crate) fn new(ptr: P, column_step: usize, row_step: usize) -> Self {
        Strided {
            ptr,
            column_step: column_step as isize,
            row_step: row_step as isize,
        }
    }
}

/// `dst = lhs · rhs` for `[m, n, k]`: `lhs` m × k, `rhs` k × n, `dst` m × n, on the calling
/// thread (gemm, as burn's CPU backend uses).
///
/// # Safety
/// Every element the steps reach lies in its buffer, and `dst` overlaps neither input.
pub(crate) unsafe fn product(
    [m, n, k]: [usize; 3],
    dst: Strided<*mut f32>,
    lhs: Strided<*const f32>,
    rhs: Strided<*const f32>,
) {
    gemm::gemm(
        m,
        n,
        k,
        dst.ptr,
        dst.column_step,
        dst.row_step,
        false,
        lhs.ptr,
        lhs.column_step,
        lhs.row_step,
        rhs.ptr,
        rhs.column_step,
        rhs.row_step,
        0.0,
        1.0,
        false,
        false,
        false,
        gemm::Parallelism::None,
    );
}

/// An output buffer shared by parallel bands: each writes only its own rows.
#[derive(Clone, Copy)]
pub(crate) struct SharedOutput(*mut f32);

// SAFETY: the bands write disjoint rows, and the buffer outlives the loop.
unsafe impl Send for SharedOutput {}
unsafe impl Sync for SharedOutput {}

impl SharedOutput {
    /// The whole of `buffer`.
    pub(crate) fn new(buffer: &mut [f32]) -> Self {
        SharedOutput(buffer.as_mut_ptr())
    }

    /// The buffer from element `start` on.
    pub(crate) fn offset(self, start: usize) -> Self {
        SharedOutput(self.0.wrapping_add(start))
    }

    /// The first element's address.
    pub(crate) fn ptr(self) -> *mut f32 {
        self.0
    }

    /// The `len` elements from `start`.
    ///
    /// # Safety
    /// The range must lie in the buffer, and no other task may touch it while the slice lives.
    pub(crate) unsafe fn rows<'a>(self, start: usize, len: usize) -> &'a mut [f32] {
        std::slice::from_raw_parts_mut(self.0.add(start), len)
    }
}
