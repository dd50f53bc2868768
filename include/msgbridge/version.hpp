// msgbridge: Anthropic Messages <-> OpenAI Chat Completions conversion.
// SPDX-License-Identifier: MIT
#pragma once

// The one place the version is written: CMakeLists.txt reads these three
// lines for project(VERSION), so a copy of include/ used without CMake and a
// CMake package can never disagree.
#define MSGBRIDGE_VERSION_MAJOR 0
#define MSGBRIDGE_VERSION_MINOR 1
#define MSGBRIDGE_VERSION_PATCH 0

/// The version as one integer, major * 10000 + minor * 100 + patch (fmt
/// style): 0.1.0 is 100, 1.2.3 is 10203. For `#if MSGBRIDGE_VERSION >= 100`.
#define MSGBRIDGE_VERSION \
    (MSGBRIDGE_VERSION_MAJOR * 10000 + MSGBRIDGE_VERSION_MINOR * 100 + MSGBRIDGE_VERSION_PATCH)

#define MSGBRIDGE_DETAIL_STRINGIFY_(x) #x
#define MSGBRIDGE_DETAIL_STRINGIFY(x) MSGBRIDGE_DETAIL_STRINGIFY_(x)
#define MSGBRIDGE_DETAIL_CONCAT_(a, b) a##b
#define MSGBRIDGE_DETAIL_CONCAT(a, b) MSGBRIDGE_DETAIL_CONCAT_(a, b)

// The inline namespace carries the major version (v0, v1, ...), so two
// vendored copies of different majors in one binary fail to link instead of
// mixing silently.
#ifndef MSGBRIDGE_BEGIN_NAMESPACE
#  define MSGBRIDGE_BEGIN_NAMESPACE \
    namespace msgbridge {           \
    inline namespace MSGBRIDGE_DETAIL_CONCAT(v, MSGBRIDGE_VERSION_MAJOR) {
#  define MSGBRIDGE_END_NAMESPACE \
    }                             \
    }
#endif

#ifndef MSGBRIDGE_ASSERT
#  include <cassert>
#  define MSGBRIDGE_ASSERT(condition) assert(condition)
#endif

MSGBRIDGE_BEGIN_NAMESPACE
/// The version as a string ("0.1.0"), for `--version` and logs.
inline constexpr const char* version_string = MSGBRIDGE_DETAIL_STRINGIFY(MSGBRIDGE_VERSION_MAJOR) "." MSGBRIDGE_DETAIL_STRINGIFY(
    MSGBRIDGE_VERSION_MINOR) "." MSGBRIDGE_DETAIL_STRINGIFY(MSGBRIDGE_VERSION_PATCH);
MSGBRIDGE_END_NAMESPACE
