// A deterministic mock OpenAI upstream for the server tests (cpp-httplib on
// 127.0.0.1:0), plus a proxy started in-process against it and small SSE
// helpers. Nothing here reaches outside the machine; nothing waits on a
// clock except bounded safety nets that fail the test if they expire.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "config.hpp"
#include "http_adapter.hpp"
#include "proxy.hpp"
#include "upstream.hpp"

namespace mock {

// A client that vanishes must not kill the test binary (OpenSSL writes
// without MSG_NOSIGNAL).
inline const bool sigpipe_ignored = [] {
    ::signal(SIGPIPE, SIG_IGN);
    return true;
}();

// Safety net for waits: generous, and only ever a failure, never a measurement.
constexpr auto patience = std::chrono::seconds(60);

/// A latch tests open to let the mock continue: ordering without clocks.
class gate {
public:
    void open() {
        std::lock_guard<std::mutex> lock(mutex_);
        open_ = true;
        changed_.notify_all();
    }
    /// Blocks until open (or the safety net); counts waiters.
    bool wait() {
        std::unique_lock<std::mutex> lock(mutex_);
        ++waiting_;
        changed_.notify_all();
        bool ok = changed_.wait_for(lock, patience, [this] { return open_; });
        --waiting_;
        return ok;
    }
    /// Blocks until `n` callers are inside wait().
    bool wait_for_waiters(std::size_t n) {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, patience, [&] { return waiting_ >= n; });
    }
    bool is_open() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return open_;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    bool open_ = false;
    std::size_t waiting_ = 0;
};

/// What the mock saw.
struct recorded {
    std::string path;
    std::string authorization;  ///< the Authorization header, "" when absent
    std::string accept;
    std::string body;
    int remote_port = 0;  ///< the proxy's side of the connection: equal ports, reused connection
    std::vector<std::pair<std::string, std::string>> headers;  ///< every header, as received
    std::string method;  ///< POST for chat/completions, GET for the model list
};

/// What the mock answers.
struct reply {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;                   ///< non-streaming body
    std::vector<std::string> chunks;    ///< streaming: each written on its own
    std::vector<std::pair<std::string, std::string>> headers;
    bool stream = false;
    std::shared_ptr<gate> hold;         ///< streaming: wait here after chunk `hold_after` was written
    std::size_t hold_after = 0;
    bool endless = false;               ///< streaming: after the chunks, repeat `endless_chunk` until the client leaves
    std::string endless_chunk;
    bool cut_after_chunks = false;      ///< streaming: end the response without [DONE] or finish_reason
};

/// An OpenAI-compatible upstream whose answers the test scripts.
class upstream {
public:
    using handler = std::function<reply(const recorded& request, std::size_t index)>;

    explicit upstream(handler h, std::size_t threads = 32) : handler_(std::move(h)) {
        auto plain = std::make_unique<server_type<httplib::Server>>();
        close_ = [s = plain.get()] { s->close_listener(); };
        server_ = std::move(plain);
        start(threads);
    }

    /// An HTTPS upstream with the given PEM certificate and key.
    upstream(handler h, const std::string& cert_file, const std::string& key_file, std::size_t threads = 32)
        : handler_(std::move(h)) {
        auto tls = std::make_unique<server_type<httplib::SSLServer>>(cert_file.c_str(), key_file.c_str());
        close_ = [s = tls.get()] { s->close_listener(); };
        server_ = std::move(tls);
        scheme_ = "https";
        start(threads);
    }

    void start(std::size_t threads) {
        server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
        // Without it a response written in two pieces waits for the peer's delayed ACK (~40 ms).
        server_->set_tcp_nodelay(true);
        server_->Post(".*", [this](const httplib::Request& req, httplib::Response& res) { serve(req, res); });
        server_->Get(".*", [this](const httplib::Request& req, httplib::Response& res) { serve(req, res); });
        port_ = server_->bind_to_any_port("127.0.0.1");
        // 0.11.4 listens with a backlog of 5; the concurrency tests open hundreds of connections at once.
        ::listen(static_cast<int>(port_socket()), 1024);
        thread_ = std::thread([this] { server_->listen_after_bind(); });
    }
    ~upstream() { stop(); }

