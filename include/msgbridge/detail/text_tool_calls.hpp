// SPDX-License-Identifier: MIT
#pragma once

// Tool calls a model wrote as text: when an upstream's tool-call parser
// misses a model's markup, the call arrives in `content` (or in reasoning)
// and Claude Code would only read it. The scanner finds the sections, the
// parser turns a section into calls; a section that is malformed or names a
// tool the request did not offer stays text. Rules: docs/models.md, "Tool
// calls written as text".

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "msgbridge/detail/json_escape.hpp"
#include "msgbridge/detail/text.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

enum class tool_markup { kimi, tool_call_tag, minimax, deepseek };

struct tool_markup_section {
    std::string_view open;
    std::string_view close;
    tool_markup shape;
};

// DeepSeek's markers use U+FF5C FULLWIDTH VERTICAL LINE (EF BD 9C) and
// U+2581 LOWER ONE EIGHTH BLOCK (E2 96 81) where one would expect | and _.
// The literals are split so that no hex escape runs into a letter.
inline constexpr std::string_view deepseek_calls_begin = "<\xEF\xBD\x9C" "tool\xE2\x96\x81" "calls\xE2\x96\x81" "begin\xEF\xBD\x9C>";
inline constexpr std::string_view deepseek_calls_end = "<\xEF\xBD\x9C" "tool\xE2\x96\x81" "calls\xE2\x96\x81" "end\xEF\xBD\x9C>";
inline constexpr std::string_view deepseek_call_begin = "<\xEF\xBD\x9C" "tool\xE2\x96\x81" "call\xE2\x96\x81" "begin\xEF\xBD\x9C>";
inline constexpr std::string_view deepseek_call_end = "<\xEF\xBD\x9C" "tool\xE2\x96\x81" "call\xE2\x96\x81" "end\xEF\xBD\x9C>";
inline constexpr std::string_view deepseek_sep = "<\xEF\xBD\x9C" "tool\xE2\x96\x81" "sep\xEF\xBD\x9C>";

// Every opener starts with '<': text without that byte is passed on after
// one scan. `<tool_call>` is GLM's and Hermes/Qwen's; the body tells them apart.
inline constexpr tool_markup_section tool_markup_sections[] = {
    {"<|tool_calls_section_begin|>", "<|tool_calls_section_end|>", tool_markup::kimi},
    {"<tool_call>", "</tool_call>", tool_markup::tool_call_tag},
    {"<minimax:tool_call>", "</minimax:tool_call>", tool_markup::minimax},
    {deepseek_calls_begin, deepseek_calls_end, tool_markup::deepseek},
};

struct salvaged_tool_call {
    std::string name;   // as the model wrote it (an upstream tool name)
    std::string input;  // a JSON object
};

// Turns the inside of one section into calls. Reused across sections: its
// JSON parser keeps its buffers.
class tool_markup_parser {
public:
    // True when the section is well formed and every call in it names one
    // of `offered`; calls() then holds them, in order.
    bool parse(tool_markup shape, std::string_view inner, const std::vector<std::string>& offered);
    [[nodiscard]] const std::vector<salvaged_tool_call>& calls() const noexcept { return calls_; }

private:
    bool parse_kimi(std::string_view inner);
    bool parse_tool_call_tag(std::string_view inner);
    bool parse_minimax(std::string_view inner);
    bool parse_deepseek(std::string_view inner);
    bool add_json_call(std::string_view name, std::string_view arguments);
    salvaged_tool_call& add_call(std::string_view name);
    void add_argument(salvaged_tool_call& call, std::string_view key, std::string_view value);

    simdjson::dom::parser json_;
    std::vector<salvaged_tool_call> calls_;
};

// Finds markup sections in text fed in arbitrary pieces. Text that cannot
// be part of an opener is passed on at once; a possible opener's start
// (at most 27 bytes, the longest opener's size less one) waits for the
// next piece; a section is held whole until its closer, up to
// max_section_bytes.
class tool_markup_scanner {
public:
    // A section longer than this is not a tool call we would salvage: its
    // bytes go on as text rather than being held any longer.
    static constexpr std::size_t max_section_bytes = std::size_t{1} << 20;

    // Text: void(std::string_view), never called with "". Section:
    // bool(tool_markup, std::string_view inner), false when the section is
    // to stay text (then Text gets it, markers included).
    template <class Text, class Section>
    void feed(std::string_view piece, Text&& text, Section&& section);

    // The text ended: what is held (an opener's start, an unclosed section) is text.
    template <class Text>
    void finish(Text&& text);

    [[nodiscard]] bool holding() const noexcept { return !held_.empty(); }

private:
    template <class Text>
    void scan_text(std::string_view& view, Text& text);
    template <class Text, class Section>
    bool continue_section(std::string_view& view, Text& text, Section& section);

    const tool_markup_section* open_ = nullptr;  // set while inside a section
    std::string held_;     // an opener's start, or the open section so far (opener included)
    std::string rescan_;   // an opener's start joined with the next piece
};

