// A fast mock of an OpenAI-compatible POST .../chat/completions upstream for
// the proxy_overhead benchmark: one canned non-streaming answer, and canned
// SSE streams of N content chunks at a set pace (one every X ms, or as fast as
// the socket takes them).
//
// It runs on raw epoll rather than cpp-httplib because cpp-httplib 0.11.4 holds
// one pool thread per connection for the connection's whole life: 1000 idle
// streams would need 1000 threads, and the direct measurement would partly
// measure thread switches in the mock. Here each of --threads event loops
// serves any number of connections.
//
// Every POST is answered as a chat completion, whatever its path.
// Usage: bench_mock_upstream [--host 127.0.0.1] [--port 0] [--port-file F]
//                            [--threads 2] [--chunks 50] [--interval-ms 0]
// A request's "model" of the form "bench:chunks=N,interval_ms=X" overrides
// --chunks/--interval-ms for that request. GET /stats answers counters as JSON.
// SPDX-License-Identifier: MIT

#include "canned.hpp"
#include "net.hpp"

#include <atomic>
#include <csignal>
#include <cstring>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <unistd.h>

namespace {

struct options {
    std::string host = "127.0.0.1";
    int port = 0;
    std::string port_file;
    int threads = 2;
    int chunks = 50;
    double interval_ms = 0;
};

std::atomic<long long> requests_total{0};
std::atomic<long long> streams_total{0};
std::atomic<long long> streams_open{0};
std::atomic<long long> streams_completed{0};

// ---- canned bytes, rendered once ----

std::string http_chunk(std::string_view payload) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", payload.size());
    std::string out(size);
    out.append(payload);
    out.append("\r\n");
    return out;
}

std::string sse_chunk(std::string_view delta, std::string_view finish_reason) {
    std::string data = "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
                       "\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"delta\":";
    data.append(delta);
    data.append(",\"finish_reason\":");
    data.append(finish_reason);
    data.append("}]}\n\n");
    return http_chunk(data);
}

struct canned {
    std::string answer;              // whole non-streaming response, keep-alive
    std::string answer_close;        // same with Connection: close
    std::string stream_head;         // response head + the role chunk
    std::string stream_head_close;
    std::string content_chunk;       // one text delta
    std::string stream_tail;         // finish chunk, usage chunk, [DONE], last chunk

