// SPDX-License-Identifier: MIT
#include "http_adapter.hpp"

#include <sys/socket.h>

#include <atomic>
#include <stdexcept>

#include <httplib.h>

#include "worker_pool.hpp"

namespace proxy {
namespace {

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

// Only to reach the listening socket: 0.11.4 has no setter for the backlog,
// but listen() on a listening socket updates it.
class tuned_server final : public httplib::Server {
public:
    void raise_backlog(int backlog) {
        auto sock = svr_sock_.load();
        if (sock != INVALID_SOCKET) ::listen(sock, backlog);
    }
    // Stops accept() without closing the socket: httplib then closes it
    // itself and waits for its connections. Server::stop() is no use here:
    // it is lost if called before listen_after_bind() has started, and it
    // cuts every chunked response at once (0.11.4's chunked writer stops as
    // soon as the listening socket is invalid), which would break running
    // streams instead of letting them finish.
    void stop_accepting() {
        auto sock = svr_sock_.load();
        if (sock != INVALID_SOCKET) ::shutdown(sock, SHUT_RDWR);
    }
    // Marks the listener gone: idle keep-alive connections end and chunked
    // responses still running are cut. Call after stop_accepting(); the
    // socket itself was closed by httplib when accept() failed.
    void close_connections() { svr_sock_.exchange(INVALID_SOCKET); }
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
    out.body = req.body;
    out.remote_addr = req.remote_addr;
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
            if (!res.body.empty() || res.is_chunked_content_provider_ || res.content_provider_)
                return httplib::Server::HandlerResponse::Unhandled;
            msgbridge::error err{msgbridge::error_type_for_status(res.status), res.status,
                                 default_message(res.status, cfg)};
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
        throw std::runtime_error("ADDR: cannot listen on " + cfg.addr + " (address in use, or not an address of this machine)");
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
