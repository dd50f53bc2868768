// SPDX-License-Identifier: MIT
#include "local_answers.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <msgbridge/json_writer.hpp>
#include <msgbridge/response.hpp>
#include <msgbridge/stream.hpp>
#include <msgbridge/version.hpp>

#include "metrics.hpp"
#include "routes.hpp"

namespace proxy {
namespace {

// ---- Claude Code's quota probe ----

void write_local_header(msgbridge::json_writer& w, const std::string& upstream_model, std::string_view object) {
    w.start_object();
    w.key("id");
    w.string("chatcmpl-local-quota");
    w.key("object");
    w.string(object);
    w.key("created");
    w.uint64(0);
    w.key("model");
    w.string(upstream_model);
}

void write_local_usage(msgbridge::json_writer& w, std::uint64_t input_tokens) {
    w.key("usage");
    w.start_object();
    w.key("prompt_tokens");
    w.uint64(input_tokens);
    w.key("completion_tokens");
    w.uint64(1);
    w.key("total_tokens");
    w.uint64(input_tokens + 1);
    w.end_object();
}

// One choice: `message` or `delta` saying "ok" (or nothing), and its finish_reason (none: null).
void write_local_choice(msgbridge::json_writer& w, std::string_view message_key, bool with_text,
                        std::string_view finish_reason) {
    w.key("choices");
    w.start_array();
    w.start_object();
    w.key("index");
    w.uint64(0);
    w.key(message_key);
    w.start_object();
    if (with_text) {
        w.key("role");
        w.string("assistant");
        w.key("content");
        w.string("ok");
    }
    w.end_object();
    w.key("finish_reason");
    if (finish_reason.empty()) w.null();
    else w.string(finish_reason);
    w.end_object();
    w.end_array();
}

// The OpenAI answer the upstream would have given, so that the local answer
// has exactly the shapes a real one has.
std::string local_completion(const std::string& upstream_model, std::uint64_t input_tokens) {
    msgbridge::json_writer w;
    write_local_header(w, upstream_model, "chat.completion");
    write_local_choice(w, "message", true, "length");
    write_local_usage(w, input_tokens);
    w.end_object();
    return w.str();
}

std::string local_completion_stream(const std::string& upstream_model, std::uint64_t input_tokens) {
    msgbridge::json_writer w;
    write_local_header(w, upstream_model, "chat.completion.chunk");
    write_local_choice(w, "delta", true, {});
    w.end_object();
    std::string out = "data: " + w.str() + "\n\n";
    w.reset();
    write_local_header(w, upstream_model, "chat.completion.chunk");
    write_local_choice(w, "delta", false, "length");
    write_local_usage(w, input_tokens);
    w.end_object();
    out += "data: " + w.str() + "\n\ndata: [DONE]\n\n";
    return out;
}

// A stream whose bytes are all known up front.
class fixed_stream final : public body_stream {
public:
    explicit fixed_stream(std::string bytes) : bytes_(std::move(bytes)) {}
    bool next(std::string& out) override {
        out += bytes_;
        bytes_.clear();
        return false;
    }
    void cancel() override {}

private:
    std::string bytes_;
};

// ---- models ----

// The Claude model ids of Anthropic's TypeScript SDK 1.13.0 (its `Model`
// type), newest first: the names clients send, so the ones a model_map glob
// or default_model serves can be listed one by one.
constexpr std::string_view known_claude_models[] = {
    "claude-fable-5-2",  "claude-mythos-5-2", "claude-haiku-5-5",          "claude-sonnet-5-5",
    "claude-fable-5-1",  "claude-opus-5-5",   "claude-mythos-5-1",         "claude-sonnet-5",
    "claude-fable-5",    "claude-mythos-5",   "claude-opus-5",             "claude-opus-4-8",
    "claude-opus-4-7",   "claude-mythos-preview", "claude-opus-4-6",       "claude-sonnet-4-6",
    "claude-haiku-4-5",  "claude-haiku-4-5-20251001", "claude-opus-4-5",   "claude-opus-4-5-20251101",
    "claude-sonnet-4-5", "claude-sonnet-4-5-20250929",
};

struct listed_model {
    std::string id;
    std::string upstream_model;  ///< what a request naming `id` reaches; also its display name
};

bool has_glob(std::string_view text) { return text.find_first_of("*?") != std::string_view::npos; }

// Claude Code lists only ids beginning with "claude" or "anthropic", so the
// names the mapping serves come first, each showing the upstream model it
// becomes; then the upstream models themselves for other clients.
std::vector<listed_model> model_list(const msgbridge::request_options& options,
                                     const std::vector<std::string>& upstream_ids) {
    std::vector<listed_model> list;
    auto add = [&](std::string_view id, std::string_view upstream) {
        for (const auto& m : list) {
            if (m.id == id) return;
        }
        list.push_back({std::string(id), std::string(upstream)});
    };
    for (const auto& alias : options.model_map) {
        if (!has_glob(alias.pattern)) add(alias.pattern, alias.upstream_model);
    }
    for (std::string_view id : known_claude_models) {
        const std::string_view upstream = msgbridge::map_model(options, id);
        if (upstream != id) add(id, upstream);
    }
    for (const auto& alias : options.model_map) add(alias.upstream_model, alias.upstream_model);
    if (!options.default_model.empty()) add(options.default_model, options.default_model);
    for (const auto& profile : options.profiles) {
        if (!has_glob(profile.match)) add(profile.match, profile.match);
    }
    for (const auto& id : upstream_ids) add(id, id);
    return list;
}

void write_optional(msgbridge::json_writer& w, std::string_view key, const std::optional<std::uint32_t>& value) {
    w.key(key);
    if (value) w.uint64(*value);
    else w.null();
}

// Anthropic's ModelInfo. The limits are those of the upstream model's
// profile, which is what a client sizing its context should know.
void write_model(msgbridge::json_writer& w, const listed_model& m, const std::vector<msgbridge::model_profile>& profiles) {
    const msgbridge::model_profile& profile = msgbridge::find_profile(profiles, m.upstream_model);
    w.start_object();
    w.key("type");
    w.string("model");
    w.key("id");
    w.string(m.id);
    w.key("display_name");
    w.string(m.upstream_model);
    // The proxy does not know when the upstream published a model; a fixed date keeps the shape valid.
    w.key("created_at");
    w.string("2025-01-01T00:00:00Z");
    w.key("capabilities");
    w.null();
    w.key("deprecated_at");
    w.null();
    w.key("lifecycle");
    w.string("active");
    w.key("line");
    w.null();
    write_optional(w, "max_input_tokens", profile.context_window);
    write_optional(w, "max_tokens", profile.max_output_tokens);
    w.key("retires_at");
    w.null();
    w.end_object();
}

std::vector<msgbridge::model_profile> profiles_of(const msgbridge::request_options& options) {
    return options.profiles.empty() ? msgbridge::default_profiles() : options.profiles;
}

std::string query_param(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        auto eq = pair.find('=');
        if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return {};
}

// Where `id` is in `list`: the position after it (after_id) or of it (before_id); `fallback` when absent.
std::size_t position_of(const std::vector<listed_model>& list, const std::string& id, std::size_t offset,
                        std::size_t fallback) {
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (list[i].id == id) return i + offset;
    }
    return fallback;
}

}  // namespace

