// GET /status in a real browser: the built proxy against a mock upstream,
// a few requests (answered, streamed, rate limited, a hostile model name),
// then headless Chromium loads the page as an operator would (SERVER_API_KEY
// as the HTTP Basic password), and the test reads the DOM it rendered and
// keeps a screenshot in <build>/artifacts/status.png.
//
// Without Chromium the binary prints why and exits 77, which ctest reports
// as skipped (SKIP_RETURN_CODE): neither a failure nor a silent pass.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/child_process.hpp"
#include "support/mock_upstream.hpp"
#include "support/status_test_support.hpp"

namespace {

using namespace status_test;

const std::string chromium = CHROMIUM_EXECUTABLE;
const std::string artifact_dir = MSGBRIDGE_TEST_ARTIFACT_DIR;
constexpr auto chromium_patience = std::chrono::seconds(90);

// A browser run: its own process group, so that a timeout or a failed test
// ends Chromium's helper processes too, not only the one we started.
class browser_run {
public:
    browser_run(std::vector<std::string> args, const std::string& home, const std::string& output_file)
        : args_(std::move(args)),
          env_{"HOME=" + home, "PATH=/usr/bin:/bin", "XDG_CONFIG_HOME=" + home + "/.config",
               "XDG_CACHE_HOME=" + home + "/.cache"},
          stderr_file_(output_file + ".stderr") {
        const std::vector<char*> argv = mock::exec_pointers(args_), envp = mock::exec_pointers(env_);
        pid_ = fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            setpgid(0, 0);
            const int out = open(output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (out < 0) _exit(127);
            dup2(out, 1);
            const int err = open(stderr_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (err >= 0) dup2(err, 2);
            execve(argv[0], argv.data(), envp.data());
            _exit(127);
        }
        setpgid(pid_, pid_);  // also here: whichever runs first, the group exists before we may kill it
    }
    ~browser_run() {
        if (!exited_) kill(-pid_, SIGKILL);
        if (!exited_) waitpid(pid_, nullptr, 0);
    }

    /// The exit status, or -1 when Chromium outlived `chromium_patience` (then killed).
    int wait() {
        const auto deadline = std::chrono::steady_clock::now() + chromium_patience;
        int status = 0;
        while (waitpid(pid_, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > deadline) {
                kill(-pid_, SIGKILL);
                waitpid(pid_, &status, 0);
                exited_ = true;
                return -1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling, not a measurement
        }
        exited_ = true;
        kill(-pid_, SIGKILL);  // helpers Chromium left behind
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

private:
    std::vector<std::string> args_, env_;
    std::string stderr_file_;
    pid_t pid_ = -1;
    bool exited_ = false;
};

// Chromium's HOME and profile: fresh, writable, removed whatever happens.
struct scratch_dir {
    std::string path;
    scratch_dir() {
        char name[] = "/tmp/status-browser-XXXXXX";
        REQUIRE(mkdtemp(name) != nullptr);
        path = name;
    }
    ~scratch_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

struct browser_output {
    std::string out;
    std::string err;  ///< with --enable-logging=stderr: the page's console too
};

// Runs headless Chromium on `url` with `extra` flags, or fails the test.
browser_output run_chromium(const std::string& scratch, const std::string& url, std::vector<std::string> extra) {
    std::vector<std::string> args = {chromium,
                                     "--headless=new",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--disable-dev-shm-usage",
                                     "--no-first-run",
                                     "--no-default-browser-check",
                                     "--disable-extensions",
                                     "--disable-background-networking",
                                     "--disable-component-update",
                                     "--no-proxy-server",
                                     "--user-data-dir=" + scratch + "/profile"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(url);
    const std::string output = scratch + "/chromium.out";
    browser_run run(args, scratch, output);
    const int status = run.wait();
    browser_output result{read_file(output), read_file(output + ".stderr")};
    INFO("chromium stderr:\n" << result.err);
    REQUIRE(status != -1);  // killed after chromium_patience
    REQUIRE(status == 0);
    return result;
}

std::string key(int i) { return "nvapi-browser-test-key-000000000000000000000" + std::to_string(i); }

}  // namespace

TEST_CASE("browser: Chromium renders /status with the proxy's state, escaped, and keeps a screenshot",
          "[server][browser]") {
    auto hold = std::make_shared<mock::gate>();
    mock::upstream up(scripted_upstream(hold));
    const std::string secret = "browser-operator-secret";
    mock::child_process proxy({CLAUDE_NVIDIA_PROXY_BINARY},
                              {"UPSTREAM_URL=" + up.url(), "ADDR=127.0.0.1:0", "SERVER_API_KEY=" + secret,
                               "PROVIDER_API_KEYS=" + key(0) + "," + key(1)});
    const int port = proxy.port();
    REQUIRE(port > 0);
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(mock::patience);
    const httplib::Headers auth = {{"x-api-key", secret}};

    REQUIRE(client.Post("/v1/messages", auth, mock::messages_body(false), "application/json")->status == 200);
    REQUIRE(client.Post("/v1/messages", auth, mock::messages_body(false, hostile_model), "application/json")->status == 200);
    REQUIRE(mock::post_stream(port, "/v1/messages", mock::messages_body(true), nullptr, auth).status == 200);
    REQUIRE(proxy.wait_for("stream=true status=200"));
    // One whose conversion left something out: the page says what.
    const std::string with_server_tool = R"({"model":"z-ai/glm4.7","max_tokens":64,"messages":[{"role":"user",)"
                                         R"("content":"search"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]})";
    REQUIRE(client.Post("/v1/messages", auth, with_server_tool, "application/json")->status == 200);
    held_stream held(port, hold, "moonshotai/kimi-k2", auth);
    REQUIRE(held.open());
    // Both keys answer 429 and rest; the client gets the 429.
    REQUIRE(client.Post("/v1/messages", auth, mock::messages_body(false, "z-ai/glm4.7", 256, rate_limit_me),
                        "application/json")->status == 429);

    const scratch_dir scratch_home;
    const std::string& scratch = scratch_home.path;
    // The operator's way in: the key as the Basic password (any user name).
    const std::string url = "http://operator:" + secret + "@127.0.0.1:" + std::to_string(port) + "/status";

    // Eleven seconds of virtual time: the page refreshes itself twice (every
    // 5 s) before the DOM is dumped, without the test waiting that long.
    const browser_output rendered =
        run_chromium(scratch, url, {"--dump-dom", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=11000"});
    const std::string& dom = rendered.out;
    INFO(dom);
    CHECK(mock::child_process::count_of(proxy.output(), "GET /status status=200") >= 2);
    CHECK(contains(dom, R"(<p id="offline" hidden="">)"));  // no refresh failed
    CHECK_FALSE(contains(rendered.err, "Content Security Policy"));
    CHECK_FALSE(contains(rendered.err, "Uncaught"));
    CHECK(contains(dom, "claude-nvidia-proxy"));
    CHECK(contains(dom, msgbridge::version_string));
    CHECK(contains(dom, "z-ai/glm4.7"));
    CHECK(contains(dom, "moonshotai/kimi-k2"));  // the open stream
    CHECK(contains(dom, ">200<"));
    CHECK(contains(dom, ">429<"));
    CHECK(contains(dom, msgbridge::redact_key(key(0), 0)));
    CHECK(contains(dom, msgbridge::redact_key(key(1), 1)));
    CHECK(contains(dom, "resting until"));
    CHECK(contains(dom, "tools: server tools left out (no upstream equivalent): web_search"));
    // The hostile name is text in the DOM, never an element.
    CHECK(contains(dom, escaped_hostile_model));
    CHECK_FALSE(contains(dom, hostile_model));
    CHECK_FALSE(contains(dom, key(0)));
    CHECK_FALSE(contains(dom, secret));

    ::mkdir(artifact_dir.c_str(), 0755);
    const std::string screenshot = artifact_dir + "/status.png";
    std::remove(screenshot.c_str());
    (void)run_chromium(scratch, url, {"--screenshot=" + screenshot, "--window-size=1280,900", "--hide-scrollbars"});
    const std::string png = read_file(screenshot);
    CHECK(png.size() > 20 * 1024);  // a blank 1280x900 page compresses to a few KB
    CHECK(png.rfind("\x89PNG\r\n\x1a\n", 0) == 0);
    WARN("screenshot kept: " << screenshot << " (" << png.size() << " bytes)");
}

int main(int argc, char* argv[]) {
    if (chromium.empty() || access(chromium.c_str(), X_OK) != 0) {
        std::printf("SKIPPED: Chromium is not installed (looked for %s); install Debian's chromium (scripts/deps)\n",
                    chromium.empty() ? "chromium, chromium-browser on PATH at configure time" : chromium.c_str());
        return 77;
    }
    return Catch::Session().run(argc, argv);
}
