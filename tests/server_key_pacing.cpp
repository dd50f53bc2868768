// KEY_RPM: the library's per-key pacing as the server configures it —
// key_rpm / KEY_RPM, per-key "rpm" in nvidia_keys, and what a client sees
// once every key has used its budget (docs/configuration.md, docs/keys.md).
#include <catch2/catch.hpp>

#include "config.hpp"
#include "support/config_test_support.hpp"
#include "support/keys_test_support.hpp"
#include "support/mock_upstream.hpp"

using config_test::env_of;
using config_test::error_of;
using keys_test::test_key;

namespace {

proxy::config parsed(const std::string& json) {
    proxy::config cfg;
    proxy::apply_config_json(json, "config.json", cfg);
    return cfg;
}

}  // namespace

TEST_CASE("key pacing: key_rpm and KEY_RPM", "[server][config][keys]") {
    SECTION("off by default") { CHECK(proxy::config{}.key_rpm == 0); }
    SECTION("config.json key_rpm") { CHECK(parsed(R"({"key_rpm": 40})").key_rpm == 40); }
    SECTION("KEY_RPM overrides the file; 0 turns pacing off") {
        config_test::temp_file file(R"({"key_rpm": 40})");
        CHECK(proxy::load_config(env_of({{"CONFIG_PATH", file.path}, {"KEY_RPM", "0"}})).key_rpm == 0);
        CHECK(proxy::load_config(env_of({{"CONFIG_PATH", file.path}, {"KEY_RPM", "12"}})).key_rpm == 12);
    }
    SECTION("a value that is not a count stops the start, naming the setting") {
        CHECK(error_of([] { parsed(R"({"key_rpm": -1})"); }).find("key_rpm") != std::string::npos);
        CHECK(error_of([] { parsed(R"({"key_rpm": 1000001})"); }).find("too large") != std::string::npos);
        config_test::temp_file empty("{}");
        CHECK(error_of([&] { proxy::load_config(env_of({{"CONFIG_PATH", empty.path}, {"KEY_RPM", "forty"}})); })
                  .find("KEY_RPM") != std::string::npos);
    }
}

TEST_CASE("key pacing: nvidia_keys entries may carry their own rpm", "[server][config][keys]") {
    const auto cfg = parsed(R"({"key_rpm": 40, "nvidia_keys": [")" + test_key(0) + R"(", {"key": " )" + test_key(1) +
                            R"( ", "rpm": 5}, {"key": ")" + test_key(2) + R"("}]})");
    SECTION("every entry is a key, in order") {
        CHECK(cfg.key_sources.nvidia_keys.size() == 3);
        CHECK(keys_test::same_secret(cfg.key_sources.nvidia_keys[2], test_key(2)));
    }
    SECTION("only entries with rpm are paced apart, by their trimmed key") {
        REQUIRE(cfg.key_sources.nvidia_key_rpm.size() == 1);
        CHECK(keys_test::same_secret(cfg.key_sources.nvidia_key_rpm[0].key, test_key(1)));
        CHECK(cfg.key_sources.nvidia_key_rpm[0].requests_per_minute == 5);
    }
    SECTION("a malformed entry names its position and never echoes the key") {
        const std::string unknown =
            error_of([] { parsed(R"({"nvidia_keys": [{"key": ")" + test_key(0) + R"(", "rpn": 5}]})"); });
        CHECK(unknown.find("nvidia_keys[0].rpn") != std::string::npos);
        CHECK(unknown.find(test_key(0)) == std::string::npos);
        CHECK(error_of([] { parsed(R"({"nvidia_keys": [{"rpm": 5}]})"); }).find("nvidia_keys[0]") != std::string::npos);
        CHECK(error_of([] { parsed(R"({"nvidia_keys": [{"key": "k", "rpm": "5"}]})"); })
                  .find("nvidia_keys[0].rpm") != std::string::npos);
    }
}

TEST_CASE("key pacing: a paced key is skipped once its budget is used, then every key is a 429",
          "[server][retries][keys]") {
    mock::upstream up([](const mock::recorded&, std::size_t) { return mock::json(200, mock::completion("ok")); });
    auto cfg = mock::test_config(up.url(), {test_key(0), test_key(1)});
    cfg.keys_from = proxy::key_source::nvidia_keys;
    cfg.key_rpm = 1;
    cfg.key_sources.nvidia_key_rpm = {{test_key(1), 2}};
    mock::running_proxy proxy(std::move(cfg));

    std::vector<int> statuses;
    for (int i = 0; i < 4; ++i) {
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        REQUIRE(res);
        statuses.push_back(res->status);
        if (res->status != 429) continue;
        CHECK(res->body.find(R"("type":"rate_limit_error")") != std::string::npos);
        REQUIRE(res->has_header("retry-after"));
        CHECK(std::stol(res->get_header_value("retry-after")) >= 1);
        CHECK(std::stol(res->get_header_value("retry-after")) <= 60);
    }
    // One request on key 0 (rpm 1), two on key 1 (its own rpm 2), then nothing is free.
    CHECK(statuses == std::vector<int>{200, 200, 200, 429});
    const auto auths = up.authorizations();
    CHECK(auths == std::vector<std::string>{"Bearer " + test_key(0), "Bearer " + test_key(1), "Bearer " + test_key(1)});
}