template <class Text, class Section>
void tool_markup_scanner::feed(std::string_view piece, Text&& text, Section&& section) {
    std::string_view view = piece;
    if (open_ == nullptr && !held_.empty()) {
        rescan_.assign(held_);
        rescan_.append(piece.data(), piece.size());
        held_.clear();
        view = rescan_;
    }
    while (!view.empty()) {
        if (open_ == nullptr) scan_text(view, text);
        else if (!continue_section(view, text, section)) return;
    }
}

// Passes on text up to an opener (then `view` is what follows the opener)
// or to the end (then `view` is empty, and an opener's start may be held).
template <class Text>
void tool_markup_scanner::scan_text(std::string_view& view, Text& text) {
    auto pass = [&text](std::string_view plain) {
        if (!plain.empty()) text(plain);
    };
    for (std::size_t from = 0;;) {
        const std::size_t at = view.find('<', from);
        if (at == std::string_view::npos) break;
        const std::string_view rest = view.substr(at);
        bool could_begin = false;
        for (const auto& section : tool_markup_sections) {
            if (rest.substr(0, section.open.size()) == section.open) {
                pass(view.substr(0, at));
                held_.assign(section.open.data(), section.open.size());
                open_ = &section;
                view = rest.substr(section.open.size());
                return;
            }
            could_begin = could_begin || section.open.substr(0, rest.size()) == rest;
        }
        if (could_begin) {
            pass(view.substr(0, at));
            held_.assign(rest.data(), rest.size());
            view = {};
            return;
        }
        from = at + 1;
    }
    pass(view);
    view = {};
}

// Adds `view` to the open section; false while the closer has not come.
template <class Text, class Section>
bool tool_markup_scanner::continue_section(std::string_view& view, Text& text, Section& section) {
    const std::size_t old_size = held_.size();
    const std::size_t at = append_and_find(held_, view, open_->close);
    if (at == std::string::npos) {
        if (held_.size() > max_section_bytes) {
            text(std::string_view(held_));
            held_.clear();
            open_ = nullptr;
        }
        view = {};
        return false;
    }
    const std::size_t end = at + open_->close.size();
    const std::string_view whole(held_.data(), end);
    const std::string_view inner = whole.substr(open_->open.size(), at - open_->open.size());
    if (!section(open_->shape, inner)) text(whole);
    // The closer ends in the new bytes, so the rest is a part of `view`.
    view.remove_prefix(end - old_size);
    held_.clear();
    open_ = nullptr;
    return true;
}

template <class Text>
void tool_markup_scanner::finish(Text&& text) {
    if (!held_.empty()) text(std::string_view(held_));
    held_.clear();
    open_ = nullptr;
}

// Reads markup left to right; every step skips the whitespace before it.
class markup_cursor {
public:
    explicit markup_cursor(std::string_view text) noexcept : rest_(text) {}

    bool skip(std::string_view marker) noexcept {
        skip_space();
        if (rest_.substr(0, marker.size()) != marker) return false;
        rest_.remove_prefix(marker.size());
        return true;
    }
    // The text up to `marker`, which is consumed too.
    bool until(std::string_view marker, std::string_view& before) noexcept {
        const std::size_t at = rest_.find(marker);
        if (at == std::string_view::npos) return false;
        before = rest_.substr(0, at);
        rest_.remove_prefix(at + marker.size());
        return true;
    }
    bool at_end() noexcept {
        skip_space();
        return rest_.empty();
    }

private:
    void skip_space() noexcept {
        while (!rest_.empty() && is_json_space(rest_.front())) rest_.remove_prefix(1);
    }
    std::string_view rest_;
};

inline bool tool_markup_parser::parse(tool_markup shape, std::string_view inner,
                                      const std::vector<std::string>& offered) {
    calls_.clear();
    bool parsed = false;
    switch (shape) {
        case tool_markup::kimi: parsed = parse_kimi(inner); break;
        case tool_markup::tool_call_tag: parsed = parse_tool_call_tag(inner); break;
        case tool_markup::minimax: parsed = parse_minimax(inner); break;
        case tool_markup::deepseek: parsed = parse_deepseek(inner); break;
    }
    if (!parsed || calls_.empty()) return false;
    return std::all_of(calls_.begin(), calls_.end(), [&offered](const salvaged_tool_call& call) {
        return std::find(offered.begin(), offered.end(), call.name) != offered.end();
    });
}

// <|tool_call_begin|>functions.NAME:IDX<|tool_call_argument_begin|>{json}<|tool_call_end|>, repeated.
inline bool tool_markup_parser::parse_kimi(std::string_view inner) {
    markup_cursor cursor(inner);
    do {
        std::string_view id, arguments;
        if (!cursor.skip("<|tool_call_begin|>") || !cursor.until("<|tool_call_argument_begin|>", id) ||
            !cursor.until("<|tool_call_end|>", arguments)) {
            return false;
        }
        std::string_view name = trim_json_space(id);
        if (name.substr(0, 10) == "functions.") name.remove_prefix(10);
        const std::size_t colon = name.rfind(':');
        if (colon != std::string_view::npos &&
            name.find_first_not_of("0123456789", colon + 1) == std::string_view::npos) {
            name = name.substr(0, colon);
        }
        if (!add_json_call(name, arguments)) return false;
    } while (!cursor.at_end());
    return true;
}