    void stop() {
        if (thread_.joinable()) {
            close_();
            thread_.join();
        }
    }

    int port() const { return port_; }
    std::string url() const { return scheme_ + "://127.0.0.1:" + std::to_string(port_) + "/v1/chat/completions"; }

    std::vector<recorded> requests() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return requests_;
    }
    std::vector<std::string> authorizations() const {
        std::vector<std::string> out;
        for (const auto& r : requests()) out.push_back(r.authorization);
        return out;
    }
    /// Streams whose client (the proxy) went away while the mock was still writing.
    std::size_t closed_by_client() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return closed_by_client_;
    }
    bool wait_closed_by_client(std::size_t n) {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, patience, [&] { return closed_by_client_ >= n; });
    }
    std::size_t streams_finished() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return streams_finished_;
    }

private:
    // bind_to_any_port already listens, so connections wait in the backlog
    // until listen_after_bind accepts them.
    template <class Base>
    struct server_type : Base {
        using Base::Base;
        int socket() const { return static_cast<int>(this->svr_sock_.load()); }
        // Server::stop() is lost if it comes before listen_after_bind() starts.
        void close_listener() {
            auto sock = this->svr_sock_.exchange(INVALID_SOCKET);
            if (sock != INVALID_SOCKET) {
                ::shutdown(sock, SHUT_RDWR);
                ::close(sock);
            }
        }
    };
    int port_socket() const {
        if (auto* p = dynamic_cast<server_type<httplib::Server>*>(server_.get())) return p->socket();
        if (auto* t = dynamic_cast<server_type<httplib::SSLServer>*>(server_.get())) return t->socket();
        return -1;
    }

    void serve(const httplib::Request& req, httplib::Response& res) {
        recorded r{req.path, req.get_header_value("Authorization"), req.get_header_value("Accept"), req.body,
                   req.remote_port, {req.headers.begin(), req.headers.end()}, req.method};
        std::size_t index;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            index = requests_.size();
            requests_.push_back(r);
        }
        reply answer = handler_(r, index);
        res.status = answer.status;
        for (auto& h : answer.headers) res.set_header(h.first, h.second);
        if (!answer.stream) {
            res.set_content(answer.body, answer.content_type);
            return;
        }
        auto shared = std::make_shared<reply>(std::move(answer));
        auto next = std::make_shared<std::size_t>(0);
        res.set_chunked_content_provider("text/event-stream", [this, shared, next](std::size_t, httplib::DataSink& sink) {
            auto& a = *shared;
            if (*next < a.chunks.size()) {
                const std::string& chunk = a.chunks[*next];
                if (!sink.write(chunk.data(), chunk.size())) return closed();
                ++*next;
                if (a.hold && *next == a.hold_after) a.hold->wait();
                return true;
            }
            if (a.endless) {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));  // pacing, not a measurement
                if (!sink.write(a.endless_chunk.data(), a.endless_chunk.size())) return closed();
                return true;
            }
            {
                std::lock_guard<std::mutex> lock(mutex_);
                ++streams_finished_;
            }
            if (a.cut_after_chunks) return false;  // drop the connection mid-stream
            sink.done();
            return true;
        });
    }

    bool closed() {
        std::lock_guard<std::mutex> lock(mutex_);
        ++closed_by_client_;
        changed_.notify_all();
        return false;
    }

    handler handler_;
    std::unique_ptr<httplib::Server> server_;
    std::function<void()> close_;
    std::string scheme_ = "http";
    int port_ = -1;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<recorded> requests_;
    std::size_t closed_by_client_ = 0;
    std::size_t streams_finished_ = 0;
};

// ---- OpenAI bodies ----

inline std::string completion(const std::string& content, const std::string& finish = "stop",
                              const std::string& model = "z-ai/glm4.7") {
    return R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":")" + model +
           R"(","choices":[{"index":0,"message":{"role":"assistant","content":")" + content +
           R"("},"finish_reason":")" + finish + R"("}],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}})";
}

