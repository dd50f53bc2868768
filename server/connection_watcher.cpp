// SPDX-License-Identifier: MIT
#include "connection_watcher.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace proxy {
namespace {

constexpr std::size_t read_size = 16 * 1024;
// After an error answer the client may still be sending its body: closing
// with unread bytes sends a reset, which can destroy the answer before the
// client reads it. So the watcher reads and drops what follows for a while.
constexpr auto linger_time = std::chrono::seconds(2);
constexpr std::size_t linger_max_bytes = 1 << 20;

void close_socket(int fd) {
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
}

}  // namespace

// ---- input_buffer ----

void input_buffer::consume(std::size_t n) {
    begin_ += n;
    if (begin_ >= end_) begin_ = end_ = 0;
}

char* input_buffer::room(std::size_t min_room) {
    if (capacity_ - end_ >= min_room) return data_.get() + end_;
    const std::size_t used = end_ - begin_;
    if (begin_ > 0 && capacity_ - used >= min_room) {
        std::memmove(data_.get(), data_.get() + begin_, used);
    } else {
        const std::size_t capacity = std::max(capacity_ * 2, used + min_room);
        auto grown = std::make_unique<char[]>(capacity);
        if (used > 0) std::memcpy(grown.get(), data_.get() + begin_, used);
        data_ = std::move(grown);
        capacity_ = capacity;
    }
    begin_ = 0;
    end_ = used;
    return data_.get() + end_;
}

void input_buffer::shrink_if_empty() {
    if (!empty()) return;
    data_.reset();
    capacity_ = begin_ = end_ = 0;
}

void input_buffer::prepend(std::string_view first, std::string_view second) {
    const std::size_t added = first.size() + second.size();
    const std::size_t kept = size();
    if (begin_ >= added) {
        begin_ -= added;
    } else {
        auto grown = std::make_unique<char[]>(added + kept);
        if (kept > 0) std::memcpy(grown.get() + added, data_.get() + begin_, kept);
        data_ = std::move(grown);
        capacity_ = added + kept;
        begin_ = 0;
        end_ = capacity_;
    }
    std::memcpy(data_.get() + begin_, first.data(), first.size());
    std::memcpy(data_.get() + begin_ + first.size(), second.data(), second.size());
}

// ---- connection_link ----

void connection_link::on_hangup(std::function<void()> on_gone) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (gone_) {
        lock.unlock();
        on_gone();
        return;
    }
    on_gone_ = std::move(on_gone);
}

void connection_link::clear_hangup() {
    // Taking the lock waits for a callback that is running right now.
    std::lock_guard<std::mutex> lock(mutex_);
    on_gone_ = nullptr;
}

void connection_link::hung_up() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (gone_) return;
    gone_ = true;
    if (on_gone_) {
        auto fire = std::move(on_gone_);
        on_gone_ = nullptr;
        fire();  // under the lock, so clear_hangup() cannot return while it runs
    }
}

// ---- connection_watcher ----

connection_watcher::connection_watcher(limits lim, head_handler on_head, refusal_writer refusal)
    : limits_(lim),
      on_head_(std::move(on_head)),
      refusal_(std::move(refusal)),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (epoll_ < 0 || wake_ < 0)
        throw std::runtime_error("cannot create the connection watcher: " + std::string(std::strerror(errno)));
    watch(wake_, 0, EPOLLIN, false);
    thread_ = std::thread([this] { run(); });
}

connection_watcher::~connection_watcher() {
    close_waiting();
    stopping_ = true;
    std::uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
    thread_.join();
    for (auto& [id, e] : entries_) close_socket(e.fd);  // only waiting ones can be left: workers have finished
    ::close(wake_);
    ::close(epoll_);
}

void connection_watcher::watch(int fd, std::uint64_t id, std::uint32_t events, bool modify) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    ::epoll_ctl(epoll_, modify ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
}

void connection_watcher::add(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // Nagle would hold an SSE event ~40 ms
    if (closing_waiting_) {
        close_socket(fd);
        return;
    }
    auto conn = std::make_unique<client_connection>();
    conn->fd = fd;
    std::uint64_t id;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        id = ++next_id_;
        conn->id = id;
        entry& e = entries_[id];
        e.link = conn->link;
        e.fd = fd;
        e.conn = std::move(conn);
        set_deadline(e, id, steady::now() + limits_.head_timeout);
        // Under the lock: once the watcher can see the entry it may close the
        // descriptor, and epoll_ctl must not reach a closed (or reused) one.
        watch(fd, id, EPOLLIN | EPOLLRDHUP, false);
    }
}

