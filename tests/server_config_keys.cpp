// Where the server takes its upstream keys from: the Go original's four
// sources and their precedence (docs/configuration.md).
#include <catch2/catch.hpp>

#include "config.hpp"
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
    CHECK(proxy::to_string(key_source::provider_api_key) == "PROVIDER_API_KEY");
    CHECK(proxy::to_string(key_source::nvidia_keys) == "nvidia_keys");
    CHECK(proxy::to_string(key_source::nvidia_key) == "nvidia_key");
    CHECK(proxy::to_string(key_source::none) == "none");
}
