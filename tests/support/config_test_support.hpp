// Helpers for the server's configuration tests: an environment that is not
// the process's, files that clean up after themselves, config errors as text.
#pragma once

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "config.hpp"

namespace config_test {

inline proxy::env_lookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

/// A file under /tmp holding `text`, removed on destruction.
struct temp_file {
    std::string path;
    explicit temp_file(const std::string& text) {
        char name[] = "/tmp/server_config_XXXXXX";
        int fd = mkstemp(name);
        REQUIRE(fd >= 0);
        close(fd);
        path = name;
        write(text);
    }
    ~temp_file() { std::remove(path.c_str()); }
    /// Replaces the content (for reloads).
    void write(const std::string& text) const { std::ofstream(path, std::ios::trunc) << text; }
};

/// The message of the config_error `f` throws; empty when it throws none.
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const proxy::config_error& e) {
        return e.what();
    }
    return "";
}

}  // namespace config_test
