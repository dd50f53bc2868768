// SPDX-License-Identifier: MIT
#include "http_adapter.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "connection_watcher.hpp"
#include "http_framing.hpp"
#include "httplib_seam.hpp"
#include "routes.hpp"
#include "socket_stream.hpp"
#include "worker_pool.hpp"

namespace proxy {
namespace {

// ---- one client connection on a worker ----

// What the handlers need of the connection this thread serves. They run on
// the connection's thread, below process_request(), which has no room to pass it.
struct connection_state {
    std::shared_ptr<connection_link> link;
    // Set when httplib refused a request it could not read whole: the
    // connection's framing is lost, so answer and hang up rather than read on.
    bool close_after_response = false;
    // The connection's stream, to tell a body cut by its deadline from a
    // malformed one when httplib reports only that the read failed.
    const socket_stream* stream = nullptr;
};
thread_local connection_state* current_connection = nullptr;

// How long a worker waits for a next request on its connection before the
// watcher takes the connection over.
constexpr std::chrono::milliseconds next_request_grace{5};

// cpp-httplib 0.11.4 listens with a backlog of 5 (a macro baked into the .so).
constexpr int listen_backlog = 1024;

// httplib's accept loop hands each connection to its task queue. This one
// runs the hand-over on the accept thread itself: serve_connection() only
// registers the socket with the watcher, so accepting never waits.
class inline_queue final : public httplib::TaskQueue {
public:
    explicit inline_queue(std::function<void()> on_shutdown) : on_shutdown_(std::move(on_shutdown)) {}
    void enqueue(std::function<void()> fn) override { fn(); }
    void shutdown() override { on_shutdown_(); }

private:
    std::function<void()> on_shutdown_;
};

// httplib::Server whose connections go to the watcher, and a listener we can
// stop in two steps (both through the seam).
class tuned_server final : public httplib_seam::server {
public:
    explicit tuned_server(std::function<void(int)> on_accept) : on_accept_(std::move(on_accept)) {}

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
    // streams instead of letting them finish.
    void stop_accepting() {
        auto sock = listening_socket();
        if (sock != INVALID_SOCKET) ::shutdown(sock, SHUT_RDWR);
    }
    // Marks the listener gone, which cuts chunked responses still running.
    // Call after stop_accepting(); the socket itself was closed by httplib
    // when accept() failed.
    void close_connections() { forget_listening_socket(); }
    bool listener_gone() const { return listening_socket() == INVALID_SOCKET; }

    // One request from `stream`, routed and answered.
    bool serve(httplib::Stream& stream, bool close_connection, bool& connection_closed) {
        return serve_request(stream, close_connection, connection_closed);
    }
    using httplib_seam::server::keep_alive_max_count;
    using httplib_seam::server::read_timeout;
    using httplib_seam::server::write_timeout;

private:
    bool serve_connection(socket_t sock) override {
        set_socket_timeouts(sock, read_timeout(), write_timeout());
        on_accept_(sock);
        return true;
    }

