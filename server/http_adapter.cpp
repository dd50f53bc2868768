// SPDX-License-Identifier: MIT
#include "http_adapter.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "httplib_seam.hpp"
#include "socket_stream.hpp"
#include "worker_pool.hpp"

namespace proxy {
namespace {

// ---- knowing when a client hangs up ----

// One connection's hang-up state, shared between its connection thread (the
// handler registers a callback) and the watcher thread (which fires it).
class connection_link final : public client_link {
public:
    void on_hangup(std::function<void()> on_gone) override {
        std::unique_lock<std::mutex> lock(mutex_);
        if (gone_) {
            lock.unlock();
            on_gone();
            return;
        }
        on_gone_ = std::move(on_gone);
    }
    void clear_hangup() override {
        // Taking the lock waits for a callback that is running right now.
        std::lock_guard<std::mutex> lock(mutex_);
        on_gone_ = nullptr;
    }
    void hung_up() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (gone_) return;
        gone_ = true;
        if (on_gone_) {
            auto fire = std::move(on_gone_);
            on_gone_ = nullptr;
            fire();  // under the lock, so clear_hangup() cannot return while it runs
        }
    }

private:
    std::mutex mutex_;
    std::function<void()> on_gone_;
    bool gone_ = false;
};

// One epoll thread watches every client socket for the peer's close
// (EPOLLRDHUP), so a handler blocked on the upstream learns of it at once.
// cpp-httplib 0.11.4 notices a departed client only when it next writes, and
// a non-streaming request writes nothing until the upstream has answered.
// Registering is edge-triggered and once per connection, not per request.
class hangup_watcher {
public:
    hangup_watcher() : epoll_(::epoll_create1(EPOLL_CLOEXEC)), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
        if (epoll_ < 0 || wake_ < 0) throw std::runtime_error("cannot create the client hang-up watcher: " + std::string(std::strerror(errno)));
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = 0;
        ::epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &ev);
        thread_ = std::thread([this] { run(); });
    }
    ~hangup_watcher() {
        stopping_ = true;
        std::uint64_t one = 1;
        (void)!::write(wake_, &one, sizeof one);
        thread_.join();
        ::close(wake_);
        ::close(epoll_);
    }
    hangup_watcher(const hangup_watcher&) = delete;
    hangup_watcher& operator=(const hangup_watcher&) = delete;

    struct registration {
        std::uint64_t id = 0;
        std::shared_ptr<connection_link> link;
    };

    registration attach(int fd) {
        registration r{0, std::make_shared<connection_link>()};
        {
            std::lock_guard<std::mutex> lock(mutex_);
            r.id = ++next_id_;
            links_.emplace(r.id, r.link);
        }
        epoll_event ev{};
        ev.events = EPOLLRDHUP | EPOLLET;  // EPOLLHUP and EPOLLERR come regardless
        ev.data.u64 = r.id;
        if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            // Without a watch the connection still works; it just learns late.
            std::lock_guard<std::mutex> lock(mutex_);
            links_.erase(r.id);
            r.id = 0;
        }
        return r;
    }

    // Before the socket is closed, so a reused descriptor is never mistaken for it.
    void detach(const registration& r, int fd) {
        if (r.id == 0) return;
        ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
        std::lock_guard<std::mutex> lock(mutex_);
        links_.erase(r.id);
    }

private:
    void run() {
        epoll_event events[64];
        while (!stopping_) {
            int n = ::epoll_wait(epoll_, events, 64, -1);
            for (int i = 0; i < n; ++i) {
                // A copy: epoll_event is packed on x86-64, so its u64 may not be
                // aligned for the reference find() would bind to it.
                const std::uint64_t id = events[i].data.u64;
                if (id == 0) continue;  // the wake-up: stopping_ is checked above
                std::shared_ptr<connection_link> link;
                {
                    std::lock_guard<std::mutex> lock(mutex_);
                    auto it = links_.find(id);
                    if (it != links_.end()) link = it->second;
                }
                if (link) link->hung_up();
            }
        }
    }

    int epoll_;
    int wake_;
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    std::unordered_map<std::uint64_t, std::shared_ptr<connection_link>> links_;
    std::uint64_t next_id_ = 0;
    std::thread thread_;
};

