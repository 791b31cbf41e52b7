#include "ref/ops/gemm.h"

#include <cblas.h>

#include <algorithm>

#include "ref/kernel.h"

namespace concord::ref {

void GemmF32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
             const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
             int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta,
              c, static_cast<int>(ldc));
}

void GemmF32(const KernelContext& ctx, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
             float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
             float* c, int64_t ldc) {
  // Every chunk (and so the whole product, when split) above 2^21 multiply-adds: OpenBLAS
  // sends products of at most 10^6 (M*N*K) to its small-matrix kernels on SkylakeX-class
  // cores, which round differently; above that its kernels give each element the same value
  // however the columns are split. A chunk below the limit would change the results.
  constexpr int64_t kMinWork = int64_t{1} << 21;
  const int64_t mk = std::max<int64_t>(1, m * k);
  ctx.ParallelFor(n, (kMinWork + mk - 1) / mk, [&](int64_t j0, int64_t j1) {
    const float* bj = trans_b ? b + j0 * ldb : b + j0;
    GemmF32(trans_a, trans_b, m, j1 - j0, k, alpha, a, lda, bj, ldb, beta, c + j0, ldc);
  });
}

void SingleThreadedBlas() {
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

void GemmF64(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
             const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
             int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta,
              c, static_cast<int>(ldc));
}

}  // namespace concord::ref
