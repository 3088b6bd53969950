// The thread pool both C++ kernels share (sparse_kernel.cpp, stochastic_kernel.cpp).
//
//   ThreadPool<Job, run_chunk>::run(job, nthreads);   // run_chunk(job, c) for c in [0, job.nchunks)
//
// A tiny pool of std::threads with *dynamic* chunk claiming. The calling thread works too and waits only
// for chunks another thread has actually claimed: a worker that the OS has not scheduled yet (2 cores
// shared with other processes) finds nothing left and goes back to sleep. An OpenMP parallel region
// instead ends in a barrier that waits for every team thread, so one descheduled thread stalls the op for
// a whole scheduler slice (the ~8 ms stalls torch's multi-threaded gather showed on this machine).
//
// ctr = (generation << 32) | chunks not yet claimed. Chunks are claimed from the top by CAS, so a thread
// holding a stale generation can never claim a chunk of a newer job. The pool lives on the heap and is
// never destroyed: workers sleep in cv.wait at exit, and destroying a condition variable with waiters
// would block the process's exit. Each kernel library gets its own pool (one instantiation per Job type).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

template <typename Job, void (*RunChunk)(const Job&, int)>
class ThreadPool {
 public:
  static void run(const Job& job, int nthreads) {
    if (nthreads <= 1 || job.nchunks <= 1) {
      for (int c = 0; c < job.nchunks; ++c) RunChunk(job, c);
      return;
    }
    State& P = state();
    std::lock_guard<std::mutex> call(P.call_mu);
    while (P.workers < nthreads - 1) {
      std::thread(worker_main).detach();
      ++P.workers;
    }
    P.job = job;
    P.done.store(0, std::memory_order_relaxed);
    uint32_t gen;
    {
      std::lock_guard<std::mutex> lk(P.mu);
      gen = ++P.gen;
      P.ctr.store((static_cast<uint64_t>(gen) << 32) | static_cast<uint32_t>(job.nchunks),
                  std::memory_order_release);
    }
    P.cv.notify_all();
    claim_and_run(P, gen);
    // Wait only for chunks that were claimed (and so are running right now).
    while (P.done.load(std::memory_order_acquire) != job.nchunks) std::this_thread::yield();
  }

 private:
  struct State {
    Job job;
    std::atomic<uint64_t> ctr{0};
    std::atomic<int> done{0};
    std::mutex mu;
    std::condition_variable cv;
    uint32_t gen = 0;
    int workers = 0;
    std::mutex call_mu;  // one parallel call at a time
  };

  static State& state() {
    static State* p = new State;
    return *p;
  }

  static void claim_and_run(State& P, uint32_t gen) {
    for (;;) {
      uint64_t v = P.ctr.load(std::memory_order_acquire);
      if (static_cast<uint32_t>(v >> 32) != gen) return;
      uint32_t left = static_cast<uint32_t>(v);
      if (left == 0) return;
      if (!P.ctr.compare_exchange_weak(v, v - 1, std::memory_order_acq_rel)) continue;
      RunChunk(P.job, static_cast<int>(left - 1));
      P.done.fetch_add(1, std::memory_order_release);
    }
  }

  static void worker_main() {
    State& P = state();
    uint32_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(P.mu);
        P.cv.wait(lk, [&] { return P.gen != seen; });
        seen = P.gen;
      }
      claim_and_run(P, seen);
    }
  }
};