void connection_watcher::resume(std::unique_ptr<client_connection> conn) {
    if (closing_waiting_) {
        release(std::move(conn));
        return;
    }
    conn->received.shrink_if_empty();
    const int fd = conn->fd;
    const std::uint64_t id = conn->id;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        entry& e = entries_.at(id);
        e.state = phase::waiting;
        e.head_started = !conn->received.empty();
        e.scanner = head_scanner{};
        e.conn = std::move(conn);
        set_deadline(e, id, steady::now() + (e.head_started ? limits_.head_timeout : limits_.keep_alive_timeout));
        // Level-triggered again: bytes that arrived meanwhile are reported at
        // once. Under the lock, as in add().
        watch(fd, id, EPOLLIN | EPOLLRDHUP, true);
    }
}

void connection_watcher::release(std::unique_ptr<client_connection> conn) {
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, conn->fd, nullptr);  // before close: a reused descriptor is never mistaken for it
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = entries_.find(conn->id);
        if (it != entries_.end()) {
            clear_deadline(it->second);
            entries_.erase(it);
        }
    }
    close_socket(conn->fd);
}

void connection_watcher::linger(std::unique_ptr<client_connection> conn) {
    const int fd = conn->fd;
    const std::uint64_t id = conn->id;
    ::shutdown(fd, SHUT_WR);
    conn->received = input_buffer{};
    {
        std::lock_guard<std::mutex> lock(mutex_);
        entry& e = entries_.at(id);
        e.state = phase::lingering;
        e.counted_bytes = 0;
        e.conn = std::move(conn);
        set_deadline(e, id, steady::now() + linger_time);
        watch(fd, id, EPOLLIN | EPOLLRDHUP, true);  // under the lock, as in add()
    }
}

void connection_watcher::close_waiting() {
    closing_waiting_ = true;
    std::uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
}

std::size_t connection_watcher::open_connections() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
}

void connection_watcher::set_deadline(entry& e, std::uint64_t id, steady::time_point when) {
    if (e.has_deadline) deadlines_.erase(e.deadline);
    e.deadline = deadlines_.emplace(when, id);
    e.has_deadline = true;
}

void connection_watcher::clear_deadline(entry& e) {
    if (e.has_deadline) deadlines_.erase(e.deadline);
    e.has_deadline = false;
}

int connection_watcher::next_timeout_ms() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (deadlines_.empty()) return -1;
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadlines_.begin()->first - steady::now()).count();
    return static_cast<int>(std::clamp<long long>(wait, 0, 60000));
}

void connection_watcher::run() {
    epoll_event events[64];
    while (!stopping_) {
        int n = ::epoll_wait(epoll_, events, 64, next_timeout_ms());
        for (int i = 0; i < n; ++i) {
            // A copy: epoll_event is packed on x86-64, so its u64 may not be aligned for a reference.
            const std::uint64_t id = events[i].data.u64;
            if (id == 0) {
                std::uint64_t count;
                (void)!::read(wake_, &count, sizeof count);
                continue;
            }
            entry* e = nullptr;
            std::shared_ptr<connection_link> serving_link;
            {
                std::lock_guard<std::mutex> lock(mutex_);
                auto it = entries_.find(id);
                if (it == entries_.end()) continue;
                // A served connection belongs to its worker, which may release it any
                // moment: only its link is used here, and only under the lock's copy.
                if (it->second.state == phase::serving) serving_link = it->second.link;
                else e = &it->second;
            }
            if (serving_link) {
                serving_link->hung_up();
            } else if (e->state == phase::waiting) {
                read_head(id, *e);
            } else {
                drain(id, *e);
            }
        }
        expire_deadlines();
        if (closing_waiting_) {
            std::vector<std::uint64_t> waiting;
            {
                std::lock_guard<std::mutex> lock(mutex_);
                for (auto& [id, e] : entries_) {
                    if (e.state != phase::serving) waiting.push_back(id);
                }
            }
            for (auto id : waiting) close_entry(id);
        }
    }
}

