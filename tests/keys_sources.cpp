#include <catch2/catch.hpp>

#include <msgbridge/keys.hpp>

#include "support/keys_test_support.hpp"

using msgbridge::collect_keys;
using msgbridge::key_source;
using msgbridge::key_sources;
using keys_test::same_secret;
using keys_test::test_key;

TEST_CASE("sources: the Go original's precedence, highest non-empty source wins", "[keys]") {
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

TEST_CASE("sources: collected keys are trimmed, de-duplicated and blank-free, in order", "[keys]") {
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

TEST_CASE("sources: PROVIDER_API_KEY is one key, never split on commas", "[keys]") {
    key_sources sources;
    sources.provider_api_key = test_key(1) + "," + test_key(2);
    const auto got = collect_keys(sources);
    REQUIRE(got.keys.size() == 1);
    CHECK(same_secret(got.keys[0], test_key(1) + "," + test_key(2)));
}

TEST_CASE("sources: each source is named as the user wrote it", "[keys]") {
    CHECK(msgbridge::to_string(key_source::provider_api_keys) == "PROVIDER_API_KEYS");
    CHECK(msgbridge::to_string(key_source::provider_api_key) == "PROVIDER_API_KEY");
    CHECK(msgbridge::to_string(key_source::nvidia_keys) == "nvidia_keys");
    CHECK(msgbridge::to_string(key_source::nvidia_key) == "nvidia_key");
    CHECK(msgbridge::to_string(key_source::none) == "none");
}

TEST_CASE("rotation: strategies parse from their wire names", "[keys]") {
    using msgbridge::parse_rotation;
    using msgbridge::rotation;
    SECTION("the three names, with blanks around them") {
        CHECK(parse_rotation("round_robin").value() == rotation::round_robin);
        CHECK(parse_rotation("random").value() == rotation::random);
        CHECK(parse_rotation(" least_used\n").value() == rotation::least_used);
    }
    SECTION("empty means the default, round_robin") {
        CHECK(parse_rotation("").value() == rotation::round_robin);
        CHECK(parse_rotation("  ").value() == rotation::round_robin);
    }
    SECTION("names round-trip through to_string") {
        for (rotation r : {rotation::round_robin, rotation::random, rotation::least_used}) {
            CHECK(parse_rotation(msgbridge::to_string(r)).value() == r);
        }
    }
    SECTION("an unknown strategy is an invalid_request_error naming the field and the choices") {
        const auto got = parse_rotation("sideways", "KEY_ROTATION");
        REQUIRE_FALSE(got.has_value());
        CHECK(got.error().type == msgbridge::error_type::invalid_request_error);
        CHECK(got.error().message ==
              "KEY_ROTATION: unknown key rotation strategy \"sideways\"; expected round_robin, random or least_used");
        CHECK(parse_rotation("Round_Robin").has_value() == false);
        CHECK(parse_rotation("LRU").error().message.rfind("key_rotation: ", 0) == 0);
    }
    SECTION("a key pasted into the strategy is not echoed in the error") {
        const auto got = parse_rotation(test_key(1));
        REQUIRE_FALSE(got.has_value());
        CHECK_FALSE(keys_test::contains_marker(got.error().message));
        CHECK(got.error().message == "key_rotation: unknown key rotation strategy; expected round_robin, random or least_used");
    }
}
