// The mock upstream's non-streaming answer served by cpp-httplib 0.11.4
// instead of epoll: not used for the figures, only by `./run --compare-mocks`
// to show whether an httplib mock would have been fast enough to be the
// direct baseline. 0.11.4 gives each connection a pool thread for its whole
// life, so the pool is sized for the most connections wrk opens.
// Usage: bench_mock_httplib --port-file FILE [--threads 256]
// SPDX-License-Identifier: MIT

#include "canned.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <httplib.h>

int main(int argc, char** argv) {
    std::string port_file;
    int threads = 256;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string_view arg = argv[i];
        if (arg == "--port-file") port_file = argv[i + 1];
        else if (arg == "--threads") threads = std::atoi(argv[i + 1]);
    }
    httplib::Server server;
    server.new_task_queue = [threads] { return new httplib::ThreadPool(std::size_t(threads)); };
    server.set_tcp_nodelay(true);
    server.set_keep_alive_max_count(1000000);  // the default, 5, would reconnect every fifth request
    const std::string body = bench::canned_answer_body;
    server.Post(".*", [&body](const httplib::Request&, httplib::Response& res) {
        res.set_content(body, "application/json");
    });
    int port = server.bind_to_any_port("127.0.0.1");
    if (port <= 0) return 1;
    if (!port_file.empty()) {
        std::string tmp = port_file + ".tmp";
        if (FILE* f = std::fopen(tmp.c_str(), "w")) {
            std::fprintf(f, "%d\n", port);
            std::fclose(f);
            std::rename(tmp.c_str(), port_file.c_str());
        }
    }
    return server.listen_after_bind() ? 0 : 1;
}
