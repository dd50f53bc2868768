// SPDX-License-Identifier: MIT
// The comparison point: the obvious way to write the converter. Parse the
// whole request into simdjson's DOM, build the OpenAI request as a RapidJSON
// Document (copying every string, re-encoding every schema), then serialize.
// It implements the mapping for what the generated request contains, with the
// GLM profile's choices, and must produce the same JSON as msgbridge.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <msgbridge/detail/request_text.hpp>

namespace bench {

class dom_baseline {
public:
    std::string convert(const simdjson::padded_string& body) {
        simdjson::dom::element root;
        if (parser_.parse(body).get(root)) return {};
        rapidjson::Document out;
        out.SetObject();
        auto& a = out.GetAllocator();
        auto str = [&a](std::string_view s) { return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a); };

        std::string_view model = root["model"].get_string().value_unsafe();
        out.AddMember("model", str(model.substr(0, 6) == "claude" ? std::string_view("z-ai/glm5") : model), a);

        rapidjson::Value messages(rapidjson::kArrayType);
        simdjson::dom::element system;
        if (!root["system"].get(system)) {
            std::string text;
            for (auto block : array_of(system)) {
                std::string_view t = block["text"].get_string().value_unsafe();
                if (t.rfind("x-anthropic-billing-header:", 0) == 0) continue;
                if (!text.empty()) text += "\n\n";
                text += t;
            }
            messages.PushBack(message("system", str(text), a), a);
        }
        for (auto m : array_of(root["messages"].value_unsafe())) {
            std::string_view role = m["role"].get_string().value_unsafe();
            simdjson::dom::element content = m["content"].value_unsafe();
            if (role == "system") {
                messages.PushBack(message("system", str(content.get_string().value_unsafe()), a), a);
                continue;
            }
            std::string text, reasoning;
            rapidjson::Value calls(rapidjson::kArrayType);
            for (auto block : array_of(content)) {
                std::string_view type = block["type"].get_string().value_unsafe();
                if (type == "text") {
                    if (!text.empty()) text += "\n\n";
                    text += block["text"].get_string().value_unsafe();
                } else if (type == "thinking") {
                    if (!reasoning.empty()) reasoning += "\n\n";
                    reasoning += block["thinking"].get_string().value_unsafe();
                } else if (type == "tool_use") {
                    rapidjson::Value function(rapidjson::kObjectType);
                    function.AddMember("name", str(tool_name(block["name"].get_string().value_unsafe())), a);
                    function.AddMember("arguments", str(simdjson::minify(block["input"].value_unsafe())), a);
                    rapidjson::Value call(rapidjson::kObjectType);
                    call.AddMember("id", str(block["id"].get_string().value_unsafe()), a);
                    call.AddMember("type", "function", a);
                    call.AddMember("function", function, a);
                    calls.PushBack(call, a);
                } else if (type == "tool_result") {
                    std::string result;
                    bool is_error = false;
                    simdjson::dom::element flag;
                    if (!block["is_error"].get(flag)) is_error = flag.get_bool().value_unsafe();
                    if (is_error) result = "Error: ";
                    simdjson::dom::element body_element = block["content"].value_unsafe();
                    if (body_element.is_string()) {
                        result += body_element.get_string().value_unsafe();
                    } else {
                        bool first = true;
                        for (auto part : array_of(body_element)) {
                            if (!first) result += "\n\n";
                            first = false;
                            result += part["text"].get_string().value_unsafe();
                        }
                    }
                    rapidjson::Value tool(rapidjson::kObjectType);
                    tool.AddMember("role", "tool", a);
                    tool.AddMember("tool_call_id", str(block["tool_use_id"].get_string().value_unsafe()), a);
                    tool.AddMember("content", str(result), a);
                    messages.PushBack(tool, a);
                }
            }
            if (role == "assistant") {
                rapidjson::Value msg = message("assistant", str(text), a);
                if (!reasoning.empty()) msg.AddMember("reasoning_content", str(reasoning), a);
                if (!calls.Empty()) msg.AddMember("tool_calls", calls, a);
                messages.PushBack(msg, a);
            } else if (!text.empty()) {
                messages.PushBack(message("user", str(text), a), a);
            }
        }
        out.AddMember("messages", messages, a);

