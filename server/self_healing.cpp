// SPDX-License-Identifier: MIT
#include "self_healing.hpp"

#include <algorithm>
#include <cctype>
#include <initializer_list>

#include <simdjson.h>

#include <msgbridge/detail/request_extra_body.hpp>
#include <msgbridge/json_writer.hpp>
#include <msgbridge/response.hpp>

namespace proxy {
namespace {

namespace od = simdjson::ondemand;

// A limit computed from what is left of the context after this prompt: below
// this there is no room for an answer worth having, and the error stays a
// context overflow, which makes Claude Code compact the conversation.
constexpr std::uint64_t least_useful_max_tokens = 1024;

// What the client sent the proxy to say: never dropped, whatever the upstream says.
constexpr std::string_view never_dropped[] = {"model",      "messages",    "stream",
                                              "max_tokens", "max_completion_tokens", "tools"};

constexpr std::string_view image_note = "[image omitted: the upstream model does not accept images]";

// The error's text, lower-cased for matching; offsets are those of `original`
// (ASCII lower-casing keeps them), where names are read in their own case.
struct error_text {
    std::string original;
    std::string lower;

    explicit error_text(std::string text) : original(std::move(text)), lower(original) {
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    bool has(std::string_view phrase) const { return lower.find(phrase) != std::string::npos; }
    bool has_any(std::initializer_list<std::string_view> phrases) const {
        return std::any_of(phrases.begin(), phrases.end(), [&](std::string_view p) { return has(p); });
    }
    // The offset just after `phrase`, npos when absent.
    std::size_t after(std::string_view phrase, std::size_t from = 0) const {
        const std::size_t at = lower.find(phrase, from);
        return at == std::string::npos ? at : at + phrase.size();
    }
    // The parameter name at `at` (letters, digits, `_`), empty when none.
    std::string_view name_at(std::size_t at) const {
        if (at == std::string::npos) return {};
        std::size_t end = at;
        while (end < original.size() &&
               (std::isalnum(static_cast<unsigned char>(original[end])) || original[end] == '_')) {
            ++end;
        }
        return std::string_view(original).substr(at, end - at);
    }
    // The number at `at`, past quotes, backticks and spaces; none when absent.
    std::optional<std::uint64_t> number_at(std::size_t at) const {
        if (at == std::string::npos) return std::nullopt;
        while (at < lower.size() && std::string_view(" `'\"").find(lower[at]) != std::string_view::npos) ++at;
        std::uint64_t value = 0;
        std::size_t digits = 0;
        for (; at < lower.size() && std::isdigit(static_cast<unsigned char>(lower[at])) && digits < 15; ++at, ++digits)
            value = value * 10 + static_cast<std::uint64_t>(lower[at] - '0');
        if (digits == 0) return std::nullopt;
        return value;
    }
};

healing_fix fix_of(healing_fix::kind kind) {
    healing_fix fix;
    fix.what = kind;
    return fix;
}

std::optional<healing_fix> drop(std::string_view name) {
    if (name.empty() || std::find(std::begin(never_dropped), std::end(never_dropped), name) != std::end(never_dropped))
        return std::nullopt;
    healing_fix fix = fix_of(healing_fix::kind::drop_param);
    fix.param = std::string(name);
    return fix;
}

std::optional<healing_fix> clamp(std::optional<std::uint64_t> limit, bool lasting = true) {
    if (!limit || *limit == 0) return std::nullopt;
    healing_fix fix = fix_of(healing_fix::kind::clamp_max_tokens);
    fix.max_tokens = *limit;
    fix.lasting = lasting;
    return fix;
}

// pydantic's extra_forbidden as FastAPI servers (vLLM, SGLang) report it.
// Only a top-level member is named: loc ('body', 'top_k') in Python's repr,
// ["body","top_k"] in JSON, or the member alone on the line before the
// message in pydantic's own text. A nested loc names no parameter.
std::string_view extra_input_name(const error_text& text) {
    for (std::size_t at = text.lower.find("body"); at != std::string::npos; at = text.lower.find("body", at + 4)) {
        if (at == 0 || (text.lower[at - 1] != '\'' && text.lower[at - 1] != '"')) continue;
        std::size_t i = at + 5;  // past the closing quote
        while (i < text.lower.size() && (text.lower[i] == ',' || text.lower[i] == ' ')) ++i;
        if (i >= text.lower.size() || (text.lower[i] != '\'' && text.lower[i] != '"')) continue;
        const std::string_view name = text.name_at(i + 1);
        const std::size_t close = i + 1 + name.size();
        if (close + 1 < text.lower.size() && text.lower[close] == text.lower[i] &&
            (text.lower[close + 1] == ')' || text.lower[close + 1] == ']')) {
            return name;
        }
    }
    const std::size_t message = text.lower.find("\n  extra inputs are not permitted");
    if (message == std::string::npos) return {};
    const std::size_t line = text.lower.rfind('\n', message - 1);
    const std::size_t start = line == std::string::npos ? 0 : line + 1;
    const std::string_view name = text.name_at(start);
    return start + name.size() == message ? name : std::string_view();
}

std::optional<healing_fix> parameter_fix(const error_text& text) {
    if (std::size_t at = text.after("unrecognized request argument supplied: "); at != std::string::npos)
        return drop(text.name_at(at));
    if (std::size_t at = text.after("unsupported parameter: '"); at != std::string::npos) return drop(text.name_at(at));
    if (text.has_any({"extra inputs are not permitted", "extra_forbidden"})) return drop(extra_input_name(text));
    return std::nullopt;
}

std::optional<healing_fix> max_tokens_fix(const error_text& text) {
    if (!text.has_any({"max_tokens", "max_completion_tokens"})) return std::nullopt;
    // OpenAI: "max_tokens is too large: 8192. This model supports at most 4096 completion tokens"
    if (std::size_t at = text.after("supports at most "); at != std::string::npos) return clamp(text.number_at(at));
    // vLLM: "… is too large: 64000. This model's maximum context length is 64001 tokens and
    // your request has 24235 input tokens": what this prompt leaves, for this request only.
    if (text.has("is too large")) {
        const auto context = text.number_at(text.after("maximum context length is "));
        const auto input = text.number_at(text.after("your request has "));
        if (!context || !input || *context < *input + least_useful_max_tokens) return std::nullopt;
        return clamp(*context - *input, false);
    }
    // NIM, Groq: "max_tokens must be less than or equal to 8192" (with or without backticks).
    for (std::string_view bound : {"less than or equal to ", "must be <= ", "must be \xE2\x89\xA4 "}) {
        if (std::size_t at = text.after(bound); at != std::string::npos) return clamp(text.number_at(at));
    }
    // DeepSeek: "the valid range of max_tokens is [1, 8192]"
    if (std::size_t at = text.after("valid range of max_tokens is ["); at != std::string::npos)
        return clamp(text.number_at(text.after(",", at)));
    return std::nullopt;
}

std::optional<healing_fix> fix_in(const error_text& text) {
    // vLLM started without a tool parser. Sent "none", the tools stay in the
    // prompt and a call the model writes as text is salvaged.
    if (text.has("tool choice requires --enable-auto-tool-choice")) return fix_of(healing_fix::kind::tool_choice_none);
    // Ollama, vLLM ("does not support image input"), llama.cpp ("image input is not supported").
    if (text.has_any({"does not support image", "do not support image", "image input is not supported",
                      "images are not supported"})) {
        return fix_of(healing_fix::kind::images_to_note);
    }
    if (auto fix = parameter_fix(text)) return fix;
    return max_tokens_fix(text);
}

// The rewrite: one forward walk of the body, copied member by member.

bool copy_value(od::value& value, msgbridge::json_writer& out) {
    od::json_type type;
    std::string_view raw;
    if (value.type().get(type) || !msgbridge::detail::raw_extra_value(value, type, raw)) return false;
    out.raw(raw);
    return true;
}

struct rewrite {
    const std::vector<healing_fix>& fixes;
    msgbridge::json_writer out;
    bool changed = false;

