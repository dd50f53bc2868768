# Finds the core's two dependencies. Installed packages come first (Debian:
# libsimdjson-dev, rapidjson-dev); only when one is missing do we fetch a
# pinned release, so a consumer without the packages can still build. Our own
# builds and CI always find the installed packages and never touch the network.
include(FetchContent)

if(NOT TARGET simdjson::simdjson)
  find_package(simdjson 3 CONFIG QUIET)
  if(NOT simdjson_FOUND)
    message(STATUS "msgbridge: simdjson not installed, fetching v3.0.1")
    FetchContent_Declare(simdjson
      GIT_REPOSITORY https://github.com/simdjson/simdjson.git
      GIT_TAG        v3.0.1
      GIT_SHALLOW    TRUE)
    FetchContent_MakeAvailable(simdjson)
  endif()
endif()

if(NOT TARGET msgbridge_rapidjson)
  find_package(RapidJSON CONFIG QUIET)
  if(NOT RapidJSON_FOUND AND NOT RAPIDJSON_INCLUDE_DIRS)
    message(STATUS "msgbridge: RapidJSON not installed, fetching v1.1.0 headers")
    FetchContent_Declare(rapidjson
      GIT_REPOSITORY https://github.com/Tencent/rapidjson.git
      GIT_TAG        v1.1.0
      GIT_SHALLOW    TRUE)
    # Headers only: RapidJSON's own CMakeLists builds tests and docs we do not want.
    FetchContent_GetProperties(rapidjson)
    if(NOT rapidjson_POPULATED)
      FetchContent_Populate(rapidjson)
    endif()
    set(RAPIDJSON_INCLUDE_DIRS "${rapidjson_SOURCE_DIR}/include")
  endif()
  # Debian's RapidJSONConfig defines no target, only RAPIDJSON_INCLUDE_DIRS.
  add_library(msgbridge_rapidjson INTERFACE)
  target_include_directories(msgbridge_rapidjson SYSTEM INTERFACE ${RAPIDJSON_INCLUDE_DIRS})
  if(MSGBRIDGE_RAPIDJSON_SSE2 AND CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    # Every x86-64 has SSE2; RapidJSON's writer then escapes strings 16 bytes at a time.
    target_compile_definitions(msgbridge_rapidjson INTERFACE RAPIDJSON_SSE2)
  endif()
endif()