        rapidjson::Value tools(rapidjson::kArrayType);
        for (auto t : array_of(root["tools"].value_unsafe())) {
            rapidjson::Value function(rapidjson::kObjectType);
            function.AddMember("name", str(tool_name(t["name"].get_string().value_unsafe())), a);
            function.AddMember("description", str(t["description"].get_string().value_unsafe()), a);
            function.AddMember("parameters", copy(t["input_schema"].value_unsafe(), a), a);
            rapidjson::Value tool(rapidjson::kObjectType);
            tool.AddMember("type", "function", a);
            tool.AddMember("function", function, a);
            tools.PushBack(tool, a);
        }
        out.AddMember("tools", tools, a);
        out.AddMember("user", str(root["metadata"]["user_id"].get_string().value_unsafe()), a);
        out.AddMember("max_tokens", std::min<std::uint64_t>(root["max_tokens"].get_uint64().value_unsafe(), 131072), a);
        rapidjson::Value kwargs(rapidjson::kObjectType);
        kwargs.AddMember("enable_thinking", true, a);
        kwargs.AddMember("clear_thinking", false, a);
        out.AddMember("chat_template_kwargs", kwargs, a);
        out.AddMember("stream", true, a);
        rapidjson::Value stream_options(rapidjson::kObjectType);
        stream_options.AddMember("include_usage", true, a);
        out.AddMember("stream_options", stream_options, a);

        buffer_.Clear();
        rapidjson::Writer<rapidjson::StringBuffer> writer(buffer_);
        out.Accept(writer);
        return {buffer_.GetString(), buffer_.GetSize()};
    }

private:
    static simdjson::dom::array array_of(simdjson::dom::element e) {
        simdjson::dom::array array;
        if (e.get_array().get(array)) return {};
        return array;
    }
    static simdjson::dom::object object_of(simdjson::dom::element e) {
        simdjson::dom::object object;
        if (e.get_object().get(object)) return {};
        return object;
    }
    static rapidjson::Value message(const char* role, rapidjson::Value content, rapidjson::Document::AllocatorType& a) {
        rapidjson::Value msg(rapidjson::kObjectType);
        msg.AddMember("role", rapidjson::StringRef(role), a);
        msg.AddMember("content", content, a);
        return msg;
    }
    static std::string tool_name(std::string_view name) {
        return msgbridge::detail::valid_openai_name(name) ? std::string(name) : msgbridge::detail::shorten_tool_name(name);
    }
    static rapidjson::Value copy(simdjson::dom::element e, rapidjson::Document::AllocatorType& a) {
        switch (e.type()) {
            case simdjson::dom::element_type::OBJECT: {
                rapidjson::Value object(rapidjson::kObjectType);
                for (auto field : object_of(e)) {
                    object.AddMember(rapidjson::Value(field.key.data(), static_cast<rapidjson::SizeType>(field.key.size()), a),
                                     copy(field.value, a), a);
                }
                return object;
            }
            case simdjson::dom::element_type::ARRAY: {
                rapidjson::Value array(rapidjson::kArrayType);
                for (auto item : array_of(e)) array.PushBack(copy(item, a), a);
                return array;
            }
            case simdjson::dom::element_type::STRING: {
                std::string_view s = e.get_string().value_unsafe();
                return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
            }
            case simdjson::dom::element_type::INT64: return rapidjson::Value(e.get_int64().value_unsafe());
            case simdjson::dom::element_type::UINT64: return rapidjson::Value(e.get_uint64().value_unsafe());
            case simdjson::dom::element_type::DOUBLE: return rapidjson::Value(e.get_double().value_unsafe());
            case simdjson::dom::element_type::BOOL: return rapidjson::Value(e.get_bool().value_unsafe());
            case simdjson::dom::element_type::NULL_VALUE: return rapidjson::Value();
        }
        return rapidjson::Value();
    }

    simdjson::dom::parser parser_;
    rapidjson::StringBuffer buffer_;
};

}  // namespace bench
