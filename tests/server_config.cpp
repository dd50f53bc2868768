// config.json + environment, as the Go original read them, plus our additions.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "config.hpp"
#include "support/config_test_support.hpp"

using config_test::env_of;
using config_test::error_of;
using config_test::temp_file;

namespace {

proxy::config config_from_env(std::map<std::string, std::string> vars) {
    return proxy::load_config(env_of(std::move(vars)));
}

std::string config_error_of(std::map<std::string, std::string> vars) {
    return error_of([&] { (void)config_from_env(std::move(vars)); });
}

}  // namespace

TEST_CASE("config: defaults are the Go original's", "[server][config]") {
    // A missing default config.json is fine: the environment may supply everything.
    auto cfg = proxy::load_config(env_of({{"CONFIG_PATH", ""}}), "");
    CHECK(cfg.upstream_url == "https://integrate.api.nvidia.com/v1/chat/completions");
    CHECK(cfg.addr == ":3001");
    CHECK(cfg.listen_host == "0.0.0.0");
    CHECK(cfg.listen_port == 3001);
    CHECK(cfg.upstream_timeout_seconds == 300);
    CHECK(cfg.log_body_max_chars == 4096);
    CHECK(cfg.log_stream_text_preview_chars == 256);
    CHECK(cfg.key_rotation == msgbridge::rotation::round_robin);
    CHECK(cfg.keys.empty());
    CHECK(cfg.server_api_key.empty());
    CHECK(cfg.max_body_bytes == 32u * 1024 * 1024);
    CHECK(cfg.max_connections >= 1024);
    CHECK(cfg.answer_quota_probe);
}

TEST_CASE("config: config.json is read with the original's field names", "[server][config]") {
    temp_file file(R"({
        "nvidia_url": "http://127.0.0.1:9/v1/chat/completions",
        "nvidia_keys": ["nvapi-aaaaaaaaaaaaaaaa1111", " nvapi-bbbbbbbbbbbbbbbb2222 ", ""],
        "key_rotation": "least_used"
    })");
    auto cfg = proxy::load_config(env_of({{"CONFIG_PATH", file.path}}));
    CHECK(cfg.upstream_url == "http://127.0.0.1:9/v1/chat/completions");
    REQUIRE(cfg.keys.size() == 2);
    CHECK(cfg.keys[0] == "nvapi-aaaaaaaaaaaaaaaa1111");
    CHECK(cfg.keys[1] == "nvapi-bbbbbbbbbbbbbbbb2222");
    CHECK(cfg.keys_from == proxy::key_source::nvidia_keys);
    CHECK(cfg.key_rotation == msgbridge::rotation::least_used);
    CHECK(cfg.config_path_used == file.path);

    SECTION("the deprecated nvidia_key still works, with a note") {
        temp_file single(R"({"nvidia_key": "nvapi-cccccccccccccccc3333"})");
        auto c = proxy::load_config(env_of({}), single.path);
        REQUIRE(c.keys.size() == 1);
        CHECK(c.keys[0] == "nvapi-cccccccccccccccc3333");
        bool noted = false;
        for (const auto& n : c.notes) noted |= n.find("nvidia_key is deprecated") != std::string::npos;
        CHECK(noted);
    }
}