    std::function<void(int)> on_accept_;
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

// `close_delimited`: an HTTP/1.0 client, which knows no chunked encoding:
// the stream's end is the connection's end.
void apply(http_response&& answer, httplib::Response& res, bool close_delimited) {
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
    auto provide = [stream, buffer](std::size_t, httplib::DataSink& sink) {
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
    };
    auto release = [stream](bool) mutable { stream->cancel(); };
    if (close_delimited) {
        res.set_content_provider(answer.content_type, std::move(provide), std::move(release));
    } else {
        res.set_chunked_content_provider(answer.content_type, std::move(provide), std::move(release));
    }
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

// The request as handlers see it, from its head alone (no body, no query).
http_request head_only_request(const request_head& head) {
    http_request request;
    request.method = std::string(head.method);
    request.path = std::string(head.path());
    request.headers.reserve(head.headers.size());
    for (const auto& [name, value] : head.headers) request.headers.emplace_back(name, value);
    return request;
}

// The client's numeric address, as httplib reports it for served requests;
// empty if the socket is already gone.
std::string peer_address(int fd) {
    sockaddr_storage addr{};
    socklen_t size = sizeof addr;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &size) != 0) return {};
    char host[NI_MAXHOST];
    if (::getnameinfo(reinterpret_cast<sockaddr*>(&addr), size, host, sizeof host, nullptr, 0, NI_NUMERICHOST) != 0)
        return {};
    return host;
}

// A whole response written by the proxy itself, outside httplib: the
// answers given before a request's body is read, always ending the connection.
std::string answer_bytes(const http_response& res, const std::string& request_id, bool head_only) {
    std::string out;
    out.reserve(256 + res.body.size());
    out.append("HTTP/1.1 ").append(std::to_string(res.status)).append(" ").append(reason_phrase(res.status));
    out.append("\r\nContent-Type: ").append(res.content_type);
    out.append("\r\nContent-Length: ").append(std::to_string(res.body.size()));
    out.append("\r\nrequest-id: ").append(request_id);
    for (const auto& [name, value] : res.headers) out.append("\r\n").append(name).append(": ").append(value);
    out.append("\r\nConnection: close\r\n\r\n");
    if (!head_only) out.append(res.body);
    return out;
}

}  // namespace

struct http_server::impl {
    impl(const config& c, service& s)
        : cfg(c),
          svc(s),
          server([this](int fd) { watcher.add(fd); }),
          workers(cfg.max_connections),
          watcher(watcher_limits(c, heads),
                  [this](std::unique_ptr<client_connection>& conn, std::size_t head_size) {
                      return on_head(conn, head_size);
                  },
                  [this](const client_connection& conn, int status) { return refusal(conn.fd, status); }) {}

    // Workers first: they hand connections back to the watcher as they finish.
    ~impl() {
        watcher.close_waiting();
        workers.shutdown();
    }

    const config& cfg;
    service& svc;
    tuned_server server;
    std::atomic<bool> draining{false};
    const head_limits heads{};  // the same wherever a head is read: watcher, screening, pipelining
    worker_pool workers;        // one thread per connection being served, up to MAX_CONNECTIONS
    connection_watcher watcher;  // last: its thread stops first

    static connection_watcher::limits watcher_limits(const config& c, const head_limits& heads) {
        connection_watcher::limits lim;
        lim.head = heads;
        lim.head_timeout = std::chrono::seconds(c.client_header_timeout_seconds);
        lim.keep_alive_timeout = std::chrono::seconds(c.keep_alive_timeout_seconds);
        return lim;
    }

    // What a request head leads to, decided before its body is read.
    struct screening {
        bool serve = false;
        request_head head;
        std::string answer;  ///< when not served: the whole response to send before closing
    };

    // The whole answer to a request refused from its head (on connection
    // `fd`), counted and logged.
    std::string refuse(int fd, const http_response& res, std::string_view method, std::string_view path) {
        const std::string route = path.empty() ? std::string() : route_label(path);
        svc.counters().observe_refusal(route, res.status);
        const std::string id = make_request_id();
        const std::string client = peer_address(fd);
        svc.settings()->log.request({id, client, method.empty() ? "-" : method, path.empty() ? "-" : path, route,
                                     res.status, {}, res.body});
        return answer_bytes(res, id, method == "HEAD");
    }

    std::string refuse(int fd, int status, const std::string& message, std::string_view method, std::string_view path,
                       header_list extra_headers = {}) {
        auto res = error_response(msgbridge::error{msgbridge::error_type_for_status(status), status, message});
        res.headers = std::move(extra_headers);
        return refuse(fd, res, method, path);
    }

    std::string refusal(int fd, int status) {
        switch (status) {
            case 408:
                return refuse(fd, 408, "the request head did not arrive within " +
                                       std::to_string(cfg.client_header_timeout_seconds) +
                                       " s (CLIENT_HEADER_TIMEOUT_SECONDS)", {}, {});
            case 431:
                return refuse(fd, 431, "the request head is larger than " + std::to_string(heads.max_head_bytes) +
                                       " bytes, or one of its lines than " + std::to_string(heads.max_line_bytes),
                              {}, {});
            default:
                return refuse(fd, 529, "the proxy is overloaded (memory for waiting request heads is exhausted); retry shortly",
                              {}, {}, {{"retry-after", "1"}});
        }
    }

    std::string body_limit_message(std::optional<std::uint64_t> size = std::nullopt) const {
        return "the request body" + (size ? " of " + std::to_string(*size) + " bytes" : std::string()) +
               " is larger than the limit of " + std::to_string(cfg.max_body_bytes) + " bytes (MAX_BODY_BYTES)";
    }

