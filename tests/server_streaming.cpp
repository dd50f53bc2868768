// Streams as a pipe: cancellation, silence, idle timeout, concurrency, shutdown.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <thread>

#include "support/mock_upstream.hpp"

namespace {

bool has_event(const std::vector<mock::sse_event>& events, const std::string& name) {
    for (const auto& e : events) {
        if (e.event == name) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("streaming: a client that disconnects mid-stream cancels the upstream request", "[server][stream]") {
    mock::upstream up([](const mock::recorded&, std::size_t) {
        auto r = mock::sse({mock::chunk(R"({"role":"assistant","content":""})"), mock::chunk(R"({"content":"first"})")});
        r.endless = true;  // an answer that would go on forever
        r.endless_chunk = mock::chunk(R"({"content":" more"})");
        return r;
    });
    mock::running_proxy proxy(mock::test_config(up.url()));
    auto result = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true),
                                    [](const mock::sse_event& e) { return e.event != "content_block_delta"; });
    CHECK(has_event(result.events, "content_block_delta"));
    // The mock's next write fails because the proxy closed the upstream connection.
    CHECK(up.wait_closed_by_client(1));
    CHECK(proxy.wait_for_log("client=disconnected"));
    CHECK(up.requests().size() == 1);
}

TEST_CASE("streaming: pings keep a silent upstream's stream alive", "[server][stream]") {
    auto hold = std::make_shared<mock::gate>();
    mock::upstream up([&](const mock::recorded&, std::size_t) {
        auto r = mock::sse(mock::text_stream({"after the silence"}));
        r.hold = hold;  // silent after the first chunk until the test opens the gate
        r.hold_after = 1;
        return r;
    });
    auto cfg = mock::test_config(up.url());
    cfg.ping_interval_seconds = 1;
    mock::running_proxy proxy(cfg);
    // The converter itself sends one ping right after message_start (as
    // Anthropic does); a second one can only come from the silence.
    int pings = 0;
    auto result = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true), [&](const mock::sse_event& e) {
        if (e.event == "ping" && ++pings == 2) hold->open();  // let the upstream go on
        return true;
    });
    CHECK(result.status == 200);
    auto names = mock::event_names(result.events);
    auto delta = std::find(names.begin(), names.end(), "content_block_delta");
    CHECK(std::count(names.begin(), delta, "ping") >= 2);  // the pings came before the text
    CHECK(names.back() == "message_stop");
    CHECK(proxy.wait_for_log("pings="));  // the proxy counted the pings it sent itself
}

TEST_CASE("streaming: an upstream silent past the idle timeout ends with an error event", "[server][stream]") {
    auto hold = std::make_shared<mock::gate>();
    mock::upstream up([&](const mock::recorded&, std::size_t) {
        auto r = mock::sse(mock::text_stream({"never sent"}));
        r.hold = hold;
        r.hold_after = 2;
        return r;
    });
    auto cfg = mock::test_config(up.url());
    cfg.stream_idle_timeout_seconds = 1;
    cfg.ping_interval_seconds = 30;
    mock::running_proxy proxy(cfg);
    auto result = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
    hold->open();
    CHECK(result.status == 200);
    auto names = mock::event_names(result.events);
    REQUIRE_FALSE(names.empty());
    CHECK(names.front() == "message_start");
    CHECK(names.back() == "error");
    CHECK(result.events.back().data.find("STREAM_IDLE_TIMEOUT_SECONDS") != std::string::npos);
    CHECK_FALSE(has_event(result.events, "message_stop"));
}