// ---- one client connection ----

// What the handlers need of the connection this thread serves. They run on
// the connection's thread, below process_request(), which has no room to pass it.
struct connection_state {
    std::shared_ptr<connection_link> link;
    // Set when httplib refused a request it could not read whole: the
    // connection's framing is lost, so answer and hang up rather than read on.
    bool close_after_response = false;
};
thread_local connection_state* current_connection = nullptr;

// ---- connections beyond the cap ----

// A connection beyond MAX_CONNECTIONS runs on the small overflow crew with
// this flag set, and gets a 529 instead of waiting behind busy workers.
thread_local bool refusing_connection = false;

constexpr std::size_t overflow_threads = 16;
// cpp-httplib 0.11.4 listens with a backlog of 5 (a macro baked into the .so).
constexpr int listen_backlog = 1024;

class connection_queue final : public httplib::TaskQueue {
public:
    connection_queue(std::size_t max_connections, std::atomic<std::size_t>& refused)
        : main_(max_connections), overflow_(overflow_threads), refused_(refused) {}

    void enqueue(std::function<void()> fn) override {
        if (main_.try_run(fn)) return;
        ++refused_;
        std::function<void()> refuse = [fn] {
            refusing_connection = true;
            fn();
            refusing_connection = false;
        };
        if (overflow_.try_run(refuse)) return;
        // Even the overflow crew is busy: answer on the accept thread. The
        // refusal is written before the request body is read, so this is short.
        refuse();
    }

    void shutdown() override {
        main_.shutdown();
        overflow_.shutdown();
    }

    std::size_t active() const { return main_.active(); }

private:
    worker_pool main_;
    worker_pool overflow_;
    std::atomic<std::size_t>& refused_;
};

// httplib::Server with our own per-connection loop and a listener we can
// stop in two steps (both through the seam).
class tuned_server final : public httplib_seam::server {
public:
    tuned_server() : wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
        if (wake_ < 0) throw std::runtime_error("cannot create an eventfd: " + std::string(std::strerror(errno)));
    }
    ~tuned_server() override { ::close(wake_); }

    // 0.11.4 has no setter for the backlog, but listen() on a listening socket updates it.
    void raise_backlog(int backlog) {
        auto sock = listening_socket();
        if (sock != INVALID_SOCKET) ::listen(sock, backlog);
    }
    // Stops accept() without closing the socket: httplib then closes it
    // itself and waits for its connections. Server::stop() is no use here:
    // it is lost if called before listen_after_bind() has started, and it
    // cuts every chunked response at once (0.11.4's chunked writer stops as
    // soon as the listening socket is invalid), which would break running
    // streams instead of letting them finish. Idle keep-alive connections
    // close now; a request in progress finishes (with Connection: close).
    void stop_accepting() {
        draining_ = true;
        wake_idle_connections();
        auto sock = listening_socket();
        if (sock != INVALID_SOCKET) ::shutdown(sock, SHUT_RDWR);
    }
    // Marks the listener gone, which cuts chunked responses still running.
    // Call after stop_accepting(); the socket itself was closed by httplib
    // when accept() failed.
    void close_connections() {
        draining_ = true;
        forget_listening_socket();
        wake_idle_connections();
    }

private:
    void wake_idle_connections() {
        std::uint64_t one = 1;  // never read back: the eventfd stays readable, every idle poll wakes
        (void)!::write(wake_, &one, sizeof one);
    }

    // The keep-alive loop of 0.11.4's process_server_socket, minus its 10 ms
    // polling while idle: a stop wakes idle connections through wake_.
    bool serve_connection(socket_t sock) override {
        auto watch = watcher_.attach(sock);
        connection_state state{watch.link};
        current_connection = &state;
        socket_stream stream(sock);
        stream.set_timeouts(read_timeout(), write_timeout());
        int one = 1;
        ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // Nagle would hold an SSE event ~40 ms
        bool ok = false;
        for (std::size_t left = keep_alive_max_count(); left > 0; --left) {
            if (listening_socket() == INVALID_SOCKET) break;
            if (!stream.wait_for_request(keep_alive_timeout(), wake_)) break;
            bool connection_closed = false;
            stream.begin_response();
            ok = serve_request(stream, left == 1 || draining_, connection_closed);
            ok = stream.flush() && ok;
            if (!ok || connection_closed || draining_ || state.close_after_response) break;
        }
        current_connection = nullptr;
        watcher_.detach(watch, sock);
        ::shutdown(sock, SHUT_RDWR);
        ::close(sock);
        return ok;
    }

    int wake_;
    std::atomic<bool> draining_{false};
    hangup_watcher watcher_;
};

