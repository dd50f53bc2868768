// msgbridge: Anthropic Messages <-> OpenAI Chat Completions conversion.
// SPDX-License-Identifier: MIT
#pragma once

/// Library version as one integer, MMmmpp (fmt style): 000100 is 0.1.0.
#define MSGBRIDGE_VERSION 000100

// The inline namespace carries the major version, so two vendored copies of
// different majors in one binary fail to link instead of mixing silently.
#ifndef MSGBRIDGE_BEGIN_NAMESPACE
#  define MSGBRIDGE_BEGIN_NAMESPACE \
    namespace msgbridge {           \
    inline namespace v0 {
#  define MSGBRIDGE_END_NAMESPACE \
    }                             \
    }
#endif

#ifndef MSGBRIDGE_ASSERT
#  include <cassert>
#  define MSGBRIDGE_ASSERT(condition) assert(condition)
#endif

MSGBRIDGE_BEGIN_NAMESPACE
/// The version as a string, for `--version` and logs.
inline constexpr const char* version_string = "0.1.0";
MSGBRIDGE_END_NAMESPACE
