// Fused CPU kernels for the sparse FFN (models/sparse.py builds this file lazily with g++ and loads it
// through ctypes; without a compiler the pure-PyTorch path runs instead).
//
//   sb_gather_ffn: y[n] = sum_{j : h[n,j] != 0} h[n,j] * <W3[j], x[n]> * W2t[j]      (gated)
//                  y[n] = sum_{j : h[n,j] != 0} h[n,j] * W2t[j]                        (plain, W3 = NULL)
//   sb_gemv:       out[n, f] = <W[f], x[n]>                                            (dense rows)
//   sb_rows_gemv:  out[k] = <W[idx[k]], x>                              (selected rows: a predicted gate)
//   sb_dense_ffn:  y[n] = sum_j relu(<W1[j], x[n]>) * <W3[j], x[n]> * W2t[j] over every j, in one call:
//                  the benchmarks' same-kernel dense baseline (the gate GEMV, then the gather loop with
//                  no neuron skipped), so "sparsity only" speed-ups compare like with like
//
// Weights are row-major [F, d] in fp32 or bf16 (raw uint16 bits); activations and accumulation are fp32.
// The active neurons are the union over the n rows, found here (no separate nonzero/index_select ops).
//
// Threads: models/thread_pool.h (dynamic chunk claiming; why not OpenMP is written there).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "thread_pool.h"

