// The cpp-httplib 0.11.4 internals the server relies on (server/httplib_seam.hpp),
// one test each: when the pinned version changes, these say what broke.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "httplib_seam.hpp"
#include "socket_stream.hpp"
#include "support/mock_upstream.hpp"

namespace {

using namespace std::chrono_literals;

// A seam server whose connection loop the test chooses, listening on an
// ephemeral loopback port for the test's lifetime.
class seam_server final : public proxy::httplib_seam::server {
public:
    using handler = std::function<bool(seam_server&, socket_t)>;
    explicit seam_server(handler serve) : serve_(std::move(serve)) {}
    ~seam_server() override { stop_listening(); }

    int start() {
        port_ = bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { listen_after_bind(); });
        // 0.11.4's stop() does nothing until the listening loop runs.
        for (int i = 0; i < 10000 && !is_running(); ++i) std::this_thread::sleep_for(1ms);
        return port_;
    }
    void stop_listening() {
        if (!thread_.joinable()) return;
        stop();
        thread_.join();
    }

    using proxy::httplib_seam::server::forget_listening_socket;
    using proxy::httplib_seam::server::keep_alive_max_count;
    using proxy::httplib_seam::server::keep_alive_timeout;
    using proxy::httplib_seam::server::listening_socket;
    using proxy::httplib_seam::server::read_timeout;
    using proxy::httplib_seam::server::serve_request;
    using proxy::httplib_seam::server::write_timeout;

    std::atomic<int> connections{0};

private:
    bool serve_connection(socket_t sock) override {
        ++connections;
        const bool ok = serve_(*this, sock);
        ::shutdown(sock, SHUT_RDWR);
        ::close(sock);
        return ok;
    }

    handler serve_;
    int port_ = 0;
    std::thread thread_;
};

// One request on our socket stream, answered by httplib's routing; then close.
bool serve_one_request(seam_server& self, socket_t sock) {
    proxy::input_buffer received;
    proxy::socket_stream stream(sock, received);
    proxy::set_socket_timeouts(sock, 5s, 5s);
    bool closed = false;
    stream.begin_response();
    const bool ok = self.serve_request(stream, true, closed);
    return stream.flush() && ok;
}

int connect_loopback(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    timeval patience{10, 0};  // a broken seam fails the test instead of hanging it
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
    return fd;
}

// Everything the peer sends until it closes (or the receive timeout).
std::string read_all(int fd) {
    std::string out;
    char buffer[4096];
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) out.append(buffer, static_cast<std::size_t>(n));
    return out;
}

bool send_all(int fd, std::string_view bytes) {
    return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

}  // namespace

TEST_CASE("httplib seam: the pinned version is the installed one", "[server][seam]") {
    CHECK(std::string(CPPHTTPLIB_VERSION) == "0.11.4");
}

TEST_CASE("httplib seam: every accepted connection reaches serve_connection (process_and_close_socket)",
          "[server][seam]") {
    seam_server server([](seam_server&, socket_t) { return true; });
    const int port = server.start();
    REQUIRE(port > 0);
    for (int i = 0; i < 3; ++i) {
        int fd = connect_loopback(port);
        REQUIRE(fd >= 0);
        CHECK(read_all(fd).empty());  // the hook closed it without a word
        ::close(fd);
    }
    CHECK(server.connections == 3);
}

TEST_CASE("httplib seam: serve_request reads one request from a Stream and answers it (process_request)",
          "[server][seam]") {
    seam_server server(serve_one_request);
    server.Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
        res.set_content(proxy::httplib_seam::take_body(req), "text/plain");
    });
    const int port = server.start();
    int fd = connect_loopback(port);
    REQUIRE(fd >= 0);
    REQUIRE(send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"));
    const std::string answer = read_all(fd);
    ::close(fd);
    CHECK(answer.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(answer.find("\r\n\r\nhello") != std::string::npos);
    CHECK(answer.find("Connection: close") != std::string::npos);  // close_connection was honoured
}

TEST_CASE("httplib seam: listening_socket is the bound listener (svr_sock_)", "[server][seam]") {
    seam_server server([](seam_server&, socket_t) { return true; });
    CHECK(server.listening_socket() == INVALID_SOCKET);
    const int port = server.start();
    REQUIRE(port > 0);
    const socket_t sock = server.listening_socket();
    REQUIRE(sock != INVALID_SOCKET);
    sockaddr_in addr{};
    socklen_t length = sizeof addr;
    REQUIRE(::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &length) == 0);
    CHECK(ntohs(addr.sin_port) == port);
}