inline std::string chunk(const std::string& delta_json, const std::string& finish = "null") {
    return R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"z-ai/glm4.7","choices":[{"index":0,"delta":)" +
           delta_json + R"(,"finish_reason":)" + finish + "}]}\n\n";
}

inline std::string usage_chunk(int prompt = 11, int completion_tokens = 7) {
    return R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"z-ai/glm4.7","choices":[],"usage":{"prompt_tokens":)" +
           std::to_string(prompt) + R"(,"completion_tokens":)" + std::to_string(completion_tokens) +
           R"(,"total_tokens":)" + std::to_string(prompt + completion_tokens) + "}}\n\n";
}

/// role chunk, one chunk per text piece, finish chunk, usage chunk, [DONE].
inline std::vector<std::string> text_stream(const std::vector<std::string>& pieces) {
    std::vector<std::string> out;
    out.push_back(chunk(R"({"role":"assistant","content":""})"));
    for (const auto& p : pieces) out.push_back(chunk(R"({"content":")" + p + R"("})"));
    out.push_back(chunk("{}", R"("stop")"));
    out.push_back(usage_chunk());
    out.push_back("data: [DONE]\n\n");
    return out;
}

inline reply json(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {}) {
    reply r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
}

inline reply sse(std::vector<std::string> chunks) {
    reply r;
    r.stream = true;
    r.chunks = std::move(chunks);
    return r;
}

// ---- the proxy, in-process ----

/// A test configuration: loopback, ephemeral port, the mock as upstream.
inline proxy::config test_config(const std::string& upstream_url, std::vector<std::string> keys = {}) {
    proxy::config cfg;
    cfg.upstream_url = upstream_url;
    cfg.keys = std::move(keys);
    cfg.addr = "127.0.0.1:0";
    cfg.listen_host = "127.0.0.1";
    cfg.listen_port = 0;
    cfg.log_body_max_chars = 512;
    return cfg;
}

/// The proxy running on its own thread; stopped and joined on destruction.
class running_proxy {
public:
    explicit running_proxy(proxy::config cfg) : cfg_(std::move(cfg)) {
        svc_ = std::make_unique<proxy::service>(cfg_, proxy::make_http_transport(proxy::upstream_settings_from(cfg_)),
                                                proxy::logger(
                                                    [this](std::string_view line) {
                                                        std::lock_guard<std::mutex> lock(log_mutex_);
                                                        log_.emplace_back(line);
                                                        log_changed_.notify_all();
                                                    },
                                                    cfg_.log_format, cfg_.log_level));
        server_ = std::make_unique<proxy::http_server>(cfg_, *svc_);
        port_ = server_->bind();
        thread_ = std::thread([this] { server_->run(); });
    }
    ~running_proxy() {
        svc_->begin_shutdown();
        server_->stop_accepting();
        svc_->abort_streams();
        server_->close_connections();
        thread_.join();
    }

    int port() const { return port_; }
    proxy::service& service() { return *svc_; }
    proxy::http_server& server() { return *server_; }

    httplib::Client client() const {
        httplib::Client c("127.0.0.1", port_);
        c.set_read_timeout(patience);
        c.set_tcp_nodelay(true);
        return c;
    }

    std::vector<std::string> log() const {
        std::lock_guard<std::mutex> lock(log_mutex_);
        return log_;
    }
    std::string log_text() const {
        std::string all;
        for (const auto& l : log()) all += l;
        return all;
    }
    /// Waits until a log line contains `text`; false if the safety net expired.
    bool wait_for_log(const std::string& text) {
        std::unique_lock<std::mutex> lock(log_mutex_);
        return log_changed_.wait_for(lock, patience, [&] {
            for (const auto& l : log_) {
                if (l.find(text) != std::string::npos) return true;
            }
            return false;
        });
    }

    /// Waits until the proxy serves exactly `n` connections; false if the safety net expired.
    bool wait_active_connections(std::size_t n) {
        const auto until = std::chrono::steady_clock::now() + patience;
        while (std::chrono::steady_clock::now() < until) {
            if (server_->active_connections() == n) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        return false;
    }

private:
    proxy::config cfg_;
    std::unique_ptr<proxy::service> svc_;
    std::unique_ptr<proxy::http_server> server_;
    int port_ = 0;
    std::thread thread_;
    mutable std::mutex log_mutex_;
    std::condition_variable log_changed_;
    std::vector<std::string> log_;
};


// ---- a raw TCP upstream, for faults an HTTP library will not produce ----

/// Listens on 127.0.0.1:0 and runs a script on every accepted connection
/// (each on its own thread). Scripts talk bytes: read_request() first, then
/// write whatever fault the test wants. stop() (or destruction) shuts every
/// socket down, which wakes any script blocked on it.
class raw_upstream {
public:
    using script = std::function<void(raw_upstream& self, int fd)>;

    /// With `listen_now` false the port is bound but refuses connections until start_listening().
    explicit raw_upstream(script s, bool listen_now = true) : script_(std::move(s)) {
        listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
            socklen_t len = sizeof addr;
            ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
            port_ = ntohs(addr.sin_port);
        }
        if (listen_now) start_listening();
    }
    void start_listening() {
        if (acceptor_.joinable() || ::listen(listener_, 64) != 0) return;
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~raw_upstream() { stop(); }

    void stop() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (stopped_) return;
            stopped_ = true;
            for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
        }
        ::shutdown(listener_, SHUT_RDWR);
        if (acceptor_.joinable()) acceptor_.join();
        ::close(listener_);
        for (auto& t : workers_) t.join();
    }

    int port() const { return port_; }
    std::string url(const std::string& scheme = "http") const {
        return scheme + "://127.0.0.1:" + std::to_string(port_) + "/v1/chat/completions";
    }
    std::size_t connections() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return accepted_;
    }
    bool wait_connections(std::size_t n) {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, patience, [&] { return accepted_ >= n; });
    }
    /// Connections whose peer (the proxy) closed them while a script waited in wait_peer_close().
    std::size_t closed_by_peer() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return closed_by_peer_;
    }
    bool wait_closed_by_peer(std::size_t n) {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, patience, [&] { return closed_by_peer_ >= n; });
    }

    /// Reads one HTTP request (headers + Content-Length body); false if the peer left first.
    static bool read_request(int fd, std::string* out = nullptr) {
        std::string data;
        char buf[16384];
        std::size_t need = std::string::npos;
        for (;;) {
            auto end = data.find("\r\n\r\n");
            if (end != std::string::npos && need == std::string::npos) {
                need = end + 4;
                std::string head = data.substr(0, end);
                for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                auto cl = head.find("content-length:");
                if (cl != std::string::npos) need += std::stoul(head.substr(cl + 15));
            }
            if (need != std::string::npos && data.size() >= need) break;
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) return false;
            data.append(buf, static_cast<std::size_t>(n));
        }
        if (out) *out = std::move(data);
        return true;
    }
    static bool send_all(int fd, std::string_view bytes) {
        while (!bytes.empty()) {
            ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    /// Blocks until the peer closes the connection (or stop(), or the safety net); counts peer closes.
    void wait_peer_close(int fd) {
        char buf[4096];
        for (;;) {
            pollfd p{fd, POLLIN, 0};
            int ready = ::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(patience).count()));
            if (ready <= 0) return;  // safety net
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n > 0) continue;  // a request we do not answer
            std::lock_guard<std::mutex> lock(mutex_);
            if (!stopped_) {
                ++closed_by_peer_;
                changed_.notify_all();
            }
            return;
        }
    }

