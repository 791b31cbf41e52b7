// Thin wrapper over CBLAS (OpenBLAS) GEMM for the reference kernels: row-major
// C = alpha * op(A) * op(B) + beta * C. float and double go to BLAS; other types use a plain
// loop with double accumulation (integers, halves computed through float by the callers).
#pragma once

#include <cstdint>

namespace concord::ref {

class KernelContext;

void GemmF32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
             const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
             int64_t ldc);
void GemmF64(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
             const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
             int64_t ldc);

// GemmF32 with C's columns split over the session's threads, each chunk a product large enough
// for OpenBLAS's regular kernels (gemm.cc says why), which compute each element over the same K
// order whatever the split: results do not depend on the thread count. OpenBLAS itself runs
// single-threaded (SingleThreadedBlas): one pool of threads, no oversubscription.
void GemmF32(const KernelContext& ctx, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
             float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
             float* c, int64_t ldc);

// Makes OpenBLAS run on the calling thread (process-wide; the interpreter splits its GEMMs).
void SingleThreadedBlas();

// Generic row-major GEMM with accumulator type Acc (for integer / mixed-type kernels).
template <typename Acc, typename TA, typename TB, typename TC>
void GemmGeneric(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const TA* a,
                 int64_t lda, const TB* b, int64_t ldb, TC* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      Acc acc = 0;
      for (int64_t p = 0; p < k; ++p) {
        Acc av = static_cast<Acc>(trans_a ? a[p * lda + i] : a[i * lda + p]);
        Acc bv = static_cast<Acc>(trans_b ? b[j * ldb + p] : b[p * ldb + j]);
        acc += av * bv;
      }
      c[i * ldc + j] = static_cast<TC>(acc);
    }
  }
}

}  // namespace concord::ref
