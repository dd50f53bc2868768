// SPDX-License-Identifier: MIT
#include "worker_pool.hpp"

#include <system_error>
#include <thread>

namespace proxy {

worker_pool::worker_pool(std::size_t max_jobs, std::chrono::milliseconds idle_keep)
    : max_jobs_(max_jobs == 0 ? 1 : max_jobs), idle_keep_(idle_keep) {}

worker_pool::~worker_pool() { shutdown(); }

bool worker_pool::try_run(std::function<void()> job) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (stopping_ || active_ >= max_jobs_) return false;
    ++active_;
    jobs_.push_back(std::move(job));
    if (jobs_.size() <= idle_) {
        work_.notify_one();
        return true;
    }
    ++threads_;
    try {
        std::thread(&worker_pool::worker_loop, this).detach();
    } catch (const std::system_error&) {
        // The system will not give us another thread: refuse like at the cap.
        --threads_;
        --active_;
        jobs_.pop_back();
        return false;
    }
    return true;
}

void worker_pool::worker_loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        if (jobs_.empty()) {
            ++idle_;
            bool woke = work_.wait_for(lock, idle_keep_, [this] { return !jobs_.empty() || stopping_; });
            --idle_;
            if (!woke || jobs_.empty()) break;  // idle too long, or stopping with nothing left
        }
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        job();
        job = nullptr;  // release captures before counting the job done
        lock.lock();
        --active_;
        if (active_ == 0) all_done_.notify_all();
    }
    --threads_;
    // Notified under the lock: shutdown() cannot return (and the pool cannot
    // be destroyed) until this thread has released the mutex for good.
    all_done_.notify_all();
}

void worker_pool::shutdown() {
    std::unique_lock<std::mutex> lock(mutex_);
    stopping_ = true;
    work_.notify_all();
    all_done_.wait(lock, [this] { return active_ == 0 && threads_ == 0; });
}

std::size_t worker_pool::active() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return active_;
}

std::size_t worker_pool::threads() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return threads_;
}

}  // namespace proxy
