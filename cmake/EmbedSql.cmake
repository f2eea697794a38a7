# Turns the SQL files under db/migrations/<dialect>/ into a generated C++ source, so the
# binary carries its schemas and needs no files beside it at run time. Each dialect's
# migrations are applied in file-name order; file N brings that schema to version N.
function(switchboard_embed_migrations out_var)
  set(tables "")
  foreach(dialect sqlite postgresql)
    file(GLOB migrations CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/db/migrations/${dialect}/*.sql")
    list(SORT migrations)
    set(entries "")
    foreach(file IN LISTS migrations)
      file(READ "${file}" sql)
      get_filename_component(name "${file}" NAME)
      string(APPEND entries "      {\"${name}\", R\"switchboard_sql(${sql})switchboard_sql\"},\n")
    endforeach()
    string(APPEND tables "    case SqlDialect::${dialect}: {\n"
      "      static const std::vector<Migration> migrations = {\n${entries}      };\n"
      "      return migrations;\n    }\n")
  endforeach()
  set(generated "${PROJECT_BINARY_DIR}/generated/migrations.cpp")
  configure_file("${PROJECT_SOURCE_DIR}/cmake/migrations.cpp.in" "${generated}" @ONLY)
  set(${out_var} "${generated}" PARENT_SCOPE)
endfunction()
