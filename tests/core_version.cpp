// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>
#include <msgbridge/version.hpp>

#include <string>

// The comparison users write must hold for this very version: the integer is
// decimal (a leading zero once made it octal, 000100 == 64).
static_assert(MSGBRIDGE_VERSION == MSGBRIDGE_VERSION_MAJOR * 10000 + MSGBRIDGE_VERSION_MINOR * 100 + MSGBRIDGE_VERSION_PATCH);
#if MSGBRIDGE_VERSION < 100
#  error "MSGBRIDGE_VERSION must be at least 100 (0.1.0)"
#endif

TEST_CASE("version: one version, read by CMake from version.hpp", "[version]") {
    SECTION("the integer is major * 10000 + minor * 100 + patch") {
        CHECK(MSGBRIDGE_VERSION == MSGBRIDGE_VERSION_MAJOR * 10000 + MSGBRIDGE_VERSION_MINOR * 100 + MSGBRIDGE_VERSION_PATCH);
        CHECK(MSGBRIDGE_VERSION >= 100);
    }
    SECTION("the string spells the same numbers") {
        const std::string expected = std::to_string(MSGBRIDGE_VERSION_MAJOR) + "." +
                                     std::to_string(MSGBRIDGE_VERSION_MINOR) + "." +
                                     std::to_string(MSGBRIDGE_VERSION_PATCH);
        CHECK(std::string(msgbridge::version_string) == expected);
    }
    SECTION("CMake's project(VERSION) is the header's") {
        CHECK(std::string(msgbridge::version_string) == MSGBRIDGE_TEST_PROJECT_VERSION);
    }
    SECTION("the inline namespace carries the major version") {
        CHECK(&msgbridge::version_string == &msgbridge::MSGBRIDGE_DETAIL_CONCAT(v, MSGBRIDGE_VERSION_MAJOR)::version_string);
    }
}
