// What Claude Code needs around the conversation: the hint for an unmapped
// model name, model discovery with the upstream's own list, and the probes
// it sends to ANTHROPIC_BASE_URL. MODEL_MAP itself: server_config.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <simdjson.h>

#include "support/mock_upstream.hpp"
#include "upstream_models.hpp"

namespace {

const std::string upstream_models_list =
    R"({"object":"list","data":[{"id":"z-ai/glm5","object":"model","created":1,"owned_by":"z-ai"},)"
    R"({"id":"moonshotai/kimi-k2.5","object":"model","created":1,"owned_by":"moonshotai"},)"
    R"({"id":"acme/other-1","object":"model","created":1,"owned_by":"acme"}]})";

// Serves GET /v1/models with `models_status` and chat completions with "hi".
mock::upstream model_serving_upstream(int models_status = 200) {
    return mock::upstream([models_status](const mock::recorded& r, std::size_t) {
        if (r.method == "GET") return mock::json(models_status, models_status == 200 ? upstream_models_list : "{}");
        return mock::json(200, mock::completion("hi"));
    });
}

std::size_t model_list_fetches(const mock::upstream& up) {
    std::size_t n = 0;
    for (const auto& r : up.requests()) n += r.method == "GET" && r.path == "/v1/models";
    return n;
}

std::vector<std::string> listed_ids(const std::string& body) {
    simdjson::dom::parser parser;
    simdjson::dom::array data;
    std::vector<std::string> ids;
    if (parser.parse(body)["data"].get_array().get(data)) return {"<unparsable: " + body + ">"};
    for (auto m : data) {
        std::string_view id;
        if (!m["id"].get_string().get(id)) ids.emplace_back(id);
    }
    return ids;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

TEST_CASE("claude code: an unmapped claude name the upstream refuses gets a hint on mapping it", "[server][claude_code]") {
    mock::upstream up([](const mock::recorded&, std::size_t) {
        return mock::json(404, R"({"error":{"message":"Function 'claude-opus-4-6': Not found for account","type":"not_found"}})");
    });
    mock::running_proxy proxy(mock::test_config(up.url()));
    SECTION("non-streaming") {
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false, "claude-opus-4-6"), "application/json");
        REQUIRE(res);
        CHECK(res->status == 404);
        CHECK(res->body.find("Not found for account") != std::string::npos);
        CHECK(res->body.find("no model mapping matches it. Map it to an upstream model with MODEL_MAP, "
                             "e.g. MODEL_MAP='claude-opus-*=z-ai/glm5', or set DEFAULT_MODEL") != std::string::npos);
    }
    SECTION("streaming, refused before the stream started") {
        auto res = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true, "claude-opus-4-6"));
        CHECK(res.status == 404);
        CHECK(res.raw.find("MODEL_MAP") != std::string::npos);
    }
    SECTION("not for a name that is not claude's, nor for a mapped one") {
        auto other = proxy.client().Post("/v1/messages", mock::messages_body(false, "acme/none"), "application/json");
        REQUIRE(other);
        CHECK(other->status == 404);
        CHECK(other->body.find("MODEL_MAP") == std::string::npos);
    }
}

TEST_CASE("claude code: a mapped name refused by the upstream gets no mapping hint", "[server][claude_code]") {
    mock::upstream up([](const mock::recorded&, std::size_t) {
        return mock::json(404, R"({"error":{"message":"model z-ai/glm5 not found"}})");
    });
    auto cfg = mock::test_config(up.url());
    cfg.request.default_model = "z-ai/glm5";
    mock::running_proxy proxy(cfg);
    auto res = proxy.client().Post("/v1/messages", mock::messages_body(false, "claude-opus-4-6"), "application/json");
    REQUIRE(res);
    CHECK(res->status == 404);
    CHECK(res->body.find("MODEL_MAP") == std::string::npos);
}

TEST_CASE("claude code: the probes it sends on start are answered 200 without an error line", "[server][claude_code]") {
    auto up = model_serving_upstream();
    mock::running_proxy proxy(mock::test_config(up.url()));
    auto head = proxy.client().Head("/api/hello");
    auto get = proxy.client().Get("/api/hello");
    auto batch = proxy.client().Post("/api/event_logging/batch", R"({"events":[{"event_type":"x"}]})", "application/json");
    auto root = proxy.client().Head("/");
    REQUIRE(head);
    REQUIRE(get);
    REQUIRE(batch);
    REQUIRE(root);
    CHECK(head->status == 200);
    CHECK(head->body.empty());
    CHECK(get->status == 200);
    CHECK(get->body == "{}");
    CHECK(batch->status == 200);
    CHECK(batch->body == "{}");
    CHECK(root->status == 200);
    CHECK(proxy.wait_for_log("POST /api/event_logging/batch status=200"));
    CHECK(proxy.log_text().find("error") == std::string::npos);
    CHECK(up.requests().empty());
}