    const healing_fix* wanted(healing_fix::kind kind) const {
        for (const auto& fix : fixes)
            if (fix.what == kind) return &fix;
        return nullptr;
    }
    bool drops(std::string_view key) const {
        return std::any_of(fixes.begin(), fixes.end(), [&](const healing_fix& fix) {
            return fix.what == healing_fix::kind::drop_param && fix.param == key;
        });
    }

    bool body(od::object& members) {
        const healing_fix* tool_choice = wanted(healing_fix::kind::tool_choice_none);
        bool has_tools = false;
        bool has_tool_choice = false;
        out.start_object();
        for (auto member : members) {
            od::field field;
            std::string_view key;
            if (std::move(member).get(field) || field.unescaped_key().get(key)) return false;
            if (drops(key)) {
                changed = true;
                continue;
            }
            out.key(key);
            od::value value = field.value();
            if (key == "messages" && wanted(healing_fix::kind::images_to_note)) {
                if (!messages(value)) return false;
            } else if ((key == "max_tokens" || key == "max_completion_tokens") &&
                       wanted(healing_fix::kind::clamp_max_tokens)) {
                if (!max_tokens(value, wanted(healing_fix::kind::clamp_max_tokens)->max_tokens)) return false;
            } else if (key == "tool_choice" && tool_choice) {
                has_tool_choice = true;
                std::string_view choice;
                if (value.get_string().get(choice) == simdjson::SUCCESS && choice == "auto") {
                    out.string("none");
                    changed = true;
                } else if (!copy_value(value, out)) {
                    return false;
                }
            } else {
                has_tools |= key == "tools";
                if (!copy_value(value, out)) return false;
            }
        }
        // vLLM reads tools without tool_choice as "auto".
        if (tool_choice && has_tools && !has_tool_choice) {
            out.key("tool_choice");
            out.string("none");
            changed = true;
        }
        out.end_object();
        return true;
    }

