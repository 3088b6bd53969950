// Fused CPU kernel for the stochastic SILU/RELU activation (models/activations.py builds this file lazily
// through models/kernels.py and loads it with ctypes; without a compiler the PyTorch path runs instead).
//
//   draw(i)   = hash(seed, i) < thr          (True: SILU branch; thr = floor(p * 2^32), 2^32 when p = 1)
//   hash(s,i) = the low (i even) or high (i odd) 32 bits of z = mix64(s + (i >> 1) * 0x9E3779B97F4A7C15),
//               mix64 = splitmix64's finaliser, arithmetic mod 2^64: one 64-bit hash feeds two draws
//   sel       = draw                          (mode "full")
//             = draw && x < 0                 (mode "neg")
//   forward   y  = sel ? silu(x) : relu(x)
//   backward  dx = g * (sel ? silu'(x) : [x > 0])
//
// The draw index i is the flat element index (granularity "element"), the row index (token: rows of
// `rowlen` elements) or 0 (tensor). The backward recomputes the draw from (seed, i), so nothing but x is
// kept between the passes. models/activations.py computes the same hash with int64 tensor ops, so the
// kernel, the PyTorch fallback and CUDA select exactly the same branches for the same seed.
//
// Values are fp32 or bf16 (raw uint16 bits; computed in fp32, rounded to nearest even like PyTorch).
// exp() is an inline Cephes-style polynomial (< 2 ulp) so whole blocks vectorise; results agree with
// PyTorch's SILU to a few ulp, not bitwise.
//
// Threads: models/thread_pool.h (dynamic chunk claiming; why not OpenMP is written there).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "thread_pool.h"

