// The proxy exposed to hostile clients: bodies that try to exhaust memory,
// framing that tries to smuggle a request, clients too slow to ever finish,
// and more of them than there are threads. Every answer is checked, memory
// is measured around the attacks, and nothing here waits on the clock
// except bounded safety nets.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/anthropic_stream_accumulator.hpp"
#include "support/mock_upstream.hpp"
#include "support/raw_client.hpp"

namespace {

using mock::raw_client;

mock::reply normal_answer(const mock::recorded& r) {
    if (r.body.find(R"("stream":true)") != std::string::npos) return mock::sse(mock::text_stream({"ser", "ved"}));
    return mock::json(200, mock::completion("served"));
}

proxy::config hardening_config(const std::string& url) {
    auto cfg = mock::test_config(url, {"nvapi-hardening-test-key-00000001"});
    cfg.max_body_bytes = 1 << 20;
    cfg.log_body_max_chars = 0;
    return cfg;
}

std::string head_for(const std::string& framing, const std::string& extra = {}) {
    return "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + framing + extra +
           "\r\n";
}

// Sends `total` bytes of chunked body in 64 KiB chunks on another thread
// until done or the proxy stops taking them; the answer is read meanwhile.
struct chunked_flood {
    chunked_flood(raw_client& c, std::size_t total) {
        sender = std::thread([&c, total, this] {
            const std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
            for (std::size_t sent = 0; sent < total; sent += 0x10000) {
                if (!c.send(chunk)) return;
                sent_bytes = sent + 0x10000;
            }
            c.send("0\r\n\r\n");
        });
    }
    ~chunked_flood() { sender.join(); }
    std::thread sender;
    std::atomic<std::size_t> sent_bytes{0};
};

std::string status_line(const std::string& answer) { return answer.substr(0, answer.find("\r\n")); }

// Sends `at_once`, then `trickled` one byte every 50 ms until the proxy
// answers; checks that it answered before the last byte and closed. The answer.
std::string trickled_until_answered(int port, const std::string& at_once, const std::string& trickled) {
    raw_client c(port);
    if (!at_once.empty()) REQUIRE(c.send(at_once));
    std::size_t sent = 0;
    for (; sent < trickled.size(); ++sent) {
        if (!c.send(trickled.substr(sent, 1))) break;
        pollfd p{c.fd(), POLLIN, 0};
        if (::poll(&p, 1, 50) > 0) break;  // the proxy answered
    }
    CHECK(sent < trickled.size());
    bool closed = false;
    std::string answer = c.read_until_closed(closed);
    CHECK(closed);
    return answer;
}

// Raises this process's descriptor limit to its hard limit; returns the limit.
std::size_t raise_fd_limit() {
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
    return static_cast<std::size_t>(lim.rlim_cur);
}

}  // namespace

TEST_CASE("hardening: a chunked body is refused with 413 as soon as it passes MAX_BODY_BYTES; memory stays bounded",
          "[server][hardening]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) { return normal_answer(r); });
    mock::running_proxy proxy(hardening_config(up.url()));  // MAX_BODY_BYTES 1 MiB
    constexpr std::size_t attack = std::size_t{256} << 20;
    const std::size_t rss_before = mock::rss_kib();
    mock::reset_peak_rss();
    raw_client c(proxy.port());
    REQUIRE(c.send(head_for("Transfer-Encoding: chunked\r\n")));
    std::string answer;
    {
        chunked_flood flood(c, attack);
        bool closed = false;
        answer = c.read_until_closed(closed);
        CHECK(closed);
        CHECK(flood.sent_bytes < attack);  // the proxy stopped taking the body long before its end
    }
    CHECK(status_line(answer) == "HTTP/1.1 413 Payload Too Large");
    CHECK(answer.find(R"("type":"request_too_large")") != std::string::npos);
    CHECK(answer.find("MAX_BODY_BYTES") != std::string::npos);
    // Before the fix the whole 256 MiB was read into memory.
    const std::size_t growth_kib = mock::peak_rss_kib() - std::min(rss_before, mock::peak_rss_kib());
    INFO("peak RSS growth " << growth_kib << " KiB");
    CHECK(growth_kib < 64 * 1024);
    CHECK(up.requests().empty());
}