// Hermes/Qwen: {"name": NAME, "arguments": {…}}. GLM 4.x: NAME, then
// <arg_key>k</arg_key><arg_value>v</arg_value> pairs.
inline bool tool_markup_parser::parse_tool_call_tag(std::string_view inner) {
    const std::string_view body = trim_json_space(inner);
    if (!body.empty() && body.front() == '{') {
        simdjson::dom::object object;
        std::string_view name;
        if (json_.parse(body.data(), body.size()).get(object) || object["name"].get_string().get(name)) return false;
        simdjson::dom::element arguments;
        if (object["arguments"].get(arguments) == simdjson::NO_SUCH_FIELD) return add_json_call(name, "{}");
        if (!arguments.is_object()) return false;
        // `arguments` lives in the parser, which add_call does not touch.
        add_call(name).input = simdjson::minify(arguments);
        return true;
    }
    const std::size_t name_end = std::min(body.find('<'), body.size());
    const std::string_view name = trim_json_space(body.substr(0, name_end));
    markup_cursor cursor(body.substr(name_end));
    if (name.empty() || name.find_first_of(" \t\r\n") != std::string_view::npos) return false;
    salvaged_tool_call& call = add_call(name);
    call.input = "{";
    while (!cursor.at_end()) {
        std::string_view key, value;
        if (!cursor.skip("<arg_key>") || !cursor.until("</arg_key>", key) || !cursor.skip("<arg_value>") ||
            !cursor.until("</arg_value>", value)) {
            return false;
        }
        add_argument(call, key, value);
    }
    call.input += '}';
    return true;
}

// <invoke name="NAME"><parameter name="k">v</parameter>…</invoke>, repeated.
inline bool tool_markup_parser::parse_minimax(std::string_view inner) {
    markup_cursor cursor(inner);
    do {
        std::string_view name;
        if (!cursor.skip("<invoke name=\"") || !cursor.until("\">", name)) return false;
        salvaged_tool_call& call = add_call(name);
        call.input = "{";
        while (cursor.skip("<parameter name=\"")) {
            std::string_view key, value;
            if (!cursor.until("\">", key) || !cursor.until("</parameter>", value)) return false;
            add_argument(call, key, value);
        }
        if (!cursor.skip("</invoke>")) return false;
        call.input += '}';
    } while (!cursor.at_end());
    return true;
}

// <｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{…}\n```<｜tool▁call▁end｜>, repeated.
inline bool tool_markup_parser::parse_deepseek(std::string_view inner) {
    markup_cursor cursor(inner);
    do {
        std::string_view kind, body;
        if (!cursor.skip(deepseek_call_begin) || !cursor.until(deepseek_sep, kind) ||
            !cursor.until(deepseek_call_end, body)) {
            return false;
        }
        const std::size_t newline = body.find('\n');
        if (newline == std::string_view::npos) return false;
        std::string_view arguments = trim_json_space(body.substr(newline + 1));
        if (arguments.substr(0, 7) == "```json") arguments.remove_prefix(7);
        else if (arguments.substr(0, 3) == "```") arguments.remove_prefix(3);
        if (arguments.size() >= 3 && arguments.substr(arguments.size() - 3) == "```") arguments.remove_suffix(3);
        if (!add_json_call(trim_json_space(body.substr(0, newline)), arguments)) return false;
    } while (!cursor.at_end());
    return true;
}

// Arguments the model wrote as JSON: a JSON object, kept byte for byte.
inline bool tool_markup_parser::add_json_call(std::string_view name, std::string_view arguments) {
    const std::string_view trimmed = trim_json_space(arguments);
    simdjson::dom::element element;
    if (name.empty() || json_.parse(trimmed.data(), trimmed.size()).get(element) || !element.is_object()) return false;
    add_call(name).input.assign(trimmed.data(), trimmed.size());
    return true;
}

inline salvaged_tool_call& tool_markup_parser::add_call(std::string_view name) {
    calls_.emplace_back();
    calls_.back().name.assign(name.data(), name.size());
    return calls_.back();
}

// One key/value pair written as markup (GLM, MiniMax): a value that is valid
// JSON (a number, true, an object, a quoted string) is that JSON value;
// anything else is a string, without the one newline that the chat
// templates put on each side.
inline void tool_markup_parser::add_argument(salvaged_tool_call& call, std::string_view key, std::string_view value) {
    if (call.input.size() > 1) call.input += ',';
    append_json_string(call.input, trim_json_space(key));
    call.input += ':';
    const std::string_view trimmed = trim_json_space(value);
    simdjson::dom::element element;
    if (!trimmed.empty() && !json_.parse(trimmed.data(), trimmed.size()).get(element)) {
        call.input.append(trimmed.data(), trimmed.size());
        return;
    }
    if (value.substr(0, 1) == "\n") value.remove_prefix(1);
    if (value.size() >= 1 && value.back() == '\n') value.remove_suffix(1);
    append_json_string(call.input, value);
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