private:
    void accept_loop() {
        for (;;) {
            int fd = ::accept(listener_, nullptr, nullptr);
            if (fd < 0) return;
            std::lock_guard<std::mutex> lock(mutex_);
            if (stopped_) {
                ::close(fd);
                return;
            }
            ++accepted_;
            changed_.notify_all();
            open_.push_back(fd);
            workers_.emplace_back([this, fd] {
                script_(*this, fd);
                std::lock_guard<std::mutex> l(mutex_);
                open_.remove(fd);
                ::close(fd);
            });
        }
    }

    script script_;
    int listener_ = -1;
    int port_ = 0;
    std::thread acceptor_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::list<std::thread> workers_;
    std::list<int> open_;
    bool stopped_ = false;
    std::size_t accepted_ = 0;
    std::size_t closed_by_peer_ = 0;
};

// ---- this process's resources, for leak checks ----

/// Open file descriptors of this process (/proc/self/fd, minus the one used to list it).
inline std::size_t open_fds() {
    std::size_t n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (dirent* e = ::readdir(d)) {
            if (e->d_name[0] != '.') ++n;
        }
        ::closedir(d);
        if (n > 0) --n;
    }
    return n;
}

/// Threads of this process (the Threads: line of /proc/self/status).
inline std::size_t thread_count() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("Threads:", 0) == 0) return std::stoul(line.substr(8));
    }
    return 0;
}

