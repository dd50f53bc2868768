// Client connections while no thread serves them. One epoll thread reads
// each connection's next request head (new connections, and keep-alive ones
// between requests) and hands the connection to a worker only once the head
// is there whole. A slow or silent client therefore costs a descriptor and a
// few bytes, never a thread: thousands of them cannot stop the proxy from
// answering. The same thread watches served connections for the client's
// hang-up. No HTTP library here; the adapter decides what a head leads to.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "http_framing.hpp"
#include "http_types.hpp"

namespace proxy {

/// Bytes read from a client and not yet consumed, contiguous (a head is parsed in place).
class input_buffer {
public:
    std::string_view view() const { return {data_.get() + begin_, end_ - begin_}; }
    std::size_t size() const { return end_ - begin_; }
    bool empty() const { return begin_ == end_; }
    void consume(std::size_t n);
    /// Room for at least `min_room` more bytes at the end; fill it, then commit().
    char* room(std::size_t min_room);
    std::size_t room_size() const { return capacity_ - end_; }
    void commit(std::size_t n) { end_ += n; }
    /// Frees the memory when nothing is buffered (an idle connection keeps none).
    void shrink_if_empty();
    /// Puts `first` then `second` before what is buffered.
    void prepend(std::string_view first, std::string_view second);

private:
    std::unique_ptr<char[]> data_;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

/// A client's end of the connection as handlers see it (client_link), fired
/// by the watcher when the peer closes.
class connection_link final : public client_link {
public:
    void on_hangup(std::function<void()> on_gone) override;
    void clear_hangup() override;
    void hung_up();

private:
    std::mutex mutex_;
    std::function<void()> on_gone_;
    bool gone_ = false;
};

/// One accepted client connection.
struct client_connection {
    int fd = -1;
    std::uint64_t id = 0;  ///< the watcher's registration
    std::shared_ptr<connection_link> link = std::make_shared<connection_link>();
    input_buffer received;
    std::size_t requests_served = 0;
};

/// What to do with a connection whose head arrived (or did not in time).
struct connection_verdict {
    bool taken = false;     ///< the callback moved the connection to a worker
    std::string answer;     ///< otherwise: bytes to send (may be empty) before closing
};

class connection_watcher {
public:
    /// Called on the watcher thread with a connection whose buffer starts
    /// with a complete head of `head_size` bytes. It either moves `conn` out
    /// (to serve it; the watcher then watches it for hang-up until resume()
    /// or release()) or returns the answer to send before it is closed.
    using head_handler = std::function<connection_verdict(std::unique_ptr<client_connection>& conn, std::size_t head_size)>;
    /// The answer (maybe empty) for a connection that is closed while waiting:
    /// `status` 408 (the head did not arrive in time), 431 (too large),
    /// 503 (memory budget), 0 (idle keep-alive connection: nothing to say).
    using refusal_writer = std::function<std::string(const client_connection& conn, int status)>;

    struct limits {
        std::chrono::milliseconds head_timeout{10000};       ///< a head must arrive whole within this
        std::chrono::milliseconds keep_alive_timeout{5000};  ///< idle time before a next request starts
        head_limits head;
        std::size_t buffered_bytes_budget = std::size_t{64} << 20;  ///< all waiting heads together
    };

    connection_watcher(limits lim, head_handler on_head, refusal_writer refusal);
    ~connection_watcher();
    connection_watcher(const connection_watcher&) = delete;
    connection_watcher& operator=(const connection_watcher&) = delete;

    /// A freshly accepted socket: wait for its first head.
    void add(int fd);
    /// After a response, from the worker: wait for the connection's next head.
    void resume(std::unique_ptr<client_connection> conn);
    /// From the worker: the connection is over; closes it.
    void release(std::unique_ptr<client_connection> conn);
    /// From the worker, after an error answer sent before the request was
    /// read whole: stops sending, drops what the client still sends for a
    /// while, then closes (closing at once could reset the answer away).
    void linger(std::unique_ptr<client_connection> conn);
    /// Stops reading heads: waiting connections are closed now, and later ones at once.
    void close_waiting();

    /// Connections open: waiting for a head or being served.
    std::size_t open_connections() const;

private:
    enum class phase { waiting, serving, lingering };
    struct entry {
        phase state = phase::waiting;
        std::unique_ptr<client_connection> conn;  ///< waiting and lingering: owned here
        std::shared_ptr<connection_link> link;
        int fd = -1;
        std::multimap<std::chrono::steady_clock::time_point, std::uint64_t>::iterator deadline;
        bool has_deadline = false;
        bool head_started = false;  ///< a byte of the next head arrived: the head deadline applies
        head_scanner scanner;
        std::size_t counted_bytes = 0;  ///< of buffered_bytes_, while waiting
    };
    using steady = std::chrono::steady_clock;

    void run();
    void read_head(std::uint64_t id, entry& e);
    void on_complete_head(std::uint64_t id, entry& e);
    void finish_waiting(std::uint64_t id, entry& e, int status);
    void answer_and_linger(std::uint64_t id, entry& e, const std::string& answer);
    void drain(std::uint64_t id, entry& e);
    void close_entry(std::uint64_t id);
    void set_deadline(entry& e, std::uint64_t id, steady::time_point when);
    void clear_deadline(entry& e);
    void expire_deadlines();
    int next_timeout_ms();
    void watch(int fd, std::uint64_t id, std::uint32_t events, bool modify);

    const limits limits_;
    head_handler on_head_;
    refusal_writer refusal_;
    int epoll_ = -1;
    int wake_ = -1;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> closing_waiting_{false};
    mutable std::mutex mutex_;
    std::unordered_map<std::uint64_t, entry> entries_;
    std::multimap<steady::time_point, std::uint64_t> deadlines_;
    std::uint64_t next_id_ = 0;
    std::size_t buffered_bytes_ = 0;  ///< received by waiting connections (watcher thread only)
    std::thread thread_;
};

}  // namespace proxy