    canned() {
        const std::string body = bench::canned_answer_body;
        auto head = [&](bool close) {
            return std::string("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ") +
                   std::to_string(body.size()) + (close ? "\r\nConnection: close" : "") + "\r\n\r\n";
        };
        answer = head(false) + body;
        answer_close = head(true) + body;

        const std::string role = sse_chunk("{\"role\":\"assistant\"}", "null");
        auto shead = [&](bool close) {
            return std::string("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                               "Transfer-Encoding: chunked\r\n") +
                   (close ? "Connection: close\r\n" : "") + "\r\n" + role;
        };
        stream_head = shead(false);
        stream_head_close = shead(true);
        content_chunk = sse_chunk("{\"content\":\" token\"}", "null");
        stream_tail = sse_chunk("{}", "\"stop\"");
        stream_tail += http_chunk(
            "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
            "\"model\":\"bench-model\",\"choices\":[],\"usage\":{\"prompt_tokens\":42,\"completion_tokens\":50,"
            "\"total_tokens\":92}}\n\n");
        stream_tail += http_chunk("data: [DONE]\n\n");
        stream_tail += "0\r\n\r\n";
    }
};

const canned& bytes() {
    static const canned instance;
    return instance;
}

// ---- request inspection (enough for bodies we or the proxy send) ----

/// The value of a top-level-looking boolean field such as "stream"; false when absent.
bool json_flag(std::string_view body, std::string_view quoted_name) {
    std::size_t pos = body.find(quoted_name);
    while (pos != std::string_view::npos) {
        std::size_t i = pos + quoted_name.size();
        while (i < body.size() && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t')) ++i;
        if (i < body.size() && body[i] == ':') {
            ++i;
            while (i < body.size() && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t')) ++i;
            return body.substr(i, 4) == "true";
        }
        pos = body.find(quoted_name, pos + 1);
    }
    return false;
}

/// Applies "model":"bench:chunks=N,interval_ms=X" when present.
void model_overrides(std::string_view body, int& chunks, double& interval_ms) {
    std::size_t pos = body.find("\"bench:");
    if (pos == std::string_view::npos) return;
    std::size_t end = body.find('"', pos + 1);
    std::string_view spec = body.substr(pos + 7, end == std::string_view::npos ? 0 : end - pos - 7);
    if (auto p = spec.find("chunks="); p != std::string_view::npos) {
        long long n = bench::parse_number(spec.substr(p + 7));
        if (n >= 0) chunks = int(n);
    }
    if (auto p = spec.find("interval_ms="); p != std::string_view::npos) {
        std::string value(spec.substr(p + 12));
        interval_ms = std::atof(value.c_str());
    }
}

// ---- the event loop ----

struct connection {
    int fd = -1;
    std::uint64_t id = 0;
    std::string in;
    std::string out;
    std::size_t out_sent = 0;
    bool close_after = false;  // the client asked for Connection: close
    bool want_out = false;     // EPOLLOUT registered
    bool timer_armed = false;  // a timer for next_due_us is queued
    bool streaming = false;
    int content_left = 0;
    std::int64_t interval_us = 0;
    std::int64_t next_due_us = 0;
};

struct timer {
    std::int64_t due_us;
    int fd;
    std::uint64_t id;
    bool operator>(const timer& other) const { return due_us > other.due_us; }
};

class event_loop {
public:
    event_loop(int listen_fd, const options& opts) : listen_fd_(listen_fd), opts_(opts) {
        epoll_ = epoll_create1(EPOLL_CLOEXEC);
        if (epoll_ < 0) bench::die("epoll_create1");
        epoll_event ev{};
        // Every loop waits on the one listening socket; EPOLLEXCLUSIVE wakes one of them per connection.
        ev.events = EPOLLIN | EPOLLEXCLUSIVE;
        ev.data.fd = listen_fd_;
        if (epoll_ctl(epoll_, EPOLL_CTL_ADD, listen_fd_, &ev) < 0) bench::die("epoll_ctl listen");
    }

    void run() {
        std::vector<epoll_event> events(256);
        char buffer[65536];
        for (;;) {
            int timeout = -1;
            if (!timers_.empty()) {
                std::int64_t wait = timers_.top().due_us - bench::now_us();
                timeout = wait <= 0 ? 0 : int((wait + 999) / 1000);
            }
            int n = epoll_wait(epoll_, events.data(), int(events.size()), timeout);
            if (n < 0 && errno != EINTR) bench::die("epoll_wait");
            for (int i = 0; i < n; ++i) {
                int fd = events[i].data.fd;
                if (fd == listen_fd_) {
                    accept_all();
                    continue;
                }
                connection* c = find(fd);
                if (!c) continue;
                if (events[i].events & (EPOLLERR | EPOLLHUP)) {
                    close_connection(c);
                    continue;
                }
                if (events[i].events & EPOLLIN) {
                    ssize_t got = recv(fd, buffer, sizeof buffer, 0);
                    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
                        close_connection(c);
                        continue;
                    }
                    if (got > 0) c->in.append(buffer, std::size_t(got));
                }
                if (events[i].events & EPOLLOUT) {
                    if (!flush(c)) continue;
                    if (c->streaming && !produce(c)) continue;
                }
                if (!c->streaming) handle_requests(c);
            }
            run_timers();
        }
    }

private:
    connection* find(int fd) {
        return std::size_t(fd) < conns_.size() ? conns_[std::size_t(fd)].get() : nullptr;
    }

    void accept_all() {
        for (;;) {
            int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) return;  // EAGAIN: another loop took it, or none left
            bench::set_nodelay(fd);
            if (std::size_t(fd) >= conns_.size()) conns_.resize(std::size_t(fd) * 2 + 16);
            auto c = std::make_unique<connection>();
            c->fd = fd;
            c->id = ++next_id_;
            epoll_event ev{};
            ev.events = EPOLLIN | EPOLLRDHUP;
            ev.data.fd = fd;
            if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) < 0) {
                ::close(fd);
                continue;
            }
            conns_[std::size_t(fd)] = std::move(c);
        }
    }

    void close_connection(connection* c) {
        if (c->streaming) streams_open.fetch_sub(1, std::memory_order_relaxed);
        int fd = c->fd;
        epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        conns_[std::size_t(fd)].reset();
    }

    void set_want_out(connection* c, bool want) {
        if (c->want_out == want) return;
        c->want_out = want;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u);
        ev.data.fd = c->fd;
        epoll_ctl(epoll_, EPOLL_CTL_MOD, c->fd, &ev);
    }

    /// Writes what is pending. False when the connection was closed.
    bool flush(connection* c) {
        while (c->out_sent < c->out.size()) {
            ssize_t sent = send(c->fd, c->out.data() + c->out_sent, c->out.size() - c->out_sent, MSG_NOSIGNAL);
            if (sent < 0) {
                if (errno == EAGAIN) {
                    set_want_out(c, true);
                    return true;
                }
                if (errno == EINTR) continue;
                close_connection(c);
                return false;
            }
            c->out_sent += std::size_t(sent);
        }
        c->out.clear();
        c->out_sent = 0;
        set_want_out(c, false);
        if (c->close_after && !c->streaming) {
            close_connection(c);
            return false;
        }
        return true;
    }

    bool pending(const connection* c) const { return c->out_sent < c->out.size(); }

    /// Emits stream chunks while they are due and the socket takes them, one
    /// send per chunk as a model server does. False when the connection was closed.
    bool produce(connection* c) {
        while (c->streaming && !pending(c)) {
            if (c->interval_us > 0) {
                std::int64_t now = bench::now_us();
                if (now < c->next_due_us) {
                    if (!c->timer_armed) timers_.push(timer{c->next_due_us, c->fd, c->id});
                    c->timer_armed = true;
                    return true;
                }
                c->next_due_us = now + c->interval_us;
            }
            if (c->content_left > 0) {
                c->out.append(bytes().content_chunk);
                --c->content_left;
            } else {
                c->out.append(bytes().stream_tail);
                c->streaming = false;
                streams_open.fetch_sub(1, std::memory_order_relaxed);
                streams_completed.fetch_add(1, std::memory_order_relaxed);
            }
            if (!flush(c)) return false;
        }
        if (!c->streaming && !pending(c) && !c->in.empty()) return handle_requests(c);
        return true;
    }

    void run_timers() {
        std::int64_t now = bench::now_us();
        while (!timers_.empty() && timers_.top().due_us <= now) {
            timer t = timers_.top();
            timers_.pop();
            connection* c = find(t.fd);
            if (!c || c->id != t.id) continue;
            c->timer_armed = false;
            if (c->streaming && !pending(c)) produce(c);
        }
    }

    void respond(connection* c, std::string_view bytes_out) {
        c->out.append(bytes_out);
    }

    /// Parses and answers every complete request in the input buffer.
    /// False when the connection was closed.
    bool handle_requests(connection* c) {
        for (;;) {
            if (c->streaming || pending(c)) return true;
            std::size_t head_end = c->in.find("\r\n\r\n");
            if (head_end == std::string::npos) {
                if (c->in.size() <= (1u << 20)) return true;
                close_connection(c);
                return false;
            }
            std::string_view head(c->in.data(), head_end + 2);
            long long content_length = 0;
            bool chunked = false;
            bench::for_each_header(head, [&](std::string_view name, std::string_view value) {
                if (bench::iequals(name, "content-length")) content_length = bench::parse_number(value);
                else if (bench::iequals(name, "connection") && bench::iequals(value, "close")) c->close_after = true;
                else if (bench::iequals(name, "transfer-encoding")) chunked = true;
            });
            if (chunked || content_length < 0) {
                c->close_after = true;
                respond(c, "HTTP/1.1 411 Length Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                flush(c);
                return false;
            }
            std::size_t total = head_end + 4 + std::size_t(content_length);
            if (c->in.size() < total) return true;
            std::string_view request_line(c->in.data(), c->in.find("\r\n"));
            std::string_view body(c->in.data() + head_end + 4, std::size_t(content_length));
            dispatch(c, request_line, body);
            c->in.erase(0, total);
            if (!flush(c)) return false;
            if (c->streaming && !produce(c)) return false;
        }
    }

    void dispatch(connection* c, std::string_view request_line, std::string_view body) {
        requests_total.fetch_add(1, std::memory_order_relaxed);
        std::size_t sp1 = request_line.find(' ');
        std::size_t sp2 = request_line.find(' ', sp1 + 1);
        std::string_view method = request_line.substr(0, sp1);
        std::string_view path = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
        if (std::size_t q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);

        // Any POST path: the proxy's UPSTREAM_URL decides the path, the mock does not care.
        if (method == "POST") {
            if (!json_flag(body, "\"stream\"")) {
                respond(c, c->close_after ? bytes().answer_close : bytes().answer);
                return;
            }
            int chunks = opts_.chunks;
            double interval_ms = opts_.interval_ms;
            model_overrides(body, chunks, interval_ms);
            streams_total.fetch_add(1, std::memory_order_relaxed);
            streams_open.fetch_add(1, std::memory_order_relaxed);
            respond(c, c->close_after ? bytes().stream_head_close : bytes().stream_head);
            c->streaming = true;
            c->content_left = chunks;
            c->interval_us = std::int64_t(interval_ms * 1000.0);
            c->next_due_us = bench::now_us() + c->interval_us;
            return;
        }
        if (method == "GET" && path == "/stats") {
            char json[256];
            int len = std::snprintf(json, sizeof json,
                                    "{\"requests\":%lld,\"streams\":%lld,\"streams_open\":%lld,\"streams_completed\":%lld}",
                                    requests_total.load(), streams_total.load(), streams_open.load(),
                                    streams_completed.load());
            respond(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(len) +
                           "\r\n\r\n" + std::string(json, std::size_t(len)));
            return;
        }
        if (method == "GET" && (path == "/" || path == "/health")) {
            respond(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n");
            return;
        }
        static const std::string not_found_body =
            "{\"error\":{\"message\":\"the mock upstream answers POST, GET /stats and GET /health only\","
            "\"type\":\"invalid_request_error\"}}";
        respond(c, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(not_found_body.size()) + "\r\n\r\n" + not_found_body);
    }

    int listen_fd_;
    const options& opts_;
    int epoll_ = -1;
    std::vector<std::unique_ptr<connection>> conns_;
    std::priority_queue<timer, std::vector<timer>, std::greater<timer>> timers_;
    std::uint64_t next_id_ = 0;
};

[[noreturn]] void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--host 127.0.0.1] [--port 0] [--port-file FILE] [--threads 2]\n"
                 "          [--chunks 50] [--interval-ms 0]\n",
                 argv0);
    std::exit(2);
}