    std::string body_timeout_message() const {
        return "the request body did not arrive within " + std::to_string(cfg.client_body_timeout_seconds) +
               " s (CLIENT_BODY_TIMEOUT_SECONDS)";
    }

    screening screen(int fd, std::string_view head_text) {
        screening out;
        if (auto err = parse_request_head(head_text, heads, out.head)) {
            out.answer = refuse(fd, err->status, err->message, out.head.method, out.head.path());
            return out;
        }
        const request_head& head = out.head;
        if (head.content_length && *head.content_length > cfg.max_body_bytes) {
            out.answer = refuse(fd, 413, body_limit_message(*head.content_length), head.method, head.path());
            return out;
        }
        if (!svc.settings()->cfg.server_api_key.empty() && !svc.admits(head_only_request(head))) {
            out.answer = refuse(fd, unauthorized(head.path()), head.method, head.path());
            return out;
        }
        out.serve = true;
        return out;
    }

    // On the watcher thread: a connection whose head is here whole.
    connection_verdict on_head(std::unique_ptr<client_connection>& conn, std::size_t head_size) {
        screening s = screen(conn->fd, conn->received.view().substr(0, head_size));
        if (!s.serve) return {false, std::move(s.answer)};
        client_connection* raw = conn.release();
        if (workers.try_run([this, raw, head = s.head, head_size]() mutable {
                serve(std::unique_ptr<client_connection>(raw), std::move(head), head_size);
            }))
            return {true, {}};
        conn.reset(raw);
        return {false, answer_when_full(conn->fd, s.head)};
    }

    // Every worker is busy: /health still answers (here, on the watcher
    // thread: it needs neither the body nor the upstream); the rest get 529.
    std::string answer_when_full(int fd, const request_head& head) {
        if (head.path() == "/health" && (head.method == "GET" || head.method == "HEAD")) {
            http_request request = head_only_request(head);
            request.id = make_request_id();
            request.remote_addr = peer_address(fd);
            return answer_bytes(svc.handle(request), request.id, head.method == "HEAD");
        }
        return refuse(fd, 529, "the proxy is serving its maximum of " + std::to_string(cfg.max_connections) +
                               " connections (MAX_CONNECTIONS); retry shortly",
                      head.method, head.path(), {{"retry-after", "1"}});
    }

    // On a worker: serves the connection's requests while they arrive back
    // to back, then returns it to the watcher.
    void serve(std::unique_ptr<client_connection> conn, request_head head, std::size_t head_size) {
        socket_stream stream(conn->fd, conn->received);
        connection_state state{conn->link, false, &stream};
        current_connection = &state;
        enum class ending { wait_for_next, close, close_after_refusal } end = ending::close;
        for (;;) {
            stream.set_read_deadline(std::chrono::steady_clock::now() + std::chrono::seconds(cfg.client_body_timeout_seconds),
                                     server.read_timeout());
            if (head.chunked && !dechunk(*conn, stream, head, head_size)) {
                end = ending::close_after_refusal;
                break;
            }
            const bool last = ++conn->requests_served >= server.keep_alive_max_count() || draining;
            bool connection_closed = false;
            stream.begin_response();
            bool ok = server.serve(stream, last || !head.keep_alive, connection_closed);
            ok = stream.flush() && ok;
            stream.clear_read_deadline();
            if (state.close_after_response) end = ending::close_after_refusal;
            if (!ok || connection_closed || last || !head.keep_alive || state.close_after_response ||
                server.listener_gone())
                break;
            // A request already here (pipelined), or arriving within a moment
            // (a client sending back to back), is served on this thread: handing
            // the connection to the watcher and back costs two thread switches.
            // Anything slower waits in the watcher, holding no thread.
            head_scanner scanner;
            if (scanner.scan(conn->received.view(), heads) != head_scanner::state::complete &&
                (!stream.take_arrived(next_request_grace) ||
                 scanner.scan(conn->received.view(), heads) != head_scanner::state::complete)) {
                end = ending::wait_for_next;
                break;
            }
            head_size = scanner.head_size();
            screening next = screen(conn->fd, conn->received.view().substr(0, head_size));
            if (!next.serve) {
                send_answer(stream, next.answer);
                end = ending::close_after_refusal;
                break;
            }
            head = std::move(next.head);
        }
        current_connection = nullptr;
        switch (end) {
            case ending::wait_for_next: watcher.resume(std::move(conn)); break;
            case ending::close: watcher.release(std::move(conn)); break;
            case ending::close_after_refusal: watcher.linger(std::move(conn)); break;
        }
    }