TEST_CASE("streaming: 200 slow streams stay open while a short request is answered", "[server][stream][concurrency]") {
    constexpr std::size_t streams = 200;
    auto hold = std::make_shared<mock::gate>();
    mock::upstream up(
        [&](const mock::recorded& r, std::size_t) {
            if (r.body.find("\"stream\":true") == std::string::npos) return mock::json(200, mock::completion("quick"));
            auto reply = mock::sse(mock::text_stream({"slow"}));
            reply.hold = hold;
            reply.hold_after = 1;
            return reply;
        },
        streams + 16);
    mock::running_proxy proxy(mock::test_config(up.url()));

    std::atomic<std::size_t> finished{0};
    std::vector<mock::stream_result> results(streams);
    std::vector<std::thread> clients;
    for (std::size_t i = 0; i < streams; ++i) {
        clients.emplace_back([&, i] {
            results[i] = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
            ++finished;
        });
    }
    // Every stream is open upstream and held there.
    REQUIRE(hold->wait_for_waiters(streams));

    auto quick = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
    auto health = proxy.client().Get("/health");
    // The short requests were answered while all 200 streams were still open.
    CHECK(finished == 0);
    CHECK(up.streams_finished() == 0);
    REQUIRE(quick);
    CHECK(quick->status == 200);
    CHECK(quick->body.find("quick") != std::string::npos);
    REQUIRE(health);
    CHECK(health->body.find("\"active_streams\":200") != std::string::npos);

    hold->open();
    for (auto& t : clients) t.join();
    std::size_t complete = 0;
    for (const auto& r : results) complete += (!r.events.empty() && r.events.back().event == "message_stop") ? 1 : 0;
    CHECK(complete == streams);
}

TEST_CASE("streaming: connections beyond MAX_CONNECTIONS are refused with 529, not queued; /health still answers",
          "[server][stream][concurrency]") {
    auto hold = std::make_shared<mock::gate>();
    mock::upstream up([&](const mock::recorded&, std::size_t) {
        auto reply = mock::sse(mock::text_stream({"slow"}));
        reply.hold = hold;
        reply.hold_after = 1;
        return reply;
    });
    auto cfg = mock::test_config(up.url());
    cfg.max_connections = 2;
    mock::running_proxy proxy(cfg);
    std::vector<std::thread> clients;
    std::vector<mock::stream_result> results(2);
    for (int i = 0; i < 2; ++i)
        clients.emplace_back([&, i] { results[i] = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true)); });
    REQUIRE(hold->wait_for_waiters(2));

    auto refused = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
    REQUIRE(refused);
    CHECK(refused->status == 529);
    CHECK(refused->body.find("overloaded_error") != std::string::npos);
    CHECK(refused->body.find("MAX_CONNECTIONS") != std::string::npos);
    CHECK(refused->has_header("request-id"));
    CHECK(refused->get_header_value("retry-after") == "1");
    // The health check is answered without a worker: a load balancer must not
    // take a busy proxy for a dead one.
    auto health = proxy.client().Get("/health");
    REQUIRE(health);
    CHECK(health->status == 200);
    CHECK(up.requests().size() == 2);

    hold->open();
    for (auto& t : clients) t.join();
    for (const auto& r : results) CHECK(mock::event_names(r.events).back() == "message_stop");
    // Once the proxy has seen both connections close, new ones are served again.
    auto until = std::chrono::steady_clock::now() + mock::patience;
    while (proxy.server().active_connections() > 0 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    REQUIRE(proxy.server().active_connections() == 0);
    auto served = proxy.client().Get("/health");
    REQUIRE(served);
    CHECK(served->status == 200);
}

TEST_CASE("streaming: when the shutdown grace period ends, running streams end with an error event", "[server][stream]") {
    auto hold = std::make_shared<mock::gate>();
    mock::upstream up([&](const mock::recorded&, std::size_t) {
        auto reply = mock::sse(mock::text_stream({"slow"}));
        reply.hold = hold;
        reply.hold_after = 2;
        return reply;
    });
    mock::running_proxy proxy(mock::test_config(up.url()));
    mock::stream_result result;
    auto started = std::make_shared<mock::gate>();
    std::thread client([&] {
        result = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true), [&](const mock::sse_event&) {
            started->open();  // the stream is running: its first event reached the client
            return true;
        });
    });
    REQUIRE(started->wait());
    REQUIRE(hold->wait_for_waiters(1));
    proxy.service().abort_streams();
    client.join();
    hold->open();
    auto names = mock::event_names(result.events);
    INFO("status " << result.status << " error " << httplib::to_string(result.error) << " raw " << result.raw);
    REQUIRE_FALSE(names.empty());
    CHECK(names.back() == "error");
    CHECK(result.events.back().data.find("overloaded_error") != std::string::npos);
}