TEST_CASE("hardening: a chunked body within the limit reaches the upstream decoded", "[server][hardening]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) { return normal_answer(r); });
    mock::running_proxy proxy(hardening_config(up.url()));
    const std::string body = mock::messages_body(false);
    std::string wire;
    for (std::size_t at = 0; at < body.size(); at += 10) {
        std::string piece = body.substr(at, 10);
        char size[16];
        std::snprintf(size, sizeof size, "%zx;ext=1\r\n", piece.size());
        wire += size + piece + "\r\n";
    }
    wire += "0\r\nX-Trailer: dropped\r\n\r\n";
    raw_client c(proxy.port());
    REQUIRE(c.send(head_for("Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n", "Connection: close\r\n")));
    std::string got;
    REQUIRE(c.read_until("100 Continue\r\n\r\n", got));  // asked for, and sent before the body
    REQUIRE(c.send(wire));
    bool closed = false;
    got += c.read_until_closed(closed);
    CHECK(got.find("HTTP/1.1 200 OK") != std::string::npos);
    CHECK(got.find("served") != std::string::npos);
    REQUIRE(up.requests().size() == 1);
    CHECK(up.requests()[0].body.find(R"("model":"z-ai/glm4.7")") != std::string::npos);
}

TEST_CASE("hardening: bodies the proxy cannot bound are refused before a byte of them is read",
          "[server][hardening]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) { return normal_answer(r); });
    mock::running_proxy proxy(hardening_config(up.url()));
    struct probe {
        const char* name;
        std::string head;
        const char* status;
        const char* names;  // what the message must name
    };
    const probe probes[] = {
        {"gzip", head_for("Content-Length: 1000\r\nContent-Encoding: gzip\r\n"), "HTTP/1.1 415", "Content-Encoding"},
        {"deflate", head_for("Transfer-Encoding: chunked\r\nContent-Encoding: deflate\r\n"), "HTTP/1.1 415",
         "Content-Encoding"},
        {"no length", head_for(""), "HTTP/1.1 411", "Content-Length"},
        {"length over the limit", head_for("Content-Length: 1048577\r\n"), "HTTP/1.1 413", "MAX_BODY_BYTES"},
        {"length of 2^64", head_for("Content-Length: 18446744073709551616\r\n"), "HTTP/1.1 400", "Content-Length"},
        {"transfer coding", head_for("Transfer-Encoding: gzip\r\n"), "HTTP/1.1 501", "Transfer-Encoding"},
    };
    const std::size_t rss_before = mock::rss_kib();
    mock::reset_peak_rss();
    for (const auto& p : probes) {
        INFO(p.name);
        raw_client c(proxy.port());
        REQUIRE(c.send(p.head));  // the head only: the answer must not wait for a body
        bool closed = false;
        std::string answer = c.read_until_closed(closed);
        CHECK(closed);
        CHECK(answer.rfind(p.status, 0) == 0);
        CHECK(answer.find(R"({"type":"error","error":{"type":")") != std::string::npos);
        CHECK(answer.find(p.names) != std::string::npos);
        CHECK(answer.find("request-id: req_") != std::string::npos);
    }
    CHECK(mock::peak_rss_kib() - std::min(rss_before, mock::peak_rss_kib()) < 32 * 1024);
    CHECK(up.requests().empty());
}

TEST_CASE("hardening: with SERVER_API_KEY, a request without the key is refused before its body",
          "[server][hardening]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) { return normal_answer(r); });
    auto cfg = hardening_config(up.url());
    cfg.server_api_key = "inbound-secret-for-hardening";
    mock::running_proxy proxy(cfg);
    raw_client c(proxy.port());
    REQUIRE(c.send(head_for("Content-Length: 1000000\r\n")));  // within the limit, never sent
    bool closed = false;
    std::string answer = c.read_until_closed(closed);
    CHECK(closed);
    CHECK(answer.rfind("HTTP/1.1 401", 0) == 0);
    CHECK(answer.find("authentication_error") != std::string::npos);

    // The right key goes on to the body as before; /health needs no key.
    httplib::Client client = proxy.client();
    auto ok = client.Post("/v1/messages", {{"x-api-key", "inbound-secret-for-hardening"}}, mock::messages_body(false),
                          "application/json");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(client.Get("/health")->status == 200);
    CHECK(up.requests().size() == 1);
}

TEST_CASE("hardening: framing that could smuggle a request is refused with 400 and the connection closed",
          "[server][hardening]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) { return normal_answer(r); });
    mock::running_proxy proxy(hardening_config(up.url()));
    const std::string smuggled = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    struct probe {
        const char* name;
        std::string wire;
        const char* names;
    };
    const probe probes[] = {
        {"Content-Length with Transfer-Encoding",
         head_for("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n" + smuggled, "Transfer-Encoding"},
        {"two different Content-Lengths", head_for("Content-Length: 5\r\nContent-Length: 40\r\n") + "hello" + smuggled,
         "Content-Length"},
        {"a malformed chunk size", head_for("Transfer-Encoding: chunked\r\n") + "5x\r\nhello\r\n0\r\n\r\n" + smuggled,
         "chunk"},
        {"a chunk longer than its size", head_for("Transfer-Encoding: chunked\r\n") + "2\r\nhello\r\n0\r\n\r\n" + smuggled,
         "chunk"},
        {"a bare LF line end", "POST /v1/messages HTTP/1.1\nHost: x\r\nContent-Length: 0\r\n\r\n" + smuggled, "CRLF"},
        {"obsolete line folding", head_for("Content-Length: 0\r\nX-Folded: a\r\n b\r\n") + smuggled, "fold"},
    };
    for (const auto& p : probes) {
        INFO(p.name);
        raw_client c(proxy.port());
        REQUIRE(c.send(p.wire));
        bool closed = false;
        std::string answer = c.read_until_closed(closed);
        CHECK(closed);
        CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
        CHECK(answer.find(p.names) != std::string::npos);
        CHECK(answer.find("HTTP/1.1", 1) == std::string::npos);  // one answer: the smuggled request was not served
    }
    CHECK(up.requests().empty());
}

TEST_CASE("hardening: pipelined requests are answered in order on one connection", "[server][hardening]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) { return normal_answer(r); });
    mock::running_proxy proxy(hardening_config(up.url()));
    const std::string body = mock::messages_body(false);
    raw_client c(proxy.port());
    // A chunked request in the middle: what follows its body must survive the re-framing.
    REQUIRE(c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + head_for("Content-Length: " + std::to_string(body.size()) + "\r\n") +
                   body + head_for("Transfer-Encoding: chunked\r\n") + "1\r\n{\r\n0\r\n\r\n" +
                   "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    bool closed = false;
    std::string answer = c.read_until_closed(closed);
    CHECK(closed);
    auto first = answer.find("HTTP/1.1 200");
    auto second = answer.find("HTTP/1.1 200", first + 1);
    auto third = answer.find("HTTP/1.1 400", second);  // "{" is not a request body
    auto fourth = answer.find("HTTP/1.1 404", third);
    CHECK(first == 0);
    CHECK(second != std::string::npos);
    CHECK(third != std::string::npos);
    CHECK(fourth != std::string::npos);
    CHECK(answer.find("served") < third);
    CHECK(up.requests().size() == 1);
}

TEST_CASE("hardening: an HTTP/1.0 client gets its stream without chunked encoding, ended by the close",
          "[server][hardening]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) { return normal_answer(r); });
    mock::running_proxy proxy(hardening_config(up.url()));
    const std::string body = mock::messages_body(true);
    raw_client c(proxy.port());
    REQUIRE(c.send("POST /v1/messages HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body));
    bool closed = false;
    std::string answer = c.read_until_closed(closed);
    CHECK(closed);
    REQUIRE(answer.rfind("HTTP/1.1 200", 0) == 0);
    const auto head_end = answer.find("\r\n\r\n");
    const std::string head = answer.substr(0, head_end);
    CHECK(head.find("Transfer-Encoding") == std::string::npos);
    CHECK(head.find("text/event-stream") != std::string::npos);
    auto stream = msgbridge_test::accumulate_anthropic_stream(answer.substr(head_end + 4));
    CHECK(stream.complete);
    CHECK(stream.message_json.find("served") != std::string::npos);
}

TEST_CASE("hardening: a head that does not arrive within CLIENT_HEADER_TIMEOUT_SECONDS gets 408 and a close",
          "[server][hardening]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) { return normal_answer(r); });
    auto cfg = hardening_config(up.url());
    cfg.client_header_timeout_seconds = 1;
    cfg.client_read_timeout_seconds = 30;  // each byte comes well within this: only the head deadline can end it
    mock::running_proxy proxy(cfg);
    const std::string head = head_for("Content-Length: 2\r\n", "X-Padding: " + std::string(400, 'p') + "\r\n");
    // The head would take over 20 s to arrive whole.
    const std::string answer = trickled_until_answered(proxy.port(), "", head);
    CHECK(answer.rfind("HTTP/1.1 408", 0) == 0);
    CHECK(answer.find("CLIENT_HEADER_TIMEOUT_SECONDS") != std::string::npos);
    CHECK(up.requests().empty());
}

TEST_CASE("hardening: a body that does not arrive within CLIENT_BODY_TIMEOUT_SECONDS gets 408 and a close",
          "[server][hardening]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) { return normal_answer(r); });
    auto cfg = hardening_config(up.url());
    cfg.client_body_timeout_seconds = 1;
    cfg.client_read_timeout_seconds = 30;  // each byte comes well within this: only the body deadline can end it
    mock::running_proxy proxy(cfg);
    const std::string body = R"({"model":"claude-x","max_tokens":16,"messages":[{"role":"user","content":")" +
                             std::string(400, 'x') + R"("}]})";

    // The head at once, then the body, which would take over 20 s to arrive whole.
    auto check_refusal = [](const std::string& answer) {
        INFO(answer);
        CHECK(status_line(answer) == "HTTP/1.1 408 Request Timeout");
        CHECK(answer.find("Connection: close") != std::string::npos);
        CHECK(answer.find("request-id: req_") != std::string::npos);
        CHECK(answer.find(R"({"type":"error","error":{"type":"invalid_request_error","message":"the request body did not )"
                          R"x(arrive within 1 s (CLIENT_BODY_TIMEOUT_SECONDS)"}})x") != std::string::npos);
    };
    SECTION("Content-Length") {
        const std::string head = head_for("Content-Length: " + std::to_string(body.size()) + "\r\n");
        check_refusal(trickled_until_answered(proxy.port(), head, body));
    }
    SECTION("chunked: each byte its own chunk") {
        std::string chunks;
        for (char ch : body) chunks += "1\r\n" + std::string(1, ch) + "\r\n";
        const std::string head = head_for("Transfer-Encoding: chunked\r\n");
        check_refusal(trickled_until_answered(proxy.port(), head, chunks + "0\r\n\r\n"));
    }
    CHECK(up.requests().empty());
    CHECK(proxy.wait_for_log("408"));
    REQUIRE(proxy.wait_active_connections(0));  // the worker is free again
    const auto metrics = proxy.client().Get("/metrics");
    REQUIRE(metrics);
    CHECK(metrics->body.find(R"(claude_nvidia_proxy_requests_total{model="",route="/v1/messages",status="408"} 1)") !=
          std::string::npos);
    // The deadline is per request: a body sent at once on a kept-alive connection is served after it.
    auto c = proxy.client();
    c.set_keep_alive(true);
    for (int i = 0; i < 3; ++i) CHECK(c.Post("/v1/messages", body, "application/json")->status == 200);
}