http_response quota_probe_answer(const msgbridge::converted_request& converted) {
    const std::uint64_t input_tokens = converted.context.estimated_input_tokens;
    http_response res;
    if (converted.stream) {
        msgbridge::stream_converter local(converted.context);
        std::string events;
        local.feed(local_completion_stream(converted.upstream_model, input_tokens), events);
        local.finish(events);
        res = sse_response(std::make_unique<fixed_stream>(std::move(events)));
    } else {
        auto body = msgbridge::convert_response(local_completion(converted.upstream_model, input_tokens),
                                                converted.context);
        if (!body) return error_response(body.error());
        res.body = std::move(body).value();
    }
    res.headers.emplace_back("x-proxy-local-answer", "quota-probe");
    return res;
}

http_response count_tokens_answer(const msgbridge::result<std::uint64_t>& counted) {
    if (!counted) return error_response(counted.error());
    msgbridge::json_writer w;
    w.start_object();
    w.key("input_tokens");
    w.uint64(counted.value());
    w.end_object();
    return json_response(200, w.str());
}

http_response models_answer(const msgbridge::request_options& options, const std::vector<std::string>& upstream_ids,
                            std::string_view query) {
    const auto list = model_list(options, upstream_ids);
    std::size_t limit = 20;  // Anthropic's default page size; Claude Code asks for 1000
    std::string limit_text = query_param(query, "limit");
    if (!limit_text.empty()) {
        if (limit_text.find_first_not_of("0123456789") != std::string::npos || limit_text.size() > 6 ||
            std::stoul(limit_text) < 1 || std::stoul(limit_text) > 1000)
            return error_response(msgbridge::invalid_request("limit: must be a whole number from 1 to 1000"));
        limit = std::stoul(limit_text);
    }
    const std::string after = query_param(query, "after_id");
    const std::string before = query_param(query, "before_id");
    if (!after.empty() && !before.empty())
        return error_response(msgbridge::invalid_request("after_id, before_id: give one of them, not both"));
    // after_id pages forward (has_more: items after the page), before_id
    // backward (has_more: items before it), as Anthropic's list endpoints do.
    std::size_t begin = 0;
    std::size_t end = 0;
    bool has_more = false;
    if (!before.empty()) {
        end = position_of(list, before, 0, list.size());
        begin = end > limit ? end - limit : 0;
        has_more = begin > 0;
    } else {
        begin = after.empty() ? 0 : position_of(list, after, 1, 0);
        end = std::min(list.size(), begin + limit);
        has_more = end < list.size();
    }
    const auto profiles = profiles_of(options);
    msgbridge::json_writer w;
    w.start_object();
    w.key("data");
    w.start_array();
    for (std::size_t i = begin; i < end; ++i) write_model(w, list[i], profiles);
    w.end_array();
    w.key("has_more");
    w.boolean(has_more);
    w.key("first_id");
    if (begin < end) w.string(list[begin].id);
    else w.null();
    w.key("last_id");
    if (begin < end) w.string(list[end - 1].id);
    else w.null();
    w.end_object();
    return json_response(200, w.str());
}

