// The one redaction rule (docs/keys.md#redaction). What the server makes of
// it in its logs, errors and /health is pinned in server_key_redaction.cpp.
#include <catch2/catch.hpp>

#include <msgbridge/keys.hpp>

#include "support/keys_test_support.hpp"

using keys_test::contains_marker;
using keys_test::secret;
using msgbridge::redact_key;

TEST_CASE("redact: a public vendor prefix and the last four bytes of a long secret are kept", "[keys]") {
    CHECK(redact_key(keys_test::test_key(7)) == "nvapi-\xE2\x80\xA6k007");
    CHECK(redact_key(secret("nvapi-", 70, "3f9a")) == "nvapi-\xE2\x80\xA6" "3f9a");
    CHECK(redact_key(secret("sk-", 51, "Zz09")) == "sk-\xE2\x80\xA6Zz09");
}

TEST_CASE("redact: only nvapi- and sk- are public prefixes", "[keys]") {
    SECTION("no dash at all") { CHECK(redact_key(secret("", 40, "abcd")) == "\xE2\x80\xA6" "abcd"); }
    SECTION("the part before a dash is secret like the rest") {
        CHECK(redact_key(secret("vendor7-", 40, "abcd")) == "\xE2\x80\xA6" "abcd");
        CHECK(redact_key(secret("a-", 40, "abcd")) == "\xE2\x80\xA6" "abcd");
    }
    SECTION("a prefix must start the key") {
        CHECK(redact_key(secret("x-nvapi-", 40, "abcd")) == "\xE2\x80\xA6" "abcd");
    }
}

TEST_CASE("redact: the tail is shown only when it is at most an eighth of the secret", "[keys]") {
    SECTION("32 bytes after the prefix show four; 31 show nothing") {
        CHECK(redact_key(secret("", 32, "wxyz")) == "\xE2\x80\xA6wxyz");
        CHECK(redact_key(secret("", 31, "wxyz")) == "[redacted]");
        CHECK(redact_key(secret("nvapi-", 6 + 32, "wxyz")) == "nvapi-\xE2\x80\xA6wxyz");
        CHECK(redact_key(secret("nvapi-", 6 + 31, "wxyz")) == "[redacted]");
        CHECK(redact_key(secret("sk-", 3 + 31, "wxyz")) == "[redacted]");
    }
    SECTION("short keys show nothing, whatever their length") {
        for (std::size_t length = 0; length < 32; ++length) {
            CHECK(redact_key(secret("", length, "wxyz")) == "[redacted]");
        }
        CHECK(redact_key("sk-") == "[redacted]");
        CHECK(redact_key("nvapi-") == "[redacted]");
    }
}

TEST_CASE("redact: a pool's id adds the key's index, so keys that redact alike stay apart", "[keys]") {
    CHECK(redact_key(secret("", 8, "abcd"), 0) == "[redacted]#0");
    CHECK(redact_key(secret("", 12, "abcd"), 1) == "[redacted]#1");
    CHECK(redact_key(secret("nvapi-", 70, "3f9a"), 12) == "nvapi-\xE2\x80\xA6" "3f9a#12");
    msgbridge::key_pool pool({"k", "abcd-efghijk", secret("sk-", 51, "same"), secret("sk-", 60, "same")});
    CHECK(pool.redacted_id(0) == "[redacted]#0");
    CHECK(pool.redacted_id(1) == "[redacted]#1");
    CHECK(pool.redacted_id(2) == "sk-\xE2\x80\xA6same#2");
    CHECK(pool.redacted_id(3) == "sk-\xE2\x80\xA6same#3");
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
            if (redacted.size() > 6 + 3 + 4) ++too_long;
        }
    }
    CHECK(checked == 800);
    CHECK(leaked == 0);
    CHECK(too_long == 0);
}

TEST_CASE("redact: unprintable bytes, blanks and UTF-8 in the tail become ?", "[keys]") {
    std::string key = secret("nvapi-", 40, "ab");
    key += "\n\x01";
    CHECK(redact_key(key) == "nvapi-\xE2\x80\xA6" "ab??");
    CHECK(redact_key(secret("", 40, "a b\xC3\xA9")) == "\xE2\x80\xA6" "?b??");
}
