// msgbridge: convert Anthropic Messages API requests and responses to and
// from OpenAI Chat Completions, and rotate upstream keys. Header-only; needs
// simdjson (parsing) and RapidJSON (writing). See README.md and docs/.
// SPDX-License-Identifier: MIT
#pragma once

#include "msgbridge/version.hpp"
#include "msgbridge/error.hpp"
#include "msgbridge/options.hpp"
#include "msgbridge/request.hpp"
#include "msgbridge/response.hpp"
#include "msgbridge/stream.hpp"
#include "msgbridge/keys.hpp"
#include "msgbridge/json_writer.hpp"
