#include <catch2/catch.hpp>

#include <msgbridge/keys.hpp>

#include "support/keys_test_support.hpp"

using keys_test::contains_marker;
using keys_test::secret;
using msgbridge::redact_key;

TEST_CASE("redact: a short vendor prefix and the last four characters are kept", "[keys]") {
    CHECK(redact_key(keys_test::test_key(7)) == "nvapi-\xE2\x80\xA6k007");
    CHECK(redact_key(secret("nvapi-", 70, "3f9a")) == "nvapi-\xE2\x80\xA6" "3f9a");
    CHECK(redact_key(secret("sk-", 51, "Zz09")) == "sk-\xE2\x80\xA6Zz09");
}

TEST_CASE("redact: a prefix that is not short is dropped", "[keys]") {
    SECTION("no dash at all") { CHECK(redact_key(secret("", 40, "abcd")) == "\xE2\x80\xA6" "abcd"); }
    SECTION("the first dash is past the eighth byte") {
        CHECK(redact_key(secret("longvendor-", 40, "abcd")) == "\xE2\x80\xA6" "abcd");
    }
    SECTION("a dash at the eighth byte still counts") {
        CHECK(redact_key(secret("vendor7-", 40, "abcd")) == "vendor7-\xE2\x80\xA6" "abcd");
    }
}

TEST_CASE("redact: short keys show nothing, whatever their length", "[keys]") {
    for (std::size_t length = 0; length < 16; ++length) {
        CHECK(redact_key(secret("nvapi-", length, "wxyz")) == "[redacted]");
    }
    CHECK(redact_key(secret("nvapi-", 16, "wxyz")) == "nvapi-\xE2\x80\xA6wxyz");
}

TEST_CASE("redact: never the key, never its secret middle", "[keys]") {
    // Counted rather than checked one by one: the values must stay out of Catch's output.
    std::size_t checked = 0, leaked = 0, too_long = 0;
    for (std::size_t length = 0; length < 200; ++length) {
        for (const char* prefix : {"", "nvapi-", "sk-", "a-"}) {
            const std::string key = secret(prefix, length, "tail");
            const std::string redacted = redact_key(key);
            ++checked;
            if (contains_marker(redacted) || (!key.empty() && keys_test::same_secret(redacted, key))) ++leaked;
            if (redacted.size() > 8 + 3 + 4) ++too_long;
        }
    }
    CHECK(checked == 800);
    CHECK(leaked == 0);
    CHECK(too_long == 0);
}

TEST_CASE("redact: unprintable bytes in the tail become ?", "[keys]") {
    std::string key = secret("nvapi-", 30, "ab");
    key += "\n\x01";
    CHECK(redact_key(key) == "nvapi-\xE2\x80\xA6" "ab??");
}