// Waiting entries are touched only by this thread; the map's lock guards its
// structure, which add() and the workers change.
void connection_watcher::read_head(std::uint64_t id, entry& e) {
    client_connection& conn = *e.conn;
    // Read into one scratch buffer and keep only what arrived: a thousand
    // clients that each sent a few bytes hold a few kilobytes, not 16 KiB each.
    char scratch[read_size];
    for (;;) {
        ssize_t n = ::recv(e.fd, scratch, sizeof scratch, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            finish_waiting(id, e, 0);  // the client left before a request
            return;
        }
        if (n < 0) return;  // everything that arrived has been read
        const auto got = static_cast<std::size_t>(n);
        std::memcpy(conn.received.room(got), scratch, got);
        conn.received.commit(got);
        buffered_bytes_ += got;
        e.counted_bytes += got;
        if (!e.head_started) {
            e.head_started = true;
            std::lock_guard<std::mutex> lock(mutex_);
            set_deadline(e, id, steady::now() + limits_.head_timeout);
        }
        switch (e.scanner.scan(conn.received.view(), limits_.head)) {
            case head_scanner::state::complete: on_complete_head(id, e); return;
            case head_scanner::state::too_large: finish_waiting(id, e, 431); return;
            case head_scanner::state::incomplete: break;
        }
        if (buffered_bytes_ > limits_.buffered_bytes_budget) {
            finish_waiting(id, e, 529);
            return;
        }
        if (got < sizeof scratch) return;
    }
}

void connection_watcher::on_complete_head(std::uint64_t id, entry& e) {
    buffered_bytes_ -= e.counted_bytes;
    e.counted_bytes = 0;
    std::unique_ptr<client_connection> conn = std::move(e.conn);
    {
        // Serving before the handler runs: its worker may resume or release
        // the connection before the handler has even returned.
        std::lock_guard<std::mutex> lock(mutex_);
        clear_deadline(e);
        e.state = phase::serving;
    }
    watch(e.fd, id, EPOLLRDHUP | EPOLLET, true);
    const std::size_t head_size = e.scanner.head_size();
    connection_verdict verdict = on_head_(conn, head_size);
    if (verdict.taken) return;  // `e` may be gone already
    {
        std::lock_guard<std::mutex> lock(mutex_);
        e.state = phase::lingering;
        e.conn = std::move(conn);
    }
    watch(e.fd, id, EPOLLIN | EPOLLRDHUP, true);
    answer_and_linger(id, e, verdict.answer);
}

void connection_watcher::finish_waiting(std::uint64_t id, entry& e, int status) {
    buffered_bytes_ -= e.counted_bytes;
    e.counted_bytes = 0;
    std::string answer = status == 0 ? std::string() : refusal_(*e.conn, status);
    if (answer.empty()) {
        close_entry(id);
        return;
    }
    e.state = phase::lingering;
    answer_and_linger(id, e, answer);
}

void connection_watcher::answer_and_linger(std::uint64_t id, entry& e, const std::string& answer) {
    // An error answer is small and the socket's buffer empty: one
    // non-blocking send takes it whole. A client that cannot take even that
    // is not waited for.
    if (!answer.empty()) (void)!::send(e.fd, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    ::shutdown(e.fd, SHUT_WR);
    e.conn->received = input_buffer{};
    e.counted_bytes = 0;
    std::lock_guard<std::mutex> lock(mutex_);
    set_deadline(e, id, steady::now() + linger_time);
}

void connection_watcher::drain(std::uint64_t id, entry& e) {
    char sink[read_size];
    for (;;) {
        ssize_t n = ::recv(e.fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        e.counted_bytes += n > 0 ? static_cast<std::size_t>(n) : 0;
        if (n <= 0 || e.counted_bytes > linger_max_bytes) {
            e.counted_bytes = 0;
            close_entry(id);
            return;
        }
    }
}

void connection_watcher::close_entry(std::uint64_t id) {
    int fd;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = entries_.find(id);
        if (it == entries_.end()) return;
        fd = it->second.fd;
        buffered_bytes_ -= it->second.state == phase::waiting ? it->second.counted_bytes : 0;
        clear_deadline(it->second);
        entries_.erase(it);
    }
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    close_socket(fd);
}

void connection_watcher::expire_deadlines() {
    const auto now = steady::now();
    for (;;) {
        std::uint64_t id;
        entry* e;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (deadlines_.empty() || deadlines_.begin()->first > now) return;
            id = deadlines_.begin()->second;
            e = &entries_.at(id);
            clear_deadline(*e);
        }
        if (e->state == phase::waiting && e->head_started) {
            finish_waiting(id, *e, 408);
        } else {
            close_entry(id);  // an idle keep-alive connection, or the end of lingering
        }
    }
}

}  // namespace proxy
