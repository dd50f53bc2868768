// SIGHUP on the built binary: the configuration is read again and new
// requests use it, while running streams finish on the settings they began
// with; a bad configuration is refused and the running one stays.
#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <simdjson.h>

#include "support/child_process.hpp"
#include "support/config_test_support.hpp"
#include "support/mock_upstream.hpp"

namespace {

using config_test::temp_file;
using mock::child_process;

const std::string binary = CLAUDE_NVIDIA_PROXY_BINARY;

bool is_stream(const mock::recorded& r) { return r.body.find("\"stream\":true") != std::string::npos; }

// An upstream whose answers say which one it is.
mock::reply answer_as(const std::string& name, const mock::recorded& r) {
    if (is_stream(r)) return mock::sse(mock::text_stream({"streamed by " + name}));
    return mock::json(200, mock::completion("answered by " + name));
}

httplib::Client client_of(int port) {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(mock::patience);
    return c;
}

// One non-streaming /v1/messages; the body of the answer, or "" on failure.
std::string ask(int port, const std::string& model = "z-ai/glm4.7") {
    auto res = client_of(port).Post("/v1/messages", mock::messages_body(false, model), "application/json");
    return res && res->status == 200 ? res->body : "";
}

// cooling_for_ms of each key in /health's key_stats, by index.
std::vector<std::uint64_t> cooling_for_ms(int port) {
    auto res = client_of(port).Get("/health");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    simdjson::dom::parser parser;
    simdjson::dom::element health = parser.parse(res->body);
    std::vector<std::uint64_t> out;
    for (simdjson::dom::element key : health["key_stats"].get_array()) out.push_back(key["cooling_for_ms"].get_uint64());
    return out;
}

}  // namespace

TEST_CASE("reload: after SIGHUP new requests use the new config.json, a running stream ends on the old one",
          "[server][binary][reload]") {
    auto hold = std::make_shared<mock::gate>();
    mock::upstream old_upstream([&](const mock::recorded& r, std::size_t) {
        auto reply = answer_as("old", r);
        if (is_stream(r)) {
            reply.hold = hold;
            reply.hold_after = 1;
        }
        return reply;
    });
    mock::upstream new_upstream([](const mock::recorded& r, std::size_t) { return answer_as("new", r); });
    const temp_file config(R"({"nvidia_url": ")" + old_upstream.url() + R"(", "model_map": {"claude-*": "old-model"}})");
    child_process proxy({binary, "--config", config.path}, {"ADDR=127.0.0.1:0"});
    const int port = proxy.port();
    REQUIRE(port > 0);

    mock::stream_result streamed;
    std::thread client([&] { streamed = mock::post_stream(port, "/v1/messages", mock::messages_body(true, "claude-x")); });
    REQUIRE(hold->wait_for_waiters(1));  // the stream is running, held by the old upstream

    config.write(R"({"nvidia_url": ")" + new_upstream.url() + R"(", "model_map": {"claude-*": "new-model"},
                     "max_connections": 7, "models": [{"match": "new-model", "top_k": false}]})");
    proxy.signal(SIGHUP);
    REQUIRE(proxy.wait_for("reload: upstream " + new_upstream.url()));
    CHECK(proxy.wait_for("reload: MAX_CONNECTIONS/max_connections needs a restart to change"));
    // The profile table in effect is logged again, as at start: the new entry first, the shipped ones after.
    CHECK(proxy.wait_for("model profile: new-model -> max output none"));
    CHECK(proxy.wait_for("model profile: * -> max output none", 2));

    CHECK(ask(port, "claude-x").find("answered by new") != std::string::npos);
    REQUIRE(new_upstream.requests().size() == 1);
    CHECK(new_upstream.requests()[0].body.find(R"("model":"new-model")") != std::string::npos);

    hold->open();
    client.join();
    INFO(proxy.output());
    const auto names = mock::event_names(streamed.events);
    REQUIRE_FALSE(names.empty());
    CHECK(names.back() == "message_stop");
    CHECK(std::find(names.begin(), names.end(), "error") == names.end());
    CHECK(streamed.raw.find("streamed by old") != std::string::npos);
    REQUIRE(old_upstream.requests().size() == 1);
    CHECK(old_upstream.requests()[0].body.find(R"("model":"old-model")") != std::string::npos);

    proxy.signal(SIGTERM);
    CHECK(proxy.wait() == 0);  // SIGHUP did not end it (it used to: 129)
}