TEST_CASE("config: environment variables override the file", "[server][config]") {
    temp_file file(R"({"nvidia_url": "http://a.example/v1/chat/completions", "nvidia_keys": ["nvapi-fromfile-000000000"]})");
    auto cfg = proxy::load_config(env_of({{"CONFIG_PATH", file.path},
                                          {"UPSTREAM_URL", "http://127.0.0.1:8000/v1/chat/completions"},
                                          {"PROVIDER_API_KEYS", "nvapi-env1-0000000000000, nvapi-env2-0000000000000"},
                                          {"KEY_ROTATION", "random"},
                                          {"SERVER_API_KEY", "local-secret"},
                                          {"ADDR", "127.0.0.1:8080"},
                                          {"UPSTREAM_TIMEOUT_SECONDS", "42"},
                                          {"LOG_BODY_MAX_CHARS", "0"},
                                          {"LOG_STREAM_TEXT_PREVIEW_CHARS", "10"}}));
    CHECK(cfg.upstream_url == "http://127.0.0.1:8000/v1/chat/completions");
    CHECK(cfg.keys == std::vector<std::string>{"nvapi-env1-0000000000000", "nvapi-env2-0000000000000"});
    CHECK(cfg.keys_from == proxy::key_source::provider_api_keys);
    CHECK(cfg.key_rotation == msgbridge::rotation::random);
    CHECK(cfg.server_api_key == "local-secret");
    CHECK(cfg.listen_host == "127.0.0.1");
    CHECK(cfg.listen_port == 8080);
    CHECK(cfg.upstream_timeout_seconds == 42);
    CHECK(cfg.log_body_max_chars == 0);
    CHECK(cfg.log_stream_text_preview_chars == 10);

    SECTION("PROVIDER_API_KEY alone replaces the file's keys") {
        auto c = proxy::load_config(env_of({{"CONFIG_PATH", file.path}, {"PROVIDER_API_KEY", "nvapi-single-00000000000"}}));
        CHECK(c.keys == std::vector<std::string>{"nvapi-single-00000000000"});
    }
}

TEST_CASE("config: our additions: model mapping, per-model options, limits", "[server][config]") {
    temp_file file(R"({
        "model_map": {"claude-sonnet-4-5": "z-ai/glm4.7", "claude-*haiku*": "moonshotai/kimi-k2.5"},
        "default_model": "z-ai/glm4.7",
        "models": [{"match": "moonshotai/*", "max_output_tokens": 8192, "vision": false,
                    "reasoning_replay": "think_tags", "reasoning": "chat_template_kwargs",
                    "extra_body": {"top_p": 0.9}}],
        "max_body_bytes": 1048576,
        "max_connections": 2048,
        "stream_idle_timeout_seconds": 60,
        "ping_interval_seconds": 3,
        "answer_quota_probe": false,
        "_comment": "ignored"
    })");
    auto cfg = proxy::load_config(env_of({}), file.path);
    REQUIRE(cfg.request.model_map.size() == 2);
    CHECK(cfg.request.model_map[0].pattern == "claude-sonnet-4-5");
    CHECK(cfg.request.model_map[0].upstream_model == "z-ai/glm4.7");
    CHECK(cfg.request.model_map[1].pattern == "claude-*haiku*");
    CHECK(cfg.request.default_model == "z-ai/glm4.7");
    // The user's entry goes in front of the shipped table.
    REQUIRE(cfg.request.profiles.size() == 1 + msgbridge::default_profiles().size());
    CHECK(cfg.request.profiles[0].match == "moonshotai/*");
    CHECK(cfg.request.profiles[0].max_output_tokens == 8192u);
    CHECK_FALSE(cfg.request.profiles[0].vision);
    CHECK(cfg.request.profiles[0].replay == msgbridge::reasoning_replay::think_tags);
    CHECK(cfg.request.profiles[0].reasoning == msgbridge::reasoning_control::chat_template_kwargs);
    CHECK(cfg.request.profiles[0].extra_body == R"({"top_p":0.9})");
    CHECK(cfg.max_body_bytes == 1048576);
    CHECK(cfg.max_connections == 2048);
    CHECK(cfg.stream_idle_timeout_seconds == 60);
    CHECK(cfg.ping_interval_seconds == 3);
    CHECK_FALSE(cfg.answer_quota_probe);
}

