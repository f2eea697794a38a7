# Turns the SQL files under db/migrations into a generated C++ source, so the binary carries
# its schema and needs no files beside it at run time. Migrations are applied in file-name
# order; file N brings the schema to user_version N.
function(switchboard_embed_migrations out_var)
  file(GLOB migrations CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/db/migrations/*.sql")
  list(SORT migrations)
  set(entries "")
  foreach(file IN LISTS migrations)
    file(READ "${file}" sql)
    get_filename_component(name "${file}" NAME)
    string(APPEND entries "    {\"${name}\", R\"switchboard_sql(${sql})switchboard_sql\"},\n")
  endforeach()
  set(generated "${PROJECT_BINARY_DIR}/generated/migrations.cpp")
  configure_file("${PROJECT_SOURCE_DIR}/cmake/migrations.cpp.in" "${generated}" @ONLY)
  set(${out_var} "${generated}" PARENT_SCOPE)
endfunction()
