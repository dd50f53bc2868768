// Client faults: clients that hang up at every stage, clients that send
// slowly, and thousands of sequential requests that must leave the proxy's
// descriptors and threads where they started. Ordering is checked, never
// durations; every loop has a fixed bound.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "support/anthropic_stream_accumulator.hpp"
#include "support/mock_upstream.hpp"
#include "support/raw_client.hpp"

namespace {

using mock::raw_client;

std::string request_head(std::size_t content_length, bool keep_alive = true) {
    return "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(content_length) + "\r\n" + (keep_alive ? "" : "Connection: close\r\n") + "\r\n";
}

proxy::config client_fault_config(const std::string& url) {
    auto cfg = mock::test_config(url, {"nvapi-client-faults-key-000000001"});
    cfg.client_read_timeout_seconds = 1;
    cfg.client_header_timeout_seconds = 1;
    cfg.upstream_timeout_seconds = 10;
    cfg.stream_idle_timeout_seconds = 10;
    cfg.ping_interval_seconds = 1;
    cfg.log_body_max_chars = 0;
    return cfg;
}

void check_serves(mock::running_proxy& proxy) {
    auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body.find("served") != std::string::npos);
}

mock::reply normal_answer(const mock::recorded& r) {
    if (r.body.find(R"("stream":true)") != std::string::npos) return mock::sse(mock::text_stream({"ser", "ved"}));
    return mock::json(200, mock::completion("served"));
}

}  // namespace

TEST_CASE("client faults: a client that leaves before or during its body costs no upstream request",
          "[server][faults][clients]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) { return normal_answer(r); });
    mock::running_proxy proxy(client_fault_config(up.url()));
    const std::string body = mock::messages_body(false);

    SECTION("after the headers, before any body byte") {
        raw_client c(proxy.port());
        REQUIRE(c.connected());
        REQUIRE(c.send(request_head(body.size())));
        c.close();
    }
    SECTION("in the middle of the body") {
        raw_client c(proxy.port());
        REQUIRE(c.connected());
        REQUIRE(c.send(request_head(body.size()) + body.substr(0, body.size() / 2)));
        c.close();
    }
    SECTION("in the middle of the request line") {
        raw_client c(proxy.port());
        REQUIRE(c.connected());
        REQUIRE(c.send("POST /v1/mess"));
        c.close();
    }
    REQUIRE(proxy.wait_active_connections(0));
    CHECK(up.requests().empty());
    check_serves(proxy);
    CHECK(up.requests().size() == 1);
}

TEST_CASE("client faults: a client that leaves after its request, before the answer", "[server][faults][clients]") {
    // The upstream starts answering, then waits at the gate; it goes on writing until the proxy hangs up.
    auto gate = std::make_shared<mock::gate>();
    mock::upstream up([gate](const mock::recorded& r, std::size_t) {
        if (r.body.find("leaving") == std::string::npos) return normal_answer(r);
        mock::reply a = mock::sse({mock::chunk(R"({"role":"assistant","content":""})")});
        a.hold = gate;
        a.hold_after = 1;
        a.endless = true;
        a.endless_chunk = mock::chunk(R"({"content":"more"})");
        return a;
    });
    mock::running_proxy proxy(client_fault_config(up.url()));
    const std::string body = mock::messages_body(true, "z-ai/glm4.7", 256, "leaving");
    {
        raw_client c(proxy.port());
        REQUIRE(c.connected());
        REQUIRE(c.send(request_head(body.size()) + body));
        REQUIRE(gate->wait_for_waiters(1));  // the upstream request is running
        c.close();                           // nothing of the answer was read
    }
    gate->open();
    // The proxy finds the client gone at its next write and cancels the upstream request.
    CHECK(up.wait_closed_by_client(1));
    CHECK(proxy.wait_for_log("client=disconnected"));
    REQUIRE(proxy.wait_active_connections(0));
    CHECK(proxy.service().active_streams() == 0);
    check_serves(proxy);
}