TEST_CASE("reload: a config.json that would not start is refused in one line, and the old one keeps serving",
          "[server][binary][reload]") {
    mock::upstream upstream([](const mock::recorded& r, std::size_t) { return answer_as("the first", r); });
    const temp_file config(R"({"nvidia_url": ")" + upstream.url() + R"("})");
    child_process proxy({binary, "--config", config.path}, {"ADDR=127.0.0.1:0"});
    const int port = proxy.port();
    REQUIRE(port > 0);

    config.write(R"({"nvidia_url": "http://127.0.0.1:99999/v1/chat/completions"})");
    proxy.signal(SIGHUP);
    REQUIRE(proxy.wait_for("reload refused: UPSTREAM_URL/nvidia_url: 'http://127.0.0.1:99999/v1/chat/completions' "
                           "has an invalid port (1-65535) (the running configuration stays)"));
    CHECK(ask(port).find("answered by the first") != std::string::npos);

    config.write(R"({"nvidia_url": )");
    proxy.signal(SIGHUP);
    REQUIRE(proxy.wait_for("reload refused: " + config.path + ": malformed JSON"));
    CHECK(ask(port).find("answered by the first") != std::string::npos);
    CHECK(upstream.requests().size() == 2);
    CHECK(proxy.output().find("reload: upstream") == std::string::npos);

    proxy.signal(SIGTERM);
    CHECK(proxy.wait() == 0);
}

TEST_CASE("reload: keys rotated through PROVIDER_API_KEYS_FILE without a restart, never logged",
          "[server][binary][reload]") {
    const std::vector<std::string> keys = {"nvapi-reload-first-key-0000000001", "nvapi-reload-second-key-000000002",
                                           "nvapi-reload-third-key-0000000003"};
    mock::upstream upstream([](const mock::recorded& r, std::size_t) { return answer_as("upstream", r); });
    const temp_file key_file("# the team's key\n" + keys[0] + "\n");
    child_process proxy({binary}, {"ADDR=127.0.0.1:0", "UPSTREAM_URL=" + upstream.url(),
                                   "PROVIDER_API_KEYS_FILE=" + key_file.path});
    const int port = proxy.port();
    REQUIRE(port > 0);
    CHECK(proxy.output().find("upstream keys: 1 from PROVIDER_API_KEYS_FILE") != std::string::npos);
    REQUIRE_FALSE(ask(port).empty());

    key_file.write(keys[1] + "\n" + keys[2] + "\n");
    proxy.signal(SIGHUP);
    REQUIRE(proxy.wait_for("reload: upstream " + upstream.url() + ", keys 2 from PROVIDER_API_KEYS_FILE"));
    REQUIRE_FALSE(ask(port).empty());
    REQUIRE_FALSE(ask(port).empty());
    CHECK(upstream.authorizations() ==
          std::vector<std::string>{"Bearer " + keys[0], "Bearer " + keys[1], "Bearer " + keys[2]});
    // A client pasting keys into its prompt: the logged body redacts the new
    // keys, and the one just removed too.
    const auto pasted = client_of(port).Post(
        "/v1/messages", mock::messages_body(false, "z-ai/glm4.7", 256, "keys " + keys[0] + " and " + keys[1]),
        "application/json");
    REQUIRE(pasted);
    CHECK(pasted->status == 200);
    CHECK(proxy.wait_for(R"("content":"keys )"));

    std::remove(key_file.path.c_str());
    proxy.signal(SIGHUP);
    REQUIRE(proxy.wait_for("reload refused: PROVIDER_API_KEYS_FILE: cannot read '" + key_file.path + "'"));
    REQUIRE_FALSE(ask(port).empty());
    CHECK(upstream.authorizations().back() == "Bearer " + keys[2]);

    proxy.signal(SIGTERM);
    CHECK(proxy.wait() == 0);
    const std::string log = proxy.output();
    for (const auto& key : keys) CHECK(log.find(key) == std::string::npos);
}

TEST_CASE("reload: a key cooling down after a 429 still cools down after a reload that keeps it",
          "[server][binary][reload]") {
    const std::string kept = "nvapi-reload-kept-key-00000000001";
    const std::string removed = "nvapi-reload-removed-key-0000002";
    const std::string added = "nvapi-reload-added-key-000000003";
    mock::upstream upstream([&](const mock::recorded& r, std::size_t) {
        if (r.authorization == "Bearer " + kept)
            return mock::json(429, R"({"error":{"message":"slow down"}})", {{"Retry-After", "300"}});
        return answer_as("upstream", r);
    });
    const temp_file config(R"({"nvidia_url": ")" + upstream.url() + R"(", "nvidia_keys": [")" + kept + R"(", ")" +
                           removed + R"("]})");
    child_process proxy({binary, "--config", config.path}, {"ADDR=127.0.0.1:0"});
    const int port = proxy.port();
    REQUIRE(port > 0);
    REQUIRE_FALSE(ask(port).empty());  // the kept key answers 429 and starts cooling; the other one answers
    CHECK(cooling_for_ms(port).at(0) > 0);

    // The kept key moves to index 1 behind a new key that round_robin would try first either way.
    config.write(R"({"nvidia_url": ")" + upstream.url() + R"(", "nvidia_keys": [")" + added + R"(", ")" + kept +
                 R"("]})");
    proxy.signal(SIGHUP);
    REQUIRE(proxy.wait_for("reload: upstream "));
    const auto cooling = cooling_for_ms(port);
    REQUIRE(cooling.size() == 2);
    CHECK(cooling[0] == 0);
    CHECK(cooling[1] > 0);

    const std::size_t before = upstream.requests().size();
    REQUIRE_FALSE(ask(port).empty());
    REQUIRE_FALSE(ask(port).empty());
    const auto seen = upstream.authorizations();
    REQUIRE(seen.size() == before + 2);  // neither request tried the cooling key
    CHECK(seen[before] == "Bearer " + added);
    CHECK(seen[before + 1] == "Bearer " + added);

    proxy.signal(SIGTERM);
    CHECK(proxy.wait() == 0);
}