    bool max_tokens(od::value& value, std::uint64_t limit) {
        std::uint64_t asked = 0;
        if (value.get_uint64().get(asked)) return copy_value(value, out);
        changed |= asked > limit;
        out.uint64(std::min(asked, limit));
        return true;
    }

    bool messages(od::value& value) {
        od::array list;
        if (value.get_array().get(list)) return copy_value(value, out);
        out.start_array();
        for (auto item : list) {
            od::object message;
            if (item.get_object().get(message)) return false;
            out.start_object();
            for (auto member : message) {
                od::field field;
                std::string_view key;
                if (std::move(member).get(field) || field.unescaped_key().get(key)) return false;
                out.key(key);
                od::value content = field.value();
                od::json_type type;
                if (content.type().get(type)) return false;
                if (!(key == "content" && type == od::json_type::array ? parts(content) : copy_value(content, out)))
                    return false;
            }
            out.end_object();
        }
        out.end_array();
        return true;
    }

    // The converter writes each part's "type" first, so an image part is
    // known by its first member; a part written otherwise is copied as is.
    bool parts(od::value& value) {
        od::array list;
        if (value.get_array().get(list)) return false;
        out.start_array();
        for (auto item : list) {
            od::object part;
            if (item.get_object().get(part)) return false;
            bool first = true;
            bool replaced = false;
            for (auto member : part) {
                od::field field;
                std::string_view key;
                if (std::move(member).get(field) || field.unescaped_key().get(key)) return false;
                od::value member_value = field.value();
                std::string_view type;
                if (first && key == "type" && member_value.get_string().get(type) == simdjson::SUCCESS &&
                    type == "image_url") {
                    out.start_object();
                    out.key("type");
                    out.string("text");
                    out.key("text");
                    out.string(image_note);
                    replaced = changed = true;
                    break;
                }
                if (first) out.start_object();
                first = false;
                out.key(key);
                if (key == "type" && !type.empty()) out.string(type);
                else if (!copy_value(member_value, out)) return false;
            }
            if (first && !replaced) out.start_object();
            out.end_object();
        }
        out.end_array();
        return true;
    }
};

std::string_view kind_name(healing_fix::kind kind) {
    switch (kind) {
        case healing_fix::kind::drop_param: return "drop";
        case healing_fix::kind::images_to_note: return "images";
        case healing_fix::kind::tool_choice_none: return "tool_choice";
        case healing_fix::kind::clamp_max_tokens: return "max_tokens";
    }
    return "?";
}

}  // namespace

std::optional<healing_fix> recognise_fix(int status, std::string_view body) {
    // llama.cpp answers an image it cannot read with a 500.
    if (status != 400 && status != 422 && status != 500) return std::nullopt;
    if (auto fix = fix_in(error_text(msgbridge::convert_upstream_error(status, body).message))) return fix;
    // A FastAPI `detail` list is not a message: its loc is read from the body itself.
    return fix_in(error_text(std::string(body)));
}

std::optional<std::string> apply_fixes(std::string_view body, const std::vector<healing_fix>& fixes) {
    if (fixes.empty()) return std::nullopt;
    simdjson::padded_string padded(body);
    od::parser parser;
    od::document document;
    od::object members;
    if (parser.iterate(padded).get(document) || document.get_object().get(members)) return std::nullopt;
    rewrite pass{fixes, {}, false};
    if (!pass.body(members) || !pass.changed || !pass.out.complete()) return std::nullopt;
    return pass.out.str();
}

std::string fix_label(const healing_fix& fix) {
    std::string label(kind_name(fix.what));
    switch (fix.what) {
        case healing_fix::kind::drop_param: return label + ":" + fix.param;
        case healing_fix::kind::tool_choice_none: return label + ":none";
        case healing_fix::kind::clamp_max_tokens: return label + ":" + std::to_string(fix.max_tokens);
        case healing_fix::kind::images_to_note: break;
    }
    return label;
}

std::vector<healing_fix> healing_memory::known(std::string_view host, std::string_view model) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = fixes_.find({std::string(host), std::string(model)});
    return found == fixes_.end() ? std::vector<healing_fix>{} : found->second;
}

std::string healing_memory::learn(std::string_view host, std::string_view model, const healing_fix& fix) {
    if (!fix.lasting) return {};
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto& found = fixes_[{std::string(host), std::string(model)}];
        for (const auto& known_fix : found)
            if (known_fix.same_as(fix)) return {};
        found.push_back(fix);
    }
    std::string line = "learned: " + std::string(model) + " ";
    switch (fix.what) {
        case healing_fix::kind::drop_param: return line + "rejects " + fix.param + "; dropping it from now on";
        case healing_fix::kind::images_to_note:
            return line + "does not accept images; they become a text note from now on";
        case healing_fix::kind::tool_choice_none:
            return line + "has no automatic tool choice upstream; sending tool_choice \"none\" from now on";
        case healing_fix::kind::clamp_max_tokens:
            return line + "answers at most " + std::to_string(fix.max_tokens) +
                   " tokens; max_tokens is clamped to it from now on";
    }
    return line;
}

std::string healing_memory::to_json() const {
    msgbridge::json_writer w;
    w.start_array();
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [upstream_model, fixes] : fixes_) {
        w.start_object();
        w.key("upstream");
        w.string(upstream_model.first);
        w.key("model");
        w.string(upstream_model.second);
        w.key("fixes");
        w.start_array();
        for (const auto& fix : fixes) w.string(fix_label(fix));
        w.end_array();
        w.end_object();
    }
    w.end_array();
    return w.str();
}

}  // namespace proxy
