// libFuzzer target: any bytes as config.json. A bad file must stop the start
// with a config_error naming the setting — never another exception, a crash,
// or a hang — and a good one must give values in their documented ranges.
#include "config.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    proxy::config cfg;
    try {
        proxy::apply_config_json(text, "fuzz.json", cfg);
    } catch (const proxy::config_error& e) {
        if (std::string(e.what()).empty()) std::abort();
        return 0;
    }
    // Anything else escaping (std::bad_alloc aside) is a bug: only config_error is documented.
    // Keys as the server collects them: none blank, none twice.
    const proxy::collected_keys collected = proxy::collect_keys(cfg.key_sources);
    for (std::size_t i = 0; i < collected.keys.size(); ++i) {
        if (collected.keys[i].empty()) std::abort();
        for (std::size_t j = 0; j < i; ++j) {
            if (collected.keys[i] == collected.keys[j]) std::abort();
        }
    }
    if (cfg.upstream_url.empty()) std::abort();
    return 0;
}
