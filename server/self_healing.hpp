// Self-healing retries: an upstream 400/422 that names a parameter or an
// input the model does not take is recognised, the request is adjusted and
// sent once more, and the finding is remembered per upstream model.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace proxy {

/// One adjustment of the OpenAI request body (docs/models.md, "Self-healing").
struct healing_fix {
    enum class kind {
        drop_param,        ///< remove the top-level member `param`
        images_to_note,    ///< every image_url part becomes a text part saying it was left out
        tool_choice_none,  ///< `tool_choice: "auto"` (said or implied by `tools`) becomes "none"
        clamp_max_tokens,  ///< `max_tokens` / `max_completion_tokens` at most `max_tokens`
    };
    kind what = kind::drop_param;
    std::string param;             ///< drop_param: the member's name
    std::uint64_t max_tokens = 0;  ///< clamp_max_tokens: the upstream's limit
    /// False when the finding holds for this request only (a limit computed
    /// from this prompt's length): it is then not remembered.
    bool lasting = true;

    /// Same adjustment, whatever the limit: a request never gets one kind twice.
    bool same_as(const healing_fix& other) const { return what == other.what && param == other.param; }
};

/// The fix an upstream error answer asks for, if it is one the proxy knows
/// (the texts of OpenAI, vLLM, SGLang, llama.cpp, Ollama and NIM). A context
/// overflow is none: it stays an error ("prompt is too long").
std::optional<healing_fix> recognise_fix(int status, std::string_view body);

/// `body` (an OpenAI chat.completions request) with `fixes` applied, in one
/// pass; none when they change nothing or the body cannot be read.
std::optional<std::string> apply_fixes(std::string_view body, const std::vector<healing_fix>& fixes);

/// "drop:top_k", "images", "tool_choice:none", "max_tokens:4096": for log lines and /health.
std::string fix_label(const healing_fix& fix);

/// What the proxy learned per upstream model (host and model name) for the
/// life of the process, reloads included. Thread-safe.
class healing_memory {
public:
    /// The lasting fixes found so far for `model` at `host`.
    std::vector<healing_fix> known(std::string_view host, std::string_view model) const;
    /// Remembers `fix` (when lasting). Returns the line to log once, empty when
    /// it was known already or holds for one request only.
    std::string learn(std::string_view host, std::string_view model, const healing_fix& fix);
    /// `[{"upstream":…,"model":…,"fixes":["drop:top_k",…]},…]`, for /health.
    std::string to_json() const;

private:
    mutable std::mutex mutex_;
    std::map<std::pair<std::string, std::string>, std::vector<healing_fix>> fixes_;
};

}  // namespace proxy