namespace {

inline float ld(const float* p, int64_t k) { return p[k]; }
inline float ld(const uint16_t* p, int64_t k) {
  uint32_t u = static_cast<uint32_t>(p[k]) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// One dense row dot (the gate GEMV streams rows in order, so the hardware prefetcher keeps up).
// Four independent accumulators: a single FMA chain would cap the dot at ~16 B/cycle.
template <typename W>
inline float dot(const W* __restrict r, const float* __restrict x, int64_t d) {
  constexpr int64_t E = 64 / static_cast<int64_t>(sizeof(W));
  float acc[4 * E] = {};
  int64_t k = 0;
  for (; k + 4 * E <= d; k += 4 * E) {
#pragma omp simd
    for (int64_t e = 0; e < 4 * E; ++e) acc[e] += ld(r, k + e) * x[k + e];
  }
  float s = 0.f;
  for (; k < d; ++k) s += ld(r, k) * x[k];
  for (int64_t e = 0; e < 4 * E; ++e) s += acc[e];
  return s;
}

// Active rows are far apart, so the hardware prefetcher loses the stream at every jump and a one-row-at-a-
// time loop is latency-bound (~8 GB/s here). We work on blocks of 4 active neurons: 4 W3 rows stream
// together (4 dots), then 4 W2t rows (one fused 4-row axpy, so y is loaded and stored once per block),
// and each phase prefetches, line for line, the rows the *next* phase will read.
constexpr int kB = 4;
#ifndef SB_GEMV4
#define SB_GEMV4 1
#endif

template <typename W>
inline void prefetch_line(const W* row, int64_t k) {
  if (row) __builtin_prefetch(row + k, 0, 3);
}

// out[u] = <r[u], x> (0 for a NULL row); pf[u]: rows to prefetch meanwhile (NULL: none).
template <typename W>
inline void dot4(const W* const* r, const float* __restrict x, int64_t d, const W* const* pf, float* out) {
  constexpr int64_t E = 64 / static_cast<int64_t>(sizeof(W));
  const W* z = r[0];  // a valid row for NULL slots; their sums are dropped below
  const W *r0 = r[0], *r1 = r[1] ? r[1] : z, *r2 = r[2] ? r[2] : z, *r3 = r[3] ? r[3] : z;
  float a0[E] = {}, a1[E] = {}, a2[E] = {}, a3[E] = {};
  int64_t k = 0;
  for (; k + E <= d; k += E) {
    for (int u = 0; u < kB; ++u) prefetch_line(pf[u], k);
#pragma omp simd
    for (int64_t e = 0; e < E; ++e) {
      const float xv = x[k + e];
      a0[e] += ld(r0, k + e) * xv;
      a1[e] += ld(r1, k + e) * xv;
      a2[e] += ld(r2, k + e) * xv;
      a3[e] += ld(r3, k + e) * xv;
    }
  }
  float s[kB] = {};
  for (; k < d; ++k) {
    s[0] += ld(r0, k) * x[k];
    s[1] += ld(r1, k) * x[k];
    s[2] += ld(r2, k) * x[k];
    s[3] += ld(r3, k) * x[k];
  }
  for (int64_t e = 0; e < E; ++e) {
    s[0] += a0[e];
    s[1] += a1[e];
    s[2] += a2[e];
    s[3] += a3[e];
  }
  for (int u = 0; u < kB; ++u) out[u] = r[u] ? s[u] : 0.f;
}

// y += sum_u c[u] * r[u] (every r[u] valid; unused slots carry c[u] = 0).
template <typename W>
inline void axpy4(const float* c, const W* const* r, float* __restrict y, int64_t d, const W* const* pf) {
  constexpr int64_t E = 64 / static_cast<int64_t>(sizeof(W));
  const W *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3];
  const float c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
  int64_t k = 0;
  for (; k + E <= d; k += E) {
    for (int u = 0; u < kB; ++u) prefetch_line(pf[u], k);
#pragma omp simd
    for (int64_t e = 0; e < E; ++e)
      y[k + e] += c0 * ld(r0, k + e) + c1 * ld(r1, k + e) + c2 * ld(r2, k + e) + c3 * ld(r3, k + e);
  }
  for (; k < d; ++k) y[k] += c0 * ld(r0, k) + c1 * ld(r1, k) + c2 * ld(r2, k) + c3 * ld(r3, k);
}

struct Job {
  int kind;  // 0 gather, 1 gemv, 2 selected rows
  const float* x;
  const float* h;
  const int64_t* idx;  // active (union) neurons (gather) or the rows to read (selected rows)
  int64_t K, N, d, F;
  const void* w3;
  const void* w2t;  // gemv: the weight
  int bf16;
  float* out;       // gemv: the (N, F) output; gather: per-chunk partial sums (nchunks, N, d)
  int64_t per_chunk;
  int nchunks;
  bool all = false;  // gather: visit every neuron, zero or not (the dense baseline)
};

template <typename W>
void gather_chunk(const Job& J, int c) {
  const W* w3 = static_cast<const W*>(J.w3);
  const W* w2t = static_cast<const W*>(J.w2t);
  const int64_t d = J.d, lo = c * J.per_chunk, hi = std::min(J.K, lo + J.per_chunk);
  float* y = J.out + static_cast<int64_t>(c) * J.N * d;
  std::memset(y, 0, sizeof(float) * J.N * d);
  const W* none[kB] = {nullptr, nullptr, nullptr, nullptr};
  for (int64_t i = lo; i < hi; i += kB) {
    const W *r3[kB], *r2[kB], *next[kB];
    int64_t js[kB];
    for (int u = 0; u < kB; ++u) {
      const bool in = i + u < hi, nx = i + kB + u < hi;
      js[u] = in ? J.idx[i + u] : -1;
      r3[u] = (in && w3) ? w3 + js[u] * d : nullptr;
      r2[u] = w2t + (in ? js[u] : J.idx[i]) * d;  // past the end: a valid row with coefficient 0
      const int64_t jn = nx ? J.idx[i + kB + u] : -1;
      next[u] = jn < 0 ? nullptr : (w3 ? w3 + jn * d : w2t + jn * d);
    }
    for (int64_t n = 0; n < J.N; ++n) {
      const float* hn = J.h + n * J.F;
      float coef[kB], dots[kB] = {1.f, 1.f, 1.f, 1.f};
      bool any = false;
      for (int u = 0; u < kB; ++u) any |= js[u] >= 0 && (J.all || hn[js[u]] != 0.f);
      if (!any) continue;  // exact zeros: this block contributes nothing to row n
      if (w3) dot4(r3, J.x + n * d, d, n == 0 ? r2 : none, dots);  // prefetch this block's W2t rows
      for (int u = 0; u < kB; ++u) coef[u] = js[u] >= 0 ? hn[js[u]] * dots[u] : 0.f;
      axpy4(coef, r2, y + n * d, d, n + 1 == J.N ? next : none);  // prefetch the next block's rows
    }
  }
}

template <typename W>
void gemv_chunk(const Job& J, int c) {
  const W* w = static_cast<const W*>(J.w2t);
  const int64_t d = J.d, lo = c * J.per_chunk, hi = std::min(J.F, lo + J.per_chunk);
#if SB_GEMV4
  const W* none[kB] = {nullptr, nullptr, nullptr, nullptr};
  for (int64_t f = lo; f < hi; f += kB) {
    const W* r[kB];
    const W* pf[kB];
    for (int u = 0; u < kB; ++u) {
      r[u] = f + u < hi ? w + (f + u) * d : nullptr;
      pf[u] = f + kB + u < hi ? w + (f + kB + u) * d : nullptr;
    }
    for (int64_t n = 0; n < J.N; ++n) {
      float out[kB];
      dot4(r, J.x + n * d, d, n == 0 ? pf : none, out);
      for (int u = 0; u < kB && f + u < hi; ++u) J.out[n * J.F + f + u] = out[u];
    }
  }
#else
  for (int64_t f = lo; f < hi; ++f)
    for (int64_t n = 0; n < J.N; ++n) J.out[n * J.F + f] = dot<W>(w + f * d, J.x + n * d, d);
#endif
}

// Selected rows only (batch 1): out[k] = <W[idx[k]], x>, four rows at a time, prefetching the next four
// (the rows are far apart, as in the gather). The predictor path's gate over its predicted neurons.
template <typename W>
void rows_chunk(const Job& J, int c) {
  const W* w = static_cast<const W*>(J.w2t);
  const int64_t d = J.d, lo = c * J.per_chunk, hi = std::min(J.K, lo + J.per_chunk);
  for (int64_t i = lo; i < hi; i += kB) {
    const W* r[kB];
    const W* pf[kB];
    for (int u = 0; u < kB; ++u) {
      r[u] = i + u < hi ? w + J.idx[i + u] * d : nullptr;
      pf[u] = i + kB + u < hi ? w + J.idx[i + kB + u] * d : nullptr;
    }
    float out[kB];
    dot4(r, J.x, d, pf, out);
    for (int u = 0; u < kB && i + u < hi; ++u) J.out[i + u] = out[u];
  }
}

void run_chunk(const Job& J, int c) {
  if (J.kind == 0) {
    if (J.bf16) gather_chunk<uint16_t>(J, c); else gather_chunk<float>(J, c);
  } else if (J.kind == 1) {
    if (J.bf16) gemv_chunk<uint16_t>(J, c); else gemv_chunk<float>(J, c);
  } else {
    if (J.bf16) rows_chunk<uint16_t>(J, c); else rows_chunk<float>(J, c);
  }
}

void run_job(const Job& job, int nthreads) { ThreadPool<Job, run_chunk>::run(job, nthreads); }

int64_t gather(const float* x, const float* h, int64_t N, int64_t d, int64_t F, const void* w3,
               const void* w2t, int bf16, float* y, int nthreads, bool all) {
  std::vector<int64_t> idx;
  idx.reserve(F);
  for (int64_t j = 0; j < F; ++j) {
    for (int64_t n = 0; n < N; ++n) {
      if (all || h[n * F + j] != 0.f) {
        idx.push_back(j);
        break;
      }
    }
  }
  const int64_t K = static_cast<int64_t>(idx.size());
  int nchunks = nthreads <= 1 ? 1 : 4 * nthreads;
  if (K < 64 * nchunks) nchunks = nthreads <= 1 ? 1 : std::max<int64_t>(1, K / 64);
  Job job{0, x, h, idx.data(), K, N, d, F, w3, w2t, bf16, nullptr, (K + nchunks - 1) / nchunks, nchunks, all};
  if (nchunks == 1) {
    job.out = y;
    run_chunk(job, 0);
    return K;
  }
  std::vector<float> partial(static_cast<size_t>(nchunks) * N * d);
  job.out = partial.data();
  run_job(job, nthreads);
  std::memcpy(y, partial.data(), sizeof(float) * N * d);
  for (int c = 1; c < nchunks; ++c) {
    const float* p = partial.data() + static_cast<int64_t>(c) * N * d;
    for (int64_t k = 0; k < N * d; ++k) y[k] += p[k];
  }
  return K;
}

void gemv(const float* x, int64_t N, int64_t d, int64_t F, const void* w, int bf16, float* out, int nthreads) {
  int nchunks = nthreads <= 1 ? 1 : 8 * nthreads;
  Job job{1, x, nullptr, nullptr, 0, N, d, F, nullptr, w, bf16, out, (F + nchunks - 1) / nchunks, nchunks};
  run_job(job, nthreads);
}

}  // namespace