TEST_CASE("client faults: a client that leaves before the upstream answered cancels the upstream call",
          "[server][faults][clients]") {
    // The upstream reads the request and then says nothing, for longer than
    // the test's patience: only the proxy noticing the departed client (not
    // a timeout, not a write) can end the upstream call in time.
    auto request_read = std::make_shared<mock::gate>();
    mock::raw_upstream up([request_read](mock::raw_upstream& self, int fd) {
        if (!mock::raw_upstream::read_request(fd)) return;
        request_read->open();
        self.wait_peer_close(fd);
    });
    auto cfg = client_fault_config(up.url());
    cfg.upstream_timeout_seconds = 600;
    cfg.stream_idle_timeout_seconds = 600;
    cfg.stream_commit_after_seconds = 600;
    mock::running_proxy proxy(cfg);
    const bool stream = GENERATE(false, true);
    const std::string body = mock::messages_body(stream);
    {
        raw_client c(proxy.port());
        REQUIRE(c.connected());
        REQUIRE(c.send(request_head(body.size()) + body));
        REQUIRE(request_read->wait());  // the upstream has the whole request and is "thinking"
        c.close();
    }
    CHECK(up.wait_closed_by_peer(1));
    CHECK(proxy.wait_for_log("client=disconnected"));
    REQUIRE(proxy.wait_active_connections(0));
    CHECK(proxy.service().active_streams() == 0);
    CHECK(up.connections() == 1);  // cancelled, not retried
}

TEST_CASE("client faults: a client that leaves mid-stream cancels the upstream request", "[server][faults][clients]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) {
        if (r.body.find("leaving") == std::string::npos) return normal_answer(r);
        mock::reply a = mock::sse({mock::chunk(R"({"role":"assistant","content":""})"), mock::chunk(R"({"content":"first"})")});
        a.endless = true;
        a.endless_chunk = mock::chunk(R"({"content":" and more"})");
        return a;
    });
    mock::running_proxy proxy(client_fault_config(up.url()));
    const std::string body = mock::messages_body(true, "z-ai/glm4.7", 256, "leaving");

    SECTION("raw socket: closed after the first text delta") {
        raw_client c(proxy.port());
        REQUIRE(c.connected());
        REQUIRE(c.send(request_head(body.size()) + body));
        std::string got;
        REQUIRE(c.read_until("first", got));
        c.close();
    }
    SECTION("HTTP client: hangs up from its content receiver after some events") {
        std::size_t deltas = 0;
        auto r = mock::post_stream(proxy.port(), "/v1/messages", body, [&](const mock::sse_event& e) {
            return !(e.event == "content_block_delta" && ++deltas == 5);
        });
        CHECK(r.status == 200);
        CHECK(deltas == 5);
    }
    CHECK(up.wait_closed_by_client(1));
    CHECK(proxy.wait_for_log("client=disconnected"));
    REQUIRE(proxy.wait_active_connections(0));
    CHECK(proxy.service().active_streams() == 0);
    check_serves(proxy);
}

TEST_CASE("client faults: slow clients are cut by the read timeout without holding up others",
          "[server][faults][clients]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) { return normal_answer(r); });
    mock::running_proxy proxy(client_fault_config(up.url()));  // CLIENT_READ_TIMEOUT_SECONDS 1
    const std::string body = mock::messages_body(false);
    constexpr std::size_t slow_clients = 8;

    std::vector<std::unique_ptr<raw_client>> slow;
    const std::string head = request_head(body.size());
    for (std::size_t i = 0; i < slow_clients; ++i) {
        slow.push_back(std::make_unique<raw_client>(proxy.port()));
        REQUIRE(slow.back()->connected());
        if (i % 2 == 0) {
            // Headers trickled: the request line and part of the headers, a few bytes per write, then silence.
            for (std::size_t at = 0; at < head.size() / 2; at += 7) REQUIRE(slow.back()->send(head.substr(at, 7)));
        } else {
            // Body trickled: every header, then part of the body in small writes, then silence.
            REQUIRE(slow.back()->send(head));
            for (std::size_t at = 0; at < body.size() / 2; at += 5) REQUIRE(slow.back()->send(body.substr(at, 5)));
        }
    }
    // Every slow client occupies a connection now; a normal request is still answered.
    REQUIRE(proxy.wait_active_connections(slow_clients));
    check_serves(proxy);
    auto streamed = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
    CHECK(streamed.status == 200);
    CHECK(msgbridge_test::accumulate_anthropic_stream(streamed.raw).complete);

    // Then each slow client is disconnected by the proxy; none of them reached the upstream.
    for (auto& c : slow) {
        bool closed = false;
        std::string got = c->read_until_closed(closed);
        CHECK(closed);
        // Either no answer at all or an error status: never a 200.
        CHECK(got.find(" 200 ") == std::string::npos);
    }
    REQUIRE(proxy.wait_active_connections(0));
    CHECK(up.requests().size() == 2);
}