TEST_CASE("httplib seam: forgetting the listener ends running chunked responses", "[server][seam]") {
    std::atomic<int> chunks{0};
    auto first_chunk_sent = std::make_shared<mock::gate>();
    seam_server server(serve_one_request);
    server.Get("/stream", [&](const httplib::Request&, httplib::Response& res) {
        res.set_chunked_content_provider("text/plain", [&, first_chunk_sent](std::size_t, httplib::DataSink& sink) {
            const int n = ++chunks;
            sink.write("tick\n", 5);
            if (n == 1) first_chunk_sent->open();
            std::this_thread::sleep_for(20ms);
            return n < 500;  // a safety net: the writer must stop long before
        });
    });
    const int port = server.start();
    int fd = connect_loopback(port);
    REQUIRE(fd >= 0);
    REQUIRE(send_all(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
    REQUIRE(first_chunk_sent->wait());
    const socket_t listener = server.listening_socket();
    server.forget_listening_socket();
    const std::string answer = read_all(fd);
    ::close(fd);
    // stop() no longer reaches a forgotten listener: end its accept() as the
    // server's stop_accepting() does, or the listening thread never returns.
    ::shutdown(listener, SHUT_RDWR);
    CHECK(answer.find("tick") != std::string::npos);
    CHECK(answer.find("\r\n0\r\n\r\n") == std::string::npos);  // cut, not finished
    CHECK(chunks < 10);
}

TEST_CASE("httplib seam: the timeout and keep-alive setters land in the members the seam reads",
          "[server][seam]") {
    seam_server server([](seam_server&, socket_t) { return true; });
    server.set_read_timeout(7, 5);
    server.set_write_timeout(11, 0);
    server.set_keep_alive_max_count(42);
    server.set_keep_alive_timeout(9);
    CHECK(server.read_timeout() == 7s + 5us);
    CHECK(server.write_timeout() == 11s);
    CHECK(server.keep_alive_max_count() == 42);
    CHECK(server.keep_alive_timeout() == 9s);
}

TEST_CASE("httplib seam: has_content sees a body and both kinds of provider", "[server][seam]") {
    httplib::Response empty;
    CHECK_FALSE(proxy::httplib_seam::has_content(empty));
    httplib::Response body;
    body.set_content("x", "text/plain");
    CHECK(proxy::httplib_seam::has_content(body));
    httplib::Response chunked;
    chunked.set_chunked_content_provider("text/plain", [](std::size_t, httplib::DataSink&) { return false; });
    CHECK(proxy::httplib_seam::has_content(chunked));
    httplib::Response sized;
    sized.set_content_provider(1, "text/plain", [](std::size_t, std::size_t, httplib::DataSink&) { return false; });
    CHECK(proxy::httplib_seam::has_content(sized));
}

TEST_CASE("httplib seam: a guarded connect runs the hook before connect() (set_socket_options)",
          "[server][seam]") {
    seam_server server([](seam_server&, socket_t) { return true; });
    server.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
    const int port = server.start();

    SECTION("cancelled: the connect fails at once and the server sees no connection") {
        httplib::Client client("127.0.0.1", port);
        std::atomic<int> asked{0};
        proxy::httplib_seam::guard_connect(client, [&] {
            ++asked;
            return true;
        });
        auto res = client.Get("/");
        CHECK_FALSE(res);
        CHECK(res.error() == httplib::Error::Connection);
        CHECK(asked == 1);
        std::this_thread::sleep_for(50ms);
        CHECK(server.connections == 0);
    }
    SECTION("not cancelled: the hook is asked and the request goes through") {
        httplib::Client client("127.0.0.1", port);
        std::atomic<int> asked{0};
        proxy::httplib_seam::guard_connect(client, [&] {
            ++asked;
            return false;
        });
        (void)client.Get("/");  // the test's serve_connection answers nothing; the connect is what counts
        CHECK(asked == 1);
        CHECK(server.connections == 1);
        proxy::httplib_seam::clear_connect_guard(client);
        (void)client.Get("/");
        CHECK(asked == 1);
    }
}