namespace {

// ---- the counter-based draw -----------------------------------------------------------------------
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

inline uint64_t mix64(uint64_t z) {  // splitmix64's finaliser
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

inline uint32_t draw_hash(uint64_t seed, uint64_t i) {
  uint64_t z = mix64(seed + (i >> 1) * kGolden);
  return static_cast<uint32_t>((i & 1) ? z >> 32 : z);
}

// Draw i selects SILU iff draw_hash(seed, i) < thr, thr in [0, 2^32].
inline bool drawn(uint64_t seed, uint64_t i, uint64_t thr) { return draw_hash(seed, i) < thr; }

// ---- element math (branch-free so blocks vectorise) ----------------------------------------------
inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// exp(t) for t <= 0 (the only case needed: sigmoid from exp(-|x|)). Flushes to 0 below -87.3, where
// exp(t) < 2^-126 (fp32's smallest normal).
inline float exp_nonpos(float t) {
  const bool under = t < -87.3f;
  t = under ? -87.3f : t;
  float n = std::nearbyint(t * 1.44269504088896341f);
  float r = t - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t e = static_cast<int32_t>(n) + 127;  // n >= -126 by the clamp, so e >= 1: a normal scale
  return under ? 0.f : p * bits_to_float(static_cast<uint32_t>(e) << 23);
}

// sigmoid(x) without overflow: e = exp(-|x|) in (0, 1], one division.
inline float sigmoid(float x) {
  float e = exp_nonpos(-std::fabs(x));
  return (x >= 0.f ? 1.0f : e) / (1.0f + e);
}

inline float ld(const float* p, int64_t k) { return p[k]; }
inline float ld(const uint16_t* p, int64_t k) { return bits_to_float(static_cast<uint32_t>(p[k]) << 16); }
inline void st(float* p, int64_t k, float v) { p[k] = v; }
inline void st(uint16_t* p, int64_t k, float v) {
  uint32_t u = float_to_bits(v);
  uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;  // round to nearest even
  uint32_t nan = (u >> 16) | 0x40u;                           // keep NaN a (quiet) NaN
  p[k] = static_cast<uint16_t>((u & 0x7FFFFFFFu) > 0x7F800000u ? nan : rounded);
}

// One element: the forward (BWD = false: out = y) or the backward (out = dx) under draw d.
template <typename T, bool BWD, bool FULL>
inline void elem(const T* __restrict x, const T* __restrict g, T* __restrict out, int64_t k, bool d) {
  float v = ld(x, k);
  bool sel = FULL ? d : (d & (v < 0.f));  // bitwise &: a short-circuit && stops the vectoriser
  float s = sigmoid(v);
  if (BWD) {
    float dsilu = s * (1.f + v * (1.f - s));
    float step = v > 0.f ? 1.f : 0.f;
    st(out, k, ld(g, k) * (sel ? dsilu : step));
  } else {
    float relu = v > 0.f ? v : 0.f;
    st(out, k, sel ? v * s : relu);
  }
}

// Elements [lo, hi) under one draw (token and tensor granularity, or p so close to 0 or 1 it is fixed).
template <typename T, bool BWD, bool FULL>
void span_const(const T* x, const T* g, T* out, int64_t lo, int64_t hi, bool d) {
#pragma omp simd
  for (int64_t k = lo; k < hi; ++k) elem<T, BWD, FULL>(x, g, out, k, d);
}

// Elements [lo, hi), lo even, each with its own draw. Blocks of kBlock elements: one vector loop writes
// the block's kBlock/2 64-bit hashes, whose two 32-bit halves are the draws of elements 2j and 2j+1 on a
// little-endian CPU (half the multiplies of one hash per element); a second vector loop does the math.
constexpr int64_t kBlock = 1024;
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "draw halves assume little-endian words");
typedef uint32_t __attribute__((may_alias)) u32_alias;

template <typename T, bool BWD, bool FULL>
void span_hashed(const T* x, const T* g, T* out, int64_t lo, int64_t hi, uint64_t seed, uint32_t thr) {
  alignas(64) uint64_t z[kBlock / 2];
  const u32_alias* u = reinterpret_cast<const u32_alias*>(z);
  for (int64_t b = lo; b < hi; b += kBlock) {
    const int64_t m = std::min(kBlock, hi - b);
    const uint64_t base = seed + (static_cast<uint64_t>(b) >> 1) * kGolden;
#pragma omp simd
    for (int64_t j = 0; j < (m + 1) / 2; ++j) z[j] = mix64(base + static_cast<uint64_t>(j) * kGolden);
#pragma omp simd
    for (int64_t k = 0; k < m; ++k) elem<T, BWD, FULL>(x + b, BWD ? g + b : g, out + b, k, u[k] < thr);
  }
}

// ---- one call: what to compute, split into chunks -------------------------------------------------
enum Gran { kElement = 0, kToken = 1, kTensor = 2 };

struct Job {
  const void* x;
  const void* g;  // backward only
  void* out;
  int64_t n, rowlen;
  uint64_t seed, thr;
  int gran, full, bf16, backward;
  int64_t per_chunk;  // elements (element/tensor; a multiple of 16) or rows (token) per chunk
  int nchunks;
};

template <typename T, bool BWD, bool FULL>
void run_chunk_t(const Job& J, int c) {
  const T* x = static_cast<const T*>(J.x);
  const T* g = static_cast<const T*>(J.g);
  T* out = static_cast<T*>(J.out);
  if (J.gran == kToken) {
    const int64_t nrows = J.n / J.rowlen;
    const int64_t r0 = c * J.per_chunk, r1 = std::min(nrows, r0 + J.per_chunk);
    for (int64_t r = r0; r < r1; ++r)
      span_const<T, BWD, FULL>(x, g, out, r * J.rowlen, (r + 1) * J.rowlen, drawn(J.seed, r, J.thr));
    return;
  }
  const int64_t lo = c * J.per_chunk, hi = std::min(J.n, lo + J.per_chunk);
  if (J.gran == kTensor || J.thr == 0 || J.thr >= (1ULL << 32))  // one draw, or every draw the same
    span_const<T, BWD, FULL>(x, g, out, lo, hi, J.gran == kTensor ? drawn(J.seed, 0, J.thr) : J.thr != 0);
  else
    span_hashed<T, BWD, FULL>(x, g, out, lo, hi, J.seed, static_cast<uint32_t>(J.thr));
}

template <typename T>
void run_chunk_dt(const Job& J, int c) {
  if (J.backward) {
    if (J.full) run_chunk_t<T, true, true>(J, c); else run_chunk_t<T, true, false>(J, c);
  } else {
    if (J.full) run_chunk_t<T, false, true>(J, c); else run_chunk_t<T, false, false>(J, c);
  }
}

void run_chunk(const Job& J, int c) {
  if (J.bf16) run_chunk_dt<uint16_t>(J, c); else run_chunk_dt<float>(J, c);
}

void run_job(const Job& job, int nthreads) { ThreadPool<Job, run_chunk>::run(job, nthreads); }

// Chunks of >= 32K elements (below that a thread hand-off costs more than it saves), about 4 per thread
// so a late thread only ever delays a small piece.
void launch(Job job, int nthreads) {
  const int64_t units = job.gran == kToken ? job.n / job.rowlen : job.n;
  const int64_t unit_elems = job.gran == kToken ? job.rowlen : 1;
  int64_t chunks = nthreads <= 1 ? 1 : 4 * static_cast<int64_t>(nthreads);
  chunks = std::max<int64_t>(1, std::min<int64_t>(chunks, units * unit_elems / 32768));
  chunks = std::min<int64_t>(chunks, std::max<int64_t>(units, 1));
  job.per_chunk = (units + chunks - 1) / chunks;
  if (job.gran != kToken) job.per_chunk = (job.per_chunk + 15) / 16 * 16;  // chunks start on a hash block
  job.nchunks = static_cast<int>(job.per_chunk ? (units + job.per_chunk - 1) / job.per_chunk : 0);
  run_job(job, nthreads);
}

}  // namespace

extern "C" {

int sa_version() { return 1; }

// x, y: n contiguous elements (fp32, or bf16 bits when bf16 = 1) in rows of rowlen.
void sa_forward(const void* x, void* y, int64_t n, int64_t rowlen, uint64_t seed, uint64_t thr, int gran,
                int full, int bf16, int nthreads) {
  launch(Job{x, nullptr, y, n, rowlen, seed, thr, gran, full, bf16, 0, 0, 0}, nthreads);
}

void sa_backward(const void* x, const void* g, void* dx, int64_t n, int64_t rowlen, uint64_t seed,
                 uint64_t thr, int gran, int full, int bf16, int nthreads) {
  launch(Job{x, g, dx, n, rowlen, seed, thr, gran, full, bf16, 1, 0, 0}, nthreads);
}

// out[i] = hash(seed, i) < thr for i < n: the draws themselves (draw_mask, tests).
void sa_draws(uint8_t* out, int64_t n, uint64_t seed, uint64_t thr) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = drawn(seed, static_cast<uint64_t>(i), thr);
}

}  // extern "C"