http_request to_plain(const httplib::Request& req, const httplib::Response& res) {
    http_request out;
    out.id = res.get_header_value("request-id");
    out.method = req.method;
    out.path = req.path;
    auto q = req.target.find('?');
    if (q != std::string::npos) out.query = req.target.substr(q + 1);
    out.headers.reserve(req.headers.size());
    for (const auto& h : req.headers) out.headers.emplace_back(h.first, h.second);
    out.body = httplib_seam::take_body(req);
    out.remote_addr = req.remote_addr;
    if (current_connection) out.client = current_connection->link;
    return out;
}

void apply(http_response&& answer, httplib::Response& res) {
    res.status = answer.status;
    for (auto& h : answer.headers) res.set_header(h.first, h.second);
    if (!answer.stream) {
        res.set_content(std::move(answer.body), answer.content_type);
        return;
    }
    std::shared_ptr<body_stream> stream(std::move(answer.stream));
    auto buffer = std::make_shared<std::string>();
    // Runs on the client's connection thread. It blocks in next() until the
    // upstream produced something (or a ping is due) and writes once per
    // wake-up: 0.11.4 spins if a provider returns true without writing, and
    // each sink.write is a syscall.
    res.set_chunked_content_provider(
        answer.content_type,
        [stream, buffer](std::size_t, httplib::DataSink& sink) {
            for (;;) {
                buffer->clear();
                bool more = stream->next(*buffer);
                if (!buffer->empty()) {
                    if (!sink.is_writable() || !sink.write(buffer->data(), buffer->size())) {
                        stream->cancel();  // the client has gone: stop spending upstream quota
                        return false;
                    }
                }
                if (!more) {
                    sink.done();
                    return true;
                }
                if (!buffer->empty()) return true;
            }
        },
        [stream](bool) mutable { stream->cancel(); });
}

std::string default_message(int status, const config& cfg) {
    switch (status) {
        case 400: return "malformed HTTP request";
        case 404: return "not found";
        case 413:
            return "request body is larger than the limit of " + std::to_string(cfg.max_body_bytes) +
                   " bytes (MAX_BODY_BYTES)";
        case 414: return "request URI too long";
        case 416: return "range not satisfiable";
        default: return "HTTP error " + std::to_string(status);
    }
}

}  // namespace

struct http_server::impl {
    impl(const config& c, service& s) : cfg(c), svc(s) {}

    const config& cfg;
    service& svc;
    tuned_server server;
    std::atomic<std::size_t> refused{0};
    std::atomic<connection_queue*> queue{nullptr};