/// Resident memory of this process in KiB: `VmRSS` now, or `VmHWM`, the peak
/// since the process started or since reset_peak_rss().
inline std::size_t rss_kib(const char* field = "VmRSS:") {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind(field, 0) == 0) return std::stoul(line.substr(std::strlen(field)));
    }
    return 0;
}
inline std::size_t peak_rss_kib() { return rss_kib("VmHWM:"); }
/// Starts VmHWM again from the current RSS (Linux 4.0+).
inline void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

// ---- SSE on the client side ----

struct sse_event {
    std::string event;
    std::string data;
};

/// Splits complete SSE events out of `buffer` (the rest stays for later).
inline std::vector<sse_event> take_events(std::string& buffer) {
    std::vector<sse_event> out;
    std::size_t end;
    while ((end = buffer.find("\n\n")) != std::string::npos) {
        std::string block = buffer.substr(0, end);
        buffer.erase(0, end + 2);
        sse_event e;
        std::size_t pos = 0;
        while (pos <= block.size()) {
            auto nl = block.find('\n', pos);
            std::string line = block.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
            if (line.rfind("event: ", 0) == 0) e.event = line.substr(7);
            else if (line.rfind("data: ", 0) == 0) e.data += line.substr(6);
            if (nl == std::string::npos) break;
            pos = nl + 1;
        }
        out.push_back(std::move(e));
    }
    return out;
}

/// The result of one streamed POST.
struct stream_result {
    int status = 0;
    std::string content_type;
    httplib::Headers headers;
    std::vector<sse_event> events;
    std::string raw;
    httplib::Error error = httplib::Error::Success;
};

/// POSTs `body` and collects the SSE events; `on_event` may return false to hang up.
inline stream_result post_stream(int port, const std::string& path, const std::string& body,
                                 std::function<bool(const sse_event&)> on_event = nullptr,
                                 httplib::Headers extra = {}) {
    stream_result result;
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(patience);
    c.set_tcp_nodelay(true);
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.headers = std::move(extra);
    req.set_header("Content-Type", "application/json");
    req.body = body;
    std::string buffer;
    req.response_handler = [&](const httplib::Response& res) {
        result.status = res.status;
        result.headers = res.headers;
        result.content_type = res.get_header_value("Content-Type");
        return true;
    };
    req.content_receiver = [&](const char* data, std::size_t size, std::uint64_t, std::uint64_t) {
        result.raw.append(data, size);
        buffer.append(data, size);
        for (auto& e : take_events(buffer)) {
            result.events.push_back(e);
            if (on_event && !on_event(result.events.back())) return false;
        }
        return true;
    };
    httplib::Response res;
    c.send(req, res, result.error);
    return result;
}

inline std::vector<std::string> event_names(const std::vector<sse_event>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.event);
    return out;
}

inline std::string messages_body(bool stream, const std::string& model = "z-ai/glm4.7", int max_tokens = 256,
                                 const std::string& text = "hello") {
    return R"({"model":")" + model + R"(","max_tokens":)" + std::to_string(max_tokens) +
           (stream ? R"(,"stream":true)" : "") + R"(,"messages":[{"role":"user","content":")" + text + R"("}]})";
}

}  // namespace mock