TEST_CASE("config: models go in front of the shipped profiles unless models_replace_defaults", "[server][config]") {
    SECTION("merged: a new model's entry leaves glm its cap, and overrides what it names") {
        temp_file file(R"({"models": [{"match": "acme/new-model", "vision": false},
                                      {"match": "moonshotai/kimi-k2*", "max_output_tokens": 16384}]})");
        auto cfg = proxy::load_config(env_of({}), file.path);
        const auto& profiles = cfg.request.profiles;
        CHECK_FALSE(msgbridge::find_profile(profiles, "acme/new-model").vision);
        CHECK(msgbridge::find_profile(profiles, "z-ai/glm4.7").max_output_tokens == 131072u);
        CHECK(msgbridge::find_profile(profiles, "moonshotai/kimi-k2.5").max_output_tokens == 16384u);
        CHECK(msgbridge::find_profile(profiles, "someone/else").match == "*");
        CHECK(proxy::profile_table(cfg).size() == profiles.size());
    }
    SECTION("replaced: only the user's entries") {
        temp_file file(R"({"models_replace_defaults": true, "models": [{"match": "acme/*", "top_k": false}]})");
        auto cfg = proxy::load_config(env_of({}), file.path);
        REQUIRE(cfg.request.profiles.size() == 1);
        CHECK(cfg.request.profiles[0].match == "acme/*");
        // No shipped glm profile: the glm model gets find_profile's open fallback.
        CHECK_FALSE(msgbridge::find_profile(cfg.request.profiles, "z-ai/glm4.7").max_output_tokens.has_value());
    }
    SECTION("replacing with nothing is refused") {
        temp_file file(R"({"models_replace_defaults": true})");
        auto msg = error_of([&] { (void)proxy::load_config(env_of({}), file.path); });
        CHECK(msg.find("models_replace_defaults") != std::string::npos);
    }
    SECTION("no config file: the shipped table, one log line per profile") {
        auto cfg = proxy::load_config(env_of({}));
        const auto lines = proxy::describe_profiles(proxy::profile_table(cfg));
        REQUIRE(lines.size() == msgbridge::default_profiles().size());
        CHECK(lines[1] == R"(model profile: z-ai/glm* -> max output 131072, context 202752, vision no, top_k yes, )"
                          R"(reasoning chat_template_kwargs.enable_thinking, extra_body {"chat_template_kwargs":{"clear_thinking":false}})");
        CHECK(lines.back() == "model profile: * -> max output none, context none, vision yes, top_k yes, reasoning reasoning_effort");
    }
}

TEST_CASE("config: a bad value stops the start with one line naming it", "[server][config]") {
    SECTION("unparsable number") {
        auto msg = error_of([] { (void)proxy::load_config(env_of({{"UPSTREAM_TIMEOUT_SECONDS", "5m"}})); });
        CHECK(msg.find("UPSTREAM_TIMEOUT_SECONDS") != std::string::npos);
        CHECK(msg.find("5m") != std::string::npos);
        CHECK(msg.find('\n') == std::string::npos);
    }
    SECTION("negative number") {
        auto msg = error_of([] { (void)proxy::load_config(env_of({{"LOG_BODY_MAX_CHARS", "-1"}})); });
        CHECK(msg.find("LOG_BODY_MAX_CHARS") != std::string::npos);
    }
    SECTION("unknown rotation") {
        auto msg = error_of([] { (void)proxy::load_config(env_of({{"KEY_ROTATION", "fastest"}})); });
        CHECK(msg.find("KEY_ROTATION") != std::string::npos);
        CHECK(msg.find("fastest") != std::string::npos);
    }
    SECTION("malformed JSON in the config file") {
        temp_file file(R"({"nvidia_url": "http://x/v1", )");
        auto msg = error_of([&] { (void)proxy::load_config(env_of({}), file.path); });
        CHECK(msg.find(file.path) != std::string::npos);
        CHECK(msg.find("malformed JSON") != std::string::npos);
    }
    SECTION("a field of the wrong type") {
        temp_file file(R"({"nvidia_keys": "nvapi-not-an-array"})");
        auto msg = error_of([&] { (void)proxy::load_config(env_of({}), file.path); });
        CHECK(msg.find("nvidia_keys") != std::string::npos);
    }
    SECTION("a missing, explicitly named config file") {
        auto msg = error_of([] { (void)proxy::load_config(env_of({{"CONFIG_PATH", "/nonexistent/cfg.json"}})); });
        CHECK(msg.find("/nonexistent/cfg.json") != std::string::npos);
    }
    SECTION("an unusable listen address") {
        auto msg = error_of([] { (void)proxy::load_config(env_of({{"ADDR", "localhost"}})); });
        CHECK(msg.find("ADDR") != std::string::npos);
        msg = error_of([] { (void)proxy::load_config(env_of({{"ADDR", ":99999"}})); });
        CHECK(msg.find("ADDR") != std::string::npos);
    }
    SECTION("an upstream URL that is not http(s)") {
        auto msg = error_of([] { (void)proxy::load_config(env_of({{"UPSTREAM_URL", "ftp://x"}})); });
        CHECK(msg.find("UPSTREAM_URL") != std::string::npos);
    }
    SECTION("an unknown per-model option") {
        temp_file file(R"({"models": [{"match": "*", "visoin": false}]})");
        auto msg = error_of([&] { (void)proxy::load_config(env_of({}), file.path); });
        CHECK(msg.find("models[0].visoin") != std::string::npos);
    }
}

TEST_CASE("config: listen addresses in Go's forms", "[server][config]") {
    std::string host;
    int port = 0;
    proxy::parse_listen_addr(":3001", host, port);
    CHECK(host == "0.0.0.0");
    CHECK(port == 3001);
    proxy::parse_listen_addr("127.0.0.1:0", host, port);
    CHECK(host == "127.0.0.1");
    CHECK(port == 0);
    proxy::parse_listen_addr("[::1]:8080", host, port);
    CHECK(host == "::1");
    CHECK(port == 8080);
    CHECK(proxy::is_loopback_host("127.0.0.1"));
    CHECK(proxy::is_loopback_host("localhost"));
    CHECK(proxy::is_loopback_host("::1"));
    CHECK_FALSE(proxy::is_loopback_host("0.0.0.0"));
    CHECK_FALSE(proxy::is_loopback_host("192.168.1.2"));
}

TEST_CASE("config: command line --help, --version, --config", "[server][config]") {
    std::string override_path;
    const char* help[] = {"claude-nvidia-proxy", "--help"};
    CHECK(proxy::parse_command_line(2, help, override_path) == proxy::cli_action::help);
    const char* version[] = {"claude-nvidia-proxy", "--version"};
    CHECK(proxy::parse_command_line(2, version, override_path) == proxy::cli_action::version);
    const char* named[] = {"claude-nvidia-proxy", "--config", "/etc/proxy.json"};
    CHECK(proxy::parse_command_line(3, named, override_path) == proxy::cli_action::run);
    CHECK(override_path == "/etc/proxy.json");
    const char* bad[] = {"claude-nvidia-proxy", "--frobnicate"};
    CHECK_THROWS_AS(proxy::parse_command_line(2, bad, override_path), proxy::config_error);
    // Every environment variable of the Go original is documented in --help.
    auto text = proxy::help_text();
    for (const char* name : {"CONFIG_PATH", "PROVIDER_API_KEY", "PROVIDER_API_KEYS", "KEY_ROTATION", "UPSTREAM_URL",
                             "SERVER_API_KEY", "ADDR", "UPSTREAM_TIMEOUT_SECONDS", "LOG_BODY_MAX_CHARS",
                             "LOG_STREAM_TEXT_PREVIEW_CHARS"})
        CHECK(text.find(name) != std::string::npos);
}

TEST_CASE("config: a blank nvidia_url keeps the default URL, as in the Go original (fuzz finding)", "[server][config]") {
    proxy::config cfg;
    proxy::apply_config_json(R"({"nvidia_url":""})", "config.json", cfg);
    CHECK(cfg.upstream_url == "https://integrate.api.nvidia.com/v1/chat/completions");
    proxy::apply_config_json(R"({"nvidia_url":"  http://127.0.0.1:8000/v1/chat/completions "})", "config.json", cfg);
    CHECK(cfg.upstream_url == "http://127.0.0.1:8000/v1/chat/completions");
}

TEST_CASE("config: the upstream URL and CA file are checked at start, never echoing credentials", "[server][config]") {
    auto url_error = [](const std::string& url) {
        return error_of([&] { (void)proxy::load_config(env_of({{"UPSTREAM_URL", url}})); });
    };
    SECTION("good URLs start") {
        for (const char* url : {"https://integrate.api.nvidia.com/v1/chat/completions", "http://127.0.0.1:8000/v1/chat/completions",
                                "http://[::1]:8080/v1/chat/completions", "http://localhost:65535/v1", "https://host"}) {
            INFO(url);
            CHECK(url_error(url).empty());
        }
    }
    SECTION("a port out of range stops the start instead of wrapping (99999 would be 34463)") {
        for (const char* url : {"http://127.0.0.1:99999/v1", "http://127.0.0.1:0/v1", "http://h:65536/v1", "http://h:8o/v1",
                                "http://[::1]:70000/v1", "http://h:/v1", "http://[::1]:/v1"}) {
            INFO(url);
            const std::string message = url_error(url);
            CHECK(message.find("UPSTREAM_URL/nvidia_url") != std::string::npos);
            CHECK(message.find("port") != std::string::npos);
        }
    }
    SECTION("credentials in the URL are refused and masked") {
        const std::string message = url_error("https://user:s3cret-pw@api.example.com:443/v1/chat/completions");
        CHECK(message.find("credentials") != std::string::npos);
        CHECK(message.find("s3cret") == std::string::npos);
        CHECK(message.find("https://***@api.example.com:443/v1/chat/completions") != std::string::npos);
    }
    SECTION("no host, spaces, unclosed IPv6") {
        CHECK(url_error("http:///v1").find("no host") != std::string::npos);
        CHECK(url_error("http://h/v1 x").find("space or a control character") != std::string::npos);
        CHECK(url_error("http://[::1/v1").find("unclosed IPv6") != std::string::npos);
    }
    SECTION("a CA file that is missing or holds no certificate") {
        auto message = error_of([] { (void)proxy::load_config(env_of({{"UPSTREAM_CA_FILE", "/nonexistent/ca.pem"}})); });
        CHECK(message.find("UPSTREAM_CA_FILE") != std::string::npos);
        CHECK(message.find("/nonexistent/ca.pem") != std::string::npos);
        temp_file not_pem("just text");
        message = error_of([&] { (void)proxy::load_config(env_of({{"UPSTREAM_CA_FILE", not_pem.path}})); });
        CHECK(message.find("no PEM certificate") != std::string::npos);
    }
}

TEST_CASE("config: MODEL_MAP and DEFAULT_MODEL from the environment", "[server][config]") {
    SECTION("globs in order, spaces trimmed, the same semantics as model_map") {
        auto cfg = config_from_env({{"MODEL_MAP", " claude-sonnet-*=z-ai/glm5 , claude-haiku-*=minimaxai/minimax-m2.1"},
                                    {"DEFAULT_MODEL", "moonshotai/kimi-k2.5"}});
        REQUIRE(cfg.request.model_map.size() == 2);
        CHECK(cfg.request.model_map[0].pattern == "claude-sonnet-*");
        CHECK(cfg.request.model_map[0].upstream_model == "z-ai/glm5");
        CHECK(cfg.request.model_map[1].pattern == "claude-haiku-*");
        CHECK(cfg.request.model_map[1].upstream_model == "minimaxai/minimax-m2.1");
        CHECK(msgbridge::map_model(cfg.request, "claude-haiku-4-5-20251001") == "minimaxai/minimax-m2.1");
        CHECK(msgbridge::map_model(cfg.request, "claude-opus-4-6[1m]") == "moonshotai/kimi-k2.5");
        CHECK(msgbridge::map_model(cfg.request, "z-ai/glm4.7") == "z-ai/glm4.7");
        CHECK(proxy::describe_model_mapping(cfg) ==
              "model mapping: claude-sonnet-* -> z-ai/glm5, claude-haiku-* -> minimaxai/minimax-m2.1 (from MODEL_MAP); "
              "other claude* names -> moonshotai/kimi-k2.5 (from DEFAULT_MODEL)");
    }
    SECTION("MODEL_MAP replaces config.json's model_map entirely; DEFAULT_MODEL its default_model") {
        temp_file file(R"({"model_map":{"claude-opus-*":"moonshotai/kimi-k2.5","claude-*":"z-ai/glm4.7"},
                           "default_model":"z-ai/glm4.7"})");
        const std::string& name = file.path;
        auto from_file = config_from_env({{"CONFIG_PATH", name}});
        CHECK(from_file.request.model_map.size() == 2);
        CHECK(proxy::describe_model_mapping(from_file).find("(from " + name + ": model_map)") !=
              std::string::npos);
        auto cfg = config_from_env({{"CONFIG_PATH", name}, {"MODEL_MAP", "claude-sonnet-*=z-ai/glm5"},
                                    {"DEFAULT_MODEL", "minimaxai/minimax-m2.1"}});
        REQUIRE(cfg.request.model_map.size() == 1);
        CHECK(cfg.request.model_map[0].pattern == "claude-sonnet-*");
        CHECK(cfg.request.default_model == "minimaxai/minimax-m2.1");
        CHECK(msgbridge::map_model(cfg.request, "claude-opus-4-6") == "minimaxai/minimax-m2.1");
    }
    SECTION("no mapping at all says how to add one") {
        auto cfg = config_from_env({});
        CHECK(proxy::describe_model_mapping(cfg).find("none, client model names go upstream unchanged (set MODEL_MAP or "
                                                      "DEFAULT_MODEL") != std::string::npos);
    }
    SECTION("bad syntax is a configuration error naming the entry") {
        CHECK(config_error_of({{"MODEL_MAP", "claude-sonnet-*=z-ai/glm5,claude-haiku-*"}}) ==
              "MODEL_MAP entry 2 'claude-haiku-*': expected client-pattern=upstream-model, e.g. claude-sonnet-*=z-ai/glm5");
        CHECK(config_error_of({{"MODEL_MAP", "claude-sonnet-*=z-ai/glm5,,x=y"}}) ==
              "MODEL_MAP entry 2 is empty (a stray comma?)");
        CHECK(config_error_of({{"MODEL_MAP", "=z-ai/glm5"}}) ==
              "MODEL_MAP entry 1 '=z-ai/glm5': the client model pattern before '=' is empty");
        CHECK(config_error_of({{"MODEL_MAP", "claude-*= "}}) ==
              "MODEL_MAP entry 1 'claude-*=': the upstream model after '=' is empty");
        CHECK(config_error_of({{"MODEL_MAP", "claude-*=a=b"}}) == "MODEL_MAP entry 1 'claude-*=a=b': more than one '='");
    }
}

TEST_CASE("config: FORWARD_USER_ID and forward_user_id", "[server][config]") {
    CHECK(config_from_env({}).request.forward_user_id == msgbridge::user_id_forwarding::off);
    CHECK(config_from_env({{"FORWARD_USER_ID", "hash"}}).request.forward_user_id == msgbridge::user_id_forwarding::hash);
    CHECK(config_from_env({{"FORWARD_USER_ID", "as_is"}}).request.forward_user_id == msgbridge::user_id_forwarding::as_is);
    CHECK(config_error_of({{"FORWARD_USER_ID", "yes"}}) == "FORWARD_USER_ID: unknown value 'yes' (expected off, as_is or hash)");
    proxy::config cfg;
    proxy::apply_config_json(R"({"forward_user_id":"hash"})", "config.json", cfg);
    CHECK(cfg.request.forward_user_id == msgbridge::user_id_forwarding::hash);
}

TEST_CASE("config: a reload keeps the settings bound at start and names those it tried to change", "[server][config]") {
    const auto running = proxy::load_config(env_of({{"CONFIG_PATH", ""}, {"ADDR", "127.0.0.1:0"}}));
    SECTION("the same address spelled another way is no change") {
        auto reloaded = proxy::load_config(env_of({{"CONFIG_PATH", ""}, {"ADDR", "127.0.0.1:00"}}));
        CHECK(proxy::keep_startup_settings(running, reloaded).empty());
    }
    SECTION("each changed one is named and keeps its running value; reloadable ones change") {
        const temp_file file(R"({"addr": ":4000", "max_connections": 7, "max_body_bytes": 4096,
                                 "keep_alive_timeout_seconds": 9, "client_read_timeout_seconds": 11,
                                 "client_header_timeout_seconds": 13, "client_body_timeout_seconds": 14,
                                 "upstream_timeout_seconds": 12})");
        auto reloaded = proxy::load_config(env_of({}), file.path);
        CHECK(proxy::keep_startup_settings(running, reloaded) ==
              std::vector<std::string>{"ADDR/addr", "MAX_CONNECTIONS/max_connections", "MAX_BODY_BYTES/max_body_bytes",
                                       "keep_alive_timeout_seconds",
                                       "CLIENT_READ_TIMEOUT_SECONDS/client_read_timeout_seconds",
                                       "CLIENT_HEADER_TIMEOUT_SECONDS/client_header_timeout_seconds",
                                       "CLIENT_BODY_TIMEOUT_SECONDS/client_body_timeout_seconds"});
        CHECK(reloaded.addr == "127.0.0.1:0");
        CHECK(reloaded.listen_host == "127.0.0.1");
        CHECK(reloaded.listen_port == 0);
        CHECK(reloaded.max_connections == running.max_connections);
        CHECK(reloaded.max_body_bytes == running.max_body_bytes);
        CHECK(reloaded.keep_alive_timeout_seconds == running.keep_alive_timeout_seconds);
        CHECK(reloaded.client_read_timeout_seconds == running.client_read_timeout_seconds);
        CHECK(reloaded.client_header_timeout_seconds == running.client_header_timeout_seconds);
        CHECK(reloaded.client_body_timeout_seconds == running.client_body_timeout_seconds);
        CHECK(reloaded.upstream_timeout_seconds == 12);
    }
}