extern "C" {

int sb_version() { return 3; }

// x (N, d) fp32, h (N, F) fp32 post-activation; w3 (F, d) or NULL, w2t (F, d); y (N, d) fp32 output.
// Returns the number of active (union) neurons.
int64_t sb_gather_ffn(const float* x, const float* h, int64_t N, int64_t d, int64_t F, const void* w3,
                      const void* w2t, int bf16, float* y, int nthreads) {
  return gather(x, h, N, d, F, w3, w2t, bf16, y, nthreads, false);
}

// out (N, F) fp32 = x (N, d) fp32 @ w (F, d)^T.
void sb_gemv(const float* x, int64_t N, int64_t d, int64_t F, const void* w, int bf16, float* out,
             int nthreads) {
  gemv(x, N, d, F, w, bf16, out, nthreads);
}

// out (K,) fp32 = rows idx (K,) of w (F, d) times x (d,) fp32: the gate over a predicted set of neurons.
void sb_rows_gemv(const float* x, int64_t d, const int64_t* idx, int64_t K, const void* w, int bf16, float* out,
                  int nthreads) {
  int nchunks = nthreads <= 1 || K < 256 ? 1 : 8 * nthreads;
  Job job{2, x, nullptr, idx, K, 1, d, 0, nullptr, w, bf16, out, (K + nchunks - 1) / nchunks, nchunks};
  if (K > 0) run_job(job, nthreads);
}

// The dense gated RELU FFN through the same loops as the sparse path, every neuron visited: the gate GEMV
// into h (N, F) scratch, RELU in place, then the gather over all F neurons into y (N, d).
void sb_dense_ffn(const float* x, int64_t N, int64_t d, int64_t F, const void* w1, const void* w3,
                  const void* w2t, int bf16, float* h, float* y, int nthreads) {
  gemv(x, N, d, F, w1, bf16, h, nthreads);
  for (int64_t k = 0; k < N * F; ++k) h[k] = h[k] > 0.f ? h[k] : 0.f;
  gather(x, h, N, d, F, w3, w2t, bf16, y, nthreads, true);
}

}  // extern "C"