    static bool send_answer(socket_stream& stream, std::string_view answer) {
        stream.begin_response();
        return stream.write(answer.data(), answer.size()) >= 0 && stream.flush();
    }

    // Reads a chunked body whole (within MAX_BODY_BYTES, refusing as soon as
    // it passes) and puts the request back in the buffer with a
    // Content-Length, which is all httplib then reads. False: answered, close.
    bool dechunk(client_connection& conn, socket_stream& stream, const request_head& head, std::size_t head_size) {
        if (head.expect_continue && !send_answer(stream, "HTTP/1.1 100 Continue\r\n\r\n")) return false;
        std::string rebuilt = head_without_framing(head);  // views into the buffer die as it refills
        const std::string method(head.method), path(head.path());
        conn.received.consume(head_size);
        chunked_decoder decoder(cfg.max_body_bytes);
        std::string body;
        for (;;) {
            conn.received.consume(decoder.feed(conn.received.view(), body));
            if (decoder.done()) break;
            if (decoder.failed()) {
                const auto& err = *decoder.error();
                send_answer(stream, refuse(conn.fd, err.status, err.status == 413 ? body_limit_message() : err.message, method, path));
                return false;
            }
            if (stream.fill() <= 0) {
                if (stream.deadline_passed()) send_answer(stream, refuse(conn.fd, 408, body_timeout_message(), method, path));
                return false;  // else the client left, or went silent past the read timeout
            }
        }
        rebuilt.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
        conn.received.prepend(rebuilt, body);  // what follows the body (a pipelined request) stays after it
        return true;
    }

    void install() {
        server.new_task_queue = [this] {
            return new inline_queue([this] {
                watcher.close_waiting();
                workers.shutdown();
            });
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
        server.set_read_timeout(static_cast<time_t>(cfg.client_read_timeout_seconds), 0);
        server.set_write_timeout(60, 0);
        server.set_payload_max_length(cfg.max_body_bytes);

        server.set_pre_routing_handler([](const httplib::Request&, httplib::Response& res) {
            res.set_header("request-id", make_request_id());
            return httplib::Server::HandlerResponse::Unhandled;
        });

        auto dispatch = [this](const httplib::Request& req, httplib::Response& res) {
            apply(svc.handle(to_plain(req, res)), res, req.version == "HTTP/1.0");
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
            std::string message = default_message(res.status, cfg);
            if (current_connection && current_connection->stream && current_connection->stream->deadline_passed()) {
                res.status = 408;  // httplib says 400 for any body it could not read
                message = body_timeout_message();
            }
            msgbridge::error err{msgbridge::error_type_for_status(res.status), res.status, std::move(message)};
            // httplib's own refusals (malformed request, body too large, URI
            // too long) may leave request bytes unread: close after answering.
            if (current_connection) {
                current_connection->close_after_response = true;
                res.set_header("Connection", "close");
            }
            res.set_content(msgbridge::to_json(err), "application/json");
            const std::string id = res.get_header_value("request-id");
            const std::string route = req.path.empty() ? std::string() : route_label(req.path);
            svc.counters().observe_refusal(route, res.status);
            svc.settings()->log.request({id, req.remote_addr, req.method.empty() ? "-" : req.method,
                                         req.path.empty() ? "-" : req.path, route, res.status, {}, res.body});
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
            svc.settings()->log.line(res.get_header_value("request-id") + " " + req.remote_addr + " " + req.method + " " +
                                         req.path + " internal error: " + what,
                                     log_level::error);
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

void http_server::run() { impl_->server.listen_after_bind(); }

void http_server::stop_accepting() {
    impl_->draining = true;  // requests running now are the connections' last
    impl_->watcher.close_waiting();
    impl_->server.stop_accepting();
}

void http_server::close_connections() { impl_->server.close_connections(); }

void http_server::stop() {
    stop_accepting();
    close_connections();
}

std::size_t http_server::active_connections() const { return impl_->watcher.open_connections(); }

}  // namespace proxy