TEST_CASE("hardening: thousands of slow sockets hold no thread; /health and 529 keep answering",
          "[server][hardening][overload]") {
    const std::size_t fd_limit = raise_fd_limit();
    // Each socket is two descriptors here (both ends live in this process).
    const std::size_t slow_count = std::min<std::size_t>(2000, (fd_limit - 256) / 2);
    INFO("descriptor limit " << fd_limit << ", slow sockets " << slow_count);
    REQUIRE(slow_count >= 400);

    auto hold = std::make_shared<mock::gate>();
    mock::upstream up([&](const mock::recorded& r, std::size_t) {
        auto reply = normal_answer(r);
        if (r.body.find("hold me") != std::string::npos) {
            reply.hold = hold;
            reply.hold_after = 1;
        }
        return reply;
    });
    auto cfg = hardening_config(up.url());
    cfg.max_connections = 8;
    cfg.client_header_timeout_seconds = 600;  // the slow sockets stay for the whole test
    mock::running_proxy proxy(cfg);

    // One request first: every thread the upstream and the proxy start for it exists now.
    auto client = proxy.client();
    REQUIRE(client.Post("/v1/messages", mock::messages_body(false), "application/json")->status == 200);
    const std::size_t threads_before = mock::thread_count();
    const std::size_t rss_before = mock::rss_kib();
    mock::reset_peak_rss();
    std::vector<std::unique_ptr<raw_client>> slow;
    for (std::size_t i = 0; i < slow_count; ++i) {
        slow.push_back(std::make_unique<raw_client>(proxy.port()));
        REQUIRE(slow.back()->connected());
        REQUIRE(slow.back()->send("POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-"));
    }
    auto until = std::chrono::steady_clock::now() + mock::patience;
    while (proxy.server().active_connections() < slow_count && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE(proxy.server().active_connections() == slow_count);
    // No thread per slow socket: at most the few a request or two starts.
    CHECK(mock::thread_count() < threads_before + 16);
    CHECK(mock::peak_rss_kib() - std::min(rss_before, mock::peak_rss_kib()) < 64 * 1024);

    // Normal requests are still served, by the workers nobody slow holds.
    auto served = client.Post("/v1/messages", mock::messages_body(false), "application/json");
    REQUIRE(served);
    CHECK(served->status == 200);

    // Now every worker busy with a request the upstream holds: new requests
    // get 529 at once, /health still answers.
    std::vector<std::thread> holders;
    std::vector<mock::stream_result> held(cfg.max_connections);
    for (std::size_t i = 0; i < cfg.max_connections; ++i) {
        holders.emplace_back([&, i] {
            held[i] = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true, "hold me"));
        });
    }
    REQUIRE(hold->wait_for_waiters(cfg.max_connections));
    auto refused = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
    REQUIRE(refused);
    CHECK(refused->status == 529);
    CHECK(refused->body.find("overloaded_error") != std::string::npos);
    auto health = proxy.client().Get("/health");
    REQUIRE(health);
    CHECK(health->status == 200);
    hold->open();
    for (auto& t : holders) t.join();
    for (const auto& r : held) CHECK(mock::event_names(r.events).back() == "message_stop");
    slow.clear();
}
