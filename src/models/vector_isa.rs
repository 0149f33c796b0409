//! Running our own CPU loops with the vector instructions the machine has.
//!
//! Release builds target baseline x86-64, whose vectors are SSE's 4 lanes; the CPUs the plugin
//! meets almost all have AVX2 and FMA (8 lanes). burn's kernels and gemm choose at run time;
//! [`vectorised`] does the same for ours: the closure, and what it inlines, is compiled a
//! second time for AVX2 + FMA and that copy runs where the CPU has them.

/// Runs `work`, compiled for AVX2 and FMA where the CPU has them. What `work` calls is
/// compiled for them only where it is inlined: mark the closure and such helpers
/// `#[inline(always)]`.
#[inline(always)]
pub(crate) fn vectorised<R>(work: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the features the function is compiled for.
        return unsafe { with_avx2_fma(work) };
    }
    work()
}

/// `work()` with AVX2 and FMA enabled.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn with_avx2_fma<R>(work: impl FnOnce() -> R) -> R {
    work()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_the_work_and_returns_its_result() {
        let values: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let sum = vectorised(
            #[inline(always)]
            || values.iter().map(|v| v * 2.0).sum::<f32>(),
        );
        assert_eq!(sum, 9900.0);
    }
}
