// Threads for inbound connections: one per connection, started at once.
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

namespace proxy {

/// Runs each job on its own thread at once, up to `max_jobs` at a time.
///
/// cpp-httplib hands a connection to its task queue for the connection's
/// whole life (keep-alive idle time included), and its default pool of
/// max(8, cores-1) workers queues the next connection behind busy ones: with
/// eight Claude Code streams open, a ninth session waits. Here a job never
/// waits for another: an idle thread takes it, or a new thread starts. Idle
/// threads are kept for `idle_keep` and then exit, so a burst does not pin
/// memory. Beyond `max_jobs`, try_run() refuses and the caller answers
/// "overloaded" instead of queueing.
class worker_pool {
public:
    explicit worker_pool(std::size_t max_jobs,
                         std::chrono::milliseconds idle_keep = std::chrono::seconds(30));
    ~worker_pool();

    worker_pool(const worker_pool&) = delete;
    worker_pool& operator=(const worker_pool&) = delete;

    /// Starts `job` now; false (job not run) when `max_jobs` are running.
    bool try_run(std::function<void()> job);

    /// Waits for every job to finish and every thread to exit.
    void shutdown();

    /// Jobs running or about to run.
    std::size_t active() const;
    /// Threads alive (running or idle).
    std::size_t threads() const;

private:
    void worker_loop();

    const std::size_t max_jobs_;
    const std::chrono::milliseconds idle_keep_;
    mutable std::mutex mutex_;
    std::condition_variable work_;
    std::condition_variable all_done_;
    std::deque<std::function<void()>> jobs_;
    std::size_t active_ = 0;
    std::size_t idle_ = 0;
    std::size_t threads_ = 0;
    bool stopping_ = false;
};

}  // namespace proxy