options parse_options(int argc, char** argv) {
    options opts;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (i + 1 >= argc) usage(argv[0]);
        const char* value = argv[++i];
        if (arg == "--host") opts.host = value;
        else if (arg == "--port") opts.port = std::atoi(value);
        else if (arg == "--port-file") opts.port_file = value;
        else if (arg == "--threads") opts.threads = std::max(1, std::atoi(value));
        else if (arg == "--chunks") opts.chunks = std::max(0, std::atoi(value));
        else if (arg == "--interval-ms") opts.interval_ms = std::atof(value);
        else usage(argv[0]);
    }
    return opts;
}

}  // namespace

int main(int argc, char** argv) {
    const options opts = parse_options(argc, argv);
    std::signal(SIGPIPE, SIG_IGN);
    (void)bytes();

    int listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd < 0) bench::die("socket");
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(std::uint16_t(opts.port));
    if (inet_pton(AF_INET, opts.host.c_str(), &addr.sin_addr) != 1) {
        std::fprintf(stderr, "bad --host %s (IPv4 address expected)\n", opts.host.c_str());
        return 2;
    }
    if (bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) bench::die("bind");
    // A deep backlog: the load client opens hundreds of connections at once.
    if (listen(listen_fd, 4096) < 0) bench::die("listen");
    socklen_t len = sizeof addr;
    getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    const int port = ntohs(addr.sin_port);

    std::vector<std::unique_ptr<event_loop>> loops;
    for (int i = 0; i < opts.threads; ++i) loops.push_back(std::make_unique<event_loop>(listen_fd, opts));
    std::vector<std::thread> threads;
    for (int i = 1; i < opts.threads; ++i) threads.emplace_back([&loops, i] { loops[std::size_t(i)]->run(); });

    if (!opts.port_file.empty()) {
        // Written to a temporary name and renamed, so a reader never sees a partial number.
        std::string tmp = opts.port_file + ".tmp";
        if (FILE* f = std::fopen(tmp.c_str(), "w")) {
            std::fprintf(f, "%d\n", port);
            std::fclose(f);
            std::rename(tmp.c_str(), opts.port_file.c_str());
        }
    }
    std::printf("mock upstream on http://%s:%d (threads %d, %d chunks per stream, one every %g ms)\n",
                opts.host.c_str(), port, opts.threads, opts.chunks, opts.interval_ms);
    std::fflush(stdout);
    loops[0]->run();
}
