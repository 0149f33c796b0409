//! Subnormal floats flushed to zero on the threads that run the models.
//!
//! Activations of a network can drift into the subnormal range (below 1.2e-38), where x86 cores
//! compute many times slower; they are far below anything an image shows. PyTorch's CPU
//! kernels avoid the cost; burn's CPU backend does not, so the threads that run the models set
//! the SSE control register's flush-to-zero (FTZ) and denormals-are-zero (DAZ) bits. The audio
//! thread is never touched.

/// Sets FTZ and DAZ on the calling thread and on every thread of rayon's global pool (where
/// burn's CPU backend runs its parallel kernels). A no-op on other architectures.
pub fn flush_subnormals_on_model_threads() {
    set_flush_to_zero();
    rayon::broadcast(|_| set_flush_to_zero());
}

/// Sets FTZ and DAZ on the calling thread only (a model thread the library starts itself).
pub fn flush_subnormals_on_this_thread() {
    set_flush_to_zero();
}

#[cfg(target_arch = "x86_64")]
fn set_flush_to_zero() {
    /// MXCSR bit 15: results that would be subnormal become zero.
    const FTZ: u32 = 1 << 15;
    /// MXCSR bit 6: subnormal inputs are read as zero.
    const DAZ: u32 = 1 << 6;
    let mut csr: u32 = 0;
    // SAFETY: `stmxcsr` stores this thread's SSE control/status register into `csr` and
    // `ldmxcsr` loads it back with two mode bits set; both touch only that 4-byte local and the
    // register, which only changes how this thread treats subnormal floats.
    unsafe {
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr as *mut u32, options(nostack, preserves_flags));
        csr |= FTZ | DAZ;
        std::arch::asm!("ldmxcsr [{}]", in(reg) &csr as *const u32, options(nostack, preserves_flags, readonly));
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn set_flush_to_zero() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnormal_results_become_zero_on_this_thread() {
        std::thread::spawn(|| {
            let tiny = std::hint::black_box(f32::MIN_POSITIVE);
            assert!((tiny / 4.0).is_subnormal());
            flush_subnormals_on_model_threads();
            let flushed = std::hint::black_box(tiny) / std::hint::black_box(4.0f32);
            if cfg!(target_arch = "x86_64") {
                assert_eq!(flushed, 0.0);
            }
        })
        .join()
        .unwrap();
    }
}