TEST_CASE("client faults: 2000 sequential requests leave descriptors and threads where they started",
          "[server][faults][clients][leaks]") {
    constexpr int requests_per_mode = 2000;
    mock::upstream up([](const mock::recorded& r, std::size_t) { return normal_answer(r); });
    auto cfg = client_fault_config(up.url());
    cfg.client_read_timeout_seconds = 30;
    mock::running_proxy proxy(cfg);
    const std::string body = mock::messages_body(false);
    const std::string stream_body = mock::messages_body(true);

    auto one_streamed = [&] {
        auto r = mock::post_stream(proxy.port(), "/v1/messages", stream_body);
        return r.status == 200 && !r.events.empty() && r.events.back().event == "message_stop";
    };
    // Warm-up: the proxy's first worker threads, the pooled upstream connection,
    // the mock's fixed thread pool and every lazily created static exist after this.
    {
        auto c = proxy.client();
        for (int i = 0; i < 20; ++i) REQUIRE(c.Post("/v1/messages", body, "application/json")->status == 200);
        for (int i = 0; i < 5; ++i) REQUIRE(one_streamed());
    }
    REQUIRE(proxy.wait_active_connections(0));
    const std::size_t fds_before = mock::open_fds();
    const std::size_t threads_before = mock::thread_count();
    REQUIRE(fds_before > 0);
    REQUIRE(threads_before > 0);

    // Slack: a worker thread that served the last connection may still be
    // unwinding, a closed connection's socket may not be released yet, and
    // the worker pool keeps up to a few idle threads for 30 s. None of this
    // grows with the number of requests, which is what a leak would do.
    constexpr std::size_t fd_slack = 4;
    constexpr std::size_t thread_slack = 4;

    SECTION("keep-alive: one connection, non-streaming") {
        auto c = proxy.client();
        c.set_keep_alive(true);
        int ok = 0;
        for (int i = 0; i < requests_per_mode; ++i) {
            auto res = c.Post("/v1/messages", body, "application/json");
            ok += res && res->status == 200 ? 1 : 0;
        }
        CHECK(ok == requests_per_mode);
    }
    SECTION("a new connection each time, every fourth one streamed") {
        int ok = 0;
        for (int i = 0; i < requests_per_mode; ++i) {
            if (i % 4 == 3) {
                ok += one_streamed() ? 1 : 0;
            } else {
                auto c = proxy.client();
                c.set_keep_alive(false);
                auto res = c.Post("/v1/messages", body, "application/json");
                ok += res && res->status == 200 ? 1 : 0;
            }
        }
        CHECK(ok == requests_per_mode);
    }
    REQUIRE(proxy.wait_active_connections(0));
    CHECK(proxy.service().active_streams() == 0);
    const std::size_t fds_after = mock::open_fds();
    const std::size_t threads_after = mock::thread_count();
    INFO("fds " << fds_before << " -> " << fds_after << ", threads " << threads_before << " -> " << threads_after);
    CHECK(fds_after <= fds_before + fd_slack);
    CHECK(threads_after <= threads_before + thread_slack);
}
