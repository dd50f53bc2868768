// Where the server takes its upstream keys from: the Go original's four
// sources, our key file, and their precedence (docs/configuration.md).
#include <catch2/catch.hpp>

#include "config.hpp"
#include "support/config_test_support.hpp"
#include "support/keys_test_support.hpp"

using proxy::collect_keys;
using proxy::key_source;
using proxy::key_sources;
using keys_test::same_secret;
using keys_test::test_key;

TEST_CASE("config keys: the Go original's precedence, highest non-empty source wins", "[server][config]") {
    key_sources all;
    all.provider_api_keys = test_key(1) + "," + test_key(2);
    all.provider_api_key = test_key(3);
    all.nvidia_keys = {test_key(4), test_key(5)};
    all.nvidia_key = test_key(6);

    SECTION("PROVIDER_API_KEYS beats everything, and sources are never merged") {
        const auto got = collect_keys(all);
        CHECK(got.source == key_source::provider_api_keys);
        REQUIRE(got.keys.size() == 2);
        CHECK(same_secret(got.keys[0], test_key(1)));
        CHECK(same_secret(got.keys[1], test_key(2)));
    }
    SECTION("then PROVIDER_API_KEY") {
        all.provider_api_keys.clear();
        const auto got = collect_keys(all);
        CHECK(got.source == key_source::provider_api_key);
        REQUIRE(got.keys.size() == 1);
        CHECK(same_secret(got.keys[0], test_key(3)));
    }
    SECTION("then the config's nvidia_keys") {
        all.provider_api_keys.clear();
        all.provider_api_key.clear();
        const auto got = collect_keys(all);
        CHECK(got.source == key_source::nvidia_keys);
        REQUIRE(got.keys.size() == 2);
        CHECK(same_secret(got.keys[0], test_key(4)));
        CHECK(same_secret(got.keys[1], test_key(5)));
    }
    SECTION("then the deprecated nvidia_key") {
        all.provider_api_keys.clear();
        all.provider_api_key.clear();
        all.nvidia_keys.clear();
        const auto got = collect_keys(all);
        CHECK(got.source == key_source::nvidia_key);
        REQUIRE(got.keys.size() == 1);
        CHECK(same_secret(got.keys[0], test_key(6)));
    }
    SECTION("a source of only blanks and commas counts as empty and falls through") {
        all.provider_api_keys = " , ,\t,";
        all.provider_api_key = "   ";
        all.nvidia_keys = {"", "  "};
        const auto got = collect_keys(all);
        CHECK(got.source == key_source::nvidia_key);
        CHECK(got.keys.size() == 1);
    }
    SECTION("no source at all is allowed: local upstreams need no key") {
        const auto got = collect_keys(key_sources{});
        CHECK(got.source == key_source::none);
        CHECK(got.keys.empty());
    }
}

TEST_CASE("config keys: collected keys are trimmed, de-duplicated and blank-free, in order", "[server][config]") {
    key_sources sources;
    sources.provider_api_keys = "  " + test_key(2) + " ,," + test_key(1) + "\t, " + test_key(2) + " ,\r\n" + test_key(3) + ",";
    const auto got = collect_keys(sources);
    REQUIRE(got.keys.size() == 3);
    CHECK(same_secret(got.keys[0], test_key(2)));
    CHECK(same_secret(got.keys[1], test_key(1)));
    CHECK(same_secret(got.keys[2], test_key(3)));

    key_sources config;
    config.nvidia_keys = {" " + test_key(7), test_key(7), "", test_key(8) + "\n"};
    const auto from_config = collect_keys(config);
    REQUIRE(from_config.keys.size() == 2);
    CHECK(same_secret(from_config.keys[0], test_key(7)));
    CHECK(same_secret(from_config.keys[1], test_key(8)));
}

TEST_CASE("config keys: PROVIDER_API_KEY is one key, never split on commas", "[server][config]") {
    key_sources sources;
    sources.provider_api_key = test_key(1) + "," + test_key(2);
    const auto got = collect_keys(sources);
    REQUIRE(got.keys.size() == 1);
    CHECK(same_secret(got.keys[0], test_key(1) + "," + test_key(2)));
}