TEST_CASE("claude code: GET /v1/models for gateway model discovery", "[server][claude_code]") {
    auto up = model_serving_upstream();
    auto cfg = mock::test_config(up.url());
    cfg.request.model_map = {{"claude-sonnet-*", "z-ai/glm5"}, {"claude-haiku-*", "minimaxai/minimax-m2.1"}};
    mock::running_proxy proxy(cfg);
    auto res = proxy.client().Get("/v1/models?limit=1000");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    const auto ids = listed_ids(res->body);

    SECTION("glob aliases list the known claude names they serve, then the upstream's own models") {
        CHECK(contains(ids, "claude-sonnet-4-6"));
        CHECK(contains(ids, "claude-sonnet-4-5-20250929"));
        CHECK(contains(ids, "claude-haiku-4-5-20251001"));
        CHECK_FALSE(contains(ids, "claude-opus-4-6"));  // nothing maps it
        REQUIRE(ids.size() >= 4);
        CHECK(ids[ids.size() - 4] == "z-ai/glm5");  // named by the map and fetched: listed once
        CHECK(ids[ids.size() - 3] == "minimaxai/minimax-m2.1");
        CHECK(ids[ids.size() - 2] == "moonshotai/kimi-k2.5");
        CHECK(ids.back() == "acme/other-1");
        std::size_t claude_ids = 0;
        for (const auto& id : ids) claude_ids += id.rfind("claude", 0) == 0;
        CHECK(claude_ids == ids.size() - 4);
    }
    SECTION("each entry is Anthropic's ModelInfo, with the upstream profile's limits") {
        auto one = proxy.client().Get("/v1/models/claude-haiku-4-5");
        REQUIRE(one);
        CHECK(one->status == 200);
        simdjson::dom::parser parser;
        simdjson::dom::element m;
        REQUIRE_FALSE(parser.parse(one->body).get(m));
        CHECK(m["type"].get_string().value() == "model");
        CHECK(m["id"].get_string().value() == "claude-haiku-4-5");
        CHECK(m["display_name"].get_string().value() == "minimaxai/minimax-m2.1");
        CHECK(m["lifecycle"].get_string().value() == "active");
        CHECK(m["max_input_tokens"].get_uint64().value() == 204800);
        CHECK(m["max_tokens"].get_uint64().value() == 65536);
        CHECK(m["capabilities"].is_null());
        CHECK(m["deprecated_at"].is_null());
        CHECK(m["retires_at"].is_null());
        CHECK(m["line"].is_null());
        auto fetched = proxy.client().Get("/v1/models/acme/other-1");
        REQUIRE(fetched);
        CHECK(fetched->status == 200);
    }
    SECTION("the upstream's list is fetched once and kept") {
        REQUIRE(proxy.client().Get("/v1/models"));
        REQUIRE(proxy.client().Get("/v1/models/claude-sonnet-4-6"));
        CHECK(model_list_fetches(up) == 1);
        CHECK(up.requests()[0].path == "/v1/models");
    }
    SECTION("after_id pages forward, before_id back, as Anthropic's API") {
        auto first = proxy.client().Get("/v1/models?limit=2");
        REQUIRE(first);
        CHECK(listed_ids(first->body) == std::vector<std::string>{ids[0], ids[1]});
        CHECK(first->body.find(R"("has_more":true,"first_id":")" + ids[0] + R"(","last_id":")" + ids[1] + "\"") !=
              std::string::npos);
        auto next = proxy.client().Get(("/v1/models?limit=2&after_id=" + ids[1]).c_str());
        REQUIRE(next);
        CHECK(listed_ids(next->body) == std::vector<std::string>{ids[2], ids[3]});
        auto back = proxy.client().Get(("/v1/models?limit=2&before_id=" + ids[3]).c_str());
        REQUIRE(back);
        CHECK(listed_ids(back->body) == std::vector<std::string>{ids[1], ids[2]});
        CHECK(back->body.find(R"("has_more":true)") != std::string::npos);  // ids[0] is before
        auto start = proxy.client().Get(("/v1/models?limit=2&before_id=" + ids[2]).c_str());
        REQUIRE(start);
        CHECK(start->body.find(R"("has_more":false)") != std::string::npos);
        auto both = proxy.client().Get(("/v1/models?after_id=" + ids[0] + "&before_id=" + ids[2]).c_str());
        REQUIRE(both);
        CHECK(both->status == 400);
    }
}

TEST_CASE("claude code: an upstream without a model list leaves it out, logged once", "[server][claude_code]") {
    auto up = model_serving_upstream(404);
    auto cfg = mock::test_config(up.url());
    cfg.request.default_model = "z-ai/glm5";
    mock::running_proxy proxy(cfg);
    auto res = proxy.client().Get("/v1/models?limit=1000");
    REQUIRE(res);
    CHECK(res->status == 200);
    const auto ids = listed_ids(res->body);
    CHECK(contains(ids, "claude-opus-4-6"));  // DEFAULT_MODEL serves every claude name
    CHECK(ids.back() == "z-ai/glm5");
    REQUIRE(proxy.client().Get("/v1/models"));
    std::size_t lines = 0;
    for (const auto& line : proxy.log()) lines += line.find("upstream model list unavailable") != std::string::npos;
    CHECK(lines == 1);
    CHECK(proxy.log_text().find("GET /v1/models on 127.0.0.1") != std::string::npos);
    CHECK(model_list_fetches(up) == 1);  // not asked again within the cache time
}

TEST_CASE("claude code: the models path is derived from the chat URL", "[server][claude_code]") {
    CHECK(proxy::upstream_models_path("https://integrate.api.nvidia.com/v1/chat/completions") == "/v1/models");
    CHECK(proxy::upstream_models_path("http://127.0.0.1:8000/openai/v1/chat/completions") == "/openai/v1/models");
    CHECK(proxy::upstream_models_path("http://127.0.0.1:8000/generate").empty());
    CHECK(proxy::upstream_models_path("http://127.0.0.1:8000").empty());
}
