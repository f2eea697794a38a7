# Warnings we hold our own targets to (not third-party headers, which are SYSTEM).
function(switchboard_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough
    $<$<BOOL:${SWITCHBOARD_WERROR}>:-Werror>)
endfunction()