http_response model_answer(const msgbridge::request_options& options, const std::vector<std::string>& upstream_ids,
                           std::string_view id) {
    for (const auto& m : model_list(options, upstream_ids)) {
        if (m.id == id) {
            msgbridge::json_writer w;
            write_model(w, m, profiles_of(options));
            return json_response(200, w.str());
        }
    }
    return error_response(msgbridge::make_error(
        msgbridge::error_type::not_found_error,
        "model: '" + std::string(id) + "' is neither mapped (MODEL_MAP, model_map, DEFAULT_MODEL) nor an upstream model"));
}

http_response client_probe_answer() { return json_response(200, "{}"); }

http_response health_answer(const health_report& report, const msgbridge::key_pool& keys, bool with_key_stats) {
    msgbridge::json_writer w;
    w.start_object();
    w.key("status");
    w.string(report.upstream_degraded || report.shared_state == "degraded" ? "degraded" : "ok");
    w.key("version");
    w.string(msgbridge::version_string);
    w.key("active_streams");
    w.uint64(report.active_streams);
    w.key("keys");
    w.uint64(keys.size());
    if (report.upstream_degraded) {
        w.key("upstream");
        w.string("degraded");
    }
    if (!report.shared_state.empty()) {
        w.key("shared_state");
        w.string(report.shared_state);
    }
    // Which keys rest and which upstream models refuse what: the operator's
    // business, not an anonymous caller's.
    if (with_key_stats) {
        w.key("key_stats");
        w.raw(msgbridge::to_json(keys.stats()));
        w.key("learned");
        w.raw(report.learned);
    }
    w.end_object();
    return json_response(200, w.str());
}

http_response metrics_answer(std::string exposition) {
    http_response res;
    res.content_type = std::string(metrics_content_type);
    res.body = std::move(exposition);
    return res;
}

http_response root_answer() {
    msgbridge::json_writer w;
    w.start_object();
    w.key("status");
    w.string("ok");
    w.key("name");
    w.string("claude-nvidia-proxy");
    w.key("version");
    w.string(msgbridge::version_string);
    w.key("message");
    w.string("Anthropic Messages API proxy for OpenAI-compatible upstreams");
    w.key("endpoints");
    w.start_array();
    for (const route& r : routes) {
        if (r.listed) w.string(endpoint_name(r));
    }
    w.end_array();
    w.end_object();
    return json_response(200, w.str());
}

}  // namespace proxy