TEST_CASE("streaming: an upstream slow to answer: the stream starts anyway and pings flow until it does",
          "[server][stream]") {
    // The mock holds its response headers back until the test opens the gate,
    // which it does only after the proxy's own pings have arrived.
    auto gate = std::make_shared<mock::gate>();
    mock::upstream up([gate](const mock::recorded&, std::size_t) {
        gate->wait();
        return mock::sse(mock::text_stream({"worth ", "the wait"}));
    });
    auto cfg = mock::test_config(up.url());
    cfg.stream_commit_after_seconds = 1;
    cfg.ping_interval_seconds = 1;
    mock::running_proxy proxy(cfg);
    int pings = 0;
    auto result = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true), [&](const mock::sse_event& e) {
        if (e.event == "ping" && ++pings == 3) gate->open();  // one after message_start, two from the silence
        return true;
    });
    gate->open();
    CHECK(result.status == 200);
    auto names = mock::event_names(result.events);
    REQUIRE_FALSE(names.empty());
    CHECK(names.front() == "message_start");
    CHECK(std::count(names.begin(), names.end(), "message_start") == 1);
    auto first_delta = std::find(names.begin(), names.end(), "content_block_delta");
    CHECK(std::count(names.begin(), first_delta, "ping") >= 3);
    CHECK(names.back() == "message_stop");
    std::string text;
    for (const auto& e : result.events) {
        if (e.event == "content_block_delta") text += e.data;
    }
    CHECK(text.find("worth ") != std::string::npos);
    CHECK(text.find("the wait") != std::string::npos);
    CHECK(proxy.wait_for_log("started=early"));
    CHECK(up.requests().size() == 1);
}

TEST_CASE("streaming: after an early start, retries still happen and a final failure is an error event",
          "[server][stream][retries]") {
    // Every key is limited, slowly: the first answer comes after the stream has
    // started, so the 429 the client would have got arrives as an error event,
    // and the attempts on the other key were still made.
    auto gate = std::make_shared<mock::gate>();
    mock::upstream up([gate](const mock::recorded&, std::size_t) {
        gate->wait();
        return mock::json(429, R"({"error":{"message":"slow down","type":"rate_limit"}})", {{"Retry-After", "7"}});
    });
    auto cfg = mock::test_config(up.url(), {"nvapi-early-start-key-0000000001", "nvapi-early-start-key-0000000002"});
    cfg.stream_commit_after_seconds = 1;
    cfg.ping_interval_seconds = 1;
    mock::running_proxy proxy(cfg);
    int pings = 0;
    auto result = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true), [&](const mock::sse_event& e) {
        if (e.event == "ping" && ++pings == 2) gate->open();
        return true;
    });
    gate->open();
    CHECK(result.status == 200);
    auto names = mock::event_names(result.events);
    REQUIRE(names.size() >= 3);
    CHECK(names.front() == "message_start");
    CHECK(names.back() == "error");
    CHECK(result.events.back().data.find("rate_limit_error") != std::string::npos);
    CHECK_FALSE(has_event(result.events, "message_stop"));
    REQUIRE(up.requests().size() == 2);  // both keys were tried behind the open stream
    CHECK(up.requests()[0].authorization != up.requests()[1].authorization);
    CHECK(proxy.wait_for_log("end=error-429"));
}
