// The reliability settings: client read timeout and the upstream answer size limit.
#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "config.hpp"

namespace {

proxy::env_lookup vars(std::map<std::string, std::string> values) {
    return [values](const std::string& name) -> std::optional<std::string> {
        auto it = values.find(name);
        if (it == values.end()) return std::nullopt;
        return it->second;
    };
}

std::string error_text(const std::function<void()>& f) {
    try {
        f();
    } catch (const proxy::config_error& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST_CASE("config: client_read_timeout_seconds and max_upstream_response_bytes", "[server][config]") {
    SECTION("defaults: 30 s and 256 MiB") {
        auto cfg = proxy::load_config(vars({{"CONFIG_PATH", ""}}), "");
        CHECK(cfg.client_read_timeout_seconds == 30);
        CHECK(cfg.max_upstream_response_bytes == (std::size_t{256} << 20));
    }
    SECTION("config.json") {
        proxy::config cfg;
        proxy::apply_config_json(R"({"client_read_timeout_seconds":7,"max_upstream_response_bytes":4096})", "t.json", cfg);
        CHECK(cfg.client_read_timeout_seconds == 7);
        CHECK(cfg.max_upstream_response_bytes == 4096);
    }
    SECTION("the environment") {
        auto cfg = proxy::load_config(vars({{"CONFIG_PATH", ""},
                                            {"CLIENT_READ_TIMEOUT_SECONDS", "3"},
                                            {"MAX_UPSTREAM_RESPONSE_BYTES", "1048576"}}),
                                      "");
        CHECK(cfg.client_read_timeout_seconds == 3);
        CHECK(cfg.max_upstream_response_bytes == 1048576);
    }
    SECTION("out of range: one line naming the setting") {
        auto zero = error_text([] { (void)proxy::load_config(vars({{"CLIENT_READ_TIMEOUT_SECONDS", "0"}}), ""); });
        CHECK(zero.find("CLIENT_READ_TIMEOUT_SECONDS") != std::string::npos);
        auto tiny = error_text([] { (void)proxy::load_config(vars({{"MAX_UPSTREAM_RESPONSE_BYTES", "10"}}), ""); });
        CHECK(tiny.find("MAX_UPSTREAM_RESPONSE_BYTES") != std::string::npos);
    }
    SECTION("--help lists both") {
        auto help = proxy::help_text();
        CHECK(help.find("CLIENT_READ_TIMEOUT_SECONDS") != std::string::npos);
        CHECK(help.find("MAX_UPSTREAM_RESPONSE_BYTES") != std::string::npos);
    }
}

TEST_CASE("config: client_body_timeout_seconds", "[server][config]") {
    SECTION("default: 300 s") {
        CHECK(proxy::load_config(vars({{"CONFIG_PATH", ""}}), "").client_body_timeout_seconds == 300);
    }
    SECTION("config.json, then the environment over it") {
        proxy::config cfg;
        proxy::apply_config_json(R"({"client_body_timeout_seconds":45})", "t.json", cfg);
        CHECK(cfg.client_body_timeout_seconds == 45);
        auto env = proxy::load_config(vars({{"CONFIG_PATH", ""}, {"CLIENT_BODY_TIMEOUT_SECONDS", "86400"}}), "");
        CHECK(env.client_body_timeout_seconds == 86400);
    }
    SECTION("out of range: one line naming the setting and the bound") {
        auto zero = error_text([] { (void)proxy::load_config(vars({{"CLIENT_BODY_TIMEOUT_SECONDS", "0"}}), ""); });
        CHECK(zero.find("CLIENT_BODY_TIMEOUT_SECONDS") != std::string::npos);
        CHECK(zero.find("at least 1") != std::string::npos);
        proxy::config cfg;
        auto big = error_text([&] { proxy::apply_config_json(R"({"client_body_timeout_seconds":86401})", "t.json", cfg); });
        CHECK(big.find("client_body_timeout_seconds") != std::string::npos);
    }
    SECTION("--help lists it") { CHECK(proxy::help_text().find("CLIENT_BODY_TIMEOUT_SECONDS") != std::string::npos); }
}

TEST_CASE("config: max_retry_after_seconds and the auth quarantine's base and maximum", "[server][config][keys]") {
    SECTION("defaults: Retry-After honoured up to 5 min, quarantine from 5 s up to 15 min") {
        auto cfg = proxy::load_config(vars({{"CONFIG_PATH", ""}}), "");
        CHECK(cfg.max_retry_after_seconds == 300);
        CHECK(cfg.auth_quarantine_base_seconds == 5);
        CHECK(cfg.auth_quarantine_max_seconds == 900);
    }
    SECTION("config.json") {
        proxy::config cfg;
        proxy::apply_config_json(
            R"({"max_retry_after_seconds":60,"auth_quarantine_base_seconds":2,"auth_quarantine_max_seconds":120})",
            "t.json", cfg);
        CHECK(cfg.max_retry_after_seconds == 60);
        CHECK(cfg.auth_quarantine_base_seconds == 2);
        CHECK(cfg.auth_quarantine_max_seconds == 120);
    }
    SECTION("the environment") {
        auto cfg = proxy::load_config(vars({{"CONFIG_PATH", ""},
                                            {"MAX_RETRY_AFTER_SECONDS", "30"},
                                            {"AUTH_QUARANTINE_BASE_SECONDS", "1"},
                                            {"AUTH_QUARANTINE_MAX_SECONDS", "60"}}),
                                      "");
        CHECK(cfg.max_retry_after_seconds == 30);
        CHECK(cfg.auth_quarantine_base_seconds == 1);
        CHECK(cfg.auth_quarantine_max_seconds == 60);
    }
    SECTION("out of range: one line naming the setting") {
        for (const char* name : {"MAX_RETRY_AFTER_SECONDS", "AUTH_QUARANTINE_BASE_SECONDS", "AUTH_QUARANTINE_MAX_SECONDS"}) {
            auto zero = error_text([name] { (void)proxy::load_config(vars({{name, "0"}}), ""); });
            CHECK(zero.find(name) != std::string::npos);
        }
    }
    SECTION("--help lists all three") {
        auto help = proxy::help_text();
        CHECK(help.find("MAX_RETRY_AFTER_SECONDS") != std::string::npos);
        CHECK(help.find("AUTH_QUARANTINE_BASE_SECONDS") != std::string::npos);
        CHECK(help.find("AUTH_QUARANTINE_MAX_SECONDS") != std::string::npos);
    }
}

TEST_CASE("config: when /health calls the upstream degraded", "[server][config]") {
    SECTION("defaults: five failed attempts in a row, the last within 5 min") {
        auto cfg = proxy::load_config(vars({{"CONFIG_PATH", ""}}), "");
        CHECK(cfg.health_degraded_after_failures == 5);
        CHECK(cfg.health_degraded_window_seconds == 300);
    }
    SECTION("config.json, 0 for never") {
        proxy::config cfg;
        proxy::apply_config_json(R"({"health_degraded_after_failures":0,"health_degraded_window_seconds":60})",
                                 "t.json", cfg);
        CHECK(cfg.health_degraded_after_failures == 0);
        CHECK(cfg.health_degraded_window_seconds == 60);
    }
    SECTION("the environment over config.json") {
        auto cfg = proxy::load_config(vars({{"CONFIG_PATH", ""},
                                            {"HEALTH_DEGRADED_AFTER_FAILURES", "20"},
                                            {"HEALTH_DEGRADED_WINDOW_SECONDS", "900"}}),
                                      "");
        CHECK(cfg.health_degraded_after_failures == 20);
        CHECK(cfg.health_degraded_window_seconds == 900);
    }
    SECTION("out of range or not a number: one line naming the setting") {
        auto window = error_text([] { (void)proxy::load_config(vars({{"HEALTH_DEGRADED_WINDOW_SECONDS", "0"}}), ""); });
        CHECK(window.find("HEALTH_DEGRADED_WINDOW_SECONDS") != std::string::npos);
        auto failures =
            error_text([] { (void)proxy::load_config(vars({{"HEALTH_DEGRADED_AFTER_FAILURES", "five"}}), ""); });
        CHECK(failures.find("HEALTH_DEGRADED_AFTER_FAILURES") != std::string::npos);
        proxy::config cfg;
        auto json = error_text([&] { proxy::apply_config_json(R"({"health_degraded_after_failures":-1})", "t.json", cfg); });
        CHECK(json.find("health_degraded_after_failures") != std::string::npos);
    }
    SECTION("--help lists both") {
        auto help = proxy::help_text();
        CHECK(help.find("HEALTH_DEGRADED_AFTER_FAILURES") != std::string::npos);
        CHECK(help.find("HEALTH_DEGRADED_WINDOW_SECONDS") != std::string::npos);
    }
}