TEST_CASE("config keys: each source is named as the user wrote it", "[server][config]") {
    CHECK(proxy::to_string(key_source::provider_api_keys) == "PROVIDER_API_KEYS");
    CHECK(proxy::to_string(key_source::provider_api_keys_file) == "PROVIDER_API_KEYS_FILE");
    CHECK(proxy::to_string(key_source::provider_api_key) == "PROVIDER_API_KEY");
    CHECK(proxy::to_string(key_source::nvidia_keys) == "nvidia_keys");
    CHECK(proxy::to_string(key_source::nvidia_key) == "nvidia_key");
    CHECK(proxy::to_string(key_source::none) == "none");
}

TEST_CASE("config keys: the PROVIDER_API_KEYS_FILE text", "[server][config]") {
    SECTION("holds keys one a line or comma-separated, with # comments, blank lines and CRLF") {
        key_sources sources;
        sources.provider_api_keys_file = "# rotated 2026-12-01\r\n" + test_key(1) + "\r\n\n  " + test_key(2) + " , " +
                                         test_key(3) + "  # the team's key\n#" + test_key(4) + "\n" + test_key(1);
        const auto got = collect_keys(sources);
        CHECK(got.source == key_source::provider_api_keys_file);
        REQUIRE(got.keys.size() == 3);
        CHECK(same_secret(got.keys[0], test_key(1)));
        CHECK(same_secret(got.keys[1], test_key(2)));
        CHECK(same_secret(got.keys[2], test_key(3)));
    }
    SECTION("comes right after PROVIDER_API_KEYS, before PROVIDER_API_KEY") {
        key_sources sources;
        sources.provider_api_keys_file = test_key(5);
        sources.provider_api_key = test_key(6);
        sources.nvidia_keys = {test_key(7)};
        CHECK(collect_keys(sources).source == key_source::provider_api_keys_file);
        sources.provider_api_keys = test_key(8);
        CHECK(collect_keys(sources).source == key_source::provider_api_keys);
    }
}

TEST_CASE("config keys: PROVIDER_API_KEYS_FILE is read by load_config, again at every call", "[server][config]") {
    using config_test::env_of;
    using config_test::error_of;
    const config_test::temp_file keys_file(test_key(1) + "\n" + test_key(2) + "\n");
    const auto env = env_of({{"CONFIG_PATH", ""}, {"PROVIDER_API_KEYS_FILE", keys_file.path}});

    auto cfg = proxy::load_config(env);
    CHECK(cfg.keys_from == key_source::provider_api_keys_file);
    CHECK(cfg.keys_file == keys_file.path);
    REQUIRE(cfg.keys.size() == 2);
    CHECK(same_secret(cfg.keys[1], test_key(2)));

    SECTION("a rewritten file gives the new keys: what a reload reads") {
        keys_file.write(test_key(3) + "\n");
        cfg = proxy::load_config(env);
        REQUIRE(cfg.keys.size() == 1);
        CHECK(same_secret(cfg.keys[0], test_key(3)));
    }
    SECTION("a file without keys is an error, not a fall back to other keys") {
        keys_file.write("# emptied while rotating\n\n");
        const auto message = error_of([&] { (void)proxy::load_config(env); });
        CHECK(message == "PROVIDER_API_KEYS_FILE: '" + keys_file.path + "' holds no keys");
    }
    SECTION("a missing file is an error naming the variable and the path") {
        const auto message = error_of([] {
            (void)proxy::load_config(env_of({{"CONFIG_PATH", ""}, {"PROVIDER_API_KEYS_FILE", "/nonexistent/keys.txt"}}));
        });
        CHECK(message == "PROVIDER_API_KEYS_FILE: cannot read '/nonexistent/keys.txt': No such file or directory");
    }
    SECTION("setting it together with PROVIDER_API_KEYS is an error") {
        const auto message = error_of([&] {
            (void)proxy::load_config(env_of({{"CONFIG_PATH", ""},
                                             {"PROVIDER_API_KEYS_FILE", keys_file.path},
                                             {"PROVIDER_API_KEYS", test_key(4)}}));
        });
        CHECK(message == "PROVIDER_API_KEYS and PROVIDER_API_KEYS_FILE are both set: give the keys in one of them");
    }
}
