# SWITCHBOARD_SANITIZERS is a comma- or semicolon-separated list: address, undefined, thread.
# ThreadSanitizer cannot be combined with AddressSanitizer; we refuse that at configure time
# rather than produce a binary that crashes at start.
set(SWITCHBOARD_SANITIZERS "" CACHE STRING "Sanitizers: address,undefined | thread")

function(switchboard_enable_sanitizers)
  if(NOT SWITCHBOARD_SANITIZERS)
    return()
  endif()
  string(REPLACE "," ";" sanitizers "${SWITCHBOARD_SANITIZERS}")
  if("thread" IN_LIST sanitizers AND "address" IN_LIST sanitizers)
    message(FATAL_ERROR "ThreadSanitizer and AddressSanitizer cannot be combined")
  endif()
  # Fuzzers need the code under test instrumented for coverage; the harness links
  # -fsanitize=fuzzer itself (tests/fuzz/CMakeLists.txt).
  if(SWITCHBOARD_BUILD_FUZZERS)
    list(APPEND sanitizers fuzzer-no-link)
  endif()
  list(JOIN sanitizers "," joined)
  add_compile_options(-fsanitize=${joined} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  list(REMOVE_ITEM sanitizers fuzzer-no-link)
  list(JOIN sanitizers "," link_joined)
  add_link_options(-fsanitize=${link_joined})
endfunction()
