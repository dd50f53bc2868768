// The mock upstream's canned non-streaming answer, shared by both mocks so the
// comparison between them is of the servers only.
// SPDX-License-Identifier: MIT
#pragma once

namespace bench {

inline constexpr const char* canned_answer_body =
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1700000000,"
    "\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":\"Hello! This canned answer comes from the benchmark's mock upstream; it is about "
    "as long as a short reply from a chat model, two sentences.\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":42,\"completion_tokens\":30,\"total_tokens\":72}}";

}  // namespace bench