    void install() {
        server.new_task_queue = [this] {
            auto* q = new connection_queue(cfg.max_connections, refused);
            queue = q;
            return q;
        };
        server.set_tcp_nodelay(true);  // Nagle would hold a small SSE event back ~40 ms
        // httplib's default options add SO_REUSEPORT, with which a second
        // instance on the same address starts and silently takes half the
        // connections. SO_REUSEADDR alone still allows a restart at once.
        server.set_socket_options([](socket_t sock) {
            int one = 1;
            ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        });
        server.set_keep_alive_max_count(1000);
        server.set_keep_alive_timeout(static_cast<time_t>(cfg.keep_alive_timeout_seconds));
        server.set_read_timeout(static_cast<time_t>(cfg.client_read_timeout_seconds), 0);
        server.set_write_timeout(60, 0);
        server.set_payload_max_length(cfg.max_body_bytes);

        server.set_pre_routing_handler([this](const httplib::Request&, httplib::Response& res) {
            res.set_header("request-id", make_request_id());
            if (!refusing_connection) return httplib::Server::HandlerResponse::Unhandled;
            auto err = msgbridge::make_error(
                msgbridge::error_type::overloaded_error,
                "the proxy is serving its maximum of " + std::to_string(cfg.max_connections) +
                    " connections (MAX_CONNECTIONS); retry shortly");
            res.status = err.http_status;
            svc.log().line(res.get_header_value("request-id") + " refused: " + std::to_string(cfg.max_connections) +
                           " connections already open (MAX_CONNECTIONS)");
            res.set_header("Connection", "close");
            res.set_header("retry-after", "1");
            res.set_content(msgbridge::to_json(err), "application/json");
            return httplib::Server::HandlerResponse::Handled;
        });

        auto dispatch = [this](const httplib::Request& req, httplib::Response& res) {
            apply(svc.handle(to_plain(req, res)), res);
        };
        server.Get(".*", dispatch);
        server.Post(".*", dispatch);
        server.Put(".*", dispatch);
        server.Patch(".*", dispatch);
        server.Delete(".*", dispatch);
        server.Options(".*", dispatch);

        // Statuses httplib produces itself (413, 400, …) get the Anthropic shape too.
        server.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
            if (!res.has_header("request-id")) res.set_header("request-id", make_request_id());
            if (httplib_seam::has_content(res))
                return httplib::Server::HandlerResponse::Unhandled;
            msgbridge::error err{msgbridge::error_type_for_status(res.status), res.status,
                                 default_message(res.status, cfg)};
            // httplib's own refusals (malformed request, body too large, URI
            // too long) may leave request bytes unread: close after answering.
            if (current_connection) {
                current_connection->close_after_response = true;
                res.set_header("Connection", "close");
            }
            res.set_content(msgbridge::to_json(err), "application/json");
            svc.log().line(res.get_header_value("request-id") + " " + (req.method.empty() ? "-" : req.method) + " " +
                           (req.path.empty() ? "-" : req.path) + " status=" + std::to_string(res.status) +
                           " error=" + res.body);
            return httplib::Server::HandlerResponse::Handled;
        }));
        server.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
            std::string what = "unknown exception";
            try {
                if (ep) std::rethrow_exception(ep);
            } catch (const std::exception& e) {
                what = e.what();
            } catch (...) {
            }
            svc.log().line(res.get_header_value("request-id") + " " + req.method + " " + req.path +
                           " internal error: " + what);
            auto err = msgbridge::make_error(msgbridge::error_type::api_error, "internal proxy error: " + what);
            res.status = err.http_status;
            res.set_content(msgbridge::to_json(err), "application/json");
        });
    }
};

http_server::http_server(const config& cfg, service& svc) : impl_(std::make_unique<impl>(cfg, svc)) {
    impl_->install();
}

http_server::~http_server() = default;

int http_server::bind() {
    const auto& cfg = impl_->cfg;
    int port = cfg.listen_port;
    if (port == 0) {
        port = impl_->server.bind_to_any_port(cfg.listen_host);
        if (port < 0) port = 0;
    } else if (!impl_->server.bind_to_port(cfg.listen_host, port)) {
        port = 0;
    }
    if (port == 0)
        throw std::runtime_error("ADDR: cannot listen on " + cfg.addr + ": " + std::strerror(errno) +
                                 " (another process on that port, or not an address of this machine)");
    impl_->server.raise_backlog(listen_backlog);
    return port;
}

void http_server::run() {
    impl_->server.listen_after_bind();
    impl_->queue = nullptr;  // httplib deleted it once every connection finished
}

void http_server::stop_accepting() { impl_->server.stop_accepting(); }

void http_server::close_connections() { impl_->server.close_connections(); }

void http_server::stop() {
    stop_accepting();
    close_connections();
}

std::size_t http_server::active_connections() const {
    auto* q = impl_->queue.load();
    return q ? q->active() : 0;
}

}  // namespace proxy
